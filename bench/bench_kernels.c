/*
** bench_kernels.c -- speed of the matmul and float-op kernels on every ISA
** this CPU has, with the ratio to the plain-C path measured in the same run.
**
**   build/bench/bench_kernels [-t THREADS] [-T TYPE] [--quick]
**
** decode: y = W x for one activation row on a matrix larger than the last
** level cache, so it reports the weight bandwidth in GB/s (what bounds
** single-token decoding).  prefill: 64 activation rows on a cache-sized
** matrix, reported as GFLOP/s (2 flops per weight per row; compute-bound).
** Each figure is the best of repeated runs of at least 0.2 s.
*/
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int types[] = {LX_TYPE_F32,  LX_TYPE_F16,  LX_TYPE_BF16, LX_TYPE_Q8_0, LX_TYPE_Q4_0,
                            LX_TYPE_Q4_1, LX_TYPE_Q5_0, LX_TYPE_Q5_1, LX_TYPE_Q2_K, LX_TYPE_Q3_K,
                            LX_TYPE_Q4_K, LX_TYPE_Q5_K, LX_TYPE_Q6_K};

static double min_time = 0.2;

static void fill(float *x, int64_t n) {
    uint32_t s = 12345;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.1f;
    }
}

typedef struct {
    lx_pool *pool;
    lx_isa isa;
    int type;
    const void *w;
    int64_t rows, cols, batch;
    const float *x;
    float *y;
    void *qbuf;
} mm_case;

/* Best seconds per call. */
static double time_matmul(const mm_case *c) {
    double best = 1e30, total = 0;
    int reps = 0;
    while (total < min_time || reps < 2) {
        double t0 = lx_time_now();
        lx_matmul_isa(c->pool, c->isa, c->w, c->type, c->rows, c->cols, c->x, c->batch, c->y,
                      c->qbuf);
        double dt = lx_time_now() - t0;
        best = dt < best ? dt : best;
        total += dt;
        reps++;
    }
    return best;
}

/* Quantizes an n_rows x n_cols matrix of type; NULL if unsupported. */
static void *make_weights(int type, int64_t rows, int64_t cols) {
    const lx_type_traits *t = lx_type_traits_get(type);
    if (!t || !lx_vec_dot_get(type, LX_ISA_SCALAR)) return NULL;
    size_t rs = lx_row_size(type, cols);
    uint8_t *w = malloc(rs * (size_t)rows);
    float *row = malloc((size_t)cols * sizeof *row);
    for (int64_t r = 0; r < rows; r++) {
        fill(row, cols);
        row[r % cols] += (float)(r % 7); /* rows differ */
        t->from_float(row, w + (size_t)r * rs, cols);
    }
    free(row);
    return w;
}

static void bench_matmul(lx_pool *pool, int type, int quick) {
    const int64_t dec_rows = quick ? 4096 : 16384, dec_cols = 4096;
    const int64_t pre_rows = 1024, pre_cols = 2048, pre_batch = 64;
    void *wd = make_weights(type, dec_rows, dec_cols);
    void *wp = make_weights(type, pre_rows, pre_cols);
    if (!wd || !wp) {
        free(wd);
        free(wp);
        return;
    }
    float *x = malloc((size_t)(pre_batch * pre_cols) * sizeof *x);
    float *y =
        malloc((size_t)(pre_batch * (dec_rows > pre_rows ? dec_rows : pre_rows)) * sizeof *y);
    fill(x, pre_batch * pre_cols);
    /* Room for the packed type's activation rows too (lx_pack_act_extra). */
    const int qt = lx_pack_type(type) >= 0 ? lx_pack_type(type) : type;
    size_t qs = lx_matmul_qbuf_size(qt, pre_cols, pre_batch);
    size_t qd = lx_matmul_qbuf_size(qt, dec_cols, 1);
    void *qbuf = malloc((qs > qd ? qs : qd) + 1);
    const double wbytes = (double)lx_row_size(type, dec_cols) * (double)dec_rows;
    double dec_scalar = 0, pre_scalar = 0;
    for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
        mm_case d = {pool, (lx_isa)isa, type, wd, dec_rows, dec_cols, 1, x, y, qbuf};
        mm_case p = {pool, (lx_isa)isa, type, wp, pre_rows, pre_cols, pre_batch, x, y, qbuf};
        double td = time_matmul(&d), tp = time_matmul(&p);
        double gbs = wbytes / td / 1e9;
        double gflops = 2.0 * (double)pre_rows * (double)pre_cols * (double)pre_batch / tp / 1e9;
        if (isa == LX_ISA_SCALAR) dec_scalar = gbs, pre_scalar = gflops;
        printf("%-5s %-7s decode %7.2f GB/s (x%5.2f)   prefill %8.2f GFLOP/s (x%6.2f)\n",
               lx_type_name(type), lx_isa_name((lx_isa)isa), gbs, gbs / dec_scalar, gflops,
               gflops / pre_scalar);
        fflush(stdout);
    }
    /* The packed layout on each ISA where it pays (what a model load builds). */
    const int pt = lx_pack_type(type);
    void *pd = NULL, *pp = NULL;
    for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
        if (!lx_pack_pays(type, (lx_isa)isa)) continue;
        if (!pd) {
            pd = aligned_alloc(64, lx_pack_size(type, dec_rows, dec_cols));
            pp = aligned_alloc(64, lx_pack_size(type, pre_rows, pre_cols));
            lx_pack(type, wd, dec_rows, dec_cols, pd);
            lx_pack(type, wp, pre_rows, pre_cols, pp);
        }
        mm_case d = {pool, (lx_isa)isa, pt, pd, dec_rows, dec_cols, 1, x, y, qbuf};
        mm_case p = {pool, (lx_isa)isa, pt, pp, pre_rows, pre_cols, pre_batch, x, y, qbuf};
        double td = time_matmul(&d), tp = time_matmul(&p);
        double gbs = (double)lx_pack_size(type, dec_rows, dec_cols) / td / 1e9;
        double gflops = 2.0 * (double)pre_rows * (double)pre_cols * (double)pre_batch / tp / 1e9;
        printf("%-5s %-7s decode %7.2f GB/s (x%5.2f)   prefill %8.2f GFLOP/s (x%6.2f)  packed\n",
               lx_type_name(type), lx_isa_name((lx_isa)isa), gbs, gbs / dec_scalar, gflops,
               gflops / pre_scalar);
        fflush(stdout);
    }
    free(pd), free(pp);
    free(wd), free(wp), free(x), free(y), free(qbuf);
}

/* Best seconds per call of one float op on n elements.  swiglu and the
** softmax exponentials work in place, so each call starts from a fresh
** copy of the input (repeated in place they would drift into subnormals);
** the copy of n floats is timed separately and subtracted. */
static double time_op(int which, const lx_float_ops *ops, float *a, const float *a0, float *b,
                      int64_t n) {
    double best = 1e30, best_copy = 1e30, total = 0;
    int reps = 0;
    volatile float sink = 0;
    while (total < min_time / 4 || reps < 3) {
        double t0 = lx_time_now();
        for (int k = 0; k < 100; k++) {
            if (which >= 2) memcpy(a, a0, (size_t)n * sizeof *a);
            switch (which) {
            case 0: sink += ops->dot(a, b, n); break;
            case 1: ops->axpy(a, 1e-3f, b, n); break;
            case 2: ops->swiglu(a, b, n); break;
            case 3: sink += (float)ops->exp_sum(a, n, 1.0f); break;
            }
        }
        double dt = (lx_time_now() - t0) / 100;
        t0 = lx_time_now();
        for (int k = 0; k < 100 && which >= 2; k++) {
            memcpy(a, a0, (size_t)n * sizeof *a);
            sink += a[k];
        }
        double dc = (lx_time_now() - t0) / 100;
        best = dt < best ? dt : best;
        best_copy = dc < best_copy ? dc : best_copy;
        total += dt * 100;
        reps++;
    }
    (void)sink;
    return which >= 2 && best > best_copy ? best - best_copy : best;
}

static void bench_ops(void) {
    static const char *names[] = {"dot_f32", "axpy_f32", "swiglu", "softmax exp"};
    const int64_t n = 4096; /* an attention row / FFN row: L1-resident */
    float *a = malloc(n * sizeof *a), *a0 = malloc(n * sizeof *a0), *b = malloc(n * sizeof *b);
    fill(a0, n);
    memcpy(a, a0, n * sizeof *a);
    fill(b, n);
    for (int which = 0; which < 4; which++) {
        double base = 0;
        for (int isa = 0; isa <= (int)lx_isa_best(); isa++) {
            double t = time_op(which, lx_float_ops_get((lx_isa)isa), a, a0, b, n);
            double gelem = (double)n / t / 1e9;
            if (isa == 0) base = gelem;
            printf("%-12s %-7s %8.2f Gelem/s (x%6.2f)\n", names[which], lx_isa_name((lx_isa)isa),
                   gelem, gelem / base);
        }
    }
    free(a), free(a0), free(b);
}

int main(int argc, char **argv) {
    int n_threads = 1, only = -1, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc)
            n_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-T") && i + 1 < argc) {
            const char *nm = argv[++i];
            for (int t = 0; t < LX_TYPE_COUNT; t++)
                if (!strcmp(lx_type_name(t), nm)) only = t;
            if (only < 0) {
                fprintf(stderr, "unknown type %s\n", nm);
                return 2;
            }
        } else if (!strcmp(argv[i], "--quick")) {
            quick = 1;
            min_time = 0.05;
        } else {
            fprintf(stderr, "usage: %s [-t THREADS] [-T TYPE] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (n_threads < 1) n_threads = lx_cpu_count();
    lexie_error err;
    lx_pool *pool = lx_pool_new(n_threads, &err);
    if (!pool) {
        fprintf(stderr, "pool: %s\n", err.message);
        return 1;
    }
    printf("lexie kernels: best ISA %s, %d thread(s)\n", lx_isa_name(lx_isa_best()), n_threads);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (only < 0 || types[i] == only) bench_matmul(pool, types[i], quick);
    if (only < 0) bench_ops();
    lx_pool_free(pool);
    return 0;
}
