/* synack wire codecs: IPv4, ICMPv4 and TCP headers and the Internet checksum.
 *
 * Pure functions: no state, no allocation, no I/O.  Parsers check every length
 * against the buffer before reading and fill a plain struct whose multi-byte
 * fields are in host byte order; emitters write from such a struct.  A parse
 * failure returns one of the negative SYNACK_WIRE_E* codes below, which
 * synack_wire_strerror() turns into a reason; the IP layer counts drops per
 * reason.
 */
#ifndef SYNACK_WIRE_H
#define SYNACK_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- parse errors (negative return values of the parsers) ---------------- */
enum synack_wire_err {
    SYNACK_WIRE_OK = 0,
    SYNACK_WIRE_ETRUNC = -1,      /* buffer shorter than the header says */
    SYNACK_WIRE_EVERSION = -2,    /* IP version is not 4 */
    SYNACK_WIRE_EHDRLEN = -3,     /* IHL < 5, or TCP data offset < 5 */
    SYNACK_WIRE_ETOTLEN = -4,     /* IPv4 total length < header or > buffer */
    SYNACK_WIRE_ECSUM = -5,       /* checksum does not verify */
    SYNACK_WIRE_EOPTLEN = -6,     /* an option length of 0/1, or one that runs past the header */
    SYNACK_WIRE_EOPTVAL = -7,     /* a known option whose length is wrong for its kind */
    SYNACK_WIRE_ETYPE = -8,       /* ICMP type/code not understood */
    SYNACK_WIRE_ENOSPC = -9,      /* emit: output buffer too small */
    SYNACK_WIRE_EINVAL = -10,     /* emit: the struct describes an impossible header */
};
#define SYNACK_WIRE_NERR 11
SYNACK_API const char *synack_wire_strerror(int err);

/* ---- the Internet checksum (RFC 1071, RFC 1624) -------------------------- */
/* Byte order: sums are those of the data read as 16-bit big-endian words (as
 * RFC 1071 defines them on the wire), held in host-order integers.  The
 * checksums returned by synack_csum_fold(), synack_csum() and the update
 * functions are host-order values: store them with a big-endian 16-bit store
 * (htons), and compare them with a field read by a big-endian load (ntohs). */

/* One's-complement sum of `len` bytes, folded to 32 bits, added to `sum`.
 * Chain calls to sum discontiguous pieces; an odd-length piece may only be
 * the last one.  Fast: several bytes per cycle on a 64-bit machine. */
SYNACK_API uint32_t synack_csum_partial(const void *data, size_t len, uint32_t sum);
/* Copy len bytes (non-overlapping) and add their sum to `sum`: the same
 * result as memcpy followed by synack_csum_partial(dst, len, sum), in one
 * pass over the data. */
SYNACK_API uint32_t synack_csum_copy(void *dst, const void *src, size_t len, uint32_t sum);
/* The partial sum of bytes that start at an odd offset of the summed data
 * (RFC 1071 2(B): swap the bytes of the sum), to add to the sum before them. */
SYNACK_API uint32_t synack_csum_swab(uint32_t sum);
/* Fold a partial sum to 16 bits and complement it: the value to put in a header. */
SYNACK_API uint16_t synack_csum_fold(uint32_t sum);
/* The checksum of a buffer (fold(partial(data, len, 0))). 0 over a buffer that includes a correct checksum. */
SYNACK_API uint16_t synack_csum(const void *data, size_t len);
/* Partial sum of the TCP/UDP pseudo-header (RFC 9293 3.1): addresses in host order. */
SYNACK_API uint32_t synack_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
/* RFC 1624 eqn. 3: the new checksum after a 16-bit field changes from old_val to new_val
 * (all in host order, as read from/written to the header with ntohs/htons). */
SYNACK_API uint16_t synack_csum_update16(uint16_t csum, uint16_t old_val, uint16_t new_val);
/* The same for a 32-bit field (an address, a sequence number). */
SYNACK_API uint16_t synack_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val);

/* ---- IPv4 (RFC 791) ------------------------------------------------------ */
#define SYNACK_IPV4_HDR_MIN 20
#define SYNACK_IPV4_HDR_MAX 60
#define SYNACK_IPPROTO_ICMP 1
#define SYNACK_IPPROTO_TCP 6
#define SYNACK_IPPROTO_UDP 17
#define SYNACK_IPV4_DF 0x2       /* flags field: don't fragment */
#define SYNACK_IPV4_MF 0x1       /* flags field: more fragments */

struct synack_ipv4_hdr {
    uint8_t ihl;           /* header length in bytes (20..60) */
    uint8_t tos;           /* DSCP + ECN */
    uint16_t total_len;    /* header + payload, bytes */
    uint16_t id;
    uint8_t flags;         /* SYNACK_IPV4_DF | SYNACK_IPV4_MF (the reserved bit is dropped) */
    uint16_t frag_off;     /* fragment offset in 8-byte units */
    uint8_t ttl;
    uint8_t proto;
    uint16_t checksum;     /* as found on the wire; emit computes it */
    uint32_t src, dst;     /* host order */
    const uint8_t *payload;   /* parse: points into the buffer */
    uint16_t payload_len;     /* total_len - ihl */
};

/* Parse and verify an IPv4 header.  Options are skipped.  Bytes past
 * total_len (link padding) are ignored.  Fragments are returned parsed like
 * any datagram: synack does not reassemble, the IP layer counts and drops
 * them (synack_ipv4_is_fragment).  Returns 0 or a SYNACK_WIRE_E* code. */
SYNACK_API int synack_ipv4_parse(const uint8_t *buf, size_t len, struct synack_ipv4_hdr *h);
/* Write a 20-byte header (no options) with a correct checksum; ihl, payload
 * and checksum of `h` are ignored, total_len is used as given.
 * Returns 20, SYNACK_WIRE_ENOSPC, or SYNACK_WIRE_EINVAL (total_len < 20,
 * flags other than DF|MF, frag_off > 0x1fff). */
SYNACK_API int synack_ipv4_emit(uint8_t *buf, size_t cap, const struct synack_ipv4_hdr *h);
static inline bool synack_ipv4_is_fragment(const struct synack_ipv4_hdr *h)
{
    return (h->flags & SYNACK_IPV4_MF) != 0 || h->frag_off != 0;
}

/* ---- ICMPv4 (RFC 792, RFC 1191) ------------------------------------------ */
#define SYNACK_ICMP_ECHO_REPLY 0
#define SYNACK_ICMP_DEST_UNREACH 3
#define SYNACK_ICMP_ECHO_REQUEST 8
#define SYNACK_ICMP_TIME_EXCEEDED 11
#define SYNACK_ICMP_UNREACH_NET 0
#define SYNACK_ICMP_UNREACH_HOST 1
#define SYNACK_ICMP_UNREACH_PROTO 2
#define SYNACK_ICMP_UNREACH_PORT 3
#define SYNACK_ICMP_UNREACH_NEEDFRAG 4
#define SYNACK_ICMP_HDR_LEN 8

struct synack_icmp_hdr {
    uint8_t type, code;
    uint16_t checksum;
    /* echo request/reply */
    uint16_t id, seq;
    /* destination unreachable, code NEEDFRAG: next-hop MTU (RFC 1191) */
    uint16_t mtu;
    /* the rest: echo data, or for errors the quoted IP header + 8+ bytes */
    const uint8_t *data;
    size_t data_len;
};

/* Parse an ICMP message (the IPv4 payload), verifying its checksum.  Types
 * other than the four above, and error codes above 15 (unreachable) or 1
 * (time exceeded), give SYNACK_WIRE_ETYPE (the caller counts and drops them);
 * an error message whose quote is shorter than the quoted IPv4 header (its
 * IHL, at least 20) plus 8 bytes gives SYNACK_WIRE_ETRUNC.  id/seq are set for
 * echoes, mtu for NEEDFRAG, the others are 0. */
SYNACK_API int synack_icmp_parse(const uint8_t *buf, size_t len, struct synack_icmp_hdr *h);
/* Write header + data (moved from h->data, which may overlap buf) with a
 * correct checksum; bytes 4-7 are id/seq for echoes, the mtu for NEEDFRAG,
 * zero otherwise.  Returns bytes written or SYNACK_WIRE_ENOSPC. */
SYNACK_API int synack_icmp_emit(uint8_t *buf, size_t cap, const struct synack_icmp_hdr *h);

/* ---- TCP (RFC 9293 3.1, RFC 7323, RFC 2018) ------------------------------- */
#define SYNACK_TCP_HDR_MIN 20
#define SYNACK_TCP_HDR_MAX 60
#define SYNACK_TCP_OPT_MAX 40

#define SYNACK_TH_FIN 0x01
#define SYNACK_TH_SYN 0x02
#define SYNACK_TH_RST 0x04
#define SYNACK_TH_PSH 0x08
#define SYNACK_TH_ACK 0x10
#define SYNACK_TH_URG 0x20
#define SYNACK_TH_ECE 0x40
#define SYNACK_TH_CWR 0x80

#define SYNACK_TCPOPT_EOL 0
#define SYNACK_TCPOPT_NOP 1
#define SYNACK_TCPOPT_MSS 2
#define SYNACK_TCPOPT_WSCALE 3
#define SYNACK_TCPOPT_SACK_PERM 4
#define SYNACK_TCPOPT_SACK 5
#define SYNACK_TCPOPT_TIMESTAMP 8

/* bits of synack_tcp_opts.present */
#define SYNACK_TCPOPT_F_MSS (1u << 0)
#define SYNACK_TCPOPT_F_WSCALE (1u << 1)
#define SYNACK_TCPOPT_F_SACK_PERM (1u << 2)
#define SYNACK_TCPOPT_F_SACK (1u << 3)
#define SYNACK_TCPOPT_F_TIMESTAMP (1u << 4)

#define SYNACK_TCP_MAX_SACK 4

struct synack_sack_block { uint32_t left, right; };

struct synack_tcp_opts {
    uint32_t present;              /* SYNACK_TCPOPT_F_* */
    uint16_t mss;
    uint8_t wscale;                /* as sent; RFC 7323 2.3: the receiver clamps > 14 */
    uint8_t nsack;
    struct synack_sack_block sack[SYNACK_TCP_MAX_SACK];
    uint32_t tsval, tsecr;
    /* The kinds in wire order, NOP and EOL included (unknown kinds too, whose
     * bodies are skipped).  Emit follows it when norder > 0, so that
     * parse-then-emit of known options is byte-exact; with norder == 0 emit
     * uses Linux's layout (SYN: mss,sackOK,TS,nop,wscale; else nop,nop,TS;
     * nop,nop,SACK).  Emitting an order fails with SYNACK_WIRE_EINVAL if it
     * holds an unknown kind, a known kind not in `present`, anything after
     * an EOL, or misses a kind that is in `present`.  */
    uint8_t norder;
    uint8_t order[SYNACK_TCP_OPT_MAX];
};

struct synack_tcp_hdr {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t doff;          /* header length in bytes (20..60) */
    uint8_t reserved;      /* the 4 reserved bits (RFC 9293: must be zero when sent, ignored on receipt) */
    uint8_t flags;         /* SYNACK_TH_* */
    uint16_t window;       /* unscaled, as on the wire */
    uint16_t checksum;
    uint16_t urg_ptr;
    struct synack_tcp_opts opts;
    const uint8_t *payload;   /* parse: points into the buffer */
    size_t payload_len;
};

/* Parse a TCP segment (the IPv4 payload).  When verify_csum is true the
 * checksum over the pseudo-header (src, dst in host order) must be right.
 * Options: unknown kinds are skipped by their length; a length of 0 or 1,
 * or one running past the header, gives SYNACK_WIRE_EOPTLEN; MSS/WS/SACK-perm/
 * TS with the wrong length or SACK with a length not 2+8n gives
 * SYNACK_WIRE_EOPTVAL.  EOL ends the list.  An option that appears twice:
 * the last one wins.  A segment over 65535 bytes cannot verify (ECSUM).
 * Returns 0 or a SYNACK_WIRE_E* code. */
SYNACK_API int synack_tcp_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                     bool verify_csum, struct synack_tcp_hdr *h);
/* synack_tcp_parse as a receiving host reads a segment (the TCP input path
 * uses it): the checksum is verified, and the options are read as Linux's
 * tcp_parse_options does: a known option with an illegal length (MSS/WS/
 * SACK-perm/TS of the wrong length, SACK not 2+8n) is ignored and the rest
 * still read; a length of 0 or 1, or one past the header, ends the list.
 * The segment itself stands (RFC 9293 3.1 MUST-7: be prepared for illegal
 * option lengths).  Returns 0, ETRUNC, EHDRLEN or ECSUM. */
SYNACK_API int synack_tcp_parse_input(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                                      struct synack_tcp_hdr *h);
/* The same for a segment whose checksum the driver vouches for (the
 * kernel's CHECKSUM_UNNECESSARY or its own partial checksum): not verified. */
SYNACK_API int synack_tcp_parse_input_nocsum(const uint8_t *buf, size_t len,
                                             struct synack_tcp_hdr *h);
/* Length in bytes that synack_tcp_emit_opts will write for `o` (a multiple of 4, <= 40),
 * or SYNACK_WIRE_EINVAL if they do not fit in 40 bytes or describe no valid
 * options (an order emit cannot follow, SACK without 1..4 blocks). */
SYNACK_API int synack_tcp_opts_len(const struct synack_tcp_opts *o);
/* Write the options, padded with EOL to a multiple of 4 (when they do not
 * already end there).  Returns bytes, SYNACK_WIRE_ENOSPC or SYNACK_WIRE_EINVAL. */
SYNACK_API int synack_tcp_emit_opts(uint8_t *buf, size_t cap, const struct synack_tcp_opts *o);
/* Write header + options + payload (payload moved from h->payload, which may
 * overlap buf, unless it already points at buf + header length) and the
 * checksum over the pseudo-header.  SYNACK_WIRE_EINVAL for invalid options,
 * reserved > 0xf or a segment over 65535 bytes; SYNACK_WIRE_ENOSPC if it does
 * not fit in cap.
 * h->doff and h->checksum are computed.  Returns the segment length or a negative code. */
SYNACK_API int synack_tcp_emit(uint8_t *buf, size_t cap, const struct synack_tcp_hdr *h,
                    uint32_t src, uint32_t dst);
/* Write only the header and options, with a zero checksum field, for a
 * segment whose h->payload_len payload bytes the caller puts right after
 * them (and then the checksum: synack_csum_copy sums the payload as it
 * copies it).  Same checks and codes as synack_tcp_emit (cap must hold the
 * payload too).  Returns the header length (20..60). */
SYNACK_API int synack_tcp_emit_hdr(uint8_t *buf, size_t cap, const struct synack_tcp_hdr *h);

/* ---- segmentation offload (TSO/GSO) and partial checksums ---------------
 *
 * What a packet handed to an offload-aware output carries besides its
 * bytes (stack.h: synack_stack_set_output_meta), in the manner of Linux's
 * virtio_net_hdr: "cut this TCP segment at gso_size payload bytes" and "the
 * TCP checksum field holds only the pseudo-header sum: complete it". */
#define SYNACK_PKT_CSUM_PARTIAL 1u   /* checksum to complete over [csum_start, len) */
struct synack_pkt_meta {
    uint8_t flags;          /* SYNACK_PKT_* */
    uint16_t gso_size;      /* 0: one packet; else TCP payload bytes per wire segment */
    uint16_t gso_segs;      /* wire packets this one becomes (1 without gso_size) */
    uint16_t hdr_len;       /* IPv4 + TCP header bytes (what each wire segment repeats) */
    uint16_t csum_start;    /* CSUM_PARTIAL: where the summed bytes begin (the TCP header) */
    uint16_t csum_offset;   /* and where the checksum goes, from csum_start (16 for TCP) */
};

/* Complete a partial TCP checksum in place (pkt[csum_start + csum_offset]
 * holds the pseudo-header sum).  Returns 0 or SYNACK_WIRE_EINVAL. */
SYNACK_API int synack_pkt_csum_finish(uint8_t *pkt, size_t len, const struct synack_pkt_meta *m);

/* Software segmentation: cut an IPv4/TCP packet with m->gso_size into the
 * wire packets a TSO NIC (or Linux's GSO) would send: each repeats the
 * headers with its own total length, IP ID (+1 per segment), checksum,
 * sequence number, FIN and PSH only on the last, and a complete TCP
 * checksum (payload copied and summed in one pass).  Each packet is built
 * in `out` (cap bytes, at least hdr_len + gso_size) and handed to fn; a
 * packet without gso_size is passed through (its checksum completed if
 * partial).  Returns the packets handed to fn (stops at fn's first
 * negative return, which it returns), or SYNACK_WIRE_EINVAL for a packet
 * the descriptor does not describe. */
SYNACK_API int synack_gso_segment(const uint8_t *pkt, size_t len, const struct synack_pkt_meta *m,
                       uint8_t *out, size_t cap,
                       int (*fn)(void *user, const uint8_t *seg, size_t seglen), void *user);

/* Render the flags as tcpdump does ("S", "S.", "P.", "F.", "R.", ...) into buf:
 * F S R P, "." for ACK, then U E W (URG, ECE, CWR); "none" for no flag. */
SYNACK_API const char *synack_tcp_flags_str(uint8_t flags, char buf[16]);

#ifdef __cplusplus
}
#endif
#endif
