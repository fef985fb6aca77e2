/* `synack demo --scenario transfer`: the client sends --bytes N of
 * pseudo-random data (drawn from the seed) to the server, then shuts down its
 * sending side; the server reads to EOF.  Both ends hash what passes
 * (SHA-256) as it passes, so memory stays bounded whatever N is.  The ladder
 * shows the first packets and the last ones; the run ends with one line:
 *
 *   transfer: sent N bytes, received N bytes, sha256 match, retransmissions R,
 *             duration D s (virtual), goodput G Mbit/s
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "demo.h"
#include "errname.h"
#include "synack/socket.h"

#define C 0 /* the sender */
#define S 1 /* the receiver */
#define CHUNK 65536
#define HEAD_ROWS 20
#define TAIL_ROWS 10
/* Virtual time after which the transfer counts as stalled. */
#define TIME_LIMIT SYNACK_SEC(7 * 24 * 3600)

struct transfer {
    struct demo *d;
    int lfd, cfd, sfd;
    uint64_t sent, received;
    bool fin_sent, eof;
    synack_time_t start, end;
    EVP_MD_CTX *md[2];
    struct sn_rng rng;
    size_t pos, len; /* of buf: generated data not yet accepted by send() */
    uint8_t buf[CHUNK], rbuf[CHUNK];
};

static struct synack_stack *st(struct transfer *t, int side) { return t->d->host[side].stack; }

/* Print one socket call as a row of the ladder; returns its result. */
static long row(struct transfer *t, int side, const char *what, long rc)
{
    int err = errno;
    demo_app(t->d, side, what, rc, err);
    errno = err;
    return rc;
}

/* Socket calls act at their stack's clock: bring both to the simulator's. */
static void sync_clocks(struct transfer *t)
{
    synack_time_t now = synack_sim_now(t->d->sim);
    synack_stack_advance(st(t, C), now);
    synack_stack_advance(st(t, S), now);
}

static void refill(struct transfer *t)
{
    uint64_t left = t->d->bytes - t->sent;
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = sn_rng_next(&t->rng);
        memcpy(t->buf + i, &w, n - i < 8 ? n - i : 8);
    }
    t->pos = 0;
    t->len = n;
}

/* The two applications, run after every event of the simulation: the
 * client writes all its socket takes; the server accepts, then reads all
 * there is.  Only the calls that change something are printed. */
static void pump(struct transfer *t)
{
    struct demo *d = t->d;
    char what[64];
    sync_clocks(t);
    d->in_app = true;
    while (t->sent < d->bytes) {
        if (t->pos == t->len)
            refill(t);
        ssize_t n = synack_send(st(t, C), t->cfd, t->buf + t->pos, t->len - t->pos, 0);
        if (n <= 0)
            break; /* EAGAIN: buffer full, or not yet connected */
        EVP_DigestUpdate(t->md[C], t->buf + t->pos, (size_t)n);
        t->pos += (size_t)n;
        t->sent += (uint64_t)n;
    }
    demo_sample(d, C);
    /* The FIN once everything is written, and not before the connection
     * is established (with --bytes 0 nothing else waits for it: a
     * shutdown in SYN-SENT would abandon the connection, RFC 9293 3.10.4);
     * and once everything sent is acknowledged: then the FIN leaves with
     * the call (no congestion window holds it back), and the change to
     * FIN-WAIT-1 shows in a capture (`synack trace` sees the same states). */
    struct pollfd pw = {.fd = t->cfd, .events = POLLOUT};
    struct synack_tcp_info ti;
    socklen_t tl = sizeof(ti);
    if (t->sent == d->bytes && !t->fin_sent && synack_poll(st(t, C), &pw, 1) == 1 &&
        (pw.revents & POLLOUT) &&
        synack_getsockopt(st(t, C), t->cfd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.unsent == 0 &&
        ti.bytes_in_flight == 0) {
        t->fin_sent = true;
        snprintf(what, sizeof(what), "shutdown(%d, SHUT_WR) after %llu bytes", t->cfd,
                 (unsigned long long)t->sent);
        row(t, C, what, synack_shutdown(st(t, C), t->cfd, SHUT_WR));
    }
    if (t->sfd < 0) {
        int fd = synack_accept(st(t, S), t->lfd, NULL, NULL);
        if (fd >= 0) {
            snprintf(what, sizeof(what), "accept(%d)", t->lfd);
            t->sfd = (int)row(t, S, what, fd);
            demo_watch(d, S, t->sfd);
        }
    }
    while (t->sfd >= 0 && !t->eof) {
        ssize_t n = synack_recv(st(t, S), t->sfd, t->rbuf, sizeof(t->rbuf), 0);
        if (n < 0)
            break;
        if (n == 0) {
            t->eof = true;
            t->end = synack_sim_now(d->sim);
            snprintf(what, sizeof(what), "recv(%d) = 0: EOF after %llu bytes", t->sfd,
                     (unsigned long long)t->received);
            demo_app(d, S, what, 0, 0);
            snprintf(what, sizeof(what), "close(%d)", t->sfd);
            row(t, S, what, synack_close(st(t, S), t->sfd));
            break;
        }
        EVP_DigestUpdate(t->md[S], t->rbuf, (size_t)n);
        t->received += (uint64_t)n;
    }
    d->in_app = false;
}

/* Listener, client socket (with --cc), connect, as application calls
 * (d->in_app set).  Returns 0, or -1 when a call that cannot fail did.
 * *cc_err: the errno of TCP_CONGESTION, or 0. */
static int open_conn(struct transfer *t, int *cc_err)
{
    struct demo *d = t->d;
    char what[80];
    d->in_app = true;
    t->lfd = synack_socket(st(t, S), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    t->cfd = synack_socket(st(t, C), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = demo_addr(0, DEMO_SERVER_PORT);
    if (t->lfd < 0 || t->cfd < 0 ||
        synack_bind(st(t, S), t->lfd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    snprintf(what, sizeof(what), "listen(%d, 8)", t->lfd);
    if (row(t, S, what, synack_listen(st(t, S), t->lfd, 8)) < 0)
        return -1;
    *cc_err = 0;
    if (d->cc) {
        snprintf(what, sizeof(what), "setsockopt(%d, TCP_CONGESTION, \"%s\")", t->cfd, d->cc);
        if (row(t, C, what, synack_setsockopt(st(t, C), t->cfd, IPPROTO_TCP, TCP_CONGESTION, d->cc,
                                              (socklen_t)strlen(d->cc))) < 0)
            *cc_err = errno;
    }
    a = demo_addr(DEMO_SERVER_ADDR, DEMO_SERVER_PORT);
    t->start = synack_sim_now(d->sim);
    snprintf(what, sizeof(what), "connect(%d, 192.0.2.2:%d)", t->cfd, DEMO_SERVER_PORT);
    long rc = row(t, C, what, synack_connect(st(t, C), t->cfd, (struct sockaddr *)&a, sizeof(a)));
    demo_watch(d, C, t->cfd);
    return rc == 0 || errno == EINPROGRESS ? 0 : -1;
}

static bool no_event(void *user)
{
    (void)user;
    return false;
}

int demo_transfer_run(struct demo *d)
{
    struct transfer *t = calloc(1, sizeof(*t));
    if (!t)
        return 1;
    t->d = d;
    t->sfd = -1;
    sn_rng_seed(&t->rng, synack_sim_random(d->sim));
    t->md[C] = EVP_MD_CTX_new();
    t->md[S] = EVP_MD_CTX_new();
    if (!t->md[C] || !t->md[S] || !EVP_DigestInit_ex(t->md[C], EVP_sha256(), NULL) ||
        !EVP_DigestInit_ex(t->md[S], EVP_sha256(), NULL)) {
        fprintf(stderr, "synack demo: SHA-256 unavailable\n");
        EVP_MD_CTX_free(t->md[C]);
        EVP_MD_CTX_free(t->md[S]);
        free(t);
        return 1;
    }
    d->ladder.max_rows = HEAD_ROWS;
    d->ladder.tail_rows = TAIL_ROWS;

    int cc_err = 0, result = 0;
    int rc = open_conn(t, &cc_err);
    d->in_app = false;
    if (rc < 0) {
        printf("  UNEXPECTED: socket set-up failed: %s\n", strerror(errno));
        result = 1;
    }
    while (result == 0 && !t->eof) {
        pump(t);
        if (t->eof)
            break;
        if (!synack_sim_step(d->sim) || synack_sim_now(d->sim) - t->start > TIME_LIMIT) {
            printf("  UNEXPECTED: the transfer stalled after %llu of %llu bytes\n",
                   (unsigned long long)t->received, (unsigned long long)d->bytes);
            result = 1;
        }
    }
    /* The client reads the server's FIN, closes, and TIME-WAIT runs out. */
    char what[48];
    while (result == 0) {
        sync_clocks(t);
        uint8_t b;
        if (synack_recv(st(t, C), t->cfd, &b, 1, 0) == 0)
            break;
        if (!synack_sim_step(d->sim)) {
            printf("  UNEXPECTED: the server's FIN never came\n");
            result = 1;
        }
    }
    d->in_app = true;
    snprintf(what, sizeof(what), "close(%d)", t->cfd);
    row(t, C, what, synack_close(st(t, C), t->cfd));
    d->in_app = false;
    synack_time_t settle = 4 * d->msl + SYNACK_SEC(600);
    synack_sim_run_while(d->sim, no_event, NULL, synack_sim_now(d->sim) + settle);
    if (!d->quiet)
        ladder_flush_tail(&d->ladder);

    unsigned char md[2][EVP_MAX_MD_SIZE];
    unsigned mdlen[2] = {0, 0};
    EVP_DigestFinal_ex(t->md[C], md[C], &mdlen[C]);
    EVP_DigestFinal_ex(t->md[S], md[S], &mdlen[S]);
    bool match = t->received == t->sent && mdlen[C] == mdlen[S] && mdlen[C] > 0 &&
                 memcmp(md[C], md[S], mdlen[C]) == 0;
    if (!match) {
        printf("  UNEXPECTED: the server received other bytes than the client sent\n");
        result = 1;
    }
    uint64_t rtx = synack_stack_stats(st(t, C))->tcp_retrans +
                   synack_stack_stats(st(t, S))->tcp_retrans;
    double secs = t->eof ? (double)(t->end - t->start) / 1e6 : 0;
    double mbps = secs > 0 ? (double)t->received * 8 / secs / 1e6 : 0;
    int n = 0;
    if (cc_err)
        n = snprintf(d->last_line, sizeof(d->last_line),
                     "congestion control: setsockopt(TCP_CONGESTION, \"%s\") failed with %s: "
                     "the stack's default was used\n",
                     d->cc, synack_errname(cc_err) ? synack_errname(cc_err) : strerror(cc_err));
    snprintf(d->last_line + n, sizeof(d->last_line) - (size_t)n,
             "transfer: sent %llu bytes, received %llu bytes, sha256 %s, retransmissions %llu, "
             "duration %.3f s (virtual), goodput %.2f Mbit/s",
             (unsigned long long)t->sent, (unsigned long long)t->received,
             match ? "match" : "MISMATCH", (unsigned long long)rtx, secs, mbps);
    EVP_MD_CTX_free(t->md[C]);
    EVP_MD_CTX_free(t->md[S]);
    free(t);
    return result;
}
