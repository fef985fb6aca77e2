/* User calls on a connection (RFC 9293 3.10.1-3.10.6: OPEN, SEND, RECEIVE,
 * CLOSE, ABORT), as the socket layer asks for them.  Errors are negative
 * errno values; the socket layer turns them into errno. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack_internal.h"
#include "tcp/tcp_internal.h"

int sn_tcp_usr_listen(struct synack_stack *s, struct sn_tcb *tcb, int backlog)
{
    if (backlog < 0)
        backlog = 0;
    if (backlog > 4096)
        backlog = 4096;
    /* Like Linux, a backlog of N lets N+1 connections wait for accept(). */
    if (tcb->state == SYNACK_LISTEN) {
        sn_tcb_lsn(tcb)->backlog = (uint16_t)(backlog + 1);
        return 0;
    }
    if (tcb->state != SYNACK_CLOSED || tcb->te.tuple.rport != 0)
        return -EINVAL;
    struct sn_listen *q = sn_tcb_lsn_get(s, tcb);
    if (!q)
        return -ENOMEM;
    q->backlog = (uint16_t)(backlog + 1);
    if (!(tcb->flags & SN_TF_BOUND)) {
        tcb->te.tuple.raddr = 0;
        int rc = sn_tcp_pick_port(s, tcb);
        if (rc < 0) {
            sn_tcb_lsn_free(s, tcb);
            return rc;
        }
    }
    tcb->te.tuple.raddr = 0;
    tcb->te.tuple.rport = 0;
    tcb->state = SYNACK_LISTEN;
    int rc = sn_tcb_insert(s, tcb);
    if (rc < 0) {
        tcb->state = SYNACK_CLOSED;
        sn_tcb_lsn_free(s, tcb);
        return -EADDRINUSE;
    }
    tcb->state = SYNACK_CLOSED;
    sn_tcp_set_state(s, tcb, SYNACK_LISTEN);
    return 0;
}

/* OPEN, active (RFC 9293 3.10.1): choose the ISS, send the SYN, SYN-SENT. */
int sn_tcp_usr_connect(struct synack_stack *s, struct sn_tcb *tcb, uint32_t raddr, uint16_t rport)
{
    if (tcb->state == SYNACK_SYN_SENT || tcb->state == SYNACK_SYN_RECEIVED)
        return -EALREADY;
    if (tcb->state == SYNACK_LISTEN)
        return -EINVAL;
    if (tcb->state != SYNACK_CLOSED)
        return -EISCONN;
    if (tcb->te.tuple.rport != 0) {
        /* A previous attempt failed: report its error once, then allow a new one. */
        int err = tcb->so_error;
        tcb->so_error = 0;
        tcb->te.tuple.rport = 0;
        if (err)
            return -err;
    }
    if (raddr == 0 || rport == 0)
        return -ECONNREFUSED;
    tcb->te.tuple.laddr = s->cfg.addr;
    tcb->te.tuple.raddr = raddr;
    tcb->te.tuple.rport = rport;
    if (!(tcb->flags & SN_TF_BOUND)) {
        int rc = sn_tcp_pick_port(s, tcb);
        if (rc < 0) {
            tcb->te.tuple.rport = 0;
            return rc;
        }
    }
    if (sn_tuple_find(&s->conns, &tcb->te.tuple) || sn_tw_find(s, &tcb->te.tuple)) {
        tcb->te.tuple.rport = 0;
        return -EADDRNOTAVAIL;
    }
    tcb->iss = sn_tcp_conn_secret(s, &tcb->te.tuple, &tcb->ts_offset);
    tcb->snd_una = tcb->snd_nxt = tcb->snd_max = tcb->snd_sml = tcb->iss;
    /* The MSS we offer: the link's, or less if TCP_MAXSEG asked for less. */
    if (!tcb->rcv_mss || tcb->rcv_mss > s->cfg.mtu - 40u)
        tcb->rcv_mss = (uint16_t)(s->cfg.mtu - 40u);
    tcb->rcv_wscale = s->cfg.wscale ? sn_tcp_choose_wscale(tcb->rcv.cap) : 0;
    tcb->so_error = 0;
    tcb->rtx_count = 0;
    int rc = sn_tcb_insert(s, tcb);
    if (rc < 0) {
        tcb->te.tuple.rport = 0;
        return -EADDRNOTAVAIL;
    }
    tcb->flags |= SN_TF_CONNECTING;
    sn_tcp_set_state(s, tcb, SYNACK_SYN_SENT);
    s->stats.tcp_conns_opened++;
    sn_tcp_output(s, tcb);
    if (sn_x(tcb)->soft_err) {
        /* The output function could not send the SYN: no route.  Linux
         * fails connect() at once with the routing error. */
        int err = sn_x(tcb)->soft_err;
        sn_tcp_drop(s, tcb, 0);
        tcb->flags &= ~SN_TF_CONNECTING;
        tcb->x->soft_err = 0;
        tcb->te.tuple.rport = 0;
        return -err;
    }
    return -EINPROGRESS;
}

/* Whether the connection takes data now: 0, or the error a send gets. */
static long send_state(struct sn_tcb *tcb)
{
    if (tcb->so_error) {
        int err = tcb->so_error;
        tcb->so_error = 0;
        return -err;
    }
    if (tcb->flags & SN_TF_SENDFIN)
        return -EPIPE; /* after shutdown(SHUT_WR) or close: our FIN is queued or sent */
    switch (tcb->state) {
    case SYNACK_ESTABLISHED:
    case SYNACK_CLOSE_WAIT:
        break;
    case SYNACK_SYN_SENT:
    case SYNACK_SYN_RECEIVED:
        return -EAGAIN; /* not yet connected: Linux waits, a non-blocking call gets EAGAIN */
    case SYNACK_CLOSED:
        return tcb->te.tuple.rport ? -EPIPE : -ENOTCONN;
    case SYNACK_LISTEN:
        return -ENOTCONN;
    default:
        return -EPIPE;
    }
    return 0;
}

long sn_tcp_usr_send(struct synack_stack *s, struct sn_tcb *tcb, const void *buf, size_t len,
                     bool oob)
{
    long st = send_state(tcb);
    if (st < 0)
        return st;
    if (len == 0)
        return 0;
    /* Urgent data keeps its pointer out of line: without memory for the
     * block nothing is taken (ENOBUFS, the caller retries), rather than
     * the data going out unmarked. */
    struct sn_tcb_ext *x = oob ? sn_tcb_ext_get(s, tcb) : NULL;
    if (oob && !x)
        return -ENOBUFS;
    long n = sn_ring_write(&tcb->snd, &s->mem, buf, len);
    if (n <= 0 && oob)
        sn_tcb_ext_trim(s, tcb);
    /* Memory (the budget cfg.mem_max, or the allocator) is spent: EAGAIN,
     * as Linux's tcp_sendmsg gives a non-blocking send when tcp_mem or the
     * allocation refuses (a blocking one waits in sk_stream_wait_memory);
     * a short count if some was taken. */
    if (n == -ENOMEM)
        return -EAGAIN;
    if (n < 0)
        return n;
    if (n == 0)
        return -EAGAIN;
    if (oob) {
        /* RFC 6093: the urgent pointer points just past the last urgent byte. */
        x->snd_up = tcb->snd_una + tcb->snd.len;
        tcb->flags |= SN_TF_SNDURG;
    }
    sn_tcp_output(s, tcb);
    return n;
}

/* Whether there are bytes to read: 1, or what a recv on an empty buffer
 * returns (0 at the end of the stream, or an error). */
static long recv_state(struct sn_tcb *tcb)
{
    if (tcb->state == SYNACK_LISTEN)
        return -ENOTCONN;
    /* Data that came on a SYN waits for the handshake (RFC 9293 3.10.7.3). */
    if (tcb->state == SYNACK_SYN_SENT || tcb->state == SYNACK_SYN_RECEIVED)
        return -EAGAIN;
    if (tcb->rcv.len == 0) {
        if (tcb->so_error) {
            int err = tcb->so_error;
            tcb->so_error = 0;
            return -err;
        }
        if (tcb->flags & (SN_TF_RCVD_FIN | SN_TF_SHUT_RD)) {
            tcb->flags |= SN_TF_EOF_SEEN;
            return 0;
        }
        if (tcb->state == SYNACK_CLOSED)
            return tcb->te.tuple.rport ? 0 : -ENOTCONN;
        return -EAGAIN;
    }
    return 1;
}

/* The application has taken n bytes (0 < n <= rcv.len) from the head of
 * the receive queue: drop them, and tell the peer of the window opened. */
static void recv_consume(struct synack_stack *s, struct sn_tcb *tcb, uint32_t n)
{
    uint32_t before = seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
    /* A read that empties the ring may leave its storage in place for the
     * next segment (tcp_rcvkeep.c). */
    bool keep = sn_x(tcb)->nooo > 0 || (n == tcb->rcv.len && sn_tcp_rcv_keep(s, tcb));
    sn_ring_consume(&tcb->rcv, &s->mem, n, keep);
    if (tcb->x && tcb->x->rcv_urg && !seq_gt(tcb->x->rcv_up, tcb->rcv_nxt - tcb->rcv.len)) {
        tcb->x->rcv_urg = false; /* read past the urgent data */
        sn_tcb_ext_trim(s, tcb);
    }
    /* A pure window update only when the peer may be stalled for want of
     * window: the window it knows is nearly closed (under four segments,
     * or half a small buffer) and reading at least doubled it.  Otherwise
     * the ACKs that data brings carry the new window anyway (RFC 1122
     * 4.2.3.3 leaves the choice; Linux's tcp_cleanup_rbuf is alike). */
    uint32_t space = sn_tcp_rcv_space(tcb), max_wnd = (uint32_t)0xffff << tcb->rcv_wscale;
    if (space > max_wnd)
        space = max_wnd; /* what the window field can say */
    uint32_t low = 4u * tcb->rcv_mss < tcb->rcv.cap / 2 ? 4u * tcb->rcv_mss : tcb->rcv.cap / 2;
    if (sn_tcb_synchronized(tcb) && !(tcb->flags & SN_TF_RCVD_FIN) && before < low &&
        space >= 2 * before && space - before >= tcb->rcv_mss) {
        tcb->flags |= SN_TF_ACKNOW;
        sn_tcp_output(s, tcb);
    }
}

long sn_tcp_usr_recv(struct synack_stack *s, struct sn_tcb *tcb, void *buf, size_t len, bool peek)
{
    long st = recv_state(tcb);
    if (st <= 0)
        return st;
    if (len == 0)
        return 0;
    uint32_t n = len < tcb->rcv.len ? (uint32_t)len : tcb->rcv.len;
    sn_ring_peek(&tcb->rcv, 0, buf, n);
    if (!peek)
        recv_consume(s, tcb, n);
    return n;
}

long sn_tcp_usr_recv_peek(struct sn_tcb *tcb, struct iovec *iov, int cnt)
{
    long st = recv_state(tcb);
    if (st <= 0)
        return st;
    uint32_t covered;
    (void)sn_ring_iov(&tcb->rcv, 0, tcb->rcv.len, iov, cnt, &covered);
    return covered;
}

long sn_tcp_usr_recv_consume(struct synack_stack *s, struct sn_tcb *tcb, size_t len)
{
    if (tcb->state == SYNACK_LISTEN)
        return -ENOTCONN;
    if (len > tcb->rcv.len)
        return -EINVAL;
    if (len > 0)
        recv_consume(s, tcb, (uint32_t)len);
    return 0;
}

long sn_tcp_usr_send_reserve(struct synack_stack *s, struct sn_tcb *tcb, size_t len,
                             struct iovec *iov, int cnt)
{
    long st = send_state(tcb);
    if (st < 0)
        return st;
    if (len == 0 || cnt <= 0)
        return 0;
    /* No more than cnt pieces can describe: at most a chunk each. */
    uint64_t most = (uint64_t)cnt * SN_BUF_CHUNK;
    uint32_t want = len < most ? (len < UINT32_MAX ? (uint32_t)len : UINT32_MAX) : (uint32_t)most;
    long n = sn_ring_reserve(&tcb->snd, &s->mem, want);
    if (n == -ENOMEM || n == 0)
        return -EAGAIN; /* full, or no memory: as send */
    if (n < 0)
        return n;
    uint32_t covered;
    (void)sn_ring_iov(&tcb->snd, tcb->snd.len, (uint32_t)n, iov, cnt, &covered);
    s->zc_resv.tcb = tcb;
    s->zc_resv.start = sn_tcp_data_una(tcb) + tcb->snd.len;
    s->zc_resv.len = covered;
    return covered;
}

long sn_tcp_usr_send_commit(struct synack_stack *s, struct sn_tcb *tcb, size_t len)
{
    long st = send_state(tcb);
    if (st < 0)
        return st;
    if (len == 0)
        return 0;
    /* The room of this connection's reserve, the last one on the stack,
     * with nothing queued since (a send() in between would have written
     * over it); its chunks still there (an ACK that emptied the ring in
     * between gave them back). */
    if (s->zc_resv.tcb != tcb || s->zc_resv.start != sn_tcp_data_una(tcb) + tcb->snd.len ||
        len > s->zc_resv.len || len > sn_ring_free(&tcb->snd) ||
        !sn_ring_stored(&tcb->snd, tcb->snd.len, (uint32_t)len))
        return -EINVAL;
    s->zc_resv.start += (uint32_t)len; /* the rest may be committed next */
    s->zc_resv.len -= (uint32_t)len;
    sn_ring_extend(&tcb->snd, (uint32_t)len);
    sn_tcp_output(s, tcb);
    return (long)len;
}

/* CLOSE of the sending side (RFC 9293 3.10.4): queue a FIN after the data. */
static void close_send(struct synack_stack *s, struct sn_tcb *tcb)
{
    if (tcb->flags & SN_TF_SENDFIN)
        return;
    switch (tcb->state) {
    case SYNACK_SYN_RECEIVED:
    case SYNACK_ESTABLISHED:
        tcb->flags |= SN_TF_SENDFIN;
        sn_tcp_set_state(s, tcb, SYNACK_FIN_WAIT_1);
        break;
    case SYNACK_CLOSE_WAIT:
        tcb->flags |= SN_TF_SENDFIN;
        sn_tcp_set_state(s, tcb, SYNACK_LAST_ACK);
        break;
    default:
        return;
    }
    sn_tcp_output(s, tcb);
}

int sn_tcp_usr_shutdown(struct synack_stack *s, struct sn_tcb *tcb, bool rd, bool wr)
{
    switch (tcb->state) {
    case SYNACK_CLOSED:
    case SYNACK_LISTEN:
    case SYNACK_SYN_SENT:
        return -ENOTCONN;
    default:
        break;
    }
    if (rd)
        tcb->flags |= SN_TF_SHUT_RD;
    if (wr)
        close_send(s, tcb);
    sn_tcp_notify(s, tcb);
    return 0;
}

void sn_tcp_usr_close(struct synack_stack *s, struct sn_tcb *tcb)
{
    switch (tcb->state) {
    case SYNACK_LISTEN:
    case SYNACK_CLOSED:
        if (!(tcb->flags & SN_TF_ACCEPTQ))
            sn_tcb_free(s, tcb);
        return;
    case SYNACK_SYN_SENT:
        sn_tcp_drop(s, tcb, 0);
        return;
    default:
        break;
    }
    sn_tcp_orphan_closing(s, tcb);
    /* RFC 2525 2.17 and RFC 9293 3.10.4: closing with data the user never
     * read loses it, so the peer is told with a RST rather than a FIN.
     * SO_LINGER with a zero timeout asks for that abortive close always,
     * and so skips TIME-WAIT. */
    bool unread = tcb->rcv.len > 0;
    if ((unread || (tcb->flags & SN_TF_LINGER0)) && tcb->state != SYNACK_TIME_WAIT) {
        sn_tcp_send_rst(s, tcb);
        sn_tcp_drop(s, tcb, 0);
        return;
    }
    close_send(s, tcb);
    if (tcb->state == SYNACK_FIN_WAIT_2 && !(tcb->flags & SN_TF_CLOSE_TIMER))
        sn_tcp_set_close_timer(s, tcb, s->now + SYNACK_SEC(60));
    sn_tcp_orphan_closed(s, tcb);
}

void sn_tcp_usr_info(const struct synack_stack *s, const struct sn_tcb *tcb,
                     struct synack_tcp_info *i)
{
    memset(i, 0, sizeof(*i));
    /* A descriptor on a connection whose TIME-WAIT a record now keeps. */
    i->state = sn_tw_holds(s, tcb) ? SYNACK_TIME_WAIT : tcb->state;
    i->snd_wscale = tcb->snd_wscale;
    i->rcv_wscale = tcb->rcv_wscale;
    i->options = (uint8_t)(((tcb->flags & SN_TF_TS) ? SYNACK_TCPI_OPT_TIMESTAMPS : 0) |
                           ((tcb->flags & SN_TF_SACK) ? SYNACK_TCPI_OPT_SACK : 0) |
                           ((tcb->flags & SN_TF_WSCALE) ? SYNACK_TCPI_OPT_WSCALE : 0));
    i->conn_id = tcb->conn_id;
    i->snd_mss = tcb->mss;
    i->rcv_mss = tcb->rcv_mss;
    i->rto = tcb->rto;
    i->srtt = tcb->srtt;
    i->rttvar = tcb->rttvar;
    i->snd_cwnd = tcb->cwnd;
    i->snd_ssthresh = tcb->ssthresh;
    i->snd_wnd = tcb->snd_wnd;
    i->rcv_wnd = seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
    i->bytes_in_flight = tcb->snd_max - tcb->snd_una;
    i->sacked_bytes = sn_x(tcb)->sacked_bytes;
    i->retransmits = tcb->rtx_count;
    i->total_retrans = tcb->total_retrans;
    i->bytes_acked = tcb->bytes_acked;
    i->bytes_received = tcb->bytes_received;
    i->bytes_sent = tcb->bytes_acked + (tcb->snd_max - tcb->snd_una);
    i->segs_out = tcb->segs_out;
    i->segs_in = tcb->segs_in;
    i->ca_state = (tcb->flags & SN_TF_RECOVERY) ? SYNACK_TCP_CA_RECOVERY
                  : tcb->rtx_count                ? SYNACK_TCP_CA_LOSS
                                                  : SYNACK_TCP_CA_OPEN;
    i->unread = tcb->rcv.len;
    i->unsent = tcb->snd.len - (tcb->snd_nxt - tcb->snd_una < tcb->snd.len
                                    ? tcb->snd_nxt - tcb->snd_una : tcb->snd.len);
}
