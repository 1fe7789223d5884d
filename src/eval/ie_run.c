/*
** ie_run.c -- the resumable runner of `lexie eval extract`: selects a
** seeded sample of a set, names its files by a hash of the configuration,
** predicts what the prediction file lacks batch by batch (each batch
** appended with one checked write to the locked file), then scores every
** selected document from the file and writes the reports atomically.
**
** Predictions are lexie's own output lines ("output": the extraction) or,
** for ADELIE's prompts and for tables, the answer text ("answer").  The
** scores are always rebuilt from the file, so a resumed run and a fresh
** one report the same figures.
*/
#include "ie_eval.h"

#include "decode/decode.h"
#include "ie/extract/extract.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct run {
    const lx_ie_eval_params *p;
    const lx_ie_setdef *d;
    lx_ie_set set;
    int *sel, n_sel;
    char model_sha[65], chash[13];
    char *stem;
    lexie_model *m;
    lexie_ctx *c;
    lexie_adapter *ad;
    lexie_ie_schema *schema;
    lexie_extractor *x;
    char *x_key; /* Few-NERD: the type list x was made for */
    lexie_re_schema *rs;
    lexie_re *re;
    lexie_grammar *g; /* PubMedQA decisions: yes, no or maybe */
    lexie_grammar_vocab *gv;
    int fd;
    /* What the prediction file holds: parsed lines and their ids. */
    lx_json_doc **pl;
    int n_pl;
    size_t cap_pl;
} run;

static void run_free(run *r) {
    lexie_extractor_free(r->x);
    lexie_re_free(r->re);
    lexie_grammar_free(r->g);
    lexie_grammar_vocab_free(r->gv);
    lexie_ctx_free(r->c);
    lexie_adapter_free(r->ad);
    lexie_model_free(r->m);
    lexie_ie_schema_free(r->schema);
    lexie_re_schema_free(r->rs);
    lx_ie_set_free(&r->set);
    for (int i = 0; i < r->n_pl; i++) lx_json_doc_free(r->pl[i]);
    free(r->pl);
    free(r->sel);
    free(r->stem);
    free(r->x_key);
    if (r->fd >= 0) close(r->fd);
}

void lx_ie_eval_result_clear(lx_ie_eval_result *r) {
    free(r->predictions);
    free(r->report_json);
    free(r->report_txt);
    free(r->table);
    memset(r, 0, sizeof *r);
}

/* Counts a document that failed alone (it gets no line; a rerun tries it
** again) and keeps the first message. */
static void doc_failed(lx_ie_eval_result *out, const lx_ie_doc *d, const char *msg) {
    if (out->n_errors++ == 0)
        snprintf(out->first_error, sizeof out->first_error, "%.60s: %.250s", d->id, msg);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* ==== Setup ==== */

static lexie_status select_docs(run *r, lexie_error *err) {
    const lx_ie_eval_params *p = r->p;
    int n = r->set.n;
    r->n_sel = p->sample > 0 && p->sample < n ? p->sample : n;
    if (!(r->sel = lx_eval_pick(n, r->n_sel, p->seed, NULL)))
        return lx_fail(err, LEXIE_E_NOMEM, "out of memory");
    if (r->n_sel < n) qsort(r->sel, (size_t)r->n_sel, sizeof *r->sel, cmp_int);
    return LEXIE_OK;
}

static lexie_status load_model(run *r, lexie_error *err) {
    const lx_ie_eval_params *p = r->p;
    lexie_status st = lexie_model_file_sha256(p->model, r->model_sha, err);
    if (st != LEXIE_OK) return st;
    lexie_model_params mp = lexie_model_default_params();
    mp.chat_template = p->chat_template;
    if (!(r->m = lexie_model_load(p->model, &mp, err))) return err ? err->code : LEXIE_E_INVALID;
    lexie_ctx_params cp = lexie_ctx_default_params();
    int train = lexie_model_n_ctx_train(r->m);
    cp.n_ctx = p->n_ctx > 0 ? p->n_ctx : LX_MIN(train > 0 ? train : 4096, 4096 + 1536 * p->batch);
    cp.n_seq_max = p->batch + 1;
    cp.n_threads = p->threads;
    if (!(r->c = lexie_ctx_new(r->m, &cp, err))) return err ? err->code : LEXIE_E_NOMEM;
    if (p->lora) {
        if (!(r->ad = lexie_adapter_load(r->m, p->lora, err))) return err ? err->code : LEXIE_E_IO;
        return lexie_ctx_set_adapter(r->c, r->ad, p->lora_scale, err);
    }
    return LEXIE_OK;
}

/* The task objects of lexie's own prompts (not Few-NERD's, made per type
** list as documents come). */
static lexie_status make_tasks(run *r, lexie_error *err) {
    if (r->p->native) return LEXIE_OK;
    lexie_extract_params xp = lexie_extract_default_params();
    xp.max_tokens = r->p->max_tokens;
    switch (r->d->kind) {
    case LX_IE_NER:
    case LX_IE_EVENTS:
        xp.task = r->d->kind == LX_IE_NER ? LEXIE_TASK_NER : LEXIE_TASK_EVENTS;
        if (!(r->schema = lexie_ie_schema_parse(r->d->schema, strlen(r->d->schema), err)))
            return err ? err->code : LEXIE_E_FORMAT;
        break;
    case LX_IE_OPENIE: xp.task = LEXIE_TASK_OPENIE; break;
    case LX_IE_PUBMEDQA:
        if (!(r->g = lexie_grammar_from_gbnf(lx_pubmedqa_gbnf, strlen(lx_pubmedqa_gbnf), "root",
                                             err)) ||
            !(r->gv = lexie_grammar_vocab_new(r->m, err)))
            return err ? err->code : LEXIE_E_NOMEM;
        return LEXIE_OK;
    case LX_IE_ADELIE_SEMEVAL: {
        char *path = NULL;
        lexie_status st = lexie_re_schema_find("semeval", NULL, 0, &path, err);
        if (st == LEXIE_OK && !(r->rs = lexie_re_schema_load(path, err))) st = LEXIE_E_FORMAT;
        lexie_free(path);
        if (st != LEXIE_OK) return st;
        lexie_re_params rp = lexie_re_default_params();
        rp.batch = r->p->batch;
        return (r->re = lexie_re_new(r->c, r->rs, &rp, err)) ? LEXIE_OK : LEXIE_E_INVALID;
    }
    default: return LEXIE_OK;
    }
    return (r->x = lexie_extractor_new(r->c, r->schema, &xp, err)) ? LEXIE_OK : LEXIE_E_INVALID;
}

/* --shots K: K training documents drawn with the seed, shown to lexie's
** extractor as demonstrations (their gold answers in the task's shape). */
static lexie_status set_shots(run *r, const char *data_dir, lexie_error *err) {
    const lx_ie_eval_params *p = r->p;
    if (!p->shots) return LEXIE_OK;
    if (p->native || !r->x || (r->d->kind != LX_IE_NER && r->d->kind != LX_IE_EVENTS))
        return lx_fail(err, LEXIE_E_INVALID, "--shots is for the NER sets and PHEE");
    lx_ie_set train;
    lexie_status st = lx_ie_split_load(r->d, LX_IE_TRAIN, data_dir, &train, err);
    int k = LX_MIN(p->shots, train.n);
    int *pick = st == LEXIE_OK ? lx_eval_pick(train.n, k, p->seed ^ 0x5eedULL, NULL) : NULL;
    char **texts = lx_calloc((size_t)k + 1, sizeof *texts, err);
    char **answers = lx_calloc((size_t)k + 1, sizeof *answers, err);
    if (st == LEXIE_OK && (!pick || !texts || !answers)) st = LEXIE_E_NOMEM;
    for (int i = 0; i < k && st == LEXIE_OK; i++) {
        lx_jbuf b = {0};
        lx_ie_gold_answer(r->d, &train.docs[pick[i]], &b);
        texts[i] = train.docs[pick[i]].text;
        answers[i] = b.data;
        st = lx_jbuf_status(&b, err);
    }
    if (st == LEXIE_OK)
        st = lexie_extractor_set_demos(r->x, (const char *const *)texts,
                                       (const char *const *)answers, k, err);
    for (int i = 0; answers && i < k; i++) free(answers[i]);
    free(texts);
    free(answers);
    free(pick);
    lx_ie_set_free(&train);
    return st;
}

static lexie_status name_files(run *r, lx_ie_eval_result *out, lexie_error *err) {
    const lx_ie_eval_params *p = r->p;
    lx_jbuf b = {0};
    lx_jbuf_printf(&b, "lexie-ie-eval 1|%s|model=%s|data=%s|native=%d|max_tokens=%d|numerics=%d",
                   LX_EXTRACT_PROMPT_VERSION, r->model_sha, p->data, p->native, p->max_tokens,
                   LEXIE_NUMERICS_VERSION);
    lx_jbuf_puts(&b, lx_model_pack_key(r->m));
    /* Only a few-shot, train- or dev-split run adds to the key: other hashes stay. */
    if (p->split) lx_jbuf_printf(&b, "|split=%s", lx_ie_split_name(p->split));
    if (p->shots) lx_jbuf_printf(&b, "|shots=%d|seed=%llu", p->shots, (unsigned long long)p->seed);
    if (p->chat_template) {
        lx_jbuf_puts(&b, "|chat_template=");
        lx_jbuf_puts(&b, p->chat_template);
    }
    if (p->lora) {
        char sha[65];
        if (lx_sha256_file(p->lora, sha, err) != LEXIE_OK) {
            lx_jbuf_free(&b);
            return err->code;
        }
        lx_jbuf_printf(&b, "|lora=%s|lora_scale=%.9g", sha, (double)p->lora_scale);
    }
    lexie_status st = lx_jbuf_status(&b, err);
    if (st == LEXIE_OK) {
        lx_eval_config_hash(b.data, b.len, r->chash);
        lx_jbuf_reset(&b);
        lx_jbuf_printf(&b, "%s/%s%s%s%s%s", p->out_dir ? p->out_dir : "results", p->data,
                       p->split ? "-" : "", p->split ? lx_ie_split_name(p->split) : "",
                       p->native ? "-native" : "", p->lora ? "-lora" : "");
        if (p->shots) lx_jbuf_printf(&b, "-k%d-s%llu", p->shots, (unsigned long long)p->seed);
        lx_jbuf_printf(&b, "-%s", r->chash);
        st = lx_jbuf_status(&b, err);
    }
    if (st != LEXIE_OK) {
        lx_jbuf_free(&b);
        return st;
    }
    r->stem = b.data;
    lx_jbuf rep = {0};
    lx_jbuf_printf(&rep, "%s", r->stem);
    if (p->sample) lx_jbuf_printf(&rep, "-sample%d-s%llu", p->sample, (unsigned long long)p->seed);
    size_t n = strlen(r->stem) + 8, nr = rep.len + 16;
    out->predictions = lx_malloc(n, err);
    out->report_json = lx_malloc(nr, err);
    out->report_txt = lx_malloc(nr, err);
    if (out->predictions && out->report_json && out->report_txt && !rep.oom) {
        snprintf(out->predictions, n, "%s.jsonl", r->stem);
        snprintf(out->report_json, nr, "%s.report.json", rep.data);
        snprintf(out->report_txt, nr, "%s.report.txt", rep.data);
        st = LEXIE_OK;
    } else {
        st = lx_fail(err, LEXIE_E_NOMEM, "out of memory");
    }
    lx_jbuf_free(&rep);
    return st;
}

/* ==== The prediction file ==== */

static const char *line_id(const lx_json_doc *d) {
    return lx_json_string(lx_json_get(lx_json_root(d), "id"));
}

static int find_pred(const run *r, const char *id) {
    for (int i = 0; i < r->n_pl; i++)
        if (strcmp(line_id(r->pl[i]), id) == 0) return i;
    return -1;
}

static lexie_status keep_line(run *r, const char *s, size_t n, const char *path, int lineno,
                              lexie_error *err) {
    lx_json_doc *d = lx_json_parse(s, n, NULL, err);
    if (!d) return lx_fail_prefix(err, "%s:%d: ", path, lineno);
    if (!line_id(d)) {
        lx_json_doc_free(d);
        return lx_fail(err, LEXIE_E_FORMAT, "%s:%d: a prediction without a string id", path,
                       lineno);
    }
    if (lx_grow((void **)&r->pl, &r->cap_pl, (size_t)r->n_pl + 1, sizeof *r->pl, err) != LEXIE_OK) {
        lx_json_doc_free(d);
        return LEXIE_E_NOMEM;
    }
    r->pl[r->n_pl++] = d;
    return LEXIE_OK;
}

/* Reads the intact lines of the locked file; a torn last line is cut. */
static lexie_status load_preds(run *r, const char *path, off_t *end, lexie_error *err) {
    size_t len = 0;
    char *all = lx_read_file(path, (size_t)1 << 30, &len, err);
    if (!all) return err ? err->code : LEXIE_E_IO;
    size_t good = 0;
    int lineno = 0;
    lexie_status st = LEXIE_OK;
    for (size_t i = 0; i < len && st == LEXIE_OK;) {
        char *nl = memchr(all + i, '\n', len - i);
        if (!nl) break; /* torn: dropped */
        lineno++;
        st = keep_line(r, all + i, (size_t)(nl - all - i), path, lineno, err);
        i = (size_t)(nl - all) + 1;
        good = i;
    }
    free(all);
    if (st == LEXIE_OK && r->fd >= 0 && good < len && ftruncate(r->fd, (off_t)good) != 0)
        st = lx_fail(err, LEXIE_E_IO, "cannot trim %s: %s", path, strerror(errno));
    *end = (off_t)good;
    return st;
}

/* ==== Predicting ==== */

/* One batch's lines, one per document (NULL for a failed document). */
typedef struct batch {
    const lx_ie_doc *doc[64];
    char *line[64];
    int n;
    double seconds;
} batch;

static char *pred_line(const char *id, const char *output_json, const char *answer,
                       const char *table_json, int truncated, double seconds, lexie_error *err) {
    lx_jbuf b = {0};
    lx_jbuf_puts(&b, "{\"id\":");
    lx_jbuf_cstr(&b, id);
    if (output_json) {
        lx_jbuf_puts(&b, ",\"output\":");
        lx_jbuf_puts(&b, output_json);
    }
    if (answer) {
        lx_jbuf_puts(&b, ",\"answer\":");
        lx_jbuf_cstr(&b, answer);
    }
    if (table_json) {
        lx_jbuf_puts(&b, ",\"table\":");
        lx_jbuf_puts(&b, table_json);
    }
    if (truncated) lx_jbuf_puts(&b, ",\"truncated\":true");
    lx_jbuf_printf(&b, ",\"seconds\":%.4f}\n", seconds);
    if (lx_jbuf_status(&b, err) != LEXIE_OK) {
        lx_jbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The chat a document is asked with, where it is a chat: ADELIE's own
** turns (--native), or PubMedQA's one user turn (*owned, malloc'd).
** msgs holds 16. */
static lexie_status doc_chat(const run *r, const lx_ie_doc *d, lexie_chat_msg *msgs, int *n,
                             char **owned, lexie_error *err) {
    *owned = NULL;
    if (lx_ie_setdef_is_pubmedqa(r->d)) {
        if (!(*owned = lx_pubmedqa_prompt(d, r->d->kind == LX_IE_PUBMEDQA_LONG, err)))
            return LEXIE_E_NOMEM;
        msgs[0] = (lexie_chat_msg){"user", *owned};
        *n = 1;
        return LEXIE_OK;
    }
    *n = LX_MIN(d->n_turns, 16);
    for (int k = 0; k < *n; k++) msgs[k] = (lexie_chat_msg){d->turns[k].role, d->turns[k].content};
    return LEXIE_OK;
}

/* Chat prompts (ADELIE's own, PubMedQA's) answered greedily, all at
** once; PubMedQA's decisions under their grammar. */
static lexie_status predict_chat(run *r, batch *bt, lexie_error *err) {
    lexie_token *toks[64] = {0};
    int np[64] = {0};
    lx_gen_answer ans[64];
    memset(ans, 0, sizeof ans);
    lexie_status st = LEXIE_OK;
    for (int i = 0; i < bt->n && st == LEXIE_OK; i++) {
        lexie_chat_msg msgs[16];
        char *owned = NULL;
        int n = 0;
        st = doc_chat(r, bt->doc[i], msgs, &n, &owned, err);
        if (st == LEXIE_OK && !(toks[i] = lx_chat_tokens(r->m, msgs, n, 1, &np[i], NULL, err)))
            st = err ? err->code : LEXIE_E_NOMEM;
        free(owned);
    }
    lexie_gen_params gp = lexie_gen_default_params();
    gp.max_tokens = r->p->max_tokens;
    gp.grammar = r->g;
    gp.grammar_vocab = r->gv;
    double t0 = lx_time_now();
    if (st == LEXIE_OK)
        st = lx_generate_batch(r->c, (const lexie_token *const *)toks, np, bt->n, &gp, ans, err);
    bt->seconds = lx_time_now() - t0;
    for (int i = 0; i < bt->n; i++) {
        if (st == LEXIE_OK && !(bt->line[i] = pred_line(bt->doc[i]->id, NULL, ans[i].text, NULL,
                                                        ans[i].why == LEXIE_GEN_MAX_TOKENS ||
                                                            ans[i].why == LEXIE_GEN_CTX_FULL ||
                                                            ans[i].why == LEXIE_GEN_GRAMMAR_CUT,
                                                        bt->seconds / bt->n, err)))
            st = LEXIE_E_NOMEM;
        free(toks[i]);
        lx_gen_answer_clear(&ans[i]);
    }
    return st;
}

/* lexie's extractor over the documents' texts. */
static lexie_status predict_extract(lexie_extractor *x, batch *bt, const char **texts,
                                    lx_ie_eval_result *out, lexie_error *err) {
    lexie_extraction res[64];
    lexie_error de[64];
    memset(res, 0, sizeof res);
    double t0 = lx_time_now();
    lexie_status st = lexie_extract(x, texts, bt->n, res, de, err);
    bt->seconds = lx_time_now() - t0;
    for (int i = 0; i < bt->n; i++) {
        char *js = NULL;
        if (st == LEXIE_OK && de[i].code != LEXIE_OK) {
            doc_failed(out, bt->doc[i], de[i].message);
        } else if (st == LEXIE_OK && (st = lexie_extraction_json(&res[i], &js, err)) == LEXIE_OK &&
                   !(bt->line[i] =
                         pred_line(bt->doc[i]->id, js, NULL, NULL, 0, bt->seconds / bt->n, err))) {
            st = LEXIE_E_NOMEM;
        }
        lexie_free(js);
        lexie_extraction_clear(&res[i]);
    }
    return st;
}

/* Few-NERD through lexie's NER: the types come with each prompt. */
static lexie_status predict_fewnerd(run *r, batch *bt, lx_ie_eval_result *out, lexie_error *err) {
    lexie_status st = LEXIE_OK;
    for (int i = 0; i < bt->n && st == LEXIE_OK; i++) {
        lx_adelie_input in;
        lexie_error e;
        if (lx_adelie_input_parse(r->d, bt->doc[i], &in, &e) != LEXIE_OK) {
            doc_failed(out, bt->doc[i], e.message);
            continue;
        }
        lx_jbuf key = {0};
        for (int k = 0; k < in.n_types; k++) lx_jbuf_printf(&key, "%s,", in.types[k]);
        if (!r->x_key || !key.data || strcmp(r->x_key, key.data) != 0) {
            lexie_extractor_free(r->x);
            lexie_ie_schema_free(r->schema);
            r->x = NULL;
            free(r->x_key);
            r->x_key = key.data;
            key.data = NULL;
            lexie_extract_params xp = lexie_extract_default_params();
            xp.max_tokens = r->p->max_tokens;
            r->schema = lexie_ie_schema_from_types((const char *const *)in.types, in.n_types, err);
            if (!r->schema || !(r->x = lexie_extractor_new(r->c, r->schema, &xp, err)))
                st = err ? err->code : LEXIE_E_INVALID;
        }
        lx_jbuf_free(&key);
        batch one = {.doc = {bt->doc[i]}, .n = 1};
        const char *text = in.text;
        if (st == LEXIE_OK) st = predict_extract(r->x, &one, &text, out, err);
        bt->line[i] = one.line[0];
        bt->seconds += one.seconds;
        lx_adelie_input_clear(&in);
    }
    return st;
}

/* SemEval through QA4RE on the two marked entities. */
static lexie_status predict_semeval(run *r, batch *bt, lx_ie_eval_result *out, lexie_error *err) {
    lx_adelie_input in[64];
    lexie_re_example ex[64];
    lexie_re_result res[64];
    int ok[64], m = 0;
    memset(in, 0, sizeof in);
    memset(res, 0, sizeof res);
    for (int i = 0; i < bt->n; i++) {
        lexie_error e;
        ok[i] = lx_adelie_input_parse(r->d, bt->doc[i], &in[i], &e) == LEXIE_OK;
        if (!ok[i]) {
            doc_failed(out, bt->doc[i], e.message);
            continue;
        }
        ex[m++] = (lexie_re_example){
            in[i].text, in[i].spans[0], in[i].spans[1], in[i].spans[2], in[i].spans[3], NULL, NULL};
    }
    double t0 = lx_time_now();
    lexie_status st = m ? lexie_re_classify(r->re, ex, m, res, err) : LEXIE_OK;
    bt->seconds = lx_time_now() - t0;
    for (int i = 0, k = 0; i < bt->n; i++) {
        if (!ok[i]) continue;
        if (st == LEXIE_OK) {
            char *e1 = lx_re_span(in[i].text, in[i].spans[0], in[i].spans[1], err);
            char *e2 = lx_re_span(in[i].text, in[i].spans[2], in[i].spans[3], err);
            lx_jbuf a = {0};
            if (e1 && e2) lx_semeval_answer(e1, e2, lexie_re_schema_label(r->rs, res[k].label), &a);
            if (!e1 || !e2 || a.oom ||
                !(bt->line[i] = pred_line(bt->doc[i]->id, NULL, a.data ? a.data : "", NULL, 0,
                                          bt->seconds / m, err)))
                st = LEXIE_E_NOMEM;
            free(e1);
            free(e2);
            lx_jbuf_free(&a);
        }
        lexie_re_result_clear(&res[k++]);
        lx_adelie_input_clear(&in[i]);
    }
    return st;
}

/* On-demand tables through lexie ask, one at a time. */
static lexie_status predict_ondemand(run *r, batch *bt, lx_ie_eval_result *out, lexie_error *err) {
    lexie_status st = LEXIE_OK;
    for (int i = 0; i < bt->n && st == LEXIE_OK; i++) {
        lx_adelie_input in;
        lexie_table t = {0};
        lexie_error e;
        char *md = NULL, *js = NULL;
        double t0 = lx_time_now();
        if (lx_adelie_input_parse(r->d, bt->doc[i], &in, &e) != LEXIE_OK ||
            lexie_ask(r->c, in.instruction, in.text, r->p->max_tokens, &t, &e) != LEXIE_OK) {
            doc_failed(out, bt->doc[i], e.message);
            if (e.code == LEXIE_E_NOMEM) st = lx_fail(err, LEXIE_E_NOMEM, "%s", e.message);
        } else if ((st = lexie_table_markdown(&t, &md, err)) == LEXIE_OK &&
                   (st = lexie_table_json(&t, &js, err)) == LEXIE_OK) {
            double dt = lx_time_now() - t0;
            bt->seconds += dt;
            if (!(bt->line[i] = pred_line(bt->doc[i]->id, NULL, md, js, t.truncated, dt, err)))
                st = LEXIE_E_NOMEM;
        }
        lexie_free(md);
        lexie_free(js);
        lexie_table_clear(&t);
        lx_adelie_input_clear(&in);
    }
    return st;
}

static lexie_status predict_batch(run *r, batch *bt, lx_ie_eval_result *out, lexie_error *err) {
    if (r->p->native || lx_ie_setdef_is_pubmedqa(r->d)) return predict_chat(r, bt, err);
    switch (r->d->kind) {
    case LX_IE_ADELIE_FEWNERD: return predict_fewnerd(r, bt, out, err);
    case LX_IE_ADELIE_SEMEVAL: return predict_semeval(r, bt, out, err);
    case LX_IE_ADELIE_ONDEMAND: return predict_ondemand(r, bt, out, err);
    default: {
        const char *texts[64];
        for (int i = 0; i < bt->n; i++) texts[i] = bt->doc[i]->text;
        return predict_extract(r->x, bt, texts, out, err);
    }
    }
}

/* Predicts the selected documents the file lacks, appending batch by
** batch. */
static lexie_status predict_todo(run *r, off_t end, lx_ie_eval_result *out, lexie_error *err) {
    const lx_ie_eval_params *p = r->p;
    int *todo = lx_malloc((size_t)(r->n_sel + 1) * sizeof *todo, err), n = 0;
    if (!todo) return LEXIE_E_NOMEM;
    for (int i = 0; i < r->n_sel; i++)
        if (find_pred(r, r->set.docs[r->sel[i]].id) < 0) todo[n++] = r->sel[i];
    out->n_docs = r->n_sel;
    out->n_resumed = r->n_sel - n;
    if (p->limit > 0 && n > p->limit) n = p->limit;
    lexie_status st = LEXIE_OK;
    double t_all = 0;
    for (int k = 0; k < n && st == LEXIE_OK; k += p->batch) {
        batch bt;
        memset(&bt, 0, sizeof bt);
        bt.n = LX_MIN(p->batch, n - k);
        for (int i = 0; i < bt.n; i++) bt.doc[i] = &r->set.docs[todo[k + i]];
        st = predict_batch(r, &bt, out, err);
        lx_jbuf b = {0};
        for (int i = 0; i < bt.n; i++)
            if (bt.line[i]) lx_jbuf_puts(&b, bt.line[i]);
        if (st == LEXIE_OK) st = lx_jbuf_status(&b, err);
        if (st == LEXIE_OK && b.len)
            st = lx_predfile_append(r->fd, b.data, b.len, &end, out->predictions, err);
        for (int i = 0; i < bt.n; i++) {
            /* Keep what was written, for the report. */
            if (st == LEXIE_OK && bt.line[i])
                st = keep_line(r, bt.line[i], strlen(bt.line[i]) - 1, out->predictions, 0, err);
            out->n_computed += st == LEXIE_OK && bt.line[i];
            free(bt.line[i]);
        }
        lx_jbuf_free(&b);
        t_all += bt.seconds;
        if (p->on_progress)
            p->on_progress(k + bt.n, n, t_all > 0 ? (k + bt.n) / t_all : 0, p->user);
    }
    free(todo);
    return st;
}

/* ==== Training data ==== */

/* The selection as chat JSONL for lexie train sft: each document's exact
** prompt (lexie's extractor with its demonstrations, or the chat of
** doc_chat), then its gold answer as the assistant's turn. */
static lexie_status export_sft(run *r, lx_ie_eval_result *out, lexie_error *err) {
    lx_jbuf all = {0};
    lexie_status st = LEXIE_OK;
    for (int i = 0; i < r->n_sel && st == LEXIE_OK; i++) {
        const lx_ie_doc *d = &r->set.docs[r->sel[i]];
        char *line = NULL;
        if (r->x) {
            lx_jbuf a = {0};
            lx_ie_gold_answer(r->d, d, &a);
            st = lx_jbuf_status(&a, err);
            if (st == LEXIE_OK) st = lexie_extractor_sft_line(r->x, d->text, a.data, &line, err);
            lx_jbuf_free(&a);
        } else {
            lexie_chat_msg msgs[17];
            char *owned = NULL;
            int n = 0;
            st = doc_chat(r, d, msgs, &n, &owned, err);
            msgs[n++] = (lexie_chat_msg){"assistant", d->gold_answer};
            if (st == LEXIE_OK && !(line = lx_chat_sft_line(msgs, n, err))) st = LEXIE_E_NOMEM;
            free(owned);
        }
        if (st != LEXIE_OK) lx_fail_prefix(err, "%s: ", d->id);
        lx_jbuf_puts(&all, line ? line : "");
        lx_jbuf_putc(&all, '\n');
        lexie_free(line);
    }
    if (st == LEXIE_OK) st = lx_jbuf_status(&all, err);
    if (st == LEXIE_OK) st = lx_write_file_atomic(r->p->sft_out, all.data, all.len, err);
    if (st == LEXIE_OK) out->n_docs = r->n_sel;
    lx_jbuf_free(&all);
    return st;
}

/* ==== The report ==== */

static lexie_status report(run *r, lx_ie_eval_result *out, lexie_error *err) {
    const lx_ie_eval_params *p = r->p;
    lx_ie_tally t;
    memset(&t, 0, sizeof t);
    lexie_status st = LEXIE_OK;
    for (int i = 0; i < r->n_sel && st == LEXIE_OK; i++) {
        const lx_ie_doc *g = &r->set.docs[r->sel[i]];
        int k = find_pred(r, g->id);
        if (k >= 0) st = lx_ie_tally_add(&t, r->d, g, lx_json_root(r->pl[k]), p->native, err);
    }
    lx_jbuf j = {0}, x = {0};
    lx_jbuf_printf(&j, "{\"lexie\":\"%s\",\"data\":", lexie_version());
    lx_jbuf_cstr(&j, p->data);
    lx_jbuf_printf(&j, ",\"prompts\":\"%s\",\"prompt_version\":\"%s\",\"model\":",
                   p->native ? "adelie" : "lexie", LX_EXTRACT_PROMPT_VERSION);
    lx_jbuf_cstr(&j, lexie_model_name(r->m));
    lx_jbuf_printf(&j,
                   ",\"model_sha256\":\"%s\",\"selected\":%d,\"sample\":%d,\"seed\":%llu,"
                   "\"max_tokens\":%d,\"batch\":%d,\"numerics\":%d,\"packed\":%d",
                   r->model_sha, r->n_sel, p->sample, (unsigned long long)p->seed, p->max_tokens,
                   p->batch, LEXIE_NUMERICS_VERSION, lexie_model_n_packed(r->m));
    if (r->schema)
        lx_jbuf_printf(&j, ",\"schema_sha256\":\"%s\"", lexie_ie_schema_sha256(r->schema));
    lx_jbuf_printf(&x, "%s on %s (%s prompts), %d of %d selected documents predicted\n", p->data,
                   lexie_model_name(r->m), p->native ? "ADELIE's" : "lexie's", (int)0, r->n_sel);
    if (st == LEXIE_OK) st = lx_ie_tally_report(&t, r->d, &j, &x, err);
    lx_jbuf_putc(&j, '}');
    lx_jbuf_putc(&j, '\n');
    /* The predicted count in the first line, now known. */
    if (st == LEXIE_OK && !x.oom) {
        lx_jbuf x2 = {0};
        const char *nl = strchr(x.data, '\n');
        lx_jbuf_printf(&x2, "%s on %s (%s prompts), %lld of %d selected documents predicted%s",
                       p->data, lexie_model_name(r->m), p->native ? "ADELIE's" : "lexie's",
                       (long long)t.n_docs, r->n_sel, nl);
        lx_jbuf_free(&x);
        x = x2;
    }
    if (st == LEXIE_OK) st = lx_jbuf_status(&j, err);
    if (st == LEXIE_OK) st = lx_jbuf_status(&x, err);
    if (st == LEXIE_OK) st = lx_write_file_atomic(out->report_json, j.data, j.len, err);
    if (st == LEXIE_OK) st = lx_write_file_atomic(out->report_txt, x.data, x.len, err);
    if (st == LEXIE_OK) {
        out->table = x.data;
        x.data = NULL;
    }
    lx_jbuf_free(&j);
    lx_jbuf_free(&x);
    lx_ie_tally_free(&t);
    return st;
}

static lexie_status check_params(const lx_ie_eval_params *p, const lx_ie_setdef **d,
                                 lexie_error *err) {
    if (!p->data || !(*d = lx_ie_setdef_find(p->data)))
        return lx_fail(err, LEXIE_E_INVALID, "unknown data set '%s' (known: %s)",
                       p->data ? p->data : "", lx_ie_setdef_names());
    if (p->native && !lx_ie_setdef_has_native(*d))
        return lx_fail(err, LEXIE_E_INVALID, "--native is for the ADELIE sets only");
    if ((p->split == LX_IE_TRAIN && !(*d)->train) || (p->split == LX_IE_DEV && !(*d)->dev))
        return lx_fail(err, LEXIE_E_INVALID, "%s has no %s split here", (*d)->name,
                       lx_ie_split_name(p->split));
    /* Training data needs a prompt whose answer is the gold one as it
    ** stands: lexie's extractor (NER, events), a chat (--native, PubMedQA). */
    if (p->sft_out && (p->report_only || !((*d)->kind == LX_IE_NER || (*d)->kind == LX_IE_EVENTS ||
                                           p->native || lx_ie_setdef_is_pubmedqa(*d))))
        return lx_fail(err, LEXIE_E_INVALID,
                       "--export-sft is for the NER sets, PHEE, PubMedQA and --native (and not "
                       "with --report)");
    if (!p->model) return lx_fail(err, LEXIE_E_INVALID, "no model");
    if (p->batch < 1 || p->batch > 63 || p->max_tokens < 1 || p->sample < 0 || p->limit < 0)
        return lx_fail(err, LEXIE_E_INVALID, "batch 1..63, max_tokens >= 1, sample and limit >= 0");
    return LEXIE_OK;
}

lexie_status lx_ie_eval_run(const lx_ie_eval_params *p, lx_ie_eval_result *out, lexie_error *err) {
    memset(out, 0, sizeof *out);
    run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.fd = -1;
    const char *dir = p->data_dir ? p->data_dir : getenv("LEXIE_DATA");
    lexie_status st = check_params(p, &r.d, err);
    const char *data = dir ? dir : "../shared/data";
    if (st == LEXIE_OK) st = lx_ie_split_load(r.d, p->split, data, &r.set, err);
    if (st == LEXIE_OK) st = select_docs(&r, err);
    if (st == LEXIE_OK) st = load_model(&r, err);
    if (st == LEXIE_OK && !p->report_only) st = make_tasks(&r, err);
    if (st == LEXIE_OK && !p->report_only) st = set_shots(&r, data, err);
    if (p->sft_out) {
        if (st == LEXIE_OK) st = export_sft(&r, out, err);
        run_free(&r);
        return st;
    }
    if (st == LEXIE_OK) st = name_files(&r, out, err);
    if (st == LEXIE_OK) mkdir(p->out_dir ? p->out_dir : "results", 0755);
    off_t end = 0;
    /* A report alone reads the file as it stands, beside a run that may be
    ** appending to it (a torn last line is left out, not cut). */
    if (st == LEXIE_OK && !p->report_only) st = lx_predfile_lock(out->predictions, &r.fd, err);
    if (st == LEXIE_OK) st = load_preds(&r, out->predictions, &end, err);
    if (st == LEXIE_OK && !p->report_only) st = predict_todo(&r, end, out, err);
    if (st == LEXIE_OK && p->report_only) {
        out->n_docs = r.n_sel;
        for (int i = 0; i < r.n_sel; i++)
            out->n_resumed += find_pred(&r, r.set.docs[r.sel[i]].id) >= 0;
    }
    /* A report also after a failed batch: what was saved still counts. */
    if (r.m && r.n_pl > 0) {
        lexie_error e2;
        lexie_status st2 = report(&r, out, st == LEXIE_OK ? err : &e2);
        if (st == LEXIE_OK) st = st2;
    }
    run_free(&r);
    return st;
}
