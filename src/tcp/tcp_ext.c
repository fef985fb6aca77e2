/* The TCB's out-of-line block of rarely used state (struct sn_tcb_ext):
 * the SACK scoreboard, the out-of-order ranges, congestion control's own
 * state, urgent pointers, socket options away from their defaults, and a
 * listener's queues or a child's link to its listener.
 *
 * An idle connection needs none of it, so the block exists only while some
 * of it is in use: sn_tcb_ext_get() allocates it (charged to the stack's
 * memory account) and sn_tcb_ext_trim() frees it once everything in it is
 * back to the default, which is all zero. */
#include <stdlib.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

const struct sn_tcb_ext sn_tcb_ext_none;

struct sn_tcb_ext *sn_tcb_ext_get(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (tcb->x)
        return tcb->x;
    tcb->x = sn_mem_get(&s->mem, sizeof(struct sn_tcb_ext));
    return tcb->x;
}

struct sn_listen *sn_tcb_lsn_get(struct synack_stack *s, struct sn_tcb *tcb)
{
    struct sn_tcb_ext *x = sn_tcb_ext_get(s, tcb);
    if (!x)
        return NULL;
    if (!x->lsn)
        x->lsn = sn_mem_get(&s->mem, sizeof(struct sn_listen));
    if (!x->lsn)
        sn_tcb_ext_trim(s, tcb);
    return tcb->x ? tcb->x->lsn : NULL;
}

void sn_tcb_lsn_free(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (!tcb->x || !tcb->x->lsn)
        return;
    sn_mem_put(&s->mem, tcb->x->lsn, sizeof(struct sn_listen));
    tcb->x->lsn = NULL;
    sn_tcb_ext_trim(s, tcb);
}

void sn_tcp_cc_state_need(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (sn_tcb_cc(tcb)->state_size)
        sn_tcb_ext_get(s, tcb);
}

void sn_tcb_ext_free(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (!tcb->x)
        return;
    sn_mem_put(&s->mem, tcb->x->lsn, sizeof(struct sn_listen));
    sn_mem_put(&s->mem, tcb->x, sizeof(struct sn_tcb_ext));
    tcb->x = NULL;
}

void sn_tcb_ext_trim(struct synack_stack *s, struct sn_tcb *tcb)
{
    struct sn_tcb_ext *x = tcb->x;
    if (!x)
        return;
    /* Contents that no longer mean anything are cleared first: then the
     * block is default exactly when it is all zero, whatever fields it
     * grows later. */
    if (x->nsacked == 0) {
        x->sacked_bytes = 0;
        memset(x->sacked, 0, sizeof(x->sacked));
    }
    if (x->nooo == 0) {
        x->nrecent = 0;
        memset(x->ooo, 0, sizeof(x->ooo));
        memset(x->recent, 0, sizeof(x->recent));
    }
    if (!(tcb->flags & SN_TF_SNDURG))
        x->snd_up = 0;
    if (!x->rcv_urg)
        x->rcv_up = 0;
    if (!(tcb->flags & SN_TF_DSACK))
        x->dsack = (struct synack_sack_block){0};
    if (!(tcb->flags & SN_TF_FIN_OOO))
        x->rcv_fin = 0;
    if (x->challenge_t) {
        uint16_t now10 = (uint16_t)(s->now / 10000u);
        if ((uint16_t)(now10 - x->challenge_t) >= SN_TCP_CHALLENGE_INTERVAL_10MS)
            x->challenge_t = 0; /* the per-connection limit no longer applies */
    }
    if (x->nsacked || x->nooo || x->lsn || x->listener)
        return;
    if (memcmp(x, &sn_tcb_ext_none, sizeof(*x)) != 0)
        return;
    sn_tcb_ext_free(s, tcb);
}
