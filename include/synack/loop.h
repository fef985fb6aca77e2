/* synack event loop: drives a sans-IO stack on a device (dev.h) with the
 * real clock (CLOCK_MONOTONIC, microseconds) and epoll.
 *
 * It is a small convenience, not part of the core: a program with its own
 * loop instead watches synack_dev_fd(), calls synack_dev_recv() with
 * synack_stack_input as the receiver when it is readable, and
 * synack_stack_advance() when synack_stack_next_deadline() has passed.
 *
 * Each synack_loop_run_once() call:
 *   1. sleeps until the earliest deadline or `until`, whichever is first,
 *      or until the device or a watched descriptor is ready: exactly, with a
 *      timerfd armed at the absolute deadline (nanosecond resolution, not
 *      epoll_wait's milliseconds); when a deadline has already passed it
 *      does not sleep but still looks for input;
 *   2. reads a batch of packets into the receiver (the stack, or the
 *      function of synack_loop_set_rx), flushes the device's backlog when it
 *      became writable, calls the watched descriptors' functions;
 *   3. runs what is due: the stack's timers, the device's (ARP), those of
 *      the extra timer sources (synack_loop_add_timer), repeating while a
 *      deadline is still <= now (next_deadline may be early: never late),
 *      and returns.
 * Input goes before timers: packets waiting in the device when a deadline
 * has passed arrived before it was handled (an ACK waiting there must not
 * be beaten by the retransmission timer it would have stopped).
 * The application does its socket work between two calls (in the readiness
 * callback of synack_set_event_cb, or by polling), so that one thread owns
 * the stack and nothing runs re-entrantly.
 */
#ifndef SYNACK_LOOP_H
#define SYNACK_LOOP_H

#include <stdint.h>

#include "synack/base.h"
#include "synack/dev.h"
#include "synack/stack.h"

#ifdef __cplusplus
extern "C" {
#endif

struct synack_loop;

/* A loop for one stack on one device (both the caller's; neither is freed
 * by the loop).  Advances the stack to the current time (a new stack's
 * clock is at 0).  Returns 0 and *out, or a negative errno. */
SYNACK_API int synack_loop_new(struct synack_stack *s, struct synack_dev *d, struct synack_loop **out);
SYNACK_API void synack_loop_free(struct synack_loop *l);

/* Receive the device's packets in fn instead of synack_stack_input (to
 * capture, trace or impair them on the way; fn passes them on).  After each
 * device read the loop calls synack_stack_input_flush() on its stack, so fn
 * may hand the packets it passes on straight away to synack_stack_input_meta
 * with SYNACK_RX_BATCH (one ACK per connection per batch, as with the
 * default receiver); packets it holds back (an impairment's delay) it passes
 * on without the flag. */
SYNACK_API void synack_loop_set_rx(struct synack_loop *l, synack_dev_rx_fn fn, void *user);
/* The same for a receiver that takes the packets' SYNACK_RX_* flags (the
 * default receiver, the stack, does: synack_stack_input_meta).  Each packet
 * of a device read comes with SYNACK_RX_BATCH, and after the read the loop
 * calls synack_stack_input_flush() on its stack: the ACKs go once per
 * connection per batch. */
SYNACK_API void synack_loop_set_rx_meta(struct synack_loop *l, synack_dev_rx_meta_fn fn, void *user);

/* Another sans-IO component with deadlines (an impairment queue, an
 * application timer).  At most SYNACK_LOOP_MAX_TIMERS.  Returns 0 or -ENOSPC. */
#define SYNACK_LOOP_MAX_TIMERS 8
typedef synack_time_t (*synack_loop_deadline_fn)(void *user);
typedef void (*synack_loop_advance_fn)(void *user, synack_time_t now);
SYNACK_API int synack_loop_add_timer(struct synack_loop *l, synack_loop_deadline_fn next,
                          synack_loop_advance_fn advance, void *user);

/* Watch a descriptor of the caller's (a signalfd, a pipe): fn gets the
 * epoll events (EPOLLIN, ...).  At most SYNACK_LOOP_MAX_WATCHES.  Returns 0
 * or a negative errno (-ENOSPC, epoll_ctl's). */
#define SYNACK_LOOP_MAX_WATCHES 8
typedef void (*synack_loop_fd_fn)(void *user, int fd, uint32_t events);
SYNACK_API int synack_loop_watch(struct synack_loop *l, int fd, uint32_t events, synack_loop_fd_fn fn,
                      void *user);
SYNACK_API int synack_loop_unwatch(struct synack_loop *l, int fd);

/* One round, as above, sleeping at most until `until` (an absolute time on
 * synack_clock_now's clock; SYNACK_TIME_NEVER: no limit; 0: do not sleep).
 * Returns the number of things it handled (timer runs, descriptor events),
 * or a negative errno if epoll fails. */
SYNACK_API int synack_loop_run_once(struct synack_loop *l, synack_time_t until);

struct synack_loop_stats {
    uint64_t rounds;        /* run_once calls */
    uint64_t sleeps;        /* rounds that waited in epoll */
    uint64_t timer_wakeups; /* sleeps ended by the deadline timer */
    uint64_t late_max_us;   /* worst lateness of a deadline wake-up */
    uint64_t late_total_us; /* summed lateness (average = total / timer_wakeups) */
    uint64_t timer_runs;    /* advance calls made because a deadline had passed */
    uint64_t dev_events;    /* device readiness events */
};
SYNACK_API void synack_loop_stats(const struct synack_loop *l, struct synack_loop_stats *out);

#ifdef __cplusplus
}
#endif
#endif
