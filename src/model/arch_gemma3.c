/*
** arch_gemma3.c -- gemma3 (text): the pre-norm decoder of decoder.c with
** Gemma's changes, as llama.cpp computes them (src/models/gemma3.cpp):
**
**   x   = embd(tok) * sqrt(n_embd)
**   a   = Wo * attn(rope(qnorm(Wq * norm(x))) * scale, rope(knorm(Wk * norm(x))), Wv * norm(x))
**   h   = x + post_attn_norm(a)
**   x'  = h + post_ffn_norm(Wdown * (gelu(Wgate * norm(h)) * Wup * norm(h)))
**   logits = Wout * norm(x_last)             (Wout = token embedding: tied)
**
** Five of every six layers (il % 6 != 5) are local: a token attends only
** to the last n_swa positions (gemma3.attention.sliding_window) and RoPE
** uses base 10000 without scaling; the sixth is global, with
** gemma3.rope.freq_base (1e6) and any linear rope scaling.  RoPE is NeoX
** style.  The head size comes from gemma3.attention.key_length.
**
** Facts taken from llama.cpp, checked against its converter:
**  - Gemma's RMSNorm multiplies by (1 + w); convert_hf_to_gguf.py adds the
**    1 to every *norm.weight when writing the GGUF, so norms here are the
**    plain x / rms(x) * w of every other architecture.
**  - The attention scale is 1/sqrt(head_dim) (query_pre_attn_scalar =
**    head_dim), except in the 27B model (62 layers), which uses
**    1/sqrt(n_embd / n_head); no GGUF key says so, hence the layer count.
**  - Gemma3 has no attention soft-capping.  Final logit soft-capping is
**    applied only if the file has gemma3.final_logit_softcapping (released
**    models have none).
**  - No sliding_window key (or 0) means every layer is global.
*/
#include "model.h"

#include <math.h>

/* Every SWA_PATTERN-th layer (il % SWA_PATTERN == SWA_PATTERN - 1) is
** global; llama.cpp's set_swa_pattern(6) for gemma3. */
#define SWA_PATTERN 6
#define ROPE_BASE_SWA 10000.0f

static const lx_decoder_opts opts = {.qkv_bias = 0, .qk_norm = 1, .neox = 1};

static int layer_is_local(const lx_hparams *hp, int il) {
    return hp->n_swa > 0 && il % SWA_PATTERN < SWA_PATTERN - 1;
}

/* ==== Load ==== */

static lexie_status load(lexie_model *m, lexie_error *err) {
    lexie_status s = lx_decoder_load(m, &opts, err);
    if (s) return s;
    lx_hparams *hp = &m->hp;

    /* The converter always writes the base; Gemma's own default is 1e6. */
    hp->rope_base = 1000000.0f;
    if ((s = lx_hp_float(m, "rope.freq_base", 0, &hp->rope_base, err))) return s;
    hp->rope_base_swa = ROPE_BASE_SWA;
    hp->n_swa = 0;
    hp->logit_softcap = 0.0f;
    if ((s = lx_hp_int(m, "attention.sliding_window", 0, &hp->n_swa, err)) ||
        (s = lx_hp_float(m, "final_logit_softcapping", 0, &hp->logit_softcap, err)))
        return s;
    /* Their ranges are checked by the loader (model.c), naming the key. */
    int value_length = hp->head_dim;
    if ((s = lx_hp_int(m, "attention.value_length", 0, &value_length, err))) return s;
    if (value_length != hp->head_dim)
        return lx_fail(err, LEXIE_E_UNSUPPORTED,
                       "gemma3: value head size %d differs from key head size %d", value_length,
                       hp->head_dim);
    int qk_dim = hp->n_layer == 62 ? hp->n_embd / hp->n_head : hp->head_dim;
    hp->attn_scale = 1.0f / sqrtf((float)qk_dim);

    int d = hp->n_embd;
    for (int i = 0; i < hp->n_layer; i++) {
        lx_layer *L = &m->layers[i];
        if ((s = lx_bind(m, &L->attn_post_norm, 1, d, 1, err, "blk.%d.post_attention_norm.weight",
                         i)) ||
            (s = lx_bind(m, &L->ffn_post_norm, 1, d, 1, err, "blk.%d.post_ffw_norm.weight", i)))
            return s;
    }
    return LEXIE_OK;
}

/* ==== Forward ==== */

static void forward(lexie_ctx *c) {
    const lexie_model *m = c->model;
    const lx_hparams *hp = &m->hp;
    int n = c->n_tokens, d = hp->n_embd, hd = hp->head_dim;
    size_t nd = (size_t)n * d;

    lx_embed(c);
    /* ggml_scale by sqrtf(n_embd), in float as llama.cpp does. */
    const float emb_scale = sqrtf((float)d);
    for (size_t i = 0; i < nd; i++) c->x[i] *= emb_scale;

    for (int il = 0; il < hp->n_layer; il++) {
        const lx_layer *L = &m->layers[il];
        int local = layer_is_local(hp, il);

        /* Attention block. */
        lx_norm_rows(c, &L->attn_norm, c->x, c->xb, n, d, hp->norm_eps, &L->wq);
        const lx_tensor *qkv[] = {&L->wq, &L->wk, &L->wv};
        float *const qkv_out[] = {c->q, c->k, c->v};
        lx_linear_many(c, c->xb, n, 3, qkv, qkv_out);
        lx_norm_rows(c, &L->q_norm, c->q, c->q, n * hp->n_head, hd, hp->norm_eps, NULL);
        lx_norm_rows(c, &L->k_norm, c->k, c->k, n * hp->n_head_kv, hd, hp->norm_eps, NULL);
        if (local)
            lx_rope_ex(c, il, c->q, c->k, c->v, opts.neox, hp->rope_base_swa, 1.0f);
        else
            lx_rope_ex(c, il, c->q, c->k, c->v, opts.neox, hp->rope_base, hp->rope_scale);
        lx_attention_ex(c, il, c->q, c->xb, hp->attn_scale, local ? hp->n_swa : 0);
        lx_linear(c, &L->wo, c->xb, c->hb, n);
        lx_norm_rows(c, &L->attn_post_norm, c->hb, c->hb, n, d, hp->norm_eps, NULL);
        lx_add_rows(c, c->x, c->hb, n, d);

        /* Feed-forward block. */
        lx_norm_rows(c, &L->ffn_norm, c->x, c->xb, n, d, hp->norm_eps, &L->w_gate);
        lx_linear_glu(c, c->xb, n, &L->w_gate, &L->w_up, c->hb, c->hb2, 1, &L->w_down);
        lx_linear(c, &L->w_down, c->hb, c->xb, n);
        lx_norm_rows(c, &L->ffn_post_norm, c->xb, c->xb, n, d, hp->norm_eps, NULL);
        lx_add_rows(c, c->x, c->xb, n, d);
    }
    lx_output(c);

    if (hp->logit_softcap > 0.0f) {
        const float cap = hp->logit_softcap, inv = 1.0f / cap;
        size_t nl = (size_t)c->n_out * (size_t)hp->n_vocab;
        for (size_t i = 0; i < nl; i++) c->logits[i] = cap * tanhf(c->logits[i] * inv);
    }
}

const lx_arch lx_arch_gemma3 = {"gemma3", load, forward};
