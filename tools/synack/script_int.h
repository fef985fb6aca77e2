/* synack script runner: internals shared by its files.
 *
 *   script_parse.c   lexer and parser: text -> struct sn_script (no I/O)
 *   script_packet.c  inbound packets built from the script, outbound packets
 *                    decoded, compared and rendered in packetdrill syntax
 *   script_call.c    the system calls, run on the synack socket API
 *   script_run.c     the driver: virtual time, event loop, reports
 */
#ifndef SYNACK_TOOL_SCRIPT_INT_H
#define SYNACK_TOOL_SCRIPT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "synack/stack.h"

/* ---- the parsed script ----------------------------------------------------- */

/* Bounds that keep a hostile script from exhausting memory or the stack. */
#define SN_SCRIPT_MAX_BYTES (4u << 20)   /* script file size */
#define SN_SCRIPT_MAX_EVENTS 100000u
#define SN_SCRIPT_MAX_DEPTH 16           /* nesting of [ ] { } ( ) in expressions */
#define SN_SCRIPT_MAX_ITEMS 256          /* elements of one list or argument list */
#define SN_SCRIPT_MAX_TIME_S 4000000     /* largest time in a script, seconds (46 days: RFC 7323 5.5 needs 24) */
#define SN_TCP_OPT_SPACE 40              /* bytes of TCP options in a header */
#define SN_TCPOPT_MD5 19                 /* RFC 2385: parsed, sent as written, never produced by synack */

/* One TCP option, as written in a script or found in a packet. */
struct sn_tcp_opt {
    uint8_t kind;          /* TCP option kind (0 EOL, 1 NOP, 2 MSS, ...) */
    uint8_t len;           /* bytes on the wire (1 for EOL and NOP) */
    uint8_t nsack;         /* SACK: number of blocks (1..4) */
    uint32_t v1, v2;       /* MSS: v1; wscale: v1; TS: v1 = val, v2 = ecr */
    uint32_t sack[4][2];   /* SACK blocks: left, right */
    bool abs;              /* TS ecr / SACK blocks written with '!': used as written */
    bool raw;              /* `opt KIND LEN HEX` (inbound only): sent as written, even a
                            * known kind at an illegal length */
    uint8_t md5[16];       /* md5 (RFC 2385): the digest as written; raw: the bytes after
                            * kind and length */
};

enum sn_opts_mode {
    SN_OPTS_NONE,   /* no <...> list: the packet has no options */
    SN_OPTS_ANY,    /* <...>: options not checked (outbound only) */
    SN_OPTS_LIST,   /* <a,b,c>: exactly these */
};

enum sn_tos_check {
    SN_TOS_NONE,    /* not given */
    SN_TOS_ECN,     /* [noecn] [ect0] [ect1] [ce]: the two ECN bits */
    SN_TOS_ECT01,   /* [ect01]: ECT(0) or ECT(1) (outbound only) */
    SN_TOS_FULL,    /* (tos 0x..): the whole byte */
};

/* An ICMP packet line: `< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]`. */
struct sn_icmp {
    uint8_t type, code;
    bool has_mtu;            /* `mtu N` (unreachable frag_needed only) */
    uint16_t mtu;
    bool has_quote;          /* `[start:end(len)]`: the TCP segment of synack's it quotes */
    bool quote_abs;          /* `[...!]`: its sequence number used as written */
    uint32_t quote_seq, quote_len;
};

/* A packet line: TCP `< S. 0:0(0) ack 1 win 65535 <mss 1460>`, or ICMP. */
struct sn_packet {
    bool outbound;           /* '>' (expected from synack) or '<' (injected) */
    bool is_icmp;            /* an ICMP line: `icmp` holds it, the TCP fields are unused */
    struct sn_icmp icmp;
    bool has_ttl;            /* `(ttl N)`: set (inbound) or checked (outbound) */
    uint8_t ttl;
    bool seq_abs, ack_abs;   /* written with '!': used as written, not mapped */
    enum sn_tos_check tos_check;
    uint8_t tos;
    bool has_ports;          /* `40000>8080` written before the flags */
    uint16_t sport, dport;
    uint8_t flags;           /* SYNACK_TH_* */
    uint32_t seq;            /* as written */
    uint32_t len;            /* payload bytes, 0..65535 */
    bool has_ack, has_win, has_urg;
    uint32_t ack;
    uint16_t win, urg;
    enum sn_opts_mode opts_mode;
    uint8_t nopts;
    struct sn_tcp_opt *opts;
};

enum sn_expr_kind {
    SN_X_ELLIPSIS,   /* ... */
    SN_X_INT,        /* 42, -1, 0x2 */
    SN_X_WORD,       /* SOL_SOCKET */
    SN_X_STRING,     /* "text" (str_ellipsis: "text"...) */
    SN_X_LIST,       /* [a, b] */
    SN_X_BRACE,      /* {a, b} */
    SN_X_CALL,       /* htons(8080) */
    SN_X_OR,         /* a | b */
    SN_X_ASSIGN,     /* name = value (inside braces) */
};

struct sn_expr {
    enum sn_expr_kind kind;
    bool hex;                /* INT written in hex */
    bool str_ellipsis;
    int64_t num;             /* INT */
    const char *str;         /* WORD, STRING, CALL and ASSIGN name */
    struct sn_expr *lhs, *rhs;        /* OR: both; ASSIGN: rhs */
    struct sn_expr **items;           /* LIST, BRACE, CALL arguments */
    size_t nitems;
};

/* A system call line: `connect(3, ..., ...) = -1 EINPROGRESS (note)`. */
struct sn_call {
    const char *name;
    struct sn_expr **args;
    size_t nargs;
    struct sn_expr *result;
    const char *errname;     /* the errno name after the result, or NULL */
};

enum sn_time_kind { SN_TIME_ABS, SN_TIME_REL, SN_TIME_ANY };

enum sn_event_kind {
    SN_EV_PACKET,
    SN_EV_CALL,
    SN_EV_COMMAND,   /* `shell command`: not run */
    SN_EV_CODE,      /* %{ python }%: not supported */
};

struct sn_event {
    int line;
    enum sn_time_kind time_kind;
    int64_t time_us;         /* absolute, or offset from the previous event */
    int64_t range_end_us;    /* `a~b`: b (same kind as time_us), or -1 */
    int64_t block_end_us;    /* `a...b` (calls): b, or -1; relative to the same base as a */
    enum sn_event_kind kind;
    union {
        struct sn_packet pkt;
        struct sn_call call;
        const char *text;    /* COMMAND, CODE */
    } u;
};

/* A `--name=value` header line. */
struct sn_option {
    const char *name, *value;   /* value is "" when absent */
    int line;
    bool used;                  /* understood by the runner */
};

struct sn_chunk;

struct sn_script {
    /* settings from the header options */
    int64_t tolerance_us;          /* --tolerance_usecs (default 4000) */
    uint32_t local_ip, remote_ip;  /* host order */
    uint16_t mtu;                  /* --mtu, or --mss + 40; 0: the stack's default */
    uint16_t bind_port, connect_port;
    uint32_t max_timewait;         /* --max_timewait + 1; 0: the stack's default */

    struct sn_option *opts;
    size_t nopts;
    struct sn_event **ev;
    size_t nev;

    /* every allocation of the script, freed together */
    struct sn_chunk *chunks;
    size_t bytes;
};

/* Parse `len` bytes of script text into *sc (which it initialises).  On
 * error returns -1, with the line in *err_line and "parse error: ..." or
 * "unsupported: ..." in err; *sc is then already freed.  Returns -1 with
 * line 0 if memory runs out.  Pure: no I/O. */
int sn_script_parse(const char *text, size_t len, struct sn_script *sc, int *err_line,
                    char *err, size_t errcap);
/* Free what sn_script_parse allocated (safe on a zeroed or freed script). */
void sn_script_free(struct sn_script *sc);

/* Render an expression as a script would write it (truncated to cap). */
void sn_expr_render(const struct sn_expr *e, char *buf, size_t cap);
/* Render a packet line in packetdrill syntax, without the time. */
void sn_packet_render(const struct sn_packet *p, char *buf, size_t cap);
/* Bytes that the options take on the wire. */
size_t sn_tcp_opts_wire_len(const struct sn_tcp_opt *o, size_t n);

/* ---- the runner ------------------------------------------------------------ */

#define SN_QUEUE_CAP 1024        /* outbound packets waiting for a `>` line */
#define SN_CONN_CAP 16           /* connections whose number spaces are kept */
#define SN_TSMAP_CAP 32          /* script TS val -> synack TS val pairs kept per connection */
#define SN_IO_MAX (16u << 20)    /* largest read/write count in a call */
#define SN_DIAG_CAP 8192         /* report text kept per script */

struct sn_out_pkt {
    synack_time_t t;         /* when synack sent it */
    size_t len;
    uint8_t *data;
};

/* How the script's numbers map to synack's on one connection (by ports):
 * packetdrill does this for its one socket under test. */
struct sn_conn {
    uint16_t lport, rport;
    uint32_t live_isn, script_isn;   /* from synack's SYN or SYN-ACK */
    struct { uint32_t script, live; } tsmap[SN_TSMAP_CAP];
    size_t ntsmap, tsnext;
    bool have_ts_pair, have_live_ts;
    uint32_t pair_script_ts, pair_live_ts, last_live_ts;
};

/* The system call waiting for its result (one at a time, like packetdrill's
 * single system-call thread). */
struct sn_pending {
    bool active;
    const struct sn_event *ev;
    synack_time_t start;     /* when it was issued */
    synack_time_t end;       /* when the script says it returns */
    synack_time_t poll_end;  /* poll(): when its timeout expires, or NEVER */
    size_t sent;             /* blocking send: bytes accepted so far */
};

/* How `synack script` runs the scripts (its command-line flags). */
struct sn_run_opts {
    bool verbose;        /* --verbose */
    bool wrap;           /* --wrap: number spaces start just below 2^32 */
    bool lenient_tail;   /* --lenient-tail: packets after the last `>` line are ignored */
    bool quickack;       /* --quickack: every socket starts with TCP_QUICKACK set */
};

/* --wrap: how far below 2^32 the script's number spaces start, so that they
 * wrap after this much of a script: the peer's sequence numbers after 1500
 * bytes, synack's after 2500, the peer's TS vals at 150, synack's TSval
 * clock after 400 ms. */
#define SN_WRAP_PEER_SEQ (0u - 1500u)
#define SN_WRAP_LOCAL_ISN (0u - 2500u)
#define SN_WRAP_PEER_TS (0u - 150u)
#define SN_WRAP_LOCAL_TS (0u - 400u)

struct sn_runner {
    const struct sn_script *sc;
    const char *path;
    bool verbose;
    bool lenient_tail;
    bool quickack;
    bool past_last_expect;    /* lenient_tail: every `>` line has been matched */
    uint32_t wrap_seq, wrap_ts;  /* added to the peer's sequence numbers and TS vals (0: no --wrap) */
    FILE *out;

    struct synack_stack *stack;
    synack_time_t now;        /* virtual time, script time 0 = 0 */
    unsigned stalls;          /* advances in a row that did not move time */

    struct sn_out_pkt q[SN_QUEUE_CAP];
    size_t qhead, qlen;
    bool qoverflow;
    size_t oversize;          /* the first datagram synack sent over the MTU, or 0 */

    /* the ports of packet lines that give none: the latest connection */
    uint16_t lport, rport;    /* lport 0: not known yet (active open) */
    struct sn_conn conns[SN_CONN_CAP];
    size_t nconns, connnext;
    uint16_t ip_id;

    struct sn_pending pend;
    uint8_t *io;              /* read/write buffer, grown on demand up to SN_IO_MAX */
    size_t io_cap;
    uint8_t pkt[65536];       /* inbound packet being built */

    bool failed;
    char diag[SN_DIAG_CAP];
    size_t diag_len;
};

/* script_run.c */
/* Record a failure line "FILE:LINE: text" (the first failure ends the script). */
void sn_fail(struct sn_runner *r, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Under --verbose, print a trace line (time prefixed). */
void sn_trace(struct sn_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Move time to the next stack deadline or pending-call wake-up if it is no
 * later than `limit`, run it and retry the pending call.  Returns 1 when time
 * moved, 0 when nothing is due by `limit`, -1 on failure. */
int sn_run_next(struct sn_runner *r, synack_time_t limit);
/* Format a virtual time as seconds ("0.100") into buf. */
const char *sn_time_str(synack_time_t t, char buf[32]);

/* script_packet.c */
/* Inject an inbound packet line at the current time.  Returns 0 or -1. */
int sn_packet_inject(struct sn_runner *r, const struct sn_event *ev);
/* Match the next outbound packet(s) against a `>` line whose time window is
 * [lo, hi] (`when` describes it for messages).  Returns 0 or -1 (failure
 * recorded). */
int sn_packet_expect(struct sn_runner *r, const struct sn_event *ev, synack_time_t lo,
                     synack_time_t hi, const char *when);
/* Drop the oldest queued outbound packet, tracing it as ignored (--lenient-tail). */
void sn_packet_ignore(struct sn_runner *r);
/* Report a queued outbound packet that no line expects; returns -1. */
int sn_packet_unexpected(struct sn_runner *r, int line, const char *when);

/* script_call.c */
/* Issue a system call line at the current time; `end` is when the script
 * says it returns.  Returns 0 (done or now pending) or -1 (failure). */
int sn_call_start(struct sn_runner *r, const struct sn_event *ev, synack_time_t end);
/* Retry the pending call, if any.  Returns 0 or -1 (failure). */
int sn_call_retry(struct sn_runner *r);
/* When the pending call must be looked at again, or SYNACK_TIME_NEVER. */
synack_time_t sn_call_wake(const struct sn_runner *r);

#endif
