/*
** regex.c -- JSON Schema "pattern" regexes (ECMA-262 subset) to grammar
** rules over the contents of a JSON string.
**
** Supported: literals and escapes (\d \w \s \D \W \S \n \t \uXXXX \xHH,
** escaped punctuation), classes with ranges and negation, ., groups
** ((...), (?:...), (?<name>...)), alternation, quantifiers * + ? {n}
** {n,} {n,m} (lazy forms match the same strings), and ^ / $ at the ends of
** top-level alternatives.  Refused with LEXIE_E_UNSUPPORTED: lookaround,
** backreferences, \b \B, anchors elsewhere.
**
** Every character the regex matches is matched as a JSON string writes it:
** raw when JSON allows (not ", \ or a control character), else as its
** escape (\" \\ \n ... or \u00XX); "/" also as \/.  Other \uXXXX spellings
** of ordinary characters are not accepted (a stricter grammar, never a
** looser one).
*/
#include "base/json.h"
#include "grammar/grammar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPEAT 2000
#define MAX_DEPTH 100

typedef struct rx {
    lx_gram *g;
    const char *s;
    size_t n, i;
    int depth;
    lexie_error *err;
    int failed;
} rx;

typedef struct rlen {
    int min, max; /* characters; max -1 unbounded */
} rlen;

static void rfail(rx *p, lexie_status code, const char *what) {
    if (p->failed) return;
    lx_fail(p->err, code, "pattern /%.*s/: %s at offset %zu", (int)LX_MIN(p->n, 200), p->s, what,
            p->i);
    p->failed = 1;
}

static int add_len(int a, int b) { return a < 0 || b < 0 ? -1 : (a + b > 1000000 ? -1 : a + b); }

/* ==== Characters as JSON writes them ==== */

/* A rule (or single byte-set element) matching one character of c as it
** appears inside a JSON string. */
static int32_t jchar(lx_gram *g, lx_cps *c) {
    lx_cps_norm(c);
    lx_cps raw = {0};
    for (int k = 0; k < c->n; k++) lx_cps_add(&raw, c->r[k][0], c->r[k][1]);
    /* remove ", \ and controls from the raw part */
    lx_cps bad = {0};
    lx_cps_add(&bad, 0, 0x1F);
    lx_cps_add(&bad, '"', '"');
    lx_cps_add(&bad, '\\', '\\');
    lx_cps_negate(&bad);
    lx_cps both = {0};
    for (int a = 0; a < raw.n; a++)
        for (int b = 0; b < bad.n; b++) {
            uint32_t lo = LX_MAX(raw.r[a][0], bad.r[b][0]), hi = LX_MIN(raw.r[a][1], bad.r[b][1]);
            if (lo <= hi) lx_cps_add(&both, lo, hi);
        }
    lx_cps_norm(&both);
    static const char short_esc[] = "\"\\/\b\f\n\r\t";
    static const char short_let[] = "\"\\/bfnrt";
    lx_bset let = {{0, 0, 0, 0}};
    for (int k = 0; k < 8; k++)
        if (lx_cps_has(c, (unsigned char)short_esc[k]))
            lx_bset_add(&let, (unsigned char)short_let[k]);
    int need_u = 0;
    for (uint32_t cp = 0; cp < 0x20; cp++)
        if (lx_cps_has(c, cp) && !strchr("\b\f\n\r\t", (int)cp)) need_u = 1;
    int esc = (let.w[0] | let.w[1]) != 0;
    int32_t out;
    if (!esc && !need_u && both.n > 0 && both.r[both.n - 1][1] < 0x80) {
        lx_bset b = {{0, 0, 0, 0}};
        for (int k = 0; k < both.n; k++) lx_bset_range(&b, both.r[k][0], both.r[k][1]);
        out = lx_gram_set(g, &b);
    } else {
        int r = lx_gram_rule(g, "jchar");
        lx_seq s = {0};
        if (both.n) {
            lx_seq_push(&s, lx_gram_call(lx_gram_cps(g, &both)));
            lx_gram_alt(g, r, &s);
        }
        if (esc) {
            s.n = 0;
            lx_seq_push(&s, lx_gram_byte(g, '\\'));
            lx_seq_push(&s, lx_gram_set(g, &let));
            lx_gram_alt(g, r, &s);
        }
        for (uint32_t cp = 0; cp < 0x20 && need_u; cp++) {
            if (!lx_cps_has(c, cp) || strchr("\b\f\n\r\t", (int)cp)) continue;
            s.n = 0;
            lx_gram_lit(g, &s, "\\u00", 4);
            lx_seq_push(&s, lx_gram_byte(g, '0' + (cp >> 4)));
            const char *hx = "0123456789abcdef", *HX = "0123456789ABCDEF";
            lx_bset h = {{0, 0, 0, 0}};
            lx_bset_add(&h, (unsigned char)hx[cp & 15]);
            lx_bset_add(&h, (unsigned char)HX[cp & 15]);
            lx_seq_push(&s, lx_gram_set(g, &h));
            lx_gram_alt(g, r, &s);
        }
        lx_seq_free(&s);
        out = lx_gram_call(r);
    }
    lx_cps_free(&raw);
    lx_cps_free(&bad);
    lx_cps_free(&both);
    return out;
}

static void add_class(lx_cps *c, char k) {
    switch (k) {
    case 'd': lx_cps_add(c, '0', '9'); break;
    case 'w':
        lx_cps_add(c, '0', '9');
        lx_cps_add(c, 'A', 'Z');
        lx_cps_add(c, 'a', 'z');
        lx_cps_add(c, '_', '_');
        break;
    case 's':
        lx_cps_add(c, 9, 13);
        lx_cps_add(c, ' ', ' ');
        lx_cps_add(c, 0xA0, 0xA0);
        lx_cps_add(c, 0x1680, 0x1680);
        lx_cps_add(c, 0x2000, 0x200A);
        lx_cps_add(c, 0x2028, 0x2029);
        lx_cps_add(c, 0x202F, 0x202F);
        lx_cps_add(c, 0x205F, 0x205F);
        lx_cps_add(c, 0x3000, 0x3000);
        lx_cps_add(c, 0xFEFF, 0xFEFF);
        break;
    }
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads an escape after '\' into c (a class or one code point).  Returns
** the code point, -2 for a class escape (added to c), -1 on error. */
static int64_t read_escape(rx *p, lx_cps *c, int in_class) {
    if (p->i >= p->n) return rfail(p, LEXIE_E_FORMAT, "trailing backslash"), -1;
    char e = p->s[p->i++];
    if (strchr("dwsDWS", e)) {
        char lower = (char)(e | 0x20);
        if (e == lower) {
            add_class(c, e);
        } else {
            lx_cps t = {0};
            add_class(&t, lower);
            lx_cps_negate(&t);
            for (int k = 0; k < t.n; k++) lx_cps_add(c, t.r[k][0], t.r[k][1]);
            lx_cps_free(&t);
        }
        return -2;
    }
    switch (e) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'f': return '\f';
    case 'v': return '\v';
    case '0': return 0;
    case 'b':
        if (in_class) return '\b';
        return rfail(p, LEXIE_E_UNSUPPORTED, "word boundary \\b"), -1;
    case 'x':
    case 'u': {
        int nd = e == 'x' ? 2 : 4;
        uint32_t v = 0;
        if (e == 'u' && p->i < p->n && p->s[p->i] == '{')
            return rfail(p, LEXIE_E_UNSUPPORTED, "\\u{...}"), -1;
        for (int k = 0; k < nd; k++) {
            int h = p->i < p->n ? hexv(p->s[p->i]) : -1;
            if (h < 0) return rfail(p, LEXIE_E_FORMAT, "bad hex escape"), -1;
            v = v * 16 + (uint32_t)h;
            p->i++;
        }
        if (v >= 0xD800 && v <= 0xDFFF) {
            /* a surrogate pair written as two escapes */
            if (v < 0xDC00 && p->i + 6 <= p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
                uint32_t lo = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexv(p->s[p->i + 2 + (size_t)k]);
                    if (h < 0) return rfail(p, LEXIE_E_FORMAT, "bad surrogate"), -1;
                    lo = lo * 16 + (uint32_t)h;
                }
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    p->i += 6;
                    return 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                }
            }
            return rfail(p, LEXIE_E_UNSUPPORTED, "lone surrogate"), -1;
        }
        return v;
    }
    default:
        if ((e >= '1' && e <= '9') || e == 'k')
            return rfail(p, LEXIE_E_UNSUPPORTED, "backreference"), -1;
        if (e == 'B') return rfail(p, LEXIE_E_UNSUPPORTED, "\\B"), -1;
        if (e == 'p' || e == 'P') return rfail(p, LEXIE_E_UNSUPPORTED, "\\p{...}"), -1;
        if (e == 'c') return rfail(p, LEXIE_E_UNSUPPORTED, "\\c"), -1;
        if ((unsigned char)e >= 0x80) return rfail(p, LEXIE_E_UNSUPPORTED, "escaped non-ASCII"), -1;
        return (unsigned char)e; /* escaped punctuation or letter: itself */
    }
}

/* One literal code point from the pattern (UTF-8 decoded). */
static int64_t read_cp(rx *p) {
    unsigned char c = (unsigned char)p->s[p->i];
    int len = lx_utf8_len(c);
    if (p->i + (size_t)len > p->n || !lx_utf8_valid(p->s + p->i, (size_t)len, NULL))
        return rfail(p, LEXIE_E_UTF8, "invalid UTF-8"), -1;
    uint32_t cp = len == 1 ? c : (uint32_t)(c & (0x7F >> len));
    for (int k = 1; k < len; k++) cp = (cp << 6) | ((unsigned char)p->s[p->i + k] & 0x3F);
    p->i += (size_t)len;
    return cp;
}

static int parse_class(rx *p, lx_cps *c) {
    p->i++; /* [ */
    int neg = p->i < p->n && p->s[p->i] == '^';
    if (neg) p->i++;
    int first = 1;
    while (p->i < p->n && (p->s[p->i] != ']' || (first && 0))) {
        first = 0;
        int64_t lo;
        if (p->s[p->i] == '\\') {
            p->i++;
            lo = read_escape(p, c, 1);
        } else {
            lo = read_cp(p);
        }
        if (lo == -1) return -1;
        if (lo == -2) continue;
        int64_t hi = lo;
        if (p->i + 1 < p->n && p->s[p->i] == '-' && p->s[p->i + 1] != ']') {
            p->i++;
            if (p->s[p->i] == '\\') {
                p->i++;
                hi = read_escape(p, c, 1);
                if (hi == -2) { /* [a-\d]: '-' is literal */
                    lx_cps_add(c, (uint32_t)lo, (uint32_t)lo);
                    lx_cps_add(c, '-', '-');
                    continue;
                }
            } else {
                hi = read_cp(p);
            }
            if (hi < 0) return -1;
            if (hi < lo) return rfail(p, LEXIE_E_FORMAT, "class range out of order"), -1;
        }
        lx_cps_add(c, (uint32_t)lo, (uint32_t)hi);
    }
    if (p->i >= p->n) return rfail(p, LEXIE_E_FORMAT, "unterminated class"), -1;
    p->i++;
    if (neg) lx_cps_negate(c);
    lx_cps_norm(c);
    return 0;
}

static int parse_alt(rx *p, rlen *len, int top);

/* One atom into seq.  Returns 0, 1 when none starts here, -1 on error. */
static int parse_atom(rx *p, lx_seq *seq, rlen *len) {
    char c = p->s[p->i];
    lx_cps cs = {0};
    if (c == '(') {
        p->i++;
        if (p->i < p->n && p->s[p->i] == '?') {
            if (p->i + 1 < p->n && p->s[p->i + 1] == ':') {
                p->i += 2;
            } else if (p->i + 1 < p->n && p->s[p->i + 1] == '<' && p->i + 2 < p->n &&
                       p->s[p->i + 2] != '=' && p->s[p->i + 2] != '!') {
                while (p->i < p->n && p->s[p->i] != '>') p->i++;
                p->i++;
            } else {
                return rfail(p, LEXIE_E_UNSUPPORTED, "lookaround"), -1;
            }
        }
        if (++p->depth > MAX_DEPTH) return rfail(p, LEXIE_E_UNSUPPORTED, "nesting too deep"), -1;
        int r = parse_alt(p, len, 0);
        p->depth--;
        if (r < 0) return -1;
        if (p->i >= p->n || p->s[p->i] != ')') return rfail(p, LEXIE_E_FORMAT, "missing )"), -1;
        p->i++;
        lx_seq_push(seq, lx_gram_call(r));
        return 0;
    }
    if (c == '[') {
        if (parse_class(p, &cs) < 0) return lx_cps_free(&cs), -1;
    } else if (c == '.') {
        p->i++;
        lx_cps_add(&cs, '\n', '\n');
        lx_cps_add(&cs, '\r', '\r');
        lx_cps_add(&cs, 0x2028, 0x2029);
        lx_cps_negate(&cs);
    } else if (c == '\\') {
        p->i++;
        int64_t v = read_escape(p, &cs, 0);
        if (v == -1) return lx_cps_free(&cs), -1;
        if (v >= 0) lx_cps_add(&cs, (uint32_t)v, (uint32_t)v);
    } else if (c == '^' || c == '$') {
        return rfail(p, LEXIE_E_UNSUPPORTED, "anchor inside the pattern"), -1;
    } else if (c == '*' || c == '+' || c == '?') {
        return rfail(p, LEXIE_E_FORMAT, "nothing to repeat"), -1;
    } else {
        int64_t v = read_cp(p);
        if (v < 0) return -1;
        lx_cps_add(&cs, (uint32_t)v, (uint32_t)v);
    }
    if (cs.n == 0) {
        lx_cps_free(&cs);
        /* an empty class matches nothing */
        int r = lx_gram_rule(p->g, "never");
        lx_seq_push(seq, lx_gram_call(r));
        len->min = len->max = 1;
        return 0;
    }
    lx_seq_push(seq, jchar(p->g, &cs));
    lx_cps_free(&cs);
    len->min = len->max = 1;
    return 0;
}

/* 1 when rule r (of a regex: no recursion) can derive the empty string. */
static int nullable_rule(const lx_gram *g, int r, int depth) {
    if (depth > 200) return 0;
    for (int a = g->rule_first[r]; a >= 0; a = g->alt_next[a]) {
        int all = 1;
        for (int i = g->alt_start[a]; all && LX_EL_KIND(g->el[i]) != LX_EL_END; i++)
            all = LX_EL_KIND(g->el[i]) == LX_EL_RULE &&
                  nullable_rule(g, LX_EL_ARG(g->el[i]), depth + 1);
        if (all) return 1;
    }
    return 0;
}

/* A rule deriving what r derives except the empty string (-1: nothing):
** each alternative, starting at each element that may be the first to
** consume, the elements before it deriving nothing. */
static int nonempty(lx_gram *g, int r, int depth) {
    if (depth > 100) return -1;
    int out = lx_gram_rule(g, "nonempty"), any = 0;
    lx_seq s = {0};
    for (int a = g->rule_first[r]; a >= 0; a = g->alt_next[a]) {
        for (int i = g->alt_start[a]; LX_EL_KIND(g->el[i]) != LX_EL_END; i++) {
            int32_t e = g->el[i], first = e;
            if (LX_EL_KIND(e) == LX_EL_RULE) {
                int ne = nonempty(g, LX_EL_ARG(e), depth + 1);
                first = ne >= 0 ? lx_gram_call(ne) : -1;
            }
            if (first != -1) {
                s.n = 0;
                lx_seq_push(&s, first);
                /* the rest of this alternative (el may move while adding: copy first) */
                int k = i + 1;
                while (LX_EL_KIND(g->el[k]) != LX_EL_END) lx_seq_push(&s, g->el[k++]);
                lx_gram_alt(g, out, &s);
                any = 1;
            }
            if (LX_EL_KIND(e) == LX_EL_SET || !nullable_rule(g, LX_EL_ARG(e), 0)) break;
        }
    }
    lx_seq_free(&s);
    return any ? out : -1;
}

/* {n}, {n,}, {n,m} at p->i; 1 when one was read, 0 if '{' is a literal. */
static int read_braces(rx *p, long *lo, long *hi) {
    size_t k = p->i + 1;
    long a = 0, b;
    size_t st = k;
    while (k < p->n && p->s[k] >= '0' && p->s[k] <= '9' && a < 100000000)
        a = a * 10 + (p->s[k++] - '0');
    if (k == st) return 0;
    b = a;
    if (k < p->n && p->s[k] == ',') {
        k++;
        st = k;
        b = 0;
        while (k < p->n && p->s[k] >= '0' && p->s[k] <= '9' && b < 100000000)
            b = b * 10 + (p->s[k++] - '0');
        if (k == st) b = -1;
    }
    if (k >= p->n || p->s[k] != '}') return 0;
    p->i = k + 1;
    *lo = a;
    *hi = b;
    return 1;
}

/* A sequence (concatenation) into rule-alternative seq. */
static int parse_seq(rx *p, lx_seq *seq, rlen *len) {
    len->min = len->max = 0;
    while (p->i < p->n && p->s[p->i] != '|' && p->s[p->i] != ')') {
        if (p->s[p->i] == '$' && p->depth == 0) break; /* the caller checks it ends the alt */
        int from = seq->n;
        rlen al;
        if (parse_atom(p, seq, &al) < 0) return -1;
        /* quantifier */
        long lo = 1, hi = 1;
        char q = p->i < p->n ? p->s[p->i] : 0;
        if (q == '*' || q == '+' || q == '?') {
            lo = q == '+';
            hi = q == '?' ? 1 : -1;
            p->i++;
        } else if (q == '{' && read_braces(p, &lo, &hi)) {
            if (hi >= 0 && hi < lo) return rfail(p, LEXIE_E_FORMAT, "bad {n,m}"), -1;
            if (lo > MAX_REPEAT || hi > MAX_REPEAT)
                return rfail(p, LEXIE_E_UNSUPPORTED, "repetition bound over 2000"), -1;
        } else {
            lo = hi = 1;
        }
        if (lo != 1 || hi != 1) {
            if (p->i < p->n && p->s[p->i] == '?') p->i++; /* lazy: same language */
            if (p->i < p->n &&
                (p->s[p->i] == '*' || p->s[p->i] == '+' || p->s[p->i] == '?' || p->s[p->i] == '{'))
                if (p->s[p->i] != '{') return rfail(p, LEXIE_E_FORMAT, "nothing to repeat"), -1;
            int x = lx_gram_rule(p->g, "rx");
            lx_seq item = {0};
            for (int k = from; k < seq->n; k++) lx_seq_push(&item, seq->e[k]);
            lx_gram_alt(p->g, x, &item);
            lx_seq_free(&item);
            seq->n = from;
            if (hi < 0 &&
                al.min == 0) { /* (x)* with x nullable: repeat x without its empty string */
                x = nonempty(p->g, x, 0);
                if (x < 0)
                    return rfail(p, LEXIE_E_UNSUPPORTED, "unbounded repetition of an empty match"),
                           -1;
                lo = 0; /* x{n,} with x nullable is x* */
            }
            lx_seq_push(seq, lx_gram_call(lx_gram_repeat(p->g, x, (int)lo, (int)hi)));
            al.min = (int)LX_MIN((long)al.min * lo, 1000000);
            al.max = hi < 0 || al.max < 0 ? (al.max == 0 ? 0 : -1)
                                          : (int)LX_MIN((long)al.max * hi, 1000000);
        }
        len->min = add_len(len->min, al.min) < 0 ? 1000000 : add_len(len->min, al.min);
        len->max = add_len(len->max, al.max);
    }
    return 0;
}

/* Any JSON string character, repeated: for unanchored ends (owner: the
** pattern rule when this loop ends its alternative, else -2). */
static int any_star(lx_gram *g, int owner) {
    lx_cps all = {0};
    lx_cps_add(&all, 0, 0x10FFFF);
    int32_t e = jchar(g, &all);
    lx_cps_free(&all);
    int x = lx_gram_rule(g, "anychar");
    lx_seq s = {0};
    lx_seq_push(&s, e);
    lx_gram_alt(g, x, &s);
    lx_seq_free(&s);
    int r = lx_gram_repeat(g, x, 0, -1);
    /* r ::= star ; star ::= x star | "" (the rule made right after r) */
    if (r >= 0 && r + 1 < g->n_rules) {
        lx_gram_mark_any(g, r, owner);
        lx_gram_mark_any(g, r + 1, owner);
    }
    return r;
}

/* ==== Alternations of literals as a trie ====
**
** (ape1-az1|ape1-az2|apne1-az1|...) as written keeps one stack per
** alternative that matches so far; factored into a trie of their bytes it
** keeps one.  Applies when every alternative is a run of single-byte sets. */

static int single_byte(const lx_gram *g, int32_t e) {
    if (LX_EL_KIND(e) != LX_EL_SET) return -1;
    const lx_bset *b = &g->sets[LX_EL_ARG(e)];
    int found = -1;
    for (int w = 0; w < 4; w++) {
        if (!b->w[w]) continue;
        if (found >= 0 || (b->w[w] & (b->w[w] - 1))) return -1;
        found = w * 64 + __builtin_ctzll(b->w[w]);
    }
    return found;
}

/* The trie rule for the alternatives alts[lo..hi) from depth d (all share
** their first d bytes). */
static int trie_node(lx_gram *g, const int32_t *starts, int n, int d, int depth) {
    int r = lx_gram_rule(g, "lits");
    if (depth > 1000) return r;
    lx_seq s = {0};
    int ended = 0;
    uint8_t done[256] = {0};
    for (int i = 0; i < n; i++) {
        int32_t e = g->el[starts[i] + d];
        if (LX_EL_KIND(e) == LX_EL_END) {
            if (!ended) { /* empty: the literal ends here */
                s.n = 0;
                lx_gram_alt(g, r, &s);
            }
            ended = 1;
            continue;
        }
        int b = single_byte(g, e);
        if (done[b]) continue;
        done[b] = 1;
        int32_t *sub = malloc((size_t)n * sizeof *sub);
        if (!sub) {
            g->oom = 1;
            break;
        }
        int m = 0;
        for (int j = i; j < n; j++) {
            int32_t f = g->el[starts[j] + d];
            if (LX_EL_KIND(f) != LX_EL_END && single_byte(g, f) == b) sub[m++] = starts[j];
        }
        int child = trie_node(g, sub, m, d + 1, depth + 1);
        free(sub);
        s.n = 0;
        lx_seq_push(&s, lx_gram_byte(g, (unsigned)b));
        lx_seq_push(&s, lx_gram_call(child));
        lx_gram_alt(g, r, &s);
    }
    lx_seq_free(&s);
    return r;
}

static int literal_trie(lx_gram *g, int r) {
    int n = 0;
    for (int a = g->rule_first[r]; a >= 0; a = g->alt_next[a]) {
        for (int i = g->alt_start[a]; LX_EL_KIND(g->el[i]) != LX_EL_END; i++)
            if (single_byte(g, g->el[i]) < 0) return r;
        n++;
    }
    if (n < 8) return r;
    int32_t *starts = malloc((size_t)n * sizeof *starts);
    if (!starts) return r;
    int k = 0;
    for (int a = g->rule_first[r]; a >= 0; a = g->alt_next[a]) starts[k++] = g->alt_start[a];
    int t = trie_node(g, starts, n, 0, 0);
    free(starts);
    return t;
}

/* Alternatives into a new rule; top-level ones handle ^ and $. */
static int parse_alt(rx *p, rlen *len, int top) {
    int r = lx_gram_rule(p->g, top ? "pattern" : "group");
    lx_seq seq = {0};
    int first = 1, loose = 0; /* loose: some alternative starts with .* */
    for (;;) {
        seq.n = 0;
        int anch_start = 0, anch_end = 0;
        if (top && p->i < p->n && p->s[p->i] == '^') {
            anch_start = 1;
            p->i++;
        }
        rlen sl;
        if (!anch_start && top) lx_seq_push(&seq, 0); /* placeholder for .* */
        if (parse_seq(p, &seq, &sl) < 0) break;
        if (p->i < p->n && p->s[p->i] == '$') {
            if (!top) {
                rfail(p, LEXIE_E_UNSUPPORTED, "anchor inside a group");
                break;
            }
            p->i++;
            anch_end = 1;
            if (p->i < p->n && p->s[p->i] != '|') {
                rfail(p, LEXIE_E_UNSUPPORTED, "anchor inside the pattern");
                break;
            }
        }
        if (top && !anch_start) seq.e[0] = lx_gram_call(any_star(p->g, -2));
        loose |= top && !anch_start;
        if (top && !anch_end) lx_seq_push(&seq, lx_gram_call(any_star(p->g, r)));
        if (top && (!anch_start || !anch_end)) sl.max = -1;
        lx_gram_alt(p->g, r, &seq);
        if (first) {
            *len = sl;
            first = 0;
        } else {
            len->min = LX_MIN(len->min, sl.min);
            len->max = len->max < 0 || sl.max < 0 ? -1 : LX_MAX(len->max, sl.max);
        }
        if (p->i < p->n && p->s[p->i] == '|') {
            p->i++;
            continue;
        }
        break;
    }
    lx_seq_free(&seq);
    /* a call of the pattern takes any text into that alternative's .* */
    if (!p->failed && loose) lx_gram_mark_any(p->g, r, -2);
    if (!p->failed && !top) r = literal_trie(p->g, r);
    return p->failed ? -1 : r;
}

/* ==== Anchors inside a group that spans a whole alternative ====
**
** ^(a|b$)  ->  ^a|^b$ : a top-level alternative that is one group (with
** optional ^ before and $ after) is replaced by the group's alternatives,
** each with the outer anchors, so that anchors stay at the ends. */

/* End of the token at i (an escape, a class, or one byte). */
static size_t tok_end(const char *s, size_t n, size_t i) {
    if (s[i] == '\\') return i + 2 <= n ? i + 2 : n;
    if (s[i] == '[') {
        size_t k = i + 1;
        if (k < n && s[k] == '^') k++;
        if (k < n && s[k] == ']') k++;
        while (k < n && s[k] != ']') k += s[k] == '\\' ? 2 : 1;
        return k < n ? k + 1 : n;
    }
    return i + 1;
}

/* Splits s[0..n) at top-level '|': writes up to 64 (start, end) pairs. */
static int split_alts(const char *s, size_t n, size_t (*out)[2]) {
    int k = 0, depth = 0;
    size_t st = 0;
    for (size_t i = 0; i < n; i = tok_end(s, n, i)) {
        if (s[i] == '(') depth++;
        if (s[i] == ')') depth--;
        if (s[i] == '|' && depth == 0) {
            if (k == 64) return -1;
            out[k][0] = st;
            out[k++][1] = i;
            st = i + 1;
        }
    }
    if (k == 64) return -1;
    out[k][0] = st;
    out[k++][1] = n;
    return k;
}

/* The matching ')' of the '(' at i, or n. */
static size_t group_end(const char *s, size_t n, size_t i) {
    int depth = 0;
    for (size_t k = i; k < n; k = tok_end(s, n, k)) {
        if (s[k] == '(') depth++;
        if (s[k] == ')' && --depth == 0) return k;
    }
    return n;
}

/* 1 when s[0..n) holds ^ or $ outside classes and escapes. */
static int has_anchor(const char *s, size_t n) {
    for (size_t i = 0; i < n; i = tok_end(s, n, i))
        if (s[i] == '^' || s[i] == '$') return 1;
    return 0;
}

static void rewrite(const char *s, size_t n, int pre, int post, lx_jbuf *out, int depth) {
    size_t alts[64][2];
    int na = depth < 8 ? split_alts(s, n, alts) : -1;
    if (na < 0) {
        if (pre && (n == 0 || s[0] != '^')) lx_jbuf_putc(out, '^');
        lx_jbuf_add(out, s, n);
        if (post) lx_jbuf_putc(out, '$');
        return;
    }
    for (int a = 0; a < na; a++) {
        if (a) lx_jbuf_putc(out, '|');
        const char *p = s + alts[a][0];
        size_t m = alts[a][1] - alts[a][0];
        int sa = pre, ea = post;
        if (m && p[0] == '^') {
            sa = 1;
            p++;
            m--;
        }
        if (m && p[m - 1] == '$' && (m < 2 || p[m - 2] != '\\')) {
            ea = 1;
            m--;
        }
        size_t open = 0;
        if (m >= 2 && p[0] == '(' && group_end(p, m, 0) == m - 1 && has_anchor(p, m)) {
            open = 1;
            if (m >= 4 && p[1] == '?' && p[2] == ':') {
                open = 3;
            } else if (m >= 3 && p[1] == '?' && p[2] == '<' && p[3] != '=' && p[3] != '!') {
                while (open < m && p[open] != '>') open++;
                open++;
            } else if (m >= 2 && p[1] == '?') {
                open = 0; /* lookaround: leave it to the parser */
            }
        }
        if (open && open < m) {
            rewrite(p + open, m - 1 - open, sa, ea, out, depth + 1);
        } else {
            if (sa) lx_jbuf_putc(out, '^');
            lx_jbuf_add(out, p, m);
            if (ea) lx_jbuf_putc(out, '$');
        }
    }
}

int lx_regex_compile(lx_gram *g, const char *pattern, size_t n, int *min_len, int *max_len,
                     lexie_error *err) {
    rx p = {g, pattern, n, 0, 0, err, 0};
    if (!lx_utf8_valid(pattern, n, NULL)) return rfail(&p, LEXIE_E_UTF8, "invalid UTF-8"), -1;
    lx_jbuf rw = {0};
    rewrite(pattern, n, 0, 0, &rw, 0);
    if (rw.oom) {
        lx_jbuf_free(&rw);
        return lx_fail(err, LEXIE_E_NOMEM, "pattern: out of memory"), -1;
    }
    if (rw.len) {
        p.s = rw.data;
        p.n = rw.len;
    }
    rlen len = {0, 0};
    int r = parse_alt(&p, &len, 1);
    if (r >= 0 && p.i < p.n) rfail(&p, LEXIE_E_FORMAT, "unbalanced )");
    lx_jbuf_free(&rw);
    if (p.failed) return -1;
    if (min_len) *min_len = len.min;
    if (max_len) *max_len = len.max;
    return r;
}
