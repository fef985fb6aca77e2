/* Allocation failures: a test allocator (cfg.alloc) that fails the Nth
 * allocation, for every N over the life of representative scenarios, the
 * way nghttp2's failmalloc test does.
 *
 * Each scenario runs two stacks joined by the simulator (or one stack fed
 * by hand) with the allocator shared by both, and is run again for N = 1,
 * 2, ... until a run makes fewer than N allocations (no failure happened).
 * Then each scenario runs again with memory gone from the Nth allocation on
 * for 2 s of virtual time (every allocation fails), then back.
 * After every run, whatever the failure hit:
 *   - the invariant checker passes on both stacks after every step;
 *   - the application's data is intact: what a send() accepted arrives byte
 *     for byte, in order, or the connection reports an error.  One failed
 *     allocation must not cost a connection at all: a call that failed
 *     with ENOMEM/ENOBUFS is retried by the application, a dropped packet
 *     is resent by TCP, and every scenario must complete as without the
 *     failure.  Two seconds without memory may cost a connection (reset,
 *     as Linux resets one it cannot make from a SYN cookie), but only with
 *     the error reported to both ends; the application then does the
 *     exchange again, and it must complete once memory is back;
 *   - the failure is counted (stats.mem_alloc_failed of the stack that saw
 *     it, or synack_sim_add_stack's -ENOMEM when it hit the stack's birth);
 *   - the same stacks, the allocator no longer failing, serve the scenario
 *     again from the start (the stack still serves afterwards);
 *   - once the stacks are freed, the allocator holds no block (no leak, in
 *     the plain build as under LSan).
 * The ASan build (SYNACK_INVARIANTS on) also checks the invariants inside
 * every public call and on every packet sent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"
#include "synack/wire.h"
#include "tcp/tcp_check.h"

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define C 0
#define S 1
#define MAX_RUNS 20000 /* a bound on N: no scenario comes near it */

/* ---- the failing allocator ---------------------------------------------- */

union fa_hdr {
    max_align_t align;
    size_t size;
};

struct fa {
    uint64_t count;   /* allocations and resizes so far */
    uint64_t fail_at; /* the one that fails (0: none) */
    uint64_t fail_from; /* this one and every later one fail (0: none) */
    uint64_t failed;  /* failures returned */
    int64_t live;     /* blocks held */
};

static void *fa_alloc(void *user, void *ptr, size_t size)
{
    struct fa *a = user;
    union fa_hdr *h = ptr ? (union fa_hdr *)ptr - 1 : NULL;
    if (size == 0) {
        if (h) {
            a->live--;
            free(h);
        }
        return NULL;
    }
    ++a->count;
    if (a->count == a->fail_at || (a->fail_from && a->count >= a->fail_from)) {
        a->failed++;
        return NULL;
    }
    union fa_hdr *n = realloc(h, sizeof(*h) + size);
    if (!n)
        return NULL;
    if (!h)
        a->live++;
    n->size = size;
    return n + 1;
}

/* ---- a pair of stacks and an application on them ------------------------ */

struct net {
    struct fa *fa;
    struct synack_sim *sim;
    struct synack_stack *st[2];
    int node[2], link;
    int nomem;          /* calls that failed with ENOMEM/ENOBUFS (and were retried) */
    int birth_failures; /* synack_sim_add_stack calls that failed with -ENOMEM */
    synack_time_t disarm_at; /* exhaustion mode: memory comes back at this time */
    int lost;                /* connections lost to exhaustion (reported, then redone) */
};

static uint8_t pattern(size_t i, unsigned salt)
{
    return (uint8_t)(i * 31u + (i >> 9) + salt);
}

static void check_invariants(const struct net *n)
{
    for (int i = 0; i < 2; i++) {
        struct sn_check_report r;
        if (n->st[i] && sn_check_stack(n->st[i], NULL, &r) < 0)
            fail_msg("invariant '%s' broken (stack %d, conn %u, state %u, values %llu %llu) at N=%llu",
                     r.what, i, (unsigned)r.conn_id, (unsigned)r.state, (unsigned long long)r.a,
                     (unsigned long long)r.b, (unsigned long long)n->fa->fail_at);
    }
}

static void net_init(struct net *n, struct fa *fa, double loss)
{
    memset(n, 0, sizeof(*n));
    n->fa = fa;
    assert_int_equal(synack_sim_new(11, &n->sim), 0);
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.msl = SYNACK_SEC(1);
    cfg.sndbuf = cfg.rcvbuf = 32 * 1024;
    cfg.alloc = fa_alloc;
    cfg.alloc_user = fa;
    uint32_t addrs[2] = {CADDR, SADDR};
    for (int i = 0; i < 2; i++) {
        cfg.addr = addrs[i];
        cfg.seed = 300 + (uint64_t)i;
        for (;;) {
            uint64_t before = fa->failed;
            n->node[i] = synack_sim_add_stack(n->sim, &cfg, &n->st[i]);
            if (n->node[i] >= 0)
                break;
            /* Only the failed allocation may stop a stack from being born. */
            assert_int_equal(n->node[i], -ENOMEM);
            assert_int_equal(fa->failed, before + 1);
            n->birth_failures++;
        }
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(2);
    lp.rate_bps = 100000000;
    lp.loss = loss;
    lp.reorder = loss;
    n->link = synack_sim_link(n->sim, n->node[C], n->node[S], &lp, &lp);
    assert_true(n->link >= 0);
}

static void net_free(struct net *n)
{
    synack_sim_free(n->sim);
    n->sim = NULL;
}

/* Was this call's failure one the application retries (memory)? */
static bool retryable(struct net *n, long rc)
{
    if (rc >= 0)
        return false;
    if (errno == ENOMEM || errno == ENOBUFS) {
        n->nomem++;
        return true;
    }
    return false;
}

static struct sockaddr_in addr_of(uint32_t ip, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(ip)};
    return a;
}

/* One exchange: the client sends `up` bytes and shuts down its side; the
 * server reads them all, answers with `down` bytes and closes; the client
 * reads to the end and closes.  Variants end it other ways (`how`). */
enum how {
    H_ORDERLY,      /* as above: the client, which closed first, ends in TIME-WAIT */
    H_ABORT,        /* after the data: the client closes with SO_LINGER 0 (RST) */
    H_UNREAD,       /* the server closes with data unread (RST), the client sees ECONNRESET */
    H_LISTEN_CLOSE, /* a second connection is left unaccepted and the listener closed */
};

struct xfer {
    enum how how;
    uint16_t port;
    size_t up, down;
    unsigned salt;
    int lfd, cfd, sfd, cfd2;
    size_t c_sent, s_rcvd, s_sent, c_rcvd;
    bool c_shut, s_eof, s_closed, c_eof, c_closed, connected;
    bool done;
    bool restart;     /* the connection was lost: start the exchange again */
    int c_err, s_err; /* errors the connection reported (not retried) */
};

static void fail_unexpected(struct net *n, const char *what, int err)
{
    fail_msg("%s failed with %s at N=%llu", what, strerror(err), (unsigned long long)n->fa->fail_at);
}

/* A connection error the scenario did not ask for.  One failed allocation
 * must never cost a connection; memory gone for seconds may (a SYN-cookie
 * handshake whose connection block cannot be made is reset, as on Linux),
 * but only with the error reported, as here: the application then starts
 * the exchange again, and what arrived before was checked byte by byte. */
static void conn_lost(struct net *n, struct xfer *x, const char *what, int err)
{
    bool conn_err = err == ECONNRESET || err == ETIMEDOUT || err == EPIPE || err == ECONNREFUSED;
    if (!n->disarm_at || !conn_err)
        fail_unexpected(n, what, err);
    x->restart = true;
}

/* Close what the exchange has open (not the listener) and start over. */
static void xfer_restart(struct net *n, struct xfer *x)
{
    if (x->cfd >= 0 && !x->c_closed)
        synack_close(n->st[C], x->cfd);
    if (x->sfd >= 0 && !x->s_closed)
        synack_close(n->st[S], x->sfd);
    if (x->cfd2 >= 0)
        synack_close(n->st[C], x->cfd2);
    n->lost++;
    assert_true(n->lost <= 10);
    x->cfd = x->sfd = x->cfd2 = -1;
    x->c_sent = x->s_rcvd = x->s_sent = x->c_rcvd = 0;
    x->c_shut = x->s_eof = x->s_closed = x->c_eof = x->c_closed = x->restart = false;
    x->c_err = x->s_err = 0;
}

/* The server's part, one step. */
static void server_step(struct net *n, struct xfer *x)
{
    struct synack_stack *s = n->st[S];
    uint8_t buf[8192];
    if (x->lfd < 0) {
        int fd = synack_socket(s, AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            if (!retryable(n, fd))
                fail_unexpected(n, "socket", errno);
            return;
        }
        struct sockaddr_in a = addr_of(SADDR, x->port);
        assert_int_equal(synack_bind(s, fd, (struct sockaddr *)&a, sizeof(a)), 0);
        int rc = synack_listen(s, fd, 4);
        if (rc < 0) {
            if (!retryable(n, rc))
                fail_unexpected(n, "listen", errno);
            synack_close(s, fd);
            return;
        }
        x->lfd = fd;
    }
    if (x->sfd < 0) {
        x->sfd = synack_accept(s, x->lfd, NULL, NULL);
        if (x->sfd < 0) {
            if (errno != EAGAIN && !retryable(n, x->sfd))
                fail_unexpected(n, "accept", errno);
            return;
        }
    }
    if (x->s_closed)
        return;
    if (x->how == H_UNREAD) {
        /* Half the data in, close with the rest unread: RST (RFC 9293 3.10.4 / RFC 2525). */
        if (x->s_rcvd < x->up / 2) {
            ssize_t r = synack_recv(s, x->sfd, buf, x->up / 2 - x->s_rcvd, 0);
            if (r > 0) {
                for (ssize_t i = 0; i < r; i++)
                    if (buf[i] != pattern(x->s_rcvd + (size_t)i, x->salt))
                        fail_msg("server: byte %zu wrong at N=%llu", x->s_rcvd + (size_t)i,
                                 (unsigned long long)n->fa->fail_at);
                x->s_rcvd += (size_t)r;
            }
            return;
        }
        assert_int_equal(synack_close(s, x->sfd), 0);
        x->s_closed = true;
        return;
    }
    while (!x->s_eof) {
        ssize_t r = synack_recv(s, x->sfd, buf, sizeof(buf), 0);
        if (r == 0) {
            x->s_eof = true;
            break;
        }
        if (r < 0) {
            if (errno == EAGAIN)
                return;
            if (x->how == H_ABORT && errno == ECONNRESET && x->c_closed) {
                x->s_err = ECONNRESET;
                synack_close(s, x->sfd);
                x->s_closed = true;
                return;
            }
            conn_lost(n, x, "server recv", errno);
            return;
        }
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(x->s_rcvd + (size_t)i, x->salt))
                fail_msg("server: byte %zu wrong at N=%llu", x->s_rcvd + (size_t)i,
                         (unsigned long long)n->fa->fail_at);
        x->s_rcvd += (size_t)r;
    }
    while (x->s_sent < x->down) {
        size_t k = x->down - x->s_sent < sizeof(buf) ? x->down - x->s_sent : sizeof(buf);
        for (size_t i = 0; i < k; i++)
            buf[i] = pattern(x->s_sent + i, x->salt + 1);
        ssize_t r = synack_send(s, x->sfd, buf, k, 0);
        if (r < 0) {
            if (errno != EAGAIN && !retryable(n, r))
                conn_lost(n, x, "server send", errno);
            return;
        }
        x->s_sent += (size_t)r;
    }
    assert_int_equal(synack_close(s, x->sfd), 0);
    x->s_closed = true;
}

/* socket() and connect() to the exchange's port: the descriptor, or -1
 * after a failure for want of memory (the application tries again). */
static int client_open(struct net *n, struct xfer *x)
{
    struct synack_stack *s = n->st[C];
    int fd = synack_socket(s, AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        if (!retryable(n, fd))
            fail_unexpected(n, "socket", errno);
        return -1;
    }
    struct sockaddr_in a = addr_of(SADDR, x->port);
    int rc = synack_connect(s, fd, (struct sockaddr *)&a, sizeof(a));
    if (rc < 0 && errno != EINPROGRESS) {
        if (!retryable(n, rc))
            fail_unexpected(n, "connect", errno);
        synack_close(s, fd);
        return -1;
    }
    return fd;
}

static void client_step(struct net *n, struct xfer *x)
{
    struct synack_stack *s = n->st[C];
    uint8_t buf[8192];
    if (x->lfd < 0) /* a connection refused is no test of memory */
        return;
    /* A second connection, never accepted: it goes with the listener. */
    if (x->how == H_LISTEN_CLOSE && x->cfd2 < 0 && x->s_rcvd > 0)
        x->cfd2 = client_open(n, x);
    if (x->c_closed)
        return;
    if (x->cfd < 0 && (x->cfd = client_open(n, x)) < 0)
        return;
    while (x->c_sent < x->up) {
        size_t k = x->up - x->c_sent < sizeof(buf) ? x->up - x->c_sent : sizeof(buf);
        /* The last byte goes as urgent data (inline, SO_OOBINLINE's way):
         * its mark needs the out-of-line block. */
        bool oob = x->how == H_ORDERLY && x->c_sent + k == x->up;
        if (oob && k > 1)
            k--, oob = false;
        for (size_t i = 0; i < k; i++)
            buf[i] = pattern(x->c_sent + i, x->salt);
        ssize_t r = synack_send(s, x->cfd, buf, k, oob ? MSG_OOB : 0);
        if (r < 0) {
            if (x->how == H_UNREAD && x->s_closed && (errno == ECONNRESET || errno == EPIPE)) {
                x->c_err = errno;
                break;
            }
            if (errno != EAGAIN && !retryable(n, r))
                conn_lost(n, x, "client send", errno);
            return;
        }
        x->c_sent += (size_t)r;
    }
    if (x->how == H_ABORT) {
        /* Everything sent is acknowledged (nothing in the send buffer):
         * then abort. */
        struct synack_tcp_info info;
        socklen_t il = sizeof(info);
        assert_int_equal(synack_getsockopt(s, x->cfd, IPPROTO_TCP, TCP_INFO, &info, &il), 0);
        if (x->s_rcvd < x->up)
            return;
        struct linger lg = {1, 0};
        assert_int_equal(synack_setsockopt(s, x->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
        assert_int_equal(synack_close(s, x->cfd), 0);
        x->c_closed = true;
        return;
    }
    if (x->how == H_UNREAD) {
        if (x->c_err == 0) {
            ssize_t r = synack_recv(s, x->cfd, buf, sizeof(buf), 0);
            if (r < 0 && errno == ECONNRESET && x->s_closed)
                x->c_err = ECONNRESET;
            else if (r < 0 && errno != EAGAIN)
                conn_lost(n, x, "client recv", errno);
            else if (r >= 0)
                fail_msg("client: %zd from a server that sends nothing", r);
        }
        if (x->c_err) {
            synack_close(s, x->cfd);
            x->c_closed = true;
        }
        return;
    }
    if (!x->c_shut) {
        int rc = synack_shutdown(s, x->cfd, SHUT_WR);
        if (rc < 0 && !retryable(n, rc))
            fail_unexpected(n, "shutdown", errno);
        if (rc < 0)
            return;
        x->c_shut = true;
    }
    while (!x->c_eof) {
        ssize_t r = synack_recv(s, x->cfd, buf, sizeof(buf), 0);
        if (r == 0) {
            x->c_eof = true;
            break;
        }
        if (r < 0) {
            if (errno != EAGAIN)
                conn_lost(n, x, "client recv", errno);
            return;
        }
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(x->c_rcvd + (size_t)i, x->salt + 1))
                fail_msg("client: byte %zu wrong at N=%llu", x->c_rcvd + (size_t)i,
                         (unsigned long long)n->fa->fail_at);
        x->c_rcvd += (size_t)r;
    }
    assert_int_equal(synack_close(s, x->cfd), 0);
    x->c_closed = true;
}

static bool xfer_done(const struct xfer *x)
{
    switch (x->how) {
    case H_UNREAD:
        return x->s_closed && x->c_closed;
    case H_ABORT:
        return x->c_closed && x->s_closed;
    case H_LISTEN_CLOSE:
    case H_ORDERLY:
        return x->s_closed && x->c_closed && (x->how == H_ORDERLY || x->cfd2 >= 0);
    }
    return false;
}

/* Run one exchange to its end, stepping the application every 5 ms of
 * virtual time; bounded by `limit` of virtual time. */
static void run_xfer(struct net *n, struct xfer *x, synack_time_t limit)
{
    synack_time_t end = synack_sim_now(n->sim) + limit;
    while (!xfer_done(x)) {
        if (synack_sim_now(n->sim) >= end) {
            struct synack_tcp_info ci = {0}, si = {0};
            socklen_t l = sizeof(ci);
            synack_getsockopt(n->st[C], x->cfd, IPPROTO_TCP, TCP_INFO, &ci, &l);
            l = sizeof(si);
            synack_getsockopt(n->st[S], x->sfd, IPPROTO_TCP, TCP_INFO, &si, &l);
            fail_msg("exchange (how %d, port %u) not done after %llu s with allocation %llu "
                     "failing%s: sent %zu/%zu received %zu, back %zu/%zu received %zu; client fd "
                     "%d state %u, server fd %d state %u",
                     (int)x->how, x->port, (unsigned long long)(limit / SYNACK_SEC(1)),
                     (unsigned long long)n->fa->fail_at,
                     n->disarm_at ? " (and the next ones for 2 s)" : "", x->c_sent, x->up,
                     x->s_rcvd, x->s_sent, x->down, x->c_rcvd, x->cfd, (unsigned)ci.state, x->sfd,
                     (unsigned)si.state);
        }
        if (n->fa->fail_from && synack_sim_now(n->sim) >= n->disarm_at)
            n->fa->fail_from = 0; /* memory is back */
        server_step(n, x);
        if (!x->restart)
            client_step(n, x);
        if (x->restart)
            xfer_restart(n, x);
        check_invariants(n);
        synack_sim_run_until(n->sim, synack_sim_now(n->sim) + SYNACK_MSEC(5));
        check_invariants(n);
    }
    /* What was sent arrived whole (the variants that cut a connection short
     * on purpose excepted). */
    if (x->how == H_ORDERLY || x->how == H_LISTEN_CLOSE) {
        assert_int_equal(x->s_rcvd, x->up);
        assert_int_equal(x->c_rcvd, x->down);
    }
    if (x->how == H_ABORT)
        assert_int_equal(x->s_rcvd, x->up);
    if (x->how == H_UNREAD)
        assert_int_equal(x->c_err, ECONNRESET);
    if (x->how == H_LISTEN_CLOSE && x->lfd >= 0) {
        assert_int_equal(synack_close(n->st[S], x->lfd), 0);
        x->lfd = -1;
        synack_sim_run_until(n->sim, synack_sim_now(n->sim) + SYNACK_MSEC(50));
        /* The unaccepted child was reset, or, if its handshake's last ACK
         * was dropped for want of memory (the SYN-cache entry waiting for a
         * retry, gone silently with the listener, as on Linux), the next
         * segment the client sends is: either way the client learns. */
        char b[16] = {0};
        ssize_t r = synack_send(n->st[C], x->cfd2, b, 1, 0);
        if (r == 1) {
            synack_sim_run_until(n->sim, synack_sim_now(n->sim) + SYNACK_MSEC(50));
            r = synack_recv(n->st[C], x->cfd2, b, sizeof(b), 0);
        }
        if (!(r < 0 && (errno == ECONNRESET || errno == EPIPE)))
            fail_msg("the unaccepted child's client: recv %zd (%s) at N=%llu, not ECONNRESET", r,
                     r < 0 ? strerror(errno) : "data", (unsigned long long)n->fa->fail_at);
        synack_close(n->st[C], x->cfd2);
    } else if (x->lfd >= 0) {
        assert_int_equal(synack_close(n->st[S], x->lfd), 0);
        x->lfd = -1;
    }
    check_invariants(n);
}

static struct xfer xfer_new(enum how how, uint16_t port, size_t up, size_t down, unsigned salt)
{
    struct xfer x = {.how = how, .port = port, .up = up, .down = down, .salt = salt,
                     .lfd = -1, .cfd = -1, .sfd = -1, .cfd2 = -1};
    return x;
}

/* ---- scenarios ------------------------------------------------------------ */

struct scenario {
    const char *name;
    double loss;
    enum how how[4];
    int nhow;
    size_t up, down;
};

static uint64_t failures_counted(const struct net *n)
{
    uint64_t c = 0;
    for (int i = 0; i < 2; i++)
        if (n->st[i])
            c += synack_stack_stats(n->st[i])->mem_alloc_failed;
    return c;
}

/* One run with the Nth allocation failing (exhaust: that one and every
 * later one, for 2 s of virtual time); returns whether it failed one. */
static bool run_once(const struct scenario *sc, struct fa *fa, uint64_t nth, bool exhaust,
                     int *lost)
{
    *fa = (struct fa){.fail_at = exhaust ? 0 : nth};
    struct net n;
    /* Exhaustion starts once the stacks exist (their birth is the single
     * failures' business), counted from there. */
    net_init(&n, fa, sc->loss);
    if (exhaust) {
        fa->fail_from = fa->fail_at = fa->count + nth;
        n.disarm_at = synack_sim_now(n.sim) + SYNACK_SEC(2);
    }
    uint16_t port = 80;
    for (int round = 0; round < 2; round++) {
        /* Round 1 with the allocator armed; round 2, disarmed, shows the
         * same stacks still serve. */
        if (round == 1)
            fa->fail_at = fa->fail_from = 0;
        for (int i = 0; i < sc->nhow; i++) {
            struct xfer x = xfer_new(sc->how[i], port++, sc->up, sc->down, (unsigned)(i + 7 * round));
            run_xfer(&n, &x, SYNACK_SEC(600));
        }
        /* Let TIME-WAIT and every timer run out. */
        synack_sim_run_until(n.sim, synack_sim_now(n.sim) + SYNACK_SEC(10));
        check_invariants(&n);
    }
    /* Every failure was seen and counted by the stack that met it. */
    assert_int_equal(failures_counted(&n) + (uint64_t)n.birth_failures, fa->failed);
    if (lost)
        *lost = n.lost;
    net_free(&n);
    if (fa->live != 0)
        fail_msg("%s: %lld blocks leaked with allocation %llu failing", sc->name,
                 (long long)fa->live, (unsigned long long)nth);
    return fa->failed > 0;
}

static void run_scenario(const struct scenario *sc)
{
    struct fa fa;
    /* N = 0: nothing fails; how many allocations the scenario makes. */
    assert_false(run_once(sc, &fa, 0, false, NULL));
    uint64_t base = fa.count;
    uint64_t n, e;
    for (n = 1; n <= MAX_RUNS; n++)
        if (!run_once(sc, &fa, n, false, NULL))
            break;
    assert_true(n <= MAX_RUNS);
    assert_true(n - 1 >= base / 2); /* the runs did reach the scenario's allocations */
    /* Then memory running out at each point for 2 s: the same scenario
     * completes once it is back. */
    int lost_total = 0;
    for (e = 1; e <= MAX_RUNS; e++) {
        int lost = 0;
        if (!run_once(sc, &fa, e, true, &lost))
            break;
        lost_total += lost;
    }
    assert_true(e <= MAX_RUNS);
    print_message("%s: %llu allocations; each failed alone (%llu runs) and as the first of 2 s "
                  "without memory (%llu runs, %d connections lost and redone), all recovered\n",
                  sc->name, (unsigned long long)base, (unsigned long long)(n - 1),
                  (unsigned long long)(e - 1), lost_total);
}

static void test_handshake_transfer_close(void **state)
{
    (void)state;
    /* Listen, SYN cache, accept, data both ways, orderly close, TIME-WAIT. */
    static const struct scenario sc = {"handshake, transfer, close", 0.0, {H_ORDERLY}, 1,
                                       48 * 1024, 3000};
    run_scenario(&sc);
}

static void test_lossy_transfer(void **state)
{
    (void)state;
    /* Loss and reordering: retransmission, SACK scoreboard, out-of-order
     * ranges (reassembly), recovery. */
    static const struct scenario sc = {"transfer with loss", 0.03, {H_ORDERLY}, 1,
                                       96 * 1024, 20000};
    run_scenario(&sc);
}

static void test_close_paths(void **state)
{
    (void)state;
    /* Abortive close (SO_LINGER 0), close with unread data (RST), a
     * listener closed with a child never accepted. */
    static const struct scenario sc = {"close paths", 0.0, {H_ABORT, H_UNREAD, H_LISTEN_CLOSE}, 3,
                                       12 * 1024, 1000};
    run_scenario(&sc);
}

/* ---- IP reassembly: a fragmented ICMP echo request, one stack ----------- */

struct capture {
    int replies;   /* echo reply datagrams (or their fragments) sent */
};

static int cap_out(void *user, const uint8_t *pkt, size_t len)
{
    struct capture *c = user;
    struct synack_ipv4_hdr ip;
    if (synack_ipv4_parse(pkt, len, &ip) == 0 && ip.proto == SYNACK_IPPROTO_ICMP)
        c->replies++;
    return 0;
}

/* A 3000-byte echo request from CADDR in three fragments. */
static void send_fragmented_ping(struct synack_stack *s, uint16_t id, synack_time_t now)
{
    static uint8_t icmp[3000];
    memset(icmp, 0, sizeof(icmp));
    struct synack_icmp_hdr ih = {.type = SYNACK_ICMP_ECHO_REQUEST, .code = 0};
    ih.id = id;
    ih.seq = 1;
    uint8_t body[3000 - SYNACK_ICMP_HDR_LEN];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)i;
    ih.data = body;
    ih.data_len = sizeof(body);
    assert_int_equal(synack_icmp_emit(icmp, sizeof(icmp), &ih), (int)sizeof(icmp));
    for (size_t off = 0; off < sizeof(icmp); off += 1480) {
        size_t k = sizeof(icmp) - off < 1480 ? sizeof(icmp) - off : 1480;
        uint8_t pkt[1500];
        struct synack_ipv4_hdr h = {.total_len = (uint16_t)(20 + k), .id = id, .ttl = 64,
                                    .proto = SYNACK_IPPROTO_ICMP, .src = CADDR, .dst = SADDR};
        h.frag_off = (uint16_t)(off / 8);
        h.flags = off + k < sizeof(icmp) ? SYNACK_IPV4_MF : 0;
        assert_int_equal(synack_ipv4_emit(pkt, sizeof(pkt), &h), 20);
        memcpy(pkt + 20, icmp + off, k);
        (void)synack_stack_input(s, pkt, 20 + k, now);
    }
}

static bool reass_once(struct fa *fa, uint64_t nth, uint64_t *count)
{
    *fa = (struct fa){.fail_at = nth};
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = SADDR;
    cfg.seed = 5;
    cfg.alloc = fa_alloc;
    cfg.alloc_user = fa;
    struct capture cap = {0};
    struct synack_stack *s = NULL;
    int births = 0;
    while (synack_stack_new(&cfg, cap_out, &cap, &s) < 0)
        births++;
    assert_true(births <= 1);
    synack_time_t now = SYNACK_SEC(1);
    /* The "application" (the pinging peer) sends again until answered. */
    int tries = 0;
    while (cap.replies == 0) {
        assert_true(++tries <= 2);
        send_fragmented_ping(s, (uint16_t)(100 + tries), now);
        struct sn_check_report r;
        assert_int_equal(sn_check_stack(s, NULL, &r), 0);
        now += SYNACK_SEC(1);
        synack_stack_advance(s, now);
    }
    const struct synack_stack_stats *st = synack_stack_stats(s);
    assert_int_equal(st->icmp_echo_replied, 1);
    assert_true(st->ip_reasm_ok >= 1);
    assert_int_equal(st->mem_alloc_failed + (uint64_t)births, fa->failed);
    if (tries > 1) /* the first was lost to the failure: counted where */
        assert_true(st->ip_frag_drop_limit + st->mem_alloc_failed >= 1);
    synack_stack_free(s);
    assert_int_equal(fa->live, 0);
    *count = fa->count;
    return fa->failed > 0;
}

static void test_ip_reassembly(void **state)
{
    (void)state;
    struct fa fa;
    uint64_t base, c;
    assert_false(reass_once(&fa, 0, &base));
    uint64_t n;
    for (n = 1; n <= MAX_RUNS && reass_once(&fa, n, &c); n++)
        ;
    print_message("fragmented echo: %llu allocations; each failed in turn, all recovered\n",
                  (unsigned long long)base);
    assert_true(n > base);
}

/* The default allocator is libc's, and a custom one sees every block. */
static void test_allocator_sees_everything(void **state)
{
    (void)state;
    struct fa fa = {0};
    struct net n;
    net_init(&n, &fa, 0.0);
    assert_true(fa.live > 0); /* the stacks themselves and their tables */
    struct xfer x = xfer_new(H_ORDERLY, 80, 100000, 100000, 3);
    run_xfer(&n, &x, SYNACK_SEC(60));
    assert_true(fa.count > 20);
    net_free(&n);
    assert_int_equal(fa.live, 0);
    assert_int_equal(fa.failed, 0);
}

/* A stack of its own for one check: the stack keeps freed blocks of each
 * size for reuse (core/mem.c), so a fresh one is needed for a block to
 * come from the allocator. */
static struct synack_stack *lone_stack(struct fa *fa)
{
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = SADDR;
    cfg.seed = 5;
    cfg.alloc = fa_alloc;
    cfg.alloc_user = fa;
    static struct capture cap; /* outlives the call: the stack's output */
    struct synack_stack *s;
    assert_int_equal(synack_stack_new(&cfg, cap_out, &cap, &s), 0);
    return s;
}

/* Socket options kept out of line (tcp_ext.c): without memory for the
 * block, setsockopt fails with ENOMEM and changes nothing (getsockopt reads
 * the old value); with memory back, the same call works. */
static void test_options_without_memory(void **state)
{
    (void)state;
    static const struct {
        int level, name, value;
    } opts[] = {
        {SOL_SOCKET, SO_RCVLOWAT, 100},    {IPPROTO_IP, IP_TOS, 0x10},
        {IPPROTO_IP, IP_TTL, 9},           {IPPROTO_TCP, TCP_KEEPIDLE, 30},
        {IPPROTO_TCP, TCP_KEEPINTVL, 5},   {IPPROTO_TCP, TCP_KEEPCNT, 3},
        {IPPROTO_TCP, TCP_QUICKACK, 1},    {IPPROTO_TCP, TCP_USER_TIMEOUT, 5000},
    };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        struct fa fa = {0};
        struct synack_stack *s = lone_stack(&fa);
        int fd = synack_socket(s, AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        int before, after, v = opts[i].value;
        socklen_t len = sizeof(before);
        assert_int_equal(synack_getsockopt(s, fd, opts[i].level, opts[i].name, &before, &len), 0);
        fa.fail_from = fa.count + 1; /* memory gone */
        errno = 0;
        assert_int_equal(synack_setsockopt(s, fd, opts[i].level, opts[i].name, &v, sizeof(v)), -1);
        assert_int_equal(errno, ENOMEM);
        len = sizeof(after);
        assert_int_equal(synack_getsockopt(s, fd, opts[i].level, opts[i].name, &after, &len), 0);
        assert_int_equal(after, before);
        fa.fail_from = 0; /* back */
        assert_int_equal(synack_setsockopt(s, fd, opts[i].level, opts[i].name, &v, sizeof(v)), 0);
        len = sizeof(after);
        assert_int_equal(synack_getsockopt(s, fd, opts[i].level, opts[i].name, &after, &len), 0);
        if (opts[i].name != TCP_QUICKACK) /* Linux reads it back as a state, not the setting */
            assert_int_equal(after, v);
        assert_int_equal(synack_stack_stats(s)->mem_alloc_failed, fa.failed);
        synack_stack_free(s);
        assert_int_equal(fa.live, 0);
    }
    /* SO_LINGER with a time keeps it out of line too. */
    struct fa fa = {0};
    struct synack_stack *s = lone_stack(&fa);
    int fd = synack_socket(s, AF_INET, SOCK_STREAM, 0);
    struct linger lg = {1, 5}, got;
    fa.fail_from = fa.count + 1;
    errno = 0;
    assert_int_equal(synack_setsockopt(s, fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), -1);
    assert_int_equal(errno, ENOMEM);
    socklen_t len = sizeof(got);
    assert_int_equal(synack_getsockopt(s, fd, SOL_SOCKET, SO_LINGER, &got, &len), 0);
    assert_int_equal(got.l_onoff, 0);
    fa.fail_from = 0;
    assert_int_equal(synack_setsockopt(s, fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    assert_int_equal(synack_stack_stats(s)->mem_alloc_failed, fa.failed);
    synack_stack_free(s);
    assert_int_equal(fa.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocator_sees_everything),
        cmocka_unit_test(test_handshake_transfer_close),
        cmocka_unit_test(test_lossy_transfer),
        cmocka_unit_test(test_close_paths),
        cmocka_unit_test(test_ip_reassembly),
        cmocka_unit_test(test_options_without_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
