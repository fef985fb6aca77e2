/* Segmentation offload in software and partial checksums (see
 * include/synack/wire.h): what a TSO-capable NIC, or Linux's GSO, does with
 * a large TCP segment (Linux net/ipv4/tcp_offload.c: tcp_gso_segment).  The
 * drivers use it when the kernel refuses an offload, the simulator to put
 * on its links what a wire would carry, pcap to write real packets. */
#include "synack/wire.h"

#include <string.h>

#include "wire/be.h"

static bool meta_ok(const uint8_t *pkt, size_t len, const struct synack_pkt_meta *m)
{
    if (len < SYNACK_IPV4_HDR_MIN + SYNACK_TCP_HDR_MIN || (pkt[0] >> 4) != 4 ||
        pkt[9] != SYNACK_IPPROTO_TCP)
        return false;
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
    if (ihl < SYNACK_IPV4_HDR_MIN || len < ihl + SYNACK_TCP_HDR_MIN)
        return false;
    size_t thl = (size_t)(pkt[ihl + 12] >> 4) * 4;
    if (thl < SYNACK_TCP_HDR_MIN || ihl + thl > len)
        return false;
    if ((m->flags & SYNACK_PKT_CSUM_PARTIAL) &&
        (m->csum_start != ihl || m->csum_offset != 16))
        return false;
    return m->gso_size == 0 || m->hdr_len == ihl + thl;
}

int synack_pkt_csum_finish(uint8_t *pkt, size_t len, const struct synack_pkt_meta *m)
{
    if (!meta_ok(pkt, len, m) || !(m->flags & SYNACK_PKT_CSUM_PARTIAL))
        return SYNACK_WIRE_EINVAL;
    uint8_t *c = pkt + m->csum_start + m->csum_offset;
    /* The field holds the pseudo-header sum; summing the segment over it
     * and complementing gives the checksum (RFC 1071). */
    uint16_t f = synack_csum_fold(synack_csum_partial(pkt + m->csum_start, len - m->csum_start, 0));
    put16(c, f);
    return SYNACK_WIRE_OK;
}

int synack_gso_segment(const uint8_t *pkt, size_t len, const struct synack_pkt_meta *m,
                       uint8_t *out, size_t cap,
                       int (*fn)(void *user, const uint8_t *seg, size_t seglen), void *user)
{
    if (!meta_ok(pkt, len, m))
        return SYNACK_WIRE_EINVAL;
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
    size_t hl = ihl + (size_t)(pkt[ihl + 12] >> 4) * 4;
    size_t payload = len - hl;
    if (m->gso_size == 0 || payload <= m->gso_size) {
        if (!(m->flags & SYNACK_PKT_CSUM_PARTIAL)) {
            int rc = fn(user, pkt, len);
            return rc < 0 ? rc : 1;
        }
        if (cap < len)
            return SYNACK_WIRE_ENOSPC;
        memcpy(out, pkt, len);
        synack_pkt_csum_finish(out, len, m);
        int rc = fn(user, out, len);
        return rc < 0 ? rc : 1;
    }
    if (cap < hl + m->gso_size)
        return SYNACK_WIRE_ENOSPC;
    uint16_t id = get16(pkt + 4);
    uint32_t seq = get32(pkt + ihl + 4);
    uint8_t flags = pkt[ihl + 13];
    int n = 0;
    for (size_t off = 0; off < payload; off += m->gso_size, n++) {
        size_t plen = payload - off < m->gso_size ? payload - off : m->gso_size;
        bool last = off + plen == payload;
        memcpy(out, pkt, hl);
        put16(out + 2, (uint16_t)(hl + plen));
        put16(out + 4, (uint16_t)(id + n));
        put16(out + 10, 0);
        put16(out + 10, synack_csum(out, ihl));
        uint8_t *th = out + ihl;
        put32(th + 4, seq + (uint32_t)off);
        /* FIN and PSH belong to the last byte; CWR (RFC 3168) to the first segment. */
        th[13] = (uint8_t)(last ? flags : flags & ~(SYNACK_TH_FIN | SYNACK_TH_PSH));
        if (n > 0)
            th[13] &= (uint8_t)~SYNACK_TH_CWR;
        put16(th + 16, 0);
        uint32_t sum = synack_csum_pseudo(get32(out + 12), get32(out + 16), SYNACK_IPPROTO_TCP,
                                          (uint16_t)(hl - ihl + plen));
        sum = synack_csum_copy(out + hl, pkt + hl + off, plen, sum);
        sum = synack_csum_partial(th, hl - ihl, sum);
        put16(th + 16, synack_csum_fold(sum));
        int rc = fn(user, out, hl + plen);
        if (rc < 0)
            return rc;
    }
    return n;
}
