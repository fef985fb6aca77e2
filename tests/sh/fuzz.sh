#!/usr/bin/env bash
# The libFuzzer harnesses (fuzz/), 20 s each, in a clang build of their own
# (scripts/fuzz.sh); `scripts/fuzz.sh --time 600` runs them longer.  Once per
# `make test`: the harnesses carry ASan and UBSan already, so the sanitizer
# pass of the suite skips this test.
set -u
src=${SYNACK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ "${SYNACK_SANITIZE:-OFF}" = "ON" ]; then
    echo "SKIP: the fuzzers run in the plain suite (they are built with ASan+UBSan themselves)"
    exit 77
fi
build=${SYNACK_BUILD:-$src/build}/fuzz
exec bash "$src/scripts/fuzz.sh" --time "${SYNACK_FUZZ_TIME:-20}" --build "$build"
