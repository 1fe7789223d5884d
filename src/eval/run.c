/*
** run.c -- the resumable evaluation runner (lexie_re_eval_run): selects a
** benchmark split, names the prediction file by a hash of the
** configuration, classifies what the file lacks (appending each batch as
** it is computed, so a stopped run resumes), and rebuilds the report from
** the file: headline decisions, the other decision rule, the oracle none
** threshold and the mean probabilities that a later --prior reads.
**
** The CLI (`lexie eval re`) and Python call this; it prints nothing:
** progress and per-example failures go through params.on_event.
**
** The prediction file is locked (flock, for the whole run): a second run
** of the same configuration fails at once instead of computing and
** writing every example twice.  Each batch is appended with one checked
** write; a failed write is cut back off, so the file never holds a torn
** line followed by good ones.  Reports are replaced atomically.
*/
#include "eval.h"

#include "base/base.h"
#include "model/model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEV_SIZE 500
#define DEV_SEED 2010

lexie_re_eval_params lexie_re_eval_default_params(void) {
    lexie_re_eval_params p;
    memset(&p, 0, sizeof p);
    p.split = "test";
    p.method = LEXIE_RE_QA4RE;
    p.seed = 1;
    p.n_permute = 1;
    p.batch = 8;
    p.lora_scale = 1.0f;
    return p;
}

void lexie_re_eval_result_clear(lexie_re_eval_result *r) {
    if (!r) return;
    free(r->predictions);
    free(r->report_json);
    free(r->report_txt);
    free(r->table);
    free(r->prompt);
    memset(r, 0, sizeof *r);
}

/* ==== Selection ==== */

static int cmp_int(const void *x, const void *y) { return *(const int *)x - *(const int *)y; }

/* Reads the raw train or test file of a dataset. */
static lexie_status read_split(const char *dir, const char *data, int is_train, lx_re_data *d,
                               lexie_error *err) {
    const char *rel;
    if (strcmp(data, "semeval") == 0)
        rel =
            is_train ? "semeval2010_task8/TRAIN_FILE.TXT" : "semeval2010_task8/TEST_FILE_FULL.TXT";
    else if (strcmp(data, "gad") == 0)
        rel = is_train ? "gad_biobert_fold1/train.tsv" : "gad_biobert_fold1/test.tsv";
    else
        rel = is_train ? "tacred/train.json" : "tacred/test.json";
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = lx_malloc(n, err);
    if (!p) return LEXIE_E_NOMEM;
    snprintf(p, n, "%s/%s", dir, rel);
    lexie_status st;
    if (strcmp(data, "semeval") == 0)
        st = lx_read_semeval(p, d, err);
    else if (strcmp(data, "gad") == 0)
        st = lx_read_gad(p, is_train ? "train-" : "test-", d, err);
    else
        st = lx_read_tacred(p, d, err);
    free(p);
    return st;
}

/* Marks the dev sample of train: a fixed seeded sample, so dev never moves
** when the seed changes.  SemEval's last 891 train sentences come from an
** older task with a skewed label mix, so its dev sample avoids them. */
static int *dev_mask(const char *data, const lx_re_data *train) {
    int n = train->n, *mask = calloc((size_t)(n > 0 ? n : 1), sizeof *mask);
    if (!mask) return NULL;
    int pool = strcmp(data, "semeval") == 0 && n > 891 ? n - 891 : n;
    int *a = lx_eval_pick(pool, DEV_SIZE, DEV_SEED, NULL);
    if (!a) {
        free(mask);
        return NULL;
    }
    for (int i = 0; i < DEV_SIZE && i < pool; i++) mask[a[i]] = 1;
    free(a);
    return mask;
}

/* Everything one run holds; freed by run_free. */
typedef struct {
    const lexie_re_eval_params *p;
    const char *method_s;
    lx_re_data test, train;
    const lx_re_data *src;
    int *mask;            /* dev sample of train, or NULL */
    int *sel, n_sel;      /* the selection: indices into src */
    int *gold;            /* [n_sel] gold label indices */
    lx_re_schema *schema; /* loaded */
    double *dev_prior;    /* a stored prior, or NULL */
    lexie_model *model;
    lexie_ctx *ctx;
    lexie_re *re;
    lexie_adapter *lora;
    char model_sha[65], chash[65], lora_sha[65];
    char *stem; /* out_dir/<data>-<split>-... without extension */
    lx_re_preds preds;
    int pred_fd;  /* the prediction file, open and flock'd while the run lasts; -1 */
    double t_run; /* seconds this run spent classifying */
} run;

static void run_free(run *r) {
    lexie_re_free(r->re);
    lexie_ctx_free(r->ctx);
    lexie_adapter_free(r->lora);
    lexie_model_free(r->model);
    lx_re_schema_free(r->schema);
    lx_re_data_free(&r->test);
    lx_re_data_free(&r->train);
    lx_re_preds_free(&r->preds);
    free(r->mask);
    free(r->sel);
    free(r->gold);
    free(r->dev_prior);
    free(r->stem);
    if (r->pred_fd >= 0) close(r->pred_fd); /* releases the lock */
}

static void emit(const run *r, lexie_re_eval_event *ev) {
    if (r->p->on_event) r->p->on_event(ev, r->p->user);
}

static lexie_status check_params(const lexie_re_eval_params *p, lexie_error *err) {
    if (!p->data ||
        (strcmp(p->data, "semeval") && strcmp(p->data, "gad") && strcmp(p->data, "tacred")))
        return lx_fail(err, LEXIE_E_INVALID, "unknown dataset '%s' (semeval, gad or tacred)",
                       p->data ? p->data : "(none)");
    if (!p->split ||
        (strcmp(p->split, "test") && strcmp(p->split, "train") && strcmp(p->split, "dev")))
        return lx_fail(err, LEXIE_E_INVALID, "split must be test, train or dev");
    if (!p->schema_path) return lx_fail(err, LEXIE_E_INVALID, "no schema given");
    if (p->method != LEXIE_RE_QA4RE && p->method != LEXIE_RE_VANILLA &&
        p->method != LEXIE_RE_COMPACT)
        return lx_fail(err, LEXIE_E_INVALID, "method must be qa4re, vanilla or compact");
    if (p->threshold < 0 || p->threshold > 1)
        return lx_fail(err, LEXIE_E_INVALID, "threshold wants a number in (0, 1]");
    if ((p->threshold > 0) + (p->calibrate || p->prior_path) > 1)
        return lx_fail(err, LEXIE_E_INVALID,
                       "calibrate, prior and threshold are alternatives; use one");
    if (p->shots < 0 || p->shots > 64 || p->batch < 1 || p->batch > 63 || p->n_permute < 1 ||
        p->n_permute > 64 || p->limit < 0 || p->sample < 0)
        return lx_fail(err, LEXIE_E_INVALID,
                       "shots, batch, n_permute, limit or sample out of range");
    return LEXIE_OK;
}

/* Schema, stored prior, data and the selection with its gold labels. */
static lexie_status load_inputs(run *r, lexie_error *err) {
    const lexie_re_eval_params *p = r->p;
    if (!(r->schema = lx_re_schema_load(p->schema_path, err))) return err ? err->code : LEXIE_E_IO;
    for (int i = 0; i < r->schema->n_warnings; i++) {
        lexie_re_eval_event ev = {.kind = LEXIE_RE_EVAL_WARNING, .message = r->schema->warnings[i]};
        emit(r, &ev);
    }
    /* A stored prior is checked before anything is computed. */
    if (p->prior_path) {
        if (!(r->dev_prior =
                  lx_malloc(((size_t)r->schema->n_rels + 1) * sizeof *r->dev_prior, err)))
            return LEXIE_E_NOMEM;
        lexie_status st = lx_re_prior_load(p->prior_path, r->schema, r->dev_prior, err);
        if (st != LEXIE_OK) return st;
    }
    const char *dir = p->data_dir;
    if (!dir || !*dir) dir = getenv("LEXIE_DATA");
    if (!dir || !*dir) dir = "../shared/data";
    int is_test = strcmp(p->split, "test") == 0, need_train = !is_test || p->shots > 0;
    lexie_status st = LEXIE_OK;
    if (is_test) st = read_split(dir, p->data, 0, &r->test, err);
    if (st == LEXIE_OK && need_train) st = read_split(dir, p->data, 1, &r->train, err);
    if (st != LEXIE_OK) return st;
    if (need_train && !(r->mask = dev_mask(p->data, &r->train)))
        return lx_fail(err, LEXIE_E_NOMEM, "out of memory");
    r->src = is_test ? &r->test : &r->train;
    const lx_re_data *src = r->src;
    if (!(r->sel = lx_malloc((size_t)(src->n > 0 ? src->n : 1) * sizeof *r->sel, err)))
        return LEXIE_E_NOMEM;
    for (int i = 0; i < src->n; i++) {
        int in_dev = r->mask && r->mask[i];
        if (is_test || (strcmp(p->split, "dev") == 0) == in_dev) r->sel[r->n_sel++] = i;
    }
    if (p->sample && p->sample < r->n_sel) {
        int *a = lx_eval_pick(r->n_sel, p->sample, p->seed, NULL);
        if (!a) return lx_fail(err, LEXIE_E_NOMEM, "out of memory");
        qsort(a, (size_t)p->sample, sizeof *a, cmp_int);
        for (int i = 0; i < p->sample; i++) a[i] = r->sel[a[i]];
        free(r->sel);
        r->sel = a;
        r->n_sel = p->sample;
    }
    if (p->limit && p->limit < r->n_sel) r->n_sel = p->limit;
    if (!(r->gold = lx_malloc((size_t)(r->n_sel > 0 ? r->n_sel : 1) * sizeof *r->gold, err)))
        return LEXIE_E_NOMEM;
    for (int i = 0; i < r->n_sel; i++) {
        const lx_re_item *it = &src->items[r->sel[i]];
        r->gold[i] = lx_re_schema_find(r->schema, it->gold);
        if (r->gold[i] < 0)
            return lx_fail(err, LEXIE_E_INVALID,
                           "example %s: gold label \"%s\" is not in schema %s", it->id,
                           it->gold ? it->gold : "(none)", p->schema_path);
    }
    return LEXIE_OK;
}

/* ==== Model and classifier ==== */

/* Demonstrations: k seeded draws from train outside the dev sample. */
static lexie_status set_demos(run *r, lexie_error *err) {
    const lexie_re_eval_params *p = r->p;
    int *a = lx_eval_pick(r->train.n, p->shots, p->seed ^ 0x5eedULL, r->mask);
    if (!a) return lx_fail(err, LEXIE_E_NOMEM, "out of memory");
    lexie_re_example dem[64];
    int dl[64];
    lexie_status st = LEXIE_OK;
    for (int i = 0; i < p->shots && st == LEXIE_OK; i++) {
        dem[i] = lx_re_item_example(&r->train.items[a[i]]);
        dl[i] = lx_re_schema_find(r->schema, r->train.items[a[i]].gold);
        if (dl[i] < 0)
            st = lx_fail(err, LEXIE_E_INVALID, "demo %s: label not in the schema",
                         r->train.items[a[i]].id);
    }
    if (st == LEXIE_OK) st = lexie_re_set_demos(r->re, dem, dl, p->shots, err);
    free(a);
    return st;
}

static lexie_status load_model(run *r, lexie_error *err) {
    const lexie_re_eval_params *p = r->p;
    char *path = NULL;
    if (p->resolve_model)
        path = p->resolve_model(p->model, p->user, err);
    else if (!p->model)
        lx_fail(err, LEXIE_E_INVALID, "no model given");
    else
        path = lx_strdup(p->model, err);
    if (!path) return err ? err->code : LEXIE_E_INVALID;
    lexie_model_params mp = lexie_model_default_params();
    mp.chat_template = p->chat_template;
    lexie_status st = LEXIE_OK;
    if (!(r->model = lexie_model_load(path, &mp, err)))
        st = err ? err->code : LEXIE_E_IO;
    else
        st = lexie_model_file_sha256(path, r->model_sha, err);
    free(path);
    if (st != LEXIE_OK) return st;
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = LX_MIN(8192, lexie_model_n_ctx_train(r->model));
    cp.n_seq_max = p->batch + 1;
    cp.n_threads = p->n_threads;
    if (!(r->ctx = lexie_ctx_new(r->model, &cp, err))) return err ? err->code : LEXIE_E_NOMEM;
    if (p->lora) {
        /* The adapter's bytes, not its path, name the predictions. */
        if (!(r->lora = lexie_adapter_load(r->model, p->lora, err)))
            return err ? err->code : LEXIE_E_IO;
        if ((st = lx_sha256_file(p->lora, r->lora_sha, err)) ||
            (st = lexie_ctx_set_adapter(r->ctx, r->lora, p->lora_scale, err)))
            return st;
    }
    lexie_re_params rp = lexie_re_default_params();
    rp.method = p->method;
    rp.free_gen = p->free_gen;
    rp.n_permute = p->n_permute;
    rp.batch = p->batch;
    if (!(r->re = lexie_re_new(r->ctx, r->schema, &rp, err)))
        return err ? err->code : LEXIE_E_NOMEM;
    return p->shots > 0 ? set_demos(r, err) : LEXIE_OK;
}

/* ==== The prediction file ==== */

/* The configuration hash names the prediction file.  Only what changes
** predictions goes in: not limit/sample/threshold, so a short run grows
** into a full one and a threshold is applied afterwards. */
static lexie_status name_files(run *r, lexie_error *err) {
    const lexie_re_eval_params *p = r->p;
    lx_jbuf b = {0};
    lx_jbuf_printf(
        &b,
        "lexie-re-eval 1|%s|model=%s|schema=%s|data=%s|split=%s|method=%s|shots=%d|seed=%llu|"
        "permute=%d|free_gen=%d|mark=1",
        LX_RE_PROMPT_VERSION, r->model_sha, r->schema->sha256, p->data, p->split, r->method_s,
        p->shots, p->shots ? (unsigned long long)p->seed : 0ULL, p->n_permute, p->free_gen);
    /* Vanilla answers were once scored by their sequence probability;
    ** constrained decoding gives other numbers, so another file. */
    if (p->method != LEXIE_RE_QA4RE && !p->free_gen) lx_jbuf_puts(&b, "|answers=constrained");
    /* Arithmetic 1 is the unmarked original, so its files keep their names. */
    if (LEXIE_NUMERICS_VERSION > 1) lx_jbuf_printf(&b, "|numerics=%d", LEXIE_NUMERICS_VERSION);
    lx_jbuf_puts(&b, lx_model_pack_key(r->model));
    if (p->chat_template) {
        /* A replaced template changes every prompt: its text joins the hash. */
        lx_jbuf_puts(&b, "|chat_template=");
        lx_jbuf_puts(&b, p->chat_template);
    }
    /* Only a run with an adapter adds to the key: other hashes stay. */
    if (p->lora) lx_jbuf_printf(&b, "|lora=%s|lora_scale=%.9g", r->lora_sha, (double)p->lora_scale);
    lexie_status st = lx_jbuf_status(&b, err);
    if (st == LEXIE_OK) {
        lx_eval_config_hash(b.data, b.len, r->chash);
        lx_jbuf_reset(&b);
        lx_jbuf_printf(&b, "%s/%s-%s-%s%s%s", p->out_dir ? p->out_dir : "results", p->data,
                       p->split, r->method_s, p->free_gen ? "-gen" : "",
                       p->chat_template ? "-tmpl" : "");
        if (p->lora) lx_jbuf_puts(&b, "-lora");
        if (p->shots) lx_jbuf_printf(&b, "-k%d-s%llu", p->shots, (unsigned long long)p->seed);
        if (p->n_permute > 1) lx_jbuf_printf(&b, "-p%d", p->n_permute);
        lx_jbuf_printf(&b, "-%s", r->chash);
        st = lx_jbuf_status(&b, err);
    }
    if (st == LEXIE_OK)
        r->stem = b.data;
    else
        lx_jbuf_free(&b);
    return st;
}

static char *with_suffix(const char *stem, const char *suffix, lexie_error *err) {
    size_t n = strlen(stem) + strlen(suffix) + 1;
    char *s = lx_malloc(n, err);
    if (s) snprintf(s, n, "%s%s", stem, suffix);
    return s;
}

/* Classifies todo[0..n) (indices into the selection) batch by batch,
** appending each batch's lines to the prediction file.  Failing examples
** are retried alone and reported; they get no line. */
static lexie_status classify_todo(run *r, const int *todo, int n, off_t end, const char *path,
                                  lexie_re_eval_result *out, lexie_error *err) {
    const lexie_re_eval_params *p = r->p;
    lx_jbuf b = {0};
    lexie_status st = LEXIE_OK;
    for (int k = 0; k < n && st == LEXIE_OK; k += p->batch) {
        int m = LX_MIN(p->batch, n - k);
        lexie_re_example ex[64];
        lexie_re_result res[64];
        memset(res, 0, sizeof res);
        for (int j = 0; j < m; j++) ex[j] = lx_re_item_example(&r->src->items[r->sel[todo[k + j]]]);
        double tb = lx_time_now();
        lexie_error e1;
        if (lexie_re_classify(r->re, ex, m, res, &e1) != LEXIE_OK) {
            /* Find the example at fault: one by one. */
            for (int j = 0; j < m; j++) lexie_re_result_clear(&res[j]);
            for (int j = 0; j < m; j++) {
                lexie_error e2;
                if (lexie_re_classify(r->re, &ex[j], 1, &res[j], &e2) == LEXIE_OK) continue;
                lexie_re_eval_event ev = {.kind = LEXIE_RE_EVAL_EXAMPLE_ERROR,
                                          .id = r->src->items[r->sel[todo[k + j]]].id,
                                          .message = e2.message};
                emit(r, &ev);
                lexie_re_result_clear(&res[j]);
                res[j].label = -1;
                out->n_errors++;
            }
        }
        double dt = lx_time_now() - tb;
        r->t_run += dt;
        lx_jbuf_reset(&b);
        for (int j = 0; j < m; j++) {
            if (res[j].label < 0 || !res[j].probs) continue;
            const lx_re_item *it = &r->src->items[r->sel[todo[k + j]]];
            lx_re_pred_line(&b, it->id, it->id_is_num, it->gold, r->schema, &res[j], dt / m);
            lexie_re_result_clear(&res[j]);
        }
        st = lx_jbuf_status(&b, err);
        if (st == LEXIE_OK) st = lx_predfile_append(r->pred_fd, b.data, b.len, &end, path, err);
        if (st != LEXIE_OK) break;
        out->n_computed += m;
        lexie_re_eval_event ev = {
            .kind = LEXIE_RE_EVAL_PROGRESS, .done = out->n_computed, .total = n};
        emit(r, &ev);
    }
    lx_jbuf_free(&b);
    return st;
}

/* Loads what the file holds (trimming a torn last line), then classifies
** what it lacks. */
static lexie_status predict(run *r, lexie_re_eval_result *out, lexie_error *err) {
    const char *path = out->predictions;
    long good;
    lexie_status st = lx_predfile_lock(path, &r->pred_fd, err);
    if (st != LEXIE_OK) return st;
    st = lx_re_preds_load(path, r->schema, &r->preds, &good, err);
    if (st != LEXIE_OK) return st;
    /* A torn last line goes, also when it is the only one. */
    struct stat sb;
    if (fstat(r->pred_fd, &sb) != 0 || (sb.st_size > good && ftruncate(r->pred_fd, good) != 0))
        return lx_fail(err, LEXIE_E_IO, "cannot trim %s: %s", path, strerror(errno));
    int *todo = lx_malloc((size_t)(r->n_sel > 0 ? r->n_sel : 1) * sizeof *todo, err), n = 0;
    if (!todo) return LEXIE_E_NOMEM;
    for (int i = 0; i < r->n_sel; i++)
        if (lx_re_preds_find(&r->preds, r->src->items[r->sel[i]].id) < 0) todo[n++] = i;
    out->n_examples = r->n_sel;
    out->n_resumed = r->n_sel - n;
    lexie_re_eval_event ev = {.kind = LEXIE_RE_EVAL_START,
                              .n_examples = r->n_sel,
                              .n_resumed = r->n_sel - n,
                              .total = n,
                              .path = path};
    emit(r, &ev);
    st = classify_todo(r, todo, n, (off_t)good, path, out, err);
    free(todo);
    return st;
}

/* ==== The report ==== */

/* Best none threshold on these predictions (oracle on this split; tune on
** dev, apply on test).  Returns the micro-F1 at it. */
static double tune_threshold(const lx_re_schema *s, const lx_re_preds *preds, const int *gold,
                             const int *pi, int n, const char *const *labels, double *best_t) {
    double best_f = -1;
    *best_t = 0;
    for (int cand = 0; cand < n; cand++) {
        float t = preds->p[pi[cand]].probs[s->n_rels];
        if (t <= 0) continue;
        lx_re_counts c;
        if (lx_re_counts_init(&c, labels, s->n_rels + 1, s->n_rels, NULL) != LEXIE_OK) break;
        for (int i = 0; i < n; i++)
            lx_re_counts_add(&c, gold[i], lx_re_decide(s, preds->p[pi[i]].probs, t), 0);
        double f = lx_re_micro(&c).f1;
        lx_re_counts_free(&c);
        if (f > best_f || (f == best_f && t < *best_t)) {
            best_f = f;
            *best_t = t;
        }
    }
    return best_f;
}

/* Replaces a report atomically; a failure is reported as a warning (the
** predictions are safe, and the table is still returned). */
static int write_file(run *r, const char *path, const lx_jbuf *b) {
    lexie_error e;
    if (lx_write_file_atomic(path, b->data ? b->data : "", b->len, &e) == LEXIE_OK) return 1;
    lexie_re_eval_event ev = {.kind = LEXIE_RE_EVAL_WARNING, .message = e.message};
    emit(r, &ev);
    return 0;
}

/* The report-name suffix: what selects and decides, not what predicts. */
static void report_suffix(const lexie_re_eval_params *p, int calibrate, lx_jbuf *b) {
    if (p->sample) lx_jbuf_printf(b, "-sample%d-s%llu", p->sample, (unsigned long long)p->seed);
    if (p->limit) lx_jbuf_printf(b, "-limit%d", p->limit);
    if (p->threshold > 0) lx_jbuf_printf(b, "-t%.3f", p->threshold);
    if (calibrate) lx_jbuf_puts(b, p->prior_path ? "-prior" : "-cal");
}

/* Decisions for the predictions pidx[0..n) with gold g[]: the headline
** rule into c, the other of argmax/calibrated into alt. */
static void decide_all(const run *r, const int *g, const int *pidx, int n, const double *prior,
                       int calibrate, lx_re_counts *c, lx_re_counts *alt) {
    const lx_re_schema *s = r->schema;
    for (int i = 0; i < n; i++) {
        const lx_re_pred *pr = &r->preds.p[pidx[i]];
        int plain =
            r->p->threshold > 0 ? lx_re_decide(s, pr->probs, (float)r->p->threshold) : pr->label;
        int cal =
            lx_re_decide_calibrated(pr->probs, r->dev_prior ? r->dev_prior : prior, s->n_rels + 1);
        if (pr->invalid) plain = cal = s->n_rels;
        lx_re_counts_add(c, g[i], calibrate ? cal : plain, pr->invalid);
        lx_re_counts_add(alt, g[i], calibrate ? plain : cal, pr->invalid);
    }
}

/* The JSON and text reports for the predictions of the selection. */
static lexie_status build_report(run *r, lexie_re_eval_result *out, lx_jbuf *json, lx_jbuf *txt,
                                 lexie_error *err) {
    const lexie_re_eval_params *p = r->p;
    const lx_re_schema *s = r->schema;
    int nl = s->n_rels + 1, calibrate = p->calibrate || p->prior_path;
    const char **labels = lx_malloc((size_t)nl * sizeof *labels, err);
    int *pidx = lx_malloc((size_t)(r->n_sel > 0 ? r->n_sel : 1) * sizeof *pidx, err);
    int *g = lx_malloc((size_t)(r->n_sel > 0 ? r->n_sel : 1) * sizeof *g, err);
    const float **pv = lx_malloc((size_t)(r->n_sel > 0 ? r->n_sel : 1) * sizeof *pv, err);
    double *prior = lx_malloc((size_t)nl * sizeof *prior, err);
    lx_re_counts c = {0}, alt = {0};
    lexie_status st = labels && pidx && g && pv && prior ? LEXIE_OK : LEXIE_E_NOMEM;
    for (int l = 0; l < nl && st == LEXIE_OK; l++) labels[l] = lx_re_schema_label(s, l);
    if (st == LEXIE_OK) st = lx_re_counts_init(&c, labels, nl, s->n_rels, err);
    if (st == LEXIE_OK) st = lx_re_counts_init(&alt, labels, nl, s->n_rels, err);
    if (st == LEXIE_OK) {
        double secs = 0;
        int n = 0;
        for (int i = 0; i < r->n_sel; i++) {
            int pi = lx_re_preds_find(&r->preds, r->src->items[r->sel[i]].id);
            if (pi < 0) continue;
            secs += r->preds.p[pi].seconds;
            g[n] = r->gold[i];
            pv[n] = r->preds.p[pi].probs;
            pidx[n++] = pi;
        }
        /* Batch calibration's prior: the mean probabilities over what is scored. */
        lx_re_prior(pv, n, nl, prior);
        decide_all(r, g, pidx, n, prior, calibrate, &c, &alt);
        lx_re_report_extra x = {.alt_key = calibrate ? "uncalibrated" : "batch_calibration",
                                .alt_micro = lx_re_micro(&alt),
                                .mean_probability = prior};
        x.best_f1 = tune_threshold(s, &r->preds, g, pidx, n, labels, &x.best_threshold);
        lx_semeval_score sv;
        x.alt_has_semeval = lx_semeval_official(&alt, &sv);
        x.alt_semeval_f1 = x.alt_has_semeval ? sv.macro_f1 : 0;
        lx_re_run_info info = {p->command ? p->command : "",
                               p->data,
                               p->split,
                               r->method_s,
                               p->shots,
                               p->n_permute,
                               p->free_gen,
                               p->shots ? p->seed : 0,
                               lexie_model_name(r->model),
                               r->model_sha,
                               s->name,
                               s->sha256,
                               r->chash,
                               out->predictions,
                               (float)p->threshold,
                               calibrate,
                               p->prior_path,
                               r->n_sel,
                               out->n_computed,
                               r->t_run,
                               secs > 0 ? n / secs : 0,
                               &x};
        lx_re_report_json(json, &info, &c);
        lx_re_report_table(txt, &info, &c);
        lx_jbuf_printf(txt, "\nbest none threshold on this split: %.4f (micro F1 %.2f)\n",
                       x.best_threshold, 100 * x.best_f1);
        lx_jbuf_printf(txt, "%s: micro P %.2f R %.2f F1 %.2f",
                       calibrate ? "argmax (uncalibrated)" : "batch calibration",
                       100 * x.alt_micro.p, 100 * x.alt_micro.r, 100 * x.alt_micro.f1);
        if (x.alt_has_semeval) lx_jbuf_printf(txt, ", SemEval macro-F1 %.2f", 100 * sv.macro_f1);
        lx_jbuf_putc(txt, '\n');
        st = lx_jbuf_status(json, err);
        if (st == LEXIE_OK) st = lx_jbuf_status(txt, err);
    }
    lx_re_counts_free(&c);
    lx_re_counts_free(&alt);
    free(labels);
    free(pidx);
    free(g);
    free(pv);
    free(prior);
    return st;
}

/* Rebuilds the report from the prediction file and writes both files. */
static lexie_status report(run *r, lexie_re_eval_result *out, lexie_error *err) {
    long good;
    lx_re_preds_free(&r->preds);
    lexie_status st = lx_re_preds_load(out->predictions, r->schema, &r->preds, &good, err);
    if (st != LEXIE_OK) return st;
    lx_jbuf json = {0}, txt = {0}, sfx = {0};
    report_suffix(r->p, r->p->calibrate || r->p->prior_path, &sfx);
    st = lx_jbuf_status(&sfx, err);
    if (st == LEXIE_OK) st = build_report(r, out, &json, &txt, err);
    if (st == LEXIE_OK) {
        char *stem = with_suffix(r->stem, sfx.data ? sfx.data : "", err);
        out->report_json = stem ? with_suffix(stem, ".report.json", err) : NULL;
        out->report_txt = stem ? with_suffix(stem, ".report.txt", err) : NULL;
        free(stem);
        if (!out->report_json || !out->report_txt) st = LEXIE_E_NOMEM;
    }
    if (st == LEXIE_OK) {
        int ok = write_file(r, out->report_json, &json);
        ok &= write_file(r, out->report_txt, &txt);
        out->report_written = ok;
        out->table = txt.data;
        txt.data = NULL;
    }
    lx_jbuf_free(&json);
    lx_jbuf_free(&txt);
    lx_jbuf_free(&sfx);
    return st;
}

/* ==== The run ==== */

/* The selection as training data: one lexie_re_sft_line per example with
** its gold label, written atomically to p->sft_out. */
static lexie_status export_sft(run *r, lexie_re_eval_result *out, lexie_error *err) {
    out->n_examples = r->n_sel;
    lx_jbuf b = {0};
    lexie_status st = LEXIE_OK;
    for (int i = 0; i < r->n_sel && st == LEXIE_OK; i++) {
        const lx_re_item *it = &r->src->items[r->sel[i]];
        lexie_re_example ex = lx_re_item_example(it);
        char *line = NULL;
        st = lexie_re_sft_line(r->re, &ex, r->gold[i], &line, err);
        if (st != LEXIE_OK) {
            lx_fail_prefix(err, "example %s: ", it->id);
            break;
        }
        lx_jbuf_puts(&b, line);
        lx_jbuf_putc(&b, '\n');
        free(line);
    }
    if (st == LEXIE_OK) st = lx_jbuf_status(&b, err);
    if (st == LEXIE_OK) st = lx_write_file_atomic(r->p->sft_out, b.data ? b.data : "", b.len, err);
    lx_jbuf_free(&b);
    return st;
}

static lexie_status dump_prompt(run *r, lexie_re_eval_result *out, lexie_error *err) {
    out->n_examples = r->n_sel;
    if (r->n_sel == 0) return LEXIE_OK;
    lexie_re_example ex = lx_re_item_example(&r->src->items[r->sel[0]]);
    return lexie_re_prompt(r->re, &ex, &out->prompt, err);
}

lexie_status lexie_re_eval_run(const lexie_re_eval_params *p, lexie_re_eval_result *out,
                               lexie_error *err) {
    if (!p || !out) return lx_fail(err, LEXIE_E_INVALID, "lexie_re_eval_run: NULL argument");
    memset(out, 0, sizeof *out);
    lexie_status st = check_params(p, err);
    if (st != LEXIE_OK) return st;
    run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.pred_fd = -1;
    r.method_s = p->method == LEXIE_RE_VANILLA   ? "vanilla"
                 : p->method == LEXIE_RE_COMPACT ? "compact"
                                                 : "qa4re";
    st = load_inputs(&r, err);
    if (st == LEXIE_OK) st = load_model(&r, err);
    if (st == LEXIE_OK && (p->dump_prompt || p->sft_out)) {
        st = p->dump_prompt ? dump_prompt(&r, out, err) : export_sft(&r, out, err);
        run_free(&r);
        return st;
    }
    if (st == LEXIE_OK) st = name_files(&r, err);
    if (st == LEXIE_OK) {
        mkdir(p->out_dir ? p->out_dir : "results", 0777);
        if (!(out->predictions = with_suffix(r.stem, ".jsonl", err))) st = LEXIE_E_NOMEM;
    }
    if (st == LEXIE_OK) st = predict(&r, out, err);
    if (st == LEXIE_OK) st = report(&r, out, err);
    run_free(&r);
    return st;
}
