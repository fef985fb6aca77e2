/* synack simulator: a deterministic network of nodes joined by links.
 *
 * A node is anything with the sans-IO shape (input a packet at a time, a next
 * deadline, advance to a time): usually a synack stack (synack_sim_add_stack
 * wires one up).  A link joins two nodes; each direction has one-way delay,
 * a bandwidth (serialisation delay), a queue limit with tail drop, and random
 * loss, duplication, reordering and bit corruption.  Every random choice comes
 * from one seeded PRNG and time is virtual: the same seed and the same inputs
 * give the same run, packet for packet.  No root, no threads, no clock.
 *
 * Time.  The simulator has one virtual clock, synack_sim_now(), in
 * microseconds from 0 at synack_sim_new().  It moves only inside
 * synack_sim_step(), synack_sim_run_until() and synack_sim_run_while(),
 * jumping from one event (a packet delivery, a node's deadline) to the next:
 * an idle minute costs nothing.  The stacks added with synack_sim_add_stack()
 * follow that clock without the user's help: whenever one of those calls
 * returns, and before each call of run_while's done(), every such stack has
 * been advanced to synack_sim_now(), so a socket call made there acts at the
 * simulator's time (its timers, a connect's SYN, the send time of data).
 * Nodes of the user's own (synack_sim_add_node) get input() at the delivery
 * time and advance() at the deadlines they report, nothing else.
 * Nothing happens between two simulator calls: to let time pass, run.
 */
#ifndef SYNACK_SIM_H
#define SYNACK_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/base.h"
#include "synack/stack.h"

#ifdef __cplusplus
extern "C" {
#endif

struct synack_sim;

/* One direction of a link.  Probabilities are in [0, 1].  Versioned like
 * struct synack_config (stack.h): fill it with synack_link_params_default();
 * the macros below pass SYNACK_LINK_PARAMS_VERSION. */
#define SYNACK_LINK_PARAMS_VERSION 1
struct synack_link_params {
    synack_time_t delay;      /* one-way propagation delay, us */
    uint64_t rate_bps;        /* bits per second; 0 = infinite (no serialisation delay) */
    uint32_t queue_limit;     /* packets waiting for serialisation; 0 = 1000 */
    double loss;              /* drop probability per packet */
    double dup;               /* probability a packet is delivered twice */
    double reorder;           /* probability a packet is held back by reorder_delay extra */
    synack_time_t reorder_delay; /* extra delay of a reordered packet (0 = 2 * delay + 1 ms) */
    double corrupt;           /* probability one random bit of the packet is flipped */
};
/* 1 ms, infinite rate, no impairment. */
#define synack_link_params_default(p) \
    synack_link_params_default_versioned(SYNACK_LINK_PARAMS_VERSION, (p))
SYNACK_API void synack_link_params_default_versioned(int version, struct synack_link_params *p);

/* What happened to a packet, for observers. */
enum synack_sim_event {
    SYNACK_SIM_SENT,        /* a node handed it to a link */
    SYNACK_SIM_DROP_LOSS,   /* random loss */
    SYNACK_SIM_DROP_QUEUE,  /* tail drop: the link's queue was full */
    SYNACK_SIM_DUPLICATED,  /* a copy was made (reported for the copy) */
    SYNACK_SIM_CORRUPTED,   /* a bit was flipped */
    SYNACK_SIM_REORDERED,   /* held back */
    SYNACK_SIM_DELIVERED,   /* handed to the receiving node */
    SYNACK_SIM_NO_ROUTE,    /* no link from the sender towards that address */
};
SYNACK_API const char *synack_sim_event_name(enum synack_sim_event ev);

/* The observer sees every event, with the packet as it is at that moment. */
typedef void (*synack_sim_observer_fn)(void *user, synack_time_t now, int link, int from_node,
                                       int to_node, enum synack_sim_event ev, const uint8_t *pkt,
                                       size_t len);

/* A node's operations (a synack stack's are supplied by synack_sim_add_stack). */
struct synack_sim_node_ops {
    int (*input)(void *ctx, const uint8_t *pkt, size_t len, synack_time_t now);
    synack_time_t (*next_deadline)(void *ctx);
    void (*advance)(void *ctx, synack_time_t now);
};

SYNACK_API int synack_sim_new(uint64_t seed, struct synack_sim **out);
SYNACK_API void synack_sim_free(struct synack_sim *sim); /* frees the stacks of synack_sim_add_stack, not add_node contexts */

/* Add a node with IPv4 address `addr` (host order).  Returns the node id (>= 0) or -errno.
 * The node sends by calling synack_sim_send(sim, id, ...). */
SYNACK_API int synack_sim_add_node(struct synack_sim *sim, uint32_t addr, const struct synack_sim_node_ops *ops,
                        void *ctx);
/* Create a synack stack for `cfg` (cfg->seed is replaced by one drawn from the
 * simulator's PRNG when zero) whose output goes into the simulator, and add it
 * as a node. Returns the node id and *stack, or -errno. The simulator owns the
 * stack (freed by synack_sim_free). */
#define synack_sim_add_stack(sim, cfg, stack) \
    synack_sim_add_stack_versioned((sim), SYNACK_CONFIG_VERSION, (cfg), (stack))
SYNACK_API int synack_sim_add_stack_versioned(struct synack_sim *sim, int config_version,
                                              const struct synack_config *cfg,
                                              struct synack_stack **stack);
/* Join nodes a and b.  ab: parameters from a to b; ba: from b to a (NULL: same as ab).
 * Returns the link id (>= 0) or -errno. */
#define synack_sim_link(sim, a, b, ab, ba) \
    synack_sim_link_versioned((sim), SYNACK_LINK_PARAMS_VERSION, (a), (b), (ab), (ba))
SYNACK_API int synack_sim_link_versioned(struct synack_sim *sim, int version, int a, int b,
                                         const struct synack_link_params *ab,
                                         const struct synack_link_params *ba);
/* Change a link direction's parameters at run time (from node `from`). */
#define synack_sim_link_set(sim, link, from, p) \
    synack_sim_link_set_versioned((sim), SYNACK_LINK_PARAMS_VERSION, (link), (from), (p))
SYNACK_API int synack_sim_link_set_versioned(struct synack_sim *sim, int version, int link,
                                             int from, const struct synack_link_params *p);

/* A node sends a packet: the link whose other end has the destination address
 * carries it.  The packet is copied. Returns 0 (also when the link loses it
 * later) or -errno (dropped): -EHOSTUNREACH (no route, or shorter than an IPv4
 * header), -ENOBUFS (the link's queue is full), -EMSGSIZE, -ENOMEM, -EINVAL. */
SYNACK_API int synack_sim_send(struct synack_sim *sim, int node, const uint8_t *pkt, size_t len);

/* Capture a link (both directions, as the packets enter the link) into a pcap file. */
SYNACK_API int synack_sim_pcap(struct synack_sim *sim, int link, const char *path);
SYNACK_API void synack_sim_set_observer(struct synack_sim *sim, synack_sim_observer_fn fn, void *user);

/* The time of the next event (a delivery or a node deadline), or
 * SYNACK_TIME_NEVER when nothing is pending: for a driver that runs the
 * simulator against a real clock (blocking.h does) and sleeps until then. */
SYNACK_API synack_time_t synack_sim_next_event(const struct synack_sim *sim);
/* Run the next event (a delivery or a node deadline). Returns false when
 * nothing is pending at all. */
SYNACK_API bool synack_sim_step(struct synack_sim *sim);
/* Run every event up to and including time `until`, then set the clock to it. */
SYNACK_API void synack_sim_run_until(struct synack_sim *sim, synack_time_t until);
/* Run until `done(user)` is true (checked after every event), or until
 * `limit`, or until nothing is pending.  Returns true if done() became true.
 * With done == NULL it runs to `limit` or until nothing is pending. */
SYNACK_API bool synack_sim_run_while(struct synack_sim *sim, bool (*done)(void *user), void *user,
                          synack_time_t limit);
SYNACK_API synack_time_t synack_sim_now(const struct synack_sim *sim);
/* The simulator's PRNG (for tests that need more randomness from the same seed). */
SYNACK_API uint64_t synack_sim_random(struct synack_sim *sim);

struct synack_sim_link_stats {
    uint64_t sent, delivered, lost, queue_drops, duplicated, reordered, corrupted;
    uint64_t bytes; /* of the packets sent (entering the link) */
};
SYNACK_API int synack_sim_link_stats(const struct synack_sim *sim, int link, int from,
                          struct synack_sim_link_stats *out);

/* The SYN-flood scenario (src/sim/sim_synflood.c): `spoofed` SYNs from
 * random unanswering sources spread over `duration` against a listener
 * (backlog `backlog`), while `legit` clients (over four client stacks) start
 * evenly through the flood, each sending `bytes` that the server echoes;
 * `settle` after the flood, `after` more clients, one every 50 ms.  Fill
 * the parameters with synack_synflood_params_default() first (fields are
 * only ever appended). */
struct synack_synflood_params {
    uint64_t seed;
    uint32_t spoofed, legit, after, bytes;
    synack_time_t duration, settle, delay;
    int backlog;
    bool syncookies;           /* the server's cfg.syncookies */
    uint32_t max_syncache;     /* the server's cfg.max_syncache (0: default) */
    /* Watching the run (NULL: not), each called with `observe_user`: the
     * simulator's observer, every stack's state hook (cfg.on_state), and a
     * call after each simulator event, before the applications run. */
    synack_sim_observer_fn observer;
    synack_state_fn on_state;
    void (*step_done)(void *user);
    void *observe_user;
};
struct synack_synflood_result {
    uint32_t legit_done, legit_total;  /* during the flood: echoed intact / started */
    uint32_t legit_fast;               /* of those done, within 1 s of their start */
    uint32_t after_done, after_total;  /* after it */
    uint64_t spoofed_sent, cookies_sent;
    uint64_t cookies_after_flood;      /* sent from `settle` after the flood's end on */
    uint64_t halfopen_peak, mem_peak;  /* the server's */
    synack_time_t duration;            /* virtual time the run took */
    struct synack_stack_stats server;
};
/* Defaults: 100,000 SYNs over 10 s, 200 clients of 8 KiB, 20 after, backlog 128. */
SYNACK_API void synack_synflood_params_default(struct synack_synflood_params *p);
/* Run it.  Returns 0 (results in *r), or -EINVAL / -ENOMEM. */
SYNACK_API int synack_sim_synflood(const struct synack_synflood_params *p,
                                   struct synack_synflood_result *r);

#ifdef __cplusplus
}
#endif
#endif
