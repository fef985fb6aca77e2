/* A small seeded PRNG (xoshiro256**, seeded through splitmix64).
 * Deterministic for a given seed: the simulator and the stacks draw from it so
 * that a run can be replayed. Not a cryptographic generator: the security
 * issue derives ISNs with a keyed hash (RFC 6528) on top of it. */
#ifndef SYNACK_CORE_RNG_H
#define SYNACK_CORE_RNG_H

#include <stdint.h>

struct sn_rng {
    uint64_t s[4];
};

static inline uint64_t sn_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void sn_rng_seed(struct sn_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = sn_splitmix64(&seed);
}

static inline uint64_t sn_rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t sn_rng_next(struct sn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sn_rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sn_rotl64(s[3], 45);
    return result;
}

/* Uniform double in [0, 1). */
static inline double sn_rng_double(struct sn_rng *r)
{
    return (double)(sn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; the bias is
 * below 2^-32 for the n used here). */
static inline uint32_t sn_rng_below(struct sn_rng *r, uint32_t n)
{
    return (uint32_t)(((sn_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

#endif
