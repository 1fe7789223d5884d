/*
** chat_lex.c -- the lexical layer of chat templates: splitting a template
** into text and tags (with Jinja's and Hugging Face's whitespace rules),
** scanning the tokens inside a tag, and decoding string literals.
**
** Jinja first reads "\r\n" and "\r" as "\n" and drops one final newline;
** Hugging Face renders with trim_blocks and lstrip_blocks on: a newline
** right after a block tag is dropped, and spaces and tabs before a block
** tag that starts its line are dropped.  '-' inside a delimiter strips all
** whitespace on that side, '+' disables the block rules for that side.
*/
#include "chat/chat_impl.h"

#include <stdlib.h>
#include <string.h>

/* ==== Template segments ==== */

typedef struct segs {
    jx *c;
    jseg *segs;
    size_t n_segs, cap;
} segs;

static void push_seg(segs *P, jseg sg) {
    P->segs = lx_chat_grow(P->c, P->segs, P->n_segs, &P->cap, P->n_segs + 1, sizeof *P->segs);
    P->segs[P->n_segs++] = sg;
}

static int is_ws(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* End of a tag starting at content offset i: the offset of close[0], skipping
** string literals (a '}}' inside quotes does not close an expression). */
static size_t find_close(const char *s, size_t n, size_t i, const char *close) {
    char q = 0;
    for (; i + 1 < n; i++) {
        char ch = s[i];
        if (q) {
            if (ch == '\\')
                i++;
            else if (ch == q)
                q = 0;
        } else if (ch == '\'' || ch == '"') {
            q = ch;
        } else if (ch == close[0] && s[i + 1] == close[1]) {
            return i;
        }
    }
    return (size_t)-1;
}

static void segment(segs *P, const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t t = i;
        while (t + 1 < n &&
               !(s[t] == '{' && (s[t + 1] == '{' || s[t + 1] == '%' || s[t + 1] == '#')))
            t++;
        if (t + 1 >= n) t = n;
        if (t > i) push_seg(P, (jseg){JSEG_TEXT, i, s + i, t - i, 0, 0, 0, 0, 0});
        if (t >= n) break;
        char o = s[t + 1];
        const char *close = o == '{' ? "}}" : o == '%' ? "%}" : "#}";
        jseg sg = {o == '{' ? JSEG_EXPR : JSEG_STMT, t, NULL, 0, 0, 0, 0, 0, o != '{'};
        size_t c0 = t + 2;
        if (c0 < n && s[c0] == '-')
            sg.trim_l = 1, c0++;
        else if (c0 < n && s[c0] == '+')
            sg.plus_l = 1, c0++;
        size_t e = (size_t)-1;
        if (o != '#') {
            e = find_close(s, n, c0, close);
        } else { /* a comment may hold a lone quote: plain search */
            for (size_t k = c0; k + 1 < n && e == (size_t)-1; k++)
                if (s[k] == '#' && s[k + 1] == '}') e = k;
        }
        static const char *const what[] = {"expression", "statement", "comment"};
        if (e == (size_t)-1)
            lx_chat_fail(P->c, t, LEXIE_E_FORMAT, "unterminated %s (no '%s')",
                         what[o == '{'   ? 0
                              : o == '%' ? 1
                                         : 2],
                         close);
        size_t c1 = e;
        if (c1 > c0 && s[c1 - 1] == '-')
            sg.trim_r = 1, c1--;
        else if (c1 > c0 && s[c1 - 1] == '+')
            sg.plus_r = 1, c1--;
        sg.p = s + c0;
        sg.n = c1 - c0;
        if (o == '#') sg.kind = JSEG_COMMENT; /* kept only for whitespace rules */
        push_seg(P, sg);
        i = e + 2;
    }
    /* Whitespace control and HF's trim_blocks / lstrip_blocks.  The right
    ** end goes first: whether a tag starts its line depends on the text as
    ** written, before trim_blocks takes the newline in front of it. */
    for (size_t k = 0; k < P->n_segs; k++) {
        jseg *g = &P->segs[k];
        if (g->kind != JSEG_TEXT) continue;
        jseg *prev = k > 0 ? &P->segs[k - 1] : NULL,
             *next = k + 1 < P->n_segs ? &P->segs[k + 1] : NULL;
        if (next && next->trim_l) {
            while (g->n && is_ws(g->p[g->n - 1])) g->n--;
        } else if (next && next->block && !next->plus_l) {
            size_t m = g->n;
            while (m && (g->p[m - 1] == ' ' || g->p[m - 1] == '\t')) m--;
            if ((m && g->p[m - 1] == '\n') || (m == 0 && g->pos == 0)) g->n = m;
        }
        if (prev && prev->trim_r) {
            while (g->n && is_ws(g->p[0])) g->p++, g->n--;
        } else if (prev && prev->block && !prev->plus_r && g->n && g->p[0] == '\n') {
            g->p++, g->n--;
        }
    }
}

jseg *lx_chat_segment(jx *c, const char *src, size_t n, size_t *n_segs) {
    segs P = {c, NULL, 0, 0};
    /* As Jinja: "\r\n" and "\r" read as "\n", and one final newline is
    ** dropped.  Offsets of errors then count in the normalised text, whose
    ** line numbers are the same. */
    char *t = lx_chat_alloc(c, n + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') {
            t[m++] = '\n';
            if (i + 1 < n && src[i + 1] == '\n') i++;
        } else {
            t[m++] = src[i];
        }
    }
    if (m && t[m - 1] == '\n') m--;
    t[m] = 0;
    c->src = t;
    c->src_len = m;
    segment(&P, t, m);
    *n_segs = P.n_segs;
    return P.segs;
}

/* ==== Tokens inside a tag ==== */

static int is_name_start(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

jtok lx_chat_lex(jx *c, const char *s, size_t n, size_t at, size_t base, size_t *end) {
    size_t i = at;
    while (i < n && is_ws(s[i])) i++;
    jtok k = {JT_END, base + i, s + i, 0};
    if (i >= n) {
        *end = i;
        return k;
    }
    char ch = s[i];
    size_t j = i + 1;
    if (is_name_start(ch)) {
        while (j < n && (is_name_start(s[j]) || is_digit(s[j]))) j++;
        k.t = JT_NAME;
    } else if (is_digit(ch)) {
        while (j < n && is_digit(s[j])) j++;
        k.t = JT_INT;
        if (j + 1 < n && s[j] == '.' && is_digit(s[j + 1])) {
            j++;
            while (j < n && is_digit(s[j])) j++;
            k.t = JT_FLOAT;
        }
    } else if (ch == '\'' || ch == '"') {
        while (j < n && s[j] != ch) j += s[j] == '\\' ? 2 : 1;
        if (j >= n) lx_chat_fail(c, k.pos, LEXIE_E_FORMAT, "unterminated string literal");
        j++;
        k.t = JT_STR;
    } else {
        static const char *const two[] = {"==", "!=", "<=", ">=", "//", "**"};
        k.t = JT_OP;
        for (size_t q = 0; q < LX_ARRAY_LEN(two); q++)
            if (i + 1 < n && s[i] == two[q][0] && s[i + 1] == two[q][1]) j = i + 2;
        if (!ch || !strchr("()[]{}.,:|~+-*/%<>=!", ch))
            lx_chat_fail(c, k.pos, LEXIE_E_FORMAT, "unexpected character '%c'", ch);
    }
    k.n = j - i;
    *end = j;
    return k;
}

/* ==== String literals ==== */

/* Python string-literal escapes; \x and \u become UTF-8 (surrogates and
** NUL become U+FFFD, so rendered text stays valid, NUL-free UTF-8). */
jv lx_chat_unquote(jx *c, jtok k) {
    char *out = lx_chat_alloc(c, 4 * k.n), *w = out;
    for (size_t i = 1; i + 1 < k.n; i++) {
        char ch = k.p[i];
        if (ch != '\\') {
            *w++ = ch;
            continue;
        }
        ch = k.p[++i];
        const char *simple = strchr("nrt\\'\"", ch);
        int digits = ch == 'x' ? 2 : ch == 'u' ? 4 : 0;
        if (ch && simple) {
            *w++ = "\n\r\t\\'\""[simple - "nrt\\'\""];
        } else if (digits && i + (size_t)digits + 1 < k.n) {
            uint32_t cp = 0;
            int ok = 1;
            for (int d = 1; d <= digits; d++) {
                char h = k.p[i + (size_t)d];
                int v = h >= '0' && h <= '9'                 ? h - '0'
                        : (h | 32) >= 'a' && (h | 32) <= 'f' ? (h | 32) - 'a' + 10
                                                             : -1;
                ok &= v >= 0;
                cp = cp * 16 + (uint32_t)(v & 15);
            }
            if (!ok) {
                *w++ = '\\', *w++ = ch;
                continue;
            }
            i += (size_t)digits;
            if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
            if (cp < 0x80) {
                *w++ = (char)cp;
            } else if (cp < 0x800) {
                *w++ = (char)(0xC0 | (cp >> 6)), *w++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *w++ = (char)(0xE0 | (cp >> 12)), *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char)(0x80 | (cp & 0x3F));
            }
        } else { /* Python keeps unknown escapes as written */
            *w++ = '\\';
            *w++ = ch;
        }
    }
    return lx_chat_val_str(out, (size_t)(w - out));
}
