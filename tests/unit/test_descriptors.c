/* Descriptors as POSIX hands them out: the lowest free one, from 3 (as in a
 * fresh process), for socket(), accept() and dup(); closing one makes it the
 * next; many descriptors stay cheap to allocate. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "synack/socket.h"

static int drop(void *user, const uint8_t *pkt, size_t len)
{
    (void)user;
    (void)pkt;
    (void)len;
    return 0;
}

static struct synack_stack *new_stack(uint32_t max_sockets)
{
    struct synack_config c;
    synack_config_default(&c);
    c.addr = 0x0a000001;
    c.max_sockets = max_sockets;
    c.max_conns = max_sockets;
    struct synack_stack *s;
    assert_int_equal(synack_stack_new(&c, drop, NULL, &s), 0);
    return s;
}

static int sock(struct synack_stack *s) { return synack_socket(s, AF_INET, SOCK_STREAM, 0); }

static void test_lowest_free(void **state)
{
    (void)state;
    struct synack_stack *s = new_stack(1024);
    assert_int_equal(sock(s), 3);
    assert_int_equal(sock(s), 4);
    assert_int_equal(sock(s), 5);
    assert_int_equal(synack_close(s, 4), 0);
    assert_int_equal(sock(s), 4);
    assert_int_equal(synack_close(s, 3), 0);
    assert_int_equal(synack_close(s, 5), 0);
    assert_int_equal(synack_dup(s, 4), 3);
    assert_int_equal(sock(s), 5);
    for (int i = 0; i < 300; i++)
        assert_int_equal(sock(s), 6 + i);
    assert_int_equal(synack_close(s, 100), 0);
    assert_int_equal(synack_close(s, 50), 0);
    assert_int_equal(sock(s), 50);
    assert_int_equal(sock(s), 100);
    assert_int_equal(sock(s), 306);
    assert_int_equal(synack_close(s, 1000), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(synack_close(s, 2), -1);
    assert_int_equal(errno, EBADF);
    synack_stack_free(s);
}

static void test_bound(void **state)
{
    (void)state;
    struct synack_stack *s = new_stack(100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sock(s), 3 + i);
    assert_int_equal(sock(s), -1);
    assert_true(errno == EMFILE || errno == ENOBUFS);
    assert_int_equal(synack_close(s, 42), 0);
    assert_int_equal(sock(s), 42);
    synack_stack_free(s);
}

static void test_many(void **state)
{
    (void)state;
    /* 100,000 descriptors: allocation must not rescan the table each time
     * (this would take minutes if it did). */
    struct synack_stack *s = new_stack(100000);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(sock(s), 3 + i);
    for (int i = 3; i < 100003; i += 2)
        assert_int_equal(synack_close(s, i), 0);
    for (int i = 3; i < 100003; i += 2)
        assert_int_equal(sock(s), i);
    synack_stack_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowest_free),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
