/*
** dot_scalar.c -- the plain-C dot products, one per weight type, against
** that type's vec_dot_type.
**
** These are the reference the SIMD kernels are tested against, and the
** path on CPUs without AVX2.  The quantized ones follow ggml's formulas:
** an exact integer sum per block, then one float multiply-add with the
** two block scales, so results match llama.cpp up to float summation
** order.  The float ones accumulate in double: being the reference, they
** should be the most accurate, not the fastest.
*/
#include "kernels.h"

/* ==== Float weights x F32 activations ==== */

/* Four double accumulators: the reference should be accurate, and one
** chain of dependent adds would make it needlessly slow as well. */
#define DOT_FLOAT(name, xtype, conv)                                                               \
    static void name(int64_t n, float *s, const void *vx, const void *vy) {                        \
        const xtype *x = vx;                                                                       \
        const float *y = vy;                                                                       \
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;                                             \
        int64_t i = 0;                                                                             \
        for (; i + 4 <= n; i += 4) {                                                               \
            s0 += (double)conv(x[i]) * y[i];                                                       \
            s1 += (double)conv(x[i + 1]) * y[i + 1];                                               \
            s2 += (double)conv(x[i + 2]) * y[i + 2];                                               \
            s3 += (double)conv(x[i + 3]) * y[i + 3];                                               \
        }                                                                                          \
        for (; i < n; i++) s0 += (double)conv(x[i]) * y[i];                                        \
        *s = (float)((s0 + s1) + (s2 + s3));                                                       \
    }

static inline float f32_id(float v) { return v; }
static inline float bf16_inline(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

DOT_FLOAT(dot_f32, float, f32_id)
DOT_FLOAT(dot_f16, uint16_t, lx_fp16_to_f32_inline)
DOT_FLOAT(dot_bf16, uint16_t, bf16_inline)

/* ==== 32-element blocks ==== */

static uint32_t load_qh(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void dot_q4_0(int64_t n, float *s, const void *vx, const void *vy) {
    const lx_block_q4_0 *x = vx;
    const lx_block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / LX_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < LX_QK / 2; j++) {
            sumi += ((x[i].qs[j] & 0x0f) - 8) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + LX_QK / 2];
        }
        sum += sumi * lx_fp16_to_f32_inline(x[i].d) * lx_fp16_to_f32_inline(y[i].d);
    }
    *s = sum;
}

/* sum((q*d + m) * q8*d8) = d*d8*sum(q*q8) + m*s8, where s8 = d8*sum(q8) is
** stored (rounded to fp16) in the Q8_1 block. */
static void dot_q4_1(int64_t n, float *s, const void *vx, const void *vy) {
    const lx_block_q4_1 *x = vx;
    const lx_block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / LX_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < LX_QK / 2; j++) {
            sumi += (x[i].qs[j] & 0x0f) * y[i].qs[j];
            sumi += (x[i].qs[j] >> 4) * y[i].qs[j + LX_QK / 2];
        }
        sum += (lx_fp16_to_f32_inline(x[i].d) * lx_fp16_to_f32_inline(y[i].d)) * sumi +
               lx_fp16_to_f32_inline(x[i].m) * lx_fp16_to_f32_inline(y[i].s);
    }
    *s = sum;
}

static void dot_q5_0(int64_t n, float *s, const void *vx, const void *vy) {
    const lx_block_q5_0 *x = vx;
    const lx_block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / LX_QK; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < LX_QK / 2; j++) {
            int q0 = (x[i].qs[j] & 0x0f) | ((qh >> j) & 1) << 4;
            int q1 = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            sumi += (q0 - 16) * y[i].qs[j] + (q1 - 16) * y[i].qs[j + LX_QK / 2];
        }
        sum += sumi * lx_fp16_to_f32_inline(x[i].d) * lx_fp16_to_f32_inline(y[i].d);
    }
    *s = sum;
}

static void dot_q5_1(int64_t n, float *s, const void *vx, const void *vy) {
    const lx_block_q5_1 *x = vx;
    const lx_block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / LX_QK; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < LX_QK / 2; j++) {
            int q0 = (x[i].qs[j] & 0x0f) | ((qh >> j) & 1) << 4;
            int q1 = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            sumi += q0 * y[i].qs[j] + q1 * y[i].qs[j + LX_QK / 2];
        }
        sum += (lx_fp16_to_f32_inline(x[i].d) * lx_fp16_to_f32_inline(y[i].d)) * sumi +
               lx_fp16_to_f32_inline(x[i].m) * lx_fp16_to_f32_inline(y[i].s);
    }
    *s = sum;
}

static void dot_q8_0(int64_t n, float *s, const void *vx, const void *vy) {
    const lx_block_q8_0 *x = vx;
    const lx_block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / LX_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < LX_QK; j++) sumi += x[i].qs[j] * y[i].qs[j];
        sum += sumi * (lx_fp16_to_f32_inline(x[i].d) * lx_fp16_to_f32_inline(y[i].d));
    }
    *s = sum;
}

/* Q8_1 weights are unusual (ggml only uses it for activations) but cost
** nothing to support. */
static void dot_q8_1(int64_t n, float *s, const void *vx, const void *vy) {
    const lx_block_q8_1 *x = vx;
    const lx_block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / LX_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < LX_QK; j++) sumi += x[i].qs[j] * y[i].qs[j];
        sum += sumi * (lx_fp16_to_f32_inline(x[i].d) * lx_fp16_to_f32_inline(y[i].d));
    }
    *s = sum;
}

lx_vec_dot_fn lx_dot_scalar_get(int type) {
    switch (type) {
    case LX_TYPE_F32: return dot_f32;
    case LX_TYPE_F16: return dot_f16;
    case LX_TYPE_BF16: return dot_bf16;
    case LX_TYPE_Q4_0: return dot_q4_0;
    case LX_TYPE_Q4_1: return dot_q4_1;
    case LX_TYPE_Q5_0: return dot_q5_0;
    case LX_TYPE_Q5_1: return dot_q5_1;
    case LX_TYPE_Q8_0: return dot_q8_0;
    case LX_TYPE_Q8_1: return dot_q8_1;
    }
    return lx_dot_scalar_k_get(type);
}
