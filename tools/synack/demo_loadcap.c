/* The load scenarios' bounded capture with true states (see demo_loadcap.h). */
#include "demo_loadcap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"

#include "synack/pcap.h"

struct lc_slot {
    uint32_t addr[2];              /* client, server */
    uint16_t port[2];
    uint8_t state[2];
    bool seen_closed[2];           /* reached CLOSED after being open: done */
    bool cookie;                   /* the server answered statelessly: left out */
};

struct lc_entry {
    uint16_t slot;
    uint8_t side;                  /* the sender: 0 client, 1 server */
    uint8_t flags, snd, rcv;
    bool arrived;
    uint16_t ipid;
    synack_time_t t;
    size_t off, len;
};

struct loadcap {
    const char *pcap, *states;
    const struct own_draw_opts *draw;
    char tmp[32];                  /* a temporary capture for the pictures, "" none */
    uint16_t server_port;
    struct lc_slot slot[LOADCAP_SLOTS];
    size_t nslots, nkept;          /* slots used; of those, not answered by a cookie */
    uint16_t active[LOADCAP_SLOTS]; /* the slots still followed (not done, not cookie) */
    size_t nactive;
    struct lc_entry *e;
    size_t n, cap;
    uint8_t *bytes;
    size_t nbytes;
    size_t pending;                /* 1 + the entry being received, 0 none */
};

int loadcap_new(const char *pcap, const char *states, uint16_t server_port,
                const struct own_draw_opts *draw, struct loadcap **out)
{
    struct loadcap *lc = calloc(1, sizeof(*lc));
    if (!lc || !(lc->bytes = malloc(LOADCAP_BYTES))) {
        free(lc);
        return -1;
    }
    if (draw && own_draw_wanted(draw)) {
        lc->draw = draw;
        if (!pcap) {
            strcpy(lc->tmp, "/tmp/synack-load-XXXXXX");
            int fd = mkstemp(lc->tmp);
            if (fd < 0) {
                free(lc->bytes);
                free(lc);
                return -1;
            }
            close(fd);
            pcap = lc->tmp;
        }
    }
    lc->pcap = pcap;
    lc->states = states;
    lc->server_port = server_port;
    *out = lc;
    return 0;
}

/* The slot of a connection and which end `addr:port` is (0 client, 1
 * server); NULL when not followed (or done: its ports may come again). */
static struct lc_slot *find(struct loadcap *lc, uint32_t a, uint16_t ap, uint32_t b, uint16_t bp,
                            int *side)
{
    for (size_t i = 0; i < lc->nactive; i++) {
        struct lc_slot *s = &lc->slot[lc->active[i]];
        for (int k = 0; k < 2; k++)
            if (s->addr[k] == a && s->port[k] == ap && s->addr[!k] == b && s->port[!k] == bp) {
                *side = k;
                return s;
            }
    }
    return NULL;
}

/* No longer followed: done, or answered by a cookie. */
static void retire(struct loadcap *lc, const struct lc_slot *s)
{
    for (size_t i = 0; i < lc->nactive; i++)
        if (&lc->slot[lc->active[i]] == s) {
            lc->active[i] = lc->active[--lc->nactive];
            return;
        }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The followed connection of an IPv4/TCP packet; *side: its sender's end. */
static struct lc_slot *of_pkt(struct loadcap *lc, const uint8_t *pkt, size_t len, int *side,
                              uint8_t *flags)
{
    if (len < 20 || pkt[9] != SYNACK_IPPROTO_TCP)
        return NULL;
    size_t hl = (size_t)(pkt[0] & 15) * 4;
    if (len < hl + 14)
        return NULL;
    *flags = pkt[hl + 13];
    return find(lc, be32(pkt + 12), (uint16_t)(pkt[hl] << 8 | pkt[hl + 1]), be32(pkt + 16),
                (uint16_t)(pkt[hl + 2] << 8 | pkt[hl + 3]), side);
}

static void sent(struct loadcap *lc, synack_time_t now, const uint8_t *pkt, size_t len)
{
    int side;
    uint8_t flags;
    struct lc_slot *s = of_pkt(lc, pkt, len, &side, &flags);
    if (!s)
        return;
    /* A SYN-ACK from a server that kept no state: a cookie. */
    if (side == 1 && (flags & SYNACK_TH_SYN) && s->state[1] != SYNACK_SYN_RECEIVED) {
        s->cookie = true;
        lc->nkept--;
        retire(lc, s);
        return;
    }
    if (lc->nbytes + len > LOADCAP_BYTES)
        return;
    if (lc->n == lc->cap) {
        size_t cap = lc->cap ? lc->cap * 2 : 1024;
        struct lc_entry *e = realloc(lc->e, cap * sizeof(*e));
        if (!e)
            return;
        lc->e = e;
        lc->cap = cap;
    }
    struct lc_entry *e = &lc->e[lc->n++];
    *e = (struct lc_entry){(uint16_t)(s - lc->slot), (uint8_t)side, flags, s->state[side],
                           SYNACK_CLOSED, false, (uint16_t)(pkt[4] << 8 | pkt[5]), now,
                           lc->nbytes, len};
    memcpy(lc->bytes + lc->nbytes, pkt, len);
    lc->nbytes += len;
}

/* The entry of a packet on its way: the latest of its sender with its IP
 * identification not yet received. */
static struct lc_entry *in_flight(struct loadcap *lc, const uint8_t *pkt, size_t len, int *side)
{
    uint8_t flags;
    struct lc_slot *s = of_pkt(lc, pkt, len, side, &flags);
    if (!s)
        return NULL;
    uint16_t id = (uint16_t)(pkt[4] << 8 | pkt[5]);
    for (size_t i = lc->n; i-- > 0;) {
        struct lc_entry *e = &lc->e[i];
        if (e->slot == s - lc->slot && e->side == *side && e->ipid == id && !e->arrived)
            return e;
    }
    return NULL;
}

void loadcap_observer(void *user, synack_time_t now, int link, int from_node, int to_node,
                      enum synack_sim_event ev, const uint8_t *pkt, size_t len)
{
    struct loadcap *lc = user;
    (void)link, (void)from_node, (void)to_node;
    int side;
    struct lc_entry *e;
    switch (ev) {
    case SYNACK_SIM_SENT:
        sent(lc, now, pkt, len);
        break;
    case SYNACK_SIM_DELIVERED:
    case SYNACK_SIM_DROP_LOSS:
    case SYNACK_SIM_DROP_QUEUE:
        if (!(e = in_flight(lc, pkt, len, &side)))
            break;
        /* The receiver's state now; for a delivery, as its processing
         * changes it (loadcap_on_state) until the event is over. */
        e->arrived = true;
        e->rcv = lc->slot[e->slot].state[!side];
        if (ev == SYNACK_SIM_DELIVERED)
            lc->pending = (size_t)(e - lc->e) + 1;
        break;
    default:
        break;
    }
}

void loadcap_on_state(void *user, uint32_t conn_id, const struct synack_conn_addr *ca,
                      enum synack_tcp_state from, enum synack_tcp_state to)
{
    struct loadcap *lc = user;
    (void)conn_id;
    int side;
    struct lc_slot *s = find(lc, ca->local.u.v4, ca->lport, ca->remote.u.v4, ca->rport, &side);
    if (!s) {
        /* A new connection from a client (not the listener's side). */
        if (from != SYNACK_CLOSED || to != SYNACK_SYN_SENT || ca->lport == lc->server_port ||
            lc->nslots == LOADCAP_SLOTS || lc->nkept == LOADCAP_CONNS)
            return;
        lc->active[lc->nactive++] = (uint16_t)lc->nslots;
        s = &lc->slot[lc->nslots++];
        *s = (struct lc_slot){{ca->local.u.v4, ca->remote.u.v4}, {ca->lport, ca->rport},
                              {SYNACK_CLOSED, SYNACK_LISTEN}, {false, false}, false};
        lc->nkept++;
        side = 0;
    }
    s->state[side] = (uint8_t)to;
    if (to == SYNACK_CLOSED)
        s->seen_closed[side] = true;
    if (lc->pending) {
        struct lc_entry *e = &lc->e[lc->pending - 1];
        if (&lc->slot[e->slot] == s && e->side != side)
            e->rcv = (uint8_t)to;
    }
    /* RFC 9293 3.10.4: the RST a close() sends leaves the sender CLOSED;
     * the stack sends it a moment before it moves. */
    if (to == SYNACK_CLOSED)
        for (size_t i = lc->n; i-- > 0 && lc->n - i <= 8;) {
            struct lc_entry *e = &lc->e[i];
            if (&lc->slot[e->slot] == s && e->side == side && (e->flags & SYNACK_TH_RST) &&
                e->t == lc->e[lc->n - 1].t)
                e->snd = SYNACK_CLOSED;
        }
    if (s->seen_closed[0] && s->seen_closed[1])
        retire(lc, s);
}

void loadcap_step_done(void *user)
{
    struct loadcap *lc = user;
    lc->pending = 0;
}

/* The pictures, from the capture just written, with the true states. */
static int draw(const struct loadcap *lc)
{
    struct trace t;
    memset(&t, 0, sizeof(t));
    if (trace_read(&t, lc->pcap) < 0 || trace_analyse(&t) < 0) {
        trace_free(&t);
        return -1;
    }
    size_t frame = 0;
    for (size_t i = 0; i < lc->n; i++) {
        const struct lc_entry *e = &lc->e[i];
        if (lc->slot[e->slot].cookie)
            continue;
        for (size_t k = frame; k < t.npkt && t.pkt[k].frame <= frame + 1; k++)
            if (t.pkt[k].frame == frame + 1) {
                t.pkt[k].st_snd = e->snd;
                t.pkt[k].st_rcv = e->rcv;
            }
        frame++;
    }
    for (size_t i = 0; i < t.nconn; i++)
        t.conn[i].shown = true;
    struct trace_extra x = {NULL, 0, {"client", "server"}, NULL, NULL};
    int rc = own_draw_files(lc->draw, "demo", &t, &x, NULL);
    trace_free(&t);
    return rc;
}

int loadcap_finish(struct loadcap *lc, FILE *report)
{
    if (!lc)
        return 0;
    int rc = 0;
    struct synack_pcap *p = NULL;
    FILE *f = NULL;
    if (lc->pcap && synack_pcap_open(lc->pcap, SYNACK_PCAP_LINKTYPE_RAW, 0, &p) < 0) {
        fprintf(stderr, "synack demo: cannot write %s\n", lc->pcap);
        rc = -1;
    }
    if (lc->states && !(f = fopen(lc->states, "w"))) {
        fprintf(stderr, "synack demo: cannot write %s\n", lc->states);
        rc = -1;
    }
    size_t frame = 0, cookies = 0;
    for (size_t i = 0; i < lc->nslots; i++)
        cookies += lc->slot[i].cookie;
    for (size_t i = 0; i < lc->n; i++) {
        const struct lc_entry *e = &lc->e[i];
        if (lc->slot[e->slot].cookie)
            continue;
        frame++;
        if (p && synack_pcap_write(p, e->t, lc->bytes + e->off, e->len) < 0)
            rc = -1;
        char flags[16];
        if (f)
            fprintf(f, "%zu %s %s %s\n", frame, synack_tcp_flags_str(e->flags, flags),
                    synack_tcp_state_name(e->snd), synack_tcp_state_name(e->rcv));
    }
    if (p && synack_pcap_close(p) < 0)
        rc = -1;
    if (report)
        fprintf(report, "capture: the first %zu connections, %zu packets, with their true states "
                        "(%zu answered with a SYN cookie left out)\n",
                lc->nslots - cookies, frame, cookies);
    if (rc == 0 && lc->draw && draw(lc) < 0)
        rc = -1;
    if (lc->tmp[0])
        unlink(lc->tmp);
    if (f && fclose(f) != 0)
        rc = -1;
    free(lc->e);
    free(lc->bytes);
    free(lc);
    return rc;
}
