/* The virtio-net header of IFF_VNET_HDR (src/dev/vnet.c) against a frame
 * built here byte by byte: on a TAP its offsets count the 14-byte Ethernet
 * header, on a TUN they start at the IPv4 header.  The checks play the
 * kernel's part: a checksum completed where the built header says (over the
 * frame from csum_start, stored at csum_start + csum_offset) must verify by
 * an independent one's-complement sum, and a header the kernel would send
 * must lead synack to the right bytes of the IPv4 packet. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "dev/dev_internal.h"

enum { ETH = 14, IP = 20, TCP = 32, PAYLOAD = 3000 };
#define FRAME_LEN (ETH + IP + TCP + PAYLOAD)

/* The legacy header's fields, in the host's byte order (as TUN uses them). */
struct hdr {
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

static struct hdr read_hdr(const uint8_t *b)
{
    struct hdr h;
    h.flags = b[0];
    h.gso_type = b[1];
    memcpy(&h.hdr_len, b + 2, 2);
    memcpy(&h.gso_size, b + 4, 2);
    memcpy(&h.csum_start, b + 6, 2);
    memcpy(&h.csum_offset, b + 8, 2);
    return h;
}

static void write_hdr(uint8_t *b, struct hdr h)
{
    b[0] = h.flags;
    b[1] = h.gso_type;
    memcpy(b + 2, &h.hdr_len, 2);
    memcpy(b + 4, &h.gso_size, 2);
    memcpy(b + 6, &h.csum_start, 2);
    memcpy(b + 8, &h.csum_offset, 2);
}

/* Sum of big-endian 16-bit words, folded: the reference, independent of
 * the library's checksum code. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* Ethernet (02:53:4b:..., IPv4), IPv4 10.0.0.2 -> 10.0.0.1 (TCP, no options),
 * TCP with 12 bytes of options (a timestamp) and a patterned payload.  The
 * TCP checksum field holds what synack leaves for the kernel to complete:
 * the pseudo-header's sum. */
static void build_frame(uint8_t *f)
{
    static const uint8_t eth[ETH] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
                                     0x02, 0x53, 0x4b, 0x00, 0x00, 0x02, 0x08, 0x00};
    memcpy(f, eth, ETH);
    uint8_t *ip = f + ETH;
    uint16_t tot = IP + TCP + PAYLOAD;
    const uint8_t iph[IP] = {0x45, 0, (uint8_t)(tot >> 8), (uint8_t)tot, 0x12, 0x34, 0x40, 0, 64, 6,
                             0, 0, 10, 0, 0, 2, 10, 0, 0, 1};
    memcpy(ip, iph, IP);
    uint16_t ic = (uint16_t)~fold(sum16(ip, IP, 0));
    ip[10] = (uint8_t)(ic >> 8);
    ip[11] = (uint8_t)ic;
    uint8_t *th = ip + IP;
    const uint8_t tcph[TCP] = {0x9c, 0x40, 0x00, 0x50, 0xff, 0xff, 0xf0, 0x00, 0, 0, 0, 1,
                               (TCP / 4) << 4, 0x18, 0x01, 0x00, 0, 0, 0, 0,
                               1, 1, 8, 10, 0, 0, 0, 77, 0, 0, 0, 0};
    memcpy(th, tcph, TCP);
    for (int i = 0; i < PAYLOAD; i++)
        th[TCP + i] = (uint8_t)(i * 7 + 3);
    uint32_t pseudo = sum16(ip + 12, 8, 0) + 6 + TCP + PAYLOAD;
    uint16_t p = fold(pseudo);
    th[16] = (uint8_t)(p >> 8);
    th[17] = (uint8_t)p;
}

/* The TCP checksum of the IPv4 packet at ip verifies. */
static void assert_tcp_csum_ok(const uint8_t *ip)
{
    uint32_t s = sum16(ip + 12, 8, 0) + 6 + TCP + PAYLOAD;
    assert_int_equal(fold(sum16(ip + IP, TCP + PAYLOAD, s)), 0xffff);
}

/* What the kernel does with NEEDS_CSUM (skb_checksum_help): sum from
 * csum_start to the end (the field holds the pseudo-header's sum) and store
 * the complement at csum_start + csum_offset. */
static void kernel_complete(uint8_t *f, size_t len, struct hdr h)
{
    uint16_t c = (uint16_t)~fold(sum16(f + h.csum_start, len - h.csum_start, 0));
    f[h.csum_start + h.csum_offset] = (uint8_t)(c >> 8);
    f[h.csum_start + h.csum_offset + 1] = (uint8_t)c;
}

static const struct synack_pkt_meta tso = {.flags = SYNACK_PKT_CSUM_PARTIAL,
                                           .gso_size = 1448,
                                           .gso_segs = 3,
                                           .hdr_len = IP + TCP,
                                           .csum_start = IP,
                                           .csum_offset = 16};

static void test_build_tap(void **state)
{
    (void)state;
    static uint8_t f[FRAME_LEN];
    build_frame(f);
    uint8_t raw[SN_DEV_VNET_LEN];
    memset(raw, 0xee, sizeof(raw));
    sn_vnet_build(raw, &tso, true, ETH);
    struct hdr h = read_hdr(raw);
    assert_int_equal(h.flags, 1);      /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
    assert_int_equal(h.gso_type, 1);   /* VIRTIO_NET_HDR_GSO_TCPV4 */
    assert_int_equal(h.hdr_len, ETH + IP + TCP);
    assert_int_equal(h.gso_size, 1448);
    assert_int_equal(h.csum_start, ETH + IP);
    assert_int_equal(h.csum_offset, 16);
    /* The kernel completes the checksum where the header says: in the TCP
     * header of the frame, and it verifies. */
    kernel_complete(f, FRAME_LEN, h);
    assert_tcp_csum_ok(f + ETH);
}

static void test_build_tun_and_plain(void **state)
{
    (void)state;
    static uint8_t f[FRAME_LEN];
    build_frame(f);
    uint8_t *ip = f + ETH;
    uint8_t raw[SN_DEV_VNET_LEN];
    /* TUN: the same descriptor, offsets from the IPv4 header. */
    sn_vnet_build(raw, &tso, true, 0);
    struct hdr h = read_hdr(raw);
    assert_int_equal(h.hdr_len, IP + TCP);
    assert_int_equal(h.csum_start, IP);
    kernel_complete(ip, IP + TCP + PAYLOAD, h);
    assert_tcp_csum_ok(ip);
    /* A partial checksum without segmentation: no GSO fields. */
    sn_vnet_build(raw, &tso, false, ETH);
    h = read_hdr(raw);
    assert_int_equal(h.flags, 1);
    assert_int_equal(h.gso_type, 0);
    assert_int_equal(h.hdr_len, 0);
    assert_int_equal(h.gso_size, 0);
    assert_int_equal(h.csum_start, ETH + IP);
    /* Nothing to offload: an all-zero header. */
    const struct synack_pkt_meta none = {.gso_segs = 1};
    sn_vnet_build(raw, &none, false, ETH);
    static const uint8_t zero[SN_DEV_VNET_LEN];
    assert_memory_equal(raw, zero, sizeof(zero));
}

static void test_parse_partial(void **state)
{
    (void)state;
    static uint8_t f[FRAME_LEN];
    build_frame(f);
    uint8_t raw[SN_DEV_VNET_LEN];
    /* What the kernel writes for its own segment on a TAP: NEEDS_CSUM from
     * the TCP header, counted from the frame's start, and GSO (GRO'd). */
    write_hdr(raw, (struct hdr){.flags = 1, .gso_type = 1, .hdr_len = ETH + IP + TCP,
                                .gso_size = 1448, .csum_start = ETH + IP, .csum_offset = 16});
    struct sn_vnet_rx r;
    assert_int_equal(sn_vnet_parse(raw, ETH, FRAME_LEN, &r), 0);
    assert_true(r.gso);
    assert_true(r.partial);
    assert_int_equal(r.rx_flags, SYNACK_RX_CSUM_VALID);
    assert_int_equal(r.csum_start, IP);
    assert_int_equal(r.csum_offset, 16);
    /* Completing it in the IPv4 packet with those offsets gives a valid
     * checksum (what synack_dev_recv does before a plain receiver). */
    struct synack_pkt_meta m = {.flags = SYNACK_PKT_CSUM_PARTIAL, .csum_start = r.csum_start,
                                .csum_offset = r.csum_offset};
    assert_int_equal(synack_pkt_csum_finish(f + ETH, FRAME_LEN - ETH, &m), 0);
    assert_tcp_csum_ok(f + ETH);
}

static void test_parse_flags_and_bounds(void **state)
{
    (void)state;
    uint8_t raw[SN_DEV_VNET_LEN];
    struct sn_vnet_rx r;
    /* CHECKSUM_UNNECESSARY: valid, nothing to complete. */
    write_hdr(raw, (struct hdr){.flags = 2 /* VIRTIO_NET_HDR_F_DATA_VALID */});
    assert_int_equal(sn_vnet_parse(raw, ETH, FRAME_LEN, &r), 0);
    assert_false(r.partial);
    assert_false(r.gso);
    assert_int_equal(r.rx_flags, SYNACK_RX_CSUM_VALID);
    /* No flags: the stack checks the checksum itself. */
    write_hdr(raw, (struct hdr){0});
    assert_int_equal(sn_vnet_parse(raw, ETH, FRAME_LEN, &r), 0);
    assert_int_equal(r.rx_flags, 0);
    /* A checksum start inside the Ethernet header, or a checksum field
     * past the frame's end: refused, never read or written out of bounds. */
    write_hdr(raw, (struct hdr){.flags = 1, .csum_start = ETH - 1, .csum_offset = 16});
    assert_int_equal(sn_vnet_parse(raw, ETH, FRAME_LEN, &r), SYNACK_WIRE_EINVAL);
    write_hdr(raw, (struct hdr){.flags = 1, .csum_start = FRAME_LEN - 17, .csum_offset = 16});
    assert_int_equal(sn_vnet_parse(raw, ETH, FRAME_LEN, &r), SYNACK_WIRE_EINVAL);
    write_hdr(raw, (struct hdr){.flags = 1, .csum_start = FRAME_LEN - 18, .csum_offset = 16});
    assert_int_equal(sn_vnet_parse(raw, ETH, FRAME_LEN, &r), 0);
    assert_int_equal(r.csum_start, FRAME_LEN - 18 - ETH);
    write_hdr(raw, (struct hdr){.flags = 1, .csum_start = 0xffff, .csum_offset = 0xffff});
    assert_int_equal(sn_vnet_parse(raw, ETH, FRAME_LEN, &r), SYNACK_WIRE_EINVAL);
    /* A frame shorter than its link-layer header. */
    write_hdr(raw, (struct hdr){.flags = 1, .csum_start = ETH, .csum_offset = 0});
    assert_int_equal(sn_vnet_parse(raw, ETH, ETH - 1, &r), SYNACK_WIRE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_tap),
        cmocka_unit_test(test_build_tun_and_plain),
        cmocka_unit_test(test_parse_partial),
        cmocka_unit_test(test_parse_flags_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
