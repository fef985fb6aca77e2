/* Loss recovery: fast retransmit and fast recovery.
 *
 * Without SACK: NewReno (RFC 6582 on RFC 5681 3.2): three duplicate ACKs
 * retransmit the first unacknowledged segment and inflate cwnd by one SMSS
 * per further duplicate; each partial ACK retransmits the next hole; a full
 * ACK (at or past "recover") ends recovery.
 * With SACK: the conservative algorithm of RFC 6675: the scoreboard tells
 * which holes are lost (IsLost) and how much is in flight (pipe); while
 * cwnd - pipe allows a segment, send the next lost one, else new data. */
#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

#define DUPTHRESH 3 /* RFC 5681 3.2, RFC 6675 2 */

/* RFC 5827 early retransmit: with fewer than four segments outstanding and
 * nothing new to send, three duplicates can never come; lower the
 * threshold to one less than the segments outstanding. */
unsigned sn_tcp_dupthresh(const struct sn_tcb *tcb)
{
    uint32_t flight = tcb->snd_max - tcb->snd_una;
    uint32_t oseg = (flight + tcb->mss - 1) / tcb->mss;
    bool unsent = tcb->snd_max - tcb->snd_una < tcb->snd.len;
    if (oseg >= DUPTHRESH + 1 || (unsent && flight < tcb->snd_wnd))
        return DUPTHRESH;
    return oseg > 2 ? oseg - 1 : 1;
}

static bool use_sack(const struct sn_tcb *tcb) { return (tcb->flags & SN_TF_SACK) != 0; }

/* Retransmit up to one MSS from seq, stopping at the next SACKed byte. */
static uint32_t retransmit_at(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq,
                              uint32_t limit)
{
    uint32_t data_end = tcb->snd_una + tcb->snd.len;
    uint32_t end = seq_min(limit, data_end);
    if (!seq_lt(seq, end)) {
        /* Only the FIN is outstanding: resend it. */
        if ((tcb->flags & SN_TF_FINSENT) && seq == data_end) {
            sn_tcp_send_segment(s, tcb, SYNACK_TH_ACK | SYNACK_TH_FIN, seq, 0);
            s->stats.tcp_retrans++;
            tcb->total_retrans++;
            return 1;
        }
        return 0;
    }
    const struct sn_tcb_ext *x = sn_x(tcb);
    for (uint8_t i = 0; i < x->nsacked; i++)
        if (seq_lt(seq, x->sacked[i].left))
            end = seq_min(end, x->sacked[i].left);
    uint32_t seg = sn_tcp_seg_room(tcb);
    uint32_t len = end - seq < seg ? end - seq : seg;
    uint8_t fl = SYNACK_TH_ACK | (seq + len == data_end ? SYNACK_TH_PSH : 0);
    sn_tcp_send_segment(s, tcb, fl, seq, len);
    tcb->flags &= ~SN_TF_RTT_TIMING; /* Karn */
    s->stats.tcp_retrans++;
    tcb->total_retrans++;
    return len;
}

static void enter_recovery(struct synack_stack *s, struct sn_tcb *tcb, uint32_t flight)
{
    tcb->flags |= SN_TF_RECOVERY;
    tcb->flags &= ~SN_TF_RESCUED;
    tcb->recover = tcb->snd_max;
    tcb->high_rxt = tcb->snd_una;
    s->stats.tcp_fast_retrans++;
    sn_tcp_cc_state_need(s, tcb);
    sn_tcb_cc(tcb)->on_signal(tcb, SN_CC_FAST_RETRANSMIT, flight, s->now);
    if (!use_sack(tcb))
        tcb->cwnd = tcb->ssthresh + tcb->dupacks * (uint32_t)tcb->mss; /* RFC 5681 3.2 step 4 */
    /* The fast retransmit itself goes out whatever cwnd says. */
    uint32_t n = retransmit_at(s, tcb, tcb->snd_una, tcb->snd_max);
    tcb->high_rxt = tcb->snd_una + n;
    sn_tcp_arm_rtx(s, tcb);
}

void sn_tcp_recovery_on_ack(struct synack_stack *s, struct sn_tcb *tcb, uint32_t acked, bool dup,
                            uint32_t flight_before)
{
    if (tcb->flags & SN_TF_RECOVERY) {
        if (seq_geq(tcb->snd_una, tcb->recover)) {
            /* A full ACK: recovery is over (RFC 6582 3.2 step 3). */
            tcb->flags &= ~SN_TF_RECOVERY;
            tcb->dupacks = 0;
            sn_tcp_cc_state_need(s, tcb);
            sn_tcb_cc(tcb)->on_recovery_end(tcb, s->now);
            return;
        }
        if (!use_sack(tcb)) {
            if (acked > 0) {
                /* RFC 6582 3.2 step 4: a partial ACK: resend the next hole,
                 * deflate cwnd by what was acked, add back one SMSS. */
                retransmit_at(s, tcb, tcb->snd_una, tcb->snd_max);
                tcb->cwnd = tcb->cwnd > acked ? tcb->cwnd - acked : tcb->mss;
                if (acked >= tcb->mss)
                    tcb->cwnd += tcb->mss;
            } else if (dup) {
                tcb->cwnd += tcb->mss; /* RFC 5681 3.2 step 5 */
            }
        }
        return; /* the caller's output sends what the window now allows */
    }
    if (acked > 0) {
        tcb->dupacks = 0;
        if (tcb->cwnd >= tcb->ssthresh)
            sn_tcp_cc_state_need(s, tcb);
        sn_tcb_cc(tcb)->on_ack(tcb, acked, s->now);
        return;
    }
    if (dup)
        tcb->dupacks++;
    /* RFC 6582 4.1: no new recovery for losses of the window already recovered. */
    if (!seq_geq(tcb->snd_una, tcb->recover))
        return;
    bool lost = tcb->dupacks >= sn_tcp_dupthresh(tcb) ||
                (use_sack(tcb) && seq_gt(sn_sack_lost_end(tcb), tcb->snd_una));
    if (lost)
        enter_recovery(s, tcb, flight_before);
}

/* RFC 6675 NextSeg rule (4): once per recovery, when nothing else may go,
 * one segment that ends with the highest outstanding un-SACKed data (the
 * tail above the highest SACKed byte), so that a lost tail is repaired
 * without waiting for the RTO.  HighRxt is not moved. */
static uint32_t rescue_retransmit(struct synack_stack *s, struct sn_tcb *tcb, uint32_t high_sack)
{
    if (tcb->flags & SN_TF_RESCUED)
        return 0;
    uint32_t end = seq_min(tcb->snd_una + tcb->snd.len, tcb->snd_max);
    if (!seq_lt(high_sack, end))
        return 0; /* the tail is SACKed: the holes below were resent already */
    uint32_t start = end - tcb->snd_una > tcb->mss ? end - tcb->mss : tcb->snd_una;
    start = seq_max(start, high_sack);
    tcb->flags |= SN_TF_RESCUED;
    return retransmit_at(s, tcb, start, end);
}

/* RFC 6675 5 step (C): while cwnd - pipe >= 1 SMSS, NextSeg() and send. */
void sn_tcp_recovery_output(struct synack_stack *s, struct sn_tcb *tcb)
{
    for (int guard = 0; guard < 1024; guard++) {
        uint32_t pipe = sn_sack_pipe(tcb);
        if (tcb->cwnd <= pipe || tcb->cwnd - pipe < tcb->mss)
            return;
        /* NextSeg (1): the first un-SACKed, lost, not yet retransmitted byte. */
        uint32_t seq = seq_max(tcb->high_rxt, tcb->snd_una), end;
        while (sn_sack_is_sacked(tcb, seq, &end))
            seq = end;
        uint32_t lost_end = sn_sack_lost_end(tcb);
        if (seq_lt(seq, lost_end) && seq_lt(seq, tcb->snd_max)) {
            uint32_t n = retransmit_at(s, tcb, seq, lost_end);
            if (n == 0)
                return;
            tcb->high_rxt = seq + n;
            continue;
        }
        /* NextSeg (2): new data, if the peer's window has room. */
        if (sn_tcp_output_new(s, tcb, tcb->cwnd - pipe) > 0)
            continue;
        /* NextSeg (3): no new data to send: an un-SACKed byte below the
         * highest SACKed one, not yet resent, goes even if not deemed lost. */
        const struct sn_tcb_ext *x = sn_x(tcb);
        uint32_t high_sack = x->nsacked ? x->sacked[x->nsacked - 1].right : tcb->snd_una;
        if (seq_lt(seq, high_sack)) {
            uint32_t n = retransmit_at(s, tcb, seq, high_sack);
            if (n == 0)
                return;
            tcb->high_rxt = seq + n;
            continue;
        }
        /* NextSeg (4): the rescue retransmission. */
        if (rescue_retransmit(s, tcb, high_sack) == 0)
            return;
    }
}

void sn_tcp_recovery_on_rto(struct synack_stack *s, struct sn_tcb *tcb)
{
    uint32_t flight = tcb->snd_max - tcb->snd_una;
    tcb->flags &= ~SN_TF_RECOVERY;
    tcb->dupacks = 0;
    /* RFC 2018 8: after a timeout the SACK information is discarded (the
     * receiver may have reneged on it, and RFC 6675 5.1 allows it): the
     * resending starts from SND.UNA and takes in new SACK blocks as they come. */
    sn_sack_clear(tcb);
    /* RFC 6582 4.1: losses of the window sent so far start no new fast recovery. */
    tcb->recover = tcb->snd_max;
    tcb->high_rxt = tcb->snd_una;
    /* RFC 5681 3.1 eq. 4 is applied once per loss episode, not per backoff. */
    if (tcb->rtx_count <= 1)
    {
        sn_tcp_cc_state_need(s, tcb);
        sn_tcb_cc(tcb)->on_signal(tcb, SN_CC_RTO, flight, s->now);
    }
    else
        tcb->cwnd = tcb->mss;
}
