/* A peer made of raw segments for one synack stack (SRV, seed 42, clock at
 * 1000 s) with a listener on PORT: the unit tests of the SYN cache and of
 * the blind-injection defences inject segments and IPv4 datagrams and look
 * at what the stack sends.  Include after cmocka.h. */
#ifndef SYNACK_TESTS_RAW_PEER_H
#define SYNACK_TESTS_RAW_PEER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "synack/socket.h"

#define SRV 0x0a000001u
#define PEER 0x0a000002u
#define PORT 80

struct h {
    struct synack_stack *s;
    int lfd;
    uint32_t nout, nsynack, nrst;
    struct synack_tcp_hdr last;   /* the last segment the stack sent */
    uint8_t raw[2048];
    uint32_t last_dst;
};

static inline int capture(void *user, const uint8_t *pkt, size_t len)
{
    struct h *h = user;
    struct synack_ipv4_hdr ip;
    if (len > sizeof(h->raw))
        return 0;
    memcpy(h->raw, pkt, len);
    if (synack_ipv4_parse(h->raw, len, &ip) < 0 ||
        synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &h->last) < 0)
        return 0;
    h->last_dst = ip.dst;
    h->nout++;
    if ((h->last.flags & (SYNACK_TH_SYN | SYNACK_TH_ACK)) == (SYNACK_TH_SYN | SYNACK_TH_ACK))
        h->nsynack++;
    if (h->last.flags & SYNACK_TH_RST)
        h->nrst++;
    return 0;
}

static inline void setup(struct h *h, uint32_t max_syncache, int backlog)
{
    memset(h, 0, sizeof(*h));
    struct synack_config c;
    synack_config_init(&c);
    c.seed = 42;
    c.addr = SRV;
    c.max_syncache = max_syncache;
    assert_int_equal(synack_stack_new(&c, capture, h, &h->s), 0);
    synack_stack_advance(h->s, SYNACK_SEC(1000));
    h->lfd = synack_socket(h->s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(synack_bind(h->s, h->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(h->s, h->lfd, backlog), 0);
}

/* A segment from src:sport to SRV:PORT (window 65535, options o if any,
 * `len` bytes of payload) as an IPv4 datagram in pkt; returns its length. */
static inline size_t raw_seg(uint8_t *pkt, size_t cap, uint32_t src, uint16_t sport, uint8_t flags,
                             uint32_t seq, uint32_t ack, const struct synack_tcp_opts *o,
                             const uint8_t *payload, size_t len)
{
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    th.sport = sport;
    th.dport = PORT;
    th.seq = seq;
    th.ack = ack;
    th.flags = flags;
    th.window = 65535;
    if (o)
        th.opts = *o;
    th.payload = payload;
    th.payload_len = len;
    int n = synack_tcp_emit(pkt + 20, cap - 20, &th, src, SRV);
    assert_true(n > 0);
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(20 + n), .ttl = 64,
                                 .proto = SYNACK_IPPROTO_TCP, .src = src, .dst = SRV};
    assert_int_equal(synack_ipv4_emit(pkt, cap, &ip), 20);
    return 20 + (size_t)n;
}

static inline void seg_in(struct h *h, uint32_t src, uint16_t sport, uint8_t flags, uint32_t seq,
                   uint32_t ack, const struct synack_tcp_opts *o, const char *data)
{
    uint8_t pkt[256];
    size_t len = raw_seg(pkt, sizeof(pkt), src, sport, flags, seq, ack, o, (const uint8_t *)data,
                         data ? strlen(data) : 0);
    synack_stack_input(h->s, pkt, len, synack_stack_now(h->s));
}

static inline const struct synack_stack_stats *st(struct h *h) { return synack_stack_stats(h->s); }

static inline struct synack_tcp_opts linux_syn_opts(uint32_t tsval)
{
    struct synack_tcp_opts o;
    memset(&o, 0, sizeof(o));
    o.present = SYNACK_TCPOPT_F_MSS | SYNACK_TCPOPT_F_SACK_PERM | SYNACK_TCPOPT_F_TIMESTAMP |
                SYNACK_TCPOPT_F_WSCALE;
    o.mss = 1460;
    o.wscale = 7;
    o.tsval = tsval;
    return o;
}

static inline struct synack_tcp_info info(struct h *h, int fd)
{
    struct synack_tcp_info i;
    socklen_t len = sizeof(i);
    assert_int_equal(synack_getsockopt(h->s, fd, IPPROTO_TCP, TCP_INFO, &i, &len), 0);
    return i;
}

/* Inject an IPv4 datagram as it is. */
static inline int ip_in(struct h *h, const uint8_t *pkt, size_t len)
{
    return synack_stack_input(h->s, pkt, len, synack_stack_now(h->s));
}

/* A handshake from PEER:sport (ISN 1000, with timestamps) to the listener;
 * returns the accepted descriptor and, in *iss, synack's ISN. */
static inline int establish(struct h *h, uint16_t sport, uint32_t *iss)
{
    struct synack_tcp_opts o = linux_syn_opts(100);
    seg_in(h, PEER, sport, SYNACK_TH_SYN, 1000, 0, &o, NULL);
    *iss = h->last.seq;
    struct synack_tcp_opts a = {.present = SYNACK_TCPOPT_F_TIMESTAMP, .tsval = 101,
                                .tsecr = h->last.opts.tsval};
    seg_in(h, PEER, sport, SYNACK_TH_ACK, 1001, *iss + 1, &a, NULL);
    int fd = synack_accept(h->s, h->lfd, NULL, NULL);
    assert_true(fd >= 0);
    return fd;
}

#endif
