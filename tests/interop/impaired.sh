#!/usr/bin/env bash
# Transfers across an impaired link still match byte for byte.  Both
# directions lose, duplicate, reorder and delay packets:
#   kernel -> synack: tc netem on the kernel's side of the device when the
#     kernel has it (sch_netem); otherwise synack's own --in-* impairment,
#     which drops, duplicates, reorders and delays what synack reads;
#   synack -> kernel: synack's --loss/--dup/--reorder/--delay (seeded).
# Transfers: curl from `synack serve --app http` (1 KiB, 1 MiB, 8 MiB);
# synack's client fetching 1 MiB from python3's http.server and sending
# 1 MiB to nc.  The captures must still show full handshakes and no bad
# checksum (retransmissions are expected here).
source "$(dirname "$0")/lib.bash"
interop_require curl python3 nc ss tc tcpdump tshark
interop_setup

SYN=10.200.8.2
PEER=10.200.8.1
www=$TMP/www
mkdir -p "$www"
make_file "$www/1k.bin" 1024
make_file "$www/1m.bin" 1048576
make_file "$www/8m.bin" 8388608

OUT_IMPAIR=(--loss 2% --dup 1% --reorder 2% --delay 1 --seed 42)
NETEM="loss 2% duplicate 1% delay 1ms reorder 2% 50%"
IN_IMPAIR=(--in-loss 2% --in-dup 1% --in-reorder 2% --in-delay 1)

# impair_kernel_side DEV: netem on DEV if possible; else sets IN to synack's
# input impairment.
impair_kernel_side() {
    if ns tc qdisc replace dev "$1" root netem $NETEM 2>"$TMP/netem.err"; then
        IN=()
        echo "note: kernel -> synack impaired by tc netem ($NETEM)"
    else
        IN=("${IN_IMPAIR[@]}")
        echo "note: no netem in this kernel ($(head -1 "$TMP/netem.err")): kernel -> synack" \
            "impaired inside synack (${IN[*]})"
    fi
}

# --- serve ---------------------------------------------------------------------
persistent_tun syn0 $PEER/24 || { fail "cannot create the persistent TUN syn0"; interop_finish; }
impair_kernel_side syn0
start_capture "$TMP/serve.pcap" syn0
if start_serve "$TMP/serve.log" --tun syn0 --addr $SYN/24 --app "http=$www" "${OUT_IMPAIR[@]}" "${IN[@]}"; then
    for f in 1k.bin 1m.bin 8m.bin; do
        if ns timeout 90 curl -sS -o "$TMP/got.$f" -w '%{speed_download}\n' "http://$SYN/$f" >"$TMP/speed" &&
            same_file "$TMP/got.$f" "$www/$f"; then
            pass "impaired: GET /$f: SHA-256 matches ($(awk '{printf "%.2f MB/s", $1 / 1e6}' "$TMP/speed"))"
        else
            fail "impaired: GET /$f: download failed or differs"
        fi
    done
    stop_serve "$TMP/serve.log"
    grep -E "impairment:|tcp:" "$TMP/serve.log" | sed 's/^synack serve: /    /'
fi
stop_capture "$TMP/serve.pcap"
check_handshakes "$TMP/serve.pcap" $SYN 1460
check_checksums "$TMP/serve.pcap" $SYN

# --- connect -------------------------------------------------------------------
persistent_tun syc0 10.200.9.1/24 || { fail "cannot create the persistent TUN syc0"; interop_finish; }
impair_kernel_side syc0
start_capture "$TMP/client.pcap" syc0
ns_bg timeout 100 python3 -m http.server --directory "$www" --bind 10.200.9.1 8000 >"$TMP/http.log" 2>&1
wait_for 10 listening 8000 || fail "python3 -m http.server did not start"
connect() {
    ns timeout 90 "$SYNACK_BIN" connect --tun syc0 --addr 10.200.9.2/24 --to 10.200.9.1 \
        "${OUT_IMPAIR[@]}" "${IN[@]}" "$@"
}
if connect --port 8000 --app get=/1m.bin --out "$TMP/got.client" 2>"$TMP/get.log" &&
    same_file "$TMP/got.client" "$www/1m.bin"; then
    pass "impaired: synack connect get=/1m.bin from http.server: SHA-256 matches"
else
    fail "impaired: synack connect get=/1m.bin:"
    sed 's/^/    /' "$TMP/get.log"
fi
ns_bg timeout 90 nc -l 10.200.9.1 9000 >"$TMP/nc.out"
nc_pid=$LAST_PID
wait_for 10 listening 9000 || fail "nc did not listen"
if connect --port 9000 --app "send=$www/1m.bin" 2>"$TMP/send.log" && wait_pid "$nc_pid" 30 &&
    same_file "$TMP/nc.out" "$www/1m.bin"; then
    pass "impaired: synack connect send=1m.bin to nc: SHA-256 matches"
else
    fail "impaired: synack connect send=1m.bin to nc:"
    sed 's/^/    /' "$TMP/send.log"
fi
stop_capture "$TMP/client.pcap"
check_handshakes "$TMP/client.pcap" 10.200.9.2 1460
check_checksums "$TMP/client.pcap" $SYN
interop_finish
