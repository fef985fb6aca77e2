/* The socket calls people expect, with Linux's meanings (socket.h,
 * sockopt.h): scatter/gather, the MSG_* flags, TCP_CORK, SO_RCVLOWAT and
 * SO_SNDLOWAT, IP_TOS and IP_TTL, SO_ERROR, SO_REUSEADDR, the option list,
 * and errors from the output function.  Two stacks on the simulator (10 ms
 * one way); each stack's output goes through a wrapper that can refuse
 * packets with an errno, and every packet on the link is logged. */
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
#include "synack/sockopt.h"
#include "synack/stack.h"
#include "synack/wire.h"

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 80
#define C 0
#define S 1

struct pkt {
    int from;
    uint8_t flags, tos, ttl;
    uint32_t len;
};

struct host {
    struct net *n;
    struct synack_stack *st;
    int node;
    int fail_err;   /* refuse packets with -fail_err ... */
    int fail_count; /* ... this many of them (-1: all) */
    int refused;
};

struct net {
    struct synack_sim *sim;
    struct host h[2];
    struct pkt log[4096];
    size_t nlog;
};

static int host_output(void *user, const uint8_t *pkt, size_t len)
{
    struct host *h = user;
    if (h->fail_err && h->fail_count != 0) {
        if (h->fail_count > 0)
            h->fail_count--;
        h->refused++;
        return -h->fail_err;
    }
    return synack_sim_send(h->n->sim, h->node, pkt, len);
}

static int node_input(void *ctx, const uint8_t *pkt, size_t len, synack_time_t now)
{
    return synack_stack_input(((struct host *)ctx)->st, pkt, len, now);
}
static synack_time_t node_deadline(void *ctx)
{
    return synack_stack_next_deadline(((struct host *)ctx)->st);
}
static void node_advance(void *ctx, synack_time_t now)
{
    synack_stack_advance(((struct host *)ctx)->st, now);
}

static void observer(void *user, synack_time_t now, int link, int from, int to,
                     enum synack_sim_event ev, const uint8_t *buf, size_t len)
{
    struct net *n = user;
    (void)now;
    (void)link;
    (void)to;
    if (ev != SYNACK_SIM_SENT || n->nlog == sizeof(n->log) / sizeof(n->log[0]))
        return;
    struct synack_ipv4_hdr ip;
    struct synack_tcp_hdr th;
    assert_int_equal(synack_ipv4_parse(buf, len, &ip), 0);
    assert_int_equal(synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &th), 0);
    n->log[n->nlog++] = (struct pkt){from == n->h[C].node ? C : S, th.flags, ip.tos, ip.ttl,
                                     (uint32_t)th.payload_len};
}

static struct net *net_new(void)
{
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    assert_int_equal(synack_sim_new(11, &n->sim), 0);
    static const struct synack_sim_node_ops ops = {node_input, node_deadline, node_advance};
    for (int i = 0; i < 2; i++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == C ? CADDR : SADDR;
        cfg.data_retries = 4;
        cfg.rto_max = SYNACK_SEC(2);
        n->h[i].n = n;
        assert_int_equal(synack_stack_new(&cfg, host_output, &n->h[i], &n->h[i].st), 0);
        n->h[i].node = synack_sim_add_node(n->sim, cfg.addr, &ops, &n->h[i]);
        assert_true(n->h[i].node >= 0);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(10);
    assert_true(synack_sim_link(n->sim, n->h[C].node, n->h[S].node, &lp, NULL) >= 0);
    synack_sim_set_observer(n->sim, observer, n);
    return n;
}

static void net_free(struct net *n)
{
    synack_sim_free(n->sim);
    synack_stack_free(n->h[C].st);
    synack_stack_free(n->h[S].st);
    free(n);
}

static struct synack_stack *st(struct net *n, int side) { return n->h[side].st; }

/* Our nodes are not owned by the simulator: bring their clocks along. */
static void run_for(struct net *n, synack_time_t dt)
{
    synack_sim_run_until(n->sim, synack_sim_now(n->sim) + dt);
    for (int i = 0; i < 2; i++)
        synack_stack_advance(st(n, i), synack_sim_now(n->sim));
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(addr);
    return a;
}

static int listener(struct net *n, uint16_t port)
{
    int fd = synack_socket(st(n, S), AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, port);
    assert_int_equal(synack_bind(st(n, S), fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(st(n, S), fd, 8), 0);
    return fd;
}

/* An established pair: *cfd on the client, *sfd accepted on the server. */
static void establish(struct net *n, int *cfd, int *sfd)
{
    int lfd = listener(n, PORT);
    *cfd = synack_socket(st(n, C), AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(SADDR, PORT);
    assert_int_equal(synack_connect(st(n, C), *cfd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
    run_for(n, SYNACK_MSEC(100));
    *sfd = synack_accept(st(n, S), lfd, NULL, NULL);
    assert_true(*sfd >= 0);
    assert_int_equal(synack_close(st(n, S), lfd), 0);
}

static size_t data_segments(const struct net *n, size_t from, int side, uint32_t *bytes)
{
    size_t k = 0;
    *bytes = 0;
    for (size_t i = from; i < n->nlog; i++)
        if (n->log[i].from == side && n->log[i].len > 0) {
            k++;
            *bytes += n->log[i].len;
        }
    return k;
}

static void set_int(struct net *n, int side, int fd, int level, int name, int v)
{
    assert_int_equal(synack_setsockopt(st(n, side), fd, level, name, &v, sizeof(v)), 0);
}

static int get_int(struct net *n, int side, int fd, int level, int name)
{
    int v = -12345;
    socklen_t len = sizeof(v);
    assert_int_equal(synack_getsockopt(st(n, side), fd, level, name, &v, &len), 0);
    assert_int_equal(len, sizeof(v));
    return v;
}

/* ---- scatter/gather ------------------------------------------------------- */

static void test_writev_readv_recvmsg(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    size_t mark = n->nlog;
    char a[] = "abc", b[] = "", c[] = "defgh", d[] = "ij";
    struct iovec out[4] = {{a, 3}, {b, 0}, {c, 5}, {d, 2}};
    assert_int_equal(synack_writev(st(n, C), cfd, out, 4), 10);
    run_for(n, SYNACK_MSEC(50));
    /* The pieces travel as one write would: one segment. */
    uint32_t bytes;
    assert_int_equal(data_segments(n, mark, C, &bytes), 1);
    assert_int_equal(bytes, 10);

    char p1[4] = {0}, p2[16] = {0};
    struct iovec in[2] = {{p1, 4}, {p2, 16}};
    /* MSG_PEEK across pieces, then the same bytes consumed. */
    struct msghdr m = {.msg_iov = in, .msg_iovlen = 2};
    m.msg_flags = 0x55;
    m.msg_namelen = 99;
    assert_int_equal(synack_recvmsg(st(n, S), sfd, &m, MSG_PEEK), 10);
    assert_memory_equal(p1, "abcd", 4);
    assert_memory_equal(p2, "efghij", 6);
    assert_int_equal(m.msg_flags, 0);
    assert_int_equal(m.msg_namelen, 0);
    memset(p1, 0, 4);
    memset(p2, 0, 16);
    assert_int_equal(synack_readv(st(n, S), sfd, in, 2), 10);
    assert_memory_equal(p1, "abcd", 4);
    assert_memory_equal(p2, "efghij", 6);
    assert_int_equal(synack_readv(st(n, S), sfd, in, 2), -1);
    assert_int_equal(errno, EAGAIN);

    /* sendmsg and recvmsg the other way. */
    struct iovec o2[2] = {{"hello, ", 7}, {"world", 5}};
    struct msghdr sm = {.msg_iov = o2, .msg_iovlen = 2};
    assert_int_equal(synack_sendmsg(st(n, S), sfd, &sm, 0), 12);
    run_for(n, SYNACK_MSEC(50));
    char r[12];
    struct iovec ri[3] = {{r, 5}, {r + 5, 5}, {r + 10, 2}};
    struct msghdr rm = {.msg_iov = ri, .msg_iovlen = 3};
    assert_int_equal(synack_recvmsg(st(n, C), cfd, &rm, 0), 12);
    assert_memory_equal(r, "hello, world", 12);

    /* Argument errors, as Linux's. */
    struct iovec many[SYNACK_IOV_MAX + 1];
    memset(many, 0, sizeof(many));
    struct msghdr big = {.msg_iov = many, .msg_iovlen = SYNACK_IOV_MAX + 1};
    assert_int_equal(synack_sendmsg(st(n, C), cfd, &big, 0), -1);
    assert_int_equal(errno, EMSGSIZE);
    assert_int_equal(synack_writev(st(n, C), cfd, many, SYNACK_IOV_MAX + 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(synack_writev(st(n, C), cfd, many, -1), -1);
    assert_int_equal(errno, EINVAL);
    struct iovec bad = {NULL, 4};
    assert_int_equal(synack_writev(st(n, C), cfd, &bad, 1), -1);
    assert_int_equal(errno, EFAULT);
    assert_int_equal(synack_sendmsg(st(n, C), cfd, NULL, 0), -1);
    assert_int_equal(errno, EFAULT);
    assert_int_equal(synack_readv(st(n, C), 99, in, 2), -1);
    assert_int_equal(errno, EBADF);
    net_free(n);
}

/* readv/recvmsg with zero-length pieces, with and without MSG_PEEK: the
 * empty pieces take nothing and the bytes land in the others in order, as
 * on Linux; nothing to peek is EAGAIN; pieces that are all empty read 0. */
static void test_readv_empty_pieces(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    char p1[3] = {0}, p2[16] = {0};
    struct iovec in[4] = {{NULL, 0}, {p1, 3}, {NULL, 0}, {p2, 16}};
    struct msghdr m = {.msg_iov = in, .msg_iovlen = 4};
    /* Nothing received yet: a peek is EAGAIN, like a read. */
    assert_int_equal(synack_recvmsg(st(n, S), sfd, &m, MSG_PEEK), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(synack_send(st(n, C), cfd, "abcdefg", 7, 0), 7);
    run_for(n, SYNACK_MSEC(50));
    /* Only empty pieces: 0, and the data stays. */
    struct iovec none[2] = {{NULL, 0}, {p1, 0}};
    struct msghdr m0 = {.msg_iov = none, .msg_iovlen = 2};
    assert_int_equal(synack_recvmsg(st(n, S), sfd, &m0, MSG_PEEK), 0);
    assert_int_equal(synack_readv(st(n, S), sfd, none, 2), 0);
    assert_int_equal(synack_recvmsg(st(n, S), sfd, &m, MSG_PEEK), 7);
    assert_memory_equal(p1, "abc", 3);
    assert_memory_equal(p2, "defg", 4);
    memset(p1, 0, sizeof(p1));
    memset(p2, 0, sizeof(p2));
    /* The peek consumed nothing: the same bytes are read. */
    assert_int_equal(synack_readv(st(n, S), sfd, in, 4), 7);
    assert_memory_equal(p1, "abc", 3);
    assert_memory_equal(p2, "defg", 4);
    assert_int_equal(synack_readv(st(n, S), sfd, in, 4), -1);
    assert_int_equal(errno, EAGAIN);
    net_free(n);
}

/* A full send buffer: writev reports what it took, like Linux. */
static void test_writev_partial(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    int sz = 4096;
    set_int(n, C, cfd, SOL_SOCKET, SO_SNDBUF, sz);
    static char blob[3000];
    memset(blob, 'x', sizeof(blob));
    struct iovec v[3] = {{blob, 3000}, {blob, 3000}, {blob, 3000}};
    ssize_t k = synack_writev(st(n, C), cfd, v, 3);
    assert_true(k > 0 && k < 9000);
    int cap = get_int(n, C, cfd, SOL_SOCKET, SO_SNDBUF);
    assert_true(k <= cap);
    /* Everything it said it took arrives. */
    run_for(n, SYNACK_SEC(1));
    static char got[9000];
    assert_int_equal(synack_recv(st(n, S), sfd, got, sizeof(got), 0), k);
    net_free(n);
}

/* ---- recv flags -------------------------------------------------------------- */

static void test_recv_flags(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    char buf[200];
    assert_int_equal(synack_recv(st(n, S), sfd, buf, 10, MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    char data[100];
    for (int i = 0; i < 100; i++)
        data[i] = (char)i;
    assert_int_equal(synack_send(st(n, C), cfd, data, 100, MSG_DONTWAIT | MSG_NOSIGNAL), 100);
    run_for(n, SYNACK_MSEC(50));
    /* MSG_PEEK | MSG_TRUNC counts without consuming; MSG_TRUNC discards. */
    assert_int_equal(synack_recv(st(n, S), sfd, NULL, 30, MSG_PEEK | MSG_TRUNC), 30);
    assert_int_equal(synack_recv(st(n, S), sfd, NULL, 500, MSG_PEEK | MSG_TRUNC), 100);
    assert_int_equal(synack_recv(st(n, S), sfd, NULL, 40, MSG_TRUNC), 40);
    /* MSG_WAITALL on a call that never waits: what there is, as Linux on a
     * non-blocking socket. */
    assert_int_equal(synack_recv(st(n, S), sfd, buf, sizeof(buf), MSG_WAITALL), 60);
    assert_memory_equal(buf, data + 40, 60);
    assert_int_equal(synack_recv(st(n, S), sfd, NULL, 10, MSG_TRUNC), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(synack_recv(st(n, S), sfd, buf, 10, MSG_OOB), -1);
    assert_int_equal(errno, EINVAL);
    /* EOF through MSG_TRUNC too. */
    assert_int_equal(synack_shutdown(st(n, C), cfd, SHUT_WR), 0);
    run_for(n, SYNACK_MSEC(50));
    assert_int_equal(synack_recv(st(n, S), sfd, NULL, 10, MSG_TRUNC), 0);
    assert_int_equal(synack_recv(st(n, S), sfd, NULL, 10, MSG_TRUNC | MSG_PEEK), 0);
    net_free(n);
}

/* ---- MSG_MORE and TCP_CORK ----------------------------------------------- */

static void test_msg_more_and_cork(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    uint32_t bytes;
    size_t mark = n->nlog;
    assert_int_equal(synack_send(st(n, C), cfd, "abc", 3, MSG_MORE), 3);
    run_for(n, SYNACK_MSEC(150));
    assert_int_equal(data_segments(n, mark, C, &bytes), 0); /* held (200 ms at most) */
    assert_int_equal(synack_send(st(n, C), cfd, "def", 3, 0), 3);
    run_for(n, SYNACK_MSEC(50));
    assert_int_equal(data_segments(n, mark, C, &bytes), 1);
    assert_int_equal(bytes, 6);
    char buf[64];
    assert_int_equal(synack_recv(st(n, S), sfd, buf, sizeof(buf), 0), 6);
    assert_memory_equal(buf, "abcdef", 6);

    /* TCP_CORK: small writes wait until the uncork (or 200 ms: below);
     * full segments go. */
    assert_int_equal(get_int(n, C, cfd, IPPROTO_TCP, TCP_CORK), 0);
    set_int(n, C, cfd, IPPROTO_TCP, TCP_CORK, 1);
    assert_int_equal(get_int(n, C, cfd, IPPROTO_TCP, TCP_CORK), 1);
    mark = n->nlog;
    for (int i = 0; i < 5; i++)
        assert_int_equal(synack_send(st(n, C), cfd, "12345", 5, 0), 5);
    run_for(n, SYNACK_MSEC(50));
    assert_int_equal(data_segments(n, mark, C, &bytes), 0);
    int mss = get_int(n, C, cfd, IPPROTO_TCP, TCP_MAXSEG);
    static char big[3000];
    assert_true(2 * mss + 10 - 25 <= (int)sizeof(big));
    assert_int_equal(synack_send(st(n, C), cfd, big, (size_t)(2 * mss + 10 - 25), 0),
                     2 * mss + 10 - 25);
    run_for(n, SYNACK_MSEC(100));
    assert_int_equal(data_segments(n, mark, C, &bytes), 2); /* full ones only */
    assert_int_equal(bytes, (uint32_t)(2 * mss));
    set_int(n, C, cfd, IPPROTO_TCP, TCP_CORK, 0);
    run_for(n, SYNACK_MSEC(100));
    assert_int_equal(data_segments(n, mark, C, &bytes), 3);
    assert_int_equal(bytes, (uint32_t)(2 * mss + 10));
    /* Linux's ceiling: a corked tail waits 200 ms at most
     * (tests/scripts/linux/cork-ceiling.pkt times it exactly). */
    set_int(n, C, cfd, IPPROTO_TCP, TCP_CORK, 1);
    mark = n->nlog;
    assert_int_equal(synack_send(st(n, C), cfd, "wait", 4, 0), 4);
    run_for(n, SYNACK_MSEC(190));
    assert_int_equal(data_segments(n, mark, C, &bytes), 0);
    run_for(n, SYNACK_MSEC(20));
    assert_int_equal(data_segments(n, mark, C, &bytes), 1);
    assert_int_equal(bytes, 4);
    /* The FIN takes a corked tail with it. */
    mark = n->nlog;
    assert_int_equal(synack_send(st(n, C), cfd, "tail", 4, 0), 4);
    run_for(n, SYNACK_MSEC(100));
    assert_int_equal(data_segments(n, mark, C, &bytes), 0);
    assert_int_equal(synack_shutdown(st(n, C), cfd, SHUT_WR), 0);
    run_for(n, SYNACK_MSEC(100));
    assert_int_equal(data_segments(n, mark, C, &bytes), 1);
    assert_int_equal(bytes, 4);
    net_free(n);
}

/* ---- low-water marks ------------------------------------------------------ */

static short poll_in(struct net *n, int side, int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    synack_poll(st(n, side), &p, 1);
    return p.revents & POLLIN;
}

static void test_lowat(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    assert_int_equal(get_int(n, S, sfd, SOL_SOCKET, SO_RCVLOWAT), 1);
    set_int(n, S, sfd, SOL_SOCKET, SO_RCVLOWAT, 100);
    assert_int_equal(get_int(n, S, sfd, SOL_SOCKET, SO_RCVLOWAT), 100);
    static char data[100];
    assert_int_equal(synack_send(st(n, C), cfd, data, 60, 0), 60);
    run_for(n, SYNACK_MSEC(50));
    assert_int_equal(poll_in(n, S, sfd), 0); /* 60 < 100 */
    assert_int_equal(synack_send(st(n, C), cfd, data, 40, 0), 40);
    run_for(n, SYNACK_MSEC(50));
    assert_int_equal(poll_in(n, S, sfd), POLLIN);
    char buf[128];
    assert_int_equal(synack_recv(st(n, S), sfd, buf, 30, 0), 30);
    assert_int_equal(poll_in(n, S, sfd), 0);
    /* A non-blocking recv still returns what there is, as Linux's. */
    assert_int_equal(synack_recv(st(n, S), sfd, buf, sizeof(buf), 0), 70);
    /* EOF is readable whatever the mark. */
    assert_int_equal(synack_shutdown(st(n, C), cfd, SHUT_WR), 0);
    run_for(n, SYNACK_MSEC(50));
    assert_int_equal(poll_in(n, S, sfd), POLLIN);
    set_int(n, S, sfd, SOL_SOCKET, SO_RCVLOWAT, 0);
    assert_int_equal(get_int(n, S, sfd, SOL_SOCKET, SO_RCVLOWAT), 1);

    assert_int_equal(get_int(n, C, cfd, SOL_SOCKET, SO_SNDLOWAT), 1);
    int v = 10;
    assert_int_equal(synack_setsockopt(st(n, C), cfd, SOL_SOCKET, SO_SNDLOWAT, &v, sizeof(v)), -1);
    assert_int_equal(errno, ENOPROTOOPT);
    net_free(n);
}

/* ---- IP_TOS and IP_TTL ------------------------------------------------------ */

static void test_tos_ttl(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    assert_int_equal(get_int(n, C, cfd, IPPROTO_IP, IP_TOS), 0);
    assert_int_equal(get_int(n, C, cfd, IPPROTO_IP, IP_TTL), 64);
    set_int(n, C, cfd, IPPROTO_IP, IP_TOS, 0xb8 | 3); /* EF, and ECN bits that TCP owns */
    assert_int_equal(get_int(n, C, cfd, IPPROTO_IP, IP_TOS), 0xb8);
    set_int(n, C, cfd, IPPROTO_IP, IP_TTL, 7);
    assert_int_equal(get_int(n, C, cfd, IPPROTO_IP, IP_TTL), 7);
    int bad[] = {0, 256, -2};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(synack_setsockopt(st(n, C), cfd, IPPROTO_IP, IP_TTL, &bad[i], sizeof(int)),
                         -1);
        assert_int_equal(errno, EINVAL);
    }
    size_t mark = n->nlog;
    assert_int_equal(synack_send(st(n, C), cfd, "x", 1, 0), 1);
    run_for(n, SYNACK_MSEC(50));
    size_t seen = 0;
    for (size_t i = mark; i < n->nlog; i++) {
        if (n->log[i].from == C) {
            assert_int_equal(n->log[i].tos, 0xb8);
            assert_int_equal(n->log[i].ttl, 7);
            seen++;
        } else {
            assert_int_equal(n->log[i].tos, 0); /* the other side's own */
            assert_int_equal(n->log[i].ttl, 64);
        }
    }
    assert_int_equal(seen, 1);
    set_int(n, C, cfd, IPPROTO_IP, IP_TTL, -1);
    assert_int_equal(get_int(n, C, cfd, IPPROTO_IP, IP_TTL), 64);
    set_int(n, C, cfd, IPPROTO_IP, IP_TOS, 0);
    mark = n->nlog;
    assert_int_equal(synack_send(st(n, C), cfd, "y", 1, 0), 1);
    run_for(n, SYNACK_MSEC(50));
    assert_true(n->nlog > mark);
    assert_int_equal(n->log[mark].tos, 0);
    assert_int_equal(n->log[mark].ttl, 64);
    net_free(n);
}

/* An accepted connection is a clone of its listener on Linux
 * (sk_clone_lock): IP_TOS, IP_TTL, SO_RCVLOWAT and TCP_USER_TIMEOUT set on
 * the listener hold for it, and the SYN-ACK already carries the listener's
 * TOS and TTL (ip_build_and_send_pkt). */
static void test_accept_inherits_options(void **state)
{
    (void)state;
    struct net *n = net_new();
    int lfd = synack_socket(st(n, S), AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, PORT);
    assert_int_equal(synack_bind(st(n, S), lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    set_int(n, S, lfd, IPPROTO_IP, IP_TOS, 0x28);
    set_int(n, S, lfd, IPPROTO_IP, IP_TTL, 9);
    set_int(n, S, lfd, SOL_SOCKET, SO_RCVLOWAT, 5);
    set_int(n, S, lfd, IPPROTO_TCP, TCP_USER_TIMEOUT, 3000);
    assert_int_equal(synack_listen(st(n, S), lfd, 4), 0);
    size_t mark = n->nlog;
    int cfd = synack_socket(st(n, C), AF_INET, SOCK_STREAM, 0);
    a = sin_of(SADDR, PORT);
    assert_int_equal(synack_connect(st(n, C), cfd, (struct sockaddr *)&a, sizeof(a)), -1);
    run_for(n, SYNACK_MSEC(100));
    int sfd = synack_accept(st(n, S), lfd, NULL, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(get_int(n, S, sfd, IPPROTO_IP, IP_TOS), 0x28);
    assert_int_equal(get_int(n, S, sfd, IPPROTO_IP, IP_TTL), 9);
    assert_int_equal(get_int(n, S, sfd, SOL_SOCKET, SO_RCVLOWAT), 5);
    assert_int_equal(get_int(n, S, sfd, IPPROTO_TCP, TCP_USER_TIMEOUT), 3000);
    assert_int_equal(synack_send(st(n, S), sfd, "hi", 2, 0), 2);
    run_for(n, SYNACK_MSEC(50));
    size_t synack = 0, data = 0;
    for (size_t i = mark; i < n->nlog; i++) {
        const struct pkt *p = &n->log[i];
        if (p->from == C) {
            assert_int_equal(p->tos, 0); /* the client's own defaults */
            assert_int_equal(p->ttl, 64);
            continue;
        }
        assert_int_equal(p->tos, 0x28);
        assert_int_equal(p->ttl, 9);
        synack += (p->flags & (SYNACK_TH_SYN | SYNACK_TH_ACK)) == (SYNACK_TH_SYN | SYNACK_TH_ACK);
        data += p->len > 0;
    }
    assert_int_equal(synack, 1);
    assert_int_equal(data, 1);
    /* The listener's low-water mark: 2 bytes do not make it readable. */
    struct pollfd pfd = {.fd = cfd, .events = POLLIN};
    assert_int_equal(synack_poll(st(n, C), &pfd, 1), 1); /* the client has no mark */
    assert_int_equal(synack_send(st(n, C), cfd, "abc", 3, 0), 3);
    run_for(n, SYNACK_MSEC(50));
    pfd.fd = sfd;
    assert_int_equal(synack_poll(st(n, S), &pfd, 1), 0);
    assert_int_equal(synack_send(st(n, C), cfd, "de", 2, 0), 2);
    run_for(n, SYNACK_MSEC(50));
    assert_int_equal(synack_poll(st(n, S), &pfd, 1), 1);
    /* Changing the child leaves the listener alone. */
    set_int(n, S, sfd, IPPROTO_IP, IP_TTL, 33);
    assert_int_equal(get_int(n, S, lfd, IPPROTO_IP, IP_TTL), 9);
    net_free(n);
}

/* ---- the option list: every listed option works, nothing else does ------ */

struct opt { int level, name, access; };
#define OPT_ROW(l, nm, a) {l, nm, a},
static const struct opt opts[] = {SYNACK_SOCKOPTS(OPT_ROW)};

static const struct opt *listed(int level, int name)
{
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
        if (opts[i].level == level && opts[i].name == name)
            return &opts[i];
    return NULL;
}

static void test_option_list(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    const int levels[] = {SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP, IPPROTO_IPV6, 1234};
    int checked = 0;
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        for (int name = 0; name < 100; name++) {
            const struct opt *o = listed(levels[l], name);
            char buf[256];
            memset(buf, 0, sizeof(buf));
            socklen_t len = sizeof(buf);
            int g = synack_getsockopt(st(n, C), cfd, levels[l], name, buf, &len);
            if (!o) {
                assert_int_equal(g, -1);
                assert_int_equal(errno, ENOPROTOOPT);
                int one = 1;
                assert_int_equal(synack_setsockopt(st(n, C), cfd, levels[l], name, &one, sizeof(one)), -1);
                assert_int_equal(errno, ENOPROTOOPT);
                continue;
            }
            checked++;
            assert_int_equal(g, 0);
            assert_true(len > 0);
            /* Setting back what was read is accepted for RW options, refused
             * with ENOPROTOOPT for read-only ones. */
            int s = synack_setsockopt(st(n, C), cfd, levels[l], name, buf, len);
            if (o->access == SYNACK_OPT_RO) {
                assert_int_equal(s, -1);
                assert_int_equal(errno, ENOPROTOOPT);
            } else {
                assert_int_equal(s, 0);
            }
        }
    }
    assert_int_equal(checked, sizeof(opts) / sizeof(opts[0]));
    /* TCP_INFO copies what the caller's struct holds (fields are appended). */
    struct synack_tcp_info ti;
    socklen_t len = 8;
    memset(&ti, 0xff, sizeof(ti));
    assert_int_equal(synack_getsockopt(st(n, C), cfd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    assert_int_equal(len, 8);
    assert_int_equal(ti.state, SYNACK_ESTABLISHED);
    assert_int_equal(ti.snd_mss, 0xffffffffu); /* past the 8 bytes: untouched */
    net_free(n);
}

/* A backlog above 4096 is cut to 4096, as Linux cuts it to somaxconn: the
 * listener still takes connections (65535 + 1 would otherwise wrap to an
 * accept queue of 0 in its 16-bit field and refuse every one). */
static void test_listen_backlog_clamped(void **state)
{
    (void)state;
    static const int backlogs[] = {65535, 1 << 30};
    for (size_t b = 0; b < sizeof(backlogs) / sizeof(backlogs[0]); b++) {
        struct net *n = net_new();
        int lfd = synack_socket(st(n, S), AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = sin_of(0, PORT);
        assert_int_equal(synack_bind(st(n, S), lfd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(synack_listen(st(n, S), lfd, backlogs[b]), 0);
        int cfd[3];
        for (int i = 0; i < 3; i++) {
            cfd[i] = synack_socket(st(n, C), AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in d = sin_of(SADDR, PORT);
            assert_int_equal(synack_connect(st(n, C), cfd[i], (struct sockaddr *)&d, sizeof(d)),
                             -1);
            assert_int_equal(errno, EINPROGRESS);
        }
        run_for(n, SYNACK_MSEC(100));
        for (int i = 0; i < 3; i++) {
            assert_int_equal(get_int(n, C, cfd[i], SOL_SOCKET, SO_ERROR), 0);
            assert_true(synack_accept(st(n, S), lfd, NULL, NULL) >= 0);
        }
        assert_int_equal(synack_accept(st(n, S), lfd, NULL, NULL), -1);
        assert_int_equal(errno, EAGAIN);
        net_free(n);
    }
}

/* ---- SO_ERROR and SO_REUSEADDR ----------------------------------------- */

static void test_so_error(void **state)
{
    (void)state;
    struct net *n = net_new();
    int fd = synack_socket(st(n, C), AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(SADDR, 9); /* nobody listens */
    assert_int_equal(synack_connect(st(n, C), fd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
    assert_int_equal(get_int(n, C, fd, SOL_SOCKET, SO_ERROR), 0);
    run_for(n, SYNACK_MSEC(100));
    assert_int_equal(get_int(n, C, fd, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
    assert_int_equal(get_int(n, C, fd, SOL_SOCKET, SO_ERROR), 0); /* read clears it */
    net_free(n);
}

static int bind_port(struct net *n, int side, int fd, uint16_t port)
{
    struct sockaddr_in a = sin_of(0, port);
    return synack_bind(st(n, side), fd, (struct sockaddr *)&a, sizeof(a));
}

static void test_reuseaddr(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    /* The server closes first: its end waits in TIME-WAIT on port 80. */
    assert_int_equal(synack_close(st(n, S), sfd), 0);
    run_for(n, SYNACK_MSEC(50));
    assert_int_equal(synack_close(st(n, C), cfd), 0);
    run_for(n, SYNACK_MSEC(100));
    int fd = synack_socket(st(n, S), AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind_port(n, S, fd, PORT), -1);
    assert_int_equal(errno, EADDRINUSE);
    int fd2 = synack_socket(st(n, S), AF_INET, SOCK_STREAM, 0);
    set_int(n, S, fd2, SOL_SOCKET, SO_REUSEADDR, 1);
    assert_int_equal(get_int(n, S, fd2, SOL_SOCKET, SO_REUSEADDR), 1);
    assert_int_equal(bind_port(n, S, fd2, PORT), 0); /* TIME-WAIT does not block it */
    assert_int_equal(synack_listen(st(n, S), fd2, 4), 0);
    /* Never a port a listener holds, even with SO_REUSEADDR. */
    int fd3 = synack_socket(st(n, S), AF_INET, SOCK_STREAM, 0);
    set_int(n, S, fd3, SOL_SOCKET, SO_REUSEADDR, 1);
    assert_int_equal(bind_port(n, S, fd3, PORT), -1);
    assert_int_equal(errno, EADDRINUSE);
    net_free(n);
}

/* ---- errors from the output function ------------------------------------ */

static void test_output_unreachable_connect(void **state)
{
    (void)state;
    struct net *n = net_new();
    listener(n, PORT);
    int fd = synack_socket(st(n, C), AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(SADDR, PORT);
    n->h[C].fail_err = EHOSTUNREACH;
    n->h[C].fail_count = 1;
    assert_int_equal(synack_connect(st(n, C), fd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EHOSTUNREACH); /* at once, not after the SYN retries */
    assert_int_equal(n->h[C].refused, 1);
    /* The route is back: the same socket connects. */
    assert_int_equal(synack_connect(st(n, C), fd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
    run_for(n, SYNACK_MSEC(100));
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    assert_int_equal(synack_poll(st(n, C), &p, 1), 1);
    assert_int_equal(p.revents, POLLOUT);
    net_free(n);
}

static void test_output_unreachable_timeout(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    n->h[C].fail_err = EHOSTUNREACH;
    n->h[C].fail_count = -1;
    assert_int_equal(synack_send(st(n, C), cfd, "lost", 4, 0), 4);
    /* data_retries 4, rto_max 2 s: well within a minute. */
    run_for(n, SYNACK_SEC(60));
    assert_true(n->h[C].refused >= 5);
    char buf[8];
    assert_int_equal(synack_recv(st(n, C), cfd, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, EHOSTUNREACH); /* not ETIMEDOUT: Linux's soft error */
    net_free(n);
}

static void test_output_enobufs_recovers(void **state)
{
    (void)state;
    struct net *n = net_new();
    int cfd, sfd;
    establish(n, &cfd, &sfd);
    n->h[C].fail_err = ENOBUFS;
    n->h[C].fail_count = 2;
    assert_int_equal(synack_send(st(n, C), cfd, "queued", 6, 0), 6);
    run_for(n, SYNACK_SEC(5));
    assert_int_equal(n->h[C].refused, 2);
    char buf[8];
    assert_int_equal(synack_recv(st(n, S), sfd, buf, sizeof(buf), 0), 6);
    assert_memory_equal(buf, "queued", 6);
    assert_int_equal(get_int(n, C, cfd, SOL_SOCKET, SO_ERROR), 0);
    net_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writev_readv_recvmsg),
        cmocka_unit_test(test_writev_partial),
        cmocka_unit_test(test_readv_empty_pieces),
        cmocka_unit_test(test_recv_flags),
        cmocka_unit_test(test_msg_more_and_cork),
        cmocka_unit_test(test_lowat),
        cmocka_unit_test(test_tos_ttl),
        cmocka_unit_test(test_accept_inherits_options),
        cmocka_unit_test(test_option_list),
        cmocka_unit_test(test_listen_backlog_clamped),
        cmocka_unit_test(test_so_error),
        cmocka_unit_test(test_reuseaddr),
        cmocka_unit_test(test_output_unreachable_connect),
        cmocka_unit_test(test_output_unreachable_timeout),
        cmocka_unit_test(test_output_enobufs_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
