/*
** gemm_avx512.c -- 4 x 4 tiles of dot products for batched matmul
** (prompt prefill, scoring), AVX-512 VNNI, 32-element block types (the
** K types' tiles live in dot_k_avx512.c).
**
** A batch is bound by compute, not memory, and a plain dot kernel spends
** most of its instructions on per-block overhead: unpacking the weight
** nibbles, converting two fp16 scales, one float multiply-add.  A tile
** computes 4 weight rows x 4 activation rows at once: each weight block is
** unpacked once for four activation rows, each activation block loaded
** once for four weight rows, and what remains per pair is one vpdpbusd,
** one conversion, one multiply and one FMA.
**
** Every weight block is made unsigned for vpdpbusd (u8 x s8): Q4_0's
** q - 8 becomes q with 8 * sum(a) subtracted, computed once per activation
** block; Q8_0 is shifted by 128 the same way.  Sums are exact in int32, so
** results equal the dot kernels' up to float summation order.
*/
#include "kernels.h"

#include <immintrin.h>
#include <string.h>

#define RM 4 /* weight rows per tile */
#define RN 4 /* activation rows per tile */

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
    return _mm256_maskz_mov_epi8((__mmask32)qh, _mm256_set1_epi8(0x10));
}

/* ==== Per type: the weight block as unsigned bytes ==== */

static inline __m256i w_q4_0(const lx_block_q4_0 *b) { return nibbles(b->qs); }
static inline __m256i w_q4_1(const lx_block_q4_1 *b) { return nibbles(b->qs); }
static inline __m256i w_q5_0(const lx_block_q5_0 *b) {
    return _mm256_or_si256(nibbles(b->qs), fifth_bit(b->qh));
}
static inline __m256i w_q5_1(const lx_block_q5_1 *b) {
    return _mm256_or_si256(nibbles(b->qs), fifth_bit(b->qh));
}
static inline __m256i w_q8_0(const lx_block_q8_0 *b) {
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b->qs),
                            _mm256_set1_epi8((char)0x80));
}

/* ==== The tile ==== */

/* WT/W: weight block type and unpacker; OFF: what was added to each weight
** quant to make it unsigned (0 for the types with a min, which instead
** carry m * s through MINS). */
#define GEMM_TILE(name, WT, W, AT, OFF, MINS)                                                      \
    static void name(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy,   \
                     size_t by) {                                                                  \
        const uint8_t *x = vx, *y = vy;                                                            \
        __m256 acc[RM][RN];                                                                        \
        __m128 accm[RM];                                                                           \
        for (int r = 0; r < RM; r++) {                                                             \
            accm[r] = _mm_setzero_ps();                                                            \
            for (int c = 0; c < RN; c++) acc[r][c] = _mm256_setzero_ps();                          \
        }                                                                                          \
        const __m256i off = _mm256_set1_epi8((char)(OFF));                                         \
        for (int64_t i = 0; i < n / LX_QK; i++) {                                                  \
            __m256i aq[RN], base[RN];                                                              \
            __m256 ad[RN];                                                                         \
            float as[RN];                                                                          \
            _Pragma("GCC unroll 4") for (int c = 0; c < RN; c++) {                                 \
                const AT *ab = (const AT *)(y + (size_t)c * by) + i;                               \
                aq[c] = _mm256_loadu_si256((const __m256i *)ab->qs);                               \
                ad[c] = _mm256_set1_ps(h2f(ab->d));                                                \
                /* -OFF * sum(a): the start of every pair's integer sum. */                        \
                base[c] = (OFF) ? _mm256_sub_epi32(                                                \
                                      _mm256_setzero_si256(),                                      \
                                      _mm256_dpbusd_epi32(_mm256_setzero_si256(), off, aq[c]))     \
                                : _mm256_setzero_si256();                                          \
                as[c] = MINS ? h2f(((const lx_block_q8_1 *)(const void *)ab)->s) : 0.0f;           \
            }                                                                                      \
            const __m128 sv = _mm_loadu_ps(as);                                                    \
            _Pragma("GCC unroll 4") for (int r = 0; r < RM; r++) {                                 \
                const WT *wb = (const WT *)(x + (size_t)r * bx) + i;                               \
                const __m256i wq = W(wb);                                                          \
                const __m256 dw = _mm256_set1_ps(h2f(wb->d));                                      \
                if (MINS)                                                                          \
                    accm[r] =                                                                      \
                        _mm_fmadd_ps(_mm_set1_ps(h2f(((const uint16_t *)wb)[1])), sv, accm[r]);    \
                _Pragma("GCC unroll 4") for (int c = 0; c < RN; c++) {                             \
                    __m256i p = _mm256_dpbusd_epi32(base[c], wq, aq[c]);                           \
                    acc[r][c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, ad[c]), _mm256_cvtepi32_ps(p),   \
                                                acc[r][c]);                                        \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        for (int r = 0; r < RM; r++) {                                                             \
            float m[4];                                                                            \
            _mm_storeu_ps(m, accm[r]);                                                             \
            for (int c = 0; c < RN; c++) s[(size_t)c * lds + r] = hsum_ps(acc[r][c]) + m[c];       \
        }                                                                                          \
    }

/* The min m is the second fp16 of Q4_1/Q5_1 blocks (read as uint16 [1]). */
_Static_assert(offsetof(lx_block_q4_1, m) == 2 && offsetof(lx_block_q5_1, m) == 2, "m offset");

GEMM_TILE(tile_q4_0, lx_block_q4_0, w_q4_0, lx_block_q8_0, 8, 0)
GEMM_TILE(tile_q4_1, lx_block_q4_1, w_q4_1, lx_block_q8_1, 0, 1)
GEMM_TILE(tile_q5_0, lx_block_q5_0, w_q5_0, lx_block_q8_0, 16, 0)
GEMM_TILE(tile_q5_1, lx_block_q5_1, w_q5_1, lx_block_q8_1, 0, 1)
GEMM_TILE(tile_q8_0, lx_block_q8_0, w_q8_0, lx_block_q8_0, 128, 0)

/* ==== The column: four weight rows, one activation row ==== */

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

/* What decoding (one activation row) runs: four weight rows against one
** activation row, each output computed with exactly the operations of its
** pair in the tile above: the same integer lanes, the same product d_w *
** d_a rounded once, one FMA chain over the blocks in order, the same m * s
** FMA chain and final sum.  So an output does not depend on whether its
** activation row was part of a tile (batch invariance).  The four rows'
** [d, m] and the block's [d, s] are converted in two vectors: lane 2r of
** their product is d_r * d_a, lane 2r + 1 of their FMA chain row r's m * s
** sum (the other lanes are unused); four FMA chains hide each other's
** latency.  Measured on one Xeon core, 1536 x 576 Q4_1: 36 us a call,
** where the two-chain dot kernel took 49. */
#define GEMM_COL(name, WT, W, AT, OFF, MINS)                                                       \
    static void name(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy,   \
                     size_t by) {                                                                  \
        (void)lds;                                                                                 \
        (void)by;                                                                                  \
        const uint8_t *x = vx;                                                                     \
        const AT *a = vy;                                                                          \
        __m256 acc[RM];                                                                            \
        __m256 accm = _mm256_setzero_ps();                                                         \
        for (int r = 0; r < RM; r++) acc[r] = _mm256_setzero_ps();                                 \
        const __m256i off = _mm256_set1_epi8((char)(OFF));                                         \
        for (int64_t i = 0; i < n / LX_QK; i++) {                                                  \
            const AT *ab = a + i;                                                                  \
            const __m256i aq = _mm256_loadu_si256((const __m256i *)ab->qs);                        \
            const __m256i base =                                                                   \
                (OFF) ? _mm256_sub_epi32(_mm256_setzero_si256(),                                   \
                                         _mm256_dpbusd_epi32(_mm256_setzero_si256(), off, aq))     \
                      : _mm256_setzero_si256();                                                    \
            const WT *wb[RM];                                                                      \
            _Pragma("GCC unroll 4") for (int r = 0; r < RM; r++) wb[r] =                           \
                (const WT *)(x + (size_t)r * bx) + i;                                              \
            const __m256 sw = scales4(wb[0], bx);                                                  \
            const __m256 sa = scales1(ab);                                                         \
            const __m256 dd = _mm256_mul_ps(sw, sa);                                               \
            if (MINS) accm = _mm256_fmadd_ps(sw, sa, accm);                                        \
            _Pragma("GCC unroll 4") for (int r = 0; r < RM; r++) acc[r] = _mm256_fmadd_ps(         \
                _mm256_permutevar8x32_ps(dd, _mm256_set1_epi32(2 * r)),                            \
                _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(base, W(wb[r]), aq)), acc[r]);              \
        }                                                                                          \
        float m[8];                                                                                \
        _mm256_storeu_ps(m, accm);                                                                 \
        for (int r = 0; r < RM; r++) s[r] = hsum_ps(acc[r]) + m[2 * r + 1];                        \
    }

_Static_assert(RM == 4, "the column kernels take four weight rows");

GEMM_COL(col_q4_0, lx_block_q4_0, w_q4_0, lx_block_q8_0, 8, 0)
GEMM_COL(col_q4_1, lx_block_q4_1, w_q4_1, lx_block_q8_1, 0, 1)
GEMM_COL(col_q5_0, lx_block_q5_0, w_q5_0, lx_block_q8_0, 16, 0)
GEMM_COL(col_q5_1, lx_block_q5_1, w_q5_1, lx_block_q8_1, 0, 1)
GEMM_COL(col_q8_0, lx_block_q8_0, w_q8_0, lx_block_q8_0, 128, 0)

lx_gemm_fn lx_gemm_col_avx512_get(int type) {
    switch (type) {
    case LX_TYPE_Q4_0: return col_q4_0;
    case LX_TYPE_Q4_1: return col_q4_1;
    case LX_TYPE_Q5_0: return col_q5_0;
    case LX_TYPE_Q5_1: return col_q5_1;
    case LX_TYPE_Q8_0: return col_q8_0;
    }
    return NULL; /* the K types' dots already are their tiles' arithmetic */
}

lx_gemm_fn lx_gemm_avx512_get(int type) {
    switch (type) {
    case LX_TYPE_Q4_0: return tile_q4_0;
    case LX_TYPE_Q4_1: return tile_q4_1;
    case LX_TYPE_Q5_0: return tile_q5_0;
    case LX_TYPE_Q5_1: return tile_q5_1;
    case LX_TYPE_Q8_0: return tile_q8_0;
    }
    return lx_gemm_k_avx512_get(type);
}
