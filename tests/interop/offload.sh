#!/usr/bin/env bash
# TUN offloads (--offload: IFF_VNET_HDR + TUNSETOFFLOAD) at MTU 1500:
# synack hands the kernel TCP segments of up to 64 KiB with partial
# checksums and the kernel cuts them (TSO/GSO); the kernel hands synack
# segments its GRO coalesced and its own partially checksummed packets.
# 32 MiB each way, SHA-256 checked; the counters show the offloads were used.
# With --pcap, synack cuts its segments itself (as the kernel would) and the
# capture holds only wire-sized packets with correct checksums.
source "$(dirname "$0")/lib.bash"
interop_require curl nc ss tshark
interop_setup

SYN=10.200.7.2
PEER=10.200.7.1
www=$TMP/www
mkdir -p "$www"
make_file "$www/32m.bin" 33554432

# counter LOG FIELD: a number from the "offload:" line synack prints at exit.
counter() {
    sed -n "s/.*offload: .* \([0-9][0-9]*\) $2.*/\1/p" "$1" | head -1
}

# --- synack sends with TSO: curl downloads from synack serve ---------------------
if start_serve "$TMP/serve.log" --tun syn0 --addr $SYN/24 --peer $PEER --app "http=$www" --offload; then
    if ns timeout 60 curl -sS -o "$TMP/got" "http://$SYN/32m.bin" && same_file "$TMP/got" "$www/32m.bin"; then
        pass "curl GET /32m.bin from synack with TSO: SHA-256 matches"
    else
        fail "curl GET /32m.bin with TSO: download failed or differs"
    fi
    rm -f "$TMP/got"
    stop_serve "$TMP/serve.log"
    grep -q "offload: TSO+csum" "$TMP/serve.log" || fail "the kernel did not grant TSO: $(grep offload "$TMP/serve.log")"
    tso=$(counter "$TMP/serve.log" "TSO packets out")
    soft=$(sed -n 's/.*(\([0-9]*\) cut in software).*/\1/p' "$TMP/serve.log")
    [ "${tso:-0}" -gt 0 ] && [ "${soft:-1}" -eq 0 ] &&
        pass "synack wrote $tso TSO packets, the kernel cut them (none cut in software)" ||
        fail "no TSO packet written whole: $(grep offload "$TMP/serve.log")"
fi

# --- synack receives with GRO: synack connect reads from nc ----------------------
persistent_tun syc0 $PEER/24 1500 || fail "cannot create the persistent TUN syc0"
ns_bg timeout 60 nc -N -l $PEER 9001 <"$www/32m.bin"
nc_pid=$LAST_PID
wait_for 10 listening 9001 || fail "nc did not listen"
if ns timeout 60 "$SYNACK_BIN" connect --tun syc0 --addr $SYN/24 --to $PEER --port 9001 --offload \
    --app recv --out "$TMP/recv.out" 2>"$TMP/recv.log" && wait_pid "$nc_pid" 30 &&
    same_file "$TMP/recv.out" "$www/32m.bin"; then
    pass "synack connect recv of 32 MiB from nc with offloads: SHA-256 matches"
else
    fail "synack connect recv from nc with offloads:"
    sed 's/^/    /' "$TMP/recv.log"
fi
rm -f "$TMP/recv.out"
gro=$(counter "$TMP/recv.log" "coalesced packets in")
part=$(counter "$TMP/recv.log" "with partial checksums")
[ "${gro:-0}" -gt 0 ] && [ "${part:-0}" -gt 0 ] &&
    pass "the kernel handed synack $gro coalesced segments, $part with partial checksums" ||
    fail "no coalesced segment or partial checksum received: $(grep offload "$TMP/recv.log")"

# --- synack sends to nc with TSO, and the pcap shows wire packets ----------------
ns_bg timeout 60 nc -l $PEER 9000 >"$TMP/nc.out"
nc_pid=$LAST_PID
wait_for 10 listening 9000 || fail "nc did not listen"
if ns timeout 60 "$SYNACK_BIN" connect --tun syc0 --addr $SYN/24 --to $PEER --port 9000 --offload \
    --pcap "$TMP/send.pcap" --app "send=$www/32m.bin" 2>"$TMP/send.log" && wait_pid "$nc_pid" 30 &&
    same_file "$TMP/nc.out" "$www/32m.bin"; then
    pass "synack connect send of 32 MiB to nc with TSO (and --pcap): SHA-256 matches"
else
    fail "synack connect send to nc with TSO:"
    sed 's/^/    /' "$TMP/send.log"
fi
rm -f "$TMP/nc.out"
n=$(count "$TMP/send.pcap" "ip.src == $SYN && ip.len > 1500")
m=$(count "$TMP/send.pcap" "ip.src == $SYN && tcp.len == 1448")
[ "$n" -eq 0 ] && [ "$m" -gt 1000 ] &&
    pass "synack's pcap holds wire packets: $m full 1448-byte segments, none over the MTU" ||
    fail "synack's pcap: $n packets over the MTU, $m full segments"
check_checksums "$TMP/send.pcap" $SYN
interop_finish
