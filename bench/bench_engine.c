/*
** bench_engine.c -- prefill and decode speed of the engine on a model, the
** gain from prefix reuse, and batched decoding.  Prints one JSON object so
** that bench/bench_speed.py can set it beside the peer engines measured in
** the same run.
**
**   build/bench/bench_engine MODEL.gguf [n_prompt=512] [n_gen=64] [threads=0] [reuse=1]
**                            [batched=LIST]
**
** reuse=0 skips the prefix-reuse measurement (five more prompts), for
** before/after runs of prefill and decode alone (the reuse fields are then
** 0).  batched, a comma list of sequence counts such as 1,2,4,8, adds
** batched decoding in a second context: the n_prompt-token prompt cached
** once in sequence 0 is shared (lexie_kv_seq_cp, no copy) with every
** sequence, and then each of n_gen steps decodes one token per sequence in
** one lexie_ctx_decode, as extraction does; "batched" reports the
** aggregate tokens per second for each count.
*/
#define _POSIX_C_SOURCE 200809L
#include "lexie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SEQ 64
#define MAX_COUNTS 16

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

static int fail(const lexie_error *err) {
    fprintf(stderr, "bench: %s\n", err->message);
    return 1;
}

/* Parses "1,2,4,8" into counts (each 1..MAX_SEQ); returns how many, or -1. */
static int parse_counts(const char *s, int *counts) {
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > MAX_SEQ || n == MAX_COUNTS) return -1;
        counts[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return n;
}

/* Prefill of toks, then n_gen greedy single-token decodes. */
static int prefill_decode(lexie_ctx *c, const lexie_model *m, const lexie_token *toks, int n_prompt,
                          int n_gen, double out[4]) {
    lexie_error err;
    double t0 = now(), c0 = cpu_now();
    lexie_batch b = {n_prompt, toks, NULL, NULL, NULL};
    if (lexie_ctx_decode(c, &b, &err) != LEXIE_OK) return fail(&err);
    out[0] = now() - t0;
    out[1] = cpu_now() - c0;
    lexie_token t = toks[n_prompt - 1];
    t0 = now();
    c0 = cpu_now();
    for (int i = 0; i < n_gen; i++) {
        lexie_batch one = {1, &t, NULL, NULL, NULL};
        if (lexie_ctx_decode(c, &one, &err) != LEXIE_OK) return fail(&err);
        t = lexie_sample(m, lexie_ctx_logits(c, -1), NULL, NULL);
    }
    out[2] = now() - t0;
    out[3] = cpu_now() - c0;
    return 0;
}

/* Prefix reuse: score 8 one-token continuations after the prompt, once
** with the prompt cached and once recomputing it each time (seconds per
** prompt in out[0] cold, out[1] reused).  Changes toks' last token. */
static void prefix_reuse(lexie_ctx *c, lexie_token *toks, int n_prompt, double out[2]) {
    lexie_error err;
    lexie_token cand[8];
    for (int k = 0; k < 8; k++) cand[k] = 1000 + k;
    float probs[8];
    lexie_kv_clear(c);
    lexie_next_token_probs(c, toks, n_prompt, cand, 8, probs, NULL, &err);
    double t0 = now();
    for (int r = 0; r < 4; r++) {
        toks[n_prompt - 1] = 1000 + r; /* only the last token changes */
        lexie_next_token_probs(c, toks, n_prompt, cand, 8, probs, NULL, &err);
    }
    out[1] = (now() - t0) / 4;
    t0 = now();
    for (int r = 0; r < 4; r++) {
        lexie_kv_clear(c);
        lexie_next_token_probs(c, toks, n_prompt, cand, 8, probs, NULL, &err);
    }
    out[0] = (now() - t0) / 4;
}

/* Batched decoding of n_seq sequences after the shared prompt that
** sequence 0 holds: aggregate tokens per second over n_gen steps. */
static int batched(lexie_ctx *c, const lexie_model *m, int n_prompt, int n_seq, int n_gen,
                   double *tok_s) {
    lexie_error err;
    lexie_token tok[MAX_SEQ];
    int32_t seq[MAX_SEQ];
    int8_t want[MAX_SEQ];
    lexie_kv_seq_rm(c, -1, n_prompt, -1); /* keep only the shared prompt */
    for (int s = 0; s < n_seq; s++) {
        if (s > 0) lexie_kv_seq_rm(c, s, 0, -1);
        if (s > 0 && lexie_kv_seq_cp(c, 0, s, 0, n_prompt) != LEXIE_OK) {
            fprintf(stderr, "bench: cannot share the prompt with sequence %d\n", s);
            return 1;
        }
        tok[s] = 1000 + 17 * s; /* distinct first tokens: the answers diverge */
        seq[s] = s;
        want[s] = 1;
    }
    double t0 = now();
    for (int i = 0; i < n_gen; i++) {
        lexie_batch b = {n_seq, tok, NULL, seq, want};
        if (lexie_ctx_decode(c, &b, &err) != LEXIE_OK) return fail(&err);
        for (int s = 0; s < n_seq; s++)
            tok[s] = lexie_sample(m, lexie_ctx_logits(c, s), NULL, NULL);
    }
    *tok_s = (double)n_seq * n_gen / (now() - t0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf [n_prompt] [n_gen] [threads] [reuse] [batched]\n",
                argv[0]);
        return 2;
    }
    int n_prompt = argc > 2 ? atoi(argv[2]) : 512;
    int n_gen = argc > 3 ? atoi(argv[3]) : 64;
    int n_threads = argc > 4 ? atoi(argv[4]) : 0;
    int reuse = argc > 5 ? atoi(argv[5]) : 1;
    int counts[MAX_COUNTS], n_counts = 0, max_seq = 1;
    if (argc > 6 && (n_counts = parse_counts(argv[6], counts)) < 0) {
        fprintf(stderr, "bench: batched wants a list like 1,2,4,8 (each 1..%d)\n", MAX_SEQ);
        return 2;
    }
    if (n_prompt < 1 || n_gen < 1) {
        fprintf(stderr, "bench: n_prompt and n_gen must be positive\n");
        return 2;
    }
    for (int k = 0; k < n_counts; k++) max_seq = counts[k] > max_seq ? counts[k] : max_seq;
    lexie_error err;
    lexie_model *m = lexie_model_load(argv[1], NULL, &err);
    if (!m) return fail(&err);
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = n_prompt + n_gen + 16;
    cp.n_batch = n_prompt;
    cp.n_threads = n_threads;
    lexie_ctx *c = lexie_ctx_new(m, &cp, &err);
    if (!c) return fail(&err);
    /* A deterministic prompt of ordinary tokens. */
    lexie_token *toks = malloc((size_t)n_prompt * sizeof *toks);
    if (!toks) return 1;
    int nv = lexie_model_n_vocab(m);
    for (int i = 0; i < n_prompt; i++) toks[i] = 1000 + (i * 7919) % (nv - 1000);

    double pd[4], ru[2] = {0, 0}, agg[MAX_COUNTS];
    if (prefill_decode(c, m, toks, n_prompt, n_gen, pd)) return 1;
    if (n_counts > 0) {
        /* Its own context, so that the single-sequence figures above come
        ** from the same context as ever: the shared prompt once and n_gen
        ** cells per sequence. */
        lexie_ctx_params bp = cp;
        bp.n_ctx = n_prompt + max_seq * n_gen + 16;
        bp.n_batch = n_prompt > max_seq ? n_prompt : max_seq;
        bp.n_seq_max = max_seq;
        lexie_ctx *bc = lexie_ctx_new(m, &bp, &err);
        if (!bc) return fail(&err);
        lexie_batch b = {n_prompt, toks, NULL, NULL, NULL};
        if (lexie_ctx_decode(bc, &b, &err) != LEXIE_OK) return fail(&err);
        for (int k = 0; k < n_counts; k++)
            if (batched(bc, m, n_prompt, counts[k], n_gen, &agg[k])) return 1;
        lexie_ctx_free(bc);
    }
    if (reuse) prefix_reuse(c, toks, n_prompt, ru);

    printf("{\"engine\": \"lexie\", \"n_prompt\": %d, \"n_gen\": %d, \"prefill_tok_s\": %.2f, "
           "\"decode_tok_s\": %.2f, \"prompt_cold_s\": %.4f, \"prompt_reused_s\": %.4f, "
           "\"reuse_speedup\": %.2f, \"prefill_cpu_s\": %.4f, \"decode_cpu_s\": %.4f, "
           "\"batched\": [",
           n_prompt, n_gen, n_prompt / pd[0], n_gen / pd[2], ru[0], ru[1],
           ru[1] > 0 ? ru[0] / ru[1] : 0.0, pd[1], pd[3]);
    for (int k = 0; k < n_counts; k++)
        printf("%s{\"n_seq\": %d, \"tok_s\": %.2f}", k ? ", " : "", counts[k], agg[k]);
    printf("]}\n");
    free(toks);
    lexie_ctx_free(c);
    lexie_model_free(m);
    return 0;
}
