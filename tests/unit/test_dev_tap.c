/* The TAP driver with IFF_VNET_HDR (src/dev/tun.c synack_dev_output_meta,
 * tap.c, vnet.c), frame by frame: what it writes for a TSO segment whose
 * next hop is unknown (an ARP request behind an empty virtio-net header;
 * the segment cut in software and held by ARP, then framed when the reply
 * comes), for one whose next hop is known (one write: the virtio-net header
 * with offsets counting the Ethernet header, the Ethernet header, the
 * stack's packet unchanged), and for one the kernel refuses for now (held
 * whole, headers included, and written as it was by the flush).
 * No TAP needed: the device's descriptor is one end of a non-blocking
 * AF_UNIX datagram socket pair (as in test_dev_backlog.c), each datagram one
 * write of the driver. */
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
#include "tcp_frame.h"

static const uint8_t PEER_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t OUR_MAC[6] = {0x02, 0x53, 0x4b, 0x00, 0x00, 0x02}; /* sn_tap_init's default */
#define OUR_IP 0x0a000002u
#define PEER_IP 0x0a000001u

struct tap {
    struct synack_dev d;
    int peer;
    uint8_t got[70000];
};

static void tap_open(struct tap *t)
{
    int sv[2];
    memset(&t->d, 0, sizeof(t->d));
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    int big = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    struct synack_dev_config c;
    synack_dev_config_default(&c);
    c.kind = SYNACK_DEV_TAP;
    c.addr = OUR_IP;
    c.prefix_len = 24;
    t->d.kind = SYNACK_DEV_TAP;
    t->d.fd = sv[0];
    t->d.mtu = 1500;
    t->d.now = 1000000;
    t->d.vnet = true;
    t->d.offload = SYNACK_OFFLOAD_TSO | SYNACK_OFFLOAD_CSUM;
    t->peer = sv[1];
    assert_int_equal(sn_tap_init(&t->d, &c), 0);
    assert_memory_equal(t->d.arp->mac, OUR_MAC, 6);
    assert_int_equal(sn_dev_hold_init(&t->d, 65535 + ETH, 64, 4u << 20), 0);
}

static void tap_close(struct tap *t)
{
    sn_tap_free(&t->d);
    free(t->d.hold);
    free(t->d.segbuf);
    close(t->d.fd);
    close(t->peer);
}

/* The next datagram the driver wrote, or -1 when there is none. */
static ssize_t next(struct tap *t) { return read(t->peer, t->got, sizeof(t->got)); }

/* An ARP packet from the peer (its MAC and address) for synack's address,
 * in an Ethernet frame to dst: 42 bytes at f. */
static void arp_from_peer(uint8_t *f, uint16_t op, const uint8_t *dst)
{
    struct synack_eth_hdr eh = {.type = SYNACK_ETHERTYPE_ARP};
    memcpy(eh.dst, dst, 6);
    memcpy(eh.src, PEER_MAC, 6);
    synack_eth_emit(f, ETH, &eh);
    struct synack_arp m = {.op = op, .spa = PEER_IP, .tpa = OUR_IP};
    memcpy(m.sha, PEER_MAC, 6);
    if (op == SYNACK_ARP_REPLY)
        memcpy(m.tha, OUR_MAC, 6);
    synack_arp_emit(f + ETH, SYNACK_ARP_LEN, &m);
}

/* The Ethernet header at f: to `dst`, from synack, of `type`. */
static void assert_eth(const uint8_t *f, const uint8_t *dst, uint16_t type)
{
    assert_memory_equal(f, dst, 6);
    assert_memory_equal(f + 6, OUR_MAC, 6);
    assert_int_equal(f[12] << 8 | f[13], type);
}

static void test_unresolved_then_resolved(void **state)
{
    (void)state;
    static struct tap t;
    static uint8_t frame[FRAME_LEN];
    static const uint8_t zero[SN_DEV_VNET_LEN];
    build_frame(frame);
    const uint8_t *pkt = frame + ETH;
    const size_t len = FRAME_LEN - ETH;
    tap_open(&t);

    /* The next hop is unknown: ARP asks for it (a plain frame behind an
     * empty header) and holds the segment, cut in software. */
    assert_int_equal(synack_dev_output_meta(&t.d, pkt, len, &tso), 0);
    ssize_t n = next(&t);
    assert_int_equal(n, SN_DEV_VNET_LEN + ETH + SYNACK_ARP_LEN);
    assert_memory_equal(t.got, zero, SN_DEV_VNET_LEN);
    assert_eth(t.got + SN_DEV_VNET_LEN, synack_eth_broadcast, SYNACK_ETHERTYPE_ARP);
    struct synack_arp a;
    assert_int_equal(synack_arp_parse(t.got + SN_DEV_VNET_LEN + ETH, SYNACK_ARP_LEN, &a), 0);
    assert_int_equal(a.op, SYNACK_ARP_REQUEST);
    assert_int_equal(a.tpa, PEER_IP);
    assert_int_equal(next(&t), -1);
    assert_int_equal(t.d.arp->st.queued, 3);

    /* The reply (read with its own header: sn_tap_input sees the frame
     * after it) releases the three segments, each a wire packet. */
    uint8_t reply[ETH + SYNACK_ARP_LEN];
    arp_from_peer(reply, SYNACK_ARP_REPLY, OUR_MAC);
    assert_int_equal(sn_tap_input(&t.d, reply, sizeof(reply)), -1);
    size_t payload = 0;
    for (int i = 0; i < 3; i++) {
        n = next(&t);
        size_t seg = i < 2 ? 1448 : PAYLOAD - 2 * 1448;
        assert_int_equal(n, SN_DEV_VNET_LEN + ETH + IP + TCP + seg);
        assert_memory_equal(t.got, zero, SN_DEV_VNET_LEN);
        const uint8_t *f = t.got + SN_DEV_VNET_LEN;
        assert_eth(f, PEER_MAC, SYNACK_ETHERTYPE_IPV4);
        assert_tcp_csum_ok(f + ETH);
        assert_memory_equal(f + ETH + IP + TCP, pkt + IP + TCP + payload, seg);
        payload += seg;
    }
    assert_int_equal(next(&t), -1);

    /* Known now: one write, the offsets counting the Ethernet header, the
     * packet as the stack made it. */
    uint64_t gso = t.d.st.tx_gso, bytes = t.d.st.tx_bytes;
    assert_int_equal(synack_dev_output_meta(&t.d, pkt, len, &tso), 0);
    n = next(&t);
    assert_int_equal(n, SN_DEV_VNET_LEN + FRAME_LEN);
    struct hdr h = read_hdr(t.got);
    assert_int_equal(h.flags, 1);
    assert_int_equal(h.gso_type, 1);
    assert_int_equal(h.hdr_len, ETH + IP + TCP);
    assert_int_equal(h.gso_size, 1448);
    assert_int_equal(h.csum_start, ETH + IP);
    assert_int_equal(h.csum_offset, 16);
    assert_eth(t.got + SN_DEV_VNET_LEN, PEER_MAC, SYNACK_ETHERTYPE_IPV4);
    assert_memory_equal(t.got + SN_DEV_VNET_LEN + ETH, pkt, len);
    assert_int_equal(t.d.st.tx_gso, gso + 1);
    assert_int_equal(t.d.st.tx_bytes - bytes, FRAME_LEN); /* the frame, not the virtio-net header */
    assert_int_equal(next(&t), -1);
    tap_close(&t);
}

/* The kernel says "later": the whole frame, both headers included, waits
 * in the backlog and leaves as it would have. */
static void test_held_frame(void **state)
{
    (void)state;
    static struct tap t;
    static uint8_t frame[FRAME_LEN], want[SN_DEV_VNET_LEN + FRAME_LEN];
    build_frame(frame);
    const uint8_t *pkt = frame + ETH;
    const size_t len = FRAME_LEN - ETH;
    tap_open(&t);
    /* Learn the peer from its request for our address (RFC 826's merge). */
    uint8_t req[ETH + SYNACK_ARP_LEN];
    arp_from_peer(req, SYNACK_ARP_REQUEST, synack_eth_broadcast);
    assert_int_equal(sn_tap_input(&t.d, req, sizeof(req)), -1);
    assert_int_equal(next(&t), SN_DEV_VNET_LEN + ETH + SYNACK_ARP_LEN); /* our reply */
    /* What an immediate write would carry. */
    assert_int_equal(synack_dev_output_meta(&t.d, pkt, len, &tso), 0);
    assert_int_equal(next(&t), SN_DEV_VNET_LEN + FRAME_LEN);
    memcpy(want, t.got, sizeof(want));
    /* Fill the socket until the driver holds (bounded). */
    uint8_t small[64] = {0x45};
    small[16] = 10; /* to 10.0.0.1 */
    small[19] = 1;
    for (int i = 0; i < 10000 && t.d.held_len == 0; i++)
        assert_int_equal(synack_dev_output(&t.d, small, sizeof(small)), 0);
    assert_true(t.d.held_len > 0);
    assert_int_equal(synack_dev_output_meta(&t.d, pkt, len, &tso), 0);
    uint32_t held = t.d.held_len;
    assert_true(held >= 2);
    assert_true(t.d.st.tx_backlogged >= held);
    /* Drain and flush until all is out: everything arrives, the frame
     * last, byte for byte as the immediate write had it. */
    ssize_t last = -1;
    for (int guard = 0; guard < 100000; guard++) {
        ssize_t n = next(&t);
        if (n > 0) {
            last = n;
            continue;
        }
        if (t.d.held_len == 0)
            break;
        synack_dev_flush(&t.d);
    }
    assert_int_equal(t.d.held_len, 0);
    assert_int_equal(last, sizeof(want));
    assert_memory_equal(t.got, want, sizeof(want));
    assert_int_equal(t.d.st.tx_dropped, 0);
    tap_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unresolved_then_resolved),
        cmocka_unit_test(test_held_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
