/* The ladder of one connection as an SVG picture (see trace.h): two
 * vertical timelines, one slanted arrow per packet from its send to its
 * receipt, labelled along the arrow; each side's state written beside its
 * line where it changes; the applications' calls outside the states when
 * known.  Colours: SYN green, FIN blue, RST red, data black, pure ACK grey,
 * retransmissions orange (dashed); a lost packet's arrow stops short with a
 * cross.  Long connections are summarised: the start, the unusual packets
 * and the end, with the number of packets left out between them.
 *
 * The layout is computed first (a row per event, in the order the events
 * happened), then the label boxes (rotated rectangles) are checked against
 * each other; when two overlap, the rows are spread and the layout redone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

#define SVG_PI 3.14159265358979323846
#define SVG_FONT 11.0          /* px, monospace */
/* A browser's box of a line of DejaVu Sans Mono: 0.602 em a character,
 * about 1.17 em high; a little more here, so that boxes computed here hold
 * the browser's. */
#define SVG_CHAR_W (SVG_FONT * 0.61)
#define SVG_ASCENT 10.5
#define SVG_DESCENT 3.0
#define SVG_LIFT 4.0           /* label baseline above its arrow */
#define SVG_ARROW_W 520.0      /* between the timelines */
#define SVG_STATE_W 112.0
#define SVG_NOTE_CH 44         /* note text cut to this many characters */
#define SVG_TIME_W 76.0
#define SVG_TOP 70.0
#define SVG_SUMMARY_HEAD 14    /* packets kept at the start of a long connection */
#define SVG_SUMMARY_TAIL 14    /* ... and at its end */
#define SVG_SUMMARY_ODD 24     /* unusual packets kept in between */
#define SVG_LONG 60            /* more packets than this: summarise */
#define SVG_NEAR 64            /* labels checked against each other: this many packets apart */

enum { EV_SEND, EV_RECV, EV_NOTE, EV_GAP };

struct sev {
    uint64_t key;
    uint8_t kind, side;
    uint32_t k;                /* packet (index in the connection), note index, or gap size */
    uint32_t k2;               /* gap: last packet left out */
    double y;
};

struct label {
    double cx, cy, w, h, ang;  /* centre, size, angle (radians) */
};

struct layout {
    struct sev *ev;
    size_t nev;
    double *ysnd, *yrcv;       /* per packet, NaN when not drawn */
    bool *keep;
    double row, height;
    double x[2];               /* the timelines */
    double note_w;
    struct label *fixed;       /* the gap texts, which packet labels avoid */
    size_t nfixed;
};

static int cmp_sev(const void *a, const void *b)
{
    const struct sev *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

static const char *st_name(uint8_t st) { return synack_tcp_state_name((enum synack_tcp_state)st); }

/* Which packets are drawn: all, or the start, the unusual ones, the end. */
static void choose(const struct trace *t, const struct trace_conn *c, bool all, bool *keep)
{
    if (all || c->n <= SVG_LONG) {
        for (uint32_t k = 0; k < c->n; k++)
            keep[k] = true;
        return;
    }
    const uint32_t odd_marks = TRACE_M_RETRANS | TRACE_M_OOO | TRACE_M_GAP | TRACE_M_ZEROWIN |
                               TRACE_M_WPROBE | TRACE_M_RST | TRACE_M_ACK_UNSENT |
                               TRACE_M_DATA_AFTER_FIN | TRACE_M_SHRINK | TRACE_M_LOST |
                               TRACE_M_DUPACK;
    unsigned odd = 0;
    for (uint32_t k = 0; k < c->n; k++) {
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        bool ctl = (p->flags & (SYNACK_TH_SYN | SYNACK_TH_FIN | SYNACK_TH_RST)) != 0;
        keep[k] = k < SVG_SUMMARY_HEAD || k >= c->n - SVG_SUMMARY_TAIL || ctl;
        if (!keep[k] && (p->marks & odd_marks) && odd < SVG_SUMMARY_ODD) {
            keep[k] = true;
            odd++;
        }
    }
}

static int build_events(const struct trace *t, const struct trace_conn *c,
                        const struct trace_extra *x, struct layout *L)
{
    size_t cap = 2 * (size_t)c->n + (x ? x->nnotes : 0) + c->n / 2 + 4;
    L->ev = calloc(cap, sizeof(*L->ev));
    if (!L->ev)
        return -1;
    size_t n = 0;
    for (uint32_t k = 0; k < c->n; k++) {
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        if (L->keep[k]) {
            L->ev[n++] = (struct sev){p->key_snd, EV_SEND, p->dir, k, 0, 0};
            L->ev[n++] = (struct sev){p->key_rcv, EV_RECV, (uint8_t)!p->dir, k, 0, 0};
        } else if (k == 0 || L->keep[k - 1]) {
            uint32_t e = k;
            while (e + 1 < c->n && !L->keep[e + 1])
                e++;
            L->ev[n++] = (struct sev){p->key_snd, EV_GAP, 0, k, e, 0};
        }
    }
    if (x)
        for (size_t i = 0; i < x->nnotes; i++)
            L->ev[n++] = (struct sev){x->notes[i].key, EV_NOTE, x->notes[i].side, (uint32_t)i, 0, 0};
    L->nev = n;
    qsort(L->ev, n, sizeof(*L->ev), cmp_sev);
    return 0;
}

static void gap_text(const struct sev *e, char *buf, size_t cap)
{
    snprintf(buf, cap, "... %u packets not drawn (--all draws them) ...", e->k2 - e->k + 1);
}

static void place_rows(const struct trace_conn *c, struct layout *L)
{
    double y = SVG_TOP + L->row;
    L->nfixed = 0;
    for (uint32_t k = 0; k < c->n; k++)
        L->ysnd[k] = L->yrcv[k] = NAN;
    for (size_t i = 0; i < L->nev; i++) {
        struct sev *e = &L->ev[i];
        if (e->kind == EV_GAP)
            y += L->row * 0.5;
        e->y = y;
        if (e->kind == EV_GAP) {
            char text[96];
            gap_text(e, text, sizeof(text));
            L->fixed[L->nfixed++] = (struct label){(L->x[0] + L->x[1]) / 2, y, strlen(text) * SVG_CHAR_W + 8,
                                                   SVG_ASCENT + SVG_DESCENT + 4, 0};
        }
        if (e->kind == EV_SEND)
            L->ysnd[e->k] = y;
        else if (e->kind == EV_RECV)
            L->yrcv[e->k] = y;
        y += e->kind == EV_GAP ? L->row * 1.5 : L->row;
    }
    L->height = y + L->row * 2 + 40;
}

/* How much of a packet's label is drawn. */
enum { LV_FULL, LV_SHORT, LV_NONE, LV_SKIP };

/* The label of packet k at level `lv`: the full one, or a short one ("P.
 * seq 1449" for data, ". ack 2897" else) where the full one has no room. */
static void pkt_text(const struct trace *t, const struct trace_conn *c, uint32_t k, int lv,
                     char *buf, size_t cap)
{
    const struct trace_pkt *p = &t->pkt[c->idx[k]];
    char lab[128], opts[200], marks[200];
    if (lv == LV_SHORT) {
        char flags[16];
        synack_tcp_flags_str(p->flags, flags);
        if (p->len || !(p->flags & SYNACK_TH_ACK))
            snprintf(buf, cap, "%s seq %u", flags, p->rseq);
        else
            snprintf(buf, cap, "%s ack %u", flags, p->rack);
        return;
    }
    trace_pkt_label(p, c, lab, sizeof(lab));
    size_t ll = strlen(lab);
    if (p->len == 0 && ll > 6 && !strcmp(lab + ll - 6, " len 0"))
        lab[ll - 6] = 0; /* a picture has less room: no length means none */
    trace_opts_short(p, c, opts, sizeof(opts));
    trace_marks_str(p->marks & ~(uint32_t)TRACE_M_LOST, p->dupack, marks, sizeof(marks));
    /* Options on SYNs only (they are negotiated there), marks in brackets. */
    int w = snprintf(buf, cap, "%s%s%s%s%s%s", lab, (p->flags & SYNACK_TH_SYN) && opts[0] ? " <" : "",
             (p->flags & SYNACK_TH_SYN) ? opts : "", (p->flags & SYNACK_TH_SYN) && opts[0] ? ">" : "",
             marks[0] ? " [" : "", marks);
    if (w > 0 && marks[0] && strlen(buf) + 2 < cap)
        strcat(buf, "]");
}

/* Along the arrow, a third of the way from the sender: crossing arrows keep
 * their labels apart.  The angle keeps the text reading left to right. */
static struct label pkt_label(const struct layout *L, const struct trace_pkt *p, double y1,
                              double y2, size_t nchars, double f)
{
    double x1 = L->x[p->dir], x2 = L->x[!p->dir];
    double px = x1 + f * (x2 - x1), py = y1 + f * (y2 - y1);
    double ang = atan2(y2 - y1, x2 - x1);
    if (x2 < x1)
        ang = atan2(y1 - y2, x1 - x2);
    struct label lb;
    lb.w = (double)nchars * SVG_CHAR_W;
    lb.h = SVG_ASCENT + SVG_DESCENT;
    lb.ang = ang;
    /* The box's centre: lifted above the line, perpendicular to it. */
    double lift = SVG_LIFT + SVG_DESCENT + lb.h / 2 - SVG_DESCENT;
    lb.cx = px + sin(ang) * lift;
    lb.cy = py - cos(ang) * lift;
    return lb;
}

static void corners(const struct label *b, double cx[4], double cy[4])
{
    double c = cos(b->ang), s = sin(b->ang), hw = b->w / 2, hh = b->h / 2;
    const double sx[4] = {-hw, hw, hw, -hw}, sy[4] = {-hh, -hh, hh, hh};
    for (int i = 0; i < 4; i++) {
        cx[i] = b->cx + sx[i] * c - sy[i] * s;
        cy[i] = b->cy + sx[i] * s + sy[i] * c;
    }
}

/* Separating axis test for two rotated rectangles. */
static bool overlap(const struct label *a, const struct label *b)
{
    double ax[4], ay[4], bx[4], by[4];
    corners(a, ax, ay);
    corners(b, bx, by);
    const struct label *r[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        for (int e = 0; e < 2; e++) {
            double ang = r[i]->ang + e * SVG_PI / 2;
            double nx = cos(ang), ny = sin(ang);
            double amin = INFINITY, amax = -INFINITY, bmin = INFINITY, bmax = -INFINITY;
            for (int j = 0; j < 4; j++) {
                double pa = ax[j] * nx + ay[j] * ny, pb = bx[j] * nx + by[j] * ny;
                amin = fmin(amin, pa);
                amax = fmax(amax, pa);
                bmin = fmin(bmin, pb);
                bmax = fmax(bmax, pb);
            }
            if (amax <= bmin + 0.5 || bmax <= amin + 0.5)
                return false;
        }
    }
    return true;
}

/* Is the label between the two timelines (not over a line or a state)? */
static bool between_lines(const struct layout *L, const struct label *b)
{
    double x[4], y[4];
    corners(b, x, y);
    for (int i = 0; i < 4; i++)
        if (x[i] < L->x[0] + 3 || x[i] > L->x[1] - 3)
            return false;
    return true;
}

/* Could two labels touch?  A rotated box reaches at most (w + h) / 2 from
 * its centre, up or down. */
static bool near(const struct label *a, const struct label *b)
{
    return fabs(a->cy - b->cy) <= (a->w + a->h + b->w + b->h) / 2;
}

/* Does label k overlap a gap text or any other placed label? */
static bool collides(const struct layout *L, const struct label *lb, const uint8_t *lvl, uint32_t n,
                     uint32_t k)
{
    for (size_t i = 0; i < L->nfixed; i++)
        if (overlap(&lb[k], &L->fixed[i]))
            return true;
    /* Labels far apart in the list are far apart on the page. */
    for (uint32_t j = k > SVG_NEAR ? k - SVG_NEAR : 0; j < n && j < k + SVG_NEAR; j++)
        if (j != k && lvl[j] <= LV_SHORT && near(&lb[k], &lb[j]) && overlap(&lb[k], &lb[j]))
            return true;
    return false;
}

/* Labels of all drawn packets, each at the first place along its arrow
 * where it overlaps no label placed before: the full label, else the short
 * one, else none (the packet keeps its tooltip).  Returns how many pairs
 * still overlap (none, unless something is wrong). */
static size_t labels(const struct trace *t, const struct trace_conn *c, const struct layout *L,
                     struct label *lb, uint8_t *lvl)
{
    static const double where[] = {0.36, 0.22, 0.5, 0.29, 0.43, 0.6, 0.15};
    char text[400];
    for (uint32_t k = 0; k < c->n; k++)
        lvl[k] = LV_SKIP;
    for (uint32_t k = 0; k < c->n; k++) {
        if (!L->keep[k] || isnan(L->ysnd[k]))
            continue;
        const struct trace_pkt *p = &t->pkt[c->idx[k]];
        uint8_t found = LV_NONE;
        for (int lv = LV_FULL; lv <= LV_SHORT && found == LV_NONE; lv++) {
            pkt_text(t, c, k, lv, text, sizeof(text));
            for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
                /* A lost packet's arrow stops at 0.62. */
                double f = (p->marks & TRACE_M_LOST) ? where[w] * 0.8 : where[w];
                lb[k] = pkt_label(L, p, L->ysnd[k], L->yrcv[k], strlen(text), f);
                if (between_lines(L, &lb[k]) && !collides(L, lb, lvl, c->n, k)) {
                    found = (uint8_t)lv;
                    break;
                }
            }
        }
        lvl[k] = found;
    }
    size_t bad = 0;
    for (uint32_t a = 0; a < c->n; a++) {
        if (lvl[a] > LV_SHORT)
            continue;
        for (size_t i = 0; i < L->nfixed; i++)
            bad += overlap(&lb[a], &L->fixed[i]);
        for (uint32_t b = a + 1; b < c->n && b <= a + SVG_NEAR; b++) {
            if (lvl[b] > LV_SHORT)
                continue;
            if (!near(&lb[a], &lb[b]))
                continue;
            if (overlap(&lb[a], &lb[b])) {
                if (getenv("SYNACK_TRACE_DEBUG"))
                    fprintf(stderr, "overlap: packets %u and %u\n", a + 1, b + 1);
                bad++;
            }
        }
    }
    return bad;
}

static const char *colour(const struct trace_pkt *p, bool *dashed)
{
    *dashed = (p->marks & (TRACE_M_RETRANS | TRACE_M_LOST)) != 0;
    if (p->flags & SYNACK_TH_RST)
        return "#d62728";
    if (p->marks & TRACE_M_RETRANS)
        return "#ff7f0e";
    if (p->flags & SYNACK_TH_SYN)
        return "#2ca02c";
    if (p->flags & SYNACK_TH_FIN)
        return "#1f5fbf";
    if (p->len)
        return "#222222";
    return "#8c8c8c";
}

static void draw_state(FILE *f, const struct layout *L, int side, double y, uint8_t st)
{
    double x = side == 0 ? L->x[0] - 8 : L->x[1] + 8;
    fprintf(f, "<text class=\"state\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>\n", x,
            y + 4, side == 0 ? "end" : "start", st_name(st));
}

static void draw_packet(FILE *f, const struct trace *t, const struct trace_conn *c,
                        const struct layout *L, uint32_t k, const struct label *lb, uint8_t lv,
                        bool inline_html)
{
    const struct trace_pkt *p = &t->pkt[c->idx[k]];
    double x1 = L->x[p->dir], x2 = L->x[!p->dir], y1 = L->ysnd[k], y2 = L->yrcv[k];
    bool dashed;
    const char *col = colour(p, &dashed);
    bool lost = (p->marks & TRACE_M_LOST) != 0;
    if (lost) {
        x2 = x1 + 0.62 * (x2 - x1);
        y2 = y1 + 0.62 * (y2 - y1);
    }
    char text[400];
    pkt_text(t, c, k, LV_FULL, text, sizeof(text));
    fprintf(f, "<g class=\"pkt\" data-i=\"%u\"%s>\n<title>", (unsigned)(p - t->pkt),
            inline_html ? " style=\"cursor:pointer\"" : "");
    fprintf(f, "frame %u, %.6f s: ", p->frame, (double)(p->t_us - c->t_first) / 1e6);
    trace_xml_esc(f, text);
    fprintf(f, "</title>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"1.6\"%s%s%s%s/>\n",
            x1, y1, x2, y2, col, dashed ? " stroke-dasharray=\"6 3\"" : "",
            lost ? "" : " marker-end=\"url(#arrow", lost ? "" : col + 1, lost ? "" : ")\"");
    if (lost)
        fprintf(f, "<path d=\"M%.1f %.1fl8 8m-8 0l8 -8\" transform=\"translate(-4 -4)\" stroke=\"#d62728\" "
                   "stroke-width=\"2\"/>\n",
                x2, y2);
    if (lv == LV_SHORT)
        pkt_text(t, c, k, LV_SHORT, text, sizeof(text));
    if (lv > LV_SHORT) {
        fprintf(f, "</g>\n");
        return;
    }
    double deg = lb->ang * 180.0 / SVG_PI;
    /* Text anchored at its centre, baseline SVG_LIFT above the line. */
    double bx = lb->cx - sin(lb->ang) * (lb->h / 2 - SVG_DESCENT);
    double by = lb->cy + cos(lb->ang) * (lb->h / 2 - SVG_DESCENT);
    fprintf(f, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\" text-anchor=\"middle\" "
               "transform=\"rotate(%.3f %.1f %.1f)\">",
            bx, by, col, deg, bx, by);
    trace_xml_esc(f, text);
    fprintf(f, "</text>\n</g>\n");
}

static void draw_gap(FILE *out, const struct layout *L, const struct sev *e)
{
    char text[96];
    gap_text(e, text, sizeof(text));
    double w = strlen(text) * SVG_CHAR_W + 8;
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
                 "stroke=\"#bbb\"/>\n<text class=\"gap\" x=\"%.1f\" y=\"%.1f\" "
                 "text-anchor=\"middle\">%s</text>\n",
            (L->x[0] + L->x[1]) / 2 - w / 2, e->y - 8, w, SVG_ASCENT + SVG_DESCENT + 4,
            (L->x[0] + L->x[1]) / 2, e->y + 4, text);
}

int trace_svg_ladder(const struct trace *t, const struct trace_conn *c, int id,
                     const struct trace_extra *x, const struct trace_svg_opts *o, FILE *out)
{
    if (!c->n)
        return -1;
    struct layout L;
    memset(&L, 0, sizeof(L));
    L.keep = calloc(c->n, sizeof(bool));
    L.ysnd = calloc(c->n, sizeof(double));
    L.yrcv = calloc(c->n, sizeof(double));
    struct label *lb = calloc(c->n, sizeof(*lb));
    uint8_t *lvl = calloc(c->n, 1);
    int rc = -1;
    if (!L.keep || !L.ysnd || !L.yrcv || !lb || !lvl)
        goto done;
    choose(t, c, o->all, L.keep);
    if (build_events(t, c, x, &L) < 0)
        goto done;
    L.fixed = calloc(L.nev + 1, sizeof(*L.fixed));
    if (!L.fixed)
        goto done;
    L.note_w = x && x->nnotes ? SVG_NOTE_CH * SVG_CHAR_W + 10 : 0;
    L.x[0] = SVG_TIME_W + L.note_w + SVG_STATE_W;
    L.x[1] = L.x[0] + SVG_ARROW_W;
    L.row = 20;
    place_rows(c, &L);
    size_t bad = labels(t, c, &L, lb, lvl);
    if (bad)
        fprintf(stderr, "synack trace: %zu label pairs overlap in the ladder\n", bad);
    double width = L.x[1] + SVG_STATE_W + L.note_w + 20;
    char a[64], b[64];
    const char *na = x && x->name[0] ? x->name[0] : "A", *nb = x && x->name[1] ? x->name[1] : "B";
    trace_ep_str(&c->ep[0], a, sizeof(a));
    trace_ep_str(&c->ep[1], b, sizeof(b));
    if (!o->inline_html)
        fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ladder\" width=\"%.0f\" height=\"%.0f\" "
                 "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\"%.0f\">\n",
            width, L.height, width, L.height, SVG_FONT);
    fprintf(out, "<defs>");
    static const char *const cols[] = {"d62728", "ff7f0e", "2ca02c", "1f5fbf", "222222", "8c8c8c"};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        fprintf(out, "<marker id=\"arrow%s\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
                     "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" "
                     "fill=\"#%s\"/></marker>\n",
                cols[i], cols[i]);
    fprintf(out, "<style>.state{font-weight:bold;fill:#5a2d82}"
                 ".note{font-style:italic;fill:#555}.time{fill:#999;font-size:10px}"
                 ".gap{font-style:italic;fill:#555}.head{font-weight:bold;font-size:13px}</style></defs>\n");
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(out, "<text class=\"head\" x=\"%.1f\" y=\"22\">connection %d</text>\n", 8.0, id);
    fprintf(out, "<text class=\"head\" x=\"%.1f\" y=\"44\" text-anchor=\"middle\">%s ", L.x[0], na);
    trace_xml_esc(out, a);
    fprintf(out, "</text>\n<text class=\"head\" x=\"%.1f\" y=\"44\" text-anchor=\"middle\">%s ", L.x[1], nb);
    trace_xml_esc(out, b);
    fprintf(out, "</text>\n<text class=\"time\" x=\"4\" y=\"%.1f\">time (ms)</text>\n", SVG_TOP - 6);
    for (int s = 0; s < 2; s++)
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\" stroke-width=\"2\"/>\n",
                L.x[s], SVG_TOP - 8, L.x[s], L.height - 30);
    /* The states: at the top, then wherever they change. */
    uint8_t shown[2] = {0xff, 0xff};
    for (size_t i = 0; i < L.nev; i++) {
        const struct sev *e = &L.ev[i];
        if (e->kind == EV_GAP) {
            for (int s = 0; s < 2; s++)
                fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"white\" "
                             "stroke-width=\"4\" stroke-dasharray=\"3 3\"/>\n",
                        L.x[s], e->y - L.row * 0.5, L.x[s], e->y + L.row * 0.5);
            continue;
        }
        uint8_t st;
        if (e->kind == EV_NOTE) {
            const struct trace_note *n = &x->notes[e->k];
            st = n->state;
            char cut[SVG_NOTE_CH + 1];
            size_t nl = strnlen(n->text, SVG_NOTE_CH);
            memcpy(cut, n->text, nl);
            cut[nl] = 0;
            double nx = e->side == 0 ? L.x[0] - SVG_STATE_W - 6 : L.x[1] + SVG_STATE_W + 6;
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#555\"/>\n", L.x[e->side], e->y);
            fprintf(out, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", nx, e->y + 4,
                    e->side == 0 ? "end" : "start");
            trace_xml_esc(out, cut);
            fprintf(out, "</text>\n");
        } else {
            const struct trace_pkt *p = &t->pkt[c->idx[e->k]];
            st = e->kind == EV_SEND ? p->st_snd : p->st_rcv;
            if (e->kind == EV_SEND)
                fprintf(out, "<text class=\"time\" x=\"4\" y=\"%.1f\">%.3f</text>\n", e->y + 4,
                        (double)(p->t_us - c->t_first) / 1e3);
        }
        if (st != shown[e->side]) {
            draw_state(out, &L, e->side, e->y, st);
            shown[e->side] = st;
        }
    }
    for (uint32_t k = 0; k < c->n; k++)
        if (lvl[k] != LV_SKIP)
            draw_packet(out, t, c, &L, k, &lb[k], lvl[k], o->inline_html);
    /* The gaps last: their boxes cut the arrows that pass them. */
    for (size_t i = 0; i < L.nev; i++)
        if (L.ev[i].kind == EV_GAP)
            draw_gap(out, &L, &L.ev[i]);
    fprintf(out, "</svg>\n");
    if (o->boxes)
        for (uint32_t k = 0; k < c->n; k++)
            if (lvl[k] <= LV_SHORT)
                fprintf(o->boxes, "%.2f %.2f %.2f %.2f %.5f\n", lb[k].cx, lb[k].cy, lb[k].w, lb[k].h,
                        lb[k].ang);
    rc = ferror(out) ? -1 : 0;
done:
    free(L.ev);
    free(L.fixed);
    free(L.keep);
    free(L.ysnd);
    free(L.yrcv);
    free(lb);
    free(lvl);
    return rc;
}
