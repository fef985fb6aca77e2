/* Ladder diagrams: one row per packet between two hosts, with each side's
 * TCP state, like the figures of RFC 9293 and the textbooks.
 *
 *    time (ms)     client           packet                                       server
 *    0.000→10.000  SYN-SENT         S   seq 0  ack -  win 65535 len 0  --->      SYN-RECEIVED
 *
 * Sequence numbers are relative to each side's ISN (as Wireshark shows them).
 */
#ifndef SYNACK_TOOL_LADDER_H
#define SYNACK_TOOL_LADDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "synack/base.h"
#include "synack/wire.h"

#define LADDER_TAIL_MAX 16   /* rows kept for the tail of a summarised ladder */
#define LADDER_ROW_MAX 512   /* one row, with its options line */

struct ladder {
    FILE *out;
    const char *name[2];       /* "client", "server" */
    uint32_t addr[2];
    bool have_isn[2];
    uint32_t isn[2];           /* ISN of the side that sends in each direction */
    int wscale[2];             /* window scale each side announced on its SYN, -1 if none */
    unsigned rows;             /* packets printed */
    unsigned max_rows;         /* 0 = no limit; beyond it packets are only counted */
    unsigned elided;           /* packets past max_rows not shown */
    /* With tail_rows > 0, the rows past max_rows (events too) are kept in a
     * ring of the last tail_rows instead, printed by ladder_flush_tail. */
    unsigned tail_rows;        /* <= LADDER_TAIL_MAX */
    unsigned tail_len, tail_head;
    bool tail_pkt[LADDER_TAIL_MAX];
    char tail[LADDER_TAIL_MAX][LADDER_ROW_MAX];
    bool options;              /* print TCP options on every packet (else on SYNs only) */
};

void ladder_init(struct ladder *l, FILE *out, const char *left, uint32_t left_addr,
                 const char *right, uint32_t right_addr);
void ladder_header(struct ladder *l);
/* A packet from side `from` (0 left, 1 right).  `fate` is NULL when it was
 * delivered, else a word such as "lost" or "dropped (queue)". */
void ladder_packet(struct ladder *l, synack_time_t sent, synack_time_t at, int from,
                   const uint8_t *pkt, size_t len, const char *left_state,
                   const char *right_state, const char *fate);
/* A row for something that is not a packet: a user call or a timer. */
void ladder_event(struct ladder *l, synack_time_t at, int side, const char *what,
                  const char *left_state, const char *right_state);
/* Print "... N packets not shown" (when some were) and the kept tail rows;
 * elided is reset, so that nothing counts them twice. */
void ladder_flush_tail(struct ladder *l);
/* The options in full ("mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7"). */
int ladder_describe_opts(const struct synack_tcp_opts *o, char *buf, size_t cap);
/* One-line packet description ("S. seq 0 ack 1 win 65535 len 0 <mss 1460,...>"). */
int ladder_describe(struct ladder *l, int from, const uint8_t *pkt, size_t len, char *buf,
                    size_t cap);

#endif
