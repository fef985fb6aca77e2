/* synack Ethernet and ARP codecs, for the TAP driver.
 *
 * Pure functions like those of wire.h: no state, no allocation, no I/O.
 * Parsers check every length before reading and return 0 or a negative
 * SYNACK_WIRE_E* code (wire.h); emitters return the bytes written or
 * SYNACK_WIRE_ENOSPC / SYNACK_WIRE_EINVAL.  Multi-byte fields of the structs
 * are in host byte order.
 */
#ifndef SYNACK_ETHER_H
#define SYNACK_ETHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Ethernet II (IEEE 802.3 with an EtherType) -------------------------- */
#define SYNACK_ETH_ALEN 6
#define SYNACK_ETH_HDR_LEN 14
#define SYNACK_ETHERTYPE_IPV4 0x0800
#define SYNACK_ETHERTYPE_ARP 0x0806
#define SYNACK_ETHERTYPE_IPV6 0x86dd
/* Type/length values below this are 802.3 lengths, not EtherTypes. */
#define SYNACK_ETHERTYPE_MIN 0x0600

struct synack_eth_hdr {
    uint8_t dst[SYNACK_ETH_ALEN];
    uint8_t src[SYNACK_ETH_ALEN];
    uint16_t type;
    const uint8_t *payload;    /* parse: points into the buffer */
    size_t payload_len;        /* the rest of the frame, padding included */
};

/* Parse the 14-byte header.  SYNACK_WIRE_ETRUNC if shorter; a type field
 * below 0x0600 (an 802.3 length: LLC/SNAP framing, which synack does not
 * speak) gives SYNACK_WIRE_ETYPE.  No FCS is expected (TAP frames have none). */
SYNACK_API int synack_eth_parse(const uint8_t *buf, size_t len, struct synack_eth_hdr *h);
/* Write the 14-byte header (payload fields ignored).  Returns 14 or
 * SYNACK_WIRE_ENOSPC; SYNACK_WIRE_EINVAL for a type below 0x0600. */
SYNACK_API int synack_eth_emit(uint8_t *buf, size_t cap, const struct synack_eth_hdr *h);

extern const uint8_t synack_eth_broadcast[SYNACK_ETH_ALEN];
/* The group bit: broadcast and multicast addresses have it. */
static inline bool synack_eth_is_multicast(const uint8_t *mac) { return (mac[0] & 1) != 0; }
SYNACK_API bool synack_eth_is_zero(const uint8_t *mac);

/* ---- ARP for IPv4 over Ethernet (RFC 826) -------------------------------- */
#define SYNACK_ARP_LEN 28          /* the Ethernet/IPv4 form */
#define SYNACK_ARP_REQUEST 1
#define SYNACK_ARP_REPLY 2

struct synack_arp {
    uint16_t op;                        /* SYNACK_ARP_REQUEST or SYNACK_ARP_REPLY */
    uint8_t sha[SYNACK_ETH_ALEN];       /* sender hardware address */
    uint32_t spa;                       /* sender protocol (IPv4) address */
    uint8_t tha[SYNACK_ETH_ALEN];       /* target hardware address (zero in requests) */
    uint32_t tpa;                       /* target protocol address */
};

/* Parse an ARP packet (the payload of an Ethernet frame of type ARP; bytes
 * past the 28, Ethernet padding, are ignored).  SYNACK_WIRE_ETRUNC if
 * shorter than 8, or than the lengths it announces require; hardware type
 * other than Ethernet (1) with 6-byte addresses, or protocol type other than
 * IPv4 with 4-byte addresses: SYNACK_WIRE_ETYPE; an opcode other than
 * request/reply (RARP, InARP): SYNACK_WIRE_ETYPE. */
SYNACK_API int synack_arp_parse(const uint8_t *buf, size_t len, struct synack_arp *a);
/* Write the 28 bytes.  Returns 28, SYNACK_WIRE_ENOSPC, or SYNACK_WIRE_EINVAL
 * for an opcode other than request/reply. */
SYNACK_API int synack_arp_emit(uint8_t *buf, size_t cap, const struct synack_arp *a);

#ifdef __cplusplus
}
#endif
#endif
