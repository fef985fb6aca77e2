/* Internals of `synack demo`, shared by the driver (demo.c) and the
 * scenarios (demo_scenarios.c). */
#ifndef SYNACK_TOOL_DEMO_H
#define SYNACK_TOOL_DEMO_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "ladder.h"
#include "own_draw.h"
#include "trace.h"
#include "synack/sim.h"
#include "synack/stack.h"

struct demo;

struct demo_host {
    struct demo *d;
    struct synack_stack *stack;
    int node, side;                 /* side 0: client (left column), 1: server */
    bool has_conn;
    uint32_t conn_id;               /* the connection shown in the column */
    enum synack_tcp_state state, listen_state;
    uint32_t visited;               /* bit per state any connection of the host entered */
};

/* What the sender looked like when a packet left (matched on delivery). */
struct demo_sent {
    synack_time_t at;
    uint8_t state;
    uint32_t truth;                 /* 1 + its index in demo.truth, 0 none */
};

/* The true story of each packet, in capture order (demo_draw.c). */
struct demo_truth {
    uint8_t side, flags, snd, rcv;  /* sender's state after sending, receiver's after receipt */
    bool lost, arrived;
    uint16_t ipkey;
    synack_time_t t_snd, t_rcv;
    uint64_t key_snd, key_rcv;      /* order of the events */
};
#define DEMO_TRUTH_MAX (1u << 20)
#define DEMO_NOTES_MAX 512
struct demo_truth_log {
    struct demo_truth *e;
    size_t n, cap;
    uint64_t seq, app_key;
    struct trace_note notes[DEMO_NOTES_MAX];
    size_t nnotes;
};

/* A loss seen while a socket call runs, printed after the call's own row. */
struct demo_pending {
    synack_time_t sent, at;
    int side;
    uint8_t state;
    bool queue_drop;
    size_t len;
    uint8_t pkt[1600];
};

struct demo {
    struct synack_sim *sim;
    struct demo_host host[2];
    int link;
    struct synack_link_params link_params;
    bool lose_next[2];              /* lose the next packet a side sends */
    struct ladder ladder;
    bool quiet;
    int in_input;                   /* side+1 while a packet is being processed */
    bool in_app;                    /* while a scenario's socket call runs */
    synack_time_t msl;
    uint64_t packets[2], lost[2];
    /* --scenario transfer (demo_transfer.c) */
    uint64_t bytes;                 /* --bytes: how much the client sends */
    const char *cc;                 /* --cc: congestion control, NULL for the stack's default */
    /* --scenario time-wait-storm (demo_storm.c) */
    uint64_t connections;           /* --connections */
    uint32_t concurrency;           /* --concurrency */
    const char *load_pcap, *load_states; /* its --pcap and --states (demo_loadcap.h) */
    struct own_draw_opts draw_load;      /* ... and its pictures */
    char last_line[512];            /* printed after the summary, when set */
    struct demo_sent sent[2][65536];
    struct demo_pending pending[4];
    int npending;
    /* --states, --svg, --html, --plot, --series (demo_draw.c) */
    struct demo_truth_log truth;
    const char *states_path;
    struct own_draw_opts draw;
    struct stack_series *series;    /* the stacks' own numbers; NULL: not asked for */
};

struct demo_fd {
    int side, fd;
};

struct demo_scenario {
    const char *name;
    const char *help;
    int (*run)(struct demo *d);     /* 0 when the scenario ended as it should */
    bool own_summary;               /* no ladder and no per-host summary: it prints its own */
    /* A scenario with its own network (not the two-host ladder): the exit
     * status.  pcap, states: --pcap and --states (demo_loadcap.h), or NULL. */
    int (*alone)(unsigned long long seed, double delay_ms, bool quiet, const char *pcap,
                 const char *states, const struct own_draw_opts *draw);
};
int demo_synflood(unsigned long long seed, double delay_ms, bool quiet, const char *pcap,
                  const char *states, const struct own_draw_opts *draw);
extern const struct demo_scenario demo_scenarios[];
int demo_transfer_run(struct demo *d);
int demo_storm_run(struct demo *d);

const char *demo_state(const struct demo_host *h);
unsigned demo_pkt_key(const uint8_t *pkt, size_t len);
bool demo_run_until(struct demo *d, bool (*cond)(struct demo *, const void *), const void *arg,
                    synack_time_t max_wait);
bool demo_wait_readable(struct demo *d, int side, int fd);
bool demo_wait_writable(struct demo *d, int side, int fd);
void demo_settle(struct demo *d);
void demo_app(struct demo *d, int side, const char *what, long result, int err);
/* Print the loss rows held back while a socket call ran. */
void demo_flush(struct demo *d);
void demo_summary(struct demo *d, const struct demo_scenario *sc, int result);
void demo_free(struct demo *d);
struct sockaddr_in demo_addr(uint32_t addr, uint16_t port);

/* demo_draw.c */
void demo_truth_sent(struct demo *d, int side, const uint8_t *pkt, size_t len, uint8_t state);
/* `key`: the event's place in the order, taken before the receiver ran (0: now). */
void demo_truth_arrived(struct demo *d, int from, const uint8_t *pkt, size_t len, uint8_t state,
                        bool lost, uint64_t key);
void demo_truth_closed(struct demo *d, int side);
/* The host's state for the connection `pkt` belongs to (its listener's only
 * when the packet is for the listening port).  `to_host`: pkt arrives. */
uint8_t demo_truth_state(const struct demo_host *h, const uint8_t *pkt, size_t len, bool to_host);
void demo_truth_note(struct demo *d, int side, const char *text, uint8_t state);
int demo_draw_finish(struct demo *d, const char *pcap);
/* Follow the connection on fd of a side in the stack's series (when asked
 * for), and sample the side's followed connections now. */
void demo_watch(struct demo *d, int side, int fd);
void demo_sample(struct demo *d, int side);
void demo_truth_free(struct demo *d);

#define DEMO_CLIENT_ADDR 0xc0000201u
#define DEMO_SERVER_ADDR 0xc0000202u
#define DEMO_SERVER_PORT 80
#define DEMO_CLIENT_PORT 40000

#endif
