/*
** prompt.c -- what the model is asked and the shape its answer must take.
**
** Each task has one instruction, written so that the document comes last:
** the instruction is then a prefix all documents share, computed once.
** The answer is JSON under a JSON Schema compiled to a grammar, so it
** always parses; the types, roles and labels are enums, so the model can
** only name what the schema declares.  Spans are free strings (copied from
** the text, the instruction says) that answer.c grounds afterwards.
** Wording changes must bump LX_EXTRACT_PROMPT_VERSION.
*/
#include "extract.h"

#include <stdlib.h>
#include <string.h>

/* Items per answer and characters per span: generous bounds that keep a
** runaway answer finite (the token budget cuts earlier anyway). */
#define MAX_ITEMS 128
#define MAX_SPAN 400
#define MAX_ARGS 24

/* Entity types for NER and RE: the entities section, else the relation
** schema's entity_types. */
static int entity_types(const lx_ie_schema *s, const char *const **names, lx_ie_named **named) {
    *names = NULL;
    *named = NULL;
    if (s && s->n_entities) {
        *named = s->entities;
        return s->n_entities;
    }
    if (s && s->rel && s->rel->n_entity_types) {
        *names = (const char *const *)s->rel->entity_types;
        return s->rel->n_entity_types;
    }
    return 0;
}

static const char *type_at(const char *const *names, const lx_ie_named *named, int i) {
    return named ? named[i].name : names[i];
}

/* ==== Instructions ==== */

static void list_entity_types(lx_jbuf *b, const lx_ie_schema *s) {
    const char *const *names;
    lx_ie_named *named;
    int n = entity_types(s, &names, &named);
    for (int i = 0; i < n; i++) {
        lx_jbuf_printf(b, "- %s", type_at(names, named, i));
        if (named && named[i].description) lx_jbuf_printf(b, ": %s", named[i].description);
        lx_jbuf_putc(b, '\n');
    }
}

static void list_relations(lx_jbuf *b, const lx_re_schema *r) {
    for (int i = 0; i < r->n_rels; i++) {
        const lx_re_rel *rel = &r->rels[i];
        lx_jbuf_printf(b, "- %s: ", rel->label);
        /* The template says what the label means, in the schema's words. */
        for (const char *t = rel->templates[0]; *t; t++) {
            if (strncmp(t, "{subj}", 6) == 0) {
                lx_jbuf_puts(b, "HEAD");
                t += 5;
            } else if (strncmp(t, "{obj}", 5) == 0) {
                lx_jbuf_puts(b, "TAIL");
                t += 4;
            } else {
                lx_jbuf_putc(b, *t);
            }
        }
        lx_jbuf_putc(b, '\n');
    }
}

static void list_events(lx_jbuf *b, const lx_ie_schema *s) {
    for (int i = 0; i < s->n_events; i++) {
        const lx_ie_event_type *e = &s->events[i];
        lx_jbuf_printf(b, "- %s", e->name);
        if (e->description) lx_jbuf_printf(b, ": %s", e->description);
        lx_jbuf_puts(b, "\n  Roles:");
        for (int j = 0; j < e->n_roles; j++) {
            lx_jbuf_printf(b, "%s %s", j ? ";" : "", e->roles[j].name);
            if (e->roles[j].description) lx_jbuf_printf(b, " (%s)", e->roles[j].description);
        }
        lx_jbuf_puts(b, e->n_roles ? "\n" : " none\n");
    }
}

static void default_instruction(lx_jbuf *b, const lx_ie_schema *s, const lexie_extract_params *p) {
    switch (p->task) {
    case LEXIE_TASK_NER:
    case LEXIE_TASK_RE:
        if (p->task == LEXIE_TASK_RE && p->re_generate) {
            lx_jbuf_puts(b, "Extract the relations between entities stated in the text below. "
                            "Relations (HEAD and TAIL are the two entities):\n");
            list_relations(b, s->rel);
            lx_jbuf_puts(b, "Entity types:\n");
            list_entity_types(b, s);
            lx_jbuf_puts(b,
                         "Copy HEAD and TAIL exactly as they appear in the text. Answer in JSON: "
                         "{\"relations\": [{\"head\": ..., \"head_type\": ..., \"relation\": "
                         "..., \"tail\": ..., \"tail_type\": ...}]}, an empty list if none.");
            return;
        }
        lx_jbuf_puts(b, "Extract every named entity of the following types from the text below.\n"
                        "Entity types:\n");
        list_entity_types(b, s);
        lx_jbuf_puts(b, "Copy each entity exactly as it appears in the text, in order of "
                        "appearance. Answer in JSON: {\"entities\": [{\"text\": ..., \"type\": "
                        "...}]}, an empty list if there are none.");
        return;
    case LEXIE_TASK_EVENTS:
        lx_jbuf_puts(b, "Extract the events of the following types from the text below. For each "
                        "event give its type, its trigger (the word or phrase of the text that "
                        "most clearly expresses it) and its arguments (the text spans that fill "
                        "its roles).\nEvent types:\n");
        list_events(b, s);
        lx_jbuf_puts(b, "Copy triggers and arguments exactly as they appear in the text. Answer "
                        "in JSON: {\"events\": [{\"type\": ..., \"trigger\": ..., \"arguments\": "
                        "[{\"role\": ..., \"text\": ...}]}]}, an empty list if there are none.");
        return;
    case LEXIE_TASK_OPENIE:
        lx_jbuf_puts(b, "Extract every fact stated in the text below as a (subject; relation; "
                        "object) triple, adding the time and the place when the text gives them. "
                        "Use the words of the text. Answer in JSON: {\"triples\": [{\"subject\": "
                        "..., \"relation\": ..., \"object\": ...}]}, an empty list if there are "
                        "none.");
        return;
    }
}

lexie_status lx_extract_instruction(const lx_ie_schema *s, const lexie_extract_params *p,
                                    char **out, lexie_error *err) {
    lx_jbuf b = {0};
    *out = NULL;
    if (!p->instruction) {
        default_instruction(&b, s, p);
    } else {
        /* A user's instruction; {types} becomes the type list. */
        const char *at = strstr(p->instruction, "{types}");
        lx_jbuf_add(&b, p->instruction,
                    at ? (size_t)(at - p->instruction) : strlen(p->instruction));
        if (at) {
            lx_jbuf b2 = {0};
            if (p->task == LEXIE_TASK_EVENTS)
                list_events(&b2, s);
            else
                list_entity_types(&b2, s);
            if (b2.len && b2.data[b2.len - 1] == '\n') b2.len--;
            lx_jbuf_add(&b, b2.data ? b2.data : "", b2.len);
            lx_jbuf_free(&b2);
            lx_jbuf_puts(&b, at + 7);
        }
    }
    lexie_status st = lx_jbuf_status(&b, err);
    if (st == LEXIE_OK)
        *out = b.data;
    else
        lx_jbuf_free(&b);
    return st;
}

char *lx_extract_user_turn(const char *instruction, const char *text, lexie_error *err) {
    lx_jbuf b = {0};
    lx_jbuf_puts(&b, instruction);
    lx_jbuf_puts(&b, "\n\nText: ");
    lx_jbuf_puts(&b, text);
    if (lx_jbuf_status(&b, err) != LEXIE_OK) {
        lx_jbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ==== Answer schemas ==== */

static void span_schema(lx_jbuf *b) {
    lx_jbuf_printf(b, "{\"type\":\"string\",\"minLength\":1,\"maxLength\":%d}", MAX_SPAN);
}

static void enum_schema(lx_jbuf *b, const char *const *names, const lx_ie_named *named, int n) {
    lx_jbuf_puts(b, "{\"enum\":[");
    for (int i = 0; i < n; i++) {
        if (i) lx_jbuf_putc(b, ',');
        lx_jbuf_cstr(b, type_at(names, named, i));
    }
    lx_jbuf_puts(b, "]}");
}

/* An object schema without other properties: open_object, then the
** properties, then close_object with the required names. */
static void open_object(lx_jbuf *b) {
    lx_jbuf_puts(b, "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{");
}

static void close_object(lx_jbuf *b, const char *required) {
    lx_jbuf_printf(b, "},\"required\":[%s]}", required);
}

static void item_array(lx_jbuf *b, const char *key, int max_items) {
    lx_jbuf_printf(b, "\"%s\":{\"type\":\"array\",\"maxItems\":%d,\"items\":", key, max_items);
}

static void entities_items(lx_jbuf *b, const lx_ie_schema *s) {
    const char *const *names;
    lx_ie_named *named;
    int n = entity_types(s, &names, &named);
    open_object(b);
    lx_jbuf_puts(b, "\"text\":");
    span_schema(b);
    lx_jbuf_puts(b, ",\"type\":");
    enum_schema(b, names, named, n);
    close_object(b, "\"text\",\"type\"");
}

/* The types a relation admits on one side (side 0 the head), as an enum:
** its declared pairs' types, or every entity type when it declares none
** or uses "*". */
static void side_types(lx_jbuf *b, const lx_ie_schema *s, const lx_re_rel *rel, int side) {
    const char *const *names;
    lx_ie_named *named;
    int n = entity_types(s, &names, &named), any = rel->n_types == 0;
    for (int k = 0; k < rel->n_types; k++)
        any |= strcmp(side ? rel->obj_types[k] : rel->subj_types[k], "*") == 0;
    if (any) {
        enum_schema(b, names, named, n);
        return;
    }
    lx_jbuf_puts(b, "{\"enum\":[");
    for (int k = 0; k < rel->n_types; k++) {
        const char *t = side ? rel->obj_types[k] : rel->subj_types[k];
        int seen = 0;
        for (int j = 0; j < k; j++)
            seen |= strcmp(t, side ? rel->obj_types[j] : rel->subj_types[j]) == 0;
        if (!seen) {
            lx_jbuf_puts(b, k ? "," : "");
            lx_jbuf_cstr(b, t);
        }
    }
    lx_jbuf_puts(b, "]}");
}

/* A generated relation: one branch per relation, so the head and tail
** types are those the relation admits (pairs are checked per side, a
** looser bound than the pairs themselves when a relation lists several). */
static void relations_items(lx_jbuf *b, const lx_ie_schema *s) {
    const lx_re_schema *r = s->rel;
    lx_jbuf_puts(b, "{\"anyOf\":[");
    for (int i = 0; i < r->n_rels; i++) {
        lx_jbuf_puts(b, i ? "," : "");
        open_object(b);
        lx_jbuf_puts(b, "\"head\":");
        span_schema(b);
        lx_jbuf_puts(b, ",\"head_type\":");
        side_types(b, s, &r->rels[i], 0);
        lx_jbuf_puts(b, ",\"relation\":{\"const\":");
        lx_jbuf_cstr(b, r->rels[i].label);
        lx_jbuf_puts(b, "},\"tail\":");
        span_schema(b);
        lx_jbuf_puts(b, ",\"tail_type\":");
        side_types(b, s, &r->rels[i], 1);
        close_object(b, "\"head\",\"head_type\",\"relation\",\"tail\",\"tail_type\"");
    }
    lx_jbuf_puts(b, "]}");
}

/* One event type's item: its type as a constant, its roles as an enum. */
static void event_item(lx_jbuf *b, const lx_ie_event_type *e) {
    open_object(b);
    lx_jbuf_puts(b, "\"type\":{\"const\":");
    lx_jbuf_cstr(b, e->name);
    lx_jbuf_puts(b, "},\"trigger\":");
    span_schema(b);
    lx_jbuf_printf(b, ",\"arguments\":{\"type\":\"array\",\"maxItems\":%d,\"items\":",
                   e->n_roles ? MAX_ARGS : 0);
    open_object(b);
    lx_jbuf_puts(b, "\"role\":{\"enum\":[");
    for (int j = 0; j < e->n_roles; j++) {
        if (j) lx_jbuf_putc(b, ',');
        lx_jbuf_cstr(b, e->roles[j].name);
    }
    if (!e->n_roles)
        lx_jbuf_puts(b, "\"\""); /* an enum needs a value; maxItems 0 keeps it unused */
    lx_jbuf_puts(b, "]},\"text\":");
    span_schema(b);
    close_object(b, "\"role\",\"text\"");
    lx_jbuf_putc(b, '}');
    close_object(b, "\"type\",\"trigger\",\"arguments\"");
}

static void events_items(lx_jbuf *b, const lx_ie_schema *s) {
    if (s->n_events == 1) {
        event_item(b, &s->events[0]);
        return;
    }
    lx_jbuf_puts(b, "{\"anyOf\":[");
    for (int i = 0; i < s->n_events; i++) {
        if (i) lx_jbuf_putc(b, ',');
        event_item(b, &s->events[i]);
    }
    lx_jbuf_puts(b, "]}");
}

static void triples_items(lx_jbuf *b) {
    static const char *slots[] = {"subject", "relation", "object", "time", "place"};
    open_object(b);
    for (int i = 0; i < 5; i++) {
        lx_jbuf_printf(b, "%s\"%s\":", i ? "," : "", slots[i]);
        span_schema(b);
    }
    close_object(b, "\"subject\",\"relation\",\"object\"");
}

lexie_status lx_extract_answer_schema(const lx_ie_schema *s, const lexie_extract_params *p,
                                      char **out, lexie_error *err) {
    *out = NULL;
    if (p->json_schema) return (*out = lx_strdup(p->json_schema, err)) ? LEXIE_OK : LEXIE_E_NOMEM;
    lx_jbuf b = {0};
    const char *key = "entities";
    if (p->task == LEXIE_TASK_RE && p->re_generate)
        key = "relations";
    else if (p->task == LEXIE_TASK_EVENTS)
        key = "events";
    else if (p->task == LEXIE_TASK_OPENIE)
        key = "triples";
    open_object(&b);
    item_array(&b, key, MAX_ITEMS);
    if (strcmp(key, "entities") == 0)
        entities_items(&b, s);
    else if (strcmp(key, "relations") == 0)
        relations_items(&b, s);
    else if (strcmp(key, "events") == 0)
        events_items(&b, s);
    else
        triples_items(&b);
    lx_jbuf_putc(&b, '}');
    lx_jbuf_printf(&b, "},\"required\":[\"%s\"]}", key);
    lexie_status st = lx_jbuf_status(&b, err);
    if (st == LEXIE_OK)
        *out = b.data;
    else
        lx_jbuf_free(&b);
    return st;
}

/* ==== Answers written as models write them ==== */

/* v with ", " and ": " between items and no other whitespace (the
** answer grammar's form); keys in their order, numbers as written. */
static void write_spaced(lx_jbuf *b, const lx_json *v) {
    if (v->type == LX_JSON_ARRAY || v->type == LX_JSON_OBJECT) {
        int obj = v->type == LX_JSON_OBJECT;
        lx_jbuf_putc(b, obj ? '{' : '[');
        for (int i = 0; i < v->n; i++) {
            if (i) lx_jbuf_puts(b, ", ");
            if (obj) {
                lx_jbuf_str(b, v->keys[i], v->key_lens[i]);
                lx_jbuf_puts(b, ": ");
            }
            write_spaced(b, v->items[i]);
        }
        lx_jbuf_putc(b, obj ? '}' : ']');
    } else {
        lx_jbuf_value(b, v);
    }
}

lexie_status lx_extract_answer_normalize(const char *answer, char **out, lexie_error *err) {
    *out = NULL;
    lx_json_doc *d = lx_json_parse(answer, strlen(answer), NULL, err);
    if (!d) return err ? err->code : LEXIE_E_FORMAT;
    lx_jbuf b = {0};
    write_spaced(&b, lx_json_root(d));
    lx_json_doc_free(d);
    lexie_status st = lx_jbuf_status(&b, err);
    if (st == LEXIE_OK)
        *out = b.data;
    else
        lx_jbuf_free(&b);
    return st;
}
