/*
** test_train_data.c -- training data from instruction and chat JSONL:
** rendering with the model's chat template (the tiny fixtures carry
** ChatML), the loss mask over exactly the assistant turns, refused lines,
** truncation, and lexie_trainer_fit over a data set.
*/
#include "lexie.h"
#include "lx_test.h"
#include "ref_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static lexie_model *load_fixture(lx_t *t, const char *stem) {
    char path[512], file[128];
    snprintf(file, sizeof file, "%s.gguf", stem);
    rf_path(path, sizeof path, file);
    if (access(path, R_OK) != 0) return NULL;
    lexie_error e;
    lexie_model *m = lexie_model_load(path, NULL, &e);
    LX_CHECK_MSG(t, m, "%s: %s", path, e.message);
    return m;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/train_%ld_%s", lx_test_fixtures(), (long)getpid(), name);
}

/* The text of the tokens of ex whose mask is (masked ? set : clear), and
** how many of them are special tokens (which have no text). */
static int masked_text(const lexie_model *m, const lexie_train_example *ex, int masked, char *out,
                       size_t cap) {
    size_t at = 0;
    int specials = 0;
    for (int i = 0; i < ex->n_tokens; i++) {
        if ((ex->loss_mask[i] != 0) != masked) continue;
        char piece[64];
        int k = lexie_token_to_piece(m, ex->tokens[i], piece, sizeof piece);
        specials += ex->tokens[i] <= 2; /* <|endoftext|>, <|im_start|>, <|im_end|> */
        if (k < 0 || k > (int)sizeof piece || at + (size_t)k + 1 >= cap) break;
        memcpy(out + at, piece, (size_t)k);
        at += (size_t)k;
    }
    out[at] = 0;
    return specials;
}

static const char DATA[] =
    "{\"instruction\": \"Name the fox.\", \"input\": \"the quick brown fox\", \"output\": "
    "\"brown\"}\n"
    "\n"
    "{\"instruction\": \"Say the cat.\", \"output\": \"the cat sat\"}\n"
    "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", "
    "\"content\": \"one\"}, {\"role\": \"assistant\", \"content\": \"the dog\"}, {\"role\": "
    "\"user\", \"content\": \"two\"}, {\"role\": \"assistant\", \"content\": \"the mat\"}]}\n";

static void test_data_masks(lx_t *t) {
    lexie_error e;
    lexie_model *m = load_fixture(t, "llama_f32");
    if (!m) LX_SKIP(t, "fixtures absent (run make test)");
    char path[512];
    tmp_path(path, sizeof path, "data.jsonl");
    write_file(path, DATA);
    lexie_train_data *d = lexie_train_data_load(m, path, 256, &e);
    LX_REQUIRE(t, d);
    LX_CHECK_INT(t, lexie_train_data_count(d), 3);
    LX_CHECK_INT(t, lexie_train_data_truncated(d), 0);
    const lexie_train_example *ex = lexie_train_data_examples(d);
    char on[1024], off[1024];
    /* ChatML: the response, its <|im_end|> (no text) and the newline. */
    LX_CHECK_INT(t, masked_text(m, &ex[0], 1, on, sizeof on), 1);
    LX_CHECK_INT(t, masked_text(m, &ex[0], 0, off, sizeof off), 3);
    LX_CHECK_MSG(t, strcmp(on, "brown\n") == 0, "masked: '%s'", on);
    LX_CHECK_MSG(t, strcmp(off, "user\nName the fox.\n\nthe quick brown fox\nassistant\n") == 0,
                 "unmasked: '%s'", off);
    LX_CHECK_INT(t, masked_text(m, &ex[1], 1, on, sizeof on), 1);
    LX_CHECK_MSG(t, strcmp(on, "the cat sat\n") == 0, "masked: '%s'", on);
    LX_CHECK_INT(t, masked_text(m, &ex[2], 1, on, sizeof on), 2);
    masked_text(m, &ex[2], 0, off, sizeof off);
    LX_CHECK_MSG(t, strcmp(on, "the dog\nthe mat\n") == 0, "masked: '%s'", on);
    LX_CHECK(t, strstr(off, "be brief") && strstr(off, "two") && !strstr(off, "dog"));

    /* Cut three tokens short of the chat example: it loses the end of its
    ** second answer but keeps the first; the others are shorter. */
    int cut_at = ex[2].n_tokens - 3;
    LX_REQUIRE(t, ex[0].n_tokens <= cut_at && ex[1].n_tokens <= cut_at);
    lexie_train_data *cut = lexie_train_data_load(m, path, cut_at, &e);
    LX_REQUIRE(t, cut);
    LX_CHECK_INT(t, lexie_train_data_count(cut), 3);
    LX_CHECK_INT(t, lexie_train_data_truncated(cut), 1);
    LX_CHECK_INT(t, lexie_train_data_examples(cut)[2].n_tokens, cut_at);
    /* Cut before any answer: every example is dropped, so nothing loads. */
    LX_CHECK(t, !lexie_train_data_load(m, path, 8, &e) && e.code == LEXIE_E_FORMAT);
    lexie_train_data_free(cut);
    lexie_train_data_free(d);
    unlink(path);
    lexie_model_free(m);
}

static void test_data_errors(lx_t *t) {
    lexie_error e;
    lexie_model *m = load_fixture(t, "qwen2_f32");
    if (!m) LX_SKIP(t, "fixtures absent (run make test)");
    char path[512];
    tmp_path(path, sizeof path, "bad.jsonl");
    static const char *const bad[] = {
        "{\"instruction\": \"x\", \"output\": \"y\"}\n{\"instruction\": \"x\"}\n",
        "{\"instruction\": \"x\", \"output\": \"y\"}\n[1, 2]\n",
        "{\"instruction\": \"x\", \"output\": \"y\"}\n{\"messages\": [{\"role\": \"robot\", "
        "\"content\": \"z\"}]}\n",
        "{\"instruction\": \"x\", \"output\": \"y\"}\n{\"instruction\": \"x\", \"output\": 3}\n",
        "{\"instruction\": \"x\", \"output\": \"y\"}\n{\"instruction\": \"x\", \"output\": \"y\"\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, bad[i]);
        lexie_train_data *d = lexie_train_data_load(m, path, 64, &e);
        LX_CHECK_MSG(t, !d && e.code == LEXIE_E_FORMAT && strstr(e.message, "line 2"),
                     "case %zu: %s", i, d ? "loaded" : e.message);
        lexie_train_data_free(d);
    }
    /* Only a user turn: nothing to learn. */
    write_file(path, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n");
    LX_CHECK(t, !lexie_train_data_load(m, path, 64, &e) && e.code == LEXIE_E_FORMAT);
    LX_CHECK(t, !lexie_train_data_load(m, "/nonexistent/d.jsonl", 64, &e) && e.code == LEXIE_E_IO);
    unlink(path);
    lexie_model_free(m);
}

typedef struct {
    int calls;
    double first, last;
} fit_log;

static int on_step(const lexie_train_stats *st, void *user) {
    fit_log *l = user;
    if (l->calls++ == 0) l->first = st->loss;
    l->last = st->loss;
    return 0;
}

static int stop_at_2(const lexie_train_stats *st, void *user) {
    (void)user;
    return st->step >= 2;
}

static void test_fit(lx_t *t) {
    lexie_error e;
    lexie_model *m = load_fixture(t, "qwen2_q");
    if (!m) LX_SKIP(t, "fixtures absent (run make test)");
    char path[512];
    tmp_path(path, sizeof path, "fit.jsonl");
    write_file(path, DATA);
    lexie_train_data *d = lexie_train_data_load(m, path, 64, &e);
    LX_REQUIRE(t, d);
    lexie_train_params p = lexie_train_default_params();
    p.total_steps = 30;
    p.lr = 1e-2f;
    p.rank = 8;
    p.dropout = 0.0f;
    p.micro_batch = 2; /* batch 3: accumulated over two micro-batches */
    p.max_seq_len = 64;
    p.n_threads = 2;
    lexie_trainer *tr = lexie_trainer_new(m, &p, &e);
    LX_REQUIRE(t, tr);
    LX_CHECK(t, lexie_trainer_fit(tr, d, 3, stop_at_2, NULL, &e) == LEXIE_OK);
    fit_log l = {0, 0.0, 0.0};
    LX_CHECK(t, lexie_trainer_fit(tr, d, 3, on_step, &l, &e) == LEXIE_OK);
    LX_CHECK_INT(t, l.calls, 28);
    if (getenv("LX_TEST_VERBOSE"))
        fprintf(stderr, "     fit: loss %.4f -> %.4f\n", l.first, l.last);
    LX_CHECK_MSG(t, l.last < 0.2 * l.first, "loss %g -> %g", l.first, l.last);
    lexie_trainer_free(tr);
    lexie_train_data_free(d);
    unlink(path);
    lexie_model_free(m);
}

void suite_train_data(void) {
    LX_RUN(test_data_masks);
    LX_RUN(test_data_errors);
    LX_RUN(test_fit);
}
