#!/usr/bin/env bash
# SYN flood over TUN (issue 10 item 1, RFC 4987): `synack serve` with its
# default configuration is flooded with spoofed SYNs written into the TUN
# device from the kernel's side (tests/interop/synflood.py, a raw socket in
# the namespace; sources in the namespace's own /24, which never answer)
# while the kernel's curl fetches a page over 250 connections (25 waves
# of 10 spread over the flood, 8 at a time):
#  - at least 99% of the fetches complete, each checked by SHA-256;
#  - the counters serve prints at exit show the flood: SYN-cache overflows,
#    cookies sent, connections completed from a cookie, and the half-open
#    peak at the cache's bound (4,096), not the flood's size;
#  - the flood ran over the whole time the clients did.
# Bounded: 100,000 SYNs over 20 s (half of them under the sanitizers: the
# rate must still outrun the cache, 4,096 entries of about 3 s each),
# every command under `timeout`.
source "$(dirname "$0")/lib.bash"
interop_require curl python3
interop_setup

SYN=10.200.20.2
KERNEL=10.200.20.1
FETCHES=250
PARALLEL=8
FLOOD_COUNT=100000
FLOOD_RATE=5000
if [ "${SYNACK_SANITIZE:-OFF}" = "ON" ]; then
    FLOOD_COUNT=50000
    FLOOD_RATE=2500
fi

mkdir -p "$TMP/www"
make_file "$TMP/www/page" 20000
WANT=$(sha256sum <"$TMP/www/page" | cut -d' ' -f1)

start_serve "$TMP/serve.log" --tun syn0 --addr $SYN/24 --peer $KERNEL --app "http=$TMP/www" ||
    interop_finish

ns_bg timeout 60 python3 "$(dirname "$0")/synflood.py" --dst $SYN --port 80 \
    --count $FLOOD_COUNT --rate $FLOOD_RATE --seconds 25
FLOOD_PID=$LAST_PID
# The clients start once the flood has filled the cache (cookies flowing).
sleep 2
kill -0 "$FLOOD_PID" 2>/dev/null || fail "the flood ended before the clients started"

# The clients come in 25 waves of 10, half a second apart, so that they
# meet the flood in every phase (cache full: cookies; entries just timed
# out: cache).  Each wave is one curl, 8 transfers at a time, each on a
# connection of its own (Connection: close) and bounded in time; each
# file's SHA-256 is checked.
WAVES=25
CURLS=()
mkdir -p "$TMP/got"
t0=$(date +%s%N)
for w in $(seq 0 $((WAVES - 1))); do
    for i in $(seq 1 $((FETCHES / WAVES))); do
        printf 'url = "http://%s/page"\noutput = "%s/got/%d-%d"\n' $SYN "$TMP" "$w" "$i"
    done >"$TMP/curl$w.cfg"
    ns timeout 60 curl -s -Z --parallel-max $PARALLEL --max-time 20 -H "Connection: close" \
        -K "$TMP/curl$w.cfg" 2>>"$TMP/curl.err" &
    CURLS+=("$!")
    sleep 0.5
done
for pid in "${CURLS[@]}"; do wait "$pid"; done
echo "note: the clients took $((($(date +%s%N) - t0) / 1000000)) ms"
if kill -0 "$FLOOD_PID" 2>/dev/null; then
    pass "the flood went on for as long as the clients ran"
else
    fail "the flood ended before the clients did"
fi
wait_pid "$FLOOD_PID" 40
ok=$(cd "$TMP/got" && sha256sum -- * 2>/dev/null | grep -c "^$WANT ")
if [ $((ok * 100)) -ge $((FETCHES * 99)) ]; then
    pass "$ok/$FETCHES fetches completed with the right SHA-256 during the flood"
else
    fail "only $ok/$FETCHES fetches completed with the right SHA-256 during the flood"
    head -5 "$TMP/curl.err" | sed 's/^/    /'
fi

stop_serve "$TMP/serve.log"
accepted=$(sed -n 's/.* \([0-9]*\) accepted,.*/\1/p' "$TMP/serve.log")
[ "${accepted:-0}" -ge "$ok" ] && pass "serve accepted $accepted connections: one per fetch" ||
    fail "serve accepted ${accepted:-no} connections for $ok fetches"
line=$(grep "syn cache:" "$TMP/serve.log")
echo "    $line"
num() { sed -n "s/.*[ ,;:] *\([0-9][0-9]*\) $1.*/\1/p" <<<"$line"; }
peak=$(sed -n 's/.*peak \([0-9]*\),.*/\1/p' <<<"$line")
overflows=$(num overflows)
sent=$(num sent)
validated=$(num validated)
if [ -z "$line" ] || [ -z "$peak" ] || [ -z "$sent" ] || [ -z "$validated" ]; then
    fail "serve printed no syn cache counters"
else
    [ "$overflows" -gt 0 ] && [ "$sent" -gt 0 ] &&
        pass "the flood overflowed the SYN cache ($overflows) and got $sent cookies" ||
        fail "no overflow or no cookie counted"
    [ "$validated" -gt 0 ] &&
        pass "$validated connections completed from a cookie" ||
        fail "no connection completed from a cookie"
    [ "$peak" -le 4096 ] &&
        pass "peak half-open $peak: the cache's bound held" ||
        fail "peak half-open $peak is past the bound of 4096"
fi
interop_finish
