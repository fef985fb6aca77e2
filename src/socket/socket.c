/* The BSD-shaped socket API (include/synack/socket.h): descriptors,
 * argument checks and errno; the work is done by the TCP engine's user calls
 * (src/tcp/tcp_usr.c). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack_internal.h"
#include "synack/socket.h"
#include "socket/socket_internal.h"
#include "tcp/tcp_internal.h"

#define FD_FIRST 3 /* like a fresh process: 0, 1 and 2 are taken */

static int fail(int err)
{
    errno = err;
    return -1;
}

/* Leave the stack (events delivered, invariants checked) and return rc
 * with the call's errno, whatever the callbacks did to errno. */
static long leave(struct synack_stack *s, const char *where, long rc)
{
    int err = errno;
    sn_stack_leave(s, where);
    errno = err;
    return rc;
}

static struct sn_tcb *fd_get(struct synack_stack *s, int fd)
{
    if (fd < FD_FIRST || (uint32_t)fd >= s->nfds)
        return NULL;
    return s->fds[fd];
}

struct sn_tcb *sn_sock_tcb(struct synack_stack *s, int fd)
{
    return fd_get(s, fd);
}

/* The lowest free descriptor, as POSIX requires of socket() and dup().
 * The search starts at fd_free, below which every slot is taken, so a
 * server accepting many connections pays O(1) per descriptor, not O(n). */
static int fd_alloc(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (s->fd_free < FD_FIRST)
        s->fd_free = FD_FIRST;
    for (uint32_t i = s->fd_free; i < s->nfds; i++) {
        if (!s->fds[i]) {
            s->fds[i] = tcb;
            s->fd_user[i] = NULL;
            s->fd_free = i + 1;
            return (int)i;
        }
    }
    uint32_t limit = s->cfg.max_sockets + FD_FIRST;
    if (s->nfds >= limit)
        return -EMFILE;
    uint32_t n = s->nfds ? s->nfds * 2 : 64;
    if (n > limit)
        n = limit;
    void **users = sn_mem_realloc(&s->mem, s->fd_user, n * sizeof(*users));
    if (!users)
        return -ENOMEM;
    s->fd_user = users;
    /* The event ring holds each descriptor at most once (stack.c); the
     * queued ones move over in order. */
    uint32_t *evq = sn_mem_calloc(&s->mem, n, sizeof(*evq));
    if (!evq)
        return -ENOMEM;
    for (uint32_t k = 0; k < s->nevq; k++)
        evq[k] = s->evq[(s->evq_head + k) % s->evq_cap];
    sn_mem_free(&s->mem, s->evq);
    s->evq = evq;
    s->evq_head = 0;
    s->evq_cap = n;
    uint8_t *pending = sn_mem_realloc(&s->mem, s->ev_pending, n);
    if (!pending)
        return -ENOMEM;
    memset(pending + s->nfds, 0, n - s->nfds);
    s->ev_pending = pending;
    struct sn_tcb **fds = sn_mem_realloc(&s->mem, s->fds, n * sizeof(*fds));
    if (!fds)
        return -ENOMEM;
    memset(fds + s->nfds, 0, (n - s->nfds) * sizeof(*fds));
    memset(users + s->nfds, 0, (n - s->nfds) * sizeof(*users));
    uint32_t i = s->nfds < FD_FIRST ? FD_FIRST : s->nfds;
    s->fds = fds;
    sn_mem_add_fixed(&s->mem, (uint64_t)(n - s->nfds) * (sizeof(*fds) + sizeof(*users)));
    s->nfds = n;
    s->fds[i] = tcb;
    s->fd_free = i + 1;
    return (int)i;
}

static void fd_attach(struct synack_stack *s, struct sn_tcb *tcb, int fd)
{
    (void)s;
    tcb->refs++;
    if (tcb->fd < 0 || fd < tcb->fd)
        tcb->fd = fd;
}

static int sock_socket(struct synack_stack *s, int domain, int type, int protocol)
{
    if (domain != AF_INET)
        return fail(EAFNOSUPPORT);
    if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != SOCK_STREAM)
        return fail(ESOCKTNOSUPPORT);
    if (protocol != 0 && protocol != IPPROTO_TCP)
        return fail(EPROTONOSUPPORT);
    struct sn_tcb *tcb = sn_tcb_new(s);
    if (!tcb)
        return fail(ENOBUFS);
    int fd = fd_alloc(s, tcb);
    if (fd < 0) {
        sn_tcb_free(s, tcb);
        return fail(-fd);
    }
    fd_attach(s, tcb, fd);
    if (type & SOCK_NONBLOCK)
        tcb->flags |= SN_TF_NONBLOCK;
    return fd;
}

static int sockaddr_in_get(const struct sockaddr *addr, socklen_t len, uint32_t *ip, uint16_t *port)
{
    if (!addr || len < (socklen_t)sizeof(struct sockaddr_in))
        return -EINVAL;
    struct sockaddr_in sin;
    memcpy(&sin, addr, sizeof(sin));
    if (sin.sin_family != AF_INET)
        return -EAFNOSUPPORT;
    *ip = ntohl(sin.sin_addr.s_addr);
    *port = ntohs(sin.sin_port);
    return 0;
}

static void sockaddr_in_put(struct sockaddr *addr, socklen_t *len, uint32_t ip, uint16_t port)
{
    if (!addr || !len)
        return;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(ip);
    sin.sin_port = htons(port);
    socklen_t n = *len < (socklen_t)sizeof(sin) ? *len : (socklen_t)sizeof(sin);
    memcpy(addr, &sin, (size_t)n);
    *len = sizeof(sin);
}

/* The connection of fd and an IPv4 address argument, or a negative errno. */
static int fd_and_addr(struct synack_stack *s, int fd, const struct sockaddr *addr, socklen_t len,
                       struct sn_tcb **tcb, uint32_t *ip, uint16_t *port)
{
    *tcb = fd_get(s, fd);
    if (!*tcb)
        return -EBADF;
    return sockaddr_in_get(addr, len, ip, port);
}

int synack_bind(struct synack_stack *s, int fd, const struct sockaddr *addr, socklen_t len)
{
    struct sn_tcb *tcb;
    uint32_t ip;
    uint16_t port;
    int rc = fd_and_addr(s, fd, addr, len, &tcb, &ip, &port);
    if (rc < 0)
        return fail(-rc);
    if (tcb->state != SYNACK_CLOSED || (tcb->flags & SN_TF_BOUND))
        return fail(EINVAL);
    if (ip != 0 && ip != s->cfg.addr)
        return fail(EADDRNOTAVAIL);
    tcb->te.tuple.laddr = ip;
    if (port == 0) {
        rc = sn_tcp_pick_port(s, tcb);
        return rc < 0 ? fail(-rc) : 0;
    }
    if (tcb->flags & SN_TF_REUSEADDR) {
        /* SO_REUSEADDR: the port may be shared with connections (TIME-WAIT
         * ones among them), never with a listener. */
        struct synack_tuple k = {.laddr = ip, .lport = port};
        struct sn_tuple_entry *e = sn_tuple_lookup(&s->conns, &k);
        if (e && sn_tcb_of_entry(e)->state == SYNACK_LISTEN)
            return fail(EADDRINUSE);
        rc = sn_tcp_port_ref(s, port, false);
    } else {
        rc = sn_tcp_port_ref(s, port, true);
    }
    if (rc < 0)
        return fail(-rc);
    tcb->te.tuple.lport = port;
    tcb->flags |= SN_TF_BOUND;
    return 0;
}

static int sock_listen(struct synack_stack *s, int fd, int backlog)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    int rc = sn_tcp_usr_listen(s, tcb, backlog);
    return rc < 0 ? fail(-rc) : 0;
}

static int sock_accept(struct synack_stack *s, int fd, struct sockaddr *addr, socklen_t *len)
{
    struct sn_tcb *l = fd_get(s, fd);
    if (!l)
        return fail(EBADF);
    if (l->state != SYNACK_LISTEN)
        return fail(EINVAL);
    struct sn_listen *q = sn_tcb_lsn(l);
    if (!q || !q->acc_head)
        return fail(EAGAIN);
    int nfd = fd_alloc(s, q->acc_head);
    if (nfd < 0)
        return fail(-nfd);
    struct sn_tcb *c = sn_tcp_accept_pop(s, l);
    fd_attach(s, c, nfd);
    s->fd_user[nfd] = s->fd_user[fd]; /* the listener's, as lwIP's tcp_arg is inherited */
    sockaddr_in_put(addr, len, c->te.tuple.raddr, c->te.tuple.rport);
    return nfd;
}

static int sock_connect(struct synack_stack *s, int fd, const struct sockaddr *addr, socklen_t len)
{
    struct sn_tcb *tcb;
    uint32_t ip;
    uint16_t port;
    int rc = fd_and_addr(s, fd, addr, len, &tcb, &ip, &port);
    if (rc < 0)
        return fail(-rc);
    rc = sn_tcp_usr_connect(s, tcb, ip, port);
    return rc < 0 ? fail(-rc) : 0;
}

static ssize_t sock_send(struct synack_stack *s, int fd, const void *buf, size_t len, int flags)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    if (!buf && len > 0)
        return fail(EFAULT);
    /* MSG_DONTWAIT and MSG_NOSIGNAL change nothing: calls never wait, and
     * EPIPE never raises a signal.  MSG_MORE: this write's partial segment
     * waits, as under TCP_CORK, for the next write without it (or the FIN). */
    if (flags & MSG_MORE)
        tcb->flags |= SN_TF_MORE;
    else
        tcb->flags &= ~SN_TF_MORE;
    long n = sn_tcp_usr_send(s, tcb, buf, len, (flags & MSG_OOB) != 0);
    return n < 0 ? fail((int)-n) : (ssize_t)n;
}

/* recv() on an empty buffer: EOF, a pending error, or EAGAIN (the engine decides). */
static ssize_t recv_empty(struct synack_stack *s, struct sn_tcb *tcb)
{
    uint8_t none;
    long n = sn_tcp_usr_recv(s, tcb, &none, 1, true);
    return n < 0 ? fail((int)-n) : (ssize_t)n;
}

static ssize_t sock_recv(struct synack_stack *s, int fd, void *buf, size_t len, int flags)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    if (flags & MSG_OOB)
        return fail(EINVAL); /* urgent data is delivered inline (RFC 6093) */
    bool peek = (flags & MSG_PEEK) != 0;
    if (flags & MSG_TRUNC) {
        /* Linux (tcp(7)): the bytes are discarded instead of copied (with
         * MSG_PEEK: only counted); buf is not used. */
        uint8_t sink[2048];
        size_t done = 0;
        if (peek) {
            uint32_t avail = tcb->rcv.len;
            if (avail == 0)
                return recv_empty(s, tcb);
            return (ssize_t)(len < avail ? len : avail);
        }
        while (done < len) {
            size_t k = len - done < sizeof(sink) ? len - done : sizeof(sink);
            long n = sn_tcp_usr_recv(s, tcb, sink, k, false);
            if (n <= 0) {
                if (done > 0)
                    break;
                return n < 0 ? fail((int)-n) : 0;
            }
            done += (size_t)n;
        }
        return (ssize_t)done;
    }
    if (!buf && len > 0)
        return fail(EFAULT);
    /* MSG_WAITALL and MSG_DONTWAIT: a call never waits, so, as on a
     * non-blocking Linux socket, it returns what is there (blocking.h waits). */
    long n = sn_tcp_usr_recv(s, tcb, buf, len, peek);
    return n < 0 ? fail((int)-n) : (ssize_t)n;
}

static int sock_shutdown(struct synack_stack *s, int fd, int how)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return fail(EINVAL);
    int rc = sn_tcp_usr_shutdown(s, tcb, how != SHUT_WR, how != SHUT_RD);
    return rc < 0 ? fail(-rc) : 0;
}

static int sock_close(struct synack_stack *s, int fd)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    s->fds[fd] = NULL;
    s->fd_user[fd] = NULL;
    if ((uint32_t)fd < s->fd_free)
        s->fd_free = (uint32_t)fd;
    if (tcb->fd == fd) {
        tcb->fd = -1;
        for (uint32_t i = FD_FIRST; i < s->nfds && tcb->refs > 1; i++) {
            if (s->fds[i] == tcb) {
                tcb->fd = (int)i;
                break;
            }
        }
        /* An event queued for this descriptor now goes to the next one. */
        if (s->ev_pending[fd])
            sn_stack_event(s, tcb->fd);
    }
    /* A FIN (or RST) goes out only when the last descriptor is closed. */
    if (--tcb->refs > 0)
        return 0;
    sn_tcp_usr_close(s, tcb);
    return 0;
}

int synack_dup(struct synack_stack *s, int fd)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    if (tcb->refs == UINT16_MAX)
        return fail(EMFILE);
    int nfd = fd_alloc(s, tcb);
    if (nfd < 0)
        return fail(-nfd);
    fd_attach(s, tcb, nfd);
    s->fd_user[nfd] = s->fd_user[fd];
    return nfd;
}

static int opt_int(const void *val, socklen_t len, int *out)
{
    if (!val || len < (socklen_t)sizeof(int))
        return -EINVAL;
    memcpy(out, val, sizeof(int));
    return 0;
}

/* A socket buffer size asked for, as kept: 1 KiB .. 64 MiB.  A buffer in
 * use only grows (sn_ring_resize). */
static uint32_t buf_size(int v)
{
    uint32_t cap = v < 1024 ? 1024u : (uint32_t)v;
    return cap > (64u << 20) ? 64u << 20 : cap;
}

/* SO_RCVLOWAT: poll() reports POLLIN from v bytes (v <= 0: 1, as Linux;
 * a full buffer is readable whatever the mark). */
static int set_rcvlowat(struct synack_stack *s, struct sn_tcb *tcb, int v)
{
    uint32_t lowat = v <= 1 ? 0 : (uint32_t)v;
    if (lowat == sn_x(tcb)->rcvlowat)
        return 0;
    struct sn_tcb_ext *x = sn_tcb_ext_get(s, tcb);
    if (!x)
        return fail(ENOMEM);
    x->rcvlowat = lowat;
    sn_tcb_ext_trim(s, tcb);
    sn_tcp_notify(s, tcb); /* readiness may have changed */
    return 0;
}

/* IPPROTO_IP options: IP_TOS (the ECN bits are TCP's: kept clear, as
 * Linux does for stream sockets) and IP_TTL (1..255, -1: the default). */
static int set_ip_opt(struct synack_stack *s, struct sn_tcb *tcb, int name, int v)
{
    uint8_t tos = sn_x(tcb)->tos, ttl = sn_x(tcb)->ttl;
    switch (name) {
    case IP_TOS:
        tos = (uint8_t)(v & 0xfc);
        break;
    case IP_TTL:
        if (v != -1 && (v < 1 || v > 255))
            return fail(EINVAL);
        ttl = v == -1 ? 0 : (uint8_t)v;
        break;
    default:
        return fail(ENOPROTOOPT);
    }
    if (tos == sn_x(tcb)->tos && ttl == sn_x(tcb)->ttl)
        return 0;
    struct sn_tcb_ext *x = sn_tcb_ext_get(s, tcb);
    if (!x)
        return fail(ENOMEM);
    x->tos = tos;
    x->ttl = ttl;
    sn_tcb_ext_trim(s, tcb);
    return 0;
}

static int sock_setsockopt(struct synack_stack *s, int fd, int level, int name, const void *val,
                      socklen_t len)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    int v = 0, rc = 0;
    if (level == SOL_SOCKET && name == SO_LINGER) {
        struct linger lg;
        if (!val || len < (socklen_t)sizeof(lg))
            return fail(EINVAL);
        memcpy(&lg, val, sizeof(lg));
        tcb->flags &= ~(SN_TF_LINGER | SN_TF_LINGER0);
        if (lg.l_onoff) {
            synack_time_t t = SYNACK_SEC(lg.l_linger < 0 ? 0 : lg.l_linger);
            struct sn_tcb_ext *x = t ? sn_tcb_ext_get(s, tcb) : tcb->x;
            if (t && !x)
                return fail(ENOMEM);
            tcb->flags |= SN_TF_LINGER | (lg.l_linger == 0 ? SN_TF_LINGER0 : 0);
            if (x)
                x->linger_time = t;
        }
        sn_tcb_ext_trim(s, tcb);
        return 0;
    }
    if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
        char cc[16];
        if (!val || len == 0)
            return fail(EINVAL);
        size_t n = (size_t)len < sizeof(cc) - 1 ? (size_t)len : sizeof(cc) - 1;
        memcpy(cc, val, n);
        cc[n] = 0;
        const struct sn_cc_algo *algo = sn_cc_find(cc);
        if (!algo)
            return fail(ENOENT); /* as Linux, for an unknown algorithm */
        tcb->cc = sn_cc_index(algo);
        if (sn_tcb_synchronized(tcb) && algo->init)
            algo->init(tcb, s->now);
        return 0;
    }
    if ((rc = opt_int(val, len, &v)) < 0)
        return fail(-rc);
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_KEEPALIVE:
            if (v && !(tcb->flags & SN_TF_KEEPALIVE) && sn_tcb_synchronized(tcb) &&
                tcb->state != SYNACK_TIME_WAIT) {
                /* The idle time counts from now, as Linux's tcp_set_keepalive(). */
                tcb->flags |= SN_TF_KEEPALIVE;
                if (!(tcb->flags & SN_TF_CLOSE_TIMER))
                    sn_tcp_timer_set(s, tcb, SN_TT_KEEPALIVE,
                                     s->now + SYNACK_SEC(sn_tcp_ka_idle(tcb)));
                return 0;
            }
            tcb->flags = v ? tcb->flags | SN_TF_KEEPALIVE : tcb->flags & ~SN_TF_KEEPALIVE;
            sn_tcp_arm_keepalive(s, tcb);
            return 0;
        case SO_REUSEADDR:
            tcb->flags = v ? tcb->flags | SN_TF_REUSEADDR : tcb->flags & ~SN_TF_REUSEADDR;
            return 0;
        case SO_OOBINLINE:
            /* Urgent data is always delivered inline (RFC 6093 advises it);
             * the option is accepted and reported as set. */
            tcb->flags = v ? tcb->flags | SN_TF_OOBINLINE : tcb->flags & ~SN_TF_OOBINLINE;
            return 0;
        case SO_SNDBUF:
            rc = sn_ring_resize(&tcb->snd, &s->mem, buf_size(v));
            return rc < 0 ? fail(-rc) : 0;
        case SO_RCVBUF:
            rc = sn_ring_resize(&tcb->rcv, &s->mem, buf_size(v));
            return rc < 0 ? fail(-rc) : 0;
        case SO_RCVLOWAT:
            return set_rcvlowat(s, tcb, v);
        default:
            /* SO_SNDLOWAT among them: Linux does not let it change. */
            return fail(ENOPROTOOPT);
        }
    }
    if (level == IPPROTO_IP)
        return set_ip_opt(s, tcb, name, v);
    if (level == IPPROTO_TCP) {
        switch (name) {
        case TCP_NODELAY:
            tcb->flags = v ? tcb->flags | SN_TF_NODELAY : tcb->flags & ~SN_TF_NODELAY;
            if (v)
                sn_tcp_output(s, tcb);
            return 0;
        case TCP_KEEPIDLE:
        case TCP_KEEPINTVL:
            if (v < 1 || v > 32767)
                return fail(EINVAL);
            if (!sn_tcb_ext_get(s, tcb))
                return fail(ENOMEM);
            if (name == TCP_KEEPIDLE)
                tcb->x->ka_idle = (uint16_t)v;
            else
                tcb->x->ka_intvl = (uint16_t)v;
            sn_tcp_arm_keepalive(s, tcb);
            return 0;
        case TCP_QUICKACK: {
            /* Linux: 1 enters quick-ACK mode and sends an ACK that is being
             * delayed now; 0 goes back to delayed ACKs.  Unlike Linux, where
             * the option is "not permanent", synack keeps the choice for the
             * connection (and its listener's children): quick ACKs at the
             * start and after each idle spell (tcp_input.c quick_ack()). */
            struct sn_tcb_ext *x = sn_tcb_ext_get(s, tcb);
            if (!x)
                return fail(ENOMEM);
            if (!v) {
                x->quickack &= (uint8_t)~SN_QA_ON;
                x->quickacks = 0;
                sn_tcb_ext_trim(s, tcb);
                return 0;
            }
            x->quickack |= SN_QA_ON;
            if (tcb->deadline[SN_TT_DELACK] != SYNACK_TIME_NEVER) {
                tcb->flags |= SN_TF_ACKNOW;
                sn_tcp_output(s, tcb);
            }
            return 0;
        }
        case TCP_CORK:
            if (v) {
                tcb->flags |= SN_TF_CORK;
            } else if (tcb->flags & SN_TF_CORK) {
                tcb->flags &= ~SN_TF_CORK;
                sn_tcp_output(s, tcb); /* the partial segment goes now */
            }
            return 0;
        case TCP_KEEPCNT:
            if (v < 1 || v > 127)
                return fail(EINVAL);
            if (!sn_tcb_ext_get(s, tcb))
                return fail(ENOMEM);
            tcb->x->ka_cnt = (uint8_t)v;
            return 0;
        case TCP_MAXSEG:
            /* Before connect() or listen(): the MSS offered in the SYN (and
             * the most sent) is at most v.  Afterwards it changes nothing. */
            if (v < 88 || v > 65495)
                return fail(EINVAL);
            if (tcb->state == SYNACK_CLOSED || tcb->state == SYNACK_LISTEN) {
                uint32_t link = (uint32_t)s->cfg.mtu - 40u;
                tcb->rcv_mss = (uint16_t)((uint32_t)v < link ? (uint32_t)v : link);
            }
            return 0;
        case TCP_USER_TIMEOUT:
            /* RFC 5482: how long (ms) sent data may stay unacknowledged, or
             * the window shut, before the connection is aborted; 0 = off. */
            if (v < 0)
                return fail(EINVAL);
            if (v == 0) {
                if (tcb->x) {
                    tcb->x->user_timeout = 0;
                    tcb->x->stall_ms = 0;
                    sn_tcb_ext_trim(s, tcb);
                }
                return 0;
            }
            if (!sn_tcb_ext_get(s, tcb))
                return fail(ENOMEM);
            tcb->x->user_timeout = (uint32_t)v;
            sn_tcp_stall_start(s, tcb); /* measured from now at the latest */
            return 0;
        default:
            return fail(ENOPROTOOPT);
        }
    }
    return fail(ENOPROTOOPT);
}

static int put_opt(void *val, socklen_t *len, const void *src, socklen_t n)
{
    if (!val || !len)
        return fail(EFAULT);
    if (*len < n)
        n = *len;
    memcpy(val, src, (size_t)n);
    *len = n;
    return 0;
}

int synack_getsockopt(struct synack_stack *s, int fd, int level, int name, void *val,
                      socklen_t *len)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    int v;
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_ERROR:
            v = tcb->so_error;
            tcb->so_error = 0;
            break;
        case SO_LINGER: {
            struct linger lg = {.l_onoff = (tcb->flags & SN_TF_LINGER) != 0,
                                .l_linger = (int)(sn_x(tcb)->linger_time / 1000000u)};
            return put_opt(val, len, &lg, sizeof(lg));
        }
        case SO_KEEPALIVE: v = (tcb->flags & SN_TF_KEEPALIVE) != 0; break;
        case SO_REUSEADDR: v = (tcb->flags & SN_TF_REUSEADDR) != 0; break;
        case SO_SNDBUF: v = (int)tcb->snd.cap; break;
        case SO_RCVBUF: v = (int)tcb->rcv.cap; break;
        case SO_TYPE: v = SOCK_STREAM; break;
        case SO_ACCEPTCONN: v = tcb->state == SYNACK_LISTEN; break;
        case SO_OOBINLINE: v = (tcb->flags & SN_TF_OOBINLINE) != 0; break;
        case SO_RCVLOWAT: v = sn_x(tcb)->rcvlowat ? (int)sn_x(tcb)->rcvlowat : 1; break;
        case SO_SNDLOWAT: v = 1; break;
        default: return fail(ENOPROTOOPT);
        }
        return put_opt(val, len, &v, sizeof(v));
    }
    if (level == IPPROTO_IP) {
        switch (name) {
        case IP_TOS: v = sn_x(tcb)->tos; break;
        case IP_TTL: v = sn_x(tcb)->ttl ? sn_x(tcb)->ttl : s->cfg.ttl; break;
        default: return fail(ENOPROTOOPT);
        }
        return put_opt(val, len, &v, sizeof(v));
    }
    if (level == IPPROTO_TCP) {
        switch (name) {
        case TCP_NODELAY: v = (tcb->flags & SN_TF_NODELAY) != 0; break;
        case TCP_CORK: v = (tcb->flags & SN_TF_CORK) != 0; break;
        case TCP_QUICKACK: v = (sn_x(tcb)->quickack & SN_QA_ON) != 0; break;
        case TCP_KEEPIDLE: v = sn_tcp_ka_idle(tcb); break;
        case TCP_KEEPINTVL: v = sn_tcp_ka_intvl(tcb); break;
        case TCP_KEEPCNT: v = sn_tcp_ka_cnt(tcb); break;
        case TCP_MAXSEG: v = sn_tcb_synchronized(tcb) ? tcb->mss : tcb->rcv_mss ? tcb->rcv_mss : 536; break;
        case TCP_USER_TIMEOUT: v = (int)sn_x(tcb)->user_timeout; break;
        case TCP_CONGESTION: {
            const char *algo = sn_tcb_cc(tcb)->name;
            char buf[16] = {0};
            strncpy(buf, algo, sizeof(buf) - 1);
            return put_opt(val, len, buf, sizeof(buf));
        }
        case TCP_INFO: {
            struct synack_tcp_info info;
            sn_tcp_usr_info(s, tcb, &info);
            return put_opt(val, len, &info, sizeof(info));
        }
        default: return fail(ENOPROTOOPT);
        }
        return put_opt(val, len, &v, sizeof(v));
    }
    return fail(ENOPROTOOPT);
}

int synack_getsockname(struct synack_stack *s, int fd, struct sockaddr *addr, socklen_t *len)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    if (!addr || !len)
        return fail(EFAULT);
    sockaddr_in_put(addr, len, tcb->te.tuple.laddr, tcb->te.tuple.lport);
    return 0;
}

int synack_getpeername(struct synack_stack *s, int fd, struct sockaddr *addr, socklen_t *len)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    if (!addr || !len)
        return fail(EFAULT);
    if (!sn_tcb_synchronized(tcb) && tcb->state != SYNACK_SYN_RECEIVED)
        return fail(ENOTCONN);
    sockaddr_in_put(addr, len, tcb->te.tuple.raddr, tcb->te.tuple.rport);
    return 0;
}

int synack_fcntl(struct synack_stack *s, int fd, int cmd, int arg)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    switch (cmd) {
    case F_GETFL:
        return O_RDWR | ((tcb->flags & SN_TF_NONBLOCK) ? O_NONBLOCK : 0);
    case F_SETFL:
        tcb->flags = (arg & O_NONBLOCK) ? tcb->flags | SN_TF_NONBLOCK
                                        : tcb->flags & ~SN_TF_NONBLOCK;
        return 0;
    default:
        return fail(EINVAL);
    }
}

int synack_poll(struct synack_stack *s, struct pollfd *fds, nfds_t nfds)
{
    int ready = 0;
    for (nfds_t i = 0; i < nfds; i++) {
        struct sn_tcb *tcb = fd_get(s, fds[i].fd);
        if (fds[i].fd < 0) {
            fds[i].revents = 0;
            continue;
        }
        if (!tcb) {
            fds[i].revents = POLLNVAL;
        } else {
            short ev = sn_tcp_poll_events(tcb);
            fds[i].revents = (short)(ev & (fds[i].events | POLLERR | POLLHUP));
        }
        if (fds[i].revents)
            ready++;
    }
    return ready;
}

void synack_set_event_cb(struct synack_stack *s, synack_event_fn fn, void *user)
{
    s->on_event = fn;
    s->event_user = user;
}

int synack_set_user(struct synack_stack *s, int fd, void *user)
{
    if (!fd_get(s, fd))
        return fail(EBADF);
    s->fd_user[fd] = user;
    return 0;
}

void *synack_get_user(struct synack_stack *s, int fd)
{
    return fd_get(s, fd) ? s->fd_user[fd] : NULL;
}

int synack_sockatmark(struct synack_stack *s, int fd)
{
    struct sn_tcb *tcb = fd_get(s, fd);
    if (!tcb)
        return fail(EBADF);
    /* RFC 6093: the urgent pointer points past the last urgent byte; the
     * mark is that byte, reached when everything before it has been read. */
    uint32_t read_seq = tcb->rcv_nxt - tcb->rcv.len;
    return sn_tcp_urgent_pending(tcb) && read_seq == sn_x(tcb)->rcv_up - 1;
}

/* ---- the public calls that act on connections ----
 * Each runs inside sn_stack_enter/sn_stack_leave: events are delivered to
 * the callback when the call's work is done, so that the callback may call
 * any of these (see socket.h). */

int synack_socket(struct synack_stack *s, int domain, int type, int protocol)
{
    sn_stack_enter(s);
    int rc = sock_socket(s, domain, type, protocol);
    return leave(s, "synack_socket", rc);
}

int synack_listen(struct synack_stack *s, int fd, int backlog)
{
    sn_stack_enter(s);
    int rc = sock_listen(s, fd, backlog);
    return leave(s, "synack_listen", rc);
}

int synack_accept(struct synack_stack *s, int fd, struct sockaddr *addr, socklen_t *len)
{
    sn_stack_enter(s);
    int rc = sock_accept(s, fd, addr, len);
    return leave(s, "synack_accept", rc);
}

int synack_connect(struct synack_stack *s, int fd, const struct sockaddr *addr, socklen_t len)
{
    sn_stack_enter(s);
    int rc = sock_connect(s, fd, addr, len);
    return leave(s, "synack_connect", rc);
}

ssize_t synack_send(struct synack_stack *s, int fd, const void *buf, size_t len, int flags)
{
    sn_stack_enter(s);
    ssize_t rc = sock_send(s, fd, buf, len, flags);
    return leave(s, "synack_send", rc);
}

ssize_t synack_recv(struct synack_stack *s, int fd, void *buf, size_t len, int flags)
{
    sn_stack_enter(s);
    ssize_t rc = sock_recv(s, fd, buf, len, flags);
    return leave(s, "synack_recv", rc);
}

int synack_shutdown(struct synack_stack *s, int fd, int how)
{
    sn_stack_enter(s);
    int rc = sock_shutdown(s, fd, how);
    return leave(s, "synack_shutdown", rc);
}

int synack_close(struct synack_stack *s, int fd)
{
    sn_stack_enter(s);
    int rc = sock_close(s, fd);
    return leave(s, "synack_close", rc);
}

int synack_setsockopt(struct synack_stack *s, int fd, int level, int name, const void *val, socklen_t len)
{
    sn_stack_enter(s);
    int rc = sock_setsockopt(s, fd, level, name, val, len);
    return leave(s, "synack_setsockopt", rc);
}
