/*
** schema_arr.c -- the grammar of JSON arrays under a view's keywords:
** prefixItems (or items as an array) position by position, items /
** additionalItems for the rest, minItems/maxItems as a chain of
** positions, uniqueItems only where it cannot bite (at most one item).
*/
#include "grammar/schema.h"

#include <stdio.h>
#include <stdlib.h>

void lx_sc_gen_array(sc *c, int r, const sc_view *v) {
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
    long long lo = lx_sc_count_kw(c, v, "minItems", 0, 0);
    long long hi = lx_sc_count_kw(c, v, "maxItems", 1, -1);
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
        lx_sc_push_sep(c, &s, ',');
        lx_seq_push(&s, lx_gram_call(restr));
        lx_seq_push(&s, lx_gram_call(next));
        lx_gram_alt(g, next, &s);
    }
    for (long long j = top - 1; j >= 1; j--) {
        int nj = lx_gram_rule(g, "arr_next");
        s.n = 0;
        if (j >= lo) lx_gram_alt(g, nj, &s);
        lx_sc_push_sep(c, &s, ',');
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
    lx_sc_push_ws(c, &s);
    lx_seq_push(&s, lx_gram_call(body));
    lx_sc_push_ws(c, &s);
    lx_seq_push(&s, lx_gram_byte(g, ']'));
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
    free(elem);
}
