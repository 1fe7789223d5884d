/*
** bench_engine.c -- prefill and decode speed of the engine on a model, and
** the gain from prefix reuse.  Prints one JSON object so that
** bench/bench_vs_llamacpp.py can set it beside llama.cpp measured in the
** same run.
**
**   build/bench/bench_engine MODEL.gguf [n_prompt=512] [n_gen=64] [threads=0] [reuse=1]
**
** reuse=0 skips the prefix-reuse measurement (five more prompts), for
** before/after runs of prefill and decode alone (the reuse fields are then
** 0).
*/
#define _POSIX_C_SOURCE 200809L
#include "lexie.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* CPU seconds of the whole process: with one thread, the compute alone,
** less disturbed than the wall clock on a loaded machine (with more
** threads it includes the pool's spinning). */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf [n_prompt] [n_gen] [threads] [reuse]\n", argv[0]);
        return 2;
    }
    int n_prompt = argc > 2 ? atoi(argv[2]) : 512;
    int n_gen = argc > 3 ? atoi(argv[3]) : 64;
    int n_threads = argc > 4 ? atoi(argv[4]) : 0;
    int reuse = argc > 5 ? atoi(argv[5]) : 1;
    lexie_error err;
    lexie_model *m = lexie_model_load(argv[1], NULL, &err);
    if (!m) {
        fprintf(stderr, "bench: %s\n", err.message);
        return 1;
    }
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = n_prompt + n_gen + 16;
    cp.n_batch = n_prompt;
    cp.n_threads = n_threads;
    lexie_ctx *c = lexie_ctx_new(m, &cp, &err);
    if (!c) {
        fprintf(stderr, "bench: %s\n", err.message);
        return 1;
    }
    /* A deterministic prompt of ordinary tokens. */
    lexie_token *toks = malloc((size_t)n_prompt * sizeof *toks);
    int nv = lexie_model_n_vocab(m);
    for (int i = 0; i < n_prompt; i++) toks[i] = 1000 + (i * 7919) % (nv - 1000);

    double t0 = now(), c0 = cpu_now();
    lexie_batch b = {n_prompt, toks, NULL, NULL, NULL};
    if (lexie_ctx_decode(c, &b, &err) != LEXIE_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        return 1;
    }
    double t_prefill = now() - t0, c_prefill = cpu_now() - c0;

    lexie_token t = toks[n_prompt - 1];
    t0 = now();
    c0 = cpu_now();
    for (int i = 0; i < n_gen; i++) {
        lexie_batch one = {1, &t, NULL, NULL, NULL};
        if (lexie_ctx_decode(c, &one, &err) != LEXIE_OK) {
            fprintf(stderr, "bench: %s\n", err.message);
            return 1;
        }
        t = lexie_sample(m, lexie_ctx_logits(c, -1), NULL, NULL);
    }
    double t_decode = now() - t0, c_decode = cpu_now() - c0;

    /* Prefix reuse: score 8 one-token continuations after the prompt, once
    ** with the prompt cached and once recomputing it each time. */
    double t_reuse = 0, t_cold = 0;
    if (reuse) {
        lexie_token cand[8];
        for (int k = 0; k < 8; k++) cand[k] = 1000 + k;
        float probs[8];
        lexie_kv_clear(c);
        lexie_next_token_probs(c, toks, n_prompt, cand, 8, probs, NULL, &err);
        t0 = now();
        for (int r = 0; r < 4; r++) {
            toks[n_prompt - 1] = 1000 + r; /* only the last token changes */
            lexie_next_token_probs(c, toks, n_prompt, cand, 8, probs, NULL, &err);
        }
        t_reuse = (now() - t0) / 4;
        t0 = now();
        for (int r = 0; r < 4; r++) {
            lexie_kv_clear(c);
            lexie_next_token_probs(c, toks, n_prompt, cand, 8, probs, NULL, &err);
        }
        t_cold = (now() - t0) / 4;
    }

    printf("{\"engine\": \"lexie\", \"n_prompt\": %d, \"n_gen\": %d, \"prefill_tok_s\": %.2f, "
           "\"decode_tok_s\": %.2f, \"prompt_cold_s\": %.4f, \"prompt_reused_s\": %.4f, "
           "\"reuse_speedup\": %.2f, \"prefill_cpu_s\": %.4f, \"decode_cpu_s\": %.4f}\n",
           n_prompt, n_gen, n_prompt / t_prefill, n_gen / t_decode, t_cold, t_reuse,
           t_reuse > 0 ? t_cold / t_reuse : 0.0, c_prefill, c_decode);
    free(toks);
    lexie_ctx_free(c);
    lexie_model_free(m);
    return 0;
}
