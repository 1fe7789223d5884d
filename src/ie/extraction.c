/*
** extraction.c -- the result of extracting from one document (lexie.h:
** lexie_extraction) and its one JSON form, the output line of `lexie
** extract` (docs/formats.md).  Every face writes results through
** lx_extraction_json, so the CLI, Python and reports agree byte for byte.
*/
#include "ie/ie.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *lexie_match_name(lexie_match m) {
    switch (m) {
    case LEXIE_MATCH_EXACT: return "exact";
    case LEXIE_MATCH_NORMALIZED: return "normalized";
    case LEXIE_MATCH_FUZZY: return "fuzzy";
    case LEXIE_MATCH_NONE: return "none";
    }
    return "none";
}

void lexie_mention_clear(lexie_mention *m) {
    if (!m) return;
    free(m->type);
    free(m->text);
    free(m->model_text);
    memset(m, 0, sizeof *m);
}

static void mention_free(lexie_mention *m) {
    if (m) {
        lexie_mention_clear(m);
        free(m);
    }
}

void lexie_extraction_clear(lexie_extraction *x) {
    if (!x) return;
    for (int i = 0; i < x->n_entities; i++) lexie_mention_clear(&x->entities[i]);
    free(x->entities);
    for (int i = 0; i < x->n_relations; i++) free(x->relations[i].label);
    free(x->relations);
    for (int i = 0; i < x->n_events; i++) {
        lexie_mention_clear(&x->events[i].trigger);
        for (int j = 0; j < x->events[i].n_args; j++) lexie_mention_clear(&x->events[i].args[j]);
        free(x->events[i].args);
    }
    free(x->events);
    for (int i = 0; i < x->n_triples; i++) {
        lexie_triple *t = &x->triples[i];
        lexie_mention_clear(&t->subject);
        lexie_mention_clear(&t->relation);
        lexie_mention_clear(&t->object);
        mention_free(t->time);
        mention_free(t->place);
    }
    free(x->triples);
    memset(x, 0, sizeof *x);
}

/* Confidence is written with 4 decimals: enough to rank, stable to read. */
static void put_conf(lx_jbuf *b, float c) { lx_jbuf_printf(b, "\"confidence\":%.4f", (double)c); }

/* One mention; type_key names its type ("type", or "role" for an event
** argument; NULL: no type written, as for triple slots). */
void lx_mention_json(lx_jbuf *b, const lexie_mention *m, const char *type_key) {
    lx_jbuf_putc(b, '{');
    if (type_key) {
        lx_jbuf_cstr(b, type_key);
        lx_jbuf_putc(b, ':');
        lx_jbuf_cstr(b, m->type);
        lx_jbuf_putc(b, ',');
    }
    if (m->match != LEXIE_MATCH_NONE) {
        lx_jbuf_puts(b, "\"text\":");
        lx_jbuf_cstr(b, m->text);
        lx_jbuf_printf(b, ",\"start\":%d,\"end\":%d,\"byte_start\":%ld,\"byte_end\":%ld,", m->start,
                       m->end, m->byte_start, m->byte_end);
    }
    if (m->model_text) {
        lx_jbuf_puts(b, "\"model_text\":");
        lx_jbuf_cstr(b, m->model_text);
        lx_jbuf_putc(b, ',');
    }
    lx_jbuf_printf(b, "\"match\":\"%s\",", lexie_match_name(m->match));
    if (m->match == LEXIE_MATCH_FUZZY)
        lx_jbuf_printf(b, "\"match_score\":%.4f,", (double)m->match_score);
    put_conf(b, m->confidence);
    lx_jbuf_putc(b, '}');
}

static void put_entities(lx_jbuf *b, const lexie_extraction *x) {
    lx_jbuf_puts(b, "\"entities\":[");
    for (int i = 0; i < x->n_entities; i++) {
        if (i) lx_jbuf_putc(b, ',');
        lx_mention_json(b, &x->entities[i], "type");
    }
    lx_jbuf_putc(b, ']');
}

static void put_relations(lx_jbuf *b, const lexie_extraction *x) {
    lx_jbuf_puts(b, "\"relations\":[");
    for (int i = 0; i < x->n_relations; i++) {
        const lexie_relation *r = &x->relations[i];
        lx_jbuf_printf(b, "%s{\"head\":%d,\"tail\":%d,\"label\":", i ? "," : "", r->head, r->tail);
        lx_jbuf_cstr(b, r->label);
        lx_jbuf_putc(b, ',');
        put_conf(b, r->confidence);
        lx_jbuf_putc(b, '}');
    }
    lx_jbuf_putc(b, ']');
}

static void put_events(lx_jbuf *b, const lexie_extraction *x) {
    lx_jbuf_puts(b, "\"events\":[");
    for (int i = 0; i < x->n_events; i++) {
        const lexie_event *e = &x->events[i];
        lx_jbuf_puts(b, i ? ",{\"type\":" : "{\"type\":");
        lx_jbuf_cstr(b, e->trigger.type);
        lx_jbuf_puts(b, ",\"trigger\":");
        lx_mention_json(b, &e->trigger, NULL);
        lx_jbuf_puts(b, ",\"arguments\":[");
        for (int j = 0; j < e->n_args; j++) {
            if (j) lx_jbuf_putc(b, ',');
            lx_mention_json(b, &e->args[j], "role");
        }
        lx_jbuf_puts(b, "],");
        put_conf(b, e->confidence);
        lx_jbuf_putc(b, '}');
    }
    lx_jbuf_putc(b, ']');
}

static void put_triples(lx_jbuf *b, const lexie_extraction *x) {
    lx_jbuf_puts(b, "\"triples\":[");
    for (int i = 0; i < x->n_triples; i++) {
        const lexie_triple *t = &x->triples[i];
        lx_jbuf_puts(b, i ? ",{\"subject\":" : "{\"subject\":");
        lx_mention_json(b, &t->subject, NULL);
        lx_jbuf_puts(b, ",\"relation\":");
        lx_mention_json(b, &t->relation, NULL);
        lx_jbuf_puts(b, ",\"object\":");
        lx_mention_json(b, &t->object, NULL);
        if (t->time) {
            lx_jbuf_puts(b, ",\"time\":");
            lx_mention_json(b, t->time, NULL);
        }
        if (t->place) {
            lx_jbuf_puts(b, ",\"place\":");
            lx_mention_json(b, t->place, NULL);
        }
        lx_jbuf_putc(b, ',');
        put_conf(b, t->confidence);
        lx_jbuf_putc(b, '}');
    }
    lx_jbuf_putc(b, ']');
}

/* The parts asked for, the first after a comma when comma is set. */
static void put_parts(lx_jbuf *b, const lexie_extraction *x, unsigned parts, int comma) {
    static void (*const put[4])(lx_jbuf *, const lexie_extraction *) = {put_entities, put_relations,
                                                                        put_events, put_triples};
    for (int i = 0; i < 4; i++) {
        if (!(parts & (1u << i))) continue;
        if (comma) lx_jbuf_putc(b, ',');
        put[i](b, x);
        comma = 1;
    }
    if (x->n_chunks > 1) lx_jbuf_printf(b, "%s\"chunks\":%d", comma ? "," : "", x->n_chunks);
    if (x->truncated)
        lx_jbuf_printf(b, "%s\"truncated\":true", comma || x->n_chunks > 1 ? "," : "");
}

void lx_extraction_json(lx_jbuf *b, const char *id_json, const lexie_extraction *x,
                        unsigned parts) {
    lx_jbuf_puts(b, "{\"id\":");
    lx_jbuf_puts(b, id_json ? id_json : "null");
    put_parts(b, x, parts, 1);
    lx_jbuf_putc(b, '}');
}

lexie_status lexie_extraction_json(const lexie_extraction *x, char **out, lexie_error *err) {
    lx_jbuf b = {0};
    *out = NULL;
    lx_jbuf_putc(&b, '{');
    put_parts(&b, x, LX_PART_ENTITIES | LX_PART_RELATIONS | LX_PART_EVENTS | LX_PART_TRIPLES, 0);
    lx_jbuf_putc(&b, '}');
    lexie_status st = lx_jbuf_status(&b, err);
    if (st == LEXIE_OK)
        *out = b.data;
    else
        lx_jbuf_free(&b);
    return st;
}

void *lx_push(void **arr, int *n, size_t elem, lexie_error *err) {
    void *p = realloc(*arr, ((size_t)*n + 1) * elem);
    if (!p) {
        lx_fail(err, LEXIE_E_NOMEM, "extract: out of memory");
        return NULL;
    }
    *arr = p;
    char *e = (char *)p + (size_t)*n * elem;
    memset(e, 0, elem);
    (*n)++;
    return e;
}

/* ==== Reading a result back (prediction files) ==== */

static lexie_match match_of(const char *s) {
    for (int m = LEXIE_MATCH_EXACT; m <= LEXIE_MATCH_NONE; m++)
        if (s && strcmp(s, lexie_match_name((lexie_match)m)) == 0) return (lexie_match)m;
    return LEXIE_MATCH_NONE;
}

/* A number member in [lo, hi] (whole when whole is set), or dflt when it
** is absent or null.  Anything else is a format error naming the key: a
** double outside a C type's range must never be converted to it. */
static lexie_status num_in(const lx_json *o, const char *key, double dflt, double lo, double hi,
                           int whole, double *out, lexie_error *err) {
    const lx_json *v = lx_json_get(o, key);
    *out = dflt;
    if (!v || v->type == LX_JSON_NULL) return LEXIE_OK;
    if (v->type != LX_JSON_NUMBER || !(v->num >= lo && v->num <= hi) ||
        (whole && v->num != floor(v->num)))
        return lx_fail(err, LEXIE_E_FORMAT, "'%s' must be a %s from %g to %g", key,
                       whole ? "whole number" : "number", lo, hi);
    *out = v->num;
    return LEXIE_OK;
}

/* Offsets and indexes: whole numbers from -1 (none) to INT_MAX. */
static lexie_status int_of(const lx_json *o, const char *key, long *out, lexie_error *err) {
    double d;
    lexie_status st = num_in(o, key, -1, -1, INT_MAX, 1, &d, err);
    *out = (long)d;
    return st;
}

/* Confidences and match scores: probabilities. */
static lexie_status unit_of(const lx_json *o, const char *key, double dflt, float *out,
                            lexie_error *err) {
    double d;
    lexie_status st = num_in(o, key, dflt, 0, 1, 0, &d, err);
    *out = (float)d;
    return st;
}

static lexie_status str_of(const lx_json *o, const char *key, char **out, lexie_error *err) {
    const char *s = lx_json_string(lx_json_get(o, key));
    *out = NULL;
    if (!s) return LEXIE_OK;
    return (*out = lx_strdup(s, err)) ? LEXIE_OK : LEXIE_E_NOMEM;
}

/* A mention object as lx_mention_json writes it. */
static lexie_status mention_from(const lx_json *o, const char *type_key, lexie_mention *m,
                                 lexie_error *err) {
    if (!o || o->type != LX_JSON_OBJECT)
        return lx_fail(err, LEXIE_E_FORMAT, "a span must be a JSON object");
    lexie_status st = type_key ? str_of(o, type_key, &m->type, err) : LEXIE_OK;
    if (st == LEXIE_OK) st = str_of(o, "text", &m->text, err);
    if (st == LEXIE_OK) st = str_of(o, "model_text", &m->model_text, err);
    if (st != LEXIE_OK) return st;
    m->match = match_of(lx_json_string(lx_json_get(o, "match")));
    long start = -1, end = -1;
    st = int_of(o, "start", &start, err);
    if (st == LEXIE_OK) st = int_of(o, "end", &end, err);
    if (st == LEXIE_OK) st = int_of(o, "byte_start", &m->byte_start, err);
    if (st == LEXIE_OK) st = int_of(o, "byte_end", &m->byte_end, err);
    if (st == LEXIE_OK)
        st = unit_of(o, "match_score", m->match == LEXIE_MATCH_NONE ? 0 : 1, &m->match_score, err);
    if (st == LEXIE_OK) st = unit_of(o, "confidence", 0, &m->confidence, err);
    m->start = (int)start;
    m->end = (int)end;
    return st;
}

static lexie_status event_from(const lx_json *o, lexie_event *e, lexie_error *err) {
    lexie_status st = mention_from(lx_json_get(o, "trigger"), NULL, &e->trigger, err);
    if (st == LEXIE_OK) st = str_of(o, "type", &e->trigger.type, err);
    if (st == LEXIE_OK) st = unit_of(o, "confidence", 0, &e->confidence, err);
    const lx_json *args = lx_json_get(o, "arguments");
    for (int j = 0; st == LEXIE_OK && args && j < args->n; j++) {
        lexie_mention *m = lx_push((void **)&e->args, &e->n_args, sizeof *m, err);
        st = m ? mention_from(args->items[j], "role", m, err) : LEXIE_E_NOMEM;
    }
    return st;
}

static lexie_status triple_from(const lx_json *o, lexie_triple *t, lexie_error *err) {
    lexie_status st = mention_from(lx_json_get(o, "subject"), NULL, &t->subject, err);
    if (st == LEXIE_OK) st = mention_from(lx_json_get(o, "relation"), NULL, &t->relation, err);
    if (st == LEXIE_OK) st = mention_from(lx_json_get(o, "object"), NULL, &t->object, err);
    if (st == LEXIE_OK) st = unit_of(o, "confidence", 0, &t->confidence, err);
    static const char *opt[2] = {"time", "place"};
    for (int k = 0; k < 2 && st == LEXIE_OK; k++) {
        const lx_json *v = lx_json_get(o, opt[k]);
        if (!v) continue;
        lexie_mention *m = lx_calloc(1, sizeof *m, err);
        if (!m) return LEXIE_E_NOMEM;
        *(k ? &t->place : &t->time) = m;
        st = mention_from(v, NULL, m, err);
    }
    return st;
}

lexie_status lx_extraction_from_json(const lx_json *o, lexie_extraction *x, lexie_error *err) {
    memset(x, 0, sizeof *x);
    if (!o || o->type != LX_JSON_OBJECT)
        return lx_fail(err, LEXIE_E_FORMAT, "a result must be a JSON object");
    lexie_status st = LEXIE_OK;
    const lx_json *a = lx_json_get(o, "entities");
    for (int i = 0; st == LEXIE_OK && a && i < a->n; i++) {
        lexie_mention *m = lx_push((void **)&x->entities, &x->n_entities, sizeof *m, err);
        st = m ? mention_from(a->items[i], "type", m, err) : LEXIE_E_NOMEM;
    }
    a = lx_json_get(o, "relations");
    for (int i = 0; st == LEXIE_OK && a && i < a->n; i++) {
        lexie_relation *r = lx_push((void **)&x->relations, &x->n_relations, sizeof *r, err);
        if (!r) return LEXIE_E_NOMEM;
        long head = -1, tail = -1;
        st = int_of(a->items[i], "head", &head, err);
        if (st == LEXIE_OK) st = int_of(a->items[i], "tail", &tail, err);
        if (st == LEXIE_OK) st = unit_of(a->items[i], "confidence", 0, &r->confidence, err);
        if (st != LEXIE_OK) break;
        r->head = (int)head;
        r->tail = (int)tail;
        st = str_of(a->items[i], "label", &r->label, err);
        if (st == LEXIE_OK &&
            (r->head < 0 || r->head >= x->n_entities || r->tail < 0 || r->tail >= x->n_entities))
            st = lx_fail(err, LEXIE_E_FORMAT, "relations[%d] indexes no entity", i);
    }
    a = lx_json_get(o, "events");
    for (int i = 0; st == LEXIE_OK && a && i < a->n; i++) {
        lexie_event *e = lx_push((void **)&x->events, &x->n_events, sizeof *e, err);
        st = e ? event_from(a->items[i], e, err) : LEXIE_E_NOMEM;
    }
    a = lx_json_get(o, "triples");
    for (int i = 0; st == LEXIE_OK && a && i < a->n; i++) {
        lexie_triple *t = lx_push((void **)&x->triples, &x->n_triples, sizeof *t, err);
        st = t ? triple_from(a->items[i], t, err) : LEXIE_E_NOMEM;
    }
    double chunks = 1;
    if (st == LEXIE_OK) st = num_in(o, "chunks", 1, 1, INT_MAX, 1, &chunks, err);
    x->n_chunks = (int)chunks;
    const lx_json *tr = lx_json_get(o, "truncated");
    x->truncated = tr && tr->type == LX_JSON_BOOL && tr->b;
    if (st != LEXIE_OK) lexie_extraction_clear(x);
    return st;
}
