#!/usr/bin/env bash
# TAP offloads (--tap ... --offload: IFF_VNET_HDR + TUNSETOFFLOAD on a TAP):
# every Ethernet frame carries a virtio-net header both ways, whose offsets
# count the Ethernet header.  synack writes TCP segments of up to 64 KiB
# behind the header and the kernel cuts them (TSO/GSO); the kernel hands
# synack the segments its GRO coalesced and its own partially checksummed
# ones.  ARP and ICMP go as plain frames behind the header.  curl, nc and
# python3's http.server move 16 MiB each way, SHA-256 checked; ping gets its
# echoes; the counters show the offloads were used; with --pcap synack cuts
# its own segments and the capture holds wire packets with good checksums.
source "$(dirname "$0")/lib.bash"
interop_require curl nc ping python3 ss tshark
interop_setup

SYN=10.200.9.2
PEER=10.200.9.1
www=$TMP/www
mkdir -p "$www"
make_file "$www/16m.bin" 16777216

# arp LOG FIELD: a number from the "arp:" line.
arp() {
    sed -n "s/.*arp: .*\b\([0-9][0-9]*\) $2.*/\1/p" "$1" | head -1
}

# --- serve: the kernel's ARP and ping, then curl downloads with TSO ----------
if start_serve "$TMP/serve.log" --tap tp0 --addr $SYN/24 --peer $PEER --app "http=$www" --offload; then
    if ns timeout 20 ping -c 3 -i 0.2 -W 2 -s 1400 $SYN >"$TMP/ping" 2>&1 &&
        grep -q " 0% packet loss" "$TMP/ping"; then
        pass "ping over TAP with a virtio-net header: 3 echoes of 1400 bytes answered"
    else
        fail "ping over TAP with --offload:"
        sed 's/^/    /' "$TMP/ping"
    fi
    if ns timeout 60 curl -sS -o "$TMP/got" "http://$SYN/16m.bin" && same_file "$TMP/got" "$www/16m.bin"; then
        pass "curl GET /16m.bin from synack over TAP with TSO: SHA-256 matches"
    else
        fail "curl GET /16m.bin over TAP with TSO: download failed or differs"
    fi
    rm -f "$TMP/got"
    stop_serve "$TMP/serve.log"
    offload_tso_check "$TMP/serve.log"
    [ "$(arp "$TMP/serve.log" "replies out")" -ge 1 ] 2>/dev/null &&
        pass "synack answered the kernel's ARP request behind the virtio-net header" ||
        fail "no ARP reply from synack: $(grep arp: "$TMP/serve.log")"
    grep -q "icmp: 3 echo replies" "$TMP/serve.log" || fail "synack did not count 3 echo replies"
fi

# --- connect: synack resolves the kernel's address, receives with GRO --------
TUNTAP_MODE=tap persistent_tun tp1 $PEER/24 || { fail "cannot create the persistent TAP tp1"; interop_finish; }
offload_recv tap tp1 $SYN $PEER 9001 "$www/16m.bin"
[ "$(arp "$TMP/recv.log" "replies in")" -ge 1 ] 2>/dev/null &&
    pass "synack's ARP request went out and the reply came in behind the virtio-net header" ||
    fail "synack's ARP: $(grep arp: "$TMP/recv.log")"

# --- connect: synack sends to python3 with TSO, the pcap shows wire packets --
ns_bg timeout 60 python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9000)); s.listen(1)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest())' $PEER >"$TMP/py.out" 2>"$TMP/py.err"
py_pid=$LAST_PID
wait_for 10 listening 9000 || fail "python3 did not listen"
want=$(sha256sum <"$www/16m.bin" | cut -d' ' -f1)
if ns timeout 60 "$SYNACK_BIN" connect --tap tp1 --addr $SYN/24 --to $PEER --port 9000 --offload \
    --pcap "$TMP/send.pcap" --app "send=$www/16m.bin" 2>"$TMP/send.log" && wait_pid "$py_pid" 30 &&
    [ "$(cat "$TMP/py.out")" = "16777216 $want" ]; then
    pass "synack connect send of 16 MiB to python3 over TAP with TSO (and --pcap): SHA-256 matches"
else
    fail "synack connect send to python3 over TAP with TSO: got '$(cat "$TMP/py.out")'"
    sed 's/^/    /' "$TMP/send.log" "$TMP/py.err"
fi
offload_pcap_check "$TMP/send.pcap" $SYN

# --- the same send without --pcap: the segments leave whole (TSO) -----------
ns_bg timeout 60 nc -l $PEER 9002 >"$TMP/nc.out"
nc_pid=$LAST_PID
wait_for 10 listening 9002 || fail "nc did not listen"
if ns timeout 60 "$SYNACK_BIN" connect --tap tp1 --addr $SYN/24 --to $PEER --port 9002 --offload \
    --app "send=$www/16m.bin" 2>"$TMP/send2.log" && wait_pid "$nc_pid" 30 &&
    same_file "$TMP/nc.out" "$www/16m.bin"; then
    pass "synack connect send of 16 MiB to nc over TAP with TSO: SHA-256 matches"
else
    fail "synack connect send to nc over TAP with TSO:"
    sed 's/^/    /' "$TMP/send2.log"
fi
rm -f "$TMP/nc.out"
tso=$(offload_counter "$TMP/send2.log" "TSO packets out")
[ "${tso:-0}" -gt 0 ] && pass "synack connect wrote $tso TSO frames" ||
    fail "synack connect wrote no TSO frame: $(grep offload "$TMP/send2.log")"
interop_finish
