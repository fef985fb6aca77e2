/* Out-of-order data (RFC 9293 3.10.7.4 seventh, RFC 5681 4.2).
 *
 * Data that arrives ahead of RCV.NXT is written straight into the receive
 * ring at its final place (after the readable bytes, at its distance from
 * RCV.NXT), and its range is recorded in tcb->ooo, sorted and merged.  When
 * the gap before it fills, the ranges that became contiguous are made
 * readable by extending the ring: no copy, no per-segment allocation, and the
 * memory is bounded by the receive buffer.  The ranges double as the SACK
 * blocks we report (RFC 2018). */
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

void sn_tcp_dsack(struct sn_tcb *tcb, uint32_t seq, uint32_t len)
{
    if (!(tcb->flags & SN_TF_SACK) || len == 0)
        return;
    tcb->dsack.left = seq;
    tcb->dsack.right = seq + len;
    tcb->flags |= SN_TF_DSACK | SN_TF_ACKNOW;
}

uint32_t sn_tcp_reass(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq,
                      const uint8_t *data, uint32_t len)
{
    (void)s;
    uint32_t off = tcb->rcv.len + (seq - tcb->rcv_nxt);
    if ((uint64_t)off + len > tcb->rcv.cap) {
        if (off >= tcb->rcv.cap)
            return 0;
        len = tcb->rcv.cap - off; /* never past the buffer, whatever the window said */
    }
    if (len == 0)
        return 0;
    if (seq != tcb->rcv_nxt) {
        for (uint8_t i = 0; i < tcb->nooo; i++)
            if (seq_leq(tcb->ooo[i].left, seq) && seq_geq(tcb->ooo[i].right, seq + len)) {
                sn_tcp_dsack(tcb, seq, len); /* held already: a duplicate */
                return 0;
            }
        /* A segment that would need one range too many is not kept: the
         * sender will retransmit it. */
        if (!sn_ranges_add(tcb->ooo, &tcb->nooo, SN_OOO_MAX, seq, seq + len, false))
            return 0;
        /* Most recent first (RFC 2018 4), one entry per arrival. */
        uint8_t n = tcb->nrecent < SYNACK_TCP_MAX_SACK ? tcb->nrecent : SYNACK_TCP_MAX_SACK - 1;
        memmove(&tcb->recent[1], &tcb->recent[0], n * sizeof(tcb->recent[0]));
        tcb->recent[0] = seq;
        tcb->nrecent = n + 1;
    }
    if (sn_ring_put_at(&tcb->rcv, off, data, len) < 0)
        return 0;
    if (seq != tcb->rcv_nxt)
        return 0;
    uint32_t start = tcb->rcv_nxt;
    sn_ring_extend(&tcb->rcv, len);
    tcb->rcv_nxt += len;
    /* Ranges the new data reaches are now in order. */
    while (tcb->nooo > 0 && seq_leq(tcb->ooo[0].left, tcb->rcv_nxt)) {
        if (seq_gt(tcb->ooo[0].right, tcb->rcv_nxt)) {
            sn_ring_extend(&tcb->rcv, tcb->ooo[0].right - tcb->rcv_nxt);
            tcb->rcv_nxt = tcb->ooo[0].right;
        }
        tcb->nooo--;
        memmove(&tcb->ooo[0], &tcb->ooo[1], (size_t)tcb->nooo * sizeof(tcb->ooo[0]));
    }
    return tcb->rcv_nxt - start;
}
