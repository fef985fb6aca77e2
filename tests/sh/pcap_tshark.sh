#!/usr/bin/env bash
# The simulator's pcap files, read back by tshark (Wireshark's dissectors, an
# implementation independent of ours): every packet must decode as IPv4
# carrying TCP or ICMP, every IPv4/TCP/ICMP checksum must verify, nothing may
# be malformed or raise an expert error, and the scenario's key segments must
# be there.
#
#   pcap_tshark.sh            run `synack demo` scenarios and check their pcaps
#                             (CTest: SYNACK_BIN, SYNACK_TEST_TMP set)
#   pcap_tshark.sh FILE...    check the given pcap files only
#
# tshark 4.0 field values: *.checksum.status 0 = Bad, 1 = Good,
# 2 = Unverified, 3 = Not present; checksums are verified only with the
# ip.check_checksum / tcp.check_checksum preferences on (ICMP always).
set -u

if ! command -v tshark >/dev/null 2>&1; then
    echo "SKIP: tshark not installed (scripts/install-deps.sh installs it)"
    exit 77
fi

tmp=$(mktemp -d "${SYNACK_TEST_TMP:-/tmp}/pcap_tshark.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# tshark with checksum verification on; its stderr goes to $tmp/tshark.err.
ts() {
    tshark -n -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE "$@" 2>"$tmp/tshark.err"
}

# The frame numbers of `file` matching display filter `filter`, one a line,
# into $tmp/match; returns tshark's status.
match() {
    ts -r "$1" -Y "$2" -T fields -e frame.number >"$tmp/match"
}

# check_file FILE [REQUIRED_FILTER...]: the checks above; each required
# display filter must match at least one frame.
check_file() {
    local file=$1 name
    name=$(basename "$file")
    shift
    if ! ts -r "$file" -T fields -E separator=/t -e frame.number -e frame.protocols \
        -e ip.checksum.status -e tcp.checksum.status -e icmp.checksum.status >"$tmp/fields"; then
        fail "$name: tshark cannot read it: $(grep -v 'Running as user' "$tmp/tshark.err")"
        return
    fi
    local n
    n=$(wc -l <"$tmp/fields")
    if [ "$n" -eq 0 ]; then
        fail "$name: no packets"
        return
    fi

    # Per frame: the protocol stack, and the checksum statuses.  A field may
    # hold several values (an ICMP error quotes a header): the first is the
    # packet's own and must be Good, none may be Bad.
    local bad
    bad=$(awk -F'\t' '
        function good(field, what, required,   v, k, i) {
            if (field == "") {
                if (required) printf "frame %s: no %s checksum status\n", $1, what
                return
            }
            k = split(field, v, ",")
            if (v[1] != "1") printf "frame %s: %s checksum status %s (1 is Good)\n", $1, what, v[1]
            for (i = 2; i <= k; i++)
                if (v[i] == "0") printf "frame %s: a quoted %s checksum is Bad\n", $1, what
        }
        {
            if ($2 !~ /^raw:ip:(tcp|icmp)(:|$)/) {
                printf "frame %s: protocols %s (want raw:ip:tcp or raw:ip:icmp)\n", $1, $2
                next
            }
            good($3, "IPv4", 1)
            good($4, "TCP", $2 ~ /^raw:ip:tcp/)
            good($5, "ICMP", $2 ~ /^raw:ip:icmp/)
        }' "$tmp/fields")
    if [ -n "$bad" ]; then
        fail "$name:"
        echo "$bad" | sed 's/^/    /'
    fi

    local filter
    for filter in "_ws.malformed" "_ws.expert.severity == error"; do
        if ! match "$file" "$filter"; then
            fail "$name: tshark failed on filter '$filter': $(grep -v 'Running as user' "$tmp/tshark.err")"
        elif [ -s "$tmp/match" ]; then
            fail "$name: frames matching '$filter': $(tr '\n' ' ' <"$tmp/match")"
        fi
    done
    for filter in "$@"; do
        if ! match "$file" "$filter"; then
            fail "$name: tshark failed on filter '$filter': $(grep -v 'Running as user' "$tmp/tshark.err")"
        elif [ ! -s "$tmp/match" ]; then
            fail "$name: no frame matches '$filter'"
        fi
    done
    echo "checked $name: $n packets"
}

# run_demo NAME [DEMO_ARGS...]: `synack demo ARGS --pcap $tmp/NAME.pcap`.
run_demo() {
    local name=$1
    shift
    if ! "$SYNACK_BIN" demo "$@" --pcap "$tmp/$name.pcap" >"$tmp/$name.log" 2>&1; then
        fail "synack demo ${*:+$* }--pcap FILE failed:"
        sed 's/^/    /' "$tmp/$name.log"
        return 1
    fi
}

SYN='tcp.flags.syn == 1 && tcp.flags.ack == 0'
SYNACK='tcp.flags.syn == 1 && tcp.flags.ack == 1'
RST='tcp.flags.reset == 1'

if [ $# -gt 0 ]; then
    for f in "$@"; do
        check_file "$f"
    done
else
    if [ -z "${SYNACK_BIN:-}" ] || [ ! -x "$SYNACK_BIN" ]; then
        echo "FAIL: SYNACK_BIN must name the synack tool (got '${SYNACK_BIN:-}')"
        exit 1
    fi
    # A connection that opens: SYN, SYN-ACK.
    if run_demo demo; then
        check_file "$tmp/demo.pcap" "$SYN" "$SYNACK"
    fi
    # A connection to a closed port: SYN answered by RST.
    if run_demo refused --scenario refused; then
        check_file "$tmp/refused.pcap" "$SYN" "$RST"
    fi
fi

if [ "$failures" -gt 0 ]; then
    echo "FAILED: $failures check(s)"
    exit 1
fi
echo "PASS"
