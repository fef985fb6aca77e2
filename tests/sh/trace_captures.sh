#!/usr/bin/env bash
# `synack trace` on reference captures written by trace_captures.py: one
# conversation built so that every mark appears on a known packet, in every
# container and link layer the reader takes (pcap and pcapng; Ethernet, an
# 802.1Q tag, raw IP, Linux cooked v1 and v2; IPv4 and IPv6), which must all
# give the same analysis; connection splitting (a second connection on the
# same ports, one whose start was not captured), --filter, the summary, and
# the refusals (a missing file, a file that is no capture).
#
#   trace_captures.sh      (CTest sets SYNACK_BIN, SYNACK_SRC)
set -u

. "$(dirname "$0")/trace_lib.bash"
trace_setup trace_captures
for tool in python3 jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not installed (scripts/install-deps.sh installs it)"
        exit 77
    fi
done

check() { # check WHAT EXPECTED ACTUAL
    checks=$((checks + 1))
    [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

python3 "$here/trace_captures.py" "$tmp" || { echo "FAIL: cannot write the captures"; exit 1; }

# The analysis without what differs between containers (times are the same,
# addresses are not part of the packet lines).
for f in conv-raw.pcap conv-ether.pcap conv-vlan.pcap conv-sll.pcap conv-sll2.pcap \
    conv-ether.pcapng conv6-ether.pcap conv6-sll2.pcapng; do
    if ! "$SYNACK_BIN" trace --json "$tmp/$f" >"$tmp/$f.json" 2>"$tmp/$f.err"; then
        fail "$f: synack trace failed: $(head -2 "$tmp/$f.err")"
        continue
    fi
    grep '"type":"packet"' "$tmp/$f.json" >"$tmp/$f.pkts"
    check "$f: packets" 19 "$(wc -l <"$tmp/$f.pkts")"
    if [ "$f" != conv-raw.pcap ]; then
        checks=$((checks + 1))
        cmp -s "$tmp/conv-raw.pcap.pkts" "$tmp/$f.pkts" ||
            fail "$f: analysis differs from the raw-IP capture's: $(diff "$tmp/conv-raw.pcap.pkts" "$tmp/$f.pkts" | head -4)"
    fi
done

# Each packet's states and marks, as the comments in trace_captures.py say.
j="$tmp/conv-raw.pcap.pkts"
row() { # row FRAME -> "A-state B-state mark,mark"
    jq -r "select(.frame == $1) | \"\(.state_a) \(.state_b) \(.marks | join(\",\"))\"" "$j"
}
check "1 SYN" "SYN-SENT SYN-RECEIVED " "$(row 1)"
check "2 SYN-ACK" "ESTABLISHED SYN-RECEIVED " "$(row 2)"
check "3 ACK" "ESTABLISHED ESTABLISHED " "$(row 3)"
check "5 gap" "ESTABLISHED ESTABLISHED previous-segment-not-captured" "$(row 5)"
check "6 reordered" "ESTABLISHED ESTABLISHED out-of-order" "$(row 6)"
check "8 dup ACK" "ESTABLISHED ESTABLISHED dup-ack" "$(row 8)"
check "9 ACK" "ESTABLISHED ESTABLISHED " "$(row 9)"
check "10 spurious" "ESTABLISHED ESTABLISHED retransmission,spurious-retransmission" "$(row 10)"
check "11 zero window" "ESTABLISHED ESTABLISHED zero-window,window-shrunk" "$(row 11)"
check "12 probe" "ESTABLISHED ESTABLISHED window-probe" "$(row 12)"
check "13 ACK" "ESTABLISHED ESTABLISHED " "$(row 13)"
check "14 update" "ESTABLISHED ESTABLISHED window-update" "$(row 14)"
check "15 shrunk" "ESTABLISHED ESTABLISHED window-shrunk" "$(row 15)"
check "16 ACK of unsent" "ESTABLISHED ESTABLISHED ack-of-unsent-data" "$(row 16)"
check "17 FIN" "FIN-WAIT-1 CLOSE-WAIT " "$(row 17)"
check "18 data after FIN" "FIN-WAIT-1 CLOSE-WAIT data-after-fin" "$(row 18)"
check "19 RST" "CLOSED CLOSED rst" "$(row 19)"
# Relative numbers, the scaled window (ws 7), the options in short form.
check "5 relative seq" 201 "$(jq -r 'select(.frame == 5) | .seq' "$j")"
check "7 relative ack, scaled window" "101 65152 true" \
    "$(jq -r 'select(.frame == 7) | "\(.ack) \(.win) \(.win_scaled)"' "$j")"
check "1 options" "mss 1460,sackOK,ws 7" "$(jq -r 'select(.frame == 1) | .opts' "$j")"
check "7 RTT sample" 10 "$(jq -r 'select(.frame == 7) | .rtt_ms' "$j")"

# The summary line of the conversation.
s=$(grep '"type":"connection"' "$tmp/conv-raw.pcap.json")
check "summary" "311 0 1 0 5 10 A FIN CLOSED CLOSED" \
    "$(jq -r '"\(.bytes_a_to_b) \(.bytes_b_to_a) \(.retrans_a) \(.retrans_b) \(.rtt_samples) \(.rtt_max_ms) \(.closed_first_by) \(.close) \(.final_a) \(.final_b)"' <<<"$s")"
checks=$((checks + 1))
"$SYNACK_BIN" trace "$tmp/conv-raw.pcap" >"$tmp/conv.txt" 2>&1
grep -Eq '^  rtt: 5 samples, min 10\.000 ms, avg 10\.000 ms, max 10\.000 ms$' "$tmp/conv.txt" &&
    grep -Eq '^  closed first by: A \(10\.0\.0\.1:40000\) with FIN$' "$tmp/conv.txt" ||
    fail "text summary: $(grep -E 'rtt:|closed first' "$tmp/conv.txt")"
checks=$((checks + 1))
grep -q '\[2001:db8::1\]:40000' <("$SYNACK_BIN" trace "$tmp/conv6-ether.pcap") ||
    fail "IPv6 endpoints are not printed as [2001:db8::1]:40000"

# Three connections: the second reuses the ports with a new ISN and is closed
# by B first (B waits in TIME-WAIT); the third started before the capture.
"$SYNACK_BIN" trace --json "$tmp/multi.pcap" >"$tmp/multi.json"
conns=$(grep -c '"type":"connection"' "$tmp/multi.json")
check "connections in multi.pcap" 3 "$conns"
check "second connection" "7 B FIN CLOSED TIME-WAIT" \
    "$(jq -r 'select(.type == "connection" and .conn == 2) | "\(.packets) \(.closed_first_by) \(.close) \(.final_a) \(.final_b)"' "$tmp/multi.json")"
check "second connection's states" "CLOSE-WAIT FIN-WAIT-1|CLOSE-WAIT FIN-WAIT-2|LAST-ACK TIME-WAIT|CLOSED TIME-WAIT" \
    "$(jq -r 'select(.type == "packet" and .conn == 2 and .frame > 22) | "\(.state_a) \(.state_b)"' "$tmp/multi.json" | paste -sd'|')"
check "mid-stream connection" "ESTABLISHED ESTABLISHED false 300" \
    "$(jq -r 'select(.type == "packet" and .conn == 3 and .frame == 27) | "\(.state_a) \(.state_b) \(.win_scaled) \(.win)"' "$tmp/multi.json")"

# --filter: by port, by address and port, IPv6, no match.
nconn() { "$SYNACK_BIN" trace --json "$@" | grep -c '"type":"connection"'; }
check "--filter :80" 2 "$(nconn --filter :80 "$tmp/multi.pcap")"
check "--filter 10.0.0.2:8080" 1 "$(nconn --filter 10.0.0.2:8080 "$tmp/multi.pcap")"
check "--filter 10.0.0.1 --filter :8080" 1 "$(nconn --filter 10.0.0.1 --filter :8080 "$tmp/multi.pcap")"
check "--filter [2001:db8::2]:80" 1 "$(nconn --filter '[2001:db8::2]:80' "$tmp/conv6-ether.pcap")"
check "--filter 192.0.2.9" 0 "$(nconn --filter 192.0.2.9 "$tmp/multi.pcap")"
checks=$((checks + 1))
"$SYNACK_BIN" trace --filter 'nonsense' "$tmp/multi.pcap" >/dev/null 2>&1 && fail "--filter nonsense accepted"

# Refusals: no such file, not a capture.
checks=$((checks + 2))
"$SYNACK_BIN" trace "$tmp/missing.pcap" >/dev/null 2>&1 && fail "a missing file was accepted"
head -c 100 /dev/urandom >"$tmp/junk.pcap"
"$SYNACK_BIN" trace "$tmp/junk.pcap" >/dev/null 2>&1 && fail "a file that is no capture was accepted"

trace_finish trace_captures
