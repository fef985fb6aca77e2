/* ICMPv4 codec (RFC 792) for the messages synack uses: echo request/reply,
 * destination unreachable (with the RFC 1191 next-hop MTU) and time exceeded. */
#include "synack/wire.h"
#include "wire/be.h"

#include <limits.h>
#include <string.h>

/* Highest code understood: RFC 792 defines 0-5, RFC 1122 3.2.2.1 adds 6-12,
 * RFC 1812 5.2.7.1 adds 13-15. */
#define UNREACH_CODE_MAX 15
#define TIMXCEED_CODE_MAX 1   /* 0 TTL exceeded in transit, 1 reassembly time exceeded */

int synack_icmp_parse(const uint8_t *buf, size_t len, struct synack_icmp_hdr *h)
{
    const uint8_t *data = buf + SYNACK_ICMP_HDR_LEN;
    size_t data_len, quote_min;

    if (len < SYNACK_ICMP_HDR_LEN)
        return SYNACK_WIRE_ETRUNC;
    data_len = len - SYNACK_ICMP_HDR_LEN;
    if (synack_csum(buf, len) != 0)
        return SYNACK_WIRE_ECSUM;

    switch (buf[0]) {
    case SYNACK_ICMP_ECHO_REQUEST:
    case SYNACK_ICMP_ECHO_REPLY:
        /* The code is 0 (RFC 792); like Linux, an echo is answered whatever it says. */
        h->id = get16(buf + 4);
        h->seq = get16(buf + 6);
        h->mtu = 0;
        break;
    case SYNACK_ICMP_DEST_UNREACH:
    case SYNACK_ICMP_TIME_EXCEEDED:
        if (buf[1] > (buf[0] == SYNACK_ICMP_DEST_UNREACH ? UNREACH_CODE_MAX : TIMXCEED_CODE_MAX))
            return SYNACK_WIRE_ETYPE;
        /* RFC 792: the quote is the offending datagram's IP header (options
         * included) plus its first 64 bits of data: what the transport needs
         * to find its connection. */
        quote_min = SYNACK_IPV4_HDR_MIN + 8;
        if (data_len >= 1 && (size_t)(data[0] & 0x0f) * 4 + 8 > quote_min)
            quote_min = (size_t)(data[0] & 0x0f) * 4 + 8;
        if (data_len < quote_min)
            return SYNACK_WIRE_ETRUNC;
        h->id = 0;
        h->seq = 0;
        /* RFC 1191 section 4: the next-hop MTU is the low 16 bits of the unused field. */
        h->mtu = buf[0] == SYNACK_ICMP_DEST_UNREACH && buf[1] == SYNACK_ICMP_UNREACH_NEEDFRAG
                     ? get16(buf + 6) : 0;
        break;
    default:
        return SYNACK_WIRE_ETYPE;
    }
    h->type = buf[0];
    h->code = buf[1];
    h->checksum = get16(buf + 2);
    h->data = data;
    h->data_len = data_len;
    return SYNACK_WIRE_OK;
}

int synack_icmp_emit(uint8_t *buf, size_t cap, const struct synack_icmp_hdr *h)
{
    size_t total;

    if (h->data_len > (size_t)INT_MAX - SYNACK_ICMP_HDR_LEN)
        return SYNACK_WIRE_ENOSPC;
    total = SYNACK_ICMP_HDR_LEN + h->data_len;
    if (cap < total)
        return SYNACK_WIRE_ENOSPC;
    /* The data first: it may overlap the header's bytes of buf (memmove). */
    if (h->data_len > 0 && h->data != buf + SYNACK_ICMP_HDR_LEN)
        memmove(buf + SYNACK_ICMP_HDR_LEN, h->data, h->data_len);
    buf[0] = h->type;
    buf[1] = h->code;
    put16(buf + 2, 0);
    if (h->type == SYNACK_ICMP_ECHO_REQUEST || h->type == SYNACK_ICMP_ECHO_REPLY) {
        put16(buf + 4, h->id);
        put16(buf + 6, h->seq);
    } else {
        /* "Unused", zero when sent (RFC 792), except for the RFC 1191 MTU. */
        put16(buf + 4, 0);
        put16(buf + 6, h->type == SYNACK_ICMP_DEST_UNREACH &&
                               h->code == SYNACK_ICMP_UNREACH_NEEDFRAG ? h->mtu : 0);
    }
    put16(buf + 2, synack_csum(buf, total));
    return (int)total;
}
