/* ARP resolution: cache, requests, replies and the queue of packets waiting
 * for an address (see arp_internal.h). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dev/arp_internal.h"

void sn_arp_params_default(struct sn_arp_params *p)
{
    p->reachable = SYNACK_SEC(60);
    /* RFC 1122 2.3.2.1: no more than one request per second per address. */
    p->retrans = SYNACK_SEC(1);
    p->max_probes = 3;
    p->queue_pkts = 64;
    p->queue_bytes = 256 * 1024;
}

int sn_arp_init(struct sn_arp *a, const uint8_t mac[SYNACK_ETH_ALEN], uint32_t ip,
                const struct sn_arp_params *p, sn_arp_send_fn send, void *user)
{
    if (ip == 0 || synack_eth_is_multicast(mac) || synack_eth_is_zero(mac) || !send || !p ||
        p->max_probes == 0 || p->queue_pkts == 0 || p->queue_bytes == 0 || p->retrans == 0)
        return -EINVAL;
    memset(a, 0, offsetof(struct sn_arp, frame));
    memcpy(a->mac, mac, SYNACK_ETH_ALEN);
    a->ip = ip;
    a->p = *p;
    a->send = send;
    a->user = user;
    return 0;
}

static void pkt_unlink(struct sn_arp *a, struct sn_arp_pkt *prev, struct sn_arp_pkt *q)
{
    if (prev)
        prev->next = q->next;
    else
        a->qhead = q->next;
    if (a->qtail == q)
        a->qtail = prev;
    a->qlen--;
    a->qbytes -= q->len;
    free(q);
}

void sn_arp_clear(struct sn_arp *a)
{
    while (a->qhead)
        pkt_unlink(a, NULL, a->qhead);
}

/* Frame `len` bytes of `payload` for `dst` and send it. */
static int send_frame(struct sn_arp *a, const uint8_t *dst, uint16_t type, const uint8_t *payload,
                      size_t len)
{
    if (len > sizeof(a->frame) - SYNACK_ETH_HDR_LEN)
        return -EMSGSIZE;
    struct synack_eth_hdr eh = {.type = type};
    memcpy(eh.dst, dst, SYNACK_ETH_ALEN);
    memcpy(eh.src, a->mac, SYNACK_ETH_ALEN);
    synack_eth_emit(a->frame, sizeof(a->frame), &eh);
    memcpy(a->frame + SYNACK_ETH_HDR_LEN, payload, len);
    return a->send(a->user, a->frame, SYNACK_ETH_HDR_LEN + len);
}

int sn_arp_send_ip(struct sn_arp *a, const uint8_t dst[SYNACK_ETH_ALEN], const uint8_t *pkt,
                   size_t len)
{
    return send_frame(a, dst, SYNACK_ETHERTYPE_IPV4, pkt, len);
}

static void send_arp(struct sn_arp *a, uint16_t op, const uint8_t *dst_mac, const uint8_t *tha,
                     uint32_t tpa)
{
    struct synack_arp m = {.op = op, .spa = a->ip, .tpa = tpa};
    memcpy(m.sha, a->mac, SYNACK_ETH_ALEN);
    memcpy(m.tha, tha, SYNACK_ETH_ALEN);
    uint8_t body[SYNACK_ARP_LEN];
    synack_arp_emit(body, sizeof(body), &m);
    send_frame(a, dst_mac, SYNACK_ETHERTYPE_ARP, body, sizeof(body));
    if (op == SYNACK_ARP_REQUEST)
        a->st.requests_out++;
    else
        a->st.replies_out++;
}

/* A request for `ip`, broadcast (the target hardware address is unknown:
 * RFC 826 leaves it unspecified; zero, as Linux sends). */
static void send_request(struct sn_arp *a, struct sn_arp_entry *e, synack_time_t now)
{
    static const uint8_t zero[SYNACK_ETH_ALEN];
    send_arp(a, SYNACK_ARP_REQUEST, synack_eth_broadcast, zero, e->ip);
    e->probes++;
    e->expires = now + a->p.retrans;
}

/* Drop (resolution failed) or send (resolved) the packets held for `hop`,
 * in the order they came. */
static void queue_release(struct sn_arp *a, uint32_t hop, const uint8_t *mac)
{
    struct sn_arp_pkt *prev = NULL, *q = a->qhead;
    while (q) {
        struct sn_arp_pkt *next = q->next;
        if (q->hop == hop) {
            if (mac)
                send_frame(a, mac, SYNACK_ETHERTYPE_IPV4, q->data, q->len);
            else
                a->st.queue_drops++;
            pkt_unlink(a, prev, q);
        } else {
            prev = q;
        }
        q = next;
    }
}

/* The entry of `ip`; a REACHABLE one past its time is freed on the way
 * (expiry is lazy: nothing needs waking for it). */
static struct sn_arp_entry *find(struct sn_arp *a, uint32_t ip, synack_time_t now)
{
    for (int i = 0; i < SN_ARP_ENTRIES; i++) {
        struct sn_arp_entry *e = &a->e[i];
        if (e->state == SN_ARP_FREE || e->ip != ip)
            continue;
        if (e->state == SN_ARP_REACHABLE && now >= e->expires) {
            e->state = SN_ARP_FREE;
            a->st.expired++;
            return NULL;
        }
        return e;
    }
    return NULL;
}

/* A slot for a new entry: a free one, else the reachable entry closest to
 * expiry, else (every one is resolving) the resolution closest to its next
 * step, whose packets are dropped. */
static struct sn_arp_entry *alloc(struct sn_arp *a, uint32_t ip)
{
    struct sn_arp_entry *victim = NULL;
    for (int i = 0; i < SN_ARP_ENTRIES; i++) {
        struct sn_arp_entry *e = &a->e[i];
        if (e->state == SN_ARP_FREE) {
            victim = e;
            break;
        }
        if (!victim || (e->state == SN_ARP_REACHABLE && victim->state != SN_ARP_REACHABLE) ||
            (e->state == victim->state && e->expires < victim->expires))
            victim = e;
    }
    if (victim->state == SN_ARP_INCOMPLETE)
        queue_release(a, victim->ip, NULL);
    memset(victim, 0, sizeof(*victim));
    victim->ip = ip;
    return victim;
}

static void learn(struct sn_arp *a, struct sn_arp_entry *e, const uint8_t *mac, synack_time_t now)
{
    bool was_pending = e->state == SN_ARP_INCOMPLETE;
    if (e->state != SN_ARP_REACHABLE || memcmp(e->mac, mac, SYNACK_ETH_ALEN) != 0)
        a->st.learned++;
    memcpy(e->mac, mac, SYNACK_ETH_ALEN);
    e->state = SN_ARP_REACHABLE;
    e->probes = 0;
    e->expires = now + a->p.reachable;
    if (was_pending)
        queue_release(a, e->ip, e->mac);
}

int sn_arp_output(struct sn_arp *a, uint32_t hop, const uint8_t *pkt, size_t len, synack_time_t now)
{
    if (len > sizeof(a->frame) - SYNACK_ETH_HDR_LEN)
        return -EMSGSIZE;
    struct sn_arp_entry *e = find(a, hop, now);
    if (e && e->state == SN_ARP_REACHABLE)
        return send_frame(a, e->mac, SYNACK_ETHERTYPE_IPV4, pkt, len);
    if (len > a->p.queue_bytes) {
        a->st.queue_drops++;
        return -ENOBUFS;
    }
    struct sn_arp_pkt *q = malloc(sizeof(*q) + len);
    if (!q)
        return -ENOMEM;
    /* RFC 1122 2.3.2.2: keep the latest packets; make room from the oldest. */
    while (a->qhead && (a->qlen >= a->p.queue_pkts || a->qbytes + len > a->p.queue_bytes)) {
        pkt_unlink(a, NULL, a->qhead);
        a->st.queue_drops++;
    }
    if (!e)
        e = alloc(a, hop);
    q->next = NULL;
    q->hop = hop;
    q->len = (uint32_t)len;
    memcpy(q->data, pkt, len);
    if (a->qtail)
        a->qtail->next = q;
    else
        a->qhead = q;
    a->qtail = q;
    a->qlen++;
    a->qbytes += len;
    a->st.queued++;
    if (e->state == SN_ARP_FREE) {
        e->state = SN_ARP_INCOMPLETE;
        send_request(a, e, now);
    }
    return 0;
}

int sn_arp_input(struct sn_arp *a, const uint8_t *buf, size_t len, synack_time_t now)
{
    struct synack_arp m;
    int rc = synack_arp_parse(buf, len, &m);
    if (rc < 0) {
        a->st.bad++;
        return rc;
    }
    if (m.op == SYNACK_ARP_REQUEST)
        a->st.requests_in++;
    else
        a->st.replies_in++;
    /* Never learn a group address, an unset sender (an RFC 5227 probe) or
     * someone claiming our own address. */
    if (synack_eth_is_multicast(m.sha) || synack_eth_is_zero(m.sha) || m.spa == 0 || m.spa == a->ip) {
        a->st.ignored++;
        return 0;
    }
    /* RFC 826 "Packet Reception": update the sender's entry if there is
     * one (merge); if we are the target, add it if there was none and
     * answer a request. */
    struct sn_arp_entry *e = find(a, m.spa, now);
    if (e)
        learn(a, e, m.sha, now);
    if (m.tpa != a->ip) {
        if (!e)
            a->st.ignored++;
        return 0;
    }
    if (!e)
        learn(a, alloc(a, m.spa), m.sha, now);
    if (m.op == SYNACK_ARP_REQUEST)
        send_arp(a, SYNACK_ARP_REPLY, m.sha, m.sha, m.spa);
    return 0;
}

synack_time_t sn_arp_next_deadline(const struct sn_arp *a)
{
    synack_time_t t = SYNACK_TIME_NEVER;
    for (int i = 0; i < SN_ARP_ENTRIES; i++)
        if (a->e[i].state == SN_ARP_INCOMPLETE && a->e[i].expires < t)
            t = a->e[i].expires;
    return t;
}

void sn_arp_advance(struct sn_arp *a, synack_time_t now)
{
    for (int i = 0; i < SN_ARP_ENTRIES; i++) {
        struct sn_arp_entry *e = &a->e[i];
        if (e->state == SN_ARP_REACHABLE && now >= e->expires) {
            e->state = SN_ARP_FREE;
            a->st.expired++;
        }
        if (e->state != SN_ARP_INCOMPLETE || now < e->expires)
            continue;
        if (e->probes >= a->p.max_probes) {
            /* No answer: the held packets are lost (TCP will retransmit and
             * so start a new resolution). */
            queue_release(a, e->ip, NULL);
            e->state = SN_ARP_FREE;
            a->st.failed++;
        } else {
            send_request(a, e, now);
        }
    }
}

const uint8_t *sn_arp_lookup(const struct sn_arp *a, uint32_t ip, synack_time_t now)
{
    for (int i = 0; i < SN_ARP_ENTRIES; i++) {
        const struct sn_arp_entry *e = &a->e[i];
        if (e->state == SN_ARP_REACHABLE && e->ip == ip && now < e->expires)
            return e->mac;
    }
    return NULL;
}
