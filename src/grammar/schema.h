/*
** schema.h -- the JSON Schema compiler's shared state (schema.c drives:
** views, $ref, combinators, keyword checks; schema_gen.c and one file
** per type, schema_str/num/obj/arr.c, write the grammars of each type).
**
** A *view* is a conjunction of schema objects: allOf members and $ref
** targets are flattened into it, so "the schema here" is every object in
** the view at once, and each keyword is read across all of them (tightest
** bound, union of required, intersection of types and enums).  anyOf and
** oneOf are distributed over the rest of the view, one alternative per
** branch.  Every compiled view becomes one rule, memoised by its members,
** which is what makes recursive $ref terminate.
*/
#ifndef LX_SCHEMA_H
#define LX_SCHEMA_H

#include "base/json.h"
#include "grammar/grammar.h"

#define SC_MAXV 24 /* objects in one view */

enum { SC_SKIP_ANYOF = 1, SC_SKIP_ONEOF = 2, SC_SKIP_ENUM = 4 };

typedef struct sc_view {
    const lx_json *s[SC_MAXV];
    const char *ptr[SC_MAXV]; /* JSON pointer of each, for messages */
    uint8_t skip[SC_MAXV];    /* SC_SKIP_* already distributed */
    int n;
    int never; /* a false schema is part of it */
} sc_view;

typedef struct sc_memo {
    const lx_json *s[SC_MAXV];
    uint8_t skip[SC_MAXV];
    int n, rule;
} sc_memo;

typedef struct sc {
    lx_gram *g;
    const lx_json *root;
    lexie_error *err;
    int failed;
    int ws_max, spaced;                   /* whitespace mode */
    int r_ws, r_any, r_str, r_num, r_int; /* shared rules, -1 until made */
    int32_t e_comma_sep, e_colon_sep;     /* calls of the separator rules */
    int r_comma, r_colon;
    sc_memo *memo;
    int n_memo;
    size_t cap_memo;
    char **arena;
    int n_arena;
    size_t cap_arena;
    lx_checker *chk;
    int depth;
} sc;

/* schema.c */
int lx_sc_compile(sc *c, const sc_view *v);
void lx_sc_view_add(sc *c, sc_view *v, const lx_json *s, const char *ptr);
const char *lx_sc_ptr(sc *c, const char *base, const char *seg);
void lx_sc_error(sc *c, lexie_status code, const char *ptr, const char *fmt, ...) LX_PRINTF(4, 5);
/* Values of keyword k in each member (NULL where absent), count returned. */
const lx_json *lx_sc_get(const sc_view *v, int i, const char *k);

/* schema_gen.c */
/* The shared rules: bounded whitespace, any JSON value. */
int lx_sc_ws(sc *c);
int lx_sc_any(sc *c);
/* Appends the literal JSON text of value j (Python json.dumps style for
** this grammar's separators) to b. */
void lx_sc_dump(sc *c, lx_jbuf *b, const lx_json *j);
/* Appends s[0..n) as a JSON string literal, quotes included. */
void lx_sc_dump_str(lx_jbuf *b, const char *s, size_t n);
/* Adds to rule r the alternatives of each allowed type (bit mask T_*). */
void lx_sc_gen_types(sc *c, int r, const sc_view *v, unsigned types);
/* Rule r gains the one-element alternative e. */
void lx_sc_alt1(lx_gram *g, int r, int32_t e);
/* Pushes optional whitespace (nothing in compact modes). */
void lx_sc_push_ws(sc *c, lx_seq *s);
/* Pushes the separator ch (',' or ':') with the mode's whitespace. */
void lx_sc_push_sep(sc *c, lx_seq *s, char ch);
/* star ::= <each alternative of x> star | "" (no frame per character). */
int lx_sc_star(lx_gram *g, int x);
/* The largest (want_min = 0) or smallest non-negative integer keyword k
** across the view; def when absent.  Errors on a malformed value. */
long long lx_sc_count_kw(sc *c, const sc_view *v, const char *k, int want_min, long long def);
static inline int32_t lx_sc_digit(lx_gram *g) { return lx_gram_range(g, '0', '9'); }

/* schema_str.c, schema_num.c, schema_obj.c, schema_arr.c: each adds to
** rule r the alternatives of its type under view v. */
int lx_sc_string(sc *c); /* any JSON string, shared */
int lx_sc_number(sc *c); /* any JSON number (c->r_num), integers (c->r_int), shared */
void lx_sc_gen_string(sc *c, int r, const sc_view *v);
/* frac: non-integers allowed too ("number"), else integers only. */
void lx_sc_gen_number(sc *c, int r, const sc_view *v, int frac);
void lx_sc_gen_object(sc *c, int r, const sc_view *v);
void lx_sc_gen_array(sc *c, int r, const sc_view *v);

enum { T_NULL = 1, T_BOOL = 2, T_OBJ = 4, T_ARR = 8, T_STR = 16, T_INT = 32, T_FRAC = 64 };
#define T_ALL 127u

#endif /* LX_SCHEMA_H */
