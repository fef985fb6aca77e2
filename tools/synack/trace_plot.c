/* Plots of one connection as SVG (see trace.h), in the style of Stevens'
 * and tcptrace's graphs:
 *   time-seq  the data sender's segments as vertical bars from their first
 *             to their last byte (retransmissions red, window probes
 *             magenta), the receiver's ACK line (green) and receive-window
 *             line (ACK + window, gold), its SACK blocks (purple);
 *   window    the window each side advertised over time;
 *   rtt       the RTT samples over time;
 *   cwnd      the sending stack's congestion window, slow-start threshold
 *             and bytes in flight (synack's own connections only).
 * For synack's own connections the sending stack's own cwnd and ssthresh
 * (window and cwnd plots), smoothed RTT and RTO (rtt plot) and its recovery
 * episodes (shaded, every plot) come from its statistics (TCP_INFO, sampled
 * by the tool: stack_series.c), not from inference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

#define PLOT_W 920.0
#define PLOT_H 440.0
#define PLOT_ML 90.0
#define PLOT_MR 150.0
#define PLOT_MT 40.0
#define PLOT_MB 50.0

struct chart {
    FILE *f;
    double x0, x1, y0, y1;     /* data ranges */
};

static double px(const struct chart *c, double x)
{
    return PLOT_ML + (x - c->x0) / (c->x1 - c->x0) * (PLOT_W - PLOT_ML - PLOT_MR);
}

static double py(const struct chart *c, double y)
{
    return PLOT_H - PLOT_MB - (y - c->y0) / (c->y1 - c->y0) * (PLOT_H - PLOT_MT - PLOT_MB);
}

/* A step of 1, 2 or 5 times a power of ten giving about 6 ticks. */
static double nice_step(double span)
{
    if (!(span > 0))
        return 1;
    double raw = span / 6, p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void axes(const struct chart *c, const char *title, const char *xl, const char *yl,
                 double yscale)
{
    FILE *f = c->f;
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-weight=\"bold\" font-size=\"14\">%s</text>\n", PLOT_ML,
            title);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#444\"/>\n",
            PLOT_ML, PLOT_MT, PLOT_W - PLOT_ML - PLOT_MR, PLOT_H - PLOT_MT - PLOT_MB);
    double sx = nice_step(c->x1 - c->x0);
    for (double v = ceil(c->x0 / sx) * sx; v <= c->x1 + sx * 1e-9; v += sx) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%g</text>\n",
                px(c, v), PLOT_MT, px(c, v), PLOT_H - PLOT_MB, px(c, v), PLOT_H - PLOT_MB + 16, v);
    }
    double sy = nice_step(c->y1 - c->y0);
    for (double v = ceil(c->y0 / sy) * sy; v <= c->y1 + sy * 1e-9; v += sy) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%g</text>\n",
                PLOT_ML, py(c, v), PLOT_W - PLOT_MR, py(c, v), PLOT_ML - 6, py(c, v) + 4, v / yscale);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">%s</text>\n",
            (PLOT_ML + PLOT_W - PLOT_MR) / 2, PLOT_H - 12, xl);
    fprintf(f, "<text x=\"16\" y=\"%.1f\" font-size=\"12\" transform=\"rotate(-90 16 %.1f)\" "
               "text-anchor=\"middle\">%s</text>\n",
            (PLOT_MT + PLOT_H - PLOT_MB) / 2, (PLOT_MT + PLOT_H - PLOT_MB) / 2, yl);
}

static void legend(const struct chart *c, int i, const char *colour, const char *what)
{
    double x = PLOT_W - PLOT_MR + 12, y = PLOT_MT + 14 + i * 18;
    fprintf(c->f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" stroke-width=\"3\"/>"
                  "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">%s</text>\n",
            x, y - 4, x + 18, y - 4, colour, x + 24, y, what);
}

static double secs(const struct trace_conn *c, uint64_t t)
{
    return (double)(int64_t)(t - c->t_first) / 1e6;
}

/* Shaded bands where the stack was repairing a loss. */
static void recovery_bands(const struct chart *ch, const struct trace_conn *c,
                           const struct trace_stack_series *ss)
{
    if (!ss)
        return;
    for (size_t i = 0; i < ss->n; i++) {
        if (!ss->s[i].recovery)
            continue;
        size_t j = i;
        while (j + 1 < ss->n && ss->s[j + 1].recovery)
            j++;
        double a = secs(c, ss->s[i].t_us);
        double b = j + 1 < ss->n ? secs(c, ss->s[j + 1].t_us) : ch->x1;
        fprintf(ch->f, "<rect class=\"recovery\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" "
                       "fill=\"#fbe3e3\"/>\n",
                px(ch, a), PLOT_MT, fmax(px(ch, b) - px(ch, a), 1.0), PLOT_H - PLOT_MT - PLOT_MB);
        i = j;
    }
}

/* A step line through (x[i], y[i]). */
static void step(const struct chart *c, const double *x, const double *y, size_t n, const char *colour,
                 const char *cls)
{
    if (!n)
        return;
    fprintf(c->f, "<path class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" d=\"M%.1f %.1f", cls,
            colour, px(c, x[0]), py(c, y[0]));
    for (size_t i = 1; i < n; i++)
        fprintf(c->f, "H%.1fV%.1f", px(c, x[i]), py(c, y[i]));
    fprintf(c->f, "H%.1f\"/>\n", px(c, c->x1));
}

static void open_svg(FILE *f, bool inline_html)
{
    if (!inline_html)
        fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, sans-serif\">\n",
            PLOT_W, PLOT_H, PLOT_W, PLOT_H);
}

static int plot_tseq(const struct trace *t, const struct trace_conn *c,
                     const struct trace_stack_series *ss, struct chart *ch)
{
    int d = c->bytes[1] > c->bytes[0]; /* the data sender */
    double ymax = 1;
    for (uint32_t k = 0; k < c->n; k++) {
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        double top = p->dir == d ? (double)(p->rseq + trace_seglen(p))
                                 : (p->flags & SYNACK_TH_ACK) ? (double)p->rack + p->rwin : 0;
        if (top > ymax && top < 4e9)
            ymax = top;
    }
    ch->y0 = 0;
    ch->y1 = ymax * 1.05;
    char title[160], a[64];
    snprintf(title, sizeof(title), "time-sequence: data from %s %s", d ? "B" : "A",
             trace_ep_str(&c->ep[d], a, sizeof(a)));
    axes(ch, title, "time (s)", "relative sequence number (bytes)", 1);
    recovery_bands(ch, c, ss && ss->side == d ? ss : NULL);
    double *ax = malloc(c->n * sizeof(double)), *ay = malloc(c->n * sizeof(double));
    double *wy = malloc(c->n * sizeof(double));
    if (!ax || !ay || !wy) {
        free(ax);
        free(ay);
        free(wy);
        return -1;
    }
    size_t na = 0;
    for (uint32_t k = 0; k < c->n; k++) {
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        double x = secs(c, p->t_us);
        if (p->dir == d) {
            uint32_t sl = trace_seglen(p);
            const char *col = (p->marks & TRACE_M_WPROBE) ? "#c000c0"
                              : (p->marks & TRACE_M_RETRANS) ? "#d62728" : "#111";
            double y1 = py(ch, p->rseq), y2 = py(ch, (double)p->rseq + sl);
            fprintf(ch->f, "<path class=\"seg\" stroke=\"%s\" d=\"M%.1f %.1fV%.1fM%.1f %.1fh4M%.1f %.1fh4\"/>\n",
                    col, px(ch, x), y1, y2, px(ch, x) - 2, y1, px(ch, x) - 2, y2);
            if (p->marks & TRACE_M_WPROBE)
                fprintf(ch->f, "<path class=\"probe\" d=\"M%.1f %.1fl4 4l-4 4l-4 -4z\" fill=\"#c000c0\"/>\n",
                        px(ch, x), y2 - 4);
            continue;
        }
        if (!(p->flags & SYNACK_TH_ACK))
            continue;
        ax[na] = x;
        ay[na] = p->rack;
        wy[na] = (double)p->rack + p->rwin;
        na++;
        for (uint8_t b = 0; b < p->opts.nsack; b++) {
            double l = (double)(uint32_t)(p->opts.sack[b].left - c->base[d]);
            double r = (double)(uint32_t)(p->opts.sack[b].right - c->base[d]);
            fprintf(ch->f, "<path class=\"sack\" stroke=\"#7b3fb5\" stroke-width=\"2\" d=\"M%.1f %.1fV%.1f\"/>\n",
                    px(ch, x) + 2, py(ch, l), py(ch, r));
        }
    }
    step(ch, ax, ay, na, "#2ca02c", "ackline");
    step(ch, ax, wy, na, "#d4a017", "winline");
    free(ax);
    free(ay);
    free(wy);
    legend(ch, 0, "#111", "segment");
    legend(ch, 1, "#d62728", "retransmission");
    legend(ch, 2, "#c000c0", "window probe");
    legend(ch, 3, "#2ca02c", "ACK");
    legend(ch, 4, "#d4a017", "ACK + window");
    legend(ch, 5, "#7b3fb5", "SACK block");
    if (ss && ss->side == d)
        legend(ch, 6, "#fbe3e3", "recovery (stack)");
    return 0;
}

static int plot_window(const struct trace *t, const struct trace_conn *c,
                       const struct trace_stack_series *ss, struct chart *ch)
{
    double ymax = 1;
    for (uint32_t k = 0; k < c->n; k++)
        ymax = fmax(ymax, t->pkt[c->idx[k]].rwin);
    if (ss)
        for (size_t i = 0; i < ss->n; i++)
            ymax = fmax(ymax, fmax(ss->s[i].cwnd, ss->s[i].ssthresh < 0x7fffffff ? ss->s[i].ssthresh : 0));
    ch->y0 = 0;
    ch->y1 = ymax * 1.08;
    axes(ch, c->scale_known ? "advertised windows (bytes)" : "advertised windows (raw: scale unknown)",
         "time (s)", "bytes", 1);
    recovery_bands(ch, c, ss);
    double *x = malloc(c->n * sizeof(double)), *y = malloc(c->n * sizeof(double));
    if (!x || !y) {
        free(x);
        free(y);
        return -1;
    }
    static const char *const col[2] = {"#1f77b4", "#ff7f0e"};
    for (int d = 0; d < 2; d++) {
        size_t n = 0;
        for (uint32_t k = 0; k < c->n; k++) {
            const struct trace_pkt *p = &t->pkt[c->idx[k]];
            if (p->dir != d || (p->flags & SYNACK_TH_RST))
                continue;
            x[n] = secs(c, p->t_us);
            y[n++] = p->rwin;
        }
        step(ch, x, y, n, col[d], d ? "win-b" : "win-a");
        legend(ch, d, col[d], d ? "window of B" : "window of A");
    }
    if (ss && ss->n) {
        size_t n = 0;
        double *sx = malloc(ss->n * sizeof(double)), *cw = malloc(ss->n * sizeof(double)),
               *th = malloc(ss->n * sizeof(double));
        if (sx && cw && th) {
            for (size_t i = 0; i < ss->n; i++) {
                sx[n] = secs(c, ss->s[i].t_us);
                cw[n] = ss->s[i].cwnd;
                th[n++] = ss->s[i].ssthresh < 0x7fffffff ? ss->s[i].ssthresh : ch->y1;
            }
            step(ch, sx, cw, n, "#2ca02c", "cwnd");
            step(ch, sx, th, n, "#9467bd", "ssthresh");
            legend(ch, 2, "#2ca02c", "cwnd (stack)");
            legend(ch, 3, "#9467bd", "ssthresh (stack)");
            legend(ch, 4, "#fbe3e3", "recovery (stack)");
        }
        free(sx);
        free(cw);
        free(th);
    }
    free(x);
    free(y);
    return 0;
}

static int plot_rtt(const struct trace *t, const struct trace_conn *c,
                    const struct trace_stack_series *ss, struct chart *ch)
{
    double ymax = 1;
    for (uint32_t k = 0; k < c->n; k++)
        if (t->pkt[c->idx[k]].rtt_us >= 0)
            ymax = fmax(ymax, (double)t->pkt[c->idx[k]].rtt_us / 1e3);
    if (ss)
        for (size_t i = 0; i < ss->n; i++)
            ymax = fmax(ymax, ss->s[i].rto_us / 1e3);
    ch->y0 = 0;
    ch->y1 = ymax * 1.1;
    axes(ch, "RTT samples (from the capture point)", "time (s)", "ms", 1);
    recovery_bands(ch, c, ss);
    for (uint32_t k = 0; k < c->n; k++) {
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        if (p->rtt_us < 0)
            continue;
        fprintf(ch->f, "<circle class=\"rtt\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                px(ch, secs(c, p->t_us)), py(ch, (double)p->rtt_us / 1e3), p->dir ? "#1f77b4" : "#ff7f0e");
    }
    legend(ch, 0, "#ff7f0e", "B's data, ACK from A");
    legend(ch, 1, "#1f77b4", "A's data, ACK from B");
    if (ss && ss->n) {
        double *x = malloc(ss->n * sizeof(double)), *r = malloc(ss->n * sizeof(double)),
               *s = malloc(ss->n * sizeof(double));
        if (x && r && s) {
            for (size_t i = 0; i < ss->n; i++) {
                x[i] = secs(c, ss->s[i].t_us);
                r[i] = ss->s[i].rto_us / 1e3;
                s[i] = ss->s[i].srtt_us / 1e3;
            }
            step(ch, x, r, ss->n, "#d62728", "rto");
            step(ch, x, s, ss->n, "#2ca02c", "srtt");
            legend(ch, 2, "#d62728", "RTO (stack)");
            legend(ch, 3, "#2ca02c", "smoothed RTT (stack)");
        }
        free(x);
        free(r);
        free(s);
    }
    return 0;
}

/* The stack's congestion window: the step lines of its own numbers. */
static int plot_cwnd(const struct trace_conn *c, const struct trace_stack_series *ss,
                     struct chart *ch)
{
    double ymax = 1;
    for (size_t i = 0; i < ss->n; i++) {
        const struct trace_stack_sample *s = &ss->s[i];
        ymax = fmax(ymax, fmax(s->cwnd, s->inflight));
        if (s->ssthresh < 0x7fffffff)
            ymax = fmax(ymax, s->ssthresh);
    }
    ch->y0 = 0;
    ch->y1 = ymax * 1.08;
    char title[160], a[64];
    snprintf(title, sizeof(title), "congestion window of %s %s (the stack's own)", ss->side ? "B" : "A",
             trace_ep_str(&c->ep[ss->side], a, sizeof(a)));
    axes(ch, title, "time (s)", "bytes", 1);
    recovery_bands(ch, c, ss);
    double *x = malloc(ss->n * sizeof(double)), *cw = malloc(ss->n * sizeof(double)),
           *th = malloc(ss->n * sizeof(double)), *fl = malloc(ss->n * sizeof(double));
    int rc = -1;
    if (x && cw && th && fl) {
        size_t nth = 0;
        for (size_t i = 0; i < ss->n; i++) {
            x[i] = secs(c, ss->s[i].t_us);
            cw[i] = ss->s[i].cwnd;
            fl[i] = ss->s[i].inflight;
        }
        /* ssthresh from the moment it is first set (before: infinite). */
        size_t first = 0;
        while (first < ss->n && ss->s[first].ssthresh >= 0x7fffffff)
            first++;
        for (size_t i = first; i < ss->n; i++)
            th[nth++] = ss->s[i].ssthresh < 0x7fffffff ? ss->s[i].ssthresh : ch->y1;
        step(ch, x, fl, ss->n, "#9ecae1", "inflight");
        step(ch, x, cw, ss->n, "#2ca02c", "cwnd");
        step(ch, x + first, th, nth, "#9467bd", "ssthresh");
        legend(ch, 0, "#2ca02c", "cwnd");
        legend(ch, 1, "#9467bd", "ssthresh");
        legend(ch, 2, "#9ecae1", "bytes in flight");
        legend(ch, 3, "#fbe3e3", "recovery");
        rc = 0;
    }
    free(x);
    free(cw);
    free(th);
    free(fl);
    return rc;
}

int trace_plot_kind_parse(const char *name)
{
    static const char *const names[] = {"time-seq", "window", "rtt", "cwnd"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

int trace_plot(const struct trace *t, const struct trace_conn *c, enum trace_plot_kind kind,
               const struct trace_stack_series *ss, bool inline_html, FILE *out)
{
    if (!c->n || (kind == TRACE_PLOT_CWND && !(ss && ss->n)))
        return -1;
    struct chart ch = {out, 0, secs(c, c->t_last), 0, 1};
    if (ss && ss->n)
        ch.x1 = fmax(ch.x1, secs(c, ss->s[ss->n - 1].t_us));
    if (ch.x1 <= 0)
        ch.x1 = 1e-3;
    ch.x1 *= 1.02;
    open_svg(out, inline_html);
    int rc = kind == TRACE_PLOT_TSEQ     ? plot_tseq(t, c, ss, &ch)
             : kind == TRACE_PLOT_WINDOW ? plot_window(t, c, ss, &ch)
             : kind == TRACE_PLOT_RTT    ? plot_rtt(t, c, ss, &ch)
                                         : plot_cwnd(c, ss, &ch);
    fprintf(out, "</svg>\n");
    return rc < 0 || ferror(out) ? -1 : 0;
}
