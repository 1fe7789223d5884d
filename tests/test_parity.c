/*
** test_parity.c -- lexie against llama.cpp on the real default model.
**
** tests/data/parity_smollm2.txt holds what llama.cpp (llama-cpp-python,
** float32 KV cache, no flash attention) computes for fixed prompts on
** SmolLM2-135M-Instruct Q4_1; bench/parity_llamacpp.py writes it and its
** header documents the format.  For each prompt we check:
**   - lexie_tokenize gives llama.cpp's ids;
**   - fed llama.cpp's ids (not ours, so tokenizer and forward pass are
**     tested apart), the last-position logits agree on the top-20 and on
**     ~50 fixed ids within TOL_LOGIT, the argmax is the same, and the
**     mean/std/max of all logits agree;
**   - along llama.cpp's 32-token greedy continuation, fed its tokens
**     (teacher forcing, so one near-tie does not end the comparison), our
**     argmax is its token at every step where its top-1/top-2 margin is at
**     least TOL_MARGIN; in particular the continuation is identical up to
**     the first step with a smaller margin.
** and that a tokenizer corpus (emoji, scripts, whitespace runs, code)
** tokenizes to llama.cpp's ids.  Skips without the model (`make model`).
**
** Why the tolerances are wide.  Both engines quantize activations to
** Q8_0/Q8_1 before every quantized product, with the same arithmetic (on
** the tiny models of test_model_ref.c lexie and llama.cpp agree to 1e-6).
** But on this 30-layer model, float32 differences in summation order flip
** a few activations to the neighbouring quantization step, and the flips
** compound.  tests/ref/real_model.py shows it: on "The capital of France
** is", the NumPy replay of ggml's arithmetic, three copies of it with
** activations perturbed by 1e-7 relative, llama.cpp and lexie all differ
** pairwise by 0.56-1.47 (max |logit diff|); lexie's scalar, AVX2 and
** AVX-512 paths differ from each other by ~0.6.  Measured against this
** fixture (lexie's first engine commits; scalar, AVX2 and AVX-512):
**   max |logit - llama.cpp| over top-20 and fixed ids    0.91
**   max |our margin - llama.cpp's margin| of its token   0.96
** With the Q4_1 weights packed at load (kernels/pack.c; AVX-512): 1.01
** and 0.65, 378 of 384 greedy steps agreeing.
** The tolerances sit above both and above the 1.47 of the noise runs, so
** a reordered sum does not trip them: TOL_LOGIT 2.0, TOL_MARGIN 1.5 (then
** 207 of the 384 greedy steps are compared).
** Exact arithmetic is held tight by test_model_ref.c instead; this test
** catches what tiny models cannot: real hyperparameters, tied Q8_0
** embeddings at vocabulary scale, 1,000-token contexts, the tokenizer.
**
** The other catalog models (opt-in: LEXIE_TEST_QUALITY=1 and the model
** cached, else skipped with the reason, as CI caches only the default
** model; table EXTRA) run the same checks on tests/data/parity_<name>.txt,
** one tokenizer and one logits test per model:
**   qwen2.5-coder-0.5b-instruct-awq  Q4_K_M (Q4_K, Q5_0, Q6_K and Q8_0
**       weights, so K-quant activations in Q8_K), 24 layers with q/k/v
**       biases, NEOX RoPE (base 1e6), a 151,936-token byte-level BPE
**       (qwen2 pre-tokenizer); 7 prompts (two ChatML).
**   qwen2.5-coder-1.5b-instruct  the same architecture at 28 layers and
**       n_embd 1536, mostly Q4_K with Q6_K; 6 prompts (two ChatML).
**   gemma3-270m  base model: sliding-window local layers (window 512),
**       QK-norm, GeGLU, a 262,144-token SentencePiece vocabulary, and a
**       tokenizer that adds <bos> (the fixture's add_bos record: prompts
**       are tokenized with it, the corpus without); 7 plain prompts, one
**       of 680 tokens, so past the window (prefilled as 512 + 168).
** Measured (max |logit - llama.cpp|; argmax agreement; our argmax is its
** greedy token at how many teacher-forced steps, the others near-ties;
** max |margin difference|):
**   0.5b    scalar/AVX2/AVX-512 0.33-0.83 (top logits 8-27); 7/7; 221-223
**           of 224; 0.28-0.43
**   1.5b    AVX2/AVX-512 0.34-0.39 (top logits 15-24); 6/6; 187-190 of
**           192; 0.38-0.54.  With its Q4_K and Q6_K weights packed at load
**           (kernels/pack.c; AVX-512): 0.33; 6/6; 189 of 192; 0.68
**   gemma3  AVX2/AVX-512 0.86-0.91 (top logits 3-28); 6-7/7 (AVX2 misses
**           non_ascii, where llama.cpp's top two are 0.15 apart); 216-217
**           of 224; 0.52-0.69
** The same noise as above: on "The capital of France is" the 0.5b float
** NumPy reference (no activation quantization) is 0.50 from llama.cpp and
** 0.60 from lexie, lexie 0.19 from llama.cpp.  All within the default
** model's tolerances, so the same ones: TOL_LOGIT_Q 2.0, TOL_MARGIN_Q 1.5
** (152, 123 and 133 steps compared).  The tokenizers agree on every prompt
** and on the whole corpus.
*/
#include "lexie.h"
#include "lx_test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TOL_LOGIT 2.0
#define TOL_MARGIN 1.5

/* The tolerances of the opt-in tests of the other catalog models
** (LEXIE_TEST_QUALITY=1; table EXTRA below), measured as above. */
#define TOL_LOGIT_Q 2.0
#define TOL_MARGIN_Q 1.5

#if defined(__SANITIZE_ADDRESS__)
#define LX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LX_SANITIZED 1
#endif
#endif
#ifndef LX_SANITIZED
#define LX_SANITIZED 0
#endif
/* Under the sanitizers the forward pass is ~10x slower.  Numbers are this
** test's business and memory safety the sanitizers', so there only the
** prompts of at most 16 tokens run, with 8 greedy steps. */
#define SAN_MAX_PROMPT 16
#define SAN_GREEDY 8

#define MAX_TOP 32
#define MAX_FIXED 64
#define MAX_GREEDY 64
#define MAX_PROMPTS 32
#define MAX_CORPUS 64

/* ==== The fixture ==== */

typedef struct par_prompt {
    char name[32];
    int special;
    char *text;
    size_t len;
    lexie_token *ids;
    int n_ids;
    int n_top, top_id[MAX_TOP];
    double top_logit[MAX_TOP];
    double mean, std, max;
    int argmax;
    int n_fixed;
    double fixed_logit[MAX_FIXED];
    int n_greedy;
    lexie_token greedy[MAX_GREEDY];
    double margin[MAX_GREEDY];
} par_prompt;

typedef struct par_tok {
    int special;
    char *text;
    size_t len;
    lexie_token *ids;
    int n_ids;
} par_tok;

typedef struct parity {
    double tol_logit, tol_margin; /* TOL_LOGIT/TOL_MARGIN or the quality model's */
    long long model_size;
    int add_bos; /* prompt ids begin with the BOS the tokenizer adds */
    int n_fixed;
    int32_t fixed[MAX_FIXED];
    int n_prompts;
    par_prompt p[MAX_PROMPTS];
    int n_toks;
    par_tok tok[MAX_CORPUS];
} parity;

static void parity_free(parity *f) {
    for (int i = 0; i < f->n_prompts; i++) {
        free(f->p[i].text);
        free(f->p[i].ids);
    }
    for (int i = 0; i < f->n_toks; i++) {
        free(f->tok[i].text);
        free(f->tok[i].ids);
    }
    free(f);
}

/* Field readers over a line; each returns 0 on a malformed field. */
static int rd_int(char **s, long *v) {
    char *end;
    *v = strtol(*s, &end, 10);
    if (end == *s) return 0;
    *s = end;
    return 1;
}

static int rd_dbl(char **s, double *v) {
    char *end;
    *v = strtod(*s, &end);
    if (end == *s) return 0;
    *s = end;
    return 1;
}

static int rd_word(char **s, char *buf, size_t n) {
    while (**s == ' ') (*s)++;
    size_t k = 0;
    while (**s && **s != ' ' && **s != '\n') {
        if (k + 1 >= n) return 0;
        buf[k++] = *(*s)++;
    }
    buf[k] = 0;
    return k > 0;
}

/* "<n> <id>..." into a malloc'd array (NULL for n == 0 is fine). */
static int rd_ids(char **s, lexie_token **out, int *n_out) {
    long n, v;
    if (!rd_int(s, &n) || n < 0 || n > 1000000) return 0;
    lexie_token *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
    if (!ids) return 0;
    for (long i = 0; i < n; i++) {
        if (!rd_int(s, &v)) {
            free(ids);
            return 0;
        }
        ids[i] = (lexie_token)v;
    }
    *out = ids;
    *n_out = (int)n;
    return 1;
}

/* "<n> <int>..." into a fixed array of capacity cap. */
static int rd_int_array(char **s, int32_t *a, int *n_out, int cap) {
    long n, v;
    if (!rd_int(s, &n) || n < 0 || n > cap) return 0;
    for (long i = 0; i < n; i++) {
        if (!rd_int(s, &v)) return 0;
        a[i] = (int32_t)v;
    }
    *n_out = (int)n;
    return 1;
}

static int rd_dbl_array(char **s, double *a, int n_expect) {
    long n;
    if (!rd_int(s, &n) || n != n_expect) return 0;
    for (long i = 0; i < n; i++)
        if (!rd_dbl(s, &a[i])) return 0;
    return 1;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* "<n_bytes> <hex>" into a malloc'd NUL-terminated string. */
static int rd_text(char **s, char **out, size_t *len) {
    long n;
    if (!rd_int(s, &n) || n < 0 || n > (1L << 24)) return 0;
    while (**s == ' ') (*s)++;
    char *t = malloc((size_t)n + 1);
    if (!t) return 0;
    for (long i = 0; i < n; i++) {
        int hi = hexval((*s)[2 * i]), lo = hi < 0 ? -1 : hexval((*s)[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(t);
            return 0;
        }
        t[i] = (char)(hi * 16 + lo);
    }
    *s += 2 * n;
    t[n] = 0;
    *out = t;
    *len = (size_t)n;
    return 1;
}

static const char *data_dir(void) {
    const char *d = getenv("LEXIE_TEST_DATA");
    return d && *d ? d : "tests/data";
}

/* Parses the fixture data_dir()/file; NULL with a reason in why. */
static parity *parity_load(const char *file, char *why, size_t n_why) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", data_dir(), file);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(why, n_why, "cannot open %s", path);
        return NULL;
    }
    parity *f = calloc(1, sizeof *f);
    char *line = NULL, key[32], word[256];
    size_t cap = 0;
    int ok = f != NULL, lineno = 0;
    par_prompt *cur = NULL;
    while (ok && getline(&line, &cap, fp) > 0) {
        char *s = line;
        lineno++;
        if (line[0] == '#' || line[0] == '\n') continue;
        if (!rd_word(&s, key, sizeof key)) {
            ok = 0;
            break;
        }
        long v = 0;
        if (!strcmp(key, "model")) {
            ok = rd_word(&s, word, sizeof word) && rd_int(&s, &v);
            f->model_size = v;
        } else if (!strcmp(key, "llama_cpp")) {
            /* provenance only */
        } else if (!strcmp(key, "add_bos")) {
            ok = rd_int(&s, &v) && (v == 0 || v == 1);
            f->add_bos = (int)v;
        } else if (!strcmp(key, "fixed")) {
            ok = rd_int_array(&s, f->fixed, &f->n_fixed, MAX_FIXED);
        } else if (!strcmp(key, "prompt")) {
            ok = f->n_prompts < MAX_PROMPTS;
            if (ok) {
                cur = &f->p[f->n_prompts++];
                ok = rd_word(&s, cur->name, sizeof cur->name) && rd_int(&s, &v);
                cur->special = (int)v;
            }
        } else if (!strcmp(key, "tok")) {
            ok = f->n_toks < MAX_CORPUS && rd_int(&s, &v);
            if (ok) {
                par_tok *tk = &f->tok[f->n_toks++];
                tk->special = (int)v;
                ok = rd_text(&s, &tk->text, &tk->len);
            }
        } else if (!strcmp(key, "tokids")) {
            ok = f->n_toks > 0 &&
                 rd_ids(&s, &f->tok[f->n_toks - 1].ids, &f->tok[f->n_toks - 1].n_ids);
        } else if (!cur) {
            ok = 0;
        } else if (!strcmp(key, "text")) {
            ok = rd_text(&s, &cur->text, &cur->len);
        } else if (!strcmp(key, "ids")) {
            ok = rd_ids(&s, &cur->ids, &cur->n_ids);
        } else if (!strcmp(key, "top")) {
            ok = rd_int(&s, &v) && v > 0 && v <= MAX_TOP;
            cur->n_top = ok ? (int)v : 0;
            for (int i = 0; ok && i < cur->n_top; i++) {
                ok = rd_int(&s, &v) && rd_dbl(&s, &cur->top_logit[i]);
                cur->top_id[i] = (int)v;
            }
        } else if (!strcmp(key, "stats")) {
            ok = rd_dbl(&s, &cur->mean) && rd_dbl(&s, &cur->std) && rd_dbl(&s, &cur->max) &&
                 rd_int(&s, &v);
            cur->argmax = (int)v;
        } else if (!strcmp(key, "fixedlogits")) {
            ok = rd_dbl_array(&s, cur->fixed_logit, f->n_fixed);
            cur->n_fixed = f->n_fixed;
        } else if (!strcmp(key, "greedy")) {
            ok = rd_int_array(&s, cur->greedy, &cur->n_greedy, MAX_GREEDY);
        } else if (!strcmp(key, "margin")) {
            ok = rd_dbl_array(&s, cur->margin, cur->n_greedy);
        } else if (!strcmp(key, "end")) {
            ok = cur->text && cur->ids && cur->n_top > 0;
            cur = NULL;
        } else {
            ok = 0;
        }
    }
    free(line);
    fclose(fp);
    if (!ok || !f->n_prompts || !f->n_toks) {
        snprintf(why, n_why, "%s: malformed at line %d", path, lineno);
        if (f) parity_free(f);
        return NULL;
    }
    return f;
}

/* The model at path and the fixture `file`, or a skip (returns NULL) /
** failure. */
static lexie_model *open_model_at(lx_t *t, parity **pf, const char *path, const char *file) {
    char why[1200];
    *pf = NULL;
    parity *f = parity_load(file, why, sizeof why);
    if (!f) {
        lx_test_fail(t, __FILE__, __LINE__, "%s", why);
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) != 0 || (long long)st.st_size != f->model_size) {
        lx_test_skip(t, "%s is not the file the parity fixture was made from (size %lld)", path,
                     f->model_size);
        parity_free(f);
        return NULL;
    }
    lexie_error e;
    lexie_model *m = lexie_model_load(path, NULL, &e);
    if (!m) {
        lx_test_fail(t, __FILE__, __LINE__, "load %s: %s", path, e.message);
        parity_free(f);
        return NULL;
    }
    f->tol_logit = TOL_LOGIT;
    f->tol_margin = TOL_MARGIN;
    *pf = f;
    return m;
}

/* The default model and parity_smollm2.txt. */
static lexie_model *open_model(lx_t *t, parity **pf) {
    const char *path = lx_test_model();
    *pf = NULL;
    if (!path) {
        lx_test_skip(t, "default model not in cache: run make model");
        return NULL;
    }
    return open_model_at(t, pf, path, "parity_smollm2.txt");
}

static int verbose(void) { return getenv("LX_TEST_VERBOSE") != NULL; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ==== Tokenizer ==== */

/* Tokenizes text and compares with want; reports the first difference. */
static void check_tokens(lx_t *t, const lexie_model *m, const char *what, const char *text,
                         size_t len, int add_bos, int special, const lexie_token *want,
                         int n_want) {
    lexie_error e;
    int n = 0, cap = n_want + 16;
    lexie_token *got = malloc((size_t)cap * sizeof *got);
    if (!got) {
        lx_test_fail(t, __FILE__, __LINE__, "out of memory");
        return;
    }
    lexie_status st = lexie_tokenize(m, text, len, add_bos, special, got, cap, &n, &e);
    if (st != LEXIE_OK) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: tokenize: %s", what, e.message);
    } else if (n != n_want || memcmp(got, want, (size_t)n * sizeof *got) != 0) {
        int i = 0;
        while (i < n && i < n_want && got[i] == want[i]) i++;
        lx_test_fail(t, __FILE__, __LINE__,
                     "%s: %d tokens vs llama.cpp's %d; first difference at %d: %d vs %d", what, n,
                     n_want, i, i < n ? got[i] : -1, i < n_want ? want[i] : -1);
    }
    free(got);
}

static void run_tokenizer(lx_t *t, lexie_model *m, parity *f) {
    for (int i = 0; i < f->n_prompts; i++) {
        const par_prompt *p = &f->p[i];
        check_tokens(t, m, p->name, p->text, p->len, f->add_bos, p->special, p->ids, p->n_ids);
    }
    for (int i = 0; i < f->n_toks; i++) {
        char what[64];
        snprintf(what, sizeof what, "corpus entry %d", i);
        const par_tok *k = &f->tok[i];
        check_tokens(t, m, what, k->text, k->len, 0, k->special, k->ids, k->n_ids);
    }
    lexie_model_free(m);
    parity_free(f);
}

static void test_parity_tokenizer(lx_t *t) {
    parity *f;
    lexie_model *m = open_model(t, &f);
    if (m) run_tokenizer(t, m, f);
}

/* ==== Logits and greedy continuation ==== */

static int argmax(const float *z, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[best]) best = i;
    return best;
}

/* Feeds p's ids in chunks of n_batch; NULL logits on failure. */
static const float *prefill(lx_t *t, lexie_ctx *c, const par_prompt *p, int n_batch) {
    lexie_error e;
    lexie_kv_clear(c);
    for (int i = 0; i < p->n_ids; i += n_batch) {
        int n = p->n_ids - i < n_batch ? p->n_ids - i : n_batch;
        lexie_batch b = {n, p->ids + i, NULL, NULL, NULL};
        if (lexie_ctx_decode(c, &b, &e) != LEXIE_OK) {
            lx_test_fail(t, __FILE__, __LINE__, "%s: decode: %s", p->name, e.message);
            return NULL;
        }
    }
    return lexie_ctx_logits(c, -1);
}

/* Compares last-position logits over the top-k and fixed ids: returns the
** max |difference|; *centred gets it after subtracting each side's mean
** over the whole vocabulary (a shift of all logits changes no probability). */
static double check_logits(lx_t *t, const parity *f, const par_prompt *p, const float *z,
                           int n_vocab, double *centred) {
    double sum = 0, sq = 0, mx = -INFINITY;
    for (int i = 0; i < n_vocab; i++) sum += z[i];
    double mean = sum / n_vocab;
    for (int i = 0; i < n_vocab; i++) {
        sq += (z[i] - mean) * (z[i] - mean);
        mx = z[i] > mx ? z[i] : mx;
    }
    double worst = 0, worst_c = 0, shift = mean - p->mean;
    for (int k = 0; k < p->n_top + p->n_fixed; k++) {
        int id = k < p->n_top ? p->top_id[k] : f->fixed[k - p->n_top];
        double ref = k < p->n_top ? p->top_logit[k] : p->fixed_logit[k - p->n_top];
        double d = fabs(z[id] - ref), dc = fabs(z[id] - ref - shift);
        worst = d > worst ? d : worst;
        worst_c = dc > worst_c ? dc : worst_c;
    }
    *centred = worst_c;
    double tol = f->tol_logit;
    LX_CHECK_MSG(t, worst <= tol, "%s: max |logit - llama.cpp| %.4g > %g", p->name, worst, tol);
    int am = argmax(z, n_vocab);
    double ref_margin = p->n_top > 1 ? p->top_logit[0] - p->top_logit[1] : INFINITY;
    LX_CHECK_MSG(t, am == p->argmax || ref_margin < f->tol_margin, "%s: argmax %d, llama.cpp %d",
                 p->name, am, p->argmax);
    LX_CHECK_MSG(t, fabs(mean - p->mean) <= tol, "%s: mean %.5g vs %.5g", p->name, mean, p->mean);
    LX_CHECK_MSG(t, fabs(sqrt(sq / n_vocab) - p->std) <= tol, "%s: std %.5g vs %.5g", p->name,
                 sqrt(sq / n_vocab), p->std);
    LX_CHECK_MSG(t, fabs(mx - p->max) <= tol, "%s: max %.5g vs %.5g", p->name, mx, p->max);
    return worst;
}

/* Margin of token g in z: z[g] minus the best other logit. */
static double margin_of(const float *z, int n_vocab, int g) {
    double best = -INFINITY;
    for (int i = 0; i < n_vocab; i++)
        if (i != g && z[i] > best) best = z[i];
    return z[g] - best;
}

/* What a walk along one greedy continuation found. */
typedef struct greedy_stats {
    double tol_margin; /* steps with a smaller llama.cpp margin are not checked */
    int steps;         /* steps walked */
    int compared;      /* steps checked (margin >= tol_margin) */
    int agree;         /* steps where our argmax is llama.cpp's token, checked or not */
    int first_skip;    /* first step not checked (n_greedy if none) */
    int first_differ;  /* first step where our argmax differs (n_greedy if none) */
    double worst_m;    /* max |our margin of its token - its margin| */
} greedy_stats;

/* Checks greedy step j given our logits z there. */
static void check_step(lx_t *t, const par_prompt *p, int j, const float *z, int n_vocab,
                       greedy_stats *g) {
    double m = margin_of(z, n_vocab, p->greedy[j]), dm = fabs(m - p->margin[j]);
    g->worst_m = dm > g->worst_m ? dm : g->worst_m;
    g->steps++;
    if (m > 0)
        g->agree++;
    else if (g->first_differ == p->n_greedy)
        g->first_differ = j;
    if (p->margin[j] < g->tol_margin) {
        if (g->first_skip == p->n_greedy) g->first_skip = j;
        return;
    }
    g->compared++;
    LX_CHECK_MSG(t, m > 0, "%s: greedy step %d: llama.cpp picks %d by %.3g, we by %.3g", p->name, j,
                 p->greedy[j], p->margin[j], m);
}

/* Walks llama.cpp's greedy continuation, feeding its tokens (not ours, so
** one near-tie does not end the comparison), and checks that our argmax is
** its token at every step where its margin is at least g->tol_margin.  z
** are our logits after the prompt.  one_by_one: decode the continuation a
** token at a time, as generation does; else as one batch with logits at
** every position (the same numbers, test_model_ref.c checks, but much
** faster).  Fills the rest of *g. */
static void check_greedy(lx_t *t, lexie_ctx *c, const par_prompt *p, const float *z, int n_vocab,
                         int n_steps, int one_by_one, greedy_stats *g) {
    lexie_error e;
    g->steps = g->compared = g->agree = 0;
    g->first_skip = g->first_differ = p->n_greedy;
    g->worst_m = 0;
    n_steps = n_steps < p->n_greedy ? n_steps : p->n_greedy;
    for (int j = 0; j < n_steps; j++) {
        if (p->greedy[j] < 0 || p->greedy[j] >= n_vocab) {
            lx_test_fail(t, __FILE__, __LINE__, "%s: fixture token %d", p->name, p->greedy[j]);
            return;
        }
    }
    if (n_steps < 1) return;
    check_step(t, p, 0, z, n_vocab, g);
    int8_t want[MAX_GREEDY];
    memset(want, 1, sizeof want);
    for (int j = 1; j < n_steps; j += one_by_one ? 1 : n_steps) {
        int n = one_by_one ? 1 : n_steps - 1;
        lexie_batch b = {n, p->greedy + j - 1, NULL, NULL, want};
        if (lexie_ctx_decode(c, &b, &e) != LEXIE_OK) {
            lx_test_fail(t, __FILE__, __LINE__, "%s: decode: %s", p->name, e.message);
            return;
        }
        for (int k = 0; k < n; k++) check_step(t, p, j + k, lexie_ctx_logits(c, k), n_vocab, g);
    }
}

/* Every prompt of f on m: last-position logits and the greedy walk. */
static void run_logits(lx_t *t, lexie_model *m, parity *f) {
    int n_max = 0;
    for (int i = 0; i < f->n_prompts; i++) n_max = f->p[i].n_ids > n_max ? f->p[i].n_ids : n_max;
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = n_max + MAX_GREEDY + 8;
    cp.n_batch = 512;
    cp.n_seq_max = 1;
    lexie_error e;
    lexie_ctx *c = lexie_ctx_new(m, &cp, &e);
    if (!c) {
        lx_test_fail(t, __FILE__, __LINE__, "ctx_new: %s", e.message);
        lexie_model_free(m);
        parity_free(f);
        return;
    }
    int n_vocab = lexie_model_n_vocab(m);
    double worst = 0, worst_m = 0;
    int n_steps = 0, n_agree = 0, n_compared = 0, n_top1 = 0, n_run = 0;
    for (int i = 0; i < f->n_prompts; i++) {
        const par_prompt *p = &f->p[i];
        if (LX_SANITIZED && p->n_ids > SAN_MAX_PROMPT) continue;
        int ok = 1;
        for (int k = 0; k < p->n_ids; k++) ok &= p->ids[k] >= 0 && p->ids[k] < n_vocab;
        for (int k = 0; k < p->n_top; k++) ok &= p->top_id[k] >= 0 && p->top_id[k] < n_vocab;
        for (int k = 0; k < f->n_fixed; k++) ok &= f->fixed[k] >= 0 && f->fixed[k] < n_vocab;
        if (!ok || p->n_ids < 1) {
            lx_test_fail(t, __FILE__, __LINE__, "%s: fixture ids outside the vocabulary", p->name);
            continue;
        }
        double t0 = now_s();
        const float *z = prefill(t, c, p, cp.n_batch);
        if (!z) continue;
        double t1 = now_s();
        double dc, d = check_logits(t, f, p, z, n_vocab, &dc);
        worst = d > worst ? d : worst;
        n_top1 += argmax(z, n_vocab) == p->argmax;
        n_run++;
        /* the first prompt decodes its continuation as generation does */
        greedy_stats g = {.tol_margin = f->tol_margin};
        check_greedy(t, c, p, z, n_vocab, LX_SANITIZED ? SAN_GREEDY : MAX_GREEDY, i == 0, &g);
        worst_m = g.worst_m > worst_m ? g.worst_m : worst_m;
        n_steps += g.steps;
        n_agree += g.agree;
        n_compared += g.compared;
        if (verbose())
            fprintf(stderr,
                    "     parity %-10s %4d tokens  max |diff| %.3f (centred %.3f)  greedy: "
                    "%2d/%2d agree (first difference %2d), %2d compared (first near-tie %2d), "
                    "max |margin diff| %.3f  (%.1fs + %.1fs)\n",
                    p->name, p->n_ids, d, dc, g.agree, g.steps, g.first_differ, g.compared,
                    g.first_skip, g.worst_m, t1 - t0, now_s() - t1);
    }
    if (verbose())
        fprintf(stderr,
                "     parity: max |logit diff| %.3f, argmax agrees %d/%d, greedy steps agree "
                "%d/%d (%d compared), max |margin diff| %.3f\n",
                worst, n_top1, n_run, n_agree, n_steps, n_compared, worst_m);
    lexie_ctx_free(c);
    lexie_model_free(m);
    parity_free(f);
}

static void test_parity_logits(lx_t *t) {
    parity *f;
    lexie_model *m = open_model(t, &f);
    if (m) run_logits(t, m, f);
}

/* ==== The other catalog models (opt-in) ==== */

/* open_extra's table: each model has tests/data/parity_<name>.txt. */
typedef struct extra_model {
    const char *name; /* catalog name */
    double tol_logit, tol_margin;
} extra_model;

static const extra_model EXTRA[] = {
    {"qwen2.5-coder-0.5b-instruct-awq", TOL_LOGIT_Q, TOL_MARGIN_Q},
    {"qwen2.5-coder-1.5b-instruct", TOL_LOGIT_Q, TOL_MARGIN_Q},
    {"gemma3-270m", TOL_LOGIT_Q, TOL_MARGIN_Q},
};

/* EXTRA[k] and its fixture, when LEXIE_TEST_QUALITY=1 and it is cached;
** else a skip.  Opt-in: CI caches only the default model, and these are
** 2.5-11x its size. */
static lexie_model *open_extra(lx_t *t, int k, parity **pf) {
    const extra_model *x = &EXTRA[k];
    const char *on = getenv("LEXIE_TEST_QUALITY");
    char *path = NULL, file[256];
    lexie_error e;
    *pf = NULL;
    if (!on || strcmp(on, "1") != 0) {
        lx_test_skip(t, "set LEXIE_TEST_QUALITY=1 to compare %s with llama.cpp", x->name);
        return NULL;
    }
    if (lexie_model_cached_path(x->name, &path, &e) != LEXIE_OK) {
        lx_test_skip(t, "%s not in cache (lexie pull %s): %s", x->name, x->name, e.message);
        return NULL;
    }
    snprintf(file, sizeof file, "parity_%s.txt", x->name);
    lexie_model *m = open_model_at(t, pf, path, file);
    lexie_free(path);
    if (m) {
        (*pf)->tol_logit = x->tol_logit;
        (*pf)->tol_margin = x->tol_margin;
    }
    return m;
}

static void extra_tokenizer(lx_t *t, int k) {
    parity *f;
    lexie_model *m = open_extra(t, k, &f);
    if (m) run_tokenizer(t, m, f);
}

static void extra_logits(lx_t *t, int k) {
    parity *f;
    lexie_model *m = open_extra(t, k, &f);
    if (m) run_logits(t, m, f);
}

/* One tokenizer and one logits test per EXTRA entry, so each model passes
** or skips on its own line. */
#define EXTRA_TESTS(tag, k)                                                                        \
    static void test_parity_##tag##_tokenizer(lx_t *t) { extra_tokenizer(t, k); }                  \
    static void test_parity_##tag##_logits(lx_t *t) { extra_logits(t, k); }
EXTRA_TESTS(qwen05, 0)
EXTRA_TESTS(qwen15, 1)
EXTRA_TESTS(gemma3, 2)

void suite_parity(void) {
    LX_RUN(test_parity_tokenizer);
    LX_RUN(test_parity_logits);
    LX_RUN(test_parity_qwen05_tokenizer);
    LX_RUN(test_parity_qwen05_logits);
    LX_RUN(test_parity_qwen15_tokenizer);
    LX_RUN(test_parity_qwen15_logits);
    LX_RUN(test_parity_gemma3_tokenizer);
    LX_RUN(test_parity_gemma3_logits);
}
