/* The device's write backlog (src/dev/tun.c hold() and synack_dev_flush()):
 * packets the kernel refuses with EAGAIN wait in one preallocated byte ring
 * and leave in order, byte for byte, across the ring's wrap-around; a full
 * ring refuses (-ENOBUFS, counted as dropped) rather than allocating.
 * No TUN needed: the device's descriptor is one end of a non-blocking
 * AF_UNIX datagram socket pair, which says EAGAIN when its peer's queue is
 * full, as a TUN does when the kernel's is. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dev/dev_internal.h"

/* Packet k: 20 to ~1500 bytes, each byte a function of k and its offset. */
static size_t pkt_len(uint32_t k) { return 20 + (k * 7919u) % 1481u; }
static void pkt_fill(uint8_t *p, uint32_t k)
{
    size_t n = pkt_len(k);
    memcpy(p, &k, 4);
    for (size_t i = 4; i < n; i++)
        p[i] = (uint8_t)(k * 31u + i);
}

struct pair {
    struct synack_dev d;
    int peer;
};

static void pair_open(struct pair *p, uint32_t backlog, uint32_t max_bytes)
{
    int sv[2];
    memset(p, 0, sizeof(*p));
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    p->d.kind = SYNACK_DEV_TUN;
    p->d.fd = sv[0];
    p->d.mtu = 1500;
    p->peer = sv[1];
    assert_int_equal(sn_dev_hold_init(&p->d, 1500, backlog, max_bytes), 0);
}

static void pair_close(struct pair *p)
{
    free(p->d.hold);
    close(p->d.fd);
    close(p->peer);
}

/* Read what the peer has; check each packet is the next one expected. */
static void drain(struct pair *p, uint32_t *next, uint32_t *got)
{
    uint8_t buf[2048], want[2048];
    for (int guard = 0; guard < 100000; guard++) {
        ssize_t n = read(p->peer, buf, sizeof(buf));
        if (n < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            return;
        }
        uint32_t k;
        memcpy(&k, buf, 4);
        assert_true(k >= *next); /* in order; refused ones are skipped */
        *next = k;
        pkt_fill(want, k);
        assert_int_equal((size_t)n, pkt_len(k));
        assert_memory_equal(buf, want, (size_t)n);
        (*next)++;
        (*got)++;
    }
}

/* Many more packets than the kernel's queue takes: the backlog holds them,
 * the ring wraps many times, everything arrives in order; nothing is lost
 * while the ring has room. */
static void test_backlog_in_order(void **state)
{
    (void)state;
    struct pair p;
    /* Room for about 12 packets of the largest size: wraps early and often. */
    pair_open(&p, 64, 12 * 1520);
    uint8_t pkt[2048];
    uint32_t next = 0, got = 0, sent = 0;
    for (uint32_t k = 0; k < 3000; k++) {
        pkt_fill(pkt, k);
        int rc = synack_dev_output(&p.d, pkt, pkt_len(k));
        if (rc == 0)
            sent++;
        else
            assert_int_equal(rc, -ENOBUFS);
        if (k % 5 == 4) { /* the reader keeps up now and then */
            drain(&p, &next, &got);
            synack_dev_flush(&p.d);
        }
        assert_true(p.d.held_len <= 64);
    }
    for (int guard = 0; guard < 10000 && (p.d.held_len > 0 || got < sent); guard++) {
        synack_dev_flush(&p.d);
        drain(&p, &next, &got);
    }
    assert_int_equal(p.d.held_len, 0);
    assert_int_equal(got, sent);
    assert_true(p.d.st.tx_backlogged > 100); /* the backlog was used, and wrapped */
    assert_int_equal(p.d.st.tx_packets, sent);
    assert_int_equal(p.d.st.tx_dropped, 3000 - sent);
    pair_close(&p);
}

/* A reader that never reads: the ring fills and refuses; its packet bound
 * holds too; after the reader drains, what was held arrives in order. */
static void test_backlog_full(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 8, 1u << 20);
    uint8_t pkt[2048];
    uint32_t accepted = 0, refused = 0;
    for (uint32_t k = 0; k < 200; k++) {
        pkt_fill(pkt, k);
        int rc = synack_dev_output(&p.d, pkt, pkt_len(k));
        if (rc == 0)
            accepted++;
        else
            refused++;
    }
    assert_int_equal(p.d.held_len, 8); /* the packet bound */
    assert_true(refused > 0);
    assert_int_equal(p.d.st.tx_dropped, refused);
    assert_true(synack_dev_want_write(&p.d));
    uint32_t next = 0, got = 0;
    for (int guard = 0; guard < 1000 && p.d.held_len > 0; guard++) {
        drain(&p, &next, &got);
        synack_dev_flush(&p.d);
    }
    drain(&p, &next, &got);
    assert_int_equal(got, accepted);
    assert_false(synack_dev_want_write(&p.d));
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backlog_in_order),
        cmocka_unit_test(test_backlog_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
