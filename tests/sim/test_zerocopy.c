/* The zero-copy calls (socket.h): synack_recv_peek / synack_recv_consume
 * and synack_send_reserve / synack_send_commit.  Two stacks on the
 * simulator; transfers checked byte for byte through the new calls (alone
 * and mixed with recv/send), pieces across the buffers' chunk boundaries
 * and their wrap-around, the edge cases (nothing to read, consuming or
 * committing more than there is, bad arguments), the window update a
 * consume makes, and the calls after a reset, at the end of the stream and
 * after close.  Also how long a receive buffer that a read emptied keeps its
 * storage (src/tcp/tcp_rcvkeep.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 7000
#define MS 1000 /* synack_time_t is in microseconds */

struct net {
    struct synack_sim *sim;
    struct synack_stack *c, *s;
    int link;
    int cfd, sfd; /* the client's socket, the server's accepted one */
};

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 131 + (i >> 9) + 7); }

static void set_int(struct synack_stack *st, int fd, int name, int v)
{
    assert_int_equal(synack_setsockopt(st, fd, SOL_SOCKET, name, &v, sizeof(v)), 0);
}

/* A connected pair with the given buffer sizes (0: the defaults). */
static void net_up(struct net *n, uint64_t seed, int sndbuf, int rcvbuf)
{
    memset(n, 0, sizeof(*n));
    assert_int_equal(synack_sim_new(seed, &n->sim), 0);
    int node[2];
    for (int i = 0; i < 2; i++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == 0 ? CADDR : SADDR;
        cfg.seed = seed + (uint64_t)i;
        node[i] = synack_sim_add_stack(n->sim, &cfg, i == 0 ? &n->c : &n->s);
        assert_true(node[i] >= 0);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = 1 * MS;
    n->link = synack_sim_link(n->sim, node[0], node[1], &lp, &lp);
    assert_true(n->link >= 0);
    int lfd = synack_socket(n->s, AF_INET, SOCK_STREAM, 0);
    n->cfd = synack_socket(n->c, AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0 && n->cfd >= 0);
    if (rcvbuf)
        set_int(n->s, lfd, SO_RCVBUF, rcvbuf);
    if (sndbuf)
        set_int(n->c, n->cfd, SO_SNDBUF, sndbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(synack_bind(n->s, lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(n->s, lfd, 4), 0);
    a.sin_addr.s_addr = htonl(SADDR);
    assert_int_equal(synack_connect(n->c, n->cfd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
    synack_sim_run_until(n->sim, synack_sim_now(n->sim) + 10 * MS);
    n->sfd = synack_accept(n->s, lfd, NULL, NULL);
    assert_true(n->sfd >= 0);
    assert_int_equal(synack_close(n->s, lfd), 0);
}

static void run_ms(struct net *n, unsigned ms)
{
    synack_sim_run_until(n->sim, synack_sim_now(n->sim) + (synack_time_t)ms * MS);
}

/* Sends through reserve/commit (or send, on every third round when
 * `mixed`), receives through peek/consume (or recv likewise), in odd sizes
 * so that pieces start and end anywhere in the chunks and the rings wrap
 * many times; every byte is checked. */
static void transfer(uint64_t seed, int sndbuf, int rcvbuf, uint64_t total, bool mixed)
{
    struct net n;
    net_up(&n, seed, sndbuf, rcvbuf);
    static uint8_t tmp[65536];
    uint64_t sent = 0, rcvd = 0;
    unsigned round = 0, multi_piece = 0;
    for (unsigned guard = 0; rcvd < total; guard++) {
        assert_true(guard < 200000);
        size_t want = 1 + (size_t)((round * 2897u) % 20000u);
        if (want > total - sent)
            want = (size_t)(total - sent);
        if (want > 0 && mixed && round % 3 == 2) {
            for (size_t i = 0; i < want; i++)
                tmp[i] = pattern(sent + i);
            ssize_t w = synack_send(n.c, n.cfd, tmp, want, 0);
            if (w > 0)
                sent += (uint64_t)w;
            else
                assert_int_equal(errno, EAGAIN);
        } else if (want > 0) {
            struct iovec iov[8];
            ssize_t got = synack_send_reserve(n.c, n.cfd, want, iov, 8);
            if (got < 0) {
                assert_int_equal(errno, EAGAIN);
            } else {
                assert_true(got > 0 && (size_t)got <= want);
                size_t k = 0;
                for (int p = 0; k < (size_t)got; p++) {
                    assert_true(p < 8);
                    size_t len = iov[p].iov_len;
                    assert_true(len > 0 && len <= 4096);
                    for (size_t i = 0; i < len; i++)
                        ((uint8_t *)iov[p].iov_base)[i] = pattern(sent + k + i);
                    k += len;
                }
                assert_int_equal(k, (size_t)got);
                /* Commit a part of it now and then: the rest is reserved again. */
                size_t c = round % 4 == 1 && got > 1 ? (size_t)got / 2 : (size_t)got;
                assert_int_equal(synack_send_commit(n.c, n.cfd, c, 0), (ssize_t)c);
                sent += c;
            }
        }
        run_ms(&n, 1);
        if (mixed && round % 3 == 1) {
            ssize_t r = synack_recv(n.s, n.sfd, tmp, 1 + (round * 1237u) % sizeof(tmp), 0);
            if (r > 0) {
                for (ssize_t i = 0; i < r; i++)
                    assert_int_equal(tmp[i], pattern(rcvd + (uint64_t)i));
                rcvd += (uint64_t)r;
            } else {
                assert_int_equal(r, -1);
                assert_int_equal(errno, EAGAIN);
            }
        } else {
            struct iovec iov[4];
            ssize_t r = synack_recv_peek(n.s, n.sfd, iov, 4);
            if (r > 0) {
                size_t k = 0;
                for (int p = 0; k < (size_t)r; p++) {
                    for (size_t i = 0; i < iov[p].iov_len; i++)
                        assert_int_equal(((uint8_t *)iov[p].iov_base)[i], pattern(rcvd + k + i));
                    k += iov[p].iov_len;
                    if (p > 0)
                        multi_piece++;
                }
                /* Consume an odd part: the rest is peeked again. */
                size_t c = (size_t)r > 3000 ? 1 + (round * 733u) % (size_t)r : (size_t)r;
                assert_int_equal(synack_recv_consume(n.s, n.sfd, c), 0);
                rcvd += c;
            } else {
                assert_int_equal(r, -1);
                assert_int_equal(errno, EAGAIN);
            }
        }
        round++;
    }
    assert_int_equal(rcvd, total);
    assert_true(multi_piece > 0); /* pieces did cross chunk boundaries */
    synack_sim_free(n.sim);
}

static void test_transfer_zero_copy(void **state)
{
    (void)state;
    transfer(1, 16384, 12000, 1u << 20, false);  /* small buffers: many wraps */
    transfer(2, 0, 0, 2u << 20, false);          /* the defaults */
}

static void test_transfer_mixed(void **state)
{
    (void)state;
    transfer(3, 20000, 9000, 1u << 20, true);
}

/* Nothing to read; zero pieces; consuming more than there is. */
static void test_edges(void **state)
{
    (void)state;
    struct net n;
    net_up(&n, 4, 0, 0);
    struct iovec iov[2];
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, 2), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, 0), 0);
    assert_int_equal(synack_recv_consume(n.s, n.sfd, 0), 0);
    assert_int_equal(synack_recv_consume(n.s, n.sfd, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, -1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(synack_recv_peek(n.s, n.sfd, NULL, 1), -1);
    assert_int_equal(errno, EFAULT);
    assert_int_equal(synack_send_reserve(n.c, n.cfd, 10, iov, 0), 0);
    assert_int_equal(synack_send_reserve(n.c, n.cfd, 0, iov, 2), 0);

    /* Commit without a reserve, and more than reserved: refused, nothing sent. */
    assert_int_equal(synack_send_commit(n.c, n.cfd, 1, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(synack_send_reserve(n.c, n.cfd, 100, iov, 2), 100);
    assert_int_equal(iov[0].iov_len, 100);
    memcpy(iov[0].iov_base, "0123456789", 10);
    assert_int_equal(synack_send_commit(n.c, n.cfd, 10, MSG_OOB), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(synack_send_commit(n.c, n.cfd, 10, 0), 10);
    run_ms(&n, 5);

    /* A reserve is spent by what is committed of it (90 left of 100), and
     * undone by a send() in between (or a reserve on another connection of
     * the stack: test_reserve_per_stack). */
    assert_int_equal(synack_send_commit(n.c, n.cfd, 91, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(synack_send_reserve(n.c, n.cfd, 10, iov, 2), 10);
    assert_int_equal(synack_send(n.c, n.cfd, "x", 1, 0), 1);
    assert_int_equal(synack_send_commit(n.c, n.cfd, 1, 0), -1);
    assert_int_equal(errno, EINVAL);
    /* Another stack's reserve is its own business. */
    assert_int_equal(synack_send_reserve(n.c, n.cfd, 10, iov, 2), 10);
    assert_int_equal(synack_send_reserve(n.s, n.sfd, 10, iov + 1, 1), 10);
    assert_int_equal(synack_send_commit(n.c, n.cfd, 0, 0), 0);
    /* In two parts: 4 then 6 of one room of 10. */
    assert_int_equal(synack_send_reserve(n.c, n.cfd, 10, iov, 2), 10);
    memcpy(iov[0].iov_base, "ABCDEFGHIJ", 10);
    assert_int_equal(synack_send_commit(n.c, n.cfd, 4, 0), 4);
    assert_int_equal(synack_send_commit(n.c, n.cfd, 7, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(synack_send_commit(n.c, n.cfd, 6, 0), 6);
    run_ms(&n, 100); /* Nagle holds the small ones for the delayed ACK */

    /* 10 + 1 + 10 bytes wait: consuming 22 fails and drops nothing. */
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, 2), 21);
    assert_memory_equal(iov[0].iov_base, "0123456789xABCDEFGHIJ", 21);
    assert_int_equal(synack_recv_consume(n.s, n.sfd, 22), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(synack_recv_consume(n.s, n.sfd, 4), 0);
    char buf[32];
    assert_int_equal(synack_recv(n.s, n.sfd, buf, sizeof(buf), 0), 17);
    assert_memory_equal(buf, "456789xABCDEFGHIJ", 17);

    /* A full send buffer: reserve says EAGAIN, as send does. */
    set_int(n.c, n.cfd, SO_SNDBUF, 4096);
    int sndbuf;
    socklen_t sl = sizeof(sndbuf);
    assert_int_equal(synack_getsockopt(n.c, n.cfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl), 0);
    size_t room = 0;
    for (int i = 0; i < 64; i++) {
        ssize_t r = synack_send_reserve(n.c, n.cfd, 100000, iov, 2);
        if (r < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        assert_int_equal(synack_send_commit(n.c, n.cfd, (size_t)r, 0), r);
        room += (size_t)r;
    }
    assert_true(room > 0 && room <= (size_t)sndbuf);
    assert_int_equal(synack_send_reserve(n.c, n.cfd, 1, iov, 2), -1);
    assert_int_equal(errno, EAGAIN);
    synack_sim_free(n.sim);
}

/* The stack's last reserve is the one a commit may use: a reserve on
 * another connection of the same stack undoes it. */
static void test_reserve_per_stack(void **state)
{
    (void)state;
    struct net n;
    net_up(&n, 9, 0, 0);
    /* A second connection from the same client stack. */
    int lfd = synack_socket(n.s, AF_INET, SOCK_STREAM, 0);
    int fd2 = synack_socket(n.c, AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0 && fd2 >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT + 1)};
    assert_int_equal(synack_bind(n.s, lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(n.s, lfd, 4), 0);
    a.sin_addr.s_addr = htonl(SADDR);
    assert_int_equal(synack_connect(n.c, fd2, (struct sockaddr *)&a, sizeof(a)), -1);
    run_ms(&n, 10);
    int sfd2 = synack_accept(n.s, lfd, NULL, NULL);
    assert_true(sfd2 >= 0);

    struct iovec iov[2];
    assert_int_equal(synack_send_reserve(n.c, n.cfd, 10, iov, 2), 10);
    assert_int_equal(synack_send_reserve(n.c, fd2, 10, iov + 1, 1), 10);
    assert_int_equal(synack_send_commit(n.c, n.cfd, 1, 0), -1); /* undone by fd2's */
    assert_int_equal(errno, EINVAL);
    memcpy(iov[1].iov_base, "xyz", 3);
    assert_int_equal(synack_send_commit(n.c, fd2, 3, 0), 3);
    /* A dup of a connection shares its reserve. */
    int dup = synack_dup(n.c, fd2);
    assert_true(dup >= 0);
    memcpy((uint8_t *)iov[1].iov_base + 3, "w", 1);
    assert_int_equal(synack_send_commit(n.c, dup, 1, 0), 1);
    run_ms(&n, 100); /* Nagle holds the small one for the delayed ACK */
    char buf[8];
    assert_int_equal(synack_recv(n.s, sfd2, buf, sizeof(buf), 0), 4);
    assert_memory_equal(buf, "xyzw", 4);
    assert_int_equal(synack_recv(n.s, n.sfd, buf, sizeof(buf), 0), -1); /* nothing on the first */
    assert_int_equal(errno, EAGAIN);
    synack_sim_free(n.sim);
}

/* A small receive buffer filled up closes the window; consuming it opens
 * the window again at once (a window update), not only when the sender's
 * persist timer probes. */
static void test_window_update(void **state)
{
    (void)state;
    struct net n;
    net_up(&n, 5, 65536, 8192);
    static uint8_t data[40000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = pattern(i);
    assert_int_equal(synack_send(n.c, n.cfd, data, sizeof(data), 0), (ssize_t)sizeof(data));
    run_ms(&n, 50);
    struct iovec iov[8];
    ssize_t held = synack_recv_peek(n.s, n.sfd, iov, 8);
    assert_true(held > 0 && held <= 8192);
    run_ms(&n, 20);
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, 8), held); /* stalled: the window is shut */
    struct synack_sim_link_stats before, after;
    assert_int_equal(synack_sim_link_stats(n.sim, n.link, 1, &before), 0);
    assert_int_equal(synack_recv_consume(n.s, n.sfd, (size_t)held), 0);
    assert_int_equal(synack_sim_link_stats(n.sim, n.link, 1, &after), 0);
    assert_true(after.sent > before.sent); /* the window update, sent by the consume */
    run_ms(&n, 5);                         /* a round trip is 2 ms: no timer needed */
    ssize_t more = synack_recv_peek(n.s, n.sfd, iov, 8);
    assert_true(more > 0);
    uint64_t k = 0;
    for (int p = 0; k < (uint64_t)more; p++) {
        for (size_t i = 0; i < iov[p].iov_len; i++)
            assert_int_equal(((uint8_t *)iov[p].iov_base)[i], pattern((uint64_t)held + k + i));
        k += iov[p].iov_len;
    }
    synack_sim_free(n.sim);
}

/* The end of the stream, a reset, and a closed descriptor. */
static void test_close_and_reset(void **state)
{
    (void)state;
    struct net n;
    net_up(&n, 6, 0, 0);
    struct iovec iov[2];
    /* The client sends 5 bytes and its FIN: peek shows them, then 0 (EOF). */
    assert_int_equal(synack_send_reserve(n.c, n.cfd, 5, iov, 2), 5);
    memcpy(iov[0].iov_base, "hello", 5);
    assert_int_equal(synack_send_commit(n.c, n.cfd, 5, 0), 5);
    assert_int_equal(synack_shutdown(n.c, n.cfd, SHUT_WR), 0);
    assert_int_equal(synack_send_reserve(n.c, n.cfd, 5, iov, 2), -1);
    assert_int_equal(errno, EPIPE);
    run_ms(&n, 5);
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, 2), 5);
    assert_int_equal(synack_recv_consume(n.s, n.sfd, 5), 0);
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, 2), 0);

    /* The server reserves room, then the client resets the connection:
     * the commit fails with the reset and appends nothing. */
    assert_true(synack_send_reserve(n.s, n.sfd, 1000, iov, 2) > 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(synack_setsockopt(n.c, n.cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    assert_int_equal(synack_close(n.c, n.cfd), 0); /* RST */
    run_ms(&n, 5);
    assert_int_equal(synack_send_commit(n.s, n.sfd, 10, 0), -1);
    assert_int_equal(errno, ECONNRESET);
    assert_int_equal(synack_send_commit(n.s, n.sfd, 10, 0), -1);
    assert_int_equal(errno, EPIPE);
    assert_int_equal(synack_send_reserve(n.s, n.sfd, 10, iov, 2), -1);
    assert_int_equal(errno, EPIPE);

    /* After close: EBADF for all four. */
    assert_int_equal(synack_close(n.s, n.sfd), 0);
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, 2), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(synack_recv_consume(n.s, n.sfd, 0), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(synack_send_reserve(n.s, n.sfd, 10, iov, 2), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(synack_send_commit(n.s, n.sfd, 0, 0), -1);
    assert_int_equal(errno, EBADF);
    synack_sim_free(n.sim);
}

/* Data that was received before a reset is gone with it: peek reports the
 * reset, as recv does. */
static void test_peek_after_reset(void **state)
{
    (void)state;
    struct net n;
    net_up(&n, 7, 0, 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(synack_setsockopt(n.c, n.cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    assert_int_equal(synack_close(n.c, n.cfd), 0);
    run_ms(&n, 5);
    struct iovec iov[2];
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, 2), -1);
    assert_int_equal(errno, ECONNRESET);
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, 2), 0); /* then the end, as recv */
    synack_sim_free(n.sim);
}

static uint64_t mem_used(struct synack_stack *st)
{
    struct synack_stack_memory m;
    synack_stack_memory(st, &m);
    return m.used;
}

/* A read that empties the receive buffer leaves its chunk and table in
 * place for the next segment, but not for long: the stack's next deadline
 * is at most 10 ms away, and once it has passed the connection holds no
 * buffer memory again (an idle connection holds nothing). */
static void test_emptied_buffer_kept_briefly(void **state)
{
    (void)state;
    struct net n;
    net_up(&n, 8, 0, 0);
    int one = 1; /* the second small write goes at once, not after the delayed ACK */
    assert_int_equal(synack_setsockopt(n.c, n.cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
    run_ms(&n, 300); /* the handshake's ACKs and timers are over */
    uint64_t idle = mem_used(n.s);
    assert_int_equal(synack_send(n.c, n.cfd, "abcdefgh", 8, 0), 8);
    run_ms(&n, 5);
    uint64_t holding = mem_used(n.s);
    assert_true(holding >= idle + 4096);
    char buf[16];
    assert_int_equal(synack_recv(n.s, n.sfd, buf, sizeof(buf), 0), 8);
    assert_int_equal(mem_used(n.s), holding); /* kept */
    synack_time_t now = synack_sim_now(n.sim);
    assert_true(synack_stack_next_deadline(n.s) <= now + 10 * MS);
    /* Data again before the deadline: it goes into the kept storage. */
    assert_int_equal(synack_send(n.c, n.cfd, "ijkl", 4, 0), 4);
    run_ms(&n, 3);
    assert_int_equal(mem_used(n.s), holding);
    struct iovec iov[2];
    assert_int_equal(synack_recv_peek(n.s, n.sfd, iov, 2), 4);
    assert_memory_equal(iov[0].iov_base, "ijkl", 4);
    assert_int_equal(synack_recv_consume(n.s, n.sfd, 4), 0);
    run_ms(&n, 11);
    assert_int_equal(mem_used(n.s), idle); /* released at the deadline */
    assert_int_equal(synack_stack_next_deadline(n.s) > synack_sim_now(n.sim) + 10 * MS, 1);
    synack_sim_free(n.sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_zero_copy),
        cmocka_unit_test(test_transfer_mixed),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_reserve_per_stack),
        cmocka_unit_test(test_window_update),
        cmocka_unit_test(test_close_and_reset),
        cmocka_unit_test(test_peek_after_reset),
        cmocka_unit_test(test_emptied_buffer_kept_briefly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
