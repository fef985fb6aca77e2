/* The Internet checksum of a short run of whole 32-bit words (a header), in
 * line: the value synack_csum_partial(p, 4 * nwords, sum) returns, without
 * its general loop and call.  Headers are the common case on the packet
 * paths of small segments (an IPv4 header, a TCP header with its options).
 *
 * RFC 1071 2(B): the sum does not depend on byte order, so the native words
 * are added in 64 bits (at most 15 words: no carry is lost), folded to 16
 * bits and swapped to network order.  The fold of a non-zero sum is in
 * 1..0xffff, as checksum.c's is, so the two agree on every input
 * (tests/unit/test_wire_csum_words.c compares them). */
#ifndef SYNACK_WIRE_CSUM_WORDS_H
#define SYNACK_WIRE_CSUM_WORDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SN_CSUM_WORDS_MAX 15 /* the largest IPv4 or TCP header, in words */

static inline uint32_t sn_csum_words_n(const uint8_t *p, size_t nwords, uint32_t sum)
{
    uint64_t s = 0;
    for (size_t i = 0; i < nwords; i++) {
        uint32_t w;
        memcpy(&w, p + 4 * i, sizeof w);
        s += w;
    }
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    uint16_t f = (uint16_t)s;
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
    f = (uint16_t)(f << 8 | f >> 8);
#endif
    uint32_t r = sum + f;
    return r + (r < f);
}

/* The common sizes (an IPv4 header, a TCP header with timestamps) get a
 * constant count, which the compiler unrolls; a variable count would be
 * vectorised with more set-up than a few words are worth. */
static inline uint32_t sn_csum_words(const uint8_t *p, size_t nwords, uint32_t sum)
{
    if (nwords == 5)
        return sn_csum_words_n(p, 5, sum);
    if (nwords == 8)
        return sn_csum_words_n(p, 8, sum);
    return sn_csum_words_n(p, nwords, sum);
}

#endif
