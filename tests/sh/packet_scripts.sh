#!/usr/bin/env bash
# Runs every packet script under tests/scripts (`synack script`, see
# tests/scripts/README.md), as written and again with --wrap, and fails if
# any fails.  First checks the runner
# itself: scripts that must fail are run and their reports compared with what
# they must say (so that no mistake can pass unseen), and a few that use its
# timing features must pass.
set -u
if [ -z "${SYNACK_BIN:-}" ] || [ -z "${SYNACK_SRC:-}" ]; then
    echo "packet_scripts: SYNACK_BIN and SYNACK_SRC must be set (ctest sets them)"
    exit 77
fi
tmp=$(mktemp -d "${SYNACK_TEST_TMP:-/tmp}/packet_scripts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0

# Extra flags for the runner in the self-checks below (e.g. --lenient-tail).
flags=()

# must_fail NAME EXPECTED-TEXT: runs $tmp/NAME.pkt (from stdin); it must FAIL
# with a report containing EXPECTED-TEXT.
must_fail() {
    cat > "$tmp/$1.pkt"
    out=$("$SYNACK_BIN" script "${flags[@]}" "$tmp/$1.pkt" 2>&1)
    rc=$?
    if [ $rc -ne 1 ] || ! grep -q "^FAIL " <<< "$out" || ! grep -qF -- "$2" <<< "$out"; then
        echo "runner self-check '$1' (exit $rc) should have failed with: $2"
        echo "$out"
        status=1
    fi
}

# must_pass NAME: runs $tmp/NAME.pkt (from stdin); it must PASS.
must_pass() {
    cat > "$tmp/$1.pkt"
    if ! out=$("$SYNACK_BIN" script "${flags[@]}" "$tmp/$1.pkt" 2>&1); then
        echo "runner self-check '$1' should have passed:"
        echo "$out"
        status=1
    fi
}

# The stack answers a SYN to a closed port with <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>.
must_pass times <<'EOF'
0     < S 0:0(0) win 100
*     > R. 0:0(0) ack 1 win 0
+0.1  < S 5:5(0) win 100
+0~+0.01 > R. 0:0(0) ack 6 win 0
0.2   < S 7:7(0) win 100
0.19~0.21 > R. 0:0(0) ack 8 win 0
+0.1  `not run`
EOF
must_pass poll-timeout <<'EOF'
0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0
+0...0.1 poll([{fd=3, events=POLLIN, revents=0}], 1, 100) = 0
+0.1  poll([{fd=3, events=POLLIN}], 1, 0) = 0
EOF
must_fail wrong-ack "outbound packet differs (ack)" <<'EOF'
0   < S 0:0(0) win 100
+0  > R. 0:0(0) ack 2 win 0
EOF
must_fail too-early "outbound packet too early: expected at 0.100" <<'EOF'
0    < S 0:0(0) win 100
+0.1 > R. 0:0(0) ack 1 win 0
EOF
must_fail none-sent "synack sent none by" <<'EOF'
0   > S 0:0(0) <...>
EOF
must_fail unexpected "unexpected outbound packet before this event" <<'EOF'
0    < S 0:0(0) win 100
+0.1 close(3) = -1 EBADF (Bad file descriptor)
EOF
must_fail unexpected-at-end "unexpected outbound packet after the last event" <<'EOF'
0   < S 0:0(0) win 100
EOF
must_fail result "expected close(3) = 0" <<'EOF'
0   close(3) = 0
EOF
must_fail errno "actual   close(7) = -1 EBADF" <<'EOF'
0   close(7) = -1 ENOTCONN (Transport endpoint is not connected)
EOF
must_fail unsupported-call "unsupported: system call ioctl()" <<'EOF'
0   ioctl(3, 0x541b, [0]) = 0
EOF
must_fail unsupported-symbol "unsupported: setsockopt(): unknown symbol SO_BOGUS" <<'EOF'
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_BOGUS, [1], 4) = 0
EOF
must_fail code-block "unsupported: %{ }% code blocks" <<'EOF'
0   %{ assert tcpi_state == 1 }%
EOF
must_fail parse-error "parse-error.pkt:2: parse error: inconsistent TCP sequence numbers" <<'EOF'
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  < S 0:10(0) win 100
EOF
must_fail still-blocked "still blocked at" <<'EOF'
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  listen(3, 1) = 0
+0  accept(3, ..., ...) = 4
EOF
# '!' (nplab's packetdrill): a number used on the wire as written, not mapped
# (a RST to a closed port carries <SEQ=SEG.ACK>); `md5` options are sent as
# written and never expected from synack, which does not sign (RFC 2385).
must_pass absolute <<'EOF'
0   < . 5:5(0) ack 777! win 100 <md5 00112233445566778899aabbccddeeff,nop,nop>
+0  > R 777:777(0)!
EOF
must_fail md5-expected "outbound packet differs (options)" <<'EOF'
0   < S 0:0(0) win 100
+0  > R. 0:0(0) ack 1 <md5 00112233445566778899aabbccddeeff,nop,nop>
EOF
must_fail icmp-differs "outbound packet differs (ICMP)" <<'EOF'
0   < icmp echo_request
+0  > icmp unreachable port_unreachable
EOF
must_fail icmp-bad-type "parse error: bad ICMP type 'echo_please'" <<'EOF'
0   < icmp echo_please
EOF

# --lenient-tail (packetdrill's behaviour, for third-party suites): packets
# after the last '>' line are ignored, and only those.
flags=(--lenient-tail)
must_pass lenient-at-end <<'EOF'
0   < S 0:0(0) win 100
+0.1 close(3) = -1 EBADF (Bad file descriptor)
EOF
must_fail lenient-before-expected "unexpected outbound packet before this event" <<'EOF'
0    < S 0:0(0) win 100
+0.1 close(3) = -1 EBADF (Bad file descriptor)
+0.1 < S 0:0(0) win 100
+0   > R. 0:0(0) ack 1 win 0
EOF
flags=()
# --wrap really starts both sides' numbers just below 2^32 (the mapping is
# otherwise invisible: every script must pass both ways).
cat > "$tmp/wrap.pkt" <<'EOF'
0    socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0   bind(3, ..., ...) = 0
+0   listen(3, 1) = 0
+0   < S 0:0(0) win 65535 <mss 1460>
+0   > S. 0:0(0) ack 1 <mss 1460>
EOF
out=$("$SYNACK_BIN" script --wrap --verbose "$tmp/wrap.pkt" 2>&1)
if ! grep -q "^PASS" <<< "$out" || ! grep -q "synack's ISN on the wire: 4294964796" <<< "$out" ||
   ! grep -q "the peer's sequence number on the wire: 4294965796" <<< "$out"; then
    echo "runner self-check: --wrap does not start the numbers below 2^32:"
    echo "$out"
    status=1
fi
if "$SYNACK_BIN" script > /dev/null 2>&1; then
    echo "runner self-check: 'synack script' without files should fail"
    status=1
fi

mapfile -t scripts < <(find "$SYNACK_SRC/tests/scripts" -name '*.pkt' | LC_ALL=C sort)
if [ ${#scripts[@]} -eq 0 ]; then
    echo "packet_scripts: no scripts under $SYNACK_SRC/tests/scripts"
    exit 1
fi
# Every script twice: as written, and with every number space starting just
# below 2^32 so that sequence numbers and timestamps wrap mid-script (issue 9).
echo "== as written"
"$SYNACK_BIN" script "${scripts[@]}" || status=1
echo "== --wrap"
"$SYNACK_BIN" script --wrap "${scripts[@]}" || status=1

# Scripts in the style of third-party suites (tests/packetdrill-compat): they
# pass with the packetdrill compatibility flags, both ways, and fail without.
mapfile -t compat < <(find "$SYNACK_SRC/tests/packetdrill-compat" -name '*.pkt' | LC_ALL=C sort)
if [ ${#compat[@]} -eq 0 ]; then
    echo "packet_scripts: no scripts under $SYNACK_SRC/tests/packetdrill-compat"
    exit 1
fi
echo "== packetdrill-compat: --lenient-tail --quickack"
"$SYNACK_BIN" script --lenient-tail --quickack "${compat[@]}" || status=1
"$SYNACK_BIN" script --lenient-tail --quickack --wrap "${compat[@]}" || status=1
for f in "${compat[@]}"; do
    if "$SYNACK_BIN" script "$f" > /dev/null 2>&1; then
        echo "packet_scripts: $f passes without --lenient-tail --quickack: it tests neither"
        status=1
    fi
done
exit $status
