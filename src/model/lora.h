/*
** lora.h -- LoRA adapters: low-rank updates W' = W + scale * B A on the
** seven projections of a llama-family block, shared by inference (the
** forward pass adds scale * B (A x) after each adapted matmul) and
** training (src/train keeps its trainable tensors in the same struct).
**
** File layout (llama.cpp's, from convert_lora_to_gguf.py and
** llama-adapter.cpp): general.type = "adapter", adapter.type = "lora",
** adapter.lora.alpha (float), general.architecture = the base's; tensors
** "<base name>.lora_a" with ne = (n_in, rank) -- rank rows of n_in, PEFT's
** lora_A (rank, in) -- and "<base name>.lora_b" with ne = (rank, n_out) --
** n_out rows of rank, PEFT's lora_B (out, rank).  llama.cpp scales by
** user_scale * alpha / rank (user_scale alone when alpha is 0).
*/
#ifndef LX_LORA_H
#define LX_LORA_H

#include "model/model.h"

/* The projections an adapter may target, in lx_layer order. */
enum {
    LX_LORA_Q = 0,
    LX_LORA_K,
    LX_LORA_V,
    LX_LORA_O,
    LX_LORA_GATE,
    LX_LORA_UP,
    LX_LORA_DOWN,
    LX_LORA_N_TARGET
};

/* One adapted projection: a is (rank, n_in) row-major, b is (n_out,
** rank).  a == NULL: the projection is not adapted. */
typedef struct lx_lora_pair {
    float *a;
    float *b;
    int n_in, n_out, rank;
} lx_lora_pair;

struct lexie_adapter {
    const lexie_model *model; /* borrowed: the base it was built for */
    float alpha;              /* 0: scale = the user's scale alone */
    int n_layer;
    lx_lora_pair *pairs; /* (n_layer * LX_LORA_N_TARGET) */
    float *mem;          /* owns every a and b */
    size_t n_params;     /* floats in mem */
};

/* The base tensor of target t in layer il, and its GGUF name stem
** ("attn_q", ...). */
const lx_tensor *lx_lora_base(const lexie_model *m, int il, int t);
const char *lx_lora_target_name(int t);

/* general.type of a training checkpoint (src/train/checkpoint.c): the
** adapter's tensors plus AdamW's moments ("<tensor>.adam_m", ".adam_v").
** lexie_adapter_load reads the adapter out of one and skips the moments. */
#define LX_LORA_CHECKPOINT_TYPE "lexie.train.checkpoint"
/* The pair for (il, t). */
static inline lx_lora_pair *lx_lora_at(const lexie_adapter *a, int il, int t) {
    return &a->pairs[(size_t)il * LX_LORA_N_TARGET + t];
}
/* alpha / rank (or 1 when alpha is 0), without the user's scale. */
float lx_lora_pair_scale(const lexie_adapter *a, const lx_lora_pair *p);

/* An adapter for m with the targets in mask (bit t = target t) at rank,
** all zeros, in one allocation.  NULL on failure. */
lexie_adapter *lx_lora_new(const lexie_model *m, int rank, float alpha, unsigned mask,
                           lexie_error *err);
/* A new adapter with the same shapes as a, zeroed (gradients, optimizer
** moments). */
lexie_adapter *lx_lora_new_like(const lexie_adapter *a, lexie_error *err);

/* Inference: y (n, n_out) += scale * B (A x) for the projection w of the
** ctx's model when the ctx has an adapter that adapts it.  Called by
** lx_linear after the base product. */
void lx_lora_linear(lexie_ctx *c, const lx_tensor *w, const float *x, float *y, int n);

#endif /* LX_LORA_H */
