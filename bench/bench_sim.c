/* The CPU cost of the data path: two synack stacks in one process on the
 * simulator, a lossless link with no rate limit (so the only limit is the
 * CPU), one bulk transfer per MTU.  Prints wall-clock goodput against memcpy
 * bandwidth measured in the same run, and nanoseconds per data segment (both
 * stacks, the simulator and the applications' copies included).
 *
 *   bench_sim [MIB [MTU...]]          (defaults: 64 MiB at MTU 1500 and 65535)
 *   bench_sim --quiet MIB MTU         one transfer, one line: for callgrind
 *                                     (bench/run.sh divides its instruction
 *                                     count by the segments printed here)
 *   bench_sim --raw ROUNDS MIB MTU... ROUNDS interleaved rounds (memcpy, then
 *                                     each MTU, per round), one line per
 *                                     measurement for bench/report.py:
 *                                     "sim/memcpy R MB/s", "sim/goodput/MTU R
 *                                     MB/s", "sim/ns/MTU R ns per data segment";
 *                                     with --zc/--csum/--tso/--events, each
 *                                     MTU also runs with them in the same
 *                                     round, tagged "MTU-zc-csum-tso-ev"
 *   bench_sim --tso ...               the sender hands the simulator large
 *                                     segments (TSO) that the link cuts at
 *                                     the MSS, as a NIC would
 *   bench_sim --zc ...                the applications use the zero-copy
 *                                     calls (socket.h): the sender writes
 *                                     its bytes into the send buffer
 *                                     (synack_send_reserve/_commit), the
 *                                     receiver takes them where they lie
 *                                     (synack_recv_peek/_consume)
 *   bench_sim --events ...            the applications act on the stacks'
 *                                     readiness events (synack_set_event_cb)
 *                                     instead of trying every call after
 *                                     every simulator step, and leave the
 *                                     clock to the simulator (which advances
 *                                     its stacks itself): an event-driven
 *                                     embedder's loop
 *   bench_sim --csum ...              checksum offload on both stacks
 *                                     (SYNACK_OFFLOAD_CSUM): the link
 *                                     completes the sender's checksums and
 *                                     the receiving node verifies them
 *                                     before the stack sees the packet
 *                                     (SYNACK_RX_CSUM_VALID), as a NIC would
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 5001
#define BUF (4u << 20)
#define CHUNK 65536

struct result {
    double secs;        /* wall clock */
    uint64_t data_segs; /* data segments that crossed the link (client -> server) */
    uint64_t acks;      /* segments server -> client */
};

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_sim: %s: %s\n", what, strerror(err));
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_int(struct synack_stack *st, int fd, int level, int name, int v)
{
    if (synack_setsockopt(st, fd, level, name, &v, sizeof(v)) < 0)
        die("setsockopt", errno);
}

/* The sender's part of a round: send() from the application's buffer, or
 * write straight into the send buffer (--zc).  Returns the bytes queued. */
static uint64_t app_send(struct synack_stack *st, int fd, const uint8_t *buf, uint64_t left, bool zc,
                         bool events)
{
    uint64_t sent = 0;
    while (sent < left) {
        size_t n = left - sent < CHUNK ? (size_t)(left - sent) : CHUNK;
        if (!zc) {
            ssize_t w = synack_send(st, fd, buf, n, 0);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
            if (events && (size_t)w < n)
                break; /* full: the next writable event says when to go on */
            continue;
        }
        struct iovec iov[CHUNK / 4096 + 1];
        ssize_t w = synack_send_reserve(st, fd, n, iov, (int)(sizeof(iov) / sizeof(iov[0])));
        if (w <= 0)
            break;
        /* The application produces its bytes in place (here: its pattern). */
        size_t k = 0;
        for (int p = 0; k < (size_t)w; p++) {
            memcpy(iov[p].iov_base, buf + (sent + k) % (CHUNK - 4096), /* a piece <= 4 KiB */
                   iov[p].iov_len);
            k += iov[p].iov_len;
        }
        if (synack_send_commit(st, fd, (size_t)w, 0) != w)
            die("synack_send_commit", errno);
        sent += (uint64_t)w;
        if (events && (size_t)w < n)
            break; /* full (the pieces reach 64 KiB): wait for the event */
    }
    return sent;
}

/* The receiver's part: recv() into the application's buffer, or look at
 * the bytes in the receive buffer and let them go (--zc).  Returns the
 * bytes taken. */
static uint64_t app_recv(struct synack_stack *st, int fd, uint8_t *buf, bool zc, bool events)
{
    uint64_t got = 0;
    for (;;) {
        if (!zc) {
            ssize_t r = synack_recv(st, fd, buf, CHUNK, 0);
            if (r <= 0)
                return got;
            got += (uint64_t)r;
            continue;
        }
        struct iovec iov[16];
        ssize_t r = synack_recv_peek(st, fd, iov, 16);
        if (r <= 0)
            return got;
        if (synack_recv_consume(st, fd, (size_t)r) < 0)
            die("synack_recv_consume", errno);
        got += (uint64_t)r;
        /* Fewer than 16 pieces: that was everything (socket.h); the next
         * readable event says when there is more. */
        size_t k = 0;
        int used = 0;
        while (k < (size_t)r)
            k += iov[used++].iov_len;
        if (events && used < 16)
            return got;
    }
}

/* Readiness from the stack's events (--events): what poll() would report. */
struct ready {
    bool in, out;
};

static void on_event(void *user, int fd, short events, void *sock_user)
{
    struct ready *r = user;
    (void)fd;
    (void)sock_user;
    r->in |= (events & (POLLIN | POLLHUP | POLLERR)) != 0;
    r->out |= (events & (POLLOUT | POLLHUP | POLLERR)) != 0;
}

static void transfer(uint64_t bytes, uint16_t mtu, unsigned offload, bool zc, bool events,
                     struct result *out)
{
    struct ready ready[2] = {{false, true}, {true, false}};
    static uint8_t buf[CHUNK];
    struct synack_sim *sim;
    struct synack_stack *st[2];
    int node[2];
    if (synack_sim_new(1, &sim) < 0)
        die("synack_sim_new", ENOMEM);
    for (int i = 0; i < 2; i++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == 0 ? CADDR : SADDR;
        cfg.mtu = mtu;
        cfg.seed = 0;
        cfg.offload = offload;
        node[i] = synack_sim_add_stack(sim, &cfg, &st[i]);
        if (node[i] < 0)
            die("synack_sim_add_stack", -node[i]);
        if (events)
            synack_set_event_cb(st[i], on_event, &ready[i]);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = 50; /* us: a short path, so the window is never the limit */
    lp.queue_limit = 100000;
    int link = synack_sim_link(sim, node[0], node[1], &lp, &lp);
    if (link < 0)
        die("synack_sim_link", -link);

    int lfd = synack_socket(st[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int cfd = synack_socket(st[0], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (lfd < 0 || cfd < 0)
        die("socket", errno);
    set_int(st[1], lfd, SOL_SOCKET, SO_RCVBUF, BUF);
    set_int(st[0], cfd, SOL_SOCKET, SO_SNDBUF, BUF);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(PORT);
    if (synack_bind(st[1], lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        synack_listen(st[1], lfd, 4) < 0)
        die("listen", errno);
    a.sin_addr.s_addr = htonl(SADDR);
    if (synack_connect(st[0], cfd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
        die("connect", errno);

    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    double t0 = now_s();
    uint64_t sent = 0, rcvd = 0;
    int sfd = -1;
    while (rcvd < bytes) {
        if (!events) {
            synack_time_t now = synack_sim_now(sim);
            synack_stack_advance(st[0], now);
            synack_stack_advance(st[1], now);
        }
        if (!events || ready[0].out) {
            ready[0].out = false;
            sent += app_send(st[0], cfd, buf, bytes - sent, zc, events);
        }
        if (sfd < 0)
            sfd = synack_accept(st[1], lfd, NULL, NULL);
        if (sfd >= 0 && (!events || ready[1].in)) {
            ready[1].in = false;
            rcvd += app_recv(st[1], sfd, buf, zc, events);
        }
        if (rcvd < bytes && !synack_sim_step(sim))
            die("transfer stalled", EIO);
    }
    out->secs = now_s() - t0;
    struct synack_sim_link_stats ls;
    synack_sim_link_stats(sim, link, node[0], &ls);
    out->data_segs = ls.sent;
    synack_sim_link_stats(sim, link, node[1], &ls);
    out->acks = ls.sent;
    synack_sim_free(sim);
}

/* memcpy bandwidth over a working set like the transfer's (a 64 KiB chunk
 * into a buffer of the socket buffer's size), bytes per second: the fastest
 * of five passes of at least 64 MiB (a shared machine preempts short ones). */
static double memcpy_bw(uint64_t bytes)
{
    if (bytes < (64u << 20))
        bytes = 64u << 20;
    uint8_t *src = malloc(CHUNK), *dst = malloc(BUF);
    if (!src || !dst)
        die("malloc", ENOMEM);
    memset(src, 1, CHUNK);
    memset(dst, 0, BUF);
    double secs = 1e9;
    for (int pass = 0; pass < 5; pass++) {
        double t0 = now_s();
        for (uint64_t off = 0; off < bytes; off += CHUNK) {
            memcpy(dst + off % BUF, src, CHUNK);
            __asm__ volatile("" : : "r"(dst) : "memory"); /* keep every copy */
        }
        double t = now_s() - t0;
        secs = t < secs ? t : secs;
    }
    volatile uint8_t sink = dst[bytes % BUF];
    (void)sink;
    free(src);
    free(dst);
    return (double)bytes / secs;
}

int main(int argc, char **argv)
{
    bool quiet = false;
    unsigned offload = 0;
    bool zc = false, events = false;
    unsigned raw = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--quiet") == 0)
            quiet = true;
        else if (strcmp(argv[i], "--raw") == 0 && i + 1 < argc)
            raw = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--tso") == 0)
            offload |= SYNACK_OFFLOAD_TSO;
        else if (strcmp(argv[i], "--events") == 0)
            events = true;
        else if (strcmp(argv[i], "--zc") == 0)
            zc = true;
        else if (strcmp(argv[i], "--csum") == 0)
            offload |= SYNACK_OFFLOAD_CSUM;
        else
            break;
    }
    unsigned mib = i < argc ? (unsigned)strtoul(argv[i++], NULL, 10) : 64;
    unsigned mtus[8] = {1500, 65535};
    int nmtu = 0;
    for (; i < argc && nmtu < 8; i++)
        mtus[nmtu++] = (unsigned)strtoul(argv[i], NULL, 10);
    if (nmtu == 0)
        nmtu = 2;
    if (mib == 0 || mib > 4096) {
        fprintf(stderr, "usage: bench_sim [--quiet | --raw ROUNDS] [--tso] [--csum] [--zc] [--events] [MIB (1..4096) [MTU...]]\n");
        return 2;
    }
    uint64_t bytes = (uint64_t)mib << 20;
    if (quiet) {
        struct result r;
        transfer(bytes, (uint16_t)mtus[0], offload, zc, events, &r);
        printf("mtu %u data_segments %llu acks %llu\n", mtus[0], (unsigned long long)r.data_segs,
               (unsigned long long)r.acks);
        return 0;
    }
    for (unsigned r = 1; r <= raw && r <= 1000; r++) {
        printf("sim/memcpy\t%u\t%.1f\n", r, memcpy_bw(bytes * 4) / 1e6);
        for (int k = 0; k < nmtu; k++) {
            if (mtus[k] < 68 || mtus[k] > 65535)
                die("MTU out of 68..65535", EINVAL);
            /* The plain applications, then (when any is asked for) the same
             * with the options, in the same round: "sim/goodput/1500-zc-csum-ev". */
            for (int variant = 0; variant < ((offload || zc || events) ? 2 : 1); variant++) {
                struct result res;
                char tag[32];
                snprintf(tag, sizeof(tag), "%u%s%s%s%s", mtus[k], variant && zc ? "-zc" : "",
                         variant && (offload & SYNACK_OFFLOAD_CSUM) ? "-csum" : "",
                         variant && (offload & SYNACK_OFFLOAD_TSO) ? "-tso" : "",
                         variant && events ? "-ev" : "");
                transfer(bytes, (uint16_t)mtus[k], variant ? offload : 0, variant && zc,
                         variant && events, &res);
                printf("sim/goodput/%s\t%u\t%.1f\n", tag, r, (double)bytes / res.secs / 1e6);
                printf("sim/ns/%s\t%u\t%.0f\n", tag, r, res.secs * 1e9 / (double)res.data_segs);
            }
        }
        fflush(stdout);
    }
    if (raw)
        return 0;
    double mem = memcpy_bw(bytes * 4);
    printf("%u MiB per transfer, lossless link, no rate limit%s; memcpy %.2f GB/s in the same run.\n\n",
           mib,
           offload & SYNACK_OFFLOAD_TSO ? ", TSO on" : offload ? ", checksum offload on" : "", mem / 1e9);
    printf("| MTU | goodput (Gbit/s) | of memcpy | data segments | ACKs | ns per data segment |\n");
    printf("|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < nmtu; k++) {
        if (mtus[k] < 68 || mtus[k] > 65535)
            die("MTU out of 68..65535", EINVAL);
        struct result r;
        transfer(bytes, (uint16_t)mtus[k], offload, zc, events, &r);
        double bps = (double)bytes / r.secs;
        printf("| %u | %.2f | %.1f%% | %llu | %llu | %.0f |\n", mtus[k], bps * 8 / 1e9,
               100 * bps / mem, (unsigned long long)r.data_segs, (unsigned long long)r.acks,
               r.secs * 1e9 / (double)r.data_segs);
    }
    return 0;
}
