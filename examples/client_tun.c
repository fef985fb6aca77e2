/* A client on a TUN interface: synack connects to a server of the Linux
 * kernel's, sends one line and prints the answer (an echo server, say).  The
 * interface is made and addressed beforehand, as root:
 *
 *     ip tuntap add syn0 mode tun
 *     ip link set syn0 up
 *     ip addr add 10.200.0.1/24 dev syn0       # the kernel's side
 *     ./client_tun syn0 10.200.0.2 10.200.0.1 7000 "hello"
 *
 * It uses no callbacks: between two rounds of the loop it polls its socket,
 * the way a program with its own loop would.
 * Build: cc client_tun.c $(pkg-config --cflags --libs synack) */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <synack/dev.h>
#include <synack/loop.h>
#include <synack/synack.h>

/* Run the loop until fd reports one of `events`, or 10 s pass. */
static short wait_for(struct synack_loop *loop, struct synack_stack *s, int fd, short events)
{
    synack_time_t end = synack_clock_now() + SYNACK_SEC(10);
    struct pollfd p = {.fd = fd, .events = events};
    while (synack_poll(s, &p, 1) == 0 && synack_clock_now() < end)
        synack_loop_run_once(loop, end);
    return p.revents;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s IFNAME SYNACK-ADDRESS SERVER PORT TEXT\n", argv[0]);
        return 2;
    }
    struct in_addr me, server;
    if (inet_pton(AF_INET, argv[2], &me) != 1 || inet_pton(AF_INET, argv[3], &server) != 1) {
        fprintf(stderr, "want IPv4 addresses\n");
        return 2;
    }
    struct synack_dev_config dc;
    synack_dev_config_default(&dc);
    dc.name = argv[1];
    struct synack_dev *dev;
    int rc = synack_dev_open(&dc, &dev);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], synack_strerror(rc));
        return 1;
    }
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = ntohl(me.s_addr);
    struct synack_stack *s;
    struct synack_loop *loop;
    if ((rc = synack_stack_new(&cfg, synack_dev_output, dev, &s)) < 0 ||
        (rc = synack_loop_new(s, dev, &loop)) < 0) {
        fprintf(stderr, "set-up: %s\n", synack_strerror(rc));
        return 1;
    }
    int fd = synack_socket(s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[4]))};
    sin.sin_addr = server;
    if (synack_connect(s, fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS) {
        perror("connect");
        return 1;
    }
    /* Connected when writable; SO_ERROR says why not otherwise. */
    short ev = wait_for(loop, s, fd, POLLOUT);
    int err = 0;
    socklen_t len = sizeof(err);
    synack_getsockopt(s, fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (!(ev & POLLOUT) || err) {
        fprintf(stderr, "connect: %s\n", strerror(err ? err : ETIMEDOUT));
        return 1;
    }
    size_t n = strlen(argv[5]);
    if (synack_send(s, fd, argv[5], n, 0) != (ssize_t)n) { /* a short line fits the buffer */
        perror("send");
        return 1;
    }
    synack_shutdown(s, fd, SHUT_WR); /* our FIN after the line: the server may answer and close */
    char reply[4096];
    size_t got = 0;
    for (;;) {
        ssize_t k = synack_recv(s, fd, reply + got, sizeof(reply) - 1 - got, 0);
        if (k > 0) {
            got += (size_t)k;
        } else if (k == 0) {
            break; /* the server's FIN */
        } else if (errno != EAGAIN || !(wait_for(loop, s, fd, POLLIN) & (POLLIN | POLLERR))) {
            perror("recv");
            return 1;
        }
    }
    reply[got] = 0;
    printf("reply: %s\n", reply);
    synack_close(s, fd);
    /* Let the last ACK go out before the device disappears. */
    for (int i = 0; i < 3; i++)
        synack_loop_run_once(loop, synack_clock_now() + SYNACK_MSEC(20));
    synack_loop_free(loop);
    synack_stack_free(s);
    synack_dev_close(dev);
    return 0;
}
