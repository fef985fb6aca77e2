/* Byte ring buffers in chunks (see tcp_buf.h). */
#include "tcp/tcp_buf.h"
#include "synack/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sn_ring_table {
    uint32_t head;    /* ring position of the first byte */
    uint32_t size;    /* ring size: npages * SN_BUF_CHUNK */
    uint32_t npages;  /* slots in page[] */
    uint32_t nalloc;  /* chunks allocated */
    uint8_t *page[];  /* NULL where nothing is stored */
};

static size_t table_bytes(uint32_t npages)
{
    return sizeof(struct sn_ring_table) + (size_t)npages * sizeof(uint8_t *);
}

/* One chunk more than the capacity needs: see tcp_buf.h. */
static uint32_t pages_for(uint32_t cap) { return (cap + SN_BUF_CHUNK - 1) / SN_BUF_CHUNK + 1; }

static int table_get(struct sn_ring *r, struct sn_mem *m)
{
    if (r->t)
        return 0;
    if (r->cap == 0)
        return -ENOBUFS;
    uint32_t n = pages_for(r->cap);
    if (!sn_mem_charge(m, table_bytes(n)))
        return -ENOMEM;
    struct sn_ring_table *c = m->table_cache;
    if (c && c->npages == n) {
        /* Its page[] is all NULL: no clearing.  The list runs through its
         * first bytes (head, size), set again below. */
        memcpy(&m->table_cache, c, sizeof(void *));
        m->tables_cached--;
        m->cached -= table_bytes(n);
        c->head = 0;
        r->t = c;
    } else {
        r->t = sn_mem_calloc(m, 1, table_bytes(n));
    }
    if (!r->t) {
        sn_mem_uncharge(m, table_bytes(n));
        return -ENOMEM;
    }
    r->t->npages = n;
    r->t->size = n * SN_BUF_CHUNK;
    r->len = 0;
    m->chunk_reserve += n;
    return 0;
}

/* A chunk for a ring: from the stack's cache of free ones, else malloc. */
static uint8_t *chunk_get(struct sn_mem *m)
{
    void *p = m->chunk_cache;
    if (!p) {
        p = sn_mem_malloc(m, SN_BUF_CHUNK);
    } else {
        memcpy(&m->chunk_cache, p, sizeof(void *));
        m->chunks_cached--;
        m->cached -= SN_BUF_CHUNK;
    }
    if (p)
        m->chunks_used++;
    return p;
}

/* How many free chunks the cache keeps: what the rings holding data could
 * still take (their reserve), at least SN_BUF_CACHE.  A bulk transfer's
 * rings cycle through their chunks without malloc or free; the surplus
 * goes when rings empty (table_put). */
static uint32_t cache_bound(const struct sn_mem *m)
{
    uint32_t spare = m->chunk_reserve > m->chunks_used ? m->chunk_reserve - m->chunks_used : 0;
    return spare > SN_BUF_CACHE ? spare : SN_BUF_CACHE;
}

/* A chunk leaves a ring. */
static void chunk_put(struct sn_mem *m, uint8_t *p)
{
    m->chunks_used--;
    if (m->chunks_cached >= cache_bound(m)) {
        sn_mem_free(m, p);
        return;
    }
    memcpy(p, &m->chunk_cache, sizeof(void *));
    m->chunk_cache = p;
    m->chunks_cached++;
    m->cached += SN_BUF_CHUNK;
    sn_mem_note_peak(m);
}

/* Free cached chunks down to `keep`. */
static void cache_trim(struct sn_mem *m, uint32_t keep)
{
    while (m->chunks_cached > keep) {
        void *p = m->chunk_cache;
        memcpy(&m->chunk_cache, p, sizeof(void *));
        sn_mem_free(m, p);
        m->chunks_cached--;
        m->cached -= SN_BUF_CHUNK;
    }
}

void sn_ring_cache_free(struct sn_mem *m)
{
    cache_trim(m, 0);
    while (m->table_cache) {
        struct sn_ring_table *c = m->table_cache;
        memcpy(&m->table_cache, c, sizeof(void *));
        m->cached -= table_bytes(c->npages);
        sn_mem_free(m, c);
    }
    m->tables_cached = 0;
}

static void table_put(struct sn_ring *r, struct sn_mem *m)
{
    if (!r->t)
        return;
    for (uint32_t i = 0; i < r->t->npages && r->t->nalloc > 0; i++)
        if (r->t->page[i]) {
            chunk_put(m, r->t->page[i]);
            r->t->page[i] = NULL;
            r->t->nalloc--;
            sn_mem_uncharge(m, SN_BUF_CHUNK);
        }
    sn_mem_uncharge(m, table_bytes(r->t->npages));
    /* The ring no longer reserves chunks: free what the cache keeps beyond
     * the other rings' reserve, but one ring's worth, so that a ring that
     * empties and fills again (a receive ring read to the end, a send ring
     * the peer keeps up with) takes its chunks back without malloc. */
    m->chunk_reserve -= r->t->npages;
    cache_trim(m, cache_bound(m) + r->t->npages);
    /* Kept for the next ring of the same size (all rings of a stack
     * usually are): up to SN_BUF_CACHE tables, of the first one's size. */
    struct sn_ring_table *c = m->table_cache;
    if (m->tables_cached < SN_BUF_CACHE && (!c || c->npages == r->t->npages)) {
        memcpy(r->t, &m->table_cache, sizeof(void *));
        m->table_cache = r->t;
        m->tables_cached++;
        m->cached += table_bytes(r->t->npages);
        sn_mem_note_peak(m);
    } else {
        sn_mem_free(m, r->t);
    }
    r->t = NULL;
    r->len = 0;
}

/* Make sure the chunks under ring positions [off, off + n) from the head
 * exist.  On failure the chunks already made stay (they are freed with the
 * ring or as the head passes them). */
static int pages_get(struct sn_ring_table *t, struct sn_mem *m, uint32_t off, uint32_t n)
{
    if (n == 0)
        return 0;
    uint32_t first = (uint32_t)(((uint64_t)t->head + off) % t->size) / SN_BUF_CHUNK;
    uint32_t last = (uint32_t)(((uint64_t)t->head + off + n - 1) % t->size) / SN_BUF_CHUNK;
    for (uint32_t i = first;; i = (i + 1) % t->npages) {
        if (!t->page[i]) {
            if (!sn_mem_charge(m, SN_BUF_CHUNK))
                return -ENOMEM;
            t->page[i] = chunk_get(m);
            if (!t->page[i]) {
                sn_mem_uncharge(m, SN_BUF_CHUNK);
                return -ENOMEM;
            }
            t->nalloc++;
        }
        if (i == last)
            return 0;
    }
}

/* Copy n bytes between a linear buffer and the ring at offset off from the
 * head, a chunk at a time. */
static void copy_in(struct sn_ring_table *t, uint32_t off, const uint8_t *src, uint32_t n)
{
    uint32_t pos = (uint32_t)(((uint64_t)t->head + off) % t->size);
    while (n > 0) {
        uint32_t in = pos % SN_BUF_CHUNK, take = SN_BUF_CHUNK - in < n ? SN_BUF_CHUNK - in : n;
        memcpy(t->page[pos / SN_BUF_CHUNK] + in, src, take);
        src += take;
        n -= take;
        pos = (pos + take) % t->size;
    }
}

void sn_ring_peek(const struct sn_ring *r, uint32_t off, void *dst, uint32_t n)
{
    if (n == 0 || !r->t)
        return;
    const struct sn_ring_table *t = r->t;
    uint8_t *d = dst;
    uint32_t pos = (uint32_t)(((uint64_t)t->head + off) % t->size);
    while (n > 0) {
        uint32_t in = pos % SN_BUF_CHUNK, take = SN_BUF_CHUNK - in < n ? SN_BUF_CHUNK - in : n;
        memcpy(d, t->page[pos / SN_BUF_CHUNK] + in, take);
        d += take;
        n -= take;
        pos = (pos + take) % t->size;
    }
}

uint32_t sn_ring_peek_csum(const struct sn_ring *r, uint32_t off, void *dst, uint32_t n,
                           uint32_t sum)
{
    if (n == 0 || !r->t)
        return sum;
    const struct sn_ring_table *t = r->t;
    uint8_t *d = dst;
    uint32_t pos = (uint32_t)(((uint64_t)t->head + off) % t->size), done = 0;
    while (done < n) {
        uint32_t in = pos % SN_BUF_CHUNK;
        uint32_t take = SN_BUF_CHUNK - in < n - done ? SN_BUF_CHUNK - in : n - done;
        uint32_t part = synack_csum_copy(d + done, t->page[pos / SN_BUF_CHUNK] + in, take, 0);
        /* RFC 1071 2(B): a piece at an odd offset adds its byte-swapped sum. */
        if (done & 1)
            part = synack_csum_swab(part);
        sum += part;
        sum += sum < part; /* end-around carry */
        done += take;
        pos = (pos + take) % t->size;
    }
    return sum;
}

int sn_ring_iov(const struct sn_ring *r, uint32_t off, uint32_t n, struct iovec *iov, int cnt,
                uint32_t *covered)
{
    const struct sn_ring_table *t = r->t;
    int used = 0;
    uint32_t done = 0;
    if (t) {
        uint32_t pos = (uint32_t)(((uint64_t)t->head + off) % t->size);
        while (done < n && used < cnt) {
            uint32_t in = pos % SN_BUF_CHUNK;
            uint32_t take = SN_BUF_CHUNK - in < n - done ? SN_BUF_CHUNK - in : n - done;
            iov[used].iov_base = t->page[pos / SN_BUF_CHUNK] + in;
            iov[used].iov_len = take;
            used++;
            done += take;
            pos = (pos + take) % t->size;
        }
    }
    *covered = done;
    return used;
}

bool sn_ring_stored(const struct sn_ring *r, uint32_t off, uint32_t n)
{
    const struct sn_ring_table *t = r->t;
    if (n == 0)
        return true;
    if (!t || (uint64_t)off + n > r->cap)
        return false;
    uint32_t first = (uint32_t)(((uint64_t)t->head + off) % t->size) / SN_BUF_CHUNK;
    uint32_t last = (uint32_t)(((uint64_t)t->head + off + n - 1) % t->size) / SN_BUF_CHUNK;
    for (uint32_t i = first;; i = (i + 1) % t->npages) {
        if (!t->page[i])
            return false;
        if (i == last)
            return true;
    }
}

long sn_ring_reserve(struct sn_ring *r, struct sn_mem *m, uint32_t n)
{
    uint32_t take = n < sn_ring_free(r) ? n : sn_ring_free(r);
    if (take == 0)
        return 0;
    int rc = table_get(r, m);
    if (rc < 0)
        return rc;
    /* A chunk at a time: what the budget allowed stays. */
    uint32_t done = 0;
    while (done < take) {
        uint32_t in = (uint32_t)(((uint64_t)r->t->head + r->len + done) % SN_BUF_CHUNK);
        uint32_t piece = SN_BUF_CHUNK - in < take - done ? SN_BUF_CHUNK - in : take - done;
        if (pages_get(r->t, m, r->len + done, piece) < 0)
            break;
        done += piece;
    }
    if (done == 0) {
        if (r->len == 0 && r->t->nalloc == 0)
            table_put(r, m);
        return -ENOMEM;
    }
    return done;
}

long sn_ring_write(struct sn_ring *r, struct sn_mem *m, const void *src, size_t n)
{
    /* The chunks first, a chunk at a time (sn_ring_reserve), so that when
     * the budget refuses one, what fits in the chunks before it is kept and
     * counted (a short write, as Linux's tcp_sendmsg under tcp_mem), and no
     * chunk is left empty. */
    long got = sn_ring_reserve(r, m, n < UINT32_MAX ? (uint32_t)n : UINT32_MAX);
    if (got <= 0)
        return got;
    copy_in(r->t, r->len, src, (uint32_t)got);
    r->len += (uint32_t)got;
    return got;
}

int sn_ring_put_at(struct sn_ring *r, struct sn_mem *m, uint32_t off, const void *src, uint32_t n)
{
    if ((uint64_t)off + n > r->cap)
        return -ENOBUFS;
    int rc = table_get(r, m);
    if (rc < 0)
        return rc;
    if (pages_get(r->t, m, off, n) < 0)
        return -ENOMEM;
    copy_in(r->t, off, src, n);
    return 0;
}

void sn_ring_consume(struct sn_ring *r, struct sn_mem *m, uint32_t n, bool parked)
{
    struct sn_ring_table *t = r->t;
    if (!t)
        return;
    if (n > r->len)
        n = r->len;
    /* The head always moves by n, even when the ring empties: out-of-order
     * data parked past the end keeps its place relative to it.  Chunks the
     * head has left hold nothing any more (see tcp_buf.h). */
    uint32_t from = t->head / SN_BUF_CHUNK;
    t->head = (uint32_t)(((uint64_t)t->head + n) % t->size);
    r->len -= n;
    if (!parked && r->len == 0) {
        table_put(r, m);
        return;
    }
    uint32_t to = t->head / SN_BUF_CHUNK;
    for (uint32_t i = from; i != to; i = (i + 1) % t->npages) {
        if (t->page[i]) {
            chunk_put(m, t->page[i]);
            t->page[i] = NULL;
            t->nalloc--;
            sn_mem_uncharge(m, SN_BUF_CHUNK);
        }
    }
}

void sn_ring_release(struct sn_ring *r, struct sn_mem *m) { table_put(r, m); }

int sn_ring_resize(struct sn_ring *r, struct sn_mem *m, uint32_t cap)
{
    if (!r->t) {
        r->cap = cap;
        return 0;
    }
    if (cap <= r->cap)
        return 0;
    struct sn_ring_table *o = r->t;
    uint32_t n = pages_for(cap);
    if (!sn_mem_charge(m, table_bytes(n)))
        return -ENOMEM;
    struct sn_ring_table *t = sn_mem_calloc(m, 1, table_bytes(n));
    if (!t) {
        sn_mem_uncharge(m, table_bytes(n));
        return -ENOMEM;
    }
    /* The chunks in order from the head's; offsets from the head are kept. */
    uint32_t first = o->head / SN_BUF_CHUNK;
    for (uint32_t i = 0; i < o->npages; i++)
        t->page[i] = o->page[(first + i) % o->npages];
    t->head = o->head % SN_BUF_CHUNK;
    t->npages = n;
    t->size = n * SN_BUF_CHUNK;
    t->nalloc = o->nalloc;
    m->chunk_reserve += n - o->npages;
    sn_mem_uncharge(m, table_bytes(o->npages));
    sn_mem_free(m, o);
    r->t = t;
    r->cap = cap;
    return 0;
}

uint32_t sn_ring_mem(const struct sn_ring *r)
{
    return r->t ? (uint32_t)table_bytes(r->t->npages) + r->t->nalloc * SN_BUF_CHUNK : 0;
}
