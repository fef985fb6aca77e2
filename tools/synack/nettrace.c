/* Per-connection ladders for the real-network commands (see nettrace.h). */
#include "nettrace.h"

#include <stdlib.h>
#include <string.h>

#include "ladder.h"
#include "synack/wire.h"

#define BUCKETS 256
#define MAX_LIVE 4096  /* connections traced at once; more are only counted */
#define MAX_HELD 32    /* rows held while a received packet is processed */

struct tconn {
    struct tconn *next;
    uint32_t raddr;
    uint16_t lport, rport;
    unsigned id;
    FILE *mem;
    char *buf;
    size_t size;
    struct ladder lad;
    uint8_t ours, peer;        /* enum synack_tcp_state */
    bool finished;
    bool peer_fin;             /* the kernel sent its FIN ... */
    uint32_t peer_fin_end;     /* ... and an ACK of this covers it */
};

struct held_row {
    synack_time_t sent, at;
    const char *fate;
    size_t len;
    uint8_t *data;
};

struct nettrace {
    FILE *out;
    uint32_t addr;
    unsigned max_rows;
    synack_time_t t0;
    struct tconn *bucket[BUCKETS];
    unsigned live, next_id;
    unsigned long untraced;
    bool in_input;
    unsigned nheld;
    struct held_row held[MAX_HELD];
};

int nettrace_new(FILE *out, uint32_t our_addr, unsigned max_rows, synack_time_t t0,
                 struct nettrace **out_t)
{
    struct nettrace *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    t->out = out;
    t->addr = our_addr;
    t->max_rows = max_rows;
    t->t0 = t0;
    t->next_id = 1;
    *out_t = t;
    return 0;
}

static unsigned hash(uint32_t raddr, uint16_t lport, uint16_t rport)
{
    uint32_t h = raddr * 2654435761u ^ ((uint32_t)lport << 16 | rport) * 2246822519u;
    return (h >> 16 ^ h) % BUCKETS;
}

static struct tconn *find(struct nettrace *t, uint32_t raddr, uint16_t lport, uint16_t rport,
                          bool create)
{
    struct tconn **pp = &t->bucket[hash(raddr, lport, rport)];
    for (struct tconn *c = *pp; c; c = c->next)
        if (c->raddr == raddr && c->lport == lport && c->rport == rport)
            return c;
    if (!create)
        return NULL;
    if (t->live >= MAX_LIVE) {
        t->untraced++;
        return NULL;
    }
    struct tconn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->mem = open_memstream(&c->buf, &c->size);
    if (!c->mem) {
        free(c);
        return NULL;
    }
    c->raddr = raddr;
    c->lport = lport;
    c->rport = rport;
    c->id = t->next_id++;
    c->ours = SYNACK_CLOSED;
    c->peer = SYNACK_CLOSED;
    ladder_init(&c->lad, c->mem, "synack", t->addr, "kernel*", raddr);
    c->lad.max_rows = t->max_rows;
    ladder_header(&c->lad);
    c->next = *pp;
    *pp = c;
    t->live++;
    return c;
}

static void print_conn(struct nettrace *t, struct tconn *c)
{
    fclose(c->mem);
    c->mem = NULL;
    fprintf(t->out, "\nconnection %u: synack %u.%u.%u.%u:%u <-> kernel %u.%u.%u.%u:%u\n", c->id,
            t->addr >> 24, (t->addr >> 16) & 255, (t->addr >> 8) & 255, t->addr & 255, c->lport,
            c->raddr >> 24, (c->raddr >> 16) & 255, (c->raddr >> 8) & 255, c->raddr & 255,
            c->rport);
    fwrite(c->buf, 1, c->size, t->out);
    if (c->lad.elided)
        fprintf(t->out, "  ... %u more rows not shown (--trace-rows)\n", c->lad.elided);
    fprintf(t->out, "  * the kernel's states are inferred from the packets on the device\n");
    fflush(t->out);
    free(c->buf);
}

static void print_and_remove(struct nettrace *t, bool all)
{
    for (unsigned b = 0; b < BUCKETS; b++) {
        struct tconn **pp = &t->bucket[b];
        while (*pp) {
            struct tconn *c = *pp;
            if (!all && !c->finished) {
                pp = &c->next;
                continue;
            }
            *pp = c->next;
            print_conn(t, c);
            free(c);
            t->live--;
        }
    }
}

void nettrace_flush(struct nettrace *t)
{
    if (t)
        print_and_remove(t, false);
}

void nettrace_free(struct nettrace *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < t->nheld; i++)
        free(t->held[i].data);
    print_and_remove(t, true);
    if (t->untraced)
        fprintf(t->out, "\n(%lu connections not traced: more than %d at once)\n", t->untraced,
                MAX_LIVE);
    free(t);
}

/* The kernel's state, as its packets and the ones it receives imply
 * (RFC 9293 3.3.2's transitions, seen from outside). */
static void infer(struct tconn *c, int from, const struct synack_tcp_hdr *th)
{
    uint8_t f = th->flags;
    uint8_t *p = &c->peer;
    if (f & SYNACK_TH_RST) {
        *p = SYNACK_CLOSED;
        return;
    }
    if (from == 1) {
        if ((f & SYNACK_TH_SYN) && !(f & SYNACK_TH_ACK))
            *p = SYNACK_SYN_SENT;
        else if (f & SYNACK_TH_SYN)
            *p = SYNACK_SYN_RECEIVED;
        if (f & SYNACK_TH_FIN) {
            c->peer_fin = true;
            c->peer_fin_end = th->seq + (uint32_t)th->payload_len + 1u;
            if (*p == SYNACK_ESTABLISHED || *p == SYNACK_SYN_RECEIVED)
                *p = SYNACK_FIN_WAIT_1;
            else if (*p == SYNACK_CLOSE_WAIT)
                *p = SYNACK_LAST_ACK;
        }
        return;
    }
    /* A packet the kernel received from synack. */
    if ((f & SYNACK_TH_SYN) && !(f & SYNACK_TH_ACK)) {
        if (*p == SYNACK_CLOSED)
            *p = SYNACK_LISTEN;
        return;
    }
    if (f & SYNACK_TH_SYN) {
        if (*p == SYNACK_SYN_SENT)
            *p = SYNACK_ESTABLISHED;
        return;
    }
    if ((f & SYNACK_TH_ACK) && *p == SYNACK_SYN_RECEIVED)
        *p = SYNACK_ESTABLISHED;
    bool acks_fin = c->peer_fin && (f & SYNACK_TH_ACK) && (int32_t)(th->ack - c->peer_fin_end) >= 0;
    if (f & SYNACK_TH_FIN) {
        if (*p == SYNACK_ESTABLISHED)
            *p = SYNACK_CLOSE_WAIT;
        else if (*p == SYNACK_FIN_WAIT_1)
            *p = acks_fin ? SYNACK_TIME_WAIT : SYNACK_CLOSING;
        else if (*p == SYNACK_FIN_WAIT_2)
            *p = SYNACK_TIME_WAIT;
    } else if (acks_fin) {
        if (*p == SYNACK_FIN_WAIT_1)
            *p = SYNACK_FIN_WAIT_2;
        else if (*p == SYNACK_CLOSING)
            *p = SYNACK_TIME_WAIT;
        else if (*p == SYNACK_LAST_ACK)
            *p = SYNACK_CLOSED;
    }
}

static void row(struct nettrace *t, int from, const uint8_t *pkt, size_t len, synack_time_t sent,
                synack_time_t at, const char *fate)
{
    struct synack_ipv4_hdr ip;
    struct synack_tcp_hdr th;
    if (synack_ipv4_parse(pkt, len, &ip) < 0 || ip.proto != SYNACK_IPPROTO_TCP ||
        synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, false, &th) < 0)
        return; /* ICMP (ping), or not parseable: not part of a connection */
    uint32_t raddr = from == 0 ? ip.dst : ip.src;
    uint16_t lport = from == 0 ? th.sport : th.dport, rport = from == 0 ? th.dport : th.sport;
    struct tconn *c = find(t, raddr, lport, rport, true);
    if (!c)
        return;
    if (from == 1 || !fate)
        infer(c, from, &th);
    ladder_packet(&c->lad, sent - t->t0, at - t->t0, from, pkt, len,
                  synack_tcp_state_name(c->ours), synack_tcp_state_name(c->peer), fate);
    /* A reset with no connection on synack's side (a refused SYN) ends the
     * ladder here; connections end with synack's state changes. */
    if ((th.flags & SYNACK_TH_RST) && c->ours == SYNACK_CLOSED)
        c->finished = true;
}

void nettrace_packet(struct nettrace *t, int from, const uint8_t *pkt, size_t len,
                     synack_time_t sent, synack_time_t at, const char *fate)
{
    if (t->in_input && t->nheld < MAX_HELD) {
        struct held_row *h = &t->held[t->nheld];
        h->data = malloc(len);
        if (h->data) {
            memcpy(h->data, pkt, len);
            h->len = len;
            h->sent = sent;
            h->at = at;
            h->fate = fate;
            t->nheld++;
            return;
        }
    }
    row(t, from, pkt, len, sent, at, fate);
}

void nettrace_input_begin(struct nettrace *t)
{
    t->in_input = true;
}

void nettrace_input_done(struct nettrace *t, const uint8_t *pkt, size_t len, synack_time_t at,
                         const char *fate)
{
    t->in_input = false;
    row(t, 1, pkt, len, at, at, fate);
    for (unsigned i = 0; i < t->nheld; i++) {
        struct held_row *h = &t->held[i];
        row(t, 0, h->data, h->len, h->sent, h->at, h->fate);
        free(h->data);
    }
    t->nheld = 0;
}

void nettrace_state(struct nettrace *t, const struct synack_conn_addr *tu, enum synack_tcp_state from,
                    enum synack_tcp_state to, synack_time_t now)
{
    if (tu->rport == 0)
        return; /* listeners have no ladder */
    struct tconn *c = find(t, tu->remote.u.v4, tu->lport, tu->rport, to != SYNACK_CLOSED);
    if (!c)
        return;
    c->ours = (uint8_t)to;
    /* Changes no received packet explains (user calls, timers) get a row. */
    if (!t->in_input && from != SYNACK_CLOSED && from != SYNACK_LISTEN) {
        char what[64];
        snprintf(what, sizeof(what), "%s -> %s", synack_tcp_state_name(from),
                 synack_tcp_state_name(to));
        if (!c->lad.max_rows || c->lad.rows < c->lad.max_rows) {
            ladder_event(&c->lad, now - t->t0, 0, what, synack_tcp_state_name(c->ours),
                         synack_tcp_state_name(c->peer));
            c->lad.rows++;
        } else {
            c->lad.elided++;
        }
    }
    if (to == SYNACK_TIME_WAIT || to == SYNACK_CLOSED)
        c->finished = true;
}
