/*
** test_qwen_ref.c -- the qwen2 and qwen3 forward passes against a NumPy
** reference on tiny random-weight models.
**
** tests/ref/ref_qwen.py writes the models and the reference logits (its
** header lists the files and what each model exercises: qwen2's q/k/v
** biases and tied embeddings, qwen3's per-head q/k norms before RoPE and
** a head size from key_length with n_head * head_dim != n_embd, NEOX RoPE
** in both).  ref_qwen.py also checks that leaving any of those out moves
** the reference logits by 0.1 or more (measured 4.6-12), so the tight
** tolerances below cannot be met by a forward pass that skips one.  The
** fixture reading and helpers are tests/ref_fixture.c's.  Only the public
** API is used.  Tests skip when the fixtures are absent (run `make test`,
** which writes them).
**
** Tolerances (max |logit difference|; logits here span about +-10), the
** same reasoning as test_model_ref.c:
**   TOL_F32   float32 weights vs the float64 reference: summation order.
**   TOL_ACTQ  Q8_0/Q4_1 weights vs the reference that quantizes
**             activations as ggml does (tests/ref/ggml_quant.py): one
**             activation rounded to the neighbouring step moves logits by
**             ~0.05 or more, so this is tight or useless.
**   TOL_QFLOAT the quantized models vs float activations: a sanity bound on
**             the pair of references only.
**   TOL_SAME  one model computed two ways (token by token vs prefill,
**             shared prefix vs alone, batched vs alone).
*/
#include "lexie.h"
#include "lx_test.h"
#include "ref_fixture.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOL_F32 1e-4
#define TOL_ACTQ 1e-4
#define TOL_QFLOAT 1.5
#define TOL_SAME 1e-4

/* ==== Fixture files (ref_fixture.h reads them) ==== */

enum { SEQ_MAIN, SEQ_B1, SEQ_B2, N_SEQ };
static const char *const SEQ_NAMES[N_SEQ] = {"main", "branch1", "branch2"};
static const rf_set REF = {"qwen_tokens.txt", SEQ_NAMES, N_SEQ, 0, 256, 128};

typedef struct variant {
    const char *stem;   /* <stem>.gguf */
    const char *arch;   /* general.architecture */
    const char *suffix; /* reference logits <stem>.<seq>.<suffix> */
    double tol;
    int quantized; /* <stem>.<seq>.bin holds the float-activation reference */
} variant;

static const variant VARIANTS[] = {
    {"qwen2_f32", "qwen2", "bin", TOL_F32, 0},
    {"qwen2_q", "qwen2", "actq.bin", TOL_ACTQ, 1},
    {"qwen3_f32", "qwen3", "bin", TOL_F32, 0},
    {"qwen3_q", "qwen3", "actq.bin", TOL_ACTQ, 1},
};
#define N_VARIANTS ((int)(sizeof VARIANTS / sizeof VARIANTS[0]))

/* Opens variant v (reference logits <stem>.<seq>.<suffix>, v's own when
** suffix is NULL) with a context of params cp (NULL: none).  Returns 0
** after recording a skip or a failure. */
static int fixture_open(lx_t *t, rf_fixture *f, const variant *v, const char *suffix,
                        const lexie_ctx_params *cp) {
    return rf_open(t, f, &REF, v->stem, suffix ? suffix : v->suffix, cp);
}

/* ==== Model facts ==== */

static void test_qwen_model_facts(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        rf_fixture f;
        if (!fixture_open(t, &f, &VARIANTS[iv], NULL, NULL)) return;
        char name[64];
        snprintf(name, sizeof name, "lexie-test-%s", VARIANTS[iv].stem);
        LX_CHECK_MSG(t, strcmp(lexie_model_arch(f.m), VARIANTS[iv].arch) == 0, "%s: arch %s",
                     VARIANTS[iv].stem, lexie_model_arch(f.m));
        LX_CHECK(t, strcmp(lexie_model_name(f.m), name) == 0);
        LX_CHECK_INT(t, lexie_model_n_layer(f.m), 2);
        LX_CHECK_INT(t, lexie_model_n_embd(f.m), 64);
        LX_CHECK_INT(t, lexie_model_n_ctx_train(f.m), 512);
        rf_close(&f);
    }
}

/* ==== (1) every position in one batch ==== */

static void test_qwen_prefill(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        rf_fixture f;
        lexie_ctx_params cp = rf_ctx_params(&REF, 1, 2);
        if (!fixture_open(t, &f, v, NULL, &cp)) return;
        double worst = 0;
        for (int s = 0; s < N_SEQ; s++) {
            lexie_error e;
            lexie_kv_clear(f.c);
            LX_REQUIRE(t, rf_decode(f.c, f.rt.ids[s], f.rt.n[s], 0, 0, 1, &e) == LEXIE_OK);
            for (int i = 0; i < f.rt.n[s]; i++) {
                double d = rf_check_row(t, &f, lexie_ctx_logits(f.c, i), s, i, v->tol, v->stem);
                worst = d > worst ? d : worst;
            }
        }
        rf_report("prefill", v->stem, worst);
        rf_close(&f);
    }
}

/* The quantized models against float activations: only a sanity bound on
** the pair of references (activation rounding alone moves logits by
** tenths here). */
static void test_qwen_quant_vs_float(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        if (!v->quantized) continue;
        rf_fixture f;
        lexie_ctx_params cp = rf_ctx_params(&REF, 1, 2);
        lexie_error e;
        if (!fixture_open(t, &f, v, "bin", &cp)) return;
        LX_REQUIRE(t,
                   rf_decode(f.c, f.rt.ids[SEQ_MAIN], f.rt.n[SEQ_MAIN], 0, 0, 1, &e) == LEXIE_OK);
        double worst = 0;
        for (int i = 0; i < f.rt.n[SEQ_MAIN]; i++) {
            double d =
                rf_check_row(t, &f, lexie_ctx_logits(f.c, i), SEQ_MAIN, i, TOL_QFLOAT, "q/float");
            worst = d > worst ? d : worst;
        }
        rf_report("quant_vs_float", v->stem, worst);
        rf_close(&f);
    }
}

/* ==== (2) token by token and in chunks vs prefill ==== */

static void test_qwen_token_by_token(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        rf_fixture f;
        lexie_ctx_params cp = rf_ctx_params(&REF, 1, 2);
        lexie_error e;
        if (!fixture_open(t, &f, v, NULL, &cp)) return;
        const lexie_token *ids = f.rt.ids[SEQ_MAIN];
        int n = f.rt.n[SEQ_MAIN];
        size_t nv = (size_t)f.n_vocab;
        float *pre = rf_prefill_all(t, &f, SEQ_MAIN);
        if (!pre) {
            rf_close(&f);
            return;
        }
        /* one token per decode, positions implied */
        lexie_kv_clear(f.c);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            LX_REQUIRE(t, rf_decode(f.c, ids + i, 1, -1, 0, 0, &e) == LEXIE_OK);
            const float *got = lexie_ctx_logits(f.c, 0);
            rf_check_row(t, &f, got, SEQ_MAIN, i, v->tol, v->stem);
            double d = got ? rf_max_abs_diff(got, pre + i * nv, f.n_vocab) : INFINITY;
            LX_CHECK_MSG(t, d <= TOL_SAME, "%s token %d vs prefill: %.3g", v->stem, i, d);
            worst = d > worst ? d : worst;
        }
        rf_report("token_by_token vs prefill", v->stem, worst);
        /* uneven chunks with explicit positions: 2, 5, 9, ... */
        lexie_kv_clear(f.c);
        for (int i = 0, step = 2; i < n; i += step, step += 3 + step % 2) {
            int m = i + step <= n ? step : n - i;
            LX_REQUIRE(t, rf_decode(f.c, ids + i, m, i, 0, 1, &e) == LEXIE_OK);
            for (int j = 0; j < m; j++) {
                const float *got = lexie_ctx_logits(f.c, j);
                double d = got ? rf_max_abs_diff(got, pre + (i + j) * nv, f.n_vocab) : INFINITY;
                LX_CHECK_MSG(t, d <= TOL_SAME, "%s chunk pos %d vs prefill: %.3g", v->stem, i + j,
                             d);
            }
        }
        free(pre);
        rf_close(&f);
    }
}

/* ==== (3) a prefix shared by three sequences ==== */

static void test_qwen_prefix_sharing(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        rf_fixture f;
        lexie_ctx_params cp = rf_ctx_params(&REF, 3, 2);
        lexie_error e;
        if (!fixture_open(t, &f, v, NULL, &cp)) return;
        int p = f.rt.prefix;
        LX_REQUIRE(t, rf_decode(f.c, f.rt.ids[SEQ_MAIN], p, 0, 0, 1, &e) == LEXIE_OK);
        for (int i = 0; i < p; i++)
            rf_check_row(t, &f, lexie_ctx_logits(f.c, i), SEQ_MAIN, i, v->tol, "prefix");
        lexie_kv_seq_cp(f.c, 0, 1, 0, -1);
        lexie_kv_seq_cp(f.c, 0, 2, 0, -1);
        /* the branches diverge right after the prefix: each continues from
        ** the shared cells, in the order 1, 0, 2 */
        static const int order[N_SEQ] = {SEQ_B1, SEQ_MAIN, SEQ_B2};
        double worst = 0;
        for (int k = 0; k < N_SEQ; k++) {
            int s = order[k], n = f.rt.n[s];
            LX_REQUIRE(t, rf_decode(f.c, f.rt.ids[s] + p, n - p, p, s, 1, &e) == LEXIE_OK);
            for (int i = p; i < n; i++) {
                double d =
                    rf_check_row(t, &f, lexie_ctx_logits(f.c, i - p), s, i, v->tol, "after seq_cp");
                worst = d > worst ? d : worst;
            }
            LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, s), n - 1);
        }
        rf_report("shared prefix", v->stem, worst);

        /* replace branch1's tail in seq 1 by branch2's; seqs 0 and 2 keep theirs */
        lexie_kv_seq_rm(f.c, 1, p, -1);
        int n2 = f.rt.n[SEQ_B2];
        LX_REQUIRE(t, rf_decode(f.c, f.rt.ids[SEQ_B2] + p, n2 - p, p, 1, 1, &e) == LEXIE_OK);
        for (int i = p; i < n2; i++)
            rf_check_row(t, &f, lexie_ctx_logits(f.c, i - p), SEQ_B2, i, v->tol, "after seq_rm");
        /* and main goes on by one more decode, unaffected by the others */
        int nm = f.rt.n[SEQ_MAIN];
        lexie_kv_seq_rm(f.c, 0, nm - 4, -1);
        LX_REQUIRE(t, rf_decode(f.c, f.rt.ids[SEQ_MAIN] + nm - 4, 4, -1, 0, 1, &e) == LEXIE_OK);
        for (int i = 0; i < 4; i++)
            rf_check_row(t, &f, lexie_ctx_logits(f.c, i), SEQ_MAIN, nm - 4 + i, v->tol,
                         "main after rm");
        rf_close(&f);
    }
}

/* ==== (4) two sequences interleaved in one batch ==== */

static void test_qwen_batch_two_seqs(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        rf_fixture f;
        lexie_ctx_params cp = rf_ctx_params(&REF, 2, 3);
        lexie_error e;
        if (!fixture_open(t, &f, v, NULL, &cp)) return;
        const int sa = SEQ_B2, sb = SEQ_MAIN;
        int na = f.rt.n[sa], nb = f.rt.n[sb], n = na + nb;
        lexie_token tok[RF_MAX_TOK * 2];
        int32_t pos[RF_MAX_TOK * 2], sid[RF_MAX_TOK * 2], src[RF_MAX_TOK * 2];
        int8_t want[RF_MAX_TOK * 2];
        for (int i = 0, ia = 0, ib = 0; i < n; i++) {
            int take_b = ib < nb && (i % 2 == 1 || ia == na);
            sid[i] = take_b;
            pos[i] = take_b ? ib : ia;
            tok[i] = take_b ? f.rt.ids[sb][ib] : f.rt.ids[sa][ia];
            src[i] = take_b ? sb : sa;
            want[i] = 1;
            if (take_b)
                ib++;
            else
                ia++;
        }
        lexie_batch b = {n, tok, pos, sid, want};
        LX_REQUIRE(t, lexie_ctx_decode(f.c, &b, &e) == LEXIE_OK);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double d =
                rf_check_row(t, &f, lexie_ctx_logits(f.c, i), src[i], pos[i], v->tol, "batched");
            worst = d > worst ? d : worst;
        }
        rf_report("two seqs in one batch", v->stem, worst);
        rf_close(&f);
    }
}

/* ==== (5) thread counts give the same numbers ==== */

static void test_qwen_threads(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        float *out[2] = {NULL, NULL};
        int n = 0, nv = 0;
        for (int k = 0; k < 2; k++) {
            rf_fixture f;
            lexie_ctx_params cp = rf_ctx_params(&REF, 1, k == 0 ? 1 : 3);
            if (!fixture_open(t, &f, v, NULL, &cp)) break;
            n = f.rt.n[SEQ_MAIN], nv = f.n_vocab;
            out[k] = rf_prefill_all(t, &f, SEQ_MAIN);
            rf_close(&f);
        }
        if (out[0] && out[1]) {
            double d = rf_max_abs_diff(out[0], out[1], n * nv);
            LX_CHECK_MSG(t, d <= TOL_SAME, "%s: 1 vs 3 threads differ by %.3g", v->stem, d);
            rf_report("threads 1 vs 3", v->stem, d);
        }
        free(out[0]);
        free(out[1]);
        if (t->skipped) return;
    }
}

/* ==== (6) files missing a qwen tensor ==== */

static void test_qwen_missing_tensors(lx_t *t) {
    /* a required tensor that is absent: "malformed file" or "no such tensor" */
    int n = rf_expect_load_error(t, "qwen2_no_bias.gguf", LEXIE_E_FORMAT, LEXIE_E_NOT_FOUND,
                                 "blk.1.attn_k.bias") +
            rf_expect_load_error(t, "qwen3_no_qnorm.gguf", LEXIE_E_FORMAT, LEXIE_E_NOT_FOUND,
                                 "blk.0.attn_q_norm.weight");
    if (n < 2) LX_SKIP(t, "qwen malformed-model fixtures missing in %s", lx_test_fixtures());
}

void suite_qwen_ref(void) {
    LX_RUN(test_qwen_model_facts);
    LX_RUN(test_qwen_prefill);
    LX_RUN(test_qwen_quant_vs_float);
    LX_RUN(test_qwen_token_by_token);
    LX_RUN(test_qwen_prefix_sharing);
    LX_RUN(test_qwen_batch_two_seqs);
    LX_RUN(test_qwen_threads);
    LX_RUN(test_qwen_missing_tensors);
}
