#!/usr/bin/env bash
# Installs the Debian packages that the build and the tests use, only when missing.
# Needs root (or sudo) for apt-get; without it, says what is missing and goes on:
# the tests that need a missing tool then skip and say why.
set -eu
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# Build: cmake, gcc, cmocka, OpenSSL (SHA-256 in tests), libpcap (synack trace).
# Fuzzing: clang with its libFuzzer runtime.  Checking: valgrind, gcovr (coverage).
# Interop and benchmarks: tshark, iproute2, curl, nc, tcpdump, ping, iperf3, ab,
# lwIP (the side-by-side benchmark), chromium (rendering the SVG/HTML pictures),
# jq (reading synack trace --json in tests).
for p in cmake make gcc pkg-config libcmocka-dev tshark iproute2 libssl-dev curl netcat-openbsd \
         tcpdump iputils-ping python3 libpcap-dev clang libclang-rt-14-dev valgrind gcovr \
         iperf3 ethtool apache2-utils liblwip-dev chromium fonts-dejavu-core jq; do
    have_pkg "$p" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-deps: not root and no sudo; missing packages: ${need[*]}" >&2
        exit 0
    fi
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
