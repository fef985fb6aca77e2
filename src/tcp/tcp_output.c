/* Building and sending TCP segments: the output routine that decides what
 * the windows, the state and the flags allow (RFC 9293 3.8, RFC 1122
 * 4.2.3.4), and the replies (ACK, RST) the input path asks for. */
#include <errno.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"
#include "wire/csum_words.h"

/* The window to advertise, in bytes (RFC 9293 3.8.6.2.2 receiver SWS
 * avoidance: the right edge moves only by at least min(RCV.BUFF/2, MSS); and
 * RFC 9293 3.8.6 says the window SHOULD NOT shrink). */
static uint32_t rcv_window(const struct synack_stack *s, const struct sn_tcb *tcb)
{
    uint32_t space = sn_tcp_rcv_space(tcb);
    uint32_t max_wnd = (uint32_t)0xffff << tcb->rcv_wscale;
    if (space > max_wnd)
        space = max_wnd;
    uint32_t cur = seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
    if (cur > max_wnd)
        cur = max_wnd;
    uint32_t step = tcb->rcv.cap / 2 < tcb->rcv_mss ? tcb->rcv.cap / 2 : tcb->rcv_mss;
    if (space < cur + step && space > cur)
        space = cur; /* not worth opening by so little */
    /* Memory pressure (the stack's account past 3/4 of cfg.mem_max, as
     * Linux's tcp_mem[1]): the right edge stops moving, so the window the
     * peer may fill shrinks as its data arrives, and no one connection's
     * window grows into memory the stack does not have. */
    if (s->mem.limit && s->mem.used > s->mem.limit / 4 * 3 && space > cur) {
        space = cur;
        ((struct synack_stack *)s)->stats.tcp_window_clamped++;
    }
    if (space < cur)
        space = cur; /* never shrink */
    /* Round down to what the scaled field can express, unless that would
     * move the right edge back after all: then round the current window up
     * (as Linux's tcp_select_window; what lands past the buffer is trimmed). */
    uint32_t w = space >> tcb->rcv_wscale << tcb->rcv_wscale;
    if (w < cur)
        w = (uint32_t)(((uint64_t)cur + (1u << tcb->rcv_wscale) - 1) >> tcb->rcv_wscale
                       << tcb->rcv_wscale);
    return w;
}

/* SACK blocks the next segment reports: the D-SACK block, then the
 * out-of-order ranges, up to 3 beside timestamps and 4 without (RFC 2018 4). */
static uint32_t sack_blocks(const struct sn_tcb *tcb)
{
    if (!(tcb->flags & SN_TF_SACK))
        return 0;
    uint32_t max = (tcb->flags & SN_TF_TS) ? 3 : 4;
    uint32_t n = sn_x(tcb)->nooo + ((tcb->flags & SN_TF_DSACK) ? 1u : 0u);
    return n < max ? n : max;
}

/* Bytes of a SACK option with n blocks, with the two NOPs that align it. */
static uint32_t sack_opt_len(uint32_t n)
{
    return n ? 4 + 8 * n : 0;
}

uint32_t sn_tcp_seg_room(const struct sn_tcb *tcb)
{
    uint32_t opt = sack_opt_len(sack_blocks(tcb));
    /* On a link too small for the blocks beside any data, the data wins
     * and sn_tcp_send_segment() drops the blocks that do not fit. */
    return tcb->mss > opt ? tcb->mss - opt : tcb->mss;
}

static void fill_syn_options(const struct synack_stack *s, const struct sn_tcb *tcb,
                             struct synack_tcp_opts *o)
{
    bool active = tcb->state == SYNACK_SYN_SENT;
    o->present = SYNACK_TCPOPT_F_MSS;
    o->mss = tcb->rcv_mss;
    /* RFC 7323 2.2 / RFC 2018 2: offer on our SYN; on a SYN-ACK only if the peer offered. */
    if (s->cfg.wscale && (active || (tcb->flags & SN_TF_WSCALE))) {
        o->present |= SYNACK_TCPOPT_F_WSCALE;
        o->wscale = tcb->rcv_wscale;
    }
    if (s->cfg.sack && (active || (tcb->flags & SN_TF_SACK)))
        o->present |= SYNACK_TCPOPT_F_SACK_PERM;
    if (s->cfg.timestamps && (active || (tcb->flags & SN_TF_TS))) {
        o->present |= SYNACK_TCPOPT_F_TIMESTAMP;
        o->tsval = sn_tcp_tsval(s, tcb);
        o->tsecr = active ? 0 : tcb->ts_recent;
    }
}

int sn_tcp_send_segment(struct synack_stack *s, struct sn_tcb *tcb, uint8_t flags, uint32_t seq,
                        uint32_t len)
{
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    th.sport = tcb->te.tuple.lport;
    th.dport = tcb->te.tuple.rport;
    th.seq = seq;
    th.flags = flags;
    if (flags & SYNACK_TH_ACK)
        th.ack = tcb->rcv_nxt;
    uint32_t wnd = 0;
    if (flags & SYNACK_TH_SYN) {
        fill_syn_options(s, tcb, &th.opts);
        /* RFC 7323 2.2: the window in a SYN is never scaled. */
        wnd = sn_tcp_rcv_space(tcb);
        if (wnd > 0xffff)
            wnd = 0xffff;
        th.window = (uint16_t)wnd;
    } else if (!(flags & SYNACK_TH_RST) || (flags & SYNACK_TH_ACK)) {
        wnd = (flags & SYNACK_TH_RST) ? 0 : rcv_window(s, tcb);
        th.window = (uint16_t)(wnd >> tcb->rcv_wscale);
        if (tcb->flags & SN_TF_TS) {
            th.opts.present |= SYNACK_TCPOPT_F_TIMESTAMP;
            th.opts.tsval = sn_tcp_tsval(s, tcb);
            th.opts.tsecr = tcb->ts_recent;
        }
        const struct sn_tcb_ext *x = sn_x(tcb);
        if ((tcb->flags & SN_TF_SACK) && (x->nooo > 0 || (tcb->flags & SN_TF_DSACK)) &&
            !(flags & SYNACK_TH_RST)) {
            /* RFC 2018 4: up to 3 blocks beside timestamps, 4 without. */
            uint8_t max = (tcb->flags & SN_TF_TS) ? 3 : 4, k = 0;
            uint32_t used = 0;
            if (tcb->flags & SN_TF_DSACK) {
                /* RFC 2883 4: the duplicate first, then the usual blocks. */
                th.opts.sack[k++] = x->dsack;
                tcb->flags &= ~SN_TF_DSACK;
            }
            /* RFC 2018 4: the block of the segment that arrived last first,
             * then the others, most recently reported first. */
            for (uint8_t r = 0; r < x->nrecent && k < max; r++)
                for (uint8_t i = 0; i < x->nooo; i++)
                    if (!(used >> i & 1u) &&
                        seq_in(x->recent[r], x->ooo[i].left, x->ooo[i].right)) {
                        used |= 1u << i;
                        th.opts.sack[k++] = x->ooo[i];
                        break;
                    }
            for (uint8_t i = 0; i < x->nooo && k < max; i++)
                if (!(used >> i & 1u))
                    th.opts.sack[k++] = x->ooo[i];
            /* Never over the MTU or the peer's MSS (RFC 6691): the blocks
             * that do not fit beside the payload stay home. */
            uint32_t limit = tcb->mss + ((tcb->flags & SN_TF_TS) ? 12u : 0u);
            uint32_t other = (tcb->flags & SN_TF_TS) ? 12u : 0u;
            while (k > 0 && other + sack_opt_len(k) + len > limit)
                k--;
            if (k > 0)
                th.opts.present |= SYNACK_TCPOPT_F_SACK;
            th.opts.nsack = k;
        }
    }
    if ((flags & SYNACK_TH_URG) && seq_gt(sn_x(tcb)->snd_up, seq))
        th.urg_ptr = (uint16_t)(sn_x(tcb)->snd_up - seq);

    /* Header and options once, then the payload copied from the send ring
     * and summed in the same pass (no separate checksum pass over it). */
    uint8_t *seg = s->pkt + SYNACK_IPV4_HDR_MIN;
    th.payload_len = len;
    if (len > SN_PKT_MAX - SYNACK_IPV4_HDR_MIN - SYNACK_TCP_HDR_MIN)
        return -EMSGSIZE;
    int hlen = synack_tcp_emit_hdr(seg, SN_PKT_MAX - SYNACK_IPV4_HDR_MIN, &th);
    if (hlen < 0)
        return hlen == SYNACK_WIRE_ENOSPC ? -EMSGSIZE : -EINVAL;
    uint32_t n = (uint32_t)hlen + len;
    uint32_t sum = synack_csum_pseudo(tcb->te.tuple.laddr, tcb->te.tuple.raddr,
                                      SYNACK_IPPROTO_TCP, (uint16_t)n);
    struct synack_pkt_meta meta = {.gso_segs = 1};
    uint16_t csum;
    if (s->offload & SYNACK_OFFLOAD_CSUM) {
        /* The output completes the checksum (the field holds the
         * pseudo-header sum, as Linux's CHECKSUM_PARTIAL): a plain copy. */
        if (len > 0)
            sn_ring_peek(&tcb->snd, seq - sn_tcp_data_una(tcb), seg + hlen, len);
        csum = (uint16_t)~synack_csum_fold(sum);
        meta.flags = SYNACK_PKT_CSUM_PARTIAL;
        meta.csum_offset = 16;
        uint32_t unit = sn_tcp_seg_room(tcb); /* what sn_tcp_output_new cut at */
        if (len > unit) {
            meta.gso_size = (uint16_t)unit;
            meta.gso_segs = (uint16_t)((len + unit - 1) / unit);
            meta.hdr_len = (uint16_t)hlen;
            s->stats.tcp_tso_packets++;
        }
    } else {
        if (len > 0)
            sum = sn_ring_peek_csum(&tcb->snd, seq - sn_tcp_data_una(tcb), seg + hlen, len, sum);
        csum = synack_csum_fold(sn_csum_words(seg, (size_t)hlen / 4, sum)); /* hlen: whole words */
    }
    seg[16] = (uint8_t)(csum >> 8);
    seg[17] = (uint8_t)csum;
    if (flags & SYNACK_TH_ACK) {
        /* What we advertised: the peer may send up to here. */
        uint32_t edge = tcb->rcv_nxt + wnd;
        if (seq_gt(edge, tcb->rcv_adv) || !(flags & SYNACK_TH_SYN))
            tcb->rcv_adv = seq_max(edge, tcb->rcv_adv);
        tcb->last_ack_sent = tcb->rcv_nxt;
        tcb->flags &= ~SN_TF_ACKNOW;
        tcb->segs_since_ack = 0;
        if (tcb->deadline[SN_TT_DELACK] != SYNACK_TIME_NEVER)
            sn_tcp_timer_clear(s, tcb, SN_TT_DELACK);
    }
    if (!(flags & SYNACK_TH_RST)) {
        /* Sequence space (data, SYN, FIN) goes into the record of sent
         * segments, whether or not the output takes the packet: a refused
         * one is a loss like any other. */
        uint32_t span = len + ((flags & SYNACK_TH_SYN) ? 1u : 0u) + ((flags & SYNACK_TH_FIN) ? 1u : 0u);
        if (span > 0)
            sn_tcp_rtxq_sent(s, tcb, seq, span, meta.gso_size);
    }
    tcb->segs_out += meta.gso_segs;
    s->stats.tcp_out += meta.gso_segs;
    if (flags & SYNACK_TH_RST)
        s->stats.tcp_rst_out++;
    const struct sn_tcb_ext *x = sn_x(tcb);
    int rc = sn_ip_output_tos(s, tcb->te.tuple.raddr, SYNACK_IPPROTO_TCP, (size_t)n, x->tos, x->ttl,
                              &meta);
    if (rc < 0)
        sn_tcp_output_error(s, tcb, -rc);
    return rc;
}

/* The output function refused a segment.  As Linux: an unreachable
 * destination is a soft error, kept for the user should the connection
 * time out (tcp_write_err reports sk_err_soft instead of ETIMEDOUT); a full
 * device (ENOBUFS) is local congestion, which TCP recovers from like a loss. */
void sn_tcp_output_error(struct synack_stack *s, struct sn_tcb *tcb, int err)
{
    if (err != EHOSTUNREACH && err != ENETUNREACH && err != EHOSTDOWN && err != ENETDOWN)
        return;
    if (sn_x(tcb)->soft_err == err)
        return;
    struct sn_tcb_ext *x = sn_tcb_ext_get(s, tcb);
    if (x) /* without memory the connection times out with ETIMEDOUT */
        x->soft_err = (uint8_t)err;
}

/* A bare ACK carries SND.MAX, the next new sequence number, not SND.NXT:
 * after a timeout SND.NXT goes back to resend, and an ACK from there lies
 * below the peer's RCV.NXT, which the peer must answer with an ACK (RFC
 * 9293 3.10.7.4 first); if both sides are going back, that is an endless
 * ACK exchange.  (FreeBSD's tcp_output does the same; Linux never moves
 * snd_nxt back.) */
void sn_tcp_send_ack(struct synack_stack *s, struct sn_tcb *tcb)
{
    sn_tcp_send_segment(s, tcb, SYNACK_TH_ACK, tcb->snd_max, 0);
}

void sn_tcp_send_rst(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (tcb->state == SYNACK_SYN_SENT || tcb->state == SYNACK_CLOSED ||
        tcb->state == SYNACK_LISTEN)
        return;
    sn_tcp_send_segment(s, tcb, SYNACK_TH_RST | SYNACK_TH_ACK, tcb->snd_nxt, 0);
}

/* RFC 9293 3.10.7.1: a segment for no connection.  An incoming RST is
 * ignored; otherwise, with ACK: <SEQ=SEG.ACK><CTL=RST>; without:
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
void sn_tcp_send_ctl(struct synack_stack *s, const struct synack_tuple *t, struct synack_tcp_hdr *th)
{
    th->sport = t->lport;
    th->dport = t->rport;
    int n = synack_tcp_emit(s->pkt + SYNACK_IPV4_HDR_MIN, SN_PKT_MAX - SYNACK_IPV4_HDR_MIN, th,
                            t->laddr, t->raddr);
    if (n < 0)
        return;
    s->stats.tcp_out++;
    if (th->flags & SYNACK_TH_RST)
        s->stats.tcp_rst_out++;
    sn_ip_output(s, t->raddr, SYNACK_IPPROTO_TCP, (size_t)n, NULL);
}

void sn_tcp_respond_rst(struct synack_stack *s, const struct sn_seg *seg)
{
    if (seg->flags & SYNACK_TH_RST)
        return;
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    if (seg->flags & SYNACK_TH_ACK) {
        th.seq = seg->ack;
        th.flags = SYNACK_TH_RST;
    } else {
        th.seq = 0;
        th.ack = seg->seq + seg->len;
        th.flags = SYNACK_TH_RST | SYNACK_TH_ACK;
    }
    struct synack_tuple t = {
        .laddr = seg->dst, .raddr = seg->src, .lport = seg->th.dport, .rport = seg->th.sport};
    sn_tcp_send_ctl(s, &t, &th);
}

/* The most payload one packet may carry: the MSS, or with TSO as many
 * whole segments as fit in a 64 KiB IPv4 datagram (headers at their
 * largest), Linux's tcp_tso_autosize without its pacing limit.  Urgent data
 * goes in plain segments. */
static uint32_t tso_max(const struct synack_stack *s, const struct sn_tcb *tcb, uint32_t seg)
{
    if (!(s->offload & SYNACK_OFFLOAD_TSO) || (tcb->flags & SN_TF_SNDURG) || seg == 0)
        return seg;
    uint32_t room = SN_PKT_MAX - SYNACK_IPV4_HDR_MIN - SYNACK_TCP_HDR_MIN - SYNACK_TCP_OPT_MAX;
    uint32_t segs = room / seg;
    return segs > 1 ? segs * seg : seg;
}

static bool fin_pending(const struct sn_tcb *tcb)
{
    return (tcb->flags & SN_TF_SENDFIN) &&
           (tcb->state == SYNACK_FIN_WAIT_1 || tcb->state == SYNACK_CLOSING ||
            tcb->state == SYNACK_LAST_ACK);
}

/* The corked tail of the data (len < MSS, everything unsent): held, unless
 * it has waited SN_TCP_CORK_MAX already.  Its clock starts the first time
 * it is held; without memory for the clock it is not held at all (a cork
 * never stalls a connection). */
static bool cork_holds(struct synack_stack *s, struct sn_tcb *tcb)
{
    struct sn_tcb_ext *x = sn_tcb_ext_get(s, tcb);
    if (!x)
        return false;
    if (x->cork_until == 0)
        x->cork_until = s->now + SN_TCP_CORK_MAX;
    return s->now < x->cork_until;
}

/* RFC 1122 4.2.3.4 sender SWS avoidance, with Nagle (RFC 896): whether a
 * short segment of `len` bytes (less than the MSS; `all`: the last of the
 * data) waits.  It goes when it carries all there is and no other short
 * one is unacknowledged (or Nagle is off), or when it fills at least half
 * the largest window the peer has offered.  Then TCP_CORK / MSG_MORE:
 * partial segments wait for more data, the uncork, the FIN (Linux's
 * TCP_NAGLE_CORK), or the ceiling. */
static bool short_waits(struct synack_stack *s, struct sn_tcb *tcb, uint32_t len, bool all)
{
    /* Minshall's variant of Nagle, as Linux: hold a short segment only
     * while another short one is unacknowledged. */
    bool no_small_out = !seq_gt(tcb->snd_sml, tcb->snd_una);
    bool half = tcb->max_sndwnd > 0 && len >= tcb->max_sndwnd / 2;
    if (!(all && (no_small_out || (tcb->flags & SN_TF_NODELAY))) && !half)
        return true;
    return (tcb->flags & (SN_TF_CORK | SN_TF_MORE)) && (!all || cork_holds(s, tcb));
}

uint32_t sn_tcp_output_new(struct synack_stack *s, struct sn_tcb *tcb, uint32_t budget)
{
    uint32_t data_end = tcb->snd.len;           /* the FIN, if any, follows the data */
    uint32_t una = sn_tcp_data_una(tcb);
    uint32_t hole_end = una + data_end;
    const struct sn_tcb_ext *x = sn_x(tcb);
    if (seq_lt(tcb->snd_nxt, tcb->snd_max) && x->nsacked) {
        /* Resending after a timeout: skip what the peer SACKed (RFC 6675
         * 5.1 keeps the scoreboard across the RTO) and stop at the next
         * SACKed range. */
        uint32_t end;
        while (seq_lt(tcb->snd_nxt, tcb->snd_max) && sn_sack_is_sacked(tcb, tcb->snd_nxt, &end))
            tcb->snd_nxt = seq_min(end, tcb->snd_max);
        for (uint8_t i = 0; i < x->nsacked; i++)
            if (seq_lt(tcb->snd_nxt, x->sacked[i].left)) {
                hole_end = seq_min(hole_end, x->sacked[i].left);
                break;
            }
    }
    uint32_t off = tcb->snd_nxt - una;          /* already sent past the first data byte */
    uint32_t avail = off < data_end ? data_end - off : 0;
    if (avail == 0 && !fin_pending(tcb))
        return 0; /* nothing to send (most calls): what follows would find len 0 */
    if (seq_lt(tcb->snd_nxt, hole_end) && avail > hole_end - tcb->snd_nxt)
        avail = hole_end - tcb->snd_nxt;
    uint32_t room = tcb->snd_wnd > off ? tcb->snd_wnd - off : 0;
    if (room > budget)
        room = budget;
    uint32_t seg = sn_tcp_seg_room(tcb);
    uint32_t seg_max = tso_max(s, tcb, seg);
    uint32_t len = avail < seg_max ? avail : seg_max;
    if (len > room)
        len = room;
    if (len > seg && len < avail)
        len -= len % seg; /* TSO: whole segments, unless this is the last of the data */
    /* The FIN goes with (or after) the last byte of data, once; it needs no window. */
    bool fin = fin_pending(tcb) && off + len == data_end;
    bool resend = seq_lt(tcb->snd_nxt, tcb->snd_max);
    /* Urgent data goes at once, whatever Nagle says (as Linux's tcp_nagle_test). */
    bool urgent = (tcb->flags & SN_TF_SNDURG) && seq_gt(sn_x(tcb)->snd_up, tcb->snd_nxt);
    /* Data already sent once is resent as it was, whatever its size. */
    if (len > 0 && len < seg && !fin && !resend && !urgent && short_waits(s, tcb, len, len == avail))
        len = 0;
    /* TSO: the last of the data ends in a short segment; it goes inside the
     * large packet only if it could go on its own, else it waits as it
     * would without TSO (Linux's tcp_mss_split_point): no runt after every
     * corked or Nagled write of a bulk sender. */
    if (len > seg && len == avail && len % seg != 0 && !fin && !resend && !urgent &&
        short_waits(s, tcb, len % seg, true))
        len -= len % seg;
    /* TSO deferral (Linux's autocork and tcp_tso_should_defer): a large
     * packet cut short by the data, not by the window, waits while the user
     * has said that more follows (MSG_MORE, TCP_CORK) and data is in
     * flight, whose ACK brings the next chance; so a bulk sender's packets
     * stay full-sized instead of one of a single MSS every few writes.  It
     * never waits on an empty pipe, nor for a FIN. */
    if (seg_max > seg && len >= seg && len < seg_max && avail - len < seg && room > len &&
        (tcb->flags & (SN_TF_CORK | SN_TF_MORE)) && tcb->snd_max != tcb->snd_una && !fin_pending(tcb) &&
        !resend && !urgent)
        len = 0;
    if (len == 0 && !fin)
        return 0;
    uint8_t fl = SYNACK_TH_ACK;
    if (fin)
        fl |= SYNACK_TH_FIN;
    if (len > 0 && len == avail)
        fl |= SYNACK_TH_PSH; /* the last segment of what the user wrote */
    if ((tcb->flags & SN_TF_SNDURG) && seq_gt(sn_x(tcb)->snd_up, tcb->snd_nxt))
        fl |= SYNACK_TH_URG;
    if (resend)
        tcb->flags &= ~SN_TF_RTT_TIMING; /* resending after a timeout: Karn */
    int rc = sn_tcp_send_segment(s, tcb, fl, tcb->snd_nxt, len);
    if (!resend)
        sn_tcp_rtxq_time(s, tcb, tcb->snd_nxt); /* RFC 6298 3: an RTT sample from new data */
    if (rc < 0 && len == 0)
        return 0;
    if (len < seg || len % seg != 0)
        tcb->snd_sml = tcb->snd_nxt + len; /* ends with a short segment */
    tcb->snd_nxt += len + (fin ? 1u : 0u);
    if (fin)
        tcb->flags |= SN_TF_FINSENT;
    tcb->snd_max = seq_max(tcb->snd_max, tcb->snd_nxt);
    if (tcb->deadline[SN_TT_RTX] == SYNACK_TIME_NEVER)
        sn_tcp_arm_rtx(s, tcb);
    return len + (fin ? 1u : 0u);
}

/* After an output: a corked tail still waiting gets the persist slot at
 * its ceiling (timer_persist sends it then); none waiting resets the clock.
 * Returns true when the slot is the cork's. */
static bool cork_timer(struct synack_stack *s, struct sn_tcb *tcb, bool waiting)
{
    struct sn_tcb_ext *x = tcb->x;
    if (!x || x->cork_until == 0)
        return false;
    if (!waiting) {
        x->cork_until = 0;
        return false;
    }
    if (x->cork_until <= s->now)
        return false; /* gone past: what still holds it is Nagle, until an ACK */
    if (tcb->deadline[SN_TT_PERSIST] != x->cork_until)
        sn_tcp_timer_set(s, tcb, SN_TT_PERSIST, x->cork_until);
    return true;
}

static void output(struct synack_stack *s, struct sn_tcb *tcb)
{
    switch (tcb->state) {
    case SYNACK_CLOSED:
    case SYNACK_LISTEN:
    case SYNACK_TIME_WAIT:
        if (tcb->state == SYNACK_TIME_WAIT && (tcb->flags & SN_TF_ACKNOW))
            sn_tcp_send_ack(s, tcb);
        return;
    case SYNACK_SYN_SENT:
    case SYNACK_SYN_RECEIVED:
        /* The SYN (or SYN-ACK) is the only thing outstanding until the
         * handshake completes; it is sent when snd_nxt is back at ISS. */
        if (tcb->snd_nxt == tcb->iss) {
            uint8_t fl = tcb->state == SYNACK_SYN_SENT ? SYNACK_TH_SYN
                                                       : SYNACK_TH_SYN | SYNACK_TH_ACK;
            bool again = seq_lt(tcb->iss, tcb->snd_max);
            sn_tcp_send_segment(s, tcb, fl, tcb->iss, 0);
            if (!again)
                sn_tcp_rtxq_time(s, tcb, tcb->iss);
            tcb->snd_nxt = tcb->iss + 1;
            tcb->snd_max = seq_max(tcb->snd_max, tcb->snd_nxt);
            if (tcb->deadline[SN_TT_RTX] == SYNACK_TIME_NEVER)
                sn_tcp_arm_rtx(s, tcb);
        } else if (tcb->flags & SN_TF_ACKNOW) {
            sn_tcp_send_ack(s, tcb);
        }
        return;
    default:
        break;
    }

    if (!(tcb->flags & SN_TF_SYNACKED) && tcb->snd_nxt == tcb->iss) {
        /* Closed in SYN-RECEIVED (RFC 9293 3.10.4): the SYN-ACK is still
         * unacknowledged and goes (again) before the FIN. */
        sn_tcp_send_segment(s, tcb, SYNACK_TH_SYN | SYNACK_TH_ACK, tcb->iss, 0);
        tcb->snd_nxt = tcb->iss + 1;
        tcb->snd_max = seq_max(tcb->snd_max, tcb->snd_nxt);
        if (tcb->deadline[SN_TT_RTX] == SYNACK_TIME_NEVER)
            sn_tcp_arm_rtx(s, tcb);
    }
    uint64_t sent = 0;
    if ((tcb->flags & (SN_TF_RECOVERY | SN_TF_SACK)) == (SN_TF_RECOVERY | SN_TF_SACK)) {
        uint64_t before = tcb->segs_out;
        sn_tcp_recovery_output(s, tcb);
        sent = tcb->segs_out - before;
    } else {
        for (;;) {
            uint32_t flight = tcb->snd_nxt - tcb->snd_una;
            /* RFC 3042 limited transmit: the first two duplicate ACKs each
             * let one new segment out, so that a small window still
             * produces the three duplicates fast retransmit needs.  The
             * allowance ends when recovery starts (RFC 3042 2: cwnd itself
             * is never raised by it). */
            uint32_t allow = !(tcb->flags & SN_TF_RECOVERY) && tcb->dupacks < 3 ? tcb->dupacks : 0u;
            uint32_t cwnd = tcb->cwnd + allow * tcb->mss;
            uint32_t budget = cwnd > flight ? cwnd - flight : 0;
            uint32_t n = sn_tcp_output_new(s, tcb, budget);
            if (n == 0)
                break;
            sent += n;
        }
    }
    if (!sent && (tcb->flags & SN_TF_ACKNOW))
        sn_tcp_send_ack(s, tcb);
    /* RFC 9293 3.8.6.1 / RFC 1122 4.2.3.4: data waiting, nothing in flight
     * to bring a window update, and the window too small to send: the
     * persist timer probes (or forces a segment into a small window). */
    uint32_t off = tcb->snd_nxt - tcb->snd_una;
    bool unsent = off < tcb->snd.len;
    /* Corked data the window would take waits for the user or the cork's
     * ceiling, not the persist timer. */
    bool corked = unsent && (tcb->flags & (SN_TF_CORK | SN_TF_MORE)) && tcb->snd_wnd > off;
    if (cork_timer(s, tcb, corked))
        return;
    if (corked)
        unsent = false;
    if (unsent && tcb->snd_nxt == tcb->snd_max && tcb->snd_una == tcb->snd_max) {
        if (tcb->deadline[SN_TT_PERSIST] == SYNACK_TIME_NEVER) {
            tcb->persist_backoff = 0;
            sn_tcp_stall_start(s, tcb);
            sn_tcp_timer_set(s, tcb, SN_TT_PERSIST, s->now + tcb->rto);
        }
    } else if (tcb->deadline[SN_TT_PERSIST] != SYNACK_TIME_NEVER) {
        sn_tcp_timer_clear(s, tcb, SN_TT_PERSIST);
    }
}

void sn_tcp_output(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (tcb->x && tcb->x->pmtu_expire)
        sn_tcp_pmtu_check(s, tcb);
    output(s, tcb);
    /* Every change of the out-of-line state ends in an output: what has
     * gone back to its default is freed here (a reported D-SACK, a
     * scoreboard emptied by an ACK, ...). */
    sn_tcb_ext_trim(s, tcb);
}
