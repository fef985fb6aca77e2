#!/usr/bin/env bash
# `synack trace` on captures of the Linux kernel's own connections, made by
# tcpdump inside the test's namespace (on its loopback, and on the TUN
# device synack serves on), checked against what the test made happen:
#   client-first close   nc sends and shuts down (-N), the server nc exits:
#                        the client ends in TIME-WAIT, the server CLOSED
#   server-first close   curl fetches an HTTP/1.0 reply without a length
#                        from nc, which closes after it (curl reads to the
#                        end): the server ends in TIME-WAIT
#   RST on unread data   the server closes with data unread: it sends RST
#   SO_LINGER 0          the client closes with linger {1, 0}: RST, no TIME-WAIT
#   transfer with loss   curl fetches 256 KiB from `synack serve` losing 3% of
#                        what it sends (synack's impairment, seeded): the
#                        capture shows synack's retransmissions, the kernel's
#                        dup ACKs and a complete, orderly connection.
source "$(dirname "$0")/lib.bash"
interop_require curl python3 nc ss tcpdump jq
interop_setup

here=$(cd "$(dirname "$0")" && pwd)
LO=127.0.0.1

# trace_json PCAP: `synack trace --json` of it into PCAP.json.
trace_json() {
    if ! "$SYNACK_BIN" trace --json "$1" >"$1.json" 2>"$1.err"; then
        fail "synack trace $1: $(head -3 "$1.err")"
        return 1
    fi
    "$SYNACK_BIN" trace "$1" >"$1.txt" 2>&1
}

# conn PCAP PORT JQ: the JQ expression on the connection to PORT.
conn() {
    jq -r "select(.type == \"connection\" and (.b | endswith(\":$2\"))) | $3" "$1.json" | head -1
}

# states PCAP PORT SIDE: the states side A or B went through, in order.
states() {
    local id
    id=$(conn "$1" "$2" .conn)
    jq -r "select(.type == \"packet\" and .conn == ${id:-0}) | .state_$3" "$1.json" | uniq | paste -sd' '
}

expect_eq() { # expect_eq WHAT EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then pass "$1: $3"; else fail "$1: expected '$2', got '$3'"; fi
}

expect_match() { # expect_match WHAT REGEX ACTUAL
    if [[ "$3" =~ $2 ]]; then pass "$1: $3"; else fail "$1: expected /$2/, got '$3'"; fi
}

# lo_capture NAME: tcpdump on the namespace's loopback into $TMP/NAME.pcap.
lo_capture() {
    start_capture "$TMP/$1.pcap" lo 0 immediate
}

# ---- client-first close (nc) ----------------------------------------------
lo_capture nc
ns_bg timeout 20 nc -l "$LO" 5001 >"$TMP/nc.out" </dev/null
wait_for 10 listening 5001 || fail "nc did not listen"
printf 'hello\n' | ns timeout 10 nc -N "$LO" 5001 || fail "nc client failed"
wait_for 5 grep -q hello "$TMP/nc.out" || fail "the nc server did not get the data"
stop_capture "$TMP/nc.pcap"
if trace_json "$TMP/nc.pcap"; then
    expect_eq "nc: closed first by, final states" "A FIN TIME-WAIT CLOSED" \
        "$(conn "$TMP/nc.pcap" 5001 '"\(.closed_first_by) \(.close) \(.final_a) \(.final_b)"')"
    expect_match "nc: client states" '^SYN-SENT ESTABLISHED FIN-WAIT-1 (FIN-WAIT-2 )?TIME-WAIT$' \
        "$(states "$TMP/nc.pcap" 5001 a)"
    expect_match "nc: server states" '^SYN-RECEIVED ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED$' \
        "$(states "$TMP/nc.pcap" 5001 b)"
    expect_eq "nc: bytes" "6 0" "$(conn "$TMP/nc.pcap" 5001 '"\(.bytes_a_to_b) \(.bytes_b_to_a)"')"
fi

# ---- server-first close (curl, HTTP/1.0 server) ------------------------------
mkdir -p "$TMP/www"
make_file "$TMP/www/page.bin" 20000
{ printf 'HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n'; cat "$TMP/www/page.bin"; } \
    >"$TMP/reply"
lo_capture curl
ns_bg timeout 30 nc -N -l "$LO" 8000 <"$TMP/reply" >"$TMP/request"
wait_for 10 listening 8000 || fail "the nc server did not listen"
ns timeout 10 curl -s -o "$TMP/page.got" "http://$LO:8000/page.bin" || fail "curl failed"
same_file "$TMP/www/page.bin" "$TMP/page.got" || fail "curl: the page differs"
stop_capture "$TMP/curl.pcap"
if trace_json "$TMP/curl.pcap"; then
    expect_eq "curl: closed first by, final states" "B FIN CLOSED TIME-WAIT" \
        "$(conn "$TMP/curl.pcap" 8000 '"\(.closed_first_by) \(.close) \(.final_a) \(.final_b)"')"
    expect_match "curl: server states" 'ESTABLISHED FIN-WAIT-1 (FIN-WAIT-2 )?TIME-WAIT$' \
        "$(states "$TMP/curl.pcap" 8000 b)"
    expect_match "curl: client states" 'ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED$' \
        "$(states "$TMP/curl.pcap" 8000 a)"
    bytes=$(conn "$TMP/curl.pcap" 8000 .bytes_b_to_a)
    [ "${bytes:-0}" -gt 20000 ] && pass "curl: $bytes bytes to the client" ||
        fail "curl: $bytes bytes to the client, want the page and its header"
fi

# ---- RST on unread data, SO_LINGER 0 (python3's sockets) ----------------------
lo_capture rst
ns timeout 20 python3 "$here/trace_kernel.py" rst-unread "$LO" 5002 || fail "rst-unread run failed"
ns timeout 20 python3 "$here/trace_kernel.py" linger-zero "$LO" 5003 || fail "linger-zero run failed"
stop_capture "$TMP/rst.pcap"
if trace_json "$TMP/rst.pcap"; then
    expect_eq "rst-unread: closed first by, final states" "B RST CLOSED CLOSED" \
        "$(conn "$TMP/rst.pcap" 5002 '"\(.closed_first_by) \(.close) \(.final_a) \(.final_b)"')"
    id=$(conn "$TMP/rst.pcap" 5002 .conn)
    expect_eq "rst-unread: the RST row" "R. CLOSED CLOSED rst" \
        "$(jq -r "select(.type == \"packet\" and .conn == ${id:-0} and (.flags | test(\"R\"))) | \"\(.flags) \(.state_b) \(.state_a) \(.marks | join(\",\"))\"" "$TMP/rst.pcap.json" | head -1)"
    expect_eq "linger-zero: closed first by, final states" "A RST CLOSED CLOSED" \
        "$(conn "$TMP/rst.pcap" 5003 '"\(.closed_first_by) \(.close) \(.final_a) \(.final_b)"')"
    checks=$(states "$TMP/rst.pcap" 5003 a)
    [[ "$checks" == *TIME-WAIT* ]] && fail "linger-zero: the client went to TIME-WAIT ($checks)" ||
        pass "linger-zero: no TIME-WAIT ($checks)"
fi

# ---- a transfer with loss: synack serve --loss, curl, capture on the device ---
# Headers only (-s 128); a capture that missed packets (a loaded machine) is
# taken again, up to three times: the checks need every packet.
SYN=10.200.12.2
PEER=10.200.12.1
SIZE=262144
make_file "$TMP/www/big.bin" $SIZE
persistent_tun syt0 "$PEER/24" || fail "cannot create the TUN device"
for attempt in 1 2 3; do
    start_capture "$TMP/loss.pcap" syt0 128
    if start_serve "$TMP/serve.log" --tun syt0 --addr "$SYN/24" --peer "$PEER" --app "http=$TMP/www" \
        --loss 3% --seed 7 --svg "$TMP/serve.svg" --html "$TMP/serve.html" \
        --plot cwnd "$TMP/serve-cwnd.svg" --series "$TMP/serve.series"; then
        ns timeout 60 curl -s -o "$TMP/big.got" "http://$SYN/big.bin" || fail "curl through the loss failed"
        same_file "$TMP/www/big.bin" "$TMP/big.got" || fail "the file differs after the loss"
        sleep 0.5
        stop_serve "$TMP/serve.log"
    fi
    stop_capture "$TMP/loss.pcap"
    [ "$CAPTURE_DROPPED" -eq 0 ] && break
    echo "note: tcpdump missed $CAPTURE_DROPPED packets (attempt $attempt), again"
done
grep -q 'drops by reason: ' "$TMP/serve.log" && pass "serve printed its drops by reason" ||
    fail "serve did not print its drops by reason: $(tail -5 "$TMP/serve.log")"
grep -Eq 'impairment: out [1-9][0-9]* lost' "$TMP/serve.log" || fail "synack's impairment lost nothing"
# serve --svg/--html: the connection drawn, synack's side named, its states there.
# (Whichever side closes first, synack's side passes FIN-WAIT-1 or CLOSE-WAIT.)
if grep -q 'synack 10.200.12.2:80' "$TMP/serve.svg" 2>/dev/null && grep -q '>ESTABLISHED<' "$TMP/serve.svg" &&
    grep -Eq '>(FIN-WAIT-1|CLOSE-WAIT)<' "$TMP/serve.svg" &&
    grep -q 'class="plot"' "$TMP/serve.html" 2>/dev/null; then
    pass "serve --svg/--html drew the connection"
else
    fail "serve --svg/--html: no ladder of the connection ($(ls -la "$TMP"/serve.* 2>&1 | head -3))"
fi
# Both directions are in the pictures' capture (the kernel's packets too).
if [ "$(grep -Ec '<th>bytes [AB]&rarr;[AB]</th><td>[0-9]+ in [1-9][0-9]* packets' "$TMP/serve.html")" -eq 2 ]; then
    pass "serve --html: packets of both sides drawn"
else
    fail "serve --html: a side's packets are missing: $(grep -o '<th>bytes [^/]*</td>' "$TMP/serve.html" | head -2)"
fi
# serve --series/--plot cwnd: synack's own cwnd of the connection (it sends
# the file), with the recovery episodes its losses caused, drawn.
n=$(grep -c '"self":"10.200.12.2:80"' "$TMP/serve.series" 2>/dev/null)
r=$(grep '"self":"10.200.12.2:80"' "$TMP/serve.series" 2>/dev/null | grep -c '"recovery":true')
if [ "${n:-0}" -ge 10 ] && [ "${r:-0}" -ge 1 ] && grep -q '<path class="cwnd"' "$TMP/serve-cwnd.svg" &&
    grep -q '<rect class="recovery"' "$TMP/serve-cwnd.svg"; then
    pass "serve --series/--plot cwnd: $n samples of synack's cwnd, $r in recovery"
else
    fail "serve --series/--plot cwnd: $n samples, $r in recovery ($(ls -la "$TMP"/serve-cwnd.svg 2>&1))"
fi
if [ "$CAPTURE_DROPPED" -ne 0 ]; then
    fail "tcpdump kept missing packets ($CAPTURE_DROPPED): the capture cannot be checked"
elif trace_json "$TMP/loss.pcap"; then
    r=$(conn "$TMP/loss.pcap" 80 '"\(.retrans_b) \(.bytes_b_to_a) \(.close)"')
    read -r retrans bytes closer <<<"$r"
    [ "${retrans:-0}" -gt 0 ] && pass "loss: synack retransmitted $retrans segments" ||
        fail "loss: no retransmission from synack marked ($r)"
    [ "${bytes:-0}" -ge $SIZE ] && pass "loss: $bytes bytes from synack" ||
        fail "loss: only ${bytes:-0} bytes from synack"
    id=$(conn "$TMP/loss.pcap" 80 .conn)
    marks=$(jq -r "select(.type == \"packet\" and .conn == ${id:-0}) | .marks[]" "$TMP/loss.pcap.json" | sort -u | paste -sd' ')
    expect_match "loss: marks" 'dup-ack.*retransmission' "$marks"
    expect_match "loss: client states" '^SYN-SENT ESTABLISHED' "$(states "$TMP/loss.pcap" 80 a)"
    expect_match "loss: the close" 'FIN' "$closer"
fi

# SIGUSR1: the counters, the drops among them, and serve keeps running.
if start_serve "$TMP/usr1.log" --tun syt0 --addr "$SYN/24" --peer "$PEER" --app echo; then
    # SERVE_PID is timeout(1)'s; the signal is for synack, its child.
    serve=$(pgrep -P "$SERVE_PID" | head -1)
    kill -USR1 "${serve:-$SERVE_PID}"
    wait_for 5 grep -q 'drops by reason: ' "$TMP/usr1.log" && pass "SIGUSR1: drops by reason printed" ||
        fail "SIGUSR1: no drops by reason: $(tail -3 "$TMP/usr1.log")"
    kill -0 "$SERVE_PID" 2>/dev/null && pass "SIGUSR1: serve still runs" || fail "SIGUSR1 stopped serve"
    stop_serve "$TMP/usr1.log"
fi

[ "$FAILURES" -eq 0 ] || { echo "trace_kernel: $FAILURES failures"; exit 1; }
echo "trace_kernel: passed"
