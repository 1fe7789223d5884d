/*
** lora_interop.c -- the lexie half of the LoRA interoperability check with
** llama.cpp (bench/lora_llamacpp.py runs it; not part of CI).
**
** Trains a LoRA adapter for a few steps on a fixed text (so B is not zero),
** saves it, and writes the logits of the last position of a fixed prompt,
** with and without the adapter, as float32 files; prints the prompt's
** token ids on stdout so the other side evaluates the same tokens.
**
**   build/bench/lora_interop MODEL.gguf ADAPTER.gguf OUT_PREFIX [steps=4]
**   -> ADAPTER.gguf, OUT_PREFIX.base.f32, OUT_PREFIX.lora.f32
*/
#define _POSIX_C_SOURCE 200809L
#include "lexie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char TRAIN_TEXT[] =
    "The relation between the drug and the disease is treats. The relation between the gene "
    "and the disease is associated with. The relation between the company and the city is "
    "located in. The relation between the author and the book is wrote.";
static const char PROMPT[] = "The relation between the protein and the cell is";

static int write_f32(const char *path, const float *x, int n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    size_t w = fwrite(x, sizeof *x, (size_t)n, f);
    return fclose(f) != 0 || w != (size_t)n;
}

static int last_logits(lexie_ctx *c, const lexie_token *tok, int n, const char *path, int nv) {
    lexie_error e;
    lexie_kv_clear(c);
    lexie_batch b = {n, tok, NULL, NULL, NULL};
    if (lexie_ctx_decode(c, &b, &e) != LEXIE_OK) {
        fprintf(stderr, "decode: %s\n", e.message);
        return 1;
    }
    return write_f32(path, lexie_ctx_logits(c, -1), nv);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.gguf ADAPTER.gguf OUT_PREFIX [steps]\n", argv[0]);
        return 2;
    }
    int steps = argc > 4 ? atoi(argv[4]) : 4;
    lexie_error e;
    lexie_model *m = lexie_model_load(argv[1], NULL, &e);
    if (!m) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    lexie_token tok[256], ptok[64];
    int n = 0, np = 0;
    if (lexie_tokenize(m, TRAIN_TEXT, strlen(TRAIN_TEXT), 1, 0, tok, 256, &n, &e) ||
        lexie_tokenize(m, PROMPT, strlen(PROMPT), 1, 0, ptok, 64, &np, &e)) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    lexie_train_params p = lexie_train_default_params();
    p.total_steps = steps;
    p.lr = 5e-3f;
    p.dropout = 0.0f;
    p.warmup_ratio = 0.0f;
    p.schedule = LEXIE_LR_CONSTANT;
    p.micro_batch = 1;
    p.max_seq_len = 256;
    lexie_trainer *t = lexie_trainer_new(m, &p, &e);
    if (!t) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    lexie_train_example ex = {tok, NULL, n};
    for (int s = 0; s < steps; s++) {
        lexie_train_stats st;
        if (lexie_trainer_step(t, &ex, 1, &st, &e)) {
            fprintf(stderr, "%s\n", e.message);
            return 1;
        }
        fprintf(stderr, "step %d: loss %.4f\n", s + 1, st.loss);
    }
    if (lexie_adapter_save(lexie_trainer_adapter(t), argv[2], &e)) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    lexie_adapter *a = lexie_adapter_load(m, argv[2], &e);
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = 256;
    lexie_ctx *c = a ? lexie_ctx_new(m, &cp, &e) : NULL;
    if (!c) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    char path[1024];
    int nv = lexie_model_n_vocab(m);
    snprintf(path, sizeof path, "%s.base.f32", argv[3]);
    if (last_logits(c, ptok, np, path, nv)) return 1;
    if (lexie_ctx_set_adapter(c, a, 1.0f, &e)) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    snprintf(path, sizeof path, "%s.lora.f32", argv[3]);
    if (last_logits(c, ptok, np, path, nv)) return 1;
    for (int i = 0; i < np; i++) printf("%d%c", ptok[i], i + 1 < np ? ' ' : '\n');
    lexie_ctx_free(c);
    lexie_adapter_free(a);
    lexie_trainer_free(t);
    lexie_model_free(m);
    return 0;
}
