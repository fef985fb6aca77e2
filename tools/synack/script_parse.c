/* synack script: lexer and parser of the packetdrill script language.
 *
 * The grammar follows Google's packetdrill (parser.y) for the parts that test
 * TCP over IPv4 through portable calls; what it does not support it refuses
 * with "unsupported: ..." rather than misreading.  A statement may span
 * lines: the parser works on tokens, and every event starts with a time.
 *
 *   script  := option* [`init command`] (event | `command`)*
 *   option  := --name[=value]                  (a whole line)
 *   event   := time action
 *   time    := T | +T | * | T~T | +T~+T        (then `...T` for calls)
 *   action  := packet | call | `command` | %{ code }%
 *   packet  := (<|>) [ip_info] [port>port] flags seq:end(len)[!]
 *              [ack N[!]] [win N] [urg N] [<options> | <...>]
 *            | (<|>) [ip_info] icmp type [code] [mtu N] [[seq:end(len)[!]]]
 *   call    := name(expr, ...) = expr [ERRNO] [(note)]
 */
#include "script_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "synack/wire.h"

/* ---- allocation: every node of a script lives in its chunks ---------------- */

#define ARENA_MAX (64u << 20)
#define CHUNK_SIZE (64u << 10)
#define MAX_OPTIONS 256

struct sn_chunk {
    struct sn_chunk *next;
    size_t used, cap;
};

#define ALIGN_UP(n, a) (((n) + (a)-1) / (a) * (a))
#define CHUNK_HDR ALIGN_UP(sizeof(struct sn_chunk), _Alignof(max_align_t))

/* Zeroed memory owned by the script, or NULL past ARENA_MAX. */
static void *sc_alloc(struct sn_script *sc, size_t n)
{
    n = ALIGN_UP(n ? n : 1, _Alignof(max_align_t));
    struct sn_chunk *c = sc->chunks;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        if (n > ARENA_MAX || sc->bytes + cap > ARENA_MAX)
            return NULL;
        c = malloc(CHUNK_HDR + cap);
        if (c == NULL)
            return NULL;
        c->next = sc->chunks;
        c->used = 0;
        c->cap = cap;
        sc->chunks = c;
        sc->bytes += cap;
    }
    unsigned char *p = (unsigned char *)c + CHUNK_HDR + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void sn_script_free(struct sn_script *sc)
{
    struct sn_chunk *c = sc->chunks;
    while (c != NULL) {
        struct sn_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(sc, 0, sizeof(*sc));
}

/* ---- lexer ------------------------------------------------------------------ */

enum tk {
    TK_EOF,
    TK_INT,       /* 12, -1, 0x2 */
    TK_NUM,       /* 0.100, .1 (a time) */
    TK_WORD,
    TK_STRING,    /* "..." (p/n: the raw text between the quotes) */
    TK_BACKTICK,  /* `...` (p/n: the command) */
    TK_CODE,      /* %{ ... }% */
    TK_OPTION,    /* --name=value line (p/n: after the dashes) */
    TK_ELLIPSIS,  /* ... */
    TK_PUNCT,     /* any other single character */
    TK_BAD,       /* lexical error; p is the message */
};

struct tok {
    enum tk kind;
    int line;
    const char *p;
    size_t n;
    char c;          /* TK_PUNCT */
    bool hex;
    int64_t ival;    /* TK_INT */
    int64_t us;      /* TK_INT, TK_NUM as a time: microseconds, -1 if negative or too large */
};

struct lexer {
    const char *p, *end;
    int line;
    bool line_start;   /* only blanks so far on this line */
};

static bool is_word_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skips blanks and comments.  Returns an error message for an unterminated
 * comment, else NULL. */
static const char *skip_blanks(struct lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') {
            lx->line++;
            lx->line_start = true;
            lx->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
            lx->p += 2;
            for (;;) {
                if (lx->p + 1 >= lx->end)
                    return "unterminated /* comment";
                if (lx->p[0] == '*' && lx->p[1] == '/')
                    break;
                if (*lx->p == '\n')
                    lx->line++;
                lx->p++;
            }
            lx->p += 2;
        } else {
            break;
        }
    }
    return NULL;
}

/* Reads up to the closing `close` (which may be two characters), counting lines. */
static bool lex_until(struct lexer *lx, struct tok *t, const char *close)
{
    size_t cl = strlen(close);
    t->p = lx->p;
    while (lx->p + cl <= lx->end) {
        if (memcmp(lx->p, close, cl) == 0) {
            t->n = (size_t)(lx->p - t->p);
            lx->p += cl;
            return true;
        }
        if (*lx->p == '\n')
            lx->line++;
        lx->p++;
    }
    return false;
}

/* A decimal or hex integer, or a decimal with a fraction (a time). */
static void lex_number(struct lexer *lx, struct tok *t)
{
    const char *s = lx->p;
    bool neg = false, big = false;
    if (*s == '-') {
        neg = true;
        s++;
    }
    uint64_t v = 0;
    t->kind = TK_INT;
    if (s + 2 < lx->end && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
        isxdigit((unsigned char)s[2])) {
        t->hex = true;
        for (s += 2; s < lx->end && isxdigit((unsigned char)*s); s++) {
            unsigned d = is_digit(*s) ? (unsigned)(*s - '0')
                                      : (unsigned)(tolower((unsigned char)*s) - 'a' + 10);
            big |= v > (UINT64_MAX >> 4);
            v = v << 4 | d;
        }
        t->us = -1;
    } else {
        for (; s < lx->end && is_digit(*s); s++) {
            big |= v > (UINT64_MAX - 9) / 10;
            v = v * 10 + (unsigned)(*s - '0');
        }
        uint64_t frac = 0;
        if (s + 1 < lx->end && s[0] == '.' && is_digit(s[1])) {
            t->kind = TK_NUM;
            unsigned digits = 0;
            for (s++; s < lx->end && is_digit(*s); s++, digits++)
                if (digits < 6)
                    frac = frac * 10 + (unsigned)(*s - '0');
            for (; digits < 6; digits++)
                frac *= 10;
        }
        t->us = (neg || big || v > SN_SCRIPT_MAX_TIME_S) ? -1 : (int64_t)(v * 1000000u + frac);
    }
    if (big || v > (uint64_t)INT64_MAX)
        v = (uint64_t)INT64_MAX;   /* saturate: range checks reject it later */
    t->ival = neg ? -(int64_t)v : (int64_t)v;
    t->n = (size_t)(s - lx->p);
    lx->p = s;
}

static struct tok lex(struct lexer *lx)
{
    struct tok t;
    memset(&t, 0, sizeof(t));
    const char *msg = skip_blanks(lx);
    t.line = lx->line;
    t.p = lx->p;
    if (msg != NULL) {
        t.kind = TK_BAD;
        t.p = msg;
        return t;
    }
    if (lx->p >= lx->end) {
        t.kind = TK_EOF;
        return t;
    }
    bool at_line_start = lx->line_start;
    lx->line_start = false;
    const char *s = lx->p;
    size_t left = (size_t)(lx->end - s);
    char c = *s;

    if (at_line_start && left > 2 && s[0] == '-' && s[1] == '-' && is_word_char(s[2])) {
        t.kind = TK_OPTION;
        t.p = s + 2;
        while (lx->p < lx->end && *lx->p != '\n')
            lx->p++;
        t.n = (size_t)(lx->p - t.p);
        while (t.n > 0 && isspace((unsigned char)t.p[t.n - 1]))
            t.n--;
    } else if (is_digit(c) || ((c == '.' || c == '-') && left > 1 && is_digit(s[1]))) {
        lex_number(lx, &t);
    } else if (is_word_start(c)) {
        while (lx->p < lx->end && is_word_char(*lx->p))
            lx->p++;
        t.kind = TK_WORD;
        t.n = (size_t)(lx->p - s);
    } else if (left >= 3 && memcmp(s, "...", 3) == 0) {
        t.kind = TK_ELLIPSIS;
        lx->p += 3;
    } else if (c == '"') {
        lx->p++;
        t.kind = TK_STRING;
        t.p = lx->p;
        while (lx->p < lx->end && *lx->p != '"' && *lx->p != '\n')
            lx->p += (*lx->p == '\\' && lx->p + 1 < lx->end) ? 2 : 1;
        if (lx->p >= lx->end || *lx->p != '"') {
            t.kind = TK_BAD;
            t.p = "unterminated string";
            return t;
        }
        t.n = (size_t)(lx->p - t.p);
        lx->p++;
    } else if (c == '`') {
        lx->p++;
        t.kind = TK_BACKTICK;
        if (!lex_until(lx, &t, "`")) {
            t.kind = TK_BAD;
            t.p = "unterminated `command`";
        }
    } else if (c == '%' && left > 1 && s[1] == '{') {
        lx->p += 2;
        t.kind = TK_CODE;
        if (!lex_until(lx, &t, "}%")) {
            t.kind = TK_BAD;
            t.p = "unterminated %{ code }%";
        }
    } else {
        t.kind = TK_PUNCT;
        t.c = c;
        t.n = 1;
        lx->p++;
    }
    return t;
}

/* ---- parser helpers --------------------------------------------------------- */

struct parser {
    struct lexer lx;
    struct tok la[3];
    int nla;
    struct sn_script *sc;
    int depth;
    bool failed;
    int err_line;
    char *err;
    size_t errcap;
};

static struct tok *peek(struct parser *ps, int i)
{
    while (ps->nla <= i)
        ps->la[ps->nla++] = lex(&ps->lx);
    return &ps->la[i];
}

static struct tok next(struct parser *ps)
{
    struct tok t = *peek(ps, 0);
    memmove(&ps->la[0], &ps->la[1], sizeof(ps->la[0]) * (size_t)(ps->nla - 1));
    ps->nla--;
    return t;
}

static bool is_punct(const struct tok *t, char c)
{
    return t->kind == TK_PUNCT && t->c == c;
}

static bool is_word(const struct tok *t, const char *w)
{
    return t->kind == TK_WORD && t->n == strlen(w) && memcmp(t->p, w, t->n) == 0;
}

static int verr(struct parser *ps, int line, const char *kind, const char *fmt, va_list ap)
{
    if (!ps->failed) {
        ps->failed = true;
        ps->err_line = line;
        int n = snprintf(ps->err, ps->errcap, "%s: ", kind);
        if (n >= 0 && (size_t)n < ps->errcap)
            vsnprintf(ps->err + n, ps->errcap - (size_t)n, fmt, ap);
    }
    return -1;
}

static int perr(struct parser *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(struct parser *ps, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(ps, line, "parse error", fmt, ap);
    va_end(ap);
    return -1;
}

static int punsup(struct parser *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int punsup(struct parser *ps, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(ps, line, "unsupported", fmt, ap);
    va_end(ap);
    return -1;
}

static int oom(struct parser *ps)
{
    return perr(ps, 0, "out of memory (script too large)");
}

/* A short description of a token for messages. */
static const char *tok_desc(const struct tok *t, char buf[48])
{
    switch (t->kind) {
    case TK_EOF:
        return "end of file";
    case TK_STRING:
        return "a string";
    case TK_BACKTICK:
        return "a `command`";
    case TK_CODE:
        return "a %{ code }% block";
    case TK_OPTION:
        return "an option line";
    case TK_ELLIPSIS:
        return "'...'";
    case TK_BAD:
        return t->p;
    default:
        snprintf(buf, 48, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->p);
        return buf;
    }
}

/* Reports a lexical error (TK_BAD) or an unexpected token. */
static int unexpected(struct parser *ps, const struct tok *t, const char *wanted)
{
    char b[48];
    if (t->kind == TK_BAD)
        return perr(ps, t->line, "%s", t->p);
    return perr(ps, t->line, "expected %s, got %s", wanted, tok_desc(t, b));
}

static int expect_punct(struct parser *ps, char c)
{
    struct tok t = next(ps);
    if (is_punct(&t, c))
        return 0;
    char w[4] = {'\'', c, '\'', 0};
    return unexpected(ps, &t, w);
}

/* An integer token within [lo, hi]. */
static int expect_int(struct parser *ps, int64_t lo, int64_t hi, const char *what, int64_t *v)
{
    struct tok t = next(ps);
    if (t.kind != TK_INT)
        return unexpected(ps, &t, what);
    if (t.ival < lo || t.ival > hi)
        return perr(ps, t.line, "%s %.*s out of range %lld..%lld", what, (int)t.n, t.p,
                    (long long)lo, (long long)hi);
    *v = t.ival;
    return 0;
}

static char *tok_strdup(struct parser *ps, const char *p, size_t n)
{
    char *s = sc_alloc(ps->sc, n + 1);
    if (s != NULL)
        memcpy(s, p, n);
    return s;
}

/* An optional '!' after a number (nplab's packetdrill): the value is
 * absolute, used on the wire as written rather than mapped. */
static bool bang(struct parser *ps)
{
    if (!is_punct(peek(ps, 0), '!'))
        return false;
    next(ps);
    return true;
}

/* ---- header options --------------------------------------------------------- */

static int parse_ipv4(struct parser *ps, const struct sn_option *o, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, o->value, &a) != 1)
        return perr(ps, o->line, "--%s: '%s' is not an IPv4 address", o->name, o->value);
    *out = ntohl(a.s_addr);
    return 0;
}

static int parse_num_option(struct parser *ps, const struct sn_option *o, long lo, long hi,
                            long *out)
{
    char *end = NULL;
    long v = strtol(o->value, &end, 0);
    if (o->value[0] == '\0' || *end != '\0' || v < lo || v > hi)
        return perr(ps, o->line, "--%s: '%s' is not a number in %ld..%ld", o->name, o->value, lo,
                    hi);
    *out = v;
    return 0;
}

static int parse_option(struct parser *ps, const struct tok *t)
{
    struct sn_script *sc = ps->sc;
    if (sc->nopts == MAX_OPTIONS)
        return perr(ps, t->line, "more than %d options", MAX_OPTIONS);
    struct sn_option *o = &sc->opts[sc->nopts++];
    const char *eq = memchr(t->p, '=', t->n);
    size_t nlen = eq ? (size_t)(eq - t->p) : t->n;
    o->line = t->line;
    o->name = tok_strdup(ps, t->p, nlen);
    o->value = eq ? tok_strdup(ps, eq + 1, t->n - nlen - 1) : tok_strdup(ps, "", 0);
    if (o->name == NULL || o->value == NULL)
        return oom(ps);
    long v = 0; /* set by parse_num_option on success; gcc -O3 cannot see that */
    o->used = true;
    if (strcmp(o->name, "ip_version") == 0) {
        if (strcmp(o->value, "ipv4") != 0)
            return punsup(ps, o->line, "--ip_version=%s (synack is IPv4 only)", o->value);
    } else if (strcmp(o->name, "tolerance_usecs") == 0) {
        if (parse_num_option(ps, o, 0, 10000000, &v) < 0)
            return -1;
        sc->tolerance_us = v;
    } else if (strcmp(o->name, "local_ip") == 0) {
        return parse_ipv4(ps, o, &sc->local_ip);
    } else if (strcmp(o->name, "remote_ip") == 0) {
        return parse_ipv4(ps, o, &sc->remote_ip);
    } else if (strcmp(o->name, "mss") == 0) {
        if (parse_num_option(ps, o, 28, 65495, &v) < 0)
            return -1;
        sc->mtu = (uint16_t)(v + 40);
    } else if (strcmp(o->name, "mtu") == 0) {
        if (parse_num_option(ps, o, 68, 65535, &v) < 0)
            return -1;
        sc->mtu = (uint16_t)v;
    } else if (strcmp(o->name, "bind_port") == 0 || strcmp(o->name, "connect_port") == 0) {
        if (parse_num_option(ps, o, 1, 65535, &v) < 0)
            return -1;
        *(o->name[0] == 'b' ? &sc->bind_port : &sc->connect_port) = (uint16_t)v;
    } else if (strcmp(o->name, "max_timewait") == 0) {
        /* synack's own: the TIME-WAIT table's bound (synack_config.max_timewait). */
        if (parse_num_option(ps, o, 0, 100000000, &v) < 0)
            return -1;
        sc->max_timewait = (uint32_t)v + 1; /* 0 means "the default" */
    } else {
        o->used = false;   /* accepted and ignored; --verbose says so */
    }
    return 0;
}

/* ---- expressions ------------------------------------------------------------ */

static struct sn_expr *new_expr(struct parser *ps, enum sn_expr_kind k)
{
    struct sn_expr *e = sc_alloc(ps->sc, sizeof(*e));
    if (e == NULL)
        oom(ps);
    else
        e->kind = k;
    return e;
}

/* The string between the quotes, with \\ \" \n \t \r \0 decoded. */
static char *decode_string(struct parser *ps, const struct tok *t)
{
    char *s = sc_alloc(ps->sc, t->n + 1);
    if (s == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < t->n; i++) {
        char c = t->p[i];
        if (c == '\\' && i + 1 < t->n) {
            c = t->p[++i];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == '0' ? '\0' : c;
        }
        s[o++] = c;
    }
    return s;
}

static struct sn_expr *parse_expr(struct parser *ps);

/* Items up to `close`, separated by commas, into e->items. */
static int parse_items(struct parser *ps, struct sn_expr *e, char close)
{
    struct sn_expr *items[SN_SCRIPT_MAX_ITEMS];
    size_t n = 0;
    if (!is_punct(peek(ps, 0), close)) {
        for (;;) {
            if (n == SN_SCRIPT_MAX_ITEMS)
                return perr(ps, peek(ps, 0)->line, "more than %d items in a list",
                            SN_SCRIPT_MAX_ITEMS);
            if ((items[n++] = parse_expr(ps)) == NULL)
                return -1;
            if (!is_punct(peek(ps, 0), ','))
                break;
            next(ps);
        }
    }
    if (expect_punct(ps, close) < 0)
        return -1;
    e->nitems = n;
    e->items = sc_alloc(ps->sc, sizeof(*items) * (n ? n : 1));
    if (e->items == NULL)
        return oom(ps);
    memcpy(e->items, items, sizeof(*items) * n);
    return 0;
}

static struct sn_expr *parse_primary(struct parser *ps)
{
    struct tok t = next(ps);
    struct sn_expr *e = NULL;
    switch (t.kind) {
    case TK_ELLIPSIS:
        return new_expr(ps, SN_X_ELLIPSIS);
    case TK_INT:
        if ((e = new_expr(ps, SN_X_INT)) != NULL) {
            e->num = t.ival;
            e->hex = t.hex;
        }
        return e;
    case TK_STRING:
        if ((e = new_expr(ps, SN_X_STRING)) == NULL || (e->str = decode_string(ps, &t)) == NULL) {
            oom(ps);
            return NULL;
        }
        if (peek(ps, 0)->kind == TK_ELLIPSIS) {
            next(ps);
            e->str_ellipsis = true;
        }
        return e;
    case TK_WORD: {
        bool call = is_punct(peek(ps, 0), '(');
        bool assign = is_punct(peek(ps, 0), '=');
        e = new_expr(ps, call ? SN_X_CALL : assign ? SN_X_ASSIGN : SN_X_WORD);
        if (e == NULL || (e->str = tok_strdup(ps, t.p, t.n)) == NULL) {
            oom(ps);
            return NULL;
        }
        if (call || assign)
            next(ps);
        if (call && parse_items(ps, e, ')') < 0)
            return NULL;
        if (assign && (e->rhs = parse_expr(ps)) == NULL)
            return NULL;
        return e;
    }
    case TK_PUNCT:
        if (t.c == '[' || t.c == '{') {
            e = new_expr(ps, t.c == '[' ? SN_X_LIST : SN_X_BRACE);
            if (e == NULL || parse_items(ps, e, t.c == '[' ? ']' : '}') < 0)
                return NULL;
            return e;
        }
        break;
    default:
        break;
    }
    unexpected(ps, &t, "an expression");
    return NULL;
}

static struct sn_expr *parse_expr(struct parser *ps)
{
    if (ps->depth >= SN_SCRIPT_MAX_DEPTH) {
        perr(ps, peek(ps, 0)->line, "expression nested more than %d deep", SN_SCRIPT_MAX_DEPTH);
        return NULL;
    }
    ps->depth++;
    struct sn_expr *e = parse_primary(ps);
    while (e != NULL && is_punct(peek(ps, 0), '|')) {
        next(ps);
        struct sn_expr *rhs = parse_primary(ps);
        struct sn_expr *o = rhs ? new_expr(ps, SN_X_OR) : NULL;
        if (o != NULL) {
            o->lhs = e;
            o->rhs = rhs;
        }
        e = o;
    }
    ps->depth--;
    return e;
}

/* ---- system calls ------------------------------------------------------------ */

static int parse_call(struct parser *ps, struct sn_event *ev)
{
    struct sn_call *c = &ev->u.call;
    struct tok name = next(ps);
    struct sn_expr args;
    memset(&args, 0, sizeof(args));
    ev->kind = SN_EV_CALL;
    if ((c->name = tok_strdup(ps, name.p, name.n)) == NULL)
        return oom(ps);
    next(ps);   /* '(' */
    if (parse_items(ps, &args, ')') < 0)
        return -1;
    c->args = args.items;
    c->nargs = args.nitems;
    if (expect_punct(ps, '=') < 0)
        return -1;
    if ((c->result = parse_expr(ps)) == NULL)
        return -1;
    if (peek(ps, 0)->kind == TK_WORD) {
        struct tok e = next(ps);
        if ((c->errname = tok_strdup(ps, e.p, e.n)) == NULL)
            return oom(ps);
    }
    if (is_punct(peek(ps, 0), '(')) {   /* a note such as (Operation now in progress) */
        int line = next(ps).line, depth = 1;
        while (depth > 0) {
            struct tok t = next(ps);
            if (t.kind == TK_EOF || t.kind == TK_BAD)
                return perr(ps, line, "unterminated note after the result");
            depth += is_punct(&t, '(') - is_punct(&t, ')');
        }
    }
    return 0;
}

/* ---- packets ------------------------------------------------------------------ */

size_t sn_tcp_opts_wire_len(const struct sn_tcp_opt *o, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += o[i].len;
    return len;
}

static int parse_tcp_option(struct parser *ps, struct sn_tcp_opt *o)
{
    struct tok t = next(ps);
    int64_t v, w;
    if (t.kind != TK_WORD)
        return unexpected(ps, &t, "a TCP option");
    if (is_word(&t, "nop") || is_word(&t, "eol")) {
        o->kind = is_word(&t, "nop") ? SYNACK_TCPOPT_NOP : SYNACK_TCPOPT_EOL;
        o->len = 1;
    } else if (is_word(&t, "mss")) {
        if (expect_int(ps, 0, 65535, "MSS", &v) < 0)
            return -1;
        *o = (struct sn_tcp_opt){.kind = SYNACK_TCPOPT_MSS, .len = 4, .v1 = (uint32_t)v};
    } else if (is_word(&t, "wscale")) {
        if (expect_int(ps, 0, 255, "window scale", &v) < 0)
            return -1;
        *o = (struct sn_tcp_opt){.kind = SYNACK_TCPOPT_WSCALE, .len = 3, .v1 = (uint32_t)v};
    } else if (is_word(&t, "sackOK")) {
        *o = (struct sn_tcp_opt){.kind = SYNACK_TCPOPT_SACK_PERM, .len = 2};
    } else if (is_word(&t, "sack")) {
        o->kind = SYNACK_TCPOPT_SACK;
        do {
            if (o->nsack == 4)
                return perr(ps, t.line, "more than 4 SACK blocks");
            if (expect_int(ps, 0, UINT32_MAX, "SACK left edge", &v) < 0 ||
                expect_punct(ps, ':') < 0 ||
                expect_int(ps, 0, UINT32_MAX, "SACK right edge", &w) < 0)
                return -1;
            o->sack[o->nsack][0] = (uint32_t)v;
            o->sack[o->nsack++][1] = (uint32_t)w;
            o->abs |= bang(ps);
        } while (peek(ps, 0)->kind == TK_INT);
        o->len = (uint8_t)(2 + 8 * o->nsack);
    } else if (is_word(&t, "TS")) {
        struct tok k = next(ps);
        if (!is_word(&k, "val"))
            return unexpected(ps, &k, "'val'");
        if (expect_int(ps, 0, UINT32_MAX, "TS val", &v) < 0)
            return -1;
        k = next(ps);
        if (!is_word(&k, "ecr"))
            return unexpected(ps, &k, "'ecr'");
        if (expect_int(ps, 0, UINT32_MAX, "TS ecr", &w) < 0)
            return -1;
        *o = (struct sn_tcp_opt){.kind = SYNACK_TCPOPT_TIMESTAMP, .len = 10, .v1 = (uint32_t)v,
                                 .v2 = (uint32_t)w, .abs = bang(ps)};
    } else if (is_word(&t, "md5") || is_word(&t, "opt")) {
        /* md5: RFC 2385 (kind 19, 18 bytes): the digest as up to 32 hex
         * digits (packetdrill's hex blob; missing digits are zero).
         * opt KIND LEN HEX: any option as raw bytes, LEN its length byte
         * and size (2..18), HEX the LEN - 2 bytes after it (missing ones
         * zero): a known option at an illegal length, for instance. */
        bool raw = is_word(&t, "opt");
        if (raw) {
            if (expect_int(ps, 0, 255, "option kind", &v) < 0 ||
                expect_int(ps, 2, 18, "option length", &w) < 0)
                return -1;
            *o = (struct sn_tcp_opt){.kind = (uint8_t)v, .len = (uint8_t)w, .raw = true};
            if (w == 2)
                return 0;
        }
        struct tok h = next(ps);
        if (h.kind != TK_WORD && h.kind != TK_INT)
            return unexpected(ps, &h, raw ? "the option's bytes in hex" : "an MD5 digest in hex");
        /* "0011aabb" lexes as a number then a word: join what touches. */
        while ((peek(ps, 0)->kind == TK_WORD || peek(ps, 0)->kind == TK_INT) &&
               peek(ps, 0)->p == h.p + h.n)
            h.n += next(ps).n;
        if (!raw)
            *o = (struct sn_tcp_opt){.kind = SN_TCPOPT_MD5, .len = 18};
        size_t most = raw ? 2 * ((size_t)o->len - 2) : 32;
        if (h.n > most || h.n % 2)
            return perr(ps, h.line, "%s '%.*s': an even number of hex digits, at most %zu",
                        raw ? "option bytes" : "MD5 digest", (int)(h.n > 40 ? 40 : h.n), h.p,
                        most);
        for (size_t i = 0; i < h.n; i++) {
            if (!isxdigit((unsigned char)h.p[i]))
                return perr(ps, h.line, "%s '%.*s' is not hex",
                            raw ? "option bytes" : "MD5 digest", (int)h.n, h.p);
            unsigned d = is_digit(h.p[i]) ? (unsigned)(h.p[i] - '0')
                                          : (unsigned)(tolower((unsigned char)h.p[i]) - 'a' + 10);
            o->md5[i / 2] = (uint8_t)(o->md5[i / 2] << 4 | d);
        }
    } else if (is_word(&t, "FO") || is_word(&t, "FOEXP") || is_word(&t, "exp")) {
        return punsup(ps, t.line, "TCP option '%.*s'", (int)t.n, t.p);
    } else {
        char b[48];
        return perr(ps, t.line, "unknown TCP option %s", tok_desc(&t, b));
    }
    return 0;
}

static int parse_tcp_options(struct parser *ps, struct sn_packet *p)
{
    int line = next(ps).line;   /* '<' */
    if (peek(ps, 0)->kind == TK_ELLIPSIS) {
        next(ps);
        if (!p->outbound)
            return perr(ps, line, "<...> can only be used with outbound packets");
        p->opts_mode = SN_OPTS_ANY;
        return expect_punct(ps, '>');
    }
    struct sn_tcp_opt opts[SN_TCP_OPT_SPACE];
    size_t n = 0;
    memset(opts, 0, sizeof(opts));
    for (;;) {
        if (n == SN_TCP_OPT_SPACE)
            return perr(ps, line, "more than %d TCP options", SN_TCP_OPT_SPACE);
        if (parse_tcp_option(ps, &opts[n++]) < 0)
            return -1;
        if (!is_punct(peek(ps, 0), ','))
            break;
        next(ps);
    }
    if (expect_punct(ps, '>') < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (opts[i].raw && p->outbound)
            return perr(ps, line, "opt KIND LEN ... can only be used with inbound packets");
    size_t wire = sn_tcp_opts_wire_len(opts, n);
    if (wire > SN_TCP_OPT_SPACE)
        return perr(ps, line, "TCP options take %zu bytes, more than %d", wire, SN_TCP_OPT_SPACE);
    if (wire % 4)
        return perr(ps, line, "TCP options take %zu bytes, not a multiple of 4 (pad with nop)",
                    wire);
    p->opts_mode = SN_OPTS_LIST;
    p->nopts = (uint8_t)n;
    if ((p->opts = sc_alloc(ps->sc, sizeof(opts[0]) * n)) == NULL)
        return oom(ps);
    memcpy(p->opts, opts, sizeof(opts[0]) * n);
    return 0;
}

/* [noecn] [ect0] [ect1] [ce] [ect01], (tos 0xNN), (ttl N), or several of
 * them separated by commas, in ( ) or [ ] as packetdrill's ip_info. */
static int parse_ip_info(struct parser *ps, struct sn_packet *p)
{
    struct tok open = next(ps);
    static const struct { const char *name; uint8_t ecn; } ecn[] = {
        {"noecn", 0}, {"ect1", 1}, {"ect0", 2}, {"ce", 3},
    };
    for (;;) {
        struct tok w = next(ps);
        int64_t v;
        if (is_word(&w, "tos")) {
            if (expect_int(ps, 0, 255, "TOS", &v) < 0)
                return -1;
            p->tos_check = SN_TOS_FULL;
            p->tos = (uint8_t)v;
        } else if (is_word(&w, "ttl")) {
            if (expect_int(ps, 0, 255, "TTL", &v) < 0)
                return -1;
            p->has_ttl = true;
            p->ttl = (uint8_t)v;
        } else if (is_word(&w, "ect01")) {
            if (!p->outbound)
                return perr(ps, w.line, "[ect01] can only be used with outbound packets");
            p->tos_check = SN_TOS_ECT01;
        } else {
            size_t i = 0;
            while (i < sizeof(ecn) / sizeof(ecn[0]) && !is_word(&w, ecn[i].name))
                i++;
            if (i == sizeof(ecn) / sizeof(ecn[0])) {
                char b[48];
                return punsup(ps, w.line, "IP header spec %s", tok_desc(&w, b));
            }
            p->tos_check = SN_TOS_ECN;
            p->tos = ecn[i].ecn;
        }
        if (!is_punct(peek(ps, 0), ','))
            break;
        next(ps);
    }
    return expect_punct(ps, open.c == '(' ? ')' : ']');
}

/* start:end(length), then an optional '!'. */
static int parse_seq_range(struct parser *ps, uint32_t *seq, uint32_t *len, bool *abs)
{
    int line = peek(ps, 0)->line;
    int64_t start, end, n;
    if (expect_int(ps, 0, UINT32_MAX, "start sequence number", &start) < 0 ||
        expect_punct(ps, ':') < 0 ||
        expect_int(ps, 0, UINT32_MAX, "end sequence number", &end) < 0 ||
        expect_punct(ps, '(') < 0 || expect_int(ps, 0, 65535, "payload length", &n) < 0 ||
        expect_punct(ps, ')') < 0)
        return -1;
    if (end != start + n)
        return perr(ps, line, "inconsistent TCP sequence numbers and payload size: %lld:%lld(%lld)",
                    (long long)start, (long long)end, (long long)n);
    *seq = (uint32_t)start;
    *len = (uint32_t)n;
    *abs = bang(ps);
    return 0;
}

/* ICMPv4 names as packetdrill's icmp_packet.c spells them (RFC 792), or
 * `type_N` / `code_N`. */
static const struct { const char *name; uint8_t v; } icmp_types[] = {
    {"echo_reply", 0},         {"unreachable", 3},       {"source_quench", 4},
    {"redirect", 5},           {"echo_request", 8},      {"time_exceeded", 11},
    {"parameter_problem", 12}, {"timestamp_request", 13}, {"timestamp_reply", 14},
    {"information_request", 15}, {"information_reply", 16}, {"address_mask_request", 17},
    {"address_mask_reply", 18},
};
static const struct { const char *name; uint8_t v; } icmp_unreach_codes[] = {
    {"net_unreachable", 0},   {"host_unreachable", 1},  {"protocol_unreachable", 2},
    {"port_unreachable", 3},  {"frag_needed", 4},       {"source_route_failed", 5},
    {"net_unknown", 6},       {"host_unknown", 7},      {"source_host_isolated", 8},
    {"net_prohibited", 9},    {"host_prohibited", 10},  {"net_unreachable_for_tos", 11},
    {"host_unreachable_for_tos", 12}, {"packet_filtered", 13}, {"precedence_violation", 14},
    {"precedence_cutoff", 15},
};

/* `type_N` / `code_N`: N in 0..255, or -1. */
static int numbered(const struct tok *t, const char *prefix)
{
    size_t n = strlen(prefix);
    if (t->kind != TK_WORD || t->n <= n || t->n > n + 3 || memcmp(t->p, prefix, n) != 0)
        return -1;
    int v = 0;
    for (size_t i = n; i < t->n; i++) {
        if (!is_digit(t->p[i]))
            return -1;
        v = v * 10 + (t->p[i] - '0');
    }
    return v <= 255 ? v : -1;
}

/* packetdrill's icmp_packet_spec after `icmp`:
 *   type [code] [mtu N] [id N] [[start:end(len)]]
 * The quote names synack's segment the error is about (its sequence number
 * relative to synack's ISN, as on `>` lines); without one the quote carries
 * sequence number 0 (relative). */
static int parse_icmp(struct parser *ps, struct sn_packet *p)
{
    struct sn_icmp *ic = &p->icmp;
    p->is_icmp = true;
    struct tok t = next(ps);
    size_t i = 0;
    int num = numbered(&t, "type_");
    if (num >= 0) {
        ic->type = (uint8_t)num;
    } else {
        while (i < sizeof(icmp_types) / sizeof(icmp_types[0]) && !is_word(&t, icmp_types[i].name))
            i++;
        if (i == sizeof(icmp_types) / sizeof(icmp_types[0])) {
            char b[48];
            return perr(ps, t.line, "bad ICMP type %s", tok_desc(&t, b));
        }
        ic->type = icmp_types[i].v;
    }
    struct tok *c = peek(ps, 0);
    if (c->kind == TK_WORD && !is_word(c, "mtu") && !is_word(c, "id")) {
        struct tok ct = next(ps);
        num = numbered(&ct, "code_");
        if (num >= 0) {
            ic->code = (uint8_t)num;
        } else {
            size_t k = 0, nk = sizeof(icmp_unreach_codes) / sizeof(icmp_unreach_codes[0]);
            while (ic->type == SYNACK_ICMP_DEST_UNREACH && k < nk &&
                   !is_word(&ct, icmp_unreach_codes[k].name))
                k++;
            if (ic->type != SYNACK_ICMP_DEST_UNREACH || k == nk) {
                char b[48];
                return perr(ps, ct.line, "bad ICMP code %s", tok_desc(&ct, b));
            }
            ic->code = icmp_unreach_codes[k].v;
        }
    }
    int64_t v;
    if (is_word(peek(ps, 0), "mtu")) {
        int line = next(ps).line;
        if (expect_int(ps, 0, 65535, "ICMP MTU", &v) < 0)
            return -1;
        if (ic->type != SYNACK_ICMP_DEST_UNREACH || ic->code != SYNACK_ICMP_UNREACH_NEEDFRAG)
            return perr(ps, line, "ICMP mtu is only valid for unreachable frag_needed");
        ic->has_mtu = true;
        ic->mtu = (uint16_t)v;
    }
    if (is_word(peek(ps, 0), "id"))
        return punsup(ps, peek(ps, 0)->line, "ICMP echo id (synack's scripts test TCP)");
    if (is_punct(peek(ps, 0), '[')) {
        int line = next(ps).line;
        if (peek(ps, 0)->kind != TK_INT) {
            char b[48];
            return punsup(ps, line, "ICMP quoting %s (only a TCP segment: [start:end(len)])",
                          tok_desc(peek(ps, 0), b));
        }
        if (parse_seq_range(ps, &ic->quote_seq, &ic->quote_len, &ic->quote_abs) < 0 ||
            expect_punct(ps, ']') < 0)
            return -1;
        ic->has_quote = true;
    }
    return 0;
}

/* F S R P U E W, then '.' for ACK; '.' alone; '-' for none. */
static int parse_flags(struct parser *ps, struct sn_packet *p)
{
    static const char letters[] = "FSRPUEW";
    static const uint8_t bits[] = {SYNACK_TH_FIN, SYNACK_TH_SYN, SYNACK_TH_RST, SYNACK_TH_PSH,
                                   SYNACK_TH_URG, SYNACK_TH_ECE, SYNACK_TH_CWR};
    struct tok t = next(ps);
    if (is_punct(&t, '.')) {
        p->flags = SYNACK_TH_ACK;
        return 0;
    }
    if (is_punct(&t, '-'))
        return 0;
    if (t.kind != TK_WORD)
        return unexpected(ps, &t, "TCP flags");
    for (size_t i = 0; i < t.n; i++) {
        const char *l = memchr(letters, t.p[i], sizeof(letters) - 1);
        if (l == NULL) {
            static const char *const other[] = {"icmp", "udp", "ipv4", "ipv6", "gre", "mpls"};
            for (size_t k = 0; k < sizeof(other) / sizeof(other[0]); k++)
                if (is_word(&t, other[k]))
                    return punsup(ps, t.line, "%s packets (only TCP)", other[k]);
            return perr(ps, t.line, "bad TCP flags '%.*s'", (int)t.n, t.p);
        }
        p->flags |= bits[l - letters];
    }
    if (is_punct(peek(ps, 0), '.')) {
        next(ps);
        p->flags |= SYNACK_TH_ACK;
    }
    return 0;
}

static int parse_packet(struct parser *ps, struct sn_event *ev)
{
    struct sn_packet *p = &ev->u.pkt;
    int64_t v;
    ev->kind = SN_EV_PACKET;
    p->outbound = next(ps).c == '>';
    if (is_punct(peek(ps, 0), '[') || is_punct(peek(ps, 0), '(')) {
        if (parse_ip_info(ps, p) < 0)
            return -1;
    }
    if (is_word(peek(ps, 0), "icmp")) {
        next(ps);
        return parse_icmp(ps, p);
    }
    if (peek(ps, 0)->kind == TK_INT && is_punct(peek(ps, 1), '>')) {
        /* Port 0 only inbound: a hostile segment synack must drop. */
        int64_t lo = p->outbound ? 1 : 0;
        if (expect_int(ps, lo, 65535, "source port", &v) < 0)
            return -1;
        p->sport = (uint16_t)v;
        next(ps);
        if (expect_int(ps, lo, 65535, "destination port", &v) < 0)
            return -1;
        p->dport = (uint16_t)v;
        p->has_ports = true;
    }
    if (parse_flags(ps, p) < 0)
        return -1;
    int line = peek(ps, 0)->line;
    if (parse_seq_range(ps, &p->seq, &p->len, &p->seq_abs) < 0)
        return -1;
    for (;;) {
        struct tok *t = peek(ps, 0);
        bool *has = is_word(t, "ack") ? &p->has_ack : is_word(t, "win") ? &p->has_win
                  : is_word(t, "urg") ? &p->has_urg : NULL;
        if (has == NULL)
            break;
        if (*has)
            return perr(ps, t->line, "'%.*s' given twice", (int)t->n, t->p);
        *has = true;
        if (has == &p->has_ack) {
            next(ps);
            if (expect_int(ps, 0, UINT32_MAX, "ack number", &v) < 0)
                return -1;
            p->ack = (uint32_t)v;
            p->ack_abs = bang(ps);
        } else {
            const char *what = has == &p->has_win ? "window" : "urgent pointer";
            next(ps);
            if (expect_int(ps, 0, 65535, what, &v) < 0)
                return -1;
            *(has == &p->has_win ? &p->win : &p->urg) = (uint16_t)v;
        }
    }
    if (is_punct(peek(ps, 0), '<') && parse_tcp_options(ps, p) < 0)
        return -1;
    if (!p->outbound && !p->has_win)   /* as packetdrill: no default window */
        return perr(ps, line, "window must be specified for inbound packets");
    return 0;
}

/* ---- events ------------------------------------------------------------------- */

/* A time value after an optional '+'; `rel` says whether the '+' is required. */
static int parse_time_value(struct parser *ps, bool rel, int64_t *us)
{
    if (rel) {
        struct tok plus = next(ps);
        if (!is_punct(&plus, '+'))
            return unexpected(ps, &plus, "'+' and a relative time");
    }
    struct tok t = next(ps);
    if (t.kind != TK_INT && t.kind != TK_NUM)
        return unexpected(ps, &t, "a time");
    if (t.us < 0)
        return perr(ps, t.line, "time %.*s is negative or above %d s", (int)t.n, t.p,
                    SN_SCRIPT_MAX_TIME_S);
    *us = t.us;
    return 0;
}

static int parse_event_time(struct parser *ps, struct sn_event *ev)
{
    ev->range_end_us = -1;
    ev->block_end_us = -1;
    if (is_punct(peek(ps, 0), '*')) {
        next(ps);
        ev->time_kind = SN_TIME_ANY;
        return 0;
    }
    ev->time_kind = is_punct(peek(ps, 0), '+') ? SN_TIME_REL : SN_TIME_ABS;
    if (ev->time_kind == SN_TIME_ABS) {
        struct tok *t = peek(ps, 0);
        if (t->kind != TK_INT && t->kind != TK_NUM)
            return unexpected(ps, t, "a time at the start of an event");
    }
    if (parse_time_value(ps, ev->time_kind == SN_TIME_REL, &ev->time_us) < 0)
        return -1;
    if (is_punct(peek(ps, 0), '~')) {
        next(ps);
        if (parse_time_value(ps, ev->time_kind == SN_TIME_REL, &ev->range_end_us) < 0)
            return -1;
        if (ev->range_end_us < ev->time_us)
            return perr(ps, ev->line, "time range is backwards");
    }
    if (peek(ps, 0)->kind == TK_ELLIPSIS) {
        next(ps);
        /* The end of a blocking call is written without '+'; it shares the
         * start's base (packetdrill adds the same offset to both). */
        if (is_punct(peek(ps, 0), '+'))
            next(ps);
        if (parse_time_value(ps, false, &ev->block_end_us) < 0)
            return -1;
        if (ev->block_end_us < ev->time_us)
            return perr(ps, ev->line, "blocking call ends before it starts");
    }
    return 0;
}

static int add_event(struct parser *ps, struct sn_event *ev, size_t *cap)
{
    struct sn_script *sc = ps->sc;
    if (sc->nev == SN_SCRIPT_MAX_EVENTS)
        return perr(ps, ev->line, "more than %u events", SN_SCRIPT_MAX_EVENTS);
    if (sc->nev == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct sn_event **a = sc_alloc(sc, sizeof(*a) * ncap);
        if (a == NULL)
            return oom(ps);
        if (sc->nev)
            memcpy(a, sc->ev, sizeof(*a) * sc->nev);
        sc->ev = a;
        *cap = ncap;
    }
    sc->ev[sc->nev++] = ev;
    return 0;
}

static int parse_event(struct parser *ps, size_t *cap)
{
    struct sn_event *ev = sc_alloc(ps->sc, sizeof(*ev));
    if (ev == NULL)
        return oom(ps);
    ev->line = peek(ps, 0)->line;
    if (parse_event_time(ps, ev) < 0)
        return -1;
    struct tok *t = peek(ps, 0);
    int rc;
    if (is_punct(t, '<') || is_punct(t, '>')) {
        rc = parse_packet(ps, ev);
    } else if (t->kind == TK_BACKTICK || t->kind == TK_CODE) {
        ev->kind = t->kind == TK_BACKTICK ? SN_EV_COMMAND : SN_EV_CODE;
        rc = (ev->u.text = tok_strdup(ps, t->p, t->n)) ? 0 : oom(ps);
        next(ps);
    } else if (t->kind == TK_WORD && is_punct(peek(ps, 1), '(')) {
        rc = parse_call(ps, ev);
    } else {
        rc = unexpected(ps, t, "a packet, a system call or a `command`");
    }
    if (rc < 0)
        return -1;
    bool outbound = ev->kind == SN_EV_PACKET && ev->u.pkt.outbound;
    if (ev->time_kind == SN_TIME_ANY && !outbound)
        return perr(ps, ev->line, "event time '*' can only be used with outbound packets");
    if (ev->range_end_us >= 0 && !outbound)
        return perr(ps, ev->line, "a time range can only be used with outbound packets");
    if (ev->block_end_us >= 0 && ev->kind != SN_EV_CALL)
        return perr(ps, ev->line, "'...' end times are only for system calls");
    return add_event(ps, ev, cap);
}

int sn_script_parse(const char *text, size_t len, struct sn_script *sc, int *err_line, char *err,
                    size_t errcap)
{
    struct parser ps;
    memset(&ps, 0, sizeof(ps));
    memset(sc, 0, sizeof(*sc));
    ps.lx = (struct lexer){.p = text, .end = text + len, .line = 1, .line_start = true};
    ps.sc = sc;
    ps.err = err;
    ps.errcap = errcap;
    if (errcap)
        err[0] = '\0';
    sc->tolerance_us = 4000;
    sc->local_ip = 0xc0a80001;    /* 192.168.0.1, packetdrill's defaults */
    sc->remote_ip = 0xc0000201;   /* 192.0.2.1 */
    sc->bind_port = 8080;
    sc->connect_port = 8080;

    size_t cap = 0;
    if (len > SN_SCRIPT_MAX_BYTES)
        perr(&ps, 0, "script larger than %u bytes", SN_SCRIPT_MAX_BYTES);
    else if (memchr(text, '\0', len) != NULL)
        perr(&ps, 0, "script contains a NUL byte");
    else if ((sc->opts = sc_alloc(sc, sizeof(*sc->opts) * MAX_OPTIONS)) == NULL)
        oom(&ps);
    while (!ps.failed) {
        struct tok *t = peek(&ps, 0);
        if (t->kind == TK_EOF)
            break;
        if (t->kind == TK_OPTION) {
            if (sc->nev > 0) {
                perr(&ps, t->line, "option after the first event");
                break;
            }
            struct tok o = next(&ps);
            parse_option(&ps, &o);
        } else if (t->kind == TK_BACKTICK) {
            /* packetdrill's init command: a `command` before any event, no
             * time; third-party scripts also write one later without a
             * time: it happens when the previous event ended (+0). */
            struct sn_event *ev = sc_alloc(sc, sizeof(*ev));
            if (ev == NULL) {
                oom(&ps);
                break;
            }
            *ev = (struct sn_event){.line = t->line, .time_kind = SN_TIME_REL, .range_end_us = -1,
                                    .block_end_us = -1, .kind = SN_EV_COMMAND};
            if ((ev->u.text = tok_strdup(&ps, t->p, t->n)) == NULL) {
                oom(&ps);
                break;
            }
            next(&ps);
            add_event(&ps, ev, &cap);
        } else {
            parse_event(&ps, &cap);
        }
    }
    if (!ps.failed && sc->nev == 0)
        perr(&ps, ps.lx.line, "the script has no events");
    if (ps.failed) {
        *err_line = ps.err_line;
        sn_script_free(sc);
        return -1;
    }
    return 0;
}

/* ---- rendering -------------------------------------------------------------------- */

/* Appends to buf (NUL-terminated, never past cap). */
static void app(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void app(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strnlen(buf, cap);
    if (n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

static void render_expr(const struct sn_expr *e, char *buf, size_t cap)
{
    switch (e->kind) {
    case SN_X_ELLIPSIS:
        app(buf, cap, "...");
        break;
    case SN_X_INT:
        if (e->hex)
            app(buf, cap, "%#llx", (unsigned long long)e->num);
        else
            app(buf, cap, "%lld", (long long)e->num);
        break;
    case SN_X_WORD:
        app(buf, cap, "%s", e->str);
        break;
    case SN_X_STRING:
        app(buf, cap, "\"%s\"%s", e->str, e->str_ellipsis ? "..." : "");
        break;
    case SN_X_OR:
        render_expr(e->lhs, buf, cap);
        app(buf, cap, "|");
        render_expr(e->rhs, buf, cap);
        break;
    case SN_X_ASSIGN:
        app(buf, cap, "%s=", e->str);
        render_expr(e->rhs, buf, cap);
        break;
    case SN_X_LIST:
    case SN_X_BRACE:
    case SN_X_CALL:
        app(buf, cap, "%s%s", e->kind == SN_X_CALL ? e->str : "",
            e->kind == SN_X_LIST ? "[" : e->kind == SN_X_BRACE ? "{" : "(");
        for (size_t i = 0; i < e->nitems; i++) {
            if (i)
                app(buf, cap, ", ");
            render_expr(e->items[i], buf, cap);
        }
        app(buf, cap, "%s", e->kind == SN_X_LIST ? "]" : e->kind == SN_X_BRACE ? "}" : ")");
        break;
    }
}

void sn_expr_render(const struct sn_expr *e, char *buf, size_t cap)
{
    if (cap == 0)
        return;
    buf[0] = '\0';
    render_expr(e, buf, cap);
}

static void render_opt(const struct sn_tcp_opt *o, char *buf, size_t cap)
{
    if (o->raw) {
        app(buf, cap, "opt %u %u%s", (unsigned)o->kind, (unsigned)o->len, o->len > 2 ? " " : "");
        for (unsigned i = 0; i + 2 < o->len; i++)
            app(buf, cap, "%02x", o->md5[i]);
        return;
    }
    switch (o->kind) {
    case SYNACK_TCPOPT_EOL:
        app(buf, cap, "eol");
        break;
    case SYNACK_TCPOPT_NOP:
        app(buf, cap, "nop");
        break;
    case SYNACK_TCPOPT_MSS:
        app(buf, cap, "mss %u", (unsigned)o->v1);
        break;
    case SYNACK_TCPOPT_WSCALE:
        app(buf, cap, "wscale %u", (unsigned)o->v1);
        break;
    case SYNACK_TCPOPT_SACK_PERM:
        app(buf, cap, "sackOK");
        break;
    case SYNACK_TCPOPT_TIMESTAMP:
        app(buf, cap, "TS val %u ecr %u%s", (unsigned)o->v1, (unsigned)o->v2, o->abs ? "!" : "");
        break;
    case SYNACK_TCPOPT_SACK:
        app(buf, cap, "sack");
        for (unsigned i = 0; i < o->nsack; i++)
            app(buf, cap, " %u:%u%s", (unsigned)o->sack[i][0], (unsigned)o->sack[i][1],
                o->abs ? "!" : "");
        break;
    case SN_TCPOPT_MD5:
        app(buf, cap, "md5 ");
        for (unsigned i = 0; i < sizeof(o->md5); i++)
            app(buf, cap, "%02x", o->md5[i]);
        break;
    default:
        app(buf, cap, "kind %u len %u", o->kind, o->len);
        break;
    }
}

static void render_icmp(const struct sn_icmp *ic, char *buf, size_t cap)
{
    const char *type = NULL, *code = NULL;
    for (size_t i = 0; i < sizeof(icmp_types) / sizeof(icmp_types[0]); i++)
        if (icmp_types[i].v == ic->type)
            type = icmp_types[i].name;
    for (size_t i = 0; ic->type == SYNACK_ICMP_DEST_UNREACH &&
                       i < sizeof(icmp_unreach_codes) / sizeof(icmp_unreach_codes[0]); i++)
        if (icmp_unreach_codes[i].v == ic->code)
            code = icmp_unreach_codes[i].name;
    if (type)
        app(buf, cap, "icmp %s", type);
    else
        app(buf, cap, "icmp type_%u", ic->type);
    if (code)
        app(buf, cap, " %s", code);
    else if (ic->code)
        app(buf, cap, " code_%u", ic->code);
    if (ic->has_mtu)
        app(buf, cap, " mtu %u", ic->mtu);
    if (ic->has_quote)
        app(buf, cap, " [%u:%u(%u)%s]", (unsigned)ic->quote_seq,
            (unsigned)(ic->quote_seq + ic->quote_len), (unsigned)ic->quote_len,
            ic->quote_abs ? "!" : "");
}

void sn_packet_render(const struct sn_packet *p, char *buf, size_t cap)
{
    static const char letters[] = "FSRPUEW";
    static const uint8_t bits[] = {SYNACK_TH_FIN, SYNACK_TH_SYN, SYNACK_TH_RST, SYNACK_TH_PSH,
                                   SYNACK_TH_URG, SYNACK_TH_ECE, SYNACK_TH_CWR};
    static const char *const ecn[] = {"noecn", "ect1", "ect0", "ce"};
    if (cap == 0)
        return;
    buf[0] = '\0';
    app(buf, cap, "%c ", p->outbound ? '>' : '<');
    if (p->has_ttl)
        app(buf, cap, "(ttl %u) ", p->ttl);
    if (p->tos_check == SN_TOS_ECN)
        app(buf, cap, "[%s] ", ecn[p->tos & 3]);
    else if (p->tos_check == SN_TOS_ECT01)
        app(buf, cap, "[ect01] ");
    else if (p->tos_check == SN_TOS_FULL)
        app(buf, cap, "(tos 0x%02x) ", p->tos);
    if (p->is_icmp) {
        render_icmp(&p->icmp, buf, cap);
        return;
    }
    if (p->has_ports)
        app(buf, cap, "%u>%u ", p->sport, p->dport);
    char flags[10];
    size_t nf = 0;
    for (size_t i = 0; i < sizeof(bits); i++)
        if (p->flags & bits[i])
            flags[nf++] = letters[i];
    if (p->flags & SYNACK_TH_ACK)
        flags[nf++] = '.';
    if (nf == 0)
        flags[nf++] = '-';
    flags[nf] = '\0';
    app(buf, cap, "%s %u:%u(%u)%s", flags, (unsigned)p->seq, (unsigned)(p->seq + p->len),
        (unsigned)p->len, p->seq_abs ? "!" : "");
    if (p->has_ack)
        app(buf, cap, " ack %u%s", (unsigned)p->ack, p->ack_abs ? "!" : "");
    if (p->has_win)
        app(buf, cap, " win %u", p->win);
    if (p->has_urg)
        app(buf, cap, " urg %u", p->urg);
    if (p->opts_mode == SN_OPTS_ANY) {
        app(buf, cap, " <...>");
    } else if (p->opts_mode == SN_OPTS_LIST) {
        app(buf, cap, " <");
        for (size_t i = 0; i < p->nopts; i++) {
            if (i)
                app(buf, cap, ",");
            render_opt(&p->opts[i], buf, cap);
        }
        app(buf, cap, ">");
    }
}
