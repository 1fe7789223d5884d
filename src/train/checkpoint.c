/*
** checkpoint.c -- a trainer's whole state in one GGUF file, written
** atomically, so a killed run resumes where it stopped and ends with the
** same numbers as an uninterrupted one (same seed and thread count).
**
** Layout: general.architecture = the model's, general.type =
** "lexie.train.checkpoint", adapter.lora.alpha; lexie.train.step, .epoch,
** .cursor (lexie_trainer_fit's position in the data), .pass (the dropout
** counter) and .seed as uint64; per adapted projection four F32 tensors:
** "<base>.lora_a" and ".lora_b" in the adapter's layout, and AdamW's first
** and second moments "<base>.lora_a.adam_m", ".adam_v" (the same for b).
*/
#include "gguf/gguf.h"
#include "train/train.h"

#include <stdio.h>
#include <string.h>

#define CK_TYPE LX_LORA_CHECKPOINT_TYPE

static const char *const KEYS[] = {"lexie.train.step", "lexie.train.epoch", "lexie.train.cursor",
                                   "lexie.train.pass", "lexie.train.seed"};
enum { K_STEP, K_EPOCH, K_CURSOR, K_PASS, K_SEED, N_KEYS };

/* The four tensors of half `b` of pair (il, tg): name suffix and data. */
static void names(char out[3][128], int il, int tg, int b) {
    const char *ab = b ? "lora_b" : "lora_a";
    const char *stem = lx_lora_target_name(tg);
    snprintf(out[0], 128, "blk.%d.%s.weight.%s", il, stem, ab);
    snprintf(out[1], 128, "blk.%d.%s.weight.%s.adam_m", il, stem, ab);
    snprintf(out[2], 128, "blk.%d.%s.weight.%s.adam_v", il, stem, ab);
}

lexie_status lexie_trainer_save(const lexie_trainer *t, const char *path, lexie_error *err) {
    if (!t || !path) return lx_fail(err, LEXIE_E_INVALID, "checkpoint: no trainer or path");
    lx_gguf_writer *w = lx_gguf_writer_new(err);
    if (!w) return LEXIE_E_NOMEM;
    uint64_t vals[N_KEYS] = {(uint64_t)t->step, (uint64_t)t->epoch, (uint64_t)t->cursor,
                             lx_tnet_pass(t->net), (uint64_t)t->p.seed};
    lexie_status s;
    if ((s = lx_gguf_writer_set_str(w, "general.architecture", lexie_model_arch(t->m), err)) ||
        (s = lx_gguf_writer_set_str(w, "general.type", CK_TYPE, err)) ||
        (s = lx_gguf_writer_set_f32(w, "adapter.lora.alpha", t->lora->alpha, err)))
        goto done;
    for (int k = 0; k < N_KEYS; k++) {
        lx_gguf_value v;
        memset(&v, 0, sizeof v);
        v.type = LX_GGUF_UINT64;
        v.v.u64 = vals[k];
        if ((s = lx_gguf_writer_set_value(w, KEYS[k], &v, err))) goto done;
    }
    for (int il = 0; il < t->lora->n_layer; il++)
        for (int tg = 0; tg < LX_LORA_N_TARGET; tg++) {
            const lx_lora_pair *ps[3] = {lx_lora_at(t->lora, il, tg), lx_lora_at(t->m1, il, tg),
                                         lx_lora_at(t->m2, il, tg)};
            if (ps[0]->rank <= 0) continue;
            for (int b = 0; b < 2; b++) {
                char nm[3][128];
                names(nm, il, tg, b);
                int64_t ne[2] = {b ? ps[0]->rank : ps[0]->n_in, b ? ps[0]->n_out : ps[0]->rank};
                for (int k = 0; k < 3; k++)
                    if ((s = lx_gguf_writer_add_tensor(w, nm[k], LX_TYPE_F32, 2, ne,
                                                       b ? ps[k]->b : ps[k]->a, err)))
                        goto done;
            }
        }
    s = lx_gguf_writer_write(w, path, err);
done:
    lx_gguf_writer_free(w);
    return s;
}

/* Finds every tensor the trainer needs, checked, before anything changes;
** with copy, copies them in. */
static lexie_status tensors(lexie_trainer *t, const lx_gguf *g, int copy, lexie_error *err) {
    int64_t want = 0;
    for (int il = 0; il < t->lora->n_layer; il++)
        for (int tg = 0; tg < LX_LORA_N_TARGET; tg++) {
            lx_lora_pair *ps[3] = {lx_lora_at(t->lora, il, tg), lx_lora_at(t->m1, il, tg),
                                   lx_lora_at(t->m2, il, tg)};
            if (ps[0]->rank <= 0) continue;
            for (int b = 0; b < 2; b++) {
                char nm[3][128];
                names(nm, il, tg, b);
                int64_t ne0 = b ? ps[0]->rank : ps[0]->n_in, ne1 = b ? ps[0]->n_out : ps[0]->rank;
                for (int k = 0; k < 3; k++) {
                    const lx_gguf_tensor *te = lx_gguf_find_tensor(g, nm[k]);
                    want++;
                    if (!te || te->type != LX_TYPE_F32 || te->ne[0] != ne0 || te->ne[1] != ne1 ||
                        te->nbytes < sizeof(float) * (size_t)(ne0 * ne1))
                        return lx_fail(err, LEXIE_E_FORMAT,
                                       "checkpoint: tensor '%s' is missing or not F32 (%lld, %lld)",
                                       nm[k], (long long)ne0, (long long)ne1);
                    if (copy)
                        memcpy(b ? ps[k]->b : ps[k]->a, te->data,
                               sizeof(float) * (size_t)(ne0 * ne1));
                }
            }
        }
    if (lx_gguf_n_tensors(g) != want)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "checkpoint: %lld tensors where this trainer's adapter has %lld",
                       (long long)lx_gguf_n_tensors(g), (long long)want);
    return LEXIE_OK;
}

static lexie_status header(const lexie_trainer *t, const lx_gguf *g, uint64_t vals[N_KEYS],
                           lexie_error *err) {
    lx_str s;
    const char *arch = lexie_model_arch(t->m);
    if (lx_gguf_get_str(g, "general.type", &s, err) || s.len != strlen(CK_TYPE) ||
        memcmp(s.ptr, CK_TYPE, s.len) != 0)
        return lx_fail(err, LEXIE_E_FORMAT, "checkpoint: general.type is not '%s'", CK_TYPE);
    if (lx_gguf_get_str(g, "general.architecture", &s, err) || s.len != strlen(arch) ||
        memcmp(s.ptr, arch, s.len) != 0)
        return lx_fail(err, LEXIE_E_FORMAT, "checkpoint: not for a '%s' model", arch);
    float alpha = 0.0f;
    if (lx_gguf_get_f32(g, "adapter.lora.alpha", &alpha, err) || alpha != t->lora->alpha)
        return lx_fail(err, LEXIE_E_FORMAT, "checkpoint: alpha differs from the trainer's %g",
                       t->lora->alpha);
    for (int k = 0; k < N_KEYS; k++) {
        const lx_gguf_value *v = lx_gguf_get(g, KEYS[k]);
        if (!v || v->type != LX_GGUF_UINT64)
            return lx_fail(err, LEXIE_E_FORMAT, "checkpoint: '%s' is missing or not uint64",
                           KEYS[k]);
        vals[k] = v->v.u64;
    }
    if (vals[K_SEED] != (uint64_t)t->p.seed)
        return lx_fail(err, LEXIE_E_INVALID, "checkpoint: seed %llu, the trainer's is %llu",
                       (unsigned long long)vals[K_SEED], (unsigned long long)t->p.seed);
    if (vals[K_STEP] > (uint64_t)1 << 40 || vals[K_EPOCH] > (uint64_t)1 << 40 ||
        vals[K_CURSOR] > (uint64_t)1 << 40)
        return lx_fail(err, LEXIE_E_FORMAT, "checkpoint: step, epoch or cursor out of range");
    return LEXIE_OK;
}

lexie_status lexie_trainer_resume(lexie_trainer *t, const char *path, lexie_error *err) {
    if (!t || !path) return lx_fail(err, LEXIE_E_INVALID, "checkpoint: no trainer or path");
    lx_gguf *g = lx_gguf_open(path, err);
    if (!g) return lx_fail_prefix(err, "checkpoint '%s': ", path);
    uint64_t vals[N_KEYS];
    lexie_status s = header(t, g, vals, err);
    if (!s) s = tensors(t, g, 0, err);
    if (!s) {
        tensors(t, g, 1, err);
        t->step = (long)vals[K_STEP];
        t->epoch = (long)vals[K_EPOCH];
        t->cursor = (long)vals[K_CURSOR];
        lx_tnet_set_pass(t->net, vals[K_PASS]);
    } else {
        lx_fail_prefix(err, "'%s': ", path);
    }
    lx_gguf_close(g);
    return s;
}
