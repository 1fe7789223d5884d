/*
** carb.c -- the CaRB open IE scorer (Bhardwaj, Aggarwal & Mausam, EMNLP
** 2019), mirroring github.com/dair-iitd/CaRB carb.py and matcher.py at
** commit 024e0e91 as carb.py runs by default (no match flag, not binary):
**
** Matching one gold tuple g and one predicted tuple p
** (binary_linient_tuple_match + linient_tuple_match):
**   - arguments are binarised: [arg1, "arg2 arg3 ..."] on both sides;
**   - words are str.split() words, compared exactly (case-sensitive; the
**     ignoreStopwords/ignoreCase flags carb.py passes are not read by this
**     matcher, and no punctuation is removed);
**   - relation: matched words = multiset intersection; then, if a "be"
**     is left over in p's relation and g's relation holds any form of be
**     (be is am are was were been being), one more match; no match at all
**     gives (0, 0);
**   - each gold argument i: its words count for recall; when p has no
**     argument i, (0, 0) for i < 2; else p's words count for precision and
**     the multiset intersection for both;
**   - prec = matched / predicted words, rec = matched / gold words;
**   - when g's relation contains (as a substring) said, told, added, adds
**     or says, p is also tried with its arguments swapped ["arg2 arg3...",
**     arg1] and the larger (prec, rec) pair, compared as Python lists
**     (precision first), wins.
**
** Scores per gold sentence, for each confidence threshold (the distinct
** confidences of all predictions), over the predictions at or above it:
**   - recall numerator: for each gold tuple, the best rec of any
**     prediction (a prediction may serve several gold tuples);
**   - precision numerator: min(#gold, #pred) greedy one-to-one matches,
**     each time the (gold, pred) pair of highest prec among unused rows and
**     columns (first in gold-then-prediction order on ties);
**   - denominators: the predictions and the gold tuples.
** P = sum pnum / sum pden (1 when no prediction passes), R = sum rnum /
** sum gold; the reported P, R, F1 are those of the threshold with the best
** F1 (the first, in ascending confidence), and AUC is the trapezoid area
** of (R, P) over the thresholds with (0, 1) added (sklearn's auc).
**
** Summing over sentences: a sentence's sums are a step function of the
** threshold, stored as (confidence, change) steps, so sentences can be
** added in any order and in any number of runs.
*/
#include "ie_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ==== Words ==== */

typedef struct words {
    char *buf;
    char **w;
    int n;
} words;

static void words_free(words *ws) {
    free(ws->buf);
    free(ws->w);
    memset(ws, 0, sizeof *ws);
}

/* str.split() of the strings s[0..n) concatenated with spaces between:
** the words of each, in order (what ' '.join(args).split() gives). */
static int words_of(const char *const *s, int n, words *ws) {
    size_t total = 1;
    for (int i = 0; i < n; i++) total += strlen(s[i]) + 1;
    memset(ws, 0, sizeof *ws);
    ws->buf = malloc(total);
    ws->w = malloc(sizeof *ws->w * (total / 2 + 1));
    if (!ws->buf || !ws->w) {
        words_free(ws);
        return -1;
    }
    char *o = ws->buf;
    for (int i = 0; i < n; i++) {
        const char *p = s[i];
        while (*p) {
            int l;
            if (lx_py_space(p, &l)) {
                p += l;
                continue;
            }
            ws->w[ws->n++] = o;
            while (*p && !lx_py_space(p, &l)) {
                memcpy(o, p, (size_t)l);
                o += l;
                p += l;
            }
            *o++ = 0;
        }
    }
    return 0;
}

static int count_word(const words *ws, const char *w, const unsigned char *used) {
    int k = 0;
    for (int i = 0; i < ws->n; i++) k += (!used || !used[i]) && strcmp(ws->w[i], w) == 0;
    return k;
}

/* matcher.py's loop "for w in gold: if w in pred: remove it": the number
** of matched words; used marks the predicted words taken. */
static int take(const words *gold, const words *pred, unsigned char *used) {
    int m = 0;
    for (int i = 0; i < gold->n; i++)
        for (int j = 0; j < pred->n; j++)
            if (!used[j] && strcmp(gold->w[i], pred->w[j]) == 0) {
                used[j] = 1;
                m++;
                break;
            }
    return m;
}

/* ==== One pair ==== */

/* A binarised tuple: relation words and up to two argument word lists. */
typedef struct btuple {
    words rel, arg[2];
    int n_args;
} btuple;

static void btuple_free(btuple *t) {
    words_free(&t->rel);
    words_free(&t->arg[0]);
    words_free(&t->arg[1]);
}

/* swap: ["arg2 arg3 ...", arg1] instead of [arg1, "arg2 arg3 ..."]. */
static int binarise(const lx_gold_tuple *t, int swap, btuple *b) {
    const char *rel = t->rel ? t->rel : "";
    memset(b, 0, sizeof *b);
    int bad = words_of(&rel, 1, &b->rel);
    b->n_args = t->n_args >= 2 ? 2 : t->n_args;
    if (t->n_args >= 2) {
        const char *const *rest = (const char *const *)t->args + 1;
        bad |= words_of((const char *const *)t->args, 1, &b->arg[swap ? 1 : 0]);
        bad |= words_of(rest, t->n_args - 1, &b->arg[swap ? 0 : 1]);
    } else if (t->n_args == 1) {
        bad |= words_of((const char *const *)t->args, 1, &b->arg[0]);
    }
    return bad ? -1 : 0;
}

/* linient_tuple_match of binarised tuples; -1 on NOMEM. */
static int linient(const btuple *g, const btuple *p, double *prec, double *rec) {
    static const char *const be[] = {"be", "is", "am", "are", "was", "were", "been", "being"};
    unsigned char *used = calloc((size_t)p->rel.n + 1, 1);
    if (!used) return -1;
    long pnum = 0, pden = p->rel.n, rnum = 0, rden = g->rel.n;
    int m = take(&g->rel, &p->rel, used);
    if (count_word(&p->rel, "be", used) > 0)
        for (size_t f = 0; f < LX_ARRAY_LEN(be); f++)
            if (count_word(&g->rel, be[f], NULL) > 0) {
                m++;
                break;
            }
    free(used);
    *prec = *rec = 0;
    if (m == 0) return 0;
    pnum += m;
    rnum += m;
    for (int i = 0; i < g->n_args; i++) {
        rden += g->arg[i].n;
        if (p->n_args <= i) {
            if (i < 2) return 0;
            continue;
        }
        pden += p->arg[i].n;
        unsigned char *u = calloc((size_t)p->arg[i].n + 1, 1);
        if (!u) return -1;
        m = take(&g->arg[i], &p->arg[i], u);
        free(u);
        pnum += m;
        rnum += m;
    }
    *prec = pden ? (double)pnum / (double)pden : 0.0;
    *rec = rden ? (double)rnum / (double)rden : 0.0;
    return 0;
}

static int said_type(const char *rel) {
    static const char *const said[] = {"said", "told", "added", "adds", "says"};
    for (size_t i = 0; rel && i < LX_ARRAY_LEN(said); i++)
        if (strstr(rel, said[i])) return 1;
    return 0;
}

/* -1 on NOMEM (then both are 0). */
static int match_pair(const lx_gold_tuple *gold, const lx_gold_tuple *pred, double *prec,
                      double *rec) {
    btuple g, p;
    *prec = *rec = 0;
    int rc = binarise(gold, 0, &g) | binarise(pred, 0, &p);
    if (rc == 0) rc = linient(&g, &p, prec, rec);
    btuple_free(&p);
    if (rc == 0 && said_type(gold->rel) && pred->n_args >= 2) {
        double p2, r2;
        rc = binarise(pred, 1, &p) | linient(&g, &p, &p2, &r2);
        btuple_free(&p);
        if (rc == 0 && (p2 > *prec || (p2 == *prec && r2 > *rec))) {
            *prec = p2;
            *rec = r2;
        }
    }
    btuple_free(&g);
    if (rc) *prec = *rec = 0;
    return rc;
}

void lx_carb_match(const lx_gold_tuple *gold, const lx_gold_tuple *pred, double *prec,
                   double *rec) {
    match_pair(gold, pred, prec, rec);
}

/* ==== Sentence keys ==== */

void lx_carb_sentence_key(const char *sentence, lx_jbuf *out) {
    static const char *const ptb[][2] = {{"(", "-LRB-"}, {")", "-RRB-"}, {"[", "-LSB-"},
                                         {"]", "-RSB-"}, {"{", "-LCB-"}, {"}", "-RCB-"}};
    lx_jbuf a = {0};
    for (const char *p = sentence; *p; p++)
        if (*p != ' ') lx_jbuf_putc(&a, *p);
    int oom = a.oom; /* sticky: a is replaced below */
    /* PTB_unescape: each escape replaced in turn, as str.replace does. */
    for (size_t e = 0; e < LX_ARRAY_LEN(ptb) && a.data && !oom; e++) {
        lx_jbuf b = {0};
        size_t el = strlen(ptb[e][1]);
        for (const char *p = a.data; *p;) {
            if (strncmp(p, ptb[e][1], el) == 0) {
                lx_jbuf_puts(&b, ptb[e][0]);
                p += el;
            } else {
                lx_jbuf_putc(&b, *p++);
            }
        }
        lx_jbuf_free(&a);
        a = b;
        oom |= a.oom;
    }
    lx_jbuf_reset(out);
    for (const char *p = a.data ? a.data : ""; *p; p++)
        if (!(*p > 0 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", *p))) lx_jbuf_putc(out, *p);
    if (!out->data) lx_jbuf_add(out, "", 0);
    if (oom) out->oom = 1;
    lx_jbuf_free(&a);
}

/* ==== One sentence ==== */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The greedy one-to-one precision sum over the predictions in sel. */
static double greedy_precision(const double *pm, int ng, int np, const unsigned char *sel,
                               unsigned char *row_used, unsigned char *col_used) {
    int nsel = 0;
    for (int j = 0; j < np; j++) nsel += sel[j];
    memset(row_used, 0, (size_t)ng);
    memset(col_used, 0, (size_t)np);
    double sum = 0;
    for (int t = 0; t < LX_MIN(ng, nsel); t++) {
        int bi = -1, bj = -1;
        double best = -1;
        for (int i = 0; i < ng; i++) {
            if (row_used[i]) continue;
            for (int j = 0; j < np; j++)
                if (sel[j] && !col_used[j] && pm[(size_t)i * np + j] > best) {
                    best = pm[(size_t)i * np + j];
                    bi = i;
                    bj = j;
                }
        }
        row_used[bi] = col_used[bj] = 1;
        sum += best;
    }
    return sum;
}

static lexie_status push_step(lx_carb_acc *a, double conf, double dp, double dd, double dr,
                              lexie_error *err) {
    if (lx_grow((void **)&a->steps, &a->cap, a->n + 1, sizeof *a->steps, err)) return LEXIE_E_NOMEM;
    a->steps[a->n++] = (lx_carb_step){conf, dp, dd, dr};
    return LEXIE_OK;
}

/* The sums at each distinct confidence of the sentence (ascending), then
** stored as steps: value(t) = sum of the changes at confidences >= t. */
static lexie_status sentence_steps(lx_carb_acc *a, const double *pm, const double *rm, int ng,
                                   const lx_gold_tuple *pred, int np, lexie_error *err) {
    double *conf = malloc(sizeof *conf * (size_t)np), *v = malloc(sizeof *v * 3 * (size_t)np);
    unsigned char *sel = malloc((size_t)np), *ru = malloc((size_t)ng + 1), *cu = malloc((size_t)np);
    lexie_status rc = LEXIE_OK;
    if (!conf || !v || !sel || !ru || !cu) rc = lx_fail(err, LEXIE_E_NOMEM, "CaRB: out of memory");
    int nc = 0;
    for (int j = 0; rc == LEXIE_OK && j < np; j++) conf[nc++] = pred[j].confidence;
    if (rc == LEXIE_OK) qsort(conf, (size_t)nc, sizeof *conf, cmp_double);
    int k = 0;
    for (int c = 0; rc == LEXIE_OK && c < nc; c++) {
        if (c > 0 && conf[c] == conf[c - 1]) continue;
        double rnum = 0, pden = 0;
        for (int j = 0; j < np; j++) pden += (sel[j] = pred[j].confidence >= conf[c]);
        for (int i = 0; i < ng; i++) {
            double best = 0;
            for (int j = 0; j < np; j++)
                if (sel[j] && rm[(size_t)i * np + j] > best) best = rm[(size_t)i * np + j];
            rnum += best;
        }
        conf[k] = conf[c];
        v[3 * k] = greedy_precision(pm, ng, np, sel, ru, cu);
        v[3 * k + 1] = pden;
        v[3 * k + 2] = rnum;
        k++;
    }
    for (int c = 0; rc == LEXIE_OK && c < k; c++) {
        double nx[3] = {0, 0, 0};
        if (c + 1 < k) memcpy(nx, &v[3 * (c + 1)], sizeof nx);
        rc = push_step(a, conf[c], v[3 * c] - nx[0], v[3 * c + 1] - nx[1], v[3 * c + 2] - nx[2],
                       err);
    }
    free(conf);
    free(v);
    free(sel);
    free(ru);
    free(cu);
    return rc;
}

lexie_status lx_carb_add(lx_carb_acc *a, const lx_gold_tuple *gold, int n_gold,
                         const lx_gold_tuple *pred, int n_pred, lexie_error *err) {
    if (n_gold <= 0) return LEXIE_OK;
    n_pred = LX_MAX(n_pred, 0);
    a->n_gold += n_gold;
    a->n_pred += n_pred;
    a->n_sent++;
    if (n_pred == 0) return LEXIE_OK;
    size_t cells = (size_t)n_gold * (size_t)n_pred;
    double *pm = malloc(sizeof *pm * cells), *rm = malloc(sizeof *rm * cells);
    lexie_status rc = pm && rm ? LEXIE_OK : lx_fail(err, LEXIE_E_NOMEM, "CaRB: out of memory");
    for (int i = 0; rc == LEXIE_OK && i < n_gold; i++)
        for (int j = 0; rc == LEXIE_OK && j < n_pred; j++)
            if (match_pair(&gold[i], &pred[j], &pm[(size_t)i * n_pred + j],
                           &rm[(size_t)i * n_pred + j]))
                rc = lx_fail(err, LEXIE_E_NOMEM, "CaRB: out of memory");
    if (rc == LEXIE_OK) rc = sentence_steps(a, pm, rm, n_gold, pred, n_pred, err);
    free(pm);
    free(rm);
    return rc;
}

void lx_carb_acc_free(lx_carb_acc *a) {
    if (!a) return;
    free(a->steps);
    memset(a, 0, sizeof *a);
}

/* ==== The curve ==== */

static int cmp_step_desc(const void *x, const void *y) {
    double a = ((const lx_carb_step *)x)->conf, b = ((const lx_carb_step *)y)->conf;
    return (a < b) - (a > b);
}

lexie_status lx_carb_finish(const lx_carb_acc *a, lx_carb_score *out, lexie_error *err) {
    memset(out, 0, sizeof *out);
    if (a->n == 0) return LEXIE_OK;
    lx_carb_step *s = lx_malloc(sizeof *s * a->n, err);
    double *pt = lx_malloc(sizeof *pt * 3 * (a->n + 1), err); /* conf, P, R per threshold */
    if (!s || !pt) {
        free(s);
        free(pt);
        return LEXIE_E_NOMEM;
    }
    memcpy(s, a->steps, sizeof *s * a->n);
    qsort(s, a->n, sizeof *s, cmp_step_desc);
    double pn = 0, pd = 0, rn = 0;
    size_t np = 0;
    for (size_t i = 0; i < a->n;) { /* thresholds from the highest down */
        double c = s[i].conf;
        for (; i < a->n && s[i].conf == c; i++) {
            pn += s[i].d_pnum;
            pd += s[i].d_pden;
            rn += s[i].d_rnum;
        }
        double p = pd > 0.5 ? pn / pd : 1.0, r = a->n_gold ? rn / (double)a->n_gold : 0.0;
        pt[3 * np] = c;
        pt[3 * np + 1] = p;
        pt[3 * np + 2] = r;
        np++;
    }
    /* Ascending order, as carb.py walks its thresholds. */
    double best = -1, auc = 0;
    for (size_t q = np; q-- > 0;) {
        double c = pt[3 * q], p = pt[3 * q + 1], r = pt[3 * q + 2];
        double f = p + r > 0 ? 2 * p * r / (p + r) : 0;
        if (f > best) {
            best = f;
            out->p = p;
            out->r = r;
            out->f1 = f;
            out->threshold = c;
        }
        double nr = q ? pt[3 * (q - 1) + 2] : 0.0, npr = q ? pt[3 * (q - 1) + 1] : 1.0;
        auc += fabs(r - nr) * (p + npr) / 2;
    }
    out->auc = auc;
    out->n_points = (int)np;
    free(s);
    free(pt);
    return LEXIE_OK;
}
