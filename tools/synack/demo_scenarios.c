/* The scenarios of `synack demo`: each drives the two hosts' sockets through
 * one of the classic TCP conversations and checks that it ended as RFC 9293
 * says it should. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"
#include "errname.h"
#include "synack/socket.h"

#define C 0 /* client side */
#define S 1 /* server side */

static const char request[] = "GET /index.html HTTP/1.1\r\nHost: server\r\n\r\n";
static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n";

static struct synack_stack *st(struct demo *d, int side) { return d->host[side].stack; }

/* Each wrapper makes one socket call, prints it as a row, and returns its result. */
static long call_done(struct demo *d, int side, const char *what, long rc)
{
    int err = errno;
    d->in_app = false;
    demo_app(d, side, what, rc, err);
    errno = err;
    return rc;
}

static int do_socket_bind(struct demo *d, int side, uint16_t port)
{
    int fd = synack_socket(st(d, side), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0 || port == 0)
        return fd;
    struct sockaddr_in a = demo_addr(0, port);
    if (synack_bind(st(d, side), fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    return fd;
}

static int do_listen(struct demo *d)
{
    int fd = do_socket_bind(d, S, DEMO_SERVER_PORT);
    if (fd < 0)
        return -1;
    d->in_app = true;
    char what[48];
    snprintf(what, sizeof(what), "listen(%d, 8)", fd);
    return call_done(d, S, what, synack_listen(st(d, S), fd, 8)) < 0 ? -1 : fd;
}

static long do_connect(struct demo *d, int side, int fd, uint32_t addr, uint16_t port)
{
    struct sockaddr_in a = demo_addr(addr, port);
    char what[64];
    snprintf(what, sizeof(what), "connect(%d, %u.%u.%u.%u:%u)", fd, addr >> 24, addr >> 16 & 255,
             addr >> 8 & 255, addr & 255, port);
    d->in_app = true;
    long rc = call_done(d, side, what, synack_connect(st(d, side), fd, (struct sockaddr *)&a, sizeof(a)));
    demo_watch(d, side, fd);
    return rc;
}

static int do_accept(struct demo *d, int lfd)
{
    if (!demo_wait_readable(d, S, lfd))
        return -1;
    char what[32];
    snprintf(what, sizeof(what), "accept(%d)", lfd);
    d->in_app = true;
    int fd = (int)call_done(d, S, what, synack_accept(st(d, S), lfd, NULL, NULL));
    demo_watch(d, S, fd);
    return fd;
}

static long do_send(struct demo *d, int side, int fd, const void *buf, size_t len)
{
    char what[48];
    snprintf(what, sizeof(what), "send(%d, %zu bytes)", fd, len);
    d->in_app = true;
    return call_done(d, side, what, synack_send(st(d, side), fd, buf, len, 0));
}

/* Wait until readable, then one recv. */
static long do_recv(struct demo *d, int side, int fd, void *buf, size_t cap)
{
    if (!demo_wait_readable(d, side, fd)) {
        errno = ETIMEDOUT;
        return -1;
    }
    char what[48];
    snprintf(what, sizeof(what), "recv(%d)", fd);
    d->in_app = true;
    return call_done(d, side, what, synack_recv(st(d, side), fd, buf, cap, 0));
}

static long do_close(struct demo *d, int side, int fd)
{
    char what[32];
    snprintf(what, sizeof(what), "close(%d)", fd);
    d->in_app = true;
    return call_done(d, side, what, synack_close(st(d, side), fd));
}

static long do_shutdown_wr(struct demo *d, int side, int fd)
{
    char what[48];
    snprintf(what, sizeof(what), "shutdown(%d, SHUT_WR)", fd);
    d->in_app = true;
    return call_done(d, side, what, synack_shutdown(st(d, side), fd, SHUT_WR));
}

static bool visited(struct demo *d, int side, enum synack_tcp_state s)
{
    return (d->host[side].visited >> s) & 1u;
}

static int expect(bool ok, const char *what)
{
    if (!ok)
        fprintf(stdout, "  UNEXPECTED: %s\n", what);
    return ok ? 0 : 1;
}

/* Three-way handshake: server listening, client connects, server accepts. */
static int establish(struct demo *d, int *cfd, int *sfd, int *lfd)
{
    *lfd = do_listen(d);
    *cfd = do_socket_bind(d, C, 0);
    if (*lfd < 0 || *cfd < 0)
        return -1;
    do_connect(d, C, *cfd, DEMO_SERVER_ADDR, DEMO_SERVER_PORT);
    if (!demo_wait_writable(d, C, *cfd))
        return -1;
    *sfd = do_accept(d, *lfd);
    return *sfd < 0 ? -1 : 0;
}

/* A small request and its reply. */
static int exchange(struct demo *d, int cfd, int sfd)
{
    char buf[512];
    if (do_send(d, C, cfd, request, sizeof(request) - 1) < 0)
        return -1;
    if (do_recv(d, S, sfd, buf, sizeof(buf)) != (long)sizeof(request) - 1)
        return -1;
    if (do_send(d, S, sfd, reply, sizeof(reply) - 1) < 0)
        return -1;
    if (do_recv(d, C, cfd, buf, sizeof(buf)) != (long)sizeof(reply) - 1)
        return -1;
    return 0;
}

/* The side that closes first sends FIN; the other reads EOF, then closes. */
static int close_in_order(struct demo *d, int first, int ffd, int second, int sfd)
{
    char buf[64];
    do_close(d, first, ffd);
    if (do_recv(d, second, sfd, buf, sizeof(buf)) != 0)
        return -1;
    do_close(d, second, sfd);
    demo_settle(d);
    return 0;
}

static int sc_handshake_close(struct demo *d)
{
    int cfd, sfd, lfd;
    if (establish(d, &cfd, &sfd, &lfd) < 0 || exchange(d, cfd, sfd) < 0 ||
        close_in_order(d, C, cfd, S, sfd) < 0)
        return expect(false, "the conversation did not complete");
    return expect(visited(d, C, SYNACK_TIME_WAIT), "client should wait in TIME-WAIT") |
           expect(!visited(d, S, SYNACK_TIME_WAIT), "server should not wait in TIME-WAIT") |
           expect(visited(d, S, SYNACK_LAST_ACK), "server should pass LAST-ACK") |
           expect(d->host[C].state == SYNACK_CLOSED, "client should end CLOSED");
}

static int sc_server_close(struct demo *d)
{
    int cfd, sfd, lfd;
    if (establish(d, &cfd, &sfd, &lfd) < 0 || exchange(d, cfd, sfd) < 0 ||
        close_in_order(d, S, sfd, C, cfd) < 0)
        return expect(false, "the conversation did not complete");
    return expect(visited(d, S, SYNACK_TIME_WAIT), "server should wait in TIME-WAIT") |
           expect(!visited(d, C, SYNACK_TIME_WAIT), "client should not wait in TIME-WAIT") |
           expect(visited(d, C, SYNACK_CLOSE_WAIT), "client should pass CLOSE-WAIT");
}

static bool both_writable(struct demo *d, const void *arg)
{
    const int *fds = arg;
    struct pollfd p0 = {.fd = fds[0], .events = POLLOUT}, p1 = {.fd = fds[1], .events = POLLOUT};
    return synack_poll(st(d, C), &p0, 1) > 0 && synack_poll(st(d, S), &p1, 1) > 0;
}

static int sc_simultaneous_open(struct demo *d)
{
    /* No listener: each side connects to the other's bound port at once. */
    int fds[2] = {do_socket_bind(d, C, DEMO_CLIENT_PORT), do_socket_bind(d, S, DEMO_SERVER_PORT)};
    if (fds[0] < 0 || fds[1] < 0)
        return expect(false, "socket set-up failed");
    do_connect(d, C, fds[0], DEMO_SERVER_ADDR, DEMO_SERVER_PORT);
    do_connect(d, S, fds[1], DEMO_CLIENT_ADDR, DEMO_CLIENT_PORT);
    if (!demo_run_until(d, both_writable, fds, SYNACK_SEC(120)))
        return expect(false, "the simultaneous open did not complete");
    if (exchange(d, fds[0], fds[1]) < 0 || close_in_order(d, C, fds[0], S, fds[1]) < 0)
        return expect(false, "the conversation did not complete");
    return expect(visited(d, C, SYNACK_SYN_RECEIVED) && visited(d, S, SYNACK_SYN_RECEIVED),
                  "both sides should pass SYN-RECEIVED") |
           expect(!visited(d, S, SYNACK_LISTEN), "nobody listened");
}

static int sc_simultaneous_close(struct demo *d)
{
    int cfd, sfd, lfd;
    if (establish(d, &cfd, &sfd, &lfd) < 0 || exchange(d, cfd, sfd) < 0)
        return expect(false, "the conversation did not complete");
    do_close(d, C, cfd);
    do_close(d, S, sfd); /* at the same instant: the FINs cross */
    demo_settle(d);
    return expect(visited(d, C, SYNACK_CLOSING) && visited(d, S, SYNACK_CLOSING),
                  "both sides should pass CLOSING") |
           expect(visited(d, C, SYNACK_TIME_WAIT) && visited(d, S, SYNACK_TIME_WAIT),
                  "both sides should wait in TIME-WAIT");
}

static int sc_half_close(struct demo *d)
{
    int cfd, sfd, lfd;
    char buf[8192];
    static char big[3000];
    memset(big, 'x', sizeof(big));
    if (establish(d, &cfd, &sfd, &lfd) < 0)
        return expect(false, "the handshake did not complete");
    do_send(d, C, cfd, request, sizeof(request) - 1);
    do_shutdown_wr(d, C, cfd); /* FIN now; the client still reads */
    long n = do_recv(d, S, sfd, buf, sizeof(buf));
    long eof = do_recv(d, S, sfd, buf, sizeof(buf));
    /* The server answers after the client's FIN: the half-closed connection carries it. */
    do_send(d, S, sfd, big, sizeof(big));
    do_close(d, S, sfd);
    long got = 0, r;
    while ((r = do_recv(d, C, cfd, buf, sizeof(buf))) > 0)
        got += r;
    do_close(d, C, cfd);
    demo_settle(d);
    return expect(n == (long)sizeof(request) - 1 && eof == 0, "server should read the request, then EOF") |
           expect(got == (long)sizeof(big), "client should read the whole reply after its FIN") |
           expect(visited(d, C, SYNACK_FIN_WAIT_2), "client should wait in FIN-WAIT-2") |
           expect(visited(d, C, SYNACK_TIME_WAIT), "client should end in TIME-WAIT");
}

static int sc_rst_unread(struct demo *d)
{
    int cfd, sfd, lfd;
    char buf[512];
    if (establish(d, &cfd, &sfd, &lfd) < 0)
        return expect(false, "the handshake did not complete");
    do_send(d, S, sfd, reply, sizeof(reply) - 1);
    demo_wait_readable(d, C, cfd);
    do_close(d, C, cfd); /* the reply is still unread: RST, not FIN */
    long r = do_recv(d, S, sfd, buf, sizeof(buf));
    int err = errno;
    do_close(d, S, sfd);
    demo_settle(d);
    return expect(r < 0 && err == ECONNRESET, "server's recv should fail with ECONNRESET") |
           expect(!visited(d, C, SYNACK_TIME_WAIT), "an abortive close skips TIME-WAIT");
}

static int sc_linger_zero(struct demo *d)
{
    int cfd, sfd, lfd;
    char buf[512];
    if (establish(d, &cfd, &sfd, &lfd) < 0 || exchange(d, cfd, sfd) < 0)
        return expect(false, "the conversation did not complete");
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    d->in_app = true;
    call_done(d, C, "setsockopt(SO_LINGER {1, 0})",
              synack_setsockopt(st(d, C), cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
    do_close(d, C, cfd);
    long r = do_recv(d, S, sfd, buf, sizeof(buf));
    int err = errno;
    do_close(d, S, sfd);
    demo_settle(d);
    return expect(r < 0 && err == ECONNRESET, "server's recv should fail with ECONNRESET") |
           expect(!visited(d, C, SYNACK_TIME_WAIT), "SO_LINGER 0 skips TIME-WAIT");
}

static bool connect_done(struct demo *d, const void *arg)
{
    const int *fd = arg;
    struct pollfd p = {.fd = *fd, .events = POLLOUT};
    return synack_poll(st(d, C), &p, 1) > 0;
}

static int sc_refused(struct demo *d)
{
    int lfd = do_listen(d);
    int cfd = do_socket_bind(d, C, 0);
    do_connect(d, C, cfd, DEMO_SERVER_ADDR, DEMO_SERVER_PORT + 1); /* nobody listens there */
    demo_run_until(d, connect_done, &cfd, SYNACK_SEC(120));
    int err = 0;
    socklen_t len = sizeof(err);
    d->in_app = true;
    call_done(d, C, "getsockopt(SO_ERROR)",
              synack_getsockopt(st(d, C), cfd, SOL_SOCKET, SO_ERROR, &err, &len));
    if (!d->quiet)
        printf("  %-20s %-13s [client] SO_ERROR is %s (%s)\n", "", "",
               synack_errname(err) ? synack_errname(err) : "?", strerror(err));
    do_close(d, C, cfd);
    do_close(d, S, lfd);
    demo_settle(d);
    return expect(err == ECONNREFUSED, "connect should fail with ECONNREFUSED");
}

static int sc_syn_lost(struct demo *d)
{
    struct synack_link_params drop = d->link_params;
    drop.loss = 1.0;
    synack_sim_link_set(d->sim, d->link, d->host[C].node, &drop);
    d->lose_next[C] = true; /* the observer restores the link after the first loss */
    int cfd, sfd, lfd;
    if (establish(d, &cfd, &sfd, &lfd) < 0 || exchange(d, cfd, sfd) < 0 ||
        close_in_order(d, C, cfd, S, sfd) < 0)
        return expect(false, "the conversation did not complete");
    return expect(d->lost[C] >= 1, "the first SYN should be lost") |
           expect(visited(d, C, SYNACK_TIME_WAIT), "client should end in TIME-WAIT");
}

const struct demo_scenario demo_scenarios[] = {
    {"handshake-close", "open, a small request and reply, client closes first", sc_handshake_close, false, NULL},
    {"server-close", "as handshake-close, but the server closes first", sc_server_close, false, NULL},
    {"simultaneous-open", "both sides connect() at once: the SYNs cross", sc_simultaneous_open, false, NULL},
    {"simultaneous-close", "both sides close() at once: the FINs cross", sc_simultaneous_close, false, NULL},
    {"half-close", "client shutdown(SHUT_WR), still reads the server's reply", sc_half_close, false, NULL},
    {"rst-unread", "client closes with unread data: RST, not FIN", sc_rst_unread, false, NULL},
    {"linger-zero", "SO_LINGER {on, 0}: close() sends RST, no TIME-WAIT", sc_linger_zero, false, NULL},
    {"refused", "connect() to a port nobody listens on: RST, ECONNREFUSED", sc_refused, false, NULL},
    {"syn-lost", "the first SYN is lost and retransmitted after the RTO", sc_syn_lost, false, NULL},
    {"transfer", "client sends --bytes N to the server; SHA-256 checked at both ends",
     demo_transfer_run, false, NULL},
    {"time-wait-storm", "--connections N (default 1,000,000) that the server closes first; "
                        "TIME-WAIT never stops it accepting",
     demo_storm_run, true, NULL},
    {"syn-flood", "100,000 spoofed SYNs while 200 clients connect: SYN cache and cookies",
     NULL, true, demo_synflood},
    {NULL, NULL, NULL, false, NULL},
};

static void print_states(const struct demo_host *h, const char *name)
{
    printf("  %-7s states:", name);
    for (int s = 0; s < SYNACK_TCP_NSTATES; s++)
        if ((h->visited >> s) & 1u)
            printf(" %s", synack_tcp_state_name((enum synack_tcp_state)s));
    printf("\n");
}

void demo_summary(struct demo *d, const struct demo_scenario *sc, int result)
{
    demo_flush(d);
    if (!d->quiet && d->ladder.elided)
        printf("  ... %u more packets not shown\n", d->ladder.elided);
    const struct synack_stack_stats *cs = synack_stack_stats(d->host[C].stack);
    const struct synack_stack_stats *ss = synack_stack_stats(d->host[S].stack);
    printf("\nsummary (%s):\n", sc->name);
    print_states(&d->host[C], "client");
    print_states(&d->host[S], "server");
    printf("  packets: client->server %llu (lost %llu), server->client %llu (lost %llu)\n",
           (unsigned long long)d->packets[C], (unsigned long long)d->lost[C],
           (unsigned long long)d->packets[S], (unsigned long long)d->lost[S]);
    printf("  retransmissions: client %llu, server %llu; RSTs sent: client %llu, server %llu\n",
           (unsigned long long)cs->tcp_retrans, (unsigned long long)ss->tcp_retrans,
           (unsigned long long)cs->tcp_rst_out, (unsigned long long)ss->tcp_rst_out);
    printf("  virtual time: %.3f ms\n", (double)synack_sim_now(d->sim) / 1000.0);
    printf("  result: %s\n", result == 0 ? "as RFC 9293 says" : "UNEXPECTED (see above)");
}
