/*
** layers.c -- the pieces of a decoder-only transformer that every
** architecture shares: embedding lookup, linear layers, RMS norm, RoPE,
** attention over the shared KV cache, and the output head.
**
** All functions work on the c->n_tokens tokens of the current batch and
** use only buffers allocated in lexie_ctx_new.
*/
#include "model.h"
#include "model/lora.h"

#include <math.h>
#include <string.h>

/* ==== Linear layers and norms ==== */

void lx_linear(lexie_ctx *c, const lx_tensor *w, const float *x, float *y, int n) {
    lx_linear_many(c, x, n, 1, &w, &y);
}

void lx_linear_many(lexie_ctx *c, const float *x, int n, int k, const lx_tensor *const w[],
                    float *const y[]) {
    /* x quantized by the pass that made it (act_rows), for these weights? */
    int ready = c->act_x == x && c->act_n == n;
    c->act_x = NULL;
    for (int a = 0, b; a < k; a = b) {
        lx_matmul_out o[LX_MATMUL_MAX_PARTS];
        for (b = a; b < k && b - a < LX_MATMUL_MAX_PARTS &&
                    lx_matmul_shares_act(w[a]->mm_type, w[b]->mm_type);
             b++)
            o[b - a] = (lx_matmul_out){w[b]->mm, w[b]->mm_type, w[b]->ne[1], y[b]};
        if (ready && lx_matmul_shares_act(c->act_type, w[a]->mm_type))
            lx_matmul_multi_ex(c->pool, o, b - a, w[a]->ne[0], x, n, c->act_q,
                               &(lx_matmul_opts){.ready = 1});
        else
            lx_matmul_multi(c->pool, o, b - a, w[a]->ne[0], x, n, c->qbuf);
        ready = 0; /* qbuf now holds what this group quantized */
    }
    if (c->lora)
        for (int i = 0; i < k; i++) lx_lora_linear(c, w[i], x, y[i], n);
}

void lx_add_bias(const lx_tensor *b, float *y, int n, int len) {
    if (!b->data) return;
    const float *bv = b->data;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < len; j++) y[(size_t)i * len + j] += bv[j];
}

/* ==== Row-wise work on the pool ==== */

/* Where the rows a pass makes are next read by weight `next` (NULL:
** none), the pass quantizes them for it too (lx_matmul_act), and
** act_done tells the lx_linear that follows. */
static int act_init(lexie_ctx *c, lx_matmul_act *a, const lx_tensor *next) {
    return next && lx_matmul_act_init(a, next->mm_type, next->ne[0], c->qbuf);
}

static void act_done(lexie_ctx *c, const lx_matmul_act *a, int on, const float *out, int n) {
    c->act_x = on ? out : NULL;
    c->act_n = n;
    c->act_type = a->type;
    c->act_q = a->qbuf;
}

/* Below this many rows per thread, waking the pool costs more than the
** work (decoding has one row). */
#define PAR_MIN_ROWS 4

typedef struct {
    lx_rows_fn fn;
    void *arg;
    int n;
} rows_job;

static void rows_worker(void *v, int ith, int nth) {
    const rows_job *j = v;
    const int per = (j->n + nth - 1) / nth, r0 = ith * per, r1 = LX_MIN(j->n, r0 + per);
    if (r0 < r1) j->fn(j->arg, r0, r1);
}

void lx_par_rows(lexie_ctx *c, int n, lx_rows_fn fn, void *arg) {
    if (n < PAR_MIN_ROWS * lx_pool_size(c->pool)) {
        if (n > 0) fn(arg, 0, n);
        return;
    }
    rows_job j = {fn, arg, n};
    lx_pool_run(c->pool, rows_worker, &j);
}

typedef struct {
    const float *w, *x, *add;
    float *out, *sum;
    int len;
    float eps;
    lx_matmul_act act;
    int quantize;
} norm_job;

static void norm_rows(void *v, int r0, int r1) {
    const norm_job *j = v;
    const size_t at = (size_t)r0 * (size_t)j->len, len = (size_t)(r1 - r0) * (size_t)j->len;
    if (j->add) lx_axpy_f32(j->sum + at, 1.0f, j->add + at, (int64_t)len); /* exact: x + y */
    lx_rmsnorm_rows(j->out + at, j->x + at, j->w, r1 - r0, j->len, j->eps);
    if (j->quantize) lx_matmul_act_rows(&j->act, j->out, r0, r1);
}

static void norm_run(lexie_ctx *c, norm_job *j, int n, const lx_tensor *next) {
    j->quantize = act_init(c, &j->act, next);
    lx_par_rows(c, n, norm_rows, j);
    act_done(c, &j->act, j->quantize, j->out, n);
}

void lx_norm_rows(lexie_ctx *c, const lx_tensor *w, const float *x, float *out, int n, int len,
                  float eps, const lx_tensor *next) {
    norm_job j = {.w = w ? w->data : NULL, .x = x, .out = out, .len = len, .eps = eps};
    norm_run(c, &j, n, next);
}

void lx_add_norm_rows(lexie_ctx *c, float *x, const float *add, const lx_tensor *w, float *out,
                      int n, int len, float eps, const lx_tensor *next) {
    norm_job j = {
        .w = w ? w->data : NULL, .x = x, .add = add, .out = out, .sum = x, .len = len, .eps = eps};
    norm_run(c, &j, n, next);
}

typedef struct {
    float *x;
    const float *add;
    int len;
} add_job;

static void add_rows(void *v, int r0, int r1) {
    const add_job *j = v;
    for (size_t i = (size_t)r0 * j->len; i < (size_t)r1 * j->len; i++) j->x[i] += j->add[i];
}

void lx_add_rows(lexie_ctx *c, float *x, const float *add, int n, int len) {
    add_job j = {x, add, len};
    lx_par_rows(c, n, add_rows, &j);
}

typedef struct {
    float *gate;
    const float *up;
    int len, n;
    int gelu;
    lx_matmul_act act;
    int quantize;
} glu_job;

static void glu(const glu_job *j, size_t at, size_t n) {
    if (j->gelu)
        lx_geglu(j->gate + at, j->up + at, (int64_t)n);
    else
        lx_swiglu(j->gate + at, j->up + at, (int64_t)n);
}

static void glu_rows(void *v, int r0, int r1) {
    const glu_job *j = v;
    glu(j, (size_t)r0 * j->len, (size_t)(r1 - r0) * j->len);
    if (j->quantize) lx_matmul_act_rows(&j->act, j->gate, r0, r1);
}

/* The product's epilogue: columns r0..r1-1 of every row, done by the
** thread that has just computed them. */
static void glu_cols(void *v, int64_t r0, int64_t r1) {
    const glu_job *j = v;
    for (int b = 0; b < j->n; b++) glu(j, (size_t)b * j->len + (size_t)r0, (size_t)(r1 - r0));
    lx_matmul_act_cols(&j->act, j->gate, j->n, r0, r1);
}

void lx_glu_rows(lexie_ctx *c, float *gate, const float *up, int n, int len, int gelu,
                 const lx_tensor *next) {
    glu_job j = {.gate = gate, .up = up, .len = len, .gelu = gelu};
    j.quantize = act_init(c, &j.act, next);
    lx_par_rows(c, n, glu_rows, &j);
    act_done(c, &j.act, j.quantize, gate, n);
}

/* Up to this many rows (decoding) the activation runs in the product's
** epilogue (smollm2 on two threads, alternating in one process: 8
** sequences +1.6%, one +0.7%; the 1.5B within 1%); a prompt keeps the
** pass, where the epilogue would quantize each row a block or two at a
** time. */
#define GLU_EPI_MAX 16

void lx_linear_glu(lexie_ctx *c, const float *x, int n, const lx_tensor *w_gate,
                   const lx_tensor *w_up, float *gate, float *up, int gelu, const lx_tensor *next) {
    const int ff = (int)w_gate->ne[1];
    const int ready =
        c->act_x == x && c->act_n == n && lx_matmul_shares_act(c->act_type, w_gate->mm_type);
    void *in = ready ? c->act_q : c->qbuf;
    glu_job j = {.gate = gate, .up = up, .len = ff, .n = n, .gelu = gelu};
    /* The epilogue quantizes into the buffer the product does not read;
    ** a LoRA adds to gate and up after the product, so it keeps the pass. */
    if (n > GLU_EPI_MAX || c->lora || !next || next->ne[0] != ff || w_up->ne[1] != ff ||
        !lx_matmul_shares_act(w_gate->mm_type, w_up->mm_type) ||
        !lx_matmul_act_init(&j.act, next->mm_type, ff, in == c->qbuf ? c->qbuf2 : c->qbuf) ||
        j.act.block % 16 || ff % j.act.block) {
        const lx_tensor *w[] = {w_gate, w_up};
        float *const y[] = {gate, up};
        lx_linear_many(c, x, n, 2, w, y);
        lx_glu_rows(c, gate, up, n, ff, gelu, next);
        return;
    }
    c->act_x = NULL;
    const lx_matmul_out o[2] = {{w_gate->mm, w_gate->mm_type, ff, gate},
                                {w_up->mm, w_up->mm_type, ff, up}};
    const lx_matmul_opts opts = {ready, glu_cols, &j, j.act.block};
    lx_matmul_multi_ex(c->pool, o, 2, w_gate->ne[0], x, n, in, &opts);
    act_done(c, &j.act, 1, gate, n);
}

void lx_embed(lexie_ctx *c) {
    const lexie_model *m = c->model;
    const lx_tensor *e = &m->tok_embd;
    const lx_type_traits *tr = lx_type_traits_get(e->type);
    size_t row = lx_row_size(e->type, e->ne[0]);
    for (int i = 0; i < c->n_tokens; i++)
        tr->to_float((const char *)e->data + (size_t)c->tok[i] * row,
                     c->x + (size_t)i * m->hp.n_embd, m->hp.n_embd);
}

/* ==== RoPE ==== */

/* Angles as ggml computes them, so logits match llama.cpp: theta starts at
** the position and is multiplied by base^(-2/n_rot) once per pair, in
** float.  Once a forward pass, unless the base or the scale changes
** (gemma3's layers alternate). */
static void rope_fill_cache(lexie_ctx *c, float base, float pos_scale) {
    const lx_hparams *hp = &c->model->hp;
    if (c->rope_forward == c->n_forward && c->rope_base == base && c->rope_scale == pos_scale)
        return;
    c->rope_forward = c->n_forward;
    c->rope_base = base;
    c->rope_scale = pos_scale;
    const float *ff = c->model->rope_freqs.data; /* may be NULL */
    float theta_scale = powf(base, -2.0f / (float)hp->n_rot);
    for (int i = 0; i < c->n_tokens; i++) {
        float *rc = c->rope_cache + (size_t)i * hp->n_rot;
        float theta = (float)c->pos[i];
        for (int j = 0; j < hp->n_rot; j += 2) {
            float t = theta * pos_scale / (ff ? ff[j / 2] : 1.0f);
            rc[j] = cosf(t);
            rc[j + 1] = sinf(t);
            theta *= theta_scale;
        }
    }
}

void lx_rope(lexie_ctx *c, int il, float *q, float *k, const float *v, int neox) {
    lx_rope_ex(c, il, q, k, v, neox, c->model->hp.rope_base, c->model->hp.rope_scale);
}

/* Token i's query heads of KV groups g0..g1-1 and those keys rotated, the
** keys and values stored in its cell of layer r->il. */
static void rope_token(lexie_ctx *c, const lx_rope_job *r, int i, int g0, int g1) {
    const lx_hparams *hp = &c->model->hp;
    lx_kv *kv = &c->kv;
    const size_t hd = (size_t)hp->head_dim, ns = (size_t)kv->n_cells;
    const size_t layer = (size_t)r->il * ns * kv->kv_dim;
    const int group = hp->n_head / hp->n_head_kv;
    const float *rc = c->rope_cache + (size_t)i * hp->n_rot;
    const lx_float_ops *ops = lx_float_ops_get(lx_isa_active());
    for (int h = g0 * group; h < g1 * group; h++)
        ops->rope(r->q + ((size_t)i * hp->n_head + h) * hd, rc, hp->n_rot, r->neox);
    for (int h = g0; h < g1; h++) {
        const size_t from = ((size_t)i * hp->n_head_kv + h) * hd;
        const size_t at = layer + ((size_t)h * ns + (size_t)c->cell[i]) * hd;
        ops->rope(r->k + from, rc, hp->n_rot, r->neox);
        memcpy(kv->k + at, r->k + from, hd * sizeof(float));
        memcpy(kv->v + at, r->v + from, hd * sizeof(float));
    }
}

typedef struct {
    lexie_ctx *c;
    lx_rope_job r;
} rope_job;

static void rope_rows(void *arg, int i0, int i1) {
    const rope_job *j = arg;
    for (int i = i0; i < i1; i++) rope_token(j->c, &j->r, i, 0, j->c->model->hp.n_head_kv);
}

static int att_split(const lexie_ctx *c);

/* Whether each token sees none of the batch's other new cells: all in
** different sequences (a new cell belongs to its token's sequence only). */
static int tokens_apart(const lexie_ctx *c) {
    uint64_t seen = 0;
    for (int i = 0; i < c->n_tokens; i++) {
        const uint64_t bit = 1ULL << c->seq[i];
        if (seen & bit) return 0;
        seen |= bit;
    }
    return 1;
}

/* Where the attention takes its tokens in sets and no token sees another's
** new cell (sequences decoded together), each unit of the attention pass
** rotates and stores its own tokens' heads first (attention_worker), and
** the pass of its own is saved (8 sequences on two threads: 5 us a
** layer). */
void lx_rope_ex(lexie_ctx *c, int il, float *q, float *k, const float *v, int neox, float base,
                float pos_scale) {
    rope_fill_cache(c, base, pos_scale);
    const lx_rope_job r = {il, neox, q, k, v};
    if (lx_pool_size(c->pool) > 1 && !att_split(c) && tokens_apart(c)) {
        c->rope_pending = r;
        return;
    }
    rope_job j = {c, r};
    lx_par_rows(c, c->n_tokens, rope_rows, &j);
}

/* ==== Attention ==== */

typedef struct {
    lexie_ctx *c;
    int il;
    const float *q;
    float *out;
    float scale;
    int window; /* 0: none */
} att_job;

/* Cell a before cell b: by position, then (never for one sequence, whose
** positions differ) by cell number. */
static int cell_before(const int32_t *pos, int32_t a, int32_t b) {
    return pos[a] < pos[b] || (pos[a] == pos[b] && a < b);
}

static void sift_down(int32_t *v, int root, int n, const int32_t *pos) {
    for (;;) {
        int child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && cell_before(pos, v[child], v[child + 1])) child++;
        if (!cell_before(pos, v[root], v[child])) return;
        int32_t t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

/* The visible cells in position order, so that the softmax sum and the
** weighted sum of values add the same terms in the same order wherever
** the cells lie (batch invariance: a cached prefix, or cells freed by
** other sequences, must not change a result).  Cells are usually already
** in order; otherwise a heap sort, in place. */
static void sort_by_pos(int32_t *v, int n, const int32_t *pos) {
    int sorted = 1;
    for (int i = 1; i < n && sorted; i++) sorted = cell_before(pos, v[i - 1], v[i]);
    if (sorted) return;
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(v, i, n, pos);
    for (int end = n - 1; end > 0; end--) {
        int32_t t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_down(v, 0, end, pos);
    }
}

/* Token i's visible cells, in position order, into vis; returns how many:
** its sequence's cells at positions up to its own and, with a sliding
** window, after p - window (llama.cpp masks a key when p - pos >= window). */
static int visible_cells(const lexie_ctx *c, int i, int window, int32_t *vis) {
    const lx_kv *kv = &c->kv;
    const uint64_t bit = 1ULL << c->seq[i];
    const int32_t p = c->pos[i], lo_pos = window > 0 && p >= window ? p - window + 1 : 0;
    int n = 0;
    for (int cell = 0; cell < kv->n_cells; cell++)
        if ((kv->seq[cell] & bit) && kv->pos[cell] >= lo_pos && kv->pos[cell] <= p) vis[n++] = cell;
    sort_by_pos(vis, n, kv->pos);
    return n;
}

/* Sets of at most LX_ATT_TOKENS, as many as a multiple of the threads
** where the tokens allow, so that each thread gets the same work (four
** tokens on two threads: two sets of two, not one set of four over three
** KV heads).  Returns how many; *set_size, the tokens of each but the
** last. */
static int att_sets(int n_tokens, int nth, int *set_size) {
    int n_sets = (n_tokens + LX_ATT_TOKENS - 1) / LX_ATT_TOKENS;
    n_sets = LX_MIN(n_tokens, (n_sets + nth - 1) / nth * nth);
    *set_size = (n_tokens + n_sets - 1) / n_sets;
    return (n_tokens + *set_size - 1) / *set_size;
}

/* Thread ith's lists of the visible cells of tokens set * set_size on
** (at most set_size of them) in its part of c->vis, and in its memo how
** many each has and how many all share at the start: computed by the
** first layer of a pass, and again only where the set or the window
** changes. */
static void set_lists(lexie_ctx *c, int ith, int set, int set_size, int window) {
    lx_vis_memo *memo = &c->vis_memo[ith];
    if (memo->forward == c->n_forward && memo->set == set && memo->set_size == set_size &&
        memo->window == window)
        return;
    const size_t ns = (size_t)c->kv.n_cells;
    int32_t *vis = c->vis + (size_t)ith * LX_ATT_TOKENS * ns;
    const int i0 = set * set_size, nt = LX_MIN(set_size, c->n_tokens - i0);
    for (int t = 0; t < nt; t++) memo->n_vis[t] = visible_cells(c, i0 + t, window, vis + t * ns);
    int shared = memo->n_vis[0];
    for (int t = 1; t < nt; t++) {
        int k = 0;
        while (k < shared && k < memo->n_vis[t] && vis[t * ns + k] == vis[k]) k++;
        shared = k;
    }
    memo->forward = c->n_forward;
    memo->set = set;
    memo->set_size = set_size;
    memo->window = window;
    memo->shared = shared;
}

/* One thread's share of the units (a set of up to LX_ATT_TOKENS tokens,
** one KV head).  The query heads of every token in the set are taken
** together over the cells all their lists begin with (sequences decoded
** side by side after one shared prompt; neighbours in a prompt), so each
** of those rows is read once for the set; each token then finishes alone
** on the rest of its list.  Scores do not depend on which rows share a
** call, and sum_rows continues a sum exactly where it stopped, so a
** token's output is the same bits with or without company (batch
** invariance).  The gathered queries and outputs share one scratch
** buffer: the queries are dead once the scores exist. */
static void attention_worker(void *arg, int ith, int nth) {
    att_job *j = arg;
    lexie_ctx *c = j->c;
    const lx_hparams *hp = &c->model->hp;
    const lx_kv *kv = &c->kv;
    const int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv, n_kv = hp->n_head_kv;
    const size_t ns = (size_t)kv->n_cells, kvd = (size_t)kv->kv_dim, qd = (size_t)hp->n_head * hd;
    float *att = c->att + (size_t)ith * LX_ATT_TOKENS * group * ns;
    int32_t *vis = c->vis + (size_t)ith * LX_ATT_TOKENS * ns;
    float *qy = c->att_qy + (size_t)ith * LX_ATT_TOKENS * group * hd;
    const float *kc = kv->k + (size_t)j->il * ns * kvd;
    const float *vc = kv->v + (size_t)j->il * ns * kvd;
    const lx_float_ops *ops = lx_float_ops_get(lx_isa_active());
    lx_vis_memo *memo = &c->vis_memo[ith];
    const int *n_vis = memo->n_vis;

    int set_size;
    const int total = att_sets(c->n_tokens, nth, &set_size) * n_kv, per = (total + nth - 1) / nth;
    const int lo = ith * per, hi = LX_MIN(total, lo + per);
    for (int u = lo; u < hi; u++) {
        const int set = u / n_kv, g = u % n_kv, i0 = set * set_size;
        const int nt = LX_MIN(set_size, c->n_tokens - i0), nq = nt * group;
        if (c->rope_pending.q)
            for (int t = 0; t < nt; t++) rope_token(c, &c->rope_pending, i0 + t, g, g + 1);
        set_lists(c, ith, set, set_size, j->window);
        const int shared = memo->shared;
        const float *kg = kc + (size_t)g * ns * hd, *vg = vc + (size_t)g * ns * hd;
        for (int t = 0; t < nt; t++)
            memcpy(qy + (size_t)t * group * hd,
                   j->q + (size_t)(i0 + t) * qd + (size_t)g * group * hd,
                   (size_t)group * hd * sizeof *qy);
        ops->dot_rows(qy, nq, kg, hd, vis, shared, hd, j->scale, att, ns, vg);
        for (int t = 0; t < nt; t++)
            ops->dot_rows(qy + (size_t)t * group * hd, group, kg, hd, vis + t * ns + shared,
                          n_vis[t] - shared, hd, j->scale, att + t * group * ns + shared, ns, NULL);
        for (int r = 0; r < nq; r++) lx_softmax(att + r * ns, n_vis[r / group]);
        memset(qy, 0, (size_t)nq * hd * sizeof *qy);
        ops->sum_rows(qy, nq, att, ns, vg, hd, vis, shared, hd);
        for (int t = 0; t < nt; t++) {
            float *yt = qy + (size_t)t * group * hd;
            ops->sum_rows(yt, group, att + t * group * ns + shared, ns, vg, hd,
                          vis + t * ns + shared, n_vis[t] - shared, hd);
            memcpy(j->out + (size_t)(i0 + t) * qd + (size_t)g * group * hd, yt,
                   (size_t)group * hd * sizeof *yt);
        }
    }
}

/* A decoding step whose units would not share out evenly (one token over
** three KV heads on two threads: two heads and one, or one KV head and
** one thread idle): one set of every token, each KV head's work shared by
** all the threads, in three passes of the pool.  Each thread takes a
** slice of every list for the scores, then a slice of the rows of scores
** for the softmax, then a slice of the output floats for the weighted
** sums.  Every score, every softmax row and every output float is
** computed as attention_worker computes it, in the same order, so the
** bits are the same whatever the threads (batch invariance).  Where the
** units do share out evenly the sets stay: the extra passes, and the
** scores that the threads then pass between their caches, made eight
** sequences on two threads 20-25% slower in attention, while one token
** on smollm2 (three KV heads) gained 13-17% (rdtsc around the call). */
typedef struct {
    const att_job *j;
    int phase; /* 0 scores, 1 softmax, 2 sums */
} split_job;

/* The scores of head g's queries (all tokens) over the slice ith/nth of
** each list: the shared part, then each token's own. */
static void split_scores(const att_job *j, int ith, int nth, int g) {
    lexie_ctx *c = j->c;
    const lx_hparams *hp = &c->model->hp;
    const int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv, nt = c->n_tokens;
    const size_t ns = (size_t)c->kv.n_cells, qd = (size_t)hp->n_head * hd;
    const lx_vis_memo *memo = &c->vis_memo[ith];
    const int32_t *vis = c->vis + (size_t)ith * LX_ATT_TOKENS * ns;
    float *att = c->att + (size_t)g * LX_ATT_TOKENS * group * ns;
    float *qy = c->att_qy + (size_t)ith * LX_ATT_TOKENS * group * hd;
    const float *kg = c->kv.k + ((size_t)j->il * c->kv.kv_dim + (size_t)g * hd) * ns;
    const lx_float_ops *ops = lx_float_ops_get(lx_isa_active());
    for (int t = 0; t < nt; t++)
        memcpy(qy + (size_t)t * group * hd, j->q + (size_t)t * qd + (size_t)g * group * hd,
               (size_t)group * hd * sizeof *qy);
    const int shared = memo->shared, s0 = shared * ith / nth, s1 = shared * (ith + 1) / nth;
    ops->dot_rows(qy, nt * group, kg, hd, vis + s0, s1 - s0, hd, j->scale, att + s0, ns, NULL);
    for (int t = 0; t < nt; t++) {
        const int own = memo->n_vis[t] - shared;
        const int o0 = shared + own * ith / nth, o1 = shared + own * (ith + 1) / nth;
        ops->dot_rows(qy + (size_t)t * group * hd, group, kg, hd, vis + t * ns + o0, o1 - o0, hd,
                      j->scale, att + t * group * ns + o0, ns, NULL);
    }
}

/* Head g's weighted sums for output floats d0..d0+dn of every query
** (d0 and dn multiples of 16, so every ISA's loops take them as they take
** the whole row), gathered dn floats a query and then put in place. */
static void split_sums(const att_job *j, int ith, int g, int d0, int dn) {
    lexie_ctx *c = j->c;
    const lx_hparams *hp = &c->model->hp;
    const int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv, nt = c->n_tokens;
    const int nq = nt * group;
    const size_t ns = (size_t)c->kv.n_cells, qd = (size_t)hp->n_head * hd;
    const lx_vis_memo *memo = &c->vis_memo[ith];
    const int32_t *vis = c->vis + (size_t)ith * LX_ATT_TOKENS * ns;
    const float *att = c->att + (size_t)g * LX_ATT_TOKENS * group * ns;
    float *y = c->att_qy + (size_t)ith * LX_ATT_TOKENS * group * hd;
    const float *vg = c->kv.v + ((size_t)j->il * c->kv.kv_dim + (size_t)g * hd) * ns + d0;
    const lx_float_ops *ops = lx_float_ops_get(lx_isa_active());
    const int shared = memo->shared;
    memset(y, 0, (size_t)nq * dn * sizeof *y);
    ops->sum_rows(y, nq, att, ns, vg, hd, vis, shared, dn);
    for (int t = 0; t < nt; t++) {
        float *yt = y + (size_t)t * group * dn;
        ops->sum_rows(yt, group, att + t * group * ns + shared, ns, vg, hd, vis + t * ns + shared,
                      memo->n_vis[t] - shared, dn);
        for (int r = 0; r < group; r++)
            memcpy(j->out + (size_t)t * qd + (size_t)(g * group + r) * hd + d0, yt + (size_t)r * dn,
                   (size_t)dn * sizeof *yt);
    }
}

static void split_worker(void *arg, int ith, int nth) {
    const split_job *sj = arg;
    const att_job *j = sj->j;
    lexie_ctx *c = j->c;
    const lx_hparams *hp = &c->model->hp;
    const int n_kv = hp->n_head_kv, group = hp->n_head / n_kv, nt = c->n_tokens;
    const size_t ns = (size_t)c->kv.n_cells;
    if (sj->phase == 0) {
        set_lists(c, ith, 0, nt, j->window);
        for (int g = 0; g < n_kv; g++) split_scores(j, ith, nth, g);
    } else if (sj->phase == 1) {
        const int nq = nt * group, rows = n_kv * nq;
        const lx_vis_memo *memo = &c->vis_memo[ith];
        for (int r = rows * ith / nth; r < rows * (ith + 1) / nth; r++) {
            float *row = c->att + ((size_t)(r / nq) * LX_ATT_TOKENS * group + r % nq) * ns;
            lx_softmax(row, memo->n_vis[r % nq / group]);
        }
    } else {
        const int chunks = hp->head_dim / 16, k0 = chunks * ith / nth;
        const int k1 = chunks * (ith + 1) / nth;
        if (k1 > k0)
            for (int g = 0; g < n_kv; g++) split_sums(j, ith, g, 16 * k0, 16 * (k1 - k0));
    }
}

void lx_attention(lexie_ctx *c, int il, const float *q, float *out) {
    lx_attention_ex(c, il, q, out, 1.0f / sqrtf((float)c->model->hp.head_dim), 0);
}

/* Whether a step's attention splits every head over the threads
** (split_worker) rather than taking sets of tokens. */
static int att_split(const lexie_ctx *c) {
    const int nth = lx_pool_size(c->pool);
    int set_size;
    return nth > 1 && c->n_tokens <= LX_ATT_TOKENS && c->model->hp.head_dim % 16 == 0 &&
           att_sets(c->n_tokens, nth, &set_size) * c->model->hp.n_head_kv % nth != 0;
}

void lx_attention_ex(lexie_ctx *c, int il, const float *q, float *out, float scale, int window) {
    if (c->rope_pending.q && (c->rope_pending.q != q || c->rope_pending.il != il)) {
        /* Not the attention lx_rope expected: rotate and store first. */
        rope_job rj = {c, c->rope_pending};
        c->rope_pending.q = NULL;
        lx_par_rows(c, c->n_tokens, rope_rows, &rj);
    }
    att_job j = {c, il, q, out, scale, window};
    if (att_split(c)) {
        for (int phase = 0; phase < 3; phase++) {
            split_job sj = {&j, phase};
            lx_pool_run(c->pool, split_worker, &sj);
        }
        return;
    }
    lx_pool_run(c->pool, attention_worker, &j);
    c->rope_pending.q = NULL;
}

/* ==== GELU-gated feed-forward ==== */

/* GELU, tanh approximation, as ggml's CPU backend computes it: ggml looks
** GELU up in a table indexed by the input rounded to fp16, whose entries
** are rounded to fp16, and passes |x| >= 10 around the table.  lexie
** computes the same entry on the fly, so logits match llama.cpp's. */
static float gelu_ggml(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    float h = lx_fp16_to_f32(lx_f32_to_fp16(x));
    float g = 0.5f * h * (1.0f + tanhf(0.79788456080286535588f * h * (1.0f + 0.044715f * h * h)));
    return lx_fp16_to_f32(lx_f32_to_fp16(g));
}

void lx_geglu(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) gate[i] = gelu_ggml(gate[i]) * up[i];
}

/* ==== Output head ==== */

void lx_output(lexie_ctx *c) {
    const lexie_model *m = c->model;
    int d = m->hp.n_embd, r = 0;
    if (c->n_out == 0) return;
    /* Gather the rows that want logits, normalise, project. */
    for (int i = 0; i < c->n_tokens; i++)
        if (c->out_of[i] >= 0)
            memmove(c->xb + (size_t)r++ * d, c->x + (size_t)i * d, (size_t)d * sizeof(float));
    lx_norm_rows(c, &m->out_norm, c->xb, c->xb, c->n_out, d, m->hp.norm_eps, &m->output);
    lx_linear(c, &m->output, c->xb, c->logits, c->n_out);
}
