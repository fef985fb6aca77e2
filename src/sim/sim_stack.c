/* synack_sim_add_stack: a synack stack as a simulator node.  The only part of
 * the simulator that knows about the stack. */
#include <errno.h>
#include <stdlib.h>

#include "core/stack_internal.h" /* sn_config_import */
#include "sim/sim_internal.h"
#include "synack/sim.h"
#include "synack/stack.h"
#include "synack/wire.h"

struct sim_stack_node {
    struct synack_sim *sim;
    int id;
    struct synack_stack *stack;
    uint8_t *seg; /* with offloads: the wire packet being built (64 KiB) */
    unsigned offload; /* cfg.offload: the node's "NIC" checks received checksums */
};

/* The stack's output callback: the packet goes onto the node's links. */
static int stack_output(void *user, const uint8_t *pkt, size_t len)
{
    const struct sim_stack_node *n = user;
    return synack_sim_send(n->sim, n->id, pkt, len);
}

/* The segments cut by the link go straight to the simulator (not through
 * stack_output), so that bench/run.sh's callgrind count can leave the
 * link's work out by toggling at stack_output_meta alone. */
static int seg_send(void *user, const uint8_t *pkt, size_t len)
{
    const struct sim_stack_node *n = user;
    return sn_sim_send_pkt(n->sim, n->id, pkt, len);
}

/* With offloads (cfg.offload) the link does what a NIC would: it cuts a
 * large segment at the MSS and completes the checksums, so the link, its
 * impairments, observers and pcap see the packets a wire would carry. */
static int stack_output_meta(void *user, const uint8_t *pkt, size_t len,
                             const struct synack_pkt_meta *m)
{
    struct sim_stack_node *n = user;
    if (m->gso_size == 0 && !(m->flags & SYNACK_PKT_CSUM_PARTIAL))
        return seg_send(user, pkt, len);
    int rc = synack_gso_segment(pkt, len, m, n->seg, 65535, seg_send, n);
    return rc < 0 ? (rc == SYNACK_WIRE_EINVAL ? -EINVAL : rc) : 0;
}

/* Receive checksum offload, as a NIC does it: with cfg.offload the node
 * verifies the TCP checksum of what the link delivers (the packet as it
 * arrived: corruption on the link included) and vouches for it with
 * SYNACK_RX_CSUM_VALID only when it is right.  A packet that fails, or is
 * not a whole unfragmented TCP/IPv4 datagram, goes in without the flag and
 * the stack checks it itself (and drops it), as Linux does with
 * CHECKSUM_NONE.  This is the simulator's work, not the stack's. */
static unsigned rx_csum_flags(const struct sim_stack_node *n, const uint8_t *pkt, size_t len)
{
    if (!n->offload || len < 20 || (pkt[0] >> 4) != 4 || pkt[9] != 6)
        return 0;
    size_t ihl = (size_t)(pkt[0] & 15) * 4, tot = (size_t)pkt[2] << 8 | pkt[3];
    if (ihl < 20 || tot > len || tot < ihl + 20 || (pkt[6] & 0x3f) != 0 || pkt[7] != 0)
        return 0; /* malformed, or a fragment (RFC 791: MF set or an offset) */
    uint32_t src = (uint32_t)pkt[12] << 24 | (uint32_t)pkt[13] << 16 | (uint32_t)pkt[14] << 8 | pkt[15];
    uint32_t dst = (uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 | (uint32_t)pkt[18] << 8 | pkt[19];
    uint32_t sum = synack_csum_pseudo(src, dst, 6, (uint16_t)(tot - ihl));
    return synack_csum_fold(synack_csum_partial(pkt + ihl, tot - ihl, sum)) == 0
               ? SYNACK_RX_CSUM_VALID
               : 0;
}

static int node_input(void *ctx, const uint8_t *pkt, size_t len, synack_time_t now)
{
    const struct sim_stack_node *n = ctx;
    return synack_stack_input_meta(n->stack, pkt, len, now, rx_csum_flags(n, pkt, len));
}

static int node_input_batch(void *ctx, const uint8_t *pkt, size_t len, synack_time_t now,
                            bool more)
{
    const struct sim_stack_node *n = ctx;
    unsigned flags = SYNACK_RX_BATCH | rx_csum_flags(n, pkt, len);
    int rc = synack_stack_input_meta(n->stack, pkt, len, now, flags);
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
    n->offload = c.offload;
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
