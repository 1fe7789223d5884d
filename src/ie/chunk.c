/*
** chunk.c -- long documents: cutting a text that exceeds the context into
** overlapping chunks of whole sentences (never truncating), and merging
** what was extracted from each chunk back into one document's result:
** offsets shifted to the document, duplicates from the overlaps removed.
** The rules are in ground.h.
*/
#include "ie/ground.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ==== Sentences ==== */

/* A unit of packing: a sentence, or a piece of one too long to fit. */
typedef struct unit {
    size_t b0, b1;
    int n_tokens;
} unit;

typedef struct planner {
    const char *text;
    size_t len;
    int max_tokens;
    lx_token_count_fn count_fn;
    void *user;
    lexie_error *err;
    unit *units;
    size_t n_units, cap_units;
    size_t *ends; /* candidate cut points (scratch) */
    size_t cap_ends;
} planner;

static int32_t cp_at(const char *s, size_t n, size_t off, size_t *l) {
    utf8proc_int32_t c = -1;
    utf8proc_ssize_t r =
        utf8proc_iterate((const utf8proc_uint8_t *)s + off, (utf8proc_ssize_t)(n - off), &c);
    *l = r > 0 ? (size_t)r : 1;
    return c;
}

static int is_space(int32_t c) {
    if (c == 9 || c == 10 || c == 11 || c == 12 || c == 13 || c == ' ' || c == 0x85) return 1;
    if (c < 0x80) return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

static int is_closer(int32_t c) {
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}' || c == 0x201D ||
           c == 0x2019 || c == 0x00BB || c == 0x300D || c == 0x300F || c == 0xFF09;
}

static int is_wide_end(int32_t c) { return c == 0x3002 || c == 0xFF01 || c == 0xFF1F; }

/* Common abbreviations that take a period (compared without it,
** case-insensitively). */
static const char *const abbrevs[] = {
    "mr",  "mrs",  "ms",  "dr",     "prof", "sr",   "jr",   "st",   "mt",   "vs",  "etc",
    "fig", "figs", "al",  "approx", "inc",  "ltd",  "co",   "corp", "dept", "jan", "feb",
    "mar", "apr",  "jun", "jul",    "aug",  "sep",  "sept", "oct",  "nov",  "dec", "vol",
    "pp",  "ed",   "eds", "gen",    "col",  "lt",   "sgt",  "capt", "rev",  "gov", "sen",
    "rep", "hon",  "cf",  "ca",     "viz",  "resp", "eq",   "eqs",  "ref",  "refs"};

/* Whether the period at byte i ends an abbreviation: the ASCII word of
** letters and dots before it is listed, is one capital (an initial), or is
** dotted with segments of at most two letters ("e.g", "U.S", "Ph.D"). */
static int abbreviation(const char *s, size_t i) {
    size_t t = i;
    while (t > 0 && (isalpha((unsigned char)s[t - 1]) || s[t - 1] == '.')) t--;
    while (t < i && s[t] == '.') t++;
    size_t n = i - t;
    if (n == 0) return 0;
    if (t > 0 && (unsigned char)s[t - 1] >= 0x80) return 0; /* part of a non-ASCII word */
    if (n == 1) return isupper((unsigned char)s[t]);        /* an initial, "J. Doe" */
    if (memchr(s + t, '.', n)) {
        size_t seg = 0;
        for (size_t k = t; k < i; k++) {
            if (s[k] == '.') {
                if (seg == 0 || seg > 2) return 0;
                seg = 0;
            } else {
                seg++;
            }
        }
        return seg >= 1 && seg <= 2;
    }
    for (size_t k = 0; k < LX_ARRAY_LEN(abbrevs); k++)
        if (strlen(abbrevs[k]) == n) {
            size_t m = 0;
            while (m < n && tolower((unsigned char)s[t + m]) == abbrevs[k][m]) m++;
            if (m == n) return 1;
        }
    return 0;
}

static size_t skip_space(const char *s, size_t n, size_t i) {
    size_t l;
    while (i < n && is_space(cp_at(s, n, i, &l))) i += l;
    return i;
}

/* If a sentence ends at byte i (a terminator), the byte where the next one
** starts (after closers and whitespace); else 0. */
static size_t sentence_end(const char *s, size_t n, size_t i) {
    size_t l, j = i;
    int32_t c = cp_at(s, n, i, &l);
    if (c == '\n') return skip_space(s, n, i + l);
    if (is_wide_end(c)) {
        while (j < n && (is_wide_end(c = cp_at(s, n, j, &l)) || is_closer(c))) j += l;
        return skip_space(s, n, j);
    }
    if (c != '.' && c != '!' && c != '?') return 0;
    int only_dot = 1;
    while (j < n && (c = cp_at(s, n, j, &l), c == '.' || c == '!' || c == '?' || c == 0x2026)) {
        only_dot &= c == '.';
        j += l;
    }
    size_t run_end = j;
    while (j < n && is_closer(cp_at(s, n, j, &l))) j += l;
    if (j < n && !is_space(cp_at(s, n, j, &l))) return 0; /* 3.14, example.com */
    if (only_dot && run_end == i + 1 && abbreviation(s, i)) return 0;
    size_t k = skip_space(s, n, j);
    if (k < n && utf8proc_category(cp_at(s, n, k, &l)) == UTF8PROC_CATEGORY_LL) return 0;
    return k;
}

size_t lx_sentence_next(const char *text, size_t len, size_t from) {
    size_t l;
    for (size_t i = from; i < len; i += l) {
        size_t next = sentence_end(text, len, i);
        if (next) return next;
        cp_at(text, len, i, &l);
    }
    return len;
}

/* ==== Counting and cutting ==== */

static lexie_status count(planner *p, size_t b0, size_t b1, int *out) {
    lexie_error e;
    memset(&e, 0, sizeof e);
    int n = p->count_fn(p->text + b0, b1 - b0, p->user, &e);
    if (n >= 0) {
        *out = n;
        return LEXIE_OK;
    }
    if (!e.code) return lx_fail(p->err, LEXIE_E_INTERNAL, "chunk: the token counter failed");
    if (p->err) *p->err = e;
    return e.code;
}

static lexie_status push_unit(planner *p, size_t b0, size_t b1, int n_tokens) {
    if (lx_grow((void **)&p->units, &p->cap_units, p->n_units + 1, sizeof *p->units, p->err))
        return LEXIE_E_NOMEM;
    unit u = {b0, b1, n_tokens};
    p->units[p->n_units++] = u;
    return LEXIE_OK;
}

/* The longest prefix text[b0..end) that fits max_tokens, end among the
** cut points after b0 up to b1 (after each whitespace run when by_word,
** else every code point); *end = b0 when none fits.  Assumes that a
** longer prefix does not count fewer tokens. */
static lexie_status fit(planner *p, size_t b0, size_t b1, int by_word, size_t *end, int *ntok) {
    size_t ne = 0, l;
    for (size_t i = b0; i < b1;) {
        int sp = is_space(cp_at(p->text, b1, i, &l));
        i += l;
        if (by_word && !(sp && (i >= b1 || !is_space(cp_at(p->text, b1, i, &l)))) && i < b1)
            continue;
        if (lx_grow((void **)&p->ends, &p->cap_ends, ne + 1, sizeof *p->ends, p->err))
            return LEXIE_E_NOMEM;
        p->ends[ne++] = i;
    }
    /* Galloping, then binary search: the counts stay near the piece's
    ** size, not the rest of a very long sentence. */
    long lo = -1, hi = (long)ne - 1; /* ends[lo] fits (-1: nothing); ends[> hi] do not */
    *end = b0;
    for (long k = 0; k <= hi; k = 2 * k + 1) {
        int n;
        lexie_status st = count(p, b0, p->ends[k], &n);
        if (st) return st;
        if (n > p->max_tokens) {
            hi = k - 1;
            break;
        }
        lo = k;
        *end = p->ends[k];
        *ntok = n;
    }
    while (lo < hi) {
        long mid = lo + (hi - lo + 1) / 2;
        int n;
        lexie_status st = count(p, b0, p->ends[mid], &n);
        if (st) return st;
        if (n <= p->max_tokens) {
            lo = mid;
            *end = p->ends[mid];
            *ntok = n;
        } else {
            hi = mid - 1;
        }
    }
    return LEXIE_OK;
}

/* A sentence over max_tokens: pieces cut at whitespace, or inside a word
** that alone is too long. */
static lexie_status split_long(planner *p, size_t b0, size_t b1) {
    while (b0 < b1) {
        size_t end, l;
        int n = 0;
        lexie_status st = fit(p, b0, b1, 1, &end, &n);
        if (st) return st;
        if (end == b0) {
            size_t w = b0;
            while (w < b1 && !is_space(cp_at(p->text, b1, w, &l))) w += l;
            if ((st = fit(p, b0, w > b0 ? w : b1, 0, &end, &n))) return st;
        }
        if (end == b0)
            return lx_fail(p->err, LEXIE_E_RANGE,
                           "chunk: the code point at byte %zu alone counts over %d tokens", b0,
                           p->max_tokens);
        if ((st = push_unit(p, b0, end, n))) return st;
        b0 = end;
    }
    return LEXIE_OK;
}

static lexie_status add_sentence(planner *p, size_t b0, size_t b1) {
    int n;
    lexie_status st = count(p, b0, b1, &n);
    if (st) return st;
    return n <= p->max_tokens ? push_unit(p, b0, b1, n) : split_long(p, b0, b1);
}

static lexie_status make_units(planner *p) {
    for (size_t start = 0; start < p->len;) {
        size_t next = lx_sentence_next(p->text, p->len, start);
        lexie_status st = add_sentence(p, start, next);
        if (st) return st;
        start = next;
    }
    return LEXIE_OK;
}

/* ==== Packing ==== */

static int cp_count(const char *s, size_t b0, size_t b1) {
    int n = 0;
    for (size_t i = b0; i < b1; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static lexie_status push_chunk(planner *p, lx_chunk **out, int *n, size_t *cap, size_t b0,
                               size_t b1, int ntok, int *cp_at_b0, size_t *last_b0) {
    if (lx_grow((void **)out, cap, (size_t)*n + 1, sizeof **out, p->err)) return LEXIE_E_NOMEM;
    *cp_at_b0 += cp_count(p->text, *last_b0, b0);
    *last_b0 = b0;
    lx_chunk c = {b0, b1, *cp_at_b0, *cp_at_b0 + cp_count(p->text, b0, b1), ntok};
    (*out)[(*n)++] = c;
    return LEXIE_OK;
}

/* Units [i, *j) that fit, verified by counting the chunk's text itself
** (a sum of sentence counts is only an estimate); *ntok its count. */
static lexie_status pack_from(planner *p, size_t i, size_t *j, int *ntok) {
    long sum = 0;
    size_t k = i;
    while (k < p->n_units && sum + p->units[k].n_tokens <= p->max_tokens)
        sum += p->units[k++].n_tokens;
    if (k == i) k = i + 1; /* every unit fits alone */
    for (;;) {
        lexie_status st = count(p, p->units[i].b0, p->units[k - 1].b1, ntok);
        if (st) return st;
        if (*ntok <= p->max_tokens || k == i + 1) break;
        k--;
    }
    *j = k;
    return LEXIE_OK;
}

static lexie_status pack(planner *p, int overlap, lx_chunk **out, int *n) {
    size_t cap = 0, i = 0, prev_j = 0, last_b0 = 0;
    int cp_b0 = 0;
    for (;;) {
        size_t j;
        int ntok;
        lexie_status st = pack_from(p, i, &j, &ntok);
        if (st) return st;
        /* A chunk that adds no unit past the previous one is useless: start
        ** later, giving up some overlap. */
        while (j <= prev_j && i + 1 < p->n_units) {
            i++;
            if ((st = pack_from(p, i, &j, &ntok))) return st;
        }
        st =
            push_chunk(p, out, n, &cap, p->units[i].b0, p->units[j - 1].b1, ntok, &cp_b0, &last_b0);
        if (st) return st;
        if (j >= p->n_units) return LEXIE_OK;
        prev_j = j;
        i = j > (size_t)overlap && j - (size_t)overlap > i ? j - (size_t)overlap : i + 1;
    }
}

lexie_status lx_chunk_plan(const char *text, size_t len, int max_tokens, int overlap,
                           lx_token_count_fn count_fn, void *user, lx_chunk **out, int *n,
                           lexie_error *err) {
    if (out) *out = NULL;
    if (n) *n = 0;
    if (!out || !n || !count_fn || (!text && len) || max_tokens < 1 || overlap < 0)
        return lx_fail(err, LEXIE_E_INVALID, "chunk: bad argument");
    if (len > (size_t)INT_MAX)
        return lx_fail(err, LEXIE_E_RANGE, "chunk: text of %zu bytes is over INT_MAX", len);
    size_t bad = 0;
    if (len && !lx_utf8_valid(text, len, &bad))
        return lx_fail(err, LEXIE_E_UTF8, "chunk: invalid UTF-8 at byte %zu", bad);
    planner p = {text ? text : "", len, max_tokens, count_fn, user, err, NULL, 0, 0, NULL, 0};
    size_t cap = 0, last_b0 = 0;
    int whole = 0, cp0 = 0;
    lexie_status st = len ? count(&p, 0, len, &whole) : LEXIE_OK;
    if (!st && whole <= max_tokens)
        st = push_chunk(&p, out, n, &cap, 0, len, whole, &cp0, &last_b0);
    else if (!st && !(st = make_units(&p)))
        st = pack(&p, overlap, out, n);
    free(p.units);
    free(p.ends);
    if (st) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return st;
}

/* ==== Merging ==== */

void lx_mention_shift(lexie_mention *m, long dbytes, int dcp) {
    if (!m || m->start < 0) return;
    m->start += dcp;
    m->end += dcp;
    m->byte_start += dbytes;
    m->byte_end += dbytes;
}

typedef struct sorter {
    const char *base;
    const lx_dedupe_ops *ops;
} sorter;

/* Key order, then index order: a stable sort. */
static int idx_less(const sorter *s, int a, int b) {
    int c = s->ops->cmp(s->base + (size_t)a * s->ops->size, s->base + (size_t)b * s->ops->size);
    return c < 0 || (c == 0 && a < b);
}

/* Bottom-up merge sort of idx[0..n) with tmp[0..n). */
static void sort_idx(const sorter *s, int *idx, int *tmp, int n) {
    for (int w = 1; w < n; w *= 2) {
        for (int lo = 0; lo < n; lo += 2 * w) {
            int mid = LX_MIN(lo + w, n), hi = LX_MIN(lo + 2 * w, n), a = lo, b = mid, k = lo;
            while (a < mid && b < hi) tmp[k++] = idx_less(s, idx[b], idx[a]) ? idx[b++] : idx[a++];
            while (a < mid) tmp[k++] = idx[a++];
            while (b < hi) tmp[k++] = idx[b++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof *idx);
    }
}

static void swap_bytes(char *a, char *b, char *tmp, size_t n) {
    memcpy(tmp, a, n);
    memcpy(a, b, n);
    memcpy(b, tmp, n);
}

lexie_status lx_dedupe(void *items, int *n, const lx_dedupe_ops *ops, int *remap,
                       lexie_error *err) {
    if (!n || *n < 0 || !ops || !ops->cmp || !ops->better || !ops->size || (*n && !items))
        return lx_fail(err, LEXIE_E_INVALID, "dedupe: bad argument");
    int cnt = *n;
    if (cnt == 0) return LEXIE_OK;
    size_t bytes;
    if (!lx_mul_ok((size_t)cnt, 3 * sizeof(int), &bytes) || bytes + ops->size < bytes)
        return lx_fail(err, LEXIE_E_NOMEM, "dedupe: %d items", cnt);
    int *idx = lx_malloc(bytes + ops->size, err);
    if (!idx) return LEXIE_E_NOMEM;
    int *tmp = idx + cnt, *lead = tmp + cnt;
    char *base = items, *swap = (char *)(lead + cnt);
    size_t sz = ops->size;
    sorter s = {base, ops};
    for (int i = 0; i < cnt; i++) idx[i] = i;
    sort_idx(&s, idx, tmp, cnt);
    /* Each group of equal keys: its first item (lowest index) takes the
    ** best one's contents; the rest are cleared. */
    for (int g0 = 0, g1; g0 < cnt; g0 = g1) {
        int first = idx[g0], win = first;
        for (g1 = g0 + 1;
             g1 < cnt && ops->cmp(base + (size_t)first * sz, base + (size_t)idx[g1] * sz) == 0;
             g1++)
            if (ops->better(base + (size_t)idx[g1] * sz, base + (size_t)win * sz)) win = idx[g1];
        if (win != first) swap_bytes(base + (size_t)win * sz, base + (size_t)first * sz, swap, sz);
        for (int k = g0; k < g1; k++) {
            lead[idx[k]] = first;
            if (idx[k] != first && ops->clear) ops->clear(base + (size_t)idx[k] * sz);
        }
    }
    int m = 0;
    for (int i = 0; i < cnt; i++) {
        if (lead[i] != i) continue;
        tmp[i] = m; /* the new index of the survivor at i */
        if (m != i) memcpy(base + (size_t)m * sz, base + (size_t)i * sz, sz);
        m++;
    }
    if (remap)
        for (int i = 0; i < cnt; i++) remap[i] = tmp[lead[i]];
    free(idx);
    *n = m;
    return LEXIE_OK;
}

static int str_cmp(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

/* The span part of a mention's key (no type). */
static int span_cmp(const lexie_mention *a, const lexie_mention *b) {
    int ga = a->start >= 0, gb = b->start >= 0;
    if (ga != gb) return gb - ga; /* grounded first */
    if (!ga) return str_cmp(a->model_text, b->model_text);
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return 0;
}

int lx_mention_key_cmp(const lexie_mention *a, const lexie_mention *b) {
    int c = str_cmp(a->type, b->type);
    return c ? c : span_cmp(a, b);
}

static int conf_better(float a, float b) { return a > b; }

static int mention_cmp(const void *a, const void *b) { return lx_mention_key_cmp(a, b); }
static int mention_better(const void *a, const void *b) {
    const lexie_mention *x = a, *y = b;
    if (x->confidence != y->confidence) return conf_better(x->confidence, y->confidence);
    return x->match < y->match;
}
static void mention_clear(void *m) { lexie_mention_clear(m); }

lexie_status lx_mentions_dedupe(lexie_mention *ms, int *n, int *remap, lexie_error *err) {
    const lx_dedupe_ops ops = {sizeof *ms, mention_cmp, mention_better, mention_clear};
    return lx_dedupe(ms, n, &ops, remap, err);
}

static int triple_cmp(const void *a, const void *b) {
    const lexie_triple *x = a, *y = b;
    int c = span_cmp(&x->subject, &y->subject);
    if (!c) c = span_cmp(&x->relation, &y->relation);
    return c ? c : span_cmp(&x->object, &y->object);
}
static int triple_better(const void *a, const void *b) {
    return conf_better(((const lexie_triple *)a)->confidence,
                       ((const lexie_triple *)b)->confidence);
}
static void triple_clear(void *p) {
    lexie_triple *t = p;
    lexie_mention_clear(&t->subject);
    lexie_mention_clear(&t->relation);
    lexie_mention_clear(&t->object);
    lexie_mention_clear(t->time);
    lexie_mention_clear(t->place);
    free(t->time);
    free(t->place);
    memset(t, 0, sizeof *t);
}

lexie_status lx_triples_dedupe(lexie_triple *ts, int *n, lexie_error *err) {
    const lx_dedupe_ops ops = {sizeof *ts, triple_cmp, triple_better, triple_clear};
    return lx_dedupe(ts, n, &ops, NULL, err);
}

static int event_cmp(const void *a, const void *b) {
    const lexie_event *x = a, *y = b;
    int c = lx_mention_key_cmp(&x->trigger, &y->trigger);
    if (c) return c;
    if (x->n_args != y->n_args) return x->n_args < y->n_args ? -1 : 1;
    for (int i = 0; i < x->n_args; i++)
        if ((c = lx_mention_key_cmp(&x->args[i], &y->args[i]))) return c;
    return 0;
}
static int event_better(const void *a, const void *b) {
    return conf_better(((const lexie_event *)a)->confidence, ((const lexie_event *)b)->confidence);
}
static void event_clear(void *p) {
    lexie_event *e = p;
    lexie_mention_clear(&e->trigger);
    for (int i = 0; i < e->n_args; i++) lexie_mention_clear(&e->args[i]);
    free(e->args);
    memset(e, 0, sizeof *e);
}

lexie_status lx_events_dedupe(lexie_event *es, int *n, lexie_error *err) {
    const lx_dedupe_ops ops = {sizeof *es, event_cmp, event_better, event_clear};
    return lx_dedupe(es, n, &ops, NULL, err);
}

static int relation_cmp(const void *a, const void *b) {
    const lexie_relation *x = a, *y = b;
    if (x->head != y->head) return x->head < y->head ? -1 : 1;
    if (x->tail != y->tail) return x->tail < y->tail ? -1 : 1;
    return str_cmp(x->label, y->label);
}
static int relation_better(const void *a, const void *b) {
    return conf_better(((const lexie_relation *)a)->confidence,
                       ((const lexie_relation *)b)->confidence);
}
static void relation_clear(void *p) {
    lexie_relation *r = p;
    free(r->label);
    r->label = NULL;
}

lexie_status lx_relations_dedupe(lexie_relation *rs, int *n, lexie_error *err) {
    const lx_dedupe_ops ops = {sizeof *rs, relation_cmp, relation_better, relation_clear};
    return lx_dedupe(rs, n, &ops, NULL, err);
}
