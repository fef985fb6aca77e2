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
#include "tcp_frame.h"

/* What the kernel does with NEEDS_CSUM (skb_checksum_help): sum from
 * csum_start to the end (the field holds the pseudo-header's sum) and store
 * the complement at csum_start + csum_offset. */
static void kernel_complete(uint8_t *f, size_t len, struct hdr h)
{
    uint16_t c = (uint16_t)~fold(sum16(f + h.csum_start, len - h.csum_start, 0));
    f[h.csum_start + h.csum_offset] = (uint8_t)(c >> 8);
    f[h.csum_start + h.csum_offset + 1] = (uint8_t)c;
}

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
