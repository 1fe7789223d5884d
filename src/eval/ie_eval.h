/*
** ie_eval.h -- `lexie eval extract`: the extraction benchmarks, resumable
** like `lexie eval re`.  ie_sets.c knows each data set (its file, its
** task, how its input is put to lexie or to ADELIE's own prompt, how an
** answer is scored); ie_run.c runs the sample, appends each batch's
** predictions to a file named by the configuration's hash, and rebuilds
** the report from that file.
*/
#ifndef LX_IE_EVAL_H
#define LX_IE_EVAL_H

#include "eval/ie_data.h"

/* ==== Data sets (ie_sets.c) ==== */

typedef enum lx_ie_kind {
    LX_IE_NER,             /* IOB sets: strict entity F1 */
    LX_IE_EVENTS,          /* PHEE: trigger and argument F1 */
    LX_IE_OPENIE,          /* CaRB */
    LX_IE_ADELIE_SEMEVAL,  /* ADELIE's SemEval triples */
    LX_IE_ADELIE_FEWNERD,  /* ADELIE's Few-NERD */
    LX_IE_ADELIE_ONDEMAND, /* ADELIE's on-demand tables */
    LX_IE_PUBMEDQA,        /* PubMedQA decisions: accuracy, macro-F1 */
    LX_IE_PUBMEDQA_LONG,   /* PubMedQA conclusions: ROUGE-L */
} lx_ie_kind;

typedef struct lx_ie_setdef {
    const char *name;     /* --data NAME */
    const char *files[2]; /* under the data folder; CaRB has two */
    lx_ie_kind kind;
    const char *schema; /* lexie's schema for the set (JSON), or NULL */
    const char *train;  /* the train split (--shots, --split train), or NULL */
    const char *dev;    /* the dev split (--split dev: choosing prompts), or NULL */
} lx_ie_setdef;

/* Which split of a set a run reads. */
typedef enum { LX_IE_TEST = 0, LX_IE_TRAIN, LX_IE_DEV } lx_ie_split;

/* The set named name, or NULL (then lx_ie_setdef_names lists them). */
const lx_ie_setdef *lx_ie_setdef_find(const char *name);
const char *lx_ie_setdef_names(void);
/* Reads the set's gold documents from data_dir. */
lexie_status lx_ie_set_load(const lx_ie_setdef *d, const char *data_dir, lx_ie_set *s,
                            lexie_error *err);
/* The set's train or dev split (d->train, d->dev, read as the test split
** is; LX_IE_TEST is lx_ie_set_load).  Errors as lx_ie_set_load's;
** LEXIE_E_INVALID when the set has no such split. */
lexie_status lx_ie_split_load(const lx_ie_setdef *d, lx_ie_split split, const char *data_dir,
                              lx_ie_set *s, lexie_error *err);
/* "test", "train" or "dev". */
const char *lx_ie_split_name(lx_ie_split split);
/* A gold document as the answer lexie's task prompt asks for (entities or
** events JSON), for few-shot demonstrations.  Appended to b. */
void lx_ie_gold_answer(const lx_ie_setdef *d, const lx_ie_doc *g, lx_jbuf *b);

/* 1 for the ADELIE sets, which have a native mode (their own prompts). */
int lx_ie_setdef_has_native(const lx_ie_setdef *d);
/* 1 for the PubMedQA sets (a prompt of their own, lx_pubmedqa_prompt). */
int lx_ie_setdef_is_pubmedqa(const lx_ie_setdef *d);

/* What a run adds up. */
typedef struct lx_ie_tally {
    lx_prf prf;          /* NER, ADELIE SemEval and Few-NERD */
    lx_phee_counts phee; /* EVENTS */
    lx_carb_acc carb;    /* OPENIE */
    lx_odie_counts odie; /* ADELIE on-demand */
    lx_pqa_counts pqa;   /* PubMedQA */
    int64_t n_docs, n_valid, n_truncated;
    int64_t n_free;   /* free-text answers (--native): validity is not defined for them */
    int64_t spans[4]; /* by lexie_match */
    double seconds;
} lx_ie_tally;

/* Scores one prediction line (its parsed root) against its gold
** document.  A line that does not hold what the set needs is counted
** invalid, never skipped silently. */
lexie_status lx_ie_tally_add(lx_ie_tally *t, const lx_ie_setdef *d, const lx_ie_doc *gold,
                             const lx_json *pred, int native, lexie_error *err);
void lx_ie_tally_free(lx_ie_tally *t);
/* The report's figures as JSON members (no braces) and as text lines. */
lexie_status lx_ie_tally_report(lx_ie_tally *t, const lx_ie_setdef *d, lx_jbuf *json, lx_jbuf *txt,
                                lexie_error *err);

/* The ADELIE prompt's pieces for lexie's own prompts: the text (markers
** kept for SemEval), the types offered (Few-NERD), the instruction
** (on-demand).  Each malloc'd; NULL where the set has none. */
typedef struct lx_adelie_input {
    char *text, *instruction;
    char **types;
    int n_types;
    int spans[4]; /* SemEval: the two <entity> spans in the plain text */
} lx_adelie_input;

lexie_status lx_adelie_input_parse(const lx_ie_setdef *d, const lx_ie_doc *doc, lx_adelie_input *in,
                                   lexie_error *err);
void lx_adelie_input_clear(lx_adelie_input *in);

/* ==== The runner (ie_run.c) ==== */

typedef struct lx_ie_eval_params {
    const char *data;          /* a set name */
    const char *data_dir;      /* NULL: $LEXIE_DATA, else ../shared/data */
    lx_ie_split split;         /* test (0), or the set's train or dev split */
    const char *sft_out;       /* a path: write the selection as chat JSONL for
                               ** lexie train sft (each prompt, then its gold
                               ** answer), atomically, and predict nothing */
    const char *model;         /* GGUF path */
    const char *chat_template; /* NULL: the model's; else replaces it (and joins the hash) */
    const char *out_dir;       /* NULL: results */
    int sample;                /* seeded sample of this many (0: all) */
    uint64_t seed;
    int limit;       /* stop after this many new predictions (0: none) */
    int native;      /* ADELIE sets: their own chat prompts, parsed as their scripts do */
    int report_only; /* rebuild the report from the file; predict nothing, lock nothing */
    int shots;       /* few-shot demonstrations drawn (with seed) from the train split */
    int max_tokens;
    int batch;
    int threads;
    int n_ctx; /* 0: min(the model's training context, 4096 + 1536 x batch) */
    const char *lora;
    float lora_scale;
    /* progress: done of total new predictions; may be NULL */
    void (*on_progress)(int done, int total, double docs_per_s, void *user);
    void *user;
} lx_ie_eval_params;

typedef struct lx_ie_eval_result {
    char *predictions, *report_json, *report_txt; /* paths, malloc'd */
    char *table;                                  /* the text report, malloc'd */
    int n_docs, n_resumed, n_computed, n_errors;
    char first_error[320]; /* "id: message" of the first failed document */
} lx_ie_eval_result;

lexie_status lx_ie_eval_run(const lx_ie_eval_params *p, lx_ie_eval_result *out, lexie_error *err);
void lx_ie_eval_result_clear(lx_ie_eval_result *r);

#endif
