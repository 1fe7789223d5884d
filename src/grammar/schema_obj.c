/*
** schema_obj.c -- the grammar of JSON objects under a view's keywords:
** properties in schema order, required, additionalProperties (false,
** true or a schema), one patternProperties pattern, dependencies /
** dependentRequired, min/maxProperties up to 64 by counting members.
** Extra members' keys are any key but the declared names (a byte trie of
** the names, key_except), so a declared name never takes the extra path.
*/
#include "grammar/schema.h"

#include <stdlib.h>
#include <string.h>

typedef struct prop {
    const char *name;
    size_t len;
    int required, forbidden;
    sc_view v;
} prop;

/* The characters a key holds raw (*cr: one of them; *rest: any run of
** them).  Every plain byte continues such a run, so *rest stays closed
** (grammar.h). */
static void key_chars(lx_gram *g, int *cr, int *rest) {
    lx_cps raw = {0};
    lx_cps_add(&raw, 0x20, 0x21);
    lx_cps_add(&raw, 0x23, 0x5B);
    lx_cps_add(&raw, 0x5D, 0x10FFFF);
    *cr = lx_gram_cps(g, &raw);
    lx_cps_free(&raw);
    *rest = lx_sc_star(g, *cr);
    lx_gram_mark_any(g, *rest, -2);
}

/* A JSON string of any key except names[0..n) (each its JSON-escaped
** contents), closing quote included; no escapes (stricter).  The rule of
** the trie node pfx; cr and rest are key_chars'. */
static int key_except(sc *c, char **names, size_t *lens, int n, int cr, int rest, int depth,
                      const char *pfx, size_t plen) {
    lx_gram *g = c->g;
    int r = lx_gram_rule(g, "keyx");
    lx_seq s = {0};
    int is_name = 0;
    lx_bset next = {{0, 0, 0, 0}};
    for (int i = 0; i < n; i++) {
        if (lens[i] < plen || memcmp(names[i], pfx, plen)) continue;
        if (lens[i] == plen)
            is_name = 1;
        else
            lx_bset_add(&next, (unsigned char)names[i][plen]);
    }
    /* the key ends here: a key that a name goes on from, unless inside a character */
    int at_boundary =
        plen == 0 || ((unsigned char)pfx[plen - 1] < 0x80) || (lx_utf8_valid(pfx, plen, NULL));
    if (!is_name && at_boundary) {
        lx_seq_push(&s, lx_gram_byte(g, '"'));
        lx_gram_alt(g, r, &s);
    }
    /* children: one byte further down the names' trie */
    for (unsigned b = 0; b < 256 && depth < 256; b++) {
        if (!lx_bset_has(&next, b)) continue;
        char buf[260];
        memcpy(buf, pfx, plen);
        buf[plen] = (char)b;
        int child = key_except(c, names, lens, n, cr, rest, depth + 1, buf, plen + 1);
        s.n = 0;
        lx_seq_push(&s, lx_gram_byte(g, b));
        lx_seq_push(&s, lx_gram_call(child));
        lx_gram_alt(g, r, &s);
    }
    /* elsewhere: a character not starting any name continuation, then anything */
    if (!at_boundary) {
        /* inside a character: a next byte that no name takes here (of
        ** those UTF-8 allows after this lead), the character's other
        ** bytes, then anything */
        size_t j = plen - 1;
        while (j > 0 && ((unsigned char)pfx[j] & 0xC0) == 0x80) j--;
        unsigned lead = (unsigned char)pfx[j], lo = 0x80, hi = 0xBF;
        size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2, done = plen - j;
        if (done == 1 && lead == 0xE0) lo = 0xA0;
        if (done == 1 && lead == 0xED) hi = 0x9F;
        if (done == 1 && lead == 0xF0) lo = 0x90;
        if (done == 1 && lead == 0xF4) hi = 0x8F;
        lx_bset fs = {{0, 0, 0, 0}};
        int any = 0;
        for (unsigned b = lo; b <= hi; b++)
            if (!lx_bset_has(&next, b)) lx_bset_add(&fs, b), any = 1;
        if (any && done < len) {
            s.n = 0;
            lx_seq_push(&s, lx_gram_set(g, &fs));
            for (size_t k = done + 1; k < len; k++) lx_seq_push(&s, lx_gram_range(g, 0x80, 0xBF));
            lx_seq_push(&s, lx_gram_call(rest));
            lx_seq_push(&s, lx_gram_byte(g, '"'));
            lx_gram_alt(g, r, &s);
        }
    } else {
        /* short names: every node below has its children (depth < 256);
        ** names going on in ASCII only: every other character leaves them */
        int short_names = 1, ascii = 1;
        for (int i = 0; i < n; i++) {
            short_names &= lens[i] < 256;
            if (lens[i] < plen || memcmp(names[i], pfx, plen)) continue;
            for (size_t k = plen; k < lens[i]; k++) ascii &= (unsigned char)names[i][k] < 0x80;
        }
        if (short_names) lx_gram_mark_any(g, r, ascii ? -2 : -1);
        for (int a = g->rule_first[cr]; a >= 0; a = g->alt_next[a]) {
            s.n = 0;
            int first = 1;
            for (int i = g->alt_start[a]; LX_EL_KIND(g->el[i]) != LX_EL_END; i++) {
                int32_t e = g->el[i];
                if (first) {
                    lx_bset fs = g->sets[LX_EL_ARG(e)];
                    for (int w = 0; w < 4; w++) fs.w[w] &= ~next.w[w];
                    if (!(fs.w[0] | fs.w[1] | fs.w[2] | fs.w[3])) break;
                    e = lx_gram_set(g, &fs);
                    first = 0;
                }
                lx_seq_push(&s, e);
            }
            if (first) continue;
            lx_seq_push(&s, lx_gram_call(rest));
            lx_seq_push(&s, lx_gram_byte(g, '"'));
            lx_gram_alt(g, r, &s);
        }
    }
    lx_seq_free(&s);
    return r;
}

static int find_prop(prop *ps, int n, const char *name, size_t len) {
    for (int i = 0; i < n; i++)
        if (ps[i].len == len && !memcmp(ps[i].name, name, len)) return i;
    return -1;
}

/* The JSON-escaped contents of a key (no quotes), malloc'd in *out. */
static size_t key_contents(sc *c, const char *name, size_t len, lx_jbuf *b) {
    (void)c;
    lx_jbuf_reset(b);
    lx_sc_dump_str(b, name, len);
    return b->len;
}

typedef struct pat {
    const lx_json *schema;
    int owner; /* view member */
    int rule;  /* key contents rule */
    const char *ptr;
} pat;

/* One object's generation, step by step (each step returns -1 when the
** object has no grammar: an error was recorded, memory ran out, or the
** keywords are unsatisfiable, and the rule then gains no alternative). */
typedef struct obj {
    sc *c;
    const sc_view *v;
    prop *ps; /* [n] declared names in schema order, then required ones not declared */
    int n;
    size_t cap;
    pat pp;     /* the one patternProperties entry, owner -1 when none */
    lx_jbuf kb; /* scratch: one key's JSON text */
    sc_view xv; /* the schema of extra members */
    int extras; /* extra members may appear */
    int K;      /* member counting states 0..K (0: no counting) */
    int minc, maxc;
} obj;

static int collect_props(obj *o) {
    sc *c = o->c;
    const sc_view *v = o->v;
    for (int pass = 0; pass < 2 && !c->failed; pass++) {
        for (int i = 0; i < v->n && !c->failed; i++) {
            const lx_json *src = lx_sc_get(v, i, pass ? "required" : "properties");
            if (!src) continue;
            if (src->type != (pass ? LX_JSON_ARRAY : LX_JSON_OBJECT)) {
                lx_sc_error(c, LEXIE_E_INVALID, v->ptr[i], "bad %s",
                            pass ? "required" : "properties");
                break;
            }
            for (int k = 0; k < src->n; k++) {
                const char *nm = pass ? src->items[k]->str : src->keys[k];
                size_t nl = pass ? src->items[k]->len : src->key_lens[k];
                if (pass && src->items[k]->type != LX_JSON_STRING) continue;
                int at = find_prop(o->ps, o->n, nm, nl);
                if (at < 0) {
                    if (lx_grow((void **)&o->ps, &o->cap, (size_t)o->n + 1, sizeof *o->ps, NULL)) {
                        c->g->oom = 1;
                        return -1;
                    }
                    at = o->n++;
                    memset(&o->ps[at], 0, sizeof o->ps[at]);
                    o->ps[at].name = nm;
                    o->ps[at].len = nl;
                }
                if (pass) o->ps[at].required = 1;
            }
        }
    }
    return 0;
}

/* patternProperties: at most one pattern in the whole view. */
static int pattern_props(obj *o) {
    sc *c = o->c;
    const sc_view *v = o->v;
    for (int i = 0; i < v->n && !c->failed; i++) {
        const lx_json *pt = lx_sc_get(v, i, "patternProperties");
        if (!pt || pt->n == 0) continue;
        const char *ptr = lx_sc_ptr(c, v->ptr[i], "patternProperties");
        if (pt->type != LX_JSON_OBJECT || o->pp.owner >= 0 || pt->n > 1) {
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, ptr,
                        "unsupported keyword 'patternProperties' (more than one pattern)");
            return -1;
        }
        lexie_error e2;
        o->pp.rule = lx_regex_compile(c->g, pt->keys[0], pt->key_lens[0], NULL, NULL, &e2);
        if (o->pp.rule < 0) {
            lx_sc_error(c, e2.code, ptr, "%s", e2.message);
            return -1;
        }
        o->pp.schema = pt->items[0];
        o->pp.owner = i;
        o->pp.ptr = lx_sc_ptr(c, ptr, pt->keys[0]);
    }
    return 0;
}

/* One dependencies / dependentRequired entry of member i: A present =>
** deps present.  Exact where A or all of deps are required; otherwise A
** is never emitted (stricter). */
static int one_dependency(obj *o, int i, const lx_json *d, int k) {
    sc *c = o->c;
    prop *ps = o->ps;
    int n = o->n;
    const lx_json *deps = d->items[k];
    if (deps->type != LX_JSON_ARRAY) {
        lx_sc_error(c, LEXIE_E_UNSUPPORTED, lx_sc_ptr(c, o->v->ptr[i], d->keys[k]),
                    "unsupported keyword 'dependencies' (schema form)");
        return -1;
    }
    int a = find_prop(ps, n, d->keys[k], d->key_lens[k]);
    int all_req = 1;
    for (int m = 0; m < deps->n; m++) {
        if (deps->items[m]->type != LX_JSON_STRING) continue;
        int b = find_prop(ps, n, deps->items[m]->str, deps->items[m]->len);
        all_req &= b >= 0 && ps[b].required;
    }
    if (all_req) return 0;
    int undeclared = 0;
    for (int m = 0; m < deps->n; m++)
        undeclared |= deps->items[m]->type != LX_JSON_STRING ||
                      find_prop(ps, n, deps->items[m]->str, deps->items[m]->len) < 0;
    if (undeclared || a < 0) {
        lx_sc_error(c, LEXIE_E_UNSUPPORTED, o->v->ptr[i],
                    "unsupported keyword 'dependencies' on undeclared properties");
        return -1;
    }
    if (ps[a].required) {
        for (int m = 0; m < deps->n; m++)
            ps[find_prop(ps, n, deps->items[m]->str, deps->items[m]->len)].required = 1;
    } else {
        ps[a].forbidden = 1; /* stricter: the dependent-on property is never emitted */
    }
    return 0;
}

static int dependencies(obj *o) {
    for (int i = 0; i < o->v->n && !o->c->failed; i++) {
        for (int kw = 0; kw < 2; kw++) {
            const lx_json *d = lx_sc_get(o->v, i, kw ? "dependentRequired" : "dependencies");
            if (!d) continue;
            for (int k = 0; k < d->n; k++)
                if (one_dependency(o, i, d, k)) return -1;
        }
    }
    return 0;
}

/* 1 when the key of property k matches the pattern of patternProperties. */
static int pattern_matches(obj *o, int k) {
    size_t kl = key_contents(o->c, o->ps[k].name, o->ps[k].len, &o->kb);
    return kl >= 2 && lx_checker_accepts(o->c->chk, o->pp.rule, o->kb.data + 1, kl - 2);
}

/* Each name's view: its schema in every member, else that member's
** pattern or additionalProperties. */
static int prop_views(obj *o) {
    sc *c = o->c;
    const sc_view *v = o->v;
    for (int k = 0; k < o->n && !c->failed; k++) {
        prop *p = &o->ps[k];
        char *nm = lx_strndup(p->name, p->len, NULL);
        if (!nm) {
            c->g->oom = 1;
            return -1;
        }
        for (int i = 0; i < v->n && !c->failed; i++) {
            const lx_json *props = lx_sc_get(v, i, "properties");
            const lx_json *s = props ? lx_json_get(props, nm) : NULL;
            if (s) {
                lx_sc_view_add(c, &p->v, s,
                               lx_sc_ptr(c, lx_sc_ptr(c, v->ptr[i], "properties"), nm));
                continue;
            }
            if (o->pp.owner == i && pattern_matches(o, k)) {
                lx_sc_view_add(c, &p->v, o->pp.schema, o->pp.ptr);
                continue;
            }
            const lx_json *ap = lx_sc_get(v, i, "additionalProperties");
            if (ap) lx_sc_view_add(c, &p->v, ap, lx_sc_ptr(c, v->ptr[i], "additionalProperties"));
        }
        free(nm);
    }
    return c->failed ? -1 : 0;
}

/* The view of extra members (additionalProperties, or the pattern's). */
static int extra_view(obj *o) {
    sc *c = o->c;
    const sc_view *v = o->v;
    o->extras = 1;
    for (int i = 0; i < v->n; i++) {
        if (o->pp.owner == i) continue;
        const lx_json *ap = lx_sc_get(v, i, "additionalProperties");
        if (ap) lx_sc_view_add(c, &o->xv, ap, lx_sc_ptr(c, v->ptr[i], "additionalProperties"));
    }
    if (o->pp.owner >= 0) {
        lx_sc_view_add(c, &o->xv, o->pp.schema, o->pp.ptr);
        for (int k = 0; k < o->n; k++) { /* pattern keys must not be declared names */
            if (pattern_matches(o, k)) {
                lx_sc_error(c, LEXIE_E_UNSUPPORTED, o->pp.ptr,
                            "unsupported keyword 'patternProperties' matching a declared property");
                return -1;
            }
        }
    }
    if (o->xv.never) o->extras = 0;
    return 0;
}

/* min/maxProperties where they follow from the rest: counting states
** 0..K (K absorbs "enough" when unbounded above). */
static int count_bounds(obj *o) {
    sc *c = o->c;
    const sc_view *v = o->v;
    long long minp = lx_sc_count_kw(c, v, "minProperties", 0, 0);
    long long maxp = lx_sc_count_kw(c, v, "maxProperties", 1, -1);
    int n_req = 0, n_opt = 0;
    for (int k = 0; k < o->n; k++) {
        if (o->ps[k].forbidden || o->ps[k].v.never) continue;
        if (o->ps[k].required)
            n_req++;
        else
            n_opt++;
    }
    if (maxp >= 0 && maxp < n_req) return -1; /* unsatisfiable */
    int K = 0;
    if (minp > n_req || (maxp >= 0 && (o->extras || maxp < n_req + n_opt)))
        K = (int)(maxp >= 0 ? maxp : minp);
    if (K > 64) {
        lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[0], "unsupported keyword '%s' over 64",
                    maxp >= 0 ? "maxProperties" : "minProperties");
        return -1;
    }
    o->K = K;
    o->minc = K ? (int)minp : 0;
    o->maxc = K && maxp >= 0 ? (int)maxp : -1;
    for (int k = 0; k < o->n; k++)
        if (o->ps[k].required && (o->ps[k].forbidden || o->ps[k].v.never))
            return -1; /* unsatisfiable */
    return 0;
}

/* The key of an extra member without patternProperties: any key but the
** declared names; -1 on allocation failure. */
static int32_t extra_key(obj *o) {
    int n = o->n;
    char **names = malloc(((size_t)n + 1) * sizeof *names);
    size_t *lens = malloc(((size_t)n + 1) * sizeof *lens);
    size_t *offs = malloc(((size_t)n + 1) * sizeof *offs);
    lx_jbuf all = {0};
    int key = -1;
    if (names && lens && offs) {
        for (int k = 0; k < n; k++) {
            size_t kl = key_contents(o->c, o->ps[k].name, o->ps[k].len, &o->kb);
            offs[k] = all.len;
            lens[k] = kl - 2;
            lx_jbuf_add(&all, o->kb.data + 1, kl - 2);
        }
        for (int k = 0; k < n && !all.oom; k++) names[k] = all.data + offs[k];
        int cr, rest;
        key_chars(o->c->g, &cr, &rest);
        if (!all.oom) key = key_except(o->c, names, lens, n, cr, rest, 0, "", 0);
    }
    free(offs);
    free(names);
    free(lens);
    lx_jbuf_free(&all);
    return key;
}

/* The extra member rule ("key": value), or -1 when none may appear. */
static int extra_rule(obj *o) {
    if (!o->extras) return -1;
    sc *c = o->c;
    lx_gram *g = c->g;
    int ex = lx_gram_rule(g, "extra");
    lx_seq s = {0};
    if (o->pp.owner >= 0) {
        lx_seq_push(&s, lx_gram_byte(g, '"'));
        lx_seq_push(&s, lx_gram_call(o->pp.rule));
        lx_seq_push(&s, lx_gram_byte(g, '"'));
    } else {
        lx_seq_push(&s, lx_gram_byte(g, '"'));
        int key = extra_key(o);
        if (key >= 0)
            lx_seq_push(&s, lx_gram_call(key));
        else
            g->oom = 1;
    }
    lx_sc_push_sep(c, &s, ':');
    lx_seq_push(&s, lx_gram_call(o->xv.n ? lx_sc_compile(c, &o->xv) : lx_sc_any(c)));
    lx_gram_alt(g, ex, &s);
    lx_seq_free(&s);
    return ex;
}

/* mem[k]: the rule of member k ("key": value), -1 for one never emitted. */
static void member_rules(obj *o, int *mem) {
    sc *c = o->c;
    lx_gram *g = c->g;
    lx_seq s = {0};
    for (int k = 0; k < o->n && !c->failed; k++) {
        prop *p = &o->ps[k];
        mem[k] = -1;
        if (p->forbidden || p->v.never) continue;
        int val = p->v.n ? lx_sc_compile(c, &p->v) : lx_sc_any(c);
        if (val < 0) break;
        mem[k] = lx_gram_rule(g, "member");
        s.n = 0;
        size_t kl = key_contents(c, p->name, p->len, &o->kb);
        lx_gram_lit(g, &s, o->kb.data, kl);
        lx_sc_push_sep(c, &s, ':');
        lx_seq_push(&s, lx_gram_call(val));
        lx_gram_alt(g, mem[k], &s);
    }
    lx_seq_free(&s);
}

/* Members in schema order, factored so that a state holds one entry per
** choice point, not one per optional member:
**   after_i ::= "," pick_i | ""         ("" only when no required member is left)
**   pick_i  ::= member_k after_{k+1}    for k = i .. the next required one
**             | extra after_i           (extra members may come anywhere)
** and the object opens with first_i ::= pick_i | "".  With member
** counting each rule comes in K + 1 copies, one per count so far.
** Returns the rule first, -1 on allocation failure. */
static int member_chain(obj *o, const int *mem, int ex) {
    sc *c = o->c;
    lx_gram *g = c->g;
    int n = o->n, K = o->K, nk = K + 1;
    int *after = calloc((size_t)(n + 1) * (size_t)nk, sizeof *after);
    int *pick = calloc((size_t)(n + 1) * (size_t)nk, sizeof *pick);
    if (!after || !pick) {
        free(after);
        free(pick);
        return -1;
    }
#define AF(i, k) after[(size_t)(i) * (size_t)nk + (size_t)(k)]
#define PK(i, k) pick[(size_t)(i) * (size_t)nk + (size_t)(k)]
    for (int i = 0; i <= n; i++)
        for (int k = 0; k < nk; k++) {
            AF(i, k) = lx_gram_rule(g, "obj_after");
            PK(i, k) = lx_gram_rule(g, "obj_pick");
        }
    lx_seq s = {0};
    int req_left = 0; /* a required member at index >= i */
    for (int i = n; i >= 0 && !c->failed; i--) {
        if (i < n && o->ps[i].required && mem[i] >= 0) req_left = 1;
        for (int k = 0; k < nk; k++) {
            int full = o->maxc >= 0 && k >= o->maxc; /* no more members allowed */
            int k1 = k + 1 < nk ? k + 1 : K;         /* unbounded above: K means "enough" */
            for (int j = i; j < n && !full; j++) {
                if (mem[j] < 0) continue;
                s.n = 0;
                lx_seq_push(&s, lx_gram_call(mem[j]));
                lx_seq_push(&s, lx_gram_call(AF(j + 1, k1)));
                lx_gram_alt(g, PK(i, k), &s);
                if (o->ps[j].required) break;
            }
            if (ex >= 0 && !full) {
                s.n = 0;
                lx_seq_push(&s, lx_gram_call(ex));
                lx_seq_push(&s, lx_gram_call(AF(i, k1)));
                lx_gram_alt(g, PK(i, k), &s);
            }
            s.n = 0;
            lx_sc_push_sep(c, &s, ',');
            lx_seq_push(&s, lx_gram_call(PK(i, k)));
            lx_gram_alt(g, AF(i, k), &s);
            if (!req_left && k >= o->minc) {
                s.n = 0;
                lx_gram_alt(g, AF(i, k), &s);
            }
        }
    }
    int first = lx_gram_rule(g, "obj_first");
    s.n = 0;
    lx_seq_push(&s, lx_gram_call(PK(0, 0)));
    lx_gram_alt(g, first, &s);
    if (!req_left && o->minc == 0) {
        s.n = 0;
        lx_gram_alt(g, first, &s);
    }
#undef AF
#undef PK
    lx_seq_free(&s);
    free(after);
    free(pick);
    return first;
}

/* The steps up to the members' rules; -1: no grammar for this object. */
static int object_prepare(obj *o) {
    if (collect_props(o) || pattern_props(o) || dependencies(o) || prop_views(o) || extra_view(o) ||
        count_bounds(o))
        return -1;
    return 0;
}

void lx_sc_gen_object(sc *c, int r, const sc_view *v) {
    lx_gram *g = c->g;
    obj o = {0};
    o.c = c;
    o.v = v;
    o.pp = (pat){NULL, -1, -1, NULL};
    int *mem = NULL;
    if (object_prepare(&o)) goto done;
    int ex = extra_rule(&o);
    if (g->oom) goto done;
    mem = calloc((size_t)o.n + 1, sizeof *mem);
    if (!mem) {
        g->oom = 1;
        goto done;
    }
    member_rules(&o, mem);
    int first = member_chain(&o, mem, ex);
    if (first < 0) {
        g->oom = 1;
        goto done;
    }
    lx_seq s = {0};
    lx_seq_push(&s, lx_gram_byte(g, '{'));
    lx_sc_push_ws(c, &s);
    lx_seq_push(&s, lx_gram_call(first));
    lx_sc_push_ws(c, &s);
    lx_seq_push(&s, lx_gram_byte(g, '}'));
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
done:
    free(mem);
    free(o.ps);
    lx_jbuf_free(&o.kb);
}
