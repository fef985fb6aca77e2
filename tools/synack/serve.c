/* `synack serve`: run a server application (apps.h) on synack, on a TUN or
 * TAP interface.  Connections are handled as the stack reports them ready
 * (synack_set_event_cb), never by scanning them all. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "cmds.h"
#include "net.h"
#include "synack/socket.h"

#define ROUND_BYTES (1024 * 1024)

struct serve {
    struct net net;
    struct app *app;
    int lfd;
    struct app_conn **conns;   /* by descriptor */
    uint32_t nconns, peak;
    uint64_t accepted, refused, finished, aborted, bytes_in, bytes_out;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: synack serve (--tun NAME | --tap NAME) --addr A.B.C.D/P [--peer A.B.C.D]\n"
            "                    [--port N] [--app APP] [OPTIONS]\n\n"
            "Runs APP on synack's TCP port N (default 80 for http, else 7, 9, 19 as the RFCs say)\n"
            "until SIGINT or SIGTERM; then closes every connection with a FIN and waits\n"
            "(--close-wait) for the closing handshakes.\n\n"
            "applications:\n"
            "  echo       send back what is received (RFC 862)\n"
            "  discard    read and drop (RFC 863)\n"
            "  chargen    send the character pattern until the client closes (RFC 864)\n"
            "  http=DIR   serve the files of DIR over HTTP/1.1 (GET, HEAD, keep-alive)\n\n"
            "  --backlog N         listen backlog (default 1024)\n"
            "%s\n"
            "example (as root):\n"
            "  synack serve --tun syn0 --addr 10.200.0.2/24 --peer 10.200.0.1 --app http=.\n"
            "  curl http://10.200.0.2/\n",
            net_opts_help);
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
    synack_close(sv->net.stack, fd);
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
        sv->nconns++;
        if (sv->nconns > sv->peak)
            sv->peak = sv->nconns;
        sv->accepted++;
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
                    "%llu refused (--max-conns); %llu bytes in, %llu bytes out\n",
            (unsigned long long)sv->accepted, sv->peak, (unsigned long long)sv->finished,
            (unsigned long long)sv->aborted, (unsigned long long)sv->refused,
            (unsigned long long)sv->bytes_in, (unsigned long long)sv->bytes_out);
}

int synack_cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        NET_LONG_OPTIONS,
        {"backlog", required_argument, 0, NET_OPT_FIRST_OWN},
        {0, 0, 0, 0},
    };
    struct net_opts o;
    net_opts_default(&o, 0);
    o.app = "echo";
    long backlog = 1024;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        int r = net_opt(&o, "serve", c, optarg);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (c == NET_OPT_FIRST_OWN) {
            char *end;
            backlog = strtol(optarg, &end, 10);
            if (*end || backlog < 1 || backlog > 4096) {
                fprintf(stderr, "synack serve: --backlog %s: want 1..4096\n", optarg);
                return 2;
            }
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
    int rc = sv.conns ? listen_on(&sv, (int)backlog) : -ENOMEM;
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
        net_round(&sv.net, sv.net.nready ? 0 : end);
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

    /* Stop: no new connections (those not yet accepted are reset), and
     * every open one closed; its unsent data still goes before the FIN. */
    synack_close(sv.net.stack, sv.lfd);
    for (uint32_t fd = 0; fd < sv.net.fd_cap; fd++)
        if (sv.conns[fd])
            finish(&sv, (int)fd, APP_DONE);
    bool clean = net_wait_closed(&sv.net);
    if (!o.quiet) {
        print_summary(&sv);
        if (!clean)
            fprintf(stderr, "synack serve: %u connections still closing after %.1f s\n",
                    sv.net.open_conns, (double)o.close_wait / 1e6);
    }
    status = 0;
out:
    net_stop(&sv.net);
    free(sv.conns);
    app_free(sv.app);
    return status;
}
