#!/usr/bin/env bash
# Connection rate side by side with an older commit (default 3b303bc, the
# code before issue 11): bench_connrate (public API only, with its storm
# driver) is compiled twice with the same flags, once against this tree's
# library and once against the old commit's, built in a temporary git
# worktree; both run in the same session, interleaved (old, new, old, new,
# ...), SYNACK_CONNRATE_RUNS times each (default 3), and the medians and
# their ratio are printed.  With valgrind installed (and
# SYNACK_CONNRATE_CALLGRIND not 0), instructions per lifecycle by callgrind
# too: both binaries run SYNACK_CONNRATE_CG_N lifecycles (default 40000)
# and the total is divided by that number (the load does not change it).
#
#   bash bench/compare_baseline.sh BUILD_DIR [COMMIT]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: bash bench/compare_baseline.sh BUILD_DIR [COMMIT]}
commit=${2:-3b303bc}
n=${SYNACK_CONNRATE_N:-200000}
runs=${SYNACK_CONNRATE_RUNS:-3}
cg_n=${SYNACK_CONNRATE_CG_N:-40000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/synack-baseline.XXXXXX")
cleanup() {
    git -C "$src" worktree remove --force "$tmp/wt" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
git -C "$src" worktree add --detach "$tmp/wt" "$commit" >/dev/null 2>&1
cmake -S "$tmp/wt" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release >/dev/null 2>&1
cmake --build "$tmp/build" -j2 --target synack_static >/dev/null 2>&1
old_lib=$(find "$tmp/build" -name 'libsynack*.a' | head -n 1)
new_lib=$(find "$build" -name 'libsynack*.a' | head -n 1)
[ -n "$old_lib" ] && [ -n "$new_lib" ] || { echo "compare_baseline: no libsynack.a" >&2; exit 1; }
for v in old new; do
    inc=$src/include lib=$new_lib
    [ $v = old ] && inc=$tmp/wt/include lib=$old_lib
    cc -std=c11 -O2 -D_GNU_SOURCE -I"$inc" -I"$src/tools/storm" "$src/bench/bench_connrate.c" \
        "$src/tools/storm/storm.c" "$lib" -o "$tmp/connrate_$v"
done
rate() { "$tmp/connrate_$1" "$n" | sed -E 's/.* ([0-9]+) lifecycles\/s$/\1/'; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
old_r=() new_r=()
for ((i = 0; i < runs; i++)); do
    old_r+=("$(rate old)")
    new_r+=("$(rate new)")
done
label_new="this tree ($(git -C "$src" rev-parse --short HEAD))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $n lifecycles per run, $runs interleaved runs each"
echo
echo "| code | lifecycles per second (wall), run by run | median |"
echo "|---|---:|---:|"
echo "| $commit | $(IFS=/; echo "${old_r[*]}" | sed 's|/| / |g') | $(median "${old_r[@]}") |"
echo "| $label_new | $(IFS=/; echo "${new_r[*]}" | sed 's|/| / |g') | $(median "${new_r[@]}") |"
awk -v a="$(median "${old_r[@]}")" -v b="$(median "${new_r[@]}")" \
    'BEGIN { if (a > 0) printf "\nmedian ratio (this tree / %s): %.2fx\n", "'"$commit"'", b / a }'
if [ "${SYNACK_CONNRATE_CALLGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
    echo
    echo "| code | instructions per lifecycle (callgrind, $cg_n lifecycles) |"
    echo "|---|---:|"
    for v in old new; do
        label=$commit
        [ $v = new ] && label=$label_new
        ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$tmp/connrate_$v" "$cg_n" 2>&1 |
             sed -nE 's/.*refs: *([0-9,]+).*/\1/p' | tr -d ,)
        echo "| $label | $((ir / cg_n)) |"
    done
fi
