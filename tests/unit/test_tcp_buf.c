/* The send/receive ring: copy-and-checksum out of the ring gives the bytes
 * and the sum a plain peek and a separate checksum pass give, wherever the
 * data wraps (also at an odd offset, where the second piece's sum is
 * byte-swapped). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "synack/wire.h"
#include "tcp/tcp_buf.h"

static void test_peek_csum_every_wrap(void **state)
{
    (void)state;
    struct sn_ring r = {.cap = 97}; /* odd capacity: wraps at odd and even offsets */
    uint8_t src[97], out[97], ref[97];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 151 + 17);
    for (uint32_t head = 0; head < r.cap; head++) {
        sn_ring_release(&r);
        assert_int_equal(sn_ring_write(&r, src, head), (long)head);
        sn_ring_consume(&r, head);          /* the data now starts at `head` */
        assert_int_equal(sn_ring_write(&r, src, sizeof(src)), (long)sizeof(src));
        for (uint32_t off = 0; off < 5; off++) {
            for (uint32_t n = 0; off + n <= r.len; n += 7) {
                uint32_t init = 0x1234u + head;
                memset(out, 0, sizeof(out));
                uint32_t sum = sn_ring_peek_csum(&r, off, out, n, init);
                sn_ring_peek(&r, off, ref, n);
                assert_memory_equal(out, ref, n);
                assert_memory_equal(out, src + off, n);
                assert_int_equal(synack_csum_fold(sum),
                                 synack_csum_fold(synack_csum_partial(ref, n, init)));
            }
        }
    }
    sn_ring_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peek_csum_every_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
