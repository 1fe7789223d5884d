/*
** arch_llama.c -- the llama architecture (Llama 1-3, SmolLM, Mistral-style
** models): pre-norm decoder blocks with RMSNorm, grouped-query attention
** with RoPE on adjacent pairs, and a SwiGLU feed-forward.
**
**   h = x + Wo * attn(rope(Wq * norm(x)), rope(Wk * norm(x)), Wv * norm(x))
**   x' = h + Wdown * (silu(Wgate * norm(h)) * Wup * norm(h))
**   logits = Wout * norm(x_last)      (Wout = token embedding when tied)
*/
#include "model.h"

#include <stdlib.h>

static lexie_status llama_load(lexie_model *m, lexie_error *err) {
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
    float factor = 0.0f;
    if ((s = lx_hp_float(m, "rope.scaling.factor", 0, &factor, err))) return s;
    if (factor > 0.0f) hp->rope_scale = 1.0f / factor;

    if (hp->n_layer < 1 || hp->n_layer > LX_MAX_LAYERS || hp->n_embd < 1 || hp->n_head < 1 ||
        hp->n_head_kv < 1 || hp->n_head % hp->n_head_kv != 0 || hp->n_embd % hp->n_head != 0 ||
        hp->n_ff < 1)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "llama: inconsistent hyperparameters (layers %d, embd %d, heads %d/%d, ff %d)",
                       hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_ff);
    hp->head_dim = hp->n_embd / hp->n_head;
    if ((s = lx_hp_int(m, "attention.key_length", 0, &hp->head_dim, err))) return s;
    hp->n_rot = hp->head_dim;
    if ((s = lx_hp_int(m, "rope.dimension_count", 0, &hp->n_rot, err))) return s;
    if (hp->n_rot < 2 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return lx_fail(err, LEXIE_E_FORMAT, "llama: rope.dimension_count %d does not fit head size %d",
                       hp->n_rot, hp->head_dim);

    const lx_gguf_tensor *te = lx_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te) return lx_fail(err, LEXIE_E_FORMAT, "llama: required tensor 'token_embd.weight' is missing");
    if (te->ne[1] < 1 || te->ne[1] > (1 << 24))
        return lx_fail(err, LEXIE_E_FORMAT, "llama: token_embd.weight has %lld rows", (long long)te->ne[1]);
    hp->n_vocab = (int)te->ne[1];

    int d = hp->n_embd, hd = hp->head_dim, q = hp->n_head * hd, kvd = hp->n_head_kv * hd;
    if ((s = lx_bind(m, &m->tok_embd, 1, d, hp->n_vocab, err, "token_embd.weight")) ||
        (s = lx_bind(m, &m->out_norm, 1, d, 1, err, "output_norm.weight")) ||
        (s = lx_bind(m, &m->output, 0, d, hp->n_vocab, err, "output.weight")))
        return s;
    if (!m->output.data) m->output = m->tok_embd;

    m->layers = lx_calloc((size_t)hp->n_layer, sizeof *m->layers, err);
    if (!m->layers) return LEXIE_E_NOMEM;
    for (int i = 0; i < hp->n_layer; i++) {
        lx_layer *L = &m->layers[i];
        if ((s = lx_bind(m, &L->attn_norm, 1, d, 1, err, "blk.%d.attn_norm.weight", i)) ||
            (s = lx_bind(m, &L->wq, 1, d, q, err, "blk.%d.attn_q.weight", i)) ||
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

static void llama_forward(lexie_ctx *c) {
    const lexie_model *m = c->model;
    const lx_hparams *hp = &m->hp;
    int n = c->n_tokens, d = hp->n_embd, ff = hp->n_ff;

    lx_embed(c);
    for (int il = 0; il < hp->n_layer; il++) {
        const lx_layer *L = &m->layers[il];

        /* Attention block. */
        lx_norm_rows(&L->attn_norm, c->x, c->xb, n, d, hp->norm_eps);
        lx_linear(c, &L->wq, c->xb, c->q, n);
        lx_linear(c, &L->wk, c->xb, c->k, n);
        lx_linear(c, &L->wv, c->xb, c->v, n);
        lx_rope(c, c->q, c->k, 0);
        lx_attention(c, il, c->q, c->k, c->v, c->xb);
        lx_linear(c, &L->wo, c->xb, c->hb, n);
        for (size_t i = 0; i < (size_t)n * d; i++) c->x[i] += c->hb[i];

        /* Feed-forward block. */
        lx_norm_rows(&L->ffn_norm, c->x, c->xb, n, d, hp->norm_eps);
        lx_linear(c, &L->w_gate, c->xb, c->hb, n);
        lx_linear(c, &L->w_up, c->xb, c->hb2, n);
        lx_swiglu(c->hb, c->hb2, (int64_t)n * ff);
        lx_linear(c, &L->w_down, c->hb, c->xb, n);
        for (size_t i = 0; i < (size_t)n * d; i++) c->x[i] += c->xb[i];
    }
    lx_output(c);
}

const lx_arch lx_arch_llama = {"llama", llama_load, llama_forward};
