/* ICMPv4 (RFC 792, RFC 1122 3.2.2): answer echo requests, and pass errors
 * that quote one of our TCP segments to TCP. */
#include <errno.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"
#include "wire/be.h"

/* RFC 1122 3.2.2.6: the reply carries the request's identifier, sequence
 * number and data unchanged. */
static int icmp_echo_reply(struct synack_stack *s, const struct synack_ipv4_hdr *ip,
                           const struct synack_icmp_hdr *req)
{
    /* RFC 1122 3.2.2.6: the reply carries all the request's data; a reply
     * larger than the link MTU (to a reassembled request) goes out in
     * fragments (sn_ip_output). */
    struct synack_icmp_hdr rep = *req;
    rep.type = SYNACK_ICMP_ECHO_REPLY;
    rep.code = 0;
    int n = synack_icmp_emit(s->pkt + SYNACK_IPV4_HDR_MIN, SN_PKT_MAX - SYNACK_IPV4_HDR_MIN, &rep);
    if (n < 0)
        return -EMSGSIZE;
    s->stats.icmp_out++;
    s->stats.icmp_echo_replied++;
    return sn_ip_output(s, ip->src, SYNACK_IPPROTO_ICMP, (size_t)n, NULL);
}

int sn_icmp_input(struct synack_stack *s, const struct synack_ipv4_hdr *ip)
{
    struct synack_icmp_hdr h;
    s->stats.icmp_in++;
    int rc = synack_icmp_parse(ip->payload, ip->payload_len, &h);
    if (rc < 0) {
        s->stats.icmp_drop++;
        return -EBADMSG;
    }
    switch (h.type) {
    case SYNACK_ICMP_ECHO_REQUEST:
        return icmp_echo_reply(s, ip, &h);
    case SYNACK_ICMP_DEST_UNREACH:
    case SYNACK_ICMP_TIME_EXCEEDED: {
        /* The quote: the original IPv4 header (checked, but its checksum may
         * have been rewritten on the way, so only lengths are trusted) and
         * at least 8 bytes of its payload: the TCP ports and sequence number. */
        const uint8_t *q = h.data;
        size_t qlen = h.data_len;
        size_t ihl = (size_t)(q[0] & 0x0f) * 4;
        if ((q[0] >> 4) != 4 || ihl < SYNACK_IPV4_HDR_MIN || qlen < ihl + 8 ||
            q[9] != SYNACK_IPPROTO_TCP) {
            s->stats.icmp_drop++;
            return -EBADMSG;
        }
        struct synack_tuple t = {
            .laddr = get32(q + 12),
            .raddr = get32(q + 16),
            .lport = get16(q + ihl),
            .rport = get16(q + ihl + 2),
        };
        uint32_t seq = get32(q + ihl + 4);
        return sn_tcp_icmp_error(s, &t, seq, h.type, h.code, h.mtu);
    }
    default:
        s->stats.icmp_drop++;
        return 0;
    }
}
