/*
** test_kernels.c -- tensor types, conversions, dot kernels of every ISA,
** matmul and the float ops, each against a plain reference.
**
** Every ISA this CPU has is exercised in one run: the kernels are fetched
** per ISA (lx_vec_dot_get(type, isa)) instead of through LEXIE_ISA, which
** is read once per process.  Tolerances are named and derived below.
*/
#include "kernels/kernels.h"
#include "lx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

void lx_test_kernels_k(void); /* test_kernels_k.c */

/* ==== Tolerances ==== */

/* SIMD and scalar dots differ only in float summation order (of per-block
** products, or of the products of float rows): relative to sum |w_i * a_i|
** (plus |m * s| for the types with a min). */
#define LX_TOL_DOT 1e-5
/* Q8_1's s = fp16(d * sum q) carries two fp16 roundings (d and s), so a
** Q4_1/Q5_1 dot differs from the dequantized dot by up to 2^-10 |m * s|. */
#define LX_TOL_Q8_1_S (1.0 / 1024)
/* One fp16 rounding, relative. */
#define LX_TOL_FP16 (1.0 / 2048)
/* Vector exp vs exp(): relative, for results above FLT_MIN. */
#define LX_TOL_EXP 3e-7

/* ==== Helpers ==== */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static void rng_seed(uint64_t s) { rng_state = s * 0x9e3779b97f4a7c15ULL + 1; }

static double urand(void) { /* [0, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1p-53;
}

/* Roughly normal (sum of uniforms), times scale, with an outlier now and
** then as in real activations. */
static void fill(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) {
        double g = urand() + urand() + urand() + urand() - 2.0;
        if (urand() < 0.01) g *= 20;
        x[i] = (float)(g * scale);
    }
}

static const int all_types[] = {LX_TYPE_F32,  LX_TYPE_F16,  LX_TYPE_BF16, LX_TYPE_Q4_0,
                                LX_TYPE_Q4_1, LX_TYPE_Q5_0, LX_TYPE_Q5_1, LX_TYPE_Q8_0,
                                LX_TYPE_Q8_1, LX_TYPE_Q2_K, LX_TYPE_Q3_K, LX_TYPE_Q4_K,
                                LX_TYPE_Q5_K, LX_TYPE_Q6_K, LX_TYPE_Q8_K};

static void *quantize_new(int type, const float *x, int64_t n) {
    const lx_type_traits *t = lx_type_traits_get(type);
    void *q = malloc(lx_row_size(type, n) + 1);
    t->from_float(x, q, n);
    return q;
}

static void dequantize(int type, const void *q, float *y, int64_t n) {
    lx_type_traits_get(type)->to_float(q, y, n);
}

/* ==== fp16 / bf16 ==== */

static double half_value(uint16_t h) { return (double)lx_fp16_to_f32(h); }

static void test_fp16(lx_t *t) {
    /* Every half survives the trip through float; the inline conversion
    ** of the scalar kernels agrees bit for bit. */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = lx_fp16_to_f32((uint16_t)h), g = lx_fp16_to_f32_inline((uint16_t)h);
        LX_CHECK(t, memcmp(&f, &g, 4) == 0);
        if (isnan(f)) {
            LX_CHECK(t, (h & 0x7c00) == 0x7c00 && (h & 0x3ff));
            LX_CHECK(t, isnan(lx_fp16_to_f32(lx_f32_to_fp16(f))));
        } else {
            LX_CHECK_INT(t, lx_f32_to_fp16(f), h);
        }
    }
    LX_CHECK(t, lx_fp16_to_f32(0x3c00) == 1.0f);
    LX_CHECK(t, lx_fp16_to_f32(0x0001) == 0x1p-24f); /* smallest subnormal */
    LX_CHECK(t, lx_fp16_to_f32(0x7bff) == 65504.0f);
    LX_CHECK(t, isinf(lx_fp16_to_f32(0xfc00)) && lx_fp16_to_f32(0xfc00) < 0);
    LX_CHECK_INT(t, lx_f32_to_fp16(65519.0f), 0x7bff);
    LX_CHECK_INT(t, lx_f32_to_fp16(65520.0f), 0x7c00); /* tie to even: inf */
    LX_CHECK_INT(t, lx_f32_to_fp16(1e30f), 0x7c00);
    LX_CHECK_INT(t, lx_f32_to_fp16(-INFINITY), 0xfc00);
    LX_CHECK_INT(t, lx_f32_to_fp16(-0.0f), 0x8000);
    LX_CHECK_INT(t, lx_f32_to_fp16(0x1p-25f), 0x0000);        /* tie to even: 0 */
    LX_CHECK_INT(t, lx_f32_to_fp16(0x1.000002p-25f), 0x0001); /* just above the tie */
    LX_CHECK_INT(t, lx_f32_to_fp16(0x3p-25f), 0x0002);        /* 1.5 units: to even 2 */
    LX_CHECK_INT(t, lx_f32_to_fp16(1.0f + 0x1p-11f), 0x3c00); /* tie to even */
    LX_CHECK_INT(t, lx_f32_to_fp16(1.0f + 0x3p-11f), 0x3c02);
    LX_CHECK_INT(t, lx_f32_to_fp16(0x1p-14f), 0x0400); /* smallest normal */
    uint16_t qn = lx_f32_to_fp16(NAN);
    LX_CHECK(t, (qn & 0x7e00) == 0x7e00); /* quiet NaN */
    /* Random floats round to the nearest half, ties to the even one. */
    rng_seed(1);
    for (int i = 0; i < 200000; i++) {
        float f = (float)((urand() - 0.5) * ldexp(1.0, (int)(urand() * 44) - 26));
        uint16_t h = lx_f32_to_fp16(f);
        double v = half_value(h), err = fabs(v - f);
        uint16_t mag = h & 0x7fff;
        if (mag >= 0x7c00) {
            LX_CHECK_MSG(t, fabs(f) >= 65520.0, "%g became inf", f);
            continue;
        }
        double up = mag < 0x7bff ? fabs(half_value(mag + 1)) - fabs(v) : INFINITY;
        double down = mag > 0 ? fabs(v) - fabs(half_value(mag - 1)) : INFINITY;
        /* Within half the spacing to the neighbour on f's side. */
        double gap = fabs(f) > fabs(v) ? up : down;
        LX_CHECK_MSG(t, err <= gap / 2, "%.9g -> %04x", f, h);
        if (err == gap / 2) LX_CHECK_MSG(t, !(h & 1), "tie %.9g -> odd %04x", f, h);
    }
}

static void test_bf16(lx_t *t) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = lx_bf16_to_f32((uint16_t)h);
        if (isnan(f))
            LX_CHECK(t, isnan(lx_bf16_to_f32(lx_f32_to_bf16(f))));
        else
            LX_CHECK_INT(t, lx_f32_to_bf16(f), h);
    }
    LX_CHECK_INT(t, lx_f32_to_bf16(1.0f), 0x3f80);
    LX_CHECK_INT(t, lx_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie to even */
    LX_CHECK_INT(t, lx_f32_to_bf16(1.0f + 0x3p-8f), 0x3f82); /* tie to even, up */
    LX_CHECK_INT(t, lx_f32_to_bf16(1.0f + 0x1.2p-8f), 0x3f81);
    LX_CHECK_INT(t, lx_f32_to_bf16(FLT_MAX), 0x7f80); /* rounds to inf */
    LX_CHECK_INT(t, lx_f32_to_bf16(-INFINITY), 0xff80);
    LX_CHECK_INT(t, lx_f32_to_bf16(0x1p-133f), 0x0001); /* subnormal kept */
    uint16_t qn = lx_f32_to_bf16(NAN);
    LX_CHECK(t, isnan(lx_bf16_to_f32(qn)) && (qn & 0x40));
    /* A signalling NaN whose payload sits in the dropped bits stays NaN. */
    uint32_t snan = 0x7f800001;
    float fs;
    memcpy(&fs, &snan, 4);
    LX_CHECK(t, isnan(lx_bf16_to_f32(lx_f32_to_bf16(fs))));
}

/* ==== Traits and ISA ==== */

static void test_traits(lx_t *t) {
    LX_CHECK(t, !strcmp(lx_type_name(LX_TYPE_Q4_1), "Q4_1"));
    LX_CHECK(t, !strcmp(lx_type_name(LX_TYPE_BF16), "BF16"));
    LX_CHECK(t, !strcmp(lx_type_name(4), "unknown"));
    LX_CHECK(t, !strcmp(lx_type_name(-1), "unknown"));
    LX_CHECK(t, !strcmp(lx_type_name(1000), "unknown"));
    LX_CHECK(t, lx_type_traits_get(LX_TYPE_COUNT) == NULL);
    LX_CHECK_INT(t, lx_row_size(LX_TYPE_Q4_0, 64), 36);
    LX_CHECK_INT(t, lx_row_size(LX_TYPE_Q4_1, 576), 18 * 20);
    LX_CHECK_INT(t, lx_row_size(LX_TYPE_Q8_0, 33), 0);
    LX_CHECK_INT(t, lx_row_size(LX_TYPE_F16, 7), 14);
    LX_CHECK_INT(t, lx_row_size(LX_TYPE_F32, -4), 0);
    LX_CHECK_INT(t, lx_row_size(5, 32), 0);
    LX_CHECK_INT(t, lx_row_size(LX_TYPE_F32, INT64_MAX), 0); /* overflow */
    LX_CHECK_INT(t, lx_type_traits_get(LX_TYPE_Q4_0)->vec_dot_type, LX_TYPE_Q8_0);
    LX_CHECK_INT(t, lx_type_traits_get(LX_TYPE_Q4_1)->vec_dot_type, LX_TYPE_Q8_1);
    LX_CHECK_INT(t, lx_type_traits_get(LX_TYPE_Q5_0)->vec_dot_type, LX_TYPE_Q8_0);
    LX_CHECK_INT(t, lx_type_traits_get(LX_TYPE_Q5_1)->vec_dot_type, LX_TYPE_Q8_1);
    LX_CHECK_INT(t, lx_type_traits_get(LX_TYPE_Q8_0)->vec_dot_type, LX_TYPE_Q8_0);
    LX_CHECK_INT(t, lx_type_traits_get(LX_TYPE_F16)->vec_dot_type, LX_TYPE_F32);
    for (size_t i = 0; i < LX_ARRAY_LEN(all_types); i++) {
        const lx_type_traits *tr = lx_type_traits_get(all_types[i]);
        LX_REQUIRE(t, tr && tr->to_float && tr->from_float);
        LX_CHECK(t, lx_vec_dot_get(all_types[i], LX_ISA_SCALAR) != NULL);
        LX_CHECK(t, lx_type_traits_get(tr->vec_dot_type) != NULL);
    }
    LX_CHECK(t, lx_vec_dot_get(4, LX_ISA_AVX512) == NULL);
    LX_CHECK(t, lx_quantize_get(LX_TYPE_Q8_0, LX_ISA_SCALAR) ==
                    lx_type_traits_get(LX_TYPE_Q8_0)->from_float);
}

static void test_isa(lx_t *t) {
    LX_CHECK_INT(t, lx_isa_parse("scalar"), LX_ISA_SCALAR);
    LX_CHECK_INT(t, lx_isa_parse("AVX2"), LX_ISA_AVX2);
    LX_CHECK_INT(t, lx_isa_parse("avx512"), LX_ISA_AVX512);
    LX_CHECK_INT(t, lx_isa_parse("avx"), -1);
    LX_CHECK_INT(t, lx_isa_parse(""), -1);
    LX_CHECK_INT(t, lx_isa_parse("avx2 "), -1);
    LX_CHECK_INT(t, lx_isa_parse(NULL), -1);
    lx_isa best = lx_isa_best();
    LX_CHECK_INT(t, lx_isa_from_env(NULL), best);
    LX_CHECK_INT(t, lx_isa_from_env("junk"), best);
    LX_CHECK_INT(t, lx_isa_from_env("scalar"), LX_ISA_SCALAR);
    LX_CHECK_INT(t, lx_isa_from_env("avx512"), best); /* clamped */
    LX_CHECK_INT(t, lx_isa_from_env("avx2"), best < LX_ISA_AVX2 ? best : LX_ISA_AVX2);
    LX_CHECK_INT(t, lx_isa_active(), lx_isa_from_env(getenv("LEXIE_ISA")));
    LX_CHECK(t, !strcmp(lx_isa_name(LX_ISA_AVX2), "avx2"));
    LX_CHECK(t, !strcmp(lx_isa_name((lx_isa)7), "unknown"));
    /* Asking for more than the CPU has gives the best it has. */
    LX_CHECK(t, lx_vec_dot_get(LX_TYPE_Q4_0, LX_ISA_AVX512) == lx_vec_dot_get(LX_TYPE_Q4_0, best));
    fprintf(stderr, "  (kernels: best ISA %s, active %s)\n", lx_isa_name(best),
            lx_isa_name(lx_isa_active()));
}

/* ==== Dequantizers against hand-made blocks ==== */

static void test_dequant_blocks(lx_t *t) {
    float y[64];
    lx_block_q4_0 b40 = {lx_f32_to_fp16(0.5f), {0}};
    for (int j = 0; j < 16; j++) b40.qs[j] = (uint8_t)(j | (15 - j) << 4);
    dequantize(LX_TYPE_Q4_0, &b40, y, 32);
    for (int j = 0; j < 16; j++) {
        LX_CHECK(t, y[j] == (j - 8) * 0.5f);
        LX_CHECK(t, y[j + 16] == (7 - j) * 0.5f);
    }
    lx_block_q4_1 b41 = {lx_f32_to_fp16(0.25f), lx_f32_to_fp16(-1.0f), {0}};
    for (int j = 0; j < 16; j++) b41.qs[j] = (uint8_t)(j | (15 - j) << 4);
    dequantize(LX_TYPE_Q4_1, &b41, y, 32);
    for (int j = 0; j < 16; j++) {
        LX_CHECK(t, y[j] == j * 0.25f - 1.0f);
        LX_CHECK(t, y[j + 16] == (15 - j) * 0.25f - 1.0f);
    }
    lx_block_q5_0 b50 = {lx_f32_to_fp16(2.0f), {0x01, 0x00, 0x01, 0x80}, {0}};
    for (int j = 0; j < 16; j++) b50.qs[j] = (uint8_t)(j | j << 4);
    dequantize(LX_TYPE_Q5_0, &b50, y, 32);
    for (int j = 0; j < 16; j++) {
        int h0 = j == 0, h1 = j == 0 || j == 15; /* qh bits 0, 16, 31 */
        LX_CHECK(t, y[j] == (j + 16 * h0 - 16) * 2.0f);
        LX_CHECK(t, y[j + 16] == (j + 16 * h1 - 16) * 2.0f);
    }
    lx_block_q5_1 b51 = {lx_f32_to_fp16(1.0f), lx_f32_to_fp16(0.5f), {0xff, 0, 0, 0}, {0}};
    for (int j = 0; j < 16; j++) b51.qs[j] = 0x3a;
    dequantize(LX_TYPE_Q5_1, &b51, y, 32);
    for (int j = 0; j < 16; j++) {
        LX_CHECK(t, y[j] == (j < 8 ? 26.5f : 10.5f));
        LX_CHECK(t, y[j + 16] == 3.5f);
    }
    lx_block_q8_0 b80[2] = {{lx_f32_to_fp16(0.125f), {0}}, {lx_f32_to_fp16(-1.0f), {0}}};
    for (int j = 0; j < 32; j++) b80[0].qs[j] = b80[1].qs[j] = (int8_t)(j * 8 - 128);
    dequantize(LX_TYPE_Q8_0, b80, y, 64);
    for (int j = 0; j < 32; j++) {
        LX_CHECK(t, y[j] == (j * 8 - 128) * 0.125f);
        LX_CHECK(t, y[j + 32] == -(float)(j * 8 - 128));
    }
}

/* ==== Quantize -> dequantize round trips ==== */

/* The worst error a type allows on a block, from its scale rule: half a
** step, a whole step where the rule clamps the far end (Q4_0, Q5_0), plus
** the fp16 rounding of the scale times the largest |q| (and of the min). */
static double block_bound(int type, const float *x) {
    float amax = 0, lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        amax = fmaxf(amax, fabsf(x[j]));
        lo = fminf(lo, x[j]);
        hi = fmaxf(hi, x[j]);
    }
    /* fp16 rounding is relative LX_TOL_FP16 for normal values and absolute
    ** 2^-25 in the subnormal range (scales below 2^-14). */
    const double e = LX_TOL_FP16 * 1.01, sub = 0x1p-25;
    switch (type) {
    case LX_TYPE_Q4_0: return amax / 8.0 + amax * e + 8 * sub;
    case LX_TYPE_Q5_0: return amax / 16.0 + amax * e + 16 * sub;
    case LX_TYPE_Q4_1: return (hi - lo) / 15.0 / 2 + (hi - lo) * e + fabsf(lo) * e + 16 * sub;
    case LX_TYPE_Q5_1: return (hi - lo) / 31.0 / 2 + (hi - lo) * e + fabsf(lo) * e + 32 * sub;
    case LX_TYPE_Q8_0:
    case LX_TYPE_Q8_1: return amax / 127.0 / 2 + amax * e + 127 * sub;
    case LX_TYPE_F16: return amax * e + 0x1p-25;
    case LX_TYPE_BF16: return amax / 256.0;
    }
    return 0.0;
}

/* The same for a K super-block, per sub-block j, for types_k.c's
** quantizers.  Symmetric types (x ~ e*q, q in [-N, N-1]): the sub-block
** scale e_j is itself quantized to S levels of step sigma = max scale / S,
** so an element is off by half a step, or, where its quant is clamped at
** the end of the range, by up to N scale errors more: amax_j/N + (N+1)
** sigma.  Asymmetric types (x ~ e*q - m, q in [0, N]) add the min's
** quantization step the same way.  Then fp16 rounding of d and dmin. */
static double k_bound(int type, const float *x, int j) {
    const int sub = (type == LX_TYPE_Q4_K || type == LX_TYPE_Q5_K) ? 32 : 16;
    double amax = 0, amax_j = 0, max_s = 0, max_m = 0, s_j = 0;
    for (int k = 0; k < 256; k++) amax = fmax(amax, fabs(x[k]));
    for (int b = 0; b < 256 / sub; b++) {
        double lo = 0, hi = x[b * sub], a = 0;
        for (int l = 0; l < sub; l++) {
            lo = fmin(lo, x[b * sub + l]);
            hi = fmax(hi, x[b * sub + l]);
            a = fmax(a, fabs(x[b * sub + l]));
        }
        max_s = fmax(max_s, hi - lo);
        max_m = fmax(max_m, -lo);
        if (b == j) s_j = hi - lo, amax_j = a;
    }
    const double e = 2 * LX_TOL_FP16 * 1.01, sub16 = 0x1p-25;
    int N = 0, S = 0;
    switch (type) {
    case LX_TYPE_Q8_K: return amax / 254 + amax * 0x1p-22;
    case LX_TYPE_Q6_K: N = 32, S = 128; break;
    case LX_TYPE_Q3_K: N = 4, S = 32; break;
    case LX_TYPE_Q2_K: N = 3, S = 15; break;
    case LX_TYPE_Q4_K: N = 15, S = 63; break;
    case LX_TYPE_Q5_K: N = 31, S = 63; break;
    }
    if (type == LX_TYPE_Q6_K || type == LX_TYPE_Q3_K)
        return amax_j / N + (N + 1) * amax / ((double)N * S) + amax * e + sub16 * N * S;
    max_s /= N;
    return s_j / N / 2 + (N + 1) / 2.0 * max_s / S + max_m / (2.0 * S) + (amax + max_m) * e +
           sub16 * S * (N + 1);
}

static void roundtrip_one(lx_t *t, int type, const float *x, int64_t n, const char *what) {
    float y[256];
    const int k = lx_type_traits_get(type)->blck_size == LX_QK_K;
    const int sub = k ? ((type == LX_TYPE_Q4_K || type == LX_TYPE_Q5_K) ? 32 : 16) : 32;
    void *q = quantize_new(type, x, n);
    dequantize(type, q, y, n);
    for (int64_t i = 0; i < n; i++) {
        const float *blk = x + (k ? i / 256 * 256 : i / 32 * 32);
        double bound = (k ? k_bound(type, blk, (int)(i % 256) / sub) : block_bound(type, blk));
        double err = fabs((double)y[i] - x[i]);
        LX_CHECK_MSG(t, err <= bound * 1.0001, "%s %s [%d]: %g -> %g (bound %g)",
                     lx_type_name(type), what, (int)i, x[i], y[i], bound);
    }
    free(q);
}

static void test_roundtrip(lx_t *t) {
    float x[256];
    for (size_t ti = 0; ti < LX_ARRAY_LEN(all_types); ti++) {
        const int type = all_types[ti];
        if (type == LX_TYPE_F32) continue;
        rng_seed(10 + ti);
        for (int rep = 0; rep < 50; rep++) {
            fill(x, 256, (float)ldexp(1.0, (int)(urand() * 20) - 10));
            roundtrip_one(t, type, x, 256, "random");
        }
        memset(x, 0, sizeof x);
        roundtrip_one(t, type, x, 256, "zeros");
        for (int j = 0; j < 256; j++) x[j] = (j % 3 - 1) * 1e-30f;
        roundtrip_one(t, type, x, 256, "tiny"); /* scale underflows: all become 0 */
        for (int j = 0; j < 256; j++) x[j] = 3.0f;
        roundtrip_one(t, type, x, 256, "constant");
        for (int j = 0; j < 256; j++) x[j] = j % 2 ? 1.0f : -1.0f;
        roundtrip_one(t, type, x, 256, "signs");
        for (int j = 0; j < 256; j++) x[j] = j < 128 ? 0.0f : (float)(j - 200);
        roundtrip_one(t, type, x, 256, "half zero");
    }
    /* The documented overflow: a block scale past fp16's 65504 becomes inf
    ** (as in ggml), so nonzero quants dequantize to +-inf. */
    float big[32] = {0}, y[32];
    big[0] = 1e30f;
    big[1] = -1e30f;
    void *q = quantize_new(LX_TYPE_Q8_0, big, 32);
    dequantize(LX_TYPE_Q8_0, q, y, 32);
    LX_CHECK(t, isinf(y[0]) && y[0] > 0 && isinf(y[1]) && y[1] < 0);
    free(q);
}

static void test_quantize_rules(lx_t *t) {
    /* Q8_0 reference: d = amax/127, round half away from zero. */
    float x[32] = {127.0f, 0.5f, -0.5f, 2.5f, -2.5f, 1.49f};
    lx_block_q8_0 b;
    lx_type_traits_get(LX_TYPE_Q8_0)->from_float(x, &b, 32);
    LX_CHECK(t, lx_fp16_to_f32(b.d) == 1.0f);
    LX_CHECK_INT(t, b.qs[0], 127);
    LX_CHECK_INT(t, b.qs[1], 1);
    LX_CHECK_INT(t, b.qs[2], -1);
    LX_CHECK_INT(t, b.qs[3], 3);
    LX_CHECK_INT(t, b.qs[4], -3);
    LX_CHECK_INT(t, b.qs[5], 1);
    /* Q8_1: s = d * sum(q). */
    lx_block_q8_1 b1;
    lx_type_traits_get(LX_TYPE_Q8_1)->from_float(x, &b1, 32);
    LX_CHECK(t, lx_fp16_to_f32(b1.s) == 127.0f + 1 - 1 + 3 - 3 + 1);
    /* The SIMD quantizers (what llama.cpp runs on x86) round half to even. */
    for (int isa = LX_ISA_AVX2; isa <= (int)lx_isa_best(); isa++) {
        lx_quantize_get(LX_TYPE_Q8_0, (lx_isa)isa)(x, &b, 32);
        LX_CHECK_INT(t, b.qs[1], 0);
        LX_CHECK_INT(t, b.qs[3], 2);
        LX_CHECK_INT(t, b.qs[4], -2);
    }
    /* Q4_0: d = max / -8 with max the signed extreme, q = x/d + 8.5 truncated. */
    for (int j = 0; j < 32; j++) x[j] = (float)(j % 16) - 8.0f;
    lx_block_q4_0 b4;
    lx_type_traits_get(LX_TYPE_Q4_0)->from_float(x, &b4, 32);
    LX_CHECK(t, lx_fp16_to_f32(b4.d) == 1.0f); /* max = -8: d = 1 */
    for (int j = 0; j < 16; j++) LX_CHECK_INT(t, b4.qs[j], j | j << 4);
    /* Q4_1: d = (max - min)/15, m = min. */
    for (int j = 0; j < 32; j++) x[j] = 1.0f + (float)(j % 16) * 0.5f;
    lx_block_q4_1 b41;
    lx_type_traits_get(LX_TYPE_Q4_1)->from_float(x, &b41, 32);
    LX_CHECK(t, lx_fp16_to_f32(b41.d) == 0.5f && lx_fp16_to_f32(b41.m) == 1.0f);
    for (int j = 0; j < 16; j++) LX_CHECK_INT(t, b41.qs[j], j | j << 4);
}

/* The SIMD activation quantizers against the reference: same scale, each
** quant within one unit (127/amax vs 1/(amax/127), ties to even vs away). */
static void test_quantize_isa(lx_t *t) {
    enum { N = 1024 };
    float x[N];
    static lx_block_q8_1 r1[N / 32], s1[N / 32];
    static lx_block_q8_0 r0[N / 32], s0[N / 32];
    rng_seed(3);
    fill(x, N, 0.7f);
    for (int j = 0; j < 32; j++) x[64 + j] = 0.0f; /* a zero block */
    lx_type_traits_get(LX_TYPE_Q8_0)->from_float(x, r0, N);
    lx_type_traits_get(LX_TYPE_Q8_1)->from_float(x, r1, N);
    for (int isa = LX_ISA_AVX2; isa <= (int)lx_isa_best(); isa++) {
        lx_quantize_get(LX_TYPE_Q8_0, (lx_isa)isa)(x, s0, N);
        lx_quantize_get(LX_TYPE_Q8_1, (lx_isa)isa)(x, s1, N);
        int n_diff = 0;
        for (int b = 0; b < N / 32; b++) {
            LX_CHECK_INT(t, s0[b].d, r0[b].d);
            LX_CHECK_INT(t, s1[b].d, r1[b].d);
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                LX_CHECK(t, abs(s0[b].qs[j] - r0[b].qs[j]) <= 1);
                LX_CHECK_INT(t, s1[b].qs[j], s0[b].qs[j]);
                n_diff += s0[b].qs[j] != r0[b].qs[j];
                sum += s1[b].qs[j];
            }
            double s = lx_fp16_to_f32(s1[b].s), want = sum * (double)lx_fp16_to_f32(s1[b].d);
            LX_CHECK_CLOSE(t, s, want, fabs(want) * 2 * LX_TOL_FP16 + 1e-30);
        }
        LX_CHECK_MSG(t, n_diff < N / 50, "%s: %d quants differ", lx_isa_name((lx_isa)isa), n_diff);
    }
}

/* A row quantized at once (the AVX-512 quantizers take sixteen blocks at
** a time) is the bits of its blocks quantized one by one: the kernels'
** sums assume it, and the batched and one-row paths quantize rows of
** different lengths. */
static void test_quantize_blocks(lx_t *t) {
    enum { N = 32 * 37 }; /* two groups of 16 and 5 blocks alone */
    float x[N];
    static lx_block_q8_1 a1[N / 32], b1[N / 32];
    static lx_block_q8_0 a0[N / 32], b0[N / 32];
    rng_seed(11);
    fill(x, N, 3.0f);
    for (int j = 0; j < 32; j++) x[96 + j] = 0.0f;     /* a zero block */
    for (int j = 0; j < 32; j++) x[320 + j] *= 1e-30f; /* a tiny one */
    x[700] = 1e30f;                                    /* a huge value */
    for (int isa = LX_ISA_AVX2; isa <= (int)lx_isa_best(); isa++) {
        lx_from_float_fn q0 = lx_quantize_get(LX_TYPE_Q8_0, (lx_isa)isa);
        lx_from_float_fn q1 = lx_quantize_get(LX_TYPE_Q8_1, (lx_isa)isa);
        q0(x, a0, N);
        q1(x, a1, N);
        for (int b = 0; b < N / 32; b++) {
            q0(x + 32 * b, &b0[b], 32);
            q1(x + 32 * b, &b1[b], 32);
        }
        LX_CHECK_MSG(t, memcmp(a0, b0, sizeof a0) == 0, "%s q8_0", lx_isa_name((lx_isa)isa));
        LX_CHECK_MSG(t, memcmp(a1, b1, sizeof a1) == 0, "%s q8_1", lx_isa_name((lx_isa)isa));
    }
}

/* ==== Dot kernels ==== */

/* The min of weight block b and the s of activation block b, for the
** types whose dot has an m * s term; 0 for the others. */
static double min_times_s(int type, const void *w, const void *a, int64_t b) {
    if (lx_type_traits_get(type)->blck_size == LX_QK_K) return 0.0;
    if (type == LX_TYPE_Q4_1)
        return lx_fp16_to_f32(((const lx_block_q4_1 *)w)[b].m) *
               lx_fp16_to_f32(((const lx_block_q8_1 *)a)[b].s);
    if (type == LX_TYPE_Q5_1)
        return lx_fp16_to_f32(((const lx_block_q5_1 *)w)[b].m) *
               lx_fp16_to_f32(((const lx_block_q8_1 *)a)[b].s);
    return 0.0;
}

/* Quantize w (reference) and a (to the vec_dot_type), then check the
** scalar dot against the double dot of the dequantized rows, and every
** SIMD dot against the scalar one. */
static void check_dot(lx_t *t, int type, const void *wq, const float *af, int64_t n,
                      const char *what) {
    const int vt = lx_type_traits_get(type)->vec_dot_type;
    void *aq = quantize_new(vt, af, n);
    float *wd = malloc(n * sizeof *wd), *ad = malloc(n * sizeof *ad);
    dequantize(type, wq, wd, n);
    dequantize(vt, aq, ad, n);
    double exact = 0, mag = 0, ms = 0;
    for (int64_t i = 0; i < n; i++) {
        exact += (double)wd[i] * ad[i];
        mag += fabs((double)wd[i] * ad[i]);
    }
    for (int64_t b = 0; b < n / lx_type_traits_get(type)->blck_size; b++)
        ms += fabs(min_times_s(type, wq, aq, b));
    /* K types: the d and dmin parts of a super-block are summed apart and
    ** can cancel, so rounding is relative to |dmin * d8 * sum m*bsum| too. */
    if (lx_type_traits_get(type)->blck_size == LX_QK_K) {
        const size_t bsz = lx_type_traits_get(type)->type_size;
        for (int64_t b = 0; b < n / LX_QK_K; b++) {
            lx_k_unpacked u, v;
            lx_k_unpack(type, (const uint8_t *)wq + b * bsz, &u);
            lx_k_unpack(vt, (const lx_block_q8_k *)aq + b, &v);
            double summ = 0;
            for (int k = 0; k < LX_QK_K; k++) summ += (double)u.m[k * u.n_sub / LX_QK_K] * v.q[k];
            mag += 2 * fabs(u.dmin * v.d * summ);
        }
    }
    float ref;
    lx_vec_dot_get(type, LX_ISA_SCALAR)(n, &ref, wq, aq);
    LX_CHECK_MSG(t, fabs(ref - exact) <= LX_TOL_DOT * mag + LX_TOL_Q8_1_S * ms + 1e-30,
                 "%s %s n=%lld: scalar %.9g, dequantized %.9g", lx_type_name(type), what,
                 (long long)n, ref, exact);
    for (int isa = LX_ISA_AVX2; isa <= (int)lx_isa_best(); isa++) {
        float v = NAN;
        lx_vec_dot_get(type, (lx_isa)isa)(n, &v, wq, aq);
        LX_CHECK_MSG(t, fabs(v - ref) <= LX_TOL_DOT * (mag + 2 * ms) + 1e-30,
                     "%s %s n=%lld: %s %.9g, scalar %.9g", lx_type_name(type), what, (long long)n,
                     lx_isa_name((lx_isa)isa), v, ref);
    }
    free(aq);
    free(wd);
    free(ad);
}

static void test_dot(lx_t *t) {
    static const int64_t nq[] = {32, 64, 96, 576, 1536, 4096};
    static const int64_t nk[] = {256, 512, 768, 1536, 4096};
    static const int64_t nf[] = {1, 7, 16, 33, 100, 576, 1000};
    float *w = malloc(4096 * sizeof *w), *a = malloc(4096 * sizeof *a);
    rng_seed(5);
    for (size_t ti = 0; ti < LX_ARRAY_LEN(all_types); ti++) {
        const int type = all_types[ti];
        const int bs = lx_type_traits_get(type)->blck_size;
        const int64_t *ns = bs == 1 ? nf : bs == 32 ? nq : nk;
        const size_t nn = bs == 1    ? LX_ARRAY_LEN(nf)
                          : bs == 32 ? LX_ARRAY_LEN(nq)
                                     : LX_ARRAY_LEN(nk);
        for (size_t k = 0; k < nn; k++) {
            for (int rep = 0; rep < 3; rep++) {
                fill(w, ns[k], (float)ldexp(1.0, (int)(urand() * 8) - 6));
                fill(a, ns[k], (float)ldexp(1.0, (int)(urand() * 8) - 2));
                void *wq = quantize_new(type, w, ns[k]);
                check_dot(t, type, wq, a, ns[k], "random");
                free(wq);
            }
        }
        /* All-zero weights, all-zero activations. */
        memset(w, 0, 4096 * sizeof *w);
        fill(a, 4096, 1.0f);
        void *wq = quantize_new(type, w, 768);
        check_dot(t, type, wq, a, 768, "zero weights");
        free(wq);
        fill(w, 4096, 1.0f);
        memset(a, 0, 4096 * sizeof *a);
        wq = quantize_new(type, w, 768);
        check_dot(t, type, wq, a, 768, "zero activations");
        free(wq);
    }
    /* Q8_0 weights from a file may hold -128, which our quantizer never
    ** writes: the sign trick of the SIMD kernels must still be exact. */
    fill(w, 96, 1.0f);
    fill(a, 96, 1.0f);
    lx_block_q8_0 *wq = quantize_new(LX_TYPE_Q8_0, w, 96);
    for (int b = 0; b < 3; b++)
        for (int j = 0; j < 32; j += 3) wq[b].qs[j] = -128;
    check_dot(t, LX_TYPE_Q8_0, wq, a, 96, "with -128");
    free(wq);
    free(w);
    free(a);
}

/* ==== Matmul ==== */

static void check_matmul(lx_t *t, lx_pool *pool, lx_isa isa, int type, int64_t n_rows,
                         int64_t n_cols, int64_t n_batch) {
    const lx_type_traits *tr = lx_type_traits_get(type);
    const int vt = tr->vec_dot_type;
    const size_t w_row = lx_row_size(type, n_cols);
    float *wf = malloc(n_rows * n_cols * sizeof *wf), *x = malloc(n_batch * n_cols * sizeof *x);
    float *wd = malloc(n_rows * n_cols * sizeof *wd), *y = malloc(n_rows * n_batch * sizeof *y);
    fill(wf, n_rows * n_cols, 0.05f);
    fill(x, n_batch * n_cols, 1.0f);
    void *w = quantize_new(type, wf, n_rows * n_cols);
    dequantize(type, w, wd, n_rows * n_cols);
    const size_t qsize = lx_matmul_qbuf_size(type, n_cols, n_batch);
    LX_CHECK_INT(t, qsize, vt == LX_TYPE_F32 ? 0 : lx_row_size(vt, n_cols) * n_batch);
    void *qbuf = malloc(qsize + 1), *q1 = malloc(lx_row_size(vt, n_cols) + 1);
    for (int64_t i = 0; i < n_rows * n_batch; i++) y[i] = NAN;
    lx_matmul_isa(pool, isa, w, type, n_rows, n_cols, x, n_batch, y, qsize ? qbuf : NULL);
    lx_vec_dot_fn dot = lx_vec_dot_get(type, isa);
    /* Types with tiles compute every output with the tile's arithmetic (in
    ** a tile or a column kernel), which sums in another order than the dot
    ** kernel: those match it within LX_TOL_DOT, the rest exactly. */
    const int tiled = lx_gemm_get(type, isa) != NULL &&
                      (n_batch >= LX_GEMM_RN || lx_gemm_col_get(type, isa) != NULL);
    float *ad = malloc(n_cols * sizeof *ad);
    int bad = 0;
    for (int64_t b = 0; b < n_batch && bad < 5; b++) {
        const float *xb = x + b * n_cols;
        const void *qb = xb;
        if (vt != LX_TYPE_F32) {
            lx_quantize_get(vt, isa)(xb, q1, n_cols);
            qb = q1;
        }
        dequantize(vt, qb, ad, n_cols);
        for (int64_t r = 0; r < n_rows && bad < 5; r++) {
            /* The dot kernel on exactly the quantized row. */
            float want;
            dot(n_cols, &want, (const uint8_t *)w + r * w_row, qb);
            const float got = y[b * n_rows + r];
            double tol = 0;
            if (tiled) {
                for (int64_t c = 0; c < n_cols; c++)
                    tol += fabs((double)wd[r * n_cols + c] * ad[c]);
                tol *= LX_TOL_DOT;
                for (int64_t c = 0; c < n_cols / 32 && vt == LX_TYPE_Q8_1; c++)
                    tol += 2 * LX_TOL_DOT *
                           fabs(min_times_s(type, (const uint8_t *)w + r * w_row, qb, c));
            }
            bad += !(fabs(got - want) <= tol);
            LX_CHECK_MSG(t, fabs(got - want) <= tol, "%s %s rows=%lld b=%lld r=%lld: %.9g != %.9g",
                         lx_type_name(type), lx_isa_name(isa), (long long)n_rows, (long long)b,
                         (long long)r, got, want);
            /* And close to the float product, within what quantizing x costs. */
            double exact = 0, mag = 0, qerr = 0;
            for (int64_t c = 0; c < n_cols; c++) {
                const double wv = wd[r * n_cols + c];
                exact += wv * xb[c];
                mag += fabs(wv * xb[c]);
            }
            if (vt != LX_TYPE_F32) {
                const int ab = lx_type_traits_get(vt)->blck_size;
                for (int64_t c0 = 0; c0 < n_cols; c0 += ab) {
                    double amax = 0, sabs = 0, wabs = 0;
                    for (int c = 0; c < ab; c++) {
                        amax = fmax(amax, fabs(xb[c0 + c]));
                        sabs += fabs(xb[c0 + c]);
                        wabs += fabs(wd[r * n_cols + c0 + c]);
                    }
                    qerr += wabs * amax * (0.5 / 127 + 3 * LX_TOL_FP16) + 1e-30;
                    if (vt == LX_TYPE_Q8_1) qerr += LX_TOL_Q8_1_S * 1.1 * sabs * wabs;
                }
            }
            LX_CHECK_MSG(t, fabs(got - exact) <= LX_TOL_DOT * mag + qerr,
                         "%s r=%lld: %g vs float %g", lx_type_name(type), (long long)r, got, exact);
        }
    }
    free(wf), free(x), free(wd), free(y), free(w), free(qbuf), free(q1), free(ad);
}

/* Batch invariance: each output row of a batch is bit for bit what the
** row gives alone, whatever the batch size, its place in the batch and the
** number of threads, for every type and ISA. */
static void test_matmul_invariant(lx_t *t) {
    lexie_error err;
    lx_pool *pool3 = lx_pool_new(3, &err);
    LX_REQUIRE(t, pool3);
    rng_seed(11);
    enum { NB = 11 };
    for (size_t ti = 0; ti < LX_ARRAY_LEN(all_types); ti++) {
        const int type = all_types[ti];
        const int64_t n_cols = lx_type_traits_get(type)->blck_size == LX_QK_K ? 512 : 160;
        const int64_t n_rows = 38; /* a ragged edge of rows too */
        float *wf = malloc(n_rows * n_cols * sizeof *wf), *x = malloc(NB * n_cols * sizeof *x);
        float *y1 = malloc(n_rows * sizeof *y1), *y = malloc(n_rows * NB * sizeof *y);
        void *qbuf = malloc(lx_matmul_qbuf_size(type, n_cols, NB) + 1);
        fill(wf, n_rows * n_cols, 0.05f);
        fill(x, NB * n_cols, 1.0f);
        void *w = quantize_new(type, wf, n_rows * n_cols);
        for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
            int bad = 0;
            for (int64_t nb = 1; nb <= NB && !bad; nb++)
                for (int p = 0; p < 2 && !bad; p++) {
                    /* Rows [NB - nb, NB): each row meets other neighbours. */
                    const float *xs = x + (NB - nb) * n_cols;
                    lx_matmul_isa(p ? pool3 : NULL, (lx_isa)isa, w, type, n_rows, n_cols, xs, nb, y,
                                  qbuf);
                    for (int64_t b = 0; b < nb && !bad; b++) {
                        lx_matmul_isa(NULL, (lx_isa)isa, w, type, n_rows, n_cols, xs + b * n_cols,
                                      1, y1, qbuf);
                        bad = memcmp(y1, y + b * n_rows, n_rows * sizeof *y1) != 0;
                        LX_CHECK_MSG(t, !bad, "%s %s: row %lld of a batch of %lld (%d threads)",
                                     lx_type_name(type), lx_isa_name((lx_isa)isa), (long long)b,
                                     (long long)nb, p ? 3 : 1);
                    }
                }
        }
        free(wf), free(x), free(y1), free(y), free(qbuf), free(w);
    }
    lx_pool_free(pool3);
}

static void test_matmul(lx_t *t) {
    lexie_error err;
    lx_pool *pool3 = lx_pool_new(3, &err), *pool1 = lx_pool_new(1, &err);
    LX_REQUIRE(t, pool3 && pool1);
    rng_seed(7);
    lx_pool *pools[] = {NULL, pool1, pool3};
    for (size_t ti = 0; ti < LX_ARRAY_LEN(all_types); ti++) {
        const int type = all_types[ti];
        const int k = lx_type_traits_get(type)->blck_size == LX_QK_K;
        for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
            for (size_t p = 0; p < 3; p++) {
                check_matmul(t, pools[p], (lx_isa)isa, type, 37, k ? 512 : 96, 1);
                check_matmul(t, pools[p], (lx_isa)isa, type, 37, k ? 512 : 96, 5);
            }
            check_matmul(t, pool3, (lx_isa)isa, type, 1, k ? 256 : 64, 3);
            check_matmul(t, pool3, (lx_isa)isa, type, 19, k ? 256 : 128, 20); /* > a batch group */
        }
    }
    /* Float weights take any width. */
    check_matmul(t, pool3, lx_isa_active(), LX_TYPE_F16, 5, 7, 2);
    /* The public entry point runs the active ISA. */
    float w[64], x[64], y1 = 0, y2 = 0;
    fill(w, 64, 1.0f);
    fill(x, 64, 1.0f);
    lx_matmul(pool3, w, LX_TYPE_F32, 1, 64, x, 1, &y1, NULL);
    lx_matmul_isa(NULL, lx_isa_active(), w, LX_TYPE_F32, 1, 64, x, 1, &y2, NULL);
    LX_CHECK(t, y1 == y2);
    /* A width that is not a whole number of blocks computes nothing. */
    y1 = 123.0f;
    lx_matmul(pool3, w, LX_TYPE_Q8_0, 1, 40, x, 1, &y1, NULL);
    LX_CHECK(t, y1 == 123.0f);
    LX_CHECK_INT(t, lx_matmul_qbuf_size(LX_TYPE_Q8_0, 40, 1), 0);
    lx_pool_free(pool3);
    lx_pool_free(pool1);
}

/* ==== Float ops ==== */

static void test_rmsnorm(lx_t *t) {
    float x[577], w[577], out[577];
    rng_seed(11);
    for (int n = 1; n <= 577; n += 96) {
        fill(x, n, 3.0f);
        fill(w, n, 1.0f);
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
        const double scale = 1.0 / sqrt(ss / n + 1e-5);
        lx_rmsnorm(out, x, w, n, 1e-5f);
        for (int i = 0; i < n; i++) {
            double ref = x[i] * scale * w[i];
            LX_CHECK_CLOSE(t, out[i], ref, 2e-6 * fabs(ref) + 1e-30);
        }
        lx_rmsnorm(x, x, NULL, n, 1e-5f); /* in place, no weight */
        for (int i = 0; i < n; i++) LX_CHECK_CLOSE(t, x[i] * w[i], out[i], 2e-6 * fabs(out[i]));
    }
    float z[4] = {0}; /* all zero: eps keeps it finite */
    lx_rmsnorm(z, z, NULL, 4, 1e-6f);
    LX_CHECK(t, z[0] == 0.0f && z[3] == 0.0f);
    /* Several rows at once: each row's bits as alone (groups of 8 and a
    ** ragged rest), with and without a weight, in place. */
    enum { R = 11, N = 577 };
    static float xs[R * N], a[R * N], b[R * N];
    fill(xs, R * N, 3.0f);
    for (int wt = 0; wt < 2; wt++) {
        for (int r = 0; r < R; r++) lx_rmsnorm(a + r * N, xs + r * N, wt ? w : NULL, N, 1e-5f);
        memcpy(b, xs, sizeof b);
        lx_rmsnorm_rows(b, b, wt ? w : NULL, R, N, 1e-5f);
        LX_CHECK(t, memcmp(a, b, sizeof a) == 0);
    }
    /* Every ISA's rows equal the plain loop's bits: counts of rows around
    ** the AVX-512 path's 8, lengths around its 8 and 16, in place or not. */
    const int lens[] = {1, 7, 8, 9, 16, 17, 64, 577};
    for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
        const lx_float_ops *ops = lx_float_ops_get((lx_isa)isa);
        for (int li = 0; li < (int)(sizeof lens / sizeof *lens); li++)
            for (int rows = 1; rows <= R; rows += rows < 9 ? 1 : 2)
                for (int wt = 0; wt < 2; wt++) {
                    const int n = lens[li];
                    lx_rmsnorm_rows_scalar(a, xs, wt ? w : NULL, rows, n, 1e-5f);
                    memcpy(b, xs, (size_t)rows * n * sizeof *b);
                    ops->rmsnorm_rows(b, b, wt ? w : NULL, rows, n, 1e-5f);
                    LX_CHECK_MSG(t, memcmp(a, b, (size_t)rows * n * sizeof *a) == 0,
                                 "%s: %d rows of %d", lx_isa_name((lx_isa)isa), rows, n);
                }
    }
}

/* Every ISA's RoPE equals the plain loop's bits: both layouts, rotated
** lengths around 16 and 32 floats, the tails. */
static void test_rope_isa(lx_t *t) {
    float x0[128], rc[128], a[128], b[128];
    rng_seed(17);
    fill(x0, 128, 4.0f);
    fill(rc, 128, 1.0f);
    const int lens[] = {2, 6, 16, 30, 32, 34, 64, 96, 128};
    for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
        const lx_float_ops *ops = lx_float_ops_get((lx_isa)isa);
        for (int li = 0; li < (int)(sizeof lens / sizeof *lens); li++)
            for (int neox = 0; neox < 2; neox++) {
                const int n = lens[li];
                memcpy(a, x0, sizeof a);
                memcpy(b, x0, sizeof b);
                lx_rope_scalar(a, rc, n, neox);
                ops->rope(b, rc, n, neox);
                LX_CHECK_MSG(t, memcmp(a, b, sizeof a) == 0, "%s: n_rot %d neox %d",
                             lx_isa_name((lx_isa)isa), n, neox);
            }
    }
}

/* AVX-512's exp_sum: each 16 exponentials summed in float as
** _mm512_reduce_add_ps pairs them (lanes k and k + 8, k and k + 4, k and
** k + 2, the last two), those sums added to a double in order, whether
** the loop takes them sixteen vectors at a time or one by one. */
static float reduce_order16(const float *a) {
    float t3[8], t6[4];
    for (int k = 0; k < 8; k++) t3[k] = a[k] + a[k + 8];
    for (int k = 0; k < 4; k++) t6[k] = t3[k] + t3[k + 4];
    return (t6[0] + t6[2]) + (t6[1] + t6[3]);
}

static void test_exp_sum_order(lx_t *t) {
    if (lx_isa_best() < LX_ISA_AVX512) {
        LX_SKIP(t, "no AVX-512 here");
        return;
    }
    const lx_float_ops *ops = lx_float_ops_get(LX_ISA_AVX512);
    enum { N = 1003 };
    static float x[N + 16];
    const int lens[] = {1, 15, 16, 17, 255, 256, 257, 576, 1003};
    rng_seed(19);
    for (int k = 0; k < 4 * (int)(sizeof lens / sizeof *lens); k++) {
        const int n = lens[k % (int)(sizeof lens / sizeof *lens)];
        fill(x, n, 1.0f); /* finite sums: an inf would hide the order */
        const double sum = ops->exp_sum(x, n, 0.0f);
        double ref = 0.0;
        for (int i = 0; i < n; i += 16) {
            float a[16] = {0};
            memcpy(a, x + i, (size_t)(n - i < 16 ? n - i : 16) * sizeof *a);
            ref += reduce_order16(a);
        }
        LX_CHECK_MSG(t, memcmp(&sum, &ref, sizeof sum) == 0, "n %d: %.17g vs %.17g", n, sum, ref);
    }
}

static void test_float_ops(lx_t *t) {
    enum { N = 1003 };
    static float a[N], b[N], y[N], y0[N];
    rng_seed(13);
    for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
        const lx_float_ops *ops = lx_float_ops_get((lx_isa)isa);
        const char *nm = lx_isa_name((lx_isa)isa);
        for (int n = 0; n <= N; n += n < 40 ? 1 : 241) {
            fill(a, n, 1.0f);
            fill(b, n, 2.0f);
            double ref = 0, mag = 0;
            for (int i = 0; i < n; i++) {
                ref += (double)a[i] * b[i];
                mag += fabs((double)a[i] * b[i]);
            }
            LX_CHECK_MSG(t, fabs(ops->dot(a, b, n) - ref) <= LX_TOL_DOT * mag, "%s dot n=%d", nm,
                         n);
            memcpy(y, b, n * sizeof *y);
            memcpy(y0, b, n * sizeof *y);
            ops->axpy(y, -0.75f, a, n);
            for (int i = 0; i < n; i++) {
                double r = y0[i] - 0.75 * a[i];
                LX_CHECK_CLOSE(t, y[i], r, 0x1p-22 * (fabs(y0[i]) + fabs(0.75 * a[i])));
            }
            memcpy(y, a, n * sizeof *y);
            ops->swiglu(y, b, n);
            for (int i = 0; i < n; i++) {
                double g = a[i], r = g / (1.0 + exp(-g)) * b[i];
                LX_CHECK_CLOSE(t, y[i], r, 2e-6 * fabs(r) + 1e-37);
            }
            /* max and scale: exact, so equal to the plain loops; a NaN
            ** counts in max only in first place. */
            for (int nan_at = -1; nan_at < 2 && n > 0; nan_at++) {
                if (nan_at >= 0) a[nan_at ? 0 : n / 2] = NAN; /* inside, then first too */
                float m = a[0];
                for (int i = 1; i < n; i++) m = a[i] > m ? a[i] : m;
                const float got = ops->max(a, n);
                LX_CHECK_MSG(t, got == m || (isnan(got) && isnan(m)), "%s max n=%d nan_at=%d", nm,
                             n, nan_at);
            }
            memcpy(y, b, n * sizeof *y);
            ops->scale(y, 0.3f, n);
            for (int i = 0; i < n; i++) LX_CHECK(t, y[i] == b[i] * 0.3f);
        }
        /* dot_add: bit for bit each row's dot, rounded times s, then added
        ** (what a loop of dots gives); rows of 1, 16 and 24 (a tail). */
        for (int k = 1; k <= 24; k += k == 1 ? 15 : 8) {
            const int rows = N / k;
            fill(a, rows * k, 1.0f);
            fill(b, k, 1.0f);
            fill(y, rows, 1.0f);
            memcpy(y0, y, rows * sizeof *y);
            ops->dot_add(y, a, b, k, rows, 0.37f);
            int same = 1;
            for (int o = 0; o < rows; o++) {
                const float p = 0.37f * ops->dot(a + (size_t)o * k, b, k);
                y0[o] += p;
                same &= memcmp(&y[o], &y0[o], sizeof *y) == 0;
            }
            LX_CHECK_MSG(t, same, "%s dot_add k=%d", nm, k);
        }
        /* exp over the whole range, and its edges. */
        float e[N];
        for (int i = 0; i < N; i++) e[i] = -110.0f + 200.0f * (float)i / N;
        e[0] = NAN, e[1] = INFINITY, e[2] = -INFINITY, e[3] = 88.72f, e[4] = -87.5f, e[5] = 0.0f;
        float e0[N];
        memcpy(e0, e, sizeof e);
        double sum = ops->exp_sum(e, N, 0.0f), ref_sum = 0;
        for (int i = 0; i < N; i++) {
            double r = exp((double)e0[i]);
            if (isnan(e0[i])) {
                LX_CHECK_MSG(t, isnan(e[i]), "%s exp(nan)", nm);
                continue;
            }
            ref_sum += e[i];
            if (r > FLT_MAX)
                LX_CHECK_MSG(t, isinf(e[i]), "%s exp(%g) = %g", nm, e0[i], e[i]);
            else
                LX_CHECK_MSG(t, fabs(e[i] - r) <= LX_TOL_EXP * r + 0x1p-149, "%s exp(%.9g) = %.9g",
                             nm, e0[i], e[i]);
        }
        LX_CHECK(t, isnan(sum)); /* the NaN counts */
        (void)ref_sum;
    }
}

/* The attention loops against a double-precision reference, for head
** sizes with and without a tail and past the register limit (264), row
** counts around the group of sixteen, and 1 to 8 queries per KV head
** (more than sum_rows' six at a time); a row's score must not depend on
** which other rows share its call, and a weighted sum split into two calls
** must equal one call. */
static void test_attention_rows(lx_t *t) {
    enum { ROWS = 1900, MAXD = 264, STRIDE = MAXD + 8, MAXQ = 8, NS = 1808 };
    static float x[ROWS * STRIDE], q[MAXQ * MAXD], s[MAXQ * NS], y[MAXQ * MAXD], w[MAXQ * NS];
    static const int hds[] = {64, 72, 128, 256, 264}, ns[] = {0, 1, 15, 16, 17, 37, 1800};
    static const int nqs[] = {1, 3, 6, 8};
    static int32_t idx[ROWS];
    float one;
    rng_seed(29);
    fill(x, ROWS * STRIDE, 1.0f);
    for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
        const lx_float_ops *ops = lx_float_ops_get((lx_isa)isa);
        const char *nm = lx_isa_name((lx_isa)isa);
        for (size_t a = 0; a < sizeof hds / sizeof *hds; a++)
            for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
                for (size_t e = 0; e < sizeof nqs / sizeof *nqs; e++) {
                    const int hd = hds[a], n = ns[b], nq = nqs[e];
                    fill(q, nq * hd, 1.0f);
                    fill(w, MAXQ * NS, 0.5f);
                    for (int r = 0; r < n; r++) idx[r] = (int32_t)((r * 17 + 5) % ROWS);
                    ops->dot_rows(q, nq, x, STRIDE, idx, n, hd, 0.125f, s, NS, NULL);
                    memset(y, 0, sizeof y);
                    ops->sum_rows(y, nq, w, NS, x, STRIDE, idx, n, hd);
                    /* Split at k and continued: the same sums, bit for bit. */
                    for (int k = 0; k <= n; k += n / 3 + 1) {
                        static float y2[MAXQ * MAXD];
                        memset(y2, 0, sizeof y2);
                        ops->sum_rows(y2, nq, w, NS, x, STRIDE, idx, k, hd);
                        ops->sum_rows(y2, nq, w + k, NS, x, STRIDE, idx + k, n - k, hd);
                        LX_CHECK_MSG(t, memcmp(y, y2, (size_t)nq * hd * sizeof *y) == 0,
                                     "%s sum_rows split at %d, hd=%d n=%d nq=%d", nm, k, hd, n, nq);
                    }
                    for (int j = 0; j < nq; j++) {
                        const float *qj = q + j * hd;
                        for (int r = 0; r < n; r++) {
                            const float *row = x + (size_t)idx[r] * STRIDE;
                            double ref = 0, mag = 0;
                            for (int i = 0; i < hd; i++) {
                                ref += (double)qj[i] * row[i];
                                mag += fabs((double)qj[i] * row[i]);
                            }
                            LX_CHECK_MSG(
                                t, fabs(s[j * NS + r] - 0.125 * ref) <= LX_TOL_DOT * 0.125 * mag,
                                "%s dot_rows hd=%d n=%d nq=%d [%d][%d]", nm, hd, n, nq, j, r);
                            if (r % 7 == 0) {
                                ops->dot_rows(qj, 1, x, STRIDE, &idx[r], 1, hd, 0.125f, &one, 1, x);
                                LX_CHECK_MSG(t, one == s[j * NS + r], "%s dot_rows alone hd=%d", nm,
                                             hd);
                            }
                        }
                        for (int i = 0; i < hd; i++) {
                            double ref = 0, mag = 0;
                            for (int r = 0; r < n; r++) {
                                double p = (double)w[j * NS + r] * x[(size_t)idx[r] * STRIDE + i];
                                ref += p;
                                mag += fabs(p);
                            }
                            LX_CHECK_MSG(t, fabs(y[j * hd + i] - ref) <= LX_TOL_DOT * mag,
                                         "%s sum_rows hd=%d n=%d nq=%d [%d][%d]", nm, hd, n, nq, j,
                                         i);
                        }
                    }
                }
    }
}

static void test_softmax(lx_t *t) {
    float x[300];
    rng_seed(17);
    for (int n = 1; n <= 300; n += 37) {
        fill(x, n, 5.0f);
        double m = -INFINITY, s = 0, ref[300], tol[300];
        for (int i = 0; i < n; i++) m = fmax(m, x[i]);
        for (int i = 0; i < n; i++) {
            s += ref[i] = exp(x[i] - m);
            /* x - m is rounded in float first: relative |x - m| * 2^-24. */
            tol[i] = 2e-6 + fabs(x[i] - m) * 0x1p-24;
        }
        lx_softmax(x, n);
        double total = 0;
        for (int i = 0; i < n; i++) {
            LX_CHECK_CLOSE(t, x[i], ref[i] / s, tol[i] * ref[i] / s + 1e-37);
            total += x[i];
        }
        LX_CHECK_CLOSE(t, total, 1.0, 1e-5);
    }
    float big[3] = {1000.0f, 999.0f, -INFINITY};
    lx_softmax(big, 3);
    LX_CHECK_CLOSE(t, big[0], 1.0 / (1.0 + exp(-1.0)), 1e-6);
    LX_CHECK(t, big[2] == 0.0f);
    float masked[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    lx_softmax(masked, 4);
    for (int i = 0; i < 4; i++) LX_CHECK(t, masked[i] == 0.25f);
    float one = -3.0f;
    lx_softmax(&one, 1);
    LX_CHECK(t, one == 1.0f);
    lx_softmax(NULL, 0);
    /* The public wrappers route to the active ISA. */
    float a[40], b[40];
    fill(a, 40, 1.0f);
    fill(b, 40, 1.0f);
    LX_CHECK(t, lx_dot_f32(a, b, 40) == lx_float_ops_get(lx_isa_active())->dot(a, b, 40));
}

void suite_kernels(void) {
    LX_RUN(test_fp16);
    LX_RUN(test_bf16);
    LX_RUN(test_traits);
    LX_RUN(test_isa);
    LX_RUN(test_dequant_blocks);
    LX_RUN(test_roundtrip);
    LX_RUN(test_quantize_rules);
    LX_RUN(test_quantize_isa);
    LX_RUN(test_quantize_blocks);
    LX_RUN(test_dot);
    LX_RUN(test_matmul);
    LX_RUN(test_matmul_invariant);
    LX_RUN(test_rmsnorm);
    LX_RUN(test_float_ops);
    LX_RUN(test_rope_isa);
    LX_RUN(test_exp_sum_order);
    LX_RUN(test_attention_rows);
    LX_RUN(test_softmax);
    lx_test_kernels_k();
}
