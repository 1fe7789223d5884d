/*
** arch_qwen3.c -- qwen3: the decoder of decoder.c without biases, with an
** RMSNorm over each head of q and k (attn_q_norm, attn_k_norm) before NeoX
** RoPE.  The head size comes from qwen3.attention.key_length and may make
** n_head * head_dim differ from n_embd.
*/
#include "model.h"

static const lx_decoder_opts opts = {.qkv_bias = 0, .qk_norm = 1, .neox = 1};

static lexie_status load(lexie_model *m, lexie_error *err) {
    return lx_decoder_load(m, &opts, err);
}
static void forward(lexie_ctx *c) { lx_decoder_forward(c, &opts); }

const lx_arch lx_arch_qwen3 = {"qwen3", load, forward};
