/*
** chat_impl.h -- what the chat-template files share inside src/chat/:
** the arena, Jinja values and the syntax tree.
**
** chat_parse.c turns template text into a tree of jnodes; chat.c walks the
** tree with the messages bound to `messages`.  Everything of one render --
** tree, values, strings -- lives in one arena freed at the end, so values
** need no reference counts and an error can unwind with longjmp without
** leaking.  The arena's bytes are counted against the render's memory
** bound (lx_chat_limits, chat.h), and every recursive walk against its
** depth bound, so a hostile template fails instead of exhausting memory or
** stack.  Strings carry the ranges of their bytes that came from the
** caller's messages (jtaint), which the render reports so that the
** tokenizer can keep them plain text.
*/
#ifndef LX_CHAT_IMPL_H
#define LX_CHAT_IMPL_H

#include "chat/chat.h"

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

/* ==== Arena and errors (chat_value.c) ==== */

typedef struct jx_blk {
    struct jx_blk *next;
    size_t used, cap;
    max_align_t data[];
} jx_blk;

typedef struct jx {
    const char *src; /* the template, for line:col in errors */
    size_t src_len;
    jx_blk *blocks;
    jmp_buf fail;
    lexie_error *err;
    lexie_status status;
    lx_chat_limits lim; /* the bounds, defaults filled in */
    size_t bytes;       /* arena bytes held: bounded by lim.max_bytes */
    int64_t steps;      /* loop iterations so far: bounded by lim.max_steps */
    int depth;          /* current nesting: bounded by lim.max_depth */
    size_t pos;         /* template offset being evaluated, for errors; -1: none */
} jx;

void *lx_chat_alloc(jx *c, size_t n);
char *lx_chat_strndup(jx *c, const char *s, size_t n);
void lx_chat_arena_free(jx *c);
/* The arena's lx_grow: room for need elements of elem bytes in the array v
** holding n of them, capacity *cap; returns the array, moved to a new
** arena block when it grew (the old block is freed with the arena).
** Unwinds with LEXIE_E_NOMEM when the size overflows. */
void *lx_chat_grow(jx *c, void *v, size_t n, size_t *cap, size_t need, size_t elem);
/* Nesting: every recursive walk (parser, evaluator, value printers)
** enters before recursing and leaves after, so that no input can run the
** C stack out; past lim.max_depth the render fails naming the bound. */
void lx_chat_enter(jx *c);
static inline void lx_chat_leave(jx *c) { c->depth--; }
/* Counts n loop iterations (or items) against lim.max_steps. */
void lx_chat_step(jx *c, int64_t n);
/* Records "chat template line L col C: ..." for template offset pos (or
** no position when pos is (size_t)-1) and unwinds to c->fail. */
_Noreturn void lx_chat_fail(jx *c, size_t pos, lexie_status code, const char *fmt, ...)
    LX_PRINTF(4, 5);

/* ==== Values (chat_value.c) ==== */

typedef enum jtype { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT } jtype;

typedef struct jlist jlist;
typedef struct jdict jdict;

/* The bytes of a string that came from the caller's messages (user text,
** which must never become control tokens): n sorted, disjoint, non-adjacent
** ranges [r[2k], r[2k+1]).  Every operation that builds a string from
** others carries them along (or, where it cannot say which bytes came
** from where, marks its whole result). */
typedef struct jtaint {
    size_t n;
    size_t r[];
} jtaint;

typedef struct jv {
    jtype t;
    union {
        int b;
        int64_t i;
        double f;
        struct {
            const char *p;
            size_t n;
            const jtaint *t; /* NULL: no user text */
        } s;
        jlist *l;
        jdict *d;
    } u;
} jv;

struct jlist {
    jv *v;
    size_t n, cap;
};

/* Keys are strings; insertion order is kept, as in Python. */
struct jdict {
    jv *k, *v;
    size_t n, cap;
};

jv lx_chat_val_str(const char *p, size_t n); /* markup: no user text */
/* p[0..n) as user text, whole (not copied). */
jv lx_chat_val_user(jx *c, const char *p, size_t n);
/* Bytes [off, off+n) of string s, with its user ranges. */
jv lx_chat_substr(jx *c, jv s, size_t off, size_t n);

jv lx_chat_val_int(int64_t i);
jv lx_chat_val_bool(int b);
jdict *lx_chat_dict_new(jx *c);
void lx_chat_dict_set(jx *c, jdict *d, const char *k, size_t kn, jv v);
/* The same with a string value as the key, kept with its user ranges. */
void lx_chat_dict_setv(jx *c, jdict *d, jv k, jv v);
/* NULL when absent. */
jv *lx_chat_dict_get(const jdict *d, const char *k, size_t kn);
jlist *lx_chat_list_new(jx *c);
void lx_chat_list_push(jx *c, jlist *l, jv v);

/* ==== Syntax tree ==== */

typedef enum jkind {
    /* expressions */
    JN_LIT,    /* lit */
    JN_VAR,    /* name */
    JN_ATTR,   /* a.name */
    JN_INDEX,  /* a[b] */
    JN_SLICE,  /* a[args[0]:args[1]:args[2]] (NULL parts omitted) */
    JN_CALL,   /* a(args), with kw[i] naming keyword arguments */
    JN_FILTER, /* a | name(args) */
    JN_TEST,   /* a is [not] name(args); op = 1 when negated */
    JN_UNARY,  /* op a: '-', '+', 'n' (not) */
    JN_BIN,    /* a op b */
    JN_COND,   /* b if a else c */
    JN_LIST,   /* [args] */
    JN_DICT,   /* {args[0]: args[1], ...} */
    /* statements */
    JN_TEXT,   /* name[0..name_len) */
    JN_OUTPUT, /* {{ a }} */
    JN_IF,     /* if a: b (body) else c (body or another JN_IF) */
    JN_FOR,    /* for args (1 or 2 JN_VAR) in a [if c]: b else d */
    JN_SET,    /* set args[0] (JN_VAR or JN_ATTR) = a; or block: b */
    JN_BREAK,
    JN_CONTINUE,
} jkind;

/* Binary operators, stored in jnode.op. */
enum {
    JO_ADD = 1,
    JO_SUB,
    JO_MUL,
    JO_DIV,
    JO_FLOORDIV,
    JO_MOD,
    JO_POW,
    JO_CONCAT,
    JO_EQ,
    JO_NE,
    JO_LT,
    JO_LE,
    JO_GT,
    JO_GE,
    JO_IN,
    JO_NOTIN,
    JO_AND,
    JO_OR,
};

typedef struct jnode jnode;
struct jnode {
    jkind kind;
    int op;
    size_t pos; /* byte offset in the template, for errors */
    jnode *a, *b, *c, *d;
    jnode **args;
    const char **kw; /* per argument: keyword name or NULL (JN_CALL/FILTER/TEST) */
    int n_args;
    const char *name; /* NUL-terminated, in the arena */
    size_t name_len;
    jv lit;
    jnode *next; /* next statement of a body */
};

/* ==== Lexing (chat_lex.c) ==== */

enum { JSEG_TEXT, JSEG_EXPR, JSEG_STMT, JSEG_COMMENT };

typedef struct jseg {
    int kind;
    size_t pos;    /* template offset of the tag's "{", or of the text */
    const char *p; /* text, or tag content without delimiters */
    size_t n;
    int trim_l, trim_r; /* tags: '-' after the opener / before the closer */
    int plus_l, plus_r; /* tags: '+' (no lstrip / trim for this tag) */
    int block;          /* tags: {% %} or {# #} (subject to trim/lstrip) */
} jseg;

/* Splits the template into text and tags with whitespace control applied.
** Points c->src at the newline-normalised copy that offsets refer to. */
jseg *lx_chat_segment(jx *c, const char *src, size_t n, size_t *n_segs);

enum { JT_END, JT_NAME, JT_INT, JT_FLOAT, JT_STR, JT_OP };

typedef struct jtok {
    int t;
    size_t pos; /* template offset */
    const char *p;
    size_t n;
} jtok;

/* The token at s[at..n) of a tag whose content starts at template offset
** base; *end receives the offset just past it. */
jtok lx_chat_lex(jx *c, const char *s, size_t n, size_t at, size_t base, size_t *end);
/* The value of a string-literal token, escapes decoded. */
jv lx_chat_unquote(jx *c, jtok k);

/* Parses a whole template into a statement list (NULL when empty). */
jnode *lx_chat_parse(jx *c, const char *src, size_t n);

/* ==== Library (chat_lib.c): strings, operators, filters, tests ==== */

/* A string being built, with the ranges of user text in it: in the arena,
** or (heap: the render's output) in malloc'd memory bounded by
** lim.max_output and freed by the render. */
typedef struct jsb {
    jx *c;
    char *p;
    size_t n, cap;
    size_t *tr; /* user ranges, pairs */
    size_t tn, tcap;
    int heap;
} jsb;

void lx_chat_sb_init(jsb *b, jx *c);
/* Appends markup bytes. */
void lx_chat_sb_put(jsb *b, const char *s, size_t n);
/* Appends string s (its user ranges kept), or bytes [off, off+n) of it. */
void lx_chat_sb_putv(jsb *b, jv s);
void lx_chat_sb_put_sub(jsb *b, jv s, size_t off, size_t n);
/* Marks bytes [from, end) of b as user text. */
void lx_chat_sb_mark(jsb *b, size_t from);
jv lx_chat_sb_value(jsb *b);
/* Code points in p[0..n), and the byte offset of code point i (n if past
** the end). */
size_t lx_chat_cp_count(const char *p, size_t n);
size_t lx_chat_cp_offset(const char *p, size_t n, size_t i);
/* UTF-8 helpers on valid text: sequence length, decode, append. */
size_t lx_chat_u8len(const char *p);
int32_t lx_chat_u8dec(const char *p, size_t n);
void lx_chat_u8put(jsb *b, int32_t cp);

const char *lx_chat_type_name(jv v);
int lx_chat_is_num(jv v); /* int, float or bool */
int64_t lx_chat_inum(jv v);
int lx_chat_truthy(jv v);
int lx_chat_eq(jx *c, jv a, jv b);
/* The value as Jinja prints it ("" for undefined, Python repr inside lists). */
jv lx_chat_to_str(jx *c, jv v);
/* Characters (code points) of a string, and one of them (negative i counts
** from the end; out of range: undefined). */
jlist *lx_chat_str_chars(jx *c, jv s);
jv lx_chat_str_index(jx *c, jv s, int64_t i);
/* obj[part0:part1:part2] on a list or string; has[i] says which were given. */
jv lx_chat_slice(jx *c, const jnode *at, jv obj, const int has[3], const jv part[3]);
jv lx_chat_binop(jx *c, const jnode *at, int op, jv a, jv b);
int lx_chat_contains(jx *c, const jnode *at, jv hay, jv needle);
/* str() of each element, joined with the string sep. */
jv lx_chat_join(jx *c, jlist *l, jv sep);
/* json.dumps(v, ensure_ascii=False, indent=indent or None when < 0) */
void lx_chat_put_json(jx *c, const jnode *at, jsb *b, jv v, int indent, int level);
/* The named filter, test, method or global function; unknown names are
** refused with LEXIE_E_UNSUPPORTED at node at. */
jv lx_chat_filter(jx *c, const jnode *at, jv v, int n, const jv *args, const char **kw);
int lx_chat_test(jx *c, const jnode *at, jv v, int n, const jv *args);
jv lx_chat_method(jx *c, const jnode *at, jv obj, const char *name, int n, const jv *args,
                  const char **kw);
jv lx_chat_builtin(jx *c, const jnode *at, const char *name, int n, const jv *args,
                   const char **kw);

#endif /* LX_CHAT_IMPL_H */
