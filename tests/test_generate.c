/*
** test_generate.c -- the generation loop and the sampler on a tiny
** random-weight model: greedy decoding follows the argmax chain, sampling
** is reproducible from its seed, stop strings cut the text before them,
** streamed pieces add up to the returned text, and top-k / top-p keep
** only the tokens they should.
*/
#include "base/base.h"
#include "decode/decode.h"
#include "lexie.h"
#include "lx_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    lexie_model *m;
    lexie_ctx *c;
} gen_fx;

static int gen_open(lx_t *t, gen_fx *f) {
    char path[512];
    snprintf(path, sizeof path, "%s/llama_q.gguf", lx_test_fixtures());
    lexie_error e;
    f->m = lexie_model_load(path, NULL, &e);
    if (!f->m) {
        lx_test_skip(t, "fixture %s: %s (run make test)", path, e.message);
        return 0;
    }
    lexie_ctx_params p = lexie_ctx_default_params();
    p.n_ctx = 128;
    p.n_threads = 1;
    f->c = lexie_ctx_new(f->m, &p, &e);
    if (!f->c) lx_test_fail(t, __FILE__, __LINE__, "ctx: %s", e.message);
    return f->c != NULL;
}

static void gen_close(gen_fx *f) {
    lexie_ctx_free(f->c);
    lexie_model_free(f->m);
}

static const lexie_token PROMPT[] = {5, 17, 33, 2, 40, 41};
#define N_PROMPT ((int)(sizeof PROMPT / sizeof PROMPT[0]))

static char *gen(gen_fx *f, const lexie_gen_params *p, lexie_gen_callback cb, void *user, int *n) {
    char *out = NULL;
    lexie_error e;
    lexie_kv_clear(f->c);
    if (lexie_generate(f->c, PROMPT, N_PROMPT, p, cb, user, &out, n, &e) != LEXIE_OK) return NULL;
    return out;
}

typedef struct {
    char buf[4096];
    size_t len;
    int calls;
} sink;

static int collect(const char *piece, size_t len, void *user) {
    sink *s = user;
    if (s->len + len < sizeof s->buf) {
        memcpy(s->buf + s->len, piece, len);
        s->len += len;
    }
    s->calls++;
    return 0;
}

/* Greedy text must be the argmax chain computed by hand with decode. */
static void test_generate_greedy(lx_t *t) {
    gen_fx f;
    if (!gen_open(t, &f)) return;
    lexie_gen_params p = lexie_gen_default_params();
    p.max_tokens = 12;
    int n = 0;
    sink s = {{0}, 0, 0};
    char *text = gen(&f, &p, collect, &s, &n);
    LX_REQUIRE(t, text != NULL);
    LX_CHECK(t, n > 0 && n <= 12);
    LX_CHECK_INT(t, s.len, strlen(text));
    LX_CHECK(t, memcmp(s.buf, text, s.len) == 0);

    /* By hand: argmax of the logits, fed back one token at a time. */
    char hand[4096] = "";
    size_t hl = 0;
    lexie_error e;
    lexie_kv_clear(f.c);
    lexie_batch b = {N_PROMPT, PROMPT, NULL, NULL, NULL};
    LX_REQUIRE(t, lexie_ctx_decode(f.c, &b, &e) == LEXIE_OK);
    for (int i = 0; i < n; i++) {
        lexie_token tok = lexie_sample(f.m, lexie_ctx_logits(f.c, -1), NULL, NULL);
        char piece[64];
        int len = lexie_token_to_piece(f.m, tok, piece, sizeof piece);
        if (len > 0 && hl + (size_t)len < sizeof hand) {
            memcpy(hand + hl, piece, (size_t)len);
            hl += (size_t)len;
        }
        lexie_batch one = {1, &tok, NULL, NULL, NULL};
        LX_REQUIRE(t, lexie_ctx_decode(f.c, &one, &e) == LEXIE_OK);
    }
    /* generate() turns bytes that do not form UTF-8 into U+FFFD, as
    ** lx_utf8_sanitize does (random weights emit such byte tokens). */
    char valid[3 * sizeof hand];
    size_t vl = lx_utf8_sanitize(hand, hl, 1, valid, NULL);
    LX_CHECK(t, lx_utf8_valid(text, strlen(text), NULL));
    LX_CHECK_INT(t, strlen(text), vl);
    LX_CHECK(t, memcmp(valid, text, vl) == 0);
    lexie_free(text);
    gen_close(&f);
}

static void test_generate_seeded(lx_t *t) {
    gen_fx f;
    if (!gen_open(t, &f)) return;
    lexie_gen_params p = lexie_gen_default_params();
    p.max_tokens = 16;
    p.sampler.temperature = 1.5f;
    p.sampler.seed = 1234;
    char *a = gen(&f, &p, NULL, NULL, NULL);
    char *b = gen(&f, &p, NULL, NULL, NULL);
    LX_REQUIRE(t, a && b);
    LX_CHECK(t, strcmp(a, b) == 0);
    LX_CHECK(t, lx_utf8_valid(a, strlen(a), NULL));
    /* Some other seed gives other text (16 tokens at temperature 1.5). */
    int differs = 0;
    for (uint64_t s = 1; s < 6 && !differs; s++) {
        p.sampler.seed = s;
        char *c = gen(&f, &p, NULL, NULL, NULL);
        differs = c && strcmp(a, c) != 0;
        lexie_free(c);
    }
    LX_CHECK(t, differs);
    lexie_free(a);
    lexie_free(b);
    gen_close(&f);
}

static void test_generate_stop(lx_t *t) {
    gen_fx f;
    if (!gen_open(t, &f)) return;
    lexie_gen_params p = lexie_gen_default_params();
    p.max_tokens = 24;
    char *full = gen(&f, &p, NULL, NULL, NULL);
    LX_REQUIRE(t, full != NULL);
    size_t len = strlen(full);
    if (len < 6) {
        lexie_free(full);
        gen_close(&f);
        LX_SKIP(t, "greedy text too short (%zu bytes) to cut", len);
    }
    /* Stop at a 3-byte piece from the middle of the greedy text. */
    char stop[4];
    memcpy(stop, full + len / 2, 3);
    stop[3] = 0;
    size_t cut = (size_t)(strstr(full, stop) - full);
    const char *stops[] = {"\x01never", stop, NULL};
    p.stop = stops;
    sink s = {{0}, 0, 0};
    char *part = gen(&f, &p, collect, &s, NULL);
    LX_REQUIRE(t, part != NULL);
    LX_CHECK_INT(t, strlen(part), cut);
    LX_CHECK(t, strncmp(part, full, cut) == 0);
    LX_CHECK_INT(t, s.len, cut); /* nothing past the cut was streamed */
    lexie_free(part);
    lexie_free(full);
    gen_close(&f);
}

/* top_k = 1 is greedy whatever the temperature; a tiny top_p as well. */
static void test_generate_sampler_filters(lx_t *t) {
    gen_fx f;
    if (!gen_open(t, &f)) return;
    int nv = lexie_model_n_vocab(f.m);
    float *logits = malloc((size_t)nv * sizeof *logits);
    LX_REQUIRE(t, logits);
    for (int i = 0; i < nv; i++) logits[i] = 3.0f * sinf((float)i); /* distinct values */
    int best = 0;
    for (int i = 1; i < nv; i++)
        if (logits[i] > logits[best]) best = i;
    lexie_sampler_params sp = lexie_sampler_default_params();
    sp.temperature = 5.0f;
    uint64_t st = 99;
    sp.top_k = 1;
    for (int r = 0; r < 50; r++) LX_CHECK_INT(t, lexie_sample(f.m, logits, &sp, &st), best);
    sp.top_k = 0;
    sp.top_p = 1e-6f;
    for (int r = 0; r < 50; r++) LX_CHECK_INT(t, lexie_sample(f.m, logits, &sp, &st), best);
    /* top_k = 3 keeps exactly the three largest logits, and all of them
    ** come up at a high temperature. */
    float third = -INFINITY;
    for (int i = 0; i < nv; i++) {
        int above = 0;
        for (int j = 0; j < nv; j++) above += logits[j] > logits[i];
        if (above == 2) third = logits[i];
    }
    sp.top_p = 1.0f;
    sp.top_k = 3;
    int seen_other = 0, seen_third = 0;
    for (int r = 0; r < 300; r++) {
        int tok = lexie_sample(f.m, logits, &sp, &st);
        if (logits[tok] < third) seen_other = 1;
        if (logits[tok] == third) seen_third = 1;
    }
    LX_CHECK(t, !seen_other);
    LX_CHECK(t, seen_third);
    free(logits);
    gen_close(&f);
}

/* Greedy picks the first of tied maxima; a NaN counts only at index 0 (as
** the plain loop "x[i] > x[best]" decides), -0 equals +0. */
static void test_generate_greedy_argmax(lx_t *t) {
    gen_fx f;
    if (!gen_open(t, &f)) return;
    int nv = lexie_model_n_vocab(f.m);
    float *x = malloc((size_t)nv * sizeof *x);
    LX_REQUIRE(t, x);
    /* Around the 256-logit blocks that the search skips, too. */
    static const int at[] = {0, 1, 15, 16, 17, 100, 255, 256, 257, 511, 600};
    for (size_t k = 0; k < LX_ARRAY_LEN(at); k++) {
        if (at[k] >= nv - 20) continue;
        for (int i = 0; i < nv; i++) x[i] = -1.0f - (float)(i % 7);
        const int a = at[k], b = nv - 1 - (int)k;
        x[a] = x[b] = 2.0f; /* a tie: the first wins */
        LX_CHECK_INT(t, lexie_sample(f.m, x, NULL, NULL), a);
        x[a] = NAN; /* a NaN after index 0 is passed over */
        LX_CHECK_INT(t, lexie_sample(f.m, x, NULL, NULL), a == 0 ? 0 : b);
    }
    if (nv > 300) { /* a block that starts with NaN (its max is NaN) holds the maximum */
        for (int i = 0; i < nv; i++) x[i] = -1.0f;
        x[256] = NAN;
        x[290] = 3.0f;
        LX_CHECK_INT(t, lexie_sample(f.m, x, NULL, NULL), 290);
    }
    for (int i = 0; i < nv; i++) x[i] = -INFINITY;
    x[3] = -0.0f;
    x[9] = 0.0f;
    LX_CHECK_INT(t, lexie_sample(f.m, x, NULL, NULL), 3);
    free(x);
    gen_close(&f);
}

/* Constrained decoding by hand: X = [5, end], Y = [5, 6, end], Z = [7, end].
** Step 0 splits 5 / 7 as 0.6 : 0.2 (0.75 : 0.25); after 5, end / 6 as
** 0.3 : 0.1 (0.75 : 0.25); a step with one way on is certain.  Sequence
** probabilities (0.18, 0.054, 0.1) would rank Z above Y and X far lower. */
static void test_constrained_probs(lx_t *t) {
    const lexie_token x[] = {5, 1}, y[] = {5, 6, 1}, z[] = {7, 1};
    const lexie_token *a[] = {x, y, z};
    const int n[] = {2, 3, 2};
    const float lx[] = {logf(0.6f), logf(0.3f)}, ly[] = {logf(0.6f), logf(0.1f), logf(0.9f)},
                lz[] = {logf(0.2f), logf(0.5f)};
    const float *lp[] = {lx, ly, lz};
    float p[3];
    lx_constrained_probs(a, n, 3, lp, p);
    LX_CHECK_CLOSE(t, p[0], 0.5625, 1e-6);
    LX_CHECK_CLOSE(t, p[1], 0.1875, 1e-6);
    LX_CHECK_CLOSE(t, p[2], 0.25, 1e-6);
    /* One answer: certain, whatever the model thinks of it. */
    lx_constrained_probs(a + 2, n + 2, 1, lp + 2, p);
    LX_CHECK_CLOSE(t, p[0], 1.0, 1e-7);
}

void suite_generate(void) {
    LX_RUN(test_constrained_probs);
    LX_RUN(test_generate_greedy);
    LX_RUN(test_generate_seeded);
    LX_RUN(test_generate_stop);
    LX_RUN(test_generate_sampler_filters);
    LX_RUN(test_generate_greedy_argmax);
}
