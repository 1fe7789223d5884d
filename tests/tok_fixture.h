/*
** tok_fixture.h -- the token-id fixtures shared by the tokenizer suites
** (test_tokenizer.c: SmolLM2 BPE; test_spm.c: Gemma 3 SentencePiece).
**
** tests/data/<name>.tsv, written by the tests/data/tokenizer_*.py
** generators from llama.cpp's ids, holds one case a line:
**
**   <text as a JSON string> TAB <id> <id> ...
**
** Lines starting with '#' are comments, except "#parse_special=N" and
** "#add_bos=N", which set that mode for the lines below them (defaults:
** parse_special 1, add_bos 0).  LEXIE_TEST_DATA replaces tests/data.
*/
#ifndef TOK_FIXTURE_H
#define TOK_FIXTURE_H

#include "lx_test.h"

#include <stddef.h>
#include <stdint.h>

/* One case of a fixture file. */
typedef struct tf_line {
    char *text; /* decoded bytes (not NUL-terminated), owned */
    size_t len;
    int add_bos, parse_special; /* the modes in force for this line */
    int lineno;                 /* 1-based line in the file, for messages */
    int n_ids;
    int32_t *ids; /* llama.cpp's ids, owned */
} tf_line;

/* Reads tests/data/<name> into *out (malloc'd; free with tf_free) and
** returns the number of cases.  A missing file or a malformed line is
** recorded as a failure; the cases read before it are kept. */
int tf_load(lx_t *t, const char *name, tf_line **out);

/* Frees the n cases of v; tf_free(NULL, 0) is a no-op. */
void tf_free(tf_line *v, int n);

#endif
