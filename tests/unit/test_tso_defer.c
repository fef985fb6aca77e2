/* TSO deferral (src/tcp/tcp_output.c, sn_tcp_output_new): with TSO, a
 * packet that the data cuts short of the largest (not the window) waits
 * while the user has said more follows (MSG_MORE) and data is in flight:
 * the ACK of what is in flight, the next write, a write without MSG_MORE
 * or the FIN sends it.  A stack with TSO on raw segments (raw_peer.h, the
 * output taken with its descriptors); the peer (MSS 1460, timestamps: 1,448
 * bytes a segment) offers a window of megabytes, and the initial window of
 * ten segments is the only limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "unit/raw_peer.h"

struct out {
    uint32_t n;             /* data packets */
    uint32_t len[16], seq[16];
    uint8_t flags[16];
};

static struct out g_out;

/* The stack's packets with their descriptors: a TSO packet is one entry
 * here (the NIC would cut it).  Its checksum is left to the NIC, so it is
 * parsed unchecked. */
static int meta_out(void *user, const uint8_t *pkt, size_t len, const struct synack_pkt_meta *m)
{
    (void)m;
    struct h *h = user;
    struct synack_ipv4_hdr ip;
    struct synack_tcp_hdr th;
    if (synack_ipv4_parse(pkt, len, &ip) < 0 ||
        synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, false, &th) < 0)
        return 0;
    h->last = th;
    h->nout++;
    if (th.payload_len > 0 && g_out.n < 16) {
        g_out.len[g_out.n] = (uint32_t)th.payload_len;
        g_out.seq[g_out.n] = th.seq;
        g_out.flags[g_out.n] = th.flags;
        g_out.n++;
    }
    return 0;
}

static uint8_t data[8000];

static int start(struct h *h, uint32_t *iss)
{
    setup(h, 256, 4);
    assert_int_equal(synack_stack_set_output_meta(h->s, meta_out, h, SYNACK_OFFLOAD_TSO), 0);
    memset(&g_out, 0, sizeof(g_out));
    int fd = establish(h, 4000, iss);
    int one = 1;
    assert_int_equal(synack_setsockopt(h->s, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
    /* 3,000 bytes with MSG_MORE on an empty pipe: two whole segments go
     * at once in one TSO packet; the 104-byte tail waits for more. */
    assert_int_equal(synack_send(h->s, fd, data, 3000, MSG_MORE), 3000);
    assert_int_equal(g_out.n, 1);
    assert_int_equal(g_out.len[0], 2896);
    assert_int_equal(g_out.seq[0], *iss + 1);
    /* 3,000 more with MSG_MORE: two more whole segments could go (the
     * window takes far more), but data is in flight and more is promised:
     * they wait.  (Before: a second packet of 2,896 bytes.) */
    assert_int_equal(synack_send(h->s, fd, data, 3000, MSG_MORE), 3000);
    assert_int_equal(g_out.n, 1);
    return fd;
}

/* The ACK of what was in flight empties the pipe: the waiting segments go
 * (the short tail still corked); a write without MSG_MORE sends the rest. */
static void test_ack_releases(void **state)
{
    (void)state;
    struct h h;
    uint32_t iss;
    int fd = start(&h, &iss);
    struct synack_tcp_opts a = {.present = SYNACK_TCPOPT_F_TIMESTAMP, .tsval = 102,
                                .tsecr = h.last.opts.tsval};
    seg_in(&h, PEER, 4000, SYNACK_TH_ACK, 1001, iss + 1 + 2896, &a, NULL);
    assert_int_equal(g_out.n, 2);
    assert_int_equal(g_out.len[1], 2896);
    assert_int_equal(g_out.seq[1], iss + 1 + 2896);
    assert_int_equal(synack_send(h.s, fd, data, 1000, 0), 1000);
    assert_int_equal(g_out.n, 3);
    assert_int_equal(g_out.len[2], 6000 + 1000 - 2 * 2896);
    assert_true(g_out.flags[2] & SYNACK_TH_PSH);
    synack_stack_free(h.s);
}

/* Without MSG_MORE nothing waits, in flight or not: all 3,104 bytes go. */
static void test_no_more_sends(void **state)
{
    (void)state;
    struct h h;
    uint32_t iss;
    int fd = start(&h, &iss);
    assert_int_equal(synack_send(h.s, fd, data, 10, 0), 10);
    assert_int_equal(g_out.n, 2);
    assert_int_equal(g_out.len[1], 3104 + 10);
    synack_stack_free(h.s);
}

/* The FIN: shutdown sends what waits, with it. */
static void test_fin_sends(void **state)
{
    (void)state;
    struct h h;
    uint32_t iss;
    int fd = start(&h, &iss);
    assert_int_equal(synack_shutdown(h.s, fd, SHUT_WR), 0);
    assert_int_equal(g_out.n, 2);
    assert_int_equal(g_out.len[1], 3104);
    assert_true(g_out.flags[1] & SYNACK_TH_FIN);
    synack_stack_free(h.s);
}

/* A full-sized packet never waits: 70,000 bytes with MSG_MORE after the
 * first flight go as far as the initial window allows. */
static void test_window_limited_sends(void **state)
{
    (void)state;
    struct h h;
    uint32_t iss;
    int fd = start(&h, &iss);
    static uint8_t big[70000];
    assert_int_equal(synack_send(h.s, fd, big, sizeof(big), MSG_MORE), (ssize_t)sizeof(big));
    assert_int_equal(g_out.n, 2);
    assert_int_equal(g_out.len[1], 10 * 1448 - 2896); /* the rest of the initial window */
    synack_stack_free(h.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_releases),
        cmocka_unit_test(test_no_more_sends),
        cmocka_unit_test(test_fin_sends),
        cmocka_unit_test(test_window_limited_sends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
