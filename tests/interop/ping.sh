#!/usr/bin/env bash
# The kernel's ping(8) gets echo replies from synack: on a TUN interface,
# and on a TAP interface, where the kernel first resolves synack's address
# with ARP (and synack learns the kernel's from the request).  On TUN at MTU
# 1500, `ping -s 4000` sends each request in three fragments: synack
# reassembles them (RFC 1122 3.3.2) and answers in fragments.
source "$(dirname "$0")/lib.bash"
interop_require ping
interop_setup

# TUN
if start_serve "$TMP/tun.log" --tun syn0 --addr 10.200.1.2/24 --peer 10.200.1.1 --app discard; then
    if ns timeout 20 ping -c 5 -i 0.2 -W 2 10.200.1.2 >"$TMP/ping.tun" 2>&1 &&
        grep -q " 0% packet loss" "$TMP/ping.tun"; then
        pass "TUN: 5 echo requests, 5 replies"
    else
        fail "TUN: ping failed:"
        sed 's/^/    /' "$TMP/ping.tun"
    fi
    if ns timeout 20 ping -c 3 -i 0.2 -W 2 -s 4000 10.200.1.2 >"$TMP/ping.frag" 2>&1 &&
        grep -q " 0% packet loss" "$TMP/ping.frag"; then
        pass "TUN MTU 1500: 3 fragmented 4000-byte echoes reassembled and answered"
    else
        fail "TUN: ping -s 4000 failed:"
        sed 's/^/    /' "$TMP/ping.frag"
    fi
    stop_serve "$TMP/tun.log"
    grep -q "icmp: 8 echo replies" "$TMP/tun.log" || fail "TUN: synack did not count 8 echo replies"
fi

# TUN with a large MTU: a 60000-byte echo fits in one packet.
if start_serve "$TMP/big.log" --tun syn1 --addr 10.200.3.2/24 --peer 10.200.3.1 --mtu 65535 --app discard; then
    if ns timeout 10 ping -c 2 -i 0.2 -W 2 -s 60000 -M do 10.200.3.2 >"$TMP/ping.big" 2>&1 &&
        grep -q " 0% packet loss" "$TMP/ping.big"; then
        pass "TUN MTU 65535: 60000-byte echoes answered"
    else
        fail "TUN MTU 65535: ping -s 60000 failed:"
        sed 's/^/    /' "$TMP/ping.big"
    fi
    stop_serve "$TMP/big.log"
fi

# TAP
if start_serve "$TMP/tap.log" --tap tap0 --addr 10.200.2.2/24 --peer 10.200.2.1 --app discard; then
    if ns timeout 20 ping -c 5 -i 0.2 -W 2 10.200.2.2 >"$TMP/ping.tap" 2>&1 &&
        grep -q " 0% packet loss" "$TMP/ping.tap"; then
        pass "TAP: 5 echo requests, 5 replies"
    else
        fail "TAP: ping failed:"
        sed 's/^/    /' "$TMP/ping.tap"
    fi
    neigh=$(ns ip neigh show 10.200.2.2 dev tap0)
    case "$neigh" in
    *"lladdr 02:53:4b:c8:02:02"*) pass "TAP: the kernel resolved synack's MAC: $neigh" ;;
    *) fail "TAP: the kernel's neighbour entry for synack: '$neigh'" ;;
    esac
    stop_serve "$TMP/tap.log"
    grep -q "arp: [1-9][0-9]* requests in, [1-9][0-9]* replies out" "$TMP/tap.log" ||
        fail "TAP: synack did not answer ARP: $(grep arp: "$TMP/tap.log")"
fi
interop_finish
