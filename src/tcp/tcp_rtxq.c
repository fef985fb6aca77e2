/* The record of sent segments (tcp_rtxq.h).  The records live in one
 * circular array of `cap` slots (a power of two), the outstanding ones from
 * `head` on: an ACK moves head, a send appends after the last, and a split
 * inserts one record in the middle (moving the ones after it). */
#include <errno.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"
#include "tcp/tcp_rtxq.h"
#include "tcp/tcp_seq.h"

/* A block of SN_RTXQ_MIN records: from the memory account's cache of
 * free ones (a list through their first bytes, at most SN_RTXQ_CACHE), so
 * that connections opening (the SYN's record) and sending one response
 * after another do not malloc and free a block per flight; else malloc. */
static struct sn_rtxq *block_new(struct sn_mem *m)
{
    if (!sn_mem_charge(m, sn_rtxq_bytes(SN_RTXQ_MIN)))
        return NULL;
    struct sn_rtxq *q = m->rtxq_cache;
    if (q) {
        memcpy(&m->rtxq_cache, q, sizeof(void *));
        m->rtxq_cached--;
    } else {
        q = sn_mem_malloc(m, sn_rtxq_bytes(SN_RTXQ_MIN));
    }
    if (!q) {
        sn_mem_uncharge(m, sn_rtxq_bytes(SN_RTXQ_MIN));
        return NULL;
    }
    q->head = q->len = 0;
    q->cap = SN_RTXQ_MIN;
    q->timed = 0;
    return q;
}

void sn_rtxq_release(struct sn_mem *m, struct sn_rtxq **qp)
{
    struct sn_rtxq *q = *qp;
    if (!q)
        return;
    *qp = NULL;
    sn_mem_uncharge(m, sn_rtxq_bytes(q->cap));
    if (q->cap == SN_RTXQ_MIN && m->rtxq_cached < SN_RTXQ_CACHE) {
        memcpy(q, &m->rtxq_cache, sizeof(void *));
        m->rtxq_cache = q;
        m->rtxq_cached++;
        return;
    }
    sn_mem_free(m, q);
}

void sn_rtxq_cache_free(struct sn_mem *m)
{
    while (m->rtxq_cache) {
        void *p = m->rtxq_cache;
        memcpy(&m->rtxq_cache, p, sizeof(void *));
        sn_mem_free(m, p);
    }
    m->rtxq_cached = 0;
}

/* Make room for one more record: double the block if it is full.
 * Returns false without memory (or at SN_RTXQ_MAX). */
static bool room(struct sn_mem *m, struct sn_rtxq **qp)
{
    struct sn_rtxq *q = *qp;
    if (q->len < q->cap)
        return true;
    if (q->cap >= SN_RTXQ_MAX)
        return false;
    uint32_t cap = q->cap * 2;
    if (!sn_mem_charge(m, sn_rtxq_bytes(cap) - sn_rtxq_bytes(q->cap)))
        return false;
    struct sn_rtxq *n = sn_mem_realloc(m, q, sn_rtxq_bytes(cap));
    if (!n) {
        sn_mem_uncharge(m, sn_rtxq_bytes(cap) - sn_rtxq_bytes(q->cap));
        return false;
    }
    /* Full, so the records wrap at slot n->cap unless head is 0: the ones
     * before head move up past the old end. */
    memcpy(&n->seg[n->cap], &n->seg[0], n->head * sizeof(n->seg[0]));
    n->cap = cap;
    *qp = n;
    return true;
}

int32_t sn_rtxq_find(const struct sn_rtxq *q, uint32_t seq)
{
    if (!q || q->len == 0)
        return -1;
    if (!seq_in(seq, sn_rtxq_at(q, 0)->start, sn_rtxq_at(q, q->len - 1)->end))
        return -1;
    /* The records are contiguous and in order: binary search on start. */
    uint32_t lo = 0, hi = q->len; /* the answer is in [lo, hi) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seq_leq(sn_rtxq_at(q, mid)->start, seq))
            lo = mid;
        else
            hi = mid;
    }
    return (int32_t)lo;
}

/* Cut the record holding seq in two at seq (nothing to do when seq is a
 * record boundary or outside).  Returns false when a cut was needed and
 * there was no room for it. */
static bool split_at(struct sn_mem *m, struct sn_rtxq **qp, uint32_t seq)
{
    int32_t i = sn_rtxq_find(*qp, seq);
    if (i < 0 || sn_rtxq_at(*qp, (uint32_t)i)->start == seq)
        return true;
    if (!room(m, qp))
        return false;
    struct sn_rtxq *q = *qp;
    for (uint32_t k = q->len; k > (uint32_t)i; k--)
        *sn_rtxq_at(q, k) = *sn_rtxq_at(q, k - 1);
    q->len++;
    sn_rtxq_at(q, (uint32_t)i)->end = seq;
    sn_rtxq_at(q, (uint32_t)i + 1)->start = seq;
    return true;
}

static int append(struct sn_mem *m, struct sn_rtxq **qp, uint32_t start, uint32_t end,
                  uint32_t now, uint8_t flags, uint16_t unit)
{
    if (!*qp && !(*qp = block_new(m)))
        return -ENOMEM;
    struct sn_rtxq *q = *qp;
    if (!room(m, qp)) {
        if (q->len == 0)
            return -ENOMEM;
        /* Full: the last record takes it in (only precision is lost). */
        struct sn_rtxq_seg *last = sn_rtxq_at(q, q->len - 1);
        last->end = end;
        last->flags |= SN_RTXQ_MERGED | flags;
        last->unit = 0;
        return -ENOMEM;
    }
    q = *qp;
    *sn_rtxq_at(q, q->len) = (struct sn_rtxq_seg){
        .start = start, .end = end, .sent = now, .flags = flags, .unit = unit};
    q->len++;
    return 0;
}

int sn_rtxq_sent(struct sn_mem *m, struct sn_rtxq **qp, uint32_t una, uint32_t max, uint32_t seq,
                 uint32_t len, uint32_t now, uint16_t unit)
{
    uint32_t end = seq + len;
    int rc = 0;
    if (len == 0 || !seq_gt(end, una))
        return 0;
    if (seq_lt(seq, una))
        seq = una; /* (nothing below SND.UNA has a record) */
    if (seq_lt(seq, max) && *qp) {
        /* Sent again: its own records, cut to the range, say so. */
        uint32_t to = seq_min(end, max);
        bool cut = split_at(m, qp, seq);
        cut = split_at(m, qp, to) && cut;
        if (!cut)
            rc = -ENOMEM; /* the neighbours are marked too: Karn errs on the safe side */
        struct sn_rtxq *q = *qp;
        int32_t i = sn_rtxq_find(q, seq);
        for (uint32_t k = i < 0 ? q->len : (uint32_t)i; k < q->len; k++) {
            struct sn_rtxq_seg *r = sn_rtxq_at(q, k);
            if (!seq_lt(r->start, to))
                break;
            r->flags |= SN_RTXQ_RETRANS;
            r->sent = now;
            if (r->nrtx < UINT8_MAX)
                r->nrtx++;
        }
    }
    if (!seq_gt(end, max))
        return rc;
    /* New sequence space starts at SND.MAX (nothing is ever sent past it
     * with a gap).  Sends made while no block could be had are one record
     * of unknown time, so that the records always cover [SND.UNA, SND.MAX). */
    if (sn_rtxq_len(*qp) == 0 && una != max) {
        int r = append(m, qp, una, max, now, SN_RTXQ_MERGED | SN_RTXQ_RETRANS, 0);
        if (r < 0)
            return r;
    }
    int r = append(m, qp, max, end, now, 0, unit);
    return r < 0 ? r : rc;
}

bool sn_rtxq_ack(struct sn_mem *m, struct sn_rtxq **qp, uint32_t ack, const uint32_t *timed,
                 struct sn_rtxq_seg *timed_rec)
{
    struct sn_rtxq *q = *qp;
    bool got = false;
    if (!q)
        return false;
    while (q->len > 0) {
        struct sn_rtxq_seg *r = sn_rtxq_at(q, 0);
        if (!seq_lt(r->start, ack))
            break;
        if (timed && r->start == *timed) {
            *timed_rec = *r;
            got = true;
        }
        if (seq_gt(r->end, ack)) {
            r->start = ack; /* a partial ACK of this segment */
            break;
        }
        q->head = (q->head + 1) & (q->cap - 1);
        q->len--;
    }
    if (q->len == 0)
        sn_rtxq_release(m, qp);
    return got;
}

void sn_rtxq_sack(struct sn_mem *m, struct sn_rtxq **qp, uint32_t left, uint32_t right)
{
    if (!*qp || !seq_lt(left, right))
        return;
    /* Split at the edges when there is room; a record the block's bound
     * leaves uncut and only partly SACKed stays unmarked. */
    (void)split_at(m, qp, left);
    (void)split_at(m, qp, right);
    struct sn_rtxq *q = *qp;
    int32_t i = sn_rtxq_find(q, left);
    if (i < 0) {
        if (q->len == 0 || !seq_lt(left, sn_rtxq_at(q, 0)->start))
            return;
        i = 0; /* the block starts below SND.UNA */
    }
    for (uint32_t k = (uint32_t)i; k < q->len; k++) {
        struct sn_rtxq_seg *r = sn_rtxq_at(q, k);
        if (!seq_lt(r->start, right))
            break;
        if (seq_geq(r->start, left) && seq_leq(r->end, right))
            r->flags |= SN_RTXQ_SACKED;
    }
}

void sn_rtxq_unsack(struct sn_rtxq *q)
{
    for (uint32_t k = 0; k < sn_rtxq_len(q); k++)
        sn_rtxq_at(q, k)->flags &= (uint8_t)~SN_RTXQ_SACKED;
}

/* ---- the connection's side ---- */

void sn_tcp_rtxq_sent(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq, uint32_t len,
                      uint16_t unit)
{
    if (sn_rtxq_sent(&s->mem, &tcb->rtxq, tcb->snd_una, tcb->snd_max, seq, len, (uint32_t)s->now,
                     unit) < 0)
        s->stats.tcp_rtxq_merged++;
}

void sn_tcp_rtxq_time(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq)
{
    (void)s;
    struct sn_rtxq *q = tcb->rtxq;
    /* RFC 6298 3: one segment timed at a time, never one sent twice. */
    if ((tcb->flags & SN_TF_RTT_TIMING) || !q || q->len == 0)
        return;
    const struct sn_rtxq_seg *last = sn_rtxq_at(q, q->len - 1);
    if (last->start != seq || (last->flags & (SN_RTXQ_RETRANS | SN_RTXQ_MERGED)))
        return;
    tcb->flags |= SN_TF_RTT_TIMING;
    q->timed = seq;
}

bool sn_tcp_rtxq_ack(struct synack_stack *s, struct sn_tcb *tcb, uint32_t ack, uint32_t *rtt)
{
    bool timing = (tcb->flags & SN_TF_RTT_TIMING) && tcb->rtxq;
    uint32_t timed = timing ? tcb->rtxq->timed : 0;
    struct sn_rtxq_seg rec;
    if (!sn_rtxq_ack(&s->mem, &tcb->rtxq, ack, timing ? &timed : NULL, &rec))
        return false;
    tcb->flags &= ~SN_TF_RTT_TIMING;
    /* Karn's rule (RFC 6298 3): not from a segment sent twice (any
     * retransmission stops the timing too, as it always did here). */
    if (rec.flags & (SN_RTXQ_RETRANS | SN_RTXQ_MERGED))
        return false;
    *rtt = (uint32_t)s->now - rec.sent;
    return true;
}
