/*
** types.c -- the tensor type table, fp16/bf16 conversion, and the reference
** (plain C) quantizers and dequantizers of the float and 32-element types.
**
** These reference routines define what each block means: the SIMD kernels
** and the tests are checked against them.  They follow ggml's reference
** code (ggml-quants.c) formula by formula, so a GGUF file dequantizes to the
** same floats here as in llama.cpp.  The K types live in types_k.c.
**
** Scale overflow: block scales are stored as fp16, so a block whose scale
** exceeds 65504 (for Q8_0, |x| above about 8.3e6) stores an infinite scale,
** exactly as ggml does; it dequantizes to +-inf, or NaN where q is 0.
** Activations of real models are many orders of magnitude below that.
*/
#include "kernels.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ==== fp16 and bf16 ==== */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float lx_fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        /* Zero or subnormal: mant * 2^-24, exact in float. */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (mant << 13)); /* inf, NaN */
    return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t lx_f32_to_fp16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) return sign | 0x7e00 | (uint16_t)((u >> 13) & 0x3ff); /* quiet NaN */
    /* 65520 is halfway between 65504 (odd mantissa) and 65536: it and
    ** everything above round to inf. */
    if (u >= 0x477ff000u) return sign | 0x7c00;
    if (u < 0x38800000u) {
        /* Below 2^-14: a subnormal half.  Adding 0.5 puts the value's bits
        ** at the position of half's 2^-24 unit and lets the FPU round to
        ** nearest even; the mantissa then is the half bit pattern. */
        float v = f32_from_bits(u) + 0.5f;
        return sign | (uint16_t)(f32_bits(v) - 0x3f000000u);
    }
    uint32_t odd = (u >> 13) & 1;
    u += ((uint32_t)(15 - 127) << 23) + 0xfff + odd; /* rebias; round to nearest even */
    return sign | (uint16_t)(u >> 13);
}

float lx_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

uint16_t lx_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    /* Overflow rounds to inf, as it should. */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/* ==== Float types ==== */

static void f32_to_float(const void *x, float *y, int64_t n) { memcpy(y, x, (size_t)n * 4); }
static void f32_from_float(const float *x, void *y, int64_t n) { memcpy(y, x, (size_t)n * 4); }

static void f16_to_float(const void *vx, float *y, int64_t n) {
    const uint16_t *x = vx;
    for (int64_t i = 0; i < n; i++) y[i] = lx_fp16_to_f32(x[i]);
}

static void f16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i++) y[i] = lx_f32_to_fp16(x[i]);
}

static void bf16_to_float(const void *vx, float *y, int64_t n) {
    const uint16_t *x = vx;
    for (int64_t i = 0; i < n; i++) y[i] = lx_bf16_to_f32(x[i]);
}

static void bf16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i++) y[i] = lx_f32_to_bf16(x[i]);
}

/* ==== Legacy 32-element types ==== */

/* float -> int with the float-to-int cast made safe: NaN gives 0 and values
** are clamped to [lo, hi], where ggml would have undefined behaviour. */
static int clamp_int(float v, int lo, int hi) {
    if (v != v) return 0;
    if (v <= (float)lo) return lo;
    if (v >= (float)hi) return hi;
    return (int)v;
}

/* The element of largest magnitude, with its sign (the first one on ties). */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void q4_0_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q4_0 *y = vy;
    for (int64_t i = 0; i < n / LX_QK; i++, x += LX_QK) {
        /* d = max / -8 maps the extreme element to q = 0 exactly. */
        const float d = signed_absmax(x, LX_QK) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = lx_f32_to_fp16(d);
        for (int j = 0; j < LX_QK / 2; j++) {
            int q0 = clamp_int(x[j] * id + 8.5f, 0, 15);
            int q1 = clamp_int(x[j + LX_QK / 2] * id + 8.5f, 0, 15);
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void q4_0_to_float(const void *vx, float *y, int64_t n) {
    const lx_block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / LX_QK; i++, y += LX_QK) {
        const float d = lx_fp16_to_f32(x[i].d);
        for (int j = 0; j < LX_QK / 2; j++) {
            y[j] = ((x[i].qs[j] & 0x0f) - 8) * d;
            y[j + LX_QK / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* Min and max of a block; min starts at FLT_MAX like ggml's. */
static void min_max(const float *x, int n, float *pmin, float *pmax) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *pmin = lo;
    *pmax = hi;
}

static void q4_1_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q4_1 *y = vy;
    for (int64_t i = 0; i < n / LX_QK; i++, x += LX_QK) {
        float lo, hi;
        min_max(x, LX_QK, &lo, &hi);
        const float d = (hi - lo) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = lx_f32_to_fp16(d);
        y[i].m = lx_f32_to_fp16(lo);
        for (int j = 0; j < LX_QK / 2; j++) {
            int q0 = clamp_int((x[j] - lo) * id + 0.5f, 0, 15);
            int q1 = clamp_int((x[j + LX_QK / 2] - lo) * id + 0.5f, 0, 15);
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void q4_1_to_float(const void *vx, float *y, int64_t n) {
    const lx_block_q4_1 *x = vx;
    for (int64_t i = 0; i < n / LX_QK; i++, y += LX_QK) {
        const float d = lx_fp16_to_f32(x[i].d), m = lx_fp16_to_f32(x[i].m);
        for (int j = 0; j < LX_QK / 2; j++) {
            y[j] = (x[i].qs[j] & 0x0f) * d + m;
            y[j + LX_QK / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void q5_0_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q5_0 *y = vy;
    for (int64_t i = 0; i < n / LX_QK; i++, x += LX_QK) {
        const float d = signed_absmax(x, LX_QK) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        y[i].d = lx_f32_to_fp16(d);
        for (int j = 0; j < LX_QK / 2; j++) {
            int q0 = clamp_int(x[j] * id + 16.5f, 0, 31);
            int q1 = clamp_int(x[j + LX_QK / 2] * id + 16.5f, 0, 31);
            y[i].qs[j] = (uint8_t)((q0 & 0x0f) | (q1 & 0x0f) << 4);
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + LX_QK / 2);
        }
        for (int k = 0; k < 4; k++) y[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

static uint32_t load_qh(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void q5_0_to_float(const void *vx, float *y, int64_t n) {
    const lx_block_q5_0 *x = vx;
    for (int64_t i = 0; i < n / LX_QK; i++, y += LX_QK) {
        const float d = lx_fp16_to_f32(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < LX_QK / 2; j++) {
            int q0 = (x[i].qs[j] & 0x0f) | ((qh >> j) & 1) << 4;
            int q1 = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            y[j] = (q0 - 16) * d;
            y[j + LX_QK / 2] = (q1 - 16) * d;
        }
    }
}

static void q5_1_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q5_1 *y = vy;
    for (int64_t i = 0; i < n / LX_QK; i++, x += LX_QK) {
        float lo, hi;
        min_max(x, LX_QK, &lo, &hi);
        const float d = (hi - lo) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        y[i].d = lx_f32_to_fp16(d);
        y[i].m = lx_f32_to_fp16(lo);
        for (int j = 0; j < LX_QK / 2; j++) {
            int q0 = clamp_int((x[j] - lo) * id + 0.5f, 0, 31);
            int q1 = clamp_int((x[j + LX_QK / 2] - lo) * id + 0.5f, 0, 31);
            y[i].qs[j] = (uint8_t)((q0 & 0x0f) | (q1 & 0x0f) << 4);
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + LX_QK / 2);
        }
        for (int k = 0; k < 4; k++) y[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

static void q5_1_to_float(const void *vx, float *y, int64_t n) {
    const lx_block_q5_1 *x = vx;
    for (int64_t i = 0; i < n / LX_QK; i++, y += LX_QK) {
        const float d = lx_fp16_to_f32(x[i].d), m = lx_fp16_to_f32(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < LX_QK / 2; j++) {
            int q0 = (x[i].qs[j] & 0x0f) | ((qh >> j) & 1) << 4;
            int q1 = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            y[j] = q0 * d + m;
            y[j + LX_QK / 2] = q1 * d + m;
        }
    }
}

/* Q8_0 and Q8_1 share the scale rule d = amax / 127 and round half away
** from zero (roundf), as ggml's reference does. */
static float q8_block(const float *x, int8_t *qs, int *sum) {
    float amax = 0.0f;
    for (int j = 0; j < LX_QK; j++) amax = LX_MAX(amax, fabsf(x[j]));
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    int s = 0;
    for (int j = 0; j < LX_QK; j++) {
        qs[j] = (int8_t)clamp_int(roundf(x[j] * id), -127, 127);
        s += qs[j];
    }
    *sum = s;
    return d;
}

static void q8_0_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q8_0 *y = vy;
    int sum;
    for (int64_t i = 0; i < n / LX_QK; i++, x += LX_QK)
        y[i].d = lx_f32_to_fp16(q8_block(x, y[i].qs, &sum));
}

static void q8_0_to_float(const void *vx, float *y, int64_t n) {
    const lx_block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / LX_QK; i++, y += LX_QK) {
        const float d = lx_fp16_to_f32(x[i].d);
        for (int j = 0; j < LX_QK; j++) y[j] = x[i].qs[j] * d;
    }
}

static void q8_1_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q8_1 *y = vy;
    int sum;
    for (int64_t i = 0; i < n / LX_QK; i++, x += LX_QK) {
        const float d = q8_block(x, y[i].qs, &sum);
        y[i].d = lx_f32_to_fp16(d);
        y[i].s = lx_f32_to_fp16((float)sum * d); /* from the float d, as ggml */
    }
}

static void q8_1_to_float(const void *vx, float *y, int64_t n) {
    const lx_block_q8_1 *x = vx;
    for (int64_t i = 0; i < n / LX_QK; i++, y += LX_QK) {
        const float d = lx_fp16_to_f32(x[i].d);
        for (int j = 0; j < LX_QK; j++) y[j] = x[i].qs[j] * d;
    }
}

/* ==== The table ==== */

#define T(id, nm, bs, sz, vdt, to, from) [id] = {nm, bs, sz, vdt, to, from}

/* Float weights take F32 activations (ggml would use F16 for F16 weights):
** one rounding fewer, and the float kernels are memory-bound anyway. */
static const lx_type_traits traits[LX_TYPE_COUNT] = {
    T(LX_TYPE_F32, "F32", 1, 4, LX_TYPE_F32, f32_to_float, f32_from_float),
    T(LX_TYPE_F16, "F16", 1, 2, LX_TYPE_F32, f16_to_float, f16_from_float),
    T(LX_TYPE_BF16, "BF16", 1, 2, LX_TYPE_F32, bf16_to_float, bf16_from_float),
    T(LX_TYPE_Q4_0, "Q4_0", LX_QK, sizeof(lx_block_q4_0), LX_TYPE_Q8_0, q4_0_to_float,
      q4_0_from_float),
    T(LX_TYPE_Q4_1, "Q4_1", LX_QK, sizeof(lx_block_q4_1), LX_TYPE_Q8_1, q4_1_to_float,
      q4_1_from_float),
    T(LX_TYPE_Q5_0, "Q5_0", LX_QK, sizeof(lx_block_q5_0), LX_TYPE_Q8_0, q5_0_to_float,
      q5_0_from_float),
    T(LX_TYPE_Q5_1, "Q5_1", LX_QK, sizeof(lx_block_q5_1), LX_TYPE_Q8_1, q5_1_to_float,
      q5_1_from_float),
    T(LX_TYPE_Q8_0, "Q8_0", LX_QK, sizeof(lx_block_q8_0), LX_TYPE_Q8_0, q8_0_to_float,
      q8_0_from_float),
    T(LX_TYPE_Q8_1, "Q8_1", LX_QK, sizeof(lx_block_q8_1), LX_TYPE_Q8_1, q8_1_to_float,
      q8_1_from_float),
    T(LX_TYPE_Q2_K, "Q2_K", LX_QK_K, sizeof(lx_block_q2_k), LX_TYPE_Q8_K, lx_q2_k_to_float,
      lx_q2_k_from_float),
    T(LX_TYPE_Q3_K, "Q3_K", LX_QK_K, sizeof(lx_block_q3_k), LX_TYPE_Q8_K, lx_q3_k_to_float,
      lx_q3_k_from_float),
    T(LX_TYPE_Q4_K, "Q4_K", LX_QK_K, sizeof(lx_block_q4_k), LX_TYPE_Q8_K, lx_q4_k_to_float,
      lx_q4_k_from_float),
    T(LX_TYPE_Q5_K, "Q5_K", LX_QK_K, sizeof(lx_block_q5_k), LX_TYPE_Q8_K, lx_q5_k_to_float,
      lx_q5_k_from_float),
    T(LX_TYPE_Q6_K, "Q6_K", LX_QK_K, sizeof(lx_block_q6_k), LX_TYPE_Q8_K, lx_q6_k_to_float,
      lx_q6_k_from_float),
    T(LX_TYPE_Q8_K, "Q8_K", LX_QK_K, sizeof(lx_block_q8_k), LX_TYPE_Q8_K, lx_q8_k_to_float,
      lx_q8_k_from_float),
};

const lx_type_traits *lx_type_traits_get(int type) {
    if (type < 0 || type >= LX_TYPE_COUNT || !traits[type].name) return NULL;
    return &traits[type];
}

const char *lx_type_name(int type) {
    const lx_type_traits *t = lx_type_traits_get(type);
    return t ? t->name : "unknown";
}

size_t lx_row_size(int type, int64_t n) {
    const lx_type_traits *t = lx_type_traits_get(type);
    if (!t || n < 0 || n % t->blck_size) return 0;
    size_t out;
    if (!lx_mul_ok((size_t)(n / t->blck_size), t->type_size, &out)) return 0;
    return out;
}
