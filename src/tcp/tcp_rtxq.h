/* The record of sent segments (tcp_rtxq.c): what was sent, when, and what
 * has become of it, one record per segment (a TSO packet is one record).
 *
 * The bytes stay in the send ring (tcp_buf.c); the records say how the
 * sequence space [SND.UNA, SND.MAX) was cut into segments, when each was
 * last sent, whether it was sent more than once (Karn's rule, RFC 6298 3)
 * and whether the peer SACKed it (RFC 2018).  RTT sampling reads them
 * today; RACK-TLP (RFC 8985) needs exactly this (the send time of each
 * segment) and per-segment statistics read it too.  As ngtcp2's rtb and
 * Linux's retransmit queue, but records only, no data.
 *
 * Memory: the block exists only while something is outstanding; an idle
 * connection holds none of it (one pointer in the TCB).  It grows by
 * doubling up to SN_RTXQ_MAX records (a circular array: an ACK moves its
 * head, a send appends, nothing slides); past that, a new send is merged into
 * the last record (SN_RTXQ_MERGED: the record then covers several sends
 * and its time is that of the first), which only costs precision. */
#ifndef SYNACK_TCP_RTXQ_H
#define SYNACK_TCP_RTXQ_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mem.h"

#define SN_RTXQ_MIN 8u    /* records in a new block (a power of two) */
/* Free blocks of SN_RTXQ_MIN records kept by the memory account (144 bytes
 * each, 72 KiB at most): a few hundred connections opening and closing at
 * once (bench_connrate runs 100 at a time on each side) do not malloc. */
#define SN_RTXQ_CACHE 512u
#define SN_RTXQ_MAX 4096u /* records at most (64 KiB: 4 MiB in flight at MSS 1024) */

/* record flags */
#define SN_RTXQ_RETRANS 0x01u /* sent more than once: no RTT sample from it (Karn) */
#define SN_RTXQ_SACKED  0x02u /* the peer SACKed all of it (RFC 2018) */
#define SN_RTXQ_MERGED  0x04u /* holds more than one send (the block was full), or
                               * sends made while there was no block: time unsure */

struct sn_rtxq_seg {
    uint32_t start, end; /* sequence space [start, end): data, and the SYN or FIN it carried */
    uint32_t sent;       /* when it was last sent: low 32 bits of the stack clock (us) */
    uint8_t flags;       /* SN_RTXQ_* */
    uint8_t nrtx;        /* times it was sent again (saturates at 255) */
    uint16_t unit;       /* a TSO packet: the wire segments' payload size; else 0 */
};

struct sn_rtxq {
    uint32_t head, len, cap; /* records seg[(head + i) % cap], i < len, in sequence order;
                              * cap a power of two */
    uint32_t timed;          /* with SN_TF_RTT_TIMING: the start of the record being timed */
    struct sn_rtxq_seg seg[];
};

static inline uint32_t sn_rtxq_len(const struct sn_rtxq *q) { return q ? q->len : 0; }
/* The i-th outstanding record (0: the oldest). */
static inline struct sn_rtxq_seg *sn_rtxq_at(const struct sn_rtxq *q, uint32_t i)
{
    return (struct sn_rtxq_seg *)&q->seg[(q->head + i) & (q->cap - 1)];
}
/* Bytes the block takes (charged to the memory account). */
static inline uint64_t sn_rtxq_bytes(uint32_t cap)
{
    return sizeof(struct sn_rtxq) + (uint64_t)cap * sizeof(struct sn_rtxq_seg);
}

/* ---- the records themselves (no connection: unit tests drive these) ---- */
/* [seq, seq + len) was sent at `now`, with SND.UNA `una` and SND.MAX `max`
 * before the send: the part below `max` is a retransmission (its records
 * are split at the ends of the range and marked), the part past it a new
 * record (TSO packets pass their wire segment size as `unit`).  Returns 0,
 * or -ENOMEM when a record could not be made or split (the send is then
 * merged into the last record, or, without a block, not recorded). */
int sn_rtxq_sent(struct sn_mem *m, struct sn_rtxq **qp, uint32_t una, uint32_t max, uint32_t seq,
                 uint32_t len, uint32_t now, uint16_t unit);
/* The cumulative ACK `ack` arrived: records it covers go, one it cuts is
 * trimmed to start at it; the block is released once empty.  When `timed`
 * is given and the record starting at *timed is among those acknowledged,
 * returns true with a copy of that record (as it was) in *timed_rec. */
bool sn_rtxq_ack(struct sn_mem *m, struct sn_rtxq **qp, uint32_t ack, const uint32_t *timed,
                 struct sn_rtxq_seg *timed_rec);
/* The peer SACKed [left, right): the records within it are marked, the
 * ones it cuts are split at its ends first (if the block has room). */
void sn_rtxq_sack(struct sn_mem *m, struct sn_rtxq **qp, uint32_t left, uint32_t right);
/* Forget every SACKed mark (the scoreboard was discarded: RTO, reneging). */
void sn_rtxq_unsack(struct sn_rtxq *q);
/* The index of the record holding seq, or -1. */
int32_t sn_rtxq_find(const struct sn_rtxq *q, uint32_t seq);
/* Release the block (to the memory account's cache, or free). */
void sn_rtxq_release(struct sn_mem *m, struct sn_rtxq **qp);
/* At stack free: the cached blocks. */
void sn_rtxq_cache_free(struct sn_mem *m);

#endif
