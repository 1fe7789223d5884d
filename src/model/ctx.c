/*
** ctx.c -- lexie_ctx: the KV cache, scratch buffers, thread pool, and
** lexie_ctx_decode, which validates a batch, places its tokens in cache
** cells and hands it to the architecture's forward pass.
**
** Everything is allocated in lexie_ctx_new; decoding allocates nothing.
*/
#include "model.h"

#include <stdlib.h>
#include <string.h>

#define MAX_POS (1 << 30)

lexie_ctx_params lexie_ctx_default_params(void) {
    lexie_ctx_params p = {0, 0, 0, 0};
    return p;
}

/* ==== Creation ==== */

static void *alloc_floats(size_t a, size_t b, lexie_error *err) {
    return lx_calloc(a, b * sizeof(float), err);
}

lexie_ctx *lexie_ctx_new(const lexie_model *m, const lexie_ctx_params *pp, lexie_error *err) {
    if (!m) {
        lx_fail(err, LEXIE_E_INVALID, "ctx: no model");
        return NULL;
    }
    const lx_hparams *hp = &m->hp;
    lexie_ctx_params p = pp ? *pp : lexie_ctx_default_params();
    if (p.n_ctx <= 0) p.n_ctx = LX_MIN(4096, hp->n_ctx_train > 0 ? hp->n_ctx_train : 4096);
    if (p.n_batch <= 0) p.n_batch = 512;
    if (p.n_seq_max <= 0) p.n_seq_max = 1;
    if (p.n_threads <= 0) p.n_threads = lx_cpu_count();
    if (p.n_seq_max > LX_MAX_SEQ) {
        lx_fail(err, LEXIE_E_INVALID, "ctx: n_seq_max %d exceeds %d", p.n_seq_max, LX_MAX_SEQ);
        return NULL;
    }
    if (p.n_ctx > (1 << 24) || p.n_batch > (1 << 16)) {
        lx_fail(err, LEXIE_E_INVALID, "ctx: n_ctx %d or n_batch %d is absurdly large", p.n_ctx,
                p.n_batch);
        return NULL;
    }
    if (p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;

    lexie_ctx *c = lx_calloc(1, sizeof *c, err);
    if (!c) return NULL;
    c->model = m;
    c->params = p;
    if (!(c->pool = lx_pool_new(p.n_threads, err))) goto fail;

    size_t nb = (size_t)p.n_batch, nc = (size_t)p.n_ctx, nt = (size_t)p.n_threads;
    int kv_dim = hp->n_head_kv * hp->head_dim;
    int q_dim = hp->n_head * hp->head_dim;
    lx_kv *kv = &c->kv;
    kv->n_cells = p.n_ctx;
    kv->kv_dim = kv_dim;
    kv->n_layer = hp->n_layer;
    size_t kv_floats, kv_bytes;
    if (!lx_mul_ok((size_t)hp->n_layer * nc, (size_t)kv_dim, &kv_floats) ||
        !lx_mul_ok(kv_floats, sizeof(float), &kv_bytes)) {
        lx_fail(err, LEXIE_E_NOMEM, "ctx: KV cache size overflows");
        goto fail;
    }
    if (!(kv->pos = lx_malloc(nc * sizeof *kv->pos, err))) goto fail;
    if (!(kv->seq = lx_calloc(nc, sizeof *kv->seq, err))) goto fail;
    if (!(kv->tok = lx_calloc(nc, sizeof *kv->tok, err))) goto fail;
    if (!(c->scratch = lx_calloc(4 * nc, sizeof *c->scratch, err))) goto fail;
    /* On huge pages: attention reads a token's cells in every layer, rows
    ** scattered over hundreds of megabytes, and with 4 KB pages nearly
    ** every row missed the TLB (8 sequences decoded together ran 6-8%
    ** faster on 2 MB pages).  Not zeroed: a cell is read only after it is
    ** written.  Memory is taken as pages are first written, 2 MB at a time,
    ** never more than the whole cache. */
    if (!(kv->k = lx_malloc_huge(kv_bytes, err))) goto fail;
    if (!(kv->v = lx_malloc_huge(kv_bytes, err))) goto fail;
    for (size_t i = 0; i < nc; i++) kv->pos[i] = -1;

    size_t xb_dim = (size_t)LX_MAX(hp->n_embd, q_dim);
    if (!(c->tok = lx_calloc(nb, sizeof(int32_t), err))) goto fail;
    if (!(c->pos = lx_calloc(nb, sizeof(int32_t), err))) goto fail;
    if (!(c->seq = lx_calloc(nb, sizeof(int32_t), err))) goto fail;
    if (!(c->cell = lx_calloc(nb, sizeof(int32_t), err))) goto fail;
    if (!(c->want = lx_calloc(nb, 1, err))) goto fail;
    if (!(c->out_of = lx_calloc(nb, sizeof(int32_t), err))) goto fail;
    if (!(c->x = alloc_floats(nb, (size_t)hp->n_embd, err))) goto fail;
    if (!(c->xb = alloc_floats(nb, xb_dim, err))) goto fail;
    if (!(c->q = alloc_floats(nb, (size_t)q_dim, err))) goto fail;
    if (!(c->k = alloc_floats(nb, (size_t)kv_dim, err))) goto fail;
    if (!(c->v = alloc_floats(nb, (size_t)kv_dim, err))) goto fail;
    if (!(c->hb = alloc_floats(nb, (size_t)LX_MAX(hp->n_ff, hp->n_embd), err))) goto fail;
    if (!(c->hb2 = alloc_floats(nb, (size_t)hp->n_ff, err))) goto fail;
    /* Attention, per thread: a score row per query head of a KV group for
    ** each token of a set (layers.c), the set's cell lists and queries.
    ** The scores have room for every KV head's too, which a decoding step
    ** shared by the threads keeps together. */
    const size_t group = (size_t)(hp->n_head / LX_MAX(hp->n_head_kv, 1));
    const size_t set = nt * LX_ATT_TOKENS;
    const size_t att_sets = LX_MAX(nt, (size_t)LX_MAX(hp->n_head_kv, 1)) * LX_ATT_TOKENS;
    if (!(c->att = alloc_floats(att_sets * group, nc, err))) goto fail;
    if (!(c->vis = lx_calloc(set * nc, sizeof(int32_t), err))) goto fail;
    if (!(c->vis_memo = lx_calloc(nt, sizeof *c->vis_memo, err))) goto fail;
    if (!(c->att_qy = alloc_floats(set * group, (size_t)hp->head_dim, err))) goto fail;
    if (!(c->rope_cache = alloc_floats(nb, (size_t)LX_MAX(hp->n_rot, 2), err))) goto fail;
    if (!(c->logits = alloc_floats(nb, (size_t)hp->n_vocab, err))) goto fail;

    /* The activation buffer must hold x quantized for the widest input of
    ** any weight: n_embd, the attention width or n_ff. */
    size_t qmax = 0;
    const lx_tensor *all[] = {&m->output, &m->layers[0].wq, &m->layers[0].wo, &m->layers[0].w_gate,
                              &m->layers[0].w_down};
    for (int il = 0; il < hp->n_layer; il++) {
        const lx_layer *L = &m->layers[il];
        const lx_tensor *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t j = 0; j < LX_ARRAY_LEN(ws); j++)
            qmax = LX_MAX(qmax, lx_matmul_qbuf_size(ws[j]->mm_type, ws[j]->ne[0], (int64_t)nb));
    }
    for (size_t j = 0; j < LX_ARRAY_LEN(all); j++)
        qmax = LX_MAX(qmax, lx_matmul_qbuf_size(all[j]->mm_type, all[j]->ne[0], (int64_t)nb));
    if (!(c->qbuf = lx_malloc(qmax, err)) || !(c->qbuf2 = lx_malloc(qmax, err))) goto fail;
    return c;
fail:
    lexie_ctx_free(c);
    return NULL;
}

void lexie_ctx_free(lexie_ctx *c) {
    if (!c) return;
    lx_pool_free(c->pool);
    free(c->kv.pos);
    free(c->kv.seq);
    free(c->kv.tok);
    free(c->scratch);
    free(c->kv.k);
    free(c->kv.v);
    void *bufs[] = {c->tok, c->pos,    c->seq,  c->cell,  c->want,       c->out_of, c->x,
                    c->xb,  c->q,      c->k,    c->v,     c->hb,         c->hb2,    c->att,
                    c->vis, c->att_qy, c->qbuf, c->qbuf2, c->rope_cache, c->logits, c->vis_memo};
    for (size_t i = 0; i < LX_ARRAY_LEN(bufs); i++) free(bufs[i]);
    free(c->lora_tmp);
    free(c);
}

int lexie_ctx_n_ctx(const lexie_ctx *c) { return c->params.n_ctx; }

/* ==== KV cache ==== */

static void cell_drop_seq(lx_kv *kv, int i, uint64_t mask) {
    kv->seq[i] &= ~mask;
    if (kv->seq[i] == 0 && kv->pos[i] >= 0) {
        kv->pos[i] = -1;
        kv->used--;
    }
}

/* A position range p0 <= pos < p1 (p1 < 0: to the end) is valid when it
** starts at 0 or later and does not end before it starts; an empty range
** (p0 == p1) is valid and touches nothing. */
static int range_ok(int p0, int p1) { return p0 >= 0 && (p1 < 0 || p1 >= p0); }

lexie_status lexie_kv_seq_rm(lexie_ctx *c, int seq, int p0, int p1) {
    if (!c || seq >= c->params.n_seq_max || !range_ok(p0, p1)) return LEXIE_E_INVALID;
    lx_kv *kv = &c->kv;
    uint64_t mask = seq < 0 ? ~0ULL : 1ULL << seq;
    if (p1 < 0) p1 = MAX_POS + 1;
    for (int i = 0; i < kv->n_cells; i++)
        if (kv->pos[i] >= p0 && kv->pos[i] < p1 && (kv->seq[i] & mask)) cell_drop_seq(kv, i, mask);
    return LEXIE_OK;
}

lexie_status lexie_kv_seq_cp(lexie_ctx *c, int src, int dst, int p0, int p1) {
    if (!c || src < 0 || dst < 0 || src >= c->params.n_seq_max || dst >= c->params.n_seq_max ||
        !range_ok(p0, p1))
        return LEXIE_E_INVALID;
    if (src == dst) return LEXIE_OK; /* a sequence already sees its own cells */
    lx_kv *kv = &c->kv;
    if (p1 < 0) p1 = MAX_POS + 1;
    for (int i = 0; i < kv->n_cells; i++)
        if (kv->pos[i] >= p0 && kv->pos[i] < p1 && (kv->seq[i] & (1ULL << src)))
            kv->seq[i] |= 1ULL << dst;
    return LEXIE_OK;
}

int lexie_kv_seq_pos_max(const lexie_ctx *c, int seq) {
    const lx_kv *kv = &c->kv;
    int best = -1;
    if (seq < 0 || seq >= c->params.n_seq_max) return -1;
    for (int i = 0; i < kv->n_cells; i++)
        if ((kv->seq[i] & (1ULL << seq)) && kv->pos[i] > best) best = kv->pos[i];
    return best;
}

void lexie_kv_clear(lexie_ctx *c) {
    for (int i = 0; i < c->kv.n_cells; i++) {
        c->kv.pos[i] = -1;
        c->kv.seq[i] = 0;
    }
    c->kv.used = 0;
}

int lx_kv_cached_prefix(lexie_ctx *c, int seq, const int32_t *toks, int n) {
    const lx_kv *kv = &c->kv;
    if (seq < 0 || seq >= c->params.n_seq_max) return 0;
    n = LX_MIN(n, kv->n_cells);
    for (int i = 0; i < n; i++) c->scratch[i] = -1;
    for (int i = 0; i < kv->n_cells; i++)
        if ((kv->seq[i] & (1ULL << seq)) && kv->pos[i] >= 0 && kv->pos[i] < n)
            c->scratch[kv->pos[i]] = kv->tok[i];
    int k = 0;
    while (k < n && c->scratch[k] == toks[k]) k++;
    return k;
}

/* ==== Decode ==== */

lexie_status lexie_ctx_decode(lexie_ctx *c, const lexie_batch *b, lexie_error *err) {
    const lexie_model *m = c->model;
    int n = b->n_tokens;
    c->n_out = 0;
    if (n <= 0) return lx_fail(err, LEXIE_E_INVALID, "decode: empty batch");
    if (n > c->params.n_batch)
        return lx_fail(err, LEXIE_E_RANGE, "decode: batch of %d tokens exceeds n_batch %d", n,
                       c->params.n_batch);
    lx_kv *kv = &c->kv;
    if (kv->n_cells - kv->used < n)
        return lx_fail(err, LEXIE_E_RANGE,
                       "decode: KV cache full: %d tokens do not fit in %d free of %d cells", n,
                       kv->n_cells - kv->used, kv->n_cells);

    /* Validate everything before touching the cache. */
    int next_pos[LX_MAX_SEQ];
    for (int s = 0; s < c->params.n_seq_max; s++) next_pos[s] = -2;
    for (int i = 0; i < n; i++) {
        int32_t t = b->token[i];
        int32_t s = b->seq_id ? b->seq_id[i] : 0;
        if (t < 0 || t >= m->hp.n_vocab)
            return lx_fail(err, LEXIE_E_INVALID,
                           "decode: token %d at batch index %d is outside the vocabulary (0..%d)",
                           t, i, m->hp.n_vocab - 1);
        if (s < 0 || s >= c->params.n_seq_max)
            return lx_fail(err, LEXIE_E_INVALID,
                           "decode: seq_id %d at batch index %d is outside 0..%d", s, i,
                           c->params.n_seq_max - 1);
        int32_t p;
        if (b->pos) {
            p = b->pos[i];
        } else {
            if (next_pos[s] == -2) next_pos[s] = lexie_kv_seq_pos_max(c, s) + 1;
            p = next_pos[s]++;
        }
        if (p < 0 || p >= MAX_POS)
            return lx_fail(err, LEXIE_E_INVALID,
                           "decode: position %d at batch index %d is out of range", p, i);
        c->tok[i] = t;
        c->seq[i] = s;
        c->pos[i] = p;
        c->want[i] = b->logits ? (b->logits[i] != 0) : (i == n - 1);
    }

    /* Place tokens in free cells. */
    int cell = 0;
    for (int i = 0; i < n; i++) {
        while (kv->pos[cell] >= 0) cell++;
        kv->pos[cell] = c->pos[i];
        kv->seq[cell] = 1ULL << c->seq[i];
        kv->tok[cell] = c->tok[i];
        kv->used++;
        c->cell[i] = cell;
    }
    int n_out = 0;
    for (int i = 0; i < n; i++) c->out_of[i] = c->want[i] ? n_out++ : -1;
    c->n_tokens = n;
    c->n_out = n_out;
    c->n_forward++;
    m->arch->forward(c);
    return LEXIE_OK;
}

const float *lexie_ctx_logits(lexie_ctx *c, int i) {
    if (i < 0) i = c->n_tokens - 1;
    if (i < 0 || i >= c->n_tokens || c->n_out == 0 || c->out_of[i] < 0) return NULL;
    return c->logits + (size_t)c->out_of[i] * (size_t)c->model->hp.n_vocab;
}
