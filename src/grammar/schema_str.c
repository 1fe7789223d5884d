/*
** schema_str.c -- the grammar of JSON strings under a view's keywords:
** the plain string shared by every view, minLength/maxLength as a counted
** chain of characters, pattern (regex.c) and the formats lexie implements
** (date, time, date-time, email, uri, uuid, ipv4, hostname) as patterns.
** Length bounds next to a pattern must follow from the pattern: no
** intersection of the two is built, so that case is refused.
*/
#include "grammar/schema.h"

#include <string.h>

#define MAX_CHAIN 100000 /* rules in a counted chain (maxLength) */
#define MAX_LINKS 256    /* longer required runs stay one flat alternative */

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

int lx_sc_string(sc *c) {
    if (c->r_str >= 0) return c->r_str;
    int st = lx_sc_star(c->g, jchar(c, 0));
    lx_gram_mark_any(c->g, st, -2); /* every plain byte keeps a string body going */
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

/* Characters x{lo,hi} as a counted chain.  With few required copies, as
** rules that each call the next in tail position, x{k,..} ::= x x{k-1,..},
** down to x* (the loop lx_gram_repeat makes) or x{0,n}: a stack at one
** then stands at a marked rule (grammar.h): text-closed without an upper
** bound, a text-chain link with one.  The optional copies of x{0,n} are
** links too.  Required runs over MAX_LINKS stay flat for the matcher's
** normalisation of far positions. */
static int min_length(sc *c, int lo, int hi) {
    lx_gram *g = c->g;
    int x = jchar(c, 1);
    int n = hi - lo; /* optional copies when bounded */
    if (lo > MAX_LINKS) {
        /* r ::= x.. opt_n; opt_k ::= x opt_{k-1} | "" made right after r, k = 1.. */
        int r = lx_gram_repeat(g, x, lo, hi);
        for (int k = 1; r >= 0 && hi >= 0 && k <= n && r + k < g->n_rules; k++)
            lx_gram_mark_any(g, r + k, -3 - k);
        return r;
    }
    /* the tail: x* (next ::= star; star ::= x star | "") or x{0,n} */
    int next = lx_gram_repeat(g, x, 0, hi < 0 ? -1 : n);
    if (next < 0) return -1;
    if (hi < 0 && next + 1 < g->n_rules) {
        lx_gram_mark_any(g, next, -2);
        lx_gram_mark_any(g, next + 1, -2);
    }
    for (int k = 1; hi >= 0 && k <= n && next + k < g->n_rules; k++)
        lx_gram_mark_any(g, next + k, -3 - k);
    if (hi >= 0) lx_gram_mark_any(g, next, -3 - n);
    lx_seq s = {0};
    for (int k = 1; k <= lo; k++) {
        int b = lx_gram_rule(g, "minlen");
        s.n = 0;
        lx_seq_push(&s, lx_gram_call(x));
        lx_seq_push(&s, lx_gram_call(next));
        lx_gram_alt(g, b, &s);
        lx_gram_mark_any(g, b, hi < 0 ? -2 : -3 - (k + n));
        next = b;
    }
    lx_seq_free(&s);
    return next;
}

void lx_sc_gen_string(sc *c, int r, const sc_view *v) {
    lx_gram *g = c->g;
    long long lo = lx_sc_count_kw(c, v, "minLength", 0, 0);
    long long hi = lx_sc_count_kw(c, v, "maxLength", 1, -1);
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
        lx_sc_alt1(g, r, lx_gram_call(lx_sc_string(c)));
        return;
    } else {
        if (lo > MAX_CHAIN || hi > MAX_CHAIN) {
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[0], "string length bound over %d",
                        MAX_CHAIN);
            return;
        }
        body = min_length(c, (int)lo, (int)hi);
    }
    lx_seq s = {0};
    lx_seq_push(&s, lx_gram_byte(g, '"'));
    lx_seq_push(&s, lx_gram_call(body));
    lx_seq_push(&s, lx_gram_byte(g, '"'));
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
}
