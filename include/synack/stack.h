/* synack stack: the sans-IO core's entry points.
 *
 * A stack is one IPv4 host.  It never reads a clock, sleeps or does I/O:
 *   - synack_stack_input() hands it one received IPv4 packet and the time;
 *   - every packet it sends goes, synchronously, to the output callback the
 *     caller gave at creation (the buffer is the stack's and valid only
 *     during the call: copy it or write it out before returning);
 *   - synack_stack_next_deadline() says when it next needs to be called, and
 *     synack_stack_advance() moves its clock to `now` and runs what is due.
 * Sockets (socket.h) act at the time of the last input/advance call.
 * Everything hangs off the stack object: several stacks live in one process
 * (the simulator runs two or more), and nothing is global.
 */
#ifndef SYNACK_STACK_H
#define SYNACK_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/base.h"
#include "synack/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

struct synack_stack;

/* Receives each packet the stack sends (a complete IPv4 datagram).
 * Return 0, or a negative errno if the packet could not be queued (it is
 * then counted as dropped; TCP recovers as from any loss). */
typedef int (*synack_output_fn)(void *user, const uint8_t *pkt, size_t len);

/* Offloads an output can take (synack_stack_set_output_meta; a device or
 * the simulator's link does the rest, as a NIC would). */
#define SYNACK_OFFLOAD_CSUM 1u /* TCP checksums left partial (SYNACK_PKT_CSUM_PARTIAL) */
#define SYNACK_OFFLOAD_TSO  2u /* TCP segments up to 64 KiB, cut at gso_size (implies CSUM) */

/* An output that gets a descriptor with each packet (wire.h: struct
 * synack_pkt_meta): segmentation and checksum offload.  The packet is the
 * stack's, valid during the call, as for synack_output_fn. */
typedef int (*synack_output_meta_fn)(void *user, const uint8_t *pkt, size_t len,
                                     const struct synack_pkt_meta *m);

/* Flags of a received packet (synack_stack_input_meta). */
#define SYNACK_RX_CSUM_VALID 1u /* the TCP checksum is known good (the kernel's
                                 * CHECKSUM_UNNECESSARY, or its own partially
                                 * checksummed packet): not verified again */
#define SYNACK_RX_BATCH 2u      /* one of a batch the driver read at one wake-up:
                                 * the ACK that every second segment calls for
                                 * may wait for synack_stack_input_flush()
                                 * (at most 64 KiB or half the window; see
                                 * src/tcp/tcp_ackbatch.c) */

/* TCP states, numbered as in RFC 9293 3.3.2 (CLOSED first). */
enum synack_tcp_state {
    SYNACK_CLOSED = 0,
    SYNACK_LISTEN,
    SYNACK_SYN_SENT,
    SYNACK_SYN_RECEIVED,
    SYNACK_ESTABLISHED,
    SYNACK_FIN_WAIT_1,
    SYNACK_FIN_WAIT_2,
    SYNACK_CLOSE_WAIT,
    SYNACK_CLOSING,
    SYNACK_LAST_ACK,
    SYNACK_TIME_WAIT,
    SYNACK_TCP_NSTATES
};
/* "SYN-SENT", "FIN-WAIT-1", ... spelled as in RFC 9293. */
SYNACK_API const char *synack_tcp_state_name(enum synack_tcp_state st);

/* An IP address.  Today every address is IPv4 (family SYNACK_AF_INET, the
 * address in v4, host byte order); the union already has room for an IPv6
 * address (16 bytes, network order) so that IPv6 can come without changing
 * the type's size or layout. */
#define SYNACK_AF_INET 4
#define SYNACK_AF_INET6 6 /* reserved: not produced yet */
struct synack_addr {
    uint8_t family;       /* SYNACK_AF_INET */
    uint8_t reserved_[3]; /* zero */
    union {
        uint32_t v4;      /* host byte order */
        uint8_t v6[16];   /* network byte order */
        uint32_t align_[4];
    } u;
};
/* A connection's two ends (ports in host byte order). */
struct synack_conn_addr {
    struct synack_addr local, remote;
    uint16_t lport, rport;
};
/* synack_addr holding IPv4 address `v4` (host order). */
static inline struct synack_addr synack_addr_v4(uint32_t v4)
{
    struct synack_addr a = {SYNACK_AF_INET, {0, 0, 0}, {0}};
    a.u.v4 = v4;
    return a;
}

/* Called on every state change of every connection (for ladders and traces).
 * `conn_id` is stable for the connection's life; `ca` is valid during the
 * call.  Runs inside the stack call that caused the change: the same rules
 * as the event callback (socket.h) apply. */
typedef void (*synack_state_fn)(void *user, uint32_t conn_id, const struct synack_conn_addr *ca,
                                enum synack_tcp_state from, enum synack_tcp_state to);

/* Where a stack's memory comes from (struct synack_config.alloc): one
 * function in the manner of Lua's lua_Alloc.
 *   ptr NULL, size > 0: allocate size bytes (NULL if it cannot);
 *   ptr set, size > 0:  resize as realloc(3) does (NULL if it cannot, ptr
 *                       then left as it was);
 *   size 0:             free ptr (which may be NULL); return NULL.
 * Memory must be aligned for any object, as malloc's is.  Called only from
 * inside the stack's own calls (synack_stack_new and free included), never
 * concurrently for one stack.  Every allocation the core makes goes through
 * it (the stack object, its tables, TCBs, buffer chunks, out-of-line
 * blocks, SYN-cache entries, TIME-WAIT records, descriptors, fragments in
 * reassembly); a NULL is counted (stats.mem_alloc_failed) and surfaces as
 * -ENOMEM/-ENOBUFS from the call that needed the memory, or as a packet
 * dropped and counted that TCP recovers from: never as data lost. */
typedef void *(*synack_alloc_fn)(void *user, void *ptr, size_t size);
/* The unit of the send and receive buffers' memory: each buffer is held in
 * blocks of this many bytes, allocated as data needs them (an allocator may
 * pool blocks of this size: synack_chunk_pool, dev.h). */
#define SYNACK_RING_CHUNK 4096u

/* Run-time settings.  Versioned (the ngtcp2 pattern): fill the struct with
 * synack_config_default() and pass it to synack_stack_new(); both macros pass
 * SYNACK_CONFIG_VERSION, the layout these headers describe.  A later release
 * only appends fields and raises the version; the library then reads from a
 * program built against an older one only the fields that version had, and
 * takes the defaults for the rest.  Never allocate the struct any other way
 * than as a whole `struct synack_config` of your headers. */
#define SYNACK_CONFIG_V1 1
#define SYNACK_CONFIG_V2 2 /* + max_timewait, secret, max_syncache, syncookies, mem_max */
#define SYNACK_CONFIG_V3 3 /* + offload, frag_mem_max, frag_max */
#define SYNACK_CONFIG_V4 4 /* + alloc, alloc_user */
#define SYNACK_CONFIG_V5 5 /* + max_orphans */
#define SYNACK_CONFIG_VERSION SYNACK_CONFIG_V5
struct synack_config {
    uint32_t addr;             /* this host's IPv4 address, host order */
    uint16_t mtu;              /* link MTU, 68..65535 (default 1500): the MSS we offer is mtu - 40 */
    uint8_t ttl;               /* default 64 */
    /* Where the stack's unpredictable numbers (ISNs, ephemeral ports,
     * timestamp offsets, SYN cookies, hash keys) come from.  `seed` nonzero:
     * everything is derived from it, so a run can be replayed (tests, the
     * simulator); whoever knows the seed predicts everything.  `seed` 0 (the
     * default): from `secret`, which must then not be all zero. */
    uint64_t seed;
    uint32_t max_conns;        /* hard bound on connection blocks (default 65536) */
    uint32_t max_sockets;      /* hard bound on descriptors (default 65536) */
    uint16_t ephemeral_lo, ephemeral_hi;  /* ephemeral port range (default 32768..60999, like Linux) */
    synack_time_t msl;         /* maximum segment lifetime; TIME-WAIT lasts 2*msl (default 30 s) */
    synack_time_t rto_initial; /* RFC 6298 2.1: 1 s */
    synack_time_t rto_min;     /* default 200 ms, like Linux */
    synack_time_t rto_max;     /* default 60 s */
    uint8_t syn_retries;       /* SYN retransmissions before ETIMEDOUT (default 6) */
    uint8_t synack_retries;    /* SYN-ACK retransmissions before giving up (default 5) */
    uint8_t data_retries;      /* data retransmissions before ETIMEDOUT (default 15) */
    uint32_t sndbuf, rcvbuf;   /* default socket buffer sizes, bytes (default 256 KiB each) */
    bool sack;                 /* offer SACK-permitted (default on) */
    bool timestamps;           /* offer timestamps (default on) */
    bool wscale;               /* offer window scaling (default on) */
    synack_state_fn on_state;  /* optional trace hook, called with on_state_user */
    void *on_state_user;
    /* TIME-WAIT records held at most (default 262144, Linux's
     * tcp_max_tw_buckets); when full the oldest is dropped, never a new
     * connection.  0: connections close without TIME-WAIT. */
    uint32_t max_timewait;
    /* 128-bit key (see seed).  The core never asks the OS for randomness:
     * synack_config_default() fills it from getrandom() (src/dev/random.c);
     * synack_config_init() leaves it zero for the caller to set. */
    uint64_t secret[2];
    uint32_t max_syncache;     /* half-open connections in the SYN cache, all listeners (default
                                * 4096, Linux's tcp_max_syn_backlog); each listener holds at most
                                * 4 x its listen backlog + 16 of them */
    bool syncookies;           /* answer with SYN cookies when the SYN cache is full (default on) */
    uint64_t mem_max;          /* budget for what the stack allocates as peers and users come
                                * and go (TCBs, buffers, out-of-line blocks, TIME-WAIT records,
                                * SYN-cache entries), bytes (default 128 MiB; 0: none), as
                                * Linux's tcp_mem: past 3/4 of it windows stop growing,
                                * past it allocations are refused (send: EAGAIN or a
                                * short count, socket: ENOBUFS, a peer's data dropped) */
    /* SYNACK_OFFLOAD_* for synack_sim_add_stack (its link cuts and
     * checksums, as a NIC would); synack_stack_new ignores it: a driver
     * enables offloads with synack_stack_set_output_meta.  Default 0. */
    unsigned offload;
    uint32_t frag_mem_max;     /* memory for datagrams in reassembly (default 4 MiB, Linux's
                                * ipfrag_high_thresh); past it the oldest is dropped */
    uint32_t frag_max;         /* datagrams in reassembly at once (default 1024) */
    /* The allocator (synack_alloc_fn above), called with alloc_user; NULL
     * (the default): the C library's malloc, realloc and free.  The budget
     * mem_max applies whichever allocator gives the memory. */
    synack_alloc_fn alloc;
    void *alloc_user;
    /* Orphans at most: connections closed by their application that still
     * hold state (FIN-WAIT-1/2, CLOSING, LAST-ACK, e.g. unsent data facing
     * a shut window), as Linux's tcp_max_orphans (default 8192).  A close
     * that would make one more resets that connection (RST) instead,
     * counted in stats.tcp_abort_on_memory; so does an orphan with data
     * queued when it closes or retransmits with the budget (mem_max) spent. */
    uint32_t max_orphans;
};

/* Fill *c with the defaults above (addr 0: set it), seed 0 and a random
 * secret from getrandom(2) (a driver-side function: the core does no I/O).
 * Two stacks made from it choose different ISNs and ports. */
#define synack_config_default(c) synack_config_default_versioned(SYNACK_CONFIG_VERSION, (c))
SYNACK_API void synack_config_default_versioned(int version, struct synack_config *c);
/* The same defaults without the secret (seed 0, secret zero): for hosts
 * without getrandom(); set seed or secret before synack_stack_new(). */
#define synack_config_init(c) synack_config_init_versioned(SYNACK_CONFIG_VERSION, (c))
SYNACK_API void synack_config_init_versioned(int version, struct synack_config *c);

/* Create a stack.  Returns 0 and *out, or -EINVAL (bad config, neither a
 * seed nor a secret, or a config version this library does not know) /
 * -ENOMEM. */
#define synack_stack_new(c, output, user, out) \
    synack_stack_new_versioned(SYNACK_CONFIG_VERSION, (c), (output), (user), (out))
SYNACK_API int synack_stack_new_versioned(int version, const struct synack_config *c,
                                          synack_output_fn output, void *user,
                                          struct synack_stack **out);
/* Free the stack, its sockets and connections (no packets are sent). */
SYNACK_API void synack_stack_free(struct synack_stack *s);

/* Process one received IPv4 packet at time `now` (which also advances the
 * clock, as synack_stack_advance does).  Returns 0 when the packet was
 * consumed, or a negative errno saying why it was dropped: -EBADMSG
 * (malformed; the reason is counted in stats.ip_drop_parse), -EADDRNOTAVAIL
 * (not addressed to this host; or a TCP segment from a broadcast, multicast
 * or other impossible source address, or from or to port 0), -EOPNOTSUPP (a
 * source-routed datagram, RFC 7126), -EPROTONOSUPPORT (neither TCP nor
 * ICMP), -EBADMSG/-ENOBUFS (a fragment dropped by reassembly: malformed,
 * overlapping, or past its limits).  A fragment kept for reassembly returns
 * 0.  Every drop is counted. */
SYNACK_API int synack_stack_input(struct synack_stack *s, const uint8_t *pkt, size_t len, synack_time_t now);
/* synack_stack_input for a packet with SYNACK_RX_* flags from the driver.
 * A TCP segment may be larger than the MTU (the kernel's GRO coalesced it). */
SYNACK_API int synack_stack_input_meta(struct synack_stack *s, const uint8_t *pkt, size_t len,
                            synack_time_t now, unsigned rx_flags);
/* The end of a batch of packets given with SYNACK_RX_BATCH: send the ACKs
 * they held, one per connection.  Cheap when none is held; a driver that
 * never calls it gets delayed ACKs (40 ms) instead. */
SYNACK_API void synack_stack_input_flush(struct synack_stack *s);
/* Send through `fn` instead of the output given at creation, and let the
 * stack use the offloads in `offload` (SYNACK_OFFLOAD_*; TSO implies CSUM).
 * Without TSO every packet fits the MTU.  Returns 0 or -EINVAL. */
SYNACK_API int synack_stack_set_output_meta(struct synack_stack *s, synack_output_meta_fn fn, void *user,
                                 unsigned offload);
/* The offloads in use (0 with a plain output). */
SYNACK_API unsigned synack_stack_offload(const struct synack_stack *s);
/* Move the clock to `now` (never backwards) and run every timer due by then. */
SYNACK_API void synack_stack_advance(struct synack_stack *s, synack_time_t now);
/* The earliest time at which the stack needs synack_stack_advance(), or
 * SYNACK_TIME_NEVER. It may be earlier than strictly needed, never later. */
SYNACK_API synack_time_t synack_stack_next_deadline(const struct synack_stack *s);
/* The stack's clock: the `now` of the last input/advance. */
SYNACK_API synack_time_t synack_stack_now(const struct synack_stack *s);
SYNACK_API uint32_t synack_stack_addr(const struct synack_stack *s);
SYNACK_API uint16_t synack_stack_mtu(const struct synack_stack *s);

/* Counters, exported for tools and benchmarks (like `netstat -s`).  Every
 * field is a uint64_t; fields are only ever appended (never removed,
 * reordered or resized), so a program reads the prefix its headers know
 * through the pointer synack_stack_stats() returns, valid until the stack is
 * freed.  synack_stack_stat() reads one counter by name instead, and
 * synack_stack_stat_name() lists the names. */
#define SYNACK_STATS_PARSE_SLOTS 16 /* >= SYNACK_WIRE_NERR, fixed for the ABI */
struct synack_stack_stats {
    uint64_t ip_in, ip_out, ip_in_bytes, ip_out_bytes;
    uint64_t ip_drop_parse[SYNACK_STATS_PARSE_SLOTS]; /* by -SYNACK_WIRE_E* code */
    uint64_t ip_drop_notme, ip_drop_frag, ip_drop_proto, ip_out_fail;
    uint64_t icmp_in, icmp_out, icmp_echo_replied, icmp_drop;
    uint64_t tcp_in, tcp_out, tcp_drop, tcp_rst_in, tcp_rst_out;
    uint64_t tcp_retrans, tcp_conns_opened, tcp_conns_accepted, tcp_conns_reset;
    uint64_t tcp_timewait, tcp_conns_active;
    /* TIME-WAIT records dropped (oldest first) for want of room, new
     * incarnations accepted over one (RFC 6191), SYNs it refused silently
     * on timestamps. */
    uint64_t tcp_tw_evicted, tcp_tw_reused, tcp_tw_refused;
    uint64_t tcp_timeouts;      /* retransmission timer expiries (RFC 6298 5.4) */
    uint64_t tcp_fast_retrans;  /* fast retransmits: loss recovery entered (RFC 5681 3.2, RFC 6675) */
    /* SYN flood defence (RFC 4987): half-open entries now / at most, entries
     * added and timed out, SYNs that found the cache full, cookies sent,
     * connections completed from a cookie, cookie ACKs that failed the check,
     * SYNs (and completing ACKs) dropped for a full accept queue or cache. */
    uint64_t tcp_halfopen, tcp_halfopen_peak, tcp_syncache_added, tcp_syncache_expired;
    uint64_t tcp_syncache_overflow, tcp_syncookies_sent, tcp_syncookies_recv;
    uint64_t tcp_syncookies_failed, tcp_listen_drops;
    /* Memory the stack holds in all (its object and tables, which the budget
     * does not cover, plus TCBs, buffers, SYN-cache entries, ..., which it
     * does), now and at most; allocations refused for the budget (cfg.mem_max). */
    uint64_t mem_bytes, mem_peak_bytes, mem_refused;
    /* Blind-injection defence (RFC 5961, RFC 5927, RFC 7126): challenge ACKs
     * sent and held back by the rate limits; ICMP "fragmentation needed"
     * that lowered a connection's MSS, MSS raised again after 10 minutes;
     * datagrams dropped for carrying a source route. */
    uint64_t tcp_challenge_acks, tcp_challenge_ack_limited, tcp_pmtu_lowered, tcp_pmtu_raised;
    uint64_t ip_drop_srcroute;
    uint64_t tcp_tso_packets;  /* packets handed out as TSO (each several wire segments) */
    /* Fragments (RFC 791, RFC 1122 3.3.2): received, datagrams reassembled,
     * timed out, evicted for room; fragments dropped as tiny (RFC 1858),
     * malformed, overlapping (RFC 5722: the datagram too), duplicate, for
     * the limits; fragments sent (large ICMP echo replies). */
    uint64_t ip_frag_in, ip_reasm_ok, ip_reasm_timeout, ip_reasm_evicted;
    uint64_t ip_frag_drop_tiny, ip_frag_drop_bad, ip_frag_drop_overlap, ip_frag_drop_dup;
    uint64_t ip_frag_drop_limit, ip_frag_out;
    /* Advertised windows held back from growing under memory pressure. */
    uint64_t tcp_window_clamped;
    /* tcp_drop by reason, besides tcp_listen_drops and tcp_tw_refused: the
     * accept queue was full (the handshake's ACK ignored), PAWS (RFC 7323
     * 5.3), a bad segment (checksum, header, options), a handshake ACK out
     * of the window, an ACK older than SND.UNA - MAX.SND.WND (RFC 5961 5.2),
     * an impossible source (RFC 1122 4.2.3.10), no connection for it (a RST
     * answers). */
    uint64_t tcp_drop_accept_full, tcp_drop_paws, tcp_drop_bad, tcp_drop_window;
    uint64_t tcp_drop_old_ack, tcp_drop_bad_source, tcp_drop_noconn;
    /* Allocations the allocator (cfg.alloc, or malloc) failed; each one made
     * a call fail with -ENOMEM/-ENOBUFS or a packet be dropped (and counted
     * where it was dropped). */
    uint64_t mem_alloc_failed;
    /* Orphans (cfg.max_orphans) now and at most; connections reset for the
     * orphan limit or the memory budget (Linux's TCPAbortOnMemory). */
    uint64_t tcp_orphans, tcp_orphans_peak, tcp_abort_on_memory;
    /* Sends the record of sent segments could not keep apart (its bound,
     * SN_RTXQ_MAX records, or memory): merged into a neighbour's record. */
    uint64_t tcp_rtxq_merged;
    /* New counters go here, and into the name table of src/core/stats.c. */
};
SYNACK_API const struct synack_stack_stats *synack_stack_stats(const struct synack_stack *s);
/* The counter called `name` ("tcp_retrans", "ip_drop_parse.truncated", ...)
 * in *val.  Returns 0, or -ENOENT for a name this library does not have. */
SYNACK_API int synack_stack_stat(const struct synack_stack *s, const char *name, uint64_t *val);
/* The name of counter i (0, 1, ...), or NULL past the last one. */
SYNACK_API const char *synack_stack_stat_name(unsigned i);

/* What the connections hold in memory now. */
struct synack_stack_memory {
    uint64_t conns;                 /* connection blocks (TCBs) */
    uint64_t tcb_bytes;             /* the size of one */
    uint64_t used, peak;            /* bytes charged now, and at most: TCBs, their out-of-line
                                     * blocks, buffer chunks, the TIME-WAIT table */
    uint64_t timewait, timewait_peak; /* TIME-WAIT records now, and at most */
    uint64_t timewait_record_bytes; /* the size of one */
};
SYNACK_API void synack_stack_memory(const struct synack_stack *s, struct synack_stack_memory *m);
#define SYNACK_HAVE_STACK_MEMORY 1

#ifdef __cplusplus
}
#endif
#endif
