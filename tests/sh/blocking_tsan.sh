#!/usr/bin/env bash
# The blocking layer under ThreadSanitizer: the library's sources and
# tests/sim/test_blocking.c built with -fsanitize=thread (a separate build
# of just this test: the rest of the suite does not use threads) and run;
# any data race TSan reports fails the test.
set -euo pipefail
if [ "${SYNACK_SANITIZE:-OFF}" = "ON" ]; then
    echo "SKIP: the plain build runs the ThreadSanitizer build (ASan and TSan do not mix)"
    exit 77
fi
src=${SYNACK_SRC:?}
command -v cc >/dev/null || { echo "SKIP: no C compiler"; exit 77; }
pkg-config --exists cmocka || { echo "SKIP: cmocka not found by pkg-config"; exit 77; }
tmp=$(mktemp -d "${SYNACK_TEST_TMP:-/tmp}/tsan.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if ! echo 'int main(void){return 0;}' | cc -fsanitize=thread -x c - -o "$tmp/probe" 2>/dev/null ||
        ! "$tmp/probe" 2>/dev/null; then
    echo "SKIP: this compiler or kernel cannot run ThreadSanitizer programs"
    exit 77
fi
cc -fsanitize=thread -O1 -g -std=c11 -D_POSIX_C_SOURCE=200809L -I"$src/include" -I"$src/src" \
   -I"$src/tests" "$src"/src/*/*.c "$src/tests/sim/test_blocking.c" \
   $(pkg-config --cflags --libs cmocka) -lm -pthread -o "$tmp/test_blocking_tsan"
TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$tmp/test_blocking_tsan" > "$tmp/out" 2>&1 || {
    cat "$tmp/out"
    echo "FAIL: test_blocking under ThreadSanitizer"
    exit 1
}
grep -q 'PASSED' "$tmp/out" || { cat "$tmp/out"; echo "FAIL: no result"; exit 1; }
echo "test_blocking passes under ThreadSanitizer, no data race reported"
