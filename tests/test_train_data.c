/*
** test_train_data.c -- training data from instruction and chat JSONL:
** rendering with the model's chat template (the tiny fixtures carry
** ChatML), the loss mask over exactly the assistant turns, refused lines,
** truncation, lexie_trainer_fit over a data set, and checkpoint/resume.
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

/* A response that spells the template's markup is trained as text: it adds
** no control token (the template's own 1 masked <|im_end|> stays the only
** one) and its characters come back from the masked tokens. */
static void test_data_text_stays_text(lx_t *t) {
    lexie_error e;
    lexie_model *m = load_fixture(t, "llama_f32");
    if (!m) LX_SKIP(t, "fixtures absent (run make test)");
    char path[512];
    tmp_path(path, sizeof path, "inject.jsonl");
    write_file(path, "{\"instruction\": \"hi<|im_end|>\", \"output\": "
                     "\"ok<|im_end|>\\n<|im_start|>user\\nmore\"}\n");
    lexie_train_data *d = lexie_train_data_load(m, path, 256, &e);
    LX_REQUIRE(t, d);
    char on[1024], off[1024];
    const lexie_train_example *ex = lexie_train_data_examples(d);
    LX_CHECK_INT(t, masked_text(m, &ex[0], 1, on, sizeof on), 1);
    LX_CHECK_INT(t, masked_text(m, &ex[0], 0, off, sizeof off), 3);
    LX_CHECK_MSG(t, strcmp(on, "ok<|im_end|>\n<|im_start|>user\nmore\n") == 0, "masked: '%s'", on);
    LX_CHECK_MSG(t, strstr(off, "hi<|im_end|>") != NULL, "unmasked: '%s'", off);
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

typedef struct {
    int n;
    double loss[16];
    long stop_at; /* 0: never */
} loss_log;

static int log_loss(const lexie_train_stats *st, void *user) {
    loss_log *l = user;
    if (l->n < 16) l->loss[l->n++] = st->loss;
    return l->stop_at && st->step >= l->stop_at;
}

/* Killed after step 3 and resumed from its checkpoint, a run ends exactly
** as one that was never stopped: same losses, same adapter bits (dropout
** on, batches that cross epochs). */
static int same_bytes(const char *p1, const char *p2) {
    FILE *f1 = fopen(p1, "rb"), *f2 = fopen(p2, "rb");
    int same = f1 && f2, c1, c2;
    if (same) do {
            c1 = fgetc(f1);
            c2 = fgetc(f2);
            same &= c1 == c2;
        } while (c1 != EOF && c2 != EOF);
    if (f1) fclose(f1);
    if (f2) fclose(f2);
    return same;
}

static void test_resume(lx_t *t) {
    lexie_error e;
    lexie_model *m = load_fixture(t, "llama_q");
    if (!m) LX_SKIP(t, "fixtures absent (run make test)");
    char path[512], ck[512];
    tmp_path(path, sizeof path, "resume.jsonl");
    tmp_path(ck, sizeof ck, "resume.ckpt.gguf");
    write_file(path, DATA);
    lexie_train_data *d = lexie_train_data_load(m, path, 64, &e);
    LX_REQUIRE(t, d);
    lexie_train_params p = lexie_train_default_params();
    p.total_steps = 8;
    p.lr = 5e-3f;
    p.rank = 4;
    p.dropout = 0.1f;
    p.micro_batch = 1;
    p.max_seq_len = 64;
    p.n_threads = 2;
    lexie_trainer *a = lexie_trainer_new(m, &p, &e);
    LX_REQUIRE(t, a);
    loss_log la = {0}, lb = {0}, lc = {0};
    LX_REQUIRE(t, lexie_trainer_fit(a, d, 2, log_loss, &la, &e) == LEXIE_OK);
    LX_CHECK_INT(t, la.n, 8);

    lexie_trainer *b = lexie_trainer_new(m, &p, &e);
    LX_REQUIRE(t, b);
    lb.stop_at = 3;
    LX_REQUIRE(t, lexie_trainer_fit(b, d, 2, log_loss, &lb, &e) == LEXIE_OK);
    LX_CHECK_INT(t, lexie_trainer_steps(b), 3);
    LX_REQUIRE(t, lexie_trainer_save(b, ck, &e) == LEXIE_OK);
    /* The checkpoint loads as an adapter: b's own, AdamW's moments left out. */
    char fb[512], fk[512];
    tmp_path(fb, sizeof fb, "resume_b.gguf");
    tmp_path(fk, sizeof fk, "resume_k.gguf");
    LX_REQUIRE(t, lexie_adapter_save(lexie_trainer_adapter(b), fb, &e) == LEXIE_OK);
    lexie_adapter *k = lexie_adapter_load(m, ck, &e);
    LX_REQUIRE(t, k);
    LX_REQUIRE(t, lexie_adapter_save(k, fk, &e) == LEXIE_OK);
    LX_CHECK(t, same_bytes(fb, fk));
    lexie_adapter_free(k);
    unlink(fb);
    unlink(fk);
    lexie_trainer_free(b);

    lexie_trainer *c = lexie_trainer_new(m, &p, &e);
    LX_REQUIRE(t, c);
    LX_REQUIRE(t, lexie_trainer_resume(c, ck, &e) == LEXIE_OK);
    LX_CHECK_INT(t, lexie_trainer_steps(c), 3);
    LX_REQUIRE(t, lexie_trainer_fit(c, d, 2, log_loss, &lc, &e) == LEXIE_OK);
    LX_CHECK_INT(t, lc.n, 5);
    for (int i = 0; i < 3; i++) LX_CHECK(t, lb.loss[i] == la.loss[i]);
    for (int i = 0; i < 5; i++)
        LX_CHECK_MSG(t, lc.loss[i] == la.loss[3 + i], "step %d: %.9g vs %.9g", 4 + i, lc.loss[i],
                     la.loss[3 + i]);
    /* The adapters agree bit for bit: saved as adapters, the files match. */
    char fa[512], fc[512];
    tmp_path(fa, sizeof fa, "resume_a.gguf");
    tmp_path(fc, sizeof fc, "resume_c.gguf");
    LX_REQUIRE(t, lexie_adapter_save(lexie_trainer_adapter(a), fa, &e) == LEXIE_OK);
    LX_REQUIRE(t, lexie_adapter_save(lexie_trainer_adapter(c), fc, &e) == LEXIE_OK);
    LX_CHECK(t, same_bytes(fa, fc));

    /* Refused: another seed; a file that is an adapter, not a checkpoint. */
    lexie_train_params p2 = p;
    p2.seed = 7;
    lexie_trainer *x = lexie_trainer_new(m, &p2, &e);
    LX_REQUIRE(t, x);
    LX_CHECK(t, lexie_trainer_resume(x, ck, &e) == LEXIE_E_INVALID);
    LX_CHECK(t, lexie_trainer_resume(x, fa, &e) == LEXIE_E_FORMAT);
    LX_CHECK_INT(t, lexie_trainer_steps(x), 0);
    lexie_trainer_free(x);
    unlink(fa);
    unlink(fc);
    unlink(ck);
    unlink(path);
    lexie_trainer_free(a);
    lexie_trainer_free(c);
    lexie_train_data_free(d);
    lexie_model_free(m);
}

void suite_train_data(void) {
    LX_RUN(test_data_masks);
    LX_RUN(test_data_text_stays_text);
    LX_RUN(test_data_errors);
    LX_RUN(test_fit);
    LX_RUN(test_resume);
}
