/* The event loop (see include/synack/loop.h): epoll over the device, a
 * timerfd for the earliest deadline, and the caller's descriptors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "synack/loop.h"

/* epoll_event.data.u64 tags: the device, the timerfd, then watch i at TAG_WATCH + i. */
#define TAG_DEV 0
#define TAG_TIMER 1
#define TAG_WATCH 2
#define MAX_EVENTS 16
/* Bound on the due-timer passes of one round: a deadline that is still due
 * after this many advances at the same `now` is the clock's problem, not a
 * reason to spin here. */
#define MAX_TIMER_PASSES 16

struct loop_timer {
    synack_loop_deadline_fn next;
    synack_loop_advance_fn advance;
    void *user;
};

struct loop_watch {
    int fd;                 /* -1: free slot */
    synack_loop_fd_fn fn;
    void *user;
};

struct synack_loop {
    struct synack_stack *stack;
    struct synack_dev *dev;
    int ep, tfd;
    synack_time_t armed;    /* the timerfd's deadline, SYNACK_TIME_NEVER when disarmed */
    bool dev_out;           /* EPOLLOUT is in the device's interest set */
    synack_dev_rx_fn rx;            /* a plain receiver (synack_loop_set_rx), or */
    synack_dev_rx_meta_fn rx_meta;  /* one that takes flags (the stack by default) */
    void *rx_user;
    struct loop_timer timers[SYNACK_LOOP_MAX_TIMERS];
    unsigned ntimers;
    struct loop_watch watches[SYNACK_LOOP_MAX_WATCHES];
    struct synack_loop_stats st;
};

synack_time_t synack_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (synack_time_t)ts.tv_sec * 1000000u + (synack_time_t)ts.tv_nsec / 1000u;
}

static int stack_rx(void *user, const uint8_t *pkt, size_t len, synack_time_t now,
                    unsigned rx_flags)
{
    return synack_stack_input_meta(user, pkt, len, now, rx_flags);
}

/* Each packet of a device read is one of a batch (SYNACK_RX_BATCH): the
 * stack may hold its ACKs until the flush after the batch (see
 * synack_loop_run_once), one per connection instead of one every second
 * segment, as the kernel's GRO would. */
static int batch_rx(void *user, const uint8_t *pkt, size_t len, synack_time_t now,
                    unsigned rx_flags)
{
    const struct synack_loop *l = user;
    return l->rx_meta(l->rx_user, pkt, len, now, rx_flags | SYNACK_RX_BATCH);
}

static int ep_ctl(struct synack_loop *l, int op, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    return epoll_ctl(l->ep, op, fd, &ev) < 0 ? -errno : 0;
}

int synack_loop_new(struct synack_stack *s, struct synack_dev *d, struct synack_loop **out)
{
    if (!s || !d || !out)
        return -EINVAL;
    *out = NULL;
    struct synack_loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->stack = s;
    l->dev = d;
    l->rx_meta = stack_rx;
    l->rx_user = s;
    l->armed = SYNACK_TIME_NEVER;
    for (int i = 0; i < SYNACK_LOOP_MAX_WATCHES; i++)
        l->watches[i].fd = -1;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    int rc = l->ep < 0 || l->tfd < 0 ? -errno : 0;
    if (rc == 0)
        rc = ep_ctl(l, EPOLL_CTL_ADD, synack_dev_fd(d), EPOLLIN, TAG_DEV);
    if (rc == 0)
        rc = ep_ctl(l, EPOLL_CTL_ADD, l->tfd, EPOLLIN, TAG_TIMER);
    if (rc < 0) {
        synack_loop_free(l);
        return rc;
    }
    synack_stack_advance(s, synack_clock_now());
    *out = l;
    return 0;
}

void synack_loop_free(struct synack_loop *l)
{
    if (!l)
        return;
    if (l->ep >= 0)
        close(l->ep);
    if (l->tfd >= 0)
        close(l->tfd);
    free(l);
}

void synack_loop_set_rx(struct synack_loop *l, synack_dev_rx_fn fn, void *user)
{
    l->rx = fn;
    l->rx_meta = fn ? NULL : stack_rx;
    l->rx_user = fn ? user : l->stack;
}

void synack_loop_set_rx_meta(struct synack_loop *l, synack_dev_rx_meta_fn fn, void *user)
{
    l->rx = NULL;
    l->rx_meta = fn ? fn : stack_rx;
    l->rx_user = fn ? user : l->stack;
}

int synack_loop_add_timer(struct synack_loop *l, synack_loop_deadline_fn next,
                          synack_loop_advance_fn advance, void *user)
{
    if (!next || !advance)
        return -EINVAL;
    if (l->ntimers >= SYNACK_LOOP_MAX_TIMERS)
        return -ENOSPC;
    l->timers[l->ntimers++] = (struct loop_timer){next, advance, user};
    return 0;
}

int synack_loop_watch(struct synack_loop *l, int fd, uint32_t events, synack_loop_fd_fn fn,
                      void *user)
{
    if (fd < 0 || !fn)
        return -EINVAL;
    for (int i = 0; i < SYNACK_LOOP_MAX_WATCHES; i++) {
        struct loop_watch *w = &l->watches[i];
        if (w->fd >= 0)
            continue;
        int rc = ep_ctl(l, EPOLL_CTL_ADD, fd, events, TAG_WATCH + (uint64_t)i);
        if (rc < 0)
            return rc;
        *w = (struct loop_watch){fd, fn, user};
        return 0;
    }
    return -ENOSPC;
}

int synack_loop_unwatch(struct synack_loop *l, int fd)
{
    for (int i = 0; i < SYNACK_LOOP_MAX_WATCHES; i++) {
        if (l->watches[i].fd == fd) {
            l->watches[i].fd = -1;
            return ep_ctl(l, EPOLL_CTL_DEL, fd, 0, 0);
        }
    }
    return -ENOENT;
}

static synack_time_t next_deadline(const struct synack_loop *l)
{
    synack_time_t t = synack_stack_next_deadline(l->stack);
    synack_time_t d = synack_dev_next_deadline(l->dev);
    if (d < t)
        t = d;
    for (unsigned i = 0; i < l->ntimers; i++) {
        d = l->timers[i].next(l->timers[i].user);
        if (d < t)
            t = d;
    }
    return t;
}

/* Run everything due at `now`; a deadline that was only a lower bound
 * (synack_stack_next_deadline may be early) yields a new one, so repeat. */
static int run_due(struct synack_loop *l, synack_time_t now)
{
    int runs = 0;
    for (int pass = 0; pass < MAX_TIMER_PASSES; pass++) {
        bool any = false;
        if (synack_stack_next_deadline(l->stack) <= now) {
            synack_stack_advance(l->stack, now);
            any = true;
            runs++;
        }
        if (synack_dev_next_deadline(l->dev) <= now) {
            synack_dev_advance(l->dev, now);
            any = true;
            runs++;
        }
        for (unsigned i = 0; i < l->ntimers; i++) {
            if (l->timers[i].next(l->timers[i].user) <= now) {
                l->timers[i].advance(l->timers[i].user, now);
                any = true;
                runs++;
            }
        }
        if (!any)
            break;
    }
    l->st.timer_runs += (uint64_t)runs;
    return runs;
}

/* Arm the timerfd at absolute time t (only when it changes). */
static void arm(struct synack_loop *l, synack_time_t t)
{
    if (t == l->armed)
        return;
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (t != SYNACK_TIME_NEVER) {
        its.it_value.tv_sec = (time_t)(t / 1000000u);
        its.it_value.tv_nsec = (long)(t % 1000000u) * 1000;
    }
    /* A zero it_value disarms; a deadline at time 0 cannot happen (the
     * loop only sleeps for deadlines in the future). */
    if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        l->armed = t;
}

int synack_loop_run_once(struct synack_loop *l, synack_time_t until)
{
    l->st.rounds++;
    synack_time_t now = synack_clock_now();

    bool want_out = synack_dev_want_write(l->dev);
    if (want_out != l->dev_out &&
        ep_ctl(l, EPOLL_CTL_MOD, synack_dev_fd(l->dev), EPOLLIN | (want_out ? EPOLLOUT : 0),
               TAG_DEV) == 0)
        l->dev_out = want_out;

    /* Input before timers: when a deadline has passed (the caller came back
     * late, or the application's work between two calls took long), the
     * packets already waiting in the device are older than the timer that
     * is due, so they are read first (without sleeping) and the timers run
     * after them.  Firing a retransmission timer first would resend data
     * whose ACK sits unread in the device's queue. */
    synack_time_t deadline = next_deadline(l);
    if (until < deadline)
        deadline = until;
    int timeout = 0;
    if (deadline > now) {
        arm(l, deadline);
        timeout = -1;
        l->st.sleeps++;
    }
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(l->ep, evs, MAX_EVENTS, timeout);
    if (n < 0)
        return errno == EINTR ? run_due(l, synack_clock_now()) : -errno;
    now = synack_clock_now();
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        uint32_t ev = evs[i].events;
        if (tag == TAG_DEV) {
            l->st.dev_events++;
            if (ev & EPOLLOUT)
                synack_dev_flush(l->dev);
            if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (l->rx_meta)
                    synack_dev_recv_meta(l->dev, batch_rx, l);
                else
                    synack_dev_recv(l->dev, l->rx, l->rx_user);
                /* The batch is read: the ACKs its packets held go now
                 * (also those of a receiver of synack_loop_set_rx that
                 * passed SYNACK_RX_BATCH on itself). */
                synack_stack_input_flush(l->stack);
            }
        } else if (tag == TAG_TIMER) {
            uint64_t expirations;
            if (read(l->tfd, &expirations, sizeof(expirations)) > 0) {
                l->st.timer_wakeups++;
                uint64_t late = now > l->armed ? now - l->armed : 0;
                l->st.late_total_us += late;
                if (late > l->st.late_max_us)
                    l->st.late_max_us = late;
            }
            l->armed = SYNACK_TIME_NEVER;
        } else {
            struct loop_watch *w = &l->watches[tag - TAG_WATCH];
            if (w->fd >= 0)
                w->fn(w->user, w->fd, ev);
        }
    }
    return n + run_due(l, synack_clock_now());
}

void synack_loop_stats(const struct synack_loop *l, struct synack_loop_stats *out)
{
    *out = l->st;
}
