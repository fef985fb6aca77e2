/* synack_sim_add_stack: a synack stack as a simulator node.  The only part of
 * the simulator that knows about the stack. */
#include <errno.h>
#include <stdlib.h>

#include "core/stack_internal.h" /* sn_config_import */
#include "sim/sim_internal.h"
#include "synack/sim.h"
#include "synack/stack.h"

struct sim_stack_node {
    struct synack_sim *sim;
    int id;
    struct synack_stack *stack;
    uint8_t *seg; /* with offloads: the wire packet being built (64 KiB) */
};

/* The stack's output callback: the packet goes onto the node's links. */
static int stack_output(void *user, const uint8_t *pkt, size_t len)
{
    const struct sim_stack_node *n = user;
    return synack_sim_send(n->sim, n->id, pkt, len);
}

static int seg_send(void *user, const uint8_t *pkt, size_t len)
{
    return stack_output(user, pkt, len);
}

/* With offloads (cfg.offload) the link does what a NIC would: it cuts a
 * large segment at the MSS and completes the checksums, so the link, its
 * impairments, observers and pcap see the packets a wire would carry. */
static int stack_output_meta(void *user, const uint8_t *pkt, size_t len,
                             const struct synack_pkt_meta *m)
{
    struct sim_stack_node *n = user;
    if (m->gso_size == 0 && !(m->flags & SYNACK_PKT_CSUM_PARTIAL))
        return stack_output(user, pkt, len);
    int rc = synack_gso_segment(pkt, len, m, n->seg, 65535, seg_send, n);
    return rc < 0 ? (rc == SYNACK_WIRE_EINVAL ? -EINVAL : rc) : 0;
}

static int node_input(void *ctx, const uint8_t *pkt, size_t len, synack_time_t now)
{
    const struct sim_stack_node *n = ctx;
    return synack_stack_input(n->stack, pkt, len, now);
}

static int node_input_batch(void *ctx, const uint8_t *pkt, size_t len, synack_time_t now,
                            bool more)
{
    const struct sim_stack_node *n = ctx;
    int rc = synack_stack_input_meta(n->stack, pkt, len, now, SYNACK_RX_BATCH);
    if (!more)
        synack_stack_input_flush(n->stack);
    return rc;
}

static synack_time_t node_next_deadline(void *ctx)
{
    const struct sim_stack_node *n = ctx;
    return synack_stack_next_deadline(n->stack);
}

static void node_advance(void *ctx, synack_time_t now)
{
    const struct sim_stack_node *n = ctx;
    synack_stack_advance(n->stack, now);
}

static void node_release(void *ctx)
{
    struct sim_stack_node *n = ctx;
    synack_stack_free(n->stack);
    free(n->seg);
    free(n);
}

int synack_sim_add_stack_versioned(struct synack_sim *sim, int config_version,
                                   const struct synack_config *cfg, struct synack_stack **stack)
{
    static const struct synack_sim_node_ops ops = {node_input, node_next_deadline, node_advance};
    if (sim == NULL || cfg == NULL || stack == NULL)
        return -EINVAL;
    struct sim_stack_node *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return -ENOMEM;
    n->sim = sim;
    struct synack_config c;
    if (sn_config_import(config_version, cfg, &c) < 0) {
        free(n);
        return -EINVAL;
    }
    if (c.seed == 0)
        c.seed = synack_sim_random(sim);
    int err = synack_stack_new(&c, stack_output, n, &n->stack);
    if (err == 0 && c.offload) {
        n->seg = malloc(65535);
        err = n->seg ? synack_stack_set_output_meta(n->stack, stack_output_meta, n, c.offload)
                     : -ENOMEM;
        if (err != 0)
            synack_stack_free(n->stack);
    }
    if (err != 0) {
        free(n->seg);
        free(n);
        return err;
    }
    /* The stack sends nothing until it gets input or is advanced, so the
     * node id can be filled in after the stack exists. */
    int id = sn_sim_add_node_owned(sim, c.addr, &ops, n, node_release);
    if (id < 0) {
        node_release(n);
        return id;
    }
    n->id = id;
    sn_sim_node_batch(sim, id, node_input_batch);
    synack_stack_advance(n->stack, synack_sim_now(sim)); /* a stack added late starts at sim time */
    *stack = n->stack;
    return id;
}
