/*
** view.h -- the HTML view of extraction results (lexie.h: lexie_view_html,
** `lexie view`): the pieces the page is built from (exposed for the tests)
** and the state that view.c, view_doc.c and view_text.c share.
**
** Highlights are rendered here, in C, not in the browser: the text goes
** out escaped once, each span becomes one or more <mark> elements, and no
** document text ever reaches a script.  Offsets in the results count code
** points; every mark also carries its span's UTF-16 offsets (data-u) into
** the text element's textContent, which is what JavaScript indexes, so a
** script can map a selection back (and the page checks itself with them;
** a text rebuilt from spans has gap elements, so it is not checked).
*/
#ifndef LX_VIEW_H
#define LX_VIEW_H

#include "base/base.h"
#include "base/json.h"

#include <stdint.h>

/* The layers a span belongs to; each can be hidden on the page. */
enum { LX_VIEW_ENTITY = 0, LX_VIEW_TRIGGER, LX_VIEW_ARGUMENT, LX_VIEW_TRIPLE, LX_VIEW_N_LAYERS };

/* The layer's name as written in data-l and in the page's toggles. */
const char *lx_view_layer_name(int layer);

/* One span to highlight.  All strings are borrowed. */
typedef struct lx_view_span {
    int start, end;    /* code points into the text, end exclusive */
    int id;            /* data-s: the span's number in its document (>= 0) */
    int color;         /* colour class tN (0..255), or -1 for the neutral one */
    int layer;         /* LX_VIEW_* */
    const char *type;  /* data-type and the label shown after the span; may be NULL */
    const char *title; /* tooltip; may be NULL */
    int fuzzy;         /* 1: drawn dashed (grounded by fuzzy alignment) */
    int warn;          /* 1: drawn with a warning outline (text or bytes differ) */
} lx_view_span;

/* Appends s[0..n) (valid UTF-8) escaped for HTML text and for quoted
** attribute values alike: & < > " ' as references, CR as &#13; (so the
** parser's newline normalisation cannot shift offsets), NUL as U+FFFD (a
** parser would drop it).  Every code point stays one code point. */
void lx_view_escape(lx_jbuf *b, const char *s, size_t n);

/* Appends text[0..n) (valid UTF-8) with the spans as <mark> elements,
** nested where spans nest; a span that crosses another is split into
** fragments (class "cont" after the first) sharing its data-s.  Spans
** outside [0, code points of text] or empty are skipped (the caller flags
** them).  known, when not NULL, holds one byte per code point: a run of
** zeros is rebuilt text nobody saw, drawn as one gap element.  Fails with
** LEXIE_E_RANGE when the overlaps would need more than max_frags fragments
** (0: 64 per span plus 4096), leaving b as it was; LEXIE_E_NOMEM. */
lexie_status lx_view_highlight(lx_jbuf *b, const char *text, size_t n, const unsigned char *known,
                               const lx_view_span *spans, int n_spans, long max_frags,
                               lexie_error *err);

/* ==== The page being built (view.c: the page, view_doc.c: one result) ==== */

#define LX_VIEW_COLORS 256 /* types with a colour of their own; later ones share a grey */

typedef struct lx_view_doc {
    const char *id, *text; /* borrowed from a kept parsed line */
    size_t id_len, text_len;
    size_t seq; /* line order, so that a repeated id keeps its first line */
} lx_view_doc;

typedef struct lx_view_type {
    char *name; /* owned */
    int count;
} lx_view_type;

typedef struct lx_view_mention lx_view_mention; /* view_doc.c */

typedef struct lx_view {
    lx_jbuf body, table, problems; /* the articles, the table's rows, the problems list */
    lx_json_doc **keep;            /* the docs file's parsed lines (docs point into them) */
    size_t n_keep, cap_keep;
    lx_view_doc *docs; /* sorted by id */
    size_t n_docs, cap_docs;
    int have_docs;
    lx_view_type types[LX_VIEW_COLORS];
    int n_types, n_types_over;
    /* per-document scratch, reused */
    lx_view_mention *ms;
    size_t n_ms, cap_ms;
    lx_view_span *spans;
    size_t cap_spans;
    uint32_t *cp_byte; /* byte offset of each code point of the text (and the end) */
    size_t cap_cp;
    unsigned char *known; /* rebuilt text: 1 where a span said which character it is */
    size_t cap_known;
    lx_jbuf rebuilt, notes, flagged, titles, tmp;
    int doc_cp;         /* code points of the current text */
    const char *cur_id; /* the current result's id (borrowed) */
    size_t cur_id_len;
    int n_layer[LX_VIEW_N_LAYERS]; /* spans read per layer */
    int n_articles;
    int line_bad; /* the current line has a malformed part */
    lexie_view_stats st;
    lexie_status fail; /* the first allocation failure; the page is then abandoned */
} lx_view;

/* Records an allocation failure (the first one wins). */
void lx_view_fail(lx_view *v, lexie_status st);
/* The colour class of a type (counting it), or -1 past LX_VIEW_COLORS. */
int lx_view_type_color(lx_view *v, const char *name);
/* Adds "<li>WHAT line N: MSG</li>" to the problems list. */
void lx_view_problem(lx_view *v, const char *what, int line, const char *msg);
/* The document of an id, or NULL. */
const lx_view_doc *lx_view_find_doc(const lx_view *v, const char *id, size_t n);
/* Renders one result line (its article and its table rows). */
void lx_view_result(lx_view *v, const char *line, size_t n, int line_no);
/* Frees a view's per-document scratch (view_doc.c). */
void lx_view_doc_scratch_free(lx_view *v);

#endif /* LX_VIEW_H */
