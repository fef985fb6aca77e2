/* The stack's bounds reached, one by one (issue 10 item 5), each time
 * checking that the stack keeps serving a connection it already has and
 * reports the limit as Linux would:
 *   - descriptors (max_sockets): socket() fails with EMFILE;
 *   - connection blocks (max_conns): a handshake that would need one more is
 *     dropped and counted (tcp_listen_drops), the peer retries;
 *   - the memory budget (mem_max): send() gets EAGAIN (as Linux's
 *     non-blocking send when tcp_mem refuses; a short count when some of
 *     the data fit), socket() ENOBUFS, data from the peer
 *     that needs a new buffer chunk is dropped (and re-sent later), the
 *     refusals are counted (mem_refused), advertised windows stop growing
 *     past 3/4 of the budget (tcp_window_clamped), and what a peer sends
 *     never takes the stack's account past the budget.
 * The SYN cache (max_syncache) and fragments (frag_max, frag_mem_max) have
 * theirs in test_syncache.c and test_frag.c; the ARP queue in test_arp.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>

#include "unit/raw_peer.h"

static struct synack_stack *limited(struct h *h, uint32_t max_sockets, uint32_t max_conns,
                                    uint64_t mem_max)
{
    memset(h, 0, sizeof(*h));
    struct synack_config c;
    synack_config_init(&c);
    c.seed = 42;
    c.addr = SRV;
    c.max_sockets = max_sockets;
    c.max_conns = max_conns;
    c.mem_max = mem_max;
    assert_int_equal(synack_stack_new(&c, capture, h, &h->s), 0);
    synack_stack_advance(h->s, SYNACK_SEC(1000));
    h->lfd = synack_socket(h->s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(synack_bind(h->s, h->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(h->s, h->lfd, 64), 0);
    return h->s;
}

/* The established connection on `fd` (peer port `sport`, our ISS iss)
 * still takes data from the peer and sends it back. */
static void still_serves(struct h *h, int fd, uint16_t sport, uint32_t iss, uint32_t *pseq)
{
    struct synack_tcp_opts a = {.present = SYNACK_TCPOPT_F_TIMESTAMP, .tsval = 200,
                                .tsecr = h->last.opts.tsval};
    seg_in(h, PEER, sport, SYNACK_TH_ACK | SYNACK_TH_PSH, *pseq, iss + 1, &a, "ping");
    *pseq += 4;
    char buf[8] = {0};
    synack_fcntl(h->s, fd, F_SETFL, O_NONBLOCK);
    assert_int_equal(synack_recv(h->s, fd, buf, sizeof(buf), 0), 4);
    assert_string_equal(buf, "ping");
    uint32_t before = h->nout;
    assert_int_equal(synack_send(h->s, fd, "pong", 4, 0), 4);
    assert_true(h->nout > before);
    assert_int_equal(h->last.payload_len, 4);
}

static void test_descriptors_emfile(void **state)
{
    (void)state;
    struct h h;
    limited(&h, 8, 64, 128u << 20);
    uint32_t iss, seq = 1001;
    int fd = establish(&h, 30000, &iss);
    int n = 0, last = -1;
    for (;;) {
        int s2 = synack_socket(h.s, AF_INET, SOCK_STREAM, 0);
        if (s2 < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        last = s2;
        assert_true(++n < 16);
    }
    still_serves(&h, fd, 30000, iss, &seq);
    assert_int_equal(synack_close(h.s, last), 0);
    assert_true(synack_socket(h.s, AF_INET, SOCK_STREAM, 0) >= 0);
    synack_stack_free(h.s);
}

static void test_connections_counted_drop(void **state)
{
    (void)state;
    struct h h;
    limited(&h, 64, 3, 128u << 20); /* the listener and two connections */
    uint32_t iss, iss2, seq = 1001;
    int fd = establish(&h, 30000, &iss);
    establish(&h, 30001, &iss2);
    /* A third handshake completes on the wire but finds no connection
     * block: the ACK is dropped and counted; the entry waits for a retry. */
    struct synack_tcp_opts o = linux_syn_opts(100);
    seg_in(&h, PEER, 30002, SYNACK_TH_SYN, 1000, 0, &o, NULL);
    uint32_t iss3 = h.last.seq;
    uint64_t drops = st(&h)->tcp_listen_drops;
    seg_in(&h, PEER, 30002, SYNACK_TH_ACK, 1001, iss3 + 1, NULL, NULL);
    assert_int_equal(st(&h)->tcp_listen_drops, drops + 1);
    assert_int_equal(synack_accept(h.s, h.lfd, NULL, NULL), -1);
    assert_int_equal(st(&h)->tcp_halfopen, 1);
    still_serves(&h, fd, 30000, iss, &seq);
    synack_stack_free(h.s);
}

static void test_memory_budget(void **state)
{
    (void)state;
    struct h h;
    struct synack_stack *s = limited(&h, 256, 256, 64 * 1024);
    uint32_t iss[8], seq[8];
    int fd[8];
    for (int i = 0; i < 8; i++) {
        fd[i] = establish(&h, (uint16_t)(31000 + i), &iss[i]);
        seq[i] = 1001;
        synack_fcntl(s, fd[i], F_SETFL, O_NONBLOCK);
    }
    /* Fill send buffers until the budget says no: EAGAIN, counted. */
    static char big[64 * 1024];
    int refused = -1;
    for (int i = 1; i < 8 && refused < 0; i++) {
        ssize_t r = synack_send(s, fd[i], big, sizeof(big), 0);
        if (r < 0) {
            assert_int_equal(errno, EAGAIN);
            refused = i;
        }
    }
    assert_true(refused > 0);
    assert_true(st(&h)->mem_refused > 0);
    /* No room for another connection block: socket() says ENOBUFS. */
    int sfd[64], nsock = 0;
    for (;;) {
        assert_true(nsock < 64);
        sfd[nsock] = synack_socket(s, AF_INET, SOCK_STREAM, 0);
        if (sfd[nsock] < 0) {
            assert_int_equal(errno, ENOBUFS);
            break;
        }
        nsock++;
    }
    while (nsock > 0)
        assert_int_equal(synack_close(s, sfd[--nsock]), 0);
    /* The peer floods data on every connection: what needs a new chunk is
     * dropped; the account never passes the budget. */
    struct synack_stack_memory m;
    for (int k = 0; k < 200; k++) {
        int i = 1 + k % 7;
        seg_in(&h, PEER, (uint16_t)(31000 + i), SYNACK_TH_ACK, seq[i], iss[i] + 1, NULL,
               "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        synack_stack_memory(s, &m);
        assert_true(m.used <= 64 * 1024);
        if (h.last.ack == seq[i] + 64)
            seq[i] += 64; /* taken (else dropped: the peer sends it again) */
    }
    /* Past 3/4 of the budget the advertised windows stopped growing. */
    assert_true(st(&h)->tcp_window_clamped > 0);
    /* The peers of the others reset them: their memory comes back, and
     * connection 0 is served again. */
    for (int i = 1; i < 8; i++)
        seg_in(&h, PEER, (uint16_t)(31000 + i), SYNACK_TH_RST, seq[i], 0, NULL, NULL);
    synack_stack_memory(s, &m);
    assert_true(m.used <= 64 * 1024);
    still_serves(&h, fd[0], 31000, iss[0], &seq[0]);
    synack_stack_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptors_emfile),
        cmocka_unit_test(test_connections_counted_drop),
        cmocka_unit_test(test_memory_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
