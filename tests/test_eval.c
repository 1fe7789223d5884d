/*
** test_eval.c -- evaluation of relation extraction: dataset readers
** (SemEval round trip, TACRED, GAD, the real files when present under
** $LEXIE_DATA), metrics on hand-made cases including the SemEval official
** score, reports and prediction files, and `lexie eval re` end to end on
** the tiny fixture model, resumed.
*/
#include "eval/eval.h"
#include "re_fixture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ==== Readers ==== */

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

/* "$LEXIE_DATA/rel" into buf. */
static const char *data_file(char *buf, size_t n, const char *rel) {
    snprintf(buf, n, "%s/%s", re_data_dir(), rel);
    return buf;
}

static void test_real_semeval(lx_t *t) {
    lx_re_data d = {0};
    lexie_error e;
    char sem[4096], p2[4096];
    data_file(sem, sizeof sem, "semeval2010_task8/TEST_FILE_FULL.TXT");
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
    data_file(p2, sizeof p2, "semeval2010_task8/TEST_FILE.txt");
    LX_REQUIRE(t, lx_read_semeval(p2, &k, &e) == LEXIE_OK);
    data_file(p2, sizeof p2, "semeval2010_task8/TEST_FILE_KEY_DIRECTED.TXT");
    LX_REQUIRE(t, lx_read_semeval_key(p2, &k, &e) == LEXIE_OK);
    int same = k.n == d.n;
    for (int i = 0; same && i < d.n; i++)
        same = k.items[i].gold && strcmp(k.items[i].gold, d.items[i].gold) == 0;
    LX_CHECK(t, same);
    lx_re_data_free(&k);
    lx_re_data_free(&d);
}

static void test_real_gad(lx_t *t) {
    lx_re_data d = {0};
    lexie_error e;
    char gad[4096];
    data_file(gad, sizeof gad, "gad_biobert_fold1/test.tsv");
    if (access(gad, R_OK) != 0) LX_SKIP(t, "no %s", gad);
    LX_REQUIRE(t, lx_read_gad(gad, "test-", &d, &e) == LEXIE_OK);
    LX_CHECK_INT(t, d.n, 534);
    int pos = 0;
    for (int i = 0; i < d.n; i++) pos += strcmp(d.items[i].gold, "association") == 0;
    LX_CHECK_INT(t, pos, 281);
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

/* ==== `lexie eval re` end to end ==== */

/* Runs `LEXIE_DATA=data lexie eval re ARGS`, stderr and stdout into out.
** Returns the exit status, or -1 if it died from a signal. */
static int run_eval(const char *data, const char *args, char *out, size_t n) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "LEXIE_DATA='%s' %s eval re %s 2>&1 </dev/null", data, lx_test_cli(),
             args);
    FILE *f = popen(cmd, "r");
    if (!f) return -2;
    size_t len = fread(out, 1, n - 1, f);
    out[len] = 0;
    int st = pclose(f);
    return WIFSIGNALED(st) ? -1 : WEXITSTATUS(st);
}

/* The one prediction file under dir (its path into path), or 0. */
static int find_preds(const char *dir, char *path, size_t n) {
    DIR *d = opendir(dir);
    int found = 0;
    struct dirent *ent;
    while (d && (ent = readdir(d)))
        if (strstr(ent->d_name, ".jsonl")) {
            snprintf(path, n, "%s/%s", dir, ent->d_name);
            found++;
        }
    if (d) closedir(d);
    return found == 1;
}

/* The file's lines with every "seconds" value masked, which is all that
** may differ between two runs. */
static char *masked(const char *path) {
    size_t n;
    char *s = lx_read_file(path, 0, &n, NULL);
    if (!s) return NULL;
    for (char *p = s; (p = strstr(p, "\"seconds\":")); p += 10)
        for (char *q = p + 10; *q && *q != ',' && *q != '}'; q++) *q = '0';
    return s;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

static void test_eval_resume(lx_t *t) {
    /* GAD's format and schema: the shortest prompts, so the tiny model's
    ** 256-token context holds them (with a bare chat template). */
    static const char gad[] = "@GENE$ in @DISEASE$.\t1\n@DISEASE$ no @GENE$.\t0\n"
                              "@GENE$ up in @DISEASE$.\t1\n@GENE$ or @DISEASE$.\t0\n";
    char model[4096], dir[] = "/tmp/lexie_test_eval_XXXXXX", p[4096], args[8192], out[16384];
    snprintf(model, sizeof model, "%s/llama_q.gguf", lx_test_fixtures());
    if (access(model, R_OK) != 0) LX_SKIP(t, "fixture %s missing (run make test)", model);
    if (access("schemas/gad.json", R_OK) != 0) LX_SKIP(t, "run from the repository root");
    LX_REQUIRE(t, mkdtemp(dir));
    snprintf(p, sizeof p, "%s/gad_biobert_fold1", dir);
    LX_REQUIRE(t, mkdir(p, 0777) == 0);
    snprintf(p, sizeof p, "%s/gad_biobert_fold1/test.tsv", dir);
    FILE *f = fopen(p, "w");
    LX_REQUIRE(t, f);
    fputs(gad, f);
    fclose(f);
    const char *base = "--data gad -m '%s' --out '%s/%s' -t 1 --batch 2 --chat-template "
                       "'{%% for m in messages %%}{{ m.content }}{%% endfor %%}'";
    /* A short run, then the full one resumes it: only the rest is computed. */
    snprintf(args, sizeof args, base, model, dir, "out");
    strcat(args, " --limit 2 --quiet");
    LX_CHECK_INT(t, run_eval(dir, args, out, sizeof out), 0);
    LX_CHECK_MSG(t, strstr(out, "micro") != NULL, "%s", out);
    char preds[4096], rpath[4200], *s1 = NULL, *s2 = NULL, *s3 = NULL;
    snprintf(p, sizeof p, "%s/out", dir);
    LX_REQUIRE(t, find_preds(p, preds, sizeof preds));
    s1 = masked(preds);
    LX_CHECK_INT(t, count_lines(s1), 2);
    snprintf(args, sizeof args, base, model, dir, "out");
    LX_CHECK_INT(t, run_eval(dir, args, out, sizeof out), 0);
    LX_CHECK_MSG(t, strstr(out, "4 examples, 2 already in") && strstr(out, "2 to compute"), "%s",
                 out);
    s2 = masked(preds);
    LX_CHECK_INT(t, count_lines(s2), 4);
    LX_CHECK(t, s1 && s2 && strncmp(s1, s2, strlen(s1)) == 0); /* the first two kept */
    /* A torn last line (a killed run) is trimmed; nothing is recomputed. */
    f = fopen(preds, "a");
    LX_REQUIRE(t, f);
    fputs("{\"id\":\"test-9\",\"gold\":\"assoc", f);
    fclose(f);
    LX_CHECK_INT(t, run_eval(dir, args, out, sizeof out), 0);
    LX_CHECK_MSG(t, strstr(out, "4 examples, 4 already in") && strstr(out, "0 to compute"), "%s",
                 out);
    s3 = masked(preds);
    LX_CHECK(t, s2 && s3 && strcmp(s2, s3) == 0);
    /* The same in one go, elsewhere: the same predictions and file name. */
    free(s3);
    snprintf(args, sizeof args, base, model, dir, "one");
    strcat(args, " --quiet");
    LX_CHECK_INT(t, run_eval(dir, args, out, sizeof out), 0);
    snprintf(p, sizeof p, "%s/one", dir);
    char preds1[4096];
    LX_REQUIRE(t, find_preds(p, preds1, sizeof preds1));
    s3 = masked(preds1);
    LX_CHECK(t, s2 && s3 && strcmp(s2, s3) == 0);
    LX_CHECK(t, strcmp(strrchr(preds, '/'), strrchr(preds1, '/')) == 0);
    /* The report: rebuilt from the whole file, with the stored prior. */
    snprintf(rpath, sizeof rpath, "%.*s.report.json", (int)(strlen(preds) - 6), preds);
    lexie_error e;
    lx_json_doc *d = lx_json_parse_file(rpath, NULL, &e);
    LX_REQUIRE(t, d);
    const lx_json *r = lx_json_root(d);
    int64_t n = -1, nc = -1;
    LX_CHECK(t, lx_json_int(lx_json_get(r, "n_scored"), &n) && n == 4);
    LX_CHECK(t, lx_json_int(lx_json_get(r, "n_computed_this_run"), &nc) && nc == 0);
    const lx_json *mp = lx_json_get(r, "mean_probability");
    LX_CHECK(t, mp && mp->type == LX_JSON_OBJECT && mp->n == 2);
    LX_CHECK(t, strstr(preds, "/gad-test-qa4re-tmpl-") != NULL);
    LX_CHECK(t, lx_json_get(r, "threshold_tuning") && lx_json_get(r, "batch_calibration"));
    const char *hash = lx_json_string(lx_json_get(r, "config_hash"));
    LX_CHECK(t, hash && strlen(hash) == 12 && strstr(preds, hash));
    lx_json_doc_free(d);
    /* --prior with that report decides by it, in a report of its own. */
    snprintf(args, sizeof args, base, model, dir, "out");
    snprintf(args + strlen(args), sizeof args - strlen(args), " --quiet --prior '%s'", rpath);
    LX_CHECK_INT(t, run_eval(dir, args, out, sizeof out), 0);
    snprintf(rpath, sizeof rpath, "%.*s-prior.report.txt", (int)(strlen(preds) - 6), preds);
    LX_CHECK_MSG(t, access(rpath, R_OK) == 0, "no %s", rpath);
    /* --export-sft: the selection as chat JSONL with the gold answers, one
    ** line per example (GAD's 1/0 are association / none), nothing classified. */
    snprintf(args, sizeof args, base, model, dir, "sft");
    snprintf(args + strlen(args), sizeof args - strlen(args),
             " --method compact --export-sft '%s/sft.jsonl'", dir);
    LX_CHECK_INT(t, run_eval(dir, args, out, sizeof out), 0);
    LX_CHECK_MSG(t, strstr(out, "4 examples written to"), "%s", out);
    snprintf(p, sizeof p, "%s/sft.jsonl", dir);
    size_t sft_len = 0;
    char *sft = lx_read_file(p, 1 << 20, &sft_len, &e);
    LX_REQUIRE(t, sft);
    LX_CHECK_INT(t, count_lines(sft), 4);
    LX_CHECK_MSG(t,
                 strncmp(sft,
                         "{\"messages\": [{\"role\": \"user\", \"content\": \"Classify the "
                         "relationship between the two entities.\\n\\nSentence: [@GENE$] in "
                         "[@DISEASE$].",
                         110) == 0,
                 "%s", sft);
    const char *second = strchr(sft, '\n');
    static const char yes[] = "{\"role\": \"assistant\", \"content\": \"association\"}]}\n";
    LX_CHECK(t, second && strstr(sft, yes) == second + 1 - strlen(yes));
    LX_CHECK(t, second && strstr(second, "\"content\": \"no_association\"}]}\n"));
    free(sft);
    snprintf(p, sizeof p, "%s/sft", dir);
    LX_CHECK_MSG(t, access(p, F_OK) != 0, "%s made a prediction folder", p);
    free(s1);
    free(s2);
    free(s3);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    LX_CHECK_INT(t, system(args), 0);
}

void suite_eval(void) {
    LX_RUN(test_semeval_round_trip);
    LX_RUN(test_tacred_and_gad);
    LX_RUN(test_real_semeval);
    LX_RUN(test_real_gad);
    LX_RUN(test_metrics);
    LX_RUN(test_report_and_preds);
    LX_RUN(test_eval_resume);
}
