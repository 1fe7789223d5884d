/*
** constrain.c -- constrained decoding over a fixed set of answers: the
** probability that decoding restricted to the answers' tokens produces
** each answer, from per-token log-probabilities (lexie_score_continuation_
** tokens).  The vanilla relation prompt decides its label this way.
** Beside it, generation under a grammar (lexie_gen_params.grammar): each
** step's logits are masked to the tokens the grammar allows (src/grammar),
** and the output is kept closable within the tokens left.
*/
#include "decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void lx_constrained_probs(const lexie_token *const *a, const int *n_a, int n,
                          const float *const *lp, float *p) {
    double total = 0.0;
    for (int k = 0; k < n; k++) {
        double logp = 0.0;
        for (int j = 0; j < n_a[k]; j++) {
            /* The answers that agree with k before step j: their distinct
            ** tokens at j share the step's probability. */
            double mx = -INFINITY, sum = 0.0;
            for (int pass = 0; pass < 2; pass++)
                for (int o = 0; o < n; o++) {
                    if (n_a[o] <= j || memcmp(a[o], a[k], (size_t)j * sizeof *a[o])) continue;
                    int seen = 0;
                    for (int e = 0; e < o && !seen; e++)
                        seen = n_a[e] > j && a[e][j] == a[o][j] &&
                               !memcmp(a[e], a[k], (size_t)j * sizeof *a[e]);
                    if (seen) continue;
                    if (pass == 0)
                        mx = fmax(mx, lp[o][j]);
                    else
                        sum += exp(lp[o][j] - mx);
                }
            logp += lp[k][j] - (mx + log(sum));
        }
        p[k] = (float)exp(logp);
        total += p[k];
    }
    for (int k = 0; k < n && total > 0; k++) p[k] = (float)(p[k] / total);
}

/* ---- Grammar masks for generation ----
**
** A mask with a token budget cannot use the matcher's mask cache, so the
** budget is passed only near the end: a token is sampled from the plain
** mask, and if the output could no longer be closed within the tokens left
** after it (close_bytes counts bytes, at least the tokens it takes), the
** matcher is rebuilt from the tokens so far and the step is redone with
** the budget, as is every later step. */

lexie_status lx_gcon_init(lx_gcon *k, const lexie_model *m, const lexie_gen_params *p, int n_max,
                          lexie_error *err) {
    memset(k, 0, sizeof *k);
    k->n_vocab = m->hp.n_vocab;
    const lexie_grammar_vocab *v = p->grammar_vocab;
    if (!v) {
        if (!(k->own_vocab = lexie_grammar_vocab_new(m, err)))
            return err ? err->code : LEXIE_E_NOMEM;
        v = k->own_vocab;
    }
    k->n_gtok = lexie_grammar_vocab_n_tokens(v);
    if (!(k->m = lexie_matcher_new(p->grammar, v, err))) {
        lx_gcon_free(k);
        return err ? err->code : LEXIE_E_NOMEM;
    }
    k->mask = malloc((size_t)lexie_matcher_mask_words(k->m) * sizeof *k->mask);
    k->logits = malloc((size_t)k->n_vocab * sizeof *k->logits);
    k->hist = malloc(((size_t)n_max + 1) * sizeof *k->hist);
    if (!k->mask || !k->logits || !k->hist) {
        lx_gcon_free(k);
        return lx_fail(err, LEXIE_E_NOMEM, "generate: out of memory for the grammar mask");
    }
    k->n_max = n_max;
    return LEXIE_OK;
}

void lx_gcon_free(lx_gcon *k) {
    lexie_matcher_free(k->m);
    lexie_grammar_vocab_free(k->own_vocab);
    free(k->mask);
    free(k->logits);
    free(k->hist);
    memset(k, 0, sizeof *k);
}

/* Copies logits into k->logits with every token outside the mask at
** -inf; returns how many tokens are allowed. */
static int apply_mask(lx_gcon *k, const float *logits, int budget) {
    int n = lexie_matcher_fill_mask(k->m, k->mask, budget);
    for (int i = 0; i < k->n_vocab; i++)
        k->logits[i] = i < k->n_gtok && (k->mask[i >> 5] >> (i & 31) & 1u) ? logits[i] : -INFINITY;
    return n;
}

/* Back to the state after the committed tokens (hist). */
static int replay(lx_gcon *k) {
    lexie_matcher_reset(k->m);
    for (int i = 0; i < k->n_hist; i++)
        if (!lexie_matcher_accept_token(k->m, k->hist[i])) return 0;
    return 1;
}

lexie_status lx_gcon_step(lx_gcon *k, const lexie_model *m, const float *logits,
                          const lexie_sampler_params *sp, uint64_t *rng, int left, lexie_token *out,
                          lexie_error *err) {
    *out = -1;
    if (k->n_hist >= k->n_max)
        return lx_fail(err, LEXIE_E_INTERNAL, "generate: grammar history overflow");
    if (!k->tight && left >= 0 && left <= lexie_matcher_close_bytes(k->m) + 1) k->tight = 1;
    for (;;) {
        int budget = k->tight && left >= 0 ? left : -1;
        if (apply_mask(k, logits, budget) == 0) return LEXIE_OK; /* nothing can follow */
        lexie_token t = lexie_sample(m, k->logits, sp, rng);
        if (t < 0 || t >= k->n_gtok || !lexie_matcher_accept_token(k->m, t))
            return lx_fail(err, LEXIE_E_INTERNAL, "generate: token %d outside the grammar mask", t);
        if (budget < 0 && left >= 0 && !lexie_matcher_is_terminated(k->m)) {
            int cb = lexie_matcher_close_bytes(k->m);
            if (cb < 0 || cb > left - 1) {
                /* Too long to close in what is left: redo with the budget. */
                if (!replay(k))
                    return lx_fail(err, LEXIE_E_INTERNAL, "generate: grammar replay failed");
                k->tight = 1;
                continue;
            }
        }
        k->hist[k->n_hist++] = t;
        *out = t;
        return LEXIE_OK;
    }
}
