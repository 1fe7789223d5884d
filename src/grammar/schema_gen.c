/*
** schema_gen.c -- what the JSON Schema compiler's type generators share
** (schema.h): whitespace and separators, the any-value grammar, literal
** values, reading count keywords across a view, and the dispatch from a
** view's allowed types to each type's generator (schema_str.c strings,
** schema_num.c numbers, schema_obj.c objects, schema_arr.c arrays).
**
** Where a keyword combination has no exact grammar here it is refused,
** never loosened; a few cases are tightened instead (a stricter grammar
** accepts a subset): non-integer numeric bounds round inwards, bounded
** numbers take no exponent, numbers past 10^17 are out of bounded ranges.
*/
#include "grammar/schema.h"

#include <math.h>
#include <string.h>

void lx_sc_alt1(lx_gram *g, int r, int32_t e) {
    lx_seq s = {0};
    lx_seq_push(&s, e);
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
}

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
    lx_sc_alt1(c->g, x, lx_gram_set(c->g, &b));
    c->r_ws = lx_gram_repeat(c->g, x, 0, c->ws_max);
    return c->r_ws;
}

/* Pushes optional whitespace (nothing in compact modes). */
void lx_sc_push_ws(sc *c, lx_seq *s) {
    if (c->ws_max > 0 && !c->spaced) lx_seq_push(s, lx_gram_call(lx_sc_ws(c)));
}

void lx_sc_push_sep(sc *c, lx_seq *s, char ch) {
    lx_sc_push_ws(c, s);
    lx_seq_push(s, lx_gram_byte(c->g, (unsigned char)ch));
    if (c->spaced)
        lx_seq_push(s, lx_gram_byte(c->g, ' '));
    else
        lx_sc_push_ws(c, s);
}

/* star ::= <each alternative of x> star | "" (no frame per character). */
int lx_sc_star(lx_gram *g, int x) {
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

/* Appends "[" ws (item (sep item)*)? ws "]"-style containers of x. */
static int list_of(sc *c, char open, char close, int item) {
    lx_gram *g = c->g;
    int more = lx_gram_rule(g, "more");
    lx_seq s = {0};
    lx_sc_push_sep(c, &s, ',');
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
    lx_sc_push_ws(c, &s);
    lx_seq_push(&s, lx_gram_call(body));
    lx_sc_push_ws(c, &s);
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
    lx_seq_push(&s, lx_gram_call(lx_sc_string(c)));
    lx_sc_push_sep(c, &s, ':');
    lx_seq_push(&s, lx_gram_call(r));
    lx_gram_alt(g, member, &s);
    lx_seq_free(&s);
    lx_sc_alt1(g, r, lx_gram_call(list_of(c, '{', '}', member)));
    lx_sc_alt1(g, r, lx_gram_call(list_of(c, '[', ']', r)));
    lx_sc_alt1(g, r, lx_gram_call(lx_sc_string(c)));
    lx_sc_alt1(g, r, lx_gram_call(lx_sc_number(c)));
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

void lx_sc_dump_str(lx_jbuf *b, const char *s, size_t n) {
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
    case LX_JSON_STRING: lx_sc_dump_str(b, j->str, j->len); break;
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
            lx_sc_dump_str(b, j->keys[i], j->key_lens[i]);
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
long long lx_sc_count_kw(sc *c, const sc_view *v, const char *k, int want_min, long long def) {
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
    if ((types & T_STR) && !c->failed) lx_sc_gen_string(c, r, v);
    if ((types & (T_INT | T_FRAC)) && !c->failed) lx_sc_gen_number(c, r, v, (types & T_FRAC) != 0);
    if ((types & T_OBJ) && !c->failed) lx_sc_gen_object(c, r, v);
    if ((types & T_ARR) && !c->failed) lx_sc_gen_array(c, r, v);
}
