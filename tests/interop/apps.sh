#!/usr/bin/env bash
# The other applications of `synack serve`, against kernel clients (python3
# sockets) on a TUN interface: echo (RFC 862) returns 1 MiB byte for byte,
# discard (RFC 863) takes 1 MiB and closes when the client does, chargen
# (RFC 864) sends its 72-column rotating pattern.
source "$(dirname "$0")/lib.bash"
interop_require python3
interop_setup

SYN=10.200.10.2

py() {
    ns timeout 60 python3 -c "$1"
}

if start_serve "$TMP/echo.log" --tun syn0 --addr $SYN/24 --peer 10.200.10.1 --app echo; then
    # Send and receive at once (the echo comes back while we still send).
    if py "
import os, selectors, socket, sys
data = os.urandom(1 << 20)
s = socket.create_connection(('$SYN', 7), timeout=30)
s.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
sent, got = 0, bytearray()
while len(got) < len(data):
    if not sel.select(timeout=30):
        sys.exit('timeout')
    if sent < len(data):
        try:
            sent += s.send(data[sent:sent + 65536])
        except BlockingIOError:
            pass
        if sent == len(data):
            sel.modify(s, selectors.EVENT_READ)
    try:
        chunk = s.recv(65536)
    except BlockingIOError:
        continue
    if not chunk:
        sys.exit('EOF after %d bytes' % len(got))
    got += chunk
s.shutdown(socket.SHUT_WR)
s.setblocking(True)
sys.exit(0 if bytes(got) == data and s.recv(1) == b'' else 'mismatch')
"; then
        pass "echo: 1 MiB came back byte for byte, then EOF after our FIN"
    else
        fail "echo: 1 MiB did not come back intact"
    fi
    stop_serve "$TMP/echo.log"
fi

if start_serve "$TMP/discard.log" --tun syn0 --addr $SYN/24 --peer 10.200.10.1 --app discard; then
    if py "
import os, socket
s = socket.create_connection(('$SYN', 9), timeout=30)
s.sendall(os.urandom(1 << 20))
s.shutdown(socket.SHUT_WR)
assert s.recv(1) == b''
"; then
        pass "discard: took 1 MiB, answered our FIN with its own"
    else
        fail "discard: transfer or close failed"
    fi
    stop_serve "$TMP/discard.log"
    grep -q " 1048576 bytes in, 0 bytes out" "$TMP/discard.log" ||
        fail "discard: counters: $(grep "connections," "$TMP/discard.log")"
fi

if start_serve "$TMP/chargen.log" --tun syn0 --addr $SYN/24 --peer 10.200.10.1 --app chargen; then
    if py "
import socket
chars = bytes(range(32, 127))
want = b''.join((chars * 2)[i % 95:i % 95 + 72] + b'\r\n' for i in range(3000))
s = socket.create_connection(('$SYN', 19), timeout=30)
got = bytearray()
while len(got) < len(want):
    chunk = s.recv(65536)
    assert chunk, 'EOF'
    got += chunk
s.close()
assert bytes(got[:len(want)]) == want, 'pattern differs'
"; then
        pass "chargen: 3000 lines of the RFC 864 pattern"
    else
        fail "chargen: the pattern differs"
    fi
    stop_serve "$TMP/chargen.log"
fi
interop_finish
