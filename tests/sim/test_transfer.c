/* Bulk transfers between two simulated synack stacks: whatever the link
 * does to the packets (loss, duplication, reordering, bit flips), with tiny
 * and large socket buffers, the receiver must get exactly the bytes that were
 * sent (same count, same SHA-256), within a bound on the virtual time, and
 * the connection's statistics (TCP_INFO) must show the work it took.
 *
 * SYNACK_SEEDS=N              seeds of the sweep (default 200)
 * SYNACK_TRANSFER_VERBOSE=1   print one line per transfer
 *
 * The virtual network costs little real time: the whole file, 100 MiB runs
 * included, takes about a second, and a few under AddressSanitizer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"

#define CADDR 0x0a000001u /* the sender */
#define SADDR 0x0a000002u /* the receiver */
#define PORT 5001
#define C 0
#define S 1
#define KiB 1024u
#define MiB (1024u * 1024u)
#define CHUNK (64 * KiB) /* generated, sent and read per call at most */
/* Completion bounds, as multiples of the expected time (expected_time()):
 * on a clean link, of the ideal one. */
#define CLEAN 2.0
#define IMPAIRED 10.0

/* ---- one transfer -------------------------------------------------------- */

struct xfer_params {
    uint64_t seed;
    uint64_t bytes;
    double loss, dup, reorder, corrupt; /* per packet, both directions */
    uint32_t sndbuf, rcvbuf;            /* SO_SNDBUF/SO_RCVBUF on both ends; 0: the default */
    uint64_t rate_bps;                  /* 0: 100 Mbit/s */
    bool no_rate;                       /* a link without rate limit (rate_bps unused) */
    synack_time_t delay;                /* one way; 0: 10 ms */
    unsigned offload;                   /* SYNACK_OFFLOAD_* on both stacks (the link segments) */
};

struct xfer_result {
    uint64_t sent, received;
    unsigned char md_sent[EVP_MAX_MD_SIZE], md_rcvd[EVP_MAX_MD_SIZE];
    unsigned md_len;
    synack_time_t duration;             /* connect() to EOF at the receiver */
    synack_time_t ideal, expected;      /* with a perfect link; with the impairments (a model) */
    struct synack_tcp_info start, snd, rcv; /* sender just after the handshake; both at the end */
    struct synack_sim_link_stats link[2];   /* by sending side */
    uint64_t parse_drops;                   /* both stacks: malformed packets dropped */
    uint64_t snd_ip_out, snd_tso_packets;   /* the sender: packets handed out, of them TSO */
};

/* The data: a byte stream drawn from the seed, made 64 KiB at a time. */
struct gen {
    struct sn_rng rng;
    uint8_t buf[CHUNK];
    size_t pos, len;
    uint64_t made, total;
};

struct xfer {
    const struct xfer_params *p;
    struct xfer_result *r;
    struct synack_sim *sim;
    struct synack_stack *st[2];
    int node[2], link;
    int lfd, cfd, sfd;
    bool connected, fin_sent, eof;
    EVP_MD_CTX *h_sent, *h_rcvd;
    struct gen gen;
    uint8_t rbuf[CHUNK];
};

static void gen_refill(struct gen *g)
{
    uint64_t n = g->total - g->made < CHUNK ? g->total - g->made : CHUNK;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = sn_rng_next(&g->rng);
        size_t k = n - i < 8 ? n - i : 8;
        memcpy(g->buf + i, &w, k);
    }
    g->pos = 0;
    g->len = (size_t)n;
    g->made += n;
}

static void set_buf(struct synack_stack *st, int fd, int name, uint32_t v)
{
    if (v == 0)
        return;
    int iv = (int)v, got = 0;
    socklen_t len = sizeof(got);
    assert_int_equal(synack_setsockopt(st, fd, SOL_SOCKET, name, &iv, sizeof(iv)), 0);
    assert_int_equal(synack_getsockopt(st, fd, SOL_SOCKET, name, &got, &len), 0);
    assert_int_equal(got, iv);
}

static struct synack_tcp_info tinfo(struct synack_stack *st, int fd)
{
    struct synack_tcp_info i;
    socklen_t len = sizeof(i);
    assert_int_equal(synack_getsockopt(st, fd, IPPROTO_TCP, TCP_INFO, &i, &len), 0);
    return i;
}

static void xfer_setup(struct xfer *x)
{
    const struct xfer_params *p = x->p;
    assert_int_equal(synack_sim_new(p->seed, &x->sim), 0);
    for (int side = C; side <= S; side++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = side == C ? CADDR : SADDR;
        cfg.seed = 0;
        cfg.msl = SYNACK_SEC(1);
        cfg.offload = p->offload;
        x->node[side] = synack_sim_add_stack(x->sim, &cfg, &x->st[side]);
        assert_true(x->node[side] >= 0);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = p->delay ? p->delay : SYNACK_MSEC(10);
    lp.rate_bps = p->no_rate ? 0 : p->rate_bps ? p->rate_bps : 100000000u;
    lp.loss = p->loss;
    lp.dup = p->dup;
    lp.reorder = p->reorder;
    lp.corrupt = p->corrupt;
    x->link = synack_sim_link(x->sim, x->node[C], x->node[S], &lp, &lp);
    assert_true(x->link >= 0);

    x->lfd = synack_socket(x->st[S], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(x->lfd >= 0);
    set_buf(x->st[S], x->lfd, SO_SNDBUF, p->sndbuf); /* the accepted socket inherits them */
    set_buf(x->st[S], x->lfd, SO_RCVBUF, p->rcvbuf);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(PORT);
    assert_int_equal(synack_bind(x->st[S], x->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(x->st[S], x->lfd, 4), 0);

    x->cfd = synack_socket(x->st[C], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(x->cfd >= 0);
    set_buf(x->st[C], x->cfd, SO_SNDBUF, p->sndbuf);
    set_buf(x->st[C], x->cfd, SO_RCVBUF, p->rcvbuf);
    a.sin_addr.s_addr = htonl(SADDR);
    assert_int_equal(synack_connect(x->st[C], x->cfd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
    x->sfd = -1;

    x->gen.total = p->bytes;
    sn_rng_seed(&x->gen.rng, p->seed * 0x9e3779b97f4a7c15ull + 1);
    x->h_sent = EVP_MD_CTX_new();
    x->h_rcvd = EVP_MD_CTX_new();
    assert_non_null(x->h_sent);
    assert_non_null(x->h_rcvd);
    assert_int_equal(EVP_DigestInit_ex(x->h_sent, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestInit_ex(x->h_rcvd, EVP_sha256(), NULL), 1);
}

static void xfer_free(struct xfer *x)
{
    if (!x)
        return;
    if (x->sim)
        synack_sim_free(x->sim);
    EVP_MD_CTX_free(x->h_sent);
    EVP_MD_CTX_free(x->h_rcvd);
    free(x);
}

/* A transfer in progress hangs off the test's state, so that a failing
 * test (cmocka leaves it by longjmp) still frees it. */
static int xfer_teardown(void **state)
{
    xfer_free(*state);
    *state = NULL;
    return 0;
}

/* The applications: the sender writes all it can, then shuts down its
 * sending side; the receiver reads all there is.  Run after every event. */
static void pump(struct xfer *x)
{
    struct xfer_result *r = x->r;
    synack_time_t now = synack_sim_now(x->sim);
    synack_stack_advance(x->st[C], now);
    synack_stack_advance(x->st[S], now);
    if (!x->connected) {
        struct pollfd pf = {.fd = x->cfd, .events = POLLOUT};
        if (synack_poll(x->st[C], &pf, 1) == 0)
            return;
        assert_int_equal(pf.revents, POLLOUT); /* connected, not failed */
        x->connected = true;
        r->start = tinfo(x->st[C], x->cfd);
    }
    while (r->sent < x->p->bytes) {
        if (x->gen.pos == x->gen.len)
            gen_refill(&x->gen);
        const uint8_t *data = x->gen.buf + x->gen.pos;
        ssize_t w = synack_send(x->st[C], x->cfd, data, x->gen.len - x->gen.pos, 0);
        if (w < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        assert_true(w > 0);
        EVP_DigestUpdate(x->h_sent, data, (size_t)w);
        x->gen.pos += (size_t)w;
        r->sent += (uint64_t)w;
    }
    if (r->sent == x->p->bytes && !x->fin_sent) {
        assert_int_equal(synack_shutdown(x->st[C], x->cfd, SHUT_WR), 0);
        x->fin_sent = true;
    }
    if (x->sfd < 0) {
        x->sfd = synack_accept(x->st[S], x->lfd, NULL, NULL);
        if (x->sfd < 0) {
            assert_int_equal(errno, EAGAIN);
            return;
        }
    }
    while (!x->eof) {
        ssize_t n = synack_recv(x->st[S], x->sfd, x->rbuf, sizeof(x->rbuf), 0);
        if (n < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        if (n == 0) {
            x->eof = true;
            break;
        }
        EVP_DigestUpdate(x->h_rcvd, x->rbuf, (size_t)n);
        r->received += (uint64_t)n;
        assert_true(r->received <= x->p->bytes);
    }
}

static bool no_event(void *user)
{
    (void)user;
    return false;
}

/* The best time possible: the handshake, then the bytes at the link rate
 * or at one window per round trip, whichever is slower. */
static double ideal_time(const struct xfer_params *p)
{
    double delay = (double)(p->delay ? p->delay : SYNACK_MSEC(10)) / 1e6;
    double rate = p->no_rate ? 1e18 : (double)(p->rate_bps ? p->rate_bps : 100000000u) / 8.0;
    double snd = p->sndbuf ? p->sndbuf : 256 * KiB, rcv = p->rcvbuf ? p->rcvbuf : 256 * KiB;
    double wnd = snd < rcv ? snd : rcv;
    double bps = wnd / (2 * delay) < rate ? wnd / (2 * delay) : rate;
    return 3 * delay + (double)p->bytes / bps;
}

/* What the impairments may add: the time per segment of the model of
 * Padhye et al. (SIGCOMM 1998) for a loss rate p, with delayed ACKs (b = 2)
 * and a first timeout T0 of RTO_min (200 ms).  Corrupted packets are lost
 * packets; reordering past the duplicate-ACK threshold and duplicates
 * (spurious duplicate ACKs) are counted as a fraction of a loss. */
static double expected_time(const struct xfer_params *p)
{
    double rtt = 2 * (double)(p->delay ? p->delay : SYNACK_MSEC(10)) / 1e6, t0 = 0.2;
    double loss = p->loss + p->corrupt + p->reorder + p->dup / 4;
    if (loss > 0.5)
        loss = 0.5;
    double timeouts = 3 * sqrt(3 * loss / 4);
    double per_seg = rtt * sqrt(4 * loss / 3) +
                     t0 * (timeouts < 1 ? timeouts : 1) * loss * (1 + 32 * loss * loss);
    return ideal_time(p) + per_seg * (double)p->bytes / 1448.0;
}

static bool verbose(void)
{
    const char *v = getenv("SYNACK_TRANSFER_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* Move p->bytes from C to S; fails the test on a stall (nothing pending, or
 * past max_factor times the expected time) or a mismatch. */
static void run_transfer(void **state, const struct xfer_params *p, double max_factor,
                         struct xfer_result *r)
{
    struct xfer *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    *state = x;
    memset(r, 0, sizeof(*r));
    x->p = p;
    x->r = r;
    xfer_setup(x);
    synack_time_t t0 = synack_sim_now(x->sim);
    r->ideal = (synack_time_t)(ideal_time(p) * 1e6);
    r->expected = (synack_time_t)(expected_time(p) * 1e6);
    synack_time_t limit = t0 + (synack_time_t)(max_factor * (double)r->expected);
    for (;;) {
        pump(x);
        if (x->eof)
            break;
        if (!synack_sim_step(x->sim))
            fail_msg("seed %llu: stalled at %llu of %llu bytes: nothing pending",
                     (unsigned long long)p->seed, (unsigned long long)r->received,
                     (unsigned long long)p->bytes);
        if (synack_sim_now(x->sim) > limit)
            fail_msg("seed %llu: %llu of %llu bytes after %.3f s (expected %.3f s, bound %.0fx)",
                     (unsigned long long)p->seed, (unsigned long long)r->received,
                     (unsigned long long)p->bytes, (double)(synack_sim_now(x->sim) - t0) / 1e6,
                     (double)r->expected / 1e6, max_factor);
    }
    r->duration = synack_sim_now(x->sim) - t0;

    /* Let the sender learn that everything, FIN included, arrived. */
    struct synack_tcp_info si;
    do {
        si = tinfo(x->st[C], x->cfd);
        if (si.state != SYNACK_FIN_WAIT_1)
            break;
    } while (synack_sim_step(x->sim));
    assert_true(si.state == SYNACK_FIN_WAIT_2 || si.state == SYNACK_TIME_WAIT);
    r->snd = si;
    r->rcv = tinfo(x->st[S], x->sfd);
    assert_int_equal(synack_close(x->st[S], x->sfd), 0);
    assert_int_equal(synack_close(x->st[C], x->cfd), 0);
    assert_int_equal(synack_close(x->st[S], x->lfd), 0);
    /* Everything in flight arrives or is dropped; TIME-WAIT runs out. */
    synack_sim_run_while(x->sim, no_event, NULL, synack_sim_now(x->sim) + SYNACK_SEC(600));

    unsigned len = 0;
    assert_int_equal(EVP_DigestFinal_ex(x->h_sent, r->md_sent, &r->md_len), 1);
    assert_int_equal(EVP_DigestFinal_ex(x->h_rcvd, r->md_rcvd, &len), 1);
    assert_int_equal(len, r->md_len);
    for (int side = C; side <= S; side++) {
        assert_int_equal(synack_sim_link_stats(x->sim, x->link, x->node[side], &r->link[side]), 0);
        const struct synack_stack_stats *ss = synack_stack_stats(x->st[side]);
        for (int k = 0; k < SYNACK_WIRE_NERR; k++)
            r->parse_drops += ss->ip_drop_parse[k];
        r->parse_drops += ss->ip_drop_notme + ss->ip_drop_proto + ss->ip_drop_frag;
        if (side == C) {
            r->snd_ip_out = ss->ip_out;
            r->snd_tso_packets = ss->tcp_tso_packets;
        }
        assert_int_equal(ss->tcp_conns_active, 0);
    }
    xfer_free(x);
    *state = NULL;

    if (verbose())
        print_message("seed %4llu %9llu B loss %.2f dup %.2f reord %.2f corr %.2f buf %u/%u: "
                      "%8.3f s (expected %.3f, x%.2f) retrans %llu cwnd %u ssthresh %u "
                      "lost %llu/%llu corrupted %llu\n",
                      (unsigned long long)p->seed, (unsigned long long)p->bytes, p->loss, p->dup,
                      p->reorder, p->corrupt, p->sndbuf, p->rcvbuf, (double)r->duration / 1e6,
                      (double)r->expected / 1e6, (double)r->duration / (double)r->expected,
                      (unsigned long long)r->snd.total_retrans, r->snd.snd_cwnd,
                      r->snd.snd_ssthresh, (unsigned long long)r->link[C].lost,
                      (unsigned long long)r->link[S].lost,
                      (unsigned long long)(r->link[C].corrupted + r->link[S].corrupted));

    /* The one property that matters: the same bytes, all of them. */
    assert_int_equal(r->sent, p->bytes);
    assert_int_equal(r->received, p->bytes);
    assert_int_equal(r->md_len, 32);
    assert_memory_equal(r->md_rcvd, r->md_sent, r->md_len);
    /* TCP_INFO agrees. */
    assert_int_equal(r->rcv.bytes_received, p->bytes);
    assert_int_equal(r->snd.bytes_acked, p->bytes);
    assert_int_equal(r->snd.bytes_in_flight, 0);
    assert_int_equal(r->snd.unsent, 0);
    assert_true(r->snd.segs_out >= p->bytes / r->snd.snd_mss);
}

/* ---- the sweep's size ------------------------------------------------------ */

static unsigned seeds(void)
{
    const char *v = getenv("SYNACK_SEEDS");
    if (!v || !*v)
        return 200;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || n == 0 || n > 100000)
        fail_msg("SYNACK_SEEDS must be a number of seeds (1..100000), not '%s'", v);
    return (unsigned)n;
}

/* ---- the tests ---------------------------------------------------------------- */

/* A clean link: no retransmission, no loss response, close to the ideal time. */
static void test_clean(void **state)
{
    static const uint64_t sizes[] = {1 * MiB, 16 * MiB, 100 * MiB};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct xfer_params p = {.seed = 1 + i, .bytes = sizes[i]};
        struct xfer_result r;
        run_transfer(state, &p, CLEAN, &r);
        assert_int_equal(r.snd.total_retrans, 0);
        assert_int_equal(r.rcv.total_retrans, 0);
        assert_int_equal(r.link[C].lost + r.link[C].queue_drops, 0);
        /* No loss: ssthresh never set, cwnd grew from the initial window. */
        assert_int_equal(r.snd.snd_ssthresh, r.start.snd_ssthresh);
        assert_true(r.snd.snd_cwnd > r.start.snd_cwnd);
        assert_int_equal(r.snd.snd_mss, 1500 - 40 - 12); /* MSS less the timestamp option */
        assert_true(r.snd.options & SYNACK_TCPI_OPT_TIMESTAMPS);
        assert_true(r.snd.options & SYNACK_TCPI_OPT_WSCALE);
        assert_true(r.snd.options & SYNACK_TCPI_OPT_SACK);
    }
}

/* Random loss, 1% to 10%, alone: recovered by retransmission; the sender's
 * window responds (ssthresh falls from its initial value). */
static void test_loss(void **state)
{
    static const double rates[] = {0.01, 0.02, 0.05, 0.10};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            struct xfer_params p = {.seed = 100 * i + seed, .bytes = 1 * MiB, .loss = rates[i]};
            struct xfer_result r;
            run_transfer(state, &p, IMPAIRED, &r);
            assert_true(r.link[C].lost > 0);
            assert_true(r.snd.total_retrans > 0);
            assert_true(r.snd.total_retrans >= r.link[C].lost / 2);
            assert_true(r.snd.snd_ssthresh < r.start.snd_ssthresh);
        }
    }
    /* A big transfer through 1% loss. */
    struct xfer_params p = {.seed = 42, .bytes = 16 * MiB, .loss = 0.01};
    struct xfer_result r;
    run_transfer(state, &p, IMPAIRED, &r);
    assert_true(r.snd.total_retrans > 0);
}

/* Duplicated packets: nothing is delivered twice, and with SACK a
 * duplicate is no loss signal (RFC 6675 2: an ACK that brings no new SACK
 * information is not a "duplicate ACK"), so nothing is retransmitted. */
static void test_duplication(void **state)
{
    static const double rates[] = {0.01, 0.10, 0.50};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        struct xfer_params p = {.seed = 7 + i, .bytes = 1 * MiB, .dup = rates[i]};
        struct xfer_result r;
        run_transfer(state, &p, IMPAIRED, &r);
        assert_true(r.link[C].duplicated > 0);
        assert_int_equal(r.link[C].lost, 0);
        assert_int_equal(r.snd.total_retrans, 0);
        assert_int_equal(r.snd.snd_ssthresh, r.start.snd_ssthresh);
    }
}

/* Reordered packets (held back one round trip). */
static void test_reordering(void **state)
{
    static const double rates[] = {0.01, 0.05, 0.20};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        struct xfer_params p = {.seed = 11 + i, .bytes = 1 * MiB, .reorder = rates[i]};
        struct xfer_result r;
        run_transfer(state, &p, IMPAIRED, &r);
        assert_true(r.link[C].reordered > 0);
    }
}

/* Bit flips: every corrupted packet is caught by a checksum and dropped,
 * so none of them reaches the data. */
static void test_corruption(void **state)
{
    static const double rates[] = {0.01, 0.05};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        struct xfer_params p = {.seed = 21 + i, .bytes = 1 * MiB, .corrupt = rates[i]};
        struct xfer_result r;
        run_transfer(state, &p, IMPAIRED, &r);
        uint64_t corrupted = r.link[C].corrupted + r.link[S].corrupted;
        assert_true(corrupted > 0);
        assert_int_equal(r.parse_drops, corrupted);
        assert_true(r.snd.total_retrans > 0);
    }
}

/* 4 KiB socket buffers: a window of two or three segments. */
static void test_tiny_buffers(void **state)
{
    struct xfer_params p = {.seed = 31, .bytes = 1 * MiB, .sndbuf = 4 * KiB, .rcvbuf = 4 * KiB};
    struct xfer_result r;
    run_transfer(state, &p, CLEAN, &r);
    assert_int_equal(r.snd.total_retrans, 0);
    assert_true(r.rcv.rcv_wnd <= 4 * KiB);
    p.loss = 0.02;
    p.seed = 32;
    run_transfer(state, &p, IMPAIRED, &r);
    assert_true(r.snd.total_retrans > 0);
}

/* 4 MiB socket buffers: windows far past the path's capacity, so the link's
 * queue overflows in slow start (tail drops) and TCP recovers. */
static void test_large_buffers(void **state)
{
    struct xfer_params p = {.seed = 41, .bytes = 64 * MiB, .sndbuf = 4 * MiB, .rcvbuf = 4 * MiB};
    struct xfer_result r;
    run_transfer(state, &p, CLEAN, &r);
    assert_true(r.snd.snd_wnd > 256 * KiB); /* window scaling at work */
    p.seed = 42;
    p.bytes = 16 * MiB;
    p.loss = 0.01;
    run_transfer(state, &p, IMPAIRED, &r);
    assert_true(r.snd.total_retrans > 0);
}

/* Every impairment at once. */
static void test_all_together(void **state)
{
    for (uint64_t seed = 51; seed <= 55; seed++) {
        struct xfer_params p = {.seed = seed, .bytes = 1 * MiB, .loss = 0.05, .dup = 0.05,
                                .reorder = 0.05, .corrupt = 0.02};
        struct xfer_result r;
        run_transfer(state, &p, IMPAIRED, &r);
        assert_true(r.link[C].lost && r.link[C].duplicated && r.link[C].reordered &&
                    r.link[C].corrupted);
        assert_true(r.snd.total_retrans > 0);
    }
    /* And a long one, with milder rates. */
    struct xfer_params p = {.seed = 56, .bytes = 100 * MiB, .loss = 0.01, .dup = 0.01,
                            .reorder = 0.01, .corrupt = 0.005};
    struct xfer_result r;
    run_transfer(state, &p, IMPAIRED, &r);
    assert_true(r.snd.total_retrans > 0);
}

/* Segmentation and checksum offload: the sender hands out segments of up to
 * 64 KiB with partial checksums, the link cuts them at the MSS and completes
 * the checksums as a NIC would; every byte arrives, also through loss,
 * duplication, reordering and corruption of the wire segments. */
static void test_offload(void **state)
{
    const unsigned offloads[] = {SYNACK_OFFLOAD_TSO, SYNACK_OFFLOAD_CSUM};
    for (size_t i = 0; i < 2; i++) {
        struct xfer_params p = {.seed = 61 + i, .bytes = 4 * MiB, .offload = offloads[i]};
        struct xfer_result r;
        run_transfer(state, &p, CLEAN, &r);
        assert_int_equal(r.snd.total_retrans, 0);
        if (offloads[i] & SYNACK_OFFLOAD_TSO) {
            assert_true(r.snd_tso_packets > 0);
            /* The link carried MTU-sized packets: many more than the stack handed out. */
            assert_true(r.link[C].sent > r.snd_ip_out + r.snd_tso_packets);
        } else {
            assert_int_equal(r.snd_tso_packets, 0);
            assert_int_equal(r.link[C].sent, r.snd_ip_out);
        }
    }
    struct xfer_params p = {.seed = 63, .bytes = 2 * MiB, .offload = SYNACK_OFFLOAD_TSO,
                            .loss = 0.02, .dup = 0.02, .reorder = 0.02, .corrupt = 0.01};
    struct xfer_result r;
    run_transfer(state, &p, IMPAIRED, &r);
    assert_true(r.snd.total_retrans > 0);
    assert_true(r.link[C].corrupted > 0);
    /* Checksum offload alone on a corrupting link: the receiving node
     * vouches only for the checksums it verified (sim_stack.c), so the
     * corrupted segments still fail and the bytes arrive intact. */
    p = (struct xfer_params){.seed = 64, .bytes = 2 * MiB, .offload = SYNACK_OFFLOAD_CSUM,
                             .corrupt = 0.02};
    run_transfer(state, &p, IMPAIRED, &r);
    assert_true(r.link[C].corrupted > 0);
    assert_true(r.snd.total_retrans > 0);
}

/* A link without rate limit delivers each flight at one instant: the
 * simulator hands it to the receiver as one batch (SYNACK_RX_BATCH), which
 * ACKs once per batch, at most every 64 KiB, instead of every second
 * segment (src/tcp/tcp_ackbatch.c).  The same bytes arrive. */
static void test_ack_batches(void **state)
{
    struct xfer_params p = {.seed = 77, .bytes = 8 * MiB, .no_rate = true};
    struct xfer_result r;
    run_transfer(state, &p, CLEAN, &r);
    uint64_t data = r.link[C].sent, acks = r.link[S].sent;
    assert_true(data >= p.bytes / 1448);
    assert_true(acks * 8 < data);           /* far fewer than one per two segments */
    assert_true(acks >= p.bytes / 65536);   /* but at least one per 64 KiB */
    assert_int_equal(r.snd.total_retrans, 0);
    if (verbose())
        print_message("%llu data segments, %llu ACKs\n", (unsigned long long)data,
                      (unsigned long long)acks);
}

/* The sweep: SYNACK_SEEDS seeds of 1 MiB, each with its own mix of
 * impairments and buffer sizes drawn from the seed. */
static void test_seed_sweep(void **state)
{
    static const uint32_t bufs[] = {4 * KiB, 0, 4 * MiB};
    static const double some[] = {0, 0.01, 0.05};
    unsigned n = seeds();
    uint64_t retrans = 0;
    synack_time_t worst = 0;
    for (unsigned i = 0; i < n; i++) {
        struct sn_rng rng;
        sn_rng_seed(&rng, 1000 + i);
        struct xfer_params p = {
            .seed = 1000 + i,
            .bytes = 1 * MiB,
            .loss = 0.01 * (double)(1 + sn_rng_below(&rng, 10)), /* 1% .. 10% */
            .dup = some[sn_rng_below(&rng, 3)],
            .reorder = some[sn_rng_below(&rng, 3)],
            .corrupt = some[sn_rng_below(&rng, 2)],
        };
        p.sndbuf = p.rcvbuf = bufs[sn_rng_below(&rng, 3)];
        struct xfer_result r;
        run_transfer(state, &p, IMPAIRED, &r);
        retrans += r.snd.total_retrans;
        if (r.duration > worst)
            worst = r.duration;
    }
    assert_true(retrans > 0);
    if (verbose())
        print_message("%u seeds, slowest %.3f s\n", n, (double)worst / 1e6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_clean, xfer_teardown),
        cmocka_unit_test_teardown(test_loss, xfer_teardown),
        cmocka_unit_test_teardown(test_duplication, xfer_teardown),
        cmocka_unit_test_teardown(test_reordering, xfer_teardown),
        cmocka_unit_test_teardown(test_corruption, xfer_teardown),
        cmocka_unit_test_teardown(test_tiny_buffers, xfer_teardown),
        cmocka_unit_test_teardown(test_large_buffers, xfer_teardown),
        cmocka_unit_test_teardown(test_all_together, xfer_teardown),
        cmocka_unit_test_teardown(test_offload, xfer_teardown),
        cmocka_unit_test_teardown(test_ack_batches, xfer_teardown),
        cmocka_unit_test_teardown(test_seed_sweep, xfer_teardown),
    };
    /* SYNACK_TEST_FILTER: run only the tests matching a pattern (the
     * valgrind test runs a subset: tests/sh/valgrind.sh). */
    if (getenv("SYNACK_TEST_FILTER"))
        cmocka_set_test_filter(getenv("SYNACK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
