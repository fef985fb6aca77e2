#!/usr/bin/env bash
# curl (the kernel's TCP) downloads from `synack serve --app http` on a TUN
# interface: 1 KiB, 1 MiB and 100 MiB files byte for byte (SHA-256), 50
# requests on one keep-alive connection, 100 connections at once, HEAD and
# 404; a connect() to a port where synack does not listen is refused.
# tcpdump on the device: the handshakes negotiate MSS, WS, SACK-permitted and
# timestamps; no checksum is bad; no tcp.analysis warning on synack's side.
source "$(dirname "$0")/lib.bash"
interop_require curl tcpdump tshark python3
interop_setup

SYN=10.200.4.2
www=$TMP/www
mkdir -p "$www/sub"
make_file "$www/1k.bin" 1024
make_file "$www/1m.bin" 1048576
make_file "$www/100m.bin" 104857600
echo "<h1>synack</h1>" >"$www/index.html"
echo "secret" >"$TMP/secret.txt"

start_serve "$TMP/serve.log" --tun syn0 --addr $SYN/24 --peer 10.200.4.1 --app "http=$www" ||
    interop_finish
# The kernel's queue toward synack as persistent_tun sets it (the default
# 500 packets overflows when 100 connections' ACKs arrive while synack is
# descheduled, as under ASan on a loaded machine; ACKs lost there make
# synack retransmit by its timer, which the capture check below reports).
ns ip link set syn0 txqueuelen 8192

# --- full-size capture: small transfers, keep-alive, errors --------------------
start_capture "$TMP/small.pcap" syn0
for f in 1k.bin 1m.bin; do
    if ns timeout 30 curl -sS -o "$TMP/got.$f" "http://$SYN/$f" && same_file "$TMP/got.$f" "$www/$f"; then
        pass "GET /$f: $(stat -c %s "$www/$f") bytes, SHA-256 matches"
    else
        fail "GET /$f: download failed or differs"
    fi
done

# 50 requests on one connection (curl reuses it: one connect in total).
urls=()
for i in $(seq 1 50); do urls+=("http://$SYN/1k.bin" -o "$TMP/ka.$i"); done
connects=$(ns timeout 60 curl -sS -w '%{num_connects}\n' "${urls[@]}" | awk '{s += $1} END {print s}')
ok=1
for i in $(seq 1 50); do same_file "$TMP/ka.$i" "$www/1k.bin" || ok=0; done
if [ "$ok" -eq 1 ] && [ "$connects" = "1" ]; then
    pass "50 keep-alive requests on 1 connection, all bodies match"
else
    fail "keep-alive: $connects connections for 50 requests, bodies match: $ok"
fi

code=$(ns timeout 10 curl -s -o /dev/null -w '%{http_code}' "http://$SYN/nothing-here")
[ "$code" = "404" ] && pass "GET /nothing-here: 404" || fail "GET /nothing-here: $code, want 404"
len=$(ns timeout 10 curl -sS -I "http://$SYN/1m.bin" | tr -d '\r' | sed -n 's/^Content-Length: //p')
[ "$len" = "1048576" ] && pass "HEAD /1m.bin: Content-Length 1048576" || fail "HEAD /1m.bin: Content-Length '$len'"
code=$(ns timeout 10 curl -s --path-as-is -o "$TMP/trav" -w '%{http_code}' "http://$SYN/../secret.txt")
code2=$(ns timeout 10 curl -s --path-as-is -o "$TMP/trav2" -w '%{http_code}' "http://$SYN/sub/%2e%2e/%2e%2e/secret.txt")
if [ "$code" = "403" ] && [ "$code2" = "403" ] && ! grep -q secret "$TMP/trav" "$TMP/trav2"; then
    pass "path traversal (/../, /%2e%2e/) refused: 403"
else
    fail "path traversal: $code, $code2"
fi
# Symbolic links: followed to files inside the root (relative and absolute
# links: the fast openat2 RESOLVE_BENEATH path, and the realpath one it
# leaves absolute links to), refused out of it.
ln -s 1k.bin "$www/rel-in" && ln -s "$www/1k.bin" "$www/abs-in" && ln -s ../index.html "$www/sub/up-in" &&
    ln -s ../secret.txt "$www/rel-out" && ln -s "$TMP/secret.txt" "$www/abs-out"
codes=""
for l in rel-in abs-in sub/up-in rel-out abs-out; do
    codes+="$l $(ns timeout 10 curl -s -o "$TMP/link.$(basename $l)" -w '%{http_code}' "http://$SYN/$l") "
done
if [ "$codes" = "rel-in 200 abs-in 200 sub/up-in 200 rel-out 403 abs-out 403 " ] &&
    same_file "$TMP/link.rel-in" "$www/1k.bin" && same_file "$TMP/link.abs-in" "$www/1k.bin" &&
    same_file "$TMP/link.up-in" "$www/index.html" && ! grep -q secret "$TMP/link.rel-out" "$TMP/link.abs-out"; then
    pass "symbolic links: followed inside the root, 403 out of it"
else
    fail "symbolic links: $codes"
fi
page=$(ns timeout 10 curl -sS "http://$SYN/")
[ "$page" = "<h1>synack</h1>" ] && pass "GET /: index.html" || fail "GET /: '$page'"

# HTTP/1.0 without keep-alive: synack closes after the response, and its
# FIN goes with the response's last segment (checked in the capture below).
if ns timeout 10 curl -0 -sS -o "$TMP/got.v10" "http://$SYN/1k.bin" && same_file "$TMP/got.v10" "$www/1k.bin"; then
    pass "HTTP/1.0 GET /1k.bin: body matches"
else
    fail "HTTP/1.0 GET /1k.bin failed or differs"
fi

# A kernel connect() to a port synack does not listen on: ECONNREFUSED.
if ns timeout 10 python3 -c "
import socket, sys
try:
    socket.create_connection(('$SYN', 81), timeout=5)
except ConnectionRefusedError:
    sys.exit(0)
sys.exit(1)"; then
    pass "connect() to closed port 81: ECONNREFUSED"
else
    fail "connect() to closed port 81 was not refused"
fi
stop_capture "$TMP/small.pcap"
check_handshakes "$TMP/small.pcap" $SYN 1460
check_checksums "$TMP/small.pcap" $SYN
check_clean "$TMP/small.pcap" $SYN
n=$(count "$TMP/small.pcap" "ip.src == $SYN && tcp.flags.reset == 1 && tcp.srcport == 81")
[ "$n" -ge 1 ] && pass "the refusal is synack's RST" || fail "no RST from synack's port 81"
n=$(count "$TMP/small.pcap" "ip.src == $SYN && tcp.flags.fin == 1 && tcp.len > 0")
[ "$n" -ge 1 ] && pass "HTTP/1.0: the FIN rides on the response's last segment" ||
    fail "HTTP/1.0: no FIN with data from synack (a separate FIN segment?)"

# --- headers-only capture: 100 MiB, 100 connections at once -------------------
start_capture "$TMP/big.pcap" syn0 96
t0=$(date +%s.%N)
if ns timeout 120 curl -sS -o "$TMP/got.100m" -w '%{speed_download}\n' "http://$SYN/100m.bin" >"$TMP/speed" &&
    same_file "$TMP/got.100m" "$www/100m.bin"; then
    pass "GET /100m.bin: 104857600 bytes, SHA-256 matches ($(awk '{printf "%.1f MB/s", $1 / 1e6}' "$TMP/speed"))"
else
    fail "GET /100m.bin: download failed or differs"
fi
rm -f "$TMP/got.100m"

urls=()
for i in $(seq 1 100); do urls+=("http://$SYN/1m.bin" -o "$TMP/par.$i"); done
ns timeout 120 curl -sS --no-progress-meter --parallel --parallel-immediate --parallel-max 100 "${urls[@]}"
ok=0
for i in $(seq 1 100); do same_file "$TMP/par.$i" "$www/1m.bin" && ok=$((ok + 1)); done
[ "$ok" -eq 100 ] && pass "100 parallel downloads of 1 MiB: all match" || fail "100 parallel downloads: $ok match"
stop_capture "$TMP/big.pcap"
check_handshakes "$TMP/big.pcap" $SYN 1460
check_clean "$TMP/big.pcap" $SYN

# SIGTERM while a (rate-limited) download runs: synack closes it with a FIN
# after the data it has queued, waits for the handshake, and exits.
start_capture "$TMP/term.pcap" syn0 96 immediate
ns_bg timeout 60 curl -sS --limit-rate 2M -o "$TMP/cut" "http://$SYN/100m.bin" 2>"$TMP/cut.log"
curl_pid=$LAST_PID
sleep 1
kill -TERM "$SERVE_PID"
if wait_pid "$SERVE_PID" 15; then
    pass "SIGTERM during a download: synack serve exited cleanly"
else
    fail "SIGTERM during a download: synack serve did not exit cleanly"
fi
wait_pid "$curl_pid" 30 >/dev/null
stop_capture "$TMP/term.pcap"
# The kernel's view of the end: curl reports an orderly close (a FIN before
# the promised length: "transfer closed with N bytes remaining"), where a RST
# would read "Connection reset by peer".  The capture on syn0 may miss the
# last packets, which synack sends just before the interface goes away with
# it, so it is a second witness, not the only one.
n=$(count "$TMP/term.pcap" "ip.src == $SYN && tcp.flags.fin == 1")
if [ "$n" -ge 1 ] || grep -q "transfer closed with" "$TMP/cut.log"; then
    pass "... and closed the download with a FIN ($n in the capture; curl: $(head -c 120 "$TMP/cut.log"))"
else
    fail "no FIN from synack after SIGTERM (curl: $(cat "$TMP/cut.log"))"
fi
n=$(count "$TMP/term.pcap" "ip.src == $SYN && tcp.flags.reset == 1")
[ "$n" -eq 0 ] || fail "synack reset the download instead of closing it"
grep -q "closing" "$TMP/serve.log" || fail "synack serve did not report the signal"
peak=$(sed -n 's/.*, \([0-9]*\) at once.*/\1/p' "$TMP/serve.log")
if [ "${peak:-0}" -ge 100 ]; then
    pass "synack served $peak connections at once"
else
    fail "at most ${peak:-?} connections at once, want 100"
fi
grep -q " 0 aborted" "$TMP/serve.log" || fail "aborted connections: $(grep connections: "$TMP/serve.log")"
sed -n 's/^synack serve: /    /p' "$TMP/serve.log"
interop_finish
