/* Unpredictable numbers (RFC 6528 ISNs, RFC 6056 ports, RFC 7323 7.1
 * timestamp offsets): a stack made with the defaults draws its secret from
 * the OS, so two of them choose different ISNs and ports; an explicit seed
 * replays exactly; no seed and no secret is refused; a local port serves
 * connections to different destinations, as on Linux. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "synack/socket.h"

struct cap {
    uint32_t n;
    struct synack_tcp_hdr syn[8];
    uint8_t raw[8][128];
};

static int capture(void *user, const uint8_t *pkt, size_t len)
{
    struct cap *c = user;
    struct synack_ipv4_hdr ip;
    if (c->n >= 8 || len > sizeof(c->raw[0]) || synack_ipv4_parse(pkt, len, &ip) < 0)
        return 0;
    memcpy(c->raw[c->n], pkt, len);
    /* Parse from our copy, so the header's pointers outlive the call. */
    synack_ipv4_parse(c->raw[c->n], len, &ip);
    if (synack_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &c->syn[c->n]) == 0)
        c->n++;
    return 0;
}

static struct synack_stack *stack_from(struct synack_config *cfg, struct cap *c)
{
    struct synack_stack *s;
    cfg->addr = 0x0a000001;
    assert_int_equal(synack_stack_new(cfg, capture, c, &s), 0);
    return s;
}

static int connect_to(struct synack_stack *s, uint32_t ip, uint16_t port)
{
    int fd = synack_socket(s, AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(ip)};
    assert_int_equal(synack_connect(s, fd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
    return fd;
}

/* The SYNs of connections to four destinations, at the same time. */
/* connect() that must fail at once with `err`. */
static void connect_fails(struct synack_stack *s, uint32_t ip, uint16_t port, int err)
{
    int fd = synack_socket(s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(ip)};
    assert_int_equal(synack_connect(s, fd, (struct sockaddr *)&d, sizeof(d)), -1);
    assert_int_equal(errno, err);
}

/* bind() to `port` that must fail with `err`. */
static void bind_fails(struct synack_stack *s, uint16_t port, int err)
{
    struct sockaddr_in b = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = synack_socket(s, AF_INET, SOCK_STREAM, 0);
    assert_int_equal(synack_bind(s, fd, (struct sockaddr *)&b, sizeof(b)), -1);
    assert_int_equal(errno, err);
}

static void first_syns(struct synack_config *cfg, struct synack_tcp_hdr out[4])
{
    struct cap c = {0};
    struct synack_stack *s = stack_from(cfg, &c);
    synack_stack_advance(s, SYNACK_SEC(5));
    for (uint32_t i = 0; i < 4; i++)
        connect_to(s, 0x0a000002 + i, 80);
    assert_int_equal(c.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_true(c.syn[i].flags & SYNACK_TH_SYN);
        out[i] = c.syn[i];
    }
    synack_stack_free(s);
}

static void first_syn(struct synack_config *cfg, struct synack_tcp_hdr *out)
{
    struct synack_tcp_hdr four[4];
    first_syns(cfg, four);
    *out = four[0];
}

static void test_default_stacks_differ(void **state)
{
    (void)state;
    struct synack_config a, b;
    synack_config_default(&a);
    synack_config_default(&b);
    assert_int_equal(a.seed, 0);
    assert_false(a.secret[0] == 0 && a.secret[1] == 0);
    assert_false(a.secret[0] == b.secret[0] && a.secret[1] == b.secret[1]);
    struct synack_tcp_hdr x[4], y[4];
    first_syns(&a, x);
    first_syns(&b, y);
    /* Same host, same time, same destinations: only the secret differs.
     * One port pair may collide by chance (1 in 28,232); four may not. */
    int same_port = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_not_equal(x[i].seq, y[i].seq);
        assert_int_not_equal(x[i].opts.tsval, y[i].opts.tsval);
        same_port += x[i].sport == y[i].sport;
    }
    assert_true(same_port < 4);
}

static void test_seed_replays(void **state)
{
    (void)state;
    struct synack_config a;
    synack_config_default(&a);
    a.seed = 1234;
    struct synack_tcp_hdr x, y, z;
    first_syn(&a, &x);
    first_syn(&a, &y);
    assert_int_equal(x.seq, y.seq);
    assert_int_equal(x.sport, y.sport);
    assert_int_equal(x.opts.tsval, y.opts.tsval);
    a.seed = 1235;
    first_syn(&a, &z);
    assert_int_not_equal(x.seq, z.seq);
}

static void test_no_secret_refused(void **state)
{
    (void)state;
    struct synack_config c;
    synack_config_init(&c);
    c.addr = 0x0a000001;
    struct synack_stack *s = NULL;
    assert_int_equal(synack_stack_new(&c, capture, NULL, &s), -EINVAL);
    c.secret[1] = 0x5eed;
    struct cap cp = {0};
    assert_int_equal(synack_stack_new(&c, capture, &cp, &s), 0);
    synack_stack_free(s);
}

/* RFC 6528: M, the 4 us clock, moves the ISN of one tuple forward in time. */
static void test_isn_clock(void **state)
{
    (void)state;
    struct synack_config a;
    synack_config_init(&a);
    a.seed = 99;
    a.ephemeral_lo = a.ephemeral_hi = 40000;
    struct cap c2 = {0};
    struct synack_stack *s2 = stack_from(&a, &c2);
    synack_stack_advance(s2, SYNACK_SEC(1));
    int fd = connect_to(s2, 0x0a000002, 80);
    synack_close(s2, fd);
    synack_stack_advance(s2, SYNACK_SEC(3));
    connect_to(s2, 0x0a000002, 80);
    assert_int_equal(c2.n, 2);
    assert_int_equal(c2.syn[0].sport, 40000);
    assert_int_equal(c2.syn[1].sport, 40000);
    /* Same tuple, 2 s later: 500,000 ticks of 4 us further on. */
    assert_int_equal(c2.syn[1].seq - c2.syn[0].seq, 500000u);
    synack_stack_free(s2);
}

/* Linux shares an automatically bound port among connections to different
 * destinations; the 4-tuple stays unique.  With one ephemeral port, three
 * destinations still get a connection each; the same destination again
 * finds no port. */
static void test_port_shared_across_destinations(void **state)
{
    (void)state;
    struct synack_config a;
    synack_config_init(&a);
    a.seed = 7;
    a.ephemeral_lo = a.ephemeral_hi = 50000;
    struct cap c = {0};
    struct synack_stack *s = stack_from(&a, &c);
    connect_to(s, 0x0a000002, 80);
    connect_to(s, 0x0a000003, 80);
    connect_to(s, 0x0a000002, 81);
    assert_int_equal(c.n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(c.syn[i].sport, 50000);
    connect_fails(s, 0x0a000002, 80, EADDRNOTAVAIL);
    /* bind() never takes a port connect() shares, nor does bind(0) find one. */
    bind_fails(s, 50000, EADDRINUSE);
    bind_fails(s, 0, EADDRNOTAVAIL);
    synack_stack_free(s);
}

/* A port bound by bind() is never handed to connect()'s automatic bind. */
static void test_bound_port_not_shared(void **state)
{
    (void)state;
    struct synack_config a;
    synack_config_init(&a);
    a.seed = 8;
    a.ephemeral_lo = a.ephemeral_hi = 50001;
    struct cap c = {0};
    struct synack_stack *s = stack_from(&a, &c);
    int l = synack_socket(s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in b = {.sin_family = AF_INET, .sin_port = htons(50001)};
    assert_int_equal(synack_bind(s, l, (struct sockaddr *)&b, sizeof(b)), 0);
    connect_fails(s, 0x0a000002, 80, EADDRNOTAVAIL);
    assert_int_equal(c.n, 0);
    synack_stack_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_stacks_differ),
        cmocka_unit_test(test_seed_replays),
        cmocka_unit_test(test_no_secret_refused),
        cmocka_unit_test(test_isn_clock),
        cmocka_unit_test(test_port_shared_across_destinations),
        cmocka_unit_test(test_bound_port_not_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
