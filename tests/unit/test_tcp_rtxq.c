/* The record of sent segments (src/tcp/tcp_rtxq.c): one record per send,
 * contiguous over [SND.UNA, SND.MAX); a retransmission splits records at
 * its ends and marks exactly its range; a partial ACK trims a record; SACK
 * marks whole records within a block, splitting at its edges; everything
 * holds across the 2^32 wrap; the block grows to its bound, then merges,
 * and the memory account balances when the block is released. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tcp/tcp_rtxq.h"

struct q {
    struct sn_mem m;
    struct sn_rtxq *r;
    uint32_t una, max;
};

/* Send [seq, seq + len) as the engine does: records first, then SND.MAX moves. */
static int send_at(struct q *q, uint32_t seq, uint32_t len, uint32_t now)
{
    int rc = sn_rtxq_sent(&q->m, &q->r, q->una, q->max, seq, len, now, 0);
    if ((int32_t)(seq + len - q->max) > 0)
        q->max = seq + len;
    return rc;
}

static void ack(struct q *q, uint32_t a)
{
    struct sn_rtxq_seg rec;
    sn_rtxq_ack(&q->m, &q->r, a, NULL, &rec);
    q->una = a;
}

/* The records: contiguous from SND.UNA to SND.MAX. */
static void assert_cover(const struct q *q)
{
    if (q->una == q->max) {
        assert_null(q->r);
        return;
    }
    assert_non_null(q->r);
    assert_int_equal(sn_rtxq_at(q->r, 0)->start, q->una);
    for (uint32_t i = 1; i < q->r->len; i++)
        assert_int_equal(sn_rtxq_at(q->r, i)->start, sn_rtxq_at(q->r, i - 1)->end);
    assert_int_equal(sn_rtxq_at(q->r, q->r->len - 1)->end, q->max);
}

static void release(struct q *q)
{
    sn_rtxq_release(&q->m, &q->r);
    assert_int_equal(q->m.used, 0);
    sn_rtxq_cache_free(&q->m);
}

static void test_records_per_send(void **state)
{
    (void)state;
    struct q q = {.una = 1000, .max = 1000};
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(send_at(&q, 1000 + i * 100, 100, 10 + i), 0);
    assert_int_equal(sn_rtxq_len(q.r), 5);
    assert_cover(&q);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(sn_rtxq_at(q.r, i)->sent, 10 + i);
        assert_int_equal(sn_rtxq_at(q.r, i)->flags, 0);
    }
    assert_int_equal(sn_rtxq_find(q.r, 1000), 0);
    assert_int_equal(sn_rtxq_find(q.r, 1250), 2);
    assert_int_equal(sn_rtxq_find(q.r, 1499), 4);
    assert_int_equal(sn_rtxq_find(q.r, 1500), -1);
    assert_int_equal(sn_rtxq_find(q.r, 999), -1);
    assert_true(q.m.used > 0);
    /* Everything acknowledged: the block goes (to the one-block cache). */
    ack(&q, 1500);
    assert_null(q.r);
    assert_int_equal(q.m.used, 0);
    assert_non_null(q.m.rtxq_cache);
    release(&q);
}

/* An ACK inside a record trims it; the rest keeps its time and flags. */
static void test_partial_ack(void **state)
{
    (void)state;
    struct q q = {.una = 0, .max = 0};
    send_at(&q, 0, 1000, 1);
    send_at(&q, 1000, 1000, 2);
    ack(&q, 600);
    assert_int_equal(sn_rtxq_len(q.r), 2);
    assert_int_equal(sn_rtxq_at(q.r, 0)->start, 600);
    assert_int_equal(sn_rtxq_at(q.r, 0)->end, 1000);
    assert_int_equal(sn_rtxq_at(q.r, 0)->sent, 1);
    assert_cover(&q);
    ack(&q, 1500);
    assert_int_equal(sn_rtxq_len(q.r), 1);
    assert_int_equal(sn_rtxq_at(q.r, 0)->start, 1500);
    assert_int_equal(sn_rtxq_at(q.r, 0)->sent, 2);
    assert_cover(&q);
    /* An old ACK changes nothing. */
    struct sn_rtxq_seg rec;
    assert_false(sn_rtxq_ack(&q.m, &q.r, 1200, NULL, &rec));
    assert_int_equal(sn_rtxq_at(q.r, 0)->start, 1500);
    release(&q);
}

/* A retransmission of part of a segment, or of a range across segments,
 * cuts records at its ends: only its own range is marked and re-timed. */
static void test_retransmit_split(void **state)
{
    (void)state;
    struct q q = {.una = 0, .max = 0};
    send_at(&q, 0, 3000, 1); /* one large (TSO) record */
    send_at(&q, 3000, 1000, 2);
    /* Resend [1000, 2000): the big record becomes three. */
    assert_int_equal(send_at(&q, 1000, 1000, 50), 0);
    assert_int_equal(sn_rtxq_len(q.r), 4);
    assert_cover(&q);
    const struct sn_rtxq_seg *a = sn_rtxq_at(q.r, 0), *b = sn_rtxq_at(q.r, 1),
                             *c = sn_rtxq_at(q.r, 2), *d = sn_rtxq_at(q.r, 3);
    assert_int_equal(a->end, 1000);
    assert_int_equal(a->flags, 0);
    assert_int_equal(a->sent, 1);
    assert_int_equal(b->start, 1000);
    assert_int_equal(b->end, 2000);
    assert_int_equal(b->flags, SN_RTXQ_RETRANS);
    assert_int_equal(b->nrtx, 1);
    assert_int_equal(b->sent, 50);
    assert_int_equal(c->start, 2000);
    assert_int_equal(c->flags, 0);
    assert_int_equal(c->sent, 1);
    assert_int_equal(d->flags, 0);
    /* Resend [1500, 3500), across records, and past SND.MAX with new data. */
    assert_int_equal(send_at(&q, 1500, 3000, 60), 0);
    assert_cover(&q);
    for (uint32_t i = 0; i < q.r->len; i++) {
        const struct sn_rtxq_seg *g = sn_rtxq_at(q.r, i);
        bool in = (int32_t)(g->start - 1500) >= 0 && (int32_t)(g->end - 4000) <= 0;
        if (in)
            assert_int_equal(g->flags, SN_RTXQ_RETRANS);
        else if (g->start == 4000)
            assert_int_equal(g->flags, 0); /* the new part */
        else if (g->start == 1000)
            assert_int_equal(g->nrtx, 1); /* [1000, 1500) resent once only */
        if (g->start == 1500)
            assert_int_equal(g->nrtx, 2);
        if (g->start == 2000 || g->start == 3000)
            assert_int_equal(g->sent, 60);
    }
    assert_int_equal(sn_rtxq_at(q.r, q.r->len - 1)->start, 4000);
    assert_int_equal(sn_rtxq_at(q.r, q.r->len - 1)->end, 4500);
    /* A resend starting below SND.UNA only counts from SND.UNA. */
    ack(&q, 2500);
    assert_cover(&q);
    assert_int_equal(send_at(&q, 2490, 20, 70), 0);
    assert_cover(&q);
    assert_int_equal(sn_rtxq_at(q.r, 0)->start, 2500);
    assert_int_equal(sn_rtxq_at(q.r, 0)->end, 2510);
    assert_int_equal(sn_rtxq_at(q.r, 0)->sent, 70);
    assert_int_equal(sn_rtxq_at(q.r, 1)->start, 2510);
    assert_int_equal(sn_rtxq_at(q.r, 1)->sent, 60);
    release(&q);
}

/* SACK marks the records a block covers whole; a block that cuts a record
 * splits it so that exactly the SACKed bytes are marked. */
static void test_sack_marking(void **state)
{
    (void)state;
    struct q q = {.una = 0, .max = 0};
    for (uint32_t i = 0; i < 6; i++)
        send_at(&q, i * 1000, 1000, i);
    sn_rtxq_sack(&q.m, &q.r, 2000, 4000);
    assert_int_equal(sn_rtxq_len(q.r), 6);
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(sn_rtxq_at(q.r, i)->flags, (i == 2 || i == 3) ? SN_RTXQ_SACKED : 0);
    /* A block cutting records at both ends: [4500, 5500). */
    sn_rtxq_sack(&q.m, &q.r, 4500, 5500);
    assert_cover(&q);
    assert_int_equal(sn_rtxq_len(q.r), 8);
    int32_t i = sn_rtxq_find(q.r, 4500);
    assert_int_equal(sn_rtxq_at(q.r, (uint32_t)i)->start, 4500);
    assert_int_equal(sn_rtxq_at(q.r, (uint32_t)i)->end, 5000);
    assert_int_equal(sn_rtxq_at(q.r, (uint32_t)i)->flags, SN_RTXQ_SACKED);
    assert_int_equal(sn_rtxq_at(q.r, (uint32_t)i - 1)->flags, 0); /* [4000, 4500) */
    assert_int_equal(sn_rtxq_at(q.r, (uint32_t)i + 1)->flags, SN_RTXQ_SACKED); /* [5000, 5500) */
    assert_int_equal(sn_rtxq_at(q.r, (uint32_t)i + 2)->flags, 0);               /* [5500, 6000) */
    /* The split halves keep their send time. */
    assert_int_equal(sn_rtxq_at(q.r, (uint32_t)i)->sent, 4);
    assert_int_equal(sn_rtxq_at(q.r, (uint32_t)i + 2)->sent, 5);
    /* Reneging or an RTO forgets the marks. */
    sn_rtxq_unsack(q.r);
    for (uint32_t k = 0; k < q.r->len; k++)
        assert_int_equal(sn_rtxq_at(q.r, k)->flags & SN_RTXQ_SACKED, 0);
    /* Empty or out-of-range blocks change nothing. */
    sn_rtxq_sack(&q.m, &q.r, 7000, 8000);
    sn_rtxq_sack(&q.m, &q.r, 3000, 3000);
    assert_int_equal(sn_rtxq_len(q.r), 8);
    release(&q);
}

/* Across the 2^32 wrap: order, find, split, SACK and ACK. */
static void test_wrap(void **state)
{
    (void)state;
    uint32_t base = 0xffffff00u;
    struct q q = {.una = base, .max = base};
    for (uint32_t i = 0; i < 4; i++)
        send_at(&q, base + i * 100, 100, i); /* records across 0 */
    assert_cover(&q);
    assert_int_equal(sn_rtxq_find(q.r, 0xffffffffu), 2);
    assert_int_equal(sn_rtxq_find(q.r, 0), 2);
    assert_int_equal(sn_rtxq_find(q.r, base + 300), 3);
    assert_int_equal(sn_rtxq_find(q.r, base + 400), -1);
    send_at(&q, base + 250, 20, 9); /* [0xfffffffa, 0x0e): across the wrap */
    assert_cover(&q);
    int32_t i = sn_rtxq_find(q.r, base + 250);
    assert_int_equal(sn_rtxq_at(q.r, (uint32_t)i)->end, base + 270);
    assert_int_equal(sn_rtxq_at(q.r, (uint32_t)i)->flags, SN_RTXQ_RETRANS);
    sn_rtxq_sack(&q.m, &q.r, base + 300, base + 400);
    assert_int_equal(sn_rtxq_at(q.r, q.r->len - 1)->flags, SN_RTXQ_SACKED);
    ack(&q, base + 260);
    assert_cover(&q);
    assert_int_equal(sn_rtxq_at(q.r, 0)->start, base + 260);
    ack(&q, base + 400);
    assert_null(q.r);
    release(&q);
}

/* The RTT sample's record: returned when the ACK reaches it, as it was. */
static void test_timed_record(void **state)
{
    (void)state;
    struct q q = {.una = 0, .max = 0};
    send_at(&q, 0, 100, 5);
    send_at(&q, 100, 100, 7);
    uint32_t timed = 100;
    struct sn_rtxq_seg rec = {0};
    assert_false(sn_rtxq_ack(&q.m, &q.r, 100, &timed, &rec));
    q.una = 100;
    assert_true(sn_rtxq_ack(&q.m, &q.r, 101, &timed, &rec)); /* one byte of it is enough */
    q.una = 101;
    assert_int_equal(rec.sent, 7);
    assert_int_equal(rec.start, 100);
    assert_int_equal(rec.flags, 0);
    assert_cover(&q);
    release(&q);
}

/* The block doubles up to SN_RTXQ_MAX records, then merges new sends into
 * the last one (-ENOMEM), still covering [SND.UNA, SND.MAX); a memory
 * budget too small for the first block leaves nothing recorded, and the
 * first record made later covers the unrecorded part as "unknown". */
static void test_bound_and_budget(void **state)
{
    (void)state;
    struct q q = {.una = 0, .max = 0};
    for (uint32_t i = 0; i < SN_RTXQ_MAX; i++)
        assert_int_equal(send_at(&q, i, 1, i), 0);
    assert_int_equal(q.r->cap, SN_RTXQ_MAX);
    assert_int_equal(q.m.used, sn_rtxq_bytes(SN_RTXQ_MAX));
    assert_int_equal(send_at(&q, SN_RTXQ_MAX, 5, 1), -ENOMEM);
    assert_int_equal(sn_rtxq_len(q.r), SN_RTXQ_MAX);
    assert_int_equal(sn_rtxq_at(q.r, SN_RTXQ_MAX - 1)->flags, SN_RTXQ_MERGED);
    assert_cover(&q);
    /* No room to split: the whole record is marked (Karn errs safe). */
    assert_int_equal(send_at(&q, SN_RTXQ_MAX + 1, 1, 2), -ENOMEM);
    assert_true(sn_rtxq_at(q.r, SN_RTXQ_MAX - 1)->flags & SN_RTXQ_RETRANS);
    assert_cover(&q);
    /* After an ACK the freed slots are reused (the array is circular). */
    ack(&q, 10);
    assert_int_equal(send_at(&q, q.max, 1, 3), 0);
    assert_cover(&q);
    release(&q);

    struct q b = {.m = {.limit = 8}, .una = 0, .max = 0};
    assert_int_equal(send_at(&b, 0, 100, 1), -ENOMEM);
    assert_null(b.r);
    b.m.limit = 0;
    assert_int_equal(send_at(&b, 100, 100, 2), 0);
    assert_int_equal(sn_rtxq_len(b.r), 2);
    assert_int_equal(sn_rtxq_at(b.r, 0)->start, 0);
    assert_int_equal(sn_rtxq_at(b.r, 0)->flags, SN_RTXQ_MERGED | SN_RTXQ_RETRANS);
    assert_cover(&b);
    release(&b);
}

/* The circular array: a flight that slides through it many times, grows
 * while its records wrap past the last slot, and splits a record there. */
static void test_circular(void **state)
{
    (void)state;
    struct q q = {.una = 0, .max = 0};
    uint32_t now = 0;
    for (uint32_t i = 0; i < 6; i++)
        send_at(&q, q.max, 100, now++);
    for (uint32_t round = 0; round < 100; round++) { /* a flight of 6 moving on */
        ack(&q, q.una + 100);
        send_at(&q, q.max, 100, now++);
        assert_cover(&q);
    }
    assert_int_equal(q.r->cap, SN_RTXQ_MIN);
    assert_true(q.r->head + q.r->len > q.r->cap); /* wrapped */
    for (uint32_t i = 0; i < 20; i++) /* grow while wrapped: order kept */
        send_at(&q, q.max, 100, now++);
    assert_int_equal(q.r->cap, 32);
    assert_cover(&q);
    for (uint32_t i = 1; i < q.r->len; i++)
        assert_int_equal(sn_rtxq_at(q.r, i)->sent, sn_rtxq_at(q.r, i - 1)->sent + 1);
    /* Splits near the end and the start. */
    send_at(&q, q.una + 50, 10, 999);
    send_at(&q, q.max - 30, 10, 998);
    assert_cover(&q);
    assert_int_equal(sn_rtxq_at(q.r, 1)->sent, 999);
    assert_int_equal(sn_rtxq_at(q.r, q.r->len - 2)->sent, 998);
    release(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_per_send), cmocka_unit_test(test_partial_ack),
        cmocka_unit_test(test_retransmit_split), cmocka_unit_test(test_sack_marking),
        cmocka_unit_test(test_wrap),             cmocka_unit_test(test_timed_record),
        cmocka_unit_test(test_bound_and_budget), cmocka_unit_test(test_circular),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
