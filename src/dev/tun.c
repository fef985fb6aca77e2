/* The TUN driver, and what the TAP driver shares with it: the /dev/net/tun
 * descriptor, batched reads, writes with a bounded backlog (see
 * include/synack/dev.h).
 *
 * A TUN/TAP descriptor returns one packet per read(2) and takes one per
 * write(2); it has no recvmmsg/sendmmsg.  So a "batch" is a run of reads
 * until EAGAIN or the batch's bounds, and writes are one call per packet,
 * made at once (holding packets back to write them later would only add
 * latency: there is nothing to amortise). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include "dev/dev_internal.h"

/* struct synack_dev_config's size per version (the rule of stack.c's config_size). */
static const size_t dev_config_size[] = {0, sizeof(struct synack_dev_config)};
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

static int tun_attach(struct synack_dev *d, const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    /* IFF_NO_PI: no 4-byte packet-information prefix; each read/write is
     * exactly one IPv4 packet (TUN) or Ethernet frame (TAP). */
    ifr.ifr_flags = (short)((d->kind == SYNACK_DEV_TAP ? IFF_TAP : IFF_TUN) | IFF_NO_PI);
    if (name)
        memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
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
    d->held = calloc(c->backlog, sizeof(*d->held));
    int rc = d->held ? 0 : -ENOMEM;
    if (rc == 0 && c->kind == SYNACK_DEV_TAP)
        rc = sn_tap_init(d, c);
    if (rc == 0)
        rc = tun_attach(d, nlen ? c->name : NULL);
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
    for (uint32_t i = 0; i < d->held_len; i++)
        free(d->held[(d->held_head + i) % d->backlog_max]);
    free(d->held);
    sn_tap_free(d);
    free(d);
}

int synack_dev_fd(const struct synack_dev *d) { return d->fd; }
const char *synack_dev_name(const struct synack_dev *d) { return d->name; }
enum synack_dev_kind synack_dev_kind(const struct synack_dev *d) { return d->kind; }
uint16_t synack_dev_mtu(const struct synack_dev *d) { return d->mtu; }
const uint8_t *synack_dev_mac(const struct synack_dev *d) { return d->arp ? d->arp->mac : NULL; }

int synack_dev_recv(struct synack_dev *d, synack_dev_rx_fn fn, void *user)
{
    int n = 0;
    size_t bytes = 0;
    while ((unsigned)n < d->batch && bytes < d->batch_bytes) {
        ssize_t r = read(d->fd, d->rxbuf, sizeof(d->rxbuf));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            d->st.rx_errors++;
            return n > 0 ? n : -errno;
        }
        synack_time_t now = synack_clock_now();
        if (now > d->now)
            d->now = now;
        n++;
        bytes += (size_t)r;
        d->st.reads++;
        if (d->kind == SYNACK_DEV_TAP) {
            sn_tap_input(d, d->rxbuf, (size_t)r, fn, user);
        } else if (r >= 20 && (d->rxbuf[0] >> 4) == 4) {
            d->st.rx_packets++;
            d->st.rx_bytes += (uint64_t)r;
            fn(user, d->rxbuf, (size_t)r, d->now);
        } else {
            d->st.rx_other++; /* IPv6 (router solicitations, ...) or runts */
        }
    }
    if (n > 0)
        d->st.read_batches++;
    return n;
}

static int hold(struct synack_dev *d, const uint8_t *frame, size_t len)
{
    if (d->held_len >= d->backlog_max) {
        d->st.tx_dropped++;
        return -ENOBUFS;
    }
    struct sn_dev_held *h = malloc(sizeof(*h) + len);
    if (!h) {
        d->st.tx_dropped++;
        return -ENOMEM;
    }
    h->len = (uint32_t)len;
    memcpy(h->data, frame, len);
    d->held[(d->held_head + d->held_len) % d->backlog_max] = h;
    d->held_len++;
    d->st.tx_backlogged++;
    return 0;
}

/* One write(2): 1 written, 0 when the kernel says "later", or -errno. */
static int write_one(struct synack_dev *d, const uint8_t *frame, size_t len)
{
    for (;;) {
        ssize_t w = write(d->fd, frame, len);
        if (w >= 0) {
            d->st.tx_packets++;
            d->st.tx_bytes += len;
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return 0;
        return -errno;
    }
}

int sn_dev_write(struct synack_dev *d, const uint8_t *frame, size_t len)
{
    if (d->held_len > 0)
        return hold(d, frame, len);
    int rc = write_one(d, frame, len);
    if (rc == 0)
        return hold(d, frame, len);
    if (rc < 0)
        d->st.tx_dropped++;
    return rc < 0 ? rc : 0;
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

bool synack_dev_want_write(const struct synack_dev *d) { return d->held_len > 0; }

int synack_dev_flush(struct synack_dev *d)
{
    int n = 0;
    while (d->held_len > 0) {
        struct sn_dev_held *h = d->held[d->held_head];
        int rc = write_one(d, h->data, h->len);
        if (rc == 0)
            break;
        if (rc < 0)
            d->st.tx_dropped++;
        else
            n++;
        free(h);
        d->held_head = (d->held_head + 1) % d->backlog_max;
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
