/*
** sample.c -- picking the next token: greedy, or temperature with top-k
** and top-p (nucleus) filtering and a seeded RNG.
**
** Filtering works by thresholds on the logits found by bisection rather
** than by sorting the vocabulary, so sampling needs no scratch memory: a
** token survives top-k when fewer than k tokens beat it, and top-p when the
** tokens at or above it carry at least p of the probability mass.
*/
#include "model/model.h"

#include <math.h>

lexie_sampler_params lexie_sampler_default_params(void) {
    lexie_sampler_params p = {0.0f, 0, 1.0f, 0};
    return p;
}

#define ARGMAX_BLOCK 256

/* The first index of the largest logit, as the loop "if (x[i] > x[best])
** best = i" finds it: the vectorized max (same rule for NaN: only x[0]
** counts), then the first element equal to it, found by skipping the
** blocks whose max is below it (a block that starts with NaN, whose max is
** NaN, is searched) and searching the rest one by one.  Greedy decoding
** calls this once a token per sequence, over the whole vocabulary: the
** plain search took about 7 us of smollm2's 49,152 logits. */
static int argmax(const float *x, int n) {
    const lx_float_ops *ops = lx_float_ops_get(lx_isa_active());
    const float m = ops->max(x, n);
    if (m != m) return 0;
    int i = 0;
    while (i + ARGMAX_BLOCK < n && ops->max(x + i, ARGMAX_BLOCK) < m) i += ARGMAX_BLOCK;
    while (x[i] != m) i++;
    return i;
}

static int count_at_least(const float *x, int n, float t) {
    int k = 0;
    for (int i = 0; i < n; i++) k += x[i] >= t;
    return k;
}

/* Probability mass (unnormalised, relative to mx) of logits >= t. */
static double mass_at_least(const float *x, int n, float t, float mx, float inv_temp) {
    double s = 0.0;
    for (int i = 0; i < n; i++)
        if (x[i] >= t) s += exp((double)(x[i] - mx) * inv_temp);
    return s;
}

lexie_token lexie_sample(const lexie_model *m, const float *logits, const lexie_sampler_params *p,
                         uint64_t *state) {
    int n = m->hp.n_vocab;
    int best = argmax(logits, n);
    if (!p || p->temperature <= 0.0f) return best;
    /* Logits at -inf (tokens masked out by a grammar) are never drawn: the
    ** thresholds start at the lowest finite logit. */
    float mx = logits[best], mn = mx;
    for (int i = 0; i < n; i++)
        if (logits[i] > -INFINITY) mn = fminf(mn, logits[i]);
    float inv_temp = 1.0f / p->temperature;

    /* Lowest threshold that keeps at most top_k tokens. */
    float t = mn;
    if (p->top_k > 0 && p->top_k < n) {
        float lo = mn, hi = mx;
        for (int it = 0; it < 40; it++) {
            float mid = lo + (hi - lo) * 0.5f;
            if (count_at_least(logits, n, mid) > p->top_k)
                lo = mid;
            else
                hi = mid;
        }
        t = hi;
    }
    double total = mass_at_least(logits, n, t, mx, inv_temp);
    /* Highest threshold whose mass still reaches top_p of the total. */
    if (p->top_p > 0.0f && p->top_p < 1.0f) {
        float lo = t, hi = mx;
        for (int it = 0; it < 40; it++) {
            float mid = lo + (hi - lo) * 0.5f;
            if (mass_at_least(logits, n, mid, mx, inv_temp) >= p->top_p * total)
                lo = mid;
            else
                hi = mid;
        }
        t = lo;
        total = mass_at_least(logits, n, t, mx, inv_temp);
    }
    double r = (double)(lx_rng_next(state) >> 11) * (1.0 / 9007199254740992.0) * total;
    double acc = 0.0;
    int last = best;
    for (int i = 0; i < n; i++) {
        if (logits[i] < t) continue;
        acc += exp((double)(logits[i] - mx) * inv_temp);
        last = i;
        if (acc > r) return i;
    }
    return last;
}
