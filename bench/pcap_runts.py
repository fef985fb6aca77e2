#!/usr/bin/env python3
"""Data segments and runts that PORT sent, in a pcap of raw IPv4 packets
(synack --pcap):  pcap_runts.py FILE PORT
A runt is a data segment shorter than the longest one PORT sent (the MSS
less the options every segment carries).  Prints "SEGMENTS RUNTS"."""
import struct
import sys


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    sizes = []
    with open(path, "rb") as f:
        hdr = f.read(24)
        endian = "<" if hdr[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            incl = struct.unpack(endian + "IIII", rec)[2]
            pkt = f.read(incl)
            if len(pkt) < 40 or pkt[0] >> 4 != 4 or pkt[9] != 6:
                continue
            ihl = (pkt[0] & 15) * 4
            tot = struct.unpack(">H", pkt[2:4])[0]
            tcp = pkt[ihl:]
            if struct.unpack(">H", tcp[0:2])[0] != port:
                continue
            payload = tot - ihl - (tcp[12] >> 4) * 4
            if payload > 0:
                sizes.append(payload)
    full = max(sizes, default=0)
    print(len(sizes), sum(1 for n in sizes if n < full))


if __name__ == "__main__":
    main()
