/* Internet checksum throughput: synack_csum against memcpy over the same
 * buffer and against the textbook RFC 1071 loop on 16-bit words.
 * Usage: bench_checksum [seconds per measurement, default 0.2] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synack/wire.h"

#define MAX_SIZE 65536

struct bench {
    uint8_t src[MAX_SIZE];
    uint8_t dst[MAX_SIZE];
    volatile uint32_t sink;   /* keeps every result observable */
    double seconds;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* RFC 1071 section 4.1, one 16-bit big-endian word at a time into a 32-bit
 * accumulator (no overflow up to 128 KiB), folded at the end. */
static uint16_t naive_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (; len > 1; len -= 2, p += 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (len)
        sum += (uint32_t)p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

enum kind { K_CSUM, K_MEMCPY, K_NAIVE };

static void run_once(struct bench *b, enum kind k, size_t size)
{
    switch (k) {
    case K_CSUM:
        b->sink = synack_csum(b->src, size);
        break;
    case K_MEMCPY:
        memcpy(b->dst, b->src, size);
        b->sink = b->dst[size - 1];
        break;
    case K_NAIVE:
        b->sink = naive_csum(b->src, size);
        break;
    }
}

/* GB/s (10^9 bytes per second) over at least b->seconds of repetitions. */
static double measure(struct bench *b, enum kind k, size_t size)
{
    size_t iters = 16;
    double t0, dt;

    for (size_t i = 0; i < iters; i++)   /* warm up caches and clocks */
        run_once(b, k, size);
    for (;;) {
        t0 = now();
        for (size_t i = 0; i < iters; i++)
            run_once(b, k, size);
        dt = now() - t0;
        if (dt >= b->seconds)
            break;
        /* aim just past the target time from what this round took */
        iters = dt > 1e-4 ? (size_t)((double)iters * b->seconds / dt * 1.1) + 1 : iters * 16;
    }
    return (double)size * (double)iters / dt / 1e9;
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {64, 512, 1500, 9000, 65536};
    struct bench *b = malloc(sizeof *b);

    if (b == NULL)
        return 1;
    b->seconds = argc > 1 ? atof(argv[1]) : 0.2;
    if (b->seconds <= 0)
        b->seconds = 0.2;
    for (size_t i = 0; i < MAX_SIZE; i++)
        b->src[i] = (uint8_t)(i * 2654435761u >> 13);
    /* the fast sum must agree with the reference before it is timed */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (synack_csum(b->src, sizes[i]) != naive_csum(b->src, sizes[i])) {
            fprintf(stderr, "bench_checksum: synack_csum disagrees with RFC 1071 at %zu bytes\n", sizes[i]);
            free(b);
            return 1;
        }
    }

    printf("bench_checksum: GB/s = 1e9 bytes/s, ~%.2f s per cell\n", b->seconds);
    printf("%8s %12s %12s %12s %12s\n", "size", "csum GB/s", "memcpy GB/s", "csum/memcpy", "naive GB/s");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double c = measure(b, K_CSUM, sizes[i]);
        double m = measure(b, K_MEMCPY, sizes[i]);
        double n = measure(b, K_NAIVE, sizes[i]);
        printf("%8zu %12.2f %12.2f %12.2f %12.2f\n", sizes[i], c, m, c / m, n);
    }
    free(b);
    return 0;
}
