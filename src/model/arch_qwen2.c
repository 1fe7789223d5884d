/*
** arch_qwen2.c -- qwen2 (Qwen1.5, Qwen2, Qwen2.5): the decoder of
** decoder.c with biases on the q, k and v projections and NeoX RoPE
** (halves rotate together).  Small models tie the output to the token
** embedding (no output.weight).
*/
#include "model.h"

static const lx_decoder_opts opts = {.qkv_bias = 1, .qk_norm = 0, .neox = 1};

static lexie_status load(lexie_model *m, lexie_error *err) {
    return lx_decoder_load(m, &opts, err);
}
static void forward(lexie_ctx *c) { lx_decoder_forward(c, &opts); }

const lx_arch lx_arch_qwen2 = {"qwen2", load, forward};
