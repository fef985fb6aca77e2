/* TIME-WAIT records (see tcp_timewait.h).
 *
 * The table: an array of records (grown by doubling up to max_timewait,
 * charged to the stack's memory account), a chained hash on the 4-tuple
 * under the connection table's key, and an expiry queue.  Every record lasts
 * 2*MSL from its last (re)start, so the queue in order of (re)start is also
 * the order of expiry: one wheel entry, for the head, serves them all, and
 * the oldest record, the one dropped when the table is full, is the head.
 * Every operation is O(1) (growth amortised).
 *
 *   sn_tw_from_tcb   a TCB entering TIME-WAIT becomes a record
 *   sn_tw_input      a segment for a tuple in TIME-WAIT (RFC 9293 3.10.7.4,
 *                    RFC 6191 for a new SYN)
 *   sn_tw_expire     the head's 2*MSL is over (RFC 9293 3.10.8)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

#define TW_INITIAL 64u

static struct sn_tw *rec_at(struct sn_tw_table *t, uint32_t i) { return &t->rec[i - 1]; }

static const struct sn_tw *rec_get(const struct sn_tw_table *t, uint32_t i) { return &t->rec[i - 1]; }

static uint32_t bucket_of(const struct synack_stack *s, const struct synack_tuple *k)
{
    return sn_tuple_hash(&s->conns, k) & (s->tw.nbuckets - 1);
}

static void hash_insert(struct synack_stack *s, uint32_t i)
{
    struct sn_tw *r = rec_at(&s->tw, i);
    uint32_t b = bucket_of(s, &r->tuple);
    r->hnext = s->tw.buckets[b];
    s->tw.buckets[b] = i;
}

/* Make room for one more record: grow the array (and the buckets with it)
 * while under the bound.  Returns 0 or -ENOMEM. */
static int tw_grow(struct synack_stack *s)
{
    struct sn_tw_table *t = &s->tw;
    uint32_t ncap = t->cap ? t->cap * 2 : TW_INITIAL;
    if (ncap > t->max)
        ncap = t->max;
    if (ncap <= t->cap)
        return -ENOMEM;
    uint32_t nb = 1;
    while (nb < ncap)
        nb <<= 1;
    size_t grow = (size_t)(ncap - t->cap) * sizeof(struct sn_tw) +
                  (size_t)(nb - t->nbuckets) * sizeof(uint32_t);
    if (!sn_mem_charge(&s->mem, grow))
        return -ENOMEM;
    struct sn_tw *rec = sn_mem_realloc(&s->mem, t->rec, (size_t)ncap * sizeof(*rec));
    uint32_t *buckets = rec ? sn_mem_calloc(&s->mem, nb, sizeof(*buckets)) : NULL;
    if (!buckets) {
        if (rec)
            t->rec = rec; /* the old records moved: keep the new block */
        sn_mem_uncharge(&s->mem, grow);
        return -ENOMEM;
    }
    memset(rec + t->cap, 0, (size_t)(ncap - t->cap) * sizeof(*rec));
    /* The new records go on the free list, lowest index first. */
    for (uint32_t i = ncap; i > t->cap; i--) {
        rec[i - 1].hnext = t->free;
        t->free = i;
    }
    t->rec = rec;
    sn_mem_free(&s->mem, t->buckets);
    t->buckets = buckets;
    t->nbuckets = nb;
    t->cap = ncap;
    for (uint32_t i = 1; i <= ncap; i++)
        if (rec[i - 1].flags & SN_TW_USED)
            hash_insert(s, i);
    return 0;
}

static void queue_unlink(struct sn_tw_table *t, uint32_t i)
{
    struct sn_tw *r = rec_at(t, i);
    if (r->prev)
        rec_at(t, r->prev)->next = r->next;
    else
        t->head = r->next;
    if (r->next)
        rec_at(t, r->next)->prev = r->prev;
    else
        t->tail = r->prev;
    r->prev = r->next = 0;
}

static void queue_append(struct sn_tw_table *t, uint32_t i)
{
    struct sn_tw *r = rec_at(t, i);
    r->prev = t->tail;
    r->next = 0;
    if (t->tail)
        rec_at(t, t->tail)->next = i;
    else
        t->head = i;
    t->tail = i;
}

/* The wheel entry follows the head of the queue. */
static void rearm(struct synack_stack *s)
{
    if (s->tw.head)
        sn_wheel_add(&s->wheel, &s->tw.timer, rec_at(&s->tw, s->tw.head)->expires);
    else
        sn_wheel_del(&s->wheel, &s->tw.timer);
}

/* (Re)start 2*MSL: to the tail of the queue. */
static void restart(struct synack_stack *s, uint32_t i)
{
    rec_at(&s->tw, i)->expires = s->now + 2 * s->cfg.msl;
    if (s->tw.tail != i) {
        queue_unlink(&s->tw, i);
        queue_append(&s->tw, i);
    }
    rearm(s);
}

/* The record goes: the connection is CLOSED. */
static void tw_remove(struct synack_stack *s, uint32_t i)
{
    struct sn_tw_table *t = &s->tw;
    struct sn_tw *r = rec_at(t, i);
    for (uint32_t *pp = &t->buckets[bucket_of(s, &r->tuple)]; *pp; pp = &rec_at(t, *pp)->hnext) {
        if (*pp == i) {
            *pp = r->hnext;
            break;
        }
    }
    queue_unlink(t, i);
    if (r->flags & SN_TW_BOUND)
        sn_tcp_port_unref(s, r->tuple.lport);
    struct synack_tuple tuple = r->tuple;
    uint32_t conn_id = r->conn_id;
    memset(r, 0, sizeof(*r));
    r->hnext = t->free;
    t->free = i;
    t->count--;
    if (s->stats.tcp_conns_active > 0)
        s->stats.tcp_conns_active--;
    sn_tcp_trace_state(s, conn_id, &tuple, SYNACK_TIME_WAIT, SYNACK_CLOSED);
}

uint32_t sn_tw_find(const struct synack_stack *s, const struct synack_tuple *k)
{
    const struct sn_tw_table *t = &s->tw;
    if (t->count == 0)
        return 0;
    for (uint32_t i = t->buckets[bucket_of(s, k)]; i; i = rec_get(t, i)->hnext) {
        const struct synack_tuple *q = &rec_get(t, i)->tuple;
        if (q->laddr == k->laddr && q->raddr == k->raddr && q->lport == k->lport &&
            q->rport == k->rport)
            return i;
    }
    return 0;
}

/* A free record, growing the table or, when it is at its bound, dropping
 * the oldest record (tcp_max_tw_buckets).  0 when there is none at all. */
static uint32_t tw_alloc(struct synack_stack *s)
{
    struct sn_tw_table *t = &s->tw;
    if (t->max == 0)
        return 0;
    if (!t->free && tw_grow(s) < 0) {
        if (!t->head)
            return 0;
        s->stats.tcp_tw_evicted++;
        tw_remove(s, t->head);
    }
    uint32_t i = t->free;
    t->free = rec_at(t, i)->hnext;
    rec_at(t, i)->hnext = 0;
    return i;
}

void sn_tw_from_tcb(struct synack_stack *s, struct sn_tcb *tcb)
{
    uint32_t i = tw_alloc(s);
    if (!i) {
        /* No record to be had (max_timewait 0, or no memory at all): the
         * connection closes without waiting, as Linux does on overflow. */
        sn_tcp_drop(s, tcb, 0);
        return;
    }
    struct sn_tw *r = rec_at(&s->tw, i);
    r->flags = SN_TW_USED;
    r->tuple = tcb->te.tuple;
    r->conn_id = tcb->conn_id;
    r->rcv_nxt = tcb->rcv_nxt;
    r->snd_nxt = tcb->snd_nxt;
    r->rcv_wnd = seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
    r->rcv_wscale = tcb->rcv_wscale;
    if (tcb->flags & SN_TF_TS) {
        r->flags |= SN_TW_TS;
        r->ts_recent = tcb->ts_recent;
        r->ts_offset = tcb->ts_offset;
    }
    if (tcb->flags & SN_TF_BOUND) {
        /* The record keeps the port busy for its 2*MSL, as the TCB did. */
        r->flags |= SN_TW_BOUND;
        tcb->flags &= ~SN_TF_BOUND;
    }
    s->tw.count++;
    if (s->tw.count > s->tw.peak)
        s->tw.peak = s->tw.count;
    hash_insert(s, i);
    queue_append(&s->tw, i);
    r->expires = s->now + 2 * s->cfg.msl;
    rearm(s);

    /* The TCB leaves without a trace event: the connection is in TIME-WAIT
     * until the record goes.  A descriptor still open on it sees CLOSED,
     * as on Linux (tcp_time_wait then tcp_done). */
    sn_tcp_detach(s, tcb, true);
}

/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with the window and timestamps the
 * connection had. */
static void tw_send_ack(struct synack_stack *s, const struct sn_tw *r)
{
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    th.seq = r->snd_nxt;
    th.ack = r->rcv_nxt;
    th.flags = SYNACK_TH_ACK;
    uint32_t w = r->rcv_wnd >> r->rcv_wscale;
    th.window = (uint16_t)(w > 0xffff ? 0xffff : w);
    if (r->flags & SN_TW_TS) {
        th.opts.present = SYNACK_TCPOPT_F_TIMESTAMP;
        th.opts.tsval = (uint32_t)(s->now / 1000u) + r->ts_offset; /* as sn_tcp_tsval */
        th.opts.tsecr = r->ts_recent;
    }
    sn_tcp_send_ctl(s, &r->tuple, &th);
}

/* RFC 6191 2: is this SYN a new incarnation?  With timestamps on both the
 * old connection and the SYN (and ours enabled), the timestamp decides
 * (equal ones fall back to the sequence number); otherwise the sequence
 * number must lie beyond the old connection's.  *silent: a refusal on
 * timestamps drops the SYN without an answer (RFC 6191 2, last case). */
static bool new_incarnation(const struct synack_stack *s, const struct sn_tw *r,
                            const struct sn_seg *seg, bool *silent)
{
    bool ts = (seg->th.opts.present & SYNACK_TCPOPT_F_TIMESTAMP) && s->cfg.timestamps;
    *silent = false;
    if ((r->flags & SN_TW_TS) && ts) {
        if (seq_gt(seg->th.opts.tsval, r->ts_recent))
            return true;
        if (seg->th.opts.tsval == r->ts_recent && seq_gt(seg->seq, r->rcv_nxt))
            return true;
        *silent = true;
        return false;
    }
    return seq_gt(seg->seq, r->rcv_nxt);
}

int sn_tw_input(struct synack_stack *s, uint32_t i, const struct sn_seg *seg, bool listener)
{
    struct sn_tw *r = rec_at(&s->tw, i);
    bool has_ts = (r->flags & SN_TW_TS) && (seg->th.opts.present & SYNACK_TCPOPT_F_TIMESTAMP);

    /* A new connection request for this tuple (RFC 9293 3.10.7.4 note,
     * RFC 6191): accepted when it cannot be taken for the old one. */
    if ((seg->flags & (SYNACK_TH_SYN | SYNACK_TH_ACK | SYNACK_TH_RST)) == SYNACK_TH_SYN) {
        bool silent;
        if (listener && new_incarnation(s, r, seg, &silent)) {
            s->stats.tcp_tw_reused++;
            tw_remove(s, i);
            return 1;
        }
        if (listener && silent) {
            s->stats.tcp_tw_refused++;
            s->stats.tcp_drop++;
            return 0;
        }
    }
    /* RFC 7323 5.3 R1: PAWS.  An old duplicate: ACK and drop. */
    if (has_ts && !(seg->flags & SYNACK_TH_RST) && seq_lt(seg->th.opts.tsval, r->ts_recent)) {
        s->stats.tcp_drop++;
        s->stats.tcp_drop_paws++;
        tw_send_ack(s, r);
        return 0;
    }
    /* first: the sequence number */
    if (!seq_acceptable(r->rcv_nxt, r->rcv_wnd, seg->seq, seg->len)) {
        if (!(seg->flags & SYNACK_TH_RST)) {
            tw_send_ack(s, r);
            /* A retransmitted FIN: our last ACK was lost.  Restart 2 MSL. */
            if ((seg->flags & SYNACK_TH_FIN) && seg->seq + seg->len == r->rcv_nxt)
                restart(s, i);
        }
        return 0;
    }
    /* second: RST (RFC 9293: TIME-WAIT enters CLOSED; RFC 5961 3.2: only
     * an exact match, any other in-window RST gets a challenge ACK). */
    if (seg->flags & SYNACK_TH_RST) {
        s->stats.tcp_rst_in++;
        if (seg->seq == r->rcv_nxt)
            tw_remove(s, i);
        else
            tw_send_ack(s, r);
        return 0;
    }
    /* fourth: a SYN in the window (RFC 5961 4.2): challenge ACK. */
    if (seg->flags & SYNACK_TH_SYN) {
        tw_send_ack(s, r);
        return 0;
    }
    if (!(seg->flags & SYNACK_TH_ACK))
        return 0;
    /* fifth: the ACK (RFC 9293 3.10.7.4, RFC 5961 5.2).  Everything we sent
     * is acknowledged in TIME-WAIT, so SND.UNA = SND.NXT: an ACK of data
     * never sent is answered with an ACK and dropped, as in the other
     * synchronized states; it must not move TS.Recent (RFC 7323 5.3 R3: a
     * forged far-future TSval would otherwise make the peer's genuine
     * segments, and its SYN for a new incarnation, look like old
     * duplicates). */
    if (seq_gt(seg->ack, r->snd_nxt)) {
        s->stats.tcp_drop++;
        tw_send_ack(s, r);
        return 0;
    }
    /* RFC 7323 4.3: the newest TSval of an acceptable segment at the left
     * edge; an old ACK (below SND.NXT) is a duplicate and records nothing. */
    if (has_ts && seg->ack == r->snd_nxt && seq_leq(seg->seq, r->rcv_nxt) &&
        seq_geq(seg->th.opts.tsval, r->ts_recent))
        r->ts_recent = seg->th.opts.tsval;
    /* An acceptable segment other than a bare ACK at RCV.NXT (data, a FIN,
     * a sequence number elsewhere in the window) is acknowledged and
     * restarts 2 MSL, as Linux (tcp_timewait_state_process) and FreeBSD do. */
    if (seg->seq != r->rcv_nxt || seg->len > 0) {
        tw_send_ack(s, r);
        restart(s, i);
    }
    return 0;
}

bool sn_tw_holds(const struct synack_stack *s, const struct sn_tcb *tcb)
{
    uint32_t i = tcb->state == SYNACK_CLOSED ? sn_tw_find(s, &tcb->te.tuple) : 0;
    return i && rec_get(&s->tw, i)->conn_id == tcb->conn_id;
}

void sn_tw_expire(struct synack_stack *s)
{
    while (s->tw.head && rec_at(&s->tw, s->tw.head)->expires <= s->now)
        tw_remove(s, s->tw.head);
    rearm(s);
}

void sn_tw_init(struct synack_stack *s)
{
    s->tw = (struct sn_tw_table){.max = s->cfg.max_timewait};
    sn_timer_init(&s->tw.timer);
}

void sn_tw_free_all(struct synack_stack *s)
{
    struct sn_tw_table *t = &s->tw;
    sn_wheel_del(&s->wheel, &t->timer);
    sn_mem_uncharge(&s->mem, (size_t)t->cap * sizeof(struct sn_tw) +
                                 (size_t)t->nbuckets * sizeof(uint32_t));
    sn_mem_free(&s->mem, t->rec);
    sn_mem_free(&s->mem, t->buckets);
    *t = (struct sn_tw_table){0};
}
