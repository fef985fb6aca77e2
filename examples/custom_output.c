/* A stack on a device of your own: everything synack sends goes through an
 * output function you write, and you hand it what arrives with
 * synack_stack_input() and the time.  Here the "device" is a queue in
 * memory between two stacks, and the clock is a counter we move ourselves;
 * a real program would write to its NIC, radio or tunnel and use its own
 * clock (any monotonic microseconds).
 * Build: cc custom_output.c $(pkg-config --cflags --libs synack) */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <synack/synack.h>

#define QLEN 64
#define MTU 1500

/* One direction of the wire: a bounded queue of packets. */
struct wire {
    uint8_t pkt[QLEN][MTU];
    size_t len[QLEN];
    unsigned head, count;
    unsigned long sent, refused;
};

/* synack_output_fn: called synchronously for each packet the stack sends.
 * The buffer is the stack's: copy it now.  Returning -ENOBUFS tells the
 * stack the device is full (TCP recovers as from a loss); -EHOSTUNREACH
 * would fail a connect() at once and explain a later timeout. */
static int wire_output(void *user, const uint8_t *pkt, size_t len)
{
    struct wire *w = user;
    if (len > MTU)
        return -EMSGSIZE;
    if (w->count == QLEN) {
        w->refused++;
        return -ENOBUFS;
    }
    unsigned slot = (w->head + w->count++) % QLEN;
    memcpy(w->pkt[slot], pkt, len);
    w->len[slot] = len;
    w->sent++;
    return 0;
}

/* Deliver what is queued on w to stack s at time now. */
static void deliver(struct wire *w, struct synack_stack *s, synack_time_t now)
{
    while (w->count > 0) {
        unsigned slot = w->head;
        w->head = (w->head + 1) % QLEN;
        w->count--;
        synack_stack_input(s, w->pkt[slot], w->len[slot], now);
    }
}

int main(void)
{
    static struct wire ab, ba; /* a -> b and b -> a */
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.mtu = MTU;
    struct synack_stack *a, *b;
    cfg.addr = 0x0a000001; /* 10.0.0.1 */
    synack_stack_new(&cfg, wire_output, &ab, &a);
    cfg.addr = 0x0a000002; /* 10.0.0.2 */
    synack_stack_new(&cfg, wire_output, &ba, &b);

    int lfd = synack_socket(b, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(5000)};
    synack_bind(b, lfd, (struct sockaddr *)&sin, sizeof(sin));
    synack_listen(b, lfd, 1);
    int cfd = synack_socket(a, AF_INET, SOCK_STREAM, 0);
    sin.sin_addr.s_addr = htonl(0x0a000002);
    synack_connect(a, cfd, (struct sockaddr *)&sin, sizeof(sin)); /* the SYN is in ab now */

    /* The loop of any driver: deliver, let time pass to the next deadline
     * (here: at most 1 ms per round, as if the wire took 1 ms), repeat. */
    const char msg[] = "over a wire of my own";
    char got[64] = {0};
    int sfd = -1;
    bool sent = false;
    synack_time_t now = 0;
    for (int round = 0; round < 10000 && strcmp(got, msg) != 0; round++) {
        now += SYNACK_MSEC(1);
        synack_stack_advance(a, now); /* timers due by now (retransmissions...) */
        synack_stack_advance(b, now);
        deliver(&ab, b, now);
        deliver(&ba, a, now);
        if (sfd < 0)
            sfd = synack_accept(b, lfd, NULL, NULL);
        if (!sent)
            sent = synack_send(a, cfd, msg, sizeof(msg) - 1, 0) > 0; /* EAGAIN before ESTABLISHED */
        if (sfd >= 0) {
            size_t n = strlen(got);
            ssize_t k = synack_recv(b, sfd, got + n, sizeof(got) - 1 - n, 0);
            (void)k;
        }
    }
    int ok = strcmp(got, msg) == 0;
    printf("received \"%s\" after %.0f ms; %lu + %lu packets on the wire: %s\n", got,
           (double)now / 1000.0, ab.sent, ba.sent, ok ? "ok" : "FAILED");
    synack_stack_free(a);
    synack_stack_free(b);
    return ok ? 0 : 1;
}
