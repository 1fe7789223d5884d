/*
** test_spm.c -- SentencePiece tokenizing (spm.c): token ids against
** llama.cpp's for the real Gemma 3 vocabulary (tests/data/tokenizer_gemma3.tsv,
** written by tests/data/tokenizer_gemma3.py), round trips, vocabulary facts
** and speed when gemma3-270m is in the cache (or LEXIE_TEST_GEMMA3 names a
** file); and a small in-memory vocabulary that pins down score-order
** merging, byte fallback, add_space_prefix and detokenizing with no model.
** tests/tok_fixture.c reads the .tsv files (shared with test_tokenizer.c).
*/
#include "gguf/gguf.h"
#include "lx_test.h"
#include "tok_fixture.h"
#include "tokenizer/tok_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_IDS 4096

/* ==== The Gemma 3 vocabulary ==== */

/* g's metadata with tokenizer.ggml.add_space_prefix = true, as a GGUF in
** memory (*buf, malloc'd): Gemma's vocabulary tokenized the way Llama 2
** and Mistral v1 vocabularies are. */
static lx_gguf *with_space_prefix(lx_t *t, const lx_gguf *g, void **buf) {
    lexie_error e;
    size_t size = 0;
    lx_gguf_writer *w = lx_gguf_writer_new(&e);
    int ok = w != NULL;
    for (int64_t i = 0; ok && i < lx_gguf_n_kv(g); i++) {
        const lx_gguf_kv *kv = lx_gguf_kv_at(g, i);
        if (strcmp(kv->key, "tokenizer.ggml.add_space_prefix") != 0)
            ok = !lx_gguf_writer_set_value(w, kv->key, &kv->value, &e);
    }
    ok = ok && !lx_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", 1, &e) &&
         !lx_gguf_writer_to_memory(w, buf, &size, &e);
    lx_gguf_writer_free(w);
    lx_gguf *g2 = ok ? lx_gguf_open_memory(*buf, size, &e) : NULL;
    if (!g2) lx_test_fail(t, __FILE__, __LINE__, "prefixed copy: %s", e.message);
    return g2;
}

/* The Gemma 3 vocabulary (with add_space_prefix forced on when prefix), or
** NULL after a skip or failure. */
static lx_vocab *gemma3_vocab(lx_t *t, int prefix) {
    const char *env = getenv("LEXIE_TEST_GEMMA3");
    char *cached = NULL;
    const char *path = NULL;
    if (env && *env) {
        path = access(env, R_OK) == 0 ? env : NULL;
    } else if (lexie_model_cached_path("gemma3-270m", &cached, NULL) == LEXIE_OK) {
        path = cached;
    }
    if (!path) {
        lx_test_skip(t, "gemma3-270m absent: `lexie pull gemma3-270m` or set LEXIE_TEST_GEMMA3");
        return NULL;
    }
    lexie_error e;
    lx_vocab *v = NULL;
    void *buf = NULL;
    lx_gguf *g = lx_gguf_open(path, &e);
    lx_gguf *g2 = g && prefix ? with_space_prefix(t, g, &buf) : NULL;
    if (!g)
        lx_test_fail(t, __FILE__, __LINE__, "open %s: %s", path, e.message);
    else if ((!prefix || g2) && !(v = lx_vocab_load(g2 ? g2 : g, &e)))
        lx_test_fail(t, __FILE__, __LINE__, "load %s: %s", path, e.message);
    lx_gguf_close(g); /* the vocabulary must not need the file any more */
    lx_gguf_close(g2);
    free(buf);
    lexie_free(cached);
    if (v && lx_vocab_n_tokens(v) != 262144) {
        lx_test_skip(t, "not the Gemma 3 vocabulary (%d tokens)", lx_vocab_n_tokens(v));
        lx_vocab_free(v);
        v = NULL;
    }
    return v;
}

/* ==== Against llama.cpp ==== */

/* Compares every line of the fixture name with lx_tokenize's ids. */
static void compare_ids(lx_t *t, int prefix, const char *name, int min_lines) {
    lx_vocab *v = gemma3_vocab(t, prefix);
    if (!v) return;
    LX_CHECK_INT(t, v->add_space_prefix, prefix);
    tf_line *fx = NULL;
    int n = tf_load(t, name, &fx), bad = 0, n_bos = 0, n_plain = 0;
    LX_CHECK(t, n >= min_lines);
    int32_t *ids = malloc(MAX_IDS * sizeof *ids);
    LX_REQUIRE(t, ids);
    for (int i = 0; i < n; i++) {
        int n_out = -1;
        lexie_error e;
        lexie_status s = lx_tokenize(v, fx[i].text, fx[i].len, fx[i].add_bos, fx[i].parse_special,
                                     ids, MAX_IDS, &n_out, &e);
        int same = s == LEXIE_OK && n_out == fx[i].n_ids &&
                   memcmp(ids, fx[i].ids, (size_t)n_out * sizeof *ids) == 0;
        n_bos += fx[i].add_bos;
        n_plain += !fx[i].parse_special;
        if (!same && bad++ < 5) {
            int k = 0;
            while (s == LEXIE_OK && k < n_out && k < fx[i].n_ids && ids[k] == fx[i].ids[k]) k++;
            LX_CHECK_MSG(t, 0, "%s line %d: status %d, %d ids, want %d; first difference at %d",
                         name, fx[i].lineno, s, n_out, fx[i].n_ids, k);
        }
    }
    LX_CHECK_INT(t, bad, 0);
    LX_CHECK(t, n_bos > 5 && n_plain > 40); /* every mode was exercised */
    free(ids);
    tf_free(fx, n);
    lx_vocab_free(v);
}

static void test_spm_gemma3_ids(lx_t *t) { compare_ids(t, 0, "tokenizer_gemma3.tsv", 190); }

/* add_space_prefix on (Llama 2, Mistral v1): '\u2581' before the text and
** after every special token, user-defined ones such as "\n" included. */
static void test_spm_gemma3_prefix_ids(lx_t *t) {
    compare_ids(t, 1, "tokenizer_gemma3_prefix.tsv", 150);
}

/* Detokenizing gives back the text, byte for byte, with specials rendered
** where they were parsed and BOS hidden. */
static void test_spm_gemma3_round_trip(lx_t *t) {
    lx_vocab *v = gemma3_vocab(t, 0);
    if (!v) return;
    tf_line *fx = NULL;
    int n = tf_load(t, "tokenizer_gemma3.tsv", &fx), bad = 0;
    int32_t *ids = malloc(MAX_IDS * sizeof *ids);
    char *buf = malloc(1 << 16);
    LX_REQUIRE(t, ids && buf);
    for (int i = 0; i < n; i++) {
        int n_out = 0;
        if (lx_tokenize(v, fx[i].text, fx[i].len, fx[i].add_bos, fx[i].parse_special, ids, MAX_IDS,
                        &n_out, NULL))
            continue;            /* reported by the ids test */
        int off = fx[i].add_bos; /* the BOS is not part of the text */
        int m = lx_detokenize(v, ids + off, n_out - off, 1, buf, 1 << 16);
        /* A '\u2581' typed in the text is a space once tokenized, as in
        ** SentencePiece itself: compare with the text so changed. */
        char *want = malloc(fx[i].len + 1);
        if (!want) break;
        size_t wn = lx_vocab_spm_unescape(fx[i].text, (uint32_t)fx[i].len, want);
        if ((m != (int)wn || memcmp(buf, want, wn) != 0) && bad++ < 5)
            LX_CHECK_MSG(t, 0, "fixture line %d does not round-trip (%d vs %zu bytes)",
                         fx[i].lineno, m, wn);
        free(want);
    }
    LX_CHECK_INT(t, bad, 0);
    free(buf);
    free(ids);
    tf_free(fx, n);
    lx_vocab_free(v);
}

static void test_spm_gemma3_facts(lx_t *t) {
    lx_vocab *v = gemma3_vocab(t, 0);
    if (!v) return;
    LX_CHECK_INT(t, v->type, LX_VOCAB_SPM);
    LX_CHECK_INT(t, lx_vocab_bos(v), 2);
    LX_CHECK_INT(t, lx_vocab_eos(v), 1);
    LX_CHECK_INT(t, lx_vocab_add_bos(v), 1);
    LX_CHECK_INT(t, v->add_space_prefix, 0);
    LX_CHECK(t, strcmp(lx_vocab_text(v, 105), "<start_of_turn>") == 0);
    /* End of generation: <eos>, <end_of_turn> and, as in llama.cpp (which
    ** stops on "</s>" by name), the user-defined HTML tag </s>. */
    int n_eog = 0;
    for (int32_t i = 0; i < lx_vocab_n_tokens(v); i++) n_eog += lx_vocab_is_eog(v, i);
    LX_CHECK_INT(t, n_eog, 3);
    LX_CHECK(t, lx_vocab_is_eog(v, 1) && lx_vocab_is_eog(v, 106) && lx_vocab_is_eog(v, 212));
    LX_CHECK(t, !lx_vocab_is_eog(v, 105) && !lx_vocab_is_eog(v, 2));
    char buf[64];
    int32_t the = lx_vocab_find(v, "\xe2\x96\x81the", 6); /* "▁the" */
    LX_REQUIRE(t, the >= 0);
    LX_CHECK_INT(t, lx_token_to_piece(v, the, 0, buf, sizeof buf), 4);
    LX_CHECK(t, memcmp(buf, " the", 4) == 0);
    int32_t b41 = lx_vocab_find(v, "<0x41>", 6);
    LX_CHECK(t, b41 >= 0 && v->byte_tok[0x41] == b41);
    LX_CHECK_INT(t, lx_token_to_piece(v, b41, 0, buf, sizeof buf), 1);
    LX_CHECK(t, buf[0] == 'A');
    LX_CHECK_INT(t, lx_token_to_piece(v, 106, 0, buf, sizeof buf), 0); /* control: hidden */
    LX_CHECK_INT(t, lx_token_to_piece(v, 106, 1, buf, sizeof buf), 13);
    LX_CHECK_INT(t, lx_token_to_piece(v, 138, 0, buf, sizeof buf), 2); /* user-defined "  " */
    lx_vocab_free(v);
}

/* A 1,000-token prompt must take milliseconds.  SentencePiece has no
** pre-tokenizer, so this is one long symbol chain per fragment. */
static void test_spm_gemma3_speed(lx_t *t) {
    lx_vocab *v = gemma3_vocab(t, 0);
    if (!v) return;
    const char *para =
        "Marie Curie (1867-1934) was a Polish and naturalised-French physicist and chemist who "
        "conducted pioneering research on radioactivity. She was the first woman to win a Nobel "
        "Prize, the first person to win a Nobel Prize twice, and the only person to win a Nobel "
        "Prize in two scientific fields. \u4e2d\u6587 caf\u00e9 \U0001F600 {\"k\": [1, 2, 3]}\n\n";
    size_t pl = strlen(para), len = 0;
    char *text = malloc(pl * 16 + 1);
    int32_t *ids = malloc(8192 * sizeof *ids);
    LX_REQUIRE(t, text && ids);
    for (int i = 0; i < 16; i++, len += pl) memcpy(text + len, para, pl);
    int n = 0;
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t0 = lx_time_now();
        LX_CHECK_INT(t, lx_tokenize(v, text, len, 1, 0, ids, 8192, &n, NULL), LEXIE_OK);
        best = LX_MIN(best, lx_time_now() - t0);
    }
    LX_CHECK_MSG(t, n >= 1000, "%d tokens", n);
    /* ~1 ms on one core with -O2; the bound leaves room for sanitizers. */
    LX_CHECK_MSG(t, best < 0.05, "%d tokens took %.1f ms", n, best * 1e3);
    free(ids);
    free(text);
    lx_vocab_free(v);
}

/* ==== In-memory vocabulary (no model needed) ==== */

#define SP "\xe2\x96\x81" /* U+2581, SentencePiece's space */

/* Ids are indices; scores make "bc" beat "ab", and "xy" tie "yz". */
static const char *const syn_tokens[] = {
    "<unk>", "<s>", "</s>", "<0x0A>", "<0xC3>", "<0xA9>", SP,   "a",  "b",     "c",   "x",
    "y",     "z",   "ab",   "bc",     SP "a",   SP "ab",  "xy", "yz", "<tag>", SP SP, "<0x41>"};
static const int32_t syn_types[] = {2, 3, 3, 6, 6, 6, 1, 1, 1, 1, 1,
                                    1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 6};
static const float syn_scores[] = {0,  0,  0,  0,  0,   0,     -1,  -2,  -3, -4,  -5,
                                   -6, -7, -9, -8, -10, -2.5f, -11, -11, -1, -20, 0};
enum {
    T_UNK,
    T_S,
    T_ES,
    T_NL,
    T_C3,
    T_A9,
    T_SP,
    T_A,
    T_B,
    T_C,
    T_X,
    T_Y,
    T_Z,
    T_AB,
    T_BC,
    T_SPA,
    T_SPAB,
    T_XY,
    T_YZ,
    T_TAG,
    T_SPSP,
    T_41,
    N_SYN
};
_Static_assert(LX_ARRAY_LEN(syn_tokens) == N_SYN, "token list");
_Static_assert(LX_ARRAY_LEN(syn_types) == N_SYN, "type list");
_Static_assert(LX_ARRAY_LEN(syn_scores) == N_SYN, "score list");

typedef struct syn {
    const char *const *tokens;
    int n_tokens;
    const float *scores;    /* NULL: none */
    const int32_t *iscores; /* NULL: none */
    int n_scores;
    int space_prefix;              /* -1: key absent */
    const char *scores_as_strings; /* non-NULL: write scores as a string array (malformed) */
} syn;

static syn syn_default(void) { return (syn){syn_tokens, N_SYN, syn_scores, NULL, N_SYN, 1, NULL}; }

static lx_vocab *syn_load(lx_t *t, const syn *s, lexie_error *e) {
    lexie_error we;
    lx_gguf_writer *w = lx_gguf_writer_new(&we);
    LX_CHECK(t, w != NULL);
    if (!w) return NULL;
    const char *bad[1] = {s->scores_as_strings};
    int ok = !lx_gguf_writer_set_str(w, "general.architecture", "llama", &we) &&
             !lx_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama", &we) &&
             !lx_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", s->tokens,
                                         (uint64_t)s->n_tokens, &we) &&
             !lx_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", syn_types,
                                         (uint64_t)LX_MIN(s->n_tokens, N_SYN), &we) &&
             (!s->scores || !lx_gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", s->scores,
                                                        (uint64_t)s->n_scores, &we)) &&
             (!s->iscores || !lx_gguf_writer_set_arr_i32(w, "tokenizer.ggml.scores", s->iscores,
                                                         (uint64_t)s->n_scores, &we)) &&
             (!s->scores_as_strings ||
              !lx_gguf_writer_set_arr_str(w, "tokenizer.ggml.scores", bad, 1, &we)) &&
             (s->space_prefix < 0 ||
              !lx_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", s->space_prefix, &we));
    void *buf = NULL;
    size_t size = 0;
    if (ok) ok = !lx_gguf_writer_to_memory(w, &buf, &size, &we);
    lx_gguf_writer_free(w);
    if (!ok) {
        lx_test_fail(t, __FILE__, __LINE__, "writer: %s", we.message);
        return NULL;
    }
    lx_gguf *g = lx_gguf_open_memory(buf, size, &we);
    lx_vocab *v = NULL;
    if (!g)
        lx_test_fail(t, __FILE__, __LINE__, "open: %s", we.message);
    else
        v = lx_vocab_load(g, e);
    lx_gguf_close(g);
    free(buf);
    return v;
}

/* Tokenizes text (no BOS) and compares with the expected ids. */
static void expect_ids(lx_t *t, const lx_vocab *v, const char *text, int special,
                       const int32_t *want, int n_want) {
    int32_t ids[64];
    int n = -1;
    lexie_error e;
    lexie_status s = lx_tokenize(v, text, strlen(text), 0, special, ids, 64, &n, &e);
    int same = s == LEXIE_OK && n == n_want && !memcmp(ids, want, (size_t)n * sizeof *ids);
    LX_CHECK_MSG(t, same, "'%s': status %d, %d ids (first %d), want %d (first %d)", text, s, n,
                 n > 0 ? ids[0] : -1, n_want, want[0]);
}
#define EXPECT(t, v, text, special, ...)                                                           \
    expect_ids(t, v, text, special, (const int32_t[]){__VA_ARGS__},                                \
               (int)(sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)))

static void test_spm_merge_order(lx_t *t) {
    syn s = syn_default();
    s.space_prefix = 0;
    lexie_error e;
    lx_vocab *v = syn_load(t, &s, &e);
    LX_REQUIRE(t, v);
    /* "bc" (-8) outscores "ab" (-9) though "ab" is further left. */
    EXPECT(t, v, "abc", 0, T_A, T_BC);
    EXPECT(t, v, "ab", 0, T_AB);
    /* "xy" and "yz" tie: the leftmost pair merges first. */
    EXPECT(t, v, "xyz", 0, T_XY, T_Z);
    /* Merges grow: "ab" first, then "▁"+"ab" = "▁ab" (the space is ▁). */
    EXPECT(t, v, " ab", 0, T_SPAB);
    /* "▁▁" is a token but scores below "▁a": "▁" then "▁a". */
    EXPECT(t, v, "  a", 0, T_SP, T_SPA);
    EXPECT(t, v, "  ", 0, T_SPSP);
    lx_vocab_free(v);
}

static void test_spm_byte_fallback(lx_t *t) {
    syn s = syn_default();
    s.space_prefix = 0;
    lexie_error e;
    lx_vocab *v = syn_load(t, &s, &e);
    LX_REQUIRE(t, v);
    /* 'é' (C3 A9) is no token: its bytes' <0xXX> tokens. */
    EXPECT(t, v, "a\xc3\xa9", 0, T_A, T_C3, T_A9);
    EXPECT(t, v, "\n", 0, T_NL);
    /* 'A' has a byte token; 'q' has none and no raw-byte token: <unk>. */
    EXPECT(t, v, "Aq", 0, T_41, T_UNK);
    /* A 4-byte character with no byte tokens: one <unk> per byte. */
    EXPECT(t, v, "\xf0\x9f\x98\x80", 0, T_UNK, T_UNK, T_UNK, T_UNK);
    char buf[8];
    LX_CHECK_INT(t, lx_token_to_piece(v, T_C3, 0, buf, sizeof buf), 1);
    LX_CHECK(t, (unsigned char)buf[0] == 0xC3);
    LX_CHECK_INT(t, lx_token_to_piece(v, T_UNK, 0, buf, sizeof buf), 0); /* unknown: hidden */
    lx_vocab_free(v);
}

static void test_spm_space_prefix(lx_t *t) {
    syn s = syn_default(); /* add_space_prefix on */
    lexie_error e;
    lx_vocab *v = syn_load(t, &s, &e);
    LX_REQUIRE(t, v);
    EXPECT(t, v, "ab", 0, T_SPAB);
    EXPECT(t, v, "ab ab", 0, T_SPAB, T_SPAB);
    /* After a special token the text gets the prefix again; user-defined
    ** tokens are cut out even without parse_special. */
    EXPECT(t, v, "<s>ab", 1, T_S, T_SPAB);
    EXPECT(t, v, "ab<tag>a", 0, T_SPAB, T_TAG, T_SPA);
    /* Without parse_special "<s>" is text: '<', 's', '>' are no tokens. */
    EXPECT(t, v, "<s>", 0, T_SP, T_UNK, T_UNK, T_UNK);
    /* BOS: added when asked (bos defaults to id 1 when the file is silent),
    ** and the text after it still gets the prefix. */
    int32_t ids[8];
    int n = 0;
    LX_CHECK_INT(t, lx_tokenize(v, "a", 1, 1, 0, ids, 8, &n, NULL), LEXIE_OK);
    LX_CHECK(t, n == 2 && ids[0] == T_S && ids[1] == T_SPA);
    LX_CHECK_INT(t, lx_vocab_add_bos(v), 1); /* SentencePiece default */
    LX_CHECK_INT(t, lx_vocab_eos(v), T_ES);
    LX_CHECK(t, lx_vocab_is_eog(v, T_ES) && !lx_vocab_is_eog(v, T_S));
    LX_CHECK_INT(t, lx_tokenize(v, "", 0, 1, 0, ids, 8, &n, NULL), LEXIE_OK);
    LX_CHECK(t, n == 1 && ids[0] == T_S);
    lx_vocab_free(v);
    /* Absent key: llama.cpp's default, on. */
    s.space_prefix = -1;
    v = syn_load(t, &s, &e);
    LX_REQUIRE(t, v);
    EXPECT(t, v, "ab", 0, T_SPAB);
    lx_vocab_free(v);
}

static void test_spm_detokenize(lx_t *t) {
    lexie_error e;
    char buf[64];
    for (int prefix = 0; prefix <= 1; prefix++) {
        syn s = syn_default();
        s.space_prefix = prefix;
        lx_vocab *v = syn_load(t, &s, &e);
        LX_REQUIRE(t, v);
        static const char *const texts[] = {"ab c", " ab", "  a\n", "x\xc3\xa9yz", "<s>ab </s>"};
        for (size_t i = 0; i < LX_ARRAY_LEN(texts); i++) {
            int32_t ids[32];
            int n = 0;
            size_t len = strlen(texts[i]);
            LX_CHECK_INT(t, lx_tokenize(v, texts[i], len, 0, 1, ids, 32, &n, NULL), LEXIE_OK);
            int m = lx_detokenize(v, ids, n, 1, buf, sizeof buf);
            /* With the prefix, a special token's following text keeps the
            ** space tokenizing added: that is the only difference. */
            const char *want = prefix && i == 4 ? "<s> ab </s>" : texts[i];
            LX_CHECK_MSG(t, m == (int)strlen(want) && !memcmp(buf, want, (size_t)m),
                         "prefix %d: '%s' came back as '%.*s'", prefix, texts[i], LX_MAX(m, 0),
                         buf);
        }
        /* The first token's space goes only with the prefix; piece by piece
        ** it stays. */
        int32_t ids[2] = {T_SPAB, T_SPA};
        LX_CHECK_INT(t, lx_detokenize(v, ids, 2, 0, buf, sizeof buf), prefix ? 4 : 5);
        LX_CHECK(t, !memcmp(buf, prefix ? "ab a" : " ab a", prefix ? 4 : 5));
        LX_CHECK_INT(t, lx_token_to_piece(v, T_SPAB, 0, buf, sizeof buf), 3);
        LX_CHECK(t, !memcmp(buf, " ab", 3));
        /* After a hidden BOS the space stays, as in llama.cpp. */
        int32_t with_bos[2] = {T_S, T_SPA};
        LX_CHECK_INT(t, lx_detokenize(v, with_bos, 2, 0, buf, sizeof buf), 2);
        LX_CHECK(t, !memcmp(buf, " a", 2));
        /* Short buffer: the full count and a prefix; bad ids. */
        LX_CHECK_INT(t, lx_detokenize(v, ids, 2, 0, buf, 2), prefix ? 4 : 5);
        LX_CHECK(t, !memcmp(buf, prefix ? "ab" : " a", 2));
        LX_CHECK_INT(t, lx_detokenize(v, ids, 2, 0, NULL, 0), prefix ? 4 : 5);
        int32_t badid[1] = {N_SYN};
        LX_CHECK_INT(t, lx_detokenize(v, badid, 1, 0, buf, sizeof buf), -1);
        LX_CHECK_INT(t, lx_detokenize(v, NULL, 0, 0, buf, sizeof buf), 0);
        lx_vocab_free(v);
    }
}

static void test_spm_scores(lx_t *t) {
    lexie_error e;
    /* int32 scores are accepted (llama.cpp does), same order. */
    int32_t iscores[N_SYN];
    for (int i = 0; i < N_SYN; i++) iscores[i] = (int32_t)(syn_scores[i] * 2);
    syn s = syn_default();
    s.scores = NULL;
    s.iscores = iscores;
    s.space_prefix = 0;
    lx_vocab *v = syn_load(t, &s, &e);
    LX_REQUIRE(t, v);
    EXPECT(t, v, "abc", 0, T_A, T_BC);
    lx_vocab_free(v);
    /* No scores at all: every merge ties, so the leftmost wins. */
    s = syn_default();
    s.scores = NULL;
    s.space_prefix = 0;
    v = syn_load(t, &s, &e);
    LX_REQUIRE(t, v);
    EXPECT(t, v, "abc", 0, T_AB, T_C);
    lx_vocab_free(v);
    /* Malformed: too few scores, wrong element type. */
    s = syn_default();
    s.n_scores = N_SYN - 1;
    LX_CHECK(t, syn_load(t, &s, &e) == NULL);
    LX_CHECK(t, e.code == LEXIE_E_FORMAT && strstr(e.message, "scores"));
    s = syn_default();
    s.scores = NULL;
    s.scores_as_strings = "1.0";
    LX_CHECK(t, syn_load(t, &s, &e) == NULL);
    LX_CHECK(t, e.code == LEXIE_E_FORMAT && strstr(e.message, "scores"));
    /* Invalid UTF-8 and a short output buffer, as for BPE. */
    s = syn_default();
    v = syn_load(t, &s, &e);
    LX_REQUIRE(t, v);
    int32_t ids[2];
    int n = 0;
    LX_CHECK_INT(t, lx_tokenize(v, "a\xff", 2, 0, 0, ids, 2, &n, &e), LEXIE_E_UTF8);
    LX_CHECK_INT(t, lx_tokenize(v, "ab ab ab", 8, 1, 0, ids, 2, &n, &e), LEXIE_E_RANGE);
    LX_CHECK(t, n == 4 && ids[0] == T_S && ids[1] == T_SPAB);
    lx_vocab_free(v);
}

void suite_spm(void) {
    LX_RUN(test_spm_gemma3_ids);
    LX_RUN(test_spm_gemma3_prefix_ids);
    LX_RUN(test_spm_gemma3_round_trip);
    LX_RUN(test_spm_gemma3_facts);
    LX_RUN(test_spm_gemma3_speed);
    LX_RUN(test_spm_merge_order);
    LX_RUN(test_spm_byte_fallback);
    LX_RUN(test_spm_space_prefix);
    LX_RUN(test_spm_detokenize);
    LX_RUN(test_spm_scores);
}
