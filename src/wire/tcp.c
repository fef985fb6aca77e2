/* TCP header codec: RFC 9293 section 3.1 (header, options), RFC 7323 (window
 * scale, timestamps), RFC 2018 (SACK). */
#include "synack/wire.h"
#include "wire/be.h"
#include "wire/csum_words.h"

#include <string.h>

#define OPTLEN_MSS 4
#define OPTLEN_WSCALE 3
#define OPTLEN_SACK_PERM 2
#define OPTLEN_TIMESTAMP 10
#define OPTLEN_SACK_BASE 2
#define OPTLEN_SACK_BLOCK 8

/* ---- parse ---------------------------------------------------------------- */

/* The body of one known option of `olen` bytes at p (kind, length, value). */
static int parse_known(const uint8_t *p, uint8_t olen, struct synack_tcp_opts *o)
{
    switch (p[0]) {
    case SYNACK_TCPOPT_MSS:
        if (olen != OPTLEN_MSS)
            return SYNACK_WIRE_EOPTVAL;
        o->mss = get16(p + 2);
        o->present |= SYNACK_TCPOPT_F_MSS;
        break;
    case SYNACK_TCPOPT_WSCALE:
        if (olen != OPTLEN_WSCALE)
            return SYNACK_WIRE_EOPTVAL;
        o->wscale = p[2];
        o->present |= SYNACK_TCPOPT_F_WSCALE;
        break;
    case SYNACK_TCPOPT_SACK_PERM:
        if (olen != OPTLEN_SACK_PERM)
            return SYNACK_WIRE_EOPTVAL;
        o->present |= SYNACK_TCPOPT_F_SACK_PERM;
        break;
    case SYNACK_TCPOPT_TIMESTAMP:
        if (olen != OPTLEN_TIMESTAMP)
            return SYNACK_WIRE_EOPTVAL;
        o->tsval = get32(p + 2);
        o->tsecr = get32(p + 6);
        o->present |= SYNACK_TCPOPT_F_TIMESTAMP;
        break;
    case SYNACK_TCPOPT_SACK: {
        /* RFC 2018 section 3: length 2 + 8n; n <= 4 always holds in 40 bytes. */
        unsigned n = (unsigned)(olen - OPTLEN_SACK_BASE) / OPTLEN_SACK_BLOCK;
        if ((olen - OPTLEN_SACK_BASE) % OPTLEN_SACK_BLOCK != 0 || n < 1 || n > SYNACK_TCP_MAX_SACK)
            return SYNACK_WIRE_EOPTVAL;
        for (unsigned i = 0; i < n; i++) {
            o->sack[i].left = get32(p + 2 + 8 * i);
            o->sack[i].right = get32(p + 6 + 8 * i);
        }
        o->nsack = (uint8_t)n;
        o->present |= SYNACK_TCPOPT_F_SACK;
        break;
    }
    default:   /* RFC 9293 3.2: unknown options are skipped by their length */
        break;
    }
    return SYNACK_WIRE_OK;
}

/* Options are the bytes [SYNACK_TCP_HDR_MIN, doff) of the header. */
/* lenient: read as a receiving host (Linux's tcp_parse_options): a known
 * option with an illegal length is ignored and the rest still read; a
 * length that cannot be (0, 1, past the header) ends the list. */
static int parse_opts(const uint8_t *p, size_t n, struct synack_tcp_opts *o, bool lenient)
{
    size_t i = 0;

    memset(o, 0, sizeof *o);
    /* The options of almost every segment after the handshake: NOP, NOP,
     * timestamps (RFC 7323 appendix A, Linux's "predicted" layout, which
     * synack sends too).  Read at once into what the loop below would make
     * of them (tests/unit/test_wire_tcp.c compares the two). */
    if (n == 12 && get32(p) == (SYNACK_TCPOPT_NOP << 24 | SYNACK_TCPOPT_NOP << 16 |
                                SYNACK_TCPOPT_TIMESTAMP << 8 | OPTLEN_TIMESTAMP)) {
        o->order[0] = SYNACK_TCPOPT_NOP;
        o->order[1] = SYNACK_TCPOPT_NOP;
        o->order[2] = SYNACK_TCPOPT_TIMESTAMP;
        o->norder = 3;
        o->tsval = get32(p + 4);
        o->tsecr = get32(p + 8);
        o->present = SYNACK_TCPOPT_F_TIMESTAMP;
        return SYNACK_WIRE_OK;
    }
    while (i < n) {
        uint8_t kind = p[i];
        int rc;

        o->order[o->norder++] = kind;   /* n <= 40 and each option takes >= 1 byte */
        if (kind == SYNACK_TCPOPT_EOL)
            break;
        if (kind == SYNACK_TCPOPT_NOP) {
            i++;
            continue;
        }
        /* RFC 9293 3.1 (MUST-7): be prepared for an illegal option length. */
        if (n - i < 2 || p[i + 1] < 2 || p[i + 1] > n - i)
            return lenient ? SYNACK_WIRE_OK : SYNACK_WIRE_EOPTLEN;
        rc = parse_known(p + i, p[i + 1], o);
        if (rc < 0 && !lenient)
            return rc;
        i += p[i + 1];
    }
    return SYNACK_WIRE_OK;
}

/* The checksum over the pseudo-header and the segment (RFC 9293 3.1); a
 * segment that is a header alone (half of a short connection's) is summed
 * in line as whole words. */
static uint16_t seg_csum(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst)
{
    uint32_t sum = synack_csum_pseudo(src, dst, SYNACK_IPPROTO_TCP, (uint16_t)len);
    if (len % 4 == 0 && len / 4 <= SN_CSUM_WORDS_MAX)
        return synack_csum_fold(sn_csum_words(buf, len / 4, sum));
    return synack_csum_fold(synack_csum_partial(buf, len, sum));
}

static int tcp_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst, bool verify_csum,
                     bool lenient, struct synack_tcp_hdr *h)
{
    size_t doff;
    int rc;

    if (len < SYNACK_TCP_HDR_MIN)
        return SYNACK_WIRE_ETRUNC;
    doff = (size_t)(buf[12] >> 4) * 4;
    if (doff < SYNACK_TCP_HDR_MIN)
        return SYNACK_WIRE_EHDRLEN;
    if (doff > len)
        return SYNACK_WIRE_ETRUNC;
    /* The pseudo-header's length field has 16 bits: a longer segment cannot
     * come from an IPv4 datagram and has no checksum to match. */
    if (verify_csum && (len > UINT16_MAX || seg_csum(buf, len, src, dst) != 0))
        return SYNACK_WIRE_ECSUM;
    rc = parse_opts(buf + SYNACK_TCP_HDR_MIN, doff - SYNACK_TCP_HDR_MIN, &h->opts, lenient);
    if (rc < 0)
        return rc;

    h->sport = get16(buf);
    h->dport = get16(buf + 2);
    h->seq = get32(buf + 4);
    h->ack = get32(buf + 8);
    h->doff = (uint8_t)doff;
    h->reserved = buf[12] & 0x0f;
    h->flags = buf[13];
    h->window = get16(buf + 14);
    h->checksum = get16(buf + 16);
    h->urg_ptr = get16(buf + 18);
    h->payload = buf + doff;
    h->payload_len = len - doff;
    return SYNACK_WIRE_OK;
}

int synack_tcp_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                     bool verify_csum, struct synack_tcp_hdr *h)
{
    return tcp_parse(buf, len, src, dst, verify_csum, false, h);
}

int synack_tcp_parse_input(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                           struct synack_tcp_hdr *h)
{
    return tcp_parse(buf, len, src, dst, true, true, h);
}

int synack_tcp_parse_input_nocsum(const uint8_t *buf, size_t len, struct synack_tcp_hdr *h)
{
    return tcp_parse(buf, len, 0, 0, false, true, h);
}

/* ---- emit ----------------------------------------------------------------- */

/* Appends bytes to a bounded option buffer; `len` runs past the end on
 * overflow so that the caller sees it once, at the end. */
struct optbuf {
    uint8_t b[SYNACK_TCP_OPT_MAX];
    size_t len;
};

static void ob_byte(struct optbuf *ob, uint8_t v)
{
    if (ob->len < sizeof ob->b)
        ob->b[ob->len] = v;
    ob->len++;
}

static void ob_16(struct optbuf *ob, uint16_t v)
{
    ob_byte(ob, (uint8_t)(v >> 8));
    ob_byte(ob, (uint8_t)v);
}

static void ob_32(struct optbuf *ob, uint32_t v)
{
    ob_16(ob, (uint16_t)(v >> 16));
    ob_16(ob, (uint16_t)v);
}

/* The SYNACK_TCPOPT_F_* bit of a kind that synack can emit, 0 for others. */
static uint32_t kind_flag(uint8_t kind)
{
    switch (kind) {
    case SYNACK_TCPOPT_MSS:       return SYNACK_TCPOPT_F_MSS;
    case SYNACK_TCPOPT_WSCALE:    return SYNACK_TCPOPT_F_WSCALE;
    case SYNACK_TCPOPT_SACK_PERM: return SYNACK_TCPOPT_F_SACK_PERM;
    case SYNACK_TCPOPT_SACK:      return SYNACK_TCPOPT_F_SACK;
    case SYNACK_TCPOPT_TIMESTAMP: return SYNACK_TCPOPT_F_TIMESTAMP;
    default:                      return 0;
    }
}

/* Writes one known option (kind, length, value).  EINVAL when `o` lacks it,
 * for an unknown kind (whose body parse did not keep) and for a SACK option
 * without 1..4 blocks. */
static int ob_option(struct optbuf *ob, uint8_t kind, const struct synack_tcp_opts *o)
{
    if (!(o->present & kind_flag(kind)))
        return SYNACK_WIRE_EINVAL;
    ob_byte(ob, kind);
    switch (kind) {
    case SYNACK_TCPOPT_MSS:
        ob_byte(ob, OPTLEN_MSS);
        ob_16(ob, o->mss);
        break;
    case SYNACK_TCPOPT_WSCALE:
        ob_byte(ob, OPTLEN_WSCALE);
        ob_byte(ob, o->wscale);
        break;
    case SYNACK_TCPOPT_SACK_PERM:
        ob_byte(ob, OPTLEN_SACK_PERM);
        break;
    case SYNACK_TCPOPT_TIMESTAMP:
        ob_byte(ob, OPTLEN_TIMESTAMP);
        ob_32(ob, o->tsval);
        ob_32(ob, o->tsecr);
        break;
    default:   /* SYNACK_TCPOPT_SACK */
        if (o->nsack < 1 || o->nsack > SYNACK_TCP_MAX_SACK)
            return SYNACK_WIRE_EINVAL;
        ob_byte(ob, (uint8_t)(OPTLEN_SACK_BASE + OPTLEN_SACK_BLOCK * o->nsack));
        for (unsigned i = 0; i < o->nsack; i++) {
            ob_32(ob, o->sack[i].left);
            ob_32(ob, o->sack[i].right);
        }
        break;
    }
    return SYNACK_WIRE_OK;
}

/* The kinds in o->order, as recorded; every present option must be there. */
static int build_ordered(struct optbuf *ob, const struct synack_tcp_opts *o)
{
    uint32_t seen = 0;

    if (o->norder > SYNACK_TCP_OPT_MAX)
        return SYNACK_WIRE_EINVAL;
    for (unsigned i = 0; i < o->norder; i++) {
        uint8_t kind = o->order[i];
        int rc;

        if (kind == SYNACK_TCPOPT_EOL || kind == SYNACK_TCPOPT_NOP) {
            /* Anything after an EOL would be ignored by the receiver (RFC 9293 3.1). */
            if (kind == SYNACK_TCPOPT_EOL && i + 1 != o->norder)
                return SYNACK_WIRE_EINVAL;
            ob_byte(ob, kind);
            continue;
        }
        rc = ob_option(ob, kind, o);
        if (rc < 0)
            return rc;
        seen |= kind_flag(kind);
    }
    /* A present option missing from the order would be silently dropped. */
    return (o->present & ~seen) ? SYNACK_WIRE_EINVAL : SYNACK_WIRE_OK;
}

/* Linux's layout (tcp_options_write): each option aligned on 4 bytes by NOPs
 * placed before it, sackOK sharing its word with the timestamp's header. */
static int build_linux(struct optbuf *ob, const struct synack_tcp_opts *o)
{
    if (o->present & ~(SYNACK_TCPOPT_F_MSS | SYNACK_TCPOPT_F_WSCALE | SYNACK_TCPOPT_F_SACK_PERM |
                       SYNACK_TCPOPT_F_SACK | SYNACK_TCPOPT_F_TIMESTAMP))
        return SYNACK_WIRE_EINVAL;
    if (o->present & SYNACK_TCPOPT_F_MSS)
        ob_option(ob, SYNACK_TCPOPT_MSS, o);
    if (o->present & SYNACK_TCPOPT_F_TIMESTAMP) {
        if (o->present & SYNACK_TCPOPT_F_SACK_PERM) {
            ob_option(ob, SYNACK_TCPOPT_SACK_PERM, o);
        } else {
            ob_byte(ob, SYNACK_TCPOPT_NOP);
            ob_byte(ob, SYNACK_TCPOPT_NOP);
        }
        ob_option(ob, SYNACK_TCPOPT_TIMESTAMP, o);
    } else if (o->present & SYNACK_TCPOPT_F_SACK_PERM) {
        ob_byte(ob, SYNACK_TCPOPT_NOP);
        ob_byte(ob, SYNACK_TCPOPT_NOP);
        ob_option(ob, SYNACK_TCPOPT_SACK_PERM, o);
    }
    if (o->present & SYNACK_TCPOPT_F_WSCALE) {
        ob_byte(ob, SYNACK_TCPOPT_NOP);
        ob_option(ob, SYNACK_TCPOPT_WSCALE, o);
    }
    if (o->present & SYNACK_TCPOPT_F_SACK) {
        ob_byte(ob, SYNACK_TCPOPT_NOP);
        ob_byte(ob, SYNACK_TCPOPT_NOP);
        return ob_option(ob, SYNACK_TCPOPT_SACK, o);   /* EINVAL for nsack out of 1..4 */
    }
    return SYNACK_WIRE_OK;
}

/* Builds the options into ob->b; returns their length (a multiple of 4) or EINVAL. */
static int build_opts(struct optbuf *ob, const struct synack_tcp_opts *o)
{
    int rc;

    ob->len = 0;
    rc = o->norder > 0 ? build_ordered(ob, o) : build_linux(ob, o);
    if (rc < 0)
        return rc;
    /* RFC 9293 3.1: the header ends on a 32-bit boundary, padded with zeros (EOL). */
    while (ob->len % 4 != 0)
        ob_byte(ob, SYNACK_TCPOPT_EOL);
    if (ob->len > SYNACK_TCP_OPT_MAX)
        return SYNACK_WIRE_EINVAL;
    return (int)ob->len;
}

int synack_tcp_opts_len(const struct synack_tcp_opts *o)
{
    struct optbuf ob;
    return build_opts(&ob, o);
}

int synack_tcp_emit_opts(uint8_t *buf, size_t cap, const struct synack_tcp_opts *o)
{
    struct optbuf ob;
    int n = build_opts(&ob, o);

    if (n < 0)
        return n;
    if (cap < (size_t)n)
        return SYNACK_WIRE_ENOSPC;
    memcpy(buf, ob.b, (size_t)n);
    return n;
}

/* The options synack sends (no SACK blocks, no recorded order) in Linux's
 * layout, as build_linux lays them out, written straight into the header:
 * the SYN's MSS, sackOK, timestamps and window scale, and the NOP, NOP,
 * timestamps of almost every later segment (RFC 7323 appendix A).  The
 * length (0..24), or -1 for options that need the general builder.
 * tests/unit/test_wire_tcp.c compares the bytes with build_opts'. */
#define SIMPLE_OPTS (SYNACK_TCPOPT_F_MSS | SYNACK_TCPOPT_F_WSCALE | SYNACK_TCPOPT_F_SACK_PERM | \
                     SYNACK_TCPOPT_F_TIMESTAMP)

static int simple_opts_len(const struct synack_tcp_opts *o)
{
    if (o->norder != 0 || (o->present & ~(uint32_t)SIMPLE_OPTS))
        return -1;
    return ((o->present & SYNACK_TCPOPT_F_MSS) ? 4 : 0) +
           ((o->present & SYNACK_TCPOPT_F_TIMESTAMP)   ? 12
            : (o->present & SYNACK_TCPOPT_F_SACK_PERM) ? 4
                                                        : 0) +
           ((o->present & SYNACK_TCPOPT_F_WSCALE) ? 4 : 0);
}

static void simple_opts_write(uint8_t *p, const struct synack_tcp_opts *o)
{
    if (o->present & SYNACK_TCPOPT_F_MSS) {
        p[0] = SYNACK_TCPOPT_MSS;
        p[1] = OPTLEN_MSS;
        put16(p + 2, o->mss);
        p += 4;
    }
    if (o->present & SYNACK_TCPOPT_F_TIMESTAMP) {
        /* sackOK shares the timestamp's word, in place of two NOPs. */
        bool sp = (o->present & SYNACK_TCPOPT_F_SACK_PERM) != 0;
        p[0] = sp ? SYNACK_TCPOPT_SACK_PERM : SYNACK_TCPOPT_NOP;
        p[1] = sp ? OPTLEN_SACK_PERM : SYNACK_TCPOPT_NOP;
        p[2] = SYNACK_TCPOPT_TIMESTAMP;
        p[3] = OPTLEN_TIMESTAMP;
        put32(p + 4, o->tsval);
        put32(p + 8, o->tsecr);
        p += 12;
    } else if (o->present & SYNACK_TCPOPT_F_SACK_PERM) {
        p[0] = SYNACK_TCPOPT_NOP;
        p[1] = SYNACK_TCPOPT_NOP;
        p[2] = SYNACK_TCPOPT_SACK_PERM;
        p[3] = OPTLEN_SACK_PERM;
        p += 4;
    }
    if (o->present & SYNACK_TCPOPT_F_WSCALE) {
        p[0] = SYNACK_TCPOPT_NOP;
        p[1] = SYNACK_TCPOPT_WSCALE;
        p[2] = OPTLEN_WSCALE;
        p[3] = o->wscale;
    }
}

int synack_tcp_emit_hdr(uint8_t *buf, size_t cap, const struct synack_tcp_hdr *h)
{
    struct optbuf ob;
    int optlen;
    size_t doff;

    if (h->reserved > 0x0f)
        return SYNACK_WIRE_EINVAL;
    int simple = simple_opts_len(&h->opts);
    if (simple >= 0) {
        optlen = simple;
    } else {
        optlen = build_opts(&ob, &h->opts);
        if (optlen < 0)
            return optlen;
    }
    doff = SYNACK_TCP_HDR_MIN + (size_t)optlen;
    /* The pseudo-header carries the segment length in 16 bits. */
    if (h->payload_len > UINT16_MAX - doff)
        return SYNACK_WIRE_EINVAL;
    if (cap < doff + h->payload_len)
        return SYNACK_WIRE_ENOSPC;
    put16(buf, h->sport);
    put16(buf + 2, h->dport);
    put32(buf + 4, h->seq);
    put32(buf + 8, h->ack);
    buf[12] = (uint8_t)(doff / 4 << 4 | h->reserved);
    buf[13] = h->flags;
    put16(buf + 14, h->window);
    put16(buf + 16, 0);
    put16(buf + 18, h->urg_ptr);
    if (simple > 0)
        simple_opts_write(buf + SYNACK_TCP_HDR_MIN, &h->opts);
    else if (simple < 0 && optlen > 0)
        memcpy(buf + SYNACK_TCP_HDR_MIN, ob.b, (size_t)optlen);
    return (int)doff;
}

int synack_tcp_emit(uint8_t *buf, size_t cap, const struct synack_tcp_hdr *h,
                    uint32_t src, uint32_t dst)
{
    if (h->payload_len == 0) {
        /* A header alone (SYN-ACKs, RSTs): built in place, summed in line. */
        int doff = synack_tcp_emit_hdr(buf, cap, h);
        if (doff < 0)
            return doff;
        uint32_t sum = synack_csum_pseudo(src, dst, SYNACK_IPPROTO_TCP, (uint16_t)doff);
        put16(buf + 16, synack_csum_fold(sn_csum_words(buf, (size_t)doff / 4, sum)));
        return doff;
    }
    uint8_t hdr[SYNACK_TCP_HDR_MIN + SYNACK_TCP_OPT_MAX];
    /* The header is built aside first: the payload's source may overlap
     * where the header goes, and is moved before the header is written. */
    int doff = synack_tcp_emit_hdr(hdr, sizeof(hdr) + h->payload_len, h);
    if (doff < 0)
        return doff;
    size_t total = (size_t)doff + h->payload_len;
    if (cap < total)
        return SYNACK_WIRE_ENOSPC;
    if (h->payload_len > 0 && h->payload != buf + doff)
        memmove(buf + doff, h->payload, h->payload_len);
    memcpy(buf, hdr, (size_t)doff);
    put16(buf + 16, synack_csum_fold(synack_csum_partial(
                        buf, total, synack_csum_pseudo(src, dst, SYNACK_IPPROTO_TCP, (uint16_t)total))));
    return (int)total;
}

/* tcpdump's letters, in its order (print-tcp.c tcp_flag_values). */
const char *synack_tcp_flags_str(uint8_t flags, char buf[16])
{
    static const struct { uint8_t bit; char c; } map[] = {
        {SYNACK_TH_FIN, 'F'}, {SYNACK_TH_SYN, 'S'}, {SYNACK_TH_RST, 'R'}, {SYNACK_TH_PSH, 'P'},
        {SYNACK_TH_ACK, '.'}, {SYNACK_TH_URG, 'U'}, {SYNACK_TH_ECE, 'E'}, {SYNACK_TH_CWR, 'W'},
    };
    size_t n = 0;

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (flags & map[i].bit)
            buf[n++] = map[i].c;
    if (n == 0)
        memcpy(buf, "none", 5);   /* tcpdump prints "[none]" */
    else
        buf[n] = '\0';
    return buf;
}
