#!/usr/bin/env bash
# The blocking layer's device driver (include/synack/blocking.h,
# synack_blk_loop_dev): examples/blocking_echo.c serves on a TUN interface
# with one application thread per connection, and the kernel's clients talk
# to it: nc sends a line, then three python3 clients at once send 1 MB
# each and must get every byte back, in order.  The server exits after
# those four connections, which shows the stop: thread joined, descriptors
# closed, everything freed (under ASan in the sanitizer build).
source "$(dirname "$0")/lib.bash"
interop_require python3 cc nc
interop_setup
build=${SYNACK_BUILD:-$(dirname "$SYNACK_BIN")/../..}
san=()
[ "${SYNACK_SANITIZE:-OFF}" = "ON" ] && san=(-fsanitize=address,undefined)
cc "${san[@]}" -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pthread \
   "$SYNACK_SRC/examples/blocking_echo.c" -I"$SYNACK_SRC/include" "$build/libsynack.a" -lm \
   -o "$TMP/blocking_echo" || { fail "examples/blocking_echo.c does not build"; exit 1; }

ns ip tuntap add syn0 mode tun && ns ip link set syn0 up && ns ip addr add 10.200.16.1/24 dev syn0 ||
    { fail "cannot set up syn0"; exit 1; }
ns_bg timeout 60 "$TMP/blocking_echo" syn0 10.200.16.2 4 >"$TMP/server.out" 2>&1
SERVER=$LAST_PID
wait_for 5 grep -q "blocking echo server on" "$TMP/server.out" ||
    fail "blocking_echo did not start: $(cat "$TMP/server.out")"

# nc: one line, then its FIN (-N); the echo and the server's FIN end it.
if out=$(echo "hello, blocking layer" | ns timeout 10 nc -N 10.200.16.2 7) &&
        [ "$out" = "hello, blocking layer" ]; then
    pass "nc got its line echoed"
else
    fail "nc got '${out:-}'"
fi

# Three kernel clients at once, 1 MB each, every byte compared.
if ns timeout 40 python3 -c "
import socket, threading, os
ok = []
def client(i):
    data = os.urandom(1000000)
    s = socket.create_connection(('10.200.16.2', 7), timeout=20)
    got = bytearray()
    def reader():
        while True:
            b = s.recv(65536)
            if not b: break
            got.extend(b)
    t = threading.Thread(target=reader); t.start()
    s.sendall(data); s.shutdown(socket.SHUT_WR)
    t.join(30); s.close()
    ok.append(bytes(got) == data)
ts = [threading.Thread(target=client, args=(i,)) for i in range(3)]
[t.start() for t in ts]; [t.join(35) for t in ts]
assert ok == [True] * 3, ok
"; then
    pass "three concurrent kernel clients got 1 MB each echoed byte for byte"
else
    fail "the concurrent clients did not all get their bytes back"
fi

if wait_pid "$SERVER" 20 && grep -q "served 4 connections" "$TMP/server.out"; then
    pass "blocking_echo served 4 connections and exited cleanly"
else
    fail "blocking_echo: $(cat "$TMP/server.out")"
fi
[ "$FAILURES" -eq 0 ]
