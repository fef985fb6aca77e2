/* The http application's cache of small files (see file_cache.h). */
#define _GNU_SOURCE /* fstatat's AT_* */
#include "file_cache.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           same_time(a->st_mtim, b->st_mtim) && same_time(a->st_ctim, b->st_ctim);
}

struct file_cached *file_cache_get(struct file_cache *fc, int dir, const char *rel, struct stat *st)
{
    if (strlen(rel) >= FILE_CACHE_PATH || !rel[0])
        return NULL;
    for (unsigned i = 0; i < FILE_CACHE_SLOTS; i++) {
        struct file_cached *e = &fc->slot[i];
        if (!e->data || strcmp(e->rel, rel) != 0)
            continue;
        struct stat now;
        if (fstatat(dir, rel, &now, 0) < 0 || !S_ISREG(now.st_mode) || !same_file(&now, &e->st))
            return NULL; /* changed or gone: the caller opens it again */
        e->refs++;
        e->used = ++fc->tick;
        *st = e->st;
        return e;
    }
    return NULL;
}

struct file_cached *file_cache_put(struct file_cache *fc, const char *rel, int fd,
                                   const struct stat *st)
{
    size_t len = strlen(rel);
    if (len == 0 || len >= FILE_CACHE_PATH || !S_ISREG(st->st_mode) || st->st_size < 0 ||
        st->st_size > FILE_CACHE_MAX)
        return NULL;
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) < 0 || now.tv_sec - st->st_mtim.tv_sec < 1 ||
        now.tv_sec - st->st_ctim.tv_sec < 1)
        return NULL; /* written within the last second: might change unseen */
    struct file_cached *e = NULL;
    for (unsigned i = 0; i < FILE_CACHE_SLOTS; i++) {
        struct file_cached *c = &fc->slot[i];
        if (c->refs > 0)
            continue;
        if (c->data && !strcmp(c->rel, rel)) {
            e = c; /* an older copy of the same path */
            break;
        }
        if (!e || (e->data && (!c->data || c->used < e->used)))
            e = c;
    }
    if (!e)
        return NULL;
    uint8_t *data = malloc(st->st_size ? (size_t)st->st_size : 1);
    if (!data)
        return NULL;
    size_t got = 0;
    while (got < (size_t)st->st_size) {
        ssize_t r = pread(fd, data + got, (size_t)st->st_size - got, (off_t)got);
        if (r <= 0) {
            free(data); /* shrank or failed: not kept */
            return NULL;
        }
        got += (size_t)r;
    }
    free(e->data);
    memcpy(e->rel, rel, len + 1);
    e->st = *st;
    e->data = data;
    e->refs = 1;
    e->used = ++fc->tick;
    return e;
}

void file_cache_release(struct file_cached *e)
{
    if (e && e->refs > 0)
        e->refs--;
}

void file_cache_free(struct file_cache *fc)
{
    for (unsigned i = 0; i < FILE_CACHE_SLOTS; i++) {
        free(fc->slot[i].data);
        fc->slot[i].data = NULL;
    }
}
