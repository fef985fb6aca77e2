/* Seed corpora for the fuzz harnesses.
 *
 *   fuzz_seeds OUTDIR [CAPTURE.pcap...]
 *
 * Writes OUTDIR/fuzz_ipv4 (each captured datagram), OUTDIR/fuzz_tcp (each
 * TCP segment), OUTDIR/fuzz_icmp (echo requests and errors quoting captured
 * segments) and OUTDIR/fuzz_stack (operation programs: handshakes, data,
 * closes, time jumps, ICMP).  The captures come from `synack demo --pcap`
 * (scripts/fuzz.sh); the packet scripts seed fuzz_script directly. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "synack/wire.h"

static unsigned nseed;

static void put(const char *dir, const char *sub, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    mkdir(path, 0777);
    snprintf(path, sizeof(path), "%s/%s/seed-%05u", dir, sub, nseed++);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(data, 1, len, f);
    fclose(f);
}

static uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

/* An ICMP error quoting `pkt` (a datagram we captured). */
static void icmp_error(const char *dir, uint8_t type, uint8_t code, uint16_t mtu,
                       const uint8_t *pkt, size_t len)
{
    uint8_t buf[SYNACK_ICMP_HDR_LEN + 64];
    struct synack_icmp_hdr ic = {.type = type, .code = code, .mtu = mtu, .data = pkt,
                                 .data_len = len < 48 ? len : 48};
    int n = synack_icmp_emit(buf, sizeof(buf), &ic);
    if (n > 0)
        put(dir, "fuzz_icmp", buf, (size_t)n);
}

static void from_pcap(const char *dir, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    uint8_t gh[24], rh[16];
    static uint8_t pkt[65536 + 14];
    if (fread(gh, 1, 24, f) != 24) {
        fclose(f);
        return;
    }
    int swap = rd32(gh, 0) == 0xd4c3b2a1u || rd32(gh, 0) == 0x4d3cb2a1u;
    uint32_t link = rd32(gh + 20, swap);
    size_t skip = link == 1 ? 14 : 0; /* Ethernet, else raw IPv4 */
    unsigned icmps = 0;
    while (fread(rh, 1, 16, f) == 16) {
        uint32_t incl = rd32(rh + 8, swap);
        if (incl > sizeof(pkt) || fread(pkt, 1, incl, f) != incl)
            break;
        if (incl <= skip)
            continue;
        const uint8_t *ip4 = pkt + skip;
        size_t len = incl - skip;
        struct synack_ipv4_hdr ip;
        if (synack_ipv4_parse(ip4, len, &ip) < 0)
            continue;
        put(dir, "fuzz_ipv4", ip4, len);
        if (ip.proto == SYNACK_IPPROTO_TCP)
            put(dir, "fuzz_tcp", ip.payload, ip.payload_len);
        if (icmps++ < 4) {
            icmp_error(dir, SYNACK_ICMP_DEST_UNREACH, SYNACK_ICMP_UNREACH_NEEDFRAG, 1200, ip4, len);
            icmp_error(dir, SYNACK_ICMP_DEST_UNREACH, SYNACK_ICMP_UNREACH_PORT, 0, ip4, len);
            icmp_error(dir, SYNACK_ICMP_TIME_EXCEEDED, 0, 0, ip4, len);
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_seeds OUTDIR [CAPTURE.pcap...]\n");
        return 2;
    }
    const char *dir = argv[1];
    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    for (int i = 2; i < argc; i++)
        from_pcap(dir, argv[i]);

    uint8_t buf[256];
    struct synack_icmp_hdr echo = {.type = SYNACK_ICMP_ECHO_REQUEST, .id = 7, .seq = 1,
                                   .data = (const uint8_t *)"0123456789abcdef", .data_len = 16};
    int n = synack_icmp_emit(buf, sizeof(buf), &echo);
    if (n > 0)
        put(dir, "fuzz_icmp", buf, (size_t)n);

    /* Stack programs (fuzz_stack.c's encoding): byte 0 the MTU index, then
     * operations: low nibble the kind, high nibble the slot. */
    static const uint8_t progs[][48] = {
        /* handshake on slot 0 (options: MSS+TS+SACK-perm), data, time, close */
        {0, 0x05, 0x1d, 0xb4, 0x05, 1, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44,
         0x03, 0x40, 0x10, 0, 0x09, 0x00, 0x00, 0x04, 0x07, 0x03, 0x09, 0x03},
        /* two connections, a FIN from the peer, ICMP needfrag, long idle */
        {1, 0x05, 0x00, 1, 2, 3, 4, 0x15, 0x00, 5, 6, 7, 8, 0x03, 0x01, 0x00,
         0x06, 0x80, 4, 0xb0, 0x04, 40, 0x07, 0x07, 0x07, 0xff},
        /* active open from the stack on slot 2, SYN-ACK, data both ways */
        {0, 0x29, 0x07, 0x25, 0x00, 9, 9, 9, 9, 0x23, 0x40, 0x00, 100, 0x29, 0x00,
         0x00, 0x10, 0x07, 0x04},
        /* zero window, persist, keepalive */
        {2, 0x05, 0x00, 1, 1, 1, 1, 0x09, 0x00, 0xff, 0xff, 0x03, 0x80, 0x00, 0x00, 0x00,
         0x07, 0x05, 0x07, 0x06, 0x09, 0x05, 0x03, 0x07, 0xff},
    };
    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
        put(dir, "fuzz_stack", progs[i], sizeof(progs[i]));
    printf("fuzz_seeds: %u seeds in %s\n", nseed, dir);
    return 0;
}
