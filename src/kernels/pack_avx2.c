/*
** pack_avx2.c -- the AVX2 kernels of the packed layouts (pack.c): the
** AVX-512 file's plan (pack_avx512.c) on 8-lane registers.
**
** A 64-byte line of a packed block holds four bytes of each of 16 rows;
** its two 32-byte halves are rows 0-7 and 8-15, so the group is computed
** as two halves of eight lanes.  AVX2 has no vpdpbusd: maddubs (u8 x s8
** pairs into int16) and madd by ones (pairs of those into int32) do its
** work in two instructions and an add.  maddubs cannot saturate: the
** quants are at most 63, so a pair is at most 2 * 63 * 128 = 16,128.  The
** integer sums are the same exact integers, and each lane's float steps
** are pack.c's, so the results are its bits.
*/
#include "kernels.h"

#include <immintrin.h>
#include <string.h>

#define RN LX_PACK_RN
#define H 8 /* rows a half */

#define PRAGMA(x) _Pragma(#x)
#define UNROLL(n) PRAGMA(GCC unroll n)
#define FOR_Y UNROLL(8) for (int c = 0; c < ny; c++)

static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

static inline __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* acc + per-lane sums of four u8 x s8 products (vpdpbusd's work). */
static inline __m256i dp(__m256i acc, __m256i w, __m256i a) {
    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1));
    return _mm256_add_epi32(acc, p);
}

/* Eight fp16 values at p as floats. */
static inline __m256 half_to_ps(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __attribute__((always_inline)) void rows_q4_k_x16(int64_t n, float *s, size_t lds,
                                                                const void *vx, const void *vy,
                                                                size_t by, int ny, int h) {
    const lx_block_q4_k_x16 *x = vx;
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256 acc[RN];
    FOR_Y acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LX_QK_K; i++, x++) {
        const lx_block_q8_k *y[RN];
        __m256i isum[RN], imin[RN];
        FOR_Y {
            y[c] = (const lx_block_q8_k *)((const uint8_t *)vy + (size_t)c * by) + i;
            isum[c] = imin[c] = _mm256_setzero_si256();
        }
        for (int j = 0; j < 8; j++) {
            __m256i w[8];
            UNROLL(4) for (int u = 0; u < 4; u++) {
                const __m256i p = load32(x->qs[j][u] + 4 * H * h);
                w[u] = _mm256_and_si256(p, low);
                w[u + 4] = _mm256_and_si256(_mm256_srli_epi16(p, 4), low);
            }
            const __m256i sc =
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x->sc[j] + H * h)));
            FOR_Y {
                const int8_t *a = y[c]->qs + 32 * j;
                __m256i t = _mm256_setzero_si256();
                UNROLL(8) for (int q = 0; q < 8; q++) t = dp(t, w[q], bcast4(a + 4 * q));
                isum[c] = _mm256_add_epi32(isum[c], _mm256_mullo_epi32(t, sc));
            }
        }
        FOR_Y {
            const __m256i bs = _mm256_madd_epi16(load32(y[c]->bsums), _mm256_set1_epi16(1));
            /* (sub-block 2p, 2p + 1) sums as int16 pairs in pair[p] */
            int32_t pair[4];
            _mm_storeu_si128((__m128i *)pair, _mm_packs_epi32(_mm256_castsi256_si128(bs),
                                                              _mm256_extracti128_si256(bs, 1)));
            UNROLL(4) for (int p = 0; p < 4; p++) {
                const __m256i m =
                    _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)x->m[p][H * h]));
                imin[c] =
                    _mm256_add_epi32(imin[c], _mm256_madd_epi16(m, _mm256_set1_epi32(pair[p])));
            }
        }
        const __m256 d = half_to_ps(x->d + H * h), dmin = half_to_ps(x->dmin + H * h);
        FOR_Y {
            const __m256 dy = _mm256_set1_ps(y[c]->d);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_mul_ps(d, dy), acc[c]);
            acc[c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(imin[c]), _mm256_mul_ps(dmin, dy), acc[c]);
        }
    }
    FOR_Y _mm256_storeu_ps(s + (size_t)c * lds + H * h, acc[c]);
}

static inline __attribute__((always_inline)) void rows_q6_k_x16(int64_t n, float *s, size_t lds,
                                                                const void *vx, const void *vy,
                                                                size_t by, int ny, int h) {
    const lx_block_q6_k_x16 *x = vx;
    const __m256i low = _mm256_set1_epi8(0x0f), top = _mm256_set1_epi8(0x30);
    __m256 acc[RN];
    FOR_Y acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LX_QK_K; i++, x++) {
        const lx_block_q8_k *y[RN];
        __m256i isum[RN];
        FOR_Y {
            y[c] = (const lx_block_q8_k *)((const uint8_t *)vy + (size_t)c * by) + i;
            isum[c] = _mm256_setzero_si256();
        }
        for (int j = 0; j < 16; j++) {
            const __m256i l0 = load32(x->ql[j][0] + 4 * H * h);
            const __m256i l1 = load32(x->ql[j][1] + 4 * H * h);
            const __m256i hb = load32(x->qh[j] + 4 * H * h);
            __m256i w[4];
            w[0] = _mm256_or_si256(_mm256_and_si256(l0, low),
                                   _mm256_and_si256(_mm256_slli_epi16(hb, 4), top));
            w[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low),
                                   _mm256_and_si256(_mm256_slli_epi16(hb, 2), top));
            w[2] = _mm256_or_si256(_mm256_and_si256(l1, low), _mm256_and_si256(hb, top));
            w[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low),
                                   _mm256_and_si256(_mm256_srli_epi16(hb, 2), top));
            const __m256i sc =
                _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x->sc[j] + H * h)));
            FOR_Y {
                const int8_t *a = y[c]->qs + 16 * j;
                __m256i t = _mm256_set1_epi32(-32 * y[c]->bsums[j]);
                UNROLL(4) for (int q = 0; q < 4; q++) t = dp(t, w[q], bcast4(a + 4 * q));
                isum[c] = _mm256_add_epi32(isum[c], _mm256_mullo_epi32(t, sc));
            }
        }
        const __m256 d = half_to_ps(x->d + H * h);
        FOR_Y {
            const __m256 dy = _mm256_set1_ps(y[c]->d);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_mul_ps(d, dy), acc[c]);
        }
    }
    FOR_Y _mm256_storeu_ps(s + (size_t)c * lds + H * h, acc[c]);
}

static inline __attribute__((always_inline)) void rows_q4_1_x16(int64_t n, float *s, size_t lds,
                                                                const void *vx, const void *vy,
                                                                size_t by, int ny, int h) {
    const lx_block_q4_1_x16 *x = vx;
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256 acc[RN];
    FOR_Y acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LX_QK; i++, x++) {
        __m256i w[8];
        UNROLL(4) for (int u = 0; u < 4; u++) {
            const __m256i p = load32(x->qs[u] + 4 * H * h);
            w[u] = _mm256_and_si256(p, low);
            w[u + 4] = _mm256_and_si256(_mm256_srli_epi16(p, 4), low);
        }
        const __m256 d = half_to_ps(x->d + H * h), m = half_to_ps(x->m + H * h);
        FOR_Y {
            const lx_block_q8_1 *row =
                (const lx_block_q8_1 *)((const uint8_t *)vy + (size_t)c * by);
            const lx_block_q8_1 *y = row + i;
            float f[2]; /* d, s */
            memcpy(f, (const uint8_t *)(row + n / LX_QK) + 8 * i, sizeof f);
            __m256i t = _mm256_setzero_si256();
            UNROLL(8) for (int q = 0; q < 8; q++) t = dp(t, w[q], bcast4(y->qs + 4 * q));
            const __m256 dy = _mm256_set1_ps(f[0]);
            const __m256 sy = _mm256_set1_ps(f[1]);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_mul_ps(d, dy), acc[c]);
            acc[c] = _mm256_fmadd_ps(m, sy, acc[c]);
        }
    }
    FOR_Y _mm256_storeu_ps(s + (size_t)c * lds + H * h, acc[c]);
}

/* Tile and column of each type: both halves of the group. */
#define KERNELS(name)                                                                              \
    static void name##_tile(int64_t n, float *s, size_t lds, const void *vx, size_t bx,            \
                            const void *vy, size_t by) {                                           \
        (void)bx;                                                                                  \
        name(n, s, lds, vx, vy, by, RN, 0);                                                        \
        name(n, s, lds, vx, vy, by, RN, 1);                                                        \
    }                                                                                              \
    static void name##_col(int64_t n, float *s, size_t lds, const void *vx, size_t bx,             \
                           const void *vy, size_t by) {                                            \
        (void)bx;                                                                                  \
        name(n, s, lds, vx, vy, by, 1, 0);                                                         \
        name(n, s, lds, vx, vy, by, 1, 1);                                                         \
    }

KERNELS(rows_q4_k_x16)
KERNELS(rows_q6_k_x16)
KERNELS(rows_q4_1_x16)

lx_pack_kernels lx_pack_avx2_get(int packed) {
    lx_pack_kernels k = {NULL, NULL, NULL};
    switch (packed) {
    case LX_TYPE_Q4_K_X16:
        k = (lx_pack_kernels){rows_q4_k_x16_tile, rows_q4_k_x16_col, NULL};
        break;
    case LX_TYPE_Q6_K_X16:
        k = (lx_pack_kernels){rows_q6_k_x16_tile, rows_q6_k_x16_col, NULL};
        break;
    case LX_TYPE_Q4_1_X16:
        k = (lx_pack_kernels){rows_q4_1_x16_tile, rows_q4_1_x16_col, NULL};
        break;
    }
    return k;
}
