/* Scale: what an idle connection costs, whether a data segment costs the
 * same with a million idle connections beside it, and a million connections
 * opened and closed with the server closing first.  Two synack stacks in one
 * process on the simulator.  Prints the markdown tables of docs/benchmarks.md
 * ("Scale").
 *
 *   bench_scale [MAX_IDLE]      (default 1000000; the steps are 1, 1000,
 *                                100000 and 1000000, up to MAX_IDLE)
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/tuple_table.h"
#include "storm.h"
#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define NPORTS 33          /* server ports: 33 x 31,000 client ports below the ephemeral range */
#define PORT0 5000
#define CPORT0 1024
#define CPORTS 31000u
#define XFER_PORT 4999     /* the active connection's server port */
#define XFER_BYTES (32u << 20)

struct net {
    struct synack_sim *sim;
    struct synack_stack *st[2];
    int lfd[NPORTS];
    uint64_t idle;
};

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_scale: %s: %s\n", what, strerror(err));
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: unlike wall time, other work on the machine
 * does not add to it (only its cache traffic does). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

static void sync_clocks(struct net *n)
{
    synack_time_t t = synack_sim_now(n->sim);
    synack_stack_advance(n->st[0], t);
    synack_stack_advance(n->st[1], t);
}

static void net_init(struct net *n, uint32_t max)
{
    memset(n, 0, sizeof(*n));
    if (synack_sim_new(1, &n->sim) < 0)
        die("synack_sim_new", ENOMEM);
    for (int i = 0; i < 2; i++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == 0 ? CADDR : SADDR;
        cfg.seed = 0;
        cfg.max_conns = max + 1024;
        cfg.max_sockets = max + 1024;
        cfg.mem_max = 0; /* no budget: the point is to measure what a million cost */
        int rc = synack_sim_add_stack(n->sim, &cfg, &n->st[i]);
        if (rc < 0)
            die("synack_sim_add_stack", -rc);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = 50;
    lp.queue_limit = 1u << 20;
    if (synack_sim_link(n->sim, 0, 1, &lp, &lp) < 0)
        die("synack_sim_link", EINVAL);
    for (int p = 0; p < NPORTS; p++) {
        struct sockaddr_in a = storm_sin(0, (uint16_t)(PORT0 + p));
        n->lfd[p] = synack_socket(n->st[1], AF_INET, SOCK_STREAM, 0);
        if (n->lfd[p] < 0 || synack_bind(n->st[1], n->lfd[p], (struct sockaddr *)&a, sizeof(a)) < 0 ||
            synack_listen(n->st[1], n->lfd[p], 4096) < 0)
            die("listen", errno);
    }
}

/* Open idle connections up to `target` (storm_open_idle). */
static void grow_idle(struct net *n, uint64_t target)
{
    int rc = storm_open_idle(n->sim, n->st[0], n->st[1], SADDR, n->lfd, NPORTS, PORT0, CPORT0,
                             CPORTS, n->idle, target - n->idle, NULL, NULL);
    if (rc < 0)
        die("opening idle connections", -rc);
    n->idle = target;
}

/* One bulk transfer beside the idle connections: ns of CPU per data segment
 * (CPU time: both stacks, the simulator and the copies). */
static double segment_cost(struct net *n, int round)
{
    static uint8_t buf[65536];
    sync_clocks(n);
    int lfd = synack_socket(n->st[1], AF_INET, SOCK_STREAM, 0);
    int cfd = synack_socket(n->st[0], AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = storm_sin(0, (uint16_t)(XFER_PORT - round));
    if (synack_bind(n->st[1], lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        synack_listen(n->st[1], lfd, 1) < 0)
        die("transfer listen", errno);
    a.sin_addr.s_addr = htonl(SADDR);
    if (synack_connect(n->st[0], cfd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
        die("transfer connect", errno);
    const struct synack_stack_stats *cs = synack_stack_stats(n->st[0]);
    uint64_t segs0 = cs->tcp_out;
    double t0 = cpu_s();
    uint64_t sent = 0, rcvd = 0;
    int sfd = -1;
    while (rcvd < XFER_BYTES) {
        sync_clocks(n);
        while (sent < XFER_BYTES) {
            ssize_t w = synack_send(n->st[0], cfd, buf, sizeof(buf), 0);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
        }
        if (sfd < 0)
            sfd = synack_accept(n->st[1], lfd, NULL, NULL);
        for (ssize_t r = 1; sfd >= 0 && r > 0;) {
            r = synack_recv(n->st[1], sfd, buf, sizeof(buf), 0);
            if (r > 0)
                rcvd += (uint64_t)r;
        }
        if (rcvd < XFER_BYTES && !synack_sim_step(n->sim))
            die("transfer stalled", EIO);
    }
    double secs = cpu_s() - t0;
    uint64_t segs = cs->tcp_out - segs0;
    synack_close(n->st[0], cfd);
    synack_close(n->st[1], sfd);
    synack_close(n->st[1], lfd);
    synack_sim_run_until(n->sim, synack_sim_now(n->sim) + SYNACK_MSEC(10));
    return secs * 1e9 / (double)segs;
}

/* Close a listener with `children` unaccepted connections while the table
 * holds n->idle others: wall microseconds. */
static double listener_close_cost(struct net *n, int children)
{
    sync_clocks(n);
    int lfd = synack_socket(n->st[1], AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = storm_sin(0, 4000);
    if (synack_bind(n->st[1], lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        synack_listen(n->st[1], lfd, children) < 0)
        die("listener", errno);
    a.sin_addr.s_addr = htonl(SADDR);
    for (int i = 0; i < children; i++) {
        int fd = synack_socket(n->st[0], AF_INET, SOCK_STREAM, 0);
        if (synack_connect(n->st[0], fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
            die("connect", errno);
    }
    synack_sim_run_until(n->sim, synack_sim_now(n->sim) + SYNACK_MSEC(5));
    sync_clocks(n);
    double t0 = now_s();
    synack_close(n->st[1], lfd);
    double us = (now_s() - t0) * 1e6;
    synack_sim_run_until(n->sim, synack_sim_now(n->sim) + SYNACK_MSEC(5));
    return us;
}

int main(int argc, char **argv)
{
    uint64_t max = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
    if (max < 1 || max > (uint64_t)NPORTS * CPORTS)
        die("MAX_IDLE", EINVAL);
    static const uint64_t steps[] = {1, 1000, 100000, 1000000};
    struct net n;
    long rss0 = rss_bytes();
    net_init(&n, (uint32_t)max);

    printf("Per-segment cost with idle connections present (ns of CPU per data segment: both\n"
           "stacks, the simulator and the copies; %u MiB over one connection, fastest of 3):\n\n",
           XFER_BYTES >> 20);
    printf("| idle connections | ns per data segment | closing a listener with 10 children |\n");
    printf("|---:|---:|---:|\n");
    double lo = 0, hi = 0;
    int round = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && steps[i] <= max; i++) {
        grow_idle(&n, steps[i]);
        /* The fastest of three transfers: the machine's other work only
         * ever adds time. */
        double ns = segment_cost(&n, round++);
        for (int k = 0; k < 2; k++) {
            double again = segment_cost(&n, round++);
            ns = again < ns ? again : ns;
        }
        double lc = listener_close_cost(&n, 10);
        lo = lo == 0 || ns < lo ? ns : lo;
        hi = ns > hi ? ns : hi;
        printf("| %llu | %.0f | %.1f us |\n", (unsigned long long)n.idle, ns, lc);
        fflush(stdout);
    }
    printf("\nlargest / smallest per-segment cost: %.2fx\n\n", hi / lo);

    struct synack_stack_memory mc, ms;
    synack_stack_memory(n.st[0], &mc);
    synack_stack_memory(n.st[1], &ms);
    long rss = rss_bytes() - rss0;
    printf("Memory with %llu idle established connections (both ends in this process):\n\n",
           (unsigned long long)n.idle);
    printf("| part | bytes per connection, per end |\n|---|---:|\n");
    printf("| TCB (struct sn_tcb without its table entry) | %llu |\n",
           (unsigned long long)(ms.tcb_bytes - sizeof(struct sn_tuple_entry)));
    printf("| 4-tuple table entry (in the TCB) + bucket | %zu + 8 |\n", sizeof(struct sn_tuple_entry));
    printf("| send and receive buffers, out-of-line state (memory account less TCBs) | %.1f |\n",
           ((double)ms.used - (double)ms.conns * (double)ms.tcb_bytes) / (double)n.idle);
    printf("| descriptor slot (pointer + user pointer) | 16 |\n");
    printf("| memory account, server end (TCBs, buffers, blocks) | %.0f |\n",
           (double)ms.used / (double)n.idle);
    printf("| process RSS, both ends, simulator included | %.0f |\n\n",
           (double)rss / 2 / (double)n.idle);
    printf("process RSS for %llu connections (both ends): %.1f MiB\n\n",
           (unsigned long long)n.idle, (double)rss / 1048576.0);
    (void)mc;
    synack_sim_free(n.sim);

    /* A million connections opened and closed, the server closing first. */
    struct storm_params p = {.connections = max, .concurrency = 1000, .delay = 10000,
                             .seed = 1, .request = 64, .reply = 256};
    struct storm_result r;
    if (storm_run(&p, &r) < 0)
        die("storm", EIO);
    printf("| open/close, server closes first | completed | refused | peak TIME-WAIT records | "
           "record size | peak server memory | still accepting | wall |\n");
    printf("|---|---:|---:|---:|---:|---:|---|---:|\n");
    printf("| %llu connections, 1000 at a time, 10 ms one-way | %llu | %llu | %llu | %llu B | "
           "%.1f MiB | %s | %.1f s |\n\n",
           (unsigned long long)max, (unsigned long long)r.completed,
           (unsigned long long)r.refused, (unsigned long long)r.peak_timewait,
           (unsigned long long)ms.timewait_record_bytes, (double)r.peak_mem / 1048576.0,
           r.still_accepts ? "yes" : "NO", r.wall_s);
    return 0;
}
