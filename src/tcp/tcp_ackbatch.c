/* ACKs per input batch: the every-second-segment ACK of a connection waits
 * for the end of the driver's batch (SYNACK_RX_BATCH, then
 * synack_stack_input_flush), within bounds.
 *
 * RFC 1122 4.2.3.2 and RFC 9293 3.8.6.3 ask for an ACK at least every second
 * full-sized segment (RFC 5681 4.2: SHOULD).  A driver that reads many
 * packets at one wake-up is where Linux's GRO stands: GRO merges up to
 * 64 KiB of one flow's back-to-back segments before TCP sees them, and TCP
 * then ACKs the merged segment once.  A batch gets the same here: one ACK
 * per connection at the flush, but never more than 64 KiB
 * (SN_ACK_BATCH_BYTES, GRO's bound) or half the window we last advertised
 * unacknowledged, nor more than SN_ACK_BATCH_SEGS segments; past either
 * bound the ACK goes at once, as it would without a batch, so the sender's
 * ACK clock never stalls on a long batch.  Only that ACK waits: out-of-order
 * data, a filled gap, a duplicate, a FIN, quick-ACK mode and the window
 * updates of the output still go at once (tcp_input.c sets SN_TF_ACKNOW for
 * them), and any segment we send meanwhile carries the ACK.  A driver that
 * never flushes gets the delayed ACK's 40 ms (RFC 1122 4.2.3.2's bound of
 * 0.5 s is kept): the timer is armed while an ACK waits. */
#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

bool sn_tcp_ack_hold(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (!(s->rx_flags & SYNACK_RX_BATCH))
        return false;
    uint32_t unacked = tcb->rcv_nxt - tcb->last_ack_sent;
    uint32_t half_wnd = (tcb->rcv_adv - tcb->last_ack_sent) / 2;
    uint32_t cap = half_wnd < SN_ACK_BATCH_BYTES ? half_wnd : SN_ACK_BATCH_BYTES;
    if (unacked >= cap || tcb->segs_since_ack >= SN_ACK_BATCH_SEGS)
        return false;
    if (!sn_tcb_list_add(s->ack_held, &s->nack_held, SN_ACK_HELD_MAX, tcb))
        return false; /* more connections in one batch than we track: ACK now */
    if (tcb->deadline[SN_TT_DELACK] == SYNACK_TIME_NEVER)
        sn_tcp_timer_set(s, tcb, SN_TT_DELACK, s->now + SYNACK_MSEC(40));
    return true;
}

void sn_tcp_ack_unhold(struct synack_stack *s, struct sn_tcb *tcb)
{
    sn_tcb_list_del(s->ack_held, &s->nack_held, tcb);
}

void sn_tcp_ack_flush(struct synack_stack *s)
{
    /* Each connection leaves the list before its output, which may end it
     * (sn_tcb_free unholds what is still listed). */
    while (s->nack_held > 0) {
        struct sn_tcb *tcb = s->ack_held[--s->nack_held];
        /* segs_since_ack is cleared by any segment that carried the ACK. */
        if (tcb->segs_since_ack >= 2) {
            tcb->flags |= SN_TF_ACKNOW;
            sn_tcp_output(s, tcb);
        }
    }
}
