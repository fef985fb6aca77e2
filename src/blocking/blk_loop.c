/* The stack thread (include/synack/blocking.h): its two drivers, the
 * eventfd that wakes it when a call is queued, stop and free.
 *
 * Device: loop.h's event loop, with the eventfd as a watched descriptor
 * (its callback takes the queued calls up) and the waiting requests as a
 * timer source (their deadlines, and "now" while one was marked by an
 * event).  Simulator: the thread maps CLOCK_MONOTONIC onto the simulator's
 * time, runs what is due, takes the queued calls up, and sleeps in ppoll on
 * the eventfd until the next event of the simulator or deadline of a
 * request, whichever is first. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "blocking/blk_internal.h"
#include "synack/loop.h"
#include "synack/sim.h"
#include "synack/socket.h"

/* Take the queued requests (and the wake-up) under the lock.  *stopping:
 * stop was asked for. */
static struct blk_req *take_queue(struct synack_blk_loop *l, bool *stopping)
{
    pthread_mutex_lock(&l->mu);
    if (l->woken) {
        uint64_t v;
        if (read(l->efd, &v, sizeof(v)) > 0)
            SN_BLK_COUNT(l, wakeups);
        l->woken = false;
    }
    struct blk_req *q = l->qhead;
    l->qhead = l->qtail = NULL;
    *stopping = l->stopping;
    pthread_mutex_unlock(&l->mu);
    return q;
}

/* Make the queued calls (or, once stop is asked for, cancel them). */
static void drain(struct synack_blk_loop *l)
{
    bool stopping;
    struct blk_req *q = take_queue(l, &stopping);
    if (stopping)
        l->quit = true;
    while (q) {
        struct blk_req *r = q;
        q = q->next;
        if (stopping)
            sn_blk_complete(l, r, -ECANCELED);
        else
            sn_blk_execute(l, r);
    }
}

/* ---- device ---------------------------------------------------------- */

static void dev_wake(void *user, int fd, uint32_t events)
{
    struct synack_blk_loop *l = user;
    (void)fd;
    (void)events;
    /* The calls act at the current time (the stack's clock only moves when
     * something is due). */
    synack_stack_advance(l->dev_stack, synack_clock_now());
    drain(l);
}

static synack_time_t dev_deadline(void *user)
{
    struct synack_blk_loop *l = user;
    return sn_blk_kicked(l) ? 0 : sn_blk_next_deadline(l);
}

static void dev_advance(void *user, synack_time_t now)
{
    struct synack_blk_loop *l = user;
    sn_blk_run_kicked(l);
    sn_blk_expire(l, now);
}

static void dev_run(struct synack_blk_loop *l)
{
    while (!l->quit) {
        SN_BLK_COUNT(l, rounds);
        if (synack_loop_run_once(l->dev_loop, SYNACK_TIME_NEVER) < 0)
            break; /* epoll failed: nothing more can be waited for */
    }
}

/* ---- simulator -------------------------------------------------------- */

/* The simulator's time that corresponds to now. */
static synack_time_t sim_clock(const struct synack_blk_loop *l)
{
    return l->sim_base + (synack_clock_now() - l->wall_base);
}

/* Sleep in ppoll on the eventfd until simulator time `until` (NEVER: until
 * woken). */
static void sim_sleep(struct synack_blk_loop *l, synack_time_t until)
{
    struct timespec ts, *tp = NULL;
    if (until != SYNACK_TIME_NEVER) {
        synack_time_t now = sim_clock(l);
        if (until <= now)
            return;
        synack_time_t d = until - now;
        ts.tv_sec = (time_t)(d / 1000000u);
        ts.tv_nsec = (long)(d % 1000000u) * 1000;
        tp = &ts;
    }
    struct pollfd p = {.fd = l->efd, .events = POLLIN};
    (void)ppoll(&p, 1, tp, NULL); /* EINTR: go round again */
}

static void sim_run(struct synack_blk_loop *l)
{
    while (!l->quit) {
        SN_BLK_COUNT(l, rounds);
        synack_sim_run_until(l->sim, sim_clock(l)); /* the stacks follow its clock */
        drain(l);
        sn_blk_run_kicked(l);
        sn_blk_expire(l, synack_sim_now(l->sim));
        if (l->quit)
            break;
        if (sn_blk_kicked(l))
            continue;
        synack_time_t t = synack_sim_next_event(l->sim);
        synack_time_t d = sn_blk_next_deadline(l);
        sim_sleep(l, d < t ? d : t);
    }
}

/* ---- the thread --------------------------------------------------------- */

/* The end: later calls fail, queued and waiting ones are cancelled, every
 * descriptor made through the handles is closed, the event callbacks go. */
static void thread_finish(struct synack_blk_loop *l)
{
    pthread_mutex_lock(&l->mu);
    l->stopped = true;
    struct blk_req *q = l->qhead;
    l->qhead = l->qtail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (q) {
        struct blk_req *r = q;
        q = q->next;
        sn_blk_complete(l, r, -ECANCELED);
    }
    sn_blk_cancel_all(l, ECANCELED);
    if (l->dev_stack)
        synack_stack_advance(l->dev_stack, synack_clock_now());
    for (struct synack_blk *b = l->handles; b; b = b->next) {
        synack_set_event_cb(b->stack, NULL, NULL);
        for (int fd = 0; fd <= b->maxfd; fd++)
            (void)synack_close(b->stack, fd);
    }
}

static void *thread_main(void *arg)
{
    struct synack_blk_loop *l = arg;
    pthread_mutex_lock(&l->mu);
    l->tid = pthread_self();
    l->tid_set = true;
    pthread_mutex_unlock(&l->mu);
    if (l->sim)
        sim_run(l);
    else
        dev_run(l);
    thread_finish(l);
    return NULL;
}

static void loop_release(struct synack_blk_loop *l)
{
    while (l->handles) {
        struct synack_blk *b = l->handles;
        l->handles = b->next;
        free(b);
    }
    synack_loop_free(l->dev_loop);
    if (l->efd >= 0)
        close(l->efd);
    pthread_cond_destroy(&l->idle);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static int loop_new(struct synack_blk_loop **out)
{
    struct synack_blk_loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->idle, NULL);
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->efd < 0) {
        int err = -errno;
        loop_release(l);
        return err;
    }
    *out = l;
    return 0;
}

/* Start the thread with every signal blocked (they are the application's
 * threads' business). */
static int loop_start(struct synack_blk_loop *l, struct synack_blk_loop **out)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&l->thread, NULL, thread_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        loop_release(l);
        return -rc;
    }
    pthread_mutex_lock(&l->mu);
    l->thread_started = true;
    pthread_mutex_unlock(&l->mu);
    *out = l;
    return 0;
}

int synack_blk_loop_dev(struct synack_stack *s, struct synack_dev *d, struct synack_blk_loop **out)
{
    if (!s || !d || !out)
        return -EINVAL;
    *out = NULL;
    struct synack_blk_loop *l = NULL; /* (set by loop_new on success; -O3 cannot see it) */
    int rc = loop_new(&l);
    if (rc < 0)
        return rc;
    l->dev_stack = s;
    l->dev = d;
    rc = synack_loop_new(s, d, &l->dev_loop);
    if (rc == 0)
        rc = synack_loop_watch(l->dev_loop, l->efd, POLLIN, dev_wake, l);
    if (rc == 0)
        rc = synack_loop_add_timer(l->dev_loop, dev_deadline, dev_advance, l);
    if (rc < 0) {
        loop_release(l);
        return rc;
    }
    return loop_start(l, out);
}

int synack_blk_loop_sim(struct synack_sim *sim, struct synack_blk_loop **out)
{
    if (!sim || !out)
        return -EINVAL;
    *out = NULL;
    struct synack_blk_loop *l = NULL; /* (set by loop_new on success; -O3 cannot see it) */
    int rc = loop_new(&l);
    if (rc < 0)
        return rc;
    l->sim = sim;
    l->sim_base = synack_sim_now(sim);
    l->wall_base = synack_clock_now();
    return loop_start(l, out);
}

/* Queue r and wake the stack thread (under mu). */
static void enqueue(struct synack_blk_loop *l, struct blk_req *r)
{
    r->next = NULL;
    if (l->qtail)
        l->qtail->next = r;
    else
        l->qhead = r;
    l->qtail = r;
    if (!l->woken) {
        uint64_t one = 1;
        if (write(l->efd, &one, sizeof(one)) == (ssize_t)sizeof(one))
            l->woken = true;
    }
}

ssize_t sn_blk_submit(struct synack_blk_loop *l, struct blk_req *r)
{
    pthread_mutex_lock(&l->mu);
    if (l->stopping || l->stopped) {
        pthread_mutex_unlock(&l->mu);
        return -ECANCELED;
    }
    if (l->tid_set && pthread_equal(l->tid, pthread_self())) {
        pthread_mutex_unlock(&l->mu);
        return -EDEADLK;
    }
    pthread_cond_init(&r->cv, NULL);
    r->done = false;
    l->callers++;
    enqueue(l, r);
    while (!r->done)
        pthread_cond_wait(&r->cv, &l->mu);
    ssize_t rc = r->result;
    if (--l->callers == 0)
        pthread_cond_broadcast(&l->idle);
    pthread_mutex_unlock(&l->mu);
    pthread_cond_destroy(&r->cv);
    return rc;
}

void synack_blk_loop_stop(struct synack_blk_loop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    /* From the stack thread itself (a synack_blk_call function): the thread
     * ends after the current call; a later stop from elsewhere joins it. */
    bool self = l->tid_set && pthread_equal(l->tid, pthread_self());
    bool join = l->thread_started && !self;
    if (join)
        l->thread_started = false;
    l->stopping = true;
    if (join && !l->woken) {
        uint64_t one = 1;
        if (write(l->efd, &one, sizeof(one)) == (ssize_t)sizeof(one))
            l->woken = true;
    }
    pthread_mutex_unlock(&l->mu);
    if (join)
        pthread_join(l->thread, NULL);
}

void synack_blk_loop_free(struct synack_blk_loop *l)
{
    if (!l)
        return;
    synack_blk_loop_stop(l);
    pthread_mutex_lock(&l->mu);
    while (l->callers > 0)
        pthread_cond_wait(&l->idle, &l->mu);
    pthread_mutex_unlock(&l->mu);
    loop_release(l);
}

void synack_blk_loop_stats(struct synack_blk_loop *l, struct synack_blk_loop_stats *out)
{
    out->calls = atomic_load_explicit(&l->st.calls, memory_order_relaxed);
    out->waits = atomic_load_explicit(&l->st.waits, memory_order_relaxed);
    out->retries = atomic_load_explicit(&l->st.retries, memory_order_relaxed);
    out->timeouts = atomic_load_explicit(&l->st.timeouts, memory_order_relaxed);
    out->wakeups = atomic_load_explicit(&l->st.wakeups, memory_order_relaxed);
    out->rounds = atomic_load_explicit(&l->st.rounds, memory_order_relaxed);
}
