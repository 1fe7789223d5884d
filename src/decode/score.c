/*
** score.c -- likelihood scoring: log-probabilities of continuations after a
** shared prompt, and the next-token distribution restricted to candidate
** tokens.  QA4RE scores its lettered options with these, so the prompt is
** computed once and each continuation runs in its own sequence that shares
** the prompt's cache cells.  Also the batched next-token distribution over
** several prompts (lx_next_probs_batch), which classifiers use to decode
** many examples in one pass.
*/
#include "decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void lx_softmax_restricted(const float *logits, const lexie_token *cand, int n_cand, float *probs) {
    /* Max first: expf overflows past ~88; the sum is accumulated in double. */
    float mx = -INFINITY;
    for (int k = 0; k < n_cand; k++) mx = fmaxf(mx, logits[cand[k]]);
    double sum = 0.0;
    for (int k = 0; k < n_cand; k++) sum += exp((double)logits[cand[k]] - mx);
    for (int k = 0; k < n_cand; k++) probs[k] = (float)(exp((double)logits[cand[k]] - mx) / sum);
}

lexie_status lexie_next_token_probs(lexie_ctx *c, const lexie_token *prompt, int n_prompt,
                                    const lexie_token *cand, int n_cand, float *probs,
                                    float *logprob_full, lexie_error *err) {
    int n_vocab = c->model->hp.n_vocab;
    if (n_cand <= 0) return lx_fail(err, LEXIE_E_INVALID, "next_token_probs: no candidates");
    for (int k = 0; k < n_cand; k++)
        if (cand[k] < 0 || cand[k] >= n_vocab)
            return lx_fail(err, LEXIE_E_INVALID, "next_token_probs: candidate %d is not a token id",
                           cand[k]);
    const float *logits;
    lexie_status s = lx_prefill(c, 0, prompt, n_prompt, &logits, err);
    if (s != LEXIE_OK) return s;
    lx_softmax_restricted(logits, cand, n_cand, probs);
    if (logprob_full) {
        double lse = lx_logsumexp(logits, n_vocab);
        for (int k = 0; k < n_cand; k++) logprob_full[k] = (float)((double)logits[cand[k]] - lse);
    }
    return LEXIE_OK;
}

/* Continuations [k0, k1) decoded together, continuation k in sequence
** 1 + (k - k0) (or 0 when the context has a single sequence). */
static lexie_status score_group(lexie_ctx *c, int n_prompt, const lexie_token *const *conts,
                                const int *n_conts, int k0, int k1, float *const *out,
                                lexie_error *err) {
    int n_vocab = c->model->hp.n_vocab, single = c->params.n_seq_max == 1;
    int32_t *tok = c->scratch, *pos = tok + c->params.n_batch, *sq = pos + c->params.n_batch;
    int8_t *want = (int8_t *)(sq + c->params.n_batch);
    int n = 0;
    for (int k = k0; k < k1; k++) {
        int s = single ? 0 : 1 + (k - k0);
        if (!single) lexie_kv_seq_cp(c, 0, s, 0, n_prompt);
        /* The last token of a continuation is only predicted, never fed. */
        for (int j = 0; j + 1 < n_conts[k]; j++) {
            tok[n] = conts[k][j];
            pos[n] = n_prompt + j;
            sq[n] = s;
            want[n] = 1;
            n++;
        }
    }
    lexie_status st = LEXIE_OK;
    if (n > 0) {
        lexie_batch b = {n, tok, pos, sq, want};
        st = lexie_ctx_decode(c, &b, err);
        int i = 0;
        for (int k = k0; k < k1 && st == LEXIE_OK; k++)
            for (int j = 0; j + 1 < n_conts[k]; j++, i++) {
                const float *lg = lexie_ctx_logits(c, i);
                out[k][j + 1] = (float)((double)lg[conts[k][j + 1]] - lx_logsumexp(lg, n_vocab));
            }
    }
    /* Drop the continuations (also after an error); the prompt stays
    ** cached in sequence 0. */
    if (single)
        lexie_kv_seq_rm(c, 0, n_prompt, -1);
    else
        for (int k = k0; k < k1; k++) lexie_kv_seq_rm(c, 1 + (k - k0), 0, -1);
    return st;
}

lexie_status lexie_score_continuation_tokens(lexie_ctx *c, const lexie_token *prompt, int n_prompt,
                                             const lexie_token *const *conts, const int *n_conts,
                                             int n_cont, float *const *out, lexie_error *err) {
    int n_vocab = c->model->hp.n_vocab;
    for (int k = 0; k < n_cont; k++) {
        if (n_conts[k] <= 0)
            return lx_fail(err, LEXIE_E_INVALID, "score: continuation %d is empty", k);
        if (n_conts[k] > c->params.n_batch)
            return lx_fail(err, LEXIE_E_RANGE,
                           "score: continuation %d has %d tokens, more than n_batch %d", k,
                           n_conts[k], c->params.n_batch);
        for (int j = 0; j < n_conts[k]; j++)
            if (conts[k][j] < 0 || conts[k][j] >= n_vocab)
                return lx_fail(err, LEXIE_E_INVALID, "score: continuation %d has a bad token id %d",
                               k, conts[k][j]);
    }
    const float *logits;
    lexie_status s = lx_prefill(c, 0, prompt, n_prompt, &logits, err);
    if (s != LEXIE_OK) return s;
    /* First tokens come from the prompt's own logits. */
    double lse = lx_logsumexp(logits, n_vocab);
    for (int k = 0; k < n_cont; k++) out[k][0] = (float)((double)logits[conts[k][0]] - lse);

    /* Pack continuations into batches: one sequence each, n_batch tokens
    ** at most.  The scratch buffer holds tok, pos, seq and want arrays. */
    int k0 = 0, slots = c->params.n_seq_max == 1 ? 1 : c->params.n_seq_max - 1;
    while (k0 < n_cont) {
        int k1 = k0, n = 0;
        while (k1 < n_cont && k1 - k0 < slots && n + n_conts[k1] - 1 <= c->params.n_batch)
            n += n_conts[k1++] - 1;
        s = score_group(c, n_prompt, conts, n_conts, k0, k1, out, err);
        if (s != LEXIE_OK) return s;
        k0 = k1;
    }
    return LEXIE_OK;
}

lexie_status lexie_score_continuations(lexie_ctx *c, const lexie_token *prompt, int n_prompt,
                                       const lexie_token *const *conts, const int *n_conts,
                                       int n_cont, double *out, lexie_error *err) {
    /* One buffer for every continuation's per-token log-probabilities. */
    size_t total = 0;
    for (int k = 0; k < n_cont; k++) total += n_conts[k] > 0 ? (size_t)n_conts[k] : 0;
    float *buf = lx_malloc((total ? total : 1) * sizeof *buf, err);
    float **rows = lx_malloc((n_cont > 0 ? (size_t)n_cont : 1) * sizeof *rows, err);
    lexie_status s = buf && rows ? LEXIE_OK : LEXIE_E_NOMEM;
    for (size_t k = 0, at = 0; s == LEXIE_OK && k < (size_t)n_cont; k++) {
        rows[k] = buf + at;
        at += n_conts[k] > 0 ? (size_t)n_conts[k] : 0;
    }
    if (s == LEXIE_OK)
        s = lexie_score_continuation_tokens(c, prompt, n_prompt, conts, n_conts, n_cont, rows, err);
    for (int k = 0; s == LEXIE_OK && k < n_cont; k++) {
        out[k] = 0.0;
        for (int j = 0; j < n_conts[k]; j++) out[k] += rows[k][j];
    }
    free(buf);
    free(rows);
    return s;
}

/* ==== Batched next-token distributions ==== */

/* The prompts of one batch share a long prefix (instruction,
** demonstrations).  It is brought into sequence 0 once (reusing whatever
** is cached there already), shared with sequences 1..G without copying,
** and the G tails are decoded together in chunks of n_batch tokens, so one
** weight read serves several examples. */
lexie_status lx_next_probs_batch(lexie_ctx *c, const lexie_token *const *prompts, const int *np,
                                 int n, const lexie_token *cand, int n_cand, float *probs,
                                 lexie_error *err) {
    int n_vocab = lexie_model_n_vocab(c->model), n_batch = c->params.n_batch;
    int slots = c->params.n_seq_max - 1, n_ctx = c->params.n_ctx;
    for (int k = 0; k < n_cand; k++)
        if (cand[k] < 0 || cand[k] >= n_vocab)
            return lx_fail(err, LEXIE_E_INVALID, "next_probs: candidate %d is not a token id",
                           cand[k]);
    /* The common prefix; every prompt keeps at least one token of tail. */
    int L = np[0];
    for (int i = 1; i < n; i++) {
        int l = 0;
        while (l < L && l < np[i] && prompts[i][l] == prompts[0][l]) l++;
        L = l;
    }
    for (int i = 0; i < n; i++) L = LX_MIN(L, np[i] - 1);
    if (slots < 1 || L < 1) {
        for (int i = 0; i < n; i++) {
            lexie_status st = lexie_next_token_probs(c, prompts[i], np[i], cand, n_cand,
                                                     probs + (size_t)i * n_cand, NULL, err);
            if (st != LEXIE_OK) return st;
        }
        return LEXIE_OK;
    }
    const float *lg;
    lexie_status st = lx_prefill(c, 0, prompts[0], L, &lg, err);
    if (st != LEXIE_OK) return st;

    lexie_token *tok = lx_malloc((size_t)n_batch * sizeof *tok, err);
    int32_t *pos = lx_malloc((size_t)n_batch * sizeof *pos, err);
    int32_t *seq = lx_malloc((size_t)n_batch * sizeof *seq, err);
    int8_t *want = lx_malloc((size_t)n_batch, err);
    int *who = lx_malloc((size_t)n_batch * sizeof *who, err);
    if (!tok || !pos || !seq || !want || !who) st = LEXIE_E_NOMEM;

    int i0 = 0;
    while (st == LEXIE_OK && i0 < n) {
        /* A group: as many prompts as free sequences and cache cells allow. */
        int i1 = i0, cells = L + 1;
        while (i1 < n && i1 - i0 < slots && (i1 == i0 || cells + np[i1] - L <= n_ctx))
            cells += np[i1++] - L;
        if (cells > n_ctx) {
            /* A single tail that does not fit: the plain path says why. */
            st = lexie_next_token_probs(c, prompts[i0], np[i0], cand, n_cand,
                                        probs + (size_t)i0 * n_cand, NULL, err);
            i0++;
            continue;
        }
        for (int i = i0; i < i1; i++) lexie_kv_seq_cp(c, 0, 1 + i - i0, 0, L);
        /* Stream the tails through decode calls of at most n_batch tokens. */
        int i = i0, j = L;
        while (st == LEXIE_OK && i < i1) {
            int m = 0;
            while (m < n_batch && i < i1) {
                tok[m] = prompts[i][j];
                pos[m] = j;
                seq[m] = 1 + i - i0;
                want[m] = j == np[i] - 1;
                who[m] = i;
                m++;
                if (++j == np[i]) {
                    i++;
                    j = L;
                }
            }
            lexie_batch b = {m, tok, pos, seq, want};
            st = lexie_ctx_decode(c, &b, err);
            for (int t = 0; t < m && st == LEXIE_OK; t++) {
                if (!want[t]) continue;
                const float *l = lexie_ctx_logits(c, t);
                if (!l)
                    st = lx_fail(err, LEXIE_E_INTERNAL, "next_probs: missing logits");
                else
                    lx_softmax_restricted(l, cand, n_cand, probs + (size_t)who[t] * n_cand);
            }
        }
        for (int k = i0; k < i1; k++) lexie_kv_seq_rm(c, 1 + k - i0, 0, -1);
        i0 = i1;
    }
    free(tok);
    free(pos);
    free(seq);
    free(want);
    free(who);
    return st;
}
