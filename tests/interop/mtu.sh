#!/usr/bin/env bash
# TUN interfaces with a 65535-byte MTU: synack offers MSS 65495, segments of
# up to 64 KiB go both ways, and 100 MiB cross byte for byte in each
# direction (curl from `synack serve --app http`; `synack connect` sending to
# and receiving from `nc`).
source "$(dirname "$0")/lib.bash"
interop_require curl nc ss tcpdump tshark
interop_setup

SYN=10.200.5.2
PEER=10.200.5.1
BIG='tcp.len > 32768'
www=$TMP/www
mkdir -p "$www"
make_file "$www/100m.bin" 104857600

# --- synack serves, the kernel downloads ---------------------------------------
if start_serve "$TMP/serve.log" --tun syn0 --addr $SYN/24 --peer $PEER --mtu 65535 --app "http=$www"; then
    mtu=$(ns ip -o link show syn0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
    [ "$mtu" = "65535" ] && pass "synack set the kernel's side to MTU 65535" || fail "the kernel's side has MTU '$mtu'"
    start_capture "$TMP/serve.pcap" syn0 128
    if ns timeout 120 curl -sS -o "$TMP/got" -w '%{speed_download}\n' "http://$SYN/100m.bin" >"$TMP/speed" &&
        same_file "$TMP/got" "$www/100m.bin"; then
        pass "curl GET /100m.bin at MTU 65535: SHA-256 matches ($(awk '{printf "%.1f MB/s", $1 / 1e6}' "$TMP/speed"))"
    else
        fail "curl GET /100m.bin at MTU 65535: download failed or differs"
    fi
    rm -f "$TMP/got"
    stop_capture "$TMP/serve.pcap"
    stop_serve "$TMP/serve.log"
    check_handshakes "$TMP/serve.pcap" $SYN 65495
    n=$(count "$TMP/serve.pcap" "ip.src == $SYN && $BIG")
    [ "$n" -gt 0 ] && pass "synack sent $n segments over 32 KiB" || fail "synack sent no segment over 32 KiB"
    check_clean "$TMP/serve.pcap" $SYN
fi

# --- synack's client: upload to and download from nc ---------------------------
persistent_tun syc0 $PEER/24 65535 || fail "cannot create the persistent TUN syc0"
start_capture "$TMP/client.pcap" syc0 128
ns_bg timeout 120 nc -l $PEER 9000 >"$TMP/nc.out"
nc_pid=$LAST_PID
wait_for 10 listening 9000 || fail "nc did not listen"
if ns timeout 120 "$SYNACK_BIN" connect --tun syc0 --addr $SYN/24 --mtu 65535 --to $PEER --port 9000 \
    --app "send=$www/100m.bin" 2>"$TMP/send.log" && wait_pid "$nc_pid" 30 &&
    same_file "$TMP/nc.out" "$www/100m.bin"; then
    pass "synack connect send=100 MiB to nc: SHA-256 matches ($(sed -n 's/.*(\(.*\/s\)).*/\1/p' "$TMP/send.log"))"
else
    fail "synack connect send=100m.bin to nc:"
    sed 's/^/    /' "$TMP/send.log"
fi
rm -f "$TMP/nc.out"

ns_bg timeout 120 nc -N -l $PEER 9001 <"$www/100m.bin"
nc_pid=$LAST_PID
wait_for 10 listening 9001 || fail "nc did not listen"
if ns timeout 120 "$SYNACK_BIN" connect --tun syc0 --addr $SYN/24 --mtu 65535 --to $PEER --port 9001 \
    --app recv --out "$TMP/recv.out" 2>"$TMP/recv.log" && wait_pid "$nc_pid" 30 &&
    same_file "$TMP/recv.out" "$www/100m.bin"; then
    pass "synack connect recv of 100 MiB from nc: SHA-256 matches ($(sed -n 's/.*(\(.*\/s\)).*/\1/p' "$TMP/recv.log"))"
else
    fail "synack connect recv from nc:"
    sed 's/^/    /' "$TMP/recv.log"
fi
stop_capture "$TMP/client.pcap"
check_handshakes "$TMP/client.pcap" $SYN 65495
n=$(count "$TMP/client.pcap" "ip.src == $PEER && $BIG")
[ "$n" -gt 0 ] && pass "the kernel sent $n segments over 32 KiB to synack" || fail "the kernel sent no segment over 32 KiB"
check_clean "$TMP/client.pcap" $SYN
interop_finish
