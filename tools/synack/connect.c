/* `synack connect`: one client connection from synack to a server on the
 * kernel's side of a TUN or TAP interface.
 *   get=PATH       HTTP/1.1 GET; the body is saved to --out
 *   send=FILE      stream FILE (to a discard or `nc -l` server), then close
 *   recv           save everything the server sends until it closes
 *   expect-reset   send data the server will not read, and wait for its reset
 * Exit status 0 when the transfer completed (or, with --expect ERR, when the
 * connection failed with ERR), 1 when it did not, 2 for bad usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "errname.h"
#include "net.h"
#include "net_draw.h"
#include "synack/socket.h"

#define CHUNK (64 * 1024)
#define RESP_HEAD_MAX 16384

enum mode { M_GET, M_SEND, M_RECV, M_RESET };

struct client {
    struct net net;
    enum mode mode;
    const char *arg;            /* PATH or FILE */
    const char *out_path;
    int fd;                     /* the synack socket, -1 once closed */
    int file;                   /* send: the input; get/recv: the output */
    bool connected, done, ok;
    int err;                    /* the errno that ended the connection */
    synack_time_t t_start, t_connected, t_done;
    uint64_t sent, received, body;
    /* send */
    uint64_t file_off, file_size;
    bool shut;
    /* get */
    bool req_sent, head_done;
    int status;
    int64_t content_length;     /* -1: until the server closes */
    size_t head_len;
    char req[512];
    size_t req_len, req_off;
    char head[RESP_HEAD_MAX];
    uint8_t buf[CHUNK];
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: synack connect (--tun NAME | --tap NAME) --addr A.B.C.D/P [--peer A.B.C.D]\n"
            "                      --to A.B.C.D --app APP [--port N] [OPTIONS]\n\n"
            "Opens one connection from synack to a server on the kernel's side.\n\n"
            "applications:\n"
            "  get=PATH      fetch PATH over HTTP/1.1 and save the body to --out\n"
            "  send=FILE     send FILE, then close (a discard server, `nc -l`)\n"
            "  recv          save what the server sends until it closes, to --out\n"
            "  expect-reset  send data the server does not read; succeed when recv() fails\n"
            "                with ECONNRESET (the server closed with unread data)\n\n"
            "  --to A.B.C.D        the server (required)\n"
            "  --port N            the server's port, 1..65535 (default 80)\n"
            "  --out FILE          where get and recv save (default: standard output, and\n"
            "                      then --trace writes to standard error)\n"
            "  --expect ERRNAME    succeed only if the connection fails with ERRNAME\n"
            "                      (ECONNREFUSED, ECONNRESET, ETIMEDOUT, ...)\n"
            "%s%s",
            net_opts_help, own_draw_help);
}

static bool write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

static void end_with(struct client *cl, bool ok, int err)
{
    cl->done = true;
    cl->ok = ok;
    cl->err = err;
    cl->t_done = net_now();
}

/* The response head is complete: status and how the body is delimited. */
static bool parse_head(struct client *cl)
{
    const char *h = cl->head;
    if (strncmp(h, "HTTP/1.", 7) != 0 || cl->head_len < 12) {
        fprintf(stderr, "synack connect: not an HTTP/1.x response\n");
        return false;
    }
    cl->status = atoi(h + 9);
    cl->content_length = -1;
    const char *p = strchr(h, '\n');
    while (p && p[1] && p[1] != '\r') {
        p++;
        if (!strncasecmp(p, "content-length:", 15))
            cl->content_length = strtoll(p + 15, NULL, 10);
        if (!strncasecmp(p, "transfer-encoding:", 18)) {
            fprintf(stderr, "synack connect: chunked responses are not supported\n");
            return false;
        }
        p = strchr(p, '\n');
    }
    return true;
}

static bool body_bytes(struct client *cl, const uint8_t *p, size_t len)
{
    if (cl->content_length >= 0 && cl->body + len > (uint64_t)cl->content_length)
        len = (size_t)((uint64_t)cl->content_length - cl->body); /* extra bytes: not ours */
    cl->body += len;
    if (!write_all(cl->file, p, len)) {
        fprintf(stderr, "synack connect: %s: %s\n", cl->out_path, strerror(errno));
        return false;
    }
    return true;
}

/* Data from the server (get, recv, expect-reset). */
static void read_side(struct client *cl)
{
    struct synack_stack *s = cl->net.stack;
    for (int rounds = 0; rounds < 64 && !cl->done; rounds++) {
        ssize_t n = synack_recv(s, cl->fd, cl->buf, sizeof(cl->buf), 0);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            end_with(cl, false, errno);
            return;
        }
        cl->received += (uint64_t)n;
        if (n == 0) {
            if (cl->mode == M_GET) {
                bool complete = cl->head_done && (cl->content_length < 0 ||
                                                  cl->body == (uint64_t)cl->content_length);
                if (!complete)
                    fprintf(stderr, "synack connect: the server closed after %llu body bytes\n",
                            (unsigned long long)cl->body);
                end_with(cl, complete && cl->status == 200, 0);
            } else if (cl->mode == M_RESET) {
                fprintf(stderr, "synack connect: the server closed with a FIN, not a reset\n");
                end_with(cl, false, 0);
            } else {
                end_with(cl, cl->mode == M_RECV || cl->shut, 0);
            }
            return;
        }
        if (cl->mode == M_RECV) {
            if (!write_all(cl->file, cl->buf, (size_t)n)) {
                fprintf(stderr, "synack connect: %s: %s\n", cl->out_path, strerror(errno));
                end_with(cl, false, 0);
            }
            cl->body += (uint64_t)n;
            continue;
        }
        if (cl->mode != M_GET)
            continue; /* send: a discard server says nothing; reset: ignored */
        const uint8_t *p = cl->buf;
        size_t len = (size_t)n;
        if (!cl->head_done) {
            size_t take = len < sizeof(cl->head) - 1 - cl->head_len ? len : sizeof(cl->head) - 1 - cl->head_len;
            memcpy(cl->head + cl->head_len, p, take);
            cl->head_len += take;
            cl->head[cl->head_len] = 0;
            char *eoh = strstr(cl->head, "\r\n\r\n");
            if (!eoh) {
                if (cl->head_len == sizeof(cl->head) - 1) {
                    fprintf(stderr, "synack connect: response head over %d bytes\n", RESP_HEAD_MAX);
                    end_with(cl, false, 0);
                }
                continue;
            }
            size_t hl = (size_t)(eoh + 4 - cl->head);
            size_t consumed = take - (cl->head_len - hl); /* of this read, the head's part */
            cl->head_len = hl;
            cl->head[hl] = 0;
            cl->head_done = true;
            if (!parse_head(cl)) {
                end_with(cl, false, 0);
                return;
            }
            if (cl->status != 200)
                fprintf(stderr, "synack connect: HTTP %d\n", cl->status);
            p += consumed;
            len -= consumed;
        }
        if (!body_bytes(cl, p, len)) {
            end_with(cl, false, 0);
            return;
        }
        if (cl->content_length >= 0 && cl->body == (uint64_t)cl->content_length) {
            end_with(cl, cl->status == 200, 0);
            return;
        }
    }
    net_mark_ready(&cl->net, cl->fd);
}

/* Data to the server (the request, the file, the unread bytes). */
static void write_side(struct client *cl)
{
    struct synack_stack *s = cl->net.stack;
    if (cl->mode == M_GET || cl->mode == M_RESET) {
        while (cl->req_off < cl->req_len) {
            ssize_t w = synack_send(s, cl->fd, cl->req + cl->req_off, cl->req_len - cl->req_off, 0);
            if (w < 0) {
                if (errno != EAGAIN)
                    end_with(cl, false, errno);
                return;
            }
            cl->req_off += (size_t)w;
            cl->sent += (uint64_t)w;
        }
        return;
    }
    if (cl->mode != M_SEND || cl->shut)
        return;
    for (int rounds = 0; rounds < 16; rounds++) {
        if (cl->file_off >= cl->file_size) {
            /* All queued: the FIN follows the data. */
            synack_shutdown(s, cl->fd, SHUT_WR);
            cl->shut = true;
            return;
        }
        size_t want = cl->file_size - cl->file_off < CHUNK ? (size_t)(cl->file_size - cl->file_off) : CHUNK;
        ssize_t r = pread(cl->file, cl->buf, want, (off_t)cl->file_off);
        if (r <= 0) {
            fprintf(stderr, "synack connect: %s: read failed\n", cl->arg);
            end_with(cl, false, 0);
            return;
        }
        ssize_t w = synack_send(s, cl->fd, cl->buf, (size_t)r, 0);
        if (w < 0) {
            if (errno != EAGAIN)
                end_with(cl, false, errno);
            return;
        }
        cl->file_off += (uint64_t)w;
        cl->sent += (uint64_t)w;
        if (w < r)
            return;
    }
    net_mark_ready(&cl->net, cl->fd);
}

static void step(struct client *cl)
{
    struct synack_stack *s = cl->net.stack;
    if (!cl->connected) {
        struct pollfd p = {.fd = cl->fd, .events = POLLOUT};
        if (synack_poll(s, &p, 1) == 0)
            return;
        int err = 0;
        socklen_t len = sizeof(err);
        synack_getsockopt(s, cl->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (p.revents & (POLLERR | POLLHUP))) {
            end_with(cl, false, err ? err : ECONNABORTED);
            return;
        }
        cl->connected = true;
        cl->t_connected = net_now();
    }
    write_side(cl);
    if (!cl->done)
        read_side(cl);
}

static int open_files(struct client *cl)
{
    if (cl->mode == M_SEND) {
        cl->file = open(cl->arg, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (cl->file < 0 || fstat(cl->file, &st) < 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "synack connect: --app send=%s: %s: %s\n", cl->arg, cl->arg,
                    cl->file < 0 ? strerror(errno) : "not a regular file");
            return -1;
        }
        cl->file_size = (uint64_t)st.st_size;
        return 0;
    }
    if (cl->mode == M_RESET)
        return 0;
    if (!cl->out_path || !strcmp(cl->out_path, "-")) {
        cl->out_path = "standard output";
        cl->file = STDOUT_FILENO;
        return 0;
    }
    cl->file = open(cl->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (cl->file < 0) {
        fprintf(stderr, "synack connect: %s: %s\n", cl->out_path, strerror(errno));
        return -1;
    }
    return 0;
}

static int parse_app(struct client *cl, const char *app)
{
    if (!strncmp(app, "get=", 4) && app[4] == '/') {
        cl->mode = M_GET;
        cl->arg = app + 4;
    } else if (!strncmp(app, "send=", 5) && app[5]) {
        cl->mode = M_SEND;
        cl->arg = app + 5;
    } else if (!strcmp(app, "recv")) {
        cl->mode = M_RECV;
    } else if (!strcmp(app, "expect-reset")) {
        cl->mode = M_RESET;
    } else {
        fprintf(stderr, "synack connect: --app %s: want get=/PATH, send=FILE, recv or expect-reset\n",
                app);
        return -1;
    }
    return 0;
}

int synack_cmd_connect(int argc, char **argv)
{
    enum { OPT_TO = NET_OPT_FIRST_OWN, OPT_OUT, OPT_EXPECT };
    static const struct option longopts[] = {
        NET_LONG_OPTIONS,
        {"to", required_argument, 0, OPT_TO},
        {"out", required_argument, 0, OPT_OUT},
        {"expect", required_argument, 0, OPT_EXPECT},
        {0, 0, 0, 0},
    };
    struct client *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return 1;
    cl->fd = -1;
    cl->file = -1;
    struct net_opts o;
    net_opts_default(&o, 80);
    uint32_t to = 0;
    int expect = 0, status = 2, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        int r = net_opt(&o, "connect", c, optarg, argc, argv, &optind);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        if (c == OPT_TO) {
            struct in_addr a;
            if (inet_pton(AF_INET, optarg, &a) != 1) {
                fprintf(stderr, "synack connect: --to %s: want A.B.C.D\n", optarg);
                goto out;
            }
            to = ntohl(a.s_addr);
        } else if (c == OPT_OUT) {
            cl->out_path = optarg;
        } else if (c == OPT_EXPECT) {
            expect = synack_errnum(optarg);
            if (!expect) {
                fprintf(stderr, "synack connect: --expect %s: not an errno name\n", optarg);
                goto out;
            }
        } else if (c == 'h' || c == NET_OPT_HELP) {
            usage(stdout);
            status = 0;
            goto out;
        } else {
            fprintf(stderr, "try 'synack connect --help'\n");
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "synack connect: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    if (net_opts_check(&o, "connect") < 0)
        goto out;
    if (!to || !o.app) {
        fprintf(stderr, "synack connect: --to A.B.C.D and --app APP are required\n");
        goto out;
    }
    uint32_t mask = ~0u << (32 - o.prefix);
    if ((to & mask) != (o.addr & mask) || to == o.addr) {
        fprintf(stderr, "synack connect: --to must be on synack's subnet (there is no router)\n");
        goto out;
    }
    if (parse_app(cl, o.app) < 0 || open_files(cl) < 0)
        goto out;
    if (cl->mode == M_RESET && !expect)
        expect = ECONNRESET;
    if (cl->file == STDOUT_FILENO)
        o.trace_out = stderr; /* the body has standard output */

    status = 1;
    if (net_start(&cl->net, "connect", &o) < 0)
        goto out;
    struct synack_stack *s = cl->net.stack;
    if (cl->mode == M_GET)
        cl->req_len = (size_t)snprintf(cl->req, sizeof(cl->req),
                                       "GET %s HTTP/1.1\r\nHost: %u.%u.%u.%u:%u\r\n"
                                       "User-Agent: synack/" SYNACK_VERSION_STRING
                                       "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                                       cl->arg, to >> 24, (to >> 16) & 255, (to >> 8) & 255,
                                       to & 255, o.port);
    if (cl->mode == M_RESET) {
        memset(cl->req, 'u', sizeof(cl->req));
        cl->req_len = sizeof(cl->req); /* bytes the server will never read */
    }
    cl->fd = synack_socket(s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(to);
    sin.sin_port = htons(o.port);
    cl->t_start = net_now();
    net_draw_watch(cl->net.draw, s, cl->fd);
    if (cl->fd < 0 || (synack_connect(s, cl->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
                       errno != EINPROGRESS)) {
        end_with(cl, false, errno);
    }
    synack_time_t end = o.timeout ? cl->t_start + o.timeout : SYNACK_TIME_NEVER;
    while (!cl->done && !cl->net.stop && net_now() < end) {
        net_round(&cl->net, cl->net.nready ? 0 : end);
        for (uint32_t k = cl->net.nready; k > 0 && !cl->done; k--)
            if (net_next_ready(&cl->net) == cl->fd)
                step(cl);
    }
    if (!cl->done)
        end_with(cl, false, cl->net.stop ? EINTR : ETIMEDOUT);
    if (cl->fd >= 0)
        synack_close(s, cl->fd);
    cl->fd = -1;
    net_wait_closed(&cl->net);

    char e[96], rate[32];
    synack_time_t t = cl->t_done - (cl->t_connected ? cl->t_connected : cl->t_start);
    if (cl->err) {
        fprintf(stderr, "synack connect: %s: %s\n", cl->connected ? "recv" : "connect",
                net_errstr(e, sizeof(e), cl->err));
    } else if (!o.quiet) {
        uint64_t bytes = cl->mode == M_SEND ? cl->sent : cl->body;
        fprintf(stderr, "synack connect: %s %llu bytes in %.3f s (%s)%s\n",
                cl->mode == M_SEND ? "sent" : "received", (unsigned long long)bytes,
                (double)t / 1e6, net_rate(rate, sizeof(rate), bytes, t),
                cl->ok ? "" : ": incomplete");
    }
    status = expect ? (cl->err == expect ? 0 : 1) : (cl->ok ? 0 : 1);
    if (expect && cl->err != expect)
        fprintf(stderr, "synack connect: expected %s, got %s\n", synack_errname(expect),
                cl->err ? synack_errname(cl->err) : "no error");
out:
    net_stop(&cl->net);
    if (cl->file > STDOUT_FILENO)
        close(cl->file);
    free(cl);
    return status;
}
