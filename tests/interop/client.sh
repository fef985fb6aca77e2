#!/usr/bin/env bash
# synack's client against the kernel's servers on a TUN interface: it
# fetches 1 KiB, 1 MiB and 100 MiB from python3's http.server, uploads
# 1 MiB and 100 MiB to `nc -l` and downloads from `nc`, byte for byte; a
# connect() to a closed kernel port fails with ECONNREFUSED; a kernel peer
# that closes with unread data makes synack's recv() fail with ECONNRESET.
# tcpdump on the device checks the handshakes, checksums and analysis.
source "$(dirname "$0")/lib.bash"
interop_require python3 nc ss tcpdump tshark
interop_setup

SYN=10.200.6.2
PEER=10.200.6.1
www=$TMP/www
mkdir -p "$www"
make_file "$www/1k.bin" 1024
make_file "$www/1m.bin" 1048576
make_file "$www/100m.bin" 104857600

persistent_tun syc0 $PEER/24 || { fail "cannot create the persistent TUN syc0"; interop_finish; }
connect() {
    ns timeout 120 "$SYNACK_BIN" connect --tun syc0 --addr $SYN/24 --to $PEER "$@"
}
rate() {
    sed -n 's/.*(\(.*\/s\)).*/\1/p' "$1"
}

start_capture "$TMP/small.pcap" syc0
ns_bg timeout 200 python3 -m http.server --directory "$www" --bind $PEER 8000 >"$TMP/http.log" 2>&1
wait_for 10 listening 8000 || fail "python3 -m http.server did not start"

for f in 1k.bin 1m.bin; do
    if connect --port 8000 --app "get=/$f" --out "$TMP/got.$f" 2>"$TMP/get.log" &&
        same_file "$TMP/got.$f" "$www/$f"; then
        pass "get=/$f from http.server: SHA-256 matches"
    else
        fail "get=/$f from http.server:"
        sed 's/^/    /' "$TMP/get.log"
    fi
done
if connect --port 8000 --app get=/absent --out "$TMP/absent" -q 2>"$TMP/404.log"; then
    fail "get=/absent succeeded"
else
    grep -q "HTTP 404" "$TMP/404.log" && pass "get=/absent: HTTP 404, exit status 1" ||
        fail "get=/absent: $(cat "$TMP/404.log")"
fi

ns_bg timeout 60 nc -l $PEER 9000 >"$TMP/nc.1m"
nc_pid=$LAST_PID
wait_for 10 listening 9000 || fail "nc did not listen"
if connect --port 9000 --app "send=$www/1m.bin" -q 2>"$TMP/send.log" && wait_pid "$nc_pid" 20 &&
    same_file "$TMP/nc.1m" "$www/1m.bin"; then
    pass "send=1m.bin to nc: SHA-256 matches"
else
    fail "send=1m.bin to nc: $(cat "$TMP/send.log")"
fi

# ECONNREFUSED: nothing listens on port 9999 of the kernel.
if connect --port 9999 --app recv --out /dev/null --expect ECONNREFUSED 2>"$TMP/refused.log"; then
    pass "connect to a closed kernel port: ECONNREFUSED"
else
    fail "connect to a closed kernel port: $(cat "$TMP/refused.log")"
fi

# ECONNRESET: the kernel's peer accepts, lets synack's data arrive, and
# closes without reading it (RFC 2525 2.17: it answers with a RST).
ns_bg timeout 30 python3 -c "
import select, socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$PEER', 9100))
s.listen(1)
s.settimeout(20)
c, _ = s.accept()
select.select([c], [], [], 10)
time.sleep(0.2)
c.close()
"
wait_for 10 listening 9100 || fail "the reset helper did not listen"
if connect --port 9100 --app expect-reset 2>"$TMP/reset.log" && grep -q "recv: ECONNRESET" "$TMP/reset.log"; then
    pass "the kernel closed with unread data: synack's recv() failed with ECONNRESET"
else
    fail "expect-reset:"
    sed 's/^/    /' "$TMP/reset.log"
fi
stop_capture "$TMP/small.pcap"
check_handshakes "$TMP/small.pcap" $SYN 1460
check_checksums "$TMP/small.pcap" $SYN
check_clean "$TMP/small.pcap" $SYN
n=$(count "$TMP/small.pcap" "ip.src == $PEER && tcp.flags.reset == 1 && tcp.srcport == 9999")
[ "$n" -ge 1 ] && pass "the refusal is the kernel's RST" || fail "no RST from the kernel's port 9999"
n=$(count "$TMP/small.pcap" "ip.src == $PEER && tcp.flags.reset == 1 && tcp.srcport == 9100")
[ "$n" -ge 1 ] && pass "the reset is the kernel's RST" || fail "no RST from the kernel's port 9100"

# send=1m.bin through 2% loss on what synack sends (outside the captures,
# which must be clean), with the pictures: the stack's own cwnd series
# (recovery episodes among them), its plot, the page.
ns_bg timeout 60 nc -l $PEER 9003 >"$TMP/nc.loss"
nc_pid=$LAST_PID
wait_for 10 listening 9003 || fail "nc did not listen"
if connect --port 9003 --app "send=$www/1m.bin" -q --loss 2% --seed 3 --series "$TMP/send.series" \
    --plot cwnd "$TMP/send-cwnd.svg" --html "$TMP/send.html" 2>"$TMP/sendloss.log" &&
    wait_pid "$nc_pid" 20 && same_file "$TMP/nc.loss" "$www/1m.bin"; then
    n=$(grep -c "\"self\":\"$SYN:" "$TMP/send.series")
    r=$(grep "\"self\":\"$SYN:" "$TMP/send.series" | grep -c '"recovery":true')
    if [ "$n" -ge 20 ] && [ "$r" -ge 1 ] && grep -q '<rect class="recovery"' "$TMP/send-cwnd.svg" &&
        grep -q "congestion window of A $SYN" "$TMP/send.html"; then
        pass "send through loss: $n samples of synack's cwnd, $r in recovery, plotted"
    else
        fail "send through loss: $n samples, $r in recovery, or no plot ($(tail -3 "$TMP/sendloss.log"))"
    fi
else
    fail "send=1m.bin through loss: $(cat "$TMP/sendloss.log")"
fi

# --- 100 MiB each way, header-only capture ----------------------------------------
start_capture "$TMP/big.pcap" syc0 96
if connect --port 8000 --app get=/100m.bin --out "$TMP/got.100m" 2>"$TMP/get100.log" &&
    same_file "$TMP/got.100m" "$www/100m.bin"; then
    pass "get=/100m.bin from http.server: SHA-256 matches ($(rate "$TMP/get100.log"))"
else
    fail "get=/100m.bin from http.server:"
    sed 's/^/    /' "$TMP/get100.log"
fi
rm -f "$TMP/got.100m"
ns_bg timeout 120 nc -l $PEER 9001 >"$TMP/nc.100m"
nc_pid=$LAST_PID
wait_for 10 listening 9001 || fail "nc did not listen"
if connect --port 9001 --app "send=$www/100m.bin" 2>"$TMP/send100.log" && wait_pid "$nc_pid" 30 &&
    same_file "$TMP/nc.100m" "$www/100m.bin"; then
    pass "send=100m.bin to nc: SHA-256 matches ($(rate "$TMP/send100.log"))"
else
    fail "send=100m.bin to nc:"
    sed 's/^/    /' "$TMP/send100.log"
fi
rm -f "$TMP/nc.100m"
ns_bg timeout 120 nc -N -l $PEER 9002 <"$www/100m.bin"
nc_pid=$LAST_PID
wait_for 10 listening 9002 || fail "nc did not listen"
if connect --port 9002 --app recv --out "$TMP/recv.100m" 2>"$TMP/recv100.log" && wait_pid "$nc_pid" 30 &&
    same_file "$TMP/recv.100m" "$www/100m.bin"; then
    pass "recv of 100 MiB from nc: SHA-256 matches ($(rate "$TMP/recv100.log"))"
else
    fail "recv from nc:"
    sed 's/^/    /' "$TMP/recv100.log"
fi
stop_capture "$TMP/big.pcap"
check_handshakes "$TMP/big.pcap" $SYN 1460
check_clean "$TMP/big.pcap" $SYN
interop_finish
