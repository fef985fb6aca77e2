/* Pictures of synack's own connections (see own_draw.h). */
#include <stdlib.h>
#include <string.h>

#include "opt.h"
#include "own_draw.h"

const char own_draw_help[] =
    "  --svg FILE       draw the first connection's ladder with synack's true states\n"
    "  --html FILE      one page: every connection's ladder, plots and summary\n"
    "  --plot KIND FILE time-seq, window, rtt or cwnd plot as SVG (repeatable); cwnd:\n"
    "                   the sending stack's own cwnd, ssthresh and bytes in flight\n"
    "                   over time, recovery episodes shaded\n"
    "  --series FILE    the stack's own numbers over time, JSON lines: cwnd, ssthresh,\n"
    "                   bytes in flight, RTO, smoothed RTT, recovery (TCP_INFO, sampled\n"
    "                   after every packet, timer and call; 64 connections at most)\n"
    "  --series-max N   samples kept per connection, 16..10000000 (default 4096);\n"
    "                   beyond, every other one is dropped (never an episode's edges)\n"
    "  --all            draw every packet (else long ladders are summarised)\n";

bool own_draw_wanted(const struct own_draw_opts *o)
{
    return o->svg || o->html || o->nplot || o->series;
}

bool own_draw_sampling(const struct own_draw_opts *o)
{
    return o->html || o->nplot || o->series;
}

bool own_draw_plot_opt(struct own_draw_opts *o, const char *cmd, const char *kind, int argc,
                       char **argv, int *next)
{
    int k = trace_plot_kind_parse(kind);
    if (k < 0) {
        fprintf(stderr, "synack %s: --plot takes time-seq, window, rtt or cwnd, then a file\n", cmd);
        return false;
    }
    if (*next >= argc || o->nplot == OWN_DRAW_PLOTS) {
        fprintf(stderr, "synack %s: --plot %s needs a file name (%d plots at most)\n", cmd, kind,
                OWN_DRAW_PLOTS);
        return false;
    }
    o->plot_kind[o->nplot] = k;
    o->plot_file[o->nplot++] = argv[(*next)++];
    return true;
}

bool own_draw_series_max_opt(struct own_draw_opts *o, const char *cmd, const char *arg)
{
    unsigned long v;
    if (!opt_ulong(cmd, "series-max", arg, 16, 10000000, &v))
        return false;
    o->series_max = v;
    return true;
}

static bool find_series(const void *user, const struct trace_conn *c, struct trace_stack_series *out)
{
    return stack_series_find(user, c, out);
}

static FILE *open_out(const char *cmd, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "synack %s: cannot write %s\n", cmd, path);
    return f;
}

static int close_out(const char *cmd, FILE *f, const char *path, int rc)
{
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "synack %s: cannot write %s\n", cmd, path);
    return rc;
}

int own_draw_files(const struct own_draw_opts *o, const char *cmd, const struct trace *t,
                   struct trace_extra *x, const struct stack_series *ss)
{
    int rc = 0;
    if (x && ss) {
        x->series = find_series;
        x->series_user = ss;
    }
    if (o->svg) {
        FILE *f = open_out(cmd, o->svg);
        struct trace_svg_opts so = {.all = o->all};
        int r = f && t->nconn ? trace_svg_ladder(t, &t->conn[0], 1, x, &so, f) : -1;
        if (!t->nconn)
            fprintf(stderr, "synack %s: --svg: no connection to draw\n", cmd);
        rc |= close_out(cmd, f, o->svg, r);
    }
    if (o->html) {
        FILE *f = open_out(cmd, o->html);
        rc |= close_out(cmd, f, o->html, f ? trace_html(t, x, o->all, f) : -1);
    }
    /* The plots: of the first connection the stack's numbers cover. */
    const struct trace_conn *pc = t->nconn ? &t->conn[0] : NULL;
    struct trace_stack_series pss;
    bool have = false;
    for (size_t i = 0; ss && i < t->nconn && !have; i++)
        if (stack_series_find(ss, &t->conn[i], &pss) && pss.n) {
            pc = &t->conn[i];
            have = true;
        }
    for (int i = 0; i < o->nplot; i++) {
        if (!pc || (o->plot_kind[i] == TRACE_PLOT_CWND && !have)) {
            fprintf(stderr, "synack %s: --plot %s: %s\n", cmd, o->plot_file[i],
                    pc ? "no congestion-window samples of any connection" : "no connection");
            rc = -1;
            continue;
        }
        FILE *f = open_out(cmd, o->plot_file[i]);
        int r = f ? trace_plot(t, pc, (enum trace_plot_kind)o->plot_kind[i], have ? &pss : NULL,
                               false, f)
                  : -1;
        rc |= close_out(cmd, f, o->plot_file[i], r);
    }
    if (o->series) {
        FILE *f = open_out(cmd, o->series);
        rc |= close_out(cmd, f, o->series, f && ss ? stack_series_json(ss, f) : -1);
    }
    return rc < 0 ? -1 : 0;
}
