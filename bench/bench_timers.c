/* Cost per operation of the timer wheel and the tuple table as the number of
 * live objects grows: the table it prints should be flat (apart from cache
 * misses once the working set leaves the caches).
 *
 *   add+del : N timers preloaded at random expiries within an hour; a pool of
 *             1024 more is armed at random times and disarmed 512 arms later.
 *             Cost of one add plus one del.
 *   add+fire: the N timers re-arm themselves from their callback at a random
 *             time within the next hour; the wheel is driven by
 *             t = sn_wheel_next(); sn_wheel_advance(t).  Cost per firing,
 *             including its re-add and every cascade; advances/fire counts
 *             the next/advance rounds (each fires a slot or cascades one).
 *   lookup  : M random connections in the table; sn_tuple_lookup of present
 *             tuples (hit) and of absent ones, which also probes both
 *             listener keys (miss, 3 hashes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/rng.h"
#include "core/timer_wheel.h"
#include "core/tuple_table.h"

#define HOUR_US UINT64_C(3600000000)
#define POOL 1024
#define NDELTA 65536

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct fire_ctx {
    struct sn_wheel *w;
    const uint64_t *delta;
    uint64_t fired;
};

static void rearm(struct sn_timer *t, void *arg)
{
    struct fire_ctx *c = arg;
    c->fired++;
    sn_wheel_add(c->w, t, c->w->now + c->delta[c->fired & (NDELTA - 1)]);
}

static void bench_wheel(uint32_t n, const uint64_t *delta, double *add_del, double *add_fire,
                        double *steps_per_fire)
{
    struct sn_wheel *w = malloc(sizeof *w);
    struct sn_timer *live = calloc(n, sizeof *live);
    struct sn_timer *pool = calloc(POOL, sizeof *pool);
    if (!w || !live || !pool) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    sn_wheel_init(w, 1000000);
    for (uint32_t i = 0; i < n; i++) {
        sn_timer_init(&live[i]);
        sn_wheel_add(w, &live[i], w->now + delta[(i * 7919u) & (NDELTA - 1)]);
    }
    for (uint32_t i = 0; i < POOL; i++)
        sn_timer_init(&pool[i]);

    const uint32_t ops = 4000000;
    double t0 = now_ns();
    for (uint32_t i = 0; i < ops; i++) {
        sn_wheel_add(w, &pool[i & (POOL - 1)], w->now + delta[i & (NDELTA - 1)]);
        sn_wheel_del(w, &pool[(i + POOL / 2) & (POOL - 1)]);
    }
    *add_del = (now_ns() - t0) / ops;
    for (uint32_t i = 0; i < POOL; i++)
        sn_wheel_del(w, &pool[i]);

    struct fire_ctx c = {.w = w, .delta = delta};
    const uint64_t fires = 2000000;
    uint64_t steps = 0;
    t0 = now_ns();
    for (; c.fired < fires; steps++)
        sn_wheel_advance(w, sn_wheel_next(w), rearm, &c);
    *add_fire = (now_ns() - t0) / (double)c.fired;
    *steps_per_fire = (double)steps / (double)c.fired;
    if (w->count != n) {
        fprintf(stderr, "wheel lost timers: %llu != %u\n", (unsigned long long)w->count, n);
        exit(1);
    }
    free(pool);
    free(live);
    free(w);
}

static struct synack_tuple random_tuple(struct sn_rng *rng)
{
    uint64_t x = sn_rng_next(rng), y = sn_rng_next(rng);
    return (struct synack_tuple){.laddr = (uint32_t)x, .raddr = (uint32_t)(x >> 32),
                                 .lport = (uint16_t)(y >> 16), .rport = (uint16_t)(y | 1)};
}

static void bench_lookup(uint32_t m, struct sn_rng *rng, double *hit, double *miss)
{
    struct sn_tuple_table t;
    struct sn_tuple_entry *e = calloc(m, sizeof *e);
    struct synack_tuple *keys = calloc(NDELTA, sizeof *keys);
    if (!e || !keys || sn_tuple_init(&t, NULL, 16, UINT32_C(1) << 21, sn_rng_next(rng), sn_rng_next(rng))) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (uint32_t i = 0; i < m; i++)
        do
            e[i].tuple = random_tuple(rng);
        while (sn_tuple_insert(&t, &e[i]) != 0);
    for (uint32_t i = 0; i < NDELTA; i++)
        keys[i] = e[sn_rng_below(rng, m)].tuple;

    const uint32_t ops = 4000000;
    uintptr_t sink = 0;
    double t0 = now_ns();
    for (uint32_t i = 0; i < ops; i++)
        sink += (uintptr_t)sn_tuple_lookup(&t, &keys[i & (NDELTA - 1)]);
    *hit = (now_ns() - t0) / ops;
    for (uint32_t i = 0; i < NDELTA; i++)
        keys[i].rport = 0; /* rport is odd in the table: never present */
    t0 = now_ns();
    for (uint32_t i = 0; i < ops; i++)
        sink += (uintptr_t)sn_tuple_lookup(&t, &keys[i & (NDELTA - 1)]);
    *miss = (now_ns() - t0) / ops;
    if (sink == 1)
        printf("?\n"); /* keeps the lookups alive */
    sn_tuple_free(&t);
    free(keys);
    free(e);
}

int main(void)
{
    struct sn_rng rng;
    sn_rng_seed(&rng, 1);
    uint64_t *delta = malloc(NDELTA * sizeof *delta);
    if (!delta)
        return 1;
    for (uint32_t i = 0; i < NDELTA; i++)
        delta[i] = 1 + sn_rng_next(&rng) % HOUR_US;

    static const uint32_t timer_n[] = {10, 1000, 100000, 1000000};
    printf("timer wheel, expiries uniform in (now, now + 1 h], 1 us resolution\n");
    printf("%12s %14s %14s %16s\n", "live timers", "add+del ns", "add+fire ns", "advances/fire");
    for (size_t i = 0; i < sizeof timer_n / sizeof *timer_n; i++) {
        double ad, af, spf;
        bench_wheel(timer_n[i], delta, &ad, &af, &spf);
        printf("%12u %14.1f %14.1f %16.2f\n", timer_n[i], ad, af, spf);
    }

    static const uint32_t table_n[] = {10, 100, 1000, 10000, 100000, 1000000};
    printf("\ntuple table (SipHash-2-4), load <= 1\n");
    printf("%12s %14s %14s\n", "entries", "hit ns", "miss ns");
    for (size_t i = 0; i < sizeof table_n / sizeof *table_n; i++) {
        double hit, miss;
        bench_lookup(table_n[i], &rng, &hit, &miss);
        printf("%12u %14.1f %14.1f\n", table_n[i], hit, miss);
    }
    free(delta);
    return 0;
}
