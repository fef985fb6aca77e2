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

struct sn_mem {
    uint64_t used;   /* bytes charged now */
    uint64_t peak;   /* the most ever charged at once */
    uint64_t limit;  /* 0: no budget; else a charge past it fails */
    uint64_t failed; /* charges refused for the budget */
    uint64_t fixed;  /* the stack's object and tables (not budgeted) */
    uint64_t total_peak; /* the most of used + fixed at once */
    /* Free buffer chunks kept for the next connection (tcp_buf.c), a list
     * through their first bytes, at most SN_BUF_CACHE of them: short
     * connections do not pay malloc and free for every chunk. */
    void *chunk_cache;
    uint32_t chunks_cached;
    /* One empty chunk table kept for the next ring that needs one of its
     * size (tcp_buf.c): a receive ring that empties after every read would
     * otherwise calloc and free its table (8 KiB for a 4 MiB buffer) per
     * segment. */
    void *table_cache;
    /* Where the memory comes from (cfg.alloc; NULL: libc), and how often it
     * refused (stats.mem_alloc_failed). */
    synack_alloc_fn alloc;
    void *alloc_user;
    uint64_t alloc_failed;
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

static inline void sn_mem_note_peak(struct sn_mem *m)
{
    if (m->used > m->peak)
        m->peak = m->used;
    if (m->used + m->fixed > m->total_peak)
        m->total_peak = m->used + m->fixed;
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
