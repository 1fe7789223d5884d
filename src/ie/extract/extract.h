/*
** extract.h -- ADELIE's extraction tasks (lexie.h: lexie_extractor,
** lexie_ask).  Three steps per document, one file each:
**   prompt.c  the task's instruction and the JSON Schema its answer must
**             fit (types, roles and labels as enums), both overridable;
**   answer.c  the answer, which the grammar guarantees parses, read into
**             a lexie_extraction: every span grounded in the document
**             (ie/ground.c), confidences from the token probabilities;
**   extract.c the extractor: chunks, batches of documents decoded
**             together under the grammar, merging, and relations by
**             QA4RE over the entities found.
** table.c answers an on-demand instruction with a table.
*/
#ifndef LX_IE_EXTRACT_H
#define LX_IE_EXTRACT_H

#include "decode/decode.h"
#include "ie/ie.h"

/* Names the wording of prompts and answer schemas and how answers are
** read; part of evaluation configuration hashes, so predictions of other
** versions never mix.  Bump it with any change to prompt.c's text or to
** what an answer becomes (2: duplicates merged in every document). */
#define LX_EXTRACT_PROMPT_VERSION "extract-2"

/* The instruction for a task (the user turn before the text) and the
** answer's JSON Schema, malloc'd.  p's instruction, when given, replaces
** the default one ({types} in it is replaced by the type list). */
lexie_status lx_extract_instruction(const lx_ie_schema *s, const lexie_extract_params *p,
                                    char **out, lexie_error *err);
lexie_status lx_extract_answer_schema(const lx_ie_schema *s, const lexie_extract_params *p,
                                      char **out, lexie_error *err);
/* The user turn: the instruction, then the document (so the instruction
** is a prefix every document shares).  malloc'd. */
char *lx_extract_user_turn(const char *instruction, const char *text, lexie_error *err);

/* A JSON answer rewritten as the answer grammar writes JSON (", " and
** ": " separators, no other whitespace), malloc'd; LEXIE_E_FORMAT when it
** is not JSON. */
lexie_status lx_extract_answer_normalize(const char *answer, char **out, lexie_error *err);

/* What an answer is read against: the document (or chunk) text, its
** offset in the whole document, grounding options. */
typedef struct lx_answer_ctx {
    const char *text; /* the piece the model saw */
    size_t len;
    long byte_off; /* the piece's offset in the document */
    int cp_off;
    float fuzzy_min;
} lx_answer_ctx;

/* Reads a generated answer (JSON of the task's shape; the grammar makes it
** parse) into x, appending to what x holds.  Each item's confidence is the
** lowest probability among the tokens that wrote it (a->prob, a->end).  A
** span not found in the text keeps model_text with match NONE. */
lexie_status lx_extract_read_answer(const lx_answer_ctx *ac, const lx_gen_answer *a,
                                    lexie_extraction *x, lexie_error *err);

#endif
