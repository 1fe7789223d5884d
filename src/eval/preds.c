/*
** preds.c -- resumable prediction files.  Each prediction is one JSONL line
** appended (and flushed) as soon as it is computed, so a stopped run loses
** at most the line being written; on restart the file is read back, a torn
** last line is cut off, and only missing ids are computed.
*/
#include "eval.h"

#include "base/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void lx_re_preds_free(lx_re_preds *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        free(p->p[i].id);
        free(p->p[i].probs);
    }
    free(p->p);
    memset(p, 0, sizeof *p);
}

static int cmp_pred(const void *a, const void *b) {
    return strcmp(((const lx_re_pred *)a)->id, ((const lx_re_pred *)b)->id);
}

int lx_re_preds_find(lx_re_preds *p, const char *id) {
    if (!p->sorted) {
        if (p->n > 1) qsort(p->p, (size_t)p->n, sizeof *p->p, cmp_pred);
        p->sorted = 1;
    }
    int lo = 0, hi = p->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(p->p[mid].id, id);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static lexie_status parse_pred(const lx_json *o, const lx_re_schema *s, lx_re_pred *pr,
                               lexie_error *err) {
    const lx_json *id = lx_json_get(o, "id");
    const char *lab = lx_json_string(lx_json_get(o, "label"));
    const lx_json *pv = lx_json_get(o, "probs"), *sc = lx_json_get(o, "scores");
    const int nl = s->n_rels + 1;
    if (!id || (id->type != LX_JSON_STRING && id->type != LX_JSON_NUMBER) || !lab ||
        !((pv && pv->type == LX_JSON_ARRAY) || (sc && sc->type == LX_JSON_OBJECT)))
        return lx_fail(err, LEXIE_E_FORMAT, "want {\"id\", \"label\", \"probs\"}");
    pr->label = lx_re_schema_find(s, lab);
    if (pr->label < 0)
        return lx_fail(err, LEXIE_E_FORMAT, "label \"%.60s\" is not in the schema", lab);
    pr->probs = lx_calloc((size_t)nl, sizeof *pr->probs, err);
    if (!pr->probs) return LEXIE_E_NOMEM;
    if (pv && pv->type == LX_JSON_ARRAY) {
        if (pv->n != nl)
            return lx_fail(err, LEXIE_E_FORMAT, "probs has %d numbers, the schema %d labels", pv->n,
                           nl);
        for (int l = 0; l < nl; l++) {
            if (pv->items[l]->type != LX_JSON_NUMBER)
                return lx_fail(err, LEXIE_E_FORMAT, "probs must be numbers");
            pr->probs[l] = (float)pv->items[l]->num;
        }
    } else {
        /* The first format: {label: probability}, zeros left out. */
        for (int k = 0; k < sc->n; k++) {
            int l = lx_re_schema_find(s, sc->keys[k]);
            if (l < 0)
                return lx_fail(err, LEXIE_E_FORMAT, "score for unknown label \"%.60s\"",
                               sc->keys[k]);
            if (sc->items[k]->type != LX_JSON_NUMBER)
                return lx_fail(err, LEXIE_E_FORMAT, "scores must be numbers");
            pr->probs[l] = (float)sc->items[k]->num;
        }
    }
    const lx_json *inv = lx_json_get(o, "invalid");
    pr->invalid = inv && inv->type == LX_JSON_BOOL && inv->b;
    const lx_json *sec = lx_json_get(o, "seconds");
    pr->seconds = sec && sec->type == LX_JSON_NUMBER ? sec->num : 0.0;
    pr->id = lx_strndup(id->str, id->len, err);
    return pr->id ? LEXIE_OK : LEXIE_E_NOMEM;
}

lexie_status lx_re_preds_load(const char *path, const lx_re_schema *s, lx_re_preds *out,
                              long *good_bytes, lexie_error *err) {
    memset(out, 0, sizeof *out);
    *good_bytes = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return LEXIE_OK;
        return lx_fail(err, LEXIE_E_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    long off = 0;
    int lineno = 0;
    lexie_status st = LEXIE_OK;
    for (;;) {
        ssize_t n = getline(&line, &cap, f);
        if (n < 0) break;
        lineno++;
        if (n == 0 || line[n - 1] != '\n') break; /* torn last line: dropped */
        lexie_error e2;
        lx_json_doc *d = lx_json_parse(line, (size_t)n, NULL, &e2);
        if (!d) {
            /* Out of memory says nothing about the line: never drop it as torn. */
            if (e2.code == LEXIE_E_NOMEM) {
                st = lx_fail(err, LEXIE_E_NOMEM, "%s:%d: %s", path, lineno, e2.message);
                break;
            }
            /* Only the last line may be damaged; anything earlier is corrupt. */
            int c = fgetc(f);
            if (c == EOF) break;
            st = lx_fail(err, LEXIE_E_FORMAT, "%s:%d: %s", path, lineno, e2.message);
            break;
        }
        st = lx_grow((void **)&out->p, &out->cap, (size_t)out->n + 1, sizeof *out->p, err);
        if (st) {
            lx_json_doc_free(d);
            break;
        }
        lx_re_pred *pr = &out->p[out->n];
        memset(pr, 0, sizeof *pr);
        st = parse_pred(lx_json_root(d), s, pr, err);
        lx_json_doc_free(d);
        if (st != LEXIE_OK) {
            free(pr->id);
            free(pr->probs);
            lx_fail_prefix(err, "%s:%d: ", path, lineno);
            break;
        }
        out->n++;
        off += (long)n;
    }
    /* A read error is not the end of the file: trimming there would cut
    ** good predictions off. */
    if (st == LEXIE_OK && ferror(f))
        st = lx_fail(err, LEXIE_E_IO, "%s: read error: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (st != LEXIE_OK) {
        lx_re_preds_free(out);
        return st;
    }
    *good_bytes = off;
    return LEXIE_OK;
}

void lx_re_pred_line(lx_jbuf *b, const char *id, int id_is_num, const char *gold,
                     const lx_re_schema *s, const lx_re_result *r, double seconds) {
    lx_jbuf_puts(b, "{\"id\":");
    lx_re_id_json(b, id, id_is_num);
    if (gold) {
        lx_jbuf_puts(b, ",\"gold\":");
        lx_jbuf_cstr(b, gold);
    }
    lx_jbuf_puts(b, ",\"label\":");
    lx_jbuf_cstr(b, lx_re_schema_label(s, r->label));
    lx_jbuf_printf(b, ",\"invalid\":%s,\"probs\":[", r->invalid ? "true" : "false");
    for (int l = 0; l <= s->n_rels; l++)
        lx_jbuf_printf(b, "%s%.6g", l ? "," : "", (double)r->probs[l]);
    lx_jbuf_putc(b, ']');
    if (seconds > 0) lx_jbuf_printf(b, ",\"seconds\":%.4f", seconds);
    if (r->answer) {
        lx_jbuf_puts(b, ",\"answer\":");
        lx_jbuf_cstr(b, r->answer);
    }
    lx_jbuf_puts(b, "}\n");
}
