/* Connection lookup by 4-tuple in O(1): an intrusive chained hash table with a
 * keyed hash (a strongly universal multiply-shift hash of the tuple under a
 * per-stack random key, so that an attacker who does not know the key cannot
 * aim many tuples at one chain; see tuple_table.c).  The table grows by
 * doubling when the load passes 1, up to a bound given at init; growth is the
 * only allocation and goes through the stack's allocator (core/mem.h), and a failed growth leaves the table working, only more loaded.
 *
 * Entries with raddr == 0 and rport == 0 are listeners (a wildcard remote);
 * laddr 0 means any local address.  sn_tuple_lookup() prefers an exact match,
 * then a listener on (laddr, lport), then one on (0, lport).
 */
#ifndef SYNACK_CORE_TUPLE_TABLE_H
#define SYNACK_CORE_TUPLE_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct sn_mem;

/* A connection's IPv4 addresses and ports, host byte order: the engine's
 * key.  Internal (the name predates the public API's split): callbacks give
 * users struct synack_conn_addr, which can also hold IPv6 addresses. */
struct synack_tuple {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
};

struct sn_tuple_entry {
    struct sn_tuple_entry *next;
    struct synack_tuple tuple;
    uint32_t hash;
};

struct sn_tuple_table {
    struct sn_tuple_entry **buckets;
    uint32_t nbuckets;   /* a power of two */
    uint32_t max_buckets;
    uint32_t count;
    uint64_t key[2];     /* the key given to sn_tuple_init */
    uint64_t mul[5];     /* the hash's multipliers, expanded from key */
    /* The entry of the last exact match: back-to-back segments of one
     * connection (a bulk transfer) are found by one tuple comparison instead
     * of a SipHash and a chain walk.  Cleared when that entry is removed. */
    struct sn_tuple_entry *last;
    struct sn_mem *mem;  /* where the buckets come from (NULL: libc) */
};

/* initial_buckets and max_buckets are rounded up to powers of two; the
 * buckets are allocated from `mem` (NULL: libc).  Returns 0 or -ENOMEM. */
int sn_tuple_init(struct sn_tuple_table *t, struct sn_mem *mem, uint32_t initial_buckets, uint32_t max_buckets,
                  uint64_t key0, uint64_t key1);
void sn_tuple_free(struct sn_tuple_table *t); /* frees the buckets, not the entries */
/* Insert e (e->tuple set by the caller). Returns 0, or -EEXIST if that exact tuple is present. */
int sn_tuple_insert(struct sn_tuple_table *t, struct sn_tuple_entry *e);
void sn_tuple_remove(struct sn_tuple_table *t, struct sn_tuple_entry *e);
/* Exact 4-tuple match only. */
struct sn_tuple_entry *sn_tuple_find(const struct sn_tuple_table *t, const struct synack_tuple *k);
/* Exact match, else listener (laddr, lport), else listener (0, lport); NULL if none.
 * Remembers an exact match for the next call (t->last). */
struct sn_tuple_entry *sn_tuple_lookup(struct sn_tuple_table *t, const struct synack_tuple *k);
/* The table's keyed hash of a tuple (for tables that share its key: the
 * TIME-WAIT and SYN-cache tables). */
uint32_t sn_tuple_hash(const struct sn_tuple_table *t, const struct synack_tuple *k);
/* SipHash-2-4 (16-byte key) of len bytes: exposed for the ISN generator and tests. */
uint64_t sn_siphash(const uint64_t key[2], const void *data, size_t len);

#endif
