/* Splitting a capture into TCP connections (see trace.h): packets are
 * grouped by their address and port pair; a SYN with a new ISN on a pair
 * whose connection already had one starts a new connection (port reuse).
 * Each connection gets its endpoints (A = the side that sent the first SYN,
 * else the first packet), the sides' ISNs and window scales, and every
 * packet its relative sequence numbers and window in bytes. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_seq.h"
#include "trace.h"

#define TRACE_MAX_CONNS (1u << 22)

bool trace_ep_eq(const struct trace_ep *a, const struct trace_ep *b)
{
    return a->af == b->af && a->port == b->port &&
           !memcmp(a->addr, b->addr, a->af == 4 ? 4 : 16);
}

const char *trace_ep_str(const struct trace_ep *e, char *buf, size_t cap)
{
    char a[INET6_ADDRSTRLEN] = "?";
    inet_ntop(e->af == 6 ? AF_INET6 : AF_INET, e->addr, a, sizeof(a));
    snprintf(buf, cap, e->af == 6 ? "[%s]:%u" : "%s:%u", a, e->port);
    return buf;
}

uint32_t trace_seglen(const struct trace_pkt *p)
{
    return p->len + !!(p->flags & SYNACK_TH_SYN) + !!(p->flags & SYNACK_TH_FIN);
}

static uint32_t ep_hash(const struct trace_ep *e)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < (e->af == 4 ? 4 : 16); i++)
        h = (h ^ e->addr[i]) * 16777619u;
    return (h ^ e->port) * 16777619u;
}

/* The same for both directions of a pair. */
static uint32_t pair_hash(const struct trace_pkt *p)
{
    return ep_hash(&p->src) ^ ep_hash(&p->dst);
}

static int grow_hash(struct trace *t)
{
    size_t cap = t->hash_cap ? t->hash_cap * 2 : 1024;
    int32_t *h = malloc(cap * sizeof(*h));
    if (!h)
        return -1;
    for (size_t i = 0; i < cap; i++)
        h[i] = -1;
    /* Rehash, newest first on each chain so that lookups find the newest. */
    for (size_t i = 0; i < t->nconn; i++) {
        struct trace_conn *c = &t->conn[i];
        struct trace_pkt fake = {.src = c->ep[0], .dst = c->ep[1]};
        size_t b = pair_hash(&fake) & (cap - 1);
        c->hnext = h[b];
        h[b] = (int32_t)i;
    }
    free(t->hash);
    t->hash = h;
    t->hash_cap = cap;
    return 0;
}

static int32_t lookup(const struct trace *t, const struct trace_pkt *p, int *dir)
{
    if (!t->hash_cap)
        return -1;
    for (int32_t i = t->hash[pair_hash(p) & (t->hash_cap - 1)]; i >= 0; i = t->conn[i].hnext) {
        const struct trace_conn *c = &t->conn[i];
        if (trace_ep_eq(&c->ep[0], &p->src) && trace_ep_eq(&c->ep[1], &p->dst)) {
            *dir = 0;
            return i;
        }
        if (trace_ep_eq(&c->ep[1], &p->src) && trace_ep_eq(&c->ep[0], &p->dst)) {
            *dir = 1;
            return i;
        }
    }
    return -1;
}

static int32_t new_conn(struct trace *t, const struct trace_pkt *p)
{
    if (t->nconn >= TRACE_MAX_CONNS)
        return -1;
    if (t->nconn == t->conn_cap) {
        size_t cap = t->conn_cap ? t->conn_cap * 2 : 64;
        struct trace_conn *n = realloc(t->conn, cap * sizeof(*n));
        if (!n)
            return -1;
        t->conn = n;
        t->conn_cap = cap;
    }
    if (t->nconn * 2 >= t->hash_cap && grow_hash(t) < 0)
        return -1;
    struct trace_conn *c = &t->conn[t->nconn];
    memset(c, 0, sizeof(*c));
    /* A is the client: the sender of a SYN, the receiver of a SYN-ACK. */
    bool synack = (p->flags & (SYNACK_TH_SYN | SYNACK_TH_ACK)) == (SYNACK_TH_SYN | SYNACK_TH_ACK);
    c->ep[0] = synack ? p->dst : p->src;
    c->ep[1] = synack ? p->src : p->dst;
    c->wscale[0] = c->wscale[1] = -1;
    c->closer = -1;
    size_t b = pair_hash(p) & (t->hash_cap - 1);
    c->hnext = t->hash[b];
    t->hash[b] = (int32_t)t->nconn;
    return (int32_t)t->nconn++;
}

static int add_pkt(struct trace_conn *c, uint32_t i)
{
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 16;
        uint32_t *n = realloc(c->idx, cap * sizeof(*n));
        if (!n)
            return -1;
        c->idx = n;
        c->cap = cap;
    }
    c->idx[c->n++] = i;
    return 0;
}

/* A bare SYN whose ISN differs from the one this side used before is a new
 * connection on the same ports. */
static bool starts_new(const struct trace *t, const struct trace_conn *c, int dir,
                       const struct trace_pkt *p)
{
    if ((p->flags & (SYNACK_TH_SYN | SYNACK_TH_ACK)) != SYNACK_TH_SYN)
        return false;
    if (c->syn_seen[dir])
        return c->base[dir] != p->seq;
    /* No SYN from this side yet: new only if the old one had ended. */
    for (uint32_t k = 0; k < c->n; k++)
        if (t->pkt[c->idx[k]].flags & (SYNACK_TH_FIN | SYNACK_TH_RST))
            return true;
    return false;
}

static void note_side(struct trace_conn *c, int dir, const struct trace_pkt *p)
{
    if (p->flags & SYNACK_TH_SYN) {
        if (!c->syn_seen[dir]) {
            c->syn_seen[dir] = true;
            c->base[dir] = p->seq;
            c->have_base[dir] = true;
            c->wscale[dir] = (p->opts.present & SYNACK_TCPOPT_F_WSCALE) ? p->opts.wscale : -1;
        }
    } else if (!c->have_base[dir]) {
        /* Start not captured: count from just before the first byte seen. */
        c->base[dir] = p->seq - 1;
        c->have_base[dir] = true;
    }
}

/* RFC 7323 2.2: the window field is scaled only when both SYNs carried the
 * option, and never on a SYN.  A shift over 14 is taken as 14 (2.3). */
static uint32_t window_bytes(const struct trace_conn *c, const struct trace_pkt *p)
{
    if (!c->scale_known || (p->flags & SYNACK_TH_SYN) || c->wscale[0] < 0 || c->wscale[1] < 0)
        return p->win;
    int ws = c->wscale[p->dir] > 14 ? 14 : c->wscale[p->dir];
    return (uint32_t)p->win << ws;
}

int trace_split(struct trace *t)
{
    for (size_t i = 0; i < t->npkt; i++) {
        struct trace_pkt *p = &t->pkt[i];
        int dir = 0;
        int32_t ci = lookup(t, p, &dir);
        if (ci >= 0 && starts_new(t, &t->conn[ci], dir, p))
            ci = -1;
        if (ci < 0) {
            ci = new_conn(t, p);
            if (ci < 0)
                return -1;
            dir = trace_ep_eq(&t->conn[ci].ep[0], &p->src) ? 0 : 1;
        }
        struct trace_conn *c = &t->conn[ci];
        if (add_pkt(c, (uint32_t)i) < 0)
            return -1;
        p->conn = ci;
        p->dir = (uint8_t)dir;
        note_side(c, dir, p);
        if (c->syn_seen[0] && c->syn_seen[1])
            c->scale_known = true;
    }
    for (size_t ci = 0; ci < t->nconn; ci++) {
        struct trace_conn *c = &t->conn[ci];
        for (uint32_t k = 0; k < c->n; k++) {
            struct trace_pkt *p = &t->pkt[c->idx[k]];
            /* Sequence numbers before the base (a SYN retransmitted with
             * another ISN is a new connection) wrap; relative ack only with ACK. */
            p->rseq = p->seq - c->base[p->dir];
            p->rack = c->have_base[!p->dir] ? p->ack - c->base[!p->dir] : p->ack;
            p->rwin = window_bytes(c, p);
        }
    }
    return 0;
}

void trace_free(struct trace *t)
{
    for (size_t i = 0; i < t->nconn; i++)
        free(t->conn[i].idx);
    free(t->conn);
    free(t->pkt);
    free(t->hash);
    memset(t, 0, sizeof(*t));
}

/* ---- --filter ------------------------------------------------------------ */

bool trace_filter_parse(const char *term, struct trace_ep *out, bool *any_addr, bool *any_port)
{
    char buf[128];
    memset(out, 0, sizeof(*out));
    *any_addr = *any_port = true;
    if (strlen(term) >= sizeof(buf) || !*term)
        return false;
    strcpy(buf, term);
    char *addr = buf, *port = NULL;
    if (buf[0] == '[') {
        char *end = strchr(buf, ']');
        if (!end)
            return false;
        *end = 0;
        addr = buf + 1;
        if (end[1] == ':')
            port = end + 2;
        else if (end[1])
            return false;
    } else if (strchr(buf, ':') && strchr(buf, ':') == strrchr(buf, ':')) {
        port = strchr(buf, ':');
        *port++ = 0;
    }
    if (port) {
        char *e;
        unsigned long v = strtoul(port, &e, 10);
        if (!*port || *e || v > 65535)
            return false;
        out->port = (uint16_t)v;
        *any_port = false;
    }
    if (*addr) {
        if (inet_pton(AF_INET, addr, out->addr) == 1)
            out->af = 4;
        else if (inet_pton(AF_INET6, addr, out->addr) == 1)
            out->af = 6;
        else
            return false;
        *any_addr = false;
    }
    return !*any_addr || !*any_port;
}

bool trace_filter_match(const struct trace_conn *c, const struct trace_ep *f, bool any_addr,
                        bool any_port)
{
    for (int s = 0; s < 2; s++) {
        const struct trace_ep *e = &c->ep[s];
        bool a = any_addr || (e->af == f->af && !memcmp(e->addr, f->addr, e->af == 4 ? 4 : 16));
        bool p = any_port || e->port == f->port;
        if (a && p)
            return true;
    }
    return false;
}
