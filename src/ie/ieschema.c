/*
** ieschema.c -- the lexie schema file: what to extract.  One JSON object
** with up to three sections (docs/formats.md):
**
**   {"name": "news",
**    "entities": ["person", {"type": "organization", "description": "..."}],
**    "relations": [...],            (the relation schema of schema.c, with
**                                    its "none" and "entity_types" keys)
**    "events": [{"type": "Adverse_event", "description": "...",
**                "roles": ["Subject", {"role": "Effect", "description": "..."}]}]}
**
** The relations section is parsed by schema.c from the same text, so a
** relation schema file is a lexie schema file too.  When a file declares
** entities but no entity_types, the relations' types must be among the
** entities.  Messages name the JSON path and the fault, as schema.c's do.
*/
#include "ie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TYPES 1024

void lx_ie_schema_free(lx_ie_schema *s) {
    if (!s) return;
    for (int i = 0; i < s->n_entities; i++) {
        free(s->entities[i].name);
        free(s->entities[i].description);
    }
    free(s->entities);
    for (int i = 0; i < s->n_events; i++) {
        lx_ie_event_type *e = &s->events[i];
        free(e->name);
        free(e->description);
        for (int j = 0; j < e->n_roles; j++) {
            free(e->roles[j].name);
            free(e->roles[j].description);
        }
        free(e->roles);
    }
    free(s->events);
    lx_re_schema_free(s->rel);
    free(s->name);
    free(s);
}

/* An item that is a bare name or an object {key: name, "description": ...}.
** Names must be non-empty, free of NUL and unique within seen[0..n_seen). */
static lexie_status parse_named(const lx_json *v, const char *key, const char *src,
                                const char *path, const lx_ie_named *seen, int n_seen,
                                lx_ie_named *out, lexie_error *err) {
    const lx_json *nm = v, *desc = NULL;
    if (v->type == LX_JSON_OBJECT) {
        nm = lx_json_get(v, key);
        desc = lx_json_get(v, "description");
        if (!nm)
            return lx_fail(err, LEXIE_E_FORMAT, "%s: line %d, column %d: %s lacks \"%s\"", src,
                           v->line, v->col, path, key);
        if (desc && desc->type != LX_JSON_STRING)
            return lx_fail(err, LEXIE_E_FORMAT,
                           "%s: line %d, column %d: %s.description must be a string", src,
                           desc->line, desc->col, path);
    }
    if (nm->type != LX_JSON_STRING)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "%s: line %d, column %d: %s must be a string or an object with \"%s\"", src,
                       nm->line, nm->col, path, key);
    if (nm->len == 0 || strlen(nm->str) != nm->len)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: %s: the %s is empty or holds a NUL character", src,
                       path, key);
    for (int i = 0; i < n_seen; i++)
        if (strcmp(seen[i].name, nm->str) == 0)
            return lx_fail(err, LEXIE_E_FORMAT, "%s: %s: duplicate %s \"%s\"", src, path, key,
                           nm->str);
    out->name = lx_strdup(nm->str, err);
    if (!out->name) return LEXIE_E_NOMEM;
    if (desc && desc->len && !(out->description = lx_strndup(desc->str, desc->len, err)))
        return LEXIE_E_NOMEM;
    return LEXIE_OK;
}

/* The array under key, or NULL when absent; an error when it is not an
** array or holds more than MAX_TYPES items. */
static lexie_status get_array(const lx_json *root, const char *key, const char *src,
                              const lx_json **out, lexie_error *err) {
    const lx_json *a = lx_json_get(root, key);
    *out = NULL;
    if (!a) return LEXIE_OK;
    if (a->type != LX_JSON_ARRAY)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: line %d, column %d: %s must be an array, not %s",
                       src, a->line, a->col, key, lx_json_type_name(a->type));
    if (a->n > MAX_TYPES)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: %s has %d items (at most %d)", src, key, a->n,
                       MAX_TYPES);
    *out = a;
    return LEXIE_OK;
}

static lexie_status parse_entities(lx_ie_schema *s, const lx_json *a, const char *src,
                                   lexie_error *err) {
    if (!(s->entities = lx_calloc((size_t)a->n + 1, sizeof *s->entities, err)))
        return LEXIE_E_NOMEM;
    for (int i = 0; i < a->n; i++) {
        char path[48];
        snprintf(path, sizeof path, "entities[%d]", i);
        lexie_status st =
            parse_named(a->items[i], "type", src, path, s->entities, i, &s->entities[i], err);
        if (st != LEXIE_OK) return st;
        s->n_entities++;
    }
    return LEXIE_OK;
}

static lexie_status parse_event(lx_ie_event_type *e, const lx_json *v, const char *src,
                                const char *path, lexie_error *err) {
    const lx_json *roles = lx_json_get(v, "roles");
    if (!roles) return LEXIE_OK; /* an event type with a trigger only */
    if (roles->type != LX_JSON_ARRAY || roles->n > MAX_TYPES)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "%s: line %d, column %d: %s.roles must be an array of at most %d roles", src,
                       roles->line, roles->col, path, MAX_TYPES);
    if (!(e->roles = lx_calloc((size_t)roles->n + 1, sizeof *e->roles, err))) return LEXIE_E_NOMEM;
    for (int j = 0; j < roles->n; j++) {
        char rp[96];
        snprintf(rp, sizeof rp, "%s.roles[%d]", path, j);
        lexie_status st =
            parse_named(roles->items[j], "role", src, rp, e->roles, j, &e->roles[j], err);
        if (st != LEXIE_OK) return st;
        e->n_roles++;
    }
    return LEXIE_OK;
}

static lexie_status parse_events(lx_ie_schema *s, const lx_json *a, const char *src,
                                 lexie_error *err) {
    if (!(s->events = lx_calloc((size_t)a->n + 1, sizeof *s->events, err))) return LEXIE_E_NOMEM;
    for (int i = 0; i < a->n; i++) {
        char path[48];
        snprintf(path, sizeof path, "events[%d]", i);
        const lx_json *v = a->items[i];
        if (v->type != LX_JSON_OBJECT)
            return lx_fail(err, LEXIE_E_FORMAT,
                           "%s: line %d, column %d: %s must be an object {\"type\", \"roles\"}",
                           src, v->line, v->col, path);
        lx_ie_event_type *e = &s->events[i];
        lx_ie_named nm = {0};
        lexie_status st = parse_named(v, "type", src, path, NULL, 0, &nm, err);
        e->name = nm.name;
        e->description = nm.description;
        s->n_events++;
        if (st != LEXIE_OK) return st;
        for (int j = 0; j < i; j++)
            if (strcmp(s->events[j].name, e->name) == 0)
                return lx_fail(err, LEXIE_E_FORMAT, "%s: %s: duplicate type \"%s\"", src, path,
                               e->name);
        if ((st = parse_event(e, v, src, path, err)) != LEXIE_OK) return st;
    }
    return LEXIE_OK;
}

/* With entities declared and no entity_types, relation types must be
** entity types (or "*"). */
static lexie_status check_relation_types(const lx_ie_schema *s, const char *src, lexie_error *err) {
    const lx_re_schema *r = s->rel;
    if (!s->n_entities || r->n_entity_types) return LEXIE_OK;
    for (int i = 0; i < r->n_rels; i++)
        for (int k = 0; k < r->rels[i].n_types; k++) {
            const char *pair[2] = {r->rels[i].subj_types[k], r->rels[i].obj_types[k]};
            for (int side = 0; side < 2; side++)
                if (strcmp(pair[side], "*") != 0 && lx_ie_schema_entity(s, pair[side]) < 0)
                    return lx_fail(err, LEXIE_E_FORMAT,
                                   "%s: relations[%d].types[%d]: unknown type \"%s\" (not among "
                                   "entities)",
                                   src, i, k, pair[side]);
        }
    return LEXIE_OK;
}

static lexie_status parse_sections(lx_ie_schema *s, const char *json, size_t len,
                                   const lx_json *root, const char *src, lexie_error *err) {
    if (root->type != LX_JSON_OBJECT)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: a lexie schema must be a JSON object, not %s", src,
                       lx_json_type_name(root->type));
    const lx_json *name = lx_json_get(root, "name"), *ents, *evs;
    if (name && name->type != LX_JSON_STRING)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: name must be a string", src);
    if (!(s->name = lx_strdup(name ? name->str : "", err))) return LEXIE_E_NOMEM;
    lexie_status st = get_array(root, "entities", src, &ents, err);
    if (st == LEXIE_OK) st = get_array(root, "events", src, &evs, err);
    if (st != LEXIE_OK) return st;
    if (ents && (st = parse_entities(s, ents, src, err)) != LEXIE_OK) return st;
    if (evs && (st = parse_events(s, evs, src, err)) != LEXIE_OK) return st;
    if (lx_json_get(root, "relations")) {
        if (!(s->rel = lx_re_schema_parse(json, len, src, err)))
            return err ? err->code : LEXIE_E_FORMAT;
        if ((st = check_relation_types(s, src, err)) != LEXIE_OK) return st;
    }
    if (!s->n_entities && !s->n_events && !s->rel)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "%s: the schema has none of \"entities\", \"relations\", \"events\"", src);
    return LEXIE_OK;
}

lx_ie_schema *lx_ie_schema_parse(const char *json, size_t len, const char *name_for_errors,
                                 lexie_error *err) {
    const char *src = name_for_errors ? name_for_errors : "schema";
    lx_json_doc *d = lx_json_parse(json, len, NULL, err);
    if (!d) {
        lx_fail_prefix(err, "%s: ", src);
        return NULL;
    }
    lx_ie_schema *s = lx_calloc(1, sizeof *s, err);
    lexie_status st = s ? parse_sections(s, json, len, lx_json_root(d), src, err) : LEXIE_E_NOMEM;
    lx_json_doc_free(d);
    if (st != LEXIE_OK) {
        lx_ie_schema_free(s);
        return NULL;
    }
    lx_sha256_hex_of(json, len, s->sha256);
    return s;
}

lx_ie_schema *lx_ie_schema_load(const char *path, lexie_error *err) {
    size_t len;
    char *text = lx_read_file(path, (size_t)64 << 20, &len, err);
    if (!text) return NULL;
    lx_ie_schema *s = lx_ie_schema_parse(text, len, path, err);
    free(text);
    return s;
}

/* Entity types given on a command line (--types A,B,C): the same checks
** as a file's entities section. */
lx_ie_schema *lx_ie_schema_from_types(const char *const *types, int n, lexie_error *err) {
    lx_jbuf b = {0};
    lx_jbuf_puts(&b, "{\"entities\":[");
    for (int i = 0; i < n; i++) {
        if (i) lx_jbuf_putc(&b, ',');
        lx_jbuf_cstr(&b, types[i]);
    }
    lx_jbuf_puts(&b, "]}");
    lx_ie_schema *s = NULL;
    if (lx_jbuf_status(&b, err) == LEXIE_OK) s = lx_ie_schema_parse(b.data, b.len, "--types", err);
    if (s && n == 0) {
        lx_fail(err, LEXIE_E_INVALID, "--types: no entity types given");
        lx_ie_schema_free(s);
        s = NULL;
    }
    lx_jbuf_free(&b);
    return s;
}

int lx_ie_schema_entity(const lx_ie_schema *s, const char *type) {
    for (int i = 0; i < s->n_entities; i++)
        if (strcmp(s->entities[i].name, type) == 0) return i;
    return -1;
}

/* ==== Public face ==== */

lexie_ie_schema *lexie_ie_schema_load(const char *path, lexie_error *err) {
    return lx_ie_schema_load(path, err);
}

lexie_ie_schema *lexie_ie_schema_parse(const char *json, size_t len, lexie_error *err) {
    return lx_ie_schema_parse(json, len, NULL, err);
}

lexie_ie_schema *lexie_ie_schema_from_types(const char *const *types, int n, lexie_error *err) {
    return lx_ie_schema_from_types(types, n, err);
}

void lexie_ie_schema_free(lexie_ie_schema *s) { lx_ie_schema_free(s); }

const char *lexie_ie_schema_name(const lexie_ie_schema *s) { return s->name; }

const char *lexie_ie_schema_sha256(const lexie_ie_schema *s) { return s->sha256; }

int lexie_ie_schema_n_entity_types(const lexie_ie_schema *s) { return s->n_entities; }

const char *lexie_ie_schema_entity_type(const lexie_ie_schema *s, int i) {
    return i >= 0 && i < s->n_entities ? s->entities[i].name : NULL;
}

int lexie_ie_schema_n_event_types(const lexie_ie_schema *s) { return s->n_events; }

const char *lexie_ie_schema_event_type(const lexie_ie_schema *s, int i) {
    return i >= 0 && i < s->n_events ? s->events[i].name : NULL;
}

const lexie_re_schema *lexie_ie_schema_relations(const lexie_ie_schema *s) { return s->rel; }
