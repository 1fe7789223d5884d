/*
** test_ie_run.c -- `lexie eval extract`'s runner: ADELIE's prompts, in
** their hundreds of wordings, are taken apart for lexie's own prompts
** (checked on the real sets when present); and a run on the fixture model
** over a tiny IOB set predicts every document, resumes without
** recomputing, recomputes only a torn last line, and reports the same
** figures each time.
*/
#include "base/base.h"
#include "base/json.h"
#include "eval/ie_eval.h"
#include "ie/extract/extract.h"
#include "lexie.h"
#include "lx_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_ie_run_adelie_prompts(lx_t *t) {
    static const char *sets[] = {"adelie-semeval", "adelie-fewnerd", "adelie-ondemand"};
    const char *dir = lx_test_data();
    for (int k = 0; k < 3; k++) {
        const lx_ie_setdef *d = lx_ie_setdef_find(sets[k]);
        LX_REQUIRE(t, d != NULL);
        lx_ie_set s;
        lexie_error e;
        if (lx_ie_set_load(d, dir, &s, &e) != LEXIE_OK) {
            lx_ie_set_free(&s);
            LX_SKIP(t, "%s: %s", sets[k], e.message);
        }
        int bad = 0;
        for (int i = 0; i < s.n; i++) {
            lx_adelie_input in;
            if (lx_adelie_input_parse(d, &s.docs[i], &in, &e) != LEXIE_OK) {
                if (bad++ < 3)
                    lx_test_fail(t, __FILE__, __LINE__, "%s %s: %s", sets[k], s.docs[i].id,
                                 e.message);
                continue;
            }
            LX_CHECK(t, in.text && *in.text);
            if (k == 0) {
                /* The spans hold the entities the prompt names. */
                LX_CHECK(t, in.spans[0] < in.spans[1] && in.spans[1] <= in.spans[2] &&
                                in.spans[2] < in.spans[3]);
                LX_CHECK(t, !strstr(in.text, "<entity>") && !strstr(in.text, "</entity>"));
            } else if (k == 1) {
                LX_CHECK_MSG(t, in.n_types == 66, "%s: %d types", s.docs[i].id, in.n_types);
                LX_CHECK(t, in.text[strlen(in.text) - 1] != '\'');
                /* Every gold entity ("name: type; ...") is in the text. */
                for (const char *g = s.docs[i].gold_answer, *c; g && (c = strstr(g, ": "));) {
                    const char *st = g;
                    while (*st == ' ' || *st == '\n') st++;
                    if (strncmp(st, "[Answer]:", 9) == 0) st += 9;
                    while (*st == ' ') st++;
                    char name[256];
                    snprintf(name, sizeof name, "%.*s", (int)LX_MIN(c - st, 255), st);
                    LX_CHECK_MSG(t, strstr(in.text, name) != NULL, "%s: '%s' not in '%s'",
                                 s.docs[i].id, name, in.text);
                    const char *semi = strchr(c, ';');
                    if (!semi) break;
                    g = semi + 1;
                }
            } else {
                LX_CHECK(t, in.instruction && *in.instruction && !strstr(in.text, "\n\nText: "));
            }
            lx_adelie_input_clear(&in);
        }
        LX_CHECK_MSG(t, bad == 0, "%s: %d of %d prompts not parsed", sets[k], bad, s.n);
        lx_ie_set_free(&s);
    }
}

static const char CHATML[] =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

static int copy_file(const char *from, const char *to) {
    size_t n;
    char *s = lx_read_file(from, 1 << 20, &n, NULL);
    if (!s) return 0;
    int ok = lx_write_file_atomic(to, s, n, NULL) == LEXIE_OK;
    free(s);
    return ok;
}

/* Copies the data file src to dir/name (name's folder made first). */
static int put_data(const char *dir, const char *name, const char *src) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *slash = strrchr(path, '/');
    *slash = 0;
    mkdir(path, 0755);
    *slash = '/';
    return copy_file(src, path);
}

/* The runner's parameters for a run on the fixture model in dir. */
static lx_ie_eval_params fixture_params(const char *data, const char *dir, const char *model,
                                        int max_tokens) {
    lx_ie_eval_params p;
    memset(&p, 0, sizeof p);
    p.data = data;
    p.data_dir = dir;
    p.model = model;
    p.chat_template = CHATML;
    p.out_dir = dir;
    p.max_tokens = max_tokens;
    p.batch = 2;
    p.threads = 1;
    p.n_ctx = 2048;
    return p;
}

static void test_ie_run_resume(lx_t *t) {
    char model[512], dir[] = "/tmp/lexie-ie-run-XXXXXX";
    snprintf(model, sizeof model, "%s/llama_q.gguf", lx_test_fixtures());
    if (access(model, R_OK) != 0) LX_SKIP(t, "fixture %s absent (run make test)", model);
    LX_REQUIRE(t, mkdtemp(dir) != NULL);
    LX_REQUIRE(t, put_data(dir, "conll2003/test.txt", "tests/data/ie/mini.iob"));
    lx_ie_eval_params p = fixture_params("conll2003", dir, model, 24);
    lx_ie_eval_result r1, r2, r3;
    lexie_error e;
    lexie_status st = lx_ie_eval_run(&p, &r1, &e);
    LX_CHECK_MSG(t, st == LEXIE_OK, "%s", e.message);
    LX_REQUIRE(t, st == LEXIE_OK);
    LX_CHECK(t, r1.n_docs > 1 && r1.n_computed == r1.n_docs && r1.n_resumed == 0);
    LX_CHECK_MSG(t, strstr(r1.table, "valid outputs") != NULL, "%s", r1.table);
    LX_CHECK(t, access(r1.report_json, R_OK) == 0 && access(r1.report_txt, R_OK) == 0);
    /* Again: everything resumed, the same report. */
    LX_REQUIRE(t, lx_ie_eval_run(&p, &r2, &e) == LEXIE_OK);
    LX_CHECK(t, r2.n_computed == 0 && r2.n_resumed == r1.n_docs);
    LX_CHECK(t, strcmp(r1.table, r2.table) == 0);
    /* A torn last line is cut and only that document is computed again. */
    size_t n;
    char *all = lx_read_file(r1.predictions, 1 << 20, &n, &e);
    LX_REQUIRE(t, all && n > 10);
    FILE *f = fopen(r1.predictions, "wb");
    fwrite(all, 1, n - 5, f);
    fclose(f);
    LX_REQUIRE(t, lx_ie_eval_run(&p, &r3, &e) == LEXIE_OK);
    LX_CHECK_MSG(t, r3.n_computed == 1 && r3.n_resumed == r1.n_docs - 1, "computed %d",
                 r3.n_computed);
    char *again = lx_read_file(r1.predictions, 1 << 20, &n, &e);
    /* Batch invariance: the recomputed line (alone now, in a pair before)
    ** is byte for byte the old one up to its timing. */
    LX_REQUIRE(t, again != NULL);
    char *l_old = all + n - 1, *l_new = again + strlen(again) - 1;
    while (l_old > all && l_old[-1] != '\n') l_old--;
    while (l_new > again && l_new[-1] != '\n') l_new--;
    char *s_old = strstr(l_old, ",\"seconds\""), *s_new = strstr(l_new, ",\"seconds\"");
    LX_REQUIRE(t, s_old && s_new);
    LX_CHECK_MSG(
        t, s_old - l_old == s_new - l_new && memcmp(l_old, l_new, (size_t)(s_old - l_old)) == 0,
        "%.*s\nvs\n%.*s", (int)(s_old - l_old), l_old, (int)(s_new - l_new), l_new);
    free(all);
    free(again);
    /* A report alone: nothing predicted, the same figures, and no lock
    ** taken (it works beside a run holding the file). */
    int fd = -1;
    LX_REQUIRE(t, lx_predfile_lock(r1.predictions, &fd, &e) == LEXIE_OK);
    lx_ie_eval_result r5;
    p.report_only = 1;
    LX_CHECK(t, lx_ie_eval_run(&p, &r5, &e) == LEXIE_OK);
    LX_CHECK(t, r5.n_computed == 0 && r5.n_resumed == r1.n_docs);
    LX_CHECK(t, r5.table && r3.table && strcmp(r5.table, r3.table) == 0);
    p.report_only = 0;
    close(fd);
    lx_ie_eval_result_clear(&r5);
    /* Few-shot: demonstrations from the train split, their own files. */
    LX_REQUIRE(t, put_data(dir, "conll2003/train.txt", "tests/data/ie/mini.iob"));
    lx_ie_eval_result r6;
    p.shots = 1;
    st = lx_ie_eval_run(&p, &r6, &e);
    LX_CHECK_MSG(t, st == LEXIE_OK, "%s", e.message);
    LX_CHECK(t, r6.predictions && strstr(r6.predictions, "conll2003-k1-s") != NULL);
    LX_CHECK(t, r6.n_computed == r1.n_docs);
    lx_ie_eval_result_clear(&r6);
    p.shots = 0;
    /* The dev split (for choosing prompts): its own file, its own name,
    ** and an error naming the split where the file or the split is absent. */
    p.split = LX_IE_DEV;
    LX_CHECK(t, lx_ie_eval_run(&p, &r6, &e) == LEXIE_E_IO && strstr(e.message, "dev.txt"));
    lx_ie_eval_result_clear(&r6);
    LX_REQUIRE(t, put_data(dir, "conll2003/dev.txt", "tests/data/ie/mini.iob"));
    st = lx_ie_eval_run(&p, &r6, &e);
    LX_CHECK_MSG(t, st == LEXIE_OK, "%s", e.message);
    LX_CHECK(t, r6.predictions && strstr(r6.predictions, "conll2003-dev-") != NULL);
    LX_CHECK(t, r6.n_computed == r1.n_docs && strcmp(r6.predictions, r1.predictions) != 0);
    lx_ie_eval_result_clear(&r6);
    p.data = "carb";
    LX_CHECK(t,
             lx_ie_eval_run(&p, &r6, &e) == LEXIE_E_INVALID && strstr(e.message, "no dev split"));
    lx_ie_eval_result_clear(&r6);
    p.data = "conll2003";
    p.split = LX_IE_TEST;
    /* Bad parameters. */
    p.data = "nope";
    lx_ie_eval_result r4;
    LX_CHECK(t, lx_ie_eval_run(&p, &r4, &e) == LEXIE_E_INVALID && strstr(e.message, "conll2003"));
    lx_ie_eval_result_clear(&r4);
    p.data = "conll2003";
    p.native = 1;
    LX_CHECK(t, lx_ie_eval_run(&p, &r4, &e) == LEXIE_E_INVALID);
    lx_ie_eval_result_clear(&r4);
    lx_ie_eval_result_clear(&r1);
    lx_ie_eval_result_clear(&r2);
    lx_ie_eval_result_clear(&r3);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    LX_CHECK(t, system(cmd) == 0);
}

/* Each line of a PubMedQA --export-sft file is one question's prompt
** (lx_pubmedqa_prompt) and its gold decision; three lines. */
static void check_pqa_sft(lx_t *t, const char *sft) {
    lexie_error e;
    lx_ie_set s;
    memset(&s, 0, sizeof s);
    size_t n;
    char *all;
    all = lx_read_file(sft, 1 << 20, &n, &e);
    LX_REQUIRE(t, all != NULL);
    LX_REQUIRE(t, lx_ie_read_pubmedqa("tests/data/ie/pubmedqa.json", 0, &s, &e) == LEXIE_OK);
    int lines = 0;
    for (char *l = all, *nl; (nl = strchr(l, '\n')); l = nl + 1, lines++) {
        lx_json_doc *jd = lx_json_parse(l, (size_t)(nl - l), NULL, &e);
        const lx_json *ms = jd ? lx_json_get(lx_json_root(jd), "messages") : NULL;
        LX_REQUIRE(t, ms && ms->n == 2);
        const char *user = lx_json_string(lx_json_get(ms->items[0], "content"));
        const char *answer = lx_json_string(lx_json_get(ms->items[1], "content"));
        int found = 0;
        for (int i = 0; i < s.n; i++) {
            char *want = lx_pubmedqa_prompt(&s.docs[i], 0, &e);
            if (want && strcmp(want, user) == 0)
                found = strcmp(answer, s.docs[i].gold_answer) == 0 ? 1 : -1;
            free(want);
        }
        LX_CHECK_MSG(t, found == 1, "line %d: %.*s", lines, (int)(nl - l), l);
        lx_json_doc_free(jd);
    }
    LX_CHECK(t, lines == 3);
    free(all);
    lx_ie_set_free(&s);
}

/* PubMedQA: the reader, the scores by hand, a run on the fixture model
** (every decision is yes, no or maybe under the grammar), and the train
** split exported as training data in exactly the asked prompt. */
static void test_ie_run_pubmedqa(lx_t *t) {
    lx_ie_set s;
    memset(&s, 0, sizeof s);
    lexie_error e;
    LX_REQUIRE(t, lx_ie_read_pubmedqa("tests/data/ie/pubmedqa.json", 0, &s, &e) == LEXIE_OK);
    LX_REQUIRE(t, s.n == 3);
    LX_CHECK(t, strcmp(s.docs[0].id, "1001") == 0 && strcmp(s.docs[2].gold_answer, "maybe") == 0);
    /* Paragraphs one a line, after their labels; a missing label is none. */
    LX_CHECK_MSG(t,
                 strcmp(s.docs[2].text, "METHODS: A survey of 120 café workers gave mixed "
                                        "results.\nSleep was shorter on weekdays only.") == 0,
                 "%s", s.docs[2].text);
    char *q = lx_pubmedqa_prompt(&s.docs[1], 0, &e);
    LX_CHECK_MSG(t,
                 q && strstr(q, "with yes, no or maybe.\n\nAbstract:\nRESULTS: We followed") &&
                     strstr(q, "\n\nQuestion: Is coffee intake linked to hip fracture?\nAnswer"),
                 "%s", q ? q : "");
    free(q);
    lx_ie_set_free(&s);
    LX_REQUIRE(t, lx_ie_read_pubmedqa("tests/data/ie/pubmedqa.json", 1, &s, &e) == LEXIE_OK);
    LX_CHECK(t,
             strcmp(s.docs[1].gold_answer, "Coffee intake was not linked to hip fracture.") == 0);
    lx_ie_set_free(&s);
    /* Bad files name what is wrong. */
    char bad[] = "/tmp/lexie-pqa-XXXXXX";
    int fd = mkstemp(bad);
    LX_REQUIRE(t, fd >= 0);
    const char *txt = "{\"7\": {\"QUESTION\": \"q\", \"CONTEXTS\": [\"c\"], "
                      "\"final_decision\": \"perhaps\", \"LONG_ANSWER\": \"a\"}}";
    LX_REQUIRE(t, write(fd, txt, strlen(txt)) == (ssize_t)strlen(txt));
    close(fd);
    LX_CHECK_MSG(t,
                 lx_ie_read_pubmedqa(bad, 0, &s, &e) == LEXIE_E_FORMAT &&
                     strstr(e.message, "\"7\"") && strstr(e.message, "perhaps"),
                 "%s", e.message);
    lx_ie_set_free(&s);
    LX_CHECK(t, lx_ie_read_pubmedqa(bad, 1, &s, &e) == LEXIE_OK && s.n == 1);
    lx_ie_set_free(&s);
    remove(bad);
    LX_CHECK(t, lx_ie_read_pubmedqa("tests/data/ie/phee.jsonl", 0, &s, &e) == LEXIE_E_FORMAT);
    lx_ie_set_free(&s);

    /* Scores by hand: gold yes -> yes, no; gold no -> no; gold maybe ->
    ** yes, "Maybe " (case and space do not count), "perhaps" (none). */
    lx_pqa_counts c;
    memset(&c, 0, sizeof c);
    const char *gold[6] = {"yes", "yes", "no", "maybe", "maybe", "maybe"};
    const char *ans[6] = {"yes", "no", "no", "yes", "Maybe ", "perhaps"};
    for (int i = 0; i < 6; i++) LX_CHECK(t, lx_pqa_add(&c, 0, ans[i], gold[i], &e) == LEXIE_OK);
    LX_CHECK(t, lx_pqa_add(&c, 0, "yes", "sure", &e) == LEXIE_E_FORMAT);
    lx_pqa_score sc;
    lx_pqa_finish(&c, &sc);
    /* F1 yes 2/4, no 2/3, maybe 2/4 (1 right, 1 predicted, 3 gold) */
    LX_CHECK(t, sc.n == 6 && fabs(sc.accuracy - 0.5) < 1e-12);
    LX_CHECK(t, fabs(sc.f1[0] - 0.5) < 1e-12 && fabs(sc.f1[1] - 2.0 / 3) < 1e-12 &&
                    fabs(sc.f1[2] - 0.5) < 1e-12);
    LX_CHECK(t, fabs(sc.macro_f1 - (0.5 + 2.0 / 3 + 0.5) / 3) < 1e-12);
    memset(&c, 0, sizeof c);
    LX_CHECK(t, lx_pqa_add(&c, 1, "a b c", "a b c", &e) == LEXIE_OK);
    LX_CHECK(t, lx_pqa_add(&c, 1, "x y", "a b", &e) == LEXIE_OK);
    lx_pqa_finish(&c, &sc);
    LX_CHECK(t, sc.n == 2 && fabs(sc.rouge_l - 0.5) < 1e-12);

    /* A run on the fixture model. */
    char model[512], dir[] = "/tmp/lexie-ie-pqa-XXXXXX";
    snprintf(model, sizeof model, "%s/llama_q.gguf", lx_test_fixtures());
    if (access(model, R_OK) != 0) LX_SKIP(t, "fixture %s absent (run make test)", model);
    LX_REQUIRE(t, mkdtemp(dir) != NULL);
    LX_REQUIRE(t, put_data(dir, "pubmedqa/test.json", "tests/data/ie/pubmedqa.json"));
    lx_ie_eval_params p = fixture_params("pubmedqa", dir, model, 4);
    lx_ie_eval_result r;
    lexie_status st = lx_ie_eval_run(&p, &r, &e);
    LX_CHECK_MSG(t, st == LEXIE_OK, "%s", e.message);
    LX_REQUIRE(t, st == LEXIE_OK && r.n_computed == 3);
    LX_CHECK_MSG(t, strstr(r.table, "valid outputs 3 (100.0%)") && strstr(r.table, "macro-F1"),
                 "%s", r.table);
    size_t n;
    char *all = lx_read_file(r.predictions, 1 << 20, &n, &e);
    LX_REQUIRE(t, all != NULL);
    int words = 0;
    for (char *l = all; *l; l = strchr(l, '\n') + 1) {
        words += strstr(l, "\"answer\":\"yes\"") == strstr(l, "\"answer\":\"") ||
                 strstr(l, "\"answer\":\"no\"") == strstr(l, "\"answer\":\"") ||
                 strstr(l, "\"answer\":\"maybe\"") == strstr(l, "\"answer\":\"");
        if (!strchr(l, '\n')) break;
    }
    LX_CHECK_MSG(t, words == 3, "%s", all);
    free(all);
    lx_ie_eval_result_clear(&r);
    p.data = "pubmedqa-conclusion";
    st = lx_ie_eval_run(&p, &r, &e);
    LX_CHECK_MSG(t, st == LEXIE_OK && r.n_computed == 3 && strstr(r.table, "ROUGE-L"), "%s",
                 st == LEXIE_OK ? r.table : e.message);
    /* Conclusions cut by --max-tokens 4 are marked and counted. */
    int cut = 0;
    all = st == LEXIE_OK ? lx_read_file(r.predictions, 1 << 20, &n, &e) : NULL;
    for (char *l = all; l && (l = strstr(l, "\"truncated\":true")); l++) cut++;
    char want_cut[64];
    snprintf(want_cut, sizeof want_cut, "truncated %d,", cut);
    LX_CHECK_MSG(t, cut > 0 && st == LEXIE_OK && strstr(r.table, want_cut), "%d: %s", cut,
                 st == LEXIE_OK ? r.table : e.message);
    free(all);
    lx_ie_eval_result_clear(&r);
    /* --split train --export-sft: the prompt, then the gold answer. */
    LX_CHECK(t, lx_ie_eval_run(&(lx_ie_eval_params){.data = "pubmedqa",
                                                    .data_dir = dir,
                                                    .model = model,
                                                    .split = LX_IE_TRAIN,
                                                    .batch = 1,
                                                    .max_tokens = 4},
                               &r, &e) == LEXIE_E_IO);
    lx_ie_eval_result_clear(&r);
    LX_REQUIRE(t, put_data(dir, "pubmedqa/train_dev.json", "tests/data/ie/pubmedqa.json"));
    char sft[700];
    snprintf(sft, sizeof sft, "%s/sft.jsonl", dir);
    p.data = "pubmedqa";
    p.split = LX_IE_TRAIN;
    p.sft_out = sft;
    st = lx_ie_eval_run(&p, &r, &e);
    LX_CHECK_MSG(t, st == LEXIE_OK && r.n_docs == 3, "%s", e.message);
    lx_ie_eval_result_clear(&r);
    check_pqa_sft(t, sft);
    /* Not for what has no gold answer in its prompt's shape. */
    p.data = "carb";
    p.split = LX_IE_TEST;
    LX_CHECK(t, lx_ie_eval_run(&p, &r, &e) == LEXIE_E_INVALID && strstr(e.message, "--export-sft"));
    lx_ie_eval_result_clear(&r);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    LX_CHECK(t, system(cmd) == 0);
}

/* A set's built-in schema is part of the prompt, but the evaluation key
** names prompts only by LX_EXTRACT_PROMPT_VERSION: a schema changed without
** a new version would resume predictions made with the old one.  So each is
** pinned here beside the version, and changing one fails until both move. */
static void test_ie_set_schemas_pinned(lx_t *t) {
    static const struct {
        const char *set, *sha256;
    } pinned[] = {
        {"conll2003", "bbdeb9ff7c384850b267f11f2868a389f8ab24e1400de334733cd99f56c641dd"},
        {"ncbi", "1817d2bccf6e659a155225796a5932ffec1914f9c729ec20b1721ca4eec76788"},
        {"bc5cdr", "86a09ca53619041939de940492052f2fc8016e301ff0aea0ce141359af40ef3f"},
        {"phee", "16045e03139da6554a08bda04295b1cdd2f586329ec8e292597779357e37f305"},
    };
    LX_CHECK_MSG(t, strcmp(LX_EXTRACT_PROMPT_VERSION, "extract-2") == 0,
                 "new prompt version %s: pin the sets' schema hashes again",
                 LX_EXTRACT_PROMPT_VERSION);
    for (size_t i = 0; i < LX_ARRAY_LEN(pinned); i++) {
        const lx_ie_setdef *d = lx_ie_setdef_find(pinned[i].set);
        LX_REQUIRE(t, d && d->schema);
        char hex[65];
        lx_sha256_hex_of(d->schema, strlen(d->schema), hex);
        LX_CHECK_MSG(t, strcmp(hex, pinned[i].sha256) == 0,
                     "%s's schema changed (sha256 %s): bump LX_EXTRACT_PROMPT_VERSION and pin it",
                     pinned[i].set, hex);
    }
}

/* Validity is a share of grammar-bound outputs: free-text answers
** (--native) are counted apart, and a run of only them reports none. */
static void test_ie_tally_free_text(lx_t *t) {
    const lx_ie_setdef *d = lx_ie_setdef_find("pubmedqa");
    LX_REQUIRE(t, d != NULL);
    lx_ie_doc gold;
    memset(&gold, 0, sizeof gold);
    gold.gold_answer = "yes";
    const char *line = "{\"answer\":\"yes\",\"seconds\":0.5}";
    lexie_error e;
    lx_json_doc *jd = lx_json_parse(line, strlen(line), NULL, &e);
    LX_REQUIRE(t, jd != NULL);
    lx_ie_tally tl;
    memset(&tl, 0, sizeof tl);
    for (int i = 0; i < 2; i++)
        LX_CHECK(t, lx_ie_tally_add(&tl, d, &gold, lx_json_root(jd), 1, &e) == LEXIE_OK);
    lx_jbuf j = {0}, x = {0};
    LX_CHECK(t, lx_ie_tally_report(&tl, d, &j, &x, &e) == LEXIE_OK);
    lx_jbuf_putc(&j, 0);
    lx_jbuf_putc(&x, 0);
    LX_CHECK_MSG(t, strstr(x.data, "documents 2, valid outputs n/a (free-text answers)"), "%s",
                 x.data);
    LX_CHECK_MSG(t, strstr(j.data, "\"valid\":0,\"free_text\":2,"), "%s", j.data);
    /* One grammar-bound answer beside them: 1 of 1. */
    LX_CHECK(t, lx_ie_tally_add(&tl, d, &gold, lx_json_root(jd), 0, &e) == LEXIE_OK);
    lx_jbuf_reset(&j);
    lx_jbuf_reset(&x);
    LX_CHECK(t, lx_ie_tally_report(&tl, d, &j, &x, &e) == LEXIE_OK);
    lx_jbuf_putc(&x, 0);
    LX_CHECK_MSG(t, strstr(x.data, "documents 3, valid outputs 1 (100.0%)"), "%s", x.data);
    lx_jbuf_free(&j);
    lx_jbuf_free(&x);
    lx_ie_tally_free(&tl);
    lx_json_doc_free(jd);
}

void suite_ie_run(void) {
    LX_RUN(test_ie_run_adelie_prompts);
    LX_RUN(test_ie_run_resume);
    LX_RUN(test_ie_run_pubmedqa);
    LX_RUN(test_ie_tally_free_text);
    LX_RUN(test_ie_set_schemas_pinned);
}
