/* The connection invariant checker (see tcp_check.h).  Read-only: it walks
 * a TCB and says which rule, if any, does not hold. */
#include "tcp/tcp_check.h"

#include <stddef.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

static int fail(struct sn_check_report *r, const struct sn_tcb *tcb, const char *what, uint64_t a,
                uint64_t b)
{
    r->what = what;
    r->conn_id = tcb ? tcb->conn_id : 0;
    r->state = tcb ? tcb->state : 0;
    r->a = a;
    r->b = b;
    return -1;
}

#define REQUIRE(cond, what, a, b)                                                                  \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return fail(r, tcb, what, (uint64_t)(a), (uint64_t)(b));                               \
    } while (0)

/* Sorted, disjoint (not even touching: sn_ranges_add merges those),
 * non-empty ranges. */
static int check_ranges(const struct sn_tcb *tcb, const struct synack_sack_block *v, uint8_t n,
                        const char *what, struct sn_check_report *r)
{
    for (uint8_t i = 0; i < n; i++) {
        REQUIRE(seq_lt(v[i].left, v[i].right), what, v[i].left, v[i].right);
        if (i > 0)
            REQUIRE(seq_lt(v[i - 1].right, v[i].left), what, v[i - 1].right, v[i].left);
    }
    return 0;
}

/* The record of sent segments (tcp_rtxq.h): released when nothing is
 * outstanding; otherwise its records cut [SND.UNA, SND.MAX) into
 * contiguous, non-empty, ordered pieces, and the segment being timed for
 * an RTT sample is one of them. */
static int check_rtxq(const struct sn_tcb *tcb, struct sn_check_report *r)
{
    const struct sn_rtxq *q = tcb->rtxq;
    if (!q) {
        REQUIRE(!(tcb->flags & SN_TF_RTT_TIMING), "an RTT sample timed from a record", 0, 0);
        return 0;
    }
    REQUIRE(q->len > 0, "an empty record block is released", q->len, 0);
    REQUIRE(q->cap >= SN_RTXQ_MIN && q->cap <= SN_RTXQ_MAX && (q->cap & (q->cap - 1)) == 0 &&
                q->head < q->cap && q->len <= q->cap,
            "records within their block", q->len, q->cap);
    REQUIRE(sn_rtxq_at(q, 0)->start == tcb->snd_una, "the first record starts at SND.UNA",
            sn_rtxq_at(q, 0)->start, tcb->snd_una);
    REQUIRE(sn_rtxq_at(q, q->len - 1)->end == tcb->snd_max, "the last record ends at SND.MAX",
            sn_rtxq_at(q, q->len - 1)->end, tcb->snd_max);
    bool timed = false;
    for (uint32_t i = 0; i < q->len; i++) {
        const struct sn_rtxq_seg *g = sn_rtxq_at(q, i);
        REQUIRE(seq_lt(g->start, g->end), "a record is not empty", g->start, g->end);
        if (i > 0)
            REQUIRE(g->start == sn_rtxq_at(q, i - 1)->end, "records contiguous", g->start,
                    sn_rtxq_at(q, i - 1)->end);
        REQUIRE((g->flags & ~(SN_RTXQ_RETRANS | SN_RTXQ_SACKED | SN_RTXQ_MERGED)) == 0,
                "record flags known", g->flags, 0);
        REQUIRE(g->nrtx == 0 || (g->flags & SN_RTXQ_RETRANS), "a record sent again is marked",
                g->nrtx, g->flags);
        if (g->start == q->timed)
            timed = true;
    }
    if (tcb->flags & SN_TF_RTT_TIMING)
        REQUIRE(timed, "the segment timed for an RTT sample is outstanding", q->timed, tcb->snd_una);
    return 0;
}

static int check_send(const struct synack_stack *s, const struct sn_tcb *tcb,
                      struct sn_check_report *r)
{
    const struct sn_tcb_ext *x = sn_x(tcb);
    REQUIRE(seq_leq(tcb->snd_una, tcb->snd_nxt), "SND.UNA <= SND.NXT", tcb->snd_una, tcb->snd_nxt);
    REQUIRE(seq_leq(tcb->snd_nxt, tcb->snd_max), "SND.NXT <= SND.MAX", tcb->snd_nxt, tcb->snd_max);
    REQUIRE(tcb->snd.len <= tcb->snd.cap, "send queue within its buffer", tcb->snd.len, tcb->snd.cap);
    REQUIRE(tcb->snd.len == 0 || tcb->snd.t, "send queue has storage", tcb->snd.len, 0);
    /* What was sent past the first data byte is data from the queue, then
     * at most the FIN. */
    uint32_t una = sn_tcp_data_una(tcb);
    if (seq_gt(tcb->snd_max, una)) {
        uint32_t sent = tcb->snd_max - una;
        uint32_t fin = (tcb->flags & SN_TF_FINSENT) ? 1u : 0u;
        REQUIRE(sent <= tcb->snd.len + fin, "sent sequence space held in the send queue", sent,
                tcb->snd.len + fin);
    }
    REQUIRE(tcb->snd_wnd <= tcb->max_sndwnd || tcb->state == SYNACK_SYN_SENT,
            "SND.WND <= the largest window offered", tcb->snd_wnd, tcb->max_sndwnd);
    /* The scoreboard: above SND.UNA, below SND.MAX, sorted and disjoint. */
    REQUIRE(x->nsacked <= SN_SACK_MAX, "scoreboard size", x->nsacked, SN_SACK_MAX);
    if (check_ranges(tcb, x->sacked, x->nsacked, "scoreboard sorted and disjoint", r) < 0)
        return -1;
    uint32_t sacked = 0;
    for (uint8_t i = 0; i < x->nsacked; i++) {
        REQUIRE(seq_geq(x->sacked[i].left, tcb->snd_una), "SACKed range above SND.UNA",
                x->sacked[i].left, tcb->snd_una);
        REQUIRE(seq_leq(x->sacked[i].right, tcb->snd_max), "SACKed range below SND.MAX",
                x->sacked[i].right, tcb->snd_max);
        sacked += x->sacked[i].right - x->sacked[i].left;
    }
    REQUIRE(sacked == x->sacked_bytes, "SACKed byte count", sacked, x->sacked_bytes);
    /* Segments fit the link: payload + 40 bytes of headers + timestamps. */
    uint32_t ts = (tcb->flags & SN_TF_TS) ? 12u : 0u;
    /* (In SYN-SENT the MSS is still the default until the SYN-ACK says.) */
    REQUIRE(tcb->mss > 0 && (tcb->state == SYNACK_SYN_SENT || tcb->mss + 40u + ts <= s->cfg.mtu),
            "MSS + headers within the MTU",
            tcb->mss, s->cfg.mtu);
    REQUIRE(tcb->rto > 0 && tcb->rto <= s->cfg.rto_max, "RTO within (0, rto_max]", tcb->rto,
            s->cfg.rto_max);
    return check_rtxq(tcb, r);
}

static int check_recv(const struct sn_tcb *tcb, struct sn_check_report *r)
{
    const struct sn_tcb_ext *x = sn_x(tcb);
    REQUIRE(tcb->rcv.len <= tcb->rcv.cap, "receive queue within its buffer", tcb->rcv.len,
            tcb->rcv.cap);
    REQUIRE(tcb->rcv.len == 0 || tcb->rcv.t, "receive queue has storage", tcb->rcv.len, 0);
    REQUIRE(x->nooo <= SN_OOO_MAX, "out-of-order ranges count", x->nooo, SN_OOO_MAX);
    REQUIRE(x->nrecent <= SYNACK_TCP_MAX_SACK, "recent SACK list size", x->nrecent,
            SYNACK_TCP_MAX_SACK);
    if (check_ranges(tcb, x->ooo, x->nooo, "out-of-order ranges sorted and disjoint", r) < 0)
        return -1;
    for (uint8_t i = 0; i < x->nooo; i++) {
        const struct synack_sack_block *b = &x->ooo[i];
        /* A range that reached RCV.NXT would have been made readable. */
        REQUIRE(seq_gt(b->left, tcb->rcv_nxt), "out-of-order range above RCV.NXT", b->left,
                tcb->rcv_nxt);
        REQUIRE(seq_leq(b->right, tcb->rcv_adv), "out-of-order range inside the window",
                b->right, tcb->rcv_adv);
        REQUIRE((uint64_t)tcb->rcv.len + (b->right - tcb->rcv_nxt) <= tcb->rcv.cap,
                "out-of-order range inside the receive buffer", tcb->rcv.len + (b->right - tcb->rcv_nxt),
                tcb->rcv.cap);
    }
    if (tcb->flags & SN_TF_FIN_OOO) {
        REQUIRE(seq_gt(x->rcv_fin, tcb->rcv_nxt), "kept FIN above RCV.NXT", x->rcv_fin,
                tcb->rcv_nxt);
        for (uint8_t i = 0; i < x->nooo; i++)
            REQUIRE(seq_leq(x->ooo[i].right, x->rcv_fin), "no out-of-order data past a kept FIN",
                    x->ooo[i].right, x->rcv_fin);
    }
    return 0;
}

/* Every armed deadline is in the wheel (the wheel entry is the earliest
 * one), none is in the past, and which ones may run depends on the state. */
static int check_timers(const struct synack_stack *s, const struct sn_tcb *tcb,
                        struct sn_check_report *r)
{
    synack_time_t first = SYNACK_TIME_NEVER;
    for (int k = 0; k < SN_TT_N; k++) {
        synack_time_t d = tcb->deadline[k];
        if (d == SYNACK_TIME_NEVER)
            continue;
        /* Due timers fire in the call that reaches their time. */
        REQUIRE(d >= s->now, "no deadline left in the past", d, s->now);
        if (d < first)
            first = d;
    }
    if (first == SYNACK_TIME_NEVER) {
        REQUIRE(!sn_timer_pending(&tcb->timer), "no wheel entry without a deadline",
                tcb->timer.expires, 0);
    } else {
        REQUIRE(sn_timer_pending(&tcb->timer), "wheel entry for the earliest deadline", first, 0);
        REQUIRE(tcb->timer.expires <= first, "wheel entry no later than the earliest deadline",
                tcb->timer.expires, first);
    }
    const synack_time_t *d = tcb->deadline;
    switch (tcb->state) {
    case SYNACK_CLOSED:
    case SYNACK_LISTEN:
        REQUIRE(first == SYNACK_TIME_NEVER, "no timer in CLOSED or LISTEN", first, 0);
        break;
    case SYNACK_TIME_WAIT:
        REQUIRE(d[SN_TT_KEEPALIVE] != SYNACK_TIME_NEVER && (tcb->flags & SN_TF_CLOSE_TIMER),
                "TIME-WAIT runs the 2 MSL timer", d[SN_TT_KEEPALIVE], 0);
        REQUIRE(d[SN_TT_RTX] == SYNACK_TIME_NEVER && d[SN_TT_PERSIST] == SYNACK_TIME_NEVER,
                "nothing to retransmit in TIME-WAIT", d[SN_TT_RTX], d[SN_TT_PERSIST]);
        break;
    default:
        /* RFC 6298 5.1: something outstanding, the retransmission timer
         * runs (or the persist timer, for a closed window). */
        if (seq_lt(tcb->snd_una, tcb->snd_max))
            REQUIRE(d[SN_TT_RTX] != SYNACK_TIME_NEVER || d[SN_TT_PERSIST] != SYNACK_TIME_NEVER,
                    "retransmission timer runs while data is outstanding", tcb->snd_una,
                    tcb->snd_max);
        if (!sn_tcb_synchronized(tcb))
            REQUIRE((d[SN_TT_KEEPALIVE] == SYNACK_TIME_NEVER || (tcb->flags & SN_TF_CLOSE_TIMER)) &&
                        d[SN_TT_PERSIST] == SYNACK_TIME_NEVER,
                    "no keepalive or persist before the handshake", d[SN_TT_KEEPALIVE],
                    d[SN_TT_PERSIST]);
        break;
    }
    return 0;
}

int sn_check_tcb(const struct synack_stack *s, const struct sn_tcb *tcb, struct sn_check_report *r)
{
    REQUIRE(tcb->state < SYNACK_TCP_NSTATES, "state in range", tcb->state, SYNACK_TCP_NSTATES);
    REQUIRE(tcb->so_error >= 0, "so_error is a positive errno or 0", tcb->so_error, 0);
    if (tcb->fd >= 0)
        REQUIRE((uint32_t)tcb->fd < s->nfds && s->fds[tcb->fd] == tcb,
                "the connection's descriptor refers to it", tcb->fd, s->nfds);
    if (check_timers(s, tcb, r) < 0)
        return -1;
    switch (tcb->state) {
    case SYNACK_CLOSED:
        REQUIRE(!(tcb->flags & SN_TF_INTABLE), "a closed connection is not in the table", 0, 0);
        REQUIRE(!tcb->rtxq, "a closed connection keeps no records", 0, 0);
        return 0;
    case SYNACK_LISTEN: {
        const struct sn_listen *q = sn_tcb_lsn(tcb);
        if (!q)
            return 0;
        uint32_t n = 0;
        for (const struct sn_tcb *c = q->acc_head; c && n <= q->acc_len; c = sn_x(c)->acc_next, n++)
            REQUIRE(sn_tcb_listener(c) == tcb && (c->flags & SN_TF_ACCEPTQ),
                    "accept queue entries belong to the listener", c->conn_id, tcb->conn_id);
        REQUIRE(n == q->acc_len, "accept queue length", n, q->acc_len);
        n = 0;
        for (const struct sn_tcb *c = q->syn_head; c && n <= q->syn_len; c = sn_x(c)->acc_next, n++)
            REQUIRE(sn_tcb_listener(c) == tcb && c->state == SYNACK_SYN_RECEIVED,
                    "half-open children belong to the listener", c->conn_id, tcb->conn_id);
        REQUIRE(n == q->syn_len, "half-open list length", n, q->syn_len);
        return 0;
    }
    default:
        break;
    }
    if (check_send(s, tcb, r) < 0)
        return -1;
    if (tcb->state == SYNACK_SYN_SENT)
        return 0;
    if (check_recv(tcb, r) < 0)
        return -1;
    if (sn_tcb_synchronized(tcb))
        REQUIRE(tcb->cwnd > 0 && tcb->ssthresh > 0, "cwnd and ssthresh positive", tcb->cwnd,
                tcb->ssthresh);
    return 0;
}

/* Slots (table buckets, then descriptors) looked at per call when a cursor
 * bounds the walk. */
#define CHECK_SLICE 256

/* Slot i: a bucket of the 4-tuple table, or past them a descriptor (for
 * sockets not in the table: unconnected, closed, reset). */
static int check_slot(const struct synack_stack *s, uint32_t i, struct sn_check_report *r)
{
    uint32_t nb = s->conns.nbuckets;
    if (i < nb) {
        for (struct sn_tuple_entry *e = s->conns.buckets[i]; e; e = e->next)
            if (sn_check_tcb(s, sn_tcb_of_entry(e), r) < 0)
                return -1;
        return 0;
    }
    const struct sn_tcb *tcb = s->fds[i - nb];
    if (tcb && !(tcb->flags & SN_TF_INTABLE))
        return sn_check_tcb(s, tcb, r);
    return 0;
}

int sn_check_stack(const struct synack_stack *s, uint32_t *cursor, struct sn_check_report *r)
{
    const struct sn_tcb *tcb = NULL;
    uint32_t n = s->conns.nbuckets + s->nfds, from = 0, count = n;
    if (cursor && n > CHECK_SLICE) {
        from = *cursor % n;
        count = CHECK_SLICE;
        *cursor = (from + CHECK_SLICE) % n;
    }
    for (uint32_t k = 0; k < count; k++)
        if (check_slot(s, (from + k) % n, r) < 0)
            return -1;
    REQUIRE(s->nconns <= s->cfg.max_conns, "connections within max_conns", s->nconns,
            s->cfg.max_conns);
    REQUIRE(s->stats.tcp_orphans <= s->cfg.max_orphans, "orphans within max_orphans",
            s->stats.tcp_orphans, s->cfg.max_orphans);
    if (count == n) {
        /* The whole walk: the orphan count is the number of orphans (every
         * one is in the 4-tuple table: nothing else refers to it). */
        uint64_t orphans = 0;
        for (uint32_t b = 0; b < s->conns.nbuckets; b++)
            for (struct sn_tuple_entry *e = s->conns.buckets[b]; e; e = e->next)
                orphans += sn_tcb_orphan(sn_tcb_of_entry(e));
        REQUIRE(orphans == s->stats.tcp_orphans, "the orphan count counts the orphans", orphans,
                s->stats.tcp_orphans);
    }
    return 0;
}

int sn_check_packet(const struct synack_stack *s, const uint8_t *pkt, size_t len,
                    const struct synack_pkt_meta *m, struct sn_check_report *r)
{
    const struct sn_tcb *tcb = NULL;
    struct synack_ipv4_hdr ip;
    if (m && m->gso_size)
        REQUIRE((size_t)m->hdr_len + m->gso_size <= s->cfg.mtu,
                "each TSO segment no larger than the MTU", m->hdr_len + m->gso_size, s->cfg.mtu);
    else
        REQUIRE(len <= s->cfg.mtu, "packet no larger than the MTU", len, s->cfg.mtu);
    int rc = synack_ipv4_parse(pkt, len, &ip);
    REQUIRE(rc == 0, "IPv4 header well formed, checksum right", -rc, 0);
    REQUIRE(ip.total_len == len, "IPv4 total length is the packet's", ip.total_len, len);
    REQUIRE(ip.src == s->cfg.addr, "sent from our address", ip.src, s->cfg.addr);
    if (synack_ipv4_is_fragment(&ip))
        return 0; /* a piece of a larger datagram (an ICMP reply): nothing more to parse */
    if (ip.proto == SYNACK_IPPROTO_TCP) {
        struct synack_tcp_hdr th;
        rc = synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst,
                              !(m && (m->flags & SYNACK_PKT_CSUM_PARTIAL)), &th);
        REQUIRE(rc == 0, "TCP segment well formed, checksum right", -rc, 0);
    } else if (ip.proto == SYNACK_IPPROTO_ICMP) {
        struct synack_icmp_hdr ic;
        rc = synack_icmp_parse(ip.payload, ip.payload_len, &ic);
        REQUIRE(rc == 0, "ICMP message well formed, checksum right", -rc, 0);
    } else {
        REQUIRE(0, "only TCP and ICMP are sent", ip.proto, 0);
    }
    return 0;
}
