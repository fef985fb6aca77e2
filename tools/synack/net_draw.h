/* The pictures of `synack serve` / `synack connect` (net_draw.c): the
 * device's connections drawn as ladders and plots, synack's states and
 * numbers from its stack (own_draw.h). */
#ifndef SYNACK_TOOL_NET_DRAW_H
#define SYNACK_TOOL_NET_DRAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "own_draw.h"
#include "synack/stack.h"

struct net_draw;

/* `pcap`: the --pcap file, or NULL (a temporary capture is kept).  Returns
 * 0, or -1 (out of memory, no temporary file). */
int net_draw_new(const struct own_draw_opts *o, const char *pcap, uint32_t addr,
                 struct net_draw **out);
/* The capture to write (every packet on the device, in order). */
const char *net_draw_pcap(const struct net_draw *d);
bool net_draw_own_pcap(const struct net_draw *d);
/* synack's state hook. */
void net_draw_state(struct net_draw *d, const struct synack_conn_addr *a, enum synack_tcp_state to);
/* A packet synack sent, written to the capture. */
void net_draw_out(struct net_draw *d, const uint8_t *pkt, size_t len);
/* A packet from the kernel, written to the capture; then, once the stack
 * took it (or `lost`: synack's impairment dropped it), net_draw_in_done; or
 * net_draw_in_unknown when its delivery is deferred. */
void net_draw_in(struct net_draw *d, const uint8_t *pkt, size_t len);
void net_draw_in_done(struct net_draw *d, const uint8_t *pkt, size_t len, bool lost);
void net_draw_in_unknown(struct net_draw *d);
/* Follow the stack's numbers of the connection on fd (when asked for). */
void net_draw_watch(struct net_draw *d, struct synack_stack *st, int fd);
/* Sample them (t_us: the capture's clock).  NULL d is fine for both. */
void net_draw_sample(struct net_draw *d, struct synack_stack *st, uint64_t t_us);
/* After the capture is closed: draw, remove a temporary capture, free.
 * NULL is fine.  Returns 0 or -1 (a message was printed). */
int net_draw_finish(struct net_draw *d, const char *cmd);

#endif
