/* The socket API's refusals, each with the errno Linux gives for the same
 * call: what a bad argument, a bad descriptor or an unsupported request
 * gets, and that the stack is unchanged afterwards.  (The calls' successes
 * are the business of test_socket_calls and the packet scripts.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "synack/socket.h"
#include "synack/stack.h"

#define ME 0x0a000002u

static int out_null(void *user, const uint8_t *pkt, size_t len)
{
    (void)user, (void)pkt, (void)len;
    return 0;
}

static struct synack_stack *stack_new(uint32_t max_sockets, uint16_t eph_lo, uint16_t eph_hi)
{
    struct synack_config c;
    synack_config_default(&c);
    c.addr = ME;
    c.seed = 9;
    c.max_sockets = max_sockets;
    c.ephemeral_lo = eph_lo;
    c.ephemeral_hi = eph_hi;
    struct synack_stack *s;
    assert_int_equal(synack_stack_new(&c, out_null, NULL, &s), 0);
    return s;
}

/* rc must be -1 with errno e. */
#define FAILS(call, e)                   \
    do {                                 \
        errno = 0;                       \
        assert_int_equal((call), -1);    \
        assert_int_equal(errno, (e));    \
    } while (0)

static void test_socket_refusals(void **state)
{
    (void)state;
    struct synack_stack *s = stack_new(65536, 32768, 60999);
    FAILS(synack_socket(s, AF_INET6, SOCK_STREAM, 0), EAFNOSUPPORT);
    FAILS(synack_socket(s, AF_INET, SOCK_DGRAM, 0), ESOCKTNOSUPPORT);
    FAILS(synack_socket(s, AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
    /* None of them took a descriptor: the next one is the first. */
    int fd = synack_socket(s, AF_INET, SOCK_STREAM, IPPROTO_TCP);
    assert_int_equal(fd, 3);

    /* An address of another family, and calls on descriptors that are not. */
    struct sockaddr_in a = {.sin_family = AF_INET6, .sin_port = htons(80)};
    FAILS(synack_bind(s, fd, (struct sockaddr *)&a, sizeof(a)), EAFNOSUPPORT);
    a.sin_family = AF_INET;
    FAILS(synack_connect(s, 77, (struct sockaddr *)&a, sizeof(a)), EBADF);
    FAILS(synack_listen(s, 77, 1), EBADF);
    int one = 1;
    FAILS(synack_setsockopt(s, 77, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), EBADF);
    struct sockaddr_in got;
    socklen_t glen = sizeof(got);
    FAILS(synack_getpeername(s, 77, (struct sockaddr *)&got, &glen), EBADF);
    FAILS(synack_fcntl(s, 77, F_GETFL, 0), EBADF);
    FAILS(synack_sockatmark(s, 77), EBADF);
    char b[8];
    struct iovec iov = {b, sizeof(b)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    FAILS(synack_recvmsg(s, 77, &m, MSG_PEEK), EBADF);

    /* Bad pointers and lengths. */
    FAILS(synack_send(s, fd, NULL, 10, 0), EFAULT);
    FAILS(synack_recv(s, fd, NULL, 10, 0), EFAULT);
    FAILS(synack_getsockname(s, fd, NULL, &glen), EFAULT);
    FAILS(synack_getsockopt(s, fd, IPPROTO_TCP, TCP_NODELAY, NULL, &glen), EFAULT);
    FAILS(synack_recvmsg(s, fd, NULL, 0), EFAULT);
    short sh = 1;
    FAILS(synack_setsockopt(s, fd, IPPROTO_TCP, TCP_NODELAY, &sh, sizeof(sh)), EINVAL);
    FAILS(synack_setsockopt(s, fd, IPPROTO_TCP, TCP_CONGESTION, "vegas", 5), ENOENT);
    FAILS(synack_setsockopt(s, fd, IPPROTO_TCP, TCP_CONGESTION, NULL, 0), EINVAL);
    int v = 10;
    FAILS(synack_setsockopt(s, fd, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof(v)), EINVAL);
    v = -1;
    FAILS(synack_setsockopt(s, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v)), EINVAL);
    FAILS(synack_fcntl(s, fd, F_DUPFD, 0), EINVAL);
    /* A NULL base with a length, too many pieces (EINVAL for readv,
     * EMSGSIZE for recvmsg, as Linux). */
    struct iovec bad = {NULL, 10};
    FAILS(synack_readv(s, fd, &bad, 1), EFAULT);
    FAILS(synack_readv(s, fd, &iov, SYNACK_IOV_MAX + 1), EINVAL);
    FAILS(synack_readv(s, fd, &iov, -1), EINVAL);
    FAILS(synack_readv(s, fd, NULL, 1), EFAULT);
    struct iovec huge[2] = {{b, (size_t)SSIZE_MAX}, {b, 2}}; /* the total overflows ssize_t */
    FAILS(synack_readv(s, fd, huge, 2), EINVAL);
    m.msg_iovlen = SYNACK_IOV_MAX + 1;
    FAILS(synack_recvmsg(s, fd, &m, 0), EMSGSIZE);
    /* Writing only empty pieces is an empty write: on a socket not
     * connected, ENOTCONN as for send(fd, "", 0). */
    struct iovec empty[2] = {{b, 0}, {NULL, 0}};
    FAILS(synack_writev(s, fd, empty, 2), ENOTCONN);
    FAILS(synack_send(s, fd, "", 0, 0), ENOTCONN);

    /* Port 0 (or address 0) is nobody: refused at once, as on Linux; the
     * socket can connect elsewhere afterwards. */
    struct sockaddr_in zero = {.sin_family = AF_INET, .sin_port = 0,
                               .sin_addr.s_addr = htonl(0x0a000001u)};
    FAILS(synack_connect(s, fd, (struct sockaddr *)&zero, sizeof(zero)), ECONNREFUSED);

    /* Still the same socket, unharmed. */
    assert_int_equal(synack_fcntl(s, fd, F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(synack_fcntl(s, fd, F_GETFL, 0) & O_NONBLOCK, O_NONBLOCK);
    assert_int_equal(synack_close(s, fd), 0);
    synack_stack_free(s);
}

/* Limits: descriptors (EMFILE for socket() and dup() alike) and
 * ephemeral ports (EADDRNOTAVAIL when every port is taken). */
static void test_limits(void **state)
{
    (void)state;
    struct synack_stack *s = stack_new(2, 40000, 40000); /* 2 descriptors, 1 port */
    int a = synack_socket(s, AF_INET, SOCK_STREAM, 0);
    int b = synack_socket(s, AF_INET, SOCK_STREAM, 0);
    assert_true(a >= 0 && b >= 0);
    FAILS(synack_socket(s, AF_INET, SOCK_STREAM, 0), EMFILE);
    FAILS(synack_dup(s, a), EMFILE);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(80),
                             .sin_addr.s_addr = htonl(0x0a000001u)};
    FAILS(synack_connect(s, a, (struct sockaddr *)&to, sizeof(to)), EINPROGRESS);
    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    assert_int_equal(synack_getsockname(s, a, (struct sockaddr *)&me, &len), 0);
    assert_int_equal(ntohs(me.sin_port), 40000);
    /* The one ephemeral port is taken towards that peer: nothing is left. */
    FAILS(synack_connect(s, b, (struct sockaddr *)&to, sizeof(to)), EADDRNOTAVAIL);
    /* The failed connect left b as it was: it can still listen. */
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(8080)};
    assert_int_equal(synack_bind(s, b, (struct sockaddr *)&any, sizeof(any)), 0);
    assert_int_equal(synack_listen(s, b, -5), 0); /* a negative backlog is 0, as Linux */
    assert_int_equal(synack_close(s, a), 0);
    assert_int_equal(synack_close(s, b), 0);
    synack_stack_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket_refusals),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
