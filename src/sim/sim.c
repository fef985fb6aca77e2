/* The deterministic network simulator (include/synack/sim.h).
 *
 * Time is virtual.  Pending packet deliveries are ordered on (arrival time,
 * insertion number), so deliveries due at the same time run in the order
 * they were scheduled.  A link direction's deliveries mostly arrive in the
 * order they are sent, so each direction keeps them in a FIFO, and a binary
 * min-heap holds one entry per non-empty FIFO (its head) plus the deliveries
 * that would arrive before their FIFO's tail (reordering, a delay lowered
 * mid-run): the heap stays a few entries deep however many packets are in
 * flight.  Each step runs the earliest of the heap
 * top and the nodes' deadlines; on a tie deliveries run first, then node
 * deadlines in node order.  Every random decision is drawn from the one
 * seeded PRNG, in a fixed order, so a seed replays a run exactly.
 *
 * Node callbacks (input, advance) may call back into the simulator, and a
 * synack stack does: its output callback sends.  Sending may grow the heap,
 * the node or the link arrays, so no pointer into them is held across a
 * callback; events and nodes are copied out first.
 */
#include "synack/sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "sim/sim_internal.h"
#include "synack/pcap.h"

#define SIM_MAX_PKT 65535u          /* the largest IPv4 datagram */
#define SIM_QUEUE_DEFAULT 1000u     /* queue_limit 0 */
#define SIM_MAX_INFLIGHT (1u << 20) /* packets on all links at once: bounds memory when rates are infinite */
#define SIM_MAX_NODES 65536
#define SIM_MAX_LINKS 65536
#define SIM_DUP_GAP 1u              /* a duplicate arrives this many us after the original */
#define SIM_REORDER_EXTRA SYNACK_MSEC(1) /* default reorder_delay is 2 * delay + this */
#define SIM_BUF_SMALL 2048u         /* packets up to this size share buffers of it, */
#define SIM_BUF_KEEP 1024u          /* of which at most this many are kept free */

struct sim_node {
    uint32_t addr;
    struct synack_sim_node_ops ops;
    void *ctx;
    void (*release)(void *ctx); /* NULL: the caller owns ctx */
    sn_sim_input_batch_fn input_batch; /* NULL: ops.input, one packet at a time */
};

struct sim_event {
    synack_time_t time;
    uint64_t seq;
    int link, dir;
    uint8_t *pkt; /* owned by the event; NULL in the heap: the head of dir's FIFO */
    size_t len;
};

/* One direction of a link.  Serialisation is tracked to the nanosecond so
 * that a fast link keeps its rate; a packet leaves at the next whole us. */
struct sim_dir {
    struct synack_link_params p;
    bool impaired; /* p has a loss, duplication, reordering or corruption probability */
    synack_time_t busy_us; /* the link is busy sending until busy_us + busy_ns / 1000 */
    uint32_t busy_ns;      /* < 1000 */
    /* FIFO ring of the start times (rounded up to the us) of the accepted
     * packets whose serialisation had not started at the last send: the queue. */
    synack_time_t *wait;
    uint32_t wait_cap, wait_head, wait_len;
    /* Deliveries in arrival order (a ring of qcap, a power of two); while
     * non-empty, the heap holds an entry for its head. */
    struct sim_event *q;
    uint32_t qcap, qhead, qlen;
    struct synack_sim_link_stats st;
};

struct sim_link {
    int node[2]; /* direction d carries packets from node[d] to node[1 - d] */
    struct sim_dir dir[2];
    struct synack_pcap *pcap;
};

struct synack_sim {
    synack_time_t now;
    struct sn_rng rng;
    struct sim_node *nodes;
    struct sim_link *links;
    struct sim_event *heap;
    size_t nnodes, cap_nodes, nlinks, cap_links, nheap, cap_heap;
    uint64_t seq;
    size_t inflight; /* deliveries pending, in FIFOs and the heap */
    void *bufs;     /* free small buffers, a list through their first bytes */
    uint32_t nbufs;
    synack_sim_observer_fn observer;
    void *observer_user;
};

static const char *const event_names[] = {
    [SYNACK_SIM_SENT] = "sent",
    [SYNACK_SIM_DROP_LOSS] = "drop-loss",
    [SYNACK_SIM_DROP_QUEUE] = "drop-queue",
    [SYNACK_SIM_DUPLICATED] = "duplicated",
    [SYNACK_SIM_CORRUPTED] = "corrupted",
    [SYNACK_SIM_REORDERED] = "reordered",
    [SYNACK_SIM_DELIVERED] = "delivered",
    [SYNACK_SIM_NO_ROUTE] = "no-route",
};

const char *synack_sim_event_name(enum synack_sim_event ev)
{
    if ((unsigned)ev < sizeof(event_names) / sizeof(event_names[0]))
        return event_names[ev];
    return "unknown";
}

/* struct synack_link_params's size per version (see sim.h; the same rule
 * as the stack's config_size). */
static const size_t link_params_size[] = {0, sizeof(struct synack_link_params)};
#define LINK_PARAMS_VERSIONS (sizeof(link_params_size) / sizeof(link_params_size[0]))

static void link_params_defaults(struct synack_link_params *p)
{
    *p = (struct synack_link_params){.delay = SYNACK_MSEC(1)};
}

void synack_link_params_default_versioned(int version, struct synack_link_params *p)
{
    if (p == NULL || version < 1 || (size_t)version >= LINK_PARAMS_VERSIONS)
        return;
    struct synack_link_params d;
    link_params_defaults(&d);
    memcpy(p, &d, link_params_size[version]);
}

/* The caller's parameters of `version` completed with the defaults; false
 * for NULL or an unknown version. */
static bool link_params_import(int version, const struct synack_link_params *p,
                               struct synack_link_params *out)
{
    if (p == NULL || version < 1 || (size_t)version >= LINK_PARAMS_VERSIONS)
        return false;
    link_params_defaults(out);
    memcpy(out, p, link_params_size[version]);
    return true;
}

/* Saturating addition: virtual times stay below SYNACK_TIME_NEVER. */
static synack_time_t time_add(synack_time_t a, synack_time_t b)
{
    if (a >= SYNACK_TIME_NEVER - 1 || b >= SYNACK_TIME_NEVER - 1 - a)
        return SYNACK_TIME_NEVER - 1;
    return a + b;
}

/* Room for `need` elements of `size` bytes in `arr` (capacity *cap): returns
 * the array, perhaps moved, or NULL (arr untouched) when out of memory. */
static void *grow(void *arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return arr;
    size_t n = *cap != 0 ? *cap : 8;
    while (n < need)
        n *= 2;
    void *p = realloc(arr, n * size);
    if (p != NULL)
        *cap = n;
    return p;
}

static bool params_valid(const struct synack_link_params *p)
{
    /* Written so that NaN fails too. */
    return p != NULL && p->loss >= 0.0 && p->loss <= 1.0 && p->dup >= 0.0 && p->dup <= 1.0 &&
           p->reorder >= 0.0 && p->reorder <= 1.0 && p->corrupt >= 0.0 && p->corrupt <= 1.0;
}

/* An impairment is on: the sender's packets need random draws. */
static bool impaired(const struct synack_link_params *p)
{
    return p->loss > 0.0 || p->corrupt > 0.0 || p->reorder > 0.0 || p->dup > 0.0;
}

static void notify(struct synack_sim *sim, int link, int from, int to, enum synack_sim_event ev,
                   const uint8_t *pkt, size_t len)
{
    if (sim->observer != NULL)
        sim->observer(sim->observer_user, sim->now, link, from, to, ev, pkt, len);
}

/* ---- the event heap ------------------------------------------------------ */

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

/* Capacity must have been reserved. */
static void heap_push(struct synack_sim *sim, struct sim_event ev)
{
    size_t i = sim->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(&ev, &sim->heap[parent]))
            break;
        sim->heap[i] = sim->heap[parent];
        i = parent;
    }
    sim->heap[i] = ev;
}

/* Places ev at the root of a heap of nheap entries whose root is vacant. */
static void heap_sift_down(struct synack_sim *sim, struct sim_event ev)
{
    size_t n = sim->nheap, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ev_before(&sim->heap[c + 1], &sim->heap[c]))
            c++;
        if (!ev_before(&sim->heap[c], &ev))
            break;
        sim->heap[i] = sim->heap[c];
        i = c;
    }
    sim->heap[i] = ev;
}

static struct sim_event heap_pop(struct synack_sim *sim)
{
    struct sim_event top = sim->heap[0];
    struct sim_event last = sim->heap[--sim->nheap];
    if (sim->nheap > 0)
        heap_sift_down(sim, last);
    return top;
}

/* ---- construction -------------------------------------------------------- */

int synack_sim_new(uint64_t seed, struct synack_sim **out)
{
    if (out == NULL)
        return -EINVAL;
    struct synack_sim *sim = calloc(1, sizeof(*sim));
    if (sim == NULL)
        return -ENOMEM;
    sn_rng_seed(&sim->rng, seed);
    *out = sim;
    return 0;
}

void synack_sim_free(struct synack_sim *sim)
{
    if (sim == NULL)
        return;
    /* Nodes first: a stack being freed may still send (a listener resets
     * its unaccepted children), and those packets join the heap freed below. */
    for (size_t i = 0; i < sim->nnodes; i++)
        if (sim->nodes[i].release != NULL)
            sim->nodes[i].release(sim->nodes[i].ctx);
    for (size_t i = 0; i < sim->nheap; i++)
        free(sim->heap[i].pkt);
    for (size_t i = 0; i < sim->nlinks; i++)
        for (int d = 0; d < 2; d++) {
            struct sim_dir *dir = &sim->links[i].dir[d];
            for (uint32_t k = 0; k < dir->qlen; k++)
                free(dir->q[(dir->qhead + k) & (dir->qcap - 1)].pkt);
            free(dir->q);
        }
    while (sim->bufs != NULL) {
        void *p = sim->bufs;
        memcpy(&sim->bufs, p, sizeof(void *));
        free(p);
    }
    for (size_t i = 0; i < sim->nlinks; i++) {
        synack_pcap_close(sim->links[i].pcap);
        free(sim->links[i].dir[0].wait);
        free(sim->links[i].dir[1].wait);
    }
    free(sim->heap);
    free(sim->links);
    free(sim->nodes);
    free(sim);
}

int sn_sim_add_node_owned(struct synack_sim *sim, uint32_t addr,
                          const struct synack_sim_node_ops *ops, void *ctx,
                          void (*release)(void *ctx))
{
    if (sim == NULL || ops == NULL || ops->input == NULL ||
        (ops->next_deadline == NULL) != (ops->advance == NULL))
        return -EINVAL;
    for (size_t i = 0; i < sim->nnodes; i++)
        if (sim->nodes[i].addr == addr)
            return -EADDRINUSE; /* routing is by address */
    if (sim->nnodes >= SIM_MAX_NODES)
        return -ENOSPC;
    void *nodes = grow(sim->nodes, &sim->cap_nodes, sim->nnodes + 1, sizeof(*sim->nodes));
    if (nodes == NULL)
        return -ENOMEM;
    sim->nodes = nodes;
    sim->nodes[sim->nnodes] = (struct sim_node){addr, *ops, ctx, release, NULL};
    return (int)sim->nnodes++;
}

void sn_sim_node_batch(struct synack_sim *sim, int node, sn_sim_input_batch_fn fn)
{
    sim->nodes[node].input_batch = fn;
}

int synack_sim_add_node(struct synack_sim *sim, uint32_t addr, const struct synack_sim_node_ops *ops,
                        void *ctx)
{
    return sn_sim_add_node_owned(sim, addr, ops, ctx, NULL);
}

static bool node_valid(const struct synack_sim *sim, int node)
{
    return node >= 0 && (size_t)node < sim->nnodes;
}

int synack_sim_link_versioned(struct synack_sim *sim, int version, int a, int b,
                              const struct synack_link_params *pab,
                              const struct synack_link_params *pba)
{
    struct synack_link_params ab, ba;
    if (pba == NULL)
        pba = pab;
    if (sim == NULL || !node_valid(sim, a) || !node_valid(sim, b) || a == b ||
        !link_params_import(version, pab, &ab) || !link_params_import(version, pba, &ba) ||
        !params_valid(&ab) || !params_valid(&ba))
        return -EINVAL;
    if (sim->nlinks >= SIM_MAX_LINKS)
        return -ENOSPC;
    void *links = grow(sim->links, &sim->cap_links, sim->nlinks + 1, sizeof(*sim->links));
    if (links == NULL)
        return -ENOMEM;
    sim->links = links;
    struct sim_link *l = &sim->links[sim->nlinks];
    *l = (struct sim_link){.node = {a, b}};
    l->dir[0].p = ab;
    l->dir[1].p = ba;
    l->dir[0].impaired = impaired(&ab);
    l->dir[1].impaired = impaired(&ba);
    return (int)sim->nlinks++;
}

/* The direction of `link` whose sender is `from`, or NULL. */
static struct sim_dir *link_dir(const struct synack_sim *sim, int link, int from)
{
    if (sim == NULL || link < 0 || (size_t)link >= sim->nlinks)
        return NULL;
    struct sim_link *l = &sim->links[link];
    if (l->node[0] == from)
        return &l->dir[0];
    if (l->node[1] == from)
        return &l->dir[1];
    return NULL;
}

int synack_sim_link_set_versioned(struct synack_sim *sim, int version, int link, int from,
                                  const struct synack_link_params *p)
{
    struct sim_dir *d = link_dir(sim, link, from);
    struct synack_link_params full;
    if (d == NULL || !link_params_import(version, p, &full) || !params_valid(&full))
        return -EINVAL;
    d->p = full;
    d->impaired = impaired(&full);
    return 0;
}

int synack_sim_link_stats(const struct synack_sim *sim, int link, int from,
                          struct synack_sim_link_stats *out)
{
    const struct sim_dir *d = link_dir(sim, link, from);
    if (d == NULL || out == NULL)
        return -EINVAL;
    *out = d->st;
    return 0;
}

int synack_sim_pcap(struct synack_sim *sim, int link, const char *path)
{
    if (sim == NULL || link < 0 || (size_t)link >= sim->nlinks || path == NULL)
        return -EINVAL;
    struct synack_pcap *p;
    int err = synack_pcap_open(path, SYNACK_PCAP_LINKTYPE_RAW, 0, &p);
    if (err != 0)
        return err;
    synack_pcap_close(sim->links[link].pcap);
    sim->links[link].pcap = p;
    return 0;
}

void synack_sim_set_observer(struct synack_sim *sim, synack_sim_observer_fn fn, void *user)
{
    sim->observer = fn;
    sim->observer_user = user;
}

synack_time_t synack_sim_now(const struct synack_sim *sim)
{
    return sim->now;
}

uint64_t synack_sim_random(struct synack_sim *sim)
{
    return sn_rng_next(&sim->rng);
}

/* ---- sending ------------------------------------------------------------- */

static bool chance(struct synack_sim *sim, double p)
{
    /* No draw for a disabled impairment: a clean link uses no randomness. */
    return p > 0.0 && sn_rng_double(&sim->rng) < p;
}

/* A buffer for a packet in flight: small ones (most of them: handshakes,
 * ACKs) are recycled instead of going through malloc and free each. */
static uint8_t *buf_get(struct synack_sim *sim, size_t len)
{
    if (len > SIM_BUF_SMALL)
        return malloc(len);
    void *p = sim->bufs;
    if (p == NULL)
        return malloc(SIM_BUF_SMALL);
    memcpy(&sim->bufs, p, sizeof(void *));
    sim->nbufs--;
    return p;
}

/* `len`: the packet's length, which says which kind of buffer it has. */
static void buf_put(struct synack_sim *sim, uint8_t *p, size_t len)
{
    if (p == NULL)
        return;
    if (len > SIM_BUF_SMALL || sim->nbufs >= SIM_BUF_KEEP) {
        free(p);
        return;
    }
    memcpy(p, &sim->bufs, sizeof(void *));
    sim->bufs = p;
    sim->nbufs++;
}

static int wait_push(struct sim_dir *d, synack_time_t start)
{
    if (d->wait_len == d->wait_cap) {
        uint32_t cap = d->wait_cap != 0 ? d->wait_cap * 2 : 16;
        synack_time_t *w = malloc(cap * sizeof(*w));
        if (w == NULL)
            return -ENOMEM;
        for (uint32_t i = 0; i < d->wait_len; i++)
            w[i] = d->wait[(d->wait_head + i) % d->wait_cap];
        free(d->wait);
        d->wait = w;
        d->wait_cap = cap;
        d->wait_head = 0;
    }
    d->wait[(d->wait_head + d->wait_len++) % d->wait_cap] = start;
    return 0;
}

/* Packets whose serialisation has started by `now` have left the queue. */
static void wait_expire(struct sim_dir *d, synack_time_t now)
{
    while (d->wait_len > 0 && d->wait[d->wait_head] <= now) {
        d->wait_head = (d->wait_head + 1) % d->wait_cap;
        d->wait_len--;
    }
}

/* Room for two more deliveries on d: its FIFO and the heap.  Returns 0 or
 * -ENOMEM. */
static int reserve(struct synack_sim *sim, struct sim_dir *d)
{
    void *heap = grow(sim->heap, &sim->cap_heap, sim->nheap + 2, sizeof(*sim->heap));
    if (heap == NULL)
        return -ENOMEM;
    sim->heap = heap;
    if (d->qlen + 2 <= d->qcap)
        return 0;
    uint32_t cap = d->qcap != 0 ? d->qcap * 2 : 16;
    struct sim_event *q = malloc(cap * sizeof(*q));
    if (q == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < d->qlen; i++)
        q[i] = d->q[(d->qhead + i) & (d->qcap - 1)];
    free(d->q);
    d->q = q;
    d->qcap = cap;
    d->qhead = 0;
    return 0;
}

/* The heap entry that stands for the head of d's FIFO. */
static struct sim_event head_marker(const struct sim_dir *d)
{
    struct sim_event ev = d->q[d->qhead];
    ev.pkt = NULL;
    return ev;
}

/* Schedule a delivery (room reserved): to its direction's FIFO when it
 * arrives no earlier than the FIFO's tail, else straight into the heap. */
static void schedule(struct synack_sim *sim, struct sim_dir *d, struct sim_event ev)
{
    ev.seq = sim->seq++;
    sim->inflight++;
    if (d->qlen > 0 && ev.time < d->q[(d->qhead + d->qlen - 1) & (d->qcap - 1)].time) {
        heap_push(sim, ev);
        return;
    }
    d->q[(d->qhead + d->qlen++) & (d->qcap - 1)] = ev;
    if (d->qlen == 1)
        heap_push(sim, head_marker(d));
}

static int drop_queue(struct synack_sim *sim, int li, int dir, const uint8_t *pkt, size_t len,
                      int err)
{
    struct sim_link *l = &sim->links[li];
    l->dir[dir].st.queue_drops++;
    notify(sim, li, l->node[dir], l->node[1 - dir], SYNACK_SIM_DROP_QUEUE, pkt, len);
    return err;
}

/* Carry a packet over direction `dir` of link `li`: the decisions, in a fixed
 * order (loss, queue, corruption, reordering, duplication), then the events
 * in the heap, then the observer calls. */
static int link_send(struct synack_sim *sim, int li, int dir, const uint8_t *pkt, size_t len)
{
    struct sim_link *l = &sim->links[li];
    struct sim_dir *d = &l->dir[dir];
    const struct synack_link_params *p = &d->p;
    int from = l->node[dir], to = l->node[1 - dir];
    synack_time_t now = sim->now;

    d->st.sent++;
    d->st.bytes += len;
    if (l->pcap != NULL)
        (void)synack_pcap_write(l->pcap, now, pkt, len); /* the error is kept for close */
    notify(sim, li, from, to, SYNACK_SIM_SENT, pkt, len);
    /* The observer may have reentered: look the link up again. */
    l = &sim->links[li];
    d = &l->dir[dir];
    p = &d->p;

    /* A clean link (most runs, and every benchmark) skips the draws, as
     * chance() would: it draws nothing for an impairment that is off. */
    bool imp = d->impaired;
    if (imp && chance(sim, p->loss)) {
        d->st.lost++;
        notify(sim, li, from, to, SYNACK_SIM_DROP_LOSS, pkt, len);
        return 0; /* lost on the wire: the sender cannot tell */
    }

    wait_expire(d, now);
    uint32_t limit = p->queue_limit != 0 ? p->queue_limit : SIM_QUEUE_DEFAULT;
    if (d->wait_len >= limit || sim->inflight + 2 > SIM_MAX_INFLIGHT)
        return drop_queue(sim, li, dir, pkt, len, -ENOBUFS); /* tail drop */

    if (!imp && p->rate_bps == 0 && now < SYNACK_TIME_NEVER - 1 &&
        (d->busy_us < now || (d->busy_us == now && d->busy_ns == 0))) {
        /* A plain link (no impairment, no rate limit: most runs and every
         * benchmark) with nothing being serialised: the packet leaves now
         * and arrives after the delay, as the general path below would
         * have it, without its arithmetic. */
        uint8_t *copy = buf_get(sim, len);
        int err = copy == NULL ? -ENOMEM : reserve(sim, d);
        if (err != 0) {
            buf_put(sim, copy, len);
            return drop_queue(sim, li, dir, pkt, len, err);
        }
        d->busy_us = now;
        d->busy_ns = 0;
        memcpy(copy, pkt, len);
        schedule(sim, d, (struct sim_event){.time = time_add(now, p->delay), .link = li, .dir = dir,
                                          .pkt = copy, .len = len});
        return 0;
    }
    bool corrupt = imp && chance(sim, p->corrupt);
    uint32_t bit = corrupt ? sn_rng_below(&sim->rng, (uint32_t)len * 8u) : 0;
    bool reorder = imp && chance(sim, p->reorder);
    bool dup = imp && chance(sim, p->dup);

    /* Serialisation: the packet starts when the link is free and takes
     * len * 8 / rate seconds; until it starts it waits in the queue. */
    synack_time_t start_us = now;
    uint32_t start_ns = 0;
    if (d->busy_us > now || (d->busy_us == now && d->busy_ns > 0)) {
        start_us = d->busy_us;
        start_ns = d->busy_ns;
    }
    uint8_t *copy = buf_get(sim, len), *copy2 = dup ? buf_get(sim, len) : NULL;
    int err = copy == NULL || (dup && copy2 == NULL) ? -ENOMEM : reserve(sim, d);
    if (err == 0 && (start_us > now || start_ns > 0))
        err = wait_push(d, start_us + (start_ns > 0));
    if (err != 0) {
        buf_put(sim, copy, len);
        buf_put(sim, copy2, len);
        return drop_queue(sim, li, dir, pkt, len, err);
    }
    uint64_t tx_ns = p->rate_bps != 0 ? (uint64_t)len * 8u * 1000000000u / p->rate_bps : 0;
    uint64_t end_ns = start_ns + tx_ns;
    d->busy_us = time_add(start_us, end_ns / 1000u);
    d->busy_ns = (uint32_t)(end_ns % 1000u);
    synack_time_t arrival = time_add(time_add(d->busy_us, d->busy_ns > 0), p->delay);

    memcpy(copy, pkt, len);
    if (corrupt) {
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        d->st.corrupted++;
    }
    if (reorder) {
        synack_time_t extra = p->reorder_delay != 0
                                  ? p->reorder_delay
                                  : time_add(time_add(p->delay, p->delay), SIM_REORDER_EXTRA);
        arrival = time_add(arrival, extra);
        d->st.reordered++;
    }
    schedule(sim, d, (struct sim_event){.time = arrival, .link = li, .dir = dir, .pkt = copy, .len = len});
    if (dup) {
        memcpy(copy2, copy, len);
        schedule(sim, d, (struct sim_event){.time = time_add(arrival, SIM_DUP_GAP), .link = li,
                                          .dir = dir, .pkt = copy2, .len = len});
        d->st.duplicated++;
    }

    /* The event buffers stay valid until delivered, whatever the observer does. */
    if (corrupt)
        notify(sim, li, from, to, SYNACK_SIM_CORRUPTED, copy, len);
    if (reorder)
        notify(sim, li, from, to, SYNACK_SIM_REORDERED, copy, len);
    if (dup)
        notify(sim, li, from, to, SYNACK_SIM_DUPLICATED, copy2, len);
    return 0;
}

static uint32_t load_be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int synack_sim_send(struct synack_sim *sim, int node, const uint8_t *pkt, size_t len)
{
    return sn_sim_send_pkt(sim, node, pkt, len);
}

int sn_sim_send_pkt(struct synack_sim *sim, int node, const uint8_t *pkt, size_t len)
{
    if (sim == NULL || !node_valid(sim, node) || (pkt == NULL && len > 0))
        return -EINVAL;
    if (len > SIM_MAX_PKT)
        return -EMSGSIZE;
    if (len >= 20) {
        uint32_t dst = load_be32(pkt + 16); /* RFC 791 3.1: destination address */
        for (size_t i = 0; i < sim->nlinks; i++) {
            const struct sim_link *l = &sim->links[i];
            for (int dir = 0; dir < 2; dir++)
                if (l->node[dir] == node && sim->nodes[l->node[1 - dir]].addr == dst)
                    return link_send(sim, (int)i, dir, pkt, len);
        }
    }
    notify(sim, -1, node, -1, SYNACK_SIM_NO_ROUTE, pkt, len);
    return -EHOSTUNREACH;
}

/* ---- running ------------------------------------------------------------- */

/* The time of the next event and, if it is a node deadline, the node (else
 * -1).  SYNACK_TIME_NEVER when nothing is pending. */
static synack_time_t next_event(const struct synack_sim *sim, int *node)
{
    synack_time_t t = sim->nheap > 0 ? sim->heap[0].time : SYNACK_TIME_NEVER;
    *node = -1;
    for (size_t i = 0; i < sim->nnodes; i++) {
        const struct sim_node *n = &sim->nodes[i];
        if (n->ops.next_deadline == NULL)
            continue;
        synack_time_t dl = n->ops.next_deadline(n->ctx);
        if (dl < t) { /* strict: deliveries, then lower node ids, win ties */
            t = dl;
            *node = (int)i;
        }
    }
    return t;
}

static void run_event(struct synack_sim *sim, synack_time_t t, int node)
{
    if (t > sim->now)
        sim->now = t; /* a deadline already past runs now */
    if (node >= 0) {
        struct sim_node n = sim->nodes[node];
        n.ops.advance(n.ctx, sim->now);
        return;
    }
    struct sim_event ev = sim->heap[0];
    if (ev.pkt == NULL) {
        /* The head of a FIFO: the next one in it takes its place, in one
         * sift from the root rather than a pop and a push. */
        struct sim_dir *d = &sim->links[ev.link].dir[ev.dir];
        ev = d->q[d->qhead];
        d->qhead = (d->qhead + 1) & (d->qcap - 1);
        if (--d->qlen > 0)
            heap_sift_down(sim, head_marker(d));
        else
            (void)heap_pop(sim);
    } else {
        (void)heap_pop(sim);
    }
    sim->inflight--;
    struct sim_link *l = &sim->links[ev.link];
    int from = l->node[ev.dir], to = l->node[1 - ev.dir];
    l->dir[ev.dir].st.delivered++;
    notify(sim, ev.link, from, to, SYNACK_SIM_DELIVERED, ev.pkt, ev.len);
    struct sim_node n = sim->nodes[to];
    /* A refused packet is the node's business. */
    if (n.input_batch) {
        /* Packets that reach a node at the same instant are one batch, as
         * a driver reads them at one wake-up: is another one next? */
        bool more = false;
        if (sim->nheap > 0 && sim->heap[0].time == ev.time) {
            const struct sim_link *nl = &sim->links[sim->heap[0].link];
            more = nl->node[1 - sim->heap[0].dir] == to;
        }
        (void)n.input_batch(n.ctx, ev.pkt, ev.len, sim->now, more);
    } else {
        (void)n.ops.input(n.ctx, ev.pkt, ev.len, sim->now);
    }
    buf_put(sim, ev.pkt, ev.len);
}

/* The owned nodes (stacks of synack_sim_add_stack) follow the simulator's
 * clock: whenever control returns to the user (a run returns, a done()
 * callback is due), each is advanced to the simulator's time, so that a
 * socket call acts at the time synack_sim_now() says.  Deadlines already
 * due fire here, as they would have as the next event. */
static void sync_clocks(struct synack_sim *sim)
{
    for (size_t i = 0; i < sim->nnodes; i++) {
        const struct sim_node *n = &sim->nodes[i];
        if (n->release != NULL && n->ops.advance != NULL)
            n->ops.advance(n->ctx, sim->now);
    }
}

synack_time_t synack_sim_next_event(const struct synack_sim *sim)
{
    int node;
    return next_event(sim, &node);
}

bool synack_sim_step(struct synack_sim *sim)
{
    int node;
    synack_time_t t = next_event(sim, &node);
    if (t == SYNACK_TIME_NEVER)
        return false;
    run_event(sim, t, node);
    sync_clocks(sim);
    return true;
}

void synack_sim_run_until(struct synack_sim *sim, synack_time_t until)
{
    int node;
    synack_time_t t;
    while ((t = next_event(sim, &node)) != SYNACK_TIME_NEVER && t <= until)
        run_event(sim, t, node);
    if (until != SYNACK_TIME_NEVER && until > sim->now)
        sim->now = until;
    sync_clocks(sim);
}

static bool check_done(struct synack_sim *sim, bool (*done)(void *user), void *user)
{
    sync_clocks(sim);
    return done && done(user);
}

bool synack_sim_run_while(struct synack_sim *sim, bool (*done)(void *user), void *user,
                          synack_time_t limit)
{
    if (check_done(sim, done, user))
        return true;
    for (;;) {
        int node;
        synack_time_t t = next_event(sim, &node);
        if (t == SYNACK_TIME_NEVER)
            return false;
        if (t > limit) {
            if (limit > sim->now)
                sim->now = limit;
            sync_clocks(sim);
            return false;
        }
        run_event(sim, t, node);
        if (check_done(sim, done, user))
            return true;
    }
}
