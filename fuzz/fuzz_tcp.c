/* libFuzzer harness: the TCP codec.  Parse arbitrary bytes as a segment
 * (checksum not verified, so that the fuzzer reaches the options); what
 * parses is emitted (in its own option order when emit can follow it, else
 * in the default layout) and must parse back, checksum verified, to the same
 * header, options and payload. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "synack/wire.h"

#define SRC 0x0a000001u
#define DST 0x0a000002u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_opts(const struct synack_tcp_opts *a, const struct synack_tcp_opts *b)
{
    if (a->present != b->present)
        return 0;
    if ((a->present & SYNACK_TCPOPT_F_MSS) && a->mss != b->mss)
        return 0;
    if ((a->present & SYNACK_TCPOPT_F_WSCALE) && a->wscale != b->wscale)
        return 0;
    if ((a->present & SYNACK_TCPOPT_F_TIMESTAMP) && (a->tsval != b->tsval || a->tsecr != b->tsecr))
        return 0;
    if (a->present & SYNACK_TCPOPT_F_SACK) {
        if (a->nsack != b->nsack)
            return 0;
        for (int i = 0; i < a->nsack; i++)
            if (a->sack[i].left != b->sack[i].left || a->sack[i].right != b->sack[i].right)
                return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct synack_tcp_hdr h, h2;
    if (synack_tcp_parse(data, size, SRC, DST, false, &h) < 0)
        return 0;
    if (h.doff < SYNACK_TCP_HDR_MIN || h.doff + h.payload_len != size)
        abort();
    static uint8_t buf[SYNACK_TCP_HDR_MAX + 65536];
    int n = synack_tcp_emit(buf, sizeof(buf), &h, SRC, DST);
    if (n < 0) {
        /* An order emit cannot follow (unknown kinds, ...): default layout. */
        h.opts.norder = 0;
        n = synack_tcp_emit(buf, sizeof(buf), &h, SRC, DST);
    }
    if (n < 0) {
        /* Only options that no layout holds (e.g. SACK with 4 blocks beside
         * timestamps on a non-SYN) may refuse. */
        if (synack_tcp_opts_len(&h.opts) >= 0 && h.payload_len + SYNACK_TCP_HDR_MAX <= 65535)
            abort();
        return 0;
    }
    if (synack_tcp_parse(buf, (size_t)n, SRC, DST, true, &h2) < 0)
        abort();
    if (h2.sport != h.sport || h2.dport != h.dport || h2.seq != h.seq || h2.ack != h.ack ||
        h2.flags != h.flags || h2.window != h.window || h2.urg_ptr != h.urg_ptr ||
        h2.reserved != h.reserved || !same_opts(&h.opts, &h2.opts) ||
        h2.payload_len != h.payload_len || memcmp(h2.payload, h.payload, h.payload_len) != 0)
        abort();
    return 0;
}
