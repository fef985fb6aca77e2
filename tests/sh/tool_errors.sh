#!/usr/bin/env bash
# The tool says what is wrong: every bad option value is named with its
# valid range, a missing file is named, conflicting options are refused,
# --loss is a percentage everywhere, and `demo --scenario transfer --bytes 0`
# succeeds.  No root needed: every case fails before a device is opened.
set -uo pipefail
bin=${SYNACK_BIN:?}
fails=0
# expect STATUS PATTERN ARGS...: exit status and a line of stderr matching PATTERN.
expect() {
    local want=$1 pat=$2 out rc
    shift 2
    out=$("$bin" "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -ne "$want" ] || ! grep -qE -- "$pat" <<<"$out"; then
        echo "FAIL: synack $*: status $rc (want $want), stderr: $out (want /$pat/)"
        fails=$((fails + 1))
    fi
}
expect 2 '^synack demo: --loss 150: want a percentage, 0\.\.100$' demo --loss 150
expect 2 '^synack demo: --dup x: want a percentage, 0\.\.100$' demo --dup x
expect 2 '^synack demo: --delay -1: want 0\.\.10000 milliseconds$' demo --delay -1
expect 2 '^synack demo: --msl 0: want 0\.001\.\.3600 seconds$' demo --msl 0
expect 2 '^synack demo: --bytes 2T: want a byte count, 0\.\.1T' demo --scenario transfer --bytes 2T
expect 2 '^synack demo: --cc vegas: want reno or cubic$' demo --cc vegas
expect 1 '^synack demo: --pcap /nonexistent/dir/x\.pcap: No such file' demo --pcap /nonexistent/dir/x.pcap
for cmd in serve connect; do
    expect 2 "^synack $cmd: --loss 101: want a percentage, 0\.\.100\$" $cmd --tun t0 --loss 101
    expect 2 "^synack $cmd: --in-loss -1: want a percentage" $cmd --tun t0 --in-loss -1
    expect 2 "^synack $cmd: --mtu 10: want a whole number, 68\.\.65535\$" $cmd --tun t0 --mtu 10
    expect 2 "^synack $cmd: --port 0: want a whole number, 1\.\.65535\$" $cmd --tun t0 --port 0
    expect 2 "^synack $cmd: --delay 2e9: want 0\.\.1e\+06 milliseconds\$" $cmd --tun t0 --delay 2e9
    expect 2 "^synack $cmd: --close-wait x: want 0\.\.1e\+06 seconds\$" $cmd --tun t0 --close-wait x
    expect 2 "^synack $cmd: --addr 1\.2\.3\.4: want A\.B\.C\.D/PREFIX with a prefix of 1\.\.30\$" $cmd --tun t0 --addr 1.2.3.4
    expect 2 "^synack $cmd: --tun and --tap exclude each other" $cmd --tun t0 --tap t1
    expect 2 "^synack $cmd: --tun and --tap exclude each other" $cmd --tap t1 --tun t0
done
expect 2 '^synack serve: --app http=/nonexistent/www: /nonexistent/www: No such file' \
    serve --tun t0 --addr 10.9.0.2/24 --app http=/nonexistent/www
expect 2 '^synack serve: --backlog 0: want a whole number, 1\.\.4096$' serve --tun t0 --backlog 0
expect 2 '^synack serve: --threads 0: want a whole number, 1\.\.64$' serve --tun t0 --threads 0
expect 2 '^synack serve: --threads 2 does not go with --tap' \
    serve --tap t0 --addr 10.9.0.2/24 --threads 2
expect 2 '^synack serve: --threads 2 does not go with --pcap' \
    serve --tun t0 --addr 10.9.0.2/24 --threads 2 --pcap /dev/null
# --loss 1 means 1% for serve/connect as for demo: accepted (fails later, on the device).
out=$("$bin" serve --loss 1 2>&1)
grep -q 'say which device' <<<"$out" || { echo "FAIL: serve --loss 1 refused: $out"; fails=$((fails + 1)); }
# connect: --port has a default, so the usage does not make it look required.
if "$bin" connect --help | head -n 2 | grep -q -- ' --port N '; then
    if ! "$bin" connect --help | head -n 2 | grep -q -- '\[--port N\]'; then
        echo "FAIL: connect --help shows --port as required"; fails=$((fails + 1))
    fi
fi
"$bin" connect --help | grep -q -- '--port N .*default 80' ||
    { echo "FAIL: connect --help does not give --port's default"; fails=$((fails + 1)); }
out=$("$bin" demo --scenario transfer --bytes 0 2>&1)
rc=$?
if [ "$rc" -ne 0 ] || ! grep -q 'transfer: sent 0 bytes, received 0 bytes, sha256 match' <<<"$out"; then
    echo "FAIL: demo --scenario transfer --bytes 0: status $rc"; fails=$((fails + 1))
fi
[ "$fails" -eq 0 ] && echo "tool errors: every case names its option, range or file"
[ "$fails" -eq 0 ]
