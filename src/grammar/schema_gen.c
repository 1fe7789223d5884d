/*
** schema_gen.c -- the grammar of each JSON type under a view's keywords
** (schema.h): whitespace and separators, any value, strings (length,
** pattern, format), integers and numbers (exact decimal ranges, multipleOf),
** objects (properties in schema order, required, additional and pattern
** properties, dependencies) and arrays (prefix items, rest, counts).
**
** Where a keyword combination has no exact grammar here it is refused,
** never loosened; a few cases are tightened instead (a stricter grammar
** accepts a subset): non-integer numeric bounds round inwards, bounded
** numbers take no exponent, numbers past 10^17 are out of bounded ranges.
*/
#include "grammar/schema.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHAIN 100000         /* rules in a counted chain (maxLength, maxItems) */
#define BIG 100000000000000000LL /* 1e17: bounded numbers stay inside +-BIG */

static void alt1(lx_gram *g, int r, int32_t e) {
    lx_seq s = {0};
    lx_seq_push(&s, e);
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
}

static int32_t digit(lx_gram *g) { return lx_gram_range(g, '0', '9'); }

/* ==== Whitespace, separators, any value ==== */

int lx_sc_ws(sc *c) {
    if (c->r_ws >= 0) return c->r_ws;
    if (c->ws_max == 0 || c->spaced) {
        c->r_ws = lx_gram_empty(c->g);
        return c->r_ws;
    }
    lx_bset b = {{0, 0, 0, 0}};
    lx_bset_add(&b, ' ');
    lx_bset_add(&b, '\t');
    lx_bset_add(&b, '\n');
    lx_bset_add(&b, '\r');
    int x = lx_gram_rule(c->g, "wschar");
    alt1(c->g, x, lx_gram_set(c->g, &b));
    c->r_ws = lx_gram_repeat(c->g, x, 0, c->ws_max);
    return c->r_ws;
}

/* Pushes optional whitespace (nothing in compact modes). */
static void ws(sc *c, lx_seq *s) {
    if (c->ws_max > 0 && !c->spaced) lx_seq_push(s, lx_gram_call(lx_sc_ws(c)));
}

static void sep(sc *c, lx_seq *s, char ch) {
    ws(c, s);
    lx_seq_push(s, lx_gram_byte(c->g, (unsigned char)ch));
    if (c->spaced)
        lx_seq_push(s, lx_gram_byte(c->g, ' '));
    else
        ws(c, s);
}

/* One JSON string character (raw or escaped); nosur: no \uD800-\uDFFF. */
static int jchar(sc *c, int nosur) {
    lx_gram *g = c->g;
    int r = lx_gram_rule(g, "jchar");
    lx_cps raw = {0};
    lx_cps_add(&raw, 0x20, 0x21);
    lx_cps_add(&raw, 0x23, 0x5B);
    lx_cps_add(&raw, 0x5D, 0x10FFFF);
    int cr = lx_gram_cps(g, &raw);
    lx_cps_free(&raw);
    lx_seq s = {0};
    /* the character rule's alternatives, inlined */
    for (int a = g->rule_first[cr]; a >= 0; a = g->alt_next[a]) {
        s.n = 0;
        for (int i = g->alt_start[a]; LX_EL_KIND(g->el[i]) != LX_EL_END; i++)
            lx_seq_push(&s, g->el[i]);
        lx_gram_alt(g, r, &s);
    }
    s.n = 0;
    lx_seq_push(&s, lx_gram_byte(g, '\\'));
    lx_bset e = {{0, 0, 0, 0}};
    for (const char *p = "\"\\/bfnrt"; *p; p++) lx_bset_add(&e, (unsigned char)*p);
    lx_seq_push(&s, lx_gram_set(g, &e));
    lx_gram_alt(g, r, &s);
    lx_bset hex = {{0, 0, 0, 0}};
    lx_bset_range(&hex, '0', '9');
    lx_bset_range(&hex, 'a', 'f');
    lx_bset_range(&hex, 'A', 'F');
    int32_t h = lx_gram_set(g, &hex);
    if (!nosur) {
        s.n = 0;
        lx_gram_lit(g, &s, "\\u", 2);
        for (int k = 0; k < 4; k++) lx_seq_push(&s, h);
        lx_gram_alt(g, r, &s);
    } else {
        lx_bset h1 = hex;
        h1.w[1] &= ~((1ull << ('d' - 64)) | (1ull << ('D' - 64)));
        s.n = 0;
        lx_gram_lit(g, &s, "\\u", 2);
        lx_seq_push(&s, lx_gram_set(g, &h1));
        for (int k = 0; k < 3; k++) lx_seq_push(&s, h);
        lx_gram_alt(g, r, &s);
        s.n = 0;
        lx_gram_lit(g, &s, "\\u", 2);
        lx_bset d = {{0, 0, 0, 0}};
        lx_bset_add(&d, 'd');
        lx_bset_add(&d, 'D');
        lx_seq_push(&s, lx_gram_set(g, &d));
        lx_seq_push(&s, lx_gram_range(g, '0', '7'));
        lx_seq_push(&s, h);
        lx_seq_push(&s, h);
        lx_gram_alt(g, r, &s);
    }
    lx_seq_free(&s);
    return r;
}

/* star ::= <each alternative of x> star | "" (no frame per character). */
static int star_inline(lx_gram *g, int x) {
    int r = lx_gram_rule(g, "star");
    lx_seq s = {0};
    for (int a = g->rule_first[x]; a >= 0; a = g->alt_next[a]) {
        s.n = 0;
        for (int i = g->alt_start[a]; LX_EL_KIND(g->el[i]) != LX_EL_END; i++)
            lx_seq_push(&s, g->el[i]);
        lx_seq_push(&s, lx_gram_call(r));
        lx_gram_alt(g, r, &s);
    }
    s.n = 0;
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
    return r;
}

static int plain_string(sc *c) {
    if (c->r_str >= 0) return c->r_str;
    int st = star_inline(c->g, jchar(c, 0));
    int r = lx_gram_rule(c->g, "string");
    lx_seq s = {0};
    lx_seq_push(&s, lx_gram_byte(c->g, '"'));
    lx_seq_push(&s, lx_gram_call(st));
    lx_seq_push(&s, lx_gram_byte(c->g, '"'));
    lx_gram_alt(c->g, r, &s);
    lx_seq_free(&s);
    c->r_str = r;
    return r;
}

/* The JSON number grammar (any number), shared. */
static int any_number(sc *c) {
    if (c->r_num >= 0) return c->r_num;
    lx_gram *g = c->g;
    int dstar = lx_gram_rule(g, "digits");
    lx_seq s = {0};
    lx_seq_push(&s, digit(g));
    lx_seq_push(&s, lx_gram_call(dstar));
    lx_gram_alt(g, dstar, &s);
    s.n = 0;
    lx_gram_alt(g, dstar, &s);
    int intpart = lx_gram_rule(g, "int");
    alt1(g, intpart, lx_gram_byte(g, '0'));
    s.n = 0;
    lx_seq_push(&s, lx_gram_range(g, '1', '9'));
    lx_seq_push(&s, lx_gram_call(dstar));
    lx_gram_alt(g, intpart, &s);
    int frac = lx_gram_rule(g, "frac");
    s.n = 0;
    lx_gram_alt(g, frac, &s);
    lx_seq_push(&s, lx_gram_byte(g, '.'));
    lx_seq_push(&s, digit(g));
    lx_seq_push(&s, lx_gram_call(dstar));
    lx_gram_alt(g, frac, &s);
    int ex = lx_gram_rule(g, "exp");
    s.n = 0;
    lx_gram_alt(g, ex, &s);
    lx_bset e = {{0, 0, 0, 0}};
    lx_bset_add(&e, 'e');
    lx_bset_add(&e, 'E');
    lx_seq_push(&s, lx_gram_set(g, &e));
    int sign = lx_gram_rule(g, "sign");
    alt1(g, sign, lx_gram_byte(g, '+'));
    alt1(g, sign, lx_gram_byte(g, '-'));
    lx_seq empty = {0};
    lx_gram_alt(g, sign, &empty);
    lx_seq_push(&s, lx_gram_call(sign));
    lx_seq_push(&s, digit(g));
    lx_seq_push(&s, lx_gram_call(dstar));
    lx_gram_alt(g, ex, &s);
    int minus = lx_gram_rule(g, "minus");
    alt1(g, minus, lx_gram_byte(g, '-'));
    lx_gram_alt(g, minus, &empty);
    int r = lx_gram_rule(g, "number");
    s.n = 0;
    lx_seq_push(&s, lx_gram_call(minus));
    lx_seq_push(&s, lx_gram_call(intpart));
    lx_seq_push(&s, lx_gram_call(frac));
    lx_seq_push(&s, lx_gram_call(ex));
    lx_gram_alt(g, r, &s);
    /* integers alone, for "integer" without bounds */
    int ri = lx_gram_rule(g, "integer");
    s.n = 0;
    lx_seq_push(&s, lx_gram_call(minus));
    lx_seq_push(&s, lx_gram_call(intpart));
    lx_gram_alt(g, ri, &s);
    lx_seq_free(&s);
    c->r_num = r;
    c->r_int = ri;
    return r;
}

/* Appends "[" ws (item (sep item)*)? ws "]"-style containers of x. */
static int list_of(sc *c, char open, char close, int item) {
    lx_gram *g = c->g;
    int more = lx_gram_rule(g, "more");
    lx_seq s = {0};
    sep(c, &s, ',');
    lx_seq_push(&s, lx_gram_call(item));
    lx_seq_push(&s, lx_gram_call(more));
    lx_gram_alt(g, more, &s);
    s.n = 0;
    lx_gram_alt(g, more, &s);
    int body = lx_gram_rule(g, "items");
    lx_seq_push(&s, lx_gram_call(item));
    lx_seq_push(&s, lx_gram_call(more));
    lx_gram_alt(g, body, &s);
    s.n = 0;
    lx_gram_alt(g, body, &s);
    int r = lx_gram_rule(g, "list");
    lx_seq_push(&s, lx_gram_byte(g, (unsigned char)open));
    ws(c, &s);
    lx_seq_push(&s, lx_gram_call(body));
    ws(c, &s);
    lx_seq_push(&s, lx_gram_byte(g, (unsigned char)close));
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
    return r;
}

int lx_sc_any(sc *c) {
    if (c->r_any >= 0) return c->r_any;
    lx_gram *g = c->g;
    int r = lx_gram_rule(g, "any");
    c->r_any = r;
    int member = lx_gram_rule(g, "member");
    lx_seq s = {0};
    lx_seq_push(&s, lx_gram_call(plain_string(c)));
    sep(c, &s, ':');
    lx_seq_push(&s, lx_gram_call(r));
    lx_gram_alt(g, member, &s);
    lx_seq_free(&s);
    alt1(g, r, lx_gram_call(list_of(c, '{', '}', member)));
    alt1(g, r, lx_gram_call(list_of(c, '[', ']', r)));
    alt1(g, r, lx_gram_call(plain_string(c)));
    alt1(g, r, lx_gram_call(any_number(c)));
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        lx_seq t = {0};
        lx_gram_lit(g, &t, lits[i], strlen(lits[i]));
        lx_gram_alt(g, r, &t);
        lx_seq_free(&t);
    }
    return r;
}

/* ==== Literal values ==== */

static void dump_str(lx_jbuf *b, const char *s, size_t n) {
    lx_jbuf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"': lx_jbuf_puts(b, "\\\""); break;
        case '\\': lx_jbuf_puts(b, "\\\\"); break;
        case '\n': lx_jbuf_puts(b, "\\n"); break;
        case '\r': lx_jbuf_puts(b, "\\r"); break;
        case '\t': lx_jbuf_puts(b, "\\t"); break;
        case '\b': lx_jbuf_puts(b, "\\b"); break;
        case '\f': lx_jbuf_puts(b, "\\f"); break;
        default:
            if (ch < 0x20)
                lx_jbuf_printf(b, "\\u%04x", ch);
            else
                lx_jbuf_putc(b, (char)ch);
        }
    }
    lx_jbuf_putc(b, '"');
}

void lx_sc_dump(sc *c, lx_jbuf *b, const lx_json *j) {
    const char *isep = c->ws_max == 0 && !c->spaced ? "," : ", ";
    const char *ksep = c->ws_max == 0 && !c->spaced ? ":" : ": ";
    switch (j->type) {
    case LX_JSON_NULL: lx_jbuf_puts(b, "null"); break;
    case LX_JSON_BOOL: lx_jbuf_puts(b, j->b ? "true" : "false"); break;
    case LX_JSON_NUMBER: lx_jbuf_add(b, j->str, j->len); break;
    case LX_JSON_STRING: dump_str(b, j->str, j->len); break;
    case LX_JSON_ARRAY:
        lx_jbuf_putc(b, '[');
        for (int i = 0; i < j->n; i++) {
            if (i) lx_jbuf_puts(b, isep);
            lx_sc_dump(c, b, j->items[i]);
        }
        lx_jbuf_putc(b, ']');
        break;
    case LX_JSON_OBJECT:
        lx_jbuf_putc(b, '{');
        for (int i = 0; i < j->n; i++) {
            if (i) lx_jbuf_puts(b, isep);
            dump_str(b, j->keys[i], j->key_lens[i]);
            lx_jbuf_puts(b, ksep);
            lx_sc_dump(c, b, j->items[i]);
        }
        lx_jbuf_putc(b, '}');
        break;
    }
}

/* ==== Reading keywords across a view ==== */

/* The largest (want_max = 0) or smallest non-negative integer keyword k;
** def when absent.  Errors on a malformed value. */
static long long count_kw(sc *c, const sc_view *v, const char *k, int want_min, long long def) {
    long long out = def;
    for (int i = 0; i < v->n; i++) {
        const lx_json *x = lx_sc_get(v, i, k);
        if (!x) continue;
        if (x->type != LX_JSON_NUMBER || x->num < 0 || x->num != floor(x->num)) {
            lx_sc_error(c, LEXIE_E_INVALID, v->ptr[i], "%s must be a non-negative integer", k);
            return def;
        }
        long long n = x->num > 1e15 ? (long long)1e15 : (long long)x->num;
        if (out < 0 || (want_min ? n < out : n > out)) out = n;
    }
    return out;
}

/* The one value of string keyword k across the view (NULL: none); two
** different values are refused. */
static const lx_json *single_kw(sc *c, const sc_view *v, const char *k, const char **ptr) {
    const lx_json *out = NULL;
    for (int i = 0; i < v->n; i++) {
        const lx_json *x = lx_sc_get(v, i, k);
        if (!x) continue;
        if (x->type != LX_JSON_STRING) {
            lx_sc_error(c, LEXIE_E_INVALID, v->ptr[i], "%s must be a string", k);
            return NULL;
        }
        if (out && strcmp(out->str, x->str)) {
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[i],
                        "unsupported keyword '%s' (two different "
                        "values combined)",
                        k);
            return NULL;
        }
        out = x;
        *ptr = v->ptr[i];
    }
    return out;
}

/* ==== Strings ==== */

/* Dates check the days of each month and leap years; seconds stop at 59
** (a leap second is refused: stricter). */
#define RE_DATE                                                                                    \
    "(\\d{4}-((0[13578]|1[02])-(0[1-9]|[12]\\d|3[01])|(0[469]|11)-(0[1-9]|[12]\\d|30)|02-(0[1-9]|" \
    "1\\d|2[0-8]))|(\\d\\d(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)"
#define RE_TIME "([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d+)?([Zz]|[+-]([01]\\d|2[0-3]):[0-5]\\d)"

static const struct {
    const char *name, *re;
} FORMATS[] = {
    {"date", "^" RE_DATE "$"},
    {"time", "^" RE_TIME "$"},
    {"date-time", "^" RE_DATE "[Tt]" RE_TIME "$"},
    {"email", "^[A-Za-z0-9.!#$%&'*+=?^_`{|}~/-]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-"
              "z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"},
    {"uri", "^[A-Za-z][A-Za-z0-9+.-]*:[^\\s<>\"{}|\\\\^`]*$"},
    {"uuid", "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
    {"ipv4",
     "^(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}$"},
    /* labels of at most 62 characters, at most 4 labels: never over 253 */
    {"hostname", "^[A-Za-z0-9]([A-Za-z0-9-]{0,60}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,60}[A-"
                 "Za-z0-9])?){0,3}$"},
};

/* Formats JSON Schema defines that lexie does not implement (refused);
** any other format name is outside the vocabulary and ignored. */
static const char *const FORMATS_REFUSED[] = {
    "duration", "idn-email",     "idn-hostname", "ipv6",         "uri-reference",
    "iri",      "iri-reference", "uri-template", "json-pointer", "relative-json-pointer",
    "regex"};

static void gen_string(sc *c, int r, const sc_view *v) {
    lx_gram *g = c->g;
    long long lo = count_kw(c, v, "minLength", 0, 0);
    long long hi = count_kw(c, v, "maxLength", 1, -1);
    const char *pptr = "", *fptr = "";
    const lx_json *pat = single_kw(c, v, "pattern", &pptr);
    const lx_json *fmt = single_kw(c, v, "format", &fptr);
    if (c->failed) return;
    if (hi >= 0 && lo > hi) return; /* unsatisfiable: no strings */
    const char *re = NULL;
    if (fmt) {
        for (size_t k = 0; k < LX_ARRAY_LEN(FORMATS_REFUSED); k++)
            if (!strcmp(fmt->str, FORMATS_REFUSED[k])) {
                lx_sc_error(c, LEXIE_E_UNSUPPORTED, fptr, "unsupported format '%s'", fmt->str);
                return;
            }
        for (size_t k = 0; k < LX_ARRAY_LEN(FORMATS); k++)
            if (!strcmp(fmt->str, FORMATS[k].name)) re = FORMATS[k].re;
        if (re && pat) {
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, pptr,
                        "unsupported keyword 'pattern' (with format)");
            return;
        }
    }
    int body = -1;
    if (pat || re) {
        int pmin, pmax;
        lexie_error e2;
        const char *src = pat ? pat->str : re;
        body = lx_regex_compile(g, src, pat ? pat->len : strlen(src), &pmin, &pmax, &e2);
        if (body < 0) {
            lx_sc_error(c, e2.code, pat ? pptr : fptr, "%s", e2.message);
            return;
        }
        /* length bounds must be implied by the pattern: no intersection */
        if (pmin < lo || (hi >= 0 && (pmax < 0 || pmax > hi))) {
            if (pmax >= 0 && pmax < lo) return;
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, pat ? pptr : fptr,
                        "unsupported keyword '%s' with minLength/maxLength",
                        pat ? "pattern" : "format");
            return;
        }
    } else if (lo == 0 && hi < 0) {
        alt1(g, r, lx_gram_call(plain_string(c)));
        return;
    } else {
        if (lo > MAX_CHAIN || hi > MAX_CHAIN) {
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[0], "string length bound over %d",
                        MAX_CHAIN);
            return;
        }
        body = lx_gram_repeat(g, jchar(c, 1), (int)lo, (int)hi);
    }
    lx_seq s = {0};
    lx_seq_push(&s, lx_gram_byte(g, '"'));
    lx_seq_push(&s, lx_gram_call(body));
    lx_seq_push(&s, lx_gram_byte(g, '"'));
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
}

/* ==== Integer ranges ==== */

/* Alternatives of r: prefix + the decimal digits (no leading zero) of
** every integer in [a, b] with a, b of the same length L. */
static void same_len(lx_gram *g, int r, lx_seq *pre, const char *A, const char *B, int L, int i) {
    int n0 = pre->n;
    while (i < L && A[i] == B[i]) lx_seq_push(pre, lx_gram_byte(g, (unsigned char)A[i++]));
    if (i == L) {
        lx_gram_alt(g, r, pre);
        pre->n = n0;
        return;
    }
    int tz = 1, tn = 1;
    for (int k = i + 1; k < L; k++) {
        tz &= A[k] == '0';
        tn &= B[k] == '9';
    }
    if (tz && tn) {
        lx_seq_push(pre, lx_gram_range(g, (unsigned char)A[i], (unsigned char)B[i]));
        for (int k = i + 1; k < L; k++) lx_seq_push(pre, digit(g));
        lx_gram_alt(g, r, pre);
        pre->n = n0;
        return;
    }
    char hi[24], lo[24];
    memcpy(hi, A, (size_t)L);
    memcpy(lo, B, (size_t)L);
    for (int k = i + 1; k < L; k++) {
        hi[k] = '9';
        lo[k] = '0';
    }
    int m = pre->n;
    lx_seq_push(pre, lx_gram_byte(g, (unsigned char)A[i]));
    same_len(g, r, pre, A, hi, L, i + 1);
    pre->n = m;
    if (A[i] + 1 <= B[i] - 1) {
        lx_seq_push(pre, lx_gram_range(g, (unsigned char)(A[i] + 1), (unsigned char)(B[i] - 1)));
        for (int k = i + 1; k < L; k++) lx_seq_push(pre, digit(g));
        lx_gram_alt(g, r, pre);
        pre->n = m;
    }
    lx_seq_push(pre, lx_gram_byte(g, (unsigned char)B[i]));
    same_len(g, r, pre, lo, B, L, i + 1);
    pre->n = n0;
}

static int ndigits(long long x) {
    int n = 1;
    while (x >= 10) {
        x /= 10;
        n++;
    }
    return n;
}

static long long pow10ll(int n) {
    long long p = 1;
    for (int i = 0; i < n && p <= LLONG_MAX / 10; i++) p *= 10;
    return p;
}

/* Alternatives of r: prefix + every integer in [a, b] (0 <= a; b < 0:
** unbounded), as JSON writes it (no leading zeros). */
static void int_range(lx_gram *g, int r, lx_seq *pre, long long a, long long b) {
    if (a < 0 || (b >= 0 && a > b)) return;
    int la = ndigits(a), lb = b < 0 ? la : ndigits(b);
    for (int L = la; L <= lb; L++) {
        long long lo = L == 1 ? 0 : pow10ll(L - 1);
        long long hi = L >= 19 ? LLONG_MAX : pow10ll(L) - 1;
        long long x = LX_MAX(a, lo), y = b < 0 ? hi : LX_MIN(b, hi);
        if (x > y) continue;
        char A[24], B[24];
        snprintf(A, sizeof A, "%lld", x);
        snprintf(B, sizeof B, "%lld", y);
        same_len(g, r, pre, A, B, L, 0);
    }
    if (b < 0 && la < 19) { /* every number longer than la digits */
        int n0 = pre->n;
        lx_seq_push(pre, lx_gram_range(g, '1', '9'));
        for (int k = 0; k < la; k++) lx_seq_push(pre, digit(g));
        int st = lx_gram_rule(g, "digits");
        lx_seq t = {0};
        lx_seq_push(&t, digit(g));
        lx_seq_push(&t, lx_gram_call(st));
        lx_gram_alt(g, st, &t);
        t.n = 0;
        lx_gram_alt(g, st, &t);
        lx_seq_free(&t);
        lx_seq_push(pre, lx_gram_call(st));
        lx_gram_alt(g, r, pre);
        pre->n = n0;
    }
}

/* Integers in [lo, hi] (LLONG_MIN / LLONG_MAX: unbounded). */
static void int_alts(lx_gram *g, int r, long long lo, long long hi, int32_t suffix_rule) {
    lx_seq pre = {0};
    int t = lx_gram_rule(g, "irange");
    if (hi >= 0) int_range(g, t, &pre, LX_MAX(lo, 0), hi == LLONG_MAX ? -1 : hi);
    if (lo < 0) {
        lx_seq_push(&pre, lx_gram_byte(g, '-'));
        long long a = hi >= 0 ? 1 : -hi;
        long long b = lo == LLONG_MIN ? -1 : -lo;
        int_range(g, t, &pre, a, b);
    }
    lx_seq_free(&pre);
    lx_seq s = {0};
    lx_seq_push(&s, lx_gram_call(t));
    if (suffix_rule >= 0) lx_seq_push(&s, lx_gram_call(suffix_rule));
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
}

/* ==== Numbers ==== */

typedef struct bound {
    int has;
    double v;
    int excl;
} bound;

/* The tightest lower (upper = 0) or upper bound across the view. */
static bound get_bound(sc *c, const sc_view *v, int upper) {
    bound b = {0, 0, 0};
    const char *kin = upper ? "maximum" : "minimum";
    const char *kex = upper ? "exclusiveMaximum" : "exclusiveMinimum";
    for (int i = 0; i < v->n; i++) {
        const lx_json *in = lx_sc_get(v, i, kin), *ex = lx_sc_get(v, i, kex);
        bound cand[2];
        int nc = 0;
        if (in && in->type == LX_JSON_NUMBER)
            cand[nc++] = (bound){1, in->num, ex && ex->type == LX_JSON_BOOL && ex->b};
        else if (in)
            lx_sc_error(c, LEXIE_E_INVALID, v->ptr[i], "%s must be a number", kin);
        if (ex && ex->type == LX_JSON_NUMBER) cand[nc++] = (bound){1, ex->num, 1};
        for (int k = 0; k < nc; k++) {
            bound x = cand[k];
            int tighter = !b.has || (upper ? x.v < b.v : x.v > b.v) || (x.v == b.v && x.excl);
            if (tighter) b = x;
        }
    }
    return b;
}

/* Fraction rules: kind 0 any (or none), 1 zeros only (or none), 2 some
** nonzero digit.  maxd: most digits (-1 unbounded). */
static int frac_rule(lx_gram *g, int kind, int maxd) {
    int r = lx_gram_rule(g, "frac");
    lx_seq s = {0};
    if (kind != 2) lx_gram_alt(g, r, &s); /* no fraction */
    int dig = lx_gram_rule(g, "fd");
    if (kind == 1)
        alt1(g, dig, lx_gram_byte(g, '0'));
    else
        alt1(g, dig, digit(g));
    int body;
    if (kind == 2) {
        /* nz ::= "0" nz | [1-9] digit{0,...} within maxd digits */
        int any = lx_gram_rule(g, "fd");
        alt1(g, any, digit(g));
        if (maxd < 0) {
            int nz = lx_gram_rule(g, "nz");
            lx_seq_push(&s, lx_gram_byte(g, '0'));
            lx_seq_push(&s, lx_gram_call(nz));
            lx_gram_alt(g, nz, &s);
            s.n = 0;
            lx_seq_push(&s, lx_gram_range(g, '1', '9'));
            lx_seq_push(&s, lx_gram_call(lx_gram_repeat(g, any, 0, -1)));
            lx_gram_alt(g, nz, &s);
            body = nz;
        } else {
            int prev = -1; /* nz_k: k digits left */
            for (int k = 1; k <= maxd; k++) {
                int nz = lx_gram_rule(g, "nz");
                s.n = 0;
                lx_seq_push(&s, lx_gram_range(g, '1', '9'));
                lx_seq_push(&s, lx_gram_call(lx_gram_repeat(g, any, 0, k - 1)));
                lx_gram_alt(g, nz, &s);
                if (prev >= 0) {
                    s.n = 0;
                    lx_seq_push(&s, lx_gram_byte(g, '0'));
                    lx_seq_push(&s, lx_gram_call(prev));
                    lx_gram_alt(g, nz, &s);
                }
                prev = nz;
            }
            body = prev;
        }
    } else {
        body = lx_gram_repeat(g, dig, 1, maxd);
    }
    s.n = 0;
    lx_seq_push(&s, lx_gram_byte(g, '.'));
    if (body >= 0) lx_seq_push(&s, lx_gram_call(body));
    if (body >= 0) lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
    return r;
}

/* Non-negative numbers y = I.F with L <= y <= H (integer bounds, excl
** flags), prefix pre ("" or "-"), fractions of at most maxd digits. */
static void decimal_part(lx_gram *g, int r, const char *pre, long long L, int exl, long long H,
                         int exh, int maxd) {
    /* zero fraction allowed for I in [L + exl, H - exh]; nonzero for I in [L, H - 1] */
    long long zlo = L + exl, zhi = H - exh, nlo = L, nhi = H - 1;
    if (zlo < 0) zlo = 0;
    if (nlo < 0) nlo = 0;
    long long alo = zlo, ahi = LX_MIN(zhi, nhi); /* both: any fraction */
    lx_seq s = {0};
    lx_gram_lit(g, &s, pre, strlen(pre));
    if (alo <= ahi) {
        int t = lx_gram_rule(g, "ipart");
        int_range(g, t, &s, alo, ahi == LLONG_MAX - 1 || ahi >= BIG ? -1 : ahi);
        /* int_range added alternatives with the prefix to t */
        lx_seq u = {0};
        lx_seq_push(&u, lx_gram_call(t));
        lx_seq_push(&u, lx_gram_call(frac_rule(g, 0, maxd)));
        lx_gram_alt(g, r, &u);
        lx_seq_free(&u);
    }
    if (zhi >= zlo && zhi > ahi && zhi <= BIG) { /* zero fraction only: I = H */
        int t = lx_gram_rule(g, "ipart");
        int_range(g, t, &s, zhi, zhi);
        lx_seq u = {0};
        lx_seq_push(&u, lx_gram_call(t));
        lx_seq_push(&u, lx_gram_call(frac_rule(g, 1, maxd)));
        lx_gram_alt(g, r, &u);
        lx_seq_free(&u);
    }
    if (nlo <= nhi && nlo < alo) { /* nonzero fraction only: I = L */
        int t = lx_gram_rule(g, "ipart");
        int_range(g, t, &s, nlo, LX_MIN(nhi, alo - 1));
        lx_seq u = {0};
        lx_seq_push(&u, lx_gram_call(t));
        lx_seq_push(&u, lx_gram_call(frac_rule(g, 2, maxd)));
        lx_gram_alt(g, r, &u);
        lx_seq_free(&u);
    }
    lx_seq_free(&s);
}

/* multipleOf k (integer) for integers: residues mod k, digit by digit. */
static int mult_rule(lx_gram *g, long long k) {
    if (k < 2) return -1;
    int *res = malloc((size_t)k * sizeof *res);
    if (!res) {
        g->oom = 1;
        return -1;
    }
    for (long long i = 0; i < k; i++) res[i] = lx_gram_rule(g, "mod");
    lx_seq s = {0};
    lx_gram_alt(g, res[0], &s); /* may end at residue 0 */
    for (long long i = 0; i < k; i++)
        for (int d = 0; d < 10; d++) {
            s.n = 0;
            lx_seq_push(&s, lx_gram_byte(g, (unsigned char)('0' + d)));
            lx_seq_push(&s, lx_gram_call(res[(i * 10 + d) % k]));
            lx_gram_alt(g, res[i], &s);
        }
    int r = lx_gram_rule(g, "multiple");
    alt1(g, r, lx_gram_byte(g, '0'));
    for (int d = 1; d < 10; d++) {
        s.n = 0;
        lx_seq_push(&s, lx_gram_byte(g, (unsigned char)('0' + d)));
        lx_seq_push(&s, lx_gram_call(res[d % k]));
        lx_gram_alt(g, r, &s);
    }
    lx_seq_free(&s);
    free(res);
    return r;
}

static void gen_number(sc *c, int r, const sc_view *v, int frac) {
    lx_gram *g = c->g;
    bound lo = get_bound(c, v, 0), hi = get_bound(c, v, 1);
    double mult = 0;
    for (int i = 0; i < v->n; i++) {
        const lx_json *m = lx_sc_get(v, i, "multipleOf");
        if (!m) continue;
        if (m->type != LX_JSON_NUMBER || m->num <= 0) {
            lx_sc_error(c, LEXIE_E_INVALID, v->ptr[i], "multipleOf must be a positive number");
            return;
        }
        if (mult && mult != m->num) {
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[i],
                        "unsupported keyword 'multipleOf' (two)");
            return;
        }
        mult = m->num;
    }
    if (c->failed) return;
    int maxd = -1;
    if (mult) {
        if (mult == floor(mult)) {
            frac = 0; /* integers only (stricter: 10.0 is refused) */
            if (mult > 1) {
                if (mult > 1000 || lo.has || hi.has) {
                    lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[0],
                                "unsupported keyword 'multipleOf' (over 1000 or with bounds)");
                    return;
                }
                int m = mult_rule(g, (long long)mult);
                if (m < 0) return;
                alt1(g, r, lx_gram_call(m));
                lx_seq s = {0};
                lx_seq_push(&s, lx_gram_byte(g, '-'));
                lx_seq_push(&s, lx_gram_call(m));
                lx_gram_alt(g, r, &s);
                lx_seq_free(&s);
                return;
            }
        } else if (frac) {
            double d = -log10(mult);
            if (fabs(d - floor(d + 0.5)) > 1e-9 || d > 15) {
                lx_sc_error(
                    c, LEXIE_E_UNSUPPORTED, v->ptr[0],
                    "unsupported keyword 'multipleOf' (%g: only integers and powers of ten)", mult);
                return;
            }
            maxd = (int)floor(d + 0.5);
        } else {
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[0],
                        "unsupported keyword 'multipleOf' (fraction on integers)");
            return;
        }
    }
    if (!lo.has && !hi.has && maxd < 0) {
        any_number(c);
        alt1(g, r, lx_gram_call(frac ? c->r_num : c->r_int));
        return;
    }
    /* integer bounds, rounded inwards (stricter), clamped to +-BIG */
    long long L = LLONG_MIN, H = LLONG_MAX;
    int exl = 0, exh = 0;
    if (lo.has) {
        double x = ceil(lo.v);
        exl = lo.excl && x == lo.v;
        L = x < -(double)BIG ? -BIG : x > (double)BIG ? BIG + 1 : (long long)x;
    }
    if (hi.has) {
        double x = floor(hi.v);
        exh = hi.excl && x == hi.v;
        H = x > (double)BIG ? BIG : x < -(double)BIG ? -BIG - 1 : (long long)x;
    }
    if (!frac) {
        long long a = L == LLONG_MIN ? L : L + exl, b = H == LLONG_MAX ? H : H - exh;
        if (a <= b) int_alts(g, r, a, b, -1);
        return;
    }
    /* non-negative part: y in [max(L,0), H]; negative: -y, y in [-H, -L] */
    if (H == LLONG_MAX || H >= 0) {
        long long hh = H == LLONG_MAX ? BIG : H;
        int eh = H == LLONG_MAX ? 0 : exh;
        long long ll = L == LLONG_MIN || L < 0 ? 0 : L;
        int el = L == LLONG_MIN || L < 0 ? 0 : exl;
        if (H == LLONG_MAX) { /* unbounded above: any fraction for every I >= L */
            lx_seq s = {0};
            int t = lx_gram_rule(g, "ipart");
            int_range(g, t, &s, ll + el, -1);
            lx_seq_push(&s, lx_gram_call(t));
            lx_seq_push(&s, lx_gram_call(frac_rule(g, 0, maxd)));
            lx_gram_alt(g, r, &s);
            if (el) {
                s.n = 0;
                int t2 = lx_gram_rule(g, "ipart");
                int_range(g, t2, &s, ll, ll);
                lx_seq_push(&s, lx_gram_call(t2));
                lx_seq_push(&s, lx_gram_call(frac_rule(g, 2, maxd)));
                lx_gram_alt(g, r, &s);
            }
            lx_seq_free(&s);
        } else {
            decimal_part(g, r, "", ll, el, hh, eh, maxd);
        }
    }
    if (L == LLONG_MIN || L < 0) {
        long long ll = H == LLONG_MAX || H > 0 ? 0 : -H;
        int el = H == LLONG_MAX || H > 0 ? 0 : exh;
        if (L == LLONG_MIN) {
            lx_seq s = {0};
            lx_seq_push(&s, lx_gram_byte(g, '-'));
            int t = lx_gram_rule(g, "ipart");
            lx_seq pre = {0};
            int_range(g, t, &pre, ll + el, -1);
            lx_seq_free(&pre);
            lx_seq_push(&s, lx_gram_call(t));
            lx_seq_push(&s, lx_gram_call(frac_rule(g, 0, maxd)));
            lx_gram_alt(g, r, &s);
            if (el) {
                s.n = 1;
                int t2 = lx_gram_rule(g, "ipart");
                pre = (lx_seq){0};
                int_range(g, t2, &pre, ll, ll);
                lx_seq_free(&pre);
                lx_seq_push(&s, lx_gram_call(t2));
                lx_seq_push(&s, lx_gram_call(frac_rule(g, 2, maxd)));
                lx_gram_alt(g, r, &s);
            }
            lx_seq_free(&s);
        } else {
            decimal_part(g, r, "-", ll, el, -L, exl, maxd);
        }
    }
}

/* ==== Objects ==== */

typedef struct prop {
    const char *name;
    size_t len;
    int required, forbidden;
    sc_view v;
} prop;

/* A JSON string of any key except names[0..n) (each its JSON-escaped
** contents), closing quote included; no escapes (stricter). */
static int key_except(sc *c, char **names, size_t *lens, int n, int depth, const char *pfx,
                      size_t plen) {
    lx_gram *g = c->g;
    int r = lx_gram_rule(g, "keyx");
    lx_seq s = {0};
    int is_name = 0;
    lx_bset next = {{0, 0, 0, 0}};
    for (int i = 0; i < n; i++) {
        if (lens[i] < plen || memcmp(names[i], pfx, plen)) continue;
        if (lens[i] == plen)
            is_name = 1;
        else
            lx_bset_add(&next, (unsigned char)names[i][plen]);
    }
    if (!is_name) {
        lx_seq_push(&s, lx_gram_byte(g, '"'));
        lx_gram_alt(g, r, &s);
    }
    /* children: one byte further down the names' trie */
    for (unsigned b = 0; b < 256 && depth < 256; b++) {
        if (!lx_bset_has(&next, b)) continue;
        char buf[260];
        memcpy(buf, pfx, plen);
        buf[plen] = (char)b;
        int child = key_except(c, names, lens, n, depth + 1, buf, plen + 1);
        s.n = 0;
        lx_seq_push(&s, lx_gram_byte(g, b));
        lx_seq_push(&s, lx_gram_call(child));
        lx_gram_alt(g, r, &s);
    }
    /* elsewhere: a character not starting any name continuation, then anything */
    int at_boundary =
        plen == 0 || ((unsigned char)pfx[plen - 1] < 0x80) || (lx_utf8_valid(pfx, plen, NULL));
    if (at_boundary) {
        lx_cps raw = {0};
        lx_cps_add(&raw, 0x20, 0x21);
        lx_cps_add(&raw, 0x23, 0x5B);
        lx_cps_add(&raw, 0x5D, 0x10FFFF);
        int cr = lx_gram_cps(g, &raw);
        lx_cps_free(&raw);
        int rest = star_inline(g, cr);
        for (int a = g->rule_first[cr]; a >= 0; a = g->alt_next[a]) {
            s.n = 0;
            int first = 1;
            for (int i = g->alt_start[a]; LX_EL_KIND(g->el[i]) != LX_EL_END; i++) {
                int32_t e = g->el[i];
                if (first) {
                    lx_bset fs = g->sets[LX_EL_ARG(e)];
                    for (int w = 0; w < 4; w++) fs.w[w] &= ~next.w[w];
                    if (!(fs.w[0] | fs.w[1] | fs.w[2] | fs.w[3])) break;
                    e = lx_gram_set(g, &fs);
                    first = 0;
                }
                lx_seq_push(&s, e);
            }
            if (first) continue;
            lx_seq_push(&s, lx_gram_call(rest));
            lx_seq_push(&s, lx_gram_byte(g, '"'));
            lx_gram_alt(g, r, &s);
        }
    }
    lx_seq_free(&s);
    return r;
}

static int find_prop(prop *ps, int n, const char *name, size_t len) {
    for (int i = 0; i < n; i++)
        if (ps[i].len == len && !memcmp(ps[i].name, name, len)) return i;
    return -1;
}

/* The JSON-escaped contents of a key (no quotes), malloc'd in *out. */
static size_t key_contents(sc *c, const char *name, size_t len, lx_jbuf *b) {
    (void)c;
    lx_jbuf_reset(b);
    dump_str(b, name, len);
    return b->len;
}

typedef struct pat {
    const lx_json *schema;
    int owner; /* view member */
    int rule;  /* key contents rule */
    const char *ptr;
} pat;

static void gen_object(sc *c, int r, const sc_view *v) {
    lx_gram *g = c->g;
    prop *ps = NULL;
    int n = 0, cap = 0;
    pat pp = {NULL, -1, -1, NULL};
    lx_jbuf kb = {0};
    /* declared names in schema order, then required names not declared */
    for (int pass = 0; pass < 2 && !c->failed; pass++) {
        for (int i = 0; i < v->n && !c->failed; i++) {
            const lx_json *src = lx_sc_get(v, i, pass ? "required" : "properties");
            if (!src) continue;
            if (src->type != (pass ? LX_JSON_ARRAY : LX_JSON_OBJECT)) {
                lx_sc_error(c, LEXIE_E_INVALID, v->ptr[i], "bad %s",
                            pass ? "required" : "properties");
                break;
            }
            for (int k = 0; k < src->n; k++) {
                const char *nm = pass ? src->items[k]->str : src->keys[k];
                size_t nl = pass ? src->items[k]->len : src->key_lens[k];
                if (pass && src->items[k]->type != LX_JSON_STRING) continue;
                int at = find_prop(ps, n, nm, nl);
                if (at < 0) {
                    if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        prop *q = realloc(ps, (size_t)cap * sizeof *q);
                        if (!q) {
                            g->oom = 1;
                            goto done;
                        }
                        ps = q;
                    }
                    at = n++;
                    memset(&ps[at], 0, sizeof ps[at]);
                    ps[at].name = nm;
                    ps[at].len = nl;
                }
                if (pass) ps[at].required = 1;
            }
        }
    }
    /* patternProperties: at most one pattern in the whole view */
    for (int i = 0; i < v->n && !c->failed; i++) {
        const lx_json *pt = lx_sc_get(v, i, "patternProperties");
        if (!pt || pt->n == 0) continue;
        const char *ptr = lx_sc_ptr(c, v->ptr[i], "patternProperties");
        if (pt->type != LX_JSON_OBJECT || pp.owner >= 0 || pt->n > 1) {
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, ptr,
                        "unsupported keyword 'patternProperties' (more than one pattern)");
            goto done;
        }
        lexie_error e2;
        pp.rule = lx_regex_compile(g, pt->keys[0], pt->key_lens[0], NULL, NULL, &e2);
        if (pp.rule < 0) {
            lx_sc_error(c, e2.code, ptr, "%s", e2.message);
            goto done;
        }
        pp.schema = pt->items[0];
        pp.owner = i;
        pp.ptr = lx_sc_ptr(c, ptr, pt->keys[0]);
    }
    /* dependencies / dependentRequired: A present => B present */
    for (int i = 0; i < v->n && !c->failed; i++) {
        for (int kw = 0; kw < 2; kw++) {
            const lx_json *d = lx_sc_get(v, i, kw ? "dependentRequired" : "dependencies");
            if (!d) continue;
            for (int k = 0; k < d->n; k++) {
                const lx_json *deps = d->items[k];
                if (deps->type != LX_JSON_ARRAY) {
                    lx_sc_error(c, LEXIE_E_UNSUPPORTED, lx_sc_ptr(c, v->ptr[i], d->keys[k]),
                                "unsupported keyword 'dependencies' (schema form)");
                    goto done;
                }
                int a = find_prop(ps, n, d->keys[k], d->key_lens[k]);
                int all_req = 1;
                for (int m = 0; m < deps->n; m++) {
                    if (deps->items[m]->type != LX_JSON_STRING) continue;
                    int b = find_prop(ps, n, deps->items[m]->str, deps->items[m]->len);
                    all_req &= b >= 0 && ps[b].required;
                }
                if (all_req) continue;
                int undeclared = 0;
                for (int m = 0; m < deps->n; m++)
                    undeclared |= deps->items[m]->type != LX_JSON_STRING ||
                                  find_prop(ps, n, deps->items[m]->str, deps->items[m]->len) < 0;
                if (undeclared) {
                    lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[i],
                                "unsupported keyword 'dependencies' on undeclared properties");
                    goto done;
                }
                if (a >= 0 && ps[a].required) {
                    for (int m = 0; m < deps->n; m++)
                        ps[find_prop(ps, n, deps->items[m]->str, deps->items[m]->len)].required = 1;
                } else if (a >= 0) {
                    ps[a].forbidden = 1; /* stricter: the dependent-on property is never emitted */
                } else {
                    lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[i],
                                "unsupported keyword 'dependencies' on undeclared properties");
                    goto done;
                }
            }
        }
    }
    /* each name's view: its schema in every member, else that member's
    ** pattern or additionalProperties */
    for (int k = 0; k < n && !c->failed; k++) {
        char *nm = lx_strndup(ps[k].name, ps[k].len, NULL);
        if (!nm) {
            g->oom = 1;
            goto done;
        }
        for (int i = 0; i < v->n && !c->failed; i++) {
            const lx_json *props = lx_sc_get(v, i, "properties");
            const lx_json *s = props ? lx_json_get(props, nm) : NULL;
            if (s) {
                lx_sc_view_add(c, &ps[k].v, s,
                               lx_sc_ptr(c, lx_sc_ptr(c, v->ptr[i], "properties"), nm));
                continue;
            }
            if (pp.owner == i) {
                size_t kl = key_contents(c, ps[k].name, ps[k].len, &kb);
                if (kl >= 2 && lx_checker_accepts(c->chk, pp.rule, kb.data + 1, kl - 2)) {
                    lx_sc_view_add(c, &ps[k].v, pp.schema, pp.ptr);
                    continue;
                }
            }
            const lx_json *ap = lx_sc_get(v, i, "additionalProperties");
            if (ap)
                lx_sc_view_add(c, &ps[k].v, ap, lx_sc_ptr(c, v->ptr[i], "additionalProperties"));
        }
        free(nm);
    }
    if (c->failed) goto done;
    /* extra members */
    int extras = 1;
    sc_view xv = {0};
    for (int i = 0; i < v->n; i++) {
        if (pp.owner == i) continue;
        const lx_json *ap = lx_sc_get(v, i, "additionalProperties");
        if (ap) lx_sc_view_add(c, &xv, ap, lx_sc_ptr(c, v->ptr[i], "additionalProperties"));
    }
    if (pp.owner >= 0) {
        lx_sc_view_add(c, &xv, pp.schema, pp.ptr);
        for (int k = 0; k < n; k++) { /* pattern keys must not be declared names */
            size_t kl = key_contents(c, ps[k].name, ps[k].len, &kb);
            if (kl >= 2 && lx_checker_accepts(c->chk, pp.rule, kb.data + 1, kl - 2)) {
                lx_sc_error(c, LEXIE_E_UNSUPPORTED, pp.ptr,
                            "unsupported keyword 'patternProperties' matching a declared property");
                goto done;
            }
        }
    }
    if (xv.never) extras = 0;
    /* min/maxProperties where they follow from the rest */
    long long minp = count_kw(c, v, "minProperties", 0, 0);
    long long maxp = count_kw(c, v, "maxProperties", 1, -1);
    int n_req = 0, n_opt = 0;
    for (int k = 0; k < n; k++) {
        if (ps[k].forbidden || ps[k].v.never) continue;
        if (ps[k].required)
            n_req++;
        else
            n_opt++;
    }
    if (maxp >= 0 && maxp < n_req) goto done; /* unsatisfiable */
    /* counting members: states 0..K (K absorbs "enough" when unbounded above) */
    int K = 0;
    if (minp > n_req || (maxp >= 0 && (extras || maxp < n_req + n_opt)))
        K = (int)(maxp >= 0 ? maxp : minp);
    if (K > 64) {
        lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[0], "unsupported keyword '%s' over 64",
                    maxp >= 0 ? "maxProperties" : "minProperties");
        goto done;
    }
    int minc = K ? (int)minp : 0, maxc = K && maxp >= 0 ? (int)maxp : -1;
    for (int k = 0; k < n; k++)
        if (ps[k].required && (ps[k].forbidden || ps[k].v.never)) goto done; /* unsatisfiable */
    /* the extra member rule */
    int ex = -1;
    if (extras) {
        ex = lx_gram_rule(g, "extra");
        lx_seq s = {0};
        if (pp.owner >= 0) {
            lx_seq_push(&s, lx_gram_byte(g, '"'));
            lx_seq_push(&s, lx_gram_call(pp.rule));
            lx_seq_push(&s, lx_gram_byte(g, '"'));
        } else {
            char **names = malloc(((size_t)n + 1) * sizeof *names);
            size_t *lens = malloc(((size_t)n + 1) * sizeof *lens);
            lx_jbuf all = {0};
            if (!names || !lens) {
                free(names);
                free(lens);
                g->oom = 1;
                goto done;
            }
            size_t *offs = malloc(((size_t)n + 1) * sizeof *offs);
            for (int k = 0; k < n && offs; k++) {
                size_t kl = key_contents(c, ps[k].name, ps[k].len, &kb);
                offs[k] = all.len;
                lens[k] = kl - 2;
                lx_jbuf_add(&all, kb.data + 1, kl - 2);
            }
            for (int k = 0; k < n && offs && !all.oom; k++) names[k] = all.data + offs[k];
            lx_seq_push(&s, lx_gram_byte(g, '"'));
            if (offs && !all.oom)
                lx_seq_push(&s, lx_gram_call(key_except(c, names, lens, n, 0, "", 0)));
            else
                g->oom = 1;
            free(offs);
            free(names);
            free(lens);
            lx_jbuf_free(&all);
        }
        sep(c, &s, ':');
        lx_seq_push(&s, lx_gram_call(xv.n ? lx_sc_compile(c, &xv) : lx_sc_any(c)));
        lx_gram_alt(g, ex, &s);
        lx_seq_free(&s);
    }
    /* Members in schema order, factored so that a state holds one entry per
    ** choice point, not one per optional member:
    **   after_i ::= "," pick_i | ""         ("" only when no required member is left)
    **   pick_i  ::= member_k after_{k+1}    for k = i .. the next required one
    **             | extra after_i           (extra members may come anywhere)
    ** and the object opens with first_i ::= pick_i | "". */
    lx_seq s = {0};
    int live = 0;
    int *mem = calloc((size_t)n + 1, sizeof *mem);
    int *after = calloc((size_t)n + 1, sizeof *after);
    int *pick = calloc((size_t)n + 1, sizeof *pick);
    if (!mem || !after || !pick) {
        g->oom = 1;
        free(mem);
        free(after);
        free(pick);
        goto done;
    }
    for (int k = 0; k < n && !c->failed; k++) {
        mem[k] = -1;
        if (ps[k].forbidden || ps[k].v.never) continue;
        int val = ps[k].v.n ? lx_sc_compile(c, &ps[k].v) : lx_sc_any(c);
        if (val < 0) break;
        mem[k] = lx_gram_rule(g, "member");
        s.n = 0;
        size_t kl = key_contents(c, ps[k].name, ps[k].len, &kb);
        lx_gram_lit(g, &s, kb.data, kl);
        sep(c, &s, ':');
        lx_seq_push(&s, lx_gram_call(val));
        lx_gram_alt(g, mem[k], &s);
    }
    int nk = K + 1;
    free(after);
    free(pick);
    after = calloc((size_t)(n + 1) * (size_t)nk, sizeof *after);
    pick = calloc((size_t)(n + 1) * (size_t)nk, sizeof *pick);
    if (!after || !pick) {
        g->oom = 1;
        free(mem);
        free(after);
        free(pick);
        goto done;
    }
#define AF(i, k) after[(size_t)(i) * (size_t)nk + (size_t)(k)]
#define PK(i, k) pick[(size_t)(i) * (size_t)nk + (size_t)(k)]
    for (int i = 0; i <= n; i++)
        for (int k = 0; k < nk; k++) {
            AF(i, k) = lx_gram_rule(g, "obj_after");
            PK(i, k) = lx_gram_rule(g, "obj_pick");
        }
    int req_left = 0; /* a required member at index >= i */
    for (int i = n; i >= 0 && !c->failed; i--) {
        if (i < n && ps[i].required && mem[i] >= 0) req_left = 1;
        for (int k = 0; k < nk; k++) {
            int full = maxc >= 0 && k >= maxc; /* no more members allowed */
            int k1 = k + 1 < nk ? k + 1 : K;   /* unbounded above: K means "enough" */
            for (int j = i; j < n && !full; j++) {
                if (mem[j] < 0) continue;
                s.n = 0;
                lx_seq_push(&s, lx_gram_call(mem[j]));
                lx_seq_push(&s, lx_gram_call(AF(j + 1, k1)));
                lx_gram_alt(g, PK(i, k), &s);
                live = 1;
                if (ps[j].required) break;
            }
            if (ex >= 0 && !full) {
                s.n = 0;
                lx_seq_push(&s, lx_gram_call(ex));
                lx_seq_push(&s, lx_gram_call(AF(i, k1)));
                lx_gram_alt(g, PK(i, k), &s);
            }
            s.n = 0;
            sep(c, &s, ',');
            lx_seq_push(&s, lx_gram_call(PK(i, k)));
            lx_gram_alt(g, AF(i, k), &s);
            if (!req_left && k >= minc) {
                s.n = 0;
                lx_gram_alt(g, AF(i, k), &s);
            }
        }
    }
    (void)live;
    int first = lx_gram_rule(g, "obj_first");
    s.n = 0;
    lx_seq_push(&s, lx_gram_call(PK(0, 0)));
    lx_gram_alt(g, first, &s);
    if (!req_left && minc == 0) {
        s.n = 0;
        lx_gram_alt(g, first, &s);
    }
#undef AF
#undef PK
    free(mem);
    free(after);
    free(pick);
    s.n = 0;
    lx_seq_push(&s, lx_gram_byte(g, '{'));
    ws(c, &s);
    lx_seq_push(&s, lx_gram_call(first));
    ws(c, &s);
    lx_seq_push(&s, lx_gram_byte(g, '}'));
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
done:
    free(ps);
    lx_jbuf_free(&kb);
}

/* ==== Arrays ==== */

static void gen_array(sc *c, int r, const sc_view *v) {
    lx_gram *g = c->g;
    int k = 0; /* longest prefix */
    const lx_json *prefix[SC_MAXV], *rest[SC_MAXV];
    const char *pptr[SC_MAXV], *rptr[SC_MAXV];
    for (int i = 0; i < v->n; i++) {
        const lx_json *pi = lx_sc_get(v, i, "prefixItems"), *it = lx_sc_get(v, i, "items");
        const lx_json *ai = lx_sc_get(v, i, "additionalItems");
        prefix[i] = rest[i] = NULL;
        if (pi && pi->type == LX_JSON_ARRAY) {
            prefix[i] = pi;
            pptr[i] = lx_sc_ptr(c, v->ptr[i], "prefixItems");
            rest[i] = it;
            rptr[i] = lx_sc_ptr(c, v->ptr[i], "items");
        } else if (it && it->type == LX_JSON_ARRAY) {
            prefix[i] = it;
            pptr[i] = lx_sc_ptr(c, v->ptr[i], "items");
            rest[i] = ai;
            rptr[i] = lx_sc_ptr(c, v->ptr[i], "additionalItems");
        } else {
            rest[i] = it;
            rptr[i] = lx_sc_ptr(c, v->ptr[i], "items");
        }
        if (prefix[i] && prefix[i]->n > k) k = prefix[i]->n;
    }
    long long lo = count_kw(c, v, "minItems", 0, 0);
    long long hi = count_kw(c, v, "maxItems", 1, -1);
    sc_view rv = {0};
    for (int i = 0; i < v->n; i++)
        if (rest[i]) lx_sc_view_add(c, &rv, rest[i], rptr[i]);
    if (rv.never && (hi < 0 || hi > k)) hi = k;
    if (c->failed || (hi >= 0 && lo > hi)) return;
    int unique = 0;
    for (int i = 0; i < v->n; i++) {
        const lx_json *u = lx_sc_get(v, i, "uniqueItems");
        if (u && u->type == LX_JSON_BOOL && u->b) unique = 1;
    }
    if (unique && (hi < 0 || hi > 1)) {
        lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[0], "unsupported keyword 'uniqueItems'");
        return;
    }
    long long top = LX_MAX(lo, (long long)k); /* positions with their own rule */
    if (hi >= 0) top = LX_MAX(top, hi);
    if (top > 10000) {
        lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[0], "array bound over 10000");
        return;
    }
    int *elem = malloc(((size_t)top + 1) * sizeof *elem);
    if (!elem) {
        g->oom = 1;
        return;
    }
    int restr = rv.n ? lx_sc_compile(c, &rv) : lx_sc_any(c);
    for (long long j = 0; j < top && !c->failed; j++) {
        if (j >= k) {
            elem[j] = restr;
            continue;
        }
        sc_view pv = {0};
        for (int i = 0; i < v->n; i++) {
            if (prefix[i] && j < prefix[i]->n) {
                char ix[24];
                snprintf(ix, sizeof ix, "%lld", j);
                lx_sc_view_add(c, &pv, prefix[i]->items[j], lx_sc_ptr(c, pptr[i], ix));
            } else if (rest[i]) {
                lx_sc_view_add(c, &pv, rest[i], rptr[i]);
            }
        }
        elem[j] = pv.n || pv.never ? lx_sc_compile(c, &pv) : lx_sc_any(c);
    }
    if (c->failed) {
        free(elem);
        return;
    }
    /* next_j: j items written; build from the end */
    lx_seq s = {0};
    int next; /* next_top */
    if (hi >= 0 && hi <= top) {
        next = lx_gram_empty(g);
    } else { /* unbounded: loop of the rest */
        next = lx_gram_rule(g, "arr_more");
        lx_gram_alt(g, next, &s);
        sep(c, &s, ',');
        lx_seq_push(&s, lx_gram_call(restr));
        lx_seq_push(&s, lx_gram_call(next));
        lx_gram_alt(g, next, &s);
    }
    for (long long j = top - 1; j >= 1; j--) {
        int nj = lx_gram_rule(g, "arr_next");
        s.n = 0;
        if (j >= lo) lx_gram_alt(g, nj, &s);
        sep(c, &s, ',');
        lx_seq_push(&s, lx_gram_call(elem[j]));
        lx_seq_push(&s, lx_gram_call(next));
        lx_gram_alt(g, nj, &s);
        next = nj;
    }
    int body = lx_gram_rule(g, "arr_body");
    s.n = 0;
    if (lo == 0) lx_gram_alt(g, body, &s);
    if (hi != 0) {
        lx_seq_push(&s, lx_gram_call(top > 0 ? elem[0] : restr));
        if (top > 0)
            lx_seq_push(&s, lx_gram_call(next));
        else
            lx_seq_push(&s, lx_gram_call(next));
        lx_gram_alt(g, body, &s);
    }
    s.n = 0;
    lx_seq_push(&s, lx_gram_byte(g, '['));
    ws(c, &s);
    lx_seq_push(&s, lx_gram_call(body));
    ws(c, &s);
    lx_seq_push(&s, lx_gram_byte(g, ']'));
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
    free(elem);
}

/* ==== Types ==== */

void lx_sc_gen_types(sc *c, int r, const sc_view *v, unsigned types) {
    lx_gram *g = c->g;
    static const char *const lits[] = {"null", "true", "false"};
    if (types & T_NULL) {
        lx_seq s = {0};
        lx_gram_lit(g, &s, lits[0], 4);
        lx_gram_alt(g, r, &s);
        lx_seq_free(&s);
    }
    if (types & T_BOOL) {
        for (int i = 1; i < 3; i++) {
            lx_seq s = {0};
            lx_gram_lit(g, &s, lits[i], strlen(lits[i]));
            lx_gram_alt(g, r, &s);
            lx_seq_free(&s);
        }
    }
    if ((types & T_STR) && !c->failed) gen_string(c, r, v);
    if ((types & (T_INT | T_FRAC)) && !c->failed) gen_number(c, r, v, (types & T_FRAC) != 0);
    if ((types & T_OBJ) && !c->failed) gen_object(c, r, v);
    if ((types & T_ARR) && !c->failed) gen_array(c, r, v);
}
