/*
** dot_k_avx2.c -- AVX2 dot products, batched-matmul tiles and the Q8_K
** activation quantizer of the K types.  AVX-512 CPUs use dot_k_avx512.c
** instead (except for the Q8_K quantizer, shared by both).
**
** One scheme for all five types.  A super-block is 8 groups of 32
** elements; each group is unpacked to 32 unsigned bytes q (Q6_K's 0..63,
** Q3_K's 0..7 before their offsets), multiplied with the 32 activation
** bytes by maddubs into 16 int16 pair sums, then by madd with the group's
** sub-block scales into int32 lanes.  The offsets (32 for Q6_K, 4 for
** Q3_K) and the mins (Q2_K, Q4_K, Q5_K) never touch the quants: they are
** sum_j scale_j * (sum of q8 in sub-block j), and Q8_K stores those sums
** (bsums).  Integer sums are exact; one float multiply-add per super-block
** applies d_x * d_y, so results match the scalar path up to summation
** order.  maddubs saturates at int16, which the ranges here never reach:
** 63 * 127 * 2 = 16002 at most.
*/
#include "kernels.h"

#include <immintrin.h>
#include <string.h>

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Shuffles that spread 16 byte scales over a group's 16 int16 pair sums:
** 16-element sub-blocks give a group two scales (2g for its first 8 pairs,
** 2g+1 for the rest); 32-element ones give it one (g). */
static const uint8_t shuf16[8][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
    {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},
    {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
    {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9},
    {10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13},
    {14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15},
};
static const uint8_t pairs8[16] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7};

/* The int16 scale vector of group g from 16 signed byte scales. */
static inline __m256i scales16(__m128i sc, int g) {
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, _mm_loadu_si128((const __m128i *)shuf16[g])));
}

static inline __m256i scales32(__m128i sc, int g) {
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, _mm_set1_epi8((char)g)));
}

/* acc + scale * (q . q8) over one group of 32. */
static inline __m256i group(__m256i acc, __m256i q, const int8_t *q8, __m256i scale) {
    __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)q8));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, scale));
}

static inline __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Q4_K/Q5_K's 12 scale bytes -> 8 scales then 8 mins, one per byte. */
static inline __m128i scale_min_bytes(const uint8_t *s) {
    uint32_t u[4];
    memcpy(u, s, 12);
    const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
    u[3] = ((u[2] >> 4) & m4) | ((u[1] >> 6) & m2) << 4; /* mins 4-7 */
    const uint32_t mins03 = u[1] & m6;
    u[1] = (u[2] & m4) | ((u[0] >> 6) & m2) << 4; /* scales 4-7 */
    u[2] = mins03;
    u[0] &= m6; /* scales 0-3 */
    return _mm_loadu_si128((const __m128i *)u);
}

/* Q3_K's 12 scale bytes -> 16 signed scales (bias removed). */
static inline __m128i q3_scale_bytes(const uint8_t *s) {
    uint32_t a[3], u[4];
    memcpy(a, s, 12);
    const uint32_t m4 = 0x0f0f0f0f, m2 = 0x03030303;
    u[0] = (a[0] & m4) | ((a[2] >> 0) & m2) << 4;
    u[1] = (a[1] & m4) | ((a[2] >> 2) & m2) << 4;
    u[2] = ((a[0] >> 4) & m4) | ((a[2] >> 4) & m2) << 4;
    u[3] = ((a[1] >> 4) & m4) | ((a[2] >> 6) & m2) << 4;
    return _mm_sub_epi8(_mm_loadu_si128((const __m128i *)u), _mm_set1_epi8(32));
}

static inline __m256i bsums(const lx_block_q8_k *y) { return load32(y->bsums); }

/* ==== Per type: one super-block against NY activation rows ==== */

/* Each sb_* takes one weight super-block x and NY activation blocks y[c]
** and adds, per row c, (d_x d_y) sum_j sc_j (q . q8)_j (offsets included)
** to acc[c] and (dmin_x d_y) sum_j m_j bsum_j to accm[c].  A weight group
** is unpacked, and its scales spread, once for all NY rows: that is what
** makes the batched tile cheaper than NY dots.  NY is a constant after
** inlining (1 for the dot, 4 for the tile). */

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

#define FOR_Y _Pragma("GCC unroll 4") for (int c = 0; c < ny; c++)

/* The float step shared by all types: scale the int32 lanes into acc. */
static inline void finish(float d, const lx_block_q8_k *const *y, int ny, const __m256i *sumi,
                          __m256 *acc) {
    FOR_Y acc[c] =
        _mm256_fmadd_ps(_mm256_set1_ps(d * y[c]->d), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
}

/* Mins of Q4_K/Q5_K (one per 32: each pairs two bsums) or Q2_K (per 16). */
static inline void mins_acc(float dmin, const lx_block_q8_k *const *y, int ny, __m256i m16,
                            __m256 *accm) {
    FOR_Y accm[c] =
        _mm256_fmadd_ps(_mm256_set1_ps(dmin * y[c]->d),
                        _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums(y[c]), m16)), accm[c]);
}

static inline void sb_q4_k(const lx_block_q4_k *x, const lx_block_q8_k *const *y, int ny,
                           __m256 *acc, __m256 *accm) {
    const __m128i sm = scale_min_bytes(x->scales);
    mins_acc(h2f(x->dmin), y, ny,
             _mm256_cvtepu8_epi16(
                 _mm_shuffle_epi8(_mm_srli_si128(sm, 8), _mm_loadu_si128((const __m128i *)pairs8))),
             accm);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i sumi[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
    for (int c4 = 0; c4 < 4; c4++) {
        const __m256i b = load32(x->qs + 32 * c4);
        const __m256i q0 = _mm256_and_si256(b, low);
        const __m256i q1 = _mm256_and_si256(_mm256_srli_epi16(b, 4), low);
        const __m256i s0 = scales32(sm, 2 * c4), s1 = scales32(sm, 2 * c4 + 1);
        FOR_Y {
            sumi[c] = group(sumi[c], q0, y[c]->qs + 64 * c4, s0);
            sumi[c] = group(sumi[c], q1, y[c]->qs + 64 * c4 + 32, s1);
        }
    }
    finish(h2f(x->d), y, ny, sumi, acc);
}

static inline void sb_q5_k(const lx_block_q5_k *x, const lx_block_q8_k *const *y, int ny,
                           __m256 *acc, __m256 *accm) {
    const __m128i sm = scale_min_bytes(x->scales);
    mins_acc(h2f(x->dmin), y, ny,
             _mm256_cvtepu8_epi16(
                 _mm_shuffle_epi8(_mm_srli_si128(sm, 8), _mm_loadu_si128((const __m128i *)pairs8))),
             accm);
    const __m256i low = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    const __m256i two = _mm256_set1_epi8(2);
    __m256i hb = load32(x->qh);
    __m256i sumi[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
    for (int c4 = 0; c4 < 4; c4++) {
        const __m256i b = load32(x->qs + 32 * c4);
        /* Bit 2c of qh[l] is element 64c + l's fifth bit, bit 2c + 1 that
        ** of element 64c + 32 + l; hb moves two bits down per step. */
        const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, one), 4);
        const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(hb, two), 3);
        hb = _mm256_srli_epi16(hb, 2);
        const __m256i q0 = _mm256_or_si256(_mm256_and_si256(b, low), h0);
        const __m256i q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), low), h1);
        const __m256i s0 = scales32(sm, 2 * c4), s1 = scales32(sm, 2 * c4 + 1);
        FOR_Y {
            sumi[c] = group(sumi[c], q0, y[c]->qs + 64 * c4, s0);
            sumi[c] = group(sumi[c], q1, y[c]->qs + 64 * c4 + 32, s1);
        }
    }
    finish(h2f(x->d), y, ny, sumi, acc);
}

static inline void sb_q6_k(const lx_block_q6_k *x, const lx_block_q8_k *const *y, int ny,
                           __m256 *acc, __m256 *accm) {
    (void)accm;
    const __m128i sc = _mm_loadu_si128((const __m128i *)x->scales);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i sumi[4];
    /* q - 32: start from -32 * sum_j sc_j * bsum_j. */
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc);
    FOR_Y sumi[c] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                     _mm256_slli_epi32(_mm256_madd_epi16(bsums(y[c]), sc16), 5));
    for (int h = 0; h < 2; h++) {
        const __m256i l0 = load32(x->ql + 64 * h), l1 = load32(x->ql + 64 * h + 32);
        const __m256i qh = load32(x->qh + 32 * h);
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(l0, low),
                               _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(l1, low),
                               _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0c)), 2));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low),
                               _mm256_and_si256(qh, _mm256_set1_epi8(0x30)));
        q[3] = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(l1, 4), low),
            _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8((char)0xc0)), 2));
        for (int g = 0; g < 4; g++) {
            const __m256i sg = scales16(sc, 4 * h + g);
            FOR_Y sumi[c] = group(sumi[c], q[g], y[c]->qs + 128 * h + 32 * g, sg);
        }
    }
    finish(h2f(x->d), y, ny, sumi, acc);
}

/* Q2_K and Q3_K: 2-bit planes, group 4h + g at bits 2g of qs[32h + l]. */
static inline void sb_q2_k(const lx_block_q2_k *x, const lx_block_q8_k *const *y, int ny,
                           __m256 *acc, __m256 *accm) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)x->scales);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    const __m128i sc = _mm_and_si128(raw, low4);
    mins_acc(h2f(x->dmin), y, ny, _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), low4)),
             accm);
    const __m256i three = _mm256_set1_epi8(3);
    __m256i sumi[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
    for (int h = 0; h < 2; h++) {
        __m256i b = load32(x->qs + 32 * h);
        for (int g = 0; g < 4; g++) {
            const __m256i q = _mm256_and_si256(b, three), sg = scales16(sc, 4 * h + g);
            FOR_Y sumi[c] = group(sumi[c], q, y[c]->qs + 128 * h + 32 * g, sg);
            b = _mm256_srli_epi16(b, 2);
        }
    }
    finish(h2f(x->d), y, ny, sumi, acc);
}

static inline void sb_q3_k(const lx_block_q3_k *x, const lx_block_q8_k *const *y, int ny,
                           __m256 *acc, __m256 *accm) {
    (void)accm;
    const __m128i sc = q3_scale_bytes(x->scales);
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256i sumi[4];
    /* q - 4: start from -4 * sum_j sc_j * bsum_j. */
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc);
    FOR_Y sumi[c] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                     _mm256_slli_epi32(_mm256_madd_epi16(bsums(y[c]), sc16), 2));
    __m256i hm = load32(x->hmask);
    for (int h = 0; h < 2; h++) {
        __m256i b = load32(x->qs + 32 * h);
        for (int g = 0; g < 4; g++) {
            /* q + 4 = low two bits | high bit << 2, in 0..7. */
            const __m256i q = _mm256_or_si256(_mm256_and_si256(b, three),
                                              _mm256_slli_epi16(_mm256_and_si256(hm, one), 2));
            const __m256i sg = scales16(sc, 4 * h + g);
            FOR_Y sumi[c] = group(sumi[c], q, y[c]->qs + 128 * h + 32 * g, sg);
            b = _mm256_srli_epi16(b, 2);
            hm = _mm256_srli_epi16(hm, 1);
        }
    }
    finish(h2f(x->d), y, ny, sumi, acc);
}

/* ==== The dot loops and the tiles ==== */

#define DOT_K(name, btype, sb)                                                                     \
    static void name(int64_t n, float *s, const void *vx, const void *vy) {                        \
        const btype *x = vx;                                                                       \
        const lx_block_q8_k *y = vy;                                                               \
        __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();                              \
        for (int64_t i = 0; i < n / LX_QK_K; i++) {                                                \
            const lx_block_q8_k *yi = &y[i];                                                       \
            sb(&x[i], &yi, 1, &acc, &accm);                                                        \
        }                                                                                          \
        *s = hsum_ps(acc) - hsum_ps(accm);                                                         \
    }

/* The 4 x 4 tile (see kernels.h): each weight row against the four
** activation rows at once. */
#define GEMM_K(name, btype, sb)                                                                    \
    static void name(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy,   \
                     size_t by) {                                                                  \
        for (int r = 0; r < LX_GEMM_RM; r++) {                                                     \
            const btype *x = (const btype *)((const uint8_t *)vx + (size_t)r * bx);                \
            __m256 acc[4], accm[4];                                                                \
            for (int c = 0; c < 4; c++) acc[c] = accm[c] = _mm256_setzero_ps();                    \
            for (int64_t i = 0; i < n / LX_QK_K; i++) {                                            \
                const lx_block_q8_k *yi[4];                                                        \
                for (int c = 0; c < 4; c++)                                                        \
                    yi[c] = (const lx_block_q8_k *)((const uint8_t *)vy + (size_t)c * by) + i;     \
                sb(&x[i], yi, 4, acc, accm);                                                       \
            }                                                                                      \
            for (int c = 0; c < 4; c++)                                                            \
                s[(size_t)c * lds + r] = hsum_ps(acc[c]) - hsum_ps(accm[c]);                       \
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

lx_gemm_fn lx_gemm_k_avx2_get(int type) {
    switch (type) {
    case LX_TYPE_Q2_K: return tile_q2_k;
    case LX_TYPE_Q3_K: return tile_q3_k;
    case LX_TYPE_Q4_K: return tile_q4_k;
    case LX_TYPE_Q5_K: return tile_q5_k;
    case LX_TYPE_Q6_K: return tile_q6_k;
    }
    return NULL;
}

/* ==== Q8_K activations ==== */

/* Bit for bit ggml's quantize_row_q8_K (and lx_q8_k_from_float): the
** signed extreme max (the first one of largest magnitude), iscale =
** -127/max, q = round-half-even(iscale * x) -- which is what cvtps_epi32
** does under the default rounding mode -- and the sums of 16. */
static void quantize_q8_k(const float *x, void *vy, int64_t n) {
    lx_block_q8_k *y = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / LX_QK_K; i++, x += LX_QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < LX_QK_K; k += 8)
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        if (!(amax > 0.0f)) { /* all zero (or NaN): as the reference, zeros */
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = 0.0f;
        const __m256 va = _mm256_set1_ps(amax);
        for (int k = 0; k < LX_QK_K; k += 8) {
            int hit = _mm256_movemask_ps(
                _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)), va, _CMP_EQ_OQ));
            if (hit) {
                max = x[k + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        for (int k = 0; k < LX_QK_K; k += 32) {
            __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), vs));
            __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8), vs));
            __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 16), vs));
            __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 24), vs));
            /* Sums of 16: i0 + i1 and i2 + i3, each reduced to one int. */
            __m256i s01 = _mm256_add_epi32(i0, i1), s23 = _mm256_add_epi32(i2, i3);
            __m256i h = _mm256_hadd_epi32(s01, s23); /* lanes: 01 01 23 23 | 01 01 23 23 */
            h = _mm256_hadd_epi32(h, h);             /* 01 23 01 23 | 01 23 01 23 */
            __m128i t = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
            y[i].bsums[k / 16] = (int16_t)_mm_cvtsi128_si32(t);
            y[i].bsums[k / 16 + 1] = (int16_t)_mm_extract_epi32(t, 1);
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(y[i].qs + k), p);
        }
        y[i].d = 1.0f / iscale;
    }
}

lx_from_float_fn lx_quantize_k_avx2_get(int vec_dot_type) {
    return vec_dot_type == LX_TYPE_Q8_K ? quantize_q8_k : NULL;
}

lx_vec_dot_fn lx_dot_k_avx2_get(int type) {
    switch (type) {
    case LX_TYPE_Q2_K: return dot_q2_k;
    case LX_TYPE_Q3_K: return dot_q3_k;
    case LX_TYPE_Q4_K: return dot_q4_k;
    case LX_TYPE_Q5_K: return dot_q5_k;
    case LX_TYPE_Q6_K: return dot_q6_k;
    }
    return NULL;
}
