/* synack script: packets.  Inbound lines are built into IPv4 datagrams and
 * given to the stack; outbound packets are decoded, mapped into the script's
 * number space and compared with the `>` lines, the way packetdrill's
 * run_packet.c does:
 *   - sequence numbers of synack's side are relative to its ISN (learned from
 *     the first SYN or SYN-ACK it sends); the remote side's are absolute;
 *   - an inbound `ack` and SACK blocks are relative to synack's ISN;
 *   - an outbound TS val is not checked (it is synack's clock); an inbound
 *     TS ecr is translated to the synack TS val it stands for.
 */
#include "script_int.h"

#include <stdlib.h>
#include <string.h>

#include "synack/wire.h"

#define INBOUND_TTL 64

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static struct sn_conn *conn_find(struct sn_runner *r, uint16_t lport, uint16_t rport)
{
    for (size_t i = 0; i < r->nconns; i++)
        if (r->conns[i].lport == lport && r->conns[i].rport == rport)
            return &r->conns[i];
    return NULL;
}

/* A new connection's SYN: a fresh mapping (the oldest one goes when full). */
static struct sn_conn *conn_start(struct sn_runner *r, uint16_t lport, uint16_t rport)
{
    struct sn_conn *c = conn_find(r, lport, rport);
    if (c == NULL) {
        c = &r->conns[r->connnext];
        r->connnext = (r->connnext + 1) % SN_CONN_CAP;
        if (r->nconns < SN_CONN_CAP)
            r->nconns++;
    }
    memset(c, 0, sizeof(*c));
    c->lport = lport;
    c->rport = rport;
    return c;
}

/* script seq + offset = synack's seq (0 before synack sent a SYN) */
static uint32_t local_offset(const struct sn_conn *c)
{
    return c ? c->live_isn - c->script_isn : 0;
}

static const struct sn_tcp_opt *find_opt(const struct sn_tcp_opt *o, size_t n, uint8_t kind)
{
    for (size_t i = 0; i < n; i++)
        if (o[i].kind == kind)
            return &o[i];
    return NULL;
}

/* ---- inbound ------------------------------------------------------------------ */

/* The synack TS val that a script's TS ecr stands for: the one recorded for
 * that script TS val, else the script's distance from the latest recorded
 * pair applied to synack's clock, else synack's latest TS val
 * (packetdrill: map_inbound_packet). */
static uint32_t map_ecr(const struct sn_conn *c, uint32_t ecr)
{
    if (c == NULL)
        return ecr;
    for (size_t i = 0; i < c->ntsmap; i++) {
        size_t k = (c->tsnext + SN_TSMAP_CAP - 1 - i) % SN_TSMAP_CAP;   /* newest first */
        if (c->tsmap[k].script == ecr)
            return c->tsmap[k].live;
    }
    if (c->have_ts_pair)
        return c->pair_live_ts + (ecr - c->pair_script_ts);
    return c->have_live_ts ? c->last_live_ts : ecr;
}

/* Writes the options as the script lists them (the parser checked that
 * they fill whole 32-bit words); returns their length. */
static size_t encode_opts(const struct sn_runner *r, const struct sn_conn *c,
                          const struct sn_packet *p, uint8_t *o)
{
    size_t n = 0;
    uint32_t off = local_offset(c);
    for (size_t i = 0; i < p->nopts; i++) {
        const struct sn_tcp_opt *t = &p->opts[i];
        o[n] = t->kind;
        if (t->len > 1)
            o[n + 1] = t->len;
        if (t->raw) { /* as written, whatever the kind says its length should be */
            memcpy(o + n + 2, t->md5, (size_t)t->len - 2);
            n += t->len;
            continue;
        }
        switch (t->kind) {
        case SYNACK_TCPOPT_MSS:
            put16(o + n + 2, (uint16_t)t->v1);
            break;
        case SYNACK_TCPOPT_WSCALE:
            o[n + 2] = (uint8_t)t->v1;
            break;
        case SYNACK_TCPOPT_TIMESTAMP:
            put32(o + n + 2, t->v1 + r->wrap_ts);
            put32(o + n + 6, (p->flags & SYNACK_TH_ACK) && !t->abs ? map_ecr(c, t->v2) : t->v2);
            break;
        case SN_TCPOPT_MD5:
            memcpy(o + n + 2, t->md5, sizeof(t->md5));
            break;
        case SYNACK_TCPOPT_SACK:
            for (unsigned b = 0; b < t->nsack; b++) {
                put32(o + n + 2 + 8 * b, t->sack[b][0] + (t->abs ? 0 : off));
                put32(o + n + 6 + 8 * b, t->sack[b][1] + (t->abs ? 0 : off));
            }
            break;
        default:
            break;
        }
        n += t->len;
    }
    return n;
}

/* Builds an ICMP message from the peer at r->pkt + 20: the type and code,
 * the RFC 1191 MTU, and for errors the quote of synack's segment on the
 * connection under test (its IPv4 header and first 8 TCP bytes, RFC 792).
 * Returns the ICMP length or -1. */
static int build_icmp(struct sn_runner *r, const struct sn_event *ev, const struct sn_conn *c)
{
    const struct sn_icmp *ic = &ev->u.pkt.icmp;
    uint8_t quote[SYNACK_IPV4_HDR_MIN + 8];
    size_t qlen = 0;
    if (ic->type != SYNACK_ICMP_ECHO_REQUEST && ic->type != SYNACK_ICMP_ECHO_REPLY) {
        struct synack_ipv4_hdr q = {
            .total_len = (uint16_t)(SYNACK_IPV4_HDR_MIN + SYNACK_TCP_HDR_MIN + ic->quote_len),
            .flags = SYNACK_IPV4_DF, .ttl = 64, .proto = SYNACK_IPPROTO_TCP,
            .src = r->sc->local_ip, .dst = r->sc->remote_ip,
        };
        if (synack_ipv4_emit(quote, sizeof(quote), &q) != SYNACK_IPV4_HDR_MIN) {
            sn_fail(r, ev->line, "cannot build the IPv4 header an ICMP error quotes");
            return -1;
        }
        put16(quote + 20, r->lport);
        put16(quote + 22, r->rport);
        /* synack's sequence number, named as on `>` lines (relative to its ISN) */
        put32(quote + 24, ic->quote_seq + (ic->quote_abs ? 0 : local_offset(c)));
        qlen = sizeof(quote);
    }
    struct synack_icmp_hdr h = {.type = ic->type, .code = ic->code, .mtu = ic->mtu,
                                .data = quote, .data_len = qlen};
    int n = synack_icmp_emit(r->pkt + SYNACK_IPV4_HDR_MIN, sizeof(r->pkt) - SYNACK_IPV4_HDR_MIN, &h);
    if (n < 0) {
        sn_fail(r, ev->line, "cannot build the ICMP message");
        return -1;
    }
    return n;
}

/* Builds the TCP segment of an inbound line at r->pkt + 20; returns its length or -1. */
static long build_tcp(struct sn_runner *r, const struct sn_event *ev, const struct sn_conn *c,
                      uint16_t sport, uint16_t dport)
{
    const struct sn_packet *p = &ev->u.pkt;
    const struct sn_script *sc = r->sc;
    uint8_t opts[SN_TCP_OPT_SPACE];
    size_t olen = p->opts_mode == SN_OPTS_LIST ? encode_opts(r, c, p, opts) : 0;
    size_t tcplen = SYNACK_TCP_HDR_MIN + olen + p->len;
    if (SYNACK_IPV4_HDR_MIN + tcplen > 65535) {
        sn_fail(r, ev->line, "inbound packet of %zu bytes does not fit in an IPv4 datagram",
                SYNACK_IPV4_HDR_MIN + tcplen);
        return -1;
    }
    uint8_t *tcp = r->pkt + SYNACK_IPV4_HDR_MIN;
    memset(tcp, 0, tcplen);   /* the payload is zeros */
    put16(tcp, sport);
    put16(tcp + 2, dport);
    put32(tcp + 4, p->seq + (p->seq_abs ? 0 : r->wrap_seq));
    put32(tcp + 8, p->ack + ((p->flags & SYNACK_TH_ACK) && !p->ack_abs ? local_offset(c) : 0));
    tcp[12] = (uint8_t)(((SYNACK_TCP_HDR_MIN + olen) / 4) << 4);
    tcp[13] = p->flags;
    put16(tcp + 14, p->win);
    put16(tcp + 18, p->urg);
    memcpy(tcp + SYNACK_TCP_HDR_MIN, opts, olen);
    uint32_t sum =
        synack_csum_pseudo(sc->remote_ip, sc->local_ip, SYNACK_IPPROTO_TCP, (uint16_t)tcplen);
    put16(tcp + 16, synack_csum_fold(synack_csum_partial(tcp, tcplen, sum)));
    return (long)tcplen;
}

int sn_packet_inject(struct sn_runner *r, const struct sn_event *ev)
{
    const struct sn_packet *p = &ev->u.pkt;
    const struct sn_script *sc = r->sc;
    if (!p->is_icmp && p->has_ports && (p->flags & SYNACK_TH_SYN)) {
        /* a SYN from explicit ports starts the connection under test */
        r->rport = p->sport;
        r->lport = p->dport;
    }
    uint16_t sport = p->has_ports ? p->sport : r->rport, dport = p->has_ports ? p->dport : r->lport;
    const struct sn_conn *c = p->is_icmp ? conn_find(r, r->lport, r->rport) : conn_find(r, dport, sport);
    long plen = p->is_icmp ? build_icmp(r, ev, c) : build_tcp(r, ev, c, sport, dport);
    if (plen < 0)
        return -1;
    size_t total = SYNACK_IPV4_HDR_MIN + (size_t)plen;
    struct synack_ipv4_hdr ip = {
        .tos = p->tos_check == SN_TOS_NONE ? 0 : p->tos,
        .total_len = (uint16_t)total,
        .id = r->ip_id++,
        .flags = SYNACK_IPV4_DF,
        .ttl = p->has_ttl ? p->ttl : INBOUND_TTL,
        .proto = p->is_icmp ? SYNACK_IPPROTO_ICMP : SYNACK_IPPROTO_TCP,
        .src = sc->remote_ip,
        .dst = sc->local_ip,
    };
    if (synack_ipv4_emit(r->pkt, SYNACK_IPV4_HDR_MIN, &ip) != SYNACK_IPV4_HDR_MIN) {
        sn_fail(r, ev->line, "cannot build the IPv4 header of an inbound packet");
        return -1;
    }
    char text[512];
    sn_packet_render(p, text, sizeof(text));
    int rc = synack_stack_input(r->stack, r->pkt, total, r->now);
    if (rc < 0)
        sn_trace(r, "%s   (synack dropped it: %s)", text, synack_strerror(rc));
    else
        sn_trace(r, "%s", text);
    if (!p->is_icmp && (p->flags & SYNACK_TH_SYN))
        sn_trace(r, "(the peer's sequence number on the wire: %u)",
                 (unsigned)(p->seq + (p->seq_abs ? 0 : r->wrap_seq)));
    return 0;
}

/* ---- outbound ----------------------------------------------------------------- */

/* An outbound packet decoded into the script's terms. */
struct actual {
    synack_time_t t;
    bool tcp;                 /* false: bad[] says what it is */
    char bad[128];
    uint32_t src, dst;
    uint32_t live_seq, live_ack;  /* as sent */
    uint8_t ttl;
    bool icmp;                /* an ICMP message: icmp_* say which */
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_mtu;
    uint8_t reserved;         /* the header's reserved bits (must be zero) */
    unsigned segments;        /* packets merged into this one */
    struct sn_packet p;       /* seq relative to synack's ISN, every field present */
    struct sn_tcp_opt opts[SN_TCP_OPT_SPACE];
    struct sn_tcp_opt raw_opts[SN_TCP_OPT_SPACE];   /* unmapped, for values written with '!' */
};

/* Options exactly as on the wire, up to and including an EOL. */
static uint8_t walk_opts(const uint8_t *o, size_t n, struct sn_tcp_opt *out)
{
    uint8_t k = 0;
    for (size_t i = 0; i < n && k < SN_TCP_OPT_SPACE;) {
        struct sn_tcp_opt x = {.kind = o[i], .len = 1};
        if (x.kind == SYNACK_TCPOPT_EOL || x.kind == SYNACK_TCPOPT_NOP) {
            out[k++] = x;
            if (x.kind == SYNACK_TCPOPT_EOL)
                break;
            i++;
            continue;
        }
        if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
            break;   /* the wire parser has refused such a header already */
        x.len = o[i + 1];
        const uint8_t *v = o + i + 2;
        if (x.kind == SYNACK_TCPOPT_MSS && x.len == 4) {
            x.v1 = get16(v);
        } else if (x.kind == SYNACK_TCPOPT_WSCALE && x.len == 3) {
            x.v1 = v[0];
        } else if (x.kind == SYNACK_TCPOPT_TIMESTAMP && x.len == 10) {
            x.v1 = get32(v);
            x.v2 = get32(v + 4);
        } else if (x.kind == SYNACK_TCPOPT_SACK) {
            x.nsack = (uint8_t)((x.len - 2) / 8 > 4 ? 4 : (x.len - 2) / 8);
            for (unsigned b = 0; b < x.nsack; b++) {
                x.sack[b][0] = get32(v + 8 * b);
                x.sack[b][1] = get32(v + 8 * b + 4);
            }
        }
        out[k++] = x;
        i += x.len;
    }
    return k;
}

static void decode(struct sn_runner *r, const struct sn_out_pkt *o, struct actual *a)
{
    memset(a, 0, sizeof(*a));
    a->t = o->t;
    a->segments = 1;
    struct synack_ipv4_hdr ip;
    int rc = synack_ipv4_parse(o->data, o->len, &ip);
    if (rc < 0) {
        snprintf(a->bad, sizeof(a->bad), "a malformed IPv4 packet of %zu bytes (%s)", o->len,
                 synack_wire_strerror(rc));
        return;
    }
    a->src = ip.src;
    a->dst = ip.dst;
    a->ttl = ip.ttl;
    if (ip.proto != SYNACK_IPPROTO_TCP) {
        struct synack_icmp_hdr ic;
        if (ip.proto == SYNACK_IPPROTO_ICMP &&
            synack_icmp_parse(ip.payload, ip.payload_len, &ic) == 0) {
            a->icmp = true;
            a->icmp_type = ic.type;
            a->icmp_code = ic.code;
            a->icmp_mtu = ic.mtu;
            snprintf(a->bad, sizeof(a->bad), "an ICMP message, type %u code %u", ic.type, ic.code);
        } else
            snprintf(a->bad, sizeof(a->bad), "an IP packet of protocol %u", ip.proto);
        return;
    }
    struct synack_tcp_hdr th;
    if ((rc = synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &th)) < 0) {
        snprintf(a->bad, sizeof(a->bad), "a malformed TCP segment (%s)", synack_wire_strerror(rc));
        return;
    }
    a->tcp = true;
    a->live_seq = th.seq;
    a->live_ack = th.ack;
    a->reserved = th.reserved;
    struct sn_packet *p = &a->p;
    p->outbound = true;
    p->tos = ip.tos;
    p->sport = th.sport;
    p->dport = th.dport;
    p->flags = th.flags;
    p->seq = th.seq - local_offset(conn_find(r, th.sport, th.dport));
    p->len = (uint32_t)th.payload_len;
    p->has_ack = (th.flags & SYNACK_TH_ACK) != 0;
    /* The peer's numbers back into the script's space (--wrap moved them). */
    p->ack = p->has_ack ? th.ack - r->wrap_seq : th.ack;
    p->has_win = true;
    p->win = th.window;
    p->has_urg = (th.flags & SYNACK_TH_URG) || th.urg_ptr;
    p->urg = th.urg_ptr;
    p->nopts = walk_opts(ip.payload + SYNACK_TCP_HDR_MIN, th.doff - SYNACK_TCP_HDR_MIN, a->opts);
    memcpy(a->raw_opts, a->opts, sizeof(a->opts[0]) * p->nopts);
    for (uint8_t i = 0; i < p->nopts; i++) {
        struct sn_tcp_opt *t = &a->opts[i];
        if (t->kind == SYNACK_TCPOPT_TIMESTAMP && p->has_ack)
            t->v2 -= r->wrap_ts;   /* the echo of a peer TS val */
        for (unsigned b = 0; t->kind == SYNACK_TCPOPT_SACK && b < t->nsack; b++) {
            t->sack[b][0] -= r->wrap_seq;
            t->sack[b][1] -= r->wrap_seq;
        }
    }
    p->opts = a->opts;
    p->opts_mode = p->nopts ? SN_OPTS_LIST : SN_OPTS_NONE;
}

static void queue_pop(struct sn_runner *r)
{
    free(r->q[r->qhead].data);
    r->q[r->qhead].data = NULL;
    r->qhead = (r->qhead + 1) % SN_QUEUE_CAP;
    r->qlen--;
}

/* Renders an actual packet: time and packetdrill line, or what it is. */
static void render_actual(const struct actual *a, const struct sn_packet *expected, bool show_ports,
                          char *buf, size_t cap)
{
    char t[32], line[512];
    if (!a->tcp) {
        snprintf(buf, cap, "%s %s", sn_time_str(a->t, t), a->bad);
        return;
    }
    struct sn_packet p = a->p;
    p.tos_check =
        (expected && expected->tos_check != SN_TOS_NONE) || (p.tos & 3) ? SN_TOS_ECN : SN_TOS_NONE;
    if (expected && expected->tos_check == SN_TOS_FULL)
        p.tos_check = SN_TOS_FULL;
    p.tos = p.tos_check == SN_TOS_ECN ? (uint8_t)(p.tos & 3) : p.tos;
    p.has_ports = show_ports;
    sn_packet_render(&p, line, sizeof(line));
    snprintf(buf, cap, "%s %s%s", sn_time_str(a->t, t), line,
             a->segments > 1 ? "   (segments merged)" : "");
}

static bool opt_equal(const struct sn_tcp_opt *e, const struct sn_tcp_opt *a,
                      const struct sn_tcp_opt *raw)
{
    if (e->abs)
        a = raw;   /* written with '!': compared with the value on the wire */
    if (e->kind != a->kind || e->len != a->len)
        return false;
    switch (e->kind) {
    case SYNACK_TCPOPT_MSS:
    case SYNACK_TCPOPT_WSCALE:
        return e->v1 == a->v1;
    case SYNACK_TCPOPT_TIMESTAMP:
        return e->v2 == a->v2;   /* TS val is synack's clock: not checked */
    case SYNACK_TCPOPT_SACK:
        return e->nsack == a->nsack && memcmp(e->sack, a->sack, sizeof(e->sack[0]) * e->nsack) == 0;
    case SN_TCPOPT_MD5:
        return false;   /* synack never signs (RFC 2385 is not implemented) */
    default:
        return true;
    }
}

/* Lists up to and including the first EOL must match one for one. */
static bool opts_equal(const struct sn_packet *e, const struct sn_packet *a,
                       const struct sn_tcp_opt *raw)
{
    size_t i = 0;
    for (; i < e->nopts && i < a->nopts; i++) {
        if (!opt_equal(&e->opts[i], &a->opts[i], &raw[i]))
            return false;
        if (e->opts[i].kind == SYNACK_TCPOPT_EOL)
            return true;
    }
    return i == e->nopts && i == a->nopts;
}

static void add_diff(char *buf, size_t cap, const char *what)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", what);
}

/* Names the fields in which `a` differs from `e` into buf; empty if none. */
static void compare(const struct sn_runner *r, const struct sn_packet *e, const struct actual *a,
                    char *buf, size_t cap, bool *ports_differ)
{
    const struct sn_packet *p = &a->p;
    buf[0] = '\0';
    uint16_t sport = e->has_ports ? e->sport : r->lport;
    uint16_t dport = e->has_ports ? e->dport : r->rport;
    *ports_differ = (sport && p->sport != sport) || (dport && p->dport != dport);
    if (a->src != r->sc->local_ip || a->dst != r->sc->remote_ip)
        add_diff(buf, cap, "IP addresses");
    if (*ports_differ)
        add_diff(buf, cap, "ports");
    uint8_t ecn = p->tos & 3;
    if ((e->tos_check == SN_TOS_ECN && ecn != e->tos) ||
        (e->tos_check == SN_TOS_ECT01 && ecn != 1 && ecn != 2) ||
        (e->tos_check == SN_TOS_FULL && p->tos != e->tos))
        add_diff(buf, cap, e->tos_check == SN_TOS_FULL ? "TOS" : "ECN");
    if (p->flags != e->flags)
        add_diff(buf, cap, "flags");
    if (a->reserved)
        add_diff(buf, cap, "reserved bits");
    if (e->has_ttl && a->ttl != e->ttl)
        add_diff(buf, cap, "TTL");
    if ((e->seq_abs ? a->live_seq : p->seq) != e->seq)
        add_diff(buf, cap, "seq");
    if (p->len != e->len)
        add_diff(buf, cap, "length");
    if ((p->flags & SYNACK_TH_ACK) && (e->ack_abs ? a->live_ack : p->ack) != e->ack)
        add_diff(buf, cap, "ack");
    if (e->has_win && p->win != e->win)
        add_diff(buf, cap, "win");
    if (((p->flags | e->flags) & SYNACK_TH_URG) && p->urg != e->urg)
        add_diff(buf, cap, "urg");
    if ((e->opts_mode == SN_OPTS_NONE && p->nopts > 0) ||
        (e->opts_mode == SN_OPTS_LIST && !opts_equal(e, p, a->raw_opts)))
        add_diff(buf, cap, "options");
}

/* After a match: learn the tuple and the TS clock mapping. */
static void learn(struct sn_runner *r, const struct sn_packet *e, const struct actual *a)
{
    if (a->p.flags & SYNACK_TH_SYN) {
        r->lport = a->p.sport;
        r->rport = a->p.dport;
    }
    struct sn_conn *c = conn_find(r, a->p.sport, a->p.dport);
    const struct sn_tcp_opt *at = find_opt(a->opts, a->p.nopts, SYNACK_TCPOPT_TIMESTAMP);
    if (c == NULL || at == NULL)
        return;
    c->have_live_ts = true;
    c->last_live_ts = at->v1;
    const struct sn_tcp_opt *et =
        e->opts_mode == SN_OPTS_LIST ? find_opt(e->opts, e->nopts, SYNACK_TCPOPT_TIMESTAMP) : NULL;
    if (et == NULL)
        return;
    c->tsmap[c->tsnext].script = et->v1;
    c->tsmap[c->tsnext].live = at->v1;
    c->tsnext = (c->tsnext + 1) % SN_TSMAP_CAP;
    if (c->ntsmap < SN_TSMAP_CAP)
        c->ntsmap++;
    c->have_ts_pair = true;
    c->pair_script_ts = et->v1;
    c->pair_live_ts = at->v1;
}

/* Waits (in virtual time, up to hi) until a packet is queued.  1: there is
 * one; 0: none by hi; -1: failure. */
static int wait_packet(struct sn_runner *r, synack_time_t hi)
{
    while (r->qlen == 0) {
        int x = sn_run_next(r, hi);
        if (x <= 0)
            return x;
    }
    return 1;
}

/* packetdrill matches one script packet with several consecutive segments
 * when the stack used TSO; synack has no TSO but may split what a Linux
 * script expects in one packet, so contiguous segments are merged while the
 * script's length is not reached. */
static int merge_segments(struct sn_runner *r, const struct sn_packet *e, struct actual *a,
                          synack_time_t hi)
{
    if (!a->tcp || a->p.len == 0 || a->p.len >= e->len || a->p.seq != e->seq ||
        (a->p.flags & (SYNACK_TH_SYN | SYNACK_TH_RST)))
        return 0;
    while (a->p.len < e->len) {
        int x = wait_packet(r, hi);
        if (x <= 0)
            return x;
        struct actual b;
        decode(r, &r->q[r->qhead], &b);
        if (!b.tcp || (b.p.flags & (SYNACK_TH_SYN | SYNACK_TH_RST)) ||
            b.live_seq != a->live_seq + a->p.len ||
            (b.p.flags & SYNACK_TH_ACK) != (a->p.flags & SYNACK_TH_ACK) ||
            a->p.len + b.p.len > e->len)
            return 0;
        queue_pop(r);
        a->p.len += b.p.len;
        a->p.flags = (uint8_t)((a->p.flags & ~(SYNACK_TH_FIN | SYNACK_TH_PSH)) |
                               (b.p.flags & (SYNACK_TH_FIN | SYNACK_TH_PSH)));
        a->p.ack = b.p.ack;
        a->p.win = b.p.win;
        a->segments++;
    }
    return 0;
}

/* The packet matched; was it sent within [lo, hi]?  Returns 0 or -1 (failure recorded). */
static int check_time(struct sn_runner *r, const struct sn_event *ev, synack_time_t sent,
                      synack_time_t lo, synack_time_t hi, const char *when, const char *act)
{
    if (sent >= lo && sent <= hi)
        return 0;
    char t[32];
    sn_fail(r, ev->line, "outbound packet too %s: expected %s, sent at %s",
            sent < lo ? "early" : "late", when, sn_time_str(sent, t));
    sn_fail(r, ev->line, "  actual   %s", act);
    return -1;
}

int sn_packet_expect(struct sn_runner *r, const struct sn_event *ev, synack_time_t lo,
                     synack_time_t hi, const char *when)
{
    const struct sn_packet *e = &ev->u.pkt;
    char exp[512], act[640], t[32], diff[128];
    sn_packet_render(e, exp, sizeof(exp));
    int x = wait_packet(r, hi);
    if (x < 0)
        return -1;
    if (x == 0) {
        sn_fail(r, ev->line, "expected an outbound packet %s; synack sent none by %s", when,
                sn_time_str(hi, t));
        sn_fail(r, ev->line, "  expected %s", exp);
        return -1;
    }
    struct actual a;
    decode(r, &r->q[r->qhead], &a);
    queue_pop(r);
    if (e->is_icmp) {
        /* An ICMP line: type, code, and the MTU and TTL when given. */
        render_actual(&a, e, false, act, sizeof(act));
        const struct sn_icmp *ic = &e->icmp;
        if (!a.icmp || a.icmp_type != ic->type || a.icmp_code != ic->code ||
            (ic->has_mtu && a.icmp_mtu != ic->mtu) || (e->has_ttl && a.ttl != e->ttl) ||
            a.src != r->sc->local_ip || a.dst != r->sc->remote_ip) {
            sn_fail(r, ev->line, "outbound packet differs (ICMP)");
            sn_fail(r, ev->line, "  expected %s", exp);
            sn_fail(r, ev->line, "  actual   %s", act);
            return -1;
        }
        if (check_time(r, ev, a.t, lo, hi, when, act) < 0)
            return -1;
        sn_trace(r, "%s", strchr(act, ' ') + 1);
        return 0;
    }
    if (a.tcp && (a.p.flags & SYNACK_TH_SYN)) {
        /* synack's ISN, and the script's name for it */
        struct sn_conn *c = conn_start(r, a.p.sport, a.p.dport);
        c->live_isn = a.live_seq;
        c->script_isn = e->seq;
        a.p.seq = e->seq;
        sn_trace(r, "(synack's ISN on the wire: %u)", (unsigned)a.live_seq);
    }
    if (merge_segments(r, e, &a, hi) < 0)
        return -1;
    bool ports_differ = false;
    if (a.tcp)
        compare(r, e, &a, diff, sizeof(diff), &ports_differ);
    render_actual(&a, e, e->has_ports || ports_differ, act, sizeof(act));
    if (!a.tcp || diff[0]) {
        sn_fail(r, ev->line, "outbound packet differs%s%s%s", a.tcp ? " (" : "", a.tcp ? diff : "",
                a.tcp ? ")" : "");
        sn_fail(r, ev->line, "  expected %s", exp);
        sn_fail(r, ev->line, "  actual   %s", act);
        return -1;
    }
    if (check_time(r, ev, a.t, lo, hi, when, act) < 0)
        return -1;
    learn(r, e, &a);
    sn_trace(r, "%s", strchr(act, ' ') + 1);
    return 0;
}

void sn_packet_ignore(struct sn_runner *r)
{
    struct actual a;
    char act[640];
    decode(r, &r->q[r->qhead], &a);
    queue_pop(r);
    render_actual(&a, NULL, false, act, sizeof(act));
    sn_trace(r, "%s   (ignored: after the last '>' line, --lenient-tail)", strchr(act, ' ') + 1);
}

int sn_packet_unexpected(struct sn_runner *r, int line, const char *when)
{
    struct actual a;
    char act[640];
    decode(r, &r->q[r->qhead], &a);
    queue_pop(r);
    render_actual(&a, NULL, false, act, sizeof(act));
    sn_fail(r, line, "unexpected outbound packet %s", when);
    sn_fail(r, line, "  actual   %s", act);
    return -1;
}
