#!/usr/bin/env bash
# The simulator transfer tests under valgrind memcheck: a representative
# subset (loss, duplication, reordering, corruption, tiny buffers, a short
# seed sweep of mixed impairments), the socket-rule tests and the re-entry
# tests.  Any memcheck error or definite leak fails (--error-exitcode).
# Plain build only: valgrind and ASan do not mix, so the sanitizer pass
# skips it.  Bounded: about 30-60 s.
set -u
build=${SYNACK_BUILD:?SYNACK_BUILD is set by CTest}
if [ "${SYNACK_SANITIZE:-OFF}" = "ON" ]; then
    echo "SKIP: valgrind runs in the plain suite (this build has ASan)"
    exit 77
fi
if ! command -v valgrind >/dev/null; then
    echo "SKIP: valgrind not installed (scripts/install-deps.sh installs it)"
    exit 77
fi
vg=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect -q)
status=0
run() {
    local what=$1
    shift
    local start=$SECONDS
    if "$@" >"$build/tests/valgrind.out" 2>&1; then
        echo "ok   $what ($((SECONDS - start)) s)"
    else
        echo "FAIL $what (exit $?):"
        tail -40 "$build/tests/valgrind.out"
        status=1
    fi
}
for t in test_loss test_duplication test_reordering test_corruption test_tiny_buffers test_seed_sweep; do
    run "test_transfer $t" env SYNACK_TEST_FILTER=$t SYNACK_SEEDS=3 "${vg[@]}" "$build/tests/test_transfer"
done
run test_socket_rules "${vg[@]}" "$build/tests/test_socket_rules"
run test_reentry "${vg[@]}" "$build/tests/test_reentry"
exit $status
