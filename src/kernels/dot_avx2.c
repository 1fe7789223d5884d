/*
** dot_avx2.c -- AVX2 (+FMA, F16C) dot products and activation quantizers.
**
** Built with -mavx2 -mfma -mf16c and reached only through isa.c after the
** CPU said it has them.  Each quantized block becomes 32 bytes in one ymm
** register; products are summed exactly in int32 and scaled once per block
** by the product of the two block scales, so results equal the scalar
** path's up to float summation order.
**
** The activation quantizers are the ones llama.cpp runs on x86: scale
** 127/amax and round-half-even (_mm256_round_ps), where the plain-C
** reference uses 1/(amax/127) and roundf.  The two can differ by one unit
** on a handful of elements; both are correct quantizations.
*/
#include "kernels.h"

#include <immintrin.h>
#include <string.h>

/* ==== Helpers ==== */

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* 16 bytes of nibbles -> 32 bytes 0..15: low nibbles first, then high
** ones, which is the element order of the legacy blocks. */
static inline __m256i nibbles(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

/* The 32 bits of qh (little-endian bytes) -> 32 bytes, 0xff where set. */
static inline __m256i bits_to_bytes(const uint8_t *p) {
    uint32_t qh =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    __m256i v = _mm256_set1_epi32((int)qh);
    v = _mm256_shuffle_epi8(
        v, _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* Sum of u[i]*s[i] (u unsigned, s signed bytes) in 8 int32 lanes.  maddubs
** saturates pairs at int16; the callers keep |u| <= 128 and |s| <= 127, so
** a pair stays within 32512. */
static inline __m256i dot_u8s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* Signed x signed: move x's sign onto y.  y must not hold -128 (the Q8
** quantizers never produce it). */
static inline __m256i dot_s8s8(__m256i x, __m256i y) {
    return dot_u8s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* ==== Float weights x F32 ==== */

static void dot_f32(int64_t n, float *s, const void *vx, const void *vy) {
    const float *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

static inline __m256 load_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load_bf16(const uint16_t *p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

#define DOT_HALF(name, load, conv)                                                                 \
    static void name(int64_t n, float *s, const void *vx, const void *vy) {                        \
        const uint16_t *x = vx;                                                                    \
        const float *y = vy;                                                                       \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                \
        int64_t i = 0;                                                                             \
        for (; i + 32 <= n; i += 32) {                                                             \
            a0 = _mm256_fmadd_ps(load(x + i), _mm256_loadu_ps(y + i), a0);                         \
            a1 = _mm256_fmadd_ps(load(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);                 \
            a2 = _mm256_fmadd_ps(load(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);               \
            a3 = _mm256_fmadd_ps(load(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);               \
        }                                                                                          \
        for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load(x + i), _mm256_loadu_ps(y + i), a0);  \
        float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));          \
        for (; i < n; i++) sum += conv(x[i]) * y[i];                                               \
        *s = sum;                                                                                  \
    }

DOT_HALF(dot_f16, load_f16, h2f)
DOT_HALF(dot_bf16, load_bf16, lx_bf16_to_f32)

/* ==== 32-element blocks x Q8_0 / Q8_1 ==== */

/* One function per block type: acc + (d_x*d_y) * sum(q_x*q_y) over one
** block.  Q4_1/Q5_1 also add m*s to *summs. */
static inline __m256 blk_q4_0(const lx_block_q4_0 *x, const lx_block_q8_0 *y, __m256 acc,
                              float *summs) {
    (void)summs;
    const __m256 d = _mm256_set1_ps(h2f(x->d) * h2f(y->d));
    __m256i qx = _mm256_sub_epi8(nibbles(x->qs), _mm256_set1_epi8(8));
    __m256i qy = _mm256_loadu_si256((const __m256i *)y->qs);
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8s8(qx, qy)), acc);
}

static inline __m256 blk_q5_0(const lx_block_q5_0 *x, const lx_block_q8_0 *y, __m256 acc,
                              float *summs) {
    (void)summs;
    const __m256 d = _mm256_set1_ps(h2f(x->d) * h2f(y->d));
    /* q - 16 as a signed byte: the nibble, with 0xf0 OR-ed in where the
    ** fifth bit is clear. */
    __m256i hi = _mm256_andnot_si256(bits_to_bytes(x->qh), _mm256_set1_epi8((char)0xf0));
    __m256i qx = _mm256_or_si256(nibbles(x->qs), hi);
    __m256i qy = _mm256_loadu_si256((const __m256i *)y->qs);
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8s8(qx, qy)), acc);
}

static inline __m256 blk_q8_0(const lx_block_q8_0 *x, const lx_block_q8_0 *y, __m256 acc,
                              float *summs) {
    (void)summs;
    const __m256 d = _mm256_set1_ps(h2f(x->d) * h2f(y->d));
    __m256i qx = _mm256_loadu_si256((const __m256i *)x->qs);
    __m256i qy = _mm256_loadu_si256((const __m256i *)y->qs);
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8s8(qx, qy)), acc);
}

/* Two accumulators, blocks alternating, hide the FMA latency. */
#define DOT_BLOCKS(name, xtype, ytype, blk)                                                        \
    static void name(int64_t n, float *s, const void *vx, const void *vy) {                        \
        const xtype *x = vx;                                                                       \
        const ytype *y = vy;                                                                       \
        const int64_t nb = n / LX_QK;                                                              \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                             \
        float summs0 = 0.0f, summs1 = 0.0f; /* two chains for the latency */                       \
        int64_t i = 0;                                                                             \
        for (; i + 2 <= nb; i += 2) {                                                              \
            acc0 = blk(x + i, y + i, acc0, &summs0);                                               \
            acc1 = blk(x + i + 1, y + i + 1, acc1, &summs1);                                       \
        }                                                                                          \
        if (i < nb) acc0 = blk(x + i, y + i, acc0, &summs0);                                       \
        *s = hsum_ps(_mm256_add_ps(acc0, acc1)) + (summs0 + summs1);                               \
    }

DOT_BLOCKS(dot_q4_0, lx_block_q4_0, lx_block_q8_0, blk_q4_0)
DOT_BLOCKS(dot_q5_0, lx_block_q5_0, lx_block_q8_0, blk_q5_0)
DOT_BLOCKS(dot_q8_0, lx_block_q8_0, lx_block_q8_0, blk_q8_0)

/* Q4_1 and Q5_1 (against Q8_1): four blocks per step, their scale
** products d_x*d_y and m*s from one multiply of two vectors of the blocks'
** leading fp16 pairs (m*s in the odd lanes, summed there).  Eight scalar
** fp16 conversions and a serial m*s sum per block made the one-block loop
** about 1.5x slower. */
static inline __m256i ip_q4_1(const lx_block_q4_1 *x, const lx_block_q8_1 *y) {
    return dot_u8s8(nibbles(x->qs), _mm256_loadu_si256((const __m256i *)y->qs));
}

static inline __m256i ip_q5_1(const lx_block_q5_1 *x, const lx_block_q8_1 *y) {
    __m256i hi = _mm256_and_si256(bits_to_bytes(x->qh), _mm256_set1_epi8(0x10));
    return dot_u8s8(_mm256_or_si256(nibbles(x->qs), hi),
                    _mm256_loadu_si256((const __m256i *)y->qs));
}

/* [d0, m0, d1, m1, ...] of four blocks, built in registers (a 16-byte load
** of four 4-byte stores would miss store forwarding). */
static inline __m256 scales4(const void *p, size_t stride) {
    const uint8_t *b = p;
    uint32_t u0, u1, u2, u3;
    memcpy(&u0, b, 4);
    memcpy(&u1, b + stride, 4);
    memcpy(&u2, b + 2 * stride, 4);
    memcpy(&u3, b + 3 * stride, 4);
    return _mm256_cvtph_ps(_mm_setr_epi32((int)u0, (int)u1, (int)u2, (int)u3));
}

static inline __m256 lane(__m256 v, int k) {
    return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(k));
}

#define DOT_BLOCKS_MIN(name, xtype, ytype, ip)                                                     \
    static void name(int64_t n, float *s, const void *vx, const void *vy) {                        \
        const xtype *x = vx;                                                                       \
        const ytype *y = vy;                                                                       \
        const int64_t nb = n / LX_QK;                                                              \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                             \
        __m256 accm = _mm256_setzero_ps();                                                         \
        int64_t i = 0;                                                                             \
        for (; i + 4 <= nb; i += 4) {                                                              \
            const __m256 p = _mm256_mul_ps(scales4(x + i, sizeof *x), scales4(y + i, sizeof *y));  \
            accm = _mm256_add_ps(accm, p);                                                         \
            acc0 = _mm256_fmadd_ps(lane(p, 0), _mm256_cvtepi32_ps(ip(x + i, y + i)), acc0);        \
            acc1 =                                                                                 \
                _mm256_fmadd_ps(lane(p, 2), _mm256_cvtepi32_ps(ip(x + i + 1, y + i + 1)), acc1);   \
            acc0 =                                                                                 \
                _mm256_fmadd_ps(lane(p, 4), _mm256_cvtepi32_ps(ip(x + i + 2, y + i + 2)), acc0);   \
            acc1 =                                                                                 \
                _mm256_fmadd_ps(lane(p, 6), _mm256_cvtepi32_ps(ip(x + i + 3, y + i + 3)), acc1);   \
        }                                                                                          \
        float tail = 0.0f;                                                                         \
        for (; i < nb; i++) {                                                                      \
            const float d = h2f(x[i].d) * h2f(y[i].d);                                             \
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(ip(x + i, y + i)), acc0); \
            tail += h2f(x[i].m) * h2f(y[i].s);                                                     \
        }                                                                                          \
        const __m256 odd = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));     \
        *s = hsum_ps(_mm256_add_ps(acc0, acc1)) + (tail + hsum_ps(_mm256_and_ps(accm, odd)));      \
    }

_Static_assert(offsetof(lx_block_q4_1, m) == 2 && offsetof(lx_block_q5_1, m) == 2 &&
                   offsetof(lx_block_q8_1, s) == 2,
               "second scale at byte 2");

DOT_BLOCKS_MIN(dot_q4_1, lx_block_q4_1, lx_block_q8_1, ip_q4_1)
DOT_BLOCKS_MIN(dot_q5_1, lx_block_q5_1, lx_block_q8_1, ip_q5_1)

/* ==== Activation quantizers ==== */

/* One block of 32 floats -> 32 int8 at round(x * 127/amax); returns the
** scale d = amax/127 and the int32 lane sums of the quants in *lanes. */
static inline float q8_block(const float *x, int8_t *qs, __m256i *lanes) {
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1));
    m = _mm256_max_ps(m, _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    const int rnd = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, id), rnd));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, id), rnd));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, id), rnd));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, id), rnd));
    *lanes = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    /* The packs work per 128-bit lane; the permute restores element order. */
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qs, p);
    return amax / 127.0f;
}

static void quantize_q8_0(const float *x, void *vy, int64_t n) {
    lx_block_q8_0 *y = vy;
    __m256i lanes;
    for (int64_t i = 0; i < n / LX_QK; i++, x += LX_QK)
        y[i].d = _cvtss_sh(q8_block(x, y[i].qs, &lanes), 0);
}

static void quantize_q8_1(const float *x, void *vy, int64_t n) {
    lx_block_q8_1 *y = vy;
    __m256i lanes;
    for (int64_t i = 0; i < n / LX_QK; i++, x += LX_QK) {
        const float d = q8_block(x, y[i].qs, &lanes);
        y[i].d = _cvtss_sh(d, 0);
        y[i].s = _cvtss_sh(d * (float)hsum_epi32(lanes), 0);
    }
}

/* ==== Tables ==== */

lx_vec_dot_fn lx_dot_avx2_get(int type) {
    switch (type) {
    case LX_TYPE_F32: return dot_f32;
    case LX_TYPE_F16: return dot_f16;
    case LX_TYPE_BF16: return dot_bf16;
    case LX_TYPE_Q4_0: return dot_q4_0;
    case LX_TYPE_Q4_1: return dot_q4_1;
    case LX_TYPE_Q5_0: return dot_q5_0;
    case LX_TYPE_Q5_1: return dot_q5_1;
    case LX_TYPE_Q8_0: return dot_q8_0;
    }
    return lx_dot_k_avx2_get(type);
}

lx_from_float_fn lx_quantize_avx2_get(int vec_dot_type) {
    switch (vec_dot_type) {
    case LX_TYPE_Q8_0: return quantize_q8_0;
    case LX_TYPE_Q8_1: return quantize_q8_1;
    }
    return lx_quantize_k_avx2_get(vec_dot_type);
}
