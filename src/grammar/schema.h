/*
** schema.h -- the JSON Schema compiler's shared state (schema.c drives:
** views, $ref, combinators, keyword checks; schema_gen.c writes the
** grammars of each type).
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
    int n_memo, cap_memo;
    char **arena;
    int n_arena, cap_arena;
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
int lx_sc_ws(sc *c);
int lx_sc_any(sc *c);
/* Appends the literal JSON text of value j (Python json.dumps style for
** this grammar's separators) to b. */
void lx_sc_dump(sc *c, lx_jbuf *b, const lx_json *j);
/* Adds to rule r the alternatives of each allowed type (bit mask T_*). */
void lx_sc_gen_types(sc *c, int r, const sc_view *v, unsigned types);

enum { T_NULL = 1, T_BOOL = 2, T_OBJ = 4, T_ARR = 8, T_STR = 16, T_INT = 32, T_FRAC = 64 };
#define T_ALL 127u

#endif /* LX_SCHEMA_H */
