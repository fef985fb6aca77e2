/* ACKs per input batch (SYNACK_RX_BATCH, synack_stack_input_flush;
 * src/tcp/tcp_ackbatch.c): a batch of in-order segments draws exactly one
 * ACK, at the flush; the bounds (64 KiB, half the advertised window, 64
 * segments) send it at once; what is ACKed at once without a batch
 * (out-of-order data, FIN) still is; a connection reset inside a batch is
 * forgotten; a driver that never flushes gets the delayed ACK.  Without the
 * flag nothing changes: every second segment is ACKed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "synack/stack.h"
#include "synack/wire.h"
#include "unit/raw_peer.h"

#define SPORT 40000
#define SEG 1448

struct conn {
    struct h h;
    int fd;
    uint32_t iss;   /* synack's ISN */
    uint32_t seq;   /* the peer's next sequence number */
    uint32_t tsval; /* the peer's next TSval */
    uint32_t wnd0;  /* the window of synack's SYN-ACK */
    uint8_t wscale; /* the window scale synack's SYN-ACK offered */
};

static void conn_open(struct conn *c, int rcvbuf)
{
    setup(&c->h, 16, 8);
    if (rcvbuf > 0)
        assert_int_equal(synack_setsockopt(c->h.s, c->h.lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                                           sizeof(rcvbuf)),
                         0);
    c->fd = establish(&c->h, SPORT, &c->iss);
    c->wnd0 = c->h.last.window; /* h.last is still the SYN-ACK */
    assert_true(c->h.last.opts.present & SYNACK_TCPOPT_F_WSCALE);
    c->wscale = c->h.last.opts.wscale;
    c->seq = 1001;
    c->tsval = 200;
    c->h.nout = 0;
}

/* A segment of `len` bytes at the peer's sequence number + `gap`, with
 * timestamps (negotiated), handed over with rx_flags; the peer's sequence
 * number moves on only for in-order data. */
static int data_in(struct conn *c, uint32_t gap, uint32_t len, uint8_t flags, unsigned rx_flags)
{
    static uint8_t payload[SEG];
    uint8_t pkt[20 + 60 + SEG];
    assert_true(len <= SEG);
    memset(payload, 'a' + (int)(c->seq % 26), len);
    struct synack_tcp_opts o = {.present = SYNACK_TCPOPT_F_TIMESTAMP, .tsval = c->tsval++,
                                .tsecr = c->h.last.opts.tsval};
    size_t n = raw_seg(pkt, sizeof(pkt), PEER, SPORT, flags, c->seq + gap, c->iss + 1, &o, payload,
                       len);
    if (gap == 0)
        c->seq += len + ((flags & SYNACK_TH_FIN) ? 1u : 0u);
    return synack_stack_input_meta(c->h.s, pkt, n, synack_stack_now(c->h.s), rx_flags);
}

static void conn_close(struct conn *c)
{
    synack_stack_free(c->h.s);
}

/* Eight full segments in one batch: no ACK until the flush, then exactly
 * one, for all of them.  A flush with nothing held sends nothing. */
static void test_batch_one_ack(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, 0);
    synack_stack_input_flush(c.h.s);
    assert_int_equal(c.h.nout, 1);
    assert_int_equal(c.h.last.flags, SYNACK_TH_ACK);
    assert_int_equal(c.h.last.ack, 1001 + 8 * SEG);
    synack_stack_input_flush(c.h.s);
    assert_int_equal(c.h.nout, 1);
    /* A second batch: again one ACK. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    synack_stack_input_flush(c.h.s);
    assert_int_equal(c.h.nout, 2);
    assert_int_equal(c.h.last.ack, 1001 + 13 * SEG);
    conn_close(&c);
}

/* The same eight segments one at a time (no flag): an ACK every second
 * segment, as before batches existed; a lone segment in a batch waits for
 * the delayed ACK as it would alone. */
static void test_single_packets_unchanged(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, 0), 0);
        assert_int_equal(c.h.nout, (uint32_t)(i + 1) / 2);
    }
    assert_int_equal(c.h.last.ack, 1001 + 8 * SEG);
    assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    synack_stack_input_flush(c.h.s);
    assert_int_equal(c.h.nout, 4);
    synack_stack_advance(c.h.s, synack_stack_now(c.h.s) + SYNACK_MSEC(40));
    assert_int_equal(c.h.nout, 5);
    assert_int_equal(c.h.last.ack, 1001 + 9 * SEG);
    conn_close(&c);
}

/* 64 KiB unacknowledged: the ACK goes at once, mid-batch (GRO's bound). */
static void test_bound_bytes(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 0);
    /* Two segments one by one: their ACK offers the whole (scaled) window,
     * more than twice 64 KiB; the SYN-ACK's could not. */
    for (int i = 0; i < 2; i++)
        assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, 0), 0);
    assert_int_equal(c.h.nout, 1);
    assert_true(((uint32_t)c.h.last.window << c.wscale) >= 2 * 65536);
    uint32_t base = 1001 + 2 * SEG;
    uint32_t before = 65536 / SEG; /* 45 segments stay under 64 KiB */
    for (uint32_t i = 0; i < before; i++)
        assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, 1);
    assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, 2);
    assert_int_equal(c.h.last.ack, base + (before + 1) * SEG);
    for (int i = 0; i < 3; i++)
        assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, 2);
    synack_stack_input_flush(c.h.s);
    assert_int_equal(c.h.nout, 3);
    assert_int_equal(c.h.last.ack, base + (before + 4) * SEG);
    conn_close(&c);
}

/* Half the window we advertised: with an 8 KiB receive buffer (and the
 * application not reading) the ACK goes once half of the window offered
 * in the SYN-ACK is used, not at 64 KiB. */
static void test_bound_half_window(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 8192);
    uint32_t wnd = c.wnd0; /* the SYN-ACK's window (never scaled) */
    assert_true(wnd >= 4000 && wnd / 2 < 65536);
    uint32_t k = (wnd / 2 + 999) / 1000; /* the first segment count at or past half */
    for (uint32_t i = 1; i < k; i++)
        assert_int_equal(data_in(&c, 0, 1000, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, 0);
    assert_int_equal(data_in(&c, 0, 1000, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, 1);
    assert_int_equal(c.h.last.ack, 1001 + k * 1000);
    conn_close(&c);
}

/* 64 segments, however small: the ACK goes at once at the 64th. */
static void test_bound_segments(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 0);
    for (int i = 0; i < 63; i++)
        assert_int_equal(data_in(&c, 0, 10, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, 0);
    assert_int_equal(data_in(&c, 0, 10, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, 1);
    assert_int_equal(c.h.last.ack, 1001 + 64 * 10);
    synack_stack_input_flush(c.h.s);
    assert_int_equal(c.h.nout, 1); /* nothing owed */
    conn_close(&c);
}

/* Out-of-order data and a FIN are ACKed at once inside a batch too; the
 * ACK they send covers what was held, so the flush has nothing to send. */
static void test_immediate_acks_stay(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, 0);
    assert_int_equal(data_in(&c, SEG, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0); /* a hole */
    assert_int_equal(c.h.nout, 1);
    assert_int_equal(c.h.last.ack, 1001 + 4 * SEG); /* a duplicate ACK for the hole, at once */
    synack_stack_input_flush(c.h.s);
    assert_int_equal(c.h.nout, 1);

    for (int i = 0; i < 2; i++) /* fills the hole: at once */
        assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    uint32_t n = c.h.nout;
    assert_true(n >= 2);
    assert_int_equal(c.h.last.ack, 1001 + 6 * SEG);
    assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK | SYNACK_TH_FIN, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, n + 1);
    assert_int_equal(c.h.last.ack, 1001 + 8 * SEG + 1); /* the FIN's ACK, at once */
    synack_stack_input_flush(c.h.s);
    assert_int_equal(c.h.nout, n + 1);
    conn_close(&c);
}

/* A connection reset while its ACK is held: forgotten (ASan would see a
 * freed connection touched), nothing sent at the flush. */
static void test_reset_while_held(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(synack_close(c.h.s, c.fd), 0); /* unread data: close() resets */
    uint32_t n = c.h.nout;
    assert_true(n >= 1);
    assert_true(c.h.last.flags & SYNACK_TH_RST);
    synack_stack_input_flush(c.h.s);
    assert_int_equal(c.h.nout, n);
    conn_close(&c);
}

/* A driver that marks batches but never flushes: the delayed ACK. */
static void test_no_flush_delayed_ack(void **state)
{
    (void)state;
    struct conn c;
    conn_open(&c, 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(data_in(&c, 0, SEG, SYNACK_TH_ACK, SYNACK_RX_BATCH), 0);
    assert_int_equal(c.h.nout, 0);
    synack_time_t t = synack_stack_now(c.h.s);
    assert_true(synack_stack_next_deadline(c.h.s) <= t + SYNACK_MSEC(40));
    synack_stack_advance(c.h.s, t + SYNACK_MSEC(40));
    assert_int_equal(c.h.nout, 1);
    assert_int_equal(c.h.last.ack, 1001 + 6 * SEG);
    synack_stack_input_flush(c.h.s);
    assert_int_equal(c.h.nout, 1);
    conn_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_one_ack),
        cmocka_unit_test(test_single_packets_unchanged),
        cmocka_unit_test(test_bound_bytes),
        cmocka_unit_test(test_bound_half_window),
        cmocka_unit_test(test_bound_segments),
        cmocka_unit_test(test_immediate_acks_stay),
        cmocka_unit_test(test_reset_while_held),
        cmocka_unit_test(test_no_flush_delayed_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
