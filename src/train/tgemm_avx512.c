/*
** tgemm_avx512.c -- the AVX-512 kernel of lx_tgemm: C += alpha A B.
**
** A tile of C of up to 16 rows by up to 3 vectors of 16 columns lives in
** registers; each k loads the tile's vectors of B's row k and broadcasts one
** element of A per row.  k runs in blocks of KC; each panel of B (KC rows,
** up to 48 columns) is first copied contiguous and zero-padded, so the
** tiles read it with aligned loads, in order, and ragged right edges need
** masks only where C is stored.  The loops carry unroll pragmas: without
** them GCC -O2 kept the sums on the stack.  One thread, 1024 x 576 x 576:
** 144 GFLOP/s (85 before packing, torch.mm on MKL 161; docs/training.md).
*/
#include "train/train.h"

#include <immintrin.h>

#define KC 256
#define NV 3         /* vectors of 16 columns in a panel of B, at most */
#define NR (16 * NV) /* columns of a panel */
#define MR_MAX 16    /* rows of a tile, at most */

/* Rows of a tile for a panel of nv vectors: about 24 sums in registers, so
** a panel of one vector (a LoRA factor of rank 16) gets 16 rows, not the 8
** of a full panel with two vectors of zeros. */
static int rows_for(int nv) { return nv == 1 ? 16 : nv == 2 ? 12 : 8; }

/* C[0..mr) x [0..16 nv) += alpha * A B over K for the packed panel B (row
** stride 16 nv).  MRT and nv are constants where this is inlined; mr <=
** MRT is too for whole tiles, so the guards fold away, and a tile at the
** bottom edge keeps them. */
static inline __attribute__((always_inline)) void
tile(const int MRT, const int nv, const int mr, int K, float alpha, const float *A, ptrdiff_t rsa,
     ptrdiff_t csa, const float *B, float *C, ptrdiff_t ldc, const __mmask16 m[NV]) {
    __m512 acc[MR_MAX][NV];
    _Pragma("GCC unroll 16") for (int r = 0; r < MRT; r++)
        _Pragma("GCC unroll 4") for (int q = 0; q < nv; q++) acc[r][q] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *b = B + (ptrdiff_t)k * 16 * nv;
        __m512 bv[NV];
        _Pragma("GCC unroll 4") for (int q = 0; q < nv; q++) bv[q] = _mm512_load_ps(b + 16 * q);
        _Pragma("GCC unroll 16") for (int r = 0; r < MRT; r++) {
            if (r >= mr) break;
            __m512 a = _mm512_set1_ps(A[(ptrdiff_t)r * rsa + (ptrdiff_t)k * csa]);
            _Pragma("GCC unroll 4") for (int q = 0; q < nv; q++) acc[r][q] =
                _mm512_fmadd_ps(a, bv[q], acc[r][q]);
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

/* Every row tile of C against one packed panel of nv vectors. */
static inline __attribute__((always_inline)) void panel(const int nv, int M, int K, float alpha,
                                                        const float *A, ptrdiff_t rsa,
                                                        ptrdiff_t csa, const float *Bp, float *C,
                                                        ptrdiff_t ldc, const __mmask16 m[NV]) {
    const int MRT = rows_for(nv);
    int i0 = 0;
    for (; i0 + MRT <= M; i0 += MRT)
        tile(MRT, nv, MRT, K, alpha, A + (ptrdiff_t)i0 * rsa, rsa, csa, Bp, C + (ptrdiff_t)i0 * ldc,
             ldc, m);
    if (i0 < M)
        tile(MRT, nv, M - i0, K, alpha, A + (ptrdiff_t)i0 * rsa, rsa, csa, Bp,
             C + (ptrdiff_t)i0 * ldc, ldc, m);
}

static void gemm(int M, int N, int K, float alpha, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                 const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc) {
    float Bp[KC * NR] __attribute__((aligned(64))); /* 48 KB */
    for (int k0 = 0; k0 < K; k0 += KC) {
        const int kc = LX_MIN(KC, K - k0);
        for (int j0 = 0; j0 < N; j0 += NR) {
            const int w = LX_MIN(NR, N - j0), nv = (w + 15) / 16;
            __mmask16 m[NV];
            for (int q = 0; q < NV; q++) {
                int v = LX_MAX(0, LX_MIN(16, w - 16 * q));
                m[q] = (__mmask16)((1u << v) - 1u);
            }
            /* The panel of B, rows k0.. and columns j0.., copied contiguous
            ** and zero-padded to whole vectors: the tiles read it with
            ** aligned loads, in order, from L1 and L2 (85 -> 144 GFLOP/s
            ** on one core for 1024 x 576 x 576). */
            for (int k = 0; k < kc; k++) {
                const float *src = B + (ptrdiff_t)(k0 + k) * ldb + j0;
                for (int q = 0; q < nv; q++)
                    _mm512_store_ps(Bp + k * 16 * nv + 16 * q,
                                    _mm512_maskz_loadu_ps(m[q], src + 16 * q));
            }
            const float *Ak = A + (ptrdiff_t)k0 * csa;
            float *Cj = C + j0;
            if (nv == 3)
                panel(3, M, kc, alpha, Ak, rsa, csa, Bp, Cj, ldc, m);
            else if (nv == 2)
                panel(2, M, kc, alpha, Ak, rsa, csa, Bp, Cj, ldc, m);
            else
                panel(1, M, kc, alpha, Ak, rsa, csa, Bp, Cj, ldc, m);
        }
    }
}

lx_tgemm_fn lx_tgemm_avx512_get(void) { return gemm; }
