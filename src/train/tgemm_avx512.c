/*
** tgemm_avx512.c -- the AVX-512 kernel of lx_tgemm: C += alpha A B.
**
** A tile of C of MR rows by NV vectors of 16 columns lives in MR * NV
** registers; each k loads NV vectors of B's row k and broadcasts one
** element of A per row, so the tile does MR * NV FMAs per NV + MR loads.
** k runs in blocks of KC so that the block of B (KC x 16 NV floats) stays
** in L2 while every row tile of A passes over it.  Ragged right edges use
** masked loads and stores.  (One thread of this machine, 256 x 576 x 576:
** 8 x 48 tiles 54 GFLOP/s of CPU time, 4 x 64 tiles 52, a bare FMA loop
** 45: the kernel runs at what this CPU gives.)
*/
#include "train/train.h"

#include <immintrin.h>

#define KC 256
#define MR 8
#define NV 3
#define NR (16 * NV)

static inline __attribute__((always_inline)) void tile(const int mr, int K, float alpha,
                                                       const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                                                       const float *B, ptrdiff_t ldb, float *C,
                                                       ptrdiff_t ldc, const __mmask16 m[NV]) {
    __m512 acc[MR][NV];
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++)
        _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) acc[r][q] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *b = B + (ptrdiff_t)k * ldb;
        __m512 bv[NV];
        _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) bv[q] =
            _mm512_maskz_loadu_ps(m[q], b + 16 * q);
        _Pragma("GCC unroll 8") for (int r = 0; r < mr; r++) {
            __m512 a = _mm512_set1_ps(A[(ptrdiff_t)r * rsa + (ptrdiff_t)k * csa]);
            _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) acc[r][q] =
                _mm512_fmadd_ps(a, bv[q], acc[r][q]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha);
    _Pragma("GCC unroll 8") for (int r = 0; r < mr; r++)
        _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) {
        if (!m[q]) continue;
        float *c = C + (ptrdiff_t)r * ldc + 16 * q;
        __m512 cv = _mm512_maskz_loadu_ps(m[q], c);
        _mm512_mask_storeu_ps(c, m[q], _mm512_fmadd_ps(va, acc[r][q], cv));
    }
}

static void gemm(int M, int N, int K, float alpha, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                 const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc) {
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = LX_MIN(KC, K - k0);
        for (int j0 = 0; j0 < N; j0 += NR) {
            int nv = LX_MIN(NR, N - j0);
            __mmask16 m[NV];
            for (int q = 0; q < NV; q++) {
                int v = LX_MAX(0, LX_MIN(16, nv - 16 * q));
                m[q] = (__mmask16)((1u << v) - 1u);
            }
            const float *Bk = B + (ptrdiff_t)k0 * ldb + j0;
            for (int i0 = 0; i0 < M; i0 += MR) {
                const float *Ai = A + (ptrdiff_t)i0 * rsa + (ptrdiff_t)k0 * csa;
                float *Ci = C + (ptrdiff_t)i0 * ldc + j0;
                switch (LX_MIN(MR, M - i0)) {
                case 8: tile(8, kc, alpha, Ai, rsa, csa, Bk, ldb, Ci, ldc, m); break;
                case 7: tile(7, kc, alpha, Ai, rsa, csa, Bk, ldb, Ci, ldc, m); break;
                case 6: tile(6, kc, alpha, Ai, rsa, csa, Bk, ldb, Ci, ldc, m); break;
                case 5: tile(5, kc, alpha, Ai, rsa, csa, Bk, ldb, Ci, ldc, m); break;
                case 4: tile(4, kc, alpha, Ai, rsa, csa, Bk, ldb, Ci, ldc, m); break;
                case 3: tile(3, kc, alpha, Ai, rsa, csa, Bk, ldb, Ci, ldc, m); break;
                case 2: tile(2, kc, alpha, Ai, rsa, csa, Bk, ldb, Ci, ldc, m); break;
                default: tile(1, kc, alpha, Ai, rsa, csa, Bk, ldb, Ci, ldc, m); break;
                }
            }
        }
    }
}

lx_tgemm_fn lx_tgemm_avx512_get(void) { return gemm; }
