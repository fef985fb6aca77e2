/* The sender's SACK scoreboard (RFC 2018, RFC 6675 section 4).
 *
 * x->sacked (in the TCB's out-of-line block, tcp_ext.c) holds the ranges above SND.UNA that the receiver reported
 * holding, sorted and disjoint.  From them come the two quantities loss
 * recovery needs: which un-SACKed bytes are lost (IsLost) and how much is
 * still in the network (SetPipe). */
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"


static void recount(struct sn_tcb_ext *x)
{
    uint32_t n = 0;
    for (uint8_t i = 0; i < x->nsacked; i++)
        n += x->sacked[i].right - x->sacked[i].left;
    x->sacked_bytes = n;
}

bool sn_ranges_add(struct synack_sack_block *r, uint8_t *count, uint8_t max, uint32_t left,
                   uint32_t right, bool evict)
{
    uint8_t n = *count, i = 0;
    while (i < n && seq_lt(r[i].right, left))
        i++;
    if (i < n && seq_leq(r[i].left, right)) {
        /* Overlaps or touches r[i]: widen it, then swallow the ones it reaches. */
        r[i].left = seq_min(r[i].left, left);
        r[i].right = seq_max(r[i].right, right);
        uint8_t j = i + 1;
        while (j < n && seq_leq(r[j].left, r[i].right)) {
            r[i].right = seq_max(r[i].right, r[j].right);
            j++;
        }
        memmove(&r[i + 1], &r[j], (size_t)(n - j) * sizeof(r[0]));
        *count = (uint8_t)(n - (j - i - 1));
        return true;
    }
    if (n == max) {
        if (!evict || i == n)
            return false;
        n--; /* forget the highest range to make room */
    }
    memmove(&r[i + 1], &r[i], (size_t)(n - i) * sizeof(r[0]));
    r[i].left = left;
    r[i].right = right;
    *count = n + 1;
    return true;
}

bool sn_ranges_fit(const struct synack_sack_block *r, uint8_t n, uint32_t left, uint32_t right)
{
    for (uint8_t i = 0; i < n; i++)
        if (seq_leq(r[i].left, right) && seq_leq(left, r[i].right))
            return true;
    return false;
}

void sn_sack_update(struct synack_stack *s, struct sn_tcb *tcb, const struct synack_tcp_opts *o)
{
    if (!(tcb->flags & SN_TF_SACK) || !(o->present & SYNACK_TCPOPT_F_SACK))
        return;
    struct sn_tcb_ext *x = NULL;
    for (uint8_t k = 0; k < o->nsack; k++) {
        uint32_t left = o->sack[k].left, right = o->sack[k].right;
        /* RFC 2018 4 / RFC 6675 4: only blocks inside what is outstanding
         * count; a block at or below SND.UNA is a D-SACK (RFC 2883) or stale.
         * One that starts below SND.UNA and ends above it is neither a valid
         * SACK (the receiver would have acknowledged its left part and what
         * follows) nor a D-SACK (a duplicate lies wholly below the ACK):
         * ignored, as Linux's tcp_is_sackblock_valid() does, rather than
         * clipped into a block that would mark the hole at SND.UNA SACKed. */
        if (!seq_lt(left, right) || seq_lt(left, tcb->snd_una) || seq_gt(right, tcb->snd_max))
            continue;
        if (!x && !(x = sn_tcb_ext_get(s, tcb)))
            return; /* no memory: the block is forgotten, as if never sent */
        sn_ranges_add(x->sacked, &x->nsacked, SN_SACK_MAX, left, right, true);
        sn_rtxq_sack(&s->mem, &tcb->rtxq, left, right);
    }
    if (x)
        recount(x);
}

void sn_sack_advance(struct sn_tcb *tcb)
{
    struct sn_tcb_ext *x = tcb->x;
    if (!x || x->nsacked == 0)
        return;
    uint8_t i = 0;
    while (i < x->nsacked && seq_leq(x->sacked[i].right, tcb->snd_una))
        i++;
    if (i) {
        memmove(&x->sacked[0], &x->sacked[i], (size_t)(x->nsacked - i) * sizeof(x->sacked[0]));
        x->nsacked -= i;
    }
    /* RFC 2018 8: an ACK that stops at (or inside) a range the receiver
     * SACKed means it reneged: it threw away what it had reported holding.
     * Nothing it SACKed can be trusted; forget it all, so that the data
     * is sent again rather than skipped for ever. */
    if (x->nsacked && seq_leq(x->sacked[0].left, tcb->snd_una)) {
        x->nsacked = 0;
        sn_rtxq_unsack(tcb->rtxq);
    }
    recount(x);
}

void sn_sack_clear(struct sn_tcb *tcb)
{
    sn_rtxq_unsack(tcb->rtxq);
    if (!tcb->x)
        return;
    tcb->x->nsacked = 0;
    tcb->x->sacked_bytes = 0;
}

bool sn_sack_is_sacked(const struct sn_tcb *tcb, uint32_t seq, uint32_t *end)
{
    const struct sn_tcb_ext *x = sn_x(tcb);
    for (uint8_t i = 0; i < x->nsacked; i++) {
        if (seq_lt(seq, x->sacked[i].left))
            return false;
        if (seq_lt(seq, x->sacked[i].right)) {
            *end = x->sacked[i].right;
            return true;
        }
    }
    return false;
}

/* RFC 6675 4 IsLost(SeqNumber): DupThresh discontiguous SACKed ranges above
 * it, or more than (DupThresh - 1) * SMSS bytes SACKed above it.  Holes lie
 * between ranges, so the boundary is the left edge of the highest range at
 * which either holds. */
uint32_t sn_sack_lost_end(const struct sn_tcb *tcb)
{
    const struct sn_tcb_ext *x = sn_x(tcb);
    unsigned dupthresh = sn_tcp_dupthresh(tcb), blocks = 0;
    uint32_t above = 0, need = (dupthresh - 1u) * tcb->mss;
    for (int i = (int)x->nsacked - 1; i >= 0; i--) {
        above += x->sacked[i].right - x->sacked[i].left;
        if (above > need || ++blocks >= dupthresh)
            return x->sacked[i].left;
    }
    return tcb->snd_una;
}

/* Bytes SACKed within [a, b). */
static uint32_t sacked_within(const struct sn_tcb *tcb, uint32_t a, uint32_t b)
{
    const struct sn_tcb_ext *x = sn_x(tcb);
    uint32_t n = 0;
    for (uint8_t i = 0; i < x->nsacked; i++) {
        uint32_t l = seq_max(a, x->sacked[i].left), r = seq_min(b, x->sacked[i].right);
        if (seq_lt(l, r))
            n += r - l;
    }
    return n;
}

/* RFC 6675 4 SetPipe: outstanding bytes, less those SACKed, less those
 * deemed lost and not yet retransmitted, plus those retransmitted though
 * not deemed lost. */
uint32_t sn_sack_pipe(const struct sn_tcb *tcb)
{
    uint32_t flight = tcb->snd_max - tcb->snd_una;
    uint32_t lost_end = sn_sack_lost_end(tcb);
    uint32_t from = seq_max(tcb->high_rxt, tcb->snd_una);
    uint32_t lost = 0;
    if (seq_lt(from, lost_end))
        lost = (lost_end - from) - sacked_within(tcb, from, lost_end);
    /* A retransmitted byte not deemed lost counts twice: the original may
     * still be in the network (NextSeg rule 3 sends such bytes). */
    uint32_t twice = 0, lo = seq_max(lost_end, tcb->snd_una);
    if (seq_lt(lo, tcb->high_rxt))
        twice = (tcb->high_rxt - lo) - sacked_within(tcb, lo, tcb->high_rxt);
    uint32_t gone = sn_x(tcb)->sacked_bytes + lost;
    return (flight > gone ? flight - gone : 0) + twice;
}
