/* The memory account's free lists (core/mem.h: sn_mem_get/put/recycle) and
 * the timing wheel's hint: reuse gives zeroed memory, the lists are bounded
 * and counted in `cached` (in the total peak, never in `used`), a budget
 * still refuses, and the hint is never later than the earliest expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "core/timer_wheel.h"

static void test_reuse_zeroed_and_counted(void **state)
{
    (void)state;
    struct sn_mem m = {0};
    uint8_t *a = sn_mem_get(&m, 200);
    assert_non_null(a);
    assert_int_equal(m.used, 200);
    memset(a, 0xab, 200);
    sn_mem_put(&m, a, 200);
    assert_int_equal(m.used, 0);
    assert_int_equal(m.cached, 200); /* kept, counted apart */
    uint8_t *b = sn_mem_get(&m, 200);
    assert_ptr_equal(b, a); /* the same block back, */
    for (int i = 0; i < 200; i++)
        assert_int_equal(b[i], 0); /* zeroed like calloc's */
    assert_int_equal(m.cached, 0);
    assert_int_equal(m.used, 200);
    /* Another size does not take it. */
    sn_mem_put(&m, b, 200);
    uint8_t *c = sn_mem_get(&m, 96);
    assert_non_null(c);
    assert_true(c != b);
    assert_int_equal(m.cached, 200);
    sn_mem_put(&m, c, 96);
    assert_int_equal(m.cached, 296);
    assert_true(m.total_peak >= 296);
    sn_mem_lists_free(&m);
    assert_int_equal(m.cached, 0);
    assert_int_equal(m.used, 0);
}

static void test_bounded(void **state)
{
    (void)state;
    enum { N = SN_FREELIST_MAX + 50 };
    static void *p[N];
    struct sn_mem m = {0};
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = sn_mem_get(&m, 64));
    for (int i = 0; i < N; i++)
        sn_mem_put(&m, p[i], 64);
    /* Only SN_FREELIST_MAX kept; the rest went back to the allocator. */
    assert_int_equal(m.cached, (uint64_t)SN_FREELIST_MAX * 64);
    assert_int_equal(m.used, 0);
    /* More sizes than lists: the extra size is simply freed. */
    for (size_t k = 0; k < SN_FREELISTS + 2; k++)
        sn_mem_put(&m, sn_mem_get(&m, 1000 + 8 * k), 1000 + 8 * k);
    uint64_t kept = 0;
    for (size_t k = 0; k + 1 < SN_FREELISTS; k++)
        kept += 1000 + 8 * k; /* one list is the 64-byte one */
    assert_int_equal(m.cached, (uint64_t)SN_FREELIST_MAX * 64 + kept);
    sn_mem_lists_free(&m);
    assert_int_equal(m.cached, 0);
}

/* A budget refuses a get even when the list could serve it; recycle (the
 * TCB's path, uncharged earlier) keeps without uncharging. */
static void test_budget_and_recycle(void **state)
{
    (void)state;
    struct sn_mem m = {.limit = 300};
    void *a = sn_mem_get(&m, 256);
    assert_non_null(a);
    assert_null(sn_mem_get(&m, 256));
    assert_int_equal(m.failed, 1);
    sn_mem_uncharge(&m, 256);
    sn_mem_recycle(&m, a, 256);
    assert_int_equal(m.used, 0);
    assert_int_equal(m.cached, 256);
    void *b = sn_mem_get(&m, 256);
    assert_ptr_equal(b, a);
    assert_int_equal(m.used, 256);
    sn_mem_put(&m, b, 256);
    sn_mem_lists_free(&m);
}

static void nop_fire(struct sn_timer *t, void *arg)
{
    (void)t;
    (*(int *)arg)++;
}

/* The wheel's hint: never later than the earliest pending expiry, through
 * adds, deletes and advances; UINT64_MAX exactly when nothing is pending. */
static void test_wheel_hint(void **state)
{
    (void)state;
    enum { N = 64 };
    static struct sn_timer t[N];
    struct sn_wheel w;
    sn_wheel_init(&w, 0);
    assert_int_equal(sn_wheel_hint(&w), UINT64_MAX);
    struct sn_rng rng;
    sn_rng_seed(&rng, 9);
    int fired = 0;
    uint64_t now = 0;
    for (int round = 0; round < 2000; round++) {
        struct sn_timer *x = &t[sn_rng_below(&rng, N)];
        switch (sn_rng_below(&rng, 3)) {
        case 0:
            sn_wheel_add(&w, x, now + 1 + sn_rng_below(&rng, 5000000));
            break;
        case 1:
            sn_wheel_del(&w, x);
            break;
        default:
            now += sn_rng_below(&rng, 100000);
            if (now >= sn_wheel_hint(&w))
                sn_wheel_advance(&w, now, nop_fire, &fired);
            break;
        }
        uint64_t earliest = UINT64_MAX;
        for (int i = 0; i < N; i++)
            if (sn_timer_pending(&t[i]) && t[i].expires < earliest)
                earliest = t[i].expires;
        assert_true(sn_wheel_hint(&w) <= earliest);
        if (w.count == 0)
            assert_int_equal(sn_wheel_hint(&w), UINT64_MAX);
    }
    assert_true(fired > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_zeroed_and_counted),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_budget_and_recycle),
        cmocka_unit_test(test_wheel_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
