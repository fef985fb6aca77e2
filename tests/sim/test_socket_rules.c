/* The socket rules of RFC 9293 and of the Linux calls synack mirrors, one
 * test per rule: two synack stacks joined by the simulator (10 ms one way),
 * driven through the socket API, with every packet on the link recorded and
 * decoded so that each test asserts both what the calls return and what went
 * on the wire, and when. */
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

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"
#include "synack/wire.h"

#define CADDR 0x0a000001u /* 10.0.0.1, the client */
#define SADDR 0x0a000002u /* 10.0.0.2, the server */
#define PORT 80
#define C 0
#define S 1
#define DELAY SYNACK_MSEC(10)
#define RTT (2 * DELAY)

#define TH_FIN SYNACK_TH_FIN
#define TH_SYN SYNACK_TH_SYN
#define TH_RST SYNACK_TH_RST
#define TH_ACK SYNACK_TH_ACK
#define RDHUP SYNACK_POLLRDHUP

/* ---- the two hosts, the link and the packet log -------------------------- */

/* One packet a host handed to the link (SYNACK_SIM_SENT), decoded. */
struct pkt {
    synack_time_t t;
    int from;       /* C or S */
    uint8_t flags;  /* SYNACK_TH_* */
    uint32_t seq, ack, len;
    uint16_t sport, dport;
};

struct net {
    struct synack_sim *sim;
    struct synack_stack *st[2];
    int node[2], link;
    struct synack_link_params lp;
    struct pkt *log;
    size_t nlog, cap;
};

static void observer(void *user, synack_time_t now, int link, int from_node, int to_node,
                     enum synack_sim_event ev, const uint8_t *buf, size_t len)
{
    struct net *n = user;
    (void)link;
    (void)to_node;
    if (ev != SYNACK_SIM_SENT)
        return;
    struct synack_ipv4_hdr ip;
    struct synack_tcp_hdr th;
    assert_int_equal(synack_ipv4_parse(buf, len, &ip), 0);
    assert_int_equal(ip.proto, SYNACK_IPPROTO_TCP);
    /* What a stack sends must be well formed, checksum included. */
    assert_int_equal(synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &th), 0);
    if (n->nlog == n->cap) {
        n->cap = n->cap ? 2 * n->cap : 256;
        n->log = realloc(n->log, n->cap * sizeof(*n->log));
        assert_non_null(n->log);
    }
    n->log[n->nlog++] = (struct pkt){
        .t = now, .from = from_node == n->node[C] ? C : S, .flags = th.flags, .seq = th.seq,
        .ack = th.ack, .len = (uint32_t)th.payload_len, .sport = th.sport, .dport = th.dport};
}

static void net_free(struct net *n)
{
    if (n->sim)
        synack_sim_free(n->sim);
    free(n->log);
    memset(n, 0, sizeof(*n));
}

/* Each test's network hangs off its state, so that a failing test (cmocka
 * leaves it by longjmp) still frees everything. */
static int net_setup(void **state)
{
    *state = calloc(1, sizeof(struct net));
    return *state ? 0 : -1;
}

static int net_teardown(void **state)
{
    net_free(*state);
    free(*state);
    return 0;
}

/* Two stacks with `cfg`'s settings (NULL: defaults) and a 10 ms link. */
static void net_init_cfg(struct net *n, uint64_t seed, const struct synack_config *cfg)
{
    net_free(n);
    assert_int_equal(synack_sim_new(seed, &n->sim), 0);
    for (int side = C; side <= S; side++) {
        struct synack_config c;
        if (cfg)
            c = *cfg;
        else
            synack_config_default(&c);
        c.addr = side == C ? CADDR : SADDR;
        c.seed = 0; /* drawn from the simulator */
        n->node[side] = synack_sim_add_stack(n->sim, &c, &n->st[side]);
        assert_true(n->node[side] >= 0);
    }
    synack_link_params_default(&n->lp);
    n->lp.delay = DELAY;
    n->link = synack_sim_link(n->sim, n->node[C], n->node[S], &n->lp, &n->lp);
    assert_true(n->link >= 0);
    synack_sim_set_observer(n->sim, observer, n);
}

static void net_init(struct net *n)
{
    net_init_cfg(n, 1, NULL);
}

static synack_time_t now(const struct net *n)
{
    return synack_sim_now(n->sim);
}

/* Socket calls act at their stack's clock: bring both to the simulator's. */
static void sync_clocks(struct net *n)
{
    synack_stack_advance(n->st[C], now(n));
    synack_stack_advance(n->st[S], now(n));
}

static void run_to(struct net *n, synack_time_t t)
{
    synack_sim_run_until(n->sim, t);
    sync_clocks(n);
}

static void run_for(struct net *n, synack_time_t dt)
{
    run_to(n, now(n) + dt);
}

struct cond {
    struct net *n;
    bool (*fn)(struct net *n, const void *arg);
    const void *arg;
};

static bool cond_done(void *user)
{
    const struct cond *c = user;
    return c->fn(c->n, c->arg);
}

/* Run until fn holds (checked after every event) or max_wait has passed. */
static bool run_until(struct net *n, bool (*fn)(struct net *, const void *), const void *arg,
                      synack_time_t max_wait)
{
    struct cond c = {n, fn, arg};
    bool ok = synack_sim_run_while(n->sim, cond_done, &c, now(n) + max_wait);
    sync_clocks(n);
    return ok;
}

/* A descriptor on one side, for the conditions. */
struct sfd {
    int side, fd;
    short events;
};

static short poll1(struct net *n, int side, int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r = synack_poll(n->st[side], &p, 1);
    assert_true(r == 0 || r == 1);
    return p.revents;
}

static bool cond_poll(struct net *n, const void *arg)
{
    const struct sfd *f = arg;
    return poll1(n, f->side, f->fd, f->events) != 0;
}

static bool wait_poll(struct net *n, int side, int fd, short events, synack_time_t max_wait)
{
    struct sfd f = {side, fd, events};
    return run_until(n, cond_poll, &f, max_wait);
}

/* ---- socket helpers ------------------------------------------------------ */

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(addr);
    a.sin_port = htons(port);
    return a;
}

static int new_socket(struct net *n, int side)
{
    int fd = synack_socket(n->st[side], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    return fd;
}

static int new_listener(struct net *n, uint16_t port, int backlog)
{
    int fd = new_socket(n, S);
    struct sockaddr_in a = sin_of(0, port);
    assert_int_equal(synack_bind(n->st[S], fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(n->st[S], fd, backlog), 0);
    return fd;
}

static void start_connect(struct net *n, int fd, uint16_t port)
{
    struct sockaddr_in a = sin_of(SADDR, port);
    errno = 0;
    assert_int_equal(synack_connect(n->st[C], fd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
}

static uint16_t local_port(struct net *n, int side, int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    assert_int_equal(synack_getsockname(n->st[side], fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static struct synack_tcp_info tinfo(struct net *n, int side, int fd)
{
    struct synack_tcp_info i;
    socklen_t len = sizeof(i);
    assert_int_equal(synack_getsockopt(n->st[side], fd, IPPROTO_TCP, TCP_INFO, &i, &len), 0);
    assert_int_equal(len, sizeof(i));
    return i;
}

static int so_error(struct net *n, int side, int fd)
{
    int err = -1;
    socklen_t len = sizeof(err);
    assert_int_equal(synack_getsockopt(n->st[side], fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    return err;
}

static void set_int(struct net *n, int side, int fd, int level, int name, int v)
{
    assert_int_equal(synack_setsockopt(n->st[side], fd, level, name, &v, sizeof(v)), 0);
}

/* Listener on PORT, one client connected and accepted. */
static void establish(struct net *n, int *cfd, int *sfd, int *lfd)
{
    *lfd = new_listener(n, PORT, 8);
    *cfd = new_socket(n, C);
    start_connect(n, *cfd, PORT);
    assert_true(wait_poll(n, C, *cfd, POLLOUT, SYNACK_SEC(5)));
    assert_true(wait_poll(n, S, *lfd, POLLIN, SYNACK_SEC(5)));
    *sfd = synack_accept(n->st[S], *lfd, NULL, NULL);
    assert_true(*sfd >= 0);
    assert_int_equal(tinfo(n, C, *cfd).state, SYNACK_ESTABLISHED);
    assert_int_equal(tinfo(n, S, *sfd).state, SYNACK_ESTABLISHED);
}

static void fill(uint8_t *buf, size_t len, uint32_t salt)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)((i * 131u + salt) ^ (i >> 8));
}

static void send_all(struct net *n, int side, int fd, const void *buf, size_t len)
{
    assert_int_equal(synack_send(n->st[side], fd, buf, len, 0), (ssize_t)len);
}

/* Read until `len` bytes have come, running the network as needed. */
static void recv_exact(struct net *n, int side, int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        assert_true(wait_poll(n, side, fd, POLLIN, SYNACK_SEC(10)));
        ssize_t r = synack_recv(n->st[side], fd, buf + got, len - got, 0);
        assert_true(r > 0);
        got += (size_t)r;
    }
}

/* Index of the first packet from log[from] on, sent by `side`, carrying
 * every flag of `with` and none of `without`; -1 if none. */
static long find_pkt(const struct net *n, size_t from, int side, uint8_t with, uint8_t without)
{
    for (size_t i = from; i < n->nlog; i++) {
        const struct pkt *p = &n->log[i];
        if (p->from == side && (p->flags & with) == with && !(p->flags & without))
            return (long)i;
    }
    return -1;
}

static size_t count_pkts(const struct net *n, size_t from, int side, uint8_t with, uint8_t without)
{
    size_t k = 0;
    long i = (long)from - 1;
    while ((i = find_pkt(n, (size_t)(i + 1), side, with, without)) >= 0)
        k++;
    return k;
}

static const struct synack_stack_stats *stats(struct net *n, int side)
{
    return synack_stack_stats(n->st[side]);
}

static bool cond_timewait(struct net *n, const void *arg)
{
    const int *side = arg;
    return stats(n, *side)->tcp_timewait > 0;
}

static void set_loss(struct net *n, int from_side, double loss)
{
    struct synack_link_params p = n->lp;
    p.loss = loss;
    assert_int_equal(synack_sim_link_set(n->sim, n->link, n->node[from_side], &p), 0);
}

/* ---- close() with unread data ---------------------------------------------- */

/* RFC 9293 3.10.4 / RFC 2525 2.17: closing while received data is unread
 * loses it, so the peer learns with a RST, not a FIN; it then reads
 * ECONNRESET. */
static void test_close_unread_sends_rst(void **state)
{
    struct net *n = *state;
    net_init(n);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    uint8_t data[1000];
    fill(data, sizeof(data), 1);
    send_all(n, S, sfd, data, sizeof(data));
    assert_true(wait_poll(n, C, cfd, POLLIN, SYNACK_SEC(1)));
    assert_int_equal(tinfo(n, C, cfd).unread, sizeof(data));

    size_t mark = n->nlog;
    synack_time_t t = now(n);
    long last_s = find_pkt(n, 0, S, TH_ACK, 0);
    for (long i = last_s; i >= 0; i = find_pkt(n, (size_t)i + 1, S, TH_ACK, 0))
        last_s = i; /* the server's newest ACK says where the client's sequence is */
    uint32_t snd_nxt = n->log[last_s].ack;
    assert_int_equal(synack_close(n->st[C], cfd), 0);

    long rst = find_pkt(n, mark, C, TH_RST, 0);
    assert_true(rst >= 0);
    assert_int_equal(n->log[rst].t, t); /* at once */
    assert_int_equal(n->log[rst].seq, snd_nxt); /* RFC 9293 3.10.4: <SEQ=SND.NXT><CTL=RST> */
    assert_int_equal(n->log[rst].len, 0);
    run_for(n, SYNACK_SEC(2));
    assert_int_equal(count_pkts(n, mark, C, TH_FIN, 0), 0);
    assert_int_equal(count_pkts(n, mark, C, TH_RST, 0), 1);
    assert_int_equal(stats(n, C)->tcp_timewait, 0);
    assert_int_equal(stats(n, C)->tcp_conns_active, 0);
    assert_int_equal(synack_close(n->st[C], cfd), -1); /* the descriptor is gone */
    assert_int_equal(errno, EBADF);

    short ev = poll1(n, S, sfd, POLLIN | POLLOUT);
    assert_true(ev & POLLERR);
    assert_true(ev & POLLHUP);
    char buf[16];
    assert_int_equal(synack_recv(n->st[S], sfd, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, ECONNRESET);
    /* The error is reported once; then the connection reads as ended. */
    assert_int_equal(synack_recv(n->st[S], sfd, buf, sizeof(buf), 0), 0);
    assert_int_equal(stats(n, S)->tcp_rst_in, 1);
    assert_int_equal(stats(n, S)->tcp_conns_active, 0);
    assert_int_equal(synack_close(n->st[S], sfd), 0);
    assert_int_equal(synack_close(n->st[S], lfd), 0);
}

/* ---- SO_LINGER {on, 0} -------------------------------------------------------- */

/* An abortive close: RST at once, no FIN, no TIME-WAIT (so the port is free again). */
static void test_linger_zero(void **state)
{
    struct net *n = *state;
    net_init(n);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    uint8_t req[100], buf[200];
    fill(req, sizeof(req), 2);
    send_all(n, C, cfd, req, sizeof(req));
    recv_exact(n, S, sfd, buf, sizeof(req));
    send_all(n, S, sfd, req, sizeof(req));
    recv_exact(n, C, cfd, buf, sizeof(req)); /* nothing is left unread */
    run_for(n, SYNACK_MSEC(100));

    struct linger lg = {.l_onoff = 1, .l_linger = 0}, got;
    assert_int_equal(synack_setsockopt(n->st[C], cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    socklen_t len = sizeof(got);
    assert_int_equal(synack_getsockopt(n->st[C], cfd, SOL_SOCKET, SO_LINGER, &got, &len), 0);
    assert_int_equal(len, sizeof(got));
    assert_int_equal(got.l_onoff, 1);
    assert_int_equal(got.l_linger, 0);
    /* Malformed: too short an option value. */
    assert_int_equal(synack_setsockopt(n->st[C], cfd, SOL_SOCKET, SO_LINGER, &lg, 2), -1);
    assert_int_equal(errno, EINVAL);

    uint16_t port = local_port(n, C, cfd);
    size_t mark = n->nlog;
    synack_time_t t = now(n);
    assert_int_equal(synack_close(n->st[C], cfd), 0);
    long rst = find_pkt(n, mark, C, TH_RST, 0);
    assert_true(rst >= 0);
    assert_int_equal(n->log[rst].t, t);
    /* Gone at once: no TIME-WAIT holds the connection or its port. */
    assert_int_equal(stats(n, C)->tcp_conns_active, 0);
    int fd = new_socket(n, C);
    struct sockaddr_in a = sin_of(0, port);
    assert_int_equal(synack_bind(n->st[C], fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_close(n->st[C], fd), 0);

    run_for(n, SYNACK_SEC(2));
    assert_int_equal(count_pkts(n, mark, C, TH_FIN, 0), 0);
    assert_int_equal(count_pkts(n, mark, C, TH_RST, 0), 1);
    assert_int_equal(stats(n, C)->tcp_timewait, 0);
    assert_int_equal(synack_recv(n->st[S], sfd, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, ECONNRESET);
    /* The server's side ends without TIME-WAIT too, and sends nothing back. */
    assert_int_equal(count_pkts(n, mark, S, 0, 0), 0);
    assert_int_equal(stats(n, S)->tcp_timewait, 0);
    synack_close(n->st[S], sfd);
    synack_close(n->st[S], lfd);
}

/* ---- shutdown(SHUT_WR): half-close ------------------------------------------- */

static void test_shutdown_wr_half_close(void **state)
{
    struct net *n = *state;
    net_init(n);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    uint8_t req[300], buf[70000];
    fill(req, sizeof(req), 3);
    send_all(n, C, cfd, req, sizeof(req));

    size_t mark = n->nlog;
    synack_time_t t = now(n);
    assert_int_equal(synack_shutdown(n->st[C], cfd, SHUT_WR), 0);
    long fin = find_pkt(n, mark, C, TH_FIN, 0);
    assert_true(fin >= 0);
    assert_int_equal(n->log[fin].t, t); /* the FIN leaves at once, behind the data */
    assert_int_equal(tinfo(n, C, cfd).state, SYNACK_FIN_WAIT_1);

    /* The server reads the request, then EOF. */
    recv_exact(n, S, sfd, buf, sizeof(req));
    assert_memory_equal(buf, req, sizeof(req));
    assert_true(wait_poll(n, S, sfd, RDHUP, SYNACK_SEC(1)));
    assert_int_equal(synack_recv(n->st[S], sfd, buf, sizeof(buf), 0), 0);
    assert_int_equal(tinfo(n, S, sfd).state, SYNACK_CLOSE_WAIT);
    run_for(n, SYNACK_MSEC(100));
    assert_int_equal(tinfo(n, C, cfd).state, SYNACK_FIN_WAIT_2);

    /* The half-closed connection still carries the server's reply, in
     * several segments, however long it takes. */
    static uint8_t reply[60000];
    fill(reply, sizeof(reply), 4);
    size_t sent = 0, got = 0;
    while (got < sizeof(reply)) {
        if (sent < sizeof(reply)) {
            ssize_t w = synack_send(n->st[S], sfd, reply + sent, sizeof(reply) - sent, 0);
            assert_true(w > 0 || (w == -1 && errno == EAGAIN));
            if (w > 0)
                sent += (size_t)w;
        }
        run_for(n, SYNACK_MSEC(5));
        ssize_t r = synack_recv(n->st[C], cfd, buf + got, sizeof(buf) - got, 0);
        assert_true(r > 0 || (r == -1 && errno == EAGAIN));
        if (r > 0)
            got += (size_t)r;
        assert_true(now(n) < SYNACK_SEC(30));
    }
    assert_memory_equal(buf, reply, sizeof(reply));
    assert_int_equal(tinfo(n, C, cfd).state, SYNACK_FIN_WAIT_2);
    assert_true(tinfo(n, C, cfd).bytes_received >= sizeof(reply));

    /* Until the server's FIN: then EOF, and TIME-WAIT. */
    assert_int_equal(synack_recv(n->st[C], cfd, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(synack_close(n->st[S], sfd), 0);
    assert_true(wait_poll(n, C, cfd, RDHUP, SYNACK_SEC(1)));
    assert_int_equal(synack_recv(n->st[C], cfd, buf, sizeof(buf), 0), 0);
    assert_int_equal(tinfo(n, C, cfd).state, SYNACK_TIME_WAIT);
    assert_int_equal(count_pkts(n, mark, C, TH_FIN, 0), 1);
    assert_int_equal(count_pkts(n, 0, C, TH_RST, 0) + count_pkts(n, 0, S, TH_RST, 0), 0);
    synack_close(n->st[C], cfd);
    synack_close(n->st[S], lfd);
}

/* ---- send() after our FIN ------------------------------------------------------ */

static void test_send_after_fin_epipe(void **state)
{
    struct net *n = *state;
    net_init(n);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    assert_int_equal(synack_shutdown(n->st[C], cfd, SHUT_WR), 0);
    assert_int_equal(synack_send(n->st[C], cfd, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE);
    size_t mark = n->nlog;
    /* A second shutdown is harmless and sends no second FIN. */
    assert_int_equal(synack_shutdown(n->st[C], cfd, SHUT_WR), 0);
    assert_int_equal(count_pkts(n, mark, C, TH_FIN, 0), 0);
    run_for(n, SYNACK_MSEC(100));
    assert_int_equal(tinfo(n, C, cfd).state, SYNACK_FIN_WAIT_2);
    assert_int_equal(synack_send(n->st[C], cfd, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE);
    /* Nothing was queued by the failed sends. */
    assert_int_equal(tinfo(n, C, cfd).unsent, 0);
    assert_int_equal(count_pkts(n, mark, C, 0, 0), 0);
    /* The peer, in CLOSE-WAIT, may still send (RFC 9293 3.10.2). */
    assert_int_equal(synack_send(n->st[S], sfd, "yz", 2, 0), 2);
    uint8_t buf[4];
    recv_exact(n, C, cfd, buf, 2);
    assert_memory_equal(buf, "yz", 2);
    /* Bad arguments. */
    assert_int_equal(synack_shutdown(n->st[C], cfd, 7), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(synack_send(n->st[C], 999, "x", 1, 0), -1);
    assert_int_equal(errno, EBADF);
    int fresh = new_socket(n, C);
    assert_int_equal(synack_shutdown(n->st[C], fresh, SHUT_WR), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(synack_send(n->st[C], fresh, "x", 1, 0), -1);
    assert_int_equal(errno, ENOTCONN);
    synack_close(n->st[C], fresh);
    synack_close(n->st[C], cfd);
    synack_close(n->st[S], sfd);
    synack_close(n->st[S], lfd);
}

/* ---- several descriptors on one connection ----------------------------------- */

static void test_dup_last_close_sends_fin(void **state)
{
    struct net *n = *state;
    net_init(n);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    int d1 = synack_dup(n->st[C], cfd), d2 = synack_dup(n->st[C], cfd);
    assert_true(d1 >= 0 && d2 >= 0 && d1 != cfd && d2 != cfd && d1 != d2);
    assert_int_equal(synack_dup(n->st[C], 12345), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(tinfo(n, C, d1).conn_id, tinfo(n, C, cfd).conn_id);

    /* Closing two of three handles sends nothing; the third still works. */
    size_t mark = n->nlog;
    assert_int_equal(synack_close(n->st[C], cfd), 0);
    assert_int_equal(synack_close(n->st[C], d1), 0);
    run_for(n, SYNACK_SEC(1));
    assert_int_equal(count_pkts(n, mark, C, 0, 0), 0);
    assert_int_equal(tinfo(n, C, d2).state, SYNACK_ESTABLISHED);
    send_all(n, C, d2, "abc", 3);
    uint8_t buf[8];
    recv_exact(n, S, sfd, buf, 3);
    assert_memory_equal(buf, "abc", 3);
    send_all(n, S, sfd, "de", 2);
    recv_exact(n, C, d2, buf, 2);
    assert_memory_equal(buf, "de", 2);

    /* The last close sends the FIN, at once. */
    mark = n->nlog;
    synack_time_t t = now(n);
    assert_int_equal(synack_close(n->st[C], d2), 0);
    long fin = find_pkt(n, mark, C, TH_FIN, 0);
    assert_true(fin >= 0);
    assert_int_equal(n->log[fin].t, t);
    assert_true(wait_poll(n, S, sfd, RDHUP, SYNACK_SEC(1)));
    assert_int_equal(synack_recv(n->st[S], sfd, buf, sizeof(buf), 0), 0);
    synack_close(n->st[S], sfd);
    synack_close(n->st[S], lfd);
}

static void test_dup_shutdown_acts_at_once(void **state)
{
    struct net *n = *state;
    net_init(n);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    int d = synack_dup(n->st[C], cfd);
    assert_true(d >= 0);
    size_t mark = n->nlog;
    synack_time_t t = now(n);
    /* shutdown() acts on the connection, however many handles it has. */
    assert_int_equal(synack_shutdown(n->st[C], cfd, SHUT_WR), 0);
    long fin = find_pkt(n, mark, C, TH_FIN, 0);
    assert_true(fin >= 0);
    assert_int_equal(n->log[fin].t, t);
    assert_int_equal(synack_send(n->st[C], d, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE);
    /* Both handles still read. */
    send_all(n, S, sfd, "hello", 5);
    uint8_t buf[8];
    recv_exact(n, C, d, buf, 2);
    recv_exact(n, C, cfd, buf + 2, 3);
    assert_memory_equal(buf, "hello", 5);
    /* Closing one, then the other, sends no second FIN and no RST. */
    assert_int_equal(synack_close(n->st[C], cfd), 0);
    assert_int_equal(synack_close(n->st[C], d), 0);
    run_for(n, SYNACK_SEC(1));
    assert_int_equal(count_pkts(n, mark, C, TH_FIN, 0), 1);
    assert_int_equal(count_pkts(n, mark, C, TH_RST, 0), 0);
    synack_close(n->st[S], sfd);
    synack_close(n->st[S], lfd);
}

/* ---- recv() returns 0 at the peer's FIN, after the data ------------------------ */

static void recv_data_then_eof(struct net *n, uint64_t seed, double reorder)
{
    net_init_cfg(n, seed, NULL);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    struct synack_link_params p = n->lp;
    p.reorder = reorder;
    assert_int_equal(synack_sim_link_set(n->sim, n->link, n->node[S], &p), 0);
    static uint8_t data[50000], buf[50000];
    fill(data, sizeof(data), 5);
    send_all(n, S, sfd, data, sizeof(data));
    assert_int_equal(synack_close(n->st[S], sfd), 0); /* the FIN follows the data */
    /* Read slowly: the FIN is there long before the last byte is read. */
    size_t got = 0;
    while (got < sizeof(data)) {
        assert_true(wait_poll(n, C, cfd, POLLIN, SYNACK_SEC(10)));
        ssize_t r = synack_recv(n->st[C], cfd, buf + got, 777, 0);
        assert_true(r > 0); /* never 0 while data remains */
        got += (size_t)r;
        run_for(n, SYNACK_MSEC(1));
    }
    assert_memory_equal(buf, data, sizeof(data));
    assert_true(wait_poll(n, C, cfd, RDHUP, SYNACK_SEC(10)));
    assert_int_equal(synack_recv(n->st[C], cfd, buf, sizeof(buf), 0), 0);
    assert_int_equal(synack_recv(n->st[C], cfd, buf, sizeof(buf), 0), 0); /* and stays at EOF */
    assert_int_equal(tinfo(n, C, cfd).state, SYNACK_CLOSE_WAIT);
    synack_close(n->st[C], cfd);
    synack_close(n->st[S], lfd);
}

static void test_recv_zero_after_data(void **state)
{
    recv_data_then_eof(*state, 1, 0.0);
    /* With reordering the FIN may arrive before data it follows. */
    for (uint64_t seed = 1; seed <= 5; seed++)
        recv_data_then_eof(*state, seed, 0.3);
}

/* ---- connect() to a closed port ------------------------------------------------- */

static void test_connect_refused(void **state)
{
    struct net *n = *state;
    net_init(n);
    int lfd = new_listener(n, PORT, 8);
    int cfd = new_socket(n, C);
    synack_time_t t0 = now(n);
    start_connect(n, cfd, PORT + 1);
    assert_true(wait_poll(n, C, cfd, POLLOUT, SYNACK_SEC(5)));
    assert_int_equal(now(n), t0 + RTT); /* one round trip */
    short ev = poll1(n, C, cfd, POLLIN | POLLOUT);
    assert_true(ev & POLLERR);
    assert_true(ev & POLLHUP);

    long syn = find_pkt(n, 0, C, TH_SYN, TH_ACK);
    long rst = find_pkt(n, 0, S, TH_RST | TH_ACK, 0);
    assert_true(syn >= 0 && rst >= 0);
    /* RFC 9293 3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
    assert_int_equal(n->log[rst].seq, 0);
    assert_int_equal(n->log[rst].ack, n->log[syn].seq + 1);
    assert_int_equal(n->log[rst].dport, n->log[syn].sport);
    assert_int_equal(count_pkts(n, 0, S, TH_SYN, 0), 0);
    assert_int_equal(so_error(n, C, cfd), ECONNREFUSED);
    assert_int_equal(so_error(n, C, cfd), 0); /* reading SO_ERROR clears it */
    /* No retry: the client sends nothing more. */
    size_t mark = n->nlog;
    run_for(n, SYNACK_SEC(10));
    assert_int_equal(count_pkts(n, mark, C, 0, 0), 0);
    assert_int_equal(stats(n, C)->tcp_conns_active, 0);
    assert_int_equal(stats(n, S)->tcp_rst_out, 1);
    synack_close(n->st[C], cfd);
    synack_close(n->st[S], lfd);
}

/* ---- listen() backlog and the accept queue -------------------------------------- */

/* Clients connect one after another to a listener with backlog 1: like
 * Linux, backlog + 1 = 2 connections wait for accept(); further SYNs are
 * dropped unanswered and the clients retry until the queue drains. */
static void test_listen_backlog(void **state)
{
    struct net *n = *state;
    net_init(n);
    int lfd = new_listener(n, PORT, 1);
    int c[4];
    uint16_t port[4];
    for (int i = 0; i < 4; i++) {
        c[i] = new_socket(n, C);
        start_connect(n, c[i], PORT);
        port[i] = local_port(n, C, c[i]);
        run_for(n, SYNACK_MSEC(100));
    }
    for (int i = 0; i < 4; i++) {
        size_t synacks = 0;
        for (size_t k = 0; k < n->nlog; k++)
            if (n->log[k].from == S && n->log[k].dport == port[i] &&
                (n->log[k].flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
                synacks++;
        if (i < 2) {
            assert_int_equal(synacks, 1);
            assert_int_equal(tinfo(n, C, c[i]).state, SYNACK_ESTABLISHED);
        } else {
            assert_int_equal(synacks, 0); /* unanswered */
            assert_int_equal(tinfo(n, C, c[i]).state, SYNACK_SYN_SENT);
            assert_int_equal(poll1(n, C, c[i], POLLOUT), 0);
        }
    }
    assert_int_equal(stats(n, S)->tcp_conns_accepted, 2);
    assert_int_equal(count_pkts(n, 0, S, TH_RST, 0), 0); /* dropped, not refused */

    /* Drain the queue, in order. */
    for (int i = 0; i < 2; i++) {
        struct sockaddr_in a;
        socklen_t len = sizeof(a);
        int fd = synack_accept(n->st[S], lfd, (struct sockaddr *)&a, &len);
        assert_true(fd >= 0);
        assert_int_equal(ntohs(a.sin_port), port[i]);
    }
    assert_int_equal(synack_accept(n->st[S], lfd, NULL, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    /* The waiting clients' retransmitted SYNs (RTO 1 s) now get in. */
    assert_true(wait_poll(n, C, c[3], POLLOUT, SYNACK_SEC(5)));
    assert_true(wait_poll(n, C, c[2], POLLOUT, SYNACK_SEC(5)));
    run_for(n, DELAY); /* the handshakes' last ACKs reach the server */
    assert_int_equal(tinfo(n, C, c[2]).state, SYNACK_ESTABLISHED);
    for (int i = 2; i < 4; i++) {
        struct sockaddr_in a;
        socklen_t len = sizeof(a);
        int fd = synack_accept(n->st[S], lfd, (struct sockaddr *)&a, &len);
        assert_true(fd >= 0);
        assert_int_equal(ntohs(a.sin_port), port[i]);
        size_t syns = 0;
        for (size_t k = 0; k < n->nlog; k++)
            if (n->log[k].from == C && n->log[k].sport == port[i] && (n->log[k].flags & TH_SYN))
                syns++;
        assert_int_equal(syns, 2); /* the first one was ignored */
    }
    assert_int_equal(stats(n, S)->tcp_conns_accepted, 4);
}

/* Five SYNs at the same instant against backlog 1: the accept queue never
 * holds more than backlog + 1 connections; the others complete once it
 * drains, and every connection then carries data. */
static void test_listen_backlog_burst(void **state)
{
    struct net *n = *state;
    net_init(n);
    int lfd = new_listener(n, PORT, 1);
    int c[5];
    for (int i = 0; i < 5; i++) {
        c[i] = new_socket(n, C);
        start_connect(n, c[i], PORT);
    }
    run_for(n, SYNACK_MSEC(200));
    assert_true(stats(n, S)->tcp_conns_accepted <= 2);
    int accepted = 0, sfd[5];
    while (accepted < 5 && now(n) < SYNACK_SEC(60)) {
        int fd = synack_accept(n->st[S], lfd, NULL, NULL);
        if (fd >= 0) {
            sfd[accepted++] = fd;
            continue;
        }
        assert_int_equal(errno, EAGAIN);
        /* Before each accept, the queue respects its bound. */
        assert_true(stats(n, S)->tcp_conns_accepted <= (uint64_t)accepted + 2);
        run_for(n, SYNACK_MSEC(50));
    }
    assert_int_equal(accepted, 5);
    for (int i = 0; i < 5; i++) {
        uint8_t b = (uint8_t)i;
        assert_true(wait_poll(n, C, c[i], POLLOUT, SYNACK_SEC(10)));
        send_all(n, C, c[i], &b, 1);
    }
    uint32_t seen = 0;
    for (int i = 0; i < 5; i++) {
        uint8_t b = 0xff;
        recv_exact(n, S, sfd[i], &b, 1);
        assert_true(b < 5);
        seen |= 1u << b;
    }
    assert_int_equal(seen, 0x1f);
}

static void test_accept_queue(void **state)
{
    struct net *n = *state;
    net_init(n);
    int lfd = new_listener(n, PORT, 8);
    assert_int_equal(synack_accept(n->st[S], lfd, NULL, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(poll1(n, S, lfd, POLLIN), 0);
    int one = 0;
    socklen_t len = sizeof(one);
    assert_int_equal(synack_getsockopt(n->st[S], lfd, SOL_SOCKET, SO_ACCEPTCONN, &one, &len), 0);
    assert_int_equal(one, 1);

    /* Three clients, 10 ms apart: the first sends data before it is
     * accepted, the third closes before it is accepted. */
    int c[3];
    uint16_t port[3];
    for (int i = 0; i < 3; i++) {
        c[i] = new_socket(n, C);
        start_connect(n, c[i], PORT);
        port[i] = local_port(n, C, c[i]);
        run_for(n, SYNACK_MSEC(10));
    }
    for (int i = 0; i < 3; i++)
        assert_true(wait_poll(n, C, c[i], POLLOUT, SYNACK_SEC(1)));
    send_all(n, C, c[0], "early", 5);
    assert_int_equal(synack_close(n->st[C], c[2]), 0);
    run_for(n, SYNACK_MSEC(100));
    assert_int_equal(poll1(n, S, lfd, POLLIN | POLLOUT), POLLIN);

    int sfd[3];
    for (int i = 0; i < 3; i++) {
        struct sockaddr_in a;
        len = sizeof(a);
        sfd[i] = synack_accept(n->st[S], lfd, (struct sockaddr *)&a, &len);
        assert_true(sfd[i] >= 0);
        assert_int_equal(len, sizeof(a));
        assert_int_equal(a.sin_family, AF_INET);
        assert_int_equal(ntohl(a.sin_addr.s_addr), CADDR);
        assert_int_equal(ntohs(a.sin_port), port[i]); /* in order of arrival */
    }
    assert_int_equal(poll1(n, S, lfd, POLLIN), 0);
    assert_int_equal(synack_accept(n->st[S], lfd, NULL, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    uint8_t buf[8];
    assert_int_equal(synack_recv(n->st[S], sfd[0], buf, sizeof(buf), 0), 5);
    assert_memory_equal(buf, "early", 5);
    assert_int_equal(synack_recv(n->st[S], sfd[2], buf, sizeof(buf), 0), 0); /* its FIN */
    assert_int_equal(tinfo(n, S, sfd[2]).state, SYNACK_CLOSE_WAIT);

    /* Errors: not a listener, bad descriptor. */
    assert_int_equal(synack_accept(n->st[S], sfd[0], NULL, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(synack_accept(n->st[S], 77, NULL, NULL), -1);
    assert_int_equal(errno, EBADF);
    int fresh = new_socket(n, S);
    assert_int_equal(synack_accept(n->st[S], fresh, NULL, NULL), -1);
    assert_int_equal(errno, EINVAL);
}

/* ---- getsockname / getpeername -------------------------------------------------- */

static void expect_name(struct net *n, int side, int fd, bool peer, uint32_t addr, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0xaa, sizeof(a));
    socklen_t len = sizeof(a);
    int rc = peer ? synack_getpeername(n->st[side], fd, (struct sockaddr *)&a, &len)
                  : synack_getsockname(n->st[side], fd, (struct sockaddr *)&a, &len);
    assert_int_equal(rc, 0);
    assert_int_equal(len, sizeof(a));
    assert_int_equal(a.sin_family, AF_INET);
    assert_int_equal(ntohl(a.sin_addr.s_addr), addr);
    assert_int_equal(ntohs(a.sin_port), port);
}

static void test_sockname_peername(void **state)
{
    struct net *n = *state;
    net_init(n);
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    int fd = new_socket(n, C);
    expect_name(n, C, fd, false, 0, 0); /* unbound */
    assert_int_equal(synack_getpeername(n->st[C], fd, (struct sockaddr *)&a, &len), -1);
    assert_int_equal(errno, ENOTCONN);
    struct sockaddr_in any = sin_of(0, 0);
    assert_int_equal(synack_bind(n->st[C], fd, (struct sockaddr *)&any, sizeof(any)), 0);
    uint16_t eph = local_port(n, C, fd);
    assert_true(eph >= 32768 && eph <= 60999); /* the default ephemeral range */

    int lfd = new_listener(n, PORT, 8);
    expect_name(n, S, lfd, false, 0, PORT);
    len = sizeof(a);
    assert_int_equal(synack_getpeername(n->st[S], lfd, (struct sockaddr *)&a, &len), -1);
    assert_int_equal(errno, ENOTCONN);

    start_connect(n, fd, PORT);
    len = sizeof(a);
    assert_int_equal(synack_getpeername(n->st[C], fd, (struct sockaddr *)&a, &len), -1);
    assert_int_equal(errno, ENOTCONN); /* SYN-SENT: not connected yet (as Linux) */
    assert_true(wait_poll(n, C, fd, POLLOUT, SYNACK_SEC(1)));
    assert_true(wait_poll(n, S, lfd, POLLIN, SYNACK_SEC(1)));
    int sfd = synack_accept(n->st[S], lfd, NULL, NULL);
    assert_true(sfd >= 0);
    expect_name(n, C, fd, false, CADDR, eph);
    expect_name(n, C, fd, true, SADDR, PORT);
    expect_name(n, S, sfd, false, SADDR, PORT);
    expect_name(n, S, sfd, true, CADDR, eph);

    /* A short buffer gets a truncated address and the full length. */
    uint8_t small[4] = {0};
    len = sizeof(small);
    assert_int_equal(synack_getsockname(n->st[C], fd, (struct sockaddr *)small, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    /* Errors. */
    len = sizeof(a);
    assert_int_equal(synack_getsockname(n->st[C], 99, (struct sockaddr *)&a, &len), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(synack_getpeername(n->st[C], fd, NULL, &len), -1);
    assert_int_equal(errno, EFAULT);
    struct sockaddr_in bad = sin_of(0x0a0000ffu, 0);
    int fd2 = new_socket(n, C);
    assert_int_equal(synack_bind(n->st[C], fd2, (struct sockaddr *)&bad, sizeof(bad)), -1);
    assert_int_equal(errno, EADDRNOTAVAIL);
    assert_int_equal(synack_bind(n->st[C], fd2, (struct sockaddr *)&any, 4), -1);
    assert_int_equal(errno, EINVAL);
}

/* ---- poll() readiness at each stage ---------------------------------------------- */

#define ALL (POLLIN | POLLOUT | RDHUP)

static void test_poll_stages(void **state)
{
    struct net *n = *state;
    net_init(n);
    int fresh = new_socket(n, C);
    short ev = poll1(n, C, fresh, ALL);
    assert_true(ev & POLLHUP); /* not connected (Linux: POLLOUT|POLLHUP) */
    assert_false(ev & POLLERR);
    struct pollfd bad = {.fd = 50, .events = POLLIN};
    assert_int_equal(synack_poll(n->st[C], &bad, 1), 1);
    assert_int_equal(bad.revents, POLLNVAL);

    int lfd = new_listener(n, PORT, 8);
    assert_int_equal(poll1(n, S, lfd, ALL), 0);
    int cfd = new_socket(n, C);
    start_connect(n, cfd, PORT);
    assert_int_equal(poll1(n, C, cfd, ALL), 0); /* SYN-SENT: nothing yet */
    assert_true(wait_poll(n, C, cfd, POLLOUT, SYNACK_SEC(1)));
    assert_int_equal(poll1(n, C, cfd, ALL), POLLOUT);
    assert_true(wait_poll(n, S, lfd, POLLIN, SYNACK_SEC(1)));
    assert_int_equal(poll1(n, S, lfd, ALL), POLLIN);
    int sfd = synack_accept(n->st[S], lfd, NULL, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(poll1(n, S, lfd, ALL), 0);
    assert_int_equal(poll1(n, S, sfd, ALL), POLLOUT);

    /* Several descriptors in one call; only the requested bits (and the
     * errors) are reported; a negative fd is skipped. */
    struct pollfd fds[3] = {{.fd = cfd, .events = POLLIN}, {.fd = -1, .events = POLLIN},
                            {.fd = cfd, .events = POLLOUT}};
    assert_int_equal(synack_poll(n->st[C], fds, 3), 1);
    assert_int_equal(fds[0].revents, 0);
    assert_int_equal(fds[1].revents, 0);
    assert_int_equal(fds[2].revents, POLLOUT);

    send_all(n, S, sfd, "data", 4);
    assert_true(wait_poll(n, C, cfd, POLLIN, SYNACK_SEC(1)));
    assert_int_equal(poll1(n, C, cfd, ALL), POLLIN | POLLOUT);
    uint8_t buf[16];
    assert_int_equal(synack_recv(n->st[C], cfd, buf, sizeof(buf), 0), 4);
    assert_int_equal(poll1(n, C, cfd, ALL), POLLOUT);

    /* The peer's FIN: readable (EOF) and RDHUP, still writable. */
    assert_int_equal(synack_shutdown(n->st[S], sfd, SHUT_WR), 0);
    assert_true(wait_poll(n, C, cfd, RDHUP, SYNACK_SEC(1)));
    assert_int_equal(poll1(n, C, cfd, ALL), POLLIN | POLLOUT | RDHUP);
    assert_int_equal(poll1(n, C, cfd, POLLOUT), POLLOUT); /* RDHUP only when asked */
    /* Both directions shut: POLLHUP. */
    assert_int_equal(synack_shutdown(n->st[C], cfd, SHUT_WR), 0);
    ev = poll1(n, C, cfd, ALL);
    assert_int_equal(ev & (POLLIN | RDHUP | POLLHUP | POLLERR), POLLIN | RDHUP | POLLHUP);
    run_for(n, SYNACK_MSEC(100));
    ev = poll1(n, S, sfd, ALL);
    assert_int_equal(ev & (POLLIN | RDHUP | POLLHUP | POLLERR), POLLIN | RDHUP | POLLHUP);

    /* A reset connection: POLLERR and POLLHUP, whatever was asked. */
    int c2 = new_socket(n, C);
    start_connect(n, c2, PORT);
    assert_true(wait_poll(n, S, lfd, POLLIN, SYNACK_SEC(1)));
    int s2 = synack_accept(n->st[S], lfd, NULL, NULL);
    assert_true(s2 >= 0);
    assert_true(wait_poll(n, C, c2, POLLOUT, SYNACK_SEC(1)));
    struct linger lg = {1, 0};
    assert_int_equal(synack_setsockopt(n->st[S], s2, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    assert_int_equal(synack_close(n->st[S], s2), 0);
    assert_true(wait_poll(n, C, c2, 0, SYNACK_SEC(1)));
    ev = poll1(n, C, c2, 0);
    assert_int_equal(ev & (POLLERR | POLLHUP), POLLERR | POLLHUP);
    ev = poll1(n, C, c2, POLLIN);
    assert_true(ev & POLLIN); /* a read does not block: it reports the error */
}

/* After shutdown(SHUT_WR), a writer must not wait forever: like Linux, poll
 * reports POLLOUT so that the next send() fails at once with EPIPE. */
static void test_poll_pollout_after_shut_wr(void **state)
{
    struct net *n = *state;
    net_init(n);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    assert_int_equal(synack_shutdown(n->st[C], cfd, SHUT_WR), 0);
    run_for(n, SYNACK_MSEC(100));
    assert_int_equal(poll1(n, C, cfd, ALL), POLLOUT);
    assert_int_equal(synack_send(n->st[C], cfd, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE);
}

/* ---- EAGAIN on an empty receive buffer and a full send buffer ------------------- */

static void test_eagain(void **state)
{
    struct net *n = *state;
    net_init(n);
    int lfd = new_socket(n, S);
    set_int(n, S, lfd, SOL_SOCKET, SO_RCVBUF, 4096); /* inherited by the accepted socket */
    struct sockaddr_in a = sin_of(0, PORT);
    assert_int_equal(synack_bind(n->st[S], lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(n->st[S], lfd, 8), 0);
    int cfd = new_socket(n, C);
    set_int(n, C, cfd, SOL_SOCKET, SO_SNDBUF, 4096);
    uint8_t buf[16];
    assert_int_equal(synack_recv(n->st[C], cfd, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, ENOTCONN);
    start_connect(n, cfd, PORT);
    assert_int_equal(synack_recv(n->st[C], cfd, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, EAGAIN); /* connecting */
    assert_int_equal(synack_send(n->st[C], cfd, "x", 1, 0), -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(wait_poll(n, C, cfd, POLLOUT, SYNACK_SEC(1)));
    assert_true(wait_poll(n, S, lfd, POLLIN, SYNACK_SEC(1)));
    int sfd = synack_accept(n->st[S], lfd, NULL, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(synack_recv(n->st[S], sfd, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, EAGAIN); /* nothing received yet */
    assert_int_equal(synack_recv(n->st[S], sfd, buf, 0, 0), -1);
    assert_int_equal(errno, EAGAIN); /* even for 0 bytes, as Linux */

    /* The server does not read: the client fills its buffer and the
     * server's, then send() fails with EAGAIN and POLLOUT is off. */
    static uint8_t data[40000], got[40000];
    fill(data, sizeof(data), 6);
    ssize_t w = synack_send(n->st[C], cfd, data, 10000, 0);
    assert_true(w > 0 && w < 10000); /* a partial write, like Linux's non-blocking send */
    size_t sent = (size_t)w;
    for (int round = 0; round < 20; round++) {
        run_for(n, SYNACK_MSEC(200));
        w = synack_send(n->st[C], cfd, data + sent, sizeof(data) - sent, 0);
        if (w > 0)
            sent += (size_t)w;
    }
    assert_true(sent < sizeof(data));
    assert_int_equal(synack_send(n->st[C], cfd, data + sent, sizeof(data) - sent, 0), -1);
    assert_int_equal(errno, EAGAIN);
    assert_false(poll1(n, C, cfd, POLLOUT) & POLLOUT);
    assert_true(tinfo(n, S, sfd).unread > 0 && tinfo(n, S, sfd).unread <= 4096);

    /* Reading reopens the window; everything arrives, in order. */
    size_t rcvd = 0;
    while (rcvd < sizeof(data)) {
        ssize_t r = synack_recv(n->st[S], sfd, got + rcvd, sizeof(got) - rcvd, 0);
        if (r > 0)
            rcvd += (size_t)r;
        else
            assert_true(r == -1 && errno == EAGAIN);
        if (sent < sizeof(data) && (poll1(n, C, cfd, POLLOUT) & POLLOUT)) {
            w = synack_send(n->st[C], cfd, data + sent, sizeof(data) - sent, 0);
            assert_true(w > 0);
            sent += (size_t)w;
        }
        run_for(n, SYNACK_MSEC(5));
        assert_true(now(n) < SYNACK_SEC(120));
    }
    assert_memory_equal(got, data, sizeof(data));
}

/* ---- TIME-WAIT ------------------------------------------------------------------ */

#define MSL SYNACK_MSEC(500)

/* Whether a connection still holds `port` on `side`: a plain bind() of it
 * fails with EADDRINUSE while one does (TIME-WAIT ones included, as on Linux). */
static bool port_busy(struct net *n, int side, uint16_t port)
{
    int fd = new_socket(n, side);
    struct sockaddr_in a = sin_of(0, port);
    int rc = synack_bind(n->st[side], fd, (struct sockaddr *)&a, sizeof(a));
    int err = errno;
    assert_int_equal(synack_close(n->st[side], fd), 0);
    assert_true(rc == 0 || err == EADDRINUSE);
    return rc < 0;
}

/* The side that closes first waits 2*MSL in TIME-WAIT, from the moment the
 * other side's FIN arrives; the other side does not wait. */
static void timewait_duration(struct net *n, int first)
{
    int second = !first;
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.msl = MSL;
    net_init_cfg(n, 7, &cfg);
    int fd[2], lfd;
    establish(n, &fd[C], &fd[S], &lfd);
    assert_int_equal(synack_close(n->st[S], lfd), 0);
    send_all(n, first, fd[first], "bye", 3);
    uint8_t buf[8];
    recv_exact(n, second, fd[second], buf, 3);
    uint16_t port[2] = {local_port(n, C, fd[C]), PORT};

    assert_int_equal(synack_close(n->st[first], fd[first]), 0);
    assert_true(wait_poll(n, second, fd[second], RDHUP, SYNACK_SEC(1)));
    assert_int_equal(synack_recv(n->st[second], fd[second], buf, sizeof(buf), 0), 0);
    assert_int_equal(synack_close(n->st[second], fd[second]), 0);
    assert_true(run_until(n, cond_timewait, &first, SYNACK_SEC(1)));
    synack_time_t t0 = now(n);
    size_t mark = n->nlog;
    /* The final ACK leaves as TIME-WAIT starts. */
    long ack = find_pkt(n, mark - 1, first, TH_ACK, TH_FIN | TH_SYN | TH_RST);
    assert_true(ack >= 0);
    assert_int_equal(n->log[ack].t, t0);
    assert_true(port_busy(n, first, port[first]));

    run_to(n, t0 + DELAY); /* the final ACK arrives: the other side is done */
    assert_false(port_busy(n, second, port[second]));
    run_to(n, t0 + 2 * MSL - 1);
    assert_true(port_busy(n, first, port[first]));
    run_to(n, t0 + 2 * MSL);
    assert_false(port_busy(n, first, port[first])); /* exactly 2*MSL */
    assert_int_equal(stats(n, first)->tcp_timewait, 1);
    assert_int_equal(stats(n, second)->tcp_timewait, 0);
    assert_int_equal(n->nlog, mark); /* TIME-WAIT sent nothing */
}

static void test_timewait_client_closes_first(void **state)
{
    timewait_duration(*state, C);
}

static void test_timewait_server_closes_first(void **state)
{
    timewait_duration(*state, S);
}

static bool cond_sent_by(struct net *n, const void *arg)
{
    const size_t *from = arg; /* from[0]: log index, from[1]: side */
    return find_pkt(n, from[0], (int)from[1], 0, 0) >= 0;
}

/* The final ACK is lost: the peer retransmits its FIN, TIME-WAIT ACKs it
 * again and restarts its 2*MSL timer (RFC 9293 3.10.7.4). */
static void test_timewait_reacks_fin(void **state)
{
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.msl = MSL;
    struct net *n = *state;
    net_init_cfg(n, 8, &cfg);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    assert_int_equal(synack_close(n->st[S], lfd), 0);
    uint16_t cport = local_port(n, C, cfd);
    uint8_t buf[8];
    assert_int_equal(synack_close(n->st[C], cfd), 0);
    assert_true(wait_poll(n, S, sfd, RDHUP, SYNACK_SEC(1)));
    assert_int_equal(synack_recv(n->st[S], sfd, buf, sizeof(buf), 0), 0);
    run_for(n, SYNACK_MSEC(100));
    set_loss(n, C, 1.0); /* the client's final ACK will be lost */
    size_t mark = n->nlog;
    assert_int_equal(synack_close(n->st[S], sfd), 0);
    long fin1 = find_pkt(n, mark, S, TH_FIN, 0);
    assert_true(fin1 >= 0);
    int side = C;
    assert_true(run_until(n, cond_timewait, &side, SYNACK_SEC(1)));
    synack_time_t t0 = now(n);
    set_loss(n, C, 0.0);
    assert_int_equal(count_pkts(n, mark, C, TH_ACK, 0), 1); /* sent, and lost */

    /* The server's FIN comes again after its RTO; the client re-ACKs it at once. */
    size_t from[2] = {n->nlog, C};
    assert_true(run_until(n, cond_sent_by, from, SYNACK_SEC(5)));
    long fin2 = find_pkt(n, from[0], S, TH_FIN, 0);
    long ack2 = find_pkt(n, from[0], C, TH_ACK, TH_FIN | TH_SYN | TH_RST);
    assert_true(fin2 >= 0 && ack2 >= 0);
    assert_int_equal(n->log[fin2].seq, n->log[fin1].seq);
    assert_int_equal(n->log[ack2].t, n->log[fin2].t + DELAY);
    assert_int_equal(n->log[ack2].ack, n->log[fin1].seq + 1);
    synack_time_t t1 = n->log[ack2].t;
    assert_true(t1 > t0 && t1 < t0 + 2 * MSL);
    run_for(n, DELAY);
    assert_false(port_busy(n, S, PORT)); /* LAST-ACK got its ACK */

    run_to(n, t0 + 2 * MSL);
    assert_true(port_busy(n, C, cport)); /* restarted: not over yet */
    run_to(n, t1 + 2 * MSL - 1);
    assert_true(port_busy(n, C, cport));
    run_to(n, t1 + 2 * MSL);
    assert_false(port_busy(n, C, cport));
    assert_int_equal(stats(n, C)->tcp_timewait, 1);
    assert_int_equal(count_pkts(n, 0, C, TH_RST, 0) + count_pkts(n, 0, S, TH_RST, 0), 0);
}

/* ---- counters ------------------------------------------------------------------ */

/* tcp_conns_active counts every connection in the table that is not a
 * listener: active and passive opens alike, TIME-WAIT included. */
static void test_stats_conns_active(void **state)
{
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.msl = MSL;
    struct net *n = *state;
    net_init_cfg(n, 10, &cfg);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    assert_int_equal(stats(n, C)->tcp_conns_active, 1);
    assert_int_equal(stats(n, S)->tcp_conns_active, 1);
    assert_int_equal(stats(n, C)->tcp_conns_opened, 1);
    assert_int_equal(stats(n, S)->tcp_conns_accepted, 1);
    assert_int_equal(synack_close(n->st[C], cfd), 0);
    assert_true(wait_poll(n, S, sfd, RDHUP, SYNACK_SEC(1)));
    assert_int_equal(synack_close(n->st[S], sfd), 0);
    run_for(n, SYNACK_MSEC(100));
    assert_int_equal(stats(n, C)->tcp_conns_active, 1); /* TIME-WAIT */
    assert_int_equal(stats(n, S)->tcp_conns_active, 0);
    run_for(n, 2 * MSL);
    assert_int_equal(stats(n, C)->tcp_conns_active, 0);
    synack_close(n->st[S], lfd);
}

/* ---- keepalive ---------------------------------------------------------------------- */

/* A keepalive probe: a bare ACK one below SND.NXT (RFC 1122 4.2.3.6). */
static bool is_probe(const struct pkt *p, uint32_t snd_nxt)
{
    return p->flags == TH_ACK && p->len == 0 && p->seq == snd_nxt - 1;
}

static void test_keepalive_vanished_peer(void **state)
{
    struct net *n = *state;
    net_init(n);
    int cfd, sfd, lfd;
    establish(n, &cfd, &sfd, &lfd);
    set_int(n, C, cfd, IPPROTO_TCP, TCP_KEEPIDLE, 2);
    set_int(n, C, cfd, IPPROTO_TCP, TCP_KEEPINTVL, 1);
    set_int(n, C, cfd, IPPROTO_TCP, TCP_KEEPCNT, 3);
    set_int(n, C, cfd, SOL_SOCKET, SO_KEEPALIVE, 1);
    int v = 0;
    socklen_t len = sizeof(v);
    assert_int_equal(synack_getsockopt(n->st[C], cfd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
    assert_int_equal(v, 1);
    assert_int_equal(synack_getsockopt(n->st[C], cfd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len), 0);
    assert_int_equal(v, 2);
    /* Out-of-range settings are refused. */
    int zero = 0;
    assert_int_equal(
        synack_setsockopt(n->st[C], cfd, IPPROTO_TCP, TCP_KEEPINTVL, &zero, sizeof(zero)), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(
        synack_setsockopt(n->st[C], cfd, IPPROTO_TCP, TCP_KEEPCNT, &zero, sizeof(zero)), -1);
    assert_int_equal(errno, EINVAL);

    long syn = find_pkt(n, 0, C, TH_SYN, 0);
    uint32_t snd_nxt = n->log[syn].seq + 1;

    /* A live peer answers the probes: nothing happens to the connection. */
    size_t mark = n->nlog;
    run_for(n, SYNACK_SEC(7));
    size_t probes = 0;
    for (size_t i = mark; i < n->nlog; i++)
        if (n->log[i].from == C && is_probe(&n->log[i], snd_nxt))
            probes++;
    assert_true(probes >= 2);
    assert_int_equal(count_pkts(n, mark, S, TH_ACK, 0), probes);
    assert_int_equal(tinfo(n, C, cfd).state, SYNACK_ESTABLISHED);
    assert_int_equal(so_error(n, C, cfd), 0);

    /* The server vanishes: the link is cut both ways, silently. */
    synack_time_t last_rcv = 0;
    for (size_t i = 0; i < n->nlog; i++)
        if (n->log[i].from == S)
            last_rcv = n->log[i].t + DELAY;
    set_loss(n, C, 1.0);
    set_loss(n, S, 1.0);
    mark = n->nlog;
    assert_true(wait_poll(n, C, cfd, POLLIN, SYNACK_SEC(30)));
    /* RFC 1122 4.2.3.6: probes after the idle time, every interval; the
     * connection is dropped when the last one has gone unanswered for an
     * interval too (Linux's rule): idle + cnt * intvl after the last segment. */
    assert_int_equal(now(n), last_rcv + SYNACK_SEC(2 + 3 * 1));
    synack_time_t expect = last_rcv + SYNACK_SEC(2);
    probes = 0;
    for (size_t i = mark; i < n->nlog; i++) {
        if (n->log[i].from != C || !is_probe(&n->log[i], snd_nxt))
            continue;
        assert_int_equal(n->log[i].t, expect);
        expect += SYNACK_SEC(1);
        probes++;
    }
    assert_int_equal(probes, 3);
    assert_true(poll1(n, C, cfd, 0) & POLLERR);
    uint8_t buf[4];
    assert_int_equal(synack_recv(n->st[C], cfd, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(stats(n, C)->tcp_conns_active, 0);
}

/* ---- SYN retransmission ------------------------------------------------------------ */

static void test_syn_backoff_then_etimedout(void **state)
{
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.syn_retries = 3;
    struct net *n = *state;
    net_init_cfg(n, 9, &cfg);
    int lfd = new_listener(n, PORT, 8);
    set_loss(n, C, 1.0); /* every SYN is lost */
    int cfd = new_socket(n, C);
    synack_time_t t0 = now(n);
    start_connect(n, cfd, PORT);
    assert_true(wait_poll(n, C, cfd, POLLOUT, SYNACK_SEC(120)));
    /* RFC 6298 2.1 and 5.5: 1 s, then doubling: SYNs at 0, 1, 3, 7 s, and
     * after the last one's 8 s timeout, the connection fails. */
    assert_int_equal(now(n), t0 + SYNACK_SEC(15));
    static const unsigned at[] = {0, 1, 3, 7};
    assert_int_equal(count_pkts(n, 0, C, 0, 0), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(n->log[i].from, C);
        assert_int_equal(n->log[i].flags, TH_SYN);
        assert_int_equal(n->log[i].t, t0 + SYNACK_SEC(at[i]));
        assert_int_equal(n->log[i].seq, n->log[0].seq);
    }
    assert_true(poll1(n, C, cfd, POLLOUT) & POLLERR);
    assert_int_equal(so_error(n, C, cfd), ETIMEDOUT);
    assert_int_equal(stats(n, C)->tcp_conns_active, 0);
    assert_int_equal(stats(n, S)->tcp_conns_active, 0);
    synack_close(n->st[C], cfd);
    synack_close(n->st[S], lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_unread_sends_rst, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_linger_zero, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_wr_half_close, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_send_after_fin_epipe, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_dup_last_close_sends_fin, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_dup_shutdown_acts_at_once, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_recv_zero_after_data, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_listen_backlog, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_listen_backlog_burst, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_accept_queue, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_sockname_peername, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_poll_stages, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_poll_pollout_after_shut_wr, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_eagain, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_timewait_client_closes_first, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_timewait_server_closes_first, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_timewait_reacks_fin, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_stats_conns_active, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_vanished_peer, net_setup, net_teardown),
        cmocka_unit_test_setup_teardown(test_syn_backoff_then_etimedout, net_setup, net_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
