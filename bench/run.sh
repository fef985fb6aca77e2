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
# Instructions per data segment on the simulator (both stacks: the work done
# inside input, advance, send and recv, not the simulator's), by callgrind;
# SYNACK_BENCH_CALLGRIND=0 skips it.
if [[ ${SYNACK_BENCH_CALLGRIND:-1} != 0 ]] && command -v valgrind >/dev/null && [[ -x $build/bench/bench_sim ]]; then
    echo "== callgrind: instructions per data segment (bench_sim --quiet 8 MiB)"
    echo "| configuration | data segments | ACKs | instructions (both stacks) | per data segment |"
    echo "|---|---:|---:|---:|---:|"
    for args in "8 1500" "--tso 8 1500" "8 65535"; do
        out=$(mktemp /tmp/synack-cg.XXXXXX)
        line=$(valgrind --tool=callgrind --callgrind-out-file="$out" \
            --toggle-collect=sn_ip_input --toggle-collect=synack_stack_advance \
            --toggle-collect=synack_send --toggle-collect=synack_recv \
            --toggle-collect=synack_sim_send "$build/bench/bench_sim" --quiet $args 2>/dev/null)
        ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
        rm -f "$out"
        segs=$(echo "$line" | awk '{print $4}')
        echo "| $args | $segs | $(echo "$line" | awk '{print $6}') | $ir | $((ir / segs)) |"
    done
    echo
fi
# synack over TUN against the kernel's TCP (root only; namespaces it creates).
echo "== bench/tun.sh"
bash "$(dirname "$0")/tun.sh" "$build" "${SYNACK_BENCH_ROUNDS:-5}" "${SYNACK_BENCH_MIB:-64}"
