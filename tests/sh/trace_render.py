#!/usr/bin/env python3
"""Helpers of tests/sh/trace_render.sh (no third-party modules).

    trace_render.py png FILE.png         print "WIDTHxHEIGHT nonwhite% colours"
    trace_render.py boxes FILE.boxes     print the pairs of label boxes that overlap
    trace_render.py page OUT.html IMG.svg... -- LADDER.svg...
                                         the picture page: the images in a grid (at
                                         most 4), the ladders inline with a script
                                         that checks their labels in the browser
    trace_render.py boxes-png FILE.png   print "box N nonwhite% colours" per grid box
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
    rows, prev = [], bytes(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        unfilter(f, line, prev, bpp)
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def unfilter(f, line, prev, bpp):
    """Undo PNG filter f on one row in place (one loop per filter type)."""
    n = len(line)
    if f == 0:
        return
    if f == 2:
        # Bytes spread into 16-bit lanes, added as two big numbers (no carry
        # crosses a lane: 255 + 255 < 65536), the low bytes kept.
        u, v = bytearray(2 * n), bytearray(2 * n)
        u[1::2], v[1::2] = line, prev
        total = int.from_bytes(u, "big") + int.from_bytes(v, "big")
        line[:] = total.to_bytes(2 * n + 1, "big")[2::2]
        return
    if f == 1:
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 255
        return
    if f == 3:
        for i in range(n):
            a = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((a + prev[i]) >> 1)) & 255
        return
    for i in range(bpp):  # Paeth: no left neighbour, predictor is b
        line[i] = (line[i] + prev[i]) & 255
    for i in range(bpp, n):
        a, b, c = line[i - bpp], prev[i], prev[i - bpp]
        pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - c - c)
        line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255


def box_stats(w, h, bpp, rows, x0, y0, bw, bh):
    """(non-white %, colours) of the box at x0, y0 of size bw x bh."""
    # Each pixel's RGB as one 32-bit number (the slices do the work in C).
    nonwhite, colours = 0, set()
    white = int.from_bytes(b"\xff\xff\xff\x00", sys.byteorder)
    for line in rows[y0:y0 + bh]:
        seg = line[x0 * bpp:(x0 + bw) * bpp]
        quad = bytearray(4 * bw)
        for k in range(3):
            quad[k::4] = seg[k::bpp]
        px = memoryview(quad).cast("I")
        nonwhite += bw - px.tolist().count(white)
        if len(colours) < 4096:
            colours.update(set(px.tolist()))
    colours.discard(white)
    return 100.0 * nonwhite / (bw * bh), min(len(colours), 4096)


def png_stats(path):
    w, h, bpp, rows = png_pixels(path)
    nw, nc = box_stats(w, h, bpp, rows, 0, 0, w, h)
    print("%dx%d %.2f %d" % (w, h, nw, nc))


def png_boxes(path):
    """The stats of each box of the picture page's grid (page_html)."""
    w, h, bpp, rows = png_pixels(path)
    for i in range(PAGE_COLS * PAGE_ROWS):
        x0, y0 = (i % PAGE_COLS) * BOX_W, (i // PAGE_COLS) * BOX_H
        if x0 + BOX_W > w or y0 + BOX_H > h:
            break
        nw, nc = box_stats(w, h, bpp, rows, x0, y0, BOX_W, BOX_H)
        print("box %d %.2f %d" % (i + 1, nw, nc))


# The picture page: each SVG file as an image (the browser parses it as an
# SVG document of its own, as when the file is opened), one per box of a
# grid at the top, whose pixels the screenshot gives; a script reports each
# image as loaded or broken.  Then the ladders inline, with the label check.
PAGE_COLS, PAGE_ROWS, BOX_W, BOX_H = 2, 2, 640, 500
IMG_JS = r"""
<pre id="imgs">not run</pre>
<script>
window.addEventListener('load', function () {
  var out = [];
  document.querySelectorAll('img.pic').forEach(function (im, n) {
    out.push('IMG ' + (n + 1) + ' ' + (im.complete && im.naturalWidth > 0 ? 'OK' : 'BROKEN'));
  });
  document.getElementById('imgs').textContent = out.join('\n');
});
</script>
"""


def page_html(out_path, images, ladders):
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>"
                "body{margin:0}div.grid{display:grid;grid-template-columns:repeat(%d,%dpx);"
                "grid-auto-rows:%dpx}div.grid img{width:%dpx;height:%dpx;object-fit:contain;"
                "margin:5px}</style></head><body>\n<div class=\"grid\">\n"
                % (PAGE_COLS, BOX_W, BOX_H, BOX_W - 10, BOX_H - 10))
        for path in images:
            f.write("<img class=\"pic\" src=\"file://%s\">\n" % path)
        f.write("</div>\n")
        for path in ladders:
            svg = open(path, encoding="utf-8").read()
            if svg.startswith("<?xml"):
                svg = svg[svg.index("?>") + 2:]
            f.write(svg)
        f.write(CHECK_JS)
        f.write(IMG_JS)
        f.write("</body></html>\n")


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
    # Only pairs whose axis-aligned bounds come within NEAR of each other can
    # overlap (by the 0.5 that overlap() allows, even rotated): a sweep over x.
    near = 2.0
    bb = [(min(x for x, _ in p), max(x for x, _ in p), min(y for _, y in p), max(y for _, y in p))
          for p in polys]
    order = sorted(range(len(polys)), key=lambda k: bb[k][0])
    pairs = []
    for n, i in enumerate(order):
        for j in order[n + 1:]:
            if bb[j][0] > bb[i][1] + near:
                break
            if bb[j][2] <= bb[i][3] + near and bb[i][2] <= bb[j][3] + near and \
                    overlap(polys[i], polys[j]):
                pairs.append((min(i, j), max(i, j)))
    for i, j in sorted(pairs):
        print("labels %d and %d overlap" % (i + 1, j + 1))
    print("%d boxes, %d overlapping pairs" % (len(polys), len(pairs)))


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


def main():
    cmd = sys.argv[1]
    if cmd == "png":
        png_stats(sys.argv[2])
    elif cmd == "boxes-png":
        png_boxes(sys.argv[2])
    elif cmd == "page":
        sep = sys.argv.index("--")
        page_html(sys.argv[2], sys.argv[3:sep], sys.argv[sep + 1:])
    elif cmd == "boxes":
        boxes(sys.argv[2])
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
