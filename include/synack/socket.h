/* synack socket API: BSD-shaped calls over a synack stack.
 *
 * They behave like the Linux system calls of the same name and return -1 with
 * errno set on failure (EAGAIN, ECONNREFUSED, EPIPE, ...).  Differences:
 *   - every call takes the stack first; descriptors are small integers local
 *     to that stack;
 *   - nothing ever blocks (the core is sans-IO): a call that would block
 *     fails with EAGAIN (EINPROGRESS for connect) whatever O_NONBLOCK says.
 *     The O_NONBLOCK flag is kept (synack_fcntl) so that drivers such as the
 *     script runner can emulate blocking calls by waiting for readiness;
 *   - calls act at the stack's current time (synack_stack_now()).
 * Addresses are struct sockaddr_in (AF_INET), options use the system's
 * constants (SOL_SOCKET/SO_LINGER, IPPROTO_TCP/TCP_NODELAY, ...);
 * synack/sockopt.h lists every option supported, and any other fails with
 * ENOPROTOOPT.
 *
 * Flags.  send: MSG_OOB (urgent data, below), MSG_MORE (this write's last
 * partial segment waits for the next write, as with TCP_CORK), MSG_DONTWAIT
 * and MSG_NOSIGNAL (accepted; nothing blocks or raises a signal anyway).
 * recv: MSG_PEEK (copy without consuming), MSG_TRUNC (discard up to len
 * bytes instead of copying them, buf unused; with MSG_PEEK only count
 * them), MSG_WAITALL and MSG_DONTWAIT (accepted: as on a non-blocking Linux
 * socket, the call returns what there is; the blocking layer
 * synack/blocking.h waits for all), MSG_OOB fails with EINVAL (urgent data is inline).
 *
 * Errors from the output function (stack.h): a segment it refuses with
 * -EHOSTUNREACH, -ENETUNREACH, -EHOSTDOWN or -ENETDOWN makes connect() fail
 * at once with that error when it is the SYN; later it is kept as Linux's
 * "soft error" and reported (recv/send/SO_ERROR) instead of ETIMEDOUT if
 * the connection times out.  -ENOBUFS (a full device) counts as a loss:
 * TCP sends the segment again, as Linux does for local congestion.
 */
#ifndef SYNACK_SOCKET_H
#define SYNACK_SOCKET_H

#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "synack/stack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The peer shut down its sending side (Linux's POLLRDHUP, which <poll.h>
 * only declares under _GNU_SOURCE). */
#ifdef POLLRDHUP
#define SYNACK_POLLRDHUP POLLRDHUP
#else
#define SYNACK_POLLRDHUP 0x2000
#endif

SYNACK_API int synack_socket(struct synack_stack *s, int domain, int type, int protocol);
SYNACK_API int synack_bind(struct synack_stack *s, int fd, const struct sockaddr *addr, socklen_t len);
SYNACK_API int synack_listen(struct synack_stack *s, int fd, int backlog);
SYNACK_API int synack_accept(struct synack_stack *s, int fd, struct sockaddr *addr, socklen_t *len);
SYNACK_API int synack_connect(struct synack_stack *s, int fd, const struct sockaddr *addr, socklen_t len);
SYNACK_API ssize_t synack_send(struct synack_stack *s, int fd, const void *buf, size_t len, int flags);
SYNACK_API ssize_t synack_recv(struct synack_stack *s, int fd, void *buf, size_t len, int flags);
/* Scatter/gather, as on a Linux TCP socket: the pieces in order, as one
 * send/recv would move them (a short count when the buffer fills or
 * empties).  msg_name and control data do not apply to a stream: ignored on
 * send, msg_namelen/msg_controllen/msg_flags set to 0 on receive.  At most
 * SYNACK_IOV_MAX pieces (EMSGSIZE; EINVAL for readv/writev). */
#define SYNACK_IOV_MAX 1024
SYNACK_API ssize_t synack_sendmsg(struct synack_stack *s, int fd, const struct msghdr *msg,
                                  int flags);
SYNACK_API ssize_t synack_recvmsg(struct synack_stack *s, int fd, struct msghdr *msg, int flags);
SYNACK_API ssize_t synack_writev(struct synack_stack *s, int fd, const struct iovec *iov,
                                 int iovcnt);
SYNACK_API ssize_t synack_readv(struct synack_stack *s, int fd, const struct iovec *iov,
                                int iovcnt);
/* Zero-copy receive and send: the application reads from and writes into
 * the connection's own buffers, without the copy recv/send make (lwIP's
 * pbufs and smoltcp's recv/send closures give the same).  The pointers
 * stay valid until the next call into this stack (any synack_* call on it,
 * input and timers included): use them at once, then consume or commit.
 *
 * synack_recv_peek: describes the bytes waiting to be read, in order, as up
 * to iovcnt pieces pointing into the receive buffer (a piece never crosses
 * one of its 4 KiB chunks, so a long queue needs several).  Returns the bytes
 * described (all that wait, unless iovcnt pieces do not reach), or what
 * recv() returns on an empty buffer: 0 at the end of the stream, or -1 with
 * errno EAGAIN, ECONNRESET, ... ; 0 when iovcnt is 0.  Consumes nothing.
 * synack_recv_consume: drops len bytes from the head of the queue (after the
 * application has used them), as recv() would have, and opens the window
 * (a window update when the peer may be stalled).  Returns 0, or -1 with
 * EINVAL when fewer than len bytes are waiting (nothing dropped), EBADF,
 * ENOTCONN (a listening socket).
 *
 * synack_send_reserve: makes room for up to len bytes after the data queued
 * to send and describes it as up to iovcnt pieces (each within one chunk).
 * Returns the bytes described (fewer than len when the buffer, its memory
 * budget or iovcnt pieces do not reach), 0 when len or iovcnt is 0, or -1
 * with send()'s errors (EAGAIN when the buffer is full or no memory is
 * left, EPIPE, ENOTCONN, ...).  Nothing is sent until the commit.
 * synack_send_commit: appends the first len bytes of the room reserved
 * (which the application has written) to the data to send, and sends what
 * may be sent; a later commit may append more of the same room.  flags:
 * MSG_MORE (as for send()), MSG_DONTWAIT, MSG_NOSIGNAL; others EINVAL.
 * Returns len, or -1 with EINVAL (nothing appended) when len is more than
 * is left of the room, when the stack's last reserve was for another
 * descriptor, or when something else was queued on this one since (a
 * send()); or send()'s errors (the connection was reset or shut down since
 * the reserve).
 * Urgent data (MSG_OOB) goes only through send().
 * Both pairs fail with EBADF on a descriptor not open, EINVAL for iovcnt
 * < 0 or > SYNACK_IOV_MAX, EFAULT for iov NULL with iovcnt > 0. */
SYNACK_API ssize_t synack_recv_peek(struct synack_stack *s, int fd, struct iovec *iov, int iovcnt);
SYNACK_API int synack_recv_consume(struct synack_stack *s, int fd, size_t len);
SYNACK_API ssize_t synack_send_reserve(struct synack_stack *s, int fd, size_t len,
                                       struct iovec *iov, int iovcnt);
SYNACK_API ssize_t synack_send_commit(struct synack_stack *s, int fd, size_t len, int flags);
SYNACK_API int synack_shutdown(struct synack_stack *s, int fd, int how);
SYNACK_API int synack_close(struct synack_stack *s, int fd);
/* A second descriptor for the same connection (like dup(2)): the connection
 * is closed (FIN) only when its last descriptor is closed. */
SYNACK_API int synack_dup(struct synack_stack *s, int fd);
SYNACK_API int synack_setsockopt(struct synack_stack *s, int fd, int level, int name, const void *val,
                      socklen_t len);
SYNACK_API int synack_getsockopt(struct synack_stack *s, int fd, int level, int name, void *val,
                      socklen_t *len);
SYNACK_API int synack_getsockname(struct synack_stack *s, int fd, struct sockaddr *addr, socklen_t *len);
SYNACK_API int synack_getpeername(struct synack_stack *s, int fd, struct sockaddr *addr, socklen_t *len);
/* F_GETFL and F_SETFL (O_NONBLOCK) only. */
SYNACK_API int synack_fcntl(struct synack_stack *s, int fd, int cmd, int arg);
/* Readiness of each descriptor, as poll(2) reports it (POLLIN, POLLOUT,
 * POLLERR, POLLHUP, SYNACK_POLLRDHUP); never waits.  Returns how many have events. */
SYNACK_API int synack_poll(struct synack_stack *s, struct pollfd *fds, nfds_t nfds);

/* Urgent data (RFC 6093 semantics: delivered inline).  send() with MSG_OOB
 * marks the data it writes as urgent (URG flag, urgent pointer just past its
 * last byte).  On receipt, poll() reports POLLPRI until the user has read
 * past the urgent data, and synack_sockatmark() returns 1 when the next byte
 * to read is the last urgent byte (like sockatmark(3)). */
SYNACK_API int synack_sockatmark(struct synack_stack *s, int fd);

/* ---- Callbacks: the contract ----------------------------------------------
 *
 * When they run.  Callbacks (this event callback, the config's on_state
 * hook) run only inside a call the application makes into the stack:
 * synack_stack_input(), synack_stack_advance(), and the socket calls that
 * change a connection (connect, send, recv, shutdown, close, setsockopt...).
 * Never from another thread, never later on their own: a stack does nothing
 * between two calls.  The event callback runs once the connection's state is
 * consistent (after the segment or timer that caused it has been handled),
 * and may report a descriptor whose readiness did not change.
 *
 * What they may do.  Every public call may be made from inside the event
 * callback, on any descriptor of the same stack: read, write, accept, connect, close
 * the descriptor being reported or another one.  A descriptor closed inside
 * a callback gets no further events; memory is released once the stack call
 * that ran the callback returns.  synack_stack_free() from the event
 * callback takes effect then too (nothing is delivered after it).  Events
 * that calls made inside the event callback cause are delivered after it
 * returns, in order, never nested inside it.
 * The output function and the on_state hook run in the middle of
 * processing a packet or timer: they must not call into the same stack
 * (record what they need and return).  Callbacks must not block: the
 * stack and everything on it wait for them.
 *
 * The per-socket pointer (lwIP's tcp_arg): synack_set_user() attaches the
 * application's object to a descriptor, and the event callback receives it
 * as `sock_user`, so a callback finds its object without a lookup.  A
 * descriptor made by accept() or dup() starts with the pointer of the
 * listener or of the duplicated descriptor; close() forgets it. */

/* Called when a descriptor may have become readable, writable, errored or
 * hung up: `events` is what synack_poll() would report for it now.  `user`
 * is synack_set_event_cb's pointer, `sock_user` the descriptor's. */
typedef void (*synack_event_fn)(void *user, int fd, short events, void *sock_user);
SYNACK_API void synack_set_event_cb(struct synack_stack *s, synack_event_fn fn, void *user);
/* Attach `user` to descriptor fd.  Returns 0, or -1 with errno EBADF. */
SYNACK_API int synack_set_user(struct synack_stack *s, int fd, void *user);
/* The pointer attached to fd (NULL when none, or fd is not open). */
SYNACK_API void *synack_get_user(struct synack_stack *s, int fd);

/* Options beyond the system's: IPPROTO_TCP/TCP_CONGESTION takes "cubic"
 * (default), "newreno" or "reno". */

/* Per-connection statistics, like Linux's TCP_INFO (getsockopt IPPROTO_TCP,
 * TCP_INFO with this struct; *len says how much to copy, and fields are only
 * ever appended, so an older program's shorter struct gets its prefix).
 * Times in microseconds, sizes in bytes.
 *   state            enum synack_tcp_state
 *   snd_wscale       the shift the peer applies to its window field (0: none)
 *   rcv_wscale       the shift we apply to ours
 *   options          SYNACK_TCPI_OPT_* negotiated on the SYN exchange
 *   conn_id          the id on_state reports (stable for the connection)
 *   snd_mss          payload bytes per segment we send (after options)
 *   rcv_mss          the MSS we offered
 *   rto              current retransmission timeout (RFC 6298, with backoff)
 *   srtt, rttvar     smoothed RTT and its variation (RFC 6298 2)
 *   snd_cwnd         congestion window (bytes, not segments as on Linux)
 *   snd_ssthresh     slow-start threshold (UINT32_MAX: not yet set)
 *   snd_wnd          the peer's window as last advertised, scaled
 *   rcv_wnd          the window we advertise now, scaled
 *   bytes_in_flight  sent and neither acknowledged nor SACKed (RFC 6675 pipe)
 *   sacked_bytes     above snd_una and SACKed by the peer
 *   retransmits      timeouts of the oldest unacknowledged segment in a row
 *   total_retrans    segments retransmitted over the connection's life
 *   bytes_sent       payload bytes sent, retransmissions included
 *   bytes_acked      payload bytes the peer acknowledged
 *   bytes_received   payload bytes received in order
 *   segs_out/segs_in segments sent / received, pure ACKs included
 *   unread           bytes received and not yet read by the user
 *   unsent           bytes written by the user and not yet sent */
struct synack_tcp_info {
    uint8_t state;             /* enum synack_tcp_state */
    uint8_t snd_wscale, rcv_wscale;
    uint8_t options;           /* SYNACK_TCPI_OPT_* negotiated */
    uint32_t conn_id;
    uint32_t snd_mss, rcv_mss;
    uint32_t rto, srtt, rttvar;
    uint32_t snd_cwnd, snd_ssthresh;  /* bytes */
    uint32_t snd_wnd, rcv_wnd;        /* bytes, scaled */
    uint32_t bytes_in_flight, sacked_bytes;
    uint32_t retransmits;             /* of the current segment (backoff count) */
    uint64_t total_retrans;           /* segments retransmitted over the connection's life */
    uint64_t bytes_sent, bytes_acked, bytes_received;
    uint64_t segs_out, segs_in;
    uint32_t unread, unsent;          /* bytes in the receive / send buffers */
    uint8_t ca_state;                 /* SYNACK_TCP_CA_*: loss recovery, as Linux's tcpi_ca_state */
};
#define SYNACK_TCP_CA_OPEN 0          /* no loss being repaired */
#define SYNACK_TCP_CA_RECOVERY 3      /* fast recovery (RFC 6582, RFC 6675) */
#define SYNACK_TCP_CA_LOSS 4          /* after a retransmission timeout */
#define SYNACK_TCPI_OPT_TIMESTAMPS 1
#define SYNACK_TCPI_OPT_SACK 2
#define SYNACK_TCPI_OPT_WSCALE 4

#ifdef __cplusplus
}
#endif
#endif
