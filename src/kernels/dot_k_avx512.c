/*
** dot_k_avx512.c -- AVX-512 (BW, VNNI) dot products and batched-matmul
** tiles of the K types against Q8_K activations.
**
** The scheme of dot_k_avx2.c, twice as wide: a zmm holds 64 weight quants,
** two groups of 32, unpacked to unsigned bytes (Q6_K's 0..63, Q3_K's 0..7
** before their offsets) and multiplied with the 64 activation bytes by
** maddubs into 32 int16 pair sums; VNNI's vpdpwssd then multiplies those
** by the sub-block scales and adds them to int32 lanes in one instruction
** (AVX2 needs madd and add).  Unpacking uses what AVX-512 adds: Q4_K and
** Q5_K read 64 quant bytes at once and pair their nibble planes by one
** 256-bit shuffle; Q6_K, Q3_K and Q2_K broadcast 32 bytes to both halves
** and shift only the upper one (a masked shift); the high bits of Q5_K and
** Q3_K become byte masks by vptestmb and are added by a masked add.  The
** scales are spread over the pair sums by one vpermw per 64 quants from a
** register that holds the super-block's 8 or 16.  The 12 packed scale
** bytes are unpacked in vector lanes.
**
** vpdpbusd (u8 x s8 straight into int32, four products a lane) would save
** the maddubs, but the int32 lanes would then need a multiply by their
** scale (vpmulld) and an add: three instructions per 64 quants, not two.
** Measured on Zen 4 and not kept: vpshufb instead of vpermw to spread the
** scales (equal for unsigned scales, 10% slower for the signed ones, which
** need a shift more), and two accumulator chains per row (2%).
**
** Offsets (32 for Q6_K, 4 for Q3_K) and mins (Q2_K, Q4_K, Q5_K) go
** through Q8_K's bsums as in the AVX2 file, so the integer sums are exact
** and results equal the scalar path's up to float summation order.
** maddubs cannot saturate: 63 * 127 * 2 = 16002 at most.
*/
#include "kernels.h"

#include <immintrin.h>

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

static inline float hsum256_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline __m512i load64(const void *p) { return _mm512_loadu_si512(p); }

/* 32 bytes in both halves of a zmm, the upper half shifted right by s
** bits (in 16-bit lanes: callers mask away what crosses bytes). */
static inline __m512i bcast_shift_hi(const void *p, int s) {
    const __m512i b = _mm512_broadcast_i64x4(load32(p));
    return _mm512_mask_srli_epi16(b, (__mmask32)0xffff0000u, b, (unsigned)s);
}

/* Q4_K/Q5_K: byte 32c + l holds element 64c + l (low nibble) and 64c + 32
** + l (high).  64 bytes (c = 2h, 2h + 1) thus give groups 4h, 4h + 2 in
** their low nibbles and 4h + 1, 4h + 3 in their high ones; one shuffle of
** 256-bit halves pairs them in element order: q[0] = groups 4h, 4h + 1,
** q[1] = 4h + 2, 4h + 3.  (One 64-byte load, one shift: 9% faster than
** broadcasting 32 bytes per pair.) */
static inline void nibble_groups(const uint8_t *qs, __m512i *q) {
    const __m512i low = _mm512_set1_epi8(0x0f), b = load64(qs);
    const __m512i lo = _mm512_and_si512(b, low);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(b, 4), low);
    q[0] = _mm512_shuffle_i64x2(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
    q[1] = _mm512_shuffle_i64x2(lo, hi, _MM_SHUFFLE(3, 2, 3, 2));
}

/* Word-index vectors for vpermw: words 0-15 take scale 0, 16-31 scale 1
** (32-element sub-blocks); or words 8k..8k+7 take scale k (16-element
** sub-blocks).  Adding 2 (or 4) moves to the next 64 quants. */
static inline __m512i idx32(void) {
    return _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(1), 1);
}
static inline __m512i idx16(void) {
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_setr_epi16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)),
        _mm256_setr_epi16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), 1);
}

/* acc + scale * (q . q8) over 64 quants: maddubs, then vpdpwssd. */
static inline __m512i group2(__m512i acc, __m512i q, const int8_t *q8, __m512i scale) {
    return _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(q, load64(q8)), scale);
}

/* The 12 scale bytes of Q3_K/Q4_K/Q5_K as three dwords in an xmm.  A
** masked load: 16 bytes would run past the last block.  Unpacking them in
** vector lanes, not in a uint32[4] read back as a vector, avoids a stalled
** store-to-load forward (several small stores, one wide load) that cost
** about as much as the rest of a super-block. */
static inline __m128i load12(const uint8_t *s) { return _mm_maskz_loadu_epi32(0x7, s); }

/* Q4_K/Q5_K's 12 scale bytes (dwords u0 u1 u2) -> 8 scales then 8 mins,
** one per byte: scales 0-3 = u0 & 0x3f, scales 4-7 = (u2 & 0xf) | (u0 >>
** 6) << 4, mins 0-3 = u1 & 0x3f, mins 4-7 = (u2 >> 4 & 0xf) | (u1 >> 6)
** << 4, bytewise. */
static inline __m128i scale_min_bytes(const uint8_t *s) {
    const __m128i u = load12(s);
    const __m128i a = _mm_shuffle_epi32(u, _MM_SHUFFLE(2, 1, 2, 0)); /* u0 u2 u1 u2 */
    const __m128i b = _mm_shuffle_epi32(u, _MM_SHUFFLE(1, 1, 0, 0)); /* u0 u0 u1 u1 */
    const __m128i m = _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f);
    const __m128i lo = _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)), m);
    const __m128i hi =
        _mm_and_si128(_mm_srli_epi32(b, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm_or_si128(lo, hi);
}

/* Q3_K's 12 scale bytes (dwords a0 a1 a2) -> 16 signed scales (bias
** removed): low four bits from the nibbles of a0 a1 a0 a1 (low, low, high,
** high), the top two from a2's bit pairs 0, 2, 4, 6. */
static inline __m128i q3_scale_bytes(const uint8_t *s) {
    const __m128i a = load12(s);
    const __m128i v = _mm_shuffle_epi32(a, _MM_SHUFFLE(1, 0, 1, 0));
    const __m128i w = _mm_shuffle_epi32(a, _MM_SHUFFLE(2, 2, 2, 2));
    const __m128i lo =
        _mm_and_si128(_mm_srlv_epi32(v, _mm_setr_epi32(0, 0, 4, 4)), _mm_set1_epi8(0x0f));
    const __m128i hi = _mm_slli_epi32(
        _mm_and_si128(_mm_srlv_epi32(w, _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(0x03)), 4);
    return _mm_sub_epi8(_mm_or_si128(lo, hi), _mm_set1_epi8(32));
}

static const uint8_t pairs8[16] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7};

/* ==== Per type: one super-block against NY activation rows ==== */

/* As in dot_k_avx2.c: each sb_* adds, per activation row c, (d_x d_y)
** sum_j sc_j (q . q8)_j (offsets included) to acc[c] and (dmin_x d_y)
** sum_j m_j bsum_j to accm[c]; a weight group is unpacked once for all NY
** rows (1 for the dot, 4 for the tile). */

#define FOR_Y _Pragma("GCC unroll 4") for (int c = 0; c < ny; c++)

static inline void finish(float d, const lx_block_q8_k *const *y, int ny, const __m512i *sumi,
                          __m512 *acc) {
    FOR_Y acc[c] =
        _mm512_fmadd_ps(_mm512_set1_ps(d * y[c]->d), _mm512_cvtepi32_ps(sumi[c]), acc[c]);
}

/* Mins: m16 holds one int16 per bsum (Q4_K/Q5_K repeat each min twice). */
static inline void mins_acc(float dmin, const lx_block_q8_k *const *y, int ny, __m256i m16,
                            __m256 *accm) {
    FOR_Y accm[c] =
        _mm256_fmadd_ps(_mm256_set1_ps(dmin * y[c]->d),
                        _mm256_cvtepi32_ps(_mm256_madd_epi16(load32(y[c]->bsums), m16)), accm[c]);
}

/* -off * sum_j sc_j * bsum_j: the start of the sums of Q6_K and Q3_K,
** whose stored quants are q + off (off = 1 << shift). */
static inline void offset_start(const lx_block_q8_k *const *y, int ny, __m128i sc, int shift,
                                __m512i *sumi) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc);
    FOR_Y sumi[c] = _mm512_zextsi256_si512(_mm256_sub_epi32(
        _mm256_setzero_si256(),
        _mm256_sll_epi32(_mm256_madd_epi16(load32(y[c]->bsums), sc16), _mm_cvtsi32_si128(shift))));
}

static inline void zero4(__m512i *v) {
    for (int c = 0; c < 4; c++) v[c] = _mm512_setzero_si512();
}

static inline void sb_q4_k(const lx_block_q4_k *x, const lx_block_q8_k *const *y, int ny,
                           __m512 *acc, __m256 *accm) {
    const __m128i sm = scale_min_bytes(x->scales);
    mins_acc(h2f(x->dmin), y, ny,
             _mm256_cvtepu8_epi16(
                 _mm_shuffle_epi8(_mm_srli_si128(sm, 8), _mm_loadu_si128((const __m128i *)pairs8))),
             accm);
    const __m512i scales = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(sm));
    const __m512i two = _mm512_set1_epi16(2);
    __m512i idx = idx32(), sumi[4];
    zero4(sumi);
    for (int h = 0; h < 2; h++) {
        __m512i q[2];
        nibble_groups(x->qs + 64 * h, q);
        const __m512i s0 = _mm512_permutexvar_epi16(idx, scales);
        idx = _mm512_add_epi16(idx, two);
        const __m512i s1 = _mm512_permutexvar_epi16(idx, scales);
        idx = _mm512_add_epi16(idx, two);
        FOR_Y {
            sumi[c] = group2(sumi[c], q[0], y[c]->qs + 128 * h, s0);
            sumi[c] = group2(sumi[c], q[1], y[c]->qs + 128 * h + 64, s1);
        }
    }
    finish(h2f(x->d), y, ny, sumi, acc);
}

static inline void sb_q5_k(const lx_block_q5_k *x, const lx_block_q8_k *const *y, int ny,
                           __m512 *acc, __m256 *accm) {
    const __m128i sm = scale_min_bytes(x->scales);
    mins_acc(h2f(x->dmin), y, ny,
             _mm256_cvtepu8_epi16(
                 _mm_shuffle_epi8(_mm_srli_si128(sm, 8), _mm_loadu_si128((const __m128i *)pairs8))),
             accm);
    const __m512i scales = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(sm));
    const __m512i two = _mm512_set1_epi16(2);
    const __m512i sixteen = _mm512_set1_epi8(0x10);
    const __m512i qh = _mm512_broadcast_i64x4(load32(x->qh));
    /* Bit 2c of qh[l] is element 64c + l's fifth bit, bit 2c + 1 that of
    ** element 64c + 32 + l: test bit 2c in the lower half, 2c + 1 in the
    ** upper, and move both up two per step. */
    __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(2), 1);
    __m512i idx = idx32(), sumi[4];
    zero4(sumi);
    for (int h = 0; h < 2; h++) {
        __m512i q[2];
        nibble_groups(x->qs + 64 * h, q);
        /* Unrolled: otherwise GCC may keep q[] in memory
        ** (10% of the tile's speed). */
        _Pragma("GCC unroll 2") for (int p = 0; p < 2; p++) {
            q[p] = _mm512_mask_add_epi8(q[p], _mm512_test_epi8_mask(qh, bit), q[p], sixteen);
            const __m512i s = _mm512_permutexvar_epi16(idx, scales);
            FOR_Y sumi[c] = group2(sumi[c], q[p], y[c]->qs + 128 * h + 64 * p, s);
            idx = _mm512_add_epi16(idx, two);
            bit = _mm512_slli_epi16(bit, 2); /* 0x01 -> 0x40, 0x02 -> 0x80: stays in its byte */
        }
    }
    finish(h2f(x->d), y, ny, sumi, acc);
}

static inline void sb_q6_k(const lx_block_q6_k *x, const lx_block_q8_k *const *y, int ny,
                           __m512 *acc, __m256 *accm) {
    (void)accm;
    const __m128i sc = _mm_loadu_si128((const __m128i *)x->scales);
    const __m512i scales = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc));
    const __m512i low = _mm512_set1_epi8(0x0f), top = _mm512_set1_epi8(0x30);
    const __m512i four = _mm512_set1_epi16(4);
    __m512i sumi[4];
    offset_start(y, ny, sc, 5, sumi); /* q - 32 */
    __m512i idx = idx16();
    for (int h = 0; h < 2; h++) {
        /* Element 128h + 32g + l: low nibble of ql[64h + 32(g%2) + l] (high
        ** nibble for g >= 2), top bits at bit 2g of qh[32h + l].  With the
        ** upper copy of qh shifted by 2, bits 4-5 hold groups 2 and 3's top
        ** bits and bits 0-1 those of groups 0 and 1. */
        const __m512i l = load64(x->ql + 64 * h);
        const __m512i t = bcast_shift_hi(x->qh + 32 * h, 2);
        const __m512i q01 = _mm512_or_si512(_mm512_and_si512(l, low),
                                            _mm512_and_si512(_mm512_slli_epi16(t, 4), top));
        const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low),
                                            _mm512_and_si512(t, top));
        const __m512i s01 = _mm512_permutexvar_epi16(idx, scales);
        idx = _mm512_add_epi16(idx, four);
        const __m512i s23 = _mm512_permutexvar_epi16(idx, scales);
        idx = _mm512_add_epi16(idx, four);
        FOR_Y {
            sumi[c] = group2(sumi[c], q01, y[c]->qs + 128 * h, s01);
            sumi[c] = group2(sumi[c], q23, y[c]->qs + 128 * h + 64, s23);
        }
    }
    finish(h2f(x->d), y, ny, sumi, acc);
}

/* Q2_K and Q3_K: 2-bit planes, group 4h + g at bits 2g of qs[32h + l]; the
** upper copy shifted by 2 puts groups 2p and 2p + 1 at bits 4p. */
static inline void sb_q2_k(const lx_block_q2_k *x, const lx_block_q8_k *const *y, int ny,
                           __m512 *acc, __m256 *accm) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)x->scales);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    const __m128i sc = _mm_and_si128(raw, low4);
    mins_acc(h2f(x->dmin), y, ny, _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), low4)),
             accm);
    const __m512i scales = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(sc));
    const __m512i three = _mm512_set1_epi8(3), four = _mm512_set1_epi16(4);
    __m512i idx = idx16(), sumi[4];
    zero4(sumi);
    for (int h = 0; h < 2; h++) {
        const __m512i b = bcast_shift_hi(x->qs + 32 * h, 2);
        const __m512i q0 = _mm512_and_si512(b, three);
        const __m512i q1 = _mm512_and_si512(_mm512_srli_epi16(b, 4), three);
        const __m512i s0 = _mm512_permutexvar_epi16(idx, scales);
        idx = _mm512_add_epi16(idx, four);
        const __m512i s1 = _mm512_permutexvar_epi16(idx, scales);
        idx = _mm512_add_epi16(idx, four);
        FOR_Y {
            sumi[c] = group2(sumi[c], q0, y[c]->qs + 128 * h, s0);
            sumi[c] = group2(sumi[c], q1, y[c]->qs + 128 * h + 64, s1);
        }
    }
    finish(h2f(x->d), y, ny, sumi, acc);
}

static inline void sb_q3_k(const lx_block_q3_k *x, const lx_block_q8_k *const *y, int ny,
                           __m512 *acc, __m256 *accm) {
    (void)accm;
    const __m128i sc = q3_scale_bytes(x->scales);
    const __m512i scales = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc));
    const __m512i three = _mm512_set1_epi8(3), four = _mm512_set1_epi16(4);
    const __m512i hbit = _mm512_set1_epi8(4);
    const __m512i hm = _mm512_broadcast_i64x4(load32(x->hmask));
    __m512i sumi[4];
    offset_start(y, ny, sc, 2, sumi); /* q - 4 */
    /* Group j's high bit is bit j of hmask[l]: lower half tests bit 2k,
    ** upper half bit 2k + 1 for the k-th 64 quants. */
    __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(2), 1);
    __m512i idx = idx16();
    for (int h = 0; h < 2; h++) {
        const __m512i b = bcast_shift_hi(x->qs + 32 * h, 2);
        _Pragma("GCC unroll 2") for (int p = 0; p < 2; p++) {
            __m512i q = _mm512_and_si512(p ? _mm512_srli_epi16(b, 4) : b, three);
            q = _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(hm, bit), q, hbit);
            const __m512i s = _mm512_permutexvar_epi16(idx, scales);
            idx = _mm512_add_epi16(idx, four);
            bit = _mm512_slli_epi16(bit, 2);
            FOR_Y sumi[c] = group2(sumi[c], q, y[c]->qs + 128 * h + 64 * p, s);
        }
    }
    finish(h2f(x->d), y, ny, sumi, acc);
}

/* ==== The dot loops and the tiles ==== */

#define DOT_K(name, btype, sb)                                                                     \
    static void name(int64_t n, float *s, const void *vx, const void *vy) {                        \
        const btype *x = vx;                                                                       \
        const lx_block_q8_k *y = vy;                                                               \
        __m512 acc = _mm512_setzero_ps();                                                          \
        __m256 accm = _mm256_setzero_ps();                                                         \
        for (int64_t i = 0; i < n / LX_QK_K; i++) {                                                \
            const lx_block_q8_k *yi = &y[i];                                                       \
            sb(&x[i], &yi, 1, &acc, &accm);                                                        \
        }                                                                                          \
        *s = _mm512_reduce_add_ps(acc) - hsum256_ps(accm);                                         \
    }

/* The 4 x 4 tile (see kernels.h): each weight row against the four
** activation rows at once. */
#define GEMM_K(name, btype, sb)                                                                    \
    static void name(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy,   \
                     size_t by) {                                                                  \
        for (int r = 0; r < LX_GEMM_RM; r++) {                                                     \
            const btype *x = (const btype *)((const uint8_t *)vx + (size_t)r * bx);                \
            __m512 acc[4];                                                                         \
            __m256 accm[4];                                                                        \
            for (int c = 0; c < 4; c++) {                                                          \
                acc[c] = _mm512_setzero_ps();                                                      \
                accm[c] = _mm256_setzero_ps();                                                     \
            }                                                                                      \
            for (int64_t i = 0; i < n / LX_QK_K; i++) {                                            \
                const lx_block_q8_k *yi[4];                                                        \
                for (int c = 0; c < 4; c++)                                                        \
                    yi[c] = (const lx_block_q8_k *)((const uint8_t *)vy + (size_t)c * by) + i;     \
                sb(&x[i], yi, 4, acc, accm);                                                       \
            }                                                                                      \
            for (int c = 0; c < 4; c++)                                                            \
                s[(size_t)c * lds + r] = _mm512_reduce_add_ps(acc[c]) - hsum256_ps(accm[c]);       \
        }                                                                                          \
    }

_Static_assert(LX_GEMM_RN == 4, "the K tiles take four activation rows");

DOT_K(dot_q2_k, lx_block_q2_k, sb_q2_k)
DOT_K(dot_q3_k, lx_block_q3_k, sb_q3_k)
DOT_K(dot_q4_k, lx_block_q4_k, sb_q4_k)
DOT_K(dot_q5_k, lx_block_q5_k, sb_q5_k)
DOT_K(dot_q6_k, lx_block_q6_k, sb_q6_k)
GEMM_K(tile_q2_k, lx_block_q2_k, sb_q2_k)
GEMM_K(tile_q3_k, lx_block_q3_k, sb_q3_k)
GEMM_K(tile_q4_k, lx_block_q4_k, sb_q4_k)
GEMM_K(tile_q5_k, lx_block_q5_k, sb_q5_k)
GEMM_K(tile_q6_k, lx_block_q6_k, sb_q6_k)

lx_vec_dot_fn lx_dot_k_avx512_get(int type) {
    switch (type) {
    case LX_TYPE_Q2_K: return dot_q2_k;
    case LX_TYPE_Q3_K: return dot_q3_k;
    case LX_TYPE_Q4_K: return dot_q4_k;
    case LX_TYPE_Q5_K: return dot_q5_k;
    case LX_TYPE_Q6_K: return dot_q6_k;
    }
    return NULL;
}

lx_gemm_fn lx_gemm_k_avx512_get(int type) {
    switch (type) {
    case LX_TYPE_Q2_K: return tile_q2_k;
    case LX_TYPE_Q3_K: return tile_q3_k;
    case LX_TYPE_Q4_K: return tile_q4_k;
    case LX_TYPE_Q5_K: return tile_q5_k;
    case LX_TYPE_Q6_K: return tile_q6_k;
    }
    return NULL;
}
