/* The stack object and the sans-IO entry points (see include/synack/stack.h). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_check.h"
#include "tcp/tcp_internal.h"

/* The size of struct synack_config as each version had it (index: version).
 * When fields are appended: freeze the last entry at offsetof(the first new
 * field), add sizeof for the new version, raise SYNACK_CONFIG_VERSION. */
static const size_t config_size[] = {0, offsetof(struct synack_config, max_timewait),
                                     offsetof(struct synack_config, offload),
                                     offsetof(struct synack_config, alloc),
                                     offsetof(struct synack_config, max_orphans),
                                     sizeof(struct synack_config)};
#define CONFIG_VERSIONS (sizeof(config_size) / sizeof(config_size[0]))

static void config_defaults(struct synack_config *c)
{
    memset(c, 0, sizeof(*c));
    c->mtu = 1500;
    c->ttl = 64;
    c->seed = 0;
    c->max_conns = 65536;
    c->max_sockets = 65536;
    c->ephemeral_lo = 32768;
    c->ephemeral_hi = 60999;
    c->msl = SYNACK_SEC(30);
    c->rto_initial = SYNACK_SEC(1);
    c->rto_min = SYNACK_MSEC(200);
    c->rto_max = SYNACK_SEC(60);
    c->syn_retries = 6;
    c->synack_retries = 5;
    c->data_retries = 15;
    c->sndbuf = 256 * 1024;
    c->rcvbuf = 256 * 1024;
    c->sack = true;
    c->timestamps = true;
    c->wscale = true;
    c->max_timewait = 262144; /* Linux's tcp_max_tw_buckets: 16 MiB of records at most */
    c->max_syncache = 4096;
    c->syncookies = true;
    c->mem_max = 128u << 20;
    c->frag_mem_max = 4u << 20;
    c->frag_max = 1024;
    c->max_orphans = 8192;
}

/* The defaults without a secret; synack_config_default() (src/dev/random.c,
 * outside the core) adds one from the OS. */
void synack_config_init_versioned(int version, struct synack_config *c)
{
    if (!c || version < 1 || (size_t)version >= CONFIG_VERSIONS)
        return; /* an unknown version: nothing to fill that fits */
    struct synack_config d;
    config_defaults(&d);
    if (version < SYNACK_CONFIG_V2)
        d.seed = 1; /* a version-1 program has no secret to give: its old default */
    memcpy(c, &d, config_size[version]);
}

/* The caller's config, of its version, completed with this release's defaults. */
int sn_config_import(int version, const struct synack_config *c, struct synack_config *out)
{
    if (!c || version < 1 || (size_t)version >= CONFIG_VERSIONS)
        return -EINVAL;
    config_defaults(out);
    memcpy(out, c, config_size[version]);
    return 0;
}

/* One key per use, each a keyed hash of the master key and the use's name,
 * so that what one use reveals (a timestamp offset, a port) says nothing
 * about another's key (an ISN's).  The master key is the caller's secret,
 * or, with an explicit seed, drawn from the seed (replayable runs). */
static void derive_key(const uint64_t master[2], const char *use, uint64_t out[2])
{
    char buf[16] = {0};
    size_t n = strlen(use);
    memcpy(buf, use, n < 15 ? n : 15);
    buf[15] = 0;
    out[0] = sn_siphash(master, buf, sizeof(buf));
    buf[15] = 1;
    out[1] = sn_siphash(master, buf, sizeof(buf));
}

static void stack_keys(struct synack_stack *s, const struct synack_config *c)
{
    uint64_t master[2];
    if (c->seed != 0) {
        uint64_t x = c->seed;
        master[0] = sn_splitmix64(&x);
        master[1] = sn_splitmix64(&x);
    } else {
        master[0] = c->secret[0];
        master[1] = c->secret[1];
    }
    uint64_t rng_key[2];
    derive_key(master, "rng", rng_key);
    sn_rng_seed(&s->rng, rng_key[0] ^ sn_rotl64(rng_key[1], 32));
    derive_key(master, "isn", s->keys.isn);
    derive_key(master, "port", s->keys.port);
    derive_key(master, "cookie", s->keys.cookie);
}

static int config_check(const struct synack_config *c)
{
    if (c->mtu < 68 || c->ephemeral_lo == 0 || c->ephemeral_lo > c->ephemeral_hi)
        return -EINVAL;
    if (c->max_conns == 0 || c->max_sockets == 0 || c->msl == 0 || c->max_syncache == 0)
        return -EINVAL;
    /* Never predictable by accident: no seed and no secret is an error. */
    if (c->seed == 0 && c->secret[0] == 0 && c->secret[1] == 0)
        return -EINVAL;
    if (c->rto_min == 0 || c->rto_min > c->rto_max || c->rto_initial == 0)
        return -EINVAL;
    /* Buffers are bounded so that windows and ring offsets fit in 32 bits
     * with room to spare: 64 MiB is far past any window scale 14 can use. */
    if (c->sndbuf < 1024 || c->rcvbuf < 1024 || c->sndbuf > (64u << 20) || c->rcvbuf > (64u << 20))
        return -EINVAL;
    return 0;
}

int synack_stack_new_versioned(int version, const struct synack_config *cfg,
                               synack_output_fn output, void *user, struct synack_stack **out)
{
    struct synack_config full, *c = &full;
    if (!output || !out || sn_config_import(version, cfg, c) < 0)
        return -EINVAL;
    int rc = config_check(c);
    if (rc < 0)
        return rc;
    /* The stack object itself comes from the caller's allocator too. */
    struct sn_mem boot = {.alloc = c->alloc, .alloc_user = c->alloc_user};
    struct synack_stack *s = sn_mem_calloc(&boot, 1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->mem.alloc = c->alloc;
    s->mem.alloc_user = c->alloc_user;
    s->cfg = *c;
    s->output = output;
    s->user = user;
    stack_keys(s, c);
    s->mem.limit = c->mem_max;
    s->rcv_keep_until = SYNACK_TIME_NEVER;
    sn_wheel_init(&s->wheel, 0);
    s->port_refs = sn_mem_calloc(&s->mem, 65536, sizeof(*s->port_refs));
    s->port_auto = s->port_refs ? sn_mem_calloc(&s->mem, 65536 / 64, sizeof(*s->port_auto)) : NULL;
    rc = s->port_refs && s->port_auto
             ? sn_tuple_init(&s->conns, &s->mem, 64, c->max_conns, sn_rng_next(&s->rng),
                             sn_rng_next(&s->rng))
             : -ENOMEM;
    if (rc == 0) {
        rc = sn_syncache_init(s);
        if (rc < 0)
            sn_tuple_free(&s->conns);
    }
    if (rc < 0) {
        sn_mem_free(&s->mem, s->port_auto);
        sn_mem_free(&s->mem, s->port_refs);
        sn_mem_free(&s->mem, s);
        return rc;
    }
    sn_tw_init(s);
    sn_mem_add_fixed(&s->mem, sizeof(*s) + 65536 * sizeof(*s->port_refs) +
                                  65536 / 64 * sizeof(*s->port_auto) +
                                  (uint64_t)s->conns.nbuckets * sizeof(*s->conns.buckets));
    s->ip_id = (uint16_t)sn_rng_next(&s->rng);
    s->next_conn_id = 1;
    s->challenge_sec = UINT64_MAX; /* no challenge ACK budget drawn yet */
    *out = s;
    return 0;
}

/* The output of a stack being freed: it sends nothing (stack.h), not even
 * the RSTs a closing listener owes its unaccepted children. */
static int output_none(void *user, const uint8_t *pkt, size_t len)
{
    (void)user, (void)pkt, (void)len;
    return 0;
}

void sn_stack_enter(struct synack_stack *s)
{
    s->depth++;
}

void sn_stack_event(struct synack_stack *s, int fd)
{
    /* evq has a slot per descriptor (grown with the table, socket.c), and
     * each descriptor is queued at most once: the ring never overflows. */
    if (!s->on_event || fd < 0 || (uint32_t)fd >= s->nfds || s->ev_pending[fd])
        return;
    s->ev_pending[fd] = 1;
    uint32_t at = s->evq_head + s->nevq++; /* < 2 * evq_cap: a wrap, not a division */
    s->evq[at >= s->evq_cap ? at - s->evq_cap : at] = (uint32_t)fd;
}

void sn_stack_bury(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (s->depth == 0) {
        sn_mem_recycle(&s->mem, tcb, sizeof(*tcb)); /* uncharged by sn_tcb_free */
        return;
    }
    tcb->te.next = s->dead ? &s->dead->te : NULL;
    s->dead = tcb;
}

/* Deliver the queued events, in order, with readiness as it is now.  The
 * callback may queue more (delivered by this same loop), close descriptors
 * (their pending event is dropped) or open new ones. */
static void events_deliver(struct synack_stack *s)
{
    while (s->nevq > 0) {
        uint32_t fd = s->evq[s->evq_head];
        if (++s->evq_head == s->evq_cap)
            s->evq_head = 0;
        s->nevq--;
        s->ev_pending[fd] = 0;
        struct sn_tcb *tcb = fd < s->nfds ? s->fds[fd] : NULL;
        if (tcb && s->on_event && !s->free_pending)
            s->on_event(s->event_user, (int)fd, sn_tcp_poll_events(tcb), s->fd_user[fd]);
    }
}

static void dead_release(struct synack_stack *s)
{
    while (s->dead) {
        struct sn_tcb *tcb = s->dead;
        s->dead = tcb->te.next ? sn_tcb_of_entry(tcb->te.next) : NULL;
        sn_mem_recycle(&s->mem, tcb, sizeof(*tcb)); /* uncharged by sn_tcb_free */
    }
}

static void stack_release(struct synack_stack *s);

void sn_stack_leave(struct synack_stack *s, const char *where)
{
    if (s->depth > 1) {
        s->depth--;
        return;
    }
    /* The outermost call: every connection's processing is over.  Deliver
     * the events with depth still 1, so that calls made by the callback
     * queue theirs behind and defer their frees. */
    events_deliver(s);
    dead_release(s);
    s->depth = 0;
    if (s->free_pending) {
        stack_release(s);
        return;
    }
#ifdef SYNACK_INVARIANTS
    struct sn_check_report r;
    if (sn_check_stack(s, &s->check_cursor, &r) < 0)
        sn_check_fail(s, where, &r);
#else
    (void)where;
#endif
}

void synack_stack_free(struct synack_stack *s)
{
    if (!s)
        return;
    if (s->depth > 0) {
        /* Called from a callback: the calls below it still use the stack. */
        s->free_pending = true;
        return;
    }
    stack_release(s);
}

static void stack_release(struct synack_stack *s)
{
    /* Connections freed but not yet released; events nobody will see. */
    dead_release(s);
    s->nevq = 0;
    s->output = output_none;
    /* Every TCB is reachable from the descriptor table or the 4-tuple table
     * (or a listener's accept queue, freed with the listener).  Those only
     * in the descriptor table go when their last descriptor does. */
    for (uint32_t i = 0; i < s->nfds; i++) {
        struct sn_tcb *tcb = s->fds[i];
        if (!tcb)
            continue;
        s->fds[i] = NULL;
        if (--tcb->refs == 0 && !(tcb->flags & (SN_TF_INTABLE | SN_TF_ACCEPTQ)))
            sn_tcb_free(s, tcb);
    }
    for (uint32_t b = 0; b < s->conns.nbuckets; b++) {
        while (s->conns.buckets[b])
            sn_tcb_free(s, sn_tcb_of_entry(s->conns.buckets[b]));
    }
    sn_tw_free_all(s);
    sn_syncache_free(s);
    sn_ring_cache_free(&s->mem);
    sn_rtxq_cache_free(&s->mem);
    sn_mem_lists_free(&s->mem);
    sn_reass_free(s);
    sn_tuple_free(&s->conns);
    sn_mem_free(&s->mem, s->fds);
    sn_mem_free(&s->mem, s->evq);
    sn_mem_free(&s->mem, s->ev_pending);
    sn_mem_free(&s->mem, s->fd_user);
    sn_mem_free(&s->mem, s->port_auto);
    sn_mem_free(&s->mem, s->port_refs);
    struct sn_mem m = s->mem; /* the allocator outlives the object it frees */
    sn_mem_free(&m, s);
}

static void stack_advance(struct synack_stack *s, synack_time_t now);

int synack_stack_input(struct synack_stack *s, const uint8_t *pkt, size_t len, synack_time_t now)
{
    return synack_stack_input_meta(s, pkt, len, now, 0);
}

int synack_stack_input_meta(struct synack_stack *s, const uint8_t *pkt, size_t len,
                            synack_time_t now, unsigned rx_flags)
{
    sn_stack_enter(s);
    stack_advance(s, now);
    s->rx_flags = rx_flags;
    int rc = sn_ip_input(s, pkt, len);
    s->rx_flags = 0;
    sn_stack_leave(s, "synack_stack_input");
    return rc;
}

void synack_stack_input_flush(struct synack_stack *s)
{
    if (s->nack_held == 0)
        return;
    sn_stack_enter(s);
    sn_tcp_ack_flush(s);
    sn_stack_leave(s, "synack_stack_input_flush");
}

int synack_stack_set_output_meta(struct synack_stack *s, synack_output_meta_fn fn, void *user,
                                 unsigned offload)
{
    if (!s || !fn || (offload & ~(SYNACK_OFFLOAD_CSUM | SYNACK_OFFLOAD_TSO)))
        return -EINVAL;
    if (offload & SYNACK_OFFLOAD_TSO)
        offload |= SYNACK_OFFLOAD_CSUM; /* a segment the output cuts gets its checksums there */
    s->output_meta = fn;
    s->user = user;
    s->offload = offload;
    return 0;
}

unsigned synack_stack_offload(const struct synack_stack *s) { return s->offload; }

static void stack_advance(struct synack_stack *s, synack_time_t now)
{
    if (now < s->now)
        now = s->now;
    s->now = now;
    /* The hints make the common case, nothing due, a few comparisons. */
    if (now >= sn_wheel_hint(&s->wheel))
        sn_wheel_advance(&s->wheel, now, sn_tcp_timer_fire, s);
    if (now >= sn_syncache_hint(&s->syncache))
        sn_syncache_advance(s);
    if (s->reass.head && now >= sn_reass_next(s))
        sn_reass_advance(s);
    if (now >= s->rcv_keep_until)
        sn_tcp_rcv_keep_expire(s);
}

void synack_stack_advance(struct synack_stack *s, synack_time_t now)
{
    if (s->depth == 0 && s->nevq == 0 && !s->dead && now < synack_stack_next_deadline(s)) {
        /* Nothing due and nothing pending: only the clock moves (a
         * simulator advances every stack after every event). */
        if (now > s->now)
            s->now = now;
        return;
    }
    sn_stack_enter(s);
    stack_advance(s, now);
    sn_stack_leave(s, "synack_stack_advance");
}

synack_time_t synack_stack_next_deadline(const struct synack_stack *s)
{
    uint64_t t = sn_wheel_hint(&s->wheel);
    synack_time_t q = sn_syncache_hint(&s->syncache);
    if (q < t)
        t = q;
    if (s->rcv_keep_until < t)
        t = s->rcv_keep_until;
    if (s->reass.head) { /* none in reassembly (the common case): no call */
        q = sn_reass_next(s);
        if (q < t)
            t = q;
    }
    return t == UINT64_MAX ? SYNACK_TIME_NEVER : t;
}

void sn_stack_fix_initial(struct synack_stack *s, uint32_t isn, uint32_t ts_offset)
{
    s->initial_fixed = true;
    s->initial_isn = isn;
    s->initial_ts_offset = ts_offset;
}

synack_time_t synack_stack_now(const struct synack_stack *s) { return s->now; }
uint32_t synack_stack_addr(const struct synack_stack *s) { return s->cfg.addr; }
uint16_t synack_stack_mtu(const struct synack_stack *s) { return s->cfg.mtu; }

void synack_stack_memory(const struct synack_stack *s, struct synack_stack_memory *m)
{
    memset(m, 0, sizeof(*m));
    m->conns = s->nconns;
    m->tcb_bytes = sizeof(struct sn_tcb);
    m->used = s->mem.used;
    m->peak = s->mem.peak;
    m->timewait = s->tw.count;
    m->timewait_peak = s->tw.peak;
    m->timewait_record_bytes = sizeof(struct sn_tw);
}

const char *synack_tcp_state_name(enum synack_tcp_state st)
{
    static const char *const names[SYNACK_TCP_NSTATES] = {
        "CLOSED",     "LISTEN",     "SYN-SENT",   "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
        "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",    "LAST-ACK",     "TIME-WAIT",
    };
    return (unsigned)st < SYNACK_TCP_NSTATES ? names[st] : "?";
}

uint32_t synack_version(const char **str)
{
    if (str)
        *str = SYNACK_VERSION_STRING;
    return SYNACK_VERSION_NUM;
}

const char *synack_strerror(int err)
{
    return strerror(err < 0 ? -err : err);
}
