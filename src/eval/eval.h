/*
** eval.h -- evaluation of relation extraction: dataset readers (SemEval
** 2010 Task 8, TACRED JSON, GAD TSV, lexie's own JSONL), metrics (micro
** P/R/F1 over positive labels, the SemEval official direction-aware
** macro-F1, per-label scores, confusion matrix, invalid answers), reports
** (JSON and a readable table) and resumable prediction files.
**
** Offsets everywhere are Unicode code points, end exclusive.
*/
#ifndef LX_EVAL_H
#define LX_EVAL_H

#include "base/base.h"
#include "base/json.h"
#include "ie/ie.h"
#include "ie/re/re.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ==== Readers and writers ==== */

/* SemEval-2010 Task 8: blocks of `id<TAB>"marked sentence"`, label line,
** `Comment:` line, blank line.  A file without label lines (TEST_FILE.txt)
** gives unlabelled items.  Errors name the line. */
lexie_status lx_read_semeval(const char *path, lx_re_data *d, lexie_error *err);
/* Writes d in the same 4-line format (labels "Other" when missing). */
lexie_status lx_write_semeval(FILE *f, const lx_re_data *d, lexie_error *err);
/* `id<TAB>label` lines (TEST_FILE_KEY_DIRECTED.TXT): sets gold by id. */
lexie_status lx_read_semeval_key(const char *path, lx_re_data *d, lexie_error *err);

/* TACRED JSON: an array of {"id", "relation", "token": [...], "subj_start",
** "subj_end", "obj_start", "obj_end" (token indices, end inclusive),
** "subj_type", "obj_type"}.  Tokens are joined by single spaces, with the
** PTB escapes -LRB- -RRB- -LSB- -RSB- -LCB- -RCB- turned back to brackets. */
lexie_status lx_read_tacred(const char *path, lx_re_data *d, lexie_error *err);
lexie_status lx_tacred_from_json(const lx_json *root, lx_re_data *d, lexie_error *err);

/* GAD (BioBERT preprocessing): `sentence<TAB>label` or, with the header
** `index<TAB>sentence<TAB>label`, three columns.  The head is @GENE$ (type
** GENE), the tail @DISEASE$ (type DISEASE); label 1 becomes "association",
** 0 "no_association".  Ids are "train-N"/"test-N" style: prefix + line. */
lexie_status lx_read_gad(const char *path, const char *id_prefix, lx_re_data *d, lexie_error *err);

/* ==== Metrics ==== */

typedef struct lx_prf {
    int64_t tp, pred, gold; /* correct, predicted, gold counts */
    double p, r, f1;        /* fractions in [0, 1] */
} lx_prf;

void lx_prf_finish(lx_prf *m);

typedef struct lx_re_counts {
    int n_labels, none;
    const char *const *labels; /* borrowed */
    int64_t *conf;             /* [gold * n_labels + pred] */
    int64_t n, n_invalid;
} lx_re_counts;

lexie_status lx_re_counts_init(lx_re_counts *c, const char *const *labels, int n_labels, int none,
                               lexie_error *err);
void lx_re_counts_free(lx_re_counts *c);
void lx_re_counts_add(lx_re_counts *c, int gold, int pred, int invalid);

/* Micro P/R/F1 over the positive labels (every label but none): a hit is
** an exact label match; predicted = predictions that are not none; gold =
** gold labels that are not none.  QA4RE's metric. */
lx_prf lx_re_micro(const lx_re_counts *c);
/* Per label l: tp = conf[l][l], pred = column sum, gold = row sum. */
lx_prf lx_re_label_prf(const lx_re_counts *c, int l);
double lx_re_accuracy(const lx_re_counts *c);

/* The official SemEval-2010 Task 8 score, as its scorer (v1.2) computes
** (9+1)-way with direction: labels "Rel(e1,e2)" / "Rel(e2,e1)" fold into
** Rel.  A prediction is correct only with the right direction; one with the
** right relation and the wrong direction counts against precision
** (xDIRx), not as a prediction of another relation.  P = correct /
** (predicted as Rel in either direction), R = correct / gold Rel, and the
** macro-F1 is the mean of the per-relation F1s over the relations that
** occur in the gold labels, none excluded. */
typedef struct lx_semeval_rel {
    char name[64];
    lx_prf prf;
    int64_t wrong_dir;
} lx_semeval_rel;

typedef struct lx_semeval_score {
    int n_rels;
    lx_semeval_rel rels[64];
    double macro_p, macro_r, macro_f1;
} lx_semeval_score;

/* Returns 0 (and n_rels 0) when the labels are not SemEval-shaped. */
int lx_semeval_official(const lx_re_counts *c, lx_semeval_score *out);

/* ==== Reports ==== */

/* What a full evaluation adds to its JSON report (after the confusion
** matrix): the oracle none threshold on this split, the scores of the other
** decision rule (argmax when calibrated, batch calibration when not), and
** the mean probability of each label (what --prior reads back). */
typedef struct lx_re_report_extra {
    double best_threshold, best_f1;
    const char *alt_key; /* "uncalibrated" or "batch_calibration" */
    lx_prf alt_micro;
    int alt_has_semeval;
    double alt_semeval_f1;
    const double *mean_probability; /* [n_labels], in label order */
} lx_re_report_extra;

typedef struct lx_re_run_info {
    const char *command;
    const char *dataset, *split, *method;
    int shots, n_permute, free_gen;
    uint64_t seed;
    const char *model_name, *model_sha256;
    const char *schema_name, *schema_sha256;
    const char *config_hash, *predictions;
    float threshold;        /* 0: argmax */
    int calibrated;         /* decisions by lx_re_decide_calibrated */
    const char *prior_from; /* with calibrated: the report its prior came from; NULL: the run */
    int64_t n_examples;     /* examples in the evaluated selection */
    int64_t n_computed;     /* predicted in this run (not resumed) */
    double seconds;         /* wall time of what this run computed */
    double examples_per_s;
    const lx_re_report_extra *extra; /* NULL: none */
} lx_re_run_info;

void lx_re_report_json(lx_jbuf *b, const lx_re_run_info *info, const lx_re_counts *c);
void lx_re_report_table(lx_jbuf *b, const lx_re_run_info *info, const lx_re_counts *c);

/* ==== Prediction files ==== */

/* One stored prediction: the id, the predicted label, the invalid flag and
** the per-label probabilities in schema order (n_rels + 1), plus timing. */
typedef struct lx_re_pred {
    char *id;
    int label;
    int invalid;
    float *probs;
    double seconds;
} lx_re_pred;

typedef struct lx_re_preds {
    lx_re_pred *p;
    int n;
    size_t cap;
    int sorted;
} lx_re_preds;

/* Reads a prediction JSONL file written by lx_re_pred_line.  A missing
** file is empty.  A torn last line (a run killed mid-write) is dropped,
** and *good_bytes gets the length of the intact part, so the caller can
** truncate before appending.  Labels not in s are an error.  Lines of the
** first format, "scores": {label: p} without the zeros, are read too. */
lexie_status lx_re_preds_load(const char *path, const lx_re_schema *s, lx_re_preds *out,
                              long *good_bytes, lexie_error *err);
void lx_re_preds_free(lx_re_preds *p);
/* Index of id in p (sorting p on first use), or -1. */
int lx_re_preds_find(lx_re_preds *p, const char *id);

/* One prediction line: {"id", "gold", "label", "invalid", "probs": [p per
** label, in s's order], "seconds", "answer"} and a newline.  gold may be
** NULL.  The file's config hash pins the schema, so the order is fixed; an
** array, not {label: p}, keeps a 2,717-example file under 1 MB. */
void lx_re_pred_line(lx_jbuf *b, const char *id, int id_is_num, const char *gold,
                     const lx_re_schema *s, const lx_re_result *r, double seconds);

/* ==== Resumable runs (predfile.c) ==== */

/* k distinct indices of [0, n) outside excl (may be NULL), from a seeded
** partial Fisher-Yates shuffle: the first k entries of the malloc'd
** result (n entries).  NULL when out of memory. */
int *lx_eval_pick(int n, int k, uint64_t seed, const int *excl);
/* The first 12 hex digits of the SHA-256 of a run's configuration text. */
void lx_eval_config_hash(const char *config, size_t len, char out[13]);
/* Opens (creating) and locks a prediction file for the whole run; a
** second run of the same configuration fails at once (LEXIE_E_IO). */
lexie_status lx_predfile_lock(const char *path, int *fd, lexie_error *err);
/* Appends data with one checked write; a failed write is cut back to
** *end (where the file ended), so no torn line is left for a resume. */
lexie_status lx_predfile_append(int fd, const char *data, size_t n, off_t *end, const char *path,
                                lexie_error *err);

#endif /* LX_EVAL_H */
