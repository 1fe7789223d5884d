/*
** gemm_avx2.c -- tiles of dot products for batched matmul on AVX2, for
** the 32-element block types (see gemm_avx512.c for the idea).
**
** AVX2 has 16 vector registers, too few for 16 accumulators, so the
** 4 x 4 tile is computed as two 2 x 4 halves; the second half re-reads
** the four activation rows from L1.  Products are summed by maddubs (u8 x
** s8 pairs into int16) and madd (into int32); the weights are made
** unsigned as in the AVX-512 tiles, except Q8_0, whose 255 x 127 products
** would saturate maddubs: it keeps the sign trick of dot_avx2.c.
*/
#include "kernels.h"

#include <immintrin.h>
#include <string.h>

#define HM 2 /* weight rows per pass */
#define RN 4 /* activation rows */

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256i nibbles(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

static inline __m256i fifth_bit(const uint8_t *p) {
    uint32_t qh =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    __m256i v = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)qh),
        _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit),
                            _mm256_set1_epi8(0x10));
}

static inline __m256i pairs_to_i32(__m256i p16) {
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* ==== Weight blocks as bytes ==== */

static inline __m256i w_q4_0(const lx_block_q4_0 *b) { return nibbles(b->qs); }
static inline __m256i w_q4_1(const lx_block_q4_1 *b) { return nibbles(b->qs); }
static inline __m256i w_q5_0(const lx_block_q5_0 *b) {
    return _mm256_or_si256(nibbles(b->qs), fifth_bit(b->qh));
}
static inline __m256i w_q5_1(const lx_block_q5_1 *b) {
    return _mm256_or_si256(nibbles(b->qs), fifth_bit(b->qh));
}
static inline __m256i w_q8_0(const lx_block_q8_0 *b) {
    return _mm256_loadu_si256((const __m256i *)b->qs);
}

/* Unsigned weights: maddubs directly.  Signed (Q8_0): |w| times a with
** w's sign; a never holds -128. */
static inline __m256i prod_u(__m256i w, __m256i a) { return _mm256_maddubs_epi16(w, a); }
static inline __m256i prod_s(__m256i w, __m256i a) {
    return _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

/* One pass: rows x[0..HM) against activation rows y[0..RN). */
#define GEMM_PASS(name, WT, W, AT, OFF, MINS, PROD)                                                \
    static void name(int64_t n, float *s, size_t lds, const uint8_t *x, size_t bx,                 \
                     const uint8_t *y, size_t by) {                                                \
        __m256 acc[HM][RN];                                                                        \
        __m128 accm[HM];                                                                           \
        for (int r = 0; r < HM; r++) {                                                             \
            accm[r] = _mm_setzero_ps();                                                            \
            for (int c = 0; c < RN; c++) acc[r][c] = _mm256_setzero_ps();                          \
        }                                                                                          \
        for (int64_t i = 0; i < n / LX_QK; i++) {                                                  \
            __m256i aq[RN], base[RN];                                                              \
            float ad[RN], as[RN];                                                                  \
            _Pragma("GCC unroll 4") for (int c = 0; c < RN; c++) {                                 \
                const AT *ab = (const AT *)(y + (size_t)c * by) + i;                               \
                aq[c] = _mm256_loadu_si256((const __m256i *)ab->qs);                               \
                ad[c] = h2f(ab->d);                                                                \
                /* -OFF * sum(a), the start of each pair's sum. */                                 \
                base[c] =                                                                          \
                    (OFF) ? _mm256_sub_epi32(                                                      \
                                _mm256_setzero_si256(),                                            \
                                pairs_to_i32(_mm256_maddubs_epi16(_mm256_set1_epi8(OFF), aq[c])))  \
                          : _mm256_setzero_si256();                                                \
                as[c] = MINS ? h2f(((const lx_block_q8_1 *)(const void *)ab)->s) : 0.0f;           \
            }                                                                                      \
            const __m128 sv = _mm_loadu_ps(as);                                                    \
            _Pragma("GCC unroll 2") for (int r = 0; r < HM; r++) {                                 \
                const WT *wb = (const WT *)(x + (size_t)r * bx) + i;                               \
                const __m256i wq = W(wb);                                                          \
                const float dw = h2f(wb->d);                                                       \
                if (MINS)                                                                          \
                    accm[r] =                                                                      \
                        _mm_fmadd_ps(_mm_set1_ps(h2f(((const uint16_t *)wb)[1])), sv, accm[r]);    \
                _Pragma("GCC unroll 4") for (int c = 0; c < RN; c++) {                             \
                    __m256i p = _mm256_add_epi32(base[c], pairs_to_i32(PROD(wq, aq[c])));          \
                    acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(dw * ad[c]), _mm256_cvtepi32_ps(p), \
                                                acc[r][c]);                                        \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        for (int r = 0; r < HM; r++) {                                                             \
            float m[4];                                                                            \
            _mm_storeu_ps(m, accm[r]);                                                             \
            for (int c = 0; c < RN; c++) s[(size_t)c * lds + r] = hsum_ps(acc[r][c]) + m[c];       \
        }                                                                                          \
    }

/* The 4 x 4 tile as two passes of two weight rows. */
#define GEMM_TILE(name, pass)                                                                      \
    static void name(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy,   \
                     size_t by) {                                                                  \
        pass(n, s, lds, vx, bx, vy, by);                                                           \
        pass(n, s + HM, lds, (const uint8_t *)vx + HM * bx, bx, vy, by);                           \
    }

_Static_assert(offsetof(lx_block_q4_1, m) == 2 && offsetof(lx_block_q5_1, m) == 2, "m offset");

GEMM_PASS(pass_q4_0, lx_block_q4_0, w_q4_0, lx_block_q8_0, 8, 0, prod_u)
GEMM_PASS(pass_q4_1, lx_block_q4_1, w_q4_1, lx_block_q8_1, 0, 1, prod_u)
GEMM_PASS(pass_q5_0, lx_block_q5_0, w_q5_0, lx_block_q8_0, 16, 0, prod_u)
GEMM_PASS(pass_q5_1, lx_block_q5_1, w_q5_1, lx_block_q8_1, 0, 1, prod_u)
GEMM_PASS(pass_q8_0, lx_block_q8_0, w_q8_0, lx_block_q8_0, 0, 0, prod_s)

GEMM_TILE(tile_q4_0, pass_q4_0)
GEMM_TILE(tile_q4_1, pass_q4_1)
GEMM_TILE(tile_q5_0, pass_q5_0)
GEMM_TILE(tile_q5_1, pass_q5_1)
GEMM_TILE(tile_q8_0, pass_q8_0)

/* ==== The column: four weight rows, one activation row ==== */

#define COL_RM 4
/* The first two fp16 (d and m, or d and what follows it) of four blocks
** bx bytes apart, as [d0, m0, d1, m1, ...]; built in registers (a 16-byte
** load of four 4-byte stores would miss store forwarding). */
static inline __m256 scales4(const void *p, size_t bx) {
    const uint8_t *b = p;
    uint32_t u0, u1, u2, u3;
    memcpy(&u0, b, 4);
    memcpy(&u1, b + bx, 4);
    memcpy(&u2, b + 2 * bx, 4);
    memcpy(&u3, b + 3 * bx, 4);
    return _mm256_cvtph_ps(_mm_setr_epi32((int)u0, (int)u1, (int)u2, (int)u3));
}

/* [d, s, d, s, ...] of one activation block (s: whatever follows d in
** Q8_0, unused there). */
static inline __m256 scales1(const void *p) {
    uint32_t u;
    memcpy(&u, p, 4);
    return _mm256_cvtph_ps(_mm_set1_epi32((int)u));
}

/* What decoding (one activation row) runs: each output computed with
** exactly the operations of its pair in the tile above, so it does not
** depend on whether its activation row was part of a tile (see
** gemm_avx512.c for the scale vectors).  Four rows fit the 16 registers in
** one pass. */
#define GEMM_COL(name, WT, W, AT, OFF, MINS, PROD)                                                 \
    static void name(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy,   \
                     size_t by) {                                                                  \
        (void)lds;                                                                                 \
        (void)by;                                                                                  \
        const uint8_t *x = vx;                                                                     \
        const AT *a = vy;                                                                          \
        __m256 acc[COL_RM];                                                                        \
        __m256 accm = _mm256_setzero_ps();                                                         \
        for (int r = 0; r < COL_RM; r++) acc[r] = _mm256_setzero_ps();                             \
        for (int64_t i = 0; i < n / LX_QK; i++) {                                                  \
            const AT *ab = a + i;                                                                  \
            const __m256i aq = _mm256_loadu_si256((const __m256i *)ab->qs);                        \
            const __m256i base =                                                                   \
                (OFF) ? _mm256_sub_epi32(                                                          \
                            _mm256_setzero_si256(),                                                \
                            pairs_to_i32(_mm256_maddubs_epi16(_mm256_set1_epi8(OFF), aq)))         \
                      : _mm256_setzero_si256();                                                    \
            const WT *wb[COL_RM];                                                                  \
            _Pragma("GCC unroll 4") for (int r = 0; r < COL_RM; r++) wb[r] =                       \
                (const WT *)(x + (size_t)r * bx) + i;                                              \
            const __m256 sw = scales4(wb[0], bx);                                                  \
            const __m256 sa = scales1(ab);                                                         \
            const __m256 dd = _mm256_mul_ps(sw, sa);                                               \
            if (MINS) accm = _mm256_fmadd_ps(sw, sa, accm);                                        \
            _Pragma("GCC unroll 4") for (int r = 0; r < COL_RM; r++) acc[r] = _mm256_fmadd_ps(     \
                _mm256_permutevar8x32_ps(dd, _mm256_set1_epi32(2 * r)),                            \
                _mm256_cvtepi32_ps(_mm256_add_epi32(base, pairs_to_i32(PROD(W(wb[r]), aq)))),      \
                acc[r]);                                                                           \
        }                                                                                          \
        float m[8];                                                                                \
        _mm256_storeu_ps(m, accm);                                                                 \
        for (int r = 0; r < COL_RM; r++) s[r] = hsum_ps(acc[r]) + m[2 * r + 1];                    \
    }

_Static_assert(COL_RM == LX_GEMM_RM, "a column has the tile's weight rows");

GEMM_COL(col_q4_0, lx_block_q4_0, w_q4_0, lx_block_q8_0, 8, 0, prod_u)
GEMM_COL(col_q4_1, lx_block_q4_1, w_q4_1, lx_block_q8_1, 0, 1, prod_u)
GEMM_COL(col_q5_0, lx_block_q5_0, w_q5_0, lx_block_q8_0, 16, 0, prod_u)
GEMM_COL(col_q5_1, lx_block_q5_1, w_q5_1, lx_block_q8_1, 0, 1, prod_u)
GEMM_COL(col_q8_0, lx_block_q8_0, w_q8_0, lx_block_q8_0, 0, 0, prod_s)

lx_gemm_fn lx_gemm_col_avx2_get(int type) {
    switch (type) {
    case LX_TYPE_Q4_0: return col_q4_0;
    case LX_TYPE_Q4_1: return col_q4_1;
    case LX_TYPE_Q5_0: return col_q5_0;
    case LX_TYPE_Q5_1: return col_q5_1;
    case LX_TYPE_Q8_0: return col_q8_0;
    }
    return NULL; /* the K types' dots already are their tiles' arithmetic */
}

lx_gemm_fn lx_gemm_avx2_get(int type) {
    switch (type) {
    case LX_TYPE_Q4_0: return tile_q4_0;
    case LX_TYPE_Q4_1: return tile_q4_1;
    case LX_TYPE_Q5_0: return tile_q5_0;
    case LX_TYPE_Q5_1: return tile_q5_1;
    case LX_TYPE_Q8_0: return tile_q8_0;
    }
    return lx_gemm_k_avx2_get(type); /* AVX2 code, valid on AVX-512 CPUs */
}
