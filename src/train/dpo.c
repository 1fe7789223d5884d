/*
** dpo.c -- Direct Preference Optimization (Rafailov et al. 2023) on the
** LoRA trainer: for a prompt with a chosen and a rejected response,
**
**   z = beta ((logp(chosen) - ref(chosen)) - (logp(rejected) - ref(rejected)))
**   loss = -log sigmoid(z), averaged over the pairs,
**
** where logp sums the log-probabilities of a sequence's response tokens
** under the policy (the model with the trained adapter) and ref under the
** frozen reference (the base model, or an SFT adapter), computed once and
** cached by the caller.  Since logp = -(summed cross-entropy), the
** gradient reaches the network as the cross-entropy gradient of each
** sequence weighted by dloss/dCE = beta sigmoid(-z) / n for the chosen
** response and its negative for the rejected one.  Rewards follow TRL:
** beta (logp - ref); the margin is chosen minus rejected, and accuracy the
** share of pairs whose chosen reward is the larger.
*/
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double lx_dpo_loss(double pc, double pr, double rc, double rr, float beta, double *dpc) {
    double z = beta * ((pc - rc) - (pr - rr));
    /* -log sigmoid(z) = log(1 + e^-z), computed without overflow. */
    double loss = z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z));
    if (dpc) *dpc = -beta / (1.0 + exp(z)); /* -beta sigmoid(-z) */
    return loss;
}

/* The pairs as 2n examples: chosen, rejected, chosen, ... */
static lexie_train_example *flatten(const lexie_dpo_pair *pairs, int n, lexie_error *err) {
    lexie_train_example *ex = lx_malloc(sizeof *ex * 2 * (size_t)n, err);
    if (!ex) return NULL;
    for (int i = 0; i < n; i++) {
        ex[2 * i] = pairs[i].chosen;
        ex[2 * i + 1] = pairs[i].rejected;
    }
    return ex;
}

/* Summed log-probabilities of the loss tokens of each of the 2n examples
** through net; with weights, also the backward pass (after a forward pass
** that drew the same dropout masks: passes[] records each micro-batch's). */
static void run_pairs(lexie_trainer *t, lx_tnet *net, const lexie_train_example *ex, int n2,
                      int train, const float *weights, uint64_t *passes, double *logp) {
    int mb = t->p.micro_batch, k = 0;
    double sl[mb];
    for (int e0 = 0; e0 < n2; e0 += mb, k++) {
        int e1 = LX_MIN(n2, e0 + mb);
        lx_tbatch b;
        lx_trainer_pack(t, ex, e0, e1, &b);
        b.seq_loss = sl;
        b.seq_weight = weights ? weights + e0 : NULL;
        if (passes && weights) lx_tnet_set_pass(net, passes[k]);
        if (passes && !weights) passes[k] = lx_tnet_pass(net);
        lx_tnet_run(net, &b, train, weights != NULL, 1.0f, NULL);
        if (logp)
            for (int e = e0; e < e1; e++) logp[e] = -sl[e - e0];
    }
}

lexie_status lexie_trainer_dpo_reference(lexie_trainer *t, const lexie_adapter *ref,
                                         const lexie_dpo_pair *pairs, int n, double *logp,
                                         lexie_error *err) {
    if (!t || !pairs || n < 1 || !logp)
        return lx_fail(err, LEXIE_E_INVALID, "dpo: no trainer, pairs or output");
    if (ref && ref->model != t->m)
        return lx_fail(err, LEXIE_E_INVALID, "dpo: the reference adapter is for another model");
    lexie_train_example *ex = flatten(pairs, n, err);
    if (!ex) return LEXIE_E_NOMEM;
    long n_loss, n_tok;
    lexie_status s = lx_trainer_check(t, ex, 2 * n, &n_loss, &n_tok, err);
    lx_tnet *net = NULL;
    if (!s) {
        net = lx_tnet_new(t->m, (lexie_adapter *)ref, NULL, t->cap_tok, t->p.max_seq_len, 0.0f,
                          t->p.seed, t->p.n_threads, 1, err);
        if (!net) s = err ? err->code : LEXIE_E_NOMEM;
    }
    if (!s) run_pairs(t, net, ex, 2 * n, 0, NULL, NULL, logp);
    lx_tnet_free(net);
    free(ex);
    return s;
}

double lx_dpo_grads(lexie_trainer *t, const lexie_dpo_pair *pairs, int n, const double *ref,
                    float beta, int backward, double *margin, double *accuracy, lexie_error *err) {
    lexie_train_example *ex = flatten(pairs, n, err);
    int n_mb = (2 * n + t->p.micro_batch - 1) / t->p.micro_batch;
    double *logp = lx_malloc(sizeof *logp * 2 * (size_t)n, err);
    float *w = lx_malloc(sizeof *w * 2 * (size_t)n, err);
    uint64_t *passes = lx_malloc(sizeof *passes * (size_t)n_mb, err);
    double loss = NAN;
    if (ex && logp && w && passes) {
        /* Forward: the policy's log-probabilities, dropout on when training. */
        run_pairs(t, t->net, ex, 2 * n, backward, NULL, passes, logp);
        uint64_t after = lx_tnet_pass(t->net);
        double m = 0.0, acc = 0.0;
        loss = 0.0;
        for (int i = 0; i < n; i++) {
            double pc = logp[2 * i], pr = logp[2 * i + 1], rc = ref[2 * i], rr = ref[2 * i + 1];
            double d;
            loss += lx_dpo_loss(pc, pr, rc, rr, beta, &d) / n;
            /* dloss/dCE = -dloss/dlogp */
            w[2 * i] = (float)(-d / n);
            w[2 * i + 1] = (float)(d / n);
            double gap = beta * ((pc - rc) - (pr - rr));
            m += gap / n;
            acc += (gap > 0.0) / (double)n;
        }
        if (margin) *margin = m;
        if (accuracy) *accuracy = acc;
        if (backward) {
            memset(t->grad->mem, 0, t->grad->n_params * sizeof(float));
            run_pairs(t, t->net, ex, 2 * n, 1, w, passes, NULL);
            lx_tnet_set_pass(t->net, after);
        }
    }
    free(ex);
    free(logp);
    free(w);
    free(passes);
    return loss;
}

lexie_status lexie_trainer_dpo_step(lexie_trainer *t, const lexie_dpo_pair *pairs, int n,
                                    const double *ref_logp, float beta, lexie_dpo_stats *st,
                                    lexie_error *err) {
    if (!t || !pairs || n < 1 || !ref_logp || !(beta > 0.0f))
        return lx_fail(err, LEXIE_E_INVALID, "dpo: no pairs or reference, or beta <= 0");
    lexie_train_example *ex = flatten(pairs, n, err);
    if (!ex) return LEXIE_E_NOMEM;
    long n_loss, n_tok;
    lexie_status s = lx_trainer_check(t, ex, 2 * n, &n_loss, &n_tok, err);
    free(ex);
    if (s) return s;
    double t0 = lx_time_now(), margin = 0.0, acc = 0.0;
    double loss = lx_dpo_grads(t, pairs, n, ref_logp, beta, 1, &margin, &acc, err);
    if (isnan(loss)) return err ? err->code : LEXIE_E_NOMEM;
    float lr, norm;
    lx_trainer_update(t, &lr, &norm);
    if (st) {
        memset(st, 0, sizeof *st);
        st->train.step = t->step;
        st->train.loss = loss;
        st->train.n_tokens = n_tok;
        st->train.n_loss_tokens = n_loss;
        st->train.lr = lr;
        st->train.grad_norm = norm;
        st->train.seconds = lx_time_now() - t0;
        st->reward_margin = margin;
        st->reward_accuracy = acc;
    }
    return LEXIE_OK;
}

lexie_status lexie_trainer_dpo_fit(lexie_trainer *t, const lexie_dpo_data *d, int batch,
                                   const double *ref_logp, float beta, lexie_dpo_callback cb,
                                   void *user, lexie_error *err) {
    int n = d ? lexie_dpo_data_count(d) : 0;
    if (!t || n < 1 || batch < 1 || batch > 1 << 16 || !ref_logp)
        return lx_fail(err, LEXIE_E_INVALID, "dpo: %d pairs, batch %d, or no reference", n, batch);
    const lexie_dpo_pair *all = lexie_dpo_data_pairs(d);
    int *order = lx_malloc(sizeof *order * (size_t)n, err);
    lexie_dpo_pair *pr = lx_malloc(sizeof *pr * (size_t)batch, err);
    double *ref = lx_malloc(sizeof *ref * 2 * (size_t)batch, err);
    lexie_status s = order && pr && ref ? LEXIE_OK : LEXIE_E_NOMEM;
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
        int k = 0;
        for (; k < batch && t->cursor < n; k++) {
            int i = order[t->cursor++];
            pr[k] = all[i];
            ref[2 * k] = ref_logp[2 * i];
            ref[2 * k + 1] = ref_logp[2 * i + 1];
        }
        lexie_dpo_stats st;
        if ((s = lexie_trainer_dpo_step(t, pr, k, ref, beta, &st, err))) break;
        if (cb && cb(&st, user)) break;
    }
    free(order);
    free(pr);
    free(ref);
    return s;
}
