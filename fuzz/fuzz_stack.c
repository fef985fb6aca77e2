/* libFuzzer harness: the whole stack, statefully.  The input is a program
 * of operations run against a fresh stack (address ME, listeners on ports
 * 80 and 81) by a forged peer (PEER) that keeps track of what the stack
 * sent, so that its segments look valid: the right addresses and ports,
 * sequence and acknowledgement numbers near the live windows, with fuzzed
 * flags, options, windows and payload sizes.  Operations also send ICMP
 * errors quoting the stack's own segments, move time by small and large
 * jumps (every timer fires), and make socket calls (send, recv, shutdown,
 * close, SO_LINGER, connect, accept, ...), so connections pass through
 * every state.  After every operation the connection invariants
 * (src/tcp/tcp_check.c) must hold; every packet sent must fit the MTU with
 * correct checksums (the fuzz build has SYNACK_INVARIANTS, which also checks
 * inside the stack at the end of each public call). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "synack/socket.h"
#include "synack/stack.h"
#include "synack/wire.h"
#include "tcp/tcp_check.h"

#define ME 0x0a000002u
#define PEER 0x0a000001u
#define NSLOT 8
#define MAX_OPS 400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct slot {
    uint16_t lport, rport;  /* the stack's port and the peer's */
    bool active;            /* opened by the stack (connect) */
    bool known;             /* the stack has sent on this tuple (stack_seq valid) */
    int fd;
    uint32_t stack_seq;     /* the highest sequence number the stack has sent, + 1 */
    uint32_t stack_ack;     /* the last acknowledgement the stack sent */
    uint32_t peer_seq;      /* the forged peer's next sequence number */
    uint32_t ts;            /* the peer's timestamp clock */
    uint8_t last[128];      /* the stack's last packet on this tuple (for ICMP quotes) */
    size_t last_len;
};

struct fz {
    const uint8_t *p;
    size_t n;
    struct synack_stack *s;
    synack_time_t now;
    int lfd[2];
    struct slot slot[NSLOT];
};

static uint8_t get8(struct fz *f)
{
    if (f->n == 0)
        return 0;
    f->n--;
    return *f->p++;
}
static uint16_t get16(struct fz *f) { return (uint16_t)(get8(f) | get8(f) << 8); }
static uint32_t get32(struct fz *f) { return (uint32_t)get16(f) | (uint32_t)get16(f) << 16; }

static void check(struct fz *f, const char *where)
{
    struct sn_check_report r;
    if (sn_check_stack(f->s, NULL, &r) < 0)
        sn_check_fail(f->s, where, &r);
}

/* Everything the stack sends: checked, and remembered per tuple. */
static int output(void *user, const uint8_t *pkt, size_t len)
{
    struct fz *f = user;
    struct sn_check_report r;
    if (sn_check_packet(f->s, pkt, len, NULL, &r) < 0)
        sn_check_fail(f->s, "output", &r);
    struct synack_ipv4_hdr ip;
    struct synack_tcp_hdr th;
    if (synack_ipv4_parse(pkt, len, &ip) < 0 || ip.proto != SYNACK_IPPROTO_TCP ||
        synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &th) < 0)
        return 0;
    for (int i = 0; i < NSLOT; i++) {
        struct slot *sl = &f->slot[i];
        if (th.dport != sl->rport)
            continue;
        if (sl->active && (th.flags & SYNACK_TH_SYN) && !(th.flags & SYNACK_TH_ACK))
            sl->lport = th.sport; /* our connect() chose its port */
        if (th.sport != sl->lport)
            continue;
        uint32_t end = th.seq + (uint32_t)th.payload_len + ((th.flags & SYNACK_TH_SYN) ? 1u : 0u) +
                       ((th.flags & SYNACK_TH_FIN) ? 1u : 0u);
        if (!sl->known || (int32_t)(end - sl->stack_seq) > 0 || (th.flags & SYNACK_TH_SYN))
            sl->stack_seq = end;
        sl->known = true;
        if (th.flags & SYNACK_TH_ACK)
            sl->stack_ack = th.ack;
        sl->last_len = len < sizeof(sl->last) ? len : sizeof(sl->last);
        memcpy(sl->last, pkt, sl->last_len);
    }
    return 0;
}

static void feed(struct fz *f, struct synack_tcp_hdr *th)
{
    static uint8_t pkt[SYNACK_IPV4_HDR_MIN + SYNACK_TCP_HDR_MAX + 9000];
    int n = synack_tcp_emit(pkt + SYNACK_IPV4_HDR_MIN, sizeof(pkt) - SYNACK_IPV4_HDR_MIN, th, PEER, ME);
    if (n < 0)
        return;
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(SYNACK_IPV4_HDR_MIN + n), .ttl = 64,
                                 .proto = SYNACK_IPPROTO_TCP, .src = PEER, .dst = ME};
    synack_ipv4_emit(pkt, SYNACK_IPV4_HDR_MIN, &ip);
    synack_stack_input(f->s, pkt, (size_t)SYNACK_IPV4_HDR_MIN + (size_t)n, f->now);
}

static void fuzz_options(struct fz *f, struct slot *sl, struct synack_tcp_opts *o)
{
    uint8_t m = get8(f);
    memset(o, 0, sizeof(*o));
    if (m & 1) {
        o->present |= SYNACK_TCPOPT_F_MSS;
        o->mss = (m & 2) ? (uint16_t)get8(f) : get16(f); /* small values often */
    }
    if (m & 4) {
        o->present |= SYNACK_TCPOPT_F_WSCALE;
        o->wscale = get8(f) % 16;
    }
    if (m & 8)
        o->present |= SYNACK_TCPOPT_F_SACK_PERM;
    if (m & 16) {
        o->present |= SYNACK_TCPOPT_F_TIMESTAMP;
        sl->ts += (m & 32) ? get32(f) : get8(f);
        o->tsval = sl->ts;
        o->tsecr = get32(f);
    }
    if ((m & 64) && !(o->present & SYNACK_TCPOPT_F_MSS)) {
        o->present |= SYNACK_TCPOPT_F_SACK;
        o->nsack = (uint8_t)(1 + get8(f) % 3);
        for (int i = 0; i < o->nsack; i++) {
            /* Blocks near what the stack has sent (below SND.NXT, above, across). */
            o->sack[i].left = sl->stack_seq - (uint32_t)get16(f);
            o->sack[i].right = o->sack[i].left + (uint32_t)get16(f) % 3000;
        }
    }
    if (synack_tcp_opts_len(o) < 0)
        o->present &= SYNACK_TCPOPT_F_TIMESTAMP;
}

/* A segment from the peer on a slot, near the live windows. */
static void op_segment(struct fz *f, struct slot *sl, bool valid)
{
    static const uint8_t payload[9000];
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    th.sport = sl->rport;
    th.dport = sl->lport;
    uint8_t how = get8(f);
    th.flags = valid ? (uint8_t)(SYNACK_TH_ACK | (how & (SYNACK_TH_PSH | SYNACK_TH_FIN)))
                     : get8(f);
    int16_t dseq = valid ? 0 : (int16_t)get16(f), dack = valid ? 0 : (int16_t)get16(f);
    th.seq = sl->peer_seq + (uint32_t)(int32_t)dseq;
    th.ack = (sl->known ? sl->stack_seq : 0) + (uint32_t)(int32_t)dack;
    th.window = (how & 0x80) ? get16(f) : 65535;
    th.urg_ptr = (th.flags & SYNACK_TH_URG) ? get16(f) : 0;
    fuzz_options(f, sl, &th.opts);
    size_t plen = (how & 0x40) ? (size_t)get8(f) * 8 : 0;
    th.payload = payload;
    th.payload_len = plen;
    if (th.flags & SYNACK_TH_SYN) {
        /* A new initial sequence number now and then. */
        if (how & 0x20)
            sl->peer_seq = get32(f);
        th.seq = sl->peer_seq;
    }
    feed(f, &th);
    /* The peer's sequence space moves when the stack could have taken it. */
    if (valid || (how & 0x10))
        sl->peer_seq += (uint32_t)plen + ((th.flags & SYNACK_TH_SYN) ? 1u : 0u) +
                        ((th.flags & SYNACK_TH_FIN) ? 1u : 0u);
}

/* An opening the peer completes properly: SYN (or SYN-ACK), then the ACK. */
static void op_handshake(struct fz *f, struct slot *sl)
{
    struct synack_tcp_hdr th;
    memset(&th, 0, sizeof(th));
    th.sport = sl->rport;
    th.dport = sl->lport;
    th.window = 65535;
    fuzz_options(f, sl, &th.opts);
    th.opts.present &= ~(uint32_t)SYNACK_TCPOPT_F_SACK;
    sl->peer_seq = get32(f);
    th.seq = sl->peer_seq;
    th.flags = SYNACK_TH_SYN;
    if (sl->active && sl->known) {
        th.flags |= SYNACK_TH_ACK;
        th.ack = sl->stack_seq;
    }
    feed(f, &th);
    sl->peer_seq++;
    if (!sl->known)
        return;
    memset(&th.opts, 0, sizeof(th.opts));
    th.seq = sl->peer_seq;
    th.ack = sl->stack_seq;
    th.flags = SYNACK_TH_ACK;
    feed(f, &th);
    if (!sl->active && sl->fd < 0)
        sl->fd = synack_accept(f->s, f->lfd[sl->lport == 81], NULL, NULL);
}

/* An ICMP error quoting the stack's last segment on the slot. */
static void op_icmp(struct fz *f, struct slot *sl)
{
    static const uint8_t types[] = {SYNACK_ICMP_DEST_UNREACH, SYNACK_ICMP_DEST_UNREACH,
                                    SYNACK_ICMP_TIME_EXCEEDED};
    if (sl->last_len < 28)
        return;
    uint8_t pkt[SYNACK_IPV4_HDR_MIN + SYNACK_ICMP_HDR_LEN + 128];
    uint8_t t = get8(f);
    struct synack_icmp_hdr ic = {.type = types[t % 3], .code = (uint8_t)(get8(f) % 16),
                                 .mtu = get16(f), .data = sl->last,
                                 .data_len = 28 + get8(f) % (sl->last_len - 27)};
    if (t & 0x80)
        ic.code = SYNACK_ICMP_UNREACH_NEEDFRAG;
    int n = synack_icmp_emit(pkt + SYNACK_IPV4_HDR_MIN, sizeof(pkt) - SYNACK_IPV4_HDR_MIN, &ic);
    if (n < 0)
        return;
    struct synack_ipv4_hdr ip = {.total_len = (uint16_t)(SYNACK_IPV4_HDR_MIN + n), .ttl = 64,
                                 .proto = SYNACK_IPPROTO_ICMP, .src = PEER, .dst = ME};
    synack_ipv4_emit(pkt, SYNACK_IPV4_HDR_MIN, &ip);
    synack_stack_input(f->s, pkt, (size_t)SYNACK_IPV4_HDR_MIN + (size_t)n, f->now);
}

static void op_time(struct fz *f)
{
    static const synack_time_t jumps[] = {1,
                                          SYNACK_MSEC(1),
                                          SYNACK_MSEC(40),
                                          SYNACK_MSEC(200),
                                          SYNACK_SEC(1),
                                          SYNACK_SEC(3),
                                          SYNACK_SEC(60),
                                          SYNACK_SEC(7300)};
    uint8_t b = get8(f);
    f->now += jumps[b % 8] * (1 + (b >> 3));
    synack_stack_advance(f->s, f->now);
}

static void op_call(struct fz *f, struct slot *sl)
{
    static const uint8_t buf[65536];
    static uint8_t rbuf[65536];
    struct synack_stack *s = f->s;
    int fd = sl->fd;
    uint8_t c = get8(f);
    int one = 1;
    switch (c % 10) {
    case 0: synack_send(s, fd, buf, (size_t)get16(f), (c & 0x80) ? MSG_OOB : 0); break;
    case 1: synack_recv(s, fd, rbuf, (size_t)get16(f), (c & 0x80) ? MSG_PEEK : 0); break;
    case 2: synack_shutdown(s, fd, (c >> 4) % 3); break;
    case 3:
        if (c & 0x80) {
            struct linger lg = {1, 0};
            synack_setsockopt(s, fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        if (synack_close(s, fd) == 0)
            sl->fd = -1;
        break;
    case 4:
        synack_setsockopt(s, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        break;
    case 5:
        synack_setsockopt(s, fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        one = 1 + get8(f) % 10;
        synack_setsockopt(s, fd, IPPROTO_TCP, TCP_KEEPIDLE, &one, sizeof(one));
        break;
    case 6: {
        one = 1024 * (1 + get8(f));
        synack_setsockopt(s, fd, SOL_SOCKET, (c & 0x80) ? SO_SNDBUF : SO_RCVBUF, &one, sizeof(one));
        break;
    }
    case 7:
        /* Active open: the slot becomes the stack's client connection. */
        if (sl->fd >= 0 && synack_close(s, sl->fd) == 0)
            sl->fd = -1;
        sl->fd = synack_socket(s, AF_INET, SOCK_STREAM, 0);
        if (sl->fd >= 0) {
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(sl->rport),
                                    .sin_addr.s_addr = htonl(PEER)};
            sl->active = true;
            sl->known = false;
            sl->lport = 0;
            synack_connect(s, sl->fd, (struct sockaddr *)&a, sizeof(a));
        }
        break;
    case 8:
        if (sl->fd < 0)
            sl->fd = synack_accept(s, f->lfd[c & 1], NULL, NULL);
        break;
    default: {
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT | POLLPRI};
        synack_poll(s, &p, 1);
        synack_sockatmark(s, fd);
        struct synack_tcp_info info;
        socklen_t len = sizeof(info);
        synack_getsockopt(s, fd, IPPROTO_TCP, TCP_INFO, &info, &len);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t mtus[] = {1500, 576, 1280, 9000};
    struct fz *f = calloc(1, sizeof(*f));
    if (!f)
        return 0;
    f->p = data;
    f->n = size;
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = ME;
    cfg.mtu = mtus[get8(f) % 4];
    cfg.msl = SYNACK_SEC(2);
    cfg.max_conns = 32;
    cfg.sndbuf = cfg.rcvbuf = 64 * 1024;
    if (synack_stack_new(&cfg, output, f, &f->s) < 0) {
        free(f);
        return 0;
    }
    f->now = SYNACK_SEC(1);
    for (int i = 0; i < 2; i++) {
        f->lfd[i] = synack_socket(f->s, AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(80 + i))};
        synack_bind(f->s, f->lfd[i], (struct sockaddr *)&a, sizeof(a));
        synack_listen(f->s, f->lfd[i], 4);
    }
    for (int i = 0; i < NSLOT; i++) {
        struct slot *sl = &f->slot[i];
        sl->rport = (uint16_t)(20000 + i);
        sl->lport = (uint16_t)(80 + (i & 1));
        sl->fd = -1;
        sl->peer_seq = 0xfffff000u * (uint32_t)(i & 1) + 1000u * (uint32_t)i; /* some near the wrap */
        sl->ts = 0x7ffffff0u * (uint32_t)(i & 2);
    }
    for (int ops = 0; ops < MAX_OPS && f->n > 0; ops++) {
        uint8_t op = get8(f);
        struct slot *sl = &f->slot[(op >> 4) % NSLOT];
        switch (op & 15) {
        case 0: case 1: case 2: op_segment(f, sl, false); break;
        case 3: case 4: op_segment(f, sl, true); break;
        case 5: op_handshake(f, sl); break;
        case 6: op_icmp(f, sl); break;
        case 7: case 8: op_time(f); break;
        default: op_call(f, sl); break;
        }
        check(f, "operation");
    }
    synack_stack_free(f->s);
    free(f);
    return 0;
}
