/* The Internet checksum: known vectors, the fast sum against RFC 1071's
 * reference loop at every length and alignment, incremental updates. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "synack/wire.h"

static uint64_t rnd(uint64_t *s)   /* xorshift64*: reproducible test data */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static void fill_random(uint8_t *p, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd(s);
}

/* RFC 1071 section 4.1, on big-endian 16-bit words: the reference. */
static uint16_t naive_csum(const uint8_t *p, size_t len, uint32_t init)
{
    uint64_t sum = init;

    for (; len > 1; len -= 2, p += 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (len)
        sum += (uint32_t)p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void test_ipv4_header_vector(void **state)
{
    (void)state;
    uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                     0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

    assert_int_equal(synack_csum(h, sizeof h), 0);
    h[10] = h[11] = 0;
    assert_int_equal(synack_csum(h, sizeof h), 0xb861);
    /* at an odd address too */
    uint8_t shifted[21];
    memcpy(shifted + 1, h, sizeof h);
    assert_int_equal(synack_csum(shifted + 1, sizeof h), 0xb861);
}

static void test_rfc1071_example(void **state)
{
    (void)state;
    /* RFC 1071 section 3: these bytes sum to 0xddf2 (checksum 0x220d). */
    const uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

    assert_int_equal(synack_csum_fold(synack_csum_partial(b, 8, 0)), 0x220d);
    assert_int_equal(synack_csum(b, 8), 0x220d);
    /* the sum itself is 0xddf2 once folded */
    assert_int_equal((uint16_t)~synack_csum_fold(synack_csum_partial(b, 8, 0)), 0xddf2);
}

static void test_small_cases(void **state)
{
    (void)state;
    const uint8_t one = 0xab, two[2] = {0x12, 0x34}, three[3] = {0x12, 0x34, 0x56};

    assert_int_equal(synack_csum(NULL, 0), 0xffff);
    assert_int_equal(synack_csum(&one, 1), (uint16_t)~0xab00);
    assert_int_equal(synack_csum(two, 2), (uint16_t)~0x1234);
    assert_int_equal(synack_csum(three, 3), (uint16_t)~(0x1234 + 0x5600));
    assert_int_equal(synack_csum_fold(0), 0xffff);
    assert_int_equal(synack_csum_fold(0xffff), 0);
    assert_int_equal(synack_csum_fold(0xffffffffu), 0);
    assert_int_equal(synack_csum_fold(0x0001fffeu), 0);
    assert_int_equal(synack_csum_fold(0x12345678u), (uint16_t)~(0x1234 + 0x5678));
}

/* Every length 0..2048 at every alignment 0..7, with and without an initial sum. */
static void test_fast_equals_reference(void **state)
{
    (void)state;
    static uint8_t buf[2048 + 8];
    uint64_t s = 0x9e3779b97f4a7c15ull;

    fill_random(buf, sizeof buf, &s);
    for (size_t align = 0; align < 8; align++) {
        for (size_t len = 0; len <= 2048; len++) {
            const uint8_t *p = buf + align;
            uint32_t init = (uint32_t)rnd(&s);

            assert_int_equal(synack_csum(p, len), naive_csum(p, len, 0));
            assert_int_equal(synack_csum_fold(synack_csum_partial(p, len, init)),
                             naive_csum(p, len, init));
        }
    }
}

/* Carries: all-ones data makes every addition carry. */
static void test_all_ones(void **state)
{
    (void)state;
    static uint8_t buf[200003];

    memset(buf, 0xff, sizeof buf);
    for (size_t len = 0; len < 300; len++)
        assert_int_equal(synack_csum(buf, len), naive_csum(buf, len, 0));
    assert_int_equal(synack_csum(buf, sizeof buf), naive_csum(buf, sizeof buf, 0));
    assert_int_equal(synack_csum(buf + 1, sizeof buf - 1), naive_csum(buf + 1, sizeof buf - 1, 0));
    assert_int_equal(synack_csum_fold(synack_csum_partial(buf, 65536, 0xffffffffu)),
                     naive_csum(buf, 65536, 0xffffffffu));
}

/* Pieces of even length chain into the sum of the whole. */
static void test_chaining(void **state)
{
    (void)state;
    uint8_t buf[1501];
    uint64_t s = 42;

    fill_random(buf, sizeof buf, &s);
    for (int i = 0; i < 500; i++) {
        size_t a = (size_t)(rnd(&s) % 700) & ~(size_t)1;
        size_t b = a + ((size_t)(rnd(&s) % 700) & ~(size_t)1);
        uint32_t sum = synack_csum_partial(buf, a, 0);

        sum = synack_csum_partial(buf + a, b - a, sum);
        sum = synack_csum_partial(buf + b, sizeof buf - b, sum);
        assert_int_equal(synack_csum_fold(sum), naive_csum(buf, sizeof buf, 0));
    }
}

/* Copy-and-checksum: the same bytes as memcpy and the same sum as
 * synack_csum_partial, at every length up to 2 KiB, every source and
 * destination alignment, with all-ones data (every addition carries) too. */
static void test_copy_equals_memcpy_then_sum(void **state)
{
    (void)state;
    static uint8_t src[2048 + 8], dst[2048 + 16], ones[2048 + 8];
    uint64_t s = 7;

    fill_random(src, sizeof src, &s);
    memset(ones, 0xff, sizeof ones);
    for (size_t sa = 0; sa < 8; sa += 3) {
        for (size_t da = 0; da < 8; da++) {
            for (size_t len = 0; len <= 2048; len += (len < 80 ? 1 : 37)) {
                const uint8_t *from = (len & 1) ? ones + sa : src + sa;
                uint32_t init = (uint32_t)rnd(&s);
                memset(dst, 0xa5, sizeof dst);
                uint32_t sum = synack_csum_copy(dst + da, from, len, init);
                assert_memory_equal(dst + da, from, len);
                assert_int_equal(dst[da + len], 0xa5);   /* nothing past the end */
                if (da > 0)
                    assert_int_equal(dst[da - 1], 0xa5);
                assert_int_equal(synack_csum_fold(sum), naive_csum(from, len, init));
            }
        }
    }
}

/* A piece that starts at an odd offset adds its byte-swapped sum. */
static void test_odd_piece_swab(void **state)
{
    (void)state;
    uint8_t buf[1501];
    uint64_t s = 99;

    fill_random(buf, sizeof buf, &s);
    for (int i = 0; i < 500; i++) {
        size_t a = (size_t)(rnd(&s) % 1500) | 1u;   /* odd */
        uint32_t sum = synack_csum_partial(buf, a, 0);
        sum += synack_csum_swab(synack_csum_partial(buf + a, sizeof buf - a, 0));
        assert_int_equal(synack_csum_fold(sum), naive_csum(buf, sizeof buf, 0));
    }
}

static void test_pseudo_header(void **state)
{
    (void)state;
    /* 192.168.1.10 -> 93.184.216.34, TCP, 40 bytes, as the bytes RFC 9293 3.1 lays out. */
    const uint8_t ph[12] = {192, 168, 1, 10, 93, 184, 216, 34, 0, 6, 0, 40};
    uint32_t p = synack_csum_pseudo(0xc0a8010au, 0x5db8d822u, 6, 40);

    assert_int_equal(synack_csum_fold(p), synack_csum(ph, sizeof ph));
    assert_int_equal(p, 0xc0a8 + 0x010a + 0x5db8 + 0xd822 + 6 + 40);
    assert_int_equal(synack_csum_fold(synack_csum_pseudo(0xffffffffu, 0xffffffffu, 255, 0xffff)),
                     naive_csum((const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                  0, 0xff, 0xff, 0xff}, 12, 0));
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* A 40-byte header with its checksum at offset 16 (like TCP's). */
#define HLEN 40
#define CSUM_OFF 16

static void seal(uint8_t *h)
{
    put16(h + CSUM_OFF, 0);
    put16(h + CSUM_OFF, synack_csum(h, HLEN));
}

static void test_update_equals_recompute(void **state)
{
    (void)state;
    uint64_t s = 7;
    uint8_t h[HLEN];

    for (int i = 0; i < 20000; i++) {
        fill_random(h, HLEN, &s);
        h[0] |= 0x40;   /* never an all-zero header */
        seal(h);
        size_t off = (size_t)(rnd(&s) % (HLEN / 2)) * 2;
        if (off == CSUM_OFF)
            continue;
        uint16_t old = get16(h + off), nv = (uint16_t)rnd(&s);
        if (i % 8 == 0)
            nv = old;   /* an unchanged field keeps the checksum */
        uint16_t inc = synack_csum_update16(get16(h + CSUM_OFF), old, nv);
        put16(h + off, nv);
        seal(h);
        assert_int_equal(inc, get16(h + CSUM_OFF));
        assert_int_equal(synack_csum(h, HLEN), 0);

        /* a 32-bit field at a 16-bit boundary not covering the checksum */
        off = (size_t)(rnd(&s) % (HLEN / 2 - 1)) * 2;
        if (off == CSUM_OFF || off + 2 == CSUM_OFF)
            continue;
        uint32_t old32 = (uint32_t)get16(h + off) << 16 | get16(h + off + 2);
        uint32_t nv32 = (uint32_t)rnd(&s);
        inc = synack_csum_update32(get16(h + CSUM_OFF), old32, nv32);
        put16(h + off, (uint16_t)(nv32 >> 16));
        put16(h + off + 2, (uint16_t)nv32);
        seal(h);
        assert_int_equal(inc, get16(h + CSUM_OFF));
    }
}

/* The boundary RFC 1624 is about: a header whose checksum is 0x0000 (sum -0). */
static void test_update_negative_zero(void **state)
{
    (void)state;
    uint64_t s = 99;
    uint8_t h[HLEN];

    for (int i = 0; i < 1000; i++) {
        fill_random(h, HLEN, &s);
        put16(h + 4, 0);
        put16(h + CSUM_OFF, 0);
        put16(h + 4, synack_csum(h, HLEN));   /* now the words sum to 0xffff */
        assert_int_equal(synack_csum(h, HLEN), 0);
        if (get16(h + 4) == 0xffff || get16(h + 4) == 0)
            continue;
        /* unchanged field: stays 0x0000 (eqn. 2 would give 0xffff) */
        assert_int_equal(synack_csum_update16(0, get16(h + 8), get16(h + 8)), 0);
        uint16_t nv = (uint16_t)rnd(&s);
        uint16_t inc = synack_csum_update16(0, get16(h + 8), nv);
        put16(h + 8, nv);
        seal(h);
        assert_int_equal(inc, get16(h + CSUM_OFF));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_header_vector),
        cmocka_unit_test(test_rfc1071_example),
        cmocka_unit_test(test_small_cases),
        cmocka_unit_test(test_fast_equals_reference),
        cmocka_unit_test(test_all_ones),
        cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_copy_equals_memcpy_then_sum),
        cmocka_unit_test(test_odd_piece_swab),
        cmocka_unit_test(test_pseudo_header),
        cmocka_unit_test(test_update_equals_recompute),
        cmocka_unit_test(test_update_negative_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
