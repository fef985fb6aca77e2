/* The connection invariant checker (test and fuzz builds).
 *
 * sn_check_tcb() states what must hold for a connection between two entry
 * points: sequence-space order, buffer accounting, the SACK scoreboard and
 * the out-of-order ranges, the timers against the state.  sn_check_packet()
 * states what every datagram the stack sends must be: no larger than the
 * MTU, well formed, checksums right.  Both only read; they never change the
 * stack.  Compiled with SYNACK_INVARIANTS (CMake option of the same name,
 * on in sanitizer and fuzz builds) the stack itself runs them at the end of
 * every public entry point and on every packet it sends, and reports a
 * violation through sn_check_fail() (src/sim/sim_check.c: prints, aborts).
 * Without it, nothing calls them (zero cost); tests may call them directly. */
#ifndef SYNACK_TCP_CHECK_H
#define SYNACK_TCP_CHECK_H

#include <stddef.h>
#include <stdint.h>

struct synack_stack;
struct sn_tcb;

struct sn_check_report {
    const char *what;     /* the invariant that does not hold */
    uint32_t conn_id;     /* 0 for a packet or stack-wide invariant */
    uint8_t state;        /* the connection's state */
    uint64_t a, b;        /* the values compared */
};

/* 0 when every invariant holds, else -1 and *r says which failed. */
int sn_check_tcb(const struct synack_stack *s, const struct sn_tcb *tcb,
                 struct sn_check_report *r);
/* Check the connections of the stack.  With cursor NULL, all of them; with
 * a cursor, at most a bounded slice per call, resuming where the previous
 * call stopped (so that a stack with 100,000 connections is not walked
 * whole after every packet). */
int sn_check_stack(const struct synack_stack *s, uint32_t *cursor, struct sn_check_report *r);
/* A datagram the stack is about to send; m (or NULL) its offload
 * descriptor: a partial checksum is not verified, a TSO packet's wire
 * segments (hdr_len + gso_size) must fit the MTU instead of the whole. */
struct synack_pkt_meta;
int sn_check_packet(const struct synack_stack *s, const uint8_t *pkt, size_t len,
                    const struct synack_pkt_meta *m, struct sn_check_report *r);

/* Report a violation (defined outside the core: src/sim/sim_check.c prints
 * it to stderr and aborts).  `where` names the entry point. */
void sn_check_fail(const struct synack_stack *s, const char *where,
                   const struct sn_check_report *r);
/* sn_check_stack + sn_check_fail: for drivers and tests. */
void sn_check_assert(const struct synack_stack *s, const char *where);

#endif
