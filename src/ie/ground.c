/*
** ground.c -- finds the string a model wrote in the document it read, so
** that every extracted span carries the input's own characters and their
** offsets (code points and bytes), or is flagged NONE.  The rules, what
** "normalised" means and the fuzzy score are documented in ground.h.
**
** A grounder decodes the document once: code points, their byte offsets,
** grapheme cluster starts, and the normalised view with its map back to
** the original clusters.  Each lx_ground call then searches the needle's
** code points (exact), its normalised form (normalised, both by KMP in
** linear time) and, failing those, aligns it with Sellers' algorithm
** (fuzzy, bounded by the parameters).
*/
#include "ie/ground.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Fuzzy end positions kept per call (ties of the best distance). */
#define FUZZY_CANDS 16

/* ==== Views: code points, clusters, normalised form ==== */

/* A decoded string.  For the document it is built once; for needles it is
** rebuilt per call into the same (growing, kept) buffers. */
typedef struct view {
    int n_cp;
    int32_t *cps;     /* [n_cp] */
    int32_t *cp_byte; /* [n_cp + 1] byte offset of each code point */
    uint8_t *cl;      /* [n_cp + 1] 1 where a grapheme cluster starts, and at n_cp */
    size_t cap_cp;
    int n_norm;
    int32_t *norm;      /* [n_norm] normalised code points */
    int32_t *cp0, *cp1; /* [n_norm] original code points [cp0, cp1) each came from */
    uint8_t *first;     /* [n_norm + 1] 1 where a cluster's output starts, and at n_norm */
    size_t cap_norm;
    int32_t *tmp; /* one cluster's normalisation */
    size_t cap_tmp;
} view;

struct lx_grounder {
    char *text;
    size_t len;
    view doc, nd; /* the document; the current needle (scratch) */
    lx_ground_params p;
    uint64_t *claims; /* open addressing of (start << 32 | end) + 1; 0 = empty */
    size_t cap_claims, n_claims;
    int32_t *kmp; /* KMP failure table (scratch) */
    size_t cap_kmp;
    int32_t *dp; /* 6 rows of fuzzy_max_needle + 1 */
};

static void view_free(view *v) {
    free(v->cps);
    free(v->cp_byte);
    free(v->cl);
    free(v->norm);
    free(v->cp0);
    free(v->cp1);
    free(v->first);
    free(v->tmp);
    memset(v, 0, sizeof *v);
}

static int is_space(int32_t c) {
    if (c == 9 || c == 10 || c == 11 || c == 12 || c == 13 || c == 0x85) return 1;
    if (c < 0x80) return c == ' ';
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

/* Scripts written without spaces between words: every character is a
** word of its own, so snapping never swallows a whole line of Han. */
static int unspaced(int32_t c) {
    return (c >= 0x0E00 && c <= 0x0EFF) || (c >= 0x1000 && c <= 0x109F) ||
           (c >= 0x1780 && c <= 0x17FF) || (c >= 0x2E80 && c <= 0x2FDF) ||
           (c >= 0x3005 && c <= 0x3007) || (c >= 0x3040 && c <= 0x30FF) ||
           (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0xFF66 && c <= 0xFF9F) || (c >= 0x20000 && c <= 0x3FFFF);
}

/* Letters, digits and marks that join with their neighbours into words. */
static int joinable(int32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (unspaced(c)) return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_NO;
}

/* A word boundary before position i of s[0..n). */
static int word_edge(const int32_t *s, int n, int i) {
    return i <= 0 || i >= n || !joinable(s[i - 1]) || !joinable(s[i]);
}

static lexie_status grow_cp(view *v, size_t need, lexie_error *err) {
    if (need <= v->cap_cp) return LEXIE_OK;
    size_t c1 = v->cap_cp, c2 = v->cap_cp, c3 = v->cap_cp;
    if (lx_grow((void **)&v->cps, &c1, need, sizeof *v->cps, err) ||
        lx_grow((void **)&v->cp_byte, &c2, need, sizeof *v->cp_byte, err) ||
        lx_grow((void **)&v->cl, &c3, need, 1, err))
        return LEXIE_E_NOMEM;
    v->cap_cp = LX_MIN(c1, LX_MIN(c2, c3));
    return LEXIE_OK;
}

static lexie_status grow_norm(view *v, size_t need, lexie_error *err) {
    if (need <= v->cap_norm) return LEXIE_OK;
    if (need > (size_t)INT_MAX) return lx_fail(err, LEXIE_E_RANGE, "normalised text too long");
    size_t c1 = v->cap_norm, c2 = v->cap_norm, c3 = v->cap_norm, c4 = v->cap_norm;
    if (lx_grow((void **)&v->norm, &c1, need, sizeof *v->norm, err) ||
        lx_grow((void **)&v->cp0, &c2, need, sizeof *v->cp0, err) ||
        lx_grow((void **)&v->cp1, &c3, need, sizeof *v->cp1, err) ||
        lx_grow((void **)&v->first, &c4, need, 1, err))
        return LEXIE_E_NOMEM;
    v->cap_norm = LX_MIN(LX_MIN(c1, c2), LX_MIN(c3, c4));
    return LEXIE_OK;
}

/* Code points, their byte offsets and cluster starts of s[0..n) (valid
** UTF-8, n <= INT_MAX). */
static lexie_status view_decode(view *v, const char *s, size_t n, lexie_error *err) {
    if (grow_cp(v, n + 1, err)) return LEXIE_E_NOMEM;
    int k = 0;
    size_t off = 0;
    utf8proc_int32_t state = 0;
    while (off < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t r =
            utf8proc_iterate((const utf8proc_uint8_t *)s + off, (utf8proc_ssize_t)(n - off), &c);
        if (r <= 0) return lx_fail(err, LEXIE_E_UTF8, "invalid UTF-8 at byte %zu", off);
        v->cps[k] = c;
        v->cp_byte[k] = (int32_t)off;
        v->cl[k] = k == 0 || utf8proc_grapheme_break_stateful(v->cps[k - 1], c, &state);
        off += (size_t)r;
        k++;
    }
    v->n_cp = k;
    v->cp_byte[k] = (int32_t)n;
    v->cl[k] = 1;
    return LEXIE_OK;
}

static lexie_status push_norm(view *v, int32_t c, int a, int b, int first, lexie_error *err) {
    if (grow_norm(v, (size_t)v->n_norm + 2, err)) return LEXIE_E_NOMEM;
    v->norm[v->n_norm] = c;
    v->cp0[v->n_norm] = a;
    v->cp1[v->n_norm] = b;
    v->first[v->n_norm] = (uint8_t)first;
    v->n_norm++;
    return LEXIE_OK;
}

/* NFKC + case fold - ignorables of the cluster s[cp a..b) into v->tmp;
** returns the code points written, or -1 with err filled. */
static long norm_cluster(view *v, const char *s, int a, int b, lexie_error *err) {
    const utf8proc_option_t opt =
        UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s + v->cp_byte[a];
    utf8proc_ssize_t nb = v->cp_byte[b] - v->cp_byte[a];
    for (;;) {
        utf8proc_ssize_t r = utf8proc_decompose(p, nb, v->tmp, (utf8proc_ssize_t)v->cap_tmp, opt);
        if (r < 0) return lx_fail(err, LEXIE_E_INTERNAL, "utf8proc: %s", utf8proc_errmsg(r)), -1;
        if ((size_t)r <= v->cap_tmp) {
            r = utf8proc_normalize_utf32(v->tmp, r, opt);
            if (r < 0)
                return lx_fail(err, LEXIE_E_INTERNAL, "utf8proc: %s", utf8proc_errmsg(r)), -1;
            return (long)r;
        }
        if (lx_grow((void **)&v->tmp, &v->cap_tmp, (size_t)r, sizeof *v->tmp, err)) return -1;
    }
}

/* The normalised view of a decoded v (ground.h: "Normalised means"). */
static lexie_status view_normalize(view *v, const char *s, lexie_error *err) {
    v->n_norm = 0;
    if (grow_norm(v, 1, err)) return LEXIE_E_NOMEM;
    int in_space = 0; /* the last normalised code point is a collapsed whitespace run */
    for (int a = 0; a < v->n_cp;) {
        int b = a + 1, all_space = is_space(v->cps[a]);
        while (b < v->n_cp && !v->cl[b]) all_space &= is_space(v->cps[b++]);
        if (all_space) {
            if (in_space) {
                v->cp1[v->n_norm - 1] = b;
            } else if (push_norm(v, ' ', a, b, 1, err)) {
                return LEXIE_E_NOMEM;
            }
            in_space = 1;
        } else {
            long r = norm_cluster(v, s, a, b, err);
            if (r < 0) return err ? err->code : LEXIE_E_INTERNAL;
            for (long i = 0; i < r; i++)
                if (push_norm(v, v->tmp[i], a, b, i == 0, err)) return LEXIE_E_NOMEM;
            if (r > 0) in_space = 0;
        }
        a = b;
    }
    v->first[v->n_norm] = 1;
    return LEXIE_OK;
}

static lexie_status view_build(view *v, const char *s, size_t n, lexie_error *err) {
    /* utf8proc is never handed a NULL buffer. */
    if (!v->tmp && lx_grow((void **)&v->tmp, &v->cap_tmp, 64, sizeof *v->tmp, err))
        return LEXIE_E_NOMEM;
    lexie_status st = view_decode(v, s, n, err);
    return st ? st : view_normalize(v, s, err);
}

/* ==== Claims ==== */

static uint64_t claim_key(int s, int e) { return ((uint64_t)(uint32_t)s << 32 | (uint32_t)e) + 1; }

static size_t claim_slot(const lx_grounder *g, uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 20) & (g->cap_claims - 1);
    while (g->claims[i] && g->claims[i] != key) i = (i + 1) & (g->cap_claims - 1);
    return i;
}

static int claimed(const lx_grounder *g, int s, int e) {
    return g->n_claims && g->claims[claim_slot(g, claim_key(s, e))] != 0;
}

static lexie_status claim(lx_grounder *g, int s, int e, lexie_error *err) {
    if ((g->n_claims + 1) * 2 > g->cap_claims) { /* keep the load under one half */
        size_t cap = g->cap_claims ? g->cap_claims * 2 : 64;
        uint64_t *old = g->claims;
        size_t old_cap = g->cap_claims;
        g->claims = lx_calloc(cap, sizeof *g->claims, err);
        if (!g->claims) {
            g->claims = old;
            return LEXIE_E_NOMEM;
        }
        g->cap_claims = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i]) g->claims[claim_slot(g, old[i])] = old[i];
        free(old);
    }
    size_t i = claim_slot(g, claim_key(s, e));
    if (!g->claims[i]) {
        g->claims[i] = claim_key(s, e);
        g->n_claims++;
    }
    return LEXIE_OK;
}

void lx_grounder_reset_claims(lx_grounder *g) {
    if (!g || !g->claims) return;
    memset(g->claims, 0, g->cap_claims * sizeof *g->claims);
    g->n_claims = 0;
}

/* ==== Creation ==== */

lx_ground_params lx_ground_default_params(void) {
    lx_ground_params p = {0.8f, 512, 1ll << 26};
    return p;
}

lx_grounder *lx_grounder_new(const char *text, size_t len, const lx_ground_params *p,
                             lexie_error *err) {
    if (!text && len) return lx_fail(err, LEXIE_E_INVALID, "grounder: text is NULL"), NULL;
    if (len > (size_t)INT_MAX - 1)
        return lx_fail(err, LEXIE_E_RANGE, "grounder: text of %zu bytes is over INT_MAX", len),
               NULL;
    size_t bad = 0;
    if (len && !lx_utf8_valid(text, len, &bad))
        return lx_fail(err, LEXIE_E_UTF8, "grounder: invalid UTF-8 at byte %zu", bad), NULL;
    lx_grounder *g = lx_calloc(1, sizeof *g, err);
    if (!g) return NULL;
    lx_ground_params d = lx_ground_default_params();
    g->p = p ? *p : d;
    if (!(g->p.fuzzy_min > 0)) g->p.fuzzy_min = d.fuzzy_min; /* also NaN */
    if (g->p.fuzzy_max_needle == 0) g->p.fuzzy_max_needle = d.fuzzy_max_needle;
    if (g->p.fuzzy_max_cells <= 0) g->p.fuzzy_max_cells = d.fuzzy_max_cells;
    if (g->p.fuzzy_max_needle > 1 << 20) g->p.fuzzy_max_needle = 1 << 20;
    g->len = len;
    g->text = lx_malloc(len + 1, err);
    if (!g->text) goto fail;
    if (len) memcpy(g->text, text, len);
    g->text[len] = 0;
    if (view_build(&g->doc, g->text, len, err)) goto fail;
    if (g->p.fuzzy_max_needle > 0) {
        g->dp = lx_calloc((size_t)6 * ((size_t)g->p.fuzzy_max_needle + 1), sizeof *g->dp, err);
        if (!g->dp) goto fail;
    }
    return g;
fail:
    lx_grounder_free(g);
    return NULL;
}

void lx_grounder_free(lx_grounder *g) {
    if (!g) return;
    free(g->text);
    view_free(&g->doc);
    view_free(&g->nd);
    free(g->claims);
    free(g->kmp);
    free(g->dp);
    free(g);
}

int lx_grounder_n_cp(const lx_grounder *g) { return g ? g->doc.n_cp : 0; }

/* ==== Choosing among occurrences ==== */

/* The best span so far: a higher score wins (fuzzy only; exact and
** normalised score 1), then a larger rank, then an earlier position in
** the cyclic order from `from`. */
typedef struct pick {
    int have, rank, s, e;
    long pos;
    lexie_match match;
    double score;
} pick;

typedef struct search {
    lx_grounder *g;
    int from;
    int nm; /* the normalised needle's length */
    pick best;
} search;

/* rank = unclaimed << 2 | word-bounded << 1 | exact */
static int span_rank(const lx_grounder *g, int s, int e, int exact) {
    const view *d = &g->doc;
    int bounded = word_edge(d->cps, d->n_cp, s) && word_edge(d->cps, d->n_cp, e);
    return !claimed(g, s, e) << 2 | bounded << 1 | exact;
}

static long cyc_pos(const search *q, int s) {
    return s >= q->from ? s - q->from : (long)s + q->g->doc.n_cp + 1 - q->from;
}

static void consider(search *q, int s, int e, int rank, lexie_match m, double score) {
    long pos = cyc_pos(q, s);
    pick *b = &q->best;
    if (b->have && (score < b->score || (score == b->score && rank < b->rank) ||
                    (score == b->score && rank == b->rank && pos >= b->pos)))
        return;
    pick c = {1, rank, s, e, pos, m, score};
    *b = c;
}

static lexie_status kmp_table(lx_grounder *g, const int32_t *p, int m, lexie_error *err) {
    if (lx_grow((void **)&g->kmp, &g->cap_kmp, (size_t)m + 1, sizeof *g->kmp, err))
        return LEXIE_E_NOMEM;
    int32_t *f = g->kmp;
    f[0] = 0;
    for (int i = 1, k = 0; i < m; i++) {
        while (k > 0 && p[i] != p[k]) k = f[k - 1];
        if (p[i] == p[k]) k++;
        f[i] = k;
    }
    return LEXIE_OK;
}

/* Every occurrence of p[0..m) in h[0..n) (table in g->kmp); calls
** visit(q, start) for each. */
static void kmp_scan(search *q, const int32_t *h, int n, const int32_t *p, int m,
                     void (*visit)(search *, int)) {
    const int32_t *f = q->g->kmp;
    for (int i = 0, k = 0; i < n; i++) {
        while (k > 0 && h[i] != p[k]) k = f[k - 1];
        if (h[i] == p[k]) k++;
        if (k == m) {
            visit(q, i - m + 1);
            k = f[k - 1];
        }
    }
}

static void visit_exact(search *q, int s) {
    const view *d = &q->g->doc;
    int e = s + q->g->nd.n_cp;
    if (!d->cl[s] || !d->cl[e]) return; /* splits a cluster */
    consider(q, s, e, span_rank(q->g, s, e, 1), LEXIE_MATCH_EXACT, 1.0);
}

static void visit_norm(search *q, int s) {
    const view *d = &q->g->doc;
    int e = s + q->nm;
    if (!d->first[s] || !d->first[e]) return; /* part of a cluster's output */
    int cs = d->cp0[s], ce = d->cp1[e - 1];
    consider(q, cs, ce, span_rank(q->g, cs, ce, 0), LEXIE_MATCH_NORMALIZED, 1.0);
}

/* ==== Fuzzy alignment ==== */

/* Levenshtein distance between p[0..m) and t[0..n), two rows from g->dp. */
static int levenshtein(const lx_grounder *g, const int32_t *p, int m, const int32_t *t, int n) {
    size_t r = (size_t)g->p.fuzzy_max_needle + 1;
    int32_t *a = g->dp + 4 * r, *b = g->dp + 5 * r;
    for (int i = 0; i <= m; i++) a[i] = i;
    for (int j = 0; j < n; j++) {
        b[0] = j + 1;
        for (int i = 1; i <= m; i++) {
            int v = a[i - 1] + (p[i - 1] != t[j]);
            v = LX_MIN(v, a[i] + 1);
            b[i] = LX_MIN(v, b[i - 1] + 1);
        }
        int32_t *x = a;
        a = b;
        b = x;
    }
    return a[m];
}

/* A word boundary of the normalised text that is also a cluster edge. */
static int norm_edge(const view *d, int k) {
    return d->first[k] && word_edge(d->norm, d->n_norm, k);
}

/* The nearest edge from k stepping by dir (-1, +1), within [lo, hi] and at
** most reach steps; k itself when there is none. */
static int edge_toward(const view *d, int k, int dir, int lo, int hi, int reach) {
    for (int i = k, steps = 0; i >= lo && i <= hi && steps <= reach; i += dir, steps++)
        if (norm_edge(d, i)) return i;
    return k;
}

/* One fuzzy candidate: the normalised span [s, e) is trimmed of spaces,
** widened to whole clusters, snapped to word boundaries where the distance
** does not grow, scored and offered. */
static void fuzzy_span(search *q, const int32_t *p, int m, int s, int e) {
    const view *d = &q->g->doc;
    const int32_t *t = d->norm;
    while (s < e && t[s] == ' ') s++;
    while (e > s && t[e - 1] == ' ') e--;
    while (s > 0 && !d->first[s]) s--;
    while (e < d->n_norm && !d->first[e]) e++;
    if (s >= e) return;
    int dist = levenshtein(q->g, p, m, t + s, e - s);
    int ss[3] = {s, edge_toward(d, s, -1, 0, s, m), edge_toward(d, s, +1, s, e - 1, m)};
    int ee[3] = {e, edge_toward(d, e, +1, e, d->n_norm, m), edge_toward(d, e, -1, s + 1, e, m)};
    int snap_d = INT_MAX, snap_s = s, snap_e = e;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int a = ss[i], b = ee[j];
            if (!norm_edge(d, a) || !norm_edge(d, b)) continue;
            while (a < b && t[a] == ' ') a++;
            while (b > a && t[b - 1] == ' ') b--;
            if (a >= b) continue;
            int dd = levenshtein(q->g, p, m, t + a, b - a);
            if (dd < snap_d) snap_d = dd, snap_s = a, snap_e = b;
        }
    if (snap_d <= dist) dist = snap_d, s = snap_s, e = snap_e;
    double score = 1.0 - (double)dist / m;
    if (score < 0) score = 0;
    int cs = d->cp0[s], ce = d->cp1[e - 1];
    consider(q, cs, ce, span_rank(q->g, cs, ce, 0), LEXIE_MATCH_FUZZY, score);
}

/* Sellers' algorithm: the edit distance of p[0..m) against every
** substring of the normalised text, column by column, each cell carrying
** where its alignment started.  The ends of the best distance (the first
** FUZZY_CANDS distinct ones) become candidates.  Skipped, as ground.h
** says, for a needle over fuzzy_max_needle or a product over
** fuzzy_max_cells: the work is m x n_norm cells. */
static void fuzzy(search *q, const int32_t *p, int m) {
    lx_grounder *g = q->g;
    const view *d = &g->doc;
    const int32_t *t = d->norm;
    int n = d->n_norm;
    if (g->p.fuzzy_max_needle <= 0 || m > g->p.fuzzy_max_needle || n == 0) return;
    if ((long long)m * n > g->p.fuzzy_max_cells || g->p.fuzzy_min > 1) return;
    size_t r = (size_t)g->p.fuzzy_max_needle + 1;
    int32_t *c = g->dp, *st = c + r, *c2 = st + r, *st2 = c2 + r;
    for (int i = 0; i <= m; i++) c[i] = i, st[i] = 0;
    int cs[FUZZY_CANDS], ce[FUZZY_CANDS], nc = 0, best = INT_MAX;
    for (int j = 1; j <= n; j++) {
        int32_t ch = t[j - 1];
        c2[0] = 0;
        st2[0] = j;
        for (int i = 1; i <= m; i++) {
            int v = c[i - 1] + (p[i - 1] != ch), from = st[i - 1];
            if (c[i] + 1 < v) v = c[i] + 1, from = st[i];
            if (c2[i - 1] + 1 < v) v = c2[i - 1] + 1, from = st2[i - 1];
            c2[i] = v;
            st2[i] = from;
        }
        int32_t *x = c;
        c = c2, c2 = x;
        x = st, st = st2, st2 = x;
        if (c[m] < best) best = c[m], nc = 0;
        if (c[m] == best && nc < FUZZY_CANDS && !(nc && cs[nc - 1] == st[m]))
            cs[nc] = st[m], ce[nc] = j, nc++;
    }
    /* No substring is closer than best, so none can reach the floor. */
    if (1.0 - (double)best / m < (double)g->p.fuzzy_min - 1e-6) return;
    for (int i = 0; i < nc; i++) fuzzy_span(q, p, m, cs[i], ce[i]);
}

/* ==== Grounding ==== */

static const int32_t quote_pairs[][2] = {{'"', '"'},       {'\'', '\''},     {0x201C, 0x201D},
                                         {0x2018, 0x2019}, {0x00AB, 0x00BB}, {0x300C, 0x300D},
                                         {0x300E, 0x300F}, {0x201E, 0x201C}, {'`', '`'}};

static int32_t cp_at(const char *s, size_t n, size_t off, size_t *len) {
    utf8proc_int32_t c = -1;
    utf8proc_ssize_t r =
        utf8proc_iterate((const utf8proc_uint8_t *)s + off, (utf8proc_ssize_t)(n - off), &c);
    *len = r > 0 ? (size_t)r : 1;
    return c;
}

static size_t cp_back(const char *s, size_t b) {
    do b--;
    while (b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80);
    return b;
}

static void trim_space(const char *s, size_t *a, size_t *b) {
    size_t l;
    while (*a < *b && is_space(cp_at(s, *b, *a, &l))) *a += l;
    while (*a < *b) {
        size_t k = cp_back(s, *b);
        if (!is_space(cp_at(s, *b, k, &l))) break;
        *b = k;
    }
}

/* The trimmed needle s[*a..*b) (ground.h): whitespace, then one pair of
** surrounding quotes, then whitespace again. */
static void trim_needle(const char *s, size_t n, size_t *a, size_t *b) {
    *a = 0, *b = n;
    trim_space(s, a, b);
    if (*b - *a < 2) return;
    size_t l1, l2, k = cp_back(s, *b);
    int32_t open = cp_at(s, *b, *a, &l1), close = cp_at(s, *b, k, &l2);
    if (k < *a + l1) return; /* one code point */
    for (size_t i = 0; i < LX_ARRAY_LEN(quote_pairs); i++)
        if (open == quote_pairs[i][0] && close == quote_pairs[i][1]) {
            *a += l1, *b = k;
            trim_space(s, a, b);
            return;
        }
}

/* Searches the trimmed needle s[0..n) into q->best. */
static lexie_status find(search *q, const char *s, size_t n, lexie_error *err) {
    lx_grounder *g = q->g;
    view *nd = &g->nd;
    const view *d = &g->doc;
    if (view_build(nd, s, n, err)) return err ? err->code : LEXIE_E_NOMEM;
    if (nd->n_cp <= d->n_cp) {
        if (kmp_table(g, nd->cps, nd->n_cp, err)) return LEXIE_E_NOMEM;
        kmp_scan(q, d->cps, d->n_cp, nd->cps, nd->n_cp, visit_exact);
    }
    /* Unclaimed, word-bounded and exact: no normalised occurrence ranks as high. */
    if (q->best.have && q->best.rank == 7) return LEXIE_OK;
    int lo = 0, hi = nd->n_norm;
    while (lo < hi && nd->norm[lo] == ' ') lo++;
    while (hi > lo && nd->norm[hi - 1] == ' ') hi--;
    q->nm = hi - lo;
    if (q->nm == 0) return LEXIE_OK;
    if (q->nm <= d->n_norm) {
        if (kmp_table(g, nd->norm + lo, q->nm, err)) return LEXIE_E_NOMEM;
        kmp_scan(q, d->norm, d->n_norm, nd->norm + lo, q->nm, visit_norm);
    }
    if (q->best.have) return LEXIE_OK;
    fuzzy(q, nd->norm + lo, q->nm);
    if (q->best.have && q->best.score < (double)g->p.fuzzy_min - 1e-6) q->best.have = 0;
    return LEXIE_OK;
}

static void set_none(lexie_mention *m) {
    m->text = m->model_text = NULL;
    m->start = m->end = -1;
    m->byte_start = m->byte_end = -1;
    m->match = LEXIE_MATCH_NONE;
    m->match_score = 0;
}

/* Fills out from the chosen span and claims it. */
static lexie_status fill(lx_grounder *g, const pick *b, const char *needle, size_t n,
                         const char *trimmed, size_t nt, lexie_mention *out, lexie_error *err) {
    const view *d = &g->doc;
    size_t bs = (size_t)d->cp_byte[b->s], be = (size_t)d->cp_byte[b->e];
    out->text = lx_strndup(g->text + bs, be - bs, err);
    int same = be - bs == nt && memcmp(g->text + bs, trimmed, nt) == 0;
    if (!same) out->model_text = lx_strndup(needle, n, err);
    if (!out->text || (!same && !out->model_text) || claim(g, b->s, b->e, err)) {
        free(out->text);
        free(out->model_text);
        set_none(out);
        return LEXIE_E_NOMEM;
    }
    out->start = b->s;
    out->end = b->e;
    out->byte_start = (long)bs;
    out->byte_end = (long)be;
    out->match = b->match;
    out->match_score = (float)b->score;
    return LEXIE_OK;
}

lexie_status lx_ground_from(lx_grounder *g, const char *needle, size_t n, int from_cp,
                            lexie_mention *out, lexie_error *err) {
    if (out) set_none(out);
    if (!g || !out || (!needle && n)) return lx_fail(err, LEXIE_E_INVALID, "ground: bad argument");
    size_t bad = 0, a, b;
    if (n > (size_t)INT_MAX - 1)
        return lx_fail(err, LEXIE_E_RANGE, "ground: needle of %zu bytes is over INT_MAX", n);
    if (n && !lx_utf8_valid(needle, n, &bad))
        return lx_fail(err, LEXIE_E_UTF8, "ground: needle has invalid UTF-8 at byte %zu", bad);
    search q;
    memset(&q, 0, sizeof q);
    q.g = g;
    q.from = LX_MAX(0, LX_MIN(from_cp, g->doc.n_cp));
    trim_needle(needle ? needle : "", n, &a, &b);
    if (b > a) {
        lexie_status st = find(&q, needle + a, b - a, err);
        if (st) return st;
    }
    if (q.best.have) return fill(g, &q.best, needle, n, needle + a, b - a, out, err);
    out->model_text = lx_strndup(needle ? needle : "", n, err);
    return out->model_text ? LEXIE_OK : LEXIE_E_NOMEM;
}

lexie_status lx_ground(lx_grounder *g, const char *needle, size_t n, lexie_mention *out,
                       lexie_error *err) {
    return lx_ground_from(g, needle, n, 0, out, err);
}
