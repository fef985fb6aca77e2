/* CUBIC (RFC 9438).  The window after a loss grows as a cubic function of the
 * time since it, centred on the window where the loss happened (W_max), and
 * never slower than Reno would (the "Reno-friendly" region, 4.3).
 *
 * Windows are kept in segments as doubles, time in seconds; the cube root is
 * computed here (Newton's method) so the core needs nothing but libc. */
#include <string.h>

#include "cc/cc.h"
#include "tcp/tcp_internal.h"

#define CUBIC_C 0.4      /* RFC 9438 5: C */
#define CUBIC_BETA 0.7   /* RFC 9438 4.6: beta_cubic */

struct cubic {
    double w_max;        /* window before the last reduction, segments */
    double w_last_max;   /* for fast convergence (4.7) */
    double k;            /* seconds until the window is back at w_max (eq. 2) */
    double w_est;        /* the Reno-friendly estimate (eq. 4) */
    double acc;          /* growth not yet applied, bytes */
    synack_time_t epoch; /* start of the current congestion-avoidance epoch, 0 = none */
};

_Static_assert(sizeof(struct cubic) <= SN_CC_STATE_SIZE, "cubic state must fit in the TCB");

static struct cubic *cubic_of(struct sn_tcb *tcb) { return sn_cc_state(tcb); }

static double cube_root(double x)
{
    if (x <= 0)
        return 0;
    double r = x > 1 ? x / 3 : 1;
    for (int i = 0; i < 60; i++) {
        double next = r - (r * r * r - x) / (3 * r * r);
        if (next == r)
            break;
        r = next;
    }
    return r;
}

static void cubic_init(struct sn_tcb *tcb, synack_time_t now)
{
    (void)now;
    struct cubic *c = cubic_of(tcb);
    if (c)
        memset(c, 0, sizeof(struct cubic));
}

static void cubic_on_ack(struct sn_tcb *tcb, uint32_t acked, synack_time_t now)
{
    struct cubic *c = cubic_of(tcb);
    if (tcb->cwnd < tcb->ssthresh) {
        sn_cc_slow_start(tcb, acked);
        return;
    }
    if (!c) {
        sn_cc_reno_avoid(tcb, acked); /* no memory for the state: Reno's rule */
        return;
    }
    double mss = tcb->mss, cwnd = tcb->cwnd / mss;
    if (c->epoch == 0) {
        /* First ACK of congestion avoidance: start an epoch (4.2). */
        c->epoch = now;
        if (c->w_max < cwnd) {
            c->w_max = cwnd;
            c->k = 0;
        } else {
            c->k = cube_root((c->w_max - cwnd) / CUBIC_C);
        }
        c->w_est = cwnd;
    }
    double rtt = (tcb->srtt ? tcb->srtt : 100000) / 1e6;
    double t = (double)(now - c->epoch) / 1e6;
    /* eq. 1 at t + RTT: where the window should be one RTT from now (4.2). */
    double d = t + rtt - c->k;
    double target = CUBIC_C * d * d * d + c->w_max;
    if (target > 1.5 * cwnd)
        target = 1.5 * cwnd;
    /* eq. 4: the Reno-friendly window, alpha = 3 (1 - beta) / (1 + beta). */
    double alpha = 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA);
    c->w_est += alpha * (acked / mss) / cwnd;
    if (c->w_est > target) {
        /* 4.3: in the Reno-friendly region, cwnd is W_est itself. */
        uint32_t est = (uint32_t)(c->w_est * mss);
        if (est > tcb->cwnd)
            tcb->cwnd = est;
        return;
    }
    if (target > cwnd) {
        /* 4.4-4.5: grow by (target - cwnd) / cwnd segments per segment acknowledged. */
        c->acc += (target - cwnd) / cwnd * acked;
        if (c->acc >= 1) {
            uint32_t whole = (uint32_t)c->acc;
            tcb->cwnd += whole;
            c->acc -= whole;
        }
    }
}

static void cubic_on_signal(struct sn_tcb *tcb, enum sn_cc_signal sig, uint32_t flight,
                            synack_time_t now)
{
    (void)now;
    (void)flight;
    struct cubic *c = cubic_of(tcb);
    double cwnd = tcb->cwnd / (double)tcb->mss;
    if (c) {
        /* 4.7 fast convergence: a flow whose W_max keeps falling releases bandwidth. */
        if (cwnd < c->w_last_max)
            c->w_max = cwnd * (1 + CUBIC_BETA) / 2;
        else
            c->w_max = cwnd;
        c->w_last_max = cwnd;
        c->epoch = 0;
        c->acc = 0;
    }
    uint32_t ss = (uint32_t)(tcb->cwnd * CUBIC_BETA);
    tcb->ssthresh = ss > 2u * tcb->mss ? ss : 2u * tcb->mss;
    tcb->cwnd_acc = 0;
    /* 4.8: after a timeout, slow start again from one segment. */
    tcb->cwnd = sig == SN_CC_RTO ? tcb->mss : tcb->ssthresh;
}

static void cubic_on_recovery_end(struct sn_tcb *tcb, synack_time_t now)
{
    (void)now;
    tcb->cwnd = tcb->ssthresh;
}

const struct sn_cc_algo sn_cc_cubic = {
    .name = "cubic",
    .state_size = sizeof(struct cubic),
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .on_signal = cubic_on_signal,
    .on_recovery_end = cubic_on_recovery_end,
};
