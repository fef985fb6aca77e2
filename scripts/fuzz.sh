#!/usr/bin/env bash
# Build the libFuzzer harnesses (fuzz/) with clang in a build directory of
# their own and run each one for a bounded time.
#
#   scripts/fuzz.sh [--time SEC] [--build DIR] [--jobs N] [HARNESS...]
#
# Defaults: 300 s per harness, build dir build-fuzz, every harness
# (fuzz_ipv4 fuzz_icmp fuzz_tcp fuzz_script fuzz_stack).  The suite runs it
# with --time 20 (tests/sh/fuzz.sh).  Seed corpora are made at build time:
# the packet scripts (tests/scripts) for fuzz_script, captures of `synack
# demo` scenarios (when the synack tool is found: $SYNACK_BIN or
# build/tools/synack/synack) and synthetic messages for the others
# (fuzz/fuzz_seeds.c).  New inputs the fuzzer finds stay in DIR/corpus/NAME;
# a crash leaves DIR/artifacts/NAME-crash-* and a non-zero exit.  Prints per
# harness the runs, CPU seconds, edges covered (cov) and features (ft).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
time_s=300
build=$src/build-fuzz
jobs=2
harnesses=()
while [ $# -gt 0 ]; do
    case $1 in
    --time) time_s=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) harnesses+=("$1"); shift ;;
    esac
done
[ ${#harnesses[@]} -gt 0 ] || harnesses=(fuzz_ipv4 fuzz_icmp fuzz_tcp fuzz_script fuzz_stack)

cc=$(command -v clang || true)
if [ -z "$cc" ]; then
    echo "SKIP: clang not found (scripts/install-deps.sh installs it with the libFuzzer runtime)"
    exit 77
fi
echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' > "${TMPDIR:-/tmp}/fz$$.c"
if ! "$cc" -fsanitize=fuzzer "${TMPDIR:-/tmp}/fz$$.c" -o "${TMPDIR:-/tmp}/fz$$" 2>/dev/null; then
    rm -f "${TMPDIR:-/tmp}/fz$$.c"
    echo "SKIP: clang has no libFuzzer runtime (Debian: libclang-rt-dev)"
    exit 77
fi
rm -f "${TMPDIR:-/tmp}/fz$$.c" "${TMPDIR:-/tmp}/fz$$"

CC=$cc cmake -S "$src" -B "$build" -DSYNACK_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$jobs" >/dev/null

# Seeds (only once: later runs start from the corpus they grew).
corpus=$build/corpus
if [ ! -d "$corpus/fuzz_script" ]; then
    mkdir -p "$corpus/fuzz_script" "$build/captures"
    find "$src/tests/scripts" -name '*.pkt' | while read -r f; do
        cp "$f" "$corpus/fuzz_script/$(echo "${f#$src/tests/scripts/}" | tr / _)"
    done
    tool=${SYNACK_BIN:-$src/build/tools/synack/synack}
    caps=()
    if [ -x "$tool" ]; then
        for sc in handshake-close server-close simultaneous-open simultaneous-close half-close rst-unread refused; do
            "$tool" demo --scenario "$sc" --quiet --pcap "$build/captures/$sc.pcap" >/dev/null 2>&1 &&
                caps+=("$build/captures/$sc.pcap")
        done
        "$tool" demo --scenario transfer --bytes 200K --loss 5 --reorder 5 --quiet \
            --pcap "$build/captures/transfer.pcap" >/dev/null 2>&1 && caps+=("$build/captures/transfer.pcap")
    else
        echo "note: no synack tool at $tool: codec seeds are synthetic only"
    fi
    "$build/fuzz/fuzz_seeds" "$corpus" "${caps[@]}"
fi

mkdir -p "$build/artifacts"
status=0
for h in "${harnesses[@]}"; do
    mkdir -p "$corpus/$h"
    log=$build/$h.log
    start=$(date +%s.%N)
    t0=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
    set +e
    # Programs for the stateful harness grow longer than their seeds.
    maxlen=()
    [ "$h" = fuzz_stack ] && maxlen=(-max_len=2048)
    "$build/fuzz/$h" -max_total_time="$time_s" -rss_limit_mb=2048 -print_final_stats=1 "${maxlen[@]}" \
        -artifact_prefix="$build/artifacts/$h-" "$corpus/$h" >"$log" 2>&1
    rc=$?
    set -e
    ticks=$(( $(awk '{print $14+$15+$16+$17}' /proc/$$/stat) - t0 ))
    cpu=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }')
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo '?')
    ft=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo '?')
    files=$(find "$corpus/$h" -type f | wc -l)
    if [ $rc -ne 0 ]; then
        echo "FAIL $h: exit $rc after $runs runs; see $log and $build/artifacts/$h-*"
        grep -E 'ERROR|invariant|SUMMARY' "$log" | head -5
        status=1
    else
        echo "$h: $runs runs, $cpu s CPU, cov $cov, ft $ft, corpus $files inputs"
    fi
done
exit $status
