/* Hostile input: a stack with a listener and live connections is fed a
 * long seeded stream of segments that are valid on the wire (checksums
 * right) but arbitrary in every field — flags in any combination, sequence
 * and acknowledgement numbers near and far from the windows, options of
 * every kind with odd values, payloads of any size — mixed with corrupted
 * and truncated packets and ICMP errors quoting the connections, while the
 * application calls send, recv, shutdown and close at random and time
 * jumps.  Run under ASan/UBSan by the README's test command, it checks that
 * no input crashes the core, corrupts memory or leaks, and that the stack
 * keeps working afterwards (a clean connection still carries data).
 * After every round the connection invariants (src/tcp/tcp_check.c) must
 * hold and every packet the stack sent must fit the MTU with correct
 * checksums.  Rounds aimed at known weak spots: peer MSS values 0 to 64,
 * forged timestamps, SACKs the receiver later reneges on, and ACKs of data
 * never sent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "tcp/tcp_check.h"
#include "synack/socket.h"
#include "synack/stack.h"
#include "synack/wire.h"

#define ME 0x0a000002u   /* the stack under test */
#define PEER 0x0a000001u /* the forged peer */
#define PORT 80

struct harness {
    struct synack_stack *s;
    struct sn_rng rng;
    synack_time_t now;
    uint8_t last[2048];  /* the last packet the stack sent */
    size_t last_len;
    uint64_t sent;
    int lfd;
    uint16_t syn_mss;    /* MSS option of the next handshake */
    uint64_t checks;     /* invariant checks passed */
};

/* Every invariant of every connection, and what was sent, after each round. */
static void check(struct harness *h, const char *where)
{
    struct sn_check_report r;
    if (sn_check_stack(h->s, NULL, &r) < 0)
        sn_check_fail(h->s, where, &r);
    h->checks++;
}

static int capture(void *user, const uint8_t *pkt, size_t len)
{
    struct harness *h = user;
    struct sn_check_report r;
    if (sn_check_packet(h->s, pkt, len, NULL, &r) < 0)
        sn_check_fail(h->s, "output", &r);
    h->sent++;
    h->last_len = len < sizeof(h->last) ? len : sizeof(h->last);
    memcpy(h->last, pkt, h->last_len);
    return 0;
}

static uint32_t rnd(struct harness *h, uint32_t n) { return sn_rng_below(&h->rng, n); }

/* Emit an IPv4 packet carrying `th` from the peer and feed it to the stack. */
static int feed_tcp(struct harness *h, struct synack_tcp_hdr *th)
{
    uint8_t pkt[SYNACK_IPV4_HDR_MIN + SYNACK_TCP_HDR_MAX + 1600];
    int n = synack_tcp_emit(pkt + SYNACK_IPV4_HDR_MIN, sizeof(pkt) - SYNACK_IPV4_HDR_MIN, th,
                            PEER, ME);
    if (n < 0)
        return n;
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(SYNACK_IPV4_HDR_MIN + n), .ttl = 64,
                                 .proto = SYNACK_IPPROTO_TCP, .src = PEER, .dst = ME};
    synack_ipv4_emit(pkt, SYNACK_IPV4_HDR_MIN, &ip);
    return synack_stack_input(h->s, pkt, (size_t)SYNACK_IPV4_HDR_MIN + (size_t)n, h->now);
}

/* Random but well-formed options: the parser accepts them, the engine must cope. */
static void random_options(struct harness *h, struct synack_tcp_opts *o)
{
    memset(o, 0, sizeof(*o));
    if (rnd(h, 4) == 0)
        return;
    if (rnd(h, 3) == 0) {
        o->present |= SYNACK_TCPOPT_F_MSS;
        o->mss = (uint16_t)(rnd(h, 3) ? rnd(h, 65536) : rnd(h, 3));
    }
    if (rnd(h, 3) == 0) {
        o->present |= SYNACK_TCPOPT_F_WSCALE;
        o->wscale = (uint8_t)rnd(h, 256);
    }
    if (rnd(h, 3) == 0)
        o->present |= SYNACK_TCPOPT_F_SACK_PERM;
    if (rnd(h, 2) == 0) {
        o->present |= SYNACK_TCPOPT_F_TIMESTAMP;
        o->tsval = (uint32_t)sn_rng_next(&h->rng);
        o->tsecr = (uint32_t)sn_rng_next(&h->rng);
    }
    if (rnd(h, 2) == 0 && !(o->present & SYNACK_TCPOPT_F_MSS)) {
        o->present |= SYNACK_TCPOPT_F_SACK;
        o->nsack = (uint8_t)(1 + rnd(h, 3));
        for (int i = 0; i < o->nsack; i++) {
            o->sack[i].left = (uint32_t)sn_rng_next(&h->rng);
            o->sack[i].right = o->sack[i].left + rnd(h, 100000);
        }
    }
    if (synack_tcp_opts_len(o) < 0) /* too many together: keep the timestamps only */
        o->present &= SYNACK_TCPOPT_F_TIMESTAMP;
}

/* The stack's last SYN-ACK tells its ISS for the handshake's final ACK. */
static bool last_synack(struct harness *h, uint16_t port, uint32_t *iss)
{
    struct synack_ipv4_hdr ip;
    struct synack_tcp_hdr th;
    if (synack_ipv4_parse(h->last, h->last_len, &ip) < 0 ||
        synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &th) < 0)
        return false;
    if (th.dport != port || (th.flags & (SYNACK_TH_SYN | SYNACK_TH_ACK)) != (SYNACK_TH_SYN | SYNACK_TH_ACK))
        return false;
    *iss = th.seq;
    return true;
}

/* A normal handshake from `port`; returns the accepted descriptor or -1. */
static int open_conn(struct harness *h, uint16_t port, uint32_t *iss, uint32_t irs)
{
    struct synack_tcp_hdr th = {.sport = port, .dport = PORT, .seq = irs, .flags = SYNACK_TH_SYN,
                                .window = 65535};
    th.opts.present = SYNACK_TCPOPT_F_MSS | SYNACK_TCPOPT_F_SACK_PERM | SYNACK_TCPOPT_F_TIMESTAMP |
                      SYNACK_TCPOPT_F_WSCALE;
    th.opts.mss = h->syn_mss ? h->syn_mss : 1460;
    th.opts.wscale = 7;
    th.opts.tsval = 1;
    feed_tcp(h, &th);
    if (!last_synack(h, port, iss))
        return -1;
    memset(&th.opts, 0, sizeof(th.opts));
    th.seq = irs + 1;
    th.ack = *iss + 1;
    th.flags = SYNACK_TH_ACK;
    th.window = 1024;
    feed_tcp(h, &th);
    return synack_accept(h->s, h->lfd, NULL, NULL);
}

static void hostile_round(struct harness *h, uint16_t port, uint32_t irs, uint32_t iss)
{
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    static uint8_t payload[1500];
    th.sport = rnd(h, 8) ? port : (uint16_t)(40000 + rnd(h, 16));
    th.dport = rnd(h, 16) ? PORT : (uint16_t)rnd(h, 65536);
    /* Near the windows most of the time, anywhere sometimes. */
    th.seq = rnd(h, 4) ? irs + 1 + rnd(h, 70000) - 3000 : (uint32_t)sn_rng_next(&h->rng);
    th.ack = rnd(h, 4) ? iss + 1 + rnd(h, 70000) - 3000 : (uint32_t)sn_rng_next(&h->rng);
    th.flags = (uint8_t)rnd(h, 256);
    th.window = (uint16_t)(rnd(h, 4) ? rnd(h, 65536) : 0);
    th.urg_ptr = (uint16_t)rnd(h, 65536);
    random_options(h, &th.opts);
    uint32_t plen = rnd(h, 3) ? 0 : rnd(h, sizeof(payload));
    th.payload = payload;
    th.payload_len = plen;
    feed_tcp(h, &th);
}

/* The last packet the stack sent, damaged, fed back in as if from the peer
 * (checksums now wrong or lengths inconsistent: parse errors must be clean). */
static void damaged_round(struct harness *h)
{
    uint8_t pkt[2048];
    size_t len = h->last_len;
    if (len == 0)
        return;
    memcpy(pkt, h->last, len);
    int flips = 1 + (int)rnd(h, 8);
    for (int i = 0; i < flips; i++)
        pkt[rnd(h, (uint32_t)len)] ^= (uint8_t)(1u << rnd(h, 8));
    if (rnd(h, 3) == 0)
        len = rnd(h, (uint32_t)len + 1);
    synack_stack_input(h->s, pkt, len, h->now);
}

/* An ICMP error quoting a segment of ours, with random type, code and MTU. */
static void icmp_round(struct harness *h)
{
    if (h->last_len < 40)
        return;
    uint8_t pkt[SYNACK_IPV4_HDR_MIN + SYNACK_ICMP_HDR_LEN + 64];
    struct synack_icmp_hdr ic = {.type = rnd(h, 2) ? SYNACK_ICMP_DEST_UNREACH : SYNACK_ICMP_TIME_EXCEEDED,
                                 .code = (uint8_t)rnd(h, 5), .mtu = (uint16_t)rnd(h, 2000),
                                 .data = h->last, .data_len = 28 + rnd(h, 20)};
    /* The quote is of a packet we sent: swap its addresses back for the peer's view. */
    int n = synack_icmp_emit(pkt + SYNACK_IPV4_HDR_MIN, sizeof(pkt) - SYNACK_IPV4_HDR_MIN, &ic);
    if (n < 0)
        return;
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(SYNACK_IPV4_HDR_MIN + n), .ttl = 64,
                                 .proto = SYNACK_IPPROTO_ICMP, .src = PEER, .dst = ME};
    synack_ipv4_emit(pkt, SYNACK_IPV4_HDR_MIN, &ip);
    synack_stack_input(h->s, pkt, (size_t)SYNACK_IPV4_HDR_MIN + (size_t)n, h->now);
}

/* The peer's view of our send side, from TCP_INFO. */
static uint32_t snd_una_of(struct harness *h, int fd, uint32_t iss, uint32_t *sent)
{
    struct synack_tcp_info info;
    socklen_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    synack_getsockopt(h->s, fd, IPPROTO_TCP, TCP_INFO, &info, &len);
    *sent = (uint32_t)info.bytes_sent;
    return iss + 1 + (uint32_t)info.bytes_acked;
}

/* Segments aimed at weak spots, valid for the connection in every other way. */
static void targeted_round(struct harness *h, int fd, uint16_t port, uint32_t irs, uint32_t iss)
{
    static const uint8_t data[512];
    uint32_t sent, una = snd_una_of(h, fd, iss, &sent);
    struct synack_tcp_hdr th = {.sport = port, .dport = PORT, .seq = irs + 1, .ack = una,
                                .flags = SYNACK_TH_ACK, .window = 1024};
    synack_send(h->s, fd, data, 1 + rnd(h, sizeof(data)), 0);
    switch (rnd(h, 4)) {
    case 0:
        /* A forged timestamp: far in the future, or just behind. */
        th.opts.present = SYNACK_TCPOPT_F_TIMESTAMP;
        th.opts.tsval = rnd(h, 2) ? 0x7fffffffu + rnd(h, 1000) : rnd(h, 3);
        th.opts.tsecr = (uint32_t)sn_rng_next(&h->rng);
        feed_tcp(h, &th);
        break;
    case 1:
        /* ACKs of data never sent (a little past SND.MAX, or far). */
        th.ack = iss + 1 + sent + 1 + (rnd(h, 2) ? rnd(h, 3000) : rnd(h, 1u << 30));
        feed_tcp(h, &th);
        break;
    case 2: {
        /* SACK a block above SND.UNA, then renege: ACK stops at its left
         * edge and the block is no longer reported. */
        uint32_t left = una + 1 + rnd(h, 200), right = left + 1 + rnd(h, 300);
        th.opts.present = SYNACK_TCPOPT_F_SACK;
        th.opts.nsack = 1;
        th.opts.sack[0] = (struct synack_sack_block){left, right};
        for (int i = 0; i < 3; i++)
            feed_tcp(h, &th);
        th.opts.present = 0;
        th.opts.nsack = 0;
        th.ack = left;
        feed_tcp(h, &th);
        break;
    }
    default:
        /* A data segment with an in-window urgent pointer. */
        th.flags |= SYNACK_TH_URG | SYNACK_TH_PSH;
        th.urg_ptr = (uint16_t)(1 + rnd(h, 100));
        th.payload = data;
        th.payload_len = 1 + rnd(h, 100);
        feed_tcp(h, &th);
        break;
    }
}

static void app_round(struct harness *h, int *fd)
{
    char buf[4096] = {0};
    switch (rnd(h, 8)) {
    case 0: synack_send(h->s, *fd, buf, rnd(h, sizeof(buf)), rnd(h, 8) ? 0 : MSG_OOB); break;
    case 1: synack_recv(h->s, *fd, buf, sizeof(buf), 0); break;
    case 2: synack_shutdown(h->s, *fd, (int)rnd(h, 3)); break;
    case 3:
        if (rnd(h, 8) == 0) {
            struct linger lg = {1, 0};
            synack_setsockopt(h->s, *fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        synack_close(h->s, *fd);
        *fd = -1;
        break;
    default: {
        /* Let time pass: timers of every kind fire. */
        static const synack_time_t steps[] = {1, 1000, 40000, 250000, 3000000, 70000000};
        h->now += steps[rnd(h, 6)];
        synack_stack_advance(h->s, h->now);
        break;
    }
    }
}

static void test_hostile_input(void **state)
{
    (void)state;
    struct harness h = {0};
    sn_rng_seed(&h.rng, getenv("SYNACK_SEED") ? strtoull(getenv("SYNACK_SEED"), NULL, 0) : 20261121);
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = ME;
    cfg.msl = SYNACK_SEC(1);
    cfg.max_conns = 256;
    assert_int_equal(synack_stack_new(&cfg, capture, &h, &h.s), 0);
    h.lfd = synack_socket(h.s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(synack_bind(h.s, h.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(h.s, h.lfd, 16), 0);

    unsigned rounds = getenv("SYNACK_ROUNDS") ? (unsigned)atoi(getenv("SYNACK_ROUNDS")) : 200000;
    int fd = -1, conns = 0;
    uint16_t port = 20000;
    uint32_t iss = 0, irs = 0;
    for (unsigned i = 0; i < rounds; i++) {
        if (fd < 0) {
            port = (uint16_t)(port == 30000 ? 20000 : port + 1);
            irs = (uint32_t)sn_rng_next(&h.rng);
            /* One handshake in four offers an MSS of 0 to 64. */
            h.syn_mss = rnd(&h, 4) ? 0 : (uint16_t)rnd(&h, 65);
            fd = open_conn(&h, port, &iss, irs);
            conns += fd >= 0;
            check(&h, "handshake");
            continue;
        }
        switch (rnd(&h, 11)) {
        case 0: damaged_round(&h); break;
        case 1: icmp_round(&h); break;
        case 2: case 3: app_round(&h, &fd); break;
        case 4: targeted_round(&h, fd, port, irs, iss); break;
        default: hostile_round(&h, port, irs, iss); break;
        }
        check(&h, "round");
    }
    assert_true(h.checks >= rounds);
    assert_true(conns > 100);
    assert_true(h.sent > rounds / 10);
    const struct synack_stack_stats *st = synack_stack_stats(h.s);
    assert_true(st->tcp_rst_out > 0 && st->ip_drop_parse[-SYNACK_WIRE_ECSUM] > 0);
    print_message("%u rounds, %d connections, %llu packets out, %llu RSTs out\n", rounds, conns,
                  (unsigned long long)h.sent, (unsigned long long)st->tcp_rst_out);

    /* The stack still works: a clean connection carries data both ways. */
    if (fd >= 0)
        synack_close(h.s, fd);
    h.now += SYNACK_SEC(200);
    synack_stack_advance(h.s, h.now);
    uint32_t iss2;
    int cfd = open_conn(&h, 31000, &iss2, 1000);
    assert_true(cfd >= 0);
    struct synack_tcp_hdr th = {.sport = 31000, .dport = PORT, .seq = 1001, .ack = iss2 + 1,
                                .flags = SYNACK_TH_ACK | SYNACK_TH_PSH, .window = 1024};
    static const uint8_t hello[] = "hello";
    th.payload = hello;
    th.payload_len = 5;
    assert_int_equal(feed_tcp(&h, &th), 0);
    char buf[16];
    assert_int_equal(synack_recv(h.s, cfd, buf, sizeof(buf), 0), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(synack_send(h.s, cfd, "world", 5, 0), 5);
    synack_stack_free(h.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hostile_input)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
