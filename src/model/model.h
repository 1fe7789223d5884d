/*
** model.h -- the internals of lexie_model and lexie_ctx, the architecture
** registry, and the shared pieces every architecture's forward pass uses.
**
** A model file is bound to an architecture by name (general.architecture)
** through the registry table in model.c (lx_arch_find); only the registry
** looks at the name.
** Each architecture file (arch_llama.c, ...) reads its hyperparameters
** from metadata, binds its tensors, and implements forward().
*/
#ifndef LX_MODEL_H
#define LX_MODEL_H

#include "base/base.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "tokenizer/tokenizer.h"

#include <stdint.h>

#define LX_MAX_LAYERS 512
#define LX_MAX_SEQ 64
/* Tokens whose queries attention takes together against one KV head, so
** the cells their lists share are read once for all of them (layers.c):
** eight sequences decoded after one prompt read the prompt's keys and
** values once a layer on one thread. */
#define LX_ATT_TOKENS 8

/* A weight: a view into the mapped file, and what lx_linear multiplies
** by: the same view, or a packed copy built at load (kernels/pack.c) whose
** file pages were then released.  Everything but lx_linear (embedding
** lookup, training, merging) reads data. */
typedef struct lx_tensor {
    const void *data;
    int type;      /* lx_type */
    int64_t ne[4]; /* ne[0] = row length */
    const char *name;
    const void *mm; /* data, or the packed copy (owned by the model) */
    int mm_type;    /* type, or the packed type */
} lx_tensor;

/* Hyperparameters, all from metadata. */
typedef struct lx_hparams {
    int n_vocab;
    int n_ctx_train;
    int n_embd;
    int n_layer;
    int n_head;
    int n_head_kv;
    int head_dim; /* per-head size of q and k (and v) */
    int n_ff;
    int n_rot; /* dimensions rotated by RoPE */
    float rope_base;
    float rope_scale; /* linear position scale (1 = none) */
    float norm_eps;
    /* gemma3 (0 where an architecture has none): */
    int n_swa;           /* sliding-window size of the local layers; 0: none */
    float rope_base_swa; /* RoPE base of the sliding-window layers */
    float attn_scale;    /* q.k scale; 0: 1/sqrt(head_dim) */
    float logit_softcap; /* logits = cap * tanh(logits / cap); 0: none */
} lx_hparams;

/* One transformer block of a llama-family model.  Optional tensors have
** data == NULL.  Shapes (row length first). */
typedef struct lx_layer {
    lx_tensor attn_norm;      /* (n_embd) */
    lx_tensor wq, wk, wv;     /* (n_embd, n_head*hd), (n_embd, n_head_kv*hd) x2 */
    lx_tensor bq, bk, bv;     /* optional biases (qwen2) */
    lx_tensor q_norm, k_norm; /* optional per-head RMS norms (qwen3) (hd) */
    lx_tensor wo;             /* (n_head*hd, n_embd) */
    lx_tensor ffn_norm;       /* (n_embd) */
    lx_tensor w_gate, w_up;   /* (n_embd, n_ff) */
    lx_tensor w_down;         /* (n_ff, n_embd) */
    lx_tensor attn_post_norm; /* optional RMS norm of the attention output (gemma3) */
    lx_tensor ffn_post_norm;  /* optional RMS norm of the FFN output (gemma3) */
} lx_layer;

typedef struct lx_arch lx_arch;

struct lexie_model {
    lx_gguf *gguf; /* owns the mapping the tensors point into */
    const lx_arch *arch;
    lx_hparams hp;
    lx_vocab *vocab;
    char *chat_template;    /* owned; NULL if the file has none */
    const char *name;       /* general.name or "" (points into meta_vals) */
    const char **meta_keys; /* (n_meta) borrowed from gguf */
    char **meta_vals;       /* (n_meta) owned NUL-terminated copies */
    int n_meta;
    lx_tensor tok_embd;   /* (n_embd, n_vocab) */
    lx_tensor out_norm;   /* (n_embd) */
    lx_tensor output;     /* (n_embd, n_vocab); tok_embd when tied */
    lx_tensor rope_freqs; /* optional (n_rot/2) per-pair angle divisors */
    lx_layer *layers;     /* n_layer */
    void *packed;         /* owned: every packed weight (lx_tensor.mm), or NULL */
    int n_packed;         /* weights that point into it */
    int n_packed_q5_0;    /* of those, Q5_0 ones (in Q8_0's layout) */
};

/* ==== KV cache ==== */

/* Cells are shared by all sequences: a cell holds one position's keys and
** values for every layer, and a bitmask of the sequences that see it, so a
** prefix computed once can serve many sequences. */
typedef struct lx_kv {
    int n_cells;
    int kv_dim; /* n_head_kv * head_dim */
    int n_layer;
    int32_t *pos;  /* (n_cells) -1 when free */
    uint64_t *seq; /* (n_cells) bit s set: sequence s sees the cell */
    int32_t *tok;  /* (n_cells) the token stored, for prefix matching */
    float *k;      /* (n_layer, n_head_kv, n_cells, head_dim) */
    float *v;      /* (n_layer, n_head_kv, n_cells, head_dim) */
    int used;      /* cells with pos >= 0 */
} lx_kv;

/* ==== Context ==== */

/* Which token set's visible-cell lists a thread's part of lexie_ctx.vis
** holds: they serve every layer of one forward pass (layers.c). */
typedef struct lx_vis_memo {
    uint64_t forward; /* the pass, 0: none yet */
    int set, set_size, window, shared;
    int n_vis[LX_ATT_TOKENS];
} lx_vis_memo;

/* A layer's RoPE and K/V store (layers.c): q and k rotated in place, k
** and v stored in layer il's cells. */
typedef struct lx_rope_job {
    int il, neox;
    float *q, *k;
    const float *v;
} lx_rope_job;

struct lexie_ctx {
    const lexie_model *model;
    lexie_ctx_params params;
    lx_pool *pool;
    lx_kv kv;

    /* The batch being computed (copied in, so positions can be filled). */
    int n_tokens;
    int32_t *tok;  /* (n_batch) */
    int32_t *pos;  /* (n_batch) */
    int32_t *seq;  /* (n_batch) */
    int32_t *cell; /* (n_batch) KV cell each token was stored in */
    int8_t *want;  /* (n_batch) logits wanted */

    /* Activations, sized for n_batch tokens at creation. */
    float *x;              /* (n_batch, n_embd) residual stream */
    float *xb;             /* (n_batch, max(n_embd, n_head*hd)) normed input / attention out */
    float *q;              /* (n_batch, n_head*hd) */
    float *k;              /* (n_batch, kv_dim) */
    float *v;              /* (n_batch, kv_dim) */
    float *hb;             /* (n_batch, max(n_ff, n_embd)) */
    float *hb2;            /* (n_batch, n_ff) */
    float *att;            /* (max(n_threads, n_head_kv), LX_ATT_TOKENS * group, n_cells) scores */
    int32_t *vis;          /* (n_threads, LX_ATT_TOKENS, n_cells) visible cells */
    lx_vis_memo *vis_memo; /* (n_threads) whose lists vis holds */
    uint64_t n_forward;    /* forward passes so far: the visible cells change between */
    float *att_qy;         /* (n_threads, LX_ATT_TOKENS * group, hd) queries, outputs */
    void *qbuf, *qbuf2;    /* quantized activations for lx_matmul (two: lx_linear_glu) */
    const float *act_x;    /* act_q holds these act_n rows quantized for act_type (or NULL) */
    int act_n, act_type;
    void *act_q;
    lx_rope_job rope_pending;    /* q non-NULL: lx_rope left this to the attention pass */
    float *rope_cache;           /* (n_batch, n_rot) cos/sin pairs for this batch, */
    uint64_t rope_forward;       /* computed in this forward pass */
    float rope_base, rope_scale; /* for this base and position scale */

    /* Output logits: row r belongs to batch position out_row[r]. */
    float *logits;   /* (n_batch, n_vocab) */
    int32_t *out_of; /* (n_batch) batch position -> logits row, -1 if none */
    int n_out;
    int32_t *scratch; /* (4 * n_cells) for prefix matching and building batches */

    /* LoRA at inference (lora.c): lexie_ctx_set_adapter sets these. */
    const lexie_adapter *lora; /* borrowed; NULL: none */
    float lora_scale;
    float *lora_tmp; /* (n_batch, rank) A x */
};

/* How many leading tokens of toks[0..n) seq already holds at positions
** 0, 1, ...  (the reusable prefix). */
int lx_kv_cached_prefix(lexie_ctx *c, int seq, const int32_t *toks, int n);

/* msgs[0..n) rendered with m's chat template (with the generation prompt
** when gen) and tokenized, BOS as the model wants: the template's markup
** becomes control tokens, message text never does (lexie_tokenize_chat).
** Malloc'd, *n_tok tokens; *text (may be NULL) gets the rendered text,
** malloc'd.  NULL and err on failure. */
lexie_token *lx_chat_tokens(const lexie_model *m, const lexie_chat_msg *msgs, int n, int gen,
                            int *n_tok, char **text, lexie_error *err);

/* msgs[0..n) as one line of chat training data, `{"messages": [{"role",
** "content"}, ...]}` (what lexie train sft reads; no newline).  Malloc'd;
** NULL and err (LEXIE_E_NOMEM) on failure. */
char *lx_chat_sft_line(const lexie_chat_msg *msgs, int n, lexie_error *err);

/* ==== Architectures ==== */

struct lx_arch {
    const char *name;
    /* Reads hparams from metadata and binds tensors into m. */
    lexie_status (*load)(lexie_model *m, lexie_error *err);
    /* Computes c->n_tokens tokens of the batch already placed in c (cells
    ** assigned), writing logits for those with want set. */
    void (*forward)(lexie_ctx *c);
};

/* How a llama-family architecture differs from llama (decoder.c). */
typedef struct lx_decoder_opts {
    int qkv_bias; /* q, k, v projections have biases (qwen2) */
    int qk_norm;  /* per-head RMSNorm of q and k before RoPE (qwen3) */
    int neox;     /* RoPE rotates halves (x[i], x[i+n/2]), not pairs */
} lx_decoder_opts;

lexie_status lx_decoder_load(lexie_model *m, const lx_decoder_opts *o, lexie_error *err);
void lx_decoder_forward(lexie_ctx *c, const lx_decoder_opts *o);

/* The architecture registered under name, or NULL. */
const lx_arch *lx_arch_find(const char *name);

/* What the load's packing adds to a saved run's key ("" when nothing was
** packed): packed weights sum in another order (kernels/pack.c). */
const char *lx_model_pack_key(const lexie_model *m);

/* ==== Helpers for architecture files ==== */

/* Reads "<arch>.<suffix>" as an integer/float into *out; required keys fail
** with a message naming the key, optional ones leave *out untouched. */
lexie_status lx_hp_int(const lexie_model *m, const char *suffix, int required, int *out,
                       lexie_error *err);
lexie_status lx_hp_float(const lexie_model *m, const char *suffix, int required, float *out,
                         lexie_error *err);
/* Binds tensor `name` (printf format) and checks its type is supported and
** its shape is (ne0, ne1) (ne1 = 1 for vectors).  Optional tensors that are
** absent leave t->data NULL. */
lexie_status lx_bind(const lexie_model *m, lx_tensor *t, int required, int64_t ne0, int64_t ne1,
                     lexie_error *err, const char *fmt, ...) LX_PRINTF(7, 8);

/* y (n, rows) = W x for the n tokens in x (n, cols). */
void lx_linear(lexie_ctx *c, const lx_tensor *w, const float *x, float *y, int n);
/* lx_linear for k weights that read the same x (q, k, v; gate, up): x is
** quantized once and the pool woken once where their types allow. */
void lx_linear_many(lexie_ctx *c, const float *x, int n, int k, const lx_tensor *const w[],
                    float *const y[]);
/* Adds a bias vector b (len) to each of n rows of y. */
void lx_add_bias(const lx_tensor *b, float *y, int n, int len);
/* Token embeddings of the batch into c->x. */
void lx_embed(lexie_ctx *c);
/* RMS-normalises n rows of len floats from x into out, times weight w.
** next (may be NULL): the weight whose lx_linear reads out right after;
** the pass quantizes the rows for it as well (lx_matmul_act), which that
** lx_linear, given out and n, takes as they are.  The same for
** lx_add_norm_rows and lx_glu_rows. */
void lx_norm_rows(lexie_ctx *c, const lx_tensor *w, const float *x, float *out, int n, int len,
                  float eps, const lx_tensor *next);
/* Row-wise work split into contiguous ranges of rows over c's pool (each
** row computed alone: results do not depend on the split); one thread
** for a few rows, where waking the pool costs more. */
typedef void (*lx_rows_fn)(void *arg, int r0, int r1);
void lx_par_rows(lexie_ctx *c, int n, lx_rows_fn fn, void *arg);
/* x += add, then out = RMS-norm(x) * w, row by row (the residual and the
** next norm in one pass). */
void lx_add_norm_rows(lexie_ctx *c, float *x, const float *add, const lx_tensor *w, float *out,
                      int n, int len, float eps, const lx_tensor *next);
/* x += add, rows of len. */
void lx_add_rows(lexie_ctx *c, float *x, const float *add, int n, int len);
/* gate = act(gate) * up over n rows of len: SwiGLU, or GeGLU (gelu). */
void lx_glu_rows(lexie_ctx *c, float *gate, const float *up, int n, int len, int gelu,
                 const lx_tensor *next);
/* gate = W_gate x, up = W_up x, then lx_glu_rows(gate, up, ..., next), in
** one pass of the pool where it can: each thread applies the activation
** to the columns it has just computed and quantizes them for next (whose
** lx_linear, given gate and n, takes them as they are). */
void lx_linear_glu(lexie_ctx *c, const float *x, int n, const lx_tensor *w_gate,
                   const lx_tensor *w_up, float *gate, float *up, int gelu, const lx_tensor *next);
/* Rotates q (n, n_head*hd) and k (n, n_kv*hd) in place by each token's
** position, and stores k and v (n, n_kv*hd) in layer il's cache cells,
** one pass over the tokens: what lx_attention reads.  Where the tokens
** are all of different sequences it may leave both to the lx_attention
** of the same il and q that must follow (each unit does its own heads).
** neox: rotate halves (x[i], x[i+hd/2]) instead of pairs. */
void lx_rope(lexie_ctx *c, int il, float *q, float *k, const float *v, int neox);
/* lx_rope with an explicit base and linear position scale (gemma3's local
** and global layers differ in both). */
void lx_rope_ex(lexie_ctx *c, int il, float *q, float *k, const float *v, int neox, float base,
                float pos_scale);
/* softmax(q k^T / sqrt(hd)) v over each token's visible cells of layer
** il (lx_rope stored the batch's own) into out (n, n_head*hd). */
void lx_attention(lexie_ctx *c, int il, const float *q, float *out);
/* lx_attention with scores q k^T * scale and, when window > 0, a sliding
** window: a token at position p sees only cells with p - window < pos <= p. */
void lx_attention_ex(lexie_ctx *c, int il, const float *q, float *out, float scale, int window);
/* gate[i] = gelu(gate[i]) * up[i], GELU in its tanh form with ggml's fp16
** rounding of input and result (GeGLU feed-forward of gemma). */
void lx_geglu(float *gate, const float *up, int64_t n);
/* Final norm and output projection for the tokens that want logits. */
void lx_output(lexie_ctx *c);

#endif /* LX_MODEL_H */
