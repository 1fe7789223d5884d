/*
** decoder.c -- the pre-norm decoder that llama, qwen2 and qwen3 share:
** RMSNorm, grouped-query attention with RoPE, a SwiGLU feed-forward.
**
**   h  = x + Wo * attn(rope(Wq * norm(x) + bq), rope(Wk * norm(x) + bk), Wv * norm(x) + bv)
**   x' = h + Wdown * (silu(Wgate * norm(h)) * Wup * norm(h))
**   logits = Wout * norm(x_last)      (Wout = token embedding when tied)
**
** The architecture files (arch_*.c) say how they differ: biases on q/k/v
** (qwen2), per-head RMSNorm of q and k before RoPE (qwen3), and which RoPE
** layout they use.
*/
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Linear position scaling is supported; other schemes are refused rather
** than silently computed wrong.  (Llama-3 scaling comes as rope_freqs.) */
static lexie_status rope_scaling(lexie_model *m, lexie_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch->name);
    const char *type = lexie_model_meta_str(m, key);
    float factor = 0.0f;
    lexie_status s = lx_hp_float(m, "rope.scaling.factor", 0, &factor, err);
    if (s) return s;
    if (type && strcmp(type, "none") != 0 && strcmp(type, "linear") != 0)
        return lx_fail(err, LEXIE_E_UNSUPPORTED, "%s: rope scaling type '%s' is not supported",
                       m->arch->name, type);
    if (type && strcmp(type, "linear") == 0 && factor > 0.0f) m->hp.rope_scale = 1.0f / factor;
    return LEXIE_OK;
}

lexie_status lx_decoder_load(lexie_model *m, const lx_decoder_opts *o, lexie_error *err) {
    lx_hparams *hp = &m->hp;
    lexie_status s;
    hp->n_ctx_train = 4096;
    hp->rope_base = 10000.0f;
    hp->rope_scale = 1.0f;
    hp->norm_eps = 1e-5f;
    if ((s = lx_hp_int(m, "block_count", 1, &hp->n_layer, err)) ||
        (s = lx_hp_int(m, "context_length", 0, &hp->n_ctx_train, err)) ||
        (s = lx_hp_int(m, "embedding_length", 1, &hp->n_embd, err)) ||
        (s = lx_hp_int(m, "feed_forward_length", 1, &hp->n_ff, err)) ||
        (s = lx_hp_int(m, "attention.head_count", 1, &hp->n_head, err)))
        return s;
    hp->n_head_kv = hp->n_head;
    if ((s = lx_hp_int(m, "attention.head_count_kv", 0, &hp->n_head_kv, err)) ||
        (s = lx_hp_float(m, "rope.freq_base", 0, &hp->rope_base, err)) ||
        (s = lx_hp_float(m, "attention.layer_norm_rms_epsilon", 0, &hp->norm_eps, err)))
        return s;
    if ((s = rope_scaling(m, err))) return s;

    /* The head size is attention.key_length where given (qwen3, gemma3:
    ** n_head * head_dim may differ from n_embd, which then need not be a
    ** multiple of n_head), else n_embd / n_head. */
    int key_length = 0, value_length = 0;
    if ((s = lx_hp_int(m, "attention.key_length", 0, &key_length, err)) ||
        (s = lx_hp_int(m, "attention.value_length", 0, &value_length, err)))
        return s;
    if (hp->n_layer < 1 || hp->n_layer > LX_MAX_LAYERS || hp->n_embd < 1 || hp->n_head < 1 ||
        hp->n_head_kv < 1 || hp->n_head % hp->n_head_kv != 0 ||
        (key_length == 0 && hp->n_embd % hp->n_head != 0) || hp->n_ff < 1)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "%s: inconsistent hyperparameters (layers %d, embd %d, heads %d/%d, ff %d)",
                       m->arch->name, hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_ff);
    hp->head_dim = key_length > 0 ? key_length : hp->n_embd / hp->n_head;
    /* v heads are as wide as k heads in every architecture lexie runs. */
    if (value_length > 0 && value_length != hp->head_dim)
        return lx_fail(err, LEXIE_E_UNSUPPORTED,
                       "%s: attention.value_length %d differs from key_length %d", m->arch->name,
                       value_length, hp->head_dim);
    if (hp->head_dim > 4096 || (int64_t)hp->n_head * hp->head_dim > (1 << 20))
        return lx_fail(err, LEXIE_E_FORMAT, "%s: head size %d x %d heads is out of range",
                       m->arch->name, hp->head_dim, hp->n_head);
    hp->n_rot = hp->head_dim;
    if ((s = lx_hp_int(m, "rope.dimension_count", 0, &hp->n_rot, err))) return s;
    if (hp->n_rot < 2 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: rope.dimension_count %d does not fit head size %d",
                       m->arch->name, hp->n_rot, hp->head_dim);

    const lx_gguf_tensor *te = lx_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: required tensor 'token_embd.weight' is missing",
                       m->arch->name);
    if (te->ne[1] < 1 || te->ne[1] > (1 << 24))
        return lx_fail(err, LEXIE_E_FORMAT, "%s: token_embd.weight has %lld rows", m->arch->name,
                       (long long)te->ne[1]);
    hp->n_vocab = (int)te->ne[1];

    int d = hp->n_embd, hd = hp->head_dim, q = hp->n_head * hd, kvd = hp->n_head_kv * hd;
    if ((s = lx_bind(m, &m->tok_embd, 1, d, hp->n_vocab, err, "token_embd.weight")) ||
        (s = lx_bind(m, &m->out_norm, 1, d, 1, err, "output_norm.weight")) ||
        (s = lx_bind(m, &m->output, 0, d, hp->n_vocab, err, "output.weight")))
        return s;
    if (!m->output.data) m->output = m->tok_embd;
    /* Llama-3 style scaling: a factor per rotated pair divides its angle. */
    if ((s = lx_bind(m, &m->rope_freqs, 0, hp->n_rot / 2, 1, err, "rope_freqs.weight"))) return s;

    m->layers = lx_calloc((size_t)hp->n_layer, sizeof *m->layers, err);
    if (!m->layers) return LEXIE_E_NOMEM;
    for (int i = 0; i < hp->n_layer; i++) {
        lx_layer *L = &m->layers[i];
        if ((s = lx_bind(m, &L->attn_norm, 1, d, 1, err, "blk.%d.attn_norm.weight", i)) ||
            (s = lx_bind(m, &L->wq, 1, d, q, err, "blk.%d.attn_q.weight", i)) ||
            (s = lx_bind(m, &L->bq, o->qkv_bias, q, 1, err, "blk.%d.attn_q.bias", i)) ||
            (s = lx_bind(m, &L->bk, o->qkv_bias, kvd, 1, err, "blk.%d.attn_k.bias", i)) ||
            (s = lx_bind(m, &L->bv, o->qkv_bias, kvd, 1, err, "blk.%d.attn_v.bias", i)) ||
            (s = lx_bind(m, &L->q_norm, o->qk_norm, hd, 1, err, "blk.%d.attn_q_norm.weight", i)) ||
            (s = lx_bind(m, &L->k_norm, o->qk_norm, hd, 1, err, "blk.%d.attn_k_norm.weight", i)) ||
            (s = lx_bind(m, &L->wk, 1, d, kvd, err, "blk.%d.attn_k.weight", i)) ||
            (s = lx_bind(m, &L->wv, 1, d, kvd, err, "blk.%d.attn_v.weight", i)) ||
            (s = lx_bind(m, &L->wo, 1, q, d, err, "blk.%d.attn_output.weight", i)) ||
            (s = lx_bind(m, &L->ffn_norm, 1, d, 1, err, "blk.%d.ffn_norm.weight", i)) ||
            (s = lx_bind(m, &L->w_gate, 1, d, hp->n_ff, err, "blk.%d.ffn_gate.weight", i)) ||
            (s = lx_bind(m, &L->w_up, 1, d, hp->n_ff, err, "blk.%d.ffn_up.weight", i)) ||
            (s = lx_bind(m, &L->w_down, 1, hp->n_ff, d, err, "blk.%d.ffn_down.weight", i)))
            return s;
    }
    return LEXIE_OK;
}

void lx_decoder_forward(lexie_ctx *c, const lx_decoder_opts *o) {
    const lexie_model *m = c->model;
    const lx_hparams *hp = &m->hp;
    int n = c->n_tokens, d = hp->n_embd;

    lx_embed(c);
    for (int il = 0; il < hp->n_layer; il++) {
        const lx_layer *L = &m->layers[il];

        /* Attention block (the previous layer's FFN residual is added as
        ** its input is normalised). */
        if (il == 0)
            lx_norm_rows(c, &L->attn_norm, c->x, c->xb, n, d, hp->norm_eps, &L->wq);
        else
            lx_add_norm_rows(c, c->x, c->xb, &L->attn_norm, c->xb, n, d, hp->norm_eps, &L->wq);
        const lx_tensor *qkv[] = {&L->wq, &L->wk, &L->wv};
        float *const qkv_out[] = {c->q, c->k, c->v};
        lx_linear_many(c, c->xb, n, 3, qkv, qkv_out);
        lx_add_bias(&L->bq, c->q, n, hp->n_head * hp->head_dim);
        lx_add_bias(&L->bk, c->k, n, hp->n_head_kv * hp->head_dim);
        lx_add_bias(&L->bv, c->v, n, hp->n_head_kv * hp->head_dim);
        if (L->q_norm.data) {
            lx_norm_rows(c, &L->q_norm, c->q, c->q, n * hp->n_head, hp->head_dim, hp->norm_eps,
                         NULL);
            lx_norm_rows(c, &L->k_norm, c->k, c->k, n * hp->n_head_kv, hp->head_dim, hp->norm_eps,
                         NULL);
        }
        lx_rope(c, il, c->q, c->k, c->v, o->neox);
        lx_attention(c, il, c->q, c->xb);
        lx_linear(c, &L->wo, c->xb, c->hb, n);

        /* Feed-forward block. */
        lx_add_norm_rows(c, c->x, c->hb, &L->ffn_norm, c->xb, n, d, hp->norm_eps, &L->w_gate);
        lx_linear_glu(c, c->xb, n, &L->w_gate, &L->w_up, c->hb, c->hb2, 0, &L->w_down);
        lx_linear(c, &L->w_down, c->hb, c->xb, n);
    }
    lx_add_rows(c, c->x, c->xb, n, d);
    lx_output(c);
}
