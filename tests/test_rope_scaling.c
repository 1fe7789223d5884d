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
** Self-contained (it reads its own small tokens file).  Tolerance: the
** float32 one of test_model_ref.c, TOL_F32 1e-4 (measured on x86:
** rope_freqs 2.0e-5, rope_linear 1.2e-5, the unscaled models' order), for
** prefill and for token-by-token decoding.  MIN_NOSCALE is the least
** distance from the unscaled logits (measured 9.6 and 10.5).
*/
#include "lexie.h"
#include "lx_test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL_F32 1e-4
#define MIN_NOSCALE 1.0
#define MAX_TOK 64

static const char *const STEMS[] = {"rope_freqs", "rope_linear"};
#define N_STEMS ((int)(sizeof STEMS / sizeof STEMS[0]))

typedef struct rope_fix {
    int n_vocab, n;
    lexie_token ids[MAX_TOK];
    float *ref, *noscale; /* (n, n_vocab) each */
    lexie_model *m;
    lexie_ctx *c;
} rope_fix;

static void fix_path(char *buf, size_t n, const char *file) {
    snprintf(buf, n, "%s/%s", lx_test_fixtures(), file);
}

/* rope_tokens.txt: "n_vocab N" then "seq main <n> <id>..." ('#' comments). */
static int load_tokens(rope_fix *f) {
    char path[1024], line[4096];
    fix_path(path, sizeof path, "rope_tokens.txt");
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    int ok = 0;
    f->n_vocab = 0;
    while (fgets(line, sizeof line, fp)) {
        char *s = line, *end;
        if (sscanf(line, "n_vocab %d", &f->n_vocab) == 1) continue;
        if (strncmp(line, "seq main ", 9) != 0) continue;
        s += 9;
        long n = strtol(s, &end, 10);
        if (end == s || n < 1 || n > MAX_TOK) break;
        f->n = (int)n;
        for (int i = 0; i < f->n; i++) {
            s = end;
            long v = strtol(s, &end, 10);
            if (end == s || v < 0 || (f->n_vocab > 0 && v >= f->n_vocab)) goto out;
            f->ids[i] = (lexie_token)v;
        }
        ok = f->n_vocab > 0;
    }
out:
    fclose(fp);
    return ok;
}

/* n x n_vocab float32 LE; NULL if missing or of another size. */
static float *load_logits(const char *file, int n, int n_vocab) {
    char path[1024];
    fix_path(path, sizeof path, file);
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t k = (size_t)n * (size_t)n_vocab;
    float *z = malloc(k * sizeof *z);
    int extra = 0;
    if (z && (fread(z, sizeof *z, k, fp) != k || fread(&extra, 1, 1, fp) != 0)) {
        free(z);
        z = NULL;
    }
    fclose(fp);
    return z;
}

static void fix_close(rope_fix *f) {
    free(f->ref);
    free(f->noscale);
    lexie_ctx_free(f->c);
    lexie_model_free(f->m);
    memset(f, 0, sizeof *f);
}

/* Opens <stem>.gguf, its references and a context; 0 after a skip or a
** failure (f closed). */
static int fix_open(lx_t *t, rope_fix *f, const char *stem) {
    char file[256], path[1024];
    lexie_error e;
    memset(f, 0, sizeof *f);
    if (!load_tokens(f)) {
        lx_test_skip(t, "no valid rope_tokens.txt in %s: run make test", lx_test_fixtures());
        return 0;
    }
    snprintf(file, sizeof file, "%s.main.bin", stem);
    f->ref = load_logits(file, f->n, f->n_vocab);
    snprintf(file, sizeof file, "%s.main.noscale.bin", stem);
    f->noscale = load_logits(file, f->n, f->n_vocab);
    if (!f->ref || !f->noscale) {
        lx_test_skip(t, "reference logits of %s missing in %s", stem, lx_test_fixtures());
        fix_close(f);
        return 0;
    }
    snprintf(file, sizeof file, "%s.gguf", stem);
    fix_path(path, sizeof path, file);
    f->m = lexie_model_load(path, NULL, &e);
    if (!f->m) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: load: %s", stem, e.message);
        fix_close(f);
        return 0;
    }
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = 2 * MAX_TOK;
    cp.n_batch = MAX_TOK;
    cp.n_seq_max = 1;
    cp.n_threads = 2;
    f->c = lexie_ctx_new(f->m, &cp, &e);
    if (!f->c || lexie_model_n_vocab(f->m) != f->n_vocab) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: ctx_new: %s", stem,
                     f->c ? "vocabulary size differs" : e.message);
        fix_close(f);
        return 0;
    }
    return 1;
}

static double max_abs_diff(const float *a, const float *b, int n) {
    double d = 0;
    for (int i = 0; i < n; i++) {
        double x = fabs((double)a[i] - (double)b[i]);
        if (isnan(x) || x > d) d = isnan(x) ? INFINITY : x;
    }
    return d;
}

static void report(const char *what, const char *stem, double d, double d0) {
    if (getenv("LX_TEST_VERBOSE"))
        fprintf(stderr, "     %s %s: max |diff| %.3g (from the unscaled logits %.3g)\n", what, stem,
                d, d0);
}

/* Compares one row of logits with both references; updates the worsts. */
static void check_row(lx_t *t, const rope_fix *f, const char *stem, const float *got, int row,
                      double *worst, double *worst0) {
    if (!got) {
        lx_test_fail(t, __FILE__, __LINE__, "%s row %d: no logits", stem, row);
        *worst = INFINITY;
        return;
    }
    size_t off = (size_t)row * (size_t)f->n_vocab;
    double d = max_abs_diff(got, f->ref + off, f->n_vocab);
    double d0 = max_abs_diff(got, f->noscale + off, f->n_vocab);
    LX_CHECK_MSG(t, d <= TOL_F32, "%s row %d: max |logit - reference| %.3g > %g", stem, row, d,
                 TOL_F32);
    *worst = d > *worst ? d : *worst;
    *worst0 = d0 > *worst0 ? d0 : *worst0;
}

/* The whole sequence as one batch, logits at every position. */
static void test_rope_scaling_prefill(lx_t *t) {
    for (int k = 0; k < N_STEMS; k++) {
        rope_fix f;
        lexie_error e;
        if (!fix_open(t, &f, STEMS[k])) return;
        int8_t want[MAX_TOK];
        memset(want, 1, sizeof want);
        lexie_batch b = {f.n, f.ids, NULL, NULL, want};
        double worst = 0, worst0 = 0;
        if (lexie_ctx_decode(f.c, &b, &e) != LEXIE_OK) {
            lx_test_fail(t, __FILE__, __LINE__, "%s: decode: %s", STEMS[k], e.message);
        } else {
            for (int i = 0; i < f.n; i++)
                check_row(t, &f, STEMS[k], lexie_ctx_logits(f.c, i), i, &worst, &worst0);
            LX_CHECK_MSG(t, worst0 >= MIN_NOSCALE,
                         "%s: only %.3g from the logits without scaling: not exercised", STEMS[k],
                         worst0);
        }
        report("prefill", STEMS[k], worst, worst0);
        fix_close(&f);
    }
}

/* One token per decode, as generation runs: the rotation of a single new
** key/query at a late position. */
static void test_rope_scaling_token_by_token(lx_t *t) {
    for (int k = 0; k < N_STEMS; k++) {
        rope_fix f;
        lexie_error e;
        if (!fix_open(t, &f, STEMS[k])) return;
        double worst = 0, worst0 = 0;
        for (int i = 0; i < f.n; i++) {
            lexie_batch b = {1, f.ids + i, NULL, NULL, NULL};
            if (lexie_ctx_decode(f.c, &b, &e) != LEXIE_OK) {
                lx_test_fail(t, __FILE__, __LINE__, "%s: decode %d: %s", STEMS[k], i, e.message);
                break;
            }
            check_row(t, &f, STEMS[k], lexie_ctx_logits(f.c, -1), i, &worst, &worst0);
        }
        LX_CHECK_MSG(t, worst0 >= MIN_NOSCALE, "%s: only %.3g from the unscaled logits", STEMS[k],
                     worst0);
        report("token by token", STEMS[k], worst, worst0);
        fix_close(&f);
    }
}

/* Loads a fixture model that must be refused with code `code`. */
static void expect_refused(lx_t *t, const char *file, lexie_status code, const char *needle) {
    char path[1024];
    lexie_error e;
    fix_path(path, sizeof path, file);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        lx_test_skip(t, "no %s in %s: run make test", file, lx_test_fixtures());
        return;
    }
    fclose(fp);
    memset(&e, 0, sizeof e);
    lexie_model *m = lexie_model_load(path, NULL, &e);
    LX_CHECK_MSG(t, m == NULL, "%s loaded", file);
    lexie_model_free(m);
    if (m) return;
    LX_CHECK_MSG(t, e.code == code, "%s: code %d, want %d (%s)", file, (int)e.code, (int)code,
                 e.message);
    LX_CHECK_MSG(t, strstr(e.message, needle) != NULL, "%s: message '%s' lacks '%s'", file,
                 e.message, needle);
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
