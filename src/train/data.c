/*
** data.c -- training data: instruction JSONL ({"instruction", "input",
** "output"}, as Alpaca and BioInstruct) and chat JSONL ({"messages":
** [{"role", "content"}, ...]}, as ADELIE), rendered with the model's own
** chat template and tokenized, with a loss mask over the assistant turns;
** and preference JSONL for DPO ({"prompt", "chosen", "rejected"}, as TRL
** and ADELIE), each side rendered as a user turn and an assistant answer.
**
** The mask comes from rendering prefixes: for assistant message k, the
** conversation up to k with the generation prompt marks where the answer
** starts, and the conversation through k marks where it ends (its end of
** turn included, so the model learns to stop).  Both must tokenize as a
** prefix of the whole conversation; a template for which they do not is
** refused rather than masked wrongly.
*/
#include "base/json.h"
#include "train/train.h"

#include <stdlib.h>
#include <string.h>

struct lexie_train_data {
    int n;
    size_t cap;
    lexie_train_example *ex;
    int n_truncated, n_dropped;
};

void lexie_train_data_free(lexie_train_data *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) {
        free((void *)d->ex[i].tokens);
        free((void *)d->ex[i].loss_mask);
    }
    free(d->ex);
    free(d);
}

int lexie_train_data_count(const lexie_train_data *d) { return d->n; }
const lexie_train_example *lexie_train_data_examples(const lexie_train_data *d) { return d->ex; }
int lexie_train_data_truncated(const lexie_train_data *d) { return d->n_truncated; }
int lexie_train_data_dropped(const lexie_train_data *d) { return d->n_dropped; }

/* The token count of msgs[0..k) rendered (with the generation prompt when
** gen), after checking that those tokens begin full[0..n_full). */
static lexie_status prefix_len(const lexie_model *m, const lexie_chat_msg *msgs, int k, int gen,
                               const lexie_token *full, int n_full, int *out, lexie_error *err) {
    int n = 0;
    lexie_token *t = lx_chat_tokens(m, msgs, k, gen, &n, NULL, err);
    if (!t) return err ? err->code : LEXIE_E_INTERNAL;
    int ok = n <= n_full && memcmp(t, full, sizeof *t * (size_t)n) == 0;
    free(t);
    if (!ok)
        return lx_fail(err, LEXIE_E_UNSUPPORTED,
                       "the chat template's rendering of the first %d messages is not a prefix "
                       "of the whole conversation's",
                       k);
    *out = n;
    return LEXIE_OK;
}

/* Renders, tokenizes and masks one conversation into ex (owned arrays). */
static lexie_status build(const lexie_model *m, const lexie_chat_msg *msgs, int n_msgs, int max_len,
                          lexie_train_example *ex, int *truncated, lexie_error *err) {
    lexie_status s = LEXIE_OK;
    int n = 0;
    lexie_token *tok = lx_chat_tokens(m, msgs, n_msgs, 0, &n, NULL, err);
    if (!tok) return err ? err->code : LEXIE_E_INTERNAL;
    int8_t *mask = lx_calloc((size_t)(n ? n : 1), 1, err);
    if (!mask) {
        free(tok);
        return LEXIE_E_NOMEM;
    }
    for (int k = 0; k < n_msgs && !s; k++) {
        if (strcmp(msgs[k].role, "assistant") != 0) continue;
        int a = 0, b = 0;
        if ((s = prefix_len(m, msgs, k, 1, tok, n, &a, err)) ||
            (s = prefix_len(m, msgs, k + 1, 0, tok, n, &b, err)))
            break;
        for (int i = a; i < b; i++) mask[i] = 1;
    }
    if (s) {
        free(tok);
        free(mask);
        return s;
    }
    *truncated = n > max_len;
    *ex = (lexie_train_example){tok, mask, LX_MIN(n, max_len)};
    return LEXIE_OK;
}

/* The messages of one JSONL object, borrowed from its document. */
static lexie_status read_messages(const lx_json *o, lexie_chat_msg *msgs, int cap, int *n,
                                  char **joined, lexie_error *err) {
    const lx_json *arr = lx_json_get(o, "messages");
    *joined = NULL;
    if (arr) {
        if (arr->type != LX_JSON_ARRAY || arr->n < 1 || arr->n > cap)
            return lx_fail(err, LEXIE_E_FORMAT, "\"messages\" must be an array of 1..%d", cap);
        for (int i = 0; i < arr->n; i++) {
            const char *role = lx_json_string(lx_json_get(arr->items[i], "role"));
            const char *content = lx_json_string(lx_json_get(arr->items[i], "content"));
            if (!role || !content ||
                (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")))
                return lx_fail(err, LEXIE_E_FORMAT,
                               "message %d needs a role (system, user, assistant) and a content "
                               "string",
                               i);
            msgs[i] = (lexie_chat_msg){role, content};
        }
        *n = arr->n;
        return LEXIE_OK;
    }
    const char *ins = lx_json_string(lx_json_get(o, "instruction"));
    const char *out = lx_json_string(lx_json_get(o, "output"));
    const lx_json *inp = lx_json_get(o, "input");
    if (!ins || !out || (inp && inp->type != LX_JSON_STRING && inp->type != LX_JSON_NULL))
        return lx_fail(err, LEXIE_E_FORMAT,
                       "a line needs \"messages\", or \"instruction\" and \"output\" strings");
    const char *in = inp ? lx_json_string(inp) : NULL;
    if (in && *in) {
        /* The instruction, a blank line, then the input (Alpaca's order). */
        size_t a = strlen(ins), b = strlen(in);
        if (!(*joined = lx_malloc(a + b + 3, err))) return LEXIE_E_NOMEM;
        memcpy(*joined, ins, a);
        memcpy(*joined + a, "\n\n", 2);
        memcpy(*joined + a + 2, in, b + 1);
        ins = *joined;
    }
    msgs[0] = (lexie_chat_msg){"user", ins};
    msgs[1] = (lexie_chat_msg){"assistant", out};
    *n = 2;
    return LEXIE_OK;
}

static lexie_status add_line(lexie_train_data *d, const lexie_model *m, const char *line,
                             size_t len, int max_len, lexie_error *err) {
    lx_json_doc *doc = lx_json_parse(line, len, NULL, err);
    if (!doc) return err ? err->code : LEXIE_E_FORMAT;
    const lx_json *o = lx_json_root(doc);
    lexie_chat_msg msgs[64];
    int n_msgs = 0, truncated = 0;
    char *joined = NULL;
    lexie_status s = o->type == LX_JSON_OBJECT
                         ? read_messages(o, msgs, 64, &n_msgs, &joined, err)
                         : lx_fail(err, LEXIE_E_FORMAT, "a line must be a JSON object");
    lexie_train_example ex;
    if (!s) s = build(m, msgs, n_msgs, max_len, &ex, &truncated, err);
    free(joined);
    lx_json_doc_free(doc);
    if (s) return s;
    /* Keep it only if a response token survived truncation. */
    int any = 0;
    for (int i = 1; i < ex.n_tokens; i++) any |= ex.loss_mask[i];
    if (!any) {
        d->n_dropped++;
        free((void *)ex.tokens);
        free((void *)ex.loss_mask);
        return LEXIE_OK;
    }
    d->n_truncated += truncated;
    if (lx_grow((void **)&d->ex, &d->cap, (size_t)d->n + 1, sizeof *d->ex, err)) {
        free((void *)ex.tokens);
        free((void *)ex.loss_mask);
        return LEXIE_E_NOMEM;
    }
    d->ex[d->n++] = ex;
    return LEXIE_OK;
}

/* Calls add on every non-blank line of text (spaces, tabs and \r trimmed);
** the first failure gets "path: line N: " in front of its message. */
typedef lexie_status (*add_fn)(void *d, const lexie_model *m, const char *line, size_t len,
                               int max_len, lexie_error *err);
static lexie_status each_line(const char *path, const char *text, size_t size, void *d,
                              const lexie_model *m, int max_len, add_fn add, lexie_error *err) {
    int line_no = 0;
    for (size_t at = 0; at < size;) {
        size_t end = at;
        while (end < size && text[end] != '\n') end++;
        line_no++;
        size_t b = at, e = end;
        while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r')) b++;
        while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) e--;
        lexie_status st = e > b ? add(d, m, text + b, e - b, max_len, err) : LEXIE_OK;
        if (st) {
            lx_fail_prefix(err, "%s: line %d: ", path, line_no);
            return st;
        }
        at = end + 1;
    }
    return LEXIE_OK;
}

static lexie_status add_line_v(void *d, const lexie_model *m, const char *line, size_t len,
                               int max_len, lexie_error *err) {
    return add_line(d, m, line, len, max_len, err);
}

lexie_train_data *lexie_train_data_load(const lexie_model *m, const char *path, int max_seq_len,
                                        lexie_error *err) {
    if (!m || !path || max_seq_len < 2) {
        lx_fail(err, LEXIE_E_INVALID, "train data: no model or path, or max_seq_len < 2");
        return NULL;
    }
    size_t size = 0;
    char *text = lx_read_file(path, 0, &size, err);
    if (!text) return NULL;
    lexie_train_data *d = lx_calloc(1, sizeof *d, err);
    if (!d) {
        free(text);
        return NULL;
    }
    lexie_status st = each_line(path, text, size, d, m, max_seq_len, add_line_v, err);
    free(text);
    if (st) {
        lexie_train_data_free(d);
        return NULL;
    }
    if (d->n == 0) {
        lx_fail(err, LEXIE_E_FORMAT, "%s: no example with a response token", path);
        lexie_train_data_free(d);
        return NULL;
    }
    return d;
}

/* ==== Preference pairs (DPO) ==== */

struct lexie_dpo_data {
    int n;
    size_t cap;
    lexie_dpo_pair *pairs;
    int n_truncated, n_dropped;
};

void lexie_dpo_data_free(lexie_dpo_data *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) {
        const lexie_train_example *e[2] = {&d->pairs[i].chosen, &d->pairs[i].rejected};
        for (int k = 0; k < 2; k++) {
            free((void *)e[k]->tokens);
            free((void *)e[k]->loss_mask);
        }
    }
    free(d->pairs);
    free(d);
}

int lexie_dpo_data_count(const lexie_dpo_data *d) { return d->n; }
const lexie_dpo_pair *lexie_dpo_data_pairs(const lexie_dpo_data *d) { return d->pairs; }
int lexie_dpo_data_dropped(const lexie_dpo_data *d) { return d->n_dropped; }

static int has_response(const lexie_train_example *ex) {
    for (int i = 1; i < ex->n_tokens; i++)
        if (ex->loss_mask[i]) return 1;
    return 0;
}

static void free_example(lexie_train_example *ex) {
    free((void *)ex->tokens);
    free((void *)ex->loss_mask);
    memset(ex, 0, sizeof *ex);
}

static lexie_status add_pair(lexie_dpo_data *d, const lexie_model *m, const char *line, size_t len,
                             int max_len, lexie_error *err) {
    lx_json_doc *doc = lx_json_parse(line, len, NULL, err);
    if (!doc) return err ? err->code : LEXIE_E_FORMAT;
    const lx_json *o = lx_json_root(doc);
    const char *prompt = lx_json_string(lx_json_get(o, "prompt"));
    const char *ans[2] = {lx_json_string(lx_json_get(o, "chosen")),
                          lx_json_string(lx_json_get(o, "rejected"))};
    lexie_status s = LEXIE_OK;
    lexie_dpo_pair pair;
    memset(&pair, 0, sizeof pair);
    lexie_train_example *sides[2] = {&pair.chosen, &pair.rejected};
    int cut[2] = {0, 0};
    if (o->type != LX_JSON_OBJECT || !prompt || !ans[0] || !ans[1])
        s = lx_fail(err, LEXIE_E_FORMAT,
                    "a line needs \"prompt\", \"chosen\" and \"rejected\" "
                    "strings");
    for (int k = 0; k < 2 && !s; k++) {
        lexie_chat_msg msgs[2] = {{"user", prompt}, {"assistant", ans[k]}};
        s = build(m, msgs, 2, max_len, sides[k], &cut[k], err);
    }
    lx_json_doc_free(doc);
    if (!s && (!has_response(&pair.chosen) || !has_response(&pair.rejected))) {
        d->n_dropped++;
        free_example(&pair.chosen);
        free_example(&pair.rejected);
        return LEXIE_OK;
    }
    if (!s) s = lx_grow((void **)&d->pairs, &d->cap, (size_t)d->n + 1, sizeof *d->pairs, err);
    if (s) {
        free_example(&pair.chosen);
        free_example(&pair.rejected);
        return s;
    }
    d->n_truncated += cut[0] || cut[1];
    d->pairs[d->n++] = pair;
    return LEXIE_OK;
}

static lexie_status add_pair_v(void *d, const lexie_model *m, const char *line, size_t len,
                               int max_len, lexie_error *err) {
    return add_pair(d, m, line, len, max_len, err);
}

lexie_dpo_data *lexie_dpo_data_load(const lexie_model *m, const char *path, int max_seq_len,
                                    lexie_error *err) {
    if (!m || !path || max_seq_len < 2) {
        lx_fail(err, LEXIE_E_INVALID, "dpo data: no model or path, or max_seq_len < 2");
        return NULL;
    }
    size_t size = 0;
    char *text = lx_read_file(path, 0, &size, err);
    if (!text) return NULL;
    lexie_dpo_data *d = lx_calloc(1, sizeof *d, err);
    if (!d) {
        free(text);
        return NULL;
    }
    lexie_status st = each_line(path, text, size, d, m, max_seq_len, add_pair_v, err);
    free(text);
    if (st) {
        lexie_dpo_data_free(d);
        return NULL;
    }
    if (d->n == 0) {
        lx_fail(err, LEXIE_E_FORMAT, "%s: no pair with response tokens on both sides", path);
        lexie_dpo_data_free(d);
        return NULL;
    }
    return d;
}
