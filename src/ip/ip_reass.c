/* IPv4 fragment reassembly (RFC 791 3.2, RFC 1122 3.3.2: a host MUST
 * reassemble), bounded against the known attacks:
 *
 *   - memory: each datagram holds one buffer that grows to the highest byte
 *     seen (at most 65535 bytes, the largest datagram), charged to the
 *     stack's account; the datagrams in reassembly together hold at most
 *     cfg.frag_mem_max bytes and number at most cfg.frag_max (Linux's
 *     ipfrag_high_thresh, 4 MiB): past either, the oldest incomplete one is
 *     dropped to make room, so a flood of incomplete datagrams evicts only
 *     itself and costs bounded memory;
 *   - time: an incomplete datagram is dropped 30 s after its first fragment
 *     (RFC 791's reassembly timer, of the order of the TTL; Linux's
 *     ipfrag_time);
 *   - overlaps: a fragment that overlaps another (not an exact copy) drops
 *     the whole datagram, as RFC 5722 requires for IPv6 and Linux does for
 *     IPv4, so no overlap can rewrite a transport header already checked;
 *   - tiny fragments (RFC 1858): a first fragment too short to hold the TCP
 *     header (20 bytes) or the ICMP header (8), and a TCP fragment at offset
 *     8 (which could rewrite the first one's flags), drop the datagram.
 *
 * Fragments are kept in arrival order, which is also expiry order (every
 * datagram lives 30 s from its first fragment), so the next deadline is the
 * head's and expiry costs O(1) per datagram.  Received ranges are a short
 * sorted list per datagram (at most SN_FRAG_RANGES disjoint ones; a
 * datagram needing more is dropped). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack_internal.h"
#include "wire/be.h"

#define FRAG_TIMEOUT SYNACK_SEC(30)
#define SN_FRAG_RANGES 16

struct sn_frag_dgram {
    struct sn_frag_dgram *next, *prev;
    uint32_t src, dst;
    uint16_t id;
    uint8_t proto;
    uint8_t nranges;
    synack_time_t expires;
    uint32_t total;            /* payload length, known once the last fragment came (else 0) */
    uint32_t cap;              /* bytes allocated at data */
    uint8_t hdr[SYNACK_IPV4_HDR_MAX]; /* the first fragment's header */
    uint8_t ihl;               /* its length (0 until the first fragment came) */
    struct { uint32_t lo, hi; } range[SN_FRAG_RANGES]; /* received, sorted, disjoint */
    uint8_t *data;             /* the payload, at its offsets */
};

static void dgram_free(struct synack_stack *s, struct sn_frag_dgram *d)
{
    struct sn_reass *r = &s->reass;
    if (d->prev)
        d->prev->next = d->next;
    else
        r->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        r->tail = d->prev;
    r->count--;
    uint64_t bytes = sizeof(*d) + d->cap;
    r->bytes -= bytes;
    sn_mem_uncharge(&s->mem, bytes);
    sn_mem_free(&s->mem, d->data);
    sn_mem_free(&s->mem, d);
}

void sn_reass_free(struct synack_stack *s)
{
    while (s->reass.head)
        dgram_free(s, s->reass.head);
}

synack_time_t sn_reass_next(const struct synack_stack *s)
{
    return s->reass.head ? s->reass.head->expires : SYNACK_TIME_NEVER;
}

void sn_reass_advance(struct synack_stack *s)
{
    while (s->reass.head && s->reass.head->expires <= s->now) {
        s->stats.ip_reasm_timeout++;
        dgram_free(s, s->reass.head);
    }
}

/* Make room for `need` more bytes and one more datagram: drop the oldest. */
static bool make_room(struct synack_stack *s, uint64_t need, const struct sn_frag_dgram *keep)
{
    struct sn_reass *r = &s->reass;
    while (r->head && (r->bytes + need > s->cfg.frag_mem_max || (!keep && r->count >= s->cfg.frag_max))) {
        if (r->head == keep)
            return false;
        s->stats.ip_reasm_evicted++;
        dgram_free(s, r->head);
    }
    return r->bytes + need <= s->cfg.frag_mem_max;
}

static struct sn_frag_dgram *find(struct synack_stack *s, const struct synack_ipv4_hdr *ip)
{
    for (struct sn_frag_dgram *d = s->reass.head; d; d = d->next)
        if (d->id == ip->id && d->src == ip->src && d->dst == ip->dst && d->proto == ip->proto)
            return d;
    return NULL;
}

/* Record [lo, hi).  Returns 1 (new), 0 (an exact copy of one received), -1
 * (an overlap, or too many ranges). */
static int add_range(struct sn_frag_dgram *d, uint32_t lo, uint32_t hi)
{
    unsigned i = 0;
    while (i < d->nranges && d->range[i].hi <= lo)
        i++;
    if (i < d->nranges && d->range[i].lo < hi)
        return d->range[i].lo == lo && d->range[i].hi == hi ? 0 : -1;
    /* Merge with touching neighbours to keep the list short. */
    bool left = i > 0 && d->range[i - 1].hi == lo;
    bool right = i < d->nranges && d->range[i].lo == hi;
    if (left && right) {
        d->range[i - 1].hi = d->range[i].hi;
        memmove(&d->range[i], &d->range[i + 1], (d->nranges - i - 1) * sizeof(d->range[0]));
        d->nranges--;
    } else if (left) {
        d->range[i - 1].hi = hi;
    } else if (right) {
        d->range[i].lo = lo;
    } else {
        if (d->nranges == SN_FRAG_RANGES)
            return -1;
        memmove(&d->range[i + 1], &d->range[i], (d->nranges - i) * sizeof(d->range[0]));
        d->range[i].lo = lo;
        d->range[i].hi = hi;
        d->nranges++;
    }
    return 1;
}

/* The datagram is whole: hand it to the transport, then free it. */
static int deliver(struct synack_stack *s, struct sn_frag_dgram *d)
{
    struct synack_ipv4_hdr ip;
    memset(&ip, 0, sizeof(ip));
    ip.ihl = d->ihl;
    ip.tos = d->hdr[1];
    ip.total_len = (uint16_t)(d->ihl + d->total);
    ip.id = d->id;
    ip.ttl = d->hdr[8];
    ip.proto = d->proto;
    ip.src = d->src;
    ip.dst = d->dst;
    ip.payload = d->data;
    ip.payload_len = (uint16_t)d->total;
    s->stats.ip_reasm_ok++;
    int rc = sn_ip_deliver(s, &ip);
    dgram_free(s, d);
    return rc;
}

int sn_ip_reass(struct synack_stack *s, const struct synack_ipv4_hdr *ip, const uint8_t *pkt)
{
    s->stats.ip_frag_in++;
    uint32_t lo = (uint32_t)ip->frag_off * 8u, len = ip->payload_len;
    uint32_t hi = lo + len;
    bool last = !(ip->flags & SYNACK_IPV4_MF);
    struct sn_frag_dgram *d = find(s, ip);
    /* RFC 1858: tiny fragments.  A first fragment must hold the transport
     * header; a TCP fragment at offset 8 could rewrite the first's flags. */
    uint32_t min_first = ip->proto == SYNACK_IPPROTO_TCP ? 20u : 8u;
    bool tiny = (lo == 0 && !last && len < min_first) ||
                (ip->proto == SYNACK_IPPROTO_TCP && ip->frag_off == 1);
    /* Every fragment but the last carries a multiple of 8 bytes (RFC 791);
     * none reaches past the largest datagram. */
    bool bad = (!last && (len % 8) != 0) || hi + ip->ihl > 65535 || (len == 0 && !last);
    if (tiny || bad) {
        if (tiny)
            s->stats.ip_frag_drop_tiny++;
        else
            s->stats.ip_frag_drop_bad++;
        if (d)
            dgram_free(s, d);
        return -EBADMSG;
    }
    if (!d) {
        if (!make_room(s, sizeof(*d), NULL) || !sn_mem_charge(&s->mem, sizeof(*d))) {
            s->stats.ip_frag_drop_limit++;
            return -ENOBUFS;
        }
        d = sn_mem_calloc(&s->mem, 1, sizeof(*d));
        if (!d) {
            sn_mem_uncharge(&s->mem, sizeof(*d));
            s->stats.ip_frag_drop_limit++;
            return -ENOMEM;
        }
        d->src = ip->src;
        d->dst = ip->dst;
        d->id = ip->id;
        d->proto = ip->proto;
        d->expires = s->now + FRAG_TIMEOUT;
        d->prev = s->reass.tail;
        if (s->reass.tail)
            s->reass.tail->next = d;
        else
            s->reass.head = d;
        s->reass.tail = d;
        s->reass.count++;
        s->reass.bytes += sizeof(*d);
    }
    if (last) {
        if ((d->total && d->total != hi) || (d->nranges && d->range[d->nranges - 1].hi > hi)) {
            s->stats.ip_frag_drop_overlap++; /* two different ends, or data past the end */
            dgram_free(s, d);
            return -EBADMSG;
        }
        d->total = hi;
    } else if (d->total && hi > d->total) {
        s->stats.ip_frag_drop_overlap++;
        dgram_free(s, d);
        return -EBADMSG;
    }
    int added = add_range(d, lo, hi);
    if (added < 0) {
        s->stats.ip_frag_drop_overlap++; /* RFC 5722: the whole datagram goes */
        dgram_free(s, d);
        return -EBADMSG;
    }
    if (added == 0) {
        s->stats.ip_frag_drop_dup++;
        return 0;
    }
    if (hi > d->cap) {
        /* Grow to the highest byte seen, in 4 KiB steps, within the limits. */
        uint32_t cap = (hi + 4095u) & ~4095u;
        if (cap > 65536u)
            cap = 65536u;
        uint32_t more = cap - d->cap;
        if (!make_room(s, more, d) || !sn_mem_charge(&s->mem, more)) {
            s->stats.ip_frag_drop_limit++;
            dgram_free(s, d);
            return -ENOBUFS;
        }
        uint8_t *nb = sn_mem_realloc(&s->mem, d->data, cap);
        if (!nb) {
            sn_mem_uncharge(&s->mem, more);
            s->stats.ip_frag_drop_limit++;
            dgram_free(s, d);
            return -ENOMEM;
        }
        d->data = nb;
        d->cap = cap;
        s->reass.bytes += more;
    }
    memcpy(d->data + lo, ip->payload, len);
    if (lo == 0) {
        d->ihl = ip->ihl;
        memcpy(d->hdr, pkt, ip->ihl);
    }
    if (d->total && d->nranges == 1 && d->range[0].lo == 0 && d->range[0].hi == d->total)
        return deliver(s, d);
    return 0;
}
