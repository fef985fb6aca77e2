#!/usr/bin/env bash
# synack on a real device, side by side in one run (root and /dev/net/tun;
# skipped otherwise): over TUN against a fake TCP peer on the same TUN (the
# device's ceiling) and against the Linux kernel's own TCP over a veth pair;
# over TAP against lwIP.  Everything runs inside two network namespaces this
# script creates and deletes (also on failure), on addresses that exist only
# there; every process has a time limit (`timeout`, or the program's own
# --timeout for those this script stops by signal), every wait is bounded in count,
# and the whole run stops starting rounds after SYNACK_BENCH_BUDGET seconds.
#
#   bash bench/tun.sh BUILD_DIR ROUNDS MIB RESULTS
#
# Appends one line per measurement to RESULTS: "ROW<TAB>ROUND<TAB>MB/s" (an
# empty value when it failed) and "note<TAB>ROW<TAB>text" for a row that
# cannot run; bench/report.py turns them into the table.  The rounds are
# interleaved: round r runs every row once, in the same order, so that a
# noisy neighbour slows all rows alike and ratios are taken within a round.
#
# The same kernel-side sender and receiver (bench/kpeer.c) serve every
# stack: `kpeer send` (kernel -> stack, to a discard server: connect() to the
# stack's FIN after ours) and `kpeer recv` (stack -> kernel: connect() to the
# last of MIB bytes).
#   tun/fake/{k2x,x2k}/MTU/{plain,offload}   bench/fakepeer.c (the ceiling)
#   tun/synack/{k2x,x2k}/MTU/{plain,offload} synack serve --app discard (k2x)
#                                            or --app http=DIR (x2k)
#   tun/synack-chargen/x2k/MTU/plain         synack serve --app chargen
#   veth/MTU/{on,off}                        iperf3 between two namespaces,
#                                            offloads set by ethtool
#   tap/{synack,synack-offload,lwip-single,lwip-tapif}/{k2x,x2k}  discard
#       and chargen over TAP, MTU 1500 (MSS 1460), 64 KiB buffers (lwIP's
#       build: a 64 KiB window with scaling), bench/lwip_tap.c for lwIP;
#       synack-offload: synack with --offload (IFF_VNET_HDR on the TAP)
#
# SYNACK_BENCH_ROWS=REGEX runs only the rows whose names match (for
# example 'tap/' for the TAP rows) and then leaves out the runt count and
# the perf profile that follow the rows.
set -u
build=${1:?usage: bash bench/tun.sh BUILD_DIR ROUNDS MIB RESULTS}
rounds=${2:?rounds}
mib=${3:?MiB}
results=${4:?results file}
bin=$build/tools/synack/synack
fake=$build/bench/fakepeer
kpeer=$build/bench/kpeer
lwip=$build/bench/lwip_tap
budget=${SYNACK_BENCH_BUDGET:-1800}
note() { printf 'note\t%s\t%s\n' "$1" "$2" >>"$results"; }
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
    note tun "skipped: needs root and /dev/net/tun"
    echo "bench/tun.sh: skipped (needs root and /dev/net/tun)"
    exit 0
fi
for t in ip timeout taskset; do
    command -v $t >/dev/null || { note tun "skipped: $t not installed"; exit 0; }
done
for f in "$bin" "$fake" "$kpeer"; do
    [ -x "$f" ] || { note tun "skipped: $f not built"; exit 0; }
done
NS=synack-bench-$$
NS2=synack-bench2-$$
TMP=$(mktemp -d /tmp/synack-bench.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    ip netns del $NS 2>/dev/null
    ip netns del $NS2 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add $NS && ip netns add $NS2 || exit 1
ip -n $NS link set lo up
ip -n $NS2 link set lo up
bytes=$((mib << 20))
T=60 # seconds any one transfer may take
# The TUN device's queue (the kernel's side of it), for every stack alike:
# deep enough for the 4 MiB windows, so that a reader descheduled for a
# while on a loaded machine does not lose packets (the fake peer keeps no
# out-of-order data, and a loss costs it much more than it costs synack).
TXQ=10000
mkdir -p "$TMP/www"
head -c $bytes /dev/urandom >"$TMP/www/f.bin"
ns() { ip netns exec $NS "$@"; }
# SYNACK_BENCH_PIN=1: the stack under test on CPU 0, the kernel's
# application on CPU 1 (on a quiet machine; on a loaded one pinning makes
# each side wait for its one CPU, so the default leaves placement to the
# scheduler).
# (Prefixes, not functions: "${on_stack[@]}" PROGRAM & leaves $! the
# program's own pid, as `ip netns exec` and taskset exec it, so that a
# signal reaches it.)
if [ "${SYNACK_BENCH_PIN:-0}" = 1 ]; then
    on_stack=(ip netns exec $NS taskset -c 0)
    on_app=(ip netns exec $NS taskset -c 1)
    pin=(-A 0) pin_c=(-A 1)
else
    on_stack=(ip netns exec $NS)
    on_app=(ip netns exec $NS)
    pin=() pin_c=()
fi

# Wait (at most 5 s) until device $1 exists in $NS, or has gone ($2 = gone).
wait_dev() {
    local i
    for i in $(seq 100); do
        if ip -n $NS link show "$1" >/dev/null 2>&1; then
            [ "${2:-}" != gone ] && return 0
        else
            [ "${2:-}" = gone ] && return 0
        fi
        sleep 0.05
    done
    return 1
}

# Wait (at most 5 s) until serve has brought bt0 up in $NS with the
# kernel's address (10.201.2.1).
wait_addr() {
    local i
    for i in $(seq 100); do
        ip -n $NS addr show dev bt0 2>/dev/null | grep -q 10.201.2.1 && return 0
        sleep 0.05
    done
    return 1
}

# Stop process $1 (SIGTERM: a background job of a script ignores SIGINT;
# SIGKILL after 5 s), waiting for it.
stop() {
    kill -TERM "$1" 2>/dev/null
    local i
    for i in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# The kernel's side: $1 k2x|x2k, $2 port, $3 GET path (x2k http only).
kernel_side() {
    if [ "$1" = k2x ]; then
        "${on_app[@]}" timeout $((T + 5)) "$kpeer" send 10.201.2.2 "$2" $bytes $T 2>>"$TMP/err"
    else
        "${on_app[@]}" timeout $((T + 5)) "$kpeer" recv 10.201.2.2 "$2" $bytes $T ${3:-} 2>>"$TMP/err"
    fi
}

# TUN: $1 fake|synack|synack-chargen, $2 k2x|x2k, $3 MTU, $4 plain|offload.
tun_run() {
    local off="" pid rate path=""
    [ "$4" = offload ] && off=--offload
    if [ "$1" = fake ]; then
        local mode=recv
        [ "$2" = x2k ] && mode=send
        "${on_stack[@]}" "$fake" --dev bt0 --port 9000 --mode $mode --mtu "$3" $off \
            --timeout $((T + 5)) 2>>"$TMP/err" &
        pid=$!
        wait_dev bt0 || { stop $pid; return; }
        ip -n $NS addr add 10.201.2.1/24 dev bt0
        ip -n $NS link set bt0 mtu "$3" txqueuelen $TXQ up
    else
        local app=discard
        if [ "$2" = x2k ]; then
            app="http=$TMP/www" path=/f.bin
            [ "$1" = synack-chargen ] && app=chargen path=""
        fi
        "${on_stack[@]}" "$bin" serve --tun bt0 --addr 10.201.2.2/24 --peer 10.201.2.1 \
            --mtu "$3" $off --app "$app" --port 9000 --rcvbuf 4m --sndbuf 4m \
            --timeout $((T + 20)) --close-wait 2 -q >/dev/null 2>>"$TMP/err" &
        pid=$!
        wait_addr
        ip -n $NS link set bt0 txqueuelen $TXQ 2>/dev/null
    fi
    PIDS+=($pid)
    rate=$(kernel_side "$2" 9000 $path)
    if [ "$1" = fake ]; then
        # The fake peer ends with the connection (bounded by its --timeout).
        local i
        for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
    fi
    stop $pid
    wait_dev bt0 gone
    echo "$rate"
}

# The kernel's TCP over veth between $NS and $NS2, iperf3 for MIB bytes (16
# MiB at least: a smaller transfer over veth takes well under a millisecond
# and measures iperf3's start more than the path): $1 MTU, $2 on|off
# (ethtool: TSO, GSO, GRO, checksums).  Up to three tries, half a second
# apart: right after the offloads or the MTU change, iperf3 sometimes
# reports nothing; why goes to the error log.
veth_run() {
    local v try
    for try in 1 2 3; do
        v=$(veth_once "$@")
        [ -n "$v" ] && break
        echo "bench/tun.sh: veth/$1/$2 try $try measured nothing" >>"$TMP/err"
        sleep 0.5
    done
    echo "$v"
}

veth_once() {
    local k vbytes=$((bytes > (16 << 20) ? bytes : (16 << 20)))
    for k in "$NS vb0" "$NS2 vb1"; do
        ip netns exec ${k% *} ethtool -K ${k#* } tso "$2" gso "$2" gro "$2" tx "$2" rx "$2" >/dev/null 2>&1
        ip -n ${k% *} link set ${k#* } mtu "$1"
    done
    ip netns exec $NS2 timeout $((T + 5)) iperf3 -s -1 "${pin[@]}" -B 10.201.1.2 >/dev/null 2>>"$TMP/err" &
    local spid=$! rate
    PIDS+=($spid)
    sleep 0.3 # the server's start (a client that comes too early fails, and veth_run retries)
    rate=$(ip netns exec $NS timeout $T iperf3 -c 10.201.1.2 "${pin_c[@]}" -n $vbytes -J 2>>"$TMP/err" |
        python3 -c 'import json, sys
try:
    j = json.load(sys.stdin)
except ValueError as e:
    sys.exit("iperf3 printed no JSON: %s" % e)
if "error" in j:
    sys.exit("iperf3: %s" % j["error"])
r = j["end"]["sum_received"]
if r["bytes"] > 0 and r["seconds"] > 0: print("%.1f" % (r["bytes"] / r["seconds"] / 1e6))
else: sys.exit("iperf3 received %s bytes in %s s" % (r["bytes"], r["seconds"]))' 2>>"$TMP/err")
    stop $spid
    echo "$rate"
}

# TAP: $1 synack|synack-offload|lwip-single|lwip-tapif, $2 k2x|x2k.  Discard on 9, chargen on 19.
tap_run() {
    ip -n $NS tuntap add dev tp0 mode tap || return
    ip -n $NS addr add 10.201.2.1/24 dev tp0
    ip -n $NS link set tp0 mtu 1500 up
    local pid port=9 app=discard log=$TMP/tap.log rate="" i
    [ "$2" = x2k ] && port=19 app=chargen
    : >"$log"
    if [ "${1%-offload}" = synack ]; then
        local off=()
        [ "$1" = synack-offload ] && off=(--offload)
        "${on_stack[@]}" "$bin" serve --tap tp0 --addr 10.201.2.2/24 --mtu 1500 --app $app "${off[@]}" \
            --rcvbuf 64k --sndbuf 64k --timeout $((T + 20)) --close-wait 2 -q >/dev/null 2>>"$log" &
        pid=$!
        sleep 0.3
    else
        "${on_stack[@]}" "$lwip" --tap tp0 --addr 10.201.2.2 --driver "${1#lwip-}" \
            --timeout $((T + 20)) 2>>"$log" &
        pid=$!
        for i in $(seq 100); do
            grep -q "up on" "$log" 2>/dev/null && break
            kill -0 $pid 2>/dev/null || break
            sleep 0.05
        done
    fi
    PIDS+=($pid)
    if kill -0 $pid 2>/dev/null; then
        rate=$(kernel_side "$2" $port)
        stop $pid
    else
        wait $pid
        # 3: lwip_tap refused to run a driver that would corrupt its heap
        # (in both directions: the other is not tried)
        if [ $? -eq 3 ]; then
            note "tap/$1/k2x" "$(grep -h "lwip_tap:" "$log" | tr '\n' ' ')"
            note "tap/$1/x2k" "$(grep -h "lwip_tap:" "$log" | tr '\n' ' ')"
        fi
    fi
    cat "$log" >>"$TMP/err"
    ip -n $NS link del tp0 2>/dev/null
    echo "$rate"
}

ip link add vb0 netns $NS type veth peer name vb1 netns $NS2
ip -n $NS addr add 10.201.1.1/24 dev vb0
ip -n $NS2 addr add 10.201.1.2/24 dev vb1
ip -n $NS link set vb0 up
ip -n $NS2 link set vb1 up

rows=()
for mtu in 1500 65535; do
    for off in plain offload; do
        for dir in k2x x2k; do
            rows+=("tun/fake/$dir/$mtu/$off|tun_run fake $dir $mtu $off")
            rows+=("tun/synack/$dir/$mtu/$off|tun_run synack $dir $mtu $off")
        done
    done
    rows+=("tun/synack-chargen/x2k/$mtu/plain|tun_run synack-chargen x2k $mtu plain")
done
if command -v iperf3 >/dev/null; then
    for mtu in 1500 65535; do
        rows+=("veth/$mtu/on|veth_run $mtu on")
        command -v ethtool >/dev/null && rows+=("veth/$mtu/off|veth_run $mtu off")
    done
    command -v ethtool >/dev/null || note veth "offloads off not measured: ethtool not installed"
else
    note veth "skipped: iperf3 not installed"
fi
for dir in k2x x2k; do
    rows+=("tap/synack/$dir|tap_run synack $dir")
    rows+=("tap/synack-offload/$dir|tap_run synack-offload $dir")
    if [ -x "$lwip" ]; then
        rows+=("tap/lwip-single/$dir|tap_run lwip-single $dir")
        rows+=("tap/lwip-tapif/$dir|tap_run lwip-tapif $dir")
    fi
done
[ -x "$lwip" ] || note tap "lwIP not measured: bench/lwip_tap not built (liblwip-dev not installed)"

start=$(date +%s)
declare -A dead # rows that cannot run at all (noted once) are not retried
for r in $(seq "$rounds"); do
    if [ $(($(date +%s) - start)) -gt "$budget" ]; then
        note tun "stopped after round $((r - 1)): over the budget of $budget s"
        break
    fi
    for c in "${rows[@]}"; do
        name=${c%%|*}
        [ -n "${dead[$name]:-}" ] && continue
        [[ $name =~ ${SYNACK_BENCH_ROWS:-.} ]] || continue
        t0=$(date +%s.%N)
        v=$(${c#*|})
        printf '%s\t%s\t%s\n' "$name" "$r" "$v" >>"$results"
        echo "bench/tun.sh: round $r $name ${v:-failed} ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)" >&2
        while IFS=$'\t' read -r _ d _; do dead[$d]=1; done < <(grep "^note	" "$results")
    done
done
if [ -n "${SYNACK_BENCH_ROWS:-}" ]; then
    [ -s "$TMP/err" ] && tail -n ${SYNACK_BENCH_ERRLINES:-15} "$TMP/err" >&2
    exit 0 # a targeted run: the rows only
fi
# Runt segments from http: one download at MTU 1500 without offloads,
# captured by synack itself (--pcap), counted by bench/pcap_runts.py.
runt_mib=$((mib < 8 ? mib : 8))
head -c $((runt_mib << 20)) /dev/urandom >"$TMP/www/r.bin"
"${on_stack[@]}" "$bin" serve --tun bt0 --addr 10.201.2.2/24 --peer 10.201.2.1 --mtu 1500 \
    --app "http=$TMP/www" --port 9000 --pcap "$TMP/http.pcap" --timeout $((T + 20)) --close-wait 2 -q \
    >/dev/null 2>>"$TMP/err" &
pid=$!
PIDS+=($pid)
wait_addr
# The whole response: the body and (less than 1 KiB of) headers.
"${on_app[@]}" timeout $((T + 5)) curl -s -o /dev/null --max-time $T http://10.201.2.2:9000/r.bin 2>>"$TMP/err"
stop $pid
printf 'meta\truntmib\t%s\n' $runt_mib >>"$results"
if [ -s "$TMP/http.pcap" ]; then
    read -r segs runts < <(python3 "$(dirname "$0")/pcap_runts.py" "$TMP/http.pcap" 9000)
    printf 'app/http-segments\t1\t%s\napp/http-runts\t1\t%s\n' "${segs:-}" "${runts:-}" >>"$results"
fi
# The applications' share of `synack serve`'s CPU (perf, cpu-clock samples
# of serve during one transfer of MIB bytes at MTU 1500 without offloads):
# the functions of tools/synack/apps.c and serve's loop, into which the
# compiler inlines them, self time - an upper bound on the apps' own code.
# perf runs serve inside the namespace; serve stops itself (--timeout).
if command -v perf >/dev/null; then
    for app in chargen http; do
        spec=chargen path=""
        [ $app = http ] && spec="http=$TMP/www" path=/f.bin
        ip netns exec $NS timeout $((T + 10)) perf record -q -e cpu-clock -F 1999 -o "$TMP/perf.data" -- \
            "$bin" serve --tun bt0 --addr 10.201.2.2/24 --peer 10.201.2.1 --mtu 1500 --app "$spec" \
            --port 9000 --rcvbuf 4m --sndbuf 4m --timeout $((1 + mib / 4)) --close-wait 1 -q \
            >/dev/null 2>>"$TMP/err" &
        pid=$!
        PIDS+=($pid)
        wait_addr
        "${on_app[@]}" timeout $((T + 5)) "$kpeer" recv 10.201.2.2 9000 $bytes $T $path >/dev/null 2>>"$TMP/err"
        wait $pid 2>/dev/null
        wait_dev bt0 gone
        share=$(perf report -i "$TMP/perf.data" --stdio --no-children --sort sym 2>/dev/null |
            awk '$1 ~ /%$/ && $3 ~ /^(app_|http_|chargen|synack_cmd_serve$)/ { gsub("%", "", $1); s += $1 }
                 $1 ~ /%$/ { n++ } END { if (n) printf "%.1f", s }')
        printf 'app/share/%s\t1\t%s\n' $app "$share" >>"$results"
    done
else
    note app/share "perf not installed: the applications' CPU share is not measured"
fi
if [ -s "$TMP/err" ]; then
    echo "bench/tun.sh: messages from the runs (last 15 lines):" >&2
    tail -n ${SYNACK_BENCH_ERRLINES:-15} "$TMP/err" >&2
fi
exit 0
