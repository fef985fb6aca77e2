/* What `synack demo` knows that a capture does not: each packet's true
 * sender and receiver states from the stacks, which packets the link lost,
 * the order in which everything really happened, and the applications'
 * calls.  Recorded as the simulation runs; at the end written as a state
 * listing (--states, the format of `synack trace --states`), or drawn with
 * the trace pictures (--svg, --html, --plot) from the demo's own capture,
 * with the stacks' own numbers over time (stack_series.c). */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "synack/sim.h"
#include "synack/socket.h"
#include "trace.h"

static uint8_t tcp_flags(const uint8_t *pkt, size_t len)
{
    if (len < 20)
        return 0;
    size_t hl = (size_t)(pkt[0] & 15) * 4;
    return len >= hl + 14 ? pkt[hl + 13] : 0;
}

uint8_t demo_truth_state(const struct demo_host *h, const uint8_t *pkt, size_t len, bool to_host)
{
    if (h->has_conn)
        return h->state;
    size_t hl = len >= 20 ? (size_t)(pkt[0] & 15) * 4 : len;
    if (len < hl + 4)
        return h->listen_state;
    const uint8_t *ports = pkt + hl + (to_host ? 2 : 0);
    uint16_t port = (uint16_t)(ports[0] << 8 | ports[1]);
    return port == DEMO_SERVER_PORT || h->side == 0 ? h->listen_state : (uint8_t)SYNACK_CLOSED;
}

void demo_truth_sent(struct demo *d, int side, const uint8_t *pkt, size_t len, uint8_t state)
{
    struct demo_truth_log *L = &d->truth;
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        if (cap > DEMO_TRUTH_MAX)
            return;
        struct demo_truth *n = realloc(L->e, cap * sizeof(*n));
        if (!n)
            return;
        L->e = n;
        L->cap = cap;
    }
    if (d->in_app && !L->app_key)
        L->app_key = ++L->seq; /* the call comes before what it sends */
    struct demo_truth *e = &L->e[L->n];
    memset(e, 0, sizeof(*e));
    e->side = (uint8_t)side;
    e->flags = tcp_flags(pkt, len);
    e->snd = state;
    e->t_snd = synack_sim_now(d->sim);
    e->key_snd = ++L->seq;
    e->ipkey = (uint16_t)demo_pkt_key(pkt, len);
    d->sent[side][demo_pkt_key(pkt, len)].truth = (uint32_t)L->n + 1;
    L->n++;
}

static struct demo_truth *find(struct demo *d, int from, const uint8_t *pkt, size_t len)
{
    uint32_t i = d->sent[from][demo_pkt_key(pkt, len)].truth;
    return i && i <= d->truth.n ? &d->truth.e[i - 1] : NULL;
}

void demo_truth_arrived(struct demo *d, int from, const uint8_t *pkt, size_t len, uint8_t state,
                        bool lost, uint64_t key)
{
    struct demo_truth *e = find(d, from, pkt, len);
    if (!e)
        return;
    e->rcv = state;
    e->lost = lost;
    e->arrived = true;
    e->t_rcv = synack_sim_now(d->sim);
    e->key_rcv = key ? key : ++d->truth.seq;
}

/* RFC 9293 3.10.4: the RST a close() sends leaves the sender CLOSED; the
 * stack sends it a moment before it moves, so the row takes the new state. */
void demo_truth_closed(struct demo *d, int side)
{
    for (size_t i = d->truth.n; i-- > 0;) {
        struct demo_truth *e = &d->truth.e[i];
        if (e->t_snd != synack_sim_now(d->sim))
            break;
        if (e->side == side && (e->flags & SYNACK_TH_RST)) {
            e->snd = SYNACK_CLOSED;
            d->sent[side][e->ipkey].state = SYNACK_CLOSED;
        }
    }
}

void demo_truth_note(struct demo *d, int side, const char *text, uint8_t state)
{
    struct demo_truth_log *L = &d->truth;
    if (L->nnotes == DEMO_NOTES_MAX)
        return;
    struct trace_note *n = &L->notes[L->nnotes++];
    n->key = L->app_key ? L->app_key : ++L->seq;
    L->app_key = 0;
    n->side = (uint8_t)side;
    n->state = state;
    snprintf(n->text, sizeof(n->text), "%s", text);
}

void demo_watch(struct demo *d, int side, int fd)
{
    if (d->series)
        stack_series_watch(d->series, d->host[side].stack, fd);
    demo_sample(d, side);
}

void demo_sample(struct demo *d, int side)
{
    /* The simulator's clock is the capture's. */
    if (d->series && d->sim)
        stack_series_sample(d->series, d->host[side].stack, synack_sim_now(d->sim));
}

static int write_states(const struct demo *d, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (size_t i = 0; i < d->truth.n; i++) {
        const struct demo_truth *e = &d->truth.e[i];
        char flags[16];
        /* A packet still in flight when the demo ended was never received. */
        fprintf(f, "%zu %s %s %s\n", i + 1, synack_tcp_flags_str(e->flags, flags),
                synack_tcp_state_name(e->snd), synack_tcp_state_name(e->rcv));
    }
    return fclose(f);
}

/* Replace what trace inferred by what the stacks said, and the capture's
 * single time by the true order of sends and receipts. */
static void apply_truth(const struct demo *d, struct trace *t)
{
    for (size_t i = 0; i < t->npkt; i++) {
        struct trace_pkt *p = &t->pkt[i];
        if (p->frame == 0 || p->frame > d->truth.n)
            continue;
        const struct demo_truth *e = &d->truth.e[p->frame - 1];
        p->st_snd = e->snd;
        p->st_rcv = e->rcv;
        p->key_snd = e->key_snd;
        p->key_rcv = e->arrived ? e->key_rcv : e->key_snd + 1;
        p->marks &= ~(uint32_t)TRACE_M_LOST;
        if (e->lost || !e->arrived)
            p->marks |= TRACE_M_LOST;
    }
    for (size_t i = 0; i < t->nconn; i++) {
        struct trace_conn *c = &t->conn[i];
        c->shown = true;
        if (!c->n)
            continue;
        /* The demo's columns: the client on the left. */
        if (c->ep[0].addr[3] != (DEMO_CLIENT_ADDR & 255)) {
            struct trace_ep tmp = c->ep[0];
            c->ep[0] = c->ep[1];
            c->ep[1] = tmp;
            for (uint32_t k = 0; k < c->n; k++)
                t->pkt[c->idx[k]].dir ^= 1;
        }
    }
}

int demo_draw_finish(struct demo *d, const char *pcap)
{
    int rc = 0;
    if (d->states_path && write_states(d, d->states_path) != 0) {
        fprintf(stderr, "synack demo: cannot write %s\n", d->states_path);
        rc = -1;
    }
    if (!own_draw_wanted(&d->draw))
        return rc;
    struct trace t;
    memset(&t, 0, sizeof(t));
    if (trace_read(&t, pcap) < 0 || trace_analyse(&t) < 0) {
        trace_free(&t);
        return -1;
    }
    apply_truth(d, &t);
    struct trace_extra x = {d->truth.notes, d->truth.nnotes, {"client", "server"}, NULL, NULL};
    if (own_draw_files(&d->draw, "demo", &t, &x, d->series) < 0)
        rc = -1;
    trace_free(&t);
    return rc;
}

void demo_truth_free(struct demo *d)
{
    free(d->truth.e);
    memset(&d->truth, 0, sizeof(d->truth));
    if (d->series) {
        stack_series_free(d->series);
        free(d->series);
        d->series = NULL;
    }
}
