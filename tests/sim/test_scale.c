/* Scale (issue 11), at a size CI runs in seconds (the full million is in
 * `make bench` and the time-wait-storm demo):
 *  - 100,000 idle established connections between two stacks cost their
 *    TCBs and nothing else: no buffer, no out-of-line block;
 *  - a connection holding 10 unread bytes holds one buffer chunk, not its
 *    256 KiB buffer, and gives it back once they are read;
 *  - closing a listener with a few children among them touches only its
 *    children: every other connection still carries data;
 *  - TIME-WAIT memory stays bounded by the table however many connections
 *    close, and the server keeps accepting (max_timewait small here).
 * Byte-for-byte checks on every exchange. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "storm.h"
#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"

#if defined(__SANITIZE_ADDRESS__)
#define NIDLE 20000u
#else
#define NIDLE 100000u
#endif
#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT0 5000
#define CPORT0 1024
#define CPORTS 31000u
#define NPORTS 4

struct net {
    struct synack_sim *sim;
    struct synack_stack *st[2];
    int lfd[NPORTS];
    int *cfd, *sfd;
    uint32_t n;
};

static void settle(struct net *n) { synack_sim_run_until(n->sim, synack_sim_now(n->sim) + SYNACK_MSEC(20)); }

static void net_up(struct net *n, uint32_t count)
{
    memset(n, 0, sizeof(*n));
    assert_int_equal(synack_sim_new(7, &n->sim), 0);
    for (int i = 0; i < 2; i++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == 0 ? CADDR : SADDR;
        cfg.seed = 0;
        cfg.max_conns = count + 1024;
        cfg.max_sockets = count + 1024;
        assert_true(synack_sim_add_stack(n->sim, &cfg, &n->st[i]) >= 0);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = 100;
    lp.queue_limit = 1u << 20;
    assert_true(synack_sim_link(n->sim, 0, 1, &lp, &lp) >= 0);
    for (int p = 0; p < NPORTS; p++) {
        struct sockaddr_in a = storm_sin(0, (uint16_t)(PORT0 + p));
        n->lfd[p] = synack_socket(n->st[1], AF_INET, SOCK_STREAM, 0);
        assert_true(n->lfd[p] >= 0);
        assert_int_equal(synack_bind(n->st[1], n->lfd[p], (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(synack_listen(n->st[1], n->lfd[p], 4096), 0);
    }
    n->cfd = calloc(count, sizeof(int));
    n->sfd = calloc(count, sizeof(int));
    assert_non_null(n->cfd);
    assert_non_null(n->sfd);
    assert_int_equal(storm_open_idle(n->sim, n->st[0], n->st[1], SADDR, n->lfd, NPORTS, PORT0,
                                     CPORT0, CPORTS, 0, count, n->cfd, n->sfd), 0);
    n->n = count;
    settle(n);
}

static void net_down(struct net *n)
{
    synack_sim_free(n->sim);
    free(n->cfd);
    free(n->sfd);
}

static uint64_t mem_used(struct net *n, int side)
{
    struct synack_stack_memory m;
    synack_stack_memory(n->st[side], &m);
    return m.used;
}

/* Idle connections cost their TCB (256 bytes + the 24-byte table entry) and
 * nothing else. */
static void test_idle_connections_cost_their_tcb(void **state)
{
    (void)state;
    struct net n;
    net_up(&n, NIDLE);
    for (int side = 0; side < 2; side++) {
        struct synack_stack_memory m;
        synack_stack_memory(n.st[side], &m);
        assert_true(m.conns >= NIDLE);
        assert_true(m.tcb_bytes <= 256 + 24);
        /* Listeners' blocks aside (a few KiB), the account is the TCBs. */
        assert_true(m.used <= m.conns * m.tcb_bytes + 16384);
        assert_true(m.used >= (uint64_t)NIDLE * m.tcb_bytes);
    }
    /* 10 bytes on 1000 connections: one chunk (and its table) each at most. */
    uint64_t before = mem_used(&n, 1), before_c = mem_used(&n, 0);
    char msg[10], got[16];
    for (uint32_t i = 0; i < 1000; i++) {
        memcpy(msg, "0123456789", 10);
        msg[0] = (char)('a' + i % 26);
        assert_int_equal(synack_send(n.st[0], n.cfd[i * (NIDLE / 1000)], msg, 10, 0), 10);
    }
    settle(&n);
    uint64_t held = mem_used(&n, 1) - before;
    assert_true(held >= 1000u * 4096u);
    assert_true(held <= 1000u * (4096u + 1024u)); /* not 1000 x 256 KiB */
    /* Read them all (every server descriptor: which one got data is the
     * accept order's business); memory goes back to where it was. */
    uint32_t read = 0;
    for (uint32_t i = 0; i < NIDLE; i++) {
        ssize_t r = synack_recv(n.st[1], n.sfd[i], got, sizeof(got), 0);
        if (r < 0) {
            assert_int_equal(errno, EAGAIN);
            continue;
        }
        assert_int_equal(r, 10);
        assert_memory_equal(got + 1, "123456789", 9);
        read++;
    }
    assert_int_equal(read, 1000);
    /* Past the delayed ACK (40 ms): the client's data is acknowledged. */
    synack_sim_run_until(n.sim, synack_sim_now(n.sim) + SYNACK_MSEC(200));
    assert_int_equal(mem_used(&n, 1), before);
    assert_int_equal(mem_used(&n, 0), before_c); /* the client's send buffers too */
    net_down(&n);
}

/* Closing a listener resets only its own unaccepted children; the idle
 * connections of the other listeners all still carry data. */
static void test_listener_close_touches_its_children_only(void **state)
{
    (void)state;
    struct net n;
    net_up(&n, NIDLE / 10);
    int lfd = synack_socket(n.st[1], AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = storm_sin(0, 4000);
    assert_int_equal(synack_bind(n.st[1], lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(n.st[1], lfd, 16), 0);
    int child[10];
    a.sin_addr.s_addr = htonl(SADDR);
    for (int i = 0; i < 10; i++) {
        child[i] = synack_socket(n.st[0], AF_INET, SOCK_STREAM, 0);
        assert_int_equal(synack_connect(n.st[0], child[i], (struct sockaddr *)&a, sizeof(a)), -1);
    }
    settle(&n);
    uint64_t rst_before = synack_stack_stats(n.st[1])->tcp_rst_out;
    assert_int_equal(synack_close(n.st[1], lfd), 0);
    settle(&n);
    assert_int_equal(synack_stack_stats(n.st[1])->tcp_rst_out - rst_before, 10);
    for (int i = 0; i < 10; i++) {
        char c;
        assert_int_equal(synack_recv(n.st[0], child[i], &c, 1, 0), -1);
        assert_int_equal(errno, ECONNRESET);
    }
    /* Every other connection still works, both ways. */
    for (uint32_t i = 0; i < n.n; i += 97)
        assert_int_equal(synack_send(n.st[0], n.cfd[i], "x", 1, 0), 1);
    settle(&n);
    uint32_t got = 0;
    for (uint32_t i = 0; i < n.n; i++) {
        char c;
        if (synack_recv(n.st[1], n.sfd[i], &c, 1, 0) == 1) {
            assert_int_equal(c, 'x');
            got++;
        }
    }
    assert_int_equal(got, (n.n + 96) / 97);
    net_down(&n);
}

/* Far more connections close (server first) than the TIME-WAIT table holds:
 * the table stays at its bound, the oldest records go, nobody is refused. */
static void test_timewait_bounded_still_accepting(void **state)
{
    (void)state;
    struct storm_params p = {.connections = NIDLE / 2, .concurrency = 500, .delay = 1000,
                             .msl = SYNACK_SEC(300), .seed = 3, .request = 64, .reply = 256,
                             .max_timewait = 5000};
    struct storm_result r;
    assert_int_equal(storm_run(&p, &r), 0);
    assert_int_equal(r.completed, p.connections);
    assert_int_equal(r.refused, 0);
    assert_true(r.still_accepts);
    assert_int_equal(r.peak_timewait, 5000);
    assert_true(r.tw_evicted > 0);
    /* 5000 records of 64 bytes and their table, and what 500 live
     * connections hold: far from a TCB and buffers per closed connection. */
    assert_true(r.peak_mem < 16u << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_connections_cost_their_tcb),
        cmocka_unit_test(test_listener_close_touches_its_children_only),
        cmocka_unit_test(test_timewait_bounded_still_accepting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
