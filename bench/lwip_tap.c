/* lwIP over TAP, for the side-by-side benchmark against synack (bench/tun.sh):
 * Debian's liblwip (2.1.3, its own build options: MSS 1460, a 64 KiB window
 * with window scaling, 64 KiB send buffer, checksum on copy) serving a
 * discard server (RFC 863) and a chargen server (RFC 864) on a TAP device
 * the caller created (ip tuntap add NAME mode tap).  A bench dependency
 * only: this program is never part of libsynack.
 *
 *   lwip_tap --tap NAME --addr A.B.C.D --driver tapif|single
 *            [--discard PORT] [--chargen PORT] [--timeout SEC]
 *
 * Drivers:
 *   tapif   the unix port's packaged driver (netif/tapif.h): its own thread
 *           blocks in select() and read(), one frame per wake-up, and
 *           hands each to the TCP/IP thread's mailbox (tcpip_input).
 *   single  this file's: the main thread is the only reader; it reads
 *           frames until EAGAIN (64 at most) and feeds them to
 *           ethernet_input under the core lock, one lock per batch.
 * Both write each frame with one write(2), from the TCP/IP thread.
 * The applications use the raw API inside the stack (callbacks), the
 * fastest way to use lwIP: discard copies each pbuf out (as a reader of a
 * socket would) and reopens the window; chargen writes from a precomputed
 * pattern with TCP_WRITE_FLAG_COPY whenever the send buffer has room.
 * Runs until --timeout (default 120 s) or SIGTERM/SIGINT. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include "lwip/init.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"
#include "netif/etharp.h"
#include "netif/ethernet.h"
#include "netif/tapif.h"

#define CG_LINE 74
#define CG_CYCLE (95 * CG_LINE)
#define CG_WRITE 8192 /* bytes per tcp_write at most */
#define FRAME_MAX 1514

static uint8_t cg_pattern[CG_CYCLE + CG_WRITE];
static uint8_t discard_sink[65536];
static struct netif nif;
static int sr_fd = -1;
static volatile sig_atomic_t stop;

struct cg_state {
    size_t off; /* stream position, for the pattern */
};

/* ---- discard ---- */

static err_t discard_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (!p) {
        tcp_recv(pcb, NULL);
        if (tcp_close(pcb) != ERR_OK)
            tcp_abort(pcb);
        return ERR_OK;
    }
    for (struct pbuf *q = p; q; q = q->next) /* read it, as recv() would */
        memcpy(discard_sink, q->payload, q->len); /* len < 2^16 = the sink's size */
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t discard_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    tcp_recv(pcb, discard_recv);
    return ERR_OK;
}

/* ---- chargen ---- */

static void cg_fill(struct tcp_pcb *pcb, struct cg_state *s)
{
    for (;;) {
        u16_t room = tcp_sndbuf(pcb);
        if (room == 0)
            break;
        u16_t n = room < CG_WRITE ? room : CG_WRITE;
        if (tcp_write(pcb, cg_pattern + s->off % CG_CYCLE, n, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE) != ERR_OK)
            break;
        s->off += n;
    }
    tcp_output(pcb);
}

static err_t cg_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)len;
    cg_fill(pcb, arg);
    return ERR_OK;
}

static err_t cg_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)err;
    if (p) { /* input is read and dropped */
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
    }
    tcp_arg(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
    free(arg);
    if (tcp_close(pcb) != ERR_OK)
        tcp_abort(pcb);
    return ERR_OK;
}

static void cg_err(void *arg, err_t err)
{
    (void)err;
    free(arg); /* the pcb is already gone */
}

static err_t cg_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    struct cg_state *s = calloc(1, sizeof(*s));
    if (!s)
        return ERR_MEM;
    tcp_arg(pcb, s);
    tcp_sent(pcb, cg_sent);
    tcp_recv(pcb, cg_recv);
    tcp_err(pcb, cg_err);
    cg_fill(pcb, s);
    return ERR_OK;
}

static int listen_on(u16_t port, tcp_accept_fn fn)
{
    struct tcp_pcb *pcb = tcp_new();
    if (!pcb || tcp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK)
        return -1;
    pcb = tcp_listen(pcb);
    if (!pcb)
        return -1;
    tcp_accept(pcb, fn);
    return 0;
}

/* ---- the single-reader driver ---- */

static err_t sr_linkoutput(struct netif *n, struct pbuf *p)
{
    (void)n;
    static uint8_t frame[FRAME_MAX];
    const void *data = p->payload;
    if (p->next) {
        if (p->tot_len > sizeof(frame))
            return ERR_BUF;
        pbuf_copy_partial(p, frame, p->tot_len, 0);
        data = frame;
    }
    for (int tries = 0; tries < 100; tries++) {
        if (write(sr_fd, data, p->tot_len) >= 0)
            return ERR_OK;
        if (errno != EAGAIN && errno != EINTR)
            return ERR_IF;
        struct pollfd pf = {.fd = sr_fd, .events = POLLOUT};
        poll(&pf, 1, 1);
    }
    return ERR_IF;
}

static err_t sr_init(struct netif *n)
{
    static const u8_t mac[6] = {0x02, 0x4c, 0x57, 0x49, 0x50, 0x01};
    n->name[0] = 's';
    n->name[1] = 'r';
    n->output = etharp_output;
    n->linkoutput = sr_linkoutput;
    n->mtu = 1500;
    n->hwaddr_len = 6;
    memcpy(n->hwaddr, mac, 6);
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

static int sr_open(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read frames until EAGAIN (64 at most) and feed them to the stack under one lock. */
static void sr_poll(void)
{
    struct pollfd pf = {.fd = sr_fd, .events = POLLIN};
    if (poll(&pf, 1, 100) <= 0)
        return;
    static uint8_t buf[FRAME_MAX + 4];
    LOCK_TCPIP_CORE();
    for (int i = 0; i < 64; i++) {
        ssize_t n = read(sr_fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        /* PBUF_RAM, not PBUF_POOL: see pool_check(). */
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
        if (!p)
            break;
        pbuf_take(p, buf, (u16_t)n);
        if (nif.input(p, &nif) != ERR_OK)
            pbuf_free(p);
    }
    UNLOCK_TCPIP_CORE();
}

/* Debian's liblwip 2.1.3 allocates a pool pbuf (PBUF_POOL) of a smaller
 * size than its own pbuf_alloc() then fills: a full frame overruns the heap
 * block (its memp pool is sized as if TCP_MSS were 536, pbuf.c uses the
 * shipped lwipopts.h's 1460).  The packaged tapif driver receives into pool
 * pbufs, so its first full-sized frame corrupts the heap: a fault of that
 * build, not of how it is used here (the single-reader driver allocates
 * PBUF_RAM, sized exactly).  Returns the bytes the block really holds for a
 * pbuf_alloc(PBUF_RAW, 1514, PBUF_POOL), or 0 when they suffice. */
static size_t pool_check(void)
{
    struct pbuf *p = pbuf_alloc(PBUF_RAW, FRAME_MAX, PBUF_POOL);
    if (!p)
        return 0;
    size_t have = malloc_usable_size(p), need = (size_t)((uint8_t *)p->payload - (uint8_t *)p) + p->len;
    pbuf_free(p);
    return have < need ? have : 0;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *tap = NULL, *addr = NULL, *driver = NULL;
    unsigned discard_port = 9, chargen_port = 19, timeout = 120;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--tap"))
            tap = v;
        else if (!strcmp(a, "--addr"))
            addr = v;
        else if (!strcmp(a, "--driver"))
            driver = v;
        else if (!strcmp(a, "--discard"))
            discard_port = (unsigned)atoi(v);
        else if (!strcmp(a, "--chargen"))
            chargen_port = (unsigned)atoi(v);
        else if (!strcmp(a, "--timeout"))
            timeout = (unsigned)atoi(v);
    }
    ip4_addr_t ip, mask, gw;
    if (argc % 2 == 0 || !tap || !addr || !driver || (strcmp(driver, "tapif") && strcmp(driver, "single")) ||
        !ip4addr_aton(addr, &ip) || discard_port - 1 > 65534 || chargen_port - 1 > 65534 || timeout == 0) {
        fprintf(stderr, "usage: lwip_tap --tap NAME --addr A.B.C.D --driver tapif|single\n"
                        "                [--discard PORT] [--chargen PORT] [--timeout SEC]\n");
        return 2;
    }
    bool single = !strcmp(driver, "single");
    for (size_t i = 0; i < sizeof(cg_pattern); i++) {
        unsigned pos = (unsigned)(i % CG_CYCLE), line = pos / CG_LINE, col = pos % CG_LINE;
        cg_pattern[i] = col == 72 ? '\r' : col == 73 ? '\n' : (uint8_t)(' ' + (line + col) % 95);
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    ip4_addr_set_zero(&gw);
    if (single && (sr_fd = sr_open(tap)) < 0) {
        fprintf(stderr, "lwip_tap: %s: %s\n", tap, strerror(errno));
        return 1;
    }
    /* The packaged driver attaches to an existing device by this name and
     * then leaves its configuration alone. */
    setenv("PRECONFIGURED_TAPIF", tap, 1);
    tcpip_init(NULL, NULL);
    LOCK_TCPIP_CORE();
    size_t short_pool = pool_check();
    if (short_pool) {
        fprintf(stderr, "lwip_tap: this liblwip's PBUF_POOL buffer holds %zu bytes, pbuf_alloc fills %d: "
                        "its pool is sized for a smaller TCP_MSS than its headers say (a fault of the build)%s\n",
                short_pool, FRAME_MAX, single ? "; the single-reader driver uses PBUF_RAM" : "");
        if (!single) {
            UNLOCK_TCPIP_CORE();
            fprintf(stderr, "lwip_tap: the packaged tapif driver receives into pool pbufs and would corrupt the heap: "
                            "not run\n");
            return 3;
        }
    }
    struct netif *ok = single ? netif_add(&nif, &ip, &mask, &gw, NULL, sr_init, ethernet_input)
                              : netif_add(&nif, &ip, &mask, &gw, NULL, tapif_init, tcpip_input);
    if (ok) {
        netif_set_default(&nif);
        netif_set_link_up(&nif);
        netif_set_up(&nif);
    }
    int rc = ok ? listen_on((u16_t)discard_port, discard_accept) | listen_on((u16_t)chargen_port, cg_accept) : -1;
    UNLOCK_TCPIP_CORE();
    if (rc < 0) {
        fprintf(stderr, "lwip_tap: set-up failed\n");
        return 1;
    }
    fprintf(stderr, "lwip_tap: up on %s (%s driver)\n", tap, driver);
    double end = now_s() + timeout;
    while (!stop && now_s() < end) {
        if (single)
            sr_poll();
        else
            poll(NULL, 0, 100);
    }
    return 0;
}
