#!/usr/bin/env bash
# What an embedder does: install synack (with DESTDIR and a prefix, as
# `make install PREFIX=... DESTDIR=...` does), check what was installed
# (library, headers, synack.pc, the tool, its man pages), build every
# example in examples/ against it with pkg-config (static and shared), and
# run those that need no root (the TUN ones run in tests/interop/examples_tun.sh and
# tests/interop/blocking_tun.sh).
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
DESTDIR="$tmp/stage" cmake --install "$build" --prefix /opt/synack >/dev/null
root="$tmp/stage/opt/synack"
[ -d "$root" ] || { echo "FAIL: nothing installed under DESTDIR/prefix"; exit 1; }
pc=$(find "$root" -name synack.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: synack.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir synack)
for f in "$root/bin/synack" "$root/share/man/man1/synack.1" "$root/share/man/man1/synack-serve.1" \
         "$root/include/synack/synack.h" "$root/include/synack/sockopt.h" "$libdir/libsynack.a"; do
    [ -e "$f" ] || { echo "FAIL: $f was not installed"; exit 1; }
done
ls "$libdir"/libsynack.so.* >/dev/null 2>&1 || { echo "FAIL: no shared library"; exit 1; }
"$root/bin/synack" demo --quiet | grep -q 'result: as RFC 9293 says' ||
    { echo "FAIL: the installed synack does not run"; exit 1; }
if command -v man >/dev/null; then
    man -l "$root/share/man/man1/synack-demo.1" 2>/dev/null | grep -q -- '--scenario' ||
        { echo "FAIL: synack-demo(1) does not show the demo's options"; exit 1; }
fi
n=0
for ex in "$src"/examples/*.c; do
    name=$(basename "$ex" .c)
    cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pthread "$ex" \
       $(pkg-config --cflags synack) "$libdir/libsynack.a" \
       $(pkg-config --libs-only-other --libs-only-l --static synack | sed 's/-lsynack//') \
       -o "$tmp/$name-static"
    cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pthread "$ex" \
       $(pkg-config --cflags --libs synack) -Wl,-rpath,"$libdir" -o "$tmp/$name-shared"
    n=$((n + 1))
done
# The examples that need no root, static and shared: same output, success.
check() {
    local name=$1 pattern=$2
    "$tmp/$name-static" > "$tmp/$name.out1" || { echo "FAIL: $name (static) failed"; cat "$tmp/$name.out1"; exit 1; }
    "$tmp/$name-shared" > "$tmp/$name.out2" || { echo "FAIL: $name (shared) failed"; exit 1; }
    grep -q "$pattern" "$tmp/$name.out1" || { echo "FAIL: $name said: $(cat "$tmp/$name.out1")"; exit 1; }
    cmp -s "$tmp/$name.out1" "$tmp/$name.out2" || { echo "FAIL: $name static and shared differ"; exit 1; }
    cat "$tmp/$name.out1"
}
check hello 'client got "hello, synack" .*: ok'
check impaired_pair '1048576 of 1048576 bytes .* 0 bad bytes: ok'
check custom_output 'received "over a wire of my own" .*: ok'
check blocking_echo '3 of 3 clients got their 100000 bytes echoed (server served 3): ok'
echo "installed library, headers, synack.pc, tool and man pages; $n examples build (static and shared)"
