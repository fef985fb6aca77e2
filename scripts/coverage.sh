#!/usr/bin/env bash
# Line and branch coverage of the library (src/), by folder, with gcovr.
#
#   scripts/coverage.sh [--build DIR] [--src DIR] [--tests REGEX] [--exclude REGEX]
#                       [--html FILE] [--missing FOLDER...]
#
# Builds the tree (default: this one) with -DSYNACK_COVERAGE=ON (gcov, -O0)
# in DIR (default build-coverage), zeroes the counters, runs the CTest suite
# there (default: everything but the interop tests, which need root, and
# the tests that build or run something else: fuzz, valgrind, install,
# browser rendering, ThreadSanitizer), then prints per folder of src/ the lines and branches
# executed, the core (wire core ip tcp cc socket) and all of src/:
#
#   coverage  src/tcp     lines 3369/3634 92.7%  branches 2101/2650 79.3%
#
# --missing src/tcp src/socket also lists, per file, the lines never
# executed; --html FILE writes gcovr's detailed HTML report.  --src DIR
# measures another tree, e.g. an older commit exported with
#   git archive 3b303bc | tar -x -C /tmp/old && scripts/coverage.sh --src /tmp/old
# (a tree older than the SYNACK_COVERAGE option gets the same flags
# through CMAKE_C_FLAGS).  Deterministic: the suite's runs are seeded.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here
build=
tests=
exclude='^(interop_|sh_fuzz$|sh_valgrind$|sh_install_pkgconfig$|sh_trace_render$|sh_blocking_tsan$)'
html=
missing=()
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --src) src=$(cd "$2" && pwd); shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    --exclude) exclude=$2; shift 2 ;;
    --html) html=$2; shift 2 ;;
    --missing) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do missing+=("$1"); shift; done ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "coverage.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$build" ] || build=$src/build-coverage
command -v gcovr >/dev/null || { echo "coverage.sh: gcovr not found (scripts/install-deps.sh installs it)" >&2; exit 1; }

flags=(-DSYNACK_COVERAGE=ON)
if ! grep -q SYNACK_COVERAGE "$src/CMakeLists.txt"; then
    flags=(-DCMAKE_C_FLAGS="--coverage -O0" -DCMAKE_EXE_LINKER_FLAGS=--coverage
           -DCMAKE_SHARED_LINKER_FLAGS=--coverage)
fi
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSYNACK_BUILD_BENCH=OFF "${flags[@]}" >/dev/null
cmake --build "$build" -j "${JOBS:-2}" >/dev/null
find "$build" -name '*.gcda' -delete
sel=(-E "$exclude")
[ -n "$tests" ] && sel+=(-R "$tests")
(cd "$build" && ctest -j "${JOBS:-2}" "${sel[@]}" > "$build/coverage-ctest.log" 2>&1) ||
    echo "coverage.sh: some tests failed (see $build/coverage-ctest.log); coverage is of what ran"
grep -E 'tests passed|tests failed' "$build/coverage-ctest.log" || true

# CMake's compiler probe leaves a .gcno with no source beside it.
find "$build/CMakeFiles" -path '*CompilerId*' -name '*.gcno' -delete
json=$build/coverage.json
gcovr --root "$src" --object-directory "$build" --filter "$src/src/" --json "$json" \
      --exclude-unreachable-branches ${html:+--html-details "$html"} >/dev/null
python3 - "$json" "$src" "${missing[@]}" <<'PY'
import json, sys, os
data = json.load(open(sys.argv[1]))
src = sys.argv[2]
want_missing = [m.rstrip('/') for m in sys.argv[3:]]
folders = {}
files = {}
for f in data['files']:
    name = os.path.relpath(os.path.join(src, f['file']), src) if not os.path.isabs(f['file']) else os.path.relpath(f['file'], src)
    lines = [l for l in f['lines'] if not l.get('gcovr/noncode')]
    lt = len(lines); lc = sum(1 for l in lines if l['count'] > 0)
    bt = sum(len(l['branches']) for l in lines)
    bc = sum(1 for l in lines for b in l['branches'] if b['count'] > 0)
    miss = [l['line_number'] for l in lines if l['count'] == 0]
    files[name] = (lt, lc, bt, bc, miss)
    folder = os.path.dirname(name)
    acc = folders.setdefault(folder, [0, 0, 0, 0])
    for i, v in enumerate((lt, lc, bt, bc)):
        acc[i] += v
def pct(a, b): return 100.0 * a / b if b else 100.0
def row(label, v):
    lt, lc, bt, bc = v
    print(f"coverage  {label:<11} lines {lc}/{lt} {pct(lc, lt):.1f}%  branches {bc}/{bt} {pct(bc, bt):.1f}%")
core = ['src/wire', 'src/core', 'src/ip', 'src/tcp', 'src/cc', 'src/socket']
for folder in sorted(folders):
    row(folder, folders[folder])
def total(fs):
    return [sum(folders[f][i] for f in fs if f in folders) for i in range(4)]
row('core', total(core))
row('src', total(list(folders)))
for m in want_missing:
    for name in sorted(files):
        if os.path.dirname(name) == m and files[name][4]:
            ml = files[name][4]
            # ranges a-b for readability
            out, start, prev = [], ml[0], ml[0]
            for x in ml[1:] + [None]:
                if x is not None and x == prev + 1:
                    prev = x; continue
                out.append(f"{start}" if start == prev else f"{start}-{prev}")
                if x is not None: start = prev = x
            print(f"uncovered {name}: {', '.join(out)}")
PY
