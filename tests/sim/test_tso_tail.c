/* TSO and the short tail (src/tcp/tcp_output.c, short_waits): a bulk
 * sender that writes 64 KiB at a time with MSG_MORE (as serve's http does,
 * TCP_NODELAY set) leaves a partial segment behind each write.  Without TSO
 * that tail waits for the next write (the cork); with TSO it used to ride
 * at the end of the next large packet whenever that packet took all the
 * data there was, and the NIC (here the simulator's link) cut it into a
 * runt: one short wire segment every few writes.  Now the tail waits under
 * TSO as it does without: the only short segment on the wire is the last
 * one of the stream.  The bytes are checked as they arrive. */
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

#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/wire.h"

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 5001
#define WRITE 65536u
#define TOTAL (4u << 20)

struct seen {
    uint32_t isn;          /* the client's ISN (from its SYN) */
    uint64_t data, shorts; /* the client's data segments on the wire, and those under the MSS */
    uint32_t mss_seen;     /* the longest payload */
    uint32_t short_end;    /* where the last short one ended (relative to the ISN) */
};

static void observe(void *user, synack_time_t now, int link, int from, int to, enum synack_sim_event ev,
                    const uint8_t *pkt, size_t len)
{
    (void)now, (void)link, (void)to;
    struct seen *w = user;
    struct synack_ipv4_hdr ip;
    struct synack_tcp_hdr th;
    if (ev != SYNACK_SIM_SENT || from != 0 || synack_ipv4_parse(pkt, len, &ip) < 0 ||
        synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &th) < 0)
        return;
    if (th.flags & SYNACK_TH_SYN) {
        w->isn = th.seq;
        return;
    }
    if (th.payload_len == 0)
        return;
    w->data++;
    if (th.payload_len > w->mss_seen)
        w->mss_seen = (uint32_t)th.payload_len;
    if (th.payload_len < 1448) { /* MTU 1500 with timestamps */
        w->shorts++;
        w->short_end = th.seq + (uint32_t)th.payload_len - w->isn;
    }
}

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 31 + (i >> 9)); }

static void run(unsigned offload, struct seen *seen, uint64_t *tso_packets)
{
    struct synack_sim *sim;
    struct synack_stack *st[2];
    assert_int_equal(synack_sim_new(9, &sim), 0);
    int node[2];
    for (int i = 0; i < 2; i++) {
        struct synack_config cfg;
        synack_config_default(&cfg);
        cfg.addr = i == 0 ? CADDR : SADDR;
        cfg.seed = 0;
        cfg.msl = SYNACK_SEC(1);
        cfg.offload = i == 0 ? offload : 0;
        node[i] = synack_sim_add_stack(sim, &cfg, &st[i]);
        assert_true(node[i] >= 0);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(1);
    lp.rate_bps = 1000000000u;
    assert_true(synack_sim_link(sim, node[0], node[1], &lp, &lp) >= 0);
    memset(seen, 0, sizeof(*seen));
    synack_sim_set_observer(sim, observe, seen);

    int lfd = synack_socket(st[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT),
                            .sin_addr.s_addr = htonl(SADDR)};
    assert_int_equal(synack_bind(st[1], lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(st[1], lfd, 4), 0);
    int cfd = synack_socket(st[0], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(cfd >= 0);
    int one = 1;
    assert_int_equal(synack_setsockopt(st[0], cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
    assert_int_equal(synack_connect(st[0], cfd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);

    static uint8_t wbuf[WRITE], rbuf[WRITE];
    uint64_t sent = 0, rcvd = 0, partial = 0;
    int sfd = -1;
    for (uint64_t steps = 0; rcvd < TOTAL; steps++) {
        assert_true(steps < 5000000u);
        if (sfd < 0)
            sfd = synack_accept(st[1], lfd, NULL, NULL);
        /* Whole 64 KiB writes, like http's: a partial one is finished
         * before the next. */
        while (sent < TOTAL) {
            size_t n = WRITE - partial;
            for (size_t i = 0; i < n; i++)
                wbuf[i] = pattern(sent + i);
            ssize_t w = synack_send(st[0], cfd, wbuf, n, MSG_MORE);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
            partial = (partial + (uint64_t)w) % WRITE;
            if (sent == TOTAL) /* the FIN takes the corked tail along */
                assert_int_equal(synack_shutdown(st[0], cfd, SHUT_WR), 0);
        }
        if (sfd >= 0) {
            ssize_t r = synack_recv(st[1], sfd, rbuf, sizeof(rbuf), 0);
            for (ssize_t i = 0; i < r; i++)
                if (rbuf[i] != pattern(rcvd + (uint64_t)i))
                    fail_msg("byte %llu differs", (unsigned long long)(rcvd + (uint64_t)i));
            if (r > 0)
                rcvd += (uint64_t)r;
        }
        if (!synack_sim_step(sim))
            fail_msg("stalled at %llu bytes", (unsigned long long)rcvd);
    }
    *tso_packets = synack_stack_stats(st[0])->tcp_tso_packets;
    synack_sim_free(sim);
}

static void test_no_runts(void **state)
{
    (void)state;
    const unsigned offloads[] = {0, SYNACK_OFFLOAD_TSO};
    for (size_t i = 0; i < 2; i++) {
        struct seen w;
        uint64_t tso;
        run(offloads[i], &w, &tso);
        if (offloads[i])
            assert_true(tso > 0); /* the sender did hand out large packets */
        else
            assert_int_equal(tso, 0);
        assert_int_equal(w.mss_seen, 1448);
        assert_true(w.data >= TOTAL / 1448);
        /* One short segment: the end of the stream (4 MiB is not a
         * multiple of 1,448), sent with the FIN. */
        if (w.shorts != 1)
            print_message("offload %u: %llu short segments, the last ending at %u\n", offloads[i],
                          (unsigned long long)w.shorts, w.short_end);
        assert_int_equal(w.shorts, 1);
        assert_int_equal(w.short_end, TOTAL + 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_runts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
