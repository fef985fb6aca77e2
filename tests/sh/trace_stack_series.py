#!/usr/bin/env python3
"""Checks of tests/sh/trace_stack_series.sh (no third-party modules).

    trace_stack_series.py check SERIES.jsonl TRACE.json CWND.svg SENDER
        the sender's own series (from `synack demo --series`) against the
        capture (`synack trace --json`) and the cwnd plot (`--plot cwnd`)
    trace_stack_series.py episodes SERIES.jsonl SENDER
        print the sample count and the recovery episodes' start times
"""
import json
import re
import sys


def series(path, sender):
    out = [json.loads(l) for l in open(path)]
    return [s for s in out if s["self"].startswith(sender + ":")]


def episodes(s):
    """(start index, end index exclusive) of each run of recovery samples."""
    eps, i = [], 0
    while i < len(s):
        if s[i]["recovery"]:
            j = i
            while j < len(s) and s[j]["recovery"]:
                j += 1
            eps.append((i, j))
            i = j
        else:
            i += 1
    return eps


def path_points(d):
    """The points of a step path "Mx yHx Vy...Hx" (the last H has no V)."""
    m = re.match(r"M([\d.]+) ([\d.]+)", d)
    pts = [(float(m.group(1)), float(m.group(2)))]
    for x, y in re.findall(r"H([\d.]+)V([\d.]+)", d):
        pts.append((float(x), float(y)))
    return pts


def check(series_path, trace_path, svg_path, sender):
    bad = []
    s = series(series_path, sender)
    if len(s) < 10:
        raise SystemExit("FAIL: only %d samples of the sender %s" % (len(s), sender))
    eps = episodes(s)
    if not eps:
        raise SystemExit("FAIL: no recovery episode in the sender's series")
    # The capture: the sender's retransmissions and their times.
    pkts = [json.loads(l) for l in open(trace_path)]
    conn = [p for p in pkts if p["type"] == "connection" and p["a"].startswith(sender + ":")]
    if not conn:
        raise SystemExit("FAIL: the capture has no connection from %s" % sender)
    rtx = [p["time"] for p in pkts if p["type"] == "packet" and p["conn"] == conn[0]["conn"]
           and p["dir"] == "A>B" and "retransmission" in p["marks"]]
    if not rtx:
        raise SystemExit("FAIL: the capture shows no retransmission by the sender")
    for a, b in eps:
        st, before = s[a], s[a - 1] if a else None
        # The loss: cwnd drops as the episode starts, to ssthresh, which is now set.
        if before is None or not st["cwnd"] < before["cwnd"]:
            bad.append("episode at %.6f s: cwnd does not drop (%s -> %d)" %
                       (st["t"], before and before["cwnd"], st["cwnd"]))
        if st["ssthresh"] is None or st["ssthresh"] > before["cwnd"]:
            bad.append("episode at %.6f s: ssthresh %s not lowered below the cwnd %d" %
                       (st["t"], st["ssthresh"], before["cwnd"]))
        # It starts with a retransmission the capture shows at that moment.
        # (The series and the capture share the simulator's clock.)
        if not any(abs(t - st["t"]) < 1e-6 for t in rtx):
            bad.append("episode at %.6f s: no retransmission in the capture then" % st["t"])
    # Every retransmission falls inside an episode (or at the start of one).
    for t in rtx:
        inside = any(s[a]["t"] - 1e-6 <= t <= (s[b]["t"] if b < len(s) else 1e18) + 1e-6
                     for a, b in eps)
        if not inside:
            bad.append("retransmission at %.6f s outside every recovery episode" % t)
    # The plot: one shaded band per episode, the cwnd line through every
    # sample, going down where each band starts.
    svg = open(svg_path).read()
    rects = [float(x) for x in re.findall(r'<rect class="recovery" x="([\d.]+)"', svg)]
    if len(rects) != len(eps):
        bad.append("the plot shades %d episodes, the series has %d" % (len(rects), len(eps)))
    m = re.search(r'<path class="cwnd"[^>]* d="([^"]+)"', svg)
    if not m:
        bad.append("the plot has no cwnd line")
    else:
        pts = path_points(m.group(1))
        if len(pts) != len(s):
            bad.append("the cwnd line has %d points, the series %d samples" % (len(pts), len(s)))
        else:
            for k, (a, b) in enumerate(eps[:len(rects)]):
                x, y = pts[a]
                if abs(x - rects[k]) > 0.05 or not y > pts[a - 1][1]:
                    bad.append("episode %d: the cwnd line does not step down at the band's start "
                               "(band x %.1f, line %s after %s)" % (k + 1, rects[k], pts[a], pts[a - 1]))
    for b in bad:
        print("FAIL: " + b)
    print("%d samples, %d recovery episodes, %d retransmissions, %d problems" %
          (len(s), len(eps), len(rtx), len(bad)))
    sys.exit(1 if bad else 0)


def main():
    if sys.argv[1] == "check":
        check(*sys.argv[2:6])
    elif sys.argv[1] == "episodes":
        s = series(sys.argv[2], sys.argv[3])
        print(len(s), " ".join("%.6f" % s[a]["t"] for a, _ in episodes(s)))
    else:
        raise SystemExit("unknown command")


if __name__ == "__main__":
    main()
