/* Byte ring buffers for the send and receive queues.  The storage is
 * allocated on first use, with a fixed capacity (the socket buffer size), so
 * an idle or embryonic connection costs no buffer memory. */
#ifndef SYNACK_TCP_BUF_H
#define SYNACK_TCP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct sn_ring {
    uint8_t *data;   /* NULL until the first write */
    uint32_t cap;    /* capacity in bytes (fixed while data != NULL) */
    uint32_t head;   /* offset of the first byte */
    uint32_t len;    /* bytes held */
};

static inline uint32_t sn_ring_free(const struct sn_ring *r) { return r->cap - r->len; }
/* Append up to n bytes; returns how many were stored (0 and no allocation when full), or -ENOMEM. */
long sn_ring_write(struct sn_ring *r, const void *src, size_t n);
/* Copy n bytes starting `off` bytes after the head into dst (off + n <= len). */
void sn_ring_peek(const struct sn_ring *r, uint32_t off, void *dst, uint32_t n);
/* sn_ring_peek that also adds the bytes' Internet checksum to `sum` (one
 * pass over the data; see synack_csum_copy).  Returns the new partial sum. */
uint32_t sn_ring_peek_csum(const struct sn_ring *r, uint32_t off, void *dst, uint32_t n,
                           uint32_t sum);
/* Store n bytes at offset `off` from the head without changing len (off + n
 * <= cap): the reassembly queue parks out-of-order data in place, and
 * sn_ring_extend() makes it readable once the gap before it is filled.
 * Returns 0 or -ENOMEM. */
int sn_ring_put_at(struct sn_ring *r, uint32_t off, const void *src, uint32_t n);
/* Make n more bytes (already stored by sn_ring_put_at) part of the data. */
static inline void sn_ring_extend(struct sn_ring *r, uint32_t n) { r->len += n; }
/* Drop n bytes from the head. */
void sn_ring_consume(struct sn_ring *r, uint32_t n);
/* Free the storage (capacity kept). */
void sn_ring_release(struct sn_ring *r);

#endif
