/*
** ie_readers.c -- gold documents for the extraction evaluation: CoNLL-style
** IOB files (CoNLL-2003, NCBI-disease, BC5CDR), CaRB's sentences and gold
** tuples, PHEE's event JSONL and ADELIE's chat-format test sets
** (ie_data.h says what each keeps).
**
** Every reader takes the whole file (bounded: 256 MiB), refuses NUL bytes
** and invalid UTF-8, names "file:line" in each error, and counts what it
** reads but does not keep in lx_ie_set.skipped.
*/
#include "ie_data.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FILE ((size_t)256 << 20)
#define MAX_TOKEN 1024
#define MAX_SENT_TOKENS 10000

/* ==== Sets and documents ==== */

void lx_gold_tuple_clear(lx_gold_tuple *t) {
    if (!t) return;
    free(t->rel);
    for (int i = 0; i < t->n_args; i++) free(t->args[i]);
    free(t->args);
    memset(t, 0, sizeof *t);
}

static void event_clear(lexie_event *e) {
    lexie_mention_clear(&e->trigger);
    for (int j = 0; j < e->n_args; j++) lexie_mention_clear(&e->args[j]);
    free(e->args);
    memset(e, 0, sizeof *e);
}

static void doc_clear(lx_ie_doc *d) {
    free(d->id);
    free(d->text);
    for (int i = 0; i < d->n_ents; i++) lexie_mention_clear(&d->ents[i]);
    free(d->ents);
    for (int i = 0; i < d->n_events; i++) event_clear(&d->events[i]);
    free(d->events);
    for (int i = 0; i < d->n_tuples; i++) lx_gold_tuple_clear(&d->tuples[i]);
    free(d->tuples);
    for (int i = 0; i < d->n_turns; i++) {
        free(d->turns[i].role);
        free(d->turns[i].content);
    }
    free(d->turns);
    free(d->gold_answer);
    free(d->question);
    memset(d, 0, sizeof *d);
}

void lx_ie_set_free(lx_ie_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) doc_clear(&s->docs[i]);
    free(s->docs);
    memset(s, 0, sizeof *s);
}

/* Moves *d into s (d is zeroed); on failure d is cleared. */
static lexie_status set_push(lx_ie_set *s, lx_ie_doc *d, lexie_error *err) {
    if (s->n == INT32_MAX ||
        lx_grow((void **)&s->docs, &s->cap, (size_t)s->n + 1, sizeof *s->docs, err) != LEXIE_OK) {
        doc_clear(d);
        return LEXIE_E_NOMEM;
    }
    s->docs[s->n++] = *d;
    memset(d, 0, sizeof *d);
    return LEXIE_OK;
}

static void skip(lx_ie_set *s, const char *path, int line, const char *what) {
    if (s->skipped.n++ == 0)
        snprintf(s->skipped.first, sizeof s->skipped.first, "%s:%d: %s", path, line, what);
}

static char *id_of_index(int i, lexie_error *err) {
    char b[32];
    snprintf(b, sizeof b, "%d", i);
    return lx_strdup(b, err);
}

/* A grounded gold mention of text[bs..be) (bytes), cs..ce (code points). */
static lexie_status mention_make(lexie_mention *m, const char *type, const char *text, long bs,
                                 long be, int cs, int ce, lexie_error *err) {
    memset(m, 0, sizeof *m);
    m->type = lx_strdup(type, err);
    m->text = lx_strndup(text + bs, (size_t)(be - bs), err);
    if (!m->type || !m->text) {
        lexie_mention_clear(m);
        return LEXIE_E_NOMEM;
    }
    m->start = cs;
    m->end = ce;
    m->byte_start = bs;
    m->byte_end = be;
    m->match = LEXIE_MATCH_EXACT;
    m->match_score = 1.0f;
    m->confidence = 1.0f;
    return LEXIE_OK;
}

/* ==== Lines ==== */

/* Python's str.strip() for ASCII whitespace, in place. */
static char *strip(char *s) {
    while (*s && strchr(" \t\n\r\v\f\x1c\x1d\x1e\x1f", *s)) s++;
    size_t l = strlen(s);
    while (l && strchr(" \t\n\r\v\f\x1c\x1d\x1e\x1f", s[l - 1])) s[--l] = 0;
    return s;
}

/* ==== IOB: CoNLL-2003, NCBI-disease, BC5CDR ==== */

/* Tag types of the IOB files -> the type names the extractor is asked
** for.  The one place the mapping lives. */
static const char *const type_map[][2] = {
    {"person", "person"},
    {"PER", "person"},
    {"organisation", "organization"},
    {"organization", "organization"},
    {"ORG", "organization"},
    {"location", "location"},
    {"LOC", "location"},
    {"misc", "miscellaneous"},
    {"MISC", "miscellaneous"},
    {"Disease", "disease"},
    {"Chemical", "chemical"},
};

const char *lx_ie_type_name(const char *tag_type) {
    for (size_t i = 0; tag_type && i < LX_ARRAY_LEN(type_map); i++)
        if (strcmp(tag_type, type_map[i][0]) == 0) return type_map[i][1];
    return NULL;
}

typedef struct iob_state {
    lx_jbuf text;
    lexie_mention *ents;
    size_t cap;
    int n_ents, n_tok, cp, first_line;
    const char *open; /* type of the open span, or NULL */
    int open_cp;
    long open_byte;
    int last_cp_end;
    long last_byte_end;
} iob_state;

static lexie_status iob_close(iob_state *st, lexie_error *err) {
    if (!st->open) return LEXIE_OK;
    if (lx_grow((void **)&st->ents, &st->cap, (size_t)st->n_ents + 1, sizeof *st->ents, err))
        return LEXIE_E_NOMEM;
    lexie_status rc = mention_make(&st->ents[st->n_ents], st->open, st->text.data, st->open_byte,
                                   st->last_byte_end, st->open_cp, st->last_cp_end, err);
    if (rc == LEXIE_OK) st->n_ents++;
    st->open = NULL;
    return rc;
}

/* Ends the sentence: pushes it when it has tokens, resets the state. */
static lexie_status iob_flush(iob_state *st, lx_ie_set *s, lexie_error *err) {
    lexie_status rc = iob_close(st, err);
    if (rc == LEXIE_OK && st->n_tok > 0) {
        lx_ie_doc d;
        memset(&d, 0, sizeof d);
        if (st->text.oom) rc = lx_fail(err, LEXIE_E_NOMEM, "out of memory");
        d.id = rc == LEXIE_OK ? id_of_index(s->n, err) : NULL;
        d.text = lx_strdup(st->text.data, err);
        if (rc == LEXIE_OK && (!d.id || !d.text)) rc = LEXIE_E_NOMEM;
        d.line = st->first_line;
        d.ents = st->ents;
        d.n_ents = st->n_ents;
        st->ents = NULL;
        st->n_ents = 0;
        if (rc == LEXIE_OK)
            rc = set_push(s, &d, err);
        else
            doc_clear(&d);
    }
    for (int i = 0; i < st->n_ents; i++) lexie_mention_clear(&st->ents[i]);
    free(st->ents);
    lx_jbuf_reset(&st->text);
    st->ents = NULL;
    st->cap = 0;
    st->n_ents = st->n_tok = st->cp = 0;
    return rc;
}

/* One `token<TAB>tag` line into the sentence. */
static lexie_status iob_token(iob_state *st, char *line, const char *path, int ln,
                              lexie_error *err) {
    char *tab = strchr(line, '\t');
    if (!tab || strchr(tab + 1, '\t'))
        return lx_fail(err, LEXIE_E_FORMAT, "%s:%d: want token<TAB>tag", path, ln);
    *tab = 0;
    const char *tok = line, *tag = tab + 1;
    size_t tl = strlen(tok);
    if (tl == 0 || tl > MAX_TOKEN)
        return lx_fail(err, LEXIE_E_FORMAT, "%s:%d: token is empty or over %d bytes", path, ln,
                       MAX_TOKEN);
    if (st->n_tok >= MAX_SENT_TOKENS)
        return lx_fail(err, LEXIE_E_FORMAT, "%s:%d: sentence over %d tokens", path, ln,
                       MAX_SENT_TOKENS);
    const char *type = NULL;
    int begin = 0;
    if (strcmp(tag, "O") != 0) {
        if ((tag[0] != 'B' && tag[0] != 'I') || tag[1] != '-' || !(type = lx_ie_type_name(tag + 2)))
            return lx_fail(err, LEXIE_E_FORMAT, "%s:%d: unknown tag \"%.40s\"", path, ln, tag);
        begin = tag[0] == 'B';
    }
    /* conlleval: a chunk ends before O, before B, and before an I of
    ** another type; an I that does not continue its type starts one. */
    if (st->open && (!type || begin || strcmp(st->open, type) != 0) && iob_close(st, err))
        return LEXIE_E_NOMEM;
    if (st->n_tok++ == 0) st->first_line = ln;
    if (st->text.len) {
        lx_jbuf_putc(&st->text, ' ');
        st->cp++;
    }
    if (type && !st->open) {
        st->open = type;
        st->open_cp = st->cp;
        st->open_byte = (long)st->text.len;
    }
    lx_jbuf_add(&st->text, tok, tl);
    st->cp += lx_ie_cp_count(tok, tl);
    st->last_cp_end = st->cp;
    st->last_byte_end = (long)st->text.len;
    return st->text.oom ? lx_fail(err, LEXIE_E_NOMEM, "out of memory") : LEXIE_OK;
}

lexie_status lx_ie_read_iob(const char *path, lx_ie_set *s, lexie_error *err) {
    size_t n;
    char *buf = lx_read_text_file(path, MAX_FILE, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    iob_state st;
    memset(&st, 0, sizeof st);
    char *cur = buf, *line;
    int ln = 0;
    lexie_status rc = LEXIE_OK;
    while (rc == LEXIE_OK && (line = lx_next_line(&cur))) {
        ln++;
        if (!*line || strspn(line, " \t\r\v\f") == strlen(line) ||
            strncmp(line, "-DOCSTART-", 10) == 0)
            rc = iob_flush(&st, s, err);
        else
            rc = iob_token(&st, line, path, ln, err);
    }
    if (rc == LEXIE_OK) rc = iob_flush(&st, s, err);
    st.open = NULL;
    for (int i = 0; i < st.n_ents; i++) lexie_mention_clear(&st.ents[i]);
    free(st.ents);
    lx_jbuf_free(&st.text);
    free(buf);
    return rc;
}

/* ==== CaRB ==== */

typedef struct key_ix {
    char *key;
    int doc;
} key_ix;

static int cmp_key(const void *a, const void *b) {
    const key_ix *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->doc > y->doc) - (x->doc < y->doc);
}

static lexie_status carb_sentences(const char *path, lx_ie_set *s, lexie_error *err) {
    size_t n;
    char *buf = lx_read_text_file(path, MAX_FILE, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    char *cur = buf, *line;
    int ln = 0;
    lexie_status rc = LEXIE_OK;
    while (rc == LEXIE_OK && (line = lx_next_line(&cur))) {
        ln++;
        if (!*strip(line)) {
            rc = lx_fail(err, LEXIE_E_FORMAT, "%s:%d: empty sentence line", path, ln);
            break;
        }
        lx_ie_doc d;
        memset(&d, 0, sizeof d);
        d.id = id_of_index(s->n, err);
        d.text = lx_strdup(line, err);
        d.line = ln;
        rc = d.id && d.text ? set_push(s, &d, err) : LEXIE_E_NOMEM;
        if (rc != LEXIE_OK) doc_clear(&d);
    }
    free(buf);
    return rc;
}

/* One gold line as CaRB's GoldReader reads it (see ie_data.h). */
static lexie_status carb_tuple(char *line, const char *path, int ln, lx_ie_set *s, lx_gold_tuple *t,
                               lexie_error *err) {
    char *f[64];
    int nf = 0;
    memset(t, 0, sizeof *t);
    for (char *p = strip(line);;) {
        if (nf == (int)LX_ARRAY_LEN(f))
            return lx_fail(err, LEXIE_E_FORMAT, "%s:%d: over %d fields", path, ln, nf);
        f[nf++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = 0;
        p = tab + 1;
    }
    if (nf < 2)
        return lx_fail(err, LEXIE_E_FORMAT, "%s:%d: want sentence<TAB>relation<TAB>args", path, ln);
    t->confidence = 1.0;
    if (!(t->rel = lx_strdup(strip(f[1]), err))) return LEXIE_E_NOMEM;
    if (nf > 2 && !(t->args = lx_calloc((size_t)(nf - 2), sizeof *t->args, err)))
        return LEXIE_E_NOMEM;
    for (int i = 2; i < nf; i++) {
        if (strstr(f[i], "C: ")) {
            skip(s, path, ln, "context argument (\"C: \") dropped, as CaRB does");
            continue;
        }
        if (!(t->args[t->n_args++] = lx_strdup(strip(f[i]), err))) return LEXIE_E_NOMEM;
    }
    return LEXIE_OK;
}

static lexie_status carb_attach(lx_ie_doc *d, lx_gold_tuple *t, lexie_error *err) {
    void *p = realloc(d->tuples, sizeof *d->tuples * ((size_t)d->n_tuples + 1));
    if (!p) return lx_fail(err, LEXIE_E_NOMEM, "out of memory");
    d->tuples = p;
    d->tuples[d->n_tuples++] = *t;
    memset(t, 0, sizeof *t);
    return LEXIE_OK;
}

/* The index of the first entry of ix[0..n) (sorted) holding key, or -1. */
static int find_key(const key_ix *ix, int n, const char *key) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(ix[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(ix[lo].key, key) == 0 ? lo : -1;
}

static lexie_status carb_gold(const char *path, lx_ie_set *s, const key_ix *ix, int nix,
                              lexie_error *err) {
    size_t n;
    char *buf = lx_read_text_file(path, MAX_FILE, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    char *cur = buf, *line;
    int ln = 0;
    lexie_status rc = LEXIE_OK;
    lx_jbuf key = {0};
    while (rc == LEXIE_OK && (line = lx_next_line(&cur))) {
        ln++;
        lx_gold_tuple t;
        rc = carb_tuple(line, path, ln, s, &t, err);
        if (rc == LEXIE_OK) {
            lx_jbuf_reset(&key);
            lx_carb_sentence_key(strip(line), &key); /* line ends at its first tab now */
            int k = key.oom ? -1 : find_key(ix, nix, key.data ? key.data : "");
            if (key.oom)
                rc = lx_fail(err, LEXIE_E_NOMEM, "out of memory");
            else if (k >= 0)
                rc = carb_attach(&s->docs[ix[k].doc], &t, err);
            else
                skip(s, path, ln, "gold tuple of a sentence not in the sentence file");
        }
        lx_gold_tuple_clear(&t);
    }
    lx_jbuf_free(&key);
    free(buf);
    return rc;
}

lexie_status lx_ie_read_carb(const char *sentences_path, const char *gold_path, lx_ie_set *s,
                             lexie_error *err) {
    int first = s->n;
    lexie_status rc = carb_sentences(sentences_path, s, err);
    if (rc != LEXIE_OK) return rc;
    int nd = s->n - first;
    key_ix *ix = lx_calloc((size_t)nd + 1, sizeof *ix, err);
    if (!ix) return LEXIE_E_NOMEM;
    lx_jbuf b = {0};
    for (int i = 0; i < nd && rc == LEXIE_OK; i++) {
        lx_jbuf_reset(&b);
        lx_carb_sentence_key(s->docs[first + i].text, &b);
        ix[i].key = b.oom ? NULL : lx_strdup(b.data ? b.data : "", err);
        ix[i].doc = first + i;
        if (!ix[i].key) rc = lx_fail(err, LEXIE_E_NOMEM, "out of memory");
    }
    lx_jbuf_free(&b);
    if (rc == LEXIE_OK) {
        qsort(ix, (size_t)nd, sizeof *ix, cmp_key);
        rc = carb_gold(gold_path, s, ix, nd, err);
    }
    for (int i = 0; i < nd; i++) free(ix[i].key);
    free(ix);
    return rc;
}

/* ==== JSONL walking (PHEE, ADELIE) ==== */

typedef lexie_status (*jsonl_fn)(const lx_json *o, lx_ie_set *s, lx_ie_doc *d, const char *path,
                                 int ln, lexie_error *err);

/* Parses each non-blank line as one JSON object and hands it to fn, which
** fills d; the document is then pushed.  Errors get "path:line: ". */
static lexie_status each_jsonl(const char *path, lx_ie_set *s, jsonl_fn fn, lexie_error *err) {
    size_t n;
    char *buf = lx_read_text_file(path, MAX_FILE, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    lx_json_limits lim = {64, (size_t)64 << 20, 0};
    char *cur = buf, *line;
    int ln = 0;
    lexie_status rc = LEXIE_OK;
    while (rc == LEXIE_OK && (line = lx_next_line(&cur))) {
        ln++;
        if (!*strip(line)) {
            skip(s, path, ln, "blank line");
            continue;
        }
        lx_json_doc *jd = lx_json_parse(line, strlen(line), &lim, err);
        if (!jd) {
            if (err && err->code != LEXIE_E_NOMEM) err->code = LEXIE_E_FORMAT;
            rc = lx_fail_prefix(err, "%s:%d: ", path, ln);
            break;
        }
        const lx_json *o = lx_json_root(jd);
        lx_ie_doc d;
        memset(&d, 0, sizeof d);
        d.line = ln;
        if (o->type != LX_JSON_OBJECT)
            rc = lx_fail(err, LEXIE_E_FORMAT, "%s:%d: want a JSON object", path, ln);
        else
            rc = fn(o, s, &d, path, ln, err);
        if (rc == LEXIE_OK)
            rc = set_push(s, &d, err);
        else
            doc_clear(&d);
        lx_json_doc_free(jd);
    }
    free(buf);
    return rc;
}

/* An id that is a string or a number, as text. */
static char *json_id(const lx_json *v, lexie_error *err) {
    if (v && v->type == LX_JSON_STRING && v->len == strlen(v->str)) return lx_strdup(v->str, err);
    if (v && v->type == LX_JSON_NUMBER) return lx_strndup(v->str, v->len, err);
    return NULL;
}

/* ==== PHEE ==== */

typedef struct mlist {
    lexie_mention *m;
    int n;
    size_t cap;
} mlist;

static void mlist_free(mlist *l) {
    for (int i = 0; i < l->n; i++) lexie_mention_clear(&l->m[i]);
    free(l->m);
    memset(l, 0, sizeof *l);
}

/* One piece: text at code point start of ctx (ncp code points). */
static lexie_status phee_piece(const lx_json *tx, const lx_json *st, const char *type,
                               const char *ctx, int ncp, mlist *out, const char *where,
                               lexie_error *err) {
    int64_t cs;
    const char *t = lx_json_string(tx);
    if (!t || !lx_json_int(st, &cs) || cs < 0 || cs > ncp)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: a piece needs a string and an offset in 0..%d",
                       where, ncp);
    int len = lx_ie_cp_count(t, strlen(t));
    if (len == 0 || cs + len > ncp)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: \"%.40s\" at %lld is empty or past the text",
                       where, t, (long long)cs);
    size_t bs = lx_ie_cp_byte(ctx, (int)cs), be = lx_ie_cp_byte(ctx, (int)cs + len);
    if (be - bs != strlen(t) || memcmp(ctx + bs, t, be - bs) != 0)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: \"%.40s\" does not match the text at %lld", where,
                       t, (long long)cs);
    if (lx_grow((void **)&out->m, &out->cap, (size_t)out->n + 1, sizeof *out->m, err))
        return LEXIE_E_NOMEM;
    lexie_status rc =
        mention_make(&out->m[out->n], type, ctx, (long)bs, (long)be, (int)cs, (int)cs + len, err);
    if (rc == LEXIE_OK) out->n++;
    return rc;
}

/* {"text": [[p, ...], ...], "start": [[o, ...], ...]}: every piece. */
static lexie_status phee_spans(const lx_json *a, const char *type, const char *ctx, int ncp,
                               mlist *out, const char *where, lexie_error *err) {
    const lx_json *tx = lx_json_get(a, "text"), *st = lx_json_get(a, "start");
    if (!tx || !st || tx->type != LX_JSON_ARRAY || st->type != LX_JSON_ARRAY || tx->n != st->n)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: \"text\" and \"start\" must be arrays alike",
                       where);
    for (int i = 0; i < tx->n; i++) {
        const lx_json *ti = tx->items[i], *si = st->items[i];
        if (ti->type != LX_JSON_ARRAY || si->type != LX_JSON_ARRAY || ti->n != si->n)
            return lx_fail(err, LEXIE_E_FORMAT, "%s: span %d: text and start shapes differ", where,
                           i);
        for (int j = 0; j < ti->n; j++) {
            lexie_status rc =
                phee_piece(ti->items[j], si->items[j], type, ctx, ncp, out, where, err);
            if (rc != LEXIE_OK) return rc;
        }
    }
    return LEXIE_OK;
}

static int is_one_of(const char *k, const char *const *set, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(k, set[i]) == 0) return 1;
    return 0;
}

static const char *const phee_roles[] = {"Subject", "Treatment", "Effect"};

static lexie_status phee_event(const lx_json *ev, const char *ctx, int ncp, lx_ie_set *s,
                               lexie_event *out, const char *path, int ln, lexie_error *err) {
    static const char *const known[] = {"event_id", "event_type", "Trigger",
                                        "Subject",  "Treatment",  "Effect"};
    static const char *const span_keys[] = {"text", "start", "entity_id"};
    char where[300];
    snprintf(where, sizeof where, "%s:%d", path, ln);
    const char *type = lx_json_string(lx_json_get(ev, "event_type"));
    const lx_json *trig = lx_json_get(ev, "Trigger");
    if (ev->type != LX_JSON_OBJECT || !type || !*type || !trig)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: an event needs \"event_type\" and \"Trigger\"",
                       where);
    mlist tl = {0}, al = {0};
    lexie_status rc = phee_spans(trig, type, ctx, ncp, &tl, where, err);
    if (rc == LEXIE_OK && tl.n == 0)
        rc = lx_fail(err, LEXIE_E_FORMAT, "%s: the trigger has no span", where);
    for (int i = 1; rc == LEXIE_OK && i < tl.n; i++)
        skip(s, path, ln, "trigger piece after the first");
    for (int r = 0; rc == LEXIE_OK && r < 3; r++) {
        const lx_json *a = lx_json_get(ev, phee_roles[r]);
        if (!a) continue;
        rc = phee_spans(a, phee_roles[r], ctx, ncp, &al, where, err);
        for (int k = 0; rc == LEXIE_OK && k < a->n; k++)
            if (!is_one_of(a->keys[k], span_keys, 3)) s->n_unused++; /* sub-argument */
    }
    for (int k = 0; rc == LEXIE_OK && k < ev->n; k++)
        if (!is_one_of(ev->keys[k], known, 6)) s->n_unused++; /* attribute */
    if (rc == LEXIE_OK) {
        out->trigger = tl.m[0];
        memset(&tl.m[0], 0, sizeof tl.m[0]);
        out->args = al.m;
        out->n_args = al.n;
        out->confidence = 1.0f;
        al.m = NULL;
        al.n = 0;
    }
    mlist_free(&tl);
    mlist_free(&al);
    return rc;
}

static lexie_status phee_line(const lx_json *o, lx_ie_set *s, lx_ie_doc *d, const char *path,
                              int ln, lexie_error *err) {
    const char *ctx = lx_json_string(lx_json_get(o, "context"));
    const lx_json *ann = lx_json_get(o, "annotations");
    const lx_json *evs = lx_json_get(lx_json_at(ann, 0), "events");
    if (!(d->id = json_id(lx_json_get(o, "id"), err)) || !ctx ||
        strlen(ctx) != lx_json_get(o, "context")->len || !evs || evs->type != LX_JSON_ARRAY)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "%s:%d: want \"id\", \"context\" and \"annotations\": [{\"events\": [...]}]",
                       path, ln);
    for (int i = 1; i < ann->n; i++) skip(s, path, ln, "annotation after the first");
    if (!(d->text = lx_strdup(ctx, err))) return LEXIE_E_NOMEM;
    int ncp = lx_ie_cp_count(ctx, strlen(ctx));
    if (evs->n && !(d->events = lx_calloc((size_t)evs->n, sizeof *d->events, err)))
        return LEXIE_E_NOMEM;
    for (int i = 0; i < evs->n; i++) {
        lexie_status rc = phee_event(evs->items[i], d->text, ncp, s, &d->events[i], path, ln, err);
        if (rc != LEXIE_OK) return rc;
        d->n_events++;
    }
    return LEXIE_OK;
}

lexie_status lx_ie_read_phee(const char *path, lx_ie_set *s, lexie_error *err) {
    return each_jsonl(path, s, phee_line, err);
}

/* ==== ADELIE ==== */

static lexie_status adelie_line(const lx_json *o, lx_ie_set *s, lx_ie_doc *d, const char *path,
                                int ln, lexie_error *err) {
    (void)s;
    const lx_json *msgs = lx_json_get(o, "messages");
    if (!(d->id = json_id(lx_json_get(o, "id"), err)) || !msgs || msgs->type != LX_JSON_ARRAY ||
        msgs->n < 1)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "%s:%d: want \"id\" (string or number) and a non-empty \"messages\" array",
                       path, ln);
    for (int i = 0; i < msgs->n; i++) {
        const lx_json *m = msgs->items[i];
        const lx_json *r = lx_json_get(m, "role"), *c = lx_json_get(m, "content");
        if (!r || !c || r->type != LX_JSON_STRING || c->type != LX_JSON_STRING ||
            r->len != strlen(r->str) || c->len != strlen(c->str))
            return lx_fail(err, LEXIE_E_FORMAT,
                           "%s:%d: message %d needs string \"role\" and \"content\" (no NUL)", path,
                           ln, i);
    }
    const lx_json *last = msgs->items[msgs->n - 1];
    if (strcmp(lx_json_string(lx_json_get(last, "role")), "assistant") != 0)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "%s:%d: the last message must be the assistant's gold answer", path, ln);
    if (!(d->gold_answer = lx_strdup(lx_json_string(lx_json_get(last, "content")), err)))
        return LEXIE_E_NOMEM;
    if (msgs->n > 1 && !(d->turns = lx_calloc((size_t)msgs->n - 1, sizeof *d->turns, err)))
        return LEXIE_E_NOMEM;
    for (int i = 0; i < msgs->n - 1; i++) {
        lx_chat_turn *t = &d->turns[d->n_turns++];
        t->role = lx_strdup(lx_json_string(lx_json_get(msgs->items[i], "role")), err);
        t->content = lx_strdup(lx_json_string(lx_json_get(msgs->items[i], "content")), err);
        if (!t->role || !t->content) return LEXIE_E_NOMEM;
    }
    return LEXIE_OK;
}

lexie_status lx_ie_read_adelie(const char *path, lx_ie_set *s, lexie_error *err) {
    return each_jsonl(path, s, adelie_line, err);
}

/* ==== PubMedQA ==== */

static lexie_status pubmedqa_doc(const char *key, const lx_json *o, int conclusion, lx_ie_doc *d,
                                 const char *where, lexie_error *err) {
    const char *q = lx_json_string(lx_json_get(o, "QUESTION"));
    const char *dec = lx_json_string(lx_json_get(o, "final_decision"));
    const char *lng = lx_json_string(lx_json_get(o, "LONG_ANSWER"));
    const lx_json *ctx = lx_json_get(o, "CONTEXTS"), *lab = lx_json_get(o, "LABELS");
    const char *gold = conclusion ? lng : dec;
    if (!q || !ctx || ctx->type != LX_JSON_ARRAY || ctx->n < 1 || !gold)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "%s: want a string \"QUESTION\", a non-empty \"CONTEXTS\" array and a "
                       "string \"%s\"",
                       where, conclusion ? "LONG_ANSWER" : "final_decision");
    if (!conclusion && strcmp(dec, "yes") && strcmp(dec, "no") && strcmp(dec, "maybe"))
        return lx_fail(err, LEXIE_E_FORMAT, "%s: final_decision \"%.20s\" is not yes, no or maybe",
                       where, dec);
    lx_jbuf b = {0};
    for (int i = 0; i < ctx->n; i++) {
        const char *para = lx_json_string(ctx->items[i]);
        const char *label = lx_json_string(lx_json_at(lab, i));
        if (!para) {
            lx_jbuf_free(&b);
            return lx_fail(err, LEXIE_E_FORMAT, "%s: CONTEXTS[%d] is not a string", where, i);
        }
        if (i) lx_jbuf_putc(&b, '\n');
        if (label && *label) lx_jbuf_printf(&b, "%s: ", label);
        lx_jbuf_puts(&b, para);
    }
    if (lx_jbuf_status(&b, err) != LEXIE_OK) return LEXIE_E_NOMEM;
    d->text = b.data;
    if (!(d->id = lx_strdup(key, err)) || !(d->question = lx_strdup(q, err)) ||
        !(d->gold_answer = lx_strdup(gold, err)))
        return LEXIE_E_NOMEM;
    return LEXIE_OK;
}

lexie_status lx_ie_read_pubmedqa(const char *path, int conclusion, lx_ie_set *s, lexie_error *err) {
    size_t n;
    char *buf = lx_read_text_file(path, MAX_FILE, &n, err);
    if (!buf) return err ? err->code : LEXIE_E_IO;
    lx_json_limits lim = {16, (size_t)64 << 20, 0};
    lx_json_doc *jd = lx_json_parse(buf, n, &lim, err);
    free(buf);
    if (!jd) {
        if (err && err->code != LEXIE_E_NOMEM) err->code = LEXIE_E_FORMAT;
        return lx_fail_prefix(err, "%s: ", path);
    }
    const lx_json *root = lx_json_root(jd);
    lexie_status rc =
        root->type == LX_JSON_OBJECT
            ? LEXIE_OK
            : lx_fail(err, LEXIE_E_FORMAT, "%s: want one object keyed by PubMed id", path);
    for (int i = 0; i < root->n && rc == LEXIE_OK; i++) {
        char where[300];
        snprintf(where, sizeof where, "%s: \"%.40s\" (line %d)", path, root->keys[i],
                 root->items[i]->line);
        lx_ie_doc d;
        memset(&d, 0, sizeof d);
        d.line = root->items[i]->line;
        if (root->items[i]->type != LX_JSON_OBJECT || strlen(root->keys[i]) != root->key_lens[i])
            rc = lx_fail(err, LEXIE_E_FORMAT, "%s: want an object", where);
        if (rc == LEXIE_OK)
            rc = pubmedqa_doc(root->keys[i], root->items[i], conclusion, &d, where, err);
        if (rc == LEXIE_OK)
            rc = set_push(s, &d, err);
        else
            doc_clear(&d);
    }
    lx_json_doc_free(jd);
    return rc;
}
