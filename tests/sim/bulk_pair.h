/* Two synack stacks on the simulator for the bulk-transfer tests
 * (test_datapath_alloc, test_chunk_pool, test_tso_tail): a client (CADDR)
 * whose socket is connecting to a listener on the server (SADDR:PORT) over
 * one link with a 1 ms delay; the receiver checks every byte against the
 * test's pattern.  Include after cmocka.h. */
#ifndef SYNACK_TESTS_BULK_PAIR_H
#define SYNACK_TESTS_BULK_PAIR_H

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "synack/sim.h"
#include "synack/socket.h"

#define CADDR 0x0a000001u
#define SADDR 0x0a000002u
#define PORT 5001

struct bulk_pair {
    struct synack_sim *sim;
    struct synack_stack *st[2]; /* the client's, the server's */
    int lfd, cfd, sfd;          /* listener, client socket, accepted socket (-1 until then) */
    uint64_t rcvd;              /* bytes the server has read and checked */
};

/* cfg[0] (client) and cfg[1] (server): the defaults with their addresses,
 * seed 0 and an MSL of 1 s; the caller may change more before opening. */
static inline void bulk_pair_config(struct synack_config cfg[2])
{
    for (int i = 0; i < 2; i++) {
        synack_config_default(&cfg[i]);
        cfg[i].addr = i == 0 ? CADDR : SADDR;
        cfg[i].seed = 0;
        cfg[i].msl = SYNACK_SEC(1);
    }
}

/* The stacks, the link (rate_bps, 0: no limit), the listener and the
 * connect in progress; `buf` > 0 sets SO_SNDBUF and SO_RCVBUF of the
 * client's socket and the listener. */
static inline void bulk_pair_open(struct bulk_pair *p, uint64_t seed, const struct synack_config cfg[2],
                                  uint32_t rate_bps, int buf)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(synack_sim_new(seed, &p->sim), 0);
    int node[2];
    for (int i = 0; i < 2; i++) {
        node[i] = synack_sim_add_stack(p->sim, &cfg[i], &p->st[i]);
        assert_true(node[i] >= 0);
    }
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(1);
    lp.rate_bps = rate_bps;
    assert_true(synack_sim_link(p->sim, node[0], node[1], &lp, &lp) >= 0);
    p->lfd = synack_socket(p->st[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    p->cfd = synack_socket(p->st[0], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    p->sfd = -1;
    assert_true(p->lfd >= 0 && p->cfd >= 0);
    for (int i = 0; i < 2 && buf > 0; i++) {
        struct synack_stack *s = p->st[i];
        int fd = i == 0 ? p->cfd : p->lfd;
        assert_int_equal(synack_setsockopt(s, fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)), 0);
        assert_int_equal(synack_setsockopt(s, fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)), 0);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT),
                            .sin_addr.s_addr = htonl(SADDR)};
    assert_int_equal(synack_bind(p->st[1], p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(p->st[1], p->lfd, 4), 0);
    assert_int_equal(synack_connect(p->st[0], p->cfd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
}

/* Accept once the connection is there; then read what the server socket
 * holds (up to cap bytes into buf), each byte checked against pattern(its
 * offset in the stream). */
static inline void bulk_pair_recv(struct bulk_pair *p, uint8_t *buf, size_t cap, uint8_t (*pattern)(uint64_t))
{
    if (p->sfd < 0)
        p->sfd = synack_accept(p->st[1], p->lfd, NULL, NULL);
    if (p->sfd < 0)
        return;
    ssize_t r = synack_recv(p->st[1], p->sfd, buf, cap, 0);
    for (ssize_t i = 0; i < r; i++)
        if (buf[i] != pattern(p->rcvd + (uint64_t)i))
            fail_msg("byte %llu differs", (unsigned long long)(p->rcvd + (uint64_t)i));
    if (r > 0)
        p->rcvd += (uint64_t)r;
}

#endif
