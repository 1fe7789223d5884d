/*
** ref_fixture.h -- the fixture code shared by the reference-model suites
** (test_model_ref.c, test_qwen_ref.c, test_gemma3.c, test_rope_scaling.c).
**
** Each suite checks a forward pass against NumPy reference logits that a
** generator under tests/ref/ writes into the fixture directory:
**
**   <tokens file>           the token ids, one text file per suite:
**                             # comment
**                             n_vocab N
**                             window W          (only where the set wants it)
**                             prefix P          (seqs 1.. share seq 0's first P;
**                                                required with 2+ sequences)
**                             seq <name> <n> <id> ... (once per sequence)
**   <stem>.gguf             a tiny random-weight model
**   <stem>.<seq>.<suffix>   its reference logits, n x n_vocab float32 LE
**
** A suite describes its files with an rf_set (tokens file, sequence names,
** context size) and keeps its own variants and tolerances; the checks
** every architecture shares (prefill, token by token, prefix sharing, two
** sequences in a batch, thread counts) are here, once.
** Helpers that find a problem record it with lx_test_fail or lx_test_skip
** and return 0/NULL, so a test just returns.
*/
#ifndef REF_FIXTURE_H
#define REF_FIXTURE_H

#include "lexie.h"
#include "lx_test.h"

#include <stddef.h>

#define RF_MAX_TOK 64 /* tokens per sequence */
#define RF_MAX_SEQ 3  /* sequences per tokens file */

/* What one suite's fixture files are. */
typedef struct rf_set {
    const char *tokens_file;      /* e.g. "ref_tokens.txt" */
    const char *const *seq_names; /* n_seq names as the tokens file spells them */
    int n_seq;                    /* 1..RF_MAX_SEQ; sequence 0 is the main one */
    int has_window;               /* the tokens file must have 0 < window < n[0] */
    int n_ctx, n_batch;           /* what rf_ctx_params asks for */
} rf_set;

/* The parsed tokens file. */
typedef struct rf_tokens {
    int n_vocab;
    int window; /* 0 unless the set has_window */
    int prefix; /* sequences 1.. share sequence 0's first `prefix` tokens */
    int n[RF_MAX_SEQ];
    lexie_token ids[RF_MAX_SEQ][RF_MAX_TOK];
} rf_tokens;

/* Everything one test needs: tokens, references, model and a context. */
typedef struct rf_fixture {
    const rf_set *set; /* borrowed; static in the suite */
    const char *stem;  /* borrowed */
    rf_tokens rt;
    float *ref[RF_MAX_SEQ]; /* (n[s], n_vocab), owned */
    lexie_model *m;
    lexie_ctx *c; /* NULL when opened without context params */
    int n_vocab;
} rf_fixture;

/* ==== Files ==== */

/* <fixture dir>/<file> into buf. */
void rf_path(char *buf, size_t n, const char *file);

/* Parses set's tokens file into rt; 0 if missing or malformed. */
int rf_tokens_load(const rf_set *set, rf_tokens *rt);

/* Reads the fixture file as n_tok x n_vocab float32 (little-endian, as x86
** is); NULL if it is missing or has another size.  Caller frees. */
float *rf_logits_load(const char *file, int n_tok, int n_vocab);

/* ==== Fixture ==== */

/* lexie's defaults with the set's n_ctx and n_batch. */
lexie_ctx_params rf_ctx_params(const rf_set *set, int n_seq, int n_threads);

/* Opens <stem>.gguf with references <stem>.<seq>.<suffix> and, when cp is
** not NULL, a context of params cp.  Returns 0 after recording a skip
** (files missing) or a failure; f is then closed. */
int rf_open(lx_t *t, rf_fixture *f, const rf_set *set, const char *stem, const char *suffix,
            const lexie_ctx_params *cp);

/* Frees what rf_open made; a closed or zeroed fixture is a no-op. */
void rf_close(rf_fixture *f);

/* ==== Helpers ==== */

/* Decodes tok[0..n) of sequence seq at positions pos0.. (pos0 < 0: pos
** NULL, i.e. continue the sequence), logits for every token when all, else
** the last only.  n up to 2 * RF_MAX_TOK. */
lexie_status rf_decode(lexie_ctx *c, const lexie_token *tok, int n, int pos0, int seq, int all,
                       lexie_error *e);

/* max |a[i] - b[i]| in double; NaN wins. */
double rf_max_abs_diff(const float *a, const float *b, int n);

/* Checks got against reference row `row` of sequence seq within tol;
** returns the difference (INFINITY when got is NULL). */
double rf_check_row(lx_t *t, const rf_fixture *f, const float *got, int seq, int row, double tol,
                    const char *what);

/* The same against row `row` of any (n, n_vocab) array ref, with messages
** that name the fixture's stem. */
double rf_check_ref_row(lx_t *t, const rf_fixture *f, const float *got, const float *ref, int row,
                        double tol, const char *what);

/* Prints "test stem: max |diff| d" when LX_TEST_VERBOSE is set. */
void rf_report(const char *test, const char *stem, double d);

/* The logits of every position of sequence s decoded in one batch on a
** cleared cache, copied (n[s] x n_vocab; NaN rows where none came back);
** NULL after a failure.  Caller frees. */
float *rf_prefill_all(lx_t *t, rf_fixture *f, int s);

/* Loads the fixture model `file` expected to fail; checks that it does,
** with code code1 or code2 and a message naming `needle`.  Returns 0 (no
** checks) when the file is absent, for the caller to skip. */
int rf_expect_load_error(lx_t *t, const char *file, int code1, int code2, const char *needle);

/* ==== Checks shared by the suites ====
** Each records what it finds with lx_test_fail and returns after a failed
** decode; tolerances are the caller's, so every suite keeps its own. */

/* The model's architecture, name ("lexie-test-<stem>"), layers, width and
** training context. */
void rf_check_facts(lx_t *t, const rf_fixture *f, const char *arch, int n_layer, int n_embd,
                    int n_ctx_train);

/* Sequence s decoded in one batch on a cleared cache, logits at every
** position, each row within tol of s's reference; also that logits -1 is
** the last row and the cache holds n[s] positions.  Adds sum |logit - ref|
** to *abs_sum when it is not NULL.  Returns the worst row difference. */
double rf_check_prefill(lx_t *t, rf_fixture *f, int s, double tol, const char *what,
                        double *abs_sum);

/* Sequence 0 one token per decode (positions implied), each row within
** tol of the reference and tol_same of the prefill; then in uneven chunks
** with explicit positions, chunk sizes step[0], then += step[1] + size %
** step[2], each row within tol_same of the prefill. */
void rf_check_incremental(lx_t *t, rf_fixture *f, double tol, double tol_same, const int step[3]);

/* The shared prefix of a 3-sequence set decoded once in seq 0 and
** lexie_kv_seq_cp'd to seqs 1 and 2; each sequence's tail then decoded in
** `order`; seq 1's tail replaced by seq 2's after lexie_kv_seq_rm; and
** seq 0's last 4 tokens recomputed.  Every row within tol of its
** reference, every pos_max as the cells say.  Needs n_seq_max >= 3. */
void rf_check_prefix_sharing(lx_t *t, rf_fixture *f, const int order[3], double tol);

/* Sequences sa and sb interleaved in one batch (cache seqs 0 and 1): every
** row within tol of its reference, and within tol_same of the same
** sequence decoded alone.  Needs n_seq_max >= 2. */
void rf_check_two_seqs(lx_t *t, rf_fixture *f, int sa, int sb, double tol, double tol_same);

/* Sequence 0 of <stem> prefilled on contexts of na and nb threads: the
** logits differ by at most tol.  Skips (recorded in t) when files are
** missing. */
void rf_check_threads(lx_t *t, const rf_set *set, const char *stem, const char *suffix, int na,
                      int nb, double tol);

#endif
