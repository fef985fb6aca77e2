/* The stack's own view of its connections over time, for the plots of
 * `synack demo`, `serve` and `connect` (--plot, --html, --series): cwnd,
 * ssthresh, bytes in flight, RTO, smoothed RTT and whether a loss is being
 * repaired, read with getsockopt(TCP_INFO) on the connections' descriptors
 * by the tool after each packet the stack took and each timer or call it
 * ran: nothing is printed or kept by the core.
 *
 * Bounded: at most STACK_SERIES_CONNS connections are followed (the first
 * ones watched), each keeps at most `max` samples; when a connection's
 * buffer is full its samples are thinned to half, every other one dropped
 * except those where a recovery episode begins or ends, so that a long run
 * keeps its shape and every episode. */
#ifndef SYNACK_TOOL_STACK_SERIES_H
#define SYNACK_TOOL_STACK_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "synack/stack.h"
#include "trace.h"

#define STACK_SERIES_CONNS 64
#define STACK_SERIES_MAX 4096      /* samples per connection by default */

struct stack_series_conn {
    struct synack_stack *st;
    int fd;
    bool open;                     /* still sampled (the descriptor is this connection's) */
    uint32_t conn_id;              /* from TCP_INFO, 0 until the first sample */
    bool have_ep;
    struct trace_ep self, peer;
    struct trace_stack_sample *s;
    size_t n, cap;
    uint64_t thinned;              /* samples dropped to stay within max */
};

struct stack_series {
    struct stack_series_conn c[STACK_SERIES_CONNS];
    size_t n;
    size_t max;                    /* samples kept per connection, >= 16 */
    uint64_t unwatched;            /* connections beyond STACK_SERIES_CONNS */
};

/* max: samples per connection (0: STACK_SERIES_MAX; at least 16). */
void stack_series_init(struct stack_series *ss, size_t max);
void stack_series_free(struct stack_series *ss);
/* Follow the connection on descriptor fd of stack st (a connected or
 * connecting socket).  Once the descriptor is closed or reused for another
 * connection it is no longer sampled. */
void stack_series_watch(struct stack_series *ss, struct synack_stack *st, int fd);
/* Sample every followed connection of st; t_us: the time in the capture's
 * time base.  A sample equal to the previous one is not kept. */
void stack_series_sample(struct stack_series *ss, struct synack_stack *st, uint64_t t_us);
/* The series of capture connection c: the data sender's when both ends
 * were followed.  Returns false when none matches. */
bool stack_series_find(const struct stack_series *ss, const struct trace_conn *c,
                       struct trace_stack_series *out);
/* JSON lines, one per sample: {"conn":N,"self":"A:P","peer":"A:P","t":S,
 * "cwnd":B,"ssthresh":B|null,"inflight":B,"rto_us":U,"srtt_us":U,
 * "recovery":true|false}.  Returns 0 or -1 (write error). */
int stack_series_json(const struct stack_series *ss, FILE *out);

#endif
