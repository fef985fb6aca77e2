/* IPv4 reassembly (src/ip/ip_reass.c; RFC 791 3.2, RFC 1122 3.3.2) and the
 * fragmenting of large echo replies: fragments in any order make the
 * datagram; overlaps drop it (RFC 5722), tiny first fragments too (RFC
 * 1858); an incomplete datagram goes after 30 s; a flood of incomplete ones
 * stays within frag_mem_max / frag_max while whole datagrams still get
 * through; a 4000-byte echo request is answered in fragments that fit the
 * MTU and carry the same data. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "unit/raw_peer.h"
#include "wire/be.h"

/* Reassembles what the stack sends (its echo replies). */
struct out {
    uint8_t data[8192];
    uint32_t got, total, nfrags;
    uint16_t max_len;
};

static int collect(void *user, const uint8_t *pkt, size_t len)
{
    struct out *o = user;
    struct synack_ipv4_hdr ip;
    if (synack_ipv4_parse(pkt, len, &ip) < 0)
        return 0;
    uint32_t off = (uint32_t)ip.frag_off * 8u;
    if (off + ip.payload_len <= sizeof(o->data)) {
        memcpy(o->data + off, ip.payload, ip.payload_len);
        o->got += ip.payload_len;
        if (!(ip.flags & SYNACK_IPV4_MF))
            o->total = off + ip.payload_len;
    }
    o->nfrags += synack_ipv4_is_fragment(&ip);
    if (len > o->max_len)
        o->max_len = (uint16_t)len;
    return 0;
}

static struct synack_stack *stack(struct out *o, uint32_t frag_max, uint32_t frag_mem)
{
    struct synack_config c;
    synack_config_init(&c);
    c.seed = 5;
    c.addr = SRV;
    if (frag_max)
        c.frag_max = frag_max;
    if (frag_mem)
        c.frag_mem_max = frag_mem;
    struct synack_stack *s;
    assert_int_equal(synack_stack_new(&c, collect, o, &s), 0);
    synack_stack_advance(s, SYNACK_SEC(100));
    return s;
}

/* Fragment [off, off + len) of datagram `id` whose payload is `payload`. */
static int frag(struct synack_stack *s, uint16_t id, uint8_t proto, const uint8_t *payload,
                uint32_t off, uint32_t len, bool more)
{
    uint8_t pkt[2048];
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(20 + len), .id = id, .ttl = 64,
                                 .proto = proto, .src = PEER, .dst = SRV,
                                 .flags = more ? SYNACK_IPV4_MF : 0,
                                 .frag_off = (uint16_t)(off / 8)};
    assert_int_equal(synack_ipv4_emit(pkt, sizeof(pkt), &ip), 20);
    memcpy(pkt + 20, payload + off, len);
    return synack_stack_input(s, pkt, 20 + len, synack_stack_now(s));
}

/* An ICMP echo request with n bytes of data, in buf (8 + n bytes). */
static uint32_t echo_request(uint8_t *buf, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        buf[8 + i] = (uint8_t)(i * 7 + 3);
    uint8_t tmp[8192];
    struct synack_icmp_hdr h = {.type = SYNACK_ICMP_ECHO_REQUEST, .id = 77, .seq = 1,
                                .data = buf + 8, .data_len = n};
    int len = synack_icmp_emit(tmp, sizeof(tmp), &h);
    assert_int_equal(len, (int)(8 + n));
    memcpy(buf, tmp, (size_t)len);
    return (uint32_t)len;
}

static void test_ping_4000_out_of_order(void **state)
{
    (void)state;
    struct out o = {0};
    struct synack_stack *s = stack(&o, 0, 0);
    static uint8_t req[8 + 4000];
    uint32_t len = echo_request(req, 4000);
    /* Three fragments of 1480, 1480 and 1048 bytes, the last first. */
    assert_int_equal(frag(s, 9, SYNACK_IPPROTO_ICMP, req, 2960, len - 2960, false), 0);
    assert_int_equal(frag(s, 9, SYNACK_IPPROTO_ICMP, req, 0, 1480, true), 0);
    assert_int_equal(o.got, 0);
    assert_int_equal(frag(s, 9, SYNACK_IPPROTO_ICMP, req, 1480, 1480, true), 0);
    const struct synack_stack_stats *st = synack_stack_stats(s);
    assert_int_equal(st->ip_reasm_ok, 1);
    assert_int_equal(st->icmp_echo_replied, 1);
    /* The reply: in fragments no larger than the MTU, the same data. */
    assert_true(o.nfrags >= 3);
    assert_true(o.max_len <= 1500);
    assert_int_equal(o.total, len);
    assert_int_equal(o.data[0], SYNACK_ICMP_ECHO_REPLY);
    assert_memory_equal(o.data + 8, req + 8, 4000);
    synack_stack_free(s);
}

/* Overlapping fragments drop the datagram (RFC 5722); an exact copy is
 * only a duplicate; tiny first fragments (RFC 1858) drop it too. */
static void test_overlap_tiny(void **state)
{
    (void)state;
    struct out o = {0};
    struct synack_stack *s = stack(&o, 0, 0);
    static uint8_t req[8 + 3000];
    uint32_t len = echo_request(req, 3000);
    frag(s, 1, SYNACK_IPPROTO_ICMP, req, 0, 1480, true);
    frag(s, 1, SYNACK_IPPROTO_ICMP, req, 0, 1480, true); /* a copy */
    assert_int_equal(synack_stack_stats(s)->ip_frag_drop_dup, 1);
    assert_int_equal(frag(s, 1, SYNACK_IPPROTO_ICMP, req, 1472, len - 1472, false), -EBADMSG);
    assert_int_equal(synack_stack_stats(s)->ip_frag_drop_overlap, 1);
    /* The rest of it no longer completes anything. */
    frag(s, 1, SYNACK_IPPROTO_ICMP, req, 1480, len - 1480, false);
    assert_int_equal(synack_stack_stats(s)->ip_reasm_ok, 0);
    assert_int_equal(o.got, 0);
    /* A TCP first fragment of 16 bytes (no room for the header), and a TCP
     * fragment at offset 8. */
    uint8_t tcp[64] = {0};
    assert_int_equal(frag(s, 2, SYNACK_IPPROTO_TCP, tcp, 0, 16, true), -EBADMSG);
    assert_int_equal(frag(s, 3, SYNACK_IPPROTO_TCP, tcp, 8, 16, true), -EBADMSG);
    assert_int_equal(synack_stack_stats(s)->ip_frag_drop_tiny, 2);
    synack_stack_free(s);
}

/* An incomplete datagram is forgotten 30 s after its first fragment, and
 * its memory given back. */
static void test_timeout(void **state)
{
    (void)state;
    struct out o = {0};
    struct synack_stack *s = stack(&o, 0, 0);
    uint64_t mem0 = synack_stack_stats(s)->mem_bytes;
    static uint8_t req[8 + 3000];
    echo_request(req, 3000);
    frag(s, 4, SYNACK_IPPROTO_ICMP, req, 0, 1480, true);
    assert_true(synack_stack_stats(s)->mem_bytes > mem0);
    assert_int_equal(synack_stack_next_deadline(s), SYNACK_SEC(130));
    synack_stack_advance(s, SYNACK_SEC(130));
    assert_int_equal(synack_stack_stats(s)->ip_reasm_timeout, 1);
    assert_int_equal(synack_stack_stats(s)->mem_bytes, mem0);
    assert_int_equal(synack_stack_next_deadline(s), SYNACK_TIME_NEVER);
    synack_stack_free(s);
}

/* 5000 incomplete datagrams: held to frag_max (100) and frag_mem_max
 * (256 KiB), the oldest evicted; a whole datagram still gets through. */
static void test_incomplete_flood(void **state)
{
    (void)state;
    struct out o = {0};
    struct synack_stack *s = stack(&o, 100, 256 * 1024);
    uint64_t mem0 = synack_stack_stats(s)->mem_bytes;
    static uint8_t req[8 + 3000];
    uint32_t len = echo_request(req, 3000);
    uint64_t peak = 0;
    for (uint16_t id = 100; id < 5100; id++) {
        frag(s, id, SYNACK_IPPROTO_ICMP, req, 0, 1480, true);
        uint64_t m = synack_stack_stats(s)->mem_bytes - mem0;
        if (m > peak)
            peak = m;
    }
    assert_true(peak <= 256 * 1024);
    assert_true(synack_stack_stats(s)->ip_reasm_evicted >= 4900);
    frag(s, 7, SYNACK_IPPROTO_ICMP, req, 0, 1480, true);
    frag(s, 7, SYNACK_IPPROTO_ICMP, req, 1480, len - 1480, false);
    assert_int_equal(synack_stack_stats(s)->icmp_echo_replied, 1);
    synack_stack_free(s);
}

/* A TCP SYN in two fragments reaches the listener. */
static void test_tcp_in_fragments(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 64, 8);
    uint8_t seg[40];
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    th.sport = 40000;
    th.dport = PORT;
    th.seq = 1;
    th.flags = SYNACK_TH_SYN;
    th.window = 65535;
    th.opts.present = SYNACK_TCPOPT_F_MSS | SYNACK_TCPOPT_F_TIMESTAMP | SYNACK_TCPOPT_F_SACK_PERM;
    th.opts.mss = 1460;
    int n = synack_tcp_emit(seg, sizeof(seg), &th, PEER, SRV);
    assert_true(n > 24);
    assert_int_equal(frag(h.s, 11, SYNACK_IPPROTO_TCP, seg, 24, (uint32_t)n - 24, false), 0);
    assert_int_equal(h.nsynack, 0);
    assert_int_equal(frag(h.s, 11, SYNACK_IPPROTO_TCP, seg, 0, 24, true), 0);
    assert_int_equal(h.nsynack, 1);
    synack_stack_free(h.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_4000_out_of_order),
        cmocka_unit_test(test_overlap_tiny),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_incomplete_flood),
        cmocka_unit_test(test_tcp_in_fragments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
