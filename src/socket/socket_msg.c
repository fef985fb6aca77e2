/* The scatter/gather calls: sendmsg/recvmsg and writev/readv, with the
 * meanings of Linux's on a TCP socket, built on synack_send/synack_recv.
 * Neither address nor control data applies to a connected stream: the
 * address in msg_name is ignored, msg_namelen and msg_controllen come back
 * 0, msg_flags 0. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>

#include "socket/socket_internal.h"
#include "synack/socket.h"
#include "tcp/tcp_internal.h"

static ssize_t fail(int err)
{
    errno = err;
    return -1;
}

/* Check an iovec array as Linux's import_iovec does: at most
 * SYNACK_IOV_MAX entries (EMSGSIZE for sendmsg/recvmsg, EINVAL for
 * readv/writev), a total that fits in ssize_t (EINVAL), no NULL base with a
 * length (EFAULT).  Returns 0 or the positive errno. */
static int iov_check(const struct iovec *iov, size_t n, int too_many)
{
    if (n > SYNACK_IOV_MAX)
        return too_many;
    if (n > 0 && !iov)
        return EFAULT;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
            return EINVAL;
        if (!iov[i].iov_base && iov[i].iov_len > 0)
            return EFAULT;
        total += iov[i].iov_len;
    }
    return 0;
}

/* Write the pieces in order; every piece but the last goes with MSG_MORE so
 * that they fill segments together, as one write would. */
static ssize_t send_iov(struct synack_stack *s, int fd, const struct iovec *iov, size_t n,
                        int flags)
{
    ssize_t total = 0;
    size_t last = n;
    while (last > 0 && iov[last - 1].iov_len == 0)
        last--;
    if (last == 0)
        return synack_send(s, fd, "", 0, flags); /* errors as for an empty write */
    for (size_t i = 0; i < last; i++) {
        if (iov[i].iov_len == 0)
            continue;
        int f = i + 1 < last ? flags | MSG_MORE : flags;
        ssize_t k = synack_send(s, fd, iov[i].iov_base, iov[i].iov_len, f);
        if (k >= 0)
            total += k;
        if (k < 0 || (size_t)k < iov[i].iov_len) {
            /* The buffer is full (or an error after some data): what was
             * taken goes as one write's would, uncorked unless the caller
             * asked for MSG_MORE.  Like Linux, what was written counts. */
            struct sn_tcb *tcb = sn_sock_tcb(s, fd);
            if (tcb && f != flags && !(flags & MSG_MORE)) {
                tcb->flags &= ~SN_TF_MORE;
                sn_tcp_output(s, tcb);
            }
            return total > 0 ? total : -1;
        }
    }
    return total;
}

/* MSG_PEEK across pieces: copies from successive offsets without consuming. */
static ssize_t peek_iov(struct synack_stack *s, int fd, const struct iovec *iov, size_t n)
{
    struct sn_tcb *tcb = sn_sock_tcb(s, fd);
    if (!tcb)
        return fail(EBADF);
    if (tcb->rcv.len == 0 || tcb->state == SYNACK_LISTEN) {
        uint8_t one;
        return synack_recv(s, fd, &one, 1, MSG_PEEK); /* EOF, error or EAGAIN */
    }
    uint32_t off = 0;
    for (size_t i = 0; i < n && off < tcb->rcv.len; i++) {
        uint32_t k = tcb->rcv.len - off;
        if (iov[i].iov_len < k)
            k = (uint32_t)iov[i].iov_len;
        sn_ring_peek(&tcb->rcv, off, iov[i].iov_base, k);
        off += k;
    }
    return (ssize_t)off;
}

static ssize_t recv_iov(struct synack_stack *s, int fd, const struct iovec *iov, size_t n,
                        int flags)
{
    if (flags & MSG_PEEK && !(flags & MSG_TRUNC))
        return peek_iov(s, fd, iov, n);
    ssize_t total = 0;
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += iov[i].iov_len;
    if (want == 0)
        return synack_recv(s, fd, NULL, 0, flags);
    for (size_t i = 0; i < n; i++) {
        if (iov[i].iov_len == 0)
            continue;
        ssize_t k = synack_recv(s, fd, iov[i].iov_base, iov[i].iov_len, flags);
        if (k < 0)
            return total > 0 ? total : -1;
        total += k;
        if ((size_t)k < iov[i].iov_len)
            break; /* nothing more to read now (or the end of the data) */
    }
    return total;
}

ssize_t synack_sendmsg(struct synack_stack *s, int fd, const struct msghdr *msg, int flags)
{
    if (!msg)
        return fail(EFAULT);
    int err = iov_check(msg->msg_iov, (size_t)msg->msg_iovlen, EMSGSIZE);
    if (err)
        return fail(err);
    return send_iov(s, fd, msg->msg_iov, (size_t)msg->msg_iovlen, flags);
}

ssize_t synack_recvmsg(struct synack_stack *s, int fd, struct msghdr *msg, int flags)
{
    if (!msg)
        return fail(EFAULT);
    int err = iov_check(msg->msg_iov, (size_t)msg->msg_iovlen, EMSGSIZE);
    if (err)
        return fail(err);
    ssize_t n = recv_iov(s, fd, msg->msg_iov, (size_t)msg->msg_iovlen, flags);
    if (n >= 0) {
        msg->msg_namelen = 0;
        msg->msg_controllen = 0;
        msg->msg_flags = 0;
    }
    return n;
}

ssize_t synack_writev(struct synack_stack *s, int fd, const struct iovec *iov, int iovcnt)
{
    if (iovcnt < 0)
        return fail(EINVAL);
    int err = iov_check(iov, (size_t)iovcnt, EINVAL);
    if (err)
        return fail(err);
    return send_iov(s, fd, iov, (size_t)iovcnt, 0);
}

ssize_t synack_readv(struct synack_stack *s, int fd, const struct iovec *iov, int iovcnt)
{
    if (iovcnt < 0)
        return fail(EINVAL);
    int err = iov_check(iov, (size_t)iovcnt, EINVAL);
    if (err)
        return fail(err);
    return recv_iov(s, fd, iov, (size_t)iovcnt, 0);
}
