/*
** tgemm.c -- the fp32 matrix product of training: C = beta C + alpha A B
** with A read through any strides (so A may be a transpose for free) and
** B row-major.  Every product of training takes this form: activations
** times a dequantized weight, its transpose in the backward pass, the
** LoRA factors, and the attention of each head.
**
** The AVX-512 kernel (tgemm_avx512.c) is used where the CPU has it; this
** file holds the plain-C path and the split over the thread pool (by rows
** of C, or by columns when C has few rows).  Each element of C is summed
** over k in order by one thread, so the split does not change results.
*/
#include "train/train.h"

#include <string.h>

static void gemm_scalar(int M, int N, int K, float alpha, const float *A, ptrdiff_t rsa,
                        ptrdiff_t csa, const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (ptrdiff_t)i * ldc;
        for (int k = 0; k < K; k++) {
            float a = alpha * A[(ptrdiff_t)i * rsa + (ptrdiff_t)k * csa];
            const float *b = B + (ptrdiff_t)k * ldb;
            for (int j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

/* Follows lx_isa_active (itself cached), so LEXIE_ISA and tests' overrides apply. */
static lx_tgemm_fn kernel(void) {
    return lx_isa_active() >= LX_ISA_AVX512 ? lx_tgemm_avx512_get() : gemm_scalar;
}

static void zero_c(int M, int N, float *C, ptrdiff_t ldc) {
    for (int i = 0; i < M; i++) memset(C + (ptrdiff_t)i * ldc, 0, (size_t)N * sizeof(float));
}

void lx_tgemm_serial(int M, int N, int K, float alpha, const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                     const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (beta == 0.0f) zero_c(M, N, C, ldc);
    if (K <= 0) return;
    kernel()(M, N, K, alpha, A, rsa, csa, B, ldb, C, ldc);
}

typedef struct {
    int M, N, K;
    float alpha, beta;
    const float *A;
    ptrdiff_t rsa, csa;
    const float *B;
    ptrdiff_t ldb;
    float *C;
    ptrdiff_t ldc;
    int by_cols;
} gemm_job;

static void gemm_worker(void *arg, int ith, int nth) {
    gemm_job *j = arg;
    if (!j->by_cols) {
        /* Rows in multiples of 4 (the kernel's tile). */
        int blocks = (j->M + 3) / 4, per = (blocks + nth - 1) / nth;
        int i0 = LX_MIN(j->M, ith * per * 4), i1 = LX_MIN(j->M, (ith + 1) * per * 4);
        if (i1 > i0)
            lx_tgemm_serial(i1 - i0, j->N, j->K, j->alpha, j->A + (ptrdiff_t)i0 * j->rsa, j->rsa,
                            j->csa, j->B, j->ldb, j->beta, j->C + (ptrdiff_t)i0 * j->ldc, j->ldc);
    } else {
        /* Columns in multiples of 16 (one vector). */
        int blocks = (j->N + 15) / 16, per = (blocks + nth - 1) / nth;
        int c0 = LX_MIN(j->N, ith * per * 16), c1 = LX_MIN(j->N, (ith + 1) * per * 16);
        if (c1 > c0)
            lx_tgemm_serial(j->M, c1 - c0, j->K, j->alpha, j->A, j->rsa, j->csa, j->B + c0, j->ldb,
                            j->beta, j->C + c0, j->ldc);
    }
}

void lx_tgemm(lx_pool *pool, int M, int N, int K, float alpha, const float *A, ptrdiff_t rsa,
              ptrdiff_t csa, const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc) {
    int nth = pool ? lx_pool_size(pool) : 1;
    double work = (double)M * N * K;
    if (nth == 1 || work < 65536.0) {
        lx_tgemm_serial(M, N, K, alpha, A, rsa, csa, B, ldb, beta, C, ldc);
        return;
    }
    gemm_job j = {M, N, K, alpha, beta, A, rsa, csa, B, ldb, C, ldc, M < 16 * nth};
    lx_pool_run(pool, gemm_worker, &j);
}
