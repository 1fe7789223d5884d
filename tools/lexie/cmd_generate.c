/*
** cmd_generate.c -- `lexie generate`: stream a model's continuation of a
** prompt to stdout, and `lexie tokenize`: print token ids.  With
** --json-schema or --grammar the output is constrained (the library's
** grammar engine and sampler mask do the work; this file reads the file and
** reports): a grammar that does not compile is an error, never a silent
** fallback to unconstrained text, and an output cut before it could be
** completed exits non-zero.
*/
#include "base/base.h"
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STOPS 16
/* Options that take a value, space-separated and padded for strstr. */
#define VALUE_OPTS                                                                                 \
    " -m -p -f -n -c -t --system --chat-template --chat-template-file --stop --temp --top-k "      \
    "--top-p --seed --lora --lora-scale --json-schema --grammar --grammar-root "

static void generate_usage(FILE *f) {
    fprintf(f,
            "usage: lexie generate [-m MODEL] (-p TEXT | -f FILE) [options]\n"
            "  -m MODEL          model name or GGUF path (default: the default model)\n"
            "  -p TEXT           the prompt\n"
            "  -f FILE           read the prompt from FILE ('-' for stdin)\n"
            "  -n N              generate at most N tokens (default 128; 0: until the end)\n"
            "  --chat            wrap the prompt as a user turn in the model's chat template\n"
            "  --system TEXT     system message for --chat\n"
            "  --chat-template TEXT  Jinja chat template (the text) replacing the model's\n"
            "  --chat-template-file FILE  the same, read from FILE\n"
            "  --temp T          sampling temperature (default 0: greedy)\n"
            "  --top-k K         keep the K most likely tokens (default 0: off)\n"
            "  --top-p P         nucleus sampling threshold (default 1: off)\n"
            "  --seed S          RNG seed (default 42)\n"
            "  --stop TEXT       stop before TEXT (repeatable)\n"
            "  -c N              context size in tokens (default 4096)\n"
            "  -t N              threads (default: all cores)\n"
            "  --json-schema FILE  constrain the output to JSON valid under the schema\n"
            "  --grammar FILE    constrain the output to a GBNF grammar\n"
            "  --grammar-root NAME  the grammar's start rule (default: root)\n"
            "  --timing          print the time spent in grammar masks to stderr\n"
            "  an output cut by -n or -c before it completes the grammar exits 1\n" CLI_LORA_USAGE);
}

static int takes_value(const char *opt) {
    char key[64];
    if (strlen(opt) > 60 || strchr(opt, ' ')) return 0;
    snprintf(key, sizeof key, " %s ", opt);
    return strstr(VALUE_OPTS, key) != NULL;
}

/* Parses a decimal number into *out within [lo, hi]. */
static int parse_num(const char *opt, const char *s, double lo, double hi, double *out) {
    if (!cli_parse_num(s, lo, hi, 0, out)) {
        fprintf(stderr, "lexie: %s expects a number in [%g, %g], got '%s'\n", opt, lo, hi, s);
        return 0;
    }
    return 1;
}

#define PROMPT_MAX ((size_t)1 << 30)

/* Reads all of f (at most PROMPT_MAX bytes); NULL with a message naming
** what (a file or standard input) on a read error, an over-long prompt or
** no memory. */
static char *read_all(const char *cmd, const char *what, FILE *f, size_t *n) {
    lx_buf b = {0};
    char chunk[4096];
    size_t got;
    const char *why = NULL;
    if (lx_buf_reserve(&b, 0, NULL)) why = "out of memory";
    while (!why && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (b.len + got > PROMPT_MAX)
            why = "the prompt is longer than 1 GiB";
        else if (lx_buf_append(&b, chunk, got, NULL))
            why = "out of memory";
    if (!why && ferror(f)) why = strerror(errno);
    if (why) {
        fprintf(stderr, "lexie %s: cannot read %s: %s\n", cmd, what, why);
        lx_buf_free(&b);
        return NULL;
    }
    *n = b.len;
    return b.data;
}

/* Streams a piece to stdout; a failed write stops generation (non-zero). */
static int stream_piece(const char *piece, size_t len, void *user) {
    (void)user;
    return fwrite(piece, 1, len, stdout) != len || fflush(stdout) != 0;
}

typedef struct {
    const char *model, *prompt, *file, *system, *chat_template, *chat_template_file;
    const char *json_schema, *grammar, *grammar_root;
    int chat, n_predict, n_ctx, n_threads, timing;
    lexie_sampler_params sampler;
    const char *stops[MAX_STOPS + 1];
    int n_stops;
    cli_lora lora;
    int help; /* --help was printed */
} gen_opts;

static int parse_generate(int argc, char **argv, gen_opts *o, int need_prompt) {
    memset(o, 0, sizeof *o);
    o->n_predict = 128;
    o->n_ctx = 4096;
    o->sampler = lexie_sampler_default_params();
    o->sampler.seed = 42;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double num;
        int takes = 1, bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            generate_usage(stdout);
            o->help = 1;
            return 1;
        } else if (strcmp(a, "--chat") == 0) {
            o->chat = 1;
            takes = 0;
        } else if (strcmp(a, "--timing") == 0) {
            o->timing = 1;
            takes = 0;
        } else if (!takes_value(a)) {
            fprintf(stderr, "lexie %s: unknown option '%s' (try --help)\n", argv[0], a);
            return 0;
        } else if (!v) {
            fprintf(stderr, "lexie %s: option %s needs a value\n", argv[0], a);
            return 0;
        } else if (cli_lora_option(argv[0], a, v, &o->lora, &bad)) {
            if (bad) return 0;
        } else if (strcmp(a, "-m") == 0)
            o->model = v;
        else if (strcmp(a, "-p") == 0)
            o->prompt = v;
        else if (strcmp(a, "-f") == 0)
            o->file = v;
        else if (strcmp(a, "--json-schema") == 0)
            o->json_schema = v;
        else if (strcmp(a, "--grammar") == 0)
            o->grammar = v;
        else if (strcmp(a, "--grammar-root") == 0)
            o->grammar_root = v;
        else if (strcmp(a, "--system") == 0)
            o->system = v;
        else if (strcmp(a, "--chat-template") == 0)
            o->chat_template = v;
        else if (strcmp(a, "--chat-template-file") == 0)
            o->chat_template_file = v;
        else if (strcmp(a, "--stop") == 0) {
            if (o->n_stops == MAX_STOPS) {
                fprintf(stderr, "lexie %s: at most %d --stop strings\n", argv[0], MAX_STOPS);
                return 0;
            }
            o->stops[o->n_stops++] = v;
        } else if (strcmp(a, "-n") == 0) {
            if (!parse_num(a, v, 0, 1 << 24, &num)) return 0;
            o->n_predict = (int)num;
        } else if (strcmp(a, "-c") == 0) {
            if (!parse_num(a, v, 16, 1 << 20, &num)) return 0;
            o->n_ctx = (int)num;
        } else if (strcmp(a, "-t") == 0) {
            if (!parse_num(a, v, 1, 256, &num)) return 0;
            o->n_threads = (int)num;
        } else if (strcmp(a, "--temp") == 0) {
            if (!parse_num(a, v, 0, 100, &num)) return 0;
            o->sampler.temperature = (float)num;
        } else if (strcmp(a, "--top-k") == 0) {
            if (!parse_num(a, v, 0, 1 << 24, &num)) return 0;
            o->sampler.top_k = (int)num;
        } else if (strcmp(a, "--top-p") == 0) {
            if (!parse_num(a, v, 0, 1, &num)) return 0;
            o->sampler.top_p = (float)num;
        } else if (strcmp(a, "--seed") == 0) {
            if (!parse_num(a, v, 0, 1e18, &num)) return 0;
            o->sampler.seed = (uint64_t)num;
        } else {
            fprintf(stderr, "lexie %s: unknown option '%s' (try --help)\n", argv[0], a);
            return 0;
        }
        i += takes;
    }
    if (o->chat_template && o->chat_template_file) {
        fprintf(stderr, "lexie %s: give --chat-template or --chat-template-file, not both\n",
                argv[0]);
        return 0;
    }
    if (o->json_schema && o->grammar) {
        fprintf(stderr, "lexie %s: give --json-schema or --grammar, not both\n", argv[0]);
        return 0;
    }
    if (o->grammar_root && !o->grammar) {
        fprintf(stderr, "lexie %s: --grammar-root needs --grammar\n", argv[0]);
        return 0;
    }
    if ((o->json_schema || o->grammar) && o->n_stops) {
        fprintf(stderr, "lexie %s: --stop cannot be used with a grammar (it decides the end)\n",
                argv[0]);
        return 0;
    }
    if (need_prompt && !o->prompt == !o->file) {
        fprintf(stderr, "lexie %s: give exactly one of -p TEXT or -f FILE\n", argv[0]);
        return 0;
    }
    return 1;
}

/* Loads the prompt text (from -p or -f), checked for valid UTF-8. */
static char *load_prompt(const char *cmd, const gen_opts *o, size_t *len) {
    char *text;
    if (o->prompt) {
        text = strdup(o->prompt);
        *len = strlen(o->prompt);
    } else {
        int is_stdin = strcmp(o->file, "-") == 0;
        FILE *f = is_stdin ? stdin : fopen(o->file, "rb");
        if (!f) {
            fprintf(stderr, "lexie %s: cannot open '%s': %s\n", cmd, o->file, strerror(errno));
            return NULL;
        }
        char what[600];
        snprintf(what, sizeof what, is_stdin ? "standard input" : "'%s'", o->file);
        text = read_all(cmd, what, f, len);
        if (!is_stdin) fclose(f);
        return text;
    }
    if (!text) fprintf(stderr, "lexie %s: out of memory reading the prompt\n", cmd);
    return text;
}

static lexie_model *open_model(const char *cmd, const gen_opts *o) {
    lexie_error err;
    char *path = cli_resolve_model(o->model, &err);
    if (!path) {
        fprintf(stderr, "lexie %s: %s\n", cmd, err.message);
        return NULL;
    }
    char *tmpl = NULL;
    if (!cli_chat_template(cmd, o->chat_template, o->chat_template_file, &tmpl)) {
        free(path);
        return NULL;
    }
    lexie_model_params mp = lexie_model_default_params();
    mp.chat_template = tmpl;
    lexie_model *m = lexie_model_load(path, &mp, &err);
    free(tmpl);
    free(path);
    if (!m) fprintf(stderr, "lexie %s: %s\n", cmd, err.message);
    return m;
}

/* Tokenizes the prompt, applying the chat template first when asked. */
static lexie_token *prompt_tokens(const char *cmd, lexie_model *m, const gen_opts *o,
                                  const char *text, size_t len, int *n_tok) {
    lexie_error err;
    char *chat = NULL;
    lexie_span *user = NULL; /* with --chat: the message text, never control tokens */
    int n_user = 0;
    if (o->chat) {
        lexie_chat_msg msgs[2];
        int n = 0;
        if (o->system) msgs[n++] = (lexie_chat_msg){"system", o->system};
        msgs[n++] = (lexie_chat_msg){"user", text};
        if (strlen(text) != len) {
            fprintf(stderr, "lexie %s: the prompt contains a NUL byte\n", cmd);
            return NULL;
        }
        if (lexie_chat_apply_spans(m, msgs, n, 1, &chat, &user, &n_user, &err) != LEXIE_OK) {
            fprintf(stderr, "lexie %s: %s\n", cmd, err.message);
            return NULL;
        }
        text = chat;
        len = strlen(chat);
    }
    int n = 0;
    lexie_token *toks = NULL;
    lexie_status s = o->chat ? lexie_tokenize_chat(m, text, len, 1, user, n_user, NULL, 0, &n, &err)
                             : lexie_tokenize(m, text, len, 1, 0, NULL, 0, &n, &err);
    if (s == LEXIE_E_RANGE || s == LEXIE_OK) {
        toks = malloc(((size_t)n + 1) * sizeof *toks);
        if (!toks)
            s = LEXIE_E_NOMEM;
        else if (o->chat)
            s = lexie_tokenize_chat(m, text, len, 1, user, n_user, toks, n, &n, &err);
        else
            s = lexie_tokenize(m, text, len, 1, 0, toks, n, &n, &err);
    }
    lexie_free(chat);
    lexie_free(user);
    if (s != LEXIE_OK) {
        fprintf(stderr, "lexie %s: %s\n", cmd, s == LEXIE_E_NOMEM ? "out of memory" : err.message);
        free(toks);
        return NULL;
    }
    *n_tok = n;
    return toks;
}

/* Compiles --json-schema or --grammar (NULL and *ok = 1 when neither);
** a file that cannot be read or does not compile is reported. */
static lexie_grammar *load_grammar(const char *cmd, const gen_opts *o, int *ok) {
    const char *path = o->json_schema ? o->json_schema : o->grammar;
    *ok = 1;
    if (!path) return NULL;
    *ok = 0;
    const char *opt = o->json_schema ? "--json-schema" : "--grammar";
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "lexie %s: %s: cannot open '%s': %s\n", cmd, opt, path, strerror(errno));
        return NULL;
    }
    char what[600];
    snprintf(what, sizeof what, "'%s'", path);
    size_t len = 0;
    char *text = read_all(cmd, what, f, &len);
    fclose(f);
    if (!text) return NULL;
    lexie_error err;
    lexie_grammar *g = o->json_schema ? lexie_grammar_from_json_schema(text, len, NULL, &err)
                                      : lexie_grammar_from_gbnf(text, len, o->grammar_root, &err);
    free(text);
    if (!g)
        fprintf(stderr, "lexie %s: %s %s does not compile (no unconstrained fallback): %s\n", cmd,
                opt, path, err.message);
    *ok = g != NULL;
    return g;
}

int cmd_generate(int argc, char **argv) {
    gen_opts o;
    if (!parse_generate(argc, argv, &o, 1)) return 2;
    if (o.help) return 0;
    int g_ok;
    lexie_grammar *g = load_grammar(argv[0], &o, &g_ok);
    if (!g_ok) return 1;
    size_t len;
    char *text = load_prompt(argv[0], &o, &len);
    if (!text) {
        lexie_grammar_free(g);
        return 1;
    }
    int rc = 1, n_tok = 0;
    lexie_model *m = NULL;
    lexie_ctx *c = NULL;
    lexie_token *toks = NULL;
    lexie_grammar_vocab *gv = NULL;
    lexie_error err;
    if (!(m = open_model(argv[0], &o))) goto done;
    if (g && !(gv = lexie_grammar_vocab_new(m, &err))) {
        fprintf(stderr, "lexie generate: %s\n", err.message);
        goto done;
    }
    if (!(toks = prompt_tokens(argv[0], m, &o, text, len, &n_tok))) goto done;
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = o.n_ctx;
    cp.n_threads = o.n_threads;
    if (!(c = lexie_ctx_new(m, &cp, &err))) {
        fprintf(stderr, "lexie generate: %s\n", err.message);
        goto done;
    }
    if (!cli_apply_lora(argv[0], m, c, &o.lora)) goto done;
    lexie_gen_params gp = lexie_gen_default_params();
    gp.max_tokens = o.n_predict;
    gp.sampler = o.sampler;
    gp.stop = o.n_stops ? o.stops : NULL;
    gp.grammar = g;
    gp.grammar_vocab = gv;
    lexie_gen_timing timing;
    if (o.timing) gp.timing = &timing;
    lexie_gen_stop why = LEXIE_GEN_EOG;
    int n_gen = 0;
    if (lexie_generate_ex(c, toks, n_tok, &gp, stream_piece, NULL, NULL, &n_gen, &why, &err) !=
        LEXIE_OK) {
        fprintf(stderr, "\nlexie generate: %s\n", err.message);
        goto done;
    }
    fputc('\n', stdout);
    if (cli_flush_out("generate") != 0) goto done;
    if (why == LEXIE_GEN_CTX_FULL)
        fprintf(stderr,
                "lexie generate: stopped at the end of the context (%d tokens: %d of the "
                "prompt, %d generated); -c raises it\n",
                cp.n_ctx, n_tok, n_gen);
    if (o.timing)
        fprintf(stderr,
                "lexie generate: timing: %d steps, %.3f ms in steps, %.3f ms in grammar masks "
                "(%.2f%%)\n",
                timing.n_steps, timing.step_s * 1e3, timing.mask_s * 1e3,
                timing.step_s > 0 ? 100.0 * timing.mask_s / timing.step_s : 0.0);
    if (why == LEXIE_GEN_GRAMMAR_CUT) {
        fprintf(stderr,
                "lexie generate: the output was cut after %d tokens before it could complete the "
                "grammar; it is not valid (-n or -c raises the budget)\n",
                n_gen);
        goto done;
    }
    rc = 0;
done:
    lexie_grammar_vocab_free(gv);
    lexie_grammar_free(g);
    lexie_ctx_free(c);
    cli_lora_free(&o.lora);
    lexie_model_free(m);
    free(toks);
    free(text);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    gen_opts o;
    if (!parse_generate(argc, argv, &o, 1)) return 2;
    if (o.help) return 0;
    size_t len;
    char *text = load_prompt(argv[0], &o, &len);
    if (!text) return 1;
    int rc = 1, n_tok = 0;
    lexie_model *m = open_model(argv[0], &o);
    lexie_token *toks = m ? prompt_tokens(argv[0], m, &o, text, len, &n_tok) : NULL;
    if (toks) {
        for (int i = 0; i < n_tok; i++) printf(i ? " %d" : "%d", toks[i]);
        printf("\n");
        rc = 0;
    }
    lexie_model_free(m);
    free(toks);
    free(text);
    return rc;
}
