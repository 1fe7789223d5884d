/*
** ir.c -- building the byte-level grammar IR (grammar.h): rules,
** alternatives, interned byte sets, repetition helpers, and the finishing
** pass that computes nullable rules, refuses left recursion and measures
** the shortest way to close every position (for closing-path masks).
*/
#include "grammar/grammar.h"

#include <stdlib.h>
#include <string.h>

/* lx_grow for the IR's int-counted arrays (capacity *cap elements of sz
** bytes): counts stay under LX_GRAM_MAX_N, so indices fit an int and an
** element's argument (LX_EL).  1 on success, 0 on failure. */
static int grow(void **p, size_t *cap, int need, size_t sz) {
    if (need < 0 || need > LX_GRAM_MAX_N) return 0;
    return lx_grow(p, cap, (size_t)need, sz, NULL) == LEXIE_OK;
}

/* ==== Byte sets and sequences ==== */

void lx_bset_range(lx_bset *s, unsigned lo, unsigned hi) {
    for (unsigned b = lo; b <= hi && b < 256; b++) lx_bset_add(s, b);
}

void lx_seq_free(lx_seq *s) {
    free(s->e);
    memset(s, 0, sizeof *s);
}

void lx_seq_push(lx_seq *s, int32_t el) {
    if (s->oom) return;
    if (!grow((void **)&s->e, &s->cap, s->n + 1, sizeof *s->e)) {
        s->oom = 1;
        return;
    }
    s->e[s->n++] = el;
}

void lx_seq_cat(lx_seq *s, const lx_seq *t) {
    for (int i = 0; i < t->n; i++) lx_seq_push(s, t->e[i]);
    if (t->oom) s->oom = 1;
}

/* ==== Grammar ==== */

lx_gram *lx_gram_new(lexie_error *err) {
    lx_gram *g = lx_calloc(1, sizeof *g, err);
    if (!g) return NULL;
    g->root = -1;
    return g;
}

void lx_gram_free(lx_gram *g) {
    if (!g) return;
    for (int i = 0; i < g->n_rules; i++) free(g->rule_name[i]);
    free(g->rule_name);
    free(g->el);
    free(g->sets);
    free(g->set_hash);
    free(g->rule_first);
    free(g->rule_last);
    free(g->alt_start);
    free(g->alt_next);
    free(g->nullable);
    free(g->min_close);
    free(g->rule_min);
    free(g->canon);
    free(g->ch_pos);
    free(g->ch_lo);
    free(g->ch_opt_first);
    free(g->ch_n_opt);
    free(g->first_alt);
    free(g->first_rule);
    free(g->disp);
    free(g->disp_off);
    free(g->disp_alt);
    free(g->any);
    free(g->any_pos);
    free(g);
}

int lx_gram_rule(lx_gram *g, const char *name) {
    int n = g->n_rules;
    size_t c1 = g->cap_rules, c2 = c1, c3 = c1; /* parallel arrays, one capacity */
    if (!grow((void **)&g->rule_first, &c1, n + 1, sizeof(int32_t)) ||
        !grow((void **)&g->rule_last, &c2, n + 1, sizeof(int32_t)) ||
        !grow((void **)&g->rule_name, &c3, n + 1, sizeof(char *))) {
        g->oom = 1;
        return -1;
    }
    g->cap_rules = LX_MIN(c1, LX_MIN(c2, c3));
    g->rule_first[n] = g->rule_last[n] = -1;
    g->rule_name[n] = name ? lx_strdup(name, NULL) : NULL;
    g->n_rules = n + 1;
    return n;
}

void lx_gram_alt(lx_gram *g, int r, const lx_seq *seq) {
    if (r < 0 || r >= g->n_rules || seq->oom) {
        g->oom = 1;
        return;
    }
    if (!grow((void **)&g->el, &g->cap_el, g->n_el + seq->n + 1, sizeof(int32_t))) {
        g->oom = 1;
        return;
    }
    int na = g->n_alts;
    size_t c1 = g->cap_alts, c2 = c1;
    if (!grow((void **)&g->alt_start, &c1, na + 1, sizeof(int32_t)) ||
        !grow((void **)&g->alt_next, &c2, na + 1, sizeof(int32_t))) {
        g->oom = 1;
        return;
    }
    g->cap_alts = LX_MIN(c1, c2);
    g->alt_start[na] = g->n_el;
    g->alt_next[na] = -1;
    if (seq->n) memcpy(g->el + g->n_el, seq->e, (size_t)seq->n * sizeof(int32_t));
    g->n_el += seq->n;
    g->el[g->n_el++] = LX_EL(LX_EL_END, 0);
    if (g->rule_last[r] < 0)
        g->rule_first[r] = na;
    else
        g->alt_next[g->rule_last[r]] = na;
    g->rule_last[r] = na;
    g->n_alts = na + 1;
}

static uint64_t set_hash(const lx_bset *s) {
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 4; i++) h = (h ^ s->w[i]) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 29);
}

int32_t lx_gram_set(lx_gram *g, const lx_bset *s) {
    if (g->n_sets * 2 >= g->hash_cap) {
        int cap = g->hash_cap ? g->hash_cap * 2 : 256;
        int32_t *h = calloc((size_t)cap, sizeof *h);
        if (!h) {
            g->oom = 1;
            return LX_EL(LX_EL_SET, 0);
        }
        for (int i = 0; i < g->n_sets; i++) {
            uint64_t k = set_hash(&g->sets[i]) & (uint64_t)(cap - 1);
            while (h[k]) k = (k + 1) & (uint64_t)(cap - 1);
            h[k] = i + 1;
        }
        free(g->set_hash);
        g->set_hash = h;
        g->hash_cap = cap;
    }
    uint64_t k = set_hash(s) & (uint64_t)(g->hash_cap - 1);
    while (g->set_hash[k]) {
        int i = g->set_hash[k] - 1;
        if (!memcmp(&g->sets[i], s, sizeof *s)) return LX_EL(LX_EL_SET, i);
        k = (k + 1) & (uint64_t)(g->hash_cap - 1);
    }
    if (!grow((void **)&g->sets, &g->cap_sets, g->n_sets + 1, sizeof(lx_bset))) {
        g->oom = 1;
        return LX_EL(LX_EL_SET, 0);
    }
    g->sets[g->n_sets] = *s;
    g->set_hash[k] = ++g->n_sets;
    return LX_EL(LX_EL_SET, g->n_sets - 1);
}

int32_t lx_gram_range(lx_gram *g, unsigned lo, unsigned hi) {
    lx_bset s = {{0, 0, 0, 0}};
    lx_bset_range(&s, lo, hi);
    return lx_gram_set(g, &s);
}

int32_t lx_gram_byte(lx_gram *g, unsigned b) { return lx_gram_range(g, b, b); }

void lx_gram_lit(lx_gram *g, lx_seq *seq, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) lx_seq_push(seq, lx_gram_byte(g, (unsigned char)s[i]));
}

int lx_gram_empty(lx_gram *g) {
    int r = lx_gram_rule(g, "empty");
    lx_seq s = {0};
    lx_gram_alt(g, r, &s);
    return r;
}

static void add_chain(lx_gram *g, int32_t pos, int lo, int opt_first, int n_opt) {
    if (g->oom || g->n_alts == 0) return;
    int n = g->n_chains;
    size_t c1 = g->cap_chains, c2 = c1, c3 = c1, c4 = c1;
    if (!grow((void **)&g->ch_pos, &c1, n + 1, sizeof(int32_t)) ||
        !grow((void **)&g->ch_lo, &c2, n + 1, sizeof(int32_t)) ||
        !grow((void **)&g->ch_opt_first, &c3, n + 1, sizeof(int32_t)) ||
        !grow((void **)&g->ch_n_opt, &c4, n + 1, sizeof(int32_t))) {
        g->oom = 1;
        return;
    }
    g->cap_chains = LX_MIN(LX_MIN(c1, c2), LX_MIN(c3, c4));
    g->ch_pos[n] = pos;
    g->ch_lo[n] = lo;
    g->ch_opt_first[n] = opt_first;
    g->ch_n_opt[n] = n_opt;
    g->n_chains = n + 1;
}

int lx_gram_repeat(lx_gram *g, int x, int lo, int hi) {
    lx_seq s = {0};
    int r = lx_gram_rule(g, NULL);
    if (hi < 0) {
        /* star ::= x star | "" ; then lo copies in front */
        int star = lx_gram_rule(g, NULL);
        lx_seq_push(&s, lx_gram_call(x));
        lx_seq_push(&s, lx_gram_call(star));
        lx_gram_alt(g, star, &s);
        s.n = 0;
        lx_gram_alt(g, star, &s);
        for (int i = 0; i < lo; i++) lx_seq_push(&s, lx_gram_call(x));
        lx_seq_push(&s, lx_gram_call(star));
        lx_gram_alt(g, r, &s);
        if (lo > 8) add_chain(g, g->alt_start[g->n_alts - 1], lo, -1, 0);
    } else {
        /* opt_k ::= x opt_{k-1} | "" for the hi - lo optional copies */
        int opt = -1;
        for (int k = 0; k < hi - lo; k++) {
            int o = lx_gram_rule(g, NULL);
            s.n = 0;
            lx_seq_push(&s, lx_gram_call(x));
            if (opt >= 0) lx_seq_push(&s, lx_gram_call(opt));
            lx_gram_alt(g, o, &s);
            s.n = 0;
            lx_gram_alt(g, o, &s);
            opt = o;
        }
        s.n = 0;
        for (int i = 0; i < lo; i++) lx_seq_push(&s, lx_gram_call(x));
        if (opt >= 0) lx_seq_push(&s, lx_gram_call(opt));
        lx_gram_alt(g, r, &s);
        if (lo > 8 || hi - lo > 8)
            add_chain(g, g->alt_start[g->n_alts - 1], lo, opt >= 0 ? opt - (hi - lo) + 1 : -1,
                      hi - lo);
    }
    lx_seq_free(&s);
    return r;
}

void lx_gram_mark_any(lx_gram *g, int r, int owner) {
    if (g->oom || r < 0) return;
    if (!grow((void **)&g->any, &g->cap_any, g->n_any + 1, sizeof *g->any)) {
        g->oom = 1;
        return;
    }
    g->any[g->n_any][0] = r;
    g->any[g->n_any++][1] = owner;
}

/* ==== Finishing ==== */

/* any_pos from the marked loops (grammar.h); -1 on allocation failure. */
static int any_positions(lx_gram *g) {
    if (!g->n_any) return 0;
    g->any_pos = calloc((size_t)g->n_el + 1, sizeof *g->any_pos);
    if (!g->any_pos) return -1;
    for (int k = 0; k < g->n_any; k++) {
        int32_t r = g->any[k][0], owner = g->any[k][1];
        if (r >= 0 && r < g->n_rules) g->any_pos[g->canon[r]] = owner >= 0 ? owner + 1 : owner;
    }
    return 0;
}

/* Fixed point: a rule is nullable when one alternative's elements all are,
** and rule_min is the fewest bytes any alternative derives. */
static void measure(lx_gram *g) {
    const int32_t INF = INT32_MAX / 4;
    for (int r = 0; r < g->n_rules; r++) g->rule_min[r] = INF;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int r = 0; r < g->n_rules; r++) {
            for (int a = g->rule_first[r]; a >= 0; a = g->alt_next[a]) {
                int64_t len = 0;
                for (int i = g->alt_start[a]; LX_EL_KIND(g->el[i]) != LX_EL_END; i++) {
                    int32_t e = g->el[i];
                    len += LX_EL_KIND(e) == LX_EL_SET ? 1 : g->rule_min[LX_EL_ARG(e)];
                    if (len >= INF) break;
                }
                if (len < g->rule_min[r]) {
                    g->rule_min[r] = (int32_t)len;
                    changed = 1;
                }
            }
        }
    }
    for (int r = 0; r < g->n_rules; r++) g->nullable[r] = g->rule_min[r] == 0;
    /* min_close[i]: bytes from element i to the END of its alternative */
    for (int a = 0; a < g->n_alts; a++) {
        int i = g->alt_start[a];
        while (LX_EL_KIND(g->el[i]) != LX_EL_END) i++;
        int64_t acc = 0;
        g->min_close[i] = 0;
        for (i--; i >= g->alt_start[a]; i--) {
            int32_t e = g->el[i];
            acc += LX_EL_KIND(e) == LX_EL_SET ? 1 : g->rule_min[LX_EL_ARG(e)];
            g->min_close[i] = acc > INF ? INF : (int32_t)acc;
        }
    }
}

/* Depth-first search of the "calls without consuming" graph; colour 1 on
** the path, 2 done.  Returns a rule on a cycle, or -1. */
static int left_cycle(const lx_gram *g, int r, uint8_t *colour, int depth) {
    if (colour[r] == 1) return r;
    if (colour[r] == 2 || depth > 20000) return -1;
    colour[r] = 1;
    for (int a = g->rule_first[r]; a >= 0; a = g->alt_next[a]) {
        for (int i = g->alt_start[a]; LX_EL_KIND(g->el[i]) == LX_EL_RULE; i++) {
            int c = left_cycle(g, LX_EL_ARG(g->el[i]), colour, depth + 1);
            if (c >= 0) return c;
            if (!g->nullable[LX_EL_ARG(g->el[i])]) break;
        }
    }
    colour[r] = 2;
    return -1;
}

/* FIRST sets by fixed point: an alternative starts with the first set of
** each element up to and including its first non-nullable one. */
static void first_sets(lx_gram *g) {
    for (int changed = 1; changed;) {
        changed = 0;
        for (int r = 0; r < g->n_rules; r++) {
            for (int a = g->rule_first[r]; a >= 0; a = g->alt_next[a]) {
                lx_bset f = g->first_alt[a];
                for (int i = g->alt_start[a]; LX_EL_KIND(g->el[i]) != LX_EL_END; i++) {
                    int32_t e = g->el[i];
                    const lx_bset *x = LX_EL_KIND(e) == LX_EL_SET ? &g->sets[LX_EL_ARG(e)]
                                                                  : &g->first_rule[LX_EL_ARG(e)];
                    for (int w = 0; w < 4; w++) f.w[w] |= x->w[w];
                    if (LX_EL_KIND(e) == LX_EL_SET || !g->nullable[LX_EL_ARG(e)]) break;
                }
                for (int w = 0; w < 4; w++) {
                    if (f.w[w] != g->first_alt[a].w[w]) changed = 1;
                    g->first_alt[a].w[w] = f.w[w];
                    g->first_rule[r].w[w] |= f.w[w];
                }
            }
        }
    }
}

/* Per-byte alternative lists for rules with 8 or more alternatives. */
static int dispatch(lx_gram *g) {
    g->disp = malloc(((size_t)g->n_rules + 1) * sizeof *g->disp);
    if (!g->disp) return -1;
    int n_big = 0;
    size_t n_ent = 0;
    for (int r = 0; r < g->n_rules; r++) {
        int k = 0;
        for (int a = g->rule_first[r]; a >= 0 && k < 8; a = g->alt_next[a]) k++;
        g->disp[r] = -1;
        if (k < 8) continue;
        g->disp[r] = n_big++ * 256;
        for (int a = g->rule_first[r]; a >= 0; a = g->alt_next[a])
            for (unsigned b = 0; b < 256; b++) n_ent += lx_bset_has(&g->first_alt[a], b);
    }
    g->disp_off = malloc(((size_t)n_big * 256 + 1) * sizeof *g->disp_off);
    g->disp_alt = malloc((n_ent + 1) * sizeof *g->disp_alt);
    if (!g->disp_off || !g->disp_alt) return -1;
    int32_t w = 0;
    for (int r = 0; r < g->n_rules; r++) {
        if (g->disp[r] < 0) continue;
        for (unsigned b = 0; b < 256; b++) {
            g->disp_off[g->disp[r] + (int32_t)b] = w;
            for (int a = g->rule_first[r]; a >= 0; a = g->alt_next[a])
                if (lx_bset_has(&g->first_alt[a], b)) g->disp_alt[w++] = a;
        }
    }
    g->disp_off[n_big * 256] = w;
    return 0;
}

lexie_status lx_gram_finish(lx_gram *g, lexie_error *err) {
    if (g->oom) return lx_fail(err, LEXIE_E_NOMEM, "grammar: out of memory");
    if (g->root < 0 || g->root >= g->n_rules)
        return lx_fail(err, LEXIE_E_INTERNAL, "grammar: no root rule");
    /* canonical call positions: [RULE r, END] for every rule, after the alternatives */
    int n_alt_el = g->n_el;
    if (!grow((void **)&g->el, &g->cap_el, g->n_el + 2 * g->n_rules + 1, sizeof(int32_t)))
        return lx_fail(err, LEXIE_E_NOMEM, "grammar: out of memory");
    g->canon = malloc(((size_t)g->n_rules + 1) * sizeof(int32_t));
    if (!g->canon) return lx_fail(err, LEXIE_E_NOMEM, "grammar: out of memory");
    for (int r = 0; r < g->n_rules; r++) {
        g->canon[r] = g->n_el;
        g->el[g->n_el++] = LX_EL(LX_EL_RULE, r);
        g->el[g->n_el++] = LX_EL(LX_EL_END, 0);
    }
    g->nullable = calloc((size_t)g->n_rules + 1, 1);
    g->rule_min = calloc((size_t)g->n_rules + 1, sizeof(int32_t));
    g->min_close = calloc((size_t)g->n_el + 1, sizeof(int32_t));
    g->first_alt = calloc((size_t)g->n_alts + 1, sizeof(lx_bset));
    g->first_rule = calloc((size_t)g->n_rules + 1, sizeof(lx_bset));
    uint8_t *colour = calloc((size_t)g->n_rules + 1, 1);
    if (!g->nullable || !g->rule_min || !g->min_close || !colour || !g->first_alt ||
        !g->first_rule) {
        free(colour);
        return lx_fail(err, LEXIE_E_NOMEM, "grammar: out of memory");
    }
    measure(g);
    for (int r = 0; r < g->n_rules; r++) g->min_close[g->canon[r]] = g->rule_min[r];
    (void)n_alt_el;
    first_sets(g);
    if (dispatch(g) != 0 || any_positions(g) != 0) {
        free(colour);
        return lx_fail(err, LEXIE_E_NOMEM, "grammar: out of memory");
    }
    for (int r = 0; r < g->n_rules; r++) {
        int c = left_cycle(g, r, colour, 0);
        if (c >= 0) {
            free(colour);
            return lx_fail(err, LEXIE_E_FORMAT,
                           "grammar: rule '%s' is left-recursive (reaches itself without "
                           "consuming input)",
                           g->rule_name[c] ? g->rule_name[c] : "(anonymous)");
        }
    }
    free(colour);
    g->finished = 1;
    return LEXIE_OK;
}
