/*
** tgemm_avx512bf16.c -- C += alpha A B with bf16 products and fp32 sums
** (AVX-512 BF16), to measure whether they pay for training's products.
**
** vdpbf16ps multiplies 16 pairs of bf16 numbers and adds each pair's two
** products into one fp32 lane: 32 products an instruction where the fp32
** kernel's FMA does 16.  So k runs in pairs: a panel of B (KC rows, up to
** 48 columns) is packed as bf16 with rows k and k + 1 interleaved, a tile
** of A (up to 16 rows) as one 32-bit (A[r][k], A[r][k+1]) pair per row and
** pair of k, broadcast to all lanes.  Both are rounded to bf16 (8 bits of
** mantissa, nearest even) as they are packed; the sums stay fp32.  An odd
** K gets a zero partner.  Not used by training yet (tgemm.c's fp32 kernel
** is); bench/bench_tgemm.c measures the two.
*/
#include "train/train.h"

#include <immintrin.h>
#include <string.h>

#define KC 256       /* rows of B (k) per panel: even */
#define NV 3         /* vectors of 16 columns in a panel of B, at most */
#define NR (16 * NV) /* columns of a panel */
#define MR_MAX 16    /* rows of a tile, at most */

static int rows_for(int nv) { return nv == 1 ? 16 : nv == 2 ? 12 : 8; }

/* fp32 to bf16, nearest even (NaN kept a NaN): what the packing
** instruction does to normal numbers. */
static inline uint32_t bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (u >> 16) | 0x40u;
    return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}

/* The tile's rows of A over kc, as (A[r][k], A[r][k+1]) bf16 pairs:
** Ap[r * (KC / 2) + p]. */
static void pack_a(int mr, int kc, const float *A, ptrdiff_t rsa, ptrdiff_t csa, uint32_t *Ap) {
    const int np = (kc + 1) / 2;
    for (int r = 0; r < mr; r++) {
        const float *a = A + (ptrdiff_t)r * rsa;
        uint32_t *o = Ap + r * (KC / 2);
        int p = 0;
        if (csa == 1) /* contiguous: 32 at a time */
            for (; 2 * p + 32 <= kc; p += 16) {
                __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(a + 2 * p + 16),
                                                 _mm512_loadu_ps(a + 2 * p));
                _mm512_storeu_si512((void *)(o + p), (__m512i)h);
            }
        for (; p < np; p++) {
            uint32_t lo = bf16_bits(a[(ptrdiff_t)(2 * p) * csa]);
            uint32_t hi = 2 * p + 1 < kc ? bf16_bits(a[(ptrdiff_t)(2 * p + 1) * csa]) : 0u;
            o[p] = lo | hi << 16;
        }
    }
}

static inline __attribute__((always_inline)) void tile(const int MRT, const int nv, const int mr,
                                                       int np, float alpha, const uint32_t *Ap,
                                                       const uint16_t *Bp, float *C, ptrdiff_t ldc,
                                                       const __mmask16 m[NV]) {
    __m512 acc[MR_MAX][NV];
    _Pragma("GCC unroll 16") for (int r = 0; r < MRT; r++)
        _Pragma("GCC unroll 4") for (int q = 0; q < nv; q++) acc[r][q] = _mm512_setzero_ps();
    for (int p = 0; p < np; p++) {
        const uint16_t *b = Bp + (ptrdiff_t)p * 32 * nv;
        __m512bh bv[NV];
        _Pragma("GCC unroll 4") for (int q = 0; q < nv; q++) bv[q] =
            (__m512bh)_mm512_load_si512((const void *)(b + 32 * q));
        _Pragma("GCC unroll 16") for (int r = 0; r < MRT; r++) {
            if (r >= mr) break;
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)Ap[r * (KC / 2) + p]);
            _Pragma("GCC unroll 4") for (int q = 0; q < nv; q++) acc[r][q] =
                _mm512_dpbf16_ps(acc[r][q], a, bv[q]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha);
    _Pragma("GCC unroll 16") for (int r = 0; r < MRT; r++) {
        if (r >= mr) break;
        _Pragma("GCC unroll 4") for (int q = 0; q < nv; q++) {
            float *c = C + (ptrdiff_t)r * ldc + 16 * q;
            __m512 cv = _mm512_maskz_loadu_ps(m[q], c);
            _mm512_mask_storeu_ps(c, m[q], _mm512_fmadd_ps(va, acc[r][q], cv));
        }
    }
}

static inline __attribute__((always_inline)) void
panel(const int nv, int M, int kc, float alpha, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
      const uint16_t *Bp, float *C, ptrdiff_t ldc, const __mmask16 m[NV], uint32_t *Ap) {
    const int MRT = rows_for(nv), np = (kc + 1) / 2;
    int i0 = 0;
    for (; i0 + MRT <= M; i0 += MRT) {
        pack_a(MRT, kc, A + (ptrdiff_t)i0 * rsa, rsa, csa, Ap);
        tile(MRT, nv, MRT, np, alpha, Ap, Bp, C + (ptrdiff_t)i0 * ldc, ldc, m);
    }
    if (i0 < M) {
        pack_a(M - i0, kc, A + (ptrdiff_t)i0 * rsa, rsa, csa, Ap);
        tile(MRT, nv, M - i0, np, alpha, Ap, Bp, C + (ptrdiff_t)i0 * ldc, ldc, m);
    }
}

static void gemm(int M, int N, int K, float alpha, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                 const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc) {
    uint16_t Bp[KC * NR] __attribute__((aligned(64)));           /* 24 KB */
    uint32_t Ap[MR_MAX * (KC / 2)] __attribute__((aligned(64))); /* 8 KB */
    /* 0, 16, 1, 17, ...: rows k and k + 1 of one column side by side */
    uint16_t ix[32];
    for (int i = 0; i < 32; i++) ix[i] = (uint16_t)(i / 2 + 16 * (i % 2));
    const __m512i inter = _mm512_loadu_si512((const void *)ix);
    for (int k0 = 0; k0 < K; k0 += KC) {
        const int kc = LX_MIN(KC, K - k0), np = (kc + 1) / 2;
        for (int j0 = 0; j0 < N; j0 += NR) {
            const int w = LX_MIN(NR, N - j0), nv = (w + 15) / 16;
            __mmask16 m[NV];
            for (int q = 0; q < NV; q++) {
                int v = LX_MAX(0, LX_MIN(16, w - 16 * q));
                m[q] = (__mmask16)((1u << v) - 1u);
            }
            for (int p = 0; p < np; p++) {
                const float *r0 = B + (ptrdiff_t)(k0 + 2 * p) * ldb + j0;
                const float *r1 = r0 + ldb;
                const int odd = 2 * p + 1 >= kc;
                for (int q = 0; q < nv; q++) {
                    __m512 lo = _mm512_maskz_loadu_ps(m[q], r0 + 16 * q);
                    __m512 hi =
                        odd ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m[q], r1 + 16 * q);
                    __m512i h = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
                    _mm512_store_si512((void *)(Bp + (ptrdiff_t)p * 32 * nv + 32 * q),
                                       _mm512_permutexvar_epi16(inter, h));
                }
            }
            const float *Ak = A + (ptrdiff_t)k0 * csa;
            float *Cj = C + j0;
            if (nv == 3)
                panel(3, M, kc, alpha, Ak, rsa, csa, Bp, Cj, ldc, m, Ap);
            else if (nv == 2)
                panel(2, M, kc, alpha, Ak, rsa, csa, Bp, Cj, ldc, m, Ap);
            else
                panel(1, M, kc, alpha, Ak, rsa, csa, Bp, Cj, ldc, m, Ap);
        }
    }
}

lx_tgemm_fn lx_tgemm_avx512bf16_get(void) {
    return __builtin_cpu_supports("avx512bf16") ? gemm : NULL;
}
