/* --pcap and --states of the demo's load scenarios (time-wait-storm,
 * syn-flood): a bounded capture of the first LOADCAP_CONNS connections,
 * with each packet's true sender and receiver states, in the formats of
 * the other scenarios (`synack trace --states` reads the same).
 *
 * The scenario hands the recorder its simulator's events (observer), every
 * stack's state changes (on_state) and the end of each simulator event
 * (step_done: the receipt of a delivered packet is complete, the
 * applications' calls come next).  The packets of the followed connections
 * are kept in memory (at most LOADCAP_BYTES) and written at the end.  A
 * connection the server answered with a SYN cookie is left out: a
 * stateless server has no state to compare (RFC 4987 3.6).  The pictures
 * (--svg, --html, --plot) are drawn from that capture with the true states;
 * the stacks' own series (--series, --plot cwnd) are not kept. */
#ifndef SYNACK_TOOL_DEMO_LOADCAP_H
#define SYNACK_TOOL_DEMO_LOADCAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "own_draw.h"
#include "synack/sim.h"
#include "synack/stack.h"

#define LOADCAP_CONNS 16           /* connections written */
#define LOADCAP_SLOTS 256          /* followed, cookie-answered ones included */
#define LOADCAP_BYTES (8u << 20)   /* packet bytes kept */

struct loadcap;

/* server_port: the listener's port (a packet to it with no connection
 * finds LISTEN).  draw: --svg, --html, --plot (drawn from the capture with
 * the true states; no stack series), or NULL.  Returns 0, or -1 (out of
 * memory, no temporary file). */
int loadcap_new(const char *pcap, const char *states, uint16_t server_port,
                const struct own_draw_opts *draw, struct loadcap **out);
/* The hooks, all with the loadcap as user. */
void loadcap_observer(void *user, synack_time_t now, int link, int from_node, int to_node,
                      enum synack_sim_event ev, const uint8_t *pkt, size_t len);
void loadcap_on_state(void *user, uint32_t conn_id, const struct synack_conn_addr *ca,
                      enum synack_tcp_state from, enum synack_tcp_state to);
void loadcap_step_done(void *user);
/* Write the capture and the states, say what they hold on `report` (NULL:
 * nothing), free.  NULL lc is fine.  Returns 0, or -1 after a message. */
int loadcap_finish(struct loadcap *lc, FILE *report);

#endif
