/* The zero-copy calls: the application reads from and writes into the
 * connection's own buffers (socket.h: synack_recv_peek, synack_recv_consume,
 * synack_send_reserve, synack_send_commit), as lwIP's pbufs and smoltcp's
 * recv/send closures allow.  Each runs inside sn_stack_enter/sn_stack_leave
 * like the other public calls (socket.c). */
#include <errno.h>
#include <sys/uio.h>

#include "socket/socket_internal.h"
#include "synack/socket.h"
#include "tcp/tcp_internal.h"

/* errno from a negative code; the result of the call. */
static long done(struct synack_stack *s, const char *where, long rc)
{
    int err = rc < 0 ? (int)-rc : 0;
    sn_stack_leave(s, where);
    if (rc < 0) {
        errno = err;
        return -1;
    }
    return rc;
}

/* The connection of fd and a checked piece array, or a negative code. */
static long zc_tcb(struct synack_stack *s, int fd, const struct iovec *iov, int iovcnt,
                   struct sn_tcb **tcb)
{
    *tcb = sn_sock_tcb(s, fd);
    if (!*tcb)
        return -EBADF;
    if (iovcnt < 0 || iovcnt > SYNACK_IOV_MAX)
        return -EINVAL;
    if (iovcnt > 0 && !iov)
        return -EFAULT;
    return 0;
}

ssize_t synack_recv_peek(struct synack_stack *s, int fd, struct iovec *iov, int iovcnt)
{
    sn_stack_enter(s);
    struct sn_tcb *tcb;
    long rc = zc_tcb(s, fd, iov, iovcnt, &tcb);
    if (rc == 0)
        rc = iovcnt == 0 ? 0 : sn_tcp_usr_recv_peek(tcb, iov, iovcnt);
    return done(s, "synack_recv_peek", rc);
}

int synack_recv_consume(struct synack_stack *s, int fd, size_t len)
{
    sn_stack_enter(s);
    struct sn_tcb *tcb = sn_sock_tcb(s, fd);
    long rc = tcb ? sn_tcp_usr_recv_consume(s, tcb, len) : -EBADF;
    return (int)done(s, "synack_recv_consume", rc);
}

ssize_t synack_send_reserve(struct synack_stack *s, int fd, size_t len, struct iovec *iov,
                            int iovcnt)
{
    sn_stack_enter(s);
    struct sn_tcb *tcb;
    long rc = zc_tcb(s, fd, iov, iovcnt, &tcb);
    if (rc == 0)
        rc = sn_tcp_usr_send_reserve(s, tcb, len, iov, iovcnt);
    return done(s, "synack_send_reserve", rc);
}

ssize_t synack_send_commit(struct synack_stack *s, int fd, size_t len, int flags)
{
    sn_stack_enter(s);
    struct sn_tcb *tcb = sn_sock_tcb(s, fd);
    long rc = -EBADF;
    if (tcb && (flags & ~(MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL))) {
        rc = -EINVAL;
    } else if (tcb) {
        /* MSG_MORE as for send(): a partial segment waits for more. */
        if (flags & MSG_MORE)
            tcb->flags |= SN_TF_MORE;
        else
            tcb->flags &= ~SN_TF_MORE;
        rc = sn_tcp_usr_send_commit(s, tcb, len);
    }
    return done(s, "synack_send_commit", rc);
}
