/*
** bench_train.c -- LoRA training speed: optimizer steps of batch sequences
** of seq_len tokens (the loss on the second half of each, as a response),
** with the default LoRA (rank 16, alpha 32, all seven projections).
** Prints one JSON object: tokens per second over the timed steps (the
** first step is a warm-up and not timed), and the GFLOP/s that the matrix
** products of those steps amount to (lexie_train_stats.flops).
**
**   build/bench/bench_train MODEL.gguf [seq_len=128] [batch=8] [steps=3] [threads=0]
**                           [checkpoint=1]
*/
#define _POSIX_C_SOURCE 200809L
#include "lexie.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf [seq_len] [batch] [steps] [threads]\n", argv[0]);
        return 2;
    }
    int seq_len = argc > 2 ? atoi(argv[2]) : 128;
    int batch = argc > 3 ? atoi(argv[3]) : 8;
    int steps = argc > 4 ? atoi(argv[4]) : 3;
    int n_threads = argc > 5 ? atoi(argv[5]) : 0;
    int checkpoint = argc > 6 ? atoi(argv[6]) : 1;
    if (seq_len < 4 || batch < 1 || steps < 1) return 2;
    lexie_error err;
    lexie_model *m = lexie_model_load(argv[1], NULL, &err);
    if (!m) {
        fprintf(stderr, "bench: %s\n", err.message);
        return 1;
    }
    lexie_train_params p = lexie_train_default_params();
    p.total_steps = steps + 1;
    p.micro_batch = batch;
    p.max_seq_len = seq_len;
    p.n_threads = n_threads;
    p.checkpoint = checkpoint;
    lexie_trainer *t = lexie_trainer_new(m, &p, &err);
    if (!t) {
        fprintf(stderr, "bench: %s\n", err.message);
        return 1;
    }
    int nv = lexie_model_n_vocab(m);
    lexie_token *tok = malloc(sizeof *tok * (size_t)batch * seq_len);
    int8_t *mask = malloc((size_t)batch * seq_len);
    lexie_train_example *ex = malloc(sizeof *ex * (size_t)batch);
    for (int b = 0; b < batch; b++) {
        for (int i = 0; i < seq_len; i++) {
            tok[b * seq_len + i] = 1000 + (b * 131 + i * 7919) % (nv - 1000);
            mask[b * seq_len + i] = (int8_t)(i >= seq_len / 2);
        }
        ex[b] = (lexie_train_example){tok + b * seq_len, mask + b * seq_len, seq_len};
    }
    lexie_train_stats st;
    double first_loss = 0.0, timed = 0.0;
    for (int s = 0; s <= steps; s++) {
        double t0 = now();
        if (lexie_trainer_step(t, ex, batch, &st, &err) != LEXIE_OK) {
            fprintf(stderr, "bench: %s\n", err.message);
            return 1;
        }
        if (s == 0)
            first_loss = st.loss;
        else
            timed += now() - t0;
        fprintf(stderr, "step %d: loss %.4f, %.2f s\n", s, st.loss, st.seconds);
    }
    double n_tok = (double)batch * seq_len;
    printf("{\"model\": \"%s\", \"seq_len\": %d, \"batch\": %d, \"steps\": %d, \"threads\": %d, "
           "\"checkpoint\": %d, \"first_loss\": %.4f, \"last_loss\": %.4f, \"seconds_per_step\": "
           "%.3f, "
           "\"tokens_per_s\": %.1f, \"gflop_per_s\": %.1f}\n",
           lexie_model_name(m), seq_len, batch, steps, n_threads, checkpoint, first_loss, st.loss,
           timed / steps, n_tok * steps / timed, st.flops * steps / timed * 1e-9);
    free(ex);
    free(mask);
    free(tok);
    lexie_trainer_free(t);
    lexie_model_free(m);
    return 0;
}
