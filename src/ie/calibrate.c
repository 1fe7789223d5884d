/*
** calibrate.c -- turning per-label probabilities into a decision, every
** rule in one place: the argmax, a none threshold, batch calibration (the
** probabilities divided by their mean over a batch) and a prior stored by
** an earlier run (tune on dev, apply on test).  The classifier, `lexie
** relations`, the evaluation runner and Python all decide through these.
*/
#include "ie.h"

#include <stdlib.h>

int lx_re_decide(const lx_re_schema *s, const float *probs, float none_threshold) {
    int none = s->n_rels, best = -1;
    if (none_threshold > 0.0f) {
        if (probs[none] >= none_threshold) return none;
        for (int i = 0; i < none; i++)
            if (best < 0 || probs[i] > probs[best]) best = i;
        return best >= 0 && probs[best] > 0.0f ? best : none;
    }
    /* Ties go to the earlier label; none is checked last. */
    for (int i = 0; i <= none; i++)
        if (best < 0 || probs[i] > probs[best]) best = i;
    return best;
}

void lx_re_prior(const float *const *probs, int n, int n_labels, double *prior) {
    for (int l = 0; l < n_labels; l++) prior[l] = 0.0;
    for (int i = 0; i < n; i++)
        for (int l = 0; l < n_labels; l++) prior[l] += probs[i][l];
    for (int l = 0; l < n_labels && n > 0; l++) prior[l] /= n;
}

int lx_re_decide_calibrated(const float *probs, const double *prior, int n_labels) {
    int best = -1;
    double best_v = 0.0;
    for (int l = 0; l < n_labels; l++) {
        if (!(prior[l] > 0.0) || !(probs[l] > 0.0f)) continue;
        double v = probs[l] / prior[l];
        if (best < 0 || v > best_v) {
            best = l;
            best_v = v;
        }
    }
    return best >= 0 ? best : n_labels - 1;
}

lexie_status lx_re_prior_load(const char *path, const lx_re_schema *s, double *prior,
                              lexie_error *err) {
    lx_json_doc *d = lx_json_parse_file(path, NULL, err);
    if (!d) return err ? err->code : LEXIE_E_FORMAT;
    lexie_status st = LEXIE_OK;
    const lx_json *m = lx_json_get(lx_json_root(d), "mean_probability");
    const int nl = s->n_rels + 1;
    if (!m || m->type != LX_JSON_OBJECT) {
        st = lx_fail(err, LEXIE_E_FORMAT,
                     "%s: no \"mean_probability\" object (give the JSON report of a `lexie eval "
                     "re` run)",
                     path);
        goto done;
    }
    for (int l = 0; l < nl; l++) prior[l] = -1.0;
    for (int i = 0; i < m->n; i++) {
        int l = lx_re_schema_find(s, m->keys[i]);
        const lx_json *v = m->items[i];
        if (l < 0) {
            st = lx_fail(err, LEXIE_E_INVALID, "%s: label \"%.200s\" is not in schema %s", path,
                         m->keys[i], s->name);
            goto done;
        }
        if (v->type != LX_JSON_NUMBER || !(v->num >= 0.0 && v->num <= 1.0)) {
            st = lx_fail(err, LEXIE_E_INVALID,
                         "%s: mean_probability of \"%.200s\" must be a number in [0, 1]", path,
                         m->keys[i]);
            goto done;
        }
        prior[l] = v->num;
    }
    for (int l = 0; l < nl; l++)
        if (prior[l] < 0.0) {
            st = lx_fail(err, LEXIE_E_INVALID, "%s: no mean_probability for label \"%.200s\"", path,
                         lx_re_schema_label(s, l));
            goto done;
        }
done:
    lx_json_doc_free(d);
    return st;
}

/* ==== Public face ==== */

int lexie_re_decide(const lexie_re_schema *s, const float *probs, float none_threshold) {
    return s && probs ? lx_re_decide(s, probs, none_threshold) : -1;
}

void lexie_re_prior(const float *const *probs, int n, int n_labels, double *prior) {
    if (prior && n_labels > 0) lx_re_prior(probs, probs ? n : 0, n_labels, prior);
}

int lexie_re_decide_calibrated(const float *probs, const double *prior, int n_labels) {
    return probs && prior && n_labels > 0 ? lx_re_decide_calibrated(probs, prior, n_labels) : -1;
}

lexie_status lexie_re_prior_load(const char *path, const lexie_re_schema *s, double *prior,
                                 lexie_error *err) {
    if (!path || !s || !prior)
        return lx_fail(err, LEXIE_E_INVALID, "lexie_re_prior_load: NULL argument");
    return lx_re_prior_load(path, s, prior, err);
}
