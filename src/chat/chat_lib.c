/*
** chat_lib.c -- the value layer chat templates compute with: string
** building, conversions (truthiness, equality, str(), Python repr and JSON
** dumps), strings and sequences (code points, indexing, slices, join, `in`)
** and the binary operators.  The named filters, tests, methods and global
** functions that templates call are in chat_filters.c.
**
** Results must match what Hugging Face renders (Python's Jinja2), so the
** details follow Python: str() of True is "True", json is dumped with
** ensure_ascii=False and ", "/": " separators, // and % floor, slices take
** negative bounds and steps, lengths count code points.
*/
#include "chat/chat_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

/* ==== String building ==== */

void lx_chat_sb_init(jsb *b, jx *c) {
    memset(b, 0, sizeof *b);
    b->c = c;
}

/* Room for need more elements of elem bytes in *v (n used, *cap held). */
static void *sb_room(jsb *b, void *v, size_t n, size_t *cap, size_t need, size_t elem) {
    if (need > SIZE_MAX - n) lx_chat_fail(b->c, b->c->pos, LEXIE_E_NOMEM, "template too large");
    if (!b->heap) return lx_chat_grow(b->c, v, n, cap, n + need, elem);
    if (n + need <= *cap) return v;
    size_t nc = *cap ? *cap : 64;
    while (nc < n + need) nc = nc > SIZE_MAX / 4 ? n + need : nc * 2;
    void *p = NULL;
    size_t bytes;
    if (lx_mul_ok(nc, elem, &bytes)) p = realloc(v, bytes);
    if (!p) lx_chat_fail(b->c, b->c->pos, LEXIE_E_NOMEM, "out of memory for the output");
    *cap = nc;
    return p;
}

void lx_chat_sb_put(jsb *b, const char *s, size_t n) {
    if (b->heap && n > b->c->lim.max_output - b->n)
        lx_chat_fail(b->c, b->c->pos, LEXIE_E_RANGE, "the output exceeds the bound of %zu bytes",
                     b->c->lim.max_output);
    b->p = sb_room(b, b->p, b->n, &b->cap, n, 1);
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* Marks [lo, hi) of b as user text, merging with the last range. */
static void sb_taint(jsb *b, size_t lo, size_t hi) {
    if (lo >= hi) return;
    if (b->tn && b->tr[2 * b->tn - 1] >= lo) {
        if (hi > b->tr[2 * b->tn - 1]) b->tr[2 * b->tn - 1] = hi;
        return;
    }
    size_t cap = b->tcap * 2;
    b->tr = sb_room(b, b->tr, 2 * b->tn, &cap, 2, sizeof *b->tr);
    b->tcap = cap / 2;
    b->tr[2 * b->tn] = lo;
    b->tr[2 * b->tn + 1] = hi;
    b->tn++;
}

void lx_chat_sb_mark(jsb *b, size_t from) { sb_taint(b, from, b->n); }

void lx_chat_sb_put_sub(jsb *b, jv s, size_t off, size_t n) {
    size_t at = b->n, end = off + n;
    lx_chat_sb_put(b, s.u.s.p + off, n);
    const jtaint *t = s.u.s.t;
    for (size_t i = 0; t && i < t->n; i++) {
        size_t lo = t->r[2 * i], hi = t->r[2 * i + 1];
        if (lo >= end || hi <= off) continue;
        sb_taint(b, at + (lo > off ? lo : off) - off, at + (hi < end ? hi : end) - off);
    }
}

void lx_chat_sb_putv(jsb *b, jv s) { lx_chat_sb_put_sub(b, s, 0, s.u.s.n); }

static void sb_cstr(jsb *b, const char *s) { lx_chat_sb_put(b, s, strlen(s)); }

jv lx_chat_sb_value(jsb *b) {
    jv v = lx_chat_val_str(b->p ? b->p : "", b->n);
    if (b->tn) {
        jtaint *t = lx_chat_alloc(b->c, sizeof *t + 2 * b->tn * sizeof t->r[0]);
        t->n = b->tn;
        memcpy(t->r, b->tr, 2 * b->tn * sizeof t->r[0]);
        v.u.s.t = t;
    }
    return v;
}

size_t lx_chat_cp_count(const char *p, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)p[i] & 0xC0) != 0x80;
    return k;
}

size_t lx_chat_cp_offset(const char *p, size_t n, size_t i) {
    size_t at = 0;
    for (size_t k = 0; k < i && at < n; k++) at += LX_MIN(lx_chat_u8len(p + at), n - at);
    return at;
}

/* Length of the UTF-8 sequence at p (input is valid UTF-8). */
size_t lx_chat_u8len(const char *p) { return (size_t)lx_utf8_len((unsigned char)*p); }

int32_t lx_chat_u8dec(const char *p, size_t n) {
    utf8proc_int32_t cp = 0;
    return utf8proc_iterate((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)n, &cp) > 0 ? cp
                                                                                       : 0xFFFD;
}

void lx_chat_u8put(jsb *b, int32_t cp) {
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t k = utf8proc_encode_char(cp, buf);
    lx_chat_sb_put(b, (const char *)buf, (size_t)k);
}

/* ==== Conversions ==== */

const char *lx_chat_type_name(jv v) {
    static const char *const names[] = {"undefined", "none",   "bool", "int",
                                        "float",     "string", "list", "dict"};
    return names[v.t];
}

int lx_chat_truthy(jv v) {
    switch (v.t) {
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0;
    case JV_STR: return v.u.s.n != 0;
    case JV_LIST: return v.u.l->n != 0;
    case JV_DICT: return v.u.d->n != 0;
    default: return 0;
    }
}

int lx_chat_is_num(jv v) { return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }
static double num_value(jv v) {
    return v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : v.u.b;
}
/* A float converts by truncation, as Python's int() does; NaN gives 0 and a
   float beyond int64's range saturates, since converting it is undefined. */
int64_t lx_chat_inum(jv v) {
    if (v.t == JV_INT) return v.u.i;
    if (v.t == JV_BOOL) return v.u.b;
    double f = v.u.f;
    if (f != f) return 0;
    if (f >= 9223372036854775808.0) return INT64_MAX;
    if (f <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)f;
}

static int eq(jx *c, jv a, jv b);
int lx_chat_eq(jx *c, jv a, jv b) {
    lx_chat_enter(c); /* lists may hold themselves */
    int r = eq(c, a, b);
    lx_chat_leave(c);
    return r;
}

static int eq(jx *c, jv a, jv b) {
    if (lx_chat_is_num(a) && lx_chat_is_num(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT) return lx_chat_inum(a) == lx_chat_inum(b);
        return num_value(a) == num_value(b);
    }
    if (a.t != b.t) return 0;
    switch (a.t) {
    case JV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case JV_LIST:
        if (a.u.l->n != b.u.l->n) return 0;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!lx_chat_eq(c, a.u.l->v[i], b.u.l->v[i])) return 0;
        return 1;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n) return 0;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv *o = lx_chat_dict_get(b.u.d, a.u.d->k[i].u.s.p, a.u.d->k[i].u.s.n);
            if (!o || !lx_chat_eq(c, a.u.d->v[i], *o)) return 0;
        }
        return 1;
    default: return 1; /* none == none, undefined == undefined */
    }
}

/* Python's repr() of a float: the shortest form that reads back. */
static void put_float(jsb *b, double f) {
    char buf[40];
    if (isnan(f)) {
        sb_cstr(b, "nan");
        return;
    }
    if (isinf(f)) {
        sb_cstr(b, f < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, f);
        if (strtod(buf, NULL) == f) break;
    }
    sb_cstr(b, buf);
    if (!strpbrk(buf, ".eninf")) sb_cstr(b, ".0");
}

static void put_repr(jsb *b, jv v);
static void put_str_in(jsb *b, jv v);

/* str(v) appended to b; user text inside v stays marked. */
static void put_str(jsb *b, jv v) {
    lx_chat_enter(b->c); /* lists and dicts may hold themselves */
    put_str_in(b, v);
    lx_chat_leave(b->c);
}

static void put_str_in(jsb *b, jv v) {
    char buf[32];
    switch (v.t) {
    case JV_UNDEF: break;
    case JV_NONE: sb_cstr(b, "None"); break;
    case JV_BOOL: sb_cstr(b, v.u.b ? "True" : "False"); break;
    case JV_INT:
        snprintf(buf, sizeof buf, "%lld", (long long)v.u.i);
        sb_cstr(b, buf);
        break;
    case JV_FLOAT: put_float(b, v.u.f); break;
    case JV_STR: lx_chat_sb_putv(b, v); break;
    case JV_LIST:
        sb_cstr(b, "[");
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) sb_cstr(b, ", ");
            put_repr(b, v.u.l->v[i]);
        }
        sb_cstr(b, "]");
        break;
    case JV_DICT:
        sb_cstr(b, "{");
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i) sb_cstr(b, ", ");
            put_repr(b, v.u.d->k[i]);
            sb_cstr(b, ": ");
            put_repr(b, v.u.d->v[i]);
        }
        sb_cstr(b, "}");
        break;
    }
}

static void put_repr(jsb *b, jv v) {
    if (v.t != JV_STR) {
        put_str(b, v);
        return;
    }
    int dq = memchr(v.u.s.p, '\'', v.u.s.n) && !memchr(v.u.s.p, '"', v.u.s.n);
    char q = dq ? '"' : '\'', buf[8];
    size_t from = b->n;
    lx_chat_sb_put(b, &q, 1);
    for (size_t i = 0; i < v.u.s.n; i++) {
        unsigned char ch = (unsigned char)v.u.s.p[i];
        if (ch == '\\' || ch == (unsigned char)q) {
            lx_chat_sb_put(b, "\\", 1);
            lx_chat_sb_put(b, (const char *)&ch, 1);
        } else if (ch == '\n')
            sb_cstr(b, "\\n");
        else if (ch == '\r')
            sb_cstr(b, "\\r");
        else if (ch == '\t')
            sb_cstr(b, "\\t");
        else if (ch < 0x20 || ch == 0x7F) {
            snprintf(buf, sizeof buf, "\\x%02x", ch);
            sb_cstr(b, buf);
        } else {
            lx_chat_sb_put(b, (const char *)&ch, 1);
        }
    }
    lx_chat_sb_put(b, &q, 1);
    if (v.u.s.t) lx_chat_sb_mark(b, from); /* escaped: the whole literal is user text */
}

jv lx_chat_to_str(jx *c, jv v) {
    if (v.t == JV_STR) return v;
    jsb b;
    lx_chat_sb_init(&b, c);
    put_str(&b, v);
    return lx_chat_sb_value(&b);
}

/* json.dumps(v, ensure_ascii=False, indent=indent) */
void lx_chat_put_json(jx *c, const jnode *at, jsb *b, jv v, int indent, int level) {
    char buf[16];
    if (level > c->lim.max_depth)
        lx_chat_fail(c, at->pos, LEXIE_E_RANGE, "tojson: value nested deeper than the bound of %d",
                     c->lim.max_depth);
    switch (v.t) {
    case JV_UNDEF:
    case JV_NONE: sb_cstr(b, "null"); return;
    case JV_BOOL: sb_cstr(b, v.u.b ? "true" : "false"); return;
    case JV_INT:
    case JV_FLOAT: put_str(b, v); return;
    case JV_STR: {
        size_t from = b->n;
        sb_cstr(b, "\"");
        for (size_t i = 0; i < v.u.s.n; i++) {
            unsigned char ch = (unsigned char)v.u.s.p[i];
            const char *esc = ch == '"'    ? "\\\""
                              : ch == '\\' ? "\\\\"
                              : ch == '\n' ? "\\n"
                              : ch == '\r' ? "\\r"
                              : ch == '\t' ? "\\t"
                              : ch == '\b' ? "\\b"
                              : ch == '\f' ? "\\f"
                                           : NULL;
            if (esc)
                sb_cstr(b, esc);
            else if (ch < 0x20 || ch == 0x7F) {
                snprintf(buf, sizeof buf, "\\u%04x", ch);
                sb_cstr(b, buf);
            } else
                lx_chat_sb_put(b, (const char *)&ch, 1);
        }
        sb_cstr(b, "\"");
        if (v.u.s.t) lx_chat_sb_mark(b, from); /* escaped: the whole literal is user text */
        return;
    }
    case JV_LIST:
    case JV_DICT: {
        int dict = v.t == JV_DICT;
        size_t n = dict ? v.u.d->n : v.u.l->n;
        sb_cstr(b, dict ? "{" : "[");
        for (size_t i = 0; i < n; i++) {
            if (i) sb_cstr(b, indent >= 0 ? "," : ", ");
            if (indent >= 0) {
                sb_cstr(b, "\n");
                for (int k = 0; k < indent * (level + 1); k++) sb_cstr(b, " ");
            }
            if (dict) {
                lx_chat_put_json(c, at, b, v.u.d->k[i], indent, level + 1);
                sb_cstr(b, ": ");
            }
            lx_chat_put_json(c, at, b, dict ? v.u.d->v[i] : v.u.l->v[i], indent, level + 1);
        }
        if (indent >= 0 && n) {
            sb_cstr(b, "\n");
            for (int k = 0; k < indent * level; k++) sb_cstr(b, " ");
        }
        sb_cstr(b, dict ? "}" : "]");
        return;
    }
    }
}

/* ==== Strings and sequences ==== */

jlist *lx_chat_str_chars(jx *c, jv s) {
    jlist *l = lx_chat_list_new(c);
    for (size_t i = 0; i < s.u.s.n;) {
        size_t k = LX_MIN(lx_chat_u8len(s.u.s.p + i), s.u.s.n - i);
        lx_chat_list_push(c, l, lx_chat_substr(c, s, i, k));
        i += k;
    }
    return l;
}

jv lx_chat_str_index(jx *c, jv s, int64_t i) {
    int64_t n = (int64_t)lx_chat_cp_count(s.u.s.p, s.u.s.n);
    if (i < 0) i += n;
    if (i < 0 || i >= n) return (jv){.t = JV_UNDEF};
    size_t at = lx_chat_cp_offset(s.u.s.p, s.u.s.n, (size_t)i);
    return lx_chat_substr(c, s, at, LX_MIN(lx_chat_u8len(s.u.s.p + at), s.u.s.n - at));
}

jv lx_chat_join(jx *c, jlist *l, jv sep) {
    jsb b;
    lx_chat_sb_init(&b, c);
    for (size_t i = 0; i < l->n; i++) {
        if (i) lx_chat_sb_putv(&b, sep);
        put_str(&b, l->v[i]);
    }
    return lx_chat_sb_value(&b);
}

jv lx_chat_slice(jx *c, const jnode *at, jv obj, const int has[3], const jv part[3]) {
    jlist *src = NULL;
    int64_t n;
    if (obj.t == JV_LIST)
        n = (int64_t)(src = obj.u.l)->n;
    else if (obj.t == JV_STR)
        n = (int64_t)lx_chat_cp_count(obj.u.s.p, obj.u.s.n);
    else if (obj.t == JV_UNDEF || obj.t == JV_NONE)
        return (jv){.t = JV_UNDEF};
    else
        lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "cannot slice %s", lx_chat_type_name(obj));
    int64_t step = has[2] ? part[2].u.i : 1;
    if (step == 0) lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "slice step cannot be zero");
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? n : n - 1, b[2];
    for (int k = 0; k < 2; k++) {
        if (!has[k]) { /* whole range in the direction of step */
            b[k] = k == 0 ? (step > 0 ? 0 : n - 1) : (step > 0 ? n : -1);
            continue;
        }
        b[k] = part[k].u.i < 0 ? part[k].u.i + n : part[k].u.i;
        b[k] = b[k] < lo ? lo : b[k] > hi ? hi : b[k];
    }
    if (obj.t == JV_STR && step == 1) { /* s[a:b]: one substring, nothing per character */
        if (b[1] <= b[0]) return lx_chat_val_str("", 0);
        size_t o0 = lx_chat_cp_offset(obj.u.s.p, obj.u.s.n, (size_t)b[0]);
        size_t o1 = lx_chat_cp_offset(obj.u.s.p, obj.u.s.n, (size_t)b[1]);
        return lx_chat_substr(c, obj, o0, o1 - o0);
    }
    if (!src) src = lx_chat_str_chars(c, obj);
    jlist *out = lx_chat_list_new(c);
    for (int64_t i = b[0]; step > 0 ? i < b[1] : i > b[1]; i += step) {
        lx_chat_list_push(c, out, src->v[i]);
        if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
    }
    if (obj.t == JV_LIST) return (jv){.t = JV_LIST, .u.l = out};
    return lx_chat_join(c, out, lx_chat_val_str("", 0));
}

int lx_chat_contains(jx *c, const jnode *at, jv hay, jv needle) {
    if (hay.t == JV_STR) {
        if (needle.t != JV_STR)
            lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "'in <string>' needs a string, not %s",
                         lx_chat_type_name(needle));
        if (needle.u.s.n == 0) return 1;
        for (size_t i = 0; i + needle.u.s.n <= hay.u.s.n; i++)
            if (memcmp(hay.u.s.p + i, needle.u.s.p, needle.u.s.n) == 0) return 1;
        return 0;
    }
    if (hay.t == JV_LIST) {
        for (size_t i = 0; i < hay.u.l->n; i++)
            if (lx_chat_eq(c, hay.u.l->v[i], needle)) return 1;
        return 0;
    }
    if (hay.t == JV_DICT)
        return needle.t == JV_STR && lx_chat_dict_get(hay.u.d, needle.u.s.p, needle.u.s.n);
    if (hay.t == JV_UNDEF || hay.t == JV_NONE) return 0;
    lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "'in' needs a string, list or dict, not %s",
                 lx_chat_type_name(hay));
}

static int cmp3(jx *c, const jnode *at, jv a, jv b) {
    if (lx_chat_is_num(a) && lx_chat_is_num(b))
        return num_value(a) < num_value(b) ? -1 : num_value(a) > num_value(b);
    if (a.t == JV_STR && b.t == JV_STR) {
        int r = memcmp(a.u.s.p, b.u.s.p, LX_MIN(a.u.s.n, b.u.s.n));
        return r ? r : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
    }
    lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "cannot compare %s with %s", lx_chat_type_name(a),
                 lx_chat_type_name(b));
}

static jv repeat(jx *c, const jnode *at, jv s, int64_t times) {
    size_t n = s.t == JV_STR ? s.u.s.n : s.u.l->n;
    if (times <= 0)
        return s.t == JV_STR ? lx_chat_val_str("", 0)
                             : (jv){.t = JV_LIST, .u.l = lx_chat_list_new(c)};
    if ((uint64_t)times > LX_CHAT_MAX_ITEMS / (n ? n : 1))
        lx_chat_fail(c, at->pos, LEXIE_E_RANGE,
                     "repetition of %zu items %lld times exceeds the bound of %d items", n,
                     (long long)times, LX_CHAT_MAX_ITEMS);
    if (s.t == JV_STR) {
        jsb b;
        lx_chat_sb_init(&b, c);
        for (int64_t i = 0; i < times; i++) lx_chat_sb_putv(&b, s);
        return lx_chat_sb_value(&b);
    }
    jlist *l = lx_chat_list_new(c);
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < n; k++) lx_chat_list_push(c, l, s.u.l->v[k]);
    return (jv){.t = JV_LIST, .u.l = l};
}

jv lx_chat_binop(jx *c, const jnode *at, int op, jv a, jv b) {
    static const char *const sym[] = {"", "+", "-", "*", "/", "//", "%", "**"};
    switch (op) {
    case JO_EQ: return lx_chat_val_bool(lx_chat_eq(c, a, b));
    case JO_NE: return lx_chat_val_bool(!lx_chat_eq(c, a, b));
    case JO_LT: return lx_chat_val_bool(cmp3(c, at, a, b) < 0);
    case JO_LE: return lx_chat_val_bool(cmp3(c, at, a, b) <= 0);
    case JO_GT: return lx_chat_val_bool(cmp3(c, at, a, b) > 0);
    case JO_GE: return lx_chat_val_bool(cmp3(c, at, a, b) >= 0);
    case JO_IN: return lx_chat_val_bool(lx_chat_contains(c, at, b, a));
    case JO_NOTIN: return lx_chat_val_bool(!lx_chat_contains(c, at, b, a));
    case JO_CONCAT: {
        jsb s;
        lx_chat_sb_init(&s, c);
        put_str(&s, a);
        put_str(&s, b);
        return lx_chat_sb_value(&s);
    }
    default: break;
    }
    if (op == JO_ADD && a.t == JV_STR && b.t == JV_STR) {
        jsb s;
        lx_chat_sb_init(&s, c);
        lx_chat_sb_putv(&s, a);
        lx_chat_sb_putv(&s, b);
        return lx_chat_sb_value(&s);
    }
    if (op == JO_ADD && a.t == JV_LIST && b.t == JV_LIST) {
        jlist *l = lx_chat_list_new(c);
        for (size_t i = 0; i < a.u.l->n; i++) lx_chat_list_push(c, l, a.u.l->v[i]);
        for (size_t i = 0; i < b.u.l->n; i++) lx_chat_list_push(c, l, b.u.l->v[i]);
        return (jv){.t = JV_LIST, .u.l = l};
    }
    if (op == JO_MUL && (a.t == JV_STR || a.t == JV_LIST) && (b.t == JV_INT || b.t == JV_BOOL))
        return repeat(c, at, a, lx_chat_inum(b));
    if (op == JO_MUL && (b.t == JV_STR || b.t == JV_LIST) && (a.t == JV_INT || a.t == JV_BOOL))
        return repeat(c, at, b, lx_chat_inum(a));
    if (!lx_chat_is_num(a) || !lx_chat_is_num(b))
        lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "unsupported operand types for %s: %s and %s",
                     sym[op <= JO_POW ? op : 0], lx_chat_type_name(a), lx_chat_type_name(b));
    int ints = a.t != JV_FLOAT && b.t != JV_FLOAT;
    int64_t x = lx_chat_inum(a), y = lx_chat_inum(b), r;
    double fx = num_value(a), fy = num_value(b);
    if ((op == JO_DIV || op == JO_FLOORDIV || op == JO_MOD) && fy == 0)
        lx_chat_fail(c, at->pos, LEXIE_E_FORMAT, "division by zero");
    switch (op) {
    case JO_ADD:
        if (ints && !__builtin_add_overflow(x, y, &r)) return lx_chat_val_int(r);
        return (jv){.t = JV_FLOAT, .u.f = fx + fy};
    case JO_SUB:
        if (ints && !__builtin_sub_overflow(x, y, &r)) return lx_chat_val_int(r);
        return (jv){.t = JV_FLOAT, .u.f = fx - fy};
    case JO_MUL:
        if (ints && !__builtin_mul_overflow(x, y, &r)) return lx_chat_val_int(r);
        return (jv){.t = JV_FLOAT, .u.f = fx * fy};
    case JO_DIV: return (jv){.t = JV_FLOAT, .u.f = fx / fy};
    case JO_FLOORDIV:
        if (ints && !(x == INT64_MIN && y == -1))
            return lx_chat_val_int(x / y - ((x % y != 0) && ((x < 0) != (y < 0))));
        return (jv){.t = JV_FLOAT, .u.f = floor(fx / fy)};
    case JO_MOD:
        if (ints) {
            if (y == -1) return lx_chat_val_int(0);
            r = x % y;
            return lx_chat_val_int(r && ((r < 0) != (y < 0)) ? r + y : r);
        } else {
            double m = fmod(fx, fy);
            return (jv){.t = JV_FLOAT, .u.f = m && ((m < 0) != (fy < 0)) ? m + fy : m};
        }
    case JO_POW:
        if (ints && y >= 0) {
            if (x == 0 || x == 1) return lx_chat_val_int(y == 0 ? 1 : x);
            if (x == -1) return lx_chat_val_int(y % 2 ? -1 : 1);
            int64_t acc = 1; /* |x| >= 2 overflows within 63 steps */
            int ok = 1;
            for (int64_t k = 0; k < y && ok; k++) ok = !__builtin_mul_overflow(acc, x, &acc);
            if (ok) return lx_chat_val_int(acc);
        }
        return (jv){.t = JV_FLOAT, .u.f = pow(fx, fy)};
    }
    lx_chat_fail(c, at->pos, LEXIE_E_INTERNAL, "unknown operator %d", op);
}
