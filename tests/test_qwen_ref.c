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
** tolerances below cannot be met by a forward pass that skips one.  Only
** the public API is used.  Tests skip when the fixtures are absent (run
** `make test`, which writes them).
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

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOL_F32 1e-4
#define TOL_ACTQ 1e-4
#define TOL_QFLOAT 1.5
#define TOL_SAME 1e-4

#define MAX_TOK 64

/* ==== Fixture files ==== */

enum { SEQ_MAIN, SEQ_B1, SEQ_B2, N_SEQ };
static const char *const SEQ_NAMES[N_SEQ] = {"main", "branch1", "branch2"};

typedef struct qw_tokens {
    int n_vocab;
    int prefix; /* branch1/branch2 share main's first `prefix` tokens */
    int n[N_SEQ];
    lexie_token ids[N_SEQ][MAX_TOK];
} qw_tokens;

typedef struct variant {
    const char *stem;   /* <stem>.gguf */
    const char *arch;   /* general.architecture */
    const char *suffix; /* reference logits <stem>.<seq>.<suffix> */
    double tol;
    int quantized;      /* <stem>.<seq>.bin holds the float-activation reference */
} variant;

static const variant VARIANTS[] = {
    {"qwen2_f32", "qwen2", "bin", TOL_F32, 0},
    {"qwen2_q", "qwen2", "actq.bin", TOL_ACTQ, 1},
    {"qwen3_f32", "qwen3", "bin", TOL_F32, 0},
    {"qwen3_q", "qwen3", "actq.bin", TOL_ACTQ, 1},
};
#define N_VARIANTS ((int)(sizeof VARIANTS / sizeof VARIANTS[0]))

static void fx_path(char *buf, size_t n, const char *file) {
    snprintf(buf, n, "%s/%s", lx_test_fixtures(), file);
}

/* Parses qwen_tokens.txt; 0 if missing or malformed. */
static int tokens_load(qw_tokens *rt) {
    char path[1024], word[64], name[64];
    fx_path(path, sizeof path, "qwen_tokens.txt");
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
    return ok && n_seen == N_SEQ && rt->n_vocab > 0 && rt->prefix > 0 &&
           rt->prefix < rt->n[SEQ_B1] && rt->prefix < rt->n[SEQ_B2];
}

/* Reads n_tok x n_vocab float32 LE; NULL if missing or of another size. */
static float *logits_load(const char *stem, int seq, const char *suffix, int n_tok, int n_vocab) {
    char file[256], path[1024];
    snprintf(file, sizeof file, "%s.%s.%s", stem, SEQ_NAMES[seq], suffix);
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
    qw_tokens rt;
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

static lexie_ctx_params ctx_params(int n_seq, int n_threads) {
    lexie_ctx_params p = lexie_ctx_default_params();
    p.n_ctx = 256;
    p.n_batch = 128;
    p.n_seq_max = n_seq;
    p.n_threads = n_threads;
    return p;
}

/* Opens variant v (reference logits <stem>.<seq>.<suffix>, v's own when
** suffix is NULL) with a context of params cp (NULL: none).  Returns 0
** after recording a skip or a failure. */
static int fixture_open(lx_t *t, fixture *f, const variant *v, const char *suffix,
                        const lexie_ctx_params *cp) {
    char file[256], path[1024];
    lexie_error e;
    memset(f, 0, sizeof *f);
    if (!tokens_load(&f->rt)) {
        lx_test_skip(t, "no qwen_tokens.txt in %s: run make test", lx_test_fixtures());
        return 0;
    }
    for (int s = 0; s < N_SEQ; s++) {
        f->ref[s] = logits_load(v->stem, s, suffix ? suffix : v->suffix, f->rt.n[s],
                                f->rt.n_vocab);
        if (!f->ref[s]) {
            fixture_close(f);
            lx_test_skip(t, "reference logits of %s missing in %s", v->stem, lx_test_fixtures());
            return 0;
        }
    }
    snprintf(file, sizeof file, "%s.gguf", v->stem);
    fx_path(path, sizeof path, file);
    f->m = lexie_model_load(path, NULL, &e);
    if (!f->m) {
        lx_test_fail(t, __FILE__, __LINE__, "load %s: %s", path, e.message);
        fixture_close(f);
        return 0;
    }
    f->n_vocab = lexie_model_n_vocab(f->m);
    if (f->n_vocab != f->rt.n_vocab) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: n_vocab %d, fixture %d", v->stem, f->n_vocab,
                     f->rt.n_vocab);
        fixture_close(f);
        return 0;
    }
    if (cp && !(f->c = lexie_ctx_new(f->m, cp, &e))) {
        lx_test_fail(t, __FILE__, __LINE__, "ctx_new: %s", e.message);
        fixture_close(f);
        return 0;
    }
    return 1;
}

/* ==== Helpers ==== */

/* Decodes tok[0..n) into seq at positions pos0.. (pos0 < 0: continue the
** sequence), logits for every token when all, else the last only. */
static lexie_status decode(lexie_ctx *c, const lexie_token *tok, int n, int pos0, int seq,
                           int all, lexie_error *e) {
    int32_t pos[MAX_TOK], sid[MAX_TOK];
    int8_t want[MAX_TOK];
    if (n > MAX_TOK) return LEXIE_E_INTERNAL;
    for (int i = 0; i < n; i++) {
        pos[i] = pos0 + i;
        sid[i] = seq;
        want[i] = (int8_t)(all || i == n - 1);
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

/* Checks got against reference row `row` of seq; returns the difference. */
static double check_row(lx_t *t, const fixture *f, const float *got, int seq, int row, double tol,
                        const char *what) {
    if (!got) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: no logits for %s[%d]", what, SEQ_NAMES[seq], row);
        return INFINITY;
    }
    const float *ref = f->ref[seq] + (size_t)row * (size_t)f->n_vocab;
    double d = max_abs_diff(got, ref, f->n_vocab);
    if (!(d <= tol))
        lx_test_fail(t, __FILE__, __LINE__, "%s: %s[%d] max |logit - ref| = %.3g > %g", what,
                     SEQ_NAMES[seq], row, d, tol);
    return d;
}

static void report(const char *test, const char *stem, double d) {
    if (getenv("LX_TEST_VERBOSE")) fprintf(stderr, "     %s %s: max |diff| %.3g\n", test, stem, d);
}

/* The logits of every position of seq s decoded in one batch, copied. */
static float *prefill_all(lx_t *t, fixture *f, int s) {
    lexie_error e;
    size_t nv = (size_t)f->n_vocab;
    int n = f->rt.n[s];
    float *out = malloc((size_t)n * nv * sizeof *out);
    if (!out) {
        lx_test_fail(t, __FILE__, __LINE__, "out of memory");
        return NULL;
    }
    lexie_kv_clear(f->c);
    if (decode(f->c, f->rt.ids[s], n, 0, 0, 1, &e) != LEXIE_OK) {
        lx_test_fail(t, __FILE__, __LINE__, "decode: %s", e.message);
        free(out);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const float *l = lexie_ctx_logits(f->c, i);
        if (l) memcpy(out + i * nv, l, nv * sizeof *out);
        else memset(out + i * nv, 0xff, nv * sizeof *out); /* NaN: fails every comparison */
    }
    return out;
}

/* ==== Model facts ==== */

static void test_qwen_model_facts(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        fixture f;
        if (!fixture_open(t, &f, &VARIANTS[iv], NULL, NULL)) return;
        char name[64];
        snprintf(name, sizeof name, "lexie-test-%s", VARIANTS[iv].stem);
        LX_CHECK_MSG(t, strcmp(lexie_model_arch(f.m), VARIANTS[iv].arch) == 0, "%s: arch %s",
                     VARIANTS[iv].stem, lexie_model_arch(f.m));
        LX_CHECK(t, strcmp(lexie_model_name(f.m), name) == 0);
        LX_CHECK_INT(t, lexie_model_n_layer(f.m), 2);
        LX_CHECK_INT(t, lexie_model_n_embd(f.m), 64);
        LX_CHECK_INT(t, lexie_model_n_ctx_train(f.m), 512);
        fixture_close(&f);
    }
}

/* ==== (1) every position in one batch ==== */

static void test_qwen_prefill(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        fixture f;
        lexie_ctx_params cp = ctx_params(1, 2);
        if (!fixture_open(t, &f, v, NULL, &cp)) return;
        double worst = 0;
        for (int s = 0; s < N_SEQ; s++) {
            lexie_error e;
            lexie_kv_clear(f.c);
            LX_REQUIRE(t, decode(f.c, f.rt.ids[s], f.rt.n[s], 0, 0, 1, &e) == LEXIE_OK);
            for (int i = 0; i < f.rt.n[s]; i++) {
                double d = check_row(t, &f, lexie_ctx_logits(f.c, i), s, i, v->tol, v->stem);
                worst = d > worst ? d : worst;
            }
        }
        report("prefill", v->stem, worst);
        fixture_close(&f);
    }
}

/* The quantized models against float activations: only a sanity bound on
** the pair of references (activation rounding alone moves logits by
** tenths here). */
static void test_qwen_quant_vs_float(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        if (!v->quantized) continue;
        fixture f;
        lexie_ctx_params cp = ctx_params(1, 2);
        lexie_error e;
        if (!fixture_open(t, &f, v, "bin", &cp)) return;
        LX_REQUIRE(t, decode(f.c, f.rt.ids[SEQ_MAIN], f.rt.n[SEQ_MAIN], 0, 0, 1, &e) == LEXIE_OK);
        double worst = 0;
        for (int i = 0; i < f.rt.n[SEQ_MAIN]; i++) {
            double d = check_row(t, &f, lexie_ctx_logits(f.c, i), SEQ_MAIN, i, TOL_QFLOAT,
                                 "q/float");
            worst = d > worst ? d : worst;
        }
        report("quant_vs_float", v->stem, worst);
        fixture_close(&f);
    }
}

/* ==== (2) token by token and in chunks vs prefill ==== */

static void test_qwen_token_by_token(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        fixture f;
        lexie_ctx_params cp = ctx_params(1, 2);
        lexie_error e;
        if (!fixture_open(t, &f, v, NULL, &cp)) return;
        const lexie_token *ids = f.rt.ids[SEQ_MAIN];
        int n = f.rt.n[SEQ_MAIN];
        size_t nv = (size_t)f.n_vocab;
        float *pre = prefill_all(t, &f, SEQ_MAIN);
        if (!pre) {
            fixture_close(&f);
            return;
        }
        /* one token per decode, positions implied */
        lexie_kv_clear(f.c);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            LX_REQUIRE(t, decode(f.c, ids + i, 1, -1, 0, 0, &e) == LEXIE_OK);
            const float *got = lexie_ctx_logits(f.c, 0);
            check_row(t, &f, got, SEQ_MAIN, i, v->tol, v->stem);
            double d = got ? max_abs_diff(got, pre + i * nv, f.n_vocab) : INFINITY;
            LX_CHECK_MSG(t, d <= TOL_SAME, "%s token %d vs prefill: %.3g", v->stem, i, d);
            worst = d > worst ? d : worst;
        }
        report("token_by_token vs prefill", v->stem, worst);
        /* uneven chunks with explicit positions: 2, 5, 9, ... */
        lexie_kv_clear(f.c);
        for (int i = 0, step = 2; i < n; i += step, step += 3 + step % 2) {
            int m = i + step <= n ? step : n - i;
            LX_REQUIRE(t, decode(f.c, ids + i, m, i, 0, 1, &e) == LEXIE_OK);
            for (int j = 0; j < m; j++) {
                const float *got = lexie_ctx_logits(f.c, j);
                double d = got ? max_abs_diff(got, pre + (i + j) * nv, f.n_vocab) : INFINITY;
                LX_CHECK_MSG(t, d <= TOL_SAME, "%s chunk pos %d vs prefill: %.3g", v->stem,
                             i + j, d);
            }
        }
        free(pre);
        fixture_close(&f);
    }
}

/* ==== (3) a prefix shared by three sequences ==== */

static void test_qwen_prefix_sharing(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        fixture f;
        lexie_ctx_params cp = ctx_params(3, 2);
        lexie_error e;
        if (!fixture_open(t, &f, v, NULL, &cp)) return;
        int p = f.rt.prefix;
        LX_REQUIRE(t, decode(f.c, f.rt.ids[SEQ_MAIN], p, 0, 0, 1, &e) == LEXIE_OK);
        for (int i = 0; i < p; i++)
            check_row(t, &f, lexie_ctx_logits(f.c, i), SEQ_MAIN, i, v->tol, "prefix");
        lexie_kv_seq_cp(f.c, 0, 1, 0, -1);
        lexie_kv_seq_cp(f.c, 0, 2, 0, -1);
        /* the branches diverge right after the prefix: each continues from
        ** the shared cells, in the order 1, 0, 2 */
        static const int order[N_SEQ] = {SEQ_B1, SEQ_MAIN, SEQ_B2};
        double worst = 0;
        for (int k = 0; k < N_SEQ; k++) {
            int s = order[k], n = f.rt.n[s];
            LX_REQUIRE(t, decode(f.c, f.rt.ids[s] + p, n - p, p, s, 1, &e) == LEXIE_OK);
            for (int i = p; i < n; i++) {
                double d = check_row(t, &f, lexie_ctx_logits(f.c, i - p), s, i, v->tol,
                                     "after seq_cp");
                worst = d > worst ? d : worst;
            }
            LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, s), n - 1);
        }
        report("shared prefix", v->stem, worst);

        /* replace branch1's tail in seq 1 by branch2's; seqs 0 and 2 keep theirs */
        lexie_kv_seq_rm(f.c, 1, p, -1);
        int n2 = f.rt.n[SEQ_B2];
        LX_REQUIRE(t, decode(f.c, f.rt.ids[SEQ_B2] + p, n2 - p, p, 1, 1, &e) == LEXIE_OK);
        for (int i = p; i < n2; i++)
            check_row(t, &f, lexie_ctx_logits(f.c, i - p), SEQ_B2, i, v->tol, "after seq_rm");
        /* and main goes on by one more decode, unaffected by the others */
        int nm = f.rt.n[SEQ_MAIN];
        lexie_kv_seq_rm(f.c, 0, nm - 4, -1);
        LX_REQUIRE(t, decode(f.c, f.rt.ids[SEQ_MAIN] + nm - 4, 4, -1, 0, 1, &e) == LEXIE_OK);
        for (int i = 0; i < 4; i++)
            check_row(t, &f, lexie_ctx_logits(f.c, i), SEQ_MAIN, nm - 4 + i, v->tol,
                      "main after rm");
        fixture_close(&f);
    }
}

/* ==== (4) two sequences interleaved in one batch ==== */

static void test_qwen_batch_two_seqs(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        fixture f;
        lexie_ctx_params cp = ctx_params(2, 3);
        lexie_error e;
        if (!fixture_open(t, &f, v, NULL, &cp)) return;
        const int sa = SEQ_B2, sb = SEQ_MAIN;
        int na = f.rt.n[sa], nb = f.rt.n[sb], n = na + nb;
        lexie_token tok[MAX_TOK * 2];
        int32_t pos[MAX_TOK * 2], sid[MAX_TOK * 2], src[MAX_TOK * 2];
        int8_t want[MAX_TOK * 2];
        for (int i = 0, ia = 0, ib = 0; i < n; i++) {
            int take_b = ib < nb && (i % 2 == 1 || ia == na);
            sid[i] = take_b;
            pos[i] = take_b ? ib : ia;
            tok[i] = take_b ? f.rt.ids[sb][ib] : f.rt.ids[sa][ia];
            src[i] = take_b ? sb : sa;
            want[i] = 1;
            if (take_b) ib++;
            else ia++;
        }
        lexie_batch b = {n, tok, pos, sid, want};
        LX_REQUIRE(t, lexie_ctx_decode(f.c, &b, &e) == LEXIE_OK);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double d =
                check_row(t, &f, lexie_ctx_logits(f.c, i), src[i], pos[i], v->tol, "batched");
            worst = d > worst ? d : worst;
        }
        report("two seqs in one batch", v->stem, worst);
        fixture_close(&f);
    }
}

/* ==== (5) thread counts give the same numbers ==== */

static void test_qwen_threads(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        const variant *v = &VARIANTS[iv];
        float *out[2] = {NULL, NULL};
        int n = 0, nv = 0;
        for (int k = 0; k < 2; k++) {
            fixture f;
            lexie_ctx_params cp = ctx_params(1, k == 0 ? 1 : 3);
            if (!fixture_open(t, &f, v, NULL, &cp)) break;
            n = f.rt.n[SEQ_MAIN], nv = f.n_vocab;
            out[k] = prefill_all(t, &f, SEQ_MAIN);
            fixture_close(&f);
        }
        if (out[0] && out[1]) {
            double d = max_abs_diff(out[0], out[1], n * nv);
            LX_CHECK_MSG(t, d <= TOL_SAME, "%s: 1 vs 3 threads differ by %.3g", v->stem, d);
            report("threads 1 vs 3", v->stem, d);
        }
        free(out[0]);
        free(out[1]);
        if (t->skipped) return;
    }
}

/* ==== (6) files missing a qwen tensor ==== */

static int expect_load_error(lx_t *t, const char *file, const char *needle) {
    char path[1024];
    lexie_error e;
    fx_path(path, sizeof path, file);
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    fclose(fp);
    memset(&e, 0, sizeof e);
    lexie_model *m = lexie_model_load(path, NULL, &e);
    LX_CHECK_MSG(t, m == NULL, "%s loaded", file);
    lexie_model_free(m);
    LX_CHECK_MSG(t, e.code == LEXIE_E_FORMAT || e.code == LEXIE_E_NOT_FOUND, "%s: code %d: %s",
                 file, (int)e.code, e.message);
    LX_CHECK_MSG(t, strstr(e.message, needle) != NULL, "%s: message does not name %s: %s", file,
                 needle, e.message);
    return 1;
}

static void test_qwen_missing_tensors(lx_t *t) {
    int n = expect_load_error(t, "qwen2_no_bias.gguf", "blk.1.attn_k.bias") +
            expect_load_error(t, "qwen3_no_qnorm.gguf", "blk.0.attn_q_norm.weight");
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
