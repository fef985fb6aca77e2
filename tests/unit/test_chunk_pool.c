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

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "synack/dev.h"
#include "synack/sim.h"
#include "synack/socket.h"

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

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 5001
#define BUF (4u << 20)
#define TOTAL (12u << 20)

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 13 + (i >> 11)); }

static void set_buf(struct synack_stack *st, int fd)
{
    int v = (int)BUF;
    assert_int_equal(synack_setsockopt(st, fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), 0);
    assert_int_equal(synack_setsockopt(st, fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
}

/* Two stacks, each on its own pool, 12 MiB one way with 4 MiB buffers over
 * a 1 Gbit/s link (a queue forms, the send ring fills): the sender's ring
 * held about a buffer's worth of pool blocks at its peak, every byte
 * arrived intact, and once the stacks are freed every block is back. */
static void test_stack_on_pool(void **state)
{
    (void)state;
    struct synack_sim *sim;
    struct synack_stack *st[2];
    struct synack_chunk_pool *pool[2];
    assert_int_equal(synack_sim_new(5, &sim), 0);
    int node[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(synack_chunk_pool_new(&pool[i]), 0);
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == 0 ? CADDR : SADDR;
        cfg.seed = 0;
        cfg.msl = SYNACK_SEC(1);
        cfg.alloc = synack_chunk_pool_alloc;
        cfg.alloc_user = pool[i];
        node[i] = synack_sim_add_stack(sim, &cfg, &st[i]);
        assert_true(node[i] >= 0);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(1);
    lp.rate_bps = 1000000000u;
    assert_true(synack_sim_link(sim, node[0], node[1], &lp, &lp) >= 0);

    int lfd = synack_socket(st[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(lfd >= 0);
    set_buf(st[1], lfd);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT),
                            .sin_addr.s_addr = htonl(SADDR)};
    assert_int_equal(synack_bind(st[1], lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(st[1], lfd, 4), 0);
    int cfd = synack_socket(st[0], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(cfd >= 0);
    set_buf(st[0], cfd);
    assert_int_equal(synack_connect(st[0], cfd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);

    static uint8_t wbuf[65536], rbuf[65536];
    uint64_t sent = 0, rcvd = 0;
    int sfd = -1;
    for (uint64_t steps = 0; rcvd < TOTAL; steps++) {
        assert_true(steps < 20000000u);
        if (sfd < 0)
            sfd = synack_accept(st[1], lfd, NULL, NULL);
        while (sent < TOTAL) {
            size_t n = TOTAL - sent < sizeof(wbuf) ? (size_t)(TOTAL - sent) : sizeof(wbuf);
            for (size_t i = 0; i < n; i++)
                wbuf[i] = pattern(sent + i);
            ssize_t w = synack_send(st[0], cfd, wbuf, n, 0);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
        }
        if (sfd >= 0 && steps % 4 == 0) {
            ssize_t r = synack_recv(st[1], sfd, rbuf, sizeof(rbuf), 0);
            for (ssize_t i = 0; i < r; i++)
                if (rbuf[i] != pattern(rcvd + (uint64_t)i))
                    fail_msg("byte %llu differs", (unsigned long long)(rcvd + (uint64_t)i));
            if (r > 0)
                rcvd += (uint64_t)r;
        }
        if (!synack_sim_step(sim))
            fail_msg("stalled at %llu bytes", (unsigned long long)rcvd);
    }
    struct synack_chunk_pool_stats ps;
    synack_chunk_pool_stats(pool[0], &ps);
    /* The send ring's chunks came from the pool: nearly a whole 4 MiB
     * buffer (1,024 chunks) at once. */
    assert_true(ps.peak > 900);
    assert_true(ps.segments >= 2);
    assert_int_equal(synack_close(st[0], cfd), 0);
    assert_int_equal(synack_close(st[1], sfd), 0);
    assert_int_equal(synack_close(st[1], lfd), 0);
    synack_sim_run_until(sim, synack_sim_now(sim) + SYNACK_SEC(5));
    synack_sim_free(sim);
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
