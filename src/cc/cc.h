/* Congestion control: a small table of optional hooks per algorithm, chosen
 * per connection at run time (TCP_CONGESTION), in the manner of FreeBSD's
 * cc(4).  The engine does the shared bookkeeping (flight size, recovery
 * state, RTT) and then calls the hook; a hook only moves cwnd and ssthresh
 * and keeps its own state in sn_cc_state(tcb) (out of line: NULL when memory is
 * short, and the hook then does without, e.g. CUBIC falls back to Reno).  A new algorithm is one new file
 * that defines a `const struct sn_cc_algo` and one line in cc.c's table.
 *
 * Units: cwnd and ssthresh in bytes, times in microseconds. */
#ifndef SYNACK_CC_H
#define SYNACK_CC_H

#include <stddef.h>
#include <stdint.h>

#include "synack/base.h"

struct sn_tcb;

/* Why the window must shrink. */
enum sn_cc_signal {
    SN_CC_FAST_RETRANSMIT, /* loss detected by duplicate ACKs or SACK (RFC 5681 3.2, RFC 6675) */
    SN_CC_RTO,             /* the retransmission timer fired (RFC 5681 3.1 eq. 4) */
};

/* Room for an algorithm's per-connection state inside the TCB. */
#define SN_CC_STATE_SIZE 48

struct sn_cc_algo {
    const char *name;
    /* Bytes of per-connection state it keeps (<= SN_CC_STATE_SIZE; 0: none).
     * The state is all zero until the hooks write it; the engine provides
     * it before on_signal, on_recovery_end, and on_ack outside slow start. */
    uint16_t state_size;
    /* The connection is established: set any state (cwnd and ssthresh hold
     * the initial window and "infinity"). */
    void (*init)(struct sn_tcb *tcb, synack_time_t now);
    /* `acked` new bytes were cumulatively acknowledged outside loss recovery. */
    void (*on_ack)(struct sn_tcb *tcb, uint32_t acked, synack_time_t now);
    /* A congestion signal: set ssthresh (and cwnd). `flight` is the data
     * outstanding when the loss was detected. */
    void (*on_signal)(struct sn_tcb *tcb, enum sn_cc_signal sig, uint32_t flight,
                      synack_time_t now);
    /* Loss recovery ended with a full ACK (RFC 6582 3.2 step 3, RFC 6675 5). */
    void (*on_recovery_end)(struct sn_tcb *tcb, synack_time_t now);
    /* No RTT hook: an algorithm that needs the RTT reads tcb->srtt (and
     * the engine's samples come from several places, not one). */
};

extern const struct sn_cc_algo sn_cc_newreno;
extern const struct sn_cc_algo sn_cc_cubic;

/* The algorithm called `name`, or NULL. */
const struct sn_cc_algo *sn_cc_find(const char *name);
/* The algorithm a new connection starts with (index 0). */
const struct sn_cc_algo *sn_cc_default(void);
/* By index (a TCB keeps its algorithm's index in one byte), and back. */
const struct sn_cc_algo *sn_cc_at(uint8_t i);
uint8_t sn_cc_index(const struct sn_cc_algo *a);

/* Shared helpers for the modules (cc.c). */
/* RFC 5681 3.1 eq. 4: max(FlightSize / 2, 2 * SMSS). */
uint32_t sn_cc_half_flight(const struct sn_tcb *tcb, uint32_t flight);
/* Slow start (RFC 5681 3.1): min(acked, SMSS) per ACK, and a stretch ACK
 * counts as the delayed ACKs it replaces (one SMSS per two segments, at
 * most doubling cwnd; cc.c).  Call only while cwnd < ssthresh. */
void sn_cc_slow_start(struct sn_tcb *tcb, uint32_t acked);
/* RFC 5681 3.1 eq. 3: about one SMSS per RTT in congestion avoidance. */
void sn_cc_reno_avoid(struct sn_tcb *tcb, uint32_t acked);

#endif
