/* The stack's memory account: every on-demand allocation a connection makes
 * (TCBs, buffer chunks, out-of-line state, TIME-WAIT records, SYN-cache
 * entries, fragments in reassembly) is charged here and uncharged when
 * freed, so that one counter says what the stack holds and a budget
 * (cfg.mem_max) bounds it, as Linux's tcp_mem bounds socket memory: what a
 * peer sends can never make the stack allocate past it.  The stack's own
 * object and tables are counted apart (sn_mem_add_fixed: `fixed`, never
 * refused), and `total_peak` is the most of both together. */
#ifndef SYNACK_CORE_MEM_H
#define SYNACK_CORE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/stack.h"

/* Free objects of one size kept for reuse (connection blocks, their
 * out-of-line parts, SYN-cache entries, listener blocks): sn_mem_put gives
 * an object to the list of its size, sn_mem_get takes it back, so that
 * opening and closing connections does not pay the allocator for each.  A
 * list runs through the objects' first bytes and holds at most
 * SN_FREELIST_MAX; SN_FREELISTS sizes at most (the first sizes put claim
 * the lists).  What the lists hold is counted in sn_mem.cached: in the
 * total peak, not in `used` (no connection holds it, and being bounded it
 * needs no budget). */
#define SN_FREELISTS 6
#define SN_FREELIST_MAX 256u
struct sn_freelist {
    size_t size;    /* 0: unclaimed */
    void *head;
    uint32_t n;
};

struct sn_mem {
    uint64_t used;   /* bytes charged now */
    uint64_t peak;   /* the most ever charged at once */
    uint64_t limit;  /* 0: no budget; else a charge past it fails */
    uint64_t failed; /* charges refused for the budget */
    uint64_t fixed;  /* the stack's object and tables (not budgeted) */
    uint64_t total_peak; /* the most of used + fixed + cached at once */
    /* Free buffer chunks kept for reuse (tcp_buf.c), a list through their
     * first bytes: short connections do not pay malloc and free for every
     * chunk, nor a busy one for every chunk its rings cycle through.  The
     * reserve: the chunks the rings that hold data could still take (each
     * ring with a table counts its capacity), of which chunks_used are in
     * them.  Free chunks are kept up to max(SN_BUF_CACHE, reserve -
     * chunks_used), plus one ring's worth when a ring empties. */
    void *chunk_cache;
    uint32_t chunks_cached;
    uint32_t chunk_reserve, chunks_used;
    /* Empty chunk tables kept for the next rings that need one of their
     * size (tcp_buf.c), a list of at most SN_BUF_CACHE: a receive ring that
     * empties after every read, or a connection opened and closed, would
     * otherwise calloc and free its table (8 KiB for a 4 MiB buffer) each
     * time.  Counted in `cached`. */
    void *table_cache;
    uint32_t tables_cached;
    uint64_t cached; /* bytes kept free: chunks, tables, the lists below */
    struct sn_freelist lists[SN_FREELISTS];
    /* Where the memory comes from (cfg.alloc; NULL: libc), and how often it
     * refused (stats.mem_alloc_failed). */
    synack_alloc_fn alloc;
    void *alloc_user;
    uint64_t alloc_failed;
    /* Empty blocks of sent-segment records (tcp_rtxq.c) kept for the next
     * flight, a list through their first bytes, at most SN_RTXQ_CACHE. */
    void *rtxq_cache;
    uint32_t rtxq_cached;
};

/* Every allocation of the core goes through these four (src/core/mem.c),
 * never straight to malloc: a stack's allocator sees them all.  They
 * behave as their libc namesakes (sn_mem_calloc checks count * size for
 * overflow); a NULL result is counted in alloc_failed.  `m` may be NULL
 * (libc, uncounted) for structures used outside a stack. */
void *sn_mem_malloc(struct sn_mem *m, size_t n);
void *sn_mem_calloc(struct sn_mem *m, size_t count, size_t size);
void *sn_mem_realloc(struct sn_mem *m, void *p, size_t n);
void sn_mem_free(struct sn_mem *m, void *p);
/* Charge n bytes to the budget and allocate them zeroed; NULL (nothing
 * charged) past the budget or when the allocator fails.  sn_mem_put frees
 * and uncharges what sn_mem_get gave. */
void *sn_mem_get(struct sn_mem *m, size_t n);
void sn_mem_put(struct sn_mem *m, void *p, size_t n);
/* sn_mem_put without the uncharge, for an object uncharged earlier (a TCB
 * whose memory outlives its accounting until the end of a public call). */
void sn_mem_recycle(struct sn_mem *m, void *p, size_t n);
/* Free what the lists keep (the stack goes away). */
void sn_mem_lists_free(struct sn_mem *m);

static inline void sn_mem_note_peak(struct sn_mem *m)
{
    if (m->used > m->peak)
        m->peak = m->used;
    if (m->used + m->fixed + m->cached > m->total_peak)
        m->total_peak = m->used + m->fixed + m->cached;
}

/* Charge n bytes.  Returns false, and charges nothing, past the budget. */
static inline bool sn_mem_charge(struct sn_mem *m, uint64_t n)
{
    if (m->limit && m->used + n > m->limit) {
        m->failed++;
        return false;
    }
    m->used += n;
    sn_mem_note_peak(m);
    return true;
}

/* Memory the stack holds whatever the budget (its own object, tables that
 * grow with max_conns/max_sockets): counted, never refused. */
static inline void sn_mem_add_fixed(struct sn_mem *m, uint64_t n)
{
    m->fixed += n;
    sn_mem_note_peak(m);
}

static inline void sn_mem_uncharge(struct sn_mem *m, uint64_t n)
{
    m->used = n > m->used ? 0 : m->used - n;
}

#endif
