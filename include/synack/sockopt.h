/* Every socket option synack supports, with its level, value type and
 * meaning.  setsockopt/getsockopt (socket.h) with any other (level, name)
 * fail with ENOPROTOOPT.  Values are ints unless said otherwise; the
 * meanings are Linux's (socket(7), ip(7), tcp(7)), with the differences said.
 * As on Linux, a connection accept() returns starts with its listener's
 * TCP_NODELAY, SO_KEEPALIVE and TCP_KEEP*, SO_LINGER, SO_SNDBUF/SO_RCVBUF,
 * TCP_MAXSEG, TCP_CONGESTION, TCP_QUICKACK, SO_RCVLOWAT, TCP_USER_TIMEOUT,
 * IP_TOS and IP_TTL (these two already on its SYN-ACK); not O_NONBLOCK.
 *
 * The list is also a macro, so that a program (or a test) can walk it:
 *   SYNACK_SOCKOPTS(X) calls X(level, name, access) for each option, where
 *   access is SYNACK_OPT_RW or SYNACK_OPT_RO (getsockopt only: setsockopt
 *   fails with ENOPROTOOPT, as on Linux).
 *
 * SOL_SOCKET
 *   SO_ERROR       RO  the pending error (positive errno), cleared by reading
 *   SO_TYPE        RO  SOCK_STREAM
 *   SO_ACCEPTCONN  RO  1 on a listener
 *   SO_KEEPALIVE   RW  keepalive probes (RFC 1122 4.2.3.6) after TCP_KEEPIDLE
 *   SO_LINGER      RW  struct linger: {1, 0} makes close() reset; {1, t}
 *                      limits how long close() keeps sending (t seconds)
 *   SO_REUSEADDR   RW  bind() may take a port held by connections (TIME-WAIT
 *                      included), never one a listener holds
 *   SO_SNDBUF      RW  send buffer, 1 KiB .. 64 MiB (not doubled as on Linux)
 *   SO_RCVBUF      RW  receive buffer, same range
 *   SO_RCVLOWAT    RW  poll() reports POLLIN from this many bytes (default
 *                      1; a full buffer, EOF or an error is readable anyway)
 *   SO_SNDLOWAT    RO  1 (Linux does not let it change: setsockopt ENOPROTOOPT)
 *   SO_OOBINLINE   RW  accepted and reported; urgent data is always inline
 *                      (RFC 6093 4), whatever its value
 * IPPROTO_IP
 *   IP_TOS         RW  TOS byte of the packets sent; the two ECN bits are
 *                      TCP's and kept clear, as Linux does for TCP sockets
 *   IP_TTL         RW  TTL of the packets sent, 1..255; -1: the stack's
 *                      cfg.ttl (what getsockopt then reports)
 * IPPROTO_TCP
 *   TCP_NODELAY    RW  Nagle's algorithm off
 *   TCP_CORK       RW  hold partial segments until uncorked (setting 0 sends
 *                      them), a full segment or the FIN, and at most 200 ms
 *                      (Linux's ceiling; MSG_MORE's held tail too)
 *   TCP_QUICKACK   RW  1: Linux's quick-ACK mode for this connection (and the
 *                      children of a listener): the first data segments (up
 *                      to 16) and those after an idle spell longer than the
 *                      RTO are ACKed at once, and an ACK being delayed goes
 *                      now; 0 (the default, unlike Linux): delayed ACKs
 *                      (RFC 1122 4.2.3.2).  Kept until changed, where Linux
 *                      calls its flag "not permanent".
 *   TCP_MAXSEG     RW  before connect/listen: the MSS offered, and the most
 *                      sent (88..65495); once connected, reads the send MSS
 *   TCP_KEEPIDLE   RW  seconds idle before the first probe (1..32767)
 *   TCP_KEEPINTVL  RW  seconds between probes (1..32767)
 *   TCP_KEEPCNT    RW  unanswered probes before the connection is dropped (1..127)
 *   TCP_CONGESTION RW  char[16]: "cubic" (default), "newreno" or "reno";
 *                      an unknown name: ENOENT
 *   TCP_USER_TIMEOUT RW  ms that sent data may stay unacknowledged (or a
 *                      zero window unopened) before the connection is reset
 *                      with ETIMEDOUT (RFC 5482); 0: off (the retry counts)
 *   TCP_INFO       RO  struct synack_tcp_info (socket.h), not Linux's struct
 */
#ifndef SYNACK_SOCKOPT_H
#define SYNACK_SOCKOPT_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define SYNACK_OPT_RW 0
#define SYNACK_OPT_RO 1

#define SYNACK_SOCKOPTS(X)                           \
    X(SOL_SOCKET, SO_ERROR, SYNACK_OPT_RO)           \
    X(SOL_SOCKET, SO_TYPE, SYNACK_OPT_RO)            \
    X(SOL_SOCKET, SO_ACCEPTCONN, SYNACK_OPT_RO)      \
    X(SOL_SOCKET, SO_KEEPALIVE, SYNACK_OPT_RW)       \
    X(SOL_SOCKET, SO_LINGER, SYNACK_OPT_RW)          \
    X(SOL_SOCKET, SO_REUSEADDR, SYNACK_OPT_RW)       \
    X(SOL_SOCKET, SO_SNDBUF, SYNACK_OPT_RW)          \
    X(SOL_SOCKET, SO_RCVBUF, SYNACK_OPT_RW)          \
    X(SOL_SOCKET, SO_RCVLOWAT, SYNACK_OPT_RW)        \
    X(SOL_SOCKET, SO_SNDLOWAT, SYNACK_OPT_RO)        \
    X(SOL_SOCKET, SO_OOBINLINE, SYNACK_OPT_RW)       \
    X(IPPROTO_IP, IP_TOS, SYNACK_OPT_RW)             \
    X(IPPROTO_IP, IP_TTL, SYNACK_OPT_RW)             \
    X(IPPROTO_TCP, TCP_NODELAY, SYNACK_OPT_RW)       \
    X(IPPROTO_TCP, TCP_CORK, SYNACK_OPT_RW)          \
    X(IPPROTO_TCP, TCP_QUICKACK, SYNACK_OPT_RW)      \
    X(IPPROTO_TCP, TCP_MAXSEG, SYNACK_OPT_RW)        \
    X(IPPROTO_TCP, TCP_KEEPIDLE, SYNACK_OPT_RW)      \
    X(IPPROTO_TCP, TCP_KEEPINTVL, SYNACK_OPT_RW)     \
    X(IPPROTO_TCP, TCP_KEEPCNT, SYNACK_OPT_RW)       \
    X(IPPROTO_TCP, TCP_CONGESTION, SYNACK_OPT_RW)    \
    X(IPPROTO_TCP, TCP_USER_TIMEOUT, SYNACK_OPT_RW)  \
    X(IPPROTO_TCP, TCP_INFO, SYNACK_OPT_RO)

#endif
