#!/usr/bin/env bash
# Connection rate against the kernel's clients (issue 11, item 4): the same
# kernel-socket client (bench/connrate_net.c: connect, one HTTP/1.0 GET of a
# 256-byte file, read to the end, close; the server closes first) against
#   synack   `synack serve --app http=DIR` over TUN, one thread (one stack),
#   synack 2 threads  the same with --threads 2: one stack per core, each on
#            its own queue of a multi-queue TUN,
#   kernel   the kernel's own server (connrate_net server, the same exchange)
#            over a veth pair between two namespaces, the file opened and
#            read per request,
#   kernel, file cached  the same with the reply built once (synack's http
#            keeps small files in memory, one fstatat per request),
#   baseline (only with SYNACK_CONNRATE_BASELINE=PATH, another build's synack
#            tool, e.g. main's before a change) one thread, that build,
# with 1 and 8 client threads, interleaved round by round.  Root and
# /dev/net/tun (skipped otherwise); everything runs in two network
# namespaces this script creates and deletes (also on failure), on addresses
# that exist only there; each run is bounded by a count and by time.
#
#   bash bench/connrate_tun.sh BUILD_DIR [ROUNDS [COUNT [SECONDS]]]
#        (defaults: 3 rounds, 20000 lifecycles or 10 s per run)
#
# Prints a markdown table: median lifecycles per second and range, and the
# median as a ratio of the kernel's with the same number of threads.
set -u
build=${1:?usage: bash bench/connrate_tun.sh BUILD_DIR [ROUNDS [COUNT [SECONDS]]]}
rounds=${2:-3}
count=${3:-20000}
secs=${4:-10}
bin=$build/tools/synack/synack
net=$build/bench/connrate_net
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
    echo "bench/connrate_tun.sh: skipped (needs root and /dev/net/tun)"
    exit 0
fi
for t in ip timeout; do
    command -v $t >/dev/null || { echo "bench/connrate_tun.sh: skipped ($t not installed)"; exit 0; }
done
[ -x "$bin" ] && [ -x "$net" ] || { echo "bench/connrate_tun.sh: build $bin and $net first" >&2; exit 1; }
[ -z "${SYNACK_CONNRATE_BASELINE:-}" ] || [ -x "$SYNACK_CONNRATE_BASELINE" ] ||
    { echo "bench/connrate_tun.sh: SYNACK_CONNRATE_BASELINE=$SYNACK_CONNRATE_BASELINE is not a program" >&2; exit 1; }
NS=synack-cr-$$
NS2=synack-cr2-$$
TMP=$(mktemp -d /tmp/synack-connrate.XXXXXX)
PIDS=()
. "$(dirname "$0")/lib.bash"
trap bench_cleanup EXIT
bench_netns_pair $NS $NS2 cr0 cr1 10.202.1 || exit 1
mkdir -p "$TMP/www"
head -c 256 /dev/urandom >"$TMP/www/r"

# Prints the client's lifecycles per second (0 when it failed).  $1 threads.
client() {
    ip netns exec $NS timeout $((secs + 20)) "$net" client "$2" "$3" "$1" "$count" "$secs" \
        2>/dev/null | sed -nE 's/.* ([0-9]+) lifecycles\/s$/\1/p' | grep . || echo 0
}

# kernel_run CLIENT_THREADS [cached]
kernel_run() {
    ip netns exec $NS2 timeout $((secs + 30)) "$net" server 10.202.1.2 8080 8 "$TMP/www" \
        $((secs + 5)) ${2:-} &
    local pid=$!
    PIDS+=("$pid")
    sleep 0.3
    client "$1" 10.202.1.2 8080
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# synack_run CLIENT_THREADS SERVE_THREADS [TOOL]
synack_run() {
    local log=$TMP/serve.log tool=${3:-$bin}
    ip netns exec $NS timeout $((secs + 30)) "$tool" serve --tun cs0 --addr 10.202.2.2/24 \
        --peer 10.202.2.1 --app "http=$TMP/www" -q $([ "$2" -gt 1 ] && echo --threads "$2") \
        >/dev/null 2>"$log" &
    local pid=$!
    PIDS+=("$pid")
    # Ready once synack has given the kernel's side its address (serve -q
    # prints no " on " line to wait for).
    for _ in $(seq 50); do ip -n $NS addr show dev cs0 2>/dev/null | grep -q 10.202.2.1 && break; sleep 0.1; done
    client "$1" 10.202.2.2 80
    kill -INT "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

base=${SYNACK_CONNRATE_BASELINE:-}
configs=()
for t in 1 8; do
    configs+=("kernel veth|$t|kernel_run $t" "kernel veth, file cached|$t|kernel_run $t cached")
    [ -n "$base" ] && configs+=("synack TUN, baseline build|$t|synack_run $t 1 $base")
    configs+=("synack TUN|$t|synack_run $t 1" "synack TUN, 2 threads|$t|synack_run $t 2")
done
ratio() { awk -v m="$1" -v r="$2" 'BEGIN { if (r > 0) printf "%.2f", m / r; else print "-" }'; }
declare -A res
for r in $(seq "$rounds"); do
    for c in "${configs[@]}"; do
        key=${c%|*}
        res[$key]="${res[$key]:-} $(${c##*|})"
    done
done

echo "$rounds interleaved rounds, each run $count lifecycles or $secs s; lifecycles/s of wall time."
echo
echo "| server | client threads | median lifecycles/s | range | ratio to the kernel over veth | to the kernel, file cached |"
echo "|---|---:|---:|---:|---:|---:|"
for c in "${configs[@]}"; do
    key=${c%|*}
    name=${key%|*} threads=${key#*|}
    m=$(echo ${res[$key]} | median)
    ref=$(echo ${res["kernel veth|$threads"]} | median)
    refc=$(echo ${res["kernel veth, file cached|$threads"]} | median)
    printf "| %s | %s | %s | %s-%s | %s | %s |\n" "$name" "$threads" "$m" "$(echo ${res[$key]} | lo)" \
        "$(echo ${res[$key]} | hi)" "$(ratio "$m" "$ref")" "$(ratio "$m" "$refc")"
done
