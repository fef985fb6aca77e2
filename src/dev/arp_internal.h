/* ARP resolution for the TAP driver (RFC 826, RFC 1122 2.3.2): a small cache
 * of neighbours with expiry, and a bounded queue of IPv4 packets waiting for
 * their next hop to be resolved.
 *
 * Sans-IO like the core: every call takes the time, and frames leave through
 * the send callback (Ethernet header included).  The TAP driver feeds it the
 * ARP frames it reads and the IPv4 packets the stack sends; the unit tests
 * drive it directly.
 */
#ifndef SYNACK_DEV_ARP_INTERNAL_H
#define SYNACK_DEV_ARP_INTERNAL_H

#include <stdint.h>

#include "synack/base.h"
#include "synack/ether.h"

#define SN_ARP_ENTRIES 64
#define SN_ARP_FRAME_MAX (SYNACK_ETH_HDR_LEN + 65535)

enum sn_arp_state { SN_ARP_FREE = 0, SN_ARP_INCOMPLETE, SN_ARP_REACHABLE };

struct sn_arp_entry {
    uint32_t ip;
    uint8_t mac[SYNACK_ETH_ALEN];
    uint8_t state;           /* enum sn_arp_state */
    uint8_t probes;          /* requests sent for the resolution in progress */
    /* REACHABLE: when the address stops being trusted; INCOMPLETE: when the
     * next request goes out (or the resolution fails). */
    synack_time_t expires;
};

/* A packet held until its next hop is resolved. */
struct sn_arp_pkt {
    struct sn_arp_pkt *next;
    uint32_t hop;
    uint32_t len;
    uint8_t data[];
};

struct sn_arp_params {
    synack_time_t reachable;  /* how long a learned address is used (default 60 s) */
    synack_time_t retrans;    /* between two requests for one address (default 1 s) */
    uint8_t max_probes;       /* requests before the resolution fails (default 3) */
    uint32_t queue_pkts;      /* packets held for all unresolved hops together (default 64) */
    uint32_t queue_bytes;     /* their bytes (default 256 KiB) */
};

struct sn_arp_stats {
    uint64_t requests_out, replies_out, requests_in, replies_in;
    uint64_t learned, expired, failed;     /* entries */
    uint64_t queued, queue_drops;          /* packets: held; dropped (queue full, or resolution failed) */
    uint64_t bad, ignored;                 /* ARP packets: malformed; not for us / suspicious */
};

/* Sends one Ethernet frame; returns 0 or a negative errno. */
typedef int (*sn_arp_send_fn)(void *user, const uint8_t *frame, size_t len);

struct sn_arp {
    uint8_t mac[SYNACK_ETH_ALEN];
    uint32_t ip;
    struct sn_arp_params p;
    sn_arp_send_fn send;
    void *user;
    struct sn_arp_entry e[SN_ARP_ENTRIES];
    struct sn_arp_pkt *qhead, *qtail;
    uint32_t qlen;
    size_t qbytes;
    struct sn_arp_stats st;
    uint8_t frame[SN_ARP_FRAME_MAX];   /* the frame being sent */
};

void sn_arp_params_default(struct sn_arp_params *p);
/* -EINVAL for a zero address, a multicast or zero MAC, or zero bounds. */
int sn_arp_init(struct sn_arp *a, const uint8_t mac[SYNACK_ETH_ALEN], uint32_t ip,
                const struct sn_arp_params *p, sn_arp_send_fn send, void *user);
/* Drop every queued packet (before freeing the object). */
void sn_arp_clear(struct sn_arp *a);

/* Send an IPv4 packet to the neighbour `hop`: at once when its address is
 * known, else held (the oldest held packets are dropped to respect the
 * bounds) while requests go out.  Returns 0, the send callback's error, or
 * -EMSGSIZE / -ENOBUFS / -ENOMEM when the packet cannot be held at all. */
int sn_arp_output(struct sn_arp *a, uint32_t hop, const uint8_t *pkt, size_t len, synack_time_t now);
/* Send an IPv4 packet to an Ethernet address directly (broadcasts). */
int sn_arp_send_ip(struct sn_arp *a, const uint8_t dst[SYNACK_ETH_ALEN], const uint8_t *pkt,
                   size_t len);
/* An ARP packet (the Ethernet payload) arrived.  Returns 0 or a
 * SYNACK_WIRE_E* code when it does not parse. */
int sn_arp_input(struct sn_arp *a, const uint8_t *buf, size_t len, synack_time_t now);
/* When sn_arp_advance next has something to do (a request to repeat). */
synack_time_t sn_arp_next_deadline(const struct sn_arp *a);
void sn_arp_advance(struct sn_arp *a, synack_time_t now);
/* The MAC address known for ip at `now`, or NULL. */
const uint8_t *sn_arp_lookup(const struct sn_arp *a, uint32_t ip, synack_time_t now);

#endif
