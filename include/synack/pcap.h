/* synack pcap writer: classic libpcap files (magic a1b2c3d4, microsecond
 * timestamps) with link type LINKTYPE_RAW (101): each record is one IPv4
 * packet.  Wireshark, tshark and tcpdump open them.  Not part of the core:
 * the simulator, the devices and the tools use it. */
#ifndef SYNACK_PCAP_H
#define SYNACK_PCAP_H

#include <stddef.h>
#include <stdint.h>

#include "synack/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SYNACK_PCAP_LINKTYPE_RAW 101
#define SYNACK_PCAP_LINKTYPE_ETHERNET 1

struct synack_pcap;

/* Create/truncate `path` and write the file header.  snaplen 0 means 65535.
 * Returns 0 and *out, or a negative errno. */
SYNACK_API int synack_pcap_open(const char *path, uint32_t linktype, uint32_t snaplen,
                     struct synack_pcap **out);
/* Append one packet stamped `ts` (microseconds since the epoch the caller
 * chose; the simulator's virtual clock starts at 0). Returns 0 or -errno. */
SYNACK_API int synack_pcap_write(struct synack_pcap *p, synack_time_t ts, const uint8_t *pkt, size_t len);
/* Flush and close; returns 0 or the first write error seen. NULL is fine. */
SYNACK_API int synack_pcap_close(struct synack_pcap *p);

#ifdef __cplusplus
}
#endif
#endif
