/* Orphans: connections their application has closed that still hold state
 * (Linux's orphaned sockets; RFC 9293 3.10.4: after CLOSE the connection
 * goes on delivering the data queued before it and its FIN).
 *
 * A peer that never opens its window, or never acknowledges, keeps every
 * such connection, with its unsent data, for minutes (SN_TCP_ORPHAN_RETRIES
 * probes or retransmissions with backoff).  An application that opens and
 * closes connections to it could then fill the stack's memory with data
 * nobody will ever read.  So, as Linux's tcp_close and
 * tcp_out_of_resources do:
 *   - at most cfg.max_orphans exist (Linux's tcp_max_orphans): a close
 *     that would make one more resets its connection (RST) instead of
 *     leaving it;
 *   - an orphan with data queued is reset when it is closed, and when its
 *     retransmission or persist timer fires, if the memory budget
 *     (cfg.mem_max) is spent: orphans go first, before connections whose
 *     application still waits on them.
 * Both count stats.tcp_abort_on_memory (Linux's TCPAbortOnMemory).
 *
 * Which connections are orphans is a property of the TCB, not a flag: no
 * descriptor, not on an accept queue, in a state only our FIN leads to
 * (sn_tcb_orphan; TIME-WAIT is not one: it has its own records and
 * bound).  A TCB enters that set when its last descriptor is closed
 * (sn_tcp_orphan_closing, or the FIN that close queues) and leaves it by
 * changing state to TIME-WAIT or CLOSED (sn_tcp_orphan_moved, from
 * sn_tcp_set_state); stats.tcp_orphans counts the set, and the invariant
 * checker (tcp_check.c) recounts it.
 */
#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

bool sn_tcp_orphan_state(uint8_t st)
{
    return st == SYNACK_FIN_WAIT_1 || st == SYNACK_FIN_WAIT_2 || st == SYNACK_CLOSING ||
           st == SYNACK_LAST_ACK;
}

bool sn_tcb_orphan(const struct sn_tcb *tcb)
{
    return tcb->refs == 0 && !(tcb->flags & SN_TF_ACCEPTQ) && sn_tcp_orphan_state(tcb->state);
}

/* (The peak is taken in sn_tcp_orphan_closed, once the limit is applied.) */
static void count_in(struct synack_stack *s)
{
    s->stats.tcp_orphans++;
}

void sn_tcp_orphan_moved(struct synack_stack *s, const struct sn_tcb *tcb, uint8_t from, uint8_t to)
{
    if (tcb->refs != 0 || (tcb->flags & SN_TF_ACCEPTQ))
        return;
    bool was = sn_tcp_orphan_state(from), is = sn_tcp_orphan_state(to);
    if (was && !is && s->stats.tcp_orphans > 0)
        s->stats.tcp_orphans--;
    else if (!was && is)
        count_in(s);
}

/* The budget cannot take one more buffer chunk (Linux's tcp_out_of_memory:
 * tcp_mem's hard limit reached), and this connection holds queued data. */
static bool out_of_memory(const struct synack_stack *s, const struct sn_tcb *tcb)
{
    return tcb->snd.len > 0 && s->mem.limit && s->mem.used + SN_BUF_CHUNK > s->mem.limit;
}

static void abort_orphan(struct synack_stack *s, struct sn_tcb *tcb)
{
    s->stats.tcp_abort_on_memory++;
    sn_tcp_send_rst(s, tcb);
    sn_tcp_drop(s, tcb, 0);
}

void sn_tcp_orphan_closing(struct synack_stack *s, const struct sn_tcb *tcb)
{
    /* Shut down for sending before its last close: an orphan from now on. */
    if (sn_tcb_orphan(tcb))
        count_in(s);
}

void sn_tcp_orphan_closed(struct synack_stack *s, struct sn_tcb *tcb)
{
    /* The count includes this one, as Linux's too_many_orphans does. */
    if (sn_tcb_orphan(tcb) && (s->stats.tcp_orphans > s->cfg.max_orphans || out_of_memory(s, tcb)))
        abort_orphan(s, tcb);
    if (s->stats.tcp_orphans > s->stats.tcp_orphans_peak)
        s->stats.tcp_orphans_peak = s->stats.tcp_orphans;
}

bool sn_tcp_orphan_timer_oom(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (!sn_tcb_orphan(tcb) || !out_of_memory(s, tcb))
        return false;
    abort_orphan(s, tcb);
    return true;
}
