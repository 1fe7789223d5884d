/*
** lora.c -- LoRA adapters: creation, GGUF load and save in llama.cpp's
** layout (see lora.h), and the inference-time update y += scale * B (A x)
** that lx_linear applies after an adapted projection.
**
** The adapter is plain fp32 whatever the file stored (F32, F16, BF16 and
** Q8_0 tensors are read), so the same struct serves as trainable
** parameters in src/train.
*/
#include "model/lora.h"
#include "gguf/gguf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const target_names[LX_LORA_N_TARGET] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

const char *lx_lora_target_name(int t) {
    return t >= 0 && t < LX_LORA_N_TARGET ? target_names[t] : "?";
}

const lx_tensor *lx_lora_base(const lexie_model *m, int il, int t) {
    const lx_layer *L = &m->layers[il];
    const lx_tensor *ts[LX_LORA_N_TARGET] = {&L->wq,     &L->wk,   &L->wv,    &L->wo,
                                             &L->w_gate, &L->w_up, &L->w_down};
    return ts[t];
}

float lx_lora_pair_scale(const lexie_adapter *a, const lx_lora_pair *p) {
    return a->alpha != 0.0f && p->rank > 0 ? a->alpha / (float)p->rank : 1.0f;
}

/* ==== Creation ==== */

/* Allocates mem for the ranks already set in a->pairs and points every
** adapted pair into it. */
static lexie_status alloc_pairs(lexie_adapter *a, lexie_error *err) {
    size_t n = 0;
    for (int i = 0; i < a->n_layer * LX_LORA_N_TARGET; i++) {
        const lx_lora_pair *p = &a->pairs[i];
        if (p->rank > 0) n += (size_t)p->rank * ((size_t)p->n_in + (size_t)p->n_out);
    }
    a->n_params = n;
    if (!(a->mem = lx_calloc(n ? n : 1, sizeof(float), err))) return LEXIE_E_NOMEM;
    float *at = a->mem;
    for (int i = 0; i < a->n_layer * LX_LORA_N_TARGET; i++) {
        lx_lora_pair *p = &a->pairs[i];
        if (p->rank <= 0) continue;
        p->a = at;
        at += (size_t)p->rank * p->n_in;
        p->b = at;
        at += (size_t)p->rank * p->n_out;
    }
    return LEXIE_OK;
}

static lexie_adapter *adapter_shell(const lexie_model *m, lexie_error *err) {
    lexie_adapter *a = lx_calloc(1, sizeof *a, err);
    if (!a) return NULL;
    a->model = m;
    a->n_layer = m->hp.n_layer;
    a->pairs = lx_calloc((size_t)a->n_layer * LX_LORA_N_TARGET, sizeof *a->pairs, err);
    if (!a->pairs) {
        free(a);
        return NULL;
    }
    for (int il = 0; il < a->n_layer; il++)
        for (int t = 0; t < LX_LORA_N_TARGET; t++) {
            const lx_tensor *w = lx_lora_base(m, il, t);
            lx_lora_pair *p = lx_lora_at(a, il, t);
            p->n_in = (int)w->ne[0];
            p->n_out = (int)w->ne[1];
        }
    return a;
}

lexie_adapter *lx_lora_new(const lexie_model *m, int rank, float alpha, unsigned mask,
                           lexie_error *err) {
    if (!m || rank < 1 || rank > 4096) {
        lx_fail(err, LEXIE_E_INVALID, "lora: rank %d out of range 1..4096", rank);
        return NULL;
    }
    lexie_adapter *a = adapter_shell(m, err);
    if (!a) return NULL;
    a->alpha = alpha;
    for (int il = 0; il < a->n_layer; il++)
        for (int t = 0; t < LX_LORA_N_TARGET; t++)
            if (mask & (1u << t)) lx_lora_at(a, il, t)->rank = rank;
    if (alloc_pairs(a, err)) {
        lexie_adapter_free(a);
        return NULL;
    }
    return a;
}

lexie_adapter *lx_lora_new_like(const lexie_adapter *src, lexie_error *err) {
    lexie_adapter *a = adapter_shell(src->model, err);
    if (!a) return NULL;
    a->alpha = src->alpha;
    for (int i = 0; i < a->n_layer * LX_LORA_N_TARGET; i++) a->pairs[i].rank = src->pairs[i].rank;
    if (alloc_pairs(a, err)) {
        lexie_adapter_free(a);
        return NULL;
    }
    return a;
}

void lexie_adapter_free(lexie_adapter *a) {
    if (!a) return;
    free(a->mem);
    free(a->pairs);
    free(a);
}

float lexie_adapter_alpha(const lexie_adapter *a) { return a->alpha; }

int lexie_adapter_rank(const lexie_adapter *a) {
    int r = 0;
    for (int i = 0; i < a->n_layer * LX_LORA_N_TARGET; i++) r = LX_MAX(r, a->pairs[i].rank);
    return r;
}

/* ==== Loading ==== */

/* Which (layer, target) and which half a tensor name is; -1 when it is
** no LoRA tensor of a block projection. */
static int parse_name(const char *name, int n_layer, int *il, int *t, int *is_b) {
    int layer, used = 0;
    char stem[32];
    if (sscanf(name, "blk.%d.%31[a-z_].weight.lora_%n", &layer, stem, &used) != 2 || used == 0)
        return -1;
    const char *ab = name + used;
    if (strcmp(ab, "a") != 0 && strcmp(ab, "b") != 0) return -1;
    if (layer < 0 || layer >= n_layer) return -1;
    for (int k = 0; k < LX_LORA_N_TARGET; k++)
        if (strcmp(stem, target_names[k]) == 0) {
            *il = layer;
            *t = k;
            *is_b = ab[0] == 'b';
            return 0;
        }
    return -1;
}

/* Reads the header; *ck is 1 for a training checkpoint, whose adapter
** is read the same way once AdamW's moments are skipped. */
static lexie_status check_header(const lexie_model *m, const lx_gguf *g, float *alpha, int *ck,
                                 lexie_error *err) {
    lx_str s;
    static const char ck_type[] = LX_LORA_CHECKPOINT_TYPE;
    if (lx_gguf_get_str(g, "general.type", &s, err))
        return lx_fail(err, LEXIE_E_FORMAT, "lora: general.type is not 'adapter'");
    *ck = s.len == sizeof ck_type - 1 && memcmp(s.ptr, ck_type, s.len) == 0;
    if (!*ck) {
        if (!(s.len == 7 && memcmp(s.ptr, "adapter", 7) == 0))
            return lx_fail(err, LEXIE_E_FORMAT, "lora: general.type is not 'adapter'");
        if (lx_gguf_get_str(g, "adapter.type", &s, err) ||
            !(s.len == 4 && memcmp(s.ptr, "lora", 4) == 0))
            return lx_fail(err, LEXIE_E_FORMAT, "lora: adapter.type is not 'lora'");
    }
    const char *arch = lexie_model_arch(m);
    if (lx_gguf_get_str(g, "general.architecture", &s, err) || s.len != strlen(arch) ||
        memcmp(s.ptr, arch, s.len) != 0)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "lora: general.architecture differs from the model's '%s'", arch);
    *alpha = 0.0f;
    lexie_status st = lx_gguf_get_f32(g, "adapter.lora.alpha", alpha, err);
    if (st && st != LEXIE_E_NOT_FOUND) return st;
    lx_error_clear(err);
    return LEXIE_OK;
}

/* A checkpoint's optimizer state, which an adapter leaves out. */
static int is_moment(int ck, const char *name) {
    size_t n = strlen(name);
    return ck && n > 7 &&
           (strcmp(name + n - 7, ".adam_m") == 0 || strcmp(name + n - 7, ".adam_v") == 0);
}

/* First pass: ranks and shapes of every tensor, checked against the base. */
static lexie_status read_shapes(lexie_adapter *a, const lx_gguf *g, int ck, lexie_error *err) {
    for (int64_t i = 0; i < lx_gguf_n_tensors(g); i++) {
        const lx_gguf_tensor *te = lx_gguf_tensor_at(g, i);
        int il, t, is_b;
        if (is_moment(ck, te->name)) continue;
        if (parse_name(te->name, a->n_layer, &il, &t, &is_b))
            return lx_fail(err, LEXIE_E_UNSUPPORTED, "lora: tensor '%s' adapts no block projection",
                           te->name);
        lx_lora_pair *p = lx_lora_at(a, il, t);
        const lx_type_traits *tr = lx_type_traits_get(te->type);
        if (!tr || te->n_dims > 2 || te->ne[2] != 1 || te->ne[3] != 1)
            return lx_fail(err, LEXIE_E_UNSUPPORTED, "lora: tensor '%s' has type %s or %d dims",
                           te->name, lx_type_name(te->type), te->n_dims);
        int64_t rank = is_b ? te->ne[0] : te->ne[1];
        int64_t other = is_b ? te->ne[1] : te->ne[0];
        int64_t want = is_b ? p->n_out : p->n_in;
        if (rank < 1 || rank > 4096 || other != want || (p->rank && p->rank != rank))
            return lx_fail(err, LEXIE_E_FORMAT,
                           "lora: tensor '%s' has shape (%lld, %lld); the base wants %s %lld and "
                           "the same rank in lora_a and lora_b",
                           te->name, (long long)te->ne[0], (long long)te->ne[1],
                           is_b ? "n_out" : "n_in", (long long)want);
        p->rank = (int)rank;
    }
    return LEXIE_OK;
}

lexie_adapter *lexie_adapter_load(const lexie_model *m, const char *path, lexie_error *err) {
    if (!m || !path) {
        lx_fail(err, LEXIE_E_INVALID, "lora: no model or path");
        return NULL;
    }
    lx_gguf *g = lx_gguf_open(path, err);
    if (!g) {
        lx_fail_prefix(err, "lora '%s': ", path);
        return NULL;
    }
    lexie_adapter *a = adapter_shell(m, err);
    int ck = 0;
    if (!a || check_header(m, g, &a->alpha, &ck, err) || read_shapes(a, g, ck, err) ||
        alloc_pairs(a, err))
        goto fail;
    int found[2] = {0, 0};
    for (int64_t i = 0; i < lx_gguf_n_tensors(g); i++) {
        const lx_gguf_tensor *te = lx_gguf_tensor_at(g, i);
        int il, t, is_b;
        if (is_moment(ck, te->name)) continue;
        parse_name(te->name, a->n_layer, &il, &t, &is_b);
        lx_lora_pair *p = lx_lora_at(a, il, t);
        const lx_type_traits *tr = lx_type_traits_get(te->type);
        size_t row = lx_row_size(te->type, te->ne[0]);
        if (!row || row * (size_t)te->ne[1] > te->nbytes) {
            lx_fail(err, LEXIE_E_FORMAT, "lora: tensor '%s' rows do not fit its type %s", te->name,
                    lx_type_name(te->type));
            goto fail;
        }
        float *dst = is_b ? p->b : p->a;
        for (int64_t r = 0; r < te->ne[1]; r++)
            tr->to_float((const char *)te->data + (size_t)r * row, dst + (size_t)r * te->ne[0],
                         te->ne[0]);
        found[is_b]++;
    }
    /* Every adapted pair needs both halves. */
    int n_pairs = 0;
    for (int i = 0; i < a->n_layer * LX_LORA_N_TARGET; i++) n_pairs += a->pairs[i].rank > 0;
    if (found[0] != n_pairs || found[1] != n_pairs) {
        lx_fail(err, LEXIE_E_FORMAT, "lora: %d lora_a and %d lora_b tensors for %d projections",
                found[0], found[1], n_pairs);
        goto fail;
    }
    lx_gguf_close(g);
    return a;
fail:
    lx_fail_prefix(err, "'%s': ", path);
    lexie_adapter_free(a);
    lx_gguf_close(g);
    return NULL;
}

/* ==== Saving ==== */

lexie_status lexie_adapter_save(const lexie_adapter *a, const char *path, lexie_error *err) {
    if (!a || !path) return lx_fail(err, LEXIE_E_INVALID, "lora: no adapter or path");
    lx_gguf_writer *w = lx_gguf_writer_new(err);
    if (!w) return LEXIE_E_NOMEM;
    lexie_status s;
    if ((s = lx_gguf_writer_set_str(w, "general.architecture", lexie_model_arch(a->model), err)) ||
        (s = lx_gguf_writer_set_str(w, "general.type", "adapter", err)) ||
        (s = lx_gguf_writer_set_str(w, "adapter.type", "lora", err)) ||
        (s = lx_gguf_writer_set_f32(w, "adapter.lora.alpha", a->alpha, err)))
        goto done;
    for (int il = 0; il < a->n_layer; il++)
        for (int t = 0; t < LX_LORA_N_TARGET; t++) {
            const lx_lora_pair *p = lx_lora_at(a, il, t);
            if (p->rank <= 0) continue;
            char name[96];
            int64_t ne_a[2] = {p->n_in, p->rank}, ne_b[2] = {p->rank, p->n_out};
            snprintf(name, sizeof name, "blk.%d.%s.weight.lora_a", il, target_names[t]);
            if ((s = lx_gguf_writer_add_tensor(w, name, LX_TYPE_F32, 2, ne_a, p->a, err)))
                goto done;
            snprintf(name, sizeof name, "blk.%d.%s.weight.lora_b", il, target_names[t]);
            if ((s = lx_gguf_writer_add_tensor(w, name, LX_TYPE_F32, 2, ne_b, p->b, err)))
                goto done;
        }
    s = lx_gguf_writer_write(w, path, err);
done:
    lx_gguf_writer_free(w);
    return s;
}

/* ==== Inference ==== */

lexie_status lexie_ctx_set_adapter(lexie_ctx *c, const lexie_adapter *a, float scale,
                                   lexie_error *err) {
    if (!c) return lx_fail(err, LEXIE_E_INVALID, "lora: no ctx");
    if (a && a->model != c->model)
        return lx_fail(err, LEXIE_E_INVALID, "lora: the adapter was loaded for another model");
    float *tmp = NULL;
    if (a) {
        int r = lexie_adapter_rank(a);
        tmp = lx_calloc((size_t)c->params.n_batch * (size_t)(r ? r : 1), sizeof(float), err);
        if (!tmp) return LEXIE_E_NOMEM;
    }
    free(c->lora_tmp);
    c->lora_tmp = tmp;
    c->lora = a;
    c->lora_scale = scale;
    return LEXIE_OK;
}

/* y += s * B (A x) for rows r0..r1 of a prompt, each row on its own (u is
** that row's rank-long scratch), so the rows may go to different threads
** and a row's sums are the same whatever the batch. */
typedef struct {
    const lx_lora_pair *p;
    float s;
    const float *x;
    float *y, *u;
} lora_job;

static void lora_rows(void *arg, int r0, int r1) {
    const lora_job *j = arg;
    const lx_lora_pair *p = j->p;
    const lx_float_ops *ops = lx_float_ops_get(lx_isa_active());
    for (int i = r0; i < r1; i++) {
        const float *xi = j->x + (size_t)i * p->n_in;
        float *ui = j->u + (size_t)i * p->rank;
        for (int r = 0; r < p->rank; r++) ui[r] = ops->dot(p->a + (size_t)r * p->n_in, xi, p->n_in);
        ops->dot_add(j->y + (size_t)i * p->n_out, p->b, ui, p->rank, p->n_out, j->s);
    }
}

void lx_lora_linear(lexie_ctx *c, const lx_tensor *w, const float *x, float *y, int n) {
    const lexie_adapter *a = c->lora;
    const lexie_model *m = c->model;
    /* Which projection w is: its place in the layer array. */
    uintptr_t base = (uintptr_t)m->layers, at = (uintptr_t)w;
    size_t span = (size_t)m->hp.n_layer * sizeof(lx_layer);
    if (at < base || at >= base + span) return;
    size_t il = (at - base) / sizeof(lx_layer), off = (at - base) % sizeof(lx_layer);
    static const size_t offs[LX_LORA_N_TARGET] = {
        offsetof(lx_layer, wq),    offsetof(lx_layer, wk),     offsetof(lx_layer, wv),
        offsetof(lx_layer, wo),    offsetof(lx_layer, w_gate), offsetof(lx_layer, w_up),
        offsetof(lx_layer, w_down)};
    int t = 0;
    while (t < LX_LORA_N_TARGET && offs[t] != off) t++;
    if (t == LX_LORA_N_TARGET) return;
    const lx_lora_pair *p = lx_lora_at(a, (int)il, t);
    if (p->rank <= 0) return;
    lora_job j = {p, c->lora_scale * lx_lora_pair_scale(a, p), x, y, c->lora_tmp};
    lx_par_rows(c, n, lora_rows, &j);
}
