/* Link impairment for the real-network commands (see impair.h). */
#include "impair.h"

#include <stdlib.h>
#include <string.h>

struct impair_pkt {
    struct impair_pkt *next;
    synack_time_t release, sent;
    size_t len;
    uint8_t data[];
};

/* splitmix64: small, seedable, and good enough to decide fates. */
static uint64_t rng_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool chance(struct impair *im, double p)
{
    if (p <= 0.0)
        return false;
    return (double)(rng_next(&im->rng) >> 11) * (1.0 / 9007199254740992.0) < p;
}

void impair_init(struct impair *im, const struct impair_params *p, uint64_t seed,
                 impair_deliver_fn deliver, impair_drop_fn drop, void *user)
{
    memset(im, 0, sizeof(*im));
    im->p = *p;
    if (im->p.reorder_delay == 0)
        im->p.reorder_delay = 2 * im->p.delay + SYNACK_MSEC(1);
    im->rng = seed;
    im->deliver = deliver;
    im->drop = drop;
    im->user = user;
}

void impair_free(struct impair *im)
{
    while (im->head) {
        struct impair_pkt *q = im->head;
        im->head = q->next;
        free(q);
    }
    im->tail = NULL;
    im->held = 0;
    im->held_bytes = 0;
}

bool impair_active(const struct impair *im)
{
    return im->p.loss > 0 || im->p.dup > 0 || im->p.reorder > 0 || im->p.delay > 0;
}

/* Hold a copy until `release`; the list stays sorted, and packets with the
 * same release time keep their order (most land at the tail). */
static void hold(struct impair *im, const uint8_t *pkt, size_t len, synack_time_t sent,
                 synack_time_t release)
{
    struct impair_pkt *q = NULL;
    if (im->held < IMPAIR_MAX_HELD && im->held_bytes + len <= IMPAIR_MAX_BYTES)
        q = malloc(sizeof(*q) + len);
    if (!q) {
        im->overflow++;
        if (im->drop)
            im->drop(im->user, pkt, len, sent, "dropped (queue full)");
        return;
    }
    q->release = release;
    q->sent = sent;
    q->len = len;
    memcpy(q->data, pkt, len);
    im->held++;
    im->held_bytes += len;
    if (!im->tail || im->tail->release <= release) {
        q->next = NULL;
        if (im->tail)
            im->tail->next = q;
        else
            im->head = q;
        im->tail = q;
        return;
    }
    struct impair_pkt **pp = &im->head;
    while ((*pp)->release <= release)
        pp = &(*pp)->next;
    q->next = *pp;
    *pp = q;
}

void impair_send(struct impair *im, const uint8_t *pkt, size_t len, synack_time_t now)
{
    im->packets++;
    if (chance(im, im->p.loss)) {
        im->lost++;
        if (im->drop)
            im->drop(im->user, pkt, len, now, "lost");
        return;
    }
    int copies = 1;
    if (chance(im, im->p.dup)) {
        im->duplicated++;
        copies = 2;
    }
    for (int i = 0; i < copies; i++) {
        synack_time_t release = now + im->p.delay;
        if (chance(im, im->p.reorder)) {
            im->reordered++;
            release += im->p.reorder_delay;
        }
        if (release <= now && !im->head)
            im->deliver(im->user, pkt, len, now, now);
        else
            hold(im, pkt, len, now, release);
    }
}

synack_time_t impair_next(const struct impair *im)
{
    return im->head ? im->head->release : SYNACK_TIME_NEVER;
}

void impair_advance(struct impair *im, synack_time_t now)
{
    while (im->head && im->head->release <= now) {
        struct impair_pkt *q = im->head;
        im->head = q->next;
        if (!im->head)
            im->tail = NULL;
        im->held--;
        im->held_bytes -= q->len;
        im->deliver(im->user, q->data, q->len, q->sent, now);
        free(q);
    }
}
