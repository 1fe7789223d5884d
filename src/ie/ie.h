/*
** ie.h -- what every extraction task shares: schemas (schema.c), the
** input format (input.c: JSONL examples, <e1> markers, code-point offsets)
** and calibrated decisions (calibrate.c: argmax, none threshold, batch
** calibration and a stored prior).  Task-specific prompts and classifiers
** live below: ie/re/ for relation extraction.
**
** Label indices: 0 .. n_rels-1 are the schema's relations in file order,
** n_rels is the none-of-the-above label.
*/
#ifndef LX_IE_H
#define LX_IE_H

#include "base/base.h"
#include "base/json.h"

/* ==== Schemas ==== */

typedef struct lx_re_rel {
    char *label;
    char **templates; /* [n_templates], each with {subj} and {obj} once */
    int n_templates;
    char **subj_types, **obj_types; /* allowed pairs [n_types]; "*" = any */
    int n_types;                    /* 0: any pair */
    char *description;              /* may be NULL */
} lx_re_rel;

struct lexie_re_schema {
    char *name;
    char *none_label, *none_template;
    lx_re_rel *rels;
    int n_rels;
    char **entity_types; /* declared types; n_entity_types 0: not declared */
    int n_entity_types;
    char **warnings; /* e.g. a template built from a label's name */
    int n_warnings;
    char sha256[65]; /* of the source bytes */
};
typedef struct lexie_re_schema lx_re_schema;

/* Parses a schema from JSON text; name_for_errors prefixes messages (a
** path, or NULL).  Errors (LEXIE_E_FORMAT) name the JSON path and what is
** wrong: a missing {subj}/{obj}, a duplicate label, a type not among
** entity_types, a value of the wrong JSON type, invalid JSON (line and
** column). */
lx_re_schema *lx_re_schema_parse(const char *json, size_t len, const char *name_for_errors,
                                 lexie_error *err);
lx_re_schema *lx_re_schema_load(const char *path, lexie_error *err);
void lx_re_schema_free(lx_re_schema *s);
/* Label index of a label string (relations, then the none label), or -1. */
int lx_re_schema_find(const lx_re_schema *s, const char *label);
/* The label string of index i (i == n_rels: the none label). */
const char *lx_re_schema_label(const lx_re_schema *s, int i);
/* Writes into out[] (room for n_rels) the relations whose type pairs admit
** (subj_type, obj_type); a NULL type matches anything.  Returns the count. */
int lx_re_schema_candidates(const lx_re_schema *s, const char *subj_type, const char *obj_type,
                            int *out);

/* ==== Input: examples, JSONL lines, markers ==== */

typedef struct lx_re_item {
    char *id;      /* as text, e.g. "8001" */
    int id_is_num; /* the source id was a JSON number: echo it unquoted */
    char *text;    /* plain text, markers removed */
    int h_start, h_end, t_start, t_end;
    char *h_type, *t_type; /* may be NULL */
    char *gold;            /* gold label, NULL when unlabelled */
} lx_re_item;

typedef struct lx_re_data {
    lx_re_item *items;
    int n;
    size_t cap;
} lx_re_data;

void lx_re_item_free(lx_re_item *it);
void lx_re_data_free(lx_re_data *d);
/* Appends *it (ownership moves into d; *it is zeroed). */
lexie_status lx_re_data_push(lx_re_data *d, lx_re_item *it, lexie_error *err);
/* The public example view of an item (borrows its strings). */
lexie_re_example lx_re_item_example(const lx_re_item *it);

/* Text with <e1>..</e1> and <e2>..</e2> markers -> plain text and spans.
** Each marker pair must appear exactly once, in order, not nested.
** *text is malloc'd. */
lexie_status lx_re_parse_markers(const char *marked, char **text, int *h0, int *h1, int *t0,
                                 int *t1, lexie_error *err);
/* The inverse (e1 is the head): a malloc'd marked text, or NULL. */
char *lx_re_add_markers(const lx_re_item *it, lexie_error *err);

/* lexie's JSONL input line: {"id", "text", "head": {"start", "end", "type",
** "text"}, "tail": {...}, "label"} with offsets in code points; without
** head/tail, the text must carry <e1>/<e2> markers.  "label" (gold) is
** optional.  An id that is neither string nor number is refused. */
lexie_status lx_re_item_from_json(const lx_json *o, lx_re_item *it, lexie_error *err);
/* The same as one compact JSON object (no newline). */
void lx_re_item_to_json(lx_jbuf *b, const lx_re_item *it);
/* Appends the id as JSON (number or string). */
void lx_re_id_json(lx_jbuf *b, const char *id, int id_is_num);

/* One input line of `lexie extract`: {"id", "text"}.  *id_json gets the
** id as JSON text (NULL without one), *text the text (both malloc'd).
** Errors (LEXIE_E_FORMAT, LEXIE_E_UTF8) start "line N: " when lineno > 0;
** a bad line may still have given its id. */
lexie_status lx_doc_line_parse(const char *line, size_t len, int lineno, char **id_json,
                               char **text, lexie_error *err);

/* A bad input line's output line, with its newline: {"id": <id_json or
** null>, "error": {"code": "format"|"utf8"|"invalid"|"range"|"nomem"|
** "error", "message"}}. */
void lx_error_line(lx_jbuf *b, const char *id_json, lexie_status code, const char *message);

/* Code points in s[0..n) (s valid UTF-8). */
int lx_ie_cp_count(const char *s, size_t n);
/* Byte offset of code point cp in s (cp may equal the length). */
size_t lx_ie_cp_byte(const char *s, int cp);

/* ==== Calibrated decisions ==== */

/* Applies a none threshold to probabilities: returns the label. */
int lx_re_decide(const lx_re_schema *s, const float *probs, float none_threshold);
/* Label-free batch calibration (Zhou et al. 2023, "Batch Calibration"):
** a model's prior over the answers, whatever the example, shows as the
** mean of its per-label probabilities over many examples; dividing each
** example's probabilities by that mean and taking the argmax cancels it.
** No gold label is used, but the whole batch must be scored first.
**
** lx_re_prior: prior[l] = mean of probs[i][l] over the n examples.
** lx_re_decide_calibrated: argmax over l of probs[l] / prior[l] among the
** labels with prior[l] > 0 and probs[l] > 0 (ties to the earlier label);
** n_labels - 1 (the none label, last) when no label qualifies. */
void lx_re_prior(const float *const *probs, int n, int n_labels, double *prior);
int lx_re_decide_calibrated(const float *probs, const double *prior, int n_labels);
/* A prior estimated on other data (tune on dev, apply on test, as with
** the none threshold): the "mean_probability" object of a `lexie eval re`
** JSON report at path, one value per label of s, in s's label order
** (prior[n_rels + 1]).  A label of s missing from the report, a label the
** schema lacks, or a value outside [0, 1] is an error naming it. */
lexie_status lx_re_prior_load(const char *path, const lx_re_schema *s, double *prior,
                              lexie_error *err);

/* ==== The lexie schema file: entities, relations, events (ieschema.c) ==== */

typedef struct lx_ie_named {
    char *name;
    char *description; /* may be NULL */
} lx_ie_named;

typedef struct lx_ie_event_type {
    char *name, *description; /* description may be NULL */
    lx_ie_named *roles;
    int n_roles;
} lx_ie_event_type;

struct lexie_ie_schema {
    char *name;
    lx_ie_named *entities; /* entity types, in file order */
    int n_entities;
    lx_ie_event_type *events;
    int n_events;
    lx_re_schema *rel; /* the relations section, or NULL */
    char sha256[65];   /* of the source bytes */
};
typedef struct lexie_ie_schema lx_ie_schema;

/* Parses a lexie schema file's text (docs/formats.md); name_for_errors
** prefixes messages.  LEXIE_E_FORMAT names the JSON path and the fault. */
lx_ie_schema *lx_ie_schema_parse(const char *json, size_t len, const char *name_for_errors,
                                 lexie_error *err);
lx_ie_schema *lx_ie_schema_load(const char *path, lexie_error *err);
/* A schema of entity types only (the CLI's --types A,B,C). */
lx_ie_schema *lx_ie_schema_from_types(const char *const *types, int n, lexie_error *err);
void lx_ie_schema_free(lx_ie_schema *s);
/* Index of an entity type, or -1. */
int lx_ie_schema_entity(const lx_ie_schema *s, const char *type);

/* ==== Extraction results (extraction.c) ==== */

/* Which parts of a lexie_extraction an output line carries. */
enum {
    LX_PART_ENTITIES = 1u << 0,
    LX_PART_RELATIONS = 1u << 1,
    LX_PART_EVENTS = 1u << 2,
    LX_PART_TRIPLES = 1u << 3,
};

/* One mention as a JSON object; type_key names its type member ("type",
** "role"), NULL to leave it out. */
void lx_mention_json(lx_jbuf *b, const lexie_mention *m, const char *type_key);
/* The output line of `lexie extract` for one document (no newline):
** {"id": <id_json>, "entities": [...], "relations": [...], "events":
** [...], "triples": [...]} with the parts asked for, then "chunks" when
** the document was split and "truncated" when an answer was cut.
** id_json is the id as JSON text (NULL: null). */
void lx_extraction_json(lx_jbuf *b, const char *id_json, const lexie_extraction *x, unsigned parts);

/* The inverse of lx_extraction_json, for prediction files: reads the
** parts o has into x (zeroed first; on failure cleared).  Offsets and
** numbers are taken as written; LEXIE_E_FORMAT for a part of the wrong
** shape or a relation indexing no entity. */
lexie_status lx_extraction_from_json(const lx_json *o, lexie_extraction *x, lexie_error *err);

/* Appends one zeroed element of elem bytes to the array *arr of *n and
** returns it (NULL and LEXIE_E_NOMEM in err when out of memory).  For
** result arrays, which grow one item at a time and stay small. */
void *lx_push(void **arr, int *n, size_t elem, lexie_error *err);

#endif /* LX_IE_H */
