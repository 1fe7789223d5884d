/*
** tokenizer.h -- text <-> token ids from GGUF metadata.
**
** The vocabulary comes from tokenizer.ggml.* keys: the token strings, their
** types, BPE merges (byte-level BPE) or scores (SentencePiece), special-token
** ids and the pre-tokenizer name.  GGUF
** names the pre-tokenizer (tokenizer.ggml.pre) but does not store its split
** regexes, so pretok.c keeps a table keyed by that name and an unknown name
** is refused.
*/
#ifndef LX_TOKENIZER_H
#define LX_TOKENIZER_H

#include "base/base.h"
#include "gguf/gguf.h"

#include <stdint.h>

typedef struct lx_vocab lx_vocab;

/* Builds the vocabulary from g's metadata.  Copies what it keeps, so g may
** be closed afterwards. */
lx_vocab *lx_vocab_load(const lx_gguf *g, lexie_error *err);
void lx_vocab_free(lx_vocab *v);

int32_t lx_vocab_n_tokens(const lx_vocab *v);
int32_t lx_vocab_bos(const lx_vocab *v); /* -1 if none */
int32_t lx_vocab_eos(const lx_vocab *v); /* -1 if none */
int lx_vocab_add_bos(const lx_vocab *v); /* tokenizer.ggml.add_bos_token */
/* 1 for tokens that end generation (eos, eot, <|im_end|>, ...). */
int lx_vocab_is_eog(const lx_vocab *v, int32_t tok);
/* The raw token string as stored (e.g. "Ġthe"), NUL-terminated; NULL if
** tok is out of range. */
const char *lx_vocab_text(const lx_vocab *v, int32_t tok);
/* Token id of an exact stored string, or -1. */
int32_t lx_vocab_find(const lx_vocab *v, const char *text, size_t len);

/* Tokenizes text[0..len) (valid UTF-8, else LEXIE_E_UTF8).  add_bos puts
** the BOS token first when the vocabulary has one; parse_special turns
** special-token strings such as "<|im_start|>" in the text into their ids
** (otherwise they are tokenized as plain text).  Writes at most n_max ids;
** *n_out receives the full count, and LEXIE_E_RANGE is returned when
** n_max was too small. */
lexie_status lx_tokenize(const lx_vocab *v, const char *text, size_t len, int add_bos,
                         int parse_special, int32_t *out, int n_max, int *n_out, lexie_error *err);

/* lx_tokenize, except that inside the n_plain byte ranges plain (user text
** in a rendered chat; NULL when n_plain is 0) control and unknown tokens'
** text stays text even with parse_special.  LEXIE_E_INVALID for a range
** outside the text. */
lexie_status lx_tokenize_plain(const lx_vocab *v, const char *text, size_t len, int add_bos,
                               int parse_special, const lexie_span *plain, int n_plain,
                               int32_t *out, int n_max, int *n_out, lexie_error *err);

/* The bytes token tok stands for when detokenized (GPT-2's byte alphabet or
** SentencePiece's U+2581 space undone, <0xXX> byte tokens as their byte),
** written to buf (not NUL-terminated).  Returns the byte count, which may
** exceed n (then buf holds a prefix); -1 for an invalid id.  Special
** tokens render as their text when render_special, else as nothing. */
int lx_token_to_piece(const lx_vocab *v, int32_t tok, int render_special, char *buf, int n);

/* The text of ids[0..n_ids), as llama.cpp's llama_detokenize gives it
** (remove_special off): the pieces in order, except that a SentencePiece
** vocabulary with add_space_prefix drops one leading space from the first
** token's piece (the space tokenizing put there).  Writes at most n bytes
** (no NUL) and returns the full count, -1 for an invalid id or a text over
** INT_MAX bytes. */
int lx_detokenize(const lx_vocab *v, const int32_t *ids, int n_ids, int render_special, char *buf,
                  int n);

#endif /* LX_TOKENIZER_H */
