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

/* Generation under a grammar (lexie_gen_params.grammar): the matcher,
** the mask bitset, a masked copy of the logits and the committed tokens,
** all allocated once per generation. */
typedef struct lx_gcon {
    lexie_matcher *m;
    lexie_grammar_vocab *own_vocab; /* built when the params gave none */
    uint32_t *mask;
    float *logits;     /* (n_vocab) the step's logits, masked */
    lexie_token *hist; /* (n_max + 1) tokens committed so far */
    int n_vocab, n_gtok, n_hist, n_max;
    int tight; /* masks are restricted to closing paths from now on */
} lx_gcon;

/* Prepares k for p->grammar (not NULL) on model m, for at most n_max
** sampled tokens.  Errors: those of lexie_grammar_vocab_new and
** lexie_matcher_new, LEXIE_E_NOMEM.  Free with lx_gcon_free (also after
** a failure; a zeroed k is fine). */
lexie_status lx_gcon_init(lx_gcon *k, const lexie_model *m, const lexie_gen_params *p, int n_max,
                          lexie_error *err);
void lx_gcon_free(lx_gcon *k);

/* One constrained step: masks logits, samples with sp and rng, commits the
** token to the matcher and returns it in *out.  left: the tokens that may
** still be sampled, this one included (-1: no limit); when the output
** could not be closed within them, only closing paths are allowed.  *out
** is -1 when no token is allowed (the output is complete, or cannot be
** closed within left).  LEXIE_E_INTERNAL when the matcher refuses a token
** of its own mask. */
lexie_status lx_gcon_step(lx_gcon *k, const lexie_model *m, const float *logits,
                          const lexie_sampler_params *sp, uint64_t *rng, int left, lexie_token *out,
                          lexie_error *err);

/* Appends a token's bytes to t as valid UTF-8; a character cut short
** waits in pend (room for 3 bytes, *n_pend of them used) for the next
** token, or becomes U+FFFD when final.  0 when out of memory. */
int lx_text_append_utf8(lx_buf *t, char *pend, size_t *n_pend, const char *s, size_t n, int final);

/* One answer of lx_generate_batch: the text, and for each sampled token
** its probability (under the grammar mask, renormalised over the allowed
** tokens) and the length of text after it, so a caller can tell which
** tokens wrote which bytes. */
typedef struct lx_gen_answer {
    char *text; /* malloc'd, NUL-terminated */
    float *prob;
    int *end;
    int n_tok;
    lexie_gen_stop why;
} lx_gen_answer;

void lx_gen_answer_clear(lx_gen_answer *a);

/* Answers n prompts (prompts[i] of np[i] tokens) at once with p's sampler,
** grammar (each answer its own matcher) and max_tokens; no stop strings.
** The longest prefix all prompts share is prefilled once into sequence 0;
** answers then run in sequences 1 .. n_seq_max-1, as many together as the
** cache holds (with n_seq_max 1, one at a time in sequence 0), one token
** each per decode.  Every answer's RNG starts at the sampler's seed, and
** logits do not depend on the batch, so an answer is the same whatever
** else runs beside it.  out[0..n) zeroed by the caller. */
lexie_status lx_generate_batch(lexie_ctx *c, const lexie_token *const *prompts, const int *np,
                               int n, const lexie_gen_params *p, lx_gen_answer *out,
                               lexie_error *err);

#endif
