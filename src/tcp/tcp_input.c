/* Segment arrival: RFC 9293 3.10.7, one function per state group.
 *
 *   tcp_input_listen        3.10.7.2  LISTEN
 *   tcp_input_syn_sent      3.10.7.3  SYN-SENT
 *   tcp_input_synchronized  3.10.7.4  every other state, in the RFC's order:
 *       sequence check, RST, SYN, ACK, URG, text, FIN
 */
#include <errno.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

/* RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)). */
static uint32_t initial_window(uint32_t mss)
{
    uint32_t w = 2 * mss > 14600 ? 2 * mss : 14600;
    return w < 10 * mss ? w : 10 * mss;
}

/* The send MSS (payload bytes per segment): the peer's MSS, raised to
 * SN_TCP_MSS_FLOOR if it offers less, but never above what our own link's
 * MTU carries (RFC 9293 3.7.1: the segment, IP and TCP headers included,
 * fits the MTU); less the timestamp option every segment carries (RFC 6691).
 * The floor yields to the MTU, so a link with an MTU as small as IPv4's 68
 * still never sends a datagram larger than the MTU; the result is at least
 * 68 - 40 - 12 = 16 bytes. */
static uint32_t send_mss(const struct synack_stack *s, const struct sn_tcb *tcb, uint32_t peer_mss)
{
    if (peer_mss < SN_TCP_MSS_FLOOR)
        peer_mss = SN_TCP_MSS_FLOOR;
    /* Our own limit: the link's, or less if TCP_MAXSEG asked for less. */
    uint32_t mss = s->cfg.mtu - 40u;
    if (tcb->rcv_mss && tcb->rcv_mss < mss)
        mss = tcb->rcv_mss;
    if (peer_mss < mss)
        mss = peer_mss;
    if (tcb->flags & SN_TF_TS)
        mss -= 12; /* the timestamp option rides on every segment */
    return mss;
}

/* What the SYN (or SYN-ACK) agreed (RFC 9293 3.7.1 MSS, RFC 7323 2.2 and
 * 3.2, RFC 2018 2): peer_mss -1 if it sent none, peer_wscale
 * SN_SYN_NO_WSCALE if it offered no scaling.  rcv_wscale is the caller's. */
void sn_tcp_negotiate(struct synack_stack *s, struct sn_tcb *tcb, int32_t peer_mss,
                      uint8_t peer_wscale, bool sack, bool ts, uint32_t ts_recent)
{
    if (peer_wscale != SN_SYN_NO_WSCALE && s->cfg.wscale) {
        tcb->flags |= SN_TF_WSCALE;
        tcb->snd_wscale = peer_wscale > 14 ? 14 : peer_wscale; /* RFC 7323 2.3 */
    } else {
        tcb->flags &= ~SN_TF_WSCALE;
        tcb->snd_wscale = 0;
        tcb->rcv_wscale = 0;
    }
    if (sack && s->cfg.sack)
        tcb->flags |= SN_TF_SACK;
    if (ts && s->cfg.timestamps) {
        tcb->flags |= SN_TF_TS;
        tcb->ts_recent = ts_recent;
    }
    /* Our own limit is the MSS we offered (the link MTU, or less with
     * TCP_MAXSEG); the peer's option can only lower it. */
    uint32_t mss = send_mss(s, tcb, peer_mss >= 0 ? (uint32_t)peer_mss : 536);
    tcb->mss = (uint16_t)mss;
    tcb->cwnd = initial_window(mss);
    tcb->ssthresh = UINT32_MAX / 2;
}

/* The options of a SYN-ACK answering our SYN: only what we offered can be agreed. */
static void tcp_syn_options(struct synack_stack *s, struct sn_tcb *tcb, const struct sn_seg *seg)
{
    const struct synack_tcp_opts *o = &seg->th.opts;
    sn_tcp_negotiate(s, tcb, (o->present & SYNACK_TCPOPT_F_MSS) ? (int32_t)o->mss : -1,
                     (o->present & SYNACK_TCPOPT_F_WSCALE) ? o->wscale : SN_SYN_NO_WSCALE,
                     (o->present & SYNACK_TCPOPT_F_SACK_PERM) != 0,
                     (o->present & SYNACK_TCPOPT_F_TIMESTAMP) != 0, o->tsval);
}

static void enter_established(struct synack_stack *s, struct sn_tcb *tcb)
{
    sn_tcp_set_state(s, tcb, SYNACK_ESTABLISHED);
    if (sn_tcb_cc(tcb)->init)
        sn_tcb_cc(tcb)->init(tcb, s->now);
    tcb->recover = tcb->snd_una;
    tcb->high_rxt = tcb->snd_una;
    /* RFC 6298 5.7: after the SYN (or SYN-ACK) timed out, and with no RTT
     * sample since, data transmission starts with an RTO of 3 s. */
    if (tcb->total_retrans > 0 && tcb->srtt == 0 && tcb->rto < SYNACK_SEC(3))
        tcb->rto = (uint32_t)(SYNACK_SEC(3) < s->cfg.rto_max ? SYNACK_SEC(3) : s->cfg.rto_max);
    tcb->rtx_count = 0;
    tcb->last_rcv = s->now;
    /* RFC 5681 3.1: when the SYN or SYN-ACK had to be sent again, the
     * initial window is one segment. */
    if (tcb->flags & SN_TF_SYNRTX)
        tcb->cwnd = tcb->mss;
    sn_tcp_arm_keepalive(s, tcb);
}

/* RFC 9293 3.10.7.4 eighth: TIME-WAIT, 2 MSL.  The TCB becomes a compact
 * record (tcp_timewait.c) once this segment's processing, and the ACK it
 * calls for, are done: see the end of tcp_input_synchronized(). */
static void enter_time_wait(struct synack_stack *s, struct sn_tcb *tcb)
{
    sn_tcp_set_state(s, tcb, SYNACK_TIME_WAIT);
}

/* RFC 9293 3.10.7.2: a SYN goes to the SYN cache (or gets a cookie), an ACK
 * may complete a handshake from it (tcp_syncache.c); then the ACK runs
 * through the usual path as the new connection's, SYN-RECEIVED to
 * ESTABLISHED, with any data it carries. */
static int tcp_input_synchronized(struct synack_stack *s, struct sn_tcb *tcb,
                                  const struct sn_seg *seg);

static int tcp_input_listen(struct synack_stack *s, struct sn_tcb *l, const struct sn_seg *seg)
{
    if (seg->flags & SYNACK_TH_RST) {
        sn_syncache_rst(s, seg);
        return 0;
    }
    if ((seg->flags & (SYNACK_TH_SYN | SYNACK_TH_ACK)) == SYNACK_TH_ACK) {
        struct sn_tcb *c = sn_syncache_ack(s, l, seg);
        if (!c)
            return 0;
        /* RFC 7323 4.3: the ACK's TSval, in window, is the newest. */
        if ((c->flags & SN_TF_TS) && (seg->th.opts.present & SYNACK_TCPOPT_F_TIMESTAMP) &&
            seq_geq(seg->th.opts.tsval, c->ts_recent))
            c->ts_recent = seg->th.opts.tsval;
        return tcp_input_synchronized(s, c, seg);
    }
    if (seg->flags & SYNACK_TH_ACK) {
        sn_tcp_respond_rst(s, seg); /* a SYN-ACK */
        return 0;
    }
    if (!(seg->flags & SYNACK_TH_SYN))
        return 0;
    return sn_syncache_syn(s, l, seg);
}

static void tcp_input_fin(struct synack_stack *s, struct sn_tcb *tcb);

/* Data that came with a SYN (or SYN-ACK) received in SYN-SENT: taken up to
 * the window our SYN offered.  Returns whether all of it was taken. */
static bool syn_text(struct synack_stack *s, struct sn_tcb *tcb, const struct sn_seg *seg)
{
    uint32_t dlen = (uint32_t)seg->th.payload_len;
    if (dlen == 0)
        return true;
    uint32_t wnd = sn_tcp_rcv_space(tcb);
    if (wnd > 0xffff)
        wnd = 0xffff; /* RFC 7323 2.2: our SYN's window was not scaled */
    bool all = dlen <= wnd;
    if (!all)
        dlen = wnd;
    uint32_t adv = sn_tcp_reass(s, tcb, seg->seq + 1, seg->th.payload, dlen);
    tcb->bytes_received += adv;
    tcb->flags |= SN_TF_ACKNOW;
    return all && adv == (uint32_t)seg->th.payload_len;
}

/* RFC 9293 3.10.7.3 */
static int tcp_input_syn_sent(struct synack_stack *s, struct sn_tcb *tcb, const struct sn_seg *seg)
{
    bool ack_ok = false;
    if (seg->flags & SYNACK_TH_ACK) {
        if (seq_leq(seg->ack, tcb->iss) || seq_gt(seg->ack, tcb->snd_max)) {
            sn_tcp_respond_rst(s, seg);
            return 0;
        }
        ack_ok = true;
    }
    if (seg->flags & SYNACK_TH_RST) {
        if (ack_ok)
            sn_tcp_drop(s, tcb, ECONNREFUSED);
        return 0;
    }
    if (!(seg->flags & SYNACK_TH_SYN))
        return 0;
    tcb->rcv_nxt = seg->seq + 1;
    tcb->rcv_adv = tcb->rcv_nxt;
    tcb->last_ack_sent = tcb->rcv_nxt;
    tcp_syn_options(s, tcb, seg);
    tcb->snd_wnd = seg->th.window;
    tcb->max_sndwnd = tcb->snd_wnd;
    tcb->snd_wl1 = seg->seq;
    tcb->snd_wl2 = seg->ack;
    if (ack_ok) {
        uint32_t rtt;
        if (sn_tcp_rtxq_ack(s, tcb, seg->ack, &rtt))
            sn_tcp_rtt_sample(s, tcb, rtt);
        tcb->snd_una = seg->ack;
    }
    if (seq_gt(tcb->snd_una, tcb->iss)) {
        tcb->flags |= SN_TF_SYNACKED;
        sn_tcp_timer_clear(s, tcb, SN_TT_RTX);
        enter_established(s, tcb);
        tcb->flags &= ~SN_TF_CONNECTING;
        tcb->flags |= SN_TF_ACKNOW;
        /* RFC 9293 3.10.7.3: "If there are other controls or text in the
         * segment, continue processing at the sixth step": data (and a FIN)
         * carried on the SYN-ACK is kept. */
        if (syn_text(s, tcb, seg) && (seg->flags & SYNACK_TH_FIN))
            tcp_input_fin(s, tcb);
        sn_tcp_output(s, tcb);
        sn_tcp_notify(s, tcb);
        return 0;
    }
    /* Simultaneous open (RFC 9293 figure 8): our SYN crossed theirs.  Text
     * on the SYN is queued until ESTABLISHED (3.10.7.3): it is held in the
     * receive buffer, acknowledged by our SYN-ACK, and readable once the
     * connection is synchronized.  A FIN on it is not taken (the peer
     * sends it again). */
    sn_tcp_set_state(s, tcb, SYNACK_SYN_RECEIVED);
    syn_text(s, tcb, seg);
    tcb->snd_nxt = tcb->iss; /* resend as <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> */
    sn_tcp_output(s, tcb);
    return 0;
}

/* RFC 5961 3.2 / 4.2 / 5.2: answer a suspicious RST, SYN or ACK with an
 * ACK that tells a genuine peer where we are.  RFC 5961 7 asks for a limit,
 * and CVE-2016-5696 showed that one shared, predictable limit leaks which
 * connections exist, so there are two, as in Linux since 4.7:
 *   - per connection: one challenge ACK per 500 ms (tcp_invalid_ratelimit);
 *   - per stack: about 1000 per second, the exact number drawn afresh each
 *     second between 500 and 1499 (tcp_challenge_ack_limit, randomised). */
#define CHALLENGE_STACK_PER_SEC 1000
static void challenge_ack(struct synack_stack *s, struct sn_tcb *tcb)
{
    uint16_t now10 = (uint16_t)(s->now / 10000u);
    if (now10 == 0)
        now10 = 1; /* 0 means "never" */
    uint16_t last = sn_x(tcb)->challenge_t;
    if (last != 0 && (uint16_t)(now10 - last) < SN_TCP_CHALLENGE_INTERVAL_10MS) {
        s->stats.tcp_challenge_ack_limited++;
        return;
    }
    uint64_t sec = s->now / SYNACK_SEC(1);
    if (sec != s->challenge_sec) {
        s->challenge_sec = sec;
        s->challenge_left = CHALLENGE_STACK_PER_SEC / 2 + sn_rng_below(&s->rng, CHALLENGE_STACK_PER_SEC);
    }
    if (s->challenge_left == 0) {
        s->stats.tcp_challenge_ack_limited++;
        return;
    }
    struct sn_tcb_ext *x = sn_tcb_ext_get(s, tcb);
    if (!x) {
        s->stats.tcp_challenge_ack_limited++; /* no memory to keep the limit: send none */
        return;
    }
    s->challenge_left--;
    x->challenge_t = now10; /* cleared by sn_tcb_ext_trim once 500 ms have passed */
    s->stats.tcp_challenge_acks++;
    sn_tcp_send_ack(s, tcb);
}

/* RFC 9293 3.10.7.4 second: a RST with an acceptable sequence number. */
static void tcp_input_rst(struct synack_stack *s, struct sn_tcb *tcb)
{
    s->stats.tcp_rst_in++;
    switch (tcb->state) {
    case SYNACK_SYN_RECEIVED:
        if (tcb->flags & SN_TF_PASSIVE) {
            /* Back to LISTEN: the listener carries on; this child is gone. */
            sn_tcb_free(s, tcb);
            return;
        }
        sn_tcp_drop(s, tcb, ECONNREFUSED);
        return;
    case SYNACK_TIME_WAIT:
        sn_tcp_drop(s, tcb, 0);
        return;
    default:
        /* ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT, and also CLOSING and
         * LAST-ACK: a user still holding the socket learns of the reset
         * from SO_ERROR (ECONNRESET, as Linux and FreeBSD report it). */
        sn_tcp_drop(s, tcb, ECONNRESET);
        return;
    }
}

/* What the ACK step leaves for the rest of the input path. */
enum ack_result {
    ACK_CONTINUE, /* go on with URG, text, FIN */
    ACK_STOP,     /* skip to output (an ACK may be due) */
    ACK_DROP,     /* nothing more: no reply, and the TCB may have been freed */
};

/* The ACK field (RFC 9293 3.10.7.4 fifth). */
static enum ack_result tcp_input_ack(struct synack_stack *s, struct sn_tcb *tcb, const struct sn_seg *seg)
{
    if (tcb->state == SYNACK_SYN_RECEIVED) {
        if (!(seq_lt(tcb->snd_una, seg->ack) && seq_leq(seg->ack, tcb->snd_max))) {
            sn_tcp_respond_rst(s, seg);
            return ACK_STOP;
        }
        struct sn_listen *lq = sn_tcb_listener(tcb) ? sn_tcb_lsn(sn_tcb_listener(tcb)) : NULL;
        if (lq && lq->acc_len >= (lq->backlog ? lq->backlog : 1)) {
            /* The accept queue is full: ignore the ACK, as Linux does; the
             * SYN-ACK is retransmitted and the handshake completes later. */
            s->stats.tcp_drop++;
            s->stats.tcp_drop_accept_full++;
            return ACK_DROP;
        }
        tcb->snd_wnd = (uint32_t)seg->th.window << tcb->snd_wscale;
        tcb->max_sndwnd = seq_max(tcb->max_sndwnd, tcb->snd_wnd);
        tcb->snd_wl1 = seg->seq;
        tcb->snd_wl2 = seg->ack;
        enter_established(s, tcb);
        struct sn_tcb *l = sn_tcb_listener(tcb);
        if (l) {
            /* Move from the half-open list to the accept queue. */
            sn_tcp_child_established(l, tcb);
            s->stats.tcp_conns_accepted++;
            sn_tcp_notify(s, l);
        } else {
            tcb->flags &= ~SN_TF_CONNECTING; /* a simultaneous open completes */
            sn_tcp_notify(s, tcb);
        }
    }
    if (seq_gt(seg->ack, tcb->snd_max)) {
        /* It acknowledges something not yet sent. */
        tcb->flags |= SN_TF_ACKNOW;
        return ACK_STOP;
    }
    /* RFC 5961 5.2: an ACK older than SND.UNA - MAX.SND.WND cannot come from
     * the peer (it has seen more than that): a blind injection.  Drop the
     * segment, data and all, and send a (rate-limited) challenge ACK. */
    if (seq_lt(seg->ack, tcb->snd_una - tcb->max_sndwnd)) {
        s->stats.tcp_drop++;
        s->stats.tcp_drop_old_ack++;
        challenge_ack(s, tcb);
        return ACK_DROP;
    }
    uint32_t flight = tcb->snd_max - tcb->snd_una;
    uint32_t wnd = (uint32_t)seg->th.window << tcb->snd_wscale;
    /* An ACK below SND.UNA is old: it may move nothing, not even the window. */
    bool old_ack = seq_lt(seg->ack, tcb->snd_una);
    if (seq_gt(seg->ack, tcb->snd_una)) {
        uint32_t acked = seg->ack - tcb->snd_una;
        if (!(tcb->flags & SN_TF_SYNACKED)) {
            acked--; /* the SYN's sequence number carries no data */
            tcb->flags |= SN_TF_SYNACKED;
        }
        uint32_t data = acked < tcb->snd.len ? acked : tcb->snd.len;
        sn_ring_consume(&tcb->snd, &s->mem, data, false);
        tcb->bytes_acked += data;
        uint32_t rtt;
        if (sn_tcp_rtxq_ack(s, tcb, seg->ack, &rtt)) {
            sn_tcp_rtt_sample(s, tcb, rtt);
        } else if (tcb->rtx_count > 0 && (tcb->flags & SN_TF_TS) &&
                   (seg->th.opts.present & SYNACK_TCPOPT_F_TIMESTAMP) && seg->th.opts.tsecr) {
            /* RFC 7323 4.1: after a retransmission Karn's rule gives no
             * sample, but the echoed timestamp says which copy arrived:
             * measure with it, so a backed-off RTO comes back down. */
            uint32_t ms = sn_tcp_tsval(s, tcb) - seg->th.opts.tsecr;
            if (ms < 60000u)
                sn_tcp_rtt_sample(s, tcb, (synack_time_t)ms * 1000u);
        }
        tcb->snd_una = seg->ack;
        sn_tcp_stall_start(s, tcb);
        if ((tcb->flags & SN_TF_SNDURG) && seq_geq(tcb->snd_una, sn_x(tcb)->snd_up))
            tcb->flags &= ~SN_TF_SNDURG;
        /* State compared with sequence numbers must stay within 2^31 of
         * them however long the connection lives: what snd_una passes
         * is pulled along (the meaning of each is unchanged).  (The urgent
         * pointers count only while SN_TF_SNDURG / rcv_urg say so.) */
        if (seq_lt(tcb->snd_sml, tcb->snd_una))
            tcb->snd_sml = tcb->snd_una;
        if (seq_lt(tcb->snd_nxt, tcb->snd_una))
            tcb->snd_nxt = tcb->snd_una;
        if (seq_lt(tcb->high_rxt, tcb->snd_una))
            tcb->high_rxt = tcb->snd_una;
        if (!(tcb->flags & SN_TF_RECOVERY) && seq_lt(tcb->recover, tcb->snd_una))
            tcb->recover = tcb->snd_una; /* RFC 6582 4.1's test is unchanged */
        sn_sack_advance(tcb);
        sn_sack_update(s, tcb, &seg->th.opts);
        tcb->rtx_count = 0;
        sn_tcp_arm_rtx(s, tcb); /* RFC 6298 5.2/5.3 */
        sn_tcp_recovery_on_ack(s, tcb, acked, false, flight);
        if (data > 0)
            sn_tcp_notify(s, tcb);
    } else if (seg->ack == tcb->snd_una && seq_lt(tcb->snd_una, tcb->snd_max)) {
        /* RFC 5681 2: a duplicate ACK carries no data, no SYN/FIN, does not
         * move the window, and something is outstanding.  With SACK, RFC
         * 6675 2 adds: it brings new SACK information, so that copies the
         * network duplicated do not pass for signs of loss. */
        uint32_t sacked_before = sn_x(tcb)->sacked_bytes;
        uint8_t nsacked_before = sn_x(tcb)->nsacked;
        sn_sack_update(s, tcb, &seg->th.opts);
        bool news = sn_x(tcb)->sacked_bytes != sacked_before || sn_x(tcb)->nsacked != nsacked_before;
        bool dup = seg->th.payload_len == 0 && !(seg->flags & (SYNACK_TH_SYN | SYNACK_TH_FIN)) &&
                   wnd == tcb->snd_wnd && (!(tcb->flags & SN_TF_SACK) || news);
        if (dup || news)
            sn_tcp_recovery_on_ack(s, tcb, 0, dup, flight);
    }
    /* RFC 9293 3.10.7.4: update the send window from the newest segment
     * only (SND.WL1/SND.WL2), and never from an old ACK. */
    if (!old_ack && (seq_lt(tcb->snd_wl1, seg->seq) ||
                     (tcb->snd_wl1 == seg->seq && seq_leq(tcb->snd_wl2, seg->ack)))) {
        tcb->snd_wnd = wnd;
        tcb->snd_wl1 = seg->seq;
        tcb->snd_wl2 = seg->ack;
        if (wnd > tcb->max_sndwnd)
            tcb->max_sndwnd = wnd;
    }

    /* Our FIN is the last sequence number we send: it is acknowledged
     * when everything sent is. */
    bool fin_acked = (tcb->flags & SN_TF_FINSENT) && tcb->snd_una == tcb->snd_max;
    switch (tcb->state) {
    case SYNACK_FIN_WAIT_1:
        if (fin_acked) {
            sn_tcp_set_state(s, tcb, SYNACK_FIN_WAIT_2);
            /* An orphan (no descriptor) may not wait forever for the
             * peer's FIN: Linux's tcp_fin_timeout, 60 s. */
            if (tcb->refs == 0)
                sn_tcp_set_close_timer(s, tcb, s->now + SYNACK_SEC(60));
        }
        break;
    case SYNACK_CLOSING:
        if (fin_acked)
            enter_time_wait(s, tcb);
        break;
    case SYNACK_LAST_ACK:
        if (fin_acked) {
            sn_tcp_drop(s, tcb, 0);
            return ACK_DROP;
        }
        break;
    default:
        break;
    }
    return ACK_CONTINUE;
}

/* A FIN kept ahead of a gap at fin_seq: out-of-order data parked beyond
 * it (a confused or hostile peer's) is forgotten. */
static void ooo_cut_at_fin(struct sn_tcb_ext *x, uint32_t fin_seq)
{
    uint8_t n = 0;
    for (uint8_t i = 0; i < x->nooo; i++) {
        if (seq_geq(x->ooo[i].left, fin_seq))
            continue;
        x->ooo[n] = x->ooo[i];
        if (seq_gt(x->ooo[n].right, fin_seq))
            x->ooo[n].right = fin_seq;
        n++;
    }
    x->nooo = n;
}

/* The peer's FIN, in order (RFC 9293 3.10.7.4 eighth). */
static void tcp_input_fin(struct synack_stack *s, struct sn_tcb *tcb)
{
    tcb->rcv_nxt++;
    tcb->flags |= SN_TF_RCVD_FIN | SN_TF_ACKNOW;
    /* Nothing follows a FIN: data parked beyond it (sent by a confused or
     * hostile peer) is dropped, and no SACK block reports it any more. */
    tcb->flags &= ~SN_TF_FIN_OOO;
    if (tcb->x) {
        tcb->x->nooo = 0;
        tcb->x->nrecent = 0;
        sn_tcb_ext_trim(s, tcb);
    }
    switch (tcb->state) {
    case SYNACK_SYN_RECEIVED:
    case SYNACK_ESTABLISHED:
        sn_tcp_set_state(s, tcb, SYNACK_CLOSE_WAIT);
        break;
    case SYNACK_FIN_WAIT_1:
        /* Our FIN not yet acknowledged: a simultaneous close. */
        sn_tcp_set_state(s, tcb, SYNACK_CLOSING);
        break;
    case SYNACK_FIN_WAIT_2:
        enter_time_wait(s, tcb);
        break;
    default:
        break;
    }
    sn_tcp_notify(s, tcb);
}

/* Linux's quick-ACK mode, for a connection with TCP_QUICKACK set (the
 * delayed ACK of RFC 1122 4.2.3.2 stays the default).  Linux ACKs the first
 * data segments of a connection at once, and again after an idle spell
 * longer than the RTO, so that a peer in slow start is not held up by
 * delayed ACKs (tcp_event_data_recv, tcp_incr_quickack): as many segments as
 * half the receive window holds at Linux's initial receive-MSS estimate of
 * 536 bytes, at least 2 and at most 16.  Called for every data segment;
 * returns whether this one is to be ACKed at once. */
static bool quick_ack(struct synack_stack *s, struct sn_tcb *tcb)
{
    struct sn_tcb_ext *x = tcb->x;
    if (!x || !(x->quickack & SN_QA_ON))
        return false;
    if (!(x->quickack & SN_QA_DATA) || s->now - x->last_data > tcb->rto) {
        uint32_t mss = tcb->rcv_mss < 536 ? tcb->rcv_mss : 536;
        uint32_t n = sn_tcp_rcv_space(tcb) / (2 * (mss ? mss : 536));
        n = n < 2 ? 2 : n > SN_QA_MAX ? SN_QA_MAX : n;
        if (n > x->quickacks)
            x->quickacks = (uint8_t)n;
    }
    x->quickack |= SN_QA_DATA;
    x->last_data = s->now;
    if (x->quickacks == 0)
        return false;
    x->quickacks--;
    return true;
}

/* Is [seq, seq + len) parked among the out-of-order ranges? */
static bool ooo_holds(const struct sn_tcb *tcb, uint32_t seq, uint32_t len)
{
    if (len == 0)
        return true;
    const struct sn_tcb_ext *x = sn_x(tcb);
    for (uint8_t i = 0; i < x->nooo; i++)
        if (seq_leq(x->ooo[i].left, seq) && seq_geq(x->ooo[i].right, seq + len))
            return true;
    return false;
}

/* RFC 9293 3.10.7.4: SYN-RECEIVED and every synchronized state. */
static int tcp_input_synchronized(struct synack_stack *s, struct sn_tcb *tcb,
                                  const struct sn_seg *seg)
{
    uint32_t wnd = seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
    uint32_t seq = seg->seq;
    const uint8_t *data = seg->th.payload;
    uint32_t dlen = (uint32_t)seg->th.payload_len;
    bool fin = (seg->flags & SYNACK_TH_FIN) != 0;

    /* SEG.SEQ = IRS: in SYN-RECEIVED the receive buffer holds only what
     * came on the peer's SYN (unreadable before ESTABLISHED). */
    if (tcb->state == SYNACK_SYN_RECEIVED && seg->seq == tcb->rcv_nxt - 1 - tcb->rcv.len &&
        (seg->flags & (SYNACK_TH_SYN | SYNACK_TH_RST)) == SYNACK_TH_SYN) {
        if (!(seg->flags & SYNACK_TH_ACK)) {
            /* The peer sent its SYN again: our SYN-ACK was lost.  Send it
             * again rather than a bare ACK, which a peer in SYN-SENT would
             * drop (as Linux's tcp_check_req does).  It is a retransmission:
             * Karn's rule (RFC 6298 3) takes no RTT sample from it, and the
             * initial window becomes one segment (RFC 5681 3.1). */
            tcb->flags &= ~SN_TF_RTT_TIMING;
            tcb->flags |= SN_TF_SYNRTX;
            tcb->total_retrans++;
            s->stats.tcp_retrans++;
            tcb->snd_nxt = tcb->iss;
            sn_tcp_output(s, tcb);
            return 0;
        }
        if (!(tcb->flags & SN_TF_PASSIVE) && seq_lt(tcb->snd_una, seg->ack) &&
            seq_leq(seg->ack, tcb->snd_max)) {
            /* Simultaneous open, RFC 9293 figure 8 line 6: the peer's
             * SYN-ACK acknowledges our SYN and completes the handshake. */
            tcb->last_rcv = s->now;
            if (tcp_input_ack(s, tcb, seg) == ACK_DROP)
                return 0;
            sn_tcp_output(s, tcb);
            return 0;
        }
    }

    /* RFC 7323 5.3 R1: PAWS.  A timestamp older than the newest one seen
     * marks an old duplicate from a wrapped sequence space: ACK and drop.
     * RFC 7323 5.5: after more than 24 days idle, the peer's timestamp
     * clock may have wrapped, TS.Recent is no longer valid and the
     * segment is not dropped for it. */
    bool has_ts = (tcb->flags & SN_TF_TS) && (seg->th.opts.present & SYNACK_TCPOPT_F_TIMESTAMP);
    bool ts_stale = has_ts && s->now - tcb->last_rcv > SN_TCP_PAWS_IDLE;
    if (has_ts && !ts_stale && !(seg->flags & SYNACK_TH_RST) &&
        seq_lt(seg->th.opts.tsval, tcb->ts_recent)) {
        s->stats.tcp_drop++;
        s->stats.tcp_drop_paws++;
        tcb->flags |= SN_TF_ACKNOW;
        sn_tcp_output(s, tcb);
        return 0;
    }

    /* first: check the sequence number */
    if (!seq_acceptable(tcb->rcv_nxt, wnd, seq, seg->len)) {
        /* A zero window still takes valid ACKs, URGs and RSTs (3.10.7.4). */
        if (!(wnd == 0 && seq == tcb->rcv_nxt)) {
            if (dlen > 0 && seq_leq(seq + dlen, tcb->rcv_nxt) && !(seg->flags & SYNACK_TH_RST))
                sn_tcp_dsack(s, tcb, seq, dlen); /* all of it arrived before */
            if (!(seg->flags & SYNACK_TH_RST)) {
                tcb->flags |= SN_TF_ACKNOW;
                sn_tcp_output(s, tcb);
            }
            return 0;
        }
        dlen = 0;
        fin = false;
    }

    /* second: RST.  RFC 5961 3.2: only an exact match resets; any other
     * in-window RST gets a challenge ACK. */
    if (seg->flags & SYNACK_TH_RST) {
        if (seq == tcb->rcv_nxt)
            tcp_input_rst(s, tcb);
        else
            challenge_ack(s, tcb);
        return 0;
    }

    /* fourth: SYN in a synchronized state */
    if (seg->flags & SYNACK_TH_SYN) {
        if (tcb->state == SYNACK_SYN_RECEIVED && (tcb->flags & SN_TF_PASSIVE)) {
            sn_tcb_free(s, tcb); /* back to LISTEN */
            return 0;
        }
        challenge_ack(s, tcb);
        return 0;
    }

    /* fifth: the ACK field */
    if (!(seg->flags & SYNACK_TH_ACK))
        return 0;
    switch (tcp_input_ack(s, tcb, seg)) {
    case ACK_DROP:
        return 0;
    case ACK_STOP:
        goto out;
    case ACK_CONTINUE:
        break;
    }
    /* Only an acceptable ACK is traffic from the peer (keep-alive's idle
     * time and probe count, RFC 1122 4.2.3.6; PAWS's idle time): one that
     * is dropped (RFC 5961 5.2's blind ACK) or acknowledges unsent data
     * counts for nothing, as in Linux, whose tcp_ack() leaves rcv_tstamp
     * alone for those. */
    tcb->last_rcv = s->now;
    tcb->ka_probes = 0;
    /* RFC 7323 4.3 and 5.3 R3, RFC 5961 5.2: TS.Recent is taken only from
     * a segment that passed every test above (PAWS, the sequence number,
     * RST, SYN, the ACK) and covers the left edge of the window we last
     * acknowledged (SEG.SEQ <= Last.ACK.sent); never from one discarded, so
     * one forged segment cannot make PAWS drop every genuine one. */
    if (has_ts && seq_leq(seg->seq, tcb->last_ack_sent) &&
        (ts_stale || seq_geq(seg->th.opts.tsval, tcb->ts_recent)))
        tcb->ts_recent = seg->th.opts.tsval;

    /* Trim what lies before RCV.NXT (a partial retransmission) and past the window. */
    if (seq_lt(seq, tcb->rcv_nxt)) {
        uint32_t skip = tcb->rcv_nxt - seq;
        sn_tcp_dsack(s, tcb, seq, skip < dlen ? skip : dlen); /* its first part came before */
        if (skip > dlen) {
            dlen = 0;
            if (skip > (uint32_t)seg->th.payload_len)
                fin = false; /* the FIN too is old */
        } else {
            data += skip;
            dlen -= skip;
        }
        seq = tcb->rcv_nxt;
    }
    if (dlen > 0 && seq_gt(seq + dlen, tcb->rcv_nxt + wnd)) {
        uint32_t room = seq_gt(tcb->rcv_nxt + wnd, seq) ? tcb->rcv_nxt + wnd - seq : 0;
        dlen = room;
        fin = false;
    }

    /* sixth: URG (RFC 9293 3.10.7.4, RFC 6093: the pointer marks the byte after the urgent data) */
    if ((seg->flags & SYNACK_TH_URG) && seg->th.urg_ptr > 0 &&
        (tcb->state == SYNACK_ESTABLISHED || tcb->state == SYNACK_FIN_WAIT_1 ||
         tcb->state == SYNACK_FIN_WAIT_2)) {
        uint32_t up = seg->seq + seg->th.urg_ptr;
        const struct sn_tcb_ext *ox = sn_x(tcb);
        if (ox->rcv_urg ? seq_gt(up, ox->rcv_up) : seq_gt(up, tcb->rcv_nxt - tcb->rcv.len)) {
            struct sn_tcb_ext *ux = sn_tcb_ext_get(s, tcb);
            if (ux) {
                ux->rcv_up = up;
                ux->rcv_urg = true;
            }
        }
    }

    /* seventh: segment text */
    if (dlen > 0 || (seg->th.payload_len > 0 && !fin)) {
        switch (tcb->state) {
        case SYNACK_ESTABLISHED:
        case SYNACK_FIN_WAIT_1:
        case SYNACK_FIN_WAIT_2:
            break;
        default:
            dlen = 0; /* CLOSE-WAIT and later: the peer already sent FIN */
            break;
        }
    }
    if (dlen > 0 && tcb->refs == 0 && (tcb->flags & SN_TF_SENDFIN) &&
        (tcb->state == SYNACK_FIN_WAIT_1 || tcb->state == SYNACK_FIN_WAIT_2)) {
        /* Data for a socket nobody can read any more: Linux (and RFC 2525
         * 2.17) answer with a reset, built from the segment (<SEQ=SEG.ACK>). */
        sn_tcp_respond_rst(s, seg);
        sn_tcp_drop(s, tcb, ECONNRESET);
        return 0;
    }
    if (dlen > 0 && (tcb->flags & SN_TF_FIN_OOO) && seq_gt(seq + dlen, sn_x(tcb)->rcv_fin)) {
        /* Nothing follows a FIN, also one kept ahead of a gap: bytes past
         * it are not taken (nor reported in SACK blocks). */
        uint32_t fin_seq = sn_x(tcb)->rcv_fin;
        dlen = seq_gt(fin_seq, seq) ? fin_seq - seq : 0;
    }
    if (dlen > 0) {
        bool in_order = seq == tcb->rcv_nxt;
        uint8_t had_ooo = sn_x(tcb)->nooo;
        uint32_t adv = sn_tcp_reass(s, tcb, seq, data, dlen);
        tcb->bytes_received += adv;
        bool quick = quick_ack(s, tcb);
        if (!in_order || had_ooo != sn_x(tcb)->nooo || had_ooo > 0) {
            /* RFC 5681 4.2: out-of-order data, or data filling a gap, is ACKed at once. */
            tcb->flags |= SN_TF_ACKNOW;
        } else if (quick) {
            tcb->flags |= SN_TF_ACKNOW; /* TCP_QUICKACK: Linux's quick-ACK mode */
        } else if ((tcb->segs_since_ack += dlen > tcb->rcv_mss ? 2u : 1u) >= 2) {
            /* RFC 1122 4.2.3.2 / RFC 5681 4.2: at least every second full
             * segment (a segment the kernel's GRO coalesced counts as many);
             * within a driver's batch, once per batch (tcp_ackbatch.c). */
            if (!sn_tcp_ack_hold(s, tcb))
                tcb->flags |= SN_TF_ACKNOW;
        } else if (tcb->deadline[SN_TT_DELACK] == SYNACK_TIME_NEVER) {
            sn_tcp_timer_set(s, tcb, SN_TT_DELACK, s->now + SYNACK_MSEC(40));
        }
        if (adv > 0)
            sn_tcp_notify(s, tcb);
    } else if (seg->th.payload_len > 0) {
        tcb->flags |= SN_TF_ACKNOW; /* nothing new: a duplicate, ACK it */
    }

    /* eighth: FIN, once every byte before it has arrived */
    if (fin && !(tcb->flags & SN_TF_RCVD_FIN)) {
        uint32_t fin_seq = seq + dlen;
        tcb->flags |= SN_TF_ACKNOW;
        if (fin_seq == tcb->rcv_nxt) {
            tcp_input_fin(s, tcb);
        } else if (seq_gt(fin_seq, tcb->rcv_nxt) && ooo_holds(tcb, seq, dlen)) {
            /* Ahead of missing data: keep it with the out-of-order data
             * (as Linux does) rather than make the peer send it again. */
            struct sn_tcb_ext *fx = sn_tcb_ext_get(s, tcb);
            if (fx) {
                tcb->flags |= SN_TF_FIN_OOO;
                fx->rcv_fin = fin_seq;
                ooo_cut_at_fin(fx, fin_seq);
            }
        }
    } else if (fin) {
        tcb->flags |= SN_TF_ACKNOW;
    }
    if ((tcb->flags & SN_TF_FIN_OOO) && tcb->rcv_nxt == sn_x(tcb)->rcv_fin) {
        tcb->flags &= ~SN_TF_FIN_OOO; /* the gap before a kept FIN has filled */
        tcp_input_fin(s, tcb);
    }

out:
    sn_tcp_output(s, tcb);
    if (tcb->state == SYNACK_TIME_WAIT) {
        /* The last ACK is out: a compact record waits out 2*MSL. */
        sn_tw_from_tcb(s, tcb);
        return 0;
    }
    if (tcb->state != SYNACK_CLOSED)
        sn_tcp_arm_keepalive(s, tcb);
    return 0;
}

/* RFC 1122 3.2.1.3: addresses that may never be a source: 0.0.0.0 (this
 * host, only while it learns its address), the limited broadcast and every
 * class E address, multicast (class D), loopback, and our own address
 * (a "land" segment: nobody else may use it). */
static bool bad_source(const struct synack_stack *s, uint32_t src)
{
    uint32_t top = src >> 24;
    return src == 0 || top == 127 || top >= 224 || src == s->cfg.addr;
}

int sn_tcp_input(struct synack_stack *s, const struct synack_ipv4_hdr *ip)
{
    struct sn_seg seg;
    s->stats.tcp_in++;
    /* SYNACK_RX_CSUM_VALID: the driver (the kernel's GRO or its own
     * partially checksummed packet) vouches for the checksum. */
    int rc = (s->rx_flags & SYNACK_RX_CSUM_VALID)
                 ? synack_tcp_parse_input_nocsum(ip->payload, ip->payload_len, &seg.th)
                 : synack_tcp_parse_input(ip->payload, ip->payload_len, ip->src, ip->dst, &seg.th);
    if (rc < 0) {
        s->stats.tcp_drop++;
        s->stats.tcp_drop_bad++;
        s->stats.ip_drop_parse[-rc < SYNACK_WIRE_NERR ? -rc : 0]++;
        return -EBADMSG;
    }
    seg.src = ip->src;
    seg.dst = ip->dst;
    seg.seq = seg.th.seq;
    seg.ack = seg.th.ack;
    seg.flags = seg.th.flags;
    seg.len = (uint32_t)seg.th.payload_len + ((seg.flags & SYNACK_TH_SYN) ? 1u : 0u) +
              ((seg.flags & SYNACK_TH_FIN) ? 1u : 0u);
    /* RFC 1122 4.2.3.10: a segment from a broadcast or multicast address
     * (or any other impossible source, or port 0) is dropped silently:
     * answering it with a RST would reflect it to many hosts, or to us. */
    if (bad_source(s, ip->src) || seg.th.sport == 0 || seg.th.dport == 0) {
        s->stats.tcp_drop++;
        s->stats.tcp_drop_bad_source++;
        return -EADDRNOTAVAIL;
    }

    struct synack_tuple k = {
        .laddr = ip->dst, .lport = seg.th.dport, .raddr = ip->src, .rport = seg.th.sport};
    struct sn_tuple_entry *e = sn_tuple_lookup(&s->conns, &k);
    if ((!e || e->tuple.rport == 0) && s->tw.count > 0) {
        /* No connection, or only a listener: the tuple may be in TIME-WAIT. */
        uint32_t tw = sn_tw_find(s, &k);
        if (tw) {
            if (sn_tw_input(s, tw, &seg, e != NULL) == 0)
                return 0;
            return tcp_input_listen(s, sn_tcb_of_entry(e), &seg); /* a new incarnation */
        }
    }
    if (!e) {
        /* RFC 9293 3.10.7.1: CLOSED.  A SYN here is what makes the peer's
         * connect() fail with ECONNREFUSED. */
        s->stats.tcp_drop++;
        s->stats.tcp_drop_noconn++;
        sn_tcp_respond_rst(s, &seg);
        return 0;
    }
    struct sn_tcb *tcb = sn_tcb_of_entry(e);
    tcb->segs_in++;
    switch (tcb->state) {
    case SYNACK_LISTEN:
        return tcp_input_listen(s, tcb, &seg);
    case SYNACK_SYN_SENT:
        return tcp_input_syn_sent(s, tcb, &seg);
    default:
        return tcp_input_synchronized(s, tcb, &seg);
    }
}

/* RFC 1191 "fragmentation needed": the path MTU is at most `mtu`.  Never
 * below 552 bytes (Linux's min_pmtu: a forged ICMP must not shrink segments
 * to nothing), never above what the connection already uses; the estimate
 * is raised again after 10 minutes (RFC 1191 6.3, Linux's
 * ip_rt_mtu_expires), when a too-large segment simply draws another ICMP. */
#define PMTU_MIN 552u
#define PMTU_EXPIRES SYNACK_SEC(600)
void sn_tcp_pmtu_lower(struct synack_stack *s, struct sn_tcb *tcb, uint32_t mtu)
{
    if (mtu < PMTU_MIN)
        mtu = PMTU_MIN; /* also an ICMP without the next-hop MTU (RFC 1191 5: 0) */
    uint32_t mss = mtu - 40u;
    if (tcb->flags & SN_TF_TS)
        mss -= 12;
    if (mss >= tcb->mss)
        return;
    struct sn_tcb_ext *x = sn_tcb_ext_get(s, tcb);
    if (!x)
        return; /* without memory to remember the old MSS, keep it */
    if (x->pmtu_expire == 0)
        x->mss_full = tcb->mss;
    x->pmtu_expire = s->now + PMTU_EXPIRES;
    tcb->mss = (uint16_t)mss;
    s->stats.tcp_pmtu_lowered++;
    tcb->snd_nxt = tcb->snd_una; /* resend what was too big */
    sn_tcp_output(s, tcb);
}

void sn_tcp_pmtu_check(struct synack_stack *s, struct sn_tcb *tcb)
{
    struct sn_tcb_ext *x = tcb->x;
    if (!x || s->now < x->pmtu_expire)
        return;
    tcb->mss = x->mss_full;
    x->mss_full = 0;
    x->pmtu_expire = 0;
    s->stats.tcp_pmtu_raised++;
    sn_tcb_ext_trim(s, tcb);
}

int sn_tcp_icmp_error(struct synack_stack *s, const struct synack_tuple *t, uint32_t seq,
                      uint8_t type, uint8_t code, uint16_t mtu)
{
    struct sn_tuple_entry *e = sn_tuple_find(&s->conns, t);
    if (!e)
        return 0;
    struct sn_tcb *tcb = sn_tcb_of_entry(e);
    /* RFC 5927 4.1: only an error quoting a sequence number in flight counts. */
    if (!seq_in(seq, tcb->snd_una, tcb->snd_max + 1))
        return 0;
    if (type == SYNACK_ICMP_DEST_UNREACH && code == SYNACK_ICMP_UNREACH_NEEDFRAG) {
        sn_tcp_pmtu_lower(s, tcb, mtu);
        return 0;
    }
    if (type != SYNACK_ICMP_DEST_UNREACH)
        return 0;
    /* RFC 1122 4.2.3.9: port and protocol unreachable are hard errors; on
     * an opening connection they end it (as Linux does). */
    if ((code == SYNACK_ICMP_UNREACH_PORT || code == SYNACK_ICMP_UNREACH_PROTO) &&
        tcb->state == SYNACK_SYN_SENT) {
        sn_tcp_drop(s, tcb, ECONNREFUSED);
        return 0;
    }
    /* Network and host unreachable (and their "unknown" and TOS forms) are
     * soft errors: TCP carries on (RFC 1122 4.2.3.9 SHOULD NOT abort), but
     * should the connection time out, the user learns why: EHOSTUNREACH or
     * ENETUNREACH rather than ETIMEDOUT (Linux's sk_err_soft). */
    switch (code) {
    case 0: case 6: case 9: case 11: /* net, net unknown, net prohibited, net for TOS */
        sn_tcp_output_error(s, tcb, ENETUNREACH);
        break;
    case 1: case 7: case 10: case 12: /* host, host unknown, host prohibited, host for TOS */
        sn_tcp_output_error(s, tcb, EHOSTUNREACH);
        break;
    default:
        break;
    }
    return 0;
}
