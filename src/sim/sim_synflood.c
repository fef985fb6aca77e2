/* The SYN-flood scenario (RFC 4987): a listener under a flood of SYNs from
 * spoofed sources that never answer, while legitimate clients connect and
 * move data; then, after the flood, more clients, to see that cookies stop.
 * Used by `synack demo --scenario syn-flood` and tests/sim/test_synflood.c.
 *
 *   flooder 198.51.100.1 --- server 192.0.2.2 --- clients 192.0.2.10..13
 *
 * The flooder is a plain node that writes SYNs with random sources from
 * 100.64.0.0/10 (no link leads there: the server's SYN-ACKs are lost, as
 * a spoofed flood's are), spread evenly over the flood's duration.  Each
 * legitimate connection sends `bytes` of a pattern, the server checks and
 * echoes them, the client checks the echo and closes: a connection counts
 * as completed only when every byte came back intact. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "synack/sim.h"
#include "synack/socket.h"

#define FLOOD_ADDR 0xc6336401u  /* 198.51.100.1 */
#define SERVER_ADDR 0xc0000202u /* 192.0.2.2 */
#define CLIENT_ADDR 0xc000020au /* 192.0.2.10 + i */
#define NCLIENT_STACKS 4
#define SERVER_PORT 80

struct legit {
    int stack;                 /* which client stack */
    int cfd, sfd;              /* -1: none yet / any more */
    uint16_t cport;
    synack_time_t start;
    uint32_t sent, srv_got, srv_sent, got;
    synack_time_t finished;
    bool started, failed, done, queued;
};

#define MAX_FD 8192 /* descriptors the event maps cover */

struct flood;
struct side { struct flood *f; int stack; }; /* stack: client index, or -1 for the server */

struct flood {
    const struct synack_synflood_params *p;
    struct side sides[NCLIENT_STACKS + 1];
    uint32_t *fd2legit[NCLIENT_STACKS + 1]; /* descriptor -> legit index + 1 */
    uint32_t *dirty;                        /* connections with events to look at */
    uint32_t ndirty, next_start;
    bool accept_pending;
    struct synack_sim *sim;
    struct synack_stack *server, *client[NCLIENT_STACKS];
    int flood_node, lfd;
    uint32_t flood_sent;
    synack_time_t flood_start, flood_end;
    uint32_t nlegit;
    struct legit *legit;
    uint32_t ndone;
    uint64_t cookies_at_flood_end;
    uint8_t buf[4096];
};

static uint8_t pattern(uint32_t conn, uint32_t off)
{
    return (uint8_t)(conn * 131u + off * 7u + (off >> 8));
}

/* ---- the flooder ---- */

static synack_time_t flood_due(const struct flood *f, uint32_t k)
{
    return f->flood_start + (f->flood_end - f->flood_start) * k / f->p->spoofed;
}

static int flood_input(void *ctx, const uint8_t *pkt, size_t len, synack_time_t now)
{
    (void)ctx, (void)pkt, (void)len, (void)now;
    return 0; /* it never answers */
}

/* The flooder's node also wakes the simulator when the next legitimate
 * client is due (all_done starts it after that event). */
static synack_time_t flood_next(void *ctx)
{
    const struct flood *f = ctx;
    synack_time_t t = f->flood_sent < f->p->spoofed ? flood_due(f, f->flood_sent) : SYNACK_TIME_NEVER;
    if (f->next_start < f->nlegit && f->legit[f->next_start].start < t)
        t = f->legit[f->next_start].start;
    return t;
}

static void flood_advance(void *ctx, synack_time_t now)
{
    struct flood *f = ctx;
    while (f->flood_sent < f->p->spoofed && flood_due(f, f->flood_sent) <= now) {
        uint8_t pkt[64];
        uint64_t r = synack_sim_random(f->sim);
        uint32_t src = 0x64400000u | ((uint32_t)r & 0x003fffffu); /* 100.64.0.0/10 */
        struct synack_tcp_hdr th;
        memset(&th, 0, sizeof(th));
        th.sport = (uint16_t)(1024 + (r >> 32) % 64000);
        th.dport = SERVER_PORT;
        th.seq = (uint32_t)(r >> 16);
        th.flags = SYNACK_TH_SYN;
        th.window = 64240;
        th.opts.present = SYNACK_TCPOPT_F_MSS;
        th.opts.mss = 1460;
        int n = synack_tcp_emit(pkt + SYNACK_IPV4_HDR_MIN, sizeof(pkt) - SYNACK_IPV4_HDR_MIN, &th,
                                src, SERVER_ADDR);
        struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(SYNACK_IPV4_HDR_MIN + n),
                                     .ttl = 64, .proto = SYNACK_IPPROTO_TCP,
                                     .src = src, .dst = SERVER_ADDR};
        if (n > 0 && synack_ipv4_emit(pkt, sizeof(pkt), &ip) > 0)
            synack_sim_send(f->sim, f->flood_node, pkt, SYNACK_IPV4_HDR_MIN + (size_t)n);
        f->flood_sent++;
    }
}

/* ---- the legitimate connections ---- */

static void mark(struct flood *f, uint32_t i)
{
    if (!f->legit[i].queued) {
        f->legit[i].queued = true;
        f->dirty[f->ndirty++] = i;
    }
}

static void on_event(void *user, int fd, short events, void *sock_user)
{
    const struct side *sd = user;
    struct flood *f = sd->f;
    (void)events;
    (void)sock_user;
    if (sd->stack < 0 && fd == f->lfd) {
        f->accept_pending = true;
        return;
    }
    uint32_t *map = f->fd2legit[sd->stack < 0 ? NCLIENT_STACKS : sd->stack];
    if (fd >= 0 && fd < MAX_FD && map[fd])
        mark(f, map[fd] - 1);
}

static void map_fd(struct flood *f, int stack, int fd, uint32_t i)
{
    if (fd >= 0 && fd < MAX_FD)
        f->fd2legit[stack < 0 ? NCLIENT_STACKS : stack][fd] = i + 1;
}

static void legit_fail(struct flood *f, struct legit *c)
{
    if (c->failed || c->done)
        return;
    c->failed = true;
    f->ndone++;
}

static void legit_start(struct flood *f, uint32_t i)
{
    struct legit *c = &f->legit[i];
    struct synack_stack *st = f->client[c->stack];
    c->started = true;
    c->cfd = synack_socket(st, AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SERVER_PORT),
                            .sin_addr.s_addr = htonl(SERVER_ADDR)};
    if (c->cfd < 0 || synack_fcntl(st, c->cfd, F_SETFL, O_NONBLOCK) < 0 ||
        synack_setsockopt(st, c->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        (synack_connect(st, c->cfd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)) {
        legit_fail(f, c);
        return;
    }
    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    synack_getsockname(st, c->cfd, (struct sockaddr *)&me, &len);
    c->cport = ntohs(me.sin_port);
    map_fd(f, c->stack, c->cfd, i);
    mark(f, i);
}

static struct legit *legit_by_peer(struct flood *f, uint32_t addr, uint16_t port)
{
    for (uint32_t i = 0; i < f->nlegit; i++)
        if (f->legit[i].started && f->legit[i].sfd < 0 && !f->legit[i].failed &&
            CLIENT_ADDR + (uint32_t)f->legit[i].stack == addr && f->legit[i].cport == port)
            return &f->legit[i];
    return NULL;
}

static void serve(struct flood *f)
{
    for (;;) {
        struct sockaddr_in a;
        socklen_t len = sizeof(a);
        int fd = synack_accept(f->server, f->lfd, (struct sockaddr *)&a, &len);
        if (fd < 0)
            break;
        struct legit *c = legit_by_peer(f, ntohl(a.sin_addr.s_addr), ntohs(a.sin_port));
        if (!c) {
            synack_close(f->server, fd); /* a spoofed source cannot get here */
            continue;
        }
        synack_fcntl(f->server, fd, F_SETFL, O_NONBLOCK);
        c->sfd = fd;
        map_fd(f, -1, fd, (uint32_t)(c - f->legit));
        mark(f, (uint32_t)(c - f->legit));
    }
}

/* Move one connection along; returns true if it made progress. */
static bool legit_step(struct flood *f, uint32_t i)
{
    struct legit *c = &f->legit[i];
    struct synack_stack *cs = f->client[c->stack];
    uint32_t total = f->p->bytes;
    bool moved = false;
    if (c->failed || c->done || !c->started)
        return false;
    /* client -> server */
    while (c->sent < total) {
        uint32_t n = total - c->sent < sizeof(f->buf) ? total - c->sent : (uint32_t)sizeof(f->buf);
        for (uint32_t k = 0; k < n; k++)
            f->buf[k] = pattern(i, c->sent + k);
        ssize_t w = synack_send(cs, c->cfd, f->buf, n, 0);
        if (w <= 0) {
            if (w < 0 && errno != EAGAIN && errno != ENOTCONN)
                legit_fail(f, c);
            break;
        }
        c->sent += (uint32_t)w;
        moved = true;
    }
    if (c->sfd >= 0) {
        /* the server checks and echoes */
        for (;;) {
            uint32_t room = c->srv_got - c->srv_sent;
            if (room > 0) {
                for (uint32_t k = 0; k < room && k < sizeof(f->buf); k++)
                    f->buf[k] = pattern(i, c->srv_sent + k);
                size_t n = room < sizeof(f->buf) ? room : sizeof(f->buf);
                ssize_t w = synack_send(f->server, c->sfd, f->buf, n, 0);
                if (w > 0) {
                    c->srv_sent += (uint32_t)w;
                    moved = true;
                    continue;
                }
                break;
            }
            ssize_t r = synack_recv(f->server, c->sfd, f->buf, sizeof(f->buf), 0);
            if (r <= 0)
                break;
            for (ssize_t k = 0; k < r; k++)
                if (f->buf[k] != pattern(i, c->srv_got + (uint32_t)k)) {
                    legit_fail(f, c);
                    return true;
                }
            c->srv_got += (uint32_t)r;
            moved = true;
        }
    }
    /* the client checks the echo */
    for (;;) {
        ssize_t r = synack_recv(cs, c->cfd, f->buf, sizeof(f->buf), 0);
        if (r < 0 && errno != EAGAIN && errno != ENOTCONN) {
            legit_fail(f, c);
            return true;
        }
        if (r <= 0)
            break;
        for (ssize_t k = 0; k < r; k++)
            if (c->got + (uint32_t)k >= total || f->buf[k] != pattern(i, c->got + (uint32_t)k)) {
                legit_fail(f, c);
                return true;
            }
        c->got += (uint32_t)r;
        moved = true;
    }
    if (c->got == total) {
        map_fd(f, c->stack, c->cfd, UINT32_MAX);
        synack_close(cs, c->cfd);
        if (c->sfd >= 0) {
            map_fd(f, -1, c->sfd, UINT32_MAX);
            synack_close(f->server, c->sfd);
        }
        c->cfd = c->sfd = -1;
        c->finished = synack_sim_now(f->sim);
        c->done = true;
        f->ndone++;
        moved = true;
    }
    return moved;
}

static bool all_done(void *user)
{
    struct flood *f = user;
    if (f->p->step_done)
        f->p->step_done(f->p->observe_user); /* the event is over; the applications follow */
    synack_time_t now = synack_sim_now(f->sim);
    while (f->next_start < f->nlegit && f->legit[f->next_start].start <= now)
        legit_start(f, f->next_start++);
    if (f->cookies_at_flood_end == UINT64_MAX && now >= f->flood_end + f->p->settle)
        f->cookies_at_flood_end = synack_stack_stats(f->server)->tcp_syncookies_sent;
    if (f->accept_pending) {
        f->accept_pending = false;
        serve(f);
    }
    /* Only connections with news: each step's calls may raise more. */
    for (int rounds = 0; f->ndirty > 0 && rounds < 64; rounds++) {
        uint32_t i = f->dirty[--f->ndirty];
        f->legit[i].queued = false;
        if (legit_step(f, i))
            mark(f, i);
    }
    return f->ndone == f->nlegit;
}

/* Starts spread evenly over the flood, then the after-flood ones. */
static synack_time_t legit_start_time(const struct flood *f, uint32_t i)
{
    const struct synack_synflood_params *p = f->p;
    if (i < p->legit)
        return f->flood_start + SYNACK_MSEC(100) +
               (f->flood_end - f->flood_start - SYNACK_MSEC(100)) * i / p->legit;
    return f->flood_end + p->settle + SYNACK_MSEC(50) * (i - p->legit);
}

void synack_synflood_params_default(struct synack_synflood_params *p)
{
    memset(p, 0, sizeof(*p));
    p->seed = 1;
    p->spoofed = 100000;
    p->legit = 200;
    p->after = 20;
    p->bytes = 8192;
    p->duration = SYNACK_SEC(10);
    p->settle = SYNACK_SEC(5);
    p->delay = SYNACK_MSEC(10);
    p->backlog = 128;
    p->syncookies = true;
}

static int setup(struct flood *f)
{
    const struct synack_synflood_params *p = f->p;
    int rc = synack_sim_new(p->seed, &f->sim);
    if (rc < 0)
        return rc;
    struct synack_config cfg;
    synack_config_init(&cfg);
    cfg.addr = SERVER_ADDR;
    cfg.syncookies = p->syncookies;
    if (p->max_syncache)
        cfg.max_syncache = p->max_syncache;
    cfg.sndbuf = cfg.rcvbuf = 64 * 1024;
    cfg.msl = SYNACK_SEC(1);
    cfg.on_state = p->on_state;
    cfg.on_state_user = p->observe_user;
    int sn = synack_sim_add_stack(f->sim, &cfg, &f->server);
    if (sn < 0)
        return sn;
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = p->delay;
    lp.rate_bps = 1000000000u;
    lp.queue_limit = 100000;
    for (int i = 0; i < NCLIENT_STACKS; i++) {
        cfg.addr = CLIENT_ADDR + (uint32_t)i;
        cfg.syncookies = true;
        cfg.max_syncache = 4096;
        int cn = synack_sim_add_stack(f->sim, &cfg, &f->client[i]);
        if (cn < 0)
            return cn;
        if ((rc = synack_sim_link(f->sim, cn, sn, &lp, NULL)) < 0)
            return rc;
    }
    if (p->observer)
        synack_sim_set_observer(f->sim, p->observer, p->observe_user);
    static const struct synack_sim_node_ops ops = {flood_input, flood_next, flood_advance};
    f->flood_node = synack_sim_add_node(f->sim, FLOOD_ADDR, &ops, f);
    if (f->flood_node < 0)
        return f->flood_node;
    if ((rc = synack_sim_link(f->sim, f->flood_node, sn, &lp, NULL)) < 0)
        return rc;
    for (int i = 0; i <= NCLIENT_STACKS; i++) {
        f->sides[i] = (struct side){f, i < NCLIENT_STACKS ? i : -1};
        synack_set_event_cb(i < NCLIENT_STACKS ? f->client[i] : f->server, on_event, &f->sides[i]);
    }
    f->lfd = synack_socket(f->server, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SERVER_PORT)};
    if (f->lfd < 0 || synack_bind(f->server, f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        synack_listen(f->server, f->lfd, p->backlog) < 0 ||
        synack_fcntl(f->server, f->lfd, F_SETFL, O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

int synack_sim_synflood(const struct synack_synflood_params *p, struct synack_synflood_result *r)
{
    if (!p || !r || p->spoofed == 0 || p->duration < SYNACK_SEC(1) || p->bytes == 0)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    struct flood f;
    memset(&f, 0, sizeof(f));
    f.p = p;
    f.flood_start = SYNACK_MSEC(10);
    f.flood_end = f.flood_start + p->duration;
    f.nlegit = p->legit + p->after;
    f.cookies_at_flood_end = UINT64_MAX;
    f.legit = calloc(f.nlegit ? f.nlegit : 1, sizeof(*f.legit));
    f.dirty = calloc(f.nlegit ? f.nlegit : 1, sizeof(*f.dirty));
    bool maps = true;
    for (int k = 0; k <= NCLIENT_STACKS; k++)
        maps = maps && (f.fd2legit[k] = calloc(MAX_FD, sizeof(uint32_t))) != NULL;
    int rc = f.legit && f.dirty && maps ? setup(&f) : -ENOMEM;
    if (rc == 0) {
        for (uint32_t i = 0; i < f.nlegit; i++) {
            f.legit[i].stack = (int)(i % NCLIENT_STACKS);
            f.legit[i].cfd = f.legit[i].sfd = -1;
            f.legit[i].start = legit_start_time(&f, i);
        }
        synack_time_t limit = f.flood_end + p->settle + SYNACK_MSEC(50) * p->after + SYNACK_SEC(60);
        synack_sim_run_while(f.sim, all_done, &f, limit);
        const struct synack_stack_stats *st = synack_stack_stats(f.server);
        r->server = *st;
        r->spoofed_sent = f.flood_sent;
        for (uint32_t i = 0; i < f.nlegit; i++) {
            bool ok = f.legit[i].done && !f.legit[i].failed;
            if (i < p->legit) {
                r->legit_total++;
                r->legit_done += ok;
                r->legit_fast += ok && f.legit[i].finished - f.legit[i].start <= SYNACK_SEC(1);
            } else {
                r->after_total++;
                r->after_done += ok;
            }
        }
        r->cookies_sent = st->tcp_syncookies_sent;
        r->cookies_after_flood = f.cookies_at_flood_end == UINT64_MAX
                                     ? 0
                                     : st->tcp_syncookies_sent - f.cookies_at_flood_end;
        r->halfopen_peak = st->tcp_halfopen_peak;
        r->mem_peak = st->mem_peak_bytes;
        r->duration = synack_sim_now(f.sim);
    }
    if (f.sim)
        synack_sim_free(f.sim);
    for (int k = 0; k <= NCLIENT_STACKS; k++)
        free(f.fd2legit[k]);
    free(f.dirty);
    free(f.legit);
    return rc;
}
