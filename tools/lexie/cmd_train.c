/*
** cmd_train.c -- `lexie train sft|dpo`: LoRA fine-tuning from the command
** line over lexie_trainer_fit / lexie_trainer_dpo_fit.  Everything here is
** face: options, a progress line on a TTY, the JSONL log (one object per
** optimizer step), checkpoints every N steps and --resume.
**
** Resume: the checkpoint (OUT minus .gguf, plus .ckpt.gguf) holds the
** whole trainer state; the log is cut back to the steps the checkpoint
** has, so after a kill -9 it again holds exactly one line per step.
*/
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int dpo;
    const char *model, *data, *out, *log, *init_lora, *ref_lora;
    lexie_train_params p;
    long steps;
    double epochs, beta;
    int batch, accum, save_every, resume;
    char ckpt[4096];
} train_opts;

static void train_usage(FILE *f) {
    fputs("usage: lexie train sft|dpo -m MODEL --data FILE --out ADAPTER.gguf [options]\n"
          "  sft: instruction JSONL ({\"instruction\", \"input\"?, \"output\"}) or chat JSONL\n"
          "       ({\"messages\": [...]}); dpo: {\"prompt\", \"chosen\", \"rejected\"} JSONL\n"
          "  --steps N          optimizer steps (default: --epochs 1)\n"
          "  --epochs E         passes over the data (steps = ceil(n / (batch * accum)) * E)\n"
          "  --lr X             peak learning rate (default 2e-4)\n"
          "  --rank R           LoRA rank (default 16)\n"
          "  --alpha A          LoRA alpha (default 32; scale alpha / rank)\n"
          "  --dropout D        dropout on LoRA's input (default 0.05)\n"
          "  --targets LIST     projections: q,k,v,o,gate,up,down or all (default all)\n"
          "  --batch B          sequences per micro-batch (default 8)\n"
          "  --accum K          micro-batches per optimizer step (default 1)\n"
          "  --seq-len L        longest sequence; longer ones are cut (default 512)\n"
          "  --warmup-ratio W   share of steps warming up (default 0.03)\n"
          "  --schedule S       cosine (default), linear or constant\n"
          "  --weight-decay X   AdamW weight decay (default 0)\n"
          "  --clip X           clip the gradient norm to X (default 1; 0: off)\n"
          "  --seed S           seed of initialisation, dropout and shuffles (default 42)\n"
          "  -t N               threads (default: all cores; resume with the same)\n"
          "  --log FILE         JSONL, one object per optimizer step: step, loss, lr,\n"
          "                     tokens_per_s (dpo: reward_margin, reward_accuracy)\n"
          "  --save-every N     checkpoint every N steps to OUT.ckpt.gguf (default 0: off)\n"
          "  --resume           continue from OUT.ckpt.gguf (same options and -t)\n"
          "  --init-lora FILE   start from this adapter (e.g. the SFT one)\n"
          "  --ref-lora FILE    dpo: the reference is the model with this adapter\n"
          "                     (default: the base model)\n"
          "  --beta B           dpo: temperature (default 0.1)\n",
          f);
}

static int parse_targets(const char *s, unsigned *out) {
    static const char *const names[] = {"q", "k", "v", "o", "gate", "up", "down"};
    unsigned m = 0;
    if (strcmp(s, "all") == 0) m = LEXIE_LORA_ALL;
    for (const char *p = s; *p && !m;) {
        size_t n = strcspn(p, ",");
        int hit = 0;
        for (int i = 0; i < 7; i++)
            if (strlen(names[i]) == n && strncmp(p, names[i], n) == 0) hit = 1 << i;
        if (!hit) return 0;
        *out |= (unsigned)hit;
        p += n + (p[n] == ',');
    }
    if (m) *out = m;
    return *out != 0;
}

/* One option with a value; 0 when it is unknown or its value is bad. */
static int train_value(train_opts *o, const char *a, const char *v) {
    lexie_train_params *p = &o->p;
    double x = 0;
#define NUM(name, lo, hi, integer) (strcmp(a, name) == 0 && cli_parse_num(v, lo, hi, integer, &x))
    if (strcmp(a, "-m") == 0)
        o->model = v;
    else if (strcmp(a, "--data") == 0)
        o->data = v;
    else if (strcmp(a, "--out") == 0)
        o->out = v;
    else if (strcmp(a, "--log") == 0)
        o->log = v;
    else if (strcmp(a, "--init-lora") == 0)
        o->init_lora = v;
    else if (strcmp(a, "--ref-lora") == 0)
        o->ref_lora = v;
    else if (strcmp(a, "--targets") == 0) {
        p->targets = 0;
        return parse_targets(v, &p->targets);
    } else if (strcmp(a, "--schedule") == 0) {
        if (strcmp(v, "cosine") == 0)
            p->schedule = LEXIE_LR_COSINE;
        else if (strcmp(v, "linear") == 0)
            p->schedule = LEXIE_LR_LINEAR;
        else if (strcmp(v, "constant") == 0)
            p->schedule = LEXIE_LR_CONSTANT;
        else
            return 0;
    } else if (NUM("--steps", 1, 1e9, 1))
        o->steps = (long)x;
    else if (NUM("--epochs", 1e-6, 1e6, 0))
        o->epochs = x;
    else if (NUM("--lr", 0, 10, 0))
        p->lr = (float)x;
    else if (NUM("--rank", 1, 4096, 1))
        p->rank = (int)x;
    else if (NUM("--alpha", 0, 1e6, 0))
        p->alpha = (float)x;
    else if (NUM("--dropout", 0, 0.99, 0))
        p->dropout = (float)x;
    else if (NUM("--batch", 1, 4096, 1))
        o->batch = (int)x;
    else if (NUM("--accum", 1, 4096, 1))
        o->accum = (int)x;
    else if (NUM("--seq-len", 2, 65536, 1))
        p->max_seq_len = (int)x;
    else if (NUM("--warmup-ratio", 0, 1, 0))
        p->warmup_ratio = (float)x;
    else if (NUM("--weight-decay", 0, 10, 0))
        p->weight_decay = (float)x;
    else if (NUM("--clip", 0, 1e9, 0))
        p->max_grad_norm = (float)x;
    else if (NUM("--seed", 0, 1e18, 1))
        p->seed = (unsigned long long)x;
    else if (NUM("-t", 1, 256, 1))
        p->n_threads = (int)x;
    else if (NUM("--save-every", 0, 1e9, 1))
        o->save_every = (int)x;
    else if (NUM("--beta", 1e-6, 1e6, 0))
        o->beta = x;
    else
        return 0;
#undef NUM
    return x == x; /* a NaN is refused */
}

/* Returns -1 to go on, else the exit status. */
static int parse_train(int argc, char **argv, train_opts *o) {
    memset(o, 0, sizeof *o);
    o->p = lexie_train_default_params();
    o->batch = 8;
    o->accum = 1;
    o->beta = 0.1;
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        train_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "sft") && strcmp(argv[1], "dpo")) {
        fprintf(stderr, "lexie train: the first argument is sft or dpo, not '%s'\n", argv[1]);
        return 2;
    }
    o->dpo = argv[1][0] == 'd';
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            train_usage(stdout);
            return 0;
        } else if (strcmp(a, "--resume") == 0) {
            o->resume = 1;
        } else if (!v) {
            fprintf(stderr, "lexie train: unknown option or missing value: '%s' (try --help)\n", a);
            return 2;
        } else if (!train_value(o, a, v)) {
            fprintf(stderr, "lexie train: bad option or value '%s %s' (try --help)\n", a, v);
            return 2;
        } else {
            i++;
        }
    }
    if (!o->data || !o->out) {
        fprintf(stderr, "lexie train: --data FILE and --out ADAPTER.gguf are required\n");
        return 2;
    }
    if (o->steps && o->epochs) {
        fprintf(stderr, "lexie train: give --steps or --epochs, not both\n");
        return 2;
    }
    if (!o->dpo && o->ref_lora) {
        fprintf(stderr, "lexie train: --ref-lora is for dpo\n");
        return 2;
    }
    size_t n = strlen(o->out);
    int stem = n > 5 && strcmp(o->out + n - 5, ".gguf") == 0 ? (int)n - 5 : (int)n;
    if (n + 16 > sizeof o->ckpt) {
        fprintf(stderr, "lexie train: --out path too long\n");
        return 2;
    }
    snprintf(o->ckpt, sizeof o->ckpt, "%.*s.ckpt.gguf", stem, o->out);
    return -1;
}

/* ==== The log ==== */

/* Keeps the complete lines of the log whose step is at most `steps` (the
** checkpoint's), so a resumed run appends after exactly those.  A missing
** log is fine.  Returns the log opened for appending, or NULL. */
static FILE *open_log(const char *path, int resume, long steps) {
    if (!resume) return fopen(path, "w");
    FILE *f = fopen(path, "rb");
    char *keep = NULL;
    size_t n = 0;
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        FILE *mem = open_memstream(&keep, &n);
        while (mem && (len = getline(&line, &cap, f)) > 0) {
            long s = -1;
            if (line[len - 1] == '\n' && sscanf(line, "{\"step\": %ld,", &s) == 1 && s <= steps)
                fwrite(line, 1, (size_t)len, mem);
        }
        free(line);
        fclose(f);
        if (!mem) return NULL;
        fclose(mem);
    }
    f = fopen(path, "w");
    if (f && n && fwrite(keep, 1, n, f) != n) {
        fclose(f);
        f = NULL;
    }
    free(keep);
    return f;
}

static void put_num(FILE *f, const char *key, double v, const char *fmt) {
    fprintf(f, ", \"%s\": ", key);
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fputs("null", f); /* JSON holds no NaN */
}

/* ==== Steps ==== */

typedef struct {
    const train_opts *o;
    lexie_trainer *t;
    FILE *log;
    int tty, failed;
    long first, total; /* step this run started from, and the last */
    double t0, tokens;
} run_state;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int on_step(run_state *r, const lexie_train_stats *st, const lexie_dpo_stats *d) {
    double tps = st->seconds > 0 ? (double)st->n_tokens / st->seconds : 0.0;
    if (r->log) {
        fprintf(r->log, "{\"step\": %ld", st->step);
        put_num(r->log, "loss", st->loss, "%.17g");
        put_num(r->log, "lr", st->lr, "%.9g");
        put_num(r->log, "tokens_per_s", tps, "%.9g");
        if (d) {
            put_num(r->log, "reward_margin", d->reward_margin, "%.17g");
            put_num(r->log, "reward_accuracy", d->reward_accuracy, "%.17g");
        }
        fputs("}\n", r->log);
        if (fflush(r->log) != 0) {
            fprintf(stderr, "\nlexie train: cannot write the log %s\n", r->o->log);
            return r->failed = 1;
        }
    }
    if (r->o->save_every && st->step % r->o->save_every == 0) {
        lexie_error err;
        if (lexie_trainer_save(r->t, r->o->ckpt, &err) != LEXIE_OK) {
            fprintf(stderr, "\nlexie train: %s\n", err.message);
            return r->failed = 1;
        }
    }
    if (r->tty) {
        r->tokens += (double)st->n_tokens;
        double el = now() - r->t0,
               eta = el / (double)(st->step - r->first) * (double)(r->total - st->step);
        fprintf(stderr, "\rstep %ld/%ld  loss %.4f", st->step, r->total, st->loss);
        if (d) fprintf(stderr, "  margin %.3f  acc %.2f", d->reward_margin, d->reward_accuracy);
        fprintf(stderr, "  %.1f tok/s  ETA %ld:%02ld   ", el > 0 ? r->tokens / el : 0.0,
                (long)eta / 60, (long)eta % 60);
    }
    /* Tests: a kill -9 right after this step's log line and checkpoint. */
    const char *kill_at = getenv("LEXIE_TEST_KILL_AT_STEP");
    if (kill_at && atol(kill_at) == st->step) raise(SIGKILL);
    return 0;
}

static int sft_cb(const lexie_train_stats *st, void *user) { return on_step(user, st, NULL); }
static int dpo_cb(const lexie_dpo_stats *st, void *user) { return on_step(user, &st->train, st); }

/* ==== The command ==== */

typedef struct {
    lexie_model *m;
    lexie_adapter *init, *ref;
    lexie_train_data *sft;
    lexie_dpo_data *dpo;
    double *ref_logp;
    lexie_trainer *t;
    FILE *log;
} train_res;

static void res_free(train_res *r) {
    lexie_trainer_free(r->t);
    lexie_train_data_free(r->sft);
    lexie_dpo_data_free(r->dpo);
    lexie_adapter_free(r->init);
    lexie_adapter_free(r->ref);
    lexie_model_free(r->m);
    free(r->ref_logp);
    if (r->log) fclose(r->log);
}

/* Model, adapters and data; prints and returns 0 on failure. */
static int load_all(train_opts *o, train_res *r, int *n_items) {
    lexie_error err;
    char *path = cli_resolve_model(o->model, &err);
    if (!path || !(r->m = lexie_model_load(path, NULL, &err))) {
        free(path);
        fprintf(stderr, "lexie train: %s\n", err.message);
        return 0;
    }
    free(path);
    if ((o->init_lora && !(r->init = lexie_adapter_load(r->m, o->init_lora, &err))) ||
        (o->ref_lora && !(r->ref = lexie_adapter_load(r->m, o->ref_lora, &err)))) {
        fprintf(stderr, "lexie train: %s\n", err.message);
        return 0;
    }
    int len = o->p.max_seq_len;
    if (o->dpo ? !(r->dpo = lexie_dpo_data_load(r->m, o->data, len, &err))
               : !(r->sft = lexie_train_data_load(r->m, o->data, len, &err))) {
        fprintf(stderr, "lexie train: %s\n", err.message);
        return 0;
    }
    *n_items = o->dpo ? lexie_dpo_data_count(r->dpo) : lexie_train_data_count(r->sft);
    int dropped = o->dpo ? lexie_dpo_data_dropped(r->dpo) : lexie_train_data_dropped(r->sft);
    if (dropped || (!o->dpo && lexie_train_data_truncated(r->sft)))
        fprintf(stderr, "lexie train: %d example(s) cut at --seq-len %d, %d dropped\n",
                o->dpo ? 0 : lexie_train_data_truncated(r->sft), len, dropped);
    return 1;
}

/* The trainer, the DPO reference and a checkpoint to resume from. */
static int start(train_opts *o, train_res *r, int n_items) {
    lexie_error err;
    int per_step = o->batch * o->accum;
    long per_epoch = (n_items + per_step - 1) / per_step;
    double total = o->steps ? (double)o->steps : ceil(per_epoch * (o->epochs ? o->epochs : 1.0));
    if (total > 1e9) total = 1e9;
    o->p.total_steps = (int)total;
    o->p.micro_batch = o->batch;
    o->p.init = r->init;
    if (r->init) o->p.rank = lexie_adapter_rank(r->init);
    if (!(r->t = lexie_trainer_new(r->m, &o->p, &err))) {
        fprintf(stderr, "lexie train: %s\n", err.message);
        return 0;
    }
    if (o->dpo) {
        /* The frozen reference, once per run (deterministic, no dropout). */
        const lexie_dpo_pair *pairs = lexie_dpo_data_pairs(r->dpo);
        if (!(r->ref_logp = malloc(sizeof *r->ref_logp * 2 * (size_t)n_items))) {
            fprintf(stderr, "lexie train: out of memory\n");
            return 0;
        }
        if (lexie_trainer_dpo_reference(r->t, r->ref, pairs, n_items, r->ref_logp, &err)) {
            fprintf(stderr, "lexie train: reference: %s\n", err.message);
            return 0;
        }
    }
    if (o->resume) {
        if (access(o->ckpt, F_OK) != 0)
            fprintf(stderr, "lexie train: no checkpoint %s; starting from step 0\n", o->ckpt);
        else if (lexie_trainer_resume(r->t, o->ckpt, &err) != LEXIE_OK) {
            fprintf(stderr, "lexie train: --resume: %s\n", err.message);
            return 0;
        }
    }
    if (o->log && !(r->log = open_log(o->log, o->resume, lexie_trainer_steps(r->t)))) {
        fprintf(stderr, "lexie train: cannot write the log %s: %s\n", o->log, strerror(errno));
        return 0;
    }
    return 1;
}

int cmd_train(int argc, char **argv) {
    train_opts o;
    int rc = parse_train(argc, argv, &o), n_items = 0;
    if (rc >= 0) return rc;
    train_res r;
    memset(&r, 0, sizeof r);
    if (!load_all(&o, &r, &n_items) || !start(&o, &r, n_items)) {
        res_free(&r);
        return 1;
    }
    run_state rs = {&o,    r.t, r.log, isatty(2), 0, lexie_trainer_steps(r.t), o.p.total_steps,
                    now(), 0.0};
    fprintf(stderr, "lexie train %s: %d %s, %d steps of %d, from step %ld\n", o.dpo ? "dpo" : "sft",
            n_items, o.dpo ? "pairs" : "examples", o.p.total_steps, o.batch * o.accum, rs.first);
    lexie_error err;
    int per_step = o.batch * o.accum;
    lexie_status s = o.dpo ? lexie_trainer_dpo_fit(r.t, r.dpo, per_step, r.ref_logp, (float)o.beta,
                                                   dpo_cb, &rs, &err)
                           : lexie_trainer_fit(r.t, r.sft, per_step, sft_cb, &rs, &err);
    if (rs.tty) fputc('\n', stderr);
    rc = 1;
    if (s != LEXIE_OK)
        fprintf(stderr, "lexie train: %s\n", err.message);
    else if (!rs.failed && lexie_adapter_save(lexie_trainer_adapter(r.t), o.out, &err) != LEXIE_OK)
        fprintf(stderr, "lexie train: %s\n", err.message);
    else if (!rs.failed) {
        fprintf(stderr, "lexie train: %ld steps done; adapter written to %s\n",
                lexie_trainer_steps(r.t), o.out);
        rc = 0;
    }
    res_free(&r);
    return rc;
}
