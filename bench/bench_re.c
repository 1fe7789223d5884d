/*
** bench_re.c -- relation-extraction throughput: examples per second with
** and without prefix reuse, printed as a ratio, for QA4RE zero-shot,
** QA4RE few-shot (the demonstrations are the shared prefix) and the
** vanilla prompt (the label list is the shared prefix).
**
**   build/bench/bench_re MODEL.gguf [n_examples=8] [threads=0] [shots=4]
**
** Examples are the first SemEval-2010 test sentences from $LEXIE_DATA
** (default ../shared/data); demonstrations the first train sentences.
** "no reuse" empties the KV cache before every example, so each prompt is
** computed in full; "reuse" keeps it, one example at a time; "batched"
** also decodes 8 examples together over the shared prefix.
*/
#include "lexie.h"

#include "eval/eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double run(lexie_ctx *c, lexie_re *re, const lexie_re_example *ex, int n, int batch,
                  int reuse, int *n_ok) {
    lexie_error err;
    lexie_kv_clear(c);
    /* Warm-up: the shared prefix is computed once in either mode when
    ** reusing; without reuse it is cleared below anyway. */
    double t0 = lx_time_now();
    *n_ok = 0;
    for (int i = 0; i < n; i += batch) {
        int m = n - i < batch ? n - i : batch;
        lexie_re_result r[64];
        memset(r, 0, sizeof r);
        if (!reuse) lexie_kv_clear(c);
        if (lexie_re_classify(re, ex + i, m, r, &err) != LEXIE_OK) {
            fprintf(stderr, "bench_re: %s\n", err.message);
            return -1;
        }
        for (int k = 0; k < m; k++) {
            *n_ok += r[k].label >= 0;
            lexie_re_result_clear(&r[k]);
        }
    }
    return n / (lx_time_now() - t0);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf [n_examples] [threads] [shots]\n", argv[0]);
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 8, threads = argc > 3 ? atoi(argv[3]) : 0;
    int shots = argc > 4 ? atoi(argv[4]) : 4;
    if (n < 1 || n > 10000 || shots < 0 || shots > 16) return 2;
    const char *root = getenv("LEXIE_DATA");
    char test_path[4096], train_path[4096];
    snprintf(test_path, sizeof test_path, "%s/semeval2010_task8/TEST_FILE_FULL.TXT",
             root && *root ? root : "../shared/data");
    snprintf(train_path, sizeof train_path, "%s/semeval2010_task8/TRAIN_FILE.TXT",
             root && *root ? root : "../shared/data");
    lexie_error err;
    lx_re_data test = {0}, train = {0};
    if (lx_read_semeval(test_path, &test, &err) != LEXIE_OK ||
        lx_read_semeval(train_path, &train, &err) != LEXIE_OK) {
        fprintf(stderr, "bench_re: %s\n", err.message);
        return 1;
    }
    if (n > test.n) n = test.n;
    lexie_re_schema *s = lexie_re_schema_load("schemas/semeval.json", &err);
    lexie_model *m = s ? lexie_model_load(argv[1], NULL, &err) : NULL;
    if (!m) {
        fprintf(stderr, "bench_re: %s\n", err.message);
        return 1;
    }
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = 8192;
    cp.n_seq_max = 9;
    cp.n_threads = threads;
    lexie_ctx *c = lexie_ctx_new(m, &cp, &err);
    if (!c) {
        fprintf(stderr, "bench_re: %s\n", err.message);
        return 1;
    }
    lexie_re_example *ex = calloc((size_t)n, sizeof *ex), dem[16];
    int dl[16];
    for (int i = 0; i < n; i++) ex[i] = lx_re_item_example(&test.items[i]);
    for (int i = 0; i < shots; i++) {
        dem[i] = lx_re_item_example(&train.items[i]);
        dl[i] = -1;
        for (int l = 0; l < lexie_re_schema_n_labels(s); l++)
            if (strcmp(lexie_re_schema_label(s, l), train.items[i].gold) == 0) dl[i] = l;
    }
    static const struct {
        const char *name;
        lexie_re_method method;
        int shots;
    } cfg[] = {{"qa4re 0-shot", LEXIE_RE_QA4RE, 0},
               {"qa4re k-shot", LEXIE_RE_QA4RE, 1},
               {"vanilla 0-shot", LEXIE_RE_VANILLA, 0}};
    printf("{\"model\": \"%s\", \"examples\": %d, \"threads\": %d, \"shots\": %d, \"runs\": [\n",
           lexie_model_name(m), n, threads, shots);
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
        if (cfg[k].shots && !shots) continue;
        lexie_re_params p = lexie_re_default_params();
        p.method = cfg[k].method;
        lexie_re *re = lexie_re_new(c, s, &p, &err);
        if (!re || (cfg[k].shots && lexie_re_set_demos(re, dem, dl, shots, &err) != LEXIE_OK)) {
            fprintf(stderr, "bench_re: %s\n", err.message);
            return 1;
        }
        int ok;
        double cold = run(c, re, ex, n, 1, 0, &ok), warm = run(c, re, ex, n, 1, 1, &ok);
        double batched = run(c, re, ex, n, 8, 1, &ok);
        printf("  {\"config\": \"%s\", \"no_reuse_ex_per_s\": %.3f, \"reuse_ex_per_s\": %.3f, "
               "\"reuse_batched_ex_per_s\": %.3f, "
               "\"reuse_ratio\": %.2f, \"batched_ratio\": %.2f}%s\n",
               cfg[k].name, cold, warm, batched, warm / cold, batched / cold,
               k + 1 < sizeof cfg / sizeof cfg[0] ? "," : "");
        fflush(stdout);
        lexie_re_free(re);
    }
    printf("]}\n");
    free(ex);
    lexie_ctx_free(c);
    lexie_model_free(m);
    lexie_re_schema_free(s);
    lx_re_data_free(&test);
    lx_re_data_free(&train);
    return 0;
}
