/*
** test_invariance.c -- batch invariance: a sequence's logits are bit for
** bit the same whatever is computed around it.
**
** One target prompt is decoded alone (the reference) and then in every way
** lexie may meet it: with 2 threads, token by token (on 1, 2 and 3
** threads), inside batches of 1..9 other sequences (placed before or
** after it, or with their tokens interleaved with its own), and with a
** warm cache, its prefix copied from
** another sequence and its remaining tokens put in cells that other,
** removed sequences left free in front of the prefix.  Every logit row is
** compared with memcmp: no tolerance, since the issue is that results
** changed with the company a line kept (issue 10, item 8).
**
** This runs on the tiny fixture models (llama with Q4_1/Q8_0 weights, float
** llama, qwen3 with q/k norms, gemma3 with its sliding window, a llama
** with Q4_K/Q6_K weights that the load packs) and on the
** default model when it is cached (the active ISA path only, for time), on
** every ISA path the CPU has (invariance must hold within a path; the paths
** differ from each other).
** Tokens are pseudo-random ids, so no tokenizer is involved.
*/
#include "kernels/kernels.h"
#include "kq_fixture.h"
#include "lexie.h"
#include "lx_test.h"
#include "ref_fixture.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_OTHER 9      /* other sequences at most */
#define MAX_LEN 24     /* tokens per prompt */
#define TARGET_LEN 19  /* the target prompt */
#define WARM_PREFIX 8  /* tokens of the target found in the cache */
#define MAX_TOKENS 256 /* n_batch: all prompts of one batch */

typedef struct inv {
    lx_t *t;
    const char *name; /* model, for messages */
    lexie_model *m;
    int n_vocab;
    int full; /* every batch size (else a few) */
    int len[N_OTHER + 1];
    lexie_token tok[N_OTHER + 1][MAX_LEN]; /* [0]: the target */
    float *ref;                            /* TARGET_LEN x n_vocab, alone, 1 thread */
    int bad;                               /* failures reported so far */
} inv;

/* One sequence's part of a batch. */
typedef struct part {
    int prompt;   /* index into tok */
    int seq;      /* sequence id */
    int from, to; /* its tokens [from, to), at positions from.. */
} part;

static void make_prompts(inv *v) {
    uint32_t s = 12345;
    for (int p = 0; p <= N_OTHER; p++) {
        v->len[p] = p == 0 ? TARGET_LEN : 3 + (p * 7) % 19;
        for (int i = 0; i < v->len[p]; i++) {
            s = s * 1664525u + 1013904223u;
            v->tok[p][i] = (lexie_token)((s >> 8) % (uint32_t)v->n_vocab);
        }
    }
}

static lexie_ctx *new_ctx(inv *v, int threads) {
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = 512;
    cp.n_batch = MAX_TOKENS;
    cp.n_seq_max = 16;
    cp.n_threads = threads;
    lexie_error err;
    lexie_ctx *c = lexie_ctx_new(v->m, &cp, &err);
    LX_CHECK_MSG(v->t, c != NULL, "%s: context: %s", v->name, err.message);
    return c;
}

/* Decodes the parts as one batch, the target's tokens (prompt 0) asking
** for logits; interleave takes the parts' tokens in turn.  Compares each
** target row with the reference (or, when v->ref is still NULL, stores
** it).  what names the case in messages. */
static void run_batch(inv *v, lexie_ctx *c, const part *parts, int n_parts, int interleave,
                      const char *what) {
    lexie_token tok[MAX_TOKENS];
    int32_t pos[MAX_TOKENS], seq[MAX_TOKENS];
    int8_t want[MAX_TOKENS];
    int row_of[MAX_TOKENS], n = 0, next[N_OTHER + 2] = {0};
    for (int k = 0; k < n_parts; k++) next[k] = parts[k].from;
    for (int left = 1; left;) {
        left = 0;
        for (int k = 0; k < n_parts; k++) {
            const part *p = &parts[k];
            int stop = interleave ? LX_MIN(next[k] + 1, p->to) : p->to;
            for (; next[k] < stop && n < MAX_TOKENS; next[k]++, n++) {
                tok[n] = v->tok[p->prompt][next[k]];
                pos[n] = next[k];
                seq[n] = p->seq;
                want[n] = p->prompt == 0;
                row_of[n] = p->prompt == 0 ? next[k] : -1;
            }
            left |= next[k] < p->to;
        }
    }
    lexie_batch b = {n, tok, pos, seq, want};
    lexie_error err;
    lexie_status st = lexie_ctx_decode(c, &b, &err);
    LX_CHECK_MSG(v->t, st == LEXIE_OK, "%s %s: decode: %s", v->name, what, err.message);
    if (st != LEXIE_OK) return;
    for (int i = 0; i < n; i++) {
        if (row_of[i] < 0) continue;
        const float *got = lexie_ctx_logits(c, i);
        float *ref = v->ref + (size_t)row_of[i] * v->n_vocab;
        if (!got) {
            LX_CHECK_MSG(v->t, 0, "%s %s: no logits for row %d", v->name, what, row_of[i]);
        } else if (v->bad < 0) { /* recording the reference */
            memcpy(ref, got, (size_t)v->n_vocab * sizeof *ref);
        } else if (memcmp(got, ref, (size_t)v->n_vocab * sizeof *ref) != 0 && v->bad++ < 8) {
            LX_CHECK_MSG(v->t, 0, "%s [%s] %s: row %d differs from alone by up to %g", v->name,
                         lx_isa_name(lx_isa_active()), what, row_of[i],
                         rf_max_abs_diff(got, ref, v->n_vocab));
        }
    }
}

/* The target alone, with the given threads: one batch or token by token. */
static void alone(inv *v, int threads, int by_token, const char *what) {
    lexie_ctx *c = new_ctx(v, threads);
    if (!c) return;
    for (int i = 0; i < TARGET_LEN; i += by_token ? 1 : TARGET_LEN) {
        part p = {0, 0, i, by_token ? i + 1 : TARGET_LEN};
        run_batch(v, c, &p, 1, 0, what);
    }
    lexie_ctx_free(c);
}

/* The target among n_other other sequences in one batch. */
static void among(inv *v, int n_other, int threads, int interleave) {
    lexie_ctx *c = new_ctx(v, threads);
    if (!c) return;
    part parts[N_OTHER + 1];
    const int at = n_other / 2; /* the target's place among the parts */
    for (int k = 0, o = 1; k <= n_other; k++) {
        if (k == at)
            parts[k] = (part){0, n_other % 3, 0, TARGET_LEN};
        else {
            parts[k] = (part){o, 3 + o, 0, v->len[o]};
            o++;
        }
    }
    char what[96];
    snprintf(what, sizeof what, "among %d others%s, %d threads", n_other,
             interleave ? " interleaved" : "", threads);
    run_batch(v, c, parts, n_other + 1, interleave, what);
    lexie_ctx_free(c);
}

/* A warm cache: the target's first WARM_PREFIX tokens computed in another
** sequence (with company), copied to the target's, and its other tokens
** placed in cells freed by a removed sequence, before the prefix's cells. */
static void warm(inv *v, int threads) {
    lexie_ctx *c = new_ctx(v, threads);
    if (!c) return;
    const part fill1 = {1, 1, 0, v->len[1]};
    run_batch(v, c, &fill1, 1, 0, "warm: filler");
    const part pre[2] = {{0, 2, 0, WARM_PREFIX}, {2, 3, 0, v->len[2]}};
    run_batch(v, c, pre, 2, 1, "warm: prefix");
    const part fill2 = {3, 4, 0, v->len[3]};
    run_batch(v, c, &fill2, 1, 0, "warm: filler");
    lexie_kv_seq_rm(c, 1, 0, -1);
    lexie_kv_seq_rm(c, 3, 0, -1);
    lexie_kv_seq_cp(c, 2, 0, 0, -1);
    lexie_kv_seq_rm(c, 2, 0, -1);
    /* The rest, with another sequence that continues from the cache too. */
    const part rest[2] = {{4, 4, v->len[3], v->len[4]}, {0, 0, WARM_PREFIX, TARGET_LEN}};
    char what[64];
    snprintf(what, sizeof what, "warm cache, %d threads", threads);
    run_batch(v, c, rest, 2, 0, what);
    lexie_ctx_free(c);
}

/* full: every batch size and every ISA path (else batches of 1, 3 and 9
** others on the active path only: the default model is 30 layers, and its
** scalar path alone takes 20 s). */
static void check_model(lx_t *t, const char *name, const char *path, int full) {
    lexie_error err;
    inv v;
    memset(&v, 0, sizeof v);
    v.t = t;
    v.name = name;
    v.full = full;
    v.m = lexie_model_load(path, NULL, &err);
    LX_CHECK_MSG(t, v.m != NULL, "%s: %s", name, err.message);
    if (!v.m) return;
    v.n_vocab = lexie_model_n_vocab(v.m);
    v.ref = malloc((size_t)TARGET_LEN * v.n_vocab * sizeof *v.ref);
    LX_CHECK(t, v.ref != NULL);
    make_prompts(&v);
    const int env_isa = getenv("LEXIE_ISA") != NULL || !full;
    for (int isa = env_isa ? (int)lx_isa_active() : 0;
         isa <= (int)lx_isa_best() && v.ref && v.bad < 8; isa++) {
        lx_isa_override(env_isa ? -1 : isa);
        v.bad = -1;
        alone(&v, 1, 0, "reference");
        v.bad = 0;
        alone(&v, 2, 0, "alone, 2 threads");
        alone(&v, 1, 1, "token by token");
        alone(&v, 2, 1, "token by token, 2 threads");
        /* Three threads over two KV heads share a token's attention out
        ** by slices (layers.c), as two do over smollm2's three. */
        alone(&v, 3, 1, "token by token, 3 threads");
        for (int k = 1; k <= N_OTHER; k++) {
            if (!full && k != 1 && k != 3 && k != N_OTHER) continue;
            among(&v, k, 1 + k % 2, 0);
            among(&v, k, 2 - k % 2, 1);
        }
        warm(&v, 1);
        warm(&v, 2);
        if (env_isa) break;
    }
    lx_isa_override(-1);
    free(v.ref);
    lexie_model_free(v.m);
}

static void fixture(lx_t *t, const char *stem) {
    char path[1024], file[64];
    snprintf(file, sizeof file, "%s.gguf", stem);
    rf_path(path, sizeof path, file);
    FILE *f = fopen(path, "rb");
    if (!f) LX_SKIP(t, "%s missing (run make test)", path);
    fclose(f);
    check_model(t, stem, path, 1);
}

static void test_invariance_llama_q(lx_t *t) { fixture(t, "llama_q"); }
static void test_invariance_llama_f32(lx_t *t) { fixture(t, "llama_f32"); }
static void test_invariance_qwen3_q(lx_t *t) { fixture(t, "qwen3_q"); }
static void test_invariance_gemma3(lx_t *t) { fixture(t, "gemma3_f32"); }

/* Q4_K and Q6_K weights that the load packs (kernels/pack.c). */
static void test_invariance_packed(lx_t *t) {
    char path[256];
    if (!kq_fixture_write(path, sizeof path)) LX_SKIP(t, "llama_f32.gguf fixture missing");
    check_model(t, "packed K-quant llama", path, 1);
    unlink(path);
}

static void test_invariance_default_model(lx_t *t) {
    const char *path = lx_test_model();
    if (!path) LX_SKIP(t, "the default model is not cached");
    check_model(t, "default model", path, 0);
}

void suite_invariance(void) {
    LX_RUN(test_invariance_llama_q);
    LX_RUN(test_invariance_llama_f32);
    LX_RUN(test_invariance_qwen3_q);
    LX_RUN(test_invariance_gemma3);
    LX_RUN(test_invariance_packed);
    LX_RUN(test_invariance_default_model);
}
