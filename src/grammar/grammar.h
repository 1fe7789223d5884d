/*
** grammar.h -- the constrained-decoding engine's internals: a byte-level
** context-free grammar (the IR every front end compiles to), the token
** trie of a vocabulary, and the matcher that walks one with the other.
**
** The IR is a set of rules; each rule is a list of alternatives, and an
** alternative is a sequence of elements in one flat array, ended by END.
** An element is a byte set (one input byte from a 256-bit set) or a call
** of a rule.  Front ends (JSON Schema, GBNF, regexes) only build rules;
** the matcher runs a pushdown automaton over the IR directly: a state is a
** set of stacks, a stack being the position of the next byte-set element
** plus a chain of return positions (hash-consed frames, so equal stacks
** have equal ids).  Calls in tail position push nothing, so right-
** recursive repetition runs in constant stack depth.  Left recursion (a
** rule reaching itself without consuming a byte) is refused when the
** grammar is finished.
**
** Byte sets and whole strings are bytes, so multi-byte UTF-8 characters
** are sequences of byte sets, and a token may end in the middle of one.
*/
#ifndef LX_GRAMMAR_H
#define LX_GRAMMAR_H

#include "base/base.h"

#include <stddef.h>
#include <stdint.h>

/* ==== Elements ==== */

/* An element is an int32: kind in the low 2 bits, argument above. */
enum { LX_EL_END = 0, LX_EL_SET = 1, LX_EL_RULE = 2 };
/* Most entries in any of the IR's arrays (elements, sets, rules,
** alternatives, chains, ranges): indices stay ints and an element's
** argument fits its 30 bits. */
#define LX_GRAM_MAX_N (1 << 29)
#define LX_EL(kind, arg) ((int32_t)(((uint32_t)(arg) << 2) | (uint32_t)(kind)))
#define LX_EL_KIND(e) ((int)((uint32_t)(e)&3u))
#define LX_EL_ARG(e) ((int32_t)((uint32_t)(e) >> 2))

/* 256 bits, one per byte value. */
typedef struct lx_bset {
    uint64_t w[4];
} lx_bset;

static inline int lx_bset_has(const lx_bset *s, unsigned b) {
    return (s->w[b >> 6] >> (b & 63)) & 1;
}
static inline void lx_bset_add(lx_bset *s, unsigned b) { s->w[b >> 6] |= 1ull << (b & 63); }
void lx_bset_range(lx_bset *s, unsigned lo, unsigned hi);

/* A growing sequence of elements that a front end assembles before adding
** it as an alternative.  Start zeroed; free with lx_seq_free. */
typedef struct lx_seq {
    int32_t *e;
    int n;
    size_t cap;
    int oom;
} lx_seq;

void lx_seq_free(lx_seq *s);
void lx_seq_push(lx_seq *s, int32_t el);
void lx_seq_cat(lx_seq *s, const lx_seq *t);

/* ==== Grammar (IR) ==== */

typedef struct lx_gram {
    int32_t *el; /* [n_el] the alternatives' elements, each run ended by END */
    int n_el;
    size_t cap_el;
    lx_bset *sets; /* [n_sets] */
    int n_sets;
    size_t cap_sets;
    int32_t *set_hash; /* [hash_cap] set index + 1, 0 empty: interning */
    int hash_cap;
    /* rules: alternatives as linked lists so rules can gain alternatives
    ** while others are being built (recursion through $ref) */
    int32_t *rule_first, *rule_last; /* [n_rules] first/last alt, -1 none */
    char **rule_name;                /* [n_rules] for messages; may be NULL */
    int n_rules;
    size_t cap_rules;
    int32_t *alt_start, *alt_next; /* [n_alts] */
    int n_alts;
    size_t cap_alts;
    int root; /* the start rule */
    int oom;
    /* counted repetitions x{lo,hi} (lx_gram_repeat), so a matcher can treat
    ** positions far from both bounds as one: [n_chains] each */
    int32_t *ch_pos;       /* first element of the lo required copies */
    int32_t *ch_lo;        /* lo */
    int32_t *ch_opt_first; /* rule of the last optional copy (opt_1), -1 none */
    int32_t *ch_n_opt;     /* hi - lo */
    int n_chains;
    size_t cap_chains;
    /* filled by lx_gram_finish: */
    uint8_t *nullable;   /* [n_rules] */
    int32_t *min_close;  /* [n_el] fewest bytes from element i to its END */
    int32_t *rule_min;   /* [n_rules] fewest bytes a rule derives */
    int32_t *canon;      /* [n_rules] position of a [RULE r, END] pair: "call r, then return" */
    lx_bset *first_alt;  /* [n_alts] bytes that can start a non-empty derivation */
    lx_bset *first_rule; /* [n_rules] */
    /* rules with many alternatives: the alternatives each byte can start,
    ** disp_alt[disp_off[disp[r] + b] .. disp_off[disp[r] + b + 1]); disp[r] -1 if none */
    int32_t *disp, *disp_off, *disp_alt;
    /* closed rules (lx_gram_mark_any): (rule, owner) pairs; at finish
    ** any_pos[canon[rule]] = owner + 1 for a trailing any-character loop
    ** of regex rule owner, else owner (-1 plain-closed, -2 text-closed,
    ** -3 - k a text-chain link with k characters left), 0 unmarked (NULL
    ** when none).  A stack at a closed rule survives every plain byte
    ** (every text character when text-closed or trailing) and stands at
    ** such a position again; a trailing loop also takes every string the
    ** rest of its regex could, so the matcher drops those. */
    int32_t (*any)[2];
    int n_any;
    size_t cap_any;
    int32_t *any_pos; /* [n_el] */
    int finished;
} lx_gram;

lx_gram *lx_gram_new(lexie_error *err);
void lx_gram_free(lx_gram *g);
/* A new rule with no alternatives (a rule without any matches nothing).
** name is copied (may be NULL).  Returns its id, or -1 on allocation
** failure (g->oom is then set). */
int lx_gram_rule(lx_gram *g, const char *name);
/* Adds seq as one more alternative of rule r. */
void lx_gram_alt(lx_gram *g, int r, const lx_seq *seq);
/* The index of byte set s (interned: equal sets share one index). */
int32_t lx_gram_set(lx_gram *g, const lx_bset *s);
/* Element for one byte, a byte range, or a rule call. */
int32_t lx_gram_byte(lx_gram *g, unsigned b);
int32_t lx_gram_range(lx_gram *g, unsigned lo, unsigned hi);
static inline int32_t lx_gram_call(int r) { return LX_EL(LX_EL_RULE, r); }
/* Appends the bytes of s[0..n) to seq as single-byte elements. */
void lx_gram_lit(lx_gram *g, lx_seq *seq, const char *s, size_t n);
/* A rule that matches the empty string only. */
int lx_gram_empty(lx_gram *g);
/* Rule matching x{lo,hi} for rule x (hi < 0: unbounded).  x must not be
** nullable when hi is unbounded (left recursion otherwise). */
int lx_gram_repeat(lx_gram *g, int x, int lo, int hi);
/* Marks rule r closed.  owner -1, plain-closed: a call of r (its
** canonical position) takes every plain byte (printable ASCII but " and
** \) and then again stands at a call of a plain-closed rule.  -2,
** text-closed: the same for every character a JSON string holds raw (not
** a control, " or \), landing on a text-closed call.  -3 - k (k >= 0), a
** text-chain link: the runs of JSON string characters (raw as above, or
** escaped) that a call of r can begin are those of at most k characters.  owner >= 0:
** text-closed, and r is a loop over every JSON string character (raw or
** escaped) that ends an alternative of regex rule owner in tail position. */
void lx_gram_mark_any(lx_gram *g, int r, int owner);

/* Checks and indexes the grammar: LEXIE_E_NOMEM, or LEXIE_E_FORMAT when
** a rule can reach itself without consuming input (naming it), and fills
** nullable / min_close / first sets, and appends one canonical call
** position per rule.  The grammar is then read-only. */
lexie_status lx_gram_finish(lx_gram *g, lexie_error *err);

/* ==== Character classes (cclass.c) ==== */

/* A set of code points as ranges; start zeroed. */
typedef struct lx_cps {
    uint32_t (*r)[2];
    int n;
    size_t cap;
    int oom;
} lx_cps;

void lx_cps_free(lx_cps *s);
void lx_cps_add(lx_cps *s, uint32_t lo, uint32_t hi);
/* Sorts and merges the ranges. */
void lx_cps_norm(lx_cps *s);
/* The complement within 0..10FFFF (normalised). */
void lx_cps_negate(lx_cps *s);
int lx_cps_has(const lx_cps *s, uint32_t c);
/* A rule matching the UTF-8 encoding of one code point of s (normalised). */
int lx_gram_cps(lx_gram *g, const lx_cps *s);
/* Writes c as UTF-8 to out (4 bytes room); returns the length. */
int lx_utf8_put(uint32_t c, unsigned char *out);

/* ==== Front ends ==== */

/* Compiles regex pattern[0..n) (ECMA-262 syntax as JSON Schema uses it, no
** lookaround or backreferences) into a rule over JSON string *contents*:
** each character is matched as it may appear inside a JSON string (raw,
** or escaped where JSON requires it).  Unanchored ends match anything, as
** JSON Schema's "pattern" does.  min_len and max_len get the lengths in
** characters the regex allows (max -1: unbounded).  Returns the rule, or
** -1 with err filled (LEXIE_E_UNSUPPORTED for a construct not handled).
** Its unanchored ends are marked any-character loops (lx_gram_mark_any);
** callers place the rule between two '"' elements (the matcher checks
** that before it relies on it). */
int lx_regex_compile(lx_gram *g, const char *pattern, size_t n, int *min_len, int *max_len,
                     lexie_error *err);

/* Whole-string checks against a rule of a grammar still being built (for
** enum values, property names against patterns).  Compile time only. */
typedef struct lx_checker lx_checker;
lx_checker *lx_checker_new(const lx_gram *g, lexie_error *err);
void lx_checker_free(lx_checker *c);
/* 1 when rule derives exactly s[0..n). */
int lx_checker_accepts(lx_checker *c, int rule, const char *s, size_t n);

/* Wraps a built IR as a public grammar (finishing it); frees g on error. */
lexie_grammar *lx_grammar_wrap(lx_gram *g, lexie_error *err);

/* ==== Token trie ==== */

/* The vocabulary as a trie of token byte strings in depth-first order:
** node i has byte[i], its subtree ends before node skip[i], and tok[i] is
** the first token whose bytes end there (-1 none; more in tok_next[]).
** Tokens with no bytes (control tokens) are left out of the trie; eog[]
** lists the end-of-generation tokens, allowed only where the grammar may
** end. */
typedef struct lx_trie {
    int32_t n_nodes;
    uint8_t *byte;       /* [n_nodes] */
    uint16_t *depth;     /* [n_nodes] 1-based depth */
    int32_t *skip;       /* [n_nodes] */
    int32_t *tok;        /* [n_nodes] */
    uint8_t *desc_plain; /* [n_nodes] 1 when every byte below node i is plain */
    /* sfx[sfx_off[i] .. sfx_off[i + 1]): the tokens below node i (itself
    ** included) whose bytes after node i are all plain: in a state that
    ** plain bytes map to itself, all of them are allowed at once */
    int32_t *sfx_off; /* [n_nodes + 1] */
    int32_t *sfx;
} lx_trie;

/* Tries: all tokens, all but the "plain" ones (printable ASCII other than
** " and \), which a string body takes unchanged: in a state that every
** run of plain bytes leaves alive, the plain tokens are allowed as a
** block and only the rest trie is walked; and all but the text ones, for
** states holding a text-closed loop (grammar.h, lx_gram_mark_any). */
#define LX_SHORT 16 /* tokens this long or shorter cannot see far repetition bounds */

typedef struct lx_gvocab {
    int32_t n_tokens;
    lx_trie full, rest, longt; /* longt: tokens over LX_SHORT bytes */
    lx_trie rest_text;         /* all but the text tokens */
    uint32_t *plain;           /* [(n_tokens + 31) / 32] bitset of plain tokens */
    /* [(n_tokens + 31) / 32] text tokens: whole UTF-8 characters, each
    ** plain or not ASCII (a superset of plain), which any loop over every
    ** string character takes as a block */
    uint32_t *text;
    /* plain_le + k * words: the plain tokens of at most k bytes, k = 0 ..
    ** max_plain (the longest plain token), words = (n_tokens + 31) / 32 */
    uint32_t *plain_le;
    int max_plain;
    uint32_t *text_le; /* the same for text tokens of at most k characters */
    int max_text;
    uint32_t *shortm; /* [(n_tokens + 31) / 32] tokens of 1..LX_SHORT bytes, and EOG */
    int32_t n_plain;
    int32_t *tok_next; /* [n_tokens] next token with the same bytes, -1 none */
    int32_t *eog;      /* [n_eog] */
    int n_eog;
    char **piece;       /* [n_tokens] bytes of each token (NULL: no bytes) */
    int32_t *piece_len; /* [n_tokens] */
    int max_len;        /* longest piece in bytes */
} lx_gvocab;

/* Builds the trie from n_tokens pieces (pieces[t] of lens[t] bytes; 0
** bytes: never allowed) and the end-of-generation ids eog[0..n_eog).
** Copies what it keeps. */
lx_gvocab *lx_gvocab_build(int32_t n_tokens, const char *const *pieces, const int32_t *lens,
                           const int32_t *eog, int n_eog, lexie_error *err);
void lx_gvocab_free(lx_gvocab *v);

/* Tests only: on, the matcher keeps every stack (no any-loop pruning) and
** computes masks by the plain walk of the full trie, with none of the
** shortcuts (caches, plain blocks, length buckets, normalisation): the
** reference the fast path must equal.  Set it before committing. */
void lx_matcher_set_exact(lexie_matcher *m, int on);

/* ==== Public objects ==== */

struct lexie_grammar {
    lx_gram *g;
};

struct lexie_grammar_vocab {
    lx_gvocab *v;
};

#endif /* LX_GRAMMAR_H */
