/* The runtime shared by `synack serve` and `synack connect` (see net.h). */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "errname.h"
#include "net_draw.h"
#include "netcfg.h"
#include "opt.h"
#include "synack/socket.h"

const char net_opts_help[] =
    "device (one of):\n"
    "  --tun NAME          create TUN interface NAME (IPv4 packets), or attach to a\n"
    "                      persistent one (ip tuntap add NAME mode tun)\n"
    "  --tap NAME          the same with a TAP interface (Ethernet; synack does ARP)\n"
    "  --addr A.B.C.D/P    synack's own address and subnet (required)\n"
    "  --peer A.B.C.D      give the kernel's side this address (in the subnet); without it\n"
    "                      synack only brings the interface up, the rest is yours to set\n"
    "  --mtu N             link MTU, 68..65535 (default 1500); synack's MSS is MTU - 40\n"
    "  --offload           TUN or TAP: IFF_VNET_HDR with TSO/GSO (segments up to 64 KiB,\n"
    "                      cut by the kernel), GRO and partial checksums, where the kernel\n"
    "                      agrees\n"
    "observing:\n"
    "  --trace             print each connection's ladder diagram when it ends\n"
    "  --trace-rows N      rows per ladder at most (default 60; 0: all)\n"
    "  --pcap FILE         write the packets on the device to FILE (pcap, raw IPv4)\n"
    "  -q, --quiet         no counters at exit\n"
    "impairment inside synack (seeded: --seed N):\n"
    "  --loss P --dup P --reorder P --delay MS            on what synack sends\n"
    "  --in-loss P --in-dup P --in-reorder P --in-delay MS on what it receives\n"
    "                      P is a percentage, 0..100 (1 and 1% both mean 1%)\n"
    "limits:\n"
    "  --close-wait SEC    at exit, wait this long for closing handshakes (default 5)\n"
    "  --timeout SEC       give up after this long (default: never)\n"
    "  --sndbuf B --rcvbuf B  socket buffer sizes (default: 256k, or 32 segments if\n"
    "                      more; k and m suffixes)\n"
    "  --max-conns N       connections at once (default: one per 16 KiB of RAM, at most\n"
    "                      1048576; an idle connection costs a few hundred bytes)\n"
    "pictures, drawn at exit from the device's capture (synack's side with its stack's\n"
    "states and numbers, the kernel's inferred):\n";

void net_opts_default(struct net_opts *o, uint16_t port)
{
    memset(o, 0, sizeof(*o));
    o->mtu = 1500;
    o->port = port;
    o->trace_rows = 60;
    o->seed = 1;
    o->close_wait = SYNACK_SEC(5);
    o->max_conns = net_default_max_conns();
    o->trace_out = stdout;
}

/* The default connection limit follows memory, not a constant: one
 * connection per 16 KiB of RAM (an idle one costs ~300 bytes, a busy one
 * its buffers' chunks), between 1024 and 1048576. */
static uint64_t ram_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 64u << 20;
}

uint32_t net_default_max_conns(void)
{
    uint64_t n = ram_bytes() / (16u << 10);
    return (uint32_t)(n < 1024 ? 1024 : n > NET_MAX_CONNS ? NET_MAX_CONNS : n);
}

/* The stack's memory budget follows memory too, as Linux's tcp_mem does
 * (its hard limit is near a tenth of RAM): a sixteenth of RAM, never less
 * than the library's default.  Without it the default 128 MiB would stop
 * a large machine's server at about 400,000 idle connections, far below
 * the connection limit above. */
uint64_t net_default_mem_max(uint64_t lib_default)
{
    uint64_t m = ram_bytes() / 16;
    return m > lib_default ? m : lib_default;
}

synack_time_t net_now(void)
{
    return synack_clock_now();
}

static int bad(const char *cmd, const char *opt, const char *arg, const char *want)
{
    opt_bad(cmd, opt, arg, want);
    return -1;
}

/* 1 when the value was taken, -1 (the message printed) when not. */
static int take_ulong(const char *cmd, const char *opt, const char *arg, unsigned long lo,
                      unsigned long hi, unsigned long *v)
{
    return opt_ulong(cmd, opt, arg, lo, hi, v) ? 1 : -1;
}

static int take_percent(const char *cmd, const char *opt, const char *arg, double *out)
{
    return opt_percent(cmd, opt, arg, out) ? 1 : -1;
}

/* A duration in milliseconds or seconds (decimals allowed), up to `max` of them. */
static int take_time(const char *cmd, const char *opt, const char *arg, bool seconds, double max,
                     synack_time_t *out)
{
    double v;
    if (!opt_double(cmd, opt, arg, 0, max, seconds ? "seconds" : "milliseconds", &v))
        return -1;
    *out = (synack_time_t)(v * (seconds ? 1e6 : 1e3));
    return 1;
}

static bool parse_ip(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

static bool parse_bytes(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return false;
    if (*end == 'k' || *end == 'K')
        v *= 1024, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1024 * 1024, end++;
    if (*end || v < 1024 || v > (64ul << 20))
        return false;
    *out = (uint32_t)v;
    return true;
}

int net_opt(struct net_opts *o, const char *cmd, int c, const char *arg, int argc, char **argv,
            int *next)
{
    unsigned long v;
    switch (c) {
    case NET_OPT_TUN:
    case NET_OPT_TAP:
        if (strlen(arg) == 0 || strlen(arg) >= 16)
            return bad(cmd, c == NET_OPT_TUN ? "tun" : "tap", arg, "an interface name of 1..15 bytes");
        if (o->kind && o->kind != (c == NET_OPT_TUN ? SYNACK_DEV_TUN : SYNACK_DEV_TAP)) {
            fprintf(stderr, "synack %s: --tun and --tap exclude each other: give one device\n", cmd);
            return -1;
        }
        o->kind = c == NET_OPT_TUN ? SYNACK_DEV_TUN : SYNACK_DEV_TAP;
        o->ifname = arg;
        return 1;
    case NET_OPT_ADDR: {
        char ip[32];
        const char *slash = strchr(arg, '/');
        size_t len = slash ? (size_t)(slash - arg) : strlen(arg);
        if (!slash || len >= sizeof(ip))
            return bad(cmd, "addr", arg, "A.B.C.D/PREFIX with a prefix of 1..30");
        memcpy(ip, arg, len);
        ip[len] = 0;
        char *end;
        v = strtoul(slash + 1, &end, 10);
        if (!parse_ip(ip, &o->addr) || end == slash + 1 || *end || v < 1 || v > 30)
            return bad(cmd, "addr", arg, "A.B.C.D/PREFIX with a prefix of 1..30");
        o->prefix = (uint8_t)v;
        return 1;
    }
    case NET_OPT_PEER:
        if (!parse_ip(arg, &o->peer))
            return bad(cmd, "peer", arg, "an IPv4 address, A.B.C.D");
        return 1;
    case NET_OPT_MTU:
        if (take_ulong(cmd, "mtu", arg, 68, 65535, &v) < 0)
            return -1;
        o->mtu = (uint16_t)v;
        return 1;
    case NET_OPT_PORT:
        if (take_ulong(cmd, "port", arg, 1, 65535, &v) < 0)
            return -1;
        o->port = (uint16_t)v;
        return 1;
    case NET_OPT_APP:
        o->app = arg;
        return 1;
    case NET_OPT_PCAP:
        o->pcap = arg;
        return 1;
    case NET_OPT_SVG:
        o->draw.svg = arg;
        return 1;
    case NET_OPT_HTML:
        o->draw.html = arg;
        return 1;
    case NET_OPT_PLOT:
        return own_draw_plot_opt(&o->draw, cmd, arg, argc, argv, next) ? 1 : -1;
    case NET_OPT_SERIES:
        o->draw.series = arg;
        return 1;
    case NET_OPT_SERIES_MAX:
        return own_draw_series_max_opt(&o->draw, cmd, arg) ? 1 : -1;
    case NET_OPT_ALL:
        o->draw.all = true;
        return 1;
    case NET_OPT_TRACE:
        o->trace = true;
        return 1;
    case NET_OPT_TRACE_ROWS:
        if (take_ulong(cmd, "trace-rows", arg, 0, 10000000, &v) < 0)
            return -1;
        o->trace_rows = (unsigned)v;
        return 1;
    case NET_OPT_SEED:
        if (take_ulong(cmd, "seed", arg, 0, ULONG_MAX, &v) < 0)
            return -1;
        o->seed = v;
        o->seed_given = true;
        return 1;
    case NET_OPT_LOSS: return take_percent(cmd, "loss", arg, &o->out.loss);
    case NET_OPT_DUP: return take_percent(cmd, "dup", arg, &o->out.dup);
    case NET_OPT_REORDER: return take_percent(cmd, "reorder", arg, &o->out.reorder);
    case NET_OPT_DELAY: return take_time(cmd, "delay", arg, false, 1e6, &o->out.delay);
    case NET_OPT_IN_LOSS: return take_percent(cmd, "in-loss", arg, &o->in.loss);
    case NET_OPT_IN_DUP: return take_percent(cmd, "in-dup", arg, &o->in.dup);
    case NET_OPT_IN_REORDER: return take_percent(cmd, "in-reorder", arg, &o->in.reorder);
    case NET_OPT_IN_DELAY: return take_time(cmd, "in-delay", arg, false, 1e6, &o->in.delay);
    case NET_OPT_CLOSE_WAIT: return take_time(cmd, "close-wait", arg, true, 1e6, &o->close_wait);
    case NET_OPT_TIMEOUT: return take_time(cmd, "timeout", arg, true, 1e6, &o->timeout);
    case NET_OPT_SNDBUF:
        return parse_bytes(arg, &o->sndbuf) ? 1 : bad(cmd, "sndbuf", arg, "a size, 1k..64m");
    case NET_OPT_RCVBUF:
        return parse_bytes(arg, &o->rcvbuf) ? 1 : bad(cmd, "rcvbuf", arg, "a size, 1k..64m");
    case NET_OPT_OFFLOAD:
        o->offload = true;
        return 1;
    case NET_OPT_MAX_CONNS:
        if (take_ulong(cmd, "max-conns", arg, 1, NET_MAX_CONNS, &v) < 0)
            return -1;
        o->max_conns = (uint32_t)v;
        return 1;
    case NET_OPT_QUIET:
    case 'q':
        o->quiet = true;
        return 1;
    default:
        return 0;
    }
}

int net_opts_check(struct net_opts *o, const char *cmd)
{
    if (!o->kind) {
        fprintf(stderr, "synack %s: say which device: --tun NAME or --tap NAME\n", cmd);
        return -1;
    }
    if (!o->addr) {
        fprintf(stderr, "synack %s: --addr A.B.C.D/PREFIX is required\n", cmd);
        return -1;
    }
    uint32_t mask = ~0u << (32 - o->prefix);
    /* The kernel's side must be on synack's subnet: the only route either
     * side gets is to that subnet, through the device. */
    if (o->peer && ((o->peer & mask) != (o->addr & mask) || o->peer == o->addr ||
                    (o->peer & ~mask) == 0 || (o->peer & ~mask) == ~mask)) {
        fprintf(stderr, "synack %s: --peer must be another host address of %s's subnet\n", cmd,
                "--addr");
        return -1;
    }
    return 0;
}

/* ---- packets on their way ------------------------------------------------ */

/* A packet synack sends reaches the device (after the output impairment). */
static void wire_out(void *user, const uint8_t *pkt, size_t len, synack_time_t sent,
                     synack_time_t now)
{
    struct net *n = user;
    if (n->pcap) {
        synack_pcap_write(n->pcap, now + n->wall_offset, pkt, len);
        net_draw_out(n->draw, pkt, len);
    }
    if (n->trace)
        nettrace_packet(n->trace, 0, pkt, len, sent, now, NULL);
    synack_dev_output(n->dev, pkt, len);
}

static void dropped_out(void *user, const uint8_t *pkt, size_t len, synack_time_t now,
                        const char *why)
{
    struct net *n = user;
    if (n->trace)
        nettrace_packet(n->trace, 0, pkt, len, now, now, why);
}

static int net_output(void *user, const uint8_t *pkt, size_t len)
{
    struct net *n = user;
    synack_time_t now = synack_clock_now();
    if (impair_active(&n->imp_out)) {
        impair_send(&n->imp_out, pkt, len, now);
        return 0;
    }
    if (n->pcap) {
        synack_pcap_write(n->pcap, now + n->wall_offset, pkt, len);
        net_draw_out(n->draw, pkt, len);
    }
    if (n->trace)
        nettrace_packet(n->trace, 0, pkt, len, now, now, NULL);
    return synack_dev_output(n->dev, pkt, len);
}

static int seg_output(void *user, const uint8_t *pkt, size_t len)
{
    return net_output(user, pkt, len);
}

/* --offload: a TSO packet goes to the kernel whole, unless synack itself
 * looks at or impairs what it sends: then it is cut here (as the kernel
 * would) so that the pcap, the trace and the impairment see wire packets. */
static int net_output_meta(void *user, const uint8_t *pkt, size_t len,
                           const struct synack_pkt_meta *m)
{
    struct net *n = user;
    if (!n->pcap && !n->trace && !impair_active(&n->imp_out))
        return synack_dev_output_meta(n->dev, pkt, len, m);
    int rc = synack_gso_segment(pkt, len, m, n->segbuf, 65535, seg_output, n);
    return rc < 0 ? (rc == SYNACK_WIRE_EINVAL ? -EINVAL : rc) : 0;
}

/* A packet from the kernel reaches the stack (after the input impairment),
 * with SYNACK_RX_* flags: SYNACK_RX_BATCH when it
 * comes straight from a device read (the loop flushes the held ACKs after
 * the read), none when an impairment queue releases it later on its own. */
static void input_flags(struct net *n, const uint8_t *pkt, size_t len, synack_time_t now,
                        unsigned rx_flags)
{
    if (n->trace)
        nettrace_input_begin(n->trace);
    int rc = synack_stack_input_meta(n->stack, pkt, len, now, rx_flags);
    net_draw_in_done(n->draw, pkt, len, false);
    net_draw_sample(n->draw, n->stack, now + n->wall_offset);
    if (n->trace)
        nettrace_input_done(n->trace, pkt, len, now, rc == -EBADMSG ? "malformed, dropped" : NULL);
}

static void deliver_in(void *user, const uint8_t *pkt, size_t len, synack_time_t sent,
                       synack_time_t now)
{
    (void)sent;
    input_flags(user, pkt, len, now, 0);
}

static void dropped_in(void *user, const uint8_t *pkt, size_t len, synack_time_t now,
                       const char *why)
{
    struct net *n = user;
    net_draw_in_done(n->draw, pkt, len, true);
    if (n->trace)
        nettrace_packet(n->trace, 1, pkt, len, now, now, why);
}

static int net_input(void *user, const uint8_t *pkt, size_t len, synack_time_t now)
{
    struct net *n = user;
    if (n->pcap) {
        synack_pcap_write(n->pcap, now + n->wall_offset, pkt, len);
        net_draw_in(n->draw, pkt, len);
    }
    if (impair_active(&n->imp_in)) {
        impair_send(&n->imp_in, pkt, len, now);
        net_draw_in_unknown(n->draw); /* its fate is decided later */
    } else {
        /* As without the capture: the ACKs once per batch (a capture must
         * not change what it shows). */
        input_flags(n, pkt, len, now, SYNACK_RX_BATCH);
    }
    return 0;
}

static int net_input_meta(void *user, const uint8_t *pkt, size_t len, synack_time_t now,
                          unsigned rx_flags)
{
    struct net *n = user;
    return synack_stack_input_meta(n->stack, pkt, len, now, rx_flags);
}

static synack_time_t impair_deadline(void *user) { return impair_next(user); }
static void impair_run(void *user, synack_time_t now) { impair_advance(user, now); }

/* ---- hooks from the stack ------------------------------------------------ */

static bool counted(enum synack_tcp_state st)
{
    return st != SYNACK_CLOSED && st != SYNACK_LISTEN && st != SYNACK_TIME_WAIT;
}

static void net_on_state(void *user, uint32_t conn_id, const struct synack_conn_addr *t,
                         enum synack_tcp_state from, enum synack_tcp_state to)
{
    struct net *n = user;
    (void)conn_id;
    if (counted(from) && !counted(to) && n->open_conns > 0)
        n->open_conns--;
    else if (!counted(from) && counted(to))
        n->open_conns++;
    if (n->trace)
        nettrace_state(n->trace, t, from, to, synack_clock_now());
    net_draw_state(n->draw, t, to);
}

void net_mark_ready(struct net *n, int fd)
{
    if (fd < 0 || (uint32_t)fd >= n->fd_cap || n->queued[fd])
        return;
    n->queued[fd] = 1;
    n->ready[(n->ready_head + n->nready) % n->fd_cap] = fd;
    n->nready++;
}

static void net_on_event(void *user, int fd, short events, void *sock_user)
{
    (void)events;
    (void)sock_user;
    net_mark_ready(user, fd);
}

int net_next_ready(struct net *n)
{
    if (n->nready == 0)
        return -1;
    int fd = n->ready[n->ready_head];
    n->ready_head = (n->ready_head + 1) % n->fd_cap;
    n->nready--;
    n->queued[fd] = 0;
    return fd;
}

/* ---- signals ------------------------------------------------------------- */

static void print_counters(FILE *out, struct net *const *nets, unsigned k);

/* serve --threads: the first queue's thread owns the signals and passes them
 * on to the others through their eventfds, which add up what is written:
 * each stop adds 1 (a second one means "reset now", on_stop), each counter
 * report NET_WAKE_REPORT, so that one read tells both apart. */
#define NET_WAKE_REPORT (UINT64_C(1) << 32)

static void wake_queues(struct net *n, uint64_t what)
{
    for (unsigned i = 0; i < n->nwake; i++)
        if (write(n->wake[i], &what, sizeof(what)) < 0)
            fprintf(stderr, "synack %s: cannot signal thread %u: %s\n", n->cmd, i + 1,
                    strerror(errno));
}

void net_stop_queues(struct net *n)
{
    wake_queues(n, 1);
}

/* SIGUSR1: the counters now, drops by reason among them; the server carries
 * on.  With several queues each thread prints its own stack's (they belong
 * to their threads), as one write so that the threads' lines do not mix. */
static void report_counters(struct net *n)
{
    if (n->o.threads <= 1) {
        print_counters(stderr, &n, 1);
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        fprintf(stderr, "synack %s: thread %u: cannot report: %s\n", n->cmd, n->index,
                strerror(errno));
        return;
    }
    fprintf(m, "synack %s: thread %u of %u (the sum of all at exit):\n", n->cmd, n->index,
            n->o.threads);
    print_counters(m, &n, 1);
    if (fclose(m) == 0)
        fwrite(buf, 1, len, stderr);
    free(buf);
}

static void on_signal(void *user, int fd, uint32_t events)
{
    struct net *n = user;
    (void)events;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1) {
            wake_queues(n, NET_WAKE_REPORT);
            report_counters(n);
            continue;
        }
        if (n->stop) {
            /* A second one: no more waiting for handshakes. */
            n->o.close_wait = 0;
        }
        n->stop = true;
        net_stop_queues(n);
        if (!n->o.quiet)
            fprintf(stderr, "synack %s: %s, closing\n", n->cmd, strsignal((int)si.ssi_signo));
    }
}

/* A queue's thread signalled by the first (on_signal): the value read is the
 * stops and reports since the last read (NET_WAKE_REPORT). */
static void on_stop(void *user, int fd, uint32_t events)
{
    struct net *n = user;
    (void)events;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        return;
    for (uint64_t r = v / NET_WAKE_REPORT; r > 0; r--)
        report_counters(n);
    uint64_t stops = v % NET_WAKE_REPORT;
    if (stops == 0)
        return;
    if (n->stop || stops >= 2)
        n->o.close_wait = 0;
    n->stop = true;
}

static int setup_signals(struct net *n)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    n->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (n->sigfd < 0)
        return -errno;
    /* Writing the ladders or a file to a closed pipe is an error to report,
     * not a reason to die. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    return synack_loop_watch(n->loop, n->sigfd, EPOLLIN, on_signal, n);
}

/* ---- start and stop -------------------------------------------------------- */

static int fail(struct net *n, const char *what, int err)
{
    char e[96];
    fprintf(stderr, "synack %s: %s: %s\n", n->cmd, what, net_errstr(e, sizeof(e), err));
    if (err == -EPERM || err == -EACCES)
        fprintf(stderr, "synack %s: creating and configuring an interface needs root "
                        "(CAP_NET_ADMIN)\n", n->cmd);
    return -1;
}

static void net_init(struct net *n, const char *cmd, const struct net_opts *o, unsigned index)
{
    memset(n, 0, sizeof(*n));
    n->o = *o;
    n->cmd = cmd;
    n->index = index;
    n->sigfd = -1;
    n->stopfd = -1;
    n->t0 = synack_clock_now();
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    n->wall_offset = (synack_time_t)rt.tv_sec * 1000000u + (synack_time_t)rt.tv_nsec / 1000u -
                     synack_clock_now();
}

/* The device: a new interface named o.ifname, or a queue of `name` (an
 * interface a first queue created). */
static int open_dev(struct net *n, const char *name)
{
    const struct net_opts *o = &n->o;
    struct synack_dev_config dc;
    synack_dev_config_default(&dc);
    dc.kind = o->kind;
    dc.name = name;
    dc.mtu = o->mtu;
    dc.addr = o->addr;
    dc.prefix_len = o->prefix;
    dc.offload = o->offload ? SYNACK_OFFLOAD_TSO : 0;
    dc.multi_queue = o->threads > 1;
    int rc = synack_dev_open(&dc, &n->dev);
    if (rc < 0) {
        char what[96];
        snprintf(what, sizeof(what), "cannot %s %s %s", n->index ? "add a queue to" : "create",
                 o->kind == SYNACK_DEV_TAP ? "TAP" : "TUN", name);
        fail(n, what, rc);
        if (rc == -EINVAL && dc.multi_queue)
            fprintf(stderr, "synack %s: --threads needs a multi-queue interface: a new one, or "
                            "one made with `ip tuntap add %s mode tun multi_queue`\n",
                    n->cmd, name);
        return -1;
    }
    return 0;
}

int net_link_up(struct net *n)
{
    const struct net_opts *o = &n->o;
    const char *ifname = synack_dev_name(n->dev);
    int rc;
    netcfg_no_ipv6(ifname); /* best effort: without IPv6 in the kernel there is nothing to turn off */
    if ((rc = netcfg_link_up(ifname, o->mtu)) < 0)
        return fail(n, "cannot bring the interface up", rc);
    if (o->peer && (rc = netcfg_add_addr(ifname, o->peer, o->prefix)) < 0)
        return fail(n, "cannot give the kernel's side its address", rc);
    if ((rc = netcfg_wait_running(ifname, 3000)) < 0)
        return fail(n, "the interface did not come up", rc);
    return 0;
}

/* The stack on the device, its loop and the hooks (pcap, trace, pictures,
 * impairment); no signals. */
static int start_stack(struct net *n)
{
    const struct net_opts *o = &n->o;
    unsigned threads = o->threads > 1 ? o->threads : 1;
    int rc;
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = o->addr;
    cfg.mtu = o->mtu;
    /* Without --seed the stack keeps the random secret synack_config_default
     * drew from getrandom(): ISNs and ports differ from run to run.  With
     * it, each queue's stack gets its own. */
    if (o->seed_given)
        cfg.seed = o->seed + n->index;
    cfg.max_conns = o->max_conns + 64;    /* room for half-open ones (TIME-WAIT are records) */
    cfg.max_sockets = o->max_conns + 16;
    cfg.mem_max = net_default_mem_max(cfg.mem_max) / threads; /* the budget is for all queues */
    /* Buffers of at least 32 full-size segments: 256 KiB is 180 segments
     * at MTU 1500 but only 4 at MTU 65535, too few to keep a window open. */
    uint32_t segs32 = 32u * (o->mtu - 40u);
    cfg.sndbuf = o->sndbuf ? o->sndbuf : segs32 > cfg.sndbuf ? segs32 : cfg.sndbuf;
    cfg.rcvbuf = o->rcvbuf ? o->rcvbuf : segs32 > cfg.rcvbuf ? segs32 : cfg.rcvbuf;
    cfg.on_state = net_on_state;
    cfg.on_state_user = n;
    /* The buffers' chunks from huge pages: a bulk sender's first fill of
     * its send buffer then costs a few page faults, not one per 4 KiB
     * (docs/benchmarks.md, "The send buffer's first fill"). */
    if ((rc = synack_chunk_pool_new(&n->pool)) < 0)
        return fail(n, "out of memory", rc);
    cfg.alloc = synack_chunk_pool_alloc;
    cfg.alloc_user = n->pool;
    if ((rc = synack_stack_new(&cfg, net_output, n, &n->stack)) < 0)
        return fail(n, "cannot create the stack", rc);
    if (synack_dev_offload(n->dev)) {
        n->segbuf = malloc(65535);
        if (!n->segbuf)
            return fail(n, "out of memory", -ENOMEM);
        synack_stack_set_output_meta(n->stack, net_output_meta, n, synack_dev_offload(n->dev));
    }
    n->fd_cap = cfg.max_sockets + 3;
    n->ready = calloc(n->fd_cap, sizeof(*n->ready));
    n->queued = calloc(n->fd_cap, 1);
    if (!n->ready || !n->queued)
        return fail(n, "out of memory", -ENOMEM);
    synack_set_event_cb(n->stack, net_on_event, n);

    if ((rc = synack_loop_new(n->stack, n->dev, &n->loop)) < 0)
        return fail(n, "cannot create the event loop", rc);
    uint64_t seed = o->seed + n->index;
    impair_init(&n->imp_out, &o->out, seed * 2 + 1, wire_out, dropped_out, n);
    impair_init(&n->imp_in, &o->in, seed * 2 + 2, deliver_in, dropped_in, n);
    /* The device's packets go straight to the stack, flags and all, unless
     * synack looks at or impairs them (then partial checksums are completed
     * first, and the pcap shows packets as they would be on a wire). */
    if (o->pcap || own_draw_wanted(&o->draw) || o->trace || impair_active(&n->imp_in))
        synack_loop_set_rx(n->loop, net_input, n);
    else
        synack_loop_set_rx_meta(n->loop, net_input_meta, n);
    if (impair_active(&n->imp_out))
        synack_loop_add_timer(n->loop, impair_deadline, impair_run, &n->imp_out);
    if (impair_active(&n->imp_in))
        synack_loop_add_timer(n->loop, impair_deadline, impair_run, &n->imp_in);
    const char *pcap = o->pcap;
    if (own_draw_wanted(&o->draw)) {
        if (net_draw_new(&o->draw, o->pcap, o->addr, &n->draw) < 0)
            return fail(n, "cannot keep a capture for the pictures", -ENOMEM);
        pcap = net_draw_pcap(n->draw);
    }
    if (pcap && (rc = synack_pcap_open(pcap, SYNACK_PCAP_LINKTYPE_RAW, 0, &n->pcap)) < 0)
        return fail(n, pcap, rc);
    if (o->trace && nettrace_new(o->trace_out, o->addr, o->trace_rows, n->t0, &n->trace) < 0)
        return fail(n, "trace", -ENOMEM);
    return 0;
}

int net_start(struct net *n, const char *cmd, const struct net_opts *o)
{
    net_init(n, cmd, o, 0);
    if (open_dev(n, o->ifname) < 0)
        return -1;
    if (o->threads > 1) {
        n->wake = calloc(o->threads - 1, sizeof(*n->wake));
        if (!n->wake)
            return fail(n, "out of memory", -ENOMEM);
    } else if (net_link_up(n) < 0) {
        return -1;
    }
    if (start_stack(n) < 0)
        return -1;
    int rc = setup_signals(n);
    return rc < 0 ? fail(n, "cannot set up signal handling", rc) : 0;
}

int net_start_queue(struct net *n, struct net *first, unsigned index)
{
    net_init(n, first->cmd, &first->o, index);
    if (!first->wake || first->nwake + 1 >= first->o.threads) {
        fprintf(stderr, "synack %s: no room for queue %u\n", n->cmd, index);
        return -1;
    }
    if (open_dev(n, synack_dev_name(first->dev)) < 0 || start_stack(n) < 0)
        return -1;
    n->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->stopfd < 0)
        return fail(n, "eventfd", -errno);
    int rc = synack_loop_watch(n->loop, n->stopfd, EPOLLIN, on_stop, n);
    if (rc < 0)
        return fail(n, "cannot watch the stop signal", rc);
    first->wake[first->nwake++] = n->stopfd;
    return 0;
}

void net_round(struct net *n, synack_time_t until)
{
    synack_loop_run_once(n->loop, until);
    /* Timers and the applications' calls ran: the stack's numbers now. */
    net_draw_sample(n->draw, n->stack, synack_clock_now() + n->wall_offset);
    nettrace_flush(n->trace);
}

bool net_wait_closed(struct net *n)
{
    synack_time_t deadline = synack_clock_now() + n->o.close_wait;
    while (n->open_conns > 0 && synack_clock_now() < deadline && n->o.close_wait > 0) {
        net_round(n, deadline);
        while (net_next_ready(n) >= 0)
            ; /* every descriptor is closed: nothing to do for them */
    }
    return n->open_conns == 0;
}

const char *net_rate(char *buf, size_t cap, uint64_t bytes, synack_time_t us)
{
    double s = us > 0 ? (double)us / 1e6 : 1e-6;
    double r = (double)bytes / s;
    if (r >= 1e9)
        snprintf(buf, cap, "%.2f GB/s", r / 1e9);
    else if (r >= 1e6)
        snprintf(buf, cap, "%.1f MB/s", r / 1e6);
    else
        snprintf(buf, cap, "%.1f kB/s", r / 1e3);
    return buf;
}

const char *net_errstr(char *buf, size_t cap, int err)
{
    if (err < 0)
        err = -err;
    const char *name = synack_errname(err);
    snprintf(buf, cap, "%s (%s)", name ? name : "?", strerror(err));
    return buf;
}

/* Every drop counter of the stacks that is not zero, by name (the stack's
 * name table, so counters added later show up too), summed over them. */
static void print_drops(FILE *out, struct net *const *nets, unsigned k)
{
    char line[1024];
    size_t len = 0;
    line[0] = 0;
    const char *name;
    for (unsigned i = 0; (name = synack_stack_stat_name(i)) != NULL; i++) {
        if (!strstr(name, "drop") || !strcmp(name, "tcp_drop"))
            continue;
        uint64_t sum = 0, v;
        for (unsigned j = 0; j < k; j++)
            if (synack_stack_stat(nets[j]->stack, name, &v) == 0)
                sum += v;
        if (sum == 0)
            continue;
        int w = snprintf(line + len, sizeof(line) - len, "%s%s %llu", len ? ", " : "", name,
                         (unsigned long long)sum);
        if (w < 0 || (size_t)w >= sizeof(line) - len)
            break;
        len += (size_t)w;
    }
    fprintf(out, "synack %s: drops by reason: %s\n", nets[0]->cmd, len ? line : "none");
}

/* a += b, counter by counter: the stats structs are all uint64_t. */
static void add_counters(uint64_t *a, const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] += b[i];
}
#define ADD_COUNTERS(a, b) add_counters((uint64_t *)(a), (const uint64_t *)(b), sizeof(*(a)) / 8)
_Static_assert(sizeof(struct synack_stack_stats) % 8 == 0, "counters are uint64_t");
_Static_assert(sizeof(struct synack_dev_stats) % 8 == 0, "counters are uint64_t");
_Static_assert(sizeof(struct synack_loop_stats) % 8 == 0, "counters are uint64_t");

static void print_counters(FILE *out, struct net *const *nets, unsigned k)
{
    const struct net *n = nets[0];
    struct synack_stack_stats sum, *s = &sum;
    struct synack_dev_stats d, dj;
    struct synack_loop_stats l, lj;
    memset(&sum, 0, sizeof(sum));
    memset(&d, 0, sizeof(d));
    memset(&l, 0, sizeof(l));
    uint64_t late_max = 0;
    struct impair imp_out, imp_in;
    memset(&imp_out, 0, sizeof(imp_out));
    memset(&imp_in, 0, sizeof(imp_in));
    for (unsigned j = 0; j < k; j++) {
        ADD_COUNTERS(&sum, synack_stack_stats(nets[j]->stack));
        synack_dev_stats(nets[j]->dev, &dj);
        ADD_COUNTERS(&d, &dj);
        synack_loop_stats(nets[j]->loop, &lj);
        ADD_COUNTERS(&l, &lj);
        if (lj.late_max_us > late_max)
            late_max = lj.late_max_us;
        imp_out.lost += nets[j]->imp_out.lost;
        imp_out.duplicated += nets[j]->imp_out.duplicated;
        imp_out.reordered += nets[j]->imp_out.reordered;
        imp_in.lost += nets[j]->imp_in.lost;
        imp_in.duplicated += nets[j]->imp_in.duplicated;
        imp_in.reordered += nets[j]->imp_in.reordered;
    }
    l.late_max_us = late_max; /* the worst, not a sum */
    fprintf(out, "synack %s: device %s: in %llu packets (%llu bytes, %llu other), out %llu "
                    "packets (%llu bytes, %llu dropped, %llu held back)\n",
            n->cmd, synack_dev_name(n->dev), (unsigned long long)d.rx_packets,
            (unsigned long long)d.rx_bytes, (unsigned long long)d.rx_other,
            (unsigned long long)d.tx_packets, (unsigned long long)d.tx_bytes,
            (unsigned long long)d.tx_dropped, (unsigned long long)d.tx_backlogged);
    if (n->dev && synack_dev_kind(n->dev) == SYNACK_DEV_TAP)
        fprintf(out, "synack %s: arp: %llu requests in, %llu replies out, %llu requests out, "
                        "%llu replies in, %llu packets held, %llu dropped\n",
                n->cmd, (unsigned long long)d.arp_requests_in, (unsigned long long)d.arp_replies_out,
                (unsigned long long)d.arp_requests_out, (unsigned long long)d.arp_replies_in,
                (unsigned long long)d.arp_queued, (unsigned long long)d.arp_queue_drops);
    fprintf(out, "synack %s: tcp: %llu connections opened, %llu accepted, %llu reset, "
                    "%llu segments retransmitted, %llu RSTs sent; icmp: %llu echo replies\n",
            n->cmd, (unsigned long long)s->tcp_conns_opened,
            (unsigned long long)s->tcp_conns_accepted, (unsigned long long)s->tcp_conns_reset,
            (unsigned long long)s->tcp_retrans, (unsigned long long)s->tcp_rst_out,
            (unsigned long long)s->icmp_echo_replied);
    /* The SYN-flood defence (RFC 4987) at work: docs/serve.md reads it.
     * Over several queues the peak is the sum of each one's. */
    fprintf(out, "synack %s: syn cache: %llu half-open now, peak %llu, %llu added, %llu timed "
                    "out, %llu overflows; syn cookies: %llu sent, %llu validated, %llu failed\n",
            n->cmd, (unsigned long long)s->tcp_halfopen, (unsigned long long)s->tcp_halfopen_peak,
            (unsigned long long)s->tcp_syncache_added, (unsigned long long)s->tcp_syncache_expired,
            (unsigned long long)s->tcp_syncache_overflow,
            (unsigned long long)s->tcp_syncookies_sent, (unsigned long long)s->tcp_syncookies_recv,
            (unsigned long long)s->tcp_syncookies_failed);
    if (synack_dev_offload(n->dev))
        fprintf(out, "synack %s: offload: %s; %llu TSO packets out (%llu cut in software), "
                        "%llu coalesced packets in, %llu with partial checksums\n",
                n->cmd, (synack_dev_offload(n->dev) & SYNACK_OFFLOAD_TSO) ? "TSO+csum" : "csum",
                (unsigned long long)d.tx_gso, (unsigned long long)d.tx_gso_fallback,
                (unsigned long long)d.rx_gro, (unsigned long long)d.rx_csum_partial);
    print_drops(out, nets, k);
    if (impair_active(&n->imp_out) || impair_active(&n->imp_in))
        fprintf(out, "synack %s: impairment: out %llu lost, %llu duplicated, %llu reordered; "
                        "in %llu lost, %llu duplicated, %llu reordered\n",
                n->cmd, (unsigned long long)imp_out.lost,
                (unsigned long long)imp_out.duplicated, (unsigned long long)imp_out.reordered,
                (unsigned long long)imp_in.lost, (unsigned long long)imp_in.duplicated,
                (unsigned long long)imp_in.reordered);
    fprintf(out, "synack %s: loop: %llu rounds, %llu sleeps, %llu deadline wake-ups late by "
                    "%llu us on average (at most %llu us)\n",
            n->cmd, (unsigned long long)l.rounds, (unsigned long long)l.sleeps,
            (unsigned long long)l.timer_wakeups,
            (unsigned long long)(l.timer_wakeups ? l.late_total_us / l.timer_wakeups : 0),
            (unsigned long long)l.late_max_us);
}

void net_print_counters_sum(struct net *const *nets, unsigned k)
{
    if (k == 0 || nets[0]->o.quiet)
        return;
    for (unsigned j = 0; j < k; j++)
        if (!nets[j]->stack || !nets[j]->dev || !nets[j]->loop)
            return;
    print_counters(stderr, nets, k);
    for (unsigned j = 0; j < k; j++)
        nets[j]->o.quiet = true;
}

void net_stop(struct net *n)
{
    if (!n->cmd)
        return; /* never started */
    if (n->stack && n->dev && n->loop && !n->o.quiet)
        print_counters(stderr, &n, 1);
    nettrace_free(n->trace);
    int rc = synack_pcap_close(n->pcap);
    if (rc < 0) {
        char e[96];
        fprintf(stderr, "synack %s: %s: %s\n", n->cmd, n->o.pcap ? n->o.pcap : "capture",
                net_errstr(e, sizeof(e), rc));
    }
    n->pcap = NULL;
    if (net_draw_finish(n->draw, n->cmd) < 0)
        fprintf(stderr, "synack %s: the pictures: drawing failed\n", n->cmd);
    n->draw = NULL;
    synack_loop_free(n->loop);
    synack_stack_free(n->stack);
    synack_chunk_pool_free(n->pool); /* after the stack, whose chunks it holds */
    synack_dev_close(n->dev);
    impair_free(&n->imp_out);
    impair_free(&n->imp_in);
    if (n->sigfd >= 0)
        close(n->sigfd);
    if (n->stopfd >= 0)
        close(n->stopfd);
    free(n->wake);
    free(n->ready);
    free(n->queued);
    free(n->segbuf);
    memset(n, 0, sizeof(*n));
    n->sigfd = -1;
    n->stopfd = -1;
}
