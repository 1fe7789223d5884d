/*
** test_train_cli.c -- the faces of training: `lexie train sft|dpo` (log
** format, kill -9 and --resume bit for bit), `generate --lora`, `lexie
** merge` against the run-time adapter, `lexie pairs`, their errors; and
** the text similarities behind pairs (lexie_text_similarity).
*/
#include "lexie.h"
#include "lx_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int run_cli(const char *args, char *out, size_t n) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1 </dev/null", lx_test_cli(), args);
    FILE *f = popen(cmd, "r");
    if (!f) return -2;
    size_t len = fread(out, 1, n - 1, f);
    out[len] = 0;
    int st = pclose(f);
    if (WIFSIGNALED(st)) return -1;
    return WEXITSTATUS(st);
}

static void tmp(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/tcli_%ld_%s", lx_test_fixtures(), (long)getpid(), name);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The lines of a file (up to cap, each up to 1024 bytes); returns the count. */
static int read_lines(const char *path, char lines[][1024], int cap) {
    FILE *f = fopen(path, "r");
    int n = 0;
    if (!f) return -1;
    while (n < cap && fgets(lines[n], 1024, f)) n++;
    fclose(f);
    return n;
}

static const char SFT[] = "{\"instruction\": \"Say hi\", \"output\": \"hi there\"}\n"
                          "{\"instruction\": \"Name a color\", \"input\": \"sky\", \"output\": "
                          "\"blue\"}\n"
                          "{\"instruction\": \"Count\", \"output\": \"one two three\"}\n";
static const char DPO[] =
    "{\"prompt\": \"Say hi\", \"chosen\": \"hi there\", \"rejected\": \"go away\"}\n"
    "{\"prompt\": \"Color of the sky\", \"chosen\": \"blue\", \"rejected\": \"green\"}\n";

static const char DPO3[] =
    "{\"prompt\": \"Say hi\", \"chosen\": \"hi there\", \"rejected\": \"go away\"}\n"
    "{\"prompt\": \"Color of the sky\", \"chosen\": \"blue\", \"rejected\": \"green\"}\n"
    "{\"prompt\": \"Count\", \"chosen\": \"one two\", \"rejected\": \"five\"}\n";

static int fixture(lx_t *t, char *model, size_t n) {
    snprintf(model, n, "%s/llama_f32.gguf", lx_test_fixtures());
    if (access(model, R_OK) != 0) {
        lx_test_skip(t, "fixture %s missing (run make test)", model);
        return 0;
    }
    return 1;
}

/* Last-position logits of "hello world" with adapter at scale (NULL: none). */
static float *logits_of(const char *model_path, const char *adapter, float scale, int *V) {
    lexie_error e;
    lexie_model *m = lexie_model_load(model_path, NULL, &e);
    lexie_ctx *c = m ? lexie_ctx_new(m, NULL, &e) : NULL;
    lexie_adapter *a = c && adapter ? lexie_adapter_load(m, adapter, &e) : NULL;
    float *out = NULL;
    lexie_token tok[3] = {1, 5, 9};
    lexie_batch b = {3, tok, NULL, NULL, NULL};
    if (c && (!adapter || (a && !lexie_ctx_set_adapter(c, a, scale, &e))) &&
        !lexie_ctx_decode(c, &b, &e)) {
        *V = lexie_model_n_vocab(m);
        out = malloc(sizeof *out * (size_t)*V);
        memcpy(out, lexie_ctx_logits(c, -1), sizeof *out * (size_t)*V);
    }
    lexie_ctx_free(c);
    lexie_adapter_free(a);
    lexie_model_free(m);
    return out;
}

static double max_diff(const float *a, const float *b, int n) {
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* sft: exactly one object per step with exactly the keys; the adapter
** loads, changes logits, and merge matches it within 1e-4. */
static void test_train_sft_log_lora_merge(lx_t *t) {
    char model[512], data[512], out[512], log[512], merged[512], args[4096], o[8192];
    char lines[16][1024];
    if (!fixture(t, model, sizeof model)) return;
    tmp(data, sizeof data, "sft.jsonl");
    tmp(out, sizeof out, "a.gguf");
    tmp(log, sizeof log, "a.log.jsonl");
    tmp(merged, sizeof merged, "merged.gguf");
    write_text(data, SFT);
    snprintf(args, sizeof args,
             "train sft -m %s --data %s --out %s --steps 4 --batch 2 --lr 5e-3 --log %s -t 1",
             model, data, out, log);
    LX_CHECK_MSG(t, run_cli(args, o, sizeof o) == 0, "%s", o);
    int n = read_lines(log, lines, 16);
    LX_CHECK_INT(t, n, 4);
    for (int i = 0; i < n; i++) {
        long step = -1;
        double loss, lr, tps;
        char tail[8] = "";
        int k =
            sscanf(lines[i], "{\"step\": %ld, \"loss\": %lf, \"lr\": %lf, \"tokens_per_s\": %lf%7s",
                   &step, &loss, &lr, &tps, tail);
        LX_CHECK_MSG(t, k == 5 && step == i + 1 && strcmp(tail, "}") == 0 && isfinite(loss),
                     "line %d: %s", i, lines[i]);
    }
    int V = 0;
    float *base = logits_of(model, NULL, 1.0f, &V), *with = logits_of(model, out, 1.0f, &V);
    LX_CHECK(t, base && with);
    if (base && with)
        LX_CHECK_MSG(t, max_diff(base, with, V) > 1e-3, "the adapter changes nothing");
    snprintf(args, sizeof args, "merge -m %s --lora %s -o %s", model, out, merged);
    LX_CHECK_MSG(t, run_cli(args, o, sizeof o) == 0, "%s", o);
    float *mer = logits_of(merged, NULL, 1.0f, &V);
    LX_CHECK(t, mer != NULL);
    if (mer && with)
        LX_CHECK_MSG(t, max_diff(mer, with, V) < 1e-4, "merged vs --lora %g",
                     max_diff(mer, with, V));
    /* generate --lora runs; an adapter for another architecture is refused. */
    snprintf(args, sizeof args, "generate -m %s -p hello -n 3 --lora %s --lora-scale 0.5", model,
             out);
    LX_CHECK_MSG(t, run_cli(args, o, sizeof o) == 0, "%s", o);
    snprintf(args, sizeof args, "generate -m %s/qwen2_f32.gguf -p hello -n 3 --lora %s",
             lx_test_fixtures(), out);
    LX_CHECK_INT(t, run_cli(args, o, sizeof o), 1);
    LX_CHECK_MSG(t, strstr(o, "architecture") != NULL, "%s", o);
    free(base);
    free(with);
    free(mer);
    remove(data);
    remove(out);
    remove(log);
    remove(merged);
}

/* 6 steps straight vs 3 steps, kill -9, a torn log, --resume: same log
** lines (step, loss, lr) and the same adapter bytes. */
static void resume_case(lx_t *t, const char *kind, const char *text, const char *common) {
    char model[512], data[512], a[512], r[512], la[512], lr[512], ck[512], args[4096], o[8192];
    static char l1[16][1024], l2[16][1024];
    if (!fixture(t, model, sizeof model)) return;
    tmp(data, sizeof data, "rs.jsonl");
    tmp(a, sizeof a, "ra.gguf");
    tmp(r, sizeof r, "rr.gguf");
    tmp(la, sizeof la, "ra.log");
    tmp(lr, sizeof lr, "rr.log");
    tmp(ck, sizeof ck, "rr.ckpt.gguf");
    write_text(data, text);
    snprintf(args, sizeof args, "train %s -m %s --data %s --out %s --log %s %s", kind, model, data,
             a, la, common);
    LX_CHECK_MSG(t, run_cli(args, o, sizeof o) == 0, "%s", o);
    snprintf(args, sizeof args, "train %s -m %s --data %s --out %s --log %s --save-every 1 %s",
             kind, model, data, r, lr, common);
    char killed[4200];
    snprintf(killed, sizeof killed, "%s", args);
    setenv("LEXIE_TEST_KILL_AT_STEP", "3", 1);
    LX_CHECK_INT(t, run_cli(killed, o, sizeof o), 137); /* the shell reports 128 + 9 */
    unsetenv("LEXIE_TEST_KILL_AT_STEP");
    LX_CHECK(t, access(ck, R_OK) == 0 && access(r, F_OK) != 0);
    FILE *f = fopen(lr, "a"); /* a step logged after the checkpoint, and a torn line */
    if (f) {
        fputs("{\"step\": 4, \"loss\": 1}\n{\"step\": 5, \"lo", f);
        fclose(f);
    }
    char resumed[4300];
    snprintf(resumed, sizeof resumed, "%s --resume", args);
    LX_CHECK_MSG(t, run_cli(resumed, o, sizeof o) == 0, "%s", o);
    int n1 = read_lines(la, l1, 16), n2 = read_lines(lr, l2, 16);
    LX_CHECK_INT(t, n1, 6);
    LX_CHECK_INT(t, n2, 6);
    for (int i = 0; i < n1 && i < n2; i++) {
        /* Everything but the speed: blank tokens_per_s's value. */
        for (int k = 0; k < 2; k++) {
            char *c = strstr(k ? l2[i] : l1[i], "\"tokens_per_s\": ");
            LX_CHECK(t, c != NULL);
            size_t v = c ? strcspn(c + 16, ",}") : 0;
            if (c) memmove(c + 16, c + 16 + v, strlen(c + 16 + v) + 1);
        }
        LX_CHECK_MSG(t, strcmp(l1[i], l2[i]) == 0, "%s vs %s", l1[i], l2[i]);
    }
    FILE *fa = fopen(a, "rb"), *fr = fopen(r, "rb");
    int same = fa && fr;
    while (same) {
        int x = fgetc(fa), y = fgetc(fr);
        if (x != y) same = 0;
        if (x == EOF) break;
    }
    if (fa) fclose(fa);
    if (fr) fclose(fr);
    LX_CHECK_MSG(t, same, "resumed adapter differs");
    remove(data);
    remove(a);
    remove(r);
    remove(la);
    remove(lr);
    remove(ck);
}

static void test_train_resume(lx_t *t) {
    resume_case(t, "sft", SFT, "--steps 6 --batch 2 --lr 5e-3 --dropout 0.1 -t 1");
    /* dpo: 3 pairs, 2 a step in micro-batches of 1: epochs end mid-batch. */
    resume_case(t, "dpo", DPO3, "--steps 6 --batch 1 --accum 2 --lr 5e-3 -t 1");
}

/* dpo a few steps with its log keys; bad data names the line. */
static void test_train_dpo_and_errors(lx_t *t) {
    char model[512], data[512], out[512], log[512], bad[512], args[4096], o[8192];
    char lines[8][1024];
    if (!fixture(t, model, sizeof model)) return;
    tmp(data, sizeof data, "dpo.jsonl");
    tmp(out, sizeof out, "d.gguf");
    tmp(log, sizeof log, "d.log");
    tmp(bad, sizeof bad, "bad.jsonl");
    write_text(data, DPO);
    snprintf(args, sizeof args,
             "train dpo -m %s --data %s --out %s --steps 3 --lr 5e-3 --beta 0.1 --log %s -t 1",
             model, data, out, log);
    LX_CHECK_MSG(t, run_cli(args, o, sizeof o) == 0, "%s", o);
    int n = read_lines(log, lines, 8);
    LX_CHECK_INT(t, n, 3);
    for (int i = 0; i < n; i++) {
        long step = -1;
        double loss, lr, tps, margin, acc;
        char tail[8] = "";
        int k = sscanf(lines[i],
                       "{\"step\": %ld, \"loss\": %lf, \"lr\": %lf, \"tokens_per_s\": %lf, "
                       "\"reward_margin\": %lf, \"reward_accuracy\": %lf%7s",
                       &step, &loss, &lr, &tps, &margin, &acc, tail);
        LX_CHECK_MSG(t, k == 7 && step == i + 1 && strcmp(tail, "}") == 0, "%s", lines[i]);
    }
    write_text(bad, "{\"instruction\": \"a\", \"output\": \"b\"}\n\n{\"instruction\": 3}\n");
    snprintf(args, sizeof args, "train sft -m %s --data %s --out %s --steps 1", model, bad, out);
    LX_CHECK_INT(t, run_cli(args, o, sizeof o), 1);
    LX_CHECK_MSG(t, strstr(o, "line 3") != NULL, "%s", o);
    snprintf(args, sizeof args, "train sft -m %s --data /nonexistent.jsonl --out %s", model, out);
    LX_CHECK_INT(t, run_cli(args, o, sizeof o), 1);
    LX_CHECK_MSG(t, strstr(o, "/nonexistent.jsonl") != NULL, "%s", o);
    LX_CHECK_INT(t, run_cli("train sft --data x --out y --lr abc", o, sizeof o), 2);
    LX_CHECK_INT(t, run_cli("train sft --data x --out y --lr nan", o, sizeof o), 2);
    LX_CHECK_INT(t, run_cli("train sft --data x --out y --targets q,zz", o, sizeof o), 2);
    LX_CHECK_INT(t, run_cli("train foo", o, sizeof o), 2);
    LX_CHECK_INT(t, run_cli("train sft --out y", o, sizeof o), 2);
    LX_CHECK_INT(t, run_cli("merge --lora x", o, sizeof o), 2);
    LX_CHECK_INT(t, run_cli("merge --lora x -o y --type q4", o, sizeof o), 2);
    snprintf(args, sizeof args, "merge -m %s --lora /nonexistent.gguf -o %s", model, out);
    LX_CHECK_INT(t, run_cli(args, o, sizeof o), 1);
    LX_CHECK_MSG(t, strstr(o, "/nonexistent.gguf") != NULL, "%s", o);
    LX_CHECK_INT(t, run_cli("pairs --n 1 --data x", o, sizeof o), 2);
    LX_CHECK_INT(t, run_cli("pairs --metric bleu --data x", o, sizeof o), 2);
    remove(data);
    remove(out);
    remove(log);
    remove(bad);
}

/* Runs `lexie ARGS` with stdout into path (stderr dropped). */
static int run_to_file(const char *args, const char *path) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>/dev/null </dev/null", lx_test_cli(), args, path);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char GOLD[] =
    "{\"instruction\": \"Say hi\", \"output\": \"the a e o t h\"}\n"
    "{\"prompt\": \"Name a color\", \"output\": \"the a e o t h\"}\n"
    "{\"instruction\": \"Count\", \"input\": \"x\", \"output\": \"a b c\"}\n";

typedef struct {
    int n, kept, ok;
    char json[3][1024];
} seen;

static int on_pair(const lexie_pair_out *pr, void *user) {
    seen *s = user;
    int k = s->n++;
    double g = pr->chosen_score - pr->rejected_score;
    if (pr->line != k + 1 || g < 0 || pr->gap != g || pr->kept != (g > 0.0) ||
        pr->chosen_score > 1 || pr->rejected_score < 0 || !pr->chosen || !pr->rejected ||
        (pr->kept && !pr->json) ||
        (k < 3 &&
         fabs(lexie_text_similarity(LEXIE_TEXT_F1, pr->chosen, k == 2 ? "a b c" : "the a e o t h") -
              pr->chosen_score) > 0))
        s->ok = 0;
    if (k < 3) snprintf(s->json[k], sizeof s->json[k], "%s", pr->kept ? pr->json : "");
    s->kept += pr->kept;
    return 0;
}

/* pairs: every gold line reported, best and worst scored right, the same
** pairs for the same seed; the CLI's lines are what train dpo reads. */
static void test_pairs(lx_t *t) {
    char model[512], gold[512], p1[512], p2[512], args[4096], o[8192], out[512];
    static char l1[8][1024], l2[8][1024];
    if (!fixture(t, model, sizeof model)) return;
    tmp(gold, sizeof gold, "gold.jsonl");
    tmp(p1, sizeof p1, "p1.jsonl");
    tmp(p2, sizeof p2, "p2.jsonl");
    tmp(out, sizeof out, "pd.gguf");
    write_text(gold, GOLD);
    lexie_error e;
    lexie_model *m = lexie_model_load(model, NULL, &e);
    lexie_ctx *c = m ? lexie_ctx_new(m, NULL, &e) : NULL;
    LX_CHECK(t, c != NULL);
    lexie_pairs_params pp = lexie_pairs_default_params();
    pp.n = 8;
    pp.temperature = 1.5f;
    pp.max_tokens = 8;
    pp.min_gap = 0;
    seen s1 = {0, 0, 1, {""}}, s2 = {0, 0, 1, {""}};
    LX_CHECK(t, c && lexie_pairs_build(c, gold, &pp, on_pair, &s1, &e) == LEXIE_OK);
    LX_CHECK(t, c && lexie_pairs_build(c, gold, &pp, on_pair, &s2, &e) == LEXIE_OK);
    LX_CHECK_INT(t, s1.n, 3);
    LX_CHECK(t, s1.ok && s2.ok);
    for (int i = 0; i < 3; i++) LX_CHECK(t, strcmp(s1.json[i], s2.json[i]) == 0);
    /* A chat line of one user turn and the gold answer is the same line as
    ** {"prompt", "output"}: the same samples, the same pair. */
    write_text(gold, "{\"instruction\": \"Say hi\", \"output\": \"the a e o t h\"}\n"
                     "{\"messages\": [{\"role\": \"user\", \"content\": \"Name a color\"}, "
                     "{\"role\": \"assistant\", \"content\": \"the a e o t h\"}]}\n");
    seen s3 = {0, 0, 1, {""}};
    LX_CHECK(t, c && lexie_pairs_build(c, gold, &pp, on_pair, &s3, &e) == LEXIE_OK);
    LX_CHECK_INT(t, s3.n, 2);
    LX_CHECK_MSG(t, strcmp(s3.json[1], s1.json[1]) == 0, "%s\nvs\n%s", s3.json[1], s1.json[1]);
    write_text(gold, GOLD);
    pp.n = 1;
    LX_CHECK(t, c && lexie_pairs_build(c, gold, &pp, on_pair, &s1, &e) == LEXIE_E_INVALID);
    lexie_ctx_free(c);
    lexie_model_free(m);
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args,
                 "pairs -m %s --data %s --n 8 --temp 1.5 --metric f1 --min-gap 0 "
                 "--max-tokens 8 -t 1",
                 model, gold);
        LX_CHECK_INT(t, run_to_file(args, k ? p2 : p1), 0);
    }
    int n1 = read_lines(p1, l1, 8), n2 = read_lines(p2, l2, 8);
    LX_CHECK_MSG(t, n1 == s1.kept && n1 == n2, "%d %d lines, %d kept", n1, n2, s1.kept);
    for (int i = 0; i < n1 && i < n2; i++) {
        LX_CHECK(t, strcmp(l1[i], l2[i]) == 0);
        char *g = strstr(l1[i], "\"gap\": ");
        LX_CHECK_MSG(t,
                     strncmp(l1[i], "{\"prompt\": ", 11) == 0 && strstr(l1[i], "\"chosen\": ") &&
                         strstr(l1[i], "\"rejected\": ") && g && atof(g + 7) > 0,
                     "%s", l1[i]);
    }
    if (n1 > 0) {
        snprintf(args, sizeof args, "train dpo -m %s --data %s --out %s --steps 1 -t 1", model, p1,
                 out);
        LX_CHECK_MSG(t, run_cli(args, o, sizeof o) == 0, "%s", o);
    }
    write_text(gold, "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"output\": \"b\"}\n");
    snprintf(args, sizeof args, "pairs -m %s --data %s --n 2 --max-tokens 2 -t 1", model, gold);
    LX_CHECK_INT(t, run_cli(args, o, sizeof o), 1);
    LX_CHECK_MSG(t, strstr(o, "line 2") != NULL, "%s", o);
    /* A chat line must be exactly a user turn and the gold answer. */
    write_text(gold, "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\n");
    LX_CHECK_INT(t, run_cli(args, o, sizeof o), 1);
    LX_CHECK_MSG(t, strstr(o, "line 1") && strstr(o, "one user turn then one assistant turn"), "%s",
                 o);
    remove(gold);
    remove(p1);
    remove(p2);
    remove(out);
}

/* The one prediction file name under dir, or "". */
static void preds_name(const char *dir, char *name, size_t n) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s | grep 'jsonl$'", dir);
    FILE *f = popen(cmd, "r");
    name[0] = 0;
    if (f) {
        if (!fgets(name, (int)n, f)) name[0] = 0;
        pclose(f);
    }
}

/* eval re --lora: its own prediction file per adapter and scale; without
** it, the name has no trace of adapters. */
static void test_eval_lora_hash(lx_t *t) {
    char model[512], f32[512], data[512], out[512], log[512], args[8192], o[8192];
    char dir[] = "/tmp/lexie_test_evlora_XXXXXX", p[1024], names[3][512];
    if (!fixture(t, f32, sizeof f32)) return;
    snprintf(model, sizeof model, "%s/llama_q.gguf", lx_test_fixtures());
    if (access("schemas/gad.json", R_OK) != 0) LX_SKIP(t, "run from the repository root");
    LX_REQUIRE(t, mkdtemp(dir));
    snprintf(p, sizeof p, "%s/gad_biobert_fold1", dir);
    LX_REQUIRE(t, mkdir(p, 0777) == 0);
    snprintf(p, sizeof p, "%s/gad_biobert_fold1/test.tsv", dir);
    write_text(p, "@GENE$ in @DISEASE$.\t1\n@DISEASE$ no @GENE$.\t0\n");
    tmp(data, sizeof data, "ev.jsonl");
    tmp(out, sizeof out, "ev.gguf");
    tmp(log, sizeof log, "ev.log");
    write_text(data, SFT);
    snprintf(args, sizeof args,
             "train sft -m %s --data %s --out %s --steps 2 --batch 3 --lr 1e-2 -t 1", f32, data,
             out);
    LX_CHECK_MSG(t, run_cli(args, o, sizeof o) == 0, "%s", o);
    const char *extra[3] = {"", "--lora", "--lora-scale 0.5 --lora"};
    for (int k = 0; k < 3; k++) {
        snprintf(args, sizeof args,
                 "eval re --data gad -m %s --out %s/o%d -t 1 --batch 2 --quiet --chat-template "
                 "'{%% for m in messages %%}{{ m.content }}{%% endfor %%}' %s %s",
                 model, dir, k, extra[k], k ? out : "");
        char cmd[8600];
        snprintf(cmd, sizeof cmd, "env LEXIE_DATA=%s %s %s >/dev/null 2>&1", dir, lx_test_cli(),
                 args);
        LX_CHECK_INT(t, system(cmd), 0);
        snprintf(p, sizeof p, "%s/o%d", dir, k);
        preds_name(p, names[k], sizeof names[k]);
        LX_CHECK_MSG(t, names[k][0] != 0, "no predictions in %s", p);
    }
    LX_CHECK_MSG(t, strstr(names[0], "lora") == NULL, "%s", names[0]);
    LX_CHECK_MSG(t, strstr(names[1], "-tmpl-lora-") != NULL, "%s", names[1]);
    LX_CHECK(t, strcmp(names[0], names[1]) && strcmp(names[1], names[2]) &&
                    strcmp(names[0], names[2]));
    snprintf(args, sizeof args, "rm -rf %s", dir);
    LX_CHECK_INT(t, system(args), 0);
    remove(data);
    remove(out);
    remove(log);
}

static void test_text_similarity(lx_t *t) {
    const double e = 1e-12;
    LX_CHECK(t, lexie_text_similarity(LEXIE_TEXT_EXACT, "The cat.", "the  CAT") == 1.0);
    LX_CHECK(t, lexie_text_similarity(LEXIE_TEXT_EXACT, "the cat sat", "the cat") == 0.0);
    /* F1: 2 shared of 3 predicted and 4 gold: p 2/3, r 1/2, F1 4/7. */
    LX_CHECK(t, fabs(lexie_text_similarity(LEXIE_TEXT_F1, "a b c", "b, a; d e") - 4.0 / 7) < e);
    /* Bags count repeats: "a a" vs "a": p 1/2, r 1, F1 2/3. */
    LX_CHECK(t, fabs(lexie_text_similarity(LEXIE_TEXT_F1, "a a", "a") - 2.0 / 3) < e);
    /* ROUGE-L: LCS of "a b c d" and "a c b d" is 3: F 3/4; order matters, unlike F1. */
    LX_CHECK(t, fabs(lexie_text_similarity(LEXIE_TEXT_ROUGE_L, "a b c d", "a c b d") - 0.75) < e);
    LX_CHECK(t, lexie_text_similarity(LEXIE_TEXT_F1, "a b c d", "a c b d") == 1.0);
    LX_CHECK(t, fabs(lexie_text_similarity(LEXIE_TEXT_ROUGE_L, "x y", "y x z") - 0.4) < e);
    LX_CHECK(t, lexie_text_similarity(LEXIE_TEXT_F1, "", "...") == 1.0);
    LX_CHECK(t, lexie_text_similarity(LEXIE_TEXT_ROUGE_L, "", "a") == 0.0);
    LX_CHECK(t, fabs(lexie_text_similarity(LEXIE_TEXT_F1, "héllo wörld", "Wörld") - 2.0 / 3) < e);
    LX_CHECK(t, lexie_text_similarity((lexie_text_metric)9, "a", "a") < 0);
    LX_CHECK(t, lexie_text_similarity(LEXIE_TEXT_F1, NULL, "a") < 0);
}

void suite_train_cli(void) {
    LX_RUN(test_text_similarity);
    LX_RUN(test_train_sft_log_lora_merge);
    LX_RUN(test_train_resume);
    LX_RUN(test_train_dpo_and_errors);
    LX_RUN(test_pairs);
    LX_RUN(test_eval_lora_hash);
}
