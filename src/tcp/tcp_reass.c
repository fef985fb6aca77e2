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

/* Record [left, right) among the out-of-order ranges, merging neighbours.
 * Returns false when the table is full and the range touches none (the data
 * is then not kept: the sender will retransmit it). */
static bool ooo_add(struct sn_tcb *tcb, uint32_t left, uint32_t right)
{
    uint8_t n = tcb->nooo, i = 0;
    while (i < n && seq_lt(tcb->ooo[i].right, left))
        i++;
    if (i < n && seq_leq(tcb->ooo[i].left, right)) {
        /* Overlaps or touches ooo[i]: widen it, then swallow the ones it reaches. */
        tcb->ooo[i].left = seq_min(tcb->ooo[i].left, left);
        tcb->ooo[i].right = seq_max(tcb->ooo[i].right, right);
        uint8_t j = i + 1;
        while (j < n && seq_leq(tcb->ooo[j].left, tcb->ooo[i].right)) {
            tcb->ooo[i].right = seq_max(tcb->ooo[i].right, tcb->ooo[j].right);
            j++;
        }
        memmove(&tcb->ooo[i + 1], &tcb->ooo[j], (size_t)(n - j) * sizeof(tcb->ooo[0]));
        tcb->nooo = (uint8_t)(n - (j - i - 1));
        return true;
    }
    if (n == SN_OOO_MAX)
        return false;
    memmove(&tcb->ooo[i + 1], &tcb->ooo[i], (size_t)(n - i) * sizeof(tcb->ooo[0]));
    tcb->ooo[i].left = left;
    tcb->ooo[i].right = right;
    tcb->nooo = n + 1;
    return true;
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
        if (!ooo_add(tcb, seq, seq + len))
            return 0;
        tcb->ooo_recent = seq;
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
