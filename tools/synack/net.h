/* What `synack serve` and `synack connect` share: a stack on a TUN/TAP
 * device driven by the event loop, with the device's configuration, the
 * options common to both, the pcap and trace hooks, impairment, signals,
 * the readiness queue the applications work from, and the bounded wait for
 * closing handshakes at exit. */
#ifndef SYNACK_TOOL_NET_H
#define SYNACK_TOOL_NET_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "impair.h"
#include "nettrace.h"
#include "own_draw.h"
#include "synack/dev.h"
#include "synack/loop.h"
#include "synack/pcap.h"
#include "synack/stack.h"

struct net_opts {
    enum synack_dev_kind kind;
    const char *ifname;
    uint32_t addr;                /* synack's address (host order) */
    uint8_t prefix;
    uint32_t peer;                /* the kernel side's address; 0: not configured by synack */
    uint16_t mtu;
    uint16_t port;
    const char *app;
    const char *pcap;
    struct own_draw_opts draw;    /* --svg, --html, --plot, --series: drawn at exit (net_draw.c) */
    bool trace;
    unsigned trace_rows;
    uint64_t seed;
    bool seed_given;              /* --seed: the stack's numbers too are replayable */
    struct impair_params out, in; /* impairment of what synack sends / receives */
    synack_time_t close_wait;     /* how long to wait for closing handshakes at exit */
    synack_time_t timeout;        /* connect: give up after this long (0: never) */
    uint32_t sndbuf, rcvbuf;      /* 0: the stack's defaults */
    uint32_t max_conns;
    bool quiet;
    bool offload;                 /* --offload: IFF_VNET_HDR, TSO/GSO, GRO, partial checksums */
    FILE *trace_out;              /* where the ladders go (default stdout) */
    unsigned threads;             /* serve --threads: queues of a multi-queue TUN, a stack each */
};

/* getopt_long codes of the common options (long only). */
enum {
    NET_OPT_TUN = 0x100, NET_OPT_TAP, NET_OPT_ADDR, NET_OPT_PEER, NET_OPT_MTU, NET_OPT_PORT,
    NET_OPT_APP, NET_OPT_PCAP, NET_OPT_TRACE, NET_OPT_TRACE_ROWS, NET_OPT_SEED, NET_OPT_LOSS,
    NET_OPT_DUP, NET_OPT_REORDER, NET_OPT_DELAY, NET_OPT_IN_LOSS, NET_OPT_IN_DUP,
    NET_OPT_IN_REORDER, NET_OPT_IN_DELAY, NET_OPT_CLOSE_WAIT, NET_OPT_TIMEOUT, NET_OPT_SNDBUF,
    NET_OPT_RCVBUF, NET_OPT_MAX_CONNS, NET_OPT_QUIET, NET_OPT_HELP, NET_OPT_OFFLOAD, NET_OPT_SVG,
    NET_OPT_HTML, NET_OPT_PLOT, NET_OPT_SERIES, NET_OPT_SERIES_MAX, NET_OPT_ALL,
    NET_OPT_FIRST_OWN
};
#define NET_LONG_OPTIONS                                                                         \
    {"tun", required_argument, 0, NET_OPT_TUN}, {"tap", required_argument, 0, NET_OPT_TAP},     \
    {"addr", required_argument, 0, NET_OPT_ADDR}, {"peer", required_argument, 0, NET_OPT_PEER}, \
    {"mtu", required_argument, 0, NET_OPT_MTU}, {"port", required_argument, 0, NET_OPT_PORT},   \
    {"app", required_argument, 0, NET_OPT_APP}, {"pcap", required_argument, 0, NET_OPT_PCAP},   \
    {"trace", no_argument, 0, NET_OPT_TRACE},                                                   \
    {"trace-rows", required_argument, 0, NET_OPT_TRACE_ROWS},                                   \
    {"seed", required_argument, 0, NET_OPT_SEED}, {"loss", required_argument, 0, NET_OPT_LOSS}, \
    {"dup", required_argument, 0, NET_OPT_DUP},                                                 \
    {"reorder", required_argument, 0, NET_OPT_REORDER},                                         \
    {"delay", required_argument, 0, NET_OPT_DELAY},                                             \
    {"in-loss", required_argument, 0, NET_OPT_IN_LOSS},                                         \
    {"in-dup", required_argument, 0, NET_OPT_IN_DUP},                                           \
    {"in-reorder", required_argument, 0, NET_OPT_IN_REORDER},                                   \
    {"in-delay", required_argument, 0, NET_OPT_IN_DELAY},                                       \
    {"close-wait", required_argument, 0, NET_OPT_CLOSE_WAIT},                                   \
    {"timeout", required_argument, 0, NET_OPT_TIMEOUT},                                         \
    {"sndbuf", required_argument, 0, NET_OPT_SNDBUF},                                           \
    {"rcvbuf", required_argument, 0, NET_OPT_RCVBUF},                                           \
    {"max-conns", required_argument, 0, NET_OPT_MAX_CONNS},                                     \
    {"offload", no_argument, 0, NET_OPT_OFFLOAD},                                               \
    {"quiet", no_argument, 0, NET_OPT_QUIET}, {"help", no_argument, 0, NET_OPT_HELP},          \
    {"svg", required_argument, 0, NET_OPT_SVG}, {"html", required_argument, 0, NET_OPT_HTML}, \
    {"plot", required_argument, 0, NET_OPT_PLOT},                                               \
    {"series", required_argument, 0, NET_OPT_SERIES},                                           \
    {"series-max", required_argument, 0, NET_OPT_SERIES_MAX}, {"all", no_argument, 0, NET_OPT_ALL}

/* The common options' help text (then own_draw_help's, after a heading). */
extern const char net_opts_help[];

#define NET_MAX_CONNS 1048576u
void net_opts_default(struct net_opts *o, uint16_t port);
/* --max-conns by default: it follows the machine's memory. */
uint32_t net_default_max_conns(void);
uint64_t net_default_mem_max(uint64_t lib_default);
/* One parsed option: 1 if it was a common one (applied), 0 if not, -1 if
 * its argument is bad (a message was printed).  argc, argv, *next: getopt's,
 * for an option that takes two arguments (--plot KIND FILE). */
int net_opt(struct net_opts *o, const char *cmd, int c, const char *arg, int argc, char **argv,
            int *next);
/* The checks that need all options: 0, or -1 with a message. */
int net_opts_check(struct net_opts *o, const char *cmd);

struct net {
    struct net_opts o;
    const char *cmd;
    struct synack_stack *stack;
    struct synack_chunk_pool *pool; /* the stack's buffer chunks (synack_chunk_pool, dev.h) */
    struct synack_dev *dev;
    struct synack_loop *loop;
    struct synack_pcap *pcap;
    struct nettrace *trace;
    struct net_draw *draw;       /* --svg, --html, --plot, --series */
    struct impair imp_out, imp_in;
    uint8_t *segbuf;             /* --offload with pcap/trace/impairment: one wire packet */
    int sigfd;
    bool stop;                   /* SIGINT/SIGTERM seen: finish up */
    synack_time_t t0;
    synack_time_t wall_offset;   /* CLOCK_REALTIME - CLOCK_MONOTONIC, for the pcap's stamps */
    uint32_t open_conns;         /* connections not yet CLOSED or in TIME-WAIT */
    /* Descriptors that may be ready (from the stack's event callback). */
    int *ready;
    uint8_t *queued;
    uint32_t ready_head, nready, fd_cap;
    /* serve --threads N: one net per queue of a multi-queue TUN.  The first
     * (index 0, the main thread's) owns the signals and passes a stop on
     * through each other one's eventfd (wake[i], watched by that queue's
     * own loop as its stopfd). */
    unsigned index;
    int stopfd;                  /* index > 0: the eventfd the first writes to; else -1 */
    int *wake;                   /* index 0: the others' stopfds (o.threads - 1 slots) */
    unsigned nwake;
};

/* Open and configure the device, create the stack and the loop, hook up the
 * pcap, the trace, the impairment and the signals.  Returns 0, or -1 with a
 * message (then net_stop cleans up what was made). */
int net_start(struct net *n, const char *cmd, const struct net_opts *o);
/* One more queue of first's multi-queue TUN (serve --threads, first
 * started with o.threads > 1): its own device descriptor, stack and loop on
 * the interface first created, with first's options; no interface
 * configuration and no signal handling of its own (first passes a stop on
 * to it).  Returns 0, or -1 with a message (then net_stop cleans up). */
int net_start_queue(struct net *n, struct net *first, unsigned index);
/* With o.threads > 1 net_start leaves the interface down, so that no flow
 * reaches a queue before its stack listens: bring it up and address it
 * once every queue is ready.  Returns 0, or -1 with a message. */
int net_link_up(struct net *n);
/* Tell the other queues' threads to stop (as a SIGINT to the first does;
 * a second call: to reset what is still open). */
void net_stop_queues(struct net *first);
/* Print the counters (unless quiet) and free everything. */
void net_stop(struct net *n);
/* The counters of k nets (the queues of one interface), summed, as net_stop
 * prints them for one; then net_stop prints nothing for these (quiet). */
void net_print_counters_sum(struct net *const *nets, unsigned k);
/* One loop round, sleeping at most until `until`; then prints the ladders of
 * the connections that ended. */
void net_round(struct net *n, synack_time_t until);
/* The next descriptor the stack said may be ready, or -1. */
int net_next_ready(struct net *n);
/* Ask for fd to be handled again (work left that no event will announce). */
void net_mark_ready(struct net *n, int fd);
/* Run the loop until every connection is CLOSED or in TIME-WAIT, or
 * o.close_wait has passed.  Returns true if they all finished. */
bool net_wait_closed(struct net *n);
synack_time_t net_now(void);
/* "1.23 MB/s"-style rate of `bytes` over `us` microseconds into buf. */
const char *net_rate(char *buf, size_t cap, uint64_t bytes, synack_time_t us);
/* "ECONNRESET (Connection reset by peer)" */
const char *net_errstr(char *buf, size_t cap, int err);

#endif
