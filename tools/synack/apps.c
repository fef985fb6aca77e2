/* echo, discard, chargen and a static HTTP/1.1 server (see apps.h). */
#define _GNU_SOURCE /* realpath(), O_PATH, syscall() */
#include "apps.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "file_cache.h"
#include "synack/socket.h"

#define SCRATCH (64 * 1024)
#define ECHO_BUF (16 * 1024)
#define HTTP_REQ_MAX 8192     /* request line and headers */
#define HTTP_HDR_MAX 1024     /* our response header (and the small error bodies) */
/* Work one connection does per call before letting the others run. */
#define STEP_BYTES (1024 * 1024)

enum app_kind { APP_ECHO, APP_DISCARD, APP_CHARGEN, APP_HTTP };

struct app {
    enum app_kind kind;
    char root[PATH_MAX];      /* http: the served directory, resolved */
    size_t root_len;
    int root_fd;              /* http: the directory (O_PATH), for openat2; -1: none */
    struct file_cache cache;  /* http: small files' contents (file_cache.h) */
    uint8_t scratch[SCRATCH]; /* shared by all connections: one runs at a time */
    uint8_t *pattern;         /* chargen: one cycle of the pattern and SCRATCH bytes more,
                               * built once, so any window of it is a pointer, not a loop */
};

struct echo_conn {
    struct app_conn base;
    size_t off, len;          /* bytes received, not yet sent back */
    bool eof;
    uint8_t buf[ECHO_BUF];
};

struct http_conn {
    struct app_conn base;
    size_t req_len;
    uint64_t skip;            /* request body bytes still to discard */
    bool eof;                 /* the client closed its side */
    bool responding, close_after;
    char hdr[HTTP_HDR_MAX];
    size_t hdr_len, hdr_off;
    int file;                 /* the body being sent, or -1 */
    struct file_cached *cached; /* or the body from the cache (a reference), or NULL */
    uint64_t off, end;
    char req[HTTP_REQ_MAX];
};

static int chargen_pattern(struct app *a);

int app_new(const char *spec, struct app **out)
{
    struct app *a = calloc(1, sizeof(*a));
    if (!a)
        return -1;
    a->root_fd = -1;
    if (!strcmp(spec, "echo")) {
        a->kind = APP_ECHO;
    } else if (!strcmp(spec, "discard")) {
        a->kind = APP_DISCARD;
    } else if (!strcmp(spec, "chargen")) {
        a->kind = APP_CHARGEN;
        if (chargen_pattern(a) < 0) {
            free(a);
            return -ENOMEM;
        }
    } else if (!strncmp(spec, "http=", 5) && spec[5]) {
        a->kind = APP_HTTP;
        struct stat st;
        const char *why = NULL;
        if (!realpath(spec + 5, a->root) || stat(a->root, &st) < 0)
            why = strerror(errno);
        else if (!S_ISDIR(st.st_mode))
            why = "not a directory";
        if (why) {
            fprintf(stderr, "synack serve: --app %s: %s: %s\n", spec, spec + 5, why);
            free(a);
            return -1;
        }
        a->root_fd = open(a->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        a->root_len = strlen(a->root);
        if (a->root_len == 1) /* "/": every path already starts with it */
            a->root_len = 0;
    } else {
        fprintf(stderr, "synack serve: --app %s: want echo, discard, chargen or http=DIR\n", spec);
        free(a);
        return -1;
    }
    *out = a;
    return 0;
}

void app_free(struct app *a)
{
    if (a) {
        free(a->pattern);
        if (a->root_fd >= 0)
            close(a->root_fd);
        file_cache_free(&a->cache);
    }
    free(a);
}

const char *app_name(const struct app *a)
{
    static const char *const names[] = {"echo", "discard", "chargen", "http"};
    return names[a->kind];
}

struct app_conn *app_open(struct app *a)
{
    struct app_conn *c;
    switch (a->kind) {
    case APP_ECHO:
        c = calloc(1, sizeof(struct echo_conn));
        break;
    case APP_HTTP: {
        struct http_conn *h = calloc(1, sizeof(*h));
        if (h)
            h->file = -1;
        c = h ? &h->base : NULL;
        break;
    }
    default:
        c = calloc(1, sizeof(struct app_conn));
        break;
    }
    return c;
}

void app_close(struct app *a, struct app_conn *c)
{
    if (c && a->kind == APP_HTTP) {
        struct http_conn *h = (struct http_conn *)c;
        if (h->file >= 0)
            close(h->file);
        file_cache_release(h->cached);
    }
    free(c);
}

/* recv() into buf; 1 with *n bytes, 0 at EOF, -1 would block, -2 error (c->err). */
static int get(struct app_conn *c, struct synack_stack *s, int fd, void *buf, size_t cap, size_t *n)
{
    ssize_t r = synack_recv(s, fd, buf, cap, 0);
    if (r > 0) {
        c->in += (uint64_t)r;
        *n = (size_t)r;
        return 1;
    }
    if (r == 0)
        return 0;
    if (errno == EAGAIN)
        return -1;
    c->err = errno;
    return -2;
}

/* send(); bytes taken (maybe 0 when the buffer is full), or -1 on error (c->err). */
/* flags: MSG_MORE when more of the same response follows at once: its last
 * partial segment then waits for the rest (no runt after every write of a
 * large body, TCP_NODELAY or not). */
static ssize_t put_flags(struct app_conn *c, struct synack_stack *s, int fd, const void *buf,
                         size_t len, int flags)
{
    ssize_t w = synack_send(s, fd, buf, len, flags);
    if (w >= 0) {
        c->out += (uint64_t)w;
        return w;
    }
    if (errno == EAGAIN)
        return 0;
    c->err = errno;
    return -1;
}

static ssize_t put(struct app_conn *c, struct synack_stack *s, int fd, const void *buf, size_t len)
{
    return put_flags(c, s, fd, buf, len, 0);
}

/* ---- discard (RFC 863) ------------------------------------------------------ */

static enum app_status discard_step(struct app *a, struct app_conn *c, struct synack_stack *s, int fd)
{
    size_t n, total = 0;
    while (total < STEP_BYTES) {
        int r = get(c, s, fd, a->scratch, SCRATCH, &n);
        if (r == 0)
            return APP_DONE;
        if (r == -1)
            return APP_WAIT;
        if (r == -2)
            return APP_ABORT;
        total += n;
    }
    return APP_AGAIN;
}

/* ---- echo (RFC 862) --------------------------------------------------------- */

static enum app_status echo_step(struct app_conn *c, struct synack_stack *s, int fd)
{
    struct echo_conn *e = (struct echo_conn *)c;
    size_t total = 0;
    while (total < STEP_BYTES) {
        if (e->len > e->off) {
            ssize_t w = put(c, s, fd, e->buf + e->off, e->len - e->off);
            if (w < 0)
                return APP_ABORT;
            e->off += (size_t)w;
            total += (size_t)w;
            if (e->off < e->len)
                return APP_WAIT; /* the send buffer is full: stop reading too */
        }
        if (e->eof)
            return APP_DONE;
        size_t n;
        int r = get(c, s, fd, e->buf, sizeof(e->buf), &n);
        if (r == -1)
            return APP_WAIT;
        if (r == -2)
            return APP_ABORT;
        e->off = 0;
        e->len = r == 1 ? n : 0;
        e->eof = r == 0;
    }
    return APP_AGAIN;
}

/* ---- chargen (RFC 864) ------------------------------------------------------ */

#define CG_LINE 74                 /* 72 characters and CR LF */
#define CG_CYCLE (95 * CG_LINE)    /* line i starts with the i-th printable character */

static int chargen_pattern(struct app *a)
{
    a->pattern = malloc(CG_CYCLE + SCRATCH);
    if (!a->pattern)
        return -1;
    for (size_t i = 0; i < CG_CYCLE + SCRATCH; i++) {
        unsigned pos = (unsigned)(i % CG_CYCLE), line = pos / CG_LINE, col = pos % CG_LINE;
        a->pattern[i] = col == 72 ? '\r' : col == 73 ? '\n' : (uint8_t)(' ' + (line + col) % 95);
    }
    return 0;
}

static enum app_status chargen_step(struct app *a, struct app_conn *c, struct synack_stack *s, int fd)
{
    size_t n;
    for (;;) { /* input is read and dropped; its end ends the service */
        int r = get(c, s, fd, a->scratch, SCRATCH, &n);
        if (r == 0)
            return APP_DONE;
        if (r == -2)
            return APP_ABORT;
        if (r == -1)
            break;
    }
    size_t total = 0;
    while (total < STEP_BYTES) {
        /* The pattern from where the stream is, whatever was accepted before. */
        const uint8_t *from = a->pattern + c->out % CG_CYCLE;
        ssize_t w = put_flags(c, s, fd, from, SCRATCH, MSG_MORE);
        if (w < 0)
            return APP_ABORT;
        total += (size_t)w;
        if ((size_t)w < SCRATCH)
            return APP_WAIT;
    }
    return APP_AGAIN;
}

/* ---- http ------------------------------------------------------------------- */

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"}, {".css", "text/css"},
        {".js", "text/javascript"},            {".json", "application/json"},
        {".png", "image/png"},                 {".jpg", "image/jpeg"},
        {".svg", "image/svg+xml"},             {".pcap", "application/vnd.tcpdump.pcap"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcasecmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

/* A response with a small text body (errors), all in the header buffer. */
static void http_simple(struct http_conn *h, int code, const char *reason, const char *extra,
                        bool head)
{
    char body[128];
    int blen = snprintf(body, sizeof(body), "%d %s\n", code, reason);
    h->hdr_len = (size_t)snprintf(h->hdr, sizeof(h->hdr),
                                  "HTTP/1.1 %d %s\r\nServer: synack/" SYNACK_VERSION_STRING
                                  "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                  "Content-Length: %d\r\n%sConnection: %s\r\n\r\n%s",
                                  code, reason, blen, extra ? extra : "",
                                  h->close_after ? "close" : "keep-alive", head ? "" : body);
    h->hdr_off = 0;
    h->responding = true;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* openat2 (Linux 5.6) under `dir` with RESOLVE_BENEATH: the kernel
 * resolves the path and its symbolic links in one call and refuses (EXDEV)
 * whatever would leave the directory, absolute links included.  Returns
 * the descriptor, -ENOENT or -ENOTDIR (the path is not there: realpath
 * would say the same), or 1: "ask realpath" (an absolute link that may
 * still point inside the root, a kernel without openat2, ...). */
static int open_beneath(int dir, const char *rel)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    /* O_NONBLOCK: a FIFO in the tree must not stop the server; regular
     * files ignore it. */
    how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, dir, rel, &how, sizeof(how));
    if (fd >= 0)
        return (int)fd;
    return errno == ENOENT || errno == ENOTDIR ? -errno : 1;
}

/* The fast way to http_open's file: one openat2 (and an fstat) instead of
 * realpath's walk (a readlink per component), a stat and an open.  Returns
 * a descriptor of a regular file, -errno, or 1: "do it the realpath way". */
static int open_fast(const struct app *a, const char *rel, struct stat *st, bool *index)
{
    if (a->root_fd < 0)
        return 1;
    int fd = open_beneath(a->root_fd, *rel ? rel : ".");
    if (fd < 0 || fd == 1)
        return fd;
    if (fstat(fd, st) == 0 && S_ISDIR(st->st_mode)) {
        int dir = fd;
        *index = true;
        fd = open_beneath(dir, "index.html");
        close(dir);
        if (fd < 0 || fd == 1)
            return fd;
        if (fstat(fd, st) < 0) {
            close(fd);
            return 1;
        }
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return -ENOENT;
    }
    return fd;
}

/* The request target as a path under the root: percent-decoded, no query,
 * "." and empty segments dropped, ".." refused (-EACCES: never climb out of
 * the root), a directory meaning its index.html.  Symbolic links are
 * followed only to places inside the root (checked on the resolved path).
 * Returns an open descriptor of a regular file, HTTP_CACHED with *hit (a
 * reference to the file's content in the cache), or -errno. */
#define HTTP_CACHED INT_MAX
static int open_resolved(struct app *a, char *path, struct stat *st, bool *index);

static int http_open(struct app *a, const char *target, size_t tlen, struct stat *st,
                     struct file_cached **hit)
{
    if (tlen == 0 || target[0] != '/')
        return -EINVAL;
    char path[PATH_MAX], seg[256];
    size_t plen, slen = 0;
    memcpy(path, a->root, a->root_len);
    plen = a->root_len;
    const char *cut = memchr(target, '?', tlen);
    if (cut)
        tlen = (size_t)(cut - target);
    cut = memchr(target, '#', tlen);
    if (cut)
        tlen = (size_t)(cut - target);
    for (size_t i = 1; i <= tlen; i++) {
        int ch = i < tlen ? (unsigned char)target[i] : '/';
        if (ch == '%') {
            int hi = i + 2 < tlen ? hexval(target[i + 1]) : -1;
            int lo = i + 2 < tlen ? hexval(target[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -EINVAL;
            ch = hi * 16 + lo;
            i += 2;
            if (ch == '/')
                return -EACCES; /* an encoded separator could hide a ".." */
        } else if (ch == '/') {
            seg[slen] = 0;
            if (!strcmp(seg, ".."))
                return -EACCES;
            if (slen > 0 && strcmp(seg, ".")) {
                if (plen + 1 + slen + 1 > sizeof(path))
                    return -ENAMETOOLONG;
                path[plen++] = '/';
                memcpy(path + plen, seg, slen);
                plen += slen;
            }
            slen = 0;
            continue;
        }
        if (ch == 0)
            return -EINVAL;
        if (slen + 1 >= sizeof(seg))
            return -ENAMETOOLONG;
        seg[slen++] = (char)ch;
    }
    path[plen] = 0;
    const char *rel = path + a->root_len + (path[a->root_len] == '/');
    *hit = a->root_fd >= 0 ? file_cache_get(&a->cache, a->root_fd, rel, st) : NULL;
    if (*hit)
        return HTTP_CACHED;
    bool index = false;
    int fd = open_resolved(a, path, st, &index);
    if (fd >= 0 && !index && (*hit = file_cache_put(&a->cache, rel, fd, st)) != NULL) {
        close(fd);
        return HTTP_CACHED;
    }
    return fd;
}

/* The file `path` (the root and the request's path) names: openat2 under
 * the root, or realpath and a check that the result is inside the root.
 * *index: a directory's index.html was opened.  Returns the descriptor of
 * a regular file, or -errno. */
static int open_resolved(struct app *a, char *path, struct stat *st, bool *index)
{
    int fast = open_fast(a, path + a->root_len + (path[a->root_len] == '/'), st, index);
    if (fast != 1)
        return fast;
    size_t plen = strlen(path);
    char real[PATH_MAX];
    if (!realpath(plen ? path : "/", real))
        return -errno;
    if (strncmp(real, a->root, a->root_len) != 0 ||
        (real[a->root_len] != '/' && real[a->root_len] != 0))
        return -EACCES;
    if (stat(real, st) == 0 && S_ISDIR(st->st_mode)) {
        *index = true;
        size_t rl = strlen(real);
        if (rl + sizeof("/index.html") > sizeof(real))
            return -ENAMETOOLONG;
        memcpy(real + rl, "/index.html", sizeof("/index.html"));
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -ENOENT;
    }
    return fd;
}

/* The value of header `name` in the header block [p, end), or NULL. */
static const char *header(const char *p, const char *end, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nlen && !strncasecmp(p, name, nlen) && p[nlen] == ':') {
            const char *v = p + nlen + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

static bool token_in(const char *v, size_t vlen, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= vlen; i++)
        if (!strncasecmp(v + i, tok, tl) && (i == 0 || v[i - 1] == ' ' || v[i - 1] == ',') &&
            (i + tl == vlen || v[i + tl] == ' ' || v[i + tl] == ','))
            return true;
    return false;
}

/* A complete request head in the buffer: take it out and prepare the
 * response.  Returns true if there was one. */
static bool http_request(struct app *a, struct http_conn *h)
{
    const char *buf = h->req;
    const char *eoh = NULL;
    for (size_t i = 0; i + 3 < h->req_len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            eoh = buf + i + 4;
            break;
        }
    }
    if (!eoh)
        return false;
    size_t head_len = (size_t)(eoh - buf);
    const char *eol = memchr(buf, '\n', head_len);
    const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    const char *hdrs = eol + 1;

    h->close_after = false;
    bool head = false;
    if (!sp1 || !sp2 || eol - sp2 < 9 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
        h->close_after = true;
        http_simple(h, 400, "Bad Request", NULL, false);
    } else if (sp2[8] != '0' && sp2[8] != '1') {
        h->close_after = true;
        http_simple(h, 505, "HTTP Version Not Supported", NULL, false);
    } else {
        bool v10 = sp2[8] == '0';
        size_t vlen;
        const char *conn = header(hdrs, eoh, "Connection", &vlen);
        /* RFC 9112 9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive". */
        h->close_after = v10 ? !(conn && token_in(conn, vlen, "keep-alive"))
                             : (conn && token_in(conn, vlen, "close"));
        const char *te = header(hdrs, eoh, "Transfer-Encoding", &vlen);
        const char *cl = header(hdrs, eoh, "Content-Length", &vlen);
        uint64_t body = 0;
        bool cl_ok = true;
        if (cl) {
            char num[24];
            char *end;
            if (vlen == 0 || vlen >= sizeof(num))
                cl_ok = false;
            memcpy(num, cl, cl_ok ? vlen : 0);
            num[cl_ok ? vlen : 0] = 0;
            errno = 0;
            unsigned long long v = strtoull(num, &end, 10);
            if (!cl_ok || errno || *end || !isdigit((unsigned char)num[0]))
                cl_ok = false;
            body = v;
        }
        size_t mlen = (size_t)(sp1 - buf);
        head = mlen == 4 && !strncmp(buf, "HEAD", 4);
        bool getm = mlen == 3 && !strncmp(buf, "GET", 3);
        if (te) {
            /* A body whose end only chunked decoding finds: cannot skip it. */
            h->close_after = true;
            http_simple(h, 501, "Not Implemented", NULL, head);
        } else if (!cl_ok) {
            h->close_after = true;
            http_simple(h, 400, "Bad Request", NULL, head);
        } else if (!getm && !head) {
            h->skip = body;
            http_simple(h, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", false);
        } else {
            h->skip = body;
            struct stat st;
            struct file_cached *hit = NULL;
            int fd = http_open(a, sp1 + 1, (size_t)(sp2 - sp1 - 1), &st, &hit);
            if (fd == -EACCES || fd == -EINVAL) {
                http_simple(h, fd == -EACCES ? 403 : 400, fd == -EACCES ? "Forbidden" : "Bad Request",
                            NULL, head);
            } else if (fd < 0) {
                http_simple(h, 404, "Not Found", NULL, head);
            } else {
                char path[64];
                size_t tl = (size_t)(sp2 - sp1 - 1);
                snprintf(path, sizeof(path), "%.*s", (int)(tl < 63 ? tl : 63), sp1 + 1);
                char *q = strpbrk(path, "?#");
                if (q)
                    *q = 0;
                h->hdr_len = (size_t)snprintf(
                    h->hdr, sizeof(h->hdr),
                    "HTTP/1.1 200 OK\r\nServer: synack/" SYNACK_VERSION_STRING
                    "\r\nContent-Type: %s\r\nContent-Length: %llu\r\nConnection: %s\r\n\r\n",
                    content_type(path), (unsigned long long)st.st_size,
                    h->close_after ? "close" : "keep-alive");
                h->hdr_off = 0;
                h->responding = true;
                if (head && hit) {
                    file_cache_release(hit);
                } else if (head) {
                    close(fd);
                } else {
                    h->file = hit ? -1 : fd;
                    h->cached = hit;
                    h->off = 0;
                    h->end = (uint64_t)st.st_size;
                }
            }
        }
    }
    memmove(h->req, eoh, h->req_len - head_len);
    h->req_len -= head_len;
    return true;
}

/* A piece of the body (up to SCRATCH bytes of the `left` still to go) read
 * from the file straight into the send buffer's room (synack_send_reserve,
 * preadv, synack_send_commit): one copy fewer than reading into the scratch
 * buffer and sending that.  Returns the bytes queued (0: the buffer is full),
 * or -1 on an error (h->base.err). */
static ssize_t http_send_file(struct http_conn *h, struct synack_stack *s, int fd, uint64_t left)
{
    struct iovec iov[SCRATCH / 4096 + 1];
    size_t want = left < SCRATCH ? (size_t)left : SCRATCH;
    ssize_t room = synack_send_reserve(s, fd, want, iov, (int)(sizeof(iov) / sizeof(iov[0])));
    if (room <= 0) {
        if (room < 0 && errno != EAGAIN) {
            h->base.err = errno;
            return -1;
        }
        return 0;
    }
    int n = 0;
    for (size_t got = 0; got < (size_t)room; n++)
        got += iov[n].iov_len;
    ssize_t r = preadv(h->file, iov, n, (off_t)h->off);
    if (r <= 0) { /* nothing is queued: the room is left uncommitted */
        h->base.err = r < 0 ? errno : EIO; /* the file shrank under us */
        return -1;
    }
    /* MSG_MORE as in http_send: more of the body follows, or the close
     * will send the last piece with the FIN. */
    int fl = left > (uint64_t)r || h->close_after ? MSG_MORE : 0;
    if (synack_send_commit(s, fd, (size_t)r, fl) < 0) {
        h->base.err = errno;
        return -1;
    }
    h->base.out += (uint64_t)r;
    h->off += (uint64_t)r;
    return r;
}

/* Send what is left of the response: 1 when all went, 0 blocked, 2 when
 * it stopped to let others run, -1 error.  The head and the start of the
 * body go together, in one segment when they fit. */
static int http_send(struct app *a, struct http_conn *h, struct synack_stack *s, int fd)
{
    size_t total = 0;
    for (;;) {
        size_t hl = h->hdr_len - h->hdr_off;
        uint64_t left = h->file >= 0 || h->cached ? h->end - h->off : 0;
        if (hl == 0 && left == 0)
            return 1;
        if (total >= STEP_BYTES)
            return 2;
        if (hl == 0 && h->file >= 0) { /* the body: read from the file straight into the send buffer */
            ssize_t w = http_send_file(h, s, fd, left);
            if (w < 0)
                return -1;
            total += (size_t)w;
            if (w == 0)
                return 0;
            continue;
        }
        memcpy(a->scratch, h->hdr + h->hdr_off, hl);
        size_t want = left < SCRATCH - hl ? (size_t)left : SCRATCH - hl;
        ssize_t r = (ssize_t)want;
        if (h->cached)
            memcpy(a->scratch + hl, h->cached->data + h->off, want);
        else if (want)
            r = pread(h->file, a->scratch + hl, want, (off_t)h->off);
        if (r < 0 || (want > 0 && r == 0)) {
            h->base.err = r < 0 ? errno : EIO; /* the file shrank under us */
            return -1;
        }
        /* Only what the send buffer takes is consumed; the rest is read
         * again next time (the page cache makes that cheap). */
        bool more = left > (uint64_t)r; /* more of the body follows this write */
        /* The connection closes after this response: its last segment
         * waits (MSG_MORE) for the close, so the FIN goes with it, one
         * packet fewer for both sides (http_step returns APP_DONE and serve
         * closes at once). */
        int fl = more || h->close_after ? MSG_MORE : 0;
        ssize_t w = put_flags(&h->base, s, fd, a->scratch, hl + (size_t)r, fl);
        if (w < 0)
            return -1;
        size_t wh = (size_t)w < hl ? (size_t)w : hl;
        h->hdr_off += wh;
        h->off += (uint64_t)w - wh;
        total += (size_t)w;
        if ((size_t)w < hl + (size_t)r)
            return 0;
    }
}

static enum app_status http_step(struct app *a, struct app_conn *c, struct synack_stack *s, int fd)
{
    struct http_conn *h = (struct http_conn *)c;
    for (int rounds = 0; rounds < 64; rounds++) {
        if (h->responding) {
            int r = http_send(a, h, s, fd);
            if (r < 0)
                return APP_ABORT;
            if (r == 0)
                return APP_WAIT;
            if (r == 2)
                return APP_AGAIN;
            h->responding = false;
            if (h->file >= 0) {
                close(h->file);
                h->file = -1;
            }
            file_cache_release(h->cached);
            h->cached = NULL;
            if (h->close_after)
                return APP_DONE;
            continue;
        }
        if (h->skip > 0 && h->req_len > 0) {
            size_t n = h->skip < h->req_len ? (size_t)h->skip : h->req_len;
            memmove(h->req, h->req + n, h->req_len - n);
            h->req_len -= n;
            h->skip -= n;
        }
        if (h->skip == 0 && http_request(a, h))
            continue;
        if (h->eof)
            return APP_DONE;
        if (h->skip == 0 && h->req_len == sizeof(h->req)) {
            h->close_after = true;
            http_simple(h, 431, "Request Header Fields Too Large", NULL, false);
            continue;
        }
        size_t n;
        int r = get(c, s, fd, h->req + h->req_len, sizeof(h->req) - h->req_len, &n);
        if (r == -1)
            return APP_WAIT;
        if (r == -2)
            return APP_ABORT;
        if (r == 0)
            h->eof = true;
        else
            h->req_len += n;
    }
    return APP_AGAIN;
}

enum app_status app_step(struct app *a, struct app_conn *c, struct synack_stack *s, int fd)
{
    switch (a->kind) {
    case APP_ECHO: return echo_step(c, s, fd);
    case APP_DISCARD: return discard_step(a, c, s, fd);
    case APP_CHARGEN: return chargen_step(a, c, s, fd);
    default: return http_step(a, c, s, fd);
    }
}
