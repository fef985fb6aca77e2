/* Goodput of bulk transfers on the simulator, Reno against CUBIC (chosen per
 * connection with setsockopt TCP_CONGESTION), on a 100 Mbit/s link with
 * 10 ms one-way delay (20 ms RTT) and random loss in both directions, over
 * several seeds.  Goodput = application bytes / (connect() to the last byte
 * read), in virtual time; printed as a markdown table, with the fraction of
 * the link rate it reaches and, for reference, the Mathis et al. estimate
 * MSS/RTT * sqrt(3/2)/sqrt(p) of a Reno flow.
 *
 *   bench_goodput [SEEDS [MIB]]     (defaults: 10 seeds of 32 MiB)
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 5001
#define RATE_BPS 100000000u
#define DELAY SYNACK_MSEC(10)
#define BUF (1u << 20) /* socket buffers: 4x the path's bandwidth-delay product */
#define CHUNK 65536
#define MSS 1448       /* 1500 - 40 - 12 (timestamps) */

struct run {
    double goodput_bps;
    uint64_t retrans;
    int cc_err; /* errno of TCP_CONGESTION, 0 when it was set */
};

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_goodput: %s: %s\n", what, strerror(err));
    exit(1);
}

static void set_int(struct synack_stack *st, int fd, int level, int name, int v)
{
    if (synack_setsockopt(st, fd, level, name, &v, sizeof(v)) < 0)
        die("setsockopt", errno);
}

/* One transfer of `bytes` from C to S; false if it did not finish. */
static bool transfer(const char *cc, double loss, uint64_t seed, uint64_t bytes, struct run *out)
{
    static uint8_t buf[CHUNK];
    struct synack_sim *sim;
    struct synack_stack *st[2];
    int node[2];
    memset(out, 0, sizeof(*out));
    if (synack_sim_new(seed, &sim) < 0)
        die("synack_sim_new", ENOMEM);
    for (int i = 0; i < 2; i++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == 0 ? CADDR : SADDR;
        cfg.seed = 0;
        node[i] = synack_sim_add_stack(sim, &cfg, &st[i]);
        if (node[i] < 0)
            die("synack_sim_add_stack", -node[i]);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = DELAY;
    lp.rate_bps = RATE_BPS;
    lp.loss = loss;
    if (synack_sim_link(sim, node[0], node[1], &lp, &lp) < 0)
        die("synack_sim_link", EINVAL);

    int lfd = synack_socket(st[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int cfd = synack_socket(st[0], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (lfd < 0 || cfd < 0)
        die("socket", errno);
    set_int(st[1], lfd, SOL_SOCKET, SO_RCVBUF, BUF);
    set_int(st[1], lfd, SOL_SOCKET, SO_SNDBUF, BUF);
    set_int(st[0], cfd, SOL_SOCKET, SO_RCVBUF, BUF);
    set_int(st[0], cfd, SOL_SOCKET, SO_SNDBUF, BUF);
    if (synack_setsockopt(st[0], cfd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0)
        out->cc_err = errno;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(PORT);
    if (synack_bind(st[1], lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        synack_listen(st[1], lfd, 4) < 0)
        die("listen", errno);
    a.sin_addr.s_addr = htonl(SADDR);
    if (synack_connect(st[0], cfd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
        die("connect", errno);

    synack_time_t t0 = synack_sim_now(sim), limit = t0 + SYNACK_SEC(3600);
    uint64_t sent = 0, rcvd = 0;
    int sfd = -1;
    bool done = false;
    while (!done) {
        synack_time_t now = synack_sim_now(sim);
        synack_stack_advance(st[0], now);
        synack_stack_advance(st[1], now);
        while (sent < bytes) {
            size_t n = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
            ssize_t w = synack_send(st[0], cfd, buf, n, 0);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
        }
        if (sfd < 0)
            sfd = synack_accept(st[1], lfd, NULL, NULL);
        for (ssize_t r = 1; sfd >= 0 && r > 0;) {
            r = synack_recv(st[1], sfd, buf, sizeof(buf), 0);
            if (r > 0)
                rcvd += (uint64_t)r;
        }
        if (rcvd == bytes) {
            done = true;
            break;
        }
        if (!synack_sim_step(sim) || synack_sim_now(sim) > limit)
            break;
    }
    if (done) {
        double secs = (double)(synack_sim_now(sim) - t0) / 1e6;
        out->goodput_bps = (double)bytes * 8 / secs;
        out->retrans = synack_stack_stats(st[0])->tcp_retrans;
    }
    synack_sim_free(sim);
    return done;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    unsigned seeds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10;
    unsigned mib = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 32;
    if (seeds == 0 || seeds > 1000 || mib == 0 || mib > 4096) {
        fprintf(stderr, "usage: bench_goodput [SEEDS (1..1000) [MIB (1..4096)]]\n");
        return 2;
    }
    static const char *const ccs[] = {"reno", "cubic"};
    static const double losses[] = {0.0, 0.01};
    uint64_t bytes = (uint64_t)mib << 20;
    double rtt = 2.0 * (double)DELAY / 1e6;

    printf("Link %u Mbit/s, %.0f ms one way (RTT %.0f ms), random loss in both directions;\n"
           "%u MiB per transfer, %u seeds, socket buffers %u KiB; goodput in virtual time.\n\n",
           RATE_BPS / 1000000u, (double)DELAY / 1000.0, rtt * 1000, mib, seeds, BUF >> 10);
    printf("| congestion control | loss | goodput, mean (Mbit/s) | min | max | of link rate | "
           "retransmitted segments per MiB | Mathis estimate (Mbit/s) |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    double wall = now_s(), simulated = 0;
    for (size_t li = 0; li < sizeof(losses) / sizeof(losses[0]); li++) {
        for (size_t ci = 0; ci < sizeof(ccs) / sizeof(ccs[0]); ci++) {
            double sum = 0, lo = INFINITY, hi = 0, rtx = 0;
            int cc_err = 0;
            unsigned ok = 0;
            for (unsigned s = 1; s <= seeds; s++) {
                struct run r;
                if (transfer(ccs[ci], losses[li], s, bytes, &r)) {
                    ok++;
                    sum += r.goodput_bps;
                    lo = r.goodput_bps < lo ? r.goodput_bps : lo;
                    hi = r.goodput_bps > hi ? r.goodput_bps : hi;
                    rtx += (double)r.retrans;
                    simulated += (double)bytes;
                }
                cc_err = r.cc_err;
            }
            char name[64], mathis[32];
            if (cc_err)
                snprintf(name, sizeof(name), "%s (TCP_CONGESTION: %s)", ccs[ci], strerror(cc_err));
            else
                snprintf(name, sizeof(name), "%s", ccs[ci]);
            if (losses[li] > 0)
                snprintf(mathis, sizeof(mathis), "%.1f",
                         MSS * 8 / rtt * sqrt(1.5) / sqrt(losses[li]) / 1e6);
            else
                snprintf(mathis, sizeof(mathis), "-");
            if (ok == 0) {
                printf("| %s | %.0f%% | did not finish | | | | | %s |\n", name, losses[li] * 100,
                       mathis);
                continue;
            }
            double mean = sum / ok;
            printf("| %s | %.0f%% | %.1f | %.1f | %.1f | %.1f%% | %.2f | %s |\n", name,
                   losses[li] * 100, mean / 1e6, lo / 1e6, hi / 1e6, 100 * mean / RATE_BPS,
                   rtx / ok / mib, mathis);
            if (ok < seeds)
                printf("| (%u of %u seeds did not finish within an hour of virtual time) |||||||\n",
                       seeds - ok, seeds);
        }
    }
    wall = now_s() - wall;
    printf("\nSimulated %.0f MiB in %.1f s of real time (%.0f MiB/s).\n", simulated / 1048576, wall,
           simulated / 1048576 / wall);
    return 0;
}
