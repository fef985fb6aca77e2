/* Connection table keyed by 4-tuple (see tuple_table.h).
 *
 * The lookup hash is Thorup's pair-multiply-shift ("High Speed Hashing for
 * Integers and Strings", 2015, section 3.6) over the tuple's 32-bit words
 * under five random 64-bit multipliers expanded from the table's key:
 * strongly universal into its top 32 bits, so that for any two tuples an
 * attacker picks without knowing the key, they share a bucket with
 * probability about 1/nbuckets (hash flooding needs the key).  Linux keys its
 * established hash the same way, with a cheap hash (jhash) under a boot-time
 * secret rather than a PRF; two multiplications cost a tenth of a SipHash,
 * which matters on every packet and every connection opened.  SipHash stays
 * where the output is seen by the peer (ISNs, ports, cookies: tcp_secret.c,
 * tcp_syncache.c), where it must be a PRF.  The tuple's fields are hashed
 * explicitly, never its bytes.
 *
 * init: initial_buckets of 0 is taken as 1; both sizes are capped at 2^31,
 * and max_buckets is raised to initial_buckets when smaller.
 */
#include "core/tuple_table.h"
#include "core/mem.h"

#include "core/rng.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POW2 (UINT32_C(1) << 31)

static uint64_t rotl(uint64_t x, unsigned k) { return (x << k) | (x >> (64 - k)); }

static uint64_t load_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v; /* one unaligned load */
    memcpy(&v, p, sizeof v);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
#endif
}

/* SipHash paper section 2: the state is initialised from the key, absorbs
 * each 8-byte little-endian word with 2 rounds, the last word holding the
 * leftover bytes and the length mod 256 in its top byte, then 4
 * finalisation rounds.  The state is four locals, not an array behind a
 * pointer, so that the compiler keeps it in registers through the rounds. */
#define SIP_ROUND(v0, v1, v2, v3)                                                    \
    do {                                                                             \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);                    \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                                       \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                                       \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);                    \
    } while (0)

uint64_t sn_siphash(const uint64_t key[2], const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t v0 = key[0] ^ UINT64_C(0x736f6d6570736575);
    uint64_t v1 = key[1] ^ UINT64_C(0x646f72616e646f6d);
    uint64_t v2 = key[0] ^ UINT64_C(0x6c7967656e657261);
    uint64_t v3 = key[1] ^ UINT64_C(0x7465646279746573);
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = load_le64(p + i);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < (len & 7); i++)
        last |= (uint64_t)p[whole + i] << (8 * i);
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

/* The words x0 = laddr, x1 = raddr, x2 = lport << 16 | rport, x3 = 0:
 * ((a0 + x1)(a1 + x0) + (a2 + x3)(a3 + x2) + b) mod 2^64, top 32 bits. */
static uint32_t tuple_hash(const struct sn_tuple_table *t, const struct synack_tuple *k)
{
    const uint64_t *a = t->mul;
    uint64_t x2 = (uint64_t)k->lport << 16 | k->rport;
    uint64_t h = (a[0] + k->raddr) * (a[1] + k->laddr) + a[2] * (a[3] + x2) + a[4];
    return (uint32_t)(h >> 32);
}

uint32_t sn_tuple_hash(const struct sn_tuple_table *t, const struct synack_tuple *k)
{
    return tuple_hash(t, k);
}

static bool tuple_eq(const struct synack_tuple *a, const struct synack_tuple *b)
{
    return a->laddr == b->laddr && a->raddr == b->raddr && a->lport == b->lport &&
           a->rport == b->rport;
}

static uint32_t round_pow2(uint32_t n)
{
    if (n <= 1)
        return 1;
    if (n > MAX_POW2)
        return MAX_POW2;
    n--;
    n |= n >> 1;
    n |= n >> 2;
    n |= n >> 4;
    n |= n >> 8;
    n |= n >> 16;
    return n + 1;
}

static struct sn_tuple_entry *find_hashed(const struct sn_tuple_table *t,
                                          const struct synack_tuple *k, uint32_t hash)
{
    for (struct sn_tuple_entry *e = t->buckets[hash & (t->nbuckets - 1)]; e; e = e->next)
        if (e->hash == hash && tuple_eq(&e->tuple, k))
            return e;
    return NULL;
}

/* Double the bucket array, rehashing every entry from its stored hash.  On
 * allocation failure the table stays as it is, only more loaded. */
static void grow(struct sn_tuple_table *t)
{
    uint32_t n = t->nbuckets * 2;
    struct sn_tuple_entry **nb = sn_mem_calloc(t->mem, n, sizeof *nb);
    if (!nb)
        return;
    for (uint32_t i = 0; i < t->nbuckets; i++) {
        struct sn_tuple_entry *e = t->buckets[i];
        while (e) {
            struct sn_tuple_entry *next = e->next;
            struct sn_tuple_entry **head = &nb[e->hash & (n - 1)];
            e->next = *head;
            *head = e;
            e = next;
        }
    }
    sn_mem_free(t->mem, t->buckets);
    t->buckets = nb;
    t->nbuckets = n;
}

int sn_tuple_init(struct sn_tuple_table *t, struct sn_mem *mem, uint32_t initial_buckets, uint32_t max_buckets,
                  uint64_t key0, uint64_t key1)
{
    uint32_t n = round_pow2(initial_buckets);
    uint32_t max = round_pow2(max_buckets);
    *t = (struct sn_tuple_table){.key = {key0, key1}, .mem = mem};
    uint64_t x = key0, y = key1;
    for (int i = 0; i < 5; i++)
        t->mul[i] = sn_splitmix64(i < 3 ? &x : &y);
    t->buckets = sn_mem_calloc(mem, n, sizeof *t->buckets);
    if (!t->buckets)
        return -ENOMEM;
    t->nbuckets = n;
    t->max_buckets = max < n ? n : max;
    return 0;
}

void sn_tuple_free(struct sn_tuple_table *t)
{
    sn_mem_free(t->mem, t->buckets);
    t->buckets = NULL;
    t->nbuckets = 0;
    t->count = 0;
    t->last = NULL;
}

int sn_tuple_insert(struct sn_tuple_table *t, struct sn_tuple_entry *e)
{
    uint32_t hash = tuple_hash(t, &e->tuple);
    if (find_hashed(t, &e->tuple, hash))
        return -EEXIST;
    struct sn_tuple_entry **head = &t->buckets[hash & (t->nbuckets - 1)];
    e->hash = hash;
    e->next = *head;
    *head = e;
    t->count++;
    if (t->count > t->nbuckets && t->nbuckets < t->max_buckets)
        grow(t);
    return 0;
}

void sn_tuple_remove(struct sn_tuple_table *t, struct sn_tuple_entry *e)
{
    if (t->last == e)
        t->last = NULL;
    for (struct sn_tuple_entry **pp = &t->buckets[e->hash & (t->nbuckets - 1)]; *pp;
         pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            e->next = NULL;
            t->count--;
            return;
        }
    }
}

struct sn_tuple_entry *sn_tuple_find(const struct sn_tuple_table *t, const struct synack_tuple *k)
{
    return find_hashed(t, k, tuple_hash(t, k));
}

struct sn_tuple_entry *sn_tuple_lookup(struct sn_tuple_table *t, const struct synack_tuple *k)
{
    if (t->last && tuple_eq(&t->last->tuple, k))
        return t->last;
    struct sn_tuple_entry *e = sn_tuple_find(t, k);
    if (e) {
        t->last = e;
        return e;
    }
    struct synack_tuple l = {.laddr = k->laddr, .lport = k->lport};
    if ((e = sn_tuple_find(t, &l)))
        return e;
    l.laddr = 0;
    return sn_tuple_find(t, &l);
}
