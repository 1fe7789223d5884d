/*
** tops.c -- the ops of a llama-family block, forward and backward, in
** fp32 for training: dequantizing frozen weights, RMSNorm, RoPE, SwiGLU,
** causal grouped-query attention over packed sequences, cross-entropy.
**
** Forward passes save what their backward needs (1 / rms per row, the
** attention probabilities); backward passes take the gradient of the
** output and produce that of the input.  Frozen parameters get none.
*/
#include "train/train.h"

#include <math.h>
#include <string.h>

/* ==== Dropout ==== */

void lx_tdropout(uint64_t key, float p, const float *src, float *dst, size_t n) {
    const uint32_t thr = (uint32_t)((double)p * 4294967296.0);
    const float keep = 1.0f / (1.0f - p);
    if (lx_isa_active() >= LX_ISA_AVX512) {
        lx_tdropout_avx512(key, thr, keep, src, dst, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t r = (uint32_t)(lx_mix64(key + i) >> 32);
        dst[i] = r >= thr ? src[i] * keep : 0.0f;
    }
}

/* ==== Dequantizing weights ==== */

typedef struct {
    const lx_tensor *w;
    int64_t r0, r1;
    float *dst;
    int transpose;
} deq_job;

/* Transposed output goes through a small tile: 8 rows of a block-aligned
** piece of columns are dequantized, then written out as runs of 8
** consecutive floats per column, not one float per cache line. */
#define DEQ_ROWS 8
#define DEQ_COLS 512

static void deq_worker(void *arg, int ith, int nth) {
    deq_job *j = arg;
    const lx_type_traits *tr = lx_type_traits_get(j->w->type);
    int64_t cols = j->w->ne[0], n = j->r1 - j->r0;
    size_t row = lx_row_size(j->w->type, cols);
    /* Whole groups of DEQ_ROWS per thread, so tiles never straddle threads. */
    int64_t groups = (n + DEQ_ROWS - 1) / DEQ_ROWS, per = (groups + nth - 1) / nth;
    int64_t a = LX_MIN(n, ith * per * DEQ_ROWS), b = LX_MIN(n, (ith + 1) * per * DEQ_ROWS);
    const char *base = (const char *)j->w->data + (size_t)j->r0 * row;
    if (!j->transpose) {
        for (int64_t r = a; r < b; r++)
            tr->to_float(base + (size_t)r * row, j->dst + (size_t)r * cols, cols);
        return;
    }
    float tmp[DEQ_ROWS][DEQ_COLS];
    int64_t piece = DEQ_COLS / tr->blck_size * tr->blck_size;
    for (int64_t r0 = a; r0 < b; r0 += DEQ_ROWS) {
        int rr = (int)LX_MIN(DEQ_ROWS, b - r0);
        for (int64_t c0 = 0; c0 < cols; c0 += piece) {
            int64_t m = LX_MIN(piece, cols - c0);
            for (int r = 0; r < rr; r++)
                tr->to_float(base + (size_t)(r0 + r) * row +
                                 (size_t)(c0 / tr->blck_size) * tr->type_size,
                             tmp[r], m);
            for (int64_t c = 0; c < m; c++) {
                float *d = j->dst + (size_t)(c0 + c) * n + r0;
                for (int r = 0; r < rr; r++) d[r] = tmp[r][c];
            }
        }
    }
}

void lx_tdequant(lx_pool *pool, const lx_tensor *w, int64_t r0, int64_t r1, float *dst,
                 int transpose) {
    deq_job j = {w, r0, r1, dst, transpose};
    if (pool && (r1 - r0) * w->ne[0] >= 16384)
        lx_pool_run(pool, deq_worker, &j);
    else
        deq_worker(&j, 0, 1);
}

/* ==== RMSNorm ==== */

void lx_trms_fwd(const float *x, const float *w, float *y, float *rstd, int n, int d, float eps) {
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        float *yi = y + (size_t)i * d;
        double ss = 0.0;
        for (int j = 0; j < d; j++) ss += (double)xi[j] * xi[j];
        float r = (float)(1.0 / sqrt(ss / d + eps));
        rstd[i] = r;
        for (int j = 0; j < d; j++) yi[j] = xi[j] * r * (w ? w[j] : 1.0f);
    }
}

/* y = x r w with r = (mean(x^2) + eps)^-1/2:
** dx = r (w dy) - x r^3 / d * sum(x w dy). */
void lx_trms_bwd(const float *x, const float *w, const float *rstd, const float *dy, float *dx,
                 int n, int d) {
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d, *gi = dy + (size_t)i * d;
        float *o = dx + (size_t)i * d;
        double dot = 0.0;
        for (int j = 0; j < d; j++) dot += (double)xi[j] * gi[j] * (w ? w[j] : 1.0f);
        float r = rstd[i], c = (float)(dot * r * r * r / d);
        for (int j = 0; j < d; j++) o[j] += r * gi[j] * (w ? w[j] : 1.0f) - c * xi[j];
    }
}

/* ==== RoPE ==== */

void lx_trope_cache(const lexie_model *m, const int32_t *pos, int n, float *rc) {
    const lx_hparams *hp = &m->hp;
    const float *ff = m->rope_freqs.data;
    float theta_scale = powf(hp->rope_base, -2.0f / (float)hp->n_rot);
    for (int i = 0; i < n; i++) {
        float *r = rc + (size_t)i * hp->n_rot;
        float theta = (float)pos[i];
        for (int j = 0; j < hp->n_rot; j += 2) {
            float t = theta * hp->rope_scale / (ff ? ff[j / 2] : 1.0f);
            r[j] = cosf(t);
            r[j + 1] = sinf(t);
            theta *= theta_scale;
        }
    }
}

void lx_trope(float *x, const float *rc, int n, int nh, int hd, int n_rot, int neox, int inverse) {
    int half = n_rot / 2;
    for (int i = 0; i < n; i++) {
        const float *r = rc + (size_t)i * n_rot;
        for (int h = 0; h < nh; h++) {
            float *xh = x + ((size_t)i * nh + h) * hd;
            for (int j = 0; j < half; j++) {
                float cs = r[2 * j], sn = inverse ? -r[2 * j + 1] : r[2 * j + 1];
                int a = neox ? j : 2 * j, b = neox ? j + half : 2 * j + 1;
                float x0 = xh[a], x1 = xh[b];
                xh[a] = x0 * cs - x1 * sn;
                xh[b] = x0 * sn + x1 * cs;
            }
        }
    }
}

/* ==== SwiGLU ==== */

void lx_tswiglu_fwd(const float *g, const float *u, float *a, int64_t n) {
    for (int64_t i = 0; i < n; i++) a[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void lx_tswiglu_bwd(const float *g, const float *u, const float *da, float *dg, float *du,
                    int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-g[i])), gi = g[i], ui = u[i], d = da[i];
        dg[i] = d * ui * s * (1.0f + gi * (1.0f - s));
        du[i] = d * gi * s;
    }
}

/* ==== Attention ==== */

size_t lx_tatt_probs(const lx_tatt *a) {
    size_t n = 0;
    for (int s = 0; s < a->n_seq; s++) {
        size_t T = (size_t)(a->start[s + 1] - a->start[s]);
        n += (size_t)a->nh * T * T;
    }
    return n;
}

size_t lx_tatt_scratch(int max_len, int hd) {
    return (size_t)max_len * max_len + (size_t)hd * max_len;
}

typedef struct {
    const lx_tatt *a;
    const float *q, *k, *v, *P, *dout;
    float *Pw, *out, *dq, *dk, *dv, *scratch;
    size_t *poff; /* per sequence */
    int backward;
} att_job;

/* Probabilities of head h of one sequence (T tokens from t0) into P. */
static void head_fwd(const att_job *j, int t0, int T, int h, float *P, float *kt) {
    const lx_tatt *a = j->a;
    int qd = a->nh * a->hd, kvd = a->nkv * a->hd, g = h / (a->nh / a->nkv);
    const float *K = j->k + (size_t)t0 * kvd + (size_t)g * a->hd;
    for (int t = 0; t < T; t++)
        for (int c = 0; c < a->hd; c++) kt[(size_t)c * T + t] = K[(size_t)t * kvd + c];
    const float *Q = j->q + (size_t)t0 * qd + (size_t)h * a->hd;
    lx_tgemm_serial(T, T, a->hd, a->scale, Q, qd, 1, kt, T, 0.0f, P, T);
    for (int i = 0; i < T; i++) {
        float *row = P + (size_t)i * T;
        for (int t = i + 1; t < T; t++) row[t] = -INFINITY;
        lx_softmax(row, i + 1);
        for (int t = i + 1; t < T; t++) row[t] = 0.0f;
    }
    const float *V = j->v + (size_t)t0 * kvd + (size_t)g * a->hd;
    float *O = j->out + (size_t)t0 * qd + (size_t)h * a->hd;
    lx_tgemm_serial(T, a->hd, T, 1.0f, P, T, 1, V, kvd, 0.0f, O, qd);
}

/* The backward of head h: dq of the head written, dk and dv of its kv
** group accumulated (one thread owns a whole group). */
static void head_bwd(const att_job *j, int t0, int T, int h, const float *P, float *dP, float *vt) {
    const lx_tatt *a = j->a;
    int qd = a->nh * a->hd, kvd = a->nkv * a->hd, g = h / (a->nh / a->nkv), hd = a->hd;
    const float *V = j->v + (size_t)t0 * kvd + (size_t)g * hd;
    const float *K = j->k + (size_t)t0 * kvd + (size_t)g * hd;
    const float *Q = j->q + (size_t)t0 * qd + (size_t)h * hd;
    const float *dO = j->dout + (size_t)t0 * qd + (size_t)h * hd;
    float *dQ = j->dq + (size_t)t0 * qd + (size_t)h * hd;
    float *dK = j->dk + (size_t)t0 * kvd + (size_t)g * hd;
    float *dV = j->dv + (size_t)t0 * kvd + (size_t)g * hd;
    /* dV += P^T dO;  dP = dO V^T */
    lx_tgemm_serial(T, hd, T, 1.0f, P, 1, T, dO, qd, 1.0f, dV, kvd);
    for (int t = 0; t < T; t++)
        for (int c = 0; c < hd; c++) vt[(size_t)c * T + t] = V[(size_t)t * kvd + c];
    lx_tgemm_serial(T, T, hd, 1.0f, dO, qd, 1, vt, T, 0.0f, dP, T);
    /* dS = P * (dP - sum(P dP)), row by row (masked entries have P = 0). */
    for (int i = 0; i < T; i++) {
        const float *p = P + (size_t)i * T;
        float *d = dP + (size_t)i * T;
        double s = 0.0;
        for (int t = 0; t <= i; t++) s += (double)p[t] * d[t];
        for (int t = 0; t < T; t++) d[t] = t <= i ? p[t] * (d[t] - (float)s) : 0.0f;
    }
    /* dQ = scale dS K;  dK += scale dS^T Q */
    lx_tgemm_serial(T, hd, T, a->scale, dP, T, 1, K, kvd, 0.0f, dQ, qd);
    lx_tgemm_serial(T, hd, T, a->scale, dP, 1, T, Q, qd, 1.0f, dK, kvd);
}

static void att_worker(void *arg, int ith, int nth) {
    att_job *j = arg;
    const lx_tatt *a = j->a;
    int group = a->nh / a->nkv;
    float *scr = j->scratch + (size_t)ith * lx_tatt_scratch(a->max_len, a->hd);
    int total = a->n_seq * a->nkv;
    for (int idx = ith; idx < total; idx += nth) {
        int s = idx / a->nkv, g = idx % a->nkv;
        int t0 = a->start[s], T = a->start[s + 1] - t0;
        float *tt = scr + (size_t)T * T;
        for (int h = g * group; h < (g + 1) * group; h++) {
            size_t off = j->poff[s] + (size_t)h * T * T;
            if (!j->backward)
                head_fwd(j, t0, T, h, j->Pw + off, tt);
            else
                head_bwd(j, t0, T, h, j->P + off, scr, tt);
        }
    }
}

static void att_run(lx_pool *pool, att_job *j) {
    const lx_tatt *a = j->a;
    size_t poff[a->n_seq > 0 ? a->n_seq : 1], at = 0;
    for (int s = 0; s < a->n_seq; s++) {
        size_t T = (size_t)(a->start[s + 1] - a->start[s]);
        poff[s] = at;
        at += (size_t)a->nh * T * T;
    }
    j->poff = poff;
    if (pool)
        lx_pool_run(pool, att_worker, j);
    else
        att_worker(j, 0, 1);
}

void lx_tatt_fwd(lx_pool *pool, const lx_tatt *a, const float *q, const float *k, const float *v,
                 float *P, float *out, float *scratch) {
    att_job j;
    memset(&j, 0, sizeof j);
    j.a = a;
    j.q = q;
    j.k = k;
    j.v = v;
    j.Pw = P;
    j.out = out;
    j.scratch = scratch;
    att_run(pool, &j);
}

void lx_tatt_bwd(lx_pool *pool, const lx_tatt *a, const float *q, const float *k, const float *v,
                 const float *P, const float *dout, float *dq, float *dk, float *dv,
                 float *scratch) {
    int n = a->start[a->n_seq];
    memset(dk, 0, (size_t)n * a->nkv * a->hd * sizeof(float));
    memset(dv, 0, (size_t)n * a->nkv * a->hd * sizeof(float));
    att_job j;
    memset(&j, 0, sizeof j);
    j.a = a;
    j.q = q;
    j.k = k;
    j.v = v;
    j.P = P;
    j.dout = dout;
    j.dq = dq;
    j.dk = dk;
    j.dv = dv;
    j.scratch = scratch;
    j.backward = 1;
    att_run(pool, &j);
}

/* ==== Cross-entropy ==== */

double lx_tce_row(float *z, int n, int y, float scale, float *dz) {
    float mx = z[0];
    for (int i = 1; i < n; i++) mx = z[i] > mx ? z[i] : mx;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += exp((double)z[i] - mx);
    double lse = mx + log(s);
    double loss = lse - z[y];
    if (dz) {
        for (int i = 0; i < n; i++) dz[i] = scale * (float)exp((double)z[i] - lse);
        dz[y] -= scale;
    }
    return loss;
}
