/*
** gbnf.c -- GBNF (llama.cpp's EBNF dialect) to the grammar IR.
**
**   root   ::= line+
**   line   ::= "(" [^;]+ "; " [a-z_]+ "; " [^)]+ ")\n"    # a comment
**
** Rules are `name ::= alternatives`; items are "literals" (escapes \n \r
** \t \\ \" \xHH \uHHHH \UHHHHHHHH), [classes] (^ negates, a-z ranges), rule
** names, ( groups ), . (any character), each optionally followed by *, +,
** ?, {m}, {m,}, {m,n}.  A rule may span lines; the next one starts where
** `name ::=` appears.  Errors name the line and column.
*/
#include "grammar/grammar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPEAT 1000 /* {m,n} bounds; more would make huge grammars */
#define MAX_DEPTH 200   /* nested groups */

typedef struct gp {
    lx_gram *g;
    const char *s;
    size_t n, i;
    char **names;
    int *ids, *defined;
    int n_names;
    size_t cap_names; /* of names, ids and defined (parallel) */
    int depth;
    lexie_error *err;
    int failed;
} gp;

static void gfail(gp *p, const char *what) {
    if (p->failed) return;
    int line = 1, col = 1;
    for (size_t k = 0; k < p->i && k < p->n; k++) {
        if (p->s[k] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    lx_fail(p->err, LEXIE_E_FORMAT, "gbnf: line %d, column %d: %s", line, col, what);
    p->failed = 1;
}

static int is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static void skip_ws(gp *p) {
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c == '#') {
            while (p->i < p->n && p->s[p->i] != '\n') p->i++;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            p->i++;
        } else {
            break;
        }
    }
}

static size_t name_len(const gp *p, size_t at) {
    size_t k = at;
    while (k < p->n && is_name_char(p->s[k])) k++;
    return k - at;
}

/* 1 when a `name ::=` starts at the current position. */
static int at_rule_start(gp *p) {
    size_t k = name_len(p, p->i);
    if (!k) return 0;
    size_t j = p->i + k;
    while (j < p->n && (p->s[j] == ' ' || p->s[j] == '\t')) j++;
    return j + 3 <= p->n && !memcmp(p->s + j, "::=", 3);
}

/* The rule id of name[0..len), made on first use. */
static int rule_of(gp *p, const char *name, size_t len, int define) {
    for (int k = 0; k < p->n_names; k++) {
        if (strlen(p->names[k]) == len && !memcmp(p->names[k], name, len)) {
            if (define) {
                if (p->defined[k]) gfail(p, "rule defined twice");
                p->defined[k] = 1;
            }
            return p->ids[k];
        }
    }
    size_t need = (size_t)p->n_names + 1, c1 = p->cap_names, c2 = c1, c3 = c1;
    if (lx_grow((void **)&p->names, &c1, need, sizeof *p->names, NULL) ||
        lx_grow((void **)&p->ids, &c2, need, sizeof *p->ids, NULL) ||
        lx_grow((void **)&p->defined, &c3, need, sizeof *p->defined, NULL)) {
        p->g->oom = 1;
        gfail(p, "out of memory");
        return -1;
    }
    p->cap_names = LX_MIN(c1, LX_MIN(c2, c3));
    char *copy = lx_strndup(name, len, NULL);
    if (!copy) {
        gfail(p, "out of memory");
        return -1;
    }
    int r = lx_gram_rule(p->g, copy);
    p->names[p->n_names] = copy;
    p->ids[p->n_names] = r;
    p->defined[p->n_names++] = define;
    return r;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One character of a literal or class (escapes decoded); -1 on error. */
static int64_t read_char(gp *p) {
    if (p->i >= p->n) return gfail(p, "unexpected end"), -1;
    unsigned char c = (unsigned char)p->s[p->i];
    if (c != '\\') {
        int len = lx_utf8_len(c);
        if (p->i + (size_t)len > p->n || !lx_utf8_valid(p->s + p->i, (size_t)len, NULL))
            return gfail(p, "invalid UTF-8"), -1;
        uint32_t cp = len == 1 ? c : (uint32_t)(c & (0x7F >> len));
        for (int k = 1; k < len; k++) cp = (cp << 6) | ((unsigned char)p->s[p->i + k] & 0x3F);
        p->i += (size_t)len;
        return cp;
    }
    p->i++;
    if (p->i >= p->n) return gfail(p, "unexpected end after \\"), -1;
    char e = p->s[p->i++];
    int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (digits) {
        uint32_t v = 0;
        for (int k = 0; k < digits; k++) {
            int h = p->i < p->n ? hexval(p->s[p->i]) : -1;
            if (h < 0) return gfail(p, "bad hex escape"), -1;
            v = v * 16 + (uint32_t)h;
            p->i++;
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return gfail(p, "bad code point"), -1;
        return v;
    }
    switch (e) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case '\\':
    case '"':
    case '[':
    case ']':
    case '-':
    case '^': return e;
    default: return gfail(p, "unknown escape"), -1;
    }
}

static int parse_alts(gp *p, int r);

/* An element matching one character of cps: a byte set when ASCII. */
static int32_t cps_elem(lx_gram *g, const lx_cps *c) {
    if (c->n > 0 && c->r[c->n - 1][1] < 0x80) {
        lx_bset b = {{0, 0, 0, 0}};
        for (int k = 0; k < c->n; k++) lx_bset_range(&b, c->r[k][0], c->r[k][1]);
        return lx_gram_set(g, &b);
    }
    return lx_gram_call(lx_gram_cps(g, c));
}

/* One primary into seq; returns the number of elements added, -1 on error. */
static int parse_primary(gp *p, lx_seq *seq) {
    char c = p->s[p->i];
    int before = seq->n;
    if (c == '"') {
        p->i++;
        while (p->i < p->n && p->s[p->i] != '"') {
            int64_t cp = read_char(p);
            if (cp < 0) return -1;
            unsigned char u[4];
            int k = lx_utf8_put((uint32_t)cp, u);
            lx_gram_lit(p->g, seq, (const char *)u, (size_t)k);
        }
        if (p->i >= p->n) return gfail(p, "unterminated literal"), -1;
        p->i++;
    } else if (c == '[' || c == '.') {
        lx_cps cs = {0};
        if (c == '.') {
            p->i++;
            lx_cps_add(&cs, 0, 0x10FFFF);
        } else {
            p->i++;
            int neg = p->i < p->n && p->s[p->i] == '^';
            if (neg) p->i++;
            while (p->i < p->n && p->s[p->i] != ']') {
                int64_t lo = read_char(p), hi = lo;
                if (lo >= 0 && p->i + 1 < p->n && p->s[p->i] == '-' && p->s[p->i + 1] != ']') {
                    p->i++;
                    hi = read_char(p);
                }
                if (lo < 0 || hi < 0) return lx_cps_free(&cs), -1;
                if (hi < lo) return lx_cps_free(&cs), gfail(p, "class range out of order"), -1;
                lx_cps_add(&cs, (uint32_t)lo, (uint32_t)hi);
            }
            if (p->i >= p->n) return lx_cps_free(&cs), gfail(p, "unterminated class"), -1;
            p->i++;
            if (neg) lx_cps_negate(&cs);
            lx_cps_norm(&cs);
        }
        if (cs.n == 0) return lx_cps_free(&cs), gfail(p, "empty class"), -1;
        lx_seq_push(seq, cps_elem(p->g, &cs));
        lx_cps_free(&cs);
    } else if (c == '(') {
        p->i++;
        if (++p->depth > MAX_DEPTH) return gfail(p, "groups nested too deeply"), -1;
        int r = lx_gram_rule(p->g, "group");
        if (parse_alts(p, r) < 0) return -1;
        p->depth--;
        if (p->i >= p->n || p->s[p->i] != ')') return gfail(p, "expected ')'"), -1;
        p->i++;
        lx_seq_push(seq, lx_gram_call(r));
    } else if (is_name_char(c)) {
        size_t k = name_len(p, p->i);
        int r = rule_of(p, p->s + p->i, k, 0);
        if (r < 0) return -1;
        p->i += k;
        lx_seq_push(seq, lx_gram_call(r));
    } else {
        return gfail(p, "expected a literal, class, rule name or group"), -1;
    }
    return seq->n - before;
}

static long read_int(gp *p) {
    long v = 0;
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9' && v <= MAX_REPEAT)
        v = v * 10 + (p->s[p->i++] - '0');
    if (p->i == start) return -1;
    return v;
}

/* Postfix operators on the item that occupies seq[from..]. */
static int parse_postfix(gp *p, lx_seq *seq, int from) {
    for (;;) {
        skip_ws(p);
        if (p->i >= p->n) return 0;
        char c = p->s[p->i];
        long lo, hi;
        if (c == '*') {
            lo = 0, hi = -1;
            p->i++;
        } else if (c == '+') {
            lo = 1, hi = -1;
            p->i++;
        } else if (c == '?') {
            lo = 0, hi = 1;
            p->i++;
        } else if (c == '{') {
            p->i++;
            skip_ws(p);
            lo = read_int(p);
            hi = lo;
            skip_ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                skip_ws(p);
                hi = p->i < p->n && p->s[p->i] == '}' ? -1 : read_int(p);
                if (hi == -1 && (p->i >= p->n || p->s[p->i] != '}')) lo = -1;
            }
            skip_ws(p);
            if (lo < 0 || lo > MAX_REPEAT || hi > MAX_REPEAT || (hi >= 0 && hi < lo) ||
                p->i >= p->n || p->s[p->i] != '}')
                return gfail(p, "bad {m,n} repetition"), -1;
            p->i++;
        } else {
            return 0;
        }
        /* the item becomes a rule x, repeated */
        int x = lx_gram_rule(p->g, "item");
        lx_seq item = {0};
        for (int k = from; k < seq->n; k++) lx_seq_push(&item, seq->e[k]);
        lx_gram_alt(p->g, x, &item);
        lx_seq_free(&item);
        seq->n = from;
        lx_seq_push(seq, lx_gram_call(lx_gram_repeat(p->g, x, (int)lo, (int)hi)));
    }
}

/* Alternatives into rule r, up to ')' or the next rule or the end. */
static int parse_alts(gp *p, int r) {
    lx_seq seq = {0};
    for (;;) {
        skip_ws(p);
        if (p->i >= p->n || p->s[p->i] == '|' || p->s[p->i] == ')' || at_rule_start(p)) {
            lx_gram_alt(p->g, r, &seq);
            seq.n = 0;
            if (p->i < p->n && p->s[p->i] == '|') {
                p->i++;
                continue;
            }
            break;
        }
        int from = seq.n;
        if (parse_primary(p, &seq) < 0 || parse_postfix(p, &seq, from) < 0) {
            lx_seq_free(&seq);
            return -1;
        }
    }
    lx_seq_free(&seq);
    return p->failed ? -1 : 0;
}

lexie_grammar *lexie_grammar_from_gbnf(const char *text, size_t len, const char *root_name,
                                       lexie_error *err) {
    if (!text) return lx_fail(err, LEXIE_E_INVALID, "gbnf: no text"), NULL;
    if (!lx_utf8_valid(text, len, NULL))
        return lx_fail(err, LEXIE_E_UTF8, "gbnf: invalid UTF-8"), NULL;
    gp p = {0};
    p.g = lx_gram_new(err);
    if (!p.g) return NULL;
    p.s = text;
    p.n = len;
    p.err = err;
    if (!root_name) root_name = "root";
    for (;;) {
        skip_ws(&p);
        if (p.i >= p.n) break;
        if (!at_rule_start(&p)) {
            gfail(&p, "expected 'name ::='");
            break;
        }
        size_t k = name_len(&p, p.i);
        int r = rule_of(&p, p.s + p.i, k, 1);
        p.i += k;
        skip_ws(&p);
        p.i += 3;
        if (r < 0 || parse_alts(&p, r) < 0) break;
        if (p.i < p.n && p.s[p.i] == ')') {
            gfail(&p, "unbalanced ')'");
            break;
        }
    }
    int root = -1;
    for (int k = 0; k < p.n_names && !p.failed; k++) {
        if (!p.defined[k]) {
            p.i = p.n;
            char msg[300];
            snprintf(msg, sizeof msg, "rule '%.200s' is used but not defined", p.names[k]);
            gfail(&p, msg);
        }
        if (!strcmp(p.names[k], root_name)) root = p.ids[k];
    }
    if (!p.failed && root < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "no rule named '%.200s'", root_name);
        gfail(&p, msg);
    }
    for (int k = 0; k < p.n_names; k++) free(p.names[k]);
    free(p.names);
    free(p.ids);
    free(p.defined);
    if (p.failed) {
        lx_gram_free(p.g);
        return NULL;
    }
    p.g->root = root;
    return lx_grammar_wrap(p.g, err);
}
