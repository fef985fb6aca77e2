/* Numbers an off-path attacker must not guess, each a keyed hash (SipHash)
 * under a key derived from the stack's secret (stack.c: stack_keys):
 *
 *   sn_tcp_conn_secret RFC 6528 (RFC 9293 3.4.1): ISN = M + F(4-tuple, key)
 *   sn_tcp_ts_offset   RFC 7323 5.4 / 7.1: a per-connection TSval offset
 *   sn_tcp_pick_port   RFC 6056 3.3.4: ephemeral ports, algorithm 4
 *
 * F and the TSval offset are the two halves of one SipHash of the tuple
 * (sn_tcp_conn_secret): halves of a PRF's output are independent, so what
 * a peer learns of one says nothing of the other, and a connection opened
 * costs one SipHash for both.
 *
 * plus the local-port reference counts that decide which ports are free.
 * A port taken by connect()'s automatic bind may be shared with other
 * connections to *different* destinations, as on Linux (the 4-tuple stays
 * unique), so active opens are not capped at one per port; a port bound by
 * bind() or a listener is never handed out. */
#include <errno.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"
#include "wire/be.h"

static uint64_t tuple_hash(const uint64_t key[2], const struct synack_tuple *t, bool ports)
{
    uint8_t b[12];
    put32(b, t->laddr);
    put32(b + 4, t->raddr);
    put16(b + 8, ports ? t->lport : 0);
    put16(b + 10, t->rport);
    return sn_siphash(key, b, sizeof(b));
}

/* RFC 6528 3: M is a timer ticking every 4 microseconds (wrapping in 4.77
 * hours, as RFC 9293 3.4.1 describes), F a keyed hash of the connection's
 * identifiers.  Successive incarnations of one 4-tuple get increasing ISNs
 * (old duplicates stay below them); different tuples' ISN spaces are
 * unrelated, and a peer cannot predict another tuple's. */
uint32_t sn_tcp_conn_secret(struct synack_stack *s, const struct synack_tuple *t,
                            uint32_t *ts_offset)
{
    if (s->initial_fixed) { /* a test hook (sn_stack_fix_initial) */
        *ts_offset = s->initial_ts_offset;
        return s->initial_isn;
    }
    uint64_t h = tuple_hash(s->keys.isn, t, true);
    *ts_offset = (uint32_t)(h >> 32);
    return (uint32_t)(s->now / 4u) + (uint32_t)h;
}

/* RFC 7323 7.1: a random offset per connection, so that TSval reveals
 * neither the host's uptime nor how its other connections' clocks run.
 * Derived, not drawn, so that a SYN cookie's connection can recompute it. */
uint32_t sn_tcp_ts_offset(const struct synack_stack *s, const struct synack_tuple *t)
{
    if (s->initial_fixed)
        return s->initial_ts_offset;
    return (uint32_t)(tuple_hash(s->keys.isn, t, true) >> 32);
}

static bool port_is_auto(const struct synack_stack *s, uint16_t port)
{
    return (s->port_auto[port / 64] >> (port % 64)) & 1u;
}

static void port_set_auto(struct synack_stack *s, uint16_t port, bool on)
{
    uint64_t bit = (uint64_t)1 << (port % 64);
    if (on)
        s->port_auto[port / 64] |= bit;
    else
        s->port_auto[port / 64] &= ~bit;
}

int sn_tcp_port_ref(struct synack_stack *s, uint16_t port, bool exclusive)
{
    if (port == 0)
        return -EINVAL;
    if (exclusive && s->port_refs[port] > 0)
        return -EADDRINUSE;
    if (s->port_refs[port] == UINT16_MAX)
        return -EADDRINUSE;
    s->port_refs[port]++;
    port_set_auto(s, port, false); /* an explicit owner: never shared by connect() */
    return 0;
}

void sn_tcp_port_unref(struct synack_stack *s, uint16_t port)
{
    if (s->port_refs[port] > 0)
        s->port_refs[port]--;
    if (s->port_refs[port] == 0)
        port_set_auto(s, port, false);
}

/* May the connection tcb (remote end set, or rport 0 for bind/listen) use port? */
static bool port_suitable(const struct synack_stack *s, const struct sn_tcb *tcb, uint16_t port)
{
    if (s->port_refs[port] == 0)
        return true;
    if (tcb->te.tuple.rport == 0 || !port_is_auto(s, port) || s->port_refs[port] == UINT16_MAX)
        return false;
    struct synack_tuple k = tcb->te.tuple;
    k.laddr = s->cfg.addr;
    k.lport = port;
    return sn_tuple_find(&s->conns, &k) == NULL;
}

/* RFC 6056 3.3.4 (algorithm 4, "double-hash"): the search starts at an
 * offset F(local address, remote address, remote port, key) plus a counter
 * from a small table indexed by another hash of the same, so that ports to
 * one destination follow one another (no early reuse of a 4-tuple) while
 * those to another destination start somewhere unrelated and unpredictable. */
int sn_tcp_pick_port(struct synack_stack *s, struct sn_tcb *tcb)
{
    uint32_t lo = s->cfg.ephemeral_lo, n = (uint32_t)s->cfg.ephemeral_hi - lo + 1;
    struct synack_tuple k = tcb->te.tuple;
    k.laddr = s->cfg.addr;
    /* F(local address, remote address, remote port) does not change while
     * the destination does not: clients connecting to one server over and
     * over hash it once. */
    if (!s->port_hash.valid || s->port_hash.laddr != k.laddr || s->port_hash.raddr != k.raddr ||
        s->port_hash.rport != k.rport) {
        s->port_hash.laddr = k.laddr;
        s->port_hash.raddr = k.raddr;
        s->port_hash.rport = k.rport;
        s->port_hash.h = tuple_hash(s->keys.port, &k, false);
        s->port_hash.valid = true;
    }
    uint64_t h = s->port_hash.h;
    uint32_t offset = (uint32_t)h;
    uint16_t *counter = &s->port_perturb[(h >> 32) % SN_PORT_PERTURB];
    for (uint32_t i = 0; i < n; i++) {
        uint16_t port = (uint16_t)(lo + (offset + *counter) % n);
        (*counter)++;
        if (port_suitable(s, tcb, port)) {
            bool share = s->port_refs[port] > 0;
            s->port_refs[port]++;
            if (!share)
                port_set_auto(s, port, tcb->te.tuple.rport != 0);
            tcb->te.tuple.lport = port;
            tcb->flags |= SN_TF_BOUND;
            return 0;
        }
    }
    return -EADDRNOTAVAIL;
}
