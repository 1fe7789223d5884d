/*
** test_gemma3.c -- the gemma3 forward pass against a NumPy reference on
** tiny random-weight models: sliding-window layers, the global layer,
** soft-capping, decoding token by token and in chunks, shared prefixes.
**
** tests/ref/ref_gemma3.py writes the fixtures (see its header): 6 layers
** (0-4 local with a window of 8, 5 global), head size 32 with n_embd 64 so
** the attention width differs from the residual width, GQA 4/2, 40-token
** main sequence (the window binds from position 8 on) and a branch that
** shares its first 20 tokens.  Only the public API is used.  Tests skip
** when the fixture directory lacks the files (run `make test`).
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

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOL_F32 5e-3
#define TOL_F32_MEAN 1e-4
#define TOL_SAME 1e-4
#define MIN_WINDOW_EFFECT 0.5

#define MAX_TOK 64

/* ==== Fixture files ==== */

enum { SEQ_MAIN, SEQ_BRANCH, N_SEQ };
static const char *const SEQ_NAMES[N_SEQ] = {"main", "branch"};
static const char *const MODELS[] = {"gemma3_f32", "gemma3_cap"};
#define N_MODELS 2

typedef struct g3_tokens {
    int n_vocab, window, prefix;
    int n[N_SEQ];
    lexie_token ids[N_SEQ][MAX_TOK];
} g3_tokens;

static void fx_path(char *buf, size_t n, const char *file) {
    snprintf(buf, n, "%s/%s", lx_test_fixtures(), file);
}

/* Parses gemma3_tokens.txt; 0 if missing or malformed. */
static int tokens_load(g3_tokens *rt) {
    char path[1024], word[64], name[64];
    fx_path(path, sizeof path, "gemma3_tokens.txt");
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    memset(rt, 0, sizeof *rt);
    int ok = 1, n_seen = 0;
    while (ok && fscanf(f, "%63s", word) == 1) {
        if (word[0] == '#') {
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {}
        } else if (!strcmp(word, "n_vocab")) {
            ok = fscanf(f, "%d", &rt->n_vocab) == 1;
        } else if (!strcmp(word, "window")) {
            ok = fscanf(f, "%d", &rt->window) == 1;
        } else if (!strcmp(word, "prefix")) {
            ok = fscanf(f, "%d", &rt->prefix) == 1;
        } else if (!strcmp(word, "seq")) {
            int n = 0, s = -1;
            ok = fscanf(f, "%63s %d", name, &n) == 2 && n > 0 && n <= MAX_TOK;
            for (int i = 0; ok && i < N_SEQ; i++)
                if (!strcmp(name, SEQ_NAMES[i])) s = i;
            ok = ok && s >= 0;
            for (int i = 0; ok && i < n; i++) ok = fscanf(f, "%d", &rt->ids[s][i]) == 1;
            if (ok) rt->n[s] = n, n_seen++;
        } else {
            ok = 0;
        }
    }
    fclose(f);
    return ok && n_seen == N_SEQ && rt->n_vocab > 0 && rt->window > 0 &&
           rt->window < rt->n[SEQ_MAIN] && rt->prefix > 0 && rt->prefix < rt->n[SEQ_BRANCH];
}

/* Reads <file> as n_tok x n_vocab float32 LE; NULL if missing or sized wrong. */
static float *logits_load(const char *file, int n_tok, int n_vocab) {
    char path[1024];
    fx_path(path, sizeof path, file);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = (size_t)n_tok * (size_t)n_vocab;
    float *x = malloc(n * sizeof *x + 1);
    size_t got = x ? fread(x, sizeof *x, n + 1, f) : 0;
    fclose(f);
    if (got != n) {
        free(x);
        return NULL;
    }
    return x;
}

typedef struct fixture {
    g3_tokens rt;
    const char *stem;
    float *ref[N_SEQ]; /* (n[s], n_vocab) */
    lexie_model *m;
    lexie_ctx *c;
    int n_vocab;
} fixture;

static void fixture_close(fixture *f) {
    for (int s = 0; s < N_SEQ; s++) free(f->ref[s]);
    lexie_ctx_free(f->c);
    lexie_model_free(f->m);
    memset(f, 0, sizeof *f);
}

/* Opens model `stem` with a context of n_seq sequences and n_threads
** threads.  Returns 0 after recording a skip or a failure. */
static int fixture_open(lx_t *t, fixture *f, const char *stem, int n_seq, int n_threads) {
    char file[256], path[1024];
    lexie_error e;
    memset(f, 0, sizeof *f);
    f->stem = stem;
    if (!tokens_load(&f->rt)) {
        lx_test_skip(t, "no gemma3_tokens.txt in %s: run make test", lx_test_fixtures());
        return 0;
    }
    for (int s = 0; s < N_SEQ; s++) {
        snprintf(file, sizeof file, "%s.%s.bin", stem, SEQ_NAMES[s]);
        if (!(f->ref[s] = logits_load(file, f->rt.n[s], f->rt.n_vocab))) {
            fixture_close(f);
            lx_test_skip(t, "reference logits %s missing in %s", file, lx_test_fixtures());
            return 0;
        }
    }
    snprintf(file, sizeof file, "%s.gguf", stem);
    fx_path(path, sizeof path, file);
    if (!(f->m = lexie_model_load(path, NULL, &e))) {
        lx_test_fail(t, __FILE__, __LINE__, "load %s: %s", path, e.message);
        fixture_close(f);
        return 0;
    }
    f->n_vocab = lexie_model_n_vocab(f->m);
    lexie_ctx_params p = lexie_ctx_default_params();
    p.n_ctx = 128;
    p.n_batch = 64;
    p.n_seq_max = n_seq;
    p.n_threads = n_threads;
    if (f->n_vocab != f->rt.n_vocab || !(f->c = lexie_ctx_new(f->m, &p, &e))) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: n_vocab %d (fixture %d) or ctx_new failed", stem,
                     f->n_vocab, f->rt.n_vocab);
        fixture_close(f);
        return 0;
    }
    return 1;
}

/* ==== Helpers ==== */

/* Decodes tok[0..n) of seq at positions pos0.. (pos0 < 0: continue the
** sequence), logits for every token. */
static lexie_status decode(lexie_ctx *c, const lexie_token *tok, int n, int pos0, int seq,
                           lexie_error *e) {
    int32_t pos[MAX_TOK], sid[MAX_TOK];
    int8_t want[MAX_TOK];
    if (n > MAX_TOK) return LEXIE_E_INTERNAL;
    for (int i = 0; i < n; i++) {
        pos[i] = pos0 + i;
        sid[i] = seq;
        want[i] = 1;
    }
    lexie_batch b = {n, tok, pos0 < 0 ? NULL : pos, sid, want};
    return lexie_ctx_decode(c, &b, e);
}

static double max_abs_diff(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN wins */
    }
    return m;
}

/* Checks got against row `row` of `ref`; returns the difference. */
static double check_row(lx_t *t, const fixture *f, const float *got, const float *ref, int row,
                        double tol, const char *what) {
    if (!got) {
        lx_test_fail(t, __FILE__, __LINE__, "%s %s: no logits for row %d", f->stem, what, row);
        return INFINITY;
    }
    double d = max_abs_diff(got, ref + (size_t)row * (size_t)f->n_vocab, f->n_vocab);
    if (!(d <= tol))
        lx_test_fail(t, __FILE__, __LINE__, "%s %s: row %d max |logit - ref| = %.3g > %g",
                     f->stem, what, row, d, tol);
    return d;
}

static void report(const char *test, const char *stem, double d) {
    if (getenv("LX_TEST_VERBOSE")) fprintf(stderr, "     %s %s: max |diff| %.3g\n", test, stem, d);
}

/* ==== Tests ==== */

static void test_gemma3_model_facts(lx_t *t) {
    fixture f;
    if (!fixture_open(t, &f, "gemma3_f32", 1, 1)) return;
    LX_CHECK(t, strcmp(lexie_model_arch(f.m), "gemma3") == 0);
    LX_CHECK(t, strcmp(lexie_model_name(f.m), "lexie-test-gemma3_f32") == 0);
    LX_CHECK_INT(t, lexie_model_n_layer(f.m), 6);
    LX_CHECK_INT(t, lexie_model_n_embd(f.m), 64);
    LX_CHECK_INT(t, lexie_model_n_ctx_train(f.m), 512);
    fixture_close(&f);
}

/* Both models, both sequences, every position in one batch. */
static void test_gemma3_prefill(lx_t *t) {
    for (int im = 0; im < N_MODELS; im++) {
        fixture f;
        if (!fixture_open(t, &f, MODELS[im], 1, 3)) return;
        double worst = 0, sum = 0;
        size_t count = 0;
        for (int s = 0; s < N_SEQ; s++) {
            lexie_error e;
            lexie_kv_clear(f.c);
            LX_REQUIRE(t, decode(f.c, f.rt.ids[s], f.rt.n[s], 0, 0, &e) == LEXIE_OK);
            for (int i = 0; i < f.rt.n[s]; i++) {
                const float *got = lexie_ctx_logits(f.c, i);
                double d = check_row(t, &f, got, f.ref[s], i, TOL_F32, SEQ_NAMES[s]);
                worst = d > worst ? d : worst;
                const float *ref = f.ref[s] + (size_t)i * f.n_vocab;
                for (int j = 0; got && j < f.n_vocab; j++, count++)
                    sum += fabs((double)got[j] - (double)ref[j]);
            }
        }
        double mean = count ? sum / (double)count : INFINITY;
        LX_CHECK_MSG(t, mean <= TOL_F32_MEAN, "%s: mean |logit - ref| %.3g > %g", f.stem, mean,
                     TOL_F32_MEAN);
        report("prefill", f.stem, worst);
        report("prefill (mean)", f.stem, mean);
        fixture_close(&f);
    }
}

/* The window is really applied: against the reference computed without
** the mask, lexie agrees before position `window` and is far off after. */
static void test_gemma3_window_applied(lx_t *t) {
    fixture f;
    lexie_error e;
    if (!fixture_open(t, &f, "gemma3_f32", 1, 2)) return;
    int n = f.rt.n[SEQ_MAIN], w = f.rt.window;
    float *nowin = logits_load("gemma3_f32.main.nowin.bin", n, f.n_vocab);
    if (!nowin) {
        fixture_close(&f);
        LX_SKIP(t, "gemma3_f32.main.nowin.bin missing");
    }
    LX_REQUIRE(t, decode(f.c, f.rt.ids[SEQ_MAIN], n, 0, 0, &e) == LEXIE_OK);
    double closest = INFINITY;
    for (int i = 0; i < n; i++) {
        const float *got = lexie_ctx_logits(f.c, i);
        LX_REQUIRE(t, got);
        double d = max_abs_diff(got, nowin + (size_t)i * f.n_vocab, f.n_vocab);
        if (i < w)
            LX_CHECK_MSG(t, d <= TOL_F32, "row %d (inside the window): %.3g", i, d);
        else
            LX_CHECK_MSG(t, d >= MIN_WINDOW_EFFECT, "row %d: only %.3g from unwindowed", i, d);
        if (i >= w && d < closest) closest = d;
    }
    report("window effect (min)", f.stem, closest);
    free(nowin);
    fixture_close(&f);
}

/* One token per decode, then uneven chunks (1, 3, 7, ...) that straddle
** the window edge: each against the reference and the prefill. */
static void test_gemma3_incremental(lx_t *t) {
    for (int im = 0; im < N_MODELS; im++) {
        fixture f;
        lexie_error e;
        if (!fixture_open(t, &f, MODELS[im], 1, 2)) return;
        const lexie_token *ids = f.rt.ids[SEQ_MAIN];
        int n = f.rt.n[SEQ_MAIN];
        size_t nv = (size_t)f.n_vocab;
        float *pre = malloc((size_t)n * nv * sizeof *pre);
        LX_REQUIRE(t, pre);
        if (decode(f.c, ids, n, 0, 0, &e) != LEXIE_OK) {
            free(pre);
            LX_REQUIRE(t, 0);
        }
        for (int i = 0; i < n; i++) memcpy(pre + i * nv, lexie_ctx_logits(f.c, i), nv * 4);

        lexie_kv_clear(f.c);
        double worst = 0, worst_ref = 0;
        for (int i = 0; i < n; i++) {
            LX_REQUIRE(t, decode(f.c, ids + i, 1, -1, 0, &e) == LEXIE_OK);
            const float *got = lexie_ctx_logits(f.c, 0);
            double r = check_row(t, &f, got, f.ref[SEQ_MAIN], i, TOL_F32, "token by token");
            double d = check_row(t, &f, got, pre, i, TOL_SAME, "token by token vs prefill");
            worst = d > worst ? d : worst;
            worst_ref = r > worst_ref ? r : worst_ref;
        }
        report("token_by_token vs prefill", f.stem, worst);
        report("token_by_token vs ref", f.stem, worst_ref);

        lexie_kv_clear(f.c);
        for (int i = 0, step = 1; i < n; i += step, step += 2 + step % 3) {
            int m = i + step <= n ? step : n - i;
            LX_REQUIRE(t, decode(f.c, ids + i, m, i, 0, &e) == LEXIE_OK);
            for (int j = 0; j < m; j++)
                check_row(t, &f, lexie_ctx_logits(f.c, j), pre, i + j, TOL_SAME, "chunks");
        }
        LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 0), n - 1);
        free(pre);
        fixture_close(&f);
    }
}

/* The branch reuses main's prefix cells (lexie_kv_seq_cp), then both
** sequences continue in one mixed batch. */
static void test_gemma3_shared_prefix(lx_t *t) {
    fixture f;
    lexie_error e;
    if (!fixture_open(t, &f, "gemma3_f32", 2, 3)) return;
    int p = f.rt.prefix, nm = f.rt.n[SEQ_MAIN], nb = f.rt.n[SEQ_BRANCH];
    LX_REQUIRE(t, decode(f.c, f.rt.ids[SEQ_MAIN], p, 0, 0, &e) == LEXIE_OK);
    lexie_kv_seq_cp(f.c, 0, 1, 0, -1);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 1), p - 1);

    /* main's and branch's tails interleaved in one batch */
    lexie_token tok[MAX_TOK];
    int32_t pos[MAX_TOK], sid[MAX_TOK], row[MAX_TOK];
    int8_t want[MAX_TOK];
    int n = 0;
    for (int i = p; i < nm || i < nb; i++) {
        for (int s = 0; s < N_SEQ; s++) {
            if (i >= f.rt.n[s]) continue;
            LX_REQUIRE(t, n < MAX_TOK);
            tok[n] = f.rt.ids[s][i], pos[n] = i, sid[n] = s, row[n] = i, want[n] = 1;
            n++;
        }
    }
    lexie_batch b = {n, tok, pos, sid, want};
    LX_REQUIRE(t, lexie_ctx_decode(f.c, &b, &e) == LEXIE_OK);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double d = check_row(t, &f, lexie_ctx_logits(f.c, i), f.ref[sid[i]], row[i], TOL_F32,
                             SEQ_NAMES[sid[i]]);
        worst = d > worst ? d : worst;
    }
    report("shared prefix, mixed batch", f.stem, worst);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 0), nm - 1);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 1), nb - 1);
    fixture_close(&f);
}

/* A gemma3 file without a post-FFN norm is refused with a message naming it. */
static void test_gemma3_missing_post_norm(lx_t *t) {
    char path[1024];
    lexie_error e;
    fx_path(path, sizeof path, "gemma3_no_post_norm.gguf");
    FILE *fp = fopen(path, "rb");
    if (!fp) LX_SKIP(t, "gemma3_no_post_norm.gguf missing in %s", lx_test_fixtures());
    fclose(fp);
    lexie_model *m = lexie_model_load(path, NULL, &e);
    LX_CHECK(t, m == NULL);
    lexie_model_free(m);
    LX_CHECK_INT(t, e.code, LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strstr(e.message, "blk.2.post_ffw_norm.weight") != NULL, "message: %s",
                 e.message);
}

void suite_gemma3(void) {
    LX_RUN(test_gemma3_model_facts);
    LX_RUN(test_gemma3_prefill);
    LX_RUN(test_gemma3_window_applied);
    LX_RUN(test_gemma3_incremental);
    LX_RUN(test_gemma3_shared_prefix);
    LX_RUN(test_gemma3_missing_post_norm);
}
