/*
** test_train_lora.c -- LoRA adapters and the trainer: GGUF save/load in
** llama.cpp's layout, inference with an adapter (B = 0 changes nothing,
** bit for bit; a trained-looking adapter gives the training forward's
** logits), AdamW and the schedule against hand-computed values, gradient
** accumulation, determinism, refused inputs, and a tiny data set learnt
** by heart.  Uses the tiny fixtures of tests/ref (run `make test`).
*/
#include "gguf/gguf.h"
#include "lexie.h"
#include "lx_test.h"
#include "ref_fixture.h"
#include "train/train.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Inference (lx_linear + lx_lora_linear) and training (lx_tgemm) sum in
** different orders: float rounding only, on logits of about +-10. */
#define TOL_INFER_TRAIN 1e-4

enum { SEQ_MAIN, SEQ_B1, SEQ_B2, N_SEQ };
static const char *const SEQ_NAMES[N_SEQ] = {"main", "branch1", "branch2"};
static const rf_set LLAMA = {"ref_tokens.txt", SEQ_NAMES, N_SEQ, 0, 256, 128};
static const rf_set QWEN = {"qwen_tokens.txt", SEQ_NAMES, N_SEQ, 0, 256, 128};

static uint64_t rng_state = 777;
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 11) * 0x1p-53 * 2.0 - 1.0);
}

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/train_%ld_%s", lx_test_fixtures(), (long)getpid(), name);
}

/* Logits of every position of tok[0..n) on a cleared cache, copied. */
static float *ctx_logits(lexie_ctx *c, const lexie_token *tok, int n, int V) {
    lexie_error e;
    lexie_kv_clear(c);
    float *out = malloc(sizeof(float) * (size_t)n * V);
    if (rf_decode(c, tok, n, 0, 0, 1, &e) != LEXIE_OK) {
        free(out);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * V, lexie_ctx_logits(c, i), sizeof(float) * V);
    return out;
}

static lexie_train_params small_params(int steps) {
    lexie_train_params p = lexie_train_default_params();
    p.total_steps = steps;
    p.rank = 4;
    p.alpha = 8.0f;
    p.micro_batch = 4;
    p.max_seq_len = 48;
    p.n_threads = 2;
    return p;
}

/* ==== Adapters at inference ==== */

static void test_zero_b_is_exact(lx_t *t) {
    lexie_error e;
    rf_fixture f;
    lexie_ctx_params cp = rf_ctx_params(&LLAMA, 1, 2);
    if (!rf_open(t, &f, &LLAMA, "llama_q", "bin", &cp)) return;
    int n = f.rt.n[SEQ_MAIN], V = f.n_vocab;
    float *base = ctx_logits(f.c, f.rt.ids[SEQ_MAIN], n, V);
    lexie_train_params p = small_params(1);
    lexie_trainer *tr = lexie_trainer_new(f.m, &p, &e);
    LX_REQUIRE(t, base && tr);
    const lexie_adapter *a = lexie_trainer_adapter(tr);
    LX_CHECK_INT(t, lexie_adapter_rank(a), 4);
    LX_REQUIRE(t, lexie_ctx_set_adapter(f.c, a, 1.0f, &e) == LEXIE_OK);
    float *with = ctx_logits(f.c, f.rt.ids[SEQ_MAIN], n, V);
    LX_REQUIRE(t, with);
    LX_CHECK(t, memcmp(base, with, sizeof(float) * (size_t)n * V) == 0);
    free(with);
    free(base);
    lexie_trainer_free(tr);
    rf_close(&f);
}

/* A random adapter (B nonzero) for m. */
static lexie_adapter *random_adapter(const lexie_model *m, unsigned mask) {
    lexie_error e;
    lexie_adapter *a = lx_lora_new(m, 4, 8.0f, mask, &e);
    if (!a) return NULL;
    for (size_t i = 0; i < a->n_params; i++) a->mem[i] = 0.2f * frand();
    return a;
}

static void infer_vs_train(lx_t *t, const rf_set *set, const char *stem) {
    lexie_error e;
    rf_fixture f;
    lexie_ctx_params cp = rf_ctx_params(set, 1, 2);
    if (!rf_open(t, &f, set, stem, "bin", &cp)) return;
    int n = f.rt.n[SEQ_MAIN], V = f.n_vocab;
    lexie_adapter *a = random_adapter(f.m, 0x7f);
    LX_REQUIRE(t, a);
    float *base = ctx_logits(f.c, f.rt.ids[SEQ_MAIN], n, V);
    LX_REQUIRE(t, lexie_ctx_set_adapter(f.c, a, 1.0f, &e) == LEXIE_OK);
    float *inf = ctx_logits(f.c, f.rt.ids[SEQ_MAIN], n, V);
    lx_tnet *net = lx_tnet_new(f.m, a, NULL, n, n, 0.0f, 1, 2, 1, &e);
    LX_REQUIRE(t, base && inf && net);
    int32_t start[2] = {0, n};
    int8_t *tg = calloc(n, 1);
    lx_tbatch b = {n, f.rt.ids[SEQ_MAIN], 1, start, tg, NULL, NULL};
    float *trn = malloc(sizeof(float) * (size_t)n * V);
    lx_tnet_logits(net, &b, NULL, trn);
    double moved = rf_max_abs_diff(base, inf, n * V), d = rf_max_abs_diff(inf, trn, n * V);
    rf_report("lora inference vs training logits", stem, d);
    rf_report("lora moves logits by", stem, moved);
    LX_CHECK_MSG(t, d <= TOL_INFER_TRAIN, "%s: inference vs training logits differ by %g", stem, d);
    LX_CHECK_MSG(t, moved > 0.1, "%s: the adapter moved logits by only %g", stem, moved);
    /* Removing the adapter restores the base logits exactly. */
    LX_REQUIRE(t, lexie_ctx_set_adapter(f.c, NULL, 0.0f, &e) == LEXIE_OK);
    float *again = ctx_logits(f.c, f.rt.ids[SEQ_MAIN], n, V);
    LX_CHECK(t, again && memcmp(again, base, sizeof(float) * (size_t)n * V) == 0);
    free(again);
    free(trn);
    free(tg);
    free(inf);
    free(base);
    lx_tnet_free(net);
    lexie_adapter_free(a);
    rf_close(&f);
}

static void test_inference_equals_training(lx_t *t) {
    infer_vs_train(t, &LLAMA, "llama_f32");
    infer_vs_train(t, &LLAMA, "llama_tied");
    infer_vs_train(t, &QWEN, "qwen2_f32");
}

static void test_save_load_round_trip(lx_t *t) {
    lexie_error e;
    rf_fixture f;
    lexie_ctx_params cp = rf_ctx_params(&QWEN, 1, 2);
    if (!rf_open(t, &f, &QWEN, "qwen2_q", "bin", &cp)) return;
    /* Only some targets, to check that the others stay unadapted. */
    lexie_adapter *a = random_adapter(f.m, 0x1 | 0x4 | 0x40);
    LX_REQUIRE(t, a);
    char path[512];
    tmp_path(path, sizeof path, "adapter.gguf");
    LX_REQUIRE(t, lexie_adapter_save(a, path, &e) == LEXIE_OK);

    /* llama.cpp's layout: metadata and tensor shapes. */
    lx_gguf *g = lx_gguf_open(path, &e);
    LX_REQUIRE(t, g);
    lx_str s;
    LX_CHECK(t, lx_gguf_get_str(g, "general.type", &s, &e) == LEXIE_OK && s.len == 7 &&
                    memcmp(s.ptr, "adapter", 7) == 0);
    LX_CHECK(t, lx_gguf_get_str(g, "adapter.type", &s, &e) == LEXIE_OK && s.len == 4 &&
                    memcmp(s.ptr, "lora", 4) == 0);
    LX_CHECK(t, lx_gguf_get_str(g, "general.architecture", &s, &e) == LEXIE_OK && s.len == 5 &&
                    memcmp(s.ptr, "qwen2", 5) == 0);
    float alpha = 0.0f;
    LX_CHECK(t, lx_gguf_get_f32(g, "adapter.lora.alpha", &alpha, &e) == LEXIE_OK && alpha == 8.0f);
    LX_CHECK_INT(t, lx_gguf_n_tensors(g), 2 * 3 * f.m->hp.n_layer);
    const lx_gguf_tensor *ta = lx_gguf_find_tensor(g, "blk.1.attn_q.weight.lora_a");
    const lx_gguf_tensor *tb = lx_gguf_find_tensor(g, "blk.1.ffn_down.weight.lora_b");
    LX_REQUIRE(t, ta && tb);
    LX_CHECK(t, ta->ne[0] == f.m->hp.n_embd && ta->ne[1] == 4);
    LX_CHECK(t, tb->ne[0] == 4 && tb->ne[1] == f.m->hp.n_embd);
    LX_CHECK(t, !lx_gguf_find_tensor(g, "blk.0.attn_k.weight.lora_a"));
    lx_gguf_close(g);

    lexie_adapter *b = lexie_adapter_load(f.m, path, &e);
    LX_REQUIRE(t, b);
    LX_CHECK(t, b->n_params == a->n_params &&
                    memcmp(a->mem, b->mem, sizeof(float) * a->n_params) == 0);
    LX_CHECK(t, lexie_adapter_alpha(b) == 8.0f && lexie_adapter_rank(b) == 4);
    LX_CHECK(t, lx_lora_at(b, 0, 1)->a == NULL && lx_lora_at(b, 0, 2)->a != NULL);
    int n = f.rt.n[SEQ_MAIN], V = f.n_vocab;
    LX_REQUIRE(t, lexie_ctx_set_adapter(f.c, a, 0.5f, &e) == LEXIE_OK);
    float *la = ctx_logits(f.c, f.rt.ids[SEQ_MAIN], n, V);
    LX_REQUIRE(t, lexie_ctx_set_adapter(f.c, b, 0.5f, &e) == LEXIE_OK);
    float *lb = ctx_logits(f.c, f.rt.ids[SEQ_MAIN], n, V);
    LX_CHECK(t, la && lb && memcmp(la, lb, sizeof(float) * (size_t)n * V) == 0);
    free(la);
    free(lb);
    lexie_adapter_free(b);
    unlink(path);
    lexie_adapter_free(a);
    rf_close(&f);
}

static void test_load_errors(lx_t *t) {
    lexie_error e;
    rf_fixture f, q;
    if (!rf_open(t, &f, &LLAMA, "llama_f32", "bin", NULL)) return;
    if (!rf_open(t, &q, &QWEN, "qwen2_f32", "bin", NULL)) {
        rf_close(&f);
        return;
    }
    char path[512], model[512];
    /* A model is not an adapter. */
    rf_path(model, sizeof model, "llama_f32.gguf");
    LX_CHECK(t, !lexie_adapter_load(f.m, model, &e) && e.code == LEXIE_E_FORMAT);
    /* An adapter for another architecture. */
    lexie_adapter *a = random_adapter(q.m, 0x7f);
    tmp_path(path, sizeof path, "qwen_adapter.gguf");
    LX_REQUIRE(t, a && lexie_adapter_save(a, path, &e) == LEXIE_OK);
    LX_CHECK(t, !lexie_adapter_load(f.m, path, &e) && e.code == LEXIE_E_FORMAT &&
                    strstr(e.message, "architecture"));
    /* An adapter for another model on a ctx. */
    lexie_ctx_params cp = rf_ctx_params(&LLAMA, 1, 1);
    lexie_ctx *c = lexie_ctx_new(f.m, &cp, &e);
    LX_REQUIRE(t, c);
    LX_CHECK(t, lexie_ctx_set_adapter(c, a, 1.0f, &e) == LEXIE_E_INVALID);
    LX_CHECK(t, !lexie_adapter_load(f.m, "/nonexistent/x.gguf", &e) && e.code == LEXIE_E_IO);
    lexie_ctx_free(c);
    unlink(path);
    lexie_adapter_free(a);
    rf_close(&q);
    rf_close(&f);
}

/* A merged model.  Float weights merged as F32: its logits equal the base
** with the adapter applied at run time, up to float rounding (measured
** 2e-5).  Quantized weights: on these random tiny models, quantizing
** activations alone moves logits by up to ~1.5 (see test_qwen_ref.c), so
** logits cannot tell a good merge from a bad one; instead each merged
** weight must be W + s B A re-quantized, within half a quantization step
** of its block (plus the fp16 rounding of the block's scale and min). */
#define TOL_MERGE_F32 1e-4

static void merge_logits(lx_t *t, const char *stem, lexie_merge_type type) {
    lexie_error e;
    rf_fixture f;
    lexie_ctx_params cp = rf_ctx_params(&LLAMA, 1, 2);
    if (!rf_open(t, &f, &LLAMA, stem, "bin", &cp)) return;
    lexie_adapter *a = random_adapter(f.m, 0x7f);
    char path[512];
    tmp_path(path, sizeof path, "merged.gguf");
    int n = f.rt.n[SEQ_MAIN], V = f.n_vocab;
    double d = INFINITY;
    if (a && lexie_adapter_merge(a, 0.7f, path, type, &e) == LEXIE_OK &&
        lexie_ctx_set_adapter(f.c, a, 0.7f, &e) == LEXIE_OK) {
        float *rt = ctx_logits(f.c, f.rt.ids[SEQ_MAIN], n, V);
        lexie_model *mm = lexie_model_load(path, NULL, &e);
        lexie_ctx *mc = mm ? lexie_ctx_new(mm, &cp, &e) : NULL;
        float *ml = mc ? ctx_logits(mc, f.rt.ids[SEQ_MAIN], n, V) : NULL;
        if (rt && ml) d = rf_max_abs_diff(rt, ml, n * V);
        LX_CHECK(t, mm && strcmp(lexie_model_name(mm), lexie_model_name(f.m)) == 0);
        free(rt);
        free(ml);
        lexie_ctx_free(mc);
        lexie_model_free(mm);
    } else {
        LX_CHECK_MSG(t, 0, "%s: merge failed: %s", stem, e.message);
    }
    rf_report("merged vs run-time adapter logits", stem, d);
    LX_CHECK_MSG(t, d <= TOL_MERGE_F32, "%s: merged logits differ by %g", stem, d);
    unlink(path);
    lexie_adapter_free(a);
    rf_close(&f);
}

/* Every adapted weight of the merged file against W + s B A in double. */
static void merge_weights(lx_t *t, lexie_merge_type type, int want_type) {
    lexie_error e;
    rf_fixture f;
    if (!rf_open(t, &f, &LLAMA, "llama_q", "bin", NULL)) return;
    lexie_adapter *a = random_adapter(f.m, 0x7f);
    char path[512];
    tmp_path(path, sizeof path, "merged_q.gguf");
    LX_REQUIRE(t, a && lexie_adapter_merge(a, 0.7f, path, type, &e) == LEXIE_OK);
    lx_gguf *g = lx_gguf_open(path, &e);
    LX_REQUIRE(t, g);
    LX_CHECK_INT(t, lx_gguf_n_tensors(g), lx_gguf_n_tensors(f.m->gguf));
    double worst = 0.0; /* error / allowed */
    float base[64], got[64];
    for (int il = 0; il < f.m->hp.n_layer; il++)
        for (int tg = 0; tg < LX_LORA_N_TARGET; tg++) {
            const lx_tensor *w = lx_lora_base(f.m, il, tg);
            const lx_lora_pair *p = lx_lora_at(a, il, tg);
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s.weight", il, lx_lora_target_name(tg));
            const lx_gguf_tensor *te = lx_gguf_find_tensor(g, name);
            LX_REQUIRE(t, te && te->ne[0] == w->ne[0] && te->ne[1] == w->ne[1]);
            int ty = want_type < 0 ? w->type : want_type;
            LX_CHECK_INT(t, te->type, ty);
            float s = 0.7f * lx_lora_pair_scale(a, p);
            int cols = (int)w->ne[0];
            size_t brow = lx_row_size(w->type, cols), mrow = lx_row_size(ty, cols);
            for (int r = 0; r < (int)w->ne[1]; r += 7) /* every 7th row */
                for (int c0 = 0; c0 < cols; c0 += 32) {
                    /* Block c0..c0+31 of row r: dequantize both rows' pieces. */
                    float *bb = base, *gg = got;
                    float rowb[1024], rowg[1024];
                    lx_type_traits_get(w->type)->to_float((const char *)w->data + r * brow, rowb,
                                                          cols);
                    lx_type_traits_get(ty)->to_float((const char *)te->data + r * mrow, rowg, cols);
                    double lo = INFINITY, hi = -INFINITY;
                    for (int c = 0; c < 32; c++) {
                        double x = rowb[c0 + c];
                        for (int k = 0; k < p->rank; k++)
                            x += (double)s * p->b[(size_t)r * p->rank + k] *
                                 p->a[(size_t)k * cols + c0 + c];
                        bb[c] = (float)x;
                        gg[c] = rowg[c0 + c];
                        lo = fmin(lo, x);
                        hi = fmax(hi, x);
                    }
                    double amax = fmax(fabs(lo), fabs(hi));
                    double step = ty == LX_TYPE_Q8_0 ? amax / 127.0 : (hi - lo) / 15.0;
                    double allowed = 0.5 * step + amax * 0x1p-10 + 1e-7;
                    for (int c = 0; c < 32; c++)
                        worst = fmax(worst, fabs((double)gg[c] - bb[c]) / allowed);
                }
        }
    if (getenv("LX_TEST_VERBOSE"))
        fprintf(stderr, "     merge %s: worst error %.3g of the allowed half step\n",
                want_type < 0 ? "same type" : lx_type_name(want_type), worst);
    LX_CHECK_MSG(t, worst <= 1.0, "merged weights off by %g of the allowed error", worst);
    /* Tensors that are not adapted are copied byte for byte. */
    const lx_gguf_tensor *emb = lx_gguf_find_tensor(g, "token_embd.weight");
    LX_CHECK(t, emb && emb->nbytes == lx_gguf_find_tensor(f.m->gguf, "token_embd.weight")->nbytes &&
                    memcmp(emb->data, f.m->tok_embd.data, emb->nbytes) == 0);
    lx_gguf_close(g);
    unlink(path);
    lexie_adapter_free(a);
    rf_close(&f);
}

static void test_merge(lx_t *t) {
    merge_logits(t, "llama_f32", LEXIE_MERGE_SAME);
    merge_logits(t, "llama_tied", LEXIE_MERGE_F32);
    merge_weights(t, LEXIE_MERGE_Q8_0, LX_TYPE_Q8_0);
    merge_weights(t, LEXIE_MERGE_SAME, -1);
}

/* ==== Optimizer and schedule ==== */

static void test_adamw_hand(lx_t *t) {
    /* Two steps of one parameter, worked by hand (PyTorch's AdamW):
    ** lr 0.1, betas 0.9/0.999, eps 1e-8, weight decay 0.01, p0 = 1,
    ** g = 0.5 then -0.25.
    ** step 1: p = 0.999; m = 0.05, v = 2.5e-4; mhat = 0.5, vhat = 0.25;
    **         p = 0.999 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.899000002
    ** step 2: p = 0.899000002 * 0.999; m = 0.02, v = 3.1225e-4;
    **         mhat = 0.02 / 0.19, vhat = 3.1225e-4 / 0.001999;
    **         p = 0.8714672987 */
    float p = 1.0f, m = 0.0f, v = 0.0f, g1 = 0.5f, g2 = -0.25f;
    lx_adamw(&p, &g1, &m, &v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1);
    LX_CHECK_CLOSE(t, p, 0.899000002, 1e-6);
    LX_CHECK_CLOSE(t, m, 0.05, 1e-7);
    LX_CHECK_CLOSE(t, v, 2.5e-4, 1e-8);
    lx_adamw(&p, &g2, &m, &v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 2);
    LX_CHECK_CLOSE(t, p, 0.8714672987, 1e-6);
    LX_CHECK_CLOSE(t, m, 0.02, 1e-7);
    LX_CHECK_CLOSE(t, v, 3.1225e-4, 1e-8);
}

static void test_schedule(lx_t *t) {
    lexie_train_params p = lexie_train_default_params();
    p.total_steps = 100; /* warm-up ceil(100 * 0.03) = 3 steps */
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 0), 0.0, 1e-12);
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 1), 6.666666666666667e-05, 1e-10);
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 2), 1.3333333333333334e-04, 1e-10);
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 3), 2e-4, 1e-10);
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 50), 1.0485622221144484e-04, 1e-10);
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 99), 5.2443095448506674e-08, 1e-11);
    p.schedule = LEXIE_LR_LINEAR;
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 3), 2e-4, 1e-10);
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 50), 1.0309278350515464e-04, 1e-10);
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 99), 2.061855670103093e-06, 1e-11);
    p.schedule = LEXIE_LR_CONSTANT;
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 1), 6.666666666666667e-05, 1e-10);
    LX_CHECK_CLOSE(t, lexie_train_lr_at(&p, 70), 2e-4, 1e-10);
}

/* ==== The trainer ==== */

/* n examples of len tokens from the fixture's sequences; the loss covers
** the second half of each. */
typedef struct exset {
    lexie_token tok[8][48];
    int8_t mask[8][48];
    lexie_train_example ex[8];
} exset;

static void make_examples(const rf_fixture *f, exset *s, int n, int len) {
    for (int e = 0; e < n; e++) {
        for (int i = 0; i < len; i++) {
            int sq = e % N_SEQ, at = (i + 3 * e) % f->rt.n[sq];
            s->tok[e][i] = f->rt.ids[sq][at];
            s->mask[e][i] = (int8_t)(i >= len / 2);
        }
        s->ex[e] = (lexie_train_example){s->tok[e], s->mask[e], len - e % 3};
    }
}

static void test_memorise(lx_t *t) {
    lexie_error e;
    rf_fixture f;
    if (!rf_open(t, &f, &LLAMA, "llama_f32", "bin", NULL)) return;
    exset s;
    make_examples(&f, &s, 4, 16);
    lexie_train_params p = small_params(60);
    p.lr = 1e-2f;
    p.dropout = 0.0f;
    p.schedule = LEXIE_LR_CONSTANT;
    p.warmup_ratio = 0.0f;
    p.rank = 8;
    lexie_trainer *tr = lexie_trainer_new(f.m, &p, &e);
    LX_REQUIRE(t, tr);
    lexie_train_stats st, first = {0};
    double before;
    LX_REQUIRE(t, lexie_trainer_eval(tr, s.ex, 4, &before, &e) == LEXIE_OK);
    for (int i = 0; i < p.total_steps; i++) {
        LX_REQUIRE(t, lexie_trainer_step(tr, s.ex, 4, &st, &e) == LEXIE_OK);
        if (i == 0) first = st;
    }
    double after;
    LX_REQUIRE(t, lexie_trainer_eval(tr, s.ex, 4, &after, &e) == LEXIE_OK);
    if (getenv("LX_TEST_VERBOSE"))
        fprintf(stderr, "     memorise: loss %.4f -> %.4f after %d steps\n", before, after,
                p.total_steps);
    /* The first step's loss is the untouched model's (B = 0). */
    LX_CHECK_CLOSE(t, first.loss, before, 1e-5);
    LX_CHECK_INT(t, st.step, p.total_steps);
    LX_CHECK(t, before > 4.0);
    LX_CHECK_MSG(t, after < 0.05, "loss %g after %d steps", after, p.total_steps);
    lexie_trainer_free(tr);
    rf_close(&f);
}

/* A step over 4 examples equals its 4 micro-batches of 1 accumulated. */
static void test_accumulation(lx_t *t) {
    lexie_error e;
    rf_fixture f;
    if (!rf_open(t, &f, &QWEN, "qwen2_q", "bin", NULL)) return;
    exset s;
    make_examples(&f, &s, 4, 20);
    lexie_train_params p = small_params(5);
    p.dropout = 0.0f;
    lexie_train_params p1 = p;
    p1.micro_batch = 1;
    lexie_trainer *a = lexie_trainer_new(f.m, &p, &e), *b = lexie_trainer_new(f.m, &p1, &e);
    LX_REQUIRE(t, a && b);
    lexie_train_stats sa, sb;
    for (int i = 0; i < 3; i++) {
        LX_REQUIRE(t, lexie_trainer_step(a, s.ex, 4, &sa, &e) == LEXIE_OK);
        LX_REQUIRE(t, lexie_trainer_step(b, s.ex, 4, &sb, &e) == LEXIE_OK);
        LX_CHECK_CLOSE(t, sa.loss, sb.loss, 1e-5);
        LX_CHECK_CLOSE(t, sa.grad_norm, sb.grad_norm, 1e-4 * sa.grad_norm);
    }
    const lexie_adapter *aa = lexie_trainer_adapter(a), *ab = lexie_trainer_adapter(b);
    double d = 0.0, mag = 0.0;
    for (size_t i = 0; i < aa->n_params; i++) {
        d = fmax(d, fabs(aa->mem[i] - ab->mem[i]));
        mag = fmax(mag, fabs(aa->mem[i]));
    }
    LX_CHECK_MSG(t, d < 1e-6 * (mag + 1.0), "adapters differ by %g", d);
    lexie_trainer_free(a);
    lexie_trainer_free(b);
    rf_close(&f);
}

/* The same seed gives the same run, dropout included; another seed not. */
static void test_determinism(lx_t *t) {
    lexie_error e;
    rf_fixture f;
    if (!rf_open(t, &f, &LLAMA, "llama_q", "bin", NULL)) return;
    exset s;
    make_examples(&f, &s, 3, 16);
    lexie_train_params p = small_params(4);
    p.dropout = 0.1f;
    p.warmup_ratio = 0.0f;
    lexie_train_params p2 = p;
    p2.seed = 43;
    lexie_trainer *tr[3] = {lexie_trainer_new(f.m, &p, &e), lexie_trainer_new(f.m, &p, &e),
                            lexie_trainer_new(f.m, &p2, &e)};
    LX_REQUIRE(t, tr[0] && tr[1] && tr[2]);
    double loss[3];
    for (int k = 0; k < 3; k++) {
        lexie_train_stats st;
        for (int i = 0; i < 4; i++)
            LX_REQUIRE(t, lexie_trainer_step(tr[k], s.ex, 3, &st, &e) == LEXIE_OK);
        loss[k] = st.loss;
    }
    const lexie_adapter *a0 = lexie_trainer_adapter(tr[0]), *a1 = lexie_trainer_adapter(tr[1]),
                        *a2 = lexie_trainer_adapter(tr[2]);
    LX_CHECK(t, memcmp(a0->mem, a1->mem, sizeof(float) * a0->n_params) == 0);
    LX_CHECK(t, loss[0] == loss[1]);
    LX_CHECK(t, memcmp(a0->mem, a2->mem, sizeof(float) * a0->n_params) != 0);
    for (int k = 0; k < 3; k++) lexie_trainer_free(tr[k]);
    rf_close(&f);
}

static void test_refused(lx_t *t) {
    lexie_error e;
    rf_fixture f;
    if (!rf_open(t, &f, &LLAMA, "llama_f32", "bin", NULL)) return;
    lexie_train_params p = small_params(0);
    LX_CHECK(t, !lexie_trainer_new(f.m, &p, &e) && e.code == LEXIE_E_INVALID);
    /* Architectures without a backward pass yet: qwen3 (q/k norms). */
    char q3[512];
    rf_path(q3, sizeof q3, "qwen3_f32.gguf");
    lexie_model *m3 = lexie_model_load(q3, NULL, &e);
    if (m3) {
        p = small_params(2);
        LX_CHECK(t, !lexie_trainer_new(m3, &p, &e) && e.code == LEXIE_E_UNSUPPORTED &&
                        strstr(e.message, "qwen3"));
        lexie_model_free(m3);
    }
    p = small_params(2);
    lexie_trainer *tr = lexie_trainer_new(f.m, &p, &e);
    LX_REQUIRE(t, tr);
    lexie_token tok[60] = {0};
    int8_t none[60] = {0};
    lexie_train_example long_ex = {tok, NULL, 49};
    LX_CHECK(t, lexie_trainer_step(tr, &long_ex, 1, NULL, &e) == LEXIE_E_RANGE);
    lexie_train_example no_loss = {tok, none, 10};
    LX_CHECK(t, lexie_trainer_step(tr, &no_loss, 1, NULL, &e) == LEXIE_E_INVALID);
    tok[3] = 300; /* n_vocab */
    lexie_train_example bad = {tok, NULL, 10};
    LX_CHECK(t, lexie_trainer_step(tr, &bad, 1, NULL, &e) == LEXIE_E_INVALID);
    /* Nothing moved: B is still zero. */
    const lexie_adapter *a = lexie_trainer_adapter(tr);
    const lx_lora_pair *pr = lx_lora_at(a, 0, 0);
    int zero = 1;
    for (int i = 0; i < pr->rank * pr->n_out; i++) zero &= pr->b[i] == 0.0f;
    LX_CHECK(t, zero);
    lexie_trainer_free(tr);
    rf_close(&f);
}

void suite_train_lora(void) {
    LX_RUN(test_zero_b_is_exact);
    LX_RUN(test_inference_equals_training);
    LX_RUN(test_save_load_round_trip);
    LX_RUN(test_load_errors);
    LX_RUN(test_merge);
    LX_RUN(test_adamw_hand);
    LX_RUN(test_schedule);
    LX_RUN(test_memorise);
    LX_RUN(test_accumulation);
    LX_RUN(test_determinism);
    LX_RUN(test_refused);
}
