/* Orphans (issue 10 item 5; Linux's tcp_max_orphans and tcp_mem): an
 * application that opens connection after connection to a peer that never
 * reads (its window shut: it acknowledges nothing new), writes to each and
 * closes it, leaves each in FIN-WAIT-1 with its data unsent for minutes.
 * In the simulator, client A against server B whose application accepts
 * and never reads:
 *   - test_orphan_limit: A has max_orphans 16.  After 100 such closes A
 *     holds at most 16 orphans at any time (the 84 others were reset with a
 *     RST, counted in tcp_abort_on_memory, and B saw the resets), A's memory
 *     stays under the bound of 17 connections' data, the invariant checker
 *     (the orphan recount among its checks) passes after every step, a new
 *     connection is still served, and ten minutes later the orphans have
 *     given up (8 unanswered probes) and their memory is back.
 *   - test_orphan_budget: A has a memory budget (mem_max) and no orphan
 *     limit to speak of.  A send() the budget cannot hold fails with EAGAIN
 *     (as Linux's non-blocking send under tcp_mem pressure) and counts in
 *     mem_refused; closing a connection that holds queued data with the
 *     budget spent resets it (tcp_abort_on_memory), so the budget comes back
 *     and new connections are served; memory never passes the budget. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"
#include "tcp/tcp_check.h"

#define AADDR 0x0a000001u
#define BADDR 0x0a000002u
#define PORT 8080
#define WRITE (64 * 1024)

struct pair {
    struct synack_sim *sim;
    struct synack_stack *a, *b;
    int lfd;
    int last_bfd;    /* B's newest accepted descriptor */
    uint64_t budget; /* A's mem_max: checked after every event */
};

static void check(struct synack_stack *s)
{
    struct sn_check_report r;
    if (sn_check_stack(s, NULL, &r) < 0)
        fail_msg("invariant: %s (conn %u, values %llu, %llu)", r.what, r.conn_id,
                 (unsigned long long)r.a, (unsigned long long)r.b);
}

/* After every event: B accepts whatever is queued (and never reads); both
 * stacks are checked. */
static bool each_event(void *user)
{
    struct pair *p = user;
    int fd;
    while ((fd = synack_accept(p->b, p->lfd, NULL, NULL)) >= 0)
        p->last_bfd = fd;
    check(p->a);
    check(p->b);
    struct synack_stack_memory m;
    synack_stack_memory(p->a, &m);
    if (p->budget && m.used > p->budget)
        fail_msg("A holds %llu bytes, past its budget", (unsigned long long)m.used);
    return false;
}

/* Run the simulation for `us` of virtual time. */
static void run(struct pair *p, synack_time_t us)
{
    synack_time_t until = synack_sim_now(p->sim) + us;
    synack_sim_run_while(p->sim, each_event, p, until);
    synack_sim_run_until(p->sim, until);
}

static void pair_new(struct pair *p, uint32_t max_orphans, uint64_t mem_max)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(synack_sim_new(7, &p->sim), 0);
    struct synack_config c;
    synack_config_init(&c);
    c.seed = 11;
    c.addr = AADDR;
    c.max_orphans = max_orphans;
    c.mem_max = mem_max;
    int na = synack_sim_add_stack(p->sim, &c, &p->a);
    synack_config_init(&c);
    c.seed = 12;
    c.addr = BADDR;
    c.rcvbuf = 4096; /* a small window, soon shut: the application never reads */
    int nb = synack_sim_add_stack(p->sim, &c, &p->b);
    assert_true(na >= 0 && nb >= 0);
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(5);
    assert_true(synack_sim_link(p->sim, na, nb, &lp, &lp) >= 0);
    p->lfd = synack_socket(p->b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(synack_bind(p->b, p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(synack_listen(p->b, p->lfd, 1024), 0);
}

/* A connection from A to B, established. */
static int open_conn(struct pair *p)
{
    int fd = synack_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT),
                             .sin_addr.s_addr = htonl(BADDR)};
    assert_int_equal(synack_connect(p->a, fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
    assert_int_equal(errno, EINPROGRESS);
    run(p, SYNACK_MSEC(30));
    struct synack_tcp_info ti;
    socklen_t len = sizeof(ti);
    assert_int_equal(synack_getsockopt(p->a, fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    assert_int_equal(ti.state, SYNACK_ESTABLISHED);
    return fd;
}

/* Send up to n bytes; returns what was taken, errno of the refusal in *err. */
static size_t send_some(struct pair *p, int fd, size_t n, int *err)
{
    static uint8_t buf[WRITE];
    size_t done = 0;
    *err = 0;
    while (done < n) {
        size_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);
        ssize_t w = synack_send(p->a, fd, buf, k, 0);
        if (w < 0) {
            *err = errno;
            break;
        }
        done += (size_t)w;
    }
    return done;
}

/* A still serves: a new connection carries a message B reads. */
static void still_serves(struct pair *p)
{
    int fd = open_conn(p);
    assert_int_equal(synack_send(p->a, fd, "hello", 5, 0), 5);
    run(p, SYNACK_MSEC(30));
    char buf[16] = {0};
    assert_int_equal(synack_recv(p->b, p->last_bfd, buf, sizeof(buf), 0), 5);
    assert_string_equal(buf, "hello");
    assert_int_equal(synack_close(p->a, fd), 0);
}

static void test_orphan_limit(void **state)
{
    (void)state;
    enum { N = 100, MAX = 16 };
    struct pair p;
    pair_new(&p, MAX, 128u << 20);
    const struct synack_stack_stats *sa = synack_stack_stats(p.a);
    const struct synack_stack_stats *sb = synack_stack_stats(p.b);
    /* Each orphan holds its TCB, its 64 KiB less what B took (4 KiB) in
     * 4 KiB chunks plus one, and a chunk table: under 72 KiB. */
    const uint64_t bound = (uint64_t)(MAX + 1) * 72 * 1024;
    struct synack_stack_memory m;
    uint64_t peak = 0;
    for (int i = 0; i < N; i++) {
        int fd = open_conn(&p);
        int err;
        assert_int_equal(send_some(&p, fd, WRITE, &err), WRITE);
        run(&p, SYNACK_MSEC(50)); /* B's window fills and shuts */
        assert_int_equal(synack_close(p.a, fd), 0);
        assert_true(sa->tcp_orphans <= MAX);
        run(&p, SYNACK_MSEC(50));
        synack_stack_memory(p.a, &m);
        if (m.used > peak)
            peak = m.used;
        assert_true(m.used <= bound);
    }
    print_message("orphans: peak %llu, now %llu, reset %llu; memory peak %llu bytes (bound %llu)\n",
                  (unsigned long long)sa->tcp_orphans_peak, (unsigned long long)sa->tcp_orphans,
                  (unsigned long long)sa->tcp_abort_on_memory, (unsigned long long)peak,
                  (unsigned long long)bound);
    assert_int_equal(sa->tcp_orphans_peak, MAX);
    assert_int_equal(sa->tcp_orphans, MAX);
    assert_int_equal(sa->tcp_abort_on_memory, N - MAX);
    assert_true(sb->tcp_rst_in >= N - MAX); /* B was told */
    still_serves(&p);
    /* The orphans' windows never open: after SN_TCP_ORPHAN_RETRIES probes
     * they give up, and their memory comes back. */
    run(&p, SYNACK_SEC(600));
    assert_int_equal(sa->tcp_orphans, 0);
    synack_stack_memory(p.a, &m);
    assert_int_equal(m.conns, 0);
    synack_sim_free(p.sim);
}

static void test_orphan_budget(void **state)
{
    (void)state;
    const uint64_t budget = 256 * 1024;
    struct pair p;
    pair_new(&p, 8192, budget);
    p.budget = budget;
    int err;
    /* X: 64 KiB queued, closed: an orphan (the budget has room). */
    int x = open_conn(&p);
    assert_int_equal(send_some(&p, x, WRITE, &err), WRITE);
    run(&p, SYNACK_MSEC(50));
    assert_int_equal(synack_close(p.a, x), 0);
    assert_int_equal(synack_stack_stats(p.a)->tcp_orphans, 1);
    assert_int_equal(synack_stack_stats(p.a)->tcp_abort_on_memory, 0);
    /* C, still open, writes until the budget says no: EAGAIN, as Linux's
     * non-blocking send when tcp_mem refuses; counted in mem_refused. */
    int c = open_conn(&p);
    size_t n = send_some(&p, c, 1u << 20, &err);
    assert_true(n > 0 && n < (1u << 20));
    assert_int_equal(err, EAGAIN);
    assert_true(synack_stack_stats(p.a)->mem_refused > 0);
    /* X's next persist probe finds the budget spent: X is reset, C stays. */
    run(&p, SYNACK_SEC(2));
    assert_int_equal(synack_stack_stats(p.a)->tcp_abort_on_memory, 1);
    assert_int_equal(synack_stack_stats(p.a)->tcp_orphans, 0);
    /* C takes what X gave back, then closes holding data with the budget
     * spent: reset at close (Linux's tcp_close: "out of memory"). */
    size_t more = send_some(&p, c, 1u << 20, &err);
    assert_true(more > 0);
    assert_int_equal(err, EAGAIN);
    assert_int_equal(synack_close(p.a, c), 0);
    assert_int_equal(synack_stack_stats(p.a)->tcp_abort_on_memory, 2);
    assert_int_equal(synack_stack_stats(p.a)->tcp_orphans, 0);
    print_message("budget %llu: C took %zu + %zu bytes, mem_refused %llu, reset %llu\n",
                  (unsigned long long)budget, n, more,
                  (unsigned long long)synack_stack_stats(p.a)->mem_refused,
                  (unsigned long long)synack_stack_stats(p.a)->tcp_abort_on_memory);
    still_serves(&p);
    synack_sim_free(p.sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orphan_limit),
        cmocka_unit_test(test_orphan_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
