/*
** test_gemma3.c -- the gemma3 forward pass against a NumPy reference on
** tiny random-weight models: sliding-window layers, the global layer,
** soft-capping, decoding token by token and in chunks, shared prefixes.
**
** tests/ref/ref_gemma3.py writes the fixtures (see its header): 6 layers
** (0-4 local with a window of 8, 5 global), head size 32 with n_embd 64 so
** the attention width differs from the residual width, GQA 4/2, 40-token
** main sequence (the window binds from position 8 on) and a branch that
** shares its first 20 tokens; tests/ref_fixture.c reads them.  Only the
** public API is used.  Tests skip when the fixture directory lacks the
** files (run `make test`).
**
** Tolerances (|logit difference|; logits span about +-16).
**   TOL_F32   float32 weights vs the float64 reference, max over a row.
**             Measured 5.4e-4 to 1.1e-3 (scalar, AVX2, AVX-512).  Nearly
**             all of it is GELU: lexie, like ggml, rounds GELU's input and
**             result to fp16, and so does the reference, but a float32 gate
**             value next to an fp16 rounding boundary can round the other
**             way than its float64 twin (one fp16 step, 5e-4 relative) and
**             random sharp attention spreads that.  With GELU in plain
**             float on both sides the difference is 3.8e-6.  A real mistake
**             (window off by one, a wrong RoPE base on one layer, a missing
**             norm) moves logits by 0.1 or more.
**   TOL_F32_MEAN  the mean over all logits of both sequences: measured
**             2.0e-5 to 3.3e-5; flips are rare, so this stays small.  GELU
**             without the fp16 rounding gives a mean of 5.4e-4 (its max,
**             3.2e-3, would pass TOL_F32): this is the check that sees it.
**   TOL_SAME  the same model computed two ways (token by token, chunks vs
**             prefill): only summation order may differ.  Measured 0.
**   MIN_WINDOW_EFFECT  the reference without the window mask differs from
**             the windowed one by at least 2.1 at every position >= 8;
**             lexie must be at least this far from it there.
*/
#include "lexie.h"
#include "lx_test.h"
#include "ref_fixture.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOL_F32 5e-3
#define TOL_F32_MEAN 1e-4
#define TOL_SAME 1e-4
#define MIN_WINDOW_EFFECT 0.5

/* ==== Fixture files (ref_fixture.h reads them) ==== */

enum { SEQ_MAIN, SEQ_BRANCH, N_SEQ };
static const char *const SEQ_NAMES[N_SEQ] = {"main", "branch"};
static const rf_set REF = {"gemma3_tokens.txt", SEQ_NAMES, N_SEQ, 1, 128, 64};
static const char *const MODELS[] = {"gemma3_f32", "gemma3_cap"};
#define N_MODELS 2

/* Opens model `stem` (references <stem>.<seq>.bin) with a context of
** n_seq sequences and n_threads threads.  Returns 0 after recording a
** skip or a failure. */
static int fixture_open(lx_t *t, rf_fixture *f, const char *stem, int n_seq, int n_threads) {
    lexie_ctx_params p = rf_ctx_params(&REF, n_seq, n_threads);
    return rf_open(t, f, &REF, stem, "bin", &p);
}

/* ==== Tests ==== */

static void test_gemma3_model_facts(lx_t *t) {
    rf_fixture f;
    if (!fixture_open(t, &f, "gemma3_f32", 1, 1)) return;
    rf_check_facts(t, &f, "gemma3", 6, 64, 512);
    rf_close(&f);
}

/* Both models, both sequences, every position in one batch. */
static void test_gemma3_prefill(lx_t *t) {
    for (int im = 0; im < N_MODELS; im++) {
        rf_fixture f;
        if (!fixture_open(t, &f, MODELS[im], 1, 3)) return;
        double worst = 0, sum = 0;
        size_t count = 0;
        for (int s = 0; s < N_SEQ; s++) {
            double d = rf_check_prefill(t, &f, s, TOL_F32, SEQ_NAMES[s], &sum);
            worst = d > worst ? d : worst;
            count += (size_t)f.rt.n[s] * (size_t)f.n_vocab;
        }
        double mean = count ? sum / (double)count : INFINITY;
        LX_CHECK_MSG(t, mean <= TOL_F32_MEAN, "%s: mean |logit - ref| %.3g > %g", f.stem, mean,
                     TOL_F32_MEAN);
        rf_report("prefill", f.stem, worst);
        rf_report("prefill (mean)", f.stem, mean);
        rf_close(&f);
    }
}

/* The window is really applied: against the reference computed without
** the mask, lexie agrees before position `window` and is far off after. */
static void test_gemma3_window_applied(lx_t *t) {
    rf_fixture f;
    lexie_error e;
    if (!fixture_open(t, &f, "gemma3_f32", 1, 2)) return;
    int n = f.rt.n[SEQ_MAIN], w = f.rt.window;
    float *nowin = rf_logits_load("gemma3_f32.main.nowin.bin", n, f.n_vocab);
    if (!nowin) {
        rf_close(&f);
        LX_SKIP(t, "gemma3_f32.main.nowin.bin missing");
    }
    LX_REQUIRE(t, rf_decode(f.c, f.rt.ids[SEQ_MAIN], n, 0, 0, 1, &e) == LEXIE_OK);
    double closest = INFINITY;
    for (int i = 0; i < n; i++) {
        const float *got = lexie_ctx_logits(f.c, i);
        LX_REQUIRE(t, got);
        double d = rf_max_abs_diff(got, nowin + (size_t)i * f.n_vocab, f.n_vocab);
        if (i < w)
            LX_CHECK_MSG(t, d <= TOL_F32, "row %d (inside the window): %.3g", i, d);
        else
            LX_CHECK_MSG(t, d >= MIN_WINDOW_EFFECT, "row %d: only %.3g from unwindowed", i, d);
        if (i >= w && d < closest) closest = d;
    }
    rf_report("window effect (min)", f.stem, closest);
    free(nowin);
    rf_close(&f);
}

/* One token per decode, then uneven chunks (1, 3, 7, ...) that straddle
** the window edge: each against the reference and the prefill. */
static void test_gemma3_incremental(lx_t *t) {
    static const int chunks[3] = {1, 2, 3};
    for (int im = 0; im < N_MODELS; im++) {
        rf_fixture f;
        if (!fixture_open(t, &f, MODELS[im], 1, 2)) return;
        rf_check_incremental(t, &f, TOL_F32, TOL_SAME, chunks);
        rf_close(&f);
    }
}

/* The branch reuses main's prefix cells (lexie_kv_seq_cp), then both
** sequences continue in one mixed batch. */
static void test_gemma3_shared_prefix(lx_t *t) {
    rf_fixture f;
    lexie_error e;
    if (!fixture_open(t, &f, "gemma3_f32", 2, 3)) return;
    int p = f.rt.prefix, nm = f.rt.n[SEQ_MAIN], nb = f.rt.n[SEQ_BRANCH];
    LX_REQUIRE(t, rf_decode(f.c, f.rt.ids[SEQ_MAIN], p, 0, 0, 1, &e) == LEXIE_OK);
    LX_CHECK_INT(t, lexie_kv_seq_cp(f.c, 0, 1, 0, -1), LEXIE_OK);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 1), p - 1);

    /* main's and branch's tails interleaved in one batch */
    lexie_token tok[RF_MAX_TOK];
    int32_t pos[RF_MAX_TOK], sid[RF_MAX_TOK], row[RF_MAX_TOK];
    int8_t want[RF_MAX_TOK];
    int n = 0;
    for (int i = p; i < nm || i < nb; i++) {
        for (int s = 0; s < N_SEQ; s++) {
            if (i >= f.rt.n[s]) continue;
            LX_REQUIRE(t, n < RF_MAX_TOK);
            tok[n] = f.rt.ids[s][i], pos[n] = i, sid[n] = s, row[n] = i, want[n] = 1;
            n++;
        }
    }
    lexie_batch b = {n, tok, pos, sid, want};
    LX_REQUIRE(t, lexie_ctx_decode(f.c, &b, &e) == LEXIE_OK);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double d = rf_check_ref_row(t, &f, lexie_ctx_logits(f.c, i), f.ref[sid[i]], row[i], TOL_F32,
                                    SEQ_NAMES[sid[i]]);
        worst = d > worst ? d : worst;
    }
    rf_report("shared prefix, mixed batch", f.stem, worst);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 0), nm - 1);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 1), nb - 1);
    rf_close(&f);
}

/* A gemma3 file without a post-FFN norm is refused with a message naming it. */
static void test_gemma3_missing_post_norm(lx_t *t) {
    if (!rf_expect_load_error(t, "gemma3_no_post_norm.gguf", LEXIE_E_FORMAT, LEXIE_E_FORMAT,
                              "blk.2.post_ffw_norm.weight"))
        LX_SKIP(t, "gemma3_no_post_norm.gguf missing in %s", lx_test_fixtures());
}

void suite_gemma3(void) {
    LX_RUN(test_gemma3_model_facts);
    LX_RUN(test_gemma3_prefill);
    LX_RUN(test_gemma3_window_applied);
    LX_RUN(test_gemma3_incremental);
    LX_RUN(test_gemma3_shared_prefix);
    LX_RUN(test_gemma3_missing_post_norm);
}
