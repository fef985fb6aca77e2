#!/usr/bin/env bash
# The shared library exports exactly the public API: the dynamic symbols it
# defines are compared with the committed list tests/abi/exports.txt.  A new
# public function is added to the list in the same commit (and declared
# SYNACK_API in include/synack/); an internal sn_* symbol that appears here
# means the visibility rule broke; a symbol that disappears breaks the ABI
# (raise SYNACK_ABI_VERSION, docs/api.md).  Also checks the soname and that
# the version in the header is what the library reports.
set -euo pipefail
src=${SYNACK_SRC:?}
build=${SYNACK_BUILD:?}
command -v nm >/dev/null || { echo "SKIP: nm (binutils) not installed"; exit 77; }
lib=$(find "$build" -maxdepth 1 -name 'libsynack.so.*' -type f | head -n 1)
[ -n "$lib" ] || { echo "FAIL: no libsynack.so.* in $build"; exit 1; }
tmp=$(mktemp -d "${SYNACK_TEST_TMP:-/tmp}/abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Sanitizer builds add their own interceptors; only synack's names count.
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' \
    | grep -E '^(synack|sn)_' | sort -u > "$tmp/actual"
sort -u "$src/tests/abi/exports.txt" > "$tmp/expected"
if ! diff -u "$tmp/expected" "$tmp/actual" > "$tmp/diff"; then
    echo "FAIL: exported symbols differ from tests/abi/exports.txt (- expected, + exported):"
    cat "$tmp/diff"
    exit 1
fi
if grep -q '^sn_' "$tmp/actual"; then
    echo "FAIL: internal sn_* symbols exported"; exit 1
fi
abi=$(sed -n 's/^#define SYNACK_ABI_VERSION \([0-9]*\).*/\1/p' "$src/include/synack/base.h")
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "libsynack.so.$abi" ] || { echo "FAIL: soname $soname, expected libsynack.so.$abi"; exit 1; }
# Every exported name is declared in a public header.
for sym in $(cat "$tmp/actual"); do
    grep -rqE "\b$sym\(" "$src/include/synack" || { echo "FAIL: $sym is exported but not declared in include/synack"; exit 1; }
done
echo "libsynack exports $(wc -l < "$tmp/actual") symbols, all public and listed; soname $soname"
