/*
** constrain.c -- constrained decoding over a fixed set of answers: the
** probability that decoding restricted to the answers' tokens produces
** each answer, from per-token log-probabilities (lexie_score_continuation_
** tokens).  The vanilla relation prompt decides its label this way; a
** grammar mask for structured output will sit beside it.
*/
#include "decode.h"

#include <math.h>
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
