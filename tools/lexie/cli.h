/*
** cli.h -- shared helpers of the lexie subcommands.  Each subcommand lives
** in tools/lexie/cmd_NAME.c as `int cmd_NAME(int argc, char **argv)` and is
** listed in main.c.  argv[0] is the subcommand name.  Subcommands print
** errors as "lexie NAME: message" on stderr and return the exit status.
*/
#ifndef LEXIE_CLI_H
#define LEXIE_CLI_H

#include "lexie.h"

int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_path(int argc, char **argv);
int cmd_relations(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_eval_extract(int argc, char **argv); /* `lexie eval extract`, from cmd_eval */
int cmd_train(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_pairs(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_view(int argc, char **argv);

/* Resolves the -m argument: NULL means the default model from the cache
** (without downloading; the error tells the user to run `lexie pull`).
** Returns a malloc'd path or NULL with err filled. */
char *cli_resolve_model(const char *m_arg, lexie_error *err);

/* Resolves --schema: a path (with a slash or .json), or a built-in name
** (semeval, tacred, gad) looked up in $LEXIE_SCHEMAS, ./schemas and beside
** the binary.  Returns a malloc'd path or NULL with err filled. */
char *cli_find_schema(const char *arg, lexie_error *err);

/* The one number parser of option values: the whole of s as a decimal
** number (integer: base-10 digits only) within [lo, hi]; NaN and infinity
** are refused.  Returns 1 and sets *out, or 0 (printing nothing: each
** command words its message). */
int cli_parse_num(const char *s, double lo, double hi, int integer, double *out);

/* "lexie" and argv[0..argc) joined by spaces, each argument shell-quoted
** where needed, so a report's command can be pasted back.  malloc'd, or
** NULL when out of memory. */
char *cli_command_line(int argc, char **argv);

/* --lora FILE [--lora-scale S], shared by every command that runs a model:
** cli_lora_option takes one option with its value (returns 1 when opt is
** one of the two, and sets *bad, printing why, when the value is wrong; 0
** when opt is another option), cli_apply_lora loads the adapter for m and
** applies it to c (nothing without --lora; returns 0 and prints
** "lexie CMD: message" on failure), cli_lora_free frees it (after c). */
typedef struct cli_lora {
    const char *path;
    double scale; /* 1 unless --lora-scale */
    int scale_set;
    lexie_adapter *adapter;
} cli_lora;
int cli_lora_option(const char *cmd, const char *opt, const char *val, cli_lora *l, int *bad);
int cli_apply_lora(const char *cmd, const lexie_model *m, lexie_ctx *c, cli_lora *l);
void cli_lora_free(cli_lora *l);
#define CLI_LORA_USAGE                                                                             \
    "  --lora FILE        apply a LoRA adapter (GGUF, llama.cpp's layout)\n"                       \
    "  --lora-scale S     scale of the adapter (default 1)\n"

/* The extraction commands' shared steps: cli_open_model loads the model
** (with a chat template when tmpl is not NULL), makes a context of n_ctx
** cells (0: the model's context, at most 4096 + 1536 x batch) for batch
** sequences beside the shared prefix, and applies --lora; it prints and
** returns 0 on failure.  cli_provenance prints lexie's version and the
** model's (and the schema's, when not NULL) SHA-256 on stderr. */
int cli_open_model(const char *cmd, const char *m_arg, const char *tmpl, int n_ctx, int batch,
                   int threads, cli_lora *lora, char **mpath, lexie_model **m, lexie_ctx **c);
void cli_provenance(const char *cmd, const char *mpath, const char *schema_sha);

/* The chat template of --chat-template TEXT or --chat-template-file FILE
** (at most one of text and file is non-NULL: the caller refuses both).
** Sets *out to a malloc'd template (NULL when neither is given) and
** returns 1, or prints "lexie CMD: ..." naming the file and returns 0.
** A --chat-template TEXT that names an existing file and looks like no
** template gets a warning. */
int cli_chat_template(const char *cmd, const char *text, const char *file, char **out);

/* Guards the standard streams before anything is opened: a closed fd 0, 1
** or 2 is taken by /dev/null opened the wrong way round, so reading a
** closed stdin and writing a closed stdout fail with EBADF instead of
** reaching a file the program opened later. */
void cli_guard_std_fds(void);

/* Flushes stdout.  Returns 0 if everything written so far reached it,
** else -1, having printed "lexie CMD: cannot write standard output: why"
** (once per process). */
int cli_flush_out(const char *cmd);

/* Flushes and closes stdout at exit, like cli_flush_out. */
int cli_close_out(const char *cmd);

#endif
