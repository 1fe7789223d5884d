/*
** cmd_ask.c -- `lexie ask "INSTRUCTION" < doc.txt`: on-demand IE, an
** instruction over a text answered with a table (lexie_ask): Markdown on a
** terminal, JSON otherwise.  Provenance goes to stderr.
*/
#include "cli.h"

#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void ask_usage(FILE *f) {
    fputs("usage: lexie ask \"INSTRUCTION\" [options] < doc.txt\n"
          "  answers the instruction over the text with a table\n"
          "  --format md|json     Markdown (default on a terminal) or JSON (otherwise)\n"
          "  --max-tokens N       answer budget (default 768)\n"
          "  -m MODEL             model name or GGUF path (default: the default model)\n"
          "  -t N                 threads (default: all cores)\n"
          "  -c N                 KV cells of the context (default: the model's, at most 5632)\n"
          "  --chat-template TEXT, --chat-template-file FILE   replace the model's "
          "template\n" CLI_LORA_USAGE,
          f);
}

/* Reads all of stdin (at most 16 MiB) into a string. */
static char *read_stdin(void) {
    lx_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (b.len + n > ((size_t)16 << 20) || lx_buf_append(&b, chunk, n, NULL) != LEXIE_OK) {
            free(b.data);
            return NULL;
        }
    if (ferror(stdin) || lx_buf_append(&b, "", 0, NULL) != LEXIE_OK) {
        free(b.data);
        return NULL;
    }
    b.data[b.len] = 0;
    return b.data;
}

int cmd_ask(int argc, char **argv) {
    const char *instr = NULL, *model = NULL, *format = isatty(1) ? "md" : "json";
    const char *tmpl_text = NULL, *tmpl_file = NULL;
    int threads = 0, max_tokens = 0, n_ctx = 0;
    cli_lora lora = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        int bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return ask_usage(stdout), 0;
        if (a[0] != '-' && !instr) {
            instr = a;
            continue;
        }
        if (!v) return fprintf(stderr, "lexie ask: unknown option or missing value: '%s'\n", a), 2;
        i++;
        if (cli_lora_option("ask", a, v, &lora, &bad)) {
            if (bad) return 2;
        } else if (strcmp(a, "-m") == 0)
            model = v;
        else if (strcmp(a, "--chat-template") == 0)
            tmpl_text = v;
        else if (strcmp(a, "--chat-template-file") == 0)
            tmpl_file = v;
        else if (strcmp(a, "--format") == 0 && (!strcmp(v, "md") || !strcmp(v, "json")))
            format = v;
        else if (strcmp(a, "--max-tokens") == 0 && cli_parse_num(v, 32, 65536, 1, &x))
            max_tokens = (int)x;
        else if (strcmp(a, "-t") == 0 && cli_parse_num(v, 1, 256, 1, &x))
            threads = (int)x;
        else if (strcmp(a, "-c") == 0 && cli_parse_num(v, 64, 1 << 24, 1, &x))
            n_ctx = (int)x;
        else
            return fprintf(stderr, "lexie ask: bad option '%s %s' (try --help)\n", a, v), 2;
    }
    if (!instr || !*instr)
        return fprintf(stderr, "lexie ask: give the instruction as the first argument\n"), 2;
    if (tmpl_text && tmpl_file)
        return fprintf(stderr, "lexie ask: give --chat-template or --chat-template-file\n"), 2;
    char *text = read_stdin(), *mpath = NULL, *out = NULL, *tmpl = NULL;
    if (!text)
        return fprintf(stderr, "lexie ask: cannot read standard input (or over 16 MiB)\n"), 1;
    lexie_model *m = NULL;
    lexie_ctx *c = NULL;
    lexie_table t = {0};
    lexie_error err;
    int rc = 1;
    if (cli_chat_template("ask", tmpl_text, tmpl_file, &tmpl) &&
        cli_open_model("ask", model, tmpl, n_ctx, 1, threads, &lora, &mpath, &m, &c)) {
        cli_provenance("ask", mpath, NULL);
        if (lexie_ask(c, instr, text, max_tokens, &t, &err) != LEXIE_OK ||
            (strcmp(format, "md") == 0 ? lexie_table_markdown(&t, &out, &err)
                                       : lexie_table_json(&t, &out, &err)) != LEXIE_OK)
            fprintf(stderr, "lexie ask: %s\n", err.message);
        else {
            fputs(out, stdout);
            if (strcmp(format, "json") == 0) fputc('\n', stdout);
            rc = cli_flush_out("ask") == 0 ? 0 : 1;
            if (t.truncated) fprintf(stderr, "lexie ask: the table was cut at --max-tokens\n");
        }
    }
    lexie_table_clear(&t);
    lexie_free(out);
    lexie_ctx_free(c);
    cli_lora_free(&lora);
    lexie_model_free(m);
    free(mpath);
    free(text);
    free(tmpl);
    return rc;
}
