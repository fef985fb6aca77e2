/* The allocator behind every allocation of the core (see core/mem.h and
 * synack_alloc_fn in synack/stack.h). */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static void *failed(struct sn_mem *m)
{
    if (m)
        m->alloc_failed++;
    return NULL;
}

void *sn_mem_malloc(struct sn_mem *m, size_t n)
{
    if (n == 0)
        n = 1; /* size 0 means "free" to a synack_alloc_fn */
    void *p = m && m->alloc ? m->alloc(m->alloc_user, NULL, n) : malloc(n);
    return p ? p : failed(m);
}

void *sn_mem_calloc(struct sn_mem *m, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return failed(m);
    if (!m || !m->alloc) {
        void *p = calloc(count ? count : 1, size ? size : 1);
        return p ? p : failed(m);
    }
    void *p = sn_mem_malloc(m, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *sn_mem_realloc(struct sn_mem *m, void *p, size_t n)
{
    if (n == 0)
        n = 1;
    void *q = m && m->alloc ? m->alloc(m->alloc_user, p, n) : realloc(p, n);
    return q ? q : failed(m);
}

void sn_mem_free(struct sn_mem *m, void *p)
{
    if (!p)
        return;
    if (m && m->alloc)
        m->alloc(m->alloc_user, p, 0);
    else
        free(p);
}

/* The free list for objects of n bytes; with `claim`, an unclaimed one
 * becomes it.  NULL when there is none. */
static struct sn_freelist *list_of(struct sn_mem *m, size_t n, bool claim)
{
    for (int i = 0; i < SN_FREELISTS; i++) {
        struct sn_freelist *f = &m->lists[i];
        if (f->size == n)
            return f;
        if (f->size == 0) {
            if (!claim)
                return NULL;
            f->size = n;
            return f;
        }
    }
    return NULL;
}

void *sn_mem_get(struct sn_mem *m, size_t n)
{
    if (!sn_mem_charge(m, n))
        return NULL;
    struct sn_freelist *f = list_of(m, n, false);
    void *p = f ? f->head : NULL;
    if (p) {
        memcpy(&f->head, p, sizeof(void *));
        f->n--;
        m->cached -= n;
        memset(p, 0, n);
        return p;
    }
    p = sn_mem_calloc(m, 1, n);
    if (!p)
        sn_mem_uncharge(m, n);
    return p;
}

void sn_mem_recycle(struct sn_mem *m, void *p, size_t n)
{
    if (!p)
        return;
    struct sn_freelist *f = n >= sizeof(void *) ? list_of(m, n, true) : NULL;
    if (!f || f->n >= SN_FREELIST_MAX) {
        sn_mem_free(m, p);
        return;
    }
    memcpy(p, &f->head, sizeof(void *));
    f->head = p;
    f->n++;
    m->cached += n;
    sn_mem_note_peak(m);
}

void sn_mem_put(struct sn_mem *m, void *p, size_t n)
{
    if (!p)
        return;
    sn_mem_uncharge(m, n);
    sn_mem_recycle(m, p, n);
}

void sn_mem_lists_free(struct sn_mem *m)
{
    for (int i = 0; i < SN_FREELISTS; i++) {
        struct sn_freelist *f = &m->lists[i];
        while (f->head) {
            void *p = f->head;
            memcpy(&f->head, p, sizeof(void *));
            sn_mem_free(m, p);
            m->cached -= f->size;
        }
        f->n = 0;
    }
}
