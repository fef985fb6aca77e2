/* The smallest complete synack program: two stacks on the deterministic
 * simulator, a server that echoes and a client that says hello.  No root,
 * no devices: build it against the installed library with
 *
 *     cc hello.c $(pkg-config --cflags --libs synack) -o hello
 *
 * The same socket calls work on a real interface (see synack/dev.h and
 * synack/loop.h, or `synack serve`). */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <synack/synack.h>

struct app {
    struct synack_stack *client, *server;
    int lfd, sfd, cfd;
    char reply[64];
    size_t got;
};

/* Called by synack_sim_run_while after every event (with both stacks'
 * clocks at the simulator's time): do the applications' work. */
static bool step(void *user)
{
    struct app *a = user;
    char buf[64];
    if (a->sfd < 0)
        a->sfd = synack_accept(a->server, a->lfd, NULL, NULL); /* -1/EAGAIN until connected */
    if (a->sfd >= 0) {
        ssize_t n = synack_recv(a->server, a->sfd, buf, sizeof(buf), 0);
        if (n > 0)
            synack_send(a->server, a->sfd, buf, (size_t)n, 0); /* echo */
    }
    ssize_t n = synack_recv(a->client, a->cfd, a->reply + a->got, sizeof(a->reply) - 1 - a->got, 0);
    if (n > 0)
        a->got += (size_t)n;
    return a->got == strlen("hello, synack");
}

int main(void)
{
    struct synack_sim *sim;
    struct synack_config cfg;
    struct synack_link_params link;
    struct app a = {.sfd = -1};

    synack_sim_new(42, &sim);                    /* the seed makes the run repeatable */
    synack_config_default(&cfg);
    cfg.addr = 0xc0000201;                       /* 192.0.2.1 */
    int cn = synack_sim_add_stack(sim, &cfg, &a.client);
    cfg.addr = 0xc0000202;                       /* 192.0.2.2 */
    int sn = synack_sim_add_stack(sim, &cfg, &a.server);
    synack_link_params_default(&link);
    link.delay = SYNACK_MSEC(10);
    synack_sim_link(sim, cn, sn, &link, NULL);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(7)};
    a.lfd = synack_socket(a.server, AF_INET, SOCK_STREAM, 0);
    synack_bind(a.server, a.lfd, (struct sockaddr *)&addr, sizeof(addr));
    synack_listen(a.server, a.lfd, 8);

    addr.sin_addr.s_addr = htonl(0xc0000202);
    a.cfd = synack_socket(a.client, AF_INET, SOCK_STREAM, 0);
    synack_connect(a.client, a.cfd, (struct sockaddr *)&addr, sizeof(addr)); /* EINPROGRESS */
    /* Until the handshake completes send() fails with EAGAIN (nothing is
     * queued): let the simulator run, one event at a time, until it takes
     * the data.  The stacks' clocks follow the simulator's by themselves. */
    while (synack_send(a.client, a.cfd, "hello, synack", 13, 0) < 0)
        if (!synack_sim_step(sim))
            return 1;                            /* nothing left to happen: no connection */

    bool ok = synack_sim_run_while(sim, step, &a, SYNACK_SEC(10));
    printf("client got \"%s\" after %.1f ms of virtual time: %s\n", a.reply,
           (double)synack_sim_now(sim) / 1000.0, ok ? "ok" : "FAILED");
    synack_sim_free(sim);                        /* frees the stacks too */
    return ok ? 0 : 1;
}
