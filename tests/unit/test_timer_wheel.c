/* Timer wheel: exact firing times, order, deletion, re-arming from callbacks,
 * long jumps, past and far-future expiries, checked against plain reference
 * models. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>

#include "core/rng.h"
#include "core/timer_wheel.h"

#define HOUR_US UINT64_C(3600000000)

struct item {
    struct sn_timer t;
    uint32_t id;
    uint32_t fires;
};

static struct item *item_of(struct sn_timer *t)
{
    return (struct item *)(void *)((char *)t - offsetof(struct item, t));
}

/* What the fire callback saw.  Every firing is checked on the spot: removed
 * before the callback, at exactly its expiry, never before an earlier one. */
struct rec {
    struct sn_wheel *w;
    uint64_t *times;
    uint32_t *ids;
    size_t n, cap;
    uint64_t last;
    void (*hook)(struct rec *r, struct item *it);
    void *ctx;
};

static void on_fire(struct sn_timer *t, void *arg)
{
    struct rec *r = arg;
    struct item *it = item_of(t);
    assert_false(sn_timer_pending(t));
    assert_int_equal(t->expires, r->w->now);
    assert_true(r->w->now >= r->last);
    r->last = r->w->now;
    if (r->n < r->cap) {
        r->times[r->n] = r->w->now;
        r->ids[r->n] = it->id;
    }
    r->n++;
    it->fires++;
    if (r->hook)
        r->hook(r, it);
}

static void rec_init(struct rec *r, struct sn_wheel *w, size_t cap)
{
    *r = (struct rec){.w = w, .cap = cap, .last = w->now};
    if (cap) {
        r->times = calloc(cap, sizeof *r->times);
        r->ids = calloc(cap, sizeof *r->ids);
        assert_non_null(r->times);
        assert_non_null(r->ids);
    }
}

static void rec_free(struct rec *r)
{
    free(r->times);
    free(r->ids);
}

/* Drive the wheel as a caller does: advance to sn_wheel_next() while it is
 * <= limit.  Every returned time must make progress and not pass `earliest`
 * (when given), the earliest pending expiry. Returns the number of steps. */
static size_t drive(struct sn_wheel *w, struct rec *r, uint64_t limit)
{
    size_t steps = 0;
    uint64_t t;
    while ((t = sn_wheel_next(w)) != UINT64_MAX && t <= limit) {
        assert_true(t >= w->now);
        size_t before = r->n;
        uint64_t now_before = w->now;
        sn_wheel_advance(w, t, on_fire, r);
        /* progress: something fired or the wheel time moved */
        assert_true(r->n > before || w->now > now_before);
        steps++;
    }
    return steps;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_empty(void **state)
{
    struct sn_wheel w;
    struct rec r;
    struct item it = {.id = 0};
    sn_wheel_init(&w, 777);
    rec_init(&r, &w, 0);
    assert_int_equal(sn_wheel_next(&w), UINT64_MAX);
    assert_int_equal(w.count, 0);
    sn_timer_init(&it.t);
    assert_false(sn_timer_pending(&it.t));
    sn_wheel_del(&w, &it.t); /* not pending: no-op */
    assert_int_equal(w.count, 0);
    sn_wheel_advance(&w, 123456789, on_fire, &r);
    assert_int_equal(w.now, 123456789);
    assert_int_equal(r.n, 0);
    assert_int_equal(sn_wheel_next(&w), UINT64_MAX);
    sn_wheel_advance(&w, UINT64_MAX, on_fire, &r);
    assert_int_equal(w.now, UINT64_MAX);
}

/* One timer at many distances, from many starting times (including ones
 * whose digits are all 63, so every level is about to carry). */
static void test_single_exact(void **state)
{
    static const uint64_t starts[] = {0, 1, 63, 64, 4095, 987654321, UINT64_C(0xfffffffff),
                                      UINT64_C(1) << 60, UINT64_MAX - (UINT64_C(1) << 40)};
    static const uint64_t deltas[] = {0, 1, 2, 62, 63, 64, 65, 127, 128, 4095, 4096, 4097,
                                      262143, 262144, 1000000, HOUR_US, UINT64_C(1) << 36,
                                      UINT64_C(1) << 40, (UINT64_C(1) << 59) + 3,
                                      UINT64_C(1) << 60, (UINT64_C(1) << 62) + 12345};
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
        for (size_t j = 0; j < sizeof deltas / sizeof *deltas; j++) {
            if (deltas[j] >= UINT64_MAX - starts[i])
                continue;
            uint64_t exp = starts[i] + deltas[j];
            struct sn_wheel w;
            struct rec r;
            struct item it = {.id = 7};
            sn_wheel_init(&w, starts[i]);
            rec_init(&r, &w, 0);
            sn_timer_init(&it.t);
            sn_wheel_add(&w, &it.t, exp);
            assert_true(sn_timer_pending(&it.t));
            assert_int_equal(w.count, 1);
            size_t steps = 0;
            while (it.fires == 0) {
                uint64_t t = sn_wheel_next(&w);
                assert_true(t <= exp);
                assert_true(t >= w.now);
                sn_wheel_advance(&w, t, on_fire, &r);
                steps++;
                assert_true(steps <= SN_WHEEL_LEVELS);
            }
            assert_int_equal(it.fires, 1);
            assert_int_equal(w.now, exp);
            assert_int_equal(w.count, 0);
            assert_false(sn_timer_pending(&it.t));
            assert_int_equal(sn_wheel_next(&w), UINT64_MAX);
        }
    }
}

/* 100,000 timers spread over an hour all fire once, in order, each at its
 * exact expiry, when driven by next/advance. */
static void test_many_random(void **state)
{
    enum { N = 100000 };
    struct sn_rng rng;
    sn_rng_seed(&rng, 42);
    struct sn_wheel w;
    uint64_t now0 = 987654321;
    sn_wheel_init(&w, now0);
    struct item *items = calloc(N, sizeof *items);
    uint64_t *sorted = calloc(N, sizeof *sorted);
    assert_non_null(items);
    assert_non_null(sorted);
    for (uint32_t i = 0; i < N; i++) {
        items[i].id = i;
        sn_timer_init(&items[i].t);
        uint64_t exp = now0 + 1 + sn_rng_next(&rng) % HOUR_US;
        sn_wheel_add(&w, &items[i].t, exp);
        sorted[i] = exp;
    }
    assert_int_equal(w.count, N);
    qsort(sorted, N, sizeof *sorted, cmp_u64);
    struct rec r;
    rec_init(&r, &w, N);
    size_t steps = 0;
    uint64_t t;
    while ((t = sn_wheel_next(&w)) != UINT64_MAX) {
        assert_true(t <= sorted[r.n]); /* sorted[r.n] is the earliest pending */
        assert_true(t >= w.now);
        sn_wheel_advance(&w, t, on_fire, &r);
        steps++;
    }
    assert_int_equal(r.n, N);
    assert_true(steps <= (size_t)N * SN_WHEEL_LEVELS);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(r.times[i], sorted[i]);
        assert_int_equal(items[r.ids[i]].t.expires, r.times[i]);
        assert_int_equal(items[i].fires, 1);
    }
    assert_int_equal(w.count, 0);
    assert_int_equal(w.now, sorted[N - 1]);
    rec_free(&r);
    free(sorted);
    free(items);
}

/* Random subsets deleted (some twice) and re-armed, before and in the middle
 * of the run: exactly the armed ones fire, at their time. */
static void test_delete_subsets(void **state)
{
    enum { N = 50000 };
    struct sn_rng rng;
    sn_rng_seed(&rng, 7);
    struct sn_wheel w;
    sn_wheel_init(&w, 0);
    struct item *items = calloc(N, sizeof *items);
    bool *armed = calloc(N, sizeof *armed);
    assert_non_null(items);
    assert_non_null(armed);
    uint64_t narmed = 0;
    for (uint32_t i = 0; i < N; i++) {
        items[i].id = i;
        sn_timer_init(&items[i].t);
        sn_wheel_add(&w, &items[i].t, 1 + sn_rng_next(&rng) % HOUR_US);
        armed[i] = true;
        narmed++;
    }
    for (int pass = 0; pass < 3; pass++) {
        uint32_t i = sn_rng_below(&rng, N);
        for (int k = 0; k < N / 2; k++, i = sn_rng_below(&rng, N)) {
            sn_wheel_del(&w, &items[i].t);
            narmed -= armed[i];
            armed[i] = false;
            assert_false(sn_timer_pending(&items[i].t));
            if (sn_rng_below(&rng, 4) == 0) {
                sn_wheel_add(&w, &items[i].t, w.now + 1 + sn_rng_next(&rng) % HOUR_US);
                armed[i] = true;
                narmed++;
            }
            assert_int_equal(w.count, narmed);
        }
        struct rec r;
        rec_init(&r, &w, 0);
        drive(&w, &r, w.now + HOUR_US / 3); /* run a third of the way */
        for (uint32_t j = 0; j < N; j++) {
            if (items[j].fires) {
                assert_true(armed[j]);
                assert_int_equal(items[j].fires, 1);
                assert_true(items[j].t.expires <= w.now);
                armed[j] = false;
                narmed--;
                items[j].fires = 0;
            } else if (armed[j]) {
                assert_true(sn_timer_pending(&items[j].t));
                assert_true(items[j].t.expires > w.now);
            }
        }
        assert_int_equal(w.count, narmed);
        rec_free(&r);
    }
    struct rec r;
    rec_init(&r, &w, 0);
    drive(&w, &r, UINT64_MAX);
    assert_int_equal(r.n, narmed);
    for (uint32_t j = 0; j < N; j++)
        assert_int_equal(items[j].fires, armed[j] ? 1 : 0);
    assert_int_equal(w.count, 0);
    free(armed);
    free(items);
}

/* A periodic timer re-armed from its own callback fires at every period,
 * both when driven step by step and within one long advance. */
static void hook_periodic(struct rec *r, struct item *it)
{
    if (it->fires < 100)
        sn_wheel_add(r->w, &it->t, r->w->now + 1000);
}

static void test_rearm_periodic(void **state)
{
    for (int one_call = 0; one_call < 2; one_call++) {
        struct sn_wheel w;
        struct rec r;
        struct item it = {.id = 1};
        sn_wheel_init(&w, 0);
        rec_init(&r, &w, 200);
        r.hook = hook_periodic;
        sn_timer_init(&it.t);
        sn_wheel_add(&w, &it.t, 1000);
        if (one_call)
            sn_wheel_advance(&w, UINT64_C(1) << 40, on_fire, &r);
        else
            drive(&w, &r, UINT64_MAX);
        assert_int_equal(r.n, 100);
        for (size_t i = 0; i < 100; i++)
            assert_int_equal(r.times[i], 1000 * (i + 1));
        assert_int_equal(w.count, 0);
        rec_free(&r);
    }
}

/* Re-arming for a time <= now from a callback fires again within the same
 * advance, after the other timers due at that time. */
struct rearm_ctx {
    struct item *target;
    uint64_t when;
};

static void hook_rearm_past(struct rec *r, struct item *it)
{
    struct rearm_ctx *c = r->ctx;
    if (it == c->target && it->fires == 1)
        sn_wheel_add(r->w, &it->t, c->when);
}

static void test_rearm_past(void **state)
{
    static const uint64_t whens[] = {100, 50, 0};
    for (size_t k = 0; k < 3; k++) {
        struct sn_wheel w;
        struct rec r;
        struct item it[3] = {{.id = 0}, {.id = 1}, {.id = 2}};
        struct rearm_ctx c = {.target = &it[1], .when = whens[k]};
        sn_wheel_init(&w, 10);
        rec_init(&r, &w, 8);
        r.hook = hook_rearm_past;
        r.ctx = &c;
        for (int i = 0; i < 3; i++) {
            sn_timer_init(&it[i].t);
            sn_wheel_add(&w, &it[i].t, 100);
        }
        sn_wheel_advance(&w, 100, on_fire, &r);
        assert_int_equal(r.n, 4);
        assert_int_equal(r.ids[3], 1); /* the re-armed one comes last */
        assert_int_equal(it[0].fires + it[2].fires, 2);
        assert_int_equal(it[1].fires, 2);
        for (int i = 0; i < 4; i++)
            assert_int_equal(r.times[i], 100);
        assert_int_equal(w.count, 0);
        assert_int_equal(w.now, 100);
        rec_free(&r);
    }
}

/* Callbacks delete timers due at the same instant (already detached from
 * the wheel) and later ones, and add new ones inside the advanced window. */
struct edit_ctx {
    struct item *items;
    int n;
};

static void hook_edit(struct rec *r, struct item *it)
{
    struct edit_ctx *c = r->ctx;
    if (r->n != 1)
        return; /* only the first firing edits */
    for (int i = 0; i < 4; i++)
        if (&c->items[i] != it)
            sn_wheel_del(r->w, &c->items[i].t);   /* the other three due at 100, one at 300 */
    sn_wheel_add(r->w, &c->items[4].t, 150);
    sn_wheel_add(r->w, &c->items[5].t, 120);
    sn_wheel_add(r->w, &c->items[6].t, 3);        /* in the past: due now */
    sn_wheel_add(r->w, &c->items[7].t, 500);      /* beyond the advance */
}

static void test_callback_edits(void **state)
{
    struct sn_wheel w;
    struct rec r;
    struct item it[8];
    struct edit_ctx c = {.items = it, .n = 8};
    sn_wheel_init(&w, 0);
    rec_init(&r, &w, 16);
    r.hook = hook_edit;
    r.ctx = &c;
    for (uint32_t i = 0; i < 8; i++) {
        it[i] = (struct item){.id = i};
        sn_timer_init(&it[i].t);
    }
    sn_wheel_add(&w, &it[0].t, 100);
    sn_wheel_add(&w, &it[1].t, 100);
    sn_wheel_add(&w, &it[2].t, 100);
    sn_wheel_add(&w, &it[3].t, 300);
    assert_int_equal(w.count, 4);
    sn_wheel_advance(&w, 400, on_fire, &r);
    /* first firing at 100, then item 6 (armed in the past, so at 100), 5 at 120, 4 at 150 */
    assert_int_equal(r.n, 4);
    assert_true(r.ids[0] <= 2);
    assert_int_equal(r.ids[1], 6);
    assert_int_equal(r.times[1], 100);
    assert_int_equal(r.ids[2], 5);
    assert_int_equal(r.times[2], 120);
    assert_int_equal(r.ids[3], 4);
    assert_int_equal(r.times[3], 150);
    assert_int_equal(it[3].fires, 0);
    assert_false(sn_timer_pending(&it[3].t));
    assert_true(sn_timer_pending(&it[7].t));
    assert_int_equal(w.count, 1);
    /* now 400 = 6*64+16, 500 = 7*64+52: level-1 slot 7 starts at 448 */
    assert_int_equal(sn_wheel_next(&w), 448);
    drive(&w, &r, UINT64_MAX);
    assert_int_equal(it[7].fires, 1);
    assert_int_equal(r.times[4], 500);
    rec_free(&r);
}

/* Long jumps fire everything due, in order, and leave the rest pending. */
static void test_big_jumps(void **state)
{
    enum { N = 20000 };
    struct sn_rng rng;
    sn_rng_seed(&rng, 99);
    struct sn_wheel w;
    uint64_t now0 = UINT64_C(5) << 40;
    sn_wheel_init(&w, now0);
    struct item *items = calloc(N, sizeof *items);
    uint64_t *sorted = calloc(N, sizeof *sorted);
    assert_non_null(items);
    assert_non_null(sorted);
    for (uint32_t i = 0; i < N; i++) {
        items[i].id = i;
        sn_timer_init(&items[i].t);
        int scale = 1 + (int)sn_rng_below(&rng, 44);
        uint64_t exp = now0 + (sn_rng_next(&rng) & ((UINT64_C(1) << scale) - 1));
        sn_wheel_add(&w, &items[i].t, exp);
        sorted[i] = exp;
    }
    qsort(sorted, N, sizeof *sorted, cmp_u64);
    struct rec r;
    rec_init(&r, &w, N);
    uint64_t targets[] = {now0, now0 + 1000, now0 + HOUR_US, now0 + 24 * HOUR_US,
                          now0 + (UINT64_C(1) << 40), UINT64_MAX - 1};
    size_t done = 0;
    for (size_t k = 0; k < sizeof targets / sizeof *targets; k++) {
        sn_wheel_advance(&w, targets[k], on_fire, &r);
        while (done < N && sorted[done] <= targets[k])
            done++;
        assert_int_equal(r.n, done);
        assert_int_equal(w.count, N - done);
        assert_int_equal(w.now, targets[k]);
        if (done < N)
            assert_true(sn_wheel_next(&w) <= sorted[done]);
        else
            assert_int_equal(sn_wheel_next(&w), UINT64_MAX);
    }
    assert_int_equal(done, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(r.times[i], sorted[i]);
    rec_free(&r);
    free(sorted);
    free(items);

    /* A few timers across the whole 64-bit range: one advance to the end
     * (would never finish if advancing cost grew with elapsed time). */
    struct item far[4] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}};
    static const uint64_t at[4] = {1, UINT64_C(1) << 50, UINT64_C(1) << 62, UINT64_MAX - 1};
    sn_wheel_init(&w, 0);
    rec_init(&r, &w, 4);
    for (int i = 0; i < 4; i++) {
        sn_timer_init(&far[i].t);
        sn_wheel_add(&w, &far[i].t, at[i]);
    }
    sn_wheel_advance(&w, UINT64_MAX, on_fire, &r);
    assert_int_equal(r.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r.ids[i], i);
        assert_int_equal(r.times[i], at[i]);
    }
    assert_int_equal(w.now, UINT64_MAX);
    rec_free(&r);
}

/* Expiries at or before now are due at the next advance; time never goes
 * backward; UINT64_MAX (never) disarms. */
static void test_past_now_never(void **state)
{
    struct sn_wheel w;
    struct rec r;
    struct item it[4] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}};
    sn_wheel_init(&w, 1000);
    rec_init(&r, &w, 8);
    for (int i = 0; i < 4; i++)
        sn_timer_init(&it[i].t);
    sn_wheel_add(&w, &it[0].t, 1000);
    sn_wheel_add(&w, &it[1].t, 5);
    sn_wheel_add(&w, &it[2].t, 0);
    assert_int_equal(it[1].t.expires, 1000); /* stored as now */
    assert_int_equal(w.count, 3);
    assert_int_equal(sn_wheel_next(&w), 1000);
    sn_wheel_advance(&w, 1000, on_fire, &r);
    assert_int_equal(r.n, 3);
    assert_int_equal(w.count, 0);

    sn_wheel_advance(&w, 500, on_fire, &r); /* backward: stays at 1000 */
    assert_int_equal(w.now, 1000);
    sn_wheel_add(&w, &it[3].t, 999);
    assert_int_equal(sn_wheel_next(&w), 1000);
    sn_wheel_advance(&w, 0, on_fire, &r); /* still fires what is due */
    assert_int_equal(it[3].fires, 1);
    assert_int_equal(w.now, 1000);

    /* never == del */
    sn_wheel_add(&w, &it[0].t, 5000);
    assert_int_equal(w.count, 1);
    sn_wheel_add(&w, &it[0].t, UINT64_MAX);
    assert_false(sn_timer_pending(&it[0].t));
    assert_int_equal(w.count, 0);
    assert_int_equal(sn_wheel_next(&w), UINT64_MAX);
    sn_wheel_add(&w, &it[0].t, UINT64_MAX); /* not pending: still nothing */
    assert_int_equal(w.count, 0);

    /* re-adding a pending timer moves it, count unchanged */
    sn_wheel_add(&w, &it[0].t, 1 << 20);
    sn_wheel_add(&w, &it[0].t, 2000);
    assert_int_equal(w.count, 1);
    assert_true(sn_wheel_next(&w) <= 2000);
    drive(&w, &r, UINT64_MAX);
    assert_int_equal(it[0].fires, 2);
    assert_int_equal(r.times[r.n - 1], 2000);
    assert_int_equal(w.count, 0);
    rec_free(&r);
}

/* Random interleaving of add/del/advance, callbacks that re-arm themselves
 * (sometimes for now), arm and disarm others, against a reference model. */
enum { MODEL_N = 256 };

struct model {
    struct sn_rng rng;
    struct item items[MODEL_N];
    bool armed[MODEL_N];
    uint64_t exp[MODEL_N];
    uint64_t narmed;
};

static uint64_t model_delta(struct sn_rng *rng)
{
    int scale = (int)sn_rng_below(rng, 42);
    return sn_rng_next(rng) & ((UINT64_C(1) << scale) - 1);
}

static void model_add(struct model *m, struct sn_wheel *w, uint32_t i, uint64_t exp)
{
    sn_wheel_add(w, &m->items[i].t, exp);
    m->narmed += !m->armed[i];
    m->armed[i] = true;
    m->exp[i] = exp < w->now ? w->now : exp;
    assert_int_equal(m->items[i].t.expires, m->exp[i]);
}

static void model_del(struct model *m, struct sn_wheel *w, uint32_t i)
{
    sn_wheel_del(w, &m->items[i].t);
    m->narmed -= m->armed[i];
    m->armed[i] = false;
}

static void hook_model(struct rec *r, struct item *it)
{
    struct model *m = r->ctx;
    uint32_t i = it->id;
    assert_true(m->armed[i]);
    assert_int_equal(m->exp[i], r->w->now);
    m->armed[i] = false;
    m->narmed--;
    uint32_t roll = sn_rng_below(&m->rng, 10);
    if (roll < 3)
        model_add(m, r->w, i, r->w->now + sn_rng_below(&m->rng, 3) * sn_rng_below(&m->rng, 100));
    else if (roll == 3)
        model_del(m, r->w, sn_rng_below(&m->rng, MODEL_N));
    else if (roll == 4)
        model_add(m, r->w, sn_rng_below(&m->rng, MODEL_N), r->w->now + model_delta(&m->rng));
}

static void test_random_model(void **state)
{
    struct model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    sn_rng_seed(&m->rng, 2024);
    struct sn_wheel w;
    sn_wheel_init(&w, 1234567);
    struct rec r;
    rec_init(&r, &w, 0);
    r.hook = hook_model;
    r.ctx = m;
    for (uint32_t i = 0; i < MODEL_N; i++) {
        m->items[i].id = i;
        sn_timer_init(&m->items[i].t);
    }
    for (int op = 0; op < 300000; op++) {
        uint32_t roll = sn_rng_below(&m->rng, 20);
        uint32_t i = sn_rng_below(&m->rng, MODEL_N);
        if (roll < 8) {
            model_add(m, &w, i, w.now + model_delta(&m->rng));
        } else if (roll == 8) {
            model_add(m, &w, i, w.now - (w.now > 100 ? sn_rng_below(&m->rng, 100) : 0));
        } else if (roll < 12) {
            model_del(m, &w, i);
        } else if (roll == 12) {
            sn_wheel_add(&w, &m->items[i].t, UINT64_MAX);
            m->narmed -= m->armed[i];
            m->armed[i] = false;
        } else {
            uint64_t target;
            if (roll < 16)
                target = sn_wheel_next(&w);
            else if (roll == 16)
                target = w.now - (w.now > 10 ? sn_rng_below(&m->rng, 10) : 0);
            else
                target = w.now + model_delta(&m->rng);
            if (target == UINT64_MAX)
                target = w.now;
            sn_wheel_advance(&w, target, on_fire, &r);
            assert_true(w.now >= target);
        }
        /* the model and the wheel agree after every operation */
        assert_int_equal(w.count, m->narmed);
        uint64_t min = UINT64_MAX;
        for (uint32_t j = 0; j < MODEL_N; j++) {
            assert_int_equal(sn_timer_pending(&m->items[j].t), m->armed[j]);
            if (m->armed[j]) {
                assert_true(m->exp[j] >= w.now); /* nothing overdue left behind */
                if (m->exp[j] < min)
                    min = m->exp[j];
            }
        }
        uint64_t next = sn_wheel_next(&w);
        if (min == UINT64_MAX) {
            assert_int_equal(next, UINT64_MAX);
        } else {
            assert_true(next <= min);
            assert_true(next >= w.now);
        }
    }
    assert_true(r.n > 10000);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_single_exact),
        cmocka_unit_test(test_many_random),
        cmocka_unit_test(test_delete_subsets),
        cmocka_unit_test(test_rearm_periodic),
        cmocka_unit_test(test_rearm_past),
        cmocka_unit_test(test_callback_edits),
        cmocka_unit_test(test_big_jumps),
        cmocka_unit_test(test_past_now_never),
        cmocka_unit_test(test_random_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
