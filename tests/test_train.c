/*
** test_train.c -- the training forward and backward passes: the fp32
** product, every op's gradient against central finite differences, the
** training forward's logits against the NumPy reference, and whole-model
** gradients (token embeddings, LoRA A and B of every projection) against
** finite differences of the loss, on the tiny llama and qwen2 fixtures
** (float, quantized, tied).
**
** Finite differences run on the fp32 code itself: (L(x + h) - L(x - h)) /
** 2h, the loss summed in double.  Their error is about h^2 (curvature)
** plus 1e-7 |L| / h (float rounding of the forward).  Each check reports
** the largest |fd - analytic| over the probed entries, relative to the
** largest |analytic| among them (REL); the tolerances below are a few
** times what was measured (shown with LX_TEST_VERBOSE=1) and far below
** what a wrong gradient gives (a sign, a missing term or a transposed
** index each give relative errors of 0.3 or more).
*/
#include "lexie.h"
#include "lx_test.h"
#include "ref_fixture.h"
#include "train/train.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOL_GEMM 1e-5       /* fp32 product vs double, relative to sum |a b| */
#define TOL_OP 2e-3         /* op gradients, relative (measured below 3e-4) */
#define TOL_MODEL 1e-2      /* whole-model gradients, relative (measured below 2e-3) */
#define TOL_REF_LOGITS 1e-4 /* training forward vs the NumPy float reference (measured 2.6e-5) */

static uint64_t rng_state = 12345;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 11) * 0x1p-53 * 2.0 - 1.0);
}
static void fill(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] = s * frand();
}
static void verbose(const char *what, double v) {
    if (getenv("LX_TEST_VERBOSE")) fprintf(stderr, "     %s: %.3g\n", what, v);
}

/* ==== The product ==== */

static void gemm_case(lx_t *t, lx_pool *pool, int M, int N, int K, int trans_a, float beta) {
    int lda = trans_a ? M + 3 : K + 5, ldb = N + 7, ldc = N + 2;
    float *A = malloc(sizeof(float) * (size_t)(trans_a ? K : M) * lda);
    float *B = malloc(sizeof(float) * (size_t)K * ldb);
    float *C = malloc(sizeof(float) * (size_t)M * ldc);
    float *C0 = malloc(sizeof(float) * (size_t)M * ldc);
    fill(A, (size_t)(trans_a ? K : M) * lda, 1.0f);
    fill(B, (size_t)K * ldb, 1.0f);
    fill(C, (size_t)M * ldc, 1.0f);
    memcpy(C0, C, sizeof(float) * (size_t)M * ldc);
    ptrdiff_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    lx_tgemm(pool, M, N, K, 0.5f, A, rsa, csa, B, ldb, beta, C, ldc);
    double worst = 0.0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0, mag = 0.0;
            for (int k = 0; k < K; k++) {
                double p = (double)A[i * rsa + k * csa] * B[(size_t)k * ldb + j];
                s += p;
                mag += fabs(p);
            }
            double want = (beta != 0.0f ? C0[(size_t)i * ldc + j] : 0.0) + 0.5 * s;
            double e = fabs(C[(size_t)i * ldc + j] - want) / (0.5 * mag + 1.0);
            worst = e > worst ? e : worst;
        }
    LX_CHECK_MSG(t, worst <= TOL_GEMM, "gemm %dx%dx%d trans %d: rel err %g", M, N, K, trans_a,
                 worst);
    /* The padding past each row of C is untouched. */
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++)
            LX_CHECK(t, C[(size_t)i * ldc + j] == C0[(size_t)i * ldc + j]);
    free(A);
    free(B);
    free(C);
    free(C0);
}

/* bf16 rounding, nearest even, as the bf16 kernel packs its operands. */
static double bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

/* The bf16 kernel (where the CPU has AVX-512 BF16): within fp32 summation
** error of the exact product of the bf16-rounded operands, and within
** bf16's precision (2^-7 of sum |a b|) of the fp32 product. */
static void test_gemm_bf16(lx_t *t) {
    lx_tgemm_fn bf = lx_tgemm_avx512bf16_get();
    if (!bf) {
        LX_SKIP(t, "no AVX-512 BF16 on this CPU");
    }
    static const int shapes[][3] = {{1, 1, 1},    {3, 5, 7},      {4, 64, 16},   {5, 65, 300},
                                    {17, 16, 33}, {64, 200, 257}, {130, 20, 513}};
    double worst = 0.0, worst32 = 0.0;
    for (size_t sh = 0; sh < LX_ARRAY_LEN(shapes); sh++)
        for (int tr = 0; tr < 2; tr++) {
            int M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2];
            int lda = tr ? M + 3 : K + 5, ldb = N + 7, ldc = N + 2;
            float *A = malloc(sizeof(float) * (size_t)(tr ? K : M) * lda);
            float *B = malloc(sizeof(float) * (size_t)K * ldb);
            float *C = calloc((size_t)M * ldc, sizeof(float));
            LX_REQUIRE(t, A && B && C);
            fill(A, (size_t)(tr ? K : M) * lda, 1.0f);
            fill(B, (size_t)K * ldb, 1.0f);
            ptrdiff_t rsa = tr ? 1 : lda, csa = tr ? lda : 1;
            bf(M, N, K, 0.5f, A, rsa, csa, B, ldb, C, ldc);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0.0, s32 = 0.0, mag = 0.0;
                    for (int k = 0; k < K; k++) {
                        float a = A[i * rsa + k * csa], b = B[(size_t)k * ldb + j];
                        s += bf16_round(a) * bf16_round(b);
                        s32 += (double)a * b;
                        mag += fabs((double)a * b);
                    }
                    double c = C[(size_t)i * ldc + j];
                    worst = fmax(worst, fabs(c - 0.5 * s) / (0.5 * mag + 1.0));
                    worst32 = fmax(worst32, fabs(c - 0.5 * s32) / (0.5 * mag + 1.0));
                }
            for (int i = 0; i < M; i++) /* the padding past each row is untouched */
                for (int j = N; j < ldc; j++) LX_CHECK(t, C[(size_t)i * ldc + j] == 0.0f);
            free(A);
            free(B);
            free(C);
        }
    verbose("bf16 kernel vs exact product of bf16 operands", worst);
    verbose("bf16 kernel vs fp32 operands", worst32);
    LX_CHECK_MSG(t, worst <= TOL_GEMM, "bf16 gemm: rel err %g against its own operands", worst);
    LX_CHECK_MSG(t, worst32 <= 0x1p-7, "bf16 gemm: rel err %g against fp32", worst32);
}

static void test_gemm(lx_t *t) {
    lexie_error e;
    lx_pool *pool = lx_pool_new(2, &e);
    LX_REQUIRE(t, pool);
    static const int shapes[][3] = {{1, 1, 1},   {3, 5, 7},     {4, 64, 16},   {5, 65, 300},
                                    {17, 16, 1}, {64, 200, 33}, {130, 20, 513}};
    /* The best ISA's kernel, then the plain-C one. */
    const int isas[2] = {(int)lx_isa_best(), LX_ISA_SCALAR};
    for (int ii = 0; ii < 2; ii++) {
        lx_isa_override(isas[ii]);
        for (size_t s = 0; s < LX_ARRAY_LEN(shapes); s++)
            for (int tr = 0; tr < 2; tr++) {
                gemm_case(t, pool, shapes[s][0], shapes[s][1], shapes[s][2], tr, 0.0f);
                gemm_case(t, NULL, shapes[s][0], shapes[s][1], shapes[s][2], tr, 1.0f);
            }
    }
    lx_isa_override(-1);
    lx_pool_free(pool);
}

/* Dropout: about p of the elements zeroed, the rest scaled by 1 / (1 - p)
** exactly, and the same bits from the AVX-512 lanes as from the plain loop,
** tails included. */
static void test_dropout(lx_t *t) {
    enum { N = 100003 };
    float *src = malloc(sizeof(float) * N), *a = malloc(sizeof(float) * N);
    float *b = malloc(sizeof(float) * N);
    LX_REQUIRE(t, src && a && b);
    fill(src, N, 1.0f);
    static const size_t lens[] = {0, 1, 7, 8, 9, 1000, N};
    static const float ps[] = {0.05f, 0.5f};
    for (size_t pi = 0; pi < LX_ARRAY_LEN(ps); pi++)
        for (size_t li = 0; li < LX_ARRAY_LEN(lens); li++) {
            const size_t n = lens[li];
            lx_isa_override(LX_ISA_SCALAR);
            lx_tdropout(0x1234 + li, ps[pi], src, a, n);
            lx_isa_override((int)lx_isa_best());
            lx_tdropout(0x1234 + li, ps[pi], src, b, n);
            LX_CHECK_MSG(t, n == 0 || memcmp(a, b, n * sizeof *a) == 0, "p %g, n %zu", ps[pi], n);
            if (n != N) continue;
            size_t zeros = 0, bad = 0;
            for (size_t i = 0; i < n; i++) {
                if (a[i] == 0.0f && src[i] != 0.0f)
                    zeros++;
                else if (a[i] != src[i] * (1.0f / (1.0f - ps[pi])))
                    bad++;
            }
            LX_CHECK_INT(t, (int)bad, 0);
            LX_CHECK_MSG(t, fabs((double)zeros / n - ps[pi]) < 0.01, "dropped %zu of %zu at p %g",
                         zeros, n, ps[pi]);
        }
    lx_isa_override(-1);
    free(src), free(a), free(b);
}

/* ==== Op gradients ==== */

/* y = f(x); the loss is sum(g * y), so dL/dy = g. */
typedef struct op_case {
    int nx, ny;
    void (*fwd)(struct op_case *c, const float *x, float *y);
    void (*bwd)(struct op_case *c, const float *x, const float *g, float *dx);
    /* op parameters */
    int n, d, nh, nkv, hd, neox;
    float *w, *rc;
    lx_tatt att;
    int32_t start[4];
    float *P, *scr;
} op_case;

static double loss_of(op_case *c, const float *x, const float *g, float *y) {
    c->fwd(c, x, y);
    double s = 0.0;
    for (int i = 0; i < c->ny; i++) s += (double)g[i] * y[i];
    return s;
}

/* Max relative error of the analytic dx over every input. */
static double op_check(op_case *c, double h) {
    float *x = malloc(sizeof(float) * c->nx), *g = malloc(sizeof(float) * c->ny);
    float *y = malloc(sizeof(float) * c->ny), *dx = calloc(c->nx, sizeof(float));
    fill(x, c->nx, 1.0f);
    fill(g, c->ny, 1.0f);
    c->fwd(c, x, y);
    c->bwd(c, x, g, dx);
    double worst = 0.0, big = 0.0;
    for (int i = 0; i < c->nx; i++) big = fabs(dx[i]) > big ? fabs(dx[i]) : big;
    for (int i = 0; i < c->nx; i++) {
        float x0 = x[i];
        x[i] = x0 + (float)h;
        double lp = loss_of(c, x, g, y);
        x[i] = x0 - (float)h;
        double lm = loss_of(c, x, g, y);
        x[i] = x0;
        double fd = (lp - lm) / (2.0 * h), e = fabs(fd - dx[i]) / big;
        worst = e > worst ? e : worst;
    }
    free(x);
    free(g);
    free(y);
    free(dx);
    return worst;
}

static void rms_f(op_case *c, const float *x, float *y) {
    float r[8];
    lx_trms_fwd(x, c->w, y, r, c->n, c->d, 1e-5f);
}
static void rms_b(op_case *c, const float *x, const float *g, float *dx) {
    float r[8], *y = malloc(sizeof(float) * c->n * c->d);
    lx_trms_fwd(x, c->w, y, r, c->n, c->d, 1e-5f);
    lx_trms_bwd(x, c->w, r, g, dx, c->n, c->d);
    free(y);
}

static void rope_f(op_case *c, const float *x, float *y) {
    memcpy(y, x, sizeof(float) * c->nx);
    lx_trope(y, c->rc, c->n, c->nh, c->hd, c->hd, c->neox, 0);
}
static void rope_b(op_case *c, const float *x, const float *g, float *dx) {
    (void)x;
    memcpy(dx, g, sizeof(float) * c->nx);
    lx_trope(dx, c->rc, c->n, c->nh, c->hd, c->hd, c->neox, 1);
}

static void swiglu_f(op_case *c, const float *x, float *y) {
    lx_tswiglu_fwd(x, x + c->ny, y, c->ny);
}
static void swiglu_b(op_case *c, const float *x, const float *g, float *dx) {
    lx_tswiglu_bwd(x, x + c->ny, g, dx, dx + c->ny, c->ny);
}

/* x = q | k | v of n tokens in two sequences. */
static void att_f(op_case *c, const float *x, float *y) {
    int qd = c->nh * c->hd, kvd = c->nkv * c->hd;
    const float *q = x, *k = x + c->n * qd, *v = k + c->n * kvd;
    lx_tatt_fwd(NULL, &c->att, q, k, v, c->P, y, c->scr);
}
static void att_b(op_case *c, const float *x, const float *g, float *dx) {
    int qd = c->nh * c->hd, kvd = c->nkv * c->hd;
    const float *q = x, *k = x + c->n * qd, *v = k + c->n * kvd;
    float *y = malloc(sizeof(float) * c->ny);
    lx_tatt_fwd(NULL, &c->att, q, k, v, c->P, y, c->scr);
    lx_tatt_bwd(NULL, &c->att, q, k, v, c->P, g, dx, dx + c->n * qd, dx + c->n * qd + c->n * kvd,
                c->scr);
    free(y);
}

static void ce_f(op_case *c, const float *x, float *y) {
    float *z = malloc(sizeof(float) * c->nx);
    memcpy(z, x, sizeof(float) * c->nx);
    y[0] = (float)lx_tce_row(z, c->nx, 3, 1.0f, NULL);
    free(z);
}
static void ce_b(op_case *c, const float *x, const float *g, float *dx) {
    memcpy(dx, x, sizeof(float) * c->nx);
    lx_tce_row(dx, c->nx, 3, g[0], dx);
}

static void test_op_grads(lx_t *t) {
    double e;
    op_case c;
    /* RMSNorm with a weight. */
    memset(&c, 0, sizeof c);
    float w[24];
    fill(w, 24, 1.0f);
    c = (op_case){.nx = 3 * 24, .ny = 3 * 24, .fwd = rms_f, .bwd = rms_b, .n = 3, .d = 24, .w = w};
    e = op_check(&c, 1e-2);
    verbose("rmsnorm rel err", e);
    LX_CHECK_MSG(t, e < TOL_OP, "rmsnorm: %g", e);

    /* RoPE, pairs and NeoX halves, positions 0..4 of a real cache. */
    float rc[5 * 8];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) {
            float th = (float)i * powf(10000.0f, -2.0f * j / 8.0f);
            rc[i * 8 + 2 * j] = cosf(th);
            rc[i * 8 + 2 * j + 1] = sinf(th);
        }
    for (int neox = 0; neox < 2; neox++) {
        c = (op_case){.nx = 5 * 2 * 8,
                      .ny = 5 * 2 * 8,
                      .fwd = rope_f,
                      .bwd = rope_b,
                      .n = 5,
                      .nh = 2,
                      .hd = 8,
                      .neox = neox,
                      .rc = rc};
        e = op_check(&c, 1e-2);
        verbose(neox ? "rope neox rel err" : "rope rel err", e);
        LX_CHECK_MSG(t, e < TOL_OP, "rope (neox %d): %g", neox, e);
    }

    /* SwiGLU. */
    c = (op_case){.nx = 2 * 40, .ny = 40, .fwd = swiglu_f, .bwd = swiglu_b};
    e = op_check(&c, 1e-2);
    verbose("swiglu rel err", e);
    LX_CHECK_MSG(t, e < TOL_OP, "swiglu: %g", e);

    /* Attention: 4 query heads over 2 kv heads, two packed sequences. */
    c = (op_case){.n = 9, .nh = 4, .nkv = 2, .hd = 8};
    c.start[0] = 0;
    c.start[1] = 5;
    c.start[2] = 9;
    c.att = (lx_tatt){2, c.start, 4, 2, 8, 1.0f / sqrtf(8.0f), 5};
    c.nx = 9 * (32 + 16 + 16);
    c.ny = 9 * 32;
    c.fwd = att_f;
    c.bwd = att_b;
    c.P = malloc(sizeof(float) * lx_tatt_probs(&c.att));
    c.scr = malloc(sizeof(float) * lx_tatt_scratch(5, 8));
    e = op_check(&c, 1e-2);
    verbose("attention rel err", e);
    LX_CHECK_MSG(t, e < TOL_OP, "attention: %g", e);
    free(c.P);
    free(c.scr);

    /* Cross-entropy. */
    c = (op_case){.nx = 50, .ny = 1, .fwd = ce_f, .bwd = ce_b};
    e = op_check(&c, 1e-2);
    verbose("cross-entropy rel err", e);
    LX_CHECK_MSG(t, e < TOL_OP, "cross-entropy: %g", e);
}

/* ==== Whole models ==== */

enum { SEQ_MAIN, SEQ_B1, SEQ_B2, N_SEQ };
static const char *const SEQ_NAMES[N_SEQ] = {"main", "branch1", "branch2"};
static const rf_set LLAMA = {"ref_tokens.txt", SEQ_NAMES, N_SEQ, 0, 256, 128};
static const rf_set QWEN = {"qwen_tokens.txt", SEQ_NAMES, N_SEQ, 0, 256, 128};

typedef struct model_case {
    const char *stem;
    const rf_set *set;
} model_case;

static const model_case MODELS[] = {
    {"llama_f32", &LLAMA}, {"llama_q", &LLAMA}, {"llama_tied", &LLAMA},
    {"qwen2_f32", &QWEN},  {"qwen2_q", &QWEN},
};

/* The training forward's logits equal the NumPy reference's (float
** activations times the dequantized weights: what training computes). */
static void test_forward_vs_reference(lx_t *t) {
    lexie_error e;
    for (size_t mi = 0; mi < LX_ARRAY_LEN(MODELS); mi++) {
        rf_fixture f;
        if (!rf_open(t, &f, MODELS[mi].set, MODELS[mi].stem, "bin", NULL)) return;
        int n = f.rt.n[SEQ_MAIN], V = f.n_vocab;
        lx_tnet *net = lx_tnet_new(f.m, NULL, NULL, n, n, 0.0f, 1, 2, 1, &e);
        LX_REQUIRE(t, net);
        int32_t start[2] = {0, n};
        int8_t *tg = calloc(n, 1);
        lx_tbatch b = {n, f.rt.ids[SEQ_MAIN], 1, start, tg, NULL, NULL};
        float *z = malloc(sizeof(float) * (size_t)n * V);
        lx_tnet_logits(net, &b, NULL, z);
        double worst = 0.0;
        for (int i = 0; i < n; i++)
            worst = fmax(worst, rf_check_ref_row(t, &f, z + (size_t)i * V, f.ref[SEQ_MAIN], i,
                                                 TOL_REF_LOGITS, "train fwd"));
        rf_report("train forward vs reference", MODELS[mi].stem, worst);
        free(z);
        free(tg);
        lx_tnet_free(net);
        rf_close(&f);
    }
}

/* A batch of two packed sequences from the fixture's tokens, targets on
** most positions. */
typedef struct gbatch {
    int32_t tok[64], start[3];
    int8_t tg[64];
    lx_tbatch b;
} gbatch;

static void make_batch(const rf_fixture *f, gbatch *g) {
    int n1 = 7, n2 = 6;
    for (int i = 0; i < n1; i++) g->tok[i] = f->rt.ids[SEQ_MAIN][i];
    for (int i = 0; i < n2; i++) g->tok[n1 + i] = f->rt.ids[SEQ_B1][20 + i];
    g->start[0] = 0;
    g->start[1] = n1;
    g->start[2] = n1 + n2;
    for (int i = 0; i < n1 + n2; i++)
        g->tg[i] = (int8_t)(i != n1 - 1 && i != n1 + n2 - 1 && i != 2);
    g->b = (lx_tbatch){n1 + n2, g->tok, 2, g->start, g->tg, NULL, NULL};
}

/* The error of probed analytic gradients against central differences of
** the loss in the parameters p[idx[i]], relative to the largest |an| of
** the whole tensor (n_an entries). */
static double fd_params(lx_tnet *net, const lx_tbatch *b, float *p, const float *an, int n_an,
                        const int *idx, int n_idx, double h) {
    double worst = 0.0, big = 0.0;
    for (int i = 0; i < n_an; i++) big = fmax(big, fabs(an[i]));
    for (int i = 0; i < n_idx; i++) {
        float v = p[idx[i]];
        p[idx[i]] = v + (float)h;
        double lp = lx_tnet_run(net, b, 0, 0, 1.0f, NULL);
        p[idx[i]] = v - (float)h;
        double lm = lx_tnet_run(net, b, 0, 0, 1.0f, NULL);
        p[idx[i]] = v;
        worst = fmax(worst, fabs((lp - lm) / (2.0 * h) - an[idx[i]]) / big);
    }
    return big > 0.0 ? worst : INFINITY;
}

static void model_grads(lx_t *t, const model_case *mc) {
    lexie_error e;
    rf_fixture f;
    if (!rf_open(t, &f, mc->set, mc->stem, "bin", NULL)) return;
    gbatch g;
    make_batch(&f, &g);
    int d = lexie_model_n_embd(f.m), n = g.b.n_tokens;
    lexie_adapter *lora = lx_lora_new(f.m, 4, 8.0f, 0x7f, &e);
    lexie_adapter *grad = lora ? lx_lora_new_like(lora, &e) : NULL;
    LX_REQUIRE(t, lora && grad);
    /* B nonzero, or every gradient of A would be zero. */
    rng_state = 99;
    fill(lora->mem, lora->n_params, 0.3f);
    lx_tnet *net = lx_tnet_new(f.m, lora, grad, 32, 16, 0.0f, 7, 2, 1, &e);
    LX_REQUIRE(t, net);
    LX_REQUIRE(t, lx_tnet_check(net, &g.b, &e) == LEXIE_OK);
    float *dx0 = malloc(sizeof(float) * (size_t)n * d), *x0 = malloc(sizeof(float) * (size_t)n * d);
    double loss = lx_tnet_run(net, &g.b, 0, 1, 1.0f, dx0);
    LX_CHECK(t, isfinite(loss) && loss > 0.0);

    /* LoRA A and B of every projection of every layer: 3 entries each. */
    int idx[3];
    double worst = 0.0;
    for (int il = 0; il < f.m->hp.n_layer; il++)
        for (int tg = 0; tg < LX_LORA_N_TARGET; tg++) {
            lx_lora_pair *p = lx_lora_at(lora, il, tg), *gp = lx_lora_at(grad, il, tg);
            for (int half = 0; half < 2; half++) {
                float *pv = half ? p->b : p->a, *gv = half ? gp->b : gp->a;
                int cnt = p->rank * (half ? p->n_out : p->n_in);
                for (int k = 0; k < 3; k++) idx[k] = (k * 7919 + il * 31 + tg * 17) % cnt;
                double err = fd_params(net, &g.b, pv, gv, cnt, idx, 3, 1e-2);
                LX_CHECK_MSG(t, err < TOL_MODEL, "%s: layer %d %s lora_%c rel err %g", mc->stem, il,
                             lx_lora_target_name(tg), half ? 'b' : 'a', err);
                worst = fmax(worst, err);
            }
        }
    rf_report("lora A/B grads rel err", mc->stem, worst);

    /* The token embeddings: the gradient that reaches them has passed back
    ** through every op of every layer. */
    const lx_tensor *te = &f.m->tok_embd;
    size_t row = lx_row_size(te->type, d);
    for (int i = 0; i < n; i++)
        lx_type_traits_get(te->type)->to_float((const char *)te->data + (size_t)g.tok[i] * row,
                                               x0 + (size_t)i * d, d);
    double wx = 0.0, big = 0.0;
    for (int i = 0; i < n * d; i++) big = fmax(big, fabs(dx0[i]));
    for (int k = 0; k < 24; k++) {
        int i = (k * 7919 + 13) % (n * d);
        float v = x0[i];
        x0[i] = v + 3e-3f;
        double lp = lx_tnet_run_x0(net, &g.b, x0, 0, 1.0f, NULL);
        x0[i] = v - 3e-3f;
        double lm = lx_tnet_run_x0(net, &g.b, x0, 0, 1.0f, NULL);
        x0[i] = v;
        wx = fmax(wx, fabs((lp - lm) / 6e-3 - dx0[i]) / big);
    }
    rf_report("embedding grads rel err", mc->stem, wx);
    LX_CHECK_MSG(t, wx < TOL_MODEL, "%s: embedding gradient rel err %g", mc->stem, wx);

    /* Without checkpointing (every layer's activations kept, no recompute)
    ** the same numbers come out, bit for bit. */
    lexie_adapter *grad2 = lx_lora_new_like(lora, &e);
    lx_tnet *net2 = grad2 ? lx_tnet_new(f.m, lora, grad2, 32, 16, 0.0f, 7, 2, 0, &e) : NULL;
    LX_REQUIRE(t, net2);
    memset(grad->mem, 0, sizeof(float) * grad->n_params);
    float *dx1 = malloc(sizeof(float) * (size_t)n * d);
    double l1 = lx_tnet_run(net, &g.b, 0, 1, 1.0f, dx0);
    double l2 = lx_tnet_run(net2, &g.b, 0, 1, 1.0f, dx1);
    LX_CHECK(t, l1 == l2);
    LX_CHECK(t, memcmp(grad->mem, grad2->mem, sizeof(float) * grad->n_params) == 0);
    LX_CHECK(t, memcmp(dx0, dx1, sizeof(float) * (size_t)n * d) == 0);
    free(dx1);
    lx_tnet_free(net2);
    lexie_adapter_free(grad2);
    free(dx0);
    free(x0);
    lx_tnet_free(net);
    lexie_adapter_free(lora);
    lexie_adapter_free(grad);
    rf_close(&f);
}

static void test_model_grads(lx_t *t) {
    for (size_t i = 0; i < LX_ARRAY_LEN(MODELS); i++) model_grads(t, &MODELS[i]);
}

/* LoRA dropout (p = 0.3) with the masks held fixed: the gradients of A and
** B, which see the mask on A's input and on the gradient flowing back to
** x through A, still match finite differences. */
static void test_dropout_grads(lx_t *t) {
    lexie_error e;
    rf_fixture f;
    if (!rf_open(t, &f, &QWEN, "qwen2_q", "bin", NULL)) return;
    gbatch g;
    make_batch(&f, &g);
    lexie_adapter *lora = lx_lora_new(f.m, 4, 8.0f, 0x7f, &e);
    lexie_adapter *grad = lora ? lx_lora_new_like(lora, &e) : NULL;
    LX_REQUIRE(t, lora && grad);
    rng_state = 5;
    fill(lora->mem, lora->n_params, 0.3f);
    lx_tnet *net = lx_tnet_new(f.m, lora, grad, 32, 16, 0.3f, 7, 2, 0, &e);
    LX_REQUIRE(t, net);
    double l_plain = lx_tnet_run(net, &g.b, 0, 0, 1.0f, NULL);
    lx_tnet_hold_dropout(net, 1);
    double l_drop = lx_tnet_run(net, &g.b, 1, 1, 1.0f, NULL);
    LX_CHECK(t, fabs(l_drop - l_plain) > 1e-3); /* dropout did something */
    double worst = 0.0;
    int idx[4];
    for (int il = 0; il < f.m->hp.n_layer; il++)
        for (int tg = 0; tg < LX_LORA_N_TARGET; tg++)
            for (int half = 0; half < 2; half++) {
                lx_lora_pair *p = lx_lora_at(lora, il, tg), *gp = lx_lora_at(grad, il, tg);
                float *pv = half ? p->b : p->a, *gv = half ? gp->b : gp->a;
                int cnt = p->rank * (half ? p->n_out : p->n_in);
                for (int k = 0; k < 4; k++) idx[k] = (k * 4099 + il * 13 + tg * 7) % cnt;
                /* Finite differences with the same masks: train mode on. */
                double big = 0.0, err = 0.0;
                for (int i = 0; i < cnt; i++) big = fmax(big, fabs(gv[i]));
                for (int k = 0; k < 4; k++) {
                    float v = pv[idx[k]];
                    pv[idx[k]] = v + 1e-2f;
                    double lp = lx_tnet_run(net, &g.b, 1, 0, 1.0f, NULL);
                    pv[idx[k]] = v - 1e-2f;
                    double lm = lx_tnet_run(net, &g.b, 1, 0, 1.0f, NULL);
                    pv[idx[k]] = v;
                    err = fmax(err, fabs((lp - lm) / 2e-2 - gv[idx[k]]) / big);
                }
                LX_CHECK_MSG(t, err < TOL_MODEL, "layer %d %s lora_%c: rel err %g", il,
                             lx_lora_target_name(tg), half ? 'b' : 'a', err);
                worst = fmax(worst, err);
            }
    rf_report("dropout lora grads rel err", "qwen2_q", worst);
    lx_tnet_free(net);
    lexie_adapter_free(lora);
    lexie_adapter_free(grad);
    rf_close(&f);
}

void suite_train(void) {
    LX_RUN(test_gemm);
    LX_RUN(test_gemm_bf16);
    LX_RUN(test_dropout);
    LX_RUN(test_op_grads);
    LX_RUN(test_forward_vs_reference);
    LX_RUN(test_model_grads);
    LX_RUN(test_dropout_grads);
}
