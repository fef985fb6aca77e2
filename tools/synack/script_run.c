/* synack script: the driver.  Each script gets a fresh stack; virtual time
 * starts at 0 with the script.  For each event at time T the stack is first
 * run through its deadlines up to T, then the event happens; a `>` line
 * instead runs the stack until the packet comes out (or its time window
 * closes).  Relative times count from when the previous event finished, as
 * packetdrill's do.
 */
#include "script.h"
#include "script_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/stack_internal.h"   /* sn_stack_fix_initial: the --wrap test hook */
#include "synack/socket.h"

#define SCRIPT_SEED 1                       /* the stack's PRNG: fixed for repeatable runs */
#define PASSIVE_REMOTE_PORT 40000           /* the peer's port when the script listens */
#define ANY_TIME_HORIZON SYNACK_SEC(3600)   /* how far `*` waits for a packet */
#define MAX_STALLS 1000                     /* deadlines in a row that do not move time */

/* ---- reports ------------------------------------------------------------------- */

const char *sn_time_str(synack_time_t t, char buf[32])
{
    unsigned long long s = (unsigned long long)(t / 1000000u),
                       us = (unsigned long long)(t % 1000000u);
    if (us % 1000 == 0)
        snprintf(buf, 32, "%llu.%03llu", s, us / 1000);
    else
        snprintf(buf, 32, "%llu.%06llu", s, us);
    return buf;
}

void sn_fail(struct sn_runner *r, int line, const char *fmt, ...)
{
    r->failed = true;
    size_t cap = sizeof(r->diag) - r->diag_len;
    char *p = r->diag + r->diag_len;
    int n =
        line > 0 ? snprintf(p, cap, "%s:%d: ", r->path, line) : snprintf(p, cap, "%s: ", r->path);
    if (n < 0 || (size_t)n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(p + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len + 1 >= cap)   /* truncated: keep the line ending */
        len = cap - 2;
    p[len] = '\n';
    p[len + 1] = '\0';
    r->diag_len += len + 1;
}

void sn_trace(struct sn_runner *r, const char *fmt, ...)
{
    if (!r->verbose)
        return;
    char t[32];
    fprintf(r->out, "  %9s ", sn_time_str(r->now, t));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->out);
}

/* ---- virtual time ---------------------------------------------------------------- */

static int on_output(void *user, const uint8_t *pkt, size_t len)
{
    struct sn_runner *r = user;
    if (len > synack_stack_mtu(r->stack) && r->oversize == 0)
        r->oversize = len;   /* DF is set on everything: it would never arrive */
    if (r->qlen == SN_QUEUE_CAP) {
        r->qoverflow = true;
        return -ENOBUFS;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) {
        r->qoverflow = true;
        return -ENOMEM;
    }
    memcpy(copy, pkt, len);
    r->q[(r->qhead + r->qlen) % SN_QUEUE_CAP] =
        (struct sn_out_pkt){.t = r->now, .len = len, .data = copy};
    r->qlen++;
    return 0;
}

/* Checks that need no script line: the output queue's bound, no datagram
 * over the MTU, and the stack's promise that advance(t) runs every timer
 * due by t.  Returns 0 or -1 (failure recorded against `line`). */
static int check_stack(struct sn_runner *r, int line, synack_time_t advanced_to)
{
    char t1[32], t2[32];
    if (r->qoverflow) {
        sn_fail(r, line, "more than %d outbound packets waiting for a '>' line", SN_QUEUE_CAP);
        return -1;
    }
    if (r->oversize) {
        sn_fail(r, line, "synack sent a datagram of %zu bytes, over the MTU (%u)", r->oversize,
                (unsigned)synack_stack_mtu(r->stack));
        return -1;
    }
    synack_time_t d = synack_stack_next_deadline(r->stack);
    if (advanced_to != SYNACK_TIME_NEVER && d <= advanced_to) {
        sn_fail(r, line, "after synack_stack_advance(%s) the next deadline is %s: a timer due "
                "was left for later", sn_time_str(advanced_to, t1), sn_time_str(d, t2));
        return -1;
    }
    return 0;
}

/* Moves synack's clock to t (running what is due) and checks it. */
static int advance(struct sn_runner *r, synack_time_t t)
{
    synack_stack_advance(r->stack, t);
    return check_stack(r, 0, t);
}

int sn_run_next(struct sn_runner *r, synack_time_t limit)
{
    synack_time_t d = synack_stack_next_deadline(r->stack), w = sn_call_wake(r);
    if (w < d)
        d = w;
    if (d == SYNACK_TIME_NEVER || d > limit)
        return 0;
    if (d > r->now) {
        r->stalls = 0;
        r->now = d;
    } else if (++r->stalls > MAX_STALLS) {
        char t[32];
        sn_fail(r, 0, "synack's next deadline stays at %s: virtual time cannot advance",
                sn_time_str(d, t));
        return -1;
    }
    if (advance(r, r->now) < 0)
        return -1;
    return sn_call_retry(r) < 0 ? -1 : 1;
}

/* Runs everything due up to t, then moves the clock to t. */
static int run_until(struct sn_runner *r, synack_time_t t)
{
    int x;
    while ((x = sn_run_next(r, t)) == 1)
        continue;
    if (x < 0)
        return -1;
    if (t > r->now) {
        r->now = t;
        if (advance(r, t) < 0)
            return -1;
    }
    return sn_call_retry(r);
}

/* ---- events ---------------------------------------------------------------------- */

/* --lenient-tail, once the last `>` line has matched: packets nobody expects
 * any more are dropped (traced under --verbose), as packetdrill ignores what
 * the stack sends after the last packet a script expects.  Returns whether
 * it dropped them. */
static bool drain_tail(struct sn_runner *r)
{
    if (!r->lenient_tail || !r->past_last_expect)
        return false;
    while (r->qlen > 0)
        sn_packet_ignore(r);
    return true;
}

static synack_time_t at(const struct sn_event *ev, int64_t us, synack_time_t base)
{
    return ev->time_kind == SN_TIME_ABS ? (synack_time_t)us : base + (synack_time_t)us;
}

static int run_event(struct sn_runner *r, const struct sn_event *ev)
{
    synack_time_t base = r->now, tol = (synack_time_t)r->sc->tolerance_us;
    synack_time_t t = ev->time_kind == SN_TIME_ANY ? base : at(ev, ev->time_us, base);
    char when[160], t1[32], t2[32], t3[32];

    if (ev->kind == SN_EV_PACKET && ev->u.pkt.outbound) {
        synack_time_t lo = t > tol ? t - tol : 0, hi;
        if (ev->time_kind == SN_TIME_ANY) {
            lo = 0;
            hi = base + ANY_TIME_HORIZON;
            snprintf(when, sizeof(when), "at any time");
        } else if (ev->range_end_us >= 0) {
            hi = at(ev, ev->range_end_us, base) + tol;
            snprintf(when, sizeof(when), "in %s~%s (± %s)", sn_time_str(t, t1),
                     sn_time_str(at(ev, ev->range_end_us, base), t2), sn_time_str(tol, t3));
        } else {
            hi = t + tol;
            snprintf(when, sizeof(when), "at %s ± %s", sn_time_str(t, t1), sn_time_str(tol, t2));
        }
        return sn_packet_expect(r, ev, lo, hi, when);
    }

    if (t + tol < r->now) {
        sn_fail(r, ev->line, "event due at %s, but the script is already at %s", sn_time_str(t, t1),
                sn_time_str(r->now, t2));
        return -1;
    }
    if (run_until(r, t) < 0)
        return -1;
    if (r->qlen > 0 && drain_tail(r) == 0)
        return sn_packet_unexpected(r, ev->line, "before this event");
    switch (ev->kind) {
    case SN_EV_PACKET:
        if (sn_packet_inject(r, ev) < 0)
            return -1;
        return sn_call_retry(r);
    case SN_EV_CALL:
        return sn_call_start(r, ev, ev->block_end_us >= 0 ? at(ev, ev->block_end_us, base) : t);
    case SN_EV_COMMAND:
        sn_trace(r, "`%s`   (shell command not run)", ev->u.text);
        return 0;
    case SN_EV_CODE:
        sn_fail(r, ev->line, "unsupported: %%{ }%% code blocks (their Python is not run)");
        return -1;
    }
    return 0;
}

static int run_script(struct sn_runner *r)
{
    const struct sn_script *sc = r->sc;
    for (size_t i = 0; i < sc->nopts; i++)
        if (!sc->opts[i].used && r->verbose)
            fprintf(r->out, "  note: line %d: option --%s ignored\n", sc->opts[i].line,
                    sc->opts[i].name);
    size_t last_expect = 0;   /* one past the last `>` line */
    for (size_t i = 0; i < sc->nev; i++)
        if (sc->ev[i]->kind == SN_EV_PACKET && sc->ev[i]->u.pkt.outbound)
            last_expect = i + 1;
    for (size_t i = 0; i < sc->nev; i++) {
        r->past_last_expect = i >= last_expect;
        if (run_event(r, sc->ev[i]) < 0)
            return -1;
        if (check_stack(r, sc->ev[i]->line, SYNACK_TIME_NEVER) < 0)
            return -1;
    }
    int last = sc->nev ? sc->ev[sc->nev - 1]->line : 0;
    r->past_last_expect = true;
    if (r->qlen > 0 && !drain_tail(r))
        return sn_packet_unexpected(r, last, "after the last event");
    /* Like packetdrill, wait for a blocking call to return; it fails once
     * past its end time (sn_call_wake() is then due). */
    while (r->pend.active) {
        int x = sn_run_next(r, SYNACK_TIME_NEVER - 1);
        if (x < 0)
            return -1;
        if (x == 0) {
            sn_fail(r, r->pend.ev->line, "system call still blocked at the end of the script");
            return -1;
        }
    }
    if (r->qlen > 0 && !drain_tail(r))
        return sn_packet_unexpected(r, last, "after the last event");
    return 0;
}

/* ---- files ----------------------------------------------------------------------- */

/* Reads a whole file, or its first SN_SCRIPT_MAX_BYTES + 1 bytes (so that a
 * larger one is seen as such).  Returns a malloc'd buffer or NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    while (!err && n <= SN_SCRIPT_MAX_BYTES) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            if (ncap > SN_SCRIPT_MAX_BYTES + 1)
                ncap = SN_SCRIPT_MAX_BYTES + 1;
            char *nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                err = ENOMEM;
                break;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            err = ferror(f) ? EIO : -1;   /* -1: end of file */
    }
    fclose(f);
    if (err > 0) {
        free(buf);
        errno = err;
        return NULL;
    }
    *len = n;
    return buf;
}

/* Runs one script; prints PASS/FAIL and the report.  Returns true if it passed. */
static bool run_file(const char *path, const struct sn_run_opts *o, FILE *out)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    if (text == NULL) {
        fprintf(out, "FAIL %s\n%s: cannot read: %s\n", path, path, strerror(errno));
        return false;
    }
    struct sn_script sc;
    char err[256];
    int line = 0;
    int rc = sn_script_parse(text, len, &sc, &line, err, sizeof(err));
    free(text);
    if (rc < 0) {
        if (line > 0)
            fprintf(out, "FAIL %s\n%s:%d: %s\n", path, path, line, err);
        else
            fprintf(out, "FAIL %s\n%s: %s\n", path, path, err);
        return false;
    }
    struct sn_runner *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        sn_script_free(&sc);
        fprintf(out, "FAIL %s\n%s: out of memory\n", path, path);
        return false;
    }
    r->sc = &sc;
    r->path = path;
    r->verbose = o->verbose;
    r->lenient_tail = o->lenient_tail;
    r->quickack = o->quickack;
    if (o->wrap) {
        r->wrap_seq = SN_WRAP_PEER_SEQ;
        r->wrap_ts = SN_WRAP_PEER_TS;
    }
    r->out = out;
    r->lport = sc.bind_port;
    r->rport = PASSIVE_REMOTE_PORT;
    if (o->verbose)
        fprintf(out, "%s:\n", path);
    struct synack_config cfg;
    synack_config_default(&cfg);
    cfg.addr = sc.local_ip;
    cfg.seed = SCRIPT_SEED;
    if (sc.mtu)
        cfg.mtu = sc.mtu;
    if (sc.max_timewait)
        cfg.max_timewait = sc.max_timewait - 1;
    rc = synack_stack_new(&cfg, on_output, r, &r->stack);
    if (rc < 0) {
        sn_fail(r, 0, "cannot create a synack stack: %s", synack_strerror(rc));
    } else {
        if (o->wrap)
            sn_stack_fix_initial(r->stack, SN_WRAP_LOCAL_ISN, SN_WRAP_LOCAL_TS);
        run_script(r);
    }

    bool pass = !r->failed;
    fprintf(out, "%s %s\n%s", pass ? "PASS" : "FAIL", path, r->diag);
    if (r->stack)
        synack_stack_free(r->stack);
    for (; r->qlen > 0; r->qlen--, r->qhead = (r->qhead + 1) % SN_QUEUE_CAP)
        free(r->q[r->qhead].data);
    free(r->io);
    free(r);
    sn_script_free(&sc);
    return pass;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: synack script [--verbose] [--wrap] [--lenient-tail] [--quickack] FILE...\n"
               "Runs packetdrill-style scripts against a synack stack in virtual time and\n"
               "prints PASS or FAIL for each, with the differences (tests/scripts/README.md).\n"
               "  -v, --verbose     trace every packet and call, and what is ignored\n"
               "  --wrap            start synack's and the peer's sequence numbers and\n"
               "                    timestamps just below 2^32, so that they wrap mid-script\n"
               "                    (the script's numbers are mapped; it runs unchanged)\n"
               "  --lenient-tail    ignore packets synack sends after the last '>' line has\n"
               "                    matched, as packetdrill does (for third-party suites);\n"
               "                    by default any packet no line expects is a failure\n"
               "  --quickack        every socket starts in Linux's quick-ACK mode\n"
               "                    (TCP_QUICKACK), as scripts written for Linux expect;\n"
               "                    by default synack delays ACKs (RFC 1122 4.2.3.2)\n");
}

int synack_cmd_script(int argc, char **argv)
{
    struct sn_run_opts o = {0};
    int first = 1;
    for (; first < argc && argv[first][0] == '-' && argv[first][1] != '\0'; first++) {
        const char *a = argv[first];
        if (strcmp(a, "--") == 0) {
            first++;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            o.verbose = true;
        } else if (strcmp(a, "--wrap") == 0) {
            o.wrap = true;
        } else if (strcmp(a, "--lenient-tail") == 0) {
            o.lenient_tail = true;
        } else if (strcmp(a, "--quickack") == 0) {
            o.quickack = true;
        } else {
            fprintf(stderr, "synack script: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (first >= argc) {
        usage(stderr);
        return 2;
    }
    unsigned passed = 0, failed = 0;
    for (int i = first; i < argc; i++) {
        if (run_file(argv[i], &o, stdout))
            passed++;
        else
            failed++;
        fflush(stdout);
    }
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
