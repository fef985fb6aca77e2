#!/usr/bin/env python3
"""Helpers of tests/sh/trace_render.sh (no third-party modules).

    trace_render.py png FILE.png         print "WIDTHxHEIGHT nonwhite% colours"
    trace_render.py boxes FILE.boxes     print the pairs of label boxes that overlap
    trace_render.py wrap FILE.svg... OUT.html   an HTML page with the SVGs inline and
                                         a script that checks their labels in the browser
"""
import math
import struct
import sys
import zlib


def png_pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("not a PNG: " + path)
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise SystemExit("unexpected PNG format: depth %d type %d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def png_stats(path):
    w, h, bpp, rows = png_pixels(path)
    nonwhite, colours = 0, set()
    for line in rows:
        for x in range(0, w * bpp, bpp):
            px = line[x:x + 3]
            if px != b"\xff\xff\xff":
                nonwhite += 1
                if len(colours) < 4096:
                    colours.add(bytes(px))
    print("%dx%d %.2f %d" % (w, h, 100.0 * nonwhite / (w * h), len(colours)))


def corners(cx, cy, w, h, ang):
    c, s = math.cos(ang), math.sin(ang)
    return [(cx + dx * c - dy * s, cy + dx * s + dy * c)
            for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))]


def overlap(p, q):
    for poly in (p, q):
        for i in range(2):
            ex, ey = poly[i + 1][0] - poly[i][0], poly[i + 1][1] - poly[i][1]
            ln = math.hypot(ex, ey) or 1
            nx, ny = ex / ln, ey / ln
            a = [x * nx + y * ny for x, y in p]
            b = [x * nx + y * ny for x, y in q]
            if max(a) <= min(b) + 0.5 or max(b) <= min(a) + 0.5:
                return False
    return True


def boxes(path):
    polys = []
    for line in open(path):
        cx, cy, w, h, ang = map(float, line.split())
        polys.append(corners(cx, cy, w, h, ang))
    bad = 0
    for i in range(len(polys)):
        for j in range(i + 1, len(polys)):
            if overlap(polys[i], polys[j]):
                print("labels %d and %d overlap" % (i + 1, j + 1))
                bad += 1
    print("%d boxes, %d overlapping pairs" % (len(polys), bad))


# In the browser: every label's box from getBBox(), through its transform
# (getCTM), tested pairwise; the result is written into the page, which
# `chromium --dump-dom` prints.
CHECK_JS = r"""
<pre id="result">not run</pre>
<script>
(function () {
  function poly(el) {
    var b = el.getBBox(), m = el.getCTM(), pts = [];
    [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]]
      .forEach(function (p) {
        pts.push([m.a * p[0] + m.c * p[1] + m.e, m.b * p[0] + m.d * p[1] + m.f]);
      });
    return pts;
  }
  function proj(pts, nx, ny) {
    var lo = Infinity, hi = -Infinity;
    pts.forEach(function (p) { var v = p[0] * nx + p[1] * ny; lo = Math.min(lo, v); hi = Math.max(hi, v); });
    return [lo, hi];
  }
  function overlap(p, q) {
    var polys = [p, q];
    for (var k = 0; k < 2; k++) for (var i = 0; i < 2; i++) {
      var a = polys[k][i], b = polys[k][i + 1], ex = b[0] - a[0], ey = b[1] - a[1];
      var l = Math.hypot(ex, ey) || 1, nx = ex / l, ny = ey / l;
      var r = proj(p, nx, ny), s = proj(q, nx, ny);
      if (r[1] <= s[0] + 0.5 || s[1] <= r[0] + 0.5) return false;
    }
    return true;
  }
  var out = [];
  document.querySelectorAll('svg.ladder').forEach(function (svg, n) {
    var els = Array.prototype.slice.call(svg.querySelectorAll('text.lbl, text.gap'));
    var polys = els.map(poly), bad = 0, empty = 0;
    els.forEach(function (el) { var b = el.getBBox(); if (!(b.width > 0 && b.height > 0)) empty++; });
    for (var i = 0; i < polys.length; i++)
      for (var j = i + 1; j < polys.length; j++)
        if (overlap(polys[i], polys[j])) bad++;
    out.push('SVG ' + (n + 1) + ' LABELS ' + els.length + ' OVERLAPS ' + bad + ' EMPTY ' + empty);
  });
  document.getElementById('result').textContent = out.join('\n');
})();
</script>
"""


def wrap(svg_paths, out_path):
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>\n")
        for path in svg_paths:
            svg = open(path, encoding="utf-8").read()
            if svg.startswith("<?xml"):
                svg = svg[svg.index("?>") + 2:]
            f.write(svg)
        f.write(CHECK_JS)
        f.write("</body></html>\n")


def main():
    cmd = sys.argv[1]
    if cmd == "png":
        png_stats(sys.argv[2])
    elif cmd == "boxes":
        boxes(sys.argv[2])
    elif cmd == "wrap":
        wrap(sys.argv[2:-1], sys.argv[-1])
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
