/* `serve --app http`'s cache of small files' contents: a request for a
 * file served before costs one fstatat (is it still the same file?)
 * instead of an open, an fstat, a read and a close.  Bounded: a few dozen
 * files of at most 16 KiB each, least recently used replaced. */
#ifndef SYNACK_TOOL_FILE_CACHE_H
#define SYNACK_TOOL_FILE_CACHE_H

#include <stdint.h>
#include <sys/stat.h>

#define FILE_CACHE_SLOTS 32
#define FILE_CACHE_MAX (16 * 1024)  /* bytes: larger files are read from disk each time */
#define FILE_CACHE_PATH 128         /* longer paths are not cached */

struct file_cached {
    char rel[FILE_CACHE_PATH];      /* the path under the served directory; "" free */
    struct stat st;                 /* what identified the file when it was read */
    uint8_t *data;                  /* st.st_size bytes */
    uint32_t refs;                  /* responses sending from it: not replaced while > 0 */
    uint64_t used;                  /* the cache's tick when last used */
};

struct file_cache {
    struct file_cached slot[FILE_CACHE_SLOTS];
    uint64_t tick;
};

/* The cached content of `rel` under the directory `dir`, if the file that
 * path names now is still the one cached: the same device, inode, size,
 * modification and change times (one fstatat, following links: the same
 * inode is the same file, wherever a link points).  Returns the entry with
 * a reference (file_cache_release) and *st, or NULL. */
struct file_cached *file_cache_get(struct file_cache *fc, int dir, const char *rel, struct stat *st);
/* Keep the content of the open regular file fd (st: its fstat) under rel,
 * when it is small, a slot is free or unused, and its modification time is
 * at least a second old (a write in the same clock tick as the last one
 * would leave the times unchanged: "racy git").  Returns the entry with a
 * reference, or NULL (then nothing was kept). */
struct file_cached *file_cache_put(struct file_cache *fc, const char *rel, int fd,
                                   const struct stat *st);
void file_cache_release(struct file_cached *e);
void file_cache_free(struct file_cache *fc);

#endif
