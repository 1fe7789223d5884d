/*
** prefill.c -- bring a sequence up to a given prompt, computing only what
** the KV cache does not already hold.  This is what makes repeated prompts
** with a shared prefix (QA4RE's instruction, few-shot demonstrations) cheap.
*/
#include "decode.h"

#include <math.h>

lexie_status lx_prefill(lexie_ctx *c, int seq, const int32_t *toks, int n, const float **logits,
                        lexie_error *err) {
    if (n <= 0) return lx_fail(err, LEXIE_E_INVALID, "prefill: empty prompt");
    if (n > c->params.n_ctx)
        return lx_fail(err, LEXIE_E_RANGE, "prompt of %d tokens exceeds the context of %d", n,
                       c->params.n_ctx);
    /* Keep the cached prefix, but always recompute the last token so its
    ** logits exist. */
    int keep = lx_kv_cached_prefix(c, seq, toks, n);
    if (keep >= n) keep = n - 1;
    lexie_kv_seq_rm(c, seq, keep, -1);

    /* Positions continue after the kept prefix (pos = NULL); the scratch
    ** buffer is free again once the prefix has been matched. */
    int32_t *sq = c->scratch;
    for (int i = 0; i < c->params.n_batch; i++) sq[i] = seq;
    while (keep < n) {
        int m = LX_MIN(n - keep, c->params.n_batch);
        lexie_batch b = {m, toks + keep, NULL, sq, NULL};
        lexie_status s = lexie_ctx_decode(c, &b, err);
        if (s != LEXIE_OK) return s;
        keep += m;
    }
    *logits = lexie_ctx_logits(c, -1);
    return LEXIE_OK;
}

double lx_logsumexp(const float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += exp((double)x[i] - (double)mx);
    return (double)mx + log(sum);
}
