/* The stack's own per-connection series (see stack_series.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "stack_series.h"
#include "synack/socket.h"

void stack_series_init(struct stack_series *ss, size_t max)
{
    memset(ss, 0, sizeof(*ss));
    ss->max = max ? max : STACK_SERIES_MAX;
    if (ss->max < 16)
        ss->max = 16;
}

void stack_series_free(struct stack_series *ss)
{
    for (size_t i = 0; i < ss->n; i++)
        free(ss->c[i].s);
    memset(ss, 0, sizeof(*ss));
}

void stack_series_watch(struct stack_series *ss, struct synack_stack *st, int fd)
{
    if (fd < 0)
        return;
    /* The descriptor may have belonged to a connection followed before. */
    for (size_t i = 0; i < ss->n; i++)
        if (ss->c[i].st == st && ss->c[i].fd == fd)
            ss->c[i].open = false;
    if (ss->n == STACK_SERIES_CONNS) {
        ss->unwatched++;
        return;
    }
    struct stack_series_conn *c = &ss->c[ss->n];
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->fd = fd;
    c->open = true;
    ss->n++;
}

static void ep_of(const struct sockaddr_in *a, struct trace_ep *e)
{
    memset(e, 0, sizeof(*e));
    e->af = 4;
    memcpy(e->addr, &a->sin_addr.s_addr, 4);
    e->port = ntohs(a->sin_port);
}

/* Both ends, once the connection has them (after connect() picked a port). */
static void resolve(struct stack_series_conn *c)
{
    struct sockaddr_in a, b;
    socklen_t la = sizeof(a), lb = sizeof(b);
    if (synack_getsockname(c->st, c->fd, (struct sockaddr *)&a, &la) < 0 ||
        synack_getpeername(c->st, c->fd, (struct sockaddr *)&b, &lb) < 0 || a.sin_port == 0)
        return;
    ep_of(&a, &c->self);
    ep_of(&b, &c->peer);
    c->have_ep = true;
}

/* Thin the samples: drop every other one, except the first, the last, and
 * an episode's edges (its first sample, the one before it, which shows the
 * drop, and the first after it), so that every episode survives.
 * Should those edges alone take more than half the room, every other
 * sample goes regardless (then the oldest episodes may merge). */
static void thin(struct stack_series_conn *c, size_t max)
{
    size_t k = 0, plain = 0;
    bool prev = false;
    for (size_t i = 0; i < c->n; i++) {
        bool rec = c->s[i].recovery;
        bool edge = (i > 0 && rec != prev) || (!rec && i + 1 < c->n && c->s[i + 1].recovery);
        prev = rec;
        if (i == 0 || i + 1 == c->n || edge || plain++ % 2 == 0)
            c->s[k++] = c->s[i];
    }
    if (k > max * 3 / 4) {
        size_t j = 0;
        for (size_t i = 0; i < k; i++)
            if (i % 2 == 0 || i + 1 == k)
                c->s[j++] = c->s[i];
        k = j;
    }
    c->thinned += c->n - k;
    c->n = k;
}

static bool same(const struct trace_stack_sample *a, const struct trace_stack_sample *b)
{
    return a->cwnd == b->cwnd && a->ssthresh == b->ssthresh && a->inflight == b->inflight &&
           a->rto_us == b->rto_us && a->srtt_us == b->srtt_us && a->recovery == b->recovery;
}

/* The caller's errno survives (the calls may sit between a socket call and
 * the check of its errno). */
void stack_series_sample(struct stack_series *ss, struct synack_stack *st, uint64_t t_us)
{
    int err = errno;
    for (size_t i = 0; i < ss->n; i++) {
        struct stack_series_conn *c = &ss->c[i];
        if (!c->open || c->st != st)
            continue;
        struct synack_tcp_info ti;
        socklen_t len = sizeof(ti);
        if (synack_getsockopt(st, c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) {
            if (c->conn_id)
                c->open = false; /* closed (before the first sample: not yet connected) */
            continue;
        }
        if (c->conn_id && ti.conn_id != c->conn_id) {
            c->open = false; /* the descriptor now names another connection */
            continue;
        }
        c->conn_id = ti.conn_id;
        if (!c->have_ep)
            resolve(c);
        /* The congestion state exists once the handshake is done. */
        if (ti.state < SYNACK_ESTABLISHED || !ti.snd_cwnd)
            continue;
        struct trace_stack_sample s = {t_us, ti.snd_cwnd, ti.snd_ssthresh, ti.bytes_in_flight,
                                       ti.rto, ti.srtt, ti.ca_state != SYNACK_TCP_CA_OPEN};
        if (c->n && same(&c->s[c->n - 1], &s))
            continue;
        if (c->n == ss->max)
            thin(c, ss->max);
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            cap = cap < ss->max ? cap : ss->max;
            struct trace_stack_sample *m = realloc(c->s, cap * sizeof(*m));
            if (!m)
                continue;
            c->s = m;
            c->cap = cap;
        }
        c->s[c->n++] = s;
    }
    errno = err;
}

bool stack_series_find(const struct stack_series *ss, const struct trace_conn *c,
                       struct trace_stack_series *out)
{
    int sender = c->bytes[1] > c->bytes[0];
    bool found = false;
    for (size_t i = 0; i < ss->n; i++) {
        const struct stack_series_conn *k = &ss->c[i];
        if (!k->have_ep || !k->n)
            continue;
        for (int side = 0; side < 2; side++) {
            if (!trace_ep_eq(&k->self, &c->ep[side]) || !trace_ep_eq(&k->peer, &c->ep[!side]))
                continue;
            if (!found || side == sender) {
                *out = (struct trace_stack_series){k->s, k->n, side};
                found = true;
            }
        }
    }
    return found;
}

int stack_series_json(const struct stack_series *ss, FILE *out)
{
    for (size_t i = 0; i < ss->n; i++) {
        const struct stack_series_conn *c = &ss->c[i];
        char a[64] = "", b[64] = "";
        if (c->have_ep) {
            trace_ep_str(&c->self, a, sizeof(a));
            trace_ep_str(&c->peer, b, sizeof(b));
        }
        for (size_t k = 0; k < c->n; k++) {
            const struct trace_stack_sample *s = &c->s[k];
            fprintf(out, "{\"conn\":%zu,\"self\":\"%s\",\"peer\":\"%s\",\"t\":%.6f,\"cwnd\":%u,",
                    i + 1, a, b, (double)s->t_us / 1e6, s->cwnd);
            if (s->ssthresh >= 0x7fffffff) /* not set yet (infinite) */
                fprintf(out, "\"ssthresh\":null,");
            else
                fprintf(out, "\"ssthresh\":%u,", s->ssthresh);
            fprintf(out, "\"inflight\":%u,\"rto_us\":%u,\"srtt_us\":%u,\"recovery\":%s}\n",
                    s->inflight, s->rto_us, s->srtt_us, s->recovery ? "true" : "false");
        }
    }
    return ferror(out) ? -1 : 0;
}
