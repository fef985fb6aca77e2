/* Ethernet/ARP codecs (src/wire/ether.c) and ARP resolution (src/dev/arp.c):
 * parsing and emitting, malformed packets, the cache and its expiry, request
 * retransmission and failure, and the bounded queue of waiting packets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/arp_internal.h"
#include "synack/ether.h"

#define OUR_IP 0x0ac80002u   /* 10.200.0.2 */
#define PEER_IP 0x0ac80001u  /* 10.200.0.1 */
#define OTHER_IP 0x0ac80009u /* 10.200.0.9 */

static const uint8_t our_mac[6] = {0x02, 0x53, 0x4b, 0xc8, 0x00, 0x02};
static const uint8_t peer_mac[6] = {0x0a, 0x11, 0x22, 0x33, 0x44, 0x55};
static const uint8_t other_mac[6] = {0x0a, 0x66, 0x77, 0x88, 0x99, 0xaa};

/* ---- a recorder for the frames the ARP layer sends ----------------------- */

#define MAX_FRAMES 64
struct sent {
    unsigned n;
    size_t len[MAX_FRAMES];
    uint8_t frame[MAX_FRAMES][256];
};

static int record(void *user, const uint8_t *frame, size_t len)
{
    struct sent *s = user;
    assert_true(s->n < MAX_FRAMES);
    s->len[s->n] = len;
    memcpy(s->frame[s->n], frame, len < 256 ? len : 256);
    s->n++;
    return 0;
}

struct fixture {
    struct sn_arp arp;
    struct sent sent;
};

static struct fixture *fixture_new(const struct sn_arp_params *p)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    struct sn_arp_params def;
    sn_arp_params_default(&def);
    assert_int_equal(sn_arp_init(&f->arp, our_mac, OUR_IP, p ? p : &def, record, &f->sent), 0);
    return f;
}

static void fixture_free(struct fixture *f)
{
    sn_arp_clear(&f->arp);
    assert_int_equal(f->arp.qlen, 0);
    assert_int_equal(f->arp.qbytes, 0);
    free(f);
}

/* An ARP packet (the Ethernet payload). */
static size_t arp_pkt(uint8_t *buf, uint16_t op, const uint8_t *sha, uint32_t spa,
                      const uint8_t *tha, uint32_t tpa)
{
    struct synack_arp a = {.op = op, .spa = spa, .tpa = tpa};
    memcpy(a.sha, sha, 6);
    memcpy(a.tha, tha, 6);
    assert_int_equal(synack_arp_emit(buf, 64, &a), SYNACK_ARP_LEN);
    return SYNACK_ARP_LEN;
}

/* A fake IPv4 packet whose first byte tells packets apart. */
static size_t ip_pkt(uint8_t *buf, uint8_t tag, size_t len)
{
    memset(buf, 0, len);
    buf[0] = 0x45;
    buf[1] = tag;
    return len;
}

/* Frame i of the recorder, parsed. */
static void frame_at(const struct fixture *f, unsigned i, struct synack_eth_hdr *eh)
{
    assert_true(i < f->sent.n);
    assert_int_equal(synack_eth_parse(f->sent.frame[i], f->sent.len[i], eh), 0);
    assert_memory_equal(eh->src, our_mac, 6);
}

static void assert_request_for(const struct fixture *f, unsigned i, uint32_t ip)
{
    struct synack_eth_hdr eh;
    frame_at(f, i, &eh);
    assert_int_equal(eh.type, SYNACK_ETHERTYPE_ARP);
    assert_memory_equal(eh.dst, synack_eth_broadcast, 6);
    struct synack_arp a;
    assert_int_equal(synack_arp_parse(eh.payload, eh.payload_len, &a), 0);
    assert_int_equal(a.op, SYNACK_ARP_REQUEST);
    assert_memory_equal(a.sha, our_mac, 6);
    assert_int_equal(a.spa, OUR_IP);
    assert_true(synack_eth_is_zero(a.tha));
    assert_int_equal(a.tpa, ip);
}

static void assert_ip_frame(const struct fixture *f, unsigned i, const uint8_t *dst, uint8_t tag)
{
    struct synack_eth_hdr eh;
    frame_at(f, i, &eh);
    assert_int_equal(eh.type, SYNACK_ETHERTYPE_IPV4);
    assert_memory_equal(eh.dst, dst, 6);
    assert_true(eh.payload_len >= 2);
    assert_int_equal(eh.payload[1], tag);
}

/* ---- codecs ------------------------------------------------------------- */

static void test_eth_codec(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct synack_eth_hdr h = {.type = SYNACK_ETHERTYPE_IPV4}, p;
    memcpy(h.dst, peer_mac, 6);
    memcpy(h.src, our_mac, 6);
    assert_int_equal(synack_eth_emit(buf, 13, &h), SYNACK_WIRE_ENOSPC);
    assert_int_equal(synack_eth_emit(buf, sizeof(buf), &h), SYNACK_ETH_HDR_LEN);
    assert_int_equal(buf[12], 0x08);
    assert_int_equal(buf[13], 0x00);
    memset(buf + 14, 0xab, 10);
    assert_int_equal(synack_eth_parse(buf, 24, &p), 0);
    assert_memory_equal(p.dst, peer_mac, 6);
    assert_memory_equal(p.src, our_mac, 6);
    assert_int_equal(p.type, SYNACK_ETHERTYPE_IPV4);
    assert_ptr_equal(p.payload, buf + 14);
    assert_int_equal(p.payload_len, 10);
    /* Malformed: a runt; an 802.3 length field where the type should be. */
    assert_int_equal(synack_eth_parse(buf, 13, &p), SYNACK_WIRE_ETRUNC);
    assert_int_equal(synack_eth_parse(buf, 0, &p), SYNACK_WIRE_ETRUNC);
    buf[12] = 0x05;
    buf[13] = 0xdc; /* 1500: a length */
    assert_int_equal(synack_eth_parse(buf, 24, &p), SYNACK_WIRE_ETYPE);
    h.type = 0x05dc;
    assert_int_equal(synack_eth_emit(buf, sizeof(buf), &h), SYNACK_WIRE_EINVAL);
    assert_true(synack_eth_is_multicast(synack_eth_broadcast));
    assert_false(synack_eth_is_multicast(our_mac));
}

/* A request as Linux sends it, byte for byte (RFC 826 layout). */
static void test_arp_parse_bytes(void **state)
{
    (void)state;
    static const uint8_t req[] = {
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,             /* Ethernet, IPv4, 6, 4, request */
        0x0a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x0a, 0xc8, 0x00, 0x01, /* sender */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0xc8, 0x00, 0x02, /* target */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,       /* Ethernet padding */
    };
    struct synack_arp a;
    assert_int_equal(synack_arp_parse(req, sizeof(req), &a), 0);
    assert_int_equal(a.op, SYNACK_ARP_REQUEST);
    assert_memory_equal(a.sha, peer_mac, 6);
    assert_int_equal(a.spa, PEER_IP);
    assert_true(synack_eth_is_zero(a.tha));
    assert_int_equal(a.tpa, OUR_IP);
    /* Emit is the exact inverse. */
    uint8_t out[SYNACK_ARP_LEN];
    assert_int_equal(synack_arp_emit(out, sizeof(out), &a), SYNACK_ARP_LEN);
    assert_memory_equal(out, req, SYNACK_ARP_LEN);
    assert_int_equal(synack_arp_emit(out, SYNACK_ARP_LEN - 1, &a), SYNACK_WIRE_ENOSPC);
    a.op = 3;
    assert_int_equal(synack_arp_emit(out, sizeof(out), &a), SYNACK_WIRE_EINVAL);
}

static void test_arp_parse_malformed(void **state)
{
    (void)state;
    uint8_t good[SYNACK_ARP_LEN], b[SYNACK_ARP_LEN];
    arp_pkt(good, SYNACK_ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
    struct synack_arp a;
    /* Truncated: before the lengths, and short of what they announce. */
    for (size_t len = 0; len < SYNACK_ARP_LEN; len++)
        assert_int_equal(synack_arp_parse(good, len, &a), SYNACK_WIRE_ETRUNC);
    /* Another hardware type, protocol, address lengths: not understood. */
    memcpy(b, good, sizeof(b));
    b[1] = 6; /* IEEE 802 */
    assert_int_equal(synack_arp_parse(b, sizeof(b), &a), SYNACK_WIRE_ETYPE);
    memcpy(b, good, sizeof(b));
    b[2] = 0x86;
    b[3] = 0xdd;
    assert_int_equal(synack_arp_parse(b, sizeof(b), &a), SYNACK_WIRE_ETYPE);
    memcpy(b, good, sizeof(b));
    b[4] = 4; /* hln 4, pln 4: the 24 bytes it needs are there, but it is not Ethernet */
    assert_int_equal(synack_arp_parse(b, sizeof(b), &a), SYNACK_WIRE_ETYPE);
    memcpy(b, good, sizeof(b));
    b[5] = 16; /* an IPv6-sized protocol address: longer than the packet */
    assert_int_equal(synack_arp_parse(b, sizeof(b), &a), SYNACK_WIRE_ETRUNC);
    /* RARP (3, 4) and other opcodes. */
    for (uint8_t op = 0; op < 10; op++) {
        memcpy(b, good, sizeof(b));
        b[7] = op;
        int want = op == 1 || op == 2 ? 0 : SYNACK_WIRE_ETYPE;
        assert_int_equal(synack_arp_parse(b, sizeof(b), &a), want);
    }
}

/* ---- resolution --------------------------------------------------------- */

static void test_init_checks(void **state)
{
    (void)state;
    struct sn_arp *a = malloc(sizeof(*a));
    assert_non_null(a);
    struct sn_arp_params p;
    sn_arp_params_default(&p);
    struct sent s = {0};
    assert_int_equal(sn_arp_init(a, our_mac, 0, &p, record, &s), -EINVAL);
    assert_int_equal(sn_arp_init(a, synack_eth_broadcast, OUR_IP, &p, record, &s), -EINVAL);
    static const uint8_t zero[6];
    assert_int_equal(sn_arp_init(a, zero, OUR_IP, &p, record, &s), -EINVAL);
    assert_int_equal(sn_arp_init(a, our_mac, OUR_IP, &p, NULL, &s), -EINVAL);
    p.queue_pkts = 0;
    assert_int_equal(sn_arp_init(a, our_mac, OUR_IP, &p, record, &s), -EINVAL);
    free(a);
}

/* A packet to an unknown neighbour: held, one broadcast request; the reply
 * releases it, and later packets go straight out. */
static void test_resolve_then_send(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(NULL);
    uint8_t pkt[100], arp[SYNACK_ARP_LEN];
    synack_time_t now = SYNACK_SEC(10);

    assert_int_equal(sn_arp_output(&f->arp, PEER_IP, pkt, ip_pkt(pkt, 1, 60), now), 0);
    assert_int_equal(sn_arp_output(&f->arp, PEER_IP, pkt, ip_pkt(pkt, 2, 80), now), 0);
    assert_int_equal(f->sent.n, 1); /* one request for both */
    assert_request_for(f, 0, PEER_IP);
    assert_int_equal(f->arp.qlen, 2);
    assert_null(sn_arp_lookup(&f->arp, PEER_IP, now));
    assert_int_equal(sn_arp_next_deadline(&f->arp), now + SYNACK_SEC(1));

    size_t n = arp_pkt(arp, SYNACK_ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, now + 500), 0);
    assert_int_equal(f->sent.n, 3);
    assert_ip_frame(f, 1, peer_mac, 1);
    assert_ip_frame(f, 2, peer_mac, 2);
    assert_int_equal(f->sent.len[2], SYNACK_ETH_HDR_LEN + 80);
    assert_int_equal(f->arp.qlen, 0);
    assert_memory_equal(sn_arp_lookup(&f->arp, PEER_IP, now + 500), peer_mac, 6);
    assert_int_equal(sn_arp_next_deadline(&f->arp), SYNACK_TIME_NEVER);

    assert_int_equal(sn_arp_output(&f->arp, PEER_IP, pkt, ip_pkt(pkt, 3, 40), now + 600), 0);
    assert_int_equal(f->sent.n, 4);
    assert_ip_frame(f, 3, peer_mac, 3);
    assert_int_equal(f->arp.st.requests_out, 1);
    assert_int_equal(f->arp.st.replies_in, 1);
    assert_int_equal(f->arp.st.learned, 1);
    fixture_free(f);
}

/* A learned address is used for `reachable`, then forgotten: the next packet
 * asks again. */
static void test_expiry(void **state)
{
    (void)state;
    struct sn_arp_params p;
    sn_arp_params_default(&p);
    p.reachable = SYNACK_SEC(30);
    struct fixture *f = fixture_new(&p);
    uint8_t pkt[64], arp[SYNACK_ARP_LEN];
    synack_time_t t0 = SYNACK_SEC(100);
    size_t n = arp_pkt(arp, SYNACK_ARP_REQUEST, peer_mac, PEER_IP, synack_eth_broadcast, OUR_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, t0), 0); /* learned from the request */
    assert_int_equal(f->sent.n, 1);                          /* and answered */
    assert_non_null(sn_arp_lookup(&f->arp, PEER_IP, t0 + SYNACK_SEC(30) - 1));
    assert_null(sn_arp_lookup(&f->arp, PEER_IP, t0 + SYNACK_SEC(30)));

    assert_int_equal(sn_arp_output(&f->arp, PEER_IP, pkt, ip_pkt(pkt, 7, 40), t0 + SYNACK_SEC(29)), 0);
    assert_int_equal(f->sent.n, 2);
    assert_ip_frame(f, 1, peer_mac, 7);
    assert_int_equal(sn_arp_output(&f->arp, PEER_IP, pkt, ip_pkt(pkt, 8, 40), t0 + SYNACK_SEC(31)), 0);
    assert_int_equal(f->sent.n, 3);
    assert_request_for(f, 2, PEER_IP);
    assert_int_equal(f->arp.st.expired, 1);
    assert_int_equal(f->arp.qlen, 1);

    /* Expiry by advance too, for entries nobody looks up. */
    n = arp_pkt(arp, SYNACK_ARP_REPLY, other_mac, OTHER_IP, our_mac, OUR_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, t0 + SYNACK_SEC(40)), 0);
    sn_arp_advance(&f->arp, t0 + SYNACK_SEC(71));
    assert_int_equal(f->arp.st.expired, 2);
    assert_null(sn_arp_lookup(&f->arp, OTHER_IP, t0 + SYNACK_SEC(40)));
    fixture_free(f);
}

/* No answer: a request every `retrans`, then failure after max_probes; the
 * held packets are dropped. */
static void test_retransmit_and_fail(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(NULL);
    uint8_t pkt[64];
    synack_time_t t = SYNACK_SEC(5);
    assert_int_equal(sn_arp_output(&f->arp, OTHER_IP, pkt, ip_pkt(pkt, 1, 40), t), 0);
    assert_int_equal(f->sent.n, 1);
    sn_arp_advance(&f->arp, t + SYNACK_SEC(1) - 1);
    assert_int_equal(f->sent.n, 1); /* not yet */
    sn_arp_advance(&f->arp, t + SYNACK_SEC(1));
    assert_int_equal(f->sent.n, 2);
    assert_request_for(f, 1, OTHER_IP);
    assert_int_equal(sn_arp_next_deadline(&f->arp), t + SYNACK_SEC(2));
    sn_arp_advance(&f->arp, t + SYNACK_SEC(2));
    assert_int_equal(f->sent.n, 3);
    assert_int_equal(f->arp.qlen, 1);
    sn_arp_advance(&f->arp, t + SYNACK_SEC(3)); /* third request unanswered: give up */
    assert_int_equal(f->sent.n, 3);
    assert_int_equal(f->arp.qlen, 0);
    assert_int_equal(f->arp.st.failed, 1);
    assert_int_equal(f->arp.st.queue_drops, 1);
    assert_int_equal(sn_arp_next_deadline(&f->arp), SYNACK_TIME_NEVER);
    /* A new packet starts a new resolution. */
    assert_int_equal(sn_arp_output(&f->arp, OTHER_IP, pkt, ip_pkt(pkt, 2, 40), t + SYNACK_SEC(4)), 0);
    assert_int_equal(f->sent.n, 4);
    assert_request_for(f, 3, OTHER_IP);
    fixture_free(f);
}

/* The queue keeps the newest packets within its bounds. */
static void test_queue_bound(void **state)
{
    (void)state;
    struct sn_arp_params p;
    sn_arp_params_default(&p);
    p.queue_pkts = 4;
    p.queue_bytes = 1000;
    struct fixture *f = fixture_new(&p);
    uint8_t pkt[600], arp[SYNACK_ARP_LEN];
    for (uint8_t i = 1; i <= 6; i++)
        assert_int_equal(sn_arp_output(&f->arp, PEER_IP, pkt, ip_pkt(pkt, i, 100), 0), 0);
    assert_int_equal(f->arp.qlen, 4);
    assert_int_equal(f->arp.qbytes, 400);
    assert_int_equal(f->arp.st.queue_drops, 2);
    /* Bytes: a 600-byte packet pushes out the oldest until both bounds hold. */
    assert_int_equal(sn_arp_output(&f->arp, PEER_IP, pkt, ip_pkt(pkt, 7, 600), 0), 0);
    assert_int_equal(f->arp.qlen, 4);
    assert_int_equal(f->arp.qbytes, 900);
    assert_int_equal(f->arp.st.queue_drops, 3);
    /* Larger than the whole queue: refused, the queue untouched. */
    uint8_t big[1200];
    assert_int_equal(sn_arp_output(&f->arp, PEER_IP, big, ip_pkt(big, 9, sizeof(big)), 0), -ENOBUFS);
    assert_int_equal(f->arp.qlen, 4);
    assert_int_equal(f->arp.st.queue_drops, 4);
    size_t n = arp_pkt(arp, SYNACK_ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, 1), 0);
    assert_int_equal(f->sent.n, 5); /* the request, then the survivors in order */
    for (unsigned i = 0; i < 4; i++)
        assert_ip_frame(f, 1 + i, peer_mac, (uint8_t)(4 + i));
    fixture_free(f);
}

/* Packets for two neighbours share the queue; each reply releases its own. */
static void test_queue_per_hop(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(NULL);
    uint8_t pkt[64], arp[SYNACK_ARP_LEN];
    assert_int_equal(sn_arp_output(&f->arp, PEER_IP, pkt, ip_pkt(pkt, 1, 40), 0), 0);
    assert_int_equal(sn_arp_output(&f->arp, OTHER_IP, pkt, ip_pkt(pkt, 2, 40), 0), 0);
    assert_int_equal(sn_arp_output(&f->arp, PEER_IP, pkt, ip_pkt(pkt, 3, 40), 0), 0);
    assert_int_equal(f->sent.n, 2);
    assert_request_for(f, 0, PEER_IP);
    assert_request_for(f, 1, OTHER_IP);
    size_t n = arp_pkt(arp, SYNACK_ARP_REPLY, other_mac, OTHER_IP, our_mac, OUR_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, 1), 0);
    assert_int_equal(f->sent.n, 3);
    assert_ip_frame(f, 2, other_mac, 2);
    assert_int_equal(f->arp.qlen, 2);
    n = arp_pkt(arp, SYNACK_ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, 2), 0);
    assert_int_equal(f->sent.n, 5);
    assert_ip_frame(f, 3, peer_mac, 1);
    assert_ip_frame(f, 4, peer_mac, 3);
    fixture_free(f);
}

/* Requests: answered when for us (the reply's fields swapped as RFC 826
 * says), and the requester learned; ignored otherwise, unless the sender is
 * already known (merge). */
static void test_requests(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(NULL);
    uint8_t arp[SYNACK_ARP_LEN];
    size_t n = arp_pkt(arp, SYNACK_ARP_REQUEST, peer_mac, PEER_IP, synack_eth_broadcast, OTHER_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, 0), 0);
    assert_int_equal(f->sent.n, 0);
    assert_null(sn_arp_lookup(&f->arp, PEER_IP, 0));
    assert_int_equal(f->arp.st.ignored, 1);

    n = arp_pkt(arp, SYNACK_ARP_REQUEST, peer_mac, PEER_IP, synack_eth_broadcast, OUR_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, 0), 0);
    assert_int_equal(f->sent.n, 1);
    struct synack_eth_hdr eh;
    frame_at(f, 0, &eh);
    assert_int_equal(eh.type, SYNACK_ETHERTYPE_ARP);
    assert_memory_equal(eh.dst, peer_mac, 6); /* unicast back */
    struct synack_arp rep;
    assert_int_equal(synack_arp_parse(eh.payload, eh.payload_len, &rep), 0);
    assert_int_equal(rep.op, SYNACK_ARP_REPLY);
    assert_memory_equal(rep.sha, our_mac, 6);
    assert_int_equal(rep.spa, OUR_IP);
    assert_memory_equal(rep.tha, peer_mac, 6);
    assert_int_equal(rep.tpa, PEER_IP);
    assert_memory_equal(sn_arp_lookup(&f->arp, PEER_IP, 0), peer_mac, 6);

    /* The peer changes its MAC; a request it sends for someone else still
     * updates what we know (merge). */
    n = arp_pkt(arp, SYNACK_ARP_REQUEST, other_mac, PEER_IP, synack_eth_broadcast, OTHER_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, 1), 0);
    assert_int_equal(f->sent.n, 1);
    assert_memory_equal(sn_arp_lookup(&f->arp, PEER_IP, 1), other_mac, 6);
    fixture_free(f);
}

/* Suspicious or malformed ARP changes nothing. */
static void test_hostile_input(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(NULL);
    uint8_t arp[SYNACK_ARP_LEN];
    static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
    size_t n = arp_pkt(arp, SYNACK_ARP_REPLY, mcast, PEER_IP, our_mac, OUR_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, 0), 0);
    n = arp_pkt(arp, SYNACK_ARP_REQUEST, peer_mac, 0, synack_eth_broadcast, OUR_IP); /* RFC 5227 probe */
    assert_int_equal(sn_arp_input(&f->arp, arp, n, 0), 0);
    n = arp_pkt(arp, SYNACK_ARP_REPLY, peer_mac, OUR_IP, our_mac, OUR_IP); /* claims our address */
    assert_int_equal(sn_arp_input(&f->arp, arp, n, 0), 0);
    assert_int_equal(f->arp.st.ignored, 3);
    assert_null(sn_arp_lookup(&f->arp, PEER_IP, 0));
    assert_null(sn_arp_lookup(&f->arp, OUR_IP, 0));
    assert_int_equal(f->sent.n, 0);
    /* Malformed: counted, nothing learned. */
    n = arp_pkt(arp, SYNACK_ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, 20, 0), SYNACK_WIRE_ETRUNC);
    arp[7] = 9;
    assert_int_equal(sn_arp_input(&f->arp, arp, n, 0), SYNACK_WIRE_ETYPE);
    assert_int_equal(f->arp.st.bad, 2);
    assert_null(sn_arp_lookup(&f->arp, PEER_IP, 0));
    /* A packet too large for any frame. */
    assert_int_equal(sn_arp_output(&f->arp, PEER_IP, arp, 65536, 0), -EMSGSIZE);
    fixture_free(f);
}

/* A full cache evicts the reachable entry closest to expiry. */
static void test_eviction(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(NULL);
    uint8_t arp[SYNACK_ARP_LEN], mac[6] = {0x0a, 0, 0, 0, 0, 0};
    for (uint32_t i = 0; i < SN_ARP_ENTRIES; i++) {
        mac[5] = (uint8_t)i;
        size_t n = arp_pkt(arp, SYNACK_ARP_REPLY, mac, 0x0ac80100u + i, our_mac, OUR_IP);
        assert_int_equal(sn_arp_input(&f->arp, arp, n, SYNACK_SEC(1) + i), 0);
    }
    for (uint32_t i = 0; i < SN_ARP_ENTRIES; i++)
        assert_non_null(sn_arp_lookup(&f->arp, 0x0ac80100u + i, SYNACK_SEC(2)));
    size_t n = arp_pkt(arp, SYNACK_ARP_REQUEST, peer_mac, PEER_IP, synack_eth_broadcast, OUR_IP);
    assert_int_equal(sn_arp_input(&f->arp, arp, n, SYNACK_SEC(2)), 0);
    assert_non_null(sn_arp_lookup(&f->arp, PEER_IP, SYNACK_SEC(2)));
    assert_null(sn_arp_lookup(&f->arp, 0x0ac80100u, SYNACK_SEC(2))); /* the oldest went */
    assert_non_null(sn_arp_lookup(&f->arp, 0x0ac80101u, SYNACK_SEC(2)));
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eth_codec),
        cmocka_unit_test(test_arp_parse_bytes),
        cmocka_unit_test(test_arp_parse_malformed),
        cmocka_unit_test(test_init_checks),
        cmocka_unit_test(test_resolve_then_send),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_retransmit_and_fail),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_queue_per_hop),
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_eviction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
