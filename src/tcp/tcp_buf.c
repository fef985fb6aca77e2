/* Byte ring buffers for the send and receive queues (see tcp_buf.h). */
#include "tcp/tcp_buf.h"
#include "synack/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int ring_alloc(struct sn_ring *r)
{
    if (r->data)
        return 0;
    if (r->cap == 0)
        return -ENOBUFS;
    r->data = malloc(r->cap);
    if (!r->data)
        return -ENOMEM;
    r->head = 0;
    r->len = 0;
    return 0;
}

/* Copy between a linear buffer and the ring, wrapping at the end. */
static void ring_copy_in(struct sn_ring *r, uint32_t off, const uint8_t *src, uint32_t n)
{
    uint32_t pos = (uint32_t)(((uint64_t)r->head + off) % r->cap);
    uint32_t first = r->cap - pos < n ? r->cap - pos : n;
    memcpy(r->data + pos, src, first);
    memcpy(r->data, src + first, n - first);
}

long sn_ring_write(struct sn_ring *r, const void *src, size_t n)
{
    int rc = ring_alloc(r);
    if (rc < 0)
        return rc;
    uint32_t take = n < sn_ring_free(r) ? (uint32_t)n : sn_ring_free(r);
    ring_copy_in(r, r->len, src, take);
    r->len += take;
    return take;
}

int sn_ring_put_at(struct sn_ring *r, uint32_t off, const void *src, uint32_t n)
{
    int rc = ring_alloc(r);
    if (rc < 0)
        return rc;
    if ((uint64_t)off + n > r->cap)
        return -ENOBUFS;
    ring_copy_in(r, off, src, n);
    return 0;
}

void sn_ring_peek(const struct sn_ring *r, uint32_t off, void *dst, uint32_t n)
{
    if (n == 0)
        return;
    uint32_t pos = (uint32_t)(((uint64_t)r->head + off) % r->cap);
    uint32_t first = r->cap - pos < n ? r->cap - pos : n;
    memcpy(dst, r->data + pos, first);
    memcpy((uint8_t *)dst + first, r->data, n - first);
}

uint32_t sn_ring_peek_csum(const struct sn_ring *r, uint32_t off, void *dst, uint32_t n,
                           uint32_t sum)
{
    if (n == 0)
        return sum;
    uint32_t pos = (uint32_t)(((uint64_t)r->head + off) % r->cap);
    uint32_t first = r->cap - pos < n ? r->cap - pos : n;
    sum = synack_csum_copy(dst, r->data + pos, first, sum);
    if (n > first) {
        uint32_t rest = synack_csum_copy((uint8_t *)dst + first, r->data, n - first, 0);
        /* RFC 1071 2(B): a piece at an odd offset adds its byte-swapped sum. */
        if (first & 1)
            rest = synack_csum_swab(rest);
        sum += rest;
        sum += sum < rest; /* end-around carry */
    }
    return sum;
}

void sn_ring_consume(struct sn_ring *r, uint32_t n)
{
    /* The head always moves by n, even when the ring empties: out-of-order
     * data parked past the end keeps its place relative to it. */
    if (n > r->len)
        n = r->len;
    r->head = (uint32_t)(((uint64_t)r->head + n) % r->cap);
    r->len -= n;
}

void sn_ring_release(struct sn_ring *r)
{
    free(r->data);
    r->data = NULL;
    r->head = 0;
    r->len = 0;
}
