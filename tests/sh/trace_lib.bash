# Shared by the trace_*.sh tests (sourced, not a test itself): the synack
# tool from CTest, a scratch folder removed on exit, and the check counters.
#
#   trace_setup NAME     check SYNACK_BIN, make $tmp, set $here
#   fail MESSAGE         count a failed check and say why
#   trace_finish NAME    exit 1 when a check failed, else print the count
set -u

trace_setup() {
    if [ -z "${SYNACK_BIN:-}" ] || [ ! -x "$SYNACK_BIN" ]; then
        echo "FAIL: SYNACK_BIN must name the synack tool (got '${SYNACK_BIN:-}')"
        exit 1
    fi
    here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
    tmp=$(mktemp -d "${SYNACK_TEST_TMP:-/tmp}/$1.XXXXXX") || exit 1
    trap 'rm -rf "$tmp"' EXIT
    failures=0
    checks=0
}

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

trace_finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$1: $failures of $checks checks failed"
        exit 1
    fi
    echo "$1: $checks checks passed${2:+ ($2)}"
}
