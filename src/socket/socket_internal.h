/* Between the socket API's files (socket.c: descriptors and the calls of
 * one buffer; socket_msg.c: the scatter/gather calls; socket_zc.c: the
 * zero-copy calls). */
#ifndef SYNACK_SOCKET_INTERNAL_H
#define SYNACK_SOCKET_INTERNAL_H

#include "core/stack_internal.h"

struct sn_tcb;

/* The connection of descriptor fd, or NULL when fd is not open. */
struct sn_tcb *sn_sock_tcb(struct synack_stack *s, int fd);

#endif
