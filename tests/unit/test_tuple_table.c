/* Tuple table: SipHash-2-4 reference vectors (the ISN/port/cookie PRF), the
 * lookup hash's definition and spread, insert/find/remove, duplicate
 * refusal, listener fallback order, growth and its bound. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/tuple_table.h"

static const uint64_t ref_key[2] = {UINT64_C(0x0706050403020100), UINT64_C(0x0f0e0d0c0b0a0908)};

/* Vectors of the SipHash paper's reference code (key 00..0f, message
 * 00..len-1), as little-endian 64-bit values. */
static void test_siphash_vectors(void **state)
{
    uint8_t msg[64];
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(sn_siphash(ref_key, msg, 15), UINT64_C(0xa129ca6149be45e5));
    assert_int_equal(sn_siphash(ref_key, msg, 0), UINT64_C(0x726fdb47dd0e0e31));
    assert_int_equal(sn_siphash(ref_key, msg, 8), UINT64_C(0x93f5f5799a932462));
    /* unaligned input gives the same value */
    uint8_t shifted[17];
    memcpy(shifted + 1, msg, 15);
    assert_int_equal(sn_siphash(ref_key, shifted + 1, 15), UINT64_C(0xa129ca6149be45e5));
    /* the key matters */
    uint64_t other[2] = {ref_key[0] ^ 1, ref_key[1]};
    assert_true(sn_siphash(other, msg, 15) != UINT64_C(0xa129ca6149be45e5));
}

static struct synack_tuple tup(uint32_t la, uint16_t lp, uint32_t ra, uint16_t rp)
{
    return (struct synack_tuple){.laddr = la, .raddr = ra, .lport = lp, .rport = rp};
}

static void test_init_rounding(void **state)
{
    struct sn_tuple_table t;
    assert_int_equal(sn_tuple_init(&t, NULL, 3, 5, 1, 2), 0);
    assert_int_equal(t.nbuckets, 4);
    assert_int_equal(t.max_buckets, 8);
    assert_int_equal(t.count, 0);
    assert_int_equal(t.key[0], 1);
    assert_int_equal(t.key[1], 2);
    sn_tuple_free(&t);
    assert_null(t.buckets);
    assert_int_equal(sn_tuple_init(&t, NULL, 0, 0, 1, 2), 0);
    assert_int_equal(t.nbuckets, 1);
    assert_int_equal(t.max_buckets, 1);
    sn_tuple_free(&t);
    assert_int_equal(sn_tuple_init(&t, NULL, 64, 16, 1, 2), 0); /* max below initial */
    assert_int_equal(t.nbuckets, 64);
    assert_int_equal(t.max_buckets, 64);
    sn_tuple_free(&t);
    assert_int_equal(sn_tuple_init(&t, NULL, 1, UINT32_MAX, 1, 2), 0);
    assert_int_equal(t.max_buckets, UINT32_C(1) << 31);
    sn_tuple_free(&t);
}

static void test_insert_find_remove(void **state)
{
    struct sn_tuple_table t;
    assert_int_equal(sn_tuple_init(&t, NULL, 8, 8, 11, 22), 0);
    struct sn_tuple_entry a = {.tuple = tup(0x0a000001, 80, 0x0a000002, 40000)};
    struct sn_tuple_entry b = {.tuple = tup(0x0a000001, 80, 0x0a000002, 40001)};
    struct sn_tuple_entry dup = {.tuple = a.tuple};
    struct synack_tuple k = a.tuple;

    assert_null(sn_tuple_find(&t, &k)); /* empty table */
    assert_null(sn_tuple_lookup(&t, &k));
    assert_int_equal(sn_tuple_insert(&t, &a), 0);
    assert_int_equal(sn_tuple_insert(&t, &b), 0);
    assert_int_equal(t.count, 2);
    assert_ptr_equal(sn_tuple_find(&t, &k), &a);
    k.rport = 40001;
    assert_ptr_equal(sn_tuple_find(&t, &k), &b);
    k.rport = 40002;
    assert_null(sn_tuple_find(&t, &k));
    /* each field takes part in the key */
    struct synack_tuple near[4] = {a.tuple, a.tuple, a.tuple, a.tuple};
    near[0].laddr++;
    near[1].raddr++;
    near[2].lport++;
    near[3].rport = 1;
    for (int i = 0; i < 4; i++)
        assert_null(sn_tuple_find(&t, &near[i]));

    assert_int_equal(sn_tuple_insert(&t, &dup), -EEXIST);
    assert_int_equal(t.count, 2);
    assert_int_equal(sn_tuple_insert(&t, &a), -EEXIST); /* the same entry again */

    sn_tuple_remove(&t, &a);
    assert_int_equal(t.count, 1);
    assert_null(sn_tuple_find(&t, &a.tuple));
    assert_ptr_equal(sn_tuple_find(&t, &b.tuple), &b);
    sn_tuple_remove(&t, &a); /* not in the table: no-op */
    assert_int_equal(t.count, 1);
    struct sn_tuple_entry stranger = {.tuple = tup(9, 9, 9, 9), .hash = 0xdeadbeef};
    sn_tuple_remove(&t, &stranger); /* never inserted, garbage hash */
    assert_int_equal(t.count, 1);
    assert_int_equal(sn_tuple_insert(&t, &dup), 0); /* the tuple is free again */
    assert_ptr_equal(sn_tuple_find(&t, &a.tuple), &dup);
    sn_tuple_remove(&t, &dup);
    sn_tuple_remove(&t, &b);
    assert_int_equal(t.count, 0);
    sn_tuple_free(&t);
}

static void test_listener_fallback(void **state)
{
    struct sn_tuple_table t;
    assert_int_equal(sn_tuple_init(&t, NULL, 4, 64, 5, 6), 0);
    const uint32_t L1 = 0xc0a80001, L2 = 0xc0a80002, R = 0x08080808;
    struct sn_tuple_entry conn = {.tuple = tup(L1, 443, R, 50000)};
    struct sn_tuple_entry lis_l1 = {.tuple = tup(L1, 443, 0, 0)};
    struct sn_tuple_entry lis_any = {.tuple = tup(0, 443, 0, 0)};
    struct sn_tuple_entry other_port = {.tuple = tup(0, 80, 0, 0)};
    assert_int_equal(sn_tuple_insert(&t, &lis_any), 0);
    assert_int_equal(sn_tuple_insert(&t, &lis_l1), 0);
    assert_int_equal(sn_tuple_insert(&t, &conn), 0);
    assert_int_equal(sn_tuple_insert(&t, &other_port), 0);

    struct synack_tuple k = tup(L1, 443, R, 50000);
    assert_ptr_equal(sn_tuple_lookup(&t, &k), &conn);      /* exact first */
    k.rport = 50001;
    assert_ptr_equal(sn_tuple_lookup(&t, &k), &lis_l1);    /* then (laddr, lport) */
    assert_null(sn_tuple_find(&t, &k));                    /* find never falls back */
    k.laddr = L2;
    assert_ptr_equal(sn_tuple_lookup(&t, &k), &lis_any);   /* then (0, lport) */
    k.lport = 8080;
    assert_null(sn_tuple_lookup(&t, &k));                  /* no listener on that port */
    k.lport = 80;
    assert_ptr_equal(sn_tuple_lookup(&t, &k), &other_port);

    sn_tuple_remove(&t, &lis_l1);
    k = tup(L1, 443, R, 1);
    assert_ptr_equal(sn_tuple_lookup(&t, &k), &lis_any);
    sn_tuple_remove(&t, &lis_any);
    assert_null(sn_tuple_lookup(&t, &k));
    k.rport = 50000;
    assert_ptr_equal(sn_tuple_lookup(&t, &k), &conn);
    /* a listener on (L1, lport) is not found through another local port */
    assert_int_equal(sn_tuple_insert(&t, &lis_l1), 0);
    k = tup(L1, 444, R, 1);
    assert_null(sn_tuple_lookup(&t, &k));
    sn_tuple_free(&t);
}

/* The last exact match is remembered (no hash for back-to-back segments of
 * one connection) and forgotten when its entry leaves the table: a lookup
 * never returns a removed entry, and another tuple never hits the cache. */
static void test_last_match_cache(void **state)
{
    struct sn_tuple_table t;
    assert_int_equal(sn_tuple_init(&t, NULL, 4, 64, 7, 8), 0);
    struct sn_tuple_entry a = {.tuple = tup(1, 80, 2, 1000)};
    struct sn_tuple_entry b = {.tuple = tup(1, 80, 2, 1001)};
    struct sn_tuple_entry lis = {.tuple = tup(0, 80, 0, 0)};
    assert_int_equal(sn_tuple_insert(&t, &a), 0);
    assert_int_equal(sn_tuple_insert(&t, &b), 0);
    assert_int_equal(sn_tuple_insert(&t, &lis), 0);
    struct synack_tuple ka = tup(1, 80, 2, 1000), kb = tup(1, 80, 2, 1001), kc = tup(1, 80, 2, 7);
    assert_ptr_equal(sn_tuple_lookup(&t, &ka), &a);
    assert_ptr_equal(t.last, &a);
    assert_ptr_equal(sn_tuple_lookup(&t, &ka), &a);      /* from the cache */
    assert_ptr_equal(sn_tuple_lookup(&t, &kb), &b);      /* another tuple: not the cached one */
    assert_ptr_equal(t.last, &b);
    assert_ptr_equal(sn_tuple_lookup(&t, &kc), &lis);    /* listener hits are not cached */
    assert_ptr_equal(t.last, &b);
    sn_tuple_remove(&t, &b);
    assert_null(t.last);
    assert_ptr_equal(sn_tuple_lookup(&t, &kb), &lis);    /* the removed entry is not returned */
    assert_ptr_equal(sn_tuple_lookup(&t, &ka), &a);
    sn_tuple_remove(&t, &lis);                           /* removing another entry keeps the cache */
    assert_ptr_equal(t.last, &a);
    sn_tuple_remove(&t, &a);
    assert_null(t.last);
    assert_null(sn_tuple_lookup(&t, &ka));
    sn_tuple_free(&t);
    assert_null(t.last);
}

/* The hash is pair-multiply-shift over the words laddr, raddr and
 * lport << 16 | rport, under multipliers expanded from the key by
 * splitmix64 (tuple_table.c): computed from the fields, so no struct
 * padding reaches it. */
static void test_hash_layout(void **state)
{
    struct sn_tuple_table t;
    assert_int_equal(sn_tuple_init(&t, NULL, 8, 8, ref_key[0], ref_key[1]), 0);
    struct sn_tuple_entry e = {.tuple = tup(0x03020100, 0x0908, 0x07060504, 0x0b0a)};
    assert_int_equal(sn_tuple_insert(&t, &e), 0);
    uint64_t x = ref_key[0], y = ref_key[1], a[5];
    for (int i = 0; i < 5; i++)
        a[i] = sn_splitmix64(i < 3 ? &x : &y);
    uint64_t h = (a[0] + 0x07060504u) * (a[1] + 0x03020100u) + a[2] * (a[3] + 0x09080b0au) + a[4];
    assert_int_equal(e.hash, (uint32_t)(h >> 32));
    assert_int_equal(sn_tuple_hash(&t, &e.tuple), e.hash);
    sn_tuple_remove(&t, &e);
    sn_tuple_free(&t);
}

/* Tuples that differ only in the remote port (a client's connections, or a
 * flood from one host) spread over the buckets: with 4096 of them in 4096
 * buckets, no chain is long (about ln n / ln ln n expected for a random
 * function; 12 would be a sign of structure). */
static void test_hash_spread(void **state)
{
    enum { N = 4096 };
    for (uint64_t key = 1; key <= 4; key++) {
        struct sn_tuple_table t;
        assert_int_equal(sn_tuple_init(&t, NULL, N, N, key, key * 77), 0);
        static uint16_t chain[N];
        memset(chain, 0, sizeof(chain));
        unsigned longest = 0;
        for (uint32_t i = 0; i < N; i++) {
            struct synack_tuple k = tup(0x0a000002, 80, 0x0a000001, (uint16_t)(32768 + i));
            uint32_t b = sn_tuple_hash(&t, &k) & (N - 1);
            if (++chain[b] > longest)
                longest = chain[b];
        }
        assert_true(longest < 12);
        sn_tuple_free(&t);
    }
}

/* Equal hashes are not enough: every field is compared.  A 32-bit collision
 * is forced by editing an entry's tuple in place, which keeps its hash. */
static void test_collision_compares_fields(void **state)
{
    struct sn_tuple_table t;
    assert_int_equal(sn_tuple_init(&t, NULL, 1, 1, 1, 2), 0);
    struct sn_tuple_entry e = {.tuple = tup(10, 20, 30, 40)};
    const struct synack_tuple key = e.tuple;
    assert_int_equal(sn_tuple_insert(&t, &e), 0);
    for (int f = 0; f < 4; f++) {
        e.tuple = key;
        switch (f) {
        case 0: e.tuple.laddr++; break;
        case 1: e.tuple.raddr++; break;
        case 2: e.tuple.lport++; break;
        default: e.tuple.rport++; break;
        }
        assert_null(sn_tuple_find(&t, &key));
    }
    e.tuple = key;
    assert_ptr_equal(sn_tuple_find(&t, &key), &e);
    sn_tuple_free(&t);
}

static struct synack_tuple random_tuple(struct sn_rng *rng)
{
    uint64_t x = sn_rng_next(rng), y = sn_rng_next(rng);
    return tup((uint32_t)x, (uint16_t)(y >> 16), (uint32_t)(x >> 32), (uint16_t)(y | 1));
}

static void test_growth(void **state)
{
    enum { N = 100000 };
    struct sn_rng rng;
    sn_rng_seed(&rng, 3);
    struct sn_tuple_table t;
    assert_int_equal(sn_tuple_init(&t, NULL, 1, 1u << 20, 0x1234, 0x5678), 0);
    struct sn_tuple_entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    for (uint32_t i = 0; i < N; i++) {
        int rc;
        do {
            e[i].tuple = random_tuple(&rng);
            rc = sn_tuple_insert(&t, &e[i]);
            assert_true(rc == 0 || rc == -EEXIST);
        } while (rc != 0);
        assert_true(t.count <= t.nbuckets); /* load stays <= 1 */
        assert_int_equal(t.nbuckets & (t.nbuckets - 1), 0);
    }
    assert_int_equal(t.count, N);
    assert_int_equal(t.nbuckets, 131072);
    for (uint32_t i = 0; i < N; i++)
        assert_ptr_equal(sn_tuple_find(&t, &e[i].tuple), &e[i]);
    for (uint32_t i = 0; i < N; i += 2)
        sn_tuple_remove(&t, &e[i]);
    assert_int_equal(t.count, N / 2);
    for (uint32_t i = 0; i < N; i++) {
        if (i % 2)
            assert_ptr_equal(sn_tuple_find(&t, &e[i].tuple), &e[i]);
        else
            assert_null(sn_tuple_find(&t, &e[i].tuple));
    }
    sn_tuple_free(&t);
    free(e);
}

static void test_max_buckets(void **state)
{
    enum { N = 1000 };
    struct sn_rng rng;
    sn_rng_seed(&rng, 4);
    struct sn_tuple_table t;
    assert_int_equal(sn_tuple_init(&t, NULL, 4, 10, 7, 8), 0); /* max rounds up to 16 */
    assert_int_equal(t.max_buckets, 16);
    struct sn_tuple_entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    for (uint32_t i = 0; i < N; i++) {
        e[i].tuple = random_tuple(&rng);
        e[i].tuple.lport = (uint16_t)i; /* distinct */
        assert_int_equal(sn_tuple_insert(&t, &e[i]), 0);
        assert_true(t.nbuckets <= 16);
    }
    assert_int_equal(t.nbuckets, 16);
    assert_int_equal(t.count, N);
    for (uint32_t i = 0; i < N; i++)
        assert_ptr_equal(sn_tuple_lookup(&t, &e[i].tuple), &e[i]);
    for (uint32_t i = 0; i < N; i++)
        sn_tuple_remove(&t, &e[i]);
    assert_int_equal(t.count, 0);
    for (uint32_t i = 0; i < t.nbuckets; i++)
        assert_null(t.buckets[i]);
    sn_tuple_free(&t);
    free(e);
}

/* Different keys place the same tuples differently (the hash is keyed), yet
 * each table finds everything. */
static void test_keyed(void **state)
{
    struct sn_tuple_table t1, t2;
    assert_int_equal(sn_tuple_init(&t1, NULL, 1024, 1024, 1, 2), 0);
    assert_int_equal(sn_tuple_init(&t2, NULL, 1024, 1024, 3, 4), 0);
    struct sn_tuple_entry a[64], b[64];
    int differ = 0;
    for (uint16_t i = 0; i < 64; i++) {
        a[i] = (struct sn_tuple_entry){.tuple = tup(0x7f000001, 5000, 0x7f000001, (uint16_t)(10000 + i))};
        b[i] = a[i];
        assert_int_equal(sn_tuple_insert(&t1, &a[i]), 0);
        assert_int_equal(sn_tuple_insert(&t2, &b[i]), 0);
        differ += a[i].hash != b[i].hash;
    }
    assert_true(differ > 60);
    for (int i = 0; i < 64; i++) {
        assert_ptr_equal(sn_tuple_find(&t1, &a[i].tuple), &a[i]);
        assert_ptr_equal(sn_tuple_find(&t2, &b[i].tuple), &b[i]);
    }
    sn_tuple_free(&t1);
    sn_tuple_free(&t2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_hash_spread),
        cmocka_unit_test(test_init_rounding),
        cmocka_unit_test(test_insert_find_remove),
        cmocka_unit_test(test_listener_fallback),
        cmocka_unit_test(test_last_match_cache),
        cmocka_unit_test(test_hash_layout),
        cmocka_unit_test(test_collision_compares_fields),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_max_buckets),
        cmocka_unit_test(test_keyed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
