#!/usr/bin/env bash
# synack over TUN against the Linux kernel's own TCP, side by side in one run
# (root and /dev/net/tun; skipped otherwise).  Everything runs inside a
# network namespace this script creates and deletes (also on failure), on
# addresses that exist only there; every transfer is bounded by `timeout`.
#
#   bash bench/tun.sh BUILD_DIR [ROUNDS [MIB]]      (defaults: 5 rounds of 64 MiB)
#
# Configurations, interleaved round by round (so that a noisy neighbour
# hurts all of them alike), each a MIB-sized transfer:
#   synack->kernel  curl downloads from `synack serve --app http`
#   kernel->synack  `synack connect --app recv` reads from nc
#   at MTU 1500 and 65535, without and with --offload (TSO/GRO/partial csum);
#   kernel veth     iperf3 between two namespaces over a veth pair, MTU 1500,
#                   offloads on (the default) and off (ethtool -K ... off).
# Prints a markdown table: median MB/s and range, and each median as a ratio
# of the kernel's veth throughput with offloads on.
set -u
build=${1:?usage: bash bench/tun.sh BUILD_DIR [ROUNDS [MIB]]}
rounds=${2:-5}
mib=${3:-64}
bin=$build/tools/synack/synack
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
    echo "bench/tun.sh: skipped (needs root and /dev/net/tun)"
    exit 0
fi
for t in ip curl nc iperf3 timeout; do
    command -v $t >/dev/null || { echo "bench/tun.sh: skipped ($t not installed)"; exit 0; }
done
NS=synack-bench-$$
NS2=synack-bench2-$$
TMP=$(mktemp -d /tmp/synack-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    ip netns del $NS 2>/dev/null
    ip netns del $NS2 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add $NS && ip netns add $NS2 || exit 1
ip -n $NS link set lo up
ip -n $NS2 link set lo up
ip link add vb0 netns $NS type veth peer name vb1 netns $NS2
ip -n $NS addr add 10.201.1.1/24 dev vb0
ip -n $NS2 addr add 10.201.1.2/24 dev vb1
ip -n $NS link set vb0 up
ip -n $NS2 link set vb1 up
mkdir -p "$TMP/www"
head -c $((mib << 20)) /dev/urandom >"$TMP/www/f.bin"

# rate BYTES SECONDS -> MB/s
rate() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / s / 1e6; else print 0 }'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }

# synack serves, curl downloads.  $1 MTU, $2 extra option.
send_run() {
    local log=$TMP/serve.log speed
    ip netns exec $NS timeout 120 "$bin" serve --tun sb0 --addr 10.201.2.2/24 --peer 10.201.2.1 \
        --mtu "$1" --app "http=$TMP/www" -q ${2:-} >/dev/null 2>"$log" &
    local pid=$!
    for _ in $(seq 50); do grep -q " on " "$log" 2>/dev/null && break; sleep 0.1; done
    speed=$(ip netns exec $NS timeout 60 curl -s -o /dev/null -w '%{speed_download}' http://10.201.2.2/f.bin)
    kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null
    awk -v s="${speed:-0}" 'BEGIN { printf "%.1f", s / 1e6 }'
}

# nc sends, synack connect receives.  $1 MTU, $2 extra option.
recv_run() {
    ip -n $NS tuntap add dev sc0 mode tun
    ip -n $NS link set sc0 up mtu "$1"
    ip -n $NS addr add 10.201.3.1/24 dev sc0
    ip netns exec $NS timeout 60 nc -N -l 10.201.3.1 9100 <"$TMP/www/f.bin" &
    local npid=$!
    sleep 0.3
    local t0 t1
    t0=$(now)
    ip netns exec $NS timeout 60 "$bin" connect --tun sc0 --addr 10.201.3.2/24 --mtu "$1" \
        --to 10.201.3.1 --port 9100 --app recv --out /dev/null -q ${2:-} >/dev/null 2>&1
    t1=$(now)
    wait $npid 2>/dev/null
    ip -n $NS link del sc0 2>/dev/null
    rate $((mib << 20)) "$(elapsed "$t0" "$t1")"
}

# The kernel's TCP over veth, iperf3 for MIB bytes.  $1: on|off.
veth_run() {
    ip netns exec $NS ethtool -K vb0 tso "$1" gso "$1" gro "$1" tx "$1" rx "$1" >/dev/null 2>&1
    ip netns exec $NS2 ethtool -K vb1 tso "$1" gso "$1" gro "$1" tx "$1" rx "$1" >/dev/null 2>&1
    ip netns exec $NS2 timeout 60 iperf3 -s -1 -B 10.201.1.2 >/dev/null 2>&1 &
    local spid=$!
    sleep 0.3
    local bps
    bps=$(ip netns exec $NS timeout 60 iperf3 -c 10.201.1.2 -n $((mib << 20)) -J 2>/dev/null |
        awk '/"sum_received"/ {f=1} f && /"bits_per_second"/ {gsub(/[,]/, ""); print $2; exit}')
    wait $spid 2>/dev/null
    awk -v b="${bps:-0}" 'BEGIN { printf "%.1f", b / 8 / 1e6 }'
}

configs=("veth on|veth_run on" "veth off|veth_run off"
    "synack->kernel 1500|send_run 1500" "synack->kernel 1500 offload|send_run 1500 --offload"
    "synack->kernel 65535|send_run 65535" "synack->kernel 65535 offload|send_run 65535 --offload"
    "kernel->synack 1500|recv_run 1500" "kernel->synack 1500 offload|recv_run 1500 --offload"
    "kernel->synack 65535|recv_run 65535" "kernel->synack 65535 offload|recv_run 65535 --offload")
# Offloads off on the veth pair need ethtool (scripts/install-deps.sh).
if ! command -v ethtool >/dev/null; then
    echo "(ethtool not installed: the kernel's veth is measured with offloads on only)"
    configs=("${configs[@]:0:1}" "${configs[@]:2}")
fi
declare -A res
for r in $(seq "$rounds"); do
    for c in "${configs[@]}"; do
        name=${c%%|*}
        res[$name]="${res[$name]:-} $(${c#*|})"
    done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
lo() { tr ' ' '\n' | grep . | sort -g | head -1; }
hi() { tr ' ' '\n' | grep . | sort -g | tail -1; }
ref=$(echo ${res["veth on"]} | median)
echo "$rounds interleaved rounds of $mib MiB; MB/s = 10^6 bytes/s; ratio = median / the kernel over veth with offloads on."
echo
echo "| configuration | median MB/s | range | ratio to kernel veth (offloads on) |"
echo "|---|---:|---:|---:|"
for c in "${configs[@]}"; do
    name=${c%%|*}
    m=$(echo ${res[$name]} | median)
    printf "| %s | %s | %s-%s | %s |\n" "$name" "$m" "$(echo ${res[$name]} | lo)" \
        "$(echo ${res[$name]} | hi)" "$(awk -v m="$m" -v r="$ref" 'BEGIN { if (r > 0) printf "%.2f", m / r; else print "-" }')"
done
