#!/usr/bin/env python3
"""The kernel's own connections for tests/interop/trace_kernel.sh, each one a
socket rule that `synack trace` must recognise in a capture.

    trace_kernel.py rst-unread ADDR PORT      the server closes with unread data: RST
    trace_kernel.py linger-zero ADDR PORT     the client sets SO_LINGER {1, 0}: RST

Both sides run here (a listening socket, then a client connecting to it),
on the address given (inside the test's namespace).  Every wait is bounded.
"""
import socket
import struct
import sys
import time


def pair(addr, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1)
    ls.settimeout(10)
    c = socket.create_connection((addr, port), timeout=10)
    s, _ = ls.accept()
    s.settimeout(10)
    ls.close()
    return c, s


def rst_unread(addr, port):
    c, s = pair(addr, port)
    c.sendall(b"x" * 100)
    time.sleep(0.2)        # the data sits unread in the server's buffer
    s.close()              # RFC 9293 / RFC 2525 2.17: RST, not FIN
    time.sleep(0.2)
    try:
        c.recv(10)
    except OSError:
        pass
    c.close()


def linger_zero(addr, port):
    c, s = pair(addr, port)
    c.sendall(b"hello")
    assert s.recv(10) == b"hello"
    s.sendall(b"world")
    assert c.recv(10) == b"world"
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()              # RST, no TIME-WAIT
    time.sleep(0.2)
    try:
        s.recv(10)
    except OSError:
        pass
    s.close()


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"rst-unread": rst_unread, "linger-zero": linger_zero}[mode](addr, port)


if __name__ == "__main__":
    main()
