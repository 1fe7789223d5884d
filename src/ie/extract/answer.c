/*
** answer.c -- from the model's answer to a lexie_extraction.
**
** The grammar guarantees the answer parses and has the task's shape, so
** reading it is plain; what needs care is the link back to the document.
** Every span string is grounded (ie/ground.c): the document's own slice
** and offsets when it is found, the model's string with match "none" when
** not, never dropped.  Repeated mentions take successive occurrences,
** because one grounder serves the whole answer.
**
** Confidence.  Each item (an entity, an event, an argument, a triple) was
** written by a run of tokens; its confidence is the lowest probability
** among them, each token's probability taken under the grammar mask
** (renormalised over the tokens the grammar allowed).  The lowest one is
** the model's least certain choice in writing the item: whether to start
** it at all, where the span ends, which type.  Items are located in the
** answer by a scan of its JSON structure (objects at a given depth, in
** order), which is exact because the answer is grammar-made JSON.
*/
#include "extract.h"

#include "ie/ground.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Byte ranges [start, end) of the objects that open at container depth
** `depth` (the containers open before their '{'), in order. */
typedef struct range {
    int start, end;
} range;

typedef struct ranges {
    range *r;
    int n;
    size_t cap;
} ranges;

static lexie_status scan_items(const char *s, int depth, ranges *out, lexie_error *err) {
    int d = 0, in_str = 0, open_at = -1;
    for (int i = 0; s[i]; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\' && s[i + 1])
                i++;
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            if (ch == '{' && d == depth) open_at = i;
            d++;
        } else if (ch == '}' || ch == ']') {
            d--;
            if (ch == '}' && d == depth && open_at >= 0) {
                if (lx_grow((void **)&out->r, &out->cap, (size_t)out->n + 1, sizeof(range), err) !=
                    LEXIE_OK)
                    return LEXIE_E_NOMEM;
                out->r[out->n++] = (range){open_at, i + 1};
                open_at = -1;
            }
        }
    }
    return LEXIE_OK;
}

/* The lowest probability among the tokens whose bytes meet [b0, b1). */
static float range_conf(const lx_gen_answer *a, int b0, int b1) {
    float lo = 1.0f;
    int prev = 0;
    for (int k = 0; k < a->n_tok; k++) {
        int e = a->end[k];
        if (e > b0 && prev < b1 && a->prob[k] < lo) lo = a->prob[k];
        prev = e;
        if (prev >= b1) break;
    }
    return lo;
}

/* The confidence of item i of rs (0 when the scan found fewer items,
** which the grammar rules out). */
static float item_conf(const lx_gen_answer *a, const ranges *rs, int i) {
    return i < rs->n ? range_conf(a, rs->r[i].start, rs->r[i].end) : 0.0f;
}

/* Grounds the string member key of o into m (type: a copy of type). */
static lexie_status ground_member(lx_grounder *g, const lx_answer_ctx *ac, const lx_json *o,
                                  const char *key, const char *type, float conf, lexie_mention *m,
                                  lexie_error *err) {
    const lx_json *v = lx_json_get(o, key);
    const char *str = v && v->type == LX_JSON_STRING ? v->str : "";
    size_t n = v && v->type == LX_JSON_STRING ? v->len : 0;
    lexie_status st = lx_ground(g, str, n, m, err);
    if (st != LEXIE_OK) return st;
    if (m->match != LEXIE_MATCH_NONE) lx_mention_shift(m, ac->byte_off, ac->cp_off);
    m->confidence = conf;
    if (type && !(m->type = lx_strdup(type, err))) return LEXIE_E_NOMEM;
    return LEXIE_OK;
}

static const char *str_member(const lx_json *o, const char *key) {
    const char *s = lx_json_string(lx_json_get(o, key));
    return s ? s : "";
}

static lexie_status read_entities(lx_grounder *g, const lx_answer_ctx *ac, const lx_json *arr,
                                  const ranges *r, const lx_gen_answer *a, lexie_extraction *x,
                                  lexie_error *err) {
    for (int i = 0; i < arr->n; i++) {
        const lx_json *it = arr->items[i];
        float conf = item_conf(a, r, i);
        lexie_mention *m = lx_push((void **)&x->entities, &x->n_entities, sizeof *m, err);
        if (!m) return LEXIE_E_NOMEM;
        lexie_status st = ground_member(g, ac, it, "text", str_member(it, "type"), conf, m, err);
        if (st != LEXIE_OK) return st;
    }
    return LEXIE_OK;
}

/* Generated relation triples: head and tail become entities (one entity
** per grounded span and type, shared by the relations that name it). */
static lexie_status entity_index(lx_grounder *g, const lx_answer_ctx *ac, const lx_json *it,
                                 const char *key, const char *type, float conf, lexie_extraction *x,
                                 int *idx, lexie_error *err) {
    lexie_mention m = {0};
    lx_grounder_reset_claims(g); /* a name repeated across triples is one entity */
    lexie_status st = ground_member(g, ac, it, key, type, conf, &m, err);
    if (st != LEXIE_OK) {
        lexie_mention_clear(&m);
        return st;
    }
    for (int k = 0; k < x->n_entities; k++) {
        lexie_mention *e = &x->entities[k];
        int same = strcmp(e->type, m.type) == 0 &&
                   (m.match != LEXIE_MATCH_NONE
                        ? e->start == m.start && e->end == m.end
                        : e->match == LEXIE_MATCH_NONE && strcmp(e->model_text, m.model_text) == 0);
        if (same) {
            if (conf > e->confidence) e->confidence = conf;
            lexie_mention_clear(&m);
            *idx = k;
            return LEXIE_OK;
        }
    }
    lexie_mention *e = lx_push((void **)&x->entities, &x->n_entities, sizeof *e, err);
    if (!e) {
        lexie_mention_clear(&m);
        return LEXIE_E_NOMEM;
    }
    *e = m;
    *idx = x->n_entities - 1;
    return LEXIE_OK;
}

static lexie_status read_relations(lx_grounder *g, const lx_answer_ctx *ac, const lx_json *arr,
                                   const ranges *r, const lx_gen_answer *a, lexie_extraction *x,
                                   lexie_error *err) {
    for (int i = 0; i < arr->n; i++) {
        const lx_json *it = arr->items[i];
        float conf = item_conf(a, r, i);
        int h, t;
        lexie_status st =
            entity_index(g, ac, it, "head", str_member(it, "head_type"), conf, x, &h, err);
        if (st == LEXIE_OK)
            st = entity_index(g, ac, it, "tail", str_member(it, "tail_type"), conf, x, &t, err);
        if (st != LEXIE_OK) return st;
        lexie_relation *rel = lx_push((void **)&x->relations, &x->n_relations, sizeof *rel, err);
        if (!rel) return LEXIE_E_NOMEM;
        rel->head = h;
        rel->tail = t;
        rel->confidence = conf;
        if (!(rel->label = lx_strdup(str_member(it, "relation"), err))) return LEXIE_E_NOMEM;
    }
    return LEXIE_OK;
}

static lexie_status read_events(lx_grounder *g, const lx_answer_ctx *ac, const lx_json *arr,
                                const ranges *r, const ranges *ra, const lx_gen_answer *a,
                                lexie_extraction *x, lexie_error *err) {
    int next_arg = 0;
    for (int i = 0; i < arr->n; i++) {
        const lx_json *it = arr->items[i];
        float conf = item_conf(a, r, i);
        lexie_event *e = lx_push((void **)&x->events, &x->n_events, sizeof *e, err);
        if (!e) return LEXIE_E_NOMEM;
        e->confidence = conf;
        lexie_status st =
            ground_member(g, ac, it, "trigger", str_member(it, "type"), conf, &e->trigger, err);
        if (st != LEXIE_OK) return st;
        const lx_json *args = lx_json_get(it, "arguments");
        int n_args = args && args->type == LX_JSON_ARRAY ? args->n : 0;
        for (int j = 0; j < n_args; j++, next_arg++) {
            const lx_json *ag = args->items[j];
            float ac_conf = item_conf(a, ra, next_arg);
            lexie_mention *m = lx_push((void **)&e->args, &e->n_args, sizeof *m, err);
            if (!m) return LEXIE_E_NOMEM;
            if ((st = ground_member(g, ac, ag, "text", str_member(ag, "role"), ac_conf, m, err)) !=
                LEXIE_OK)
                return st;
        }
    }
    return LEXIE_OK;
}

static lexie_status read_triples(lx_grounder *g, const lx_answer_ctx *ac, const lx_json *arr,
                                 const ranges *r, const lx_gen_answer *a, lexie_extraction *x,
                                 lexie_error *err) {
    for (int i = 0; i < arr->n; i++) {
        const lx_json *it = arr->items[i];
        float conf = item_conf(a, r, i);
        lexie_triple *t = lx_push((void **)&x->triples, &x->n_triples, sizeof *t, err);
        if (!t) return LEXIE_E_NOMEM;
        t->confidence = conf;
        lexie_status st = ground_member(g, ac, it, "subject", NULL, conf, &t->subject, err);
        if (st == LEXIE_OK)
            st = ground_member(g, ac, it, "relation", NULL, conf, &t->relation, err);
        if (st == LEXIE_OK) st = ground_member(g, ac, it, "object", NULL, conf, &t->object, err);
        static const char *opt[2] = {"time", "place"};
        for (int k = 0; k < 2 && st == LEXIE_OK; k++) {
            if (!lx_json_get(it, opt[k])) continue;
            lexie_mention *m = lx_calloc(1, sizeof *m, err);
            if (!m) return LEXIE_E_NOMEM;
            *(k ? &t->place : &t->time) = m;
            st = ground_member(g, ac, it, opt[k], NULL, conf, m, err);
        }
        if (st != LEXIE_OK) return st;
    }
    return LEXIE_OK;
}

static lexie_status read_doc(lx_grounder *g, const lx_answer_ctx *ac, const lx_json *root,
                             const lx_gen_answer *a, lexie_extraction *x, lexie_error *err) {
    ranges r = {0}, ra = {0};
    lexie_status st = scan_items(a->text, 2, &r, err);
    const lx_json *arr;
    if (st == LEXIE_OK && (arr = lx_json_get(root, "entities")) && arr->type == LX_JSON_ARRAY)
        st = read_entities(g, ac, arr, &r, a, x, err);
    if (st == LEXIE_OK && (arr = lx_json_get(root, "relations")) && arr->type == LX_JSON_ARRAY)
        st = read_relations(g, ac, arr, &r, a, x, err);
    if (st == LEXIE_OK && (arr = lx_json_get(root, "events")) && arr->type == LX_JSON_ARRAY) {
        st = scan_items(a->text, 4, &ra, err);
        if (st == LEXIE_OK) st = read_events(g, ac, arr, &r, &ra, a, x, err);
    }
    if (st == LEXIE_OK && (arr = lx_json_get(root, "triples")) && arr->type == LX_JSON_ARRAY)
        st = read_triples(g, ac, arr, &r, a, x, err);
    free(r.r);
    free(ra.r);
    return st;
}

lexie_status lx_extract_read_answer(const lx_answer_ctx *ac, const lx_gen_answer *a,
                                    lexie_extraction *x, lexie_error *err) {
    if (a->why == LEXIE_GEN_GRAMMAR_CUT || a->why == LEXIE_GEN_CTX_FULL)
        return lx_fail(err, LEXIE_E_RANGE,
                       "the answer did not fit its token budget and could not be closed");
    if (a->why == LEXIE_GEN_MAX_TOKENS) x->truncated = 1;
    lx_json_doc *d = lx_json_parse(a->text, strlen(a->text), NULL, err);
    if (!d) return lx_fail_prefix(err, "the answer is not JSON (a grammar fault): ");
    lx_ground_params gp = lx_ground_default_params();
    if (ac->fuzzy_min > 0) gp.fuzzy_min = ac->fuzzy_min;
    lx_grounder *g = lx_grounder_new(ac->text, ac->len, &gp, err);
    lexie_status st = g ? read_doc(g, ac, lx_json_root(d), a, x, err) : LEXIE_E_NOMEM;
    lx_grounder_free(g);
    lx_json_doc_free(d);
    return st;
}
