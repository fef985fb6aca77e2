/* No allocation on the data path (issue 14 item 1): a bulk transfer between
 * two stacks with 4 MiB buffers, counted by each stack's allocator
 * (cfg.alloc): once the connection runs, the send and receive rings cycle
 * through chunks the stack keeps for them (tcp_buf.c: the reserve), so the
 * rest of the transfer calls the allocator not once, while the chunks the
 * rings hold far exceed the old cache of 64.  When the connection closes,
 * the kept chunks fall back to at most the cache plus one ring's worth.
 * The bytes are checked as they arrive. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sim/bulk_pair.h"
#include "synack/stack.h"

#define BUF (4 << 20)
#define CHUNK (64u << 10)
#define WARM (16ull << 20)  /* bytes before counting starts */
#define TOTAL (48ull << 20)

struct counter {
    uint64_t allocs, frees;
    int64_t live;
};

static void *count_alloc(void *user, void *ptr, size_t size)
{
    struct counter *c = user;
    if (size == 0) {
        if (ptr) {
            c->frees++;
            c->live--;
        }
        free(ptr);
        return NULL;
    }
    if (!ptr) {
        c->allocs++;
        c->live++;
    }
    return realloc(ptr, size);
}

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 7 + (i >> 13)); }

static void test_bulk_transfer_allocates_nothing(void **state)
{
    (void)state;
    struct counter cnt[2] = {{0}};
    struct synack_config cfg[2];
    bulk_pair_config(cfg);
    for (int i = 0; i < 2; i++) {
        cfg[i].alloc = count_alloc;
        cfg[i].alloc_user = &cnt[i];
    }
    /* 1 Gbit/s: a queue forms, the rings fill. */
    struct bulk_pair p;
    bulk_pair_open(&p, 3, cfg, 1000000000u, BUF);
    struct synack_stack **st = p.st;
    int cfd = p.cfd;

    static uint8_t wbuf[CHUNK], rbuf[CHUNK];
    uint64_t sent = 0;
    struct counter at_warm[2] = {{0}};
    bool counting = false;
    uint32_t peak_chunks = 0;
    for (uint64_t steps = 0; p.rcvd < TOTAL; steps++) {
        assert_true(steps < 50000000u);
        while (sent < TOTAL) {
            size_t n = TOTAL - sent < CHUNK ? (size_t)(TOTAL - sent) : CHUNK;
            for (size_t i = 0; i < n; i++)
                wbuf[i] = pattern(sent + i);
            ssize_t w = synack_send(st[0], cfd, wbuf, n, 0);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
        }
        /* Read in turns, so that the receive ring fills too. */
        if (steps % 4 == 0)
            bulk_pair_recv(&p, rbuf, sizeof(rbuf), pattern);
        if (!counting && p.rcvd >= WARM) {
            counting = true;
            at_warm[0] = cnt[0];
            at_warm[1] = cnt[1];
        }
        if (counting) {
            struct synack_stack_memory m;
            synack_stack_memory(st[0], &m);
            uint32_t chunks = (uint32_t)(m.used / 4096u);
            if (chunks > peak_chunks)
                peak_chunks = chunks;
        }
        if (!synack_sim_step(p.sim))
            fail_msg("stalled at %llu bytes", (unsigned long long)p.rcvd);
    }
    /* The sender's rings held far more than the old cache's 64 chunks ... */
    assert_true(peak_chunks > 4 * 64);
    /* ... and from the warm-up on, neither stack called its allocator. */
    assert_int_equal(cnt[0].allocs - at_warm[0].allocs, 0);
    assert_int_equal(cnt[1].allocs - at_warm[1].allocs, 0);
    assert_int_equal(cnt[0].frees - at_warm[0].frees, 0);
    assert_int_equal(cnt[1].frees - at_warm[1].frees, 0);

    /* Closed: the kept chunks fall back to the cache plus one ring's worth
     * (a 4 MiB ring: 1,025 chunks), not everything the transfer used. */
    assert_int_equal(synack_close(st[0], cfd), 0);
    assert_int_equal(synack_close(st[1], p.sfd), 0);
    assert_int_equal(synack_close(st[1], p.lfd), 0);
    synack_sim_run_until(p.sim, synack_sim_now(p.sim) + SYNACK_SEC(5));
    for (int i = 0; i < 2; i++) {
        struct synack_stack_memory m;
        synack_stack_memory(st[i], &m);
        assert_int_equal(m.conns, 0);
        assert_true(m.used < 4 * 4096); /* no ring holds a chunk (the TIME-WAIT table's block may stay) */
        assert_true(cnt[i].live < 64 + 1025 + 200); /* chunks kept, plus the stack's own blocks */
    }
    synack_sim_free(p.sim);
    for (int i = 0; i < 2; i++)
        assert_int_equal(cnt[i].live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_transfer_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
