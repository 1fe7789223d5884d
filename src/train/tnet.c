/*
** tnet.c -- the training network: a llama or qwen2 model run forward with
** saved activations and backward, with LoRA on its projections.
**
** Memory stays bounded by checkpointing each layer: the forward pass keeps
** only every layer's input (the residual stream); the backward pass runs
** a layer forward again from its input, saving everything, then goes back
** through it.  One layer's activations exist at a time.
**
** Frozen weights stay as the file stores them and are dequantized into
** one fp32 buffer just before each product (transposed for the forward
** product, as stored for the backward one); gradients flow through them to
** the activations only.  LoRA's A and B are fp32 and get gradients:
**   y = W x + b + s B (A drop(x)),   s = alpha / rank
** The loss is the cross-entropy of the positions marked as targets; the
** output head is computed only for them, a chunk of rows at a time.
*/
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_ROWS 64 /* target rows whose logits exist at a time */

/* What one layer's forward pass saves for its backward pass. */
typedef struct lx_tacts {
    float *xn1, *rstd1, *q, *k, *v, *P, *att, *h, *xn2, *rstd2, *gate, *up, *act;
    float *u[LX_LORA_N_TARGET]; /* A drop(x) per projection */
} lx_tacts;

struct lx_tnet {
    const lexie_model *m;
    int neox;
    lx_pool *pool;
    int cap_tok, cap_len, rmax;
    lexie_adapter *lora, *grad;
    float dropout;
    uint64_t seed, pass;   /* dropout masks: hash of seed, pass, layer, target, element */
    int hold_pass;         /* tests: every pass reuses the same masks */
    int train;             /* dropout on in the current pass */
    size_t wcap;           /* floats in wbuf */
    int vchunk;            /* vocabulary rows dequantized at a time for the head */
    int32_t *pos, *seq_of; /* (cap_tok) position and sequence of each token */
    float *wbuf, *lt, *rc, *xs, *att_scr, *logits;
    lx_tacts *acts; /* n_acts sets: 1 with checkpointing, else one per layer */
    int n_acts;
    lx_tacts *a; /* the set of the layer being computed */
    float *tmp;
    /* backward scratch */
    float *dxn, *dq, *dk, *dv, *datt, *dh, *dgate, *dup, *dact, *du, *xd;
    float *xf, *rstdf;
    lx_tatt at;
};

/* ==== LoRA pieces ==== */

/* dst = src * keep / (1 - p) with a mask fixed by (pass, layer, target). */
static void dropout(const lx_tnet *t, int il, int tg, const float *src, float *dst, int n,
                    int cols) {
    uint64_t key = lx_mix64(t->seed ^ lx_mix64(t->pass * 1315423911ull + (uint64_t)il * 8 + tg));
    lx_tdropout(key, t->dropout, src, dst, (size_t)n * cols);
}

static const lx_lora_pair *pair_of(const lx_tnet *t, int il, int tg) {
    if (!t->lora) return NULL;
    const lx_lora_pair *p = lx_lora_at(t->lora, il, tg);
    return p->rank > 0 ? p : NULL;
}

static int dropping(const lx_tnet *t) { return t->train && t->dropout > 0.0f; }

/* ==== Linear layers ==== */

/* y (n, rows) = x W^T + b + s (drop(x) A^T) B^T; saves A drop(x) in u[tg]. */
static void lin_fwd(lx_tnet *t, int il, int tg, const lx_tensor *w, const lx_tensor *b,
                    const float *x, int n, float *y) {
    int rows = (int)w->ne[1], cols = (int)w->ne[0];
    lx_tdequant(t->pool, w, 0, rows, t->wbuf, 1);
    lx_tgemm(t->pool, n, rows, cols, 1.0f, x, cols, 1, t->wbuf, rows, 0.0f, y, rows);
    if (b && b->data) {
        const float *bv = b->data;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < rows; j++) y[(size_t)i * rows + j] += bv[j];
    }
    const lx_lora_pair *p = pair_of(t, il, tg);
    if (!p) return;
    float s = lx_lora_pair_scale(t->lora, p);
    const float *xin = x;
    if (dropping(t)) {
        dropout(t, il, tg, x, t->xd, n, cols);
        xin = t->xd;
    }
    /* u = xin A^T (A^T into lt), y += s u B^T (B^T into lt). */
    for (int r = 0; r < p->rank; r++)
        for (int c = 0; c < cols; c++) t->lt[(size_t)c * p->rank + r] = p->a[(size_t)r * cols + c];
    lx_tgemm(t->pool, n, p->rank, cols, 1.0f, xin, cols, 1, t->lt, p->rank, 0.0f, t->a->u[tg],
             p->rank);
    for (int o = 0; o < rows; o++)
        for (int r = 0; r < p->rank; r++)
            t->lt[(size_t)r * rows + o] = p->b[(size_t)o * p->rank + r];
    lx_tgemm(t->pool, n, rows, p->rank, s, t->a->u[tg], p->rank, 1, t->lt, rows, 1.0f, y, rows);
}

/* dx (n, cols) = (accumulate ? dx : 0) + dy W + LoRA's share; dA, dB += . */
static void lin_bwd(lx_tnet *t, int il, int tg, const lx_tensor *w, const float *x, const float *dy,
                    int n, float *dx, int accumulate) {
    int rows = (int)w->ne[1], cols = (int)w->ne[0];
    lx_tdequant(t->pool, w, 0, rows, t->wbuf, 0);
    lx_tgemm(t->pool, n, cols, rows, 1.0f, dy, rows, 1, t->wbuf, cols, accumulate ? 1.0f : 0.0f, dx,
             cols);
    const lx_lora_pair *p = pair_of(t, il, tg);
    if (!p) return;
    lx_lora_pair *gp = lx_lora_at(t->grad, il, tg);
    float s = lx_lora_pair_scale(t->lora, p);
    int r = p->rank;
    /* dB += s dy^T u;  du = s dy B */
    lx_tgemm(t->pool, rows, r, n, s, dy, 1, rows, t->a->u[tg], r, 1.0f, gp->b, r);
    lx_tgemm(t->pool, n, r, rows, s, dy, rows, 1, p->b, r, 0.0f, t->du, r);
    /* dA += du^T drop(x);  dx += drop'(du A) */
    const float *xin = x;
    if (dropping(t)) {
        dropout(t, il, tg, x, t->xd, n, cols);
        xin = t->xd;
    }
    lx_tgemm(t->pool, r, cols, n, 1.0f, t->du, 1, r, xin, cols, 1.0f, gp->a, cols);
    if (!dropping(t)) {
        lx_tgemm(t->pool, n, cols, r, 1.0f, t->du, r, 1, p->a, cols, 1.0f, dx, cols);
        return;
    }
    lx_tgemm(t->pool, n, cols, r, 1.0f, t->du, r, 1, p->a, cols, 0.0f, t->xd, cols);
    dropout(t, il, tg, t->xd, t->xd, n, cols);
    for (size_t i = 0; i < (size_t)n * cols; i++) dx[i] += t->xd[i];
}

/* ==== One layer ==== */

static void layer_fwd(lx_tnet *t, int il, int n, const float *x, float *xo) {
    const lx_hparams *hp = &t->m->hp;
    const lx_layer *L = &t->m->layers[il];
    int d = hp->n_embd, ff = hp->n_ff, qd = hp->n_head * hp->head_dim;
    lx_trms_fwd(x, L->attn_norm.data, t->a->xn1, t->a->rstd1, n, d, hp->norm_eps);
    lin_fwd(t, il, LX_LORA_Q, &L->wq, &L->bq, t->a->xn1, n, t->a->q);
    lin_fwd(t, il, LX_LORA_K, &L->wk, &L->bk, t->a->xn1, n, t->a->k);
    lin_fwd(t, il, LX_LORA_V, &L->wv, &L->bv, t->a->xn1, n, t->a->v);
    lx_trope(t->a->q, t->rc, n, hp->n_head, hp->head_dim, hp->n_rot, t->neox, 0);
    lx_trope(t->a->k, t->rc, n, hp->n_head_kv, hp->head_dim, hp->n_rot, t->neox, 0);
    lx_tatt_fwd(t->pool, &t->at, t->a->q, t->a->k, t->a->v, t->a->P, t->a->att, t->att_scr);
    lin_fwd(t, il, LX_LORA_O, &L->wo, NULL, t->a->att, n, t->tmp);
    for (size_t i = 0; i < (size_t)n * d; i++) t->a->h[i] = x[i] + t->tmp[i];
    (void)qd;
    lx_trms_fwd(t->a->h, L->ffn_norm.data, t->a->xn2, t->a->rstd2, n, d, hp->norm_eps);
    lin_fwd(t, il, LX_LORA_GATE, &L->w_gate, NULL, t->a->xn2, n, t->a->gate);
    lin_fwd(t, il, LX_LORA_UP, &L->w_up, NULL, t->a->xn2, n, t->a->up);
    lx_tswiglu_fwd(t->a->gate, t->a->up, t->a->act, (int64_t)n * ff);
    lin_fwd(t, il, LX_LORA_DOWN, &L->w_down, NULL, t->a->act, n, t->tmp);
    for (size_t i = 0; i < (size_t)n * d; i++) xo[i] = t->a->h[i] + t->tmp[i];
}

/* dx holds the gradient of the layer's output; on return, of its input x. */
static void layer_bwd(lx_tnet *t, int il, int n, const float *x, float *dx) {
    const lx_hparams *hp = &t->m->hp;
    const lx_layer *L = &t->m->layers[il];
    int d = hp->n_embd, ff = hp->n_ff;
    lin_bwd(t, il, LX_LORA_DOWN, &L->w_down, t->a->act, dx, n, t->dact, 0);
    lx_tswiglu_bwd(t->a->gate, t->a->up, t->dact, t->dgate, t->dup, (int64_t)n * ff);
    lin_bwd(t, il, LX_LORA_GATE, &L->w_gate, t->a->xn2, t->dgate, n, t->dxn, 0);
    lin_bwd(t, il, LX_LORA_UP, &L->w_up, t->a->xn2, t->dup, n, t->dxn, 1);
    memcpy(t->dh, dx, (size_t)n * d * sizeof(float));
    lx_trms_bwd(t->a->h, L->ffn_norm.data, t->a->rstd2, t->dxn, t->dh, n, d);
    lin_bwd(t, il, LX_LORA_O, &L->wo, t->a->att, t->dh, n, t->datt, 0);
    lx_tatt_bwd(t->pool, &t->at, t->a->q, t->a->k, t->a->v, t->a->P, t->datt, t->dq, t->dk, t->dv,
                t->att_scr);
    lx_trope(t->dq, t->rc, n, hp->n_head, hp->head_dim, hp->n_rot, t->neox, 1);
    lx_trope(t->dk, t->rc, n, hp->n_head_kv, hp->head_dim, hp->n_rot, t->neox, 1);
    lin_bwd(t, il, LX_LORA_Q, &L->wq, t->a->xn1, t->dq, n, t->dxn, 0);
    lin_bwd(t, il, LX_LORA_K, &L->wk, t->a->xn1, t->dk, n, t->dxn, 1);
    lin_bwd(t, il, LX_LORA_V, &L->wv, t->a->xn1, t->dv, n, t->dxn, 1);
    memcpy(dx, t->dh, (size_t)n * d * sizeof(float));
    lx_trms_bwd(x, L->attn_norm.data, t->a->rstd1, t->dxn, dx, n, d);
}

/* ==== Output head ==== */

/* Logits (nr, V; row stride V) of the nr rows of xf listed in rows. */
static void head_fwd(lx_tnet *t, const int *rows, int nr, float *gx, float *z) {
    const lexie_model *m = t->m;
    int d = m->hp.n_embd, V = m->hp.n_vocab;
    for (int i = 0; i < nr; i++)
        memcpy(gx + (size_t)i * d, t->xf + (size_t)rows[i] * d, (size_t)d * sizeof(float));
    for (int v0 = 0; v0 < V; v0 += t->vchunk) {
        int vc = LX_MIN(t->vchunk, V - v0);
        lx_tdequant(t->pool, &m->output, v0, v0 + vc, t->wbuf, 1);
        lx_tgemm(t->pool, nr, vc, d, 1.0f, gx, d, 1, t->wbuf, vc, 0.0f, z + v0, V);
    }
}

/* Loss of the target rows; with backward, dxf (n, d) gets their gradient. */
static double head_loss(lx_tnet *t, const lx_tbatch *b, int backward, float scale, float *dxf) {
    const lexie_model *m = t->m;
    int d = m->hp.n_embd, V = m->hp.n_vocab, n = b->n_tokens;
    int rows[HEAD_ROWS], nr = 0;
    float *gx = t->tmp; /* (HEAD_ROWS, d) gathered rows, then their gradients */
    double loss = 0.0;
    if (backward) memset(dxf, 0, (size_t)n * d * sizeof(float));
    if (b->seq_loss)
        for (int s = 0; s < b->n_seq; s++) b->seq_loss[s] = 0.0;
    for (int i = 0; i <= n; i++) {
        if (i < n && b->target[i]) rows[nr++] = i;
        if (nr == 0 || (nr < HEAD_ROWS && i < n)) continue;
        head_fwd(t, rows, nr, gx, t->logits);
        for (int r = 0; r < nr; r++) {
            float *z = t->logits + (size_t)r * V;
            int sq = t->seq_of[rows[r]];
            float sc = b->seq_weight ? scale * b->seq_weight[sq] : scale;
            double l = lx_tce_row(z, V, b->tok[rows[r] + 1], sc, backward ? z : NULL);
            loss += l;
            if (b->seq_loss) b->seq_loss[sq] += l;
        }
        if (backward) {
            for (int v0 = 0; v0 < V; v0 += t->vchunk) {
                int vc = LX_MIN(t->vchunk, V - v0);
                lx_tdequant(t->pool, &m->output, v0, v0 + vc, t->wbuf, 0);
                lx_tgemm(t->pool, nr, d, vc, 1.0f, t->logits + v0, V, 1, t->wbuf, d,
                         v0 ? 1.0f : 0.0f, gx, d);
            }
            for (int r = 0; r < nr; r++)
                memcpy(dxf + (size_t)rows[r] * d, gx + (size_t)r * d, (size_t)d * sizeof(float));
        }
        nr = 0;
    }
    return loss;
}

/* ==== Passes ==== */

static void setup(lx_tnet *t, const lx_tbatch *b, const float *x0) {
    const lx_hparams *hp = &t->m->hp;
    int d = hp->n_embd, maxlen = 0;
    for (int s = 0; s < b->n_seq; s++) {
        for (int i = b->start[s]; i < b->start[s + 1]; i++) {
            t->pos[i] = i - b->start[s];
            t->seq_of[i] = s;
        }
        maxlen = LX_MAX(maxlen, b->start[s + 1] - b->start[s]);
    }
    lx_trope_cache(t->m, t->pos, b->n_tokens, t->rc);
    t->at = (lx_tatt){b->n_seq,      b->start,     hp->n_head,
                      hp->n_head_kv, hp->head_dim, 1.0f / sqrtf((float)hp->head_dim),
                      maxlen};
    if (x0) {
        memcpy(t->xs, x0, (size_t)b->n_tokens * d * sizeof(float));
        return;
    }
    const lx_tensor *e = &t->m->tok_embd;
    const lx_type_traits *tr = lx_type_traits_get(e->type);
    size_t row = lx_row_size(e->type, e->ne[0]);
    for (int i = 0; i < b->n_tokens; i++)
        tr->to_float((const char *)e->data + (size_t)b->tok[i] * row, t->xs + (size_t)i * d, d);
}

static void forward_all(lx_tnet *t, int n) {
    const lx_hparams *hp = &t->m->hp;
    size_t stride = (size_t)t->cap_tok * hp->n_embd;
    for (int il = 0; il < hp->n_layer; il++) {
        t->a = &t->acts[t->n_acts > 1 ? il : 0];
        layer_fwd(t, il, n, t->xs + il * stride, t->xs + (il + 1) * stride);
    }
    lx_trms_fwd(t->xs + hp->n_layer * stride, t->m->out_norm.data, t->xf, t->rstdf, n, hp->n_embd,
                hp->norm_eps);
}

double lx_tnet_run_x0(lx_tnet *t, const lx_tbatch *b, const float *x0, int backward,
                      float grad_scale, float *dx0) {
    const lx_hparams *hp = &t->m->hp;
    int n = b->n_tokens, d = hp->n_embd;
    size_t stride = (size_t)t->cap_tok * d;
    /* Only training passes draw masks, so evaluating in between changes
    ** nothing that follows. */
    if (!t->hold_pass && t->train) t->pass++;
    setup(t, b, x0);
    forward_all(t, n);
    /* dx of the final residual lives in dh's twin: use dxn (n, max) as dxf. */
    float *dxf = t->dgate, *dx = t->dact;
    double loss = head_loss(t, b, backward, grad_scale, dxf);
    if (!backward) return loss;
    memset(dx, 0, (size_t)n * d * sizeof(float));
    lx_trms_bwd(t->xs + hp->n_layer * stride, t->m->out_norm.data, t->rstdf, dxf, dx, n, d);
    /* dx moves to a buffer the layer backward does not use as scratch. */
    float *g = t->xf;
    memcpy(g, dx, (size_t)n * d * sizeof(float));
    for (int il = hp->n_layer - 1; il >= 0; il--) {
        /* Checkpointing: this layer's activations were overwritten; redo them. */
        t->a = &t->acts[t->n_acts > 1 ? il : 0];
        if (t->n_acts == 1) layer_fwd(t, il, n, t->xs + il * stride, t->xs + (il + 1) * stride);
        layer_bwd(t, il, n, t->xs + il * stride, g);
    }
    if (dx0) memcpy(dx0, g, (size_t)n * d * sizeof(float));
    return loss;
}

double lx_tnet_run(lx_tnet *t, const lx_tbatch *b, int train, int backward, float grad_scale,
                   float *dx0) {
    t->train = train;
    double loss = lx_tnet_run_x0(t, b, NULL, backward, grad_scale, dx0);
    t->train = 0;
    return loss;
}

void lx_tnet_hold_dropout(lx_tnet *t, int hold) { t->hold_pass = hold; }
uint64_t lx_tnet_pass(const lx_tnet *t) { return t->pass; }
void lx_tnet_set_pass(lx_tnet *t, uint64_t pass) { t->pass = pass; }

void lx_tnet_logits(lx_tnet *t, const lx_tbatch *b, const float *x0, float *logits) {
    int n = b->n_tokens, V = t->m->hp.n_vocab;
    t->train = 0;
    setup(t, b, x0);
    forward_all(t, n);
    int rows[HEAD_ROWS];
    for (int i0 = 0; i0 < n; i0 += HEAD_ROWS) {
        int nr = LX_MIN(HEAD_ROWS, n - i0);
        for (int r = 0; r < nr; r++) rows[r] = i0 + r;
        head_fwd(t, rows, nr, t->tmp, logits + (size_t)i0 * V);
    }
}

lexie_status lx_tnet_check(const lx_tnet *t, const lx_tbatch *b, lexie_error *err) {
    if (b->n_tokens < 1 || b->n_tokens > t->cap_tok || b->n_seq < 1 || b->start[0] != 0 ||
        b->start[b->n_seq] != b->n_tokens)
        return lx_fail(err, LEXIE_E_RANGE, "train: batch of %d tokens in %d sequences (room: %d)",
                       b->n_tokens, b->n_seq, t->cap_tok);
    for (int s = 0; s < b->n_seq; s++) {
        int T = b->start[s + 1] - b->start[s];
        if (T < 1 || T > t->cap_len)
            return lx_fail(err, LEXIE_E_RANGE, "train: sequence %d has %d tokens (max %d)", s, T,
                           t->cap_len);
        if (b->target[b->start[s + 1] - 1])
            return lx_fail(err, LEXIE_E_INVALID, "train: sequence %d targets past its end", s);
    }
    for (int i = 0; i < b->n_tokens; i++)
        if (b->tok[i] < 0 || b->tok[i] >= t->m->hp.n_vocab)
            return lx_fail(err, LEXIE_E_INVALID, "train: token %d at %d is out of range", b->tok[i],
                           i);
    return LEXIE_OK;
}

/* ==== Creation ==== */

void lx_tnet_free(lx_tnet *t) {
    if (!t) return;
    lx_pool_free(t->pool);
    float *bufs[] = {t->wbuf, t->lt,   t->rc, t->xs, t->att_scr, t->logits, t->tmp,
                     t->dxn,  t->dq,   t->dk, t->dv, t->datt,    t->dh,     t->dgate,
                     t->dup,  t->dact, t->du, t->xd, t->xf,      t->rstdf};
    for (size_t i = 0; i < LX_ARRAY_LEN(bufs); i++) free(bufs[i]);
    for (int ia = 0; t->acts && ia < t->n_acts; ia++) {
        lx_tacts *A = &t->acts[ia];
        float *ab[] = {A->xn1, A->rstd1, A->q,     A->k,    A->v,  A->P,  A->att,
                       A->h,   A->xn2,   A->rstd2, A->gate, A->up, A->act};
        for (size_t i = 0; i < LX_ARRAY_LEN(ab); i++) free(ab[i]);
        for (int i = 0; i < LX_LORA_N_TARGET; i++) free(A->u[i]);
    }
    free(t->acts);
    free(t->pos);
    free(t->seq_of);
    free(t);
}

static float *fl(size_t a, size_t b, lexie_error *err, int *bad) {
    float *p = lx_calloc(a ? a : 1, (b ? b : 1) * sizeof(float), err);
    if (!p) *bad = 1;
    return p;
}

lx_tnet *lx_tnet_new(const lexie_model *m, lexie_adapter *lora, lexie_adapter *grad, int cap_tok,
                     int cap_len, float dropout_p, uint64_t seed, int n_threads, int checkpoint,
                     lexie_error *err) {
    const char *arch = lexie_model_arch(m);
    int neox;
    if (strcmp(arch, "llama") == 0)
        neox = 0;
    else if (strcmp(arch, "qwen2") == 0)
        neox = 1;
    else {
        lx_fail(err, LEXIE_E_UNSUPPORTED, "train: architecture '%s' (llama and qwen2 train)", arch);
        return NULL;
    }
    const lx_hparams *hp = &m->hp;
    if (cap_tok < 1 || cap_len < 1 || cap_len > cap_tok || cap_tok > (1 << 20) ||
        dropout_p < 0.0f || dropout_p >= 1.0f) {
        lx_fail(err, LEXIE_E_INVALID, "train: capacity %d tokens / %d per sequence, dropout %g",
                cap_tok, cap_len, dropout_p);
        return NULL;
    }
    lx_tnet *t = lx_calloc(1, sizeof *t, err);
    if (!t) return NULL;
    t->m = m;
    t->neox = neox;
    t->cap_tok = cap_tok;
    t->cap_len = cap_len;
    t->lora = lora;
    t->grad = grad;
    t->dropout = dropout_p;
    t->seed = seed;
    t->rmax = lora ? lexie_adapter_rank(lora) : 0;
    if (!(t->pool = lx_pool_new(n_threads > 0 ? n_threads : lx_cpu_count(), err))) goto fail;
    int nth = lx_pool_size(t->pool);
    size_t n = (size_t)cap_tok, d = hp->n_embd, ff = hp->n_ff;
    size_t qd = (size_t)hp->n_head * hp->head_dim, kvd = (size_t)hp->n_head_kv * hp->head_dim;
    size_t wide = LX_MAX(LX_MAX(d, ff), qd);
    /* The largest projection; the head goes through the same buffer. */
    t->wcap = LX_MAX(d * qd, LX_MAX(d * ff, d * kvd));
    t->vchunk = (int)LX_MIN((size_t)hp->n_vocab, t->wcap / d);
    int bad = 0;
    t->pos = lx_calloc(n, sizeof *t->pos, err);
    t->seq_of = lx_calloc(n, sizeof *t->seq_of, err);
    if (!t->pos || !t->seq_of) goto fail;
    t->wbuf = fl(t->wcap, 1, err, &bad);
    t->lt = fl(wide, LX_MAX(t->rmax, 1), err, &bad);
    t->rc = fl(n, hp->n_rot, err, &bad);
    t->xs = fl((size_t)(hp->n_layer + 1) * n, d, err, &bad);
    t->att_scr = fl(nth, lx_tatt_scratch(cap_len, hp->head_dim), err, &bad);
    t->logits = fl(HEAD_ROWS, hp->n_vocab, err, &bad);
    t->n_acts = checkpoint ? 1 : hp->n_layer;
    t->acts = lx_calloc((size_t)t->n_acts, sizeof *t->acts, err);
    if (!t->acts) goto fail;
    for (int ia = 0; ia < t->n_acts; ia++) {
        lx_tacts *A = &t->acts[ia];
        A->xn1 = fl(n, d, err, &bad);
        A->rstd1 = fl(n, 1, err, &bad);
        A->q = fl(n, qd, err, &bad);
        A->k = fl(n, kvd, err, &bad);
        A->v = fl(n, kvd, err, &bad);
        A->P = fl((size_t)hp->n_head * n, (size_t)cap_len, err, &bad);
        A->att = fl(n, qd, err, &bad);
        A->h = fl(n, d, err, &bad);
        A->xn2 = fl(n, d, err, &bad);
        A->rstd2 = fl(n, 1, err, &bad);
        A->gate = fl(n, ff, err, &bad);
        A->up = fl(n, ff, err, &bad);
        A->act = fl(n, ff, err, &bad);
        for (int i = 0; i < LX_LORA_N_TARGET && t->rmax; i++) A->u[i] = fl(n, t->rmax, err, &bad);
    }
    t->a = &t->acts[0];
    t->tmp = fl(LX_MAX(n, HEAD_ROWS), wide, err, &bad);
    t->dxn = fl(n, d, err, &bad);
    t->dq = fl(n, qd, err, &bad);
    t->dk = fl(n, kvd, err, &bad);
    t->dv = fl(n, kvd, err, &bad);
    t->datt = fl(n, qd, err, &bad);
    t->dh = fl(n, d, err, &bad);
    t->dgate = fl(n, wide, err, &bad);
    t->dup = fl(n, ff, err, &bad);
    t->dact = fl(n, wide, err, &bad);
    t->du = fl(n, LX_MAX(t->rmax, 1), err, &bad);
    t->xd = fl(n, wide, err, &bad);
    t->xf = fl(n, d, err, &bad);
    t->rstdf = fl(n, 1, err, &bad);
    if (bad) goto fail;
    return t;
fail:
    lx_tnet_free(t);
    return NULL;
}
