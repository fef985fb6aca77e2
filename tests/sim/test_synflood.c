/* SYN-flood resistance (RFC 4987), in the simulator: 100,000 SYNs from
 * spoofed sources that never answer, spread over 10 s, against a listener
 * (backlog 128), while 200 legitimate clients connect and each has 8 KiB
 * echoed back intact; then 20 more after the flood.  The SYN cache holds at
 * most 4 x 129 + 16 = 532 entries for the listener (80 bytes each), the rest
 * of the flood gets SYN cookies, and:
 *   - at least 99% of the legitimate connections complete (all of them do);
 *   - the server's memory (everything it allocates, its own object included) peaks under 1 MiB (measured: 290 KB);
 *   - the statistics count every spoofed SYN (cached or answered with a cookie);
 *   - once the flood is over, cookies stop and new clients all complete.
 * Without cookies the same flood shuts most clients out: the control. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "synack/sim.h"

#define MEM_BOUND (1u << 20)

static uint32_t scaled(uint32_t n)
{
    /* Under the sanitizers a quarter of the flood, same rate and shape. */
    return getenv("SYNACK_SANITIZE") && getenv("SYNACK_SANITIZE")[0] == 'O' ? n / 4 : n;
}

/* The default flood (scaled under the sanitizers), with or without cookies. */
static void run_flood(bool cookies, struct synack_synflood_params *p,
                      struct synack_synflood_result *r)
{
    synack_synflood_params_default(p);
    p->spoofed = scaled(p->spoofed);
    p->duration = p->duration * p->spoofed / 100000;
    p->syncookies = cookies;
    assert_int_equal(synack_sim_synflood(p, r), 0);
}

static void test_flood_with_cookies(void **state)
{
    (void)state;
    struct synack_synflood_params p;
    struct synack_synflood_result r;
    run_flood(true, &p, &r);
    print_message("legit %u/%u (%u within 1 s), after %u/%u, spoofed %llu, cookies %llu (after flood %llu), "
                  "cookie conns %llu, peak half-open %llu, peak memory %llu, expired %llu\n",
                  r.legit_done, r.legit_total, r.legit_fast, r.after_done, r.after_total,
                  (unsigned long long)r.spoofed_sent, (unsigned long long)r.cookies_sent,
                  (unsigned long long)r.cookies_after_flood,
                  (unsigned long long)r.server.tcp_syncookies_recv,
                  (unsigned long long)r.halfopen_peak, (unsigned long long)r.mem_peak,
                  (unsigned long long)r.server.tcp_syncache_expired);
    assert_int_equal(r.spoofed_sent, p.spoofed);
    assert_true(r.legit_total >= 200);
    assert_true(r.legit_done * 100 >= r.legit_total * 99);
    assert_true(r.legit_fast * 100 >= r.legit_total * 99); /* no SYN had to be retried */
    assert_true(r.mem_peak < MEM_BOUND);
    assert_true(r.halfopen_peak <= 4 * 129 + 16);
    assert_true(r.halfopen_peak >= 4 * 129 + 16 - 1); /* the cache did fill */
    /* Every SYN is counted: cached or answered with a cookie. */
    assert_true(r.server.tcp_syncache_added + r.server.tcp_syncookies_sent >= p.spoofed);
    assert_true(r.server.tcp_syncache_overflow >= p.spoofed * 9 / 10);
    assert_int_equal(r.server.tcp_syncache_overflow, r.cookies_sent);
    assert_true(r.server.tcp_syncookies_recv > 0);   /* clients completed through cookies */
    assert_int_equal(r.server.tcp_syncookies_failed, 0);
    /* After the flood: no cookie, and every new client completes. */
    assert_int_equal(r.cookies_after_flood, 0);
    assert_int_equal(r.after_done, r.after_total);
    assert_true(r.after_total >= 20);
}

static void test_flood_without_cookies(void **state)
{
    (void)state;
    struct synack_synflood_params p;
    struct synack_synflood_result r;
    run_flood(false, &p, &r);
    print_message("no cookies: legit %u/%u (%u within 1 s), after %u/%u, listen drops %llu, peak half-open %llu\n",
                  r.legit_done, r.legit_total, r.legit_fast, r.after_done, r.after_total,
                  (unsigned long long)r.server.tcp_listen_drops,
                  (unsigned long long)r.halfopen_peak);
    assert_int_equal(r.cookies_sent, 0);
    assert_true(r.server.tcp_listen_drops >= p.spoofed * 9 / 10);
    /* Without cookies the flood holds the clients off: most need their SYN
     * retransmitted (1 s, 3 s, ...) until a cache slot happens to be free,
     * or until the flood is over. */
    assert_true(r.legit_fast * 2 < r.legit_total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood_with_cookies),
        cmocka_unit_test(test_flood_without_cookies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
