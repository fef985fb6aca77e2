/* Checksum-offloaded input (synack_stack_input_meta, SYNACK_RX_CSUM_VALID):
 * a segment whose TCP checksum the driver vouches for is not verified
 * again, so one with a wrong checksum (as the kernel hands over its own
 * partially checksummed packets) is taken; the same bytes without the flag
 * are dropped as bad, and the flag lasts for one packet only.  A damaged
 * header is refused with or without the flag. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "synack/stack.h"
#include "synack/wire.h"
#include "unit/raw_peer.h"

/* A SYN from PEER:sport to the listener, with its TCP checksum spoiled. */
static size_t bad_syn(uint8_t *pkt, size_t cap, uint16_t sport)
{
    struct synack_tcp_opts o = {.present = SYNACK_TCPOPT_F_MSS, .mss = 1460};
    size_t len = raw_seg(pkt, cap, PEER, sport, SYNACK_TH_SYN, 5000, 0, &o, NULL, 0);
    pkt[20 + 16] ^= 0x5a; /* the TCP checksum field */
    return len;
}

static void test_csum_valid_flag(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 16, 8);
    uint8_t pkt[128];
    size_t len = bad_syn(pkt, sizeof(pkt), 40000);
    synack_time_t now = synack_stack_now(h.s);

    /* Verified: dropped as bad, nothing sent. */
    uint64_t bad = st(&h)->tcp_drop_bad;
    assert_int_equal(synack_stack_input(h.s, pkt, len, now), -EBADMSG);
    assert_int_equal(st(&h)->tcp_drop_bad, bad + 1);
    assert_int_equal(h.nout, 0);

    /* Vouched for by the driver: taken, answered with a SYN-ACK. */
    assert_int_equal(synack_stack_input_meta(h.s, pkt, len, now, SYNACK_RX_CSUM_VALID), 0);
    assert_int_equal(st(&h)->tcp_drop_bad, bad + 1);
    assert_int_equal(h.nsynack, 1);
    assert_int_equal(h.last.ack, 5001);
    assert_int_equal(st(&h)->tcp_halfopen, 1);

    /* The flag was for that packet only: the next one is verified again. */
    len = bad_syn(pkt, sizeof(pkt), 40001);
    assert_int_equal(synack_stack_input(h.s, pkt, len, now), -EBADMSG);
    assert_int_equal(synack_stack_input_meta(h.s, pkt, len, now, 0), -EBADMSG);
    assert_int_equal(st(&h)->tcp_drop_bad, bad + 3);
    assert_int_equal(h.nsynack, 1);

    /* A header that cannot be a TCP header (data offset below 5) is
     * refused even when the checksum is vouched for. */
    pkt[20 + 12] = 0x40;
    assert_true(synack_stack_input_meta(h.s, pkt, len, now, SYNACK_RX_CSUM_VALID) < 0);
    assert_int_equal(h.nsynack, 1);
    assert_int_equal(st(&h)->tcp_halfopen, 1);
    synack_stack_free(h.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csum_valid_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
