/*
** train.h -- the internals of LoRA training: the fp32 product, the
** forward and backward pass of each op, the training network (a llama or
** qwen2 model with saved activations, per-layer checkpointing and LoRA),
** and AdamW with its schedule.
**
** Shapes are (rows, row length), row-major, as elsewhere in lexie.  A
** batch is a run of whole sequences packed end to end: sequence s holds
** tokens [start[s], start[s+1]), its positions restart at 0 and its
** tokens attend only to earlier tokens of the same sequence.
*/
#ifndef LX_TRAIN_H
#define LX_TRAIN_H

#include "model/lora.h"
#include "model/model.h"

#include <stddef.h>
#include <stdint.h>

/* ==== The fp32 product (tgemm.c) ==== */

/* C (M, N; row stride ldc) = beta C + alpha A B, where A(i, k) is
** A[i * rsa + k * csa] (any strides: a transpose costs nothing) and B is
** row-major (K, N; row stride ldb).  beta is 0 (C is only written) or 1.
** Split over pool's threads (pool may be NULL); results do not depend on
** the number of threads. */
void lx_tgemm(lx_pool *pool, int M, int N, int K, float alpha, const float *A, ptrdiff_t rsa,
              ptrdiff_t csa, const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc);
void lx_tgemm_serial(int M, int N, int K, float alpha, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                     const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc);
/* C += alpha A B, the kernel behind both. */
typedef void (*lx_tgemm_fn)(int M, int N, int K, float alpha, const float *A, ptrdiff_t rsa,
                            ptrdiff_t csa, const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc);
lx_tgemm_fn lx_tgemm_avx512_get(void);
/* The same product with bf16 products and fp32 sums (tgemm_avx512bf16.c:
** A and B rounded to bf16, nearest even, as they are packed); NULL where
** the CPU has no AVX-512 BF16.  Measured, not yet used by training. */
lx_tgemm_fn lx_tgemm_avx512bf16_get(void);

/* ==== Ops, forward and backward (tops.c) ==== */

/* Dropout: dst[i] = src[i] / (1 - p) where the high half of
** splitmix64(key + i) is at least p * 2^32, else 0 (dst may be src).  The
** same bits on every ISA (tdrop_avx512.c does eight lanes at a time). */
void lx_tdropout(uint64_t key, float p, const float *src, float *dst, size_t n);
void lx_tdropout_avx512(uint64_t key, uint32_t thr, float keep, const float *src, float *dst,
                        size_t n);

/* Rows [r0, r1) of a weight dequantized to fp32: into dst as (r1 - r0,
** ne[0]), or transposed, as (ne[0], r1 - r0). */
void lx_tdequant(lx_pool *pool, const lx_tensor *w, int64_t r0, int64_t r1, float *dst,
                 int transpose);

/* y = x / rms(x) * w per row of d; rstd (n) gets 1 / rms for the backward. */
void lx_trms_fwd(const float *x, const float *w, float *y, float *rstd, int n, int d, float eps);
/* dx += the gradient through that norm, given dy (w is frozen). */
void lx_trms_bwd(const float *x, const float *w, const float *rstd, const float *dy, float *dx,
                 int n, int d);

/* cos/sin pairs (n, n_rot) for positions pos, as the inference path
** computes them (ggml's angles). */
void lx_trope_cache(const lexie_model *m, const int32_t *pos, int n, float *rc);
/* Rotates n rows of nh heads of hd in place; inverse rotates back, which
** is also the backward pass of the rotation. */
void lx_trope(float *x, const float *rc, int n, int nh, int hd, int n_rot, int neox, int inverse);

/* a = silu(g) * u, and its backward (dg, du overwritten). */
void lx_tswiglu_fwd(const float *g, const float *u, float *a, int64_t n);
void lx_tswiglu_bwd(const float *g, const float *u, const float *da, float *dg, float *du,
                    int64_t n);

/* Causal grouped-query attention over packed sequences.  q (n, nh * hd),
** k and v (n, nkv * hd), out (n, nh * hd); P holds the probabilities,
** nh * T_s * T_s floats per sequence (lx_tatt_probs). scratch holds
** lx_tatt_scratch floats per thread of pool. */
typedef struct lx_tatt {
    int n_seq;
    const int32_t *start; /* (n_seq + 1) */
    int nh, nkv, hd;
    float scale;
    int max_len; /* longest sequence, for scratch */
} lx_tatt;
size_t lx_tatt_probs(const lx_tatt *a);
size_t lx_tatt_scratch(int max_len, int hd);
void lx_tatt_fwd(lx_pool *pool, const lx_tatt *a, const float *q, const float *k, const float *v,
                 float *P, float *out, float *scratch);
/* dq overwritten; dk and dv overwritten. */
void lx_tatt_bwd(lx_pool *pool, const lx_tatt *a, const float *q, const float *k, const float *v,
                 const float *P, const float *dout, float *dq, float *dk, float *dv,
                 float *scratch);

/* Cross-entropy of one row of logits against target y: returns
** logsumexp(z) - z[y] and, when dz is not NULL, writes scale * (softmax(z)
** - onehot(y)) into dz (which may alias z). */
double lx_tce_row(float *z, int n, int y, float scale, float *dz);

/* ==== The training network (tnet.c) ==== */

typedef struct lx_tbatch {
    int n_tokens;
    const int32_t *tok; /* (n_tokens) */
    int n_seq;
    const int32_t *start;    /* (n_seq + 1), start[0] = 0, start[n_seq] = n_tokens */
    const int8_t *target;    /* (n_tokens) 1: position i predicts tok[i + 1] into the loss */
    const float *seq_weight; /* (n_seq) or NULL: multiplies the gradient of each sequence's loss */
    double *seq_loss;        /* (n_seq) or NULL: receives each sequence's summed loss */
} lx_tbatch;

typedef struct lx_tnet lx_tnet;

/* A network for m holding at most cap_tok tokens in sequences of at most
** cap_len.  lora (may be NULL) is borrowed: its A and B are read at every
** pass; grad (same shapes, may be NULL when lora is) receives gradients.
** dropout: on A's input, with masks from seed and a per-pass counter.
** checkpoint: keep only each layer's input and recompute its activations
** in the backward pass (memory of one layer); 0: keep every layer's
** activations (n_layer times the memory, a third fewer products). */
lx_tnet *lx_tnet_new(const lexie_model *m, lexie_adapter *lora, lexie_adapter *grad, int cap_tok,
                     int cap_len, float dropout, uint64_t seed, int n_threads, int checkpoint,
                     lexie_error *err);
void lx_tnet_free(lx_tnet *t);
/* Checks a batch against the model and the capacity. */
lexie_status lx_tnet_check(const lx_tnet *t, const lx_tbatch *b, lexie_error *err);
/* Forward (and, when backward, backward) over a checked batch.  Returns
** the sum of cross-entropies over the target positions.  Gradients of
** grad_scale * that sum are added into grad; dx0 (n_tokens, n_embd), when
** not NULL, gets the gradient of that scaled loss with respect to the
** token embeddings (for tests).  train: dropout on. */
double lx_tnet_run(lx_tnet *t, const lx_tbatch *b, int train, int backward, float grad_scale,
                   float *dx0);
/* Logits (n_tokens, n_vocab) of every position, no dropout.  x0, when not
** NULL, replaces the token embeddings (n_tokens, n_embd) (for tests). */
void lx_tnet_logits(lx_tnet *t, const lx_tbatch *b, const float *x0, float *logits);
/* Tests: hold != 0 makes every later pass draw the same dropout masks, so
** a loss with dropout is a smooth function for finite differences. */
void lx_tnet_hold_dropout(lx_tnet *t, int hold);
/* lx_tnet_run with the embeddings replaced by x0 (tests). */
double lx_tnet_run_x0(lx_tnet *t, const lx_tbatch *b, const float *x0, int backward,
                      float grad_scale, float *dx0);

/* ==== The trainer (trainer.c; checkpoint.c saves and restores it) ==== */

struct lexie_trainer {
    const lexie_model *m;
    lexie_train_params p;                 /* p.init is NULL after creation */
    lexie_adapter *lora, *grad, *m1, *m2; /* parameters, gradients, Adam moments */
    lx_tnet *net;
    long step;
    long epoch, cursor; /* data position of lexie_trainer_fit: next example of the epoch */
    int cap_tok;
    int32_t *tok, *start; /* (cap_tok), (micro_batch + 1): the packed micro-batch */
    int8_t *target;       /* (cap_tok) */
};

/* Validates n examples, counting their tokens and loss tokens. */
lexie_status lx_trainer_check(const lexie_trainer *t, const lexie_train_example *ex, int n,
                              long *n_loss, long *n_tok, lexie_error *err);
/* Packs examples [e0, e1) into t's micro-batch buffers as b. */
void lx_trainer_pack(lexie_trainer *t, const lexie_train_example *ex, int e0, int e1, lx_tbatch *b);
/* Clips the gradients in t->grad, takes one AdamW step at the scheduled
** rate; gives the rate and the norm before clipping. */
void lx_trainer_update(lexie_trainer *t, float *lr, float *norm);
/* The order of epoch e over n examples: a Fisher-Yates shuffle seeded by
** (seed, e) (lexie_trainer_fit and lexie_trainer_dpo_fit). */
void lx_trainer_epoch_order(uint64_t seed, long e, int *order, int n);

/* DPO (dpo.c).  The loss of one pair from the policy's (pc, pr) and the
** reference's (rc, rr) log-probabilities; *dpc (may be NULL) gets
** dloss/dpc, and dloss/dpr is its negative. */
double lx_dpo_loss(double pc, double pr, double rc, double rr, float beta, double *dpc);
/* The mean DPO loss of n pairs against ref (2n log-probabilities: chosen,
** rejected, ...); with backward, t->grad gets its gradient (dropout on).
** margin and accuracy (may be NULL) get the reward statistics.  NaN when
** memory ran out. */
double lx_dpo_grads(lexie_trainer *t, const lexie_dpo_pair *pairs, int n, const double *ref,
                    float beta, int backward, double *margin, double *accuracy, lexie_error *err);

/* The dropout counter of a network (advanced once per training pass), so a
** checkpoint can restore it. */
uint64_t lx_tnet_pass(const lx_tnet *t);
void lx_tnet_set_pass(lx_tnet *t, uint64_t pass);

/* ==== AdamW and the schedule (optim.c) ==== */

/* One AdamW update of n parameters at step t (1-based) with PyTorch's
** order: p *= 1 - lr * wd; m, v updated; p -= lr * mhat / (sqrt(vhat) + eps). */
void lx_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
              float eps, float wd, long t);
/* The global L2 norm of n floats (double accumulation). */
double lx_tnorm2(const float *g, size_t n);

#endif /* LX_TRAIN_H */
