/*
** kq_fixture.c -- a tiny llama whose matmul weights are Q4_K and Q6_K in
** shapes the load packs (kernels/pack.c), for the end-to-end checks of
** the packed layouts: test_pack.c (packed against the file layout) and
** test_invariance.c (batch invariance).
**
** The NumPy fixtures know no K types, so this one is written here with
** lexie's own quantizers: llama_f32.gguf's metadata and tokenizer, widened
** to n_embd 256 (4 heads of 64, 2 KV heads), n_ff 512, with random
** weights.  Q, K, output and the FFN's gate and up are Q4_K; V and down
** Q6_K, as in a Q4_K_M file.  The embedding and output head stay float
** (300 rows: not whole groups of 16).
*/
#include "kq_fixture.h"

#include "gguf/gguf.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EMBD 256
#define FF 512
#define HEADS 4
#define HEADS_KV 2
#define HEAD_DIM (EMBD / HEADS)

static uint32_t rng_next(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* n floats, uniform in [-scale, scale). */
static float *rand_floats(uint32_t *s, int64_t n, float scale) {
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; x && i < n; i++)
        x[i] = ((float)rng_next(s) / 16777216.0f * 2.0f - 1.0f) * scale;
    return x;
}

static lexie_status add(lx_gguf_writer *w, uint32_t *s, const char *name, int type, int64_t cols,
                        int64_t rows, float scale, lexie_error *err) {
    const int64_t ne[2] = {cols, rows};
    float *x = rand_floats(s, cols * rows, scale);
    if (!x) return LEXIE_E_NOMEM;
    if (rows == 1 && scale == 0.0f) /* norm weights: ones */
        for (int64_t i = 0; i < cols; i++) x[i] = 1.0f;
    void *q = x;
    if (type != LX_TYPE_F32) {
        q = malloc(lx_row_size(type, cols) * (size_t)rows);
        if (q) lx_type_traits_get(type)->from_float(x, q, cols * rows);
    }
    lexie_status st =
        q ? lx_gguf_writer_add_tensor(w, name, type, rows == 1 ? 1 : 2, ne, q, err) : LEXIE_E_NOMEM;
    if (q != x) free(q);
    free(x);
    return st;
}

static int overridden(const char *key) {
    static const char *keys[] = {"llama.embedding_length", "llama.feed_forward_length",
                                 "llama.attention.head_count", "llama.attention.head_count_kv",
                                 "llama.rope.dimension_count"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (!strcmp(key, keys[i])) return 1;
    return 0;
}

static lexie_status build(lx_gguf_writer *w, const lx_gguf *src, int n_layer, int n_vocab,
                          lexie_error *err) {
    lexie_status st = LEXIE_OK;
    for (int64_t i = 0; st == LEXIE_OK && i < lx_gguf_n_kv(src); i++) {
        const lx_gguf_kv *kv = lx_gguf_kv_at(src, i);
        if (!overridden(kv->key)) st = lx_gguf_writer_set_value(w, kv->key, &kv->value, err);
    }
    if (st == LEXIE_OK) st = lx_gguf_writer_set_u32(w, "llama.embedding_length", EMBD, err);
    if (st == LEXIE_OK) st = lx_gguf_writer_set_u32(w, "llama.feed_forward_length", FF, err);
    if (st == LEXIE_OK) st = lx_gguf_writer_set_u32(w, "llama.attention.head_count", HEADS, err);
    if (st == LEXIE_OK)
        st = lx_gguf_writer_set_u32(w, "llama.attention.head_count_kv", HEADS_KV, err);
    if (st == LEXIE_OK) st = lx_gguf_writer_set_u32(w, "llama.rope.dimension_count", HEAD_DIM, err);
    uint32_t s = 2024;
    if (st == LEXIE_OK) st = add(w, &s, "token_embd.weight", LX_TYPE_F32, EMBD, n_vocab, 1.0f, err);
    if (st == LEXIE_OK) st = add(w, &s, "output_norm.weight", LX_TYPE_F32, EMBD, 1, 0.0f, err);
    if (st == LEXIE_OK) st = add(w, &s, "output.weight", LX_TYPE_F32, EMBD, n_vocab, 0.1f, err);
    const struct {
        const char *name;
        int type;
        int64_t cols, rows;
    } ts[] = {
        {"attn_norm", LX_TYPE_F32, EMBD, 1},
        {"attn_q", LX_TYPE_Q4_K, EMBD, EMBD},
        {"attn_k", LX_TYPE_Q4_K, EMBD, HEADS_KV * HEAD_DIM},
        {"attn_v", LX_TYPE_Q6_K, EMBD, HEADS_KV * HEAD_DIM},
        {"attn_output", LX_TYPE_Q4_K, EMBD, EMBD},
        {"ffn_norm", LX_TYPE_F32, EMBD, 1},
        {"ffn_gate", LX_TYPE_Q4_K, EMBD, FF},
        {"ffn_up", LX_TYPE_Q4_K, EMBD, FF},
        {"ffn_down", LX_TYPE_Q6_K, FF, EMBD},
    };
    for (int il = 0; il < n_layer && st == LEXIE_OK; il++)
        for (size_t k = 0; k < sizeof ts / sizeof *ts && st == LEXIE_OK; k++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", il, ts[k].name);
            st = add(w, &s, name, ts[k].type, ts[k].cols, ts[k].rows,
                     ts[k].rows == 1 ? 0.0f : 0.08f, err);
        }
    return st;
}

int kq_fixture_write(char *path, size_t n) {
    char src_path[4096];
    snprintf(src_path, sizeof src_path, "%s/llama_f32.gguf", lx_test_fixtures());
    lexie_error err;
    lx_gguf *src = lx_gguf_open(src_path, &err);
    if (!src) return 0;
    uint32_t n_layer = 0, n_vocab = 0;
    int ok = lx_gguf_get_u32(src, "llama.block_count", &n_layer, &err) == LEXIE_OK &&
             lx_gguf_get_u32(src, "llama.vocab_size", &n_vocab, &err) == LEXIE_OK;
    lx_gguf_writer *w = ok ? lx_gguf_writer_new(&err) : NULL;
    ok = w && build(w, src, (int)n_layer, (int)n_vocab, &err) == LEXIE_OK;
    snprintf(path, n, "/tmp/lexie_kq_%ld.gguf", (long)getpid());
    ok = ok && lx_gguf_writer_write(w, path, &err) == LEXIE_OK;
    lx_gguf_writer_free(w);
    lx_gguf_close(src);
    return ok;
}
