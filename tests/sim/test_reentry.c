/* Re-entry: every public call made from inside the event callback, for
 * every kind of event, must be safe (no use after free, no lost state) and
 * leave a stack that still serves.  Events are delivered at the end of the
 * public call that caused them (src/tcp/tcp_conn.c: sn_tcp_events_flush),
 * frees are deferred to that point, and a synack_stack_free() asked for from
 * a callback happens when the outermost call returns.
 *
 * For each (call, event kind) pair, a fresh client and server joined by the
 * simulator run a scenario that produces every kind of event on the
 * client's side (connected, readable, data acknowledged, peer's FIN, reset,
 * refused, timed out) and on the server's (a connection to accept, readable,
 * peer's FIN); the callback makes the call the first time an event of that
 * kind arrives.  Run under ASan by the README's test command, which is where
 * a use after free shows.  Afterwards the pair must still complete a fresh
 * connection and carry data. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"
#include "synack/wire.h"

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 80
#define C 0
#define S 1

enum kind {
    K_ACCEPTABLE, /* server: the listener has a connection to accept */
    K_CONNECTED,  /* client: connect() completed */
    K_READABLE,   /* data to read */
    K_ACKED,      /* client: sent data acknowledged (writable) */
    K_FIN,        /* the peer's FIN (POLLRDHUP) */
    K_RESET,      /* client: the peer reset the connection */
    K_REFUSED,    /* client: connect() refused */
    K_TIMEOUT,    /* client: the peer vanished, retransmissions gave up */
    K_N
};
static const char *const kind_names[K_N] = {"acceptable", "connected", "readable", "acked",
                                            "fin",        "reset",     "refused",  "timeout"};

enum call {
    X_SOCKET, X_BIND, X_LISTEN, X_ACCEPT, X_CONNECT, X_SEND, X_SEND_OOB, X_RECV, X_RECV_PEEK,
    X_SHUT_RD, X_SHUT_WR, X_SHUT_RDWR, X_CLOSE, X_CLOSE_LINGER0, X_CLOSE_OTHER, X_DUP,
    X_SETSOCKOPT, X_GETSOCKOPT, X_GETNAMES, X_FCNTL, X_POLL, X_SOCKATMARK, X_ADVANCE,
    X_INPUT, X_SET_EVENT_CB, X_STACK_FREE, X_N
};
static const char *const call_names[X_N] = {
    "socket",    "bind",       "listen",       "accept",  "connect",    "send",
    "send-oob",  "recv",       "recv-peek",    "shut-rd", "shut-wr",    "shut-rdwr",
    "close",     "close-linger0", "close-other", "dup",   "setsockopt", "getsockopt",
    "getnames",  "fcntl",      "poll",         "sockatmark", "advance", "input",
    "set-event-cb", "stack-free"};

struct net;
struct side {
    struct net *n;
    int who;
};

struct net {
    struct synack_sim *sim;
    struct synack_stack *st[2];
    int node[2], link;
    struct side side[2];
    int lfd, cfd, sfd;   /* listener, client, accepted */
    int other;           /* a second client socket (for close-other) */
    enum call call;
    enum kind kind;
    bool done;           /* the call was made */
    bool freed[2];       /* the callback freed that stack */
    unsigned seen[K_N];  /* events of each kind delivered */
    unsigned depth;      /* callbacks in progress (must stay 0 or 1) */
    int phase;           /* which error the scenario is provoking: K_REFUSED, K_RESET, K_TIMEOUT */
    uint8_t last_pkt[128];
    size_t last_len;
};

static struct sockaddr_in addr_of(uint32_t ip, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(ip)};
    return a;
}

static void observer(void *user, synack_time_t now, int link, int from_node, int to_node,
                     enum synack_sim_event ev, const uint8_t *buf, size_t len)
{
    struct net *n = user;
    (void)now, (void)link, (void)from_node, (void)to_node;
    if (ev == SYNACK_SIM_SENT && len <= sizeof(n->last_pkt)) {
        memcpy(n->last_pkt, buf, len);
        n->last_len = len;
    }
}

/* Which kind of event this is, from the side, the descriptor and the bits. */
static int classify(struct net *n, int who, int fd, short ev)
{
    if (who == S && fd == n->lfd)
        return (ev & POLLIN) ? K_ACCEPTABLE : -1;
    if (ev & POLLERR) {
        /* Look without consuming the error: TCP_INFO shows the state. */
        struct synack_tcp_info info;
        socklen_t ilen = sizeof(info);
        synack_getsockopt(n->st[who], fd, IPPROTO_TCP, TCP_INFO, &info, &ilen);
        return who == C && info.state == SYNACK_CLOSED ? n->phase : -1;
    }
    if (ev & SYNACK_POLLRDHUP)
        return K_FIN;
    if (ev & POLLIN)
        return K_READABLE;
    if (who == C && fd == n->cfd && (ev & POLLOUT))
        return n->seen[K_CONNECTED] ? K_ACKED : K_CONNECTED;
    return -1;
}

static void on_event(void *user, int fd, short ev, void *sock_user);

/* The call under test, on the descriptor that got the event. */
static void make_call(struct net *n, int who, int fd)
{
    struct synack_stack *s = n->st[who];
    char buf[256];
    memset(buf, 'x', sizeof(buf));
    int one = 1;
    socklen_t len;
    struct sockaddr_in a = addr_of(0, 0);
    switch (n->call) {
    case X_SOCKET: {
        int f = synack_socket(s, AF_INET, SOCK_STREAM, 0);
        assert_true(f >= 0);
        break;
    }
    case X_BIND:
        a = addr_of(0, 0);
        (void)synack_bind(s, fd, (struct sockaddr *)&a, sizeof(a));
        break;
    case X_LISTEN: (void)synack_listen(s, fd, 4); break;
    case X_ACCEPT: {
        len = sizeof(a);
        int f = synack_accept(s, n->lfd >= 0 && who == S ? n->lfd : fd, (struct sockaddr *)&a, &len);
        if (f >= 0 && who == S && n->sfd < 0)
            n->sfd = f;
        break;
    }
    case X_CONNECT:
        a = addr_of(who == C ? SADDR : CADDR, PORT);
        (void)synack_connect(s, fd, (struct sockaddr *)&a, sizeof(a));
        break;
    case X_SEND: (void)synack_send(s, fd, buf, sizeof(buf), 0); break;
    case X_SEND_OOB: (void)synack_send(s, fd, buf, 3, MSG_OOB); break;
    case X_RECV: (void)synack_recv(s, fd, buf, sizeof(buf), 0); break;
    case X_RECV_PEEK: (void)synack_recv(s, fd, buf, sizeof(buf), MSG_PEEK); break;
    case X_SHUT_RD: (void)synack_shutdown(s, fd, SHUT_RD); break;
    case X_SHUT_WR: (void)synack_shutdown(s, fd, SHUT_WR); break;
    case X_SHUT_RDWR: (void)synack_shutdown(s, fd, SHUT_RDWR); break;
    case X_CLOSE_LINGER0: {
        struct linger lg = {1, 0};
        synack_setsockopt(s, fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
        /* fall through */
    case X_CLOSE:
        assert_int_equal(synack_close(s, fd), 0);
        if (fd == n->lfd) n->lfd = -1;
        if (fd == n->cfd) n->cfd = -1;
        if (fd == n->sfd) n->sfd = -1;
        /* The descriptor is gone at once, whatever is still queued. */
        assert_int_equal(synack_close(s, fd), -1);
        assert_int_equal(errno, EBADF);
        break;
    case X_CLOSE_OTHER:
        /* Close every other descriptor of this stack from one callback. */
        for (int f = 3; f < 16; f++)
            if (f != fd && synack_close(s, f) == 0) {
                if (f == n->lfd) n->lfd = -1;
                if (f == n->cfd) n->cfd = -1;
                if (f == n->sfd) n->sfd = -1;
                if (f == n->other) n->other = -1;
            }
        break;
    case X_DUP: {
        int f = synack_dup(s, fd);
        assert_true(f >= 0);
        assert_int_equal(synack_close(s, fd), 0); /* the duplicate carries on */
        if (fd == n->lfd) n->lfd = f;
        if (fd == n->cfd) n->cfd = f;
        if (fd == n->sfd) n->sfd = f;
        break;
    }
    case X_SETSOCKOPT:
        (void)synack_setsockopt(s, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void)synack_setsockopt(s, fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        (void)synack_setsockopt(s, fd, IPPROTO_TCP, TCP_CONGESTION, "newreno", 7);
        one = 1 << 20;
        (void)synack_setsockopt(s, fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
        break;
    case X_GETSOCKOPT: {
        struct synack_tcp_info info;
        len = sizeof(info);
        assert_int_equal(synack_getsockopt(s, fd, IPPROTO_TCP, TCP_INFO, &info, &len), 0);
        len = sizeof(one);
        assert_int_equal(synack_getsockopt(s, fd, SOL_SOCKET, SO_ERROR, &one, &len), 0);
        break;
    }
    case X_GETNAMES:
        len = sizeof(a);
        assert_int_equal(synack_getsockname(s, fd, (struct sockaddr *)&a, &len), 0);
        len = sizeof(a);
        (void)synack_getpeername(s, fd, (struct sockaddr *)&a, &len);
        break;
    case X_FCNTL:
        assert_true(synack_fcntl(s, fd, F_SETFL, O_NONBLOCK) == 0);
        assert_true(synack_fcntl(s, fd, F_GETFL, 0) & O_NONBLOCK);
        break;
    case X_POLL: {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN | POLLOUT}, {.fd = 99, .events = POLLIN}};
        assert_true(synack_poll(s, p, 2) >= 1);
        assert_int_equal(p[1].revents, POLLNVAL);
        break;
    }
    case X_SOCKATMARK: assert_true(synack_sockatmark(s, fd) >= 0); break;
    case X_ADVANCE:
        /* Time moves inside the callback: timers fire (nested), events queue. */
        synack_stack_advance(s, synack_stack_now(s) + SYNACK_MSEC(300));
        break;
    case X_INPUT:
        /* A packet fed in from the callback: the last one on the link, again. */
        if (n->last_len > 0)
            (void)synack_stack_input(s, n->last_pkt, n->last_len, synack_stack_now(s));
        break;
    case X_SET_EVENT_CB:
        synack_set_event_cb(s, NULL, NULL);
        synack_set_event_cb(s, on_event, &n->side[who]);
        break;
    case X_STACK_FREE: /* test_stack_free_from_callback */
        break;
    case X_N: break;
    }
}

static void on_event(void *user, int fd, short ev, void *sock_user)
{
    struct side *sd = user;
    struct net *n = sd->n;
    (void)sock_user;
    assert_false(n->freed[sd->who]);
    assert_int_equal(n->depth, 0); /* never nested inside another callback */
    int k = classify(n, sd->who, fd, ev);
    if (k < 0)
        return;
    n->seen[k]++;
    if (n->done || (enum kind)k != n->kind)
        return;
    n->done = true;
    n->depth++;
    make_call(n, sd->who, fd);
    n->depth--;
}

/* A stack freed from its callback must not be run again (the matrix leaves
 * synack_stack_free to test_stack_free_from_callback, whose stacks are not
 * the simulator's). */
static bool stacks_alive(const struct net *n) { return !n->freed[C] && !n->freed[S]; }

static void net_init(struct net *n, enum call call, enum kind kind)
{
    memset(n, 0, sizeof(*n));
    n->call = call;
    n->kind = kind;
    n->lfd = n->cfd = n->sfd = n->other = -1;
    assert_int_equal(synack_sim_new(7, &n->sim), 0);
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.msl = SYNACK_SEC(1);
    cfg.data_retries = 3;
    uint32_t addrs[2] = {CADDR, SADDR};
    for (int i = 0; i < 2; i++) {
        cfg.addr = addrs[i];
        cfg.seed = 100 + (uint64_t)i;
        n->node[i] = synack_sim_add_stack(n->sim, &cfg, &n->st[i]);
        assert_true(n->node[i] >= 0);
        n->side[i] = (struct side){n, i};
        synack_set_event_cb(n->st[i], on_event, &n->side[i]);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(5);
    n->link = synack_sim_link(n->sim, n->node[C], n->node[S], &lp, &lp);
    assert_true(n->link >= 0);
    synack_sim_set_observer(n->sim, observer, n);
}

/* Run the simulator a while, unless a stack was freed (then the scenario
 * stops: the simulator would hand packets to it). */
static void run(struct net *n, synack_time_t dt)
{
    if (stacks_alive(n))
        synack_sim_run_until(n->sim, synack_sim_now(n->sim) + dt);
}

static int connect_to(struct net *n, uint16_t port)
{
    int fd = synack_socket(n->st[C], AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = addr_of(SADDR, port);
    assert_int_equal(synack_connect(n->st[C], fd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
    return fd;
}

/* Everything that can happen to a connection, in an order that lets each
 * kind of event occur once when the callback does nothing. */
static void scenario(struct net *n)
{
    char buf[4096];
    memset(buf, 'a', sizeof(buf));
    n->lfd = synack_socket(n->st[S], AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = addr_of(SADDR, PORT);
    assert_int_equal(synack_bind(n->st[S], n->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(n->st[S], n->lfd, 8), 0);
    n->other = synack_socket(n->st[C], AF_INET, SOCK_STREAM, 0);

    /* Refused: nobody listens on port 81. */
    n->phase = K_REFUSED;
    int rfd = connect_to(n, 81);
    run(n, SYNACK_MSEC(50));
    if (stacks_alive(n))
        synack_close(n->st[C], rfd);

    /* Connected, acceptable, readable both ways, acknowledged. */
    n->cfd = connect_to(n, PORT);
    run(n, SYNACK_MSEC(50));
    if (!stacks_alive(n))
        return;
    if (n->sfd < 0 && n->lfd >= 0)
        n->sfd = synack_accept(n->st[S], n->lfd, NULL, NULL);
    if (n->cfd >= 0)
        synack_send(n->st[C], n->cfd, buf, 1000, 0);
    if (n->sfd >= 0)
        synack_send(n->st[S], n->sfd, buf, 1000, 0);
    run(n, SYNACK_MSEC(100));
    if (!stacks_alive(n))
        return;

    /* The server closes: the client sees the FIN (and the server the client's, after). */
    if (n->sfd >= 0) {
        char drain[4096];
        synack_recv(n->st[S], n->sfd, drain, sizeof(drain), 0);
        synack_shutdown(n->st[S], n->sfd, SHUT_WR);
    }
    run(n, SYNACK_MSEC(100));
    if (!stacks_alive(n))
        return;
    if (n->cfd >= 0)
        synack_shutdown(n->st[C], n->cfd, SHUT_WR);
    run(n, SYNACK_MSEC(100));
    if (!stacks_alive(n))
        return;

    /* Reset: a second connection the server aborts (SO_LINGER 0). */
    n->phase = K_RESET;
    int keep_cfd = n->cfd;
    n->cfd = connect_to(n, PORT);
    run(n, SYNACK_MSEC(50));
    if (!stacks_alive(n))
        return;
    int s2 = n->lfd >= 0 ? synack_accept(n->st[S], n->lfd, NULL, NULL) : -1;
    if (s2 >= 0) {
        struct linger lg = {1, 0};
        synack_setsockopt(n->st[S], s2, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        synack_close(n->st[S], s2);
    }
    run(n, SYNACK_MSEC(50));
    if (!stacks_alive(n))
        return;
    if (n->cfd >= 0)
        synack_close(n->st[C], n->cfd);
    if (keep_cfd >= 0 && keep_cfd != n->cfd)
        synack_close(n->st[C], keep_cfd);

    /* Timeout: a third connection whose peer vanishes (link down). */
    n->phase = K_TIMEOUT;
    n->cfd = connect_to(n, PORT);
    run(n, SYNACK_MSEC(50));
    if (!stacks_alive(n))
        return;
    struct synack_link_params down;
    synack_link_params_default(&down);
    down.delay = SYNACK_MSEC(5);
    down.loss = 1.0;
    synack_sim_link_set(n->sim, n->link, n->node[C], &down);
    if (n->cfd >= 0)
        synack_send(n->st[C], n->cfd, buf, 100, 0);
    run(n, SYNACK_SEC(60));
    if (!stacks_alive(n))
        return;
    struct synack_link_params up;
    synack_link_params_default(&up);
    up.delay = SYNACK_MSEC(5);
    synack_sim_link_set(n->sim, n->link, n->node[C], &up);
    run(n, SYNACK_SEC(5));
}

/* After the scenario: the survivors still serve a fresh connection. */
static void still_serving(struct net *n)
{
    if (!stacks_alive(n))
        return;
    synack_set_event_cb(n->st[C], NULL, NULL);
    synack_set_event_cb(n->st[S], NULL, NULL);
    int l = synack_socket(n->st[S], AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = addr_of(SADDR, 8080);
    assert_int_equal(synack_bind(n->st[S], l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(n->st[S], l, 4), 0);
    int c = connect_to(n, 8080);
    run(n, SYNACK_MSEC(50));
    int sfd = synack_accept(n->st[S], l, NULL, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(synack_send(n->st[C], c, "ping", 4, 0), 4);
    run(n, SYNACK_MSEC(50));
    char buf[8];
    assert_int_equal(synack_recv(n->st[S], sfd, buf, sizeof(buf), 0), 4);
    assert_memory_equal(buf, "ping", 4);
}

static void net_free(struct net *n)
{
    synack_sim_free(n->sim);
}

static void test_calls_from_every_event(void **state)
{
    (void)state;
    unsigned made = 0, pairs = 0;
    /* Sanity: with a call that does nothing visible, every kind occurs. */
    struct net n;
    net_init(&n, X_GETSOCKOPT, K_N);
    scenario(&n);
    for (int k = 0; k < K_N; k++) {
        if (n.seen[k] == 0)
            fail_msg("the scenario never produced a '%s' event", kind_names[k]);
    }
    still_serving(&n);
    net_free(&n);

    for (int c = 0; c < X_N; c++) {
        if (c == X_STACK_FREE)
            continue; /* test_stack_free_from_callback */
        for (int k = 0; k < K_N; k++) {
            net_init(&n, (enum call)c, (enum kind)k);
            scenario(&n);
            pairs++;
            if (!n.done)
                fail_msg("call %s: no '%s' event came", call_names[c], kind_names[k]);
            made++;
            still_serving(&n);
            net_free(&n);
        }
    }
    print_message("%u calls made from inside %u (call, event) pairs: %d calls x %d kinds\n", made,
                  pairs, X_N - 1, K_N);
    assert_int_equal(made, (X_N - 1) * K_N);
}

/* synack_stack_free() from a callback: the stack is released when the
 * outermost call (here synack_stack_input via the simulator, or advance)
 * returns, and nothing touches it afterwards.  Uses a stack outside the
 * simulator so that the simulator does not free it a second time. */
struct solo {
    struct synack_stack *s;
    bool freed;
    int calls;
    uint8_t pkts[8][128];
    size_t lens[8];
    int npkts;
};

static int solo_out(void *user, const uint8_t *pkt, size_t len)
{
    struct solo *so = user;
    if (so->npkts < 8 && len <= 128) {
        memcpy(so->pkts[so->npkts], pkt, len);
        so->lens[so->npkts++] = len;
    }
    return 0;
}

static void solo_event(void *user, int fd, short ev, void *sock_user)
{
    struct solo *so = user;
    (void)ev, (void)sock_user;
    so->calls++;
    synack_close(so->s, fd);
    synack_stack_free(so->s);
    so->freed = true;
}

static void test_stack_free_from_callback(void **state)
{
    (void)state;
    struct solo a = {0}, b = {0};
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = CADDR;
    assert_int_equal(synack_stack_new(&cfg, solo_out, &a, &a.s), 0);
    cfg.addr = SADDR;
    assert_int_equal(synack_stack_new(&cfg, solo_out, &b, &b.s), 0);
    int l = synack_socket(b.s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = addr_of(SADDR, PORT);
    assert_int_equal(synack_bind(b.s, l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(synack_listen(b.s, l, 4), 0);
    int c = synack_socket(a.s, AF_INET, SOCK_STREAM, 0);
    assert_int_equal(synack_connect(a.s, c, (struct sockaddr *)&sa, sizeof(sa)), -1);
    synack_set_event_cb(a.s, solo_event, &a);
    /* SYN to the server, SYN-ACK back to the client: its connect completes
     * inside synack_stack_input, whose callback closes and frees the stack. */
    assert_int_equal(a.npkts, 1);
    assert_int_equal(synack_stack_input(b.s, a.pkts[0], a.lens[0], 1000), 0);
    assert_int_equal(b.npkts, 1);
    assert_int_equal(synack_stack_input(a.s, b.pkts[0], b.lens[0], 2000), 0);
    assert_true(a.freed);
    assert_int_equal(a.calls, 1);
    /* The close went out before the stack was released: the ACK, then
     * the FIN (or a RST), both sent from inside the same call. */
    assert_true(a.npkts >= 2);
    synack_stack_free(b.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_from_every_event),
        cmocka_unit_test(test_stack_free_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
