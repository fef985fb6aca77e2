/* Connections: creation, state changes, teardown, ports and initial sequence
 * numbers. */
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
    struct sn_tcb *tcb = calloc(1, sizeof(*tcb));
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
    tcb->cc = sn_cc_default(); /* its state is all zero until init at ESTABLISHED */
    tcb->ka_idle = 7200;
    tcb->ka_intvl = 75;
    tcb->ka_cnt = 9;
    sn_tcp_rtt_init(s, tcb);
    return tcb;
}

/* Unlink a child from its listener's half-open count or accept queue. */
static void tcb_unlink_listener(struct sn_tcb *tcb)
{
    struct sn_tcb *l = tcb->listener;
    if (!l)
        return;
    if (tcb->flags & SN_TF_ACCEPTQ) {
        struct sn_tcb **pp = &l->acc_head, *prev = NULL;
        while (*pp && *pp != tcb) {
            prev = *pp;
            pp = &(*pp)->acc_next;
        }
        if (*pp) {
            *pp = tcb->acc_next;
            if (l->acc_tail == tcb)
                l->acc_tail = prev;
            l->acc_len--;
        }
        tcb->flags &= ~SN_TF_ACCEPTQ;
    } else if (l->syn_len > 0) {
        l->syn_len--;
    }
    tcb->listener = NULL;
    tcb->acc_next = NULL;
}

void sn_tcb_free(struct synack_stack *s, struct sn_tcb *tcb)
{
    /* A listener takes its unaccepted children with it: they are reset
     * (RFC 9293 3.10.4: a CLOSE on a LISTEN connection; children are
     * connections the user never saw). */
    if (tcb->state == SYNACK_LISTEN) {
        for (uint32_t b = 0; b < s->conns.nbuckets; b++) {
            struct sn_tuple_entry *e = s->conns.buckets[b];
            while (e) {
                struct sn_tcb *c = sn_tcb_of_entry(e);
                e = e->next;
                if (c->listener == tcb) {
                    /* Half-open ones vanish silently, as in Linux; those
                     * established but never accepted are reset. */
                    if (c->state != SYNACK_SYN_RECEIVED)
                        sn_tcp_send_rst(s, c);
                    tcb_unlink_listener(c);
                    sn_tcb_free(s, c);
                }
            }
        }
        /* Children already reset are out of the table but still queued. */
        while (tcb->acc_head) {
            struct sn_tcb *c = tcb->acc_head;
            tcb_unlink_listener(c);
            sn_tcb_free(s, c);
        }
    }
    tcb_unlink_listener(tcb);
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
    if (tcb->flags & SN_TF_BOUND)
        sn_tcp_port_unref(s, tcb->te.tuple.lport);
    sn_ring_release(&tcb->snd);
    sn_ring_release(&tcb->rcv);
    free(tcb);
    s->nconns--;
}

void sn_tcp_set_state(struct synack_stack *s, struct sn_tcb *tcb, enum synack_tcp_state st)
{
    enum synack_tcp_state from = (enum synack_tcp_state)tcb->state;
    if (from == st)
        return;
    tcb->state = (uint8_t)st;
    if (st == SYNACK_TIME_WAIT)
        s->stats.tcp_timewait++;
    if (s->cfg.on_state)
        s->cfg.on_state(s->cfg.on_state_user, tcb->conn_id, &tcb->te.tuple, from, st);
}

void sn_tcp_drop(struct synack_stack *s, struct sn_tcb *tcb, int err)
{
    if (err)
        tcb->so_error = err;
    if (err == ECONNRESET || err == ECONNREFUSED)
        s->stats.tcp_conns_reset++;
    for (int k = 0; k < SN_TT_N; k++)
        tcb->deadline[k] = SYNACK_TIME_NEVER;
    sn_wheel_del(&s->wheel, &tcb->timer);
    if (tcb->flags & SN_TF_INTABLE) {
        sn_tuple_remove(&s->conns, &tcb->te);
        tcb->flags &= ~SN_TF_INTABLE;
        if (tcb->state != SYNACK_LISTEN && s->stats.tcp_conns_active > 0)
            s->stats.tcp_conns_active--;
    }
    sn_tcp_set_state(s, tcb, SYNACK_CLOSED);
    sn_ring_release(&tcb->snd);
    tcb->flags &= ~SN_TF_CONNECTING;
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
    int rc = sn_tuple_insert(&s->conns, &tcb->te);
    if (rc < 0)
        return rc;
    tcb->flags |= SN_TF_INTABLE;
    if (tcb->te.tuple.rport != 0) /* not a listener */
        s->stats.tcp_conns_active++;
    return 0;
}

/* RFC 9293 3.4.1 asks for an ISN that is hard to predict; RFC 6528's keyed
 * hash of the tuple plus a clock is the hardening step (security issue).
 * Here: the stack's seeded PRNG, which is unpredictable to a peer that does
 * not know the seed and deterministic for the simulator. */
uint32_t sn_tcp_new_isn(struct synack_stack *s, const struct synack_tuple *t)
{
    (void)t;
    return (uint32_t)sn_rng_next(&s->rng);
}

int sn_tcp_port_ref(struct synack_stack *s, uint16_t port, bool exclusive)
{
    if (port == 0)
        return -EINVAL;
    if (exclusive && s->port_refs[port] > 0)
        return -EADDRINUSE;
    if (s->port_refs[port] == UINT16_MAX)
        return -EADDRINUSE;
    s->port_refs[port]++;
    return 0;
}

void sn_tcp_port_unref(struct synack_stack *s, uint16_t port)
{
    if (s->port_refs[port] > 0)
        s->port_refs[port]--;
}

int sn_tcp_pick_port(struct synack_stack *s, struct sn_tcb *tcb)
{
    uint32_t lo = s->cfg.ephemeral_lo, n = (uint32_t)s->cfg.ephemeral_hi - lo + 1;
    uint32_t start = sn_rng_below(&s->rng, n);
    for (uint32_t i = 0; i < n; i++) {
        uint16_t port = (uint16_t)(lo + (start + i) % n);
        if (s->port_refs[port] == 0) {
            s->port_refs[port]++;
            tcb->te.tuple.lport = port;
            tcb->flags |= SN_TF_BOUND;
            return 0;
        }
    }
    return -EADDRNOTAVAIL;
}

short sn_tcp_poll_events(const struct sn_tcb *tcb)
{
    short ev = 0;
    if (tcb->state == SYNACK_LISTEN)
        return tcb->acc_len > 0 ? POLLIN : 0;
    if (tcb->rcv.len > 0 || (tcb->flags & (SN_TF_RCVD_FIN | SN_TF_SHUT_RD)))
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
    if (s->on_event && tcb->fd >= 0)
        s->on_event(s->event_user, tcb->fd, sn_tcp_poll_events(tcb));
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
    return sn_tcb_synchronized(tcb) && seq_gt(tcb->rcv_up, read_seq);
}
