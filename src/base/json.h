/*
** json.h -- a small JSON reader (DOM) and writer for lexie's own files:
** schemas, JSONL inputs and outputs, reports.
**
** Reading distrusts every byte: errors name the line and column (in code
** points, 1-based), nesting depth and input size are limited, strings must
** be valid UTF-8, \u escapes are decoded with surrogate pairs checked,
** numbers follow RFC 8259 exactly and must fit a double (1e400 is refused
** rather than silently becoming infinity), and duplicate object keys are an
** error unless the caller allows them (then the last one wins in lookups).
**
** A parsed document owns all its nodes and strings in one arena; freeing
** the document frees them all.  Nodes are read-only for callers.
**
** Writing goes through lx_jbuf, a growing byte buffer that remembers an
** allocation failure instead of reporting it at every call, so output code
** can append freely and check once at the end.
*/
#ifndef LX_JSON_H
#define LX_JSON_H

#include "base/base.h"

#include <stddef.h>
#include <stdint.h>

/* ==== Values ==== */

typedef enum lx_json_type {
    LX_JSON_NULL = 0,
    LX_JSON_BOOL,
    LX_JSON_NUMBER,
    LX_JSON_STRING,
    LX_JSON_ARRAY,
    LX_JSON_OBJECT,
} lx_json_type;

typedef struct lx_json lx_json;

/* One value.  Strings are NUL-terminated but may hold NUL bytes (from
** \u0000), so len is the truth.  For a number, str/len hold its source
** text, so it can be echoed exactly. */
struct lx_json {
    lx_json_type type;
    int line, col;     /* where the value starts, 1-based, col in code points */
    int b;             /* BOOL: 0 or 1 */
    double num;        /* NUMBER */
    const char *str;   /* STRING: decoded text; NUMBER: source text */
    size_t len;        /* of str, in bytes */
    int n;             /* ARRAY, OBJECT: number of items / members */
    lx_json **items;   /* ARRAY, OBJECT: values [n] */
    const char **keys; /* OBJECT: keys [n], NUL-terminated */
    size_t *key_lens;  /* OBJECT: key lengths [n] */
};

typedef struct lx_json_doc lx_json_doc;

typedef struct lx_json_limits {
    int max_depth;      /* arrays/objects nested deeper are refused; 0: 128 */
    size_t max_bytes;   /* longer input is refused; 0: 256 MiB */
    int allow_dup_keys; /* 0 (default): a repeated key in one object is an error */
} lx_json_limits;

/* Parses text[0..len) (one JSON value, surrounded by optional whitespace;
** a leading UTF-8 BOM is skipped).  lim may be NULL for the defaults.
** Returns NULL and fills err on failure: LEXIE_E_FORMAT "line L, column C:
** what", LEXIE_E_UTF8 for bad UTF-8 inside a string, LEXIE_E_RANGE for a
** limit, LEXIE_E_NOMEM.  text is not kept. */
lx_json_doc *lx_json_parse(const char *text, size_t len, const lx_json_limits *lim,
                           lexie_error *err);
void lx_json_doc_free(lx_json_doc *d);
/* The root value; never NULL for a parsed document. */
const lx_json *lx_json_root(const lx_json_doc *d);

/* Reads a whole file (lx_read_file, base.h) and parses it; errors are prefixed with the path. */
lx_json_doc *lx_json_parse_file(const char *path, const lx_json_limits *lim, lexie_error *err);

/* The member of object o named key, or NULL (also when o is not an
** object).  With duplicate keys allowed, the last one. */
const lx_json *lx_json_get(const lx_json *o, const char *key);
/* Item i of array o, or NULL out of range or when o is not an array. */
const lx_json *lx_json_at(const lx_json *o, int i);
/* The string of v, or NULL when v is not a string. */
const char *lx_json_string(const lx_json *v);
/* 1 and *out when v is a number holding an integer that an int64 holds
** exactly (1, -3, 2.0e3); else 0. */
int lx_json_int(const lx_json *v, int64_t *out);
/* A static name for a type: "null", "boolean", "number", ... */
const char *lx_json_type_name(lx_json_type t);

/* ==== Writing ==== */

/* A growing byte buffer, always NUL-terminated once anything was added.
** Start it zeroed ({0}).  On allocation failure it sets oom and ignores
** further appends. */
typedef struct lx_jbuf {
    char *data;
    size_t len, cap;
    int oom;
} lx_jbuf;

void lx_jbuf_free(lx_jbuf *b);
/* Empties the buffer, keeping its memory. */
void lx_jbuf_reset(lx_jbuf *b);
void lx_jbuf_add(lx_jbuf *b, const char *s, size_t n);
void lx_jbuf_puts(lx_jbuf *b, const char *s);
void lx_jbuf_putc(lx_jbuf *b, char c);
void lx_jbuf_printf(lx_jbuf *b, const char *fmt, ...) LX_PRINTF(2, 3);
/* Appends s[0..n) as a quoted JSON string: ", \, control characters and
** U+2028/U+2029 escaped; bytes that are not valid UTF-8 become U+FFFD, so
** the output is always valid JSON. */
void lx_jbuf_str(lx_jbuf *b, const char *s, size_t n);
/* lx_jbuf_str of a NUL-terminated string (NULL writes null). */
void lx_jbuf_cstr(lx_jbuf *b, const char *s);
/* A number: shortest %.*g that reads back to the same double; NaN and
** infinities (which JSON cannot hold) become null. */
void lx_jbuf_num(lx_jbuf *b, double v);
void lx_jbuf_int(lx_jbuf *b, int64_t v);
/* Serialises a value compactly (numbers keep their source text). */
void lx_jbuf_value(lx_jbuf *b, const lx_json *v);
/* LEXIE_OK, or LEXIE_E_NOMEM when an append failed. */
lexie_status lx_jbuf_status(const lx_jbuf *b, lexie_error *err);

#endif /* LX_JSON_H */
