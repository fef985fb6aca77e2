/* Chunked ring buffers (src/tcp/tcp_buf.c): memory follows the data held, a
 * chunk at a time, and goes back to zero when the ring empties; bytes come
 * back in order across chunk boundaries and wrap-around; parked data past the
 * end survives consumption; growth keeps offsets; the stack's memory account
 * balances and a budget refuses what exceeds it (a short write when it
 * refuses partway).  Copy-and-checksum out of
 * the ring gives the bytes and the sum a plain peek and a separate checksum
 * pass give, wherever the data wraps or crosses a chunk (also at an odd
 * offset, where the next piece's sum is byte-swapped). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "synack/wire.h"
#include "tcp/tcp_buf.h"

#define CAP (256u * 1024u)

static void fill(uint8_t *p, size_t n, uint32_t from)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((from + i) * 2654435761u >> 24);
}

/* A ring holding 10 bytes holds one chunk and its table, not its capacity. */
static void test_small_data_small_memory(void **state)
{
    (void)state;
    struct sn_mem m = {0};
    struct sn_ring r = {.cap = CAP};
    assert_int_equal(sn_ring_mem(&r), 0);
    assert_int_equal(sn_ring_write(&r, &m, "0123456789", 10), 10);
    assert_true(sn_ring_mem(&r) >= SN_BUF_CHUNK);
    assert_true(sn_ring_mem(&r) < 2 * SN_BUF_CHUNK);
    assert_int_equal(m.used, sn_ring_mem(&r));
    char out[10];
    sn_ring_peek(&r, 0, out, 10);
    assert_memory_equal(out, "0123456789", 10);
    sn_ring_consume(&r, &m, 10, false);
    assert_int_equal(r.len, 0);
    assert_int_equal(sn_ring_mem(&r), 0);
    assert_null(r.t);
    assert_int_equal(m.used, 0);
    assert_true(m.peak >= SN_BUF_CHUNK);
    sn_ring_cache_free(&m);
}

/* Stream many bytes through in odd-sized writes and reads: the bytes come
 * back in order, and memory never exceeds the data held by more than two
 * chunks plus the table. */
static void test_stream_order_and_memory(void **state)
{
    (void)state;
    struct sn_mem m = {0};
    struct sn_ring r = {.cap = 20000};
    static uint8_t in[7919], out[7919];
    uint32_t wrote = 0, read = 0;
    for (int round = 0; round < 400; round++) {
        size_t n = (size_t)(round * 37 % 7919) + 1;
        fill(in, n, wrote);
        long w = sn_ring_write(&r, &m, in, n);
        assert_true(w >= 0);
        wrote += (uint32_t)w;
        uint32_t k = r.len / 2 + (uint32_t)(round % 3);
        if (k > r.len)
            k = r.len;
        sn_ring_peek(&r, 0, out, k);
        fill(in, k, read);
        assert_memory_equal(out, in, k);
        sn_ring_consume(&r, &m, k, false);
        read += k;
        uint32_t chunks = (r.len + SN_BUF_CHUNK - 1) / SN_BUF_CHUNK + 1;
        assert_true(sn_ring_mem(&r) <= chunks * SN_BUF_CHUNK + 256);
        assert_int_equal(m.used, sn_ring_mem(&r));
    }
    assert_true(wrote > 100000);
    sn_ring_release(&r, &m);
    assert_int_equal(m.used, 0);
    sn_ring_cache_free(&m);
}

/* A full ring refuses more; data parked past the end (as the reassembly
 * queue does) stays across consumption and becomes readable by extension. */
static void test_full_and_parked(void **state)
{
    (void)state;
    struct sn_mem m = {0};
    struct sn_ring r = {.cap = 3 * SN_BUF_CHUNK};
    static uint8_t a[3 * SN_BUF_CHUNK], b[3 * SN_BUF_CHUNK];
    fill(a, sizeof(a), 0);
    assert_int_equal(sn_ring_write(&r, &m, a, 100), 100);
    /* Park bytes [5000, 9000) relative to the head, then consume the 100:
     * the chunk behind the head goes, the parked bytes stay. */
    assert_int_equal(sn_ring_put_at(&r, &m, 5000, a + 5000, 4000), 0);
    assert_int_equal(sn_ring_put_at(&r, &m, r.cap - 10, a, 11), -ENOBUFS);
    sn_ring_consume(&r, &m, 100, true);
    assert_non_null(r.t);
    /* The gap [100, 5000) from the original head is now [0, 4900). */
    assert_int_equal(sn_ring_put_at(&r, &m, 0, a + 100, 4900), 0);
    sn_ring_extend(&r, 8900);
    sn_ring_peek(&r, 0, b, 8900);
    assert_memory_equal(b, a + 100, 8900);
    assert_int_equal(sn_ring_write(&r, &m, a, sizeof(a)), (long)(r.cap - 8900));
    assert_int_equal(sn_ring_write(&r, &m, a, 1), 0);
    sn_ring_release(&r, &m);
    assert_int_equal(m.used, 0);
    sn_ring_cache_free(&m);
}

/* Growing a ring in use keeps every byte at its offset, parked ones too. */
static void test_resize_keeps_offsets(void **state)
{
    (void)state;
    struct sn_mem m = {0};
    struct sn_ring r = {.cap = 2 * SN_BUF_CHUNK};
    static uint8_t a[4 * SN_BUF_CHUNK], b[4 * SN_BUF_CHUNK];
    fill(a, sizeof(a), 7);
    /* Move the head off zero so the chunks are rotated. */
    assert_int_equal(sn_ring_write(&r, &m, a, 6000), 6000);
    sn_ring_consume(&r, &m, 5000, false);
    assert_int_equal(sn_ring_write(&r, &m, a + 6000, 2000), 2000);
    assert_int_equal(sn_ring_put_at(&r, &m, 3500, a + 8500, 500), 0);
    assert_int_equal(sn_ring_resize(&r, &m, 4 * SN_BUF_CHUNK), 0);
    assert_int_equal(r.cap, 4 * SN_BUF_CHUNK);
    sn_ring_peek(&r, 0, b, 3000);
    assert_memory_equal(b, a + 5000, 3000);
    sn_ring_peek(&r, 3500, b, 500);
    assert_memory_equal(b, a + 8500, 500);
    /* Now room for the new capacity. */
    assert_int_equal(sn_ring_write(&r, &m, a, sizeof(a)), (long)(r.cap - 3000));
    assert_int_equal(sn_ring_resize(&r, &m, SN_BUF_CHUNK), 0); /* in use: never shrinks */
    assert_int_equal(r.cap, 4 * SN_BUF_CHUNK);
    assert_int_equal(m.used, sn_ring_mem(&r));
    sn_ring_release(&r, &m);
    assert_int_equal(m.used, 0);
    sn_ring_cache_free(&m);
}

/* A memory budget: a write that would need a chunk past it stores nothing
 * and says -ENOMEM; the account is left as it was. */
static void test_budget_refuses(void **state)
{
    (void)state;
    struct sn_mem m = {.limit = SN_BUF_CHUNK + 1024};
    struct sn_ring r = {.cap = CAP};
    static uint8_t a[2 * SN_BUF_CHUNK];
    fill(a, sizeof(a), 1);
    assert_int_equal(sn_ring_write(&r, &m, a, SN_BUF_CHUNK), SN_BUF_CHUNK);
    uint64_t used = m.used;
    assert_int_equal(sn_ring_write(&r, &m, a, 10), -ENOMEM);
    assert_int_equal(r.len, SN_BUF_CHUNK);
    assert_int_equal(m.used, used);
    assert_true(m.failed > 0);
    sn_ring_consume(&r, &m, SN_BUF_CHUNK, false);
    assert_int_equal(m.used, 0);
    assert_int_equal(sn_ring_write(&r, &m, a, 10), 10);
    sn_ring_release(&r, &m);
    assert_int_equal(m.used, 0);
    sn_ring_cache_free(&m);
}

/* A write the budget refuses partway is a short write: what fits in the
 * chunks the budget allowed is stored and counted, and no chunk is left
 * allocated without data (the memory follows the data). */
static void test_budget_short_write(void **state)
{
    (void)state;
    struct sn_mem m = {.limit = 2 * SN_BUF_CHUNK + 1024};
    struct sn_ring r = {.cap = CAP};
    static uint8_t a[5 * SN_BUF_CHUNK], out[5 * SN_BUF_CHUNK];
    fill(a, sizeof(a), 3);
    assert_int_equal(sn_ring_write(&r, &m, a, 100), 100);
    assert_int_equal(sn_ring_write(&r, &m, a + 100, sizeof(a) - 100), 2 * SN_BUF_CHUNK - 100);
    assert_int_equal(r.len, 2 * SN_BUF_CHUNK);
    assert_int_equal(m.used, sn_ring_mem(&r));
    assert_true(sn_ring_mem(&r) < 3 * SN_BUF_CHUNK); /* two chunks and the table */
    assert_int_equal(sn_ring_write(&r, &m, a, 1), -ENOMEM);
    sn_ring_peek(&r, 0, out, r.len);
    assert_memory_equal(out, a, r.len);
    sn_ring_release(&r, &m);
    assert_int_equal(m.used, 0);
    sn_ring_cache_free(&m);
}

static void peek_csum_check(struct sn_ring *r, uint32_t off, uint32_t n, uint32_t init)
{
    static uint8_t out[3 * SN_BUF_CHUNK], ref[3 * SN_BUF_CHUNK];
    memset(out, 0, n);
    uint32_t sum = sn_ring_peek_csum(r, off, out, n, init);
    sn_ring_peek(r, off, ref, n);
    assert_memory_equal(out, ref, n);
    assert_int_equal(synack_csum_fold(sum), synack_csum_fold(synack_csum_partial(ref, n, init)));
}

static void test_peek_csum_every_wrap(void **state)
{
    (void)state;
    struct sn_mem m = {0};
    struct sn_ring r = {.cap = 97}; /* odd capacity: wraps at odd and even offsets */
    uint8_t src[97], out[97];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 151 + 17);
    for (uint32_t head = 0; head < r.cap; head++) {
        sn_ring_release(&r, &m);
        assert_int_equal(sn_ring_write(&r, &m, src, head), (long)head);
        sn_ring_consume(&r, &m, head, true); /* the data now starts at `head` */
        assert_int_equal(sn_ring_write(&r, &m, src, sizeof(src)), (long)sizeof(src));
        for (uint32_t off = 0; off < 5; off++) {
            for (uint32_t n = 0; off + n <= r.len; n += 7) {
                peek_csum_check(&r, off, n, 0x1234u + head);
                sn_ring_peek(&r, off, out, n);
                assert_memory_equal(out, src + off, n);
            }
        }
    }
    sn_ring_release(&r, &m);
    /* Across chunk boundaries, at every parity. */
    struct sn_ring big = {.cap = 3 * SN_BUF_CHUNK};
    static uint8_t a[3 * SN_BUF_CHUNK];
    fill(a, sizeof(a), 3);
    assert_int_equal(sn_ring_write(&big, &m, a, 1001), 1001);
    sn_ring_consume(&big, &m, 1001, true);
    assert_int_equal(sn_ring_write(&big, &m, a, sizeof(a)), (long)sizeof(a));
    for (uint32_t off = SN_BUF_CHUNK - 1100; off < SN_BUF_CHUNK - 1090; off++)
        for (uint32_t n = 1; n < 2 * SN_BUF_CHUNK; n += 997)
            peek_csum_check(&big, off, n, 7);
    sn_ring_release(&big, &m);
    assert_int_equal(m.used, 0);
    sn_ring_cache_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_data_small_memory),
        cmocka_unit_test(test_stream_order_and_memory),
        cmocka_unit_test(test_full_and_parked),
        cmocka_unit_test(test_resize_keeps_offsets),
        cmocka_unit_test(test_budget_refuses),
        cmocka_unit_test(test_budget_short_write),
        cmocka_unit_test(test_peek_csum_every_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
