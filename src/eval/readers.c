/*
** readers.c -- relation-extraction datasets into lx_re_data: SemEval-2010
** Task 8 (and its key files), TACRED JSON, GAD TSV, and a writer for round
** trips.  Items, lexie's JSONL line and the <e1>/<e2> markers are
** ie/input.c's.
**
** Every reader validates UTF-8 and spans, and names the file line of a
** fault.  Spans are code points, end exclusive.
*/
#include "eval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ==== SemEval ==== */

lexie_status lx_read_semeval(const char *path, lx_re_data *d, lexie_error *err) {
    size_t n;
    char *buf = lx_read_text_file(path, 0, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    char *cur = buf, *line;
    int lineno = 0, have = 0;
    lx_re_item it;
    memset(&it, 0, sizeof it);
    lexie_status st = LEXIE_OK;
    while (st == LEXIE_OK && (line = lx_next_line(&cur))) {
        lineno++;
        if (!*line) continue;
        char *tab = strchr(line, '\t');
        int is_head = tab && tab > line && strspn(line, "0123456789") == (size_t)(tab - line);
        if (is_head) {
            if (have && (st = lx_re_data_push(d, &it, err)) != LEXIE_OK) break;
            have = 1;
            char *s = tab + 1;
            size_t l = strlen(s);
            if (l < 2 || s[0] != '"' || s[l - 1] != '"') {
                st = lx_fail(err, LEXIE_E_FORMAT, "%s:%d: the sentence must be in double quotes",
                             path, lineno);
                break;
            }
            s[l - 1] = 0;
            if (!(it.id = lx_strndup(line, (size_t)(tab - line), err))) {
                st = LEXIE_E_NOMEM;
                break;
            }
            it.id_is_num = 1;
            st = lx_re_parse_markers(s + 1, &it.text, &it.h_start, &it.h_end, &it.t_start,
                                     &it.t_end, err);
            if (st != LEXIE_OK) lx_fail_prefix(err, "%s:%d: ", path, lineno);
        } else if (strncmp(line, "Comment:", 8) == 0) {
            continue;
        } else if (have && !it.gold) {
            if (!(it.gold = lx_strdup(line, err))) st = LEXIE_E_NOMEM;
        } else {
            st = lx_fail(err, LEXIE_E_FORMAT, "%s:%d: unexpected line \"%.40s\"", path, lineno,
                         line);
        }
    }
    if (st == LEXIE_OK && have) st = lx_re_data_push(d, &it, err);
    lx_re_item_free(&it);
    free(buf);
    return st;
}

lexie_status lx_write_semeval(FILE *f, const lx_re_data *d, lexie_error *err) {
    for (int i = 0; i < d->n; i++) {
        char *m = lx_re_add_markers(&d->items[i], err);
        if (!m) return LEXIE_E_NOMEM;
        fprintf(f, "%s\t\"%s\"\n%s\nComment:\n\n", d->items[i].id, m,
                d->items[i].gold ? d->items[i].gold : "Other");
        free(m);
    }
    return ferror(f) ? lx_fail(err, LEXIE_E_IO, "write failed") : LEXIE_OK;
}

lexie_status lx_read_semeval_key(const char *path, lx_re_data *d, lexie_error *err) {
    size_t n;
    char *buf = lx_read_text_file(path, 0, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    char *cur = buf, *line;
    int lineno = 0;
    lexie_status st = LEXIE_OK;
    while (st == LEXIE_OK && (line = lx_next_line(&cur))) {
        lineno++;
        if (!*line) continue;
        char *tab = strchr(line, '\t');
        if (!tab) {
            st = lx_fail(err, LEXIE_E_FORMAT, "%s:%d: want id<TAB>label", path, lineno);
            break;
        }
        *tab = 0;
        int found = 0;
        for (int i = 0; i < d->n && !found; i++)
            if (strcmp(d->items[i].id, line) == 0) {
                free(d->items[i].gold);
                if (!(d->items[i].gold = lx_strdup(tab + 1, err))) st = LEXIE_E_NOMEM;
                found = 1;
            }
        if (!found && st == LEXIE_OK)
            st = lx_fail(err, LEXIE_E_FORMAT, "%s:%d: unknown id %s", path, lineno, line);
    }
    free(buf);
    return st;
}

/* ==== GAD ==== */

static lexie_status gad_span(const char *text, const char *mask, int *s, int *e) {
    const char *p = strstr(text, mask);
    if (!p) return LEXIE_E_FORMAT;
    *s = lx_ie_cp_count(text, (size_t)(p - text));
    *e = *s + lx_ie_cp_count(mask, strlen(mask));
    return LEXIE_OK;
}

lexie_status lx_read_gad(const char *path, const char *id_prefix, lx_re_data *d, lexie_error *err) {
    size_t n;
    char *buf = lx_read_text_file(path, 0, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    char *cur = buf, *line;
    int lineno = 0, header = strncmp(buf, "index\t", 6) == 0, row = 0;
    lexie_status st = LEXIE_OK;
    lx_re_item it;
    memset(&it, 0, sizeof it);
    while (st == LEXIE_OK && (line = lx_next_line(&cur))) {
        lineno++;
        if (!*line || (header && lineno == 1)) continue;
        char *cols[3];
        int nc = 0;
        for (char *p = line; nc < 3;) {
            cols[nc++] = p;
            char *t = strchr(p, '\t');
            if (!t) break;
            *t = 0;
            p = t + 1;
        }
        int want = header ? 3 : 2;
        if (nc != want) {
            st = lx_fail(err, LEXIE_E_FORMAT, "%s:%d: want %d tab-separated columns, found %d",
                         path, lineno, want, nc);
            break;
        }
        const char *sent = cols[want - 2], *lab = cols[want - 1];
        if (strcmp(lab, "0") != 0 && strcmp(lab, "1") != 0) {
            st = lx_fail(err, LEXIE_E_FORMAT, "%s:%d: label \"%.20s\" is not 0 or 1", path, lineno,
                         lab);
            break;
        }
        char idb[96];
        snprintf(idb, sizeof idb, "%s%d", id_prefix ? id_prefix : "", header ? atoi(cols[0]) : row);
        row++;
        it.id = lx_strdup(idb, err);
        it.text = lx_strdup(sent, err);
        it.h_type = lx_strdup("GENE", err);
        it.t_type = lx_strdup("DISEASE", err);
        it.gold = lx_strdup(lab[0] == '1' ? "association" : "no_association", err);
        if (!it.id || !it.text || !it.h_type || !it.t_type || !it.gold) {
            st = LEXIE_E_NOMEM;
            break;
        }
        if (gad_span(it.text, "@GENE$", &it.h_start, &it.h_end) != LEXIE_OK ||
            gad_span(it.text, "@DISEASE$", &it.t_start, &it.t_end) != LEXIE_OK) {
            st = lx_fail(err, LEXIE_E_FORMAT, "%s:%d: the sentence lacks @GENE$ or @DISEASE$", path,
                         lineno);
            break;
        }
        st = lx_re_data_push(d, &it, err);
    }
    lx_re_item_free(&it);
    free(buf);
    return st;
}

/* ==== TACRED ==== */

static const char *ptb_unescape(const char *t) {
    static const char *map[][2] = {{"-LRB-", "("}, {"-RRB-", ")"}, {"-LSB-", "["},
                                   {"-RSB-", "]"}, {"-LCB-", "{"}, {"-RCB-", "}"}};
    for (size_t i = 0; i < LX_ARRAY_LEN(map); i++)
        if (strcmp(t, map[i][0]) == 0) return map[i][1];
    return t;
}

static int get_int(const lx_json *o, const char *k, int *out) {
    int64_t v;
    if (!lx_json_int(lx_json_get(o, k), &v) || v < 0 || v > INT32_MAX) return 0;
    *out = (int)v;
    return 1;
}

static lexie_status tacred_one(const lx_json *o, int idx, lx_re_item *it, lexie_error *err) {
    const lx_json *toks = lx_json_get(o, "token");
    int ss, se, os, oe;
    if (!o || o->type != LX_JSON_OBJECT || !toks || toks->type != LX_JSON_ARRAY)
        return lx_fail(err, LEXIE_E_FORMAT, "item %d: want an object with a \"token\" array", idx);
    if (!get_int(o, "subj_start", &ss) || !get_int(o, "subj_end", &se) ||
        !get_int(o, "obj_start", &os) || !get_int(o, "obj_end", &oe))
        return lx_fail(err, LEXIE_E_FORMAT,
                       "item %d: subj_start/subj_end/obj_start/obj_end must be integers", idx);
    if (se < ss || oe < os || se >= toks->n || oe >= toks->n)
        return lx_fail(err, LEXIE_E_FORMAT, "item %d: entity token span outside the %d tokens", idx,
                       toks->n);
    lx_jbuf b = {0};
    int cp = 0;
    for (int i = 0; i < toks->n; i++) {
        const char *t = lx_json_string(toks->items[i]);
        if (!t) {
            lx_jbuf_free(&b);
            return lx_fail(err, LEXIE_E_FORMAT, "item %d: token %d is not a string", idx, i);
        }
        t = ptb_unescape(t);
        if (i) {
            lx_jbuf_putc(&b, ' ');
            cp++;
        }
        if (i == ss) it->h_start = cp;
        if (i == os) it->t_start = cp;
        lx_jbuf_puts(&b, t);
        cp += lx_ie_cp_count(t, strlen(t));
        if (i == se) it->h_end = cp;
        if (i == oe) it->t_end = cp;
    }
    if (b.oom || !b.data) {
        lx_jbuf_free(&b);
        return lx_fail(err, LEXIE_E_NOMEM, "item %d: out of memory", idx);
    }
    it->text = b.data;
    const lx_json *id = lx_json_get(o, "id");
    char num[32];
    const char *ids = lx_json_string(id);
    if (!ids) {
        snprintf(num, sizeof num, "%d", idx);
        ids = num;
    }
    it->id = lx_strdup(ids, err);
    const char *st = lx_json_string(lx_json_get(o, "subj_type")),
               *ot = lx_json_string(lx_json_get(o, "obj_type"));
    const char *rel = lx_json_string(lx_json_get(o, "relation"));
    it->h_type = st ? lx_strdup(st, err) : NULL;
    it->t_type = ot ? lx_strdup(ot, err) : NULL;
    it->gold = rel ? lx_strdup(rel, err) : NULL;
    if (!it->id || (st && !it->h_type) || (ot && !it->t_type) || (rel && !it->gold))
        return LEXIE_E_NOMEM;
    return LEXIE_OK;
}

lexie_status lx_tacred_from_json(const lx_json *root, lx_re_data *d, lexie_error *err) {
    if (!root || root->type != LX_JSON_ARRAY)
        return lx_fail(err, LEXIE_E_FORMAT, "TACRED: want a JSON array");
    for (int i = 0; i < root->n; i++) {
        lx_re_item it;
        memset(&it, 0, sizeof it);
        lexie_status st = tacred_one(root->items[i], i, &it, err);
        if (st == LEXIE_OK) st = lx_re_data_push(d, &it, err);
        lx_re_item_free(&it);
        if (st != LEXIE_OK) return st;
    }
    return LEXIE_OK;
}

lexie_status lx_read_tacred(const char *path, lx_re_data *d, lexie_error *err) {
    lx_json_limits lim = {0, (size_t)1 << 30, 0};
    lx_json_doc *doc = lx_json_parse_file(path, &lim, err);
    if (!doc) return err ? err->code : LEXIE_E_FORMAT;
    lexie_status st = lx_tacred_from_json(lx_json_root(doc), d, err);
    if (st != LEXIE_OK) lx_fail_prefix(err, "%s: ", path);
    lx_json_doc_free(doc);
    return st;
}
