/*
** readers.c -- relation-extraction datasets into lx_re_data: SemEval-2010
** Task 8 (and its key files), TACRED JSON, GAD TSV, lexie JSONL lines; the
** <e1>/<e2> marker format; and writers for round trips.
**
** Every reader validates UTF-8 and spans, and names the file line of a
** fault.  Spans are code points, end exclusive.
*/
#include "eval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ==== Items ==== */

void lx_re_item_free(lx_re_item *it) {
    if (!it) return;
    free(it->id);
    free(it->text);
    free(it->h_type);
    free(it->t_type);
    free(it->gold);
    memset(it, 0, sizeof *it);
}

void lx_re_data_free(lx_re_data *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) lx_re_item_free(&d->items[i]);
    free(d->items);
    memset(d, 0, sizeof *d);
}

lexie_status lx_re_data_push(lx_re_data *d, lx_re_item *it, lexie_error *err) {
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 64;
        lx_re_item *a = realloc(d->items, (size_t)cap * sizeof *a);
        if (!a) return lx_fail(err, LEXIE_E_NOMEM, "dataset: out of memory");
        d->items = a;
        d->cap = cap;
    }
    d->items[d->n++] = *it;
    memset(it, 0, sizeof *it);
    return LEXIE_OK;
}

lexie_re_example lx_re_item_example(const lx_re_item *it) {
    lexie_re_example e = {it->text,  it->h_start, it->h_end, it->t_start,
                          it->t_end, it->h_type,  it->t_type};
    return e;
}

/* Code points in s[0..n) (s valid UTF-8). */
static int cp_count(const char *s, size_t n) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* ==== Markers ==== */

lexie_status lx_re_parse_markers(const char *marked, char **text, int *h0, int *h1, int *t0,
                                 int *t1, lexie_error *err) {
    static const char *tags[4] = {"<e1>", "</e1>", "<e2>", "</e2>"};
    const char *at[4];
    size_t len = strlen(marked), bad;
    *text = NULL;
    if (!lx_utf8_valid(marked, len, &bad))
        return lx_fail(err, LEXIE_E_UTF8, "invalid UTF-8 at byte %zu", bad);
    for (int k = 0; k < 4; k++) {
        at[k] = strstr(marked, tags[k]);
        if (!at[k]) return lx_fail(err, LEXIE_E_FORMAT, "marker %s is missing", tags[k]);
        if (strstr(at[k] + 1, tags[k]))
            return lx_fail(err, LEXIE_E_FORMAT, "marker %s appears twice", tags[k]);
    }
    if (at[1] < at[0] || at[3] < at[2])
        return lx_fail(err, LEXIE_E_FORMAT, "a closing marker comes before its opening");
    if (!(at[1] < at[2] || at[3] < at[0]))
        return lx_fail(err, LEXIE_E_FORMAT, "entity markers overlap");
    char *out = lx_malloc(len + 1, err);
    if (!out) return LEXIE_E_NOMEM;
    /* Copy, dropping the tags in order of position. */
    int order[4] = {0, 1, 2, 3};
    if (at[2] < at[0]) order[0] = 2, order[1] = 3, order[2] = 0, order[3] = 1;
    size_t o = 0;
    const char *p = marked;
    int cps[4];
    for (int k = 0; k < 4; k++) {
        int t = order[k];
        size_t n = (size_t)(at[t] - p);
        memcpy(out + o, p, n);
        o += n;
        cps[t] = cp_count(out, o);
        p = at[t] + strlen(tags[t]);
    }
    memcpy(out + o, p, strlen(p) + 1);
    *h0 = cps[0];
    *h1 = cps[1];
    *t0 = cps[2];
    *t1 = cps[3];
    if (*h1 <= *h0 || *t1 <= *t0) {
        free(out);
        return lx_fail(err, LEXIE_E_FORMAT, "an entity is empty");
    }
    *text = out;
    return LEXIE_OK;
}

/* Byte offset of code point cp (cp may equal the length). */
static size_t cp_byte(const char *s, int cp) {
    size_t i = 0;
    for (int k = 0; k < cp && s[i]; k++) i += (size_t)lx_utf8_len((unsigned char)s[i]);
    return i;
}

char *lx_re_add_markers(const lx_re_item *it, lexie_error *err) {
    struct {
        size_t at;
        const char *tag;
    } ins[4] = {{cp_byte(it->text, it->h_start), "<e1>"},
                {cp_byte(it->text, it->h_end), "</e1>"},
                {cp_byte(it->text, it->t_start), "<e2>"},
                {cp_byte(it->text, it->t_end), "</e2>"}};
    if (it->t_start < it->h_start) {
        /* e2 first: put its two tags first so the positions stay sorted. */
        for (int k = 0; k < 2; k++) {
            size_t a = ins[k].at;
            const char *t = ins[k].tag;
            ins[k] = ins[k + 2];
            ins[k + 2].at = a;
            ins[k + 2].tag = t;
        }
    }
    size_t len = strlen(it->text);
    char *out = lx_malloc(len + 20, err);
    if (!out) return NULL;
    size_t o = 0, pos = 0;
    for (int k = 0; k < 4; k++) {
        memcpy(out + o, it->text + pos, ins[k].at - pos);
        o += ins[k].at - pos;
        pos = ins[k].at;
        size_t tl = strlen(ins[k].tag);
        memcpy(out + o, ins[k].tag, tl);
        o += tl;
    }
    memcpy(out + o, it->text + pos, len - pos + 1);
    return out;
}

/* ==== Files ==== */

static char *slurp(const char *path, size_t *n, lexie_error *err) {
    char *buf = lx_read_file(path, 0, n, err);
    if (buf && memchr(buf, 0, *n)) {
        free(buf);
        lx_fail(err, LEXIE_E_FORMAT, "%s: contains a NUL byte", path);
        return NULL;
    }
    return buf;
}

/* Splits buf in place into lines (\n or \r\n); returns the next line or
** NULL at the end. */
static char *next_line(char **cur) {
    char *s = *cur;
    if (!s || !*s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = 0;
        *cur = nl + 1;
    } else {
        *cur = s + strlen(s);
    }
    size_t l = strlen(s);
    if (l && s[l - 1] == '\r') s[l - 1] = 0;
    return s;
}

/* ==== SemEval ==== */

lexie_status lx_read_semeval(const char *path, lx_re_data *d, lexie_error *err) {
    size_t n;
    char *buf = slurp(path, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    size_t bad;
    if (!lx_utf8_valid(buf, n, &bad)) {
        free(buf);
        return lx_fail(err, LEXIE_E_UTF8, "%s: invalid UTF-8 at byte %zu", path, bad);
    }
    char *cur = buf, *line;
    int lineno = 0, have = 0;
    lx_re_item it;
    memset(&it, 0, sizeof it);
    lexie_status st = LEXIE_OK;
    while (st == LEXIE_OK && (line = next_line(&cur))) {
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
    char *buf = slurp(path, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    char *cur = buf, *line;
    int lineno = 0;
    lexie_status st = LEXIE_OK;
    while (st == LEXIE_OK && (line = next_line(&cur))) {
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
    *s = cp_count(text, (size_t)(p - text));
    *e = *s + cp_count(mask, strlen(mask));
    return LEXIE_OK;
}

lexie_status lx_read_gad(const char *path, const char *id_prefix, lx_re_data *d, lexie_error *err) {
    size_t n;
    char *buf = slurp(path, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    size_t bad;
    if (!lx_utf8_valid(buf, n, &bad)) {
        free(buf);
        return lx_fail(err, LEXIE_E_UTF8, "%s: invalid UTF-8 at byte %zu", path, bad);
    }
    char *cur = buf, *line;
    int lineno = 0, header = strncmp(buf, "index\t", 6) == 0, row = 0;
    lexie_status st = LEXIE_OK;
    lx_re_item it;
    memset(&it, 0, sizeof it);
    while (st == LEXIE_OK && (line = next_line(&cur))) {
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
        cp += cp_count(t, strlen(t));
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

/* ==== lexie JSONL ==== */

static lexie_status read_ent(const lx_json *e, const char *which, int n_cp, const char *text,
                             int *s, int *en, char **type, lexie_error *err) {
    if (!e || e->type != LX_JSON_OBJECT)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "\"%s\" must be an object {\"start\", \"end\", \"type\"}", which);
    if (!get_int(e, "start", s) || !get_int(e, "end", en))
        return lx_fail(err, LEXIE_E_FORMAT, "%s.start and %s.end must be non-negative integers",
                       which, which);
    if (*en <= *s || *en > n_cp)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "%s span [%d, %d) is empty or past the text's %d code points", which, *s,
                       *en, n_cp);
    const lx_json *t = lx_json_get(e, "type");
    if (t && t->type != LX_JSON_NULL) {
        if (t->type != LX_JSON_STRING || t->len == 0 || strlen(t->str) != t->len)
            return lx_fail(err, LEXIE_E_FORMAT, "%s.type must be a non-empty string", which);
        if (!(*type = lx_strdup(t->str, err))) return LEXIE_E_NOMEM;
    }
    const lx_json *m = lx_json_get(e, "text");
    if (m && m->type == LX_JSON_STRING) {
        size_t b0 = cp_byte(text, *s), b1 = cp_byte(text, *en);
        if (m->len != b1 - b0 || memcmp(text + b0, m->str, m->len) != 0)
            return lx_fail(err, LEXIE_E_FORMAT,
                           "%s.text \"%.40s\" differs from the text at [%d, %d)", which, m->str, *s,
                           *en);
    }
    return LEXIE_OK;
}

lexie_status lx_re_item_from_json(const lx_json *o, lx_re_item *it, lexie_error *err) {
    memset(it, 0, sizeof *it);
    if (!o || o->type != LX_JSON_OBJECT)
        return lx_fail(err, LEXIE_E_FORMAT, "the line must be a JSON object");
    const lx_json *id = lx_json_get(o, "id");
    lexie_status st = LEXIE_OK;
    if (id && id->type == LX_JSON_STRING) {
        it->id = lx_strndup(id->str, id->len, err);
    } else if (id && id->type == LX_JSON_NUMBER) {
        it->id = lx_strndup(id->str, id->len, err);
        it->id_is_num = 1;
    } else if (id && id->type != LX_JSON_NULL) {
        return lx_fail(err, LEXIE_E_FORMAT, "\"id\" must be a string or a number");
    }
    if (id && id->type != LX_JSON_NULL && !it->id) return LEXIE_E_NOMEM;
    const lx_json *text = lx_json_get(o, "text");
    if (!text || text->type != LX_JSON_STRING) {
        st = lx_fail(err, LEXIE_E_FORMAT, "\"text\" must be a string");
        goto fail;
    }
    if (strlen(text->str) != text->len) {
        st = lx_fail(err, LEXIE_E_FORMAT, "\"text\" contains a NUL character");
        goto fail;
    }
    const lx_json *h = lx_json_get(o, "head"), *t = lx_json_get(o, "tail");
    if (h && h->type == LX_JSON_NULL) h = NULL; /* null means absent */
    if (t && t->type == LX_JSON_NULL) t = NULL;
    if (!h && !t) {
        st = lx_re_parse_markers(text->str, &it->text, &it->h_start, &it->h_end, &it->t_start,
                                 &it->t_end, err);
        if (st != LEXIE_OK) {
            lx_fail_prefix(err, "no head/tail given, and the text's markers: ");
            goto fail;
        }
    } else {
        if (!(it->text = lx_strndup(text->str, text->len, err))) {
            st = LEXIE_E_NOMEM;
            goto fail;
        }
        int n_cp = cp_count(it->text, text->len);
        st = read_ent(h, "head", n_cp, it->text, &it->h_start, &it->h_end, &it->h_type, err);
        if (st == LEXIE_OK)
            st = read_ent(t, "tail", n_cp, it->text, &it->t_start, &it->t_end, &it->t_type, err);
        if (st != LEXIE_OK) goto fail;
    }
    const lx_json *g = lx_json_get(o, "label");
    if (g && g->type == LX_JSON_STRING) {
        if (!(it->gold = lx_strdup(g->str, err))) {
            st = LEXIE_E_NOMEM;
            goto fail;
        }
    } else if (g && g->type != LX_JSON_NULL) {
        st = lx_fail(err, LEXIE_E_FORMAT, "\"label\" must be a string");
        goto fail;
    }
    return LEXIE_OK;
fail:
    lx_re_item_free(it);
    return st;
}

void lx_re_id_json(lx_jbuf *b, const char *id, int id_is_num) {
    if (!id)
        lx_jbuf_puts(b, "null");
    else if (id_is_num)
        lx_jbuf_puts(b, id);
    else
        lx_jbuf_cstr(b, id);
}

static void ent_json(lx_jbuf *b, const char *text, int s, int e, const char *type) {
    size_t b0 = cp_byte(text, s), b1 = cp_byte(text, e);
    lx_jbuf_printf(b, "{\"start\":%d,\"end\":%d,\"byte_start\":%zu,\"byte_end\":%zu,\"text\":", s,
                   e, b0, b1);
    lx_jbuf_str(b, text + b0, b1 - b0);
    if (type) {
        lx_jbuf_puts(b, ",\"type\":");
        lx_jbuf_cstr(b, type);
    }
    lx_jbuf_putc(b, '}');
}

void lx_re_item_to_json(lx_jbuf *b, const lx_re_item *it) {
    lx_jbuf_puts(b, "{\"id\":");
    lx_re_id_json(b, it->id, it->id_is_num);
    lx_jbuf_puts(b, ",\"text\":");
    lx_jbuf_cstr(b, it->text);
    lx_jbuf_puts(b, ",\"head\":");
    ent_json(b, it->text, it->h_start, it->h_end, it->h_type);
    lx_jbuf_puts(b, ",\"tail\":");
    ent_json(b, it->text, it->t_start, it->t_end, it->t_type);
    if (it->gold) {
        lx_jbuf_puts(b, ",\"label\":");
        lx_jbuf_cstr(b, it->gold);
    }
    lx_jbuf_putc(b, '}');
}
