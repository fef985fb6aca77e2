/* The TCP engine's internal interface: the transmission control block and
 * the functions the engine's files call across one another.
 *
 *   tcp_conn.c    create, find, free connections; state changes
 *   tcp_secret.c  ISNs, timestamp offsets, ephemeral ports (keyed hashes)
 *   tcp_input.c   segment arrival (RFC 9293 3.10.7), per state
 *   tcp_output.c  building and sending segments; RST and ACK replies
 *   tcp_timer.c   the per-connection deadlines and what each one does
 *   tcp_buf.c     send/receive ring buffers
 *   tcp_reass.c   out-of-order data held in the receive buffer
 *   tcp_rtt.c     RTT estimation and the retransmission timeout (RFC 6298)
 */
#ifndef SYNACK_TCP_INTERNAL_H
#define SYNACK_TCP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/timer_wheel.h"
#include "cc/cc.h"
#include "core/tuple_table.h"
#include "synack/socket.h"
#include "synack/stack.h"
#include "synack/wire.h"
#include "tcp/tcp_buf.h"
#include "tcp/tcp_rtxq.h"
#include "tcp/tcp_seq.h"
#include "tcp/tcp_syncache.h"

struct synack_stack;

/* Timer kinds: each is a deadline in the TCB; the wheel holds one entry per
 * TCB, for the earliest of them (tcp_timer.c). */
enum sn_tcp_timer {
    SN_TT_RTX,       /* retransmission (SYN, SYN-ACK, data, FIN), RFC 6298 */
    SN_TT_PERSIST,   /* zero-window probe, RFC 9293 3.8.6.1 */
    SN_TT_KEEPALIVE, /* RFC 1122 4.2.3.6; with SN_TF_CLOSE_TIMER: the end of
                      * an orphaned FIN-WAIT-2 (as Linux's keepalive timer
                      * does double duty; TIME-WAIT is a record, tcp_timewait.c) */
    SN_TT_DELACK,    /* delayed ACK, RFC 1122 4.2.3.2 */
    SN_TT_N
};

/* tcb->flags */
#define SN_TF_ACKNOW      (1u << 0)  /* send an ACK at the next output */
#define SN_TF_SENDFIN     (1u << 1)  /* the user closed the sending side: FIN after the data */
#define SN_TF_FINSENT     (1u << 2)  /* our FIN has been sent (snd_max covers it) */
#define SN_TF_RCVD_FIN    (1u << 3)  /* the peer's FIN was received in order */
#define SN_TF_PASSIVE     (1u << 4)  /* came from a listener (SYN-RECEIVED returns to LISTEN on RST) */
#define SN_TF_NODELAY     (1u << 5)  /* TCP_NODELAY: Nagle off */
#define SN_TF_KEEPALIVE   (1u << 6)  /* SO_KEEPALIVE */
#define SN_TF_LINGER0     (1u << 7)  /* SO_LINGER on with zero timeout: close() resets */
#define SN_TF_SHUT_RD     (1u << 8)  /* shutdown(SHUT_RD): reads return 0 */
#define SN_TF_NONBLOCK    (1u << 9)  /* O_NONBLOCK (kept for drivers; calls never block) */
#define SN_TF_WSCALE      (1u << 10) /* window scaling negotiated (RFC 7323 2.2) */
#define SN_TF_SACK        (1u << 11) /* SACK-permitted negotiated (RFC 2018) */
#define SN_TF_TS          (1u << 12) /* timestamps negotiated (RFC 7323 3.2) */
#define SN_TF_ACCEPTQ     (1u << 13) /* on its listener's accept queue */
#define SN_TF_LINGER      (1u << 14) /* SO_LINGER on (any timeout) */
#define SN_TF_REUSEADDR   (1u << 15)
#define SN_TF_BOUND       (1u << 16) /* holds a reference on its local port */
#define SN_TF_INTABLE     (1u << 17) /* in the 4-tuple table */
#define SN_TF_EOF_SEEN    (1u << 18) /* the user read the EOF (recv returned 0) */
#define SN_TF_RTT_TIMING  (1u << 19) /* rtxq->timed is being timed (Karn) */
#define SN_TF_CONNECTING  (1u << 20) /* connect() in progress: report completion */
#define SN_TF_SNDURG      (1u << 21) /* urgent data sent with MSG_OOB is not yet acknowledged */
#define SN_TF_RECOVERY    (1u << 22) /* in fast recovery (RFC 6582 / RFC 6675) */
#define SN_TF_SYNACKED    (1u << 23) /* our SYN has been acknowledged */
#define SN_TF_FIN_OOO     (1u << 24) /* the peer's FIN arrived ahead of data: at rcv_fin */
#define SN_TF_DSACK       (1u << 25) /* report x->dsack as a D-SACK block (RFC 2883) */
#define SN_TF_CLOSE_TIMER (1u << 26) /* the keepalive slot holds the close deadline */
#define SN_TF_CORK        (1u << 29) /* TCP_CORK: hold partial segments */
#define SN_TF_MORE        (1u << 30) /* the last send had MSG_MORE: hold its partial segment */
#define SN_TF_OOBINLINE   (1u << 27) /* SO_OOBINLINE as the user set it (urgent data is always inline) */
#define SN_TF_RESCUED     (1u << 28) /* RFC 6675 NextSeg rule 4: the rescue retransmission of this recovery went */
#define SN_TF_SYNRTX      (1u << 31) /* our SYN or SYN-ACK was retransmitted: IW is one segment (RFC 5681 3.1) */

/* Retransmissions (or zero-window probes) an orphaned connection - closed by
 * its application, its FIN still to be acknowledged - gets before it is
 * aborted with a RST: Linux's tcp_orphan_retries, whose default 0 means 8. */
#define SN_TCP_ORPHAN_RETRIES 8u

/* RFC 7323 5.5: a connection idle this long may face a peer whose
 * timestamp clock wrapped; TS.Recent is then no longer used by PAWS. */
#define SN_TCP_PAWS_IDLE SYNACK_SEC(24ull * 24 * 3600)

/* RFC 5961 7: at most one challenge ACK per connection per 500 ms (Linux's
 * tcp_invalid_ratelimit), in the 10 ms units of ext->challenge_t. */
#define SN_TCP_CHALLENGE_INTERVAL_10MS 50

/* A segment after parsing, as the input path sees it. */
struct sn_seg {
    struct synack_tcp_hdr th;
    uint32_t src, dst;     /* IPv4 addresses, host order */
    uint32_t seq, ack;
    uint32_t len;          /* SEG.LEN: payload + SYN + FIN */
    uint8_t flags;
};

/* The smallest MSS taken from a peer (a smaller offer is raised to it): the
 * send MSS is min(peer MSS, our MTU - 40), so our own link's MTU still wins. */
#define SN_TCP_MSS_FLOOR 64

/* SACKed ranges the sender remembers (RFC 6675 scoreboard); beyond this
 * many, the oldest knowledge is dropped, which only costs retransmissions. */
#define SN_SACK_MAX 8
/* Out-of-order ranges the receiver parks; a segment that would need one
 * more is not kept (the sender retransmits it). */
#define SN_OOO_MAX 8

/* A listener's own state (tcp_usr.c, tcp_input.c): its accept queue and
 * its half-open children, each a singly linked list through the children's
 * ext->acc_next, bounded by the backlog. */
struct sn_listen {
    struct sn_tcb *acc_head, *acc_tail; /* established children waiting for accept() */
    struct sn_tcb *syn_head;            /* half-open children, in SYN-RECEIVED */
    uint16_t backlog, acc_len, syn_len; /* bound, accept queue length, half-open TCBs */
    uint32_t cached;                    /* its half-open entries in the SYN cache */
};

/* Rarely used state, out of line (tcp_ext.c): allocated when something
 * needs it and freed as soon as all of it is back to its default, so an
 * idle connection does not carry it. */
struct sn_tcb_ext {
    /* Congestion control's own state (src/cc): zero until the algorithm
     * first needs it (CUBIC: the first congestion avoidance or loss). */
    uint64_t cc_state[SN_CC_STATE_SIZE / 8];
    /* The sender's SACK scoreboard (tcp_sack.c): sorted, disjoint, above snd_una */
    uint32_t sacked_bytes;            /* bytes above snd_una the peer has SACKed */
    uint8_t nsacked;
    uint8_t nooo;
    uint8_t nrecent;
    struct synack_sack_block sacked[SN_SACK_MAX];
    /* Out-of-order ranges parked in rcv past its data (tcp_reass.c), sorted. */
    struct synack_sack_block ooo[SN_OOO_MAX];
    uint32_t recent[SYNACK_TCP_MAX_SACK]; /* RFC 2018 4: ranges, most recently reported first, each by one byte it holds */
    uint32_t rcv_fin;                 /* sequence number of a FIN kept with out-of-order data */
    struct synack_sack_block dsack;   /* a duplicate received, reported once (RFC 2883) */
    uint32_t snd_up;                  /* sending urgent data (SN_TF_SNDURG): its end */
    uint32_t rcv_up;                  /* urgent data received (rcv_urg): its end (RFC 6093) */
    bool rcv_urg;                     /* rcv_up is set and not yet read past */
    synack_time_t linger_time;        /* SO_LINGER timeout, us (0 unless set) */
    /* Keepalive settings (seconds, as Linux's TCP_KEEPIDLE/INTVL/CNT), 0:
     * the default (sn_tcp_ka_idle() and friends) */
    uint16_t ka_idle, ka_intvl;
    uint8_t ka_cnt;
    /* Socket options (socket.c): 0 means the default. */
    uint32_t rcvlowat;                /* SO_RCVLOWAT: readable from this many bytes (default 1) */
    uint8_t tos;                      /* IP_TOS of the packets sent (ECN bits clear) */
    uint8_t ttl;                      /* IP_TTL (0: the stack's cfg.ttl) */
    /* An error the output function returned (EHOSTUNREACH, ...): Linux's
     * sk_err_soft, reported instead of ETIMEDOUT if the connection times out. */
    uint8_t soft_err;
    uint16_t mss_full;                /* the MSS before an ICMP lowered it (pmtu_expire set) */
    uint16_t challenge_t;             /* the last challenge ACK, 10 ms units mod 2^16 (0: none lately) */
    synack_time_t pmtu_expire;        /* 0, or when to try mss_full again (RFC 1191 6.3) */
    /* A child of a listener until accept(): the listener, and the link in
     * its accept queue or half-open list. */
    struct sn_tcb *listener;
    struct sn_tcb *acc_next;
    struct sn_listen *lsn;            /* a listener's accept queue (tcp_usr.c) */
    /* TCP_USER_TIMEOUT (RFC 5482), ms, 0 = off; while set, the time (ms
     * clock, wrapping) since which the sender has made no progress: data
     * first outstanding, snd_una last moved, or the window closed. */
    uint32_t user_timeout;
    uint32_t stall_ms;
    /* TCP_QUICKACK: Linux's quick-ACK mode (tcp_input.c quick_ack()):
     * SN_QA_* bits, data segments still to ACK at once, and when data last
     * arrived (for the refill after an idle spell). */
    uint8_t quickack;
    uint8_t quickacks;
    synack_time_t last_data;
    /* TCP_CORK / MSG_MORE: when the partial segment being held must go
     * (SN_TCP_CORK_MAX after it was first held); 0: none held. */
    synack_time_t cork_until;
};
/* The longest a corked partial segment waits: Linux's 200 ms ceiling (tcp(7),
 * TCP_CORK). */
#define SN_TCP_CORK_MAX SYNACK_MSEC(200)
#define SN_QA_ON   1u /* TCP_QUICKACK set: quick ACKs at the start and after idle */
#define SN_QA_DATA 2u /* data has arrived (last_data is valid) */
#define SN_QA_MAX  16u /* Linux's TCP_MAX_QUICKACKS */

struct sn_tcb {
    struct sn_tuple_entry te;         /* te.tuple: the connection's addresses (the table entry) */
    struct sn_timer timer;            /* wheel entry for min(deadline[]) */
    synack_time_t deadline[SN_TT_N];  /* SYNACK_TIME_NEVER when off */
    synack_time_t last_rcv;           /* time of the last segment received */
    struct sn_tcb_ext *x;             /* rarely used state, NULL when all default */
    struct sn_rtxq *rtxq;             /* records of the segments outstanding (tcp_rtxq.c), NULL when none */
    struct sn_ring snd, rcv;          /* send queue starts at snd_una; receive queue at the user's read point */
    uint64_t bytes_acked, bytes_received;

    uint32_t flags;                   /* SN_TF_* */
    int fd;                           /* the lowest descriptor referring to it (for events), -1 if none */
    uint32_t conn_id;

    /* Send sequence space (RFC 9293 3.3.1) */
    uint32_t iss, snd_una, snd_nxt, snd_max;
    uint32_t snd_wnd;                 /* peer's window, scaled */
    uint32_t max_sndwnd;              /* the largest window the peer has offered */
    uint32_t snd_wl1, snd_wl2;
    uint32_t snd_sml;                 /* end of the last short segment sent (Nagle, Minshall) */

    /* Receive sequence space */
    uint32_t rcv_nxt;
    uint32_t rcv_adv;                 /* right edge of the window we advertised */
    uint32_t last_ack_sent;           /* RFC 7323 4.3 Last.ACK.sent: the ACK field we last sent */

    /* RTT and retransmission timeout (RFC 6298), microseconds */
    uint32_t srtt, rttvar, rto;

    /* Congestion control (RFC 5681; src/cc) and loss recovery (tcp_recovery.c) */
    uint32_t cwnd, ssthresh;
    uint32_t cwnd_acc;                /* bytes acknowledged towards the next increase */
    uint32_t recover;                 /* RFC 6582 "recover" / RFC 6675 RecoveryPoint */
    uint32_t high_rxt;                /* RFC 6675 HighRxt: retransmitted up to here */

    /* Timestamps (RFC 7323) */
    uint32_t ts_recent;               /* the peer's latest TSval, echoed */
    uint32_t ts_offset;               /* random per-connection offset of our TSval clock */

    uint32_t segs_in, segs_out, total_retrans;

    uint16_t mss;                     /* effective send MSS (payload bytes per segment) */
    uint16_t rcv_mss;                 /* the MSS we offered */
    uint16_t refs;                    /* descriptors that refer to this connection */
    uint8_t state;                    /* enum synack_tcp_state */
    uint8_t snd_wscale, rcv_wscale;   /* shift applied to the peer's / our window fields */
    uint8_t rtx_count;                /* retransmissions of the oldest unacked segment */
    uint8_t ka_probes;                /* keepalive probes sent without answer */
    uint8_t dupacks;
    uint8_t persist_backoff;          /* zero-window probes sent since the window closed */
    uint8_t so_error;                 /* pending error for the user (positive errno) */
    uint8_t segs_since_ack;           /* full-size segments received since our last ACK */
    uint8_t cc;                       /* congestion control algorithm: index in sn_cc_table */
};

/* The size rule of issue 11: an idle established connection's block, not
 * counting its table entry, fits in 256 bytes. */
_Static_assert(sizeof(struct sn_tcb) - sizeof(struct sn_tuple_entry) <= 256,
               "the TCB must stay within 256 bytes (move rarely used state to sn_tcb_ext)");

static inline struct sn_tcb *sn_tcb_of_entry(struct sn_tuple_entry *e)
{
    return (struct sn_tcb *)e; /* te is the first member */
}

/* ---- tcp_ext.c: the out-of-line block ---- */
/* All-default state, read when a TCB has no ext. */
extern const struct sn_tcb_ext sn_tcb_ext_none;
/* The ext to read (never NULL: sn_tcb_ext_none when there is none). */
static inline const struct sn_tcb_ext *sn_x(const struct sn_tcb *tcb)
{
    return tcb->x ? tcb->x : &sn_tcb_ext_none;
}
/* The ext to write, allocated (and charged) if needed; NULL when memory
 * is short: the caller then does without (drops a SACK block, an
 * out-of-order segment, ...), which only costs retransmissions. */
struct sn_tcb_ext *sn_tcb_ext_get(struct synack_stack *s, struct sn_tcb *tcb);
/* Free the ext if everything in it is back to its default. */
void sn_tcb_ext_trim(struct synack_stack *s, struct sn_tcb *tcb);
/* A listener's queues, allocated at listen() (NULL: no memory), and freed
 * if listen() fails. */
struct sn_listen *sn_tcb_lsn_get(struct synack_stack *s, struct sn_tcb *tcb);
void sn_tcb_lsn_free(struct synack_stack *s, struct sn_tcb *tcb);
/* Free it whatever it holds (the TCB goes away). */
void sn_tcb_ext_free(struct synack_stack *s, struct sn_tcb *tcb);
/* The listener's queue state, NULL if tcb is not a listener. */
static inline struct sn_listen *sn_tcb_lsn(const struct sn_tcb *tcb)
{
    return tcb->x ? tcb->x->lsn : NULL;
}
/* The connection's congestion control algorithm, and its state (NULL
 * until the engine provides it: see struct sn_cc_algo). */
static inline const struct sn_cc_algo *sn_tcb_cc(const struct sn_tcb *tcb)
{
    return sn_cc_at(tcb->cc);
}
static inline void *sn_cc_state(struct sn_tcb *tcb)
{
    return tcb->x ? tcb->x->cc_state : NULL;
}

/* Keepalive settings in force (RFC 1122 4.2.3.6 defaults: 2 h idle; Linux's
 * 75 s interval and 9 probes). */
static inline uint16_t sn_tcp_ka_idle(const struct sn_tcb *tcb)
{
    return tcb->x && tcb->x->ka_idle ? tcb->x->ka_idle : 7200;
}
static inline uint16_t sn_tcp_ka_intvl(const struct sn_tcb *tcb)
{
    return tcb->x && tcb->x->ka_intvl ? tcb->x->ka_intvl : 75;
}
static inline uint8_t sn_tcp_ka_cnt(const struct sn_tcb *tcb)
{
    return tcb->x && tcb->x->ka_cnt ? tcb->x->ka_cnt : 9;
}
/* The listener a child came from, NULL once accepted (or not a child). */
static inline struct sn_tcb *sn_tcb_listener(const struct sn_tcb *tcb)
{
    return tcb->x ? tcb->x->listener : NULL;
}

/* The sequence number of the first byte in the send ring: the SYN takes
 * one sequence number until it is acknowledged. */
static inline uint32_t sn_tcp_data_una(const struct sn_tcb *tcb)
{
    return (tcb->flags & SN_TF_SYNACKED) ? tcb->snd_una : tcb->iss + 1;
}

static inline bool sn_tcb_synchronized(const struct sn_tcb *tcb)
{
    return tcb->state >= SYNACK_ESTABLISHED;
}

/* ---- tcp_conn.c ---- */
struct sn_tcb *sn_tcb_new(struct synack_stack *s);
/* Free the TCB: out of the table and the wheel, port released, buffers freed. */
void sn_tcb_free(struct synack_stack *s, struct sn_tcb *tcb);
void sn_tcp_set_state(struct synack_stack *s, struct sn_tcb *tcb, enum synack_tcp_state st);
/* Tell the trace hook (synack_config.on_state) of a state change. */
void sn_tcp_trace_state(struct synack_stack *s, uint32_t conn_id, const struct synack_tuple *t,
                        enum synack_tcp_state from, enum synack_tcp_state to);
/* The connection is over (RST, timeout, end of TIME-WAIT, ...): error `err`
 * (positive errno or 0) for the user; freed unless a descriptor still refers to it. */
void sn_tcp_drop(struct synack_stack *s, struct sn_tcb *tcb, int err);
/* Out of the table and the wheel, CLOSED, send buffer freed; freed unless a
 * descriptor or the accept queue still refers to it.  `to_timewait`: a
 * TIME-WAIT record takes over (no trace event, still counted active). */
void sn_tcp_detach(struct synack_stack *s, struct sn_tcb *tcb, bool to_timewait);
int sn_tcb_insert(struct synack_stack *s, struct sn_tcb *tcb);

/* ---- tcp_orphan.c: connections closed by their application ---- */
/* FIN-WAIT-1/2, CLOSING, LAST-ACK: the states only our FIN leads to. */
bool sn_tcp_orphan_state(uint8_t st);
/* No descriptor, not on an accept queue, in one of those states. */
bool sn_tcb_orphan(const struct sn_tcb *tcb);
/* Keep stats.tcp_orphans right as tcb moves from state `from` to `to`. */
void sn_tcp_orphan_moved(struct synack_stack *s, const struct sn_tcb *tcb, uint8_t from, uint8_t to);
/* The last descriptor of tcb is being closed (refs already 0): count it
 * if it is an orphan already (shutdown for sending before). */
void sn_tcp_orphan_closing(struct synack_stack *s, const struct sn_tcb *tcb);
/* After the close: an orphan past cfg.max_orphans, or holding data with
 * the budget spent, is reset (RST) and dropped. */
void sn_tcp_orphan_closed(struct synack_stack *s, struct sn_tcb *tcb);
/* From the retransmission and persist timers: an orphan holding data with
 * the budget spent is reset and dropped.  Returns true if it was. */
bool sn_tcp_orphan_timer_oom(struct synack_stack *s, struct sn_tcb *tcb);

/* ---- tcp_secret.c: ISNs, timestamp offsets, ports ---- */
/* RFC 6528 ISN for the tuple, at the stack's current time. */
/* The ISN and (*ts_offset) the TSval offset together, from one keyed hash. */
uint32_t sn_tcp_conn_secret(struct synack_stack *s, const struct synack_tuple *t,
                            uint32_t *ts_offset);
/* The connection's TSval offset (RFC 7323 7.1), a function of tuple and secret. */
uint32_t sn_tcp_ts_offset(const struct synack_stack *s, const struct synack_tuple *t);
/* Take a reference on a local port (bind, listener children).  exclusive:
 * fail with -EADDRINUSE if anyone holds it.  Returns 0 or -EINVAL/-EADDRINUSE. */
int sn_tcp_port_ref(struct synack_stack *s, uint16_t port, bool exclusive);
void sn_tcp_port_unref(struct synack_stack *s, uint16_t port);
/* Pick an ephemeral local port (RFC 6056) for a connection to (raddr,
 * rport), or a free one for bind/listen (rport 0).  Returns 0 (lport set,
 * SN_TF_BOUND) or -EADDRNOTAVAIL. */
int sn_tcp_pick_port(struct synack_stack *s, struct sn_tcb *tcb);

/* ---- tcp_ackbatch.c: one ACK per connection per input batch ---- */
/* Bounds on an ACK held to the end of a batch (see tcp_ackbatch.c). */
#define SN_ACK_BATCH_BYTES 65536u
#define SN_ACK_BATCH_SEGS  64u
/* A short list of connections the stack keeps for a while (the ACKs a
 * batch holds, tcp_ackbatch.c; the receive rings kept after a read,
 * tcp_rcvkeep.c): at most `max` entries, unordered, searched linearly
 * (a batch or a few milliseconds touch few connections). */
static inline bool sn_tcb_list_has(struct sn_tcb *const *v, uint32_t n, const struct sn_tcb *tcb)
{
    for (uint32_t i = 0; i < n; i++)
        if (v[i] == tcb)
            return true;
    return false;
}

/* Listed, already or now: true; the list is full: false. */
static inline bool sn_tcb_list_add(struct sn_tcb **v, uint32_t *n, uint32_t max, struct sn_tcb *tcb)
{
    if (sn_tcb_list_has(v, *n, tcb))
        return true;
    if (*n == max)
        return false;
    v[(*n)++] = tcb;
    return true;
}

static inline void sn_tcb_list_del(struct sn_tcb **v, uint32_t *n, const struct sn_tcb *tcb)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (v[i] == tcb) {
            v[i] = v[--*n];
            return;
        }
    }
}

/* The ACK that the every-second-segment rule calls for: hold it to the end
 * of the driver's batch?  True when held (the packet carried
 * SYNACK_RX_BATCH and the bounds allow); false: ACK now. */
bool sn_tcp_ack_hold(struct synack_stack *s, struct sn_tcb *tcb);
/* The connection goes away: forget its held ACK. */
void sn_tcp_ack_unhold(struct synack_stack *s, struct sn_tcb *tcb);
/* The batch is over: send every held ACK still owed. */
void sn_tcp_ack_flush(struct synack_stack *s);

/* ---- tcp_rcvkeep.c: an emptied receive ring keeps its storage a little ---- */
#define SN_RCV_KEEP_MAX SN_RCV_KEEP_SLOTS       /* connections on the list */
#define SN_RCV_KEEP_TIME SYNACK_MSEC(10)        /* how long at least */
/* A read is about to empty tcb's receive ring: may it keep its table and
 * head chunk?  True when the connection is (now) on the list. */
bool sn_tcp_rcv_keep(struct synack_stack *s, struct sn_tcb *tcb);
/* The connection goes away: off the list. */
void sn_tcp_rcv_unkeep(struct synack_stack *s, struct sn_tcb *tcb);
/* The deadline (s->rcv_keep_until) has come: release the rings still empty. */
void sn_tcp_rcv_keep_expire(struct synack_stack *s);

/* ---- tcp_conn.c (continued) ---- */
/* Record that the connection's readiness may have changed: the event is
 * delivered to the application's callback at the end of the public call
 * (sn_stack_leave), never from inside the engine. */
void sn_tcp_notify(struct synack_stack *s, struct sn_tcb *tcb);
/* Readiness as poll(2) reports it (POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP). */
short sn_tcp_poll_events(const struct sn_tcb *tcb);
bool sn_tcp_urgent_pending(const struct sn_tcb *tcb);
uint32_t sn_tcp_rcv_space(const struct sn_tcb *tcb);
uint8_t sn_tcp_choose_wscale(uint32_t cap);
/* Our TSval clock (RFC 7323 5.4: 1 ms ticks, offset per connection). */
uint32_t sn_tcp_tsval(const struct synack_stack *s, const struct sn_tcb *tcb);

/* A half-open child of listener l completed its handshake: onto the accept queue. */
void sn_tcp_child_established(struct sn_tcb *l, struct sn_tcb *c);
/* Take the first connection off l's accept queue (NULL if empty). */
struct sn_tcb *sn_tcp_accept_pop(struct synack_stack *s, struct sn_tcb *l);

/* ---- tcp_timewait.c: TIME-WAIT records (tcp_timewait.h) ---- */
void sn_tw_init(struct synack_stack *s);
void sn_tw_free_all(struct synack_stack *s);
/* The TCB reached TIME-WAIT (and sent what it had to): a record takes its
 * place, and the TCB is freed unless a descriptor still refers to it. */
void sn_tw_from_tcb(struct synack_stack *s, struct sn_tcb *tcb);
/* The record for tuple k (index + 1), or 0. */
uint32_t sn_tw_find(const struct synack_stack *s, const struct synack_tuple *k);
/* Is this (CLOSED) TCB's connection waiting in TIME-WAIT as a record? */
bool sn_tw_holds(const struct synack_stack *s, const struct sn_tcb *tcb);
/* A segment for record i.  `listener`: one would take a new connection.
 * Returns 1 when the segment is a SYN starting a new incarnation (the
 * record is gone; hand the SYN to the listener), else 0. */
int sn_tw_input(struct synack_stack *s, uint32_t i, const struct sn_seg *seg, bool listener);
/* The earliest records' 2*MSL is over. */
void sn_tw_expire(struct synack_stack *s);

/* ---- tcp_usr.c: what the socket calls ask of a connection (RFC 9293 3.10.1-3.10.6) ---- */
int sn_tcp_usr_listen(struct synack_stack *s, struct sn_tcb *tcb, int backlog);
int sn_tcp_usr_connect(struct synack_stack *s, struct sn_tcb *tcb, uint32_t raddr, uint16_t rport);
long sn_tcp_usr_send(struct synack_stack *s, struct sn_tcb *tcb, const void *buf, size_t len,
                     bool oob);
long sn_tcp_usr_recv(struct synack_stack *s, struct sn_tcb *tcb, void *buf, size_t len, bool peek);
/* Zero-copy receive (socket.h's synack_recv_peek/_consume): the readable
 * bytes as up to cnt pieces of the receive ring (returns the bytes
 * described, or what recv on an empty queue returns: 0 or an error); then
 * drop len of them (-EINVAL when more than are held). */
long sn_tcp_usr_recv_peek(struct sn_tcb *tcb, struct iovec *iov, int cnt);
long sn_tcp_usr_recv_consume(struct synack_stack *s, struct sn_tcb *tcb, size_t len);
/* Zero-copy send (synack_send_reserve/_commit): up to len bytes of the send
 * ring's free space made ready as up to cnt pieces (returns their bytes, or
 * send's errors: -EAGAIN when full); then append len bytes written there
 * (-EINVAL when more than were made ready) and send what may be sent. */
long sn_tcp_usr_send_reserve(struct synack_stack *s, struct sn_tcb *tcb, size_t len,
                             struct iovec *iov, int cnt);
long sn_tcp_usr_send_commit(struct synack_stack *s, struct sn_tcb *tcb, size_t len);
int sn_tcp_usr_shutdown(struct synack_stack *s, struct sn_tcb *tcb, bool rd, bool wr);
/* The last descriptor is gone. */
void sn_tcp_usr_close(struct synack_stack *s, struct sn_tcb *tcb);
void sn_tcp_usr_info(const struct synack_stack *s, const struct sn_tcb *tcb,
                     struct synack_tcp_info *info);

/* ---- tcp_input.c ---- */
/* ICMP "fragmentation needed" (RFC 1191) with next-hop MTU mtu (0: none given). */
void sn_tcp_pmtu_lower(struct synack_stack *s, struct sn_tcb *tcb, uint32_t mtu);
/* x->pmtu_expire is set: raise the MSS again if its time has come (RFC 1191 6.3). */
void sn_tcp_pmtu_check(struct synack_stack *s, struct sn_tcb *tcb);
/* Agree on what a SYN/SYN-ACK offered (peer_mss -1: no option; peer_wscale
 * SN_SYN_NO_WSCALE: none): flags, MSS, initial cwnd. */
void sn_tcp_negotiate(struct synack_stack *s, struct sn_tcb *tcb, int32_t peer_mss,
                      uint8_t peer_wscale, bool sack, bool ts, uint32_t ts_recent);
/* A TCP segment for this host (IPv4 header already checked). */
int sn_tcp_input(struct synack_stack *s, const struct synack_ipv4_hdr *ip);
/* An ICMP error quoting a segment we sent on tuple t with sequence number seq. */
int sn_tcp_icmp_error(struct synack_stack *s, const struct synack_tuple *t, uint32_t seq,
                      uint8_t type, uint8_t code, uint16_t mtu);

/* ---- tcp_syncache.c: half-open connections, SYN cookies (RFC 4987) ---- */
int sn_syncache_init(struct synack_stack *s);
void sn_syncache_free(struct synack_stack *s);
/* A SYN for listener l.  Returns 0, or -ENOBUFS/-ENOMEM when dropped (counted). */
int sn_syncache_syn(struct synack_stack *s, struct sn_tcb *l, const struct sn_seg *seg);
/* An ACK for listener l: the new connection (SYN-RECEIVED, in the table)
 * when it completes a cached handshake or carries a valid cookie; else NULL
 * (a RST was sent, or the ACK dropped and counted). */
struct sn_tcb *sn_syncache_ack(struct synack_stack *s, struct sn_tcb *l, const struct sn_seg *seg);
void sn_syncache_rst(struct synack_stack *s, const struct sn_seg *seg);
/* The listener is closing: its entries go. */
void sn_syncache_listener_gone(struct synack_stack *s, struct sn_tcb *l);
synack_time_t sn_syncache_next(const struct synack_stack *s);
void sn_syncache_advance(struct synack_stack *s);

/* ---- tcp_output.c ---- */
/* Send whatever the state, the windows and the flags call for. */
void sn_tcp_output(struct synack_stack *s, struct sn_tcb *tcb);
/* Send one segment from the TCB: flags, seq, and `len` bytes of the send queue from seq. */
int sn_tcp_send_segment(struct synack_stack *s, struct sn_tcb *tcb, uint8_t flags, uint32_t seq,
                        uint32_t len);
/* Send a segment without a TCB (RST replies, TIME-WAIT ACKs): th has seq,
 * ack, flags, window and options; ports and checksum come from the tuple. */
void sn_tcp_send_ctl(struct synack_stack *s, const struct synack_tuple *t, struct synack_tcp_hdr *th);
/* The output function refused a segment with -err (tcp_output.c). */
void sn_tcp_output_error(struct synack_stack *s, struct sn_tcb *tcb, int err);
/* A RST answering a segment that has no connection (RFC 9293 3.10.7.1). */
void sn_tcp_respond_rst(struct synack_stack *s, const struct sn_seg *seg);
/* Reset the connection from our side: RST <SEQ=SND.NXT><CTL=RST,ACK>. */
void sn_tcp_send_rst(struct synack_stack *s, struct sn_tcb *tcb);
void sn_tcp_send_ack(struct synack_stack *s, struct sn_tcb *tcb);
/* Payload bytes the next data segment may carry: the MSS less the SACK
 * option it will carry (RFC 6691: options come out of the MSS), so that a
 * segment reporting SACK or D-SACK blocks still fits the MTU. */
uint32_t sn_tcp_seg_room(const struct sn_tcb *tcb);
/* Send at most one segment of new (or, after a timeout, resent) data, or the
 * FIN, within `budget` bytes and the peer's window, applying Nagle and SWS
 * avoidance.  Returns the sequence space sent (0: nothing). */
uint32_t sn_tcp_output_new(struct synack_stack *s, struct sn_tcb *tcb, uint32_t budget);

/* ---- tcp_timer.c ---- */
void sn_tcp_timer_set(struct synack_stack *s, struct sn_tcb *tcb, enum sn_tcp_timer k,
                      synack_time_t when);
void sn_tcp_timer_clear(struct synack_stack *s, struct sn_tcb *tcb, enum sn_tcp_timer k);
void sn_tcp_timer_fire(struct sn_timer *t, void *stack);
void sn_tcp_arm_rtx(struct synack_stack *s, struct sn_tcb *tcb);
void sn_tcp_arm_keepalive(struct synack_stack *s, struct sn_tcb *tcb);
/* Count down to the end of the connection (an orphaned FIN-WAIT-2) in the
 * keepalive slot; keepalive stops. */
void sn_tcp_set_close_timer(struct synack_stack *s, struct sn_tcb *tcb, synack_time_t when);
/* The sender made progress (or starts to wait): restart the clock that
 * TCP_USER_TIMEOUT measures. */
void sn_tcp_stall_start(const struct synack_stack *s, struct sn_tcb *tcb);

/* ---- tcp_rtxq.c: the record of sent segments (tcp_rtxq.h) ---- */
/* The segment [seq, seq + len) of sequence space (SYN and FIN count) goes
 * out now; called before snd_max moves past it.  unit: TSO segment size. */
void sn_tcp_rtxq_sent(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq, uint32_t len,
                      uint16_t unit);
/* Time the segment just sent at seq for an RTT sample, unless one is
 * being timed already (RFC 6298 3: one at a time). */
void sn_tcp_rtxq_time(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq);
/* The ACK `ack` arrived: records go; true with *rtt (us) when it gives an
 * RTT sample (the timed segment acknowledged, nothing sent twice among
 * what it acknowledges: Karn). */
bool sn_tcp_rtxq_ack(struct synack_stack *s, struct sn_tcb *tcb, uint32_t ack, uint32_t *rtt);

/* ---- tcp_rtt.c ---- */
void sn_tcp_rtt_sample(struct synack_stack *s, struct sn_tcb *tcb, synack_time_t rtt);
void sn_tcp_rtt_init(struct synack_stack *s, struct sn_tcb *tcb);

/* ---- tcp_sack.c: the sender's SACK scoreboard (RFC 2018, RFC 6675) ---- */
/* Add [left, right) to a sorted array of disjoint ranges, merging neighbours.
 * When the array is full and nothing merges: with `evict` the highest range
 * makes room (unless the new one would be highest), else nothing changes.
 * Returns whether the range was recorded.  (The receiver's out-of-order
 * ranges use it too.) */
bool sn_ranges_add(struct synack_sack_block *r, uint8_t *count, uint8_t max, uint32_t left,
                   uint32_t right, bool evict);
/* Would [left, right) merge with one of the n ranges (so that it fits even
 * when the array is full)? */
bool sn_ranges_fit(const struct synack_sack_block *r, uint8_t n, uint32_t left, uint32_t right);
/* Provide the congestion control algorithm's state before a hook that may
 * write it (struct sn_cc_algo); without memory the hook gets NULL. */
void sn_tcp_cc_state_need(struct synack_stack *s, struct sn_tcb *tcb);
/* Record the SACK blocks of an arriving ACK (after snd_una moved). */
void sn_sack_update(struct synack_stack *s, struct sn_tcb *tcb, const struct synack_tcp_opts *o);
/* Forget what snd_una has passed. */
void sn_sack_advance(struct sn_tcb *tcb);
void sn_sack_clear(struct sn_tcb *tcb);
/* Is seq SACKed? If so, *end is where that SACKed range ends. */
bool sn_sack_is_sacked(const struct sn_tcb *tcb, uint32_t seq, uint32_t *end);
/* RFC 6675 IsLost boundary: every un-SACKed byte below it is deemed lost. */
uint32_t sn_sack_lost_end(const struct sn_tcb *tcb);
/* RFC 6675 SetPipe: bytes still in the network. */
uint32_t sn_sack_pipe(const struct sn_tcb *tcb);

/* ---- tcp_recovery.c: fast retransmit and recovery ---- */
/* An ACK arrived: `acked` bytes newly acknowledged (0 for a duplicate),
 * `dup` true if it counts as a duplicate ACK (RFC 5681 2). Called after
 * snd_una and the scoreboard were updated. */
void sn_tcp_recovery_on_ack(struct synack_stack *s, struct sn_tcb *tcb, uint32_t acked, bool dup,
                            uint32_t flight_before);
/* DupThresh for this connection now (3, lower for tiny windows: RFC 5827). */
unsigned sn_tcp_dupthresh(const struct sn_tcb *tcb);
/* Send what loss recovery calls for (retransmissions, then new data). */
void sn_tcp_recovery_output(struct synack_stack *s, struct sn_tcb *tcb);
/* The retransmission timer fired: leave recovery, tell the algorithm. */
void sn_tcp_recovery_on_rto(struct synack_stack *s, struct sn_tcb *tcb);

/* ---- tcp_reass.c ---- */
/* Data [seq, seq + len) arrived again: report it in the next ACK as a
 * D-SACK block (RFC 2883), when SACK is in use. */
void sn_tcp_dsack(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq, uint32_t len);
/* Take the in-window payload of `seg` (starting at seq) into the receive
 * buffer: in order data becomes readable, out-of-order data is parked.
 * Returns the bytes by which rcv_nxt advanced. */
uint32_t sn_tcp_reass(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq,
                      const uint8_t *data, uint32_t len);

#endif
