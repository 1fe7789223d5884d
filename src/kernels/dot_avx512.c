/*
** dot_avx512.c -- AVX-512 (F, BW, VL, DQ, VNNI) dot products and
** activation quantizers.
**
** Quantized blocks are 32 bytes, so they stay in ymm registers; what
** AVX-512 adds for them is VNNI's vpdpbusd, one instruction for the
** u8 x s8 multiply and the int32 sum that AVX2 does in two (and without
** AVX2's int16 saturation).  On the CPUs we target a ymm vpdpbusd runs at
** least as fast per byte as a zmm one.  The float dots use zmm and masked
** loads for the tails.  Results agree with the scalar path up to float
** summation order, as in dot_avx2.c.
*/
#include "kernels.h"
#include "tree_avx512.h"

#include <immintrin.h>
#include <string.h>

/* ==== Helpers ==== */

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

static inline __m256i nibbles(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

/* The 32 bits of qh as a byte mask: AVX-512BW turns bits into bytes
** directly. */
static inline __m256i bits_select(const uint8_t *p, __m256i if_set, __m256i if_clear) {
    uint32_t qh =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return _mm256_mask_blend_epi8((__mmask32)qh, if_clear, if_set);
}

static inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
    return _mm256_dpbusd_epi32(acc, u, s);
}

/* Signed x signed: |x| times y with x's sign.  y must not hold -128. */
static inline __m256i dot_s8s8(__m256i x, __m256i y) {
    return dpbusd(_mm256_setzero_si256(), _mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* ==== Float weights x F32 ==== */

static inline __m512 load_f32(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }

static inline __m512 load_f16(const uint16_t *p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static inline __m512 load_bf16(const uint16_t *p, __mmask16 m) {
    __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

#define DOT_FLOAT(name, xtype, load)                                                               \
    static void name(int64_t n, float *s, const void *vx, const void *vy) {                        \
        const xtype *x = vx;                                                                       \
        const float *y = vy;                                                                       \
        const __mmask16 all = 0xffff;                                                              \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                \
        int64_t i = 0;                                                                             \
        for (; i + 64 <= n; i += 64) {                                                             \
            a0 = _mm512_fmadd_ps(load(x + i, all), _mm512_loadu_ps(y + i), a0);                    \
            a1 = _mm512_fmadd_ps(load(x + i + 16, all), _mm512_loadu_ps(y + i + 16), a1);          \
            a2 = _mm512_fmadd_ps(load(x + i + 32, all), _mm512_loadu_ps(y + i + 32), a2);          \
            a3 = _mm512_fmadd_ps(load(x + i + 48, all), _mm512_loadu_ps(y + i + 48), a3);          \
        }                                                                                          \
        for (; i < n; i += 16) {                                                                   \
            __mmask16 m = n - i >= 16 ? all : (__mmask16)((1u << (n - i)) - 1);                    \
            a0 = _mm512_fmadd_ps(load(x + i, m), _mm512_maskz_loadu_ps(m, y + i), a0);             \
        }                                                                                          \
        *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));    \
    }

DOT_FLOAT(dot_f32, float, load_f32)
DOT_FLOAT(dot_f16, uint16_t, load_f16)
DOT_FLOAT(dot_bf16, uint16_t, load_bf16)

/* ==== 32-element blocks x Q8_0 / Q8_1 ==== */

/* The integer part of one block's dot: sum(q_x * q_y) in 8 int32 lanes,
** the weight's offset (8 for Q4_0, 16 for Q5_0) included. */
static inline __m256i ip_q4_0(const lx_block_q4_0 *x, const lx_block_q8_0 *y) {
    const __m256i qy = _mm256_loadu_si256((const __m256i *)y->qs);
    /* sum((q - 8) * y) = sum(q * y) - sum(8 * y), both unsigned x signed. */
    __m256i p = dpbusd(_mm256_setzero_si256(), nibbles(x->qs), qy);
    return _mm256_sub_epi32(p, dpbusd(_mm256_setzero_si256(), _mm256_set1_epi8(8), qy));
}

static inline __m256i ip_q4_1(const lx_block_q4_1 *x, const lx_block_q8_1 *y) {
    const __m256i qy = _mm256_loadu_si256((const __m256i *)y->qs);
    return dpbusd(_mm256_setzero_si256(), nibbles(x->qs), qy);
}

static inline __m256i ip_q5_0(const lx_block_q5_0 *x, const lx_block_q8_0 *y) {
    const __m256i qy = _mm256_loadu_si256((const __m256i *)y->qs);
    /* q = nibble + 16*bit; sum((q - 16) * y) = sum(q * y) - sum(16 * y). */
    __m256i q = _mm256_or_si256(nibbles(x->qs),
                                bits_select(x->qh, _mm256_set1_epi8(0x10), _mm256_setzero_si256()));
    __m256i p = dpbusd(_mm256_setzero_si256(), q, qy);
    return _mm256_sub_epi32(p, dpbusd(_mm256_setzero_si256(), _mm256_set1_epi8(16), qy));
}

static inline __m256i ip_q5_1(const lx_block_q5_1 *x, const lx_block_q8_1 *y) {
    const __m256i qy = _mm256_loadu_si256((const __m256i *)y->qs);
    __m256i q = _mm256_or_si256(nibbles(x->qs),
                                bits_select(x->qh, _mm256_set1_epi8(0x10), _mm256_setzero_si256()));
    return dpbusd(_mm256_setzero_si256(), q, qy);
}

static inline __m256i ip_q8_0(const lx_block_q8_0 *x, const lx_block_q8_0 *y) {
    return dot_s8s8(_mm256_loadu_si256((const __m256i *)x->qs),
                    _mm256_loadu_si256((const __m256i *)y->qs));
}

/* The first two fp16 of four blocks (d and m, or d and s) as eight floats
** [d0, m0, d1, m1, ...]: one conversion instead of eight scalar ones. */
static inline __m256 scales4(const void *p, size_t stride) {
    const uint8_t *b = p;
    uint32_t u0, u1, u2, u3;
    /* Built in registers: a 16-byte load of four 4-byte stores would miss
    ** store forwarding and stall. */
    memcpy(&u0, b, 4);
    memcpy(&u1, b + stride, 4);
    memcpy(&u2, b + 2 * stride, 4);
    memcpy(&u3, b + 3 * stride, 4);
    return _mm256_cvtph_ps(_mm_setr_epi32((int)u0, (int)u1, (int)u2, (int)u3));
}

static inline __m256 lane(__m256 v, int k) {
    return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(k));
}

/* One block per step, its scale product converted and broadcast on the
** spot; two accumulators hide the FMA latency.  Fastest for the types
** without a min. */
#define DOT_BLOCKS(name, xtype, ytype, ip)                                                         \
    static void name(int64_t n, float *s, const void *vx, const void *vy) {                        \
        const xtype *x = vx;                                                                       \
        const ytype *y = vy;                                                                       \
        const int64_t nb = n / LX_QK;                                                              \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                             \
        int64_t i = 0;                                                                             \
        for (; i + 2 <= nb; i += 2) {                                                              \
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d)),                      \
                                   _mm256_cvtepi32_ps(ip(x + i, y + i)), acc0);                    \
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i + 1].d) * h2f(y[i + 1].d)),              \
                                   _mm256_cvtepi32_ps(ip(x + i + 1, y + i + 1)), acc1);            \
        }                                                                                          \
        if (i < nb)                                                                                \
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d)),                      \
                                   _mm256_cvtepi32_ps(ip(x + i, y + i)), acc0);                    \
        *s = hsum_ps(_mm256_add_ps(acc0, acc1));                                                   \
    }

/* For the types with a min (Q4_1, Q5_1 against Q8_1), four blocks per
** step: the scale products d_x*d_y and m*s of four blocks come from one
** multiply of scales4 vectors (m*s in the odd lanes, summed there), where
** eight scalar conversions and a serial m*s sum made the one-block loop
** half as fast. */
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
            tail += h2f(((const uint16_t *)&x[i])[1]) * h2f(((const uint16_t *)&y[i])[1]);         \
        }                                                                                          \
        const __m256 odd = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));     \
        tail += hsum_ps(_mm256_and_ps(accm, odd));                                                 \
        *s = hsum_ps(_mm256_add_ps(acc0, acc1)) + tail;                                            \
    }

/* m (Q4_1/Q5_1) and s (Q8_1) are the second fp16 of their blocks. */
_Static_assert(offsetof(lx_block_q4_1, m) == 2 && offsetof(lx_block_q5_1, m) == 2 &&
                   offsetof(lx_block_q8_1, s) == 2,
               "second scale at byte 2");

DOT_BLOCKS(dot_q4_0, lx_block_q4_0, lx_block_q8_0, ip_q4_0)
DOT_BLOCKS_MIN(dot_q4_1, lx_block_q4_1, lx_block_q8_1, ip_q4_1)
DOT_BLOCKS(dot_q5_0, lx_block_q5_0, lx_block_q8_0, ip_q5_0)
DOT_BLOCKS_MIN(dot_q5_1, lx_block_q5_1, lx_block_q8_1, ip_q5_1)
DOT_BLOCKS(dot_q8_0, lx_block_q8_0, lx_block_q8_0, ip_q8_0)

/* ==== Activation quantizers ==== */

/* As dot_avx2.c's: scale 127/amax, round half to even; two zmm per block.
** Returns d = amax/127 and the sum of the quants in *sum. */
static inline float q8_block(const float *x, int8_t *qs, int *sum) {
    __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    const int rnd = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    __m512i i0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, id), rnd);
    __m512i i1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, id), rnd);
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    /* vpmovsdb keeps element order (unlike AVX2's lane-wise packs). */
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtsepi32_epi8(i1));
    return amax / 127.0f;
}

/* Sixteen blocks at a time, q8_block's arithmetic with the per-block
** reductions, divisions and fp16 conversions done for the sixteen in
** vectors: decoding quantizes a few rows before every product, on the
** calling thread, where the block at a time cost 0.3-0.4 ms of a 15 ms
** step with 8 sequences.  d[k], s[k] (fp16) and the quants of block k go
** to out (its d at byte 0, s at byte 2 for Q8_1, quants at qs_at). */
static void q8_blocks16(const float *x, uint8_t *out, size_t block, size_t qs_at, int with_s) {
    __m512 amax[16];
    __m512i isum[16];
    _Pragma("GCC unroll 16") for (int k = 0; k < 16; k++) amax[k] =
        _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 32 * k)),
                      _mm512_abs_ps(_mm512_loadu_ps(x + 32 * k + 16)));
    const __m512 am = lx_tree16(amax, LX_TREE_MAX);
    const __m512 v127 = _mm512_set1_ps(127.0f);
    const __m512 id =
        _mm512_maskz_div_ps(_mm512_cmp_ps_mask(am, _mm512_setzero_ps(), _CMP_NEQ_UQ), v127, am);
    const int rnd = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    _Pragma("GCC unroll 16") for (int k = 0; k < 16; k++) {
        const __m512 ik = _mm512_permutexvar_ps(_mm512_set1_epi32(k), id);
        __m512i i0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * k), ik), rnd);
        __m512i i1 =
            _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * k + 16), ik), rnd);
        int8_t *qs = (int8_t *)(out + (size_t)k * block + qs_at);
        _mm_storeu_si128((__m128i *)qs, _mm512_cvtsepi32_epi8(i0));
        _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtsepi32_epi8(i1));
        isum[k] = _mm512_add_epi32(i0, i1);
    }
    const __m512 d = _mm512_div_ps(am, v127);
    uint16_t dh[16], sh[16];
    _mm256_storeu_si256((__m256i *)dh, _mm512_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT));
    if (with_s) {
        __m512 sums[16];
        _Pragma("GCC unroll 16") for (int k = 0; k < 16; k++) sums[k] =
            _mm512_castsi512_ps(isum[k]);
        const __m512 sum =
            _mm512_cvtepi32_ps(_mm512_castps_si512(lx_tree16(sums, LX_TREE_ADD_EPI32)));
        _mm256_storeu_si256((__m256i *)sh,
                            _mm512_cvtps_ph(_mm512_mul_ps(d, sum), _MM_FROUND_TO_NEAREST_INT));
    }
    for (int k = 0; k < 16; k++) {
        memcpy(out + (size_t)k * block, &dh[k], 2);
        if (with_s) memcpy(out + (size_t)k * block + 2, &sh[k], 2);
    }
}

static void quantize_q8_0(const float *x, void *vy, int64_t n) {
    lx_block_q8_0 *y = vy;
    int64_t i = 0;
    for (; i + 16 <= n / LX_QK; i += 16)
        q8_blocks16(x + i * LX_QK, (uint8_t *)(y + i), sizeof *y, offsetof(lx_block_q8_0, qs), 0);
    int sum;
    for (; i < n / LX_QK; i++) y[i].d = _cvtss_sh(q8_block(x + i * LX_QK, y[i].qs, &sum), 0);
}

static void quantize_q8_1(const float *x, void *vy, int64_t n) {
    lx_block_q8_1 *y = vy;
    int64_t i = 0;
    for (; i + 16 <= n / LX_QK; i += 16)
        q8_blocks16(x + i * LX_QK, (uint8_t *)(y + i), sizeof *y, offsetof(lx_block_q8_1, qs), 1);
    int sum;
    for (; i < n / LX_QK; i++) {
        const float d = q8_block(x + i * LX_QK, y[i].qs, &sum);
        y[i].d = _cvtss_sh(d, 0);
        y[i].s = _cvtss_sh(d * (float)sum, 0);
    }
}

/* ==== Tables ==== */

lx_vec_dot_fn lx_dot_avx512_get(int type) {
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
    return lx_dot_k_avx512_get(type);
}

lx_from_float_fn lx_quantize_avx512_get(int vec_dot_type) {
    switch (vec_dot_type) {
    case LX_TYPE_Q8_0: return quantize_q8_0;
    case LX_TYPE_Q8_1: return quantize_q8_1;
    }
    return NULL;
}
