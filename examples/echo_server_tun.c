/* An echo server (RFC 862) on a TUN interface: synack answers on port 7 of
 * its own address, the Linux kernel on the other side of the interface is
 * the client.  The library configures nothing in the system, so the
 * interface is made and addressed beforehand, as root:
 *
 *     ip tuntap add syn0 mode tun
 *     ip link set syn0 up
 *     ip addr add 10.200.0.1/24 dev syn0        # the kernel's side
 *     ./echo_server_tun syn0 10.200.0.2 30 &    # synack's side, for 30 s
 *     echo hello | nc -q 1 10.200.0.2 7
 *
 * Build: cc echo_server_tun.c $(pkg-config --cflags --libs synack) */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include <synack/dev.h>
#include <synack/loop.h>
#include <synack/synack.h>

#define MAX_FD 1024

struct server {
    struct synack_stack *stack;
    int lfd;
    unsigned served;
};

/* Readiness of a descriptor (called from inside synack_loop_run_once). */
static void on_event(void *user, int fd, short events, void *sock_user)
{
    struct server *sv = user;
    (void)sock_user;
    if (fd == sv->lfd) {
        int c;
        while ((c = synack_accept(sv->stack, sv->lfd, NULL, NULL)) >= 0)
            ; /* its data will be reported by its own events */
        return;
    }
    char buf[4096];
    ssize_t n;
    while ((n = synack_recv(sv->stack, fd, buf, sizeof(buf), 0)) > 0)
        synack_send(sv->stack, fd, buf, (size_t)n, 0); /* a real server keeps what does not fit */
    if (n == 0 || (events & (POLLERR | POLLHUP))) {
        synack_close(sv->stack, fd); /* EOF or error: answer with our FIN */
        sv->served++;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s IFNAME SYNACK-ADDRESS [SECONDS]\n", argv[0]);
        return 2;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, argv[2], &a) != 1) {
        fprintf(stderr, "%s: not an IPv4 address\n", argv[2]);
        return 2;
    }
    synack_time_t run_for = SYNACK_SEC(argc > 3 ? atoi(argv[3]) : 30);

    struct synack_dev_config dc;
    synack_dev_config_default(&dc);
    dc.kind = SYNACK_DEV_TUN;
    dc.name = argv[1];
    struct synack_dev *dev;
    int rc = synack_dev_open(&dc, &dev);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], synack_strerror(rc));
        return 1;
    }
    struct synack_config cfg;
    synack_config_default(&cfg); /* a random secret: unpredictable ISNs and ports */
    cfg.addr = ntohl(a.s_addr);
    cfg.mtu = dc.mtu;
    struct server sv = {0};
    struct synack_loop *loop = NULL;
    if ((rc = synack_stack_new(&cfg, synack_dev_output, dev, &sv.stack)) < 0 ||
        (rc = synack_loop_new(sv.stack, dev, &loop)) < 0) {
        fprintf(stderr, "set-up: %s\n", synack_strerror(rc));
        return 1;
    }
    synack_set_event_cb(sv.stack, on_event, &sv);
    sv.lfd = synack_socket(sv.stack, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7)};
    if (synack_bind(sv.stack, sv.lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        synack_listen(sv.stack, sv.lfd, 16) < 0) {
        perror("listen");
        return 1;
    }
    printf("echo server on %s port 7 (%s)\n", argv[2], synack_dev_name(dev));
    fflush(stdout);
    /* The loop sleeps until a packet, a timer of the stack or the end. */
    synack_time_t end = synack_clock_now() + run_for;
    while (synack_clock_now() < end)
        synack_loop_run_once(loop, end);
    printf("served %u connections\n", sv.served);
    synack_loop_free(loop);
    synack_stack_free(sv.stack);
    synack_dev_close(dev);
    return 0;
}
