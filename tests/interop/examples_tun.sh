#!/usr/bin/env bash
# The TUN examples, built against the library and run as their comments
# say, in a namespace: examples/echo_server_tun.c answers a kernel client
# (python3), examples/client_tun.c talks to a kernel echo server.
source "$(dirname "$0")/lib.bash"
interop_require python3 cc
interop_setup
build=${SYNACK_BUILD:-$(dirname "$SYNACK_BIN")/../..}
san=()
[ "${SYNACK_SANITIZE:-OFF}" = "ON" ] && san=(-fsanitize=address,undefined)
for ex in echo_server_tun client_tun; do
    cc "${san[@]}" -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror "$SYNACK_SRC/examples/$ex.c" \
       -I"$SYNACK_SRC/include" "$build/libsynack.a" -lm -o "$TMP/$ex" ||
        { fail "examples/$ex.c does not build"; exit 1; }
done

# The commands of echo_server_tun.c's comment (nc replaced by python3).
ns ip tuntap add syn0 mode tun && ns ip link set syn0 up && ns ip addr add 10.200.15.1/24 dev syn0 ||
    { fail "cannot set up syn0"; exit 1; }
ns_bg timeout 30 "$TMP/echo_server_tun" syn0 10.200.15.2 8 >"$TMP/server.out" 2>&1
SERVER=$LAST_PID
wait_for 5 grep -q "echo server on" "$TMP/server.out" || fail "echo_server_tun did not start: $(cat "$TMP/server.out")"
if ns timeout 10 python3 -c "
import socket
s = socket.create_connection(('10.200.15.2', 7), timeout=5)
s.sendall(b'hello, echo'); s.shutdown(socket.SHUT_WR)
got = b''
while True:
    b = s.recv(100)
    if not b: break
    got += b
assert got == b'hello, echo', got
"; then
    pass "examples/echo_server_tun echoed a kernel client's line and closed"
else
    fail "examples/echo_server_tun did not echo"
fi
wait_pid "$SERVER" 15
grep -q "served 1 connections" "$TMP/server.out" && pass "echo_server_tun counted it" ||
    fail "echo_server_tun: $(cat "$TMP/server.out")"

# client_tun against a kernel echo server on the same interface.
ns_bg timeout 20 python3 -c "
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('10.200.15.1', 7000)); l.listen(1); open('$TMP/listening', 'w').close()
c, _ = l.accept(); c.settimeout(10)
data = b''
while True:
    b = c.recv(100)
    if not b: break
    data += b
c.sendall(data.upper()); c.close()
"
wait_for 5 test -e "$TMP/listening" || fail "the kernel server did not start"
if out=$(ns timeout 20 "$TMP/client_tun" syn0 10.200.15.2 10.200.15.1 7000 "hello, kernel" 2>&1) &&
        grep -q "reply: HELLO, KERNEL" <<<"$out"; then
    pass "examples/client_tun got the kernel server's answer"
else
    fail "examples/client_tun: $out"
fi
[ "$FAILURES" -eq 0 ]
