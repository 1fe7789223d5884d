/*
** view.c -- lexie_view_html: `lexie extract`'s output lines as one
** self-contained HTML page (issue 13's view).  This file reads the
** documents file and assembles the page; view_doc.c renders each result
** line, view_text.c the highlighted text.
**
** The page is assembled last, because its head holds the colours of the
** types met and the summary counts.  It needs nothing from the network:
** styles and script are inline, and a Content-Security-Policy forbids
** every fetch and lets only the page's own script run (by its SHA-256),
** so even a markup injection that escaping missed could not run script.
*/
#include "ie/view.h"

#include "ie/ie.h"

#include <stdlib.h>
#include <string.h>

void lx_view_fail(lx_view *v, lexie_status st) {
    if (v->fail == LEXIE_OK) v->fail = st;
}

void lx_view_problem(lx_view *v, const char *what, int line, const char *msg) {
    lx_jbuf_printf(&v->problems, "<li>%s line %d: ", what, line);
    lx_view_escape(&v->problems, msg, strlen(msg));
    lx_jbuf_puts(&v->problems, "</li>");
}

int lx_view_type_color(lx_view *v, const char *name) {
    for (int i = 0; i < v->n_types; i++)
        if (strcmp(v->types[i].name, name) == 0) {
            v->types[i].count++;
            return i;
        }
    if (v->n_types == LX_VIEW_COLORS) {
        v->n_types_over++;
        return -1;
    }
    char *copy = lx_strdup(name, NULL);
    if (!copy) {
        lx_view_fail(v, LEXIE_E_NOMEM);
        return -1;
    }
    v->types[v->n_types] = (lx_view_type){copy, 1};
    return v->n_types++;
}

/* ==== The documents file ==== */

static int id_cmp(const char *a, size_t na, const char *b, size_t nb) {
    int c = memcmp(a, b, LX_MIN(na, nb));
    return c ? c : (na > nb) - (na < nb);
}

/* By id, then by line, so that the first line of a repeated id sorts first. */
static int by_id(const void *pa, const void *pb) {
    const lx_view_doc *a = pa, *b = pb;
    int c = id_cmp(a->id, a->id_len, b->id, b->id_len);
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

const lx_view_doc *lx_view_find_doc(const lx_view *v, const char *id, size_t n) {
    size_t lo = 0, hi = v->n_docs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = id_cmp(v->docs[mid].id, v->docs[mid].id_len, id, n);
        if (c == 0) return &v->docs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void doc_line(lx_view *v, const char *s, size_t n, int line) {
    lexie_error e;
    lx_json_doc *d = lx_json_parse(s, n, NULL, &e);
    const lx_json *r = d ? lx_json_root(d) : NULL, *id = lx_json_get(r, "id"),
                  *t = lx_json_get(r, "text");
    if (!d) {
        if (e.code == LEXIE_E_NOMEM) lx_view_fail(v, LEXIE_E_NOMEM);
        lx_view_problem(v, "docs", line, e.message);
    } else if (!id || (id->type != LX_JSON_STRING && id->type != LX_JSON_NUMBER) || !t ||
               t->type != LX_JSON_STRING) {
        lx_view_problem(v, "docs", line,
                        "not an object with a string or number \"id\" and a string \"text\"");
    } else if (lx_grow((void **)&v->keep, &v->cap_keep, v->n_keep + 1, sizeof *v->keep, NULL) ||
               lx_grow((void **)&v->docs, &v->cap_docs, v->n_docs + 1, sizeof *v->docs, NULL)) {
        lx_view_fail(v, LEXIE_E_NOMEM);
    } else {
        v->keep[v->n_keep++] = d;
        v->docs[v->n_docs] = (lx_view_doc){id->str, t->str, id->len, t->len, (size_t)v->n_docs};
        v->n_docs++;
        return;
    }
    v->st.n_bad_doc_lines++;
    lx_json_doc_free(d);
}

/* Calls fn on each line of text[0..n) that is not blank, with its number
** (a CR before the newline is dropped). */
static void each_line(lx_view *v, const char *text, size_t n,
                      void (*fn)(lx_view *, const char *, size_t, int)) {
    int line = 0;
    for (size_t i = 0; i < n && v->fail == LEXIE_OK;) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - text) : n, len = e - i, k = 0;
        line++;
        if (len && text[i + len - 1] == '\r') len--;
        while (k < len && (text[i + k] == ' ' || text[i + k] == '\t')) k++;
        if (k < len) fn(v, text + i, len, line);
        i = e + 1;
    }
}

/* Indexes the documents by id; a repeated id keeps its first line. */
static void load_docs(lx_view *v, const char *docs, size_t n) {
    v->have_docs = 1;
    each_line(v, docs, n, doc_line);
    if (v->n_docs > 1) qsort(v->docs, v->n_docs, sizeof *v->docs, by_id);
    size_t w = 0;
    for (size_t i = 0; i < v->n_docs; i++) {
        const lx_view_doc *d = &v->docs[i];
        if (w && id_cmp(v->docs[w - 1].id, v->docs[w - 1].id_len, d->id, d->id_len) == 0) {
            lx_jbuf_puts(&v->problems, "<li>docs: id ");
            lx_view_escape(&v->problems, d->id, d->id_len);
            lx_jbuf_puts(&v->problems, " appears more than once; its first line is used</li>");
            v->st.n_bad_doc_lines++;
            continue;
        }
        v->docs[w++] = *d;
    }
    v->n_docs = w;
}

/* ==== The page ==== */

static const char page_css[] =
    ":root{--h:210;font:15px/1.45 system-ui,sans-serif;color:#1d1d1f;background:#f6f6f4}\n"
    "body{max-width:72em;margin:0 auto;padding:0 1em 2em}\n"
    "h1{font-size:1.35em;margin:.3em 0}h2{font-size:1.05em;margin:.2em 0}\n"
    "h3{font-size:.95em;margin:.8em 0 .2em}h2 small{color:#888;font-weight:normal}\n"
    "header{position:sticky;top:0;z-index:1;background:#f6f6f4;padding:.3em 0;"
    "border-bottom:1px solid #ddd}\n"
    "article{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em 1em;"
    "margin:1em 0}\n"
    "article.error{border-color:#c0392b;background:#fff6f5}\n"
    ".text{white-space:pre-wrap;overflow-wrap:anywhere;line-height:2.3;font-size:1.05em}\n"
    "mark,.chip,.ref{color:inherit;background:hsl(var(--h) 85% 62%/.3);"
    "border-bottom:2px solid hsl(var(--h) 70% 38%);border-radius:2px}\n"
    "mark{padding:2px 0}mark mark{padding:0}\n"
    ".chip,.ref{padding:0 .3em}.chip{font-size:.85em;font-weight:600}\n"
    "mark.tx,.chip.tx,.ref.tx{background:#e4e4e4;border-bottom-color:#888}\n"
    "mark.fuzzy{border-bottom-style:dashed}mark.warn{outline:1px dashed #c0392b}\n"
    "mark.end::after{content:attr(data-type);font-size:.6em;font-weight:600;"
    "vertical-align:super;margin-left:1px;color:hsl(var(--h) 70% 28%)}\n"
    ".hl{outline:2px solid #e67e22;outline-offset:1px}\n"
    ".gap{color:#999;background:#eee;border-radius:3px;padding:0 .2em}\n"
    ".flag,.why,.problems,tr.flag td{color:#b03a2e}\n"
    ".conf,.grounding,.summary{color:#666}.conf,.grounding{font-size:.85em}.lab{color:#555}\n"
    "ul{margin:.2em 0;padding-left:1.4em}\n"
    "table{border-collapse:collapse;font-size:.9em;margin:.3em 0;width:100%}\n"
    "th,td{border:1px solid #e2e2e2;padding:2px 6px;text-align:left;vertical-align:top}\n"
    "th{background:#f0f0ee}.layers label{margin-right:1em}#filter{width:20em}\n"
    "body.hide-entity mark[data-l=entity],body.hide-trigger mark[data-l=trigger],"
    "body.hide-argument mark[data-l=argument],body.hide-triple mark[data-l=triple]"
    "{background:none;border-bottom-color:transparent;outline:none}\n"
    "body.hide-entity mark[data-l=entity]::after,body.hide-trigger mark[data-l=trigger]::after,"
    "body.hide-argument mark[data-l=argument]::after,"
    "body.hide-triple mark[data-l=triple]::after{content:none}\n";

/* Hover links a span, its relations, events, triples and table rows; the
** layer boxes hide layers; the box above the table filters its rows.  On
** load it labels each span's last fragment and checks every highlight of
** a document shown whole against its UTF-16 offsets (data-u): body gets
** data-selfcheck="ok N" or "fail K of N", which the Chromium test reads.
** With #lexie-hover-test in the URL it hovers the first mark and writes
** how many elements lit up to data-hovertest (the test's hook). */
static const char page_js[] =
    "(function () {\n"
    "'use strict';\n"
    "var body = document.body, lit = [];\n"
    "function ids(el) {\n"
    "  return (el.getAttribute('data-ss') || el.getAttribute('data-s') || '').split(' ')\n"
    "    .filter(Boolean);\n"
    "}\n"
    "function art(el) {\n"
    "  var d = el.getAttribute('data-doc');\n"
    "  return d !== null ? document.getElementById('doc-' + d) : el.closest('article');\n"
    "}\n"
    "function light(el) { el.classList.add('hl'); lit.push(el); }\n"
    "document.addEventListener('mouseover', function (ev) {\n"
    "  lit.forEach(function (el) { el.classList.remove('hl'); });\n"
    "  lit = [];\n"
    "  var t = ev.target;\n"
    "  if (!t.closest) return;\n"
    "  var chip = t.closest('[data-c]');\n"
    "  if (chip) {\n"
    "    document.querySelectorAll('mark.t' + chip.getAttribute('data-c')).forEach(light);\n"
    "    return;\n"
    "  }\n"
    "  var el = t.closest('[data-ss],mark[data-s]'), a = el && art(el);\n"
    "  if (!a) return;\n"
    "  var want = ids(el);\n"
    "  light(el);\n"
    "  want.forEach(function (s) {\n"
    "    a.querySelectorAll('mark[data-s=\"' + s + '\"]').forEach(light);\n"
    "  });\n"
    "  if (el.tagName === 'MARK')\n"
    "    a.querySelectorAll('[data-ss]').forEach(function (r) {\n"
    "      if (ids(r).indexOf(want[0]) >= 0) light(r);\n"
    "    });\n"
    "});\n"
    "document.querySelectorAll('input[data-layer]').forEach(function (c) {\n"
    "  c.addEventListener('change', function () {\n"
    "    body.classList.toggle('hide-' + c.getAttribute('data-layer'), !c.checked);\n"
    "  });\n"
    "});\n"
    "var f = document.getElementById('filter');\n"
    "if (f) f.addEventListener('input', function () {\n"
    "  var q = f.value.toLowerCase();\n"
    "  document.querySelectorAll('#all tbody tr').forEach(function (r) {\n"
    "    r.hidden = q !== '' && r.textContent.toLowerCase().indexOf(q) < 0;\n"
    "  });\n"
    "});\n"
    "var n = 0, bad = 0;\n"
    "document.querySelectorAll('.text').forEach(function (t) {\n"
    "  var frags = {}, order = [], exact = t.hasAttribute('data-exact'), full = t.textContent;\n"
    "  t.querySelectorAll('mark[data-s]').forEach(function (m) {\n"
    "    var s = m.getAttribute('data-s');\n"
    "    if (!frags[s]) { frags[s] = []; order.push(s); }\n"
    "    frags[s].push(m);\n"
    "  });\n"
    "  order.forEach(function (s) {\n"
    "    var fs = frags[s], u = fs[0].getAttribute('data-u').split(' ');\n"
    "    fs[fs.length - 1].classList.add('end');\n"
    "    if (!exact) return;\n"
    "    n++;\n"
    "    var got = fs.map(function (m) { return m.textContent; }).join('');\n"
    "    if (full.slice(+u[0], +u[1]) !== got) bad++;\n"
    "  });\n"
    "});\n"
    "body.setAttribute('data-selfcheck', bad ? 'fail ' + bad + ' of ' + n : 'ok ' + n);\n"
    "if (location.hash === '#lexie-hover-test') {\n"
    "  var m0 = document.querySelector('mark[data-s]');\n"
    "  if (m0) m0.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));\n"
    "  body.setAttribute('data-hovertest', String(document.querySelectorAll('.hl').length));\n"
    "}\n"
    "})();\n";

static void base64(lx_jbuf *b, const unsigned char *s, size_t n) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        char q[4] = {abc[v >> 18], abc[(v >> 12) & 63], i + 1 < n ? abc[(v >> 6) & 63] : '=',
                     i + 2 < n ? abc[v & 63] : '='};
        lx_jbuf_add(b, q, 4);
    }
}

static void put_head(lx_view *v, lx_jbuf *b, const char *title) {
    lx_sha256 h;
    unsigned char digest[32];
    lx_sha256_init(&h);
    lx_sha256_update(&h, page_js, sizeof page_js - 1);
    lx_sha256_final(&h, digest);
    lx_jbuf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                    "style-src 'unsafe-inline'; script-src 'sha256-");
    base64(b, digest, sizeof digest);
    lx_jbuf_printf(b,
                   "'; base-uri 'none'; form-action 'none'\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<meta name=\"generator\" content=\"lexie %s\">\n<title>",
                   lexie_version());
    lx_view_escape(b, title, strlen(title));
    lx_jbuf_puts(b, "</title>\n<style>\n");
    lx_jbuf_puts(b, page_css);
    for (int i = 0; i < v->n_types; i++) /* golden-angle hues: neighbours stay apart */
        lx_jbuf_printf(b, ".t%d{--h:%d}", i, (int)((i * 137508L / 1000) % 360));
    lx_jbuf_puts(b, "\n</style></head>\n<body>\n<header><h1>");
    lx_view_escape(b, title, strlen(title));
    lx_jbuf_puts(b, "</h1>\n");
}

static void put_summary(lx_view *v, lx_jbuf *b) {
    const lexie_view_stats *s = &v->st;
    lx_jbuf_printf(b,
                   "<p class=\"summary\">%d documents \xC2\xB7 %d spans: exact %d, normalized %d, "
                   "fuzzy %d, none %d \xC2\xB7 %d flagged",
                   s->n_docs, s->n_spans, s->n_match[0], s->n_match[1], s->n_match[2],
                   s->n_match[3], s->n_flagged);
    if (s->n_error_lines) lx_jbuf_printf(b, " \xC2\xB7 %d error lines", s->n_error_lines);
    if (s->n_bad_lines) lx_jbuf_printf(b, " \xC2\xB7 %d malformed lines", s->n_bad_lines);
    if (s->n_missing_docs)
        lx_jbuf_printf(b, " \xC2\xB7 %d ids not in the documents", s->n_missing_docs);
    if (!v->have_docs) lx_jbuf_puts(b, " \xC2\xB7 no documents given: texts rebuilt from spans");
    lx_jbuf_puts(b, "</p>\n<div class=\"legend\">");
    for (int i = 0; i < v->n_types; i++) {
        lx_jbuf_printf(b, "<span class=\"chip t%d\" data-c=\"%d\">", i, i);
        lx_view_escape(b, v->types[i].name, strlen(v->types[i].name));
        lx_jbuf_printf(b, " <small>%d</small></span> ", v->types[i].count);
    }
    if (v->n_types_over)
        lx_jbuf_printf(b, "<span class=\"chip tx\">other types <small>%d</small></span>",
                       v->n_types_over);
    lx_jbuf_puts(b, "</div>\n<div class=\"layers\">");
    for (int l = 0; l < LX_VIEW_N_LAYERS; l++)
        if (v->n_layer[l])
            lx_jbuf_printf(b,
                           "<label><input type=\"checkbox\" data-layer=\"%s\" checked> %s</label>",
                           lx_view_layer_name(l), lx_view_layer_name(l));
    lx_jbuf_puts(b, "</div></header>\n");
    if (v->problems.len) {
        lx_jbuf_puts(b, "<section class=\"problems\"><h2>Problems</h2><ul>");
        lx_jbuf_add(b, v->problems.data, v->problems.len);
        lx_jbuf_puts(b, "</ul></section>\n");
    }
}

static void assemble(lx_view *v, lx_jbuf *b, const char *title) {
    put_head(v, b, title ? title : "lexie view");
    put_summary(v, b);
    if (v->body.data) lx_jbuf_add(b, v->body.data, v->body.len);
    lx_jbuf_puts(b, "\n<section id=\"all\"><h2>All extractions</h2>"
                    "<input id=\"filter\" type=\"search\" placeholder=\"filter rows\">"
                    "<table><thead><tr><th>document</th><th>kind</th><th>type</th><th>text</th>"
                    "<th>offsets</th><th>match</th><th>confidence</th><th>note</th></tr></thead>"
                    "<tbody>");
    if (v->table.data) lx_jbuf_add(b, v->table.data, v->table.len);
    lx_jbuf_puts(b, "</tbody></table></section>\n<script>");
    lx_jbuf_add(b, page_js, sizeof page_js - 1);
    lx_jbuf_puts(b, "</script>\n</body></html>\n");
}

static void view_free(lx_view *v) {
    if (!v) return;
    lx_jbuf_free(&v->body);
    lx_jbuf_free(&v->table);
    lx_jbuf_free(&v->problems);
    for (size_t i = 0; i < v->n_keep; i++) lx_json_doc_free(v->keep[i]);
    free(v->keep);
    free(v->docs);
    for (int i = 0; i < v->n_types; i++) free(v->types[i].name);
    lx_view_doc_scratch_free(v);
    free(v);
}

lexie_status lexie_view_html(const char *results, size_t results_len, const char *docs,
                             size_t docs_len, const char *title, char **out, size_t *out_len,
                             lexie_view_stats *stats, lexie_error *err) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (stats) memset(stats, 0, sizeof *stats);
    if (!out || (!results && results_len) || (!docs && docs_len))
        return lx_fail(err, LEXIE_E_INVALID,
                       "lexie_view_html: out is NULL, or a NULL text has a length");
    lx_view *v = lx_calloc(1, sizeof *v, err);
    if (!v) return LEXIE_E_NOMEM;
    if (docs) load_docs(v, docs, docs_len);
    if (results) each_line(v, results, results_len, lx_view_result);
    lx_jbuf page = {0};
    if (v->fail == LEXIE_OK) assemble(v, &page, title);
    int oom = v->body.oom || v->table.oom || v->problems.oom || v->notes.oom || v->flagged.oom ||
              v->tmp.oom || v->rebuilt.oom || page.oom;
    lexie_status st = v->fail != LEXIE_OK ? v->fail : oom ? LEXIE_E_NOMEM : LEXIE_OK;
    if (stats) *stats = v->st;
    view_free(v);
    if (st != LEXIE_OK) {
        lx_jbuf_free(&page);
        return lx_fail(err, st, "lexie_view_html: out of memory");
    }
    *out = page.data;
    if (out_len) *out_len = page.len;
    return LEXIE_OK;
}
