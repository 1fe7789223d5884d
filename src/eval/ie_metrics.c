/*
** ie_metrics.c -- strict entity F1 and PHEE's event scores over the
** extractor's mentions, the text helpers the ADELIE and PHEE scorers share
** (Python's lower() and split()), a markdown table parser for on-demand
** answers, and the conversions of a
** lexie_extraction into the answer shapes the upstream scorers read.
**
** Both scorers reduce mentions to keys and count a multiset (PHEE) or set
** (entities) intersection by sorting, so a document costs O(n log n).
*/
#include "ie_data.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ==== Counts ==== */

void lx_prf_add(lx_prf *into, const lx_prf *c) {
    into->tp += c->tp;
    into->pred += c->pred;
    into->gold += c->gold;
}

/* ==== Python's text primitives ==== */

/* str.lower() one code point at a time (utf8proc's simple mapping; Python
** also applies the few one-to-many mappings, e.g. U+0130). */
void lx_py_lower(const char *s, lx_jbuf *out) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (*p) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, -1, &cp);
        if (k <= 0) { /* not UTF-8: keep the byte */
            lx_jbuf_putc(out, (char)*p++);
            continue;
        }
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), enc);
        lx_jbuf_add(out, (const char *)enc, (size_t)m);
        p += k;
    }
    if (!out->data) lx_jbuf_add(out, "", 0);
}

/* str.isspace() of the code point starting at s; *len gets its bytes. */
int lx_py_space(const char *s, int *len) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &cp);
    *len = k > 0 ? (int)k : 1;
    if (k <= 0) return 0;
    if ((cp >= 9 && cp <= 13) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
        cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
        cp == 0x202f || cp == 0x205f || cp == 0x3000)
        return 1;
    return 0;
}

/* ==== Strict entity F1 ==== */

typedef struct ekey {
    const char *type, *text; /* text: ungrounded only */
    int s, e;
} ekey;

static int cmp_ekey(const void *a, const void *b) {
    const ekey *x = a, *y = b;
    int c = strcmp(x->type, y->type);
    if (c) return c;
    if (x->text || y->text) return strcmp(x->text ? x->text : "", y->text ? y->text : "");
    if (x->s != y->s) return x->s < y->s ? -1 : 1;
    return (x->e > y->e) - (x->e < y->e);
}

/* The distinct keys of m[0..n): grounded ones by (type, start, end), the
** ungrounded ones (when keep_none) by (type, model_text) after them. */
static int ekeys(const lexie_mention *m, int n, ekey *k, int *n_none) {
    int g = 0, u = 0;
    for (int i = 0; i < n; i++)
        if (m[i].match != LEXIE_MATCH_NONE && m[i].start >= 0) g++;
    for (int i = 0, a = 0, b = g; i < n; i++) {
        const char *ty = m[i].type ? m[i].type : "";
        if (m[i].match != LEXIE_MATCH_NONE && m[i].start >= 0)
            k[a++] = (ekey){ty, NULL, m[i].start, m[i].end};
        else
            k[b++] = (ekey){ty, m[i].model_text ? m[i].model_text : "", -1, -1}, u++;
    }
    int nk[2] = {0, 0};
    ekey *part[2] = {k, k + g};
    int len[2] = {g, u};
    for (int p = 0; p < 2; p++) {
        qsort(part[p], (size_t)len[p], sizeof *k, cmp_ekey);
        for (int i = 0; i < len[p]; i++)
            if (i == 0 || cmp_ekey(&part[p][i], &part[p][nk[p] - 1]) != 0)
                part[p][nk[p]++] = part[p][i];
    }
    *n_none = nk[1];
    return nk[0];
}

lexie_status lx_ie_score_entities(const lexie_mention *pred, int n_pred, const lexie_mention *gold,
                                  int n_gold, lx_prf *m, lexie_error *err) {
    ekey *kp = lx_calloc((size_t)LX_MAX(n_pred, 0) + 1, sizeof *kp, err);
    ekey *kg = lx_calloc((size_t)LX_MAX(n_gold, 0) + 1, sizeof *kg, err);
    if (!kp || !kg) {
        free(kp);
        free(kg);
        return LEXIE_E_NOMEM;
    }
    int up, ug;
    int np = ekeys(pred, LX_MAX(n_pred, 0), kp, &up), ng = ekeys(gold, LX_MAX(n_gold, 0), kg, &ug);
    int64_t tp = 0;
    for (int i = 0, j = 0; i < np && j < ng;) {
        int c = cmp_ekey(&kp[i], &kg[j]);
        if (c == 0) tp++;
        i += c <= 0;
        j += c >= 0;
    }
    m->tp += tp;
    m->pred += np + up;
    m->gold += ng + ug;
    free(kp);
    free(kg);
    return LEXIE_OK;
}

/* ==== PHEE ==== */

void lx_phee_normalize(const char *s, lx_jbuf *out) {
    lx_jbuf low = {0}, a = {0};
    lx_py_lower(s, &low);
    /* remove_punc: whitespace tokens, cut at ASCII punctuation into pieces. */
    for (const char *p = low.data ? low.data : ""; *p;) {
        int l;
        if (lx_py_space(p, &l) || (*p > 0 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", *p))) {
            if (a.len && a.data[a.len - 1] != ' ') lx_jbuf_putc(&a, ' ');
            p += l > 0 ? l : 1;
            continue;
        }
        lx_jbuf_add(&a, p, 1);
        p++;
    }
    /* remove_articles (\b(a|an|the)\b: word runs; bytes >= 0x80 count as
    ** word characters) and white_space_fix. */
    lx_jbuf_reset(out);
    const char *t = a.data ? a.data : "";
    for (size_t i = 0, n = a.len; i < n;) {
        size_t j = i;
        while (j < n && t[j] != ' ') j++;
        size_t w = j - i;
        int art = (w == 1 && t[i] == 'a') || (w == 2 && !memcmp(t + i, "an", 2)) ||
                  (w == 3 && !memcmp(t + i, "the", 3));
        if (w && !art) {
            if (out->len) lx_jbuf_putc(out, ' ');
            lx_jbuf_add(out, t + i, w);
        }
        i = j + 1;
    }
    if (!out->data) lx_jbuf_add(out, "", 0);
    if (low.oom || a.oom) out->oom = 1; /* a partial string must not pass as whole */
    lx_jbuf_free(&low);
    lx_jbuf_free(&a);
}

typedef struct pkey {
    int cat; /* 0 trigger, 1 Subject, 2 Treatment, 3 Effect */
    char *key;
} pkey;

static int cmp_pkey(const void *a, const void *b) {
    const pkey *x = a, *y = b;
    if (x->cat != y->cat) return x->cat < y->cat ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int role_cat(const char *role) {
    static const char *const r[] = {"subject", "treatment", "effect"};
    for (int i = 0; role && i < 3; i++) {
        size_t n = strlen(r[i]);
        if (strlen(role) == n) {
            size_t k = 0;
            while (k < n && (role[k] | 0x20) == r[i][k]) k++;
            if (k == n) return i + 1;
        }
    }
    return 0;
}

/* "event type \x1f role \x1f span" for one mention; is_gold marks an
** ungrounded gold mention apart so that it never matches. */
static char *pkey_text(const char *etype, int cat, const lexie_mention *m, lx_phee_mode mode,
                       int is_gold, lx_jbuf *tmp) {
    lx_jbuf b = {0};
    lx_jbuf_printf(&b, "%s\x1f%d\x1f", etype ? etype : "", cat);
    int grounded = m->match != LEXIE_MATCH_NONE && m->start >= 0;
    if (mode == LX_PHEE_SPAN) {
        if (grounded)
            lx_jbuf_printf(&b, "%d:%d", m->start, m->end);
        else
            lx_jbuf_puts(&b, is_gold ? "\x02" : "\x01");
    } else {
        const char *s = grounded && m->text ? m->text : m->model_text ? m->model_text : "";
        lx_phee_normalize(s, tmp);
        lx_jbuf_puts(&b, tmp->data ? tmp->data : "");
    }
    if (b.oom) {
        lx_jbuf_free(&b);
        return NULL;
    }
    return b.data;
}

static int pkeys(const lexie_event *ev, int n, lx_phee_mode mode, int is_gold, pkey **out) {
    int cnt = 0;
    for (int i = 0; i < n; i++) {
        cnt++;
        for (int j = 0; j < ev[i].n_args; j++) cnt += role_cat(ev[i].args[j].type) > 0;
    }
    pkey *k = calloc((size_t)cnt + 1, sizeof *k);
    lx_jbuf tmp = {0};
    int o = 0, bad = !k;
    for (int i = 0; i < n && !bad; i++) {
        const char *et = ev[i].trigger.type;
        k[o].cat = 0;
        if (!(k[o++].key = pkey_text(et, 0, &ev[i].trigger, mode, is_gold, &tmp))) bad = 1;
        for (int j = 0; j < ev[i].n_args && !bad; j++) {
            int c = role_cat(ev[i].args[j].type);
            if (!c) continue;
            k[o].cat = c;
            if (!(k[o++].key = pkey_text(et, c, &ev[i].args[j], mode, is_gold, &tmp))) bad = 1;
        }
    }
    bad |= tmp.oom;
    lx_jbuf_free(&tmp);
    if (bad) {
        for (int i = 0; k && i < o; i++) free(k[i].key);
        free(k);
        return -1;
    }
    qsort(k, (size_t)o, sizeof *k, cmp_pkey);
    *out = k;
    return o;
}

static lx_prf *phee_slot(lx_phee_counts *c, int cat) {
    return cat == 0 ? &c->trigger : cat == 1 ? &c->subject : cat == 2 ? &c->treatment : &c->effect;
}

lexie_status lx_phee_score(const lexie_event *pred, int n_pred, const lexie_event *gold, int n_gold,
                           lx_phee_mode mode, lx_phee_counts *c, lexie_error *err) {
    pkey *kp = NULL, *kg = NULL;
    int np = pkeys(pred, LX_MAX(n_pred, 0), mode, 0, &kp);
    int ng = np < 0 ? -1 : pkeys(gold, LX_MAX(n_gold, 0), mode, 1, &kg);
    lexie_status rc = LEXIE_OK;
    if (np < 0 || ng < 0) {
        rc = lx_fail(err, LEXIE_E_NOMEM, "PHEE scoring: out of memory");
    } else {
        for (int i = 0; i < np; i++) phee_slot(c, kp[i].cat)->pred++;
        for (int j = 0; j < ng; j++) phee_slot(c, kg[j].cat)->gold++;
        for (int i = 0, j = 0; i < np && j < ng;) { /* multiset intersection */
            int d = cmp_pkey(&kp[i], &kg[j]);
            if (d == 0) phee_slot(c, kp[i].cat)->tp++;
            i += d <= 0;
            j += d >= 0;
        }
        lx_prf a = {0};
        lx_prf_add(&a, &c->subject);
        lx_prf_add(&a, &c->treatment);
        lx_prf_add(&a, &c->effect);
        c->args.tp = a.tp;
        c->args.pred = a.pred;
        c->args.gold = a.gold;
    }
    for (int i = 0; i < LX_MAX(np, 0); i++) free(kp[i].key);
    for (int i = 0; i < LX_MAX(ng, 0); i++) free(kg[i].key);
    free(kp);
    free(kg);
    return rc;
}

void lx_phee_counts_add(lx_phee_counts *into, const lx_phee_counts *c) {
    lx_prf_add(&into->trigger, &c->trigger);
    lx_prf_add(&into->subject, &c->subject);
    lx_prf_add(&into->treatment, &c->treatment);
    lx_prf_add(&into->effect, &c->effect);
    lx_prf_add(&into->args, &c->args);
}

void lx_phee_counts_finish(lx_phee_counts *c) {
    lx_prf_finish(&c->trigger);
    lx_prf_finish(&c->subject);
    lx_prf_finish(&c->treatment);
    lx_prf_finish(&c->effect);
    lx_prf_finish(&c->args);
}

/* ==== Markdown tables ==== */

/* s[0..n) without surrounding str.isspace() characters, in a new string. */
static char *trim_dup(const char *s, size_t n) {
    size_t b = 0, e = 0;
    int l, seen = 0;
    for (size_t i = 0; i < n; i += (size_t)l)
        if (!lx_py_space(s + i, &l)) {
            b = seen ? b : i;
            seen = 1;
            e = i + (size_t)l;
        }
    return strndup(s + b, seen ? e - b : 0);
}

void lx_md_table_free(lx_md_table *t) {
    if (!t) return;
    for (int i = 0; i < t->n_cols; i++) free(t->header[i]);
    free(t->header);
    for (int r = 0; r < t->n_rows; r++) {
        for (int k = 0; k < t->n_cells[r]; k++) free(t->rows[r][k]);
        free(t->rows[r]);
    }
    free(t->rows);
    free(t->n_cells);
    memset(t, 0, sizeof *t);
}

/* The cells of one table line s[0..n) (starting at its '|'). */
static char **md_cells(const char *s, size_t n, int *k) {
    if (n && s[0] == '|') s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    if (n && s[n - 1] == '|') n--;
    int c = 1;
    for (size_t i = 0; i < n; i++) c += s[i] == '|';
    if (c > 256) return NULL;
    char **out = calloc((size_t)c, sizeof *out);
    for (int i = 0, a = 0; out && i < c; i++) {
        size_t e = (size_t)a;
        while (e < n && s[e] != '|') e++;
        if (!(out[i] = trim_dup(s + a, e - (size_t)a))) {
            for (int j = 0; j < i; j++) free(out[j]);
            free(out);
            return NULL;
        }
        a = (int)e + 1;
    }
    *k = c;
    return out;
}

static int md_separator(char **cells, int k) {
    for (int i = 0; i < k; i++) {
        if (!strchr(cells[i], '-')) return 0;
        if (strspn(cells[i], "-: ") != strlen(cells[i])) return 0;
    }
    return 1;
}

lexie_status lx_md_table_parse(const char *text, lx_md_table *t, lexie_error *err) {
    memset(t, 0, sizeof *t);
    const char *p = strchr(text ? text : "", '|');
    if (!p) return lx_fail(err, LEXIE_E_FORMAT, "no markdown table (no '|')");
    size_t cap = 0;
    for (int first = 1; p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int k = 0;
        char **cells = md_cells(p, n, &k);
        if (!cells) {
            lx_md_table_free(t);
            return lx_fail(err, LEXIE_E_NOMEM, "markdown table: out of memory or over 256 columns");
        }
        if (first) {
            t->header = cells;
            t->n_cols = k;
            first = 0;
        } else if (md_separator(cells, k) || t->n_rows >= 100000) {
            for (int i = 0; i < k; i++) free(cells[i]);
            free(cells);
        } else {
            size_t c2 = cap;
            if (lx_grow((void **)&t->rows, &cap, (size_t)t->n_rows + 1, sizeof *t->rows, err) ||
                lx_grow((void **)&t->n_cells, &c2, (size_t)t->n_rows + 1, sizeof *t->n_cells,
                        err)) {
                for (int i = 0; i < k; i++) free(cells[i]);
                free(cells);
                lx_md_table_free(t);
                return LEXIE_E_NOMEM;
            }
            t->rows[t->n_rows] = cells;
            t->n_cells[t->n_rows++] = k;
        }
        p = e ? e + 1 : NULL;
        while (p && (*p == ' ' || *p == '\t')) p++;
        if (p && *p != '|') p = NULL;
    }
    return LEXIE_OK;
}

/* ==== From lexie_extraction ==== */

static const char *mention_str(const lexie_mention *m) {
    if (m->match != LEXIE_MATCH_NONE && m->text) return m->text;
    return m->model_text ? m->model_text : "";
}

void lx_fewnerd_answer(const lexie_extraction *x, lx_jbuf *b) {
    for (int i = 0; i < x->n_entities; i++) {
        const lexie_mention *m = &x->entities[i];
        lx_jbuf_printf(b, "%s: %s; ", mention_str(m), m->type ? m->type : "");
    }
    if (!b->data) lx_jbuf_add(b, "", 0);
}

lexie_status lx_carb_from_extraction(const lexie_extraction *x, lx_gold_tuple **out, int *n,
                                     lexie_error *err) {
    *out = NULL;
    *n = 0;
    if (x->n_triples <= 0) return LEXIE_OK;
    lx_gold_tuple *t = lx_calloc((size_t)x->n_triples, sizeof *t, err);
    if (!t) return LEXIE_E_NOMEM;
    for (int i = 0; i < x->n_triples; i++) {
        const lexie_triple *s = &x->triples[i];
        const lexie_mention *args[4] = {&s->subject, &s->object, s->time, s->place};
        t[i].confidence = s->confidence;
        t[i].rel = lx_strdup(mention_str(&s->relation), err);
        t[i].args = lx_calloc(4, sizeof *t[i].args, err);
        if (!t[i].rel || !t[i].args) goto nomem;
        for (int k = 0; k < 4; k++) {
            if (!args[k]) continue;
            if (!(t[i].args[t[i].n_args++] = lx_strdup(mention_str(args[k]), err))) goto nomem;
        }
    }
    *out = t;
    *n = x->n_triples;
    return LEXIE_OK;
nomem:
    for (int i = 0; i < x->n_triples; i++) lx_gold_tuple_clear(&t[i]);
    free(t);
    return LEXIE_E_NOMEM;
}
