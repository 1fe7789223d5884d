/*
** cmd_eval.c -- `lexie eval re`: relation extraction on a benchmark
** (SemEval-2010 Task 8, GAD, TACRED) with QA4RE or the vanilla prompt,
** zero- or few-shot.  Parses the options, prints progress, and leaves the
** work to the library's resumable runner (lexie_re_eval_run, src/eval/
** run.c): predictions go to a JSONL file named by a hash of the
** configuration, so a stopped run resumes where it stopped, and the report
** (JSON and a table) is rebuilt from the file each time.
*/
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *model, *data, *split, *schema, *out, *method_s, *chat_template, *prior;
    const char *chat_template_file, *export_sft;
    int method, shots, permute, free_gen, limit, sample, threads, batch, dump_prompt, quiet;
    int calibrate;
    uint64_t seed;
    double threshold;
    cli_lora lora;
} eval_opts;

static void eval_usage(FILE *f) {
    fprintf(f,
            "usage: lexie eval re --data semeval|gad|tacred [options]\n"
            "       lexie eval extract --data NAME [options] (see lexie eval extract --help)\n"
            "  --split S          test (default), train or dev (a fixed sample of %d from train)\n"
            "  --method M         qa4re (default), vanilla, or compact (no label list;\n"
            "                     for a model tuned with --export-sft's data)\n"
            "  --shots K          few-shot demonstrations drawn from train (default 0)\n"
            "  --seed S           seed for demonstrations and --sample (default 1)\n"
            "  --limit N          the first N examples only (of the sample, with --sample)\n"
            "  --sample N         a seeded random sample of N examples, in data order\n"
            "  --permute P        QA4RE: average over P cyclic option orders (default 1)\n"
            "  --free-gen         generate the answer and parse it, instead of scoring\n"
            "  --threshold T      predict the none label iff its probability >= T\n"
            "  --calibrate        decide by batch calibration: each label's probability\n"
            "                     divided by its mean over the evaluated examples\n"
            "  --prior REPORT     calibrate with the mean probabilities of another run\n"
            "                     (its .report.json, e.g. on --split dev) instead\n"
            "  --schema FILE      relation schema (default: the built-in one for --data)\n"
            "  -m MODEL           model name or GGUF path (default: the default model)\n"
            "  --chat-template TEXT       Jinja chat template (the text) replacing the\n"
            "                             model's own\n"
            "  --chat-template-file FILE  the same, read from FILE\n" CLI_LORA_USAGE
            "  --out DIR          where predictions and reports go (default results); a\n"
            "                     run locks its prediction file, so a second identical\n"
            "                     run at the same time fails at once\n"
            "  -t N               threads (default: all cores)\n"
            "  --batch B          examples decoded together (default 8)\n"
            "  --dump-prompt      print the first example's exact prompt and exit\n"
            "  --export-sft FILE  write the selection as chat JSONL for lexie train sft\n"
            "                     (each prompt with its gold answer) and exit\n"
            "  --quiet            no progress output\n"
            "Data come from $LEXIE_DATA (default ../shared/data).\n",
            500);
}

static int int_opt(const char *opt, const char *v, long lo, long hi, long *out) {
    double x;
    if (!cli_parse_num(v, (double)lo, (double)hi, 1, &x)) {
        fprintf(stderr, "lexie eval: %s wants an integer in [%ld, %ld], not '%s'\n", opt, lo, hi,
                v);
        return 0;
    }
    *out = (long)x;
    return 1;
}

/* Returns 1 to run, 0 on a usage error (printed), -1 after --help. */
static int parse_eval(int argc, char **argv, eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->split = "test";
    o->out = "results";
    o->method_s = "qa4re";
    o->seed = 1;
    o->permute = 1;
    o->batch = 8;
    if (argc < 2 || strcmp(argv[1], "re") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            eval_usage(stdout);
            return -1;
        }
        fprintf(stderr, "lexie eval: the task must come first: lexie eval re ...\n");
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            eval_usage(stdout);
            return -1;
        }
        if (strcmp(a, "--free-gen") == 0)
            o->free_gen = 1;
        else if (strcmp(a, "--dump-prompt") == 0)
            o->dump_prompt = 1;
        else if (strcmp(a, "--quiet") == 0)
            o->quiet = 1;
        else if (strcmp(a, "--calibrate") == 0)
            o->calibrate = 1;
        else if (!v) {
            fprintf(stderr, "lexie eval: unknown option or missing value: '%s' (try --help)\n", a);
            return 0;
        } else {
            i++;
            int bad = 0;
            if (cli_lora_option("eval", a, v, &o->lora, &bad)) {
                if (bad) return 0;
            } else if (strcmp(a, "-m") == 0)
                o->model = v;
            else if (strcmp(a, "--data") == 0)
                o->data = v;
            else if (strcmp(a, "--split") == 0)
                o->split = v;
            else if (strcmp(a, "--schema") == 0)
                o->schema = v;
            else if (strcmp(a, "--chat-template") == 0)
                o->chat_template = v;
            else if (strcmp(a, "--chat-template-file") == 0)
                o->chat_template_file = v;
            else if (strcmp(a, "--out") == 0)
                o->out = v;
            else if (strcmp(a, "--prior") == 0)
                o->prior = v;
            else if (strcmp(a, "--export-sft") == 0)
                o->export_sft = v;
            else if (strcmp(a, "--method") == 0)
                o->method_s = v;
            else if (strcmp(a, "--shots") == 0) {
                if (!int_opt(a, v, 0, 64, &x)) return 0;
                o->shots = (int)x;
            } else if (strcmp(a, "--seed") == 0) {
                if (!int_opt(a, v, 0, 2147483647L, &x)) return 0;
                o->seed = (uint64_t)x;
            } else if (strcmp(a, "--limit") == 0 || strcmp(a, "--sample") == 0) {
                if (!int_opt(a, v, 1, 100000000L, &x)) return 0;
                *(a[2] == 'l' ? &o->limit : &o->sample) = (int)x;
            } else if (strcmp(a, "--permute") == 0) {
                if (!int_opt(a, v, 1, 64, &x)) return 0;
                o->permute = (int)x;
            } else if (strcmp(a, "-t") == 0) {
                if (!int_opt(a, v, 1, 256, &x)) return 0;
                o->threads = (int)x;
            } else if (strcmp(a, "--batch") == 0) {
                if (!int_opt(a, v, 1, 63, &x)) return 0;
                o->batch = (int)x;
            } else if (strcmp(a, "--threshold") == 0) {
                if (!cli_parse_num(v, 0, 1, 0, &o->threshold) || !(o->threshold > 0)) {
                    fprintf(stderr, "lexie eval: --threshold wants a number in (0, 1]\n");
                    return 0;
                }
            } else {
                fprintf(stderr, "lexie eval: unknown option '%s' (try --help)\n", a);
                return 0;
            }
        }
    }
    if (o->chat_template && o->chat_template_file) {
        fprintf(stderr, "lexie eval: give --chat-template or --chat-template-file, not both\n");
        return 0;
    }
    if (!o->data) {
        fprintf(stderr, "lexie eval re: --data is required (semeval, gad or tacred)\n");
        return 0;
    }
    if (strcmp(o->method_s, "qa4re") == 0)
        o->method = LEXIE_RE_QA4RE;
    else if (strcmp(o->method_s, "vanilla") == 0)
        o->method = LEXIE_RE_VANILLA;
    else if (strcmp(o->method_s, "compact") == 0)
        o->method = LEXIE_RE_COMPACT;
    else {
        fprintf(stderr, "lexie eval re: --method must be qa4re, vanilla or compact\n");
        return 0;
    }
    if ((o->calibrate != 0) + (o->threshold > 0) + (o->prior != NULL) > 1) {
        fprintf(stderr,
                "lexie eval re: --calibrate, --prior and --threshold are alternatives; use one\n");
        return 0;
    }
    if (o->prior) o->calibrate = 1;
    if (strcmp(o->split, "test") && strcmp(o->split, "train") && strcmp(o->split, "dev")) {
        fprintf(stderr, "lexie eval re: --split must be test, train or dev\n");
        return 0;
    }
    return 1;
}

/* ==== Progress ==== */

typedef struct {
    int tty, quiet;
    double t0;
} eval_ui;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress(int done, int total, double t0, int tty, int quiet) {
    if (quiet || total <= 0) return;
    double el = now() - t0, rate = el > 0 ? done / el : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    if (tty) {
        int w = 30, f = (int)((double)w * done / total);
        char bar[64];
        for (int i = 0; i < w; i++) bar[i] = i < f ? '#' : '.';
        bar[w] = 0;
        fprintf(stderr, "\r[%s] %d/%d %5.1f%%  %.2f ex/s  ETA %dm%02ds ", bar, done, total,
                100.0 * done / total, rate, (int)eta / 60, (int)eta % 60);
        if (done == total) fputc('\n', stderr);
    } else if (done == total || done % 50 == 0) {
        fprintf(stderr, "lexie eval: %d/%d  %.2f ex/s  ETA %dm%02ds\n", done, total, rate,
                (int)eta / 60, (int)eta % 60);
    }
}

static void on_event(const lexie_re_eval_event *ev, void *user) {
    eval_ui *ui = user;
    switch (ev->kind) {
    case LEXIE_RE_EVAL_WARNING: fprintf(stderr, "lexie eval: warning: %s\n", ev->message); break;
    case LEXIE_RE_EVAL_START:
        if (!ui->quiet)
            fprintf(stderr, "lexie eval: %d examples, %d already in %s, %d to compute\n",
                    ev->n_examples, ev->n_resumed, ev->path, ev->total);
        ui->t0 = now();
        break;
    case LEXIE_RE_EVAL_PROGRESS: progress(ev->done, ev->total, ui->t0, ui->tty, ui->quiet); break;
    case LEXIE_RE_EVAL_EXAMPLE_ERROR:
        fprintf(stderr, "%slexie eval: example %s: %s\n", ui->tty ? "\n" : "", ev->id, ev->message);
        break;
    }
}

static char *resolve_model(const char *model, void *user, lexie_error *err) {
    (void)user;
    return cli_resolve_model(model, err);
}

int cmd_eval(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "extract") == 0) return cmd_eval_extract(argc, argv);
    eval_opts o;
    int parsed = parse_eval(argc, argv, &o);
    if (parsed <= 0) return parsed < 0 ? 0 : 2;
    lexie_error err;
    char *tmpl = NULL;
    if (!cli_chat_template("eval", o.chat_template, o.chat_template_file, &tmpl)) return 1;
    char *schema_path = cli_find_schema(o.schema ? o.schema : o.data, &err);
    if (!schema_path) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
        free(tmpl);
        return 1;
    }
    char *command = cli_command_line(argc, argv);
    eval_ui ui = {isatty(2), o.quiet, 0};
    lexie_re_eval_params p = lexie_re_eval_default_params();
    p.data = o.data;
    p.split = o.split;
    p.schema_path = schema_path;
    p.model = o.model;
    p.resolve_model = resolve_model;
    p.chat_template = tmpl;
    p.lora = o.lora.path;
    p.lora_scale = o.lora.scale_set ? (float)o.lora.scale : 1.0f;
    p.out_dir = o.out;
    p.prior_path = o.prior;
    p.command = command;
    p.method = (lexie_re_method)o.method;
    p.shots = o.shots;
    p.seed = o.seed;
    p.limit = o.limit;
    p.sample = o.sample;
    p.n_permute = o.permute;
    p.free_gen = o.free_gen;
    p.threshold = o.threshold;
    p.calibrate = o.calibrate;
    p.batch = o.batch;
    p.n_threads = o.threads;
    p.dump_prompt = o.dump_prompt;
    p.sft_out = o.export_sft;
    p.on_event = on_event;
    p.user = &ui;
    lexie_re_eval_result r = {0};
    int rc = 1;
    if (!command) {
        fprintf(stderr, "lexie eval: out of memory\n");
    } else if (lexie_re_eval_run(&p, &r, &err) != LEXIE_OK) {
        fprintf(stderr, "lexie eval: %s\n", err.message);
    } else if (o.dump_prompt) {
        if (r.prompt) printf("%s\n", r.prompt);
        rc = r.prompt ? 0 : 1;
    } else if (o.export_sft) {
        if (!o.quiet)
            fprintf(stderr, "lexie eval: %d examples written to %s\n", r.n_examples, o.export_sft);
        rc = 0;
    } else {
        fputs(r.table, stdout);
        if (!r.report_written)
            fprintf(stderr, "lexie eval: could not write the report next to %s\n", r.predictions);
        rc = r.n_errors || !r.report_written ? 1 : 0;
    }
    lexie_re_eval_result_clear(&r);
    free(command);
    free(schema_path);
    free(tmpl);
    return rc;
}
