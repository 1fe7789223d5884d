/*
** chat_parse.c -- parsing Jinja chat templates into a syntax tree.
**
** Covers the subset real chat templates (Hugging Face tokenizer_config.json,
** copied into GGUF as tokenizer.chat_template) use: {{ expr }}, {% if %} /
** {% elif %} / {% else %}, {% for %} with loop.*, {% set %} (also of a
** namespace attribute, and the block form), {% break %} / {% continue %},
** {# comments #}, whitespace control with '-' and '+', and expressions with
** literals, lists, dicts, attributes, subscripts and slices, calls, filters,
** tests, arithmetic, comparisons, `in`, `~`, and/or/not and `x if c else y`.
** Anything else (macros, call blocks, raw, includes) is refused with
** LEXIE_E_UNSUPPORTED naming the construct and its line and column.
** Splitting into text and tags, whitespace rules and tokens are in
** chat_lex.c; this file builds the tree by recursive descent, with Jinja's
** operator precedence.
*/
#include "chat/chat_impl.h"

#include <stdlib.h>
#include <string.h>

/* ==== Parser state ==== */

typedef struct parser {
    jx *c;
    const jseg *segs;
    size_t n_segs, i;
    int depth;
    /* expression tokens of the current tag */
    const char *s;
    size_t n, at, base; /* base: template offset of s[0] */
} parser;

/* ==== Tokens ==== */

typedef jtok tok;

static tok peek_at(parser *P, size_t *end) {
    return lx_chat_lex(P->c, P->s, P->n, P->at, P->base, end);
}

static tok peek(parser *P) {
    size_t e;
    return peek_at(P, &e);
}

static tok next(parser *P) {
    size_t e;
    tok k = peek_at(P, &e);
    P->at = e;
    return k;
}

static int is(tok k, int t, const char *text) {
    return k.t == t && k.n == strlen(text) && memcmp(k.p, text, k.n) == 0;
}
static int is_op(parser *P, const char *op) { return is(peek(P), JT_OP, op); }
static int is_kw(parser *P, const char *kw) { return is(peek(P), JT_NAME, kw); }

static tok expect(parser *P, int t, const char *text, const char *what) {
    tok k = next(P);
    if (k.t != t || (text && !is(k, t, text)))
        lx_chat_fail(P->c, k.pos, LEXIE_E_FORMAT, "expected %s, found '%.*s'", what,
                     k.t == JT_END ? 3 : (int)LX_MIN(k.n, 40), k.t == JT_END ? "end" : k.p);
    return k;
}

/* Every recursive rule goes one level deeper; past the bound the parse
** fails, so no template can run the C stack out. */
static void deeper(parser *P, size_t pos) {
    if (++P->depth > P->c->lim.max_depth)
        lx_chat_fail(P->c, pos, LEXIE_E_RANGE, "nested deeper than the bound of %d levels",
                     P->c->lim.max_depth);
}

static jnode *node(parser *P, jkind kind, size_t pos) {
    jnode *x = lx_chat_alloc(P->c, sizeof *x);
    memset(x, 0, sizeof *x);
    x->kind = kind;
    x->pos = pos;
    return x;
}

/* ==== Expressions ==== */

static jnode *expr(parser *P, int allow_cond);

/* Arguments of a call, filter or test after '(': positional and name=value. */
static void parse_args(parser *P, jnode *x) {
    jnode *args[64];
    const char *kw[64];
    int n = 0;
    while (!is_op(P, ")")) {
        if (n == 64) lx_chat_fail(P->c, peek(P).pos, LEXIE_E_UNSUPPORTED, "more than 64 arguments");
        kw[n] = NULL;
        size_t save = P->at;
        tok k = next(P);
        if (k.t == JT_NAME && is_op(P, "=")) {
            next(P);
            kw[n] = lx_chat_strndup(P->c, k.p, k.n);
        } else {
            P->at = save;
        }
        args[n++] = expr(P, 1);
        if (!is_op(P, ")")) expect(P, JT_OP, ",", "',' or ')'");
    }
    next(P);
    x->n_args = n;
    x->args = lx_chat_alloc(P->c, (size_t)(n ? n : 1) * sizeof *x->args);
    x->kw = lx_chat_alloc(P->c, (size_t)(n ? n : 1) * sizeof *x->kw);
    if (n) {
        memcpy(x->args, args, (size_t)n * sizeof *args);
        memcpy(x->kw, kw, (size_t)n * sizeof *kw);
    }
}

static void set_name(parser *P, jnode *x, tok k) {
    x->name = lx_chat_strndup(P->c, k.p, k.n);
    x->name_len = k.n;
}

static jnode *primary(parser *P) {
    tok k = next(P);
    jnode *x;
    if (k.t == JT_STR) {
        x = node(P, JN_LIT, k.pos);
        x->lit = lx_chat_unquote(P->c, k);
        /* adjacent literals concatenate, as in Python */
        while (peek(P).t == JT_STR) {
            jv more = lx_chat_unquote(P->c, next(P));
            char *p = lx_chat_alloc(P->c, x->lit.u.s.n + more.u.s.n + 1);
            memcpy(p, x->lit.u.s.p, x->lit.u.s.n);
            memcpy(p + x->lit.u.s.n, more.u.s.p, more.u.s.n);
            x->lit = lx_chat_val_str(p, x->lit.u.s.n + more.u.s.n);
        }
    } else if (k.t == JT_INT || k.t == JT_FLOAT) {
        x = node(P, JN_LIT, k.pos);
        char buf[64];
        size_t m = LX_MIN(k.n, sizeof buf - 1);
        memcpy(buf, k.p, m);
        buf[m] = 0;
        if (k.t == JT_INT)
            x->lit = lx_chat_val_int(strtoll(buf, NULL, 10));
        else
            x->lit = (jv){.t = JV_FLOAT, .u.f = strtod(buf, NULL)};
    } else if (k.t == JT_NAME) {
        x = node(P, JN_LIT, k.pos);
        if (is(k, JT_NAME, "true") || is(k, JT_NAME, "True"))
            x->lit = lx_chat_val_bool(1);
        else if (is(k, JT_NAME, "false") || is(k, JT_NAME, "False"))
            x->lit = lx_chat_val_bool(0);
        else if (is(k, JT_NAME, "none") || is(k, JT_NAME, "None"))
            x->lit.t = JV_NONE;
        else {
            x->kind = JN_VAR;
            set_name(P, x, k);
        }
    } else if (is(k, JT_OP, "(")) {
        x = expr(P, 1);
        if (is_op(P, ","))
            lx_chat_fail(P->c, peek(P).pos, LEXIE_E_UNSUPPORTED, "tuples are not supported");
        expect(P, JT_OP, ")", "')'");
    } else if (is(k, JT_OP, "[") || is(k, JT_OP, "{")) {
        int dict = k.p[0] == '{';
        const char *close = dict ? "}" : "]";
        x = node(P, dict ? JN_DICT : JN_LIST, k.pos);
        jnode *items[512];
        int n = 0;
        while (!is_op(P, close)) {
            if (n + 2 > 512) lx_chat_fail(P->c, k.pos, LEXIE_E_UNSUPPORTED, "literal too long");
            items[n++] = expr(P, 1);
            if (dict) {
                expect(P, JT_OP, ":", "':'");
                items[n++] = expr(P, 1);
            }
            if (!is_op(P, close)) expect(P, JT_OP, ",", dict ? "',' or '}'" : "',' or ']'");
        }
        next(P);
        x->n_args = n;
        x->args = lx_chat_alloc(P->c, (size_t)(n ? n : 1) * sizeof *x->args);
        if (n) memcpy(x->args, items, (size_t)n * sizeof *items);
    } else {
        lx_chat_fail(P->c, k.pos, LEXIE_E_FORMAT, "expected an expression, found '%.*s'",
                     k.t == JT_END ? 3 : (int)LX_MIN(k.n, 40), k.t == JT_END ? "end" : k.p);
    }
    return x;
}

static jnode *postfix(parser *P) {
    jnode *x = primary(P);
    for (;;) {
        tok k = peek(P);
        if (is(k, JT_OP, ".")) {
            next(P);
            jnode *y = node(P, JN_ATTR, k.pos);
            tok nm = next(P);
            if (nm.t != JT_NAME && nm.t != JT_INT)
                lx_chat_fail(P->c, nm.pos, LEXIE_E_FORMAT, "expected an attribute name after '.'");
            set_name(P, y, nm);
            y->a = x;
            x = y;
        } else if (is(k, JT_OP, "[")) {
            next(P);
            jnode *parts[3] = {NULL, NULL, NULL};
            int colons = 0;
            while (!is_op(P, "]")) {
                if (is_op(P, ":")) {
                    next(P);
                    if (++colons > 2) lx_chat_fail(P->c, k.pos, LEXIE_E_FORMAT, "bad slice");
                    continue;
                }
                if (parts[colons]) lx_chat_fail(P->c, k.pos, LEXIE_E_FORMAT, "expected ']'");
                parts[colons] = expr(P, 1);
            }
            next(P);
            jnode *y = node(P, colons ? JN_SLICE : JN_INDEX, k.pos);
            y->a = x;
            if (colons) {
                y->args = lx_chat_alloc(P->c, 3 * sizeof *y->args);
                memcpy(y->args, parts, sizeof parts);
                y->n_args = 3;
            } else {
                if (!parts[0]) lx_chat_fail(P->c, k.pos, LEXIE_E_FORMAT, "empty subscript");
                y->b = parts[0];
            }
            x = y;
        } else if (is(k, JT_OP, "(")) {
            next(P);
            jnode *y = node(P, JN_CALL, k.pos);
            y->a = x;
            parse_args(P, y);
            x = y;
        } else {
            return x;
        }
    }
}

/* Filters and tests bind tighter than any operator: a + b | trim is
** a + (b | trim). */
static jnode *filtered(parser *P) {
    jnode *x = postfix(P);
    for (;;) {
        tok k = peek(P);
        if (is(k, JT_OP, "|") || is(k, JT_NAME, "is")) {
            next(P);
            jnode *y = node(P, k.p[0] == '|' ? JN_FILTER : JN_TEST, k.pos);
            if (y->kind == JN_TEST && is_kw(P, "not")) {
                next(P);
                y->op = 1;
            }
            tok nm =
                expect(P, JT_NAME, NULL, y->kind == JN_FILTER ? "a filter name" : "a test name");
            set_name(P, y, nm);
            y->pos = nm.pos;
            y->a = x;
            if (is_op(P, "(")) {
                next(P);
                parse_args(P, y);
            } else if (y->kind == JN_TEST && (peek(P).t == JT_STR || peek(P).t == JT_INT)) {
                /* `x is divisibleby 3`, `x is equalto 'a'` */
                y->args = lx_chat_alloc(P->c, sizeof *y->args);
                y->kw = lx_chat_alloc(P->c, sizeof *y->kw);
                y->args[0] = primary(P);
                y->kw[0] = NULL;
                y->n_args = 1;
            }
            x = y;
        } else {
            return x;
        }
    }
}

static jnode *binary(parser *P, jnode *a, int op, size_t pos, jnode *b) {
    jnode *x = node(P, JN_BIN, pos);
    x->op = op;
    x->a = a;
    x->b = b;
    return x;
}

static jnode *unary(parser *P) {
    tok k = peek(P);
    if (is(k, JT_OP, "-") || is(k, JT_OP, "+")) {
        next(P);
        jnode *x = node(P, JN_UNARY, k.pos);
        x->op = k.p[0];
        deeper(P, k.pos);
        x->a = unary(P);
        P->depth--;
        return x;
    }
    return filtered(P);
}

static jnode *power(parser *P) {
    jnode *x = unary(P);
    while (is_op(P, "**")) {
        tok k = next(P);
        x = binary(P, x, JO_POW, k.pos, unary(P));
    }
    return x;
}

static jnode *math2(parser *P) {
    jnode *x = power(P);
    for (;;) {
        tok k = peek(P);
        int op = is(k, JT_OP, "*")    ? JO_MUL
                 : is(k, JT_OP, "/")  ? JO_DIV
                 : is(k, JT_OP, "//") ? JO_FLOORDIV
                 : is(k, JT_OP, "%")  ? JO_MOD
                                      : 0;
        if (!op) return x;
        next(P);
        x = binary(P, x, op, k.pos, power(P));
    }
}

static jnode *concat(parser *P) {
    jnode *x = math2(P);
    while (is_op(P, "~")) {
        tok k = next(P);
        x = binary(P, x, JO_CONCAT, k.pos, math2(P));
    }
    return x;
}

static jnode *math1(parser *P) {
    jnode *x = concat(P);
    for (;;) {
        tok k = peek(P);
        int op = is(k, JT_OP, "+") ? JO_ADD : is(k, JT_OP, "-") ? JO_SUB : 0;
        if (!op) return x;
        next(P);
        x = binary(P, x, op, k.pos, concat(P));
    }
}

static jnode *compare(parser *P) {
    jnode *x = math1(P);
    for (;;) {
        tok k = peek(P);
        int op = is(k, JT_OP, "==")     ? JO_EQ
                 : is(k, JT_OP, "!=")   ? JO_NE
                 : is(k, JT_OP, "<")    ? JO_LT
                 : is(k, JT_OP, "<=")   ? JO_LE
                 : is(k, JT_OP, ">")    ? JO_GT
                 : is(k, JT_OP, ">=")   ? JO_GE
                 : is(k, JT_NAME, "in") ? JO_IN
                                        : 0;
        if (!op && is(k, JT_NAME, "not")) {
            size_t save = P->at;
            next(P);
            if (is_kw(P, "in"))
                op = JO_NOTIN;
            else
                P->at = save;
        }
        if (!op) return x;
        next(P);
        x = binary(P, x, op, k.pos, math1(P));
    }
}

static jnode *not_expr(parser *P) {
    if (is_kw(P, "not")) {
        tok k = next(P);
        jnode *x = node(P, JN_UNARY, k.pos);
        x->op = 'n';
        deeper(P, k.pos);
        x->a = not_expr(P);
        P->depth--;
        return x;
    }
    return compare(P);
}

static jnode *and_expr(parser *P) {
    jnode *x = not_expr(P);
    while (is_kw(P, "and")) {
        tok k = next(P);
        x = binary(P, x, JO_AND, k.pos, not_expr(P));
    }
    return x;
}

static jnode *or_expr(parser *P) {
    jnode *x = and_expr(P);
    while (is_kw(P, "or")) {
        tok k = next(P);
        x = binary(P, x, JO_OR, k.pos, and_expr(P));
    }
    return x;
}

static jnode *expr(parser *P, int allow_cond) {
    deeper(P, P->base + P->at);
    jnode *x = or_expr(P);
    if (allow_cond && is_kw(P, "if")) {
        tok k = next(P);
        jnode *y = node(P, JN_COND, k.pos);
        y->b = x;
        y->a = or_expr(P);
        if (is_kw(P, "else")) {
            next(P);
            y->c = expr(P, 1);
        }
        x = y;
    }
    P->depth--;
    return x;
}

/* ==== Statements ==== */

static void begin_tag(parser *P, const jseg *g) {
    P->s = g->p;
    P->n = g->n;
    P->at = 0;
    P->base = (size_t)(g->p - P->c->src);
}

static void end_tag(parser *P) {
    tok k = peek(P);
    if (k.t != JT_END)
        lx_chat_fail(P->c, k.pos, LEXIE_E_FORMAT, "unexpected '%.*s' at the end of a tag",
                     (int)LX_MIN(k.n, 40), k.p);
}

/* The keyword of statement segment i, or "" if it is not a statement. */
static int stmt_is(parser *P, size_t i, const char *kw) {
    if (i >= P->n_segs || P->segs[i].kind != JSEG_STMT) return 0;
    begin_tag(P, &P->segs[i]);
    return is(peek(P), JT_NAME, kw);
}

static jnode *body(parser *P, const char *const *ends);

static const char *const ends_if[] = {"elif", "else", "endif", NULL};
static const char *const ends_for[] = {"else", "endfor", NULL};
static const char *const ends_endfor[] = {"endfor", NULL};
static const char *const ends_endif[] = {"endif", NULL};
static const char *const ends_set[] = {"endset", NULL};
static const char *const ends_gen[] = {"endgeneration", NULL};

/* Consumes the closing tag of a block; fails naming the opener if absent. */
static void close_block(parser *P, const char *kw, const jseg *open) {
    if (!stmt_is(P, P->i, kw))
        lx_chat_fail(P->c, open->pos, LEXIE_E_FORMAT, "block is never closed (no {%% %s %%})", kw);
    next(P);
    end_tag(P);
    P->i++;
}

static jnode *parse_if(parser *P, const jseg *open) {
    /* P is positioned after 'if' / 'elif' in the current tag */
    jnode *x = node(P, JN_IF, open->pos);
    x->a = expr(P, 1);
    end_tag(P);
    P->i++;
    x->b = body(P, ends_if);
    if (stmt_is(P, P->i, "elif")) {
        const jseg *g = &P->segs[P->i];
        next(P);
        deeper(P, g->pos); /* each elif nests one level: its if holds it as the else */
        x->c = parse_if(P, g);
        P->depth--;
        x->c->op = 1; /* an elif: a lone node, never linked by next */
        return x;     /* the innermost elif consumed the endif */
    }
    if (stmt_is(P, P->i, "else")) {
        next(P);
        end_tag(P);
        P->i++;
        x->c = body(P, ends_endif);
    }
    close_block(P, "endif", open);
    return x;
}

static jnode *parse_for(parser *P, const jseg *open) {
    jnode *x = node(P, JN_FOR, open->pos);
    jnode *targets[2];
    int n = 0;
    do {
        if (n == 2)
            lx_chat_fail(P->c, peek(P).pos, LEXIE_E_UNSUPPORTED, "more than two loop variables");
        tok k = expect(P, JT_NAME, NULL, "a loop variable");
        targets[n] = node(P, JN_VAR, k.pos);
        set_name(P, targets[n++], k);
    } while (is_op(P, ",") && (next(P), 1));
    x->args = lx_chat_alloc(P->c, sizeof targets);
    memcpy(x->args, targets, sizeof targets);
    x->n_args = n;
    expect(P, JT_NAME, "in", "'in'");
    x->a = expr(P, 0);
    if (is_kw(P, "if")) {
        next(P);
        x->c = expr(P, 0);
    }
    if (is_kw(P, "recursive"))
        lx_chat_fail(P->c, peek(P).pos, LEXIE_E_UNSUPPORTED, "recursive loops are not supported");
    end_tag(P);
    P->i++;
    x->b = body(P, ends_for);
    if (stmt_is(P, P->i, "else")) {
        next(P);
        end_tag(P);
        P->i++;
        x->d = body(P, ends_endfor);
    }
    close_block(P, "endfor", open);
    return x;
}

static jnode *parse_set(parser *P, const jseg *open) {
    jnode *x = node(P, JN_SET, open->pos);
    tok k = expect(P, JT_NAME, NULL, "a variable name");
    jnode *t = node(P, JN_VAR, k.pos);
    set_name(P, t, k);
    if (is_op(P, ".")) {
        next(P);
        tok a = expect(P, JT_NAME, NULL, "an attribute name");
        jnode *y = node(P, JN_ATTR, a.pos);
        set_name(P, y, a);
        y->a = t;
        t = y;
    }
    if (is_op(P, ","))
        lx_chat_fail(P->c, peek(P).pos, LEXIE_E_UNSUPPORTED,
                     "multiple assignment is not supported");
    x->args = lx_chat_alloc(P->c, sizeof *x->args);
    x->args[0] = t;
    x->n_args = 1;
    if (is_op(P, "=")) {
        next(P);
        x->a = expr(P, 1);
        end_tag(P);
        P->i++;
        return x;
    }
    end_tag(P); /* block form: {% set x %}...{% endset %} */
    P->i++;
    x->b = body(P, ends_set);
    close_block(P, "endset", open);
    return x;
}

/* Parses statements until one whose keyword is in ends (left unconsumed)
** or the end of the template (an error when ends is not NULL). */
static jnode *body(parser *P, const char *const *ends) {
    jnode *head = NULL, **tail = &head;
    deeper(P, P->i < P->n_segs ? P->segs[P->i].pos : 0);
    while (P->i < P->n_segs) {
        const jseg *g = &P->segs[P->i];
        jnode *x = NULL;
        if (g->kind == JSEG_TEXT) {
            if (g->n) {
                x = node(P, JN_TEXT, g->pos);
                x->name = g->p;
                x->name_len = g->n;
            }
            P->i++;
        } else if (g->kind == JSEG_EXPR) {
            begin_tag(P, g);
            x = node(P, JN_OUTPUT, g->pos);
            x->a = expr(P, 1);
            end_tag(P);
            P->i++;
        } else if (g->kind == JSEG_STMT) {
            begin_tag(P, g);
            tok k = next(P);
            for (int e = 0; ends && ends[e]; e++)
                if (is(k, JT_NAME, ends[e])) {
                    P->at = 0;
                    P->depth--;
                    return head;
                }
            if (is(k, JT_NAME, "if"))
                x = parse_if(P, g);
            else if (is(k, JT_NAME, "for"))
                x = parse_for(P, g);
            else if (is(k, JT_NAME, "set"))
                x = parse_set(P, g);
            else if (is(k, JT_NAME, "break") || is(k, JT_NAME, "continue")) {
                x = node(P, k.p[0] == 'b' ? JN_BREAK : JN_CONTINUE, g->pos);
                end_tag(P);
                P->i++;
            } else if (is(k, JT_NAME, "generation")) {
                /* HF's assistant-mask marker: renders its body unchanged */
                end_tag(P);
                P->i++;
                x = node(P, JN_IF, g->pos);
                x->a = node(P, JN_LIT, g->pos);
                x->a->lit = lx_chat_val_bool(1);
                x->b = body(P, ends_gen);
                close_block(P, "endgeneration", g);
            } else if (k.t == JT_NAME) {
                static const char *const known_ends[] = {"endif", "endfor", "elif",
                                                         "else",  "endset", "endgeneration"};
                for (size_t e = 0; e < LX_ARRAY_LEN(known_ends); e++)
                    if (is(k, JT_NAME, known_ends[e]))
                        lx_chat_fail(P->c, g->pos, LEXIE_E_FORMAT, "unexpected {%% %s %%}",
                                     known_ends[e]);
                lx_chat_fail(P->c, g->pos, LEXIE_E_UNSUPPORTED, "statement '%.*s' is not supported",
                             (int)LX_MIN(k.n, 40), k.p);
            } else {
                lx_chat_fail(P->c, g->pos, LEXIE_E_FORMAT, "empty or malformed statement");
            }
        } else {
            P->i++; /* comment */
        }
        if (x) {
            *tail = x;
            tail = &x->next;
        }
    }
    P->depth--; /* with ends set, the caller's close_block reports the missing end */
    return head;
}

jnode *lx_chat_parse(jx *c, const char *src, size_t n) {
    parser P;
    memset(&P, 0, sizeof P);
    P.c = c;
    P.segs = lx_chat_segment(c, src, n, &P.n_segs);
    return body(&P, NULL);
}
