/* `synack serve`: run a server application (apps.h) on synack, on a TUN or
 * TAP interface.  Connections are handled as the stack reports them ready
 * (synack_set_event_cb), never by scanning them all.
 *
 * Defaults a server should have: the connection limit follows memory
 * (net_default_max_conns); a connection idle for --idle-timeout is closed
 * (an LRU list by last activity: O(1) per event, the oldest checked first);
 * a connection over the limit is refused visibly, with a RST, and counted. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "cmds.h"
#include "net.h"
#include "net_draw.h"
#include "opt.h"
#include "synack/socket.h"

#define ROUND_BYTES (1024 * 1024)

/* Last activity of a connection, in an LRU list of descriptors. */
struct idle {
    synack_time_t last;
    int prev, next;            /* -1: none */
    uint64_t seen;             /* c->in + c->out when last seen */
};

struct serve {
    struct net net;
    struct app *app;
    int lfd;
    struct app_conn **conns;   /* by descriptor */
    struct idle *idle;         /* by descriptor */
    int lru_head, lru_tail;    /* least recently active first */
    synack_time_t idle_timeout; /* 0: never */
    uint8_t *closing;          /* at exit, by descriptor: FIN sent, waiting for the peer's */
    uint32_t nconns, peak;
    uint64_t accepted, refused, finished, aborted, timed_out, bytes_in, bytes_out;
};

static void lru_unlink(struct serve *sv, int fd)
{
    struct idle *e = &sv->idle[fd];
    if (e->prev >= 0)
        sv->idle[e->prev].next = e->next;
    else if (sv->lru_head == fd)
        sv->lru_head = e->next;
    if (e->next >= 0)
        sv->idle[e->next].prev = e->prev;
    else if (sv->lru_tail == fd)
        sv->lru_tail = e->prev;
    e->prev = e->next = -1;
}

/* fd was active now: to the tail. */
static void lru_touch(struct serve *sv, int fd)
{
    lru_unlink(sv, fd);
    struct idle *e = &sv->idle[fd];
    e->last = net_now();
    e->prev = sv->lru_tail;
    if (sv->lru_tail >= 0)
        sv->idle[sv->lru_tail].next = fd;
    else
        sv->lru_head = fd;
    sv->lru_tail = fd;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: synack serve (--tun NAME | --tap NAME) --addr A.B.C.D/P [--peer A.B.C.D]\n"
            "                    [--port N] [--app APP] [OPTIONS]\n\n"
            "Runs APP on synack's TCP port N (default 80 for http, else 7, 9, 19 as the RFCs say)\n"
            "until SIGINT or SIGTERM; then closes every connection with a FIN and waits\n"
            "(--close-wait) for the closing handshakes; a connection still open then (or at\n"
            "a second signal) is reset, so that no client is left waiting.\n\n"
            "applications:\n"
            "  echo       send back what is received (RFC 862)\n"
            "  discard    read and drop (RFC 863)\n"
            "  chargen    send the character pattern until the client closes (RFC 864)\n"
            "  http=DIR   serve the files of DIR over HTTP/1.1 (GET, HEAD, keep-alive)\n\n"
            "  --port N            the port, 1..65535 (default: the application's, above)\n"
            "  --backlog N         listen backlog, 1..4096 (default 1024)\n"
            "  --idle-timeout SEC  close a connection idle this long (default 60; 0: never)\n"
            "%s%s\n"
            "example (as root):\n"
            "  synack serve --tun syn0 --addr 10.200.0.2/24 --peer 10.200.0.1 --app http=.\n"
            "  curl http://10.200.0.2/\n",
            net_opts_help, own_draw_help);
}

static void finish(struct serve *sv, int fd, enum app_status st)
{
    struct app_conn *c = sv->conns[fd];
    sv->bytes_in += c->in;
    sv->bytes_out += c->out;
    if (st == APP_ABORT) {
        sv->aborted++;
        if (!sv->net.o.quiet && c->err != ECONNRESET && c->err != EPIPE) {
            char e[96];
            fprintf(stderr, "synack serve: connection %d: %s\n", fd, net_errstr(e, sizeof(e), c->err));
        }
    } else {
        sv->finished++;
    }
    app_close(sv->app, c);
    sv->conns[fd] = NULL;
    sv->nconns--;
    lru_unlink(sv, fd);
    if (!sv->closing || !sv->closing[fd])
        synack_close(sv->net.stack, fd);
}

/* A connection being closed at exit: read and drop what the peer still
 * sends.  Returns true (and closes the descriptor) once the peer's FIN or
 * an error has come. */
static bool drain(struct serve *sv, int fd)
{
    static uint8_t sink[65536];
    ssize_t n;
    while ((n = synack_recv(sv->net.stack, fd, sink, sizeof(sink), 0)) > 0)
        ;
    if (n < 0 && errno == EAGAIN)
        return false;
    sv->closing[fd] = 0;
    synack_close(sv->net.stack, fd);
    return true;
}

/* SIGINT/SIGTERM: no new connections (those not yet accepted are reset
 * with the listener); every open one gets its FIN after its unsent data,
 * and what the peer still sends is read and dropped until its FIN.  One
 * that has not finished within --close-wait (at once after a second
 * signal) is reset with SO_LINGER {1, 0}, so that no peer is left waiting
 * on a half-closed connection.  Returns how many were reset. */
static uint32_t stop_all(struct serve *sv)
{
    struct synack_stack *s = sv->net.stack;
    synack_close(s, sv->lfd);
    sv->closing = calloc(sv->net.fd_cap, 1);
    uint32_t open = 0;
    for (uint32_t fd = 0; fd < sv->net.fd_cap; fd++) {
        if (!sv->conns[fd])
            continue;
        if (sv->closing)
            sv->closing[fd] = 1;
        finish(sv, (int)fd, APP_DONE);
        if (!sv->closing)
            continue; /* no memory to track it: a plain close */
        synack_shutdown(s, (int)fd, SHUT_WR);
        open += !drain(sv, (int)fd);
    }
    synack_time_t deadline = net_now() + sv->net.o.close_wait;
    while (open > 0 && sv->net.o.close_wait > 0 && net_now() < deadline) {
        net_round(&sv->net, deadline);
        int fd;
        while ((fd = net_next_ready(&sv->net)) >= 0)
            if ((uint32_t)fd < sv->net.fd_cap && sv->closing[fd] && drain(sv, fd))
                open--;
    }
    uint32_t reset = 0;
    struct linger abort_close = {1, 0};
    for (uint32_t fd = 0; open > 0 && fd < sv->net.fd_cap; fd++) {
        if (!sv->closing[fd])
            continue;
        synack_setsockopt(s, (int)fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
        synack_close(s, (int)fd);
        sv->closing[fd] = 0;
        reset++;
        open--;
    }
    return reset;
}

/* Close the connections idle for --idle-timeout (with a FIN, as a
 * keep-alive timeout does); returns when the next one is due. */
static synack_time_t expire_idle(struct serve *sv)
{
    if (!sv->idle_timeout)
        return SYNACK_TIME_NEVER;
    synack_time_t now = net_now();
    while (sv->lru_head >= 0) {
        int fd = sv->lru_head;
        if (sv->idle[fd].last + sv->idle_timeout > now)
            return sv->idle[fd].last + sv->idle_timeout;
        sv->timed_out++;
        finish(sv, fd, APP_DONE);
    }
    return SYNACK_TIME_NEVER;
}

/* Let the connection's application work; returns the bytes it sent. */
static uint64_t handle(struct serve *sv, int fd)
{
    if ((uint32_t)fd >= sv->net.fd_cap || !sv->conns[fd])
        return 0; /* closed since it was reported */
    struct app_conn *c = sv->conns[fd];
    uint64_t before = c->out;
    enum app_status st = app_step(sv->app, c, sv->net.stack, fd);
    uint64_t sent = c->out - before;
    if (c->in + c->out != sv->idle[fd].seen) {
        sv->idle[fd].seen = c->in + c->out;
        lru_touch(sv, fd);
    }
    if (st == APP_AGAIN)
        net_mark_ready(&sv->net, fd);
    else if (st == APP_DONE || st == APP_ABORT)
        finish(sv, fd, st);
    return sent;
}

static void accept_all(struct serve *sv)
{
    for (;;) {
        int fd = synack_accept(sv->net.stack, sv->lfd, NULL, NULL);
        if (fd < 0)
            return;
        struct app_conn *c = NULL;
        if (sv->nconns < sv->net.o.max_conns && (uint32_t)fd < sv->net.fd_cap)
            c = app_open(sv->app);
        if (!c) {
            /* Refused visibly: a RST (SO_LINGER {1, 0}), counted. */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            synack_setsockopt(sv->net.stack, fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            sv->refused++;
            synack_close(sv->net.stack, fd);
            continue;
        }
        /* Request/response traffic: a response's last small segment should
         * not wait for the ACK of the previous one (Nagle). */
        if (strcmp(app_name(sv->app), "http") == 0 || strcmp(app_name(sv->app), "echo") == 0) {
            int one = 1;
            synack_setsockopt(sv->net.stack, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        sv->conns[fd] = c;
        sv->idle[fd] = (struct idle){.prev = -1, .next = -1};
        lru_touch(sv, fd);
        sv->nconns++;
        if (sv->nconns > sv->peak)
            sv->peak = sv->nconns;
        sv->accepted++;
        net_draw_watch(sv->net.draw, sv->net.stack, fd);
        /* Data may have come with the handshake, before there was a
         * descriptor to report it on. */
        handle(sv, fd);
    }
}

static int listen_on(struct serve *sv, int backlog)
{
    struct synack_stack *s = sv->net.stack;
    sv->lfd = synack_socket(s, AF_INET, SOCK_STREAM, 0);
    if (sv->lfd < 0)
        return -errno;
    int one = 1;
    synack_setsockopt(s, sv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(sv->net.o.addr);
    sin.sin_port = htons(sv->net.o.port);
    if (synack_bind(s, sv->lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        synack_listen(s, sv->lfd, backlog) < 0)
        return -errno;
    return 0;
}

static void print_summary(const struct serve *sv)
{
    fprintf(stderr, "synack serve: %llu connections, %u at once: %llu finished, %llu aborted, "
                    "%llu refused with RST (--max-conns), %llu closed idle (--idle-timeout); "
                    "%llu bytes in, %llu bytes out\n",
            (unsigned long long)sv->accepted, sv->peak, (unsigned long long)sv->finished,
            (unsigned long long)sv->aborted, (unsigned long long)sv->refused,
            (unsigned long long)sv->timed_out,
            (unsigned long long)sv->bytes_in, (unsigned long long)sv->bytes_out);
}

int synack_cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        NET_LONG_OPTIONS,
        {"backlog", required_argument, 0, NET_OPT_FIRST_OWN},
        {"idle-timeout", required_argument, 0, NET_OPT_FIRST_OWN + 1},
        {0, 0, 0, 0},
    };
    struct net_opts o;
    net_opts_default(&o, 0);
    o.app = "echo";
    long backlog = 1024;
    double idle_s = 60;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        int r = net_opt(&o, "serve", c, optarg, argc, argv, &optind);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (c == NET_OPT_FIRST_OWN) {
            unsigned long v;
            if (!opt_ulong("serve", "backlog", optarg, 1, 4096, &v))
                return 2;
            backlog = (long)v;
        } else if (c == NET_OPT_FIRST_OWN + 1) {
            /* 0: never */
            if (!opt_double("serve", "idle-timeout", optarg, 0, 86400 * 365, "seconds", &idle_s))
                return 2;
        } else if (c == 'h' || c == NET_OPT_HELP) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "try 'synack serve --help'\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "synack serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (net_opts_check(&o, "serve") < 0)
        return 2;

    struct serve sv;
    memset(&sv, 0, sizeof(sv));
    sv.lru_head = sv.lru_tail = -1;
    sv.idle_timeout = (synack_time_t)(idle_s * 1e6);
    if (app_new(o.app, &sv.app) < 0)
        return 2;
    if (o.port == 0) {
        const char *name = app_name(sv.app);
        o.port = !strcmp(name, "http") ? 80 : !strcmp(name, "discard") ? 9
                 : !strcmp(name, "chargen") ? 19 : 7;
    }
    int status = 1;
    if (net_start(&sv.net, "serve", &o) < 0)
        goto out;
    sv.conns = calloc(sv.net.fd_cap, sizeof(*sv.conns));
    sv.idle = calloc(sv.net.fd_cap, sizeof(*sv.idle));
    int rc = sv.conns && sv.idle ? listen_on(&sv, (int)backlog) : -ENOMEM;
    if (rc < 0) {
        char e[96];
        fprintf(stderr, "synack serve: cannot listen on port %u: %s\n", o.port,
                net_errstr(e, sizeof(e), rc));
        goto out;
    }
    if (!o.quiet) {
        fprintf(stderr, "synack serve: %s on %u.%u.%u.%u:%u, interface %s (%s, MTU %u)",
                app_name(sv.app), o.addr >> 24, (o.addr >> 16) & 255, (o.addr >> 8) & 255,
                o.addr & 255, o.port, synack_dev_name(sv.net.dev),
                o.kind == SYNACK_DEV_TAP ? "TAP" : "TUN", o.mtu);
        if (o.peer)
            fprintf(stderr, ", kernel side %u.%u.%u.%u/%u", o.peer >> 24, (o.peer >> 16) & 255,
                    (o.peer >> 8) & 255, o.peer & 255, o.prefix);
        fprintf(stderr, "\n");
        fflush(stderr);
    }

    synack_time_t end = o.timeout ? net_now() + o.timeout : SYNACK_TIME_NEVER;
    while (!sv.net.stop && net_now() < end) {
        synack_time_t next_idle = expire_idle(&sv);
        net_round(&sv.net, sv.net.nready ? 0 : next_idle < end ? next_idle : end);
        /* Only those ready now (one that asks to go again waits its turn),
         * and only ROUND_BYTES of output before the loop reads the device
         * again: the kernel answers a burst with ACKs, which wait in the
         * interface's queue until synack reads them, and a queue that
         * overflows loses them. */
        uint64_t out = 0;
        for (uint32_t k = sv.net.nready; k > 0 && out < ROUND_BYTES; k--) {
            int fd = net_next_ready(&sv.net);
            if (fd == sv.lfd)
                accept_all(&sv);
            else
                out += handle(&sv, fd);
        }
    }

    uint32_t reset = stop_all(&sv);
    bool clean = net_wait_closed(&sv.net);
    if (!o.quiet) {
        print_summary(&sv);
        if (reset)
            fprintf(stderr, "synack serve: %u connections reset: not closed within --close-wait %.1f s\n",
                    reset, (double)o.close_wait / 1e6);
        if (!clean)
            fprintf(stderr, "synack serve: %u connections still closing after %.1f s\n",
                    sv.net.open_conns, (double)o.close_wait / 1e6);
    }
    status = 0;
out:
    net_stop(&sv.net);
    free(sv.conns);
    free(sv.idle);
    free(sv.closing);
    app_free(sv.app);
    return status;
}
