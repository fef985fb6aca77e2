/* Software segmentation (synack_gso_segment) and partial checksums: the
 * wire packets of a large TCP segment parse with correct IPv4 and TCP
 * checksums, carry the payload in order at the right sequence numbers, with
 * FIN/PSH only on the last and one IP ID each. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "synack/wire.h"

#define SRC 0x0a000001u
#define DST 0x0a000002u

struct collect {
    int n;
    uint8_t data[70000];
    size_t got;
    uint32_t first_seq;
    uint16_t first_id;
    uint8_t last_flags;
    int bad;
};

static int take(void *user, const uint8_t *pkt, size_t len)
{
    struct collect *c = user;
    struct synack_ipv4_hdr ip;
    struct synack_tcp_hdr th;
    if (synack_ipv4_parse(pkt, len, &ip) < 0 ||
        synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &th) < 0) {
        c->bad++;
        return 0;
    }
    if (c->n == 0) {
        c->first_seq = th.seq;
        c->first_id = ip.id;
    }
    if (th.seq != (uint32_t)(c->first_seq + c->got) || ip.id != (uint16_t)(c->first_id + c->n) ||
        len > 20 + 32 + 1000 || th.opts.tsval != 77)
        c->bad++;
    if (c->n > 0 && (c->last_flags & (SYNACK_TH_FIN | SYNACK_TH_PSH)))
        c->bad++; /* FIN/PSH seen before the last packet */
    memcpy(c->data + c->got, th.payload, th.payload_len);
    c->got += th.payload_len;
    c->last_flags = th.flags;
    c->n++;
    return 0;
}

/* A TSO packet as the stack builds one: headers, payload, partial checksum. */
static size_t build(uint8_t *pkt, size_t payload, uint8_t flags, struct synack_pkt_meta *m)
{
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    th.sport = 80;
    th.dport = 5000;
    th.seq = 0xfffff000u; /* wraps inside the packet */
    th.ack = 1;
    th.flags = flags;
    th.window = 100;
    th.opts.present = SYNACK_TCPOPT_F_TIMESTAMP;
    th.opts.tsval = 77;
    th.payload_len = payload;
    int hl = synack_tcp_emit_hdr(pkt + 20, 65515, &th);
    assert_int_equal(hl, 32);
    for (size_t i = 0; i < payload; i++)
        pkt[20 + 32 + i] = (uint8_t)(i * 13 + 5);
    uint32_t pseudo = synack_csum_pseudo(SRC, DST, SYNACK_IPPROTO_TCP, (uint16_t)(32 + payload));
    uint16_t partial = (uint16_t)~synack_csum_fold(pseudo);
    pkt[20 + 16] = (uint8_t)(partial >> 8);
    pkt[20 + 17] = (uint8_t)partial;
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(20 + 32 + payload), .id = 0xfffe,
                                 .flags = SYNACK_IPV4_DF, .ttl = 64,
                                 .proto = SYNACK_IPPROTO_TCP, .src = SRC, .dst = DST};
    assert_int_equal(synack_ipv4_emit(pkt, 20, &ip), 20);
    *m = (struct synack_pkt_meta){.flags = SYNACK_PKT_CSUM_PARTIAL, .gso_size = 1000,
                                  .gso_segs = (uint16_t)((payload + 999) / 1000), .hdr_len = 52,
                                  .csum_start = 20, .csum_offset = 16};
    return 20 + 32 + payload;
}

static void test_segments(void **state)
{
    (void)state;
    static uint8_t pkt[65535], out[2000];
    static struct collect c;
    const size_t sizes[] = {1, 999, 1000, 1001, 2000, 4321, 65483};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct synack_pkt_meta m;
        size_t len = build(pkt, sizes[k], SYNACK_TH_ACK | SYNACK_TH_PSH | SYNACK_TH_FIN, &m);
        memset(&c, 0, sizeof(c));
        int n = synack_gso_segment(pkt, len, &m, out, sizeof(out), take, &c);
        assert_int_equal(n, (int)((sizes[k] + 999) / 1000));
        assert_int_equal(c.n, n);
        if (c.bad)
            fail_msg("size %zu: %d bad packets of %d", sizes[k], c.bad, c.n);
        assert_int_equal(c.got, sizes[k]);
        assert_memory_equal(c.data, pkt + 52, sizes[k]);
        assert_int_equal(c.last_flags, SYNACK_TH_ACK | SYNACK_TH_PSH | SYNACK_TH_FIN);
    }
}

static void test_csum_finish_and_errors(void **state)
{
    (void)state;
    static uint8_t pkt[65535], out[2000];
    static struct collect c;
    struct synack_pkt_meta m;
    size_t len = build(pkt, 600, SYNACK_TH_ACK, &m);
    /* One segment: only the checksum is completed. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(synack_gso_segment(pkt, len, &m, out, sizeof(out), take, &c), 1);
    assert_int_equal(c.bad, 0);
    assert_int_equal(synack_pkt_csum_finish(pkt, len, &m), SYNACK_WIRE_OK);
    assert_int_equal(synack_csum_fold(synack_csum_partial(
                         pkt + 20, len - 20, synack_csum_pseudo(SRC, DST, 6, (uint16_t)(len - 20)))),
                     0);
    /* Descriptors that do not describe the packet are refused. */
    len = build(pkt, 3000, SYNACK_TH_ACK, &m);
    struct synack_pkt_meta bad = m;
    bad.hdr_len = 40;
    assert_int_equal(synack_gso_segment(pkt, len, &bad, out, sizeof(out), take, &c),
                     SYNACK_WIRE_EINVAL);
    bad = m;
    bad.csum_offset = 6;
    assert_int_equal(synack_gso_segment(pkt, len, &bad, out, sizeof(out), take, &c),
                     SYNACK_WIRE_EINVAL);
    assert_int_equal(synack_gso_segment(pkt, len, &m, out, 500, take, &c), SYNACK_WIRE_ENOSPC);
    assert_int_equal(synack_gso_segment(pkt, 30, &m, out, sizeof(out), take, &c),
                     SYNACK_WIRE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_csum_finish_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
