/*
** test_alloc.c -- allocation-failure injection (tests/alloc_fail.h): for
** n = 1, 2, 3, ... the n-th allocation fails while the library loads a
** relation schema from a file, loads the tiny fixture model
** (build/fixtures/llama_q.gguf), makes a context and a classifier, parses
** one JSONL input line and classifies it.  Every n must end in an error
** status with a message (or, where the library tolerates the failure,
** the same probabilities as the run without one), and every block
** allocated must be freed: no leak, no crash, no garbage.  A second walk
** runs the evaluation runner (lexie_re_eval_run: dataset reader, schema,
** model, prediction file, reports) on a two-line GAD file.
*/
#include "alloc_fail.h"
#include "lx_test.h"

#include "lexie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char schema_json[] =
    "{\"name\": \"toy\", \"entity_types\": [\"PER\", \"LOC\"],\n"
    " \"none\": {\"label\": \"none\", \"template\": \"{subj} and {obj} are unrelated\"},\n"
    " \"relations\": [\n"
    "  {\"label\": \"lives_in\", \"templates\": [\"{subj} lives in {obj}\"], \"types\": "
    "[[\"PER\", \"LOC\"]]},\n"
    "  {\"label\": \"born_in\", \"types\": [[\"PER\", \"LOC\"]]}]}\n";

static const char line_json[] = "{\"id\": 7, \"text\": \"Zo\xc3\xab lives in Paris.\", "
                                "\"head\": {\"start\": 0, \"end\": 3, \"type\": \"PER\"}, "
                                "\"tail\": {\"start\": 13, \"end\": 18, \"type\": \"LOC\"}}";

enum { MAX_LABELS = 8 };

typedef struct run_out {
    lexie_status st;
    const char *step; /* where it failed */
    lexie_error err;
    int n_labels, label;
    float probs[MAX_LABELS];
} run_out;

/* The whole scenario, everything freed before it returns.  vanilla: the
** constrained-label method with two permutations instead of QA4RE. */
static void scenario(const char *model_path, const char *schema_path, int vanilla, run_out *o) {
    memset(o, 0, sizeof *o);
    o->err.code = LEXIE_OK;
    lexie_model *m = NULL;
    lexie_ctx *c = NULL;
    lexie_re_schema *s = NULL;
    lexie_re *re = NULL;
    lexie_re_line l;
    lexie_re_result r;
    memset(&l, 0, sizeof l);
    memset(&r, 0, sizeof r);
    o->step = "schema";
    if (!(s = lexie_re_schema_load(schema_path, &o->err))) goto done;
    o->step = "model";
    lexie_model_params mp = {0};
    mp.chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}";
    if (!(m = lexie_model_load(model_path, &mp, &o->err))) goto done;
    o->step = "ctx";
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = 256;
    cp.n_seq_max = 2;
    cp.n_threads = 1;
    if (!(c = lexie_ctx_new(m, &cp, &o->err))) goto done;
    o->step = "re_new";
    lexie_re_params rp = lexie_re_default_params();
    rp.batch = 1;
    if (vanilla) {
        rp.method = LEXIE_RE_VANILLA;
        rp.n_permute = 2;
    }
    if (!(re = lexie_re_new(c, s, &rp, &o->err))) goto done;
    o->step = "demos"; /* a demonstration, removed again: the tiny context holds no more */
    lexie_re_example demo = {"Ann was born in Rome.", 0, 3, 16, 20, "PER", "LOC"};
    int demo_label = 1;
    if ((o->st = lexie_re_set_demos(re, &demo, &demo_label, 1, &o->err))) goto done;
    if ((o->st = lexie_re_set_demos(re, NULL, NULL, 0, &o->err))) goto done;
    o->step = "line";
    if ((o->st = lexie_re_line_parse(line_json, strlen(line_json), 1, &l, &o->err))) goto done;
    o->step = "classify";
    if ((o->st = lexie_re_classify(re, &l.ex, 1, &r, &o->err))) goto done;
    o->step = NULL;
    o->n_labels = lexie_re_schema_n_labels(s);
    o->label = r.label;
    for (int i = 0; i < o->n_labels && i < MAX_LABELS; i++) o->probs[i] = r.probs[i];
    o->st = LEXIE_OK;
done:
    /* A constructor returned NULL: its status is in err (LEXIE_OK there is a defect). */
    if (o->step && o->st == LEXIE_OK)
        o->st = o->err.code == LEXIE_OK ? (lexie_status)-1 : o->err.code;
    lexie_re_result_clear(&r);
    lexie_re_line_clear(&l);
    lexie_re_free(re);
    lexie_ctx_free(c);
    lexie_model_free(m);
    lexie_re_schema_free(s);
}

/* Walks n over every allocation of the scenario, failing only the n-th
** (persist 0) or every one from the n-th on (persist 1). */
static void walk(lx_t *t, int vanilla, int persist) {
    char model[4096];
    snprintf(model, sizeof model, "%s/llama_q.gguf", lx_test_fixtures());
    if (access(model, R_OK) != 0) LX_SKIP(t, "fixture %s missing (run make test)", model);
    char schema[] = "/tmp/lexie_test_alloc_XXXXXX";
    int fd = mkstemp(schema);
    LX_REQUIRE(t, fd >= 0);
    LX_REQUIRE(t, write(fd, schema_json, sizeof schema_json - 1) == sizeof schema_json - 1);
    close(fd);

    /* The run without a failure: its allocations and its answer. */
    run_out base, o;
    long n_allocs, leaked;
    int failed;
    lx_alloc_begin(0, 0);
    scenario(model, schema, vanilla, &base);
    leaked = lx_alloc_end(&n_allocs, &failed);
    LX_CHECK_MSG(t, base.st == LEXIE_OK, "baseline failed at %s: %s", base.step, base.err.message);
    LX_CHECK_INT(t, leaked, 0);
    LX_CHECK(t, n_allocs > 50 && !failed);
    int bad = 0, tolerated = 0;
    for (long n = 1; n <= n_allocs && bad < 10 && base.st == LEXIE_OK; n++) {
        lx_alloc_begin(n, persist);
        scenario(model, schema, vanilla, &o);
        long k;
        leaked = lx_alloc_end(&k, &failed);
        int ok = 1;
        if (leaked != 0) {
            lx_test_fail(t, __FILE__, __LINE__, "alloc %ld (%s): %ld blocks leaked", n,
                         o.step ? o.step : "done", leaked);
            ok = 0;
        }
        if (!failed) {
            lx_test_fail(t, __FILE__, __LINE__, "alloc %ld: only %ld allocations", n, k);
            ok = 0;
        } else if (o.st == LEXIE_OK) {
            /* Tolerated (e.g. an optional cache): the answer must not change. */
            tolerated++;
            if (o.label != base.label || memcmp(o.probs, base.probs, sizeof o.probs) != 0) {
                lx_test_fail(t, __FILE__, __LINE__, "alloc %ld: succeeded with other results", n);
                ok = 0;
            }
        } else if (o.err.code != o.st || !o.err.message[0]) {
            lx_test_fail(t, __FILE__, __LINE__, "alloc %ld (%s): status %d without its message", n,
                         o.step, (int)o.st);
            ok = 0;
        } else if (o.st != LEXIE_E_NOMEM) {
            lx_test_fail(t, __FILE__, __LINE__, "alloc %ld (%s): status %d, not NOMEM: %s", n,
                         o.step, (int)o.st, o.err.message);
            ok = 0;
        }
        bad += !ok;
    }
    if (getenv("LX_TEST_VERBOSE"))
        fprintf(stderr, "  alloc walk (%s, %s): %ld allocations, %d failures tolerated\n",
                vanilla ? "vanilla" : "qa4re", persist ? "persistent" : "one", n_allocs, tolerated);
    unlink(schema);
}

/* A file's bytes with every "seconds" value zeroed (timing varies). */
static char *masked_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = calloc(1, 1 << 16);
    size_t n = s ? fread(s, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (!s) return NULL;
    s[n] = 0;
    for (char *p = s; (p = strstr(p, "\"seconds\":")); p += 10)
        for (char *q = p + 10; *q && *q != ',' && *q != '}'; q++) *q = '0';
    return s;
}

typedef struct eval_out {
    lexie_status st;
    lexie_error err;
    int n_errors, report_written, n_computed;
    char *preds; /* masked prediction file, malloc'd outside the window */
    char preds_path[4096];
} eval_out;

static void eval_once(const char *model, const char *dir, long n, eval_out *o) {
    char out_dir[4096];
    snprintf(out_dir, sizeof out_dir, "%s/out%ld", dir, n);
    memset(o, 0, sizeof *o);
    o->err.code = LEXIE_OK;
    lexie_re_eval_params p = lexie_re_eval_default_params();
    p.data = "gad";
    p.data_dir = dir;
    p.schema_path = "schemas/gad.json";
    p.model = model;
    p.chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}";
    p.out_dir = out_dir;
    p.batch = 1;
    p.n_threads = 1;
    lexie_re_eval_result r;
    memset(&r, 0, sizeof r);
    o->st = lexie_re_eval_run(&p, &r, &o->err);
    o->n_errors = r.n_errors;
    o->report_written = r.report_written;
    o->n_computed = r.n_computed;
    if (r.predictions) snprintf(o->preds_path, sizeof o->preds_path, "%s", r.predictions);
    lexie_re_eval_result_clear(&r);
}

static void test_alloc_eval_run(lx_t *t) {
    static const char gad[] = "@GENE$ in @DISEASE$.\t1\n@DISEASE$ no @GENE$.\t0\n";
    char model[4096], dir[] = "/tmp/lexie_test_alloc_XXXXXX", p[4200];
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

    eval_out base, o;
    long n_allocs, leaked, k;
    int failed, bad = 0, reported = 0;
    lx_alloc_begin(0, 0);
    eval_once(model, dir, 0, &base);
    leaked = lx_alloc_end(&n_allocs, &failed);
    LX_CHECK_MSG(t, base.st == LEXIE_OK && base.n_errors == 0 && base.report_written,
                 "baseline: status %d, %d errors: %s", (int)base.st, base.n_errors,
                 base.err.message);
    LX_CHECK_INT(t, leaked, 0);
    LX_CHECK_INT(t, base.n_computed, 2);
    char *want = masked_file(base.preds_path);
    LX_CHECK(t, want && strstr(want, "test-"));
    for (long n = 1; n <= n_allocs && bad < 10 && want; n++) {
        lx_alloc_begin(n, 0);
        eval_once(model, dir, n, &o);
        leaked = lx_alloc_end(&k, &failed);
        int ok = failed && leaked == 0;
        if (leaked) lx_test_fail(t, __FILE__, __LINE__, "alloc %ld: %ld leaked", n, leaked);
        if (!failed) lx_test_fail(t, __FILE__, __LINE__, "alloc %ld: only %ld allocations", n, k);
        if (o.st != LEXIE_OK) {
            if (o.st != LEXIE_E_NOMEM || o.err.code != o.st || !o.err.message[0]) {
                lx_test_fail(t, __FILE__, __LINE__, "alloc %ld: status %d: %s", n, (int)o.st,
                             o.err.message);
                ok = 0;
            }
            /* What the failed run left must resume: whole lines, the baseline's first ones. */
            const char *name = strrchr(base.preds_path, '/');
            char path[4200];
            snprintf(path, sizeof path, "%s/out%ld%s", dir, n, name ? name : "/");
            char *got = masked_file(path);
            size_t gl = got ? strlen(got) : 0;
            if (got && (strncmp(got, want, gl) != 0 || (gl && got[gl - 1] != '\n'))) {
                lx_test_fail(t, __FILE__, __LINE__, "alloc %ld: a torn prediction file:\n%s", n,
                             got);
                ok = 0;
            }
            free(got);
        } else if (o.n_errors > 0 || !o.report_written) {
            reported++; /* documented: an example's error or a report not written */
        } else {
            char *got = masked_file(o.preds_path);
            if (!got || strcmp(got, want) != 0) {
                lx_test_fail(t, __FILE__, __LINE__, "alloc %ld: other predictions:\n%s", n,
                             got ? got : "(none)");
                ok = 0;
            }
            free(got);
        }
        bad += !ok;
    }
    if (getenv("LX_TEST_VERBOSE"))
        fprintf(
            stderr,
            "  alloc walk (eval run): %ld allocations, %d reported as example or report errors\n",
            n_allocs, reported);
    free(want);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    LX_CHECK(t, system(cmd) == 0);
}

static void test_alloc_qa4re(lx_t *t) { walk(t, 0, 0); }
static void test_alloc_qa4re_persistent(lx_t *t) { walk(t, 0, 1); }
static void test_alloc_vanilla(lx_t *t) { walk(t, 1, 0); }

void suite_alloc(void) {
    LX_RUN(test_alloc_qa4re);
    LX_RUN(test_alloc_qa4re_persistent);
    LX_RUN(test_alloc_vanilla);
    LX_RUN(test_alloc_eval_run);
}
