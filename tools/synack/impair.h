/* Impairment of one direction of a real link, inside the tool: random loss,
 * duplication, reordering and a fixed delay, drawn from a seeded PRNG (the
 * same seed gives the same choices for the same packet sequence).  Like
 * netem, but it needs no kernel module, and it works on synack's side of
 * the device.  Sans-IO: packets come in with the time, leave through a
 * callback, and held packets wait for impair_advance. */
#ifndef SYNACK_TOOL_IMPAIR_H
#define SYNACK_TOOL_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/base.h"

struct impair_params {
    double loss;                 /* probability a packet is dropped */
    double dup;                  /* probability it is sent twice */
    double reorder;              /* probability it is held back by reorder_delay more */
    synack_time_t delay;         /* added to every packet */
    synack_time_t reorder_delay; /* 0: 2 * delay + 1 ms */
};

/* A packet leaves (sent: when it came in). */
typedef void (*impair_deliver_fn)(void *user, const uint8_t *pkt, size_t len, synack_time_t sent,
                                  synack_time_t now);
/* A packet was dropped; `why` is "lost" or "dropped (queue full)". */
typedef void (*impair_drop_fn)(void *user, const uint8_t *pkt, size_t len, synack_time_t now,
                               const char *why);

struct impair_pkt;

struct impair {
    struct impair_params p;
    uint64_t rng;
    impair_deliver_fn deliver;
    impair_drop_fn drop;
    void *user;
    struct impair_pkt *head, *tail;  /* held packets, by release time */
    uint32_t held;
    size_t held_bytes;
    uint64_t packets, lost, duplicated, reordered, overflow;
};

/* The bounds of what one direction holds (a delay of 10 ms at 1 Gb/s is
 * 1.25 MB in flight). */
#define IMPAIR_MAX_HELD 16384
#define IMPAIR_MAX_BYTES (64u << 20)

void impair_init(struct impair *im, const struct impair_params *p, uint64_t seed,
                 impair_deliver_fn deliver, impair_drop_fn drop, void *user);
void impair_free(struct impair *im);
bool impair_active(const struct impair *im);
void impair_send(struct impair *im, const uint8_t *pkt, size_t len, synack_time_t now);
synack_time_t impair_next(const struct impair *im);
void impair_advance(struct impair *im, synack_time_t now);

#endif
