/*
** cmd_relations.c -- `lexie relations`: classify the relation between the
** two entities of each JSONL input line against a schema, writing one
** JSONL line per input line in the same order:
**   {"id": ..., "label": ..., "scores": {label: probability, ...}}
** A bad line gives {"id": ..., "error": {"code", "message"}}; processing
** goes on and the exit status is 1 at the end.  Also cli_find_schema,
** which resolves a built-in schema name to its file.
*/
#include "cli.h"

#include "eval/eval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *cli_find_schema(const char *arg, lexie_error *err) {
    if (!arg || !*arg) {
        lx_fail(err, LEXIE_E_INVALID, "no schema given");
        return NULL;
    }
    /* A path: anything with a slash or a .json ending. */
    size_t n = strlen(arg);
    if (strchr(arg, '/') || (n > 5 && strcmp(arg + n - 5, ".json") == 0)) {
        if (access(arg, R_OK) != 0) {
            lx_fail(err, LEXIE_E_IO, "schema %s: %s", arg, strerror(errno));
            return NULL;
        }
        return lx_strdup(arg, err);
    }
    /* A built-in name: $LEXIE_SCHEMAS, ./schemas, then beside the binary
    ** (build/lexie -> ../schemas, an installed bin/ -> ../share/lexie). */
    char exe[4096] = "", dirs[4][4200];
    int nd = 0;
    const char *env = getenv("LEXIE_SCHEMAS");
    if (env && *env) snprintf(dirs[nd++], sizeof dirs[0], "%s", env);
    snprintf(dirs[nd++], sizeof dirs[0], "schemas");
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(dirs[nd++], sizeof dirs[0], "%s/../schemas", exe);
        snprintf(dirs[nd++], sizeof dirs[0], "%s/../share/lexie/schemas", exe);
    }
    for (int i = 0; i < nd; i++) {
        char p[8800];
        int w = snprintf(p, sizeof p, "%s/%s.json", dirs[i], arg);
        if (w > 0 && (size_t)w < sizeof p && access(p, R_OK) == 0) return lx_strdup(p, err);
    }
    lx_fail(err, LEXIE_E_NOT_FOUND,
            "no schema '%s': give a file, or a built-in name (semeval, tacred, gad) found under "
            "$LEXIE_SCHEMAS or schemas/",
            arg);
    return NULL;
}

static void rel_usage(FILE *f) {
    fputs("usage: lexie relations --schema FILE|NAME [options] < in.jsonl > out.jsonl\n"
          "  input lines: {\"id\", \"text\", \"head\": {\"start\", \"end\", \"type\"}, \"tail\": "
          "{...}}\n"
          "  (offsets in code points, end exclusive), or text with <e1>..</e1> <e2>..</e2>\n"
          "  --method M         qa4re (default) or vanilla\n"
          "  --permute P        QA4RE: average over P cyclic option orders (default 1)\n"
          "  --free-gen         generate the answer and parse it, instead of scoring\n"
          "  --threshold T      predict the none label iff its probability >= T\n"
          "  --calibrate        decide by batch calibration over the whole input (each\n"
          "                     label's probability divided by its mean); output comes\n"
          "                     at the end\n"
          "  --prior REPORT     calibrate line by line with the mean probabilities of a\n"
          "                     `lexie eval re` run (its .report.json)\n"
          "  --no-mark          do not [bracket] the entities in the prompt\n"
          "  --dump-prompt      print each line's exact prompt instead of classifying\n"
          "  -m MODEL           model name or GGUF path (default: the default model)\n"
          "  --chat-template T  Jinja chat template that replaces the model's own\n"
          "  -t N               threads (default: all cores)\n"
          "  --batch B          examples decoded together (default 8)\n",
          f);
}

static const char *code_name(lexie_status s) {
    switch (s) {
    case LEXIE_E_FORMAT: return "format";
    case LEXIE_E_UTF8: return "utf8";
    case LEXIE_E_INVALID: return "invalid";
    case LEXIE_E_RANGE: return "range";
    case LEXIE_E_NOMEM: return "nomem";
    default: return "error";
    }
}

/* One pending input line: an item to classify, or an error to report. */
typedef struct {
    lx_re_item it;
    char *id_json; /* the id as it came, or NULL */
    lexie_status st;
    char msg[512];
} pending;

static void put_error(lx_jbuf *b, const pending *p) {
    lx_jbuf_puts(b, "{\"id\":");
    lx_jbuf_puts(b, p->id_json ? p->id_json : "null");
    lx_jbuf_printf(b, ",\"error\":{\"code\":\"%s\",\"message\":", code_name(p->st));
    lx_jbuf_cstr(b, p->msg);
    lx_jbuf_puts(b, "}}\n");
}

/* Writes {"id", "label", "scores": {label: p > 0}} without the closing
** brace, so the caller can add fields. */
static void put_result(lx_jbuf *b, const char *id_json, const lx_re_schema *s, int label,
                       const float *probs) {
    lx_jbuf_puts(b, "{\"id\":");
    lx_jbuf_puts(b, id_json ? id_json : "null");
    lx_jbuf_puts(b, ",\"label\":");
    lx_jbuf_cstr(b, lx_re_schema_label(s, label));
    lx_jbuf_puts(b, ",\"scores\":{");
    int first = 1;
    for (int l = 0; l <= s->n_rels; l++) {
        if (probs[l] <= 0.0f) continue;
        lx_jbuf_printf(b, "%s", first ? "" : ",");
        first = 0;
        lx_jbuf_cstr(b, lx_re_schema_label(s, l));
        lx_jbuf_printf(b, ":%.6g", (double)probs[l]);
    }
    lx_jbuf_putc(b, '}');
}

/* With --calibrate every output line waits for the whole input: the label
** is decided by batch calibration (probabilities over their mean across
** all lines), so nothing can be written before the last line is scored. */
typedef struct {
    char *error_line; /* a complete error line, or NULL for a result */
    char *id_json;
    float *probs; /* [n_rels + 1] */
} held_line;

typedef struct {
    held_line *v;
    int n, cap;
} held_lines;

static held_line *hold_next(held_lines *h) {
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 256;
        held_line *v = realloc(h->v, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        h->v = v;
        h->cap = cap;
    }
    held_line *l = &h->v[h->n++];
    memset(l, 0, sizeof *l);
    return l;
}

static int hold_error(held_lines *h, const lx_jbuf *line) {
    held_line *l = hold_next(h);
    return l && (l->error_line = strdup(line->data)) != NULL;
}

static int hold_result(held_lines *h, const char *id_json, const float *probs, int n_labels) {
    held_line *l = hold_next(h);
    if (!l) return 0;
    l->probs = malloc((size_t)n_labels * sizeof *l->probs);
    l->id_json = id_json ? strdup(id_json) : NULL;
    if (!l->probs || (id_json && !l->id_json)) return 0;
    memcpy(l->probs, probs, (size_t)n_labels * sizeof *l->probs);
    return 1;
}

/* Decides every held result by batch calibration and writes all lines in
** input order; frees them. */
static void write_held(held_lines *h, const lx_re_schema *s, FILE *out) {
    int nl = s->n_rels + 1, n_res = 0;
    const float **pv = malloc((size_t)(h->n ? h->n : 1) * sizeof *pv);
    double *prior = malloc((size_t)nl * sizeof *prior);
    lx_jbuf b = {0};
    if (!pv || !prior) {
        fprintf(stderr, "lexie relations: out of memory\n");
    } else {
        for (int i = 0; i < h->n; i++)
            if (!h->v[i].error_line && h->v[i].probs) pv[n_res++] = h->v[i].probs;
        lx_re_prior(pv, n_res, nl, prior);
        for (int i = 0; i < h->n; i++) {
            held_line *l = &h->v[i];
            if (l->error_line) {
                fputs(l->error_line, out);
            } else if (l->probs) {
                lx_jbuf_reset(&b);
                put_result(&b, l->id_json, s, lx_re_decide_calibrated(l->probs, prior, nl),
                           l->probs);
                lx_jbuf_puts(&b, "}\n");
                fwrite(b.data, 1, b.len, out);
            }
        }
    }
    for (int i = 0; i < h->n; i++) {
        free(h->v[i].error_line);
        free(h->v[i].id_json);
        free(h->v[i].probs);
    }
    free(h->v);
    free(pv);
    free(prior);
    lx_jbuf_free(&b);
    fflush(out);
}

/* Classifies the ok items of q[0..n) and prints every line in order (with
** hold, keeps them for write_held instead; with prior, decides by it).
** Returns the number of lines that ended in an error. */
static int flush(lexie_re *re, const lx_re_schema *s, pending *q, int n, int free_gen, int dump,
                 held_lines *hold, const double *prior, FILE *out) {
    lexie_re_example ex[64];
    lexie_re_result res[64];
    int map[64], m = 0, bad = 0;
    memset(res, 0, sizeof res);
    for (int i = 0; i < n; i++)
        if (q[i].st == LEXIE_OK) {
            map[m] = i;
            ex[m++] = lx_re_item_example(&q[i].it);
        }
    lexie_error err;
    lx_jbuf b = {0};
    if (dump) {
        for (int k = 0; k < m; k++) {
            char *pr = NULL;
            if (lexie_re_prompt(re, &ex[k], &pr, &err) != LEXIE_OK) {
                q[map[k]].st = err.code;
                snprintf(q[map[k]].msg, sizeof q[map[k]].msg, "%s", err.message);
                continue;
            }
            fprintf(out, "%s\n", pr);
            lexie_free(pr);
        }
        for (int i = 0; i < n; i++)
            if (q[i].st != LEXIE_OK) {
                fprintf(stderr, "lexie relations: %s\n", q[i].msg);
                bad++;
            }
        return bad;
    }
    if (m > 0 && lexie_re_classify(re, ex, m, res, &err) != LEXIE_OK) {
        /* Retry one by one so only the guilty line reports the error. */
        for (int k = 0; k < m; k++) lexie_re_result_clear(&res[k]);
        for (int k = 0; k < m; k++)
            if (lexie_re_classify(re, &ex[k], 1, &res[k], &err) != LEXIE_OK) {
                lexie_re_result_clear(&res[k]);
                q[map[k]].st = err.code;
                snprintf(q[map[k]].msg, sizeof q[map[k]].msg, "%s", err.message);
            }
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        lx_jbuf_reset(&b);
        if (q[i].st != LEXIE_OK) {
            put_error(&b, &q[i]);
            bad++;
            if (k < m && map[k] == i) k++;
            if (hold) {
                if (!hold_error(hold, &b)) fprintf(stderr, "lexie relations: out of memory\n");
                continue;
            }
        } else {
            lexie_re_result *r = &res[k++];
            if (hold) {
                if (!hold_result(hold, q[i].id_json, r->probs, s->n_rels + 1)) {
                    bad++;
                    fprintf(stderr, "lexie relations: out of memory\n");
                }
                continue;
            }
            if (prior) r->label = lx_re_decide_calibrated(r->probs, prior, s->n_rels + 1);
            put_result(&b, q[i].id_json, s, r->label, r->probs);
            if (free_gen) {
                lx_jbuf_printf(&b, ",\"invalid\":%s,\"answer\":", r->invalid ? "true" : "false");
                lx_jbuf_cstr(&b, r->answer);
            }
            lx_jbuf_puts(&b, "}\n");
        }
        fwrite(b.data, 1, b.len, out);
    }
    fflush(out);
    for (int j = 0; j < m; j++) lexie_re_result_clear(&res[j]);
    lx_jbuf_free(&b);
    return bad;
}

int cmd_relations(int argc, char **argv) {
    const char *model_arg = NULL, *schema_arg = NULL, *method = "qa4re", *tmpl = NULL;
    const char *prior_arg = NULL;
    lexie_re_params rp = lexie_re_default_params();
    int threads = 0, dump = 0, calibrate = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            rel_usage(stdout);
            return 0;
        } else if (strcmp(a, "--free-gen") == 0) {
            rp.free_gen = 1;
        } else if (strcmp(a, "--dump-prompt") == 0) {
            dump = 1;
        } else if (strcmp(a, "--no-mark") == 0) {
            rp.mark = 0;
        } else if (strcmp(a, "--calibrate") == 0) {
            calibrate = 1;
        } else if (!v) {
            fprintf(stderr, "lexie relations: unknown option or missing value: '%s' (try --help)\n",
                    a);
            return 2;
        } else {
            i++;
            long x = strtol(v, &end, 10);
            int num_ok = end && *end == 0 && end != v;
            if (strcmp(a, "-m") == 0)
                model_arg = v;
            else if (strcmp(a, "--schema") == 0)
                schema_arg = v;
            else if (strcmp(a, "--chat-template") == 0)
                tmpl = v;
            else if (strcmp(a, "--prior") == 0)
                prior_arg = v;
            else if (strcmp(a, "--method") == 0)
                method = v;
            else if (strcmp(a, "--permute") == 0 && num_ok && x >= 1 && x <= 64)
                rp.n_permute = (int)x;
            else if (strcmp(a, "-t") == 0 && num_ok && x >= 1 && x <= 256)
                threads = (int)x;
            else if (strcmp(a, "--batch") == 0 && num_ok && x >= 1 && x <= 63)
                rp.batch = (int)x;
            else if (strcmp(a, "--threshold") == 0) {
                double t = strtod(v, &end);
                if (*end || !(t > 0 && t <= 1)) {
                    fprintf(stderr, "lexie relations: --threshold wants a number in (0, 1]\n");
                    return 2;
                }
                rp.none_threshold = (float)t;
            } else {
                fprintf(stderr, "lexie relations: bad option '%s %s' (try --help)\n", a, v);
                return 2;
            }
        }
    }
    if (strcmp(method, "qa4re") == 0)
        rp.method = LEXIE_RE_QA4RE;
    else if (strcmp(method, "vanilla") == 0)
        rp.method = LEXIE_RE_VANILLA;
    else {
        fprintf(stderr, "lexie relations: --method must be qa4re or vanilla\n");
        return 2;
    }
    if ((calibrate || prior_arg) && (rp.free_gen || rp.none_threshold > 0 || dump)) {
        fprintf(stderr, "lexie relations: --calibrate and --prior go with neither --free-gen, "
                        "--threshold nor --dump-prompt\n");
        return 2;
    }
    if (calibrate && prior_arg) {
        fprintf(stderr, "lexie relations: --calibrate and --prior are alternatives; use one\n");
        return 2;
    }
    if (!schema_arg) {
        fprintf(stderr,
                "lexie relations: --schema is required (a file, or semeval, tacred, gad)\n");
        return 2;
    }
    lexie_error err;
    char *spath = cli_find_schema(schema_arg, &err), *mpath = NULL;
    lx_re_schema *s = spath ? lx_re_schema_load(spath, &err) : NULL;
    free(spath);
    if (!s) {
        fprintf(stderr, "lexie relations: %s\n", err.message);
        return 1;
    }
    for (int i = 0; i < s->n_warnings; i++)
        fprintf(stderr, "lexie relations: warning: %s\n", s->warnings[i]);
    double *prior = NULL;
    if (prior_arg) {
        prior = malloc(((size_t)s->n_rels + 1) * sizeof *prior);
        if (!prior || lx_re_prior_load(prior_arg, s, prior, &err) != LEXIE_OK) {
            fprintf(stderr, "lexie relations: %s\n", prior ? err.message : "out of memory");
            free(prior);
            lx_re_schema_free(s);
            return 1;
        }
    }
    lexie_model *m = NULL;
    lexie_ctx *c = NULL;
    lexie_re *re = NULL;
    int rc = 1;
    lexie_model_params mp = lexie_model_default_params();
    mp.chat_template = tmpl;
    if (!(mpath = cli_resolve_model(model_arg, &err)) ||
        !(m = lexie_model_load(mpath, &mp, &err))) {
        fprintf(stderr, "lexie relations: %s\n", err.message);
        goto done;
    }
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = LX_MIN(8192, lexie_model_n_ctx_train(m));
    cp.n_seq_max = rp.batch + 1;
    cp.n_threads = threads;
    if (!(c = lexie_ctx_new(m, &cp, &err)) || !(re = lexie_re_new(c, s, &rp, &err))) {
        fprintf(stderr, "lexie relations: %s\n", err.message);
        goto done;
    }
    pending q[64];
    held_lines held = {0};
    int nq = 0, n_bad = 0, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    memset(q, 0, sizeof q);
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        size_t sp = strspn(line, " \t");
        if (line[sp] == 0) continue;
        pending *p = &q[nq++];
        memset(p, 0, sizeof *p);
        lx_json_doc *d = lx_json_parse(line, (size_t)len, NULL, &err);
        if (!d) {
            p->st = err.code == LEXIE_E_UTF8 ? LEXIE_E_UTF8 : LEXIE_E_FORMAT;
            /* The parser saw one line: "line 1, column C" is this line's column. */
            const char *m = err.message;
            if (strncmp(m, "line 1, ", 8) == 0) m += 8;
            snprintf(p->msg, sizeof p->msg, "line %d, %.480s", lineno, m);
        } else {
            const lx_json *id = lx_json_get(lx_json_root(d), "id");
            if (id && (id->type == LX_JSON_STRING || id->type == LX_JSON_NUMBER)) {
                lx_jbuf ib = {0};
                lx_jbuf_value(&ib, id);
                p->id_json = ib.data;
            }
            if ((p->st = lx_re_item_from_json(lx_json_root(d), &p->it, &err)) != LEXIE_OK)
                snprintf(p->msg, sizeof p->msg, "line %d: %.480s", lineno, err.message);
            lx_json_doc_free(d);
        }
        if (nq == rp.batch) {
            n_bad +=
                flush(re, s, q, nq, rp.free_gen, dump, calibrate ? &held : NULL, prior, stdout);
            for (int i = 0; i < nq; i++) {
                lx_re_item_free(&q[i].it);
                free(q[i].id_json);
            }
            nq = 0;
        }
    }
    free(line);
    n_bad += flush(re, s, q, nq, rp.free_gen, dump, calibrate ? &held : NULL, prior, stdout);
    if (calibrate) write_held(&held, s, stdout);
    for (int i = 0; i < nq; i++) {
        lx_re_item_free(&q[i].it);
        free(q[i].id_json);
    }
    if (n_bad) fprintf(stderr, "lexie relations: %d line(s) had errors\n", n_bad);
    rc = n_bad ? 1 : 0;
done:
    lexie_re_free(re);
    lexie_ctx_free(c);
    lexie_model_free(m);
    lx_re_schema_free(s);
    free(mpath);
    free(prior);
    return rc;
}
