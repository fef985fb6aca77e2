/* Ladder diagrams (see ladder.h). */
#include "ladder.h"

#include <string.h>

#include "synack/wire.h"

void ladder_init(struct ladder *l, FILE *out, const char *left, uint32_t left_addr,
                 const char *right, uint32_t right_addr)
{
    memset(l, 0, sizeof(*l));
    l->out = out;
    l->name[0] = left;
    l->name[1] = right;
    l->addr[0] = left_addr;
    l->addr[1] = right_addr;
    l->wscale[0] = l->wscale[1] = -1;
}

/* Column widths: time, left state, packet (with its arrow), right state. */
#define W_TIME 20
#define W_STATE 13
#define W_PKT 56

static void rule(FILE *f)
{
    fputs("  ", f);
    for (int i = 0; i < W_TIME + 2 * W_STATE + W_PKT + 3; i++)
        fputc('-', f);
    fputc('\n', f);
}

void ladder_header(struct ladder *l)
{
    fprintf(l->out, "  %-*s %-*s %-*s %s\n", W_TIME, "time (ms)", W_STATE, l->name[0], W_PKT,
            "", l->name[1]);
    rule(l->out);
}

int ladder_describe_opts(const struct synack_tcp_opts *o, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (uint8_t i = 0; i < o->norder && n < cap; i++) {
        const char *sep = n ? "," : "";
        int w = 0;
        switch (o->order[i]) {
        case SYNACK_TCPOPT_NOP: w = snprintf(buf + n, cap - n, "%snop", sep); break;
        case SYNACK_TCPOPT_EOL: w = snprintf(buf + n, cap - n, "%seol", sep); break;
        case SYNACK_TCPOPT_MSS: w = snprintf(buf + n, cap - n, "%smss %u", sep, o->mss); break;
        case SYNACK_TCPOPT_WSCALE: w = snprintf(buf + n, cap - n, "%swscale %u", sep, o->wscale); break;
        case SYNACK_TCPOPT_SACK_PERM: w = snprintf(buf + n, cap - n, "%ssackOK", sep); break;
        case SYNACK_TCPOPT_TIMESTAMP:
            w = snprintf(buf + n, cap - n, "%sTS val %u ecr %u", sep, o->tsval, o->tsecr);
            break;
        case SYNACK_TCPOPT_SACK:
            w = snprintf(buf + n, cap - n, "%ssack %u", sep, o->nsack);
            break;
        default: w = snprintf(buf + n, cap - n, "%sopt%u", sep, o->order[i]); break;
        }
        if (w < 0)
            break;
        n += (size_t)w;
    }
    return (int)n;
}

int ladder_describe(struct ladder *l, int from, const uint8_t *pkt, size_t len, char *buf,
                    size_t cap)
{
    struct synack_ipv4_hdr ip;
    int rc = synack_ipv4_parse(pkt, len, &ip);
    if (rc < 0)
        return snprintf(buf, cap, "(bad IPv4: %s)", synack_wire_strerror(rc));
    if (ip.proto == SYNACK_IPPROTO_ICMP)
        return snprintf(buf, cap, "ICMP (%u bytes)", ip.payload_len);
    if (ip.proto != SYNACK_IPPROTO_TCP)
        return snprintf(buf, cap, "IP proto %u", ip.proto);
    struct synack_tcp_hdr th;
    rc = synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &th);
    if (rc < 0)
        return snprintf(buf, cap, "TCP (%s)", synack_wire_strerror(rc));
    uint32_t win = th.window;
    if (th.flags & SYNACK_TH_SYN) {
        l->have_isn[from] = true;
        l->isn[from] = th.seq;
        l->wscale[from] = (th.opts.present & SYNACK_TCPOPT_F_WSCALE) ? th.opts.wscale : -1;
    } else if (l->wscale[0] >= 0 && l->wscale[1] >= 0) {
        /* RFC 7323 2.2: both sides agreed, so the field is scaled; show bytes. */
        win <<= l->wscale[from] > 14 ? 14 : l->wscale[from];
    }
    uint32_t seq = l->have_isn[from] ? th.seq - l->isn[from] : th.seq;
    char flags[16], ack[16], opts[160] = "";
    synack_tcp_flags_str(th.flags, flags);
    if (th.flags & SYNACK_TH_ACK)
        snprintf(ack, sizeof(ack), "%u", l->have_isn[!from] ? th.ack - l->isn[!from] : th.ack);
    else
        snprintf(ack, sizeof(ack), "-");
    if (th.opts.norder)
        ladder_describe_opts(&th.opts, opts, sizeof(opts));
    return snprintf(buf, cap, "%-3s seq %-6u ack %-6s win %-6u len %-4zu%s%s%s", flags, seq, ack,
                    win, th.payload_len, opts[0] ? " <" : "", opts, opts[0] ? ">" : "");
}

/* A finished row: printed, or past max_rows kept in the tail ring (the
 * row it pushes out is counted as not shown) or only counted. */
static void emit_row(struct ladder *l, const char *row, bool pkt)
{
    if (!l->max_rows || l->rows < l->max_rows) {
        l->rows += pkt;
        fputs(row, l->out);
        return;
    }
    if (!l->tail_rows) {
        l->elided += pkt;
        if (!pkt)
            fputs(row, l->out);
        return;
    }
    unsigned cap = l->tail_rows < LADDER_TAIL_MAX ? l->tail_rows : LADDER_TAIL_MAX;
    unsigned slot = (l->tail_head + l->tail_len) % cap;
    if (l->tail_len == cap) {
        l->elided += l->tail_pkt[l->tail_head];
        l->tail_head = (l->tail_head + 1) % cap;
    } else {
        l->tail_len++;
    }
    snprintf(l->tail[slot], LADDER_ROW_MAX, "%s", row);
    l->tail_pkt[slot] = pkt;
}

void ladder_flush_tail(struct ladder *l)
{
    if (l->elided)
        fprintf(l->out, "  ... %u packets not shown\n", l->elided);
    unsigned cap = l->tail_rows < LADDER_TAIL_MAX ? l->tail_rows : LADDER_TAIL_MAX;
    for (unsigned i = 0; i < l->tail_len; i++)
        fputs(l->tail[(l->tail_head + i) % cap], l->out);
    l->elided = 0;
    l->tail_len = l->tail_head = 0;
}

void ladder_packet(struct ladder *l, synack_time_t sent, synack_time_t at, int from,
                   const uint8_t *pkt, size_t len, const char *left_state,
                   const char *right_state, const char *fate)
{
    char desc[256], when[48], col[320], row[LADDER_ROW_MAX];
    ladder_describe(l, from, pkt, len, desc, sizeof(desc));
    if (l->max_rows && l->rows >= l->max_rows && !l->tail_rows) {
        l->elided++;
        return;
    }
    snprintf(when, sizeof(when), "%.3f -> %.3f", (double)sent / 1000.0, (double)at / 1000.0);
    /* Options (long) go on a line of their own, shown for SYNs, where they
     * are negotiated, and whenever the caller asked for them. */
    char *opt = strchr(desc, '<');
    if (opt)
        opt[-1] = 0;
    if (from == 0)
        snprintf(col, sizeof(col), "%s %s", desc, fate ? "--X" : "--->");
    else
        snprintf(col, sizeof(col), "%s %s", fate ? "X--" : "<---", desc);
    int n = snprintf(row, sizeof(row), "  %-*s %-*s %-*s %s%s%s\n", W_TIME, when, W_STATE,
                     left_state ? left_state : "", W_PKT, col, right_state ? right_state : "",
                     fate ? "   " : "", fate ? fate : "");
    if (n > 0 && (size_t)n < sizeof(row) && opt &&
        (l->options || desc[0] == 'S' || desc[1] == 'S'))
        snprintf(row + n, sizeof(row) - (size_t)n, "  %-*s %-*s %s%s\n", W_TIME, "", W_STATE, "",
                 from == 0 ? "" : "     ", opt);
    emit_row(l, row, true);
}

void ladder_event(struct ladder *l, synack_time_t at, int side, const char *what,
                  const char *left_state, const char *right_state)
{
    char when[32], col[W_PKT + 64];
    snprintf(when, sizeof(when), "%.3f", (double)at / 1000.0);
    if (side == 0) {
        snprintf(col, sizeof(col), "[%s] %s", l->name[0], what);
    } else {
        char tmp[W_PKT + 32];
        snprintf(tmp, sizeof(tmp), "%s [%s]", what, l->name[1]);
        snprintf(col, sizeof(col), "%*s", W_PKT, tmp);
    }
    char row[LADDER_ROW_MAX];
    snprintf(row, sizeof(row), "  %-*s %-*s %-*s %s\n", W_TIME, when, W_STATE,
             left_state ? left_state : "", W_PKT, col, right_state ? right_state : "");
    emit_row(l, row, false);
}
