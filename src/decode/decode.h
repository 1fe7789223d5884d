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

#endif
