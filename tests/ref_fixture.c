/*
** ref_fixture.c -- the fixture code shared by the reference-model suites:
** the tokens-file parser, the reference-logits reader, opening a fixture
** model with its references and a context, and the decode/compare/report
** helpers their tests are built from.  See ref_fixture.h for the files.
**
** One implementation so a change of fixture format or of how a row is
** compared happens once for every architecture.
*/
#include "ref_fixture.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== Files ==== */

void rf_path(char *buf, size_t n, const char *file) {
    snprintf(buf, n, "%s/%s", lx_test_fixtures(), file);
}

int rf_tokens_load(const rf_set *set, rf_tokens *rt) {
    char path[1024], word[64], name[64];
    rf_path(path, sizeof path, set->tokens_file);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    memset(rt, 0, sizeof *rt);
    int ok = set->n_seq > 0 && set->n_seq <= RF_MAX_SEQ, n_seen = 0;
    while (ok && fscanf(f, "%63s", word) == 1) {
        if (word[0] == '#') {
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {
            }
        } else if (!strcmp(word, "n_vocab")) {
            ok = fscanf(f, "%d", &rt->n_vocab) == 1;
        } else if (set->has_window && !strcmp(word, "window")) {
            ok = fscanf(f, "%d", &rt->window) == 1;
        } else if (!strcmp(word, "prefix")) {
            ok = fscanf(f, "%d", &rt->prefix) == 1;
        } else if (!strcmp(word, "seq")) {
            int n = 0, s = -1;
            ok = fscanf(f, "%63s %d", name, &n) == 2 && n > 0 && n <= RF_MAX_TOK;
            for (int i = 0; ok && i < set->n_seq; i++)
                if (!strcmp(name, set->seq_names[i])) s = i;
            ok = ok && s >= 0;
            for (int i = 0; ok && i < n; i++) ok = fscanf(f, "%d", &rt->ids[s][i]) == 1;
            if (ok) rt->n[s] = n, n_seen++;
        } else {
            ok = 0;
        }
    }
    fclose(f);
    ok = ok && n_seen == set->n_seq && rt->n_vocab > 0 && rt->prefix > 0;
    /* every branch goes on past the shared prefix */
    for (int s = 1; ok && s < set->n_seq; s++) ok = rt->prefix < rt->n[s];
    if (set->has_window) ok = ok && rt->window > 0 && rt->window < rt->n[0];
    return ok;
}

float *rf_logits_load(const char *file, int n_tok, int n_vocab) {
    char path[1024];
    rf_path(path, sizeof path, file);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = (size_t)n_tok * (size_t)n_vocab;
    float *x = malloc(n * sizeof *x + 1);
    /* asking for one float more tells a longer file from a right-sized one */
    size_t got = x ? fread(x, sizeof *x, n + 1, f) : 0;
    fclose(f);
    if (got != n) {
        free(x);
        return NULL;
    }
    return x;
}

/* ==== Fixture ==== */

lexie_ctx_params rf_ctx_params(const rf_set *set, int n_seq, int n_threads) {
    lexie_ctx_params p = lexie_ctx_default_params();
    p.n_ctx = set->n_ctx;
    p.n_batch = set->n_batch;
    p.n_seq_max = n_seq;
    p.n_threads = n_threads;
    return p;
}

void rf_close(rf_fixture *f) {
    for (int s = 0; s < RF_MAX_SEQ; s++) free(f->ref[s]);
    lexie_ctx_free(f->c);
    lexie_model_free(f->m);
    memset(f, 0, sizeof *f);
}

int rf_open(lx_t *t, rf_fixture *f, const rf_set *set, const char *stem, const char *suffix,
            const lexie_ctx_params *cp) {
    char file[256], path[1024];
    lexie_error e;
    memset(f, 0, sizeof *f);
    f->set = set;
    f->stem = stem;
    if (!rf_tokens_load(set, &f->rt)) {
        lx_test_skip(t, "no %s in %s: run make test", set->tokens_file, lx_test_fixtures());
        return 0;
    }
    for (int s = 0; s < set->n_seq; s++) {
        snprintf(file, sizeof file, "%s.%s.%s", stem, set->seq_names[s], suffix);
        if (!(f->ref[s] = rf_logits_load(file, f->rt.n[s], f->rt.n_vocab))) {
            rf_close(f);
            lx_test_skip(t, "reference logits %s missing in %s", file, lx_test_fixtures());
            return 0;
        }
    }
    snprintf(file, sizeof file, "%s.gguf", stem);
    rf_path(path, sizeof path, file);
    if (!(f->m = lexie_model_load(path, NULL, &e))) {
        lx_test_fail(t, __FILE__, __LINE__, "load %s: %s", path, e.message);
        rf_close(f);
        return 0;
    }
    f->n_vocab = lexie_model_n_vocab(f->m);
    if (f->n_vocab != f->rt.n_vocab) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: n_vocab %d, fixture %d", stem, f->n_vocab,
                     f->rt.n_vocab);
        rf_close(f);
        return 0;
    }
    if (cp && !(f->c = lexie_ctx_new(f->m, cp, &e))) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: ctx_new: %s", stem, e.message);
        rf_close(f);
        return 0;
    }
    return 1;
}

/* ==== Helpers ==== */

lexie_status rf_decode(lexie_ctx *c, const lexie_token *tok, int n, int pos0, int seq, int all,
                       lexie_error *e) {
    int32_t pos[RF_MAX_TOK * 2], sid[RF_MAX_TOK * 2];
    int8_t want[RF_MAX_TOK * 2];
    if (n > RF_MAX_TOK * 2) return LEXIE_E_INTERNAL;
    for (int i = 0; i < n; i++) {
        pos[i] = pos0 + i;
        sid[i] = seq;
        want[i] = (int8_t)(all || i == n - 1);
    }
    lexie_batch b = {n, tok, pos0 < 0 ? NULL : pos, sid, want};
    return lexie_ctx_decode(c, &b, e);
}

double rf_max_abs_diff(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN wins */
    }
    return m;
}

double rf_check_row(lx_t *t, const rf_fixture *f, const float *got, int seq, int row, double tol,
                    const char *what) {
    const char *name = f->set->seq_names[seq];
    if (!got) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: no logits for %s[%d]", what, name, row);
        return INFINITY;
    }
    const float *ref = f->ref[seq] + (size_t)row * (size_t)f->n_vocab;
    double d = rf_max_abs_diff(got, ref, f->n_vocab);
    if (!(d <= tol))
        lx_test_fail(t, __FILE__, __LINE__, "%s: %s[%d] max |logit - ref| = %.3g > %g", what, name,
                     row, d, tol);
    return d;
}

double rf_check_ref_row(lx_t *t, const rf_fixture *f, const float *got, const float *ref, int row,
                        double tol, const char *what) {
    if (!got) {
        lx_test_fail(t, __FILE__, __LINE__, "%s %s: no logits for row %d", f->stem, what, row);
        return INFINITY;
    }
    double d = rf_max_abs_diff(got, ref + (size_t)row * (size_t)f->n_vocab, f->n_vocab);
    if (!(d <= tol))
        lx_test_fail(t, __FILE__, __LINE__, "%s %s: row %d max |logit - ref| = %.3g > %g", f->stem,
                     what, row, d, tol);
    return d;
}

void rf_report(const char *test, const char *stem, double d) {
    if (getenv("LX_TEST_VERBOSE")) fprintf(stderr, "     %s %s: max |diff| %.3g\n", test, stem, d);
}

float *rf_prefill_all(lx_t *t, rf_fixture *f, int s) {
    lexie_error e;
    size_t nv = (size_t)f->n_vocab;
    int n = f->rt.n[s];
    float *out = malloc((size_t)n * nv * sizeof *out);
    if (!out) {
        lx_test_fail(t, __FILE__, __LINE__, "out of memory");
        return NULL;
    }
    lexie_kv_clear(f->c);
    if (rf_decode(f->c, f->rt.ids[s], n, 0, 0, 1, &e) != LEXIE_OK) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: decode: %s", f->stem, e.message);
        free(out);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const float *l = lexie_ctx_logits(f->c, i);
        if (l)
            memcpy(out + i * nv, l, nv * sizeof *out);
        else
            memset(out + i * nv, 0xff, nv * sizeof *out); /* NaN: fails every comparison */
    }
    return out;
}

int rf_expect_load_error(lx_t *t, const char *file, int code1, int code2, const char *needle) {
    char path[1024];
    lexie_error e;
    rf_path(path, sizeof path, file);
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    fclose(fp);
    memset(&e, 0, sizeof e);
    lexie_model *m = lexie_model_load(path, NULL, &e);
    LX_CHECK_MSG(t, m == NULL, "%s loaded", file);
    lexie_model_free(m);
    int code = (int)e.code;
    LX_CHECK_MSG(t, code == code1 || code == code2, "%s: code %d (%s): %s", file, code,
                 lexie_status_string(e.code), e.message);
    LX_CHECK_MSG(t, strstr(e.message, needle) != NULL, "%s: message does not name %s: %s", file,
                 needle, e.message);
    return 1;
}
