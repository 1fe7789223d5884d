/*
** test_kernels_k.c -- the K types' bit layouts on hand-built super-blocks,
** and the batched-matmul tile kernels against the dot kernels (part of
** suite kernels; run from test_kernels.c).
**
** Each layout test packs known quants and scales by the layout as
** ggml-common.h documents it, written out here independently of
** types_k.c, and expects the dequantizer to give d*sc*q - dmin*m element by
** element.  The random round trips and SIMD-vs-scalar checks of every type
** live in test_kernels.c.
*/
#include "kernels/kernels.h"
#include "lx_test.h"

#include <stdlib.h>
#include <string.h>

/* Tile vs dot: both sum exact per-block integers; only the float
** summation order differs.  Relative to sum |w_i a_i| + |m s| terms. */
#define LX_TOL_TILE 1e-5

static float deq1(int type, const void *blk, int k) {
    float y[LX_QK_K];
    lx_type_traits_get(type)->to_float(blk, y, LX_QK_K);
    return y[k];
}

static void test_q4_k_q5_k_layout(lx_t *t) {
    lx_block_q4_k b4;
    lx_block_q5_k b5;
    int sc[8], mn[8];
    for (int j = 0; j < 8; j++) sc[j] = 1 + 7 * j, mn[j] = 63 - 5 * j; /* use all 6 bits */
    memset(&b4, 0, sizeof b4);
    b4.d = lx_f32_to_fp16(0.5f);
    b4.dmin = lx_f32_to_fp16(0.25f);
    for (int j = 0; j < 4; j++) {
        b4.scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        b4.scales[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
        b4.scales[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
    /* byte 32c + l: element 64c + l low, 64c + 32 + l high. */
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            b4.qs[32 * c + l] = (uint8_t)(((l + c) % 16) | ((15 - l % 16) << 4));
    memset(&b5, 0, sizeof b5);
    b5.d = b4.d;
    b5.dmin = b4.dmin;
    memcpy(b5.scales, b4.scales, 12);
    memcpy(b5.qs, b4.qs, sizeof b5.qs);
    for (int l = 0; l < 32; l++) b5.qh[l] = (uint8_t)(l * 37 + 11); /* bit j: element 32j + l */
    int bad4 = 0, bad5 = 0;
    for (int k = 0; k < 256; k++) {
        const int c = k / 64, l = k % 32, j = k / 32;
        int q = (k / 32) % 2 ? 15 - l % 16 : (l + c) % 16;
        float want = 0.5f * sc[j] * q - 0.25f * mn[j];
        bad4 += deq1(LX_TYPE_Q4_K, &b4, k) != want;
        q += ((b5.qh[l] >> j) & 1) * 16;
        want = 0.5f * sc[j] * q - 0.25f * mn[j];
        bad5 += deq1(LX_TYPE_Q5_K, &b5, k) != want;
    }
    LX_CHECK_INT(t, bad4, 0);
    LX_CHECK_INT(t, bad5, 0);
}

static void test_q6_k_layout(lx_t *t) {
    lx_block_q6_k b;
    memset(&b, 0, sizeof b);
    b.d = lx_f32_to_fp16(0.125f);
    for (int j = 0; j < 16; j++) b.scales[j] = (int8_t)(j * 17 - 128);
    int q[256];
    for (int k = 0; k < 256; k++) q[k] = (k * 7 + k / 64) % 64;
    /* Element 128h + 32g + l: low nibble in ql[64h + 32(g%2) + l] (high
    ** nibble for g >= 2), top two bits at bit 2g of qh[32h + l]. */
    for (int k = 0; k < 256; k++) {
        const int h = k / 128, g = (k / 32) % 4, l = k % 32;
        b.ql[64 * h + 32 * (g % 2) + l] |= (uint8_t)((q[k] & 15) << (4 * (g / 2)));
        b.qh[32 * h + l] |= (uint8_t)((q[k] >> 4) << (2 * g));
    }
    int bad = 0;
    for (int k = 0; k < 256; k++)
        bad += deq1(LX_TYPE_Q6_K, &b, k) != 0.125f * b.scales[k / 16] * (q[k] - 32);
    LX_CHECK_INT(t, bad, 0);
}

static void test_q2_k_q3_k_layout(lx_t *t) {
    lx_block_q2_k b2;
    lx_block_q3_k b3;
    memset(&b2, 0, sizeof b2);
    memset(&b3, 0, sizeof b3);
    b2.d = b3.d = lx_f32_to_fp16(2.0f);
    b2.dmin = lx_f32_to_fp16(0.5f);
    int q[256], s3[16];
    for (int j = 0; j < 16; j++) {
        b2.scales[j] = (uint8_t)((j * 5 % 16) | (15 - j) << 4);
        s3[j] = (j * 23 + 5) % 64; /* stored 6-bit value; the scale is s3 - 32 */
        if (j < 8)
            b3.scales[j] |= (uint8_t)(s3[j] & 15);
        else
            b3.scales[j - 8] |= (uint8_t)((s3[j] & 15) << 4);
        b3.scales[8 + j % 4] |= (uint8_t)((s3[j] >> 4) << (2 * (j / 4)));
    }
    for (int k = 0; k < 256; k++) {
        q[k] = (k * 5 + k / 32) % 8; /* 3 bits; Q2_K uses the low two */
        const int h = k / 128, g = (k / 32) % 4, l = k % 32;
        b2.qs[32 * h + l] |= (uint8_t)((q[k] & 3) << (2 * g));
        b3.qs[32 * h + l] |= (uint8_t)((q[k] & 3) << (2 * g));
        b3.hmask[l] |= (uint8_t)((q[k] >> 2) << (k / 32));
    }
    int bad2 = 0, bad3 = 0;
    for (int k = 0; k < 256; k++) {
        const int j = k / 16;
        float want2 = 2.0f * (b2.scales[j] & 15) * (q[k] & 3) - 0.5f * (b2.scales[j] >> 4);
        bad2 += deq1(LX_TYPE_Q2_K, &b2, k) != want2;
        /* Q3_K: the high bit set means the quant stands; clear means -4. */
        float want3 = 2.0f * (s3[j] - 32) * ((q[k] & 3) - (q[k] & 4 ? 0 : 4));
        bad3 += deq1(LX_TYPE_Q3_K, &b3, k) != want3;
    }
    LX_CHECK_INT(t, bad2, 0);
    LX_CHECK_INT(t, bad3, 0);
}

/* Q8_K's rule is exactly ggml's: d = max / -127 (max the signed extreme),
** quants rounded half to even, bsums the sums of 16. */
static void test_q8_k_rule(lx_t *t) {
    float x[256];
    for (int k = 0; k < 256; k++) x[k] = (float)((k % 19) - 9) * 0.5f; /* many ties */
    x[7] = -127.0f; /* the extreme, negative: iscale = 1, d = 1 */
    lx_block_q8_k b;
    lx_type_traits_get(LX_TYPE_Q8_K)->from_float(x, &b, 256);
    LX_CHECK(t, b.d == 1.0f);
    LX_CHECK_INT(t, b.qs[7], -127);
    /* x[k] = v/2 with v = k%19 - 9: odd v are ties, which go to even. */
    LX_CHECK_INT(t, b.qs[10], 0); /* 0.5 */
    LX_CHECK_INT(t, b.qs[12], 2); /* 1.5 */
    LX_CHECK_INT(t, b.qs[14], 2); /* 2.5 */
    LX_CHECK_INT(t, b.qs[8], 0);  /* -0.5 */
    LX_CHECK_INT(t, b.qs[6], -2); /* -1.5 */
    LX_CHECK_INT(t, b.qs[4], -2); /* -2.5 */
    LX_CHECK_INT(t, b.qs[17], 4); /* 4 */
    for (int k = 0; k < 256; k++) LX_CHECK_INT(t, b.qs[k], (int)nearbyintf(x[k]));
    for (int j = 0; j < 16; j++) {
        int sum = 0;
        for (int l = 0; l < 16; l++) sum += b.qs[16 * j + l];
        LX_CHECK_INT(t, b.bsums[j], sum);
    }
    memset(x, 0, sizeof x);
    lx_type_traits_get(LX_TYPE_Q8_K)->from_float(x, &b, 256);
    LX_CHECK(t, b.d == 0.0f && b.qs[100] == 0 && b.bsums[3] == 0);
}

/* The SIMD Q8_K quantizers reproduce the reference bit for bit (the rule
** has no slack: it is ggml's), including ties and a negative extreme
** that has a positive twin of the same magnitude after it. */
static void test_q8_k_simd(lx_t *t) {
    enum { N = 4 * 256 };
    static float x[N];
    static lx_block_q8_k r[N / 256], v[N / 256];
    uint32_t s = 7;
    for (int k = 0; k < N; k++)
        x[k] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1.0f;
    for (int k = 256; k < 512; k++) x[k] = (float)((k % 19) - 9) * 0.5f; /* ties */
    x[300] = -127.0f;
    x[301] = 127.0f;                     /* same magnitude, later: the first one sets the sign */
    memset(x + 512, 0, 256 * sizeof *x); /* a zero block */
    x[1000] = 1e-30f;                    /* a tiny one */
    lx_type_traits_get(LX_TYPE_Q8_K)->from_float(x, r, N);
    for (int isa = LX_ISA_AVX2; isa <= (int)lx_isa_best(); isa++) {
        memset(v, 0x55, sizeof v);
        lx_quantize_get(LX_TYPE_Q8_K, (lx_isa)isa)(x, v, N);
        for (int b = 0; b < N / 256; b++) {
            LX_CHECK_MSG(t, v[b].d == r[b].d, "%s block %d: d %g vs %g", lx_isa_name((lx_isa)isa),
                         b, v[b].d, r[b].d);
            LX_CHECK(t, memcmp(v[b].qs, r[b].qs, sizeof v[b].qs) == 0);
            LX_CHECK(t, memcmp(v[b].bsums, r[b].bsums, sizeof v[b].bsums) == 0);
        }
    }
}

/* ==== Tiles ==== */

static void test_gemm_tiles(lx_t *t) {
    static const int types[] = {LX_TYPE_Q4_0, LX_TYPE_Q4_1, LX_TYPE_Q5_0, LX_TYPE_Q5_1,
                                LX_TYPE_Q8_0, LX_TYPE_Q2_K, LX_TYPE_Q3_K, LX_TYPE_Q4_K,
                                LX_TYPE_Q5_K, LX_TYPE_Q6_K};
    enum { N = 2048, R = LX_GEMM_RM, C = LX_GEMM_RN };
    float *w = malloc(R * N * sizeof *w), *a = malloc(C * N * sizeof *a);
    float *wd = malloc(N * sizeof *wd), *ad = malloc(N * sizeof *ad);
    uint32_t s = 99;
    for (int i = 0; i < R * N; i++)
        w[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (int i = 0; i < C * N; i++)
        a[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1.0f;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const lx_type_traits *tr = lx_type_traits_get(types[ti]);
        const lx_type_traits *vt = lx_type_traits_get(tr->vec_dot_type);
        const size_t bx = lx_row_size(types[ti], N), by = lx_row_size(tr->vec_dot_type, N);
        uint8_t *wq = malloc(R * bx), *aq = malloc(C * by);
        for (int r = 0; r < R; r++) tr->from_float(w + r * N, wq + r * bx, N);
        for (int c = 0; c < C; c++) vt->from_float(a + c * N, aq + c * by, N);
        for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
            lx_gemm_fn g = lx_gemm_get(types[ti], (lx_isa)isa);
            if (!g) continue;
            lx_vec_dot_fn dot = lx_vec_dot_get(types[ti], (lx_isa)isa);
            float out[C][R + 3]; /* lds = R + 3: the stride is honoured */
            for (int c = 0; c < C; c++)
                for (int r = 0; r < R + 3; r++) out[c][r] = -7.0f;
            g(N, &out[0][0], R + 3, wq, bx, aq, by);
            for (int r = 0; r < R; r++) {
                tr->to_float(wq + r * bx, wd, N);
                for (int c = 0; c < C; c++) {
                    vt->to_float(aq + c * by, ad, N);
                    double mag = 0;
                    for (int i = 0; i < N; i++) mag += fabs((double)wd[i] * ad[i]);
                    /* The min terms (Q4_1/Q5_1's m * s, the K types' dmin * m * bsum),
                    ** summed apart from the rest: bounded by |min| <= 0.5 times |a|. */
                    const int mins = tr->vec_dot_type == LX_TYPE_Q8_1 ||
                                     types[ti] == LX_TYPE_Q2_K || types[ti] == LX_TYPE_Q4_K ||
                                     types[ti] == LX_TYPE_Q5_K;
                    if (mins)
                        for (int i = 0; i < N; i++) mag += 2 * 0.5 * fabs(ad[i]);
                    float want;
                    dot(N, &want, wq + r * bx, aq + c * by);
                    LX_CHECK_MSG(t, fabs(out[c][r] - want) <= LX_TOL_TILE * mag,
                                 "%s %s tile[%d][%d] %.9g vs dot %.9g", tr->name,
                                 lx_isa_name((lx_isa)isa), r, c, out[c][r], want);
                }
            }
            for (int c = 0; c < C; c++)
                for (int r = R; r < R + 3; r++) LX_CHECK(t, out[c][r] == -7.0f);
            /* Batch invariance: the column kernel (or, where there is none,
            ** the dot) gives every pair of the tile bit for bit. */
            lx_gemm_fn col = lx_gemm_col_get(types[ti], (lx_isa)isa);
            for (int c = 0; c < C; c++) {
                float one[R];
                if (col)
                    col(N, one, 1, wq, bx, aq + c * by, 0);
                else
                    for (int r = 0; r < R; r++) dot(N, &one[r], wq + r * bx, aq + c * by);
                for (int r = 0; r < R; r++)
                    LX_CHECK_MSG(t, memcmp(&one[r], &out[c][r], sizeof one[r]) == 0,
                                 "%s %s %s[%d][%d] %.9g vs tile %.9g", tr->name,
                                 lx_isa_name((lx_isa)isa), col ? "column" : "dot", r, c, one[r],
                                 out[c][r]);
            }
        }
        free(wq);
        free(aq);
    }
    free(w), free(a), free(wd), free(ad);
}

/* ==== SIMD K kernels on raw bits ==== */

/* SIMD vs scalar K dots (and tiles) on super-blocks of random bytes: every
** bit of every field is exercised, scales and quants at their extremes
** included, which quantizing floats rarely reaches.  Integer sums are
** exact on every path, so only the float summation order differs:
** relative to sum over super-blocks of |d d8| sum |sc q q8| + |dmin d8|
** sum |m bsum|. */
#define LX_TOL_SIMD_K 1e-5

static uint32_t rnd_k(uint32_t *s) { return (*s = *s * 1664525u + 1013904223u) >> 8; }

/* n / 256 random super-blocks of type (fp16 d and dmin kept finite). */
static void random_k_blocks(int type, uint8_t *x, int64_t n, uint32_t *s, int extreme) {
    const size_t bs = lx_type_traits_get(type)->type_size;
    for (int64_t i = 0; i < n / LX_QK_K; i++) {
        uint8_t *b = x + (size_t)i * bs;
        for (size_t k = 0; k < bs; k++) b[k] = extreme ? 0xff : (uint8_t)rnd_k(s);
        uint16_t d = lx_f32_to_fp16(((float)(rnd_k(s) % 2001) - 1000.0f) * 1e-5f);
        uint16_t dmin = lx_f32_to_fp16(((float)(rnd_k(s) % 2001) - 1000.0f) * 1e-5f);
        switch (type) {
        case LX_TYPE_Q2_K: ((lx_block_q2_k *)b)->d = d, ((lx_block_q2_k *)b)->dmin = dmin; break;
        case LX_TYPE_Q3_K: ((lx_block_q3_k *)b)->d = d; break;
        case LX_TYPE_Q4_K: ((lx_block_q4_k *)b)->d = d, ((lx_block_q4_k *)b)->dmin = dmin; break;
        case LX_TYPE_Q5_K: ((lx_block_q5_k *)b)->d = d, ((lx_block_q5_k *)b)->dmin = dmin; break;
        case LX_TYPE_Q6_K: ((lx_block_q6_k *)b)->d = d; break;
        }
    }
}

/* Random Q8_K rows with consistent bsums; extreme: all +127 or all -127. */
static void random_q8_k(lx_block_q8_k *y, int64_t n, uint32_t *s, int extreme) {
    for (int64_t i = 0; i < n / LX_QK_K; i++) {
        y[i].d = (float)(1 + rnd_k(s) % 1000) * 1e-4f;
        for (int k = 0; k < LX_QK_K; k++)
            y[i].qs[k] = (int8_t)(extreme ? (i % 2 ? -127 : 127) : (int)(rnd_k(s) % 255) - 127);
        for (int j = 0; j < LX_QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
    }
}

static double k_magnitude(int type, const uint8_t *x, const lx_block_q8_k *y, int64_t n) {
    const size_t bs = lx_type_traits_get(type)->type_size;
    double mag = 0;
    for (int64_t i = 0; i < n / LX_QK_K; i++) {
        lx_k_unpacked u;
        lx_k_unpack(type, x + (size_t)i * bs, &u);
        const int sub = LX_QK_K / u.n_sub;
        double si = 0, sm = 0;
        for (int k = 0; k < LX_QK_K; k++) {
            si += fabs((double)u.sc[k / sub] * u.q[k] * y[i].qs[k]);
            sm += fabs((double)u.m[k / sub] * y[i].qs[k]);
        }
        mag += fabs((double)u.d * y[i].d) * si + fabs((double)u.dmin * y[i].d) * sm;
    }
    return mag;
}

static void test_k_simd_raw(lx_t *t) {
    static const int types[] = {LX_TYPE_Q2_K, LX_TYPE_Q3_K, LX_TYPE_Q4_K, LX_TYPE_Q5_K,
                                LX_TYPE_Q6_K};
    enum { N = 1024, R = LX_GEMM_RM, C = LX_GEMM_RN };
    static lx_block_q8_k y[C][N / LX_QK_K];
    static uint8_t x[R][N / LX_QK_K * sizeof(lx_block_q6_k)];
    uint32_t s = 2024;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const int type = types[ti];
        const size_t bx = lx_row_size(type, N);
        LX_REQUIRE(t, bx <= sizeof x[0]);
        for (int extreme = 0; extreme < 2; extreme++) {
            for (int r = 0; r < R; r++) random_k_blocks(type, x[r], N, &s, extreme);
            for (int c = 0; c < C; c++) random_q8_k(y[c], N, &s, extreme);
            float ref[C][R];
            double mag[C][R];
            for (int r = 0; r < R; r++)
                for (int c = 0; c < C; c++) {
                    lx_vec_dot_get(type, LX_ISA_SCALAR)(N, &ref[c][r], x[r], y[c]);
                    mag[c][r] = k_magnitude(type, x[r], y[c], N);
                }
            for (int isa = LX_ISA_AVX2; isa <= (int)lx_isa_best(); isa++) {
                lx_vec_dot_fn dot = lx_vec_dot_get(type, (lx_isa)isa);
                lx_gemm_fn g = lx_gemm_get(type, (lx_isa)isa);
                float out[C][R];
                if (g) g(N, &out[0][0], R, x, sizeof x[0], y, sizeof y[0]);
                for (int r = 0; r < R; r++)
                    for (int c = 0; c < C; c++) {
                        float v = NAN;
                        dot(N, &v, x[r], y[c]);
                        const double tol = LX_TOL_SIMD_K * mag[c][r] + 1e-30;
                        LX_CHECK_MSG(t, fabs(v - ref[c][r]) <= tol,
                                     "%s %s%s dot[%d][%d] %.9g vs scalar %.9g", lx_type_name(type),
                                     lx_isa_name((lx_isa)isa), extreme ? " extreme" : "", r, c, v,
                                     ref[c][r]);
                        if (g)
                            LX_CHECK_MSG(t, fabs(out[c][r] - ref[c][r]) <= tol,
                                         "%s %s%s tile[%d][%d] %.9g vs scalar %.9g",
                                         lx_type_name(type), lx_isa_name((lx_isa)isa),
                                         extreme ? " extreme" : "", r, c, out[c][r], ref[c][r]);
                    }
            }
        }
    }
}

/* On an AVX-512 CPU the K types get their own AVX-512 kernels, not the
** AVX2 fallback, so the loops above really run them. */
static void test_k_avx512_dispatch(lx_t *t) {
    if (lx_isa_best() < LX_ISA_AVX512) return;
    static const int types[] = {LX_TYPE_Q2_K, LX_TYPE_Q3_K, LX_TYPE_Q4_K, LX_TYPE_Q5_K,
                                LX_TYPE_Q6_K};
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const int type = types[ti];
        LX_CHECK_MSG(t, lx_vec_dot_get(type, LX_ISA_AVX512) == lx_dot_k_avx512_get(type), "%s dot",
                     lx_type_name(type));
        LX_CHECK(t, lx_vec_dot_get(type, LX_ISA_AVX512) != lx_vec_dot_get(type, LX_ISA_AVX2));
        LX_CHECK(t, lx_vec_dot_get(type, LX_ISA_AVX2) != lx_vec_dot_get(type, LX_ISA_SCALAR));
        LX_CHECK_MSG(t, lx_gemm_get(type, LX_ISA_AVX512) == lx_gemm_k_avx512_get(type), "%s tile",
                     lx_type_name(type));
        LX_CHECK(t, lx_gemm_get(type, LX_ISA_AVX512) != lx_gemm_get(type, LX_ISA_AVX2));
        LX_CHECK(t, lx_gemm_get(type, LX_ISA_AVX512) != NULL);
    }
}

/* Which rows go to tiles depends only on the shape, not on the threads:
** results are bit-identical for any pool size. */
static void test_matmul_deterministic(lx_t *t) {
    enum { ROWS = 45, COLS = 512, B = 11 };
    lexie_error err;
    lx_pool *p1 = lx_pool_new(1, &err), *p3 = lx_pool_new(3, &err);
    LX_REQUIRE(t, p1 && p3);
    float *w = malloc(ROWS * COLS * sizeof *w), *x = malloc(B * COLS * sizeof *x);
    float *y1 = malloc(ROWS * B * sizeof *y1), *y3 = malloc(ROWS * B * sizeof *y3);
    uint32_t s = 3;
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (int i = 0; i < B * COLS; i++)
        x[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    static const int types[] = {LX_TYPE_Q4_1, LX_TYPE_Q8_0, LX_TYPE_Q4_K, LX_TYPE_F16};
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const lx_type_traits *tr = lx_type_traits_get(types[ti]);
        void *wq = malloc(lx_row_size(types[ti], COLS) * ROWS);
        void *qbuf = malloc(lx_matmul_qbuf_size(types[ti], COLS, B) + 1);
        tr->from_float(w, wq, ROWS * COLS);
        for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
            lx_matmul_isa(p1, (lx_isa)isa, wq, types[ti], ROWS, COLS, x, B, y1, qbuf);
            lx_matmul_isa(p3, (lx_isa)isa, wq, types[ti], ROWS, COLS, x, B, y3, qbuf);
            LX_CHECK_MSG(t, memcmp(y1, y3, ROWS * B * sizeof *y1) == 0, "%s %s", tr->name,
                         lx_isa_name((lx_isa)isa));
        }
        free(wq);
        free(qbuf);
    }
    free(w), free(x), free(y1), free(y3);
    lx_pool_free(p1);
    lx_pool_free(p3);
}

void lx_test_kernels_k(void) {
    LX_RUN(test_matmul_deterministic);
    LX_RUN(test_gemm_tiles);
    LX_RUN(test_k_simd_raw);
    LX_RUN(test_k_avx512_dispatch);
    LX_RUN(test_q4_k_q5_k_layout);
    LX_RUN(test_q6_k_layout);
    LX_RUN(test_q2_k_q3_k_layout);
    LX_RUN(test_q8_k_rule);
    LX_RUN(test_q8_k_simd);
}
