/* The TCP engine's internal interface: the transmission control block and
 * the functions the engine's files call across one another.
 *
 *   tcp_conn.c    create, find, free connections; state changes; ISNs; ports
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
#include "tcp/tcp_seq.h"

struct synack_stack;

/* Timer kinds: each is a deadline in the TCB; the wheel holds one entry per
 * TCB, for the earliest of them (tcp_timer.c). */
enum sn_tcp_timer {
    SN_TT_RTX,       /* retransmission (SYN, SYN-ACK, data, FIN), RFC 6298 */
    SN_TT_PERSIST,   /* zero-window probe, RFC 9293 3.8.6.1 */
    SN_TT_KEEPALIVE, /* RFC 1122 4.2.3.6 */
    SN_TT_DELACK,    /* delayed ACK, RFC 1122 4.2.3.2 */
    SN_TT_CLOSE,     /* TIME-WAIT 2*MSL, or the orphaned FIN-WAIT-2 timeout */
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
#define SN_TF_RTT_TIMING  (1u << 19) /* rtt_seq is being timed (Karn) */
#define SN_TF_CONNECTING  (1u << 20) /* connect() in progress: report completion */
#define SN_TF_SNDURG      (1u << 21) /* urgent data sent with MSG_OOB is not yet acknowledged */
#define SN_TF_RECOVERY    (1u << 22) /* in fast recovery (RFC 6582 / RFC 6675) */
#define SN_TF_SYNACKED    (1u << 23) /* our SYN has been acknowledged */
#define SN_TF_FIN_OOO     (1u << 24) /* the peer's FIN arrived ahead of data: at rcv_fin */
#define SN_TF_DSACK       (1u << 25) /* report tcb->dsack as a D-SACK block (RFC 2883) */

/* A segment after parsing, as the input path sees it. */
struct sn_seg {
    struct synack_tcp_hdr th;
    uint32_t src, dst;     /* IPv4 addresses, host order */
    uint32_t seq, ack;
    uint32_t len;          /* SEG.LEN: payload + SYN + FIN */
    uint8_t flags;
};

/* SACKed ranges the sender remembers (RFC 6675 scoreboard); beyond this
 * many, the oldest knowledge is dropped, which only costs retransmissions. */
#define SN_SACK_MAX 8
/* Out-of-order ranges the receiver parks; a segment that would need one
 * more is not kept (the sender retransmits it). */
#define SN_OOO_MAX 8

struct sn_tcb {
    struct sn_tuple_entry te;         /* te.tuple: the connection's addresses */
    struct sn_timer timer;            /* wheel entry for min(deadline[]) */
    synack_time_t deadline[SN_TT_N];  /* SYNACK_TIME_NEVER when off */

    uint32_t flags;                   /* SN_TF_* */
    uint8_t state;                    /* enum synack_tcp_state */
    uint8_t snd_wscale, rcv_wscale;   /* shift applied to the peer's / our window fields */
    uint8_t rtx_count;                /* retransmissions of the oldest unacked segment */
    uint8_t ka_probes;                /* keepalive probes sent without answer */
    uint8_t dupacks;
    uint8_t persist_backoff;          /* zero-window probes sent since the window closed */
    uint16_t refs;                    /* descriptors that refer to this connection */
    int fd;                           /* the lowest such descriptor (for events), -1 if none */
    int so_error;                     /* pending error for the user (positive errno) */
    uint32_t conn_id;

    /* Send sequence space (RFC 9293 3.3.1) */
    uint32_t iss, snd_una, snd_nxt, snd_max;
    uint32_t snd_wnd;                 /* peer's window, scaled */
    uint32_t max_sndwnd;              /* the largest window the peer has offered */
    uint32_t snd_wl1, snd_wl2;
    uint32_t snd_up;
    uint32_t snd_sml;                 /* end of the last short segment sent (Nagle, Minshall) */
    uint16_t mss;                     /* effective send MSS (payload bytes per segment) */
    uint16_t rcv_mss;                 /* the MSS we offered */

    /* Receive sequence space */
    uint32_t irs, rcv_nxt;
    uint32_t rcv_adv;                 /* right edge of the window we advertised */
    uint32_t rcv_up;
    uint32_t segs_since_ack;          /* full-size segments received since our last ACK */

    /* RTT and retransmission timeout (RFC 6298), microseconds */
    uint32_t srtt, rttvar, rto;
    uint32_t rtt_seq;                 /* the sequence number being timed */
    synack_time_t rtt_start;

    /* Congestion control (RFC 5681; src/cc) */
    uint32_t cwnd, ssthresh;
    uint32_t cwnd_acc;                /* bytes acknowledged towards the next increase */
    const struct sn_cc_algo *cc;
    uint64_t cc_state[SN_CC_STATE_SIZE / 8];

    /* Loss recovery (tcp_recovery.c) and the SACK scoreboard (tcp_sack.c) */
    uint32_t recover;                 /* RFC 6582 "recover" / RFC 6675 RecoveryPoint */
    uint32_t high_rxt;                /* RFC 6675 HighRxt: retransmitted up to here */
    uint32_t sacked_bytes;            /* bytes above snd_una the peer has SACKed */
    uint8_t nsacked;
    struct synack_sack_block sacked[SN_SACK_MAX]; /* sorted, disjoint, above snd_una */

    /* Timestamps (RFC 7323) */
    uint32_t ts_recent;               /* the peer's latest TSval, echoed */
    uint32_t ts_offset;               /* random per-connection offset of our TSval clock */

    /* Keepalive settings (seconds, as Linux's TCP_KEEPIDLE/INTVL/CNT) */
    uint16_t ka_idle, ka_intvl;
    uint8_t ka_cnt;
    synack_time_t last_rcv;           /* time of the last segment received */
    synack_time_t linger_time;        /* SO_LINGER timeout, us */

    struct sn_ring snd, rcv;          /* send queue starts at snd_una; receive queue at the user's read point */
    /* Out-of-order ranges parked in rcv past its data (tcp_reass.c), sorted. */
    uint8_t nooo;
    struct synack_sack_block ooo[SN_OOO_MAX];
    uint8_t nrecent;                  /* RFC 2018 4: ranges, most recently reported first, */
    uint32_t recent[SYNACK_TCP_MAX_SACK]; /* each by one byte it holds */
    uint32_t rcv_fin;                 /* sequence number of a FIN kept with out-of-order data */
    struct synack_sack_block dsack;   /* a duplicate received, reported once (RFC 2883) */

    /* Listener and accept queue */
    struct sn_tcb *listener;          /* a child: the listener it came from (NULL once accepted) */
    struct sn_tcb *acc_next;          /* link in the listener's accept queue / half-open list */
    struct sn_tcb *acc_head, *acc_tail; /* listener: established children waiting for accept() */
    uint16_t backlog, acc_len, syn_len; /* listener: bound, accept queue length, half-open count */

    uint64_t bytes_acked, bytes_received, segs_in, segs_out, total_retrans;
};

static inline struct sn_tcb *sn_tcb_of_entry(struct sn_tuple_entry *e)
{
    return (struct sn_tcb *)e; /* te is the first member */
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
/* The connection is over (RST, timeout, end of TIME-WAIT, ...): error `err`
 * (positive errno or 0) for the user; freed unless a descriptor still refers to it. */
void sn_tcp_drop(struct synack_stack *s, struct sn_tcb *tcb, int err);
int sn_tcb_insert(struct synack_stack *s, struct sn_tcb *tcb);
uint32_t sn_tcp_new_isn(struct synack_stack *s, const struct synack_tuple *t);
int sn_tcp_port_ref(struct synack_stack *s, uint16_t port, bool exclusive);
void sn_tcp_port_unref(struct synack_stack *s, uint16_t port);
/* Pick an ephemeral local port for a connection to (raddr, rport). */
int sn_tcp_pick_port(struct synack_stack *s, struct sn_tcb *tcb);
void sn_tcp_notify(struct synack_stack *s, struct sn_tcb *tcb);
/* Readiness as poll(2) reports it (POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP). */
short sn_tcp_poll_events(const struct sn_tcb *tcb);
bool sn_tcp_urgent_pending(const struct sn_tcb *tcb);
uint32_t sn_tcp_rcv_space(const struct sn_tcb *tcb);
uint8_t sn_tcp_choose_wscale(uint32_t cap);
/* Our TSval clock (RFC 7323 5.4: 1 ms ticks, offset per connection). */
uint32_t sn_tcp_tsval(const struct synack_stack *s, const struct sn_tcb *tcb);

/* ---- tcp_usr.c: what the socket calls ask of a connection (RFC 9293 3.10.1-3.10.6) ---- */
int sn_tcp_usr_listen(struct synack_stack *s, struct sn_tcb *tcb, int backlog);
int sn_tcp_usr_connect(struct synack_stack *s, struct sn_tcb *tcb, uint32_t raddr, uint16_t rport);
long sn_tcp_usr_send(struct synack_stack *s, struct sn_tcb *tcb, const void *buf, size_t len,
                     bool oob);
long sn_tcp_usr_recv(struct synack_stack *s, struct sn_tcb *tcb, void *buf, size_t len, bool peek);
int sn_tcp_usr_shutdown(struct synack_stack *s, struct sn_tcb *tcb, bool rd, bool wr);
/* The last descriptor is gone. */
void sn_tcp_usr_close(struct synack_stack *s, struct sn_tcb *tcb);
void sn_tcp_usr_info(const struct synack_stack *s, const struct sn_tcb *tcb,
                     struct synack_tcp_info *info);

/* ---- tcp_input.c ---- */
/* A TCP segment for this host (IPv4 header already checked). */
int sn_tcp_input(struct synack_stack *s, const struct synack_ipv4_hdr *ip);
/* An ICMP error quoting a segment we sent on tuple t with sequence number seq. */
int sn_tcp_icmp_error(struct synack_stack *s, const struct synack_tuple *t, uint32_t seq,
                      uint8_t type, uint8_t code, uint16_t mtu);

/* ---- tcp_output.c ---- */
/* Send whatever the state, the windows and the flags call for. */
void sn_tcp_output(struct synack_stack *s, struct sn_tcb *tcb);
/* Send one segment from the TCB: flags, seq, and `len` bytes of the send queue from seq. */
int sn_tcp_send_segment(struct synack_stack *s, struct sn_tcb *tcb, uint8_t flags, uint32_t seq,
                        uint32_t len);
/* A RST answering a segment that has no connection (RFC 9293 3.10.7.1). */
void sn_tcp_respond_rst(struct synack_stack *s, const struct sn_seg *seg);
/* Reset the connection from our side: RST <SEQ=SND.NXT><CTL=RST,ACK>. */
void sn_tcp_send_rst(struct synack_stack *s, struct sn_tcb *tcb);
void sn_tcp_send_ack(struct synack_stack *s, struct sn_tcb *tcb);
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
/* Record the SACK blocks of an arriving ACK (after snd_una moved). */
void sn_sack_update(struct sn_tcb *tcb, const struct synack_tcp_opts *o);
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
void sn_tcp_dsack(struct sn_tcb *tcb, uint32_t seq, uint32_t len);
/* Take the in-window payload of `seg` (starting at seq) into the receive
 * buffer: in order data becomes readable, out-of-order data is parked.
 * Returns the bytes by which rcv_nxt advanced. */
uint32_t sn_tcp_reass(struct synack_stack *s, struct sn_tcb *tcb, uint32_t seq,
                      const uint8_t *data, uint32_t len);

#endif
