/* Out-of-order data (RFC 9293 3.10.7.4 seventh, RFC 5681 4.2).
 *
 * Data that arrives ahead of RCV.NXT is written straight into the receive
 * ring at its final place (after the readable bytes, at its distance from
 * RCV.NXT), and its range is recorded in x->ooo (out of line, tcp_ext.c),
 * sorted and merged.  When the gap before it fills, the ranges that became
 * contiguous are made readable by extending the ring: no copy, allocation
 * only of the buffer chunks the data lands in, and the memory is bounded by
 * the receive buffer.  The ranges double as the SACK
 * blocks we report (RFC 2018). */
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

void sn_tcp_dsack(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq, uint32_t len)
{
    if (!(tcb->flags & SN_TF_SACK) || len == 0)
        return;
    struct sn_tcb_ext *x = sn_tcb_ext_get(s, tcb);
    if (!x)
        return; /* no memory: the duplicate goes unreported */
    x->dsack.left = seq;
    x->dsack.right = seq + len;
    tcb->flags |= SN_TF_DSACK | SN_TF_ACKNOW;
}

uint32_t sn_tcp_reass(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq,
                      const uint8_t *data, uint32_t len)
{
    uint32_t off = tcb->rcv.len + (seq - tcb->rcv_nxt);
    if ((uint64_t)off + len > tcb->rcv.cap) {
        if (off >= tcb->rcv.cap)
            return 0;
        len = tcb->rcv.cap - off; /* never past the buffer, whatever the window said */
    }
    if (len == 0)
        return 0;
    /* RFC 2883 4: the part of this segment that is parked already (the
     * first such part, when new data comes with it) is a duplicate and is
     * reported first, in a D-SACK block. */
    bool dup_all = false;
    const struct sn_tcb_ext *rx = sn_x(tcb);
    for (uint8_t i = 0; i < rx->nooo; i++) {
        uint32_t l = seq_max(seq, rx->ooo[i].left), r = seq_min(seq + len, rx->ooo[i].right);
        if (seq_lt(l, r)) {
            sn_tcp_dsack(s, tcb, l, r - l);
            dup_all = l == seq && r == seq + len;
            break;
        }
    }
    if (seq != tcb->rcv_nxt) {
        /* Store first: a segment that cannot be stored leaves no range. */
        struct sn_tcb_ext *x = sn_tcb_ext_get(s, tcb);
        if (!x || (!dup_all && ((x->nooo == SN_OOO_MAX &&
                                 !sn_ranges_fit(x->ooo, x->nooo, seq, seq + len)) ||
                                sn_ring_put_at(&tcb->rcv, &s->mem, off, data, len) < 0))) {
            sn_tcb_ext_trim(s, tcb);
            return 0; /* not kept: the sender will retransmit it */
        }
        if (!dup_all)
            sn_ranges_add(x->ooo, &x->nooo, SN_OOO_MAX, seq, seq + len, false);
        /* Most recent first (RFC 2018 4), one entry per arrival; after a
         * D-SACK block comes the range holding the duplicate (RFC 2883 4). */
        uint8_t n = x->nrecent < SYNACK_TCP_MAX_SACK ? x->nrecent : SYNACK_TCP_MAX_SACK - 1;
        memmove(&x->recent[1], &x->recent[0], n * sizeof(x->recent[0]));
        x->recent[0] = seq;
        x->nrecent = n + 1;
        return 0;
    }
    if (sn_ring_put_at(&tcb->rcv, &s->mem, off, data, len) < 0)
        return 0;
    uint32_t start = tcb->rcv_nxt;
    sn_ring_extend(&tcb->rcv, len);
    tcb->rcv_nxt += len;
    /* Ranges the new data reaches are now in order. */
    struct sn_tcb_ext *x = tcb->x;
    while (x && x->nooo > 0 && seq_leq(x->ooo[0].left, tcb->rcv_nxt)) {
        if (seq_gt(x->ooo[0].right, tcb->rcv_nxt)) {
            sn_ring_extend(&tcb->rcv, x->ooo[0].right - tcb->rcv_nxt);
            tcb->rcv_nxt = x->ooo[0].right;
        }
        x->nooo--;
        memmove(&x->ooo[0], &x->ooo[1], (size_t)x->nooo * sizeof(x->ooo[0]));
    }
    if (x && x->nooo == 0)
        x->nrecent = 0; /* nothing parked: old positions must not outlive a wrap */
    return tcb->rcv_nxt - start;
}
