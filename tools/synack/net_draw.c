/* `synack serve` and `synack connect` with --svg, --html, --plot, --series:
 * the connections on the device drawn as ladders and plots (own_draw.c)
 * from the device's capture, with synack's side in the states its stack
 * says and the kernel's side as `synack trace` infers it; the plots carry
 * the stack's own cwnd, RTO and recovery episodes (stack_series.c).
 *
 * As packets are written to the capture, each gets a record: whether synack
 * sent it, and synack's state for its connection after sending it or after
 * receiving it (from the on_state hook, kept per connection in a bounded
 * table).  At exit the capture is read back and the records replace what
 * was inferred for synack's side. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_draw.h"
#include "trace.h"

#define DRAW_MAX_PKTS (1u << 20)   /* records kept; later packets are inferred */
#define DRAW_MAX_CONNS 1024        /* connections whose state is followed */

struct draw_rec {
    uint8_t ours, state, known, lost;
};

struct draw_conn {
    uint32_t raddr;
    uint16_t lport, rport;
    uint8_t state;
};

struct net_draw {
    struct own_draw_opts o;
    struct stack_series *series;   /* NULL: not asked for */
    char pcap[64];                 /* the capture read back */
    bool tmp;                      /* ... a temporary one of our own */
    uint32_t addr;                 /* synack's address */
    struct draw_rec *rec;
    size_t n, cap;
    size_t pending;                /* 1 + the record of the packet being received */
    struct draw_conn conn[DRAW_MAX_CONNS];
    size_t nconn;
};

int net_draw_new(const struct own_draw_opts *o, const char *pcap, uint32_t addr,
                 struct net_draw **out)
{
    struct net_draw *d = calloc(1, sizeof(*d));
    if (!d)
        return -1;
    d->o = *o;
    d->addr = addr;
    if (own_draw_sampling(o)) {
        d->series = malloc(sizeof(*d->series));
        if (!d->series) {
            free(d);
            return -1;
        }
        stack_series_init(d->series, o->series_max);
    }
    if (pcap) {
        if (strlen(pcap) >= sizeof(d->pcap)) {
            /* A long name: keep our own copy of the capture instead. */
            pcap = NULL;
        } else {
            strcpy(d->pcap, pcap);
        }
    }
    if (!pcap) {
        strcpy(d->pcap, "/tmp/synack-draw-XXXXXX");
        int fd = mkstemp(d->pcap);
        if (fd < 0) {
            free(d->series);
            free(d);
            return -1;
        }
        close(fd);
        d->tmp = true;
    }
    *out = d;
    return 0;
}

const char *net_draw_pcap(const struct net_draw *d) { return d->pcap; }

void net_draw_watch(struct net_draw *d, struct synack_stack *st, int fd)
{
    if (d && d->series)
        stack_series_watch(d->series, st, fd);
}

void net_draw_sample(struct net_draw *d, struct synack_stack *st, uint64_t t_us)
{
    if (d && d->series)
        stack_series_sample(d->series, st, t_us);
}

bool net_draw_own_pcap(const struct net_draw *d) { return d->tmp; }

static struct draw_conn *find(struct net_draw *d, uint32_t raddr, uint16_t lport, uint16_t rport,
                              bool add)
{
    for (size_t i = 0; i < d->nconn; i++)
        if (d->conn[i].raddr == raddr && d->conn[i].lport == lport && d->conn[i].rport == rport)
            return &d->conn[i];
    if (!add || d->nconn == DRAW_MAX_CONNS)
        return NULL;
    struct draw_conn *c = &d->conn[d->nconn++];
    *c = (struct draw_conn){raddr, lport, rport, SYNACK_CLOSED};
    return c;
}

void net_draw_state(struct net_draw *d, const struct synack_conn_addr *a, enum synack_tcp_state to)
{
    if (!d || to == SYNACK_LISTEN)
        return;
    struct draw_conn *c = find(d, a->remote.u.v4, a->lport, a->rport, true);
    if (c)
        c->state = (uint8_t)to;
}

/* synack's state for the connection of an IPv4/TCP packet; `ours`: synack sent it. */
static bool state_of(struct net_draw *d, const uint8_t *pkt, size_t len, bool ours, uint8_t *st)
{
    size_t hl = len >= 20 ? (size_t)(pkt[0] & 15) * 4 : len;
    if (len < hl + 4 || pkt[9] != SYNACK_IPPROTO_TCP)
        return false;
    const uint8_t *ip = ours ? pkt + 16 : pkt + 12; /* the kernel's address */
    uint32_t raddr = (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 | (uint32_t)ip[2] << 8 | ip[3];
    uint16_t sport = (uint16_t)(pkt[hl] << 8 | pkt[hl + 1]);
    uint16_t dport = (uint16_t)(pkt[hl + 2] << 8 | pkt[hl + 3]);
    struct draw_conn *c = find(d, raddr, ours ? sport : dport, ours ? dport : sport, false);
    *st = c ? c->state : SYNACK_CLOSED;
    return true;
}

static struct draw_rec *push(struct net_draw *d)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1024;
        if (cap > DRAW_MAX_PKTS)
            return NULL;
        struct draw_rec *r = realloc(d->rec, cap * sizeof(*r));
        if (!r)
            return NULL;
        d->rec = r;
        d->cap = cap;
    }
    struct draw_rec *r = &d->rec[d->n++];
    memset(r, 0, sizeof(*r));
    return r;
}

void net_draw_out(struct net_draw *d, const uint8_t *pkt, size_t len)
{
    struct draw_rec *r = d ? push(d) : NULL;
    if (!r)
        return;
    r->ours = 1;
    r->known = state_of(d, pkt, len, true, &r->state);
}

void net_draw_in(struct net_draw *d, const uint8_t *pkt, size_t len)
{
    (void)pkt;
    (void)len;
    struct draw_rec *r = d ? push(d) : NULL;
    if (d)
        d->pending = r ? d->n : 0;
}

void net_draw_in_done(struct net_draw *d, const uint8_t *pkt, size_t len, bool lost)
{
    if (!d || !d->pending)
        return;
    struct draw_rec *r = &d->rec[d->pending - 1];
    d->pending = 0;
    r->known = state_of(d, pkt, len, false, &r->state);
    r->lost = lost;
}

void net_draw_in_unknown(struct net_draw *d)
{
    if (d)
        d->pending = 0; /* delayed or reordered inside synack: inferred instead */
}

static int draw(struct net_draw *d, const char *cmd)
{
    struct trace t;
    memset(&t, 0, sizeof(t));
    if (trace_read(&t, d->pcap) < 0 || trace_analyse(&t) < 0) {
        trace_free(&t);
        return -1;
    }
    for (size_t i = 0; i < t.npkt; i++) {
        struct trace_pkt *p = &t.pkt[i];
        if (!p->frame || p->frame > d->n || p->conn < 0)
            continue;
        const struct draw_rec *r = &d->rec[p->frame - 1];
        if (!r->known)
            continue;
        if (r->ours) {
            p->st_snd = r->state;
        } else {
            p->st_rcv = r->state;
            if (r->lost)
                p->marks |= TRACE_M_LOST;
        }
    }
    for (size_t i = 0; i < t.nconn; i++)
        t.conn[i].shown = true;
    /* Which side is synack: the names follow the first connection. */
    const char *names[2] = {"synack", "kernel"};
    if (t.nconn && t.conn[0].ep[0].af == 4) {
        const uint8_t *a = t.conn[0].ep[0].addr;
        uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
        if (v != d->addr) {
            names[0] = "kernel";
            names[1] = "synack";
        }
    }
    struct trace_extra x = {NULL, 0, {names[0], names[1]}, NULL, NULL};
    int rc = own_draw_files(&d->o, cmd, &t, &x, d->series);
    trace_free(&t);
    return rc;
}

int net_draw_finish(struct net_draw *d, const char *cmd)
{
    if (!d)
        return 0;
    int rc = draw(d, cmd);
    if (d->tmp)
        unlink(d->pcap);
    if (d->series) {
        stack_series_free(d->series);
        free(d->series);
    }
    free(d->rec);
    free(d);
    return rc;
}
