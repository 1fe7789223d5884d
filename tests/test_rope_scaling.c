/*
** test_rope_scaling.c -- RoPE scaling on tiny random-weight llama models
** against a NumPy reference.
**
** tests/ref/ref_rope.py (run by make_fixtures.py, so by `make test`)
** writes two models in the fixture directory: rope_freqs.gguf carries a
** Llama-3 style rope_freqs.weight (one angle divisor per rotated pair) and
** rope_linear.gguf says llama.rope.scaling.type = linear, factor 4.  Their
** reference logits replay ggml's rounding of the angles (theta / divisor,
** then times 1/factor, in float32); llama.cpp matches them to 9e-6.  Each
** model also comes with the logits its reference computes when the
** scaling is ignored, which differ from the right ones by ~10, so lexie
** must be far from those: a fixture that did not exercise the scaling, or
** an engine that skipped it, fails here.  Also: an unsupported scaling
** type and a rope_freqs of the wrong length are refused at load.
**
** Its tokens file (rope_tokens.txt, one sequence) and references are read
** by tests/ref_fixture.c.  Tolerance: the
** float32 one of test_model_ref.c, TOL_F32 1e-4 (measured on x86:
** rope_freqs 2.0e-5, rope_linear 1.2e-5, the unscaled models' order), for
** prefill and for token-by-token decoding.  MIN_NOSCALE is the least
** distance from the unscaled logits (measured 9.6 and 10.5).
*/
#include "lexie.h"
#include "lx_test.h"
#include "ref_fixture.h"

#include <stdio.h>
#include <stdlib.h>

#define TOL_F32 1e-4
#define MIN_NOSCALE 1.0

static const char *const STEMS[] = {"rope_freqs", "rope_linear"};
#define N_STEMS ((int)(sizeof STEMS / sizeof STEMS[0]))

/* ==== Fixture files (ref_fixture.h reads them) ==== */

static const char *const SEQ_NAMES[1] = {"main"};
static const rf_set REF = {"rope_tokens.txt", SEQ_NAMES, 1, 0, 2 * RF_MAX_TOK, RF_MAX_TOK};

/* A fixture and the logits its reference computes without the scaling. */
typedef struct rope_fix {
    rf_fixture f;
    float *noscale; /* (n, n_vocab) */
} rope_fix;

static void fix_close(rope_fix *r) {
    free(r->noscale);
    r->noscale = NULL;
    rf_close(&r->f);
}

/* Opens <stem>.gguf, its references and a context; 0 after a skip or a
** failure (r closed). */
static int fix_open(lx_t *t, rope_fix *r, const char *stem) {
    char file[256];
    lexie_ctx_params cp = rf_ctx_params(&REF, 1, 2);
    r->noscale = NULL;
    if (!rf_open(t, &r->f, &REF, stem, "bin", &cp)) return 0;
    snprintf(file, sizeof file, "%s.main.noscale.bin", stem);
    r->noscale = rf_logits_load(file, r->f.rt.n[0], r->f.n_vocab);
    if (!r->noscale) {
        lx_test_skip(t, "reference logits %s missing in %s", file, lx_test_fixtures());
        fix_close(r);
        return 0;
    }
    return 1;
}

static void report(const char *what, const char *stem, double d, double d0) {
    if (getenv("LX_TEST_VERBOSE"))
        fprintf(stderr, "     %s %s: max |diff| %.3g (from the unscaled logits %.3g)\n", what, stem,
                d, d0);
}

/* Compares one row of logits with both references; updates the worsts. */
static void check_row(lx_t *t, const rope_fix *r, const float *got, int row, double *worst,
                      double *worst0) {
    double d = rf_check_row(t, &r->f, got, 0, row, TOL_F32, r->f.stem);
    double d0 =
        got ? rf_max_abs_diff(got, r->noscale + (size_t)row * (size_t)r->f.n_vocab, r->f.n_vocab)
            : 0;
    *worst = d > *worst ? d : *worst;
    *worst0 = d0 > *worst0 ? d0 : *worst0;
}

/* The whole sequence as one batch, logits at every position. */
static void test_rope_scaling_prefill(lx_t *t) {
    for (int k = 0; k < N_STEMS; k++) {
        rope_fix r;
        lexie_error e;
        if (!fix_open(t, &r, STEMS[k])) return;
        double worst = 0, worst0 = 0;
        if (rf_decode(r.f.c, r.f.rt.ids[0], r.f.rt.n[0], 0, 0, 1, &e) != LEXIE_OK) {
            lx_test_fail(t, __FILE__, __LINE__, "%s: decode: %s", STEMS[k], e.message);
        } else {
            for (int i = 0; i < r.f.rt.n[0]; i++)
                check_row(t, &r, lexie_ctx_logits(r.f.c, i), i, &worst, &worst0);
            LX_CHECK_MSG(t, worst0 >= MIN_NOSCALE,
                         "%s: only %.3g from the logits without scaling: not exercised", STEMS[k],
                         worst0);
        }
        report("prefill", STEMS[k], worst, worst0);
        fix_close(&r);
    }
}

/* One token per decode, as generation runs: the rotation of a single new
** key/query at a late position. */
static void test_rope_scaling_token_by_token(lx_t *t) {
    for (int k = 0; k < N_STEMS; k++) {
        rope_fix r;
        lexie_error e;
        if (!fix_open(t, &r, STEMS[k])) return;
        double worst = 0, worst0 = 0;
        for (int i = 0; i < r.f.rt.n[0]; i++) {
            if (rf_decode(r.f.c, r.f.rt.ids[0] + i, 1, -1, 0, 0, &e) != LEXIE_OK) {
                lx_test_fail(t, __FILE__, __LINE__, "%s: decode %d: %s", STEMS[k], i, e.message);
                break;
            }
            check_row(t, &r, lexie_ctx_logits(r.f.c, -1), i, &worst, &worst0);
        }
        LX_CHECK_MSG(t, worst0 >= MIN_NOSCALE, "%s: only %.3g from the unscaled logits", STEMS[k],
                     worst0);
        report("token by token", STEMS[k], worst, worst0);
        fix_close(&r);
    }
}

/* Loads a fixture model that must be refused with code `code`. */
static void expect_refused(lx_t *t, const char *file, lexie_status code, const char *needle) {
    if (!rf_expect_load_error(t, file, code, code, needle))
        lx_test_skip(t, "no %s in %s: run make test", file, lx_test_fixtures());
}

static void test_rope_scaling_refused(lx_t *t) {
    expect_refused(t, "rope_yarn.gguf", LEXIE_E_UNSUPPORTED, "yarn");
    expect_refused(t, "rope_freqs_bad.gguf", LEXIE_E_FORMAT, "rope_freqs");
}

void suite_rope_scaling(void) {
    LX_RUN(test_rope_scaling_prefill);
    LX_RUN(test_rope_scaling_token_by_token);
    LX_RUN(test_rope_scaling_refused);
}
