/*
** ops_avx512.c -- AVX-512 versions of the float ops (dot, axpy, SwiGLU,
** the exponentials of softmax).
**
** The same algorithms as ops_avx2.c on 16 floats at a time; masked loads
** and stores take the tails, so no scalar remainder loop is needed.  The
** exp is the polynomial of ops_avx2.c, so both paths agree to the last
** bit or two.  The attention loops (dot_rows, sum_rows) are where long
** prompts spend their time: they keep the query and the output in
** registers and reduce sixteen scores at once.
*/
#include "kernels.h"
#include "tree_avx512.h"

#include <immintrin.h>

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* e^x for 16 floats; see exp_ps in ops_avx2.c for the method. */
static inline __m512 exp_ps(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.8f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i ni = _mm512_cvtps_epi32(n);
    __m512i n1 = _mm512_srai_epi32(ni, 1), n2 = _mm512_sub_epi32(ni, n1);
    const __m512i bias = _mm512_set1_epi32(127);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x);
}

static float dot(const float *a, const float *b, int64_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), a3);
    }
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

static void axpy(float *y, float a, const float *x, int64_t n) {
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 y0 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
        __m512 y1 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16));
        _mm512_storeu_ps(y + i, y0);
        _mm512_storeu_ps(y + i + 16, y1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v =
            _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

static void swiglu(float *gate, const float *up, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
        __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, e));
        _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

/* Lane 4q + e of the result is the sum of v[4e + q]'s sixteen lanes, added
** as _mm512_reduce_add_ps adds them: lanes k and k + 8, then k and k + 4,
** k and k + 2, then the last two.  Each stage pairs the halves of two
** vectors' partial sums and adds them with one instruction, so the
** sixteen sums cost 30 shuffles and 15 additions where one at a time cost
** 4 and 4 each. */
static inline __attribute__((always_inline)) __m512 reduce16(const __m512 *v) {
    __m512 s1[8], s2[4], s3[2];
    _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) s1[i] =
        _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                      _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) s2[j] =
        _mm512_add_ps(_mm512_shuffle_f32x4(s1[2 * j], s1[2 * j + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                      _mm512_shuffle_f32x4(s1[2 * j], s1[2 * j + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    _Pragma("GCC unroll 2") for (int m = 0; m < 2; m++) s3[m] =
        _mm512_add_ps(_mm512_shuffle_ps(s2[2 * m], s2[2 * m + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                      _mm512_shuffle_ps(s2[2 * m], s2[2 * m + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_ps(s3[0], s3[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(s3[0], s3[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Each 16 exponentials are summed in float in _mm512_reduce_add_ps's
** order, and those sums added to a double one after another; sixteen
** such vectors at a time go through reduce16 (the reductions had taken
** a third of the loop's time), a short rest one by one, the same bits. */
static double exp_sum(float *x, int64_t n, float m) {
    const __m512 vm = _mm512_set1_ps(m);
    double sum = 0.0;
    int64_t i = 0;
    for (; i + 256 <= n; i += 256) {
        __m512 v[16];
        _Pragma("GCC unroll 16") for (int c = 0; c < 16; c++) {
            v[c] = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16 * c), vm));
            _mm512_storeu_ps(x + i + 16 * c, v[c]);
        }
        float r[16];
        _mm512_storeu_ps(r, reduce16(v));
        for (int c = 0; c < 16; c++) sum += r[4 * (c % 4) + c / 4];
    }
    for (; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 v = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm));
        v = _mm512_maskz_mov_ps(k, v); /* lanes past the end must not count */
        _mm512_mask_storeu_ps(x + i, k, v);
        sum += _mm512_reduce_add_ps(v);
    }
    return sum;
}

/* ==== Attention ==== */

/* Lanes 0..left-1 (none when left <= 0). */
static inline __mmask16 mask_left(int left) { return left <= 0 ? (__mmask16)0 : tail_mask(left); }

#define MAX_HD 128 /* q kept in registers up to this head size */

/* dot_block asks for the rows DOT_PF groups ahead, a few lines before each
** query, so memory works while the group computes.  Left to the hardware,
** each group's rows (4 KB at head size 64: one page, where its stream
** stops) waited on memory and then computed with memory idle; asked for
** all at once, the requests filled the core's miss buffers and the
** prefetches themselves stalled it.  Spread, 8 sequences' scores over a
** shared prompt went from 5.6-6.1 to 4.1-4.3 cycles a query-row pair
** (hot: 3.5), their own rows' from 25-29 to 20-23, one sequence's from
** 19-20 to 15-16 (rdtsc around the calls, smollm2, 512 + 128 tokens).
** Given pf, the queries also ask for the current group's rows of pf (the
** values) into L2, so the weighted sums that follow find them there: over
** a shared prompt they otherwise ran at memory's pace, 5.4 cycles a
** query-row pair against 1.9 with the rows in cache (8 sequences on two
** threads: +3%, alternating in one process).  Over a sequence's own few
** rows it gained nothing, and layers.c does not ask there. */
#define DOT_PF 2

/* Sixteen rows at a time: each row's products with one query go to one
** vector and lx_tree16 reduces the sixteen together; the rows stay in L1
** while every query of the group takes its turn.  NC, the query's 16-float
** chunks, is a constant where this is inlined, so the query and the sixteen
** sums stay in registers; a short last group repeats its first row and
** stores only what is real. */
static inline __attribute__((always_inline)) void dot_block(const float *q, int nq, int NC,
                                                            const float *x, size_t stride,
                                                            const int32_t *idx, int n, float scale,
                                                            float *s, size_t ns, const float *pf) {
    const __m512 vs = _mm512_set1_ps(scale);
    const int lines = 16 * NC, per = (lines + nq - 1) / nq; /* a group's lines; per query */
    for (int t0 = 0; t0 < n; t0 += 16) {
        const int rows = LX_MIN(16, n - t0);
        const float *r[16];
        _Pragma("GCC unroll 16") for (int k = 0; k < 16; k++) r[k] =
            x + (size_t)idx[t0 + (k < rows ? k : 0)] * stride;
        const int ahead = t0 + 16 * DOT_PF; /* the group whose lines the queries ask for */
        int line = 0, pf_line = 0;
        for (int j = 0; j < nq; j++) {
            for (int z = 0; z < per && line < lines; z++, line++)
                if (ahead + line / NC < n)
                    _mm_prefetch((const char *)(x + (size_t)idx[ahead + line / NC] * stride) +
                                     64 * (line % NC),
                                 _MM_HINT_T0);
            if (pf)
                for (int z = 0; z < per && pf_line < lines; z++, pf_line++)
                    if (t0 + pf_line / NC < n)
                        _mm_prefetch((const char *)(pf + (size_t)idx[t0 + pf_line / NC] * stride) +
                                         64 * (pf_line % NC),
                                     _MM_HINT_T1);
            const float *qj = q + (size_t)j * NC * 16;
            __m512 qv[MAX_HD / 16], v[16];
            _Pragma("GCC unroll 16") for (int c = 0; c < NC; c++) qv[c] =
                _mm512_loadu_ps(qj + 16 * c);
            _Pragma("GCC unroll 16") for (int k = 0; k < 16; k++) {
                __m512 acc = _mm512_mul_ps(qv[0], _mm512_loadu_ps(r[k]));
                _Pragma("GCC unroll 16") for (int c = 1; c < NC; c++) acc =
                    _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(r[k] + 16 * c), acc);
                v[k] = acc;
            }
            _mm512_mask_storeu_ps(s + j * ns + t0, mask_left(rows),
                                  _mm512_mul_ps(lx_tree16(v, LX_TREE_ADD), vs));
        }
    }
}

/* Head sizes 64 and 128 (nearly every model) get their own unrolled copy;
** the others take the plain dot. */
static void dot_rows(const float *q, int nq, const float *x, size_t stride, const int32_t *idx,
                     int n, int hd, float scale, float *s, size_t ns, const float *pf) {
    if (hd == 64) {
        dot_block(q, nq, 4, x, stride, idx, n, scale, s, ns, pf);
    } else if (hd == 128) {
        dot_block(q, nq, 8, x, stride, idx, n, scale, s, ns, pf);
    } else {
        for (int j = 0; j < nq; j++)
            for (int t = 0; t < n; t++)
                s[j * ns + t] = dot(q + (size_t)j * hd, x + (size_t)idx[t] * stride, hd) * scale;
    }
}

#define SUM_NJ 6 /* queries per pass: 24 sums, a row and a weight in 29 registers */
#define SUM_PF 8 /* rows ahead to prefetch: the cells are scattered in the cache */

/* NJ queries' 16 * NC output floats from b (NJ and NC constants where it
** is inlined; NC is 4, masked where fewer remain, or 2 for half a head of
** 64, which layers.c gives each of two threads), accumulated in registers
** from y's values over all rows in order (the arithmetic of repeated
** axpy), each row read once for the NJ queries. */
static inline __attribute__((always_inline)) void
sum_block(float *y, int NJ, int NC, const float *w, size_t ns, const float *x, size_t stride,
          const int32_t *idx, int n, int hd, int b) {
    __mmask16 m[4];
    __m512 a[2 * SUM_NJ][4];
    _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++) {
        m[c] = mask_left(hd - b - 16 * c);
        _Pragma("GCC unroll 12") for (int j = 0; j < NJ; j++) a[j][c] =
            _mm512_maskz_loadu_ps(m[c], y + (size_t)j * hd + b + 16 * c);
    }
    for (int t = 0; t < n; t++) {
        const float *r = x + (size_t)idx[t] * stride + b;
        const char *ahead = (const char *)(x + (size_t)idx[LX_MIN(t + SUM_PF, n - 1)] * stride + b);
        _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++)
            _mm_prefetch(ahead + 64 * c, _MM_HINT_T0);
        __m512 row[4];
        _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++) row[c] =
            _mm512_maskz_loadu_ps(m[c], r + 16 * c);
        _Pragma("GCC unroll 12") for (int j = 0; j < NJ; j++) {
            const __m512 wt = _mm512_set1_ps(w[j * ns + t]);
            _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++) a[j][c] =
                _mm512_fmadd_ps(wt, row[c], a[j][c]);
        }
    }
    _Pragma("GCC unroll 12") for (int j = 0; j < NJ; j++)
        _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++)
            _mm512_mask_storeu_ps(y + (size_t)j * hd + b + 16 * c, m[c], a[j][c]);
}

#define SUM_CASE(nj, nc)                                                                           \
    case nj: sum_block(yj, nj, nc, wj, ns, x, stride, idx, n, hd, b); break

/* Up to SUM_NJ queries at a time (twice as many on half a head), each
** count its own unrolled copy. */
static void sum_rows(float *y, int nq, const float *w, size_t ns, const float *x, size_t stride,
                     const int32_t *idx, int n, int hd) {
    for (int b = 0; b < hd; b += 64) {
        const int half = hd - b == 32, step = half ? 2 * SUM_NJ : SUM_NJ;
        for (int j0 = 0; j0 < nq; j0 += step) {
            float *yj = y + (size_t)j0 * hd;
            const float *wj = w + j0 * ns;
            if (half) {
                switch (LX_MIN(step, nq - j0)) {
                    SUM_CASE(1, 2);
                    SUM_CASE(2, 2);
                    SUM_CASE(3, 2);
                    SUM_CASE(4, 2);
                    SUM_CASE(5, 2);
                    SUM_CASE(6, 2);
                    SUM_CASE(7, 2);
                    SUM_CASE(8, 2);
                    SUM_CASE(9, 2);
                    SUM_CASE(10, 2);
                    SUM_CASE(11, 2);
                default: sum_block(yj, 12, 2, wj, ns, x, stride, idx, n, hd, b); break;
                }
            } else {
                switch (LX_MIN(step, nq - j0)) {
                    SUM_CASE(1, 4);
                    SUM_CASE(2, 4);
                    SUM_CASE(3, 4);
                    SUM_CASE(4, 4);
                    SUM_CASE(5, 4);
                default: sum_block(yj, 6, 4, wj, ns, x, stride, idx, n, hd, b); break;
                }
            }
        }
    }
}

/* max_ps(x, m) keeps m where x is NaN, as the scalar loop does; m
** starts at x[0] everywhere, so a NaN there stays. */
static float max(const float *x, int64_t n) {
    __m512 m = _mm512_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) m = _mm512_max_ps(_mm512_loadu_ps(x + i), m);
    if (i < n) m = _mm512_max_ps(_mm512_mask_loadu_ps(m, tail_mask(n - i), x + i), m);
    float lanes[16];
    _mm512_storeu_ps(lanes, m);
    float r = lanes[0];
    for (int k = 1; k < 16; k++) r = lanes[k] > r ? lanes[k] : r;
    return r;
}

static void scale(float *x, float a, int64_t n) {
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), va));
    if (i < n) {
        const __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), va));
    }
}

/* A separate product and sum: no FMA may join them (ops.c's rounding). */
static void dot_add(float *y, const float *b, const float *u, int k, int64_t n, float s) {
    for (int64_t o = 0; o < n; o++) {
        const float t = s * dot(b + o * k, u, k);
        y[o] += t;
    }
}

/* ==== RMSNorm ==== */

/* v[r] lane e in, v[e] lane r out (8 x 8 doubles): pairs of lanes, then
** the 128-bit blocks in two rounds. */
static inline __attribute__((always_inline)) void transpose8_pd(__m512d *v) {
    __m512d t[8];
    _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_pd(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(v[2 * i], v[2 * i + 1]);
    }
    /* Block j of t[2p + h]: lane 2j + h of rows 2p and 2p + 1. */
    _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++) {
        const __m512d w0 = _mm512_shuffle_f64x2(t[h], t[2 + h], _MM_SHUFFLE(2, 0, 2, 0));
        const __m512d w1 = _mm512_shuffle_f64x2(t[h], t[2 + h], _MM_SHUFFLE(3, 1, 3, 1));
        const __m512d w2 = _mm512_shuffle_f64x2(t[4 + h], t[6 + h], _MM_SHUFFLE(2, 0, 2, 0));
        const __m512d w3 = _mm512_shuffle_f64x2(t[4 + h], t[6 + h], _MM_SHUFFLE(3, 1, 3, 1));
        v[h] = _mm512_shuffle_f64x2(w0, w2, _MM_SHUFFLE(2, 0, 2, 0));
        v[4 + h] = _mm512_shuffle_f64x2(w0, w2, _MM_SHUFFLE(3, 1, 3, 1));
        v[2 + h] = _mm512_shuffle_f64x2(w1, w3, _MM_SHUFFLE(2, 0, 2, 0));
        v[6 + h] = _mm512_shuffle_f64x2(w1, w3, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

/* The sums of squares of up to 8 rows, a row to a lane, each the chain of
** double additions of its float squares in order that the plain loop
** makes: eight floats of every row squared and widened, turned so that
** each vector holds one column of the rows, and added column by column.
** The plain loop's four chains at a time waited on the additions' latency
** twice for eight rows; here once.  Past the end the columns are 0.0,
** which leaves a sum (never -0.0) as it is. */
static void sum_squares8(const float *x, int rows, int64_t n, double *sums) {
    const float *r[8];
    for (int k = 0; k < 8; k++) r[k] = x + (k < rows ? k : 0) * n;
    __m512d acc = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 8) {
        const __mmask8 m = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
        __m512d v[8];
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
            const __m256 a = _mm256_maskz_loadu_ps(m, r[k] + i);
            v[k] = _mm512_cvtps_pd(_mm256_mul_ps(a, a));
        }
        transpose8_pd(v);
        _Pragma("GCC unroll 8") for (int e = 0; e < 8; e++) acc = _mm512_add_pd(acc, v[e]);
    }
    double lanes[8];
    _mm512_storeu_pd(lanes, acc);
    for (int k = 0; k < rows; k++) sums[k] = lanes[k];
}

/* Eight rows at a time: all their sums, then each row scaled (out may be
** x: a row is read for its sum before it is written). */
static void rmsnorm_rows(float *out, const float *x, const float *w, int64_t rows, int64_t n,
                         float eps) {
    if (n <= 0) return;
    for (int64_t r0 = 0; r0 < rows; r0 += 8) {
        const int nr = (int)LX_MIN(8, rows - r0);
        double sums[8];
        sum_squares8(x + r0 * n, nr, n, sums);
        for (int k = 0; k < nr; k++) {
            const __m512 s = _mm512_set1_ps(lx_rms_factor(sums[k], n, eps));
            const float *xr = x + (r0 + k) * n;
            float *o = out + (r0 + k) * n;
            for (int64_t i = 0; i < n; i += 16) {
                const __mmask16 m = tail_mask(n - i);
                __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + i), s);
                if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i));
                _mm512_mask_storeu_ps(o + i, m, v);
            }
        }
    }
}

/* ==== RoPE ==== */

/* Eight pairs at a time.  Adjacent pairs: the cosines and sines copied to
** both lanes of their pair, the pair's floats swapped, two products and
** their difference (even lanes) or sum (odd ones).  neox's halves: the
** cosines and sines gathered out of rc's pairs.  The plain loop's
** roundings, so its bits. */
static void rope(float *x, const float *rc, int n_rot, int neox) {
    const int half = n_rot / 2;
    if (!neox) {
        for (int i = 0; i < n_rot; i += 16) {
            const __mmask16 m = tail_mask(n_rot - i);
            const __m512 v = _mm512_maskz_loadu_ps(m, x + i), c = _mm512_maskz_loadu_ps(m, rc + i);
            const __m512 p = _mm512_mul_ps(v, _mm512_moveldup_ps(c));
            const __m512 q =
                _mm512_mul_ps(_mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)), _mm512_movehdup_ps(c));
            _mm512_mask_storeu_ps(x + i, m, _mm512_mask_sub_ps(_mm512_add_ps(p, q), 0x5555, p, q));
        }
        return;
    }
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int j = 0; j < half; j += 16) {
        const int left = half - j; /* pairs */
        const __mmask16 m = tail_mask(left);
        const __m512 r0 = _mm512_maskz_loadu_ps(tail_mask(2 * left), rc + 2 * j);
        const __m512 r1 = _mm512_maskz_loadu_ps(mask_left(2 * left - 16), rc + 2 * j + 16);
        const __m512 cs = _mm512_permutex2var_ps(r0, even, r1);
        const __m512 sn = _mm512_permutex2var_ps(r0, odd, r1);
        const __m512 a = _mm512_maskz_loadu_ps(m, x + j),
                     b = _mm512_maskz_loadu_ps(m, x + j + half);
        _mm512_mask_storeu_ps(x + j, m, _mm512_sub_ps(_mm512_mul_ps(a, cs), _mm512_mul_ps(b, sn)));
        _mm512_mask_storeu_ps(x + j + half, m,
                              _mm512_add_ps(_mm512_mul_ps(a, sn), _mm512_mul_ps(b, cs)));
    }
}

static const lx_float_ops ops = {dot, axpy,  swiglu,  exp_sum, dot_rows,    sum_rows,
                                 max, scale, dot_add, rope,    rmsnorm_rows};

const lx_float_ops *lx_float_ops_avx512(void) { return &ops; }
