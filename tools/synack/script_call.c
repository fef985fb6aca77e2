/* synack script: system calls, run on synack's socket API.
 *
 * Descriptors are used as written: synack hands out the lowest free one from
 * 3, like a fresh process.  `...` arguments are filled as packetdrill fills
 * them (the local address and --bind_port for bind, the remote address and
 * --connect_port for connect, zeros for written data).  synack never blocks,
 * so a call on a blocking descriptor that would block is kept pending and
 * retried as virtual time moves, and must return when the script says
 * (`start...end`, or at its start time when no end is given).
 */
#define _DEFAULT_SOURCE   /* SOL_TCP, SO_REUSEPORT, TCP_ESTABLISHED...: system names scripts use */
#include "errname.h"
#include "script_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "synack/socket.h"

#define POLL_MAX 16

/* ---- symbols ------------------------------------------------------------------ */

struct sym {
    const char *name;
    int64_t val;
};

#define SYM(x) {#x, (int64_t)(x)}

static const struct sym symbols[] = {
    SYM(AF_INET),          SYM(AF_INET6),        SYM(AF_UNSPEC),
    SYM(PF_INET),          SYM(SOCK_STREAM),     SYM(SOCK_DGRAM),
    SYM(SOCK_NONBLOCK),    SYM(SOCK_CLOEXEC),    SYM(IPPROTO_IP),
    SYM(IPPROTO_TCP),      SYM(IPPROTO_UDP),     SYM(SOL_SOCKET),
    SYM(SOL_TCP),          SYM(SOL_IP),          SYM(INADDR_ANY),
    SYM(SO_ERROR),         SYM(SO_LINGER),       SYM(SO_REUSEADDR),
    SYM(SO_REUSEPORT),     SYM(SO_KEEPALIVE),    SYM(SO_RCVBUF),
    SYM(SO_SNDBUF),        SYM(SO_RCVLOWAT),     SYM(SO_SNDLOWAT),
    SYM(SO_TYPE),          SYM(SO_DEBUG),        SYM(SO_OOBINLINE),
    SYM(SO_ACCEPTCONN),    SYM(SO_BROADCAST),    SYM(SO_DONTROUTE),
    SYM(TCP_NODELAY),      SYM(TCP_MAXSEG),      SYM(TCP_INFO),
    SYM(TCP_KEEPIDLE),     SYM(TCP_KEEPINTVL),   SYM(TCP_KEEPCNT),
    SYM(TCP_CORK),         SYM(TCP_QUICKACK),    SYM(TCP_USER_TIMEOUT),
    SYM(TCP_DEFER_ACCEPT), SYM(TCP_CONGESTION),  SYM(TCP_NOTSENT_LOWAT),
    SYM(TCP_SYNCNT),       SYM(TCP_LINGER2),     SYM(TCP_WINDOW_CLAMP),
    SYM(TCP_FASTOPEN),     SYM(TCP_ESTABLISHED), SYM(TCP_SYN_SENT),
    SYM(TCP_SYN_RECV),     SYM(TCP_FIN_WAIT1),   SYM(TCP_FIN_WAIT2),
    SYM(TCP_TIME_WAIT),    SYM(TCP_CLOSE),       SYM(TCP_CLOSE_WAIT),
    SYM(TCP_LAST_ACK),     SYM(TCP_LISTEN),      SYM(TCP_CLOSING),
    SYM(O_RDONLY),         SYM(O_WRONLY),        SYM(O_RDWR),
    SYM(O_NONBLOCK),       SYM(F_GETFL),         SYM(F_SETFL),
    SYM(F_GETFD),          SYM(F_SETFD),         SYM(SHUT_RD),
    SYM(SHUT_WR),          SYM(SHUT_RDWR),       SYM(MSG_PEEK),
    SYM(MSG_DONTWAIT),     SYM(MSG_WAITALL),     SYM(MSG_OOB),
    SYM(MSG_NOSIGNAL),     SYM(MSG_MORE),        SYM(MSG_TRUNC),
    SYM(MSG_EOR),
};

/* poll bits, in the order they are rendered */
static const struct sym poll_bits[] = {
    SYM(POLLIN),
    SYM(POLLPRI),
    SYM(POLLOUT),
    SYM(POLLERR),
    SYM(POLLHUP),
    SYM(POLLNVAL),
    SYM(POLLRDNORM),
    SYM(POLLRDBAND),
    SYM(POLLWRNORM),
    SYM(POLLWRBAND),
    {"POLLRDHUP", SYNACK_POLLRDHUP},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static bool find_sym(const struct sym *t, size_t n, const char *name, int64_t *v)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].name, name) == 0) {
            *v = t[i].val;
            return true;
        }
    }
    return false;
}

static const char *errno_name(int err, char buf[24])
{
    const char *name = synack_errname(err);
    if (name != NULL)
        return name;
    snprintf(buf, 24, "errno %d", err);
    return buf;
}

static void poll_str(int64_t bits, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < NELEM(poll_bits) && n + 1 < cap; i++) {
        if (bits & poll_bits[i].val) {
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "|" : "", poll_bits[i].name);
            bits &= ~poll_bits[i].val;
        }
    }
    if (n + 1 < cap && (bits || n == 0))
        snprintf(buf + n, cap - n, "%s%#llx", n ? "|" : "", (unsigned long long)bits);
}

/* ---- arguments -------------------------------------------------------------- */

enum { ATT_FAIL = -1, ATT_DONE = 0, ATT_BLOCK = 1 };

/* One attempt at a call. */
struct att {
    struct sn_runner *r;
    const struct sn_event *ev;
    const struct sn_call *c;
    bool first;        /* issued now (else retried while pending) */
    int64_t ret;
    int err;
};

static int unsupported(struct att *a, const char *what, const struct sn_expr *e)
{
    char b[200] = "";
    if (e)
        sn_expr_render(e, b, sizeof(b));
    sn_fail(a->r, a->ev->line, "unsupported: %s()%s %s%s%s", a->c->name, e ? ":" : "", what,
            e ? " " : "", b);
    return ATT_FAIL;
}

static int eval(struct att *a, const struct sn_expr *e, int64_t *v)
{
    int64_t x, y;
    switch (e->kind) {
    case SN_X_INT:
        *v = e->num;
        return 0;
    case SN_X_WORD:
        if (find_sym(symbols, NELEM(symbols), e->str, v) ||
            find_sym(poll_bits, NELEM(poll_bits), e->str, v))
            return 0;
        if ((*v = synack_errnum(e->str)) != 0)
            return 0;
        return unsupported(a, "unknown symbol", e);
    case SN_X_OR:
        if (eval(a, e->lhs, &x) < 0 || eval(a, e->rhs, &y) < 0)
            return -1;
        *v = x | y;
        return 0;
    case SN_X_CALL:   /* sockaddr fields keep ports in host order */
        if (strcmp(e->str, "htons") == 0 && e->nitems == 1)
            return eval(a, e->items[0], v);
        break;
    default:
        break;
    }
    return unsupported(a, "expected a number, got", e);
}

static const struct sn_expr *arg(const struct att *a, size_t i)
{
    return a->c->args[i];
}

static int arg_int(struct att *a, size_t i, int lo, int hi, int *v)
{
    int64_t x;
    if (eval(a, arg(a, i), &x) < 0)
        return -1;
    if (x < lo || x > hi)
        return unsupported(a, "value out of range", arg(a, i));
    *v = (int)x;
    return 0;
}

static int arg_any_int(struct att *a, size_t i, int *v)
{
    return arg_int(a, i, INT_MIN, INT_MAX, v);
}

static bool is_ellipsis(const struct sn_expr *e)
{
    return e->kind == SN_X_ELLIPSIS;
}

/* An address argument: `...` (the default) or
 * {sa_family=AF_INET, sin_port=htons(P), sin_addr=inet_addr("A")}. */
static int arg_sockaddr(struct att *a, size_t i, uint32_t ip, uint16_t port,
                        struct sockaddr_in *sin)
{
    const struct sn_expr *e = arg(a, i);
    if (!is_ellipsis(e) && e->kind != SN_X_BRACE)
        return unsupported(a, "address", e);
    for (size_t k = 0; e->kind == SN_X_BRACE && k < e->nitems; k++) {
        const struct sn_expr *f = e->items[k];
        int64_t v;
        if (f->kind != SN_X_ASSIGN)
            return unsupported(a, "address field", f);
        if (strcmp(f->str, "sin_addr") == 0 && f->rhs->kind == SN_X_CALL &&
            strcmp(f->rhs->str, "inet_addr") == 0 && f->rhs->nitems == 1 &&
            f->rhs->items[0]->kind == SN_X_STRING) {
            struct in_addr in;
            if (inet_pton(AF_INET, f->rhs->items[0]->str, &in) != 1)
                return unsupported(a, "address", f);
            ip = ntohl(in.s_addr);
            continue;
        }
        if (eval(a, f->rhs, &v) < 0)
            return -1;
        if ((strcmp(f->str, "sa_family") == 0 || strcmp(f->str, "sin_family") == 0) && v == AF_INET)
            continue;
        if (strcmp(f->str, "sin_port") == 0 && v >= 0 && v <= 65535)
            port = (uint16_t)v;
        else if (strcmp(f->str, "sin_addr") == 0 && v >= 0 && v <= UINT32_MAX)
            ip = (uint32_t)v;
        else
            return unsupported(a, "address field", f);
    }
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(ip);
    return 0;
}

/* A byte count, and the runner's buffer grown to hold it. */
static int arg_count(struct att *a, size_t i, size_t *n)
{
    int64_t v;
    if (eval(a, arg(a, i), &v) < 0)
        return -1;
    if (v < 0 || v > SN_IO_MAX)
        return unsupported(a, "byte count out of range 0..16777216", arg(a, i));
    struct sn_runner *r = a->r;
    if ((size_t)v > r->io_cap || r->io == NULL) {
        size_t cap = (size_t)v < 65536 ? 65536 : (size_t)v;
        uint8_t *io = realloc(r->io, cap);
        if (io == NULL) {
            sn_fail(r, a->ev->line, "out of memory for a %lld-byte buffer", (long long)v);
            return -1;
        }
        r->io = io;
        r->io_cap = cap;
    }
    *n = (size_t)v;
    return 0;
}

static bool fd_blocking(struct sn_runner *r, int fd)
{
    int fl = synack_fcntl(r->stack, fd, F_GETFL, 0);
    return fl < 0 || !(fl & O_NONBLOCK);
}

static int done(struct att *a, int64_t ret, int err)
{
    a->ret = ret;
    a->err = ret < 0 ? err : 0;
    return ATT_DONE;
}

/* Compares an output argument ([x], x or ...) with what the call returned. */
static int check_out(struct att *a, const struct sn_expr *e, int64_t actual, const char *what,
                     bool as_errno)
{
    if (is_ellipsis(e))
        return 0;
    const struct sn_expr *x = e;
    if (e->kind == SN_X_LIST) {
        if (e->nitems != 1)
            return unsupported(a, "expected [value], got", e);
        x = e->items[0];
    }
    int64_t want;
    if (eval(a, x, &want) < 0)
        return -1;
    if (want == actual)
        return 0;
    char exp[200], act[32];
    sn_expr_render(x, exp, sizeof(exp));
    if (as_errno)
        errno_name((int)actual, act);
    else
        snprintf(act, sizeof(act), "%lld", (long long)actual);
    sn_fail(a->r, a->ev->line, "%s() %s differs: expected %s, actual %s", a->c->name, what, exp,
            as_errno && actual == 0 ? "0" : act);
    return -1;
}

/* ---- the calls ---------------------------------------------------------------- */

static int c_socket(struct att *a)
{
    int dom = AF_INET, type, proto;
    if ((!is_ellipsis(arg(a, 0)) && arg_any_int(a, 0, &dom) < 0) || arg_any_int(a, 1, &type) < 0 ||
        arg_any_int(a, 2, &proto) < 0)
        return ATT_FAIL;
    int rc = synack_socket(a->r->stack, dom, type, proto);
    int err = errno;
    if (rc >= 0 && a->r->quickack) {
        /* --quickack: every socket in Linux's quick-ACK mode, as scripts
         * written for Linux expect (TCP_QUICKACK, sockopt.h). */
        int one = 1;
        if (synack_setsockopt(a->r->stack, rc, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one)) < 0) {
            sn_fail(a->r, a->ev->line, "--quickack: setsockopt(TCP_QUICKACK) failed: %s",
                    strerror(errno));
            return ATT_FAIL;
        }
    }
    return done(a, rc, err);
}

static int c_bind(struct att *a)
{
    struct sn_runner *r = a->r;
    struct sockaddr_in sin;
    int fd;
    if (arg_any_int(a, 0, &fd) < 0 ||
        arg_sockaddr(a, 1, r->sc->local_ip, r->sc->bind_port, &sin) < 0)
        return ATT_FAIL;
    int rc = synack_bind(r->stack, fd, (const struct sockaddr *)&sin, sizeof(sin));
    int err = errno;
    if (rc == 0)
        r->lport = ntohs(sin.sin_port);
    return done(a, rc, err);
}

static int c_listen(struct att *a)
{
    int fd, backlog;
    if (arg_any_int(a, 0, &fd) < 0 || arg_any_int(a, 1, &backlog) < 0)
        return ATT_FAIL;
    int rc = synack_listen(a->r->stack, fd, backlog);
    return done(a, rc, errno);
}

static int c_accept(struct att *a)
{
    int fd;
    if (arg_any_int(a, 0, &fd) < 0)
        return ATT_FAIL;
    if (!is_ellipsis(arg(a, 1)) || !is_ellipsis(arg(a, 2)))
        return unsupported(a, "address arguments other than ...", NULL);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    bool blocking = fd_blocking(a->r, fd);
    int rc = synack_accept(a->r->stack, fd, (struct sockaddr *)&sin, &len);
    int err = errno;
    if (rc < 0 && err == EAGAIN && blocking)
        return ATT_BLOCK;
    return done(a, rc, err);
}

static int c_connect(struct att *a)
{
    struct sn_runner *r = a->r;
    int fd;
    if (arg_any_int(a, 0, &fd) < 0)
        return ATT_FAIL;
    if (!a->first) {
        /* a blocking connect returns when the handshake ends, either way */
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (synack_poll(r->stack, &pfd, 1) <= 0 || !(pfd.revents & (POLLOUT | POLLERR | POLLHUP)))
            return ATT_BLOCK;
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (synack_getsockopt(r->stack, fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        return soerr ? done(a, -1, soerr) : done(a, 0, 0);
    }
    struct sockaddr_in sin;
    if (arg_sockaddr(a, 1, r->sc->remote_ip, r->sc->connect_port, &sin) < 0)
        return ATT_FAIL;
    bool blocking = fd_blocking(r, fd);
    int rc = synack_connect(r->stack, fd, (const struct sockaddr *)&sin, sizeof(sin));
    int err = errno;
    if (rc == 0 || err == EINPROGRESS) {
        r->rport = ntohs(sin.sin_port);
        r->lport = 0;   /* learned from the SYN */
    }
    if (rc < 0 && err == EINPROGRESS && blocking)
        return ATT_BLOCK;
    return done(a, rc, err);
}

/* read(fd, ..., n), recv(fd, ..., n, flags), recvfrom(fd, ..., n, flags, ..., ...) */
static int c_recv(struct att *a)
{
    int fd, flags = 0;
    size_t n;
    if (arg_any_int(a, 0, &fd) < 0 || arg_count(a, 2, &n) < 0 ||
        (a->c->nargs > 3 && arg_any_int(a, 3, &flags) < 0))
        return ATT_FAIL;
    if (a->c->nargs == 6 && (!is_ellipsis(arg(a, 4)) || !is_ellipsis(arg(a, 5))))
        return unsupported(a, "address arguments other than ...", NULL);
    bool blocking = !(flags & MSG_DONTWAIT) && fd_blocking(a->r, fd);
    ssize_t rc = synack_recv(a->r->stack, fd, a->r->io, n, flags);
    int err = errno;
    if (rc < 0 && err == EAGAIN && blocking)
        return ATT_BLOCK;
    return done(a, rc, err);
}

/* write(fd, ..., n), send(fd, ..., n, flags), sendto(fd, ..., n, flags, ..., ...);
 * the data is zeros, or the bytes of a string argument.  A blocking send
 * returns when all n bytes are taken. */
static int c_send(struct att *a)
{
    struct sn_runner *r = a->r;
    struct sn_pending *pd = &r->pend;
    int fd, flags = 0;
    size_t n;
    const struct sn_expr *data = arg(a, 1);
    if (arg_any_int(a, 0, &fd) < 0 || arg_count(a, 2, &n) < 0 ||
        (a->c->nargs > 3 && arg_any_int(a, 3, &flags) < 0))
        return ATT_FAIL;
    if (a->c->nargs == 6 && (!is_ellipsis(arg(a, 4)) || !is_ellipsis(arg(a, 5))))
        return unsupported(a, "address arguments other than ...", NULL);
    if (!is_ellipsis(data) && data->kind != SN_X_STRING)
        return unsupported(a, "data", data);
    if (a->first) {
        memset(r->io, 0, n);
        if (data->kind == SN_X_STRING) {
            size_t sl = strlen(data->str);
            memcpy(r->io, data->str, sl < n ? sl : n);
        }
    }
    bool blocking = !(flags & MSG_DONTWAIT) && fd_blocking(r, fd);
    ssize_t rc = synack_send(r->stack, fd, r->io + pd->sent, n - pd->sent, flags);
    int err = errno;
    if (rc >= 0) {
        pd->sent += (size_t)rc;
        return (!blocking || pd->sent == n) ? done(a, (int64_t)pd->sent, 0) : ATT_BLOCK;
    }
    if (err == EAGAIN && blocking)
        return ATT_BLOCK;
    return pd->sent ? done(a, (int64_t)pd->sent, 0) : done(a, rc, err);
}

static int c_shutdown(struct att *a)
{
    int fd, how;
    if (arg_any_int(a, 0, &fd) < 0 || arg_any_int(a, 1, &how) < 0)
        return ATT_FAIL;
    int rc = synack_shutdown(a->r->stack, fd, how);
    return done(a, rc, errno);
}

static int c_close(struct att *a)
{
    int fd;
    if (arg_any_int(a, 0, &fd) < 0)
        return ATT_FAIL;
    int rc = synack_close(a->r->stack, fd);
    return done(a, rc, errno);
}

static int c_fcntl(struct att *a)
{
    int fd, cmd, v = 0;
    if (arg_any_int(a, 0, &fd) < 0 || arg_any_int(a, 1, &cmd) < 0 ||
        (a->c->nargs == 3 && arg_any_int(a, 2, &v) < 0))
        return ATT_FAIL;
    int rc = synack_fcntl(a->r->stack, fd, cmd, v);
    return done(a, rc, errno);
}

/* {onoff=N, linger=N} (or l_onoff, l_linger) */
static int linger_expr(struct att *a, const struct sn_expr *e, struct linger *lg)
{
    memset(lg, 0, sizeof(*lg));
    for (size_t i = 0; i < e->nitems; i++) {
        const struct sn_expr *f = e->items[i];
        int64_t v;
        if (f->kind != SN_X_ASSIGN || eval(a, f->rhs, &v) < 0)
            return f->kind != SN_X_ASSIGN ? unsupported(a, "linger field", f) : -1;
        if (strcmp(f->str, "onoff") == 0 || strcmp(f->str, "l_onoff") == 0)
            lg->l_onoff = (int)v;
        else if (strcmp(f->str, "linger") == 0 || strcmp(f->str, "l_linger") == 0)
            lg->l_linger = (int)v;
        else
            return unsupported(a, "linger field", f);
    }
    return 0;
}

/* Linux's tcpi_state numbers (<netinet/tcp.h>) for synack's states. */
static const int linux_state[SYNACK_TCP_NSTATES] = {
    [SYNACK_CLOSED] = TCP_CLOSE,
    [SYNACK_LISTEN] = TCP_LISTEN,
    [SYNACK_SYN_SENT] = TCP_SYN_SENT,
    [SYNACK_SYN_RECEIVED] = TCP_SYN_RECV,
    [SYNACK_ESTABLISHED] = TCP_ESTABLISHED,
    [SYNACK_FIN_WAIT_1] = TCP_FIN_WAIT1,
    [SYNACK_FIN_WAIT_2] = TCP_FIN_WAIT2,
    [SYNACK_CLOSE_WAIT] = TCP_CLOSE_WAIT,
    [SYNACK_CLOSING] = TCP_CLOSING,
    [SYNACK_LAST_ACK] = TCP_LAST_ACK,
    [SYNACK_TIME_WAIT] = TCP_TIME_WAIT,
};

/* The tcp_info fields that synack's struct carries, in Linux's units. */
static bool tcpi_field(const struct synack_tcp_info *ti, const char *name, int64_t *v)
{
    const struct { const char *name; int64_t val; } f[] = {
        {"tcpi_state", ti->state < SYNACK_TCP_NSTATES ? linux_state[ti->state] : -1},
        {"tcpi_options", ti->options},
        {"tcpi_snd_wscale", ti->snd_wscale},
        {"tcpi_rcv_wscale", ti->rcv_wscale},
        {"tcpi_rto", ti->rto},
        {"tcpi_snd_mss", ti->snd_mss},
        {"tcpi_rcv_mss", ti->rcv_mss},
        {"tcpi_rtt", ti->srtt},
        {"tcpi_rttvar", ti->rttvar},
        {"tcpi_snd_cwnd", ti->snd_mss ? ti->snd_cwnd / ti->snd_mss : 0},   /* segments */
        {"tcpi_retransmits", ti->retransmits},
        {"tcpi_total_retrans", (int64_t)ti->total_retrans},
        {"tcpi_bytes_acked", (int64_t)ti->bytes_acked},
        {"tcpi_bytes_received", (int64_t)ti->bytes_received},
        {"tcpi_segs_out", (int64_t)ti->segs_out},
        {"tcpi_segs_in", (int64_t)ti->segs_in},
    };
    for (size_t i = 0; i < NELEM(f); i++) {
        if (strcmp(f[i].name, name) == 0) {
            *v = f[i].val;
            return true;
        }
    }
    return false;
}

static int tcp_info(struct att *a, int fd, const struct sn_expr *val)
{
    if (!is_ellipsis(val) && val->kind != SN_X_BRACE)
        return unsupported(a, "TCP_INFO value", val);
    struct synack_tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    int rc = synack_getsockopt(a->r->stack, fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
    int err = errno;
    for (size_t i = 0; rc == 0 && val->kind == SN_X_BRACE && i < val->nitems; i++) {
        const struct sn_expr *f = val->items[i];
        int64_t actual;
        if (f->kind != SN_X_ASSIGN || !tcpi_field(&ti, f->str, &actual))
            return unsupported(a, "TCP_INFO field", f);
        char what[64];
        snprintf(what, sizeof(what), "TCP_INFO %s", f->str);
        if (check_out(a, f->rhs, actual, what, false) < 0)
            return ATT_FAIL;
    }
    return done(a, rc, err);
}

static int c_getsockopt(struct att *a)
{
    struct sn_runner *r = a->r;
    int fd, level, name;
    if (arg_any_int(a, 0, &fd) < 0 || arg_any_int(a, 1, &level) < 0 || arg_any_int(a, 2, &name) < 0)
        return ATT_FAIL;
    const struct sn_expr *val = arg(a, 3), *lenx = arg(a, 4);
    if (level == IPPROTO_TCP && name == TCP_INFO)
        return tcp_info(a, fd, val);
    int rc, err;
    socklen_t len;
    if (level == SOL_SOCKET && name == SO_LINGER) {
        struct linger lg, want;
        len = sizeof(lg);
        if (!is_ellipsis(val) && (val->kind != SN_X_BRACE || linger_expr(a, val, &want) < 0))
            return val->kind != SN_X_BRACE ? unsupported(a, "SO_LINGER value", val) : ATT_FAIL;
        rc = synack_getsockopt(r->stack, fd, level, name, &lg, &len);
        err = errno;
        if (rc == 0 && !is_ellipsis(val) &&
            (lg.l_onoff != want.l_onoff || lg.l_linger != want.l_linger)) {
            sn_fail(r, a->ev->line,
                    "getsockopt() SO_LINGER differs: expected {onoff=%d, linger=%d}, actual "
                    "{onoff=%d, linger=%d}",
                    want.l_onoff, want.l_linger, lg.l_onoff, lg.l_linger);
            return ATT_FAIL;
        }
    } else {
        int v = 0;
        len = sizeof(v);
        rc = synack_getsockopt(r->stack, fd, level, name, &v, &len);
        err = errno;
        if (rc == 0 && check_out(a, val, v, "value", level == SOL_SOCKET && name == SO_ERROR) < 0)
            return ATT_FAIL;
    }
    if (rc == 0 && check_out(a, lenx, len, "length", false) < 0)
        return ATT_FAIL;
    return done(a, rc, err);
}

static int c_setsockopt(struct att *a)
{
    int fd, level, name;
    if (arg_any_int(a, 0, &fd) < 0 || arg_any_int(a, 1, &level) < 0 || arg_any_int(a, 2, &name) < 0)
        return ATT_FAIL;
    const struct sn_expr *val = arg(a, 3), *lenx = arg(a, 4);
    union {
        int i;
        struct linger lg;
        char s[256];
    } u;
    socklen_t len;
    memset(&u, 0, sizeof(u));
    if (val->kind == SN_X_BRACE) {
        if (linger_expr(a, val, &u.lg) < 0)
            return ATT_FAIL;
        len = sizeof(u.lg);
    } else if (val->kind == SN_X_STRING) {
        size_t sl = strlen(val->str);
        if (sl >= sizeof(u.s))
            return unsupported(a, "value", val);
        memcpy(u.s, val->str, sl);
        len = (socklen_t)sl;
    } else {
        int64_t v;
        const struct sn_expr *x = val->kind == SN_X_LIST && val->nitems == 1 ? val->items[0] : val;
        if (eval(a, x, &v) < 0)
            return ATT_FAIL;
        u.i = (int)v;
        len = sizeof(u.i);
    }
    if (!is_ellipsis(lenx)) {
        int given;
        if (arg_int(a, 4, 0, (int)sizeof(u), &given) < 0)
            return ATT_FAIL;
        len = (socklen_t)given;
    }
    int rc = synack_setsockopt(a->r->stack, fd, level, name, &u, len);
    return done(a, rc, errno);
}

/* poll([{fd=F, events=E, revents=R}, ...], nfds, timeout_ms); an absent
 * revents means 0.  A poll with a timeout that finds nothing waits. */
static int c_poll(struct att *a)
{
    struct sn_runner *r = a->r;
    const struct sn_expr *list = arg(a, 0);
    struct pollfd fds[POLL_MAX];
    int64_t want[POLL_MAX];
    int nfds, timeout;
    if (list->kind != SN_X_LIST || list->nitems > POLL_MAX)
        return unsupported(a, "expected a list of at most 16 pollfd, got", list);
    for (size_t i = 0; i < list->nitems; i++) {
        const struct sn_expr *e = list->items[i];
        int64_t v[3] = {-1, 0, 0};
        static const char *const names[3] = {"fd", "events", "revents"};
        if (e->kind != SN_X_BRACE)
            return unsupported(a, "pollfd", e);
        for (size_t k = 0; k < e->nitems; k++) {
            const struct sn_expr *f = e->items[k];
            size_t j = 0;
            while (j < 3 && (f->kind != SN_X_ASSIGN || strcmp(f->str, names[j]) != 0))
                j++;
            if (j == 3)
                return unsupported(a, "pollfd field", f);
            if (eval(a, f->rhs, &v[j]) < 0)
                return ATT_FAIL;
        }
        fds[i] = (struct pollfd){.fd = (int)v[0], .events = (short)v[1]};
        want[i] = v[2];
    }
    if (arg_int(a, 1, 0, (int)list->nitems, &nfds) < 0 || arg_any_int(a, 2, &timeout) < 0)
        return ATT_FAIL;
    if (a->first)
        r->pend.poll_end =
            timeout < 0 ? SYNACK_TIME_NEVER : r->pend.start + SYNACK_MSEC((synack_time_t)timeout);
    int rc = synack_poll(r->stack, fds, (nfds_t)nfds);
    int err = errno;
    if (rc == 0 && timeout != 0 && r->now < r->pend.poll_end)
        return ATT_BLOCK;
    for (int i = 0; rc >= 0 && i < nfds; i++) {
        if (fds[i].revents != want[i]) {
            char exp[96], act[96];
            poll_str(want[i], exp, sizeof(exp));
            poll_str(fds[i].revents, act, sizeof(act));
            sn_fail(r, a->ev->line, "poll() revents of fd %d differ: expected %s, actual %s",
                    fds[i].fd, exp, act);
            return ATT_FAIL;
        }
    }
    return done(a, rc, err);
}

static const struct call_def {
    const char *name;
    int (*fn)(struct att *a);
    unsigned nargs_min, nargs_max;
} calls[] = {
    {"socket", c_socket, 3, 3},         {"bind", c_bind, 3, 3},
    {"listen", c_listen, 2, 2},         {"accept", c_accept, 3, 3},
    {"connect", c_connect, 3, 3},       {"read", c_recv, 3, 3},
    {"recv", c_recv, 4, 4},             {"recvfrom", c_recv, 6, 6},
    {"write", c_send, 3, 3},            {"send", c_send, 4, 4},
    {"sendto", c_send, 6, 6},           {"shutdown", c_shutdown, 2, 2},
    {"close", c_close, 1, 1},           {"getsockopt", c_getsockopt, 5, 5},
    {"setsockopt", c_setsockopt, 5, 5}, {"fcntl", c_fcntl, 2, 3},
    {"poll", c_poll, 3, 3},
};

static int attempt(struct sn_runner *r, const struct sn_event *ev, bool first, struct att *a)
{
    *a = (struct att){.r = r, .ev = ev, .c = &ev->u.call, .first = first};
    for (size_t i = 0; i < NELEM(calls); i++) {
        if (strcmp(calls[i].name, a->c->name) != 0)
            continue;
        if (a->c->nargs < calls[i].nargs_min || a->c->nargs > calls[i].nargs_max) {
            sn_fail(r, ev->line, "%s() takes %u arguments, the script gives %zu", a->c->name,
                    calls[i].nargs_max, a->c->nargs);
            return ATT_FAIL;
        }
        return calls[i].fn(a);
    }
    sn_fail(r, ev->line, "unsupported: system call %s()", a->c->name);
    return ATT_FAIL;
}

/* ---- results and timing ---------------------------------------------------------- */

static void call_text(const struct sn_call *c, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%s(", c->name);
    for (size_t i = 0; i < c->nargs && n + 1 < cap; i++) {
        if (i)
            n += (size_t)snprintf(buf + n, cap - n, ", ");
        if (n + 1 < cap)
            sn_expr_render(c->args[i], buf + n, cap - n);
        n = strlen(buf);
    }
    if (n + 1 < cap)
        snprintf(buf + n, cap - n, ")");
}

/* The returned value, in hex when the script writes the expected one so. */
static void result_text(const struct att *a, char *buf, size_t cap)
{
    char name[24];
    if (a->ret == -1)
        snprintf(buf, cap, "-1 %s (%s)", errno_name(a->err, name), strerror(a->err));
    else if (a->c->result->kind == SN_X_INT && a->c->result->hex)
        snprintf(buf, cap, "%#llx", (unsigned long long)a->ret);
    else
        snprintf(buf, cap, "%lld", (long long)a->ret);
}

static int finish(struct sn_runner *r, struct att *a)
{
    const struct sn_call *c = a->c;
    int line = a->ev->line;
    bool ok = true;
    int64_t want;
    if (!is_ellipsis(c->result)) {
        if (eval(a, c->result, &want) < 0)
            return -1;
        ok = want == a->ret;
    }
    if (ok && c->errname != NULL) {
        int want_err = synack_errnum(c->errname);
        if (want_err == 0) {
            sn_fail(r, line, "unsupported: errno name %s", c->errname);
            return -1;
        }
        ok = a->ret == -1 && a->err == want_err;
    }
    char text[400], res[128], exp[128];
    call_text(c, text, sizeof(text));
    result_text(a, res, sizeof(res));
    if (!ok) {
        sn_expr_render(c->result, exp, sizeof(exp));
        sn_fail(r, line, "system call result differs");
        sn_fail(r, line, "  expected %s = %s%s%s", text, exp, c->errname ? " " : "",
                c->errname ? c->errname : "");
        sn_fail(r, line, "  actual   %s = %s", text, res);
        return -1;
    }
    synack_time_t tol = (synack_time_t)r->sc->tolerance_us, end = r->pend.end;
    if (r->now + tol < end || r->now > end + tol) {
        char t1[32], t2[32], t3[32];
        sn_fail(r, line, "%s returned at %s; expected at %s ± %s", text, sn_time_str(r->now, t1),
                sn_time_str(end, t2), sn_time_str(tol, t3));
        return -1;
    }
    sn_trace(r, "%s = %s", text, res);
    return 0;
}

int sn_call_start(struct sn_runner *r, const struct sn_event *ev, synack_time_t end)
{
    if (r->pend.active) {
        sn_fail(r, ev->line,
                "the blocking call of line %d has not returned yet (one call at a time)",
                r->pend.ev->line);
        return -1;
    }
    r->pend =
        (struct sn_pending){.ev = ev, .start = r->now, .end = end, .poll_end = SYNACK_TIME_NEVER};
    struct att a;
    int x = attempt(r, ev, true, &a);
    if (x == ATT_FAIL)
        return -1;
    if (x == ATT_BLOCK) {
        char text[400];
        call_text(&ev->u.call, text, sizeof(text));
        sn_trace(r, "%s blocks", text);
        r->pend.active = true;
        return 0;
    }
    return finish(r, &a);
}

int sn_call_retry(struct sn_runner *r)
{
    if (!r->pend.active)
        return 0;
    struct att a;
    int x = attempt(r, r->pend.ev, false, &a);
    if (x == ATT_BLOCK) {
        synack_time_t tol = (synack_time_t)r->sc->tolerance_us;
        if (r->now <= r->pend.end + tol)
            return 0;
        char text[400], t1[32], t2[32], t3[32];
        call_text(&r->pend.ev->u.call, text, sizeof(text));
        sn_fail(r, r->pend.ev->line, "%s still blocked at %s; expected to return at %s ± %s", text,
                sn_time_str(r->now, t1), sn_time_str(r->pend.end, t2), sn_time_str(tol, t3));
    }
    r->pend.active = false;
    return x == ATT_DONE ? finish(r, &a) : -1;
}

synack_time_t sn_call_wake(const struct sn_runner *r)
{
    if (!r->pend.active)
        return SYNACK_TIME_NEVER;
    synack_time_t late = r->pend.end + (synack_time_t)r->sc->tolerance_us + 1;
    return r->pend.poll_end < late ? r->pend.poll_end : late;
}
