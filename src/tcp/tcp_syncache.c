/* SYN-flood resistance (RFC 4987): the SYN cache and SYN cookies.
 *
 * A SYN for a listener no longer creates a connection block.  It creates a
 * struct sn_syn_entry (80 bytes: tuple, both ISNs, the options the peer
 * offered, a deadline), as FreeBSD's syncache and Linux's request_sock do;
 * the TCB with its buffers is built only when the handshake's ACK arrives
 * (sn_syncache_ack).  The cache is bounded for each listener (4 x its
 * listen backlog + 16) and for the stack (cfg.max_syncache).
 *
 * When the bound is reached the SYN-ACK carries a SYN cookie instead
 * (RFC 4987 3.6): the ISN encodes a keyed hash of the 4-tuple and the
 * peer's ISN, a 64-second time counter and the index of the peer's MSS in a
 * table of four; nothing is stored.  If the peer offered timestamps, the
 * low 6 bits of our TSval carry its window scale and SACK-permitted (as
 * Linux and FreeBSD do), so those survive too; without timestamps they are
 * lost, as on Linux.  A valid cookie in the ACK (acknowledgment - 1) builds
 * the connection.  Cookie ACKs are accepted only while cookies are being
 * sent (within two counter periods of the last one, Linux's
 * tcp_synq_no_recent_overflow), so that a blind attacker cannot open
 * connections by guessing cookies when there is no flood; and cookies stop
 * as soon as the cache has room again.
 *
 * SYN-ACK retransmissions (RFC 6298 backoff from cfg.rto_initial) are
 * bounded by cfg.synack_retries, and by 1 while the cache is more than half
 * full (Linux retransmits fewer SYN-ACKs for old entries under pressure
 * too), so a flood's entries leave after about 3 s instead of 63.
 *
 * Timers: the entries waiting for their k-th retransmission all wait the
 * same interval, so each level k is a FIFO sorted by deadline, and the next
 * deadline is the earliest of SN_SYNQ_LEVELS heads: O(1) per entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"
#include "wire/be.h"

_Static_assert(sizeof(void *) != 8 || sizeof(struct sn_syn_entry) <= 80,
               "the SYN-cache entry is meant to stay small");

/* ---- the table ---- */

/* The connection table's keyed hash (core/tuple_table.c): an attacker
 * cannot aim SYNs at one chain without its key. */
static uint32_t tuple_bucket(const struct synack_stack *s, const struct synack_tuple *t)
{
    return sn_tuple_hash(&s->conns, t) & (s->syncache.nbuckets - 1);
}

static bool tuple_eq(const struct synack_tuple *a, const struct synack_tuple *b)
{
    return a->laddr == b->laddr && a->raddr == b->raddr && a->lport == b->lport &&
           a->rport == b->rport;
}

int sn_syncache_init(struct synack_stack *s)
{
    struct sn_syncache *q = &s->syncache;
    memset(q, 0, sizeof(*q));
    uint32_t n = 16;
    while (n < s->cfg.max_syncache / 2 && n < (1u << 20))
        n <<= 1;
    q->buckets = sn_mem_calloc(&s->mem, n, sizeof(*q->buckets));
    if (!q->buckets)
        return -ENOMEM;
    q->hint = SYNACK_TIME_NEVER;
    q->nbuckets = n;
    sn_mem_add_fixed(&s->mem, n * sizeof(*q->buckets));
    return 0;
}

static struct sn_syn_entry *lookup(const struct synack_stack *s, const struct synack_tuple *t)
{
    struct sn_syn_entry *e = s->syncache.buckets[tuple_bucket(s, t)];
    while (e && !tuple_eq(&e->tuple, t))
        e = e->hnext;
    return e;
}

static unsigned level_of(const struct sn_syn_entry *e)
{
    return e->rtx < SN_SYNQ_LEVELS ? e->rtx : SN_SYNQ_LEVELS - 1;
}

static void queue_append(struct sn_syncache *q, struct sn_syn_entry *e)
{
    unsigned k = level_of(e);
    e->qnext = NULL;
    e->qprev = q->tail[k];
    if (q->tail[k])
        q->tail[k]->qnext = e;
    else
        q->head[k] = e;
    q->tail[k] = e;
    if (e->deadline < q->hint)
        q->hint = e->deadline;
}

static void queue_remove(struct sn_syncache *q, struct sn_syn_entry *e)
{
    unsigned k = level_of(e);
    if (e->qprev)
        e->qprev->qnext = e->qnext;
    else
        q->head[k] = e->qnext;
    if (e->qnext)
        e->qnext->qprev = e->qprev;
    else
        q->tail[k] = e->qprev;
    e->qprev = e->qnext = NULL;
}

/* Tell the trace hook about a half-open connection that has no TCB. */
static void trace(struct synack_stack *s, uint32_t conn_id, const struct synack_tuple *t,
                  enum synack_tcp_state from, enum synack_tcp_state to)
{
    if (!s->cfg.on_state)
        return;
    struct synack_conn_addr ca = {synack_addr_v4(t->laddr), synack_addr_v4(t->raddr), t->lport,
                                  t->rport};
    s->cfg.on_state(s->cfg.on_state_user, conn_id, &ca, from, to);
}

/* Take e out of the cache and free it.  `closed`: tell the trace hook the
 * half-open connection is gone (not when it became a TCB). */
static void entry_free(struct synack_stack *s, struct sn_syn_entry *e, bool closed)
{
    struct sn_syncache *q = &s->syncache;
    struct sn_syn_entry **pp = &q->buckets[tuple_bucket(s, &e->tuple)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    queue_remove(q, e);
    struct sn_listen *lq = sn_tcb_lsn(e->listener);
    if (lq && lq->cached > 0)
        lq->cached--;
    if (--q->count == 0)
        q->hint = SYNACK_TIME_NEVER; /* empty: the hint is exact */
    if (closed)
        trace(s, e->conn_id, &e->tuple, SYNACK_SYN_RECEIVED, SYNACK_CLOSED);
    sn_mem_put(&s->mem, e, sizeof(*e));
}

void sn_syncache_free(struct synack_stack *s)
{
    struct sn_syncache *q = &s->syncache;
    for (unsigned k = 0; k < SN_SYNQ_LEVELS; k++)
        while (q->head[k])
            entry_free(s, q->head[k], false);
    sn_mem_free(&s->mem, q->buckets);
    q->buckets = NULL;
}

void sn_syncache_listener_gone(struct synack_stack *s, struct sn_tcb *l)
{
    struct sn_syncache *q = &s->syncache;
    for (unsigned k = 0; k < SN_SYNQ_LEVELS; k++) {
        struct sn_syn_entry *e = q->head[k];
        while (e) {
            struct sn_syn_entry *next = e->qnext;
            if (e->listener == l)
                entry_free(s, e, true);
            e = next;
        }
    }
}

/* ---- SYN cookies (RFC 4987 3.6) ---- */

/* The MSS a cookie can say (Linux's msstab): the largest not above the peer's. */
static const uint16_t cookie_mss[4] = {536, 1300, 1440, 1460};
#define COOKIE_BITS 24
#define COOKIE_MASK ((1u << COOKIE_BITS) - 1)
#define COOKIE_PERIOD SYNACK_SEC(64) /* the counter's tick */
#define COOKIE_MAX_AGE 2             /* ticks a cookie stays valid: 2-3 minutes */
/* TSval bits that carry the options: wscale (4 bits, 15 = none), SACK. */
#define COOKIE_TS_BITS 6
#define COOKIE_TS_MASK ((1u << COOKIE_TS_BITS) - 1)
#define COOKIE_TS_NOWS 0xfu
#define COOKIE_TS_SACK 0x10u

static uint32_t cookie_hash(const struct synack_stack *s, const struct synack_tuple *t,
                            uint32_t count, uint32_t irs, uint8_t which)
{
    uint8_t b[21];
    put32(b, t->laddr);
    put32(b + 4, t->raddr);
    put16(b + 8, t->lport);
    put16(b + 10, t->rport);
    put32(b + 12, count);
    put32(b + 16, irs);
    b[20] = which;
    return (uint32_t)sn_siphash(s->keys.cookie, b, sizeof(b));
}

static uint32_t cookie_count(const struct synack_stack *s)
{
    return (uint32_t)(s->now / COOKIE_PERIOD);
}

/* As Linux's secure_tcp_syn_cookie(): H1 + irs + (count << 24) +
 * ((H2 + data) & mask), except that H2 covers the peer's ISN too (as
 * FreeBSD's MAC does), so that an ACK whose sequence number is off by a
 * little cannot pass with another MSS index. */
static uint32_t cookie_make(const struct synack_stack *s, const struct synack_tuple *t,
                            uint32_t irs, uint32_t mssind)
{
    uint32_t count = cookie_count(s);
    return cookie_hash(s, t, 0, 0, 1) + irs + (count << COOKIE_BITS) +
           ((cookie_hash(s, t, count, irs, 2) + mssind) & COOKIE_MASK);
}

/* The MSS index a valid cookie carries, or -1. */
static int cookie_check(const struct synack_stack *s, const struct synack_tuple *t, uint32_t irs,
                        uint32_t cookie)
{
    uint32_t diff = cookie - cookie_hash(s, t, 0, 0, 1) - irs;
    uint32_t now = cookie_count(s);
    /* The top 8 bits hold the counter's low bits when the cookie was made. */
    uint32_t age = (now - (diff >> COOKIE_BITS)) & (0xffffffffu >> COOKIE_BITS);
    if (age > COOKIE_MAX_AGE)
        return -1;
    uint32_t data = (diff - cookie_hash(s, t, now - age, irs, 2)) & COOKIE_MASK;
    return data < 4 ? (int)data : -1;
}

/* ---- SYN-ACKs ---- */

/* What a SYN offered, and what we agreed to. */
struct syn_params {
    struct synack_tuple tuple;
    uint32_t irs, iss, ts_recent;
    uint32_t ts_offset;   /* our TSval offset (sn_tcp_conn_secret) */
    uint16_t peer_mss;
    uint8_t peer_wscale;  /* SN_SYN_NO_WSCALE: none */
    uint8_t flags;        /* SN_SYN_F_* */
};

static void params_from_syn(const struct synack_stack *s, const struct sn_seg *seg,
                            struct syn_params *p)
{
    const struct synack_tcp_opts *o = &seg->th.opts;
    memset(p, 0, sizeof(*p));
    p->tuple = (struct synack_tuple){
        .laddr = seg->dst, .lport = seg->th.dport, .raddr = seg->src, .rport = seg->th.sport};
    p->irs = seg->seq;
    if (o->present & SYNACK_TCPOPT_F_MSS) {
        p->peer_mss = o->mss;
        p->flags |= SN_SYN_F_MSS;
    }
    p->peer_wscale = (o->present & SYNACK_TCPOPT_F_WSCALE) && s->cfg.wscale
                         ? (o->wscale > 14 ? 14 : o->wscale) /* RFC 7323 2.3 */
                         : SN_SYN_NO_WSCALE;
    if ((o->present & SYNACK_TCPOPT_F_SACK_PERM) && s->cfg.sack)
        p->flags |= SN_SYN_F_SACK;
    if ((o->present & SYNACK_TCPOPT_F_TIMESTAMP) && s->cfg.timestamps) {
        p->flags |= SN_SYN_F_TS;
        p->ts_recent = o->tsval;
    }
}

static uint32_t listener_window(const struct sn_tcb *l)
{
    return l->rcv.cap > 0xffff ? 0xffff : l->rcv.cap; /* RFC 7323 2.2: unscaled in a SYN */
}

/* <SEQ=ISS><ACK=IRS+1><CTL=SYN,ACK> with the options agreed.  tsval_bits:
 * for a cookie, the options to hide in the low bits of TSval (else -1). */
static void send_synack(struct synack_stack *s, const struct sn_tcb *l, const struct syn_params *p,
                        int tsval_bits)
{
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    th.sport = p->tuple.lport;
    th.dport = p->tuple.rport;
    th.seq = p->iss;
    th.ack = p->irs + 1;
    th.flags = SYNACK_TH_SYN | SYNACK_TH_ACK;
    th.window = (uint16_t)listener_window(l);
    th.opts.present = SYNACK_TCPOPT_F_MSS;
    th.opts.mss = (uint16_t)(s->cfg.mtu - 40u);
    if (l->rcv_mss && l->rcv_mss < th.opts.mss)
        th.opts.mss = l->rcv_mss; /* TCP_MAXSEG set on the listener */
    if (p->peer_wscale != SN_SYN_NO_WSCALE) {
        th.opts.present |= SYNACK_TCPOPT_F_WSCALE;
        th.opts.wscale = sn_tcp_choose_wscale(l->rcv.cap);
    }
    if (p->flags & SN_SYN_F_SACK)
        th.opts.present |= SYNACK_TCPOPT_F_SACK_PERM;
    if (p->flags & SN_SYN_F_TS) {
        uint32_t now = (uint32_t)(s->now / 1000u) + p->ts_offset;
        uint32_t ts = now;
        if (tsval_bits >= 0) {
            /* Never ahead of the clock the connection will use, so that
             * TSval stays monotonic (Linux's cookie_init_timestamp). */
            ts = (now & ~COOKIE_TS_MASK) | (uint32_t)tsval_bits;
            if (seq_gt(ts, now))
                ts -= COOKIE_TS_MASK + 1;
        }
        th.opts.present |= SYNACK_TCPOPT_F_TIMESTAMP;
        th.opts.tsval = ts;
        th.opts.tsecr = p->ts_recent;
    }
    uint8_t *seg = s->pkt + SYNACK_IPV4_HDR_MIN;
    int n = synack_tcp_emit(seg, SN_PKT_MAX - SYNACK_IPV4_HDR_MIN, &th, p->tuple.laddr,
                            p->tuple.raddr);
    if (n < 0)
        return;
    s->stats.tcp_out++;
    /* The listener's IP_TOS and IP_TTL, as Linux's SYN-ACK (ip_build_and_send_pkt). */
    sn_ip_output_tos(s, p->tuple.raddr, SYNACK_IPPROTO_TCP, (size_t)n, sn_x(l)->tos, sn_x(l)->ttl,
                     NULL);
}

static void params_from_entry(const struct sn_syn_entry *e, struct syn_params *p)
{
    p->tuple = e->tuple;
    p->irs = e->irs;
    p->iss = e->iss;
    p->ts_recent = e->ts_recent;
    p->ts_offset = e->ts_offset;
    p->peer_mss = e->peer_mss;
    p->peer_wscale = e->peer_wscale;
    p->flags = e->flags;
}

static synack_time_t level_interval(const struct synack_stack *s, unsigned rtx)
{
    unsigned k = rtx < SN_SYNQ_LEVELS ? rtx : SN_SYNQ_LEVELS - 1;
    uint64_t t = (uint64_t)s->cfg.rto_initial << k;
    return t > s->cfg.rto_max ? s->cfg.rto_max : t;
}

/* The accept queue's bound: the listen backlog (+1, as Linux). */
static uint32_t listener_bound(const struct sn_tcb *l)
{
    const struct sn_listen *q = sn_tcb_lsn(l);
    return q && q->backlog ? q->backlog : 1;
}

static uint32_t accept_len(const struct sn_tcb *l)
{
    const struct sn_listen *q = sn_tcb_lsn(l);
    return q ? q->acc_len : 0;
}

static uint32_t cached(const struct sn_tcb *l)
{
    const struct sn_listen *q = sn_tcb_lsn(l);
    return q ? q->cached : 0;
}

/* Half-open entries one listener may hold: 4 x backlog + 16, room for a
 * burst of handshakes well past what accept() drains (Linux bounds them by
 * the backlog alone, and so sends cookies sooner). */
static uint32_t listener_syn_bound(const struct sn_tcb *l)
{
    return 4 * listener_bound(l) + 16;
}

/* More than half full, for the stack or this listener. */
static bool under_pressure(const struct synack_stack *s, const struct sn_tcb *l)
{
    return s->syncache.count > s->cfg.max_syncache / 2 || cached(l) > listener_syn_bound(l) / 2;
}

/* ---- the events ---- */

int sn_syncache_syn(struct synack_stack *s, struct sn_tcb *l, const struct sn_seg *seg)
{
    struct sn_syncache *q = &s->syncache;
    struct syn_params p;
    params_from_syn(s, seg, &p);
    /* A full accept queue drops the SYN, cookie or not (Linux's
     * tcp_conn_request: ListenOverflows); the peer retries. */
    struct sn_listen *lq = sn_tcb_lsn(l);
    if (!lq || lq->acc_len >= listener_bound(l)) {
        s->stats.tcp_listen_drops++;
        s->stats.tcp_drop++;
        return -ENOBUFS;
    }
    struct sn_syn_entry *e = lookup(s, &p.tuple);
    if (e) {
        /* The peer sent its SYN again: our SYN-ACK was lost.  Send it
         * again (as Linux's tcp_check_req), the timer keeps running. */
        e->flags |= SN_SYN_F_RESENT; /* Karn: its ACK may answer either copy */
        params_from_entry(e, &p);
        send_synack(s, l, &p, -1);
        return 0;
    }
    bool full = lq->cached >= listener_syn_bound(l) || q->count >= s->cfg.max_syncache;
    /* Out of memory (the budget or the allocator), an entry is as
     * impossible as in a full cache: a cookie answers instead. */
    if (!full && (e = sn_mem_get(&s->mem, sizeof(*e))) == NULL)
        full = true;
    if (full) {
        s->stats.tcp_syncache_overflow++;
        if (!s->cfg.syncookies) {
            s->stats.tcp_listen_drops++;
            s->stats.tcp_drop++;
            return -ENOBUFS;
        }
        uint32_t peer = (p.flags & SN_SYN_F_MSS) ? p.peer_mss : 536;
        uint32_t mssind = 0;
        while (mssind < 3 && cookie_mss[mssind + 1] <= peer)
            mssind++;
        p.iss = cookie_make(s, &p.tuple, p.irs, mssind);
        p.ts_offset = sn_tcp_ts_offset(s, &p.tuple);
        int bits = -1;
        if (p.flags & SN_SYN_F_TS) {
            bits = (int)((p.peer_wscale == SN_SYN_NO_WSCALE ? COOKIE_TS_NOWS : p.peer_wscale) |
                         ((p.flags & SN_SYN_F_SACK) ? COOKIE_TS_SACK : 0u));
        } else {
            /* Nowhere to keep them: agree to neither (as Linux). */
            p.flags &= (uint8_t)~SN_SYN_F_SACK;
            p.peer_wscale = SN_SYN_NO_WSCALE;
        }
        send_synack(s, l, &p, bits);
        s->stats.tcp_syncookies_sent++;
        q->last_cookie = s->now ? s->now : 1;
        return 0;
    }
    p.iss = sn_tcp_conn_secret(s, &p.tuple, &p.ts_offset);
    e->listener = l;
    e->tuple = p.tuple;
    e->irs = p.irs;
    e->iss = p.iss;
    e->ts_recent = p.ts_recent;
    e->ts_offset = p.ts_offset;
    e->peer_mss = p.peer_mss;
    e->peer_wscale = p.peer_wscale;
    e->flags = p.flags;
    e->conn_id = s->next_conn_id++;
    e->deadline = s->now + level_interval(s, 0);
    uint32_t b = tuple_bucket(s, &e->tuple);
    e->hnext = q->buckets[b];
    q->buckets[b] = e;
    queue_append(q, e);
    lq->cached++;
    q->count++;
    if (q->count > q->peak)
        q->peak = q->count;
    s->stats.tcp_syncache_added++;
    trace(s, e->conn_id, &e->tuple, SYNACK_LISTEN, SYNACK_SYN_RECEIVED);
    send_synack(s, l, &p, -1);
    return 0;
}

/* The connection block for a completed handshake, in SYN-RECEIVED with
 * everything the SYN agreed, its SYN-ACK outstanding; the caller runs the
 * ACK through the usual input path, which takes it to ESTABLISHED and onto
 * the accept queue. */
static struct sn_tcb *child_new(struct synack_stack *s, struct sn_tcb *l,
                                const struct syn_params *p, uint32_t conn_id, uint8_t rtx,
                                synack_time_t synack_sent)
{
    struct sn_listen *q = sn_tcb_lsn(l);
    struct sn_tcb *c = q ? sn_tcb_new(s) : NULL;
    if (!c)
        return NULL;
    struct sn_tcb_ext *cx = sn_tcb_ext_get(s, c); /* holds the link to the listener */
    if (!cx) {
        sn_tcb_free(s, c);
        return NULL;
    }
    c->te.tuple = p->tuple;
    /* Socket options carry over to the child (Linux clones the listener:
     * sk_clone_lock); file status flags such as O_NONBLOCK do not (accept(2)). */
    c->flags |= SN_TF_PASSIVE | (l->flags & (SN_TF_NODELAY | SN_TF_KEEPALIVE | SN_TF_LINGER |
                                             SN_TF_LINGER0));
    c->snd.cap = l->snd.cap;
    c->rcv.cap = l->rcv.cap;
    cx->ka_idle = sn_x(l)->ka_idle;
    cx->ka_intvl = sn_x(l)->ka_intvl;
    cx->ka_cnt = sn_x(l)->ka_cnt;
    cx->linger_time = sn_x(l)->linger_time;
    cx->quickack = sn_x(l)->quickack & SN_QA_ON;
    cx->tos = sn_x(l)->tos;
    cx->ttl = sn_x(l)->ttl;
    cx->rcvlowat = sn_x(l)->rcvlowat;
    cx->user_timeout = sn_x(l)->user_timeout;
    sn_tcp_stall_start(s, c);
    c->cc = l->cc;
    c->rcv_mss = (uint16_t)(s->cfg.mtu - 40u);
    if (l->rcv_mss && l->rcv_mss < c->rcv_mss)
        c->rcv_mss = l->rcv_mss; /* TCP_MAXSEG set on the listener */
    c->rcv_nxt = p->irs + 1;
    c->last_ack_sent = c->rcv_nxt;
    c->rcv_adv = c->rcv_nxt + listener_window(l); /* what the SYN-ACK offered */
    c->iss = p->iss;
    c->snd_una = c->snd_sml = c->iss;
    c->snd_nxt = c->snd_max = c->iss + 1; /* the SYN-ACK went out */
    c->snd_wl1 = p->irs;
    c->snd_wl2 = c->iss;
    c->ts_offset = p->ts_offset;
    c->rcv_wscale = p->peer_wscale != SN_SYN_NO_WSCALE ? sn_tcp_choose_wscale(l->rcv.cap) : 0;
    sn_tcp_negotiate(s, c, (p->flags & SN_SYN_F_MSS) ? (int32_t)p->peer_mss : -1, p->peer_wscale,
                     (p->flags & SN_SYN_F_SACK) != 0, (p->flags & SN_SYN_F_TS) != 0, p->ts_recent);
    /* A SYN-ACK sent again, by its timer or for a repeated SYN, is a
     * retransmission: RFC 6298 5.7 and RFC 5681 3.1 look at this count. */
    c->total_retrans = (uint32_t)rtx + ((p->flags & SN_SYN_F_RESENT) ? 1u : 0u);
    if (c->total_retrans > 0)
        c->flags |= SN_TF_SYNRTX;
    /* The SYN-ACK is outstanding: its record.  Sent once, its ACK is an
     * RTT sample (RFC 6298 2.1's first measurement; Karn's rule forbids it
     * after a retransmission). */
    bool once = rtx == 0 && synack_sent != SYNACK_TIME_NEVER && !(p->flags & SN_SYN_F_RESENT);
    if (sn_rtxq_sent(&s->mem, &c->rtxq, c->iss, c->iss, c->iss, 1,
                     (uint32_t)(once ? synack_sent : s->now), 0) == 0) {
        if (once) {
            c->flags |= SN_TF_RTT_TIMING;
            c->rtxq->timed = c->iss;
        } else {
            sn_rtxq_at(c->rtxq, 0)->flags |= SN_RTXQ_RETRANS;
        }
    }
    if (sn_tcp_port_ref(s, c->te.tuple.lport, false) == 0)
        c->flags |= SN_TF_BOUND;
    if (sn_tcb_insert(s, c) < 0) {
        sn_tcb_free(s, c);
        return NULL;
    }
    /* On the listener's half-open list until the ACK, which the caller
     * runs next, moves it to the accept queue. */
    cx->listener = l;
    cx->acc_next = q->syn_head;
    q->syn_head = c;
    q->syn_len++;
    if (conn_id) {
        c->conn_id = conn_id; /* the trace saw it enter SYN-RECEIVED as a cache entry */
        c->state = SYNACK_SYN_RECEIVED;
    } else {
        c->state = SYNACK_LISTEN;
        sn_tcp_set_state(s, c, SYNACK_SYN_RECEIVED);
    }
    c->last_rcv = s->now;
    sn_tcp_arm_rtx(s, c); /* should the ACK not complete it, the SYN-ACK is resent */
    return c;
}

struct sn_tcb *sn_syncache_ack(struct synack_stack *s, struct sn_tcb *l, const struct sn_seg *seg)
{
    struct synack_tuple t = {
        .laddr = seg->dst, .lport = seg->th.dport, .raddr = seg->src, .rport = seg->th.sport};
    struct syn_params p;
    struct sn_syn_entry *e = lookup(s, &t);
    if (e) {
        /* RFC 9293 3.10.7.4 (SYN-RECEIVED): an unacceptable ACK gets a RST. */
        if (seg->ack != e->iss + 1) {
            sn_tcp_respond_rst(s, seg);
            return NULL;
        }
        if (!seq_in(seg->seq, e->irs + 1, e->irs + 1 + listener_window(l) + 1)) {
            s->stats.tcp_drop++;
            s->stats.tcp_drop_window++;
            return NULL;
        }
        if (accept_len(l) >= listener_bound(l)) {
            /* The accept queue is full: ignore the ACK, as Linux does; the
             * SYN-ACK is retransmitted and the handshake completes later. */
            s->stats.tcp_listen_drops++;
            s->stats.tcp_drop++;
            return NULL;
        }
        params_from_entry(e, &p);
        /* With no retransmission, the entry's first deadline was set when
         * the SYN-ACK went out. */
        synack_time_t sent = e->deadline - level_interval(s, 0);
        struct sn_tcb *c = child_new(s, l, &p, e->conn_id, e->rtx, sent);
        if (!c) {
            s->stats.tcp_listen_drops++;
            s->stats.tcp_drop++;
            return NULL; /* out of connection blocks: the entry waits for a retry */
        }
        entry_free(s, e, false);
        return c;
    }
    /* No entry: a cookie, if cookies are in use. */
    uint32_t irs = seg->seq - 1, cookie = seg->ack - 1;
    int mssind = -1;
    if (s->cfg.syncookies && s->syncache.last_cookie != 0 &&
        s->now - s->syncache.last_cookie <= COOKIE_MAX_AGE * COOKIE_PERIOD)
        mssind = cookie_check(s, &t, irs, cookie);
    if (mssind < 0) {
        if (s->syncache.last_cookie != 0)
            s->stats.tcp_syncookies_failed++;
        sn_tcp_respond_rst(s, seg); /* RFC 9293 3.10.7.2: an ACK in LISTEN */
        return NULL;
    }
    if (accept_len(l) >= listener_bound(l)) {
        s->stats.tcp_listen_drops++;
        s->stats.tcp_drop++;
        return NULL;
    }
    memset(&p, 0, sizeof(p));
    p.tuple = t;
    p.irs = irs;
    p.iss = cookie;
    p.ts_offset = sn_tcp_ts_offset(s, &t);
    p.peer_mss = cookie_mss[mssind];
    p.flags |= SN_SYN_F_MSS;
    p.peer_wscale = SN_SYN_NO_WSCALE;
    const struct synack_tcp_opts *o = &seg->th.opts;
    if ((o->present & SYNACK_TCPOPT_F_TIMESTAMP) && s->cfg.timestamps && o->tsecr != 0) {
        /* Our TSval, echoed, carries what the SYN offered. */
        uint32_t bits = o->tsecr & COOKIE_TS_MASK;
        p.flags |= SN_SYN_F_TS;
        p.ts_recent = o->tsval;
        if ((bits & COOKIE_TS_NOWS) != COOKIE_TS_NOWS && s->cfg.wscale)
            p.peer_wscale = (uint8_t)((bits & COOKIE_TS_NOWS) > 14 ? 14 : bits & COOKIE_TS_NOWS);
        if ((bits & COOKIE_TS_SACK) && s->cfg.sack)
            p.flags |= SN_SYN_F_SACK;
    }
    struct sn_tcb *c = child_new(s, l, &p, 0, 0, SYNACK_TIME_NEVER);
    if (!c) {
        s->stats.tcp_listen_drops++;
        s->stats.tcp_drop++;
        return NULL;
    }
    s->stats.tcp_syncookies_recv++;
    return c;
}

void sn_syncache_rst(struct synack_stack *s, const struct sn_seg *seg)
{
    struct synack_tuple t = {
        .laddr = seg->dst, .lport = seg->th.dport, .raddr = seg->src, .rport = seg->th.sport};
    struct sn_syn_entry *e = lookup(s, &t);
    /* RFC 5961 3.2 / RFC 9293 3.10.7.4: only RCV.NXT exactly resets (back to
     * LISTEN); other RSTs are ignored, there being no window to challenge. */
    if (e && seg->seq == e->irs + 1) {
        s->stats.tcp_rst_in++;
        entry_free(s, e, true);
    }
}

/* ---- time ---- */

/* The earliest deadline of the level heads, exactly. */
static synack_time_t heads_next(const struct sn_syncache *q)
{
    synack_time_t t = SYNACK_TIME_NEVER;
    for (unsigned k = 0; k < SN_SYNQ_LEVELS; k++)
        if (q->head[k] && q->head[k]->deadline < t)
            t = q->head[k]->deadline;
    return t;
}

/* The hint: no later than the earliest deadline, perhaps earlier (an entry
 * freed since), in O(1); sn_syncache_advance makes it exact again. */
synack_time_t sn_syncache_next(const struct synack_stack *s)
{
    return s->syncache.hint;
}

void sn_syncache_advance(struct synack_stack *s)
{
    struct sn_syncache *q = &s->syncache;
    if (s->now < q->hint)
        return; /* nothing due */
    for (;;) {
        struct sn_syn_entry *e = NULL;
        for (unsigned k = 0; k < SN_SYNQ_LEVELS; k++)
            if (q->head[k] && q->head[k]->deadline <= s->now &&
                (!e || q->head[k]->deadline < e->deadline))
                e = q->head[k];
        if (!e) {
            q->hint = heads_next(q);
            return;
        }
        unsigned limit = s->cfg.synack_retries;
        if (under_pressure(s, e->listener) && limit > 1)
            limit = 1;
        if (e->rtx >= limit) {
            s->stats.tcp_syncache_expired++;
            entry_free(s, e, true);
            continue;
        }
        queue_remove(q, e);
        e->rtx++;
        /* From the deadline, not from now: a late call catches up in order. */
        e->deadline += level_interval(s, e->rtx);
        queue_append(q, e);
        struct syn_params p;
        params_from_entry(e, &p);
        s->stats.tcp_retrans++;
        send_synack(s, e->listener, &p, -1);
    }
}
