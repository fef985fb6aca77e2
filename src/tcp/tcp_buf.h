/* Byte ring buffers for the send and receive queues, stored in chunks.
 *
 * A ring's bytes live in fixed-size chunks (SN_BUF_CHUNK) reached through a
 * small table; the table and each chunk are allocated when data first needs
 * them and freed as soon as the data in them has been consumed, so an idle
 * connection holds no buffer memory at all and one holding 10 bytes holds one
 * chunk, not the whole socket buffer.  Offsets are counted from the head (the
 * first byte held) and reach any byte in O(1).  Every chunk and table is
 * charged to the stack's memory account (core/mem.h).
 *
 * The ring spans one chunk more than the capacity, so that data parked past
 * the end (the reassembly queue's out-of-order data) never shares a chunk
 * with bytes behind the head, and consuming up to a chunk boundary can free
 * that chunk. */
#ifndef SYNACK_TCP_BUF_H
#define SYNACK_TCP_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/mem.h"
#include "synack/stack.h"

#define SN_BUF_CHUNK SYNACK_RING_CHUNK

struct sn_ring_table; /* tcp_buf.c */

struct sn_ring {
    struct sn_ring_table *t; /* NULL while the ring holds nothing */
    uint32_t len;            /* bytes held */
    uint32_t cap;            /* capacity in bytes (the socket buffer size) */
};

static inline uint32_t sn_ring_free(const struct sn_ring *r) { return r->cap - r->len; }
/* Append up to n bytes; returns how many were stored (0 when full; fewer
 * than asked when the budget refused a chunk partway), or -ENOMEM when no
 * chunk could be had (nothing stored then, no empty chunk kept). */
long sn_ring_write(struct sn_ring *r, struct sn_mem *m, const void *src, size_t n);
/* Copy n bytes starting `off` bytes after the head into dst (off + n <= len,
 * or parked bytes stored by sn_ring_put_at). */
void sn_ring_peek(const struct sn_ring *r, uint32_t off, void *dst, uint32_t n);
/* sn_ring_peek that also adds the bytes' Internet checksum to `sum` (one
 * pass over the data; see synack_csum_copy).  Returns the new partial sum. */
uint32_t sn_ring_peek_csum(const struct sn_ring *r, uint32_t off, void *dst, uint32_t n,
                           uint32_t sum);
/* Zero-copy access (socket.h's synack_recv_peek / synack_send_reserve).
 * Describe the n bytes starting `off` bytes after the head as up to cnt
 * pieces pointing into the chunks (whose storage must exist: held data, or
 * chunks made by sn_ring_reserve).  Returns the pieces used; *covered gets
 * the bytes they describe (less than n when cnt pieces do not reach). */
int sn_ring_iov(const struct sn_ring *r, uint32_t off, uint32_t n, struct iovec *iov, int cnt,
                uint32_t *covered);
/* Make the chunks under the n bytes after the data exist (n <= free space),
 * so the caller can write into them (sn_ring_iov at off = len) before
 * sn_ring_extend() appends them.  Returns the bytes made ready (fewer than
 * n when the budget refused a chunk partway), or -ENOMEM when none could be. */
long sn_ring_reserve(struct sn_ring *r, struct sn_mem *m, uint32_t n);
/* Whether the chunks under [off, off + n) from the head exist. */
bool sn_ring_stored(const struct sn_ring *r, uint32_t off, uint32_t n);
/* Store n bytes at offset `off` from the head without changing len (off + n
 * <= cap): the reassembly queue parks out-of-order data in place, and
 * sn_ring_extend() makes it readable once the gap before it is filled.
 * Returns 0, -ENOBUFS (past the capacity) or -ENOMEM. */
int sn_ring_put_at(struct sn_ring *r, struct sn_mem *m, uint32_t off, const void *src, uint32_t n);
/* Make n more bytes (already stored by sn_ring_put_at) part of the data. */
static inline void sn_ring_extend(struct sn_ring *r, uint32_t n) { r->len += n; }
/* Drop n bytes from the head, freeing the chunks left behind.  With
 * `parked` false the caller says nothing is parked past the data: an empty
 * ring then gives back all of its memory. */
void sn_ring_consume(struct sn_ring *r, struct sn_mem *m, uint32_t n, bool parked);
/* Free all storage (capacity kept). */
void sn_ring_release(struct sn_ring *r, struct sn_mem *m);
/* Change the capacity (bytes, already checked by the caller).  A ring in
 * use only grows; its bytes (parked ones too) keep their offsets.
 * Returns 0 or -ENOMEM. */
int sn_ring_resize(struct sn_ring *r, struct sn_mem *m, uint32_t cap);
/* Free chunks a stack keeps for reuse (struct sn_mem) at least; while
 * rings hold data, as many as their capacities could still take (the
 * reserve), so a bulk transfer does not call the allocator per chunk. */
#define SN_BUF_CACHE 64u
/* Free the kept chunks (the stack goes away). */
void sn_ring_cache_free(struct sn_mem *m);
/* Memory the ring holds now (table and chunks), bytes. */
uint32_t sn_ring_mem(const struct sn_ring *r);

#endif
