#!/usr/bin/env bash
# `synack serve` on SIGTERM (issue 13 item 6): every connection gets a FIN;
# a client that answers with its own FIN closes cleanly, and one that keeps
# its side open is reset once --close-wait has passed, so that no peer is
# left hanging.  Two kernel clients (python3) on an echo server.
source "$(dirname "$0")/lib.bash"
interop_require python3
interop_setup

SYN=10.200.14.2

if ! start_serve "$TMP/serve.log" --tun syn0 --addr $SYN/24 --peer 10.200.14.1 --app echo \
        --close-wait 2; then
    exit 1
fi
SERVE_PID=$LAST_PID

# polite: closes when it reads EOF.  stubborn: reads EOF, keeps its side
# open and writing (Linux reports a reset after EOF only to a writer: EPIPE
# or ECONNRESET), and says what happens next (reset, or nothing in 10 s).
ns_bg timeout 30 python3 -c "
import socket, time
s = socket.create_connection(('$SYN', 7), timeout=20)
s.sendall(b'hi'); assert s.recv(2) == b'hi'
open('$TMP/polite.ready', 'w').close()
while s.recv(100): pass
s.close(); print('polite: EOF, closed')
" >"$TMP/polite.out" 2>&1
POLITE=$LAST_PID
ns_bg timeout 30 python3 -c "
import socket, time
s = socket.create_connection(('$SYN', 7), timeout=20)
s.sendall(b'hi'); assert s.recv(2) == b'hi'
open('$TMP/stubborn.ready', 'w').close()
s.settimeout(10)
print('stubborn: EOF' if s.recv(100) == b'' else 'stubborn: data')
t = time.time()
try:
    while time.time() - t < 10:
        s.send(b'x'); time.sleep(0.2)
    print('stubborn: nothing within 10 s')
except (ConnectionResetError, BrokenPipeError):
    print('stubborn: reset after %.1f s' % (time.time() - t))
" >"$TMP/stubborn.out" 2>&1
STUBBORN=$LAST_PID

if wait_for 10 test -e "$TMP/polite.ready" -a -e "$TMP/stubborn.ready"; then
    # One signal, to synack itself: `timeout` would pass a TERM on to its
    # whole process group as well, and a second signal means "reset now".
    SYN_PID=$(pgrep -P "$SERVE_PID" | head -n 1)
    kill -TERM "${SYN_PID:-$SERVE_PID}"
    wait_pid "$SERVE_PID" 15 && pass "synack serve exited after SIGTERM" ||
        fail "synack serve did not exit after SIGTERM: $(tail -3 "$TMP/serve.log")"
    wait_pid "$POLITE" 15
    wait_pid "$STUBBORN" 20
    grep -q 'polite: EOF, closed' "$TMP/polite.out" && pass "a polite client got the FIN" ||
        fail "polite client: $(cat "$TMP/polite.out")"
    if grep -q 'stubborn: EOF' "$TMP/stubborn.out" && grep -q 'stubborn: reset after' "$TMP/stubborn.out"; then
        pass "a client that kept its side open got the FIN, then a RST after --close-wait"
    else
        fail "stubborn client: $(cat "$TMP/stubborn.out")"
    fi
    grep -q '1 connections reset' "$TMP/serve.log" && pass "serve reported the reset" ||
        fail "serve did not report the reset: $(tail -3 "$TMP/serve.log")"
else
    fail "the clients did not connect: $(cat "$TMP/polite.out" "$TMP/stubborn.out")"
fi
[ "$FAILURES" -eq 0 ]
