/* TCP codec: a SYN as Linux sends it, Linux's option layouts, every malformed
 * header and option, emit -> parse -> emit round trips, flag strings. */
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

#define SRC 0xc0a8010au   /* 192.168.1.10 */
#define DST 0x5db8d822u   /* 93.184.216.34 */

/* 51234 -> 443 SYN from Linux: mss 1460, sackOK, TS val 2587627778 ecr 0,
 * nop, wscale 7; win 64240.  Checksum computed independently. */
static const uint8_t linux_syn[40] = {
    0xc8, 0x22, 0x01, 0xbb, 0x5f, 0x2c, 0x1e, 0x97, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
    0xfa, 0xf0, 0x62, 0xa2, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
    0x9a, 0x3c, 0x11, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};

/* Sets the data offset and a correct checksum on a segment of n bytes. */
static void seal(uint8_t *b, size_t n, size_t doff)
{
    b[12] = (uint8_t)((doff / 4) << 4 | (b[12] & 0x0f));
    b[16] = b[17] = 0;
    uint16_t c = synack_csum_fold(synack_csum_partial(b, n, synack_csum_pseudo(SRC, DST, 6, (uint16_t)n)));
    b[16] = (uint8_t)(c >> 8);
    b[17] = (uint8_t)c;
}

/* A segment: the SYN's fixed header, then `opts` (n bytes, a multiple of 4). */
static size_t with_opts(uint8_t *b, const uint8_t *opts, size_t n)
{
    memcpy(b, linux_syn, 20);
    memcpy(b + 20, opts, n);
    seal(b, 20 + n, 20 + n);
    return 20 + n;
}

static int parse_opts(const uint8_t *opts, size_t n, struct synack_tcp_hdr *h)
{
    uint8_t b[60];
    size_t len = with_opts(b, opts, n);
    return synack_tcp_parse(b, len, SRC, DST, true, h);
}

static void test_parse_linux_syn(void **state)
{
    (void)state;
    struct synack_tcp_hdr h;
    static const uint8_t order[] = {SYNACK_TCPOPT_MSS, SYNACK_TCPOPT_SACK_PERM, SYNACK_TCPOPT_TIMESTAMP,
                                    SYNACK_TCPOPT_NOP, SYNACK_TCPOPT_WSCALE};

    assert_int_equal(synack_tcp_parse(linux_syn, sizeof linux_syn, SRC, DST, true, &h), SYNACK_WIRE_OK);
    assert_int_equal(h.sport, 51234);
    assert_int_equal(h.dport, 443);
    assert_int_equal(h.seq, 0x5f2c1e97u);
    assert_int_equal(h.ack, 0);
    assert_int_equal(h.doff, 40);
    assert_int_equal(h.reserved, 0);
    assert_int_equal(h.flags, SYNACK_TH_SYN);
    assert_int_equal(h.window, 64240);
    assert_int_equal(h.checksum, 0x62a2);
    assert_int_equal(h.urg_ptr, 0);
    assert_int_equal(h.opts.present, SYNACK_TCPOPT_F_MSS | SYNACK_TCPOPT_F_SACK_PERM |
                                     SYNACK_TCPOPT_F_TIMESTAMP | SYNACK_TCPOPT_F_WSCALE);
    assert_int_equal(h.opts.mss, 1460);
    assert_int_equal(h.opts.wscale, 7);
    assert_int_equal(h.opts.tsval, 2587627778u);
    assert_int_equal(h.opts.tsecr, 0);
    assert_int_equal(h.opts.nsack, 0);
    assert_int_equal(h.opts.norder, sizeof order);
    assert_memory_equal(h.opts.order, order, sizeof order);
    assert_ptr_equal(h.payload, linux_syn + 40);
    assert_int_equal(h.payload_len, 0);
}

static void test_emit_linux_syn(void **state)
{
    (void)state;
    struct synack_tcp_hdr h = {
        .sport = 51234, .dport = 443, .seq = 0x5f2c1e97u, .flags = SYNACK_TH_SYN, .window = 64240,
        .doff = 7, .checksum = 0xdead,   /* computed by emit */
        .opts = {.present = SYNACK_TCPOPT_F_MSS | SYNACK_TCPOPT_F_SACK_PERM |
                            SYNACK_TCPOPT_F_TIMESTAMP | SYNACK_TCPOPT_F_WSCALE,
                 .mss = 1460, .wscale = 7, .tsval = 2587627778u},
    };
    uint8_t out[64];

    assert_int_equal(synack_tcp_opts_len(&h.opts), 20);
    assert_int_equal(synack_tcp_emit(out, sizeof out, &h, SRC, DST), 40);
    assert_memory_equal(out, linux_syn, 40);
    assert_int_equal(synack_tcp_emit(out, 39, &h, SRC, DST), SYNACK_WIRE_ENOSPC);

    /* and from the parsed struct, following its recorded order */
    struct synack_tcp_hdr p;
    assert_int_equal(synack_tcp_parse(linux_syn, 40, SRC, DST, true, &p), SYNACK_WIRE_OK);
    memset(out, 0xee, sizeof out);
    assert_int_equal(synack_tcp_emit(out, sizeof out, &p, SRC, DST), 40);
    assert_memory_equal(out, linux_syn, 40);
}

static void expect_opts(const struct synack_tcp_opts *o, const uint8_t *want, size_t n)
{
    uint8_t out[SYNACK_TCP_OPT_MAX];

    assert_int_equal(synack_tcp_opts_len(o), (int)n);
    assert_int_equal(synack_tcp_emit_opts(out, sizeof out, o), (int)n);
    if (n > 0) {
        assert_memory_equal(out, want, n);
        assert_int_equal(synack_tcp_emit_opts(out, n - 1, o), SYNACK_WIRE_ENOSPC);
    }
}

/* Linux's SYN layouts (tcp_options_write) for each set it negotiates. */
static void test_linux_layouts(void **state)
{
    (void)state;
    struct synack_tcp_opts o = {.mss = 1460, .wscale = 7, .tsval = 0x01020304, .tsecr = 0x05060708};

    o.present = SYNACK_TCPOPT_F_MSS | SYNACK_TCPOPT_F_TIMESTAMP | SYNACK_TCPOPT_F_WSCALE;
    expect_opts(&o, (const uint8_t[]){2, 4, 0x05, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8,
                                      1, 3, 3, 7}, 20);
    o.present = SYNACK_TCPOPT_F_MSS | SYNACK_TCPOPT_F_SACK_PERM | SYNACK_TCPOPT_F_WSCALE;
    expect_opts(&o, (const uint8_t[]){2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7}, 12);
    o.present = SYNACK_TCPOPT_F_MSS | SYNACK_TCPOPT_F_WSCALE;
    expect_opts(&o, (const uint8_t[]){2, 4, 0x05, 0xb4, 1, 3, 3, 7}, 8);
    o.present = SYNACK_TCPOPT_F_MSS;
    expect_opts(&o, (const uint8_t[]){2, 4, 0x05, 0xb4}, 4);
    o.present = 0;
    expect_opts(&o, NULL, 0);

    /* established: nop nop TS, then nop nop SACK */
    o.present = SYNACK_TCPOPT_F_TIMESTAMP;
    expect_opts(&o, (const uint8_t[]){1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8}, 12);
    o.present = SYNACK_TCPOPT_F_TIMESTAMP | SYNACK_TCPOPT_F_SACK;
    o.nsack = 2;
    o.sack[0] = (struct synack_sack_block){0x11111111, 0x22222222};
    o.sack[1] = (struct synack_sack_block){0x33333333, 0x44444444};
    expect_opts(&o, (const uint8_t[]){1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8,
                                      1, 1, 5, 18, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22,
                                      0x33, 0x33, 0x33, 0x33, 0x44, 0x44, 0x44, 0x44}, 32);
    o.present = SYNACK_TCPOPT_F_SACK;
    o.nsack = 1;
    expect_opts(&o, (const uint8_t[]){1, 1, 5, 10, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22}, 12);
    /* three blocks with TS fill the 40 bytes; a fourth does not fit */
    o.present = SYNACK_TCPOPT_F_TIMESTAMP | SYNACK_TCPOPT_F_SACK;
    o.nsack = 3;
    assert_int_equal(synack_tcp_opts_len(&o), 40);
    o.nsack = 4;
    assert_int_equal(synack_tcp_opts_len(&o), SYNACK_WIRE_EINVAL);
    o.present = SYNACK_TCPOPT_F_SACK;
    assert_int_equal(synack_tcp_opts_len(&o), 36);
    o.nsack = 0;
    assert_int_equal(synack_tcp_opts_len(&o), SYNACK_WIRE_EINVAL);
    o.nsack = 5;
    assert_int_equal(synack_tcp_opts_len(&o), SYNACK_WIRE_EINVAL);
    o.nsack = 1;
    o.present |= 1u << 7;   /* no such option */
    assert_int_equal(synack_tcp_opts_len(&o), SYNACK_WIRE_EINVAL);
}

static void test_emit_order_invalid(void **state)
{
    (void)state;
    struct synack_tcp_opts o = {.present = SYNACK_TCPOPT_F_MSS, .mss = 536};
    uint8_t out[SYNACK_TCP_OPT_MAX];

    o.norder = 2;
    o.order[0] = SYNACK_TCPOPT_MSS;
    o.order[1] = 30;   /* an unknown kind: its body is gone */
    assert_int_equal(synack_tcp_emit_opts(out, sizeof out, &o), SYNACK_WIRE_EINVAL);
    o.order[1] = SYNACK_TCPOPT_WSCALE;   /* not present */
    assert_int_equal(synack_tcp_emit_opts(out, sizeof out, &o), SYNACK_WIRE_EINVAL);
    o.order[0] = SYNACK_TCPOPT_EOL;   /* something after EOL */
    o.order[1] = SYNACK_TCPOPT_MSS;
    assert_int_equal(synack_tcp_emit_opts(out, sizeof out, &o), SYNACK_WIRE_EINVAL);
    o.order[0] = SYNACK_TCPOPT_NOP;   /* MSS present but not in the order */
    o.order[1] = SYNACK_TCPOPT_NOP;
    assert_int_equal(synack_tcp_emit_opts(out, sizeof out, &o), SYNACK_WIRE_EINVAL);
    o.order[1] = SYNACK_TCPOPT_MSS;   /* nop mss, then one EOL of padding */
    assert_int_equal(synack_tcp_emit_opts(out, sizeof out, &o), 8);
    assert_memory_equal(out, ((const uint8_t[]){1, 2, 4, 0x02, 0x18, 0, 0, 0}), 8);
    o.norder = 41;
    assert_int_equal(synack_tcp_emit_opts(out, sizeof out, &o), SYNACK_WIRE_EINVAL);
    o.norder = 40;   /* 39 NOPs and MSS: 43 bytes */
    memset(o.order, SYNACK_TCPOPT_NOP, 39);
    o.order[39] = SYNACK_TCPOPT_MSS;
    assert_int_equal(synack_tcp_opts_len(&o), SYNACK_WIRE_EINVAL);

    struct synack_tcp_hdr h = {.flags = SYNACK_TH_ACK, .reserved = 0x10};
    assert_int_equal(synack_tcp_emit(out, sizeof out, &h, SRC, DST), SYNACK_WIRE_EINVAL);
    h.reserved = 0x0f;
    assert_int_equal(synack_tcp_emit(out, sizeof out, &h, SRC, DST), 20);
    assert_int_equal(out[12], 0x5f);
}

static void test_truncated_and_doff(void **state)
{
    (void)state;
    struct synack_tcp_hdr h;
    uint8_t b[40];

    for (size_t len = 0; len < 20; len++)
        assert_int_equal(synack_tcp_parse(linux_syn, len, SRC, DST, false, &h), SYNACK_WIRE_ETRUNC);
    for (size_t len = 20; len < 40; len++)   /* doff 40 > len */
        assert_int_equal(synack_tcp_parse(linux_syn, len, SRC, DST, false, &h), SYNACK_WIRE_ETRUNC);
    memcpy(b, linux_syn, sizeof b);
    for (unsigned d = 0; d < 5; d++) {
        b[12] = (uint8_t)(d << 4);
        assert_int_equal(synack_tcp_parse(b, sizeof b, SRC, DST, false, &h), SYNACK_WIRE_EHDRLEN);
    }
    b[12] = 0xf0;   /* 60 bytes in 40 */
    assert_int_equal(synack_tcp_parse(b, sizeof b, SRC, DST, false, &h), SYNACK_WIRE_ETRUNC);
    /* doff 20 over the same bytes: the options become payload */
    memcpy(b, linux_syn, sizeof b);
    seal(b, sizeof b, 20);
    assert_int_equal(synack_tcp_parse(b, sizeof b, SRC, DST, true, &h), SYNACK_WIRE_OK);
    assert_int_equal(h.doff, 20);
    assert_int_equal(h.opts.present, 0);
    assert_int_equal(h.opts.norder, 0);
    assert_int_equal(h.payload_len, 20);
    assert_ptr_equal(h.payload, b + 20);
}

static void test_bad_checksum(void **state)
{
    (void)state;
    struct synack_tcp_hdr h;
    uint8_t b[44];

    memcpy(b, linux_syn, 40);
    memcpy(b + 40, "data", 4);
    seal(b, sizeof b, 40);
    assert_int_equal(synack_tcp_parse(b, sizeof b, SRC, DST, true, &h), SYNACK_WIRE_OK);
    for (size_t i = 0; i < sizeof b; i++) {
        if (i == 12)
            continue;   /* the data offset: checked before the checksum */
        b[i] ^= 0x01;
        assert_int_equal(synack_tcp_parse(b, sizeof b, SRC, DST, true, &h), SYNACK_WIRE_ECSUM);
        b[i] ^= 0x01;
    }
    /* the pseudo-header is covered: addresses and the length */
    assert_int_equal(synack_tcp_parse(b, sizeof b, SRC + 1, DST, true, &h), SYNACK_WIRE_ECSUM);
    assert_int_equal(synack_tcp_parse(b, sizeof b, SRC, DST ^ 0x100, true, &h), SYNACK_WIRE_ECSUM);
    assert_int_equal(synack_tcp_parse(b, sizeof b - 2, SRC, DST, true, &h), SYNACK_WIRE_ECSUM);
    /* not asked to verify */
    b[41] ^= 0xff;
    assert_int_equal(synack_tcp_parse(b, sizeof b, SRC, DST, false, &h), SYNACK_WIRE_OK);
    assert_int_equal(h.payload_len, 4);
}

static void test_bad_option_lengths(void **state)
{
    (void)state;
    struct synack_tcp_hdr h;

    /* length 0 and 1 */
    assert_int_equal(parse_opts((const uint8_t[]){30, 0, 0, 0}, 4, &h), SYNACK_WIRE_EOPTLEN);
    assert_int_equal(parse_opts((const uint8_t[]){30, 1, 0, 0}, 4, &h), SYNACK_WIRE_EOPTLEN);
    assert_int_equal(parse_opts((const uint8_t[]){2, 0, 0, 0}, 4, &h), SYNACK_WIRE_EOPTLEN);
    assert_int_equal(parse_opts((const uint8_t[]){1, 1, 8, 1}, 4, &h), SYNACK_WIRE_EOPTLEN);
    /* past the header */
    assert_int_equal(parse_opts((const uint8_t[]){1, 1, 30, 3}, 4, &h), SYNACK_WIRE_EOPTLEN);
    assert_int_equal(parse_opts((const uint8_t[]){2, 4, 5, 0xb4, 30, 5, 0, 0}, 8, &h), SYNACK_WIRE_EOPTLEN);
    assert_int_equal(parse_opts((const uint8_t[]){8, 10, 1, 2, 3, 4, 5, 6}, 8, &h), SYNACK_WIRE_EOPTLEN);
    /* a kind in the last byte, with no room for its length */
    assert_int_equal(parse_opts((const uint8_t[]){1, 1, 1, 30}, 4, &h), SYNACK_WIRE_EOPTLEN);
    assert_int_equal(parse_opts((const uint8_t[]){1, 1, 1, 2}, 4, &h), SYNACK_WIRE_EOPTLEN);
    /* exactly up to the end is fine */
    assert_int_equal(parse_opts((const uint8_t[]){1, 30, 3, 0}, 4, &h), SYNACK_WIRE_OK);
}

static void test_bad_option_values(void **state)
{
    (void)state;
    struct synack_tcp_hdr h;
    uint8_t o[40] = {0};

    /* MSS length 3 */
    assert_int_equal(parse_opts((const uint8_t[]){2, 3, 5, 1}, 4, &h), SYNACK_WIRE_EOPTVAL);
    assert_int_equal(parse_opts((const uint8_t[]){2, 5, 5, 0xb4, 0, 0, 0, 0}, 8, &h), SYNACK_WIRE_EOPTVAL);
    /* window scale length 2 and 4 */
    assert_int_equal(parse_opts((const uint8_t[]){3, 2, 1, 1}, 4, &h), SYNACK_WIRE_EOPTVAL);
    assert_int_equal(parse_opts((const uint8_t[]){3, 4, 7, 0}, 4, &h), SYNACK_WIRE_EOPTVAL);
    /* SACK-permitted length 3 */
    assert_int_equal(parse_opts((const uint8_t[]){4, 3, 0, 0}, 4, &h), SYNACK_WIRE_EOPTVAL);
    /* timestamps length 8 */
    assert_int_equal(parse_opts((const uint8_t[]){8, 8, 1, 2, 3, 4, 5, 6}, 8, &h), SYNACK_WIRE_EOPTVAL);
    /* SACK: every length but 10, 18, 26, 34 */
    for (unsigned len = 2; len <= 38; len++) {
        memset(o, 0, sizeof o);
        o[0] = 1;
        o[1] = 1;
        o[2] = 5;
        o[3] = (uint8_t)len;
        int want = (len == 10 || len == 18 || len == 26 || len == 34) ? SYNACK_WIRE_OK : SYNACK_WIRE_EOPTVAL;
        assert_int_equal(parse_opts(o, 40, &h), want);
        if (want == SYNACK_WIRE_OK)
            assert_int_equal(h.opts.nsack, (len - 2) / 8);
    }
}

static void test_option_parsing_details(void **state)
{
    (void)state;
    struct synack_tcp_hdr h;

    /* an unknown kind is skipped and recorded; EOL ends the list, bytes after it are ignored */
    assert_int_equal(parse_opts((const uint8_t[]){30, 4, 0xaa, 0xbb, 3, 3, 9, 0, 2, 1, 8, 0}, 12, &h),
                     SYNACK_WIRE_OK);
    assert_int_equal(h.opts.present, SYNACK_TCPOPT_F_WSCALE);
    assert_int_equal(h.opts.wscale, 9);
    assert_int_equal(h.opts.norder, 3);
    assert_memory_equal(h.opts.order, ((const uint8_t[]){30, SYNACK_TCPOPT_WSCALE, SYNACK_TCPOPT_EOL}), 3);
    /* which cannot be emitted again */
    assert_int_equal(synack_tcp_opts_len(&h.opts), SYNACK_WIRE_EINVAL);

    /* a repeated option: the last one wins */
    assert_int_equal(parse_opts((const uint8_t[]){2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18}, 8, &h), SYNACK_WIRE_OK);
    assert_int_equal(h.opts.mss, 536);
    assert_int_equal(h.opts.norder, 2);

    /* all NOPs: 40 recorded kinds */
    uint8_t nops[40];
    memset(nops, 1, sizeof nops);
    assert_int_equal(parse_opts(nops, 40, &h), SYNACK_WIRE_OK);
    assert_int_equal(h.opts.norder, 40);
    assert_int_equal(h.opts.present, 0);
    uint8_t out[40];
    assert_int_equal(synack_tcp_emit_opts(out, sizeof out, &h.opts), 40);
    assert_memory_equal(out, nops, 40);

    /* SACK blocks in order, values in host order */
    assert_int_equal(parse_opts((const uint8_t[]){1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2,
                                                  0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff}, 20, &h),
                     SYNACK_WIRE_OK);
    assert_int_equal(h.opts.nsack, 2);
    assert_int_equal(h.opts.sack[0].left, 1);
    assert_int_equal(h.opts.sack[0].right, 2);
    assert_int_equal(h.opts.sack[1].left, 0xfffffffeu);
    assert_int_equal(h.opts.sack[1].right, 0xffffffffu);
}

/* Emit payload from elsewhere, in place, and overlapping the header area. */
static void test_emit_payload(void **state)
{
    (void)state;
    uint8_t buf[128], data[50];
    struct synack_tcp_hdr h = {.sport = 1, .dport = 2, .seq = 3, .ack = 4, .flags = SYNACK_TH_ACK | SYNACK_TH_PSH,
                               .window = 5, .urg_ptr = 0,
                               .opts = {.present = SYNACK_TCPOPT_F_TIMESTAMP, .tsval = 6, .tsecr = 7}};
    struct synack_tcp_hdr p;

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    h.payload = data;
    h.payload_len = sizeof data;
    assert_int_equal(synack_tcp_emit(buf, sizeof buf, &h, SRC, DST), 32 + 50);
    assert_int_equal(synack_tcp_emit(buf, 81, &h, SRC, DST), SYNACK_WIRE_ENOSPC);
    assert_int_equal(synack_tcp_parse(buf, 82, SRC, DST, true, &p), SYNACK_WIRE_OK);
    assert_int_equal(p.payload_len, 50);
    assert_memory_equal(p.payload, data, 50);
    assert_int_equal(p.flags, SYNACK_TH_ACK | SYNACK_TH_PSH);

    /* in place */
    memset(buf, 0, sizeof buf);
    memcpy(buf + 32, data, sizeof data);
    h.payload = buf + 32;
    assert_int_equal(synack_tcp_emit(buf, sizeof buf, &h, SRC, DST), 82);
    assert_int_equal(synack_tcp_parse(buf, 82, SRC, DST, true, &p), SYNACK_WIRE_OK);
    assert_memory_equal(p.payload, data, 50);

    /* the payload sits where the header goes, or just after it */
    for (size_t at = 0; at < 60; at += 3) {
        memset(buf, 0, sizeof buf);
        memcpy(buf + at, data, sizeof data);
        h.payload = buf + at;
        assert_int_equal(synack_tcp_emit(buf, sizeof buf, &h, SRC, DST), 82);
        assert_int_equal(synack_tcp_parse(buf, 82, SRC, DST, true, &p), SYNACK_WIRE_OK);
        assert_memory_equal(p.payload, data, 50);
        assert_int_equal(p.opts.tsval, 6);
    }

    /* too long for the pseudo-header's 16-bit length */
    static uint8_t big[70000];
    h.payload = big;
    h.payload_len = 65535 - 32 + 1;
    assert_int_equal(synack_tcp_emit(big, sizeof big, &h, SRC, DST), SYNACK_WIRE_EINVAL);
    h.payload_len = 65535 - 32;
    assert_int_equal(synack_tcp_emit(big, sizeof big, &h, SRC, DST), 65535);
    assert_int_equal(synack_tcp_parse(big, 65535, SRC, DST, true, &p), SYNACK_WIRE_OK);
    assert_int_equal(synack_tcp_parse(big, sizeof big, SRC, DST, true, &p), SYNACK_WIRE_ECSUM);
}

static void random_header(struct synack_tcp_hdr *h, uint64_t *s)
{
    memset(h, 0, sizeof *h);
    h->sport = (uint16_t)rnd(s);
    h->dport = (uint16_t)rnd(s);
    h->seq = (uint32_t)rnd(s);
    h->ack = (uint32_t)rnd(s);
    h->reserved = (uint8_t)(rnd(s) & 0x0f);
    h->flags = (uint8_t)rnd(s);
    h->window = (uint16_t)rnd(s);
    h->urg_ptr = (uint16_t)rnd(s);
    h->opts.mss = (uint16_t)rnd(s);
    h->opts.wscale = (uint8_t)rnd(s);
    h->opts.tsval = (uint32_t)rnd(s);
    h->opts.tsecr = (uint32_t)rnd(s);
    h->opts.nsack = (uint8_t)(1 + rnd(s) % SYNACK_TCP_MAX_SACK);
    for (int i = 0; i < SYNACK_TCP_MAX_SACK; i++)
        h->opts.sack[i] = (struct synack_sack_block){(uint32_t)rnd(s), (uint32_t)rnd(s)};
}

static void assert_same_fields(const struct synack_tcp_hdr *a, const struct synack_tcp_hdr *b)
{
    assert_int_equal(a->sport, b->sport);
    assert_int_equal(a->dport, b->dport);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->ack, b->ack);
    assert_int_equal(a->reserved, b->reserved);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->window, b->window);
    assert_int_equal(a->urg_ptr, b->urg_ptr);
    assert_int_equal(a->opts.present, b->opts.present);
    uint32_t p = a->opts.present;
    if (p & SYNACK_TCPOPT_F_MSS)
        assert_int_equal(a->opts.mss, b->opts.mss);
    if (p & SYNACK_TCPOPT_F_WSCALE)
        assert_int_equal(a->opts.wscale, b->opts.wscale);
    if (p & SYNACK_TCPOPT_F_TIMESTAMP) {
        assert_int_equal(a->opts.tsval, b->opts.tsval);
        assert_int_equal(a->opts.tsecr, b->opts.tsecr);
    }
    if (p & SYNACK_TCPOPT_F_SACK) {
        assert_int_equal(a->opts.nsack, b->opts.nsack);
        assert_memory_equal(a->opts.sack, b->opts.sack, a->opts.nsack * sizeof a->opts.sack[0]);
    }
}

static size_t kind_len(const struct synack_tcp_opts *o, uint8_t kind)
{
    switch (kind) {
    case SYNACK_TCPOPT_MSS: return 4;
    case SYNACK_TCPOPT_WSCALE: return 3;
    case SYNACK_TCPOPT_SACK_PERM: return 2;
    case SYNACK_TCPOPT_TIMESTAMP: return 10;
    case SYNACK_TCPOPT_SACK: return 2 + 8u * o->nsack;
    default: return 1;
    }
}

/* Random option sets in Linux's layout: emit -> parse -> emit is byte-exact,
 * whether the second emit follows the parsed order or the layout again. */
static void test_round_trip_linux_layout(void **state)
{
    (void)state;
    uint64_t s = 0xfeedface;
    uint8_t buf[200], again[200], payload[100];
    static const uint32_t bits[5] = {SYNACK_TCPOPT_F_MSS, SYNACK_TCPOPT_F_WSCALE, SYNACK_TCPOPT_F_SACK_PERM,
                                     SYNACK_TCPOPT_F_SACK, SYNACK_TCPOPT_F_TIMESTAMP};
    static const uint8_t kinds[5] = {SYNACK_TCPOPT_MSS, SYNACK_TCPOPT_WSCALE, SYNACK_TCPOPT_SACK_PERM,
                                     SYNACK_TCPOPT_SACK, SYNACK_TCPOPT_TIMESTAMP};
    int ok = 0;

    for (int i = 0; i < 20000; i++) {
        struct synack_tcp_hdr h, p, q;
        random_header(&h, &s);
        h.opts.present = (uint32_t)(rnd(&s) & 0x1f);
        h.payload_len = (size_t)(rnd(&s) % sizeof payload);
        for (size_t k = 0; k < h.payload_len; k++)
            payload[k] = (uint8_t)rnd(&s);
        h.payload = payload;

        /* Linux's layout: each option padded to 4 bytes, sackOK+TS sharing 12 */
        size_t want = 0;
        for (int k = 0; k < 5; k++)
            if (h.opts.present & bits[k])
                want += (kind_len(&h.opts, kinds[k]) + 3) & ~(size_t)3;
        if ((h.opts.present & SYNACK_TCPOPT_F_SACK_PERM) && (h.opts.present & SYNACK_TCPOPT_F_TIMESTAMP))
            want -= 4;
        int len = synack_tcp_emit(buf, sizeof buf, &h, SRC, DST);
        if (want > SYNACK_TCP_OPT_MAX) {
            assert_int_equal(len, SYNACK_WIRE_EINVAL);
            continue;
        }
        ok++;
        assert_int_equal(synack_tcp_opts_len(&h.opts), (int)want);
        assert_int_equal(len, (int)(20 + want + h.payload_len));
        assert_int_equal(synack_tcp_parse(buf, (size_t)len, SRC, DST, true, &p), SYNACK_WIRE_OK);
        assert_same_fields(&h, &p);
        assert_int_equal(p.doff, 20 + want);
        assert_int_equal(p.payload_len, h.payload_len);
        assert_memory_equal(p.payload, payload, h.payload_len);

        assert_int_equal(synack_tcp_emit(again, sizeof again, &p, SRC, DST), len);
        assert_memory_equal(again, buf, (size_t)len);
        q = p;
        q.opts.norder = 0;
        assert_int_equal(synack_tcp_emit(again, sizeof again, &q, SRC, DST), len);
        assert_memory_equal(again, buf, (size_t)len);
    }
    assert_true(ok > 10000);
}

/* Random explicit orders of NOPs and known kinds, sometimes closed by EOL. */
static void test_round_trip_explicit_order(void **state)
{
    (void)state;
    uint64_t s = 0xabcdef;
    uint8_t buf[100], again[100];
    static const uint8_t kinds[7] = {SYNACK_TCPOPT_NOP, SYNACK_TCPOPT_MSS, SYNACK_TCPOPT_WSCALE,
                                     SYNACK_TCPOPT_SACK_PERM, SYNACK_TCPOPT_SACK, SYNACK_TCPOPT_TIMESTAMP,
                                     SYNACK_TCPOPT_NOP};
    int ok = 0, einval = 0;

    for (int i = 0; i < 20000; i++) {
        struct synack_tcp_hdr h, p;
        size_t optlen = 0;

        random_header(&h, &s);
        h.opts.norder = (uint8_t)(rnd(&s) % 12);
        for (unsigned k = 0; k < h.opts.norder; k++) {
            uint8_t kind = kinds[rnd(&s) % 7];
            h.opts.order[k] = kind;
            optlen += kind_len(&h.opts, kind);
            switch (kind) {
            case SYNACK_TCPOPT_MSS: h.opts.present |= SYNACK_TCPOPT_F_MSS; break;
            case SYNACK_TCPOPT_WSCALE: h.opts.present |= SYNACK_TCPOPT_F_WSCALE; break;
            case SYNACK_TCPOPT_SACK_PERM: h.opts.present |= SYNACK_TCPOPT_F_SACK_PERM; break;
            case SYNACK_TCPOPT_SACK: h.opts.present |= SYNACK_TCPOPT_F_SACK; break;
            case SYNACK_TCPOPT_TIMESTAMP: h.opts.present |= SYNACK_TCPOPT_F_TIMESTAMP; break;
            default: break;
            }
        }
        bool eol = h.opts.norder < SYNACK_TCP_OPT_MAX && (rnd(&s) & 1);
        if (eol) {
            h.opts.order[h.opts.norder++] = SYNACK_TCPOPT_EOL;
            optlen++;
        }
        size_t padded = (optlen + 3) & ~(size_t)3;
        int len = synack_tcp_emit(buf, sizeof buf, &h, SRC, DST);
        if (padded > SYNACK_TCP_OPT_MAX) {
            assert_int_equal(len, SYNACK_WIRE_EINVAL);
            einval++;
            continue;
        }
        ok++;
        assert_int_equal(len, (int)(20 + padded));
        assert_int_equal(synack_tcp_parse(buf, (size_t)len, SRC, DST, true, &p), SYNACK_WIRE_OK);
        assert_same_fields(&h, &p);
        /* the order comes back, plus the EOL that padding added */
        bool padded_eol = !eol && padded > optlen;
        assert_int_equal(p.opts.norder, h.opts.norder + (padded_eol ? 1 : 0));
        assert_memory_equal(p.opts.order, h.opts.order, h.opts.norder);
        if (padded_eol)
            assert_int_equal(p.opts.order[h.opts.norder], SYNACK_TCPOPT_EOL);
        for (size_t k = 20 + optlen; k < (size_t)len; k++)
            assert_int_equal(buf[k], SYNACK_TCPOPT_EOL);
        assert_int_equal(synack_tcp_emit(again, sizeof again, &p, SRC, DST), len);
        assert_memory_equal(again, buf, (size_t)len);
    }
    assert_true(ok > 5000);
    assert_true(einval > 100);
}

/* The NOP, NOP, timestamp layout has a fast path in the parser: it must
 * give the very struct the general option loop gives.  The loop's answer is
 * had from the same options followed by an EOL word (doff 36, which the fast
 * path does not take): equal but for the EOL kept in the order.  Layouts
 * one byte away from it go through the loop and keep its verdicts. */
static void test_parse_ts_fast_path(void **state)
{
    (void)state;
    uint64_t s = 4242;

    for (int i = 0; i < 20000; i++) {
        uint32_t tsval = (uint32_t)rnd(&s), tsecr = (uint32_t)rnd(&s);
        if (i < 4) { /* the edges of the values */
            tsval = i & 1 ? 0xffffffffu : 0;
            tsecr = i & 2 ? 0xffffffffu : 0;
        }
        uint8_t o[16] = {1, 1, 8, 10, (uint8_t)(tsval >> 24), (uint8_t)(tsval >> 16),
                         (uint8_t)(tsval >> 8), (uint8_t)tsval, (uint8_t)(tsecr >> 24),
                         (uint8_t)(tsecr >> 16), (uint8_t)(tsecr >> 8), (uint8_t)tsecr, 0, 0, 0, 0};
        struct synack_tcp_hdr fast, slow, want;
        assert_int_equal(parse_opts(o, 12, &fast), SYNACK_WIRE_OK);
        assert_int_equal(parse_opts(o, 16, &slow), SYNACK_WIRE_OK);
        memset(&want.opts, 0, sizeof want.opts);
        want.opts.present = SYNACK_TCPOPT_F_TIMESTAMP;
        want.opts.tsval = tsval;
        want.opts.tsecr = tsecr;
        want.opts.norder = 3;
        memcpy(want.opts.order, o, 3);
        assert_memory_equal(&fast.opts, &want.opts, sizeof want.opts);
        assert_int_equal(slow.opts.norder, 4);
        assert_int_equal(slow.opts.order[3], SYNACK_TCPOPT_EOL);
        slow.opts.norder = 3;
        slow.opts.order[3] = 0;
        assert_memory_equal(&fast.opts, &slow.opts, sizeof want.opts);
        /* Through the input path (lenient) too. */
        uint8_t b[60];
        size_t len = with_opts(b, o, 12);
        assert_int_equal(synack_tcp_parse_input(b, len, SRC, DST, &slow), SYNACK_WIRE_OK);
        assert_memory_equal(&fast.opts, &slow.opts, sizeof want.opts);
        assert_int_equal(fast.doff, 32);
        assert_int_equal(fast.payload_len, 0);
    }
    /* One byte off the layout: the general loop's verdicts. */
    static const struct { uint8_t o[12]; int strict; uint32_t present; uint8_t norder; } near[] = {
        {{1, 1, 8, 9, 0, 0, 0, 0, 0, 0, 0, 0}, SYNACK_WIRE_EOPTVAL, 0, 4},
        {{1, 1, 8, 11, 0, 0, 0, 0, 0, 0, 0, 0}, SYNACK_WIRE_EOPTLEN, 0, 3},
        {{1, 0, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0}, SYNACK_WIRE_OK, 0, 2},
        {{0, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0}, SYNACK_WIRE_OK, 0, 1},
        {{1, 1, 1, 1, 8, 10, 0, 0, 0, 0, 0, 0}, SYNACK_WIRE_EOPTLEN, 0, 5},
        {{1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1}, SYNACK_WIRE_OK, SYNACK_TCPOPT_F_TIMESTAMP, 3},
    };
    for (size_t k = 0; k < sizeof near / sizeof near[0]; k++) {
        struct synack_tcp_hdr h;
        uint8_t b[60];
        assert_int_equal(parse_opts(near[k].o, 12, &h), near[k].strict);
        size_t len = with_opts(b, near[k].o, 12);
        assert_int_equal(synack_tcp_parse_input(b, len, SRC, DST, &h), SYNACK_WIRE_OK);
        assert_int_equal(h.opts.present, near[k].present);
        assert_int_equal(h.opts.norder, near[k].norder);
    }
}

/* The options synack sends are written by emit_hdr straight into the
 * header: for every combination of MSS, window scale, sackOK and timestamps
 * (values random and at their edges) the bytes must be the general
 * builder's (synack_tcp_emit_opts), and a header-only segment from
 * synack_tcp_emit (summed in line) must carry a checksum that verifies. */
static void test_emit_simple_options_as_general(void **state)
{
    (void)state;
    uint64_t s = 2718;
    static const uint32_t flags[] = {SYNACK_TCPOPT_F_MSS, SYNACK_TCPOPT_F_WSCALE,
                                     SYNACK_TCPOPT_F_SACK_PERM, SYNACK_TCPOPT_F_TIMESTAMP};

    for (int i = 0; i < 4000; i++) {
        struct synack_tcp_hdr h;
        memset(&h, 0, sizeof h);
        random_header(&h, &s);
        memset(&h.opts, 0, sizeof h.opts);
        for (unsigned k = 0; k < 4; k++)
            if ((unsigned)i >> k & 1u)
                h.opts.present |= flags[k];
        h.opts.mss = i & 16 ? 0xffff : (uint16_t)rnd(&s);
        h.opts.wscale = i & 32 ? 14 : (uint8_t)rnd(&s);
        h.opts.tsval = i & 64 ? 0xffffffffu : (uint32_t)rnd(&s);
        h.opts.tsecr = i & 128 ? 0 : (uint32_t)rnd(&s);
        h.payload = NULL;
        h.payload_len = 0;

        uint8_t want[SYNACK_TCP_OPT_MAX], seg[80];
        int n = synack_tcp_emit_opts(want, sizeof want, &h.opts);
        assert_true(n >= 0 && n <= 24);
        assert_int_equal(synack_tcp_emit_hdr(seg, sizeof seg, &h), 20 + n);
        assert_memory_equal(seg + 20, want, (size_t)n);
        assert_int_equal(seg[12] >> 4, (20 + n) / 4);

        int len = synack_tcp_emit(seg, sizeof seg, &h, SRC, DST);
        assert_int_equal(len, 20 + n);
        assert_memory_equal(seg + 20, want, (size_t)n);
        assert_int_equal(synack_csum_fold(synack_csum_partial(
                             seg, (size_t)len, synack_csum_pseudo(SRC, DST, 6, (uint16_t)len))),
                         0);
        struct synack_tcp_hdr back;
        assert_int_equal(synack_tcp_parse(seg, (size_t)len, SRC, DST, true, &back), SYNACK_WIRE_OK);
        assert_int_equal(back.opts.present, h.opts.present);
        /* Too little room: refused as the general path refuses it. */
        assert_int_equal(synack_tcp_emit(seg, (size_t)len - 1, &h, SRC, DST), SYNACK_WIRE_ENOSPC);
    }
}

/* Every prefix of every random header's bytes parses or fails cleanly. */
static void test_parse_random_bytes(void **state)
{
    (void)state;
    uint64_t s = 31337;
    uint8_t b[64];
    struct synack_tcp_hdr h;

    for (int i = 0; i < 50000; i++) {
        for (size_t k = 0; k < sizeof b; k++)
            b[k] = (uint8_t)rnd(&s);
        size_t len = (size_t)(rnd(&s) % (sizeof b + 1));
        int rc = synack_tcp_parse(b, len, SRC, DST, false, &h);
        assert_true(rc <= 0 && rc > -SYNACK_WIRE_NERR);
        if (rc == SYNACK_WIRE_OK) {
            assert_true(h.doff >= 20 && h.doff <= len);
            assert_int_equal(h.payload_len, len - h.doff);
            assert_true(h.opts.norder <= SYNACK_TCP_OPT_MAX);
        }
    }
}

static void test_flags_str(void **state)
{
    (void)state;
    static const struct { uint8_t f; const char *s; } cases[] = {
        {SYNACK_TH_SYN, "S"},
        {SYNACK_TH_SYN | SYNACK_TH_ACK, "S."},
        {SYNACK_TH_ACK, "."},
        {SYNACK_TH_PSH | SYNACK_TH_ACK, "P."},
        {SYNACK_TH_FIN | SYNACK_TH_ACK, "F."},
        {SYNACK_TH_FIN | SYNACK_TH_PSH | SYNACK_TH_ACK, "FP."},
        {SYNACK_TH_RST, "R"},
        {SYNACK_TH_RST | SYNACK_TH_ACK, "R."},
        {SYNACK_TH_SYN | SYNACK_TH_ECE | SYNACK_TH_CWR, "SEW"},
        {SYNACK_TH_SYN | SYNACK_TH_ACK | SYNACK_TH_ECE, "S.E"},
        {SYNACK_TH_URG | SYNACK_TH_ACK, ".U"},
        {0xff, "FSRP.UEW"},
        {0, "none"},
    };
    char buf[16];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(synack_tcp_flags_str(cases[i].f, buf), cases[i].s);
    assert_ptr_equal(synack_tcp_flags_str(SYNACK_TH_SYN, buf), buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_linux_syn),
        cmocka_unit_test(test_emit_linux_syn),
        cmocka_unit_test(test_linux_layouts),
        cmocka_unit_test(test_emit_order_invalid),
        cmocka_unit_test(test_truncated_and_doff),
        cmocka_unit_test(test_bad_checksum),
        cmocka_unit_test(test_bad_option_lengths),
        cmocka_unit_test(test_bad_option_values),
        cmocka_unit_test(test_option_parsing_details),
        cmocka_unit_test(test_emit_payload),
        cmocka_unit_test(test_round_trip_linux_layout),
        cmocka_unit_test(test_round_trip_explicit_order),
        cmocka_unit_test(test_parse_ts_fast_path),
        cmocka_unit_test(test_emit_simple_options_as_general),
        cmocka_unit_test(test_parse_random_bytes),
        cmocka_unit_test(test_flags_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
