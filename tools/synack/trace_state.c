/* The RFC 9293 state of each endpoint after each packet, inferred from the
 * capture alone (see trace.h).
 *
 * A capture is taken at one place, so a packet's send and its receipt are
 * one line in the file; the two endpoints see them in different orders when
 * packets cross (simultaneous open and close).  Each endpoint gets its own
 * sequence of events: its sends, in capture order, and its receipts of the
 * peer's packets.  A packet that takes sequence space (SYN, FIN, data) is
 * received just before the first packet of the receiver that acknowledges
 * it; a packet resent before that acknowledgement never arrived (lost).
 * Everything else is received at once.  Events are ordered by a key:
 *   send of packet k: 4k+2,  receipt at once: 4k+3,
 *   receipt just before the receiver's packet j: 4j+1.
 * Then each endpoint's state machine (RFC 9293 3.3.2, 3.10) runs over its
 * events, and each packet keeps the sender's state after sending it and the
 * receiver's after receiving it. */
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_seq.h"
#include "trace.h"

/* How far ahead to look for the acknowledgement of a segment. */
#define TRACE_ACK_HORIZON 20000u
/* The least acknowledgement delay that says the capture was taken away from
 * the receiver. */
#define TRACE_MIN_DELAY_US 500

struct ev {
    uint64_t key;
    uint32_t k;      /* packet, as an index into the connection's list */
    bool recv;       /* receipt (else send) */
    bool lost;       /* receipt of a packet that never arrived */
};

struct side {
    uint8_t st;
    bool syn_sent, fin_sent, have_rcv, peer_fin, passive;
    uint32_t syn_seq, fin_seq;  /* our SYN's and FIN's sequence numbers */
    uint32_t rcv_nxt;           /* next byte expected from the peer */
    uint32_t peer_fin_seq;
    bool have_peer_max;
    uint32_t peer_max;          /* the end of everything the peer sent so far */
};

static int cmp_ev(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* A packet without sequence space gives no acknowledgement to go by: it
 * is received `delta` after it was captured, delta being the least time the
 * receiver took to acknowledge anything (0 for a capture on its host; the
 * one-way delay for one taken where the packets leave). */
static struct ev place_by_time(const struct trace *t, const struct trace_conn *c, uint32_t k,
                               struct ev e)
{
    const struct trace_pkt *p = &t->pkt[c->idx[k]];
    int64_t delta = c->ack_delay[!p->dir];
    /* Below this, the delay is the receiver's host's own jitter (a capture
     * on it): the packet was received when captured. */
    if (delta < TRACE_MIN_DELAY_US)
        return e;
    bool receiver_spoke = false;
    for (uint32_t j = k + 1; j < c->n && j - k < TRACE_ACK_HORIZON; j++) {
        const struct trace_pkt *q = &t->pkt[c->idx[j]];
        if (q->dir == p->dir)
            continue;
        if ((int64_t)(q->t_us - p->t_us) >= delta) {
            if (receiver_spoke)
                e.key = 4ull * j + 1;
            return e;
        }
        receiver_spoke = true;
    }
    if (receiver_spoke)
        e.key = 4ull * c->n + 1; /* after everything the receiver sent */
    return e;
}

/* An acknowledgement of a SYN or FIN (one that changes its receiver's
 * state) is lost when the receiver later resends what it acknowledged, after
 * it would have arrived, and before a newer one came. */
static bool ack_lost(const struct trace *t, const struct trace_conn *c, uint32_t k,
                     const uint32_t ctl_end[2], const bool have_ctl[2])
{
    const struct trace_pkt *p = &t->pkt[c->idx[k]];
    if (!(p->flags & SYNACK_TH_ACK) || (p->flags & SYNACK_TH_RST) || !have_ctl[!p->dir] ||
        seq_lt(p->ack, ctl_end[!p->dir]))
        return false;
    int64_t delta = c->ack_delay[!p->dir] > 0 ? c->ack_delay[!p->dir] : 0;
    for (uint32_t j = k + 1; j < c->n && j - k < TRACE_ACK_HORIZON; j++) {
        const struct trace_pkt *q = &t->pkt[c->idx[j]];
        if (q->dir == p->dir) {
            if ((q->flags & SYNACK_TH_ACK) && seq_geq(q->ack, p->ack))
                return false;
            continue;
        }
        if ((q->flags & (SYNACK_TH_SYN | SYNACK_TH_FIN)) && q->resent_space &&
            seq_lt(q->seq, p->ack) &&
            (int64_t)(q->t_us - p->t_us) > delta)
            return true;
    }
    return false;
}

/* Does q hold a SACK block (RFC 2018) covering [lo, hi)?  Data beyond a
 * hole is received long before the cumulative ACK covers it. */
static bool sacks(const struct trace_pkt *q, uint32_t lo, uint32_t hi)
{
    for (uint8_t b = 0; b < q->opts.nsack; b++)
        if (seq_leq(q->opts.sack[b].left, lo) && seq_geq(q->opts.sack[b].right, hi))
            return true;
    return false;
}

/* Place the receipt of packet k (see the file comment). */
static struct ev place_receipt(const struct trace *t, const struct trace_conn *c, uint32_t k,
                               const uint32_t ctl_end[2], const bool have_ctl[2])
{
    const struct trace_pkt *p = &t->pkt[c->idx[k]];
    struct ev e = {4ull * k + 3, k, true, false};
    if (ack_lost(t, c, k, ctl_end, have_ctl)) {
        e.lost = true;
        return e;
    }
    uint32_t sl = trace_seglen(p);
    /* A resend's acknowledgement may be for the first copy. */
    if (sl == 0 || (p->flags & SYNACK_TH_RST) || p->resent_space)
        return place_by_time(t, c, k, e);
    uint32_t end = p->seq + sl;
    bool receiver_spoke = false;
    uint32_t lim = c->n - k > TRACE_ACK_HORIZON ? k + TRACE_ACK_HORIZON : c->n;
    for (uint32_t j = k + 1; j < lim; j++) {
        const struct trace_pkt *q = &t->pkt[c->idx[j]];
        if (q->dir == p->dir) {
            /* Resent (the same first byte again) before being acknowledged;
             * the SYN-ACK after a crossing SYN (simultaneous open, RFC 9293
             * figure 8) carries the SYN again by design. */
            bool simopen = (p->flags & (SYNACK_TH_SYN | SYNACK_TH_ACK)) == SYNACK_TH_SYN &&
                           (q->flags & SYNACK_TH_SYN) && (q->flags & SYNACK_TH_ACK);
            if (!simopen && trace_seglen(q) && seq_leq(q->seq, p->seq) && seq_gt(q->seq + trace_seglen(q), p->seq)) {
                e.lost = true;
                return e;
            }
            continue;
        }
        if (((q->flags & SYNACK_TH_ACK) && seq_geq(q->ack, end)) || sacks(q, p->seq, end)) {
            if (receiver_spoke)
                e.key = 4ull * j + 1;
            return e;
        }
        receiver_spoke = true;
    }
    return place_by_time(t, c, k, e);
}

static bool synchronized(uint8_t st)
{
    return st >= SYNACK_ESTABLISHED;
}

/* The sender's side of RFC 9293 3.10: what sending a segment does. */
static void on_send(struct side *s, const struct trace_pkt *p)
{
    uint8_t f = p->flags;
    /* The sender knows best what it has received; but an ACK of more than
     * the peer ever sent says nothing. */
    if (f & SYNACK_TH_ACK && s->have_rcv && seq_gt(p->ack, s->rcv_nxt) &&
        (!s->have_peer_max || seq_leq(p->ack, s->peer_max)))
        s->rcv_nxt = p->ack;
    if (f & SYNACK_TH_RST) {
        if (s->st != SYNACK_LISTEN)
            s->st = SYNACK_CLOSED;
        return;
    }
    if (f & SYNACK_TH_SYN) {
        if (!s->syn_sent) {
            s->syn_sent = true;
            s->syn_seq = p->seq;
        }
        if (s->st == SYNACK_CLOSED || s->st == SYNACK_LISTEN)
            s->st = (f & SYNACK_TH_ACK) ? SYNACK_SYN_RECEIVED : SYNACK_SYN_SENT;
    }
    if (f & SYNACK_TH_FIN) {
        uint32_t fs = p->seq + p->len + !!(f & SYNACK_TH_SYN);
        if (!s->fin_sent || seq_gt(fs, s->fin_seq))
            s->fin_seq = fs;
        s->fin_sent = true;
        if (s->st == SYNACK_ESTABLISHED || s->st == SYNACK_SYN_RECEIVED)
            s->st = SYNACK_FIN_WAIT_1;
        else if (s->st == SYNACK_CLOSE_WAIT)
            s->st = SYNACK_LAST_ACK;
    }
}

/* A FIN the peer sent is processed once everything before it arrived
 * (RFC 9293 3.10.7.4, eighth step). */
static void take_fin(struct side *s)
{
    if (!s->peer_fin || !s->have_rcv || s->rcv_nxt != s->peer_fin_seq)
        return;
    s->peer_fin = false;
    s->rcv_nxt = s->peer_fin_seq + 1;
    switch (s->st) {
    case SYNACK_SYN_RECEIVED:
    case SYNACK_ESTABLISHED: s->st = SYNACK_CLOSE_WAIT; break;
    case SYNACK_FIN_WAIT_1: s->st = SYNACK_CLOSING; break;
    case SYNACK_FIN_WAIT_2: s->st = SYNACK_TIME_WAIT; break;
    default: break;
    }
}

/* The receiver's side: RFC 9293 3.10.7.  `accept_rst` says whether a RST
 * is taken (RFC 5961 3.2: only one at exactly the next expected byte, or
 * one after which the receiver never speaks again). */
static void on_recv(struct side *s, const struct trace_pkt *p, bool accept_rst)
{
    uint8_t f = p->flags;
    bool acks_syn = (f & SYNACK_TH_ACK) && s->syn_sent && seq_gt(p->ack, s->syn_seq);
    bool acks_fin = (f & SYNACK_TH_ACK) && s->fin_sent && seq_gt(p->ack, s->fin_seq);
    if (f & SYNACK_TH_RST) {
        if (s->st == SYNACK_LISTEN || s->st == SYNACK_CLOSED)
            return;
        if (s->st == SYNACK_SYN_SENT) {
            /* 3.10.7.3: acceptable only when it acknowledges our SYN. */
            if (acks_syn)
                s->st = SYNACK_CLOSED;
            return;
        }
        if (accept_rst)
            s->st = SYNACK_CLOSED;
        return;
    }
    if (f & SYNACK_TH_SYN) {
        if (!s->have_rcv) {
            s->have_rcv = true;
            s->rcv_nxt = p->seq + 1;
        }
        if (s->st == SYNACK_LISTEN && !(f & SYNACK_TH_ACK)) {
            s->st = SYNACK_SYN_RECEIVED;
        } else if (s->st == SYNACK_SYN_SENT) {
            /* 3.10.7.3: a SYN-ACK for our SYN, or a crossing SYN (simultaneous open). */
            if (acks_syn)
                s->st = SYNACK_ESTABLISHED;
            else if (!(f & SYNACK_TH_ACK))
                s->st = SYNACK_SYN_RECEIVED;
        } else if (s->st == SYNACK_SYN_RECEIVED && acks_syn) {
            s->st = SYNACK_ESTABLISHED;
        }
        return;
    }
    if (!s->have_rcv) {
        s->have_rcv = true;
        s->rcv_nxt = p->seq;
    }
    if (f & SYNACK_TH_ACK) {
        switch (s->st) {
        case SYNACK_SYN_RECEIVED:
            if (acks_syn)
                s->st = SYNACK_ESTABLISHED;
            break;
        case SYNACK_FIN_WAIT_1:
            if (acks_fin)
                s->st = SYNACK_FIN_WAIT_2;
            break;
        case SYNACK_CLOSING:
            if (acks_fin)
                s->st = SYNACK_TIME_WAIT;
            break;
        case SYNACK_LAST_ACK:
            if (acks_fin)
                s->st = SYNACK_CLOSED;
            break;
        default: break;
        }
    }
    if (!synchronized(s->st) && s->st != SYNACK_SYN_RECEIVED)
        return;
    if (p->len && seq_leq(p->seq, s->rcv_nxt) && seq_gt(p->seq + p->len, s->rcv_nxt))
        s->rcv_nxt = p->seq + p->len;
    if (f & SYNACK_TH_FIN) {
        s->peer_fin = true;
        s->peer_fin_seq = p->seq + p->len;
    }
    take_fin(s);
}

/* Where each side starts: a SYN opens from CLOSED (the side that answers
 * with a SYN-ACK was LISTENing); a capture that starts later starts both
 * sides ESTABLISHED. */
static void initial_states(const struct trace *t, const struct trace_conn *c, struct side sd[2])
{
    memset(sd, 0, 2 * sizeof(*sd));
    const struct trace_pkt *first = &t->pkt[c->idx[0]];
    if (!(first->flags & SYNACK_TH_SYN)) {
        sd[0].st = sd[1].st = SYNACK_ESTABLISHED;
        return;
    }
    for (int s = 0; s < 2; s++) {
        sd[s].st = SYNACK_CLOSED;
        for (uint32_t k = 0; k < c->n; k++) {
            const struct trace_pkt *p = &t->pkt[c->idx[k]];
            if (p->dir != s || !(p->flags & SYNACK_TH_SYN))
                continue;
            if (p->flags & SYNACK_TH_ACK) {
                sd[s].st = SYNACK_LISTEN;
                sd[s].passive = true;
            }
            break;
        }
    }
    /* The SYN was not captured, the SYN-ACK was: A is in SYN-SENT. */
    for (uint32_t k = 0; k < c->n; k++) {
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        if (p->dir == 0 && (p->flags & SYNACK_TH_SYN))
            break;
        if (p->dir == 1 && (p->flags & SYNACK_TH_SYN) && (p->flags & SYNACK_TH_ACK)) {
            sd[0].st = SYNACK_SYN_SENT;
            sd[0].syn_sent = true;
            sd[0].syn_seq = p->ack - 1;
            break;
        }
    }
}

void trace_infer_states(struct trace *t, struct trace_conn *c)
{
    if (!c->n)
        return;
    struct ev *ev = malloc(2 * (size_t)c->n * sizeof(*ev));
    if (!ev)
        return;
    size_t ne = 0;
    /* The end of the last SYN or FIN each side sent (so far). */
    uint32_t ctl_end[2] = {0, 0};
    bool have_ctl[2] = {false, false};
    for (uint32_t k = 0; k < c->n; k++) {
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        if (p->flags & (SYNACK_TH_SYN | SYNACK_TH_FIN)) {
            uint32_t end = p->seq + trace_seglen(p);
            if (!have_ctl[p->dir] || seq_gt(end, ctl_end[p->dir]))
                ctl_end[p->dir] = end;
            have_ctl[p->dir] = true;
        }
        ev[ne++] = (struct ev){4ull * k + 2, k, false, false};
        ev[ne++] = place_receipt(t, c, k, ctl_end, have_ctl);
    }
    qsort(ev, ne, sizeof(*ev), cmp_ev);
    struct side sd[2];
    initial_states(t, c, sd);
    for (size_t i = 0; i < ne; i++) {
        struct trace_pkt *p = &t->pkt[c->idx[ev[i].k]];
        if (!ev[i].recv) {
            struct side *s = &sd[p->dir];
            struct side *r = &sd[!p->dir];
            uint32_t end = p->seq + trace_seglen(p);
            if (!r->have_peer_max || seq_gt(end, r->peer_max))
                r->peer_max = end;
            r->have_peer_max = true;
            /* An ACK of the peer's FIN says it was taken even if a gap hid it. */
            if ((p->flags & SYNACK_TH_ACK) && s->peer_fin && seq_gt(p->ack, s->peer_fin_seq)) {
                s->rcv_nxt = s->peer_fin_seq;
                take_fin(s);
            }
            on_send(s, p);
            p->st_snd = s->st;
            p->key_snd = ev[i].key;
            continue;
        }
        struct side *r = &sd[!p->dir];
        p->key_rcv = ev[i].key;
        if (ev[i].lost) {
            p->marks |= TRACE_M_LOST;
            c->mark_count[__builtin_ctz(TRACE_M_LOST)]++;
        } else {
            bool accept = true;
            if (p->flags & SYNACK_TH_RST) {
                bool exact = !r->have_rcv || p->seq == r->rcv_nxt;
                bool silent = true;
                for (uint32_t j = ev[i].k + 1; j < c->n && silent; j++)
                    silent = t->pkt[c->idx[j]].dir == p->dir;
                accept = exact || silent;
                if (!accept && synchronized(r->st)) {
                    p->marks |= TRACE_M_RST_IGNORED;
                    c->mark_count[__builtin_ctz(TRACE_M_RST_IGNORED)]++;
                }
            }
            on_recv(r, p, accept);
        }
        p->st_rcv = r->st;
    }
    c->st_final[0] = sd[0].st;
    c->st_final[1] = sd[1].st;
    free(ev);
}
