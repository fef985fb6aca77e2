/* The blocking layer's cost (include/synack/blocking.h), on the simulator
 * run in real time by the layer's stack thread:
 *   1. the hand-over: synack_blk_call() of an empty function, from 1 and
 *      from 4 application threads at once (each call: queue, eventfd wake-up,
 *      the stack thread runs it, condition variable back);
 *   2. a bulk transfer through blocking write/read, one thread each side,
 *      over a 1 ms link of infinite rate: what the layer and the stacks
 *      move per second of wall clock.
 * Usage: bench_blocking [MiB]   (default 64) */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synack/blocking.h"
#include "synack/dev.h"
#include "synack/sim.h"

#define CALLS 20000

static int nothing(struct synack_stack *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;
}

struct caller {
    struct synack_blk *b;
    int n;
};

static void *call_many(void *arg)
{
    struct caller *c = arg;
    for (int i = 0; i < c->n; i++)
        synack_blk_call(c->b, nothing, NULL);
    return NULL;
}

static double calls_per_sec(struct synack_blk *b, int threads)
{
    pthread_t t[8];
    struct caller c = {b, CALLS / threads};
    synack_time_t t0 = synack_clock_now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, call_many, &c);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    synack_time_t dt = synack_clock_now() - t0;
    return (double)(c.n * threads) * 1e6 / (double)dt;
}

struct side {
    struct synack_blk *b;
    int fd;
    uint64_t bytes;
};

static void *writer(void *arg)
{
    struct side *w = arg;
    static char buf[65536];
    for (uint64_t done = 0; done < w->bytes; done += sizeof(buf))
        if (synack_blk_write(w->b, w->fd, buf, sizeof(buf), 30000) != (ssize_t)sizeof(buf))
            break;
    synack_blk_shutdown(w->b, w->fd, SHUT_WR);
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 64;
    struct synack_sim *sim;
    struct synack_stack *cs, *ss;
    synack_sim_new(1, &sim);
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = 0x0a000001;
    int cn = synack_sim_add_stack(sim, &cfg, &cs);
    cfg.addr = 0x0a000002;
    int sn = synack_sim_add_stack(sim, &cfg, &ss);
    struct synack_link_params p;
    synack_link_params_default(&p);
    synack_sim_link(sim, cn, sn, &p, NULL);
    struct synack_blk_loop *loop;
    struct synack_blk *cb, *sb;
    if (synack_blk_loop_sim(sim, &loop) < 0 || synack_blk_open(loop, cs, &cb) < 0 ||
        synack_blk_open(loop, ss, &sb) < 0)
        return 1;

    printf("hand-over (synack_blk_call of an empty function):\n");
    for (int threads = 1; threads <= 4; threads *= 4) {
        double r = calls_per_sec(cb, threads);
        printf("  %d thread(s): %.0f calls/s, %.1f us per call\n", threads, r, 1e6 / r);
    }

    int lfd = synack_blk_socket(sb);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5001)};
    synack_blk_bind(sb, lfd, (struct sockaddr *)&a, sizeof(a));
    synack_blk_listen(sb, lfd, 4);
    a.sin_addr.s_addr = htonl(0x0a000002);
    struct side w = {cb, synack_blk_socket(cb), mib << 20};
    if (synack_blk_connect(cb, w.fd, (struct sockaddr *)&a, sizeof(a), 5000) != 0)
        return 1;
    int fd = synack_blk_accept(sb, lfd, NULL, NULL, 5000);
    pthread_t t;
    synack_time_t t0 = synack_clock_now();
    pthread_create(&t, NULL, writer, &w);
    static char buf[65536];
    uint64_t got = 0;
    ssize_t n;
    while ((n = synack_blk_read(sb, fd, buf, sizeof(buf), 30000)) > 0)
        got += (uint64_t)n;
    pthread_join(t, NULL);
    synack_time_t dt = synack_clock_now() - t0;
    struct synack_blk_loop_stats st;
    synack_blk_loop_stats(loop, &st);
    printf("transfer: %llu MiB in %.2f s wall: %.0f MB/s (1 ms link, 256 KiB buffers)\n",
           (unsigned long long)(got >> 20), (double)dt / 1e6, (double)got / (double)dt);
    printf("  stack thread: %llu calls, %llu waited, %llu retries, %llu wake-ups, %llu rounds\n",
           (unsigned long long)st.calls, (unsigned long long)st.waits,
           (unsigned long long)st.retries, (unsigned long long)st.wakeups,
           (unsigned long long)st.rounds);
    synack_blk_loop_free(loop);
    synack_sim_free(sim);
    return got == mib << 20 ? 0 : 1;
}
