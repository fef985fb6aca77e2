#!/usr/bin/env python3
"""Spoofed-SYN sender for tests/interop/synflood.sh (not a test itself).

Runs inside the test's network namespace and writes TCP SYNs with forged
source addresses through a raw socket; the kernel routes them into the TUN
device, so synack reads them as if a flood came from the wire.  The sources
are drawn from the namespace's own /24 (never .1, the kernel's side, nor
.2, synack's), which exists only inside that namespace; the SYN-ACKs synack
sends to them come back into the namespace's kernel, which has no such
address and drops them: sources that never answer, as in RFC 4987's attack.

Bounded: at most --count SYNs and --seconds of time, at most --rate per
second.  Prints one line at the end: `sent N spoofed SYNs in T s (E refused
by the device queue)`.
"""
import argparse
import ipaddress
import random
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src, dst, sport, dport, seq, tsval):
    # Options as a Linux client offers them: MSS 1460, SACK-permitted,
    # timestamps, window scale 7 (20 bytes).  Every fourth SYN offers only
    # the MSS, so both kinds of cookie are exercised.
    if tsval is not None:
        opts = struct.pack("!BBHBBBBII", 2, 4, 1460, 4, 2, 8, 10, tsval, 0) + bytes([1, 3, 3, 7])
    else:
        opts = struct.pack("!BBH", 2, 4, 1460)
    off = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, off << 4, 0x02, 64240, 0, 0) + opts
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, socket.IPPROTO_TCP, len(tcp))
    c = csum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64,
                     socket.IPPROTO_TCP, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", required=True, help="synack's address (10.200.N.2)")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=10000.0, help="SYNs per second at most")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    dst = ipaddress.IPv4Address(a.dst)
    if dst not in ipaddress.IPv4Network("10.200.0.0/16"):
        sys.exit("synflood.py: only the interop tests' 10.200.0.0/16 namespaces")
    net = ipaddress.IPv4Network("%s/24" % a.dst, strict=False)
    base = int(net.network_address)
    rnd = random.Random(a.seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    dstb = dst.packed
    sent = refused = 0
    start = time.monotonic()
    end = start + a.seconds
    while sent < a.count:
        now = time.monotonic()
        if now >= end:
            break
        # Pace: never ahead of --rate.
        ahead = sent / a.rate - (now - start)
        if ahead > 0:
            time.sleep(min(ahead, 0.05))
            continue
        for _ in range(min(64, a.count - sent)):
            src = struct.pack("!I", base + rnd.randint(16, 254))
            tsval = None if sent % 4 == 3 else rnd.getrandbits(32)
            pkt = syn(src, dstb, rnd.randint(1024, 65535), a.port, rnd.getrandbits(32), tsval)
            try:
                s.sendto(pkt, (a.dst, 0))
                sent += 1
            except OSError:
                # The device's queue is full (synack is behind): wait a
                # little; the SYN is not counted as sent.
                refused += 1
                time.sleep(0.001)
                break
    print("sent %d spoofed SYNs in %.1f s (%d refused by the device queue)"
          % (sent, time.monotonic() - start, refused))


if __name__ == "__main__":
    main()
