/* The simulator and the pcap writer, driven by hand-written nodes: sources
 * that send numbered IPv4/UDP packets at set times, recorders, echoes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synack/pcap.h"
#include "synack/sim.h"
#include "synack/wire.h"

#define ADDR_A 0x0a000001u
#define ADDR_B 0x0a000002u
#define ADDR_C 0x0a000003u
#define ADDR_D 0x0a000004u
#define ADDR_E 0x0a000005u
#define KEEP 256    /* bytes of each arrival kept for comparison */
#define MAX_LEN 1500 /* of the packets the test nodes send */
#define NEVER SYNACK_TIME_NEVER

/* ---- packets ------------------------------------------------------------- */

static void put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
    put16(b, (uint16_t)(v >> 16));
    put16(b + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* A valid IPv4/UDP datagram of `len` (>= 32) bytes carrying `seq`; the rest
 * of the payload is a pattern derived from seq. */
static void mkpkt(uint8_t *buf, uint32_t src, uint32_t dst, uint32_t seq, size_t len)
{
    assert_true(len >= 32 && len <= 65535);
    struct synack_ipv4_hdr h = {.total_len = (uint16_t)len, .id = (uint16_t)seq, .ttl = 64,
                                .proto = SYNACK_IPPROTO_UDP, .src = src, .dst = dst};
    assert_int_equal(synack_ipv4_emit(buf, len, &h), 20);
    put16(buf + 20, 1000);
    put16(buf + 22, 2000);
    put16(buf + 24, (uint16_t)(len - 20));
    put16(buf + 26, 0); /* RFC 768: no checksum */
    put32(buf + 28, seq);
    for (size_t i = 32; i < len; i++)
        buf[i] = (uint8_t)(seq * 7 + i);
}

static uint32_t pkt_seq(const uint8_t *p)
{
    return get32(p + 28);
}

/* ---- a test node: source, recorder, echo, timer -------------------------- */

struct log_entry {
    synack_time_t t;
    int node;
    long seq;     /* -1: the node's timer fired */
    uint32_t src; /* of the packet received */
};
struct tlog {
    struct log_entry e[64];
    size_t n;
};

struct arrival {
    synack_time_t t;
    uint32_t seq, src;
    size_t len;
    uint8_t bytes[KEEP];
};

struct tnode {
    struct synack_sim *sim;
    int id;
    uint32_t addr;
    /* source: packet i goes to dst at times[i], or at start + i * interval */
    uint32_t dst;
    size_t count, sent;
    const synack_time_t *times;
    synack_time_t start, interval;
    size_t len; /* 0: 40 + seq % 200 */
    size_t ok, nobufs, other_err; /* synack_sim_send results */
    synack_time_t fire_at;        /* a timer, logged when it fires */
    /* receiving */
    int echo_copies; /* send this many copies of each packet back, addresses swapped */
    bool countdown;  /* echo only while byte 32 is > 0, decrementing it */
    struct arrival *arr;
    size_t narr, cap;
    struct tlog *log;
};

static synack_time_t send_time(const struct tnode *n, size_t i)
{
    return n->times != NULL ? n->times[i] : n->start + i * n->interval;
}

static synack_time_t tn_next_deadline(void *ctx)
{
    const struct tnode *n = ctx;
    synack_time_t t = n->sent < n->count ? send_time(n, n->sent) : NEVER;
    return n->fire_at < t ? n->fire_at : t;
}

static void tn_advance(void *ctx, synack_time_t now)
{
    struct tnode *n = ctx;
    assert_int_equal(now, synack_sim_now(n->sim));
    while (n->sent < n->count && send_time(n, n->sent) <= now) {
        uint8_t buf[MAX_LEN];
        size_t len = n->len != 0 ? n->len : 40 + n->sent % 200;
        assert_true(len <= sizeof(buf));
        mkpkt(buf, n->addr, n->dst, (uint32_t)n->sent++, len);
        int r = synack_sim_send(n->sim, n->id, buf, len);
        if (r == 0)
            n->ok++;
        else if (r == -ENOBUFS)
            n->nobufs++;
        else
            n->other_err++;
    }
    if (n->fire_at <= now) {
        n->fire_at = NEVER;
        if (n->log != NULL && n->log->n < 64)
            n->log->e[n->log->n++] = (struct log_entry){now, n->id, -1, 0};
    }
}

static int tn_input(void *ctx, const uint8_t *pkt, size_t len, synack_time_t now)
{
    struct tnode *n = ctx;
    assert_int_equal(now, synack_sim_now(n->sim));
    if (n->narr == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 64;
        n->arr = realloc(n->arr, n->cap * sizeof(*n->arr));
        assert_non_null(n->arr);
    }
    struct arrival *a = &n->arr[n->narr++];
    a->t = now;
    a->seq = pkt_seq(pkt);
    a->src = get32(pkt + 12);
    a->len = len;
    memcpy(a->bytes, pkt, len < KEEP ? len : KEEP);
    if (n->log != NULL && n->log->n < 64)
        n->log->e[n->log->n++] = (struct log_entry){now, n->id, (long)a->seq, a->src};
    if (n->echo_copies == 0)
        return 0;

    uint8_t copy[MAX_LEN];
    assert_true(len <= sizeof(copy));
    memcpy(copy, pkt, len);
    /* Swapping the two addresses leaves the header checksum right. */
    memcpy(copy + 12, pkt + 16, 4);
    memcpy(copy + 16, pkt + 12, 4);
    if (n->countdown) {
        if (copy[32] == 0)
            return 0;
        copy[32]--;
    }
    for (int i = 0; i < n->echo_copies; i++)
        synack_sim_send(n->sim, n->id, copy, len); /* reentrant */
    return 0;
}

static const struct synack_sim_node_ops tn_ops = {tn_input, tn_next_deadline, tn_advance};

static void add_tnode(struct synack_sim *sim, struct tnode *n, uint32_t addr)
{
    memset(n, 0, sizeof(*n));
    n->sim = sim;
    n->addr = addr;
    n->fire_at = NEVER;
    n->id = synack_sim_add_node(sim, addr, &tn_ops, n);
    assert_true(n->id >= 0);
}

static void tnode_fini(struct tnode *n)
{
    free(n->arr);
}

/* Links a to b with ab both ways; returns the link id. */
static int join(struct synack_sim *sim, const struct tnode *a, const struct tnode *b,
                const struct synack_link_params *ab)
{
    int l = synack_sim_link(sim, a->id, b->id, ab, NULL);
    assert_true(l >= 0);
    return l;
}

static struct synack_sim_link_stats stats(struct synack_sim *sim, int link, const struct tnode *from)
{
    struct synack_sim_link_stats st;
    assert_int_equal(synack_sim_link_stats(sim, link, from->id, &st), 0);
    return st;
}

/* |x - n p| within 6 standard deviations of a binomial(n, p). */
static void assert_binomial(uint64_t x, uint64_t n, double p)
{
    double mean = (double)n * p, sd = sqrt((double)n * p * (1 - p));
    if (fabs((double)x - mean) > 6 * sd)
        fail_msg("%llu of %llu: expected %.0f +- %.0f", (unsigned long long)x,
                 (unsigned long long)n, mean, 6 * sd);
}

/* ---- an observer that counts and keeps the first events ------------------ */

struct obs_entry {
    synack_time_t t;
    int link, from, to;
    enum synack_sim_event ev;
    size_t len;
    uint8_t bytes[KEEP];
};
struct obs {
    uint64_t count[SYNACK_SIM_NO_ROUTE + 1];
    struct obs_entry e[32];
    size_t n;
};

static void observe(void *user, synack_time_t now, int link, int from, int to,
                    enum synack_sim_event ev, const uint8_t *pkt, size_t len)
{
    struct obs *o = user;
    o->count[ev]++;
    if (o->n < 32) {
        struct obs_entry *e = &o->e[o->n++];
        *e = (struct obs_entry){.t = now, .link = link, .from = from, .to = to, .ev = ev, .len = len};
        memcpy(e->bytes, pkt, len < KEEP ? len : KEEP);
    }
}

/* Source a (ADDR_A, sending to ADDR_B) and sink b (ADDR_B), and their end. */
static void add_pair(struct synack_sim *sim, struct tnode *a, struct tnode *b)
{
    add_tnode(sim, a, ADDR_A);
    add_tnode(sim, b, ADDR_B);
    a->dst = ADDR_B;
}

static void free_pair(struct synack_sim *sim, struct tnode *a, struct tnode *b)
{
    synack_sim_free(sim);
    tnode_fini(a);
    tnode_fini(b);
}

static struct synack_sim *new_sim(uint64_t seed)
{
    struct synack_sim *sim = NULL;
    assert_int_equal(synack_sim_new(seed, &sim), 0);
    assert_non_null(sim);
    return sim;
}

static struct synack_link_params params(synack_time_t delay)
{
    struct synack_link_params p;
    synack_link_params_default(&p);
    p.delay = delay;
    return p;
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
    const char *dir = getenv("SYNACK_TEST_TMP");
    snprintf(buf, cap, "%s/test_sim_%ld_%s", dir != NULL ? dir : "/tmp", (long)getpid(), name);
}

/* The whole file into a malloc'd buffer. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    assert_non_null(b);
    size_t r;
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            b = realloc(b, cap *= 2);
            assert_non_null(b);
        }
    }
    fclose(f);
    *len = n;
    return b;
}

/* ---- tests --------------------------------------------------------------- */

static void test_event_names(void **state)
{
    (void)state;
    for (int i = SYNACK_SIM_SENT; i <= SYNACK_SIM_NO_ROUTE; i++)
        for (int j = SYNACK_SIM_SENT; j < i; j++)
            assert_string_not_equal(synack_sim_event_name((enum synack_sim_event)i),
                                    synack_sim_event_name((enum synack_sim_event)j));
    assert_string_equal(synack_sim_event_name(SYNACK_SIM_DROP_LOSS), "drop-loss");
    assert_string_equal(synack_sim_event_name(SYNACK_SIM_DELIVERED), "delivered");
    assert_string_equal(synack_sim_event_name((enum synack_sim_event)99), "unknown");
}

static void test_params_default(void **state)
{
    (void)state;
    struct synack_link_params p;
    memset(&p, 0xff, sizeof(p));
    synack_link_params_default(&p);
    assert_int_equal(p.delay, SYNACK_MSEC(1));
    assert_int_equal(p.rate_bps, 0);
    assert_int_equal(p.queue_limit, 0);
    assert_int_equal(p.reorder_delay, 0);
    assert_true(p.loss == 0.0 && p.dup == 0.0 && p.reorder == 0.0 && p.corrupt == 0.0);
}

static void test_api_errors(void **state)
{
    (void)state;
    assert_int_equal(synack_sim_new(1, NULL), -EINVAL);
    struct synack_sim *sim = new_sim(1);
    assert_false(synack_sim_step(sim)); /* nothing at all */

    struct synack_sim_node_ops bad = {NULL, NULL, NULL};
    assert_int_equal(synack_sim_add_node(sim, ADDR_A, NULL, NULL), -EINVAL);
    assert_int_equal(synack_sim_add_node(sim, ADDR_A, &bad, NULL), -EINVAL);
    bad = (struct synack_sim_node_ops){tn_input, tn_next_deadline, NULL};
    assert_int_equal(synack_sim_add_node(sim, ADDR_A, &bad, NULL), -EINVAL);
    /* A node without timers is fine. */
    struct tnode a, b;
    add_tnode(sim, &a, ADDR_A);
    struct synack_sim_node_ops sink = {tn_input, NULL, NULL};
    memset(&b, 0, sizeof(b));
    b.sim = sim;
    b.fire_at = NEVER;
    b.id = synack_sim_add_node(sim, ADDR_B, &sink, &b);
    assert_int_equal(b.id, 1);
    assert_int_equal(synack_sim_add_node(sim, ADDR_B, &tn_ops, &b), -EADDRINUSE);

    struct synack_link_params p = params(10);
    assert_int_equal(synack_sim_link(sim, a.id, a.id, &p, NULL), -EINVAL);
    assert_int_equal(synack_sim_link(sim, a.id, 7, &p, NULL), -EINVAL);
    assert_int_equal(synack_sim_link(sim, -1, b.id, &p, NULL), -EINVAL);
    assert_int_equal(synack_sim_link(sim, a.id, b.id, NULL, NULL), -EINVAL);
    p.loss = 1.5;
    assert_int_equal(synack_sim_link(sim, a.id, b.id, &p, NULL), -EINVAL);
    p.loss = 0;
    p.dup = NAN;
    assert_int_equal(synack_sim_link(sim, a.id, b.id, &p, NULL), -EINVAL);
    p.dup = 0;
    p.corrupt = -0.1;
    struct synack_link_params good = params(10);
    assert_int_equal(synack_sim_link(sim, a.id, b.id, &good, &p), -EINVAL);
    int l = join(sim, &a, &b, &good);
    assert_int_equal(l, 0);
    assert_int_equal(synack_sim_link_set(sim, l, 5, &good), -EINVAL);
    assert_int_equal(synack_sim_link_set(sim, 1, a.id, &good), -EINVAL);
    assert_int_equal(synack_sim_link_set(sim, l, a.id, &p), -EINVAL);
    struct synack_sim_link_stats st;
    assert_int_equal(synack_sim_link_stats(sim, l, 5, &st), -EINVAL);
    assert_int_equal(synack_sim_link_stats(sim, -1, a.id, &st), -EINVAL);
    assert_int_equal(synack_sim_link_stats(sim, l, a.id, NULL), -EINVAL);
    assert_int_equal(synack_sim_pcap(sim, 3, "/tmp/x.pcap"), -EINVAL);
    assert_int_equal(synack_sim_pcap(sim, l, "/nonexistent-dir/x.pcap"), -ENOENT);

    /* Sending: bad node, too big, too short, unknown destination. */
    struct obs o = {0};
    synack_sim_set_observer(sim, observe, &o);
    static uint8_t big[65536];
    mkpkt(big, ADDR_A, ADDR_B, 1, 40);
    assert_int_equal(synack_sim_send(sim, 9, big, 40), -EINVAL);
    assert_int_equal(synack_sim_send(sim, a.id, NULL, 40), -EINVAL);
    assert_int_equal(synack_sim_send(sim, a.id, big, sizeof(big)), -EMSGSIZE);
    assert_int_equal(synack_sim_send(sim, a.id, big, 19), -EHOSTUNREACH);
    assert_int_equal(synack_sim_send(sim, a.id, big, 0), -EHOSTUNREACH);
    mkpkt(big, ADDR_A, ADDR_C, 1, 40);
    assert_int_equal(synack_sim_send(sim, a.id, big, 40), -EHOSTUNREACH);
    assert_int_equal(o.count[SYNACK_SIM_NO_ROUTE], 3);
    assert_int_equal(o.count[SYNACK_SIM_SENT], 0);
    assert_int_equal(o.e[2].link, -1);
    assert_int_equal(o.e[2].from, a.id);
    assert_int_equal(o.e[2].to, -1);
    assert_int_equal(o.e[2].len, 40);
    assert_memory_equal(o.e[2].bytes, big, 40);
    /* The largest datagram goes through. */
    mkpkt(big, ADDR_A, ADDR_B, 2, 65535);
    assert_int_equal(synack_sim_send(sim, a.id, big, 65535), 0);
    synack_sim_run_until(sim, 1000);
    assert_int_equal(b.narr, 1);
    assert_int_equal(b.arr[0].len, 65535);
    assert_int_equal(b.arr[0].t, 10);
    assert_int_equal(synack_sim_now(sim), 1000);
    assert_int_equal(synack_sim_link_stats(sim, l, b.id, &st), 0);
    assert_int_equal(st.sent, 0); /* the other direction */

    synack_sim_free(sim);
    synack_sim_free(NULL);
    tnode_fini(&a);
    tnode_fini(&b);
}

/* One-way delay: arrival = send time + delay, per direction. */
static void test_delay_exact(void **state)
{
    (void)state;
    struct synack_sim *sim = new_sim(1);
    struct tnode a, b;
    add_pair(sim, &a, &b);
    static const synack_time_t times[] = {0, 5, 5, 7000};
    a.times = times;
    a.count = 4;
    a.len = 48;
    b.echo_copies = 1;
    struct synack_link_params ab = params(1000), ba = params(3000);
    int l = synack_sim_link(sim, a.id, b.id, &ab, &ba);
    assert_true(l >= 0);
    synack_sim_run_until(sim, SYNACK_SEC(1));

    assert_int_equal(b.narr, 4);
    static const synack_time_t at_b[] = {1000, 1005, 1005, 8000};
    static const synack_time_t at_a[] = {4000, 4005, 4005, 11000};
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(b.arr[i].seq, i);
        assert_int_equal(b.arr[i].t, at_b[i]);
        assert_int_equal(a.arr[i].seq, i);
        assert_int_equal(a.arr[i].t, at_a[i]);
        assert_int_equal(a.arr[i].src, ADDR_B);
    }
    struct synack_sim_link_stats st = stats(sim, l, &a);
    assert_int_equal(st.sent, 4);
    assert_int_equal(st.delivered, 4);
    assert_int_equal(st.bytes, 4 * 48);
    assert_int_equal(a.ok, 4);
    assert_int_equal(synack_sim_now(sim), SYNACK_SEC(1));
    assert_false(synack_sim_step(sim));
    free_pair(sim, &a, &b);
}

/* Serialisation: len * 8 / rate, back to back while the link is busy. */
static void test_serialisation_exact(void **state)
{
    (void)state;
    struct synack_sim *sim = new_sim(1);
    struct tnode a, b;
    add_pair(sim, &a, &b);
    static const synack_time_t times[] = {0, 0, 0, 100000};
    a.times = times;
    a.count = 4;
    a.len = 1000;
    struct synack_link_params p = params(10000);
    p.rate_bps = 1000000; /* 1000 bytes: 8 ms */
    int l = join(sim, &a, &b, &p);
    synack_sim_run_until(sim, SYNACK_SEC(1));
    static const synack_time_t want[] = {18000, 26000, 34000, 118000};
    assert_int_equal(b.narr, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(b.arr[i].t, want[i]);
    assert_int_equal(stats(sim, l, &a).bytes, 4000);
    free_pair(sim, &a, &b);

    /* A rate that does not divide evenly: 8000 bits at 3 Mbit/s is 2666.67 us;
     * the fraction carries over and each packet leaves at the next whole us. */
    sim = new_sim(1);
    add_pair(sim, &a, &b);
    a.times = times;
    a.count = 3;
    a.len = 1000;
    p = params(0);
    p.rate_bps = 3000000;
    join(sim, &a, &b, &p);
    synack_sim_run_until(sim, SYNACK_SEC(1));
    assert_int_equal(b.narr, 3);
    assert_int_equal(b.arr[0].t, 2667);
    assert_int_equal(b.arr[1].t, 5334);
    assert_int_equal(b.arr[2].t, 8000);
    free_pair(sim, &a, &b);
}

/* Tail drop: one packet being serialised plus queue_limit waiting. */
static void test_queue_tail_drop(void **state)
{
    (void)state;
    struct synack_sim *sim = new_sim(1);
    struct tnode a, b;
    add_pair(sim, &a, &b);
    synack_time_t times[22] = {0};
    times[20] = times[21] = 8000; /* the first has left, the second has started */
    a.times = times;
    a.count = 22;
    a.len = 1000;
    struct synack_link_params p = params(1000);
    p.rate_bps = 1000000;
    p.queue_limit = 5;
    int l = join(sim, &a, &b, &p);
    struct obs o = {0};
    synack_sim_set_observer(sim, observe, &o);
    synack_sim_run_until(sim, 7999);
    assert_int_equal(a.ok, 6);
    assert_int_equal(a.nobufs, 14);
    synack_sim_run_until(sim, SYNACK_SEC(1));
    assert_int_equal(a.ok, 7);
    assert_int_equal(a.nobufs, 15);
    assert_int_equal(a.other_err, 0);
    assert_int_equal(b.narr, 7);
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(b.arr[i].seq, i);
        assert_int_equal(b.arr[i].t, 1000 + 8000 * (i + 1));
    }
    assert_int_equal(b.arr[6].seq, 20);
    assert_int_equal(b.arr[6].t, 57000);
    struct synack_sim_link_stats st = stats(sim, l, &a);
    assert_int_equal(st.sent, 22);
    assert_int_equal(st.queue_drops, 15);
    assert_int_equal(st.delivered, 7);
    assert_int_equal(o.count[SYNACK_SIM_DROP_QUEUE], 15);
    assert_int_equal(o.count[SYNACK_SIM_SENT], 22);
    free_pair(sim, &a, &b);

    /* queue_limit 0 means 1000. */
    sim = new_sim(1);
    add_pair(sim, &a, &b);
    a.count = 1500;
    a.len = 100;
    p.queue_limit = 0;
    l = join(sim, &a, &b, &p);
    synack_sim_run_until(sim, SYNACK_SEC(10));
    assert_int_equal(stats(sim, l, &a).queue_drops, 499);
    assert_int_equal(b.narr, 1001);
    free_pair(sim, &a, &b);
}

static void test_loss_rate(void **state)
{
    (void)state;
    static const double rates[] = {0.0, 0.1, 0.5, 1.0};
    for (size_t k = 0; k < 4; k++) {
        struct synack_sim *sim = new_sim(42 + k);
        struct tnode a, b;
        add_pair(sim, &a, &b);
        a.count = 100000;
        a.interval = 1;
        a.len = 40;
        struct synack_link_params p = params(10);
        p.loss = rates[k];
        int l = join(sim, &a, &b, &p);
        struct obs o = {0};
        synack_sim_set_observer(sim, observe, &o);
        synack_sim_run_until(sim, SYNACK_SEC(1));
        struct synack_sim_link_stats st = stats(sim, l, &a);
        assert_int_equal(st.sent, 100000);
        assert_int_equal(st.lost + st.delivered, 100000);
        assert_int_equal(b.narr, st.delivered);
        assert_int_equal(o.count[SYNACK_SIM_DROP_LOSS], st.lost);
        assert_int_equal(a.ok, 100000); /* a loss on the wire is not reported to the sender */
        assert_binomial(st.lost, 100000, rates[k]);
        free_pair(sim, &a, &b);
    }
}

static void test_duplication(void **state)
{
    (void)state;
    struct synack_sim *sim = new_sim(7);
    struct tnode a, b;
    add_pair(sim, &a, &b);
    a.count = 10000;
    a.interval = 10;
    a.len = 60;
    struct synack_link_params p = params(1000);
    p.dup = 0.25;
    int l = join(sim, &a, &b, &p);
    struct obs o = {0};
    synack_sim_set_observer(sim, observe, &o);
    synack_sim_run_until(sim, SYNACK_SEC(1));
    struct synack_sim_link_stats st = stats(sim, l, &a);
    assert_binomial(st.duplicated, 10000, 0.25);
    assert_int_equal(st.delivered, 10000 + st.duplicated);
    assert_int_equal(o.count[SYNACK_SIM_DUPLICATED], st.duplicated);
    assert_int_equal(b.narr, st.delivered);
    /* Every packet arrives after the delay, a duplicate 1 us later, identical. */
    uint64_t pairs = 0;
    uint8_t want[60];
    for (size_t i = 0, seq = 0; i < b.narr; seq++) {
        assert_int_equal(b.arr[i].seq, seq);
        assert_int_equal(b.arr[i].t, seq * 10 + 1000);
        mkpkt(want, ADDR_A, ADDR_B, (uint32_t)seq, 60);
        assert_memory_equal(b.arr[i].bytes, want, 60);
        if (i + 1 < b.narr && b.arr[i + 1].seq == seq) {
            assert_int_equal(b.arr[i + 1].t, seq * 10 + 1001);
            assert_memory_equal(b.arr[i + 1].bytes, want, 60);
            pairs++;
            i += 2;
        } else {
            i++;
        }
    }
    assert_int_equal(pairs, st.duplicated);
    free_pair(sim, &a, &b);
}

static void test_reordering(void **state)
{
    (void)state;
    struct synack_sim *sim = new_sim(11);
    struct tnode a, b;
    add_pair(sim, &a, &b);
    a.count = 10000;
    a.interval = 10;
    a.len = 40;
    struct synack_link_params p = params(1000);
    p.reorder = 0.1;
    p.reorder_delay = 500;
    int l = join(sim, &a, &b, &p);
    struct obs o = {0};
    synack_sim_set_observer(sim, observe, &o);
    synack_sim_run_until(sim, SYNACK_SEC(1));
    struct synack_sim_link_stats st = stats(sim, l, &a);
    assert_int_equal(b.narr, 10000);
    assert_binomial(st.reordered, 10000, 0.1);
    assert_int_equal(o.count[SYNACK_SIM_REORDERED], st.reordered);
    /* Each packet arrives after the delay, or reorder_delay later. */
    static bool held[10000];
    uint64_t late = 0, out_of_order = 0;
    uint32_t highest = 0;
    for (size_t i = 0; i < b.narr; i++) {
        const struct arrival *x = &b.arr[i];
        synack_time_t sent = (synack_time_t)x->seq * 10;
        held[x->seq] = x->t == sent + 1500;
        late += held[x->seq];
        if (!held[x->seq])
            assert_int_equal(x->t, sent + 1000);
        if (x->seq < highest)
            out_of_order++;
        if (x->seq > highest)
            highest = x->seq;
    }
    assert_int_equal(late, st.reordered);
    /* A held-back packet arrives out of order when one of the next 49 was
     * not held back (the 50th arrives at the same time, but later). */
    uint64_t overtaken = 0;
    for (size_t s = 0; s < 10000; s++) {
        bool passed = false;
        for (size_t t = s + 1; held[s] && t < s + 50 && t < 10000; t++)
            passed |= !held[t];
        overtaken += passed;
    }
    assert_int_equal(out_of_order, overtaken);
    assert_true(overtaken + 10 > late);

    /* reorder_delay 0: 2 * delay + 1 ms. */
    p.reorder = 1.0;
    p.reorder_delay = 0;
    assert_int_equal(synack_sim_link_set(sim, l, a.id, &p), 0);
    uint8_t pkt[40];
    mkpkt(pkt, ADDR_A, ADDR_B, 99999, 40);
    synack_time_t t0 = synack_sim_now(sim);
    assert_int_equal(synack_sim_send(sim, a.id, pkt, 40), 0);
    synack_sim_run_until(sim, t0 + SYNACK_SEC(1));
    assert_int_equal(b.narr, 10001);
    assert_int_equal(b.arr[10000].t, t0 + 1000 + 3000);
    free_pair(sim, &a, &b);
}

static unsigned bits_differing(const uint8_t *x, const uint8_t *y, size_t len, size_t *where)
{
    unsigned n = 0;
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++)
            if (((x[i] ^ y[i]) >> bit) & 1) {
                n++;
                *where = i * 8 + (size_t)bit;
            }
    return n;
}

static void test_corruption(void **state)
{
    (void)state;
    static const double rates[] = {1.0, 0.3};
    for (size_t k = 0; k < 2; k++) {
        struct synack_sim *sim = new_sim(5);
        struct tnode a, b;
        add_pair(sim, &a, &b);
        size_t n = k == 0 ? 500 : 10000;
        a.count = n;
        a.interval = 10;
        a.len = 60;
        struct synack_link_params p = params(100);
        p.corrupt = rates[k];
        int l = join(sim, &a, &b, &p);
        struct obs o = {0};
        synack_sim_set_observer(sim, observe, &o);
        synack_sim_run_until(sim, SYNACK_SEC(1));
        assert_int_equal(b.narr, n);
        uint64_t flipped = 0;
        bool seen[60 * 8] = {false};
        size_t distinct = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t want[60];
            mkpkt(want, ADDR_A, ADDR_B, (uint32_t)i, 60);
            assert_int_equal(b.arr[i].t, i * 10 + 100); /* arrivals stay in order */
            size_t where = 0;
            unsigned d = bits_differing(want, b.arr[i].bytes, 60, &where);
            assert_true(d <= 1);
            if (d == 1) {
                flipped++;
                distinct += !seen[where];
                seen[where] = true;
            }
        }
        struct synack_sim_link_stats st = stats(sim, l, &a);
        assert_int_equal(flipped, st.corrupted);
        assert_int_equal(o.count[SYNACK_SIM_CORRUPTED], st.corrupted);
        if (k == 0)
            assert_int_equal(flipped, n);
        else
            assert_binomial(flipped, n, rates[k]);
        assert_true(distinct > 200); /* the bit is random over the whole packet */
        free_pair(sim, &a, &b);
    }
}

/* Every impairment at once on one packet: the observer's sequence. */
static void test_observer_sequence(void **state)
{
    (void)state;
    struct synack_sim *sim = new_sim(3);
    struct tnode a, b;
    add_pair(sim, &a, &b);
    struct synack_link_params p = params(100);
    p.corrupt = p.reorder = p.dup = 1.0;
    p.reorder_delay = 50;
    int l = join(sim, &a, &b, &p);
    struct obs o = {0};
    synack_sim_set_observer(sim, observe, &o);
    uint8_t pkt[48];
    mkpkt(pkt, ADDR_A, ADDR_B, 1, 48);
    assert_int_equal(synack_sim_send(sim, a.id, pkt, 48), 0);
    static const enum synack_sim_event want[] = {SYNACK_SIM_SENT, SYNACK_SIM_CORRUPTED,
                                                 SYNACK_SIM_REORDERED, SYNACK_SIM_DUPLICATED};
    assert_int_equal(o.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(o.e[i].ev, want[i]);
        assert_int_equal(o.e[i].t, 0);
        assert_int_equal(o.e[i].link, l);
        assert_int_equal(o.e[i].from, a.id);
        assert_int_equal(o.e[i].to, b.id);
    }
    size_t where;
    assert_memory_equal(o.e[0].bytes, pkt, 48); /* SENT: as the node sent it */
    assert_int_equal(bits_differing(pkt, o.e[1].bytes, 48, &where), 1);
    assert_memory_equal(o.e[2].bytes, o.e[1].bytes, 48);
    assert_memory_equal(o.e[3].bytes, o.e[1].bytes, 48); /* the copy of what is delivered */
    synack_sim_run_until(sim, 1000);
    assert_int_equal(o.n, 6);
    assert_int_equal(o.e[4].ev, SYNACK_SIM_DELIVERED);
    assert_int_equal(o.e[4].t, 150);
    assert_int_equal(o.e[5].ev, SYNACK_SIM_DELIVERED);
    assert_int_equal(o.e[5].t, 151);
    assert_memory_equal(o.e[5].bytes, o.e[1].bytes, 48);
    assert_int_equal(b.narr, 2);
    free_pair(sim, &a, &b);
}

/* A lossy, reordering, duplicating, corrupting, rate-limited echo run into a
 * pcap file.  Returns the final PRNG draw. */
static uint64_t impaired_run(uint64_t seed, const char *path)
{
    struct synack_sim *sim = new_sim(seed);
    struct tnode a, b;
    add_pair(sim, &a, &b);
    a.count = 2000;
    a.interval = 100;
    a.len = 0; /* sizes vary */
    b.echo_copies = 1;
    struct synack_link_params p = params(2000);
    p.rate_bps = 10000000;
    p.queue_limit = 3;
    p.loss = p.dup = p.reorder = p.corrupt = 0.05;
    int l = join(sim, &a, &b, &p);
    assert_int_equal(synack_sim_pcap(sim, l, path), 0);
    synack_sim_run_until(sim, SYNACK_SEC(10));
    assert_true(stats(sim, l, &a).lost > 0);
    assert_true(stats(sim, l, &b).duplicated > 0);
    uint64_t r = synack_sim_random(sim);
    free_pair(sim, &a, &b);
    return r;
}

static void test_determinism_pcap(void **state)
{
    (void)state;
    char p1[512], p2[512], p3[512];
    tmp_path(p1, sizeof(p1), "det1.pcap");
    tmp_path(p2, sizeof(p2), "det2.pcap");
    tmp_path(p3, sizeof(p3), "det3.pcap");
    uint64_t r1 = impaired_run(1234, p1);
    uint64_t r2 = impaired_run(1234, p2);
    uint64_t r3 = impaired_run(1235, p3);
    assert_int_equal(r1, r2);
    assert_int_not_equal(r1, r3);
    size_t n1, n2, n3;
    uint8_t *f1 = slurp(p1, &n1), *f2 = slurp(p2, &n2), *f3 = slurp(p3, &n3);
    assert_true(n1 > 24 + 2000 * 16);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);
    assert_true(n1 != n3 || memcmp(f1, f3, n1) != 0);
    free(f1);
    free(f2);
    free(f3);
    unlink(p1);
    unlink(p2);
    unlink(p3);
}

/* Equal times: deliveries in the order they were sent, before node
 * deadlines, which run in node order. */
static void equal_time_run(struct tlog *log)
{
    struct synack_sim *sim = new_sim(9);
    struct tnode s1, s2, r, t1, t2;
    add_tnode(sim, &s1, ADDR_A);
    add_tnode(sim, &s2, ADDR_B);
    add_tnode(sim, &r, ADDR_C);
    add_tnode(sim, &t1, ADDR_D);
    add_tnode(sim, &t2, ADDR_E);
    s1.count = 2;
    s1.dst = ADDR_C;
    s1.len = 40;
    s2.count = 1;
    s2.start = 0;
    s2.dst = ADDR_C;
    s2.len = 40;
    s2.fire_at = 1000; /* s2 (node 1) before t1 (node 3), all after the deliveries */
    t1.fire_at = 1000;
    t2.fire_at = 999;
    r.log = s2.log = t1.log = t2.log = log;
    struct synack_link_params p = params(1000);
    join(sim, &s1, &r, &p);
    join(sim, &s2, &r, &p);
    join(sim, &t2, &t1, &p);
    synack_sim_run_until(sim, 5000);
    synack_sim_free(sim);
    tnode_fini(&s1);
    tnode_fini(&s2);
    tnode_fini(&r);
    tnode_fini(&t1);
    tnode_fini(&t2);
}

static void test_equal_time_order(void **state)
{
    (void)state;
    struct tlog l1 = {0}, l2 = {0};
    equal_time_run(&l1);
    equal_time_run(&l2);
    static const struct log_entry want[] = {
        {999, 4, -1, 0},       {1000, 2, 0, ADDR_A}, {1000, 2, 1, ADDR_A},
        {1000, 2, 0, ADDR_B},  {1000, 1, -1, 0},     {1000, 3, -1, 0},
    };
    assert_int_equal(l1.n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(l1.e[i].t, want[i].t);
        assert_int_equal(l1.e[i].node, want[i].node);
        assert_int_equal(l1.e[i].seq, want[i].seq);
        assert_int_equal(l1.e[i].src, want[i].src);
    }
    assert_memory_equal(&l1, &l2, sizeof(l1));
}

/* Nodes that send from inside input: a ping-pong that doubles at one end,
 * growing the heap from within the callbacks. */
static void test_reentrant_sends(void **state)
{
    (void)state;
    struct synack_sim *sim = new_sim(1);
    struct tnode a, b;
    add_pair(sim, &a, &b);
    a.echo_copies = 1;
    b.echo_copies = 2;
    a.countdown = b.countdown = true;
    struct synack_link_params p = params(1000);
    int l = join(sim, &a, &b, &p);
    uint8_t pkt[64];
    mkpkt(pkt, ADDR_A, ADDR_B, 5, 64);
    pkt[32] = 20;
    assert_int_equal(synack_sim_send(sim, a.id, pkt, 64), 0);
    synack_sim_run_until(sim, SYNACK_SEC(1));
    /* b gets 1, 2, 4, ... 1024 packets (counters 20, 18, .., 0), a 2 .. 1024. */
    assert_int_equal(b.narr, 2047);
    assert_int_equal(a.narr, 2046);
    assert_int_equal(stats(sim, l, &a).delivered, 2047);
    assert_int_equal(stats(sim, l, &b).delivered, 2046);
    assert_int_equal(b.arr[b.narr - 1].t, 21000);
    assert_int_equal(b.arr[b.narr - 1].bytes[32], 0);
    assert_int_equal(a.arr[a.narr - 1].t, 20000);
    assert_int_equal(a.arr[a.narr - 1].src, ADDR_B);
    free_pair(sim, &a, &b);
}

static bool got_two(void *user)
{
    return ((const struct tnode *)user)->narr >= 2;
}

static void test_run_control(void **state)
{
    (void)state;
    struct synack_sim *sim = new_sim(1);
    assert_int_equal(synack_sim_now(sim), 0);
    synack_sim_run_until(sim, 5000);
    assert_int_equal(synack_sim_now(sim), 5000);
    synack_sim_run_until(sim, 10); /* never backwards */
    assert_int_equal(synack_sim_now(sim), 5000);

    struct tnode a, b;
    add_pair(sim, &a, &b);
    static const synack_time_t times[] = {6000, 6000, 9000};
    a.times = times;
    a.count = 3;
    a.len = 40;
    struct synack_link_params p = params(500);
    join(sim, &a, &b, &p);
    /* run_until includes events at exactly `until`. */
    synack_sim_run_until(sim, 6500);
    assert_int_equal(b.narr, 2);
    assert_int_equal(synack_sim_now(sim), 6500);
    /* run_while: true as soon as done() holds, which it already does. */
    assert_true(synack_sim_run_while(sim, got_two, &b, SYNACK_SEC(1)));
    assert_int_equal(synack_sim_now(sim), 6500);
    b.narr = 0;
    /* Not done by the limit: the clock stops at the limit. */
    assert_false(synack_sim_run_while(sim, got_two, &b, 9200));
    assert_int_equal(synack_sim_now(sim), 9200);
    assert_int_equal(b.narr, 0);
    /* step: the delivery at 9500, then nothing. */
    assert_true(synack_sim_step(sim));
    assert_int_equal(synack_sim_now(sim), 9500);
    assert_int_equal(b.narr, 1);
    assert_false(synack_sim_step(sim));
    /* Nothing pending: run_while gives up without moving the clock. */
    assert_false(synack_sim_run_while(sim, got_two, &b, SYNACK_SEC(1)));
    assert_int_equal(synack_sim_now(sim), 9500);
    /* Done after an event: the clock is that event's time. */
    a.times = NULL;
    a.start = 10000;
    a.interval = 100;
    a.sent = 0;
    a.count = 5;
    assert_true(synack_sim_run_while(sim, got_two, &b, SYNACK_SEC(1)));
    assert_int_equal(synack_sim_now(sim), 10500);
    assert_int_equal(b.narr, 2);
    synack_sim_run_until(sim, NEVER); /* drains, but the clock stays finite */
    assert_int_equal(b.narr, 6);
    assert_int_equal(synack_sim_now(sim), 10900);
    free_pair(sim, &a, &b);
}

static void test_link_set(void **state)
{
    (void)state;
    struct synack_sim *sim = new_sim(1);
    struct tnode a, b;
    add_pair(sim, &a, &b);
    a.count = 20;
    a.interval = 100;
    a.len = 40;
    struct synack_link_params p = params(1000);
    int l = join(sim, &a, &b, &p);
    synack_sim_run_until(sim, 950); /* packets 0..9 sent */
    p.loss = 1.0;
    assert_int_equal(synack_sim_link_set(sim, l, a.id, &p), 0);
    synack_sim_run_until(sim, 1450); /* 10..14 lost */
    p.loss = 0;
    p.delay = 10;
    assert_int_equal(synack_sim_link_set(sim, l, a.id, &p), 0);
    synack_sim_run_until(sim, SYNACK_SEC(1));
    /* 0..9 with the old delay, 10..14 lost, 15..19 with the new delay. */
    assert_int_equal(b.narr, 15);
    uint32_t seen = 0;
    for (size_t i = 0; i < b.narr; i++) {
        uint32_t seq = b.arr[i].seq;
        assert_true(seq < 10 || (seq >= 15 && seq < 20));
        assert_int_equal(b.arr[i].t, seq * 100 + (seq < 10 ? 1000 : 10));
        seen |= 1u << seq;
    }
    assert_int_equal(seen, 0xf83ffu);
    assert_int_equal(stats(sim, l, &a).lost, 5);
    free_pair(sim, &a, &b);
}

static void test_random(void **state)
{
    (void)state;
    struct synack_sim *x = new_sim(77), *y = new_sim(77), *z = new_sim(78);
    for (int i = 0; i < 100; i++) {
        uint64_t v = synack_sim_random(x);
        assert_int_equal(v, synack_sim_random(y));
        assert_int_not_equal(v, synack_sim_random(z));
    }
    synack_sim_free(x);
    synack_sim_free(y);
    synack_sim_free(z);
}

/* A synack stack as a node (synack_sim_add_stack): it answers a ping through
 * the simulator, and the simulator frees it. */
static void test_add_stack(void **state)
{
    (void)state;
    struct synack_sim *sim = new_sim(1);
    struct tnode a;
    add_tnode(sim, &a, ADDR_A);
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = ADDR_B;
    struct synack_stack *stack = NULL;
    assert_int_equal(synack_sim_add_stack(sim, NULL, &stack), -EINVAL);
    assert_int_equal(synack_sim_add_stack(sim, &cfg, NULL), -EINVAL);
    int id = synack_sim_add_stack(sim, &cfg, &stack);
    assert_int_equal(id, 1);
    assert_non_null(stack);
    assert_int_equal(synack_stack_addr(stack), ADDR_B);
    /* Failures free what they made (the sanitizers check). */
    struct synack_stack *other = NULL;
    assert_int_equal(synack_sim_add_stack(sim, &cfg, &other), -EADDRINUSE);
    cfg.addr = ADDR_C;
    cfg.mtu = 10;
    assert_int_equal(synack_sim_add_stack(sim, &cfg, &other), -EINVAL);
    assert_null(other);

    struct synack_link_params p = params(1000);
    int l = synack_sim_link(sim, a.id, id, &p, NULL);
    assert_true(l >= 0);
    uint8_t pkt[64];
    static const uint8_t data[] = "ping through the simulator";
    struct synack_icmp_hdr ih = {.type = SYNACK_ICMP_ECHO_REQUEST, .id = 7, .seq = 1,
                                 .data = data, .data_len = sizeof(data)};
    int n = synack_icmp_emit(pkt + 20, sizeof(pkt) - 20, &ih);
    assert_int_equal(n, 8 + sizeof(data));
    struct synack_ipv4_hdr h = {.total_len = (uint16_t)(20 + n), .ttl = 64,
                                .proto = SYNACK_IPPROTO_ICMP, .src = ADDR_A, .dst = ADDR_B};
    assert_int_equal(synack_ipv4_emit(pkt, sizeof(pkt), &h), 20);
    assert_int_equal(synack_sim_send(sim, a.id, pkt, (size_t)(20 + n)), 0);
    synack_sim_run_until(sim, SYNACK_MSEC(10));

    assert_int_equal(a.narr, 1);
    assert_int_equal(a.arr[0].t, 2000);
    struct synack_ipv4_hdr rh;
    assert_int_equal(synack_ipv4_parse(a.arr[0].bytes, a.arr[0].len, &rh), 0);
    assert_int_equal(rh.src, ADDR_B);
    assert_int_equal(rh.dst, ADDR_A);
    assert_int_equal(rh.proto, SYNACK_IPPROTO_ICMP);
    struct synack_icmp_hdr rih;
    assert_int_equal(synack_icmp_parse(rh.payload, rh.payload_len, &rih), 0);
    assert_int_equal(rih.type, SYNACK_ICMP_ECHO_REPLY);
    assert_int_equal(rih.id, 7);
    assert_int_equal(rih.seq, 1);
    assert_int_equal(rih.data_len, sizeof(data));
    assert_memory_equal(rih.data, data, sizeof(data));
    assert_int_equal(synack_stack_stats(stack)->icmp_echo_replied, 1);
    assert_int_equal(stats(sim, l, &a).delivered, 1);
    synack_sim_free(sim);
    tnode_fini(&a);
}

/* ---- pcap ---------------------------------------------------------------- */

struct pcap_rec {
    uint32_t sec, usec, incl, orig;
    const uint8_t *data;
};

/* Parse a classic pcap file written in host order; returns the records. */
static size_t parse_pcap(const uint8_t *f, size_t n, uint32_t *snaplen, uint32_t *linktype,
                         struct pcap_rec *recs, size_t max)
{
    assert_true(n >= 24);
    uint32_t magic, zone, sigfigs;
    uint16_t major, minor;
    memcpy(&magic, f, 4);
    memcpy(&major, f + 4, 2);
    memcpy(&minor, f + 6, 2);
    memcpy(&zone, f + 8, 4);
    memcpy(&sigfigs, f + 12, 4);
    memcpy(snaplen, f + 16, 4);
    memcpy(linktype, f + 20, 4);
    assert_int_equal(magic, 0xa1b2c3d4u);
    assert_int_equal(major, 2);
    assert_int_equal(minor, 4);
    assert_int_equal(zone, 0);
    assert_int_equal(sigfigs, 0);
    size_t off = 24, k = 0;
    while (off < n) {
        assert_true(off + 16 <= n && k < max);
        struct pcap_rec *r = &recs[k++];
        memcpy(&r->sec, f + off, 4);
        memcpy(&r->usec, f + off + 4, 4);
        memcpy(&r->incl, f + off + 8, 4);
        memcpy(&r->orig, f + off + 12, 4);
        assert_true(r->usec < 1000000 && r->incl <= r->orig && r->incl <= *snaplen);
        r->data = f + off + 16;
        off += 16 + r->incl;
        assert_true(off <= n);
    }
    return k;
}

static void test_pcap_format(void **state)
{
    (void)state;
    char path[512];
    tmp_path(path, sizeof(path), "fmt.pcap");
    struct synack_pcap *p = NULL;
    assert_int_equal(synack_pcap_open(path, SYNACK_PCAP_LINKTYPE_RAW, 64, &p), 0);
    uint8_t pkt[100];
    mkpkt(pkt, ADDR_A, ADDR_B, 3, 100);
    assert_int_equal(synack_pcap_write(p, 1234567890u, pkt, 100), 0); /* truncated to 64 */
    assert_int_equal(synack_pcap_write(p, 0, pkt, 40), 0);
    assert_int_equal(synack_pcap_write(p, 5000000, pkt, 0), 0);
    assert_int_equal(synack_pcap_write(p, 0, NULL, 5), -EINVAL);
    assert_int_equal(synack_pcap_write(NULL, 0, pkt, 5), -EINVAL);
    assert_int_equal(synack_pcap_close(p), 0);

    size_t n;
    uint8_t *f = slurp(path, &n);
    assert_int_equal(n, 24 + 16 + 64 + 16 + 40 + 16);
    uint32_t snaplen, linktype;
    struct pcap_rec r[4];
    assert_int_equal(parse_pcap(f, n, &snaplen, &linktype, r, 4), 3);
    assert_int_equal(snaplen, 64);
    assert_int_equal(linktype, 101);
    assert_int_equal(r[0].sec, 1234);
    assert_int_equal(r[0].usec, 567890);
    assert_int_equal(r[0].incl, 64);
    assert_int_equal(r[0].orig, 100);
    assert_memory_equal(r[0].data, pkt, 64);
    assert_int_equal(r[1].sec, 0);
    assert_int_equal(r[1].usec, 0);
    assert_int_equal(r[1].incl, 40);
    assert_int_equal(r[1].orig, 40);
    assert_memory_equal(r[1].data, pkt, 40);
    assert_int_equal(r[2].sec, 5);
    assert_int_equal(r[2].usec, 0);
    assert_int_equal(r[2].incl, 0);
    free(f);

    /* snaplen 0 means 65535; the link type is written as given. */
    assert_int_equal(synack_pcap_open(path, SYNACK_PCAP_LINKTYPE_ETHERNET, 0, &p), 0);
    assert_int_equal(synack_pcap_close(p), 0);
    f = slurp(path, &n);
    assert_int_equal(parse_pcap(f, n, &snaplen, &linktype, r, 4), 0);
    assert_int_equal(snaplen, 65535);
    assert_int_equal(linktype, 1);
    free(f);
    unlink(path);

    /* Errors. */
    assert_int_equal(synack_pcap_open(NULL, 101, 0, &p), -EINVAL);
    assert_int_equal(synack_pcap_open(path, 101, 0, NULL), -EINVAL);
    assert_int_equal(synack_pcap_open("/nonexistent-dir/x.pcap", 101, 0, &p), -ENOENT);
    assert_null(p);
    assert_int_equal(synack_pcap_close(NULL), 0);
    /* A full disk shows up, at the latest when closing. */
    if (synack_pcap_open("/dev/full", 101, 0, &p) == 0) {
        int err = 0;
        for (int i = 0; i < 1000 && err == 0; i++)
            err = synack_pcap_write(p, 0, pkt, 100);
        int cerr = synack_pcap_close(p);
        assert_int_equal(err != 0 ? err : cerr, -ENOSPC);
        assert_int_equal(cerr, -ENOSPC);
    }
}

/* The simulator's capture: both directions of the link, virtual time stamps,
 * including packets the link then drops. */
static void test_sim_pcap(void **state)
{
    (void)state;
    char path[512], first[512];
    tmp_path(path, sizeof(path), "sim.pcap");
    tmp_path(first, sizeof(first), "sim0.pcap");
    struct synack_sim *sim = new_sim(1);
    struct tnode a, b, c;
    add_pair(sim, &a, &b);
    add_tnode(sim, &c, ADDR_C);
    static const synack_time_t times[] = {0, 1500000, 3000001};
    a.times = times;
    a.count = 3;
    a.len = 50;
    b.echo_copies = 1;
    struct synack_link_params p = params(1000);
    int l = join(sim, &a, &b, &p);
    int other = join(sim, &b, &c, &p); /* not captured */
    assert_int_equal(synack_sim_pcap(sim, other, "/nonexistent-dir/x.pcap"), -ENOENT);
    assert_int_equal(synack_sim_pcap(sim, l, first), 0);
    assert_int_equal(synack_sim_pcap(sim, l, path), 0); /* closes `first` */
    synack_sim_run_until(sim, 2000000);
    p.loss = 1.0;
    assert_int_equal(synack_sim_link_set(sim, l, a.id, &p), 0);
    synack_sim_run_until(sim, SYNACK_SEC(5));
    synack_sim_free(sim); /* closes the file */

    size_t n;
    uint8_t *f = slurp(first, &n);
    assert_int_equal(n, 24); /* just the file header */
    free(f);
    unlink(first);
    f = slurp(path, &n);
    uint32_t snaplen, linktype;
    struct pcap_rec r[8];
    size_t k = parse_pcap(f, n, &snaplen, &linktype, r, 8);
    assert_int_equal(linktype, SYNACK_PCAP_LINKTYPE_RAW);
    assert_int_equal(snaplen, 65535);
    assert_int_equal(k, 5); /* a->b, b->a, a->b, b->a, a->b (lost) */
    static const uint32_t sec[] = {0, 0, 1, 1, 3}, usec[] = {0, 1000, 500000, 501000, 1};
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(r[i].sec, sec[i]);
        assert_int_equal(r[i].usec, usec[i]);
        assert_int_equal(r[i].incl, 50);
        assert_int_equal(get32(r[i].data + 12), i % 2 == 0 ? ADDR_A : ADDR_B);
        assert_int_equal(pkt_seq(r[i].data), i / 2);
    }
    assert_int_equal(b.narr, 2);
    free(f);
    unlink(path);
    tnode_fini(&a);
    tnode_fini(&b);
    tnode_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_names),
        cmocka_unit_test(test_params_default),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_delay_exact),
        cmocka_unit_test(test_serialisation_exact),
        cmocka_unit_test(test_queue_tail_drop),
        cmocka_unit_test(test_loss_rate),
        cmocka_unit_test(test_duplication),
        cmocka_unit_test(test_reordering),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_observer_sequence),
        cmocka_unit_test(test_determinism_pcap),
        cmocka_unit_test(test_equal_time_order),
        cmocka_unit_test(test_reentrant_sends),
        cmocka_unit_test(test_run_control),
        cmocka_unit_test(test_link_set),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_add_stack),
        cmocka_unit_test(test_pcap_format),
        cmocka_unit_test(test_sim_pcap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
