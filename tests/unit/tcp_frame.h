/* A TCP/IPv4 segment behind an Ethernet header, built byte by byte (no
 * library code), and an independent one's-complement sum to check TCP
 * checksums with: the device tests' reference frame (test_vnet.c,
 * test_dev_tap.c).  Include after cmocka.h. */
#ifndef SYNACK_TESTS_TCP_FRAME_H
#define SYNACK_TESTS_TCP_FRAME_H

#include <stdint.h>
#include <string.h>

enum { ETH = 14, IP = 20, TCP = 32, PAYLOAD = 3000 };
#define FRAME_LEN (ETH + IP + TCP + PAYLOAD)

/* The legacy header's fields, in the host's byte order (as TUN uses them). */
struct hdr {
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

static inline struct hdr read_hdr(const uint8_t *b)
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

static inline void write_hdr(uint8_t *b, struct hdr h)
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
static inline uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static inline uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* Ethernet (02:53:4b:..., IPv4), IPv4 10.0.0.2 -> 10.0.0.1 (TCP, no options),
 * TCP with 12 bytes of options (a timestamp) and a patterned payload.  The
 * TCP checksum field holds what synack leaves for the kernel to complete:
 * the pseudo-header's sum. */
static inline void build_frame(uint8_t *f)
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

/* The TCP checksum of the IPv4 packet at ip (20-byte header, its total
 * length as it says) verifies. */
static inline void assert_tcp_csum_ok(const uint8_t *ip)
{
    uint16_t tcp_len = (uint16_t)((ip[2] << 8 | ip[3]) - IP);
    uint32_t s = sum16(ip + 12, 8, 0) + 6 + tcp_len;
    assert_int_equal(fold(sum16(ip + IP, tcp_len, s)), 0xffff);
}

/* The descriptor synack gives the frame's IPv4 packet: cut at 1448, the
 * checksum left partial. */
static const struct synack_pkt_meta tso = {.flags = SYNACK_PKT_CSUM_PARTIAL,
                                           .gso_size = 1448,
                                           .gso_segs = 3,
                                           .hdr_len = IP + TCP,
                                           .csum_start = IP,
                                           .csum_offset = 16};

#endif
