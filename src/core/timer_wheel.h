/* Hierarchical timing wheel: one structure serves every timer of a stack, at
 * O(1) cost per add/delete/expiry whatever the number of timers (10 or
 * 1,000,000), with microsecond resolution.
 *
 * SN_WHEEL_LEVELS levels of 64 slots; level L slot covers 64^L microseconds.
 * A timer sits in the level given by how far its expiry is from the wheel's
 * current time, and is cascaded to a lower level when the wheel reaches its
 * slot.  A 64-bit occupancy bitmap per level finds the next non-empty slot
 * with one count-trailing-zeros, so advancing across a long idle gap, and
 * computing the next deadline, cost O(levels), not O(time).
 *
 * Timers are intrusive (embedded in the object they serve); the wheel never
 * allocates.
 */
#ifndef SYNACK_CORE_TIMER_WHEEL_H
#define SYNACK_CORE_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define SN_WHEEL_BITS 6
#define SN_WHEEL_SLOTS (1u << SN_WHEEL_BITS)
#define SN_WHEEL_LEVELS 11 /* 6 * 11 = 66 bits >= 64-bit time */

struct sn_timer {
    struct sn_timer *next, **pprev; /* pprev == NULL: not pending */
    uint64_t expires;
};

struct sn_wheel {
    uint64_t now;                   /* the wheel's current time; only moves forward */
    uint64_t count;                 /* pending timers */
    /* A time <= every pending expiry (UINT64_MAX: none pending): lowered by
     * sn_wheel_add, made exact again by sn_wheel_advance.  A deleted timer
     * may leave it early; it is never late.  Lets a caller skip advancing
     * (and asking for the next deadline) in O(1) while nothing is due. */
    uint64_t hint;
    uint64_t occupied[SN_WHEEL_LEVELS];
    struct sn_timer *slot[SN_WHEEL_LEVELS][SN_WHEEL_SLOTS];
};

void sn_wheel_init(struct sn_wheel *w, uint64_t now);
static inline void sn_timer_init(struct sn_timer *t) { t->next = 0; t->pprev = 0; t->expires = 0; }
static inline bool sn_timer_pending(const struct sn_timer *t) { return t->pprev != 0; }
/* (Re)arm t to fire at `expires`; an expiry <= w->now fires at the next advance
 * (an expiry < w->now is stored as w->now).  expires == UINT64_MAX
 * (SYNACK_TIME_NEVER) disarms t, like sn_wheel_del. */
void sn_wheel_add(struct sn_wheel *w, struct sn_timer *t, uint64_t expires);
/* Disarm t (no-op when not pending). */
void sn_wheel_del(struct sn_wheel *w, struct sn_timer *t);
/* A time <= the earliest pending expiry (equal to it when that timer is in
 * level 0, or when the earliest slot holds it exactly), or UINT64_MAX when
 * nothing is pending.  Calling sn_wheel_advance at that time makes progress. */
uint64_t sn_wheel_next(const struct sn_wheel *w);
/* A time <= every pending expiry, at once (see hint); UINT64_MAX when
 * nothing was armed since the last advance found the wheel empty. */
static inline uint64_t sn_wheel_hint(const struct sn_wheel *w) { return w->hint; }
/* Move to `now`, calling fire(t, arg) for every timer with expires <= now, in
 * non-decreasing order of expiry.  Each timer is removed before its callback,
 * which may re-arm it or arm/disarm others. */
void sn_wheel_advance(struct sn_wheel *w, uint64_t now,
                      void (*fire)(struct sn_timer *t, void *arg), void *arg);

#endif
