/* The virtio-net header that leads every packet on a TUN/TAP descriptor
 * opened with IFF_VNET_HDR (Linux include/uapi/linux/virtio_net.h, the
 * legacy 10-byte form, in the host's byte order as TUN uses it), built and
 * read without any I/O.
 *
 * Its offsets count from the start of what follows it on the descriptor: the
 * IPv4 packet on a TUN, the Ethernet frame on a TAP.  The stack's
 * descriptors (struct synack_pkt_meta) count from the IPv4 header, so both
 * directions shift by the link-layer header's length, `l2` (0 or 14). */
#include <string.h>

#include <linux/virtio_net.h>

#include "dev/dev_internal.h"

_Static_assert(sizeof(struct virtio_net_hdr) == SN_DEV_VNET_LEN, "the legacy virtio-net header");

void sn_vnet_build(uint8_t out[SN_DEV_VNET_LEN], const struct synack_pkt_meta *m, bool gso,
                   size_t l2)
{
    bool partial = (m->flags & SYNACK_PKT_CSUM_PARTIAL) != 0;
    struct virtio_net_hdr vh = {
        .flags = partial ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0,
        .gso_type = gso ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_NONE,
        /* hdr_len: the headers each segment repeats, the link layer's included */
        .hdr_len = gso ? (uint16_t)(m->hdr_len + l2) : 0,
        .gso_size = gso ? m->gso_size : 0,
        .csum_start = partial ? (uint16_t)(m->csum_start + l2) : 0,
        .csum_offset = partial ? m->csum_offset : 0,
    };
    memcpy(out, &vh, SN_DEV_VNET_LEN);
}

int sn_vnet_parse(const uint8_t h[SN_DEV_VNET_LEN], size_t l2, size_t len, struct sn_vnet_rx *r)
{
    struct virtio_net_hdr vh;
    memcpy(&vh, h, sizeof(vh));
    memset(r, 0, sizeof(*r));
    r->gso = vh.gso_type != VIRTIO_NET_HDR_GSO_NONE;
    if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        /* The kernel's own packet, its TCP checksum left to the "device":
         * valid by construction (Linux's CHECKSUM_PARTIAL).  Where the sum
         * starts and where it goes must lie inside the IPv4 packet. */
        if (vh.csum_start < l2 || len < l2 ||
            (size_t)vh.csum_start + vh.csum_offset + 2u > len)
            return SYNACK_WIRE_EINVAL;
        r->partial = true;
        r->csum_start = (uint16_t)(vh.csum_start - l2);
        r->csum_offset = vh.csum_offset;
        r->rx_flags = SYNACK_RX_CSUM_VALID;
    } else if (vh.flags & VIRTIO_NET_HDR_F_DATA_VALID) {
        r->rx_flags = SYNACK_RX_CSUM_VALID; /* CHECKSUM_UNNECESSARY */
    }
    return 0;
}
