/* The sorted range tables (tcp_sack.c sn_ranges_add), shared by the
 * out-of-order ranges (no eviction) and the SACK scoreboard (eviction of
 * the highest range): ranges that overlap or touch merge, and swallow those
 * they reach; a full table without eviction refuses a new disjoint range
 * and stays as it was; with eviction a range below the highest takes the
 * highest one's place, and one above all is refused; all across the 2^32
 * wrap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "tcp/tcp_internal.h"

#define MAX 4
#define B 0xfffffe80u /* 384 bytes below the wrap: r[2] on, r[3] past it */

static void fill(struct synack_sack_block *r, uint8_t *n)
{
    *n = 0;
    for (uint32_t i = 0; i < MAX; i++) /* [B+0,B+100) [B+200,B+300) ... */
        assert_true(sn_ranges_add(r, n, MAX, B + i * 200, B + i * 200 + 100, false));
    assert_int_equal(*n, MAX);
}

static void test_merge(void **state)
{
    (void)state;
    struct synack_sack_block r[MAX];
    uint8_t n;
    fill(r, &n);
    assert_true(r[3].left < 1000); /* wrapped */
    assert_int_equal(r[3].left, B + 600);
    assert_int_equal(r[3].right, (uint32_t)(B + 700));
    /* Touching r[0]'s right edge: widened, nothing new. */
    assert_true(sn_ranges_add(r, &n, MAX, B + 100, B + 150, false));
    assert_int_equal(n, MAX);
    assert_int_equal(r[0].right, B + 150);
    /* Reaching from inside r[1] over r[2] into r[3]: one range. */
    assert_true(sn_ranges_add(r, &n, MAX, B + 250, B + 650, false));
    assert_int_equal(n, 2);
    assert_int_equal(r[1].left, B + 200);
    assert_int_equal(r[1].right, (uint32_t)(B + 700));
}

static void test_full_no_evict(void **state)
{
    (void)state;
    struct synack_sack_block r[MAX], before[MAX];
    uint8_t n;
    fill(r, &n);
    memcpy(before, r, sizeof(r));
    /* Between two ranges, and above all of them: refused, table unchanged. */
    assert_false(sn_ranges_add(r, &n, MAX, B + 120, B + 180, false));
    assert_false(sn_ranges_add(r, &n, MAX, B + 900, B + 1000, false));
    assert_int_equal(n, MAX);
    assert_memory_equal(r, before, sizeof(r));
    /* Overlapping one still merges while full. */
    assert_true(sn_ranges_add(r, &n, MAX, B + 350, B + 420, false));
    assert_int_equal(n, MAX);
    assert_int_equal(r[1].right, B + 300);
    assert_int_equal(r[2].left, B + 350);
}

static void test_full_evict(void **state)
{
    (void)state;
    struct synack_sack_block r[MAX];
    uint8_t n;
    fill(r, &n);
    /* Above all: refused even with eviction (it would evict itself). */
    assert_false(sn_ranges_add(r, &n, MAX, B + 900, B + 1000, true));
    assert_int_equal(r[3].left, B + 600);
    /* Below the highest: kept in order, the highest forgotten. */
    assert_true(sn_ranges_add(r, &n, MAX, B + 120, B + 180, true));
    assert_int_equal(n, MAX);
    assert_int_equal(r[0].right, B + 100);
    assert_int_equal(r[1].left, B + 120);
    assert_int_equal(r[1].right, B + 180);
    assert_int_equal(r[2].left, B + 200);
    assert_int_equal(r[3].left, B + 400);
    assert_int_equal(r[3].right, B + 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_full_no_evict),
        cmocka_unit_test(test_full_evict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
