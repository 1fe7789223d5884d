/*
** cmd_extract.c -- `lexie extract`: entities, relations, events or open
** IE triples from each JSONL document {"id", "text"}, one output line per
** input line in input order (src/ie/extraction.c writes it).
**
** A bad line gives {"id", "error": {"code", "message"}}; processing goes
** on and the exit status is 1 at the end.  Provenance (version, model and
** schema SHA-256) goes to stderr, never to stdout.  Documents are read in
** batches and decoded together (--batch).
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

#define MAX_BATCH 32

static void extract_usage(FILE *f) {
    fputs("usage: lexie extract --task ner|re|events|openie (--types A,B,C | --schema FILE)\n"
          "                     [options] < docs.jsonl > out.jsonl\n"
          "  input lines: {\"id\", \"text\"}; output: {\"id\", \"entities\", \"relations\",\n"
          "  \"events\", \"triples\"} (the parts of the task), spans grounded to the text\n"
          "  --types A,B,C        entity types (NER)\n"
          "  --schema FILE        a lexie schema file: entities, relations, events\n"
          "  --re-method M        qa4re (default: entities, then QA4RE on the pairs) or\n"
          "                       generate (the model writes the triples)\n"
          "  --instruction TEXT   replaces the task's instruction ({types}: the type list)\n"
          "  --json-schema FILE   replaces the answer's JSON Schema (same shape)\n"
          "  --demos FILE         few-shot demonstrations, JSONL {\"text\", \"answer\"}\n"
          "  --max-tokens N       answer budget per document piece (default 512)\n"
          "  --chunk-tokens N     longest piece of a document (default: what fits, <= 1024)\n"
          "  --overlap S          sentences shared by neighbouring pieces (default 1)\n"
          "  --no-chunk           refuse documents that do not fit whole\n"
          "  --batch B            documents decoded together (default 4)\n"
          "  --dump-prompt        print each document's prompt instead of extracting\n"
          "  -m MODEL             model name or GGUF path (default: the default model)\n"
          "  -t N                 threads (default: all cores)\n"
          "  -c N                 KV cells of the context, shared by the batch (default:\n"
          "                       the model's context, at most 4096 + 1536 x batch)\n"
          "  --chat-template TEXT       Jinja chat template replacing the model's own\n"
          "  --chat-template-file FILE  the same, read from FILE\n"
          "  --max-line BYTES     longest input line (default 16 MiB)\n" CLI_LORA_USAGE,
          f);
}

typedef struct {
    const char *model, *types, *schema, *task, *re_method, *json_schema_file, *tmpl, *tmpl_file;
    const char *demos;
    lexie_extract_params xp;
    int threads, batch, dump, n_ctx;
    size_t max_line;
    cli_lora lora;
} x_opts;

static int parse_task(x_opts *o) {
    static const char *names[] = {"ner", "re", "events", "openie"};
    for (int i = 0; i < 4; i++)
        if (o->task && strcmp(o->task, names[i]) == 0) {
            o->xp.task = (lexie_task)i;
            return 1;
        }
    fprintf(stderr, "lexie extract: --task must be ner, re, events or openie\n");
    return 0;
}

static int parse_value(x_opts *o, const char *a, const char *v) {
    double x = 0;
    int bad = 0;
    if (cli_lora_option("extract", a, v, &o->lora, &bad)) return !bad;
    if (strcmp(a, "-m") == 0)
        o->model = v;
    else if (strcmp(a, "--task") == 0)
        o->task = v;
    else if (strcmp(a, "--types") == 0)
        o->types = v;
    else if (strcmp(a, "--schema") == 0)
        o->schema = v;
    else if (strcmp(a, "--re-method") == 0)
        o->re_method = v;
    else if (strcmp(a, "--instruction") == 0)
        o->xp.instruction = v;
    else if (strcmp(a, "--json-schema") == 0)
        o->json_schema_file = v;
    else if (strcmp(a, "--chat-template") == 0)
        o->tmpl = v;
    else if (strcmp(a, "--demos") == 0)
        o->demos = v;
    else if (strcmp(a, "--chat-template-file") == 0)
        o->tmpl_file = v;
    else if (strcmp(a, "--max-tokens") == 0 && cli_parse_num(v, 16, 65536, 1, &x))
        o->xp.max_tokens = (int)x;
    else if (strcmp(a, "--chunk-tokens") == 0 && cli_parse_num(v, 16, 1 << 20, 1, &x))
        o->xp.chunk_tokens = (int)x;
    else if (strcmp(a, "--overlap") == 0 && cli_parse_num(v, 0, 16, 1, &x))
        o->xp.chunk_overlap = (int)x;
    else if (strcmp(a, "--batch") == 0 && cli_parse_num(v, 1, MAX_BATCH, 1, &x))
        o->batch = (int)x;
    else if (strcmp(a, "-t") == 0 && cli_parse_num(v, 1, 256, 1, &x))
        o->threads = (int)x;
    else if (strcmp(a, "-c") == 0 && cli_parse_num(v, 64, 1 << 24, 1, &x))
        o->n_ctx = (int)x;
    else if (strcmp(a, "--max-line") == 0 && cli_parse_num(v, 1, 1 << 30, 1, &x))
        o->max_line = (size_t)x;
    else {
        fprintf(stderr, "lexie extract: bad option '%s %s' (try --help)\n", a, v);
        return 0;
    }
    return 1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_extract(int argc, char **argv, x_opts *o) {
    memset(o, 0, sizeof *o);
    o->xp = lexie_extract_default_params();
    o->batch = 4;
    o->max_line = LX_LINE_MAX_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            extract_usage(stdout);
            return 0;
        } else if (strcmp(a, "--no-chunk") == 0) {
            o->xp.no_chunk = 1;
        } else if (strcmp(a, "--dump-prompt") == 0) {
            o->dump = 1;
        } else if (!v) {
            fprintf(stderr, "lexie extract: unknown option or missing value: '%s' (try --help)\n",
                    a);
            return 2;
        } else if (!parse_value(o, a, argv[++i])) {
            return 2;
        }
    }
    if (!parse_task(o)) return 2;
    if (o->re_method && strcmp(o->re_method, "generate") != 0 && strcmp(o->re_method, "qa4re"))
        return fprintf(stderr, "lexie extract: --re-method must be qa4re or generate\n"), 2;
    o->xp.re_generate = o->re_method && strcmp(o->re_method, "generate") == 0;
    if (o->types && o->schema)
        return fprintf(stderr, "lexie extract: give --types or --schema, not both\n"), 2;
    if (o->tmpl && o->tmpl_file)
        return fprintf(stderr, "lexie extract: give --chat-template or --chat-template-file, not "
                               "both\n"),
               2;
    if (!o->types && !o->schema && o->xp.task != LEXIE_TASK_OPENIE)
        return fprintf(stderr, "lexie extract: --task %s needs --types or --schema\n", o->task), 2;
    return -1;
}

/* The schema of --types (comma-separated) or --schema. */
static lexie_ie_schema *load_schema(const x_opts *o, lexie_error *err) {
    if (o->schema) {
        char *path = cli_find_schema(o->schema, err);
        lexie_ie_schema *s = path ? lexie_ie_schema_load(path, err) : NULL;
        free(path);
        return s;
    }
    if (!o->types) return NULL;
    char *copy = strdup(o->types);
    const char *v[256];
    int n = 0;
    for (char *tok = copy ? strtok(copy, ",") : NULL; tok && n < 256; tok = strtok(NULL, ","))
        v[n++] = tok;
    lexie_ie_schema *s = copy ? lexie_ie_schema_from_types(v, n, err) : NULL;
    if (!copy) snprintf(err->message, sizeof err->message, "out of memory");
    free(copy);
    return s;
}

/* One input line waiting for its batch. */
typedef struct {
    char *id, *text;
    lexie_error err; /* code != OK: an error line */
} doc;

static unsigned task_parts(const lexie_extract_params *p) {
    switch (p->task) {
    case LEXIE_TASK_NER: return LX_PART_ENTITIES;
    case LEXIE_TASK_RE: return LX_PART_ENTITIES | LX_PART_RELATIONS;
    case LEXIE_TASK_EVENTS: return LX_PART_EVENTS;
    case LEXIE_TASK_OPENIE: return LX_PART_TRIPLES;
    }
    return 0;
}

/* Extracts from the batch and writes its lines in order.  Returns the
** number of error lines, or -1 on a failure of the whole batch. */
static int flush(lexie_extractor *x, const x_opts *o, doc *q, int n) {
    const char *texts[MAX_BATCH];
    lexie_extraction out[MAX_BATCH];
    lexie_error de[MAX_BATCH], err;
    int map[MAX_BATCH], m = 0, bad = 0;
    memset(out, 0, sizeof out);
    for (int i = 0; i < n; i++)
        if (q[i].err.code == LEXIE_OK) {
            map[m] = i;
            texts[m++] = q[i].text;
        }
    if (o->dump) {
        for (int k = 0; k < m; k++) {
            char *pr = NULL;
            if (lexie_extractor_prompt(x, texts[k], &pr, &q[map[k]].err) == LEXIE_OK)
                printf("%s\n", pr);
            lexie_free(pr);
        }
        for (int i = 0; i < n; i++)
            if (q[i].err.code != LEXIE_OK && ++bad)
                fprintf(stderr, "lexie extract: %s\n", q[i].err.message);
        return bad;
    }
    if (m && lexie_extract(x, texts, m, out, de, &err) != LEXIE_OK) {
        fprintf(stderr, "lexie extract: %s\n", err.message);
        for (int k = 0; k < m; k++) lexie_extraction_clear(&out[k]);
        return -1;
    }
    for (int k = 0; k < m; k++)
        if (de[k].code != LEXIE_OK) q[map[k]].err = de[k];
    lx_jbuf b = {0};
    for (int i = 0, k = 0; i < n; i++) {
        lx_jbuf_reset(&b);
        int mine = k < m && map[k] == i;
        if (q[i].err.code != LEXIE_OK) {
            lx_error_line(&b, q[i].id, q[i].err.code, q[i].err.message);
            bad++;
        } else {
            lx_extraction_json(&b, q[i].id, &out[k], task_parts(&o->xp));
            lx_jbuf_putc(&b, '\n');
        }
        if (mine) lexie_extraction_clear(&out[k++]);
        fwrite(b.data, 1, b.len, stdout);
    }
    lx_jbuf_free(&b);
    return bad;
}

/* The document of one input line; 0 for a blank line (skipped). */
static int take_line(doc *d, const lx_line_reader *rd, int kind, int lineno, size_t max) {
    memset(d, 0, sizeof *d);
    if (kind == LX_LINE_LONG) {
        d->err.code = LEXIE_E_RANGE;
        snprintf(d->err.message, sizeof d->err.message,
                 "line %d: longer than %zu bytes (--max-line)", lineno, max);
        return 1;
    }
    size_t len = rd->line.len, sp = 0;
    while (sp < len && strchr(" \t\r", rd->line.data[sp])) sp++;
    if (sp == len) return 0;
    lx_doc_line_parse(rd->line.data, len, lineno, &d->id, &d->text, &d->err);
    return 1;
}

static void progress(int n_docs, double t0) {
    double dt = lx_time_now() - t0;
    fprintf(stderr, "\rlexie extract: %d documents, %.2f documents/s ", n_docs,
            dt > 0 ? n_docs / dt : 0.0);
}

/* Returns the number of error lines, or -1 when input or output failed. */
static int run_lines(lexie_extractor *x, const x_opts *o) {
    doc q[MAX_BATCH];
    int nq = 0, n_bad = 0, lineno = 0, failed = 0, n_docs = 0, tty = isatty(2);
    double t0 = lx_time_now();
    lx_line_reader rd = {.f = stdin, .max = o->max_line};
    for (;;) {
        int kind = lx_line_read(&rd);
        if (kind == LX_LINE_ERROR) {
            fprintf(stderr, "lexie extract: cannot read standard input: %s\n", strerror(errno));
            failed = 1;
        }
        if (kind == LX_LINE_END || kind == LX_LINE_ERROR || nq == o->batch) {
            /* What was read before a read error is still answered. */
            int bad = flush(x, o, q, nq);
            for (int i = 0; i < nq; i++) {
                free(q[i].id);
                free(q[i].text);
            }
            n_docs += nq;
            nq = 0;
            if (bad < 0 || cli_flush_out("extract") != 0) failed = 1;
            n_bad += bad > 0 ? bad : 0;
            if (tty && !o->dump) progress(n_docs, t0);
        }
        if (kind == LX_LINE_END || failed) break;
        if (take_line(&q[nq], &rd, kind, ++lineno, o->max_line)) nq++;
    }
    if (tty && !o->dump) fputc('\n', stderr);
    for (int i = 0; i < nq; i++) {
        free(q[i].id);
        free(q[i].text);
    }
    lx_line_reader_free(&rd);
    return failed ? -1 : n_bad;
}

int cmd_extract(int argc, char **argv) {
    x_opts o;
    int rc = parse_extract(argc, argv, &o);
    if (rc >= 0) return rc;
    lexie_error err;
    lexie_ie_schema *s = NULL;
    lexie_model *m = NULL;
    lexie_ctx *c = NULL;
    lexie_extractor *x = NULL;
    char *mpath = NULL, *jschema = NULL, *tmpl = NULL;
    rc = 1;
    if ((o.types || o.schema) && !(s = load_schema(&o, &err))) {
        fprintf(stderr, "lexie extract: %s\n", err.message);
        goto done;
    }
    if (o.json_schema_file) {
        size_t n;
        if (!(jschema = lx_read_file(o.json_schema_file, (size_t)16 << 20, &n, &err))) {
            fprintf(stderr, "lexie extract: %s\n", err.message);
            goto done;
        }
        o.xp.json_schema = jschema;
    }
    if (!cli_chat_template("extract", o.tmpl, o.tmpl_file, &tmpl) ||
        !cli_open_model("extract", o.model, tmpl, o.n_ctx, o.batch, o.threads, &o.lora, &mpath, &m,
                        &c))
        goto done;
    if (!(x = lexie_extractor_new(c, s, &o.xp, &err)) ||
        (o.demos && lexie_extractor_load_demos(x, o.demos, &err) != LEXIE_OK)) {
        fprintf(stderr, "lexie extract: %s\n", err.message);
        goto done;
    }
    cli_provenance("extract", mpath, s ? lexie_ie_schema_sha256(s) : NULL);
    int n_bad = run_lines(x, &o);
    if (n_bad > 0) fprintf(stderr, "lexie extract: %d line(s) had errors\n", n_bad);
    rc = n_bad ? 1 : 0;
done:
    lexie_extractor_free(x);
    lexie_ctx_free(c);
    cli_lora_free(&o.lora);
    lexie_model_free(m);
    lexie_ie_schema_free(s);
    free(mpath);
    free(jschema);
    free(tmpl);
    return rc;
}
