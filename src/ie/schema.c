/*
** schema.c -- relation schemas: load a JSON schema file, validate it with
** messages that name the JSON path and the fault, and answer which
** relations a pair of entity types admits.
**
** The format (docs/formats.md):
**   {"name": "...",
**    "entity_types": ["PER", "ORG", ...],                   (optional)
**    "none": {"label": "no_relation", "template": "{subj} ... {obj}"},
**    "relations": [{"label": "org:founded_by",
**                   "templates": ["{subj} was founded by {obj}"],
**                   "types": [["ORG", "PER"]],              (optional)
**                   "description": "..."}, ...]}
** Other top-level keys (entities, events, ...) belong to other sections of
** a lexie schema file and are ignored here.
*/
#include "ie.h"

#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RELATIONS 4096

/* ==== Free ==== */

static void free_strv(char **v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

void lx_re_schema_free(lx_re_schema *s) {
    if (!s) return;
    for (int i = 0; i < s->n_rels; i++) {
        lx_re_rel *r = &s->rels[i];
        free(r->label);
        free_strv(r->templates, r->n_templates);
        free_strv(r->subj_types, r->n_types);
        free_strv(r->obj_types, r->n_types);
        free(r->description);
    }
    free(s->rels);
    free(s->name);
    free(s->none_label);
    free(s->none_template);
    free_strv(s->entity_types, s->n_entity_types);
    free_strv(s->warnings, s->n_warnings);
    free(s);
}

/* ==== Validation helpers ==== */

/* Checks that a template has {subj} and {obj} exactly once each and no
** other {placeholder}.  Returns NULL if fine, else a static reason. */
static const char *check_template(const char *t) {
    int n_subj = 0, n_obj = 0;
    for (const char *p = strchr(t, '{'); p; p = strchr(p + 1, '{')) {
        if (strncmp(p, "{subj}", 6) == 0)
            n_subj++;
        else if (strncmp(p, "{obj}", 5) == 0)
            n_obj++;
        else
            return "has an unknown placeholder (only {subj} and {obj} are allowed)";
    }
    if (n_subj == 0 && n_obj == 0) return "lacks both {subj} and {obj}";
    if (n_subj == 0) return "lacks the {subj} placeholder";
    if (n_obj == 0) return "lacks the {obj} placeholder";
    if (n_subj > 1 || n_obj > 1) return "uses {subj} or {obj} more than once";
    return NULL;
}

static const char *article(lx_json_type t) {
    return t == LX_JSON_ARRAY || t == LX_JSON_OBJECT ? "an" : "a";
}

static lexie_status want_type(const lx_json *v, lx_json_type t, const char *src, const char *path,
                              lexie_error *err) {
    if (v && v->type == t) return LEXIE_OK;
    if (!v)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: %s is missing (want %s %s)", src, path, article(t),
                       lx_json_type_name(t));
    return lx_fail(err, LEXIE_E_FORMAT, "%s: line %d, column %d: %s must be %s %s, not %s %s", src,
                   v->line, v->col, path, article(t), lx_json_type_name(t), article(v->type),
                   lx_json_type_name(v->type));
}

static int has_type(const lx_re_schema *s, const char *t) {
    if (strcmp(t, "*") == 0) return 1;
    for (int i = 0; i < s->n_entity_types; i++)
        if (strcmp(s->entity_types[i], t) == 0) return 1;
    return 0;
}

static lexie_status add_warning(lx_re_schema *s, lexie_error *err, const char *fmt, const char *a) {
    char buf[600];
    snprintf(buf, sizeof buf, fmt, a);
    char **w = realloc(s->warnings, (size_t)(s->n_warnings + 1) * sizeof *w);
    if (!w) return lx_fail(err, LEXIE_E_NOMEM, "schema: out of memory");
    s->warnings = w;
    if (!(w[s->n_warnings] = lx_strdup(buf, err))) return LEXIE_E_NOMEM;
    s->n_warnings++;
    return LEXIE_OK;
}

/* "org:founded_by" -> "{subj} founded by {obj}": the words of the label
** after any "prefix:", with _ - / as spaces and a trailing "(e1,e2)"
** direction left out. */
static char *template_from_label(const char *label, lexie_error *err) {
    const char *w = strrchr(label, ':');
    w = w ? w + 1 : label;
    size_t n = strlen(w);
    const char *paren = strchr(w, '(');
    if (paren) n = (size_t)(paren - w);
    char *t = lx_malloc(n + 16, err);
    if (!t) return NULL;
    size_t o = 0;
    memcpy(t, "{subj} ", 7);
    o = 7;
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        t[o++] = (c == '_' || c == '-' || c == '/') ? ' ' : c;
    }
    memcpy(t + o, " {obj}", 7);
    return t;
}

/* Reads a string member; missing is fine when !required (then *out NULL). */
static lexie_status get_str(const lx_json *o, const char *key, int required, const char *src,
                            const char *path, char **out, lexie_error *err) {
    const lx_json *v = lx_json_get(o, key);
    *out = NULL;
    if (!v && !required) return LEXIE_OK;
    char p[160];
    snprintf(p, sizeof p, "%s.%s", path, key);
    lexie_status st = want_type(v, LX_JSON_STRING, src, p, err);
    if (st != LEXIE_OK) return st;
    if (strlen(v->str) != v->len)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: %s contains a NUL character", src, p);
    if (required && v->len == 0) return lx_fail(err, LEXIE_E_FORMAT, "%s: %s is empty", src, p);
    *out = lx_strdup(v->str, err);
    return *out ? LEXIE_OK : LEXIE_E_NOMEM;
}

/* ==== Relations ==== */

static lexie_status parse_relation(lx_re_schema *s, const lx_json *o, int i, const char *src,
                                   lexie_error *err) {
    char path[64];
    snprintf(path, sizeof path, "relations[%d]", i);
    lexie_status st = want_type(o, LX_JSON_OBJECT, src, path, err);
    if (st != LEXIE_OK) return st;
    lx_re_rel *r = &s->rels[i];
    if ((st = get_str(o, "label", 1, src, path, &r->label, err)) != LEXIE_OK) return st;
    for (int j = 0; j < i; j++)
        if (strcmp(s->rels[j].label, r->label) == 0)
            return lx_fail(err, LEXIE_E_FORMAT,
                           "%s: %s: duplicate label \"%s\" (also relations[%d])", src, path,
                           r->label, j);
    if (strcmp(r->label, s->none_label) == 0)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: %s: label \"%s\" is the none label", src, path,
                       r->label);
    if ((st = get_str(o, "description", 0, src, path, &r->description, err)) != LEXIE_OK) return st;

    /* "templates": [..] or "template": "..". */
    const lx_json *tv = lx_json_get(o, "templates");
    const lx_json *one = lx_json_get(o, "template");
    char p[160];
    if (tv && one)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: %s has both \"template\" and \"templates\"", src,
                       path);
    if (one) {
        snprintf(p, sizeof p, "%s.template", path);
        if ((st = want_type(one, LX_JSON_STRING, src, p, err)) != LEXIE_OK) return st;
    } else if (tv) {
        snprintf(p, sizeof p, "%s.templates", path);
        if ((st = want_type(tv, LX_JSON_ARRAY, src, p, err)) != LEXIE_OK) return st;
    }
    int n_t = one ? 1 : tv ? tv->n : 0;
    if (n_t == 0) {
        r->templates = lx_calloc(1, sizeof *r->templates, err);
        if (!r->templates || !(r->templates[0] = template_from_label(r->label, err)))
            return LEXIE_E_NOMEM;
        r->n_templates = 1;
        if (strspn(r->templates[0] + 7, " ") > strlen(r->templates[0] + 7) - 6)
            return lx_fail(err, LEXIE_E_FORMAT,
                           "%s: %s: label \"%.100s\" has no words to build a template from "
                           "(give \"template\")",
                           src, path, r->label);
        st = add_warning(s, err, "relation \"%s\" has no template; using one built from its label",
                         r->label);
        if (st != LEXIE_OK) return st;
    } else if (!(r->templates = lx_calloc((size_t)n_t, sizeof *r->templates, err))) {
        return LEXIE_E_NOMEM;
    }
    for (int k = 0; k < n_t; k++) {
        const lx_json *t = one ? one : tv->items[k];
        if (one)
            snprintf(p, sizeof p, "%s.template", path);
        else
            snprintf(p, sizeof p, "%s.templates[%d]", path, k);
        if ((st = want_type(t, LX_JSON_STRING, src, p, err)) != LEXIE_OK) return st;
        const char *why =
            strlen(t->str) != t->len ? "contains a NUL character" : check_template(t->str);
        if (why) return lx_fail(err, LEXIE_E_FORMAT, "%s: %s \"%.100s\" %s", src, p, t->str, why);
        if (!(r->templates[k] = lx_strdup(t->str, err))) return LEXIE_E_NOMEM;
        r->n_templates++;
    }

    /* "types": [["SUBJ", "OBJ"], ...] */
    const lx_json *ty = lx_json_get(o, "types");
    if (!ty) return LEXIE_OK;
    snprintf(p, sizeof p, "%s.types", path);
    if ((st = want_type(ty, LX_JSON_ARRAY, src, p, err)) != LEXIE_OK) return st;
    if (ty->n == 0) return LEXIE_OK;
    r->subj_types = lx_calloc((size_t)ty->n, sizeof(char *), err);
    r->obj_types = lx_calloc((size_t)ty->n, sizeof(char *), err);
    if (!r->subj_types || !r->obj_types) return LEXIE_E_NOMEM;
    for (int k = 0; k < ty->n; k++) {
        const lx_json *pr = ty->items[k];
        snprintf(p, sizeof p, "%s.types[%d]", path, k);
        if ((st = want_type(pr, LX_JSON_ARRAY, src, p, err)) != LEXIE_OK) return st;
        if (pr->n != 2 || pr->items[0]->type != LX_JSON_STRING ||
            pr->items[1]->type != LX_JSON_STRING)
            return lx_fail(
                err, LEXIE_E_FORMAT,
                "%s: line %d, column %d: %s must be a pair [\"SUBJ_TYPE\", \"OBJ_TYPE\"]", src,
                pr->line, pr->col, p);
        for (int side = 0; side < 2; side++) {
            const char *tn = pr->items[side]->str;
            if (s->n_entity_types && !has_type(s, tn))
                return lx_fail(err, LEXIE_E_FORMAT,
                               "%s: %s: unknown type \"%s\" (not in entity_types)", src, p, tn);
            if (!*tn) return lx_fail(err, LEXIE_E_FORMAT, "%s: %s: empty type name", src, p);
        }
        r->subj_types[k] = lx_strdup(pr->items[0]->str, err);
        r->obj_types[k] = lx_strdup(pr->items[1]->str, err);
        r->n_types++;
        if (!r->subj_types[k] || !r->obj_types[k]) return LEXIE_E_NOMEM;
    }
    return LEXIE_OK;
}

static lexie_status parse_schema(lx_re_schema *s, const lx_json *root, const char *src,
                                 lexie_error *err) {
    lexie_status st = want_type(root, LX_JSON_OBJECT, src, "the schema", err);
    if (st != LEXIE_OK) return st;
    if ((st = get_str(root, "name", 0, src, "$", &s->name, err)) != LEXIE_OK) return st;
    if (!s->name && !(s->name = lx_strdup("", err))) return LEXIE_E_NOMEM;

    const lx_json *et = lx_json_get(root, "entity_types");
    if (et) {
        if ((st = want_type(et, LX_JSON_ARRAY, src, "entity_types", err)) != LEXIE_OK) return st;
        s->entity_types = lx_calloc((size_t)et->n + 1, sizeof(char *), err);
        if (!s->entity_types) return LEXIE_E_NOMEM;
        for (int i = 0; i < et->n; i++) {
            char p[64];
            snprintf(p, sizeof p, "entity_types[%d]", i);
            if ((st = want_type(et->items[i], LX_JSON_STRING, src, p, err)) != LEXIE_OK) return st;
            if (et->items[i]->len == 0 || strlen(et->items[i]->str) != et->items[i]->len)
                return lx_fail(err, LEXIE_E_FORMAT, "%s: %s is empty or holds a NUL", src, p);
            if (!(s->entity_types[i] = lx_strdup(et->items[i]->str, err))) return LEXIE_E_NOMEM;
            s->n_entity_types++;
        }
    }

    const lx_json *none = lx_json_get(root, "none");
    if (none) {
        if ((st = want_type(none, LX_JSON_OBJECT, src, "none", err)) != LEXIE_OK) return st;
        if ((st = get_str(none, "label", 1, src, "none", &s->none_label, err)) != LEXIE_OK)
            return st;
        if ((st = get_str(none, "template", 1, src, "none", &s->none_template, err)) != LEXIE_OK)
            return st;
        const char *why = check_template(s->none_template);
        if (why)
            return lx_fail(err, LEXIE_E_FORMAT, "%s: none.template \"%.100s\" %s", src,
                           s->none_template, why);
    } else {
        s->none_label = lx_strdup("no_relation", err);
        s->none_template = lx_strdup("{subj} has no known relation to {obj}", err);
        if (!s->none_label || !s->none_template) return LEXIE_E_NOMEM;
    }

    const lx_json *rels = lx_json_get(root, "relations");
    if ((st = want_type(rels, LX_JSON_ARRAY, src, "relations", err)) != LEXIE_OK) return st;
    if (rels->n == 0) return lx_fail(err, LEXIE_E_FORMAT, "%s: relations is empty", src);
    if (rels->n > MAX_RELATIONS)
        return lx_fail(err, LEXIE_E_FORMAT, "%s: %d relations, more than the limit of %d", src,
                       rels->n, MAX_RELATIONS);
    s->rels = lx_calloc((size_t)rels->n, sizeof *s->rels, err);
    if (!s->rels) return LEXIE_E_NOMEM;
    for (int i = 0; i < rels->n; i++) {
        s->n_rels = i + 1; /* so free() sees what was filled */
        if ((st = parse_relation(s, rels->items[i], i, src, err)) != LEXIE_OK) return st;
    }
    /* Two relations offered with the same words (QA4RE options) cannot be
    ** told apart by the model: refuse rather than guess between them. */
    for (int i = 0; i < s->n_rels; i++) {
        const char *ti = s->rels[i].templates[0];
        if (strcmp(ti, s->none_template) == 0)
            return lx_fail(err, LEXIE_E_FORMAT,
                           "%s: relations[%d] (\"%.100s\") has the none template \"%.100s\"", src,
                           i, s->rels[i].label, ti);
        for (int j = 0; j < i; j++)
            if (strcmp(ti, s->rels[j].templates[0]) == 0)
                return lx_fail(err, LEXIE_E_FORMAT,
                               "%s: relations[%d] (\"%.100s\") and relations[%d] (\"%.100s\") "
                               "have the same template \"%.100s\"",
                               src, j, s->rels[j].label, i, s->rels[i].label, ti);
    }
    return LEXIE_OK;
}

lx_re_schema *lx_re_schema_parse(const char *json, size_t len, const char *name_for_errors,
                                 lexie_error *err) {
    const char *src = name_for_errors ? name_for_errors : "schema";
    lx_json_doc *d = lx_json_parse(json, len, NULL, err);
    if (!d) {
        lx_fail_prefix(err, "%s: ", src);
        if (err && err->code != LEXIE_E_NOMEM) err->code = LEXIE_E_FORMAT; /* bad UTF-8 too */
        return NULL;
    }
    lx_re_schema *s = lx_calloc(1, sizeof *s, err);
    if (!s) {
        lx_json_doc_free(d);
        return NULL;
    }
    lexie_status st = parse_schema(s, lx_json_root(d), src, err);
    lx_json_doc_free(d);
    if (st != LEXIE_OK) {
        lx_re_schema_free(s);
        return NULL;
    }
    lx_sha256 h;
    unsigned char dig[32];
    lx_sha256_init(&h);
    lx_sha256_update(&h, json, len);
    lx_sha256_final(&h, dig);
    lx_sha256_hex(dig, s->sha256);
    return s;
}

lx_re_schema *lx_re_schema_load(const char *path, lexie_error *err) {
    size_t n;
    char *buf = lx_read_file(path, (size_t)64 << 20, &n, err);
    if (!buf) return NULL;
    lx_re_schema *s = lx_re_schema_parse(buf, n, path, err);
    free(buf);
    return s;
}

/* ==== Queries ==== */

int lx_re_schema_find(const lx_re_schema *s, const char *label) {
    if (!label) return -1;
    for (int i = 0; i < s->n_rels; i++)
        if (strcmp(s->rels[i].label, label) == 0) return i;
    if (strcmp(s->none_label, label) == 0) return s->n_rels;
    return -1;
}

const char *lx_re_schema_label(const lx_re_schema *s, int i) {
    if (i >= 0 && i < s->n_rels) return s->rels[i].label;
    if (i == s->n_rels) return s->none_label;
    return NULL;
}

static int type_ok(const char *allowed, const char *t) {
    return !t || strcmp(allowed, "*") == 0 || strcmp(allowed, t) == 0;
}

int lx_re_schema_candidates(const lx_re_schema *s, const char *subj_type, const char *obj_type,
                            int *out) {
    int n = 0;
    for (int i = 0; i < s->n_rels; i++) {
        const lx_re_rel *r = &s->rels[i];
        int ok = r->n_types == 0;
        for (int k = 0; k < r->n_types && !ok; k++)
            ok = type_ok(r->subj_types[k], subj_type) && type_ok(r->obj_types[k], obj_type);
        if (ok) out[n++] = i;
    }
    return n;
}

/* ==== Public face ==== */

lexie_re_schema *lexie_re_schema_load(const char *path, lexie_error *err) {
    if (!path) {
        lx_fail(err, LEXIE_E_INVALID, "schema: NULL path");
        return NULL;
    }
    return lx_re_schema_load(path, err);
}

lexie_re_schema *lexie_re_schema_parse(const char *json, size_t len, lexie_error *err) {
    if (!json && len) {
        lx_fail(err, LEXIE_E_INVALID, "schema: NULL text");
        return NULL;
    }
    return lx_re_schema_parse(json ? json : "", len, NULL, err);
}

void lexie_re_schema_free(lexie_re_schema *s) { lx_re_schema_free(s); }
int lexie_re_schema_n_labels(const lexie_re_schema *s) { return s ? s->n_rels + 1 : 0; }
const char *lexie_re_schema_label(const lexie_re_schema *s, int i) {
    return s ? lx_re_schema_label(s, i) : NULL;
}
int lexie_re_schema_none(const lexie_re_schema *s) { return s ? s->n_rels : -1; }
const char *lexie_re_schema_name(const lexie_re_schema *s) { return s ? s->name : NULL; }
const char *lexie_re_schema_sha256(const lexie_re_schema *s) { return s ? s->sha256 : NULL; }
int lexie_re_schema_n_warnings(const lexie_re_schema *s) { return s ? s->n_warnings : 0; }
const char *lexie_re_schema_warning(const lexie_re_schema *s, int i) {
    return s && i >= 0 && i < s->n_warnings ? s->warnings[i] : NULL;
}

/* ==== Finding a schema ==== */

lexie_status lexie_re_schema_find(const char *arg, const char *const *dirs, int n_dirs, char **out,
                                  lexie_error *err) {
    if (out) *out = NULL;
    if (!out) return lx_fail(err, LEXIE_E_INVALID, "lexie_re_schema_find: NULL argument");
    if (!arg || !*arg) return lx_fail(err, LEXIE_E_INVALID, "no schema given");
    /* A path: anything with a slash or a .json ending. */
    size_t n = strlen(arg);
    if (strchr(arg, '/') || (n > 5 && strcmp(arg + n - 5, ".json") == 0)) {
        if (access(arg, R_OK) != 0)
            return lx_fail(err, LEXIE_E_IO, "schema %s: %s", arg, strerror(errno));
        return (*out = lx_strdup(arg, err)) ? LEXIE_OK : LEXIE_E_NOMEM;
    }
    /* A built-in name: $LEXIE_SCHEMAS, ./schemas, then the caller's dirs. */
    const char *env = getenv("LEXIE_SCHEMAS");
    for (int i = -2; i < (dirs ? n_dirs : 0); i++) {
        const char *dir = i == -2 ? env : i == -1 ? "schemas" : dirs[i];
        if (!dir || !*dir) continue;
        char p[8800];
        int w = snprintf(p, sizeof p, "%s/%s.json", dir, arg);
        if (w > 0 && (size_t)w < sizeof p && access(p, R_OK) == 0)
            return (*out = lx_strdup(p, err)) ? LEXIE_OK : LEXIE_E_NOMEM;
    }
    return lx_fail(err, LEXIE_E_NOT_FOUND,
                   "no schema '%s': give a file, or a built-in name (semeval, tacred, gad) found "
                   "under $LEXIE_SCHEMAS or schemas/",
                   arg);
}
