/* Unit tests of the packet-script parser (tools/synack/script_parse.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../tools/synack/script_parse.c"

struct parsed {
    struct sn_script sc;
    int rc, line;
    char err[256];
};

static void parse(struct parsed *p, const char *text)
{
    p->line = -1;
    p->rc = sn_script_parse(text, strlen(text), &p->sc, &p->line, p->err, sizeof(p->err));
}

/* Parses text that must fail at `line` with a message containing `needle`. */
static void parse_fails(const char *text, int line, const char *needle)
{
    struct parsed p;
    parse(&p, text);
    if (p.rc == 0)
        sn_script_free(&p.sc);
    assert_int_equal(p.rc, -1);
    assert_int_equal(p.line, line);
    if (strstr(p.err, needle) == NULL)
        fail_msg("error '%s' lacks '%s'", p.err, needle);
}

static const struct sn_event *ev(const struct parsed *p, size_t i)
{
    assert_true(i < p->sc.nev);
    return p->sc.ev[i];
}

static void test_header_options(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "--ip_version=ipv4\n"
              "--tolerance_usecs=75000\n"
              "  --local_ip=10.0.0.1\n"
              "--remote_ip=10.0.0.2\n"
              "--mss=1000\n"
              "--bind_port=80\n"
              "--tcp_ts_tick_usecs=1000\n"
              "0 close(3) = -1 EBADF (Bad file descriptor)\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.sc.tolerance_us, 75000);
    assert_int_equal(p.sc.local_ip, 0x0a000001);
    assert_int_equal(p.sc.remote_ip, 0x0a000002);
    assert_int_equal(p.sc.mtu, 1040);
    assert_int_equal(p.sc.bind_port, 80);
    assert_int_equal(p.sc.connect_port, 8080);
    assert_int_equal(p.sc.nopts, 7);
    assert_string_equal(p.sc.opts[6].name, "tcp_ts_tick_usecs");
    assert_string_equal(p.sc.opts[6].value, "1000");
    assert_false(p.sc.opts[6].used);
    assert_true(p.sc.opts[1].used);
    sn_script_free(&p.sc);

    parse(&p, "0 close(3) = 0\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.sc.tolerance_us, 4000);
    assert_int_equal(p.sc.local_ip, 0xc0a80001);
    assert_int_equal(p.sc.remote_ip, 0xc0000201);
    assert_int_equal(p.sc.mtu, 0);
    sn_script_free(&p.sc);

    parse_fails("--ip_version=ipv6\n", 1, "unsupported: --ip_version=ipv6");
    parse_fails("\n--local_ip=300.1.1.1\n", 2, "not an IPv4 address");
    parse_fails("--tolerance_usecs=abc\n", 1, "not a number");
    parse_fails("--mss=10\n", 1, "not a number in 28..65495");
    parse_fails("0 close(3) = 0\n--mss=1000\n", 2, "option after the first event");
    parse_fails("--mss=1000\n// nothing else\n", 3, "the script has no events");
    parse_fails("", 1, "the script has no events");
}

static void test_times(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
              "+.1 listen(3, 1) = 0\n"
              "0.100...0.200 accept(3, ..., ...) = 4\n"
              "+0...0.3 read(4, ..., 10) = 10\n"
              "0.1~0.25 > . 1:1(0) ack 1\n"
              "+0~+0.01 > . 1:1(0) ack 1\n"
              "* > F. 1:1(0) ack 1\n"
              "1.5 close(4) = 0\n"
              "+2 close(3) = 0\n"
              "0.1234567 close(5) = 0\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.sc.nev, 10);
    assert_int_equal(ev(&p, 0)->time_kind, SN_TIME_ABS);
    assert_int_equal(ev(&p, 0)->time_us, 0);
    assert_int_equal(ev(&p, 1)->time_kind, SN_TIME_REL);
    assert_int_equal(ev(&p, 1)->time_us, 100000);
    assert_int_equal(ev(&p, 2)->time_us, 100000);
    assert_int_equal(ev(&p, 2)->block_end_us, 200000);
    assert_int_equal(ev(&p, 3)->time_kind, SN_TIME_REL);
    assert_int_equal(ev(&p, 3)->block_end_us, 300000);
    assert_int_equal(ev(&p, 4)->range_end_us, 250000);
    assert_int_equal(ev(&p, 5)->time_kind, SN_TIME_REL);
    assert_int_equal(ev(&p, 5)->range_end_us, 10000);
    assert_int_equal(ev(&p, 6)->time_kind, SN_TIME_ANY);
    assert_int_equal(ev(&p, 7)->time_us, 1500000);
    assert_int_equal(ev(&p, 8)->time_us, 2000000);
    assert_int_equal(ev(&p, 9)->time_us, 123456);   /* below a microsecond is cut */
    assert_int_equal(ev(&p, 0)->range_end_us, -1);
    assert_int_equal(ev(&p, 0)->block_end_us, -1);
    sn_script_free(&p.sc);

    parse_fails("* < S 0:0(0) win 1\n", 1, "'*' can only be used with outbound");
    parse_fails("0~1 close(3) = 0\n", 1, "time range can only be used with outbound");
    parse_fails("0.2~0.1 > S 0:0(0)\n", 1, "time range is backwards");
    parse_fails("0...1 > S 0:0(0)\n", 1, "only for system calls");
    parse_fails("0.3...0.2 close(3) = 0\n", 1, "ends before it starts");
    parse_fails("+0~0.1 > S 0:0(0)\n", 1, "expected '+' and a relative time");
    parse_fails("-1 close(3) = 0\n", 1, "negative");
    parse_fails("999999999 close(3) = 0\n", 1, "above");
    parse_fails("0x10 close(3) = 0\n", 1, "negative or above");
    parse_fails("close(3) = 0\n", 1, "expected a time at the start of an event");
}

static void test_packets(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "0 < S 0:0(0) win 32792 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>\n"
              "+0 > S. 0:0(0) ack 1 <...>\n"
              "+0 > P. 1:1001(1000) ack 1\n"
              "+0 > R 2:2(0)\n"
              "+0 < [ect0] 40000>8080 SEW 4294967295:4294967295(0) win 100 urg 3\n"
              "+0 < - 5:5(0) win 0\n"
              "+0 < . 1:1(0) ack 1 win 257 <sack 1461:2921 3000:4000,nop,nop>\n"
              "+0 > (tos 0x10) FP. 1:1(0) ack 1 win 0 <nop,nop,nop,eol>\n"
              "+0 > [ect01] U. 1:1(0) ack 1\n");
    assert_int_equal(p.rc, 0);
    const struct sn_packet *s = &ev(&p, 0)->u.pkt;
    assert_int_equal(ev(&p, 0)->kind, SN_EV_PACKET);
    assert_false(s->outbound);
    assert_int_equal(s->flags, SYNACK_TH_SYN);
    assert_int_equal(s->seq, 0);
    assert_int_equal(s->len, 0);
    assert_true(s->has_win);
    assert_int_equal(s->win, 32792);
    assert_false(s->has_ack);
    assert_int_equal(s->opts_mode, SN_OPTS_LIST);
    assert_int_equal(s->nopts, 5);
    assert_int_equal(s->opts[0].kind, SYNACK_TCPOPT_MSS);
    assert_int_equal(s->opts[0].v1, 1460);
    assert_int_equal(s->opts[1].kind, SYNACK_TCPOPT_SACK_PERM);
    assert_int_equal(s->opts[2].kind, SYNACK_TCPOPT_TIMESTAMP);
    assert_int_equal(s->opts[2].v1, 100);
    assert_int_equal(s->opts[2].v2, 0);
    assert_int_equal(s->opts[3].kind, SYNACK_TCPOPT_NOP);
    assert_int_equal(s->opts[4].kind, SYNACK_TCPOPT_WSCALE);
    assert_int_equal(s->opts[4].v1, 7);
    assert_int_equal(sn_tcp_opts_wire_len(s->opts, s->nopts), 20);

    s = &ev(&p, 1)->u.pkt;
    assert_true(s->outbound);
    assert_int_equal(s->flags, SYNACK_TH_SYN | SYNACK_TH_ACK);
    assert_true(s->has_ack);
    assert_int_equal(s->ack, 1);
    assert_false(s->has_win);
    assert_int_equal(s->opts_mode, SN_OPTS_ANY);

    s = &ev(&p, 2)->u.pkt;
    assert_int_equal(s->flags, SYNACK_TH_PSH | SYNACK_TH_ACK);
    assert_int_equal(s->seq, 1);
    assert_int_equal(s->len, 1000);
    assert_int_equal(s->opts_mode, SN_OPTS_NONE);

    assert_int_equal(ev(&p, 3)->u.pkt.flags, SYNACK_TH_RST);
    assert_false(ev(&p, 3)->u.pkt.has_ack);

    s = &ev(&p, 4)->u.pkt;
    assert_int_equal(s->tos_check, SN_TOS_ECN);
    assert_int_equal(s->tos, 2);
    assert_true(s->has_ports);
    assert_int_equal(s->sport, 40000);
    assert_int_equal(s->dport, 8080);
    assert_int_equal(s->flags, SYNACK_TH_SYN | SYNACK_TH_ECE | SYNACK_TH_CWR);
    assert_int_equal(s->seq, 4294967295u);
    assert_true(s->has_urg);
    assert_int_equal(s->urg, 3);

    assert_int_equal(ev(&p, 5)->u.pkt.flags, 0);

    s = &ev(&p, 6)->u.pkt;
    assert_int_equal(s->nopts, 3);
    assert_int_equal(s->opts[0].kind, SYNACK_TCPOPT_SACK);
    assert_int_equal(s->opts[0].nsack, 2);
    assert_int_equal(s->opts[0].len, 18);
    assert_int_equal(s->opts[0].sack[0][0], 1461);
    assert_int_equal(s->opts[0].sack[0][1], 2921);
    assert_int_equal(s->opts[0].sack[1][0], 3000);
    assert_int_equal(s->opts[0].sack[1][1], 4000);

    s = &ev(&p, 7)->u.pkt;
    assert_int_equal(s->tos_check, SN_TOS_FULL);
    assert_int_equal(s->tos, 0x10);
    assert_int_equal(s->flags, SYNACK_TH_FIN | SYNACK_TH_PSH | SYNACK_TH_ACK);
    assert_int_equal(s->opts[3].kind, SYNACK_TCPOPT_EOL);

    assert_int_equal(ev(&p, 8)->u.pkt.tos_check, SN_TOS_ECT01);
    assert_int_equal(ev(&p, 8)->u.pkt.flags, SYNACK_TH_URG | SYNACK_TH_ACK);
    sn_script_free(&p.sc);
}

static void test_packet_errors(void **state)
{
    (void)state;
    parse_fails("0 < S 0:1(0) win 1\n", 1, "inconsistent TCP sequence numbers");
    parse_fails("0 < SX 0:0(0)\n", 1, "bad TCP flags 'SX'");
    parse_fails("0 < S 0:0(0) <mss 1460,bogus 3>\n", 1, "unknown TCP option 'bogus'");
    parse_fails("0 < S 0:0(0) <...>\n", 1, "<...> can only be used with outbound");
    parse_fails("0 < [ect01] S 0:0(0)\n", 1, "[ect01] can only be used with outbound");
    parse_fails("0 < S 0:0(0) <TS val 1 ecr 2,TS val 1 ecr 2,TS val 1 ecr 2,"
                "TS val 1 ecr 2,TS val 1 ecr 2>\n",
                1, "TCP options take 50 bytes");
    parse_fails("0 < S 0:0(0) <sack 1:2 3:4 5:6 7:8 9:10>\n", 1, "more than 4 SACK blocks");
    parse_fails("0 < S 0:0(0) <mss 70000>\n", 1, "MSS 70000 out of range");
    parse_fails("0 < S 0:0(0) win 65536\n", 1, "window 65536 out of range");
    parse_fails("0 < S 0:4294967296(0)\n", 1, "end sequence number");
    parse_fails("0 < S 0:0(0) ack 1 ack 2\n", 1, "'ack' given twice");
    parse_fails("0 < S 0:0(0) <TS 1 ecr 2>\n", 1, "expected 'val'");
    parse_fails("0 < S 0:0(0) <FO abcd>\n", 1, "unsupported: TCP option 'FO'");
    parse_fails("0 < udp (100)\n", 1, "unsupported: udp packets");
    parse_fails("0 < [flowlabel 3] S 0:0(0)\n", 1, "unsupported: IP header spec 'flowlabel'");
    parse_fails("0 < icmp unreachable bogus_code\n", 1, "bad ICMP code 'bogus_code'");
    parse_fails("0 < icmp echo_request net_unreachable\n", 1, "bad ICMP code");
    parse_fails("0 < icmp unreachable port_unreachable mtu 1200\n", 1,
                "ICMP mtu is only valid for unreachable frag_needed");
    parse_fails("0 < icmp unreachable [udp (100)]\n", 1, "unsupported: ICMP quoting");
    parse_fails("0 < icmp echo_request id 5\n", 1, "unsupported: ICMP echo id");
    parse_fails("0 < icmp unreachable [1:2(3)]\n", 1, "inconsistent TCP sequence numbers");
    parse_fails("0 < S 0:0(0) win 1 <md5 0g,nop,nop>\n", 1, "MD5 digest '0g' is not hex");
    parse_fails("0 < S 0:0(0) win 1 <md5 123,nop,nop>\n", 1, "an even number of hex digits");
    parse_fails("0 < S 0:0(0\n", 2, "expected ')'");
    parse_fails("0 < S\n", 2, "expected start sequence number, got end of file");
    parse_fails("0 < S 0:0(0) win 1\n+0 sleep\n", 2, "expected a packet, a system call");
    parse_fails("0 < S 0:0(0) <mss 1460>\n", 1, "window must be specified for inbound packets");
    parse_fails("0 > S 0:0(0) win 1 <mss 1460,nop>\n", 1,
                "TCP options take 5 bytes, not a multiple of 4");
}

/* packetdrill forms for third-party scripts: ICMP lines, (ttl N), '!' and md5. */
static void test_icmp_ttl_absolute_md5(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]\n"
              "+0 > (ttl 64) icmp echo_reply\n"
              "+0 < icmp type_42 code_7\n"
              "+0 < [ect0, ttl 3] S 5:5(0)! ack 9! win 1 <TS val 1 ecr 2!,md5 0011aabbccddeeff,"
              "sack 1:2!,nop,nop>\n"
              "+0 < icmp unreachable port_unreachable [7:7(0)!]\n");
    assert_int_equal(p.rc, 0);
    const struct sn_packet *a = &ev(&p, 0)->u.pkt;
    assert_true(a->is_icmp);
    assert_int_equal(a->icmp.type, 3);
    assert_int_equal(a->icmp.code, 4);
    assert_true(a->icmp.has_mtu);
    assert_int_equal(a->icmp.mtu, 1200);
    assert_true(a->icmp.has_quote);
    assert_false(a->icmp.quote_abs);
    assert_int_equal(a->icmp.quote_seq, 1);
    assert_int_equal(a->icmp.quote_len, 1460);
    const struct sn_packet *b = &ev(&p, 1)->u.pkt;
    assert_true(b->is_icmp && b->outbound && b->has_ttl);
    assert_int_equal(b->ttl, 64);
    assert_int_equal(b->icmp.type, 0);
    assert_int_equal(ev(&p, 2)->u.pkt.icmp.type, 42);
    assert_int_equal(ev(&p, 2)->u.pkt.icmp.code, 7);
    const struct sn_packet *c = &ev(&p, 3)->u.pkt;
    assert_true(c->has_ttl && c->seq_abs && c->ack_abs);
    assert_int_equal(c->ttl, 3);
    assert_int_equal(c->tos_check, SN_TOS_ECN);
    assert_int_equal(c->nopts, 5);
    assert_true(c->opts[0].abs);
    assert_int_equal(c->opts[1].kind, 19);
    assert_int_equal(c->opts[1].len, 18);
    assert_int_equal(c->opts[1].md5[0], 0x00);
    assert_int_equal(c->opts[1].md5[3], 0xbb);
    assert_int_equal(c->opts[1].md5[7], 0xff);
    assert_int_equal(c->opts[1].md5[8], 0);
    assert_true(c->opts[2].abs);
    assert_true(ev(&p, 4)->u.pkt.icmp.quote_abs);
    /* rendered back as written */
    char buf[256];
    sn_packet_render(a, buf, sizeof(buf));
    assert_string_equal(buf, "< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]");
    sn_packet_render(b, buf, sizeof(buf));
    assert_string_equal(buf, "> (ttl 64) icmp echo_reply");
    sn_script_free(&p.sc);
}

static void test_calls(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
              "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
              "+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)\n"
              "+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n"
              "+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0\n"
              "+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n"
              "+0 poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLIN}], 1, 0) = 1\n"
              "+0 bind(3, {sa_family=AF_INET, sin_port=htons(80),\n"
              "            sin_addr=inet_addr(\"1.2.3.4\")}, 16) = 0\n"
              "+0 write(4, \"a\\\"b\"..., 3) = 3\n"
              "+0 getpid() = 7\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.sc.nev, 10);
    const struct sn_call *c = &ev(&p, 0)->u.call;
    assert_int_equal(ev(&p, 0)->kind, SN_EV_CALL);
    assert_string_equal(c->name, "socket");
    assert_int_equal(c->nargs, 3);
    assert_int_equal(c->args[0]->kind, SN_X_ELLIPSIS);
    assert_int_equal(c->args[1]->kind, SN_X_WORD);
    assert_string_equal(c->args[1]->str, "SOCK_STREAM");
    assert_int_equal(c->result->num, 3);
    assert_null(c->errname);

    c = &ev(&p, 1)->u.call;
    assert_int_equal(c->result->num, -1);
    assert_string_equal(c->errname, "EINPROGRESS");

    c = &ev(&p, 2)->u.call;
    assert_true(c->result->hex);
    assert_int_equal(c->result->num, 2);
    assert_null(c->errname);

    c = &ev(&p, 3)->u.call;
    assert_int_equal(c->args[2]->kind, SN_X_OR);
    assert_string_equal(c->args[2]->lhs->str, "O_RDWR");
    assert_string_equal(c->args[2]->rhs->str, "O_NONBLOCK");

    c = &ev(&p, 4)->u.call;
    assert_int_equal(c->args[3]->kind, SN_X_LIST);
    assert_int_equal(c->args[3]->nitems, 1);
    assert_string_equal(c->args[3]->items[0]->str, "ECONNRESET");

    c = &ev(&p, 5)->u.call;
    assert_int_equal(c->args[3]->kind, SN_X_BRACE);
    assert_int_equal(c->args[3]->items[1]->kind, SN_X_ASSIGN);
    assert_string_equal(c->args[3]->items[1]->str, "linger");
    assert_int_equal(c->args[3]->items[1]->rhs->num, 0);

    char buf[256];
    sn_expr_render(ev(&p, 6)->u.call.args[0], buf, sizeof(buf));
    assert_string_equal(buf, "[{fd=4, events=POLLIN|POLLOUT, revents=POLLIN}]");
    sn_expr_render(ev(&p, 7)->u.call.args[1], buf, sizeof(buf));
    assert_string_equal(buf,
                        "{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"1.2.3.4\")}");
    c = &ev(&p, 8)->u.call;
    assert_int_equal(c->args[1]->kind, SN_X_STRING);
    assert_string_equal(c->args[1]->str, "a\"b");
    assert_true(c->args[1]->str_ellipsis);
    assert_int_equal(ev(&p, 9)->u.call.nargs, 0);
    sn_expr_render(ev(&p, 2)->u.call.result, buf, sizeof(buf));
    assert_string_equal(buf, "0x2");
    sn_expr_render(ev(&p, 1)->u.call.result, buf, 3);   /* truncated, still terminated */
    assert_string_equal(buf, "-1");
    sn_script_free(&p.sc);

    parse_fails("0 close(3)\n", 2, "expected '='");
    parse_fails("0 close(3 = 0\n", 1, "expected ')'");
    parse_fails("0 close(3) = 0 (unterminated note\n", 1, "unterminated note");
    parse_fails("0 write(4, 0.5, 1) = 1\n", 1, "expected an expression, got '0.5'");
    parse_fails("0 close(3) = \n", 2, "expected an expression");
}

static void test_comments_commands_multiline(void **state)
{
    (void)state;
    struct parsed p;
    /* Comments before an option line leave it an option line. */
    parse(&p, "// leading comment\n"
              "/* block\n comment */ --tolerance_usecs=10\n"
              "0 close(3) = 0\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.sc.tolerance_us, 10);
    sn_script_free(&p.sc);
    /* "--" in the middle of a line is not an option. */
    parse_fails("0 close(3) = 0 --tolerance_usecs=10\n", 1, "expected a time");

    parse(&p, "`sysctl -q net.ipv4.tcp_sack=1`\n"
              "/* a\n * multi-line comment */\n"
              "0 `echo // not a comment`\n"
              "+0 socket(...,   // comment inside a call\n"
              "          SOCK_STREAM,\n"
              "          IPPROTO_TCP) = 3\n"
              "+0 %{ assert tcpi_state == 1 }%\n"
              "+0 < S 0:0(0)\n"
              "     win 100\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.sc.nev, 5);
    assert_int_equal(ev(&p, 0)->kind, SN_EV_COMMAND);
    assert_string_equal(ev(&p, 0)->u.text, "sysctl -q net.ipv4.tcp_sack=1");
    assert_int_equal(ev(&p, 1)->kind, SN_EV_COMMAND);
    assert_int_equal(ev(&p, 1)->line, 4);
    assert_string_equal(ev(&p, 1)->u.text, "echo // not a comment");
    assert_int_equal(ev(&p, 2)->kind, SN_EV_CALL);
    assert_int_equal(ev(&p, 2)->line, 5);
    assert_int_equal(ev(&p, 3)->kind, SN_EV_CODE);
    assert_int_equal(ev(&p, 4)->u.pkt.win, 100);
    assert_int_equal(ev(&p, 4)->line, 9);
    sn_script_free(&p.sc);

    parse_fails("0 close(3) = 0 /* never closed\n", 1, "unterminated /* comment");
    parse_fails("0 `echo\n\n", 1, "unterminated `command`");
    parse_fails("0 write(3, \"abc, 3) = 3\n", 1, "unterminated string");
    parse_fails("0 %{ x\n", 1, "unterminated %{ code }%");
    /* A command after the first event without a time (third-party scripts
     * do this): it happens when the previous event ended. */
    parse(&p, "0 close(3) = 0\n`late command`\n+0 close(4) = 0\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.sc.nev, 3);
    assert_int_equal(ev(&p, 1)->kind, SN_EV_COMMAND);
    assert_int_equal(ev(&p, 1)->time_kind, SN_TIME_REL);
    assert_int_equal(ev(&p, 1)->time_us, 0);
    assert_string_equal(ev(&p, 1)->u.text, "late command");
    sn_script_free(&p.sc);

    const char nul[] = "0 close(3) = 0\n\0garbage";
    int line;
    char err[128];
    struct sn_script sc;
    assert_int_equal(sn_script_parse(nul, sizeof(nul) - 1, &sc, &line, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "NUL byte"));
}

static void test_render_round_trip(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "< S 0:0(0) win 32792 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
        "> S. 0:0(0) ack 1 <...>",
        "> P. 1:1001(1000) ack 1 win 257",
        "> R 2:2(0)",
        "< [ect0] 40000>8080 SEW 0:0(0) win 100 urg 3",
        "< - 5:5(0) win 0",
        "< . 1:1(0) ack 1 win 257 <sack 1461:2921 3000:4000,nop,nop>",
        "> (tos 0x10) FP. 1:1(0) ack 1 win 0 <nop,nop,nop,eol>",
        "> [ect01] U. 1:1(0) ack 1",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        char text[256], out[256];
        snprintf(text, sizeof(text), "0 %s\n", lines[i]);
        struct parsed p;
        parse(&p, text);
        assert_int_equal(p.rc, 0);
        sn_packet_render(&ev(&p, 0)->u.pkt, out, sizeof(out));
        assert_string_equal(out, lines[i]);
        sn_packet_render(&ev(&p, 0)->u.pkt, out, 8);   /* truncation stays in bounds */
        assert_int_equal(strlen(out), 7);
        sn_script_free(&p.sc);
    }
}

/* A FreeBSD tcp-testsuite style script parses unchanged. */
static void test_freebsd_style(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "--ip_version=ipv4\n"
              "--tolerance_usecs=75000\n"
              "\n"
              " 0.00 `sysctl -w net.inet.tcp.rfc1323=1`\n"
              "+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
              "+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)\n"
              "+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n"
              "+0.00 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0\n"
              "+0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
              "+0.00 > S  0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>\n"
              "+0.10 < S. 0:0(0) ack 1 win 32767 <mss 1460,sackOK,eol,eol>\n"
              "+0.00 >  . 1:1(0) ack 1 win 65535\n"
              "+0.10 shutdown(3, SHUT_WR) = 0\n"
              "+0.00 close(3) = 0\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.sc.nev, 11);
    assert_int_equal(ev(&p, 7)->time_us, 100000);
    assert_int_equal(ev(&p, 7)->u.pkt.nopts, 4);
    sn_script_free(&p.sc);
}

static void test_limits(void **state)
{
    (void)state;
    char deep[256] = "0 f(";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    strcat(deep, "\n");
    parse_fails(deep, 1, "nested more than");

    /* A list longer than the bound is refused, not overflowed. */
    size_t cap = 8 + 4 * (SN_SCRIPT_MAX_ITEMS + 2);
    char *big = malloc(cap);
    assert_non_null(big);
    strcpy(big, "0 f(");
    for (int i = 0; i < SN_SCRIPT_MAX_ITEMS + 1; i++)
        strcat(big, "1,");
    strcat(big, "1");
    parse_fails(big, 1, "more than 256 items");
    free(big);

    char opts[2048] = "0 < S 0:0(0) <";
    for (int i = 0; i < 41; i++)
        strcat(opts, i ? ",nop" : "nop");
    strcat(opts, ">\n");
    parse_fails(opts, 1, "more than 40 TCP options");
}

/* Every prefix, and every single-byte corruption, of a valid script either
 * parses or fails cleanly (run under ASan this also proves no overrun). */
/* A script that ends in "(0" (a number that could start "0x"): the lexer
 * must not look at the byte after the end.  The text sits at the very end
 * of its allocation, so ASan (make test) reports any read past it. */
static void test_ends_in_zero(void **state)
{
    (void)state;
    static const char *const texts[] = {"0 close(0", "0", "0 close(0x", "+0", "0 write(3, ..., 0"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        size_t n = strlen(texts[i]);
        char *buf = malloc(n);
        assert_non_null(buf);
        memcpy(buf, texts[i], n);
        struct sn_script sc;
        int line = 0;
        char err[128];
        int rc = sn_script_parse(buf, n, &sc, &line, err, sizeof(err));
        free(buf);
        assert_int_equal(rc, -1);
        assert_true(strncmp(err, "parse error: ", 13) == 0);
        assert_int_equal(line, 1);
    }
}

static void test_truncated_and_corrupted(void **state)
{
    (void)state;
    static const char text[] =
        "--tolerance_usecs=1000\n"
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
        "+0...0.2 accept(3, ..., ...) = 4\n"
        "+.1 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 1 ecr 0,nop,wscale 7>\n"
        "+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n"
        "+0 < . 1:1(0) ack 1 win 257 <sack 1:2,nop,nop>\n"
        "+0 poll([{fd=4, events=POLLIN, revents=0}], 1, 0) = 0 (note (nested))\n"
        "+0 `cmd` // c\n";
    size_t len = sizeof(text) - 1;
    char *buf = malloc(len);
    assert_non_null(buf);
    int ok = 0;
    for (size_t n = 0; n <= len; n++) {
        /* exactly n bytes in a block of n, so that ASan sees any read past
         * the end: no terminator to lean on */
        char *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, text, n);
        struct sn_script sc;
        int line;
        char err[128];
        int rc = sn_script_parse(cut, n, &sc, &line, err, sizeof(err));
        free(cut);
        if (rc == 0) {
            ok++;
            sn_script_free(&sc);
        } else {
            assert_true(strncmp(err, "parse error: ", 13) == 0 ||
                        strncmp(err, "unsupported: ", 13) == 0);
        }
    }
    assert_true(ok > 5);
    static const char junk[] = "\"`%{}[](){}<>~*+-.|=,:'0x9\\\n";
    for (size_t i = 0; i < len; i++) {
        for (size_t j = 0; j < sizeof(junk) - 1; j++) {
            memcpy(buf, text, len);
            buf[i] = junk[j];
            struct sn_script sc;
            int line;
            char err[128];
            if (sn_script_parse(buf, len, &sc, &line, err, sizeof(err)) == 0)
                sn_script_free(&sc);
        }
    }
    free(buf);
    struct sn_script sc;
    memset(&sc, 0, sizeof(sc));
    sn_script_free(&sc);   /* freeing a zeroed script is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_options),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_packets),
        cmocka_unit_test(test_packet_errors),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_comments_commands_multiline),
        cmocka_unit_test(test_icmp_ttl_absolute_md5),
        cmocka_unit_test(test_render_round_trip),
        cmocka_unit_test(test_freebsd_style),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_truncated_and_corrupted),
        cmocka_unit_test(test_ends_in_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
