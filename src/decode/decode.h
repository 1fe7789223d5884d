/*
** decode.h -- internal helpers shared by scoring and generation.
*/
#ifndef LX_DECODE_H
#define LX_DECODE_H

#include "model/model.h"

/* Makes sequence seq hold exactly toks[0..n) and computes the logits of
** its last token, reusing the longest cached prefix: only the tokens after
** it are decoded, in chunks of n_batch.  *logits (borrowed until the next
** decode) receives the last token's logits. */
lexie_status lx_prefill(lexie_ctx *c, int seq, const int32_t *toks, int n, const float **logits,
                        lexie_error *err);

/* log(sum(exp(x))) over n floats, accumulated in double. */
double lx_logsumexp(const float *x, int n);

/* probs[k] = softmax over the candidates of logits[cand[k]] (max first,
** sum in double).  Candidates must be valid token ids. */
void lx_softmax_restricted(const float *logits, const lexie_token *cand, int n_cand, float *probs);

/* The restricted next-token distribution for n prompts at once:
** probs[p * n_cand + k].  The longest prefix the prompts share is prefilled
** into sequence 0 (as lexie_next_token_probs does for one prompt); groups
** of up to n_seq_max - 1 tails then run in sequences 1.. (emptied again
** afterwards), as many per group as the cache holds.  With n_seq_max == 1
** or no shared prefix, each prompt goes through lexie_next_token_probs.
** LEXIE_E_INVALID for a candidate that is not a token id. */
lexie_status lx_next_probs_batch(lexie_ctx *c, const lexie_token *const *prompts, const int *np,
                                 int n, const lexie_token *cand, int n_cand, float *probs,
                                 lexie_error *err);

/* Constrained decoding over n answers (token sequences a[k] of n_a[k]
** tokens, each ending where the model would end it): p[k] is the
** probability that decoding restricted to the answers' tokens produces
** answer k, from the per-token log-probabilities lp[k][j].  At each step
** the tokens that continue some answer share the probability, so a long
** answer is not penalised for its length, only where it branches away
** from the others. */
void lx_constrained_probs(const lexie_token *const *a, const int *n_a, int n,
                          const float *const *lp, float *p);

#endif
