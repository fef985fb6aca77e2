#!/usr/bin/env bash
# For every `synack demo` scenario, the states `synack trace` infers from the
# demo's capture equal the true states the stacks went through: the demo
# writes each packet's sender state after sending and receiver state after
# receipt (--states), trace infers the same from the pcap alone.  The load
# scenarios (time-wait-storm, syn-flood) capture their first 16 connections
# (syn-flood: of those the server kept state for; a SYN cookie keeps none),
# compared the same way, every one of the 16 there, and drawn (--svg,
# --html) with the true states.  Also the
# transfer under random loss (four seeds), and the demo's own ladder prints
# rows in the order things happened: a RST row shows the CLOSED state the
# close left behind, a lost ACK comes after the FIN that caused it.
#
#   trace_demo_states.sh      (CTest sets SYNACK_BIN)
set -u

. "$(dirname "$0")/trace_lib.bash"
trace_setup trace_demo_states

# compare NAME DEMO-ARGS...: demo with --pcap and --states, then trace --states.
compare() {
    local name=$1
    shift
    checks=$((checks + 1))
    if ! "$SYNACK_BIN" demo "$@" --pcap "$tmp/$name.pcap" --states "$tmp/$name.true" \
        >"$tmp/$name.log" 2>&1; then
        fail "$name: synack demo $* failed"
        tail -5 "$tmp/$name.log"
        return
    fi
    if ! "$SYNACK_BIN" trace --states "$tmp/$name.pcap" >"$tmp/$name.inferred" 2>"$tmp/$name.err"; then
        fail "$name: synack trace failed: $(head -3 "$tmp/$name.err")"
        return
    fi
    local n
    n=$(wc -l <"$tmp/$name.true")
    # (trace lists connection by connection; both by frame number.)
    sort -n -o "$tmp/$name.true" "$tmp/$name.true"
    sort -n -o "$tmp/$name.inferred" "$tmp/$name.inferred"
    if [ "$n" -lt 2 ]; then
        fail "$name: the demo recorded only $n packets"
    elif ! diff -u "$tmp/$name.true" "$tmp/$name.inferred" >"$tmp/$name.diff"; then
        fail "$name: inferred states differ from the stacks' (frame flags sender receiver):"
        sed 's/^/    /' "$tmp/$name.diff" | head -20
    fi
}

# Every scenario the demo knows (from its --help), so a new one is covered too.
scenarios=$("$SYNACK_BIN" demo --help | awk '/^  --scenario NAME/ {on = 1; next}
    on && /^  --/ {on = 0} on && NF {print $1}')
count=0
for sc in $scenarios; do
    count=$((count + 1))
    pics=(--svg "$tmp/$sc.svg" --html "$tmp/$sc.html")
    case $sc in
    transfer) compare "$sc" --scenario transfer --bytes 256K ;;
    time-wait-storm) compare "$sc" --scenario "$sc" --connections 2000 --concurrency 100 "${pics[@]}" ;;
    syn-flood) compare "$sc" --scenario "$sc" "${pics[@]}" ;;
    *) compare "$sc" --scenario "$sc" ;;
    esac
    case $sc in
    time-wait-storm | syn-flood)
        checks=$((checks + 1))
        conns=$("$SYNACK_BIN" trace --json "$tmp/$sc.pcap" | grep -c '"type":"connection"')
        [ "$conns" -eq 16 ] || fail "$sc: the capture holds $conns connections, not the first 16"
        grep -q '^capture: the first 16 connections' "$tmp/$sc.log" ||
            fail "$sc: the demo does not say what its capture holds"
        # The pictures of those connections, with the true states.
        checks=$((checks + 1))
        [ "$(grep -o '<section id="conn[0-9]*"' "$tmp/$sc.html" 2>/dev/null | wc -l)" -eq 16 ] &&
            grep -q "States are the stacks' own" "$tmp/$sc.html" &&
            grep -q '>ESTABLISHED<' "$tmp/$sc.svg" 2>/dev/null ||
            fail "$sc: --svg/--html did not draw the 16 connections with the stacks' states"
        ;;
    esac
done
checks=$((checks + 1))
[ "$count" -ge 10 ] || fail "only $count scenarios found in 'synack demo --help'"

# Under random loss: seeds whose losses all show in the capture.  What a
# capture cannot show: a lost pure ACK that nothing resends afterwards
# (seeds 3 and 4 lose the ACK of a FIN just before the peer's own FIN
# acknowledges it again), and an ACK that arrives in the same microsecond
# as the application's shutdown() (seed 7 since slow start counts stretch
# ACKs, src/cc/cc.c): either order fits.
for seed in 1 5 6 9; do
    compare "transfer-loss-$seed" --scenario transfer --bytes 256K --loss 3 --seed "$seed"
done

# The text ladder's order.  rst-unread: the RST row's client state is CLOSED.
checks=$((checks + 1))
if ! grep -Eq '^  [0-9.]+ -> [0-9.]+ +CLOSED +R\. +seq' "$tmp/rst-unread.log"; then
    fail "rst-unread: the RST row does not show the client CLOSED"
    grep -E 'R\. +seq' "$tmp/rst-unread.log" | sed 's/^/    /'
fi
# handshake-close, seed 2, 25% loss: the client's ACK of the server's FIN is
# lost; its row must come after the FIN's row.
"$SYNACK_BIN" demo --scenario handshake-close --loss 25 --seed 2 >"$tmp/order.log" 2>&1
checks=$((checks + 1))
fin=$(grep -nE '<--- F\. +seq 45 ' "$tmp/order.log" | head -1 | cut -d: -f1)
lost=$(grep -nE '\. +seq 44 +ack 46 .*--X' "$tmp/order.log" | head -1 | cut -d: -f1)
if [ -z "$fin" ] || [ -z "$lost" ]; then
    fail "handshake-close --loss 25 --seed 2: expected a FIN from the server and a lost ACK of it"
    sed 's/^/    /' "$tmp/order.log" | head -40
elif [ "$lost" -le "$fin" ]; then
    fail "the lost ACK (line $lost) is printed before the FIN that caused it (line $fin)"
fi

trace_finish trace_demo_states "$count scenarios"
