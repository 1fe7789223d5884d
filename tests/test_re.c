/*
** test_re.c -- relation extraction: schemas (built-in ones and bad ones),
** type-constraint filtering, prompt rendering against golden strings,
** option letters and their mapping back to labels (single- and
** multi-token, through a fake backend with a byte tokenizer), permutation
** averaging, answer parsing, dataset readers (round trips), metrics on
** hand-made cases including the SemEval official score, prediction files,
** and one real-model example when the default model is present.
*/
#include "eval/eval.h"
#include "ie/ie.h"
#include "lx_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char TOY[] =
    "{\"name\": \"toy\", \"entity_types\": [\"PER\", \"LOC\", \"ORG\"],\n"
    " \"none\": {\"label\": \"none\", \"template\": \"{subj} and {obj} are unrelated\"},\n"
    " \"relations\": [\n"
    "  {\"label\": \"lives_in\", \"templates\": [\"{subj} lives in {obj}\"], \"types\": [[\"PER\", "
    "\"LOC\"]]},\n"
    "  {\"label\": \"works_for\", \"template\": \"{subj} works for {obj}\", \"types\": [[\"PER\", "
    "\"ORG\"]]},\n"
    "  {\"label\": \"born_in\", \"templates\": [\"{subj} was born in {obj}\"], \"types\": "
    "[[\"PER\", \"LOC\"]]}]}";

static lx_re_schema *toy(lx_t *t) {
    lexie_error e;
    lx_re_schema *s = lx_re_schema_parse(TOY, strlen(TOY), "toy", &e);
    if (!s) lx_test_fail(t, __FILE__, __LINE__, "toy schema: %s", e.message);
    return s;
}

/* ==== Schemas ==== */

static void test_builtin_schemas(lx_t *t) {
    static const struct {
        const char *path, *none;
        int n;
    } want[] = {{"schemas/semeval.json", "Other", 18},
                {"schemas/tacred.json", "no_relation", 41},
                {"schemas/gad.json", "no_association", 1}};
    for (size_t i = 0; i < LX_ARRAY_LEN(want); i++) {
        lexie_error e;
        lx_re_schema *s = lx_re_schema_load(want[i].path, &e);
        LX_CHECK_MSG(t, s != NULL, "%s: %s", want[i].path, e.message);
        if (!s) continue;
        LX_CHECK_INT(t, s->n_rels, want[i].n);
        LX_CHECK(t, strcmp(s->none_label, want[i].none) == 0);
        LX_CHECK_INT(t, s->n_warnings, 0);
        LX_CHECK_INT(t, strlen(s->sha256), 64);
        LX_CHECK_INT(t, lx_re_schema_find(s, want[i].none), s->n_rels);
        lx_re_schema_free(s);
    }
    /* Public face. */
    lexie_error e;
    lexie_re_schema *s = lexie_re_schema_load("schemas/semeval.json", &e);
    LX_REQUIRE(t, s);
    LX_CHECK_INT(t, lexie_re_schema_n_labels(s), 19);
    LX_CHECK_INT(t, lexie_re_schema_none(s), 18);
    LX_CHECK(t, strcmp(lexie_re_schema_label(s, 0), "Cause-Effect(e1,e2)") == 0);
    LX_CHECK(t, lexie_re_schema_label(s, 19) == NULL);
    lexie_re_schema_free(s);
    lexie_re_schema_free(NULL);
}

/* Parses json and expects an error whose message contains want. */
static void bad_schema(lx_t *t, const char *json, const char *want) {
    lexie_error e = {0, ""};
    lx_re_schema *s = lx_re_schema_parse(json, strlen(json), "bad.json", &e);
    LX_CHECK_MSG(t, s == NULL, "accepted: %s", json);
    lx_re_schema_free(s);
    LX_CHECK_INT(t, e.code, LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strstr(e.message, want) != NULL, "message '%s' lacks '%s'", e.message, want);
}

static void test_bad_schemas(lx_t *t) {
    bad_schema(t, "{\"relations\": [{\"label\": \"a\", \"templates\": [\"{subj} likes\"]}]}",
               "bad.json: relations[0].templates[0] \"{subj} likes\" lacks the {obj} placeholder");
    bad_schema(t, "{\"relations\": [{\"label\": \"a\", \"template\": \"likes {obj}\"}]}",
               "relations[0].template \"likes {obj}\" lacks the {subj} placeholder");
    bad_schema(t, "{\"relations\": [{\"label\": \"a\", \"template\": \"{subj} {who} {obj}\"}]}",
               "unknown placeholder");
    bad_schema(t,
               "{\"none\": {\"label\": \"n\", \"template\": \"nothing\"}, \"relations\": "
               "[{\"label\": \"a\"}]}",
               "none.template \"nothing\" lacks both {subj} and {obj}");
    bad_schema(t,
               "{\"relations\": [{\"label\": \"a\", \"template\": \"{subj} a {obj}\"},\n"
               "                 {\"label\": \"a\", \"template\": \"{subj} b {obj}\"}]}",
               "relations[1]: duplicate label \"a\" (also relations[0])");
    bad_schema(t,
               "{\"relations\": [{\"label\": \"no_relation\", \"template\": \"{subj} a {obj}\"}]}",
               "is the none label");
    bad_schema(t,
               "{\"entity_types\": [\"PER\"], \"relations\": [{\"label\": \"a\", \"template\": "
               "\"{subj} a {obj}\", "
               "\"types\": [[\"PER\", \"CITY\"]]}]}",
               "relations[0].types[0]: unknown type \"CITY\" (not in entity_types)");
    bad_schema(t, "{\"relations\": [{\"label\": \"a\", \"types\": [\"PER\"]}]}",
               "relations[0].types[0] must be an array, not a string");
    bad_schema(t, "{\"relations\": [{\"label\": \"a\", \"types\": [[\"PER\"]]}]}",
               "must be a pair");
    bad_schema(t, "{\"relations\": [{\"label\": \"a\",\n \"templates\": \"{subj} {obj}\"}]}",
               "line 2, column 15: relations[0].templates must be an array, not a string");
    bad_schema(t, "{\"relations\": [{\"label\": 3}]}",
               "relations[0].label must be a string, not a number");
    bad_schema(t, "{\"relations\": []}", "relations is empty");
    bad_schema(t, "{\"name\": \"x\"}", "relations is missing");
    bad_schema(t, "[1]", "the schema must be an object, not an array");
    bad_schema(t, "{\"relations\": [{\"label\": \"a\",}]}",
               "bad.json: line 1, column 30: expected a string key");
    bad_schema(t, "{\"relations\": [\n{\"label\": \"a\"}\n", "bad.json: line 3, column 1:");
    bad_schema(t, "{\"relations\": [{\"label\": \"\xff\"}]}", "invalid UTF-8");

    /* A relation without a template gets one from its name, with a warning. */
    const char *j =
        "{\"relations\": [{\"label\": \"org:founded_by\"}, {\"label\": \"Cause-Effect(e1,e2)\"}]}";
    lexie_error e;
    lx_re_schema *s = lx_re_schema_parse(j, strlen(j), NULL, &e);
    LX_REQUIRE(t, s);
    LX_CHECK(t, strcmp(s->rels[0].templates[0], "{subj} founded by {obj}") == 0);
    LX_CHECK(t, strcmp(s->rels[1].templates[0], "{subj} Cause Effect {obj}") == 0);
    LX_CHECK_INT(t, s->n_warnings, 2);
    LX_CHECK(t, strstr(s->warnings[0], "\"org:founded_by\" has no template") != NULL);
    LX_CHECK(t, strcmp(s->none_label, "no_relation") == 0); /* the default none */
    lx_re_schema_free(s);

    LX_CHECK(t, lexie_re_schema_load("/nonexistent.json", &e) == NULL && e.code == LEXIE_E_IO);
}

static void test_type_filter(lx_t *t) {
    lexie_error e;
    lx_re_schema *s = lx_re_schema_load("schemas/tacred.json", &e);
    LX_REQUIRE(t, s);
    int c[64], n = lx_re_schema_candidates(s, "PERSON", "CITY", c);
    LX_CHECK_INT(t, n, 3);
    for (int i = 0; i < n; i++) {
        const char *l = s->rels[c[i]].label;
        LX_CHECK_MSG(t, strstr(l, "city") || strstr(l, "cities"), "offered %s", l);
    }
    n = lx_re_schema_candidates(s, "ORGANIZATION", "PERSON", c);
    int founded = 0;
    for (int i = 0; i < n; i++) {
        LX_CHECK(t, strncmp(s->rels[c[i]].label, "org:", 4) == 0);
        founded |= strcmp(s->rels[c[i]].label, "org:founded_by") == 0;
    }
    LX_CHECK(t, founded && n == 3); /* founded_by, shareholders, top_members */
    LX_CHECK_INT(t, lx_re_schema_candidates(s, "PERSON", "URL", c), 0);
    LX_CHECK_INT(t, lx_re_schema_candidates(s, NULL, NULL, c), 41);
    LX_CHECK_INT(t, lx_re_schema_candidates(s, "PERSON", NULL, c), 25);
    lx_re_schema_free(s);
    /* "*" matches any type; a relation without types fits every pair. */
    const char *j = "{\"relations\": [{\"label\": \"a\", \"template\": \"{subj} a {obj}\", "
                    "\"types\": [[\"*\", \"X\"]]},"
                    "{\"label\": \"b\", \"template\": \"{subj} b {obj}\"}]}";
    s = lx_re_schema_parse(j, strlen(j), NULL, &e);
    LX_REQUIRE(t, s);
    LX_CHECK_INT(t, lx_re_schema_candidates(s, "Q", "X", c), 2);
    LX_CHECK_INT(t, lx_re_schema_candidates(s, "Q", "Y", c), 1);
    LX_CHECK_INT(t, c[0], 1);
    lx_re_schema_free(s);
}

/* ==== Prompts ==== */

/* "Zoë moved to Paris.": Zoë = [0, 3), Paris = [13, 18) in code points. */
static const lx_re_input ZOE = {"Zo\xc3\xab moved to Paris.", 0, 3, 13, 18, "PER", "LOC"};

static void test_render(lx_t *t) {
    lx_re_schema *s = toy(t);
    LX_REQUIRE(t, s);
    lexie_error e;
    char *out;
    int opts[3] = {0, 2, 3};
    LX_REQUIRE(t, lx_re_render_turn(s, LX_RE_QA4RE, &ZOE, opts, 3, 1, &out, &e) == LEXIE_OK);
    const char *want = "Decide which option follows from the sentence.\n\n"
                       "Sentence: [Zo\xc3\xab] moved to [Paris].\n"
                       "Options:\n"
                       "A. [Zo\xc3\xab] lives in [Paris]\n"
                       "B. [Zo\xc3\xab] was born in [Paris]\n"
                       "C. [Zo\xc3\xab] and [Paris] are unrelated\n\n"
                       "Which option follows from the sentence? Answer with the letter.\n"
                       "Option:";
    LX_CHECK_MSG(t, strcmp(out, want) == 0, "got:\n%s", out);
    free(out);
    LX_REQUIRE(t, lx_re_render_turn(s, LX_RE_VANILLA, &ZOE, NULL, 0, 1, &out, &e) == LEXIE_OK);
    want = "Classify the relationship between two entities of a sentence. The possible "
           "relationships are:\n"
           "- lives_in\n- works_for\n- born_in\n- none\n\n"
           "Sentence: [Zo\xc3\xab] moved to [Paris].\n"
           "Entity 1: Zo\xc3\xab\n"
           "Entity 2: Paris\n"
           "Relationship:";
    LX_CHECK_MSG(t, strcmp(out, want) == 0, "got:\n%s", out);
    free(out);
    /* Unmarked, and the tail before the head. */
    lx_re_input rev = {"Paris is home to Zo\xc3\xab", 17, 20, 0, 5, NULL, NULL};
    LX_REQUIRE(t, lx_re_render_turn(s, LX_RE_VANILLA, &rev, NULL, 0, 0, &out, &e) == LEXIE_OK);
    LX_CHECK(
        t,
        strstr(out,
               "Sentence: Paris is home to Zo\xc3\xab\nEntity 1: Zo\xc3\xab\nEntity 2: Paris\n") !=
            NULL);
    free(out);
    lx_re_input adj = {"ab", 0, 1, 1, 2, NULL, NULL};
    LX_REQUIRE(t, lx_re_render_turn(s, LX_RE_VANILLA, &adj, NULL, 0, 1, &out, &e) == LEXIE_OK);
    LX_CHECK(t, strstr(out, "Sentence: [a][b]\n") != NULL);
    free(out);
    /* Spans outside the text and empty spans are refused. */
    lx_re_input bad = ZOE;
    bad.tail_end = 20;
    LX_CHECK(t, lx_re_render_turn(s, LX_RE_QA4RE, &bad, opts, 3, 1, &out, &e) == LEXIE_E_INVALID);
    LX_CHECK(t, strstr(e.message, "tail: span [13, 20)") != NULL);
    bad = ZOE;
    bad.head_end = 0;
    LX_CHECK(t, lx_re_render_turn(s, LX_RE_QA4RE, &bad, opts, 3, 1, &out, &e) == LEXIE_E_INVALID);
    lx_re_schema_free(s);
}

static void test_letters(lx_t *t) {
    char b[8];
    static const struct {
        int i;
        const char *s;
    } cases[] = {{0, "A"},   {1, "B"},   {25, "Z"},   {26, "AA"},  {27, "AB"},
                 {51, "AZ"}, {52, "BA"}, {701, "ZZ"}, {702, "AAA"}};
    for (size_t k = 0; k < LX_ARRAY_LEN(cases); k++) {
        lx_re_letter(cases[k].i, b);
        LX_CHECK_MSG(t, strcmp(b, cases[k].s) == 0, "%d -> %s, want %s", cases[k].i, b, cases[k].s);
    }
}

/* ==== A fake backend: one token per byte, token 1 ends a turn ==== */

typedef struct {
    const char *fav; /* the answer it prefers */
    const char *gen; /* what generate returns */
    int n_next, n_score, n_batch, n_gen;
} fake;

static lexie_status f_chat(void *u, const lexie_chat_msg *m, int n, int gen, char **out,
                           lexie_error *err) {
    (void)u;
    lx_jbuf b = {0};
    for (int i = 0; i < n; i++) lx_jbuf_printf(&b, "%c:%s\x01\n", m[i].role[0], m[i].content);
    if (gen) lx_jbuf_puts(&b, "a:");
    *out = b.data;
    return lx_jbuf_status(&b, err);
}

static lexie_status f_tok(void *u, const char *text, lexie_token **out, int *n, lexie_error *err) {
    (void)u;
    int len = (int)strlen(text);
    *out = lx_malloc((size_t)(len + 1) * sizeof **out, err);
    for (int i = 0; i < len; i++) (*out)[i] = (unsigned char)text[i];
    *n = len;
    return LEXIE_OK;
}

static int f_eog(void *u, lexie_token t) {
    (void)u;
    return t == 1;
}

static lexie_status f_next(void *u, const lexie_token *p, int n, const lexie_token *cand, int nc,
                           float *probs, lexie_error *err) {
    fake *f = u;
    (void)p, (void)n, (void)err;
    f->n_next++;
    double sum = 0;
    for (int k = 0; k < nc; k++)
        sum += probs[k] = cand[k] == (unsigned char)f->fav[0] ? 8.0f : 1.0f;
    for (int k = 0; k < nc; k++) probs[k] = (float)(probs[k] / sum);
    return LEXIE_OK;
}

static lexie_status f_batch(void *u, const lexie_token *const *p, const int *np, int n,
                            const lexie_token *cand, int nc, float *probs, lexie_error *err) {
    fake *f = u;
    f->n_batch++;
    for (int i = 0; i < n; i++) {
        f_next(u, p[i], np[i], cand, nc, probs + (size_t)i * nc, err);
        f->n_next--;
    }
    return LEXIE_OK;
}

static lexie_status f_score(void *u, const lexie_token *p, int n, const lexie_token *const *c,
                            const int *nc, int ncont, float *const *out, lexie_error *err) {
    fake *f = u;
    (void)p, (void)n, (void)err;
    f->n_score++;
    /* Along the favourite followed by end of turn (1), each token is
    ** likely; any step off it is not. */
    size_t fl = strlen(f->fav);
    for (int k = 0; k < ncont; k++) {
        int on = 1;
        for (int j = 0; j < nc[k]; j++) {
            lexie_token want = (size_t)j < fl ? (unsigned char)f->fav[j] : (size_t)j == fl ? 1 : -1;
            out[k][j] = on && c[k][j] == want ? -0.1f : -3.0f;
            on = on && c[k][j] == want;
        }
    }
    return LEXIE_OK;
}

static lexie_status f_gen(void *u, const lexie_token *p, int n, int mx, char **out,
                          lexie_error *err) {
    fake *f = u;
    (void)p, (void)n, (void)mx;
    f->n_gen++;
    *out = lx_strdup(f->gen, err);
    return LEXIE_OK;
}

static lx_re_backend fake_backend(fake *f, int batch) {
    lx_re_backend b = {f, f_chat, f_tok, f_eog, f_next, f_score, f_gen, batch ? f_batch : NULL};
    return b;
}

static void test_classify_single_letters(lx_t *t) {
    lx_re_schema *s = toy(t);
    LX_REQUIRE(t, s);
    for (int batch = 0; batch <= 1; batch++) {
        fake f = {"B", NULL, 0, 0, 0, 0};
        lx_re_backend b = fake_backend(&f, batch);
        lexie_error e;
        lx_re_clf *c = lx_re_clf_new(s, &b, NULL, &e);
        LX_REQUIRE(t, c);
        /* PER-LOC offers lives_in (A), born_in (B), none (C): B is born_in. */
        lx_re_input in[2] = {ZOE, ZOE};
        in[1].tail_type = "ORG"; /* works_for (A), none (B): B is none */
        lx_re_result r[2];
        LX_REQUIRE(t, lx_re_clf_run(c, in, 2, r, &e) == LEXIE_OK);
        LX_CHECK(t, lx_re_clf_single_token_letters(c));
        LX_CHECK_INT(t, r[0].label, 2);
        LX_CHECK_CLOSE(t, r[0].probs[2], 0.8, 1e-6);
        LX_CHECK_CLOSE(t, r[0].probs[0], 0.1, 1e-6);
        LX_CHECK_CLOSE(t, r[0].probs[1], 0.0, 0); /* works_for not offered */
        LX_CHECK_INT(t, r[1].label, 3);
        LX_CHECK_CLOSE(t, r[1].probs[3], 8.0 / 9.0, 1e-6);
        LX_CHECK_CLOSE(t, r[1].probs[1], 1.0 / 9.0, 1e-6);
        LX_CHECK_INT(t, f.n_score, 0);
        LX_CHECK_INT(t, batch ? f.n_batch : f.n_next, batch ? 1 : 2);
        for (int i = 0; i < 2; i++) lx_re_result_clear(&r[i]);
        /* Types no relation admits: none without asking the model. */
        lx_re_input odd = ZOE;
        odd.head_type = "LOC";
        int calls = f.n_next + f.n_batch;
        LX_REQUIRE(t, lx_re_clf_run(c, &odd, 1, r, &e) == LEXIE_OK);
        LX_CHECK_INT(t, r[0].label, 3);
        LX_CHECK_CLOSE(t, r[0].probs[3], 1.0, 0);
        LX_CHECK_INT(t, f.n_next + f.n_batch, calls);
        lx_re_result_clear(&r[0]);
        lx_re_clf_free(c);
    }
    lx_re_schema_free(s);
}

static void test_classify_multi_token_letters(lx_t *t) {
    /* 30 untyped relations: letters run to AD, and "AA".."AD" are two
    ** tokens each, so every option is scored as a continuation. */
    lx_jbuf j = {0};
    lx_jbuf_puts(&j, "{\"relations\": [");
    for (int i = 0; i < 30; i++)
        lx_jbuf_printf(&j, "%s{\"label\": \"r%d\", \"template\": \"{subj} r%d {obj}\"}",
                       i ? "," : "", i, i);
    lx_jbuf_puts(&j, "]}");
    lexie_error e;
    lx_re_schema *s = lx_re_schema_parse(j.data, j.len, NULL, &e);
    lx_jbuf_free(&j);
    LX_REQUIRE(t, s);
    fake f = {"AB", NULL, 0, 0, 0, 0};
    lx_re_backend b = fake_backend(&f, 1);
    lx_re_clf *c = lx_re_clf_new(s, &b, NULL, &e);
    LX_REQUIRE(t, c);
    lx_re_input in = {"x y", 0, 1, 2, 3, NULL, NULL};
    lx_re_result r;
    LX_REQUIRE(t, lx_re_clf_run(c, &in, 1, &r, &e) == LEXIE_OK);
    LX_CHECK(t, !lx_re_clf_single_token_letters(c));
    LX_CHECK_INT(t, f.n_score, 1);
    LX_CHECK_INT(t, f.n_next + f.n_batch, 0);
    LX_CHECK_INT(t, r.label, 27); /* AB is the 28th option: r27 */
    double sum = 0;
    for (int l = 0; l <= 30; l++) sum += r.probs[l];
    LX_CHECK_CLOSE(t, sum, 1.0, 1e-5);
    lx_re_result_clear(&r);
    /* The prompt lists all 31 options, none last as AE. */
    char *p;
    LX_REQUIRE(t, lx_re_clf_prompt(c, &in, 0, &p, &e) == LEXIE_OK);
    LX_CHECK(t, strstr(p, "AB. [x] r27 [y]\n") != NULL);
    LX_CHECK(t, strstr(p, "AE. [x] has no known relation to [y]\n") != NULL);
    LX_CHECK(t, strncmp(p, "u:Decide which option", 21) == 0);
    LX_CHECK(t, strcmp(p + strlen(p) - 3, "\na:") == 0);
    free(p);
    lx_re_clf_free(c);
    lx_re_schema_free(s);
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
    lx_re_constrained_probs(a, n, 3, lp, p);
    LX_CHECK_CLOSE(t, p[0], 0.5625, 1e-6);
    LX_CHECK_CLOSE(t, p[1], 0.1875, 1e-6);
    LX_CHECK_CLOSE(t, p[2], 0.25, 1e-6);
    /* One answer: certain, whatever the model thinks of it. */
    lx_re_constrained_probs(a + 2, n + 2, 1, lp + 2, p);
    LX_CHECK_CLOSE(t, p[0], 1.0, 1e-7);
}

static void test_vanilla_and_demos(lx_t *t) {
    lx_re_schema *s = toy(t);
    LX_REQUIRE(t, s);
    fake f = {"works_for", NULL, 0, 0, 0, 0};
    lx_re_backend b = fake_backend(&f, 1);
    lx_re_params p = lx_re_default_params();
    p.method = LX_RE_VANILLA;
    lexie_error e;
    lx_re_clf *c = lx_re_clf_new(s, &b, &p, &e);
    LX_REQUIRE(t, c);
    lx_re_result r;
    LX_REQUIRE(t, lx_re_clf_run(c, &ZOE, 1, &r, &e) == LEXIE_OK);
    LX_CHECK_INT(t, r.label, 1); /* vanilla offers every label, types aside */
    LX_CHECK(t, r.probs[1] > 0.8f && r.probs[0] > 0.0f);
    lx_re_result_clear(&r);
    /* Demonstrations come first, as turns with their answers. */
    lx_re_input d = {"Ann works at Acme.", 0, 3, 13, 17, "PER", "ORG"};
    int dl = 1;
    LX_REQUIRE(t, lx_re_clf_set_demos(c, &d, &dl, 1, &e) == LEXIE_OK);
    char *pr;
    LX_REQUIRE(t, lx_re_clf_prompt(c, &ZOE, 0, &pr, &e) == LEXIE_OK);
    const char *a =
        strstr(pr, "Entity 1: Ann\nEntity 2: Acme\nRelationship:\x01\na:works_for\x01\nu:");
    const char *z = strstr(pr, "Entity 1: Zo\xc3\xab");
    LX_CHECK(t, a != NULL && z != NULL && a < z);
    free(pr);
    lx_re_clf_free(c);

    /* QA4RE demos answer with their letter: Acme is ORG, so works_for is A. */
    lx_re_clf *q = lx_re_clf_new(s, &b, NULL, &e);
    LX_REQUIRE(t, q);
    LX_REQUIRE(t, lx_re_clf_set_demos(q, &d, &dl, 1, &e) == LEXIE_OK);
    LX_REQUIRE(t, lx_re_clf_prompt(q, &ZOE, 0, &pr, &e) == LEXIE_OK);
    LX_CHECK(t,
             strstr(pr, "A. [Ann] works for [Acme]\nB. [Ann] and [Acme] are unrelated\n") != NULL);
    LX_CHECK(t, strstr(pr, "Option:\x01\na:A\x01\nu:Decide") != NULL);
    free(pr);
    dl = 7;
    LX_CHECK(t, lx_re_clf_set_demos(q, &d, &dl, 1, &e) == LEXIE_E_INVALID);
    lx_re_clf_free(q);
    lx_re_schema_free(s);
}

static void test_permutations(lx_t *t) {
    lx_re_schema *s = toy(t);
    LX_REQUIRE(t, s);
    /* A backend that always answers A: pure position bias.  Averaged over
    ** all 3 cyclic orders, the three offered labels tie. */
    fake f = {"A", NULL, 0, 0, 0, 0};
    lx_re_backend b = fake_backend(&f, 0);
    lx_re_params p = lx_re_default_params();
    p.n_permute = 3;
    lexie_error e;
    lx_re_clf *c = lx_re_clf_new(s, &b, &p, &e);
    LX_REQUIRE(t, c);
    lx_re_result r;
    LX_REQUIRE(t, lx_re_clf_run(c, &ZOE, 1, &r, &e) == LEXIE_OK);
    LX_CHECK_INT(t, f.n_next, 3);
    LX_CHECK_CLOSE(t, r.probs[0], 1.0 / 3, 1e-6);
    LX_CHECK_CLOSE(t, r.probs[2], 1.0 / 3, 1e-6);
    LX_CHECK_CLOSE(t, r.probs[3], 1.0 / 3, 1e-6);
    LX_CHECK_CLOSE(t, r.probs[1], 0.0, 0);
    lx_re_result_clear(&r);
    char *p1;
    LX_REQUIRE(t, lx_re_clf_prompt(c, &ZOE, 1, &p1, &e) == LEXIE_OK);
    LX_CHECK(t, strstr(p1, "A. [Zo\xc3\xab] was born in [Paris]\nB. [Zo\xc3\xab] and [Paris] are "
                           "unrelated\nC. [Zo\xc3\xab] lives in") != NULL);
    free(p1);
    lx_re_clf_free(c);
    lx_re_schema_free(s);
}

static void test_free_gen_and_parse(lx_t *t) {
    lx_re_schema *s = toy(t);
    LX_REQUIRE(t, s);
    int opts[3] = {0, 2, 3};
    static const struct {
        const char *a;
        int want;
    } q[] = {{"B", 2},       {" B.", 2}, {"Option: (C)", 3}, {"answer: A) lives", 0},
             {"\n**A**", 0}, {"D", -1},  {"Bob", -1},        {"The answer is B", -1},
             {"", -1},       {"AB", -1}};
    for (size_t i = 0; i < LX_ARRAY_LEN(q); i++)
        LX_CHECK_MSG(t, lx_re_parse_answer(s, LX_RE_QA4RE, opts, 3, q[i].a) == q[i].want, "'%s'",
                     q[i].a);
    LX_CHECK_INT(t, lx_re_parse_answer(s, LX_RE_VANILLA, NULL, 0, "born_in"), 2);
    LX_CHECK_INT(t, lx_re_parse_answer(s, LX_RE_VANILLA, NULL, 0, " Works_For, because"), 1);
    LX_CHECK_INT(t, lx_re_parse_answer(s, LX_RE_VANILLA, NULL, 0, "none"), 3);
    LX_CHECK_INT(t, lx_re_parse_answer(s, LX_RE_VANILLA, NULL, 0, "friends"), -1);
    LX_CHECK_INT(t, lx_re_parse_answer(s, LX_RE_VANILLA, NULL, 0, "- born_in\n- lives_in"), 2);
    LX_CHECK_INT(t, lx_re_parse_answer(s, LX_RE_VANILLA, NULL, 0, "The relationship is works_for."),
                 1);
    LX_CHECK_INT(t, lx_re_parse_answer(s, LX_RE_VANILLA, NULL, 0, "unborn_in"), -1);

    fake f = {"A", "C. they are unrelated", 0, 0, 0, 0};
    lx_re_backend b = fake_backend(&f, 1);
    lx_re_params p = lx_re_default_params();
    p.free_gen = 1;
    lexie_error e;
    lx_re_clf *c = lx_re_clf_new(s, &b, &p, &e);
    LX_REQUIRE(t, c);
    lx_re_result r;
    LX_REQUIRE(t, lx_re_clf_run(c, &ZOE, 1, &r, &e) == LEXIE_OK);
    LX_CHECK_INT(t, r.label, 3);
    LX_CHECK_INT(t, r.invalid, 0);
    LX_CHECK(t, r.answer && strcmp(r.answer, "C. they are unrelated") == 0);
    lx_re_result_clear(&r);
    f.gen = "I think so";
    LX_REQUIRE(t, lx_re_clf_run(c, &ZOE, 1, &r, &e) == LEXIE_OK);
    LX_CHECK_INT(t, r.label, 3);
    LX_CHECK_INT(t, r.invalid, 1);
    LX_CHECK_INT(t, f.n_gen, 2);
    lx_re_result_clear(&r);
    lx_re_clf_free(c);

    /* Threshold on none. */
    float pr[4] = {0.3f, 0.1f, 0.2f, 0.4f};
    LX_CHECK_INT(t, lx_re_decide(s, pr, 0), 3);
    LX_CHECK_INT(t, lx_re_decide(s, pr, 0.5f), 0);
    LX_CHECK_INT(t, lx_re_decide(s, pr, 0.4f), 3);
    lx_re_schema_free(s);
}

/* ==== Readers ==== */

static char *write_tmp(const char *content) {
    char *path = strdup("/tmp/lexie_test_re_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    fputs(content, f);
    fclose(f);
    return path;
}

static void test_markers(lx_t *t) {
    char *text;
    int h0, h1, t0, t1;
    lexie_error e;
    LX_REQUIRE(t, lx_re_parse_markers("A <e1>caf\xc3\xa9</e1> near the <e2>na\xc3\xafve</e2> bar",
                                      &text, &h0, &h1, &t0, &t1, &e) == LEXIE_OK);
    LX_CHECK(t, strcmp(text, "A caf\xc3\xa9 near the na\xc3\xafve bar") == 0);
    LX_CHECK(t, h0 == 2 && h1 == 6 && t0 == 16 && t1 == 21);
    lx_re_item it = {NULL, 0, text, h0, h1, t0, t1, NULL, NULL, NULL};
    char *back = lx_re_add_markers(&it, &e);
    LX_CHECK(t, back &&
                    strcmp(back, "A <e1>caf\xc3\xa9</e1> near the <e2>na\xc3\xafve</e2> bar") == 0);
    free(back);
    free(text);
    /* e2 first is fine. */
    LX_REQUIRE(t, lx_re_parse_markers("<e2>b</e2> <e1>a</e1>", &text, &h0, &h1, &t0, &t1, &e) ==
                      LEXIE_OK);
    LX_CHECK(t, h0 == 2 && h1 == 3 && t0 == 0 && t1 == 1);
    free(text);
    LX_CHECK(t,
             lx_re_parse_markers("<e1>a</e1> b", &text, &h0, &h1, &t0, &t1, &e) == LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(e.message, "<e2> is missing") != NULL);
    LX_CHECK(t, lx_re_parse_markers("<e1>a <e2>b</e1></e2>", &text, &h0, &h1, &t0, &t1, &e) ==
                    LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(e.message, "overlap") != NULL);
    LX_CHECK(t, lx_re_parse_markers("</e1>a<e1> <e2>b</e2>", &text, &h0, &h1, &t0, &t1, &e) ==
                    LEXIE_E_FORMAT);
    LX_CHECK(t, lx_re_parse_markers("<e1></e1> <e2>b</e2>", &text, &h0, &h1, &t0, &t1, &e) ==
                    LEXIE_E_FORMAT);
    LX_CHECK(t, lx_re_parse_markers("<e1>a</e1> <e1>x</e1> <e2>b</e2>", &text, &h0, &h1, &t0, &t1,
                                    &e) == LEXIE_E_FORMAT);
}

static void test_semeval_round_trip(lx_t *t) {
    const char *src = "1\t\"The <e1>child</e1> was put in the <e2>cradle</e2>.\"\n"
                      "Entity-Destination(e1,e2)\nComment:\n\n"
                      "2\t\"<e1>S\xc3\xa9"
                      "ance</e1> about <e2>ghosts</e2>\"\n"
                      "Message-Topic(e1,e2)\nComment:\n\n";
    char *path = write_tmp(src);
    LX_REQUIRE(t, path);
    lx_re_data d = {0};
    lexie_error e;
    LX_REQUIRE(t, lx_read_semeval(path, &d, &e) == LEXIE_OK);
    LX_CHECK_INT(t, d.n, 2);
    LX_CHECK(t, strcmp(d.items[1].text, "S\xc3\xa9"
                                        "ance about ghosts") == 0);
    LX_CHECK(t, d.items[1].h_start == 0 && d.items[1].h_end == 6 && d.items[1].t_start == 13);
    LX_CHECK(t, strcmp(d.items[0].gold, "Entity-Destination(e1,e2)") == 0 && d.items[0].id_is_num);
    char *out = NULL;
    size_t outn = 0;
    FILE *mf = open_memstream(&out, &outn);
    LX_REQUIRE(t, mf);
    LX_CHECK(t, lx_write_semeval(mf, &d, &e) == LEXIE_OK);
    fclose(mf);
    LX_CHECK_MSG(t, out && strcmp(out, src) == 0, "round trip differs:\n%s", out);
    free(out);
    /* Items -> lexie JSONL -> items. */
    for (int i = 0; i < d.n; i++) {
        lx_jbuf b = {0};
        lx_re_item_to_json(&b, &d.items[i]);
        lx_json_doc *doc = lx_json_parse(b.data, b.len, NULL, &e);
        LX_REQUIRE(t, doc);
        lx_re_item it;
        LX_REQUIRE(t, lx_re_item_from_json(lx_json_root(doc), &it, &e) == LEXIE_OK);
        LX_CHECK(t, strcmp(it.text, d.items[i].text) == 0 && strcmp(it.id, d.items[i].id) == 0);
        LX_CHECK(t, it.h_start == d.items[i].h_start && it.h_end == d.items[i].h_end);
        LX_CHECK(t, it.t_start == d.items[i].t_start && it.t_end == d.items[i].t_end);
        LX_CHECK(t, it.id_is_num && strcmp(it.gold, d.items[i].gold) == 0);
        lx_re_item_free(&it);
        lx_json_doc_free(doc);
        lx_jbuf_free(&b);
    }
    lx_re_data_free(&d);
    remove(path);
    free(path);
    /* A malformed file names its line. */
    path = write_tmp("1\t\"no markers here\"\nOther\n");
    LX_CHECK(t, lx_read_semeval(path, &d, &e) == LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strstr(e.message, ":1: marker <e1> is missing") != NULL, "%s", e.message);
    lx_re_data_free(&d);
    remove(path);
    free(path);
}

static void test_jsonl_input(lx_t *t) {
    static const struct {
        const char *line, *err;
    } bad[] = {{"{\"id\": 1, \"text\": \"ab cd\", \"head\": {\"start\": 0, \"end\": 2}, \"tail\": "
                "{\"start\": 3, \"end\": 9}}",
                "tail span [3, 9) is empty or past the text's 5 code points"},
               {"{\"id\": 1, \"text\": \"ab cd\", \"head\": {\"start\": 0, \"end\": 2, \"text\": "
                "\"xy\"}, \"tail\": {\"start\": 3, "
                "\"end\": 5}}",
                "head.text \"xy\" differs"},
               {"{\"id\": [1], \"text\": \"x\"}", "\"id\" must be a string or a number"},
               {"{\"id\": 1, \"text\": \"plain\"}", "marker <e1> is missing"},
               {"{\"id\": 1, \"text\": 5}", "\"text\" must be a string"},
               {"{\"id\": 1, \"text\": \"ab\", \"head\": {\"start\": -1, \"end\": 1}, \"tail\": "
                "{\"start\": 1, \"end\": 2}}",
                "non-negative integers"},
               {"[1]", "must be a JSON object"}};
    lexie_error e;
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        lx_json_doc *d = lx_json_parse(bad[i].line, strlen(bad[i].line), NULL, &e);
        LX_REQUIRE(t, d);
        lx_re_item it;
        LX_CHECK(t, lx_re_item_from_json(lx_json_root(d), &it, &e) == LEXIE_E_FORMAT);
        LX_CHECK_MSG(t, strstr(e.message, bad[i].err) != NULL, "'%s' lacks '%s'", e.message,
                     bad[i].err);
        lx_json_doc_free(d);
    }
    const char *ok = "{\"id\": \"x1\", \"text\": \"\xc3\xa9t\xc3\xa9 \xc3\xa0 Paris\", \"head\": "
                     "{\"start\": 0, \"end\": 3, "
                     "\"type\": \"DATE\", \"text\": \"\xc3\xa9t\xc3\xa9\"}, \"tail\": {\"start\": "
                     "6, \"end\": 11}, \"label\": \"in\"}";
    lx_json_doc *d = lx_json_parse(ok, strlen(ok), NULL, &e);
    LX_REQUIRE(t, d);
    lx_re_item it;
    LX_REQUIRE(t, lx_re_item_from_json(lx_json_root(d), &it, &e) == LEXIE_OK);
    LX_CHECK(t, !it.id_is_num && strcmp(it.id, "x1") == 0 && strcmp(it.h_type, "DATE") == 0 &&
                    !it.t_type);
    LX_CHECK(t, it.t_start == 6 && it.t_end == 11 && strcmp(it.gold, "in") == 0);
    lx_jbuf b = {0};
    lx_re_item_to_json(&b, &it);
    LX_CHECK_MSG(t,
                 strstr(b.data, "\"tail\":{\"start\":6,\"end\":11,\"byte_start\":9,\"byte_end\":14,"
                                "\"text\":\"Paris\"}") != NULL,
                 "%s", b.data);
    lx_jbuf_free(&b);
    lx_re_item_free(&it);
    lx_json_doc_free(d);
}

static void test_tacred_and_gad(lx_t *t) {
    const char *j = "[{\"id\": \"t1\", \"relation\": \"per:title\", \"token\": [\"-LRB-\", "
                    "\"Dr.\", \"Jo\", \"Smith\", "
                    "\"-RRB-\", \"is\", \"a\", \"surgeon\"], \"subj_start\": 2, \"subj_end\": 3, "
                    "\"obj_start\": 7, "
                    "\"obj_end\": 7, \"subj_type\": \"PERSON\", \"obj_type\": \"TITLE\"}]";
    lexie_error e;
    lx_json_doc *d = lx_json_parse(j, strlen(j), NULL, &e);
    LX_REQUIRE(t, d);
    lx_re_data data = {0};
    LX_REQUIRE(t, lx_tacred_from_json(lx_json_root(d), &data, &e) == LEXIE_OK);
    LX_REQUIRE(t, data.n == 1);
    lx_re_item *it = &data.items[0];
    LX_CHECK(t, strcmp(it->text, "( Dr. Jo Smith ) is a surgeon") == 0);
    char *h = lx_re_span(it->text, it->h_start, it->h_end, &e),
         *o = lx_re_span(it->text, it->t_start, it->t_end, &e);
    LX_CHECK(t, h && o && strcmp(h, "Jo Smith") == 0 && strcmp(o, "surgeon") == 0);
    free(h);
    free(o);
    LX_CHECK(t, strcmp(it->h_type, "PERSON") == 0 && strcmp(it->gold, "per:title") == 0);
    lx_re_data_free(&data);
    lx_json_doc_free(d);
    const char *bad = "[{\"token\": [\"a\"], \"subj_start\": 0, \"subj_end\": 3, \"obj_start\": 0, "
                      "\"obj_end\": 0}]";
    d = lx_json_parse(bad, strlen(bad), NULL, &e);
    LX_CHECK(t, lx_tacred_from_json(lx_json_root(d), &data, &e) == LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(e.message, "outside the 1 tokens") != NULL);
    lx_re_data_free(&data);
    lx_json_doc_free(d);

    char *p2 = write_tmp(
        "The @GENE$ variant raises @DISEASE$ risk.\t1\nNo link of @DISEASE$ with @GENE$.\t0\n");
    char *p3 = write_tmp("index\tsentence\tlabel\n7\t@GENE$ in @DISEASE$\t1\n");
    LX_REQUIRE(t, p2 && p3);
    LX_REQUIRE(t, lx_read_gad(p2, "train-", &data, &e) == LEXIE_OK);
    LX_CHECK_INT(t, data.n, 2);
    LX_CHECK(t, strcmp(data.items[0].id, "train-0") == 0 &&
                    strcmp(data.items[1].gold, "no_association") == 0);
    LX_CHECK(t, data.items[0].h_start == 4 && data.items[0].h_end == 10 &&
                    data.items[1].t_start == 11);
    LX_CHECK(t, data.items[1].h_start == 26 && strcmp(data.items[0].t_type, "DISEASE") == 0);
    LX_REQUIRE(t, lx_read_gad(p3, "test-", &data, &e) == LEXIE_OK);
    LX_CHECK(t, data.n == 3 && strcmp(data.items[2].id, "test-7") == 0 &&
                    strcmp(data.items[2].gold, "association") == 0);
    lx_re_data_free(&data);
    remove(p3);
    free(p3);
    p3 = write_tmp("no masks here\t1\n");
    LX_CHECK(t, lx_read_gad(p3, "", &data, &e) == LEXIE_E_FORMAT &&
                    strstr(e.message, ":1: the sentence lacks"));
    lx_re_data_free(&data);
    remove(p2);
    remove(p3);
    free(p2);
    free(p3);
}

static void test_real_datasets(lx_t *t) {
    lx_re_data d = {0};
    lexie_error e;
    const char *sem = "../shared/data/semeval2010_task8/TEST_FILE_FULL.TXT";
    if (access(sem, R_OK) != 0) LX_SKIP(t, "no %s", sem);
    LX_REQUIRE(t, lx_read_semeval(sem, &d, &e) == LEXIE_OK);
    LX_CHECK_INT(t, d.n, 2717);
    int other = 0;
    for (int i = 0; i < d.n; i++) other += strcmp(d.items[i].gold, "Other") == 0;
    LX_CHECK_INT(t, other, 454);
    LX_CHECK(t, strcmp(d.items[0].id, "8001") == 0 &&
                    strcmp(d.items[0].text,
                           "The most common audits were about waste and recycling.") == 0);
    /* The directed key agrees with the labels in the full file. */
    lx_re_data k = {0};
    LX_REQUIRE(t, lx_read_semeval("../shared/data/semeval2010_task8/TEST_FILE.txt", &k, &e) ==
                      LEXIE_OK);
    LX_REQUIRE(t, lx_read_semeval_key("../shared/data/semeval2010_task8/TEST_FILE_KEY_DIRECTED.TXT",
                                      &k, &e) == LEXIE_OK);
    int same = k.n == d.n;
    for (int i = 0; same && i < d.n; i++)
        same = k.items[i].gold && strcmp(k.items[i].gold, d.items[i].gold) == 0;
    LX_CHECK(t, same);
    lx_re_data_free(&k);
    lx_re_data_free(&d);
    if (lx_read_gad("../shared/data/gad_biobert_fold1/test.tsv", "test-", &d, &e) == LEXIE_OK) {
        LX_CHECK_INT(t, d.n, 534);
        int pos = 0;
        for (int i = 0; i < d.n; i++) pos += strcmp(d.items[i].gold, "association") == 0;
        LX_CHECK_INT(t, pos, 281);
    }
    lx_re_data_free(&d);
}

/* ==== Metrics ==== */

static void test_metrics(lx_t *t) {
    static const char *labels[] = {"A(e1,e2)", "A(e2,e1)", "B(e1,e2)", "B(e2,e1)", "Other"};
    lx_re_counts c;
    LX_REQUIRE(t, lx_re_counts_init(&c, labels, 5, 4, NULL) == LEXIE_OK);
    static const int pairs[][2] = {{0, 0}, {0, 1}, {1, 4}, {2, 0}, {4, 3}, {4, 4}, {3, 3}};
    for (size_t i = 0; i < LX_ARRAY_LEN(pairs); i++)
        lx_re_counts_add(&c, pairs[i][0], pairs[i][1], i == 2);
    lx_prf m = lx_re_micro(&c);
    LX_CHECK(t, m.tp == 2 && m.pred == 5 && m.gold == 5);
    LX_CHECK_CLOSE(t, m.f1, 0.4, 1e-12);
    LX_CHECK_CLOSE(t, lx_re_accuracy(&c), 3.0 / 7, 1e-12);
    LX_CHECK_INT(t, c.n_invalid, 1);
    lx_prf a = lx_re_label_prf(&c, 0);
    LX_CHECK(t, a.tp == 1 && a.pred == 2 && a.gold == 2);
    LX_CHECK_CLOSE(t, a.f1, 0.5, 1e-12);
    lx_semeval_score sv;
    LX_REQUIRE(t, lx_semeval_official(&c, &sv));
    LX_REQUIRE(t, sv.n_rels == 2);
    /* A: 1 correct, 1 wrong direction, predicted 3 times in all, gold 3. */
    LX_CHECK(t, strcmp(sv.rels[0].name, "A") == 0 && sv.rels[0].wrong_dir == 1);
    LX_CHECK(t, sv.rels[0].prf.tp == 1 && sv.rels[0].prf.pred == 3 && sv.rels[0].prf.gold == 3);
    LX_CHECK(t, sv.rels[1].prf.tp == 1 && sv.rels[1].prf.pred == 2 && sv.rels[1].prf.gold == 2);
    LX_CHECK_CLOSE(t, sv.macro_f1, (1.0 / 3 + 0.5) / 2, 1e-12);
    LX_CHECK_CLOSE(t, sv.macro_p, (1.0 / 3 + 0.5) / 2, 1e-12);
    /* Out-of-range labels are ignored; non-SemEval labels give no score. */
    lx_re_counts_add(&c, 9, 0, 0);
    LX_CHECK_INT(t, c.n, 7);
    lx_re_counts_free(&c);
    static const char *plain[] = {"x", "y", "none"};
    LX_REQUIRE(t, lx_re_counts_init(&c, plain, 3, 2, NULL) == LEXIE_OK);
    LX_CHECK(t, !lx_semeval_official(&c, &sv));
    lx_re_counts_add(&c, 2, 2, 0);
    m = lx_re_micro(&c);
    LX_CHECK(t, m.p == 0 && m.r == 0 && m.f1 == 0); /* no positives: zeros, not NaN */
    lx_re_counts_free(&c);
    /* A relation absent from gold is left out of the macro average. */
    LX_REQUIRE(t, lx_re_counts_init(&c, labels, 5, 4, NULL) == LEXIE_OK);
    lx_re_counts_add(&c, 0, 0, 0);
    lx_re_counts_add(&c, 4, 2, 0);
    LX_REQUIRE(t, lx_semeval_official(&c, &sv));
    LX_CHECK_CLOSE(t, sv.macro_f1, 1.0, 1e-12);
    lx_re_counts_free(&c);
}

/* Batch calibration on a hand-made batch: the model says label 0 to
** everything, most strongly where 0 is wrong; dividing by the mean profile
** recovers the examples where another label stands out. */
static void test_calibration(lx_t *t) {
    static const float p0[3] = {0.6f, 0.3f, 0.1f}, p1[3] = {0.6f, 0.1f, 0.3f},
                       p2[3] = {0.8f, 0.1f, 0.1f}, p3[3] = {0.0f, 0.0f, 1.0f};
    const float *probs[4] = {p0, p1, p2, p3};
    double prior[3];
    lx_re_prior(probs, 3, 3, prior);
    LX_CHECK_CLOSE(t, prior[0], 2.0 / 3, 1e-6);
    LX_CHECK_CLOSE(t, prior[1], 0.5 / 3, 1e-6);
    LX_CHECK_CLOSE(t, prior[2], 0.5 / 3, 1e-6);
    /* 0.3 / (1/6) = 1.8 beats 0.6 / (2/3) = 0.9. */
    LX_CHECK_INT(t, lx_re_decide_calibrated(p0, prior, 3), 1);
    LX_CHECK_INT(t, lx_re_decide_calibrated(p1, prior, 3), 2);
    /* 0.8 / (2/3) = 1.2 against 0.1 / (1/6) = 0.6: the strong 0 stays. */
    LX_CHECK_INT(t, lx_re_decide_calibrated(p2, prior, 3), 0);
    /* A label never offered in the batch (prior 0) is never chosen, nor one
    ** with probability 0 here; nothing left: the none label. */
    double zero[3] = {0.5, 0.5, 0.0};
    LX_CHECK_INT(t, lx_re_decide_calibrated(p3, zero, 3), 2);
    LX_CHECK_INT(t, lx_re_decide_calibrated(p3, prior, 3), 2);
    double none_only[3] = {0.0, 0.0, 0.0};
    LX_CHECK_INT(t, lx_re_decide_calibrated(p0, none_only, 3), 2);
    lx_re_prior(probs, 0, 3, prior); /* an empty batch: zeros, no division */
    LX_CHECK(t, prior[0] == 0.0 && prior[2] == 0.0);
}

/* A prior from another run's report: every label once, in any order; what
** is missing, foreign or out of range is an error that names it. */
static void prior_case(lx_t *t, const lx_re_schema *s, const char *json, const char *want_err) {
    char *path = write_tmp(json);
    LX_REQUIRE(t, path);
    double prior[4];
    lexie_error e;
    lexie_status st = lx_re_prior_load(path, s, prior, &e);
    if (!want_err) {
        LX_CHECK(t, st == LEXIE_OK);
        LX_CHECK_CLOSE(t, prior[0], 0.5, 1e-12);  /* lives_in */
        LX_CHECK_CLOSE(t, prior[1], 0.25, 1e-12); /* works_for */
        LX_CHECK_CLOSE(t, prior[2], 0.0, 1e-12);  /* born_in */
        LX_CHECK_CLOSE(t, prior[3], 0.25, 1e-12); /* none */
    } else {
        LX_CHECK(t, st != LEXIE_OK);
        LX_CHECK(t, strstr(e.message, want_err) != NULL);
        if (!strstr(e.message, want_err)) fprintf(stderr, "    got: %s\n", e.message);
    }
    remove(path);
    free(path);
}

static void test_prior_load(lx_t *t) {
    lx_re_schema *s = toy(t);
    LX_REQUIRE(t, s);
    prior_case(t, s,
               "{\"micro\": {}, \"mean_probability\": {\"none\": 0.25, \"born_in\": 0, "
               "\"works_for\": 0.25, \"lives_in\": 0.5}}",
               NULL);
    prior_case(t, s, "{\"mean_probability\": {\"none\": 0.25, \"lives_in\": 0.5}}",
               "no mean_probability for label \"works_for\"");
    prior_case(t, s,
               "{\"mean_probability\": {\"none\": 0.2, \"born_in\": 0, \"works_for\": 0.2, "
               "\"lives_in\": 0.5, \"Other\": 0.1}}",
               "label \"Other\" is not in schema toy");
    prior_case(t, s, "{\"mean_probability\": {\"none\": 1.5}}",
               "mean_probability of \"none\" must be a number in [0, 1]");
    prior_case(t, s, "{\"mean_probability\": [0.5]}", "no \"mean_probability\" object");
    prior_case(t, s, "{\"mean_probability\": ", "line 1");
    lx_re_schema_free(s);
}

static void test_report_and_preds(lx_t *t) {
    lx_re_schema *s = toy(t);
    LX_REQUIRE(t, s);
    char *path = write_tmp("");
    LX_REQUIRE(t, path);
    float p0[4] = {0.7f, 0, 0.1f, 0.2f}, p1[4] = {0, 0.25f, 0, 0.75f};
    lx_re_result r0 = {0, 0, p0, NULL}, r1 = {3, 1, p1, "hmm \"no\""};
    lx_jbuf b = {0};
    lx_re_pred_line(&b, "a", 0, "lives_in", s, &r0, 0.5);
    lx_re_pred_line(&b, "17", 1, NULL, s, &r1, 0);
    LX_CHECK(t, strstr(b.data, "\"probs\":[0.7,0,0.1,0.2]") != NULL);
    /* A line of the first format: {label: p}, zeros left out. */
    lx_jbuf_puts(&b, "{\"id\":\"old\",\"label\":\"born_in\",\"scores\":{\"born_in\":0.6,"
                     "\"none\":0.4}}\n");
    lx_jbuf_puts(&b, "{\"id\":\"torn\",\"lab"); /* a run killed mid-line */
    FILE *f = fopen(path, "w");
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    lx_re_preds p;
    long good;
    lexie_error e;
    LX_REQUIRE(t, lx_re_preds_load(path, s, &p, &good, &e) == LEXIE_OK);
    LX_CHECK_INT(t, p.n, 3);
    LX_CHECK_INT(t, good, (long)(strstr(b.data, "{\"id\":\"torn\"") - b.data));
    int o = lx_re_preds_find(&p, "old");
    LX_REQUIRE(t, o >= 0);
    LX_CHECK(t, p.p[o].label == 2 && p.p[o].probs[0] == 0.0f);
    LX_CHECK_CLOSE(t, p.p[o].probs[2], 0.6, 1e-6);
    int i = lx_re_preds_find(&p, "17");
    LX_REQUIRE(t, i >= 0);
    LX_CHECK(t, p.p[i].label == 3 && p.p[i].invalid == 1);
    LX_CHECK_CLOSE(t, p.p[i].probs[1], 0.25, 1e-6);
    i = lx_re_preds_find(&p, "a");
    LX_REQUIRE(t, i >= 0);
    LX_CHECK_CLOSE(t, p.p[i].seconds, 0.5, 1e-9);
    LX_CHECK(t, lx_re_preds_find(&p, "torn") < 0 && lx_re_preds_find(&p, "zz") < 0);
    lx_re_preds_free(&p);
    /* A damaged line in the middle is an error, not silently skipped. */
    f = fopen(path, "w");
    fputs("{\"id\":\"a\",\"label\":\"nope\",\"scores\":{}}\n{}\n", f);
    fclose(f);
    LX_CHECK(t, lx_re_preds_load(path, s, &p, &good, &e) == LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(e.message, ":1: label \"nope\" is not in the schema") != NULL);
    remove(path);
    free(path);
    LX_CHECK(t, lx_re_preds_load("/tmp/lexie-no-such-file.jsonl", s, &p, &good, &e) == LEXIE_OK &&
                    p.n == 0);

    /* The JSON report parses and carries the numbers. */
    const char *labels[4] = {"lives_in", "works_for", "born_in", "none"};
    lx_re_counts c;
    LX_REQUIRE(t, lx_re_counts_init(&c, labels, 4, 3, NULL) == LEXIE_OK);
    lx_re_counts_add(&c, 0, 0, 0);
    lx_re_counts_add(&c, 1, 3, 1);
    lx_re_run_info info = {.command = "lexie eval re",
                           .dataset = "toy",
                           .split = "test",
                           .method = "qa4re",
                           .n_permute = 1,
                           .model_name = "m",
                           .model_sha256 = "abc",
                           .schema_name = "toy",
                           .schema_sha256 = s->sha256,
                           .config_hash = "cfg",
                           .predictions = "p.jsonl",
                           .n_examples = 2,
                           .n_computed = 2,
                           .seconds = 1.0,
                           .examples_per_s = 2.0};
    lx_jbuf_reset(&b);
    lx_re_report_json(&b, &info, &c);
    lx_json_doc *d = lx_json_parse(b.data, b.len, NULL, &e);
    LX_REQUIRE(t, d);
    const lx_json *micro = lx_json_get(lx_json_root(d), "micro");
    LX_CHECK_CLOSE(t, lx_json_get(micro, "p")->num, 1.0, 1e-9);
    LX_CHECK_CLOSE(t, lx_json_get(micro, "r")->num, 0.5, 1e-9);
    LX_CHECK_CLOSE(t, lx_json_get(lx_json_root(d), "invalid_rate")->num, 0.5, 1e-9);
    LX_CHECK(t, lx_json_get(lx_json_root(d), "semeval_official") == NULL);
    LX_CHECK_INT(t, lx_json_get(lx_json_get(lx_json_root(d), "confusion"), "matrix")->n, 4);
    lx_json_doc_free(d);
    lx_jbuf_reset(&b);
    lx_re_report_table(&b, &info, &c);
    LX_CHECK(t, strstr(b.data, "micro (positive labels)  P 100.00  R  50.00  F1  66.67") != NULL);
    LX_CHECK(t, strstr(b.data, "batch-calibrated") == NULL);
    info.calibrated = 1;
    lx_jbuf_reset(&b);
    lx_re_report_table(&b, &info, &c);
    LX_CHECK(t, strstr(b.data, "decisions batch-calibrated") != NULL);
    lx_jbuf_reset(&b);
    lx_re_report_json(&b, &info, &c);
    LX_CHECK(t, strstr(b.data, "\"batch_calibrated\":true") != NULL);
    lx_re_counts_free(&c);
    lx_jbuf_free(&b);
    lx_re_schema_free(s);
}

/* ==== The real model ==== */

static void test_real_model(lx_t *t) {
    const char *mp = lx_test_model();
    if (!mp) LX_SKIP(t, "default model not in the cache");
    lexie_error e;
    lexie_model *m = lexie_model_load(mp, NULL, &e);
    LX_REQUIRE(t, m);
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = 1024;
    cp.n_seq_max = 3;
    lexie_ctx *c = lexie_ctx_new(m, &cp, &e);
    lexie_re_schema *s = lexie_re_schema_parse(TOY, strlen(TOY), &e);
    LX_REQUIRE(t, c && s);
    lexie_re *re = lexie_re_new(c, s, NULL, &e);
    LX_REQUIRE(t, re);
    lexie_re_result r;
    memset(&r, 0, sizeof r);
    LX_REQUIRE(t, lexie_re_classify(re, &ZOE, 1, &r, &e) == LEXIE_OK);
    double sum = 0;
    for (int l = 0; l < 4; l++) sum += r.probs[l];
    LX_CHECK_CLOSE(t, sum, 1.0, 1e-4);
    LX_CHECK(t, r.probs[1] == 0.0f && r.label >= 0 && r.label < 4 && r.label != 1);
    lexie_re_result_clear(&r);
    char *p;
    LX_REQUIRE(t, lexie_re_prompt(re, &ZOE, &p, &e) == LEXIE_OK);
    LX_CHECK(t, strstr(p, "A. [Zo\xc3\xab] lives in [Paris]\n") != NULL);
    lexie_free(p);
    lexie_re_free(re);
    lexie_re_schema_free(s);
    lexie_ctx_free(c);
    lexie_model_free(m);
}

void suite_re(void) {
    LX_RUN(test_builtin_schemas);
    LX_RUN(test_bad_schemas);
    LX_RUN(test_type_filter);
    LX_RUN(test_render);
    LX_RUN(test_letters);
    LX_RUN(test_classify_single_letters);
    LX_RUN(test_classify_multi_token_letters);
    LX_RUN(test_constrained_probs);
    LX_RUN(test_vanilla_and_demos);
    LX_RUN(test_permutations);
    LX_RUN(test_free_gen_and_parse);
    LX_RUN(test_markers);
    LX_RUN(test_semeval_round_trip);
    LX_RUN(test_jsonl_input);
    LX_RUN(test_tacred_and_gad);
    LX_RUN(test_real_datasets);
    LX_RUN(test_metrics);
    LX_RUN(test_calibration);
    LX_RUN(test_prior_load);
    LX_RUN(test_report_and_preds);
    LX_RUN(test_real_model);
}
