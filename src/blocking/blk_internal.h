/* The blocking layer's insides (include/synack/blocking.h).
 *
 * Three files: blk_loop.c owns the stack thread (its two drivers, device
 * and simulator, the eventfd wake-up, stop and free); blk_req.c makes the
 * stack calls for requests in that thread (first attempt, the list of
 * waiting requests, retries on the stack's events, timeouts); blk_api.c is
 * the application side (build a request, queue it, sleep until done).
 *
 * Locking: loop->mu protects the request queue, the `done`/`result` of
 * every request, `stopped`, `callers` and the wake flag.  The list of
 * waiting requests and everything of the stacks belong to the stack thread
 * alone and need no lock. */
#ifndef SYNACK_BLK_INTERNAL_H
#define SYNACK_BLK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "synack/blocking.h"

enum blk_op {
    BLK_OPEN,      /* take a stack over (internal: synack_blk_open) */
    BLK_SOCKET,
    BLK_BIND,
    BLK_LISTEN,
    BLK_SHUTDOWN,
    BLK_CLOSE,
    BLK_SETSOCKOPT,
    BLK_GETSOCKOPT,
    BLK_GETSOCKNAME,
    BLK_GETPEERNAME,
    BLK_CONNECT,
    BLK_ACCEPT,
    BLK_RECV,
    BLK_SEND,
    BLK_POLL,
    BLK_CALL,
};

/* One call, on its caller's stack from submission to completion. */
struct blk_req {
    struct blk_req *next, *prev; /* in the queue (next only), then in the waiting list */
    struct synack_blk *b;
    enum blk_op op;
    int fd;
    int flags;                   /* recv/send flags; shutdown's how; listen's backlog; level */
    int name;                    /* option name */
    int timeout_ms;
    union {
        void *buf;               /* recv, getsockopt */
        const void *cbuf;        /* send, setsockopt */
        struct sockaddr *addr;   /* accept, getsockname, getpeername */
        const struct sockaddr *caddr; /* bind, connect */
        struct pollfd *fds;      /* poll */
        void *arg;               /* call */
    } u;
    size_t len;                  /* buf's length; nfds for poll */
    socklen_t *alen;             /* value-result lengths; setsockopt/bind/connect use clen */
    socklen_t clen;
    synack_blk_fn fn;
    size_t moved;                /* bytes received or queued so far */
    bool started;                /* connect: the SYN is out, waiting for the outcome */
    synack_time_t deadline;      /* on the loop's clock; SYNACK_TIME_NEVER */
    bool kicked;                 /* an event came for its descriptor: try again */
    uint64_t round;              /* the retry round that last tried it */
    /* Under loop->mu. */
    bool done;
    ssize_t result;
    pthread_cond_t cv;
};

struct synack_blk {
    struct synack_blk *next;     /* the loop's handles */
    struct synack_blk_loop *loop;
    struct synack_stack *stack;
    int maxfd;                   /* highest descriptor seen (closed at stop) */
};

/* The counters of synack_blk_loop_stats, written by the stack thread and
 * read by any. */
struct blk_counters {
    _Atomic uint64_t calls, waits, retries, timeouts, wakeups, rounds;
};

struct synack_blk_loop {
    pthread_mutex_t mu;
    pthread_cond_t idle;         /* callers reached 0 */
    pthread_t thread;
    bool thread_started;
    int efd;                     /* eventfd: a call is queued, or stop */
    /* The driver: a device's stack, or a simulator. */
    struct synack_stack *dev_stack;
    struct synack_dev *dev;
    struct synack_loop *dev_loop;
    struct synack_sim *sim;
    synack_time_t sim_base, wall_base; /* sim time = sim_base + (wall now - wall_base) */
    /* Under mu. */
    struct blk_req *qhead, *qtail;
    bool woken;                  /* efd written and not yet drained */
    bool stopping, stopped;
    unsigned callers;            /* application threads inside a call */
    bool tid_set;
    pthread_t tid;               /* the stack thread (calls from it fail with -EDEADLK) */
    /* The stack thread's own. */
    struct blk_req *waiting;     /* requests that wait for an event or their deadline */
    struct synack_blk *handles;
    uint64_t round;              /* retry rounds (sn_blk_run_kicked) */
    bool quit;
    struct blk_counters st;
};

/* blk_req.c, in the stack thread. */
/* The loop's clock: the device's (CLOCK_MONOTONIC) or the simulator's. */
synack_time_t sn_blk_now(const struct synack_blk_loop *l);
/* Take up a new request: make the call; complete it, or keep it waiting. */
void sn_blk_execute(struct synack_blk_loop *l, struct blk_req *r);
/* The earliest deadline of a waiting request, or SYNACK_TIME_NEVER. */
synack_time_t sn_blk_next_deadline(const struct synack_blk_loop *l);
/* The event callback of every stack the loop serves (user: the handle):
 * marks the requests waiting on fd. */
void sn_blk_on_event(void *user, int fd, short events, void *sock_user);
/* True when a marked request waits to be tried again. */
bool sn_blk_kicked(const struct synack_blk_loop *l);
/* Try each marked request once (a request marked again meanwhile waits
 * for the next round). */
void sn_blk_run_kicked(struct synack_blk_loop *l);
/* End the waiting requests whose deadline is <= now. */
void sn_blk_expire(struct synack_blk_loop *l, synack_time_t now);
/* End every waiting request with `err` (stop). */
void sn_blk_cancel_all(struct synack_blk_loop *l, int err);
/* Complete r with `result` and wake its caller; r is gone afterwards. */
void sn_blk_complete(struct synack_blk_loop *l, struct blk_req *r, ssize_t result);

/* blk_loop.c: queue r for the stack thread and sleep until it is done;
 * its result (-ECANCELED once stopped, -EDEADLK from the stack thread). */
ssize_t sn_blk_submit(struct synack_blk_loop *l, struct blk_req *r);

#define SN_BLK_COUNT(l, field) atomic_fetch_add_explicit(&(l)->st.field, 1, memory_order_relaxed)

#endif
