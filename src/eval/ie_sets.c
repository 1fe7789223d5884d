/*
** ie_sets.c -- the extraction benchmarks one by one: where each lives,
** what lexie is asked for it, how an ADELIE prompt is taken apart for
** lexie's own task prompts, and how a prediction line is scored
** (the scorers themselves are ie_metrics.c, carb.c and adelie.c).
*/
#include "ie_eval.h"

#include <stdlib.h>
#include <string.h>

/* The schemas lexie asks with.  Descriptions are the data sets' own
** guideline words, not tuned on any split.  They are part of the prompt:
** a change needs a new LX_EXTRACT_PROMPT_VERSION, or runs would resume
** predictions made with the old text (test_ie_set_schemas_pinned). */
static const char CONLL[] =
    "{\"name\": \"conll2003\", \"entities\": ["
    "{\"type\": \"person\", \"description\": \"names of people\"},"
    "{\"type\": \"organization\", \"description\": \"companies, institutions, teams, agencies\"},"
    "{\"type\": \"location\", \"description\": \"countries, cities, regions, places\"},"
    "{\"type\": \"miscellaneous\", \"description\": \"other names: nationalities, events, "
    "languages, works, products\"}]}";
static const char NCBI[] = "{\"name\": \"ncbi-disease\", \"entities\": [{\"type\": \"disease\", "
                           "\"description\": \"diseases, disorders, syndromes\"}]}";
static const char BC5CDR[] =
    "{\"name\": \"bc5cdr\", \"entities\": ["
    "{\"type\": \"chemical\", \"description\": \"chemicals and drugs\"},"
    "{\"type\": \"disease\", \"description\": \"diseases, disorders, adverse effects\"}]}";
static const char PHEE[] =
    "{\"name\": \"phee\", \"events\": ["
    "{\"type\": \"Adverse_event\", \"description\": \"a drug or treatment causes an adverse "
    "effect\", \"roles\": [{\"role\": \"Subject\", \"description\": \"the patient or "
    "population\"}, {\"role\": \"Treatment\", \"description\": \"the drug or therapy\"}, "
    "{\"role\": \"Effect\", \"description\": \"the adverse effect\"}]},"
    "{\"type\": \"Potential_therapeutic_event\", \"description\": \"a drug or treatment has a "
    "therapeutic effect\", \"roles\": [{\"role\": \"Subject\", \"description\": \"the patient or "
    "population\"}, {\"role\": \"Treatment\", \"description\": \"the drug or therapy\"}, "
    "{\"role\": \"Effect\", \"description\": \"the therapeutic effect\"}]}]}";

static const lx_ie_setdef SETS[] = {
    {"conll2003",
     {"conll2003/test.txt", NULL},
     LX_IE_NER,
     CONLL,
     "conll2003/train.txt",
     "conll2003/dev.txt"},
    {"ncbi",
     {"ncbi_disease_iob/test.tsv", NULL},
     LX_IE_NER,
     NCBI,
     "ncbi_disease_iob/train.tsv",
     "ncbi_disease_iob/devel.tsv"},
    {"bc5cdr",
     {"bc5cdr_iob/test.tsv", NULL},
     LX_IE_NER,
     BC5CDR,
     "bc5cdr_iob/train.tsv",
     "bc5cdr_iob/devel.tsv"},
    {"phee", {"phee/test.jsonl", NULL}, LX_IE_EVENTS, PHEE, "phee/train.jsonl", "phee/dev.jsonl"},
    {"carb", {"carb/dev_sentences.txt", "carb/dev.tsv"}, LX_IE_OPENIE, NULL, NULL, NULL},
    {"adelie-semeval",
     {"adelie_testsets/zeroshot/semeval.jsonl", NULL},
     LX_IE_ADELIE_SEMEVAL,
     NULL,
     NULL,
     NULL},
    {"adelie-fewnerd",
     {"adelie_testsets/zeroshot/few-nerd-supervised.jsonl", NULL},
     LX_IE_ADELIE_FEWNERD,
     NULL,
     NULL,
     NULL},
    {"adelie-ondemand",
     {"adelie_testsets/zeroshot/ondemand.jsonl", NULL},
     LX_IE_ADELIE_ONDEMAND,
     NULL,
     NULL,
     NULL},
    {"pubmedqa",
     {"pubmedqa/test.json", NULL},
     LX_IE_PUBMEDQA,
     NULL,
     "pubmedqa/train_dev.json",
     NULL},
    {"pubmedqa-conclusion",
     {"pubmedqa/test.json", NULL},
     LX_IE_PUBMEDQA_LONG,
     NULL,
     "pubmedqa/train_dev.json",
     NULL},
};

const lx_ie_setdef *lx_ie_setdef_find(const char *name) {
    for (size_t i = 0; i < LX_ARRAY_LEN(SETS); i++)
        if (name && strcmp(SETS[i].name, name) == 0) return &SETS[i];
    return NULL;
}

const char *lx_ie_setdef_names(void) {
    return "conll2003, ncbi, bc5cdr, phee, carb, adelie-semeval, adelie-fewnerd, adelie-ondemand, "
           "pubmedqa, pubmedqa-conclusion";
}

int lx_ie_setdef_has_native(const lx_ie_setdef *d) {
    return d->kind >= LX_IE_ADELIE_SEMEVAL && d->kind <= LX_IE_ADELIE_ONDEMAND;
}

int lx_ie_setdef_is_pubmedqa(const lx_ie_setdef *d) {
    return d->kind == LX_IE_PUBMEDQA || d->kind == LX_IE_PUBMEDQA_LONG;
}

/* Reads path as set d's documents are read. */
static lexie_status read_set(const lx_ie_setdef *d, const char *a, const char *b, lx_ie_set *s,
                             lexie_error *err) {
    switch (d->kind) {
    case LX_IE_NER: return lx_ie_read_iob(a, s, err);
    case LX_IE_EVENTS: return lx_ie_read_phee(a, s, err);
    case LX_IE_OPENIE: return lx_ie_read_carb(a, b, s, err);
    case LX_IE_PUBMEDQA:
    case LX_IE_PUBMEDQA_LONG: return lx_ie_read_pubmedqa(a, d->kind == LX_IE_PUBMEDQA_LONG, s, err);
    default: return lx_ie_read_adelie(a, s, err);
    }
}

lexie_status lx_ie_set_load(const lx_ie_setdef *d, const char *data_dir, lx_ie_set *s,
                            lexie_error *err) {
    char a[2048], b[2048];
    snprintf(a, sizeof a, "%s/%s", data_dir, d->files[0]);
    if (d->files[1]) snprintf(b, sizeof b, "%s/%s", data_dir, d->files[1]);
    memset(s, 0, sizeof *s);
    return read_set(d, a, d->files[1] ? b : NULL, s, err);
}

lexie_status lx_ie_split_load(const lx_ie_setdef *d, lx_ie_split split, const char *data_dir,
                              lx_ie_set *s, lexie_error *err) {
    if (split == LX_IE_TEST) return lx_ie_set_load(d, data_dir, s, err);
    memset(s, 0, sizeof *s);
    const char *file = split == LX_IE_TRAIN ? d->train : d->dev;
    if (!file)
        return lx_fail(err, LEXIE_E_INVALID, "%s has no %s split here", d->name,
                       lx_ie_split_name(split));
    char a[2048];
    snprintf(a, sizeof a, "%s/%s", data_dir, file);
    return read_set(d, a, NULL, s, err);
}

const char *lx_ie_split_name(lx_ie_split split) {
    return split == LX_IE_TRAIN ? "train" : split == LX_IE_DEV ? "dev" : "test";
}

static void answer_span(lx_jbuf *b, const char *key, const lexie_mention *m) {
    lx_jbuf_printf(b, "\"%s\": ", key);
    lx_jbuf_cstr(b, m->text);
}

void lx_ie_gold_answer(const lx_ie_setdef *d, const lx_ie_doc *g, lx_jbuf *b) {
    if (d->kind != LX_IE_EVENTS) {
        lx_jbuf_puts(b, "{\"entities\": [");
        for (int i = 0; i < g->n_ents; i++) {
            lx_jbuf_puts(b, i ? ", {" : "{");
            answer_span(b, "text", &g->ents[i]);
            lx_jbuf_puts(b, ", \"type\": ");
            lx_jbuf_cstr(b, g->ents[i].type);
            lx_jbuf_putc(b, '}');
        }
        lx_jbuf_puts(b, "]}");
        return;
    }
    lx_jbuf_puts(b, "{\"events\": [");
    for (int i = 0; i < g->n_events; i++) {
        const lexie_event *e = &g->events[i];
        lx_jbuf_puts(b, i ? ", {\"type\": " : "{\"type\": ");
        lx_jbuf_cstr(b, e->trigger.type);
        lx_jbuf_puts(b, ", ");
        answer_span(b, "trigger", &e->trigger);
        lx_jbuf_puts(b, ", \"arguments\": [");
        for (int j = 0; j < e->n_args; j++) {
            lx_jbuf_puts(b, j ? ", {\"role\": " : "{\"role\": ");
            lx_jbuf_cstr(b, e->args[j].type);
            lx_jbuf_puts(b, ", ");
            answer_span(b, "text", &e->args[j]);
            lx_jbuf_putc(b, '}');
        }
        lx_jbuf_puts(b, "]}");
    }
    lx_jbuf_puts(b, "]}");
}

/* ==== ADELIE prompts, taken apart ==== */

void lx_adelie_input_clear(lx_adelie_input *in) {
    free(in->text);
    free(in->instruction);
    for (int i = 0; i < in->n_types; i++) free(in->types[i]);
    free(in->types);
    memset(in, 0, sizeof *in);
}

/* The last user turn of a prompt. */
static const char *user_turn(const lx_ie_doc *doc) {
    for (int i = doc->n_turns - 1; i >= 0; i--)
        if (strcmp(doc->turns[i].role, "user") == 0) return doc->turns[i].content;
    return NULL;
}

/* The quoted sentence of an ADELIE prompt: after the last "Text: '", up
** to its closing quote.  The prompts come in hundreds of wordings (some
** with the sentence at the end), and the sentences hold quotes of their
** own, so the closing one is told by the sets' tokenisation:
**   Few-NERD (tokens and a final space): the first quote after a space
**   followed by the prompt's end, '"', a newline, punctuation, or the
**   template's "Please" (inner ones: " ' ", " 'Bo", " '' ");
**   SemEval (lower-cased PTB tokens, nothing after the last token): after
**   the second </entity>, the last quote of the first run of quotes not
**   followed by a letter that either follows a non-space (".'") or is
**   three long (PTB's '' then the closing one); " '' " is inside.
** Checked on all of both sets (tests/test_ie_run.c). */
static int adelie_text(const char *u, int fewnerd, const char **a, const char **b) {
    const char *t = NULL;
    for (const char *p = strstr(u, "Text: '"); p; p = strstr(p + 1, "Text: '")) t = p;
    if (!t) return 0;
    *a = t + 7;
    const char *q = *a;
    if (!fewnerd) {
        for (int k = 0; k < 2 && q; k++)
            if ((q = strstr(q, "</entity>"))) q += 9;
        if (!q) return 0;
    }
    for (; *q; q++) {
        if (*q != '\'') continue;
        const char *r0 = q;
        while (!fewnerd && q[1] == '\'') q++;
        int letter = (q[1] >= 'a' && q[1] <= 'z') || (q[1] >= 'A' && q[1] <= 'Z');
        int end = fewnerd ? q[-1] == ' ' && (!q[1] || strchr("\"\n.,)", q[1]) ||
                                             strncmp(q + 1, "Please", 6) == 0)
                          : !letter && (r0[-1] != ' ' || q - r0 >= 2);
        if (end) {
            *b = q;
            return 1;
        }
    }
    return 0;
}

/* Few-NERD: the sentence, and the type list: the bracketed list whose
** items hold '_' (person_actor, ...). */
static lexie_status parse_fewnerd(const char *u, lx_adelie_input *in, lexie_error *err) {
    const char *t0, *t1, *l0 = NULL, *l1 = NULL;
    for (const char *p = strchr(u, '['); p && !l1; p = strchr(p + 1, '[')) {
        const char *e = strchr(p, ']');
        if (e && memchr(p, '_', (size_t)(e - p)) && memchr(p, ',', (size_t)(e - p))) {
            l0 = p;
            l1 = e;
        }
    }
    if (!adelie_text(u, 1, &t0, &t1) || !l1)
        return lx_fail(err, LEXIE_E_FORMAT, "not a Few-NERD prompt (no Text: '...' or [types])");
    if (!(in->text = lx_strndup(t0, (size_t)(t1 - t0), err))) return LEXIE_E_NOMEM;
    for (const char *p = l0 + 1; p < l1;) {
        const char *q = p;
        while (q < l1 && *q != ',') q++;
        const char *x = p, *y = q;
        while (x < y && *x == ' ') x++;
        while (y > x && y[-1] == ' ') y--;
        if (y > x) {
            char **v = realloc(in->types, (size_t)(in->n_types + 1) * sizeof *v);
            if (!v) return lx_fail(err, LEXIE_E_NOMEM, "out of memory");
            in->types = v;
            if (!(v[in->n_types] = lx_strndup(x, (size_t)(y - x), err))) return LEXIE_E_NOMEM;
            in->n_types++;
        }
        p = q + 1;
    }
    return LEXIE_OK;
}

/* SemEval: the sentence with "<entity> a </entity>" marks -> the plain
** text (marks and their inner spaces removed) and the two spans. */
static lexie_status parse_semeval(const char *u, lx_adelie_input *in, lexie_error *err) {
    const char *t0, *t1;
    if (!adelie_text(u, 0, &t0, &t1))
        return lx_fail(err, LEXIE_E_FORMAT, "not a SemEval prompt (no Text: '...')");
    lx_jbuf b = {0};
    int cp = 0, k = 0;
    for (const char *p = t0; p < t1;) {
        if (strncmp(p, "<entity> ", 9) == 0 && k < 4 && k % 2 == 0) {
            in->spans[k++] = cp;
            p += 9;
        } else if (strncmp(p, " </entity>", 10) == 0 && k % 2 == 1) {
            in->spans[k++] = cp;
            p += 10;
        } else {
            cp += ((unsigned char)*p & 0xC0) != 0x80;
            lx_jbuf_putc(&b, *p++);
        }
    }
    if (k != 4) {
        lx_jbuf_free(&b);
        return lx_fail(err, LEXIE_E_FORMAT, "SemEval prompt without two <entity> marks");
    }
    lexie_status st = lx_jbuf_status(&b, err);
    if (st == LEXIE_OK) in->text = b.data;
    return st;
}

/* On-demand: "<instruction>\n\nText: <text>". */
static lexie_status parse_ondemand(const char *u, lx_adelie_input *in, lexie_error *err) {
    const char *t = strstr(u, "\n\nText: ");
    if (!t) return lx_fail(err, LEXIE_E_FORMAT, "not an on-demand prompt (no \"Text: \")");
    in->instruction = lx_strndup(u, (size_t)(t - u), err);
    in->text = lx_strdup(t + 8, err);
    return in->instruction && in->text ? LEXIE_OK : LEXIE_E_NOMEM;
}

lexie_status lx_adelie_input_parse(const lx_ie_setdef *d, const lx_ie_doc *doc, lx_adelie_input *in,
                                   lexie_error *err) {
    memset(in, 0, sizeof *in);
    const char *u = user_turn(doc);
    if (!u) return lx_fail(err, LEXIE_E_FORMAT, "the prompt has no user turn");
    lexie_status st = d->kind == LX_IE_ADELIE_FEWNERD   ? parse_fewnerd(u, in, err)
                      : d->kind == LX_IE_ADELIE_SEMEVAL ? parse_semeval(u, in, err)
                                                        : parse_ondemand(u, in, err);
    if (st != LEXIE_OK) lx_adelie_input_clear(in);
    return st;
}

/* ==== Scoring one line ==== */

static void count_span(lx_ie_tally *t, const lexie_mention *m) {
    if (m && m->match >= LEXIE_MATCH_EXACT && m->match <= LEXIE_MATCH_NONE) t->spans[m->match]++;
}

static void count_spans(lx_ie_tally *t, const lexie_extraction *x) {
    for (int i = 0; i < x->n_entities; i++) count_span(t, &x->entities[i]);
    for (int i = 0; i < x->n_events; i++) {
        count_span(t, &x->events[i].trigger);
        for (int j = 0; j < x->events[i].n_args; j++) count_span(t, &x->events[i].args[j]);
    }
    for (int i = 0; i < x->n_triples; i++) {
        const lexie_triple *tr = &x->triples[i];
        count_span(t, &tr->subject);
        count_span(t, &tr->relation);
        count_span(t, &tr->object);
        count_span(t, tr->time);
        count_span(t, tr->place);
    }
}

/* Scores lexie's own result x for the set. */
static lexie_status score_extraction(lx_ie_tally *t, const lx_ie_setdef *d, const lx_ie_doc *g,
                                     const lexie_extraction *x, lexie_error *err) {
    count_spans(t, x);
    switch (d->kind) {
    case LX_IE_NER:
        return lx_ie_score_entities(x->entities, x->n_entities, g->ents, g->n_ents, &t->prf, err);
    case LX_IE_EVENTS: {
        lx_phee_counts c;
        memset(&c, 0, sizeof c);
        lexie_status st =
            lx_phee_score(x->events, x->n_events, g->events, g->n_events, LX_PHEE_SPAN, &c, err);
        if (st == LEXIE_OK) lx_phee_counts_add(&t->phee, &c);
        return st;
    }
    case LX_IE_OPENIE: {
        lx_gold_tuple *pt = NULL;
        int np = 0;
        lexie_status st = lx_carb_from_extraction(x, &pt, &np, err);
        if (st == LEXIE_OK) st = lx_carb_add(&t->carb, g->tuples, g->n_tuples, pt, np, err);
        for (int i = 0; i < np; i++) lx_gold_tuple_clear(&pt[i]);
        free(pt);
        return st;
    }
    case LX_IE_ADELIE_FEWNERD: {
        lx_jbuf b = {0};
        lx_fewnerd_answer(x, &b);
        lexie_status st = lx_jbuf_status(&b, err);
        if (st == LEXIE_OK)
            st = lx_adelie_fewnerd_score(b.data ? b.data : "", g->gold_answer, 0, &t->prf, err);
        lx_jbuf_free(&b);
        return st;
    }
    default: return lx_fail(err, LEXIE_E_INTERNAL, "no extraction scoring for %s", d->name);
    }
}

/* Scores an answer text (native prompts; lexie's SemEval and tables). */
static lexie_status score_answer(lx_ie_tally *t, const lx_ie_setdef *d, const lx_ie_doc *g,
                                 const char *answer, lexie_error *err) {
    switch (d->kind) {
    case LX_IE_ADELIE_SEMEVAL: return lx_adelie_semeval_score(answer, g->gold_answer, &t->prf, err);
    case LX_IE_ADELIE_FEWNERD:
        return lx_adelie_fewnerd_score(answer, g->gold_answer, 0, &t->prf, err);
    case LX_IE_ADELIE_ONDEMAND: {
        lx_odie_counts c;
        memset(&c, 0, sizeof c);
        lexie_status st = lx_adelie_ondemand_score(answer, g->gold_answer, &c, err);
        if (st == LEXIE_OK) lx_odie_counts_add(&t->odie, &c);
        return st;
    }
    case LX_IE_PUBMEDQA:
    case LX_IE_PUBMEDQA_LONG:
        return lx_pqa_add(&t->pqa, d->kind == LX_IE_PUBMEDQA_LONG, answer, g->gold_answer, err);
    default: return lx_fail(err, LEXIE_E_INTERNAL, "no answer scoring for %s", d->name);
    }
}

lexie_status lx_ie_tally_add(lx_ie_tally *t, const lx_ie_setdef *d, const lx_ie_doc *gold,
                             const lx_json *pred, int native, lexie_error *err) {
    t->n_docs++;
    const lx_json *sec = lx_json_get(pred, "seconds"), *out = lx_json_get(pred, "output");
    const char *answer = lx_json_string(lx_json_get(pred, "answer"));
    if (sec && sec->type == LX_JSON_NUMBER) t->seconds += sec->num;
    if (out) {
        lexie_extraction x;
        lexie_error e;
        if (lx_extraction_from_json(out, &x, &e) != LEXIE_OK) return LEXIE_OK; /* invalid */
        t->n_valid++;
        t->n_truncated += x.truncated;
        lexie_status st = score_extraction(t, d, gold, &x, err);
        lexie_extraction_clear(&x);
        return st;
    }
    if (!answer) return LEXIE_OK; /* invalid: counted in n_docs only */
    const lx_json *cut = lx_json_get(pred, "truncated");
    t->n_truncated += cut && cut->type == LX_JSON_BOOL && cut->b;
    /* Lexie's tables and SemEval answers come from grammars: valid by
    ** construction when present.  Native answers are free text. */
    t->n_valid += !native;
    t->n_free += native != 0;
    return score_answer(t, d, gold, answer, err);
}

void lx_ie_tally_free(lx_ie_tally *t) { lx_carb_acc_free(&t->carb); }

static void prf_json(lx_jbuf *j, const char *name, lx_prf *m) {
    lx_prf_finish(m);
    lx_jbuf_printf(j,
                   ",\"%s\":{\"p\":%.4f,\"r\":%.4f,\"f1\":%.4f,\"tp\":%lld,\"pred\":%lld,"
                   "\"gold\":%lld}",
                   name, m->p, m->r, m->f1, (long long)m->tp, (long long)m->pred,
                   (long long)m->gold);
}

static void prf_txt(lx_jbuf *x, const char *name, const lx_prf *m) {
    lx_jbuf_printf(x,
                   "%-22s P %5.1f  R %5.1f  F1 %5.1f  (%lld correct, %lld predicted, %lld gold)\n",
                   name, 100 * m->p, 100 * m->r, 100 * m->f1, (long long)m->tp, (long long)m->pred,
                   (long long)m->gold);
}

static lexie_status figures(lx_ie_tally *t, const lx_ie_setdef *d, lx_jbuf *j, lx_jbuf *x,
                            lexie_error *err) {
    if (d->kind == LX_IE_EVENTS) {
        lx_phee_counts_finish(&t->phee);
        lx_prf *v[5] = {&t->phee.trigger, &t->phee.subject, &t->phee.treatment, &t->phee.effect,
                        &t->phee.args};
        static const char *nm[5] = {"trigger", "subject", "treatment", "effect", "arguments"};
        for (int i = 0; i < 5; i++) {
            prf_json(j, nm[i], v[i]);
            prf_txt(x, nm[i], v[i]);
        }
    } else if (d->kind == LX_IE_OPENIE) {
        lx_carb_score c;
        lexie_status st = lx_carb_finish(&t->carb, &c, err);
        if (st != LEXIE_OK) return st;
        lx_jbuf_printf(j,
                       ",\"carb\":{\"p\":%.4f,\"r\":%.4f,\"f1\":%.4f,\"auc\":%.4f,"
                       "\"threshold\":%.4f}",
                       c.p, c.r, c.f1, c.auc, c.threshold);
        lx_jbuf_printf(x, "CaRB                   P %5.1f  R %5.1f  F1 %5.1f  AUC %5.1f\n",
                       100 * c.p, 100 * c.r, 100 * c.f1, 100 * c.auc);
    } else if (d->kind == LX_IE_ADELIE_ONDEMAND) {
        lx_odie_score s;
        lx_odie_finish(&t->odie, &s);
        lx_jbuf_printf(j,
                       ",\"header\":{\"p\":%.4f,\"r\":%.4f,\"f1\":%.4f,\"similarity\":"
                       "\"token-overlap F1 (no MiniLM)\"},\"content_rouge_lsum\":%.4f",
                       s.header_p, s.header_r, s.header_f1, s.rouge_lsum);
        lx_jbuf_printf(
            x, "header (token overlap) P %5.1f  R %5.1f  F1 %5.1f\ncontent ROUGE-Lsum %5.1f\n",
            100 * s.header_p, 100 * s.header_r, 100 * s.header_f1, 100 * s.rouge_lsum);
    } else if (d->kind == LX_IE_PUBMEDQA) {
        lx_pqa_score s;
        lx_pqa_finish(&t->pqa, &s);
        lx_jbuf_printf(j,
                       ",\"accuracy\":%.4f,\"macro_f1\":%.4f,\"f1\":{\"yes\":%.4f,\"no\":%.4f,"
                       "\"maybe\":%.4f},\"confusion\":[",
                       s.accuracy, s.macro_f1, s.f1[0], s.f1[1], s.f1[2]);
        for (int g = 0; g < 3; g++)
            lx_jbuf_printf(j, "%s[%lld,%lld,%lld,%lld]", g ? "," : "", (long long)t->pqa.conf[g][0],
                           (long long)t->pqa.conf[g][1], (long long)t->pqa.conf[g][2],
                           (long long)t->pqa.conf[g][3]);
        lx_jbuf_puts(j, "]");
        lx_jbuf_printf(x, "accuracy %5.1f  macro-F1 %5.1f  (F1 yes %.1f, no %.1f, maybe %.1f)\n",
                       100 * s.accuracy, 100 * s.macro_f1, 100 * s.f1[0], 100 * s.f1[1],
                       100 * s.f1[2]);
    } else if (d->kind == LX_IE_PUBMEDQA_LONG) {
        lx_pqa_score s;
        lx_pqa_finish(&t->pqa, &s);
        lx_jbuf_printf(j, ",\"rouge_l\":%.4f", s.rouge_l);
        lx_jbuf_printf(x, "ROUGE-L %5.1f (mean F over %lld conclusions)\n", 100 * s.rouge_l,
                       (long long)s.n);
    } else {
        prf_json(j, "micro", &t->prf);
        prf_txt(x, d->kind == LX_IE_NER ? "strict entities" : "ADELIE scoring", &t->prf);
    }
    return LEXIE_OK;
}

lexie_status lx_ie_tally_report(lx_ie_tally *t, const lx_ie_setdef *d, lx_jbuf *j, lx_jbuf *x,
                                lexie_error *err) {
    lexie_status st = figures(t, d, j, x, err);
    if (st != LEXIE_OK) return st;
    int64_t n_sp = t->spans[0] + t->spans[1] + t->spans[2] + t->spans[3];
    double dps = t->seconds > 0 ? (double)t->n_docs / t->seconds : 0;
    lx_jbuf_printf(j,
                   ",\"documents\":%lld,\"valid\":%lld,\"free_text\":%lld,\"truncated\":%lld,"
                   "\"spans\":{\"exact\":%lld,\"normalized\":%lld,\"fuzzy\":%lld,\"none\":%lld},"
                   "\"docs_per_s\":%.4f",
                   (long long)t->n_docs, (long long)t->n_valid, (long long)t->n_free,
                   (long long)t->n_truncated, (long long)t->spans[0], (long long)t->spans[1],
                   (long long)t->spans[2], (long long)t->spans[3], dps);
    /* Validity is a share of the outputs a grammar bound; free-text
    ** answers have none, so a run of them reports none. */
    const int64_t bound = t->n_docs - t->n_free;
    if (bound > 0)
        lx_jbuf_printf(x, "documents %lld, valid outputs %lld (%.1f%%), ", (long long)t->n_docs,
                       (long long)t->n_valid, 100.0 * (double)t->n_valid / (double)bound);
    else
        lx_jbuf_printf(x, "documents %lld, valid outputs n/a (free-text answers), ",
                       (long long)t->n_docs);
    lx_jbuf_printf(x, "truncated %lld, %.3f docs/s\n", (long long)t->n_truncated, dps);
    if (n_sp)
        lx_jbuf_printf(
            x, "spans %lld: exact %.1f%%, normalized %.1f%%, fuzzy %.1f%%, flagged %.1f%%\n",
            (long long)n_sp, 100.0 * (double)t->spans[0] / (double)n_sp,
            100.0 * (double)t->spans[1] / (double)n_sp, 100.0 * (double)t->spans[2] / (double)n_sp,
            100.0 * (double)t->spans[3] / (double)n_sp);
    return LEXIE_OK;
}
