/*
** generate_batch.c -- many answers at once.  Extraction decodes a batch of
** documents that share one instruction: the shared prefix is computed
** once (sequence 0) and copied by reference into each answer's sequence,
** the tails are prefilled together, and then every step feeds one token
** per unfinished answer in a single decode, so one pass over the weights
** serves the whole batch.  Logits do not depend on the batch (see
** docs/architecture.md), and each answer's RNG starts at the seed, so an
** answer is the same alone or in company.
**
** Each answer records, per sampled token, the token's probability under
** the grammar mask and where its bytes end in the text: the extractor's
** confidences come from these.
*/
#include "decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void lx_gen_answer_clear(lx_gen_answer *a) {
    free(a->text);
    free(a->prob);
    free(a->end);
    memset(a, 0, sizeof *a);
}

/* One answer in flight. */
typedef struct slot {
    int idx, seq, pos, n_gen, done;
    lx_gcon gc;
    lx_buf text;
    char pend[4];
    size_t n_pend;
    uint64_t rng;
    const float *logits; /* the next step's logits */
    float *own;          /* (n_vocab) logits copied out of the prefill */
} slot;

/* The probability of t under the distribution the sampler saw. */
static float token_prob(const float *lg, int n_vocab, lexie_token t) {
    return (float)exp((double)lg[t] - lx_logsumexp(lg, n_vocab));
}

/* Appends t to the slot's text and answer record.  0 when out of memory. */
static int record(slot *s, const lexie_model *m, lx_gen_answer *a, lexie_token t, float p,
                  int cap) {
    char piece[256];
    int len = lx_token_to_piece(m->vocab, t, 0, piece, (int)sizeof piece);
    if (len > (int)sizeof piece) len = (int)sizeof piece;
    if (len > 0 && !lx_text_append_utf8(&s->text, s->pend, &s->n_pend, piece, (size_t)len, 0))
        return 0;
    if (a->n_tok >= cap) return 1; /* cap covers every sampled token */
    a->prob[a->n_tok] = p;
    a->end[a->n_tok] = (int)s->text.len;
    a->n_tok++;
    return 1;
}

/* Samples the slot's next token, or marks it done.  */
static lexie_status slot_step(slot *s, lexie_ctx *c, const lexie_gen_params *p, lx_gen_answer *a,
                              int cap, lexie_token *out, lexie_error *err) {
    const lexie_model *m = c->model;
    int n_vocab = m->hp.n_vocab;
    *out = -1;
    if (p->max_tokens > 0 && s->n_gen >= p->max_tokens) {
        a->why = LEXIE_GEN_MAX_TOKENS;
        s->done = 1;
        return LEXIE_OK;
    }
    int left = c->params.n_ctx - s->pos + 1;
    left = LX_MIN(left, c->kv.n_cells - c->kv.used + 1);
    if (p->max_tokens > 0) left = LX_MIN(left, p->max_tokens - s->n_gen);
    left = LX_MAX(left, 1);
    lexie_token t;
    float pr;
    if (p->grammar) {
        lexie_status st = lx_gcon_step(&s->gc, m, s->logits, &p->sampler, &s->rng, left, &t, err);
        if (st != LEXIE_OK) return st;
        if (t < 0) {
            s->done = 1;
            return LEXIE_OK;
        }
        pr = token_prob(s->gc.logits, n_vocab, t);
    } else {
        t = lexie_sample(m, s->logits, &p->sampler, &s->rng);
        pr = token_prob(s->logits, n_vocab, t);
    }
    if (lx_vocab_is_eog(m->vocab, t)) {
        s->done = 1;
        return LEXIE_OK;
    }
    s->n_gen++;
    if (!record(s, m, a, t, pr, cap)) return lx_fail(err, LEXIE_E_NOMEM, "generate: out of memory");
    if (s->pos >= c->params.n_ctx || c->kv.used >= c->kv.n_cells) {
        a->why = LEXIE_GEN_CTX_FULL;
        s->done = 1;
        return LEXIE_OK;
    }
    *out = t;
    return LEXIE_OK;
}

/* Prefills the tails of the group's prompts (after the shared L tokens)
** in as few decodes as n_batch allows, keeping each one's last logits. */
static lexie_status prefill_tails(lexie_ctx *c, slot *g, int ng, const lexie_token *const *prompts,
                                  const int *np, int L, lexie_error *err) {
    int n_batch = c->params.n_batch, n_vocab = c->model->hp.n_vocab;
    int32_t *tok = c->scratch, *pos = tok + n_batch, *sq = pos + n_batch;
    int8_t *want = (int8_t *)(sq + n_batch);
    int k = 0, j = L; /* the next token to feed: prompt g[k].idx, position j */
    while (k < ng) {
        int n = 0;
        while (k < ng && n < n_batch) {
            const lexie_token *pr = prompts[g[k].idx];
            int len = np[g[k].idx];
            tok[n] = pr[j];
            pos[n] = j;
            sq[n] = g[k].seq;
            want[n] = j == len - 1;
            n++;
            if (++j == len) {
                k++;
                j = L;
            }
        }
        lexie_batch b = {n, tok, pos, sq, want};
        lexie_status st = lexie_ctx_decode(c, &b, err);
        if (st != LEXIE_OK) return st;
        /* Copy out the logits of the prompts that ended in this batch. */
        for (int i = 0, kk = 0; i < n; i++) {
            if (!want[i]) continue;
            while (kk < ng && g[kk].seq != sq[i]) kk++;
            memcpy(g[kk].own, lexie_ctx_logits(c, i), (size_t)n_vocab * sizeof(float));
            g[kk].logits = g[kk].own;
        }
    }
    return LEXIE_OK;
}

/* Steps the group until every answer is done. */
static lexie_status run_group(lexie_ctx *c, slot *g, int ng, const lexie_gen_params *p,
                              lx_gen_answer *out, int cap, lexie_error *err) {
    int n_batch = c->params.n_batch;
    int32_t *tok = c->scratch, *pos = tok + n_batch, *sq = pos + n_batch;
    int8_t *want = (int8_t *)(sq + n_batch);
    int *who = malloc((size_t)ng * sizeof *who);
    if (!who) return lx_fail(err, LEXIE_E_NOMEM, "generate: out of memory");
    lexie_status st = LEXIE_OK;
    for (;;) {
        int n = 0;
        for (int k = 0; k < ng && st == LEXIE_OK; k++) {
            if (g[k].done) continue;
            lexie_token t;
            st = slot_step(&g[k], c, p, &out[g[k].idx], cap, &t, err);
            if (st != LEXIE_OK || t < 0) continue;
            tok[n] = t;
            pos[n] = g[k].pos;
            sq[n] = g[k].seq;
            want[n] = 1;
            who[n++] = k;
        }
        if (st != LEXIE_OK || n == 0) break;
        lexie_batch b = {n, tok, pos, sq, want};
        if ((st = lexie_ctx_decode(c, &b, err)) != LEXIE_OK) break;
        for (int i = 0; i < n; i++) {
            g[who[i]].pos++;
            g[who[i]].logits = lexie_ctx_logits(c, i);
        }
    }
    free(who);
    return st;
}

/* Moves a finished slot's text into its answer and says why it stopped. */
static lexie_status finish(slot *s, const lexie_gen_params *p, lx_gen_answer *a, lexie_error *err) {
    if (s->n_pend && !lx_text_append_utf8(&s->text, s->pend, &s->n_pend, "", 0, 1))
        return lx_fail(err, LEXIE_E_NOMEM, "generate: out of memory");
    if (p->grammar && a->why != LEXIE_GEN_CTX_FULL && !lexie_matcher_is_accepting(s->gc.m) &&
        !lexie_matcher_is_terminated(s->gc.m))
        a->why = LEXIE_GEN_GRAMMAR_CUT;
    if (!s->text.data && lx_buf_append(&s->text, "", 0, err) != LEXIE_OK) return LEXIE_E_NOMEM;
    s->text.data[s->text.len] = 0;
    a->text = s->text.data;
    s->text.data = NULL;
    return LEXIE_OK;
}

/* The common prefix of the prompts, leaving every prompt one token. */
static int shared_prefix(const lexie_token *const *prompts, const int *np, int n) {
    int L = np[0];
    for (int i = 1; i < n; i++) {
        int l = 0;
        while (l < L && l < np[i] && prompts[i][l] == prompts[0][l]) l++;
        L = l;
    }
    for (int i = 0; i < n; i++) L = LX_MIN(L, np[i] - 1);
    return L;
}

lexie_status lx_generate_batch(lexie_ctx *c, const lexie_token *const *prompts, const int *np,
                               int n, const lexie_gen_params *pp, lx_gen_answer *out,
                               lexie_error *err) {
    lexie_gen_params p = pp ? *pp : lexie_gen_default_params();
    int n_ctx = c->params.n_ctx, n_vocab = c->model->hp.n_vocab;
    if (p.stop && p.stop[0])
        return lx_fail(err, LEXIE_E_INVALID, "generate: stop strings are not supported in batches");
    for (int i = 0; i < n; i++) {
        if (np[i] <= 0) return lx_fail(err, LEXIE_E_INVALID, "generate: prompt %d is empty", i);
        if (np[i] >= n_ctx)
            return lx_fail(err, LEXIE_E_RANGE,
                           "prompt of %d tokens leaves no room in the context of %d", np[i], n_ctx);
    }
    int single = c->params.n_seq_max == 1, slots = single ? 1 : c->params.n_seq_max - 1;
    int L = n > 0 ? shared_prefix(prompts, np, n) : 0;
    const float *lg;
    lexie_status st = LEXIE_OK;
    if (L > 0 && !single) st = lx_prefill(c, 0, prompts[0], L, &lg, err);
    int cap = p.max_tokens > 0 ? p.max_tokens : n_ctx;
    slot *g = calloc((size_t)slots, sizeof *g);
    if (!g) st = lx_fail(err, LEXIE_E_NOMEM, "generate: out of memory");
    for (int i0 = 0; i0 < n && st == LEXIE_OK;) {
        /* A group: as many answers as sequences and free cells allow. */
        int ng = 0;
        long free_cells = c->kv.n_cells - c->kv.used;
        while (i0 + ng < n && ng < slots) {
            long need = np[i0 + ng] - (single ? 0 : L) + cap;
            if (ng > 0 && need > free_cells) break;
            free_cells -= need;
            ng++;
        }
        for (int k = 0; k < ng && st == LEXIE_OK; k++) {
            slot *s = &g[k];
            memset(s, 0, sizeof *s);
            s->idx = i0 + k;
            s->seq = single ? 0 : 1 + k;
            s->pos = np[i0 + k];
            s->rng = p.sampler.seed;
            lx_gen_answer *a = &out[s->idx];
            a->prob = malloc((size_t)cap * sizeof *a->prob);
            a->end = malloc((size_t)cap * sizeof *a->end);
            s->own = malloc((size_t)n_vocab * sizeof *s->own);
            if (!a->prob || !a->end || !s->own)
                st = lx_fail(err, LEXIE_E_NOMEM, "generate: out of memory");
            else if (p.grammar)
                st = lx_gcon_init(&s->gc, c->model, &p, cap, err);
        }
        if (st == LEXIE_OK && single) {
            /* One at a time in sequence 0, reusing whatever prefix it holds. */
            st = lx_prefill(c, 0, prompts[i0], np[i0], &lg, err);
            g[0].logits = lg;
        } else if (st == LEXIE_OK) {
            for (int k = 0; k < ng; k++) {
                lexie_kv_seq_rm(c, g[k].seq, 0, -1);
                if (L > 0) lexie_kv_seq_cp(c, 0, g[k].seq, 0, L);
            }
            st = prefill_tails(c, g, ng, prompts, np, L, err);
        }
        if (st == LEXIE_OK) st = run_group(c, g, ng, &p, out, cap, err);
        for (int k = 0; k < ng; k++) {
            if (st == LEXIE_OK) st = finish(&g[k], &p, &out[g[k].idx], err);
            if (!single) lexie_kv_seq_rm(c, g[k].seq, 0, -1);
            lx_gcon_free(&g[k].gc);
            free(g[k].text.data);
            free(g[k].own);
        }
        i0 += ng;
    }
    free(g);
    return st;
}
