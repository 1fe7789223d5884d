/*
** bench_extract.c -- documents per second of `lexie extract`, batched
** against one at a time, in one run on the same documents.
**
**   build/bench/bench_extract [-m MODEL] [-n DOCS] [-b BATCH] [-t THREADS] [--task ner]
**
** The documents are the first DOCS sentences of CoNLL-2003's test split
** ($LEXIE_DATA or ../shared/data), tokens joined by spaces; NER asks for
** person, organization, location and miscellaneous.  The batched run
** decodes BATCH documents together in one context (the instruction prefix
** computed once, one token per document per decode); the single run uses
** a context with one sequence.  Both must give byte-identical output lines
** (batch invariance), which the bench checks and reports.
*/
#include "base/base.h"
#include "base/json.h"
#include "ie/ie.h"
#include "lexie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first n sentences of CoNLL-2003 test (token in column 1). */
static int read_conll(const char *path, char **docs, int n) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    lx_buf cur = {0};
    int k = 0;
    while (k < n && fgets(line, sizeof line, f)) {
        char *tab = strpbrk(line, " \t\n");
        int blank = line[0] == '\n' || line[0] == '\r';
        if (!blank && strncmp(line, "-DOCSTART-", 10) == 0) continue;
        if (blank) {
            if (cur.len) {
                cur.data[cur.len] = 0;
                docs[k++] = strdup(cur.data);
                cur.len = 0;
            }
            continue;
        }
        if (tab) *tab = 0;
        if (cur.len) lx_buf_append(&cur, " ", 1, NULL);
        lx_buf_append(&cur, line, strlen(line), NULL);
    }
    free(cur.data);
    fclose(f);
    return k;
}

/* Extracts all documents in batches of b on ctx c; fills lines[] and
** returns the seconds taken, or -1. */
static double run(lexie_ctx *c, lexie_ie_schema *s, char **docs, int n, int b, char **lines) {
    lexie_error e;
    lexie_extract_params p = lexie_extract_default_params();
    p.task = LEXIE_TASK_NER;
    p.max_tokens = 256;
    lexie_extractor *x = lexie_extractor_new(c, s, &p, &e);
    if (!x) {
        fprintf(stderr, "bench_extract: %s\n", e.message);
        return -1;
    }
    double t0 = lx_time_now();
    for (int i = 0; i < n; i += b) {
        int m = LX_MIN(b, n - i);
        lexie_extraction out[64];
        lexie_error de[64];
        memset(out, 0, sizeof out);
        if (lexie_extract(x, (const char *const *)docs + i, m, out, de, &e) != LEXIE_OK) {
            fprintf(stderr, "bench_extract: %s\n", e.message);
            lexie_extractor_free(x);
            return -1;
        }
        for (int k = 0; k < m; k++) {
            lx_jbuf jb = {0};
            lx_extraction_json(&jb, NULL, &out[k], LX_PART_ENTITIES);
            lines[i + k] = jb.data;
            lexie_extraction_clear(&out[k]);
        }
    }
    double dt = lx_time_now() - t0;
    lexie_extractor_free(x);
    return dt;
}

int main(int argc, char **argv) {
    const char *model = NULL;
    int n = 32, batch = 8, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-m") == 0)
            model = argv[i + 1];
        else if (strcmp(argv[i], "-n") == 0)
            n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-b") == 0)
            batch = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-t") == 0)
            threads = atoi(argv[i + 1]);
    }
    if (n < 1 || n > 4096 || batch < 1 || batch > 63) {
        fprintf(stderr, "bench_extract: -n 1..4096, -b 1..63\n");
        return 2;
    }
    lexie_error e;
    char *mpath = NULL;
    if (model && strchr(model, '/'))
        mpath = strdup(model);
    else if (lexie_model_cached_path(model, &mpath, &e) != LEXIE_OK) {
        fprintf(stderr, "bench_extract: %s\n", e.message);
        return 1;
    }
    const char *data = getenv("LEXIE_DATA") ? getenv("LEXIE_DATA") : "../shared/data";
    char path[1024];
    snprintf(path, sizeof path, "%s/conll2003/test.txt", data);
    char **docs = calloc((size_t)n, sizeof *docs);
    char **l1 = calloc((size_t)n, sizeof *l1), **lb = calloc((size_t)n, sizeof *lb);
    if ((n = read_conll(path, docs, n)) <= 0) {
        fprintf(stderr, "bench_extract: cannot read %s\n", path);
        return 1;
    }
    const char *types[] = {"person", "organization", "location", "miscellaneous"};
    lexie_ie_schema *s = lexie_ie_schema_from_types(types, 4, &e);
    lexie_model *m = lexie_model_load(mpath, NULL, &e);
    if (!m || !s) {
        fprintf(stderr, "bench_extract: %s\n", e.message);
        return 1;
    }
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_threads = threads;
    cp.n_ctx = 4096;
    cp.n_seq_max = 1;
    lexie_ctx *c1 = lexie_ctx_new(m, &cp, &e);
    cp.n_seq_max = batch + 1;
    lexie_ctx *cb = lexie_ctx_new(m, &cp, &e);
    if (!c1 || !cb) {
        fprintf(stderr, "bench_extract: %s\n", e.message);
        return 1;
    }
    double tb = run(cb, s, docs, n, batch, lb);
    double t1 = run(c1, s, docs, n, 1, l1);
    if (tb < 0 || t1 < 0) return 1;
    int same = 0;
    for (int i = 0; i < n; i++) same += lb[i] && l1[i] && strcmp(lb[i], l1[i]) == 0;
    printf("{\"model\": \"%s\", \"docs\": %d, \"batch\": %d, \"threads\": %d, "
           "\"docs_per_s_batched\": %.3f, \"docs_per_s_single\": %.3f, \"speedup\": %.2f, "
           "\"identical_outputs\": %d}\n",
           lexie_model_name(m), n, batch, threads, n / tb, n / t1, t1 / tb, same);
    for (int i = 0; i < n; i++) {
        free(docs[i]);
        free(l1[i]);
        free(lb[i]);
    }
    free(docs);
    free(l1);
    free(lb);
    lexie_ctx_free(c1);
    lexie_ctx_free(cb);
    lexie_model_free(m);
    lexie_ie_schema_free(s);
    free(mpath);
    return same == n ? 0 : 1;
}
