/* One connection that outlives the sequence space (issue 9 item 1): more
 * than 2^32 bytes from one simulated stack to another, with losses late in
 * the transfer (past 2^31 and past 2^32 bytes), checked byte for byte.  State
 * compared with sequence numbers (the recovery point, the Nagle/Minshall
 * mark, the urgent pointers, SND.WL1/WL2, Last.ACK.sent) must stay within
 * 2^31 of them however long the connection lives:
 *   - every late loss is repaired by fast retransmit, never by the RTO;
 *   - the receiver never reports POLLPRI (no urgent data was sent);
 *   - after 3 GiB of full-size segments, a small write goes at once (Nagle
 *     sees no short segment outstanding) and arrives within a round trip.
 * Virtual time and a 32 KiB MSS make it cheap: about 5 s of CPU, 25 s under
 * AddressSanitizer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"

#define LONG_BYTES (1ull << 32)
#define TOTAL (LONG_BYTES + (512ull << 20))
/* Where the bulk pauses for the Nagle check: only full segments before it. */
#define NAGLE_BYTES (3ull << 30)
#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 5002
#define CHUNK (256u * 1024u)

/* The byte at stream offset i: word i/8 of a cheap mixing function. */
static uint64_t word_at(uint64_t w)
{
    uint64_t z = w * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    z ^= z >> 29;
    return z * 0xbf58476d1ce4e5b9ull;
}

/* Fill buf with the stream bytes [off, off + n). */
static void fill(uint8_t *buf, uint64_t off, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint64_t w = word_at((off + i) / 8);
        size_t at = (size_t)((off + i) % 8), k = 8 - at < n - i ? 8 - at : n - i;
        memcpy(buf + i, (const uint8_t *)&w + at, k);
        i += k;
    }
}

struct lc {
    struct synack_sim *sim;
    struct synack_stack *st[2];
    int link, node[2];
    int lfd, cfd, sfd;
    uint64_t sent, received, pos, len;
    uint64_t cap;      /* the sender writes up to here */
    uint64_t nagle_at; /* a whole number of full segments, 2^31..2^32 from the ISN */
    bool connected, shut;
    uint8_t *out, *in, *want;
};

static void pump(struct lc *x)
{
    synack_time_t now = synack_sim_now(x->sim);
    synack_stack_advance(x->st[0], now);
    synack_stack_advance(x->st[1], now);
    if (!x->connected) {
        struct pollfd pf = {.fd = x->cfd, .events = POLLOUT};
        if (synack_poll(x->st[0], &pf, 1) == 0)
            return;
        assert_int_equal(pf.revents, POLLOUT);
        x->connected = true;
        struct synack_tcp_info ti;
        socklen_t tl = sizeof(ti);
        assert_int_equal(synack_getsockopt(x->st[0], x->cfd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
        x->nagle_at = NAGLE_BYTES / ti.snd_mss * ti.snd_mss;
        x->cap = x->nagle_at;
    }
    while (x->sent < x->cap) {
        if (x->pos == x->len) {
            x->len = x->cap - x->sent < CHUNK ? x->cap - x->sent : CHUNK;
            fill(x->out, x->sent, (size_t)x->len);
            x->pos = 0;
        }
        ssize_t w = synack_send(x->st[0], x->cfd, x->out + x->pos, (size_t)(x->len - x->pos), 0);
        if (w < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        x->pos += (uint64_t)w;
        x->sent += (uint64_t)w;
    }
    if (x->sfd < 0) {
        x->sfd = synack_accept(x->st[1], x->lfd, NULL, NULL);
        if (x->sfd < 0)
            return;
    }
    for (;;) {
        ssize_t n = synack_recv(x->st[1], x->sfd, x->in, CHUNK, 0);
        if (n <= 0)
            break;
        fill(x->want, x->received, (size_t)n);
        if (memcmp(x->in, x->want, (size_t)n) != 0)
            fail_msg("stream differs within bytes %llu..%llu", (unsigned long long)x->received,
                     (unsigned long long)(x->received + (uint64_t)n));
        x->received += (uint64_t)n;
    }
    /* No urgent data was ever sent: POLLPRI must never show. */
    struct pollfd pf = {.fd = x->sfd, .events = POLLIN | POLLPRI};
    synack_poll(x->st[1], &pf, 1);
    if (pf.revents & POLLPRI)
        fail_msg("POLLPRI without urgent data after %llu bytes", (unsigned long long)x->received);
}

static void set_loss(struct lc *x, double p)
{
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(1);
    lp.loss = p;
    assert_int_equal(synack_sim_link_set(x->sim, x->link, x->node[0], &lp), 0);
}

static void setup(struct lc *x)
{
    assert_int_equal(synack_sim_new(9, &x->sim), 0);
    for (int i = 0; i < 2; i++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == 0 ? CADDR : SADDR;
        cfg.mtu = 32820; /* MSS 32768 with timestamps: the 4 MiB buffers hold whole segments */
        cfg.sndbuf = cfg.rcvbuf = 4u << 20;
        x->node[i] = synack_sim_add_stack(x->sim, &cfg, &x->st[i]);
        assert_true(x->node[i] >= 0);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(1);
    x->link = synack_sim_link(x->sim, x->node[0], x->node[1], &lp, &lp);
    assert_true(x->link >= 0);
    x->lfd = synack_socket(x->st[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(synack_bind(x->st[1], x->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(x->st[1], x->lfd, 1), 0);
    x->cfd = synack_socket(x->st[0], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    a.sin_addr.s_addr = htonl(SADDR);
    assert_int_equal(synack_connect(x->st[0], x->cfd, (struct sockaddr *)&a, sizeof(a)), -1);
    x->sfd = -1;
    x->out = malloc(CHUNK);
    x->in = malloc(CHUNK);
    x->want = malloc(CHUNK);
    assert_true(x->out && x->in && x->want);
}

static int teardown(void **state)
{
    struct lc *x = *state;
    if (x) {
        if (x->sim)
            synack_sim_free(x->sim);
        free(x->out);
        free(x->in);
        free(x->want);
        free(x);
    }
    return 0;
}

/* Run until `received` reaches `upto` (every byte checked on the way). */
static void run_to(struct lc *x, uint64_t upto)
{
    for (uint64_t guard = 0; x->received < upto; guard++) {
        pump(x);
        if (x->received >= upto)
            break;
        if (!synack_sim_step(x->sim))
            fail_msg("stalled at %llu bytes", (unsigned long long)x->received);
        assert_true(guard < 400000000ull);
    }
}

/* The bulk stops after only full-size segments, 2^31..2^32 bytes past the
 * last short one (none since the ISN); once all is acknowledged, a short
 * write must go at once (Nagle, Minshall: no short segment is outstanding)
 * and arrive within the round trip, not after a timeout. */
static void nagle_check(struct lc *x)
{
    run_to(x, x->nagle_at);
    synack_sim_run_until(x->sim, synack_sim_now(x->sim) + SYNACK_SEC(1));
    synack_time_t t0 = synack_sim_now(x->sim);
    x->cap = x->nagle_at + 4; /* four more bytes of the stream */
    pump(x);
    assert_true(x->sent == x->cap);
    while (x->received < x->cap && synack_sim_now(x->sim) < t0 + SYNACK_SEC(5)) {
        if (!synack_sim_step(x->sim))
            break;
        pump(x);
    }
    assert_true(x->received == x->cap);
    assert_true(synack_sim_now(x->sim) - t0 <= SYNACK_MSEC(5));
    x->cap = TOTAL;
}

static void test_past_2_32_with_late_losses(void **state)
{
    struct lc *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    *state = x;
    setup(x);
    const struct synack_stack_stats *cs = synack_stack_stats(x->st[0]);

    /* Clean up to 2^31 + 256 MiB, then lose 1 data packet in 200 for the
     * next 64 MiB; again past 2^32.  The Nagle check comes in between. */
    uint64_t marks[2] = {(1ull << 31) + (256ull << 20), LONG_BYTES + (64ull << 20)};
    for (int m = 0; m < 2; m++) {
        if (marks[m] > NAGLE_BYTES && x->cap < TOTAL)
            nagle_check(x);
        run_to(x, marks[m]);
        uint64_t fr = cs->tcp_fast_retrans, to = cs->tcp_timeouts, rt = cs->tcp_retrans;
        set_loss(x, 0.005);
        run_to(x, marks[m] + (64ull << 20));
        set_loss(x, 0);
        assert_true(cs->tcp_retrans > rt);      /* the losses happened */
        assert_true(cs->tcp_fast_retrans > fr); /* and fast retransmit repaired them */
        assert_int_equal(cs->tcp_timeouts, to); /* no loss waited for the RTO */
    }
    run_to(x, TOTAL);
    assert_true(x->received == TOTAL);
}

int main(void)

{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_past_2_32_with_late_losses, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
