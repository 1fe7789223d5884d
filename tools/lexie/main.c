/*
** main.c -- the lexie command-line tool: dispatches to one cmd_*.c per
** subcommand, and makes a failed write to stdout fail the command.
*/
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command commands[] = {
    {"generate", cmd_generate, "generate text from a prompt (-p TEXT [--chat] [-n N])"},
    {"tokenize", cmd_tokenize, "print the token ids of a prompt (-p TEXT [--chat])"},
    {"pull", cmd_pull, "fetch a model into the cache (NAME, default: the default model)"},
    {"models", cmd_models, "list the known models and which are cached"},
    {"path", cmd_path, "print the cached file of a model"},
    {"extract", cmd_extract, "entities, relations, events, open IE triples, JSONL in/out"},
    {"ask", cmd_ask, "answer an instruction over a text (stdin) with a table"},
    {"relations", cmd_relations, "classify entity-pair relations, JSONL in/out (--schema FILE)"},
    {"eval", cmd_eval, "evaluate on a benchmark (re --data semeval|gad|tacred)"},
    {"train", cmd_train, "LoRA fine-tuning (sft|dpo --data FILE --out ADAPTER.gguf)"},
    {"merge", cmd_merge, "merge a LoRA adapter into a model (--lora FILE -o OUT.gguf)"},
    {"pairs", cmd_pairs, "DPO preference pairs from sampled answers (--data GOLD.jsonl)"},
    {"view", cmd_view, "extraction results as one HTML page (OUT.jsonl [--docs DOCS.jsonl])"},
    {"version", NULL, "print the version"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: lexie COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nlexie COMMAND --help shows a command's options.\n");
}

static int run(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("lexie %s\n", lexie_version());
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].fn && strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "lexie: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv) {
    cli_guard_std_fds();
    int rc = run(argc, argv);
    /* Output that did not reach stdout is an error, whatever the command. */
    if (cli_close_out(argc >= 2 ? argv[1] : "") != 0 && rc == 0) rc = 1;
    return rc;
}
