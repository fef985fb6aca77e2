/* Pictures of synack's own connections, for `synack demo`, `serve` and
 * `connect`: --svg (the first connection's ladder), --html (every
 * connection: ladder, plots, summary), --plot KIND FILE (time-seq, window,
 * rtt or cwnd of the first connection the stack's series covers) and
 * --series FILE (the stack's own samples as JSON lines), drawn at the end
 * from the command's capture, with the states and numbers of the stack. */
#ifndef SYNACK_TOOL_OWN_DRAW_H
#define SYNACK_TOOL_OWN_DRAW_H

#include <stdbool.h>
#include <stddef.h>

#include "stack_series.h"
#include "trace.h"

#define OWN_DRAW_PLOTS 4

struct own_draw_opts {
    const char *svg, *html, *series;
    const char *plot_file[OWN_DRAW_PLOTS];
    int plot_kind[OWN_DRAW_PLOTS];     /* enum trace_plot_kind */
    int nplot;
    bool all;                          /* --all: every packet in the ladders */
    size_t series_max;                 /* --series-max: samples per connection (0: default) */
};

/* The help text of these options (the lines after the command's own). */
extern const char own_draw_help[];
/* Any picture asked for (a capture must be kept). */
bool own_draw_wanted(const struct own_draw_opts *o);
/* The stack's series needed (--html, --plot, --series). */
bool own_draw_sampling(const struct own_draw_opts *o);
/* --plot KIND FILE: KIND in `kind`, FILE the next argument, taken from
 * argv[*next] (which moves on).  Returns false after a message. */
bool own_draw_plot_opt(struct own_draw_opts *o, const char *cmd, const char *kind, int argc,
                       char **argv, int *next);
/* --series-max N.  Returns false after a message. */
bool own_draw_series_max_opt(struct own_draw_opts *o, const char *cmd, const char *arg);
/* Write what o asks for.  x: names, notes (may be NULL); ss: the series
 * (may be NULL).  Returns 0, or -1 after a message. */
int own_draw_files(const struct own_draw_opts *o, const char *cmd, const struct trace *t,
                   struct trace_extra *x, const struct stack_series *ss);

#endif
