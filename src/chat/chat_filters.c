/*
** chat_filters.c -- the named things a chat template can call: filters
** (x | trim), tests (x is defined), methods (x.strip()) and global
** functions (raise_exception, namespace, range, strftime_now).
**
** The set is what published chat templates use (Llama 3.x, Qwen 2.5/3,
** SmolLM, Gemma, Mistral, Phi); anything else is refused with
** LEXIE_E_UNSUPPORTED naming it, so a new template fails loudly instead of
** rendering a wrong prompt.
*/
#include "chat/chat_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

/* Argument number pos (counting positional ones) or keyword name; NULL if
** the call gave neither. */
static const jv *arg(int n, const jv *args, const char **kw, int pos, const char *name) {
    int p = 0;
    for (int i = 0; i < n; i++) {
        if (kw && kw[i]) {
            if (name && strcmp(kw[i], name) == 0) return &args[i];
        } else if (p++ == pos) {
            return &args[i];
        }
    }
    return NULL;
}

static jv str_arg(jx *c, const jnode *at, const jv *a, const char *what) {
    if (!a || a->t != JV_STR)
        lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "%s: expected a string argument", what);
    return *a;
}

static int is_name(const jnode *at, const char *name) { return strcmp(at->name, name) == 0; }

/* ==== Strings ==== */

static int in_set(const char *p, size_t k, jv chars) {
    if (chars.t != JV_STR) { /* default: Python's whitespace */
        int32_t cp = lx_chat_u8dec(p, k);
        return cp == ' ' || (cp >= 9 && cp <= 13) || (cp >= 0x1C && cp <= 0x1F) || cp == 0x85 ||
               cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
               cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
    }
    for (size_t i = 0; i < chars.u.s.n; i += lx_chat_u8len(chars.u.s.p + i))
        if (lx_chat_u8len(chars.u.s.p + i) == k && memcmp(chars.u.s.p + i, p, k) == 0) return 1;
    return 0;
}

/* strip / lstrip / rstrip; chars undefined: whitespace. */
static jv strip(jx *c, jv s, jv chars, int left, int right) {
    const char *p = s.u.s.p, *e = p + s.u.s.n;
    while (left && p < e && in_set(p, lx_chat_u8len(p), chars)) p += lx_chat_u8len(p);
    while (right && e > p) {
        const char *q = e - 1;
        while (q > p && ((unsigned char)*q & 0xC0) == 0x80) q--;
        if (!in_set(q, (size_t)(e - q), chars)) break;
        e = q;
    }
    return lx_chat_substr(c, s, (size_t)(p - s.u.s.p), (size_t)(e - p));
}

/* mode: 'u' upper, 'l' lower, 'c' capitalize, 't' title */
static jv recase(jx *c, jv s, int mode) {
    jsb b;
    lx_chat_sb_init(&b, c);
    int start = 1; /* at the start of a word (title) or of the string (capitalize) */
    for (size_t i = 0; i < s.u.s.n;) {
        size_t k = lx_chat_u8len(s.u.s.p + i);
        int32_t cp = lx_chat_u8dec(s.u.s.p + i, s.u.s.n - i);
        int up = mode == 'u' || ((mode == 'c' || mode == 't') && start);
        cp = up ? utf8proc_toupper(cp) : utf8proc_tolower(cp);
        lx_chat_u8put(&b, cp);
        if (mode == 't') {
            const utf8proc_property_t *pr = utf8proc_get_property(cp);
            start = !(pr->category >= UTF8PROC_CATEGORY_LU && pr->category <= UTF8PROC_CATEGORY_LO);
        } else {
            start = 0;
        }
        i += k;
    }
    if (s.u.s.t) lx_chat_sb_mark(&b, 0); /* case mapping may change lengths: mark it all */
    return lx_chat_sb_value(&b);
}

static jv replace(jx *c, jv s, jv old, jv new_, int64_t count) {
    jsb b;
    lx_chat_sb_init(&b, c);
    size_t i = 0, run = 0; /* s[run..i) is copied unchanged when the next hit comes */
    int64_t done = 0;
    while (i <= s.u.s.n) {
        int hit = (count < 0 || done < count) && i + old.u.s.n <= s.u.s.n &&
                  memcmp(s.u.s.p + i, old.u.s.p, old.u.s.n) == 0;
        if (hit) {
            lx_chat_sb_put_sub(&b, s, run, i - run);
            lx_chat_sb_putv(&b, new_);
            done++;
            run = i;
            if (old.u.s.n) {
                i += old.u.s.n;
                run = i;
                continue;
            }
        }
        if (i == s.u.s.n) break;
        i += lx_chat_u8len(s.u.s.p + i);
    }
    lx_chat_sb_put_sub(&b, s, run, s.u.s.n - run);
    return lx_chat_sb_value(&b);
}

/* str.split(sep=None, maxsplit=-1) */
static jv split(jx *c, const jnode *at, jv s, const jv *sep, int64_t maxsplit) {
    jlist *l = lx_chat_list_new(c);
    const char *p = s.u.s.p, *e = p + s.u.s.n;
#define PIECE(a, b) lx_chat_substr(c, s, (size_t)((a)-s.u.s.p), (size_t)((b) - (a)))
    jv ws = {.t = JV_UNDEF};
    if (!sep || sep->t == JV_NONE) { /* runs of whitespace, no empty pieces */
        for (;;) {
            while (p < e && in_set(p, lx_chat_u8len(p), ws)) p += lx_chat_u8len(p);
            if (p >= e) break;
            const char *q = p;
            if (maxsplit >= 0 && (int64_t)l->n >= maxsplit) {
                lx_chat_list_push(c, l, strip(c, PIECE(p, e), ws, 0, 1));
                break;
            }
            while (q < e && !in_set(q, lx_chat_u8len(q), ws)) q += lx_chat_u8len(q);
            lx_chat_list_push(c, l, PIECE(p, q));
            p = q;
        }
        return (jv){.t = JV_LIST, .u.l = l};
    }
    jv d = str_arg(c, at, sep, "split");
    if (!d.u.s.n) lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "split: empty separator");
    for (;;) {
        const char *q = NULL;
        if (maxsplit < 0 || (int64_t)l->n < maxsplit)
            for (const char *t = p; t + d.u.s.n <= e && !q; t++)
                if (memcmp(t, d.u.s.p, d.u.s.n) == 0) q = t;
        if (!q) {
            lx_chat_list_push(c, l, PIECE(p, e));
            break;
        }
        lx_chat_list_push(c, l, PIECE(p, q));
        p = q + d.u.s.n;
    }
#undef PIECE
    return (jv){.t = JV_LIST, .u.l = l};
}

static int starts_ends(jx *c, const jnode *at, jv s, const jv *x, int end) {
    if (x && x->t == JV_LIST) {
        for (size_t i = 0; i < x->u.l->n; i++)
            if (starts_ends(c, at, s, &x->u.l->v[i], end)) return 1;
        return 0;
    }
    jv a = str_arg(c, at, x, end ? "endswith" : "startswith");
    if (a.u.s.n > s.u.s.n) return 0;
    return memcmp(s.u.s.p + (end ? s.u.s.n - a.u.s.n : 0), a.u.s.p, a.u.s.n) == 0;
}

static int64_t length(jx *c, const jnode *at, jv v) {
    if (v.t == JV_STR) return (int64_t)lx_chat_cp_count(v.u.s.p, v.u.s.n);
    if (v.t == JV_LIST) return (int64_t)v.u.l->n;
    if (v.t == JV_DICT) return (int64_t)v.u.d->n;
    if (v.t == JV_UNDEF) return 0;
    lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "%s has no length", lx_chat_type_name(v));
}

static jv items(jx *c, jdict *d) {
    jlist *l = lx_chat_list_new(c);
    for (size_t i = 0; i < d->n; i++) {
        jlist *pair = lx_chat_list_new(c);
        lx_chat_list_push(c, pair, d->k[i]);
        lx_chat_list_push(c, pair, d->v[i]);
        lx_chat_list_push(c, l, (jv){.t = JV_LIST, .u.l = pair});
    }
    return (jv){.t = JV_LIST, .u.l = l};
}

static jlist *as_list(jx *c, const jnode *at, jv v) {
    if (v.t == JV_LIST) return v.u.l;
    if (v.t == JV_STR) return lx_chat_str_chars(c, v);
    if (v.t == JV_UNDEF || v.t == JV_NONE) return lx_chat_list_new(c);
    if (v.t == JV_DICT) {
        jlist *l = lx_chat_list_new(c);
        for (size_t i = 0; i < v.u.d->n; i++) lx_chat_list_push(c, l, v.u.d->k[i]);
        return l;
    }
    lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "%s is not iterable", lx_chat_type_name(v));
}

/* ==== Tests ==== */

static int run_test(jx *c, const jnode *at, const char *name, jv v, int n, const jv *args) {
    const jv *a = arg(n, args, NULL, 0, NULL);
#define T(s) (strcmp(name, s) == 0)
    if (T("defined")) return v.t != JV_UNDEF;
    if (T("undefined")) return v.t == JV_UNDEF;
    if (T("none")) return v.t == JV_NONE;
    if (T("string")) return v.t == JV_STR;
    if (T("number")) return v.t == JV_INT || v.t == JV_FLOAT;
    if (T("integer")) return v.t == JV_INT;
    if (T("float")) return v.t == JV_FLOAT;
    if (T("boolean")) return v.t == JV_BOOL;
    if (T("true")) return v.t == JV_BOOL && v.u.b;
    if (T("false")) return v.t == JV_BOOL && !v.u.b;
    if (T("mapping")) return v.t == JV_DICT;
    if (T("iterable")) return v.t == JV_LIST || v.t == JV_DICT || v.t == JV_STR;
    if (T("sequence")) return v.t == JV_LIST || v.t == JV_DICT || v.t == JV_STR;
    if (T("callable")) return 0;
    if (T("odd") || T("even")) {
        if (v.t != JV_INT)
            lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "%s: expected an integer", name);
        return (v.u.i % 2 != 0) == T("odd");
    }
    if (T("lower") || T("upper")) {
        if (v.t != JV_STR) return 0;
        jv r = recase(c, v, T("lower") ? 'l' : 'u');
        return lx_chat_eq(c, r, v);
    }
    if (!a) lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "test '%s' needs an argument", name);
    if (T("divisibleby")) {
        if (v.t != JV_INT || a->t != JV_INT || a->u.i == 0)
            lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "divisibleby: expected non-zero integers");
        return v.u.i % a->u.i == 0;
    }
    if (T("equalto") || T("eq") || T("==") || T("sameas")) return lx_chat_eq(c, v, *a);
    if (T("ne") || T("!=")) return !lx_chat_eq(c, v, *a);
    if (T("in")) return lx_chat_contains(c, at, *a, v);
    static const char *const cmp_names[] = {"lt", "le", "gt", "ge", "<", "<=", ">", ">="};
    static const int cmp_ops[] = {JO_LT, JO_LE, JO_GT, JO_GE};
    for (int i = 0; i < 8; i++)
        if (T(cmp_names[i])) return lx_chat_binop(c, at, cmp_ops[i % 4], v, *a).u.b;
#undef T
    lx_chat_fail(c, at->pos, LEXIE_E_UNSUPPORTED, "test '%s' is not supported", name);
}

int lx_chat_test(jx *c, const jnode *at, jv v, int n, const jv *args) {
    return run_test(c, at, at->name, v, n, args);
}

/* select/reject/selectattr/rejectattr: keep items passing test args[k..]. */
static jv select_items(jx *c, const jnode *at, jv v, int n, const jv *args, int by_attr, int keep) {
    jlist *in = as_list(c, at, v), *out = lx_chat_list_new(c);
    int k = by_attr ? 1 : 0;
    jv attr = by_attr ? str_arg(c, at, arg(n, args, NULL, 0, NULL), at->name) : (jv){0};
    for (size_t i = 0; i < in->n; i++) {
        jv x = in->v[i];
        if (by_attr) {
            jv *f = x.t == JV_DICT ? lx_chat_dict_get(x.u.d, attr.u.s.p, attr.u.s.n) : NULL;
            x = f ? *f : (jv){.t = JV_UNDEF};
        }
        int pass;
        if (n > k) {
            jv tn = str_arg(c, at, &args[k], at->name);
            pass =
                run_test(c, at, lx_chat_strndup(c, tn.u.s.p, tn.u.s.n), x, n - k - 1, args + k + 1);
        } else {
            pass = lx_chat_truthy(x);
        }
        if (pass == keep) lx_chat_list_push(c, out, in->v[i]);
    }
    return (jv){.t = JV_LIST, .u.l = out};
}

/* ==== Filters ==== */

jv lx_chat_filter(jx *c, const jnode *at, jv v, int n, const jv *args, const char **kw) {
    const jv *a0 = arg(n, args, kw, 0, NULL);
    if (is_name(at, "safe") || (is_name(at, "string") && v.t == JV_STR)) return v;
    if (is_name(at, "string")) return lx_chat_to_str(c, v);
    if (is_name(at, "default") || is_name(at, "d")) {
        const jv *b = arg(n, args, kw, 1, "boolean");
        int use = v.t == JV_UNDEF || (b && lx_chat_truthy(*b) && !lx_chat_truthy(v));
        const jv *dv = arg(n, args, kw, 0, "default_value");
        return use ? (dv ? *dv : lx_chat_val_str("", 0)) : v;
    }
    if (is_name(at, "length") || is_name(at, "count")) return lx_chat_val_int(length(c, at, v));
    if (is_name(at, "tojson")) {
        const jv *ind = arg(n, args, kw, 0, "indent");
        jsb b;
        lx_chat_sb_init(&b, c);
        lx_chat_put_json(c, at, &b, v, ind && ind->t == JV_INT ? (int)LX_MIN(ind->u.i, 64) : -1, 0);
        return lx_chat_sb_value(&b);
    }
    if (is_name(at, "list")) return (jv){.t = JV_LIST, .u.l = as_list(c, at, v)};
    if (is_name(at, "first") || is_name(at, "last")) {
        jlist *l = as_list(c, at, v);
        return l->n ? l->v[is_name(at, "first") ? 0 : l->n - 1] : (jv){.t = JV_UNDEF};
    }
    if (is_name(at, "reverse")) {
        jlist *l = as_list(c, at, v), *r = lx_chat_list_new(c);
        for (size_t i = l->n; i-- > 0;) lx_chat_list_push(c, r, l->v[i]);
        return v.t == JV_STR ? lx_chat_join(c, r, lx_chat_val_str("", 0))
                             : (jv){.t = JV_LIST, .u.l = r};
    }
    if (is_name(at, "join")) {
        jv sep = a0 ? str_arg(c, at, a0, "join") : lx_chat_val_str("", 0);
        return lx_chat_join(c, as_list(c, at, v), sep);
    }
    if (is_name(at, "items") || is_name(at, "dictsort")) {
        if (v.t != JV_DICT)
            lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "%s: expected a dict", at->name);
        jv r = items(c, v.u.d);
        if (is_name(at, "dictsort")) /* insertion sort by key: dicts here are small */
            for (size_t i = 1; i < r.u.l->n; i++)
                for (size_t j = i; j > 0 && lx_chat_binop(c, at, JO_GT, r.u.l->v[j - 1].u.l->v[0],
                                                          r.u.l->v[j].u.l->v[0])
                                                .u.b;
                     j--) {
                    jv t = r.u.l->v[j];
                    r.u.l->v[j] = r.u.l->v[j - 1];
                    r.u.l->v[j - 1] = t;
                }
        return r;
    }
    if (is_name(at, "select") || is_name(at, "reject"))
        return select_items(c, at, v, n, args, 0, is_name(at, "select"));
    if (is_name(at, "selectattr") || is_name(at, "rejectattr"))
        return select_items(c, at, v, n, args, 1, is_name(at, "selectattr"));
    if (is_name(at, "map")) {
        const jv *attr = arg(n, args, kw, -1, "attribute");
        jlist *in = as_list(c, at, v), *out = lx_chat_list_new(c);
        if (!attr)
            lx_chat_fail(c, at->pos, LEXIE_E_UNSUPPORTED,
                         "map: only map(attribute=...) is supported");
        jv an = str_arg(c, at, attr, "map");
        for (size_t i = 0; i < in->n; i++) {
            jv *f =
                in->v[i].t == JV_DICT ? lx_chat_dict_get(in->v[i].u.d, an.u.s.p, an.u.s.n) : NULL;
            lx_chat_list_push(c, out, f ? *f : (jv){.t = JV_UNDEF});
        }
        return (jv){.t = JV_LIST, .u.l = out};
    }
    if (is_name(at, "int")) {
        if (v.t == JV_STR) {
            char buf[32];
            size_t m = LX_MIN(v.u.s.n, sizeof buf - 1);
            memcpy(buf, v.u.s.p, m);
            buf[m] = 0;
            return lx_chat_val_int(strtoll(buf, NULL, 10));
        }
        return lx_chat_val_int(lx_chat_is_num(v) ? lx_chat_inum(v) : 0);
    }
    if (is_name(at, "abs")) {
        if (v.t == JV_FLOAT) return (jv){.t = JV_FLOAT, .u.f = v.u.f < 0 ? -v.u.f : v.u.f};
        if (lx_chat_is_num(v)) {
            int64_t i = lx_chat_inum(v); /* -INT64_MIN overflows; keep it, as unary minus does */
            return lx_chat_val_int(i < 0 && i != INT64_MIN ? -i : i);
        }
    }
    if (v.t == JV_STR) {
        if (is_name(at, "trim")) return strip(c, v, a0 ? *a0 : (jv){.t = JV_UNDEF}, 1, 1);
        if (is_name(at, "upper")) return recase(c, v, 'u');
        if (is_name(at, "lower")) return recase(c, v, 'l');
        if (is_name(at, "capitalize")) return recase(c, recase(c, v, 'l'), 'c');
        if (is_name(at, "title")) return recase(c, v, 't');
        if (is_name(at, "replace")) {
            const jv *cnt = arg(n, args, kw, 2, "count");
            return replace(c, v, str_arg(c, at, a0, "replace"),
                           str_arg(c, at, arg(n, args, kw, 1, NULL), "replace"),
                           cnt && cnt->t == JV_INT ? cnt->u.i : -1);
        }
    }
    static const char *const known[] = {"trim",  "upper",   "lower", "capitalize",
                                        "title", "replace", "abs"};
    for (size_t i = 0; i < LX_ARRAY_LEN(known); i++)
        if (is_name(at, known[i]))
            lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "filter '%s' does not apply to %s", at->name,
                         lx_chat_type_name(v));
    lx_chat_fail(c, at->pos, LEXIE_E_UNSUPPORTED, "filter '%s' is not supported", at->name);
}

/* ==== Methods ==== */

jv lx_chat_method(jx *c, const jnode *at, jv obj, const char *name, int n, const jv *args,
                  const char **kw) {
    const jv *a0 = arg(n, args, kw, 0, NULL), *a1 = arg(n, args, kw, 1, NULL);
#define M(s) (strcmp(name, s) == 0)
    if (obj.t == JV_STR) {
        jv chars = a0 && a0->t == JV_STR ? *a0 : (jv){.t = JV_UNDEF};
        if (M("strip")) return strip(c, obj, chars, 1, 1);
        if (M("lstrip")) return strip(c, obj, chars, 1, 0);
        if (M("rstrip")) return strip(c, obj, chars, 0, 1);
        if (M("upper")) return recase(c, obj, 'u');
        if (M("lower")) return recase(c, obj, 'l');
        if (M("title")) return recase(c, obj, 't');
        if (M("capitalize")) return recase(c, recase(c, obj, 'l'), 'c');
        if (M("startswith")) return lx_chat_val_bool(starts_ends(c, at, obj, a0, 0));
        if (M("endswith")) return lx_chat_val_bool(starts_ends(c, at, obj, a0, 1));
        if (M("split")) {
            const jv *ms = arg(n, args, kw, 1, "maxsplit");
            return split(c, at, obj, arg(n, args, kw, 0, "sep"),
                         ms && ms->t == JV_INT ? ms->u.i : -1);
        }
        if (M("replace")) {
            const jv *cnt = arg(n, args, kw, 2, "count");
            return replace(c, obj, str_arg(c, at, a0, name), str_arg(c, at, a1, name),
                           cnt && cnt->t == JV_INT ? cnt->u.i : -1);
        }
        if (M("join")) return lx_chat_join(c, as_list(c, at, a0 ? *a0 : (jv){0}), obj);
        if (M("find")) {
            jv s = str_arg(c, at, a0, name);
            for (size_t i = 0; i + s.u.s.n <= obj.u.s.n; i++)
                if (memcmp(obj.u.s.p + i, s.u.s.p, s.u.s.n) == 0)
                    return lx_chat_val_int((int64_t)lx_chat_cp_count(obj.u.s.p, i));
            return lx_chat_val_int(-1);
        }
    } else if (obj.t == JV_DICT) {
        if (M("items")) return items(c, obj.u.d);
        if (M("keys") || M("values")) {
            jlist *l = lx_chat_list_new(c);
            for (size_t i = 0; i < obj.u.d->n; i++)
                lx_chat_list_push(c, l, M("keys") ? obj.u.d->k[i] : obj.u.d->v[i]);
            return (jv){.t = JV_LIST, .u.l = l};
        }
        if (M("get")) {
            jv k = str_arg(c, at, a0, name);
            jv *f = lx_chat_dict_get(obj.u.d, k.u.s.p, k.u.s.n);
            return f ? *f : a1 ? *a1 : (jv){.t = JV_NONE};
        }
    } else if (obj.t == JV_LIST) {
        if (M("append")) {
            if (!a0) lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "append: missing argument");
            lx_chat_list_push(c, obj.u.l, *a0);
            return (jv){.t = JV_NONE};
        }
    }
#undef M
    lx_chat_fail(c, at->pos, LEXIE_E_UNSUPPORTED, "method '%s' of %s is not supported", name,
                 lx_chat_type_name(obj));
}

/* ==== Global functions ==== */

jv lx_chat_builtin(jx *c, const jnode *at, const char *name, int n, const jv *args,
                   const char **kw) {
    if (strcmp(name, "raise_exception") == 0) {
        jv m = n > 0 ? lx_chat_to_str(c, args[0]) : lx_chat_val_str("", 0);
        lx_chat_fail(c, at->pos, LEXIE_E_INVALID, "raised: %.*s", (int)LX_MIN(m.u.s.n, 300),
                     m.u.s.p);
    }
    if (strcmp(name, "namespace") == 0 || strcmp(name, "dict") == 0) {
        jdict *d = lx_chat_dict_new(c);
        for (int i = 0; i < n; i++) {
            if (!kw || !kw[i])
                lx_chat_fail(c, at->pos, LEXIE_E_UNSUPPORTED, "%s() takes keyword arguments only",
                             name);
            lx_chat_dict_set(c, d, kw[i], strlen(kw[i]), args[i]);
        }
        return (jv){.t = JV_DICT, .u.d = d};
    }
    if (strcmp(name, "range") == 0) {
        int64_t lo = 0, hi, step = 1;
        for (int i = 0; i < n; i++)
            if (args[i].t != JV_INT)
                lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "range: expected integers");
        if (n == 1)
            hi = args[0].u.i;
        else if (n == 2 || n == 3)
            lo = args[0].u.i, hi = args[1].u.i, step = n == 3 ? args[2].u.i : 1;
        else
            lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "range: expected 1 to 3 arguments");
        if (step == 0) lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "range: step cannot be zero");
        /* The length first, in unsigned arithmetic that cannot overflow:
        ** range(10**9) fails here without holding a single item. */
        uint64_t span = step > 0 ? (hi > lo ? (uint64_t)hi - (uint64_t)lo : 0)
                                 : (lo > hi ? (uint64_t)lo - (uint64_t)hi : 0);
        uint64_t mag = step > 0 ? (uint64_t)step : 0 - (uint64_t)step;
        uint64_t count = span / mag + (span % mag != 0);
        if (count > LX_CHAT_MAX_ITEMS)
            lx_chat_fail(c, at->pos, LEXIE_E_RANGE,
                         "range of %llu items exceeds the bound of %d items",
                         (unsigned long long)count, LX_CHAT_MAX_ITEMS);
        jlist *l = lx_chat_list_new(c);
        size_t cap = 0;
        l->v = lx_chat_grow(c, NULL, 0, &cap, (size_t)(count ? count : 1), sizeof *l->v);
        l->cap = cap;
        for (uint64_t k = 0; k < count; k++)
            l->v[l->n++] = lx_chat_val_int((int64_t)((uint64_t)lo + k * (uint64_t)step));
        return (jv){.t = JV_LIST, .u.l = l};
    }
    if (strcmp(name, "strftime_now") == 0) {
        jv f = str_arg(c, at, arg(n, args, kw, 0, NULL), name);
        char fmt[128], buf[256];
        size_t m = LX_MIN(f.u.s.n, sizeof fmt - 1);
        memcpy(fmt, f.u.s.p, m);
        fmt[m] = 0;
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        size_t k = strftime(buf, sizeof buf, fmt, &tm);
        return lx_chat_val_str(lx_chat_strndup(c, buf, k), k);
    }
    lx_chat_fail(c, at->pos, LEXIE_E_UNSUPPORTED, "function '%s' is not supported", name);
}
