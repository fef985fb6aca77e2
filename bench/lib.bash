# Helpers for the benchmark scripts that run against the kernel in network
# namespaces (bench/connrate_tun.sh).  Source it; it defines:
#
#   bench_netns_pair NS NS2 DEV DEV2 NET
#       creates namespaces NS and NS2 (loopback up) joined by a veth pair,
#       DEV in NS with NET.1/24, DEV2 in NS2 with NET.2/24 (NET: 3 octets).
#       Returns non-zero when a namespace cannot be made.  The caller's EXIT
#       trap deletes the namespaces (ip netns del), also on failure.
#   bench_cleanup       the EXIT trap: kills the PIDS, deletes the namespaces
#                       NS and NS2 and the directory TMP (the caller's globals)
#   median | lo | hi    of the numbers on stdin (separated by spaces)
bench_netns_pair() {
    local ns=$1 ns2=$2 dev=$3 dev2=$4 net=$5
    ip netns add "$ns" && ip netns add "$ns2" || return 1
    ip -n "$ns" link set lo up
    ip -n "$ns2" link set lo up
    ip link add "$dev" netns "$ns" type veth peer name "$dev2" netns "$ns2"
    ip -n "$ns" addr add "$net.1/24" dev "$dev"
    ip -n "$ns2" addr add "$net.2/24" dev "$dev2"
    ip -n "$ns" link set "$dev" up
    ip -n "$ns2" link set "$dev2" up
}

bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    ip netns del "$NS2" 2>/dev/null
    rm -rf "$TMP"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
lo() { tr ' ' '\n' | grep . | sort -g | head -1; }
hi() { tr ' ' '\n' | grep . | sort -g | tail -1; }
