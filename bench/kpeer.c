/* The kernel's side of the side-by-side benchmarks (bench/tun.sh): one
 * sender and one receiver on the kernel's TCP, the same program against
 * every stack under test (synack over TUN and TAP, the fake peer, lwIP).
 *
 *   kpeer send ADDR PORT BYTES [TIMEOUT]
 *       connect, write BYTES, shut down the sending side, read until the
 *       peer closes: the time from connect() to the peer's FIN.
 *   kpeer recv ADDR PORT BYTES [TIMEOUT] [GET-PATH]
 *       connect (and send "GET PATH HTTP/1.1" when given), read until
 *       BYTES have arrived (headers included), close: connect() to the
 *       last byte.
 * Prints the rate in MB/s (10^6 bytes per second) on stdout; exits 1 on any
 * error or when TIMEOUT seconds (default 60) pass. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
    fprintf(stderr, "kpeer: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
        fprintf(stderr, "usage: kpeer send|recv ADDR PORT BYTES [TIMEOUT [GET-PATH]]\n");
        return 2;
    }
    int sending = !strcmp(argv[1], "send");
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(argv[3]));
    unsigned long long bytes = strtoull(argv[4], NULL, 10);
    unsigned timeout = argc > 5 ? (unsigned)atoi(argv[5]) : 60;
    const char *path = argc > 6 ? argv[6] : NULL;
    if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1 || bytes == 0 || timeout == 0) {
        fprintf(stderr, "kpeer: bad address, size or timeout\n");
        return 2;
    }
    alarm(timeout); /* the whole run is bounded */
    static char buf[CHUNK];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)('a' + i % 26);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return fail("socket");
    double t0 = now_s();
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return fail("connect");
    unsigned long long done = 0;
    if (sending) {
        while (done < bytes) {
            size_t n = bytes - done < CHUNK ? (size_t)(bytes - done) : CHUNK;
            ssize_t w = write(fd, buf, n);
            if (w < 0)
                return fail("write");
            done += (unsigned long long)w;
        }
        shutdown(fd, SHUT_WR);
        for (;;) {
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r < 0)
                return fail("read");
            if (r == 0)
                break;
        }
    } else {
        if (path) {
            char req[512];
            int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n", path);
            if (n <= 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n)
                return fail("request");
        }
        while (done < bytes) {
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r < 0)
                return fail("read");
            if (r == 0) {
                errno = EPIPE;
                return fail("closed early");
            }
            done += (unsigned long long)r;
        }
    }
    double secs = now_s() - t0;
    close(fd);
    printf("%.1f\n", (double)done / secs / 1e6);
    return 0;
}
