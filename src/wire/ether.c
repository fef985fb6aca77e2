/* Ethernet II header and ARP (RFC 826) codecs (see include/synack/ether.h). */
#include "synack/ether.h"

#include <string.h>

/* RFC 826 "Packet format": hardware and protocol space numbers. */
#define ARP_HRD_ETHERNET 1
#define ARP_PRO_IPV4 0x0800
#define ARP_FIXED_LEN 8 /* hrd, pro, hln, pln, op */

const uint8_t synack_eth_broadcast[SYNACK_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

bool synack_eth_is_zero(const uint8_t *mac)
{
    static const uint8_t zero[SYNACK_ETH_ALEN];
    return memcmp(mac, zero, SYNACK_ETH_ALEN) == 0;
}

int synack_eth_parse(const uint8_t *buf, size_t len, struct synack_eth_hdr *h)
{
    if (len < SYNACK_ETH_HDR_LEN)
        return SYNACK_WIRE_ETRUNC;
    memcpy(h->dst, buf, SYNACK_ETH_ALEN);
    memcpy(h->src, buf + SYNACK_ETH_ALEN, SYNACK_ETH_ALEN);
    h->type = get16(buf + 2 * SYNACK_ETH_ALEN);
    h->payload = buf + SYNACK_ETH_HDR_LEN;
    h->payload_len = len - SYNACK_ETH_HDR_LEN;
    if (h->type < SYNACK_ETHERTYPE_MIN)
        return SYNACK_WIRE_ETYPE;
    return 0;
}

int synack_eth_emit(uint8_t *buf, size_t cap, const struct synack_eth_hdr *h)
{
    if (h->type < SYNACK_ETHERTYPE_MIN)
        return SYNACK_WIRE_EINVAL;
    if (cap < SYNACK_ETH_HDR_LEN)
        return SYNACK_WIRE_ENOSPC;
    memcpy(buf, h->dst, SYNACK_ETH_ALEN);
    memcpy(buf + SYNACK_ETH_ALEN, h->src, SYNACK_ETH_ALEN);
    put16(buf + 2 * SYNACK_ETH_ALEN, h->type);
    return SYNACK_ETH_HDR_LEN;
}

int synack_arp_parse(const uint8_t *buf, size_t len, struct synack_arp *a)
{
    if (len < ARP_FIXED_LEN)
        return SYNACK_WIRE_ETRUNC;
    uint8_t hln = buf[4], pln = buf[5];
    /* The packet's own lengths first: a well-formed ARP for another
     * hardware or protocol (FDDI, IPv6 over ... ) is "not understood", a
     * packet shorter than its lengths is truncated. */
    if (len < (size_t)ARP_FIXED_LEN + 2u * hln + 2u * pln)
        return SYNACK_WIRE_ETRUNC;
    if (get16(buf) != ARP_HRD_ETHERNET || hln != SYNACK_ETH_ALEN || get16(buf + 2) != ARP_PRO_IPV4 ||
        pln != 4)
        return SYNACK_WIRE_ETYPE;
    a->op = get16(buf + 6);
    if (a->op != SYNACK_ARP_REQUEST && a->op != SYNACK_ARP_REPLY)
        return SYNACK_WIRE_ETYPE;
    memcpy(a->sha, buf + 8, SYNACK_ETH_ALEN);
    a->spa = get32(buf + 14);
    memcpy(a->tha, buf + 18, SYNACK_ETH_ALEN);
    a->tpa = get32(buf + 24);
    return 0;
}

int synack_arp_emit(uint8_t *buf, size_t cap, const struct synack_arp *a)
{
    if (a->op != SYNACK_ARP_REQUEST && a->op != SYNACK_ARP_REPLY)
        return SYNACK_WIRE_EINVAL;
    if (cap < SYNACK_ARP_LEN)
        return SYNACK_WIRE_ENOSPC;
    put16(buf, ARP_HRD_ETHERNET);
    put16(buf + 2, ARP_PRO_IPV4);
    buf[4] = SYNACK_ETH_ALEN;
    buf[5] = 4;
    put16(buf + 6, a->op);
    memcpy(buf + 8, a->sha, SYNACK_ETH_ALEN);
    put32(buf + 14, a->spa);
    memcpy(buf + 18, a->tha, SYNACK_ETH_ALEN);
    put32(buf + 24, a->tpa);
    return SYNACK_ARP_LEN;
}
