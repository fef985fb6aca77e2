/* The TIME-WAIT storm (see storm.h). */
#include "storm.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"

#define C 0 /* the clients' host */
#define S 1 /* the server */
#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 80
#define MAXMSG 1024

enum { FREE = 0, CONNECTING, WAITING, SERVING };

struct side {
    struct synack_stack *st;
    uint8_t *state;   /* per descriptor */
    uint32_t *got;    /* bytes received so far */
    uint8_t *queued;  /* on the ready list */
    int *ready;
    uint32_t nready, cap;
};

struct storm {
    const struct storm_params *p;
    struct storm_result *r;
    struct synack_sim *sim;
    struct side side[2];
    int lfd;
    uint32_t open;     /* client connections in progress */
    uint64_t started;
    uint8_t msg[MAXMSG];
};

static void push(struct side *sd, int fd)
{
    if (fd < 0 || (uint32_t)fd >= sd->cap || sd->queued[fd])
        return;
    sd->queued[fd] = 1;
    sd->ready[sd->nready++] = fd;
}

/* The event callback only notes the descriptor; the work is done after the
 * simulator's step, outside the stack. */
#ifdef SYNACK_CONFIG_VERSION
static void on_event_c(void *u, int fd, short ev, void *su)
{
    (void)ev, (void)su;
    push(&((struct storm *)u)->side[C], fd);
}
static void on_event_s(void *u, int fd, short ev, void *su)
{
    (void)ev, (void)su;
    push(&((struct storm *)u)->side[S], fd);
}
#else
static void on_event_c(void *u, int fd, short ev)
{
    (void)ev;
    push(&((struct storm *)u)->side[C], fd);
}
static void on_event_s(void *u, int fd, short ev)
{
    (void)ev;
    push(&((struct storm *)u)->side[S], fd);
}
#endif

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sockaddr_in storm_sin(uint32_t addr, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(addr);
    a.sin_port = htons(port);
    return a;
}

static short revents(struct side *sd, int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT};
    synack_poll(sd->st, &pfd, 1);
    return pfd.revents;
}

static void finish(struct storm *w, int fd, bool ok)
{
    struct side *sd = &w->side[C];
    sd->state[fd] = FREE;
    synack_close(sd->st, fd);
    w->open--;
    if (ok)
        w->r->completed++;
    else
        w->r->refused++;
}

static int start_one(struct storm *w)
{
    struct side *sd = &w->side[C];
    int fd = synack_socket(sd->st, AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || (uint32_t)fd >= sd->cap) {
        if (fd >= 0)
            synack_close(sd->st, fd);
        return -1;
    }
    struct sockaddr_in a = storm_sin(SADDR, PORT);
    w->started++;
    w->open++;
    sd->state[fd] = CONNECTING;
    sd->got[fd] = 0;
    if (synack_connect(sd->st, fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
        finish(w, fd, false);
    return 0;
}

static void client_ready(struct storm *w, int fd)
{
    struct side *sd = &w->side[C];
    if (sd->state[fd] == CONNECTING) {
        short ev = revents(sd, fd);
        if (ev & (POLLERR | POLLHUP)) {
            finish(w, fd, false);
            return;
        }
        if (!(ev & POLLOUT))
            return;
        if (synack_send(sd->st, fd, w->msg, w->p->request, 0) != (ssize_t)w->p->request) {
            finish(w, fd, false);
            return;
        }
        sd->state[fd] = WAITING;
    }
    if (sd->state[fd] != WAITING)
        return;
    for (;;) {
        uint8_t buf[MAXMSG];
        ssize_t n = synack_recv(sd->st, fd, buf, sizeof(buf), 0);
        if (n > 0) {
            sd->got[fd] += (uint32_t)n;
            continue;
        }
        if (n == 0)
            finish(w, fd, sd->got[fd] == w->p->reply); /* the server closed first */
        else if (errno != EAGAIN)
            finish(w, fd, false);
        return;
    }
}

static void server_ready(struct storm *w, int fd)
{
    struct side *sd = &w->side[S];
    if (fd == w->lfd) {
        for (;;) {
            int c = synack_accept(sd->st, w->lfd, NULL, NULL);
            if (c < 0)
                break;
            if ((uint32_t)c >= sd->cap) {
                synack_close(sd->st, c);
                continue;
            }
            sd->state[c] = SERVING;
            sd->got[c] = 0;
            push(sd, c); /* the request may be there already */
        }
        return;
    }
    if (sd->state[fd] != SERVING)
        return;
    for (;;) {
        uint8_t buf[MAXMSG];
        ssize_t n = synack_recv(sd->st, fd, buf, sizeof(buf), 0);
        if (n > 0) {
            sd->got[fd] += (uint32_t)n;
            if (sd->got[fd] < w->p->request)
                continue;
            /* The reply, then the server closes first (HTTP/1.0 without keep-alive). */
            synack_send(sd->st, fd, w->msg, w->p->reply, 0);
        } else if (n < 0 && errno == EAGAIN) {
            return;
        }
        sd->state[fd] = FREE;
        synack_close(sd->st, fd);
        return;
    }
}

static void drain(struct storm *w)
{
    for (int k = 0; k < 2; k++) {
        struct side *sd = &w->side[k];
        for (uint32_t i = 0; i < sd->nready; i++) {
            int fd = sd->ready[i];
            sd->queued[fd] = 0;
            if (k == C)
                client_ready(w, fd);
            else
                server_ready(w, fd);
        }
        sd->nready = 0;
    }
}

static void step_done(struct storm *w)
{
    if (w->p->hooks && w->p->hooks->step_done)
        w->p->hooks->step_done(w->p->hooks->user);
}

static int side_init(struct side *sd, uint32_t cap)
{
    sd->cap = cap;
    sd->state = calloc(cap, 1);
    sd->queued = calloc(cap, 1);
    sd->got = calloc(cap, sizeof(*sd->got));
    sd->ready = calloc(cap, sizeof(*sd->ready));
    return sd->state && sd->queued && sd->got && sd->ready ? 0 : -ENOMEM;
}

static void side_free(struct side *sd)
{
    free(sd->state);
    free(sd->queued);
    free(sd->got);
    free(sd->ready);
}

/* One more connection once the storm is over: the server still accepts. */
static bool one_more(struct storm *w)
{
    uint64_t done = w->r->completed, refused = w->r->refused;
    if (start_one(w) < 0)
        return false;
    synack_time_t until = synack_sim_now(w->sim) + SYNACK_SEC(10);
    while (w->r->completed == done && w->open > 0 && synack_sim_now(w->sim) < until) {
        drain(w);
        if (!synack_sim_step(w->sim))
            break;
        step_done(w);
    }
    drain(w);
    bool ok = w->r->completed > done;
    /* Not part of the count asked for. */
    w->r->completed = done;
    w->r->refused = refused;
    return ok;
}

int storm_open_idle(struct synack_sim *sim, struct synack_stack *c, struct synack_stack *s,
                    uint32_t saddr, const int *lfd, int nports, uint16_t port0, uint16_t cport0,
                    uint32_t ncports, uint64_t first, uint64_t count, int *cfd, int *sfd)
{
    const uint64_t batch_max = 2000;
    int one = 1;
    for (uint64_t done = 0; done < count;) {
        uint64_t batch = count - done < batch_max ? count - done : batch_max;
        synack_stack_advance(c, synack_sim_now(sim));
        for (uint64_t k = 0; k < batch; k++) {
            uint64_t i = first + done + k;
            int fd = synack_socket(c, AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in b = storm_sin(0, (uint16_t)(cport0 + i % ncports));
            struct sockaddr_in a = storm_sin(saddr, (uint16_t)(port0 + i / ncports));
            if (fd < 0 || synack_setsockopt(c, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
                synack_bind(c, fd, (struct sockaddr *)&b, sizeof(b)) < 0 ||
                (synack_connect(c, fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS))
                return -errno;
            if (cfd)
                cfd[done + k] = fd;
        }
        uint64_t got = 0;
        synack_time_t limit = synack_sim_now(sim) + SYNACK_SEC(30);
        while (got < batch) {
            for (int p = 0; p < nports; p++) {
                int fd;
                while ((fd = synack_accept(s, lfd[p], NULL, NULL)) >= 0) {
                    if (sfd)
                        sfd[done + got] = fd;
                    got++;
                }
            }
            if (got < batch && (!synack_sim_step(sim) || synack_sim_now(sim) > limit))
                return -ETIMEDOUT;
        }
        done += batch;
    }
    /* Let the last ACKs land. */
    synack_sim_run_until(sim, synack_sim_now(sim) + SYNACK_MSEC(10));
    return 0;
}

int storm_run(const struct storm_params *p, struct storm_result *r)
{
    struct storm w;
    memset(&w, 0, sizeof(w));
    memset(r, 0, sizeof(*r));
    w.p = p;
    w.r = r;
    memset(w.msg, 'x', sizeof(w.msg));
    if (p->request == 0 || p->request > MAXMSG || p->reply > MAXMSG || p->concurrency == 0)
        return -EINVAL;
    uint32_t cap = p->concurrency * 2 + 4096;
    int rc = synack_sim_new(p->seed, &w.sim);
    if (rc < 0)
        return rc;
    for (int k = 0; k < 2 && rc >= 0; k++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = k == C ? CADDR : SADDR;
        cfg.seed = 0; /* from the simulator's PRNG */
        if (p->msl)
            cfg.msl = p->msl;
        if (p->hooks && p->hooks->on_state) {
            cfg.on_state = p->hooks->on_state;
            cfg.on_state_user = p->hooks->user;
        }
#ifdef SYNACK_HAVE_STACK_MEMORY
        if (k == S && p->max_timewait)
            cfg.max_timewait = p->max_timewait;
#endif
        rc = side_init(&w.side[k], cap);
        if (rc == 0)
            rc = synack_sim_add_stack(w.sim, &cfg, &w.side[k].st);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = p->delay;
    lp.queue_limit = 1u << 20;
    if (rc >= 0)
        rc = synack_sim_link(w.sim, 0, 1, &lp, &lp);
    if (rc < 0)
        goto out;
    if (p->hooks && p->hooks->observer)
        synack_sim_set_observer(w.sim, p->hooks->observer, p->hooks->user);
    synack_set_event_cb(w.side[C].st, on_event_c, &w);
    synack_set_event_cb(w.side[S].st, on_event_s, &w);
    w.lfd = synack_socket(w.side[S].st, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = storm_sin(SADDR, PORT);
    if (w.lfd < 0 || synack_bind(w.side[S].st, w.lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        synack_listen(w.side[S].st, w.lfd, 4096) < 0) {
        rc = -errno;
        goto out;
    }
    double t0 = wall();
    while (r->completed + r->refused < p->connections) {
        while (w.open < p->concurrency && w.started < p->connections)
            if (start_one(&w) < 0)
                break;
        drain(&w);
        if (r->completed + r->refused >= p->connections)
            break;
        if (!synack_sim_step(w.sim))
            break; /* nothing pending at all: stuck */
        step_done(&w);
    }
    drain(&w);
    r->wall_s = wall() - t0;
    r->sim_time = synack_sim_now(w.sim);
    r->refused += p->connections - (r->completed + r->refused); /* never finished */
    r->still_accepts = one_more(&w);
#ifdef SYNACK_HAVE_STACK_MEMORY
    struct synack_stack_memory m;
    synack_stack_memory(w.side[S].st, &m);
    r->peak_timewait = m.timewait_peak;
    r->peak_mem = m.peak;
    r->tw_evicted = synack_stack_stats(w.side[S].st)->tcp_tw_evicted;
#endif
    rc = 0;
out:
    synack_sim_free(w.sim);
    side_free(&w.side[C]);
    side_free(&w.side[S]);
    return rc;
}
