/*
** test_model_ref.c -- the llama forward pass, KV cache, batching and
** scoring against a NumPy reference on tiny random-weight models.
**
** tests/ref/make_fixtures.py writes the models and the reference logits
** (see its header for the files); tests/ref_fixture.c reads them and holds
** the helpers shared with the other architectures' suites.  Only the
** public API is used, so this is the contract an engine change must keep.
** Tests skip when the fixture directory lacks the files (run `make test`,
** which writes them).
**
** Tolerances (max |logit difference|; logits here span about +-10).
** Measured values are lexie's on x86 (scalar, AVX2 and AVX-512 alike).
**   TOL_F32   float32 weights.  The reference is float64; lexie sums in
**             float32 in its own order.  Measured 1.3e-5 (llama.cpp: 1.3e-5
**             too); any real mistake (a wrong RoPE pair, mask or norm) moves
**             logits by 0.1 or more.
**   TOL_ACTQ  Q8_0/Q4_1 weights against the reference that quantizes
**             activations as ggml does (tests/ref/ggml_quant.py).  Measured
**             9.5e-7 (llama.cpp: 4.8e-7).  There is no useful middle ground:
**             one activation rounded to the neighbouring step moves these
**             logits by 0.05-0.24 (sharp random attention amplifies it), so
**             a failure means lexie's rounding or block arithmetic differs
**             from ggml's (e.g. Q8_1's sum s not rounded to fp16: ~0.05).
**   TOL_QFLOAT the same model against float activations x dequantized
**             weights: activation quantization alone moves logits by up to
**             0.47 here (0.71 on branch2).  Only a sanity bound on the
**             reference pair itself.
**   TOL_SAME  the same model computed two ways (token by token vs prefill,
**             batched vs separate): only summation order may differ.
**             Measured 0.
*/
#include "gguf/gguf.h"
#include "lexie.h"
#include "lx_test.h"
#include "ref_fixture.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOL_F32 1e-4
#define TOL_ACTQ 1e-4
#define TOL_QFLOAT 1.0
#define TOL_SAME 1e-4
#define TOL_THREADS 1e-5

/* ==== Fixture files (ref_fixture.h reads them) ==== */

enum { SEQ_MAIN, SEQ_B1, SEQ_B2, N_SEQ };
static const char *const SEQ_NAMES[N_SEQ] = {"main", "branch1", "branch2"};
static const rf_set REF = {"ref_tokens.txt", SEQ_NAMES, N_SEQ, 0, 256, 128};

/* A model and what it is checked against. */
typedef struct variant {
    const char *stem;   /* <stem>.gguf */
    const char *suffix; /* reference logits <stem>.<seq>.<suffix> */
    double tol;
} variant;

static const variant VARIANTS[] = {
    {"llama_f32", "bin", TOL_F32},
    {"llama_tied", "bin", TOL_F32},
    {"llama_q", "actq.bin", TOL_ACTQ},
};
#define N_VARIANTS ((int)(sizeof VARIANTS / sizeof VARIANTS[0]))

/* Opens variant v (references <stem>.<seq>.<suffix>, v's own when suffix
** is NULL) with context params cp (NULL: no context).  Returns 0 after
** recording a skip (files missing) or a failure. */
static int fixture_open(lx_t *t, rf_fixture *f, const variant *v, const char *suffix,
                        const lexie_ctx_params *cp) {
    return rf_open(t, f, &REF, v->stem, suffix ? suffix : v->suffix, cp);
}

/* ==== Helpers ==== */

/* log softmax(row)[tok] in double */
static double ref_logprob(const float *row, int n_vocab, int tok) {
    double mx = row[0], s = 0;
    for (int i = 1; i < n_vocab; i++) mx = row[i] > mx ? row[i] : mx;
    for (int i = 0; i < n_vocab; i++) s += exp((double)row[i] - mx);
    return (double)row[tok] - mx - log(s);
}

/* ==== Model facts ==== */

static void test_ref_model_facts(lx_t *t) {
    rf_fixture f;
    if (!fixture_open(t, &f, &VARIANTS[0], NULL, NULL)) return;
    rf_check_facts(t, &f, "llama", 2, 64, 256);
    rf_close(&f);
}

/* ==== (1) prefill ==== */

/* Every variant, every sequence, logits at every position in one batch. */
static void test_ref_prefill(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv++) {
        rf_fixture f;
        lexie_ctx_params cp = rf_ctx_params(&REF, 1, 2);
        if (!fixture_open(t, &f, &VARIANTS[iv], NULL, &cp)) return;
        double worst = 0;
        for (int s = 0; s < N_SEQ; s++) {
            double d = rf_check_prefill(t, &f, s, VARIANTS[iv].tol, VARIANTS[iv].stem, NULL);
            worst = d > worst ? d : worst;
        }
        rf_report("prefill", VARIANTS[iv].stem, worst);
        rf_close(&f);
    }
}

/* The quantized model against float activations: a loose sanity bound
** that the activation-quantized reference itself is sane. */
static void test_ref_quant_vs_float(lx_t *t) {
    rf_fixture f;
    lexie_ctx_params cp = rf_ctx_params(&REF, 1, 2);
    if (!fixture_open(t, &f, &VARIANTS[2], "bin", &cp)) return;
    rf_report("quant_vs_float", "llama_q",
              rf_check_prefill(t, &f, SEQ_MAIN, TOL_QFLOAT, "q/float", NULL));
    rf_close(&f);
}

/* Only tokens that asked for logits have them. */
static void test_ref_logits_flags(lx_t *t) {
    rf_fixture f;
    lexie_ctx_params cp = rf_ctx_params(&REF, 1, 2);
    lexie_error e;
    if (!fixture_open(t, &f, &VARIANTS[0], NULL, &cp)) return;
    int n = 10;
    int8_t want[10] = {0, 0, 1, 0, 0, 0, 1, 0, 0, 0};
    lexie_batch b = {n, f.rt.ids[SEQ_MAIN], NULL, NULL, want};
    LX_REQUIRE(t, lexie_ctx_decode(f.c, &b, &e) == LEXIE_OK);
    LX_CHECK(t, lexie_ctx_logits(f.c, 0) == NULL);
    LX_CHECK(t, lexie_ctx_logits(f.c, 9) == NULL);
    rf_check_row(t, &f, lexie_ctx_logits(f.c, 2), SEQ_MAIN, 2, TOL_F32, "flags");
    rf_check_row(t, &f, lexie_ctx_logits(f.c, 6), SEQ_MAIN, 6, TOL_F32, "flags");
    /* logits == NULL: the last token only */
    lexie_batch b2 = {5, f.rt.ids[SEQ_MAIN] + n, NULL, NULL, NULL};
    LX_REQUIRE(t, lexie_ctx_decode(f.c, &b2, &e) == LEXIE_OK);
    LX_CHECK(t, lexie_ctx_logits(f.c, 0) == NULL);
    rf_check_row(t, &f, lexie_ctx_logits(f.c, 4), SEQ_MAIN, n + 4, TOL_F32, "last only");
    rf_check_row(t, &f, lexie_ctx_logits(f.c, -1), SEQ_MAIN, n + 4, TOL_F32, "last only");
    rf_close(&f);
}

/* ==== (2) KV cache: token by token and in chunks ==== */

static void test_ref_token_by_token(lx_t *t) {
    static const int iv_list[] = {0, 2};
    static const int chunks[3] = {1, 2, 3}; /* 1, 3, 5, 9, 11, ... */
    for (int k = 0; k < 2; k++) {
        const variant *v = &VARIANTS[iv_list[k]];
        rf_fixture f;
        lexie_ctx_params cp = rf_ctx_params(&REF, 1, 2);
        if (!fixture_open(t, &f, v, NULL, &cp)) return;
        rf_check_incremental(t, &f, v->tol, TOL_SAME, chunks);
        rf_close(&f);
    }
}

/* ==== (3) prefix reuse with lexie_kv_seq_cp ==== */

static void test_ref_prefix_reuse(lx_t *t) {
    /* continue in the order 2, 0, 1 so no sequence is only "the last one" */
    static const int order[N_SEQ] = {SEQ_B2, SEQ_MAIN, SEQ_B1};
    for (int iv = 0; iv < N_VARIANTS; iv += 2) { /* llama_f32 and llama_q */
        rf_fixture f;
        lexie_ctx_params cp = rf_ctx_params(&REF, 3, 2);
        if (!fixture_open(t, &f, &VARIANTS[iv], NULL, &cp)) return;
        rf_check_prefix_sharing(t, &f, order, VARIANTS[iv].tol);
        rf_close(&f);
    }
}

/* ==== (4) two sequences in one batch ==== */

static void test_ref_batch_two_seqs(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv += 2) {
        rf_fixture f;
        lexie_ctx_params cp = rf_ctx_params(&REF, 2, 2);
        if (!fixture_open(t, &f, &VARIANTS[iv], NULL, &cp)) return;
        rf_check_two_seqs(t, &f, SEQ_MAIN, SEQ_B1, VARIANTS[iv].tol, TOL_SAME);
        rf_close(&f);
    }
}

/* ==== (5) scoring and (6) restricted next-token distribution ==== */

static void test_ref_score_continuations(lx_t *t) {
    rf_fixture f;
    lexie_ctx_params cp = rf_ctx_params(&REF, 4, 2);
    lexie_error e;
    if (!fixture_open(t, &f, &VARIANTS[0], NULL, &cp)) return;
    int p = f.rt.prefix;
    /* continuations: the three tails, and main's first continuation token */
    const lexie_token *conts[4];
    int n_conts[4], src[4] = {SEQ_B1, SEQ_MAIN, SEQ_B2, SEQ_MAIN};
    double expect[4];
    for (int k = 0; k < 4; k++) {
        int s = src[k];
        conts[k] = f.rt.ids[s] + p;
        n_conts[k] = k == 3 ? 1 : f.rt.n[s] - p;
        expect[k] = 0;
        for (int i = 0; i < n_conts[k]; i++)
            expect[k] += ref_logprob(f.ref[s] + (size_t)(p - 1 + i) * (size_t)f.n_vocab, f.n_vocab,
                                     conts[k][i]);
    }
    /* round 0 on an empty cache; round 1 reuses the cached prompt; round 2
    ** after another prompt has taken over seq 0 */
    double first[4] = {0};
    for (int round = 0; round < 3; round++) {
        double out[4] = {0};
        if (round == 2) {
            lexie_token cand = 1;
            float pr;
            LX_REQUIRE(t, lexie_next_token_probs(f.c, f.rt.ids[SEQ_B2], f.rt.n[SEQ_B2], &cand, 1,
                                                 &pr, NULL, &e) == LEXIE_OK);
        }
        LX_REQUIRE(t, lexie_score_continuations(f.c, f.rt.ids[SEQ_MAIN], p, conts, n_conts, 4, out,
                                                &e) == LEXIE_OK);
        for (int k = 0; k < 4; k++) {
            /* each token's log-prob is off by at most ~2 x TOL_F32 */
            LX_CHECK_CLOSE(t, out[k], expect[k], 2 * TOL_F32 * n_conts[k]);
            if (round == 0)
                first[k] = out[k];
            else
                LX_CHECK_CLOSE(t, out[k], first[k], 1e-4);
        }
    }
    rf_close(&f);
}

static void test_ref_next_token_probs(lx_t *t) {
    rf_fixture f;
    lexie_ctx_params cp = rf_ctx_params(&REF, 2, 2);
    lexie_error e;
    if (!fixture_open(t, &f, &VARIANTS[0], NULL, &cp)) return;
    const lexie_token cand[5] = {5, 17, 100, f.n_vocab - 1, f.rt.ids[SEQ_MAIN][20]};
    /* prompts in an order that grows, shrinks and diverges the cached prefix */
    struct {
        int seq, n;
    } prompts[] = {{SEQ_MAIN, 20}, {SEQ_MAIN, 30}, {SEQ_MAIN, 10}, {SEQ_B1, 25}, {SEQ_MAIN, 40}};
    for (size_t k = 0; k < sizeof prompts / sizeof prompts[0]; k++) {
        int s = prompts[k].seq, n = prompts[k].n;
        float probs[5], lp[5];
        LX_REQUIRE(t,
                   lexie_next_token_probs(f.c, f.rt.ids[s], n, cand, 5, probs, lp, &e) == LEXIE_OK);
        const float *row = f.ref[s] + (size_t)(n - 1) * (size_t)f.n_vocab;
        double mx = -INFINITY, z = 0, sum = 0;
        for (int j = 0; j < 5; j++) mx = row[cand[j]] > mx ? row[cand[j]] : mx;
        for (int j = 0; j < 5; j++) z += exp(row[cand[j]] - mx);
        for (int j = 0; j < 5; j++) {
            /* d softmax / d logit <= 1/4 per logit; logits are within TOL_F32 */
            LX_CHECK_CLOSE(t, probs[j], exp(row[cand[j]] - mx) / z, TOL_F32);
            LX_CHECK_CLOSE(t, lp[j], ref_logprob(row, f.n_vocab, cand[j]), 2 * TOL_F32);
            sum += probs[j];
        }
        LX_CHECK_CLOSE(t, sum, 1.0, 1e-5);
    }
    /* logprob_full may be NULL */
    float probs[5];
    LX_CHECK_INT(t, lexie_next_token_probs(f.c, f.rt.ids[SEQ_MAIN], 12, cand, 5, probs, NULL, &e),
                 LEXIE_OK);
    rf_close(&f);
}

/* ==== (7) thread counts ==== */

static void test_ref_threads(lx_t *t) {
    for (int iv = 0; iv < N_VARIANTS; iv += 2) {
        rf_check_threads(t, &REF, VARIANTS[iv].stem, VARIANTS[iv].suffix, 1, 2, TOL_THREADS);
        if (t->skipped) return;
    }
}

/* ==== (8) bad inputs ==== */

static void test_ref_bad_decode(lx_t *t) {
    rf_fixture f;
    lexie_ctx_params cp = rf_ctx_params(&REF, 2, 2);
    cp.n_batch = 8;
    cp.n_ctx = 32;
    lexie_error e;
    if (!fixture_open(t, &f, &VARIANTS[0], NULL, &cp)) return;
    const lexie_token *ids = f.rt.ids[SEQ_MAIN];
    lexie_token bad[3] = {ids[0], (lexie_token)f.n_vocab, ids[1]};
    LX_CHECK_INT(t, rf_decode(f.c, bad, 3, 0, 0, 0, &e), LEXIE_E_INVALID);
    bad[1] = -1;
    LX_CHECK_INT(t, rf_decode(f.c, bad, 3, 0, 0, 0, &e), LEXIE_E_INVALID);
    LX_CHECK_INT(t, rf_decode(f.c, ids, 2, 0, 2, 0, &e), LEXIE_E_INVALID); /* seq id >= n_seq_max */
    LX_CHECK_INT(t, rf_decode(f.c, ids, 2, 0, -1, 0, &e), LEXIE_E_INVALID); /* negative seq id */
    int32_t neg_pos[2] = {0, -5};
    lexie_batch nb = {2, ids, neg_pos, NULL, NULL};
    LX_CHECK_INT(t, lexie_ctx_decode(f.c, &nb, &e), LEXIE_E_INVALID);    /* negative position */
    LX_CHECK_INT(t, rf_decode(f.c, ids, 9, 0, 0, 0, &e), LEXIE_E_RANGE); /* > n_batch */
    /* a refused batch leaves the cache untouched */
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 0), -1);
    LX_REQUIRE(t, rf_decode(f.c, ids, 4, 0, 0, 1, &e) == LEXIE_OK);
    for (int i = 0; i < 4; i++)
        rf_check_row(t, &f, lexie_ctx_logits(f.c, i), SEQ_MAIN, i, TOL_F32, "after refusals");

    /* fill the cache, then one more token */
    int n_ctx = lexie_ctx_n_ctx(f.c);
    LX_CHECK(t, n_ctx >= 32);
    lexie_kv_clear(f.c);
    int filled = 0;
    while (filled < n_ctx) {
        lexie_token chunk[8];
        int m = n_ctx - filled < 8 ? n_ctx - filled : 8;
        for (int j = 0; j < m; j++) chunk[j] = ids[(filled + j) % f.rt.n[SEQ_MAIN]];
        if (rf_decode(f.c, chunk, m, filled, 0, 0, &e) != LEXIE_OK) break;
        filled += m;
    }
    LX_CHECK_INT(t, filled, n_ctx);
    lexie_status st = rf_decode(f.c, ids, 1, filled, 0, 0, &e);
    LX_CHECK_INT(t, st, LEXIE_E_RANGE);
    st = rf_decode(f.c, ids, 1, 0, 1, 0, &e); /* another sequence: no free cell either */
    LX_CHECK_INT(t, st, LEXIE_E_RANGE);
    rf_close(&f);
}

/* The KV calls refuse a sequence or position range they cannot mean,
** change nothing when they do, and keep the last batch's logits. */
static void test_ref_kv_bad_args(lx_t *t) {
    rf_fixture f;
    lexie_ctx_params cp = rf_ctx_params(&REF, 2, 2);
    lexie_error e;
    if (!fixture_open(t, &f, &VARIANTS[0], NULL, &cp)) return;
    const lexie_token *ids = f.rt.ids[SEQ_MAIN];
    LX_REQUIRE(t, rf_decode(f.c, ids, 8, 0, 0, 1, &e) == LEXIE_OK);
    /* refused: seq past n_seq_max, p0 < 0, p1 < p0, no ctx */
    LX_CHECK_INT(t, lexie_kv_seq_rm(f.c, 2, 0, -1), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_rm(f.c, 0, -1, -1), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_rm(f.c, 0, 5, 3), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_rm(NULL, 0, 0, -1), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_cp(f.c, 0, 2, 0, -1), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_cp(f.c, 2, 1, 0, -1), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_cp(f.c, -1, 1, 0, -1), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_cp(f.c, 0, -1, 0, -1), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_cp(f.c, 0, 1, -2, 4), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_cp(f.c, 0, 1, 4, 2), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_cp(NULL, 0, 1, 0, -1), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 0), 7);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 1), -1);
    for (int i = 0; i < 8; i++)
        rf_check_row(t, &f, lexie_ctx_logits(f.c, i), SEQ_MAIN, i, TOL_F32, "after refused kv");
    /* accepted: an empty range, a copy onto itself, a partial copy and rms */
    LX_CHECK_INT(t, lexie_kv_seq_rm(f.c, 0, 3, 3), LEXIE_OK);
    LX_CHECK_INT(t, lexie_kv_seq_cp(f.c, 0, 0, 0, -1), LEXIE_OK);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 0), 7);
    LX_CHECK_INT(t, lexie_kv_seq_cp(f.c, 0, 1, 0, 4), LEXIE_OK);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 1), 3);
    LX_CHECK_INT(t, lexie_kv_seq_rm(f.c, 1, 2, -1), LEXIE_OK);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 1), 1);
    LX_CHECK_INT(t, lexie_kv_seq_rm(f.c, -1, 6, -1), LEXIE_OK); /* every sequence */
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 0), 5);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f.c, 1), 1);
    /* seq 0 goes on from position 6 on the cells it kept */
    LX_REQUIRE(t, rf_decode(f.c, ids + 6, 4, -1, 0, 1, &e) == LEXIE_OK);
    for (int i = 0; i < 4; i++)
        rf_check_row(t, &f, lexie_ctx_logits(f.c, i), SEQ_MAIN, 6 + i, TOL_F32, "after kv rm");
    rf_close(&f);
}

static void test_ref_bad_files(lx_t *t) {
    char path[1024];
    lexie_error e;
    rf_path(path, sizeof path, "no_such_dir/missing.gguf");
    LX_CHECK(t, lexie_model_load(path, NULL, &e) == NULL);
    LX_CHECK_INT(t, e.code, LEXIE_E_IO);
    LX_CHECK_MSG(t, strstr(e.message, path) != NULL, "message lacks the path: %s", e.message);

    int n = 0;
    n += rf_expect_load_error(t, "arch_foo.gguf", LEXIE_E_UNSUPPORTED, LEXIE_E_UNSUPPORTED, "foo");
    /* a required tensor that is absent: "no such tensor" or "malformed file" */
    n += rf_expect_load_error(t, "missing_tensor.gguf", LEXIE_E_NOT_FOUND, LEXIE_E_FORMAT,
                              "blk.1.ffn_up.weight");
    n += rf_expect_load_error(t, "bad_shape.gguf", LEXIE_E_FORMAT, LEXIE_E_FORMAT,
                              "blk.0.attn_k.weight");
    if (n < 3) LX_SKIP(t, "malformed-model fixtures missing in %s", lx_test_fixtures());
}

/* ==== Absurd float hyperparameters ==== */

/* Copies fixture src to dst with key set to the float v (added when
** absent), or, when key names a tensor ("rope_freqs.weight"), with that F32
** tensor's element 0 set to v.  Returns 0 after a failure (recorded). */
static int write_variant(lx_t *t, const char *src, const char *dst, const char *key, float v) {
    char path[1024];
    lexie_error e = {LEXIE_OK, ""};
    rf_path(path, sizeof path, src);
    lx_gguf *g = lx_gguf_open(path, &e);
    if (!g) {
        lx_test_fail(t, __FILE__, __LINE__, "open %s: %s", src, e.message);
        return 0;
    }
    lx_gguf_writer *w = lx_gguf_writer_new(&e);
    int ok = w != NULL, set = 0;
    for (int64_t i = 0; ok && i < lx_gguf_n_kv(g); i++) {
        const lx_gguf_kv *kv = lx_gguf_kv_at(g, i);
        if (strcmp(kv->key, key) == 0) {
            ok = !lx_gguf_writer_set_f32(w, key, v, &e);
            set = 1;
        } else {
            ok = !lx_gguf_writer_set_value(w, kv->key, &kv->value, &e);
        }
    }
    for (int64_t i = 0; ok && i < lx_gguf_n_tensors(g); i++) {
        const lx_gguf_tensor *gt = lx_gguf_tensor_at(g, i);
        void *data = malloc(gt->nbytes);
        ok = data != NULL;
        if (ok) memcpy(data, gt->data, gt->nbytes);
        if (ok && strcmp(gt->name, key) == 0) {
            memcpy(data, &v, sizeof v);
            set = 1;
        }
        ok = ok && !lx_gguf_writer_add_tensor(w, gt->name, gt->type, gt->n_dims, gt->ne, data, &e);
        free(data);
    }
    if (ok && !set) ok = !lx_gguf_writer_set_f32(w, key, v, &e);
    ok = ok && !lx_gguf_writer_write(w, dst, &e);
    if (!ok) lx_test_fail(t, __FILE__, __LINE__, "variant of %s (%s): %s", src, key, e.message);
    lx_gguf_writer_free(w);
    lx_gguf_close(g);
    return ok;
}

/* NaN, zero, negative or infinite float hyperparameters once loaded and
** gave NaN logits (empty output, exit 0).  Each fixture architecture's
** copy with one bad value must be refused at load, naming the key. */
static void test_ref_bad_float_hparams(lx_t *t) {
    static const struct {
        const char *file, *key;
        float v;
        const char *needle;
    } cases[] = {
        {"llama_f32.gguf", "llama.rope.freq_base", NAN, "'llama.rope.freq_base' = nan"},
        {"llama_f32.gguf", "llama.rope.freq_base", 0.0f, "'llama.rope.freq_base' = 0"},
        {"llama_f32.gguf", "llama.rope.freq_base", -10000.0f, "'llama.rope.freq_base' = -10000"},
        {"llama_f32.gguf", "llama.attention.layer_norm_rms_epsilon", -1e-5f,
         "'llama.attention.layer_norm_rms_epsilon' = -1e-05 is out of range (want > 0)"},
        {"llama_f32.gguf", "llama.attention.layer_norm_rms_epsilon", 0.0f,
         "'llama.attention.layer_norm_rms_epsilon' = 0"},
        {"llama_f32.gguf", "llama.attention.layer_norm_rms_epsilon", INFINITY,
         "'llama.attention.layer_norm_rms_epsilon' = inf is not a finite number"},
        {"llama_f32.gguf", "llama.attention.layer_norm_rms_epsilon", NAN,
         "'llama.attention.layer_norm_rms_epsilon' = nan"},
        {"llama_f32.gguf", "llama.rope.scaling.factor", NAN, "'llama.rope.scaling.factor' = nan"},
        {"llama_f32.gguf", "llama.rope.scaling.factor", -2.0f, "'llama.rope.scaling.factor' = -2"},
        {"llama_f32.gguf", "llama.attn_logit_softcapping", -1.0f,
         "'llama.attn_logit_softcapping' = -1"},
        {"llama_f32.gguf", "llama.some_future_float", NAN, "'llama.some_future_float' = nan"},
        {"qwen2_f32.gguf", "qwen2.rope.freq_base", INFINITY, "'qwen2.rope.freq_base' = inf"},
        {"qwen2_f32.gguf", "qwen2.attention.layer_norm_rms_epsilon", 0.0f,
         "'qwen2.attention.layer_norm_rms_epsilon' = 0"},
        {"qwen3_f32.gguf", "qwen3.rope.freq_base", -1.0f, "'qwen3.rope.freq_base' = -1"},
        {"qwen3_f32.gguf", "qwen3.attention.layer_norm_rms_epsilon", NAN,
         "'qwen3.attention.layer_norm_rms_epsilon' = nan"},
        {"gemma3_f32.gguf", "gemma3.rope.freq_base", 0.0f, "'gemma3.rope.freq_base' = 0"},
        {"gemma3_f32.gguf", "gemma3.final_logit_softcapping", NAN,
         "'gemma3.final_logit_softcapping' = nan"},
        {"gemma3_f32.gguf", "gemma3.final_logit_softcapping", -30.0f,
         "'gemma3.final_logit_softcapping' = -30"},
        {"gemma3_f32.gguf", "gemma3.attention.layer_norm_rms_epsilon", -1.0f,
         "'gemma3.attention.layer_norm_rms_epsilon' = -1"},
        {"rope_freqs.gguf", "rope_freqs.weight", NAN, "'rope_freqs.weight' element 0 = nan"},
        {"rope_freqs.gguf", "rope_freqs.weight", 0.0f, "'rope_freqs.weight' element 0 = 0"},
    };
    char probe[1024];
    rf_path(probe, sizeof probe, "gemma3_f32.gguf");
    if (access(probe, R_OK) != 0) LX_SKIP(t, "fixtures missing in %s", lx_test_fixtures());
    char dir[] = "/tmp/lexie-hparams-XXXXXX", dst[64];
    LX_REQUIRE(t, mkdtemp(dir) != NULL);
    snprintf(dst, sizeof dst, "%s/m.gguf", dir);
    lexie_error e;
    /* The copy itself loads when the value is sane: the refusals below are
    ** the value's doing, not the copy's. */
    if (write_variant(t, "llama_f32.gguf", dst, "llama.rope.freq_base", 10000.0f)) {
        lexie_model *m = lexie_model_load(dst, NULL, &e);
        LX_CHECK_MSG(t, m != NULL, "sane copy refused: %s", e.message);
        lexie_model_free(m);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!write_variant(t, cases[i].file, dst, cases[i].key, cases[i].v)) continue;
        memset(&e, 0, sizeof e);
        lexie_model *m = lexie_model_load(dst, NULL, &e);
        LX_CHECK_MSG(t, m == NULL, "%s with %s = %g loaded", cases[i].file, cases[i].key,
                     (double)cases[i].v);
        lexie_model_free(m);
        LX_CHECK_MSG(t, e.code == LEXIE_E_FORMAT, "%s: code %d: %s", cases[i].key, e.code,
                     e.message);
        LX_CHECK_MSG(t, strstr(e.message, cases[i].needle) != NULL, "message lacks \"%s\": %s",
                     cases[i].needle, e.message);
    }
    unlink(dst);
    rmdir(dir);
}

void suite_model_ref(void) {
    LX_RUN(test_ref_model_facts);
    LX_RUN(test_ref_prefill);
    LX_RUN(test_ref_quant_vs_float);
    LX_RUN(test_ref_logits_flags);
    LX_RUN(test_ref_token_by_token);
    LX_RUN(test_ref_prefix_reuse);
    LX_RUN(test_ref_batch_two_seqs);
    LX_RUN(test_ref_score_continuations);
    LX_RUN(test_ref_next_token_probs);
    LX_RUN(test_ref_threads);
    LX_RUN(test_ref_bad_decode);
    LX_RUN(test_ref_kv_bad_args);
    LX_RUN(test_ref_bad_files);
    LX_RUN(test_ref_bad_float_hparams);
}
