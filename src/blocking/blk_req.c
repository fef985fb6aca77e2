/* The stack thread's side of a request: make the stack call, complete the
 * request or keep it waiting, try it again when the stack reports an event
 * on its descriptor, end it at its deadline.  Everything here runs in the
 * stack thread; only sn_blk_complete takes the loop's mutex. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "blocking/blk_internal.h"
#include "synack/sim.h"
#include "synack/socket.h"

synack_time_t sn_blk_now(const struct synack_blk_loop *l)
{
    return l->sim ? synack_sim_now(l->sim) : synack_stack_now(l->dev_stack);
}

void sn_blk_complete(struct synack_blk_loop *l, struct blk_req *r, ssize_t result)
{
    pthread_mutex_lock(&l->mu);
    r->result = result;
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&l->mu);
}

static void note_fd(struct synack_blk *b, int fd)
{
    if (fd > b->maxfd)
        b->maxfd = fd;
}

/* The handle for r's stack (BLK_OPEN): found, or made and given the
 * layer's event callback. */
static ssize_t do_open(struct synack_blk_loop *l, struct blk_req *r)
{
    struct synack_stack *s = r->u.arg;
    if (l->dev_stack && s != l->dev_stack)
        return -EINVAL;
    struct synack_blk *b;
    for (b = l->handles; b; b = b->next)
        if (b->stack == s)
            break;
    if (!b) {
        b = calloc(1, sizeof(*b));
        if (!b)
            return -ENOMEM;
        b->loop = l;
        b->stack = s;
        b->maxfd = -1;
        b->next = l->handles;
        l->handles = b;
        synack_set_event_cb(s, sn_blk_on_event, b);
    }
    r->u.arg = b;
    return 0;
}

/* A call that never waits: its result. */
static ssize_t immediate(struct blk_req *r)
{
    struct synack_stack *s = r->b->stack;
    int rc;
    switch (r->op) {
    case BLK_SOCKET:
        rc = synack_socket(s, AF_INET, SOCK_STREAM, 0);
        if (rc >= 0)
            note_fd(r->b, rc);
        return rc >= 0 ? rc : -errno;
    case BLK_BIND:
        rc = synack_bind(s, r->fd, r->u.caddr, r->clen);
        break;
    case BLK_LISTEN:
        rc = synack_listen(s, r->fd, r->flags);
        break;
    case BLK_SHUTDOWN:
        rc = synack_shutdown(s, r->fd, r->flags);
        break;
    case BLK_CLOSE:
        rc = synack_close(s, r->fd);
        break;
    case BLK_SETSOCKOPT:
        rc = synack_setsockopt(s, r->fd, r->flags, r->name, r->u.cbuf, r->clen);
        break;
    case BLK_GETSOCKOPT:
        rc = synack_getsockopt(s, r->fd, r->flags, r->name, r->u.buf, r->alen);
        break;
    case BLK_GETSOCKNAME:
        rc = synack_getsockname(s, r->fd, r->u.addr, r->alen);
        break;
    case BLK_GETPEERNAME:
        rc = synack_getpeername(s, r->fd, r->u.addr, r->alen);
        break;
    case BLK_CALL:
        return r->fn(s, r->u.arg);
    default:
        return -EINVAL;
    }
    return rc < 0 ? -errno : rc;
}

/* connect: send the SYN, then wait for its outcome (SO_ERROR once the
 * descriptor is writable or errored). */
static bool try_connect(struct blk_req *r, ssize_t *res)
{
    struct synack_stack *s = r->b->stack;
    if (!r->started) {
        if (synack_connect(s, r->fd, r->u.caddr, r->clen) == 0) {
            *res = 0;
            return true;
        }
        if (errno != EINPROGRESS) {
            *res = -errno;
            return true;
        }
        r->started = true;
        return false;
    }
    struct pollfd p = {.fd = r->fd, .events = POLLOUT};
    synack_poll(s, &p, 1);
    if (p.revents & POLLNVAL) {
        *res = -EBADF;
        return true;
    }
    if (!(p.revents & (POLLOUT | POLLERR | POLLHUP)))
        return false;
    int err = 0;
    socklen_t len = sizeof(err);
    synack_getsockopt(s, r->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    *res = -err;
    return true;
}

static bool try_accept(struct blk_req *r, ssize_t *res)
{
    int fd = synack_accept(r->b->stack, r->fd, r->u.addr, r->alen);
    if (fd < 0 && errno == EAGAIN)
        return false;
    if (fd >= 0)
        note_fd(r->b, fd);
    *res = fd >= 0 ? fd : -errno;
    return true;
}

/* recv: what there is, or (MSG_WAITALL) until len bytes or the end. */
static bool try_recv(struct blk_req *r, ssize_t *res)
{
    int flags = r->flags & ~(MSG_WAITALL | MSG_DONTWAIT);
    for (;;) {
        void *p = r->u.buf ? (char *)r->u.buf + r->moved : NULL;
        ssize_t n = synack_recv(r->b->stack, r->fd, p, r->len - r->moved, flags);
        if (n < 0 && errno == EAGAIN)
            return false;
        if (n < 0) {
            *res = r->moved > 0 ? (ssize_t)r->moved : -errno;
            return true;
        }
        r->moved += (size_t)n;
        if (n == 0 || !(r->flags & MSG_WAITALL) || (r->flags & MSG_PEEK) || r->moved == r->len) {
            *res = (ssize_t)r->moved;
            return true;
        }
    }
}

/* send: everything, as room appears in the send buffer. */
static bool try_send(struct blk_req *r, ssize_t *res)
{
    int flags = r->flags & ~MSG_DONTWAIT;
    while (r->moved < r->len) {
        ssize_t n = synack_send(r->b->stack, r->fd, (const char *)r->u.cbuf + r->moved,
                                r->len - r->moved, flags);
        if (n == 0 || (n < 0 && errno == EAGAIN))
            return false;
        if (n < 0) {
            *res = r->moved > 0 ? (ssize_t)r->moved : -errno;
            return true;
        }
        r->moved += (size_t)n;
    }
    *res = (ssize_t)r->moved;
    return true;
}

static bool try_poll(struct blk_req *r, ssize_t *res)
{
    int n = synack_poll(r->b->stack, r->u.fds, (nfds_t)r->len);
    if (n == 0)
        return false;
    *res = n > 0 ? n : -errno;
    return true;
}

/* One attempt: true with *res when the request is finished. */
static bool attempt(struct blk_req *r, ssize_t *res)
{
    switch (r->op) {
    case BLK_CONNECT:
        return try_connect(r, res);
    case BLK_ACCEPT:
        return try_accept(r, res);
    case BLK_RECV:
        return try_recv(r, res);
    case BLK_SEND:
        return try_send(r, res);
    case BLK_POLL:
        return try_poll(r, res);
    default:
        *res = immediate(r);
        return true;
    }
}

/* What a request that cannot wait any longer returns: the bytes it moved,
 * or `err` (poll: 0 descriptors ready). */
static ssize_t give_up(const struct blk_req *r, int err)
{
    if (r->moved > 0)
        return (ssize_t)r->moved;
    if (r->op == BLK_POLL && (err == ETIMEDOUT || err == EAGAIN))
        return 0;
    if (r->op == BLK_CONNECT && err == EAGAIN)
        return -EINPROGRESS;
    return -err;
}

static void waiting_add(struct synack_blk_loop *l, struct blk_req *r)
{
    r->prev = NULL;
    r->next = l->waiting;
    if (l->waiting)
        l->waiting->prev = r;
    l->waiting = r;
}

static void waiting_del(struct synack_blk_loop *l, struct blk_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->waiting = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static bool concerns(const struct blk_req *r, const struct synack_blk *b, int fd)
{
    if (r->b != b)
        return false;
    if (r->op != BLK_POLL)
        return r->fd == fd;
    for (size_t i = 0; i < r->len; i++)
        if (r->u.fds[i].fd == fd)
            return true;
    return false;
}

/* Mark the requests waiting on (b, fd); they are tried again by
 * sn_blk_run_kicked, outside the stack's call. */
static void kick(struct synack_blk *b, int fd)
{
    for (struct blk_req *r = b->loop->waiting; r; r = r->next)
        if (concerns(r, b, fd))
            r->kicked = true;
}

/* fd was closed: the calls waiting on it end now with what they moved or
 * -EBADF (before the number can be reused); a poll sees POLLNVAL. */
static void closed(struct synack_blk *b, int fd)
{
    struct synack_blk_loop *l = b->loop;
    struct blk_req *r = l->waiting, *next;
    for (; r; r = next) {
        next = r->next;
        if (!concerns(r, b, fd))
            continue;
        if (r->op == BLK_POLL) {
            r->kicked = true;
            continue;
        }
        waiting_del(l, r);
        sn_blk_complete(l, r, give_up(r, EBADF));
    }
}

void sn_blk_on_event(void *user, int fd, short events, void *sock_user)
{
    (void)events;
    (void)sock_user;
    kick(user, fd);
}

bool sn_blk_kicked(const struct synack_blk_loop *l)
{
    for (const struct blk_req *r = l->waiting; r; r = r->next)
        if (r->kicked)
            return true;
    return false;
}

void sn_blk_run_kicked(struct synack_blk_loop *l)
{
    uint64_t round = ++l->round;
    for (;;) {
        struct blk_req *r = l->waiting;
        while (r && !(r->kicked && r->round != round))
            r = r->next;
        if (!r)
            return;
        r->kicked = false;
        r->round = round;
        SN_BLK_COUNT(l, retries);
        ssize_t res;
        if (attempt(r, &res)) {
            waiting_del(l, r);
            sn_blk_complete(l, r, res);
        }
    }
}

void sn_blk_execute(struct synack_blk_loop *l, struct blk_req *r)
{
    SN_BLK_COUNT(l, calls);
    ssize_t res;
    if (r->op == BLK_OPEN) {
        sn_blk_complete(l, r, do_open(l, r));
        return;
    }
    if (attempt(r, &res)) {
        struct synack_blk *b = r->b;
        enum blk_op op = r->op;
        int fd = r->fd;
        sn_blk_complete(l, r, res); /* r is gone */
        if (op == BLK_CLOSE && res == 0)
            closed(b, fd);
        else if (op == BLK_SHUTDOWN && res == 0)
            kick(b, fd); /* its readers and writers learn it now */
        return;
    }
    bool dontwait = (r->op == BLK_RECV || r->op == BLK_SEND) && (r->flags & MSG_DONTWAIT);
    if (r->timeout_ms == 0 || dontwait) {
        sn_blk_complete(l, r, give_up(r, EAGAIN));
        return;
    }
    r->deadline = r->timeout_ms < 0
                      ? SYNACK_TIME_NEVER
                      : sn_blk_now(l) + SYNACK_MSEC((synack_time_t)r->timeout_ms);
    r->kicked = false;
    SN_BLK_COUNT(l, waits);
    waiting_add(l, r);
}

synack_time_t sn_blk_next_deadline(const struct synack_blk_loop *l)
{
    synack_time_t t = SYNACK_TIME_NEVER;
    for (const struct blk_req *r = l->waiting; r; r = r->next)
        if (r->deadline < t)
            t = r->deadline;
    return t;
}

void sn_blk_expire(struct synack_blk_loop *l, synack_time_t now)
{
    struct blk_req *r = l->waiting, *next;
    for (; r; r = next) {
        next = r->next;
        if (r->deadline > now)
            continue;
        waiting_del(l, r);
        SN_BLK_COUNT(l, timeouts);
        sn_blk_complete(l, r, give_up(r, ETIMEDOUT));
    }
}

void sn_blk_cancel_all(struct synack_blk_loop *l, int err)
{
    while (l->waiting) {
        struct blk_req *r = l->waiting;
        waiting_del(l, r);
        sn_blk_complete(l, r, give_up(r, err));
    }
}
