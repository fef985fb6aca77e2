/* The TUN ceiling: a minimal fake TCP peer on a TUN device, doing the least
 * any userspace TCP must do per byte, so that synack's throughput over the
 * same device can be read as a fraction of what the device allows.
 *
 *   fakepeer --dev NAME --port P --mode recv|send [--mtu N] [--offload]
 *            [--window BYTES] [--timeout SEC]
 *
 * It creates the TUN device NAME (the caller gives the kernel's side an
 * address and brings it up) and answers, as a server on port P, the first
 * connection the kernel opens to any address behind the device:
 *   recv  ACK everything: each in-order payload is copied out (and its
 *         checksum verified in the same pass unless the kernel vouches for
 *         it), one ACK per batch of reads; the kernel's FIN is answered
 *         with a FIN, then it exits.
 *   send  write within the kernel's advertised window, MSS-sized segments of
 *         a precomputed pattern copied (and checksummed in the same pass)
 *         into each packet, until the kernel closes; go-back-N after three
 *         duplicate ACKs or 200 ms without progress (the device may drop).
 * --offload: IFF_VNET_HDR with TUNSETOFFLOAD(CSUM|TSO4): the kernel hands
 * over coalesced segments (GRO) with their checksum vouched for, and a send
 * is one write of up to 64 KiB that the kernel cuts at the MSS (GSO), with
 * the checksum left to the kernel (partial checksum) - what synack's
 * --offload does.  No timestamps, no SACK: the kernel's options are read
 * only for the MSS and the window scale.  Everything is bounded: one
 * connection, --timeout (default 60 s) for the whole run.
 *
 * Prints one line to stderr at exit: bytes, packets, retransmissions. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "synack/wire.h"

#define BATCH 64                   /* packets read per wake-up at most */
#define PKT_MAX 65536 + 64         /* one packet and its virtio-net header */
#define SINK (4u << 20)            /* where received payload is copied to */
#define CYCLE 65521                /* pattern period: prime, so segments shift through it */
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

struct peer {
    int fd;
    bool vnet, send_mode, open, done, fin_sent;
    uint16_t port, kport, mss, mtu;
    uint32_t laddr, kaddr;          /* ours (whatever the kernel sent to) and the kernel's */
    uint32_t rcv_nxt, snd_una, snd_nxt, snd_max, iss;
    uint32_t snd_wnd;               /* the kernel's window, scaled */
    uint8_t kws;                    /* the kernel's window scale (ours is 7) */
    bool ws;                        /* the kernel offered window scaling */
    uint32_t window;                /* what we advertise, bytes */
    unsigned dupacks;
    double last_progress;
    uint16_t ip_id;
    uint64_t bytes, pkts_in, pkts_out, rexmits, bad_csum;
    uint8_t *sink, *pattern;
    size_t sink_off;
    uint8_t out[PKT_MAX];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static int tun_open(const char *name, bool offload, bool *vnet)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        close(fd);
        return -1;
    }
    *vnet = offload;
    if (offload && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) {
        fprintf(stderr, "fakepeer: TUNSETOFFLOAD refused: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Write one segment: flags, `len` payload bytes from the pattern at stream
 * offset `off` (send mode), options on a SYN.  With offloads a payload longer
 * than the MSS goes as one GSO packet. */
static int emit(struct peer *p, uint8_t flags, uint32_t seq, size_t len, uint64_t off)
{
    uint8_t *h = p->out;
    size_t vlen = p->vnet ? sizeof(struct virtio_net_hdr) : 0;
    uint8_t *ip = h + vlen, *tcp = ip + 20;
    size_t thl = flags & F_SYN ? 28 : 20, tot = 20 + thl + len;
    memset(ip, 0, 20 + thl);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)tot);
    wr16(ip + 4, p->ip_id++);
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = 6;
    wr32(ip + 12, p->laddr);
    wr32(ip + 16, p->kaddr);
    wr16(ip + 10, synack_csum(ip, 20));
    wr16(tcp, p->port);
    wr16(tcp + 2, p->kport);
    wr32(tcp + 4, seq);
    wr32(tcp + 8, p->rcv_nxt);
    tcp[12] = (uint8_t)(thl / 4 << 4);
    tcp[13] = flags;
    uint32_t w = flags & F_SYN || !p->ws ? p->window : p->window >> 7;
    wr16(tcp + 14, (uint16_t)(w > 65535 ? 65535 : w));
    if (flags & F_SYN) {
        uint8_t *o = tcp + 20;
        o[0] = 2, o[1] = 4;
        wr16(o + 2, p->mss);
        o[4] = 1, o[5] = 1, o[6] = 1, o[7] = 0; /* NOPs, end */
        if (p->ws)
            o[5] = 3, o[6] = 3, o[7] = 7; /* NOP, window scale 7 (RFC 7323 2.2) */
    }
    uint32_t sum = synack_csum_pseudo(p->laddr, p->kaddr, 6, (uint16_t)(thl + len));
    for (size_t done = 0; done < len;) { /* the pattern wraps every CYCLE bytes */
        size_t at = (size_t)((off + done) % CYCLE), n = len - done;
        if (n > CYCLE - at)
            n = CYCLE - at;
        if (p->vnet)
            memcpy(tcp + thl + done, p->pattern + at, n);
        else /* pieces start at even offsets unless a previous one was odd: CYCLE is odd */
            sum = done & 1 ? sum + synack_csum_swab(synack_csum_copy(tcp + thl + done, p->pattern + at, n, 0))
                           : synack_csum_copy(tcp + thl + done, p->pattern + at, n, sum);
        done += n;
    }
    if (p->vnet) {
        /* Partial checksum: the field holds the pseudo-header's sum, the
         * kernel adds the rest (VIRTIO_NET_HDR_F_NEEDS_CSUM). */
        struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 16};
        if (len > p->mss) {
            vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
            vh.gso_size = p->mss;
            vh.hdr_len = (uint16_t)(20 + thl);
        }
        wr16(tcp + 16, (uint16_t)~synack_csum_fold(sum));
        memcpy(h, &vh, sizeof(vh));
    } else {
        sum = synack_csum_partial(tcp, thl, sum);
        wr16(tcp + 16, synack_csum_fold(sum));
    }
    for (int tries = 0; tries < 1000; tries++) {
        if (write(p->fd, h, vlen + tot) >= 0) {
            p->pkts_out++;
            return 0;
        }
        if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
            return -1;
        struct pollfd pf = {.fd = p->fd, .events = POLLOUT};
        poll(&pf, 1, 1);
    }
    return -1;
}

static void parse_syn_opts(struct peer *p, const uint8_t *o, size_t len)
{
    p->kws = 0;
    p->ws = false;
    for (size_t i = 0; i < len;) {
        if (o[i] == 0)
            break;
        if (o[i] == 1) {
            i++;
            continue;
        }
        if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len)
            break;
        if (o[i] == 2 && o[i + 1] == 4 && rd16(o + i + 2) < p->mss)
            p->mss = rd16(o + i + 2);
        if (o[i] == 3 && o[i + 1] == 3) {
            p->kws = o[i + 2] > 14 ? 14 : o[i + 2];
            p->ws = true;
        }
        i += o[i + 1];
    }
}

/* One packet from the device; returns true when an ACK is due. */
static bool input(struct peer *p, const uint8_t *pkt, size_t len, bool csum_ok)
{
    if (len < 40 || pkt[0] >> 4 != 4 || pkt[9] != 6)
        return false;
    size_t ihl = (size_t)(pkt[0] & 15) * 4, tot = rd16(pkt + 2);
    if (ihl < 20 || tot > len || tot < ihl + 20)
        return false;
    const uint8_t *tcp = pkt + ihl;
    size_t thl = (size_t)(tcp[12] >> 4) * 4;
    if (thl < 20 || ihl + thl > tot || rd16(tcp + 2) != p->port)
        return false;
    uint8_t fl = tcp[13];
    uint32_t seq = rd32(tcp + 4), ack = rd32(tcp + 8);
    const uint8_t *data = tcp + thl;
    size_t dlen = tot - ihl - thl;
    p->pkts_in++;
    if ((fl & F_SYN) && !(fl & F_ACK)) {
        if (p->open)
            return false;
        p->kaddr = rd32(pkt + 12);
        p->laddr = rd32(pkt + 16);
        p->kport = rd16(tcp);
        p->rcv_nxt = seq + 1;
        parse_syn_opts(p, tcp + 20, thl - 20);
        p->open = true;
        p->snd_wnd = rd16(tcp + 14);
        emit(p, F_SYN | F_ACK, p->iss, 0, 0);
        return false;
    }
    if (!p->open || rd16(tcp) != p->kport)
        return false;
    if (fl & F_RST) {
        p->done = true;
        return false;
    }
    if (fl & F_ACK) {
        uint32_t wnd = (uint32_t)rd16(tcp + 14) << p->kws;
        if (seq_lt(p->snd_una, ack) && !seq_lt(p->snd_max, ack)) {
            p->snd_una = ack;
            p->dupacks = 0;
            p->last_progress = now_s();
        } else if (ack == p->snd_una && dlen == 0 && wnd == p->snd_wnd && p->snd_nxt != p->snd_una &&
                   ++p->dupacks == 3) {
            p->snd_nxt = p->snd_una; /* go back N */
            p->rexmits++;
        }
        p->snd_wnd = wnd;
        if (p->fin_sent && ack == p->snd_max)
            p->done = true;
    }
    if (dlen == 0 && !(fl & F_FIN))
        return false;
    if (seq != p->rcv_nxt)
        return true; /* out of order or old: a duplicate ACK says where we are */
    if (dlen) {
        /* Copy out, verifying the checksum in the same pass unless the kernel vouched for it. */
        if (p->sink_off + dlen > SINK)
            p->sink_off = 0;
        if (csum_ok) {
            memcpy(p->sink + p->sink_off, data, dlen);
        } else {
            uint32_t sum = synack_csum_pseudo(rd32(pkt + 12), rd32(pkt + 16), 6, (uint16_t)(thl + dlen));
            sum = synack_csum_partial(tcp, thl, sum);
            sum = synack_csum_copy(p->sink + p->sink_off, data, dlen, sum);
            if (synack_csum_fold(sum) != 0) {
                p->bad_csum++;
                return true;
            }
        }
        p->sink_off += dlen;
        p->rcv_nxt += (uint32_t)dlen;
        p->bytes += dlen;
    }
    if (fl & F_FIN) {
        p->rcv_nxt++;
        if (p->send_mode) /* the kernel closed: the run is over */
            p->done = true;
        else if (!p->fin_sent) {
            p->fin_sent = true;
            p->snd_max = ++p->snd_nxt;
            emit(p, F_FIN | F_ACK, p->snd_nxt - 1, 0, 0);
            return false;
        }
    }
    return true;
}

/* Send mode: fill the kernel's window. */
static void send_data(struct peer *p)
{
    uint32_t max_seg = p->mss;
    if (p->vnet) /* one GSO packet: as many whole segments as fit 64 KiB */
        max_seg = (65535 - 40) / p->mss * p->mss;
    for (int i = 0; i < BATCH; i++) {
        uint32_t inflight = p->snd_nxt - p->snd_una;
        if (inflight >= p->snd_wnd)
            return;
        uint32_t n = p->snd_wnd - inflight < max_seg ? p->snd_wnd - inflight : max_seg;
        if (n < p->mss && inflight > 0)
            return; /* no small segments while data is in flight */
        if (emit(p, F_ACK, p->snd_nxt, n, (uint64_t)(p->snd_nxt - p->iss - 1)) < 0)
            return;
        if (seq_lt(p->snd_max, p->snd_nxt) || p->snd_max == p->snd_nxt) {
            p->bytes += n;
        }
        p->snd_nxt += n;
        if (seq_lt(p->snd_max, p->snd_nxt))
            p->snd_max = p->snd_nxt;
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: fakepeer --dev NAME --port P --mode recv|send [--mtu 576..65535] [--offload]\n"
                    "                [--window BYTES] [--timeout SEC]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *dev = NULL, *mode = NULL;
    unsigned mtu = 1500, port = 0, timeout = 60, window = 4u << 20;
    bool offload = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--offload")) {
            offload = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--dev"))
            dev = v;
        else if (!strcmp(a, "--mode"))
            mode = v;
        else if (!strcmp(a, "--mtu"))
            mtu = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--port"))
            port = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--timeout"))
            timeout = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--window"))
            window = (unsigned)strtoul(v, NULL, 10);
        else
            return usage();
    }
    if (!dev || !mode || (strcmp(mode, "recv") && strcmp(mode, "send")) || port == 0 || port > 65535 ||
        mtu < 576 || mtu > 65535 || timeout == 0 || window < 65536 || window > (1u << 30))
        return usage();

    static struct peer p;
    p.send_mode = !strcmp(mode, "send");
    p.port = (uint16_t)port;
    p.mtu = (uint16_t)mtu;
    p.mss = (uint16_t)(mtu - 40);
    p.window = window;
    p.iss = 0x1000;
    p.snd_una = p.iss; /* our SYN is unacknowledged until the kernel's ACK */
    p.snd_nxt = p.snd_max = p.iss + 1;
    p.sink = malloc(SINK);
    p.pattern = malloc(CYCLE);
    if (!p.sink || !p.pattern)
        return 1;
    for (size_t i = 0; i < CYCLE; i++)
        p.pattern[i] = (uint8_t)(' ' + i % 95);
    p.fd = tun_open(dev, offload, &p.vnet);
    if (p.fd < 0) {
        fprintf(stderr, "fakepeer: %s: %s\n", dev, strerror(errno));
        return 1;
    }
    static uint8_t rbuf[PKT_MAX];
    double end = now_s() + timeout;
    p.last_progress = now_s();
    size_t vlen = p.vnet ? sizeof(struct virtio_net_hdr) : 0;
    while (!p.done && now_s() < end) {
        struct pollfd pf = {.fd = p.fd, .events = POLLIN};
        bool can_send = p.send_mode && p.open && p.snd_una != p.iss && p.snd_nxt - p.snd_una < p.snd_wnd;
        if (!can_send && poll(&pf, 1, 10) < 0 && errno != EINTR)
            break;
        bool ack = false;
        for (int i = 0; i < BATCH; i++) {
            ssize_t n = read(p.fd, rbuf, sizeof(rbuf));
            if (n < 0)
                break;
            if ((size_t)n <= vlen)
                continue;
            bool ok = false;
            if (p.vnet) {
                struct virtio_net_hdr vh;
                memcpy(&vh, rbuf, sizeof(vh));
                ok = (vh.flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) != 0;
            }
            ack |= input(&p, rbuf + vlen, (size_t)n - vlen, ok);
        }
        if (ack && !p.done)
            emit(&p, F_ACK, p.snd_nxt, 0, 0);
        if (p.send_mode && p.open && p.snd_una != p.iss) { /* established: our SYN is acknowledged */
            if (p.snd_nxt != p.snd_una && now_s() - p.last_progress > 0.2) {
                p.snd_nxt = p.snd_una;
                p.rexmits++;
                p.last_progress = now_s();
            }
            send_data(&p);
        }
    }
    fprintf(stderr, "fakepeer: %s %llu bytes, %llu packets in, %llu out, %llu go-back-N, %llu bad checksums%s\n",
            mode, (unsigned long long)p.bytes, (unsigned long long)p.pkts_in, (unsigned long long)p.pkts_out,
            (unsigned long long)p.rexmits, (unsigned long long)p.bad_csum, p.done ? "" : " (timed out)");
    close(p.fd);
    return p.done ? 0 : 1;
}
