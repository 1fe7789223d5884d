/*
** merge.c -- a model with an adapter merged in: W' = W + scale * alpha /
** rank * B A for every adapted projection, written as a new GGUF model
** that needs no adapter at run time.
**
** Every metadata key and every other tensor is copied unchanged; merged
** tensors are re-quantized to their own type (LEXIE_MERGE_SAME) or stored
** as F16, Q8_0 or F32.  Re-quantizing a 4-bit weight after adding a small
** update loses part of the update to rounding, which is why F16 and Q8_0
** are offered.  The file is built in memory, then written atomically.
*/
#include "gguf/gguf.h"
#include "train/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The pair that adapts tensor `name`, or NULL. */
static const lx_lora_pair *pair_for(const lexie_adapter *a, const char *name) {
    for (int il = 0; il < a->n_layer; il++)
        for (int tg = 0; tg < LX_LORA_N_TARGET; tg++) {
            const lx_lora_pair *p = lx_lora_at(a, il, tg);
            if (p->rank <= 0) continue;
            char want[96];
            snprintf(want, sizeof want, "blk.%d.%s.weight", il, lx_lora_target_name(tg));
            if (strcmp(want, name) == 0) return p;
        }
    return NULL;
}

/* W + s B A of one tensor, stored as type out_type, into a malloc'd buffer. */
static void *merged(const lx_gguf_tensor *te, const lx_lora_pair *p, float s, int out_type,
                    size_t *nbytes, lexie_error *err) {
    int64_t rows = te->ne[1], cols = te->ne[0];
    const lx_type_traits *in = lx_type_traits_get(te->type), *out = lx_type_traits_get(out_type);
    size_t in_row = lx_row_size(te->type, cols), out_row = lx_row_size(out_type, cols);
    if (!in || !out || !in_row || !out_row || rows != p->n_out || cols != p->n_in) {
        lx_fail(err, LEXIE_E_UNSUPPORTED, "merge: tensor '%s' cannot be stored as %s", te->name,
                lx_type_name(out_type));
        return NULL;
    }
    float *w = lx_malloc(sizeof(float) * (size_t)(rows * cols), err);
    void *q = lx_malloc(out_row * (size_t)rows, err);
    if (!w || !q) {
        free(w);
        free(q);
        return NULL;
    }
    for (int64_t r = 0; r < rows; r++)
        in->to_float((const char *)te->data + (size_t)r * in_row, w + (size_t)r * cols, cols);
    /* W += s B (rows x rank) A (rank x cols) */
    lx_tgemm_serial((int)rows, (int)cols, p->rank, s, p->b, p->rank, 1, p->a, cols, 1.0f, w, cols);
    for (int64_t r = 0; r < rows; r++)
        out->from_float(w + (size_t)r * cols, (char *)q + (size_t)r * out_row, cols);
    free(w);
    *nbytes = out_row * (size_t)rows;
    return q;
}

lexie_status lexie_adapter_merge(const lexie_adapter *a, float scale, const char *path,
                                 lexie_merge_type type, lexie_error *err) {
    if (!a || !path) return lx_fail(err, LEXIE_E_INVALID, "merge: no adapter or path");
    static const int types[] = {-1, LX_TYPE_F16, LX_TYPE_Q8_0, LX_TYPE_F32};
    if ((int)type < 0 || (int)type >= (int)LX_ARRAY_LEN(types))
        return lx_fail(err, LEXIE_E_INVALID, "merge: unknown type %d", (int)type);
    const lx_gguf *g = a->model->gguf;
    lx_gguf_writer *w = lx_gguf_writer_new(err);
    if (!w) return LEXIE_E_NOMEM;
    lexie_status s = LEXIE_OK;
    for (int64_t i = 0; i < lx_gguf_n_kv(g) && !s; i++) {
        const lx_gguf_kv *kv = lx_gguf_kv_at(g, i);
        s = lx_gguf_writer_set_value(w, kv->key, &kv->value, err);
    }
    for (int64_t i = 0; i < lx_gguf_n_tensors(g) && !s; i++) {
        const lx_gguf_tensor *te = lx_gguf_tensor_at(g, i);
        const lx_lora_pair *p = pair_for(a, te->name);
        if (!p) {
            s = lx_gguf_writer_add_tensor(w, te->name, te->type, te->n_dims, te->ne, te->data, err);
            continue;
        }
        int out_type = types[type] < 0 ? te->type : types[type];
        size_t nb = 0;
        void *q = merged(te, p, scale * lx_lora_pair_scale(a, p), out_type, &nb, err);
        if (!q) {
            s = err ? err->code : LEXIE_E_NOMEM;
            break;
        }
        s = lx_gguf_writer_add_tensor(w, te->name, out_type, te->n_dims, te->ne, q, err);
        free(q);
    }
    if (!s) s = lx_gguf_writer_write(w, path, err);
    lx_gguf_writer_free(w);
    return s;
}
