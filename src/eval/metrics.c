/*
** metrics.c -- relation-extraction scores from a confusion matrix: micro
** P/R/F1 over positive labels (QA4RE's metric), per-label scores,
** accuracy, the SemEval-2010 Task 8 official direction-aware macro-F1,
** computed the way its scorer (v1.2) does, and label-free batch
** calibration of the per-label probabilities.
*/
#include "eval.h"

#include <stdlib.h>
#include <string.h>

void lx_prf_finish(lx_prf *m) {
    m->p = m->pred ? (double)m->tp / (double)m->pred : 0.0;
    m->r = m->gold ? (double)m->tp / (double)m->gold : 0.0;
    m->f1 = m->p + m->r > 0 ? 2.0 * m->p * m->r / (m->p + m->r) : 0.0;
}

lexie_status lx_re_counts_init(lx_re_counts *c, const char *const *labels, int n_labels, int none,
                               lexie_error *err) {
    memset(c, 0, sizeof *c);
    if (n_labels <= 0 || n_labels > 4096 || none < 0 || none >= n_labels)
        return lx_fail(err, LEXIE_E_INVALID, "metrics: bad label set (%d labels, none %d)",
                       n_labels, none);
    c->conf = lx_calloc((size_t)n_labels * (size_t)n_labels, sizeof *c->conf, err);
    if (!c->conf) return LEXIE_E_NOMEM;
    c->labels = labels;
    c->n_labels = n_labels;
    c->none = none;
    return LEXIE_OK;
}

void lx_re_counts_free(lx_re_counts *c) {
    if (!c) return;
    free(c->conf);
    memset(c, 0, sizeof *c);
}

void lx_re_counts_add(lx_re_counts *c, int gold, int pred, int invalid) {
    if (gold < 0 || gold >= c->n_labels || pred < 0 || pred >= c->n_labels) return;
    c->conf[(size_t)gold * c->n_labels + pred]++;
    c->n++;
    c->n_invalid += invalid != 0;
}

lx_prf lx_re_micro(const lx_re_counts *c) {
    lx_prf m = {0, 0, 0, 0, 0, 0};
    int n = c->n_labels;
    for (int g = 0; g < n; g++)
        for (int p = 0; p < n; p++) {
            int64_t v = c->conf[(size_t)g * n + p];
            if (p != c->none) m.pred += v;
            if (g != c->none) m.gold += v;
            if (g == p && g != c->none) m.tp += v;
        }
    lx_prf_finish(&m);
    return m;
}

lx_prf lx_re_label_prf(const lx_re_counts *c, int l) {
    lx_prf m = {0, 0, 0, 0, 0, 0};
    int n = c->n_labels;
    for (int k = 0; k < n; k++) {
        m.pred += c->conf[(size_t)k * n + l];
        m.gold += c->conf[(size_t)l * n + k];
    }
    m.tp = c->conf[(size_t)l * n + l];
    lx_prf_finish(&m);
    return m;
}

double lx_re_accuracy(const lx_re_counts *c) {
    int64_t ok = 0;
    for (int l = 0; l < c->n_labels; l++) ok += c->conf[(size_t)l * c->n_labels + l];
    return c->n ? (double)ok / (double)c->n : 0.0;
}

/* ==== SemEval official ==== */

/* Length of the relation name in "Name(e1,e2)" / "Name(e2,e1)", or 0. */
static size_t semeval_base(const char *l) {
    size_t n = strlen(l);
    if (n > 7 && (strcmp(l + n - 7, "(e1,e2)") == 0 || strcmp(l + n - 7, "(e2,e1)") == 0))
        return n - 7;
    return 0;
}

/* Index of the base relation of label l in out->rels, adding it if new. */
static int rel_index(lx_semeval_score *out, const char *l, size_t bl) {
    for (int i = 0; i < out->n_rels; i++)
        if (strlen(out->rels[i].name) == bl && strncmp(out->rels[i].name, l, bl) == 0) return i;
    if (out->n_rels >= (int)LX_ARRAY_LEN(out->rels) || bl >= sizeof out->rels[0].name) return -1;
    lx_semeval_rel *r = &out->rels[out->n_rels];
    memset(r, 0, sizeof *r);
    memcpy(r->name, l, bl);
    r->name[bl] = 0;
    return out->n_rels++;
}

int lx_semeval_official(const lx_re_counts *c, lx_semeval_score *out) {
    memset(out, 0, sizeof *out);
    int n = c->n_labels;
    /* Every label but none must be directed. */
    for (int l = 0; l < n; l++)
        if (l != c->none && semeval_base(c->labels[l]) == 0) return 0;
    int *base = malloc((size_t)n * sizeof *base);
    int *seen = calloc(64, sizeof *seen);
    if (!base || !seen) {
        free(base);
        free(seen);
        return 0;
    }
    for (int l = 0; l < n; l++) {
        base[l] = l == c->none ? -1 : rel_index(out, c->labels[l], semeval_base(c->labels[l]));
        if (l != c->none && base[l] < 0) {
            free(base);
            free(seen);
            memset(out, 0, sizeof *out);
            return 0;
        }
    }
    for (int g = 0; g < n; g++)
        for (int p = 0; p < n; p++) {
            int64_t v = c->conf[(size_t)g * n + p];
            if (!v) continue;
            int bg = base[g], bp = base[p];
            if (bg >= 0) {
                out->rels[bg].prf.gold += v;
                seen[bg] = 1;
            }
            if (g == p) {
                if (bg >= 0) {
                    out->rels[bg].prf.tp += v;
                    out->rels[bg].prf.pred += v;
                }
            } else if (bg >= 0 && bg == bp) {
                /* Right relation, wrong direction: a wrong prediction of it. */
                out->rels[bg].wrong_dir += v;
                out->rels[bg].prf.pred += v;
            } else if (bp >= 0) {
                out->rels[bp].prf.pred += v;
            }
        }
    /* Average over the relations present in the gold labels, as the
    ** scorer averages over the key's distinct labels. */
    int k = 0;
    for (int i = 0; i < out->n_rels; i++) {
        lx_prf_finish(&out->rels[i].prf);
        if (!seen[i]) continue;
        out->macro_p += out->rels[i].prf.p;
        out->macro_r += out->rels[i].prf.r;
        out->macro_f1 += out->rels[i].prf.f1;
        k++;
    }
    if (k) {
        out->macro_p /= k;
        out->macro_r /= k;
        out->macro_f1 /= k;
    }
    free(base);
    free(seen);
    return 1;
}
