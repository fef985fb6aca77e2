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

#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "sim/bulk_pair.h"
#include "synack/wire.h"

#define WRITE 65536u
#define TOTAL (4u << 20)

struct seen {
    uint32_t isn;          /* the client's ISN */
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
    if (th.payload_len == 0)
        return;
    if (w->data++ == 0)
        w->isn = th.seq - 1; /* the first data segment starts the stream */
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
    struct synack_config cfg[2];
    bulk_pair_config(cfg);
    cfg[0].offload = offload;
    struct bulk_pair p;
    bulk_pair_open(&p, 9, cfg, 1000000000u, 0);
    memset(seen, 0, sizeof(*seen));
    synack_sim_set_observer(p.sim, observe, seen);
    int one = 1;
    assert_int_equal(synack_setsockopt(p.st[0], p.cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);

    static uint8_t wbuf[WRITE], rbuf[WRITE];
    uint64_t sent = 0, partial = 0;
    for (uint64_t steps = 0; p.rcvd < TOTAL; steps++) {
        assert_true(steps < 5000000u);
        /* Whole 64 KiB writes, like http's: a partial one is finished
         * before the next. */
        while (sent < TOTAL) {
            size_t n = WRITE - partial;
            for (size_t i = 0; i < n; i++)
                wbuf[i] = pattern(sent + i);
            ssize_t w = synack_send(p.st[0], p.cfd, wbuf, n, MSG_MORE);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
            partial = (partial + (uint64_t)w) % WRITE;
            if (sent == TOTAL) /* the FIN takes the corked tail along */
                assert_int_equal(synack_shutdown(p.st[0], p.cfd, SHUT_WR), 0);
        }
        bulk_pair_recv(&p, rbuf, sizeof(rbuf), pattern);
        if (!synack_sim_step(p.sim))
            fail_msg("stalled at %llu bytes", (unsigned long long)p.rcvd);
    }
    *tso_packets = synack_stack_stats(p.st[0])->tcp_tso_packets;
    synack_sim_free(p.sim);
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
