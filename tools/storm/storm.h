/* The TIME-WAIT storm: the write-up's server in the simulator.  Clients open
 * connections, send a small request and read the reply; the server answers
 * and closes first, so every connection ends in TIME-WAIT on the server side.
 * Used by `synack demo --scenario time-wait-storm` and by the scale
 * benchmark (bench/bench_scale.c), which also builds it against older
 * releases to compare lifecycles per second: it uses only the public API. */
#ifndef SYNACK_STORM_H
#define SYNACK_STORM_H

#include <stdbool.h>
#include <stdint.h>

#include "synack/base.h"
#include "synack/sim.h"
#include "synack/stack.h"

struct storm_params {
    uint64_t connections;   /* lifecycles to run */
    uint32_t concurrency;   /* client connections open at once */
    synack_time_t delay;    /* one-way link delay, us */
    synack_time_t msl;      /* 0: the stack's default */
    uint64_t seed;
    uint32_t request, reply; /* bytes each way (at most 1024) */
    uint32_t max_timewait;  /* server's TIME-WAIT bound, 0: the default (ignored by old releases) */
    const struct storm_hooks *hooks; /* NULL: none */
};

/* Watching the storm (`synack demo --pcap`): the simulator's observer, both
 * stacks' state hook, and a call after each simulator event, before the
 * applications run; all get `user`. */
struct storm_hooks {
    synack_sim_observer_fn observer;
    synack_state_fn on_state;
    void (*step_done)(void *user);
    void *user;
};

struct storm_result {
    uint64_t completed;     /* reply read to EOF */
    uint64_t refused;       /* connect or exchange failed */
    uint64_t peak_timewait; /* the server's TIME-WAIT records at most (0: not known) */
    uint64_t peak_mem;      /* the server stack's memory account at most, bytes (0: not known) */
    uint64_t tw_evicted;    /* records dropped for room */
    synack_time_t sim_time; /* virtual time it took */
    double wall_s;          /* wall-clock time it took */
    bool still_accepts;     /* one more connection after the storm completed */
};

#include <netinet/in.h>

struct synack_sim;
struct synack_stack;

/* An IPv4 socket address (host-order address and port). */
struct sockaddr_in storm_sin(uint32_t addr, uint16_t port);

/* Open `count` idle connections from client stack c to server stack s, which
 * listens on `nports` ports from port0 (descriptors lfd[]): each client
 * socket is bound to its own (port, server port) pair from cport0 up (ncports
 * client ports per server port, below the ephemeral range), BATCH
 * handshakes at a time.  The descriptors go to cfd[] and sfd[] (sfd in
 * accept order) when not NULL.  Returns 0, or -errno (errno of the failing
 * call) if a call failed or a handshake did not complete in time. */
int storm_open_idle(struct synack_sim *sim, struct synack_stack *c, struct synack_stack *s,
                    uint32_t saddr, const int *lfd, int nports, uint16_t port0, uint16_t cport0,
                    uint32_t ncports, uint64_t first, uint64_t count, int *cfd, int *sfd);

/* Run it.  Returns 0, or -errno if the simulation could not be set up. */
int storm_run(const struct storm_params *p, struct storm_result *r);

#endif
