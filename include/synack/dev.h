/* synack devices: a stack on a real network interface, through the Linux
 * TUN/TAP driver (/dev/net/tun; needs CAP_NET_ADMIN).
 *
 *   TUN  the kernel and synack exchange bare IPv4 packets (IFF_NO_PI);
 *   TAP  they exchange Ethernet frames: the driver frames IPv4 in Ethernet
 *        and answers and sends ARP (RFC 826) itself, with a cache of
 *        neighbours and a bounded queue of packets waiting for an address.
 *
 * The descriptor is non-blocking.  synack_dev_recv reads up to `batch`
 * packets per call (a TUN/TAP descriptor hands out one packet per read, so
 * a batch is a run of reads until EAGAIN); synack_dev_output is a
 * synack_output_fn that writes one packet, and holds it in a bounded
 * backlog when the kernel refuses it for now (EAGAIN), to be written by
 * synack_dev_flush once the descriptor is writable again.
 *
 * The interface is created by synack_dev_open and disappears when the
 * device is closed (it is not made persistent).  Bringing it up and giving
 * the kernel's side an address is the caller's business (`ip link`, netlink):
 * the library does no system configuration.
 *
 *   struct synack_dev *dev;
 *   synack_dev_open(&dcfg, &dev);
 *   synack_stack_new(&cfg, synack_dev_output, dev, &stack);   // cfg.mtu = dcfg.mtu
 *   ... see loop.h for the loop that drives both ...
 */
#ifndef SYNACK_DEV_H
#define SYNACK_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/base.h"
#include "synack/stack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CLOCK_MONOTONIC in microseconds: the time base of the devices and of the
 * event loop (loop.h), and so of a stack driven by them. */
SYNACK_API synack_time_t synack_clock_now(void);

enum synack_dev_kind { SYNACK_DEV_TUN = 1, SYNACK_DEV_TAP = 2 };

/* Versioned like struct synack_config (stack.h): fill it with
 * synack_dev_config_default(); the macros pass SYNACK_DEV_CONFIG_VERSION. */
#define SYNACK_DEV_CONFIG_VERSION 3 /* 2: + offload, 3: + multi_queue */
struct synack_dev_config {
    enum synack_dev_kind kind;
    const char *name;        /* interface name (< 16 bytes); NULL or "": the kernel picks tunN/tapN */
    uint16_t mtu;            /* largest IPv4 packet, 68..65535 (default 1500); give the stack the same */
    unsigned batch;          /* packets read per synack_dev_recv call at most (default 1024) */
    uint32_t batch_bytes;    /* and bytes (default 256 KiB): the application gets to drain
                              * its receive buffers between batches, even of 64 KiB packets */
    uint32_t backlog;        /* packets held while the kernel refuses writes (default 512) */
    /* TAP only. */
    uint32_t addr;           /* synack's IPv4 address (host order): ARP answers for it */
    uint8_t prefix_len;      /* its subnet, 0..32: the only destinations reachable (no router) */
    uint8_t mac[6];          /* synack's MAC; all zero: 02:53:4b + the low 3 bytes of addr */
    synack_time_t arp_reachable; /* how long a learned neighbour is used (default 60 s) */
    uint32_t arp_queue;      /* packets held while addresses are resolved (default 64) */
    /* Version 2.  SYNACK_OFFLOAD_* wanted (default 0), TUN and TAP.  With
     * any, the device is opened with IFF_VNET_HDR and TUNSETOFFLOAD: the
     * kernel takes TCP segments of up to 64 KiB and partial checksums
     * (synack_dev_output_meta), and hands over coalesced segments (GRO) and
     * packets whose checksum it vouches for (synack_dev_recv_meta).  What it
     * refuses is left out: synack_dev_offload says what was granted.  A TAP
     * sends ARP and broadcasts as plain frames behind the header, and cuts
     * in software a segment whose next hop ARP has yet to resolve. */
    unsigned offload;
    /* Version 3.  Open the interface with IFF_MULTI_QUEUE: this device is
     * one of its queues, and opening another with the same name (and the
     * same kind and offload) adds a queue.  The kernel spreads flows over
     * the queues by a hash of their addresses and ports and keeps a flow on
     * the queue that last wrote it (tun.c's automatic steering), so one
     * stack per queue needs nothing shared.  A persistent interface must
     * have been created multi-queue (ip tuntap add NAME mode tun
     * multi_queue).  Default false: a single-queue interface. */
    bool multi_queue;
};
#define synack_dev_config_default(c) \
    synack_dev_config_default_versioned(SYNACK_DEV_CONFIG_VERSION, (c))
SYNACK_API void synack_dev_config_default_versioned(int version, struct synack_dev_config *c);

struct synack_dev;

/* Open /dev/net/tun and create the interface.  Returns 0 and *out, or a
 * negative errno: -EPERM without CAP_NET_ADMIN, -ENOENT without the TUN
 * driver, -EBUSY if the name is taken, -EINVAL for a bad config (and for a
 * multi_queue open of an interface whose flags differ: an existing
 * single-queue interface, or queues opened with and without offloads). */
#define synack_dev_open(c, out) synack_dev_open_versioned(SYNACK_DEV_CONFIG_VERSION, (c), (out))
SYNACK_API int synack_dev_open_versioned(int version, const struct synack_dev_config *c,
                                         struct synack_dev **out);
/* Close the descriptor (the interface goes away) and free.  NULL is fine. */
SYNACK_API void synack_dev_close(struct synack_dev *d);

SYNACK_API int synack_dev_fd(const struct synack_dev *d);
/* The interface's name as the kernel gave it. */
SYNACK_API const char *synack_dev_name(const struct synack_dev *d);
SYNACK_API enum synack_dev_kind synack_dev_kind(const struct synack_dev *d);
SYNACK_API uint16_t synack_dev_mtu(const struct synack_dev *d);
/* TAP: synack's MAC address (6 bytes); TUN: NULL. */
SYNACK_API const uint8_t *synack_dev_mac(const struct synack_dev *d);

/* Receives each IPv4 packet read from the device (ARP and non-IPv4 traffic
 * are handled or dropped by the driver).  The buffer is the device's, valid
 * during the call.  The return value is the stack's (synack_stack_input). */
typedef int (*synack_dev_rx_fn)(void *user, const uint8_t *pkt, size_t len, synack_time_t now);

/* The same with the packet's SYNACK_RX_* flags (synack_stack_input_meta). */
typedef int (*synack_dev_rx_meta_fn)(void *user, const uint8_t *pkt, size_t len,
                                     synack_time_t now, unsigned rx_flags);

/* Read up to `batch` packets (or `batch_bytes`) into the device's ring,
 * until the kernel has no more (EAGAIN), then hand each IPv4 one to fn,
 * stamped with synack_clock_now() as it was read (also the driver's clock
 * for ARP).  With offloads, a TCP checksum the kernel left partial (its own
 * packet) is completed in place first, so fn sees only complete packets.
 * Returns the number of reads that returned a packet (0: nothing to read),
 * or a negative errno on a read error other than EAGAIN. */
SYNACK_API int synack_dev_recv(struct synack_dev *d, synack_dev_rx_fn fn, void *user);
/* synack_dev_recv for a receiver that takes flags: a partial checksum is
 * not completed but reported as SYNACK_RX_CSUM_VALID (the kernel's own
 * packet), as is one the kernel verified (CHECKSUM_UNNECESSARY). */
SYNACK_API int synack_dev_recv_meta(struct synack_dev *d, synack_dev_rx_meta_fn fn, void *user);
/* The offloads the kernel granted (SYNACK_OFFLOAD_*; 0 without IFF_VNET_HDR). */
SYNACK_API unsigned synack_dev_offload(const struct synack_dev *d);

/* Send one IPv4 packet (a synack_output_fn: pass the device as `user`).
 * TAP: framed for its next hop, or held while ARP resolves it.  Returns 0,
 * or a negative errno when the packet was dropped: -EMSGSIZE (over the MTU),
 * -ENOBUFS (backlog full), -ENETUNREACH (TAP: not on the subnet), or the
 * write's error. */
SYNACK_API int synack_dev_output(void *dev, const uint8_t *pkt, size_t len);
/* Send one packet with its descriptor (a synack_output_meta_fn, for
 * synack_stack_set_output_meta with synack_dev_offload's offloads): one
 * writev of the virtio-net header and the stack's packet, no copy.  A TSO
 * packet the kernel refuses is cut in software (synack_gso_segment) and GSO
 * is not tried again (counted in tx_gso_fallback). */
SYNACK_API int synack_dev_output_meta(void *dev, const uint8_t *pkt, size_t len,
                           const struct synack_pkt_meta *m);
/* True while packets wait in the backlog: wait for the descriptor to be
 * writable, then call synack_dev_flush. */
SYNACK_API bool synack_dev_want_write(const struct synack_dev *d);
/* Write the backlog.  Returns the packets written, or a negative errno. */
SYNACK_API int synack_dev_flush(struct synack_dev *d);

/* The driver's own timers (TAP: ARP retransmissions): when it next needs
 * synack_dev_advance, or SYNACK_TIME_NEVER. */
SYNACK_API synack_time_t synack_dev_next_deadline(const struct synack_dev *d);
SYNACK_API void synack_dev_advance(struct synack_dev *d, synack_time_t now);

struct synack_dev_stats {
    uint64_t rx_packets, rx_bytes;   /* IPv4 packets handed up */
    uint64_t rx_other;               /* frames/packets that were not IPv4 for us (IPv6, ARP, ...) */
    uint64_t rx_errors;              /* malformed frames, read errors */
    uint64_t tx_packets, tx_bytes;   /* written to the kernel */
    uint64_t tx_backlogged;          /* held because the kernel said EAGAIN */
    uint64_t tx_dropped;             /* refused: see synack_dev_output */
    uint64_t reads, read_batches;    /* read(2) calls that returned data; synack_dev_recv calls that read any */
    uint64_t rx_gro, rx_csum_partial;/* coalesced (GSO) packets read; partial checksums received */
    uint64_t tx_gso, tx_gso_fallback;/* TSO packets written whole; cut in software instead */
    /* TAP */
    uint64_t arp_requests_out, arp_replies_out, arp_requests_in, arp_replies_in;
    uint64_t arp_learned, arp_expired, arp_failed, arp_queued, arp_queue_drops;
};
/* A snapshot of the counters. */
SYNACK_API void synack_dev_stats(const struct synack_dev *d, struct synack_dev_stats *out);

/* Memory for a stack on a device: a synack_alloc_fn (struct synack_config's
 * alloc, with the pool as alloc_user) that takes the blocks of
 * SYNACK_RING_CHUNK bytes, the send and receive buffers' chunks, from 2 MiB
 * segments advised as transparent huge pages, and passes every other
 * request to malloc.  A first touch of fresh memory is a page fault per
 * 4 KiB page, which under some hypervisors costs 10-25 us: a bulk sender's
 * first fill of a 4 MiB send buffer from malloc stalled it for tens of
 * milliseconds.  Freed blocks stay in the pool (reused last-freed first); its
 * segments go back to the system with synack_chunk_pool_free, after the
 * stacks that used it are freed.  One pool per stack (the allocator is called
 * only from the stack's calls, so it has no lock).  Returns 0 or -ENOMEM. */
struct synack_chunk_pool;
struct synack_chunk_pool_stats {
    uint64_t segments;     /* 2 MiB segments mapped */
    uint64_t huge_advised; /* of which madvise(MADV_HUGEPAGE) accepted */
    uint64_t in_use;       /* blocks handed out now */
    uint64_t peak;         /* and at most */
};
SYNACK_API int synack_chunk_pool_new(struct synack_chunk_pool **out);
SYNACK_API void synack_chunk_pool_free(struct synack_chunk_pool *p);
SYNACK_API void *synack_chunk_pool_alloc(void *pool, void *ptr, size_t size);
SYNACK_API void synack_chunk_pool_stats(const struct synack_chunk_pool *p, struct synack_chunk_pool_stats *out);

#ifdef __cplusplus
}
#endif
#endif
