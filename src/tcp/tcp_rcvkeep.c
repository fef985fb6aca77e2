/* Receive rings that a read has just emptied keep their storage a little.
 *
 * A ring gives back its chunks and its table when it empties (tcp_buf.c),
 * so that an idle connection holds no buffer memory.  An application that
 * reads every segment as it comes empties its ring after every read, and
 * the next segment takes the table and a chunk back at once: about 200
 * instructions per segment of give and take (bench_sim, callgrind).  So a
 * read that empties the ring of a connection leaves the table and the chunk
 * under the head in place, and the connection goes on a short per-stack
 * list; the first clock step at least SN_RCV_KEEP_TIME later releases the
 * rings on the list that are still empty (the deadline is part of
 * synack_stack_next_deadline, so a driver that sleeps until then runs it).
 * The list holds SN_RCV_KEEP_MAX connections: past that a ring is released
 * at once, as before.  An idle connection therefore holds no chunk once
 * SN_RCV_KEEP_TIME has passed, and at most SN_RCV_KEEP_MAX connections
 * hold one meanwhile. */
#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

bool sn_tcp_rcv_keep(struct synack_stack *s, struct sn_tcb *tcb)
{
    bool first = s->nrcv_keep == 0;
    if (!sn_tcb_list_add(s->rcv_keep, &s->nrcv_keep, SN_RCV_KEEP_MAX, tcb))
        return false;
    if (first)
        s->rcv_keep_until = s->now + SN_RCV_KEEP_TIME;
    return true;
}

void sn_tcp_rcv_unkeep(struct synack_stack *s, struct sn_tcb *tcb)
{
    sn_tcb_list_del(s->rcv_keep, &s->nrcv_keep, tcb);
}

void sn_tcp_rcv_keep_expire(struct synack_stack *s)
{
    while (s->nrcv_keep > 0) {
        struct sn_tcb *tcb = s->rcv_keep[--s->nrcv_keep];
        /* Still empty and nothing parked past the end (out-of-order data
         * keeps the ring, as always): give the storage back. */
        if (tcb->rcv.len == 0 && sn_x(tcb)->nooo == 0)
            sn_ring_release(&tcb->rcv, &s->mem);
    }
    s->rcv_keep_until = SYNACK_TIME_NEVER;
}
