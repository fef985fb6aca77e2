/* synack blocking layer: plain blocking socket calls, from any thread.
 *
 * An optional layer outside the sans-IO core (it uses a thread, the clock,
 * an eventfd and condition variables; Linux only), for programs that want
 * sockets that wait instead of an event loop of their own.
 *
 * The threading rule.  A stack stays single-threaded: a synack_blk_loop
 * owns one thread, the stack thread, and only that thread ever calls into
 * the stacks it serves.  It runs either
 *   - one stack on a device (dev.h: TUN or TAP), with loop.h's event loop
 *     and the real clock, or
 *   - a simulator (sim.h) and every stack on it, against the real clock:
 *     the simulator's time follows CLOCK_MONOTONIC from the start (one
 *     virtual microsecond per microsecond; a late thread catches up), so
 *     timeouts mean the same thing as on a device.
 * A struct synack_blk is one of those stacks as the application sees it.
 * Its calls may be made from any number of application threads at once:
 * each call becomes a request, queued under the loop's mutex, and the stack
 * thread is woken through an eventfd to make the stack call.  A call that
 * would block (no data, no room in the send buffer, no connection to
 * accept, a handshake under way) stays in the thread's list of pending
 * requests and is tried again when the stack reports an event on its
 * descriptor (readable, writable, connected, reset, closed: the event
 * callback of socket.h, which the layer takes over), never by polling;
 * the caller sleeps on a condition variable until then.  Nothing is
 * allocated per call (a request lives on its caller's stack), so the queue
 * holds at most one request per application thread.
 *
 * While a loop runs, the application must not call the stack, the device
 * or the simulator directly (nor set the stack's event callback): run such
 * code in the stack thread with synack_blk_call().  A synack_blk call made
 * from the stack thread itself (inside synack_blk_call's function) fails
 * with -EDEADLK.
 *
 * Timeouts are in milliseconds, counted on the loop's clock from when the
 * stack thread takes the call up:
 *   < 0  wait as long as it takes;
 *     0  do not wait: a call that would block returns -EAGAIN (connect:
 *        -EINPROGRESS; the handshake goes on);
 *   > 0  wait at most that long, then return -ETIMEDOUT.
 * A read or write that moved some bytes before an error, a timeout or a
 * close returns that count instead (the error comes with the next call),
 * so no byte is ever lost or counted twice.  A connect that times out
 * leaves the handshake going on (close the descriptor to abandon it).
 *
 * Errors are negative errno values with Linux's meanings, as in the rest
 * of the library (not -1 and errno as in socket.h).  -ECANCELED: the loop
 * was stopped (synack_blk_loop_stop) before or while the call waited.
 * Closing a descriptor (synack_blk_close) while other threads wait on it
 * ends their calls at once with -EBADF (or the bytes they moved).
 *
 *   struct synack_blk_loop *loop;
 *   struct synack_blk *b;
 *   synack_blk_loop_dev(stack, dev, &loop);    // or synack_blk_loop_sim(sim, &loop)
 *   synack_blk_open(loop, stack, &b);
 *   int fd = synack_blk_socket(b);
 *   synack_blk_connect(b, fd, (struct sockaddr *)&sin, sizeof(sin), 5000);
 *   synack_blk_write(b, fd, "hello", 5, -1);
 *   ...
 *   synack_blk_loop_free(loop);               // stops, closes, frees
 */
#ifndef SYNACK_BLOCKING_H
#define SYNACK_BLOCKING_H

#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "synack/base.h"
#include "synack/stack.h"

#ifdef __cplusplus
extern "C" {
#endif

struct synack_dev;
struct synack_sim;
struct synack_blk_loop;
struct synack_blk;

/* Start a stack thread for stack `s` on device `d` (both stay the
 * caller's: free them after synack_blk_loop_free).  Returns 0 and *out,
 * or a negative errno (-EINVAL, -ENOMEM, or what eventfd, epoll or
 * pthread_create said). */
SYNACK_API int synack_blk_loop_dev(struct synack_stack *s, struct synack_dev *d,
                                   struct synack_blk_loop **out);
/* Start a stack thread running simulator `sim` (the caller's) against the
 * real clock.  Returns 0 and *out, or a negative errno. */
SYNACK_API int synack_blk_loop_sim(struct synack_sim *sim, struct synack_blk_loop **out);
/* Stop the stack thread: calls waiting or queued return -ECANCELED, later
 * calls too; every descriptor made through the layer (and any other open
 * one with a lower number) is closed, as synack_close does (a FIN, or a
 * RST where data was unread; nothing runs after that: on a simulator, run
 * it to deliver them); the stacks' event callbacks are removed.  Returns
 * when the thread has exited; the stacks, device and simulator are the
 * caller's again.  Idempotent.  Called from the stack thread (in a
 * synack_blk_call function) it only asks: the thread ends after that
 * call, and synack_blk_loop_free, from another thread, joins it. */
SYNACK_API void synack_blk_loop_stop(struct synack_blk_loop *l);
/* Stop (if not yet stopped), wait until no application thread is inside a
 * call of the loop's, and free the loop and its synack_blk handles.
 * Starting a call after it has begun is a use after free.  NULL is fine. */
SYNACK_API void synack_blk_loop_free(struct synack_blk_loop *l);

/* The handle of stack `s` (the loop's stack for a device; for a simulator,
 * any stack added with synack_sim_add_stack, whose clock follows the
 * simulator's): the same handle each time for the same stack.
 * Freed with the loop.  Returns 0 and *out, or -EINVAL (a device loop's
 * other stack), -ENOMEM, -ECANCELED. */
SYNACK_API int synack_blk_open(struct synack_blk_loop *l, struct synack_stack *s,
                               struct synack_blk **out);

/* A TCP socket (AF_INET, SOCK_STREAM): its descriptor, or a negative errno
 * (-EMFILE, -ENOMEM). */
SYNACK_API int synack_blk_socket(struct synack_blk *b);
/* As synack_bind, synack_listen, synack_shutdown, synack_setsockopt,
 * synack_getsockopt, synack_getsockname, synack_getpeername (socket.h,
 * sockopt.h), returning 0 or a negative errno.  shutdown(SHUT_RD) wakes
 * the descriptor's readers (they return what they read, or 0). */
SYNACK_API int synack_blk_bind(struct synack_blk *b, int fd, const struct sockaddr *addr,
                               socklen_t len);
SYNACK_API int synack_blk_listen(struct synack_blk *b, int fd, int backlog);
SYNACK_API int synack_blk_shutdown(struct synack_blk *b, int fd, int how);
SYNACK_API int synack_blk_setsockopt(struct synack_blk *b, int fd, int level, int name,
                                     const void *val, socklen_t len);
SYNACK_API int synack_blk_getsockopt(struct synack_blk *b, int fd, int level, int name,
                                     void *val, socklen_t *len);
SYNACK_API int synack_blk_getsockname(struct synack_blk *b, int fd, struct sockaddr *addr,
                                      socklen_t *len);
SYNACK_API int synack_blk_getpeername(struct synack_blk *b, int fd, struct sockaddr *addr,
                                      socklen_t *len);
/* Close fd (synack_close): calls waiting on it return -EBADF at once (or
 * the bytes they moved).  Returns 0 or -EBADF. */
SYNACK_API int synack_blk_close(struct synack_blk *b, int fd);

/* Connect and wait for the handshake: 0, or -ECONNREFUSED (a RST),
 * -ETIMEDOUT (the stack's SYN retries ran out, or `timeout_ms` expired),
 * -EHOSTUNREACH..., -EINPROGRESS (timeout 0), -EISCONN, -EALREADY. */
SYNACK_API int synack_blk_connect(struct synack_blk *b, int fd, const struct sockaddr *addr,
                                  socklen_t len, int timeout_ms);
/* Wait for a connection on listener fd: the new descriptor (the peer's
 * address in *addr as accept(2) does), or -ETIMEDOUT, -EAGAIN (timeout 0),
 * -EINVAL (not listening), -EBADF. */
SYNACK_API int synack_blk_accept(struct synack_blk *b, int fd, struct sockaddr *addr,
                                 socklen_t *len, int timeout_ms);
/* Receive: wait until there is something to read and return what there is
 * (at most len), 0 at the end of the stream, or a negative errno
 * (-ETIMEDOUT, -EAGAIN for timeout 0, -ECONNRESET, -ENOTCONN...).  flags:
 * MSG_WAITALL (wait until len bytes, the end of the stream, an error or the
 * timeout: a short count only then), MSG_PEEK, MSG_TRUNC, MSG_DONTWAIT (as
 * timeout 0). */
SYNACK_API ssize_t synack_blk_recv(struct synack_blk *b, int fd, void *buf, size_t len,
                                   int flags, int timeout_ms);
/* Send all of buf, waiting for room in the send buffer as needed: returns
 * len, or fewer bytes when an error or the timeout came after some were
 * queued, or a negative errno (-ETIMEDOUT, -EAGAIN for timeout 0, -EPIPE,
 * -ECONNRESET...).  flags: MSG_MORE, MSG_NOSIGNAL (nothing raises a signal
 * anyway), MSG_DONTWAIT (as timeout 0). */
SYNACK_API ssize_t synack_blk_send(struct synack_blk *b, int fd, const void *buf, size_t len,
                                   int flags, int timeout_ms);
/* synack_blk_recv and synack_blk_send with no flags. */
SYNACK_API ssize_t synack_blk_read(struct synack_blk *b, int fd, void *buf, size_t len,
                                   int timeout_ms);
SYNACK_API ssize_t synack_blk_write(struct synack_blk *b, int fd, const void *buf, size_t len,
                                    int timeout_ms);
/* Wait until one of the descriptors has an event (as synack_poll reports
 * them) or the timeout expires: the number with events, 0 on timeout, or a
 * negative errno.  At most SYNACK_BLK_POLL_MAX descriptors (-EINVAL). */
#define SYNACK_BLK_POLL_MAX 1024
SYNACK_API int synack_blk_poll(struct synack_blk *b, struct pollfd *fds, nfds_t nfds,
                               int timeout_ms);

/* Run fn(stack, arg) in the stack thread, between two events, and return
 * its result: the way to make any other call of socket.h, stack.h or
 * sim.h while the loop runs.  fn must not block, and must not call
 * synack_blk_* (-EDEADLK). */
typedef int (*synack_blk_fn)(struct synack_stack *s, void *arg);
SYNACK_API int synack_blk_call(struct synack_blk *b, synack_blk_fn fn, void *arg);

/* What the stack thread did (a snapshot). */
struct synack_blk_loop_stats {
    uint64_t calls;      /* requests handed to the stack thread */
    uint64_t waits;      /* of those, the ones that had to wait */
    uint64_t retries;    /* attempts of waiting requests after an event on their descriptor */
    uint64_t timeouts;   /* requests ended by their timeout */
    uint64_t wakeups;    /* times the stack thread was woken by a call */
    uint64_t rounds;     /* turns of the stack thread's loop (each sleeps at most once) */
};
SYNACK_API void synack_blk_loop_stats(struct synack_blk_loop *l, struct synack_blk_loop_stats *out);

#ifdef __cplusplus
}
#endif
#endif
