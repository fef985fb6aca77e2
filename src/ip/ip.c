/* The IPv4 layer: accept datagrams addressed to this host and hand them to
 * TCP or ICMP; wrap outgoing transport segments in an IPv4 header.
 *
 * Fragments (RFC 791 3.2) are reassembled within bounds (ip_reass.c).  TCP
 * never needs fragmenting (its MSS fits the MTU, and it sets DF for RFC 1191
 * path MTU discovery); an ICMP echo reply to a large fragmented request is
 * fragmented to the link MTU on the way out (RFC 1122 3.2.2.6: the reply
 * carries the request's data). */
#include <errno.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_check.h"
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
        if (ip.proto != SYNACK_IPPROTO_TCP && ip.proto != SYNACK_IPPROTO_ICMP) {
            s->stats.ip_drop_proto++;
            return -EPROTONOSUPPORT; /* no use keeping what nobody takes */
        }
        return sn_ip_reass(s, &ip, pkt); /* RFC 1122 3.3.2 (ip_reass.c) */
    }
    return sn_ip_deliver(s, &ip);
}

int sn_ip_deliver(struct synack_stack *s, const struct synack_ipv4_hdr *ipp)
{
    struct synack_ipv4_hdr ip = *ipp;
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

/* RFC 791 3.2: split the datagram at s->pkt (payload plen bytes after a
 * 20-byte header) into fragments that fit the MTU, payload in multiples of
 * 8 bytes.  Each fragment's header is written just before its payload, over
 * bytes of the previous fragment, which has been sent by then. */
static int ip_fragment(struct synack_stack *s, struct synack_ipv4_hdr *ip, size_t plen)
{
    size_t chunk = ((size_t)s->cfg.mtu - SYNACK_IPV4_HDR_MIN) & ~(size_t)7;
    int rc = 0;
    for (size_t off = 0; off < plen && rc >= 0; off += chunk) {
        size_t n = plen - off < chunk ? plen - off : chunk;
        uint8_t *h = s->pkt + off;
        ip->total_len = (uint16_t)(SYNACK_IPV4_HDR_MIN + n);
        ip->flags = off + n < plen ? SYNACK_IPV4_MF : 0; /* not DF: it is fragmented */
        ip->frag_off = (uint16_t)(off / 8);
        if (synack_ipv4_emit(h, SYNACK_IPV4_HDR_MIN, ip) < 0)
            return -EINVAL;
        s->stats.ip_out++;
        s->stats.ip_frag_out++;
        s->stats.ip_out_bytes += SYNACK_IPV4_HDR_MIN + n;
        if (s->output_meta) {
            struct synack_pkt_meta none = {.gso_segs = 1};
            rc = s->output_meta(s->user, h, SYNACK_IPV4_HDR_MIN + n, &none);
        } else {
            rc = s->output(s->user, h, SYNACK_IPV4_HDR_MIN + n);
        }
        if (rc < 0)
            s->stats.ip_out_fail++;
    }
    return rc;
}

/* SYNACK_INVARIANTS: every packet sent fits the MTU (each wire segment of
 * a TSO one) with right checksums (but a partial one left to the output). */
static void check_packet(const struct synack_stack *s, size_t len, const struct synack_pkt_meta *m)
{
#ifdef SYNACK_INVARIANTS
    struct sn_check_report r;
    if (sn_check_packet(s, s->pkt, len, m, &r) < 0)
        sn_check_fail(s, "sn_ip_output", &r);
#else
    (void)s, (void)len, (void)m;
#endif
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
    if (SYNACK_IPV4_HDR_MIN + plen > s->cfg.mtu && proto != SYNACK_IPPROTO_TCP)
        return ip_fragment(s, &ip, plen);
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
        check_packet(s, len, m);
        rc = s->output_meta(s->user, s->pkt, len, m);
    } else {
        check_packet(s, len, NULL);
        rc = s->output(s->user, s->pkt, len);
    }
    if (rc < 0)
        s->stats.ip_out_fail++;
    return rc;
}
