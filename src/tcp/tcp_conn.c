/* Connections: creation, state changes, teardown.  (Ports, ISNs and other
 * numbers an attacker must not guess: tcp_secret.c.) */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

struct sn_tcb *sn_tcb_new(struct synack_stack *s)
{
    if (s->nconns >= s->cfg.max_conns)
        return NULL;
    struct sn_tcb *tcb = sn_mem_get(&s->mem, sizeof(*tcb));
    if (!tcb)
        return NULL;
    s->nconns++;
    sn_timer_init(&tcb->timer);
    for (int k = 0; k < SN_TT_N; k++)
        tcb->deadline[k] = SYNACK_TIME_NEVER;
    tcb->state = SYNACK_CLOSED;
    tcb->fd = -1;
    tcb->conn_id = s->next_conn_id++;
    tcb->snd.cap = s->cfg.sndbuf;
    tcb->rcv.cap = s->cfg.rcvbuf;
    tcb->mss = 536; /* RFC 9293 3.7.1: the default send MSS without the option */
    /* tcb->cc 0: the default algorithm; its state is all zero until needed. */
    sn_tcp_rtt_init(s, tcb);
    return tcb;
}

/* Remove c from the singly linked list at *head (accept queue or half-open
 * list, bounded by the listener's backlog).  Returns whether it was there;
 * *prev_out gets its predecessor. */
static bool list_remove(struct sn_tcb **head, struct sn_tcb *c, struct sn_tcb **prev_out)
{
    struct sn_tcb *prev = NULL;
    for (struct sn_tcb **pp = head; *pp; pp = &(*pp)->x->acc_next) {
        if (*pp == c) {
            *pp = c->x->acc_next;
            *prev_out = prev;
            return true;
        }
        prev = *pp;
    }
    return false;
}

/* Unlink a child from its listener's half-open list or accept queue. */
static void tcb_unlink_listener(struct synack_stack *s, struct sn_tcb *tcb)
{
    struct sn_tcb *l = sn_tcb_listener(tcb);
    if (!l)
        return;
    struct sn_listen *q = sn_tcb_lsn(l);
    struct sn_tcb *prev;
    if (tcb->flags & SN_TF_ACCEPTQ) {
        if (q && list_remove(&q->acc_head, tcb, &prev)) {
            if (q->acc_tail == tcb)
                q->acc_tail = prev;
            q->acc_len--;
        }
        tcb->flags &= ~SN_TF_ACCEPTQ;
    } else if (q && list_remove(&q->syn_head, tcb, &prev)) {
        q->syn_len--;
    }
    tcb->x->listener = NULL;
    tcb->x->acc_next = NULL;
    sn_tcb_ext_trim(s, tcb);
}

/* A listener goes: its children the user never saw go with it (RFC 9293
 * 3.10.4: a CLOSE on a LISTEN connection).  Half-open ones vanish silently,
 * as in Linux; those established but never accepted are reset.  The cost
 * is the number of its own children, whatever the size of the table. */
static void listener_free_children(struct synack_stack *s, struct sn_tcb *l)
{
    sn_syncache_listener_gone(s, l);
    struct sn_listen *q = sn_tcb_lsn(l);
    if (!q)
        return;
    while (q->syn_head) {
        struct sn_tcb *c = q->syn_head;
        tcb_unlink_listener(s, c);
        sn_tcb_free(s, c);
    }
    while (q->acc_head) {
        struct sn_tcb *c = q->acc_head;
        /* Children already reset are out of the table but still queued. */
        if (c->state != SYNACK_CLOSED && c->state != SYNACK_SYN_RECEIVED)
            sn_tcp_send_rst(s, c);
        tcb_unlink_listener(s, c);
        sn_tcb_free(s, c);
    }
}

void sn_tcp_child_established(struct sn_tcb *l, struct sn_tcb *c)
{
    struct sn_listen *q = sn_tcb_lsn(l);
    struct sn_tcb *prev;
    if (!q || !list_remove(&q->syn_head, c, &prev))
        return;
    q->syn_len--;
    c->flags |= SN_TF_ACCEPTQ;
    c->x->acc_next = NULL;
    if (q->acc_tail)
        q->acc_tail->x->acc_next = c;
    else
        q->acc_head = c;
    q->acc_tail = c;
    q->acc_len++;
}

struct sn_tcb *sn_tcp_accept_pop(struct synack_stack *s, struct sn_tcb *l)
{
    struct sn_listen *q = sn_tcb_lsn(l);
    struct sn_tcb *c = q ? q->acc_head : NULL;
    if (!c)
        return NULL;
    q->acc_head = c->x->acc_next;
    if (!q->acc_head)
        q->acc_tail = NULL;
    q->acc_len--;
    c->x->acc_next = NULL;
    c->x->listener = NULL;
    c->flags &= ~SN_TF_ACCEPTQ;
    sn_tcb_ext_trim(s, c);
    return c;
}

void sn_tcb_free(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (tcb->state == SYNACK_LISTEN)
        listener_free_children(s, tcb);
    tcb_unlink_listener(s, tcb);
    /* Tell the trace hook, e.g. for a half-open child that "returns to
     * LISTEN" (RFC 9293 3.10.7.4) or a listener closed by the user. */
    bool active = tcb->state != SYNACK_LISTEN && tcb->state != SYNACK_CLOSED;
    if (tcb->state != SYNACK_CLOSED)
        sn_tcp_set_state(s, tcb, SYNACK_CLOSED);
    if (tcb->flags & SN_TF_INTABLE) {
        sn_tuple_remove(&s->conns, &tcb->te);
        tcb->flags &= ~SN_TF_INTABLE;
        if (active && s->stats.tcp_conns_active > 0)
            s->stats.tcp_conns_active--;
    }
    sn_wheel_del(&s->wheel, &tcb->timer);
    if (s->nack_held > 0)
        sn_tcp_ack_unhold(s, tcb);
    if (s->nrcv_keep > 0)
        sn_tcp_rcv_unkeep(s, tcb);
    if (s->zc_resv.tcb == tcb)
        s->zc_resv.tcb = NULL;
    if (tcb->flags & SN_TF_BOUND)
        sn_tcp_port_unref(s, tcb->te.tuple.lport);
    sn_ring_release(&tcb->snd, &s->mem);
    sn_ring_release(&tcb->rcv, &s->mem);
    sn_rtxq_release(&s->mem, &tcb->rtxq);
    sn_tcb_ext_free(s, tcb);
    sn_mem_uncharge(&s->mem, sizeof(struct sn_tcb));
    s->nconns--;
    /* Inside a public call the memory stays until its end: a caller up the
     * stack (an input path, a timer, a callback) may still hold the pointer. */
    sn_stack_bury(s, tcb);
}

void sn_tcp_set_state(struct synack_stack *s, struct sn_tcb *tcb, enum synack_tcp_state st)
{
    enum synack_tcp_state from = (enum synack_tcp_state)tcb->state;
    if (from == st)
        return;
    tcb->state = (uint8_t)st;
    sn_tcp_orphan_moved(s, tcb, (uint8_t)from, (uint8_t)st);
    if (st == SYNACK_TIME_WAIT)
        s->stats.tcp_timewait++;
    sn_tcp_trace_state(s, tcb->conn_id, &tcb->te.tuple, from, st);
}

void sn_tcp_trace_state(struct synack_stack *s, uint32_t conn_id, const struct synack_tuple *t,
                        enum synack_tcp_state from, enum synack_tcp_state to)
{
    if (s->cfg.on_state) {
        struct synack_conn_addr ca = {synack_addr_v4(t->laddr), synack_addr_v4(t->raddr),
                                      t->lport, t->rport};
        s->cfg.on_state(s->cfg.on_state_user, conn_id, &ca, from, to);
    }
}

void sn_tcp_drop(struct synack_stack *s, struct sn_tcb *tcb, int err)
{
    if (err == ETIMEDOUT && sn_x(tcb)->soft_err)
        err = sn_x(tcb)->soft_err; /* Linux's tcp_write_err: the soft error explains the timeout */
    if (err)
        tcb->so_error = err;
    if (err == ECONNRESET || err == ECONNREFUSED)
        s->stats.tcp_conns_reset++;
    sn_tcp_detach(s, tcb, false);
}

void sn_tcp_detach(struct synack_stack *s, struct sn_tcb *tcb, bool to_timewait)
{
    for (int k = 0; k < SN_TT_N; k++)
        tcb->deadline[k] = SYNACK_TIME_NEVER;
    sn_wheel_del(&s->wheel, &tcb->timer);
    if (tcb->flags & SN_TF_INTABLE) {
        sn_tuple_remove(&s->conns, &tcb->te);
        tcb->flags &= ~SN_TF_INTABLE;
        /* A connection in TIME-WAIT stays counted until its record goes. */
        if (!to_timewait && tcb->state != SYNACK_LISTEN && s->stats.tcp_conns_active > 0)
            s->stats.tcp_conns_active--;
    }
    if (to_timewait) {
        sn_tcp_orphan_moved(s, tcb, tcb->state, SYNACK_CLOSED);
        tcb->state = SYNACK_CLOSED; /* no trace: the connection is in TIME-WAIT */
    } else
        sn_tcp_set_state(s, tcb, SYNACK_CLOSED);
    sn_ring_release(&tcb->snd, &s->mem);
    sn_rtxq_release(&s->mem, &tcb->rtxq);
    tcb->flags &= ~(SN_TF_CONNECTING | SN_TF_CLOSE_TIMER | SN_TF_RTT_TIMING);
    if (tcb->refs == 0 && !(tcb->flags & SN_TF_ACCEPTQ)) {
        sn_tcb_free(s, tcb);
        return;
    }
    if (tcb->flags & SN_TF_ACCEPTQ) {
        /* Reset before accept(): Linux still hands it out, and the first
         * call on it reports the error; keep it queued. */
        return;
    }
    sn_tcp_notify(s, tcb);
}

int sn_tcb_insert(struct synack_stack *s, struct sn_tcb *tcb)
{
    uint32_t nb = s->conns.nbuckets;
    int rc = sn_tuple_insert(&s->conns, &tcb->te);
    if (rc < 0)
        return rc;
    if (s->conns.nbuckets > nb) /* the table grew (it never shrinks): counted, not budgeted */
        sn_mem_add_fixed(&s->mem, (s->conns.nbuckets - nb) * sizeof(*s->conns.buckets));
    tcb->flags |= SN_TF_INTABLE;
    if (tcb->te.tuple.rport != 0) /* not a listener */
        s->stats.tcp_conns_active++;
    return 0;
}


short sn_tcp_poll_events(const struct sn_tcb *tcb)
{
    short ev = 0;
    if (tcb->state == SYNACK_LISTEN)
        return sn_tcb_lsn(tcb) && sn_tcb_lsn(tcb)->acc_len > 0 ? POLLIN : 0;
    /* SO_RCVLOWAT: readable from that many bytes, or at the end of the data;
     * data that came on a SYN waits for the handshake. */
    uint32_t lowat = sn_x(tcb)->rcvlowat ? sn_x(tcb)->rcvlowat : 1;
    bool opening = tcb->state == SYNACK_SYN_SENT || tcb->state == SYNACK_SYN_RECEIVED;
    if ((!opening && (tcb->rcv.len >= lowat || (tcb->rcv.len > 0 && tcb->rcv.len >= tcb->rcv.cap))) ||
        (tcb->flags & (SN_TF_RCVD_FIN | SN_TF_SHUT_RD)))
        ev |= POLLIN;
    if (tcb->flags & SN_TF_RCVD_FIN)
        ev |= SYNACK_POLLRDHUP;
    if (sn_tcp_urgent_pending(tcb))
        ev |= POLLPRI;
    if ((tcb->state == SYNACK_ESTABLISHED || tcb->state == SYNACK_CLOSE_WAIT) &&
        sn_ring_free(&tcb->snd) > 0)
        ev |= POLLOUT;
    /* After shutdown(SHUT_WR) a writer must not wait forever: like Linux,
     * report writable, so that the next send() fails at once with EPIPE. */
    if (tcb->flags & SN_TF_SENDFIN)
        ev |= POLLOUT;
    if (tcb->so_error)
        ev |= POLLERR;
    if (tcb->state == SYNACK_CLOSED && !(tcb->flags & SN_TF_CONNECTING))
        ev |= POLLHUP | POLLIN;
    if ((tcb->flags & SN_TF_SENDFIN) && (tcb->flags & SN_TF_RCVD_FIN))
        ev |= POLLHUP;
    return ev;
}

void sn_tcp_notify(struct synack_stack *s, struct sn_tcb *tcb)
{
    sn_stack_event(s, tcb->fd);
}

uint32_t sn_tcp_rcv_space(const struct sn_tcb *tcb)
{
    return sn_ring_free(&tcb->rcv);
}

uint32_t sn_tcp_tsval(const struct synack_stack *s, const struct sn_tcb *tcb)
{
    return (uint32_t)(s->now / 1000u) + tcb->ts_offset;
}

/* The smallest shift that lets our largest receive window be advertised
 * (RFC 7323 2.3; at most 14).  Sized for buffers of at least 4 MiB, like
 * Linux's 7, so that a later SO_RCVBUF increase still fits. */
uint8_t sn_tcp_choose_wscale(uint32_t cap)
{
    uint8_t ws = 0;
    if (cap < (4u << 20))
        cap = 4u << 20;
    while (ws < 14 && ((uint64_t)0xffff << ws) < cap)
        ws++;
    return ws;
}

/* RFC 6093: urgent data lies before rcv_up, which the receiver reports until
 * the user has read past it (the data itself stays inline). */
bool sn_tcp_urgent_pending(const struct sn_tcb *tcb)
{
    uint32_t read_seq = tcb->rcv_nxt - tcb->rcv.len;
    return sn_tcb_synchronized(tcb) && sn_x(tcb)->rcv_urg && seq_gt(sn_x(tcb)->rcv_up, read_seq);
}
