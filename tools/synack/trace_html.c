/* One self-contained HTML page for a capture (see trace.h): per connection
 * its summary, its ladder (SVG, inline) and its plots; a click on a packet
 * shows its decoded IP and TCP header and options.  No network access, no
 * external script or style: everything is in the file. */
#include <inttypes.h>
#include <string.h>

#include "ladder.h"
#include "trace.h"

#define HTML_MAX_DETAILS 50000   /* packets whose decoded headers are embedded */


static const char *st_name(uint8_t st) { return synack_tcp_state_name((enum synack_tcp_state)st); }

static void addr_str(const struct trace_ep *e, char *buf, size_t cap)
{
    char tmp[64];
    trace_ep_str(e, tmp, sizeof(tmp));
    char *colon = strrchr(tmp, ':');
    if (colon)
        *colon = 0;
    snprintf(buf, cap, "%s", tmp[0] == '[' ? tmp + 1 : tmp);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == ']')
        buf[n - 1] = 0;
}

/* The decoded packet, as the text the page shows on a click. */
static void details(const struct trace *t, const struct trace_conn *c, const struct trace_pkt *p,
                    char *buf, size_t cap)
{
    char src[64], dst[64], flags[16], opts[400], marks[300];
    addr_str(&p->src, src, sizeof(src));
    addr_str(&p->dst, dst, sizeof(dst));
    synack_tcp_flags_str(p->flags, flags);
    ladder_describe_opts(&p->opts, opts, sizeof(opts));
    trace_marks_str(p->marks, p->dupack, marks, sizeof(marks));
    char ip[200];
    if (p->src.af == 4)
        snprintf(ip, sizeof(ip), "IPv4 %s -> %s\n  TTL %u, identification 0x%04x, total length %u",
                 src, dst, p->ttl, p->ip_id, p->ip_len);
    else
        snprintf(ip, sizeof(ip), "IPv6 %s -> %s\n  hop limit %u, length %u", src, dst, p->ttl, p->ip_len);
    snprintf(buf, cap,
             "frame %u, %.6f s after the connection's first packet (%s)\n%s\n"
             "TCP %u -> %u\n  seq %u (relative %u), ack %u (relative %u)\n"
             "  header %u bytes, flags 0x%02x [%s]\n  window %u%s (in bytes: %u)\n"
             "  checksum 0x%04x, urgent pointer %u\n  options: %s\n  payload %u bytes\n"
             "states after it: A %s, B %s\nmarks: %s%s",
             p->frame, (double)(p->t_us - c->t_first) / 1e6, p->dir ? "B to A" : "A to B", ip,
             p->src.port, p->dst.port, p->seq, p->rseq, p->ack, (p->flags & SYNACK_TH_ACK) ? p->rack : 0,
             p->doff, p->flags, flags, p->win, c->scale_known ? "" : " (scale unknown)", p->rwin,
             p->csum, p->urg, opts[0] ? opts : "none", p->len,
             st_name(p->dir == 0 ? p->st_snd : p->st_rcv), st_name(p->dir == 0 ? p->st_rcv : p->st_snd),
             marks[0] ? marks : "none", (p->marks & TRACE_M_RST) ? " (RST)" : "");
    (void)t;
}

static void summary_table(const struct trace_conn *c, FILE *out)
{
    char a[64], b[64];
    trace_ep_str(&c->ep[0], a, sizeof(a));
    trace_ep_str(&c->ep[1], b, sizeof(b));
    fprintf(out, "<table class=\"summary\">\n<tr><th>A</th><td>");
    trace_xml_esc(out, a);
    fprintf(out, "</td></tr>\n<tr><th>B</th><td>");
    trace_xml_esc(out, b);
    fprintf(out, "</td></tr>\n<tr><th>duration</th><td>%.6f s</td></tr>\n"
                 "<tr><th>bytes A&rarr;B</th><td>%" PRIu64 " in %u packets</td></tr>\n"
                 "<tr><th>bytes B&rarr;A</th><td>%" PRIu64 " in %u packets</td></tr>\n",
            (double)(c->t_last - c->t_first) / 1e6, c->bytes[0], c->pkts[0], c->bytes[1], c->pkts[1]);
    if (c->nrtt)
        fprintf(out, "<tr><th>RTT</th><td>%u samples: min %.3f, avg %.3f, max %.3f ms</td></tr>\n",
                c->nrtt, (double)c->rtt_min / 1e3, (double)c->rtt_sum / c->nrtt / 1e3,
                (double)c->rtt_max / 1e3);
    else
        fprintf(out, "<tr><th>RTT</th><td>no samples</td></tr>\n");
    fprintf(out, "<tr><th>retransmissions</th><td>A %u, B %u</td></tr>\n", c->retrans[0], c->retrans[1]);
    fprintf(out, "<tr><th>closed first by</th><td>%s</td></tr>\n",
            c->closer < 0 ? "nobody (no FIN or RST captured)"
            : c->closer  ? (c->closer_rst ? "B, with RST" : "B, with FIN")
                         : (c->closer_rst ? "A, with RST" : "A, with FIN"));
    fprintf(out, "<tr><th>final states</th><td>A %s, B %s</td></tr>\n", st_name(c->st_final[0]),
            st_name(c->st_final[1]));
    fprintf(out, "<tr><th>marks</th><td>");
    bool any = false;
    for (unsigned i = 0; i < TRACE_NMARKS; i++)
        if (c->mark_count[i]) {
            fprintf(out, "%s%s %u", any ? ", " : "", trace_mark_name(i), c->mark_count[i]);
            any = true;
        }
    fprintf(out, "%s</td></tr>\n</table>\n", any ? "" : "none");
}

static const char page_style[] =
    "body{font-family:'DejaVu Sans',sans-serif;margin:16px;color:#222}"
    "h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-top:1px solid #ccc;padding-top:10px}"
    "table.summary{border-collapse:collapse;margin:8px 0}"
    "table.summary th{text-align:left;padding:2px 12px 2px 0;color:#555;font-weight:normal}"
    "table.summary td{font-family:monospace}"
    ".ladder{overflow-x:auto;border:1px solid #ddd}"
    "pre.detail{position:fixed;right:12px;bottom:12px;width:440px;max-height:45vh;overflow:auto;"
    "white-space:pre-wrap;background:#f6f6f0ee;border:1px solid #aaa;padding:8px;font-size:12px;"
    "margin:0;box-shadow:0 2px 8px #0003}"
    "g.pkt:hover line{stroke-width:3}g.pkt.sel text{font-weight:bold}"
    ".plots svg{display:block;margin:10px 0;border:1px solid #ddd}";

static const char page_script[] =
    "(function(){\n"
    "var D=JSON.parse(document.getElementById('pktdata').textContent);\n"
    "document.querySelectorAll('g.pkt').forEach(function(g){\n"
    "  g.addEventListener('click',function(){\n"
    "    var pre=document.getElementById('detail');\n"
    "    document.querySelectorAll('g.pkt.sel').forEach(function(o){o.classList.remove('sel');});\n"
    "    g.classList.add('sel');\n"
    "    var d=D[g.getAttribute('data-i')];\n"
    "    pre.textContent=d?d:'(details of this packet are not embedded)';\n"
    "  });\n"
    "});\n"
    "})();\n";

int trace_html(const struct trace *t, const struct trace_extra *x, bool all, FILE *out)
{
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<title>synack trace</title>\n<style>%s</style>\n</head>\n<body>\n",
            page_style);
    size_t shown = 0;
    for (size_t i = 0; i < t->nconn; i++)
        shown += t->conn[i].shown;
    fprintf(out, "<h1>synack trace: %zu TCP packets, %zu connections (%zu shown)</h1>\n"
                 "<p>States are %s. Click an arrow to see the packet's header.</p>\n",
            t->npkt, t->nconn, shown, x ? "the stacks' own" : "inferred from the capture");
    for (size_t i = 0; i < t->nconn; i++) {
        const struct trace_conn *c = &t->conn[i];
        if (!c->shown || !c->n)
            continue;
        char a[64], b[64];
        fprintf(out, "<section id=\"conn%zu\">\n<h2>connection %zu: A ", i + 1, i + 1);
        trace_xml_esc(out, trace_ep_str(&c->ep[0], a, sizeof(a)));
        fprintf(out, ", B ");
        trace_xml_esc(out, trace_ep_str(&c->ep[1], b, sizeof(b)));
        fprintf(out, "</h2>\n");
        summary_table(c, out);
        fprintf(out, "<div class=\"ladder\">\n");
        struct trace_svg_opts so = {.all = all, .inline_html = true};
        if (trace_svg_ladder(t, c, (int)i + 1, i == 0 ? x : NULL, &so, out) < 0)
            return -1;
        fprintf(out, "</div>\n<div class=\"plots\">\n");
        /* The stack's own series, when it is synack's connection: then
         * its cwnd plot too. */
        struct trace_stack_series css;
        bool have = x && x->series && x->series(x->series_user, c, &css) && css.n;
        int last = have ? TRACE_PLOT_CWND : TRACE_PLOT_RTT;
        for (int k = TRACE_PLOT_TSEQ; k <= last; k++)
            if (trace_plot(t, c, (enum trace_plot_kind)k, have ? &css : NULL, true, out) < 0)
                return -1;
        fprintf(out, "</div>\n</section>\n");
    }
    fprintf(out, "<pre class=\"detail\" id=\"detail\">Click a packet in a ladder to see its "
                 "header.</pre>\n");
    /* The decoded headers, as JSON in a data block (not run as script). */
    fprintf(out, "<script type=\"application/json\" id=\"pktdata\">{");
    size_t n = 0;
    char text[2048];
    for (size_t i = 0; i < t->npkt && n < HTML_MAX_DETAILS; i++) {
        const struct trace_pkt *p = &t->pkt[i];
        if (p->conn < 0 || !t->conn[p->conn].shown)
            continue;
        details(t, &t->conn[p->conn], p, text, sizeof(text));
        fprintf(out, "%s\"%zu\":", n++ ? "," : "", i);
        /* JSON string, with '<' escaped so that "</script>" cannot occur. */
        fputc('"', out);
        for (const char *s = text; *s; s++) {
            unsigned char ch = (unsigned char)*s;
            if (ch == '"' || ch == '\\')
                fprintf(out, "\\%c", ch);
            else if (ch == '\n')
                fputs("\\n", out);
            else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&')
                fprintf(out, "\\u%04x", ch);
            else
                fputc(ch, out);
        }
        fputc('"', out);
    }
    fprintf(out, "}</script>\n<script>\n%s</script>\n</body>\n</html>\n", page_script);
    return ferror(out) ? -1 : 0;
}
