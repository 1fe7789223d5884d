/*
** trainer.c -- lexie_trainer: LoRA supervised fine-tuning steps over a
** llama or qwen2 model (the public face of src/train).
**
** A step takes whole examples, packs them into micro-batches of at most
** micro_batch sequences, runs forward and backward on each (gradients of
** the mean loss over every loss token of the step accumulate), clips the
** global gradient norm and takes one AdamW step at the scheduled rate.
** Initialisation is PEFT's: A uniform in +-1/sqrt(n_in) (kaiming_uniform
** with a = sqrt(5)), B = 0, so a fresh adapter leaves the model unchanged.
** Everything random comes from the seed, so a run repeats exactly with the
** same seed and thread count.
*/
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

lexie_train_params lexie_train_default_params(void) {
    lexie_train_params p;
    memset(&p, 0, sizeof p);
    p.rank = 16;
    p.alpha = 32.0f;
    p.dropout = 0.05f;
    p.targets = LEXIE_LORA_ALL;
    p.lr = 2e-4f;
    p.beta1 = 0.9f;
    p.beta2 = 0.999f;
    p.eps = 1e-8f;
    p.weight_decay = 0.0f;
    p.max_grad_norm = 1.0f;
    p.schedule = LEXIE_LR_COSINE;
    p.warmup_ratio = 0.03f;
    p.total_steps = 0;
    p.micro_batch = 8;
    p.max_seq_len = 512;
    p.checkpoint = 1;
    p.seed = 42;
    return p;
}

static void init_lora(lexie_adapter *a, uint64_t seed) {
    for (int i = 0; i < a->n_layer * LX_LORA_N_TARGET; i++) {
        lx_lora_pair *p = &a->pairs[i];
        if (p->rank <= 0) continue;
        float bound = 1.0f / sqrtf((float)p->n_in);
        uint64_t key = lx_mix64(seed ^ lx_mix64((uint64_t)i + 1));
        for (size_t j = 0; j < (size_t)p->rank * p->n_in; j++) {
            double u = (double)(lx_mix64(key + j) >> 11) * 0x1p-53; /* [0, 1) */
            p->a[j] = (float)((2.0 * u - 1.0) * bound);
        }
        memset(p->b, 0, (size_t)p->rank * p->n_out * sizeof(float));
    }
}

void lexie_trainer_free(lexie_trainer *t) {
    if (!t) return;
    lx_tnet_free(t->net);
    lexie_adapter_free(t->lora);
    lexie_adapter_free(t->grad);
    lexie_adapter_free(t->m1);
    lexie_adapter_free(t->m2);
    free(t->tok);
    free(t->start);
    free(t->target);
    free(t);
}

static lexie_status check_params(const lexie_model *m, const lexie_train_params *p,
                                 lexie_error *err) {
    if (p->rank < 1 || p->rank > 4096 || !(p->targets & LEXIE_LORA_ALL) || p->lr < 0.0f ||
        p->total_steps < 1 || p->micro_batch < 1 || p->micro_batch > 4096 || p->max_seq_len < 2 ||
        p->max_seq_len > (1 << 16) || !(p->dropout >= 0.0f && p->dropout < 1.0f) ||
        !(p->warmup_ratio >= 0.0f && p->warmup_ratio <= 1.0f))
        return lx_fail(err, LEXIE_E_INVALID,
                       "train: bad params (rank %d, targets 0x%x, lr %g, steps %d, micro batch %d, "
                       "max_seq_len %d, dropout %g, warmup %g)",
                       p->rank, p->targets, p->lr, p->total_steps, p->micro_batch, p->max_seq_len,
                       p->dropout, p->warmup_ratio);
    if (p->init && (p->init->model != m || p->init->n_layer != m->hp.n_layer))
        return lx_fail(err, LEXIE_E_INVALID, "train: the initial adapter is for another model");
    return LEXIE_OK;
}

lexie_trainer *lexie_trainer_new(const lexie_model *m, const lexie_train_params *pp,
                                 lexie_error *err) {
    if (!m || !pp) {
        lx_fail(err, LEXIE_E_INVALID, "train: no model or params");
        return NULL;
    }
    if (check_params(m, pp, err)) return NULL;
    lexie_trainer *t = lx_calloc(1, sizeof *t, err);
    if (!t) return NULL;
    t->m = m;
    t->p = *pp;
    t->p.init = NULL;
    if (pp->init) {
        if (!(t->lora = lx_lora_new_like(pp->init, err))) goto fail;
        memcpy(t->lora->mem, pp->init->mem, pp->init->n_params * sizeof(float));
        t->lora->alpha = pp->init->alpha;
    } else {
        if (!(t->lora = lx_lora_new(m, pp->rank, pp->alpha, pp->targets, err))) goto fail;
        init_lora(t->lora, pp->seed);
    }
    if (!(t->grad = lx_lora_new_like(t->lora, err)) || !(t->m1 = lx_lora_new_like(t->lora, err)) ||
        !(t->m2 = lx_lora_new_like(t->lora, err)))
        goto fail;
    size_t cap = (size_t)pp->micro_batch * pp->max_seq_len;
    if (cap > (1 << 20)) {
        lx_fail(err, LEXIE_E_INVALID, "train: micro batch of %zu tokens is too large", cap);
        goto fail;
    }
    t->cap_tok = (int)cap;
    if (!(t->tok = lx_calloc(cap, sizeof *t->tok, err)) ||
        !(t->start = lx_calloc((size_t)pp->micro_batch + 1, sizeof *t->start, err)) ||
        !(t->target = lx_calloc(cap, 1, err)))
        goto fail;
    t->net = lx_tnet_new(m, t->lora, t->grad, t->cap_tok, pp->max_seq_len, pp->dropout, pp->seed,
                         pp->n_threads, pp->checkpoint, err);
    if (!t->net) goto fail;
    return t;
fail:
    lexie_trainer_free(t);
    return NULL;
}

const lexie_adapter *lexie_trainer_adapter(const lexie_trainer *t) { return t->lora; }
long lexie_trainer_steps(const lexie_trainer *t) { return t->step; }

/* Validates every example and counts the loss tokens. */
lexie_status lx_trainer_check(const lexie_trainer *t, const lexie_train_example *ex, int n,
                              long *n_loss, long *n_tok, lexie_error *err) {
    *n_loss = *n_tok = 0;
    if (!ex || n < 1) return lx_fail(err, LEXIE_E_INVALID, "train: no examples");
    for (int e = 0; e < n; e++) {
        if (!ex[e].tokens || ex[e].n_tokens < 2 || ex[e].n_tokens > t->p.max_seq_len)
            return lx_fail(err, LEXIE_E_RANGE, "train: example %d has %d tokens (2..%d)", e,
                           ex[e].n_tokens, t->p.max_seq_len);
        for (int i = 0; i < ex[e].n_tokens; i++) {
            if (ex[e].tokens[i] < 0 || ex[e].tokens[i] >= t->m->hp.n_vocab)
                return lx_fail(err, LEXIE_E_INVALID, "train: example %d: token %d is out of range",
                               e, ex[e].tokens[i]);
            if (i > 0) *n_loss += ex[e].loss_mask ? ex[e].loss_mask[i] != 0 : 1;
        }
        *n_tok += ex[e].n_tokens;
    }
    if (*n_loss == 0) return lx_fail(err, LEXIE_E_INVALID, "train: no token is in the loss");
    return LEXIE_OK;
}

/* Packs examples [e0, e1) into the batch buffers. */
void lx_trainer_pack(lexie_trainer *t, const lexie_train_example *ex, int e0, int e1,
                     lx_tbatch *b) {
    int at = 0;
    for (int e = e0; e < e1; e++) {
        t->start[e - e0] = at;
        const lexie_train_example *x = &ex[e];
        for (int i = 0; i < x->n_tokens; i++) {
            t->tok[at + i] = x->tokens[i];
            int next = i + 1 < x->n_tokens;
            t->target[at + i] = (int8_t)(next && (x->loss_mask ? x->loss_mask[i + 1] != 0 : 1));
        }
        at += x->n_tokens;
    }
    t->start[e1 - e0] = at;
    *b = (lx_tbatch){at, t->tok, e1 - e0, t->start, t->target, NULL, NULL};
}

static double run_all(lexie_trainer *t, const lexie_train_example *ex, int n, int backward,
                      float scale) {
    double loss = 0.0;
    for (int e0 = 0; e0 < n; e0 += t->p.micro_batch) {
        int e1 = LX_MIN(n, e0 + t->p.micro_batch);
        lx_tbatch b;
        lx_trainer_pack(t, ex, e0, e1, &b);
        loss += lx_tnet_run(t->net, &b, backward, backward, scale, NULL);
    }
    return loss;
}

/* FLOPs of the products of a step: every projection three times (forward,
** the per-layer recompute, backward to its input; twice without
** checkpointing), LoRA's products, attention's full T x T products (two
** per forward pass, four backward), and the head twice on the loss
** tokens. */
static double step_flops(const lexie_trainer *t, const lexie_train_example *ex, int n,
                         long n_loss) {
    const lx_hparams *hp = &t->m->hp;
    double d = hp->n_embd, ff = hp->n_ff, qd = (double)hp->n_head * hp->head_dim;
    double kvd = (double)hp->n_head_kv * hp->head_dim, per_tok, att = 0.0, tokens = 0.0;
    double passes = t->p.checkpoint ? 3.0 : 2.0; /* forward, [recompute,] backward */
    per_tok = passes * 2.0 * (d * qd + 2.0 * d * kvd + qd * d + 3.0 * d * ff);
    for (int il = 0; il < hp->n_layer; il++)
        for (int tg = 0; tg < LX_LORA_N_TARGET; tg++) {
            const lx_lora_pair *p = lx_lora_at(t->lora, il, tg);
            if (p->rank > 0) per_tok += 8.0 * p->rank * (p->n_in + p->n_out) / hp->n_layer;
        }
    for (int e = 0; e < n; e++) {
        att += (passes + 2.0) * 4.0 * ex[e].n_tokens * (double)ex[e].n_tokens * qd;
        tokens += ex[e].n_tokens;
    }
    return hp->n_layer * (per_tok * tokens + att) + 4.0 * d * hp->n_vocab * (double)n_loss;
}

void lx_trainer_update(lexie_trainer *t, float *lr_out, float *norm_out) {
    size_t np = t->lora->n_params;
    double norm = lx_tnorm2(t->grad->mem, np);
    if (t->p.max_grad_norm > 0.0f && norm > t->p.max_grad_norm) {
        float c = (float)(t->p.max_grad_norm / (norm + 1e-6));
        for (size_t i = 0; i < np; i++) t->grad->mem[i] *= c;
    }
    float lr = lexie_train_lr_at(&t->p, (int)LX_MIN(t->step, (long)1 << 30));
    t->step++;
    lx_adamw(t->lora->mem, t->grad->mem, t->m1->mem, t->m2->mem, np, lr, t->p.beta1, t->p.beta2,
             t->p.eps, t->p.weight_decay, t->step);
    *lr_out = lr;
    *norm_out = (float)norm;
}

lexie_status lexie_trainer_step(lexie_trainer *t, const lexie_train_example *ex, int n,
                                lexie_train_stats *st, lexie_error *err) {
    long n_loss, n_tok;
    lexie_status s = lx_trainer_check(t, ex, n, &n_loss, &n_tok, err);
    if (s) return s;
    double t0 = lx_time_now();
    size_t np = t->lora->n_params;
    memset(t->grad->mem, 0, np * sizeof(float));
    double loss = run_all(t, ex, n, 1, 1.0f / (float)n_loss);
    float lr, norm;
    lx_trainer_update(t, &lr, &norm);
    if (st) {
        st->step = t->step;
        st->loss = loss / (double)n_loss;
        st->n_tokens = n_tok;
        st->n_loss_tokens = n_loss;
        st->lr = lr;
        st->grad_norm = (float)norm;
        st->seconds = lx_time_now() - t0;
        st->flops = step_flops(t, ex, n, n_loss);
    }
    return LEXIE_OK;
}

lexie_status lexie_trainer_eval(lexie_trainer *t, const lexie_train_example *ex, int n,
                                double *loss, lexie_error *err) {
    long n_loss, n_tok;
    lexie_status s = lx_trainer_check(t, ex, n, &n_loss, &n_tok, err);
    if (s) return s;
    *loss = run_all(t, ex, n, 0, 0.0f) / (double)n_loss;
    return LEXIE_OK;
}

/* ==== Epochs over a data set ==== */

/* The order of epoch e: a Fisher-Yates shuffle seeded by (seed, e). */
void lx_trainer_epoch_order(uint64_t seed, long e, int *order, int n) {
    for (int i = 0; i < n; i++) order[i] = i;
    uint64_t key = lx_mix64(seed ^ lx_mix64(0x5eedull + (uint64_t)e));
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(lx_mix64(key + (uint64_t)i) % (uint64_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

lexie_status lexie_trainer_fit(lexie_trainer *t, const lexie_train_data *d, int batch,
                               lexie_train_callback cb, void *user, lexie_error *err) {
    int n = d ? lexie_train_data_count(d) : 0;
    if (n < 1 || batch < 1 || batch > 1 << 16)
        return lx_fail(err, LEXIE_E_INVALID, "train: %d examples, batch %d", n, batch);
    const lexie_train_example *all = lexie_train_data_examples(d);
    int *order = lx_malloc(sizeof *order * (size_t)n, err);
    lexie_train_example *ex = lx_malloc(sizeof *ex * (size_t)batch, err);
    lexie_status s = order && ex ? LEXIE_OK : LEXIE_E_NOMEM;
    long have = -1; /* epoch whose order is in `order` */
    while (!s && t->step < t->p.total_steps) {
        if (t->cursor >= n) {
            t->epoch++;
            t->cursor = 0;
        }
        if (have != t->epoch) {
            lx_trainer_epoch_order(t->p.seed, t->epoch, order, n);
            have = t->epoch;
        }
        /* The next batch; the last of an epoch may be smaller. */
        int k = 0;
        while (k < batch && t->cursor < n) ex[k++] = all[order[t->cursor++]];
        lexie_train_stats st;
        if ((s = lexie_trainer_step(t, ex, k, &st, err))) break;
        if (cb && cb(&st, user)) break;
    }
    free(order);
    free(ex);
    return s;
}
