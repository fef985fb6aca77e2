#!/usr/bin/env bash
# `synack serve --threads N` (one stack per core, issue 11 item 4): a
# multi-queue TUN interface, one queue, stack and listener per thread.
# Many concurrent kernel clients (python3 threads) fetch files over HTTP;
# every reply is checked byte for byte, each thread must have served some
# of the connections (the kernel spreads flows over the queues), the
# per-thread lines must add up to the server's total, ping is answered,
# SIGUSR1 makes each thread report its own counters (serve carries on),
# and SIGINT stops it cleanly.  Then with --offload (IFF_VNET_HDR on each
# queue), and with --threads 1.
source "$(dirname "$0")/lib.bash"
interop_require python3 ping
interop_setup

SYN=10.200.17.2
KER=10.200.17.1
# Fewer connections under the sanitizers (slower), the same checks.
CONNS=400
[ -n "${SYNACK_SANITIZE:-}" ] && [ "${SYNACK_SANITIZE}" != OFF ] && CONNS=120

mkdir -p "$TMP/www"
make_file "$TMP/www/small" 300
make_file "$TMP/www/big" 70000

# clients N: N connections, 16 at a time, each an HTTP/1.0 GET of one of the
# files (alternately), the reply's body compared with the file.  Prints
# "clients: OK BAD" and the first few failures.
clients() {
    ns timeout 60 python3 - "$SYN" "$TMP/www" "$1" <<'EOF'
import socket, sys, threading
host, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = {name: open(root + '/' + name, 'rb').read() for name in ('small', 'big')}
lock = threading.Lock()
res = {'ok': 0, 'bad': 0, 'why': []}
todo = list(range(n))

def one(i):
    name = 'small' if i % 2 else 'big'
    s = socket.create_connection((host, 80), timeout=10)
    s.sendall(b'GET /' + name.encode() + b' HTTP/1.0\r\nHost: t\r\n\r\n')
    data = b''
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    if not head.startswith(b'HTTP/1.1 200') or body != files[name]:
        return '%s: %r, %d body bytes' % (name, head[:40], len(body))
    return None

def worker():
    while True:
        with lock:
            if not todo:
                return
            i = todo.pop()
        try:
            why = one(i)
        except Exception as e:
            why = repr(e)
        with lock:
            if why:
                res['bad'] += 1
                res['why'].append(why)
            else:
                res['ok'] += 1

ts = [threading.Thread(target=worker) for _ in range(16)]
for t in ts: t.start()
for t in ts: t.join()
print('clients: %d %d' % (res['ok'], res['bad']))
for w in res['why'][:5]: print('  ' + w)
EOF
}

# reports_at_least LOG N: N per-thread SIGUSR1 reports in serve's log.
reports_at_least() {
    [ "$(grep -c "^synack serve: thread [0-9]* of $2 " "$1")" -ge "$2" ]
}

# run THREADS [ARGS...]: serve with that many threads (and ARGS), CONNS
# clients, pings, SIGINT.
run() {
    local threads=$1 log=$TMP/serve$1${2:-}.log out ok bad sum i n pings=0
    shift
    if ! start_serve "$log" --tun syn0 --addr $SYN/24 --peer $KER --app "http=$TMP/www" \
            --threads "$threads" "$@"; then
        return
    fi
    sleep 1.1 # files older than a second: the http application caches the small one
    out=$(clients "$CONNS")
    read -r _ ok bad <<<"$(echo "$out" | grep '^clients:')"
    if [ "${ok:-0}" -eq "$CONNS" ] && [ "${bad:-1}" -eq 0 ]; then
        pass "threads $threads: $CONNS concurrent connections, every reply byte for byte"
    else
        fail "threads $threads: clients: $out"
    fi
    # The files are more than a second old now, so the http application
    # keeps them in its cache (file_cache.c): rewritten in place with the
    # same sizes, the new contents must be served.
    make_file "$TMP/www/small" 300
    make_file "$TMP/www/big" 70000
    out=$(clients 40)
    read -r _ ok bad <<<"$(echo "$out" | grep '^clients:')"
    [ "${ok:-0}" -eq 40 ] && [ "${bad:-1}" -eq 0 ] &&
        pass "threads $threads: files rewritten in place: the new contents served" ||
        fail "threads $threads: after rewriting the files: $out"
    # Several pings, each its own ICMP id (and so perhaps its own queue).
    for i in 1 2 3 4; do
        ns timeout 5 ping -c 1 -W 2 $SYN >/dev/null 2>&1 && pings=$((pings + 1))
    done
    [ "$pings" -eq 4 ] && pass "threads $threads: 4 of 4 pings answered" ||
        fail "threads $threads: $pings of 4 pings answered"
    # SIGUSR1 (to serve, not to the timeout(1) that runs it): the counters
    # now, and serve carries on; with several threads each reports its own
    # stack's, as one block, and their accepted connections add up.
    pkill -USR1 -P "$SERVE_PID" -x synack
    if [ "$threads" -gt 1 ]; then
        if wait_for 10 reports_at_least "$log" "$threads"; then
            sum=$(awk -v t="$threads" '
                $0 ~ "^synack serve: thread [0-9]+ of " t " " { inrep = 1; seen[$4]++; next }
                inrep && /tcp: .* accepted/ { for (i = 1; i < NF; i++) if ($(i + 1) == "accepted,") s += $i; inrep = 0 }
                END { n = 0; for (k in seen) n++; print n, s + 0 }' "$log")
            [ "$sum" = "$threads $((CONNS + 40))" ] &&
                pass "threads $threads: SIGUSR1: each thread reports its own counters, accepted connections add up to $((CONNS + 40))" ||
                fail "threads $threads: SIGUSR1 reports (threads, accepted): $sum; $(grep -A2 'thread [0-9]* of' "$log")"
        else
            fail "threads $threads: SIGUSR1: not every thread reported: $(grep 'thread [0-9]* of' "$log")"
        fi
    else
        wait_for 10 grep -q "tcp: .* $((CONNS + 40)) accepted" "$log" &&
            pass "threads 1: SIGUSR1 prints the counters" ||
            fail "threads 1: no counters after SIGUSR1: $(tail -3 "$log")"
    fi
    ns timeout 5 ping -c 1 -W 2 $SYN >/dev/null 2>&1 && pass "threads $threads: still serving after SIGUSR1" ||
        fail "threads $threads: no echo reply after SIGUSR1"
    stop_serve "$log" || return
    pass "threads $threads: exits cleanly after SIGINT"
    grep -q "^synack serve: $((CONNS + 40)) connections, .* $((CONNS + 40)) finished, 0 aborted" "$log" &&
        pass "threads $threads: the summary counts $((CONNS + 40)) connections, all finished" ||
        fail "threads $threads: summary: $(grep 'connections, ' "$log")"
    # A flow whose packets reached a queue other than its owner's would be
    # answered with a RST by a stack that does not know it.
    grep -q " 0 RSTs sent; icmp: 5 echo replies" "$log" &&
        pass "threads $threads: the summed counters show the 5 echo replies" ||
        fail "threads $threads: counters (want 0 RSTs, 5 echo replies): $(grep 'icmp:' "$log")"
    if [ "$threads" -gt 1 ]; then
        sum=0
        for ((i = 0; i < threads; i++)); do
            n=$(sed -nE "s/^synack serve: thread $i: ([0-9]+) connections, .*/\1/p" "$log")
            if [ "${n:-0}" -gt 0 ]; then
                pass "thread $i served $n connections"
            else
                fail "thread $i served ${n:-no} connections: $(grep 'thread' "$log")"
            fi
            sum=$((sum + ${n:-0}))
        done
        [ "$sum" -eq $((CONNS + 40)) ] && pass "the threads' connections add up to $((CONNS + 40))" ||
            fail "the threads' connections add up to $sum, not $((CONNS + 40))"
    elif grep -q "^synack serve: thread " "$log"; then
        fail "threads 1: per-thread lines printed"
    fi
}

run 2
# IFF_VNET_HDR on every queue: large segments out (TSO), coalesced ones in.
run 2 --offload
run 1
[ "$FAILURES" -eq 0 ]
