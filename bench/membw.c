/*
** membw.c -- the memory read bandwidth that bounds decoding: one thread
** sums a buffer far larger than the caches (512 MB by default), streaming
** it from memory, several passes.  Decoding one token reads every weight
** once, so bandwidth / weight bytes is the decode speed no kernel can beat
** on one thread; bench/bench_speed.py reports lexie's decode against it.
**
**   build/bench/membw [MB=512] [passes=5]
**
** Prints one JSON object: the best and the median pass in GB/s (1e9 bytes).
*/
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PASSES 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Four independent sums of 64-byte vectors, so that the adds never wait
** on each other and the loads (the memory) are the only limit; compiled
** for AVX-512, AVX2 and plain x86-64, the CPU picks (a scalar loop reads
** about half as fast on the development machine). */
typedef uint64_t v8 __attribute__((vector_size(64)));

__attribute__((target_clones("avx512f", "avx2", "default"))) static uint64_t sum(const v8 *p,
                                                                                 size_t n) {
    v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t i = 0; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    v8 t = s0 + s1 + s2 + s3;
    uint64_t r = 0;
    for (int k = 0; k < 8; k++) r += t[k];
    return r;
}

int main(int argc, char **argv) {
    long mb = argc > 1 ? atol(argv[1]) : 512;
    int passes = argc > 2 ? atoi(argv[2]) : 5;
    if (mb < 1 || mb > 65536 || passes < 1 || passes > MAX_PASSES) {
        fprintf(stderr, "usage: %s [MB 1..65536] [passes 1..%d]\n", argv[0], MAX_PASSES);
        return 2;
    }
    size_t bytes = (size_t)mb << 20, n = bytes / sizeof(uint64_t);
    uint64_t *p = aligned_alloc(64, bytes);
    if (!p) {
        fprintf(stderr, "membw: cannot allocate %ld MB\n", mb);
        return 1;
    }
    for (size_t i = 0; i < n; i++) p[i] = i; /* touch every page before timing */
    double gbs[MAX_PASSES];
    uint64_t check = 0;
    for (int r = 0; r < passes; r++) {
        double t0 = now();
        check += sum((const v8 *)p, bytes / sizeof(v8));
        gbs[r] = (double)bytes / (now() - t0) / 1e9;
    }
    qsort(gbs, (size_t)passes, sizeof gbs[0], cmp_double);
    printf("{\"mb\": %ld, \"passes\": %d, \"best_gb_s\": %.2f, \"median_gb_s\": %.2f, "
           "\"check\": %llu}\n",
           mb, passes, gbs[passes - 1], gbs[passes / 2], (unsigned long long)check);
    free(p);
    return 0;
}
