/*
** extract.c -- the extractor: one task and schema over a context.
**
** A call takes a batch of documents.  Each document is split into pieces
** that fit the context (ie/chunk.c: at sentence boundaries, neighbours
** overlapping), each piece becomes a prompt whose instruction prefix all
** pieces share, and all pieces are answered together under the task's
** grammar (decode/generate_batch.c).  Answers are read back with their
** spans grounded and shifted to document offsets (answer.c), and the
** pieces of a document merged without duplicates.  For relations by
** QA4RE, the entities found are paired (ordered pairs whose types some
** relation admits, within one piece) and classified by the relation
** classifier (ie/re/).
*/
#include "extract.h"

#include "ie/ground.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_TOKENS 512
/* A small model extracts worse from very long inputs: pieces default to
** at most this many tokens even when the context holds more. */
#define DEFAULT_PIECE_TOKENS 1024

struct lexie_extractor {
    lexie_ctx *c;
    const lx_ie_schema *s;
    lexie_extract_params p;
    char *instruction, *answer_schema;
    lexie_grammar *g;
    lexie_grammar_vocab *v;
    lexie_re *re;     /* TASK_RE by QA4RE */
    char **demo;      /* few-shot turns: text, answer, text, answer, ... */
    int n_demo;       /* pairs */
    int overhead;     /* prompt tokens around the text */
    int piece_tokens; /* the most text tokens a piece may hold */
};

lexie_extract_params lexie_extract_default_params(void) {
    lexie_extract_params p;
    memset(&p, 0, sizeof p);
    p.chunk_overlap = 1;
    return p;
}

/* ==== Prompts ==== */

/* The chat: each demonstration as a user turn and the assistant's answer,
** then the document's turn and, for training data, its answer; every user
** turn is the instruction and a text, so the demonstrations are a prefix
** all documents share.  *msgs and *turns (the user turns, n_demo + 1)
** malloc'd; the caller frees them with free_chat. */
static lexie_status build_chat(const lexie_extractor *x, const char *text, const char *answer,
                               lexie_chat_msg **msgs, char ***turns, int *nm, lexie_error *err) {
    *nm = 2 * x->n_demo + 1 + (answer != NULL);
    *msgs = lx_calloc((size_t)*nm, sizeof **msgs, err);
    *turns = lx_calloc((size_t)x->n_demo + 1, sizeof **turns, err);
    lexie_status st = *msgs && *turns ? LEXIE_OK : LEXIE_E_NOMEM;
    for (int i = 0; i <= x->n_demo && st == LEXIE_OK; i++) {
        const char *t = i < x->n_demo ? x->demo[2 * i] : text;
        if (!((*turns)[i] = lx_extract_user_turn(x->instruction, t, err))) st = LEXIE_E_NOMEM;
        (*msgs)[2 * i] = (lexie_chat_msg){"user", (*turns)[i]};
        if (i < x->n_demo) (*msgs)[2 * i + 1] = (lexie_chat_msg){"assistant", x->demo[2 * i + 1]};
    }
    if (answer) (*msgs)[*nm - 1] = (lexie_chat_msg){"assistant", answer};
    return st;
}

static void free_chat(const lexie_extractor *x, lexie_chat_msg *msgs, char **turns) {
    for (int i = 0; turns && i <= x->n_demo; i++) free(turns[i]);
    free(turns);
    free(msgs);
}

static lexie_status render(lexie_extractor *x, const char *text, char **out_text,
                           lexie_token **toks, int *n, lexie_error *err) {
    lexie_chat_msg *msgs;
    char **turns;
    int nm;
    lexie_status st = build_chat(x, text, NULL, &msgs, &turns, &nm, err);
    if (st == LEXIE_OK && toks)
        st = (*toks = lx_chat_tokens(x->c->model, msgs, nm, 1, n, out_text, err))
                 ? LEXIE_OK
                 : (err ? err->code : LEXIE_E_NOMEM);
    else if (st == LEXIE_OK)
        st = lexie_chat_apply(x->c->model, msgs, nm, 1, out_text, err);
    free_chat(x, msgs, turns);
    return st;
}

lexie_status lexie_extractor_prompt(lexie_extractor *x, const char *text, char **out,
                                    lexie_error *err) {
    *out = NULL;
    if (!text || !lx_utf8_valid(text, strlen(text), NULL))
        return lx_fail(err, LEXIE_E_UTF8, "extract: the text is not valid UTF-8");
    return render(x, text, out, NULL, NULL, err);
}

/* An answer as the model writes it under the task's grammar (*norm,
** malloc'd), or LEXIE_E_INVALID naming what (what: "demonstration 3"). */
static lexie_status fit_answer(lexie_matcher *m, const char *answer, const char *what, char **norm,
                               lexie_error *err) {
    lexie_status st = lx_extract_answer_normalize(answer, norm, err);
    if (st != LEXIE_OK) {
        if (st == LEXIE_E_NOMEM) return st;
        lx_fail_prefix(err, "extract: %s: the answer is not JSON: ", what);
        if (err) err->code = LEXIE_E_INVALID;
        return LEXIE_E_INVALID;
    }
    lexie_matcher_reset(m);
    if (!lexie_matcher_accept_bytes(m, *norm, strlen(*norm)) || !lexie_matcher_is_accepting(m)) {
        free(*norm);
        *norm = NULL;
        return lx_fail(err, LEXIE_E_INVALID,
                       "extract: %s: the answer does not fit the task's answer schema (types, "
                       "roles and labels must be the schema's)",
                       what);
    }
    return LEXIE_OK;
}

lexie_status lexie_extractor_sft_line(lexie_extractor *x, const char *text, const char *answer,
                                      char **out, lexie_error *err) {
    if (out) *out = NULL;
    if (!x || !text || !answer || !out)
        return lx_fail(err, LEXIE_E_INVALID, "lexie_extractor_sft_line: NULL argument");
    if (!lx_utf8_valid(text, strlen(text), NULL))
        return lx_fail(err, LEXIE_E_UTF8, "extract: the text is not valid UTF-8");
    lexie_matcher *m = lexie_matcher_new(x->g, x->v, err);
    if (!m) return err ? err->code : LEXIE_E_NOMEM;
    char *norm = NULL, **turns = NULL;
    lexie_chat_msg *msgs = NULL;
    int nm = 0;
    lexie_status st = fit_answer(m, answer, "training line", &norm, err);
    lexie_matcher_free(m);
    if (st == LEXIE_OK) st = build_chat(x, text, norm, &msgs, &turns, &nm, err);
    if (st == LEXIE_OK && !(*out = lx_chat_sft_line(msgs, nm, err))) st = LEXIE_E_NOMEM;
    free_chat(x, msgs, turns);
    free(norm);
    return st;
}

/* ==== Creation ==== */

static lexie_status check_task(const lx_ie_schema *s, const lexie_extract_params *p,
                               lexie_error *err) {
    int has_types = s && (s->n_entities || (s->rel && s->rel->n_entity_types));
    switch (p->task) {
    case LEXIE_TASK_NER:
        if (!has_types) return lx_fail(err, LEXIE_E_INVALID, "extract: NER needs entity types");
        return LEXIE_OK;
    case LEXIE_TASK_RE:
        if (!s || !s->rel)
            return lx_fail(err, LEXIE_E_INVALID, "extract: RE needs a relations section");
        if (!has_types)
            return lx_fail(err, LEXIE_E_INVALID,
                           "extract: RE needs entity types (an entities section or entity_types)");
        return LEXIE_OK;
    case LEXIE_TASK_EVENTS:
        if (!s || !s->n_events)
            return lx_fail(err, LEXIE_E_INVALID, "extract: events need an events section");
        return LEXIE_OK;
    case LEXIE_TASK_OPENIE: return LEXIE_OK;
    }
    return lx_fail(err, LEXIE_E_INVALID, "extract: unknown task %d", (int)p->task);
}

/* The most text tokens a piece may hold: what the context leaves after the
** prompt (instruction, demonstrations, chat markup) and the answer. */
static lexie_status set_budget(lexie_extractor *x, lexie_error *err) {
    lexie_token *t = NULL;
    lexie_status st = render(x, "", NULL, &t, &x->overhead, err);
    free(t);
    if (st != LEXIE_OK) return st;
    int room = lexie_ctx_n_ctx(x->c) - x->overhead - x->p.max_tokens - 8;
    x->piece_tokens =
        x->p.chunk_tokens > 0 ? x->p.chunk_tokens : LX_MIN(room, DEFAULT_PIECE_TOKENS);
    if (x->piece_tokens > room || x->piece_tokens < 16)
        return lx_fail(err, LEXIE_E_RANGE,
                       "extract: the context (%d tokens) leaves %d tokens for text after the "
                       "prompt (%d) and the answer (%d); give a larger context",
                       lexie_ctx_n_ctx(x->c), room, x->overhead, x->p.max_tokens);
    return LEXIE_OK;
}

static lexie_status setup(lexie_extractor *x, lexie_error *err) {
    lexie_status st = lx_extract_instruction(x->s, &x->p, &x->instruction, err);
    if (st == LEXIE_OK) st = lx_extract_answer_schema(x->s, &x->p, &x->answer_schema, err);
    if (st != LEXIE_OK) return st;
    lexie_grammar_params gp = lexie_grammar_default_params();
    gp.compact_spaced = 1; /* ", " and ": ", as models write JSON; no other whitespace */
    x->g = lexie_grammar_from_json_schema(x->answer_schema, strlen(x->answer_schema), &gp, err);
    if (!x->g) return lx_fail_prefix(err, "extract: the answer schema: ");
    if (!(x->v = lexie_grammar_vocab_new(x->c->model, err))) return err ? err->code : LEXIE_E_NOMEM;
    if ((st = set_budget(x, err)) != LEXIE_OK) return st;
    if (x->p.task == LEXIE_TASK_RE && !x->p.re_generate) {
        lexie_re_params rp = lexie_re_default_params();
        if (!(x->re = lexie_re_new(x->c, x->s->rel, &rp, err)))
            return err ? err->code : LEXIE_E_NOMEM;
    }
    return LEXIE_OK;
}

lexie_extractor *lexie_extractor_new(lexie_ctx *c, const lexie_ie_schema *s,
                                     const lexie_extract_params *pp, lexie_error *err) {
    lexie_extract_params p = pp ? *pp : lexie_extract_default_params();
    if (!c) {
        lx_fail(err, LEXIE_E_INVALID, "extract: no context");
        return NULL;
    }
    if (p.max_tokens <= 0) p.max_tokens = DEFAULT_MAX_TOKENS;
    if (p.chunk_overlap < 0) p.chunk_overlap = 0;
    if (check_task(s, &p, err) != LEXIE_OK) return NULL;
    lexie_extractor *x = lx_calloc(1, sizeof *x, err);
    if (!x) return NULL;
    x->c = c;
    x->s = s;
    x->p = p;
    if (setup(x, err) != LEXIE_OK) {
        lexie_extractor_free(x);
        return NULL;
    }
    return x;
}

static void demos_free(lexie_extractor *x) {
    for (int i = 0; i < 2 * x->n_demo; i++) free(x->demo[i]);
    free(x->demo);
    x->demo = NULL;
    x->n_demo = 0;
}

void lexie_extractor_free(lexie_extractor *x) {
    if (!x) return;
    demos_free(x);
    free(x->instruction);
    free(x->answer_schema);
    lexie_grammar_free(x->g);
    lexie_grammar_vocab_free(x->v);
    lexie_re_free(x->re);
    free(x);
}

/* ==== Pieces ==== */

/* One piece of one document, as prompted. */
typedef struct piece {
    int doc;
    lx_chunk ch;
    lexie_token *toks;
    int n_toks;
} piece;

static int count_tokens(const char *s, size_t n, void *user, lexie_error *err) {
    lexie_extractor *x = user;
    int n_tok = 0;
    lexie_error e; /* counting ends in LEXIE_E_RANGE by design */
    lexie_status st = lexie_tokenize(x->c->model, s, n, 0, 0, NULL, 0, &n_tok, &e);
    if (st == LEXIE_OK || st == LEXIE_E_RANGE) return n_tok;
    if (err) *err = e;
    return -1;
}

/* Splits document d into pieces appended to *ps. */
static lexie_status plan_doc(lexie_extractor *x, const char *text, int d, piece **ps, int *n_ps,
                             size_t *cap, lexie_error *err) {
    size_t len = strlen(text);
    if (!lx_utf8_valid(text, len, NULL))
        return lx_fail(err, LEXIE_E_UTF8, "the text is not valid UTF-8");
    lx_chunk *ch = NULL;
    int n_ch = 0;
    int whole = count_tokens(text, len, x, err);
    if (whole < 0) return err ? err->code : LEXIE_E_INTERNAL;
    if (whole > x->piece_tokens && x->p.no_chunk)
        return lx_fail(err, LEXIE_E_RANGE,
                       "the text has %d tokens and pieces hold %d; chunking is off", whole,
                       x->piece_tokens);
    lexie_status st = lx_chunk_plan(text, len, x->piece_tokens, x->p.chunk_overlap, count_tokens, x,
                                    &ch, &n_ch, err);
    for (int k = 0; k < n_ch && st == LEXIE_OK; k++) {
        if ((st = lx_grow((void **)ps, cap, (size_t)*n_ps + 1, sizeof **ps, err)) != LEXIE_OK)
            break;
        piece *p = &(*ps)[(*n_ps)++];
        memset(p, 0, sizeof *p);
        p->doc = d;
        p->ch = ch[k];
        char *sub = lx_strndup(text + ch[k].byte_start, ch[k].byte_end - ch[k].byte_start, err);
        st = sub ? render(x, sub, NULL, &p->toks, &p->n_toks, err) : LEXIE_E_NOMEM;
        free(sub);
    }
    free(ch);
    return st;
}

/* ==== Relations by QA4RE ==== */

/* The pairs of one piece: ordered pairs of grounded entities inside it,
** not overlapping, whose types some relation admits, not yet classified
** (done[h * ne + t]); examples use the piece's text and offsets. */
static int piece_pairs(const lx_re_schema *rs, const lexie_extraction *out, const lx_chunk *ch,
                       const char *sub, char *done, int *cand, lexie_re_example *ex, int *hs) {
    const lexie_mention *e = out->entities;
    int ne = out->n_entities, n = 0, c0 = ch->cp_start, c1 = ch->cp_end;
    for (int h = 0; h < ne; h++)
        for (int t = 0; t < ne; t++) {
            if (h == t || e[h].match == LEXIE_MATCH_NONE || e[t].match == LEXIE_MATCH_NONE ||
                done[h * ne + t])
                continue;
            int inside = e[h].start >= c0 && e[h].end <= c1 && e[t].start >= c0 && e[t].end <= c1;
            int overlap = e[h].start < e[t].end && e[t].start < e[h].end;
            if (!inside || overlap || !lx_re_schema_candidates(rs, e[h].type, e[t].type, cand))
                continue;
            done[h * ne + t] = 1;
            ex[n] =
                (lexie_re_example){sub,           e[h].start - c0, e[h].end - c0, e[t].start - c0,
                                   e[t].end - c0, e[h].type,       e[t].type};
            hs[2 * n] = h;
            hs[2 * n + 1] = t;
            n++;
        }
    return n;
}

/* Adds the relations QA4RE finds (not none of the above). */
static lexie_status add_relations(const lx_re_schema *rs, const lexie_re_result *res, const int *hs,
                                  int n, lexie_extraction *out, lexie_error *err) {
    for (int i = 0; i < n; i++) {
        if (res[i].label == rs->n_rels) continue;
        lexie_relation *r = lx_push((void **)&out->relations, &out->n_relations, sizeof *r, err);
        if (!r) return LEXIE_E_NOMEM;
        *r = (lexie_relation){hs[2 * i], hs[2 * i + 1], NULL, res[i].probs[res[i].label]};
        if (!(r->label = lx_strdup(rs->rels[res[i].label].label, err))) return LEXIE_E_NOMEM;
    }
    return LEXIE_OK;
}

/* Relations by QA4RE between the entities of document d: each pair is
** classified once, in the first piece that holds both (a piece, not the
** whole document, is the sentence context QA4RE reads). */
static lexie_status classify_pairs(lexie_extractor *x, const char *text, const piece *ps, int n_ps,
                                   int d, lexie_extraction *out, lexie_error *err) {
    const lx_re_schema *rs = x->s->rel;
    size_t ne = (size_t)out->n_entities;
    int *cand = lx_malloc(((size_t)rs->n_rels + 1) * sizeof *cand, err);
    char *done = lx_calloc(ne * ne + 1, 1, err);
    lexie_re_example *ex = lx_calloc(ne * ne + 1, sizeof *ex, err);
    int *hs = lx_calloc(ne * ne + 1, 2 * sizeof *hs, err);
    lexie_re_result *res = lx_calloc(ne * ne + 1, sizeof *res, err);
    lexie_status st = cand && done && ex && hs && res ? LEXIE_OK : LEXIE_E_NOMEM;
    for (int k = 0; k < n_ps && st == LEXIE_OK; k++) {
        if (ps[k].doc != d) continue;
        const lx_chunk *ch = &ps[k].ch;
        char *sub = lx_strndup(text + ch->byte_start, ch->byte_end - ch->byte_start, err);
        int n = sub ? piece_pairs(rs, out, ch, sub, done, cand, ex, hs) : 0;
        st = !sub ? LEXIE_E_NOMEM : n ? lexie_re_classify(x->re, ex, n, res, err) : LEXIE_OK;
        if (st == LEXIE_OK) st = add_relations(rs, res, hs, n, out, err);
        for (int i = 0; i < n; i++) lexie_re_result_clear(&res[i]);
        free(sub);
    }
    free(cand);
    free(done);
    free(ex);
    free(hs);
    free(res);
    return st;
}

/* ==== Extraction ==== */

/* Merges what overlapping pieces found twice. */
static lexie_status dedup(lexie_extraction *x, lexie_error *err) {
    int n0 = x->n_entities;
    int *remap = lx_malloc(((size_t)n0 + 1) * sizeof *remap, err);
    lexie_status st =
        remap ? lx_mentions_dedupe(x->entities, &x->n_entities, remap, err) : LEXIE_E_NOMEM;
    for (int i = 0; i < x->n_relations && st == LEXIE_OK; i++) {
        x->relations[i].head = remap[x->relations[i].head];
        x->relations[i].tail = remap[x->relations[i].tail];
    }
    free(remap);
    if (st == LEXIE_OK) st = lx_relations_dedupe(x->relations, &x->n_relations, err);
    if (st == LEXIE_OK) st = lx_events_dedupe(x->events, &x->n_events, err);
    if (st == LEXIE_OK) st = lx_triples_dedupe(x->triples, &x->n_triples, err);
    return st;
}

/* Reads each piece's answer into its document; a piece's failure becomes
** its document's. */
static lexie_status read_answers(lexie_extractor *x, const char *const *texts, const piece *ps,
                                 int n_ps, const lx_gen_answer *ans, lexie_extraction *out,
                                 lexie_error *doc_err) {
    for (int k = 0; k < n_ps; k++) {
        int d = ps[k].doc;
        if (doc_err[d].code != LEXIE_OK) continue;
        const lx_chunk *ch = &ps[k].ch;
        lx_answer_ctx ac = {texts[d] + ch->byte_start, ch->byte_end - ch->byte_start,
                            (long)ch->byte_start, ch->cp_start, x->p.fuzzy_min};
        lexie_status st = lx_extract_read_answer(&ac, &ans[k], &out[d], &doc_err[d]);
        if (st == LEXIE_E_NOMEM) return st;
        out[d].n_chunks++;
    }
    return LEXIE_OK;
}

static lexie_status extract_all(lexie_extractor *x, const char *const *texts, int n,
                                lexie_extraction *out, lexie_error *doc_err, lexie_error *err) {
    piece *ps = NULL;
    size_t cap = 0;
    int n_ps = 0;
    lexie_status st = LEXIE_OK;
    for (int d = 0; d < n && st != LEXIE_E_NOMEM; d++) {
        int before = n_ps;
        if (plan_doc(x, texts[d], d, &ps, &n_ps, &cap, &doc_err[d]) != LEXIE_OK) {
            for (int k = before; k < n_ps; k++) free(ps[k].toks);
            n_ps = before; /* the document fails alone */
            st = doc_err[d].code == LEXIE_E_NOMEM ? LEXIE_E_NOMEM : LEXIE_OK;
        }
    }
    const lexie_token **prompts = lx_calloc((size_t)n_ps + 1, sizeof *prompts, err);
    int *np = lx_calloc((size_t)n_ps + 1, sizeof *np, err);
    lx_gen_answer *ans = lx_calloc((size_t)n_ps + 1, sizeof *ans, err);
    if (st == LEXIE_OK && (!prompts || !np || !ans)) st = LEXIE_E_NOMEM;
    for (int k = 0; k < n_ps && st == LEXIE_OK; k++) {
        prompts[k] = ps[k].toks;
        np[k] = ps[k].n_toks;
    }
    lexie_gen_params gp = lexie_gen_default_params();
    gp.max_tokens = x->p.max_tokens;
    gp.grammar = x->g;
    gp.grammar_vocab = x->v;
    if (st == LEXIE_OK && n_ps) st = lx_generate_batch(x->c, prompts, np, n_ps, &gp, ans, err);
    if (st == LEXIE_OK) st = read_answers(x, texts, ps, n_ps, ans, out, doc_err);
    for (int d = 0; d < n && st == LEXIE_OK; d++) {
        if (doc_err[d].code != LEXIE_OK) continue;
        st = dedup(&out[d], err); /* pieces overlap; a model may name a span twice */
        if (st == LEXIE_OK && x->re) st = classify_pairs(x, texts[d], ps, n_ps, d, &out[d], err);
    }
    for (int k = 0; k < n_ps; k++) {
        free(ps[k].toks);
        lx_gen_answer_clear(&ans[k]);
    }
    free(ps);
    free(prompts);
    free(np);
    free(ans);
    return st;
}

lexie_status lexie_extract(lexie_extractor *x, const char *const *texts, int n,
                           lexie_extraction *out, lexie_error *doc_err, lexie_error *err) {
    if (!x || n < 0 || (n > 0 && (!texts || !out)))
        return lx_fail(err, LEXIE_E_INVALID, "extract: bad arguments");
    for (int d = 0; d < n; d++)
        if (!texts[d]) return lx_fail(err, LEXIE_E_INVALID, "extract: document %d has no text", d);
    lexie_error *de = doc_err ? doc_err : lx_calloc((size_t)n + 1, sizeof *de, err);
    if (!de) return LEXIE_E_NOMEM;
    for (int d = 0; d < n; d++) lx_error_clear(&de[d]);
    lexie_status st = extract_all(x, texts, n, out, de, err);
    if (st == LEXIE_OK && !doc_err)
        for (int d = 0; d < n; d++)
            if (de[d].code != LEXIE_OK) {
                st = lx_fail(err, de[d].code, "document %d: %s", d, de[d].message);
                break;
            }
    if (!doc_err) free(de);
    return st;
}

/* ==== Demonstrations ==== */

lexie_status lexie_extractor_set_demos(lexie_extractor *x, const char *const *texts,
                                       const char *const *answers, int n, lexie_error *err) {
    if (!x || n < 0 || (n > 0 && (!texts || !answers)))
        return lx_fail(err, LEXIE_E_INVALID, "extract: bad demonstrations");
    char **d = lx_calloc((size_t)2 * n + 1, sizeof *d, err);
    lexie_matcher *m = n ? lexie_matcher_new(x->g, x->v, err) : NULL;
    lexie_status st = !d ? LEXIE_E_NOMEM : n && !m ? (err ? err->code : LEXIE_E_NOMEM) : LEXIE_OK;
    for (int i = 0; i < n && st == LEXIE_OK; i++) {
        if (!texts[i] || !answers[i] || !lx_utf8_valid(texts[i], strlen(texts[i]), NULL)) {
            st = lx_fail(err, LEXIE_E_INVALID,
                         "extract: demonstration %d: no text or answer, "
                         "or not UTF-8",
                         i);
            break;
        }
        char what[32];
        snprintf(what, sizeof what, "demonstration %d", i);
        st = fit_answer(m, answers[i], what, &d[2 * i + 1], err);
        if (st != LEXIE_OK) break;
        if (!(d[2 * i] = lx_strdup(texts[i], err))) st = LEXIE_E_NOMEM;
    }
    lexie_matcher_free(m);
    if (st != LEXIE_OK) {
        for (int i = 0; d && i < 2 * n; i++) free(d[i]);
        free(d);
        return st;
    }
    demos_free(x);
    x->demo = d;
    x->n_demo = n;
    if ((st = set_budget(x, err)) != LEXIE_OK) {
        demos_free(x); /* too long for the context: none rather than these */
        set_budget(x, NULL);
    }
    return st;
}

/* One line of a demonstrations file: {"text": "...", "answer": {...}}. */
static lexie_status demo_line(const char *line, size_t len, const char *path, int lineno,
                              char **text, char **answer, lexie_error *err) {
    lx_json_doc *d = lx_json_parse(line, len, NULL, err);
    if (!d) return lx_fail_prefix(err, "%s:%d: ", path, lineno);
    const lx_json *t = lx_json_get(lx_json_root(d), "text");
    const lx_json *a = lx_json_get(lx_json_root(d), "answer");
    lexie_status st = LEXIE_OK;
    if (!t || t->type != LX_JSON_STRING || strlen(t->str) != t->len || !a ||
        a->type != LX_JSON_OBJECT)
        st = lx_fail(err, LEXIE_E_FORMAT,
                     "%s:%d: a demonstration is {\"text\": string, \"answer\": object}", path,
                     lineno);
    lx_jbuf b = {0};
    if (st == LEXIE_OK) {
        lx_jbuf_value(&b, a);
        st = lx_jbuf_status(&b, err);
    }
    if (st == LEXIE_OK && !(*text = lx_strdup(t->str, err))) st = LEXIE_E_NOMEM;
    if (st == LEXIE_OK)
        *answer = b.data;
    else
        lx_jbuf_free(&b);
    lx_json_doc_free(d);
    return st;
}

lexie_status lexie_extractor_load_demos(lexie_extractor *x, const char *path, lexie_error *err) {
    size_t len;
    char *all = lx_read_file(path, (size_t)16 << 20, &len, err);
    if (!all) return err ? err->code : LEXIE_E_IO;
    char **texts = NULL, **answers = NULL;
    int n = 0, lineno = 0;
    size_t cap = 0, cap2 = 0;
    lexie_status st = LEXIE_OK;
    for (char *p = all, *end = all + len; p < end && st == LEXIE_OK;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        if (strspn(p, " \t\r") < l) {
            if ((st = lx_grow((void **)&texts, &cap, (size_t)n + 1, sizeof *texts, err)) ||
                (st = lx_grow((void **)&answers, &cap2, (size_t)n + 1, sizeof *answers, err)))
                break;
            texts[n] = answers[n] = NULL;
            st = demo_line(p, l, path, lineno, &texts[n], &answers[n], err);
            n++;
        }
        p += l + 1;
    }
    free(all);
    if (st == LEXIE_OK)
        st = lexie_extractor_set_demos(x, (const char *const *)texts, (const char *const *)answers,
                                       n, err);
    for (int i = 0; i < n; i++) {
        free(texts[i]);
        free(answers[i]);
    }
    free(texts);
    free(answers);
    return st;
}
