#!/usr/bin/env bash
# TUN offloads (--offload: IFF_VNET_HDR + TUNSETOFFLOAD) at MTU 1500:
# synack hands the kernel TCP segments of up to 64 KiB with partial
# checksums and the kernel cuts them (TSO/GSO); the kernel hands synack
# segments its GRO coalesced and its own partially checksummed packets.
# 32 MiB each way, SHA-256 checked; the counters show the offloads were used.
# With --pcap, synack cuts its segments itself (as the kernel would) and the
# capture holds only wire-sized packets with correct checksums.
source "$(dirname "$0")/lib.bash"
interop_require curl nc ss tshark
interop_setup

SYN=10.200.7.2
PEER=10.200.7.1
www=$TMP/www
mkdir -p "$www"
make_file "$www/32m.bin" 33554432

# --- synack sends with TSO: curl downloads from synack serve ---------------------
if start_serve "$TMP/serve.log" --tun syn0 --addr $SYN/24 --peer $PEER --app "http=$www" --offload; then
    if ns timeout 60 curl -sS -o "$TMP/got" "http://$SYN/32m.bin" && same_file "$TMP/got" "$www/32m.bin"; then
        pass "curl GET /32m.bin from synack with TSO: SHA-256 matches"
    else
        fail "curl GET /32m.bin with TSO: download failed or differs"
    fi
    rm -f "$TMP/got"
    stop_serve "$TMP/serve.log"
    offload_tso_check "$TMP/serve.log"
fi

# --- synack receives with GRO: synack connect reads from nc ----------------------
persistent_tun syc0 $PEER/24 1500 || fail "cannot create the persistent TUN syc0"
offload_recv tun syc0 $SYN $PEER 9001 "$www/32m.bin"

# --- synack sends to nc with TSO, and the pcap shows wire packets ----------------
ns_bg timeout 60 nc -l $PEER 9000 >"$TMP/nc.out"
nc_pid=$LAST_PID
wait_for 10 listening 9000 || fail "nc did not listen"
if ns timeout 60 "$SYNACK_BIN" connect --tun syc0 --addr $SYN/24 --to $PEER --port 9000 --offload \
    --pcap "$TMP/send.pcap" --app "send=$www/32m.bin" 2>"$TMP/send.log" && wait_pid "$nc_pid" 30 &&
    same_file "$TMP/nc.out" "$www/32m.bin"; then
    pass "synack connect send of 32 MiB to nc with TSO (and --pcap): SHA-256 matches"
else
    fail "synack connect send to nc with TSO:"
    sed 's/^/    /' "$TMP/send.log"
fi
rm -f "$TMP/nc.out"
offload_pcap_check "$TMP/send.pcap" $SYN
interop_finish
