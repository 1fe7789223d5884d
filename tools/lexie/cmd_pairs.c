/*
** cmd_pairs.c -- `lexie pairs`: ADELIE's preference pairs for DPO
** (lexie_pairs_build): n sampled answers per gold prompt, the best and the
** worst against the gold output, one {"prompt", "chosen", "rejected",
** "gap"} line on stdout per kept pair.
*/
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pairs_usage(FILE *f) {
    fputs(
        "usage: lexie pairs -m MODEL --data GOLD.jsonl [options] > pairs.jsonl\n"
        "  GOLD.jsonl lines: {\"instruction\", \"input\"?, \"output\"}, {\"prompt\", "
        "\"output\"},\n"
        "    or {\"messages\": [user turn, gold assistant turn]} (eval re --export-sft)\n"
        "  -m MODEL           model name or GGUF path (default: the default model)\n" CLI_LORA_USAGE
        "  --n N              answers sampled per prompt (default 5)\n"
        "  --temp T           sampling temperature (default 1.0)\n"
        "  --metric M         exact, f1 (default) or rouge (ROUGE-L)\n"
        "  --min-gap G        keep a pair when best - worst > G (default 0.1)\n"
        "  --seed S           seed (default 42)\n"
        "  --max-tokens N     longest answer (default 256)\n"
        "  -t N               threads (default: all cores)\n",
        f);
}

typedef struct {
    int n_kept, n_lines, failed;
} pairs_count;

static int emit(const lexie_pair_out *pr, void *user) {
    pairs_count *c = user;
    c->n_lines++;
    if (!pr->kept) return 0;
    c->n_kept++;
    if (printf("%s\n", pr->json) < 0 || cli_flush_out("pairs") != 0) return c->failed = 1;
    return 0;
}

static int pairs_value(lexie_pairs_params *p, int *threads, const char *a, const char *v) {
    double x = 0;
#define NUM(name, lo, hi, integer) (strcmp(a, name) == 0 && cli_parse_num(v, lo, hi, integer, &x))
    if (strcmp(a, "--metric") == 0) {
        if (strcmp(v, "exact") == 0)
            p->metric = LEXIE_TEXT_EXACT;
        else if (strcmp(v, "f1") == 0)
            p->metric = LEXIE_TEXT_F1;
        else if (strcmp(v, "rouge") == 0)
            p->metric = LEXIE_TEXT_ROUGE_L;
        else
            return 0;
    } else if (NUM("--n", 2, 64, 1))
        p->n = (int)x;
    else if (NUM("--temp", 0, 100, 0))
        p->temperature = (float)x;
    else if (NUM("--min-gap", 0, 1, 0))
        p->min_gap = x;
    else if (NUM("--seed", 0, 1e18, 1))
        p->seed = (uint64_t)x;
    else if (NUM("--max-tokens", 0, 1 << 20, 1))
        p->max_tokens = (int)x;
    else if (NUM("-t", 1, 256, 1))
        *threads = (int)x;
    else
        return 0;
#undef NUM
    return x == x;
}

int cmd_pairs(int argc, char **argv) {
    const char *model = NULL, *data = NULL;
    cli_lora lora = {NULL, 1.0, 0, NULL};
    lexie_pairs_params pp = lexie_pairs_default_params();
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            pairs_usage(stdout);
            return 0;
        } else if (!v) {
            fprintf(stderr, "lexie pairs: unknown option or missing value: '%s' (try --help)\n", a);
            return 2;
        } else if (cli_lora_option("pairs", a, v, &lora, &bad)) {
            if (bad) return 2;
        } else if (strcmp(a, "-m") == 0) {
            model = v;
        } else if (strcmp(a, "--data") == 0) {
            data = v;
        } else if (!pairs_value(&pp, &threads, a, v)) {
            fprintf(stderr, "lexie pairs: bad option or value '%s %s' (try --help)\n", a, v);
            return 2;
        }
        i++;
    }
    if (!data) {
        fprintf(stderr, "lexie pairs: --data GOLD.jsonl is required\n");
        return 2;
    }
    lexie_error err;
    char *path = cli_resolve_model(model, &err);
    lexie_model *m = path ? lexie_model_load(path, NULL, &err) : NULL;
    lexie_ctx *c = NULL;
    free(path);
    int rc = 1;
    pairs_count cnt = {0, 0, 0};
    if (m) {
        lexie_ctx_params cp = lexie_ctx_default_params();
        cp.n_threads = threads;
        c = lexie_ctx_new(m, &cp, &err);
    }
    if (!c)
        fprintf(stderr, "lexie pairs: %s\n", err.message);
    else if (cli_apply_lora("pairs", m, c, &lora)) {
        if (lexie_pairs_build(c, data, &pp, emit, &cnt, &err) != LEXIE_OK)
            fprintf(stderr, "lexie pairs: %s\n", err.message);
        else if (!cnt.failed) { /* a failed write was reported by cli_flush_out */
            fprintf(stderr, "lexie pairs: %d of %d prompts gave a pair\n", cnt.n_kept, cnt.n_lines);
            rc = 0;
        }
    }
    lexie_ctx_free(c);
    cli_lora_free(&lora);
    lexie_model_free(m);
    return rc;
}
