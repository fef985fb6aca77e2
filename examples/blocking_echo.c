/* An echo server written with plain blocking calls (synack/blocking.h):
 * one application thread per connection, no event loop of the program's
 * own.  The layer's stack thread runs the stack; every synack_blk_* call
 * may come from any thread and waits until it can be done.
 *
 * Without arguments it runs on the simulator: a server and three client
 * threads on two simulated hosts, each client sending 100,000 bytes and
 * reading them back, checked byte for byte.  No root needed.
 *
 * With arguments it serves on a TUN interface, as examples/echo_server_tun.c
 * does with an event loop; the interface is made and addressed beforehand,
 * as root:
 *
 *     ip tuntap add syn0 mode tun
 *     ip link set syn0 up
 *     ip addr add 10.200.0.1/24 dev syn0          # the kernel's side
 *     ./blocking_echo syn0 10.200.0.2 3 &         # synack's side: 3 connections, then exit
 *     echo hello | nc -q 1 10.200.0.2 7
 *
 * Build: cc blocking_echo.c $(pkg-config --cflags --libs synack) -pthread */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <synack/blocking.h>
#include <synack/dev.h>
#include <synack/synack.h>

#define PORT 7
#define CLIENTS 3
#define BYTES 100000

struct conn {
    struct synack_blk *b;
    int fd;
};

/* Echo until the client's FIN (or 60 s of silence), then close. */
static void *echo(void *arg)
{
    struct conn *c = arg;
    char buf[16384];
    ssize_t n;
    while ((n = synack_blk_read(c->b, c->fd, buf, sizeof(buf), 60000)) > 0)
        if (synack_blk_write(c->b, c->fd, buf, (size_t)n, 60000) != n)
            break;
    synack_blk_close(c->b, c->fd);
    free(c);
    return NULL;
}

/* A listening socket on PORT, or a negative errno. */
static int listen_on(struct synack_blk *b)
{
    int lfd = synack_blk_socket(b);
    if (lfd < 0)
        return lfd;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    int rc = synack_blk_bind(b, lfd, (struct sockaddr *)&sin, sizeof(sin));
    if (rc == 0)
        rc = synack_blk_listen(b, lfd, 16);
    if (rc < 0) {
        fprintf(stderr, "listen: %s\n", synack_strerror(rc));
        synack_blk_close(b, lfd);
        return rc;
    }
    return lfd;
}

/* Echo `count` connections accepted on lfd, a thread each. */
static int serve(struct synack_blk *b, int lfd, int count)
{
    pthread_t threads[64];
    int n = 0;
    while (n < count && n < 64) {
        int fd = synack_blk_accept(b, lfd, NULL, NULL, -1);
        if (fd < 0) {
            fprintf(stderr, "accept: %s\n", synack_strerror(fd));
            break;
        }
        struct conn *c = malloc(sizeof(*c));
        if (c)
            *c = (struct conn){b, fd};
        if (!c || pthread_create(&threads[n], NULL, echo, c) != 0) {
            free(c);
            synack_blk_close(b, fd);
            break;
        }
        n++;
    }
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    synack_blk_close(b, lfd);
    return n;
}

/* ---- on the simulator ------------------------------------------------- */

struct client {
    struct synack_blk *b;
    int id;
    int ok;
};

static void *client(void *arg)
{
    struct client *cl = arg;
    static char out[CLIENTS][BYTES], in[CLIENTS][BYTES];
    char *o = out[cl->id], *i = in[cl->id];
    for (int k = 0; k < BYTES; k++)
        o[k] = (char)('a' + (k * 7 + cl->id) % 26);
    int fd = synack_blk_socket(cl->b);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    sin.sin_addr.s_addr = htonl(0xc0000202); /* 192.0.2.2, the server */
    int rc = synack_blk_connect(cl->b, fd, (struct sockaddr *)&sin, sizeof(sin), 5000);
    if (rc < 0)
        fprintf(stderr, "client %d: connect: %s\n", cl->id, synack_strerror(rc));
    /* Write it all, then read it all back: the server's echo fits in the
     * buffers meanwhile (256 KiB each way). */
    if (rc == 0 && synack_blk_write(cl->b, fd, o, BYTES, 10000) == BYTES &&
        synack_blk_shutdown(cl->b, fd, SHUT_WR) == 0 &&
        synack_blk_recv(cl->b, fd, i, BYTES, MSG_WAITALL, 10000) == BYTES)
        cl->ok = memcmp(o, i, BYTES) == 0;
    synack_blk_close(cl->b, fd);
    return NULL;
}

struct server_arg {
    struct synack_blk *b;
    int lfd;
    int served;
};

static void *server(void *arg)
{
    struct server_arg *s = arg;
    s->served = serve(s->b, s->lfd, CLIENTS);
    return NULL;
}

static int on_simulator(void)
{
    struct synack_sim *sim;
    struct synack_stack *cs, *ss;
    synack_sim_new(1, &sim);
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = 0xc0000201; /* 192.0.2.1 */
    int cn = synack_sim_add_stack(sim, &cfg, &cs);
    cfg.addr = 0xc0000202; /* 192.0.2.2 */
    int sn = synack_sim_add_stack(sim, &cfg, &ss);
    struct synack_link_params link;
    synack_link_params_default(&link); /* 1 ms each way */
    synack_sim_link(sim, cn, sn, &link, NULL);

    /* From here on the stack thread owns the simulator and both stacks. */
    struct synack_blk_loop *loop;
    struct synack_blk *cb, *sb;
    int rc = synack_blk_loop_sim(sim, &loop);
    if (rc < 0 || (rc = synack_blk_open(loop, cs, &cb)) < 0 ||
        (rc = synack_blk_open(loop, ss, &sb)) < 0) {
        fprintf(stderr, "set-up: %s\n", synack_strerror(rc));
        return 1;
    }
    /* Listen before any client starts: a SYN that finds no listener is
     * answered with RST, and that client's connect fails (ECONNREFUSED). */
    int lfd = listen_on(sb);
    if (lfd < 0)
        return 1;
    struct server_arg sa = {sb, lfd, 0};
    pthread_t st, ct[CLIENTS];
    struct client cl[CLIENTS];
    pthread_create(&st, NULL, server, &sa);
    for (int k = 0; k < CLIENTS; k++) {
        cl[k] = (struct client){cb, k, 0};
        pthread_create(&ct[k], NULL, client, &cl[k]);
    }
    int ok = 0;
    for (int k = 0; k < CLIENTS; k++) {
        pthread_join(ct[k], NULL);
        ok += cl[k].ok;
    }
    pthread_join(st, NULL);
    synack_blk_loop_free(loop); /* stops the thread: the simulator is ours again */
    synack_sim_free(sim);
    printf("%d of %d clients got their %d bytes echoed (server served %d): %s\n", ok, CLIENTS,
           BYTES, sa.served, ok == CLIENTS ? "ok" : "FAILED");
    return ok == CLIENTS ? 0 : 1;
}

/* ---- on a TUN interface ----------------------------------------------- */

static int on_tun(const char *ifname, const char *addr, int count)
{
    struct in_addr a;
    if (inet_pton(AF_INET, addr, &a) != 1) {
        fprintf(stderr, "%s: not an IPv4 address\n", addr);
        return 2;
    }
    struct synack_dev_config dc;
    synack_dev_config_default(&dc);
    dc.kind = SYNACK_DEV_TUN;
    dc.name = ifname;
    struct synack_dev *dev;
    int rc = synack_dev_open(&dc, &dev);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", ifname, synack_strerror(rc));
        return 1;
    }
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = ntohl(a.s_addr);
    cfg.mtu = dc.mtu;
    struct synack_stack *stack;
    struct synack_blk_loop *loop = NULL;
    struct synack_blk *b;
    if ((rc = synack_stack_new(&cfg, synack_dev_output, dev, &stack)) < 0 ||
        (rc = synack_blk_loop_dev(stack, dev, &loop)) < 0 ||
        (rc = synack_blk_open(loop, stack, &b)) < 0) {
        fprintf(stderr, "set-up: %s\n", synack_strerror(rc));
        return 1;
    }
    /* Listening before the line that tells clients to come. */
    int lfd = listen_on(b);
    if (lfd >= 0) {
        printf("blocking echo server on %s port %d (%s)\n", addr, PORT, synack_dev_name(dev));
        fflush(stdout);
    }
    int served = lfd < 0 ? 0 : serve(b, lfd, count);
    printf("served %d connections\n", served);
    synack_blk_loop_free(loop); /* stop the thread before freeing what it ran */
    synack_stack_free(stack);
    synack_dev_close(dev);
    return served == count ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 1)
        return on_simulator();
    if (argc < 3) {
        fprintf(stderr, "usage: %s [IFNAME SYNACK-ADDRESS [CONNECTIONS]]\n", argv[0]);
        return 2;
    }
    return on_tun(argv[1], argv[2], argc > 3 ? atoi(argv[3]) : 1);
}
