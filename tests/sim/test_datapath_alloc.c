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

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 5001
#define BUF (4u << 20)
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

static void set_buf(struct synack_stack *st, int fd)
{
    int v = (int)BUF;
    assert_int_equal(synack_setsockopt(st, fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), 0);
    assert_int_equal(synack_setsockopt(st, fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
}

static void test_bulk_transfer_allocates_nothing(void **state)
{
    (void)state;
    struct synack_sim *sim;
    struct synack_stack *st[2];
    struct counter cnt[2] = {{0}};
    assert_int_equal(synack_sim_new(3, &sim), 0);
    int node[2];
    for (int i = 0; i < 2; i++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == 0 ? CADDR : SADDR;
        cfg.seed = 0;
        cfg.msl = SYNACK_SEC(1);
        cfg.alloc = count_alloc;
        cfg.alloc_user = &cnt[i];
        node[i] = synack_sim_add_stack(sim, &cfg, &st[i]);
        assert_true(node[i] >= 0);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(1);
    lp.rate_bps = 1000000000u; /* 1 Gbit/s: a queue forms, the rings fill */
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

    static uint8_t wbuf[CHUNK], rbuf[CHUNK];
    uint64_t sent = 0, rcvd = 0;
    int sfd = -1;
    struct counter at_warm[2] = {{0}};
    bool counting = false;
    uint32_t peak_chunks = 0;
    for (uint64_t steps = 0; rcvd < TOTAL; steps++) {
        assert_true(steps < 50000000u);
        if (sfd < 0)
            sfd = synack_accept(st[1], lfd, NULL, NULL);
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
        if (sfd >= 0 && steps % 4 == 0) {
            ssize_t r = synack_recv(st[1], sfd, rbuf, sizeof(rbuf), 0);
            if (r > 0) {
                for (ssize_t i = 0; i < r; i++)
                    if (rbuf[i] != pattern(rcvd + (uint64_t)i))
                        fail_msg("byte %llu differs", (unsigned long long)(rcvd + (uint64_t)i));
                rcvd += (uint64_t)r;
            }
        }
        if (!counting && rcvd >= WARM) {
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
        if (!synack_sim_step(sim))
            fail_msg("stalled at %llu bytes", (unsigned long long)rcvd);
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
    assert_int_equal(synack_close(st[1], sfd), 0);
    assert_int_equal(synack_close(st[1], lfd), 0);
    synack_sim_run_until(sim, synack_sim_now(sim) + SYNACK_SEC(5));
    for (int i = 0; i < 2; i++) {
        struct synack_stack_memory m;
        synack_stack_memory(st[i], &m);
        assert_int_equal(m.conns, 0);
        assert_true(m.used < 4 * 4096); /* no ring holds a chunk (the TIME-WAIT table's block may stay) */
        assert_true(cnt[i].live < 64 + 1025 + 200); /* chunks kept, plus the stack's own blocks */
    }
    synack_sim_free(sim);
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
