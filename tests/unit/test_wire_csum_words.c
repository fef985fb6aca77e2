/* sn_csum_words (src/wire/csum_words.h), the in-line checksum of headers,
 * against the general synack_csum_partial: the same value for every word
 * count a header can have, random bytes and random incoming sums, and the
 * edges of the fold (all-zero and all-ones words, sums at 0xffff). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "synack/wire.h"
#include "wire/csum_words.h"

static uint64_t rnd(uint64_t *s) /* xorshift64* */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static void test_random_words(void **state)
{
    (void)state;
    uint64_t s = 99;
    uint8_t b[4 * SN_CSUM_WORDS_MAX + 3];

    for (int i = 0; i < 100000; i++) {
        for (size_t k = 0; k < sizeof b; k++)
            b[k] = (uint8_t)rnd(&s);
        size_t n = (size_t)(rnd(&s) % (SN_CSUM_WORDS_MAX + 1));
        size_t off = (size_t)(rnd(&s) % 4); /* any alignment */
        uint32_t sum = (uint32_t)rnd(&s);
        if (i % 3 == 0)
            sum = (uint32_t)(rnd(&s) % 0x60000); /* what a pseudo-header sum is */
        assert_int_equal(sn_csum_words(b + off, n, sum), synack_csum_partial(b + off, 4 * n, sum));
    }
}

static void test_fold_edges(void **state)
{
    (void)state;
    static const uint8_t fill[] = {0x00, 0xff, 0x80, 0x7f, 0x01};
    static const uint32_t sums[] = {0, 1, 0xfffe, 0xffff, 0x10000, 0x5fffa, 0xffffffffu};
    uint8_t b[4 * SN_CSUM_WORDS_MAX];

    for (size_t f = 0; f < sizeof fill; f++)
        for (size_t n = 0; n <= SN_CSUM_WORDS_MAX; n++)
            for (size_t k = 0; k < sizeof sums / sizeof sums[0]; k++) {
                memset(b, fill[f], sizeof b);
                assert_int_equal(sn_csum_words(b, n, sums[k]), synack_csum_partial(b, 4 * n, sums[k]));
                /* One word that brings the sum to 0xffff (negative zero). */
                if (n > 0) {
                    memset(b, 0, sizeof b);
                    b[0] = 0xff;
                    b[1] = 0xff;
                    assert_int_equal(sn_csum_words(b, n, sums[k]),
                                     synack_csum_partial(b, 4 * n, sums[k]));
                }
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_words),
        cmocka_unit_test(test_fold_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
