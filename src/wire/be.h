/* Big-endian (network order) loads and stores on byte pointers, for the
 * codecs: any alignment, no type punning.  On a little-endian GCC or clang
 * build each is one unaligned access and a byte swap (memcpy of a fixed
 * size compiles to a plain load or store); elsewhere byte by byte. */
#ifndef SYNACK_WIRE_BE_H
#define SYNACK_WIRE_BE_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SYNACK_BE_SWAP 1
#else
#define SYNACK_BE_SWAP 0
#endif

static inline uint16_t get16(const uint8_t *p)
{
#if SYNACK_BE_SWAP
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap16(v);
#else
    return (uint16_t)(p[0] << 8 | p[1]);
#endif
}

static inline uint32_t get32(const uint8_t *p)
{
#if SYNACK_BE_SWAP
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap32(v);
#else
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
#endif
}

static inline void put16(uint8_t *p, uint16_t v)
{
#if SYNACK_BE_SWAP
    v = __builtin_bswap16(v);
    memcpy(p, &v, sizeof v);
#else
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
#endif
}

static inline void put32(uint8_t *p, uint32_t v)
{
#if SYNACK_BE_SWAP
    v = __builtin_bswap32(v);
    memcpy(p, &v, sizeof v);
#else
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
#endif
}

#endif
