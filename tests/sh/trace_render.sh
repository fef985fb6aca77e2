#!/usr/bin/env bash
# The pictures of `synack trace` and `synack demo` in a real browser
# (Debian's chromium, headless): ladders (SVG), plots and the HTML page
# render to PNG without error and are not blank; no two labels of a ladder
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

# render NAME FILE MIN-COLOURS: screenshot, then not blank, colours enough.
render() {
    local name=$1 file=$2 mincol=$3
    checks=$((checks + 1))
    if ! chrome --screenshot="$tmp/$name.png" --window-size=1280,1400 --hide-scrollbars \
        "file://$file" >"$tmp/$name.chrome.log" 2>&1 || [ ! -s "$tmp/$name.png" ]; then
        fail "$name: chromium did not render $file: $(tail -3 "$tmp/$name.chrome.log")"
        return
    fi
    local errs
    errs=$(console_errors "$tmp/$name.chrome.log")
    [ -z "$errs" ] || fail "$name: console errors: $errs"
    local stats nonwhite colours
    stats=$(python3 "$here/trace_render.py" png "$tmp/$name.png") || { fail "$name: bad PNG"; return; }
    nonwhite=$(echo "$stats" | cut -d' ' -f2)
    colours=$(echo "$stats" | cut -d' ' -f3)
    checks=$((checks + 1))
    if ! awk -v n="$nonwhite" -v c="$colours" -v m="$mincol" 'BEGIN { exit !(n >= 1.0 && c >= m) }'; then
        fail "$name: the rendering looks blank ($stats: non-white %, colours; want >= 1% and >= $mincol)"
    fi
    [ -n "${SYNACK_RENDER_KEEP:-}" ] && cp "$tmp/$name.png" "$SYNACK_RENDER_KEEP/"
}

# labels SVG...: overlap check in the browser, all ladders in one page.
labels() {
    python3 "$here/trace_render.py" wrap "$@" "$tmp/labels.check.html"
    chrome --dump-dom --virtual-time-budget=5000 "file://$tmp/labels.check.html" \
        >"$tmp/labels.dom" 2>"$tmp/labels.dom.log"
    local i=0 svg res
    for svg in "$@"; do
        i=$((i + 1))
        checks=$((checks + 1))
        res=$(grep -o "SVG $i LABELS [0-9]* OVERLAPS [0-9]* EMPTY [0-9]*" "$tmp/labels.dom")
        if [ -z "$res" ]; then
            fail "$svg: the label check did not run in the browser: $(tail -3 "$tmp/labels.dom.log")"
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
    --html "$tmp/tr-demo.html" --pcap "$tmp/tr.pcap" >/dev/null 2>&1 || fail "demo transfer --svg --html failed"
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
# (Each chromium run costs seconds: the plots are rendered on the pages below.)
render sc "$tmp/sc.svg" 6
render sc-demo "$tmp/sc-demo.svg" 6
render tseq "$tmp/tseq.svg" 5
labels "$tmp/sc.svg" "$tmp/sc-demo.svg" "$tmp/tr.svg" "$tmp/tr-demo.svg" "$tmp/tr-all.svg"
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
    render "$page-page" "$tmp/$page.html" 6
    # Its parts, and a click on the first packet (a script added to a copy).
    sed 's#</body>#<script>var g=document.querySelector("g.pkt");g.dispatchEvent(new MouseEvent("click",{bubbles:true}));document.body.setAttribute("data-clicked",document.getElementById("detail").textContent.split("\\n")[0]);</script></body>#' \
        "$tmp/$page.html" >"$tmp/$page.click.html"
    chrome --dump-dom --virtual-time-budget=5000 "file://$tmp/$page.click.html" \
        >"$tmp/$page.dom" 2>"$tmp/$page.dom.log"
    checks=$((checks + 1))
    errs=$(console_errors "$tmp/$page.dom.log")
    [ -z "$errs" ] || fail "$page.html: console errors: $errs"
    checks=$((checks + 1))
    for part in 'class="ladder"' 'class="summary"' 'class="plot"' 'pre class="detail"' 'id="pktdata"'; do
        grep -q "$part" "$tmp/$page.dom" || fail "$page.html: no $part in the page"
    done
    [ "$(grep -o 'class="plot"' "$tmp/$page.dom" | wc -l)" -ge 3 ] || fail "$page.html: fewer than 3 plots"
    checks=$((checks + 1))
    grep -Eq 'data-clicked="frame 1, 0\.000000 s' "$tmp/$page.dom" ||
        fail "$page.html: a click on the first packet did not show its header ($(grep -o 'data-clicked="[^"]*"' "$tmp/$page.dom"))"
done
# The demo's page plots the sender's own cwnd (a fourth plot, recovery
# shaded) and RTO, as the browser built the page.
checks=$((checks + 1))
grep -q 'class="cwnd"' "$tmp/tr-demo.dom" && grep -q 'class="rto"' "$tmp/tr-demo.dom" &&
    grep -q 'congestion window of A 192.0.2.1' "$tmp/tr-demo.dom" &&
    grep -q '<rect class="recovery"' "$tmp/tr-demo.dom" &&
    [ "$(grep -o 'class="plot"' "$tmp/tr-demo.dom" | wc -l)" -ge 4 ] ||
    fail "the demo's page lacks the stack's cwnd plot, its recovery bands or RTO"

trace_finish trace_render
