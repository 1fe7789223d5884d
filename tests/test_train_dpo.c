/*
** test_train_dpo.c -- DPO: the loss and its derivative against a case
** worked by hand, the loss of a fresh adapter against its own base (policy
** = reference: exactly log 2), the gradient through the whole tiny model
** against finite differences of the DPO loss, and a few steps that learn
** the preferences.
*/
#include "lexie.h"
#include "lx_test.h"
#include "ref_fixture.h"
#include "train/train.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOL_MODEL 1e-2 /* relative, as test_train.c's whole-model checks */

static void test_dpo_loss_hand(lx_t *t) {
    /* beta 0.1; policy chosen -10, rejected -12; reference -11, -11.5:
    ** z = 0.1 ((-10 + 11) - (-12 + 11.5)) = 0.15,
    ** loss = log(1 + e^-0.15) = 0.6209570477895321,
    ** dloss/dpc = -0.1 / (1 + e^0.15) = -0.04625701546562505. */
    double d = 0.0;
    double l = lx_dpo_loss(-10.0, -12.0, -11.0, -11.5, 0.1f, &d);
    LX_CHECK_CLOSE(t, l, 0.6209570477895321, 1e-7);
    LX_CHECK_CLOSE(t, d, -0.04625701546562505, 1e-8);
    /* Far apart either way: no overflow, the right limits. */
    LX_CHECK_CLOSE(t, lx_dpo_loss(0.0, -1e4, 0.0, 0.0, 1.0f, &d), 0.0, 1e-12);
    LX_CHECK_CLOSE(t, d, 0.0, 1e-12);
    LX_CHECK_CLOSE(t, lx_dpo_loss(-1e4, 0.0, 0.0, 0.0, 1.0f, &d), 1e4, 1e-6);
    LX_CHECK_CLOSE(t, d, -1.0, 1e-12);
}

enum { SEQ_MAIN, SEQ_B1, SEQ_B2, N_SEQ };
static const char *const SEQ_NAMES[N_SEQ] = {"main", "branch1", "branch2"};
static const rf_set LLAMA = {"ref_tokens.txt", SEQ_NAMES, N_SEQ, 0, 256, 128};

/* Two pairs over the fixture's tokens: a shared prompt, responses that
** differ; the loss covers the responses. */
typedef struct pairset {
    lexie_token tok[4][24];
    int8_t mask[4][24];
    lexie_dpo_pair p[2];
} pairset;

static void make_pairs(const rf_fixture *f, pairset *s) {
    for (int q = 0; q < 4; q++) {
        for (int i = 0; i < 24; i++) {
            int resp = i >= 12;
            s->tok[q][i] = resp ? f->rt.ids[SEQ_B1 + q % 2][i + 3 * q] : f->rt.ids[SEQ_MAIN][i + q];
            s->mask[q][i] = (int8_t)resp;
        }
    }
    for (int i = 0; i < 2; i++) {
        s->p[i].chosen = (lexie_train_example){s->tok[2 * i], s->mask[2 * i], 24 - i};
        s->p[i].rejected = (lexie_train_example){s->tok[2 * i + 1], s->mask[2 * i + 1], 22};
    }
}

static lexie_trainer *new_trainer(const lexie_model *m, int steps) {
    lexie_error e;
    lexie_train_params p = lexie_train_default_params();
    p.total_steps = steps;
    p.rank = 4;
    p.alpha = 8.0f;
    p.dropout = 0.0f;
    p.micro_batch = 3; /* pairs straddle micro-batches */
    p.max_seq_len = 32;
    p.n_threads = 2;
    p.lr = 1e-2f;
    p.warmup_ratio = 0.0f;
    p.schedule = LEXIE_LR_CONSTANT;
    return lexie_trainer_new(m, &p, &e);
}

static void test_dpo_fresh_is_log2(lx_t *t) {
    lexie_error e;
    rf_fixture f;
    if (!rf_open(t, &f, &LLAMA, "llama_q", "bin", NULL)) return;
    pairset s;
    make_pairs(&f, &s);
    lexie_trainer *tr = new_trainer(f.m, 5);
    LX_REQUIRE(t, tr);
    double ref[4];
    LX_REQUIRE(t, lexie_trainer_dpo_reference(tr, NULL, s.p, 2, ref, &e) == LEXIE_OK);
    for (int i = 0; i < 4; i++) LX_CHECK(t, isfinite(ref[i]) && ref[i] < 0.0);
    lexie_dpo_stats st;
    LX_REQUIRE(t, lexie_trainer_dpo_step(tr, s.p, 2, ref, 0.1f, &st, &e) == LEXIE_OK);
    /* B = 0: the policy is the reference, so every z is 0. */
    LX_CHECK_CLOSE(t, st.train.loss, log(2.0), 1e-12);
    LX_CHECK_CLOSE(t, st.reward_margin, 0.0, 1e-12);
    LX_CHECK_CLOSE(t, st.reward_accuracy, 0.0, 1e-12);
    LX_CHECK(t, st.train.grad_norm > 0.0f);
    /* Learning the preferences: margins grow, every chosen wins. */
    for (int i = 0; i < 8; i++)
        LX_REQUIRE(t, lexie_trainer_dpo_step(tr, s.p, 2, ref, 0.1f, &st, &e) == LEXIE_OK);
    if (getenv("LX_TEST_VERBOSE"))
        fprintf(stderr, "     dpo: loss %.4f margin %.4f accuracy %.2f after 9 steps\n",
                st.train.loss, st.reward_margin, st.reward_accuracy);
    LX_CHECK(t, st.train.loss < 0.5 * log(2.0));
    LX_CHECK(t, st.reward_margin > 0.5);
    LX_CHECK_CLOSE(t, st.reward_accuracy, 1.0, 1e-12);
    /* Refused: beta 0, no reference. */
    LX_CHECK(t, lexie_trainer_dpo_step(tr, s.p, 2, ref, 0.0f, &st, &e) == LEXIE_E_INVALID);
    LX_CHECK(t, lexie_trainer_dpo_step(tr, s.p, 2, NULL, 0.1f, &st, &e) == LEXIE_E_INVALID);
    lexie_trainer_free(tr);
    rf_close(&f);
}

/* The DPO gradient of LoRA A and B against finite differences of the DPO
** loss, with a reference that differs from the policy. */
static void test_dpo_grads(lx_t *t) {
    lexie_error e;
    rf_fixture f;
    if (!rf_open(t, &f, &LLAMA, "llama_f32", "bin", NULL)) return;
    pairset s;
    make_pairs(&f, &s);
    lexie_trainer *tr = new_trainer(f.m, 5);
    LX_REQUIRE(t, tr);
    double ref[4];
    LX_REQUIRE(t, lexie_trainer_dpo_reference(tr, NULL, s.p, 2, ref, &e) == LEXIE_OK);
    /* A policy away from the reference: random A and B. */
    lexie_adapter *a = (lexie_adapter *)lexie_trainer_adapter(tr);
    uint64_t st = 17;
    for (size_t i = 0; i < a->n_params; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        a->mem[i] = 0.3f * (float)((double)(st >> 11) * 0x1p-53 * 2.0 - 1.0);
    }
    double margin = 0.0;
    double loss = lx_dpo_grads(tr, s.p, 2, ref, 0.5f, 1, &margin, NULL, &e);
    LX_CHECK(t, isfinite(loss) && fabs(margin) > 1e-3);
    /* Keep the analytic gradients: the checks below run forward passes. */
    lexie_adapter *g = tr->grad;
    float *an = malloc(sizeof(float) * g->n_params);
    memcpy(an, g->mem, sizeof(float) * g->n_params);
    double worst = 0.0;
    for (int il = 0; il < f.m->hp.n_layer; il++)
        for (int tg = 0; tg < LX_LORA_N_TARGET; tg++)
            for (int half = 0; half < 2; half++) {
                lx_lora_pair *p = lx_lora_at(a, il, tg), *gp = lx_lora_at(g, il, tg);
                float *pv = half ? p->b : p->a;
                const float *gv = an + ((half ? gp->b : gp->a) - g->mem);
                int cnt = p->rank * (half ? p->n_out : p->n_in);
                double big = 0.0, err = 0.0;
                for (int i = 0; i < cnt; i++) big = fmax(big, fabs(gv[i]));
                for (int k = 0; k < 2; k++) {
                    int i = (k * 5003 + il * 11 + tg * 3) % cnt;
                    float v = pv[i];
                    pv[i] = v + 1e-2f;
                    double lp = lx_dpo_grads(tr, s.p, 2, ref, 0.5f, 0, NULL, NULL, &e);
                    pv[i] = v - 1e-2f;
                    double lm = lx_dpo_grads(tr, s.p, 2, ref, 0.5f, 0, NULL, NULL, &e);
                    pv[i] = v;
                    err = fmax(err, fabs((lp - lm) / 2e-2 - gv[i]) / big);
                }
                LX_CHECK_MSG(t, err < TOL_MODEL, "layer %d %s lora_%c: rel err %g", il,
                             lx_lora_target_name(tg), half ? 'b' : 'a', err);
                worst = fmax(worst, err);
            }
    rf_report("dpo lora grads rel err", "llama_f32", worst);
    free(an);
    lexie_trainer_free(tr);
    rf_close(&f);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Preference JSONL: both sides share the rendered prompt; the masks cover
** the answers only; a malformed line is refused with its number. */
static void test_dpo_data(lx_t *t) {
    lexie_error e;
    rf_fixture f;
    if (!rf_open(t, &f, &LLAMA, "llama_f32", "bin", NULL)) return;
    char path[512];
    snprintf(path, sizeof path, "%s/train_%ld_pairs.jsonl", lx_test_fixtures(), (long)getpid());
    write_file(path, "{\"prompt\": \"Is the cat on the mat?\", \"chosen\": \"yes, the cat\", "
                     "\"rejected\": \"no\"}\n"
                     "{\"prompt\": \"Where is the dog?\", \"chosen\": \"in the house\", "
                     "\"rejected\": \"the fox\"}\n");
    lexie_dpo_data *d = lexie_dpo_data_load(f.m, path, 32, &e);
    LX_REQUIRE(t, d);
    LX_CHECK_INT(t, lexie_dpo_data_count(d), 2);
    const lexie_dpo_pair *p = lexie_dpo_data_pairs(d);
    for (int i = 0; i < 2; i++) {
        const lexie_train_example *c = &p[i].chosen, *r = &p[i].rejected;
        int pc = 0, pr = 0, nc = 0, nr = 0;
        while (pc < c->n_tokens && !c->loss_mask[pc]) pc++;
        while (pr < r->n_tokens && !r->loss_mask[pr]) pr++;
        for (int k = 0; k < c->n_tokens; k++) nc += c->loss_mask[k] != 0;
        for (int k = 0; k < r->n_tokens; k++) nr += r->loss_mask[k] != 0;
        /* Same prompt tokens, then a response masked to the end. */
        LX_CHECK(t,
                 pc == pr && pc > 4 && memcmp(c->tokens, r->tokens, sizeof *c->tokens * pc) == 0);
        LX_CHECK(t, nc == c->n_tokens - pc && nr == r->n_tokens - pr && nc > 1 && nr > 1);
    }
    /* DPO on the loaded pairs. */
    lexie_trainer *tr = new_trainer(f.m, 6);
    LX_REQUIRE(t, tr);
    double ref[4];
    lexie_dpo_stats st;
    LX_REQUIRE(t, lexie_trainer_dpo_reference(tr, NULL, p, 2, ref, &e) == LEXIE_OK);
    for (int i = 0; i < 6; i++)
        LX_REQUIRE(t, lexie_trainer_dpo_step(tr, p, 2, ref, 0.1f, &st, &e) == LEXIE_OK);
    LX_CHECK_CLOSE(t, st.reward_accuracy, 1.0, 1e-12);
    lexie_trainer_free(tr);
    lexie_dpo_data_free(d);
    write_file(path, "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\n"
                     "{\"prompt\": \"a\", \"chosen\": \"b\"}\n");
    LX_CHECK(t, !lexie_dpo_data_load(f.m, path, 64, &e) && e.code == LEXIE_E_FORMAT &&
                    strstr(e.message, "line 2"));
    unlink(path);
    rf_close(&f);
}

void suite_train_dpo(void) {
    LX_RUN(test_dpo_loss_hand);
    LX_RUN(test_dpo_fresh_is_log2);
    LX_RUN(test_dpo_grads);
    LX_RUN(test_dpo_data);
}
