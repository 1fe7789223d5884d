/*
** bench_tgemm.c -- training's matrix product on one thread: the fp32
** AVX-512 kernel against the bf16 one (bf16 products, fp32 sums; AVX-512
** BF16), GFLOP/s as the best of several runs, for the shapes a training
** step multiplies: activations (M tokens) by a dequantized weight (K x N),
** the same with A transposed (the weight gradient), and a rank-16 LoRA
** factor (N = 16).
**
**   build/bench/bench_tgemm [M=1024] [reps=5]
*/
#include "train/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Best GFLOP/s of reps runs of C = A B (A M x K, or its transpose). */
static double rate(lx_tgemm_fn f, int M, int N, int K, int trans, int reps, const float *A,
                   const float *B, float *C) {
    ptrdiff_t rsa = trans ? 1 : K, csa = trans ? M : 1;
    double best = 0.0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        f(M, N, K, 1.0f, A, rsa, csa, B, N, C, N);
        double dt = now() - t0;
        double g = 2.0 * M * N * K / dt / 1e9;
        best = g > best ? g : best;
    }
    return best;
}

int main(int argc, char **argv) {
    int M = argc > 1 ? atoi(argv[1]) : 1024, reps = argc > 2 ? atoi(argv[2]) : 5;
    if (M < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_tgemm [M] [reps]\n");
        return 2;
    }
    lx_tgemm_fn f32 = lx_isa_best() >= LX_ISA_AVX512 ? lx_tgemm_avx512_get() : NULL;
    lx_tgemm_fn bf = lx_tgemm_avx512bf16_get();
    if (!f32 || !bf) {
        fprintf(stderr, "bench_tgemm: needs AVX-512%s\n", f32 ? " BF16" : "");
        return 1;
    }
    static const int shapes[][2] = {{576, 576}, {576, 1536}, {1536, 576}, {576, 16}, {16, 576}};
    printf(
        "| M x K x N | A | fp32 GFLOP/s | bf16 GFLOP/s | bf16 / fp32 |\n|---|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int K = shapes[s][0], N = shapes[s][1];
        float *A = malloc(sizeof(float) * (size_t)M * K),
              *B = malloc(sizeof(float) * (size_t)K * N);
        float *C = malloc(sizeof(float) * (size_t)M * N);
        if (!A || !B || !C) return 1;
        for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 7) * 0.25f - 0.75f;
        for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)(i % 5) * 0.5f - 1.0f;
        for (int tr = 0; tr < 2; tr++) {
            double a = rate(f32, M, N, K, tr, reps, A, B, C);
            double b = rate(bf, M, N, K, tr, reps, A, B, C);
            printf("| %d x %d x %d | %s | %.1f | %.1f | %.2fx |\n", M, K, N,
                   tr ? "transposed" : "row-major", a, b, b / a);
        }
        free(A);
        free(B);
        free(C);
    }
    return 0;
}
