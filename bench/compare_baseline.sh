#!/usr/bin/env bash
# Connection rate side by side with an older commit (default 3b303bc, the
# code before issue 11): bench_connrate (public API only, with its storm
# driver) is compiled twice with the same flags, once against this tree's
# library and once against the old commit's, built in a temporary git
# worktree; both run in the same session, one after the other, twice each.
#
#   bash bench/compare_baseline.sh BUILD_DIR [COMMIT]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: bash bench/compare_baseline.sh BUILD_DIR [COMMIT]}
commit=${2:-3b303bc}
n=${SYNACK_CONNRATE_N:-200000}
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
echo "| code | lifecycles per second (wall), run 1 | run 2 |"
echo "|---|---:|---:|"
for v in old new; do
    r1=$("$tmp/connrate_$v" "$n" | sed -E 's/.* ([0-9]+) lifecycles\/s$/\1/')
    r2=$("$tmp/connrate_$v" "$n" | sed -E 's/.* ([0-9]+) lifecycles\/s$/\1/')
    label=$commit
    [ $v = new ] && label="this tree ($(git -C "$src" rev-parse --short HEAD))"
    echo "| $label | $r1 | $r2 |"
done
