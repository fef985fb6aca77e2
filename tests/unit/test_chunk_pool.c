/* synack_chunk_pool (dev.h, src/dev/chunk_pool.c): the allocator that gives
 * the rings' chunks memory from 2 MiB segments advised as huge pages.
 * Its contract as a synack_alloc_fn (allocate, resize, free; every block of
 * SYNACK_RING_CHUNK bytes from the pool, the rest from malloc), and a bulk
 * transfer between two stacks in the simulator whose buffers' chunks all
 * come from their pools and all go back, the bytes checked as they arrive. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sim/bulk_pair.h"
#include "synack/dev.h"

#define N 1100 /* blocks: more than one 2 MiB segment holds (512) */

static void test_blocks(void **state)
{
    (void)state;
    struct synack_chunk_pool *p;
    assert_int_equal(synack_chunk_pool_new(&p), 0);
    static uint8_t *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = synack_chunk_pool_alloc(p, NULL, SYNACK_RING_CHUNK);
        assert_non_null(b[i]);
        assert_int_equal((uintptr_t)b[i] % SYNACK_RING_CHUNK, 0); /* one page each, not two */
        memset(b[i], (int)(i & 0xff), SYNACK_RING_CHUNK);
    }
    struct synack_chunk_pool_stats st;
    synack_chunk_pool_stats(p, &st);
    assert_int_equal(st.segments, 3); /* 1,100 blocks of 512 a segment */
    assert_int_equal(st.in_use, N);
    assert_int_equal(st.peak, N);
    for (int i = 0; i < N; i++) /* no block overlaps another */
        for (size_t k = 0; k < SYNACK_RING_CHUNK; k += 1024)
            assert_int_equal(b[i][k], i & 0xff);

    /* Other sizes are malloc's: not counted, freed by the same function. */
    void *small = synack_chunk_pool_alloc(p, NULL, 100);
    void *big = synack_chunk_pool_alloc(p, NULL, 3 * SYNACK_RING_CHUNK);
    assert_non_null(small);
    assert_non_null(big);
    synack_chunk_pool_stats(p, &st);
    assert_int_equal(st.in_use, N);
    small = synack_chunk_pool_alloc(p, small, 200); /* realloc of a malloc block */
    assert_non_null(small);
    assert_null(synack_chunk_pool_alloc(p, small, 0));
    assert_null(synack_chunk_pool_alloc(p, big, 0));
    assert_null(synack_chunk_pool_alloc(p, NULL, 0)); /* free(NULL) */

    /* Freed blocks come back last-freed first (the warmest memory). */
    assert_null(synack_chunk_pool_alloc(p, b[7], 0));
    assert_null(synack_chunk_pool_alloc(p, b[9], 0));
    assert_ptr_equal(synack_chunk_pool_alloc(p, NULL, SYNACK_RING_CHUNK), b[9]);
    assert_ptr_equal(synack_chunk_pool_alloc(p, NULL, SYNACK_RING_CHUNK), b[7]);

    /* A pooled block resized: the same block at the same size; else moved
     * to malloc's memory with its bytes, and the block goes back. */
    assert_ptr_equal(synack_chunk_pool_alloc(p, b[3], SYNACK_RING_CHUNK), b[3]);
    uint8_t *m = synack_chunk_pool_alloc(p, b[3], 2 * SYNACK_RING_CHUNK);
    assert_non_null(m);
    assert_int_equal(m[0], 3);
    assert_int_equal(m[SYNACK_RING_CHUNK - 1], 3);
    synack_chunk_pool_stats(p, &st);
    assert_int_equal(st.in_use, N - 1);
    assert_null(synack_chunk_pool_alloc(p, m, 0));
    for (int i = 0; i < N; i++)
        if (i != 3)
            assert_null(synack_chunk_pool_alloc(p, b[i], 0));
    synack_chunk_pool_stats(p, &st);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.segments, 3); /* kept for reuse until the pool goes */
    synack_chunk_pool_free(p);
    synack_chunk_pool_free(NULL);
}

#define BUF (4 << 20)
#define TOTAL (12u << 20)

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 13 + (i >> 11)); }

/* Two stacks, each on its own pool, 12 MiB one way with 4 MiB buffers over
 * a 1 Gbit/s link (a queue forms, the send ring fills): the sender's ring
 * held about a buffer's worth of pool blocks at its peak, every byte
 * arrived intact, and once the stacks are freed every block is back. */
static void test_stack_on_pool(void **state)
{
    (void)state;
    struct synack_chunk_pool *pool[2];
    struct synack_config cfg[2];
    bulk_pair_config(cfg);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(synack_chunk_pool_new(&pool[i]), 0);
        cfg[i].alloc = synack_chunk_pool_alloc;
        cfg[i].alloc_user = pool[i];
    }
    struct bulk_pair p;
    bulk_pair_open(&p, 5, cfg, 1000000000u, BUF);
    static uint8_t wbuf[65536], rbuf[65536];
    uint64_t sent = 0;
    for (uint64_t steps = 0; p.rcvd < TOTAL; steps++) {
        assert_true(steps < 20000000u);
        while (sent < TOTAL) {
            size_t n = TOTAL - sent < sizeof(wbuf) ? (size_t)(TOTAL - sent) : sizeof(wbuf);
            for (size_t i = 0; i < n; i++)
                wbuf[i] = pattern(sent + i);
            ssize_t w = synack_send(p.st[0], p.cfd, wbuf, n, 0);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
        }
        if (steps % 4 == 0) /* read in turns, so that the receive ring fills too */
            bulk_pair_recv(&p, rbuf, sizeof(rbuf), pattern);
        if (!synack_sim_step(p.sim))
            fail_msg("stalled at %llu bytes", (unsigned long long)p.rcvd);
    }
    struct synack_chunk_pool_stats ps;
    synack_chunk_pool_stats(pool[0], &ps);
    /* The send ring's chunks came from the pool: nearly a whole 4 MiB
     * buffer (1,024 chunks) at once. */
    assert_true(ps.peak > 900);
    assert_true(ps.segments >= 2);
    assert_int_equal(synack_close(p.st[0], p.cfd), 0);
    assert_int_equal(synack_close(p.st[1], p.sfd), 0);
    assert_int_equal(synack_close(p.st[1], p.lfd), 0);
    synack_sim_run_until(p.sim, synack_sim_now(p.sim) + SYNACK_SEC(5));
    synack_sim_free(p.sim);
    for (int i = 0; i < 2; i++) {
        synack_chunk_pool_stats(pool[i], &ps);
        assert_int_equal(ps.in_use, 0); /* every block back */
        synack_chunk_pool_free(pool[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_stack_on_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
