/* Between the simulator proper (sim.c) and its synack-stack glue
 * (sim_stack.c), so that the simulator does not depend on the stack. */
#ifndef SYNACK_SIM_INTERNAL_H
#define SYNACK_SIM_INTERNAL_H

#include "synack/sim.h"

/* synack_sim_add_node, and the simulator takes ownership of `ctx`: it calls
 * release(ctx) from synack_sim_free.  An owned node follows the simulator's
 * clock (its advance() is called with synack_sim_now() whenever a run
 * returns to the user, see sync_clocks in sim.c).  On failure ownership stays with the
 * caller.  Returns the node id or -errno. */
int sn_sim_add_node_owned(struct synack_sim *sim, uint32_t addr,
                          const struct synack_sim_node_ops *ops, void *ctx,
                          void (*release)(void *ctx));

/* An owned node that takes packets in batches: `more` says that another
 * packet reaches it at the same instant, next (the stack holds its ACKs
 * until the last one: SYNACK_RX_BATCH, synack_stack_input_flush).  Set
 * after sn_sim_add_node_owned; the node's ops.input is then not used for
 * deliveries. */
typedef int (*sn_sim_input_batch_fn)(void *ctx, const uint8_t *pkt, size_t len,
                                     synack_time_t now, bool more);
void sn_sim_node_batch(struct synack_sim *sim, int node, sn_sim_input_batch_fn fn);

/* synack_sim_send under another name: sim_stack.c's offload output calls
 * it, so that a profiler toggling at synack_sim_send (bench/run.sh) and at
 * that output does not see one nested in the other. */
int sn_sim_send_pkt(struct synack_sim *sim, int node, const uint8_t *pkt, size_t len);

#endif
