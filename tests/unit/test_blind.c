/* Blind injection and forged ICMP (RFC 5961, RFC 5927, RFC 1191, RFC 1122
 * 4.2.3.9, RFC 7126), datagram by datagram against one stack:
 *   - the per-stack challenge ACK limit (the per-connection one and the
 *     ACK acceptability check are scripts: tests/scripts/rfc5961/);
 *   - ICMP "fragmentation needed" never takes the MSS below 552 - 40 bytes,
 *     and the estimate goes back up after 10 minutes (RFC 1191 6.3);
 *   - an opening connection told "host/net unreachable" keeps trying and,
 *     when it gives up, reports EHOSTUNREACH / ENETUNREACH;
 *   - source-routed datagrams (LSRR, SSRR) are dropped, other IP options not;
 *   - a known TCP option with an illegal length drops the option, not the
 *     segment (as Linux's tcp_parse_options).
 * Scripts show the per-connection limit and the ACK check
 * (tests/scripts/rfc5961/), the PMTU floor (rfc1191/frag-needed-floor.pkt)
 * and the soft error (rfc1122/synsent-host-unreachable.pkt); the dialect has
 * no IP options or malformed TCP options, so those live only here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>

#include "unit/raw_peer.h"
#include "wire/be.h"

/* An ICMP destination unreachable (code, mtu) quoting the datagram the
 * stack sent last, from PEER. */
static void icmp_unreach(struct h *h, uint8_t code, uint16_t mtu)
{
    uint8_t pkt[128];
    struct synack_icmp_hdr ic = {.type = SYNACK_ICMP_DEST_UNREACH, .code = code, .mtu = mtu,
                                 .data = h->raw, .data_len = 28};
    int n = synack_icmp_emit(pkt + 20, sizeof(pkt) - 20, &ic);
    assert_true(n > 0);
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(20 + n), .ttl = 64,
                                 .proto = SYNACK_IPPROTO_ICMP, .src = PEER, .dst = SRV};
    assert_int_equal(synack_ipv4_emit(pkt, sizeof(pkt), &ip), 20);
    ip_in(h, pkt, 20 + (size_t)n);
}

/* Move the clock to t one deadline at a time, as a driver does. */
static void run_until(struct h *h, synack_time_t t)
{
    for (int i = 0; i < 10000; i++) {
        synack_time_t d = synack_stack_next_deadline(h->s);
        if (d > t)
            break;
        synack_stack_advance(h->s, d);
    }
    synack_stack_advance(h->s, t);
}

static void test_stack_challenge_limit(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 4096, 2000);
    enum { N = 1600 };
    static uint32_t iss[N];
    for (int i = 0; i < N; i++)
        establish(&h, (uint16_t)(20000 + i), &iss[i]);
    /* One in-window RST for each, within one second: the stack answers
     * between 500 and 1499 of them (1000 +- 50%, drawn each second). */
    synack_stack_advance(h.s, SYNACK_SEC(2000));
    uint32_t before = h.nout;
    for (int i = 0; i < N; i++)
        seg_in(&h, PEER, (uint16_t)(20000 + i), SYNACK_TH_RST, 1001 + 100, 0, NULL, NULL);
    uint32_t sent = h.nout - before;
    assert_true(sent >= 500 && sent < 1500);
    assert_int_equal(st(&h)->tcp_challenge_acks, sent);
    assert_int_equal(st(&h)->tcp_challenge_ack_limited, N - sent);
    assert_int_equal(st(&h)->tcp_conns_reset, 0);
    /* The next second has a fresh budget. */
    synack_stack_advance(h.s, SYNACK_SEC(2001));
    before = h.nout;
    seg_in(&h, PEER, 20000, SYNACK_TH_RST, 1001 + 100, 0, NULL, NULL);
    assert_int_equal(h.nout - before, 1);
    synack_stack_free(h.s);
}

static void test_pmtu_floor_and_raise(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 64, 8);
    uint32_t iss;
    int fd = establish(&h, 30000, &iss);
    assert_int_equal(info(&h, fd).snd_mss, 1448);
    static char buf[8000];
    assert_int_equal(synack_send(h.s, fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
    /* MTU 120: held at the floor, 552 - 40 - 12 bytes of timestamps. */
    icmp_unreach(&h, SYNACK_ICMP_UNREACH_NEEDFRAG, 120);
    assert_int_equal(info(&h, fd).snd_mss, 500);
    assert_int_equal(h.last.payload_len, 500); /* resent at the new size */
    assert_int_equal(st(&h)->tcp_pmtu_lowered, 1);
    /* A larger MTU than the estimate does not raise it. */
    icmp_unreach(&h, SYNACK_ICMP_UNREACH_NEEDFRAG, 1400);
    assert_int_equal(info(&h, fd).snd_mss, 500);
    /* An ICMP quoting a sequence number not in flight is ignored (RFC 5927). */
    put32(h.raw + 24, iss + 100000);
    icmp_unreach(&h, SYNACK_ICMP_UNREACH_NEEDFRAG, 600);
    assert_int_equal(info(&h, fd).snd_mss, 500);
    /* Ten minutes later the next segment goes at the full size again. */
    seg_in(&h, PEER, 30000, SYNACK_TH_ACK, 1001, iss + 1 + 8000, NULL, NULL);
    run_until(&h, synack_stack_now(h.s) + SYNACK_SEC(601));
    assert_int_equal(synack_send(h.s, fd, buf, 4000, 0), 4000);
    assert_int_equal(info(&h, fd).snd_mss, 1448);
    assert_int_equal(st(&h)->tcp_pmtu_raised, 1);
    synack_stack_free(h.s);
}

/* connect() from the stack to PEER: an ICMP host (net) unreachable for the
 * SYN is a soft error; the SYN is retried, and when the stack gives up the
 * error is EHOSTUNREACH (ENETUNREACH), not ETIMEDOUT. */
static void unreachable_case(uint8_t code, int want)
{
    struct h h;
    setup(&h, 64, 8);
    int fd = synack_socket(h.s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80),
                            .sin_addr.s_addr = htonl(PEER)};
    synack_fcntl(h.s, fd, F_SETFL, O_NONBLOCK);
    assert_int_equal(synack_connect(h.s, fd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
    assert_int_equal(h.last.flags, SYNACK_TH_SYN);
    uint32_t syns = h.nout;
    icmp_unreach(&h, code, 0);
    assert_int_equal(info(&h, fd).state, SYNACK_SYN_SENT); /* not aborted */
    run_until(&h, synack_stack_now(h.s) + SYNACK_SEC(3));
    assert_true(h.nout > syns); /* the SYN was sent again */
    run_until(&h, synack_stack_now(h.s) + SYNACK_SEC(300));
    int err = 0;
    socklen_t len = sizeof(err);
    assert_int_equal(synack_getsockopt(h.s, fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(err, want);
    synack_stack_free(h.s);
}

static void test_synsent_host_unreachable(void **state)
{
    (void)state;
    unreachable_case(1, EHOSTUNREACH);
}

static void test_synsent_net_unreachable(void **state)
{
    (void)state;
    unreachable_case(0, ENETUNREACH);
}

/* A SYN in a datagram with IP options `opts` (a multiple of 4 bytes). */
static void syn_with_ip_options(struct h *h, uint16_t sport, const uint8_t *opts, size_t olen)
{
    uint8_t pkt[128];
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    th.sport = sport;
    th.dport = PORT;
    th.seq = 5000;
    th.flags = SYNACK_TH_SYN;
    th.window = 65535;
    size_t ihl = 20 + olen;
    int n = synack_tcp_emit(pkt + ihl, sizeof(pkt) - ihl, &th, PEER, SRV);
    assert_true(n > 0);
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(ihl + (size_t)n), .ttl = 64,
                                 .proto = SYNACK_IPPROTO_TCP, .src = PEER, .dst = SRV};
    assert_int_equal(synack_ipv4_emit(pkt, sizeof(pkt), &ip), 20);
    /* The segment already sits after the options' room: fill it, and
     * make the header say ihl bytes. */
    memcpy(pkt + 20, opts, olen);
    pkt[0] = (uint8_t)(0x40 | (ihl / 4));
    put16(pkt + 10, 0);
    put16(pkt + 10, synack_csum_fold(synack_csum_partial(pkt, ihl, 0)));
    ip_in(h, pkt, ihl + (size_t)n);
}

static void test_source_route_dropped(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 64, 8);
    /* LSRR (131) and SSRR (137) with one address, padded with EOL. */
    const uint8_t lsrr[8] = {131, 7, 4, 192, 0, 2, 99, 0};
    const uint8_t ssrr[8] = {137, 7, 4, 192, 0, 2, 99, 0};
    syn_with_ip_options(&h, 40000, lsrr, sizeof(lsrr));
    syn_with_ip_options(&h, 40001, ssrr, sizeof(ssrr));
    assert_int_equal(h.nsynack, 0);
    assert_int_equal(st(&h)->ip_drop_srcroute, 2);
    /* A malformed option list: dropped too. */
    const uint8_t bad[4] = {7, 9, 4, 0};
    syn_with_ip_options(&h, 40002, bad, sizeof(bad));
    assert_int_equal(h.nsynack, 0);
    /* Other options (NOPs, Record Route 7) are no reason to drop. */
    const uint8_t rr[8] = {1, 7, 7, 4, 0, 0, 0, 0};
    syn_with_ip_options(&h, 40003, rr, sizeof(rr));
    assert_int_equal(h.nsynack, 1);
    assert_int_equal(st(&h)->ip_drop_srcroute, 3);
    synack_stack_free(h.s);
}

/* A SYN with raw option bytes (a multiple of 4), from PEER:sport. */
static void syn_raw_options(struct h *h, uint16_t sport, const uint8_t *opts, size_t olen)
{
    uint8_t pkt[128] = {0};
    uint8_t *t = pkt + 20;
    size_t tl = 20 + olen;
    put16(t, sport);
    put16(t + 2, PORT);
    put32(t + 4, 7000);
    t[12] = (uint8_t)((tl / 4) << 4);
    t[13] = SYNACK_TH_SYN;
    put16(t + 14, 65535);
    memcpy(t + 20, opts, olen);
    put16(t + 16, synack_csum_fold(synack_csum_partial(
                      t, tl, synack_csum_pseudo(PEER, SRV, SYNACK_IPPROTO_TCP, (uint16_t)tl))));
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(20 + tl), .ttl = 64,
                                 .proto = SYNACK_IPPROTO_TCP, .src = PEER, .dst = SRV};
    assert_int_equal(synack_ipv4_emit(pkt, sizeof(pkt), &ip), 20);
    ip_in(h, pkt, 20 + tl);
}

static void test_illegal_option_length(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 64, 8);
    /* MSS with length 3 (ignored), then window scale 7 (taken). */
    const uint8_t a[8] = {2, 3, 0x05, 3, 3, 7, 1, 1};
    syn_raw_options(&h, 41000, a, sizeof(a));
    assert_int_equal(h.nsynack, 1);
    assert_true(h.last.opts.present & SYNACK_TCPOPT_F_WSCALE); /* the peer's wscale was read */
    uint32_t iss = h.last.seq;
    seg_in(&h, PEER, 41000, SYNACK_TH_ACK, 7001, iss + 1, NULL, NULL);
    int fd = synack_accept(h.s, h.lfd, NULL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(info(&h, fd).snd_mss, 536); /* no usable MSS option: RFC 9293's default */
    assert_int_equal(info(&h, fd).snd_wscale, 7);
    /* Timestamps of length 9 and SACK-permitted of length 3: both ignored. */
    const uint8_t b[12] = {8, 9, 0, 0, 0, 1, 0, 0, 0, 4, 3, 0};
    syn_raw_options(&h, 41001, b, sizeof(b));
    assert_int_equal(h.nsynack, 2);
    assert_false(h.last.opts.present & (SYNACK_TCPOPT_F_TIMESTAMP | SYNACK_TCPOPT_F_SACK_PERM));
    /* A length of 1 ends the list; what came before it counts, and the
     * segment stands. */
    const uint8_t c[8] = {2, 4, 0x04, 0x00, 30, 1, 0, 0};
    syn_raw_options(&h, 41002, c, sizeof(c));
    assert_int_equal(h.nsynack, 3);
    seg_in(&h, PEER, 41002, SYNACK_TH_ACK, 7001, h.last.seq + 1, NULL, NULL);
    fd = synack_accept(h.s, h.lfd, NULL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(info(&h, fd).snd_mss, 1024);
    synack_stack_free(h.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_challenge_limit),
        cmocka_unit_test(test_pmtu_floor_and_raise),
        cmocka_unit_test(test_synsent_host_unreachable),
        cmocka_unit_test(test_synsent_net_unreachable),
        cmocka_unit_test(test_source_route_dropped),
        cmocka_unit_test(test_illegal_option_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
