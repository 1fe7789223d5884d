/*
** json.c -- the JSON reader and writer declared in json.h.
**
** The reader is a recursive-descent parser over a byte range.  Nodes and
** strings live in an arena owned by the document; children of an array or
** object are collected on a scratch stack and copied into the arena when
** the container closes, so there is one allocation per arena block, not
** per node.  Positions are tracked as (line, start of line, continuation
** bytes on this line) so a column in code points costs nothing per byte.
*/
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== Arena ==== */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
} arena_block;

struct lx_json_doc {
    arena_block *blocks;
    lx_json *root;
};

static void *arena_alloc(lx_json_doc *d, size_t n) {
    n = (n + 15) & ~(size_t)15;
    arena_block *b = d->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = d->blocks;
        d->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void lx_json_doc_free(lx_json_doc *d) {
    if (!d) return;
    arena_block *b = d->blocks;
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
    free(d);
}

const lx_json *lx_json_root(const lx_json_doc *d) { return d ? d->root : NULL; }

/* ==== Parser state ==== */

typedef struct {
    const unsigned char *s;
    size_t n, pos;
    int line;
    size_t line_start, line_cont; /* continuation bytes seen on this line */
    int depth, max_depth, allow_dup;
    lx_json_doc *doc;
    lexie_error *err;
    lexie_status st;
    /* Scratch stack of children (values and keys) shared by all levels. */
    struct member {
        lx_json *v;
        const char *k; /* NULL in arrays */
        size_t kl;
    } * stk;
    size_t sn, scap;
    /* Scratch for decoding one string. */
    char *sb;
    size_t sbcap;
} parser;

static int col_at(const parser *p, size_t pos) {
    return (int)(pos - p->line_start - p->line_cont + 1);
}

static lx_json *fail_at(parser *p, size_t pos, lexie_status code, const char *fmt, ...)
    LX_PRINTF(4, 5);

static lx_json *fail_at(parser *p, size_t pos, lexie_status code, const char *fmt, ...) {
    if (p->st != LEXIE_OK) return NULL;
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    p->st = lx_fail(p->err, code, "line %d, column %d: %s", p->line, col_at(p, pos), what);
    return NULL;
}

static lx_json *oom(parser *p) {
    if (p->st == LEXIE_OK) p->st = lx_fail(p->err, LEXIE_E_NOMEM, "JSON: out of memory");
    return NULL;
}

static void skip_ws(parser *p) {
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\r') {
            p->pos++;
        } else if (c == '\n') {
            p->pos++;
            p->line++;
            p->line_start = p->pos;
            p->line_cont = 0;
        } else {
            break;
        }
    }
}

/* A short printable description of the byte at pos, for messages. */
static const char *describe(const parser *p, size_t pos, char *buf, size_t n) {
    if (pos >= p->n) return "end of input";
    unsigned char c = p->s[pos];
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, n, "'%c'", c);
    else
        snprintf(buf, n, "byte 0x%02x", c);
    return buf;
}

static lx_json *new_node(parser *p, lx_json_type t, size_t pos) {
    lx_json *v = arena_alloc(p->doc, sizeof *v);
    if (!v) return oom(p);
    memset(v, 0, sizeof *v);
    v->type = t;
    v->line = p->line;
    v->col = col_at(p, pos);
    return v;
}

static int stack_push(parser *p, lx_json *v, const char *k, size_t kl) {
    if (lx_grow((void **)&p->stk, &p->scap, p->sn + 1, sizeof *p->stk, NULL)) return 0;
    p->stk[p->sn] = (struct member){v, k, kl};
    p->sn++;
    return 1;
}

/* ==== Strings ==== */

static int sb_reserve(parser *p, size_t need) {
    return lx_grow((void **)&p->sb, &p->sbcap, need, 1, NULL) == LEXIE_OK;
}

static int hex4(const unsigned char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) return (size_t)(o[0] = (char)cp, 1);
    size_t n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (size_t i = n - 1; i > 0; i--, cp >>= 6) o[i] = (char)(0x80 | (cp & 0x3F));
    o[0] = (char)(lead[n] | cp);
    return n;
}

/* Parses the string starting at the opening quote into the arena.
** *out and *out_len get the decoded text. */
static int parse_string(parser *p, const char **out, size_t *out_len) {
    size_t start = p->pos++; /* the quote */
    size_t start_cont = p->line_cont, o = 0;
    for (;;) {
        if (p->pos >= p->n) {
            p->line_cont = start_cont; /* so the column is the quote's */
            fail_at(p, start, LEXIE_E_FORMAT, "unterminated string");
            return 0;
        }
        /* Worst case a \uXXXX pair becomes 4 bytes: 4 more than now. */
        if (!sb_reserve(p, o + 8)) {
            oom(p);
            return 0;
        }
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            fail_at(p, p->pos, LEXIE_E_FORMAT, "control character 0x%02x in a string (escape it)",
                    c);
            return 0;
        }
        if (c == '\\') {
            if (p->pos + 1 >= p->n) {
                p->line_cont = start_cont;
                fail_at(p, start, LEXIE_E_FORMAT, "unterminated string");
                return 0;
            }
            unsigned char e = p->s[p->pos + 1];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char map[] = "\"\\/\b\f\n\r\t";
                p->sb[o++] = map[simple - "\"\\/bfnrt"];
                p->pos += 2;
                continue;
            }
            if (e != 'u') {
                char d[24];
                fail_at(p, p->pos, LEXIE_E_FORMAT, "bad escape \\%s in a string",
                        describe(p, p->pos + 1, d, sizeof d));
                return 0;
            }
            uint32_t cp;
            if (p->n - p->pos < 6 || !hex4(p->s + p->pos + 2, &cp)) {
                fail_at(p, p->pos, LEXIE_E_FORMAT, "\\u needs four hex digits");
                return 0;
            }
            size_t esc = p->pos;
            p->pos += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail_at(p, esc, LEXIE_E_FORMAT, "lone low surrogate \\u%04X", (unsigned)cp);
                return 0;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (p->n - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    !hex4(p->s + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    fail_at(p, esc, LEXIE_E_FORMAT,
                            "high surrogate \\u%04X not followed by a low surrogate", (unsigned)cp);
                    return 0;
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            o += put_utf8(p->sb + o, cp);
            continue;
        }
        if (c < 0x80) {
            p->sb[o++] = (char)c;
            p->pos++;
            continue;
        }
        /* A multi-byte character: validate it as a unit. */
        int l = lx_utf8_len(c);
        size_t avail = p->n - p->pos;
        if ((size_t)l > avail || l == 1 ||
            !lx_utf8_valid((const char *)p->s + p->pos, (size_t)l, NULL)) {
            fail_at(p, p->pos, LEXIE_E_UTF8, "invalid UTF-8 in a string (byte 0x%02x)", c);
            return 0;
        }
        memcpy(p->sb + o, p->s + p->pos, (size_t)l);
        o += (size_t)l;
        p->pos += (size_t)l;
        p->line_cont += (size_t)l - 1;
    }
    char *s = arena_alloc(p->doc, o + 1);
    if (!s) {
        oom(p);
        return 0;
    }
    memcpy(s, p->sb, o);
    s[o] = 0;
    *out = s;
    *out_len = o;
    return 1;
}

/* ==== Numbers ==== */

static lx_json *parse_number(parser *p) {
    size_t start = p->pos, i = p->pos;
    const unsigned char *s = p->s;
    if (i < p->n && s[i] == '-') i++;
    if (i >= p->n || s[i] < '0' || s[i] > '9')
        return fail_at(p, start, LEXIE_E_FORMAT, "bad number: a digit must follow '-'");
    if (s[i] == '0') {
        i++;
        if (i < p->n && s[i] >= '0' && s[i] <= '9')
            return fail_at(p, start, LEXIE_E_FORMAT, "bad number: leading zero");
    } else {
        while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->n && s[i] == '.') {
        i++;
        if (i >= p->n || s[i] < '0' || s[i] > '9')
            return fail_at(p, start, LEXIE_E_FORMAT, "bad number: a digit must follow '.'");
        while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->n || s[i] < '0' || s[i] > '9')
            return fail_at(p, start, LEXIE_E_FORMAT, "bad number: empty exponent");
        while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
    }
    size_t len = i - start;
    char *txt = arena_alloc(p->doc, len + 1);
    if (!txt) return oom(p);
    memcpy(txt, s + start, len);
    txt[len] = 0;
    errno = 0;
    double v = strtod(txt, NULL);
    /* Underflow to 0 or a denormal is harmless; overflow is not. */
    if (isinf(v))
        return fail_at(p, start, LEXIE_E_FORMAT, "number %.40s%s is too large for a double", txt,
                       len > 40 ? "..." : "");
    lx_json *n = new_node(p, LX_JSON_NUMBER, start);
    if (!n) return NULL;
    n->num = v;
    n->str = txt;
    n->len = len;
    p->pos = i;
    return n;
}

/* ==== Values ==== */

static lx_json *parse_value(parser *p);

/* Finds two members of o with the same key by a merge sort of member
** indices (stable, no shared state, O(n log n) so a huge object cannot
** make it quadratic).  Returns 1 with their indices (second is the later),
** 0 if none, -1 when out of memory. */
static int find_duplicate(lx_json *o, int *first, int *second) {
    if (o->n < 2) return 0;
    size_t *idx = malloc((size_t)o->n * sizeof *idx);
    if (!idx) return -1;
    for (int i = 0; i < o->n; i++) idx[i] = (size_t)i;
    size_t n = (size_t)o->n;
    size_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp) {
        free(idx);
        return -1;
    }
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = LX_MIN(lo + w, n), hi = LX_MIN(lo + 2 * w, n);
            size_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi) {
                size_t ia = idx[a], ib = idx[b];
                size_t la = o->key_lens[ia], lb = o->key_lens[ib];
                int c = memcmp(o->keys[ia], o->keys[ib], LX_MIN(la, lb));
                if (c == 0) c = la < lb ? -1 : la > lb ? 1 : (ia < ib ? -1 : 1);
                tmp[k++] = c <= 0 ? idx[a++] : idx[b++];
            }
            while (a < mid) tmp[k++] = idx[a++];
            while (b < hi) tmp[k++] = idx[b++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
    free(tmp);
    int found = 0;
    for (size_t i = 0; i + 1 < n && !found; i++) {
        size_t a = idx[i], b = idx[i + 1];
        if (o->key_lens[a] == o->key_lens[b] &&
            memcmp(o->keys[a], o->keys[b], o->key_lens[a]) == 0) {
            *first = (int)a;
            *second = (int)b;
            found = 1;
        }
    }
    free(idx);
    return found;
}

/* Moves the children pushed since base into the arena as c's items. */
static int close_container(parser *p, lx_json *c, size_t base, int with_keys) {
    size_t n = p->sn - base;
    if (n > INT32_MAX) {
        fail_at(p, p->pos, LEXIE_E_RANGE, "too many members");
        return 0;
    }
    c->n = (int)n;
    if (n) {
        c->items = arena_alloc(p->doc, n * sizeof *c->items);
        if (!c->items) return oom(p), 0;
        for (size_t i = 0; i < n; i++) c->items[i] = p->stk[base + i].v;
        if (with_keys) {
            c->keys = arena_alloc(p->doc, n * sizeof *c->keys);
            c->key_lens = arena_alloc(p->doc, n * sizeof *c->key_lens);
            if (!c->keys || !c->key_lens) return oom(p), 0;
            for (size_t i = 0; i < n; i++) {
                c->keys[i] = p->stk[base + i].k;
                c->key_lens[i] = p->stk[base + i].kl;
            }
        }
    }
    p->sn = base;
    return 1;
}

static lx_json *parse_array(parser *p) {
    size_t open = p->pos;
    lx_json *a = new_node(p, LX_JSON_ARRAY, open);
    if (!a) return NULL;
    p->pos++;
    size_t base = p->sn;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ']') {
        p->pos++;
        return a;
    }
    for (;;) {
        lx_json *v = parse_value(p);
        if (!v) return NULL;
        if (!stack_push(p, v, NULL, 0)) return oom(p);
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == ']') {
            p->pos++;
            break;
        }
        char d[24];
        return fail_at(p, p->pos, LEXIE_E_FORMAT,
                       "expected ',' or ']' in the array opened at line %d, found %s", a->line,
                       describe(p, p->pos, d, sizeof d));
    }
    return close_container(p, a, base, 0) ? a : NULL;
}

static lx_json *parse_object(parser *p) {
    size_t open = p->pos;
    lx_json *o = new_node(p, LX_JSON_OBJECT, open);
    if (!o) return NULL;
    p->pos++;
    size_t base = p->sn;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == '}') {
        p->pos++;
        return o;
    }
    for (;;) {
        skip_ws(p);
        char d[24];
        if (p->pos >= p->n || p->s[p->pos] != '"')
            return fail_at(p, p->pos, LEXIE_E_FORMAT, "expected a string key, found %s",
                           describe(p, p->pos, d, sizeof d));
        const char *k;
        size_t kl;
        if (!parse_string(p, &k, &kl)) return NULL;
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != ':')
            return fail_at(p, p->pos, LEXIE_E_FORMAT, "expected ':' after key \"%.60s\", found %s",
                           k, describe(p, p->pos, d, sizeof d));
        p->pos++;
        lx_json *v = parse_value(p);
        if (!v) return NULL;
        if (!stack_push(p, v, k, kl)) return oom(p);
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == '}') {
            p->pos++;
            break;
        }
        return fail_at(p, p->pos, LEXIE_E_FORMAT,
                       "expected ',' or '}' in the object opened at line %d, found %s", o->line,
                       describe(p, p->pos, d, sizeof d));
    }
    if (!close_container(p, o, base, 1)) return NULL;
    if (!p->allow_dup) {
        int i, j, r = find_duplicate(o, &i, &j);
        if (r < 0) return oom(p);
        if (r) {
            p->st = lx_fail(p->err, LEXIE_E_FORMAT, "line %d, column %d: duplicate key \"%.60s\"",
                            o->items[j]->line, o->items[j]->col, o->keys[j]);
            return NULL;
        }
    }
    return o;
}

static int match_word(parser *p, const char *w) {
    size_t l = strlen(w);
    if (p->n - p->pos < l || memcmp(p->s + p->pos, w, l) != 0) return 0;
    p->pos += l;
    return 1;
}

static lx_json *parse_value(parser *p) {
    skip_ws(p);
    if (p->pos >= p->n)
        return fail_at(p, p->pos, LEXIE_E_FORMAT, "expected a value, found end of input");
    unsigned char c = p->s[p->pos];
    size_t at = p->pos;
    lx_json *v;
    switch (c) {
    case '{':
    case '[':
        if (p->depth >= p->max_depth)
            return fail_at(p, at, LEXIE_E_RANGE, "nesting deeper than %d", p->max_depth);
        p->depth++;
        v = c == '{' ? parse_object(p) : parse_array(p);
        p->depth--;
        return v;
    case '"': {
        const char *s;
        size_t l;
        v = new_node(p, LX_JSON_STRING, at);
        if (!v || !parse_string(p, &s, &l)) return NULL;
        v->str = s;
        v->len = l;
        return v;
    }
    case 't':
    case 'f':
    case 'n':
        if (match_word(p, "true") || match_word(p, "false")) {
            v = new_node(p, LX_JSON_BOOL, at);
            if (v) v->b = c == 't';
            return v;
        }
        if (match_word(p, "null")) return new_node(p, LX_JSON_NULL, at);
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p);
    }
    char d[24];
    return fail_at(p, at, LEXIE_E_FORMAT, "expected a value, found %s",
                   describe(p, at, d, sizeof d));
}

lx_json_doc *lx_json_parse(const char *text, size_t len, const lx_json_limits *lim,
                           lexie_error *err) {
    lx_json_limits l = {0, 0, 0};
    if (lim) l = *lim;
    if (l.max_depth <= 0) l.max_depth = 128;
    if (l.max_bytes == 0) l.max_bytes = (size_t)256 << 20;
    if (!text && len) {
        lx_fail(err, LEXIE_E_INVALID, "JSON: NULL text");
        return NULL;
    }
    if (len > l.max_bytes) {
        lx_fail(err, LEXIE_E_RANGE, "JSON: input of %zu bytes exceeds the limit of %zu", len,
                l.max_bytes);
        return NULL;
    }
    lx_json_doc *d = calloc(1, sizeof *d);
    if (!d) {
        lx_fail(err, LEXIE_E_NOMEM, "JSON: out of memory");
        return NULL;
    }
    parser p;
    memset(&p, 0, sizeof p);
    p.s = (const unsigned char *)(text ? text : "");
    p.n = len;
    p.line = 1;
    p.max_depth = l.max_depth;
    p.allow_dup = l.allow_dup_keys;
    p.doc = d;
    p.err = err;
    if (p.n >= 3 && memcmp(p.s, "\xEF\xBB\xBF", 3) == 0) {
        p.pos = 3;
        p.line_start = 3;
    }
    lx_json *root = parse_value(&p);
    if (root) {
        skip_ws(&p);
        if (p.pos < p.n) {
            char dsc[24];
            fail_at(&p, p.pos, LEXIE_E_FORMAT, "unexpected %s after the value",
                    describe(&p, p.pos, dsc, sizeof dsc));
            root = NULL;
        }
    }
    free(p.stk);
    free(p.sb);
    if (!root) {
        lx_json_doc_free(d);
        return NULL;
    }
    d->root = root;
    return d;
}

lx_json_doc *lx_json_parse_file(const char *path, const lx_json_limits *lim, lexie_error *err) {
    size_t n;
    char *buf =
        lx_read_file(path, lim && lim->max_bytes ? lim->max_bytes : (size_t)256 << 20, &n, err);
    if (!buf) return NULL;
    lx_json_doc *d = lx_json_parse(buf, n, lim, err);
    free(buf);
    if (!d) lx_fail_prefix(err, "%s: ", path);
    return d;
}

/* ==== Access ==== */

const lx_json *lx_json_get(const lx_json *o, const char *key) {
    if (!o || o->type != LX_JSON_OBJECT || !key) return NULL;
    size_t kl = strlen(key);
    for (int i = o->n - 1; i >= 0; i--)
        if (o->key_lens[i] == kl && memcmp(o->keys[i], key, kl) == 0) return o->items[i];
    return NULL;
}

const lx_json *lx_json_at(const lx_json *o, int i) {
    if (!o || o->type != LX_JSON_ARRAY || i < 0 || i >= o->n) return NULL;
    return o->items[i];
}

const char *lx_json_string(const lx_json *v) {
    return v && v->type == LX_JSON_STRING ? v->str : NULL;
}

int lx_json_int(const lx_json *v, int64_t *out) {
    if (!v || v->type != LX_JSON_NUMBER) return 0;
    double d = v->num;
    /* 2^63 itself does not fit; every double below it in magnitude that
    ** has no fraction does. */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return 0;
    if (d != floor(d)) return 0;
    *out = (int64_t)d;
    return 1;
}

const char *lx_json_type_name(lx_json_type t) {
    switch (t) {
    case LX_JSON_NULL: return "null";
    case LX_JSON_BOOL: return "boolean";
    case LX_JSON_NUMBER: return "number";
    case LX_JSON_STRING: return "string";
    case LX_JSON_ARRAY: return "array";
    case LX_JSON_OBJECT: return "object";
    }
    return "unknown";
}

/* ==== Writing ==== */

void lx_jbuf_free(lx_jbuf *b) {
    if (!b) return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

void lx_jbuf_reset(lx_jbuf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

/* Room for extra bytes and the NUL; 0 (and oom set) when there is none. */
static int jb_reserve(lx_jbuf *b, size_t extra) {
    if (b->oom) return 0;
    if (extra > SIZE_MAX - b->len - 1 ||
        lx_grow((void **)&b->data, &b->cap, b->len + extra + 1, 1, NULL)) {
        b->oom = 1;
        return 0;
    }
    return 1;
}

void lx_jbuf_add(lx_jbuf *b, const char *s, size_t n) {
    if (!jb_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void lx_jbuf_puts(lx_jbuf *b, const char *s) { lx_jbuf_add(b, s, strlen(s)); }
void lx_jbuf_putc(lx_jbuf *b, char c) { lx_jbuf_add(b, &c, 1); }

void lx_jbuf_printf(lx_jbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        lx_jbuf_add(b, small, (size_t)n);
        return;
    }
    if (!jb_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lx_jbuf_str(lx_jbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    lx_jbuf_putc(b, '"');
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: start of bytes copied verbatim */
    while (i < n) {
        unsigned char c = u[i];
        const char *esc = NULL;
        char ubuf[8];
        size_t adv = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20 || c == 0x7f) {
            memcpy(ubuf, "\\u00", 4);
            ubuf[4] = hex[c >> 4];
            ubuf[5] = hex[c & 15];
            ubuf[6] = 0;
            esc = ubuf;
        } else if (c >= 0x80) {
            int l = lx_utf8_len(c);
            if (l == 1 || (size_t)l > n - i || !lx_utf8_valid(s + i, (size_t)l, NULL)) {
                esc = "\\ufffd";
            } else if (l == 3 && c == 0xE2 && u[i + 1] == 0x80 &&
                       (u[i + 2] == 0xA8 || u[i + 2] == 0xA9)) {
                /* U+2028/2029 are legal JSON but break JavaScript readers. */
                esc = u[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
                adv = 3;
            } else {
                i += (size_t)l;
                continue;
            }
        } else {
            i++;
            continue;
        }
        lx_jbuf_add(b, s + run, i - run);
        lx_jbuf_puts(b, esc);
        i += adv;
        run = i;
    }
    lx_jbuf_add(b, s + run, n - run);
    lx_jbuf_putc(b, '"');
}

void lx_jbuf_cstr(lx_jbuf *b, const char *s) {
    if (!s)
        lx_jbuf_puts(b, "null");
    else
        lx_jbuf_str(b, s, strlen(s));
}

void lx_jbuf_num(lx_jbuf *b, double v) {
    if (!isfinite(v)) {
        lx_jbuf_puts(b, "null");
        return;
    }
    char tmp[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) break;
    }
    lx_jbuf_puts(b, tmp);
}

void lx_jbuf_int(lx_jbuf *b, int64_t v) { lx_jbuf_printf(b, "%lld", (long long)v); }

void lx_jbuf_value(lx_jbuf *b, const lx_json *v) {
    if (!v) {
        lx_jbuf_puts(b, "null");
        return;
    }
    switch (v->type) {
    case LX_JSON_NULL: lx_jbuf_puts(b, "null"); break;
    case LX_JSON_BOOL: lx_jbuf_puts(b, v->b ? "true" : "false"); break;
    case LX_JSON_NUMBER:
        if (v->str)
            lx_jbuf_add(b, v->str, v->len);
        else
            lx_jbuf_num(b, v->num);
        break;
    case LX_JSON_STRING: lx_jbuf_str(b, v->str, v->len); break;
    case LX_JSON_ARRAY:
    case LX_JSON_OBJECT:
        lx_jbuf_putc(b, v->type == LX_JSON_ARRAY ? '[' : '{');
        for (int i = 0; i < v->n; i++) {
            if (i) lx_jbuf_putc(b, ',');
            if (v->type == LX_JSON_OBJECT) {
                lx_jbuf_str(b, v->keys[i], v->key_lens[i]);
                lx_jbuf_putc(b, ':');
            }
            lx_jbuf_value(b, v->items[i]);
        }
        lx_jbuf_putc(b, v->type == LX_JSON_ARRAY ? ']' : '}');
        break;
    }
}

lexie_status lx_jbuf_status(const lx_jbuf *b, lexie_error *err) {
    if (b->oom) return lx_fail(err, LEXIE_E_NOMEM, "out of memory building output");
    return LEXIE_OK;
}
