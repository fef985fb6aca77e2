/* Bounds a stack keeps whatever the traffic: no datagram larger than the
 * link MTU (data segments carrying SACK and D-SACK blocks, echo replies,
 * links with an MTU below the MSS floor), and a clock that is really
 * caught up after synack_stack_advance(now) (no deadline left at `now`).
 *
 * Two stacks exchange data in both directions at once over a lossy,
 * reordering link, so each side's data segments also carry the SACK blocks
 * of what it received out of order; an observer checks every datagram
 * either side sends.  The bytes are checked on arrival, both ways. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/stack.h"
#include "synack/wire.h"

#define AADDR 0x0a000001u
#define BADDR 0x0a000002u
#define PORT 7000

struct side {
    struct synack_stack *st;
    int fd;
    uint64_t sent, rcvd;   /* stream offsets: the data is (offset * 131 + dir) & 0xff */
    bool shut, eof;
};

struct run {
    struct synack_sim *sim;
    uint16_t mtu;
    int lfd;
    struct side side[2];
    uint64_t bytes;
    uint64_t over_mtu, datagrams, sack_on_data, max_seen;
};

static uint8_t pattern(uint64_t off, int dir)
{
    return (uint8_t)(off * 131u + (unsigned)dir * 17u);
}

/* Every datagram entering the link must fit the MTU; count data segments
 * that carry SACK blocks, so the test knows it exercised them. */
static void observe(void *user, synack_time_t now, int link, int from, int to,
                    enum synack_sim_event ev, const uint8_t *pkt, size_t len)
{
    (void)now;
    (void)link;
    (void)from;
    (void)to;
    struct run *r = user;
    if (ev != SYNACK_SIM_SENT)
        return;
    r->datagrams++;
    if (len > r->max_seen)
        r->max_seen = len;
    if (len > r->mtu)
        r->over_mtu++;
    struct synack_ipv4_hdr ip;
    struct synack_tcp_hdr th;
    if (synack_ipv4_parse(pkt, len, &ip) == 0 && ip.proto == SYNACK_IPPROTO_TCP &&
        synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &th) == 0 &&
        th.payload_len > 0 && (th.opts.present & SYNACK_TCPOPT_F_SACK))
        r->sack_on_data++;
}

static void pump_side(struct run *r, int i)
{
    struct side *sd = &r->side[i];
    uint8_t buf[4096];
    while (sd->sent < r->bytes) {
        size_t n = r->bytes - sd->sent < sizeof(buf) ? (size_t)(r->bytes - sd->sent) : sizeof(buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = pattern(sd->sent + k, i);
        ssize_t w = synack_send(sd->st, sd->fd, buf, n, 0);
        if (w < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        sd->sent += (uint64_t)w;
    }
    if (sd->sent == r->bytes && !sd->shut) {
        assert_int_equal(synack_shutdown(sd->st, sd->fd, SHUT_WR), 0);
        sd->shut = true;
    }
    while (!sd->eof) {
        ssize_t n = synack_recv(sd->st, sd->fd, buf, sizeof(buf), 0);
        if (n < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        if (n == 0) {
            sd->eof = true;
            break;
        }
        for (ssize_t k = 0; k < n; k++)
            if (buf[k] != pattern(sd->rcvd + (uint64_t)k, 1 - i))
                fail_msg("side %d: byte %llu differs", i, (unsigned long long)(sd->rcvd + k));
        sd->rcvd += (uint64_t)n;
    }
}

static void two_way(uint16_t mtu, bool timestamps, uint64_t bytes, double loss, uint64_t seed)
{
    struct run *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->mtu = mtu;
    r->bytes = bytes;
    assert_int_equal(synack_sim_new(seed, &r->sim), 0);
    synack_sim_set_observer(r->sim, observe, r);
    int node[2];
    for (int i = 0; i < 2; i++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == 0 ? AADDR : BADDR;
        cfg.mtu = mtu;
        cfg.seed = 0;
        cfg.timestamps = timestamps;
        cfg.msl = SYNACK_SEC(1);
        node[i] = synack_sim_add_stack(r->sim, &cfg, &r->side[i].st);
        assert_true(node[i] >= 0);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(5);
    lp.rate_bps = 20000000;
    lp.loss = loss;
    lp.reorder = loss;
    assert_true(synack_sim_link(r->sim, node[0], node[1], &lp, &lp) >= 0);

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    r->lfd = synack_socket(r->side[1].st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(synack_bind(r->side[1].st, r->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(r->side[1].st, r->lfd, 1), 0);
    r->side[0].fd = synack_socket(r->side[0].st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    a.sin_addr.s_addr = htonl(BADDR);
    assert_int_equal(synack_connect(r->side[0].st, r->side[0].fd, (struct sockaddr *)&a, sizeof(a)),
                     -1);
    assert_int_equal(errno, EINPROGRESS);
    r->side[1].fd = -1;

    synack_time_t limit = SYNACK_SEC(600);
    while (!(r->side[0].eof && r->side[1].eof)) {
        if (r->side[1].fd < 0) {
            r->side[1].fd = synack_accept(r->side[1].st, r->lfd, NULL, NULL);
        }
        struct pollfd pf = {.fd = r->side[0].fd, .events = POLLOUT};
        if (synack_poll(r->side[0].st, &pf, 1) > 0)
            pump_side(r, 0);
        if (r->side[1].fd >= 0)
            pump_side(r, 1);
        if (!synack_sim_step(r->sim) || synack_sim_now(r->sim) > limit)
            fail_msg("mtu %u seed %llu: stalled at %llu/%llu and %llu/%llu bytes", mtu,
                     (unsigned long long)seed, (unsigned long long)r->side[0].rcvd,
                     (unsigned long long)bytes, (unsigned long long)r->side[1].rcvd,
                     (unsigned long long)bytes);
    }
    if (r->over_mtu)
        fail_msg("mtu %u seed %llu ts %d: %llu of %llu datagrams over the MTU (largest %llu)", mtu,
                 (unsigned long long)seed, timestamps, (unsigned long long)r->over_mtu,
                 (unsigned long long)r->datagrams, (unsigned long long)r->max_seen);
    assert_int_equal(r->side[0].rcvd, bytes);
    assert_int_equal(r->side[1].rcvd, bytes);
    synack_sim_free(r->sim);
    uint64_t sack_on_data = r->sack_on_data;
    free(r);
    if (loss > 0)   /* the case this test exists for did happen */
        assert_true(sack_on_data > 0);
}

/* Data segments that carry SACK or D-SACK blocks are built with room for
 * them: full-sized segments with blocks never exceed the MTU. */
static void test_sack_blocks_fit(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        two_way(1500, true, 300000, 0.03, seed);
        two_way(1500, false, 300000, 0.03, seed);
    }
    two_way(576, true, 100000, 0.05, 7);
}

/* An MTU below 104 (40 bytes of headers plus the 64-byte MSS floor): the
 * floor yields to the link, so nothing goes out larger than the MTU and the
 * data still arrives; down to IPv4's minimum of 68, with timestamps and SACK
 * blocks competing for the 28 bytes. */
static void test_tiny_mtu(void **state)
{
    (void)state;
    static const uint16_t mtus[] = {68, 80, 100, 103, 104};
    for (size_t i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
        two_way(mtus[i], true, 20000, 0, 11);
        two_way(mtus[i], false, 20000, 0.02, 12);
        two_way(mtus[i], true, 20000, 0.02, 13);
    }
}

/* ---- ICMP echo ------------------------------------------------------------------- */

struct capture {
    size_t n, len, max_len;
    uint8_t type;
};

static int cap_out(void *user, const uint8_t *pkt, size_t len)
{
    struct capture *c = user;
    struct synack_ipv4_hdr ip;
    struct synack_icmp_hdr ic;
    c->n++;
    c->len = len;
    if (len > c->max_len)
        c->max_len = len;
    if (synack_ipv4_parse(pkt, len, &ip) == 0 && ip.proto == SYNACK_IPPROTO_ICMP &&
        synack_icmp_parse(ip.payload, ip.payload_len, &ic) == 0)
        c->type = ic.type;
    return 0;
}

/* Feeds an echo request of `total` bytes (IPv4 header included). */
static int echo(struct synack_stack *st, size_t total)
{
    static uint8_t pkt[65535], data[65535];
    struct synack_icmp_hdr req = {.type = SYNACK_ICMP_ECHO_REQUEST, .id = 7, .seq = 1,
                                  .data = data, .data_len = total - 28};
    int n = synack_icmp_emit(pkt + 20, sizeof(pkt) - 20, &req);
    assert_int_equal(n, (int)(total - 20));
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)total, .ttl = 64,
                                 .proto = SYNACK_IPPROTO_ICMP, .src = BADDR, .dst = AADDR};
    assert_int_equal(synack_ipv4_emit(pkt, 20, &ip), 20);
    return synack_stack_input(st, pkt, total, 0);
}

/* RFC 1122 3.2.2.6 wants the whole data echoed; a reply that would not fit
 * the MTU goes out in fragments that do (ip.c), never as one packet past it. */
static void test_echo_reply_within_mtu(void **state)
{
    (void)state;
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = AADDR;
    cfg.mtu = 576;
    struct capture c = {0};
    struct synack_stack *st;
    assert_int_equal(synack_stack_new(&cfg, cap_out, &c, &st), 0);
    assert_int_equal(echo(st, 576), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.len, 576);
    assert_int_equal(c.type, SYNACK_ICMP_ECHO_REPLY);
    assert_int_equal(echo(st, 577), 0);   /* 557 bytes: 552 + 5 */
    assert_int_equal(echo(st, 9000), 0);  /* 8980 bytes: 16 x 552 + 148 */
    assert_int_equal(c.n, 1 + 2 + 17);
    assert_true(c.max_len <= 576);
    assert_int_equal(synack_stack_stats(st)->icmp_echo_replied, 3);
    assert_int_equal(synack_stack_stats(st)->ip_frag_out, 19);
    assert_int_equal(echo(st, 100), 0);
    assert_int_equal(c.n, 21);
    assert_int_equal(c.len, 100);
    synack_stack_free(st);
}

/* ---- the clock ------------------------------------------------------------------- */

/* Runs the pair (stack a talks to b directly, no link) to `until`, and
 * checks after every advance that nothing is still due at that time. */
struct pair {
    struct synack_stack *st[2];
    struct { uint8_t b[2048]; size_t len; } q[2][256];
    size_t nq[2];
};

static int pair_out(struct pair *p, int from, const uint8_t *pkt, size_t len)
{
    if (p->nq[from] == 256 || len > sizeof(p->q[0][0].b))
        return -ENOBUFS;
    memcpy(p->q[from][p->nq[from]].b, pkt, len);
    p->q[from][p->nq[from]++].len = len;
    return 0;
}
static int out_a(void *u, const uint8_t *pkt, size_t len) { return pair_out(u, 0, pkt, len); }
static int out_b(void *u, const uint8_t *pkt, size_t len) { return pair_out(u, 1, pkt, len); }

static void deliver(struct pair *p, synack_time_t now)
{
    for (int moved = 1; moved;) {
        moved = 0;
        for (int i = 0; i < 2; i++) {
            size_t n = p->nq[i];
            p->nq[i] = 0;
            for (size_t k = 0; k < n; k++) {
                synack_stack_input(p->st[1 - i], p->q[i][k].b, p->q[i][k].len, now);
                moved = 1;
            }
        }
    }
}

static void advance_checked(struct pair *p, synack_time_t now)
{
    for (int i = 0; i < 2; i++) {
        synack_stack_advance(p->st[i], now);
        synack_time_t d = synack_stack_next_deadline(p->st[i]);
        if (d <= now)
            fail_msg("stack %d: after advance(%llu) the next deadline is %llu", i,
                     (unsigned long long)now, (unsigned long long)d);
    }
}

/* The header's promise: advance(now) runs every timer due by `now`, so the
 * next deadline is later than `now` — also after a long jump in time with
 * a keepalive, a delayed ACK and retransmissions all due at once. */
static void test_no_deadline_left_at_now(void **state)
{
    (void)state;
    struct pair *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = AADDR;
    assert_int_equal(synack_stack_new(&cfg, out_a, p, &p->st[0]), 0);
    cfg.addr = BADDR;
    assert_int_equal(synack_stack_new(&cfg, out_b, p, &p->st[1]), 0);
    int one = 1, idle = 1;
    int lfd = synack_socket(p->st[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(synack_bind(p->st[1], lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(p->st[1], lfd, 1), 0);
    int cfd = synack_socket(p->st[0], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(synack_setsockopt(p->st[0], cfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
    assert_int_equal(synack_setsockopt(p->st[0], cfd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)), 0);
    assert_int_equal(synack_setsockopt(p->st[0], cfd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle)), 0);
    a.sin_addr.s_addr = htonl(BADDR);
    synack_connect(p->st[0], cfd, (struct sockaddr *)&a, sizeof(a));
    synack_time_t now = 0;
    deliver(p, now);
    int sfd = synack_accept(p->st[1], lfd, NULL, NULL);
    assert_true(sfd >= 0);
    static uint8_t buf[100000];
    /* Jumps of every size, with data in flight that is delivered, or lost
     * (so retransmissions and keepalives fall due together). */
    static const synack_time_t jumps[] = {1, 39999, 40000, 200000, SYNACK_SEC(1), SYNACK_SEC(7),
                                          SYNACK_SEC(3600), SYNACK_SEC(86400), 3, 0};
    for (int round = 0; round < 40; round++) {
        synack_send(p->st[round & 1], round & 1 ? sfd : cfd, buf, 100 + 700u * (unsigned)round, 0);
        if (round % 3 == 2) {
            p->nq[0] = p->nq[1] = 0;   /* lost */
        } else {
            deliver(p, now);
        }
        now += jumps[round % (sizeof(jumps) / sizeof(jumps[0]))];
        advance_checked(p, now);
        synack_recv(p->st[0], cfd, buf, sizeof(buf), 0);
        synack_recv(p->st[1], sfd, buf, sizeof(buf), 0);
        if (round % 4 == 0)
            p->nq[0] = p->nq[1] = 0;
        else
            deliver(p, now);
        advance_checked(p, now);
    }
    /* Random jumps (many landing exactly on a deadline), losses and
     * socket calls that re-arm timers, over connections opened and closed
     * all along, so that every state and timer kind is met: handshakes
     * retrying, data and its retransmission, zero windows (nobody reads a
     * small buffer), keepalive, orphans closing, TIME-WAIT. */
    int fds[2][8];
    for (int k = 0; k < 8; k++)
        fds[0][k] = fds[1][k] = -1;
    fds[0][0] = cfd;
    fds[1][0] = sfd;
    int lfd0 = synack_socket(p->st[0], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a0 = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(synack_bind(p->st[0], lfd0, (struct sockaddr *)&a0, sizeof(a0)), 0);
    assert_int_equal(synack_listen(p->st[0], lfd0, 4), 0);
    int lfds[2] = {lfd0, lfd};
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 4000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int side = (int)(x & 1), k = (int)((x >> 4) % 8), fd = fds[side][k];
        for (int sd = 0; sd < 2; sd++) {   /* take what the listeners hold */
            int nfd = synack_accept(p->st[sd], lfds[sd], NULL, NULL);
            for (int m = 0; nfd >= 0 && m < 8; m++)
                if (fds[sd][m] < 0) {
                    fds[sd][m] = nfd;
                    nfd = -1;
                }
            if (nfd >= 0)
                synack_close(p->st[sd], nfd);
        }
        switch ((x >> 1) % 12) {
        case 0:
        case 1:
            if (fd >= 0)
                synack_send(p->st[side], fd, buf, (size_t)(x >> 8) % 5000, 0);
            break;
        case 2:
            if (fd >= 0 && (x >> 9) % 4)   /* sometimes nobody reads: zero windows */
                synack_recv(p->st[side], fd, buf, sizeof(buf), 0);
            break;
        case 3:
            if (fd >= 0) {
                int v = (int)((x >> 8) % 3) + 1;
                synack_setsockopt(p->st[side], fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
                synack_setsockopt(p->st[side], fd, IPPROTO_TCP,
                                  (x >> 12) & 1 ? TCP_KEEPIDLE : TCP_KEEPINTVL, &v, sizeof(v));
            }
            break;
        case 4:
            if (fd >= 0 && (x >> 10) % 3 == 0) {
                synack_close(p->st[side], fd);   /* an orphan finishes on its own */
                fds[side][k] = -1;
            } else if (fd >= 0) {
                synack_shutdown(p->st[side], fd, SHUT_WR);
            }
            break;
        case 5:
            if (fd < 0) {
                int nfd = synack_socket(p->st[side], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
                int small = 2048;
                synack_setsockopt(p->st[side], nfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
                struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORT),
                                         .sin_addr.s_addr = htonl(side ? AADDR : BADDR)};
                synack_connect(p->st[side], nfd, (struct sockaddr *)&to, sizeof(to));
                fds[side][k] = nfd;
            }
            break;
        case 6:
            p->nq[0] = p->nq[1] = 0;
            break;
        default:
            deliver(p, now);
            break;
        }
        synack_time_t d0 = synack_stack_next_deadline(p->st[0]);
        synack_time_t d1 = synack_stack_next_deadline(p->st[1]);
        synack_time_t d = d0 < d1 ? d0 : d1;
        if ((x >> 20) % 3 == 0 && d != SYNACK_TIME_NEVER && d >= now)
            now = d;   /* exactly at a deadline */
        else
            now += (x >> 24) % ((x >> 40) & 1 ? SYNACK_SEC(200) : SYNACK_MSEC(300));
        advance_checked(p, now);
    }
    /* The walk met what it is meant to: many connections, retransmissions,
     * keepalive probes' answers and resets included. */
    const struct synack_stack_stats *s0 = synack_stack_stats(p->st[0]), *s1 = synack_stack_stats(p->st[1]);
    if (getenv("SYNACK_VERBOSE"))
        print_message("opened %llu/%llu accepted %llu/%llu retrans %llu/%llu rst %llu/%llu\n",
                      (unsigned long long)s0->tcp_conns_opened, (unsigned long long)s1->tcp_conns_opened,
                      (unsigned long long)s0->tcp_conns_accepted, (unsigned long long)s1->tcp_conns_accepted,
                      (unsigned long long)s0->tcp_retrans, (unsigned long long)s1->tcp_retrans,
                      (unsigned long long)s0->tcp_rst_out, (unsigned long long)s1->tcp_rst_out);
    assert_true(s0->tcp_conns_opened + s1->tcp_conns_opened >= 20);
    assert_true(s0->tcp_conns_accepted + s1->tcp_conns_accepted >= 10);
    assert_true(s0->tcp_retrans > 0 && s1->tcp_retrans > 0);
    /* A long silence: keepalives fall due, go unanswered, the connection dies. */
    for (int i = 0; i < 30; i++) {
        p->nq[0] = p->nq[1] = 0;
        now += SYNACK_SEC(100000);
        advance_checked(p, now);
    }
    synack_stack_free(p->st[0]);
    synack_stack_free(p->st[1]);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sack_blocks_fit),
        cmocka_unit_test(test_tiny_mtu),
        cmocka_unit_test(test_echo_reply_within_mtu),
        cmocka_unit_test(test_no_deadline_left_at_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
