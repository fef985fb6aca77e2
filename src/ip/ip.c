/* The IPv4 layer: accept datagrams addressed to this host and hand them to
 * TCP or ICMP; wrap outgoing transport segments in an IPv4 header.
 *
 * Fragments (RFC 791 3.2) are counted and dropped: synack offers an MSS that
 * fits the link MTU and sets DF on everything it sends (RFC 1191 path MTU
 * discovery), so its peers do not fragment towards it; reassembly would add
 * a buffer an attacker could fill for little benefit. */
#include <errno.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

/* RFC 7126 4.3/4.4: a datagram carrying Loose or Strict Source and Record
 * Route (options 131, 137) lets its sender choose the path back, and so
 * pass for an address it does not hold; like Linux (accept_source_route 0)
 * such datagrams are dropped.  The options are walked as RFC 791 3.1 lays
 * them out; a malformed list (a length past the header) counts as carrying
 * one, since nobody can say what it routes. */
static bool has_source_route(const uint8_t *pkt, size_t ihl)
{
    size_t i = SYNACK_IPV4_HDR_MIN;
    while (i < ihl) {
        uint8_t type = pkt[i];
        if (type == 0) /* end of option list */
            return false;
        if (type == 1) { /* no operation */
            i++;
            continue;
        }
        if (i + 1 >= ihl || pkt[i + 1] < 2 || i + pkt[i + 1] > ihl)
            return true;
        if (type == 131 || type == 137)
            return true;
        i += pkt[i + 1];
    }
    return false;
}

int sn_ip_input(struct synack_stack *s, const uint8_t *pkt, size_t len)
{
    struct synack_ipv4_hdr ip;
    s->stats.ip_in++;
    s->stats.ip_in_bytes += len;
    int rc = synack_ipv4_parse(pkt, len, &ip);
    if (rc < 0) {
        s->stats.ip_drop_parse[-rc < SYNACK_WIRE_NERR ? -rc : 0]++;
        return -EBADMSG;
    }
    /* RFC 1122 3.3.4: a host without forwarding takes only its own address
     * (and the limited broadcast for ICMP, which synack does not use). */
    if (ip.dst != s->cfg.addr) {
        s->stats.ip_drop_notme++;
        return -EADDRNOTAVAIL;
    }
    if (ip.ihl > SYNACK_IPV4_HDR_MIN && has_source_route(pkt, ip.ihl)) {
        s->stats.ip_drop_srcroute++;
        return -EOPNOTSUPP;
    }
    if (synack_ipv4_is_fragment(&ip)) {
        s->stats.ip_drop_frag++;
        return -EOPNOTSUPP;
    }
    switch (ip.proto) {
    case SYNACK_IPPROTO_TCP:
        return sn_tcp_input(s, &ip);
    case SYNACK_IPPROTO_ICMP:
        return sn_icmp_input(s, &ip);
    default:
        s->stats.ip_drop_proto++;
        return -EPROTONOSUPPORT;
    }
}

int sn_ip_output(struct synack_stack *s, uint32_t dst, uint8_t proto, size_t plen,
                 struct synack_pkt_meta *m)
{
    return sn_ip_output_tos(s, dst, proto, plen, 0, 0, m);
}

int sn_ip_output_tos(struct synack_stack *s, uint32_t dst, uint8_t proto, size_t plen, uint8_t tos,
                     uint8_t ttl, struct synack_pkt_meta *m)
{
    struct synack_ipv4_hdr ip = {
        .tos = tos,
        .total_len = (uint16_t)(SYNACK_IPV4_HDR_MIN + plen),
        .id = s->ip_id++,
        .flags = SYNACK_IPV4_DF,
        .ttl = ttl ? ttl : s->cfg.ttl,
        .proto = proto,
        .src = s->cfg.addr,
        .dst = dst,
    };
    if (plen > SN_PKT_MAX - SYNACK_IPV4_HDR_MIN)
        return -EMSGSIZE;
    int rc = synack_ipv4_emit(s->pkt, SYNACK_IPV4_HDR_MIN, &ip);
    if (rc < 0)
        return -EINVAL;
    size_t len = SYNACK_IPV4_HDR_MIN + plen;
    s->stats.ip_out++;
    s->stats.ip_out_bytes += len;
    if (s->output_meta) {
        struct synack_pkt_meta none = {.gso_segs = 1};
        if (!m)
            m = &none;
        m->hdr_len = m->gso_size ? m->hdr_len + SYNACK_IPV4_HDR_MIN : 0;
        if (m->flags & SYNACK_PKT_CSUM_PARTIAL)
            m->csum_start = SYNACK_IPV4_HDR_MIN;
        /* A TSO packet takes one IP ID per segment it becomes. */
        if (m->gso_segs > 1)
            s->ip_id = (uint16_t)(s->ip_id + m->gso_segs - 1);
        rc = s->output_meta(s->user, s->pkt, len, m);
    } else {
        rc = s->output(s->user, s->pkt, len);
    }
    if (rc < 0)
        s->stats.ip_out_fail++;
    return rc;
}
