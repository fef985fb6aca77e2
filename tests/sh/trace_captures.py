#!/usr/bin/env python3
"""Write small reference captures for tests/sh/trace_captures.sh.

    trace_captures.py OUTDIR

One conversation, built packet by packet so that each of `synack trace`'s
marks appears exactly where the comments say, written in every form the
reader must understand: classic pcap with Ethernet (and an 802.1Q tag), raw
IPv4, Linux cooked v1 and v2, pcapng; and the same conversation over IPv6.
Plus a file with a second connection on the same ports (new ISN), and one
whose start was not captured.
"""
import os
import struct
import sys

A4, B4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
A6 = bytes.fromhex("20010db8000000000000000000000001")
B6 = bytes.fromhex("20010db8000000000000000000000002")

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def opts_syn():
    # mss 1460, sackOK, nop, wscale 7 (12 bytes)
    return bytes([2, 4, 0x05, 0xB4, 4, 2, 1, 3, 3, 7, 1, 1])


def tcp(sport, dport, seq, ack, flags, win, payload=b"", opts=b""):
    doff = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      doff << 4, flags, win, 0, 0)
    return hdr + opts + payload


def ipv4(src, dst, seg, ident):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ident, 0x4000, 64, 6, 0,
                       src, dst) + seg


def ipv6(src, dst, seg):
    return struct.pack("!IHBB16s16s", 6 << 28, len(seg), 6, 64, src, dst) + seg


def conversation(ts0=0.0, isn_a=1000, isn_b=5000, aport=40000):
    """(time, from_a, tcp segment) of the main conversation."""
    a, b = isn_a, isn_b
    P = []

    def A(t, seq, ack, fl, win, data=b"", o=b""):
        P.append((ts0 + t, True, tcp(aport, 80, seq, ack, fl, win, data, o)))

    def B(t, seq, ack, fl, win, data=b"", o=b""):
        P.append((ts0 + t, False, tcp(80, aport, seq, ack, fl, win, data, o)))

    d = b"x" * 100
    A(0.000, a, 0, SYN, 64240, o=opts_syn())                 # 1 SYN
    B(0.010, b, a + 1, SYN | ACK, 65160, o=opts_syn())       # 2 SYN-ACK
    A(0.020, a + 1, b + 1, ACK, 502)                          # 3 ACK: ESTABLISHED
    A(0.021, a + 1, b + 1, PSH | ACK, 502, d)                 # 4 data 1..100
    A(0.022, a + 201, b + 1, PSH | ACK, 502, d)               # 5 gap: 101..200 missing
    A(0.023, a + 101, b + 1, PSH | ACK, 502, d)               # 6 fills it 1 ms later: out-of-order
    B(0.031, b + 1, a + 101, ACK, 509)                        # 7 ACK (RTT sample 10 ms)
    B(0.032, b + 1, a + 101, ACK, 509)                        # 8 dup ACK #1
    B(0.033, b + 1, a + 301, ACK, 509)                        # 9 ACK of everything
    A(0.060, a + 201, b + 1, PSH | ACK, 502, d)               # 10 resent, already acked: spurious
    B(0.070, b + 1, a + 301, ACK, 0)                          # 11 zero window (and shrunk)
    A(0.080, a + 301, b + 1, ACK, 502, b"y")                  # 12 window probe (1 byte)
    B(0.090, b + 1, a + 302, ACK, 100)                        # 13 takes the byte, small window
    B(0.095, b + 1, a + 302, ACK, 509)                        # 14 same ACK, only the window: update
    B(0.100, b + 1, a + 302, ACK, 50)                         # 15 right edge moves left: shrunk
    B(0.110, b + 1, a + 9999, ACK, 509)                       # 16 ACK of data never sent
    A(0.120, a + 302, b + 1, FIN | ACK, 502)                  # 17 FIN: FIN-WAIT-1 / CLOSE-WAIT
    A(0.121, a + 303, b + 1, PSH | ACK, 502, b"z" * 10)       # 18 data after FIN
    B(0.150, b + 1, 0, RST, 0)                                # 19 RST: both CLOSED
    return P


def second_connection():
    """The same ports again with a new ISN, closed normally by B first."""
    a, b = 7000, 9000
    P = []
    P.append((1.000, True, tcp(40000, 80, a, 0, SYN, 64240, opts=opts_syn())))
    P.append((1.010, False, tcp(80, 40000, b, a + 1, SYN | ACK, 65160, opts=opts_syn())))
    P.append((1.020, True, tcp(40000, 80, a + 1, b + 1, ACK, 502)))
    P.append((1.030, False, tcp(80, 40000, b + 1, a + 1, FIN | ACK, 509)))
    P.append((1.040, True, tcp(40000, 80, a + 1, b + 2, ACK, 502)))
    P.append((1.041, True, tcp(40000, 80, a + 1, b + 2, FIN | ACK, 502)))
    P.append((1.051, False, tcp(80, 40000, b + 2, a + 2, ACK, 509)))
    return P


def midstream():
    """A connection whose handshake was not captured (port 8080)."""
    P = []
    P.append((2.000, True, tcp(41000, 8080, 50000, 60000, PSH | ACK, 300, b"q" * 20)))
    P.append((2.010, False, tcp(8080, 41000, 60000, 50020, ACK, 200)))
    return P


def frames(pkts, six=False):
    out = []
    for i, (t, from_a, seg) in enumerate(pkts):
        if six:
            ip = ipv6(A6 if from_a else B6, B6 if from_a else A6, seg)
        else:
            ip = ipv4(A4 if from_a else B4, B4 if from_a else A4, seg, i + 1)
        out.append((t, ip))
    return out


def link(kind, ip):
    etype = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    if kind == "raw":
        return 101, ip
    if kind == "ether":
        return 1, b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", etype) + ip
    if kind == "vlan":
        return 1, (b"\x02" * 6 + b"\x04" * 6 + struct.pack("!HHH", 0x8100, 42, etype) + ip)
    if kind == "sll":
        return 113, struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\0\0", etype) + ip
    if kind == "sll2":
        return 276, struct.pack("!HHIHBB8s", etype, 0, 3, 1, 0, 6, b"\x02" * 6 + b"\0\0") + ip
    raise ValueError(kind)


def write_pcap(path, kind, fr):
    lt = link(kind, b"\x45")[0]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, lt))
        for t, ip in fr:
            data = link(kind, ip)[1]
            sec, usec = int(t), int(round((t - int(t)) * 1e6))
            f.write(struct.pack("<IIII", 1700000000 + sec, usec, len(data), len(data)) + data)


def block(btype, body):
    pad = (-len(body)) % 4
    n = 12 + len(body) + pad
    return struct.pack("<II", btype, n) + body + b"\0" * pad + struct.pack("<I", n)


def write_pcapng(path, kind, fr):
    lt, _ = link(kind, b"\x45")
    with open(path, "wb") as f:
        f.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        f.write(block(1, struct.pack("<HHI", lt, 0, 65535)))
        for t, ip in fr:
            data = link(kind, ip)[1]
            us = int(round((1700000000 + t) * 1e6))
            f.write(block(6, struct.pack("<IIIII", 0, us >> 32, us & 0xFFFFFFFF, len(data),
                                         len(data)) + data))


def main():
    out = sys.argv[1]
    conv = conversation()
    for kind in ("raw", "ether", "vlan", "sll", "sll2"):
        write_pcap(os.path.join(out, "conv-%s.pcap" % kind), kind, frames(conv))
    write_pcapng(os.path.join(out, "conv-ether.pcapng"), "ether", frames(conv))
    write_pcap(os.path.join(out, "conv6-ether.pcap"), "ether", frames(conv, six=True))
    write_pcapng(os.path.join(out, "conv6-sll2.pcapng"), "sll2", frames(conv, six=True))
    write_pcap(os.path.join(out, "multi.pcap"), "ether",
               frames(conv + second_connection() + midstream()))


if __name__ == "__main__":
    main()
