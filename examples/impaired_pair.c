/* Two stacks on the simulator joined by a bad link (40 ms one way, 2 %
 * loss, 1 % reordering, 10 Mbit/s): the client sends 1 MiB, the server
 * checks every byte.  Time is virtual: the run takes well under a second of
 * real time whatever the link; the seed makes it repeatable.
 * Build: cc impaired_pair.c $(pkg-config --cflags --libs synack) */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <synack/synack.h>

#define TOTAL (1u << 20)

struct app {
    struct synack_stack *client, *server;
    int lfd, cfd, sfd;
    size_t sent, received;
    int bad; /* bytes that differ from what was sent */
};

static uint8_t byte_at(size_t i) { return (uint8_t)(i * 7 + (i >> 9)); }

/* Run after every simulator event (the stacks' clocks are at the
 * simulator's time): the client writes what its buffer takes, the server
 * reads what has arrived. */
static bool step(void *user)
{
    struct app *a = user;
    uint8_t buf[8192];
    while (a->sent < TOTAL) {
        size_t n = TOTAL - a->sent < sizeof(buf) ? TOTAL - a->sent : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = byte_at(a->sent + i);
        ssize_t k = synack_send(a->client, a->cfd, buf, n, 0);
        if (k <= 0)
            break; /* EAGAIN: not connected yet, or the send buffer is full */
        a->sent += (size_t)k;
    }
    if (a->sfd < 0)
        a->sfd = synack_accept(a->server, a->lfd, NULL, NULL);
    ssize_t k;
    while (a->sfd >= 0 && (k = synack_recv(a->server, a->sfd, buf, sizeof(buf), 0)) > 0) {
        for (ssize_t i = 0; i < k; i++)
            a->bad += buf[i] != byte_at(a->received + (size_t)i);
        a->received += (size_t)k;
    }
    return a->received == TOTAL;
}

int main(void)
{
    struct synack_sim *sim;
    struct app a = {.sfd = -1};
    synack_sim_new(7, &sim);
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.seed = 1;                         /* replayable ISNs and ports, like the link */
    cfg.addr = 0xc0000201;                /* 192.0.2.1 */
    int cn = synack_sim_add_stack(sim, &cfg, &a.client);
    cfg.addr = 0xc0000202;                /* 192.0.2.2 */
    int sn = synack_sim_add_stack(sim, &cfg, &a.server);
    struct synack_link_params link;
    synack_link_params_default(&link);
    link.delay = SYNACK_MSEC(40);
    link.loss = 0.02;                     /* probabilities here; the tool takes percentages */
    link.reorder = 0.01;
    link.rate_bps = 10000000;
    synack_sim_link(sim, cn, sn, &link, NULL); /* the same both ways */

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(9)};
    a.lfd = synack_socket(a.server, AF_INET, SOCK_STREAM, 0);
    synack_bind(a.server, a.lfd, (struct sockaddr *)&addr, sizeof(addr));
    synack_listen(a.server, a.lfd, 4);
    addr.sin_addr.s_addr = htonl(0xc0000202);
    a.cfd = synack_socket(a.client, AF_INET, SOCK_STREAM, 0);
    synack_connect(a.client, a.cfd, (struct sockaddr *)&addr, sizeof(addr)); /* EINPROGRESS */

    bool done = synack_sim_run_while(sim, step, &a, SYNACK_SEC(600));
    struct synack_tcp_info ti;
    socklen_t len = sizeof(ti);
    synack_getsockopt(a.client, a.cfd, IPPROTO_TCP, TCP_INFO, &ti, &len);
    double secs = (double)synack_sim_now(sim) / 1e6;
    printf("%zu of %u bytes in %.2f s of virtual time (%.2f Mbit/s), %llu retransmitted "
           "segments, %d bad bytes: %s\n",
           a.received, TOTAL, secs, (double)a.received * 8 / secs / 1e6,
           (unsigned long long)ti.total_retrans, a.bad, done && !a.bad ? "ok" : "FAILED");
    synack_sim_free(sim);
    return done && !a.bad ? 0 : 1;
}
