/* ICMPv4 codec: echoes, unreachables with the RFC 1191 MTU, time exceeded,
 * and every malformed case. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "synack/wire.h"

static uint64_t rnd(uint64_t *s)   /* xorshift64* */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

/* Echo request id 0x1234 seq 1 "abcdefgh"; checksum computed independently. */
static const uint8_t echo_req[16] = {0x08, 0x00, 0x54, 0x35, 0x12, 0x34, 0x00, 0x01,
                                     'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};

static void reseal(uint8_t *b, size_t len)
{
    b[2] = b[3] = 0;
    uint16_t c = synack_csum(b, len);
    b[2] = (uint8_t)(c >> 8);
    b[3] = (uint8_t)c;
}

/* An ICMP error quoting a 20-byte IPv4 header and `extra` bytes after it. */
static size_t make_error(uint8_t *b, uint8_t type, uint8_t code, uint16_t mtu, size_t extra)
{
    static const uint8_t quote[20] = {0x45, 0x00, 0x05, 0xdc, 0xbe, 0xef, 0x40, 0x00, 0x40, 0x06,
                                      0x00, 0x00, 10, 0, 0, 1, 10, 0, 0, 2};
    b[0] = type;
    b[1] = code;
    b[4] = b[5] = 0;
    b[6] = (uint8_t)(mtu >> 8);
    b[7] = (uint8_t)mtu;
    memcpy(b + 8, quote, sizeof quote);
    for (size_t i = 0; i < extra; i++)
        b[28 + i] = (uint8_t)(0xa0 + i);
    reseal(b, 28 + extra);
    return 28 + extra;
}

static void test_parse_echo_request(void **state)
{
    (void)state;
    struct synack_icmp_hdr h;

    assert_int_equal(synack_icmp_parse(echo_req, sizeof echo_req, &h), SYNACK_WIRE_OK);
    assert_int_equal(h.type, SYNACK_ICMP_ECHO_REQUEST);
    assert_int_equal(h.code, 0);
    assert_int_equal(h.checksum, 0x5435);
    assert_int_equal(h.id, 0x1234);
    assert_int_equal(h.seq, 1);
    assert_int_equal(h.mtu, 0);
    assert_ptr_equal(h.data, echo_req + 8);
    assert_int_equal(h.data_len, 8);
}

static void test_emit_echo_request(void **state)
{
    (void)state;
    struct synack_icmp_hdr h = {.type = SYNACK_ICMP_ECHO_REQUEST, .id = 0x1234, .seq = 1,
                                .data = (const uint8_t *)"abcdefgh", .data_len = 8};
    uint8_t out[16];

    assert_int_equal(synack_icmp_emit(out, sizeof out, &h), 16);
    assert_memory_equal(out, echo_req, sizeof echo_req);
    assert_int_equal(synack_icmp_emit(out, 15, &h), SYNACK_WIRE_ENOSPC);
    h.data_len = 0;
    assert_int_equal(synack_icmp_emit(out, 8, &h), 8);
    assert_int_equal(synack_icmp_emit(out, 7, &h), SYNACK_WIRE_ENOSPC);
}

/* Turning a request into a reply in place: data already at buf + 8. */
static void test_echo_reply_in_place(void **state)
{
    (void)state;
    uint8_t buf[16];
    struct synack_icmp_hdr h;

    memcpy(buf, echo_req, sizeof buf);
    assert_int_equal(synack_icmp_parse(buf, sizeof buf, &h), SYNACK_WIRE_OK);
    h.type = SYNACK_ICMP_ECHO_REPLY;
    assert_int_equal(synack_icmp_emit(buf, sizeof buf, &h), 16);
    assert_int_equal(buf[0], 0);
    assert_memory_equal(buf + 4, echo_req + 4, 12);
    assert_int_equal(synack_csum(buf, sizeof buf), 0);
    /* RFC 1624: only the type changed, by 0x0800 in the first word */
    assert_int_equal(buf[2] << 8 | buf[3], synack_csum_update16(0x5435, 0x0800, 0x0000));
}

/* An error quoting the start of buf itself: the data overlaps the header. */
static void test_emit_overlapping_quote(void **state)
{
    (void)state;
    uint8_t buf[64], want[36];

    for (size_t i = 0; i < 28; i++)
        buf[i] = (uint8_t)(i + 1);
    memcpy(want + 8, buf, 28);
    struct synack_icmp_hdr h = {.type = SYNACK_ICMP_DEST_UNREACH, .code = SYNACK_ICMP_UNREACH_PORT,
                                .data = buf, .data_len = 28};
    assert_int_equal(synack_icmp_emit(buf, sizeof buf, &h), 36);
    assert_memory_equal(buf + 8, want + 8, 28);
    assert_int_equal(synack_csum(buf, 36), 0);
}

static void test_needfrag_mtu(void **state)
{
    (void)state;
    uint8_t b[64];
    struct synack_icmp_hdr h;
    size_t n = make_error(b, SYNACK_ICMP_DEST_UNREACH, SYNACK_ICMP_UNREACH_NEEDFRAG, 1400, 8);

    assert_int_equal(synack_icmp_parse(b, n, &h), SYNACK_WIRE_OK);
    assert_int_equal(h.type, SYNACK_ICMP_DEST_UNREACH);
    assert_int_equal(h.code, SYNACK_ICMP_UNREACH_NEEDFRAG);
    assert_int_equal(h.mtu, 1400);
    assert_int_equal(h.data_len, 28);
    assert_ptr_equal(h.data, b + 8);
    assert_int_equal(h.data[0], 0x45);

    uint8_t out[64];
    assert_int_equal(synack_icmp_emit(out, sizeof out, &h), (int)n);
    assert_memory_equal(out, b, n);

    /* the MTU field means something only for NEEDFRAG */
    n = make_error(b, SYNACK_ICMP_DEST_UNREACH, SYNACK_ICMP_UNREACH_PORT, 1400, 8);
    assert_int_equal(synack_icmp_parse(b, n, &h), SYNACK_WIRE_OK);
    assert_int_equal(h.mtu, 0);
    h.mtu = 1400;
    assert_int_equal(synack_icmp_emit(out, sizeof out, &h), (int)n);
    assert_int_equal(out[6], 0);
    assert_int_equal(out[7], 0);
}

static void test_error_codes(void **state)
{
    (void)state;
    uint8_t b[64];
    struct synack_icmp_hdr h;

    for (unsigned code = 0; code < 256; code++) {
        size_t n = make_error(b, SYNACK_ICMP_DEST_UNREACH, (uint8_t)code, 0, 8);
        assert_int_equal(synack_icmp_parse(b, n, &h), code <= 15 ? SYNACK_WIRE_OK : SYNACK_WIRE_ETYPE);
        n = make_error(b, SYNACK_ICMP_TIME_EXCEEDED, (uint8_t)code, 0, 8);
        assert_int_equal(synack_icmp_parse(b, n, &h), code <= 1 ? SYNACK_WIRE_OK : SYNACK_WIRE_ETYPE);
    }
    size_t n = make_error(b, SYNACK_ICMP_TIME_EXCEEDED, 0, 0, 20);
    assert_int_equal(synack_icmp_parse(b, n, &h), SYNACK_WIRE_OK);
    assert_int_equal(h.type, SYNACK_ICMP_TIME_EXCEEDED);
    assert_int_equal(h.data_len, 40);
}

static void test_other_types(void **state)
{
    (void)state;
    uint8_t b[64];
    struct synack_icmp_hdr h;

    for (unsigned type = 0; type < 256; type++) {
        if (type == 0 || type == 3 || type == 8 || type == 11)
            continue;
        size_t n = make_error(b, (uint8_t)type, 0, 0, 8);
        assert_int_equal(synack_icmp_parse(b, n, &h), SYNACK_WIRE_ETYPE);
    }
}

static void test_short_quote(void **state)
{
    (void)state;
    uint8_t b[128];
    struct synack_icmp_hdr h;

    /* fewer than 20 + 8 bytes quoted */
    for (size_t q = 0; q < 28; q++) {
        make_error(b, SYNACK_ICMP_DEST_UNREACH, SYNACK_ICMP_UNREACH_PORT, 0, 8);
        reseal(b, 8 + q);
        assert_int_equal(synack_icmp_parse(b, 8 + q, &h), SYNACK_WIRE_ETRUNC);
        make_error(b, SYNACK_ICMP_TIME_EXCEEDED, 0, 0, 8);
        reseal(b, 8 + q);
        assert_int_equal(synack_icmp_parse(b, 8 + q, &h), SYNACK_WIRE_ETRUNC);
    }
    /* a quoted header with options (IHL 6) needs 24 + 8 */
    make_error(b, SYNACK_ICMP_DEST_UNREACH, SYNACK_ICMP_UNREACH_HOST, 0, 12);
    b[8] = 0x46;
    reseal(b, 39);
    assert_int_equal(synack_icmp_parse(b, 39, &h), SYNACK_WIRE_ETRUNC);
    reseal(b, 40);
    assert_int_equal(synack_icmp_parse(b, 40, &h), SYNACK_WIRE_OK);
}

static void test_truncated_and_bad_checksum(void **state)
{
    (void)state;
    uint8_t b[16];
    struct synack_icmp_hdr h;

    memcpy(b, echo_req, sizeof b);
    for (size_t len = 0; len < 8; len++)
        assert_int_equal(synack_icmp_parse(b, len, &h), SYNACK_WIRE_ETRUNC);
    /* a cut echo fails its checksum */
    for (size_t len = 8; len < sizeof b; len++)
        assert_int_equal(synack_icmp_parse(b, len, &h), SYNACK_WIRE_ECSUM);
    for (size_t i = 0; i < sizeof b; i++) {
        b[i] ^= 0x10;
        assert_int_equal(synack_icmp_parse(b, sizeof b, &h), SYNACK_WIRE_ECSUM);
        b[i] ^= 0x10;
    }
    /* an odd length is checksummed with a zero pad byte */
    uint8_t odd[9] = {0x00, 0x00, 0, 0, 0xab, 0xcd, 0x00, 0x07, 'z'};
    reseal(odd, sizeof odd);
    assert_int_equal(synack_icmp_parse(odd, sizeof odd, &h), SYNACK_WIRE_OK);
    assert_int_equal(h.type, SYNACK_ICMP_ECHO_REPLY);
    assert_int_equal(h.id, 0xabcd);
    assert_int_equal(h.seq, 7);
    assert_int_equal(h.data_len, 1);
}

static void test_echo_round_trip_random(void **state)
{
    (void)state;
    uint64_t s = 2024;
    uint8_t data[600], buf[700], again[700];

    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(rnd(&s) % sizeof data);
        for (size_t k = 0; k < n; k++)
            data[k] = (uint8_t)rnd(&s);
        struct synack_icmp_hdr in = {
            .type = (rnd(&s) & 1) ? SYNACK_ICMP_ECHO_REQUEST : SYNACK_ICMP_ECHO_REPLY,
            .id = (uint16_t)rnd(&s), .seq = (uint16_t)rnd(&s), .data = data, .data_len = n,
        }, out;
        int len = synack_icmp_emit(buf, sizeof buf, &in);

        assert_int_equal(len, (int)(8 + n));
        assert_int_equal(synack_icmp_parse(buf, (size_t)len, &out), SYNACK_WIRE_OK);
        assert_int_equal(out.type, in.type);
        assert_int_equal(out.id, in.id);
        assert_int_equal(out.seq, in.seq);
        assert_int_equal(out.data_len, n);
        assert_memory_equal(out.data, data, n);
        assert_int_equal(synack_icmp_emit(again, sizeof again, &out), len);
        assert_memory_equal(again, buf, (size_t)len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_echo_request),
        cmocka_unit_test(test_emit_echo_request),
        cmocka_unit_test(test_echo_reply_in_place),
        cmocka_unit_test(test_emit_overlapping_quote),
        cmocka_unit_test(test_needfrag_mtu),
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_short_quote),
        cmocka_unit_test(test_truncated_and_bad_checksum),
        cmocka_unit_test(test_echo_round_trip_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
