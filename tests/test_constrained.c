/*
** test_constrained.c -- generation under a grammar on a tiny random-weight
** model, whose unconstrained output is garbage: that is the point, since
** whatever it produces under a JSON Schema must still parse and match the
** schema, and under a GBNF grammar match the grammar.  Checked over seeds,
** temperatures and tight token budgets (complete output, or a reported
** cut, never an invalid output passed as finished); the sampler never
** draws a masked-out token; the CLI options and their errors.
*/
#include "base/base.h"
#include "base/json.h"
#include "decode/decode.h"
#include "lexie.h"
#include "lx_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"maxLength\":12},"
    "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":120},"
    "\"color\":{\"enum\":[\"red\",\"green\",\"blue\",\"greenish\"]},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":6},\"maxItems\":3}},"
    "\"required\":[\"name\",\"age\",\"color\",\"tags\"],\"additionalProperties\":false}";

/* (subject; relation; object) lines, as ADELIE writes them. */
static const char GBNF[] = "root ::= triple (\"\\n\" triple)?\n"
                           "triple ::= \"(\" word \"; \" word \"; \" word \")\"\n"
                           "word ::= [a-z] [a-z0-9]{0,7}\n";

typedef struct {
    lexie_model *m;
    lexie_ctx *c;
    lexie_grammar_vocab *v;
} cfx;

static int cfx_open(lx_t *t, cfx *f, int n_ctx) {
    char path[512];
    snprintf(path, sizeof path, "%s/llama_q.gguf", lx_test_fixtures());
    lexie_error e;
    memset(f, 0, sizeof *f);
    f->m = lexie_model_load(path, NULL, &e);
    if (!f->m) {
        lx_test_skip(t, "fixture %s: %s (run make test)", path, e.message);
        return 0;
    }
    lexie_ctx_params p = lexie_ctx_default_params();
    p.n_ctx = n_ctx;
    p.n_threads = 1;
    f->c = lexie_ctx_new(f->m, &p, &e);
    if (f->c) f->v = lexie_grammar_vocab_new(f->m, &e);
    if (!f->c || !f->v) lx_test_fail(t, __FILE__, __LINE__, "setup: %s", e.message);
    return f->c && f->v;
}

static void cfx_close(cfx *f) {
    lexie_grammar_vocab_free(f->v);
    lexie_ctx_free(f->c);
    lexie_model_free(f->m);
}

static const lexie_token PROMPT[] = {5, 17, 33, 2, 40, 41};
#define N_PROMPT ((int)(sizeof PROMPT / sizeof PROMPT[0]))

/* Generates under g; returns the text (lexie_free) or NULL on failure. */
static char *cgen(lx_t *t, cfx *f, const lexie_grammar *g, int n_max, float temp, uint64_t seed,
                  lexie_gen_stop *why, int *n_gen) {
    lexie_gen_params p = lexie_gen_default_params();
    p.max_tokens = n_max;
    p.sampler.temperature = temp;
    p.sampler.top_k = temp > 1.0f ? 0 : 40;
    p.sampler.top_p = temp > 1.0f ? 1.0f : 0.95f;
    p.sampler.seed = seed;
    p.grammar = g;
    p.grammar_vocab = f->v;
    char *out = NULL;
    lexie_error e;
    lexie_kv_clear(f->c);
    if (lexie_generate_ex(f->c, PROMPT, N_PROMPT, &p, NULL, NULL, &out, n_gen, why, &e) !=
        LEXIE_OK) {
        lx_test_fail(t, __FILE__, __LINE__, "generate: %s", e.message);
        return NULL;
    }
    return out;
}

/* Code points in s[0..n). */
static size_t n_chars(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* 1 when text is a JSON instance of SCHEMA, checked by hand. */
static int matches_schema(const char *text, char *why, size_t nwhy) {
    lexie_error e;
    lx_json_doc *d = lx_json_parse(text, strlen(text), NULL, &e);
    if (!d) {
        snprintf(why, nwhy, "does not parse: %.200s", e.message);
        return 0;
    }
    const lx_json *r = lx_json_root(d), *name, *age, *color, *tags;
    int64_t a = -1;
    const char *bad = NULL;
    if (r->type != LX_JSON_OBJECT || r->n != 4)
        bad = "not an object of 4 members";
    else if (!(name = lx_json_get(r, "name")) || name->type != LX_JSON_STRING ||
             n_chars(name->str, name->len) > 12)
        bad = "name";
    else if (!(age = lx_json_get(r, "age")) || !lx_json_int(age, &a) || a < 0 || a > 120 ||
             strchr(age->str, '.') || strchr(age->str, 'e') || strchr(age->str, 'E'))
        bad = "age";
    else if (!(color = lx_json_get(r, "color")) || color->type != LX_JSON_STRING ||
             (strcmp(color->str, "red") && strcmp(color->str, "green") &&
              strcmp(color->str, "blue") && strcmp(color->str, "greenish")))
        bad = "color";
    else if (!(tags = lx_json_get(r, "tags")) || tags->type != LX_JSON_ARRAY || tags->n > 3)
        bad = "tags";
    else
        for (int i = 0; i < tags->n && !bad; i++)
            if (tags->items[i]->type != LX_JSON_STRING ||
                n_chars(tags->items[i]->str, tags->items[i]->len) > 6)
                bad = "a tag";
    if (bad) snprintf(why, nwhy, "%s does not match the schema", bad);
    lx_json_doc_free(d);
    return !bad;
}

static int is_word(const char **p) {
    const char *s = *p;
    if (*s < 'a' || *s > 'z') return 0;
    int n = 1;
    while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9')) n++;
    *p = s + n;
    return n <= 8;
}

/* 1 when text matches GBNF, checked by hand. */
static int matches_gbnf(const char *s) {
    for (int line = 0; line < 2; line++) {
        if (*s++ != '(' || !is_word(&s) || strncmp(s, "; ", 2)) return 0;
        s += 2;
        if (!is_word(&s) || strncmp(s, "; ", 2)) return 0;
        s += 2;
        if (!is_word(&s) || *s++ != ')') return 0;
        if (!*s) return 1;
        if (*s++ != '\n') return 0;
    }
    return 0;
}

static lexie_grammar *schema_grammar(lx_t *t) {
    lexie_error e;
    lexie_grammar *g = lexie_grammar_from_json_schema(SCHEMA, strlen(SCHEMA), NULL, &e);
    if (!g) lx_test_fail(t, __FILE__, __LINE__, "schema: %s", e.message);
    return g;
}

/* Whatever the seed and temperature, the output is a valid instance, and
** it ended on the end-of-generation token (or a full budget) only when
** complete. */
static void test_constrained_schema(lx_t *t) {
    cfx f;
    if (!cfx_open(t, &f, 512)) return cfx_close(&f);
    lexie_grammar *g = schema_grammar(t);
    static const float temps[] = {0.0f, 0.7f, 1.0f, 1.5f, 3.0f};
    int n_runs = 0, n_cut = 0;
    for (int ti = 0; g && ti < (int)(sizeof temps / sizeof *temps); ti++)
        for (uint64_t seed = 1; seed <= (temps[ti] > 0 ? 4u : 1u); seed++) {
            lexie_gen_stop why;
            int n = 0;
            char *out = cgen(t, &f, g, 300, temps[ti], seed, &why, &n);
            if (!out) continue;
            char msg[256];
            n_runs++;
            n_cut += why == LEXIE_GEN_GRAMMAR_CUT;
            LX_CHECK_MSG(t, why == LEXIE_GEN_EOG || why == LEXIE_GEN_MAX_TOKENS,
                         "temp %.1f seed %d: stop %d after %d tokens", temps[ti], (int)seed,
                         (int)why, n);
            if (why != LEXIE_GEN_GRAMMAR_CUT)
                LX_CHECK_MSG(t, matches_schema(out, msg, sizeof msg), "temp %.1f seed %d: %s: %s",
                             temps[ti], (int)seed, msg, out);
            lexie_free(out);
        }
    LX_CHECK(t, n_runs == 17 && n_cut == 0);
    lexie_grammar_free(g);
    cfx_close(&f);
}

static void test_constrained_gbnf(lx_t *t) {
    cfx f;
    if (!cfx_open(t, &f, 256)) return cfx_close(&f);
    lexie_error e;
    lexie_grammar *g = lexie_grammar_from_gbnf(GBNF, strlen(GBNF), NULL, &e);
    LX_REQUIRE(t, g != NULL);
    for (uint64_t seed = 1; seed <= 6; seed++) {
        lexie_gen_stop why;
        int n = 0;
        char *out = cgen(t, &f, g, 120, seed == 1 ? 0.0f : 1.2f, seed, &why, &n);
        if (!out) continue;
        LX_CHECK_MSG(t, why == LEXIE_GEN_EOG || why == LEXIE_GEN_MAX_TOKENS, "seed %d: stop %d",
                     (int)seed, (int)why);
        LX_CHECK_MSG(t, matches_gbnf(out), "seed %d: '%s'", (int)seed, out);
        lexie_free(out);
    }
    /* Another start rule: one word. */
    lexie_grammar *w = lexie_grammar_from_gbnf(GBNF, strlen(GBNF), "word", &e);
    LX_REQUIRE(t, w != NULL);
    lexie_gen_stop why;
    int n = 0;
    char *out = cgen(t, &f, w, 50, 1.0f, 9, &why, &n);
    const char *p = out;
    LX_CHECK_MSG(t, out && is_word(&p) && !*p, "word: '%s'", out ? out : "(null)");
    lexie_free(out);
    lexie_grammar_free(w);
    lexie_grammar_free(g);
    cfx_close(&f);
}

/* Every budget from 1 token up: the output is complete and valid, or the
** stop says it was cut; small budgets must cut, and a budget well short
** of the unconstrained run's length must still close the output. */
static void test_constrained_budget(lx_t *t) {
    cfx f;
    if (!cfx_open(t, &f, 512)) return cfx_close(&f);
    lexie_grammar *g = schema_grammar(t);
    int n_cut = 0, n_ok = 0, first_ok = 0;
    for (int budget = 1; g && budget <= 70; budget += (budget < 40 ? 3 : 1)) {
        lexie_gen_stop why;
        int n = 0;
        char *out = cgen(t, &f, g, budget, 1.5f, 7, &why, &n);
        if (!out) continue;
        char msg[256];
        LX_CHECK(t, n <= budget);
        if (why == LEXIE_GEN_GRAMMAR_CUT) {
            n_cut++;
        } else {
            n_ok++;
            if (!first_ok) first_ok = budget;
            LX_CHECK_MSG(t, matches_schema(out, msg, sizeof msg), "budget %d (stop %d): %s: %s",
                         budget, (int)why, msg, out);
        }
        lexie_free(out);
    }
    LX_CHECK_MSG(t, n_cut > 0 && n_ok > 0, "%d cut, %d complete", n_cut, n_ok);
    /* The shortest instance is 44 bytes; some budget up to 70 must close. */
    LX_CHECK_MSG(t, first_ok > 0 && first_ok <= 70, "first complete budget %d", first_ok);
    /* The context as the budget: a 40-cell cache leaves 34 after the prompt. */
    cfx small;
    if (g && cfx_open(t, &small, 40)) {
        lexie_gen_stop why;
        int n = 0;
        char *out = cgen(t, &small, g, 0, 1.5f, 7, &why, &n);
        char msg[256];
        LX_CHECK_MSG(t, out && why == LEXIE_GEN_GRAMMAR_CUT, "stop %d", (int)why);
        lexie_free(out);
        cfx_close(&small);
        LX_REQUIRE(t, cfx_open(t, &small, 80));
        out = cgen(t, &small, g, 0, 1.5f, 7, &why, &n);
        LX_CHECK_MSG(t, out && why != LEXIE_GEN_GRAMMAR_CUT, "n_ctx 80: stop %d", (int)why);
        if (out && why != LEXIE_GEN_GRAMMAR_CUT)
            LX_CHECK_MSG(t, matches_schema(out, msg, sizeof msg), "n_ctx 80: %s: %s", msg, out);
        lexie_free(out);
    }
    cfx_close(&small);
    lexie_grammar_free(g);
    cfx_close(&f);
}

static int stop_at_once(const char *piece, size_t len, void *user) {
    (void)piece, (void)len, (void)user;
    return 1;
}

/* A grammar whose shortest sentence needs more tokens than -n allows is
** cut at once; stop strings are refused with a grammar. */
static void test_constrained_refusals(lx_t *t) {
    cfx f;
    if (!cfx_open(t, &f, 128)) return cfx_close(&f);
    lexie_error e;
    static const char long_g[] = "root ::= \"abcdefghijklmnopqrstuvwxyz\"";
    lexie_grammar *g = lexie_grammar_from_gbnf(long_g, strlen(long_g), NULL, &e);
    LX_REQUIRE(t, g != NULL);
    lexie_gen_stop why;
    int n = -1;
    char *out = cgen(t, &f, g, 5, 1.0f, 1, &why, &n);
    LX_CHECK(t, out && why == LEXIE_GEN_GRAMMAR_CUT);
    lexie_free(out);
    lexie_gen_params p = lexie_gen_default_params();
    const char *stops[] = {"x", NULL};
    p.grammar = g;
    p.grammar_vocab = f.v;
    p.stop = stops;
    LX_CHECK(t, lexie_generate_ex(f.c, PROMPT, N_PROMPT, &p, NULL, NULL, &out, &n, &why, &e) ==
                    LEXIE_E_INVALID);
    /* Without a vocabulary in the params, generate builds one; timing is
    ** filled. */
    p.stop = NULL;
    p.grammar_vocab = NULL;
    p.max_tokens = 40;
    lexie_gen_timing tm;
    p.timing = &tm;
    out = NULL;
    LX_CHECK(t, lexie_generate_ex(f.c, PROMPT, N_PROMPT, &p, NULL, NULL, &out, &n, &why, &e) ==
                    LEXIE_OK);
    LX_CHECK_MSG(t, out && !strcmp(out, "abcdefghijklmnopqrstuvwxyz"), "'%s'", out ? out : "");
    LX_CHECK(t, tm.n_steps >= 1 && tm.mask_s > 0 && tm.step_s >= tm.mask_s);
    lexie_free(out);
    /* A callback that stops generation is told as such, not as a cut. */
    out = NULL;
    LX_CHECK(t, lexie_generate_ex(f.c, PROMPT, N_PROMPT, &p, stop_at_once, NULL, &out, &n, &why,
                                  &e) == LEXIE_OK);
    LX_CHECK_MSG(t, why == LEXIE_GEN_CALLBACK && n == 1, "stop %d after %d", (int)why, n);
    lexie_free(out);
    lexie_grammar_free(g);
    cfx_close(&f);
}

/* The sampler never draws a token at -inf, whatever the filters. */
static void test_constrained_sampler_mask(lx_t *t) {
    cfx f;
    if (!cfx_open(t, &f, 64)) return cfx_close(&f);
    int nv = lexie_model_n_vocab(f.m);
    float *lg = malloc((size_t)nv * sizeof *lg);
    LX_REQUIRE(t, lg != NULL);
    for (int i = 0; i < nv; i++) lg[i] = (i % 5 == 0) ? (float)(i % 13) * 0.3f : -INFINITY;
    lg[3] = -INFINITY;
    static const lexie_sampler_params sps[] = {
        {0.0f, 0, 1.0f, 1}, {1.0f, 0, 1.0f, 2}, {2.0f, 5, 1.0f, 3}, {0.8f, 0, 0.5f, 4}};
    for (int k = 0; k < 4; k++) {
        uint64_t st = sps[k].seed;
        for (int d = 0; d < 200; d++) {
            lexie_token tk = lexie_sample(f.m, lg, &sps[k], &st);
            LX_CHECK_MSG(t, tk >= 0 && tk < nv && tk % 5 == 0, "params %d: token %d", k, tk);
            if (tk % 5) break;
        }
    }
    free(lg);
    cfx_close(&f);
}

typedef struct {
    int rc;
    char out[4096], err[4096];
} cli_res;

static void run_cli(const char *args, cli_res *r) {
    char cmd[4096], eo[64];
    snprintf(eo, sizeof eo, "/tmp/lexie_tc_err_%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s %s 2>%s", lx_test_cli(), args, eo);
    memset(r, 0, sizeof *r);
    FILE *p = popen(cmd, "r");
    if (!p) {
        r->rc = -1;
        return;
    }
    size_t n = fread(r->out, 1, sizeof r->out - 1, p);
    r->out[n] = 0;
    int st = pclose(p);
    r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    FILE *e = fopen(eo, "rb");
    if (e) {
        n = fread(r->err, 1, sizeof r->err - 1, e);
        r->err[n] = 0;
        fclose(e);
    }
    remove(eo);
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static void test_constrained_cli(lx_t *t) {
    char model[512], schema[128], bad[128], gram[128], args[2048];
    snprintf(model, sizeof model, "%s/llama_q.gguf", lx_test_fixtures());
    FILE *mf = fopen(model, "rb");
    if (!mf) return lx_test_skip(t, "no fixture %s", model);
    fclose(mf);
    int pid = (int)getpid();
    snprintf(schema, sizeof schema, "/tmp/lexie_tc_schema_%d.json", pid);
    snprintf(bad, sizeof bad, "/tmp/lexie_tc_bad_%d.json", pid);
    snprintf(gram, sizeof gram, "/tmp/lexie_tc_gram_%d.gbnf", pid);
    LX_REQUIRE(t, write_file(schema, SCHEMA) &&
                      write_file(bad, "{\"type\":\"object\",\"properties\":{\"a\":"
                                      "{\"type\":\"object\",\"if\":{}}}}") &&
                      write_file(gram, GBNF));
    cli_res r;
    char msg[256];
    snprintf(args, sizeof args,
             "generate -m %s -p hello -t 1 --temp 1.3 --seed 5 -n 200 "
             "--json-schema %s --timing",
             model, schema);
    run_cli(args, &r);
    size_t n = strlen(r.out);
    if (n && r.out[n - 1] == '\n') r.out[n - 1] = 0;
    LX_CHECK_MSG(t, r.rc == 0, "rc %d: %s", r.rc, r.err);
    LX_CHECK_MSG(t, matches_schema(r.out, msg, sizeof msg), "%s: %s", msg, r.out);
    LX_CHECK_MSG(t, strstr(r.err, "grammar masks") != NULL, "no timing: %s", r.err);

    snprintf(args, sizeof args, "generate -m %s -p hello -t 1 --temp 1.3 -n 60 --grammar %s", model,
             gram);
    run_cli(args, &r);
    n = strlen(r.out);
    if (n && r.out[n - 1] == '\n') r.out[n - 1] = 0;
    LX_CHECK_MSG(t, r.rc == 0 && matches_gbnf(r.out), "rc %d: '%s' %s", r.rc, r.out, r.err);

    /* The unsupported keyword is named with its pointer; nothing generated. */
    snprintf(args, sizeof args, "generate -m %s -p hello -n 20 --json-schema %s", model, bad);
    run_cli(args, &r);
    LX_CHECK_MSG(t,
                 r.rc == 1 && !r.out[0] && strstr(r.err, "'if'") && strstr(r.err, "/properties/a"),
                 "rc %d out '%s' err %s", r.rc, r.out, r.err);

    /* A budget too small to close: exit 1 with a message. */
    snprintf(args, sizeof args, "generate -m %s -p hello -n 8 --json-schema %s", model, schema);
    run_cli(args, &r);
    LX_CHECK_MSG(t, r.rc == 1 && strstr(r.err, "cut"), "rc %d err %s", r.rc, r.err);

    /* Usage errors. */
    snprintf(args, sizeof args, "generate -m %s -p hello --json-schema %s --grammar %s", model,
             schema, gram);
    run_cli(args, &r);
    LX_CHECK_MSG(t, r.rc == 2 && strstr(r.err, "not both"), "rc %d err %s", r.rc, r.err);
    snprintf(args, sizeof args, "generate -m %s -p hello --grammar-root word", model);
    run_cli(args, &r);
    LX_CHECK_MSG(t, r.rc == 2, "rc %d err %s", r.rc, r.err);
    snprintf(args, sizeof args, "generate -m %s -p hello --grammar %s --stop x", model, gram);
    run_cli(args, &r);
    LX_CHECK_MSG(t, r.rc == 2, "rc %d err %s", r.rc, r.err);
    snprintf(args, sizeof args, "generate -m %s -p hello --grammar /nonexistent/g.gbnf", model);
    run_cli(args, &r);
    LX_CHECK_MSG(t, r.rc == 1 && strstr(r.err, "cannot open"), "rc %d err %s", r.rc, r.err);
    remove(schema);
    remove(bad);
    remove(gram);
}

void suite_constrained(void) {
    LX_RUN(test_constrained_schema);
    LX_RUN(test_constrained_gbnf);
    LX_RUN(test_constrained_budget);
    LX_RUN(test_constrained_refusals);
    LX_RUN(test_constrained_sampler_mask);
    LX_RUN(test_constrained_cli);
}
