/*
** re.h -- relation extraction: prompt rendering (QA4RE multiple choice and
** the vanilla "classify the relationship" baseline, prompt.c) and the
** relation classifier that asks the engine for the option letters
** (classify.c, backend.c).
**
** The classifier talks to the model through lx_re_backend, a small table of
** functions (chat rendering, tokenizing, restricted next-token
** distribution, continuation scoring, generation).  The real one wraps a
** lexie_ctx; tests plug in a fake one with a toy tokenizer, so letter
** mapping, multi-token letters and answer parsing are tested without a
** model.
*/
#ifndef LX_IE_RE_H
#define LX_IE_RE_H

#include "ie/ie.h"

/* ==== Prompts ==== */

/* Names the wording of the prompts below; part of every evaluation's
** configuration hash, so changing the words never reuses stale
** predictions.  Bump it with any change to prompt.c's text. */
#define LX_RE_PROMPT_VERSION "prompt-1"

typedef lexie_re_method lx_re_method;
#define LX_RE_QA4RE LEXIE_RE_QA4RE
#define LX_RE_VANILLA LEXIE_RE_VANILLA
#define LX_RE_COMPACT LEXIE_RE_COMPACT

/* One example as the prompt code sees it (the public struct): the text and
** the two entity spans in code points, end exclusive. */
typedef lexie_re_example lx_re_input;

/* Option letters: A .. Z, then AA, AB, ... (bijective base 26).  buf needs
** 8 bytes. */
void lx_re_letter(int i, char *buf);

/* The user-turn text for one example.  QA4RE: opts[0..n_opts) are label
** indices in the order they are offered (the none label last, usually).
** Vanilla: the whole label list is offered; opts is ignored.  Compact:
** vanilla without the label list.  mark: put
** [brackets] around the entities in the sentence (and in QA4RE options).
** *out is malloc'd.  LEXIE_E_INVALID for spans outside the text. */
lexie_status lx_re_render_turn(const lx_re_schema *s, lx_re_method m, const lx_re_input *in,
                               const int *opts, int n_opts, int mark, char **out, lexie_error *err);
/* The text of one option: the relation's first template (or the none
** template) filled with the two mentions.  *out is malloc'd. */
lexie_status lx_re_render_option(const lx_re_schema *s, int label, const char *subj,
                                 const char *obj, int mark, char **out, lexie_error *err);
/* Copies the code-point span [start, end) of text into a malloc'd string;
** NULL (with err) when the span is out of range or text is bad UTF-8. */
char *lx_re_span(const char *text, int start, int end, lexie_error *err);

/* ==== Backend ==== */

/* What the classifier needs from a model.  Every function returns a
** status and fills err.  Token arrays written to *out are malloc'd. */
typedef struct lx_re_backend {
    void *user;
    /* Renders a chat: msgs alternate user/assistant; gen_prompt appends
    ** the assistant opening.  *spans (malloc'd; spans and n_spans may be
    ** NULL) gets the byte ranges of *out that are message text. */
    lexie_status (*chat)(void *user, const lexie_chat_msg *msgs, int n, int gen_prompt, char **out,
                         lexie_span **spans, int *n_spans, lexie_error *err);
    /* Tokenizes rendered chat text, BOS as the model wants: special tokens
    ** are parsed except inside the n_plain ranges plain (message text, so
    ** a sentence or label cannot inject chat turns). */
    lexie_status (*tokenize)(void *user, const char *text, const lexie_span *plain, int n_plain,
                             lexie_token **out, int *n, lexie_error *err);
    int (*is_eog)(void *user, lexie_token t);
    lexie_status (*next_probs)(void *user, const lexie_token *prompt, int n,
                               const lexie_token *cand, int n_cand, float *probs, lexie_error *err);
    /* Each continuation's per-token log-probabilities: out[k][j] =
    ** log p(conts[k][j] | prompt, conts[k][<j]). */
    lexie_status (*score)(void *user, const lexie_token *prompt, int n,
                          const lexie_token *const *conts, const int *n_conts, int n_cont,
                          float *const *out, lexie_error *err);
    lexie_status (*generate)(void *user, const lexie_token *prompt, int n, int max_tokens,
                             char **out, lexie_error *err);
    /* Optional (may be NULL): next-token distributions for n_prompts
    ** prompts at once, probs[p * n_cand + k]; lets a ctx batch examples. */
    lexie_status (*next_probs_batch)(void *user, const lexie_token *const *prompts,
                                     const int *n_prompts, int n_prompt, const lexie_token *cand,
                                     int n_cand, float *probs, lexie_error *err);
} lx_re_backend;

/* The backend over a lexie ctx (and its model); c is borrowed. */
void lx_re_backend_ctx(lx_re_backend *b, lexie_ctx *c);

/* ==== Classifier ==== */

typedef lexie_re_params lx_re_params;
typedef lexie_re_result lx_re_result;

lx_re_params lx_re_default_params(void);
void lx_re_result_clear(lx_re_result *r);

typedef struct lx_re_clf lx_re_clf;

/* A classifier for schema s (borrowed, must outlive it) over backend b
** (copied).  Works out how the option letters and labels tokenize after
** the assistant opening. */
lx_re_clf *lx_re_clf_new(const lx_re_schema *s, const lx_re_backend *b, const lx_re_params *p,
                         lexie_error *err);
void lx_re_clf_free(lx_re_clf *c);
/* Few-shot demonstrations, shown before every example as earlier chat
** turns with their answers.  labels[i] is a label index. Copied. */
lexie_status lx_re_clf_set_demos(lx_re_clf *c, const lx_re_input *demos, const int *labels, int n,
                                 lexie_error *err);
/* The exact prompt text (chat template applied) for example in, with the
** option order of permutation perm (0: schema order).  *out malloc'd. */
lexie_status lx_re_clf_prompt(lx_re_clf *c, const lx_re_input *in, int perm, char **out,
                              lexie_error *err);
/* The chat JSONL line that teaches that prompt (permutation 0) with gold
** label gold as the answer (see lexie_re_sft_line).  *out malloc'd. */
lexie_status lx_re_clf_sft_line(lx_re_clf *c, const lx_re_input *in, int gold, char **out,
                                lexie_error *err);
/* Classifies n examples; out[i] is filled (clear with lx_re_result_clear). */
lexie_status lx_re_clf_run(lx_re_clf *c, const lx_re_input *in, int n, lx_re_result *out,
                           lexie_error *err);
/* Parses a generated answer: a letter among the n_opts offered (QA4RE) or
** a label (vanilla, compact).  Returns the label index, or -1 when unparseable. */
int lx_re_parse_answer(const lx_re_schema *s, lx_re_method m, const int *opts, int n_opts,
                       const char *answer);

/* How letters tokenized (for reports and tests): 1 if every letter needed
** so far is a single token (next-token path), 0 if some took several
** (continuation scoring). */
int lx_re_clf_single_token_letters(const lx_re_clf *c);

#endif /* LX_IE_RE_H */
