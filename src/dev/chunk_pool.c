/* A synack_alloc_fn that gives the rings' chunks memory from huge pages
 * (dev.h, synack_chunk_pool).
 *
 * Why: a stack sending in bulk fills its send buffer (megabytes) with
 * chunks of SYNACK_RING_CHUNK bytes as fast as its application writes.
 * From malloc each chunk is fresh memory the first time round, and each
 * first touch of a 4 KiB page is a page fault: in a virtual machine whose
 * guest page faults go through the hypervisor that is 10-25 us a page
 * (docs/benchmarks.md, "The send buffer's first fill"), so filling a 4 MiB
 * send buffer stalled a connection for 20-30 ms while its ACKs waited.  Here
 * the chunks are carved from 2 MiB segments, aligned and advised
 * MADV_HUGEPAGE, so that the kernel can back each segment with one huge page
 * (one fault instead of 512); where it cannot (transparent huge pages off)
 * the pool still gives one page per chunk, where malloc's header makes
 * every 4 KiB chunk straddle two.
 *
 * Blocks of exactly SYNACK_RING_CHUNK bytes come from the pool; every other
 * request goes to malloc/realloc/free.  A freed block goes back on the
 * pool's free list (last in, first out: the warmest block is reused first);
 * the segments go back to the system only with the pool. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "synack/dev.h"

#define SEG_SIZE ((size_t)2 << 20) /* one huge page on x86-64 and arm64 (4 KiB base pages) */
#define SEG_MAX 65536u             /* 128 GiB of chunks at most: a bound, not a goal */

struct synack_chunk_pool {
    uintptr_t *seg;      /* segment bases, ascending (a freed pointer is looked up) */
    uint32_t nseg, seg_cap;
    uint8_t *bump, *bump_end; /* the part of the newest segment never handed out */
    void *free_list;          /* freed blocks, linked through their first bytes */
    struct synack_chunk_pool_stats st;
};

int synack_chunk_pool_new(struct synack_chunk_pool **out)
{
    *out = NULL;
    struct synack_chunk_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    *out = p;
    return 0;
}

void synack_chunk_pool_free(struct synack_chunk_pool *p)
{
    if (!p)
        return;
    for (uint32_t i = 0; i < p->nseg; i++)
        munmap((void *)p->seg[i], SEG_SIZE);
    free(p->seg);
    free(p);
}

void synack_chunk_pool_stats(const struct synack_chunk_pool *p, struct synack_chunk_pool_stats *out)
{
    *out = p->st;
}

/* The segment holding `ptr`, or -1: a binary search of the bases. */
static long seg_of(const struct synack_chunk_pool *p, const void *ptr)
{
    uintptr_t a = (uintptr_t)ptr;
    uint32_t lo = 0, hi = p->nseg;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a < p->seg[mid])
            hi = mid;
        else if (a - p->seg[mid] >= SEG_SIZE)
            lo = mid + 1;
        else
            return (long)mid;
    }
    return -1;
}

/* Map a new segment, SEG_SIZE-aligned (the only way the kernel can give it
 * one huge page): map twice the size and unmap the ends. */
static int seg_add(struct synack_chunk_pool *p)
{
    if (p->nseg == SEG_MAX)
        return -ENOMEM;
    if (p->nseg == p->seg_cap) {
        uint32_t cap = p->seg_cap ? p->seg_cap * 2 : 8;
        uintptr_t *s = realloc(p->seg, cap * sizeof(*s));
        if (!s)
            return -ENOMEM;
        p->seg = s;
        p->seg_cap = cap;
    }
    uint8_t *m = mmap(NULL, 2 * SEG_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -ENOMEM;
    uintptr_t base = ((uintptr_t)m + SEG_SIZE - 1) & ~(uintptr_t)(SEG_SIZE - 1);
    size_t head = base - (uintptr_t)m;
    if (head)
        munmap(m, head);
    munmap((uint8_t *)base + SEG_SIZE, SEG_SIZE - head);
    /* Advice only: without transparent huge pages the segment is plain pages. */
    if (madvise((void *)base, SEG_SIZE, MADV_HUGEPAGE) == 0)
        p->st.huge_advised++;
    uint32_t i = p->nseg;
    while (i > 0 && p->seg[i - 1] > base) {
        p->seg[i] = p->seg[i - 1];
        i--;
    }
    p->seg[i] = base;
    p->nseg++;
    p->st.segments = p->nseg;
    p->bump = (uint8_t *)base;
    p->bump_end = (uint8_t *)base + SEG_SIZE;
    return 0;
}

static void *block_get(struct synack_chunk_pool *p)
{
    void *b = p->free_list;
    if (b) {
        memcpy(&p->free_list, b, sizeof(void *));
    } else {
        if (p->bump == p->bump_end && seg_add(p) < 0)
            return NULL;
        b = p->bump;
        p->bump += SYNACK_RING_CHUNK;
    }
    p->st.in_use++;
    if (p->st.in_use > p->st.peak)
        p->st.peak = p->st.in_use;
    return b;
}

static void block_put(struct synack_chunk_pool *p, void *b)
{
    memcpy(b, &p->free_list, sizeof(void *));
    p->free_list = b;
    p->st.in_use--;
}

void *synack_chunk_pool_alloc(void *pool, void *ptr, size_t size)
{
    struct synack_chunk_pool *p = pool;
    bool pooled = ptr && seg_of(p, ptr) >= 0;
    if (size == 0) { /* free */
        if (pooled)
            block_put(p, ptr);
        else
            free(ptr);
        return NULL;
    }
    if (!ptr) {
        if (size != SYNACK_RING_CHUNK)
            return malloc(size);
        void *b = block_get(p);
        return b ? b : malloc(size); /* no segment to be had: the C library's memory */
    }
    if (!pooled)
        return realloc(ptr, size);
    if (size == SYNACK_RING_CHUNK)
        return ptr;
    /* A pooled block resized (the core does not, but the contract allows it). */
    void *q = malloc(size);
    if (!q)
        return NULL;
    memcpy(q, ptr, size < SYNACK_RING_CHUNK ? size : SYNACK_RING_CHUNK);
    block_put(p, ptr);
    return q;
}
