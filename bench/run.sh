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
