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
    ok = ok && n_seen == set->n_seq && rt->n_vocab > 0 && (set->n_seq == 1 || rt->prefix > 0);
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

/* ==== Checks shared by the suites ==== */

void rf_check_facts(lx_t *t, const rf_fixture *f, const char *arch, int n_layer, int n_embd,
                    int n_ctx_train) {
    char name[128];
    snprintf(name, sizeof name, "lexie-test-%s", f->stem);
    LX_CHECK_MSG(t, strcmp(lexie_model_arch(f->m), arch) == 0, "%s: arch %s", f->stem,
                 lexie_model_arch(f->m));
    LX_CHECK_MSG(t, strcmp(lexie_model_name(f->m), name) == 0, "%s: name %s", f->stem,
                 lexie_model_name(f->m));
    LX_CHECK_INT(t, lexie_model_n_layer(f->m), n_layer);
    LX_CHECK_INT(t, lexie_model_n_embd(f->m), n_embd);
    LX_CHECK_INT(t, lexie_model_n_ctx_train(f->m), n_ctx_train);
}

double rf_check_prefill(lx_t *t, rf_fixture *f, int s, double tol, const char *what,
                        double *abs_sum) {
    lexie_error e;
    int n = f->rt.n[s];
    lexie_kv_clear(f->c);
    if (rf_decode(f->c, f->rt.ids[s], n, 0, 0, 1, &e) != LEXIE_OK) {
        lx_test_fail(t, __FILE__, __LINE__, "%s %s: decode: %s", f->stem, what, e.message);
        return INFINITY;
    }
    double worst = 0;
    for (int i = 0; i < n; i++) {
        const float *got = lexie_ctx_logits(f->c, i);
        double d = rf_check_row(t, f, got, s, i, tol, what);
        worst = d > worst ? d : worst;
        const float *ref = f->ref[s] + (size_t)i * (size_t)f->n_vocab;
        for (int j = 0; abs_sum && got && j < f->n_vocab; j++)
            *abs_sum += fabs((double)got[j] - (double)ref[j]);
    }
    LX_CHECK(t, lexie_ctx_logits(f->c, -1) == lexie_ctx_logits(f->c, n - 1));
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f->c, 0), n - 1);
    return worst;
}

void rf_check_incremental(lx_t *t, rf_fixture *f, double tol, double tol_same, const int step[3]) {
    lexie_error e;
    const lexie_token *ids = f->rt.ids[0];
    int n = f->rt.n[0];
    size_t nv = (size_t)f->n_vocab;
    float *pre = rf_prefill_all(t, f, 0);
    if (!pre) return;

    /* one token per decode, positions implied (pos == NULL) */
    lexie_kv_clear(f->c);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f->c, 0), -1);
    double worst = 0, worst_ref = 0;
    for (int i = 0; i < n; i++) {
        if (rf_decode(f->c, ids + i, 1, -1, 0, 0, &e) != LEXIE_OK) {
            lx_test_fail(t, __FILE__, __LINE__, "%s token %d: decode: %s", f->stem, i, e.message);
            free(pre);
            return;
        }
        const float *got = lexie_ctx_logits(f->c, 0);
        double r = rf_check_row(t, f, got, 0, i, tol, f->stem);
        double d = got ? rf_max_abs_diff(got, pre + i * nv, f->n_vocab) : INFINITY;
        LX_CHECK_MSG(t, d <= tol_same, "%s token %d vs prefill: %.3g", f->stem, i, d);
        worst = d > worst ? d : worst;
        worst_ref = r > worst_ref ? r : worst_ref;
    }
    rf_report("token_by_token vs prefill", f->stem, worst);
    rf_report("token_by_token vs ref", f->stem, worst_ref);

    /* uneven chunks with explicit positions */
    lexie_kv_clear(f->c);
    for (int i = 0, st = step[0]; i < n; i += st, st += step[1] + st % step[2]) {
        int m = i + st <= n ? st : n - i;
        if (rf_decode(f->c, ids + i, m, i, 0, 1, &e) != LEXIE_OK) {
            lx_test_fail(t, __FILE__, __LINE__, "%s chunk at %d: decode: %s", f->stem, i,
                         e.message);
            break;
        }
        for (int j = 0; j < m; j++) {
            const float *got = lexie_ctx_logits(f->c, j);
            double d = got ? rf_max_abs_diff(got, pre + (i + j) * nv, f->n_vocab) : INFINITY;
            LX_CHECK_MSG(t, d <= tol_same, "%s chunk pos %d vs prefill: %.3g", f->stem, i + j, d);
        }
    }
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f->c, 0), n - 1);
    free(pre);
}

/* Decodes the tail of sequence s from the prefix on, into cache sequence
** into, and checks its rows against s's reference. */
static int decode_tail(lx_t *t, rf_fixture *f, int s, int into, double tol, const char *what) {
    lexie_error e;
    int p = f->rt.prefix, n = f->rt.n[s];
    if (rf_decode(f->c, f->rt.ids[s] + p, n - p, p, into, 1, &e) != LEXIE_OK) {
        lx_test_fail(t, __FILE__, __LINE__, "%s %s: decode: %s", f->stem, what, e.message);
        return 0;
    }
    for (int i = p; i < n; i++) rf_check_row(t, f, lexie_ctx_logits(f->c, i - p), s, i, tol, what);
    return 1;
}

void rf_check_prefix_sharing(lx_t *t, rf_fixture *f, const int order[3], double tol) {
    lexie_error e;
    int p = f->rt.prefix, nm = f->rt.n[0], n2 = f->rt.n[2];
    if (f->set->n_seq != 3) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: prefix sharing wants 3 sequences", f->stem);
        return;
    }
    if (rf_decode(f->c, f->rt.ids[0], p, 0, 0, 1, &e) != LEXIE_OK) {
        lx_test_fail(t, __FILE__, __LINE__, "%s prefix: decode: %s", f->stem, e.message);
        return;
    }
    for (int i = 0; i < p; i++) rf_check_row(t, f, lexie_ctx_logits(f->c, i), 0, i, tol, "prefix");
    LX_CHECK_INT(t, lexie_kv_seq_cp(f->c, 0, 1, 0, -1), LEXIE_OK);
    LX_CHECK_INT(t, lexie_kv_seq_cp(f->c, 0, 2, 0, -1), LEXIE_OK);
    for (int s = 0; s < 3; s++) LX_CHECK_INT(t, lexie_kv_seq_pos_max(f->c, s), p - 1);
    /* each sequence continues from the shared cells in the given order, so
    ** that no sequence is only "the last one" */
    for (int k = 0; k < 3; k++) {
        int s = order[k];
        if (!decode_tail(t, f, s, s, tol, "after seq_cp")) return;
        LX_CHECK_INT(t, lexie_kv_seq_pos_max(f->c, s), f->rt.n[s] - 1);
    }
    /* replace branch1's tail in seq 1 by branch2's; seqs 0 and 2 keep theirs */
    LX_CHECK_INT(t, lexie_kv_seq_rm(f->c, 1, p, -1), LEXIE_OK);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f->c, 1), p - 1);
    if (!decode_tail(t, f, 2, 1, tol, "after seq_rm")) return;
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f->c, 0), nm - 1);
    LX_CHECK_INT(t, lexie_kv_seq_pos_max(f->c, 2), n2 - 1);
    /* and main goes on by one more decode, unaffected by the others */
    LX_CHECK_INT(t, lexie_kv_seq_rm(f->c, 0, nm - 4, -1), LEXIE_OK);
    if (rf_decode(f->c, f->rt.ids[0] + nm - 4, 4, -1, 0, 1, &e) != LEXIE_OK) {
        lx_test_fail(t, __FILE__, __LINE__, "%s main after rm: decode: %s", f->stem, e.message);
        return;
    }
    for (int i = 0; i < 4; i++)
        rf_check_row(t, f, lexie_ctx_logits(f->c, i), 0, nm - 4 + i, tol, "main after rm");
}

void rf_check_two_seqs(lx_t *t, rf_fixture *f, int sa, int sb, double tol, double tol_same) {
    lexie_error e;
    int na = f->rt.n[sa], nb = f->rt.n[sb], n = na + nb;
    size_t nv = (size_t)f->n_vocab;
    lexie_token tok[RF_MAX_TOK * 2];
    int32_t pos[RF_MAX_TOK * 2], sid[RF_MAX_TOK * 2], src[RF_MAX_TOK * 2];
    int8_t want[RF_MAX_TOK * 2];
    /* interleave: a, b, a, b, ... then the rest of the longer one */
    for (int i = 0, ia = 0, ib = 0; i < n; i++) {
        int take_b = ib < nb && (i % 2 == 1 || ia == na);
        sid[i] = take_b;
        pos[i] = take_b ? ib : ia;
        tok[i] = take_b ? f->rt.ids[sb][ib] : f->rt.ids[sa][ia];
        src[i] = take_b ? sb : sa;
        want[i] = 1;
        if (take_b)
            ib++;
        else
            ia++;
    }
    lexie_batch b = {n, tok, pos, sid, want};
    float *batched = malloc((size_t)n * nv * sizeof *batched);
    if (!batched || lexie_ctx_decode(f->c, &b, &e) != LEXIE_OK) {
        lx_test_fail(t, __FILE__, __LINE__, "%s: two seqs: %s", f->stem,
                     batched ? e.message : "out of memory");
        free(batched);
        return;
    }
    double worst = 0;
    for (int i = 0; i < n; i++) {
        const float *got = lexie_ctx_logits(f->c, i);
        double d = rf_check_row(t, f, got, src[i], pos[i], tol, "batched");
        worst = d > worst ? d : worst;
        if (got)
            memcpy(batched + i * nv, got, nv * sizeof *batched);
        else
            memset(batched + i * nv, 0, nv * sizeof *batched);
    }
    rf_report("two seqs in one batch", f->stem, worst);
    /* the same sequences alone, each in its own decode */
    worst = 0;
    for (int k = 0; k < 2; k++) {
        int s = k ? sb : sa;
        lexie_kv_clear(f->c);
        if (rf_decode(f->c, f->rt.ids[s], f->rt.n[s], 0, 0, 1, &e) != LEXIE_OK) {
            lx_test_fail(t, __FILE__, __LINE__, "%s alone: decode: %s", f->stem, e.message);
            break;
        }
        for (int i = 0; i < n; i++) {
            if (src[i] != s) continue;
            const float *got = lexie_ctx_logits(f->c, pos[i]);
            double d = got ? rf_max_abs_diff(got, batched + i * nv, f->n_vocab) : INFINITY;
            LX_CHECK_MSG(t, d <= tol_same, "%s %s[%d]: batched vs alone %.3g", f->stem,
                         f->set->seq_names[s], pos[i], d);
            worst = d > worst ? d : worst;
        }
    }
    rf_report("batched vs alone", f->stem, worst);
    free(batched);
}

void rf_check_threads(lx_t *t, const rf_set *set, const char *stem, const char *suffix, int na,
                      int nb, double tol) {
    float *out[2] = {NULL, NULL};
    int n = 0, nv = 0;
    for (int k = 0; k < 2; k++) {
        rf_fixture f;
        lexie_ctx_params cp = rf_ctx_params(set, 1, k == 0 ? na : nb);
        if (!rf_open(t, &f, set, stem, suffix, &cp)) break;
        n = f.rt.n[0], nv = f.n_vocab;
        out[k] = rf_prefill_all(t, &f, 0);
        rf_close(&f);
    }
    if (out[0] && out[1]) {
        double d = rf_max_abs_diff(out[0], out[1], n * nv);
        LX_CHECK_MSG(t, d <= tol, "%s: %d vs %d threads differ by %.3g", stem, na, nb, d);
        rf_report("threads", stem, d);
    }
    free(out[0]);
    free(out[1]);
}
