/* The TAP driver's link layer: Ethernet II framing of IPv4 and ARP (RFC 826,
 * RFC 1122 2.3.2) for synack's one address on one subnet.  There is no
 * router: a packet for an address off the subnet is dropped, never sent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_internal.h"

static int arp_send(void *user, const uint8_t *frame, size_t len)
{
    return sn_dev_write(user, frame, len);
}

int sn_tap_init(struct synack_dev *d, const struct synack_dev_config *c)
{
    uint8_t mac[SYNACK_ETH_ALEN];
    memcpy(mac, c->mac, sizeof(mac));
    if (synack_eth_is_zero(mac)) {
        /* Locally administered, unicast (02:...), recognisable ("SK") and
         * unique per address on the subnet. */
        const uint8_t def[SYNACK_ETH_ALEN] = {0x02, 0x53, 0x4b, (uint8_t)(c->addr >> 16),
                                              (uint8_t)(c->addr >> 8), (uint8_t)c->addr};
        memcpy(mac, def, sizeof(mac));
    }
    d->addr = c->addr;
    d->mask = c->prefix_len ? ~0u << (32 - c->prefix_len) : 0;
    struct sn_arp_params p;
    sn_arp_params_default(&p);
    if (c->arp_reachable)
        p.reachable = c->arp_reachable;
    if (c->arp_queue)
        p.queue_pkts = c->arp_queue;
    d->arp = malloc(sizeof(*d->arp));
    if (!d->arp)
        return -ENOMEM;
    int rc = sn_arp_init(d->arp, mac, c->addr, &p, arp_send, d);
    if (rc < 0) {
        free(d->arp);
        d->arp = NULL;
    }
    return rc;
}

void sn_tap_free(struct synack_dev *d)
{
    if (!d->arp)
        return;
    sn_arp_clear(d->arp);
    free(d->arp);
    d->arp = NULL;
}

int sn_tap_input(struct synack_dev *d, const uint8_t *frame, size_t len)
{
    struct synack_eth_hdr eh;
    if (synack_eth_parse(frame, len, &eh) < 0) {
        d->st.rx_errors++;
        return -1;
    }
    /* Frames for us or for everyone; other unicast and multicast (IPv6
     * neighbour discovery, mDNS, ...) are not ours. */
    if (memcmp(eh.dst, d->arp->mac, SYNACK_ETH_ALEN) != 0 &&
        memcmp(eh.dst, synack_eth_broadcast, SYNACK_ETH_ALEN) != 0) {
        d->st.rx_other++;
        return -1;
    }
    switch (eh.type) {
    case SYNACK_ETHERTYPE_IPV4:
        if (eh.payload_len < 20) {
            d->st.rx_errors++;
            return -1;
        }
        return SYNACK_ETH_HDR_LEN;
    case SYNACK_ETHERTYPE_ARP:
        d->st.rx_other++;
        if (sn_arp_input(d->arp, eh.payload, eh.payload_len, d->now) < 0)
            d->st.rx_errors++;
        return -1;
    default:
        d->st.rx_other++;
        return -1;
    }
}

static bool is_broadcast(const struct synack_dev *d, uint32_t dst)
{
    return dst == 0xffffffffu || (d->mask != 0xffffffffu && dst == (d->addr | ~d->mask));
}

static uint32_t ip_dst(const uint8_t *pkt)
{
    return (uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 | (uint32_t)pkt[18] << 8 | pkt[19];
}

int sn_tap_eth_hdr(struct synack_dev *d, const uint8_t *pkt, uint8_t eth[SYNACK_ETH_HDR_LEN])
{
    uint32_t dst = ip_dst(pkt);
    const uint8_t *mac;
    if (is_broadcast(d, dst))
        mac = synack_eth_broadcast;
    else if ((dst & d->mask) != (d->addr & d->mask))
        return -ENETUNREACH;
    else if (!(mac = sn_arp_lookup(d->arp, dst, d->now)))
        return -EAGAIN;
    struct synack_eth_hdr eh = {.type = SYNACK_ETHERTYPE_IPV4};
    memcpy(eh.dst, mac, SYNACK_ETH_ALEN);
    memcpy(eh.src, d->arp->mac, SYNACK_ETH_ALEN);
    synack_eth_emit(eth, SYNACK_ETH_HDR_LEN, &eh);
    return 0;
}

int sn_tap_output(struct synack_dev *d, const uint8_t *pkt, size_t len)
{
    uint8_t eth[SYNACK_ETH_HDR_LEN];
    int rc = sn_tap_eth_hdr(d, pkt, eth);
    if (rc == 0) /* the header and the stack's packet by one writev: no copy */
        return sn_dev_send(d, NULL, eth, sizeof(eth), pkt, len);
    if (rc == -EAGAIN) /* ARP holds it (a copy) and asks for the address */
        rc = sn_arp_output(d->arp, ip_dst(pkt), pkt, len, d->now);
    /* (Write errors and ARP queue drops are counted where they happen.) */
    if (rc == -ENETUNREACH)
        d->st.tx_dropped++;
    return rc;
}
