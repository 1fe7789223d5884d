/*
** pairs.c -- ADELIE's preference-pair builder: for each gold example,
** sample n answers from the model (its chat template, one user turn),
** score each against the gold output (lexie_text_similarity), and keep the
** best as chosen and the worst as rejected when their scores differ by
** more than min_gap.  The output lines are the {"prompt", "chosen",
** "rejected"} JSONL that lexie_dpo_data_load reads.
**
** Gold lines are instruction data ({"instruction", "input"?, "output"},
** the prompt being the instruction, a blank line and the input, as the
** training data renders it), {"prompt", "output"}, or a chat of one user
** turn and the gold assistant turn ({"messages": [...]}, as `lexie eval re
** --export-sft` writes).  Sample k of line i
** is seeded by (seed, i, k), so a run repeats exactly.
*/
#include "base/json.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lexie_pairs_params lexie_pairs_default_params(void) {
    lexie_pairs_params p;
    memset(&p, 0, sizeof p);
    p.n = 5;
    p.temperature = 1.0f;
    p.metric = LEXIE_TEXT_F1;
    p.min_gap = 0.1;
    p.seed = 42;
    p.max_tokens = 256;
    return p;
}

/* A chat line {"messages": [user turn, assistant turn]} (as `lexie eval re
** --export-sft` writes them): the prompt and gold are the two contents.
** Returns 0 when o has no "messages". */
static int chat_gold(const lx_json *o, const char **prompt, const char **gold, int *bad) {
    const lx_json *m = lx_json_get(o, "messages");
    if (!m) return 0;
    const lx_json *u = lx_json_at(m, 0), *a = lx_json_at(m, 1);
    const char *ur = lx_json_string(lx_json_get(u, "role"));
    const char *ar = lx_json_string(lx_json_get(a, "role"));
    *prompt = lx_json_string(lx_json_get(u, "content"));
    *gold = lx_json_string(lx_json_get(a, "content"));
    *bad = m->type != LX_JSON_ARRAY || m->n != 2 || !ur || strcmp(ur, "user") != 0 || !ar ||
           strcmp(ar, "assistant") != 0 || !*prompt || !*gold;
    return 1;
}

/* The prompt (malloc'd) and gold output (borrowed from doc) of one line. */
static lexie_status read_gold(const lx_json *o, char **prompt, const char **gold,
                              lexie_error *err) {
    const char *chat_prompt = NULL;
    int bad = 0;
    if (chat_gold(o, &chat_prompt, gold, &bad)) {
        if (bad)
            return lx_fail(err, LEXIE_E_FORMAT,
                           "\"messages\" must be one user turn then one assistant turn (the "
                           "gold answer), with string roles and contents");
        *prompt = lx_strdup(chat_prompt, err);
        return *prompt ? LEXIE_OK : LEXIE_E_NOMEM;
    }
    const char *ins = lx_json_string(lx_json_get(o, "instruction"));
    const char *pr = lx_json_string(lx_json_get(o, "prompt"));
    const lx_json *in = lx_json_get(o, "input");
    *gold = lx_json_string(lx_json_get(o, "output"));
    if (!*gold || !ins == !pr || (in && in->type != LX_JSON_STRING && in->type != LX_JSON_NULL))
        return lx_fail(err, LEXIE_E_FORMAT,
                       "a line needs \"output\" and one of \"instruction\" (with an optional "
                       "\"input\") or \"prompt\", as strings; or \"messages\"");
    const char *tail = ins ? lx_json_string(in) : NULL, *head = ins ? ins : pr;
    if (tail && !*tail) tail = NULL;
    size_t n = strlen(head) + (tail ? strlen(tail) + 2 : 0) + 1;
    if (!(*prompt = lx_malloc(n, err))) return LEXIE_E_NOMEM;
    snprintf(*prompt, n, tail ? "%s\n\n%s" : "%s", head, tail);
    return LEXIE_OK;
}

/* Samples p->n answers to one prompt, scores them and reports the pair. */
static lexie_status one(lexie_ctx *c, const lexie_pairs_params *p, int line, const char *prompt,
                        const char *gold, lexie_pairs_callback cb, void *user, int *stop,
                        lexie_error *err) {
    int n_tok = 0;
    lexie_chat_msg msg = {"user", prompt};
    lexie_token *tok = lx_chat_tokens(c->model, &msg, 1, 1, &n_tok, NULL, err);
    if (!tok) return err ? err->code : LEXIE_E_INTERNAL;
    char *ans[64] = {0};
    double score[64];
    lexie_status s = LEXIE_OK;
    int best = 0, worst = 0;
    for (int k = 0; k < p->n && !s; k++) {
        lexie_gen_params gp = lexie_gen_default_params();
        gp.max_tokens = p->max_tokens;
        gp.sampler.temperature = p->temperature;
        gp.sampler.seed = lx_mix64(p->seed ^ lx_mix64(((uint64_t)line << 8) + (uint64_t)k));
        if ((s = lexie_generate(c, tok, n_tok, &gp, NULL, NULL, &ans[k], NULL, err))) break;
        score[k] = lexie_text_similarity(p->metric, ans[k], gold);
        if (score[k] < 0) s = lx_fail(err, LEXIE_E_NOMEM, "pairs: out of memory");
        if (score[k] > score[best]) best = k;
        if (score[k] < score[worst]) worst = k;
    }
    lx_jbuf b = {0};
    if (!s) {
        lexie_pair_out o = {line,
                            prompt,
                            ans[best],
                            ans[worst],
                            score[best],
                            score[worst],
                            score[best] - score[worst],
                            0,
                            NULL};
        o.kept = o.gap > p->min_gap;
        if (o.kept) {
            lx_jbuf_puts(&b, "{\"prompt\": ");
            lx_jbuf_cstr(&b, prompt);
            lx_jbuf_puts(&b, ", \"chosen\": ");
            lx_jbuf_cstr(&b, o.chosen);
            lx_jbuf_puts(&b, ", \"rejected\": ");
            lx_jbuf_cstr(&b, o.rejected);
            lx_jbuf_puts(&b, ", \"gap\": ");
            lx_jbuf_num(&b, o.gap);
            lx_jbuf_putc(&b, '}');
            s = lx_jbuf_status(&b, err);
            o.json = b.data;
        }
        if (!s && cb && cb(&o, user)) *stop = 1;
    }
    lx_jbuf_free(&b);
    for (int k = 0; k < p->n; k++) lexie_free(ans[k]);
    free(tok);
    return s;
}

lexie_status lexie_pairs_build(lexie_ctx *c, const char *gold_path, const lexie_pairs_params *p,
                               lexie_pairs_callback cb, void *user, lexie_error *err) {
    if (!c || !gold_path || !p || p->n < 2 || p->n > 64 || !(p->temperature >= 0.0f) ||
        !(p->min_gap >= 0.0) || (unsigned)p->metric > LEXIE_TEXT_ROUGE_L || p->max_tokens < 0)
        return lx_fail(err, LEXIE_E_INVALID,
                       "pairs: bad params (n must be 2..64, temperature and min_gap >= 0)");
    size_t size = 0;
    char *text = lx_read_file(gold_path, 0, &size, err);
    if (!text) return lx_fail_prefix(err, "%s: ", gold_path);
    lexie_status s = LEXIE_OK;
    int line_no = 0, stop = 0;
    for (size_t at = 0; at < size && !s && !stop;) {
        size_t b = at, e = at;
        while (e < size && text[e] != '\n') e++;
        at = e + 1;
        line_no++;
        while (e > b && (text[e - 1] == '\r' || text[e - 1] == ' ' || text[e - 1] == '\t')) e--;
        if (e == b) continue;
        lx_json_doc *doc = lx_json_parse(text + b, e - b, NULL, err);
        char *prompt = NULL;
        const char *gold = NULL;
        if (!doc)
            s = err ? err->code : LEXIE_E_FORMAT;
        else if (lx_json_root(doc)->type != LX_JSON_OBJECT)
            s = lx_fail(err, LEXIE_E_FORMAT, "a line must be a JSON object");
        else
            s = read_gold(lx_json_root(doc), &prompt, &gold, err);
        if (s)
            lx_fail_prefix(err, "%s: line %d: ", gold_path, line_no);
        else if ((s = one(c, p, line_no, prompt, gold, cb, user, &stop, err)))
            lx_fail_prefix(err, "%s: line %d: ", gold_path, line_no);
        free(prompt);
        lx_json_doc_free(doc);
    }
    free(text);
    return s;
}
