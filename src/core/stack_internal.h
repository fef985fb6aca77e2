/* The stack object: everything a synack host owns.  Only the core's files
 * include this; users see the opaque struct synack_stack. */
#ifndef SYNACK_CORE_STACK_INTERNAL_H
#define SYNACK_CORE_STACK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mem.h"
#include "core/rng.h"
#include "core/timer_wheel.h"
#include "core/tuple_table.h"
#include "synack/socket.h"
#include "synack/stack.h"
#include "tcp/tcp_timewait.h"
#include "ip/ip_reass.h"
#include "tcp/tcp_syncache.h"

struct sn_tcb;

/* Largest packet the stack builds: one IPv4 datagram at the largest MTU. */
#define SN_PKT_MAX 65535
/* RFC 6056 3.3.4: entries of the table of per-destination port counters. */
#define SN_PORT_PERTURB 64
/* Connections whose ACKs one input batch may hold (more are ACKed at once). */
#define SN_ACK_HELD_MAX 32
/* Connections whose emptied receive ring may keep its storage (tcp_rcvkeep.c). */
#define SN_RCV_KEEP_SLOTS 8

struct synack_stack {
    struct synack_config cfg;
    synack_output_fn output;
    void *user;
    synack_output_meta_fn output_meta; /* when set, used instead of output */
    unsigned offload;               /* SYNACK_OFFLOAD_* the output takes */
    unsigned rx_flags;              /* SYNACK_RX_* of the packet being processed */
    synack_time_t now;

    struct sn_rng rng;              /* non-secret draws (hash-table keys, IP ids) */
    struct {                        /* SipHash keys derived from the secret (stack.c) */
        uint64_t isn[2], port[2], cookie[2];
    } keys;
    uint16_t port_perturb[SN_PORT_PERTURB]; /* RFC 6056 algorithm 4's table */
    struct {                        /* the last destination's port hash (tcp_secret.c) */
        uint32_t laddr, raddr;
        uint16_t rport;
        bool valid;
        uint64_t h;
    } port_hash;
    struct sn_wheel wheel;          /* every TCP timer of every connection */
    struct sn_syncache syncache;    /* half-open connections (tcp_syncache.c) */
    struct sn_reass reass;          /* datagrams in reassembly (ip_reass.c) */
    struct sn_tuple_table conns;    /* connections and listeners by 4-tuple */
    uint32_t nconns;                /* TCBs allocated (bounded by cfg.max_conns) */
    struct sn_tw_table tw;          /* TIME-WAIT records (tcp_timewait.c) */
    struct sn_mem mem;              /* everything the stack holds (core/mem.h), budget cfg.mem_max */
    uint32_t next_conn_id;
    uint16_t ip_id;                 /* IPv4 identification counter */
    uint32_t challenge_left;        /* challenge ACKs the stack may still send this second */
    uint64_t challenge_sec;         /* the second (stack clock) challenge_left is for */
    uint16_t *port_refs;            /* per local port: how many sockets hold it */
    uint64_t *port_auto;            /* bitmap: port held only by connect()s' automatic binds,
                                     * so shared across destinations (tcp_secret.c) */

    /* Descriptor table: fds[i] is descriptor i (0..2 never used, as in a fresh process). */
    struct sn_tcb **fds;
    uint32_t nfds;                  /* allocated slots (grows up to cfg.max_sockets) */
    uint32_t fd_free;               /* no descriptor below this one is free */
    void **fd_user;                 /* per descriptor: synack_set_user's pointer (nfds slots) */
    synack_event_fn on_event;
    void *event_user;

    /* Test hook (sn_stack_fix_initial): every new connection starts from
     * these instead of the PRNG's values. */
    bool initial_fixed;
    uint32_t initial_isn, initial_ts_offset;

    /* Re-entry (see sn_stack_enter): public calls in progress; descriptors
     * with an event to deliver at the end of the outermost one (evq, in
     * order: each descriptor at most once, ev_pending[fd] says); connections freed meanwhile, released then (linked through
     * te.next: they are out of the table); a synack_stack_free() asked for
     * from a callback. */
    uint32_t depth;
    uint32_t *evq;                  /* a ring of evq_cap (>= nfds) slots */
    uint8_t *ev_pending;
    uint32_t evq_cap, evq_head, nevq;
    struct sn_tcb *dead;
    bool free_pending;
    uint32_t check_cursor;          /* SYNACK_INVARIANTS: where the bounded check resumes */

    /* Connections whose ACK waits for the end of the driver's input batch
     * (SYNACK_RX_BATCH; tcp_ackbatch.c), each at most once. */
    struct sn_tcb *ack_held[SN_ACK_HELD_MAX];
    uint32_t nack_held;

    /* The last synack_send_reserve (tcp_usr.c): its connection, the
     * sequence number its room starts at, its length.  A commit must match
     * it: nothing written to that connection in between, no other reserve. */
    struct {
        struct sn_tcb *tcb;
        uint32_t start, len;
    } zc_resv;

    /* Connections whose receive ring a read emptied and that keep its
     * storage until rcv_keep_until (tcp_rcvkeep.c); NEVER when none. */
    struct sn_tcb *rcv_keep[SN_RCV_KEEP_SLOTS];
    uint32_t nrcv_keep;
    synack_time_t rcv_keep_until;

    struct synack_stack_stats stats;
    uint8_t pkt[SN_PKT_MAX];        /* scratch buffer for the packet being sent */
};

/* The caller's config of `version`, completed with this release's defaults
 * (stack.c).  Returns 0, or -EINVAL for a NULL config or an unknown version. */
int sn_config_import(int version, const struct synack_config *c, struct synack_config *out);

/* Test hook, not in the public API (tools link the static library): every
 * connection opened from now on gets ISN `isn` and TSval offset `ts_offset`
 * (RFC 7323 5.4), so that a test can start the sequence and timestamp
 * spaces just below 2^32 and have them wrap mid-test (`synack script
 * --wrap`).  Never for production: predictable ISNs invite blind attacks
 * (RFC 6528). */
void sn_stack_fix_initial(struct synack_stack *s, uint32_t isn, uint32_t ts_offset);

/* ---- entry points (stack.c) ----
 * Every public call that can change a connection (input, advance, the
 * socket calls that act) runs between sn_stack_enter() and
 * sn_stack_leave().  Inside, the engine records events (sn_stack_event)
 * and defers frees (sn_stack_bury) instead of calling the application or
 * releasing memory; the outermost leave delivers the events, once every
 * connection's processing is finished, then releases what was freed.  So
 * the event callback may call anything, close() and synack_stack_free()
 * included.  Nothing may touch the stack after sn_stack_leave(). */
void sn_stack_enter(struct synack_stack *s);
void sn_stack_leave(struct synack_stack *s, const char *where);
/* Descriptor fd may have become readable, writable, ...: tell the
 * application at the end of the public call. */
void sn_stack_event(struct synack_stack *s, int fd);
/* The TCB is unreachable (out of every table, list and timer): free it
 * now, or at the end of the public call in progress. */
void sn_stack_bury(struct synack_stack *s, struct sn_tcb *tcb);

/* ---- ip layer (src/ip) ---- */
int sn_ip_input(struct synack_stack *s, const uint8_t *pkt, size_t len);
/* Send an IPv4 datagram whose payload (plen bytes) is already at
 * s->pkt + SYNACK_IPV4_HDR_MIN: writes the header, hands it to the output.
 * `m` (or NULL) describes offloads (TSO, partial checksum); hdr_len and
 * csum_start are filled in here. */
int sn_ip_output(struct synack_stack *s, uint32_t dst, uint8_t proto, size_t plen,
                 struct synack_pkt_meta *m);
/* The same with a TOS byte and a TTL (0: cfg.ttl), for a socket's IP_TOS/IP_TTL.
 * Returns 0 or the output function's negative errno. */
int sn_ip_output_tos(struct synack_stack *s, uint32_t dst, uint8_t proto, size_t plen, uint8_t tos,
                     uint8_t ttl, struct synack_pkt_meta *m);
int sn_icmp_input(struct synack_stack *s, const struct synack_ipv4_hdr *ip);
/* A whole datagram for this host: to TCP or ICMP. */
int sn_ip_deliver(struct synack_stack *s, const struct synack_ipv4_hdr *ip);
/* ---- ip_reass.c ---- */
/* A fragment (ip parsed from pkt): kept, or the datagram completed and
 * delivered.  Returns what delivery returned, 0, or -EBADMSG/-ENOBUFS when
 * dropped (counted). */
int sn_ip_reass(struct synack_stack *s, const struct synack_ipv4_hdr *ip, const uint8_t *pkt);
void sn_reass_free(struct synack_stack *s);
synack_time_t sn_reass_next(const struct synack_stack *s);
void sn_reass_advance(struct synack_stack *s);

#endif
