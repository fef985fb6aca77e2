#!/usr/bin/env bash
# The stack's own numbers over time in the pictures of synack's own
# connections (`synack demo --series/--plot cwnd/--html`): a transfer with
# loss gives a sender series whose cwnd drops, to the new ssthresh, where
# each recovery episode starts; each episode starts with a retransmission
# the capture shows at that very time, and every retransmission lies in an
# episode; the cwnd plot shades one band per episode and its cwnd line
# steps down where each band starts.  A long run thinned to --series-max
# keeps every episode and stays within the bound.
#
#   trace_stack_series.sh      (CTest sets SYNACK_BIN)
set -u

. "$(dirname "$0")/trace_lib.bash"
trace_setup trace_stack_series
S=$SYNACK_BIN
SENDER=192.0.2.1
py() { python3 "$here/trace_stack_series.py" "$@"; }

# check NAME: the series, the capture and the plot of run NAME agree.
check() {
    checks=$((checks + 1))
    if ! "$S" trace --json "$tmp/$1.pcap" >"$tmp/$1.json" 2>"$tmp/$1.err"; then
        fail "$1: synack trace --json failed: $(head -3 "$tmp/$1.err")"
        return
    fi
    py check "$tmp/$1.series" "$tmp/$1.json" "$tmp/$1.svg" $SENDER >"$tmp/$1.check" ||
        fail "$1: $(grep -v '^FAIL' "$tmp/$1.check" | tail -1)"$'\n'"$(grep '^FAIL' "$tmp/$1.check" | head -5)"
}

# run NAME DEMO-ARGS...: a transfer with the series, the cwnd plot, the capture.
run() {
    local name=$1
    shift
    "$S" demo --scenario transfer --quiet --pcap "$tmp/$name.pcap" --series "$tmp/$name.series" \
        --plot cwnd "$tmp/$name.svg" "$@" >"$tmp/$name.log" 2>&1 ||
        fail "$name: synack demo $* failed: $(tail -3 "$tmp/$name.log")"
}

# A short transfer with loss: three episodes, each at a retransmission.
run loss --bytes 300K --loss 3 --seed 1 --html "$tmp/loss.html" --plot rtt "$tmp/loss-rtt.svg"
check loss
checks=$((checks + 1))
grep -q '3 recovery episodes' "$tmp/loss.check" || fail "loss: expected 3 episodes: $(tail -1 "$tmp/loss.check")"
# The page carries the cwnd plot, the RTT plot the stack's RTO and srtt.
checks=$((checks + 1))
grep -q 'congestion window of A 192.0.2.1' "$tmp/loss.html" && grep -q 'class="recovery"' "$tmp/loss.html" ||
    fail "loss: the page lacks the stack's cwnd plot or its recovery bands"
checks=$((checks + 1))
grep -q 'class="rto"' "$tmp/loss-rtt.svg" && grep -q 'class="srtt"' "$tmp/loss-rtt.svg" ||
    fail "loss: the rtt plot lacks the stack's RTO or smoothed RTT"

# A long one (8 MiB, 1% loss: 35 episodes, ~2900 samples), whole and thinned.
run long --bytes 8M --loss 1 --seed 3
check long
run thin --bytes 8M --loss 1 --seed 3 --series-max 256
check thin
checks=$((checks + 1))
whole=$(py episodes "$tmp/long.series" $SENDER)
thin=$(py episodes "$tmp/thin.series" $SENDER)
if [ "${whole#* }" != "${thin#* }" ]; then
    fail "thinning lost recovery episodes: whole $(echo "$whole" | wc -w), thinned $(echo "$thin" | wc -w)"
elif [ "${thin%% *}" -gt 256 ] || [ "${whole%% *}" -le 256 ]; then
    fail "thinning: $thin samples of $whole (want at most 256 of more)"
fi

# `synack trace` has no cwnd to draw: it says so.
checks=$((checks + 1))
"$S" trace "$tmp/loss.pcap" --plot cwnd "$tmp/x.svg" >/dev/null 2>"$tmp/x.err"
[ $? -eq 2 ] && grep -q 'congestion window' "$tmp/x.err" || fail "trace --plot cwnd did not refuse"

trace_finish trace_stack_series
