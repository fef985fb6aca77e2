#!/usr/bin/env bash
# Runs every benchmark binary of a build: bash bench/run.sh <build dir>
set -euo pipefail
build=${1:?usage: bash bench/run.sh <build dir>}
shopt -s nullglob
found=0
for b in "$build"/bench/bench_*; do
    [[ -f $b && -x $b ]] || continue
    found=1
    echo "== $(basename "$b")"
    "$b"
    echo
done
if [[ $found -eq 0 ]]; then
    echo "bench/run.sh: no bench_* executables in $build/bench (build first)" >&2
    exit 1
fi
# Connection rate side by side with the code before issue 11 (a temporary git
# worktree at 3b303bc, built with the same flags); SYNACK_BENCH_BASELINE=0 skips it.
if [[ ${SYNACK_BENCH_BASELINE:-1} != 0 ]] && git -C "$(dirname "$0")/.." rev-parse -q --verify 3b303bc^{commit} >/dev/null 2>&1; then
    echo "== compare_baseline (bench_connrate at 3b303bc and here)"
    bash "$(dirname "$0")/compare_baseline.sh" "$build" 3b303bc
    echo
fi
