/*
** tok_impl.h -- what the tokenizer's files share inside src/tokenizer/:
** the vocabulary's layout, the pre-tokenizer, the token-text alphabets,
** the algorithms' entry points and the growable span lists they pass
** around.  Calls point one way: tokenize.c -> bpe.c, spm.c -> merge.c,
** special.c, pretok.c, vocab.c (-> pretok.c).
**
** Not part of tokenizer.h because no other module should depend on the
** layout.  Everything here is read-only after lx_vocab_load, so any number
** of threads may tokenize with one vocabulary; per-call state lives in an
** lx_tok_scratch owned by the caller of each function.
*/
#ifndef LX_TOK_IMPL_H
#define LX_TOK_IMPL_H

#include "tokenizer/tokenizer.h"

#include <stddef.h>
#include <stdint.h>

/* Token attributes, as llama.cpp derives them from tokenizer.ggml.token_type
** (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte). */
enum {
    LX_TOK_NORMAL = 1 << 0,
    LX_TOK_UNKNOWN = 1 << 1,
    LX_TOK_CONTROL = 1 << 2,
    LX_TOK_USER = 1 << 3,
    LX_TOK_UNUSED = 1 << 4,
    LX_TOK_BYTE = 1 << 5,
    LX_TOK_UNDEFINED = 1 << 6,
};

/* ==== Spans and growable lists ==== */

typedef struct lx_span {
    size_t off, len;
    int32_t tok; /* special-token fragments: the id; raw text: -1 */
} lx_span;

typedef struct lx_spans {
    lx_span *v;
    size_t n, cap;
} lx_spans;

lexie_status lx_spans_push(lx_spans *s, size_t off, size_t len, int32_t tok, lexie_error *err);

/* ==== Pre-tokenizer (pretok.c) ==== */

typedef struct lx_pretok lx_pretok;

/* Builds the pre-tokenizer named by tokenizer.ggml.pre (name[0..len)).  An
** unknown name is refused with LEXIE_E_UNSUPPORTED naming it. */
lx_pretok *lx_pretok_new(const char *name, size_t len, lexie_error *err);
void lx_pretok_free(lx_pretok *p);
const char *lx_pretok_name(const lx_pretok *p);
/* 1 when a word that is itself a token skips the merges (llama3 family). */
int lx_pretok_ignore_merges(const lx_pretok *p);
/* The add_bos default of this family when the file does not say. */
int lx_pretok_default_add_bos(const lx_pretok *p);

/* Splits text[0..len) (valid UTF-8) into words, appended to out as byte
** spans relative to text.  Each regex of the family splits the pieces the
** previous one left; text a regex does not match stays a piece of its own,
** as in llama.cpp.  tmp is scratch the caller keeps between calls. */
lexie_status lx_pretok_split(const lx_pretok *p, const char *text, size_t len, lx_spans *out,
                             lx_spans *tmp, lexie_error *err);

/* ==== Vocabulary ==== */

/* tokenizer.ggml.model: "gpt2" is byte-level BPE (bpe.c), "llama" is
** SentencePiece (spm.c). */
enum { LX_VOCAB_BPE = 0, LX_VOCAB_SPM = 1 };

struct lx_vocab {
    int32_t n_tokens;
    char *text_blob;     /* every token's stored text, each NUL-terminated */
    uint32_t *text_off;  /* (n_tokens) */
    uint32_t *text_len;  /* (n_tokens) */
    uint8_t *attr;       /* (n_tokens) LX_TOK_* bits */
    uint8_t *eog;        /* (n_tokens) 1 for end-of-generation tokens */
    char *piece_blob;    /* detokenized bytes of every token */
    uint32_t *piece_off; /* (n_tokens) */
    uint32_t *piece_len; /* (n_tokens) */

    /* token text -> id + 1 (0: empty slot); open addressing */
    uint32_t *tok_slots;
    uint32_t tok_mask;

    /* merges: "left right" strings, rank = index; (left, right) -> rank + 1 */
    int32_t n_merges;
    char *merge_blob;
    uint32_t *merge_off;  /* (n_merges) start of "left right" */
    uint16_t *merge_llen; /* (n_merges) */
    uint16_t *merge_rlen; /* (n_merges) */
    uint32_t *merge_slots;
    uint32_t merge_mask;

    int32_t bos, eos, unk, eot, eom, pad;
    int add_bos;

    /* control/user-defined/unknown tokens, longest text first */
    int32_t *special;
    int32_t n_special;

    lx_pretok *pre; /* BPE only; NULL for SentencePiece */
    int type;       /* LX_VOCAB_* */

    /* SentencePiece (LX_VOCAB_SPM) only */
    float *score;          /* (n_tokens) merge priority, higher first; NULL for BPE */
    int add_space_prefix;  /* ' ' before raw text at the start and after specials */
    uint32_t max_tok_len;  /* longest token text, in bytes */
    int32_t byte_tok[256]; /* byte fallback token of each byte, or -1 */
};

uint64_t lx_tok_hash(const char *s, size_t n, uint64_t h);
#define LX_TOK_HASH_SEED 0xcbf29ce484222325ull

/* GPT-2's reversible map from bytes to printable code points: bytes that
** print as themselves ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) keep their value;
** the other 68 take 256, 257, ... in byte order.  Token strings are stored
** in this alphabet ("\xc4\xa0the" is " the"). */
uint32_t lx_vocab_byte_to_cp(uint8_t b);
/* The byte a code point stands for, or -1 if it is not in the alphabet. */
int lx_vocab_cp_to_byte(uint32_t cp);

/* Writes the detokenized bytes of a normal SentencePiece token's text
** t[0..n) to out: U+2581 (lower one eighth block, SentencePiece's space)
** becomes ' '.  Returns the byte count (<= n). */
uint32_t lx_vocab_spm_unescape(const char *t, uint32_t n, char *out);

/* Rank of merging left with right, or -1. */
int32_t lx_vocab_merge_rank(const lx_vocab *v, const char *l, size_t ln, const char *r, size_t rn);

/* Where control and unknown tokens' text becomes those tokens: nowhere
** (parse 0), everywhere (parse 1 and no plain ranges), or everywhere but
** inside the plain ranges (sorted byte ranges of user text in a rendered
** chat: a match touching one stays text). */
typedef struct lx_special_mode {
    int parse;
    const lexie_span *plain;
    int n_plain;
} lx_special_mode;

/* Splits text into raw-text and special-token fragments the way llama.cpp
** does: each special token, longest first, is searched in the raw
** fragments left by the previous ones.  Control and unknown tokens take
** part as sm says; user-defined ones always do. */
lexie_status lx_special_partition(const lx_vocab *v, const char *text, size_t len,
                                  const lx_special_mode *sm, lx_spans *out, lx_spans *tmp,
                                  lexie_error *err);

/* ==== Token output shared by the algorithms ==== */

/* Where an algorithm appends ids: the first n_max land in ids, n counts
** them all, so the caller learns the size a short buffer needed. */
typedef struct lx_tok_out {
    int32_t *ids;
    int64_t n_max, n;
} lx_tok_out;

static inline void lx_tok_out_push(lx_tok_out *o, int32_t id) {
    if (o->n < o->n_max) o->ids[o->n] = id;
    o->n++;
}

/* ==== The merge loop (merge.c) ==== */

/* A symbol of a word being merged: bytes [start, start + n) of the
** caller's encoded text, in a doubly linked list (-1 at the ends).  A
** symbol merged into its left neighbour keeps n = 0. */
typedef struct lx_sym {
    int32_t start, n;
    int32_t prev, next;
} lx_sym;

/* A candidate: merge symbols left and right (adjacent), worth key (higher
** first; ties: leftmost first).  ln and rn are the symbols' lengths when
** queued: if either has changed since, the entry is stale. */
typedef struct lx_merge {
    double key; /* exact for an int32 rank and for a float score */
    int32_t left, right;
    int32_t ln, rn;
} lx_merge;

typedef struct lx_merge_heap {
    lx_merge *v;
    size_t n, cap;
} lx_merge_heap;

/* Called for adjacent symbols l < r (both >= 0): pushes a candidate with
** lx_merge_push if the pair may merge. */
typedef void (*lx_merge_try)(void *ctx, int32_t l, int32_t r);

/* Queues a candidate; only from an lx_merge_try during lx_merge_all, which
** has made room. */
void lx_merge_push(lx_merge_heap *h, lx_merge m);

/* Merges syms[0..n_syms) (linked in order) best pair first until no
** candidate is left.  h is scratch the caller keeps between calls and
** frees (h->v); LEXIE_E_NOMEM (no message) when it cannot grow. */
lexie_status lx_merge_all(lx_merge_heap *h, lx_sym *syms, int32_t n_syms, lx_merge_try try_pair,
                          void *ctx);

/* ==== Algorithms, called by tokenize.c ==== */

/* Byte-level BPE (bpe.c) and SentencePiece (spm.c): append the ids of
** text[0..len) to o, BOS excluded.  tokenize.c has checked the arguments
** (text is valid UTF-8). */
lexie_status lx_bpe_tokenize(const lx_vocab *v, const char *text, size_t len,
                             const lx_special_mode *sm, lx_tok_out *o, lexie_error *err);
lexie_status lx_spm_tokenize(const lx_vocab *v, const char *text, size_t len,
                             const lx_special_mode *sm, lx_tok_out *o, lexie_error *err);

#endif /* LX_TOK_IMPL_H */
