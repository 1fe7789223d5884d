/*
** cmd_view.c -- `lexie view`: the output of `lexie extract` as one
** self-contained HTML page (lexie_view_html does the work).  The page goes
** to stdout, or with -o to a file replaced atomically.  A summary goes to
** stderr; malformed result lines and ids missing from --docs make the
** exit status 1 once the page is written, like a bad input line elsewhere.
*/
#include "cli.h"

#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void view_usage(FILE *f) {
    fputs("usage: lexie view RESULTS.jsonl [--docs DOCS.jsonl] [-o VIEW.html] [--title T]\n"
          "  RESULTS.jsonl      lexie extract's output lines ('-': standard input)\n"
          "  --docs DOCS.jsonl  the input documents ({\"id\", \"text\"} lines), matched by id;\n"
          "                     without it, each text is rebuilt from its spans\n"
          "  -o VIEW.html       write the page to a file (atomically) instead of stdout\n"
          "  --title T          the page's title (default: the results file's name)\n",
          f);
}

/* The whole of a file, or of stdin for "-"; prints the error. */
static char *slurp(const char *path, size_t *n) {
    lexie_error err;
    char *s = lx_read_file(strcmp(path, "-") == 0 ? "/dev/stdin" : path, 0, n, &err);
    if (!s) fprintf(stderr, "lexie view: %s\n", err.message);
    return s;
}

static int write_page(const char *out, const char *page, size_t n) {
    if (out) {
        lexie_error err;
        if (lx_write_file_atomic(out, page, n, &err) != LEXIE_OK) {
            fprintf(stderr, "lexie view: %s: %s\n", out, err.message);
            return 0;
        }
        return 1;
    }
    return fwrite(page, 1, n, stdout) == n && cli_flush_out("view") == 0;
}

static int summarize(const lexie_view_stats *s) {
    fprintf(stderr,
            "lexie view: %d documents, %d spans (exact %d, normalized %d, fuzzy %d, none %d), "
            "%d flagged, %d error lines\n",
            s->n_docs, s->n_spans, s->n_match[0], s->n_match[1], s->n_match[2], s->n_match[3],
            s->n_flagged, s->n_error_lines);
    if (s->n_bad_lines)
        fprintf(stderr, "lexie view: %d malformed result lines (listed on the page)\n",
                s->n_bad_lines);
    if (s->n_bad_doc_lines)
        fprintf(stderr, "lexie view: %d bad lines in --docs (listed on the page)\n",
                s->n_bad_doc_lines);
    if (s->n_missing_docs)
        fprintf(stderr, "lexie view: %d result ids are not in --docs (texts rebuilt from spans)\n",
                s->n_missing_docs);
    return s->n_bad_lines || s->n_bad_doc_lines || s->n_missing_docs;
}

int cmd_view(int argc, char **argv) {
    const char *results = NULL, *docs = NULL, *out = NULL, *title = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            view_usage(stdout);
            return 0;
        } else if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (results) {
                fprintf(stderr, "lexie view: one results file only ('%s'; try --help)\n", a);
                return 2;
            }
            results = a;
            continue;
        } else if (!v || (strcmp(a, "--docs") && strcmp(a, "-o") && strcmp(a, "--title"))) {
            fprintf(stderr, "lexie view: unknown option or missing value: '%s' (try --help)\n", a);
            return 2;
        }
        if (strcmp(a, "--docs") == 0)
            docs = v;
        else if (strcmp(a, "-o") == 0)
            out = v;
        else
            title = v;
        i++;
    }
    if (!results) {
        fprintf(stderr, "lexie view: a results file is required (try --help)\n");
        return 2;
    }
    size_t n_res = 0, n_docs = 0, n_page = 0;
    char *res = slurp(results, &n_res), *doc = res && docs ? slurp(docs, &n_docs) : NULL,
         *page = NULL;
    int rc = 1;
    if (res && (!docs || doc)) {
        lexie_view_stats st;
        lexie_error err;
        if (lexie_view_html(res, n_res, doc, n_docs, title ? title : results, &page, &n_page, &st,
                            &err) != LEXIE_OK)
            fprintf(stderr, "lexie view: %s\n", err.message);
        else if (write_page(out, page, n_page))
            rc = summarize(&st);
    }
    lexie_free(page);
    free(res);
    free(doc);
    return rc;
}
