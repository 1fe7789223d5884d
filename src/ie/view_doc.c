/*
** view_doc.c -- one result line of `lexie extract` as an article of the
** view (view.h): its mentions read and checked against the text, the text
** drawn with them, its relations, events, triples and flagged spans, and
** its rows of the page's table.
**
** Nothing in a line is trusted.  A span is drawn only when its offsets lie
** inside the text; one whose text or bytes disagree with the document is
** drawn with a warning.  Everything else (match "none", offsets outside
** the text, a malformed mention) is listed as flagged with the reason, so
** no extraction is silently dropped.  Without the document, the text is
** rebuilt from the spans' own texts, with gaps where no span says what
** the characters are.
*/
#include "ie/ie.h"
#include "ie/view.h"

#include <stdlib.h>
#include <string.h>

/* Why a mention is flagged.  The first ones are still drawn. */
enum {
    F_OK = 0,
    F_TEXT_DIFF, /* drawn with a warning: text is not the document's slice */
    F_BYTES,     /* drawn with a warning: byte offsets disagree with the code points */
    F_NONE,      /* match "none": the model's string is not in the text */
    F_NO_OFFSETS,
    F_RANGE,
    F_EMPTY,
    F_BAD,      /* malformed; why says how */
    F_NO_TEXT,  /* rebuilding: no text to place */
    F_LEN,      /* rebuilding: text length is not end - start */
    F_CONFLICT, /* rebuilding: another span put other characters there */
    F_TOO_FAR,  /* rebuilding: beyond REBUILD_MAX */
};

#define REBUILD_MAX (1 << 22) /* longest text rebuilt from spans, in code points */

struct lx_view_mention {
    const lx_json *o;      /* the mention object (NULL: missing) */
    const lx_json *parent; /* its event or triple; NULL for an entity */
    int layer;             /* LX_VIEW_* */
    const char *type;      /* type, role or slot name; never NULL */
    const char *text, *model_text;
    size_t text_len, model_len;
    int64_t start, end, bstart, bend;
    int has_off, has_bytes, match, has_conf, flag, color;
    double conf, score;
    const char *why; /* F_BAD's reason */
};
typedef struct lx_view_mention vm;

static void esc(lx_jbuf *b, const char *s) {
    if (s) lx_view_escape(b, s, strlen(s));
}

/* ==== Reading mentions ==== */

static const char *str_of(const lx_json *o, const char *key, size_t *n) {
    const lx_json *x = lx_json_get(o, key);
    if (!x || x->type != LX_JSON_STRING) return NULL;
    if (n) *n = x->len;
    return x->str;
}

static int num_of(const lx_json *o, const char *key, double *out) {
    const lx_json *x = lx_json_get(o, key);
    if (!x || x->type != LX_JSON_NUMBER) return 0;
    *out = x->num;
    return 1;
}

static int int_of(const lx_json *o, const char *key, int64_t *out) {
    const lx_json *x = lx_json_get(o, key);
    return x && lx_json_int(x, out);
}

static void bad(lx_view *v, vm *m, const char *why) {
    if (m->flag != F_BAD) m->why = why;
    m->flag = F_BAD;
    v->line_bad = 1;
}

static void read_fields(lx_view *v, vm *m, const lx_json *o) {
    m->text = str_of(o, "text", &m->text_len);
    m->model_text = str_of(o, "model_text", &m->model_len);
    const char *match = str_of(o, "match", NULL);
    for (int k = 0; match && k < 4; k++)
        if (strcmp(match, lexie_match_name((lexie_match)k)) == 0) m->match = k;
    m->has_conf = num_of(o, "confidence", &m->conf);
    num_of(o, "match_score", &m->score);
    m->has_off = int_of(o, "start", &m->start) && int_of(o, "end", &m->end);
    m->has_bytes = int_of(o, "byte_start", &m->bstart) && int_of(o, "byte_end", &m->bend);
    if (!m->has_off && (lx_json_get(o, "start") || lx_json_get(o, "end")))
        bad(v, m, "start and end are not both integers");
    if (m->match < 0)
        bad(v, m, "\"match\" is missing or not exact, normalized, fuzzy or none");
    else if (m->match == LEXIE_MATCH_NONE)
        m->flag = m->flag ? m->flag : F_NONE;
    else if (!m->has_off)
        m->flag = m->flag ? m->flag : F_NO_OFFSETS;
    if (m->match >= 0) v->st.n_match[m->match]++;
}

/* Appends one mention; type_key names its type member ("type", "role"),
** or NULL when type (a triple slot, an event's type) is given. */
static void read_mention(lx_view *v, const lx_json *o, const lx_json *parent, int layer,
                         const char *type_key, const char *type) {
    if (lx_grow((void **)&v->ms, &v->cap_ms, v->n_ms + 1, sizeof *v->ms, NULL)) {
        lx_view_fail(v, LEXIE_E_NOMEM);
        return;
    }
    vm *m = &v->ms[v->n_ms++];
    memset(m, 0, sizeof *m);
    m->o = o;
    m->parent = parent;
    m->layer = layer;
    m->match = -1;
    m->start = m->end = -1;
    v->st.n_spans++;
    v->n_layer[layer]++;
    if (type_key) type = str_of(o, type_key, NULL);
    m->type = type ? type : "?";
    if (!o || o->type != LX_JSON_OBJECT)
        bad(v, m, o ? "not an object" : "missing");
    else
        read_fields(v, m, o);
    if (!type && m->flag != F_BAD)
        bad(v, m,
            type_key ? (layer == LX_VIEW_ENTITY ? "no \"type\"" : "no \"role\"")
                     : "its event has no \"type\"");
    m->color = lx_view_type_color(v, m->type);
}

static void note(lx_view *v, const char *html_a, const char *text, const char *html_b) {
    lx_jbuf_puts(&v->notes, "<li>");
    lx_jbuf_puts(&v->notes, html_a);
    esc(&v->notes, text);
    lx_jbuf_puts(&v->notes, html_b);
    lx_jbuf_puts(&v->notes, "</li>");
}

/* The array r[key], or NULL (noted when present but not an array). */
static const lx_json *part(lx_view *v, const lx_json *r, const char *key) {
    const lx_json *a = lx_json_get(r, key);
    if (a && a->type != LX_JSON_ARRAY) {
        note(v, "<span class=\"flag\">malformed: \"", key, "\" is not an array; ignored</span>");
        v->line_bad = 1;
        return NULL;
    }
    return a;
}

static void read_events(lx_view *v, const lx_json *evs) {
    for (int i = 0; evs && i < evs->n; i++) {
        const lx_json *e = evs->items[i];
        if (e->type != LX_JSON_OBJECT) {
            note(v, "<span class=\"flag\">malformed: an event is not an object", "",
                 "; ignored</span>");
            v->line_bad = 1;
            continue;
        }
        read_mention(v, lx_json_get(e, "trigger"), e, LX_VIEW_TRIGGER, NULL,
                     str_of(e, "type", NULL));
        const lx_json *args = part(v, e, "arguments");
        for (int j = 0; args && j < args->n; j++)
            read_mention(v, args->items[j], e, LX_VIEW_ARGUMENT, "role", NULL);
    }
}

static const char *const slots[5] = {"subject", "relation", "object", "time", "place"};

static void read_parts(lx_view *v, const lx_json *r) {
    const lx_json *ents = part(v, r, "entities");
    for (int i = 0; ents && i < ents->n; i++)
        read_mention(v, ents->items[i], NULL, LX_VIEW_ENTITY, "type", NULL);
    read_events(v, part(v, r, "events"));
    const lx_json *trs = part(v, r, "triples");
    for (int i = 0; trs && i < trs->n; i++) {
        const lx_json *t = trs->items[i];
        if (t->type != LX_JSON_OBJECT) {
            note(v, "<span class=\"flag\">malformed: a triple is not an object", "",
                 "; ignored</span>");
            v->line_bad = 1;
            continue;
        }
        for (int k = 0; k < 5; k++) {
            const lx_json *x = lx_json_get(t, slots[k]);
            if (k < 3 || (x && x->type != LX_JSON_NULL))
                read_mention(v, x, t, LX_VIEW_TRIPLE, NULL, slots[k]);
        }
    }
}

/* ==== Checking against the text, or rebuilding it ==== */

/* Fills v->cp_byte for text[0..n) and sets v->doc_cp. */
static int index_text(lx_view *v, const char *text, size_t n) {
    size_t ncp = (size_t)lx_ie_cp_count(text, n);
    if (lx_grow((void **)&v->cp_byte, &v->cap_cp, ncp + 1, sizeof *v->cp_byte, NULL)) {
        lx_view_fail(v, LEXIE_E_NOMEM);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80) v->cp_byte[k++] = (uint32_t)i;
    v->cp_byte[ncp] = (uint32_t)n;
    v->doc_cp = (int)ncp;
    return 1;
}

static void check_text(lx_view *v, const char *text, size_t n) {
    if (!index_text(v, text, n)) return;
    for (size_t i = 0; i < v->n_ms; i++) {
        vm *m = &v->ms[i];
        if (m->flag != F_OK) continue;
        if (m->start < 0 || m->end < m->start || m->end > v->doc_cp) {
            m->flag = F_RANGE;
            continue;
        }
        if (m->start == m->end) {
            m->flag = F_EMPTY;
            continue;
        }
        uint32_t bs = v->cp_byte[m->start], be = v->cp_byte[m->end];
        if (m->text && (m->text_len != be - bs || memcmp(m->text, text + bs, be - bs) != 0))
            m->flag = F_TEXT_DIFF;
        else if (m->has_bytes && (m->bstart != bs || m->bend != be))
            m->flag = F_BYTES;
    }
}

/* The code point at s (valid UTF-8), advancing s. */
static uint32_t utf8_next(const char **s) {
    const unsigned char *p = (const unsigned char *)*s;
    int len = lx_utf8_len(p[0]);
    uint32_t c = len == 1 ? p[0] : p[0] & (0x7F >> len);
    for (int k = 1; k < len; k++) c = (c << 6) | (p[k] & 0x3F);
    *s += len;
    return c;
}

static void utf8_put(lx_jbuf *b, uint32_t c) {
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    char o[4];
    if (c < 0x80) {
        lx_jbuf_putc(b, (char)c);
        return;
    }
    int n = c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    for (int k = n - 1; k > 0; k--, c >>= 6) o[k] = (char)(0x80 | (c & 0x3F));
    o[0] = (char)(lead[n] | c);
    lx_jbuf_add(b, o, (size_t)n);
}

/* Which spans can be placed, and how long the rebuilt text is. */
static int rebuild_length(lx_view *v) {
    int len = 0;
    for (size_t i = 0; i < v->n_ms; i++) {
        vm *m = &v->ms[i];
        if (m->flag != F_OK) continue;
        if (m->start < 0 || m->end < m->start)
            m->flag = F_RANGE;
        else if (m->start == m->end)
            m->flag = F_EMPTY;
        else if (m->end > REBUILD_MAX)
            m->flag = F_TOO_FAR;
        else if (!m->text)
            m->flag = F_NO_TEXT;
        else if (lx_ie_cp_count(m->text, m->text_len) != m->end - m->start)
            m->flag = F_LEN;
        else if (m->end > len)
            len = (int)m->end;
    }
    return len;
}

/* Rebuilds the text into v->rebuilt and v->known from the placeable spans
** (the first to claim a code point wins; a disagreeing span is flagged). */
static int rebuild(lx_view *v) {
    int len = rebuild_length(v);
    size_t cap = (size_t)len + 1;
    if (lx_grow((void **)&v->cp_byte, &v->cap_cp, cap, sizeof *v->cp_byte, NULL) ||
        lx_grow((void **)&v->known, &v->cap_known, cap, 1, NULL)) {
        lx_view_fail(v, LEXIE_E_NOMEM);
        return 0;
    }
    uint32_t *cps = v->cp_byte;
    memset(v->known, 0, cap);
    for (size_t i = 0; i < v->n_ms; i++) {
        vm *m = &v->ms[i];
        if (m->flag != F_OK) continue;
        const char *s = m->text;
        for (int64_t p = m->start; p < m->end && m->flag == F_OK; p++) {
            uint32_t c = utf8_next(&s);
            if (v->known[p] && cps[p] != c) m->flag = F_CONFLICT;
        }
        s = m->text;
        for (int64_t p = m->start; p < m->end && m->flag == F_OK; p++) {
            cps[p] = utf8_next(&s);
            v->known[p] = 1;
        }
    }
    lx_jbuf_reset(&v->rebuilt);
    for (int p = 0; p < len; p++) utf8_put(&v->rebuilt, v->known[p] ? cps[p] : ' ');
    v->doc_cp = len;
    return 1;
}

/* ==== Drawing ==== */

static void put_reason(lx_view *v, lx_jbuf *b, const vm *m) {
    switch (m->flag) {
    case F_TEXT_DIFF: lx_jbuf_puts(b, "its text differs from the document's characters"); break;
    case F_BYTES:
        lx_jbuf_printf(b, "byte offsets [%lld, %lld) do not match its code points",
                       (long long)m->bstart, (long long)m->bend);
        break;
    case F_NONE: lx_jbuf_puts(b, "not found in the text (match none)"); break;
    case F_NO_OFFSETS: lx_jbuf_puts(b, "grounded but without offsets"); break;
    case F_RANGE:
        lx_jbuf_printf(b, "offsets [%lld, %lld) outside the text (%d code points)",
                       (long long)m->start, (long long)m->end, v->doc_cp);
        break;
    case F_EMPTY: lx_jbuf_puts(b, "empty span"); break;
    case F_BAD: lx_jbuf_printf(b, "malformed: "), esc(b, m->why); break;
    case F_NO_TEXT: lx_jbuf_puts(b, "no text to rebuild the document from"); break;
    case F_LEN: lx_jbuf_puts(b, "its text is not as long as its offsets say"); break;
    case F_CONFLICT: lx_jbuf_puts(b, "its text disagrees with another span's"); break;
    case F_TOO_FAR: lx_jbuf_printf(b, "offsets beyond %d code points", REBUILD_MAX); break;
    }
}

#define CLIP_CP 160 /* lists and the table show this much of a span's text */

/* s[0..n) escaped, cut after CLIP_CP code points with an ellipsis (the
** highlighted text itself is never cut). */
static void put_clipped(lx_jbuf *b, const char *s, size_t n) {
    size_t i = 0;
    for (int k = 0; i < n && k < CLIP_CP; k++) i += (size_t)lx_utf8_len((unsigned char)s[i]);
    if (i > n) i = n;
    lx_view_escape(b, s, i);
    if (i < n) lx_jbuf_puts(b, "\xE2\x80\xA6");
}

/* The mention's text as the lists and the table show it. */
static void put_mtext(lx_jbuf *b, const vm *m) {
    if (m->text)
        put_clipped(b, m->text, m->text_len);
    else if (m->model_text)
        put_clipped(b, m->model_text, m->model_len);
    else
        lx_jbuf_puts(b, "\xE2\x80\x94");
}

static void put_ref(lx_jbuf *b, const vm *m, size_t id) {
    if (m->color >= 0)
        lx_jbuf_printf(b, "<span class=\"ref t%d\" data-ss=\"%zu\">", m->color, id);
    else
        lx_jbuf_printf(b, "<span class=\"ref tx\" data-ss=\"%zu\">", id);
    put_mtext(b, m);
    lx_jbuf_puts(b, "</span>");
}

static void put_chip(lx_jbuf *b, int color, const char *type) {
    if (color >= 0)
        lx_jbuf_printf(b, "<span class=\"chip t%d\">", color);
    else
        lx_jbuf_puts(b, "<span class=\"chip tx\">");
    esc(b, type);
    lx_jbuf_puts(b, "</span>");
}

/* The tooltip of a drawn span, NUL-terminated into v->titles. */
static void put_title(lx_view *v, const vm *m) {
    lx_jbuf *b = &v->titles;
    lx_jbuf_printf(b, "%s \xC2\xB7 %s \xC2\xB7 %s", m->type, lx_view_layer_name(m->layer),
                   lexie_match_name((lexie_match)m->match));
    if (m->match == LEXIE_MATCH_FUZZY) lx_jbuf_printf(b, " %.2f", m->score);
    if (m->has_conf) lx_jbuf_printf(b, " \xC2\xB7 confidence %.2f", m->conf);
    if (m->model_text) lx_jbuf_printf(b, " \xC2\xB7 model wrote: %s", m->model_text);
    if (m->flag == F_TEXT_DIFF && m->text) lx_jbuf_printf(b, " \xC2\xB7 line says: %s", m->text);
    if (m->flag == F_BYTES) lx_jbuf_puts(b, " \xC2\xB7 byte offsets disagree");
    lx_jbuf_add(b, "", 1);
}

static void put_text(lx_view *v, const char *text, size_t n, const unsigned char *known) {
    if (lx_grow((void **)&v->spans, &v->cap_spans, v->n_ms + 1, sizeof *v->spans, NULL)) {
        lx_view_fail(v, LEXIE_E_NOMEM);
        return;
    }
    int k = 0;
    lx_jbuf_reset(&v->titles);
    for (size_t i = 0; i < v->n_ms; i++) {
        const vm *m = &v->ms[i];
        if (m->flag > F_BYTES) continue;
        v->spans[k++] = (lx_view_span){.start = (int)m->start,
                                       .end = (int)m->end,
                                       .id = (int)i,
                                       .color = m->color,
                                       .layer = m->layer,
                                       .type = m->type,
                                       .fuzzy = m->match == LEXIE_MATCH_FUZZY,
                                       .warn = m->flag != F_OK};
        put_title(v, m);
    }
    if (v->titles.oom) return lx_view_fail(v, LEXIE_E_NOMEM);
    const char *t = v->titles.data;
    for (int i = 0; i < k; i++, t += strlen(t) + 1) v->spans[i].title = t;
    lexie_error e;
    lx_jbuf_puts(&v->body, known ? "<div class=\"text\">" : "<div class=\"text\" data-exact>");
    lexie_status st = lx_view_highlight(&v->body, text, n, known, v->spans, k, 0, &e);
    if (st == LEXIE_E_RANGE) lx_view_escape(&v->body, text, n);
    lx_jbuf_puts(&v->body, "</div>");
    if (st == LEXIE_E_RANGE) {
        lx_jbuf_puts(&v->body, "<p class=\"flag\">not highlighted: ");
        esc(&v->body, e.message);
        lx_jbuf_puts(&v->body, "</p>");
    } else if (st != LEXIE_OK) {
        lx_view_fail(v, st);
    }
}

static void put_conf(lx_jbuf *b, const lx_json *o) {
    double c;
    if (num_of(o, "confidence", &c)) lx_jbuf_printf(b, " <span class=\"conf\">%.2f</span>", c);
}

/* A relation is drawn when head and tail index entities and it has a
** label; else it is flagged with the reason. */
static void put_relations(lx_view *v, const lx_json *rels, int n_ent, int art) {
    if (!rels || rels->n == 0) return;
    lx_jbuf *b = &v->body;
    lx_jbuf_printf(b, "<h3>Relations (%d)</h3><ul class=\"rels\">", rels->n);
    for (int i = 0; i < rels->n; i++) {
        const lx_json *r = rels->items[i];
        const char *label = str_of(r, "label", NULL);
        int64_t h = -1, t = -1;
        int ok = int_of(r, "head", &h) && int_of(r, "tail", &t) && h >= 0 && h < n_ent && t >= 0 &&
                 t < n_ent && label;
        if (!ok) {
            v->st.n_flagged++;
            v->line_bad = 1;
            lx_jbuf_reset(&v->tmp);
            lx_jbuf_printf(&v->tmp, "relation %d: ", i);
            if (!label) lx_jbuf_puts(&v->tmp, "no label; ");
            if (!int_of(r, "head", &h) || !int_of(r, "tail", &t))
                lx_jbuf_puts(&v->tmp, "head and tail must be integers");
            else
                lx_jbuf_printf(&v->tmp, "head %lld and tail %lld must index the %d entities",
                               (long long)h, (long long)t, n_ent);
            lx_jbuf_puts(b, "<li class=\"flag\">malformed ");
            lx_jbuf_puts(&v->flagged, "<li>");
            if (v->tmp.data) {
                lx_jbuf_add(b, v->tmp.data, v->tmp.len);
                lx_jbuf_add(&v->flagged, v->tmp.data, v->tmp.len);
            }
            lx_jbuf_puts(b, "</li>");
            lx_jbuf_puts(&v->flagged, "</li>");
            continue;
        }
        lx_jbuf_printf(b, "<li data-ss=\"%d %d\">", (int)h, (int)t);
        put_ref(b, &v->ms[h], (size_t)h);
        lx_jbuf_puts(b, " <span class=\"lab\">\xE2\x80\x94[");
        esc(b, label);
        lx_jbuf_puts(b, "]\xE2\x86\x92</span> ");
        put_ref(b, &v->ms[t], (size_t)t);
        put_conf(b, r);
        lx_jbuf_puts(b, "</li>");
        lx_jbuf *tb = &v->table;
        lx_jbuf_printf(tb, "<tr data-doc=\"%d\" data-ss=\"%d %d\"><td><a href=\"#doc-%d\">", art,
                       (int)h, (int)t, art);
        lx_view_escape(tb, v->cur_id, v->cur_id_len);
        lx_jbuf_puts(tb, "</a></td><td>relation</td><td>");
        esc(tb, label);
        lx_jbuf_puts(tb, "</td><td>");
        put_mtext(tb, &v->ms[h]);
        lx_jbuf_puts(tb, " \xE2\x86\x92 ");
        put_mtext(tb, &v->ms[t]);
        lx_jbuf_puts(tb, "</td><td></td><td></td><td>");
        double c;
        if (num_of(r, "confidence", &c)) lx_jbuf_printf(tb, "%.2f", c);
        lx_jbuf_puts(tb, "</td><td></td></tr>");
    }
    lx_jbuf_puts(b, "</ul>");
}

static void put_events(lx_view *v) {
    lx_jbuf *b = &v->body;
    int n = 0;
    for (size_t i = 0; i < v->n_ms; i++) n += v->ms[i].layer == LX_VIEW_TRIGGER;
    if (!n) return;
    lx_jbuf_printf(b, "<h3>Events (%d)</h3><ul class=\"events\">", n);
    for (size_t i = 0; i < v->n_ms; i++) {
        const vm *m = &v->ms[i];
        if (m->layer != LX_VIEW_TRIGGER) continue;
        size_t j = i + 1;
        while (j < v->n_ms && v->ms[j].layer == LX_VIEW_ARGUMENT && v->ms[j].parent == m->parent)
            j++;
        lx_jbuf_printf(b, "<li data-ss=\"%zu", i);
        for (size_t k = i + 1; k < j; k++) lx_jbuf_printf(b, " %zu", k);
        lx_jbuf_puts(b, "\">");
        put_chip(b, m->color, m->type);
        lx_jbuf_putc(b, ' ');
        put_ref(b, m, i);
        for (size_t k = i + 1; k < j; k++) {
            lx_jbuf_puts(b, k == i + 1 ? " \xE2\x80\x94 " : "; ");
            put_chip(b, v->ms[k].color, v->ms[k].type);
            lx_jbuf_putc(b, ' ');
            put_ref(b, &v->ms[k], k);
        }
        put_conf(b, m->parent);
        lx_jbuf_puts(b, "</li>");
    }
    lx_jbuf_puts(b, "</ul>");
}

static void put_triples(lx_view *v) {
    lx_jbuf *b = &v->body;
    int n = 0;
    for (size_t i = 0; i < v->n_ms; i++)
        n += v->ms[i].layer == LX_VIEW_TRIPLE && (i == 0 || v->ms[i - 1].parent != v->ms[i].parent);
    if (!n) return;
    lx_jbuf_printf(b,
                   "<h3>Triples (%d)</h3><table class=\"triples\"><thead><tr><th>subject</th>"
                   "<th>relation</th><th>object</th><th>time</th><th>place</th>"
                   "<th>confidence</th></tr></thead><tbody>",
                   n);
    for (size_t i = 0; i < v->n_ms;) {
        if (v->ms[i].layer != LX_VIEW_TRIPLE) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < v->n_ms && v->ms[j].parent == v->ms[i].parent) j++;
        lx_jbuf_printf(b, "<tr data-ss=\"%zu", i);
        for (size_t k = i + 1; k < j; k++) lx_jbuf_printf(b, " %zu", k);
        lx_jbuf_puts(b, "\">");
        for (int s = 0; s < 5; s++) {
            lx_jbuf_puts(b, "<td>");
            for (size_t k = i; k < j; k++)
                if (strcmp(v->ms[k].type, slots[s]) == 0) put_ref(b, &v->ms[k], k);
            lx_jbuf_puts(b, "</td>");
        }
        lx_jbuf_puts(b, "<td>");
        put_conf(b, v->ms[i].parent);
        lx_jbuf_puts(b, "</td></tr>");
        i = j;
    }
    lx_jbuf_puts(b, "</tbody></table>");
}

/* Adds up the grounding counts, lists the flagged mentions in v->flagged
** and writes one table row per mention. */
static void put_mentions(lx_view *v, int art, int count[4]) {
    lx_jbuf *tb = &v->table;
    for (size_t i = 0; i < v->n_ms; i++) {
        const vm *m = &v->ms[i];
        if (m->match >= 0) count[m->match]++;
        if (m->flag != F_OK) {
            v->st.n_flagged++;
            lx_jbuf_printf(&v->flagged, "<li data-ss=\"%zu\">%s ", i, lx_view_layer_name(m->layer));
            put_chip(&v->flagged, m->color, m->type);
            lx_jbuf_puts(&v->flagged, " \xE2\x80\x9C");
            put_mtext(&v->flagged, m);
            lx_jbuf_puts(&v->flagged, "\xE2\x80\x9D: <span class=\"why\">");
            put_reason(v, &v->flagged, m);
            lx_jbuf_puts(&v->flagged, "</span></li>");
        }
        lx_jbuf_printf(tb, "<tr data-doc=\"%d\" data-ss=\"%zu\"%s><td><a href=\"#doc-%d\">", art, i,
                       m->flag > F_BYTES ? " class=\"flag\"" : "", art);
        lx_view_escape(tb, v->cur_id, v->cur_id_len);
        lx_jbuf_printf(tb, "</a></td><td>%s</td><td>", lx_view_layer_name(m->layer));
        put_chip(tb, m->color, m->type);
        lx_jbuf_puts(tb, "</td><td>");
        put_mtext(tb, m);
        if (m->has_off)
            lx_jbuf_printf(tb, "</td><td>%lld\xE2\x80\x93%lld", (long long)m->start,
                           (long long)m->end);
        else
            lx_jbuf_puts(tb, "</td><td>");
        lx_jbuf_printf(tb, "</td><td>%s</td><td>",
                       m->match >= 0 ? lexie_match_name((lexie_match)m->match) : "?");
        if (m->has_conf) lx_jbuf_printf(tb, "%.2f", m->conf);
        lx_jbuf_puts(tb, "</td><td>");
        if (m->model_text && m->text) {
            lx_jbuf_puts(tb, "model wrote \xE2\x80\x9C");
            put_clipped(tb, m->model_text, m->model_len);
            lx_jbuf_puts(tb, "\xE2\x80\x9D ");
        }
        if (m->flag != F_OK) put_reason(v, tb, m);
        lx_jbuf_puts(tb, "</td></tr>");
    }
}

/* ==== One result line ==== */

static void put_error(lx_view *v, const lx_json *e) {
    lx_jbuf *b = &v->body;
    v->st.n_error_lines++;
    lx_jbuf_puts(b, "<p class=\"err\">error <b>");
    lx_jbuf_reset(&v->tmp);
    const lx_json *code = lx_json_get(e, "code");
    if (code) lx_jbuf_value(&v->tmp, code);
    if (v->tmp.data) lx_view_escape(b, v->tmp.data, v->tmp.len);
    lx_jbuf_puts(b, "</b>: ");
    const lx_json *msg = lx_json_get(e, "message");
    if (msg && msg->type == LX_JSON_STRING)
        lx_view_escape(b, msg->str, msg->len);
    else
        lx_jbuf_puts(b, "(no message)");
    lx_jbuf_puts(b, "</p>");
}

static void put_doc(lx_view *v, const lx_json *r, const char *id, size_t id_len, int art) {
    lx_jbuf_reset(&v->notes);
    lx_jbuf_reset(&v->flagged);
    v->n_ms = 0;
    read_parts(v, r);
    const lx_json *rels = part(v, r, "relations");
    const lx_view_doc *d = v->have_docs ? lx_view_find_doc(v, id, id_len) : NULL;
    if (v->have_docs && !d) {
        v->st.n_missing_docs++;
        note(v, "<span class=\"flag\">id not in the documents</span>: text rebuilt from the spans",
             "", "");
    }
    const lx_json *x = lx_json_get(r, "chunks");
    if (x && x->type == LX_JSON_NUMBER) note(v, "split into ", x->str, " chunks");
    x = lx_json_get(r, "truncated");
    if (x && x->type == LX_JSON_BOOL && x->b)
        note(v, "an answer was cut by its token budget", "", "");
    if (!(d ? (check_text(v, d->text, d->text_len), 1) : rebuild(v)) || v->fail) return;
    lx_jbuf *b = &v->body;
    if (v->notes.len) {
        lx_jbuf_puts(b, "<ul class=\"notes\">");
        lx_jbuf_add(b, v->notes.data, v->notes.len);
        lx_jbuf_puts(b, "</ul>");
    }
    put_text(v, d ? d->text : v->rebuilt.data, d ? d->text_len : v->rebuilt.len,
             d ? NULL : v->known);
    int n_ent = 0;
    while ((size_t)n_ent < v->n_ms && v->ms[n_ent].layer == LX_VIEW_ENTITY) n_ent++;
    int count[4] = {0, 0, 0, 0};
    put_mentions(v, art, count); /* first, so the table lists spans before relations */
    put_relations(v, rels, n_ent, art);
    put_events(v);
    put_triples(v);
    if (v->flagged.len) {
        lx_jbuf_puts(b, "<h3 class=\"flag\">Flagged</h3><ul class=\"flagged\">");
        lx_jbuf_add(b, v->flagged.data, v->flagged.len);
        lx_jbuf_puts(b, "</ul>");
    }
    lx_jbuf_printf(b,
                   "<p class=\"grounding\">grounding: exact %d \xC2\xB7 normalized %d \xC2\xB7 "
                   "fuzzy %d \xC2\xB7 none %d</p>",
                   count[0], count[1], count[2], count[3]);
}

void lx_view_result(lx_view *v, const char *s, size_t n, int line) {
    lexie_error e;
    lx_json_doc *doc = lx_json_parse(s, n, NULL, &e);
    const lx_json *r = doc ? lx_json_root(doc) : NULL, *idv = lx_json_get(r, "id");
    if (!doc || !idv || (idv->type != LX_JSON_STRING && idv->type != LX_JSON_NUMBER)) {
        if (!doc && e.code == LEXIE_E_NOMEM) lx_view_fail(v, LEXIE_E_NOMEM);
        lx_view_problem(v, "results", line,
                        doc ? "not an object with a string or number \"id\"" : e.message);
        v->st.n_bad_lines++;
        lx_json_doc_free(doc);
        return;
    }
    int art = v->n_articles++;
    v->st.n_docs++;
    v->line_bad = 0;
    v->cur_id = idv->str;
    v->cur_id_len = idv->len;
    const lx_json *err = lx_json_get(r, "error");
    lx_jbuf *b = &v->body;
    lx_jbuf_printf(b, "<article id=\"doc-%d\" class=\"doc%s\"><h2><a href=\"#doc-%d\">#%d</a> ",
                   art, err ? " error" : "", art, art);
    lx_view_escape(b, idv->str, idv->len);
    lx_jbuf_printf(b, " <small>line %d</small></h2>", line);
    if (err)
        put_error(v, err);
    else
        put_doc(v, r, idv->str, idv->len, art);
    lx_jbuf_puts(b, "</article>");
    if (v->line_bad) v->st.n_bad_lines++;
    lx_json_doc_free(doc);
}

void lx_view_doc_scratch_free(lx_view *v) {
    free(v->ms);
    free(v->spans);
    free(v->cp_byte);
    free(v->known);
    lx_jbuf_free(&v->rebuilt);
    lx_jbuf_free(&v->notes);
    lx_jbuf_free(&v->flagged);
    lx_jbuf_free(&v->titles);
    lx_jbuf_free(&v->tmp);
}
