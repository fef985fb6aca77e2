/* Round-trip time estimation and the retransmission timeout (RFC 6298).
 * Times in microseconds.  The clock granularity G is 1 us here, so the
 * max(G, K*RTTVAR) term is K*RTTVAR; the floor is cfg.rto_min (RFC 6298 2.4
 * says 1 s; Linux and most stacks use 200 ms, and so does synack by default). */
#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

static uint32_t clamp_rto(const struct synack_stack *s, uint64_t rto)
{
    if (rto < s->cfg.rto_min)
        rto = s->cfg.rto_min;
    if (rto > s->cfg.rto_max)
        rto = s->cfg.rto_max;
    return (uint32_t)rto;
}

/* RFC 6298 2.1: before any measurement, RTO = 1 s (configurable). */
void sn_tcp_rtt_init(struct synack_stack *s, struct sn_tcb *tcb)
{
    tcb->srtt = 0;
    tcb->rttvar = 0;
    tcb->rto = clamp_rto(s, s->cfg.rto_initial);
}

void sn_tcp_rtt_sample(struct synack_stack *s, struct sn_tcb *tcb, synack_time_t rtt)
{
    if (rtt == 0)
        rtt = 1;
    if (rtt > UINT32_MAX)
        rtt = UINT32_MAX;
    uint32_t r = (uint32_t)rtt;
    if (tcb->srtt == 0) {
        /* RFC 6298 2.2: the first measurement. */
        tcb->srtt = r;
        tcb->rttvar = r / 2;
    } else {
        /* RFC 6298 2.3, alpha = 1/8, beta = 1/4. */
        uint32_t delta = tcb->srtt > r ? tcb->srtt - r : r - tcb->srtt;
        tcb->rttvar = tcb->rttvar - tcb->rttvar / 4 + delta / 4;
        tcb->srtt = tcb->srtt - tcb->srtt / 8 + r / 8;
    }
    tcb->rto = clamp_rto(s, (uint64_t)tcb->srtt + 4ull * tcb->rttvar);
}
