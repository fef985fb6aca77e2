#!/usr/bin/env bash
# synack on a TAP interface (Ethernet, with its own ARP): curl downloads
# 1 KiB, 1 MiB and 100 MiB from `synack serve --app http` byte for byte (the
# kernel resolves synack's address); synack's client fetches 1 MiB from
# python3's http.server (synack resolves the kernel's address first, holding
# the SYN until the reply).  tcpdump on the device checks the ARP exchange,
# the handshakes, checksums and analysis.
source "$(dirname "$0")/lib.bash"
interop_require curl python3 ss tcpdump tshark
interop_setup

SYN=10.200.7.2
PEER=10.200.7.1
MAC=02:53:4b:c8:07:02
www=$TMP/www
mkdir -p "$www"
make_file "$www/1k.bin" 1024
make_file "$www/1m.bin" 1048576
make_file "$www/100m.bin" 104857600

# --- serve: the kernel asks who has synack's address ------------------------------
if start_serve "$TMP/serve.log" --tap tap0 --addr $SYN/24 --peer $PEER --app "http=$www"; then
    start_capture "$TMP/serve.pcap" tap0
    for f in 1k.bin 1m.bin; do
        if ns timeout 30 curl -sS -o "$TMP/got.$f" "http://$SYN/$f" && same_file "$TMP/got.$f" "$www/$f"; then
            pass "TAP: GET /$f: SHA-256 matches"
        else
            fail "TAP: GET /$f: download failed or differs"
        fi
    done
    stop_capture "$TMP/serve.pcap"
    start_capture "$TMP/big.pcap" tap0 110
    if ns timeout 120 curl -sS -o "$TMP/got.100m" -w '%{speed_download}\n' "http://$SYN/100m.bin" >"$TMP/speed" &&
        same_file "$TMP/got.100m" "$www/100m.bin"; then
        pass "TAP: GET /100m.bin: SHA-256 matches ($(awk '{printf "%.1f MB/s", $1 / 1e6}' "$TMP/speed"))"
    else
        fail "TAP: GET /100m.bin: download failed or differs"
    fi
    rm -f "$TMP/got.100m"
    stop_capture "$TMP/big.pcap"
    stop_serve "$TMP/serve.log"
    n=$(count "$TMP/serve.pcap" "arp.opcode == 2 && arp.src.proto_ipv4 == $SYN && arp.src.hw_mac == $MAC && eth.src == $MAC")
    [ "$n" -ge 1 ] && pass "TAP: synack answered the kernel's ARP request ($MAC)" ||
        fail "TAP: no ARP reply from synack in the capture"
    n=$(count "$TMP/serve.pcap" "ip.src == $SYN && eth.src != $MAC")
    [ "$n" -eq 0 ] || fail "TAP: $n frames from synack's address with another source MAC"
    check_handshakes "$TMP/serve.pcap" $SYN 1460
    check_checksums "$TMP/serve.pcap" $SYN
    check_clean "$TMP/serve.pcap" $SYN
    check_clean "$TMP/big.pcap" $SYN
fi

# --- connect: synack asks who has the kernel's address ----------------------------
TUNTAP_MODE=tap persistent_tun tap1 $PEER/24 || { fail "cannot create the persistent TAP tap1"; interop_finish; }
start_capture "$TMP/client.pcap" tap1
ns_bg timeout 100 python3 -m http.server --directory "$www" --bind $PEER 8000 >"$TMP/http.log" 2>&1
wait_for 10 listening 8000 || fail "python3 -m http.server did not start"
if ns timeout 60 "$SYNACK_BIN" connect --tap tap1 --addr $SYN/24 --to $PEER --port 8000 --app get=/1m.bin \
    --out "$TMP/got.client" 2>"$TMP/client.log" && same_file "$TMP/got.client" "$www/1m.bin"; then
    pass "TAP: synack connect get=/1m.bin from http.server: SHA-256 matches"
else
    fail "TAP: synack connect get=/1m.bin:"
    sed 's/^/    /' "$TMP/client.log"
fi
stop_capture "$TMP/client.pcap"
n=$(count "$TMP/client.pcap" "arp.opcode == 1 && arp.src.hw_mac == $MAC && arp.dst.proto_ipv4 == $PEER && eth.dst == ff:ff:ff:ff:ff:ff")
[ "$n" -ge 1 ] && pass "TAP: synack broadcast an ARP request for $PEER" || fail "TAP: no ARP request from synack"
first_arp=$(ts -r "$TMP/client.pcap" -Y "arp.opcode == 2 && arp.dst.hw_mac == $MAC" -T fields -e frame.number | head -1)
first_syn=$(ts -r "$TMP/client.pcap" -Y "tcp.flags.syn == 1 && ip.src == $SYN" -T fields -e frame.number | head -1)
if [ -n "$first_arp" ] && [ -n "$first_syn" ] && [ "$first_arp" -lt "$first_syn" ]; then
    pass "TAP: the SYN waited for the ARP reply (frame $first_arp), then went (frame $first_syn)"
else
    fail "TAP: ARP reply at frame '${first_arp}', first SYN at frame '${first_syn}'"
fi
grep -q "arp: .* [1-9][0-9]* requests out, [1-9][0-9]* replies in, [1-9][0-9]* packets held, 0 dropped" "$TMP/client.log" ||
    fail "TAP: synack's ARP counters: $(grep arp: "$TMP/client.log")"
check_handshakes "$TMP/client.pcap" $SYN 1460
check_checksums "$TMP/client.pcap" $SYN
check_clean "$TMP/client.pcap" $SYN
interop_finish
