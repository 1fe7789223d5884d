/*
** table.c -- on-demand IE: an instruction and a text give a table.
**
** The answer is {"header": [...], "rows": [[...], ...]}, written in two
** stages so that every row has exactly as many cells as the header: the
** model first writes the header under a grammar that ends just after
** "rows": [, then continues under a grammar built for that many columns.
** Both grammars are GBNF made here, so the answer always parses.
*/
#include "extract.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_TOKENS 768
#define MAX_COLS 12
#define MAX_ROWS 64
#define MAX_CELL 200

void lexie_table_clear(lexie_table *t) {
    if (!t) return;
    for (int i = 0; i < t->n_cols; i++) free(t->header[i]);
    for (int i = 0; i < t->n_cols * t->n_rows; i++) free(t->cells[i]);
    free(t->header);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* A JSON string of at most MAX_CELL characters (no raw control bytes). */
static void str_rule(lx_jbuf *b) {
    lx_jbuf_printf(b,
                   "str ::= \"\\\"\" ch{0,%d} \"\\\"\"\n"
                   "ch ::= [^\"\\\\\\x00-\\x1f] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" hx hx hx hx)\n"
                   "hx ::= [0-9a-fA-F]\n",
                   MAX_CELL);
}

static lexie_grammar *header_grammar(lexie_error *err) {
    lx_jbuf b = {0};
    lx_jbuf_printf(
        &b, "root ::= \"{\\\"header\\\": [\" str (\", \" str){0,%d} \"], \\\"rows\\\": [\"\n",
        MAX_COLS - 1);
    str_rule(&b);
    lexie_grammar *g = lx_jbuf_status(&b, err) == LEXIE_OK
                           ? lexie_grammar_from_gbnf(b.data, b.len, NULL, err)
                           : NULL;
    lx_jbuf_free(&b);
    return g;
}

static lexie_grammar *rows_grammar(int n_cols, lexie_error *err) {
    lx_jbuf b = {0};
    lx_jbuf_printf(&b, "root ::= (row (\", \" row){0,%d})? \"]}\"\nrow ::= \"[\" str",
                   MAX_ROWS - 1);
    for (int i = 1; i < n_cols; i++) lx_jbuf_puts(&b, " \", \" str");
    lx_jbuf_puts(&b, " \"]\"\n");
    str_rule(&b);
    lexie_grammar *g = lx_jbuf_status(&b, err) == LEXIE_OK
                           ? lexie_grammar_from_gbnf(b.data, b.len, NULL, err)
                           : NULL;
    lx_jbuf_free(&b);
    return g;
}

/* Generates from prompt under g into *text. */
static lexie_status gen(lexie_ctx *c, const lexie_token *prompt, int n, lexie_grammar *g,
                        lexie_grammar_vocab *v, int max_tokens, char **text, lexie_gen_stop *why,
                        lexie_error *err) {
    lexie_gen_params gp = lexie_gen_default_params();
    gp.grammar = g;
    gp.grammar_vocab = v;
    gp.max_tokens = max_tokens;
    return lexie_generate_ex(c, prompt, n, &gp, NULL, NULL, text, NULL, why, err);
}

/* The whole answer's JSON into t. */
static lexie_status read_table(const char *json, lexie_table *t, lexie_error *err) {
    lx_json_doc *d = lx_json_parse(json, strlen(json), NULL, err);
    if (!d) return lx_fail_prefix(err, "ask: the answer is not JSON (a grammar fault): ");
    const lx_json *h = lx_json_get(lx_json_root(d), "header");
    const lx_json *r = lx_json_get(lx_json_root(d), "rows");
    lexie_status st = LEXIE_OK;
    t->header = lx_calloc((size_t)h->n + 1, sizeof *t->header, err);
    t->cells = lx_calloc((size_t)h->n * (size_t)r->n + 1, sizeof *t->cells, err);
    if (!t->header || !t->cells) st = LEXIE_E_NOMEM;
    for (int i = 0; i < h->n && st == LEXIE_OK; i++, t->n_cols++)
        if (!(t->header[i] = lx_strndup(h->items[i]->str, h->items[i]->len, err)))
            st = LEXIE_E_NOMEM;
    for (int i = 0; i < r->n && st == LEXIE_OK; i++, t->n_rows++)
        for (int j = 0; j < h->n && st == LEXIE_OK; j++) {
            const lx_json *cell = r->items[i]->items[j];
            if (!(t->cells[i * h->n + j] = lx_strndup(cell->str, cell->len, err)))
                st = LEXIE_E_NOMEM;
        }
    lx_json_doc_free(d);
    return st;
}

/* Stage two: the rows, continuing after the header's tokens. */
static lexie_status ask_rows(lexie_ctx *c, const lexie_token *prompt, int n, const char *head,
                             lexie_grammar_vocab *v, int left, char **rows, lexie_gen_stop *why,
                             lexie_error *err) {
    lx_json_doc *hd = NULL;
    /* The header alone, closed, tells the column count. */
    size_t hl = strlen(head);
    char *closed = lx_malloc(hl + 3, err);
    if (!closed) return LEXIE_E_NOMEM;
    memcpy(closed, head, hl);
    memcpy(closed + hl, "]}", 3);
    hd = lx_json_parse(closed, hl + 2, NULL, err);
    free(closed);
    if (!hd) return lx_fail_prefix(err, "ask: the header is not JSON (a grammar fault): ");
    int n_cols = lx_json_get(lx_json_root(hd), "header")->n;
    lx_json_doc_free(hd);
    lexie_grammar *g = rows_grammar(n_cols, err);
    int cap = 0, n_head = 0;
    lexie_token *all = NULL;
    lexie_status st = g ? LEXIE_OK : (err ? err->code : LEXIE_E_NOMEM);
    if (st == LEXIE_OK) {
        lexie_error e; /* counting ends in LEXIE_E_RANGE by design */
        st = lexie_tokenize(c->model, head, hl, 0, 0, NULL, 0, &cap, &e);
        if (st != LEXIE_OK && st != LEXIE_E_RANGE && err) *err = e;
        if (st == LEXIE_OK || st == LEXIE_E_RANGE)
            st = (all = lx_malloc(((size_t)n + (size_t)cap + 1) * sizeof *all, err))
                     ? LEXIE_OK
                     : LEXIE_E_NOMEM;
    }
    if (st == LEXIE_OK) {
        memcpy(all, prompt, (size_t)n * sizeof *all);
        st = lexie_tokenize(c->model, head, hl, 0, 0, all + n, cap, &n_head, err);
    }
    if (st == LEXIE_OK) st = gen(c, all, n + n_head, g, v, left, rows, why, err);
    free(all);
    lexie_grammar_free(g);
    return st;
}

lexie_status lexie_ask(lexie_ctx *c, const char *instruction, const char *text, int max_tokens,
                       lexie_table *out, lexie_error *err) {
    if (!c || !out || !instruction || !text || !*instruction)
        return lx_fail(err, LEXIE_E_INVALID, "ask: an instruction and a text are needed");
    if (!lx_utf8_valid(instruction, strlen(instruction), NULL) ||
        !lx_utf8_valid(text, strlen(text), NULL))
        return lx_fail(err, LEXIE_E_UTF8, "ask: the instruction or text is not valid UTF-8");
    if (max_tokens <= 0) max_tokens = DEFAULT_MAX_TOKENS;
    lx_jbuf turn = {0};
    lx_jbuf_puts(&turn, instruction);
    lx_jbuf_puts(&turn, "\nAnswer with a table in JSON: {\"header\": [column names], \"rows\": "
                        "[[one cell per column], ...]}; copy the values from the text.\n\nText: ");
    lx_jbuf_puts(&turn, text);
    lexie_token *toks = NULL;
    int n = 0, n_gen = 0;
    char *head = NULL, *rows = NULL;
    lexie_gen_stop why = LEXIE_GEN_EOG, why2 = LEXIE_GEN_EOG;
    lexie_grammar *g = header_grammar(err);
    lexie_grammar_vocab *v = g ? lexie_grammar_vocab_new(c->model, err) : NULL;
    lexie_status st = lx_jbuf_status(&turn, err);
    if (st == LEXIE_OK)
        st = v && (toks = lx_chat_tokens(c->model, &(lexie_chat_msg){"user", turn.data}, 1, 1, &n,
                                         NULL, err))
                 ? LEXIE_OK
                 : (err ? err->code : LEXIE_E_NOMEM);
    if (st == LEXIE_OK) st = gen(c, toks, n, g, v, max_tokens / 4, &head, &why, err);
    if (st == LEXIE_OK && why == LEXIE_GEN_GRAMMAR_CUT)
        st = lx_fail(err, LEXIE_E_RANGE, "ask: the header did not fit its token budget");
    if (st == LEXIE_OK && (n_gen = max_tokens - max_tokens / 4) > 0)
        st = ask_rows(c, toks, n, head, v, n_gen, &rows, &why2, err);
    if (st == LEXIE_OK && why2 == LEXIE_GEN_GRAMMAR_CUT)
        st = lx_fail(err, LEXIE_E_RANGE, "ask: the rows could not be closed within max_tokens");
    lx_jbuf all = {0};
    if (st == LEXIE_OK) {
        lx_jbuf_puts(&all, head);
        lx_jbuf_puts(&all, rows);
        st = lx_jbuf_status(&all, err);
    }
    if (st == LEXIE_OK) st = read_table(all.data, out, err);
    if (st == LEXIE_OK)
        out->truncated = why2 == LEXIE_GEN_MAX_TOKENS;
    else
        lexie_table_clear(out);
    lx_jbuf_free(&all);
    lx_jbuf_free(&turn);
    free(toks);
    free(head);
    free(rows);
    lexie_grammar_free(g);
    lexie_grammar_vocab_free(v);
    return st;
}

/* ==== Output ==== */

/* A cell in Markdown: | escaped, newlines as spaces. */
static void md_cell(lx_jbuf *b, const char *s) {
    lx_jbuf_putc(b, ' ');
    for (; *s; s++) {
        if (*s == '|')
            lx_jbuf_puts(b, "\\|");
        else if (*s == '\n' || *s == '\r')
            lx_jbuf_putc(b, ' ');
        else
            lx_jbuf_putc(b, *s);
    }
    lx_jbuf_puts(b, " |");
}

static lexie_status finish_buf(lx_jbuf *b, char **out, lexie_error *err) {
    lexie_status st = lx_jbuf_status(b, err);
    if (st == LEXIE_OK && !b->data) st = (b->data = lx_strdup("", err)) ? LEXIE_OK : LEXIE_E_NOMEM;
    *out = st == LEXIE_OK ? b->data : NULL;
    if (st != LEXIE_OK) lx_jbuf_free(b);
    return st;
}

lexie_status lexie_table_markdown(const lexie_table *t, char **out, lexie_error *err) {
    lx_jbuf b = {0};
    lx_jbuf_putc(&b, '|');
    for (int j = 0; j < t->n_cols; j++) md_cell(&b, t->header[j]);
    lx_jbuf_puts(&b, "\n|");
    for (int j = 0; j < t->n_cols; j++) lx_jbuf_puts(&b, " --- |");
    lx_jbuf_putc(&b, '\n');
    for (int i = 0; i < t->n_rows; i++) {
        lx_jbuf_putc(&b, '|');
        for (int j = 0; j < t->n_cols; j++) md_cell(&b, t->cells[i * t->n_cols + j]);
        lx_jbuf_putc(&b, '\n');
    }
    return finish_buf(&b, out, err);
}

lexie_status lexie_table_json(const lexie_table *t, char **out, lexie_error *err) {
    lx_jbuf b = {0};
    lx_jbuf_puts(&b, "{\"header\":[");
    for (int j = 0; j < t->n_cols; j++) {
        if (j) lx_jbuf_putc(&b, ',');
        lx_jbuf_cstr(&b, t->header[j]);
    }
    lx_jbuf_puts(&b, "],\"rows\":[");
    for (int i = 0; i < t->n_rows; i++) {
        lx_jbuf_puts(&b, i ? ",[" : "[");
        for (int j = 0; j < t->n_cols; j++) {
            if (j) lx_jbuf_putc(&b, ',');
            lx_jbuf_cstr(&b, t->cells[i * t->n_cols + j]);
        }
        lx_jbuf_putc(&b, ']');
    }
    lx_jbuf_puts(&b, "]");
    if (t->truncated) lx_jbuf_puts(&b, ",\"truncated\":true");
    lx_jbuf_putc(&b, '}');
    return finish_buf(&b, out, err);
}
