/*
** backend.c -- the classifier's backend over a real lexie_ctx, including a
** batched restricted next-token distribution, and the public lexie_re_*
** functions.
**
** Batching: the prompts of one batch share a long prefix (instruction,
** demonstrations).  It is brought into sequence 0 once (reusing whatever
** is cached there already), shared with sequences 1..G without copying,
** and the G tails are decoded together in chunks of n_batch tokens, so one
** weight read serves several examples.
*/
#include "ie.h"

#include "decode/decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ==== Backend over a ctx ==== */

static lexie_status be_chat(void *u, const lexie_chat_msg *msgs, int n, int gen, char **out,
                            lexie_error *err) {
    lexie_ctx *c = u;
    return lexie_chat_apply(c->model, msgs, n, gen, out, err);
}

static lexie_status be_tokenize(void *u, const char *text, lexie_token **out, int *n,
                                lexie_error *err) {
    lexie_ctx *c = u;
    size_t len = strlen(text);
    int cap = 0;
    *out = NULL;
    lexie_status st = lexie_tokenize(c->model, text, len, 1, 1, NULL, 0, &cap, err);
    if (st != LEXIE_OK && st != LEXIE_E_RANGE) return st;
    lexie_token *t = lx_malloc((size_t)(cap > 0 ? cap : 1) * sizeof *t, err);
    if (!t) return LEXIE_E_NOMEM;
    st = lexie_tokenize(c->model, text, len, 1, 1, t, cap, n, err);
    if (st != LEXIE_OK) {
        free(t);
        return st;
    }
    *out = t;
    return LEXIE_OK;
}

static int be_is_eog(void *u, lexie_token t) {
    lexie_ctx *c = u;
    return lexie_token_is_eog(c->model, t);
}

static lexie_status be_next(void *u, const lexie_token *prompt, int n, const lexie_token *cand,
                            int n_cand, float *probs, lexie_error *err) {
    return lexie_next_token_probs(u, prompt, n, cand, n_cand, probs, NULL, err);
}

static lexie_status be_score(void *u, const lexie_token *prompt, int n,
                             const lexie_token *const *conts, const int *n_conts, int n_cont,
                             float *const *out, lexie_error *err) {
    return lexie_score_continuation_tokens(u, prompt, n, conts, n_conts, n_cont, out, err);
}

static lexie_status be_generate(void *u, const lexie_token *prompt, int n, int max_tokens,
                                char **out, lexie_error *err) {
    lexie_gen_params p = lexie_gen_default_params();
    p.max_tokens = max_tokens;
    int ng = 0;
    return lexie_generate(u, prompt, n, &p, NULL, NULL, out, &ng, err);
}

static void restrict_softmax(const float *logits, const lexie_token *cand, int n_cand,
                             float *probs) {
    float mx = -INFINITY;
    for (int k = 0; k < n_cand; k++) mx = fmaxf(mx, logits[cand[k]]);
    double sum = 0;
    for (int k = 0; k < n_cand; k++) sum += exp((double)logits[cand[k]] - mx);
    for (int k = 0; k < n_cand; k++) probs[k] = (float)(exp((double)logits[cand[k]] - mx) / sum);
}

static lexie_status be_next_batch(void *u, const lexie_token *const *prompts, const int *np, int n,
                                  const lexie_token *cand, int n_cand, float *probs,
                                  lexie_error *err) {
    lexie_ctx *c = u;
    int n_vocab = lexie_model_n_vocab(c->model), n_batch = c->params.n_batch;
    int slots = c->params.n_seq_max - 1, n_ctx = c->params.n_ctx;
    for (int k = 0; k < n_cand; k++)
        if (cand[k] < 0 || cand[k] >= n_vocab)
            return lx_fail(err, LEXIE_E_INVALID, "next_probs: candidate %d is not a token id",
                           cand[k]);
    /* The common prefix; every prompt keeps at least one token of tail. */
    int L = np[0];
    for (int i = 1; i < n; i++) {
        int l = 0;
        while (l < L && l < np[i] && prompts[i][l] == prompts[0][l]) l++;
        L = l;
    }
    for (int i = 0; i < n; i++) L = LX_MIN(L, np[i] - 1);
    if (slots < 1 || L < 1) {
        for (int i = 0; i < n; i++) {
            lexie_status st = lexie_next_token_probs(c, prompts[i], np[i], cand, n_cand,
                                                     probs + (size_t)i * n_cand, NULL, err);
            if (st != LEXIE_OK) return st;
        }
        return LEXIE_OK;
    }
    const float *lg;
    lexie_status st = lx_prefill(c, 0, prompts[0], L, &lg, err);
    if (st != LEXIE_OK) return st;

    lexie_token *tok = lx_malloc((size_t)n_batch * sizeof *tok, err);
    int32_t *pos = lx_malloc((size_t)n_batch * sizeof *pos, err);
    int32_t *seq = lx_malloc((size_t)n_batch * sizeof *seq, err);
    int8_t *want = lx_malloc((size_t)n_batch, err);
    int *who = lx_malloc((size_t)n_batch * sizeof *who, err);
    if (!tok || !pos || !seq || !want || !who) st = LEXIE_E_NOMEM;

    int i0 = 0;
    while (st == LEXIE_OK && i0 < n) {
        /* A group: as many prompts as free sequences and cache cells allow. */
        int i1 = i0, cells = L + 1;
        while (i1 < n && i1 - i0 < slots && (i1 == i0 || cells + np[i1] - L <= n_ctx))
            cells += np[i1++] - L;
        if (cells > n_ctx) {
            /* A single tail that does not fit: the plain path says why. */
            st = lexie_next_token_probs(c, prompts[i0], np[i0], cand, n_cand,
                                        probs + (size_t)i0 * n_cand, NULL, err);
            i0++;
            continue;
        }
        for (int i = i0; i < i1; i++) lexie_kv_seq_cp(c, 0, 1 + i - i0, 0, L);
        /* Stream the tails through decode calls of at most n_batch tokens. */
        int i = i0, j = L;
        while (st == LEXIE_OK && i < i1) {
            int m = 0;
            while (m < n_batch && i < i1) {
                tok[m] = prompts[i][j];
                pos[m] = j;
                seq[m] = 1 + i - i0;
                want[m] = j == np[i] - 1;
                who[m] = i;
                m++;
                if (++j == np[i]) {
                    i++;
                    j = L;
                }
            }
            lexie_batch b = {m, tok, pos, seq, want};
            st = lexie_ctx_decode(c, &b, err);
            for (int t = 0; t < m && st == LEXIE_OK; t++) {
                if (!want[t]) continue;
                const float *l = lexie_ctx_logits(c, t);
                if (!l)
                    st = lx_fail(err, LEXIE_E_INTERNAL, "next_probs: missing logits");
                else
                    restrict_softmax(l, cand, n_cand, probs + (size_t)who[t] * n_cand);
            }
        }
        for (int k = i0; k < i1; k++) lexie_kv_seq_rm(c, 1 + k - i0, 0, -1);
        i0 = i1;
    }
    free(tok);
    free(pos);
    free(seq);
    free(want);
    free(who);
    return st;
}

void lx_re_backend_ctx(lx_re_backend *b, lexie_ctx *c) {
    memset(b, 0, sizeof *b);
    b->user = c;
    b->chat = be_chat;
    b->tokenize = be_tokenize;
    b->is_eog = be_is_eog;
    b->next_probs = be_next;
    b->score = be_score;
    b->generate = be_generate;
    b->next_probs_batch = c->params.n_seq_max > 1 ? be_next_batch : NULL;
}

/* ==== Public face ==== */

struct lexie_re {
    lx_re_clf *clf;
};

lexie_re_params lexie_re_default_params(void) { return lx_re_default_params(); }

void lexie_re_result_clear(lexie_re_result *r) { lx_re_result_clear(r); }

lexie_re *lexie_re_new(lexie_ctx *c, const lexie_re_schema *s, const lexie_re_params *p,
                       lexie_error *err) {
    if (!c || !s) {
        lx_fail(err, LEXIE_E_INVALID, "lexie_re_new: NULL ctx or schema");
        return NULL;
    }
    lx_re_backend b;
    lx_re_backend_ctx(&b, c);
    lexie_re *r = lx_calloc(1, sizeof *r, err);
    if (!r) return NULL;
    r->clf = lx_re_clf_new(s, &b, p, err);
    if (!r->clf) {
        free(r);
        return NULL;
    }
    return r;
}

void lexie_re_free(lexie_re *r) {
    if (!r) return;
    lx_re_clf_free(r->clf);
    free(r);
}

lexie_status lexie_re_set_demos(lexie_re *r, const lexie_re_example *demos, const int *labels,
                                int n, lexie_error *err) {
    if (!r || (n > 0 && (!demos || !labels)))
        return lx_fail(err, LEXIE_E_INVALID, "lexie_re_set_demos: NULL argument");
    return lx_re_clf_set_demos(r->clf, demos, labels, n, err);
}

lexie_status lexie_re_prompt(lexie_re *r, const lexie_re_example *ex, char **out,
                             lexie_error *err) {
    if (!r || !ex || !out) return lx_fail(err, LEXIE_E_INVALID, "lexie_re_prompt: NULL argument");
    return lx_re_clf_prompt(r->clf, ex, 0, out, err);
}

lexie_status lexie_re_classify(lexie_re *r, const lexie_re_example *ex, int n, lexie_re_result *out,
                               lexie_error *err) {
    if (!r || (n > 0 && (!ex || !out)))
        return lx_fail(err, LEXIE_E_INVALID, "lexie_re_classify: NULL argument");
    return lx_re_clf_run(r->clf, ex, n, out, err);
}
