/* `synack serve`: run a server application (apps.h) on synack, on a TUN or
 * TAP interface.  Connections are handled as the stack reports them ready
 * (synack_set_event_cb), never by scanning them all.
 *
 * Defaults a server should have: the connection limit follows memory
 * (net_default_max_conns); a connection idle for --idle-timeout is closed
 * (an LRU list by last activity: O(1) per event, the oldest checked first);
 * a connection over the limit is refused visibly, with a RST, and counted.
 *
 * --threads N: one stack per core.  The TUN interface is opened with
 * IFF_MULTI_QUEUE, one queue per thread, and each thread runs its own
 * stack, loop, application and listener on the same address and port: the
 * kernel puts each flow on one queue (a hash of its addresses and ports,
 * then the queue that last wrote the flow), so a connection's packets all
 * reach the thread that owns it and nothing is shared.  Any queue answers a
 * ping (each stack has the address).  The main thread is thread 0 and owns
 * the signals; the counters at exit are summed over the threads. */
#include <errno.h>
#include <pthread.h>
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
    uint32_t reset;            /* at exit: reset after --close-wait */
    pthread_t thread;          /* --threads: threads 1.. (0 is the main thread) */
};

#define SERVE_MAX_THREADS 64

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
            "  --threads N         TUN: N threads, one stack each on its own queue of a\n"
            "                      multi-queue interface (the kernel keeps each connection on\n"
            "                      one queue); 1..%d (default 1); --max-conns is for all of\n"
            "                      them; not with --pcap, --trace or the pictures\n"
            "%s%s\n"
            "example (as root):\n"
            "  synack serve --tun syn0 --addr 10.200.0.2/24 --peer 10.200.0.1 --app http=.\n"
            "  curl http://10.200.0.2/\n",
            SERVE_MAX_THREADS, net_opts_help, own_draw_help);
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
    uint8_t sink[16384];
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

/* `who`: "" for the whole server, "thread N: " for one of --threads. */
static void print_summary(const struct serve *sv, const char *who)
{
    fprintf(stderr, "synack serve: %s%llu connections, %u at once: %llu finished, %llu aborted, "
                    "%llu refused with RST (--max-conns), %llu closed idle (--idle-timeout); "
                    "%llu bytes in, %llu bytes out\n",
            who, (unsigned long long)sv->accepted, sv->peak, (unsigned long long)sv->finished,
            (unsigned long long)sv->aborted, (unsigned long long)sv->refused,
            (unsigned long long)sv->timed_out,
            (unsigned long long)sv->bytes_in, (unsigned long long)sv->bytes_out);
}

/* One thread's server: its loop until a signal (or --timeout), then the
 * closing at exit (stop_all, net_wait_closed). */
static void serve_loop(struct serve *sv)
{
    const struct net_opts *o = &sv->net.o;
    synack_time_t end = o->timeout ? net_now() + o->timeout : SYNACK_TIME_NEVER;
    while (!sv->net.stop && net_now() < end) {
        synack_time_t next_idle = expire_idle(sv);
        net_round(&sv->net, sv->net.nready ? 0 : next_idle < end ? next_idle : end);
        /* Only those ready now (one that asks to go again waits its turn),
         * and only ROUND_BYTES of output before the loop reads the device
         * again: the kernel answers a burst with ACKs, which wait in the
         * interface's queue until synack reads them, and a queue that
         * overflows loses them. */
        uint64_t out = 0;
        for (uint32_t k = sv->net.nready; k > 0 && out < ROUND_BYTES; k--) {
            int fd = net_next_ready(&sv->net);
            if (fd == sv->lfd)
                accept_all(sv);
            else
                out += handle(sv, fd);
        }
    }
    sv->reset = stop_all(sv);
    net_wait_closed(&sv->net); /* what is still open is in net.open_conns */
}

static void *serve_thread(void *arg)
{
    serve_loop(arg);
    return NULL;
}

int synack_cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        NET_LONG_OPTIONS,
        {"backlog", required_argument, 0, NET_OPT_FIRST_OWN},
        {"idle-timeout", required_argument, 0, NET_OPT_FIRST_OWN + 1},
        {"threads", required_argument, 0, NET_OPT_FIRST_OWN + 2},
        {0, 0, 0, 0},
    };
    struct net_opts o;
    net_opts_default(&o, 0);
    o.app = "echo";
    long backlog = 1024;
    double idle_s = 60;
    unsigned threads = 1;
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
        } else if (c == NET_OPT_FIRST_OWN + 2) {
            unsigned long v;
            if (!opt_ulong("serve", "threads", optarg, 1, SERVE_MAX_THREADS, &v))
                return 2;
            threads = (unsigned)v;
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

    if (threads > 1) {
        const char *why = o.kind == SYNACK_DEV_TAP ? "--tap (ARP would need a shared neighbour table)"
                          : o.pcap                ? "--pcap"
                          : o.trace               ? "--trace"
                          : own_draw_wanted(&o.draw) ? "the pictures"
                                                  : NULL;
        if (why) {
            fprintf(stderr, "synack serve: --threads %u does not go with %s\n", threads, why);
            return 2;
        }
        /* The limit is for the server: each queue's stack takes its share. */
        o.max_conns = (o.max_conns + threads - 1) / threads;
    }
    o.threads = threads;

    struct serve *sv = calloc(threads, sizeof(*sv));
    if (!sv)
        return 1;
    int status = 1;
    unsigned started = 0;
    for (unsigned i = 0; i < threads; i++) {
        sv[i].lru_head = sv[i].lru_tail = -1;
        sv[i].idle_timeout = (synack_time_t)(idle_s * 1e6);
        if (app_new(o.app, &sv[i].app) < 0) {
            status = 2;
            goto out;
        }
    }
    if (o.port == 0) {
        const char *name = app_name(sv[0].app);
        o.port = !strcmp(name, "http") ? 80 : !strcmp(name, "discard") ? 9
                 : !strcmp(name, "chargen") ? 19 : 7;
    }
    for (unsigned i = 0; i < threads; i++) {
        int rc = i == 0 ? net_start(&sv[0].net, "serve", &o)
                        : net_start_queue(&sv[i].net, &sv[0].net, i);
        if (rc < 0)
            goto out;
        sv[i].conns = calloc(sv[i].net.fd_cap, sizeof(*sv[i].conns));
        sv[i].idle = calloc(sv[i].net.fd_cap, sizeof(*sv[i].idle));
        rc = sv[i].conns && sv[i].idle ? listen_on(&sv[i], (int)backlog) : -ENOMEM;
        if (rc < 0) {
            char e[96];
            fprintf(stderr, "synack serve: cannot listen on port %u: %s\n", o.port,
                    net_errstr(e, sizeof(e), rc));
            goto out;
        }
    }
    /* Every queue listens: now flows may come. */
    if (threads > 1 && net_link_up(&sv[0].net) < 0)
        goto out;
    if (!o.quiet) {
        fprintf(stderr, "synack serve: %s on %u.%u.%u.%u:%u, interface %s (%s, MTU %u)",
                app_name(sv[0].app), o.addr >> 24, (o.addr >> 16) & 255, (o.addr >> 8) & 255,
                o.addr & 255, o.port, synack_dev_name(sv[0].net.dev),
                o.kind == SYNACK_DEV_TAP ? "TAP" : "TUN", o.mtu);
        if (o.peer)
            fprintf(stderr, ", kernel side %u.%u.%u.%u/%u", o.peer >> 24, (o.peer >> 16) & 255,
                    (o.peer >> 8) & 255, o.peer & 255, o.prefix);
        fprintf(stderr, "\n");
        if (threads > 1)
            fprintf(stderr, "synack serve: %u threads, each with its own stack on its own queue "
                            "of %s\n", threads, synack_dev_name(sv[0].net.dev));
        fflush(stderr);
    }

    for (started = 1; started < threads; started++) {
        int rc = pthread_create(&sv[started].thread, NULL, serve_thread, &sv[started]);
        if (rc != 0) {
            fprintf(stderr, "synack serve: cannot start thread %u: %s\n", started, strerror(rc));
            net_stop_queues(&sv[0].net);
            sv[0].net.stop = true;
            break;
        }
    }
    serve_loop(&sv[0]);
    for (unsigned i = 1; i < started; i++)
        pthread_join(sv[i].thread, NULL);

    if (!o.quiet) {
        struct serve sum;
        memset(&sum, 0, sizeof(sum));
        struct net *nets[SERVE_MAX_THREADS];
        for (unsigned i = 0; i < threads; i++) {
            if (threads > 1) {
                char who[32];
                snprintf(who, sizeof(who), "thread %u: ", i);
                print_summary(&sv[i], who);
            }
            sum.accepted += sv[i].accepted;
            sum.peak += sv[i].peak;
            sum.finished += sv[i].finished;
            sum.aborted += sv[i].aborted;
            sum.refused += sv[i].refused;
            sum.timed_out += sv[i].timed_out;
            sum.bytes_in += sv[i].bytes_in;
            sum.bytes_out += sv[i].bytes_out;
            sum.reset += sv[i].reset;
            sum.net.open_conns += sv[i].net.open_conns;
            nets[i] = &sv[i].net;
        }
        print_summary(&sum, "");
        if (sum.reset)
            fprintf(stderr, "synack serve: %u connections reset: not closed within --close-wait %.1f s\n",
                    sum.reset, (double)o.close_wait / 1e6);
        if (sum.net.open_conns)
            fprintf(stderr, "synack serve: %u connections still closing after %.1f s\n",
                    sum.net.open_conns, (double)o.close_wait / 1e6);
        net_print_counters_sum(nets, threads);
    }
    status = 0;
out:
    for (unsigned i = threads; i-- > 0;) {
        net_stop(&sv[i].net);
        free(sv[i].conns);
        free(sv[i].idle);
        free(sv[i].closing);
        app_free(sv[i].app);
    }
    free(sv);
    return status;
}
