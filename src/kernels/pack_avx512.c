/*
** pack_avx512.c -- the AVX-512 VNNI kernels of the packed layouts
** (pack.c), Q4_K, Q6_K, Q4_1 and Q8_0 x16: one group of 16 weight rows against
** one or eight activation rows, the 16 rows in the 16 int32 lanes of a
** register.
**
** Q4_K, per 32-quant sub-block: four 64-byte loads give eight registers of
** unsigned quants (low and high nibbles); each activation row then takes
** eight vpdpbusd, each with its four activation bytes broadcast from
** memory, and one vpmulld by the 16 rows' scales.  The mins cost four
** vpdpwssd a super-block.  Lane r computes exactly pack.c's sums for row
** r, in its order, so the results are that kernel's bits.
*/
#include "kernels.h"

#include <immintrin.h>
#include <string.h>

#define RN LX_PACK_RN

/* acc + the per-lane dot of w's four unsigned bytes with the four signed
** bytes at p: vpdpbusd with an embedded broadcast ({1to16}).  GCC does not
** fold _mm512_set1_epi32 of a load into it, and the separate vpbroadcastd
** costs an issue slot per vpdpbusd (without it the tiles ran 5-23% faster
** in bench_kernels). */
typedef int32_t __attribute__((may_alias, aligned(1))) lx_i32_any;
static inline __m512i dp4(__m512i acc, __m512i w, const int8_t *p) {
#if defined(__GNUC__)
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const lx_i32_any *)p));
    return acc;
#else
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(v));
#endif
}

#define PRAGMA(x) _Pragma(#x)
#define UNROLL(n) PRAGMA(GCC unroll n)
#define FOR_Y UNROLL(8) for (int c = 0; c < ny; c++)

/* Decoding streams the weights once: the column asks for the lines
** PF_BYTES ahead, so a matrix's lines do not wait for the hardware
** prefetcher to notice the stream (12-15% more bandwidth in
** bench_kernels' decode, Q4_1 and Q4_K).  The tile computes 8x longer on
** each line, and where it too reads its weights once (a batch of 8 to 15
** rows: several sequences decoded together), the near prefetch alone left
** memory and compute taking turns: a cold 168 MB Q4_1 matrix ran at 8.5
** GB/s against the column's 12.4, each block costing about its compute
** plus its memory.  That tile ("once") also asks for the lines PF_FAR
** ahead into the outer cache (T2), so the stream goes on while it
** computes: 11 GB/s (Q8_0: 9.8 -> 12.5).  The plain tile, which prompt
** processing calls many times on the same hot weights, does not: there the
** extra prefetches cost the 1.5B model 6-10% of its prefill. */
#define PF_BYTES 2048
#define PF_FAR 8192
#define PREFETCH(p, ahead, hint)                                                                   \
    do {                                                                                           \
        const char *pf_ = (const char *)(p) + (ahead);                                             \
        for (size_t o_ = 0; o_ < sizeof *(p); o_ += 64) _mm_prefetch(pf_ + o_, hint);              \
    } while (0)
#define PREFETCH_BLOCK(x, far)                                                                     \
    do {                                                                                           \
        PREFETCH(x, PF_BYTES, _MM_HINT_T0);                                                        \
        if (far) PREFETCH(x, PF_FAR, _MM_HINT_T2);                                                 \
    } while (0)

/* The group's 16 rows against ny (1 or RN) activation rows, inlined into
** the tile and the column with ny a constant, every loop unrolled so the
** arrays live in registers. */
static inline __attribute__((always_inline)) void rows_q4_k_x16(int64_t n, float *s, size_t lds,
                                                                const void *vx, const void *vy,
                                                                size_t by, int ny, int far) {
    const lx_block_q4_k_x16 *x = vx;
    const __m512i low = _mm512_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    __m512 acc[RN];
    FOR_Y acc[c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / LX_QK_K; i++, x++) {
        PREFETCH_BLOCK(x, far);
        const lx_block_q8_k *y[RN];
        __m512i isum[RN], imin[RN];
        FOR_Y {
            y[c] = (const lx_block_q8_k *)((const uint8_t *)vy + (size_t)c * by) + i;
            isum[c] = imin[c] = _mm512_setzero_si512();
        }
        UNROLL(2) for (int j = 0; j < 8; j++) {
            __m512i w[8];
            UNROLL(4) for (int u = 0; u < 4; u++) {
                const __m512i p = _mm512_loadu_si512(x->qs[j][u]);
                w[u] = _mm512_and_si512(p, low);
                w[u + 4] = _mm512_and_si512(_mm512_srli_epi16(p, 4), low);
            }
            const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x->sc[j]));
            FOR_Y {
                const int8_t *a = y[c]->qs + 32 * j;
                __m512i t = dp4(_mm512_setzero_si512(), w[0], a);
                UNROLL(8)
                for (int q = 1; q < 8; q++) t = dp4(t, w[q], a + 4 * q);
                isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(t, sc));
            }
        }
        /* Mins: the activation sub-block sums, bsums paired, as int16
        ** pairs (sub-blocks 2p, 2p + 1) in dword p. */
        __m512i m[4];
        UNROLL(4)
        for (int p = 0; p < 4; p++) {
            m[p] = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)x->m[p]));
        }
        FOR_Y {
            const __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[c]->bsums),
                                                 ones); /* 8 x int32 */
            const __m512i bz = _mm512_castsi128_si512(
                _mm_packs_epi32(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
            UNROLL(4)
            for (int p = 0; p < 4; p++) {
                const __m512i pair = _mm512_permutexvar_epi32(_mm512_set1_epi32(p), bz);
                imin[c] = _mm512_dpwssd_epi32(imin[c], m[p], pair);
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->d));
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->dmin));
        FOR_Y {
            const __m512 dy = _mm512_set1_ps(y[c]->d);
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), _mm512_mul_ps(d, dy), acc[c]);
            acc[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(imin[c]), _mm512_mul_ps(dmin, dy), acc[c]);
        }
    }
    FOR_Y _mm512_storeu_ps(s + (size_t)c * lds, acc[c]);
}

/* Q6_K x16: per sub-block of 16 quants, two loads of low nibbles and one
** of top bits give four registers of 0..63, vpternlogd merging each low
** nibble with its top bits; the offset of 32 starts each sub-block's sum
** at -32 * bsum, so no correction remains. */
static inline __attribute__((always_inline)) void rows_q6_k_x16(int64_t n, float *s, size_t lds,
                                                                const void *vx, const void *vy,
                                                                size_t by, int ny, int far) {
    const lx_block_q6_k_x16 *x = vx;
    const __m512i low = _mm512_set1_epi8(0x0f), top = _mm512_set1_epi8(0x30);
    __m512 acc[RN];
    FOR_Y acc[c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / LX_QK_K; i++, x++) {
        PREFETCH_BLOCK(x, far);
        const lx_block_q8_k *y[RN];
        __m512i isum[RN];
        int32_t off[RN][16]; /* -32 * bsums */
        FOR_Y {
            y[c] = (const lx_block_q8_k *)((const uint8_t *)vy + (size_t)c * by) + i;
            isum[c] = _mm512_setzero_si512();
            const __m512i b =
                _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)y[c]->bsums));
            _mm512_storeu_si512(off[c],
                                _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(b, 5)));
        }
        UNROLL(2) for (int j = 0; j < 16; j++) {
            const __m512i l0 = _mm512_loadu_si512(x->ql[j][0]);
            const __m512i l1 = _mm512_loadu_si512(x->ql[j][1]);
            const __m512i h = _mm512_loadu_si512(x->qh[j]);
            /* a | (b & c): ternary-logic table 0xf8. */
            __m512i w[4];
            w[0] = _mm512_ternarylogic_epi32(_mm512_and_si512(l0, low), _mm512_slli_epi16(h, 4),
                                             top, 0xf8);
            w[1] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(l0, 4), low),
                                             _mm512_slli_epi16(h, 2), top, 0xf8);
            w[2] = _mm512_ternarylogic_epi32(_mm512_and_si512(l1, low), h, top, 0xf8);
            w[3] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(l1, 4), low),
                                             _mm512_srli_epi16(h, 2), top, 0xf8);
            const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)x->sc[j]));
            FOR_Y {
                const int8_t *a = y[c]->qs + 16 * j;
                __m512i t = _mm512_set1_epi32(off[c][j]);
                UNROLL(4)
                for (int q = 0; q < 4; q++) t = dp4(t, w[q], a + 4 * q);
                isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(t, sc));
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->d));
        FOR_Y {
            const __m512 dy = _mm512_set1_ps(y[c]->d);
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), _mm512_mul_ps(d, dy), acc[c]);
        }
    }
    FOR_Y _mm512_storeu_ps(s + (size_t)c * lds, acc[c]);
}

/* Q4_1 x16: a block of 32 is one Q4_K sub-block without the scale; the
** activation's d and s come as floats after its row (lx_pack_act_prep). */
static inline __attribute__((always_inline)) void rows_q4_1_x16(int64_t n, float *s, size_t lds,
                                                                const void *vx, const void *vy,
                                                                size_t by, int ny, int far) {
    const lx_block_q4_1_x16 *x = vx;
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m512 acc[RN];
    FOR_Y acc[c] = _mm512_setzero_ps();
    UNROLL(2) for (int64_t i = 0; i < n / LX_QK; i++, x++) {
        PREFETCH_BLOCK(x, far);
        __m512i w[8];
        UNROLL(4) for (int u = 0; u < 4; u++) {
            const __m512i p = _mm512_loadu_si512(x->qs[u]);
            w[u] = _mm512_and_si512(p, low);
            w[u + 4] = _mm512_and_si512(_mm512_srli_epi16(p, 4), low);
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->d));
        const __m512 m = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->m));
        FOR_Y {
            const lx_block_q8_1 *row =
                (const lx_block_q8_1 *)((const uint8_t *)vy + (size_t)c * by);
            const lx_block_q8_1 *y = row + i;
            float f[2]; /* d, s */
            memcpy(f, (const uint8_t *)(row + n / LX_QK) + 8 * i, sizeof f);
            __m512i t = dp4(_mm512_setzero_si512(), w[0], y->qs);
            UNROLL(8)
            for (int q = 1; q < 8; q++) t = dp4(t, w[q], y->qs + 4 * q);
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(d, _mm512_set1_ps(f[0])),
                                     acc[c]);
            acc[c] = _mm512_fmadd_ps(m, _mm512_set1_ps(f[1]), acc[c]);
        }
    }
    FOR_Y _mm512_storeu_ps(s + (size_t)c * lds, acc[c]);
}

/* Q8_0 x16: the quants are stored + 128, so each sum starts at -128 *
** sum(a), which comes after the activation row with its block's d. */
static inline __attribute__((always_inline)) void rows_q8_0_x16(int64_t n, float *s, size_t lds,
                                                                const void *vx, const void *vy,
                                                                size_t by, int ny, int far) {
    const lx_block_q8_0_x16 *x = vx;
    __m512 acc[RN];
    FOR_Y acc[c] = _mm512_setzero_ps();
    UNROLL(2) for (int64_t i = 0; i < n / LX_QK; i++, x++) {
        PREFETCH_BLOCK(x, far);
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->d));
        __m512i w[8];
        UNROLL(8) for (int q = 0; q < 8; q++) w[q] = _mm512_loadu_si512(x->qs[q]);
        FOR_Y {
            const lx_block_q8_0 *row =
                (const lx_block_q8_0 *)((const uint8_t *)vy + (size_t)c * by);
            const lx_block_q8_0 *y = row + i;
            const uint8_t *e = (const uint8_t *)(row + n / LX_QK) + 8 * i; /* off, d */
            int32_t off;
            float dy;
            memcpy(&off, e, 4);
            memcpy(&dy, e + 4, 4);
            __m512i t = _mm512_set1_epi32(off);
            UNROLL(8) for (int q = 0; q < 8; q++) t = dp4(t, w[q], y->qs + 4 * q);
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(d, _mm512_set1_ps(dy)),
                                     acc[c]);
        }
    }
    FOR_Y _mm512_storeu_ps(s + (size_t)c * lds, acc[c]);
}

/* Tile (RN activation rows), once (the same for weights read once) and
** column (one row) of each type. */
#define KERNELS(name)                                                                              \
    static void tile_##name(int64_t n, float *s, size_t lds, const void *vx, size_t bx,            \
                            const void *vy, size_t by) {                                           \
        (void)bx;                                                                                  \
        rows_##name(n, s, lds, vx, vy, by, RN, 0);                                                 \
    }                                                                                              \
    static void once_##name(int64_t n, float *s, size_t lds, const void *vx, size_t bx,            \
                            const void *vy, size_t by) {                                           \
        (void)bx;                                                                                  \
        rows_##name(n, s, lds, vx, vy, by, RN, 1);                                                 \
    }                                                                                              \
    static void col_##name(int64_t n, float *s, size_t lds, const void *vx, size_t bx,             \
                           const void *vy, size_t by) {                                            \
        (void)bx;                                                                                  \
        rows_##name(n, s, lds, vx, vy, by, 1, 0);                                                  \
    }

KERNELS(q4_k_x16)
KERNELS(q6_k_x16)
KERNELS(q4_1_x16)
KERNELS(q8_0_x16)

lx_pack_kernels lx_pack_avx512_get(int packed) {
    switch (packed) {
    case LX_TYPE_Q4_K_X16: return (lx_pack_kernels){tile_q4_k_x16, col_q4_k_x16, once_q4_k_x16};
    case LX_TYPE_Q6_K_X16: return (lx_pack_kernels){tile_q6_k_x16, col_q6_k_x16, once_q6_k_x16};
    case LX_TYPE_Q4_1_X16: return (lx_pack_kernels){tile_q4_1_x16, col_q4_1_x16, once_q4_1_x16};
    case LX_TYPE_Q8_0_X16: return (lx_pack_kernels){tile_q8_0_x16, col_q8_0_x16, once_q8_0_x16};
    }
    return (lx_pack_kernels){NULL, NULL, NULL};
}
