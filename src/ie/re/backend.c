/*
** backend.c -- the classifier's backend over a real lexie_ctx (each entry
** a thin call into the decode layer; batched next-token distributions are
** decode/score.c's lx_next_probs_batch), and the public lexie_re_*
** functions.
*/
#include "re.h"

#include "decode/decode.h"

#include <stdlib.h>
#include <string.h>

/* ==== Backend over a ctx ==== */

static lexie_status be_chat(void *u, const lexie_chat_msg *msgs, int n, int gen, char **out,
                            lexie_span **spans, int *n_spans, lexie_error *err) {
    lexie_ctx *c = u;
    lexie_span *sp = NULL;
    int ns = 0;
    lexie_status st = lexie_chat_apply_spans(c->model, msgs, n, gen, out, &sp, &ns, err);
    if (spans && n_spans) {
        *spans = sp;
        *n_spans = ns;
    } else {
        free(sp);
    }
    return st;
}

/* Message text (the sentence, entities, labels) stays plain text: only the
** template's markup may become control tokens. */
static lexie_status be_tokenize(void *u, const char *text, const lexie_span *plain, int n_plain,
                                lexie_token **out, int *n, lexie_error *err) {
    lexie_ctx *c = u;
    size_t len = strlen(text);
    int cap = 0;
    *out = NULL;
    lexie_status st =
        lexie_tokenize_chat(c->model, text, len, 1, plain, n_plain, NULL, 0, &cap, err);
    if (st != LEXIE_OK && st != LEXIE_E_RANGE) return st;
    lexie_token *t = lx_malloc((size_t)(cap > 0 ? cap : 1) * sizeof *t, err);
    if (!t) return LEXIE_E_NOMEM;
    st = lexie_tokenize_chat(c->model, text, len, 1, plain, n_plain, t, cap, n, err);
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

static lexie_status be_next_batch(void *u, const lexie_token *const *prompts, const int *np, int n,
                                  const lexie_token *cand, int n_cand, float *probs,
                                  lexie_error *err) {
    return lx_next_probs_batch(u, prompts, np, n, cand, n_cand, probs, err);
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

lexie_status lexie_re_sft_line(lexie_re *r, const lexie_re_example *ex, int label, char **out,
                               lexie_error *err) {
    if (!r || !ex || !out) return lx_fail(err, LEXIE_E_INVALID, "lexie_re_sft_line: NULL argument");
    return lx_re_clf_sft_line(r->clf, ex, label, out, err);
}

lexie_status lexie_re_classify(lexie_re *r, const lexie_re_example *ex, int n, lexie_re_result *out,
                               lexie_error *err) {
    if (!r || (n > 0 && (!ex || !out)))
        return lx_fail(err, LEXIE_E_INVALID, "lexie_re_classify: NULL argument");
    return lx_re_clf_run(r->clf, ex, n, out, err);
}
