/* Configuration of the kernel's side of synack's TUN/TAP interface, over
 * rtnetlink (what `ip link set NAME up mtu N` and `ip addr add A/P dev NAME`
 * do, without needing iproute2).  Needs CAP_NET_ADMIN. */
#ifndef SYNACK_TOOL_NETCFG_H
#define SYNACK_TOOL_NETCFG_H

#include <stdint.h>

/* The kernel's queue of packets for synack to read (the TUN/TAP driver's
 * ring is this long).  The default, 500 (1000 for TAP), overflows when
 * synack writes a burst for many connections before it reads again, and a
 * packet dropped there is never seen by tcpdump: the ACKs of 100
 * connections at once were lost that way, and their retransmissions looked
 * spurious on the wire. */
#define NETCFG_TXQLEN 8192

/* Set the MTU and the queue length (NETCFG_TXQLEN), and bring the
 * interface up.  Returns 0 or a negative errno. */
int netcfg_link_up(const char *ifname, uint16_t mtu);
/* Wait (at most timeout_ms) until the kernel has processed the link coming
 * up: carrier changes of a TUN/TAP interface (synack attaching to it) are
 * applied asynchronously by the kernel's link-watch work, and until then its
 * transmit queue is the "noop" one, which drops what the kernel sends (a
 * SYN-ACK, typically: the connection then waits 1 s for the SYN to be
 * retransmitted).  Returns 0 or -ETIMEDOUT. */
int netcfg_wait_running(const char *ifname, unsigned timeout_ms);
/* Give the interface (the kernel's side) address addr/prefix (host order);
 * the kernel adds the route to the subnet through it. */
int netcfg_add_addr(const char *ifname, uint32_t addr, uint8_t prefix);
/* Turn IPv6 off on the interface, so that the kernel does not send its
 * router and neighbour solicitations to synack (best effort: returns the
 * error, which callers may ignore). */
int netcfg_no_ipv6(const char *ifname);

#endif
