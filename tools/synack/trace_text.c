/* Text output of `synack trace` (see trace.h): the ladder of each
 * connection with both endpoints' states and the marks, its summary, the
 * same as JSON lines, and a plain listing of the inferred states. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "trace.h"

static const char *st_name(uint8_t st) { return synack_tcp_state_name((enum synack_tcp_state)st); }

static void add(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n += (size_t)w < cap - *n ? (size_t)w : cap - *n - 1;
}

int trace_opts_short(const struct trace_pkt *p, const struct trace_conn *c, char *buf, size_t cap)
{
    const struct synack_tcp_opts *o = &p->opts;
    size_t n = 0;
    buf[0] = 0;
    for (uint8_t i = 0; i < o->norder; i++) {
        const char *sep = n ? "," : "";
        switch (o->order[i]) {
        case SYNACK_TCPOPT_NOP:
        case SYNACK_TCPOPT_EOL: break;
        case SYNACK_TCPOPT_MSS: add(buf, cap, &n, "%smss %u", sep, o->mss); break;
        case SYNACK_TCPOPT_WSCALE: add(buf, cap, &n, "%sws %u", sep, o->wscale); break;
        case SYNACK_TCPOPT_SACK_PERM: add(buf, cap, &n, "%ssackOK", sep); break;
        case SYNACK_TCPOPT_TIMESTAMP: add(buf, cap, &n, "%sTS", sep); break;
        case SYNACK_TCPOPT_SACK:
            /* SACK blocks relative to the peer's sequence (the data they cover). */
            add(buf, cap, &n, "%ssack", sep);
            for (uint8_t b = 0; b < o->nsack; b++)
                add(buf, cap, &n, " %u-%u", o->sack[b].left - c->base[!p->dir],
                    o->sack[b].right - c->base[!p->dir]);
            break;
        default: add(buf, cap, &n, "%sopt%u", sep, o->order[i]); break;
        }
    }
    return (int)n;
}

int trace_pkt_label(const struct trace_pkt *p, const struct trace_conn *c, char *buf, size_t cap)
{
    char flags[16], ack[16];
    synack_tcp_flags_str(p->flags, flags);
    if (p->flags & SYNACK_TH_ACK)
        snprintf(ack, sizeof(ack), "%u", p->rack);
    else
        snprintf(ack, sizeof(ack), "-");
    return snprintf(buf, cap, "%s seq %u ack %s win %u%s len %u", flags, p->rseq, ack, p->rwin,
                    c->scale_known || (p->flags & SYNACK_TH_SYN) ? "" : "?", p->len);
}

int trace_marks_str(uint32_t marks, uint16_t dupack, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (unsigned b = 0; b < TRACE_NMARKS; b++) {
        if (!(marks >> b & 1) || (1u << b) == TRACE_M_RST)
            continue;
        if ((1u << b) == TRACE_M_DUPACK)
            add(buf, cap, &n, "%sdup-ack#%u", n ? " " : "", dupack);
        else
            add(buf, cap, &n, "%s%s", n ? " " : "", trace_mark_name(b));
    }
    return (int)n;
}

static void summary(const struct trace_conn *c, FILE *out)
{
    char a[64], b[64];
    trace_ep_str(&c->ep[0], a, sizeof(a));
    trace_ep_str(&c->ep[1], b, sizeof(b));
    fprintf(out, "  summary: duration %.6f s; A->B %" PRIu64 " bytes in %u packets, B->A %" PRIu64
                 " bytes in %u packets\n",
            (double)(c->t_last - c->t_first) / 1e6, c->bytes[0], c->pkts[0], c->bytes[1], c->pkts[1]);
    if (c->nrtt)
        fprintf(out, "  rtt: %u samples, min %.3f ms, avg %.3f ms, max %.3f ms\n", c->nrtt,
                (double)c->rtt_min / 1e3, (double)c->rtt_sum / c->nrtt / 1e3,
                (double)c->rtt_max / 1e3);
    else
        fprintf(out, "  rtt: no samples\n");
    fprintf(out, "  retransmissions: A %u, B %u\n", c->retrans[0], c->retrans[1]);
    if (c->closer >= 0)
        fprintf(out, "  closed first by: %s (%s) with %s\n", c->closer ? "B" : "A",
                c->closer ? b : a, c->closer_rst ? "RST" : "FIN");
    else
        fprintf(out, "  closed first by: nobody (no FIN or RST captured)\n");
    fprintf(out, "  final states: A %s, B %s\n", st_name(c->st_final[0]), st_name(c->st_final[1]));
    char m[512];
    size_t n = 0;
    m[0] = 0;
    for (unsigned i = 0; i < TRACE_NMARKS; i++)
        if (c->mark_count[i])
            add(m, sizeof(m), &n, "%s%s %u", n ? ", " : "", trace_mark_name(i), c->mark_count[i]);
    if (n)
        fprintf(out, "  marks: %s\n", m);
}

void trace_print_text(const struct trace *t, const struct trace_conn *c, int id, FILE *out)
{
    char a[64], b[64];
    fprintf(out, "connection %d: A %s  B %s  (%u packets)\n", id, trace_ep_str(&c->ep[0], a, sizeof(a)),
            trace_ep_str(&c->ep[1], b, sizeof(b)), c->n);
    if (!c->scale_known)
        fprintf(out, "  (handshake not captured: window scale unknown, windows shown raw with '?')\n");
    fprintf(out, "  %-10s %-12s %-66s %-12s %s\n", "time (s)", "A", "", "B", "marks");
    for (uint32_t k = 0; k < c->n; k++) {
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        char lab[128], opts[200], col[300], marks[300];
        trace_pkt_label(p, c, lab, sizeof(lab));
        trace_opts_short(p, c, opts, sizeof(opts));
        trace_marks_str(p->marks, p->dupack, marks, sizeof(marks));
        if (p->dir == 0)
            snprintf(col, sizeof(col), "%s --->", lab);
        else
            snprintf(col, sizeof(col), "<--- %s", lab);
        const char *sa = st_name(p->dir == 0 ? p->st_snd : p->st_rcv);
        const char *sb = st_name(p->dir == 0 ? p->st_rcv : p->st_snd);
        char rtt[32] = "";
        if (p->rtt_us >= 0)
            snprintf(rtt, sizeof(rtt), "%srtt %.3f ms", marks[0] ? " " : "", (double)p->rtt_us / 1e3);
        fprintf(out, "  %-10.6f %-12s %-66s %-12s %s%s\n", (double)(p->t_us - c->t_first) / 1e6, sa,
                col, sb, marks, rtt);
        if (opts[0])
            fprintf(out, "  %-10s %-12s %s<%s>\n", "", "", p->dir ? "     " : "", opts);
    }
    summary(c, out);
    fputc('\n', out);
}

void trace_xml_esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

void trace_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

void trace_print_json(const struct trace *t, const struct trace_conn *c, int id, FILE *out)
{
    char a[64], b[64];
    trace_ep_str(&c->ep[0], a, sizeof(a));
    trace_ep_str(&c->ep[1], b, sizeof(b));
    for (uint32_t k = 0; k < c->n; k++) {
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        char flags[16], opts[200];
        synack_tcp_flags_str(p->flags, flags);
        trace_opts_short(p, c, opts, sizeof(opts));
        fprintf(out, "{\"type\":\"packet\",\"conn\":%d,\"frame\":%u,\"time\":%.6f,\"dir\":\"%s\","
                     "\"flags\":\"%s\",\"seq\":%u,\"ack\":%u,\"win\":%u,\"win_scaled\":%s,\"len\":%u,"
                     "\"opts\":",
                id, p->frame, (double)(p->t_us - c->t_first) / 1e6, p->dir ? "B>A" : "A>B", flags,
                p->rseq, (p->flags & SYNACK_TH_ACK) ? p->rack : 0, p->rwin,
                c->scale_known ? "true" : "false", p->len);
        trace_json_str(out, opts);
        fprintf(out, ",\"state_a\":\"%s\",\"state_b\":\"%s\",\"marks\":[",
                st_name(p->dir == 0 ? p->st_snd : p->st_rcv), st_name(p->dir == 0 ? p->st_rcv : p->st_snd));
        int nm = 0;
        for (unsigned m = 0; m < TRACE_NMARKS; m++)
            if (p->marks >> m & 1)
                fprintf(out, "%s\"%s\"", nm++ ? "," : "", trace_mark_name(m));
        fprintf(out, "]");
        if (p->rtt_us >= 0)
            fprintf(out, ",\"rtt_ms\":%.3f", (double)p->rtt_us / 1e3);
        fprintf(out, "}\n");
    }
    fprintf(out, "{\"type\":\"connection\",\"conn\":%d,\"a\":\"%s\",\"b\":\"%s\",\"packets\":%u,"
                 "\"duration\":%.6f,\"bytes_a_to_b\":%" PRIu64 ",\"bytes_b_to_a\":%" PRIu64
                 ",\"retrans_a\":%u,\"retrans_b\":%u,\"rtt_samples\":%u",
            id, a, b, c->n, (double)(c->t_last - c->t_first) / 1e6, c->bytes[0], c->bytes[1],
            c->retrans[0], c->retrans[1], c->nrtt);
    if (c->nrtt)
        fprintf(out, ",\"rtt_min_ms\":%.3f,\"rtt_avg_ms\":%.3f,\"rtt_max_ms\":%.3f",
                (double)c->rtt_min / 1e3, (double)c->rtt_sum / c->nrtt / 1e3, (double)c->rtt_max / 1e3);
    fprintf(out, ",\"closed_first_by\":%s,\"close\":\"%s\",\"final_a\":\"%s\",\"final_b\":\"%s\"}\n",
            c->closer < 0 ? "null" : c->closer ? "\"B\"" : "\"A\"",
            c->closer < 0 ? "" : c->closer_rst ? "RST" : "FIN", st_name(c->st_final[0]),
            st_name(c->st_final[1]));
}

void trace_print_states(const struct trace *t, const struct trace_conn *c, FILE *out)
{
    for (uint32_t k = 0; k < c->n; k++) {
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        char flags[16];
        fprintf(out, "%u %s %s %s\n", p->frame, synack_tcp_flags_str(p->flags, flags),
                st_name(p->st_snd), st_name(p->st_rcv));
    }
}
