#!/usr/bin/env bash
# Every `synack demo --scenario X` runs, exits 0 and prints the lines that
# show it went as RFC 9293 says; the transfer scenario's summary line has the
# agreed form; the demo's options are parsed (and bad ones refused); and the
# runs are deterministic: the same seed gives byte-identical output and pcap,
# another seed (under loss) another pcap.
#
#   demo_scenarios.sh      (CTest sets SYNACK_BIN to the synack tool)
set -u

if [ -z "${SYNACK_BIN:-}" ] || [ ! -x "$SYNACK_BIN" ]; then
    echo "FAIL: SYNACK_BIN must name the synack tool (got '${SYNACK_BIN:-}')"
    exit 1
fi
tmp=$(mktemp -d "${SYNACK_TEST_TMP:-/tmp}/demo_scenarios.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# run NAME ARGS...: `synack demo ARGS` into $tmp/NAME.log; its status in $status.
run() {
    local name=$1
    shift
    "$SYNACK_BIN" demo "$@" >"$tmp/$name.log" 2>&1
    status=$?
}

# expect NAME REGEX...: each extended regex matches a line of $tmp/NAME.log.
expect() {
    local name=$1 re
    shift
    for re in "$@"; do
        checks=$((checks + 1))
        if ! grep -Eq -- "$re" "$tmp/$name.log"; then
            fail "$name: no line matches /$re/"
            sed 's/^/    /' "$tmp/$name.log" | tail -25
        fi
    done
}

# scenario NAME REGEX...: run the scenario, which must exit 0 and say so.
scenario() {
    local name=$1
    shift
    run "$name" --scenario "$name"
    checks=$((checks + 1))
    if [ "$status" -ne 0 ]; then
        fail "synack demo --scenario $name exited $status"
        sed 's/^/    /' "$tmp/$name.log" | tail -25
        return
    fi
    expect "$name" "^  result: as RFC 9293 says$" "$@"
}

TRANSFER_RE='^transfer: sent ([0-9]+) bytes, received ([0-9]+) bytes, sha256 (match|MISMATCH), retransmissions ([0-9]+), duration ([0-9]+\.[0-9]{3}) s \(virtual\), goodput ([0-9]+\.[0-9]{2}) Mbit/s$'

# ---- every scenario, and what shows it went right ----------------------------
scenario handshake-close 'client  states: .*FIN-WAIT-2 TIME-WAIT$' 'server  states: .*CLOSE-WAIT LAST-ACK$' \
    'F\. +seq .*--->'
scenario server-close 'server  states: .*FIN-WAIT-2 TIME-WAIT$' 'client  states: .*CLOSE-WAIT LAST-ACK$'
scenario simultaneous-open 'client  states: .*SYN-SENT SYN-RECEIVED ESTABLISHED' \
    'server  states: .*SYN-SENT SYN-RECEIVED ESTABLISHED'
scenario simultaneous-close 'client  states: .*CLOSING TIME-WAIT$' 'server  states: .*CLOSING TIME-WAIT$'
scenario half-close 'shutdown\([0-9]+, SHUT_WR\) = 0' 'client  states: .*FIN-WAIT-2 TIME-WAIT$'
scenario rst-unread 'R\. +seq .*--->' 'RSTs sent: client 1, server 0' 'recv\([0-9]+\) = -1 ECONNRESET'
scenario linger-zero 'SO_LINGER \{1, 0\}' 'R\. +seq .*--->' 'RSTs sent: client 1, server 0'
scenario refused 'SO_ERROR is ECONNREFUSED' '<--- R\. +seq 0 '
scenario syn-lost '^  0\.000 -> 0\.000 .* S +seq 0 .*--X .*lost$' '^  1000\.000 -> 1010\.000 .* S +seq 0 .*--->' \
    'client->server [0-9]+ \(lost 1\)'
scenario transfer "$TRANSFER_RE" 'sha256 match' 'sent 1048576 bytes, received 1048576 bytes' \
    '^  \.\.\. [0-9]+ packets not shown$'

# The transfer's line ends the output, the ladder is summarised (20 packet
# rows, then the tail), and nothing comes out of order.
if [ -f "$tmp/transfer.log" ]; then
    checks=$((checks + 1))
    tail -n 1 "$tmp/transfer.log" | grep -Eq "$TRANSFER_RE" || fail "transfer: the last line is not the transfer line"
    checks=$((checks + 1))
    rows=$(grep -Ec '^  [0-9]+\.[0-9]{3} -> ' "$tmp/transfer.log")
    [ "$rows" -le 40 ] || fail "transfer: $rows packet rows printed; a long transfer's ladder is summarised"
fi

# ---- the TIME-WAIT storm ----------------------------------------------------------
# The default run is a million connections (about a minute of CPU under ASan):
# here a smaller one that still goes far past the clients' 28,231 ephemeral
# ports, so that every tuple is reused while its TIME-WAIT record lives.
STORM_RE='^connections: ([0-9]+) completed, ([0-9]+) refused, peak TIME-WAIT: ([0-9]+) records, peak memory: ([0-9]+) bytes$'
storm_n=100000
[ "${SYNACK_SANITIZE:-OFF}" = "ON" ] && storm_n=40000
run storm --scenario time-wait-storm --connections "$storm_n"
checks=$((checks + 1))
[ "$status" -eq 0 ] || fail "time-wait-storm exited $status"
expect storm "$STORM_RE" "^connections: $storm_n completed, 0 refused, " 'the server still accepts afterwards'
checks=$((checks + 2))
tail -n 1 "$tmp/storm.log" | grep -Eq "$STORM_RE" || fail "time-wait-storm: the last line is not the summary line"
if line=$(tail -n 1 "$tmp/storm.log" | grep -E "$STORM_RE"); then
    tw=$(echo "$line" | sed -E "s/$STORM_RE/\3/")
    mem=$(echo "$line" | sed -E "s/$STORM_RE/\4/")
    # TIME-WAIT was really held (thousands of records), and a record is 64
    # bytes: the server's peak memory stays far below what a TCB and two
    # 256 KiB buffers per TIME-WAIT connection would take.
    [ "$tw" -ge 10000 ] || fail "time-wait-storm: peak TIME-WAIT $tw, expected thousands of records"
    [ "$mem" -lt $((tw * 1024)) ] || fail "time-wait-storm: peak memory $mem for $tw TIME-WAIT records"
fi
# A bound on the TIME-WAIT table: with --msl 300 (10 minutes of 2*MSL) records
# cannot expire during the run; the default bound is far above 28,231 tuples,
# so the count stays at one per tuple, reused (RFC 6191), never one per connection.
run storm2 --scenario time-wait-storm --connections 60000 --msl 300 --quiet
expect storm2 '^connections: 60000 completed, 0 refused, peak TIME-WAIT: ([0-9]{4}|[12][0-9]{4}|2[0-8][0-9]{3}) records'
for bad in "--connections 0" "--connections x" "--concurrency 0" "--concurrency 99999"; do
    # shellcheck disable=SC2086 # split the option from its value
    run bad --scenario time-wait-storm $bad
    checks=$((checks + 1))
    [ "$status" -eq 2 ] || fail "synack demo $bad: exit $status, want 2"
done

# ---- the SYN flood (RFC 4987) -----------------------------------------------------
# 100,000 spoofed SYNs against a listener of backlog 128 while 200 clients
# connect: the summary line ends the output; at least 99% of the clients
# complete, the flood got cookies, the SYN cache held at most its bound
# (4 x 129 + 16 = 532 entries) and the server's memory stayed under 1 MiB.
FLOOD_RE='^legit connections: ([0-9]+)/([0-9]+) completed, cookies sent: ([0-9]+), peak half-open: ([0-9]+), peak memory: ([0-9]+) bytes$'
run flood --scenario syn-flood
checks=$((checks + 1))
[ "$status" -eq 0 ] || fail "syn-flood exited $status"
checks=$((checks + 1))
if line=$(tail -n 1 "$tmp/flood.log" | grep -E "$FLOOD_RE"); then
    [[ $line =~ $FLOOD_RE ]]
    done_=${BASH_REMATCH[1]} total=${BASH_REMATCH[2]} cookies=${BASH_REMATCH[3]}
    half=${BASH_REMATCH[4]} mem=${BASH_REMATCH[5]}
    [ "$total" -ge 200 ] && [ $((done_ * 100)) -ge $((total * 99)) ] ||
        fail "syn-flood: $done_/$total legitimate connections completed"
    [ "$cookies" -ge 90000 ] || fail "syn-flood: only $cookies cookies for 100,000 spoofed SYNs"
    [ "$half" -le 532 ] || fail "syn-flood: peak half-open $half past the listener's bound of 532"
    [ "$mem" -lt 1048576 ] || fail "syn-flood: peak memory $mem bytes"
else
    fail "syn-flood: the last line is not the summary line: $(tail -n 1 "$tmp/flood.log")"
fi

# ---- the transfer scenario's options --------------------------------------------
run t64k --scenario transfer --bytes 64K --quiet
expect t64k 'sent 65536 bytes, received 65536 bytes, sha256 match'
checks=$((checks + 1))
[ "$(wc -l <"$tmp/t64k.log")" -le 12 ] || fail "--quiet printed more than the summary"

run timp --scenario transfer --bytes 512K --loss 3 --dup 2 --reorder 2 --corrupt 2 --rate 100M \
    --delay 5 --cc cubic --seed 11 --quiet
checks=$((checks + 1))
[ "$status" -eq 0 ] || fail "transfer through every impairment exited $status"
expect timp 'sent 524288 bytes, received 524288 bytes, sha256 match'
checks=$((checks + 1))
line=$(grep -E "$TRANSFER_RE" "$tmp/timp.log")
if [[ $line =~ $TRANSFER_RE ]]; then
    [ "${BASH_REMATCH[4]}" -gt 0 ] || fail "no retransmission through 3% loss: $line"
    # At most the link rate: 100 Mbit/s.
    awk -v g="${BASH_REMATCH[6]}" 'BEGIN { exit !(g > 0 && g <= 100) }' ||
        fail "goodput outside (0, 100] Mbit/s: $line"
else
    fail "no transfer line after the impaired run"
fi

# A rate: serialisation bounds the goodput (1 MiB at 1 Mbit/s takes > 8 s).
run trate --scenario transfer --bytes 1M --rate 1M --quiet
checks=$((checks + 1))
line=$(grep -E "$TRANSFER_RE" "$tmp/trate.log")
if [[ $line =~ $TRANSFER_RE ]]; then
    awk -v d="${BASH_REMATCH[5]}" -v g="${BASH_REMATCH[6]}" 'BEGIN { exit !(d > 8.3 && g <= 1) }' ||
        fail "--rate 1M not honoured: $line"
else
    fail "no transfer line with --rate 1M"
fi

# An empty transfer is still a transfer.
run t0 --scenario transfer --bytes 0 --quiet
expect t0 'sent 0 bytes, received 0 bytes, sha256 match'

# Malformed options are refused with status 2.
for bad in "--bytes 12Q" "--bytes -1" "--bytes 1.5" "--rate fast" "--rate 0" "--cc vegas" \
    "--dup 101" "--reorder -1" "--corrupt x" "--scenario nosuch"; do
    # shellcheck disable=SC2086 # split the option from its value
    run bad --scenario transfer $bad
    checks=$((checks + 1))
    [ "$status" -eq 2 ] || fail "synack demo $bad: exit $status, want 2"
done

# ---- determinism ------------------------------------------------------------------
# same NAME ARGS...: two runs with the same arguments give the same output and pcap.
same() {
    local name=$1
    shift
    run "$name.1" "$@" --pcap "$tmp/$name.1.pcap"
    run "$name.2" "$@" --pcap "$tmp/$name.2.pcap"
    checks=$((checks + 2))
    if [ ! -s "$tmp/$name.1.pcap" ]; then
        fail "$name: no pcap written"
        return
    fi
    cmp -s "$tmp/$name.1.pcap" "$tmp/$name.2.pcap" || fail "$name: same seed, different pcaps"
    cmp -s "$tmp/$name.1.log" "$tmp/$name.2.log" || fail "$name: same seed, different output"
}
same tseed7 --scenario transfer --bytes 256K --loss 5 --seed 7
same tseed8 --scenario transfer --bytes 256K --loss 5 --seed 8
same hseed7 --scenario handshake-close --loss 20 --seed 7
same hseed8 --scenario handshake-close --loss 20 --seed 8
checks=$((checks + 2))
cmp -s "$tmp/tseed7.1.pcap" "$tmp/tseed8.1.pcap" && fail "transfer: seeds 7 and 8 gave the same pcap"
cmp -s "$tmp/hseed7.1.pcap" "$tmp/hseed8.1.pcap" && fail "handshake-close: seeds 7 and 8 gave the same pcap"

if [ "$failures" -gt 0 ]; then
    echo "FAILED: $failures of $checks check(s)"
    exit 1
fi
echo "PASS: $checks checks"
