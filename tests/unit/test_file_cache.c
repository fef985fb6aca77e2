/* The http application's cache of small files (tools/synack/file_cache.c):
 * a hit only while the path still names the same, unchanged file; nothing
 * kept that was written within the last second, larger than the bound, or
 * while every slot is in use; the least recently used slot replaced. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "file_cache.h"

static char dir_path[256];
static int dir_fd = -1;

/* Write `len` bytes of `c` to name under the test directory. */
static void write_file(const char *name, char c, size_t len)
{
    char buf[FILE_CACHE_MAX + 2];
    memset(buf, c, len);
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* Open name and put it into the cache. */
static struct file_cached *put(struct file_cache *fc, const char *name)
{
    int fd = openat(dir_fd, name, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    struct file_cached *e = file_cache_put(fc, name, fd, &st);
    close(fd);
    return e;
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("SYNACK_TEST_TMP");
    snprintf(dir_path, sizeof(dir_path), "%s/file_cache.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir_path))
        return -1;
    dir_fd = open(dir_path, O_PATH | O_DIRECTORY);
    if (dir_fd < 0)
        return -1;
    /* Files older than a second: the cache takes only those. */
    for (int i = 0; i < FILE_CACHE_SLOTS + 1; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d", i);
        write_file(name, (char)('a' + i % 26), 100 + (size_t)i);
    }
    write_file("big", 'x', FILE_CACHE_MAX + 1);
    struct timespec pause = {1, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir_path);
    close(dir_fd);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_hit_until_changed(void **state)
{
    (void)state;
    struct file_cache fc;
    memset(&fc, 0, sizeof(fc));
    struct stat st;
    assert_null(file_cache_get(&fc, dir_fd, "f0", &st)); /* not yet */
    struct file_cached *e = put(&fc, "f0");
    assert_non_null(e);
    assert_int_equal(e->st.st_size, 100);
    assert_int_equal(e->data[0], 'a');
    assert_int_equal(e->data[99], 'a');
    file_cache_release(e);

    struct file_cached *h = file_cache_get(&fc, dir_fd, "f0", &st);
    assert_ptr_equal(h, e);
    assert_int_equal(st.st_size, 100);
    assert_int_equal(h->refs, 1);
    file_cache_release(h);
    assert_int_equal(h->refs, 0);

    /* Rewritten in place, same size: the times changed, no hit; and a
     * file written just now is not kept. */
    write_file("f0", 'z', 100);
    assert_null(file_cache_get(&fc, dir_fd, "f0", &st));
    assert_null(put(&fc, "f0"));
    /* Another file renamed over the path: another inode, no hit. */
    e = put(&fc, "f1");
    assert_non_null(e);
    file_cache_release(e);
    assert_int_equal(renameat(dir_fd, "f2", dir_fd, "f1"), 0);
    assert_null(file_cache_get(&fc, dir_fd, "f1", &st));
    /* Gone: no hit. */
    e = put(&fc, "f3");
    assert_non_null(e);
    file_cache_release(e);
    assert_int_equal(unlinkat(dir_fd, "f3", 0), 0);
    assert_null(file_cache_get(&fc, dir_fd, "f3", &st));
    file_cache_free(&fc);
}

static void test_bounds(void **state)
{
    (void)state;
    struct file_cache fc;
    memset(&fc, 0, sizeof(fc));
    struct stat st;
    assert_null(put(&fc, "big")); /* over FILE_CACHE_MAX */
    assert_null(file_cache_get(&fc, dir_fd, "big", &st));
    char name[FILE_CACHE_PATH + 8];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = 0;
    assert_null(file_cache_get(&fc, dir_fd, name, &st)); /* too long a path: never cached */

    /* Fill every slot and keep them referenced: nothing more is kept. */
    struct file_cached *held[FILE_CACHE_SLOTS];
    int n = 0;
    for (int i = 4; i <= FILE_CACHE_SLOTS; i++) { /* f4 .. f32: 29 files */
        snprintf(name, sizeof(name), "f%d", i);
        held[n] = put(&fc, name);
        assert_non_null(held[n]);
        n++;
    }
    write_file("g0", 'g', 10);
    write_file("g1", 'g', 10);
    write_file("g2", 'g', 10);
    struct timespec pause = {1, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "g%d", i);
        held[n] = put(&fc, name);
        assert_non_null(held[n]);
        n++;
    }
    assert_int_equal(n, FILE_CACHE_SLOTS);
    write_file("g3", 'g', 10);
    nanosleep(&pause, NULL);
    assert_null(put(&fc, "g3")); /* all in use */

    /* Released, the least recently used goes first: f4 was used last (a
     * hit), so f5 is replaced. */
    for (int i = 0; i < n; i++)
        file_cache_release(held[i]);
    struct file_cached *h = file_cache_get(&fc, dir_fd, "f4", &st);
    assert_non_null(h);
    file_cache_release(h);
    struct file_cached *e = put(&fc, "g3");
    assert_non_null(e);
    file_cache_release(e);
    assert_null(file_cache_get(&fc, dir_fd, "f5", &st));
    h = file_cache_get(&fc, dir_fd, "f4", &st);
    assert_non_null(h);
    file_cache_release(h);
    h = file_cache_get(&fc, dir_fd, "g3", &st);
    assert_ptr_equal(h, e);
    assert_int_equal(h->data[9], 'g');
    file_cache_release(h);
    file_cache_free(&fc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_until_changed),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
