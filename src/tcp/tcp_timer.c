/* TCP timers.  Each connection keeps one deadline per kind (enum
 * sn_tcp_timer); the stack's timing wheel holds one entry per connection, for
 * the earliest of them, so arming and firing cost O(1) whatever the number of
 * connections.  When the entry fires, every kind that is due runs through the
 * dispatch table below. */
#include <errno.h>
#include <stddef.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

static void tcb_rearm(struct synack_stack *s, struct sn_tcb *tcb)
{
    synack_time_t first = SYNACK_TIME_NEVER;
    for (int k = 0; k < SN_TT_N; k++)
        if (tcb->deadline[k] < first)
            first = tcb->deadline[k];
    if (first == SYNACK_TIME_NEVER)
        sn_wheel_del(&s->wheel, &tcb->timer);
    else if (!sn_timer_pending(&tcb->timer) || first < tcb->timer.expires)
        sn_wheel_add(&s->wheel, &tcb->timer, first);
    /* A deadline that moved later (the retransmission timer restarted by
     * every ACK, RFC 6298 5.3) leaves the wheel entry where it is: it fires
     * early, finds nothing due and is re-armed then, as Linux re-arms
     * lazily.  One wheel operation per RTO instead of one per ACK. */
}

void sn_tcp_timer_set(struct synack_stack *s, struct sn_tcb *tcb, enum sn_tcp_timer k,
                      synack_time_t when)
{
    tcb->deadline[k] = when;
    tcb_rearm(s, tcb);
}

void sn_tcp_timer_clear(struct synack_stack *s, struct sn_tcb *tcb, enum sn_tcp_timer k)
{
    if (tcb->deadline[k] == SYNACK_TIME_NEVER)
        return;
    tcb->deadline[k] = SYNACK_TIME_NEVER;
    tcb_rearm(s, tcb);
}

/* RFC 6298 5.1/5.3: running while data (or a SYN/FIN) is outstanding,
 * restarted with the current RTO when new data is acknowledged. */
void sn_tcp_arm_rtx(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (seq_lt(tcb->snd_una, tcb->snd_max)) {
        /* Data outstanding from now (not a resend after a timeout). */
        if (tcb->deadline[SN_TT_RTX] == SYNACK_TIME_NEVER && tcb->rtx_count == 0)
            sn_tcp_stall_start(s, tcb);
        sn_tcp_timer_set(s, tcb, SN_TT_RTX, s->now + tcb->rto);
    } else {
        sn_tcp_timer_clear(s, tcb, SN_TT_RTX);
    }
}

static uint32_t ms_clock(const struct synack_stack *s)
{
    return (uint32_t)(s->now / 1000u);
}

void sn_tcp_stall_start(const struct synack_stack *s, struct sn_tcb *tcb)
{
    if (tcb->x && tcb->x->user_timeout)
        tcb->x->stall_ms = ms_clock(s);
}

/* RFC 5482 TCP_USER_TIMEOUT: has the sender waited longer than the user
 * allows for its data to be acknowledged (or for the window to open)? */
static bool user_timeout_expired(const struct synack_stack *s, const struct sn_tcb *tcb)
{
    const struct sn_tcb_ext *x = sn_x(tcb);
    return x->user_timeout && ms_clock(s) - x->stall_ms >= x->user_timeout;
}

/* A timer that retries (retransmission, persist) fires next at `when`, or
 * earlier when the user timeout runs out first. */
static synack_time_t retry_deadline(const struct synack_stack *s, const struct sn_tcb *tcb,
                                    synack_time_t when)
{
    const struct sn_tcb_ext *x = sn_x(tcb);
    if (!x->user_timeout)
        return when;
    uint32_t left = x->user_timeout - (ms_clock(s) - x->stall_ms);
    synack_time_t by = s->now + SYNACK_MSEC(left);
    return by < when ? by : when;
}

/* Closed by its application with the FIN still to be acknowledged: nobody
 * can read an error, so the connection must not live forever. */
static bool orphaned(const struct sn_tcb *tcb)
{
    return tcb->refs == 0 && !(tcb->flags & SN_TF_ACCEPTQ) && (tcb->flags & SN_TF_SENDFIN) &&
           (tcb->state == SYNACK_FIN_WAIT_1 || tcb->state == SYNACK_CLOSING ||
            tcb->state == SYNACK_LAST_ACK);
}

/* Give up on the peer: it is told with a RST (when synchronized), the user
 * with ETIMEDOUT. */
static void give_up(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (tcb->state != SYNACK_SYN_SENT)
        sn_tcp_send_rst(s, tcb);
    sn_tcp_drop(s, tcb, ETIMEDOUT);
}

void sn_tcp_set_close_timer(struct synack_stack *s, struct sn_tcb *tcb, synack_time_t when)
{
    tcb->flags |= SN_TF_CLOSE_TIMER;
    sn_tcp_timer_set(s, tcb, SN_TT_KEEPALIVE, when);
}

void sn_tcp_arm_keepalive(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (tcb->flags & SN_TF_CLOSE_TIMER)
        return; /* the slot counts down to the end of the connection */
    if ((tcb->flags & SN_TF_KEEPALIVE) && sn_tcb_synchronized(tcb) &&
        tcb->state != SYNACK_TIME_WAIT) {
        /* Idle longer than a TCP_KEEPIDLE just lowered: due now, not in
         * the past (the next deadline must not lie behind the clock). */
        synack_time_t when = tcb->last_rcv + SYNACK_SEC(sn_tcp_ka_idle(tcb));
        sn_tcp_timer_set(s, tcb, SN_TT_KEEPALIVE, when > s->now ? when : s->now);
    } else
        sn_tcp_timer_clear(s, tcb, SN_TT_KEEPALIVE);
}

/* RFC 6298 5.4-5.7: retransmit the earliest unacknowledged segment, back
 * off the timer, and give up after the configured number of tries. */
static void timer_rtx(struct synack_stack *s, struct sn_tcb *tcb)
{
    uint8_t limit = tcb->state == SYNACK_SYN_SENT       ? s->cfg.syn_retries
                    : tcb->state == SYNACK_SYN_RECEIVED ? s->cfg.synack_retries
                                                        : s->cfg.data_retries;
    if (orphaned(tcb) && limit > SN_TCP_ORPHAN_RETRIES)
        limit = SN_TCP_ORPHAN_RETRIES;
    if (tcb->rtx_count >= limit || user_timeout_expired(s, tcb)) {
        if (tcb->state == SYNACK_SYN_RECEIVED && (tcb->flags & SN_TF_PASSIVE)) {
            /* A half-open child nobody saw: forget it silently, as Linux does. */
            sn_tcb_free(s, tcb);
            return;
        }
        give_up(s, tcb);
        return;
    }
    if (sn_tcp_orphan_timer_oom(s, tcb))
        return; /* Linux's tcp_out_of_resources: the budget is spent, orphans go first */
    tcb->rtx_count++;
    s->stats.tcp_timeouts++;
    if (!sn_tcb_synchronized(tcb))
        tcb->flags |= SN_TF_SYNRTX; /* RFC 5681 3.1: IW will be one segment */
    uint64_t rto = (uint64_t)tcb->rto * 2;
    tcb->rto = (uint32_t)(rto > s->cfg.rto_max ? s->cfg.rto_max : rto);
    tcb->flags &= ~SN_TF_RTT_TIMING; /* Karn: no sample from a retransmitted segment */
    if (sn_tcb_synchronized(tcb))
        sn_tcp_recovery_on_rto(s, tcb);
    tcb->snd_nxt = tcb->snd_una; /* go back: resend from the first unacknowledged byte */
    s->stats.tcp_retrans++;
    tcb->total_retrans++;
    sn_tcp_output(s, tcb);
    sn_tcp_timer_set(s, tcb, SN_TT_RTX, retry_deadline(s, tcb, s->now + tcb->rto));
}

/* RFC 9293 3.8.6.1: the peer's window is closed (or too small for the
 * sender's SWS rules) and data waits.  A zero window is probed with a
 * segment below SND.UNA, which any receiver answers with its current window
 * (as Linux does); a small one gets a segment forced into it (RFC 1122
 * 4.2.3.4's override).  Either way the interval backs off exponentially. */
static void timer_persist(struct synack_stack *s, struct sn_tcb *tcb)
{
    uint32_t off = tcb->snd_nxt - tcb->snd_una;
    if (off >= tcb->snd.len || !sn_tcb_synchronized(tcb))
        return;
    if ((tcb->flags & (SN_TF_CORK | SN_TF_MORE)) && tcb->snd_wnd > off) {
        sn_tcp_output(s, tcb); /* a corked tail's ceiling (tcp_output.c: cork_holds) */
        return;
    }
    /* An orphan facing a window that stays shut gets SN_TCP_ORPHAN_RETRIES
     * probes, answered or not (as Linux's tcp_orphan_retries); an owned
     * connection probes for as long as the peer answers (RFC 1122
     * 4.2.2.17), unless TCP_USER_TIMEOUT bounds the wait (RFC 5482). */
    if ((orphaned(tcb) && tcb->persist_backoff >= SN_TCP_ORPHAN_RETRIES) ||
        user_timeout_expired(s, tcb)) {
        give_up(s, tcb);
        return;
    }
    if (sn_tcp_orphan_timer_oom(s, tcb))
        return;
    if (tcb->snd_wnd > off) {
        uint32_t len = tcb->snd.len - off;
        uint32_t room = tcb->snd_wnd - off;
        if (len > room)
            len = room;
        if (len > sn_tcp_seg_room(tcb))
            len = sn_tcp_seg_room(tcb);
        sn_tcp_send_segment(s, tcb, SYNACK_TH_ACK | SYNACK_TH_PSH, tcb->snd_nxt, len);
        tcb->snd_nxt += len;
        tcb->snd_max = seq_max(tcb->snd_max, tcb->snd_nxt);
        sn_tcp_arm_rtx(s, tcb);
        return;
    }
    sn_tcp_send_segment(s, tcb, SYNACK_TH_ACK, tcb->snd_una - 1, 0);
    if (tcb->persist_backoff < 16)
        tcb->persist_backoff++;
    uint64_t next = (uint64_t)tcb->rto << tcb->persist_backoff;
    if (next > s->cfg.rto_max)
        next = s->cfg.rto_max;
    sn_tcp_timer_set(s, tcb, SN_TT_PERSIST, retry_deadline(s, tcb, s->now + next));
}

/* RFC 1122 4.2.3.6: after ka_idle of silence, probe every ka_intvl; after
 * ka_cnt unanswered probes the peer is gone (a half-open connection). */
static void timer_keepalive(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (tcb->flags & SN_TF_CLOSE_TIMER) {
        /* End of an orphaned FIN-WAIT-2 (Linux's tcp_fin_timeout). */
        sn_tcp_drop(s, tcb, 0);
        return;
    }
    if (!(tcb->flags & SN_TF_KEEPALIVE) || !sn_tcb_synchronized(tcb))
        return;
    if (s->now < tcb->last_rcv + SYNACK_SEC(sn_tcp_ka_idle(tcb))) {
        sn_tcp_arm_keepalive(s, tcb);
        return;
    }
    if (tcb->ka_probes >= sn_tcp_ka_cnt(tcb)) {
        sn_tcp_send_rst(s, tcb);
        sn_tcp_drop(s, tcb, ETIMEDOUT);
        return;
    }
    tcb->ka_probes++;
    /* The probe: SEG.SEQ = SND.NXT - 1 with no data, which the peer must ACK. */
    sn_tcp_send_segment(s, tcb, SYNACK_TH_ACK, tcb->snd_una - 1, 0);
    sn_tcp_timer_set(s, tcb, SN_TT_KEEPALIVE, s->now + SYNACK_SEC(sn_tcp_ka_intvl(tcb)));
}

static void timer_delack(struct synack_stack *s, struct sn_tcb *tcb)
{
    tcb->flags |= SN_TF_ACKNOW;
    sn_tcp_output(s, tcb);
}

static void (*const timer_handlers[SN_TT_N])(struct synack_stack *, struct sn_tcb *) = {
    [SN_TT_RTX] = timer_rtx,
    [SN_TT_PERSIST] = timer_persist,
    [SN_TT_KEEPALIVE] = timer_keepalive,
    [SN_TT_DELACK] = timer_delack,
};

/* The kind that cannot free the TCB (the delayed ACK) runs first; the
 * others may end the connection, so nothing touches the TCB after one of
 * them has run. */
static const enum sn_tcp_timer timer_order[SN_TT_N] = {
    SN_TT_DELACK, SN_TT_PERSIST, SN_TT_RTX, SN_TT_KEEPALIVE,
};

void sn_tcp_timer_fire(struct sn_timer *t, void *arg)
{
    struct synack_stack *s = arg;
    if (t == &s->tw.timer) {
        sn_tw_expire(s);
        return;
    }
    struct sn_tcb *tcb = (struct sn_tcb *)((char *)t - offsetof(struct sn_tcb, timer));
    for (int i = 0; i < SN_TT_N; i++) {
        enum sn_tcp_timer k = timer_order[i];
        if (tcb->deadline[k] > s->now)
            continue;
        tcb->deadline[k] = SYNACK_TIME_NEVER;
        if (k != SN_TT_DELACK) {
            /* Re-arm for what remains first: a surviving TCB keeps its other
             * timers, and any still due fire again in this same advance. */
            tcb_rearm(s, tcb);
            timer_handlers[k](s, tcb);
            return;
        }
        timer_handlers[k](s, tcb);
    }
    tcb_rearm(s, tcb);
}
