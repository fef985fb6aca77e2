/* The device object shared by the TUN driver (tun.c: the descriptor, batched
 * reads, writes with a backlog) and the TAP driver's Ethernet/ARP layer
 * (tap.c). */
#ifndef SYNACK_DEV_DEV_INTERNAL_H
#define SYNACK_DEV_DEV_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/arp_internal.h"
#include "synack/dev.h"

#define SN_DEV_NAME_MAX 16 /* IFNAMSIZ */
/* Reads use one buffer that holds the largest frame a TAP can carry at the
 * largest MTU, whatever the configured one (a read into a shorter buffer
 * would truncate a packet the kernel sent with its own, larger, MTU). */
#define SN_DEV_RXBUF (SN_DEV_VNET_LEN + SYNACK_ETH_HDR_LEN + 65535)
/* struct virtio_net_hdr, which leads every packet with IFF_VNET_HDR. */
#define SN_DEV_VNET_LEN 10

/* A packet read in the current batch: where it sits in the receive ring
 * (with IFF_VNET_HDR its virtio-net header is the SN_DEV_VNET_LEN bytes
 * before it). */
struct sn_dev_rx {
    uint32_t off, len;       /* the packet (TUN) or frame (TAP) after any virtio-net header */
    synack_time_t now;       /* when it was read */
};

/* Packets the kernel refused for now (EAGAIN) wait in one preallocated
 * byte ring (tun.c hold()/synack_dev_flush()), each as a 4-byte length and
 * the bytes (virtio-net header and frame), 4-aligned; a packet that does
 * not fit at the end starts again at offset 0 (hold_end marks where the
 * upper part stops).  No allocation per packet. */
#define SN_DEV_HOLD_MAX (4u << 20) /* bytes, unless one packet of each slot needs more */

struct synack_dev {
    enum synack_dev_kind kind;
    int fd;
    char name[SN_DEV_NAME_MAX];
    uint16_t mtu;
    unsigned batch;
    uint32_t batch_bytes;
    synack_time_t now;                /* the time of the last recv/advance */

    uint8_t *hold;                    /* the backlog's byte ring (hold_cap bytes) */
    uint32_t hold_cap, hold_head, hold_tail, hold_end;
    bool hold_wrapped;                /* data at [hold_head, hold_end) then [0, hold_tail) */
    uint32_t held_len, backlog_max;   /* packets held, at most */

    struct synack_dev_stats st;

    /* TAP */
    uint32_t addr, mask;
    struct sn_arp *arp;

    /* IFF_VNET_HDR (--offload, TUN and TAP): a virtio-net header leads
     * every packet (TUN) or frame (TAP) both ways. */
    bool vnet;
    unsigned offload;                 /* SYNACK_OFFLOAD_* the kernel accepted */
    bool gso_refused;                 /* a GSO write failed: segment in software from now on */
    uint8_t *segbuf;                  /* software segmentation's packet (with offloads) */

    /* Reads go into one preallocated ring: a batch is read until EAGAIN (or
     * its bounds), then handed up; no allocation per packet. */
    uint8_t *ring;
    uint32_t ring_cap;                /* batch_bytes + one largest packet */
    struct sn_dev_rx *rx;             /* `batch` descriptors */
};

/* Allocate the backlog's ring (tun.c): `backlog` packets of up to
 * `largest` bytes (plus a virtio-net header), at most max_bytes unless two
 * such packets need more.  Returns 0 or -ENOMEM. */
int sn_dev_hold_init(struct synack_dev *d, uint32_t largest, uint32_t backlog, uint32_t max_bytes);
/* Write one frame (TUN: an IPv4 packet) now, or hold it if the kernel says
 * EAGAIN (or older ones are still held, to keep the order). */
int sn_dev_write(struct synack_dev *d, const uint8_t *frame, size_t len);
/* The same for a frame given in pieces, written by one writev (nothing is
 * copied unless the frame has to be held): the virtio-net header `vh`
 * (NULL: none, or one that asks for no offload if the device has
 * IFF_VNET_HDR), a link-layer header of l2len bytes (NULL, 0: none) and
 * the packet. */
int sn_dev_send(struct synack_dev *d, const uint8_t *vh, const uint8_t *l2, size_t l2len,
                const uint8_t *pkt, size_t len);

/* ---- vnet.c: the virtio-net header, built and parsed (pure) ---- */
/* What a received header says about the IPv4 packet behind it. */
struct sn_vnet_rx {
    bool gso;                /* a coalesced (GRO) segment */
    bool partial;            /* the kernel left its TCP checksum partial */
    uint8_t rx_flags;        /* SYNACK_RX_* */
    uint16_t csum_start, csum_offset; /* partial: from the IPv4 header */
};
/* The header for a packet described by m whose IPv4 header sits l2 bytes
 * into what is written (0 on a TUN, 14 behind a TAP's Ethernet header):
 * "cut at m->gso_size" when gso, "complete the checksum" when m says
 * partial; csum_start and hdr_len count the l2 bytes. */
void sn_vnet_build(uint8_t out[SN_DEV_VNET_LEN], const struct synack_pkt_meta *m, bool gso,
                   size_t l2);
/* Read header h of a frame of len bytes whose IPv4 packet starts at l2.
 * Returns 0, or SYNACK_WIRE_EINVAL when a partial checksum's place lies
 * outside the IPv4 packet (r is then not to be used). */
int sn_vnet_parse(const uint8_t h[SN_DEV_VNET_LEN], size_t l2, size_t len, struct sn_vnet_rx *r);

/* ---- tap.c ---- */
int sn_tap_init(struct synack_dev *d, const struct synack_dev_config *c);
void sn_tap_free(struct synack_dev *d);
/* One Ethernet frame read from the device: returns the offset of the IPv4
 * packet for us it carries (SYNACK_ETH_HDR_LEN), or -1 when there is none
 * (ARP, answered here; other or malformed frames, counted). */
int sn_tap_input(struct synack_dev *d, const uint8_t *frame, size_t len);
/* The Ethernet header for IPv4 packet pkt (at least 20 bytes) when its next
 * hop's address is known now (or it is a broadcast): 0, or -EAGAIN when
 * ARP has yet to resolve it, -ENETUNREACH off the subnet. */
int sn_tap_eth_hdr(struct synack_dev *d, const uint8_t *pkt, uint8_t eth[SYNACK_ETH_HDR_LEN]);
/* Send IPv4 packet pkt framed for its next hop: written at once (without a
 * copy) when the hop is known, else held by ARP. */
int sn_tap_output(struct synack_dev *d, const uint8_t *pkt, size_t len);

#endif
