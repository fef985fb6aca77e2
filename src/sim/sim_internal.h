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

#endif
