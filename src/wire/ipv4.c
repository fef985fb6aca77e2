/* IPv4 header codec (RFC 791 section 3.1). */
#include "synack/wire.h"
#include "wire/be.h"
#include "wire/csum_words.h"

/* A header's checksum (RFC 791 3.1): its 5 to 15 words summed in line
 * (wire/csum_words.h), the value synack_csum(b, ihl) gives. */
static uint16_t csum_hdr(const uint8_t *b, size_t ihl)
{
    return (uint16_t)~sn_csum_words(b, ihl / 4, 0); /* <= 0xffff: folded already */
}

int synack_ipv4_parse(const uint8_t *buf, size_t len, struct synack_ipv4_hdr *h)
{
    size_t ihl;
    uint16_t total, frag;

    if (len < SYNACK_IPV4_HDR_MIN)
        return SYNACK_WIRE_ETRUNC;
    if (buf[0] >> 4 != 4)
        return SYNACK_WIRE_EVERSION;
    ihl = (size_t)(buf[0] & 0x0f) * 4;
    if (ihl < SYNACK_IPV4_HDR_MIN)
        return SYNACK_WIRE_EHDRLEN;
    if (ihl > len)
        return SYNACK_WIRE_ETRUNC;
    total = get16(buf + 2);
    if (total < ihl || total > len)
        return SYNACK_WIRE_ETOTLEN;
    /* RFC 791 3.1 / RFC 1122 3.2.1.2: a datagram whose header checksum fails is discarded. */
    if (csum_hdr(buf, ihl) != 0)
        return SYNACK_WIRE_ECSUM;

    h->ihl = (uint8_t)ihl;
    h->total_len = total;
    h->tos = buf[1];
    h->id = get16(buf + 4);
    frag = get16(buf + 6);
    h->flags = (uint8_t)((frag >> 13) & (SYNACK_IPV4_DF | SYNACK_IPV4_MF));
    h->frag_off = frag & 0x1fff;
    h->ttl = buf[8];
    h->proto = buf[9];
    h->checksum = get16(buf + 10);
    h->src = get32(buf + 12);
    h->dst = get32(buf + 16);
    h->payload = buf + ihl;
    h->payload_len = (uint16_t)(total - ihl);
    return SYNACK_WIRE_OK;
}

int synack_ipv4_emit(uint8_t *buf, size_t cap, const struct synack_ipv4_hdr *h)
{
    if (h->total_len < SYNACK_IPV4_HDR_MIN || (h->flags & ~(SYNACK_IPV4_DF | SYNACK_IPV4_MF)) ||
        h->frag_off > 0x1fff)
        return SYNACK_WIRE_EINVAL;
    if (cap < SYNACK_IPV4_HDR_MIN)
        return SYNACK_WIRE_ENOSPC;
    buf[0] = 0x45;   /* version 4, IHL 5 words */
    buf[1] = h->tos;
    put16(buf + 2, h->total_len);
    put16(buf + 4, h->id);
    put16(buf + 6, (uint16_t)(h->flags << 13 | h->frag_off));
    buf[8] = h->ttl;
    buf[9] = h->proto;
    put16(buf + 10, 0);
    put32(buf + 12, h->src);
    put32(buf + 16, h->dst);
    put16(buf + 10, csum_hdr(buf, SYNACK_IPV4_HDR_MIN));
    return SYNACK_IPV4_HDR_MIN;
}
