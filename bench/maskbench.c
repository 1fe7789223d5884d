/*
** maskbench.c -- MaskBench (guidance-ai/jsonschemabench) runner for lexie's
** constrained decoder, with the upstream method: compile each file's
** schema, then for every test instance serialise it as Python's
** json.dumps(data, ensure_ascii=False) does (", " and ": "), tokenize it
** without special tokens, and feed it token by token: compute the full
** mask (timed), reject if the token is outside it, commit it.  A valid
** instance must end in an accepting state; an invalid one must be rejected.
**
**   build/bench/maskbench -m MODEL [-t SECONDS] [-f] [FILE|DIR]...
**
** One matcher serves a file's instances, reset between them, as one
** serves the documents of an extraction run: its mask cache and lazy DFA
** carry over.  -f (fresh) makes a new matcher for every instance instead
** (not timed), so every instance starts cold.
**
** stdout: one JSON line per file {"id", "compile_error" (only when
** refused), "compile_us", "tests", "passed", "false_reject",
** "false_accept", "tokens", "mask_us": [...]} ("timeout": true when a file
** ran past the per-file limit); stderr: a summary.  One thread.
*/
#include "base/json.h"
#include "lexie.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

typedef struct stats {
    double *mask, *compile;
    size_t n_mask, cap_mask, n_compile, cap_compile;
    int files, passed, compile_err, timeouts, false_acc, false_rej, bad_files;
    long long tokens;
} stats;

static void push(double **a, size_t *n, size_t *cap, double v) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        double *b = realloc(*a, *cap * sizeof *b);
        if (!b) {
            fprintf(stderr, "maskbench: out of memory\n");
            exit(1);
        }
        *a = b;
    }
    (*a)[(*n)++] = v;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *a, size_t n, double p) {
    if (!n) return 0;
    qsort(a, n, sizeof *a, cmp_d);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return a[i < n ? i : n - 1];
}

/* Python's json.dumps(ensure_ascii=False) of a value parsed by lx_json
** (numbers keep their source text, which Python wrote). */
static void dumps(lx_jbuf *b, const lx_json *j) {
    switch (j->type) {
    case LX_JSON_NULL: lx_jbuf_puts(b, "null"); break;
    case LX_JSON_BOOL: lx_jbuf_puts(b, j->b ? "true" : "false"); break;
    case LX_JSON_NUMBER: lx_jbuf_add(b, j->str, j->len); break;
    case LX_JSON_STRING:
        lx_jbuf_putc(b, '"');
        for (size_t i = 0; i < j->len; i++) {
            unsigned char c = (unsigned char)j->str[i];
            if (c == '"')
                lx_jbuf_puts(b, "\\\"");
            else if (c == '\\')
                lx_jbuf_puts(b, "\\\\");
            else if (c == '\n')
                lx_jbuf_puts(b, "\\n");
            else if (c == '\r')
                lx_jbuf_puts(b, "\\r");
            else if (c == '\t')
                lx_jbuf_puts(b, "\\t");
            else if (c == '\b')
                lx_jbuf_puts(b, "\\b");
            else if (c == '\f')
                lx_jbuf_puts(b, "\\f");
            else if (c < 0x20)
                lx_jbuf_printf(b, "\\u%04x", c);
            else
                lx_jbuf_putc(b, (char)c);
        }
        lx_jbuf_putc(b, '"');
        break;
    case LX_JSON_ARRAY:
        lx_jbuf_putc(b, '[');
        for (int i = 0; i < j->n; i++) {
            if (i) lx_jbuf_puts(b, ", ");
            dumps(b, j->items[i]);
        }
        lx_jbuf_putc(b, ']');
        break;
    case LX_JSON_OBJECT:
        lx_jbuf_putc(b, '{');
        for (int i = 0; i < j->n; i++) {
            if (i) lx_jbuf_puts(b, ", ");
            lx_json k = {0};
            k.type = LX_JSON_STRING;
            k.str = j->keys[i];
            k.len = j->key_lens[i];
            dumps(b, &k);
            lx_jbuf_puts(b, ": ");
            dumps(b, j->items[i]);
        }
        lx_jbuf_putc(b, '}');
        break;
    }
}

typedef struct run {
    const lexie_model *m;
    const lexie_grammar_vocab *v;
    double limit;
    int fresh; /* -f: a new matcher per instance */
    uint32_t *mask;
    lexie_token *toks;
    int cap_toks;
    stats *st;
} run;

static void one_file(run *R, const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t idlen = strlen(base);
    if (idlen > 5 && !strcmp(base + idlen - 5, ".json")) idlen -= 5;
    lx_jbuf out = {0}, text = {0};
    lx_jbuf_puts(&out, "{\"id\": ");
    lx_jbuf_str(&out, base, idlen);
    lexie_error err;
    lx_json_limits lim = {0, 0, 1};
    lx_json_doc *doc = lx_json_parse_file(path, &lim, &err);
    const lx_json *root = doc ? lx_json_root(doc) : NULL;
    const lx_json *schema = root ? lx_json_get(root, "schema") : NULL;
    const lx_json *tests = root ? lx_json_get(root, "tests") : NULL;
    R->st->files++;
    if (!schema || !tests || tests->type != LX_JSON_ARRAY) {
        R->st->bad_files++;
        lx_jbuf_puts(&out, ", \"compile_error\": ");
        lx_jbuf_cstr(&out, doc ? "file has no schema/tests" : err.message);
        lx_jbuf_puts(&out, ", \"compile_us\": 0, \"tests\": 0, \"passed\": false, "
                           "\"false_reject\": 0, \"false_accept\": 0, \"tokens\": 0, "
                           "\"mask_us\": []}");
        goto done;
    }
    lx_jbuf_value(&text, schema);
    double t0 = now_us();
    lexie_grammar *g = lexie_grammar_from_json_schema(text.data, text.len, NULL, &err);
    double cus = now_us() - t0;
    push(&R->st->compile, &R->st->n_compile, &R->st->cap_compile, cus);
    if (!g) {
        R->st->compile_err++;
        lx_jbuf_puts(&out, ", \"compile_error\": ");
        lx_jbuf_cstr(&out, err.message);
        lx_jbuf_printf(&out,
                       ", \"compile_us\": %.1f, \"tests\": %d, \"passed\": false, "
                       "\"false_reject\": 0, \"false_accept\": 0, \"tokens\": 0, "
                       "\"mask_us\": []}",
                       cus, tests->n);
        goto done;
    }
    lexie_matcher *mt = lexie_matcher_new(g, R->v, &err);
    if (!mt) {
        fprintf(stderr, "maskbench: %s\n", err.message);
        exit(1);
    }
    int fr = 0, fa = 0, timeout = 0;
    long long ntok = 0;
    lx_jbuf times = {0};
    double start = now_us();
    for (int k = 0; k < tests->n && !timeout; k++) {
        const lx_json *tc = tests->items[k];
        const lx_json *data = lx_json_get(tc, "data"), *valid = lx_json_get(tc, "valid");
        if (!data || !valid) continue;
        lx_jbuf_reset(&text);
        dumps(&text, data);
        int n = 0;
        lexie_status s =
            lexie_tokenize(R->m, text.data, text.len, 0, 0, R->toks, R->cap_toks, &n, &err);
        if (s == LEXIE_E_RANGE) {
            R->cap_toks = n + 16;
            R->toks = realloc(R->toks, (size_t)R->cap_toks * sizeof *R->toks);
            s = lexie_tokenize(R->m, text.data, text.len, 0, 0, R->toks, R->cap_toks, &n, &err);
        }
        if (s != LEXIE_OK) {
            fprintf(stderr, "maskbench: %.*s test %d: %s\n", (int)idlen, base, k, err.message);
            continue;
        }
        if (R->fresh && k > 0) {
            lexie_matcher_free(mt);
            mt = lexie_matcher_new(g, R->v, &err);
            if (!mt) {
                fprintf(stderr, "maskbench: %s\n", err.message);
                exit(1);
            }
        }
        lexie_matcher_reset(mt);
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            double m0 = now_us();
            lexie_matcher_fill_mask(mt, R->mask, -1);
            double dt = now_us() - m0;
            push(&R->st->mask, &R->st->n_mask, &R->st->cap_mask, dt);
            lx_jbuf_printf(&times, "%s%.1f", times.len ? ", " : "", dt);
            ntok++;
            lexie_token t = R->toks[i];
            int allowed = (R->mask[t >> 5] >> (t & 31)) & 1;
            int acc = lexie_matcher_accept_token(mt, t);
            if (allowed != acc) {
                fprintf(stderr, "maskbench: %.*s test %d token %d: mask says %d, commit says %d\n",
                        (int)idlen, base, k, i, allowed, acc);
                ok = 0;
            }
            ok = ok && acc;
            if (now_us() - start > R->limit * 1e6) {
                timeout = 1;
                break;
            }
        }
        if (timeout) break;
        ok = ok && lexie_matcher_is_accepting(mt);
        if (valid->b && !ok) fr++;
        if (!valid->b && ok) fa++;
    }
    R->st->tokens += ntok;
    R->st->false_acc += fa;
    R->st->false_rej += fr;
    R->st->timeouts += timeout;
    int passed = !timeout && fr == 0 && fa == 0;
    R->st->passed += passed;
    lx_jbuf_printf(&out,
                   ", \"compile_us\": %.1f, \"tests\": %d, \"passed\": %s, \"false_reject\": %d, "
                   "\"false_accept\": %d, \"tokens\": %lld%s, \"mask_us\": [",
                   cus, tests->n, passed ? "true" : "false", fr, fa, ntok,
                   timeout ? ", \"timeout\": true" : "");
    if (times.len) lx_jbuf_add(&out, times.data, times.len);
    lx_jbuf_puts(&out, "]}");
    lx_jbuf_free(&times);
    lexie_matcher_free(mt);
    lexie_grammar_free(g);
done:
    if (!out.oom) printf("%s\n", out.data);
    fflush(stdout);
    lx_jbuf_free(&out);
    lx_jbuf_free(&text);
    lx_json_doc_free(doc);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void one_path(run *R, const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "maskbench: cannot read %s\n", path);
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        one_file(R, path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            names = realloc(names, cap * sizeof *names);
        }
        names[n] = malloc(strlen(path) + l + 2);
        sprintf(names[n++], "%s/%s", path, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        one_file(R, names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv) {
    const char *model = NULL;
    double limit = 60;
    int first = 1, fresh = 0;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "-m") && first + 1 < argc) {
            model = argv[++first];
        } else if (!strcmp(argv[first], "-t") && first + 1 < argc) {
            limit = atof(argv[++first]);
        } else if (!strcmp(argv[first], "-f")) {
            fresh = 1;
        } else {
            fprintf(stderr, "usage: maskbench -m MODEL [-t SECONDS_PER_FILE] [-f] [FILE|DIR]...\n");
            return 2;
        }
    }
    if (!model || first >= argc) {
        fprintf(stderr, "usage: maskbench -m MODEL [-t SECONDS_PER_FILE] [-f] [FILE|DIR]...\n");
        return 2;
    }
    lexie_error err;
    char *path = NULL;
    struct stat sb;
    if (stat(model, &sb) != 0 && lexie_model_cached_path(model, &path, &err) != LEXIE_OK) {
        fprintf(stderr, "maskbench: %s\n", err.message);
        return 1;
    }
    lexie_model *m = lexie_model_load(path ? path : model, NULL, &err);
    lexie_free(path);
    if (!m) {
        fprintf(stderr, "maskbench: %s\n", err.message);
        return 1;
    }
    double t0 = now_us();
    lexie_grammar_vocab *v = lexie_grammar_vocab_new(m, &err);
    if (!v) {
        fprintf(stderr, "maskbench: %s\n", err.message);
        return 1;
    }
    fprintf(stderr, "maskbench: vocabulary of %d tokens prepared in %.0f ms\n",
            lexie_grammar_vocab_n_tokens(v), (now_us() - t0) / 1000);
    stats st = {0};
    run R = {m, v, limit, fresh, NULL, NULL, 0, &st};
    R.mask = malloc(((size_t)lexie_grammar_vocab_n_tokens(v) + 31) / 32 * sizeof *R.mask);
    for (int i = first; i < argc; i++) one_path(&R, argv[i]);
    double cp50 = pct(st.compile, st.n_compile, 50);
    double mp50 = pct(st.mask, st.n_mask, 50), mp99 = pct(st.mask, st.n_mask, 99);
    double mmax = st.n_mask ? st.mask[st.n_mask - 1] : 0;
    fprintf(stderr,
            "maskbench: %d files, %d passing (%.1f%%), %d compile errors, %d timeouts, "
            "%d invalid instances accepted, %d valid instances rejected, %lld tokens\n"
            "maskbench: compile p50 %.0f us; mask p50 %.1f us, p99 %.1f us, max %.0f us\n",
            st.files, st.passed, st.files ? 100.0 * st.passed / st.files : 0.0, st.compile_err,
            st.timeouts, st.false_acc, st.false_rej, st.tokens, cp50, mp50, mp99, mmax);
    free(R.mask);
    free(R.toks);
    free(st.mask);
    free(st.compile);
    lexie_grammar_vocab_free(v);
    lexie_model_free(m);
    return 0;
}
