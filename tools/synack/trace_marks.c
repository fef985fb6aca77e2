/* Marks on unusual packets, RTT samples and the per-connection summary (see
 * trace.h).  One pass over a connection in capture order, with what each
 * direction has sent so far (highest sequence, holes, its FIN) and what it
 * last advertised (ACK, window, right edge). */
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_seq.h"
#include "trace.h"

#define TRACE_HOLES 16        /* gaps remembered per direction */
#define TRACE_RTTQ 4096       /* segments waiting for their ACK, per direction */
#define TRACE_OOO_US 3000     /* a gap filled sooner than this (or an RTT) is reordering */

static const char *const mark_names[TRACE_NMARKS] = {
    "retransmission", "spurious-retransmission", "dup-ack", "out-of-order",
    "previous-segment-not-captured", "zero-window", "window-probe", "window-update", "rst",
    "ack-of-unsent-data", "data-after-fin", "window-shrunk", "lost", "rst-ignored", "keep-alive",
};

const char *trace_mark_name(unsigned bit)
{
    return bit < TRACE_NMARKS ? mark_names[bit] : "?";
}

struct hole {
    uint32_t lo, hi;
    uint64_t t;
};

struct rttq {
    uint32_t end;
    uint64_t t;
    bool resent;
};

struct dirst {
    bool have_seq, have_ack, fin_sent, have_edge, bare_syn;
    uint32_t snd_max, fin_seq;
    uint32_t acked;            /* highest ACK the peer sent for this direction */
    bool have_acked;
    uint32_t last_ack, last_win, edge;
    uint16_t dups;
    struct hole holes[TRACE_HOLES];
    int nholes;
    struct rttq *q;
    size_t qhead, qlen;
};

static bool in_hole(struct dirst *d, uint32_t seq, uint32_t end, uint64_t *opened)
{
    for (int i = 0; i < d->nholes; i++) {
        struct hole *h = &d->holes[i];
        if (seq_geq(seq, h->lo) && seq_leq(end, h->hi)) {
            *opened = h->t;
            /* What is left of the hole: keep the larger part. */
            if (seq_gt(seq, h->lo) && (uint32_t)(seq - h->lo) >= (uint32_t)(h->hi - end))
                h->hi = seq;
            else if (seq_lt(end, h->hi))
                h->lo = end;
            else
                d->holes[i] = d->holes[--d->nholes];
            return true;
        }
    }
    return false;
}

static void add_hole(struct dirst *d, uint32_t lo, uint32_t hi, uint64_t t)
{
    if (d->nholes == TRACE_HOLES)
        memmove(d->holes, d->holes + 1, (TRACE_HOLES - 1) * sizeof(d->holes[0]));
    else
        d->nholes++;
    d->holes[d->nholes - 1] = (struct hole){lo, hi, t};
}

static void rtt_push(struct dirst *d, uint32_t end, uint64_t t, bool resent)
{
    if (!d->q)
        return;
    /* A resend taints every queued segment it covers (Karn's rule). */
    if (resent) {
        for (size_t i = 0; i < d->qlen; i++) {
            struct rttq *e = &d->q[(d->qhead + i) % TRACE_RTTQ];
            if (seq_leq(e->end, end))
                e->resent = true;
        }
        return;
    }
    if (d->qlen == TRACE_RTTQ) {
        d->qhead = (d->qhead + 1) % TRACE_RTTQ;
        d->qlen--;
    }
    d->q[(d->qhead + d->qlen++) % TRACE_RTTQ] = (struct rttq){end, t, false};
}

/* The newest segment this ACK covers gives the sample (RFC 6298 3: never
 * from a retransmitted one). */
static int64_t rtt_take(struct dirst *d, uint32_t ack, uint64_t now)
{
    int64_t sample = -1;
    while (d->qlen) {
        struct rttq *e = &d->q[d->qhead];
        if (seq_gt(e->end, ack))
            break;
        sample = e->resent ? -1 : (int64_t)(now - e->t);
        d->qhead = (d->qhead + 1) % TRACE_RTTQ;
        d->qlen--;
    }
    return sample;
}

static int ws_of(const struct trace_conn *c, int dir)
{
    if (!c->scale_known || c->wscale[0] < 0 || c->wscale[1] < 0)
        return 0;
    return c->wscale[dir] > 14 ? 14 : c->wscale[dir];
}

/* Sequence-space marks for a segment from `d`. */
static void mark_segment(struct trace_conn *c, struct dirst *d, const struct dirst *peer,
                         struct trace_pkt *p, uint32_t *rtt_ooo)
{
    uint32_t sl = trace_seglen(p), end = p->seq + sl;
    bool resent = false, filled = false;
    /* The SYN-ACK after a crossing SYN carries the SYN again by design. */
    bool simopen = (p->flags & SYNACK_TH_SYN) && (p->flags & SYNACK_TH_ACK) && d->bare_syn;
    if (p->flags & SYNACK_TH_SYN)
        d->bare_syn = !(p->flags & SYNACK_TH_ACK);
    if (d->have_seq && seq_lt(p->seq, d->snd_max))
        p->resent_space = true;
    if (simopen) {
        /* nothing to mark */
    } else if (d->have_seq && seq_lt(p->seq, d->snd_max)) {
        uint64_t opened = 0;
        /* A fill right after the gap opened is reordering, unless the
         * receiver asked for it with duplicate ACKs: a fast retransmit
         * (RFC 5681 3.2) whose original was lost before the capture. */
        bool asked = peer->have_ack && peer->dups >= 2 && peer->last_ack == p->seq;
        filled = in_hole(d, p->seq, end, &opened);
        if (filled && p->t_us - opened < *rtt_ooo && !asked) {
            p->marks |= TRACE_M_OOO;
        } else {
            resent = true;
            p->marks |= TRACE_M_RETRANS;
            if (d->have_acked && seq_leq(end, d->acked))
                p->marks |= TRACE_M_SPURIOUS;
        }
    } else if (d->have_seq && seq_gt(p->seq, d->snd_max)) {
        p->marks |= TRACE_M_GAP;
        add_hole(d, d->snd_max, p->seq, p->t_us);
    }
    /* RFC 9293 3.8.6.1: a probe of a closed window is a byte sent into it. */
    if (peer->have_ack && peer->last_win == 0 && p->len <= 1 && !(p->flags & (SYNACK_TH_SYN | SYNACK_TH_FIN))) {
        p->marks |= TRACE_M_WPROBE;
        p->marks &= ~(uint32_t)(TRACE_M_RETRANS | TRACE_M_SPURIOUS);
        resent = false;
    }
    if (d->fin_sent && p->len && seq_gt(p->seq + p->len, d->fin_seq))
        p->marks |= TRACE_M_DATA_AFTER_FIN;
    if (p->flags & SYNACK_TH_FIN) {
        uint32_t fs = p->seq + p->len + !!(p->flags & SYNACK_TH_SYN);
        if (!d->fin_sent || seq_gt(fs, d->fin_seq))
            d->fin_seq = fs;
        d->fin_sent = true;
    }
    if (resent)
        c->retrans[p->dir]++;
    if (!resent || filled)
        c->bytes[p->dir] += p->len; /* bytes seen for the first time */
    rtt_push(d, end, p->t_us, resent || simopen);
    if (!d->have_seq || seq_gt(end, d->snd_max))
        d->snd_max = end;
    d->have_seq = true;
}

/* Acknowledgement and window marks for a packet from `d` about `peer`'s data. */
static void mark_ack(struct trace_conn *c, struct dirst *d, struct dirst *peer,
                     struct trace_pkt *p)
{
    uint32_t sl = trace_seglen(p);
    if (p->flags & SYNACK_TH_RST)
        return;
    if (p->rwin == 0)
        p->marks |= TRACE_M_ZEROWIN;
    if (!(p->flags & SYNACK_TH_ACK))
        return;
    /* Only when the peer's start was seen: otherwise its earlier data is unknown. */
    if (c->syn_seen[!p->dir] && peer->have_seq && seq_gt(p->ack, peer->snd_max))
        p->marks |= TRACE_M_ACK_UNSENT;
    bool advanced = !peer->have_acked || seq_gt(p->ack, peer->acked);
    if (advanced) {
        peer->acked = p->ack;
        peer->have_acked = true;
        int64_t r = rtt_take(peer, p->ack, p->t_us);
        if (r >= 0) {
            p->rtt_us = r;
            if (c->ack_delay[p->dir] < 0 || r < c->ack_delay[p->dir])
                c->ack_delay[p->dir] = r;
            if (!c->nrtt || r < c->rtt_min)
                c->rtt_min = r;
            if (!c->nrtt || r > c->rtt_max)
                c->rtt_max = r;
            c->rtt_sum += r;
            c->nrtt++;
        }
    }
    bool pure = sl == 0 && !(p->flags & (SYNACK_TH_SYN | SYNACK_TH_FIN));
    if (pure && d->have_ack && p->ack == d->last_ack) {
        if (p->rwin == d->last_win && peer->have_seq && seq_lt(p->ack, peer->snd_max) &&
            !(p->marks & (TRACE_M_WPROBE | TRACE_M_KEEPALIVE))) {
            p->marks |= TRACE_M_DUPACK;
            p->dupack = ++d->dups;
        } else if (p->rwin > d->last_win) {
            p->marks |= TRACE_M_WUPDATE;
        }
    }
    if (p->ack != d->last_ack || !d->have_ack)
        d->dups = 0;
    /* RFC 9293 3.8.6.2.2: the right edge should not move left.  Less than
     * one unit of the scale is rounding, not shrinking. */
    uint32_t edge = p->ack + p->rwin;
    if (c->scale_known && d->have_edge && seq_lt(edge, d->edge) &&
        (uint32_t)(d->edge - edge) >= (1u << ws_of(c, p->dir)) && !(p->flags & SYNACK_TH_SYN))
        p->marks |= TRACE_M_SHRINK;
    d->edge = edge;
    d->have_edge = true;
    d->last_ack = p->ack;
    d->last_win = p->rwin;
    d->have_ack = true;
}

void trace_mark(struct trace *t, struct trace_conn *c)
{
    struct dirst d[2];
    memset(d, 0, sizeof(d));
    d[0].q = malloc(TRACE_RTTQ * sizeof(struct rttq));
    d[1].q = malloc(TRACE_RTTQ * sizeof(struct rttq));
    uint32_t rtt_ooo = TRACE_OOO_US;
    c->ack_delay[0] = c->ack_delay[1] = -1;
    for (uint32_t k = 0; k < c->n; k++) {
        struct trace_pkt *p = &t->pkt[c->idx[k]];
        struct dirst *me = &d[p->dir], *peer = &d[!p->dir];
        if (k == 0)
            c->t_first = p->t_us;
        c->t_last = p->t_us;
        c->pkts[p->dir]++;
        if (c->nrtt && c->rtt_min > rtt_ooo)
            rtt_ooo = (uint32_t)c->rtt_min;
        /* Linux's keep-alive and zero-window probe: no data, one below snd_nxt. */
        if (trace_seglen(p) == 0 && me->have_seq && p->seq == me->snd_max - 1 &&
            !(p->flags & (SYNACK_TH_RST | SYNACK_TH_SYN | SYNACK_TH_FIN)))
            p->marks |= (peer->have_ack && peer->last_win == 0) ? TRACE_M_WPROBE : TRACE_M_KEEPALIVE;
        if (trace_seglen(p))
            mark_segment(c, me, peer, p, &rtt_ooo);
        mark_ack(c, me, peer, p);
        if (p->flags & SYNACK_TH_RST)
            p->marks |= TRACE_M_RST;
        if (c->closer < 0 && (p->flags & (SYNACK_TH_FIN | SYNACK_TH_RST))) {
            c->closer = p->dir;
            c->closer_rst = !!(p->flags & SYNACK_TH_RST);
        }
        for (unsigned b = 0; b < TRACE_NMARKS; b++)
            if (p->marks >> b & 1)
                c->mark_count[b]++;
    }
    free(d[0].q);
    free(d[1].q);
}
