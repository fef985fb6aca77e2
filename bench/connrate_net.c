/* Connection rate over a real network path, with the kernel's sockets: the
 * client and the reference server of bench/connrate_tun.sh.
 *
 *   connrate_net client ADDR PORT THREADS COUNT SECONDS
 *       THREADS threads each loop: connect, send one HTTP/1.0 GET for /r,
 *       read the reply until the server closes, close.  Stops at COUNT
 *       lifecycles in all or after SECONDS, whichever comes first; every
 *       socket has 2 s send/receive timeouts, so nothing waits forever.
 *       Prints "lifecycles: N completed, F failed, S s wall, R lifecycles/s".
 *   connrate_net server ADDR PORT THREADS DIR SECONDS
 *       The kernel's own server for the same exchange: THREADS threads
 *       accept on one listening socket, read the request's head, answer
 *       with DIR/r (opened and read per request) and close first.  Exits
 *       after SECONDS.
 *   connrate_net server ADDR PORT THREADS DIR SECONDS cached
 *       The same with the reply built once at the start: no file system
 *       calls per request (`synack serve --app http` keeps small files in
 *       memory and checks them with one fstatat per request).
 *
 * A reply counts as completed when it starts with "HTTP/1." and a 200 and
 * holds at least the file's bytes after its head.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define BUF 65536

static const char request[] = "GET /r HTTP/1.0\r\nHost: bench\r\nUser-Agent: connrate_net\r\n\r\n";

static struct sockaddr_in addr;
static atomic_ulong started, completed, failed;
static unsigned long count;
static double deadline;
static const char *dir;
static char cached[BUF];  /* "cached": the whole reply, built at the start */
static size_t cached_len;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void timeouts(int fd)
{
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* One lifecycle: true when the reply was whole. */
static bool one(char *buf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    timeouts(fd);
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        write(fd, request, sizeof(request) - 1) == (ssize_t)(sizeof(request) - 1)) {
        size_t got = 0;
        for (;;) {
            ssize_t n = read(fd, buf + got, BUF - 1 - got);
            if (n <= 0) {
                ok = n == 0;
                break;
            }
            got += (size_t)n;
            if (got == BUF - 1)
                break;
        }
        buf[got] = 0;
        char *eoh = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "Content-Length:");
        ok = ok && got > 12 && !strncmp(buf, "HTTP/1.", 7) && !strncmp(buf + 8, " 200", 4) && eoh &&
             cl && (size_t)(buf + got - (eoh + 4)) == strtoul(cl + 15, NULL, 10);
    }
    close(fd);
    return ok;
}

static void *client_thread(void *arg)
{
    (void)arg;
    char *buf = malloc(BUF);
    if (!buf)
        return NULL;
    while (now_s() < deadline && atomic_fetch_add(&started, 1) < count) {
        if (one(buf))
            atomic_fetch_add(&completed, 1);
        else
            atomic_fetch_add(&failed, 1);
    }
    free(buf);
    return NULL;
}

static int listen_fd;

static void serve_one(int c, char *buf)
{
    timeouts(c);
    size_t got = 0;
    while (got < BUF - 1) {
        ssize_t n = read(c, buf + got, BUF - 1 - got);
        if (n <= 0)
            return;
        got += (size_t)n;
        buf[got] = 0;
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    if (cached_len > 0) {
        (void)!write(c, cached, cached_len);
        return;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/r", dir);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (f < 0 || fstat(f, &st) < 0 || st.st_size > BUF / 2) {
        if (f >= 0)
            close(f);
        static const char nf[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        (void)!write(c, nf, sizeof(nf) - 1);
        return;
    }
    int h = snprintf(buf, BUF, "HTTP/1.1 200 OK\r\nServer: connrate_net\r\nContent-Type: "
                                 "application/octet-stream\r\nContent-Length: %lld\r\nConnection: "
                                 "close\r\n\r\n",
                     (long long)st.st_size);
    ssize_t n = read(f, buf + h, (size_t)st.st_size);
    close(f);
    if (n == st.st_size)
        (void)!write(c, buf, (size_t)h + (size_t)n);
}

static void *server_thread(void *arg)
{
    (void)arg;
    char *buf = malloc(BUF);
    if (!buf)
        return NULL;
    while (now_s() < deadline) {
        int c = accept(listen_fd, NULL, NULL);
        if (c < 0)
            continue; /* the listener's 1 s timeout: look at the clock */
        serve_one(c, buf);
        close(c); /* the server closes first */
    }
    free(buf);
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: connrate_net client ADDR PORT THREADS COUNT SECONDS\n"
                    "       connrate_net server ADDR PORT THREADS DIR SECONDS [cached]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 7 && !(argc == 8 && !strcmp(argv[1], "server") && !strcmp(argv[7], "cached")))
        return usage();
    bool client = !strcmp(argv[1], "client");
    if (!client && strcmp(argv[1], "server"))
        return usage();
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[3]));
    int threads = atoi(argv[4]);
    double seconds = atof(argv[6]);
    if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1 || threads < 1 ||
        threads > MAX_THREADS || seconds <= 0 || seconds > 3600)
        return usage();
    pthread_t tid[MAX_THREADS];
    double t0 = now_s();
    deadline = t0 + seconds;
    void *(*fn)(void *) = client_thread;
    if (client) {
        count = strtoul(argv[5], NULL, 10);
    } else {
        dir = argv[5];
        fn = server_thread;
        if (argc == 8) {
            /* The reply once, as serve_one would build it. */
            int fds[2];
            char *buf = malloc(BUF);
            if (!buf || socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
                return 1;
            (void)!write(fds[1], request, sizeof(request) - 1);
            serve_one(fds[0], buf);
            close(fds[0]);
            ssize_t n = read(fds[1], cached, sizeof(cached));
            close(fds[1]);
            free(buf);
            if (n <= 0 || strncmp(cached, "HTTP/1.1 200", 12) != 0) {
                fprintf(stderr, "connrate_net: cannot read %s/r\n", dir);
                return 1;
            }
            cached_len = (size_t)n;
        }
        listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        struct timeval tv = {.tv_sec = 1};
        setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
            listen(listen_fd, 4096) < 0) {
            perror("connrate_net: listen");
            return 1;
        }
    }
    int n = 0;
    for (; n < threads; n++)
        if (pthread_create(&tid[n], NULL, fn, NULL) != 0)
            break;
    for (int i = 0; i < n; i++)
        pthread_join(tid[i], NULL);
    if (!client) {
        close(listen_fd);
        return 0;
    }
    double wall = now_s() - t0;
    unsigned long c = atomic_load(&completed), f = atomic_load(&failed);
    printf("lifecycles: %lu completed, %lu failed, %.2f s wall, %.0f lifecycles/s\n", c, f, wall,
           wall > 0 ? (double)c / wall : 0.0);
    return c > 0 ? 0 : 1;
}
