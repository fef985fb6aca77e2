/* Hierarchical timing wheel (see timer_wheel.h).
 *
 * Placement: a timer expiring at e is kept at the level of the most
 * significant 6-bit digit in which e differs from w->now, in the slot given by
 * e's digit at that level.  Hence, for every timer in the wheel:
 *   - e and w->now agree on every digit above the timer's level;
 *   - at level L >= 1, e's digit L is greater than now's digit L;
 *   - at level 0, e's digit 0 is >= now's digit 0 (e >= now).
 * Consequences used below:
 *   - every timer of level L expires before every timer of level L+1, and the
 *     slots of one level are in expiry order, so the earliest timer sits in
 *     the lowest occupied slot of the lowest non-empty level, found with one
 *     count-trailing-zeros per level (no rotation is needed: at level L no
 *     slot below now's digit L can be occupied);
 *   - the level and slot of a pending timer can be recomputed from
 *     (t->expires, w->now), so the timer needs no extra field for them;
 *   - a level-L slot covers [start, start + 64^L) with start computed from
 *     w->now, which is what sn_wheel_next returns; advancing to start
 *     cascades the slot's timers to strictly lower levels (they agree with the
 *     new now on digit L too), so each timer is moved at most LEVELS-1 times
 *     before it fires, and fires exactly at its expiry (level 0 is 1 us).
 *
 * Semantics the header leaves open:
 *   - sn_wheel_add(w, t, UINT64_MAX) (SYNACK_TIME_NEVER) disarms t, exactly
 *     like sn_wheel_del: "never" is not a deadline.
 *   - An expiry earlier than w->now is stored as w->now (t->expires reads
 *     w->now afterwards): the timer is due and fires at the next advance, and
 *     the non-decreasing firing order holds for the stored expiries.
 *   - sn_wheel_advance to a time earlier than w->now advances to w->now (time
 *     never goes backward; due timers still fire).
 *   - A callback that re-arms any timer for a time <= w->now makes it fire
 *     again within the same sn_wheel_advance call, after the other timers due
 *     at that time.  A callback that always does so never lets advance return.
 *   - Callbacks may add and delete any timer but must not call
 *     sn_wheel_advance themselves.
 *   - Timers with equal expiry fire in a deterministic order, not
 *     necessarily the order they were armed in.
 */
#include "core/timer_wheel.h"

#include <stddef.h>

#define SLOT_MASK ((uint64_t)SN_WHEEL_SLOTS - 1)

static unsigned ctz64(uint64_t x) { return (unsigned)__builtin_ctzll(x); }

static unsigned level_of(uint64_t expires, uint64_t now)
{
    uint64_t diff = expires ^ now;
    if (diff == 0)
        return 0;
    return (unsigned)(63 - __builtin_clzll(diff)) / SN_WHEEL_BITS;
}

static unsigned slot_of(uint64_t expires, unsigned level)
{
    return (unsigned)((expires >> (level * SN_WHEEL_BITS)) & SLOT_MASK);
}

/* First time covered by slot s of level L, given the wheel time now: now's
 * digits above L, digit L = s, lower digits 0.  The top level spans bits
 * 60..63, where the shift for "digits above" would reach 66 bits. */
static uint64_t slot_start(uint64_t now, unsigned level, unsigned s)
{
    unsigned shift = level * SN_WHEEL_BITS;
    unsigned above = shift + SN_WHEEL_BITS;
    uint64_t high = above >= 64 ? 0 : (now >> above) << above;
    return high | ((uint64_t)s << shift);
}

static void link_head(struct sn_timer **head, struct sn_timer *t)
{
    t->next = *head;
    if (t->next)
        t->next->pprev = &t->next;
    *head = t;
    t->pprev = head;
}

static void unlink_timer(struct sn_timer *t)
{
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    t->next = NULL;
    t->pprev = NULL;
}

/* Put t (not linked, expires >= w->now) in its slot; count untouched. */
static void place(struct sn_wheel *w, struct sn_timer *t)
{
    unsigned level = level_of(t->expires, w->now);
    unsigned s = slot_of(t->expires, level);
    link_head(&w->slot[level][s], t);
    w->occupied[level] |= (uint64_t)1 << s;
}

/* Move the list of slot (level, s) to *head, leaving the slot empty.  The
 * first timer's pprev then points at *head, so sn_wheel_del still works on
 * timers of the detached list. */
static void detach_slot(struct sn_wheel *w, unsigned level, unsigned s, struct sn_timer **head)
{
    *head = w->slot[level][s];
    w->slot[level][s] = NULL;
    w->occupied[level] &= ~((uint64_t)1 << s);
    if (*head)
        (*head)->pprev = head;
}

/* Lowest non-empty level, or SN_WHEEL_LEVELS when the wheel is empty. */
static unsigned lowest_level(const struct sn_wheel *w)
{
    unsigned level = 0;
    while (level < SN_WHEEL_LEVELS && w->occupied[level] == 0)
        level++;
    return level;
}

void sn_wheel_init(struct sn_wheel *w, uint64_t now)
{
    *w = (struct sn_wheel){.now = now, .hint = UINT64_MAX};
}

void sn_wheel_add(struct sn_wheel *w, struct sn_timer *t, uint64_t expires)
{
    sn_wheel_del(w, t);
    if (expires == UINT64_MAX)
        return;
    t->expires = expires < w->now ? w->now : expires;
    place(w, t);
    w->count++;
    if (t->expires < w->hint)
        w->hint = t->expires;
}

void sn_wheel_del(struct sn_wheel *w, struct sn_timer *t)
{
    if (!t->pprev)
        return;
    unlink_timer(t);
    /* For a timer in the wheel the recomputed slot is the one it was in.  For
     * a timer of a list detached by sn_wheel_advance it is some slot whose bit
     * already matches its content; either way the bit stays exact. */
    unsigned level = level_of(t->expires, w->now);
    unsigned s = slot_of(t->expires, level);
    if (!w->slot[level][s])
        w->occupied[level] &= ~((uint64_t)1 << s);
    if (--w->count == 0)
        w->hint = UINT64_MAX; /* empty: the hint is exact */
}

uint64_t sn_wheel_next(const struct sn_wheel *w)
{
    unsigned level = lowest_level(w);
    if (level == SN_WHEEL_LEVELS)
        return UINT64_MAX;
    return slot_start(w->now, level, ctz64(w->occupied[level]));
}

void sn_wheel_advance(struct sn_wheel *w, uint64_t now,
                      void (*fire)(struct sn_timer *t, void *arg), void *arg)
{
    if (now < w->now)
        now = w->now;
    for (;;) {
        unsigned level = lowest_level(w);
        if (level == SN_WHEEL_LEVELS)
            break;
        unsigned s = ctz64(w->occupied[level]);
        uint64_t start = slot_start(w->now, level, s);
        if (start > now)
            break; /* w->now = now below keeps the placement invariant: now < start */
        /* start is the earliest slot's first instant, so moving there keeps
         * every other timer's placement valid. */
        w->now = start;
        struct sn_timer *list;
        detach_slot(w, level, s, &list);
        if (level > 0) {
            while (list) {
                struct sn_timer *t = list;
                unlink_timer(t);
                place(w, t);
            }
            continue;
        }
        /* Level 0: every timer of the list expires at exactly w->now.  Timers
         * (re-)armed by the callbacks for <= w->now land in the slot just
         * emptied and fire on the next turn of the loop. */
        while (list) {
            struct sn_timer *t = list;
            unlink_timer(t);
            w->count--;
            fire(t, arg);
        }
    }
    w->now = now;
    w->hint = sn_wheel_next(w);
}
