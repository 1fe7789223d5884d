/*
** ie_data.h -- the evaluation data side of extraction (issue 13): gold
** documents read from the shared data sets, and the scorers that `lexie
** eval extract` calls on the extractor's output.
**
**   readers   CoNLL-2003 / NCBI-disease / BC5CDR (token<TAB>IOB tag), CaRB
**             (sentences + gold tuples), PHEE (JSONL events with character
**             offsets), ADELIE's chat-format test sets (JSONL messages).
**   scorers   strict entity F1; PHEE trigger and argument F1; CaRB (its
**             own matcher, P/R/F1 at the best threshold and the PR AUC);
**             ADELIE's SemEval triples, Few-NERD pairs and on-demand tables,
**             each mirroring the upstream script it names.
**
** Why counts: every scorer adds counts (tp, predicted, gold; or sums) into
** an accumulator, so a resumed run adds the stored predictions' counts
** and a report is a finish step away.  Offsets are Unicode code points,
** end exclusive, with the UTF-8 byte offsets beside them (lexie.h's
** lexie_mention).  Readers distrust their input: malformed lines fail
** with LEXIE_E_FORMAT "file:line: why"; what is read but not kept is
** counted in lx_ie_set.skipped, never dropped silently.
*/
#ifndef LX_IE_DATA_H
#define LX_IE_DATA_H

#include "eval/eval.h"

#include <stdint.h>

/* ==== Gold documents ==== */

/* One open IE tuple: a relation and its arguments in order (arg1, arg2,
** then time, place, ...).  Gold tuples have confidence 1; predicted ones
** carry the extractor's confidence (CaRB's curve sweeps over it). */
typedef struct lx_gold_tuple {
    char *rel;
    char **args; /* [n_args], each owned */
    int n_args;
    double confidence;
} lx_gold_tuple;

/* One chat turn of an ADELIE prompt. */
typedef struct lx_chat_turn {
    char *role, *content;
} lx_chat_turn;

/* One gold document.  The parts a data set does not have are empty
** (NULL, 0).  Everything is owned by the document. */
typedef struct lx_ie_doc {
    char *id;            /* stable within the set: the index for IOB/CaRB, the file's id else */
    char *text;          /* the input text (NULL for ADELIE sets: the prompt is in turns) */
    int line;            /* 1-based line of the source file where the document starts */
    lexie_mention *ents; /* entities: type, text, offsets, match EXACT */
    int n_ents;
    lexie_event *events; /* PHEE: trigger (type = event type) + main arguments */
    int n_events;
    lx_gold_tuple *tuples; /* CaRB gold tuples of this sentence */
    int n_tuples;
    lx_chat_turn *turns; /* ADELIE: the prompt turns, gold answer removed */
    int n_turns;
    char *gold_answer; /* ADELIE: the final assistant message, verbatim;
                       ** PubMedQA: the decision or the conclusion */
    char *question;    /* PubMedQA: the research question (text: the abstract) */
} lx_ie_doc;

/* What a reader read but did not keep: counted and the first one named. */
typedef struct lx_ie_skips {
    int64_t n;
    char first[256]; /* "file:line: what" of the first, "" when n == 0 */
} lx_ie_skips;

typedef struct lx_ie_set {
    lx_ie_doc *docs;
    int n;
    size_t cap;
    lx_ie_skips skipped; /* see each reader for what it counts */
    int64_t n_unused;    /* annotations outside what the reader loads (PHEE
                         ** sub-arguments and attributes): not errors */
} lx_ie_set;

void lx_ie_set_free(lx_ie_set *s);
void lx_gold_tuple_clear(lx_gold_tuple *t);

/* The entity type names the extractor asks for, from a data set's tag
** type (CoNLL's person/organisation/location/misc or PER/ORG/LOC/MISC,
** NCBI's and BC5CDR's Disease/Chemical): "person", "organization",
** "location", "miscellaneous", "disease", "chemical".  NULL for a tag
** type the table does not hold.  One table, in ie_readers.c. */
const char *lx_ie_type_name(const char *tag_type);

/* CoNLL-2003 / NCBI-disease / BC5CDR: `token<TAB>tag` lines, a blank
** line (or one of whitespace only) ending a sentence; -DOCSTART- lines
** end a sentence and are not tokens.  The text is the tokens joined by single spaces (the files
*hold
** no original spacing).  Tags are O, B-T, I-T (T mapped through
** lx_ie_type_name); an I-T that does not continue a T span starts one, as
** conlleval does (IOB1 and IOB2 read alike).  Errors: no tab, more than
** one tab, an empty token, an unknown tag or type, a token over 1 KiB, a
** sentence over 10,000 tokens.  skipped counts nothing (nothing is
** dropped).  Doc ids are the sentence index "0", "1", ... */
lexie_status lx_ie_read_iob(const char *path, lx_ie_set *s, lexie_error *err);

/* CaRB: sentences (one a line; the documents, in that order, ids "0",
** "1", ...) and gold tuples `sentence<TAB>rel<TAB>arg1[<TAB>arg2...]`,
** read as CaRB's GoldReader reads them: each line stripped of outer
** whitespace, then split at tabs (so a trailing empty argument vanishes),
** relation and arguments stripped, and arguments holding "C: " (context)
** dropped (counted in skipped).  A tuple goes to the sentence with the
** same CaRB key (lx_carb_sentence_key); a tuple whose sentence is not in
** the sentence file is counted in skipped.  Errors: a gold line with
** fewer than 2 fields (sentence, relation), over 64 fields, an empty
** sentence line. */
lexie_status lx_ie_read_carb(const char *sentences_path, const char *gold_path, lx_ie_set *s,
                             lexie_error *err);

/* PHEE JSONL: {"id", "context", "annotations": [{"events": [...]}]}; each
** event has "event_type", "Trigger" and main arguments "Subject",
** "Treatment", "Effect", each {"text": [[piece, ...], ...], "start":
** [[offset, ...], ...]} (character offsets, Python's: code points).  Every
** piece becomes its own mention (a discontinuous or repeated argument
** gives several mentions of that role, as PHEE's own scorer flattens
** them); text must equal context[start:start+len(text)].  A trigger with
** several pieces keeps the first (the others are counted in skipped);
** sub-arguments and attributes are counted in n_unused.  Errors: a
** malformed line, a missing id/context/event_type/Trigger, mismatched
** text/start shapes, an offset outside the context or not matching. */
lexie_status lx_ie_read_phee(const char *path, lx_ie_set *s, lexie_error *err);

/* ADELIE test_format JSONL: {"datasets", "id", "messages": [{"role",
** "content"}, ...]}; the last message must be the assistant's (the gold
** answer), the ones before it are the prompt. */
lexie_status lx_ie_read_adelie(const char *path, lx_ie_set *s, lexie_error *err);

/* PubMedQA's expert-labelled JSON: one object whose members, keyed by
** PubMed id (the document ids, in file order), hold "QUESTION",
** "CONTEXTS" (the abstract's paragraphs but its conclusion), "LABELS"
** (their section names), "final_decision" (yes, no or maybe) and
** "LONG_ANSWER" (the conclusion).  The text is the paragraphs one a line,
** each after its label and ": " when LABELS has one for it.  gold_answer
** is the decision, or with conclusion the LONG_ANSWER.  Errors: a member
** without a string QUESTION, a non-empty array of string CONTEXTS, a
** decision other than yes/no/maybe, a string LONG_ANSWER.  Other members
** (MESHES, YEAR, ...) are not read. */
lexie_status lx_ie_read_pubmedqa(const char *path, int conclusion, lx_ie_set *s, lexie_error *err);

/* ==== Counts ==== */

/* Counts add with lx_prf_add; lx_prf_finish (eval.h) fills p, r, f1 (0
** where a denominator is 0). */
void lx_prf_add(lx_prf *into, const lx_prf *c);

/* Python's str.lower() (per code point, utf8proc's simple mapping) of s,
** appended to out; and str.isspace() of the code point at s (*len gets its
** byte length).  The upstream scorers are Python: their tokenisation is
** mirrored with these. */
void lx_py_lower(const char *s, lx_jbuf *out);
int lx_py_space(const char *s, int *len);

/* ==== Strict entity F1 (ie_metrics.c) ==== */

/* Adds the strict matches of pred against gold to m: a prediction is
** correct when (type, start, end) equals a gold entity's (types compared
** byte for byte, offsets in code points).  Both sides are sets: repeated
** identical entities count once.  An ungrounded prediction (match NONE)
** is a false positive (distinct (type, model_text) pairs count once).
** NOMEM only. */
lexie_status lx_ie_score_entities(const lexie_mention *pred, int n_pred, const lexie_mention *gold,
                                  int n_gold, lx_prf *m, lexie_error *err);

/* ==== PHEE events (ie_metrics.c) ==== */

/* How PHEE spans are compared.  SPAN: exact code-point offsets (the
** issue's "exact span match"; ungrounded predictions never match).  TEXT:
** PHEE's own evaluate/phee_metric.py EM, strings compared after its
** _normalize_answer (lower-case, split at ASCII punctuation, drop a/an/
** the, collapse spaces); ungrounded predictions use their model_text. */
typedef enum lx_phee_mode { LX_PHEE_SPAN = 0, LX_PHEE_TEXT = 1 } lx_phee_mode;

/* PHEE's classification scores: within one sentence, every event's
** trigger is keyed (event type, "Trigger", span) and every main argument
** (event type, role, span); predicted and gold keys are pooled per
** sentence and matched as multisets (phee_metric.py's Counter &), so an
** argument counts when some event of the same type in the sentence has it
** in the same role: the event type must match, the trigger need not (the
** EEQA/ACE argument-classification rule).  args sums the three roles;
** roles other than Subject/Treatment/Effect are ignored. */
typedef struct lx_phee_counts {
    lx_prf trigger, subject, treatment, effect, args;
} lx_phee_counts;

lexie_status lx_phee_score(const lexie_event *pred, int n_pred, const lexie_event *gold, int n_gold,
                           lx_phee_mode mode, lx_phee_counts *c, lexie_error *err);
void lx_phee_counts_add(lx_phee_counts *into, const lx_phee_counts *c);
void lx_phee_counts_finish(lx_phee_counts *c);

/* PHEE's _normalize_answer of s into out (reset first). */
void lx_phee_normalize(const char *s, lx_jbuf *out);

/* ==== CaRB (carb.c) ==== */

/* CaRB's default matcher (matcher.py binary_linient_tuple_match, what
** carb.py runs without a match flag) for one gold and one predicted
** tuple: *prec and *rec in [0, 1].  Words are whitespace-split and
** compared case-sensitively, with no stopword or punctuation removal
** (the flags carb.py passes are ignored by this matcher).  See carb.c. */
void lx_carb_match(const lx_gold_tuple *gold, const lx_gold_tuple *pred, double *prec, double *rec);

/* CaRB's sentence key (carb.py normalizeKey): spaces removed, PTB bracket
** escapes undone, ASCII punctuation removed.  Written into out. */
void lx_carb_sentence_key(const char *sentence, lx_jbuf *out);

/* The curve accumulator: one call per gold sentence; see carb.c. */
typedef struct lx_carb_step {
    double conf;                   /* a confidence of the sentence's predictions */
    double d_pnum, d_pden, d_rnum; /* change of the sums below this threshold */
} lx_carb_step;

typedef struct lx_carb_acc {
    lx_carb_step *steps;
    size_t n, cap;
    int64_t n_gold, n_pred, n_sent;
} lx_carb_acc;

/* Adds one sentence: its gold tuples and the predicted tuples (with
** confidences).  A sentence without gold tuples adds nothing, as in
** carb.py, which walks the gold sentences only.  NOMEM only. */
lexie_status lx_carb_add(lx_carb_acc *a, const lx_gold_tuple *gold, int n_gold,
                         const lx_gold_tuple *pred, int n_pred, lexie_error *err);
void lx_carb_acc_free(lx_carb_acc *a);

typedef struct lx_carb_score {
    double p, r, f1;  /* at the threshold of the best F1 (carb.py's "optimal") */
    double threshold; /* that confidence threshold */
    double auc;       /* area under the PR curve with (recall 0, precision 1) added */
    int n_points;     /* distinct confidence thresholds */
} lx_carb_score;

/* The scores from everything added.  With no prediction at all, all zero
** (carb.py returns 0, (0, 0, 0)).  NOMEM only. */
lexie_status lx_carb_finish(const lx_carb_acc *a, lx_carb_score *out, lexie_error *err);

/* ==== ADELIE test sets (adelie.c) ==== */

/* SemEval (scripts/tasks/semeval/open_evaluate.py): adds tp, pred and
** gold of one example to m, exactly as the script counts them (see
** adelie.c for its rules, quirks included).  output is the model's whole
** answer; gold the final assistant message.  NOMEM, LEXIE_E_INTERNAL (the
** regex). */
lexie_status lx_adelie_semeval_score(const char *output, const char *gold, lx_prf *m,
                                     lexie_error *err);

/* Few-NERD (scripts/tasks/fewnerd/open_evaluate.py): entity -> type maps
** of the gold and the model's answer, entity lower-cased, type kept only
** when it is one of the 66 Few-NERD types; correct = gold entities whose
** type the answer gives.  ADELIE's type list spells "location_GPE" while
** answers are lower-cased, so GPE entities never count on either side;
** LX_FEWNERD_KEEP_GPE compares types case-insensitively instead (a
** corrected score, not ADELIE's). */
enum { LX_FEWNERD_KEEP_GPE = 1u };
lexie_status lx_adelie_fewnerd_score(const char *output, const char *gold, unsigned flags,
                                     lx_prf *m, lexie_error *err);

/* On-demand IE (ODIE's evaluation/sim_for_header.py and
** rougel_for_content.py, as ADELIE reports them).  Header: the first line
** of the table, lower-cased, split at " | "; each header cell is matched
** to its most similar cell on the other side; sums over the corpus give
** P = sum(best per predicted cell) / predicted cells, R likewise for gold
** cells.  ODIE embeds cells with all-MiniLM-L6-v2 and uses cosine
** similarity; lexie has no such model and uses the token-overlap F1 of
** lexie_text_similarity (LEXIE_TEXT_F1) instead: equal cells score 1,
** cells without shared words 0.  Content: ROUGE-Lsum F-measure (Google's
** rouge_score, as HF evaluate runs it) of the table text from the first
** '|' on, empty cells read as N/A, averaged over examples. */
typedef struct lx_odie_counts {
    double gold_cells, pred_cells;     /* header cells */
    double pred_in_gold, gold_in_pred; /* similarity sums */
    double rouge_lsum;                 /* sum of per-example ROUGE-Lsum F */
    double rouge_l;                    /* sum of lexie_text_similarity ROUGE-L (flat) */
    int64_t n;                         /* examples */
} lx_odie_counts;

typedef struct lx_odie_score {
    double header_p, header_r, header_f1; /* in [0, 1] */
    double rouge_lsum, rouge_l;           /* means in [0, 1] */
} lx_odie_score;

lexie_status lx_adelie_ondemand_score(const char *output, const char *gold, lx_odie_counts *c,
                                      lexie_error *err);
void lx_odie_counts_add(lx_odie_counts *into, const lx_odie_counts *c);
void lx_odie_finish(const lx_odie_counts *c, lx_odie_score *out);

/* ROUGE-Lsum F-measure of pred against gold (rouge_score: lines are the
** sentences, tokens are lower-cased [a-z0-9]+ runs, union LCS without
** double counting).  -1 on NOMEM. */
double lx_rouge_lsum(const char *pred, const char *gold);

/* A markdown table (ie_metrics.c): header cells and rows of cells
** (trimmed), the separator row (cells of '-' and ':') left out.  The header
** is the line from the first '|' of the text on (so "[Answer]: | a | b |"
** reads); rows are the following lines that start with '|' after spaces,
** up to the first line that does not. */
typedef struct lx_md_table {
    char **header;
    int n_cols;
    char ***rows; /* [n_rows][n_cells[i]] */
    int *n_cells;
    int n_rows;
} lx_md_table;

/* Parses the first table in text.  No table: LEXIE_E_FORMAT.  Bounds: 256
** columns, 100,000 rows. */
lexie_status lx_md_table_parse(const char *text, lx_md_table *t, lexie_error *err);
void lx_md_table_free(lx_md_table *t);

/* ==== PubMedQA (pubmedqa.c) ==== */

/* The user turn lexie asks a PubMedQA question with: the abstract, the
** question, and what to answer (the decision: yes, no or maybe; or the
** conclusion).  Documented in docs/formats.md.  Malloc'd; NULL on NOMEM. */
char *lx_pubmedqa_prompt(const lx_ie_doc *d, int conclusion, lexie_error *err);

/* The decisions' grammar (GBNF): exactly yes, no or maybe. */
extern const char lx_pubmedqa_gbnf[];

/* Decisions: confusion counts by gold (rows) and answer (columns) over
** yes, no, maybe, and a fourth column for an answer that is none of them
** (wrong for accuracy, no class's prediction); conclusions: the sum of
** ROUGE-L F (lexie_text_similarity) over n_long answers. */
typedef struct lx_pqa_counts {
    int64_t conf[3][4];
    double rouge_l;
    int64_t n_long;
} lx_pqa_counts;

/* Adds one answer: a decision (trimmed, case-folded) or a conclusion
** scored against gold.  LEXIE_E_FORMAT for a gold decision that is not
** yes/no/maybe; NOMEM. */
lexie_status lx_pqa_add(lx_pqa_counts *c, int conclusion, const char *answer, const char *gold,
                        lexie_error *err);
/* Accuracy and macro-F1 (the mean of the three classes' F1, as
** scikit-learn's f1_score(average="macro") over yes/no/maybe), in [0, 1];
** or the mean ROUGE-L. */
typedef struct lx_pqa_score {
    double accuracy, macro_f1, f1[3];
    double rouge_l;
    int64_t n;
} lx_pqa_score;
void lx_pqa_finish(const lx_pqa_counts *c, lx_pqa_score *out);

/* ==== From lexie_extraction to the answer shapes (ie_metrics.c) ==== */

/* Entities as a Few-NERD answer "text: type; text: type; " (model_text
** for ungrounded ones), written into b (appended). */
void lx_fewnerd_answer(const lexie_extraction *x, lx_jbuf *b);

/* A SemEval-2010 label on entities e1, e2 as ADELIE's gold answer shape
** (adelie.c): "R1-R2(e1,e2)" -> "(e1; r1 and r2; e2)", "R1-R2(e2,e1)" ->
** "(e1; r2 and r1; e2)" (roles lower-cased, as the scorer reads them);
** "Other" or any other label -> "" (ADELIE's empty gold).  Appended to b. */
void lx_semeval_answer(const char *e1, const char *e2, const char *label, lx_jbuf *b);

/* Triples as CaRB tuples: rel = relation, args = subject, object, then
** time and place when present; confidence = the triple's.  Text is the
** input slice, or model_text when ungrounded.  *out is owned (free each
** with lx_gold_tuple_clear, then free(*out)). */
lexie_status lx_carb_from_extraction(const lexie_extraction *x, lx_gold_tuple **out, int *n,
                                     lexie_error *err);

#endif /* LX_IE_DATA_H */
