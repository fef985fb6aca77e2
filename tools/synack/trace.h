/* `synack trace`: TCP connections read back from a capture (pcap or pcapng,
 * through libpcap), split into connections, each endpoint's RFC 9293 state
 * inferred packet by packet, unusual packets marked, and the result printed
 * as a text ladder, JSON lines, an SVG ladder, an HTML page or plots.
 *
 * One concern per file:
 *   trace_pcap.c   reading the capture: link layers, IPv4/IPv6, TCP
 *   trace_conn.c   splitting into connections, relative numbers, window scale
 *   trace_state.c  the state each endpoint is in after each packet
 *   trace_marks.c  retransmissions, dup ACKs, gaps, windows, violations, RTT, summary
 *   trace_text.c   the text ladder, JSON lines and the state listing
 *   trace_svg.c    the ladder as an SVG picture (layout and drawing)
 *   trace_plot.c   time-sequence, window and RTT plots
 *   trace_html.c   one self-contained HTML page
 *   trace_cmd.c    the command line
 * libpcap is linked into the tool only, never into libsynack.
 */
#ifndef SYNACK_TOOL_TRACE_H
#define SYNACK_TOOL_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "synack/stack.h"
#include "synack/wire.h"

/* One endpoint: address family (4 or 6), address, port. */
struct trace_ep {
    uint8_t af;
    uint8_t addr[16];
    uint16_t port;
};

/* What a packet is marked with (trace_marks.c, trace_state.c). */
enum {
    TRACE_M_RETRANS = 1u << 0,      /* carries sequence space already seen */
    TRACE_M_SPURIOUS = 1u << 1,     /* ... and that space was already acknowledged */
    TRACE_M_DUPACK = 1u << 2,       /* same ACK and window again, data outstanding */
    TRACE_M_OOO = 1u << 3,          /* fills a gap soon after it opened: reordered */
    TRACE_M_GAP = 1u << 4,          /* starts beyond what was seen: segments missing */
    TRACE_M_ZEROWIN = 1u << 5,      /* advertises a zero window */
    TRACE_M_WPROBE = 1u << 6,       /* probes a zero window (RFC 9293 3.8.6.1) */
    TRACE_M_WUPDATE = 1u << 7,      /* same ACK, only the window changed */
    TRACE_M_RST = 1u << 8,
    TRACE_M_ACK_UNSENT = 1u << 9,   /* acknowledges sequence space never sent */
    TRACE_M_DATA_AFTER_FIN = 1u << 10, /* data beyond the sender's own FIN */
    TRACE_M_SHRINK = 1u << 11,      /* right window edge moved left (RFC 9293 3.8.6.2.2) */
    TRACE_M_LOST = 1u << 12,        /* never reached the receiver (resent before acknowledged) */
    TRACE_M_RST_IGNORED = 1u << 13, /* RST the receiver did not accept (RFC 5961 3.2) */
    TRACE_M_KEEPALIVE = 1u << 14,   /* one byte below the send point, window open */
    TRACE_NMARKS = 15
};
/* Short name of mark bit i ("retransmission", "dup-ack", ...). */
const char *trace_mark_name(unsigned bit);

struct trace_pkt {
    uint64_t t_us;             /* capture time, microseconds since the epoch */
    uint32_t frame;            /* 1-based frame number in the file */
    struct trace_ep src, dst;
    uint32_t seq, ack;
    uint16_t win;              /* as on the wire */
    uint8_t flags;             /* SYNACK_TH_* */
    uint8_t doff;              /* TCP header length, bytes */
    uint32_t len;              /* payload bytes (as the IP length says, even if snapped) */
    uint16_t csum, urg;
    uint8_t ttl;               /* TTL or hop limit */
    uint16_t ip_id;            /* IPv4 identification (0 for IPv6) */
    uint32_t ip_len;           /* IP total length */
    struct synack_tcp_opts opts;
    /* Filled by the analysis. */
    int32_t conn;              /* index into trace.conn, -1 when not in one */
    uint8_t dir;               /* 0: from endpoint A (left), 1: from B */
    uint8_t st_snd, st_rcv;    /* sender's state after sending, receiver's after receipt */
    uint32_t marks;            /* TRACE_M_* */
    uint16_t dupack;           /* the n of "dup ACK #n" */
    bool resent_space;         /* carries sequence space an earlier packet carried */
    uint32_t rseq, rack;       /* relative to each side's ISN (or first seq seen) */
    uint32_t rwin;             /* window in bytes when the scale is known, else raw */
    int64_t rtt_us;            /* RTT sample this ACK gave, -1 none */
    uint64_t key_snd, key_rcv; /* order of the send and the receipt among all events */
};

struct trace_conn {
    struct trace_ep ep[2];     /* A (left, usually the client), B */
    uint32_t *idx;             /* its packets, in capture order */
    uint32_t n, cap;
    bool have_base[2];
    uint32_t base[2];          /* ISN (or first seq seen) of each side */
    bool syn_seen[2];
    int wscale[2];             /* announced on the SYN, -1 none */
    bool scale_known;          /* both SYNs seen: windows can be shown in bytes */
    int32_t hnext;             /* hash chain */
    /* Summary (trace_marks.c). */
    uint64_t t_first, t_last;
    uint64_t bytes[2];         /* payload bytes, first transmissions only */
    uint32_t pkts[2], retrans[2];
    uint32_t nrtt;
    int64_t rtt_min, rtt_max, rtt_sum;
    int64_t ack_delay[2];      /* least time side s took to acknowledge, as captured; -1 none */
    int closer;                /* who sent the first FIN or RST: 0, 1, -1 nobody */
    bool closer_rst;
    uint32_t mark_count[TRACE_NMARKS];
    uint8_t st_final[2];
    bool shown;                /* passed --filter */
};

struct trace {
    struct trace_pkt *pkt;
    size_t npkt, cap, max_pkts;
    struct trace_conn *conn;
    size_t nconn, conn_cap;
    int32_t *hash;
    size_t hash_cap;
    uint64_t skipped;          /* not TCP, or not decodable */
    bool truncated;            /* stopped at max_pkts */
    int linktype;
};

/* trace_pcap.c: read every TCP packet of `path` into t->pkt.  Returns 0, or
 * -1 with a message on stderr. */
int trace_read(struct trace *t, const char *path);
/* Decode one IPv4 or IPv6 packet starting at `ip` into *p (time and frame
 * left alone).  Returns 0 when it is TCP, -1 otherwise. */
int trace_decode_ip(const uint8_t *ip, size_t len, struct trace_pkt *p);

/* trace_conn.c */
int trace_split(struct trace *t);
void trace_free(struct trace *t);
bool trace_ep_eq(const struct trace_ep *a, const struct trace_ep *b);
/* "10.0.0.1:80" or "[2001:db8::1]:80" */
const char *trace_ep_str(const struct trace_ep *e, char *buf, size_t cap);
/* Sequence space a packet occupies (payload + SYN + FIN). */
uint32_t trace_seglen(const struct trace_pkt *p);
/* --filter: ADDR, :PORT, ADDR:PORT, [V6ADDR]:PORT; each term must match an
 * endpoint of the connection.  Returns false for a term it cannot parse. */
bool trace_filter_parse(const char *term, struct trace_ep *out, bool *any_addr, bool *any_port);
bool trace_filter_match(const struct trace_conn *c, const struct trace_ep *f, bool any_addr,
                        bool any_port);

/* trace_marks.c: run first (the states use the acknowledgement delays). */
void trace_mark(struct trace *t, struct trace_conn *c);

/* trace_state.c: adds the marks TRACE_M_LOST and TRACE_M_RST_IGNORED. */
void trace_infer_states(struct trace *t, struct trace_conn *c);

/* trace_text.c */
void trace_print_text(const struct trace *t, const struct trace_conn *c, int id, FILE *out);
void trace_print_json(const struct trace *t, const struct trace_conn *c, int id, FILE *out);
void trace_print_states(const struct trace *t, const struct trace_conn *c, FILE *out);
/* "S. seq 0 ack 1 win 65535 len 0" and the options in short form. */
int trace_pkt_label(const struct trace_pkt *p, const struct trace_conn *c, char *buf, size_t cap);
int trace_opts_short(const struct trace_pkt *p, const struct trace_conn *c, char *buf, size_t cap);
int trace_marks_str(uint32_t marks, uint16_t dupack, char *buf, size_t cap);
void trace_json_str(FILE *out, const char *s);
/* Text for XML/HTML: < > & " escaped. */
void trace_xml_esc(FILE *f, const char *s);

/* What the ladder pictures draw besides the packets: the application's calls
 * and timers (known for synack's own connections only), and for each packet
 * the true states when they come from the stack. */
struct trace_note {
    uint64_t key;              /* where it goes among the packets' events */
    uint8_t side;              /* 0 A, 1 B */
    uint8_t state;             /* the side's state after it */
    char text[80];
};
struct trace_stack_series;
/* The stack's own series for connection c (synack's own connections):
 * true and *out filled when there is one. */
typedef bool (*trace_series_fn)(const void *user, const struct trace_conn *c,
                                struct trace_stack_series *out);
struct trace_extra {
    struct trace_note *notes;  /* of the first connection */
    size_t nnotes;
    const char *name[2];       /* "client", "server"; NULL: the addresses */
    trace_series_fn series;    /* NULL: none */
    const void *series_user;
};

/* trace_svg.c */
struct trace_svg_opts {
    bool all;                  /* every packet (else long connections are summarised) */
    bool inline_html;          /* no XML prolog; packets clickable */
    FILE *boxes;               /* when set: the label boxes, one "x y w h angle text" a line */
};
int trace_svg_ladder(const struct trace *t, const struct trace_conn *c, int id,
                     const struct trace_extra *x, const struct trace_svg_opts *o, FILE *out);

/* trace_plot.c: kinds of plot. */
enum trace_plot_kind { TRACE_PLOT_TSEQ, TRACE_PLOT_WINDOW, TRACE_PLOT_RTT, TRACE_PLOT_CWND };
/* "time-seq", "window", "rtt", "cwnd": the kind, or -1. */
int trace_plot_kind_parse(const char *name);
/* Series from the sending stack itself (synack's own connections). */
struct trace_stack_sample {
    uint64_t t_us;
    uint32_t cwnd, ssthresh, inflight, rto_us, srtt_us;
    bool recovery;             /* fast recovery or after a timeout (TCP_INFO's ca_state) */
};
struct trace_stack_series {
    struct trace_stack_sample *s;
    size_t n;
    int side;                  /* which endpoint they belong to */
};
/* TRACE_PLOT_CWND needs ss (the stack's own numbers): -1 without. */
int trace_plot(const struct trace *t, const struct trace_conn *c, enum trace_plot_kind kind,
               const struct trace_stack_series *ss, bool inline_html, FILE *out);

/* trace_html.c: x may be NULL (states inferred, no series). */
int trace_html(const struct trace *t, const struct trace_extra *x, bool all, FILE *out);

/* trace_cmd.c: analyse a capture already read (split, states, marks). */
int trace_analyse(struct trace *t);

#endif
