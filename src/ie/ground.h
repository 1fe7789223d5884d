/*
** ground.h -- grounding the spans a model writes back to the exact
** characters of the input (ground.c), and cutting a long document into
** overlapping chunks whose results are mapped back and de-duplicated
** (chunk.c).  The extraction tasks (ie/extract/) promise that every span
** they print points at the input's own characters, or is flagged: this is
** where that promise is kept.
**
** Internal API (lx_ names); nothing here is public.
*/
#ifndef LX_GROUND_H
#define LX_GROUND_H

#include "base/base.h"

/* ==== Grounding (ground.c) ====
**
** A grounder is built once over a document and answers, for each string the
** model wrote (the "needle"), where in the document it is.
**
** The needle.  Leading and trailing Unicode whitespace is ignored, and so
** is one pair of quotes around it ("..", '..', “..”, ‘..’, «..», 「..」,
** 『..』).  What is left is the trimmed needle.  An empty trimmed needle
** is never found (match NONE).
**
** Normalised means: the text is cut into extended grapheme clusters
** (UAX #29, so a letter keeps its combining marks and an emoji its ZWJ
** sequence); each cluster is mapped through NFKC with Unicode case folding
** and default-ignorable code points removed (utf8proc's NFKC_Casefold
** options); every run of whitespace clusters (Unicode White_Space: tab,
** newlines, Zs, Zl, Zp, U+0085) becomes one U+0020.  Each normalised code
** point remembers the original cluster (or whitespace run) it came from,
** so a normalised span maps back to whole original clusters.  The needle
** is normalised the same way.
**
** The order of the search:
**   1. EXACT: the trimmed needle's bytes occur in the text, starting and
**      ending on grapheme cluster boundaries ("e" is not found inside a
**      decomposed "é").  match_score 1.
**   2. NORMALIZED: the normalised needle occurs in the normalised text,
**      starting and ending on whole clusters.  match_score 1.
**   3. FUZZY: Sellers' semi-global alignment (edit distance over
**      normalised code points, free start and end in the text) finds the
**      substrings closest to the normalised needle; each is widened to
**      whole clusters and its ends snapped to word boundaries where that
**      does not lower the score.  score = 1 - distance / len, where len is
**      the normalised needle's length in code points and distance is the
**      Levenshtein distance between the normalised needle and the
**      normalised view of the final span (clamped to 0).  Accepted when
**      score >= fuzzy_min.  Bounded: needles longer than fuzzy_max_needle
**      normalised code points, or text x needle over fuzzy_max_cells DP
**      cells, skip this step (match NONE), so one call stays cheap.
**   4. NONE: offsets -1, text NULL, model_text = the needle.
**
** Which occurrence.  The grounder remembers every span it handed out (its
** claims).  Among all exact and normalised occurrences it prefers, in this
** order: one not yet claimed; one on word boundaries on both sides (so
** "Paris" is found as the word before the inside of "Parisian"; scripts
** written without spaces, such as Han and kana, have a boundary at every
** character); an exact one over a normalised one; the first in text order
** counting from `from_cp` (lx_ground_from; then wrapping to the text's
** start).  So "Paris ... Paris" listed twice maps to both, and when all
** occurrences are claimed the first is returned again (the caller
** de-duplicates).  Fuzzy candidates are ranked by score first, then the
** same way.  Overlapping spans are fine: "York" may be grounded inside a
** claimed "New York".  Only the exact same (start, end) counts as claimed.
**
** Threads: a grounder is used by one thread at a time (claims and scratch
** change); different grounders share nothing. */

typedef struct lx_grounder lx_grounder;

typedef struct lx_ground_params {
    float fuzzy_min;           /* accept fuzzy at score >= this; 0: 0.8; > 1: never */
    int fuzzy_max_needle;      /* normalised code points; 0: 512; < 0: no fuzzy step */
    long long fuzzy_max_cells; /* normalised text x needle; 0: 2^26 (0.35 s measured
                               ** for 64 x 1 Mi cells on a shared -O2 core) */
} lx_ground_params;

lx_ground_params lx_ground_default_params(void);

/* A grounder over text[0..len), which must be valid UTF-8 (LEXIE_E_UTF8
** names the offset) of at most INT_MAX bytes (LEXIE_E_RANGE).  The text is
** copied; p may be NULL (defaults).  Errors also: LEXIE_E_INVALID (text
** NULL with len > 0), LEXIE_E_NOMEM, LEXIE_E_INTERNAL (utf8proc refused a
** code point).  Returns NULL on error. */
lx_grounder *lx_grounder_new(const char *text, size_t len, const lx_ground_params *p,
                             lexie_error *err);
/* Frees g (NULL: no-op). */
void lx_grounder_free(lx_grounder *g);
/* Forgets every claim: the next call grounds as if it were the first. */
void lx_grounder_reset_claims(lx_grounder *g);
/* Code points in the text. */
int lx_grounder_n_cp(const lx_grounder *g);

/* Grounds needle[0..n) (UTF-8, not NUL-terminated) and fills out's text,
** model_text, start, end, byte_start, byte_end, match and match_score;
** out->type and out->confidence are left as they are, and out's previous
** text and model_text are overwritten, not freed (pass them NULL).
**
** With offsets (match != NONE): text = the input's own slice, malloc'd;
** start/end in code points (end exclusive), byte_start/byte_end in bytes;
** model_text = a malloc'd copy of the needle as given when the trimmed
** needle differs from the slice, else NULL.  The span is claimed.  With
** match NONE: offsets -1, text NULL, model_text = copy of the needle.
**
** Errors: LEXIE_E_INVALID (g or out NULL, needle NULL with n > 0),
** LEXIE_E_UTF8 (the needle is not valid UTF-8), LEXIE_E_NOMEM; out then
** holds match NONE with no strings (text and model_text NULL). */
lexie_status lx_ground(lx_grounder *g, const char *needle, size_t n, lexie_mention *out,
                       lexie_error *err);
/* The same, with occurrences ranked in text order from code point
** from_cp on, then wrapping around to those before it (clamped to
** [0, n_cp]): the extractor grounds an event's arguments from their
** trigger's start, or a chunk's mentions from the chunk's start. */
lexie_status lx_ground_from(lx_grounder *g, const char *needle, size_t n, int from_cp,
                            lexie_mention *out, lexie_error *err);

/* ==== Chunks (chunk.c) ====
**
** A document longer than the context is cut into chunks of whole
** sentences, each at most max_tokens tokens, consecutive chunks sharing
** `overlap` sentences, so that an entity cut by one chunk's end is whole
** in the next.
**
** Sentences end after '.', '!', '?' (runs of them, then closing quotes or
** brackets) followed by whitespace or the end, after '。', '！', '？'
** (no whitespace needed), and at every newline.  A '.' does not end a
** sentence after a common abbreviation ("Dr.", "e.g.", "etc." ...), after
** a dotted abbreviation ("U.S.", "Ph.D.": segments of at most two
** letters), after a single capital (an initial), or when the next word
** starts with a lowercase letter; a decimal point is never followed by
** whitespace, so it never ends one.  Each sentence keeps the whitespace
** after it: the sentences tile the text.
**
** A sentence longer than max_tokens is cut at whitespace into pieces that
** fit, and a word that alone exceeds max_tokens is cut between code
** points; such pieces count as sentences for the overlap.  Nothing is ever
** dropped: the chunks' union is the whole text. */

/* Where the sentence that starts at byte `from` of text[0..len) (valid
** UTF-8) ends: the byte where the next one starts (its trailing
** whitespace included), or len. */
size_t lx_sentence_next(const char *text, size_t len, size_t from);

typedef struct lx_chunk {
    size_t byte_start, byte_end; /* bytes of the document, end exclusive */
    int cp_start, cp_end;        /* the same in code points */
    int n_tokens;                /* count_fn of text[byte_start..byte_end) */
} lx_chunk;

/* Tokens in s[0..n) (a model's tokenizer, or a stand-in in tests); -1
** with err filled on failure. */
typedef int (*lx_token_count_fn)(const char *s, size_t n, void *user, lexie_error *err);

/* Plans the chunks of text[0..len) (valid UTF-8, at most INT_MAX bytes).
** max_tokens >= 1; overlap >= 0 sentences (a chunk always starts past the
** previous chunk's start, so overlap only shrinks when a chunk holds fewer
** sentences than it).  A text within max_tokens gives one chunk; an empty
** text one empty chunk.  *out (malloc'd, free with free()) gets *n
** chunks in text order.  Errors: LEXIE_E_INVALID (a NULL argument,
** max_tokens < 1, overlap < 0), LEXIE_E_UTF8, LEXIE_E_RANGE (a single code
** point counts more than max_tokens tokens, or the text is over INT_MAX
** bytes), LEXIE_E_NOMEM, and whatever count_fn reports.  *out is NULL and
** *n 0 on error. */
lexie_status lx_chunk_plan(const char *text, size_t len, int max_tokens, int overlap,
                           lx_token_count_fn count_fn, void *user, lx_chunk **out, int *n,
                           lexie_error *err);

/* ==== Merging chunk results (chunk.c) ==== */

/* Moves a chunk-relative mention to document offsets: adds dbytes and dcp
** (a chunk's byte_start and cp_start) to its offsets; a NONE mention
** (start < 0) is left as it is. */
void lx_mention_shift(lexie_mention *m, long dbytes, int dcp);

/* A generic in-place de-duplication, for mentions, events, triples and
** relations alike.  cmp orders the items' keys (0: duplicates); better(a,
** b) is 1 when a should be kept over b (ties keep the earlier); clear frees
** what an item holds.  Of each group of duplicates one survives, the best,
** at the position of the group's first item, so the order of first
** appearance is kept; the others are cleared.  *n gets the new count.
** remap (may be NULL, room for the old *n) gets for each old index the new
** index of its survivor: relations that index entities are remapped with
** it.  Errors: LEXIE_E_NOMEM (nothing changed), LEXIE_E_INVALID. */
typedef struct lx_dedupe_ops {
    size_t size; /* bytes of one item */
    int (*cmp)(const void *a, const void *b);
    int (*better)(const void *a, const void *b);
    void (*clear)(void *item); /* may be NULL */
} lx_dedupe_ops;

lexie_status lx_dedupe(void *items, int *n, const lx_dedupe_ops *ops, int *remap, lexie_error *err);

/* The mention key: type (NULL as ""), then a grounded mention by (start,
** end), a NONE one by model_text (NONE after grounded).  Exposed so other
** keys (events, triples) can build on it. */
int lx_mention_key_cmp(const lexie_mention *a, const lexie_mention *b);

/* Mentions: same type and span (or NONE with the same model_text) are
** one; the one kept has the highest confidence, then the better match. */
lexie_status lx_mentions_dedupe(lexie_mention *ms, int *n, int *remap, lexie_error *err);
/* Triples: the same subject, relation and object spans (mention keys,
** slot types ignored; time and place ignored) are one; highest confidence
** kept. */
lexie_status lx_triples_dedupe(lexie_triple *ts, int *n, lexie_error *err);
/* Events: the same trigger (type and span) and the same arguments (role
** and span, in order) are one; highest confidence kept. */
lexie_status lx_events_dedupe(lexie_event *es, int *n, lexie_error *err);
/* Relations: the same (head, tail, label) are one (apply the entities'
** remap first); highest confidence kept. */
lexie_status lx_relations_dedupe(lexie_relation *rs, int *n, lexie_error *err);

#endif /* LX_GROUND_H */
