/* The TUN driver, and what the TAP driver shares with it: the /dev/net/tun
 * descriptor, batched reads, writes with a bounded backlog, and the
 * offloads of IFF_VNET_HDR (see include/synack/dev.h).
 *
 * A TUN/TAP descriptor returns one packet per read(2) and takes one per
 * write(2); it has no recvmmsg/sendmmsg.  So a "batch" is a run of reads
 * until EAGAIN or the batch's bounds into one preallocated ring, handed up
 * afterwards; and what amortises writes is segmentation offload: with
 * IFF_VNET_HDR a single write carries a TCP segment of up to 64 KiB that the
 * kernel cuts at the MSS (GSO), and the kernel hands over segments its GRO
 * coalesced.  The same holds for a TAP's Ethernet frames (the header's
 * offsets then count the 14-byte Ethernet header: vnet.c).  The virtio-net
 * header (and on a TAP the Ethernet header) goes in front of the stack's
 * packet by writev, so the packet is not copied. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include "dev/dev_internal.h"

/* struct synack_dev_config's size per version (the rule of stack.c's config_size). */
/* Bytes a held packet of n bytes takes in the backlog ring. */
static uint32_t hold_size(uint32_t n) { return (4u + n + 3u) & ~3u; }

static const size_t dev_config_size[] = {0, offsetof(struct synack_dev_config, offload),
                                         offsetof(struct synack_dev_config, multi_queue),
                                         sizeof(struct synack_dev_config)};
#define DEV_CONFIG_VERSIONS (sizeof(dev_config_size) / sizeof(dev_config_size[0]))

static void dev_config_defaults(struct synack_dev_config *c)
{
    memset(c, 0, sizeof(*c));
    c->kind = SYNACK_DEV_TUN;
    c->mtu = 1500;
    c->batch = 1024;
    c->batch_bytes = 256 * 1024;
    c->backlog = 512;
    c->prefix_len = 24;
    c->arp_reachable = SYNACK_SEC(60);
    c->arp_queue = 64;
}

void synack_dev_config_default_versioned(int version, struct synack_dev_config *c)
{
    if (!c || version < 1 || (size_t)version >= DEV_CONFIG_VERSIONS)
        return;
    struct synack_dev_config d;
    dev_config_defaults(&d);
    memcpy(c, &d, dev_config_size[version]);
}

/* TUNSETOFFLOAD: tell the kernel which offloads synack takes (what it may
 * hand us: partial checksums, coalesced TCP segments).  Returns the
 * SYNACK_OFFLOAD_* granted: a kernel that refuses TSO may still take
 * checksums, and one that refuses both leaves plain packets. */
static unsigned tun_offload(int fd, unsigned want)
{
    if ((want & SYNACK_OFFLOAD_TSO) && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) == 0)
        return SYNACK_OFFLOAD_TSO | SYNACK_OFFLOAD_CSUM;
    if (want && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0)
        return SYNACK_OFFLOAD_CSUM;
    return 0;
}

static int tun_attach(struct synack_dev *d, const char *name, unsigned offload, bool mq)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    /* IFF_NO_PI: no 4-byte packet-information prefix; each read/write is
     * exactly one IPv4 packet (TUN) or Ethernet frame (TAP), after the
     * virtio-net header with IFF_VNET_HDR. */
    bool vnet = offload != 0;
    ifr.ifr_flags = (short)((d->kind == SYNACK_DEV_TAP ? IFF_TAP : IFF_TUN) | IFF_NO_PI |
                            (vnet ? IFF_VNET_HDR : 0) | (mq ? IFF_MULTI_QUEUE : 0));
    if (name)
        memcpy(ifr.ifr_name, name, strlen(name));
    int rc = ioctl(fd, TUNSETIFF, &ifr);
    if (rc < 0 && vnet && errno == EINVAL) {
        vnet = false; /* a kernel without IFF_VNET_HDR: plain packets */
        ifr.ifr_flags = (short)(ifr.ifr_flags & ~IFF_VNET_HDR);
        rc = ioctl(fd, TUNSETIFF, &ifr);
    }
    if (rc < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    d->vnet = vnet;
    d->offload = vnet ? tun_offload(fd, offload) : 0;
    memcpy(d->name, ifr.ifr_name, sizeof(d->name) - 1);
    d->name[sizeof(d->name) - 1] = 0;
    d->fd = fd;
    return 0;
}

int synack_dev_open_versioned(int version, const struct synack_dev_config *cfg,
                              struct synack_dev **out)
{
    struct synack_dev_config full, *c = &full;
    if (!cfg || !out || version < 1 || (size_t)version >= DEV_CONFIG_VERSIONS)
        return -EINVAL;
    *out = NULL;
    dev_config_defaults(c);
    memcpy(c, cfg, dev_config_size[version]);
    size_t nlen = c->name ? strlen(c->name) : 0;
    if ((c->kind != SYNACK_DEV_TUN && c->kind != SYNACK_DEV_TAP) || c->mtu < 68 ||
        nlen >= SN_DEV_NAME_MAX || c->batch == 0 || c->batch_bytes == 0 || c->backlog == 0 ||
        (c->kind == SYNACK_DEV_TAP && (c->addr == 0 || c->prefix_len > 32)))
        return -EINVAL;
    struct synack_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->kind = c->kind;
    d->fd = -1;
    d->mtu = c->mtu;
    d->batch = c->batch;
    d->batch_bytes = c->batch_bytes;
    d->backlog_max = c->backlog;
    /* The ring holds a whole batch and always room for one more packet of
     * the largest size, so a read never truncates. */
    d->ring_cap = c->batch_bytes + SN_DEV_RXBUF;
    d->ring = malloc(d->ring_cap);
    d->rx = calloc(c->batch, sizeof(*d->rx));
    int rc = d->ring && d->rx ? 0 : -ENOMEM;
    if (rc == 0 && c->kind == SYNACK_DEV_TAP)
        rc = sn_tap_init(d, c);
    if (rc == 0)
        rc = tun_attach(d, nlen ? c->name : NULL, c->offload, c->multi_queue);
    if (rc == 0 && d->offload & SYNACK_OFFLOAD_TSO) {
        d->segbuf = malloc(65535);
        rc = d->segbuf ? 0 : -ENOMEM;
    }
    if (rc == 0)
        rc = sn_dev_hold_init(d, ((d->offload & SYNACK_OFFLOAD_TSO) ? 65535u : d->mtu) +
                                     (d->kind == SYNACK_DEV_TAP ? SYNACK_ETH_HDR_LEN : 0u),
                              c->backlog, SN_DEV_HOLD_MAX);
    if (rc < 0) {
        synack_dev_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

void synack_dev_close(struct synack_dev *d)
{
    if (!d)
        return;
    if (d->fd >= 0)
        close(d->fd);
    free(d->hold);
    free(d->ring);
    free(d->rx);
    free(d->segbuf);
    sn_tap_free(d);
    free(d);
}

int synack_dev_fd(const struct synack_dev *d) { return d->fd; }
const char *synack_dev_name(const struct synack_dev *d) { return d->name; }
enum synack_dev_kind synack_dev_kind(const struct synack_dev *d) { return d->kind; }
uint16_t synack_dev_mtu(const struct synack_dev *d) { return d->mtu; }
const uint8_t *synack_dev_mac(const struct synack_dev *d) { return d->arp ? d->arp->mac : NULL; }
unsigned synack_dev_offload(const struct synack_dev *d) { return d->offload; }

/* Read until EAGAIN or the batch's bounds into the ring; returns the
 * packets read, or a negative errno when the first read fails. */
static int read_batch(struct synack_dev *d)
{
    int n = 0;
    uint32_t off = 0;
    size_t skip = d->vnet ? SN_DEV_VNET_LEN : 0;
    while ((unsigned)n < d->batch && off < d->batch_bytes) {
        uint8_t *at = d->ring + off;
        ssize_t r = read(d->fd, at, SN_DEV_RXBUF);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            d->st.rx_errors++;
            return n > 0 ? n : -errno;
        }
        d->st.reads++;
        if ((size_t)r < skip) {
            d->st.rx_errors++;
            continue;
        }
        d->rx[n] = (struct sn_dev_rx){.off = off + (uint32_t)skip,
                                      .len = (uint32_t)((size_t)r - skip),
                                      .now = synack_clock_now()};
        off += ((uint32_t)r + 7u) & ~7u; /* the next packet 8-byte aligned */
        n++;
    }
    return n;
}

/* Hand up the IPv4 packet l2 bytes into a frame of len bytes read at `at`
 * in the ring: with its flags to mfn, or to fn after completing a checksum
 * the kernel left partial. */
static void deliver(struct synack_dev *d, uint8_t *at, size_t len, size_t l2, synack_dev_rx_fn fn,
                    synack_dev_rx_meta_fn mfn, void *user)
{
    struct sn_vnet_rx v = {0};
    if (d->vnet && sn_vnet_parse(at - SN_DEV_VNET_LEN, l2, len, &v) < 0) {
        d->st.rx_errors++;
        return;
    }
    uint8_t *pkt = at + l2;
    len -= l2;
    d->st.rx_gro += v.gso;
    d->st.rx_csum_partial += v.partial;
    d->st.rx_packets++;
    d->st.rx_bytes += len;
    if (mfn) {
        mfn(user, pkt, len, d->now, v.rx_flags);
        return;
    }
    if (v.partial) {
        struct synack_pkt_meta m = {.flags = SYNACK_PKT_CSUM_PARTIAL,
                                    .csum_start = v.csum_start,
                                    .csum_offset = v.csum_offset};
        if (synack_pkt_csum_finish(pkt, len, &m) < 0) {
            d->st.rx_errors++;
            return;
        }
    }
    fn(user, pkt, len, d->now);
}

static int recv_batch(struct synack_dev *d, synack_dev_rx_fn fn, synack_dev_rx_meta_fn mfn,
                      void *user)
{
    int n = read_batch(d);
    if (n <= 0)
        return n;
    d->st.read_batches++;
    for (int i = 0; i < n; i++) {
        const struct sn_dev_rx *p = &d->rx[i];
        uint8_t *at = d->ring + p->off;
        if (p->now > d->now)
            d->now = p->now;
        if (d->kind == SYNACK_DEV_TAP) {
            int l2 = sn_tap_input(d, at, p->len);
            if (l2 >= 0)
                deliver(d, at, p->len, (size_t)l2, fn, mfn, user);
        } else if (p->len >= 20 && (at[0] >> 4) == 4) {
            deliver(d, at, p->len, 0, fn, mfn, user);
        } else {
            d->st.rx_other++; /* IPv6 (router solicitations, ...) or runts */
        }
    }
    return n;
}

int synack_dev_recv(struct synack_dev *d, synack_dev_rx_fn fn, void *user)
{
    return recv_batch(d, fn, NULL, user);
}

int synack_dev_recv_meta(struct synack_dev *d, synack_dev_rx_meta_fn fn, void *user)
{
    return recv_batch(d, NULL, fn, user);
}

int sn_dev_hold_init(struct synack_dev *d, uint32_t largest, uint32_t backlog, uint32_t max_bytes)
{
    uint64_t per = hold_size(SN_DEV_VNET_LEN + largest);
    uint64_t cap = per * backlog;
    if (cap > max_bytes)
        cap = max_bytes;
    if (cap < 2 * per)
        cap = 2 * per;
    d->backlog_max = backlog;
    d->held_len = 0;
    d->hold_cap = (uint32_t)cap;
    d->hold = malloc(d->hold_cap);
    return d->hold ? 0 : -ENOMEM;
}

/* A frame in pieces: the virtio-net header (if any), the link-layer
 * header (if any), the packet. */
struct frame {
    struct iovec iov[3];
    int n;
    size_t len; /* all of it */
};

static void frame_add(struct frame *f, const void *p, size_t len)
{
    if (!len)
        return;
    f->iov[f->n++] = (struct iovec){(void *)(uintptr_t)p, len};
    f->len += len;
}

/* Keep a frame (the virtio-net header included) for synack_dev_flush, in
 * the backlog's byte ring (dev_internal.h). */
static int hold(struct synack_dev *d, const struct frame *f)
{
    uint32_t need = hold_size((uint32_t)f->len);
    if (d->held_len == 0) {
        d->hold_head = d->hold_tail = 0;
        d->hold_wrapped = false;
    }
    uint32_t at;
    if (d->held_len >= d->backlog_max) {
        at = UINT32_MAX;
    } else if (!d->hold_wrapped && d->hold_cap - d->hold_tail >= need) {
        at = d->hold_tail;
    } else if (!d->hold_wrapped && d->hold_head >= need) {
        d->hold_end = d->hold_tail; /* the upper part stops here; go on at 0 */
        d->hold_wrapped = true;
        at = 0;
    } else if (d->hold_wrapped && d->hold_head - d->hold_tail >= need) {
        at = d->hold_tail;
    } else {
        at = UINT32_MAX;
    }
    if (at == UINT32_MAX) {
        d->st.tx_dropped++;
        return -ENOBUFS;
    }
    uint32_t n = (uint32_t)f->len;
    memcpy(d->hold + at, &n, 4);
    uint8_t *to = d->hold + at + 4;
    for (int i = 0; i < f->n; i++) {
        memcpy(to, f->iov[i].iov_base, f->iov[i].iov_len);
        to += f->iov[i].iov_len;
    }
    d->hold_tail = at + need;
    d->held_len++;
    d->st.tx_backlogged++;
    return 0;
}

/* One writev(2) of the frame (a write(2) of one piece): 1 written, 0 when
 * the kernel says "later", or -errno.  tx_bytes counts what follows the
 * virtio-net header (vlen bytes). */
static int write_one(struct synack_dev *d, const struct frame *f, size_t vlen)
{
    for (;;) {
        ssize_t w = f->n == 1 ? write(d->fd, f->iov[0].iov_base, f->iov[0].iov_len)
                              : writev(d->fd, f->iov, f->n);
        if (w >= 0) {
            d->st.tx_packets++;
            d->st.tx_bytes += f->len - vlen;
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return 0;
        return -errno;
    }
}

/* Write the frame now, or hold it (when the kernel says "later", or
 * older frames are held, to keep the order).  Returns 0 or -errno; a
 * write that fails with EINVAL is returned as such without counting a
 * drop, for the caller to retry otherwise (GSO refused). */
static int dev_write(struct synack_dev *d, const struct frame *f, size_t vlen, bool einval_back)
{
    if (d->held_len > 0)
        return hold(d, f);
    int rc = write_one(d, f, vlen);
    if (rc == 0)
        return hold(d, f);
    if (rc < 0 && !(einval_back && rc == -EINVAL))
        d->st.tx_dropped++;
    return rc < 0 ? rc : 0;
}

int sn_dev_send(struct synack_dev *d, const uint8_t *vh, const uint8_t *l2, size_t l2len,
                const uint8_t *pkt, size_t len)
{
    static const uint8_t none[SN_DEV_VNET_LEN]; /* no offload: VIRTIO_NET_HDR_GSO_NONE */
    struct frame f = {.n = 0};
    size_t vlen = vh || d->vnet ? SN_DEV_VNET_LEN : 0;
    frame_add(&f, vh ? vh : none, vlen);
    frame_add(&f, l2, l2len);
    frame_add(&f, pkt, len);
    return dev_write(d, &f, vlen, false);
}

int sn_dev_write(struct synack_dev *d, const uint8_t *frame, size_t len)
{
    return sn_dev_send(d, NULL, NULL, 0, frame, len);
}

int synack_dev_output(void *dev, const uint8_t *pkt, size_t len)
{
    struct synack_dev *d = dev;
    if (len > d->mtu || len < 20) {
        d->st.tx_dropped++;
        return len < 20 ? -EINVAL : -EMSGSIZE;
    }
    if (d->kind == SYNACK_DEV_TAP)
        return sn_tap_output(d, pkt, len);
    return sn_dev_write(d, pkt, len);
}

static int seg_out(void *dev, const uint8_t *pkt, size_t len)
{
    return synack_dev_output(dev, pkt, len);
}

/* Cut and checksum in software what the kernel does not take whole. */
static int output_soft(struct synack_dev *d, const uint8_t *pkt, size_t len,
                       const struct synack_pkt_meta *m)
{
    if (!d->segbuf && !(d->segbuf = malloc(65535)))
        return -ENOMEM;
    int rc = synack_gso_segment(pkt, len, m, d->segbuf, 65535, seg_out, d);
    return rc < 0 ? (rc == SYNACK_WIRE_EINVAL ? -EINVAL : rc) : 0;
}

int synack_dev_output_meta(void *dev, const uint8_t *pkt, size_t len,
                           const struct synack_pkt_meta *m)
{
    struct synack_dev *d = dev;
    bool gso = m->gso_size != 0 && (d->offload & SYNACK_OFFLOAD_TSO) && !d->gso_refused;
    bool partial = (m->flags & SYNACK_PKT_CSUM_PARTIAL) != 0;
    if (!partial && m->gso_size == 0)
        return synack_dev_output(dev, pkt, len);
    if (!d->vnet || (m->gso_size != 0 && !gso) || (partial && !(d->offload & SYNACK_OFFLOAD_CSUM)))
        return output_soft(d, pkt, len, m);
    if (len < 20 || len > 65535 || (!gso && len > d->mtu)) {
        d->st.tx_dropped++;
        return len < 20 ? -EINVAL : -EMSGSIZE;
    }
    /* TAP: the Ethernet header goes between the virtio-net header and the
     * packet.  A next hop ARP has yet to resolve (or one off the subnet)
     * takes the plain path: cut here, held by ARP (or refused). */
    uint8_t eth[SYNACK_ETH_HDR_LEN];
    size_t l2 = 0;
    if (d->kind == SYNACK_DEV_TAP) {
        if (sn_tap_eth_hdr(d, pkt, eth) < 0)
            return output_soft(d, pkt, len, m);
        l2 = sizeof(eth);
    }
    uint8_t vh[SN_DEV_VNET_LEN];
    sn_vnet_build(vh, m, gso, l2);
    struct frame f = {.n = 0};
    frame_add(&f, vh, sizeof(vh));
    frame_add(&f, eth, l2);
    frame_add(&f, pkt, len);
    int rc = dev_write(d, &f, sizeof(vh), gso);
    if (rc == -EINVAL && gso) {
        /* The kernel refused the GSO packet: never again, and this one
         * goes out cut in software. */
        d->gso_refused = true;
        d->st.tx_gso_fallback++;
        return output_soft(d, pkt, len, m);
    }
    if (rc == 0 && gso && d->held_len == 0)
        d->st.tx_gso++;
    return rc;
}

bool synack_dev_want_write(const struct synack_dev *d) { return d->held_len > 0; }

int synack_dev_flush(struct synack_dev *d)
{
    int n = 0;
    while (d->held_len > 0) {
        uint32_t len;
        memcpy(&len, d->hold + d->hold_head, 4);
        struct frame f = {.n = 0};
        frame_add(&f, d->hold + d->hold_head + 4, len); /* header and frame as held */
        int rc = write_one(d, &f, d->vnet ? SN_DEV_VNET_LEN : 0);
        if (rc == 0)
            break;
        if (rc < 0)
            d->st.tx_dropped++;
        else
            n++;
        d->hold_head += hold_size(len);
        if (d->hold_wrapped && d->hold_head == d->hold_end) {
            d->hold_head = 0;
            d->hold_wrapped = false;
        }
        d->held_len--;
    }
    return n;
}

synack_time_t synack_dev_next_deadline(const struct synack_dev *d)
{
    return d->arp ? sn_arp_next_deadline(d->arp) : SYNACK_TIME_NEVER;
}

void synack_dev_advance(struct synack_dev *d, synack_time_t now)
{
    if (now > d->now)
        d->now = now;
    if (d->arp)
        sn_arp_advance(d->arp, d->now);
}

void synack_dev_stats(const struct synack_dev *d, struct synack_dev_stats *out)
{
    *out = d->st;
    if (d->arp) {
        const struct sn_arp_stats *a = &d->arp->st;
        out->arp_requests_out = a->requests_out;
        out->arp_replies_out = a->replies_out;
        out->arp_requests_in = a->requests_in;
        out->arp_replies_in = a->replies_in;
        out->arp_learned = a->learned;
        out->arp_expired = a->expired;
        out->arp_failed = a->failed;
        out->arp_queued = a->queued;
        out->arp_queue_drops = a->queue_drops;
    }
}
