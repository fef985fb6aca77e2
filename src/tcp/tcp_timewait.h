/* TIME-WAIT as a compact record (tcp_timewait.c), in the manner of Linux's
 * inet_timewait_sock and FreeBSD's tcptw: when a connection enters
 * TIME-WAIT its TCB and buffers are freed and a record of at most 64 bytes
 * keeps what RFC 9293 asks of the state for 2*MSL.  The records live in
 * their own table, bounded by synack_config.max_timewait; when it is full
 * the oldest record is dropped, never the new connection (Linux's
 * tcp_max_tw_buckets). */
#ifndef SYNACK_TCP_TIMEWAIT_H
#define SYNACK_TCP_TIMEWAIT_H

#include <stdint.h>

#include "core/timer_wheel.h"
#include "synack/stack.h"

/* One record.  Links are indices + 1 into the table's array (0: none), so
 * the array can grow by reallocation. */
struct sn_tw {
    synack_time_t expires;      /* 2*MSL after the last (re)start */
    uint32_t hnext;             /* hash chain */
    uint32_t prev, next;        /* the expiry queue, oldest first */
    uint32_t conn_id;           /* for the state trace (TIME-WAIT -> CLOSED) */
    struct synack_tuple tuple;
    uint32_t rcv_nxt, snd_nxt;  /* RCV.NXT (past the peer's FIN), SND.NXT (past ours) */
    uint32_t ts_recent;         /* the peer's last TSval (RFC 7323) */
    uint32_t ts_offset;         /* our TSval clock's offset */
    uint32_t rcv_wnd;           /* the window we advertised, bytes */
    uint8_t rcv_wscale;
    uint8_t flags;              /* SN_TW_* */
};

#define SN_TW_TS    1u /* timestamps were in use */
#define SN_TW_BOUND 2u /* holds a reference on its local port */
#define SN_TW_USED  4u

_Static_assert(sizeof(struct sn_tw) <= 64, "a TIME-WAIT record is at most 64 bytes");

struct sn_tw_table {
    struct sn_tw *rec;          /* cap records; grows by doubling up to max */
    uint32_t *buckets;          /* nbuckets chain heads (index + 1) */
    uint32_t cap, nbuckets, count, max;
    uint32_t free;              /* free list through hnext */
    uint32_t head, tail;        /* expiry queue: head expires first */
    struct sn_timer timer;      /* armed for the head's expiry */
    uint32_t peak;              /* the most records held at once */
};

#endif
