/*
** schema.c -- JSON Schema to grammar: the driver (schema.h explains
** views).  Here: $ref resolution (local JSON pointers only), allOf
** flattening, anyOf/oneOf distribution (oneOf only where its branches are
** provably exclusive, else refused), enum/const (each value kept only if
** the rest of the schema accepts it), type selection, and the keyword
** check that refuses what is not implemented, naming the keyword and its
** JSON pointer.  Keywords outside JSON Schema and annotations are ignored.
*/
#include "grammar/schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== Errors, pointers ==== */

void lx_sc_error(sc *c, lexie_status code, const char *ptr, const char *fmt, ...) {
    if (c->failed) return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lx_fail(c->err, code, "json schema: %s at %s", msg, ptr && *ptr ? ptr : "/");
    c->failed = 1;
}

static char *arena_keep(sc *c, char *s) {
    if (!s) {
        c->failed = 1;
        lx_fail(c->err, LEXIE_E_NOMEM, "json schema: out of memory");
        return NULL;
    }
    if (lx_grow((void **)&c->arena, &c->cap_arena, (size_t)c->n_arena + 1, sizeof *c->arena,
                NULL)) {
        free(s);
        c->failed = 1;
        lx_fail(c->err, LEXIE_E_NOMEM, "json schema: out of memory");
        return NULL;
    }
    c->arena[c->n_arena++] = s;
    return s;
}

/* base + "/" + seg (seg escaped as a JSON pointer token). */
const char *lx_sc_ptr(sc *c, const char *base, const char *seg) {
    size_t bl = strlen(base), sl = strlen(seg);
    char *s = malloc(bl + 2 * sl + 2);
    if (!s) return arena_keep(c, NULL);
    memcpy(s, base, bl);
    char *w = s + bl;
    *w++ = '/';
    for (size_t i = 0; i < sl; i++) {
        if (seg[i] == '~') {
            *w++ = '~';
            *w++ = '0';
        } else if (seg[i] == '/') {
            *w++ = '~';
            *w++ = '1';
        } else {
            *w++ = seg[i];
        }
    }
    *w = 0;
    return arena_keep(c, s);
}

const lx_json *lx_sc_get(const sc_view *v, int i, const char *k) { return lx_json_get(v->s[i], k); }

/* ==== $ref ==== */

static int hexd(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* The schema a local "#/a/b" reference names, or NULL (error set). */
static const lx_json *resolve(sc *c, const char *ref, const char *ptr) {
    if (ref[0] != '#') {
        lx_sc_error(c, LEXIE_E_UNSUPPORTED, ptr, "$ref '%.100s' is not local (only '#...' refs)",
                    ref);
        return NULL;
    }
    const lx_json *cur = c->root;
    const char *p = ref + 1;
    if (*p && *p != '/') {
        lx_sc_error(c, LEXIE_E_UNSUPPORTED, ptr, "$ref '%.100s': anchors are not supported", ref);
        return NULL;
    }
    char tok[512];
    while (*p == '/') {
        p++;
        size_t n = 0;
        while (*p && *p != '/' && n + 1 < sizeof tok) {
            char ch = *p++;
            if (ch == '~' && (*p == '0' || *p == '1')) {
                ch = *p++ == '0' ? '~' : '/';
            } else if (ch == '%' && hexd(p[0]) >= 0 && hexd(p[1]) >= 0) {
                ch = (char)(hexd(p[0]) * 16 + hexd(p[1]));
                p += 2;
            }
            tok[n++] = ch;
        }
        tok[n] = 0;
        if (cur && cur->type == LX_JSON_OBJECT) {
            cur = lx_json_get(cur, tok);
        } else if (cur && cur->type == LX_JSON_ARRAY) {
            char *end;
            long k = strtol(tok, &end, 10);
            cur = *end || !*tok ? NULL : lx_json_at(cur, (int)k);
        } else {
            cur = NULL;
        }
        if (!cur) break;
    }
    if (!cur) lx_sc_error(c, LEXIE_E_INVALID, ptr, "$ref '%.100s' does not resolve", ref);
    return cur;
}

/* ==== Views ==== */

static int is_annotation(const char *k) {
    static const char *const ann[] = {"title",   "description", "$comment", "examples",
                                      "default", "deprecated",  "readOnly", "writeOnly",
                                      "$id",     "$schema"};
    for (size_t i = 0; i < LX_ARRAY_LEN(ann); i++)
        if (!strcmp(k, ann[i])) return 1;
    return 0;
}

/* X when no is {"not": X} (with annotations at most): not(not X) is X. */
static const lx_json *double_neg(const lx_json *no) {
    if (!no || no->type != LX_JSON_OBJECT) return NULL;
    const lx_json *in = NULL;
    for (int i = 0; i < no->n; i++) {
        if (!strcmp(no->keys[i], "not"))
            in = no->items[i];
        else if (!is_annotation(no->keys[i]))
            return NULL;
    }
    return in;
}

void lx_sc_view_add(sc *c, sc_view *v, const lx_json *s, const char *ptr) {
    if (c->failed || !s) return;
    if (s->type == LX_JSON_BOOL) {
        if (!s->b) v->never = 1;
        return;
    }
    if (s->type != LX_JSON_OBJECT) {
        lx_sc_error(c, LEXIE_E_INVALID, ptr, "a schema must be an object or a boolean");
        return;
    }
    for (int i = 0; i < v->n; i++)
        if (v->s[i] == s) return;
    if (v->n == SC_MAXV) {
        lx_sc_error(c, LEXIE_E_UNSUPPORTED, ptr, "more than %d schemas combined (allOf/$ref)",
                    SC_MAXV);
        return;
    }
    v->s[v->n] = s;
    v->ptr[v->n] = ptr;
    v->skip[v->n] = 0;
    v->n++;
    const lx_json *ref = lx_json_get(s, "$ref");
    if (ref) {
        if (ref->type != LX_JSON_STRING) {
            lx_sc_error(c, LEXIE_E_INVALID, ptr, "$ref must be a string");
            return;
        }
        const lx_json *t = resolve(c, ref->str, ptr);
        const char *tp = ref->str[0] == '#' ? ref->str + 1 : ref->str;
        if (t) lx_sc_view_add(c, v, t, arena_keep(c, lx_strdup(tp, NULL)));
    }
    const lx_json *dn = double_neg(lx_json_get(s, "not"));
    if (dn) lx_sc_view_add(c, v, dn, lx_sc_ptr(c, lx_sc_ptr(c, ptr, "not"), "not"));
    const lx_json *all = lx_json_get(s, "allOf");
    if (all) {
        if (all->type != LX_JSON_ARRAY || all->n == 0) {
            lx_sc_error(c, LEXIE_E_INVALID, ptr, "allOf must be a non-empty array");
            return;
        }
        const char *ap = lx_sc_ptr(c, ptr, "allOf");
        for (int i = 0; i < all->n && !c->failed; i++) {
            char k[16];
            snprintf(k, sizeof k, "%d", i);
            lx_sc_view_add(c, v, all->items[i], lx_sc_ptr(c, ap, k));
        }
    }
}

/* ==== Keywords ==== */

/* Implemented: type, properties, required, additionalProperties,
** patternProperties, items, prefixItems, additionalItems, minItems, maxItems,
** uniqueItems (trivial cases), enum, const, anyOf, oneOf, allOf, $ref,
** $defs, definitions, minLength, maxLength, pattern, format, minimum,
** maximum, exclusiveMinimum, exclusiveMaximum, multipleOf,
** min/maxProperties (trivial cases), not (types), dependencies and
** dependentRequired.  Annotations (title, description, default, examples,
** $comment, deprecated, readOnly, writeOnly, $schema, $id, ...) and
** keywords outside JSON Schema are ignored. */

/* JSON Schema keywords (2020-12 and drafts 4-2019) that lexie refuses. */
static const char *const REFUSED[] = {"if",
                                      "contains",
                                      "minContains",
                                      "maxContains",
                                      "propertyNames",
                                      "dependentSchemas",
                                      "unevaluatedProperties",
                                      "unevaluatedItems",
                                      "$dynamicRef",
                                      "$recursiveRef"};

static void check_keywords(sc *c, const lx_json *s, const char *ptr) {
    for (int i = 0; i < s->n && !c->failed; i++) {
        const char *k = s->keys[i];
        for (size_t j = 0; j < LX_ARRAY_LEN(REFUSED); j++)
            if (!strcmp(k, REFUSED[j]))
                lx_sc_error(c, LEXIE_E_UNSUPPORTED, ptr, "unsupported keyword '%s'", k);
    }
}

/* Type bits of a "type" value; 0 with an error when malformed. */
static unsigned type_bits(sc *c, const lx_json *t, const char *ptr) {
    static const struct {
        const char *name;
        unsigned bits;
    } names[] = {{"null", T_NULL},          {"boolean", T_BOOL}, {"object", T_OBJ},
                 {"array", T_ARR},          {"string", T_STR},   {"integer", T_INT},
                 {"number", T_INT | T_FRAC}};
    unsigned bits = 0;
    int n = t->type == LX_JSON_ARRAY ? t->n : 1;
    for (int i = 0; i < n; i++) {
        const lx_json *e = t->type == LX_JSON_ARRAY ? t->items[i] : t;
        unsigned b = 0;
        for (size_t j = 0; e->type == LX_JSON_STRING && j < LX_ARRAY_LEN(names); j++)
            if (!strcmp(e->str, names[j].name)) b = names[j].bits;
        if (!b) {
            lx_sc_error(c, LEXIE_E_INVALID, ptr, "bad type");
            return 0;
        }
        bits |= b;
    }
    return bits;
}

/* Type bits a JSON value has. */
static unsigned value_type(const lx_json *j) {
    switch (j->type) {
    case LX_JSON_NULL: return T_NULL;
    case LX_JSON_BOOL: return T_BOOL;
    case LX_JSON_OBJECT: return T_OBJ;
    case LX_JSON_ARRAY: return T_ARR;
    case LX_JSON_STRING: return T_STR;
    /* A whole number of any size is an integer (no cast: 1e300 fits no C type). */
    default: return j->num == floor(j->num) ? T_INT : T_FRAC;
    }
}

/* ==== Memo ==== */

static int memo_find(sc *c, const sc_view *v) {
    for (int i = 0; i < c->n_memo; i++) {
        const sc_memo *m = &c->memo[i];
        if (m->n != v->n) continue;
        int same = 1;
        for (int k = 0; k < v->n && same; k++)
            same = m->s[k] == v->s[k] && m->skip[k] == v->skip[k];
        if (same) return m->rule;
    }
    return -1;
}

static void memo_add(sc *c, const sc_view *v, int rule) {
    if (lx_grow((void **)&c->memo, &c->cap_memo, (size_t)c->n_memo + 1, sizeof *c->memo, NULL)) {
        c->g->oom = 1;
        return;
    }
    sc_memo *m = &c->memo[c->n_memo++];
    m->n = v->n;
    memcpy(m->s, v->s, sizeof m->s);
    memcpy(m->skip, v->skip, sizeof m->skip);
    m->rule = rule;
}

/* ==== oneOf exclusivity ==== */

/* The set of JSON texts a const/enum admits in schema s, or NULL. */
static const lx_json *enum_of(const lx_json *s, int *is_const) {
    const lx_json *e = lx_json_get(s, "const");
    *is_const = e != NULL;
    if (e) return e;
    e = lx_json_get(s, "enum");
    return e && e->type == LX_JSON_ARRAY ? e : NULL;
}

static int json_eq(const lx_json *a, const lx_json *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case LX_JSON_NULL: return 1;
    case LX_JSON_BOOL: return a->b == b->b;
    case LX_JSON_NUMBER: return a->num == b->num;
    case LX_JSON_STRING: return a->len == b->len && !memcmp(a->str, b->str, a->len);
    case LX_JSON_ARRAY:
        if (a->n != b->n) return 0;
        for (int i = 0; i < a->n; i++)
            if (!json_eq(a->items[i], b->items[i])) return 0;
        return 1;
    case LX_JSON_OBJECT:
        if (a->n != b->n) return 0;
        for (int i = 0; i < a->n; i++) {
            const lx_json *o = lx_json_get(b, a->keys[i]);
            if (!o || !json_eq(a->items[i], o)) return 0;
        }
        return 1;
    }
    return 0;
}

static int in_enum(const lx_json *x, const lx_json *e, int is_const) {
    if (is_const) return json_eq(x, e);
    for (int i = 0; i < e->n; i++)
        if (json_eq(x, e->items[i])) return 1;
    return 0;
}

/* Types schema s can match (from type, const, enum); T_ALL if unknown. */
static unsigned types_of(sc *c, const lx_json *s) {
    if (s->type == LX_JSON_BOOL) return s->b ? T_ALL : 0;
    unsigned t = T_ALL;
    const lx_json *ty = lx_json_get(s, "type");
    if (ty) t &= type_bits(c, ty, "");
    int ic;
    const lx_json *e = enum_of(s, &ic);
    if (e) {
        unsigned u = 0;
        if (ic)
            u = value_type(e);
        else
            for (int i = 0; i < e->n; i++) u |= value_type(e->items[i]);
        if (u & T_INT) u |= T_FRAC; /* 1 and 1.0 are equal numbers */
        t &= u;
    }
    return t;
}

static const lx_json *deref(sc *c, const lx_json *s) {
    for (int k = 0; k < 8 && s && s->type == LX_JSON_OBJECT; k++) {
        const lx_json *r = lx_json_get(s, "$ref");
        if (!r || r->type != LX_JSON_STRING || s->n != 1) break;
        s = resolve(c, r->str, "");
    }
    return s;
}

/* 1 when no instance can match both a and b (sufficient tests only). */
static int disjoint(sc *c, const lx_json *a, const lx_json *b, unsigned ctx) {
    a = deref(c, a);
    b = deref(c, b);
    if (!a || !b || c->failed) return 0;
    unsigned common = types_of(c, a) & types_of(c, b) & ctx;
    if (!common) return 1;
    if (a->type != LX_JSON_OBJECT || b->type != LX_JSON_OBJECT) return 0;
    int ica, icb;
    const lx_json *ea = enum_of(a, &ica), *eb = enum_of(b, &icb);
    if (ea && eb) {
        int meet = 0;
        for (int i = 0; i < (ica ? 1 : ea->n) && !meet; i++)
            meet = in_enum(ica ? ea : ea->items[i], eb, icb);
        if (!meet) return 1;
    }
    /* the tests below only separate objects */
    if (common != T_OBJ) return 0;
    /* a discriminating property: required in both, const/enum disjoint */
    const lx_json *pa = lx_json_get(a, "properties"), *pb = lx_json_get(b, "properties");
    const lx_json *ra = lx_json_get(a, "required"), *rb = lx_json_get(b, "required");
    if (pa && pb && ra && rb && ra->type == LX_JSON_ARRAY && rb->type == LX_JSON_ARRAY) {
        for (int i = 0; i < ra->n; i++) {
            const lx_json *name = ra->items[i];
            if (name->type != LX_JSON_STRING) continue;
            int inb = 0;
            for (int k = 0; k < rb->n; k++)
                inb |=
                    rb->items[k]->type == LX_JSON_STRING && !strcmp(rb->items[k]->str, name->str);
            const lx_json *sa = lx_json_get(pa, name->str), *sb = lx_json_get(pb, name->str);
            if (inb && sa && sb && disjoint(c, sa, sb, T_ALL)) return 1;
        }
    }
    /* one requires a property the other forbids */
    for (int pass = 0; pass < 2; pass++) {
        const lx_json *x = pass ? b : a, *y = pass ? a : b;
        const lx_json *rx = lx_json_get(x, "required"),
                      *ap = lx_json_get(y, "additionalProperties");
        if (!rx || rx->type != LX_JSON_ARRAY || !ap || ap->type != LX_JSON_BOOL || ap->b) continue;
        if (lx_json_get(y, "patternProperties")) continue;
        const lx_json *py = lx_json_get(y, "properties");
        for (int i = 0; i < rx->n; i++)
            if (rx->items[i]->type == LX_JSON_STRING && !lx_json_get(py, rx->items[i]->str))
                return 1;
    }
    return 0;
}

/* ==== Compiling a view ==== */

static int compile_combinator(sc *c, int r, const sc_view *v, int i, int one) {
    const char *kw = one ? "oneOf" : "anyOf";
    const lx_json *arr = lx_sc_get(v, i, kw);
    const char *ptr = lx_sc_ptr(c, v->ptr[i], kw);
    if (!arr || arr->type != LX_JSON_ARRAY || arr->n == 0) {
        lx_sc_error(c, LEXIE_E_INVALID, ptr, "%s must be a non-empty array", kw);
        return -1;
    }
    if (one) {
        unsigned ctx = T_ALL; /* the types the rest of the view allows */
        for (int k = 0; k < v->n; k++) {
            const lx_json *t = lx_sc_get(v, k, "type");
            if (t) ctx &= type_bits(c, t, v->ptr[k]);
        }
        for (int a = 0; a < arr->n && !c->failed; a++)
            for (int b = a + 1; b < arr->n && !c->failed; b++)
                if (!disjoint(c, arr->items[a], arr->items[b], ctx)) {
                    lx_sc_error(c, LEXIE_E_UNSUPPORTED, ptr,
                                "oneOf branches %d and %d may overlap (exclusivity not provable)",
                                a, b);
                    return -1;
                }
    }
    for (int a = 0; a < arr->n && !c->failed; a++) {
        sc_view w = *v;
        w.skip[i] |= one ? SC_SKIP_ONEOF : SC_SKIP_ANYOF;
        char k[16];
        snprintf(k, sizeof k, "%d", a);
        lx_sc_view_add(c, &w, arr->items[a], lx_sc_ptr(c, ptr, k));
        if (c->failed) return -1;
        int br = lx_sc_compile(c, &w);
        if (br < 0) return -1;
        lx_seq s = {0};
        lx_seq_push(&s, lx_gram_call(br));
        lx_gram_alt(c->g, r, &s);
        lx_seq_free(&s);
    }
    return 0;
}

/* enum/const: each candidate value that the rest of the view accepts. */
static int compile_enum(sc *c, int r, const sc_view *v) {
    const lx_json *cand = NULL;
    int cand_const = 0, owner = -1;
    for (int i = 0; i < v->n; i++) {
        int ic;
        const lx_json *e = enum_of(v->s[i], &ic);
        if (!e && lx_json_get(v->s[i], "enum")) {
            lx_sc_error(c, LEXIE_E_INVALID, v->ptr[i], "enum must be an array");
            return -1;
        }
        if (e && !cand) {
            cand = e;
            cand_const = ic;
            owner = i;
        }
    }
    sc_view w = *v;
    for (int i = 0; i < w.n; i++) w.skip[i] |= SC_SKIP_ENUM;
    int rest = lx_sc_compile(c, &w);
    if (rest < 0) return -1;
    lx_jbuf b = {0};
    int n = cand_const ? 1 : cand->n;
    for (int k = 0; k < n; k++) {
        const lx_json *x = cand_const ? cand : cand->items[k];
        int ok = 1;
        for (int i = 0; i < v->n && ok; i++) { /* every other enum/const must hold it too */
            int ic;
            const lx_json *e = enum_of(v->s[i], &ic);
            if (e && i != owner) ok = in_enum(x, e, ic);
        }
        if (!ok) continue;
        lx_jbuf_reset(&b);
        lx_sc_dump(c, &b, x);
        if (b.oom) break;
        if (!lx_checker_accepts(c->chk, rest, b.data, b.len)) continue;
        lx_seq s = {0};
        lx_gram_lit(c->g, &s, b.data, b.len);
        lx_gram_alt(c->g, r, &s);
        lx_seq_free(&s);
    }
    if (b.oom) c->g->oom = 1;
    lx_jbuf_free(&b);
    return 0;
}

static void check_not(sc *c, const sc_view *v, unsigned *types) {
    for (int i = 0; i < v->n && !c->failed; i++) {
        const lx_json *no = lx_sc_get(v, i, "not");
        if (!no) continue;
        const char *ptr = lx_sc_ptr(c, v->ptr[i], "not");
        if (double_neg(no)) continue; /* its inner schema joined the view */
        if (no->type == LX_JSON_BOOL) {
            if (no->b) *types = 0;
            continue;
        }
        if (no->type != LX_JSON_OBJECT) {
            lx_sc_error(c, LEXIE_E_INVALID, ptr, "not must be a schema");
            return;
        }
        const lx_json *t = NULL;
        for (int k = 0; k < no->n; k++) {
            const char *key = no->keys[k];
            if (!strcmp(key, "type")) {
                t = no->items[k];
            } else if (!strcmp(key, "title") || !strcmp(key, "description") ||
                       !strcmp(key, "$comment")) {
                continue;
            } else {
                lx_sc_error(c, LEXIE_E_UNSUPPORTED, ptr, "unsupported keyword 'not' (with '%s')",
                            key);
                return;
            }
        }
        if (t) {
            unsigned b = type_bits(c, t, ptr);
            /* not integer: a number with a fraction is still allowed */
            *types &= ~b;
        } else {
            *types = 0; /* not {} matches nothing */
        }
    }
}

int lx_sc_compile(sc *c, const sc_view *v) {
    if (c->failed) return -1;
    int r = memo_find(c, v);
    if (r >= 0) return r;
    r = lx_gram_rule(c->g, "schema");
    if (r < 0) return -1;
    memo_add(c, v, r);
    if (v->never) return r;
    if (++c->depth > 200) {
        lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->n ? v->ptr[0] : "", "schema nested too deeply");
        return -1;
    }
    for (int i = 0; i < v->n; i++) check_keywords(c, v->s[i], v->ptr[i]);
    /* combinators first: distribute one, recurse for the rest */
    for (int i = 0; i < v->n && !c->failed; i++) {
        if (!(v->skip[i] & SC_SKIP_ANYOF) && lx_sc_get(v, i, "anyOf")) {
            compile_combinator(c, r, v, i, 0);
            c->depth--;
            return c->failed ? -1 : r;
        }
        if (!(v->skip[i] & SC_SKIP_ONEOF) && lx_sc_get(v, i, "oneOf")) {
            compile_combinator(c, r, v, i, 1);
            c->depth--;
            return c->failed ? -1 : r;
        }
    }
    int has_enum = 0;
    for (int i = 0; i < v->n; i++)
        if (!(v->skip[i] & SC_SKIP_ENUM) && (lx_sc_get(v, i, "enum") || lx_sc_get(v, i, "const")))
            has_enum = 1;
    if (has_enum) {
        compile_enum(c, r, v);
        c->depth--;
        return c->failed ? -1 : r;
    }
    unsigned types = T_ALL;
    for (int i = 0; i < v->n && !c->failed; i++) {
        const lx_json *t = lx_sc_get(v, i, "type");
        if (t) types &= type_bits(c, t, v->ptr[i]);
    }
    check_not(c, v, &types);
    if (!c->failed) lx_sc_gen_types(c, r, v, types);
    c->depth--;
    return c->failed ? -1 : r;
}

/* ==== Entry ==== */

lexie_grammar *lexie_grammar_from_json_schema(const char *text, size_t len,
                                              const lexie_grammar_params *p, lexie_error *err) {
    if (!text) return lx_fail(err, LEXIE_E_INVALID, "json schema: no text"), NULL;
    lx_json_doc *doc = lx_json_parse(text, len, NULL, err);
    if (!doc) {
        lx_fail_prefix(err, "json schema: ");
        return NULL;
    }
    lexie_grammar_params def = lexie_grammar_default_params();
    if (!p) p = &def;
    sc c = {0};
    c.err = err;
    c.root = lx_json_root(doc);
    c.ws_max = p->ws_max == 0 ? 16 : p->ws_max < 0 ? 0 : LX_MIN(p->ws_max, 256);
    c.spaced = p->compact_spaced;
    c.r_ws = c.r_any = c.r_str = c.r_num = c.r_int = c.r_comma = c.r_colon = -1;
    c.g = lx_gram_new(err);
    if (c.g) c.chk = lx_checker_new(c.g, err);
    if (!c.g || !c.chk) {
        lx_gram_free(c.g);
        lx_json_doc_free(doc);
        return NULL;
    }
    sc_view v = {0};
    lx_sc_view_add(&c, &v, c.root, "");
    int root = c.failed ? -1 : lx_sc_compile(&c, &v);
    if (c.g->oom && !c.failed) {
        lx_fail(err, LEXIE_E_NOMEM, "json schema: out of memory");
        c.failed = 1;
    }
    lx_checker_free(c.chk);
    for (int i = 0; i < c.n_arena; i++) free(c.arena[i]);
    free(c.arena);
    free(c.memo);
    lx_json_doc_free(doc);
    if (c.failed || root < 0) {
        lx_gram_free(c.g);
        return NULL;
    }
    c.g->root = root;
    return lx_grammar_wrap(c.g, err);
}
