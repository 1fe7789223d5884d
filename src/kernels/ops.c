/*
** ops.c -- the float ops of a transformer layer: RMS norm, dot, axpy,
** softmax and SwiGLU, with the plain-C versions and the dispatch to the
** SIMD ones (ops_avx2.c, ops_avx512.c).
**
** Precision follows ggml where it matters for matching llama.cpp: the RMS
** norm and softmax sums accumulate in double (ggml_float), and the norm
** is applied as (x * scale) * w, two roundings, as ggml's rms_norm + mul.
*/
#include "kernels.h"

#include <math.h>

/* ==== Plain C ==== */

static float dot_scalar(const float *a, const float *b, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)a[i] * b[i];
    return (float)sum;
}

static void axpy_scalar(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* silu(g) = g / (1 + e^-g), as ggml_silu_f32. */
static void swiglu_scalar(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

static double exp_sum_scalar(float *x, int64_t n, float m) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        sum += x[i];
    }
    return sum;
}

static void dot_rows_scalar(const float *q, int nq, const float *x, size_t stride,
                            const int32_t *idx, int n, int hd, float scale, float *s, size_t ns,
                            const float *pf) {
    (void)pf;
    for (int j = 0; j < nq; j++)
        for (int t = 0; t < n; t++)
            s[j * ns + t] = dot_scalar(q + (size_t)j * hd, x + (size_t)idx[t] * stride, hd) * scale;
}

static void sum_rows_scalar(float *y, int nq, const float *w, size_t ns, const float *x,
                            size_t stride, const int32_t *idx, int n, int hd) {
    for (int j = 0; j < nq; j++) {
        float *yj = y + (size_t)j * hd;
        for (int t = 0; t < n; t++) axpy_scalar(yj, w[j * ns + t], x + (size_t)idx[t] * stride, hd);
    }
}

static float max_scalar(const float *x, int64_t n) {
    float m = x[0];
    for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static void scale_scalar(float *x, float a, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] *= a;
}

static void dot_add_scalar(float *y, const float *b, const float *u, int k, int64_t n, float s) {
    for (int64_t o = 0; o < n; o++) {
        const float t = s * dot_scalar(b + o * k, u, k);
        y[o] += t;
    }
}

void lx_rope_scalar(float *x, const float *rc, int n_rot, int neox) {
    int half = n_rot / 2;
    for (int j = 0; j < half; j++) {
        float cs = rc[2 * j], sn = rc[2 * j + 1];
        int a = neox ? j : 2 * j, b = neox ? j + half : 2 * j + 1;
        float x0 = x[a], x1 = x[b];
        x[a] = x0 * cs - x1 * sn;
        x[b] = x0 * sn + x1 * cs;
    }
}

static const lx_float_ops ops_scalar = {dot_scalar,     axpy_scalar,           swiglu_scalar,
                                        exp_sum_scalar, dot_rows_scalar,       sum_rows_scalar,
                                        max_scalar,     scale_scalar,          dot_add_scalar,
                                        lx_rope_scalar, lx_rmsnorm_rows_scalar};

const lx_float_ops *lx_float_ops_get(lx_isa isa) {
    lx_isa best = lx_isa_best();
    if (isa > best) isa = best;
    if (isa == LX_ISA_AVX512) return lx_float_ops_avx512();
    if (isa == LX_ISA_AVX2) return lx_float_ops_avx2();
    return &ops_scalar;
}

/* ==== Entry points ==== */

/* One row's output from its sum of squares. */
static void rms_scale(float *out, const float *x, const float *w, int64_t n, double sum,
                      float eps) {
    const float scale = lx_rms_factor(sum, n, eps);
    if (w) {
        for (int64_t i = 0; i < n; i++) out[i] = (x[i] * scale) * w[i];
    } else {
        for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale;
    }
}

/* Rows four at a time: the sums of squares, each a chain of double
** additions in its row's order (ggml's), take turns in four registers, so
** the four wait for one chain's latency where one row at a time waited for
** each (8 rows of 576: 128 -> 52 perf samples).  Each row's result is what it gives
** alone. */
void lx_rmsnorm_rows_scalar(float *out, const float *x, const float *w, int64_t rows, int64_t n,
                            float eps) {
    if (n <= 0) return;
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *a = x + r * n, *b = a + n, *c = b + n, *d = c + n;
        double sa = 0.0, sb = 0.0, sc = 0.0, sd = 0.0;
        for (int64_t i = 0; i < n; i++) {
            sa += (double)(a[i] * a[i]);
            sb += (double)(b[i] * b[i]);
            sc += (double)(c[i] * c[i]);
            sd += (double)(d[i] * d[i]);
        }
        rms_scale(out + r * n, a, w, n, sa, eps);
        rms_scale(out + (r + 1) * n, b, w, n, sb, eps);
        rms_scale(out + (r + 2) * n, c, w, n, sc, eps);
        rms_scale(out + (r + 3) * n, d, w, n, sd, eps);
    }
    for (; r < rows; r++) {
        const float *a = x + r * n;
        double sa = 0.0;
        for (int64_t i = 0; i < n; i++) sa += (double)(a[i] * a[i]);
        rms_scale(out + r * n, a, w, n, sa, eps);
    }
}

void lx_rmsnorm_rows(float *out, const float *x, const float *w, int64_t rows, int64_t n,
                     float eps) {
    lx_float_ops_get(lx_isa_active())->rmsnorm_rows(out, x, w, rows, n, eps);
}

void lx_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    lx_rmsnorm_rows(out, x, w, 1, n, eps);
}

float lx_dot_f32(const float *a, const float *b, int64_t n) {
    return lx_float_ops_get(lx_isa_active())->dot(a, b, n);
}

void lx_axpy_f32(float *y, float a, const float *x, int64_t n) {
    lx_float_ops_get(lx_isa_active())->axpy(y, a, x, n);
}

void lx_swiglu(float *gate, const float *up, int64_t n) {
    lx_float_ops_get(lx_isa_active())->swiglu(gate, up, n);
}

/* A row that is all -inf (every position masked) has no distribution;
** it becomes uniform rather than NaN, so one bad row cannot poison the
** sums it feeds.  NaN inputs stay NaN. */
void lx_softmax(float *x, int64_t n) {
    if (n <= 0) return;
    const lx_float_ops *ops = lx_float_ops_get(lx_isa_active());
    const float m = ops->max(x, n);
    if (m == -INFINITY) {
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f / (float)n;
        return;
    }
    const double sum = ops->exp_sum(x, n, m);
    ops->scale(x, (float)(1.0 / sum), n);
}
