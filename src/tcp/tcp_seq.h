/* Sequence-number arithmetic (RFC 9293 3.4): comparisons are modulo 2^32 and
 * are only ever made through these helpers, never with a raw `<`. */
#ifndef SYNACK_TCP_SEQ_H
#define SYNACK_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
/* lo <= x < hi */
static inline bool seq_in(uint32_t x, uint32_t lo, uint32_t hi) { return seq_leq(lo, x) && seq_lt(x, hi); }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

/* The acceptability test of RFC 9293 3.10.7.4 first (table 6): a segment of
 * SEG.LEN len at seq against a receive window of wnd bytes from rcv_nxt. */
static inline bool seq_acceptable(uint32_t rcv_nxt, uint32_t wnd, uint32_t seq, uint32_t len)
{
    if (len == 0)
        return wnd == 0 ? seq == rcv_nxt : seq_in(seq, rcv_nxt, rcv_nxt + wnd);
    if (wnd == 0)
        return false;
    return seq_in(seq, rcv_nxt, rcv_nxt + wnd) || seq_in(seq + len - 1, rcv_nxt, rcv_nxt + wnd);
}

#endif
