# Shared by the interop tests (sourced; not a test itself).
#
# Each test runs synack against the Linux kernel's own TCP/IP stack inside a
# network namespace it creates and deletes (also on failure: trap EXIT).
# Addresses are 10.200.N.1 (the kernel's side of the device) and 10.200.N.2
# (synack), and exist only inside that namespace: there is no route out of
# it, and nothing is ever sent to another address.  Every wait is bounded
# in count and time, every command runs under `timeout`.
#
# The environment (set by CTest): SYNACK_BIN (the tool), SYNACK_SRC (the
# source tree), SYNACK_TEST_TMP (a scratch directory).
set -u

NS=""
TMP=""
PIDS=()
FAILURES=0
TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)

skip() {
    echo "SKIP: $*"
    exit 77
}

fail() {
    echo "FAIL: $*"
    FAILURES=$((FAILURES + 1))
}

pass() {
    echo "ok: $*"
}

# Root, the TUN driver, namespaces and the tools the test names.
interop_require() {
    if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
        skip "needs root and /dev/net/tun"
    fi
    local t
    for t in ip timeout sha256sum "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            skip "$t is not installed (scripts/install-deps.sh installs it)"
    done
    if [ -z "${SYNACK_BIN:-}" ] || [ ! -x "$SYNACK_BIN" ]; then
        echo "FAIL: SYNACK_BIN must name the synack tool (got '${SYNACK_BIN:-}')"
        exit 1
    fi
}

# Kill what the test started (by pid), delete the namespace, the files.
interop_cleanup() {
    local pid i
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
    [ -n "$TMP" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$TMP"
}

# Create the namespace (lo up) and the scratch directory.
interop_setup() {
    TMP=$(mktemp -d "${SYNACK_TEST_TMP:-/tmp}/interop_${TEST_NAME}.XXXXXX") || exit 1
    NS="synack-${TEST_NAME}-$$"
    trap interop_cleanup EXIT
    trap 'exit 130' INT TERM
    if ! ip netns add "$NS" 2>"$TMP/netns.err"; then
        NS=""
        skip "cannot create a network namespace: $(cat "$TMP/netns.err")"
    fi
    ns ip link set lo up
}

ns() {
    ip netns exec "$NS" "$@"
}

# Run in the background inside the namespace; the pid is remembered.
ns_bg() {
    ip netns exec "$NS" "$@" <&0 &
    PIDS+=("$!")
    LAST_PID=$!
}

# listening PORT: a TCP listener of the kernel's on PORT in the namespace.
listening() {
    ns ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# persistent_tun NAME ADDR/PREFIX [MTU]: a TUN (TUNTAP_MODE=tap: TAP) interface that exists before
# synack attaches to it (so that tcpdump and the kernel's servers can be
# started first), configured the way a user would: up, addressed.
persistent_tun() {
    ns ip tuntap add dev "$1" mode "${TUNTAP_MODE:-tun}" &&
        ns sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" &&
        ns ip link set "$1" up mtu "${3:-1500}" txqueuelen 8192 &&
        ns ip addr add "$2" dev "$1"
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
    local secs=$1 i
    shift
    for i in $(seq 1 $((secs * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# wait_pid PID SECONDS: the process's exit status, or 124 if it did not end
# in time (it is then killed).
wait_pid() {
    local pid=$1 secs=$2 i
    for i in $(seq 1 $((secs * 10))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            return $?
        fi
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
}

# make_file PATH BYTES: random content.
make_file() {
    head -c "$2" /dev/urandom >"$1"
}

same_file() {
    local a b
    a=$(sha256sum <"$1" | cut -d' ' -f1)
    b=$(sha256sum <"$2" | cut -d' ' -f1)
    [ "$a" = "$b" ]
}

# start_serve LOG ARGS...: `synack serve ARGS` in the namespace; waits until
# it listens.  SERVE_PID is its pid.
start_serve() {
    local log=$1
    shift
    ns_bg timeout 280 "$SYNACK_BIN" serve "$@" >"$log.out" 2>"$log"
    SERVE_PID=$LAST_PID
    if ! wait_for 10 grep -q "^synack serve: .* on " "$log"; then
        fail "synack serve did not start:"
        sed 's/^/    /' "$log"
        return 1
    fi
}

# stop_serve LOG: SIGINT, and it must exit cleanly within 10 s.
stop_serve() {
    local log=$1 rc
    kill -INT "$SERVE_PID" 2>/dev/null
    wait_pid "$SERVE_PID" 10
    rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "synack serve exited with $rc after SIGINT:"
        sed 's/^/    /' "$log"
        return 1
    fi
}

# start_capture FILE IFACE [SNAPLEN [immediate]]: tcpdump on the device (the
# kernel's view of it).  CAPTURE_PID is its pid.  "immediate": packets are
# handed to tcpdump one by one, not a buffer block at a time (needed when the
# interface goes away with synack: the last block would be lost).
start_capture() {
    local file=$1 dev=$2 snap=${3:-0} mode=()
    [ "${4:-}" = immediate ] && mode=(--immediate-mode)
    ns_bg timeout 280 tcpdump -i "$dev" -n -U "${mode[@]}" -B 32768 -s "$snap" -w "$file" 2>"$file.log"
    CAPTURE_PID=$LAST_PID
    wait_for 10 grep -q "listening on" "$file.log" || fail "tcpdump did not start: $(cat "$file.log")"
}

# stop_capture FILE: stop it; CAPTURE_DROPPED says whether it missed packets.
stop_capture() {
    local file=$1
    # tcpdump reads the kernel's capture ring a block at a time; a partly
    # filled block is handed over after 1 s.  Stopping sooner loses it.
    sleep 1.5
    kill -INT "$CAPTURE_PID" 2>/dev/null
    wait_pid "$CAPTURE_PID" 10 >/dev/null
    CAPTURE_DROPPED=$(sed -n 's/^\([0-9]*\) packets\? dropped by kernel.*/\1/p' "$file.log")
    CAPTURE_DROPPED=${CAPTURE_DROPPED:-0}
}

# tshark with checksum verification on.
# The payloads are random bytes (cut short in the header-only captures):
# what application dissectors make of them (HTTP, Thrift on port 9000, ...)
# would drown the TCP layer's findings, so the ports the tests use are
# decoded as plain data.  No stream reassembly either: overlapping
# retransmissions are normal on an impaired link (the SHA-256 comparisons
# check the data).
TS_PORTS="7 9 19 80 81 8000 9000 9001 9002 9100 9999"
ts() {
    local decode=() p
    for p in $TS_PORTS; do decode+=(-d "tcp.port==$p,data"); done
    tshark -n -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
        -o tcp.desegment_tcp_streams:FALSE "${decode[@]}" "$@" 2>>"$TMP/tshark.err"
}

# count FILE FILTER: how many frames match.
count() {
    ts -r "$1" -Y "$2" -T fields -e frame.number | wc -l
}

# check_handshakes FILE SYNACK_IP MSS: every SYN and SYN-ACK carries MSS,
# window scale, SACK-permitted and timestamps, and synack offers MSS.
check_handshakes() {
    local file=$1 ip=$2 mss=$3 n
    local opts='tcp.options.mss_val && tcp.options.wscale.shift && tcp.options.sack_perm && tcp.options.timestamp.tsval'
    n=$(count "$file" "tcp.flags.syn == 1")
    if [ "$n" -eq 0 ]; then
        fail "$(basename "$file"): no handshake captured"
        return
    fi
    n=$(count "$file" "tcp.flags.syn == 1 && !($opts)")
    [ "$n" -eq 0 ] || fail "$(basename "$file"): $n SYN/SYN-ACKs without MSS, WS, SACK-permitted and TS"
    n=$(count "$file" "tcp.flags.syn == 1 && ip.src == $ip && tcp.options.mss_val != $mss")
    [ "$n" -eq 0 ] || fail "$(basename "$file"): synack offered an MSS other than $mss"
    n=$(count "$file" "tcp.flags.syn == 1 && ip.src == $ip")
    [ "$n" -gt 0 ] || fail "$(basename "$file"): no SYN from synack"
    n=$(count "$file" "tcp.flags.syn == 1 && ip.src != $ip")
    [ "$n" -gt 0 ] || fail "$(basename "$file"): no SYN from the kernel"
    pass "$(basename "$file"): handshakes negotiate MSS ($mss from synack), WS, SACK-permitted, TS"
}

# check_checksums FILE SYNACK_IP: full-size capture: no bad IPv4/TCP checksum
# on what synack sent, nothing malformed.  The kernel's own packets are held
# to the same rule but one: when the checksum it computes in software is
# zero, Linux writes 0xffff instead (skb_checksum_help's CSUM_MANGLED_0, meant
# for UDP); one's-complement arithmetic takes both as zero and synack accepts
# it, but tshark calls 0xffff illegal for TCP.
check_checksums() {
    local file=$1 ip=$2 n
    local bad="ip.checksum.status == 0 || _ws.malformed || (tcp.checksum.status == 0 && (ip.src == $ip || tcp.checksum != 0xffff))"
    n=$(count "$file" "$bad")
    if [ "$n" -ne 0 ]; then
        fail "$(basename "$file"): $n frames with bad checksums or malformed:"
        ts -r "$file" -Y "$bad" | head -5 | sed 's/^/    /'
        return
    fi
    n=$(count "$file" "tcp.checksum.status == 1")
    if [ "$n" -eq 0 ]; then
        fail "$(basename "$file"): no TCP checksum verified"
        return
    fi
    pass "$(basename "$file"): $n TCP checksums verified, none bad"
}

# check_clean FILE SYNACK_IP: none of tshark's analysis warnings on what
# synack sent (a clean run has no reason for any).  Skipped for a capture
# that lost packets (its gaps would look like synack's).
check_clean() {
    local file=$1 ip=$2 n
    if [ "${CAPTURE_DROPPED:-0}" -ne 0 ]; then
        echo "note: $(basename "$file"): tcpdump dropped $CAPTURE_DROPPED packets: analysis skipped"
        return
    fi
    local warn='tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission || tcp.analysis.out_of_order || tcp.analysis.zero_window || tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment'
    n=$(count "$file" "ip.src == $ip && ($warn)")
    if [ "$n" -ne 0 ]; then
        fail "$(basename "$file"): $n tcp.analysis warnings on synack's packets:"
        ts -r "$file" -Y "ip.src == $ip && ($warn)" | head -10 | sed 's/^/    /'
        return
    fi
    pass "$(basename "$file"): no retransmission, out-of-order, zero-window or lost-segment warning on synack's packets"
}

# offload_counter LOG FIELD: a number from the "offload:" line synack
# prints at exit (FIELD: "TSO packets out", "coalesced packets in", ...).
offload_counter() {
    sed -n "s/.*offload: .* \([0-9][0-9]*\) $2.*/\1/p" "$1" | head -1
}

# offload_tso_check LOG: the kernel granted TSO, synack wrote TSO packets
# whole and the kernel cut them all (none cut in software after a refusal).
offload_tso_check() {
    local tso soft
    grep -q "offload: TSO+csum" "$1" || fail "the kernel did not grant TSO: $(grep offload "$1")"
    tso=$(offload_counter "$1" "TSO packets out")
    soft=$(sed -n 's/.*(\([0-9]*\) cut in software).*/\1/p' "$1")
    [ "${tso:-0}" -gt 0 ] && [ "${soft:-1}" -eq 0 ] &&
        pass "synack wrote $tso TSO packets, the kernel cut them (none cut in software)" ||
        fail "no TSO packet written whole: $(grep offload "$1")"
}

# offload_recv KIND DEV SYN PEER PORT FILE: `synack connect --KIND DEV
# --offload` (KIND tun or tap) receives FILE from the kernel's nc on
# PEER:PORT; the copy must match (SHA-256) and the kernel must have handed
# synack coalesced (GRO) segments and partially checksummed ones.  The
# connect log is $TMP/recv.log.
offload_recv() {
    local kind=$1 dev=$2 syn=$3 peer=$4 port=$5 file=$6 pid gro part
    ns_bg timeout 60 nc -N -l "$peer" "$port" <"$file"
    pid=$LAST_PID
    wait_for 10 listening "$port" || fail "nc did not listen"
    if ns timeout 60 "$SYNACK_BIN" connect --"$kind" "$dev" --addr "$syn/24" --to "$peer" --port "$port" \
        --offload --app recv --out "$TMP/recv.out" 2>"$TMP/recv.log" && wait_pid "$pid" 30 &&
        same_file "$TMP/recv.out" "$file"; then
        pass "$kind: synack connect recv of $(($(stat -c %s "$file") >> 20)) MiB from nc with offloads: SHA-256 matches"
    else
        fail "$kind: synack connect recv from nc with offloads:"
        sed 's/^/    /' "$TMP/recv.log"
    fi
    rm -f "$TMP/recv.out"
    gro=$(offload_counter "$TMP/recv.log" "coalesced packets in")
    part=$(offload_counter "$TMP/recv.log" "with partial checksums")
    [ "${gro:-0}" -gt 0 ] && [ "${part:-0}" -gt 0 ] &&
        pass "$kind: the kernel handed synack $gro coalesced segments, $part with partial checksums" ||
        fail "$kind: no coalesced segment or partial checksum received: $(grep offload "$TMP/recv.log")"
}

# offload_pcap_check PCAP SYN: synack's own capture of a TSO send holds wire
# packets (none over MTU 1500, many full 1448-byte segments) with good checksums.
offload_pcap_check() {
    local n m
    n=$(count "$1" "ip.src == $2 && ip.len > 1500")
    m=$(count "$1" "ip.src == $2 && tcp.len == 1448")
    [ "$n" -eq 0 ] && [ "$m" -gt 1000 ] &&
        pass "synack's pcap holds wire packets: $m full 1448-byte segments, none over the MTU" ||
        fail "synack's pcap: $n packets over the MTU, $m full segments"
    check_checksums "$1" "$2"
}

interop_finish() {
    if [ "$FAILURES" -gt 0 ]; then
        echo "FAILED: $FAILURES check(s)"
        exit 1
    fi
    echo "PASS"
    exit 0
}
