/* The congestion-control registry and the helpers the algorithms share. */
#include "cc/cc.h"

#include <string.h>

#include "tcp/tcp_internal.h"

/* Index 0 is the default: a TCB stores the index of its algorithm in one
 * byte, and a zeroed TCB gets the default. */
static const struct sn_cc_algo *const algos[] = {&sn_cc_cubic, &sn_cc_newreno};
#define NALGOS (sizeof(algos) / sizeof(algos[0]))

const struct sn_cc_algo *sn_cc_at(uint8_t i) { return algos[i < NALGOS ? i : 0]; }

uint8_t sn_cc_index(const struct sn_cc_algo *a)
{
    for (uint8_t i = 0; i < NALGOS; i++)
        if (algos[i] == a)
            return i;
    return 0;
}

const struct sn_cc_algo *sn_cc_find(const char *name)
{
    for (size_t i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
        if (!strcmp(algos[i]->name, name))
            return algos[i];
    if (!strcmp(name, "reno"))
        return &sn_cc_newreno; /* Reno's window rules with NewReno's recovery */
    return NULL;
}

/* CUBIC, as Linux: the peer the interop tests compare against. */
const struct sn_cc_algo *sn_cc_default(void) { return algos[0]; }

uint32_t sn_cc_half_flight(const struct sn_tcb *tcb, uint32_t flight)
{
    uint32_t half = flight / 2, floor = 2u * tcb->mss;
    return half > floor ? half : floor;
}

void sn_cc_slow_start(struct sn_tcb *tcb, uint32_t acked)
{
    /* RFC 5681 3.1: cwnd += min(N, SMSS) per ACK.  A stretch ACK (a
     * receiver that ACKs once per batch: the kernel's GRO, synack's
     * tcp_ackbatch.c) stands for the delayed ACKs, one per two segments,
     * that it replaces, and counts as them: one SMSS per two segments
     * acknowledged (RFC 3465's byte counting; Linux counts every segment).
     * An ACK of up to two segments grows cwnd as before; none more than
     * doubles it (so a cumulative ACK after a timeout, covering data the
     * receiver kept, does not open it to ssthresh at once), and the
     * stretched part stops at ssthresh. */
    uint32_t inc = acked / 2;
    if (inc <= tcb->mss) {
        inc = acked < tcb->mss ? acked : tcb->mss;
    } else {
        if (inc > tcb->cwnd)
            inc = tcb->cwnd;
        uint32_t room = tcb->ssthresh - tcb->cwnd; /* callers: cwnd < ssthresh */
        if (inc > room)
            inc = room > tcb->mss ? room : tcb->mss;
    }
    tcb->cwnd += inc;
}

/* Appropriate byte counting (RFC 3465 2.1): one SMSS each time a full
 * window's worth of bytes has been acknowledged. */
void sn_cc_reno_avoid(struct sn_tcb *tcb, uint32_t acked)
{
    tcb->cwnd_acc += acked;
    if (tcb->cwnd_acc >= tcb->cwnd) {
        tcb->cwnd_acc -= tcb->cwnd;
        tcb->cwnd += tcb->mss;
    }
}
