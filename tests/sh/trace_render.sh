#!/usr/bin/env bash
# The pictures of `synack trace` and `synack demo` in a real browser
# (Debian's chromium, headless): ladders (SVG), plots (the stack's cwnd
# among them) and the HTML page render to PNG without error and are not
# blank (each SVG file loaded as an image, parsed as a document of its own,
# in a box of one page whose pixels are checked box by box: three chromium
# runs in all, as each costs seconds); no two labels of a ladder
# overlap, checked on the layout synack computed (--svg-boxes) and again in
# the browser (each label's getBBox() through its transform, in a page whose
# script writes the result into the DOM, read back with --dump-dom); the
# HTML page loads without a console error, holds its parts, and a click on a
# packet shows its decoded header.
#
#   trace_render.sh      (CTest sets SYNACK_BIN, SYNACK_SRC)
set -u

. "$(dirname "$0")/trace_lib.bash"
trace_setup trace_render
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: needs chromium and python3 (scripts/install-deps.sh installs them)"
    exit 77
fi

# chrome OUT-FLAG... URL: one headless run with a fresh profile, bounded in time.
chrome() {
    local prof
    prof=$(mktemp -d "$tmp/profile.XXXXXX")
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$prof" --enable-logging=stderr --v=0 "$@"
    local rc=$?
    rm -rf "$prof"
    return $rc
}

# Console errors in a chromium log (page errors, not the browser's own noise).
console_errors() {
    grep -E 'CONSOLE|Uncaught|SyntaxError|TypeError|ReferenceError' "$1" | grep -v 'Fontconfig' || true
}

# pixels NAME PNG MIN-COLOURS [STATS]: the rendering is not blank and has
# colours enough (STATS: "nonwhite% colours", else of the whole PNG).
pixels() {
    local name=$1 png=$2 mincol=$3 stats=${4:-}
    if [ -z "$stats" ]; then
        stats=$(python3 "$here/trace_render.py" png "$png" | cut -d' ' -f2-) || { fail "$name: bad PNG"; return; }
    fi
    checks=$((checks + 1))
    if ! awk -v n="${stats% *}" -v c="${stats#* }" -v m="$mincol" 'BEGIN { exit !(n >= 1.0 && c >= m) }'; then
        fail "$name: the rendering looks blank ($stats: non-white %, colours; want >= 1% and >= $mincol)"
    fi
}

# shoot NAME URL WIDTH HEIGHT: one chromium run taking the screenshot and the
# DOM once the page loaded and its scripts ran ($tmp/NAME.png, .dom, .log);
# no console error.
shoot() {
    local name=$1 url=$2
    checks=$((checks + 1))
    if ! chrome --screenshot="$tmp/$name.png" --dump-dom --virtual-time-budget=5000 \
        --window-size="$3,$4" --hide-scrollbars "$url" >"$tmp/$name.dom" 2>"$tmp/$name.log" ||
        [ ! -s "$tmp/$name.png" ]; then
        fail "$name: chromium did not render $url: $(tail -3 "$tmp/$name.log")"
        return 1
    fi
    local errs
    errs=$(console_errors "$tmp/$name.log")
    [ -z "$errs" ] || fail "$name: console errors: $errs"
    [ -n "${SYNACK_RENDER_KEEP:-}" ] && cp "$tmp/$name.png" "$SYNACK_RENDER_KEEP/"
    return 0
}

# labels DOM SVG...: the browser's overlap check of the ladders, in order.
labels() {
    local dom=$1 i=0 svg res
    shift
    for svg in "$@"; do
        i=$((i + 1))
        checks=$((checks + 1))
        res=$(grep -o "SVG $i LABELS [0-9]* OVERLAPS [0-9]* EMPTY [0-9]*" "$dom")
        if [ -z "$res" ]; then
            fail "$svg: the label check did not run in the browser"
            continue
        fi
        set -- $res
        [ "$4" -ge 5 ] || fail "$svg: only $4 labels in the ladder"
        [ "$6" -eq 0 ] || fail "$svg: $6 pairs of labels overlap in the browser"
        [ "$8" -eq 0 ] || fail "$svg: $8 labels have an empty box"
    done
}

# boxes NAME FILE: overlap check on synack's own layout.
boxes() {
    checks=$((checks + 1))
    local out
    out=$(python3 "$here/trace_render.py" boxes "$2")
    echo "$out" | grep -q ', 0 overlapping pairs$' || fail "$1: layout boxes overlap: $(echo "$out" | tail -3)"
}

# ---- the pictures ---------------------------------------------------------
S=$SYNACK_BIN
$S demo --scenario simultaneous-close --pcap "$tmp/sc.pcap" --svg "$tmp/sc-demo.svg" \
    --html "$tmp/sc-demo.html" >/dev/null 2>&1 || fail "demo --svg --html failed"
$S demo --scenario transfer --bytes 300K --loss 3 --svg "$tmp/tr-demo.svg" \
    --html "$tmp/tr-demo.html" --plot cwnd "$tmp/cwnd-demo.svg" --pcap "$tmp/tr.pcap" >/dev/null 2>&1 || fail "demo transfer --svg --html failed"
$S trace "$tmp/sc.pcap" --svg "$tmp/sc.svg" --svg-boxes "$tmp/sc.boxes" >/dev/null 2>"$tmp/sc.err" ||
    fail "trace --svg failed: $(cat "$tmp/sc.err")"
$S trace "$tmp/tr.pcap" --svg "$tmp/tr.svg" --svg-boxes "$tmp/tr.boxes" --plot time-seq "$tmp/tseq.svg" \
    --plot window "$tmp/win.svg" --plot rtt "$tmp/rtt.svg" --html "$tmp/tr.html" >/dev/null 2>"$tmp/tr.err" ||
    fail "trace --svg --plot --html failed: $(cat "$tmp/tr.err")"
$S trace "$tmp/tr.pcap" --all --svg "$tmp/tr-all.svg" --svg-boxes "$tmp/tr-all.boxes" >/dev/null 2>&1 ||
    fail "trace --all --svg failed"
checks=$((checks + 1))
grep -q 'overlap' "$tmp/sc.err" "$tmp/tr.err" && fail "synack reported overlapping labels"

# The summarised ladder says what it left out; --all draws every packet.
checks=$((checks + 1))
grep -q 'packets not drawn' "$tmp/tr.svg" || fail "the long ladder is not summarised"
checks=$((checks + 1))
n_all=$(grep -c '<g class="pkt"' "$tmp/tr-all.svg")
n_pcap=$($S trace --json "$tmp/tr.pcap" | grep -c '"type":"packet"')
[ "$n_all" -eq "$n_pcap" ] || fail "--all draws $n_all of $n_pcap packets"
# The stacks' true states and the application's calls in the demo's ladder.
checks=$((checks + 1))
grep -q 'close(3) = 0' "$tmp/sc-demo.svg" && grep -q '>CLOSING<' "$tmp/sc-demo.svg" ||
    fail "demo ladder lacks the close() call or the CLOSING state"

for f in sc tr tr-all; do boxes "$f" "$tmp/$f.boxes"; done
# One chromium run for the pictures (each costs seconds): the SVG files as
# images, each in a box of its own whose pixels are checked, and the ladders
# inline for the label check.
imgs=(sc sc-demo tseq cwnd-demo)
mincol=(6 6 5 5)
ladders=("$tmp/sc.svg" "$tmp/sc-demo.svg" "$tmp/tr.svg" "$tmp/tr-demo.svg" "$tmp/tr-all.svg")
files=()
for f in "${imgs[@]}"; do files+=("$tmp/$f.svg"); done
python3 "$here/trace_render.py" page "$tmp/pictures.html" "${files[@]}" -- "${ladders[@]}"
if shoot pictures "file://$tmp/pictures.html" 1280 1000; then
    python3 "$here/trace_render.py" boxes-png "$tmp/pictures.png" >"$tmp/pictures.boxes"
    for k in 0 1 2 3; do
        checks=$((checks + 1))
        grep -Eq "(^|>)IMG $((k + 1)) OK" "$tmp/pictures.dom" ||
            fail "${imgs[$k]}.svg: the browser could not load it as an SVG image"
        pixels "${imgs[$k]}" "$tmp/pictures.png" "${mincol[$k]}" \
            "$(awk -v b=$((k + 1)) '$2 == b {print $3, $4}' "$tmp/pictures.boxes")"
    done
    labels "$tmp/pictures.dom" "${ladders[@]}"
fi
for f in win rtt; do
    checks=$((checks + 1))
    grep -q '<svg xmlns="http://www.w3.org/2000/svg" class="plot"' "$tmp/$f.svg" ||
        fail "$f.svg is not a plot"
done

# ---- the HTML page ----------------------------------------------------------
# Self-contained: no URL to fetch anything from.
for page in tr tr-demo; do
    checks=$((checks + 1))
    if grep -Eiq '(src|href)="(https?:)?//' "$tmp/$page.html"; then
        fail "$page.html refers to something outside itself"
    fi
    # Rendered with a click on the first packet (a script added to a copy):
    # the screenshot, then its parts and the click's result in the DOM.
    sed 's#</body>#<script>var g=document.querySelector("g.pkt");g.dispatchEvent(new MouseEvent("click",{bubbles:true}));document.body.setAttribute("data-clicked",document.getElementById("detail").textContent.split("\\n")[0]);</script></body>#' \
        "$tmp/$page.html" >"$tmp/$page.click.html"
    shoot "$page-page" "file://$tmp/$page.click.html" 1280 1400 || continue
    pixels "$page-page" "$tmp/$page-page.png" 6
    checks=$((checks + 1))
    for part in 'class="ladder"' 'class="summary"' 'class="plot"' 'pre class="detail"' 'id="pktdata"'; do
        grep -q "$part" "$tmp/$page-page.dom" || fail "$page.html: no $part in the page"
    done
    [ "$(grep -o 'class="plot"' "$tmp/$page-page.dom" | wc -l)" -ge 3 ] || fail "$page.html: fewer than 3 plots"
    checks=$((checks + 1))
    grep -Eq 'data-clicked="frame 1, 0\.000000 s' "$tmp/$page-page.dom" ||
        fail "$page.html: a click on the first packet did not show its header ($(grep -o 'data-clicked="[^"]*"' "$tmp/$page-page.dom"))"
done
# The demo's page plots the sender's own cwnd (a fourth plot, recovery
# shaded) and RTO, as the browser built the page.
checks=$((checks + 1))
grep -q 'class="cwnd"' "$tmp/tr-demo-page.dom" && grep -q 'class="rto"' "$tmp/tr-demo-page.dom" &&
    grep -q 'congestion window of A 192.0.2.1' "$tmp/tr-demo-page.dom" &&
    grep -q '<rect class="recovery"' "$tmp/tr-demo-page.dom" &&
    [ "$(grep -o 'class="plot"' "$tmp/tr-demo-page.dom" | wc -l)" -ge 4 ] ||
    fail "the demo's page lacks the stack's cwnd plot, its recovery bands or RTO"

trace_finish trace_render
