/* Ladder diagrams of the connections of `synack serve` / `synack connect`
 * (--trace): one ladder per connection, synack on the left, the kernel on
 * the right.  synack's states are its own (the on_state hook); the kernel's
 * are inferred from the packets seen on the device, as a passive observer
 * would (it sees what synack sends and receives, so the inference is exact
 * up to packets lost on the way).
 *
 * Rows are kept per connection (at most max_rows, the rest counted) and the
 * ladder is printed whole when synack's side reaches TIME-WAIT or CLOSED,
 * or the connection was refused, or at exit: connections running side by
 * side do not interleave their rows. */
#ifndef SYNACK_TOOL_NETTRACE_H
#define SYNACK_TOOL_NETTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "synack/stack.h"

struct nettrace;

int nettrace_new(FILE *out, uint32_t our_addr, unsigned max_rows, synack_time_t t0,
                 struct nettrace **out_t);
/* Prints the ladders still open, then frees. */
void nettrace_free(struct nettrace *t);

/* A packet between synack (side 0) and the kernel (side 1).  Rows for
 * packets synack sends while it processes one it received are held until
 * nettrace_input_done, so that the ladder shows cause before effect. */
void nettrace_packet(struct nettrace *t, int from, const uint8_t *pkt, size_t len,
                     synack_time_t sent, synack_time_t at, const char *fate);
void nettrace_input_begin(struct nettrace *t);
/* The received packet's row (after the stack processed it), then the held ones. */
void nettrace_input_done(struct nettrace *t, const uint8_t *pkt, size_t len, synack_time_t at,
                         const char *fate);
/* synack's state hook. */
void nettrace_state(struct nettrace *t, const struct synack_conn_addr *tu, enum synack_tcp_state from,
                    enum synack_tcp_state to, synack_time_t now);
/* Print the ladders of the connections that ended. */
void nettrace_flush(struct nettrace *t);

#endif
