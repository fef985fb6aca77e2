/* The application's side of the blocking layer (include/synack/blocking.h):
 * each call fills a request on its own stack and hands it to the stack
 * thread (sn_blk_submit), which makes the stack call and wakes it. */
#include <errno.h>
#include <string.h>

#include "blocking/blk_internal.h"

static struct blk_req req(struct synack_blk *b, enum blk_op op, int fd)
{
    struct blk_req r;
    memset(&r, 0, sizeof(r));
    r.b = b;
    r.op = op;
    r.fd = fd;
    r.timeout_ms = 0;
    r.deadline = SYNACK_TIME_NEVER;
    return r;
}

static ssize_t submit(struct blk_req *r)
{
    if (!r->b)
        return -EINVAL;
    return sn_blk_submit(r->b->loop, r);
}

int synack_blk_open(struct synack_blk_loop *l, struct synack_stack *s, struct synack_blk **out)
{
    if (!l || !s || !out)
        return -EINVAL;
    struct blk_req r = req(NULL, BLK_OPEN, -1);
    r.u.arg = s;
    int rc = (int)sn_blk_submit(l, &r);
    *out = rc == 0 ? r.u.arg : NULL;
    return rc;
}

int synack_blk_socket(struct synack_blk *b)
{
    struct blk_req r = req(b, BLK_SOCKET, -1);
    return (int)submit(&r);
}

int synack_blk_bind(struct synack_blk *b, int fd, const struct sockaddr *addr, socklen_t len)
{
    struct blk_req r = req(b, BLK_BIND, fd);
    r.u.caddr = addr;
    r.clen = len;
    return (int)submit(&r);
}

int synack_blk_listen(struct synack_blk *b, int fd, int backlog)
{
    struct blk_req r = req(b, BLK_LISTEN, fd);
    r.flags = backlog;
    return (int)submit(&r);
}

int synack_blk_shutdown(struct synack_blk *b, int fd, int how)
{
    struct blk_req r = req(b, BLK_SHUTDOWN, fd);
    r.flags = how;
    return (int)submit(&r);
}

int synack_blk_close(struct synack_blk *b, int fd)
{
    struct blk_req r = req(b, BLK_CLOSE, fd);
    return (int)submit(&r);
}

int synack_blk_setsockopt(struct synack_blk *b, int fd, int level, int name, const void *val,
                          socklen_t len)
{
    struct blk_req r = req(b, BLK_SETSOCKOPT, fd);
    r.flags = level;
    r.name = name;
    r.u.cbuf = val;
    r.clen = len;
    return (int)submit(&r);
}

int synack_blk_getsockopt(struct synack_blk *b, int fd, int level, int name, void *val,
                          socklen_t *len)
{
    struct blk_req r = req(b, BLK_GETSOCKOPT, fd);
    r.flags = level;
    r.name = name;
    r.u.buf = val;
    r.alen = len;
    return (int)submit(&r);
}

static int name_call(struct synack_blk *b, enum blk_op op, int fd, struct sockaddr *addr,
                     socklen_t *len)
{
    struct blk_req r = req(b, op, fd);
    r.u.addr = addr;
    r.alen = len;
    return (int)submit(&r);
}

int synack_blk_getsockname(struct synack_blk *b, int fd, struct sockaddr *addr, socklen_t *len)
{
    return name_call(b, BLK_GETSOCKNAME, fd, addr, len);
}

int synack_blk_getpeername(struct synack_blk *b, int fd, struct sockaddr *addr, socklen_t *len)
{
    return name_call(b, BLK_GETPEERNAME, fd, addr, len);
}

int synack_blk_connect(struct synack_blk *b, int fd, const struct sockaddr *addr, socklen_t len,
                       int timeout_ms)
{
    struct blk_req r = req(b, BLK_CONNECT, fd);
    r.u.caddr = addr;
    r.clen = len;
    r.timeout_ms = timeout_ms;
    return (int)submit(&r);
}

int synack_blk_accept(struct synack_blk *b, int fd, struct sockaddr *addr, socklen_t *len,
                      int timeout_ms)
{
    struct blk_req r = req(b, BLK_ACCEPT, fd);
    r.u.addr = addr;
    r.alen = len;
    r.timeout_ms = timeout_ms;
    return (int)submit(&r);
}

ssize_t synack_blk_recv(struct synack_blk *b, int fd, void *buf, size_t len, int flags,
                        int timeout_ms)
{
    struct blk_req r = req(b, BLK_RECV, fd);
    r.u.buf = buf;
    r.len = len;
    r.flags = flags;
    r.timeout_ms = timeout_ms;
    return submit(&r);
}

ssize_t synack_blk_send(struct synack_blk *b, int fd, const void *buf, size_t len, int flags,
                        int timeout_ms)
{
    if (!buf && len > 0)
        return -EFAULT;
    struct blk_req r = req(b, BLK_SEND, fd);
    r.u.cbuf = buf;
    r.len = len;
    r.flags = flags;
    r.timeout_ms = timeout_ms;
    return submit(&r);
}

ssize_t synack_blk_read(struct synack_blk *b, int fd, void *buf, size_t len, int timeout_ms)
{
    return synack_blk_recv(b, fd, buf, len, 0, timeout_ms);
}

ssize_t synack_blk_write(struct synack_blk *b, int fd, const void *buf, size_t len,
                         int timeout_ms)
{
    return synack_blk_send(b, fd, buf, len, 0, timeout_ms);
}

int synack_blk_poll(struct synack_blk *b, struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
    if (nfds > SYNACK_BLK_POLL_MAX || (!fds && nfds > 0))
        return -EINVAL;
    struct blk_req r = req(b, BLK_POLL, -1);
    r.u.fds = fds;
    r.len = nfds;
    r.timeout_ms = timeout_ms;
    return (int)submit(&r);
}

int synack_blk_call(struct synack_blk *b, synack_blk_fn fn, void *arg)
{
    if (!fn)
        return -EINVAL;
    struct blk_req r = req(b, BLK_CALL, -1);
    r.fn = fn;
    r.u.arg = arg;
    return (int)submit(&r);
}
