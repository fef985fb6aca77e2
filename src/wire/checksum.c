/* The Internet checksum: RFC 1071 (computation), RFC 1624 (incremental update).
 *
 * Convention: every sum here is the one's-complement sum of the data read as
 * 16-bit BIG-endian words (what RFC 1071 defines on the wire), carried in a
 * host-order integer.  synack_csum_fold() and synack_csum() therefore return a
 * host-order value that is written to a header with a big-endian 16-bit store.
 *
 * Speed: RFC 1071 section 2 (B) notes that the sum is independent of byte
 * order: summing native words and swapping the bytes of the folded result
 * gives the big-endian sum.  So the bulk is summed as native 64-bit words
 * (memcpy loads: any alignment), with the carries counted separately, in two
 * independent chains so that the CPU can overlap them; 2^64 - 1 is a multiple
 * of 2^16 - 1, so folding the 64-bit sum gives the 16-bit one.  synack_csum_copy runs the
 * same loop with a store after each load: the sender's copy from its send
 * buffer into the packet and the checksum are one pass over the payload.
 *
 * On x86-64 (GNU C) the bulk is add-with-carry runs instead, eight words
 * to a run, as Linux's csum_partial does: one instruction per 8 bytes where
 * the portable loop needs about four (add, compare, carry, load).  Two
 * runs alternate 64 bytes at a time; each starts with a plain add, so the
 * CPU overlaps them (one chain alone ran at half the speed: a chain of
 * adc is one word per cycle).  synack_csum_copy is then glibc's memcpy
 * followed by that sum over the copy, still in L1: fewer instructions
 * than the fused portable loop at the same speed (docs/benchmarks.md).
 * Sanitizer builds keep the portable loops, whose reads the sanitizer
 * checks.
 */
#include "synack/wire.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define CSUM_NATIVE_IS_BE 1
#else
#define CSUM_NATIVE_IS_BE 0
#endif

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint16_t load16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* One's-complement addition of 64-bit values (end-around carry). */
static inline uint64_t add64(uint64_t a, uint64_t b)
{
    a += b;
    return a + (a < b);
}

/* Fold a 64-bit one's-complement sum to 16 bits (not complemented). */
static inline uint16_t fold64(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);   /* <= 33 bits */
    s = (s & 0xffffffffu) + (s >> 32);   /* <= 32 bits */
    s = (s & 0xffffu) + (s >> 16);       /* <= 17 bits */
    s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)s;
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define CSUM_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CSUM_SANITIZED 1
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(CSUM_SANITIZED)
#define CSUM_ADC 1
/* s + the 64 bytes at p as eight 64-bit words, one's complement: one
 * add-with-carry chain, its last carry added back (end-around). */
static inline uint64_t adc64x8(uint64_t s, const uint8_t *p)
{
    __asm__("addq 0(%[p]), %[s]\n\t"
            "adcq 8(%[p]), %[s]\n\t"
            "adcq 16(%[p]), %[s]\n\t"
            "adcq 24(%[p]), %[s]\n\t"
            "adcq 32(%[p]), %[s]\n\t"
            "adcq 40(%[p]), %[s]\n\t"
            "adcq 48(%[p]), %[s]\n\t"
            "adcq 56(%[p]), %[s]\n\t"
            "adcq $0, %[s]"
            : [s] "+r"(s)
            : [p] "r"(p), "m"(*(const uint8_t(*)[64])p)
            : "cc");
    return s;
}
#endif

/* Native-order one's-complement sum of `len` bytes, as 64-bit partial. */
static uint64_t sum_native(const uint8_t *p, size_t len)
{
    uint64_t s0 = 0, s1 = 0, c0 = 0, c1 = 0, w;

#ifdef CSUM_ADC
    /* Two chains, 64 bytes each in turn: each run starts with a plain add,
     * so the CPU (which renames the flags) overlaps them. */
    for (; len >= 128; len -= 128, p += 128) {
        s0 = adc64x8(s0, p);
        s1 = adc64x8(s1, p + 64);
    }
    if (len >= 64) {
        s0 = adc64x8(s0, p);
        len -= 64;
        p += 64;
    }
#endif
    for (; len >= 64; len -= 64, p += 64) {
        w = load64(p);      s0 += w; c0 += s0 < w;
        w = load64(p + 8);  s1 += w; c1 += s1 < w;
        w = load64(p + 16); s0 += w; c0 += s0 < w;
        w = load64(p + 24); s1 += w; c1 += s1 < w;
        w = load64(p + 32); s0 += w; c0 += s0 < w;
        w = load64(p + 40); s1 += w; c1 += s1 < w;
        w = load64(p + 48); s0 += w; c0 += s0 < w;
        w = load64(p + 56); s1 += w; c1 += s1 < w;
    }
    for (; len >= 8; len -= 8, p += 8) {
        w = load64(p);
        s0 += w;
        c0 += s0 < w;
    }
    /* The tail: < 8 bytes, at most 2^32 + 2^16 + 2^8, no carry out. */
    w = 0;
    if (len & 4) {
        w += load32(p);
        p += 4;
    }
    if (len & 2) {
        w += load16(p);
        p += 2;
    }
    if (len & 1)   /* RFC 1071: an odd last byte is padded with a zero byte on its right */
        w += CSUM_NATIVE_IS_BE ? (uint64_t)p[0] << 8 : p[0];
    /* Carry counts are at most len / 8: adding them cannot lose a bit. */
    return add64(add64(add64(s0, s1), c0 + c1), w);
}

uint32_t synack_csum_partial(const void *data, size_t len, uint32_t sum)
{
    uint16_t s = fold64(sum_native(data, len));
    uint32_t r;

    if (!CSUM_NATIVE_IS_BE)
        s = (uint16_t)((s << 8) | (s >> 8));
    r = sum + s;
    return r + (r < s);
}

#ifndef CSUM_ADC
/* sum_native's bulk loop with a store after each load. */
static uint64_t copy_bulk32(uint8_t *d, const uint8_t *p, size_t len)
{
    uint64_t s0 = 0, s1 = 0, c0 = 0, c1 = 0, w, v;

    for (; len >= 32; len -= 32, p += 32, d += 32) {
        w = load64(p);      v = load64(p + 8);
        memcpy(d, &w, 8);   memcpy(d + 8, &v, 8);
        s0 += w; c0 += s0 < w;
        s1 += v; c1 += s1 < v;
        w = load64(p + 16); v = load64(p + 24);
        memcpy(d + 16, &w, 8); memcpy(d + 24, &v, 8);
        s0 += w; c0 += s0 < w;
        s1 += v; c1 += s1 < v;
    }
    return add64(add64(s0, s1), c0 + c1);
}
#endif

uint32_t synack_csum_copy(void *dst, const void *src, size_t len, uint32_t sum)
{
#ifdef CSUM_ADC
    memcpy(dst, src, len);
    return synack_csum_partial(dst, len, sum);
#else
    size_t body = len & ~(size_t)31;
    uint64_t s64 = copy_bulk32(dst, src, len);
    /* The tail (< 32 bytes, at an even offset) copied and summed as sum_native does. */
    memcpy((uint8_t *)dst + body, (const uint8_t *)src + body, len - body);
    uint16_t f = fold64(add64(s64, sum_native((const uint8_t *)src + body, len - body)));
    uint32_t r;

    if (!CSUM_NATIVE_IS_BE)
        f = (uint16_t)((f << 8) | (f >> 8));
    r = sum + f;
    return r + (r < f);
#endif
}

uint32_t synack_csum_swab(uint32_t sum)
{
    uint16_t f = fold64(sum);
    return (uint16_t)((f << 8) | (f >> 8));
}

uint16_t synack_csum_fold(uint32_t sum)
{
    return (uint16_t)~fold64(sum);
}

uint16_t synack_csum(const void *data, size_t len)
{
    return synack_csum_fold(synack_csum_partial(data, len, 0));
}

uint32_t synack_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    /* RFC 9293 3.1: src, dst, zero + protocol, TCP length; <= 6 * 0xffff, no overflow. */
    return (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + proto + len;
}

/* RFC 1624 section 3, eqn. 3: HC' = ~(~HC + ~m + m').  Eqn. 2 of RFC 1141
 * can give 0xffff where a recomputation gives 0x0000; eqn. 3 always agrees
 * with a recomputation (for a header that is not all zero bytes). */
uint16_t synack_csum_update16(uint16_t csum, uint16_t old_val, uint16_t new_val)
{
    uint32_t s = (uint32_t)(uint16_t)~csum + (uint16_t)~old_val + new_val;
    return synack_csum_fold(s);
}

uint16_t synack_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val)
{
    uint32_t s = (uint32_t)(uint16_t)~csum + (uint16_t)~(old_val >> 16) +
                 (uint16_t)~(old_val & 0xffffu) + (new_val >> 16) + (new_val & 0xffffu);
    return synack_csum_fold(s);
}
