/*
** cmd_eval_extract.c -- `lexie eval extract`: the extraction benchmarks
** (CoNLL-2003, NCBI-disease, BC5CDR, PHEE, CaRB, ADELIE's held-out sets)
** and PubMedQA's decisions and conclusions (BioInstruct's QA and
** generation).
** Parses the options, prints progress, and leaves the work to the
** library's resumable runner (src/eval/ie_run.c): predictions go to a
** JSONL file named by a hash of the configuration, so a stopped run
** resumes, and the report is rebuilt from the file each time.
*/
#include "cli.h"

#include "eval/ie_eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f, "usage: lexie eval extract --data NAME [options]\n"
               "  NAME: conll2003, ncbi, bc5cdr (strict entity F1), phee (events), carb (open\n"
               "        IE), adelie-semeval, adelie-fewnerd, adelie-ondemand (ADELIE's sets),\n"
               "        pubmedqa (yes/no/maybe: accuracy, macro-F1), pubmedqa-conclusion\n"
               "        (the abstract's conclusion: ROUGE-L)\n"
               "  --native           ADELIE's sets: their own chat prompts, answers parsed as\n"
               "                     ADELIE's scripts parse them (default: lexie's prompts)\n"
               "  --split S          test (default), train (NER sets, PHEE, PubMedQA) or\n"
               "                     dev (NER sets, PHEE: for choosing prompts)\n"
               "  --export-sft FILE  write the selection as chat JSONL for lexie train sft\n"
               "                     (each exact prompt, then its gold answer) and exit;\n"
               "                     NER sets, PHEE, PubMedQA and --native\n"
               "  --sample N         a seeded random sample of N documents, in data order\n"
               "  --shots K          K demonstrations drawn from the train split (NER sets,\n"
               "                     PHEE), shown before every document\n"
               "  --seed S           seed of --sample and --shots (default 1)\n"
               "  --limit N          predict at most N more documents this run\n"
               "  --report           rebuild the report from the predictions so far and stop\n"
               "                     (also while another run appends to them)\n"
               "  --max-tokens N     answer budget (default 512)\n"
               "  -m MODEL           model name or GGUF path (default: the default model)\n"
               "  --chat-template T  Jinja chat template replacing the model's (joins the hash)\n"
               "  --out DIR          where predictions and reports go (default results)\n"
               "  -t N               threads (default: all cores)\n"
               "  -c N               KV cells (default: the model's context, at most\n"
               "                     4096 + 1536 x batch)\n"
               "  --batch B          documents decoded together (default 4)\n"
               "  --quiet            no progress output\n" CLI_LORA_USAGE
               "Data come from $LEXIE_DATA (default ../shared/data).\n");
}

static void progress(int done, int total, double dps, void *user) {
    (void)user;
    fprintf(stderr, "\rlexie eval: %d/%d documents, %.3f docs/s   ", done, total, dps);
    if (done == total) fputc('\n', stderr);
}

static int parse(int argc, char **argv, lx_ie_eval_params *p, const char **model, int *quiet,
                 cli_lora *lora) {
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout), -1;
        if (!strcmp(a, "--native")) {
            p->native = 1;
            continue;
        }
        if (!strcmp(a, "--report")) {
            p->report_only = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            *quiet = 1;
            continue;
        }
        if (!v) return fprintf(stderr, "lexie eval: '%s' wants a value (try --help)\n", a), 0;
        i++;
        if (cli_lora_option("eval", a, v, lora, &bad)) {
            if (bad) return 0;
        } else if (!strcmp(a, "--data"))
            p->data = v;
        else if (!strcmp(a, "-m"))
            *model = v;
        else if (!strcmp(a, "--chat-template"))
            p->chat_template = v;
        else if (!strcmp(a, "--out"))
            p->out_dir = v;
        else if (!strcmp(a, "--export-sft"))
            p->sft_out = v;
        else if (!strcmp(a, "--split") && !strcmp(v, "test"))
            p->split = LX_IE_TEST;
        else if (!strcmp(a, "--split") && !strcmp(v, "train"))
            p->split = LX_IE_TRAIN;
        else if (!strcmp(a, "--split") && !strcmp(v, "dev"))
            p->split = LX_IE_DEV;
        else if (!strcmp(a, "--sample") && cli_parse_num(v, 1, 1e7, 1, &x))
            p->sample = (int)x;
        else if (!strcmp(a, "--shots") && cli_parse_num(v, 1, 64, 1, &x))
            p->shots = (int)x;
        else if (!strcmp(a, "--seed") && cli_parse_num(v, 0, 1e18, 1, &x))
            p->seed = (uint64_t)x;
        else if (!strcmp(a, "--limit") && cli_parse_num(v, 1, 1e7, 1, &x))
            p->limit = (int)x;
        else if (!strcmp(a, "--max-tokens") && cli_parse_num(v, 1, 65536, 1, &x))
            p->max_tokens = (int)x;
        else if (!strcmp(a, "-t") && cli_parse_num(v, 1, 256, 1, &x))
            p->threads = (int)x;
        else if (!strcmp(a, "-c") && cli_parse_num(v, 64, 1 << 24, 1, &x))
            p->n_ctx = (int)x;
        else if (!strcmp(a, "--batch") && cli_parse_num(v, 1, 63, 1, &x))
            p->batch = (int)x;
        else
            return fprintf(stderr, "lexie eval: bad option '%s %s' (try --help)\n", a, v), 0;
    }
    if (!p->data) return fprintf(stderr, "lexie eval extract: --data is required\n"), 0;
    return 1;
}

int cmd_eval_extract(int argc, char **argv) {
    lx_ie_eval_params p;
    memset(&p, 0, sizeof p);
    p.seed = 1;
    p.max_tokens = 512;
    p.batch = 4;
    const char *model = NULL;
    int quiet = 0;
    cli_lora lora = {0};
    int rc = parse(argc, argv, &p, &model, &quiet, &lora);
    if (rc <= 0) return rc < 0 ? 0 : 2;
    lexie_error err;
    char *mpath = cli_resolve_model(model, &err);
    if (!mpath) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        return 1;
    }
    p.model = mpath;
    p.lora = lora.path;
    p.lora_scale = (float)(lora.scale_set ? lora.scale : 1.0);
    if (!quiet && isatty(2)) p.on_progress = progress;
    lx_ie_eval_result res;
    lexie_status st = lx_ie_eval_run(&p, &res, &err);
    if (st == LEXIE_OK && p.sft_out)
        fprintf(stderr, "lexie eval: %d training lines written to %s\n", res.n_docs, p.sft_out);
    if (res.table) fputs(res.table, stdout);
    if (res.predictions)
        fprintf(stderr, "lexie eval: predictions %s (%d resumed, %d computed, %d failed)\n",
                res.predictions, res.n_resumed, res.n_computed, res.n_errors);
    if (res.n_errors) fprintf(stderr, "lexie eval: first failure: %s\n", res.first_error);
    if (res.report_txt && res.table) fprintf(stderr, "lexie eval: report %s\n", res.report_txt);
    if (st != LEXIE_OK) fprintf(stderr, "lexie eval: %s\n", err.message);
    rc = st != LEXIE_OK || cli_flush_out("eval") != 0 ? 1 : 0;
    lx_ie_eval_result_clear(&res);
    free(mpath);
    return rc;
}
