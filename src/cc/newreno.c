/* Reno window rules (RFC 5681); the NewReno recovery itself (RFC 6582) is
 * the engine's (tcp_recovery.c), as it is shared with SACK recovery. */
#include "cc/cc.h"
#include "tcp/tcp_internal.h"

static void newreno_on_ack(struct sn_tcb *tcb, uint32_t acked, synack_time_t now)
{
    (void)now;
    if (tcb->cwnd < tcb->ssthresh)
        sn_cc_slow_start(tcb, acked);
    else
        sn_cc_reno_avoid(tcb, acked);
}

static void newreno_on_signal(struct sn_tcb *tcb, enum sn_cc_signal sig, uint32_t flight,
                              synack_time_t now)
{
    (void)now;
    tcb->ssthresh = sn_cc_half_flight(tcb, flight);
    tcb->cwnd_acc = 0;
    /* RFC 5681 3.1: after a timeout the loss window is one segment; on fast
     * retransmit the engine sets cwnd for the recovery it runs. */
    tcb->cwnd = sig == SN_CC_RTO ? tcb->mss : tcb->ssthresh;
}

/* RFC 6582 3.2 step 3, option 1: deflate to ssthresh. */
static void newreno_on_recovery_end(struct sn_tcb *tcb, synack_time_t now)
{
    (void)now;
    tcb->cwnd = tcb->ssthresh;
}

const struct sn_cc_algo sn_cc_newreno = {
    .name = "newreno",
    .on_ack = newreno_on_ack,
    .on_signal = newreno_on_signal,
    .on_recovery_end = newreno_on_recovery_end,
};
