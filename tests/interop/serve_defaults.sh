#!/usr/bin/env bash
# `synack serve` defaults a server should have (issue 11), against kernel
# clients (python3 sockets) on a TUN interface:
#  - a full server refuses visibly: with --max-conns 2, the third connection
#    is reset (ECONNRESET) and counted, never left to stall;
#  - an idle connection is closed after --idle-timeout (EOF at the client),
#    while one that keeps talking stays open;
#  - without --max-conns the limit follows memory (the help says so).
source "$(dirname "$0")/lib.bash"
interop_require python3
interop_setup

SYN=10.200.11.2

if start_serve "$TMP/full.log" --tun syn0 --addr $SYN/24 --peer 10.200.11.1 --app echo \
    --max-conns 2 --idle-timeout 0; then
    if ns timeout 60 python3 -c "
import socket, sys, time
a = socket.create_connection(('$SYN', 7), timeout=10)
b = socket.create_connection(('$SYN', 7), timeout=10)
for s in (a, b):
    s.sendall(b'ping'); assert s.recv(4) == b'ping'
try:
    # The RST can reach the kernel before its connect() returns (a slow,
    # e.g. ASan, server): refused at connect or at the first read, both count.
    c = socket.create_connection(('$SYN', 7), timeout=10)
    c.sendall(b'ping')
    got = c.recv(4)
    sys.exit('third connection answered %r' % got)
except ConnectionResetError:
    pass
a.sendall(b'pong'); assert a.recv(4) == b'pong'
"; then
        pass "full server: the third connection is reset, the first two still served"
    else
        fail "full server: the third connection was not refused with a RST"
    fi
    stop_serve "$TMP/full.log"
    grep -q "1 refused with RST" "$TMP/full.log" && pass "the refusal is counted" ||
        fail "the refusal is not counted: $(tail -n 1 "$TMP/full.log")"
fi

if start_serve "$TMP/idle.log" --tun syn0 --addr $SYN/24 --peer 10.200.11.1 --app echo \
    --idle-timeout 1; then
    if ns timeout 60 python3 -c "
import socket, time
idle = socket.create_connection(('$SYN', 7), timeout=10)
busy = socket.create_connection(('$SYN', 7), timeout=10)
t0 = time.time()
for i in range(8):
    busy.sendall(b'x'); assert busy.recv(1) == b'x'
    time.sleep(0.3)
assert idle.recv(1) == b'', 'idle connection not closed'
assert time.time() - t0 < 5
busy.sendall(b'y'); assert busy.recv(1) == b'y'
"; then
        pass "idle timeout: the idle connection got a FIN, the busy one stayed open"
    else
        fail "idle timeout: not as expected"
    fi
    stop_serve "$TMP/idle.log"
    grep -q "1 closed idle" "$TMP/idle.log" && pass "the idle close is counted" ||
        fail "the idle close is not counted: $(tail -n 1 "$TMP/idle.log")"
fi

if "$SYNACK_BIN" serve --help | grep -q "default: one per 16 KiB of RAM"; then
    pass "the default connection limit follows memory"
else
    fail "serve --help does not describe the memory-based default"
fi
interop_finish
