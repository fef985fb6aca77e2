/* The SYN cache and SYN cookies (tcp_syncache.c, RFC 4987), segment by
 * segment against one server stack: what a half-open connection costs, a
 * cached handshake, cookies when the cache is full (the options they keep
 * with and without timestamps), forged and stale cookie ACKs, the bounded
 * SYN-ACK retransmissions (fewer under pressure), RSTs, and a listener that
 * closes with entries pending. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"
#include "unit/raw_peer.h"

static void test_entry_is_small(void **state)
{
    (void)state;
    /* Stated in docs/architecture.md: 80 bytes per half-open connection. */
    assert_true(sizeof(struct sn_syn_entry) <= 80);
    /* A passive child before the cache: a TCB and its out-of-line block. */
    assert_true(sizeof(struct sn_syn_entry) * 6 < sizeof(struct sn_tcb) + sizeof(struct sn_tcb_ext));
}

static void test_cached_handshake(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 16, 8);
    uint64_t mem0 = st(&h)->mem_bytes;
    struct synack_tcp_opts o = linux_syn_opts(1000);
    seg_in(&h, PEER, 40000, SYNACK_TH_SYN, 5000, 0, &o, NULL);
    assert_int_equal(h.nsynack, 1);
    assert_int_equal(h.last.ack, 5001);
    assert_int_equal(st(&h)->tcp_halfopen, 1);
    assert_int_equal(st(&h)->tcp_syncookies_sent, 0);
    /* A half-open connection is an entry, not a TCB: 80 bytes. */
    assert_int_equal(h.s->nconns, 1); /* the listener */
    assert_int_equal(st(&h)->mem_bytes - mem0, sizeof(struct sn_syn_entry));
    /* The same SYN again: the SYN-ACK again, no second entry. */
    uint32_t iss = h.last.seq;
    seg_in(&h, PEER, 40000, SYNACK_TH_SYN, 5000, 0, &o, NULL);
    assert_int_equal(h.nsynack, 2);
    assert_int_equal(h.last.seq, iss);
    assert_int_equal(st(&h)->tcp_halfopen, 1);
    /* The ACK, with data: a connection, the data readable. */
    struct synack_tcp_opts a = {.present = SYNACK_TCPOPT_F_TIMESTAMP, .tsval = 1010,
                                .tsecr = h.last.opts.tsval};
    seg_in(&h, PEER, 40000, SYNACK_TH_ACK | SYNACK_TH_PSH, 5001, iss + 1, &a, "hello");
    assert_int_equal(st(&h)->tcp_halfopen, 0);
    int fd = synack_accept(h.s, h.lfd, NULL, NULL);
    assert_true(fd >= 0);
    char buf[8] = {0};
    assert_int_equal(synack_recv(h.s, fd, buf, sizeof(buf), 0), 5);
    assert_string_equal(buf, "hello");
    struct synack_tcp_info i = info(&h, fd);
    assert_int_equal(i.state, SYNACK_ESTABLISHED);
    assert_int_equal(i.snd_wscale, 7);
    assert_int_equal(i.options, SYNACK_TCPI_OPT_TIMESTAMPS | SYNACK_TCPI_OPT_SACK |
                                    SYNACK_TCPI_OPT_WSCALE);
    assert_int_equal(i.snd_mss, 1460 - 12);
    synack_stack_free(h.s);
}

/* The cache is full (max_syncache 1): the next SYN gets a cookie, which
 * carries wscale and SACK in the TSval when the peer offered timestamps. */
static void test_cookie_with_timestamps(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 1, 8);
    struct synack_tcp_opts o = linux_syn_opts(1000);
    seg_in(&h, PEER, 40000, SYNACK_TH_SYN, 5000, 0, &o, NULL);
    assert_int_equal(st(&h)->tcp_halfopen, 1);
    o.wscale = 9;
    seg_in(&h, PEER, 40001, SYNACK_TH_SYN, 7000, 0, &o, NULL);
    assert_int_equal(st(&h)->tcp_syncookies_sent, 1);
    assert_int_equal(st(&h)->tcp_syncache_overflow, 1);
    assert_int_equal(st(&h)->tcp_halfopen, 1); /* nothing stored */
    struct synack_tcp_hdr sa = h.last;
    assert_int_equal(sa.flags, SYNACK_TH_SYN | SYNACK_TH_ACK);
    assert_true(sa.opts.present & SYNACK_TCPOPT_F_WSCALE);
    assert_true(sa.opts.present & SYNACK_TCPOPT_F_SACK_PERM);
    assert_int_equal(sa.opts.tsval & 0x3f, 9 | 0x10); /* wscale 9, SACK */
    struct synack_tcp_opts a = {.present = SYNACK_TCPOPT_F_TIMESTAMP, .tsval = 1010,
                                .tsecr = sa.opts.tsval};
    seg_in(&h, PEER, 40001, SYNACK_TH_ACK, 7001, sa.seq + 1, &a, NULL);
    assert_int_equal(st(&h)->tcp_syncookies_recv, 1);
    int fd = synack_accept(h.s, h.lfd, NULL, NULL);
    assert_true(fd >= 0);
    struct synack_tcp_info i = info(&h, fd);
    assert_int_equal(i.state, SYNACK_ESTABLISHED);
    assert_int_equal(i.snd_wscale, 9);
    assert_int_equal(i.options, SYNACK_TCPI_OPT_TIMESTAMPS | SYNACK_TCPI_OPT_SACK |
                                    SYNACK_TCPI_OPT_WSCALE);
    assert_int_equal(i.snd_mss, 1460 - 12);
    /* Our TSval never goes back from the one the cookie SYN-ACK carried. */
    assert_int_equal(synack_send(h.s, fd, "x", 1, 0), 1);
    assert_true((int32_t)(h.last.opts.tsval - sa.opts.tsval) >= 0);
    assert_int_equal(h.last.opts.tsecr, 1010);
    synack_stack_free(h.s);
}

/* Without timestamps a cookie keeps only the MSS, rounded down to its table
 * (536, 1300, 1440, 1460); window scaling and SACK are not agreed. */
static void test_cookie_without_timestamps(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 1, 8);
    struct synack_tcp_opts o = {.present = SYNACK_TCPOPT_F_MSS, .mss = 1460};
    seg_in(&h, PEER, 40000, SYNACK_TH_SYN, 5000, 0, &o, NULL);
    o.present |= SYNACK_TCPOPT_F_WSCALE | SYNACK_TCPOPT_F_SACK_PERM;
    o.mss = 1400;
    o.wscale = 7;
    seg_in(&h, PEER, 40001, SYNACK_TH_SYN, 7000, 0, &o, NULL);
    assert_int_equal(st(&h)->tcp_syncookies_sent, 1);
    struct synack_tcp_hdr sa = h.last;
    assert_false(sa.opts.present & (SYNACK_TCPOPT_F_WSCALE | SYNACK_TCPOPT_F_SACK_PERM |
                                     SYNACK_TCPOPT_F_TIMESTAMP));
    seg_in(&h, PEER, 40001, SYNACK_TH_ACK, 7001, sa.seq + 1, NULL, NULL);
    int fd = synack_accept(h.s, h.lfd, NULL, NULL);
    assert_true(fd >= 0);
    struct synack_tcp_info i = info(&h, fd);
    assert_int_equal(i.options, 0);
    assert_int_equal(i.snd_mss, 1300);
    synack_stack_free(h.s);
}

/* A valid cookie ACK while the accept queue is full (backlog 0: one slot,
 * taken): ignored as Linux ignores it (ListenOverflows), no RST, no
 * connection; the same ACK once accept() made room opens the connection,
 * the cookie still good. */
static void test_cookie_ack_accept_queue_full(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 1, 0);
    struct synack_tcp_opts o = {.present = SYNACK_TCPOPT_F_MSS, .mss = 1460};
    seg_in(&h, PEER, 40000, SYNACK_TH_SYN, 5000, 0, &o, NULL);
    uint32_t iss_a = h.last.seq;
    seg_in(&h, PEER, 40001, SYNACK_TH_SYN, 7000, 0, &o, NULL);
    assert_int_equal(st(&h)->tcp_syncookies_sent, 1);
    uint32_t iss_b = h.last.seq;
    /* The cached handshake fills the accept queue. */
    seg_in(&h, PEER, 40000, SYNACK_TH_ACK, 5001, iss_a + 1, NULL, NULL);
    assert_int_equal(st(&h)->tcp_halfopen, 0);
    uint64_t drops = st(&h)->tcp_listen_drops;
    size_t nout = h.nout, nrst = h.nrst;
    seg_in(&h, PEER, 40001, SYNACK_TH_ACK, 7001, iss_b + 1, NULL, NULL);
    assert_int_equal(st(&h)->tcp_listen_drops, drops + 1);
    assert_int_equal(st(&h)->tcp_syncookies_recv, 0);
    assert_int_equal(h.nout, nout); /* nothing answered */
    assert_int_equal(h.nrst, nrst);
    int fa = synack_accept(h.s, h.lfd, NULL, NULL);
    assert_true(fa >= 0);
    assert_int_equal(synack_accept(h.s, h.lfd, NULL, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    /* Room again: the peer's ACK, resent, opens the connection. */
    seg_in(&h, PEER, 40001, SYNACK_TH_ACK, 7001, iss_b + 1, NULL, NULL);
    assert_int_equal(st(&h)->tcp_syncookies_recv, 1);
    int fb = synack_accept(h.s, h.lfd, NULL, NULL);
    assert_true(fb >= 0);
    assert_int_equal(info(&h, fb).state, SYNACK_ESTABLISHED);
    assert_int_equal(h.nrst, nrst);
    synack_stack_free(h.s);
}

/* An ACK whose acknowledgment is no cookie of ours gets a RST and opens
 * nothing; nor does a cookie that is too old, or any cookie ACK while no
 * cookies are being sent. */
static void test_cookie_forged_and_stale(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 1, 8);
    /* No flood: a guessed cookie ACK is a plain ACK in LISTEN. */
    seg_in(&h, PEER, 41000, SYNACK_TH_ACK, 100, 12345, NULL, NULL);
    assert_int_equal(h.nrst, 1);
    assert_int_equal(st(&h)->tcp_syncookies_failed, 0);
    struct synack_tcp_opts o = {.present = SYNACK_TCPOPT_F_MSS, .mss = 1460};
    seg_in(&h, PEER, 40000, SYNACK_TH_SYN, 5000, 0, &o, NULL);
    seg_in(&h, PEER, 40001, SYNACK_TH_SYN, 7000, 0, &o, NULL);
    uint32_t cookie = h.last.seq;
    /* Every bit matters: the cookie plus one, or another peer's ISN. */
    seg_in(&h, PEER, 40001, SYNACK_TH_ACK, 7001, cookie + 2, NULL, NULL);
    seg_in(&h, PEER, 40001, SYNACK_TH_ACK, 7002, cookie + 1, NULL, NULL);
    seg_in(&h, PEER + 1, 40001, SYNACK_TH_ACK, 7001, cookie + 1, NULL, NULL);
    assert_int_equal(st(&h)->tcp_syncookies_failed, 3);
    assert_int_equal(h.nrst, 4);
    assert_int_equal(synack_accept(h.s, h.lfd, NULL, NULL), -1);
    /* Four minutes later the cookie is stale. */
    synack_stack_advance(h.s, synack_stack_now(h.s) + SYNACK_SEC(240));
    assert_int_equal(st(&h)->tcp_halfopen, 0); /* the entry timed out */
    seg_in(&h, PEER, 40002, SYNACK_TH_SYN, 8000, 0, &o, NULL); /* fills the cache again */
    seg_in(&h, PEER, 40003, SYNACK_TH_SYN, 9000, 0, &o, NULL); /* cookies in use again */
    assert_int_equal(st(&h)->tcp_syncookies_sent, 2);
    uint32_t fresh = h.last.seq;
    seg_in(&h, PEER, 40001, SYNACK_TH_ACK, 7001, cookie + 1, NULL, NULL);
    assert_int_equal(st(&h)->tcp_syncookies_failed, 4);
    assert_int_equal(synack_accept(h.s, h.lfd, NULL, NULL), -1);
    /* A fresh one works. */
    seg_in(&h, PEER, 40003, SYNACK_TH_ACK, 9001, fresh + 1, NULL, NULL);
    assert_int_equal(st(&h)->tcp_syncookies_recv, 1);
    assert_true(synack_accept(h.s, h.lfd, NULL, NULL) >= 0);
    synack_stack_free(h.s);
}

/* A half-open entry retransmits its SYN-ACK cfg.synack_retries (5) times
 * with backoff, then goes; with the cache more than half full, once. */
static void test_synack_retries_bounded(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 16, 8);
    struct synack_tcp_opts o = {.present = SYNACK_TCPOPT_F_MSS, .mss = 1460};
    seg_in(&h, PEER, 40000, SYNACK_TH_SYN, 5000, 0, &o, NULL);
    synack_time_t t0 = synack_stack_now(h.s);
    synack_stack_advance(h.s, t0 + SYNACK_SEC(30));
    assert_int_equal(h.nsynack, 5);  /* 1 + at 1, 3, 7, 15 s */
    synack_stack_advance(h.s, t0 + SYNACK_SEC(62));
    assert_int_equal(h.nsynack, 6);  /* and at 31 s */
    assert_int_equal(st(&h)->tcp_halfopen, 1);
    synack_stack_advance(h.s, t0 + SYNACK_SEC(64));
    assert_int_equal(h.nsynack, 6);  /* it goes at 63 s */
    assert_int_equal(st(&h)->tcp_halfopen, 0);
    assert_int_equal(st(&h)->tcp_syncache_expired, 1);
    assert_int_equal(synack_stack_next_deadline(h.s), SYNACK_TIME_NEVER);
    /* A full cache (16 of 16): while it is more than half full an entry is
     * resent once and goes at 3 s.  The decision is made as each entry's
     * timer runs (as Linux's reqsk_timer_handler), so the oldest eight go
     * and the other eight, the cache no longer under pressure, live on. */
    h.nsynack = 0;
    for (uint16_t i = 0; i < 16; i++)
        seg_in(&h, PEER, (uint16_t)(41000 + i), SYNACK_TH_SYN, 5000, 0, &o, NULL);
    assert_int_equal(h.nsynack, 16);
    t0 = synack_stack_now(h.s);
    synack_stack_advance(h.s, t0 + SYNACK_SEC(2));
    assert_int_equal(h.nsynack, 32);
    synack_stack_advance(h.s, t0 + SYNACK_SEC(4));
    assert_int_equal(st(&h)->tcp_halfopen, 8);
    assert_int_equal(h.nsynack, 40);
    synack_stack_free(h.s);
}

/* RFC 5961 3.2: only a RST at exactly RCV.NXT ends a half-open entry. */
static void test_rst(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 16, 8);
    struct synack_tcp_opts o = {.present = SYNACK_TCPOPT_F_MSS, .mss = 1460};
    seg_in(&h, PEER, 40000, SYNACK_TH_SYN, 5000, 0, &o, NULL);
    seg_in(&h, PEER, 40000, SYNACK_TH_RST, 5002, 0, NULL, NULL);
    assert_int_equal(st(&h)->tcp_halfopen, 1);
    seg_in(&h, PEER, 40000, SYNACK_TH_RST, 5001, 0, NULL, NULL);
    assert_int_equal(st(&h)->tcp_halfopen, 0);
    /* An ACK for it now finds nothing: RST. */
    h.nrst = 0;
    seg_in(&h, PEER, 40000, SYNACK_TH_ACK, 5001, h.last.seq + 1, NULL, NULL);
    assert_int_equal(h.nrst, 1);
    synack_stack_free(h.s);
}

/* Closing the listener takes its entries; the stack holds nothing more. */
static void test_listener_close(void **state)
{
    (void)state;
    struct h h;
    setup(&h, 64, 8);
    struct synack_tcp_opts o = {.present = SYNACK_TCPOPT_F_MSS, .mss = 1460};
    for (uint16_t i = 0; i < 10; i++)
        seg_in(&h, PEER, (uint16_t)(40000 + i), SYNACK_TH_SYN, 5000, 0, &o, NULL);
    assert_int_equal(st(&h)->tcp_halfopen, 10);
    assert_int_equal(synack_close(h.s, h.lfd), 0);
    assert_int_equal(st(&h)->tcp_halfopen, 0);
    assert_int_equal(synack_stack_next_deadline(h.s), SYNACK_TIME_NEVER);
    synack_stack_free(h.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_is_small),
        cmocka_unit_test(test_cached_handshake),
        cmocka_unit_test(test_cookie_with_timestamps),
        cmocka_unit_test(test_cookie_without_timestamps),
        cmocka_unit_test(test_cookie_ack_accept_queue_full),
        cmocka_unit_test(test_cookie_forged_and_stale),
        cmocka_unit_test(test_synack_retries_bounded),
        cmocka_unit_test(test_rst),
        cmocka_unit_test(test_listener_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
