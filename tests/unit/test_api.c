/* The public API's promises (docs/api.md): versions, versioned
 * configuration, statistics by name, the address type, the per-socket user
 * pointer handed to the event callback, and stacks that follow the
 * simulator's clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "synack/dev.h"
#include "synack/synack.h"

#define CADDR 0xc0000201u
#define SADDR 0xc0000202u

static int out_null(void *user, const uint8_t *pkt, size_t len)
{
    (void)user;
    (void)pkt;
    (void)len;
    return 0;
}

static void test_version(void **state)
{
    (void)state;
    const char *str = NULL;
    uint32_t v = synack_version(&str);
    assert_int_equal(v, SYNACK_VERSION_NUM);
    assert_string_equal(str, SYNACK_VERSION_STRING);
    char buf[32];
    snprintf(buf, sizeof(buf), "%d.%d.%d", SYNACK_VERSION_MAJOR, SYNACK_VERSION_MINOR,
             SYNACK_VERSION_PATCH);
    assert_string_equal(buf, SYNACK_VERSION_STRING);
    assert_int_equal(synack_version(NULL), v);
}

/* The config carries its version: unknown versions are refused rather than
 * misread, and the defaults fill only what the caller's version has. */
static void test_config_versions(void **state)
{
    (void)state;
    struct synack_config c;
    memset(&c, 0xa5, sizeof(c));
    synack_config_default_versioned(0, &c); /* unknown: untouched */
    assert_int_equal(c.mtu, 0xa5a5);
    synack_config_default_versioned(SYNACK_CONFIG_VERSION + 1, &c);
    assert_int_equal(c.mtu, 0xa5a5);
    synack_config_default(&c);
    assert_int_equal(c.mtu, 1500);
    assert_int_equal(c.ttl, 64);
    c.addr = CADDR;
    struct synack_stack *s = NULL;
    assert_int_equal(synack_stack_new_versioned(0, &c, out_null, NULL, &s), -EINVAL);
    assert_int_equal(synack_stack_new_versioned(SYNACK_CONFIG_VERSION + 1, &c, out_null, NULL, &s),
                     -EINVAL);
    assert_null(s);
    assert_int_equal(synack_stack_new(&c, out_null, NULL, &s), 0);
    assert_int_equal(synack_stack_addr(s), CADDR);
    synack_stack_free(s);
    assert_null(c.alloc); /* V4's allocator: libc by default */
    /* A program built against version 3 has no allocator fields: what lies
     * past its struct is never read (here garbage that would crash if
     * called as an allocator). */
    memset(&c, 0xa5, sizeof(c));
    synack_config_default_versioned(SYNACK_CONFIG_V3, &c);
    c.addr = CADDR;
    assert_int_equal(synack_stack_new_versioned(SYNACK_CONFIG_V3, &c, out_null, NULL, &s), 0);
    assert_int_equal(synack_socket(s, AF_INET, SOCK_STREAM, 0), 3);
    synack_stack_free(s);
    synack_config_default(&c);
    c.addr = CADDR;

    struct synack_link_params lp;
    memset(&lp, 0xff, sizeof(lp));
    synack_link_params_default(&lp);
    assert_int_equal(lp.delay, SYNACK_MSEC(1));
    struct synack_sim *sim;
    assert_int_equal(synack_sim_new(1, &sim), 0);
    assert_int_equal(synack_sim_add_stack_versioned(sim, 99, &c, &s), -EINVAL);
    int a = synack_sim_add_stack(sim, &c, &s);
    c.addr = SADDR;
    int b = synack_sim_add_stack(sim, &c, &s);
    assert_true(a >= 0 && b >= 0);
    assert_int_equal(synack_sim_link_versioned(sim, 99, a, b, &lp, NULL), -EINVAL);
    assert_int_equal(synack_sim_link(sim, a, b, &lp, NULL), 0);
    assert_int_equal(synack_sim_link_set_versioned(sim, 0, 0, a, &lp), -EINVAL);
    assert_int_equal(synack_sim_link_set(sim, 0, a, &lp), 0);
    synack_sim_free(sim);

    struct synack_dev_config dc;
    synack_dev_config_default(&dc);
    assert_int_equal(dc.mtu, 1500);
    struct synack_dev *d = NULL;
    assert_int_equal(synack_dev_open_versioned(99, &dc, &d), -EINVAL);
    assert_null(d);
}

/* Every counter has a name, the table covers the whole struct (a counter
 * appended without a name fails here), and a name reads the same value as
 * the struct. */
static void test_stats_by_name(void **state)
{
    (void)state;
    struct synack_config c;
    synack_config_default(&c);
    c.addr = CADDR;
    struct synack_stack *s;
    assert_int_equal(synack_stack_new(&c, out_null, NULL, &s), 0);
    uint8_t junk[40] = {0x45};
    assert_true(synack_stack_input(s, junk, sizeof(junk), 0) < 0); /* a bad packet: counted */
    const struct synack_stack_stats *st = synack_stack_stats(s);
    unsigned n = 0;
    for (const char *name; (name = synack_stack_stat_name(n)) != NULL; n++) {
        uint64_t v = 99;
        assert_int_equal(synack_stack_stat(s, name, &v), 0);
        for (unsigned k = 0; k < n; k++)
            assert_string_not_equal(synack_stack_stat_name(k), name);
    }
    unsigned reserved = SYNACK_STATS_PARSE_SLOTS - SYNACK_WIRE_NERR;
    assert_int_equal((n + reserved) * sizeof(uint64_t), sizeof(struct synack_stack_stats));
    uint64_t v;
    assert_int_equal(synack_stack_stat(s, "ip_in", &v), 0);
    assert_int_equal(v, st->ip_in);
    assert_int_equal(v, 1);
    uint64_t parse = 0;
    for (unsigned k = 0; k < SYNACK_WIRE_NERR; k++)
        parse += st->ip_drop_parse[k];
    assert_int_equal(parse, 1);
    assert_int_equal(synack_stack_stat(s, "ip_drop_parse.checksum", &v), 0);
    assert_int_equal(v, st->ip_drop_parse[-SYNACK_WIRE_ECSUM]);
    assert_int_equal(synack_stack_stat(s, "no_such_counter", &v), -ENOENT);
    assert_int_equal(synack_stack_stat(s, NULL, &v), -EINVAL);
    synack_stack_free(s);
}

/* ---- two stacks on the simulator ------------------------------------------ */

struct pair {
    struct synack_sim *sim;
    struct synack_stack *c, *s;
    /* What the callbacks saw. */
    int events, events_with_user, state_changes;
    void *last_user;
    struct synack_conn_addr last_ca;
};

static void on_event(void *user, int fd, short events, void *sock_user)
{
    struct pair *p = user;
    (void)fd;
    (void)events;
    p->events++;
    if (sock_user) {
        p->events_with_user++;
        p->last_user = sock_user;
    }
}

static void on_state(void *user, uint32_t conn_id, const struct synack_conn_addr *ca,
                     enum synack_tcp_state from, enum synack_tcp_state to)
{
    struct pair *p = user;
    (void)conn_id;
    (void)from;
    if (to == SYNACK_ESTABLISHED) {
        p->last_ca = *ca;
        p->state_changes++;
    }
}

static void pair_init(struct pair *p)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(synack_sim_new(7, &p->sim), 0);
    struct synack_config c;
    synack_config_default(&c);
    c.addr = CADDR;
    c.on_state = on_state;
    c.on_state_user = p;
    int a = synack_sim_add_stack(p->sim, &c, &p->c);
    c.addr = SADDR;
    int b = synack_sim_add_stack(p->sim, &c, &p->s);
    struct synack_link_params lp;
    synack_link_params_default(&lp);
    lp.delay = SYNACK_MSEC(10);
    assert_int_equal(synack_sim_link(p->sim, a, b, &lp, NULL), 0);
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(addr);
    return a;
}

static void test_user_pointer_and_addr(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p);
    synack_set_event_cb(p.s, on_event, &p);
    int server_obj, conn_obj;
    int lfd = synack_socket(p.s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 80);
    assert_int_equal(synack_bind(p.s, lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(synack_listen(p.s, lfd, 4), 0);
    assert_null(synack_get_user(p.s, lfd));
    assert_int_equal(synack_set_user(p.s, lfd, &server_obj), 0);
    assert_ptr_equal(synack_get_user(p.s, lfd), &server_obj);
    assert_int_equal(synack_set_user(p.s, 999, &server_obj), -1);
    assert_int_equal(errno, EBADF);
    assert_null(synack_get_user(p.s, 999));

    int cfd = synack_socket(p.c, AF_INET, SOCK_STREAM, 0);
    a = sin_of(SADDR, 80);
    assert_int_equal(synack_connect(p.c, cfd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EINPROGRESS);
    synack_sim_run_until(p.sim, SYNACK_MSEC(100));
    /* The listener's event carried its pointer. */
    assert_true(p.events_with_user > 0);
    assert_ptr_equal(p.last_user, &server_obj);
    int sfd = synack_accept(p.s, lfd, NULL, NULL);
    assert_true(sfd >= 0);
    assert_ptr_equal(synack_get_user(p.s, sfd), &server_obj); /* inherited, like tcp_arg */
    assert_int_equal(synack_set_user(p.s, sfd, &conn_obj), 0);
    p.events_with_user = 0;
    assert_int_equal(synack_send(p.c, cfd, "x", 1, 0), 1);
    synack_sim_run_until(p.sim, SYNACK_MSEC(200));
    assert_true(p.events_with_user > 0);
    assert_ptr_equal(p.last_user, &conn_obj);
    int dfd = synack_dup(p.s, sfd);
    assert_ptr_equal(synack_get_user(p.s, dfd), &conn_obj);
    assert_int_equal(synack_close(p.s, sfd), 0);
    assert_null(synack_get_user(p.s, sfd));
    /* A new descriptor in the freed slot starts without a pointer. */
    int nfd = synack_socket(p.s, AF_INET, SOCK_STREAM, 0);
    assert_int_equal(nfd, sfd);
    assert_null(synack_get_user(p.s, nfd));

    /* on_state reported both ends with the address type. */
    assert_int_equal(p.state_changes, 2);
    assert_int_equal(p.last_ca.local.family, SYNACK_AF_INET);
    assert_int_equal(p.last_ca.remote.family, SYNACK_AF_INET);
    uint32_t la = p.last_ca.local.u.v4, ra = p.last_ca.remote.u.v4;
    assert_true((la == CADDR && ra == SADDR) || (la == SADDR && ra == CADDR));
    assert_true(p.last_ca.lport == 80 || p.last_ca.rport == 80);
    synack_sim_free(p.sim);
}

/* The address type has room for IPv6 now, so adding it changes no layout. */
static void test_addr_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(struct synack_addr), 20);
    assert_int_equal(offsetof(struct synack_addr, u), 4);
    assert_int_equal(sizeof(struct synack_conn_addr), 44);
    struct synack_addr a = synack_addr_v4(0x0a000001u);
    assert_int_equal(a.family, SYNACK_AF_INET);
    assert_int_equal(a.u.v4, 0x0a000001u);
}

struct clockcheck {
    struct pair *p;
    int calls, bad;
};

static bool clocks_equal(void *user)
{
    struct clockcheck *k = user;
    k->calls++;
    synack_time_t t = synack_sim_now(k->p->sim);
    if (synack_stack_now(k->p->c) != t || synack_stack_now(k->p->s) != t)
        k->bad++;
    return false;
}

/* The stacks follow the simulator's clock without the user's help: after
 * step/run_until/run_while and in each done() call. */
static void test_sim_clock_follows(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p);
    synack_sim_run_until(p.sim, SYNACK_SEC(3));
    assert_int_equal(synack_stack_now(p.c), SYNACK_SEC(3));
    assert_int_equal(synack_stack_now(p.s), SYNACK_SEC(3));

    int lfd = synack_socket(p.s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 7);
    synack_bind(p.s, lfd, (struct sockaddr *)&a, sizeof(a));
    synack_listen(p.s, lfd, 4);
    int cfd = synack_socket(p.c, AF_INET, SOCK_STREAM, 0);
    a = sin_of(SADDR, 7);
    synack_connect(p.c, cfd, (struct sockaddr *)&a, sizeof(a));
    /* A send before the handshake completes fails with EAGAIN (not queued),
     * as examples/hello.c says; each step moves both stacks' clocks. */
    int steps = 0;
    while (synack_send(p.c, cfd, "hi", 2, 0) < 0) {
        assert_int_equal(errno, EAGAIN);
        assert_true(synack_sim_step(p.sim));
        assert_int_equal(synack_stack_now(p.c), synack_sim_now(p.sim));
        assert_int_equal(synack_stack_now(p.s), synack_sim_now(p.sim));
        assert_true(++steps < 10);
    }
    /* One RTT (20 ms) after the connect made at 3 s. */
    assert_int_equal(synack_sim_now(p.sim), SYNACK_SEC(3) + SYNACK_MSEC(20));
    struct clockcheck k = {&p, 0, 0};
    assert_false(synack_sim_run_while(p.sim, clocks_equal, &k, SYNACK_SEC(5)));
    assert_true(k.calls > 1);
    assert_int_equal(k.bad, 0);
    assert_int_equal(synack_stack_now(p.c), synack_sim_now(p.sim));
    synack_sim_run_until(p.sim, SYNACK_SEC(5));

    /* A stack added late starts at the simulator's time. */
    struct synack_config c;
    synack_config_default(&c);
    c.addr = 0xc0000203u;
    struct synack_stack *late;
    assert_true(synack_sim_add_stack(p.sim, &c, &late) >= 0);
    assert_int_equal(synack_stack_now(late), SYNACK_SEC(5));
    synack_sim_free(p.sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_config_versions),
        cmocka_unit_test(test_stats_by_name),
        cmocka_unit_test(test_user_pointer_and_addr),
        cmocka_unit_test(test_addr_layout),
        cmocka_unit_test(test_sim_clock_follows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
