/*
** cmd_eval.c -- `lexie eval re`: relation extraction on a benchmark
** (SemEval-2010 Task 8, GAD, TACRED) with QA4RE or the vanilla prompt,
** zero- or few-shot.  Predictions go to a JSONL file named by a hash of
** the configuration and are appended as they are computed, so a stopped
** run resumes where it stopped; the report (JSON and a table) is rebuilt
** from the file each time.
*/
#include "cli.h"

#include "eval/eval.h"
#include "hub/hub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEV_SIZE 500
#define DEV_SEED 2010

typedef struct {
    const char *model, *data, *split, *schema, *out, *method_s, *chat_template, *prior;
    int method, shots, permute, free_gen, limit, sample, threads, batch, dump_prompt, quiet;
    int calibrate;
    unsigned long long seed;
    double threshold;
} eval_opts;

static void eval_usage(FILE *f) {
    fprintf(f,
            "usage: lexie eval re --data semeval|gad|tacred [options]\n"
            "  --split S          test (default), train or dev (a fixed sample of %d from train)\n"
            "  --method M         qa4re (default) or vanilla\n"
            "  --shots K          few-shot demonstrations drawn from train (default 0)\n"
            "  --seed S           seed for demonstrations and --sample (default 1)\n"
            "  --limit N          the first N examples only (of the sample, with --sample)\n"
            "  --sample N         a seeded random sample of N examples, in data order\n"
            "  --permute P        QA4RE: average over P cyclic option orders (default 1)\n"
            "  --free-gen         generate the answer and parse it, instead of scoring\n"
            "  --threshold T      predict the none label iff its probability >= T\n"
            "  --calibrate        decide by batch calibration: each label's probability\n"
            "                     divided by its mean over the evaluated examples\n"
            "  --prior REPORT     calibrate with the mean probabilities of another run\n"
            "                     (its .report.json, e.g. on --split dev) instead\n"
            "  --schema FILE      relation schema (default: the built-in one for --data)\n"
            "  -m MODEL           model name or GGUF path (default: the default model)\n"
            "  --chat-template T  Jinja chat template that replaces the model's own\n"
            "  --out DIR          where predictions and reports go (default results)\n"
            "  -t N               threads (default: all cores)\n"
            "  --batch B          examples decoded together (default 8)\n"
            "  --dump-prompt      print the first example's exact prompt and exit\n"
            "  --quiet            no progress output\n"
            "Data come from $LEXIE_DATA (default ../shared/data).\n",
            DEV_SIZE);
}

static int parse_int(const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "lexie eval: %s wants an integer in [%ld, %ld], not '%s'\n", opt, lo, hi,
                v);
        return 0;
    }
    *out = x;
    return 1;
}

static int parse_eval(int argc, char **argv, eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->split = "test";
    o->out = "results";
    o->method_s = "qa4re";
    o->seed = 1;
    o->permute = 1;
    o->batch = 8;
    if (argc < 2 || strcmp(argv[1], "re") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            eval_usage(stdout);
            exit(0);
        }
        fprintf(stderr, "lexie eval: the task must come first: lexie eval re ...\n");
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            eval_usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--free-gen") == 0)
            o->free_gen = 1;
        else if (strcmp(a, "--dump-prompt") == 0)
            o->dump_prompt = 1;
        else if (strcmp(a, "--quiet") == 0)
            o->quiet = 1;
        else if (strcmp(a, "--calibrate") == 0)
            o->calibrate = 1;
        else if (!v) {
            fprintf(stderr, "lexie eval: unknown option or missing value: '%s' (try --help)\n", a);
            return 0;
        } else {
            i++;
            if (strcmp(a, "-m") == 0)
                o->model = v;
            else if (strcmp(a, "--data") == 0)
                o->data = v;
            else if (strcmp(a, "--split") == 0)
                o->split = v;
            else if (strcmp(a, "--schema") == 0)
                o->schema = v;
            else if (strcmp(a, "--chat-template") == 0)
                o->chat_template = v;
            else if (strcmp(a, "--out") == 0)
                o->out = v;
            else if (strcmp(a, "--prior") == 0)
                o->prior = v;
            else if (strcmp(a, "--method") == 0)
                o->method_s = v;
            else if (strcmp(a, "--shots") == 0) {
                if (!parse_int(a, v, 0, 64, &x)) return 0;
                o->shots = (int)x;
            } else if (strcmp(a, "--seed") == 0) {
                if (!parse_int(a, v, 0, 2147483647L, &x)) return 0;
                o->seed = (unsigned long long)x;
            } else if (strcmp(a, "--limit") == 0 || strcmp(a, "--sample") == 0) {
                if (!parse_int(a, v, 1, 100000000L, &x)) return 0;
                *(a[2] == 'l' ? &o->limit : &o->sample) = (int)x;
            } else if (strcmp(a, "--permute") == 0) {
                if (!parse_int(a, v, 1, 64, &x)) return 0;
                o->permute = (int)x;
            } else if (strcmp(a, "-t") == 0) {
                if (!parse_int(a, v, 1, 256, &x)) return 0;
                o->threads = (int)x;
            } else if (strcmp(a, "--batch") == 0) {
                if (!parse_int(a, v, 1, 63, &x)) return 0;
                o->batch = (int)x;
            } else if (strcmp(a, "--threshold") == 0) {
                char *end;
                o->threshold = strtod(v, &end);
                if (*end || !(o->threshold > 0 && o->threshold <= 1)) {
                    fprintf(stderr, "lexie eval: --threshold wants a number in (0, 1]\n");
                    return 0;
                }
            } else {
                fprintf(stderr, "lexie eval: unknown option '%s' (try --help)\n", a);
                return 0;
            }
        }
    }
    if (!o->data) {
        fprintf(stderr, "lexie eval re: --data is required (semeval, gad or tacred)\n");
        return 0;
    }
    if (strcmp(o->method_s, "qa4re") == 0)
        o->method = LEXIE_RE_QA4RE;
    else if (strcmp(o->method_s, "vanilla") == 0)
        o->method = LEXIE_RE_VANILLA;
    else {
        fprintf(stderr, "lexie eval re: --method must be qa4re or vanilla\n");
        return 0;
    }
    if ((o->calibrate != 0) + (o->threshold > 0) + (o->prior != NULL) > 1) {
        fprintf(stderr,
                "lexie eval re: --calibrate, --prior and --threshold are alternatives; use one\n");
        return 0;
    }
    if (o->prior) o->calibrate = 1;
    if (strcmp(o->split, "test") && strcmp(o->split, "train") && strcmp(o->split, "dev")) {
        fprintf(stderr, "lexie eval re: --split must be test, train or dev\n");
        return 0;
    }
    return 1;
}

/* ==== Data ==== */

/* splitmix64: a small, well-mixed seeded generator. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Picks k distinct indices of [0, n) (k <= n), sorted, via a partial
** Fisher-Yates shuffle. */
static int *pick(int n, int k, uint64_t seed, int *excl) {
    int *a = malloc((size_t)(n > 0 ? n : 1) * sizeof *a), m = 0;
    if (!a) return NULL;
    for (int i = 0; i < n; i++)
        if (!excl || !excl[i]) a[m++] = i;
    if (k > m) k = m;
    uint64_t s = seed;
    for (int i = 0; i < k; i++) {
        int j = i + (int)(rng_next(&s) % (uint64_t)(m - i));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
    return a;
}

static int cmp_int(const void *x, const void *y) { return *(const int *)x - *(const int *)y; }

static char *data_path(const char *rel) {
    const char *root = getenv("LEXIE_DATA");
    if (!root || !*root) root = "../shared/data";
    size_t n = strlen(root) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", root, rel);
    return p;
}

/* Reads the raw train or test file of a dataset. */
static int read_split(const char *data, const char *file_split, lx_re_data *d, lexie_error *err) {
    char *p = NULL;
    lexie_status st;
    int is_train = strcmp(file_split, "train") == 0;
    if (strcmp(data, "semeval") == 0) {
        p = data_path(is_train ? "semeval2010_task8/TRAIN_FILE.TXT"
                               : "semeval2010_task8/TEST_FILE_FULL.TXT");
        st = p ? lx_read_semeval(p, d, err) : LEXIE_E_NOMEM;
    } else if (strcmp(data, "gad") == 0) {
        p = data_path(is_train ? "gad_biobert_fold1/train.tsv" : "gad_biobert_fold1/test.tsv");
        st = p ? lx_read_gad(p, is_train ? "train-" : "test-", d, err) : LEXIE_E_NOMEM;
    } else if (strcmp(data, "tacred") == 0) {
        p = data_path(is_train ? "tacred/train.json" : "tacred/test.json");
        st = p ? lx_read_tacred(p, d, err) : LEXIE_E_NOMEM;
    } else {
        st = lx_fail(err, LEXIE_E_INVALID, "unknown dataset '%s' (semeval, gad or tacred)", data);
    }
    free(p);
    return st == LEXIE_OK;
}

/* Marks the dev sample of train: a fixed seeded sample, so dev never moves
** when --seed changes.  SemEval's last 891 train sentences come from an
** older task with a skewed label mix, so its dev sample avoids them. */
static int *dev_mask(const char *data, const lx_re_data *train) {
    int n = train->n, *mask = calloc((size_t)(n > 0 ? n : 1), sizeof *mask);
    if (!mask) return NULL;
    int pool = strcmp(data, "semeval") == 0 && n > 891 ? n - 891 : n;
    int *a = pick(pool, DEV_SIZE, DEV_SEED, NULL);
    if (!a) {
        free(mask);
        return NULL;
    }
    for (int i = 0; i < DEV_SIZE && i < pool; i++) mask[a[i]] = 1;
    free(a);
    return mask;
}

/* ==== Progress ==== */

static void progress(int done, int total, double t0, int tty, int quiet) {
    if (quiet || total <= 0) return;
    double el = lx_time_now() - t0, rate = el > 0 ? done / el : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    if (tty) {
        int w = 30, f = (int)((double)w * done / total);
        char bar[64];
        for (int i = 0; i < w; i++) bar[i] = i < f ? '#' : '.';
        bar[w] = 0;
        fprintf(stderr, "\r[%s] %d/%d %5.1f%%  %.2f ex/s  ETA %dm%02ds ", bar, done, total,
                100.0 * done / total, rate, (int)eta / 60, (int)eta % 60);
        if (done == total) fputc('\n', stderr);
    } else if (done == total || done % 50 == 0) {
        fprintf(stderr, "lexie eval: %d/%d  %.2f ex/s  ETA %dm%02ds\n", done, total, rate,
                (int)eta / 60, (int)eta % 60);
    }
}

/* ==== The run ==== */

static int write_file(const char *path, const lx_jbuf *b) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(b->data, 1, b->len, f);
    return fclose(f) == 0;
}

/* Best none threshold on these predictions (oracle on this split; tune on
** dev, apply on test).  Returns the micro-F1 at it. */
static double tune_threshold(const lx_re_schema *s, lx_re_preds *preds, const int *gold,
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

int cmd_eval(int argc, char **argv) {
    eval_opts o;
    if (!parse_eval(argc, argv, &o)) return 2;
    lexie_error err;
    int rc = 1;
    lx_re_data test = {0}, train = {0};
    lx_re_schema *schema = NULL;
    lexie_model *model = NULL;
    lexie_ctx *ctx = NULL;
    lexie_re *re = NULL;
    lx_re_preds preds = {0};
    int *sel = NULL, *mask = NULL, *gold = NULL, *pidx = NULL, n_sel = 0;
    char *model_path = NULL, *schema_path = NULL;
    FILE *pf = NULL;
    lx_jbuf b = {0};
    const char **labels = NULL;
    double *prior = NULL, *dev_prior = NULL;

    /* Schema and data. */
    schema_path = cli_find_schema(o.schema ? o.schema : o.data, &err);
    if (!schema_path || !(schema = lx_re_schema_load(schema_path, &err))) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        goto done;
    }
    for (int i = 0; i < schema->n_warnings; i++)
        fprintf(stderr, "lexie eval: warning: %s\n", schema->warnings[i]);
    /* A stored prior is checked before anything is computed. */
    if (o.prior) {
        if (!(dev_prior = malloc(((size_t)schema->n_rels + 1) * sizeof *dev_prior))) goto oom;
        if (lx_re_prior_load(o.prior, schema, dev_prior, &err) != LEXIE_OK) {
            fprintf(stderr, "lexie eval: %s\n", err.message);
            goto done;
        }
    }
    int need_train = strcmp(o.split, "test") != 0 || o.shots > 0;
    if (strcmp(o.split, "test") == 0 && !read_split(o.data, "test", &test, &err)) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        goto done;
    }
    if (need_train && !read_split(o.data, "train", &train, &err)) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        goto done;
    }
    if (need_train && !(mask = dev_mask(o.data, &train))) goto oom;
    const lx_re_data *src = strcmp(o.split, "test") == 0 ? &test : &train;
    /* The selection: indices into src. */
    sel = malloc((size_t)(src->n > 0 ? src->n : 1) * sizeof *sel);
    if (!sel) goto oom;
    for (int i = 0; i < src->n; i++) {
        int in_dev = mask && mask[i];
        if (strcmp(o.split, "test") == 0 || (strcmp(o.split, "dev") == 0) == in_dev)
            sel[n_sel++] = i;
    }
    if (o.sample && o.sample < n_sel) {
        int *a = pick(n_sel, o.sample, o.seed, NULL);
        if (!a) goto oom;
        qsort(a, (size_t)o.sample, sizeof *a, cmp_int);
        for (int i = 0; i < o.sample; i++) a[i] = sel[a[i]];
        free(sel);
        sel = a;
        n_sel = o.sample;
    }
    if (o.limit && o.limit < n_sel) n_sel = o.limit;
    gold = malloc((size_t)(n_sel > 0 ? n_sel : 1) * sizeof *gold);
    if (!gold) goto oom;
    for (int i = 0; i < n_sel; i++) {
        const lx_re_item *it = &src->items[sel[i]];
        gold[i] = lx_re_schema_find(schema, it->gold);
        if (gold[i] < 0) {
            fprintf(stderr, "lexie eval: example %s: gold label \"%s\" is not in schema %s\n",
                    it->id, it->gold ? it->gold : "(none)", schema_path);
            goto done;
        }
    }

    /* Model and classifier. */
    lexie_model_params mp = lexie_model_default_params();
    mp.chat_template = o.chat_template;
    if (!(model_path = cli_resolve_model(o.model, &err)) ||
        !(model = lexie_model_load(model_path, &mp, &err))) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        goto done;
    }
    char model_sha[65];
    if (lx_file_sha256(model_path, model_sha, &err) != LEXIE_OK) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        goto done;
    }
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = LX_MIN(8192, lexie_model_n_ctx_train(model));
    cp.n_seq_max = o.batch + 1;
    cp.n_threads = o.threads;
    if (!(ctx = lexie_ctx_new(model, &cp, &err))) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        goto done;
    }
    lexie_re_params rp = lexie_re_default_params();
    rp.method = (lexie_re_method)o.method;
    rp.free_gen = o.free_gen;
    rp.n_permute = o.permute;
    rp.batch = o.batch;
    if (!(re = lexie_re_new(ctx, schema, &rp, &err))) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        goto done;
    }
    if (o.shots > 0) {
        /* Demonstrations: k seeded draws from train outside the dev sample. */
        int *a = pick(train.n, o.shots, o.seed ^ 0x5eedULL, mask);
        if (!a) goto oom;
        lexie_re_example dem[64];
        int dl[64];
        for (int i = 0; i < o.shots; i++) {
            dem[i] = lx_re_item_example(&train.items[a[i]]);
            dl[i] = lx_re_schema_find(schema, train.items[a[i]].gold);
            if (dl[i] < 0) {
                fprintf(stderr, "lexie eval: demo %s: label not in the schema\n",
                        train.items[a[i]].id);
                free(a);
                goto done;
            }
        }
        lexie_status st = lexie_re_set_demos(re, dem, dl, o.shots, &err);
        free(a);
        if (st != LEXIE_OK) {
            fprintf(stderr, "lexie eval: %s\n", err.message);
            goto done;
        }
    }
    if (o.dump_prompt) {
        if (n_sel == 0) goto done;
        lexie_re_example ex = lx_re_item_example(&src->items[sel[0]]);
        char *pr = NULL;
        if (lexie_re_prompt(re, &ex, &pr, &err) != LEXIE_OK) {
            fprintf(stderr, "lexie eval: %s\n", err.message);
            goto done;
        }
        fputs(pr, stdout);
        fputc('\n', stdout);
        lexie_free(pr);
        rc = 0;
        goto done;
    }

    /* The configuration hash names the prediction file.  Only what changes
    ** predictions goes in: not --limit/--sample/--threshold, so a short
    ** run grows into a full one and a threshold is applied afterwards. */
    lx_jbuf_printf(
        &b,
        "lexie-re-eval 1|%s|model=%s|schema=%s|data=%s|split=%s|method=%s|shots=%d|seed=%llu|"
        "permute=%d|free_gen=%d|mark=1",
        LX_RE_PROMPT_VERSION, model_sha, schema->sha256, o.data, o.split, o.method_s, o.shots,
        o.shots ? o.seed : 0ULL, o.permute, o.free_gen);
    /* Vanilla answers were once scored by their sequence probability;
    ** constrained decoding gives other numbers, so another file. */
    if (strcmp(o.method_s, "vanilla") == 0 && !o.free_gen) lx_jbuf_puts(&b, "|answers=constrained");
    if (o.chat_template) {
        /* A replaced template changes every prompt: its text joins the hash. */
        lx_jbuf_puts(&b, "|chat_template=");
        lx_jbuf_puts(&b, o.chat_template);
    }
    char chash[65];
    {
        lx_sha256 h;
        unsigned char dg[32];
        lx_sha256_init(&h);
        lx_sha256_update(&h, b.data, b.len);
        lx_sha256_final(&h, dg);
        lx_sha256_hex(dg, chash);
        chash[12] = 0;
    }
    lx_jbuf_reset(&b);
    mkdir(o.out, 0777);
    char stem[1024], ppath[1100];
    snprintf(stem, sizeof stem, "%s/%s-%s-%s%s%s", o.out, o.data, o.split, o.method_s,
             o.free_gen ? "-gen" : "", o.chat_template ? "-tmpl" : "");
    size_t sl = strlen(stem);
    if (o.shots) snprintf(stem + sl, sizeof stem - sl, "-k%d-s%llu", o.shots, o.seed);
    sl = strlen(stem);
    if (o.permute > 1) snprintf(stem + sl, sizeof stem - sl, "-p%d", o.permute);
    sl = strlen(stem);
    snprintf(stem + sl, sizeof stem - sl, "-%s", chash);
    snprintf(ppath, sizeof ppath, "%s.jsonl", stem);

    long good;
    if (lx_re_preds_load(ppath, schema, &preds, &good, &err) != LEXIE_OK) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        goto done;
    }
    if (preds.n > 0 && truncate(ppath, good) != 0) {
        fprintf(stderr, "lexie eval: cannot trim %s: %s\n", ppath, strerror(errno));
        goto done;
    }
    if (!(pf = fopen(ppath, "ab"))) {
        fprintf(stderr, "lexie eval: cannot write %s: %s\n", ppath, strerror(errno));
        goto done;
    }
    int todo_n = 0, n_err = 0;
    int *todo = malloc((size_t)(n_sel > 0 ? n_sel : 1) * sizeof *todo);
    if (!todo) goto oom;
    for (int i = 0; i < n_sel; i++)
        if (lx_re_preds_find(&preds, src->items[sel[i]].id) < 0) todo[todo_n++] = i;
    int tty = isatty(2);
    if (!o.quiet)
        fprintf(stderr, "lexie eval: %d examples, %d already in %s, %d to compute\n", n_sel,
                n_sel - todo_n, ppath, todo_n);
    double t0 = lx_time_now(), t_run = 0;
    int n_done = 0;
    for (int k = 0; k < todo_n; k += o.batch) {
        int m = LX_MIN(o.batch, todo_n - k);
        lexie_re_example ex[64];
        lexie_re_result res[64];
        memset(res, 0, sizeof res);
        for (int j = 0; j < m; j++) ex[j] = lx_re_item_example(&src->items[sel[todo[k + j]]]);
        double tb = lx_time_now();
        lexie_status st = lexie_re_classify(re, ex, m, res, &err);
        if (st != LEXIE_OK) {
            /* Find the example at fault: one by one. */
            for (int j = 0; j < m; j++) lexie_re_result_clear(&res[j]);
            for (int j = 0; j < m; j++) {
                lexie_error e2;
                if (lexie_re_classify(re, &ex[j], 1, &res[j], &e2) != LEXIE_OK) {
                    fprintf(stderr, "%slexie eval: example %s: %s\n", tty ? "\n" : "",
                            src->items[sel[todo[k + j]]].id, e2.message);
                    lexie_re_result_clear(&res[j]);
                    res[j].label = -1;
                    n_err++;
                }
            }
        }
        double dt = lx_time_now() - tb;
        t_run += dt;
        for (int j = 0; j < m; j++) {
            if (res[j].label < 0 || !res[j].probs) continue;
            const lx_re_item *it = &src->items[sel[todo[k + j]]];
            lx_jbuf_reset(&b);
            lx_re_pred_line(&b, it->id, it->id_is_num, it->gold, schema, &res[j], dt / m);
            fwrite(b.data, 1, b.len, pf);
            lexie_re_result_clear(&res[j]);
        }
        fflush(pf);
        n_done += m;
        progress(n_done, todo_n, t0, tty, o.quiet);
    }
    free(todo);
    if (fclose(pf) != 0) {
        pf = NULL;
        fprintf(stderr, "lexie eval: writing %s failed\n", ppath);
        goto done;
    }
    pf = NULL;

    /* The report, from the file: resumed and new predictions alike. */
    lx_re_preds_free(&preds);
    if (lx_re_preds_load(ppath, schema, &preds, &good, &err) != LEXIE_OK) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        goto done;
    }
    labels = malloc(((size_t)schema->n_rels + 1) * sizeof *labels);
    pidx = malloc((size_t)(n_sel > 0 ? n_sel : 1) * sizeof *pidx);
    if (!labels || !pidx) goto oom;
    for (int l = 0; l <= schema->n_rels; l++) labels[l] = lx_re_schema_label(schema, l);
    lx_re_counts c, alt; /* the headline decisions, and the other of argmax/calibrated */
    if (lx_re_counts_init(&c, labels, schema->n_rels + 1, schema->n_rels, &err) != LEXIE_OK)
        goto oom;
    if (lx_re_counts_init(&alt, labels, schema->n_rels + 1, schema->n_rels, &err) != LEXIE_OK) {
        lx_re_counts_free(&c);
        goto oom;
    }
    double secs = 0;
    int n_have = 0, *g2 = gold;
    for (int i = 0; i < n_sel; i++) {
        int pi = lx_re_preds_find(&preds, src->items[sel[i]].id);
        if (pi < 0) continue;
        secs += preds.p[pi].seconds;
        g2[n_have] = gold[i];
        pidx[n_have++] = pi;
    }
    /* Batch calibration's prior: the mean probabilities over what is scored. */
    const float **pv = malloc((size_t)(n_have > 0 ? n_have : 1) * sizeof *pv);
    prior = malloc(((size_t)schema->n_rels + 1) * sizeof *prior);
    if (!pv || !prior) {
        free(pv);
        lx_re_counts_free(&c);
        lx_re_counts_free(&alt);
        goto oom;
    }
    for (int i = 0; i < n_have; i++) pv[i] = preds.p[pidx[i]].probs;
    lx_re_prior(pv, n_have, schema->n_rels + 1, prior);
    free(pv);
    for (int i = 0; i < n_have; i++) {
        lx_re_pred *p = &preds.p[pidx[i]];
        int plain = o.threshold > 0 ? lx_re_decide(schema, p->probs, (float)o.threshold) : p->label;
        int cal =
            lx_re_decide_calibrated(p->probs, dev_prior ? dev_prior : prior, schema->n_rels + 1);
        if (p->invalid) plain = cal = schema->n_rels;
        lx_re_counts_add(&c, g2[i], o.calibrate ? cal : plain, p->invalid);
        lx_re_counts_add(&alt, g2[i], o.calibrate ? plain : cal, p->invalid);
    }
    double best_t, best_f = tune_threshold(schema, &preds, g2, pidx, n_have, labels, &best_t);
    lx_prf alt_mi = lx_re_micro(&alt);
    lx_semeval_score alt_sv;
    int alt_has_sv = lx_semeval_official(&alt, &alt_sv);
    lx_re_counts_free(&alt);

    lx_jbuf cmd = {0};
    lx_jbuf_puts(&cmd, "lexie");
    for (int i = 0; i < argc; i++) {
        /* Shell-quote what needs it, so the command can be pasted back. */
        const char *a = argv[i];
        int plain = *a != 0;
        for (const char *q = a; *q && plain; q++)
            plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-",
                           *q) != NULL;
        if (plain) {
            lx_jbuf_printf(&cmd, " %s", a);
            continue;
        }
        lx_jbuf_puts(&cmd, " '");
        for (const char *q = a; *q; q++) {
            if (*q == '\'')
                lx_jbuf_puts(&cmd, "'\\''");
            else
                lx_jbuf_putc(&cmd, *q);
        }
        lx_jbuf_putc(&cmd, '\'');
    }
    lx_re_run_info info = {cmd.data,
                           o.data,
                           o.split,
                           o.method_s,
                           o.shots,
                           o.permute,
                           o.free_gen,
                           o.shots ? o.seed : 0,
                           lexie_model_name(model),
                           model_sha,
                           schema->name,
                           schema->sha256,
                           chash,
                           ppath,
                           (float)o.threshold,
                           o.calibrate,
                           o.prior,
                           n_sel,
                           n_done,
                           t_run,
                           secs > 0 ? n_have / secs : 0};
    char rpath[1200], suffix[96] = "";
    if (o.sample) snprintf(suffix, sizeof suffix, "-sample%d-s%llu", o.sample, o.seed);
    if (o.limit)
        snprintf(suffix + strlen(suffix), sizeof suffix - strlen(suffix), "-limit%d", o.limit);
    if (o.threshold > 0)
        snprintf(suffix + strlen(suffix), sizeof suffix - strlen(suffix), "-t%.3f", o.threshold);
    if (o.calibrate)
        snprintf(suffix + strlen(suffix), sizeof suffix - strlen(suffix),
                 o.prior ? "-prior" : "-cal");
    const char *alt_name = o.calibrate ? "argmax (uncalibrated)" : "batch calibration";
    lx_jbuf_reset(&b);
    lx_re_report_json(&b, &info, &c);
    /* Splice the threshold tuning into the JSON object before its '}'. */
    if (b.len >= 2 && b.data[b.len - 2] == '}') {
        b.len -= 2;
        lx_jbuf_printf(&b,
                       ",\"threshold_tuning\":{\"best_threshold\":%.6g,\"micro_f1\":%.4f,"
                       "\"note\":\"oracle on this split: tune on dev, apply on test\"}",
                       best_t, best_f);
        lx_jbuf_printf(&b,
                       ",\"%s\":{\"micro\":{\"p\":%.4f,\"r\":%.4f,\"f1\":%.4f},"
                       "\"semeval_macro_f1\":",
                       o.calibrate ? "uncalibrated" : "batch_calibration", alt_mi.p, alt_mi.r,
                       alt_mi.f1);
        if (alt_has_sv)
            lx_jbuf_printf(&b, "%.4f}", alt_sv.macro_f1);
        else
            lx_jbuf_puts(&b, "null}");
        /* The model's prior over the answers: its position bias, in QA4RE. */
        lx_jbuf_puts(&b, ",\"mean_probability\":{");
        for (int l = 0; l <= schema->n_rels; l++) {
            if (l) lx_jbuf_putc(&b, ',');
            lx_jbuf_cstr(&b, labels[l]);
            lx_jbuf_printf(&b, ":%.4g", prior[l]);
        }
        lx_jbuf_puts(&b, "}}\n");
    }
    snprintf(rpath, sizeof rpath, "%s%s.report.json", stem, suffix);
    int ok = write_file(rpath, &b);
    lx_jbuf_reset(&b);
    lx_re_report_table(&b, &info, &c);
    lx_jbuf_printf(&b, "\nbest none threshold on this split: %.4f (micro F1 %.2f)\n", best_t,
                   100 * best_f);
    lx_jbuf_printf(&b, "%s: micro P %.2f R %.2f F1 %.2f", alt_name, 100 * alt_mi.p, 100 * alt_mi.r,
                   100 * alt_mi.f1);
    if (alt_has_sv) lx_jbuf_printf(&b, ", SemEval macro-F1 %.2f", 100 * alt_sv.macro_f1);
    lx_jbuf_putc(&b, '\n');
    snprintf(rpath, sizeof rpath, "%s%s.report.txt", stem, suffix);
    ok &= write_file(rpath, &b);
    fputs(b.data, stdout);
    if (!ok) fprintf(stderr, "lexie eval: could not write the report next to %s\n", ppath);
    lx_jbuf_free(&cmd);
    lx_re_counts_free(&c);
    rc = (n_err || !ok) ? 1 : 0;
    goto done;
oom:
    fprintf(stderr, "lexie eval: out of memory\n");
done:
    if (pf) fclose(pf);
    lexie_re_free(re);
    lexie_ctx_free(ctx);
    lexie_model_free(model);
    lx_re_schema_free(schema);
    lx_re_data_free(&test);
    lx_re_data_free(&train);
    lx_re_preds_free(&preds);
    lx_jbuf_free(&b);
    free(sel);
    free(mask);
    free(gold);
    free(pidx);
    free(prior);
    free(dev_prior);
    free(labels);
    free(model_path);
    free(schema_path);
    return rc;
}
