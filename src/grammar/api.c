/*
** api.c -- the public grammar and vocabulary objects (lexie.h,
** "Constrained decoding"): constructors over the internal IR and trie.
*/
#include "grammar/grammar.h"

#include <stdlib.h>
#include <string.h>

lexie_grammar_params lexie_grammar_default_params(void) {
    lexie_grammar_params p = {0, 0};
    return p;
}

lexie_grammar *lx_grammar_wrap(lx_gram *g, lexie_error *err) {
    if (!g) return NULL;
    if (lx_gram_finish(g, err) != LEXIE_OK) {
        lx_gram_free(g);
        return NULL;
    }
    lexie_grammar *gr = lx_calloc(1, sizeof *gr, err);
    if (!gr) {
        lx_gram_free(g);
        return NULL;
    }
    gr->g = g;
    return gr;
}

void lexie_grammar_free(lexie_grammar *g) {
    if (!g) return;
    lx_gram_free(g->g);
    free(g);
}

lexie_grammar_vocab *lexie_grammar_vocab_from_pieces(int n_tokens, const char *const *pieces,
                                                     const int *lens, const int *eog, int n_eog,
                                                     lexie_error *err) {
    if (n_tokens <= 0 || !pieces || !lens || (n_eog > 0 && !eog))
        return lx_fail(err, LEXIE_E_INVALID, "grammar vocabulary: no tokens"), NULL;
    lexie_grammar_vocab *gv = lx_calloc(1, sizeof *gv, err);
    if (!gv) return NULL;
    _Static_assert(sizeof(int) == sizeof(int32_t), "int is 32 bits");
    gv->v =
        lx_gvocab_build(n_tokens, pieces, (const int32_t *)lens, (const int32_t *)eog, n_eog, err);
    if (!gv->v) {
        free(gv);
        return NULL;
    }
    return gv;
}

lexie_grammar_vocab *lexie_grammar_vocab_new(const lexie_model *m, lexie_error *err) {
    int n = m ? lexie_model_n_vocab(m) : 0;
    if (n <= 0) return lx_fail(err, LEXIE_E_INVALID, "grammar vocabulary: no model"), NULL;
    char **pieces = calloc((size_t)n, sizeof *pieces);
    int *lens = calloc((size_t)n, sizeof *lens);
    int *eog = malloc((size_t)n * sizeof *eog);
    lexie_grammar_vocab *gv = NULL;
    int n_eog = 0;
    if (!pieces || !lens || !eog) {
        lx_fail(err, LEXIE_E_NOMEM, "grammar vocabulary: out of memory");
        goto done;
    }
    for (int t = 0; t < n; t++) {
        if (lexie_token_is_eog(m, t)) {
            eog[n_eog++] = t;
            continue;
        }
        int len = lexie_token_to_piece(m, t, NULL, 0);
        if (len <= 0) continue; /* control tokens render as nothing */
        pieces[t] = malloc((size_t)len);
        if (!pieces[t]) {
            lx_fail(err, LEXIE_E_NOMEM, "grammar vocabulary: out of memory");
            goto done;
        }
        lexie_token_to_piece(m, t, pieces[t], len);
        lens[t] = len;
    }
    gv = lexie_grammar_vocab_from_pieces(n, (const char *const *)pieces, lens, eog, n_eog, err);
done:
    if (pieces)
        for (int t = 0; t < n; t++) free(pieces[t]);
    free(pieces);
    free(lens);
    free(eog);
    return gv;
}

void lexie_grammar_vocab_free(lexie_grammar_vocab *v) {
    if (!v) return;
    lx_gvocab_free(v->v);
    free(v);
}

int lexie_grammar_vocab_n_tokens(const lexie_grammar_vocab *v) { return v ? v->v->n_tokens : 0; }
