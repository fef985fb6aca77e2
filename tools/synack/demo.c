/* `synack demo`: two simulated hosts, a client and a server, joined by a
 * simulated link; a scenario drives their sockets, and every packet is
 * printed as a row of a ladder diagram with both sides' states. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "demo.h"
#include "demo_loadcap.h"
#include "errname.h"
#include "opt.h"
#include "synack/sim.h"
#include "synack/socket.h"

#define CLIENT_ADDR DEMO_CLIENT_ADDR /* 192.0.2.1 (TEST-NET-1: exists only in the simulator) */
#define SERVER_ADDR DEMO_SERVER_ADDR /* 192.0.2.2 */
#define SERVER_PORT DEMO_SERVER_PORT

/* ---- nodes: a stack plus the bookkeeping the ladder needs ---------------- */

static int node_output(void *user, const uint8_t *pkt, size_t len)
{
    struct demo_host *h = user;
    return synack_sim_send(h->d->sim, h->node, pkt, len);
}

static int node_input(void *ctx, const uint8_t *pkt, size_t len, synack_time_t now)
{
    struct demo_host *h = ctx;
    struct demo *d = h->d;
    d->in_input = h->side + 1;
    /* The receipt comes before whatever the receiver sends in response. */
    uint64_t key = ++d->truth.seq;
    int rc = synack_stack_input(h->stack, pkt, len, now);
    d->in_input = 0;
    demo_sample(d, h->side);
    demo_truth_arrived(d, !h->side, pkt, len, demo_truth_state(h, pkt, len, true), false, key);
    /* The row is printed once the receiver has processed the packet, so
     * that its state column shows where the packet took it; losses of what
     * it made the receiver send follow it. */
    if (!d->quiet) {
        const struct demo_sent *ps = &d->sent[!h->side][demo_pkt_key(pkt, len)];
        const char *st[2];
        st[h->side] = demo_state(h);
        st[!h->side] = synack_tcp_state_name(ps->state);
        ladder_packet(&d->ladder, ps->at, now, !h->side, pkt, len, st[0], st[1],
                      rc == -EBADMSG ? "bad checksum, dropped" : NULL);
    }
    if (!d->in_app)
        demo_flush(d);
    return rc;
}

static synack_time_t node_next_deadline(void *ctx)
{
    struct demo_host *h = ctx;
    return synack_stack_next_deadline(h->stack);
}

static void node_advance(void *ctx, synack_time_t now)
{
    struct demo_host *h = ctx;
    synack_stack_advance(h->stack, now);
    demo_sample(h->d, h->side);
}

/* The connection each host shows in its column: the newest one that is not
 * a listener (the accepted child on the server), else the listener. */
static void on_state(void *user, uint32_t conn_id, const struct synack_conn_addr *t,
                     enum synack_tcp_state from, enum synack_tcp_state to)
{
    struct demo_host *h = user;
    struct demo *d = h->d;
    (void)t;
    if (to == SYNACK_LISTEN || (from == SYNACK_LISTEN && to == SYNACK_CLOSED)) {
        h->visited |= 1u << to;
        h->listen_state = to;
        return;
    }
    if (conn_id < h->conn_id)
        return; /* an older connection: not the one shown */
    if (to == SYNACK_CLOSED)
        demo_truth_closed(d, h->side);
    h->visited |= 1u << to;
    h->conn_id = conn_id;
    h->state = to;
    h->has_conn = true;
    /* Changes that no packet arrival explains (timers, the user's calls
     * are printed by the scenario itself) get a row of their own. */
    if (!d->in_input && !d->in_app) {
        char what[96];
        snprintf(what, sizeof(what), "%s -> %s (%s)", synack_tcp_state_name(from),
                 synack_tcp_state_name(to),
                 from == SYNACK_TIME_WAIT ? "2*MSL timer expired" : "timer");
        demo_truth_note(d, h->side, what, (uint8_t)to);
        if (!d->quiet)
            ladder_event(&d->ladder, synack_sim_now(d->sim), h->side, what, demo_state(&d->host[0]),
                     demo_state(&d->host[1]));
    }
}

const char *demo_state(const struct demo_host *h)
{
    if (h->has_conn)
        return synack_tcp_state_name(h->state);
    return synack_tcp_state_name(h->listen_state);
}

/* Packets are matched between their SENT and DELIVERED events by the IPv4
 * identification field, which each stack increments per packet. */
unsigned demo_pkt_key(const uint8_t *pkt, size_t len)
{
    return len >= 6 ? (unsigned)(pkt[4] << 8 | pkt[5]) : 0;
}

static void print_loss(struct demo *d, synack_time_t sent, synack_time_t at, int side,
                       uint8_t state, const uint8_t *pkt, size_t len, bool queue_drop)
{
    const char *st[2] = {demo_state(&d->host[0]), demo_state(&d->host[1])};
    st[side] = synack_tcp_state_name(state);
    ladder_packet(&d->ladder, sent, at, side, pkt, len, st[0], st[1],
                  queue_drop ? "dropped (queue full)" : "lost");
}

static void observer(void *user, synack_time_t now, int link, int from_node, int to_node,
                     enum synack_sim_event ev, const uint8_t *pkt, size_t len)
{
    struct demo *d = user;
    (void)link;
    (void)to_node;
    if (!d->in_app && !d->in_input && d->npending)
        demo_flush(d);
    int side = from_node == d->host[0].node ? 0 : 1;
    struct demo_sent *ps = &d->sent[side][demo_pkt_key(pkt, len)];
    switch (ev) {
    case SYNACK_SIM_SENT:
        ps->at = now;
        ps->state = d->host[side].has_conn ? d->host[side].state : d->host[side].listen_state;
        d->packets[side]++;
        demo_truth_sent(d, side, pkt, len, demo_truth_state(&d->host[side], pkt, len, false));
        break;
    case SYNACK_SIM_DROP_LOSS:
        if (d->lose_next[side]) {
            /* A scenario asked for exactly this packet to be lost. */
            d->lose_next[side] = false;
            synack_sim_link_set(d->sim, d->link, d->host[side].node, &d->link_params);
        }
        /* fall through */
    case SYNACK_SIM_DROP_QUEUE:
        d->lost[side]++;
        demo_truth_arrived(d, side, pkt, len, demo_truth_state(&d->host[!side], pkt, len, true),
                           true, 0);
        if (d->quiet)
            break;
        if ((d->in_app || d->in_input) && d->npending < (int)(sizeof(d->pending) / sizeof(d->pending[0])) &&
            len <= sizeof(d->pending[0].pkt)) {
            /* Sent from inside a socket call or while a packet is processed:
             * keep the row until the call's own, or the packet's. */
            struct demo_pending *p = &d->pending[d->npending++];
            *p = (struct demo_pending){ps->at, now, side, ps->state,
                                       ev == SYNACK_SIM_DROP_QUEUE, len, {0}};
            memcpy(p->pkt, pkt, len);
            break;
        }
        print_loss(d, ps->at, now, side, ps->state, pkt, len, ev == SYNACK_SIM_DROP_QUEUE);
        break;
    default:
        break;
    }
}

/* ---- running the simulation until something holds ---------------------- */

struct wait_ctx {
    struct demo *d;
    bool (*cond)(struct demo *d, const void *arg);
    const void *arg;
};

static bool wait_done(void *user)
{
    struct wait_ctx *w = user;
    return w->cond(w->d, w->arg);
}

bool demo_run_until(struct demo *d, bool (*cond)(struct demo *, const void *), const void *arg,
                    synack_time_t max_wait)
{
    struct wait_ctx w = {d, cond, arg};
    if (cond(d, arg))
        return true;
    return synack_sim_run_while(d->sim, wait_done, &w, synack_sim_now(d->sim) + max_wait);
}

static bool cond_readable(struct demo *d, const void *arg)
{
    const struct demo_fd *f = arg;
    struct pollfd p = {.fd = f->fd, .events = POLLIN};
    return synack_poll(d->host[f->side].stack, &p, 1) > 0;
}

static bool cond_writable(struct demo *d, const void *arg)
{
    const struct demo_fd *f = arg;
    struct pollfd p = {.fd = f->fd, .events = POLLOUT};
    return synack_poll(d->host[f->side].stack, &p, 1) > 0;
}

bool demo_wait_readable(struct demo *d, int side, int fd)
{
    struct demo_fd f = {side, fd};
    return demo_run_until(d, cond_readable, &f, SYNACK_SEC(120));
}

bool demo_wait_writable(struct demo *d, int side, int fd)
{
    struct demo_fd f = {side, fd};
    return demo_run_until(d, cond_writable, &f, SYNACK_SEC(120));
}

/* Let everything in flight and every timer run out (TIME-WAIT included). */
void demo_settle(struct demo *d)
{
    synack_sim_run_while(d->sim, NULL, NULL, synack_sim_now(d->sim) + SYNACK_SEC(600));
}

/* A user call, printed as an event row with the state it leaves behind. */
void demo_app(struct demo *d, int side, const char *fmt_what, long result, int err)
{
    char what[128];
    if (result < 0)
        snprintf(what, sizeof(what), "%s = -1 %s", fmt_what,
                 synack_errname(err) ? synack_errname(err) : strerror(err));
    else
        snprintf(what, sizeof(what), "%s = %ld", fmt_what, result);
    demo_truth_note(d, side, what, (uint8_t)(d->host[side].has_conn ? d->host[side].state
                                                                    : d->host[side].listen_state));
    demo_sample(d, side);
    if (d->quiet)
        return;
    ladder_event(&d->ladder, synack_sim_now(d->sim), side, what, demo_state(&d->host[0]),
                 demo_state(&d->host[1]));
    demo_flush(d);
}

void demo_flush(struct demo *d)
{
    for (int i = 0; i < d->npending; i++) {
        const struct demo_pending *p = &d->pending[i];
        print_loss(d, p->sent, p->at, p->side, p->state, p->pkt, p->len, p->queue_drop);
    }
    d->npending = 0;
}

/* ---- set-up and the command ------------------------------------------- */

static int host_init(struct demo *d, int side, uint32_t addr, uint64_t seed)
{
    static const struct synack_sim_node_ops ops = {node_input, node_next_deadline, node_advance};
    struct demo_host *h = &d->host[side];
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = addr;
    cfg.seed = seed;
    cfg.on_state = on_state;
    cfg.on_state_user = h;
    cfg.msl = d->msl;
    h->d = d;
    h->side = side;
    int rc = synack_stack_new(&cfg, node_output, h, &h->stack);
    if (rc < 0)
        return rc;
    rc = synack_sim_add_node(d->sim, addr, &ops, h);
    if (rc < 0)
        return rc;
    h->node = rc;
    return 0;
}

struct sockaddr_in demo_addr(uint32_t addr, uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(addr);
    sin.sin_port = htons(port);
    return sin;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: synack demo [--scenario NAME] [--pcap FILE] [--loss P] [--seed N]\n"
            "                   [--delay MS] [--msl SEC] [--quiet] [--bytes N] [--dup P]\n"
            "                   [--reorder P] [--corrupt P] [--rate R] [--cc reno|cubic]\n"
            "                   [--connections N] [--concurrency N]\n"
            "                   [--states FILE] [--svg FILE] [--html FILE] [--all]\n"
            "                   [--plot time-seq|window|rtt|cwnd FILE] [--series FILE]\n"
            "                   [--series-max N]\n\n"
            "Two simulated hosts, client 192.0.2.1 and server 192.0.2.2, on a link with a\n"
            "one-way delay (default 10 ms).  Each packet is a row of the ladder: when it\n"
            "was sent and arrived, its flags, relative seq and ack, window and length, and\n"
            "each side's state after it.  No root needed: nothing leaves the process.\n\n"
            "  --scenario NAME  one of:\n");
    for (const struct demo_scenario *sc = demo_scenarios; sc->name; sc++)
        fprintf(f, "                     %-18s %s\n", sc->name, sc->help);
    fprintf(f, "  --pcap FILE      write the capture (open it with Wireshark or tshark);\n"
               "                   time-wait-storm and syn-flood keep their first 16\n"
               "                   connections (syn-flood: those the server kept state for),\n"
               "                   --states and the pictures too (no --series, --plot cwnd)\n"
               "  --loss P         random loss on the link, percent 0..100 (default 0)\n"
               "  --seed N         seed of every random choice (default 1)\n"
               "  --delay MS       one-way delay, 0..10000 (default 10)\n"
               "  --msl SEC        maximum segment lifetime, 0.001..3600; TIME-WAIT is 2*MSL\n"
               "                   (default 30)\n"
               "  --quiet          only the summary\n"
               "  --dup P          packets duplicated, percent 0..100 (default 0)\n"
               "  --reorder P      packets held back by 2*delay+1 ms, percent 0..100 (default 0)\n"
               "  --corrupt P      packets with one bit flipped, percent 0..100 (default 0)\n"
               "  --states FILE    each packet's true sender and receiver state (the format\n"
               "                   of `synack trace --states`)\n"
               "  --rate R         link rate in bit/s, suffix K, M or G (x1000; default:\n"
               "                   no serialisation delay)\n"
               "  transfer only:\n"
               "  --bytes N        bytes the client sends, suffix K, M or G (x1024; default 1M)\n"
               "  --cc NAME        congestion control of the sender: reno or cubic\n"
               "  time-wait-storm only:\n"
               "  --connections N  connections to open and close (default 1000000)\n"
               "  --concurrency N  client connections open at once (default 1000)\n"
               "pictures (the client and server drawn from the demo's capture):\n");
    fputs(own_draw_help, f);
}

/* A number with an optional K, M or G suffix (powers of `unit`); false when
 * malformed, negative or not below `max`. */
static bool parse_scaled(const char *arg, double unit, double max, double *out)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg)
        return false;
    switch (*end) {
    case 'k': case 'K': v *= unit; end++; break;
    case 'm': case 'M': v *= unit * unit; end++; break;
    case 'g': case 'G': v *= unit * unit * unit; end++; break;
    default: break;
    }
    if (*end || !(v >= 0 && v < max))
        return false;
    *out = v;
    return true;
}

int synack_cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"scenario", required_argument, 0, 's'}, {"pcap", required_argument, 0, 'p'},
        {"loss", required_argument, 0, 'l'},     {"seed", required_argument, 0, 'S'},
        {"delay", required_argument, 0, 'd'},    {"msl", required_argument, 0, 'm'},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {"bytes", required_argument, 0, 'b'},    {"dup", required_argument, 0, 'D'},
        {"reorder", required_argument, 0, 'R'},  {"corrupt", required_argument, 0, 'C'},
        {"rate", required_argument, 0, 'r'},     {"cc", required_argument, 0, 'c'},
        {"connections", required_argument, 0, 'N'}, {"concurrency", required_argument, 0, 'K'},
        {"states", required_argument, 0, 'T'},   {"svg", required_argument, 0, 'G'},
        {"html", required_argument, 0, 'W'},     {"all", no_argument, 0, 'A'},
        {"plot", required_argument, 0, 'P'},     {"series", required_argument, 0, 'X'},
        {"series-max", required_argument, 0, 'M'},
        {0, 0, 0, 0},
    };
    const char *scenario = "handshake-close", *pcap = NULL, *cc = NULL;
    const char *states_path = NULL;
    struct own_draw_opts draw;
    memset(&draw, 0, sizeof(draw));
    double loss = 0, delay_ms = 10, msl_s = 30, dup = 0, reorder = 0, corrupt = 0, rate = 0;
    double bytes = 1024 * 1024;
    unsigned long long connections = 1000000, concurrency = 1000;
    unsigned long long seed = 1;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        bool ok = true;
        unsigned long ul;
        switch (c) {
        case 's': scenario = optarg; break;
        case 'p': pcap = optarg; break;
        /* Percentages, 0..100 (a trailing % allowed), as everywhere. */
        case 'l': ok = opt_percent("demo", "loss", optarg, &loss); loss *= 100; break;
        case 'D': ok = opt_percent("demo", "dup", optarg, &dup); dup *= 100; break;
        case 'R': ok = opt_percent("demo", "reorder", optarg, &reorder); reorder *= 100; break;
        case 'C': ok = opt_percent("demo", "corrupt", optarg, &corrupt); corrupt *= 100; break;
        case 'S':
            ok = opt_ulong("demo", "seed", optarg, 0, ULONG_MAX, &ul);
            seed = ul;
            break;
        case 'd': ok = opt_double("demo", "delay", optarg, 0, 10000, "milliseconds", &delay_ms); break;
        case 'm': ok = opt_double("demo", "msl", optarg, 0.001, 3600, "seconds", &msl_s); break;
        case 'q': quiet = true; break;
        case 'T': states_path = optarg; break;
        case 'G': draw.svg = optarg; break;
        case 'W': draw.html = optarg; break;
        case 'A': draw.all = true; break;
        case 'P': ok = own_draw_plot_opt(&draw, "demo", optarg, argc, argv, &optind); break;
        case 'X': draw.series = optarg; break;
        case 'M': ok = own_draw_series_max_opt(&draw, "demo", optarg); break;
        case 'b':
            /* Whole bytes, binary multiples: 1M = 1048576; at most 1 TiB. */
            if (!parse_scaled(optarg, 1024, 1099511627777.0, &bytes) ||
                bytes != (double)(uint64_t)bytes)
                ok = opt_bad("demo", "bytes", optarg, "a byte count, 0..1T (4096, 64K, 1G)");
            break;
        case 'r':
            if (!parse_scaled(optarg, 1000, 1e13, &rate) || rate < 1000)
                ok = opt_bad("demo", "rate", optarg, "bit/s, 1K..10T (100M, 1G)");
            break;
        case 'c':
            if (strcmp(optarg, "reno") && strcmp(optarg, "cubic"))
                ok = opt_bad("demo", "cc", optarg, "reno or cubic");
            cc = optarg;
            break;
        case 'N':
            ok = opt_ulong("demo", "connections", optarg, 1, 100000000, &ul);
            connections = ul;
            break;
        case 'K':
            ok = opt_ulong("demo", "concurrency", optarg, 1, 20000, &ul);
            concurrency = ul;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (!ok)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "synack demo: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    const struct demo_scenario *sc = demo_scenarios;
    while (sc->name && strcmp(sc->name, scenario))
        sc++;
    if (!sc->name) {
        fprintf(stderr, "synack demo: unknown scenario '%s'\n\n", scenario);
        usage(stderr);
        return 2;
    }
    bool cwnd_plot = false;
    for (int i = 0; i < draw.nplot; i++)
        cwnd_plot |= draw.plot_kind[i] == TRACE_PLOT_CWND;
    if ((sc->alone || sc->own_summary) && (draw.series || cwnd_plot)) {
        fprintf(stderr, "synack demo: %s keeps no stack series (--series, --plot cwnd); its\n"
                        "pictures show its first %d connections\n",
                sc->name, LOADCAP_CONNS);
        return 2;
    }
    if (sc->alone)
        return sc->alone(seed, delay_ms, quiet, pcap, states_path, &draw);

    struct demo *d = calloc(1, sizeof(*d));
    if (!d)
        return 1;
    d->quiet = quiet;
    d->msl = (synack_time_t)(msl_s * 1e6);
    d->bytes = (uint64_t)bytes;
    d->cc = cc;
    d->connections = connections;
    d->concurrency = (uint32_t)concurrency;
    d->states_path = states_path;
    d->draw = draw;
    if (sc->own_summary) {
        /* Its own network: --pcap, --states and the pictures keep its first
         * connections (demo_loadcap.h). */
        d->load_pcap = pcap;
        d->load_states = states_path;
        d->states_path = NULL;
        pcap = NULL;
        d->draw_load = draw;
        memset(&d->draw, 0, sizeof(d->draw));
    }
    if (own_draw_sampling(&d->draw)) {
        d->series = malloc(sizeof(*d->series));
        if (!d->series) {
            free(d);
            return 1;
        }
        stack_series_init(d->series, draw.series_max);
    }
    /* The pictures are drawn from the demo's capture: a temporary one when
     * --pcap was not given. */
    char tmp_pcap[] = "/tmp/synack-demo-XXXXXX";
    bool tmp_used = false;
    if (own_draw_wanted(&d->draw) && !pcap) {
        int fd = mkstemp(tmp_pcap);
        if (fd < 0) {
            fprintf(stderr, "synack demo: cannot create a temporary capture\n");
            demo_free(d);
            return 1;
        }
        close(fd);
        pcap = tmp_pcap;
        tmp_used = true;
    }
    int rc = synack_sim_new(seed, &d->sim);
    if (rc == 0)
        rc = host_init(d, 0, CLIENT_ADDR, synack_sim_random(d->sim));
    if (rc == 0)
        rc = host_init(d, 1, SERVER_ADDR, synack_sim_random(d->sim));
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = (synack_time_t)(delay_ms * 1000);
    lp.loss = loss / 100.0;
    lp.dup = dup / 100.0;
    lp.reorder = reorder / 100.0;
    lp.corrupt = corrupt / 100.0;
    lp.rate_bps = (uint64_t)rate;
    d->link_params = lp;
    if (rc == 0)
        rc = d->link = synack_sim_link(d->sim, d->host[0].node, d->host[1].node, &lp, &lp);
    if (rc >= 0 && pcap && (rc = synack_sim_pcap(d->sim, d->link, pcap)) < 0) {
        fprintf(stderr, "synack demo: --pcap %s: %s\n", pcap, synack_strerror(rc));
        demo_free(d);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "synack demo: set-up failed: %s\n", synack_strerror(rc));
        if (tmp_used)
            unlink(tmp_pcap);
        demo_free(d);
        return 1;
    }
    synack_sim_set_observer(d->sim, observer, d);
    ladder_init(&d->ladder, stdout, "client", CLIENT_ADDR, "server", SERVER_ADDR);
    if (!quiet) {
        printf("synack demo --scenario %s: %s\n", sc->name, sc->help);
        printf("client 192.0.2.1, server 192.0.2.2 port %d; one-way delay %.1f ms, loss %.1f%%, "
               "seed %llu, MSL %.0f s\n",
               SERVER_PORT, delay_ms, loss, seed, msl_s);
        if (dup > 0 || reorder > 0 || corrupt > 0 || rate > 0) {
            printf("duplication %.1f%%, reordering %.1f%%, corruption %.1f%%, ", dup, reorder,
                   corrupt);
            if (rate > 0)
                printf("rate %g Mbit/s\n", rate / 1e6);
            else
                printf("rate unlimited\n");
        }
        printf("\n");
        if (!sc->own_summary)
            ladder_header(&d->ladder);
    }
    int result = sc->run(d);
    if (!sc->own_summary)
        demo_summary(d, sc, result);
    if (d->last_line[0])
        printf("%s\n", d->last_line);
    /* Freeing the simulator closes (flushes) the capture. */
    synack_sim_free(d->sim);
    d->sim = NULL;
    if (demo_draw_finish(d, pcap) < 0)
        result = 1;
    if (tmp_used)
        unlink(tmp_pcap);
    demo_free(d);
    return result == 0 ? 0 : 1;
}

void demo_free(struct demo *d)
{
    if (d->sim)
        synack_sim_free(d->sim);
    for (int i = 0; i < 2; i++)
        if (d->host[i].stack)
            synack_stack_free(d->host[i].stack);
    demo_truth_free(d);
    free(d);
}
