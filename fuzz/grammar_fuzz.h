/*
** grammar_fuzz.h -- what the two grammar fuzz targets (fuzz_gbnf.c,
** fuzz_json_schema.c) share: stubs for the model calls the grammar's API
** file refers to (never called: the vocabulary comes from raw pieces), a
** 260-token byte vocabulary, and the exercise of a compiled grammar (a
** matcher takes the input's own bytes and computes masks, so what the
** compiler accepts is also safe to run).  Included by exactly one target
** per binary.
*/
#ifndef LEXIE_GRAMMAR_FUZZ_H
#define LEXIE_GRAMMAR_FUZZ_H

#include "lexie.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Stubs for the model functions api.c refers to (never called here). */
int lexie_model_n_vocab(const lexie_model *m) { return m ? 0 : 0; }
int lexie_token_is_eog(const lexie_model *m, lexie_token t) { return m && t ? 0 : 0; }
int lexie_token_to_piece(const lexie_model *m, lexie_token t, char *buf, int n) {
    return m && t && buf && n ? 0 : 0;
}

static lexie_grammar_vocab *vocab(void) {
    static lexie_grammar_vocab *v;
    static char bytes[256];
    if (v) return v;
    const char *pieces[260];
    int lens[260];
    for (int i = 0; i < 256; i++) {
        bytes[i] = (char)i;
        pieces[i] = &bytes[i];
        lens[i] = 1;
    }
    pieces[256] = "\": \"";
    pieces[257] = "\", \"";
    pieces[258] = "true";
    pieces[259] = "";
    for (int i = 256; i < 260; i++) lens[i] = (int)strlen(pieces[i]);
    int eos = 259;
    v = lexie_grammar_vocab_from_pieces(260, pieces, lens, &eos, 1, NULL);
    return v;
}

/* Runs a matcher over the input's first 64 bytes, then frees g. */
static int exercise(lexie_grammar *g, const uint8_t *data, size_t size) {
    lexie_error e;
    if (!g) return 0;
    lexie_matcher *m = lexie_matcher_new(g, vocab(), &e);
    if (m) {
        uint32_t mask[(260 + 31) / 32];
        for (size_t i = 0; i < size && i < 64; i++) {
            lexie_matcher_fill_mask(m, mask, i % 7 == 3 ? (int)i : -1);
            if (!lexie_matcher_accept_token(m, data[i])) break;
        }
        lexie_matcher_close_bytes(m);
        lexie_matcher_free(m);
    }
    lexie_grammar_free(g);
    return 0;
}

#endif
