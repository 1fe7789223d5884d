/*
** cmd_relations.c -- `lexie relations`: classify the relation between the
** two entities of each JSONL input line against a schema, writing one
** JSONL line per input line in the same order:
**   {"id": ..., "label": ..., "scores": {label: probability, ...}}
** A bad line gives {"id": ..., "error": {"code", "message"}}; processing
** goes on and the exit status is 1 at the end.  Blank lines are skipped;
** every other line, one with a NUL byte or longer than --max-line
** included, gets its output line.  A read error on stdin or a write error
** on stdout stops the command with status 1.
*/
#include "cli.h"

#include "base/base.h"
#include "base/json.h"
#include "ie/ie.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void rel_usage(FILE *f) {
    fputs("usage: lexie relations --schema FILE|NAME [options] < in.jsonl > out.jsonl\n"
          "  input lines: {\"id\", \"text\", \"head\": {\"start\", \"end\", \"type\"}, \"tail\": "
          "{...}}\n"
          "  (offsets in code points, end exclusive), or text with <e1>..</e1> <e2>..</e2>\n"
          "  --method M         qa4re (default), vanilla or compact (for a tuned model)\n"
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
          "  --chat-template TEXT       Jinja chat template (the text) replacing the\n"
          "                             model's own\n"
          "  --chat-template-file FILE  the same, read from FILE\n"
          "  --max-line BYTES   longest input line (default 16777216 = 16 MiB); a longer\n"
          "                     line gets an error line and is not held in memory\n" CLI_LORA_USAGE
          "  -t N               threads (default: all cores)\n"
          "  --batch B          examples decoded together (default 8)\n"
          "Blank input lines are skipped; every other line gets one output line.\n",
          f);
}

/* One pending input line: an example to classify, or an error to report. */
typedef struct {
    lexie_re_line line; /* line.id: the id as it came, or NULL */
    lexie_status st;
    char msg[512];
} pending;

/* Writes {"id", "label", "scores": {label: p > 0}} without the closing
** brace, so the caller can add fields. */
static void put_result(lx_jbuf *b, const char *id_json, const lexie_re_schema *s, int label,
                       const float *probs) {
    lx_jbuf_puts(b, "{\"id\":");
    lx_jbuf_puts(b, id_json ? id_json : "null");
    lx_jbuf_puts(b, ",\"label\":");
    lx_jbuf_cstr(b, lexie_re_schema_label(s, label));
    lx_jbuf_puts(b, ",\"scores\":{");
    int first = 1;
    for (int l = 0; l < lexie_re_schema_n_labels(s); l++) {
        if (probs[l] <= 0.0f) continue;
        lx_jbuf_printf(b, "%s", first ? "" : ",");
        first = 0;
        lx_jbuf_cstr(b, lexie_re_schema_label(s, l));
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
    int n;
    size_t cap;
} held_lines;

static held_line *hold_next(held_lines *h) {
    if (lx_grow((void **)&h->v, &h->cap, (size_t)h->n + 1, sizeof *h->v, NULL)) return NULL;
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
** input order (out NULL: writes nothing); frees them. */
static void write_held(held_lines *h, const lexie_re_schema *s, FILE *out) {
    int nl = lexie_re_schema_n_labels(s), n_res = 0;
    const float **pv = malloc((size_t)(h->n ? h->n : 1) * sizeof *pv);
    double *prior = malloc((size_t)nl * sizeof *prior);
    lx_jbuf b = {0};
    if (!out) {
        /* stdout failed: only free. */
    } else if (!pv || !prior) {
        fprintf(stderr, "lexie relations: out of memory\n");
    } else {
        for (int i = 0; i < h->n; i++)
            if (!h->v[i].error_line && h->v[i].probs) pv[n_res++] = h->v[i].probs;
        lexie_re_prior(pv, n_res, nl, prior);
        for (int i = 0; i < h->n; i++) {
            held_line *l = &h->v[i];
            if (l->error_line) {
                fputs(l->error_line, out);
            } else if (l->probs) {
                lx_jbuf_reset(&b);
                put_result(&b, l->id_json, s, lexie_re_decide_calibrated(l->probs, prior, nl),
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
}

/* Classifies the ok items of q[0..n) and prints every line in order (with
** hold, keeps them for write_held instead; with prior, decides by it).
** Returns the number of lines that ended in an error. */
static int flush(lexie_re *re, const lexie_re_schema *s, pending *q, int n, int free_gen, int dump,
                 held_lines *hold, const double *prior, FILE *out) {
    lexie_re_example ex[64];
    lexie_re_result res[64];
    int map[64], m = 0, bad = 0;
    memset(res, 0, sizeof res);
    for (int i = 0; i < n; i++)
        if (q[i].st == LEXIE_OK) {
            map[m] = i;
            ex[m++] = q[i].line.ex;
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
            lx_error_line(&b, q[i].line.id, q[i].st, q[i].msg);
            bad++;
            if (k < m && map[k] == i) k++;
            if (hold) {
                if (!hold_error(hold, &b)) fprintf(stderr, "lexie relations: out of memory\n");
                continue;
            }
        } else {
            lexie_re_result *r = &res[k++];
            if (hold) {
                if (!hold_result(hold, q[i].line.id, r->probs, lexie_re_schema_n_labels(s))) {
                    bad++;
                    fprintf(stderr, "lexie relations: out of memory\n");
                }
                continue;
            }
            if (prior)
                r->label = lexie_re_decide_calibrated(r->probs, prior, lexie_re_schema_n_labels(s));
            put_result(&b, q[i].line.id, s, r->label, r->probs);
            if (free_gen) {
                lx_jbuf_printf(&b, ",\"invalid\":%s,\"answer\":", r->invalid ? "true" : "false");
                lx_jbuf_cstr(&b, r->answer);
            }
            lx_jbuf_puts(&b, "}\n");
        }
        fwrite(b.data, 1, b.len, out);
    }
    for (int j = 0; j < m; j++) lexie_re_result_clear(&res[j]);
    lx_jbuf_free(&b);
    return bad;
}

typedef struct {
    const char *model, *schema, *method, *tmpl, *tmpl_file, *prior;
    lexie_re_params rp;
    int threads, dump, calibrate;
    cli_lora lora;
    size_t max_line;
} rel_opts;

/* Parses the options into *o; returns -1 to go on, else the exit status. */
static int parse_relations(int argc, char **argv, rel_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = "qa4re";
    o->rp = lexie_re_default_params();
    o->max_line = LX_LINE_MAX_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0;
        int bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            rel_usage(stdout);
            return 0;
        } else if (strcmp(a, "--free-gen") == 0) {
            o->rp.free_gen = 1;
        } else if (strcmp(a, "--dump-prompt") == 0) {
            o->dump = 1;
        } else if (strcmp(a, "--no-mark") == 0) {
            o->rp.mark = 0;
        } else if (strcmp(a, "--calibrate") == 0) {
            o->calibrate = 1;
        } else if (!v) {
            fprintf(stderr, "lexie relations: unknown option or missing value: '%s' (try --help)\n",
                    a);
            return 2;
        } else {
            i++;
            if (cli_lora_option("relations", a, v, &o->lora, &bad)) {
                if (bad) return 2;
            } else if (strcmp(a, "-m") == 0)
                o->model = v;
            else if (strcmp(a, "--schema") == 0)
                o->schema = v;
            else if (strcmp(a, "--chat-template") == 0)
                o->tmpl = v;
            else if (strcmp(a, "--chat-template-file") == 0)
                o->tmpl_file = v;
            else if (strcmp(a, "--max-line") == 0 && cli_parse_num(v, 1, 1 << 30, 1, &x))
                o->max_line = (size_t)x;
            else if (strcmp(a, "--prior") == 0)
                o->prior = v;
            else if (strcmp(a, "--method") == 0)
                o->method = v;
            else if (strcmp(a, "--permute") == 0 && cli_parse_num(v, 1, 64, 1, &x))
                o->rp.n_permute = (int)x;
            else if (strcmp(a, "-t") == 0 && cli_parse_num(v, 1, 256, 1, &x))
                o->threads = (int)x;
            else if (strcmp(a, "--batch") == 0 && cli_parse_num(v, 1, 63, 1, &x))
                o->rp.batch = (int)x;
            else if (strcmp(a, "--threshold") == 0) {
                if (!cli_parse_num(v, 0, 1, 0, &x) || !(x > 0)) {
                    fprintf(stderr, "lexie relations: --threshold wants a number in (0, 1]\n");
                    return 2;
                }
                o->rp.none_threshold = (float)x;
            } else {
                fprintf(stderr, "lexie relations: bad option '%s %s' (try --help)\n", a, v);
                return 2;
            }
        }
    }
    if (strcmp(o->method, "qa4re") == 0)
        o->rp.method = LEXIE_RE_QA4RE;
    else if (strcmp(o->method, "vanilla") == 0)
        o->rp.method = LEXIE_RE_VANILLA;
    else if (strcmp(o->method, "compact") == 0)
        o->rp.method = LEXIE_RE_COMPACT;
    else {
        fprintf(stderr, "lexie relations: --method must be qa4re, vanilla or compact\n");
        return 2;
    }
    if ((o->calibrate || o->prior) && (o->rp.free_gen || o->rp.none_threshold > 0 || o->dump)) {
        fprintf(stderr, "lexie relations: --calibrate and --prior go with neither --free-gen, "
                        "--threshold nor --dump-prompt\n");
        return 2;
    }
    if (o->tmpl && o->tmpl_file) {
        fprintf(stderr, "lexie relations: give --chat-template or --chat-template-file, not "
                        "both\n");
        return 2;
    }
    if (o->calibrate && o->prior) {
        fprintf(stderr, "lexie relations: --calibrate and --prior are alternatives; use one\n");
        return 2;
    }
    if (!o->schema) {
        fprintf(stderr,
                "lexie relations: --schema is required (a file, or semeval, tacred, gad)\n");
        return 2;
    }
    return -1;
}

/* The pending entry of one input line: an error, or the parsed example.
** Returns 0 for a blank line (skipped). */
static int take_line(pending *p, const lx_line_reader *rd, int kind, int lineno, size_t max) {
    char *line = rd->line.data;
    size_t len = rd->line.len;
    memset(p, 0, sizeof *p);
    if (kind == LX_LINE_LONG) {
        p->st = LEXIE_E_RANGE;
        snprintf(p->msg, sizeof p->msg, "line %d: longer than %zu bytes (--max-line)", lineno, max);
        return 1;
    }
    while (len > 0 && line[len - 1] == '\r') line[--len] = 0;
    size_t sp = 0;
    while (sp < len && (line[sp] == ' ' || line[sp] == '\t')) sp++;
    if (sp == len) return 0;
    if (memchr(line, 0, len)) {
        p->st = LEXIE_E_FORMAT;
        snprintf(p->msg, sizeof p->msg, "line %d: contains a NUL byte", lineno);
        return 1;
    }
    lexie_error err;
    if ((p->st = lexie_re_line_parse(line, len, lineno, &p->line, &err)) != LEXIE_OK)
        snprintf(p->msg, sizeof p->msg, "%s", err.message);
    return 1;
}

/* Reads stdin line by line, classifying in batches; returns the number of
** lines that ended in an error, or -1 when stdin could not be read or
** stdout written (the message is printed). */
static int run_lines(lexie_re *re, const lexie_re_schema *s, const rel_opts *o,
                     const double *prior) {
    pending q[64];
    held_lines held = {0};
    int nq = 0, n_bad = 0, lineno = 0, failed = 0, out_bad = 0;
    lx_line_reader rd = {.f = stdin, .max = o->max_line};
    memset(q, 0, sizeof q);
    held_lines *hold = o->calibrate ? &held : NULL;
    for (;;) {
        int kind = lx_line_read(&rd);
        if (kind == LX_LINE_END) break;
        if (kind == LX_LINE_ERROR) {
            fprintf(stderr, "lexie relations: cannot read standard input: %s\n", strerror(errno));
            failed = 1;
            break;
        }
        lineno++;
        if (!take_line(&q[nq], &rd, kind, lineno, o->max_line)) continue;
        if (++nq == o->rp.batch) {
            n_bad += flush(re, s, q, nq, o->rp.free_gen, o->dump, hold, prior, stdout);
            for (int i = 0; i < nq; i++) lexie_re_line_clear(&q[i].line);
            nq = 0;
            if (cli_flush_out("relations") != 0) {
                failed = out_bad = 1;
                break;
            }
        }
    }
    lx_line_reader_free(&rd);
    /* What was read before a read error is still answered. */
    if (!out_bad) {
        n_bad += flush(re, s, q, nq, o->rp.free_gen, o->dump, hold, prior, stdout);
        if (hold) write_held(hold, s, stdout);
    } else if (hold) {
        write_held(hold, s, NULL);
    }
    for (int i = 0; i < nq; i++) lexie_re_line_clear(&q[i].line);
    if (cli_flush_out("relations") != 0) failed = 1;
    return failed ? -1 : n_bad;
}

int cmd_relations(int argc, char **argv) {
    rel_opts o;
    int rc = parse_relations(argc, argv, &o);
    if (rc >= 0) return rc;
    lexie_error err;
    char *spath = cli_find_schema(o.schema, &err), *mpath = NULL;
    lexie_re_schema *s = spath ? lexie_re_schema_load(spath, &err) : NULL;
    free(spath);
    if (!s) {
        fprintf(stderr, "lexie relations: %s\n", err.message);
        return 1;
    }
    for (int i = 0; i < lexie_re_schema_n_warnings(s); i++)
        fprintf(stderr, "lexie relations: warning: %s\n", lexie_re_schema_warning(s, i));
    double *prior = NULL;
    if (o.prior) {
        prior = malloc((size_t)lexie_re_schema_n_labels(s) * sizeof *prior);
        if (!prior || lexie_re_prior_load(o.prior, s, prior, &err) != LEXIE_OK) {
            fprintf(stderr, "lexie relations: %s\n", prior ? err.message : "out of memory");
            free(prior);
            lexie_re_schema_free(s);
            return 1;
        }
    }
    lexie_model *m = NULL;
    lexie_ctx *c = NULL;
    lexie_re *re = NULL;
    char *tmpl = NULL;
    rc = 1;
    lexie_model_params mp = lexie_model_default_params();
    if (!cli_chat_template("relations", o.tmpl, o.tmpl_file, &tmpl)) goto done;
    mp.chat_template = tmpl;
    if (!(mpath = cli_resolve_model(o.model, &err)) || !(m = lexie_model_load(mpath, &mp, &err))) {
        fprintf(stderr, "lexie relations: %s\n", err.message);
        goto done;
    }
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = lexie_model_n_ctx_train(m) < 8192 ? lexie_model_n_ctx_train(m) : 8192;
    cp.n_seq_max = o.rp.batch + 1;
    cp.n_threads = o.threads;
    if (!(c = lexie_ctx_new(m, &cp, &err))) {
        fprintf(stderr, "lexie relations: %s\n", err.message);
        goto done;
    }
    if (!cli_apply_lora("relations", m, c, &o.lora)) goto done;
    if (!(re = lexie_re_new(c, s, &o.rp, &err))) {
        fprintf(stderr, "lexie relations: %s\n", err.message);
        goto done;
    }
    int n_bad = run_lines(re, s, &o, prior);
    if (n_bad > 0) fprintf(stderr, "lexie relations: %d line(s) had errors\n", n_bad);
    rc = n_bad ? 1 : 0;
done:
    lexie_re_free(re);
    lexie_ctx_free(c);
    cli_lora_free(&o.lora);
    lexie_model_free(m);
    lexie_re_schema_free(s);
    free(mpath);
    free(prior);
    free(tmpl);
    return rc;
}
