#!/usr/bin/env bash
# What an embedder does: install synack into a prefix, build examples/hello.c
# against it with pkg-config (static and shared), run both.
set -euo pipefail
if [ "${SYNACK_SANITIZE:-OFF}" = "ON" ]; then
    echo "SKIP: this build's library is instrumented for ASan; the plain build checks the install"
    exit 77
fi
command -v pkg-config >/dev/null || { echo "SKIP: pkg-config not installed"; exit 77; }
src=${SYNACK_SRC:?}
build=${SYNACK_BUILD:?}
tmp=$(mktemp -d "${SYNACK_TEST_TMP:-/tmp}/install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name synack.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: synack.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror "$src/examples/hello.c" \
   $(pkg-config --cflags synack) "$(pkg-config --variable=libdir synack)/libsynack.a" \
   $(pkg-config --libs-only-other --libs-only-l --static synack | sed 's/-lsynack//') \
   -o "$tmp/hello-static"
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror "$src/examples/hello.c" \
   $(pkg-config --cflags --libs synack) -Wl,-rpath,"$(pkg-config --variable=libdir synack)" \
   -o "$tmp/hello-shared"
"$tmp/hello-static" | tee "$tmp/out1"
"$tmp/hello-shared" | tee "$tmp/out2"
grep -q 'client got "hello, synack" .*: ok' "$tmp/out1"
cmp "$tmp/out1" "$tmp/out2"
echo "installed headers, libraries and synack.pc build and run examples/hello.c (static and shared)"
