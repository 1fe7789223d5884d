/*
** input.c -- the examples every extraction task reads: items (text, two
** entity spans in code points, types, gold label), lexie's JSONL input
** line, and the <e1>/<e2> marker format.  Dataset readers (eval/) and
** `lexie relations` both build items here.
**
** Every parser validates UTF-8 and spans.  Spans are code points, end
** exclusive.
*/
#include "ie.h"

#include <stdint.h>
#include <stdio.h>
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
    lexie_status st = lx_grow((void **)&d->items, &d->cap, (size_t)d->n + 1, sizeof *d->items, err);
    if (st) return st;
    d->items[d->n++] = *it;
    memset(it, 0, sizeof *it);
    return LEXIE_OK;
}

lexie_re_example lx_re_item_example(const lx_re_item *it) {
    lexie_re_example e = {it->text,  it->h_start, it->h_end, it->t_start,
                          it->t_end, it->h_type,  it->t_type};
    return e;
}

int lx_ie_cp_count(const char *s, size_t n) {
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
        cps[t] = lx_ie_cp_count(out, o);
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

size_t lx_ie_cp_byte(const char *s, int cp) {
    size_t i = 0;
    for (int k = 0; k < cp && s[i]; k++) i += (size_t)lx_utf8_len((unsigned char)s[i]);
    return i;
}

char *lx_re_add_markers(const lx_re_item *it, lexie_error *err) {
    struct {
        size_t at;
        const char *tag;
    } ins[4] = {{lx_ie_cp_byte(it->text, it->h_start), "<e1>"},
                {lx_ie_cp_byte(it->text, it->h_end), "</e1>"},
                {lx_ie_cp_byte(it->text, it->t_start), "<e2>"},
                {lx_ie_cp_byte(it->text, it->t_end), "</e2>"}};
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

/* A non-negative int32 member k of o. */
static int json_int(const lx_json *o, const char *k, int *out) {
    int64_t v;
    if (!lx_json_int(lx_json_get(o, k), &v) || v < 0 || v > INT32_MAX) return 0;
    *out = (int)v;
    return 1;
}

/* ==== lexie JSONL ==== */

static lexie_status read_ent(const lx_json *e, const char *which, int n_cp, const char *text,
                             int *s, int *en, char **type, lexie_error *err) {
    if (!e || e->type != LX_JSON_OBJECT)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "\"%s\" must be an object {\"start\", \"end\", \"type\"}", which);
    if (!json_int(e, "start", s) || !json_int(e, "end", en))
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
        size_t b0 = lx_ie_cp_byte(text, *s), b1 = lx_ie_cp_byte(text, *en);
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
        int n_cp = lx_ie_cp_count(it->text, text->len);
        st = read_ent(h, "head", n_cp, it->text, &it->h_start, &it->h_end, &it->h_type, err);
        if (st == LEXIE_OK)
            st = read_ent(t, "tail", n_cp, it->text, &it->t_start, &it->t_end, &it->t_type, err);
        /* Overlapping spans are refused, as overlapping markers are: the
        ** marked prompt could not show both. */
        if (st == LEXIE_OK && it->h_start < it->t_end && it->t_start < it->h_end)
            st = lx_fail(err, LEXIE_E_FORMAT, "head [%d, %d) and tail [%d, %d) overlap",
                         it->h_start, it->h_end, it->t_start, it->t_end);
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
    size_t b0 = lx_ie_cp_byte(text, s), b1 = lx_ie_cp_byte(text, e);
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

/* ==== Public face ==== */

lexie_status lexie_re_parse_markers(const char *marked, char **text, int spans[4],
                                    lexie_error *err) {
    if (text) *text = NULL;
    if (!marked || !text || !spans)
        return lx_fail(err, LEXIE_E_INVALID, "lexie_re_parse_markers: NULL argument");
    return lx_re_parse_markers(marked, text, &spans[0], &spans[1], &spans[2], &spans[3], err);
}

void lexie_re_line_clear(lexie_re_line *l) {
    if (!l) return;
    free((char *)l->ex.text);
    free((char *)l->ex.head_type);
    free((char *)l->ex.tail_type);
    free(l->id);
    free(l->label);
    memset(l, 0, sizeof *l);
}

/* The message of e as "line N<sep> message" (the CLI's wording), the
** inner message cut at 480 bytes so the whole fits. */
/* The "id" of a line as JSON text (a number or a quoted string), or NULL
** when it has none or another type. */
static lexie_status id_as_json(const lx_json *root, char **out, lexie_error *err) {
    const lx_json *id = lx_json_get(root, "id");
    *out = NULL;
    if (!id || (id->type != LX_JSON_STRING && id->type != LX_JSON_NUMBER)) return LEXIE_OK;
    lx_jbuf ib = {0};
    lx_jbuf_value(&ib, id);
    lexie_status st = lx_jbuf_status(&ib, err);
    if (st == LEXIE_OK)
        *out = ib.data;
    else
        lx_jbuf_free(&ib);
    return st;
}

static void line_message(lexie_error *err, int lineno, const char *sep, const char *m) {
    if (!err || lineno <= 0) return;
    char inner[sizeof err->message];
    snprintf(inner, sizeof inner, "%s", m);
    snprintf(err->message, sizeof err->message, "line %d%s%.480s", lineno, sep, inner);
}

/* Parses one JSONL line; a parse error says "line N, column C" with the
** caller's line number (the parser saw one line, so its "line 1" is it). */
static lx_json_doc *parse_line(const char *line, size_t len, int lineno, lexie_status *st,
                               lexie_error *err) {
    lexie_error e;
    lx_json_doc *d = lx_json_parse(line, len, NULL, &e);
    *st = LEXIE_OK;
    if (d) return d;
    lexie_status code = e.code == LEXIE_E_UTF8 || e.code == LEXIE_E_NOMEM ? e.code : LEXIE_E_FORMAT;
    const char *m = e.message;
    if (lineno > 0 && strncmp(m, "line 1, ", 8) == 0) m += 8;
    lx_fail(err, code, "%s", e.message);
    line_message(err, lineno, ", ", m);
    *st = code;
    return NULL;
}

lexie_status lexie_re_line_parse(const char *line, size_t len, int lineno, lexie_re_line *out,
                                 lexie_error *err) {
    if (!line || !out) return lx_fail(err, LEXIE_E_INVALID, "lexie_re_line_parse: NULL argument");
    memset(out, 0, sizeof *out);
    lexie_status pst;
    lx_json_doc *d = parse_line(line, len, lineno, &pst, err);
    if (!d) return pst;
    lexie_status st = id_as_json(lx_json_root(d), &out->id, err);
    lx_re_item it;
    if (st == LEXIE_OK) st = lx_re_item_from_json(lx_json_root(d), &it, err);
    lx_json_doc_free(d);
    if (st != LEXIE_OK) {
        if (err) line_message(err, lineno, ": ", err->message);
        return st;
    }
    free(it.id);
    out->ex = lx_re_item_example(&it);
    out->label = it.gold;
    return LEXIE_OK;
}

lexie_status lx_doc_line_parse(const char *line, size_t len, int lineno, char **id_json,
                               char **text, lexie_error *err) {
    *id_json = *text = NULL;
    lexie_status pst;
    lx_json_doc *d = parse_line(line, len, lineno, &pst, err);
    if (!d) return pst;
    const lx_json *root = lx_json_root(d), *t = lx_json_get(root, "text");
    lexie_status st = id_as_json(root, id_json, err);
    if (st == LEXIE_OK && root->type != LX_JSON_OBJECT)
        st = lx_fail(err, LEXIE_E_FORMAT, "the line is not a JSON object");
    else if (st == LEXIE_OK && (!t || t->type != LX_JSON_STRING))
        st = lx_fail(err, LEXIE_E_FORMAT, "\"text\" is missing or not a string");
    else if (st == LEXIE_OK && strlen(t->str) != t->len)
        st = lx_fail(err, LEXIE_E_FORMAT, "\"text\" holds a NUL character");
    else if (st == LEXIE_OK && !(*text = lx_strndup(t->str, t->len, err)))
        st = LEXIE_E_NOMEM;
    lx_json_doc_free(d);
    if (st != LEXIE_OK && err) line_message(err, lineno, ": ", err->message);
    return st;
}

/* The error line of every JSONL command (docs/formats.md): the codes are
** part of the format, so they are named here once. */
void lx_error_line(lx_jbuf *b, const char *id_json, lexie_status code, const char *message) {
    const char *name = "error";
    switch (code) {
    case LEXIE_E_FORMAT: name = "format"; break;
    case LEXIE_E_UTF8: name = "utf8"; break;
    case LEXIE_E_INVALID: name = "invalid"; break;
    case LEXIE_E_RANGE: name = "range"; break;
    case LEXIE_E_NOMEM: name = "nomem"; break;
    default: break;
    }
    lx_jbuf_puts(b, "{\"id\":");
    lx_jbuf_puts(b, id_json ? id_json : "null");
    lx_jbuf_printf(b, ",\"error\":{\"code\":\"%s\",\"message\":", name);
    lx_jbuf_cstr(b, message);
    lx_jbuf_puts(b, "}}\n");
}
