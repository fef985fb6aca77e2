/* The SYN cache: half-open connections as small records, not connection
 * blocks (RFC 4987 3.3; FreeBSD's syncache, Linux's request_sock), and SYN
 * cookies when it is full (RFC 4987 3.6).  See tcp_syncache.c. */
#ifndef SYNACK_TCP_SYNCACHE_H
#define SYNACK_TCP_SYNCACHE_H

#include <stdint.h>

#include "synack/stack.h"

struct sn_tcb;

/* Retransmission levels: the entries whose next SYN-ACK is their k-th wait
 * the same interval, so one FIFO per level stays sorted by deadline. */
#define SN_SYNQ_LEVELS 8

/* One half-open connection: 80 bytes on LP64 (a TCB is over 700, plus
 * its buffers once used).  test_syncache checks the size. */
struct sn_syn_entry {
    struct sn_syn_entry *hnext;         /* hash chain */
    struct sn_syn_entry *qprev, *qnext; /* its level's FIFO */
    struct sn_tcb *listener;
    struct synack_tuple tuple;
    uint32_t irs, iss;
    uint32_t ts_recent;                 /* the peer's TSval, echoed */
    uint32_t conn_id;                   /* for the trace hook */
    uint32_t ts_offset;                 /* our TSval offset, computed with the ISN */
    synack_time_t deadline;             /* next SYN-ACK retransmission */
    uint16_t peer_mss;                  /* the MSS option's value (SN_SYN_F_MSS) */
    uint8_t peer_wscale;                /* SN_SYN_NO_WSCALE: not offered */
    uint8_t flags;                      /* SN_SYN_F_* */
    uint8_t rtx;                        /* SYN-ACKs retransmitted */
};
#define SN_SYN_NO_WSCALE 0xff
#define SN_SYN_F_SACK 1u
#define SN_SYN_F_TS   2u
#define SN_SYN_F_MSS  4u   /* the SYN had an MSS option (peer_mss) */
#define SN_SYN_F_RESENT 8u /* the SYN-ACK was sent again for a repeated SYN: no RTT sample */

struct sn_syncache {
    struct sn_syn_entry **buckets;
    uint32_t nbuckets;                  /* a power of two */
    uint32_t count, peak;
    struct sn_syn_entry *head[SN_SYNQ_LEVELS], *tail[SN_SYNQ_LEVELS];
    synack_time_t last_cookie;          /* when the last cookie was sent (0: never) */
    synack_time_t hint;                 /* <= every entry's deadline (as sn_wheel's hint) */
};

/* The hint, read inline by the stack's clock (sn_syncache_next is the same
 * for code that has only the stack). */
static inline synack_time_t sn_syncache_hint(const struct sn_syncache *c) { return c->hint; }

#endif
