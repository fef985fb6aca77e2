/* Reading a capture for `synack trace` (see trace.h): libpcap opens pcap and
 * pcapng; this file peels the link layer (Ethernet with VLAN tags, raw IP,
 * Linux cooked v1 and v2, BSD loopback) and the IP header (IPv4, IPv6 with
 * its extension headers) and keeps the TCP segments. */
/* libpcap uses the BSD types (u_char, u_int). */
#define _DEFAULT_SOURCE
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd

static uint16_t be16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }

/* IPv6 extension headers to walk past (RFC 8200 4): hop-by-hop, routing,
 * destination options; a fragment header is walked past only on the first
 * fragment (offset 0), later ones carry no TCP header. */
static int ipv6_skip_ext(const uint8_t *b, size_t len, size_t *off, uint8_t *nh)
{
    for (int guard = 0; guard < 8; guard++) {
        if (*nh == 0 || *nh == 43 || *nh == 60) {
            if (*off + 8 > len)
                return -1;
            uint8_t next = b[*off];
            *off += 8u + 8u * b[*off + 1];
            *nh = next;
        } else if (*nh == 44) {
            if (*off + 8 > len || (be16(b + *off + 2) & 0xfff8) != 0)
                return -1;
            *nh = b[*off];
            *off += 8;
        } else {
            return 0;
        }
    }
    return -1;
}

int trace_decode_ip(const uint8_t *b, size_t len, struct trace_pkt *p)
{
    const uint8_t *seg;
    size_t seglen;
    memset(&p->src, 0, sizeof(p->src));
    memset(&p->dst, 0, sizeof(p->dst));
    if (len < 1)
        return -1;
    if (b[0] >> 4 == 4) {
        size_t hl = (size_t)(b[0] & 15) * 4;
        if (len < 20 || hl < 20 || hl > len || b[9] != SYNACK_IPPROTO_TCP)
            return -1;
        size_t tot = be16(b + 2);
        if ((be16(b + 6) & 0x1fff) != 0)
            return -1; /* a later fragment */
        p->src.af = p->dst.af = 4;
        memcpy(p->src.addr, b + 12, 4);
        memcpy(p->dst.addr, b + 16, 4);
        p->ttl = b[8];
        p->ip_id = be16(b + 4);
        /* TSO captures say 0; otherwise trust the header over the snap. */
        p->ip_len = tot ? (uint32_t)tot : (uint32_t)len;
        if (tot < hl)
            tot = len;
        seg = b + hl;
        seglen = (tot > len ? len : tot) - hl;
        p->len = (uint32_t)(tot > hl ? tot - hl : 0);
    } else if (b[0] >> 4 == 6) {
        if (len < 40)
            return -1;
        size_t off = 40;
        uint8_t nh = b[6];
        if (ipv6_skip_ext(b, len, &off, &nh) < 0 || nh != SYNACK_IPPROTO_TCP || off > len)
            return -1;
        size_t plen = be16(b + 4);
        p->src.af = p->dst.af = 6;
        memcpy(p->src.addr, b + 8, 16);
        memcpy(p->dst.addr, b + 24, 16);
        p->ttl = b[7];
        p->ip_id = 0;
        p->ip_len = (uint32_t)(plen + 40);
        size_t tot = plen ? plen + 40 : len;
        if (tot < off)
            return -1;
        seg = b + off;
        seglen = (tot > len ? len : tot) - off;
        p->len = (uint32_t)(tot - off);
    } else {
        return -1;
    }
    /* The TCP header must be whole; the payload may have been cut by the
     * snap length, so parse only the header and take the length from IP. */
    if (seglen < 20)
        return -1;
    size_t doff = (size_t)(seg[12] >> 4) * 4;
    if (doff < 20 || doff > seglen)
        return -1;
    struct synack_tcp_hdr th;
    if (synack_tcp_parse(seg, doff, 0, 0, false, &th) < 0) {
        /* Options we cannot read: keep the segment, without options. */
        struct synack_tcp_hdr bare;
        uint8_t copy[20];
        memcpy(copy, seg, 20);
        copy[12] = (uint8_t)((5 << 4) | (copy[12] & 15));
        if (synack_tcp_parse(copy, 20, 0, 0, false, &bare) < 0)
            return -1;
        th = bare;
        th.doff = (uint8_t)doff;
    }
    p->src.port = th.sport;
    p->dst.port = th.dport;
    p->seq = th.seq;
    p->ack = th.ack;
    p->win = th.window;
    p->flags = th.flags;
    p->doff = (uint8_t)doff;
    p->csum = th.checksum;
    p->urg = th.urg_ptr;
    p->opts = th.opts;
    p->len = p->len >= doff ? p->len - (uint32_t)doff : 0;
    return 0;
}

/* Where the IP packet starts in a frame of link type `dlt`; -1 when it is
 * not IP (ARP, ...) or the frame is too short. */
static long link_offset(int dlt, const uint8_t *f, size_t len)
{
    switch (dlt) {
    case DLT_EN10MB: {
        size_t off = 12;
        while (off + 2 <= len && (be16(f + off) == 0x8100 || be16(f + off) == 0x88a8))
            off += 4; /* 802.1Q / 802.1ad tags */
        if (off + 2 > len)
            return -1;
        uint16_t type = be16(f + off);
        return type == ETH_IPV4 || type == ETH_IPV6 ? (long)(off + 2) : -1;
    }
    case DLT_RAW:
#ifdef DLT_IPV4
    case DLT_IPV4:
#endif
#ifdef DLT_IPV6
    case DLT_IPV6:
#endif
        return 0;
    case DLT_LINUX_SLL: /* 16 bytes; protocol at 14 */
        if (len < 16)
            return -1;
        return be16(f + 14) == ETH_IPV4 || be16(f + 14) == ETH_IPV6 ? 16 : -1;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2: /* 20 bytes; protocol at 0 */
        if (len < 20)
            return -1;
        return be16(f) == ETH_IPV4 || be16(f) == ETH_IPV6 ? 20 : -1;
#endif
    case DLT_NULL:
    case DLT_LOOP: /* 4-byte address family in host or network order */
        return len >= 4 ? 4 : -1;
    default:
        return -1;
    }
}

static bool link_supported(int dlt)
{
    uint8_t probe[32] = {0};
    probe[12] = 0x08; /* Ethernet: IPv4 */
    probe[14] = 0x08; /* cooked v1: IPv4 */
    probe[0] = 0x08;  /* cooked v2: IPv4 */
    return link_offset(dlt, probe, sizeof(probe)) >= 0;
}

static int push(struct trace *t, const struct trace_pkt *p)
{
    if (t->npkt == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        struct trace_pkt *n = realloc(t->pkt, cap * sizeof(*n));
        if (!n)
            return -1;
        t->pkt = n;
        t->cap = cap;
    }
    t->pkt[t->npkt++] = *p;
    return 0;
}

int trace_read(struct trace *t, const char *path)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pc = pcap_open_offline(path, err);
    if (!pc) {
        fprintf(stderr, "synack trace: %s: %s\n", path, err);
        return -1;
    }
    t->linktype = pcap_datalink(pc);
    if (!link_supported(t->linktype)) {
        const char *name = pcap_datalink_val_to_name(t->linktype);
        fprintf(stderr,
                "synack trace: %s: link type %d (%s) not supported (Ethernet, raw IP, Linux "
                "cooked v1/v2, loopback are)\n",
                path, t->linktype, name ? name : "?");
        pcap_close(pc);
        return -1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    uint32_t frame = 0;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
        frame++;
        long off = link_offset(t->linktype, data, h->caplen);
        struct trace_pkt p;
        memset(&p, 0, sizeof(p));
        if (off < 0 || trace_decode_ip(data + off, h->caplen - (size_t)off, &p) < 0) {
            t->skipped++;
            continue;
        }
        if (t->max_pkts && t->npkt >= t->max_pkts) {
            t->truncated = true;
            break;
        }
        p.t_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        p.frame = frame;
        p.conn = -1;
        p.rtt_us = -1;
        if (push(t, &p) < 0) {
            fprintf(stderr, "synack trace: out of memory after %zu packets\n", t->npkt);
            pcap_close(pc);
            return -1;
        }
    }
    if (rc == -1) {
        /* A file cut short (a capture still being written) keeps what was read. */
        fprintf(stderr, "synack trace: %s: %s (after frame %u)\n", path, pcap_geterr(pc), frame);
    }
    pcap_close(pc);
    return 0;
}
