/*
** test_chunk.c -- long documents (src/ie/chunk.c): chunk plans under a
** fake token counter (words, or code points), sentence ends and
** abbreviations, overlap, sentences and words longer than max_tokens, CJK
** terminators; mentions grounded per chunk, shifted to document offsets
** and de-duplicated; de-duplication of mentions, triples, events and
** relations with the index remap.
*/
#include "alloc_fail.h"
#include "ie/ground.h"
#include "lx_test.h"

#include <stdlib.h>
#include <string.h>

/* A stand-in tokenizer: one token per whitespace-separated word. */
static int count_words(const char *s, size_t n, void *user, lexie_error *err) {
    (void)err;
    int w = 0, in = 0;
    for (size_t i = 0; i < n; i++) {
        int sp = s[i] == ' ' || s[i] == '\n' || s[i] == '\t';
        if (!sp && !in) w++;
        in = !sp;
    }
    if (user) (*(int *)user)++;
    return w;
}

/* One token per code point. */
static int count_cps(const char *s, size_t n, void *user, lexie_error *err) {
    (void)user, (void)err;
    int c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int count_fail(const char *s, size_t n, void *user, lexie_error *err) {
    (void)s, (void)n, (void)user;
    return lx_fail(err, LEXIE_E_RANGE, "counter says no"), -1;
}

static int count_five(const char *s, size_t n, void *user, lexie_error *err) {
    (void)s, (void)n, (void)user, (void)err;
    return 5;
}

/* Byte offset of the first occurrence of needle in text. */
static size_t at(const char *text, const char *needle) {
    const char *p = strstr(text, needle);
    return p ? (size_t)(p - text) : (size_t)-1;
}

/* The invariants of every plan: in order, tiling or overlapping, covering
** the text, within max_tokens, code points consistent with bytes. */
static void check_plan(lx_t *t, const char *text, const lx_chunk *c, int n, int max_tokens) {
    size_t len = strlen(text);
    LX_REQUIRE(t, n >= 1);
    LX_CHECK_INT(t, c[0].byte_start, 0);
    LX_CHECK_INT(t, c[n - 1].byte_end, len);
    for (int i = 0; i < n; i++) {
        LX_CHECK_MSG(t, c[i].n_tokens <= max_tokens, "chunk %d: %d tokens", i, c[i].n_tokens);
        size_t nb = c[i].byte_end - c[i].byte_start;
        LX_CHECK_INT(t, c[i].n_tokens, count_words(text + c[i].byte_start, nb, NULL, NULL));
        int cp = 0;
        for (size_t b = 0; b < c[i].byte_start; b++) cp += ((unsigned char)text[b] & 0xC0) != 0x80;
        LX_CHECK_INT(t, c[i].cp_start, cp);
        if (i > 0) {
            LX_CHECK(t, c[i].byte_start > c[i - 1].byte_start);
            LX_CHECK(t, c[i].byte_start <= c[i - 1].byte_end); /* no gap */
            LX_CHECK(t, c[i].byte_end > c[i - 1].byte_end);    /* progress */
        }
    }
}

static void test_whole_and_empty(lx_t *t) {
    lx_chunk *c;
    int n;
    const char *text = "One sentence. Another one.";
    LX_REQUIRE(t, lx_chunk_plan(text, strlen(text), 10, 1, count_words, NULL, &c, &n, NULL) ==
                      LEXIE_OK);
    LX_CHECK_INT(t, n, 1);
    LX_CHECK(t, c[0].byte_start == 0 && c[0].byte_end == strlen(text) && c[0].n_tokens == 4);
    LX_CHECK(t, c[0].cp_start == 0 && c[0].cp_end == 26);
    free(c);
    LX_REQUIRE(t, lx_chunk_plan("", 0, 10, 1, count_words, NULL, &c, &n, NULL) == LEXIE_OK);
    LX_CHECK(t, n == 1 && c[0].byte_start == 0 && c[0].byte_end == 0 && c[0].n_tokens == 0);
    free(c);
}

static void test_abbreviations(lx_t *t) {
    /* Three sentences of 10, 6 and 3 words; no cut after Dr., Mr., U.S.,
    ** e.g., an initial, or inside 3.50. */
    const char *text = "Dr. Smith met Mr. Jones at the U.S. Army base. "
                       "He paid 3.50 dollars, e.g. cash. "
                       "J. Doe left!";
    lx_chunk *c;
    int n, calls = 0;
    LX_REQUIRE(t, lx_chunk_plan(text, strlen(text), 10, 0, count_words, &calls, &c, &n, NULL) ==
                      LEXIE_OK);
    check_plan(t, text, c, n, 10);
    LX_REQUIRE(t, n == 2);
    LX_CHECK_INT(t, c[0].byte_end, at(text, "He paid"));
    LX_CHECK_INT(t, c[0].n_tokens, 10);
    LX_CHECK_INT(t, c[1].byte_start, at(text, "He paid"));
    LX_CHECK_INT(t, c[1].n_tokens, 9);
    LX_CHECK(t, calls < 20); /* no per-prefix recounting */
    free(c);
    /* Sentences tile: with max 6 the second and third are apart. */
    LX_REQUIRE(t, lx_chunk_plan(text + at(text, "He"), strlen(text + at(text, "He")), 6, 0,
                                count_words, NULL, &c, &n, NULL) == LEXIE_OK);
    LX_REQUIRE(t, n == 2);
    LX_CHECK_INT(t, c[1].byte_start, at(text + at(text, "He"), "J. Doe"));
    free(c);
}

/* Sentence ends one by one (lx_sentence_next). */
static void test_sentences(lx_t *t) {
    static const char *text =
        "It costs approx. five. \"Really?!\" He said... Yes! Pi is 3.14 or so, see "
        "example.com. Prof. X and Ph.D. students met (at noon). Ms. Y got an a. Then\n"
        "a new line\r\n\nand one more.  \xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82\xe5\x86\x8d"
        "\xe8\xa7\x81";
    static const char *starts[] = {"\"Really", "He said",      "Yes",         "Pi is",
                                   "Prof.",    "Ms. Y",        "Then",        "a new",
                                   "and one",  "\xe4\xbd\xa0", "\xe5\x86\x8d"};
    size_t len = strlen(text), pos = 0;
    for (size_t i = 0; i < LX_ARRAY_LEN(starts); i++) {
        pos = lx_sentence_next(text, len, pos);
        LX_CHECK_MSG(t, pos == at(text, starts[i]), "sentence %zu ends at %zu, not before '%s'", i,
                     pos, starts[i]);
        pos = at(text, starts[i]);
    }
    LX_CHECK_INT(t, lx_sentence_next(text, len, pos), len);
    LX_CHECK_INT(t, lx_sentence_next(text, len, len), len);
}

static void test_overlap(lx_t *t) {
    /* Six sentences of three words; max 6 and overlap 1: each chunk
    ** repeats the previous chunk's last sentence. */
    const char *text = "S0 a b. S1 c d. S2 e f. S3 g h. S4 i j. S5 k l.";
    lx_chunk *c;
    int n;
    LX_REQUIRE(t, lx_chunk_plan(text, strlen(text), 6, 1, count_words, NULL, &c, &n, NULL) ==
                      LEXIE_OK);
    check_plan(t, text, c, n, 6);
    LX_REQUIRE(t, n == 5);
    const char *starts[] = {"S0", "S1", "S2", "S3", "S4"}, *ends[] = {"S2", "S3", "S4", "S5"};
    for (int i = 0; i < 5; i++) {
        LX_CHECK_INT(t, c[i].byte_start, at(text, starts[i]));
        LX_CHECK_INT(t, c[i].byte_end, i < 4 ? at(text, ends[i]) : strlen(text));
        LX_CHECK_INT(t, c[i].n_tokens, 6);
    }
    free(c);
    /* Overlap 0 tiles; overlap 5 still progresses one sentence at a time. */
    LX_REQUIRE(t, lx_chunk_plan(text, strlen(text), 6, 0, count_words, NULL, &c, &n, NULL) ==
                      LEXIE_OK);
    LX_CHECK_INT(t, n, 3);
    LX_CHECK(t, n == 3 && c[1].byte_start == c[0].byte_end && c[2].byte_start == c[1].byte_end);
    free(c);
    LX_REQUIRE(t, lx_chunk_plan(text, strlen(text), 6, 5, count_words, NULL, &c, &n, NULL) ==
                      LEXIE_OK);
    check_plan(t, text, c, n, 6);
    LX_CHECK_INT(t, n, 5);
    free(c);
}

static void test_long_sentence(lx_t *t) {
    /* 25 words, no sentence end: cut at whitespace into 10, 10, 5. */
    char text[256] = "";
    for (int i = 0; i < 25; i++) {
        char w[4] = {'w', (char)('0' + i / 10), (char)('0' + i % 10), ' '};
        memcpy(text + 4 * i, w, 4);
    }
    text[4 * 25] = 0;
    text[strlen(text) - 1] = 0;
    lx_chunk *c;
    int n;
    LX_REQUIRE(t, lx_chunk_plan(text, strlen(text), 10, 1, count_words, NULL, &c, &n, NULL) ==
                      LEXIE_OK);
    check_plan(t, text, c, n, 10);
    LX_REQUIRE(t, n >= 3);
    LX_CHECK_INT(t, c[0].n_tokens, 10);
    LX_CHECK_INT(t, c[0].byte_end, at(text, "w10"));
    free(c);
    /* A word longer than max_tokens is cut between code points. */
    const char *w = "abcdefghij xy";
    LX_REQUIRE(t, lx_chunk_plan(w, strlen(w), 4, 0, count_cps, NULL, &c, &n, NULL) == LEXIE_OK);
    LX_REQUIRE(t, n == 4);
    size_t want[][2] = {{0, 4}, {4, 8}, {8, 11}, {11, 13}};
    for (int i = 0; i < 4; i++)
        LX_CHECK(t, c[i].byte_start == want[i][0] && c[i].byte_end == want[i][1]);
    free(c);
    /* The same for Chinese: 3 bytes per code point, cut on code points. */
    const char *zh = "\xe5\x8c\x97\xe4\xba\xac\xe6\x98\xaf\xe4\xb8\xad\xe5\x9b\xbd\xe7\x9a\x84"
                     "\xe9\xa6\x96\xe9\x83\xbd"; /* 北京是中国的首都 */
    LX_REQUIRE(t, lx_chunk_plan(zh, strlen(zh), 3, 0, count_cps, NULL, &c, &n, NULL) == LEXIE_OK);
    LX_REQUIRE(t, n == 3);
    for (int i = 0; i < 3; i++) {
        LX_CHECK_INT(t, c[i].cp_start, 3 * i);
        LX_CHECK_INT(t, c[i].byte_start, 9 * i);
        LX_CHECK_INT(t, c[i].cp_end, LX_MIN(3 * i + 3, 8));
    }
    free(c);
}

static void test_cjk_and_newlines(lx_t *t) {
    /* 我爱北京。你好！再见？ : sentences of 5, 3 and 3 code points. */
    const char *zh = "\xe6\x88\x91\xe7\x88\xb1\xe5\x8c\x97\xe4\xba\xac\xe3\x80\x82\xe4\xbd\xa0"
                     "\xe5\xa5\xbd\xef\xbc\x81\xe5\x86\x8d\xe8\xa7\x81\xef\xbc\x9f";
    lx_chunk *c;
    int n;
    LX_REQUIRE(t, lx_chunk_plan(zh, strlen(zh), 5, 0, count_cps, NULL, &c, &n, NULL) == LEXIE_OK);
    LX_REQUIRE(t, n == 3);
    LX_CHECK(t, c[0].byte_end == 15 && c[0].cp_end == 5);
    LX_CHECK(t, c[1].byte_start == 15 && c[1].cp_start == 5 && c[1].cp_end == 8);
    LX_CHECK(t, c[2].cp_start == 8 && c[2].cp_end == 11 && c[2].byte_end == strlen(zh));
    free(c);
    const char *lines = "line one\nline two\n\nline three";
    LX_REQUIRE(t, lx_chunk_plan(lines, strlen(lines), 2, 0, count_words, NULL, &c, &n, NULL) ==
                      LEXIE_OK);
    check_plan(t, lines, c, n, 2);
    LX_REQUIRE(t, n == 3);
    LX_CHECK_INT(t, c[1].byte_start, at(lines, "line two"));
    LX_CHECK_INT(t, c[2].byte_start, at(lines, "line three"));
    free(c);
}

static void test_errors(lx_t *t) {
    lx_chunk *c = (lx_chunk *)1;
    int n = 7;
    lexie_error e;
    LX_CHECK(t, lx_chunk_plan("a b", 3, 0, 0, count_words, NULL, &c, &n, &e) == LEXIE_E_INVALID);
    LX_CHECK(t, c == NULL && n == 0);
    LX_CHECK(t, lx_chunk_plan("a b", 3, 2, -1, count_words, NULL, &c, &n, &e) == LEXIE_E_INVALID);
    LX_CHECK(t, lx_chunk_plan("a b", 3, 2, 0, NULL, NULL, &c, &n, &e) == LEXIE_E_INVALID);
    LX_CHECK(t, lx_chunk_plan("a \xff", 3, 2, 0, count_words, NULL, &c, &n, &e) == LEXIE_E_UTF8);
    LX_CHECK(t, lx_chunk_plan("a b", 3, 2, 0, count_fail, NULL, &c, &n, &e) == LEXIE_E_RANGE);
    LX_CHECK(t, strcmp(e.message, "counter says no") == 0);
    /* Every code point counts 5 > 4: refused, not truncated. */
    LX_CHECK(t, lx_chunk_plan("ab", 2, 4, 0, count_five, NULL, &c, &n, &e) == LEXIE_E_RANGE);
    LX_CHECK(t, strstr(e.message, "byte 0") != NULL);
    LX_CHECK(t, c == NULL && n == 0);
}

/* Mentions grounded per chunk and shifted agree with grounding the whole
** document, and the overlap's duplicates go. */
static void test_merge_across_chunks(lx_t *t) {
    const char *text = "F\xc3\xbcr Paris und Berlin. Ich liebe Paris sehr. "
                       "Paris ist sch\xc3\xb6n. Berlin auch.";
    lx_chunk *c;
    int n;
    LX_REQUIRE(t, lx_chunk_plan(text, strlen(text), 8, 1, count_words, NULL, &c, &n, NULL) ==
                      LEXIE_OK);
    check_plan(t, text, c, n, 8);
    LX_REQUIRE(t, n == 3);
    lexie_mention ms[32];
    int nm = 0;
    const char *names[] = {"Paris", "Berlin"};
    for (int i = 0; i < n; i++) {
        lx_grounder *g =
            lx_grounder_new(text + c[i].byte_start, c[i].byte_end - c[i].byte_start, NULL, NULL);
        LX_REQUIRE(t, g);
        for (int k = 0; k < 2; k++)
            for (int rep = 0; rep < 2; rep++) { /* the model lists each name it sees twice */
                const char *chunk = text + c[i].byte_start;
                char *in = strstr(chunk, names[k]);
                if (!in || in + strlen(names[k]) > text + c[i].byte_end) continue;
                lexie_mention *m = &ms[nm++];
                memset(m, 0, sizeof *m);
                LX_CHECK(t, lx_ground(g, names[k], strlen(names[k]), m, NULL) == LEXIE_OK);
                m->type = strdup(k ? "LOC" : "CITY");
                m->confidence = 0.5f + 0.01f * nm;
                lx_mention_shift(m, (long)c[i].byte_start, c[i].cp_start);
            }
        lx_grounder_free(g);
    }
    int remap[32];
    LX_REQUIRE(t, lx_mentions_dedupe(ms, &nm, remap, NULL) == LEXIE_OK);
    /* Paris at code points 4, 32, 44; Berlin at 14 and 61 (bytes: one
    ** more after "ü", two after "ö"). */
    int want[][3] = {{4, 9, 5}, {32, 37, 33}, {14, 20, 15}, {44, 49, 45}, {61, 67, 63}};
    LX_REQUIRE(t, nm == 5);
    for (int i = 0; i < nm; i++) {
        LX_CHECK_MSG(t, ms[i].start == want[i][0] && ms[i].end == want[i][1], "mention %d: [%d,%d)",
                     i, ms[i].start, ms[i].end);
        LX_CHECK(t, ms[i].match == LEXIE_MATCH_EXACT);
        /* Byte offsets point at the same text in the document. */
        LX_CHECK(t, strncmp(text + ms[i].byte_start, ms[i].text,
                            (size_t)(ms[i].byte_end - ms[i].byte_start)) == 0);
        LX_CHECK_INT(t, ms[i].byte_start, want[i][2]);
        lexie_mention_clear(&ms[i]);
    }
    free(c);
}

static lexie_mention mk(const char *type, int s, int e, const char *model, float conf) {
    lexie_mention m;
    memset(&m, 0, sizeof m);
    m.type = type ? strdup(type) : NULL;
    m.start = s, m.end = e, m.byte_start = s, m.byte_end = e;
    m.match = s < 0 ? LEXIE_MATCH_NONE : LEXIE_MATCH_EXACT;
    m.text = s < 0 ? NULL : strdup("x");
    m.model_text = model ? strdup(model) : NULL;
    m.confidence = conf;
    return m;
}

static void test_dedupe(lx_t *t) {
    lexie_mention ms[] = {mk("PER", 0, 5, NULL, 0.5f),       mk("LOC", 0, 5, NULL, 0.7f),
                          mk("LOC", 0, 5, NULL, 0.9f),       mk("LOC", -1, -1, "Berlin", 0.3f),
                          mk("LOC", -1, -1, "Berlin", 0.8f), mk("LOC", 10, 15, NULL, 0.6f),
                          mk("LOC", -1, -1, "Bonn", 0.1f)};
    int n = 7, remap[7];
    LX_REQUIRE(t, lx_mentions_dedupe(ms, &n, remap, NULL) == LEXIE_OK);
    LX_REQUIRE(t, n == 5);
    LX_CHECK(t, strcmp(ms[0].type, "PER") == 0 && ms[0].start == 0);
    LX_CHECK(t, strcmp(ms[1].type, "LOC") == 0 && ms[1].start == 0 && ms[1].confidence == 0.9f);
    LX_CHECK(t, ms[2].start == -1 && strcmp(ms[2].model_text, "Berlin") == 0 &&
                    ms[2].confidence == 0.8f);
    LX_CHECK(t, ms[3].start == 10 && ms[4].start == -1 && strcmp(ms[4].model_text, "Bonn") == 0);
    int want[] = {0, 1, 1, 2, 2, 3, 4};
    for (int i = 0; i < 7; i++) LX_CHECK_INT(t, remap[i], want[i]);
    for (int i = 0; i < n; i++) lexie_mention_clear(&ms[i]);
    /* Shifting leaves NONE alone. */
    lexie_mention a = mk("X", 2, 4, NULL, 1), b = mk("X", -1, -1, "q", 1);
    lx_mention_shift(&a, 10, 7);
    lx_mention_shift(&b, 10, 7);
    LX_CHECK(t, a.start == 9 && a.end == 11 && a.byte_start == 12 && a.byte_end == 14);
    LX_CHECK(t, b.start == -1 && b.byte_start == -1);
    lexie_mention_clear(&a);
    lexie_mention_clear(&b);
}

static void test_dedupe_others(lx_t *t) {
    lexie_triple ts[3];
    memset(ts, 0, sizeof ts);
    for (int i = 0; i < 3; i++) {
        ts[i].subject = mk("subject", 0, 3, NULL, 1);
        ts[i].relation = mk("relation", 4, 8, NULL, 1);
        ts[i].object = mk("object", i == 2 ? 20 : 9, 12, NULL, 1);
        ts[i].confidence = 0.1f * (float)(i + 1);
    }
    ts[0].time = malloc(sizeof *ts[0].time);
    *ts[0].time = mk("time", 13, 15, NULL, 1);
    int n = 3;
    LX_REQUIRE(t, lx_triples_dedupe(ts, &n, NULL) == LEXIE_OK);
    LX_REQUIRE(t, n == 2);
    LX_CHECK(t, ts[0].confidence == 0.2f && ts[0].time == NULL && ts[1].object.start == 20);
    for (int i = 0; i < n; i++) {
        lexie_extraction x = {0};
        x.triples = malloc(sizeof *x.triples);
        x.triples[0] = ts[i];
        x.n_triples = 1;
        lexie_extraction_clear(&x);
    }
    lexie_event es[2];
    memset(es, 0, sizeof es);
    for (int i = 0; i < 2; i++) {
        es[i].trigger = mk("Attack", 5, 9, NULL, 1);
        es[i].args = calloc(1, sizeof *es[i].args);
        es[i].args[0] = mk("Target", 0, 4, NULL, 1);
        es[i].n_args = 1;
        es[i].confidence = i ? 0.9f : 0.4f;
    }
    n = 2;
    LX_REQUIRE(t, lx_events_dedupe(es, &n, NULL) == LEXIE_OK);
    LX_CHECK(t, n == 1 && es[0].confidence == 0.9f);
    lexie_extraction x = {0};
    x.events = malloc(sizeof *x.events);
    x.events[0] = es[0];
    x.n_events = 1;
    lexie_extraction_clear(&x);
    lexie_relation rs[] = {{0, 1, strdup("born_in"), 0.3f},
                           {0, 1, strdup("lives_in"), 0.5f},
                           {0, 1, strdup("born_in"), 0.6f}};
    n = 3;
    LX_REQUIRE(t, lx_relations_dedupe(rs, &n, NULL) == LEXIE_OK);
    LX_CHECK(t, n == 2 && strcmp(rs[0].label, "born_in") == 0 && rs[0].confidence == 0.6f);
    for (int i = 0; i < n; i++) free(rs[i].label);
    n = 0;
    LX_CHECK(t, lx_relations_dedupe(NULL, &n, NULL) == LEXIE_OK);
    LX_CHECK(t, lx_relations_dedupe(rs, NULL, NULL) == LEXIE_E_INVALID);
}

/* Every allocation of a plan and a de-duplication fails in turn: an
** error, nothing leaked, nothing half-changed. */
static void test_chunk_alloc_failures(lx_t *t) {
    const char *text = "S0 a b. S1 c d. S2 e f. A very long sentence without any end at all here";
    for (long k = 1; k < 100; k++) {
        lx_alloc_begin(k, 0);
        lx_chunk *c = NULL;
        int n = 0, failed;
        lexie_error e;
        lexie_status st = lx_chunk_plan(text, strlen(text), 4, 1, count_words, NULL, &c, &n, &e);
        LX_CHECK(t, st == LEXIE_OK || (st == LEXIE_E_NOMEM && !c && n == 0));
        free(c);
        long n_allocs, leaks = lx_alloc_end(&n_allocs, &failed);
        LX_CHECK_MSG(t, leaks == 0, "fail_at %ld: %ld leaked", k, leaks);
        if (!failed) {
            LX_CHECK(t, st == LEXIE_OK && n == 6);
            break;
        }
    }
    lexie_mention ms[] = {mk("A", 0, 1, NULL, 0.1f), mk("A", 0, 1, NULL, 0.2f)};
    int n = 2;
    lx_alloc_begin(1, 0);
    LX_CHECK(t, lx_mentions_dedupe(ms, &n, NULL, NULL) == LEXIE_E_NOMEM);
    long n_allocs;
    int failed;
    lx_alloc_end(&n_allocs, &failed);
    LX_CHECK(t, failed && n == 2 && ms[0].confidence == 0.1f && ms[1].type != NULL);
    LX_CHECK(t, lx_mentions_dedupe(ms, &n, NULL, NULL) == LEXIE_OK && n == 1);
    lexie_mention_clear(&ms[0]);
}

void suite_chunk(void) {
    LX_RUN(test_whole_and_empty);
    LX_RUN(test_abbreviations);
    LX_RUN(test_sentences);
    LX_RUN(test_overlap);
    LX_RUN(test_long_sentence);
    LX_RUN(test_cjk_and_newlines);
    LX_RUN(test_errors);
    LX_RUN(test_merge_across_chunks);
    LX_RUN(test_dedupe);
    LX_RUN(test_dedupe_others);
    LX_RUN(test_chunk_alloc_failures);
}
