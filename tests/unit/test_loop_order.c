/* The event loop's order within one synack_loop_run_once() (src/dev/loop.c):
 * packets already waiting in the device are read before the timers whose
 * deadline has passed run, so that an ACK sitting unread in the device's
 * queue is not beaten by the retransmission timer it would have stopped.
 * No TUN needed: the device's descriptor is one end of a non-blocking
 * AF_UNIX datagram socket pair, the test writes "packets" into the other.
 * The loop's receiver and an extra timer source (synack_loop_add_timer)
 * record the order in which the loop calls them.  And the loop flushes the
 * ACKs a batch held whichever receiver it has (synack_loop_set_rx too, as
 * `synack serve --pcap` uses). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dev/dev_internal.h"
#include "synack/loop.h"
#include "synack/wire.h"
#include "unit/raw_peer.h"

struct order {
    char log[16];     /* 'r' per packet received, 't' per timer run */
    unsigned n;
    synack_time_t due; /* the timer source's deadline (NEVER once run) */
};

static void note(struct order *o, char c)
{
    if (o->n + 1 < sizeof(o->log))
        o->log[o->n++] = c;
}

static int rx(void *user, const uint8_t *pkt, size_t len, synack_time_t now, unsigned flags)
{
    (void)pkt, (void)len, (void)now, (void)flags;
    note(user, 'r');
    return 0;
}

static synack_time_t timer_next(void *user) { return ((struct order *)user)->due; }

static void timer_run(void *user, synack_time_t now)
{
    struct order *o = user;
    if (o->due <= now) {
        note(o, 't');
        o->due = SYNACK_TIME_NEVER;
    }
}

static int discard_output(void *user, const uint8_t *pkt, size_t len)
{
    (void)user, (void)pkt, (void)len;
    return 0;
}

struct rig {
    struct synack_stack *stack;
    struct synack_dev *dev;
    struct synack_loop *loop;
    int peer;
    struct order o;
};

static int rig_up(void **state)
{
    struct rig *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    struct synack_dev *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    d->kind = SYNACK_DEV_TUN;
    d->fd = sv[0];
    d->mtu = 1500;
    d->batch = 16;
    d->batch_bytes = 64 * 1024;
    d->ring_cap = d->batch_bytes + SN_DEV_RXBUF;
    d->ring = malloc(d->ring_cap);
    d->rx = calloc(d->batch, sizeof(*d->rx));
    assert_non_null(d->ring);
    assert_non_null(d->rx);
    assert_int_equal(sn_dev_hold_init(d, 1500, 16, 1 << 20), 0);
    r->dev = d;
    r->peer = sv[1];

    struct synack_config c;
    synack_config_init(&c);
    c.seed = 1;
    c.addr = 0x0a000002;
    assert_int_equal(synack_stack_new(&c, discard_output, NULL, &r->stack), 0);
    assert_int_equal(synack_loop_new(r->stack, r->dev, &r->loop), 0);
    synack_loop_set_rx_meta(r->loop, rx, &r->o);
    r->o.due = SYNACK_TIME_NEVER;
    assert_int_equal(synack_loop_add_timer(r->loop, timer_next, timer_run, &r->o), 0);
    *state = r;
    return 0;
}

static int rig_down(void **state)
{
    struct rig *r = *state;
    synack_loop_free(r->loop);
    synack_stack_free(r->stack);
    synack_dev_close(r->dev);
    close(r->peer);
    free(r);
    return 0;
}

/* A minimal IPv4 header's worth of bytes: the device hands up anything
 * that looks like IPv4 (version 4, at least 20 bytes). */
static void send_pkt(struct rig *r)
{
    uint8_t p[40] = {0x45};
    assert_int_equal(write(r->peer, p, sizeof(p)), (ssize_t)sizeof(p));
}

/* Two packets wait in the device and the timer's deadline has passed
 * (the caller comes back late): both packets are read, then the timer runs,
 * in the same call, without sleeping. */
static void test_input_before_due_timer(void **state)
{
    struct rig *r = *state;
    send_pkt(r);
    send_pkt(r);
    r->o.due = synack_clock_now() - 1000;
    assert_true(synack_loop_run_once(r->loop, SYNACK_TIME_NEVER) > 0);
    assert_string_equal(r->o.log, "rrt");
    struct synack_loop_stats st;
    synack_loop_stats(r->loop, &st);
    assert_int_equal(st.sleeps, 0);
}

/* A timer that is due with no input: it runs at once (the call does not
 * sleep until `until`, which is never). */
static void test_due_timer_without_input(void **state)
{
    struct rig *r = *state;
    r->o.due = synack_clock_now() - 1;
    assert_true(synack_loop_run_once(r->loop, SYNACK_TIME_NEVER) > 0);
    assert_string_equal(r->o.log, "t");
}

/* Input and no deadline: the call sleeps until the device is readable and
 * hands the packet up; a later deadline is left for a later call. */
static void test_input_wakes_sleep(void **state)
{
    struct rig *r = *state;
    r->o.due = synack_clock_now() + 60 * 1000000ull; /* a minute away */
    send_pkt(r);
    assert_true(synack_loop_run_once(r->loop, SYNACK_TIME_NEVER) > 0);
    assert_string_equal(r->o.log, "r");
    struct synack_loop_stats st;
    synack_loop_stats(r->loop, &st);
    assert_int_equal(st.sleeps, 1);
}

/* `until` in the past: no sleep, and nothing to do returns 0. */
static void test_until_past_returns(void **state)
{
    struct rig *r = *state;
    assert_int_equal(synack_loop_run_once(r->loop, 0), 0);
    assert_int_equal(r->o.n, 0);
}

/* ---- the ACKs of a batch, with a receiver of synack_loop_set_rx ---------- */

#define SPORT 40000
#define SEG 1000

struct plain_rx {
    struct h h;
    uint32_t iss;
    uint32_t seq;    /* the peer's next sequence number */
    unsigned nin;    /* packets the receiver passed on */
};

/* A receiver without flags from the device (as serve's capture path): it
 * passes each packet straight on as one of a batch. */
static int plain_rx(void *user, const uint8_t *pkt, size_t len, synack_time_t now)
{
    struct plain_rx *p = user;
    (void)now; /* the stack's own clock: the loop's may be behind raw_peer's 1000 s */
    p->nin++;
    return synack_stack_input_meta(p->h.s, pkt, len, synack_stack_now(p->h.s),
                                   SYNACK_RX_BATCH);
}

/* One full segment of the peer's data, written into the device. */
static void data_pkt(struct plain_rx *p, int peer)
{
    static uint8_t payload[SEG];
    uint8_t pkt[20 + 20 + SEG];
    memset(payload, 'd', sizeof(payload));
    size_t len = raw_seg(pkt, sizeof(pkt), PEER, SPORT, SYNACK_TH_ACK, p->seq, p->iss + 1, NULL,
                         payload, SEG);
    assert_int_equal(write(peer, pkt, len), (ssize_t)len);
    p->seq += SEG;
}

/* Four segments in one device read through a synack_loop_set_rx receiver
 * that marks them SYNACK_RX_BATCH: after the one call, exactly one ACK for
 * all four (the loop's flush).  Before, the loop flushed only for the
 * default receiver, and the batch's ACK waited for the delayed-ACK timer. */
static void test_plain_receiver_flushed(void **state)
{
    struct rig *r = *state;
    struct plain_rx p;
    setup(&p.h, 16, 8);
    synack_loop_free(r->loop);
    assert_int_equal(synack_loop_new(p.h.s, r->dev, &r->loop), 0);
    synack_loop_set_rx(r->loop, plain_rx, &p);
    int fd = establish(&p.h, SPORT, &p.iss);
    assert_true(fd >= 0);
    p.seq = 1001;
    p.nin = 0;
    p.h.nout = 0;
    for (int i = 0; i < 4; i++)
        data_pkt(&p, r->peer);
    assert_true(synack_loop_run_once(r->loop, SYNACK_TIME_NEVER) > 0);
    assert_int_equal(p.nin, 4);
    assert_int_equal(p.h.nout, 1);
    assert_int_equal(p.h.last.flags, SYNACK_TH_ACK);
    assert_int_equal(p.h.last.ack, 1001 + 4 * SEG);
    /* The loop is the test's stack's now: free it first, then the stack. */
    synack_loop_free(r->loop);
    r->loop = NULL;
    synack_stack_free(p.h.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_input_before_due_timer, rig_up, rig_down),
        cmocka_unit_test_setup_teardown(test_due_timer_without_input, rig_up, rig_down),
        cmocka_unit_test_setup_teardown(test_input_wakes_sleep, rig_up, rig_down),
        cmocka_unit_test_setup_teardown(test_until_past_returns, rig_up, rig_down),
        cmocka_unit_test_setup_teardown(test_plain_receiver_flushed, rig_up, rig_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
