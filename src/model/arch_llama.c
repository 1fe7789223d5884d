/*
** arch_llama.c -- llama (Llama 1-3, SmolLM, Mistral-style models): the
** plain pre-norm decoder of decoder.c, RoPE on adjacent pairs.  The GGUF
** converter permutes q and k so that pairs, not halves, rotate together.
*/
#include "model.h"

static const lx_decoder_opts opts = {.qkv_bias = 0, .qk_norm = 0, .neox = 0};

static lexie_status load(lexie_model *m, lexie_error *err) {
    return lx_decoder_load(m, &opts, err);
}
static void forward(lexie_ctx *c) { lx_decoder_forward(c, &opts); }

const lx_arch lx_arch_llama = {"llama", load, forward};
