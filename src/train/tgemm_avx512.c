/*
** tgemm_avx512.c -- the AVX-512 kernel of lx_tgemm: C += alpha A B.
**
** A tile of C of 4 rows by 64 columns lives in 16 registers; each k loads
** four vectors of B's row k and broadcasts one element of A per row, so
** there are 16 FMAs per 8 loads.  k runs in blocks of KC so that the
** block of B (KC x 64 floats, 64 KiB) stays in L2 while every row tile of
** A passes over it.  Ragged right edges use masked loads and stores.
*/
#include "train/train.h"

#include <immintrin.h>

#define KC 256
#define NR 64

static inline __attribute__((always_inline)) void tile(const int mr, int K, float alpha,
                                                       const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                                                       const float *B, ptrdiff_t ldb, float *C,
                                                       ptrdiff_t ldc, const __mmask16 m[4]) {
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *b = B + (ptrdiff_t)k * ldb;
        __m512 b0 = _mm512_maskz_loadu_ps(m[0], b);
        __m512 b1 = _mm512_maskz_loadu_ps(m[1], b + 16);
        __m512 b2 = _mm512_maskz_loadu_ps(m[2], b + 32);
        __m512 b3 = _mm512_maskz_loadu_ps(m[3], b + 48);
        for (int r = 0; r < mr; r++) {
            __m512 a = _mm512_set1_ps(A[(ptrdiff_t)r * rsa + (ptrdiff_t)k * csa]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(a, b3, acc[r][3]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha);
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < 4; q++) {
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
            __mmask16 m[4];
            for (int q = 0; q < 4; q++) {
                int v = LX_MAX(0, LX_MIN(16, nv - 16 * q));
                m[q] = (__mmask16)((1u << v) - 1u);
            }
            const float *Bk = B + (ptrdiff_t)k0 * ldb + j0;
            for (int i0 = 0; i0 < M; i0 += 4) {
                const float *Ai = A + (ptrdiff_t)i0 * rsa + (ptrdiff_t)k0 * csa;
                float *Ci = C + (ptrdiff_t)i0 * ldc + j0;
                switch (LX_MIN(4, M - i0)) {
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
