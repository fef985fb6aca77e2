#!/usr/bin/env bash
# docs/serve.md's examples run as written: every ```sh block is extracted
# and run line by line, in a namespace of this test's own (the doc's
# "synack-demo" renamed), from a directory holding README.md, with the
# doc's build/tools/synack/synack replaced by the tool under test.  Lines
# ending in '&' run in the background (a second later the next line runs);
# the GUI line (wireshark) is left out.  Checks: curl gets README.md, the
# traced server starts and writes its pcap, the kernel-side captures start,
# the client's copy equals README.md.
source "$(dirname "$0")/lib.bash"
interop_require curl python3 tcpdump
interop_setup
ip netns del "$NS" # the doc's first command creates it
doc="$SYNACK_SRC/docs/serve.md"
mkdir -p "$TMP/www" && cp "$SYNACK_SRC/README.md" "$TMP/www/"
cd "$TMP/www" || exit 1
blocks=$(awk '/^```sh$/ {on = 1; n++; next} /^```$/ {on = 0} on {print n "\t" $0}' "$doc")
[ "$(cut -f1 <<<"$blocks" | sort -u | wc -l)" -ge 4 ] || { fail "docs/serve.md has fewer sh blocks than expected"; exit 1; }

# stop_ns_jobs: end what the doc's commands left running in the namespace (SIGINT, as Ctrl-C).
stop_ns_jobs() {
    local p
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -INT "$p" 2>/dev/null; done
    for p in $(seq 1 50); do [ -z "$(ip netns pids "$NS" 2>/dev/null)" ] && return; sleep 0.2; done
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
}
cleanup_doc() { stop_ns_jobs; interop_cleanup; }
trap cleanup_doc EXIT

# run_block N [SECONDS]: SECONDS bounds each foreground line (the live
# captures of block 3 run until stopped: a few seconds show they work).
run_block() {
    local b=$1 secs=${2:-60} line
    while IFS= read -r line; do
        line=${line%%#*}                               # the doc's comments
        line=${line//synack-demo/$NS}
        line=${line//build\/tools\/synack\/synack/$SYNACK_BIN}
        [[ -z "${line// }" || "$line" == *wireshark* ]] && continue
        if [[ "$line" =~ \&[[:space:]]*$ ]]; then
            local before
            before=$(ip netns exec "$NS" ss -Htln 2>/dev/null | wc -l)
            timeout 60 bash -c "${line%&*}" >>"$TMP/block$b.log" 2>&1 &
            PIDS+=("$!")
            sleep 1.5
            # A kernel server (python3 -m http.server) gets up to 5 s more to listen.
            if [[ "$line" == *python3* ]]; then
                wait_for 5 test "$(ip netns exec "$NS" ss -Htln 2>/dev/null | wc -l)" -gt "$before"
            fi
        else
            timeout "$secs" bash -c "$line" >>"$TMP/block$b.out" 2>>"$TMP/block$b.log" || echo "status $? from: $line" >>"$TMP/block$b.log"
        fi
    done < <(awk -F'\t' -v b="$b" '$1 == b {print $2}' <<<"$blocks")
}

run_block 1
cmp -s "$TMP/block1.out" README.md && pass "block 1: curl fetched README.md from synack serve" ||
    fail "block 1: $(head -5 "$TMP/block1.log")"
stop_ns_jobs
run_block 2
sleep 1
ip netns exec "$NS" curl -s http://10.200.0.2/README.md -o /dev/null
stop_ns_jobs
[ -s synack.pcap ] && pass "block 2: serve --trace --pcap wrote synack.pcap" ||
    fail "block 2: no synack.pcap: $(head -5 "$TMP/block2.log")"
grep -q "synack serve: http on" "$TMP/block2.log" && pass "block 2: the traced server started" ||
    fail "block 2: $(head -5 "$TMP/block2.log")"
# Block 3 needs the interface: a server under it, then the captures.
ip netns exec "$NS" "$SYNACK_BIN" serve --tun syn0 --addr 10.200.0.2/24 --peer 10.200.0.1 --app echo -q >/dev/null 2>&1 &
PIDS+=("$!")
sleep 1.5
run_block 3 3
stop_ns_jobs
[ -e capture.pcap ] && pass "block 3: tcpdump on syn0 started and wrote capture.pcap" ||
    fail "block 3: $(head -5 "$TMP/block3.log")"
run_block 4
stop_ns_jobs
cmp -s copy.md README.md && pass "block 4: synack connect fetched README.md from python3 -m http.server" ||
    fail "block 4: $(cat "$TMP/block4.log")"
[ "$FAILURES" -eq 0 ]
