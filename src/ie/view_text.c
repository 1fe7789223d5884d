/*
** view_text.c -- a document's text as HTML with its spans highlighted
** (view.h): escaping, and the nesting of overlapping spans into well-formed
** <mark> elements.
**
** Spans are opened longest first at a shared start, so nested spans nest;
** when a span ends while spans opened after it are still open, those are
** closed with it and reopened as continuation fragments (same data-s).  A
** pathological file (thousands of mutually crossing spans) could ask for
** quadratically many fragments, so a budget bounds them.
*/
#include "ie/view.h"

#include "ie/ie.h"

#include <stdlib.h>
#include <string.h>

static const char *const layer_names[LX_VIEW_N_LAYERS] = {"entity", "trigger", "argument",
                                                          "triple"};

const char *lx_view_layer_name(int layer) {
    return layer >= 0 && layer < LX_VIEW_N_LAYERS ? layer_names[layer] : "entity";
}

void lx_view_escape(lx_jbuf *b, const char *s, size_t n) {
    size_t a = 0;
    if (n == 0) return;
    for (size_t i = 0; i < n; i++) {
        const char *r;
        switch (s[i]) {
        case '&': r = "&amp;"; break;
        case '<': r = "&lt;"; break;
        case '>': r = "&gt;"; break;
        case '"': r = "&quot;"; break;
        case '\'': r = "&#39;"; break;
        case '\r': r = "&#13;"; break;        /* a literal CR would be normalised away */
        case '\0': r = "\xEF\xBF\xBD"; break; /* U+FFFD: the parser drops a raw NUL */
        default: continue;
        }
        lx_jbuf_add(b, s + a, i - a);
        lx_jbuf_puts(b, r);
        a = i + 1;
    }
    lx_jbuf_add(b, s + a, n - a);
}

/* ==== Highlighting ==== */

typedef struct {
    int pos, end, id, idx; /* sort keys and the span's index */
} key;

/* Opening order: start ascending, then the longest first, then by id and index. */
static int by_start(const void *pa, const void *pb) {
    const key *a = pa, *b = pb;
    if (a->pos != b->pos) return a->pos < b->pos ? -1 : 1;
    if (a->end != b->end) return a->end > b->end ? -1 : 1;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx); /* deterministic whatever qsort does */
}

static int by_pos(const void *pa, const void *pb) {
    const key *a = pa, *b = pb;
    if (a->pos != b->pos) return a->pos < b->pos ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

typedef struct {
    lx_jbuf *b;
    const char *text;
    size_t n, i; /* text bytes, and the byte at the current code point */
    const unsigned char *known;
    const lx_view_span *sp;
    key *starts, *ends; /* the drawable spans, in opening and in closing order */
    int nv, si, ei;     /* their count, and the next of each to process */
    int *u16;           /* [2 * n_spans]: UTF-16 offsets of each start and end */
    int *stack, *spos, *reopen, depth;
    long frags, max_frags;
} hl;

static void open_tag(hl *h, int s, int cont) {
    const lx_view_span *x = &h->sp[s];
    lx_jbuf *b = h->b;
    if (x->color >= 0)
        lx_jbuf_printf(b, "<mark class=\"t%d", x->color);
    else
        lx_jbuf_puts(b, "<mark class=\"tx");
    lx_jbuf_puts(b, cont ? " cont" : "");
    lx_jbuf_puts(b, x->fuzzy ? " fuzzy" : "");
    lx_jbuf_puts(b, x->warn ? " warn" : "");
    lx_jbuf_printf(b, "\" data-s=\"%d\" data-l=\"%s\" data-u=\"%d %d\"", x->id,
                   lx_view_layer_name(x->layer), h->u16[2 * s], h->u16[2 * s + 1]);
    if (x->type) {
        lx_jbuf_puts(b, " data-type=\"");
        lx_view_escape(b, x->type, strlen(x->type));
        lx_jbuf_putc(b, '"');
    }
    if (x->title) {
        lx_jbuf_puts(b, " title=\"");
        lx_view_escape(b, x->title, strlen(x->title));
        lx_jbuf_putc(b, '"');
    }
    lx_jbuf_putc(b, '>');
    h->spos[s] = h->depth;
    h->stack[h->depth++] = s;
    h->frags++;
}

/* Closes the spans that end at p (and those opened inside them, which are
** reopened), then opens the spans that start at p. */
static void boundary(hl *h, int p) {
    int lo = h->depth;
    for (; h->ei < h->nv && h->ends[h->ei].pos == p; h->ei++) {
        int s = h->ends[h->ei].idx;
        if (h->spos[s] < lo) lo = h->spos[s];
    }
    int n_re = 0;
    for (int k = h->depth - 1; k >= lo; k--) lx_jbuf_puts(h->b, "</mark>");
    for (int k = lo; k < h->depth; k++)
        if (h->sp[h->stack[k]].end > p) h->reopen[n_re++] = h->stack[k];
    if (lo < h->depth) h->depth = lo;
    for (int k = 0; k < n_re; k++) open_tag(h, h->reopen[k], 1);
    for (; h->si < h->nv && h->starts[h->si].pos == p; h->si++)
        open_tag(h, h->starts[h->si].idx, 0);
}

/* Appends the text of code points [p, q): escaped, with each run of
** unknown code points drawn as one gap. */
static void run(hl *h, int p, int q) {
    while (p < q) {
        int gap = h->known && !h->known[p];
        int r = p;
        size_t j = h->i;
        while (r < q && (h->known ? !h->known[r] : 0) == gap) {
            j += (size_t)lx_utf8_len((unsigned char)h->text[j]);
            if (j > h->n) j = h->n;
            r++;
        }
        if (gap)
            lx_jbuf_printf(h->b,
                           "<span class=\"gap\" title=\"%d characters not in any span\">"
                           "\xE2\x80\xA6</span>",
                           r - p);
        else
            lx_view_escape(h->b, h->text + h->i, j - h->i);
        h->i = j;
        p = r;
    }
}

/* UTF-16 offsets of every drawable span's start and end, in one pass. */
static void utf16_offsets(hl *h, key *ev, int n_ev) {
    qsort(ev, (size_t)n_ev, sizeof *ev, by_pos);
    int p = 0, u = 0;
    size_t i = 0;
    for (int k = 0; k < n_ev; k++) {
        for (; p < ev[k].pos && i < h->n; p++) {
            int len = lx_utf8_len((unsigned char)h->text[i]);
            u += len == 4 ? 2 : 1; /* beyond the BMP: a surrogate pair */
            i += (size_t)len;
        }
        h->u16[ev[k].idx] = u;
    }
}

static lexie_status walk(hl *h, int ncp) {
    for (int p = 0;;) {
        boundary(h, p);
        if (h->frags > h->max_frags) return LEXIE_E_RANGE;
        if (p >= ncp) break;
        int q = ncp;
        if (h->si < h->nv && h->starts[h->si].pos < q) q = h->starts[h->si].pos;
        if (h->ei < h->nv && h->ends[h->ei].pos < q) q = h->ends[h->ei].pos;
        run(h, p, q);
        p = q;
    }
    for (; h->depth > 0; h->depth--) lx_jbuf_puts(h->b, "</mark>"); /* none left: ends <= ncp */
    return LEXIE_OK;
}

lexie_status lx_view_highlight(lx_jbuf *b, const char *text, size_t n, const unsigned char *known,
                               const lx_view_span *spans, int n_spans, long max_frags,
                               lexie_error *err) {
    if (!b || (!text && n) || n_spans < 0 || (!spans && n_spans))
        return lx_fail(err, LEXIE_E_INVALID, "view: bad arguments to the highlighter");
    int ncp = lx_ie_cp_count(text, n);
    size_t ns = (size_t)n_spans + 1;
    hl h = {.b = b, .text = text, .n = n, .known = known, .sp = spans};
    h.max_frags = max_frags > 0 ? max_frags : 64L * n_spans + 4096;
    h.starts = lx_calloc(ns, sizeof(key), err);
    h.ends = h.starts ? lx_calloc(ns, sizeof(key), err) : NULL;
    key *ev = h.ends ? lx_calloc(2 * ns, sizeof(key), err) : NULL;
    h.u16 = ev ? lx_calloc(2 * ns, sizeof(int), err) : NULL;
    h.stack = h.u16 ? lx_calloc(3 * ns, sizeof(int), err) : NULL;
    lexie_status st = h.stack ? LEXIE_OK : LEXIE_E_NOMEM;
    if (st == LEXIE_OK) {
        h.spos = h.stack + ns;
        h.reopen = h.spos + ns;
        for (int s = 0; s < n_spans; s++) {
            const lx_view_span *x = &spans[s];
            if (x->start < 0 || x->end <= x->start || x->end > ncp) continue;
            h.starts[h.nv] = (key){x->start, x->end, x->id, s};
            h.ends[h.nv] = (key){x->end, x->end, x->id, s};
            ev[2 * h.nv] = (key){x->start, 0, 0, 2 * s};
            ev[2 * h.nv + 1] = (key){x->end, 0, 0, 2 * s + 1};
            h.nv++;
        }
        qsort(h.starts, (size_t)h.nv, sizeof(key), by_start);
        qsort(h.ends, (size_t)h.nv, sizeof(key), by_pos);
        utf16_offsets(&h, ev, 2 * h.nv);
        size_t len0 = b->len;
        st = walk(&h, ncp);
        if (st == LEXIE_E_RANGE) {
            b->len = len0;
            if (b->data) b->data[len0] = 0;
            lx_fail(err, st, "more than %ld fragments to draw %d overlapping spans", h.max_frags,
                    h.nv);
        }
    }
    free(h.starts);
    free(h.ends);
    free(ev);
    free(h.u16);
    free(h.stack);
    return st;
}
