/*
** test_ground.c -- grounding model strings to the input (src/ie/ground.c):
** exact, normalised (case, whitespace, compatibility forms, combining
** marks), fuzzy with a typo, NONE; repeated mentions mapped to successive
** occurrences, overlaps, word boundaries; non-ASCII text with code-point
** and byte offsets checked; bad input and allocation failures.
*/
#include "alloc_fail.h"
#include "ie/ground.h"
#include "lx_test.h"

#include <stdlib.h>
#include <string.h>

typedef struct want {
    lexie_match match;
    int start, end;
    long byte_start, byte_end;
    const char *text;       /* NULL: none */
    const char *model_text; /* NULL: none */
} want;

static int str_eq(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Grounds needle in g and checks every field against w. */
static void check(lx_t *t, lx_grounder *g, const char *needle, want w, int line) {
    lexie_mention m;
    lexie_error e;
    memset(&m, 0, sizeof m);
    lexie_status st = lx_ground(g, needle, strlen(needle), &m, &e);
    LX_CHECK_MSG(t, st == LEXIE_OK, "line %d: status %d", line, (int)st);
    LX_CHECK_MSG(t,
                 m.match == w.match && m.start == w.start && m.end == w.end &&
                     m.byte_start == w.byte_start && m.byte_end == w.byte_end,
                 "line %d: '%s' gave %s [%d,%d) bytes [%ld,%ld), wanted %s [%d,%d) [%ld,%ld)", line,
                 needle, lexie_match_name(m.match), m.start, m.end, m.byte_start, m.byte_end,
                 lexie_match_name(w.match), w.start, w.end, w.byte_start, w.byte_end);
    LX_CHECK_MSG(t, str_eq(m.text, w.text), "line %d: text '%s', wanted '%s'", line,
                 m.text ? m.text : "(null)", w.text ? w.text : "(null)");
    LX_CHECK_MSG(t, str_eq(m.model_text, w.model_text), "line %d: model_text '%s', wanted '%s'",
                 line, m.model_text ? m.model_text : "(null)",
                 w.model_text ? w.model_text : "(null)");
    if (w.match == LEXIE_MATCH_EXACT || w.match == LEXIE_MATCH_NORMALIZED)
        LX_CHECK_MSG(t, m.match_score == 1.0f, "line %d: score %g", line, (double)m.match_score);
    if (w.match == LEXIE_MATCH_NONE)
        LX_CHECK_MSG(t, m.match_score == 0.0f, "line %d: score %g", line, (double)m.match_score);
    lexie_mention_clear(&m);
}

#define CHECK(g, needle, ...) check(t, g, needle, (want){__VA_ARGS__}, __LINE__)
#define NONE_OF(s) LEXIE_MATCH_NONE, -1, -1, -1, -1, NULL, s

static lx_grounder *make(lx_t *t, const char *text) {
    lexie_error e;
    lx_grounder *g = lx_grounder_new(text, strlen(text), NULL, &e);
    LX_CHECK_MSG(t, g != NULL, "grounder_new: %s", e.message);
    return g;
}

static void test_exact_and_repeats(lx_t *t) {
    lx_grounder *g = make(t, "Paris is big. I love Paris. Paris!");
    LX_REQUIRE(t, g);
    LX_CHECK_INT(t, lx_grounder_n_cp(g), 34);
    CHECK(g, "Paris", LEXIE_MATCH_EXACT, 0, 5, 0, 5, "Paris", NULL);
    CHECK(g, "Paris", LEXIE_MATCH_EXACT, 21, 26, 21, 26, "Paris", NULL);
    CHECK(g, " Paris ", LEXIE_MATCH_EXACT, 28, 33, 28, 33, "Paris", NULL);
    /* All three claimed: the first again. */
    CHECK(g, "Paris", LEXIE_MATCH_EXACT, 0, 5, 0, 5, "Paris", NULL);
    lx_grounder_reset_claims(g);
    CHECK(g, "\"Paris\"", LEXIE_MATCH_EXACT, 0, 5, 0, 5, "Paris", NULL);
    /* From a position, wrapping around. */
    lexie_mention m = {0};
    LX_CHECK(t, lx_ground_from(g, "Paris", 5, 22, &m, NULL) == LEXIE_OK);
    LX_CHECK_INT(t, m.start, 28); /* 21 starts before 22 */
    lexie_mention_clear(&m);
    LX_CHECK(t, lx_ground_from(g, "Paris", 5, 29, &m, NULL) == LEXIE_OK);
    LX_CHECK_INT(t, m.start, 21); /* 0 and 28 are claimed; wraps to 21 */
    lexie_mention_clear(&m);
    lx_grounder_free(g);
}

static void test_words_and_overlaps(lx_t *t) {
    lx_grounder *g = make(t, "Parisian food. New York City is in New York.");
    LX_REQUIRE(t, g);
    /* Only inside "Parisian": still an exact occurrence. */
    CHECK(g, "Paris", LEXIE_MATCH_EXACT, 0, 5, 0, 5, "Paris", NULL);
    lx_grounder_free(g);
    g = make(t, "Parisian food in Paris. New York City is in New York.");
    LX_REQUIRE(t, g);
    /* The word first, then the inside of "Parisian". */
    CHECK(g, "Paris", LEXIE_MATCH_EXACT, 17, 22, 17, 22, "Paris", NULL);
    CHECK(g, "Paris", LEXIE_MATCH_EXACT, 0, 5, 0, 5, "Paris", NULL);
    CHECK(g, "New York City", LEXIE_MATCH_EXACT, 24, 37, 24, 37, "New York City", NULL);
    /* Inside a claimed longer span is fine: a different span. */
    CHECK(g, "New York", LEXIE_MATCH_EXACT, 24, 32, 24, 32, "New York", NULL);
    CHECK(g, "New York", LEXIE_MATCH_EXACT, 44, 52, 44, 52, "New York", NULL);
    CHECK(g, "York", LEXIE_MATCH_EXACT, 28, 32, 28, 32, "York", NULL);
    lx_grounder_free(g);
}

static void test_normalized(lx_t *t) {
    lx_grounder *g =
        make(t, "the  NEW\n york times. Visit New York. \xef\xac\x81nance in the Stra\xc3\x9f"
                "e");
    LX_REQUIRE(t, g);
    /* Case and a whitespace run (two spaces, newline + space). */
    CHECK(g, "new york", LEXIE_MATCH_NORMALIZED, 5, 14, 5, 14, "NEW\n york", "new york");
    CHECK(g, "The New  York", LEXIE_MATCH_NORMALIZED, 0, 14, 0, 14, "the  NEW\n york",
          "The New  York");
    /* Quotes and spaces around are ignored: exact, and no model_text. */
    CHECK(g, " 'New York' ", LEXIE_MATCH_EXACT, 28, 36, 28, 36, "New York", NULL);
    /* Compatibility forms: the ligature U+FB01 (1 code point, 3 bytes). */
    CHECK(g, "Finance", LEXIE_MATCH_NORMALIZED, 38, 44, 38, 46, "\xef\xac\x81nance", "Finance");
    /* Case folding: sharp s is "ss". */
    CHECK(g, "STRASSE", LEXIE_MATCH_NORMALIZED, 52, 58, 54, 61,
          "Stra\xc3\x9f"
          "e",
          "STRASSE");
    lx_grounder_free(g);
}

static void test_cjk(lx_t *t) {
    /* 北京是中国的首都。我爱北京！: each character 3 bytes. */
    lx_grounder *g = make(t, "\xe5\x8c\x97\xe4\xba\xac\xe6\x98\xaf\xe4\xb8\xad\xe5\x9b\xbd\xe7\x9a"
                             "\x84\xe9\xa6\x96\xe9\x83\xbd\xe3\x80\x82\xe6\x88\x91\xe7\x88\xb1"
                             "\xe5\x8c\x97\xe4\xba\xac\xef\xbc\x81");
    LX_REQUIRE(t, g);
    const char *beijing = "\xe5\x8c\x97\xe4\xba\xac";
    CHECK(g, beijing, LEXIE_MATCH_EXACT, 0, 2, 0, 6, beijing, NULL);
    CHECK(g, beijing, LEXIE_MATCH_EXACT, 11, 13, 33, 39, beijing, NULL);
    CHECK(g, "\xe4\xb8\xad\xe5\x9b\xbd", LEXIE_MATCH_EXACT, 3, 5, 9, 15, "\xe4\xb8\xad\xe5\x9b\xbd",
          NULL);
    /* Full-width Latin is normalised to ASCII and back. */
    lx_grounder_free(g);
    g = make(t, "\xef\xbc\xa9\xef\xbc\xA2\xef\xbc\xad \xe5\x85\xac\xe5\x8f\xb8"); /* ＩＢＭ 公司 */
    LX_REQUIRE(t, g);
    CHECK(g, "IBM", LEXIE_MATCH_NORMALIZED, 0, 3, 0, 9, "\xef\xbc\xa9\xef\xbc\xA2\xef\xbc\xad",
          "IBM");
    lx_grounder_free(g);
}

static void test_accents_and_marks(lx_t *t) {
    /* Precomposed: "Café Müller in Zürich" (é, ü, ü are 2 bytes each). */
    lx_grounder *g = make(t, "Caf\xc3\xa9 M\xc3\xbcller in Z\xc3\xbcrich");
    LX_REQUIRE(t, g);
    CHECK(g, "M\xc3\xbcller", LEXIE_MATCH_EXACT, 5, 11, 6, 13, "M\xc3\xbcller", NULL);
    CHECK(g, "z\xc3\xbcrich", LEXIE_MATCH_NORMALIZED, 15, 21, 17, 24, "Z\xc3\xbcrich",
          "z\xc3\xbcrich");
    /* Without the umlaut: fuzzy, 1 - 1/6. */
    lexie_mention m = {0};
    LX_REQUIRE(t, lx_ground(g, "Zurich", 6, &m, NULL) == LEXIE_OK);
    LX_CHECK(t, m.match == LEXIE_MATCH_FUZZY && m.start == 15 && m.end == 21);
    LX_CHECK(t, m.byte_start == 17 && m.byte_end == 24 && str_eq(m.text, "Z\xc3\xbcrich"));
    LX_CHECK_CLOSE(t, m.match_score, 1.0 - 1.0 / 6, 1e-6);
    lexie_mention_clear(&m);
    lx_grounder_free(g);
    /* Decomposed: "Cafe" + U+0301 (5 code points, 6 bytes). */
    g = make(t, "Cafe\xcc\x81 society");
    LX_REQUIRE(t, g);
    CHECK(g, "caf\xc3\xa9", LEXIE_MATCH_NORMALIZED, 0, 5, 0, 6, "Cafe\xcc\x81", "caf\xc3\xa9");
    /* "Cafe" occurs as bytes but would split the accent from its letter;
    ** the fuzzy score 1 - 1/4 is under 0.8. */
    CHECK(g, "Cafe", NONE_OF("Cafe"));
    lx_grounder_free(g);
}

static void test_emoji(lx_t *t) {
    /* "I ❤️ NY 🗽 and 👨‍👩‍👧 family": ❤ + U+FE0F; a ZWJ family of 5 code
     * points.
     */
    lx_grounder *g = make(t, "I \xe2\x9d\xa4\xef\xb8\x8f NY \xf0\x9f\x97\xbd and "
                             "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91"
                             "\xa7 family");
    LX_REQUIRE(t, g);
    CHECK(g, "\xf0\x9f\x97\xbd", LEXIE_MATCH_EXACT, 8, 9, 12, 16, "\xf0\x9f\x97\xbd", NULL);
    CHECK(g, "NY", LEXIE_MATCH_EXACT, 5, 7, 9, 11, "NY", NULL);
    CHECK(g, "family", LEXIE_MATCH_EXACT, 20, 26, 40, 46, "family", NULL);
    /* Without its variation selector: normalised, the slice keeps it. */
    CHECK(g, "\xe2\x9d\xa4", LEXIE_MATCH_NORMALIZED, 2, 4, 2, 8, "\xe2\x9d\xa4\xef\xb8\x8f",
          "\xe2\x9d\xa4");
    /* One person of the family is inside a cluster: not found. */
    CHECK(g, "\xf0\x9f\x91\xa8", NONE_OF("\xf0\x9f\x91\xa8"));
    CHECK(g,
          "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91"
          "\xa7",
          LEXIE_MATCH_EXACT, 14, 19, 21, 39,
          "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91"
          "\xa7",
          NULL);
    lx_grounder_free(g);
}

static void test_fuzzy(lx_t *t) {
    lx_grounder *g = make(t, "The patient took ibuprofen daily. He lives in New York now.");
    LX_REQUIRE(t, g);
    lexie_mention m = {0};
    LX_REQUIRE(t, lx_ground(g, "ibuprofin", 9, &m, NULL) == LEXIE_OK);
    LX_CHECK(t, m.match == LEXIE_MATCH_FUZZY && m.start == 17 && m.end == 26);
    LX_CHECK(t, str_eq(m.text, "ibuprofen") && str_eq(m.model_text, "ibuprofin"));
    LX_CHECK_CLOSE(t, m.match_score, 1.0 - 1.0 / 9, 1e-6);
    lexie_mention_clear(&m);
    /* A missing letter: "ibuprofe" and "ibuprofen" are both at distance 1;
    ** the end is snapped to the word's end. */
    LX_REQUIRE(t, lx_ground(g, "ibuprofn", 8, &m, NULL) == LEXIE_OK);
    LX_CHECK(t, m.match == LEXIE_MATCH_FUZZY && m.start == 17 && m.end == 26);
    LX_CHECK_CLOSE(t, m.match_score, 1.0 - 1.0 / 8, 1e-6);
    lexie_mention_clear(&m);
    CHECK(g, "Ney York", LEXIE_MATCH_FUZZY, 46, 54, 46, 54, "New York", "Ney York");
    CHECK(g, "Berlin", NONE_OF("Berlin"));
    lx_grounder_free(g);
    /* A repeated misspelling maps to both occurrences, then the first. */
    g = make(t, "Take ibuprofen at noon; ibuprofen again at night.");
    LX_REQUIRE(t, g);
    CHECK(g, "ibuprofin", LEXIE_MATCH_FUZZY, 5, 14, 5, 14, "ibuprofen", "ibuprofin");
    CHECK(g, "ibuprofin", LEXIE_MATCH_FUZZY, 24, 33, 24, 33, "ibuprofen", "ibuprofin");
    CHECK(g, "ibuprofin", LEXIE_MATCH_FUZZY, 5, 14, 5, 14, "ibuprofen", "ibuprofin");
    lx_grounder_free(g);
    g = make(t, "He lives in New York now.");
    LX_REQUIRE(t, g);
    /* Two edits in eight: 0.75 < 0.8. */
    CHECK(g, "New Yrok", NONE_OF("New Yrok"));
    lx_grounder_free(g);
    /* The floor is a parameter; fuzzy can be bounded away. */
    lx_ground_params p = lx_ground_default_params();
    const char *text = "He lives in New York now.";
    p.fuzzy_min = 0.7f;
    g = lx_grounder_new(text, strlen(text), &p, NULL);
    LX_REQUIRE(t, g);
    CHECK(g, "New Yrok", LEXIE_MATCH_FUZZY, 12, 20, 12, 20, "New York", "New Yrok");
    lx_grounder_free(g);
    p = lx_ground_default_params();
    p.fuzzy_max_needle = 4;
    g = lx_grounder_new(text, strlen(text), &p, NULL);
    LX_REQUIRE(t, g);
    CHECK(g, "Ney York", NONE_OF("Ney York"));
    CHECK(g, "New York", LEXIE_MATCH_EXACT, 12, 20, 12, 20, "New York", NULL);
    lx_grounder_free(g);
    p = lx_ground_default_params();
    p.fuzzy_max_cells = 50; /* 8 x 25 cells is over */
    g = lx_grounder_new(text, strlen(text), &p, NULL);
    LX_REQUIRE(t, g);
    CHECK(g, "Ney York", NONE_OF("Ney York"));
    lx_grounder_free(g);
}

static void test_none_and_errors(lx_t *t) {
    lx_grounder *g = make(t, "Paris is big.");
    LX_REQUIRE(t, g);
    CHECK(g, "", NONE_OF(""));
    CHECK(g, "  ", NONE_OF("  "));
    CHECK(g, "\"\"", NONE_OF("\"\""));
    lexie_mention m = {0};
    lexie_error e;
    LX_CHECK(t, lx_ground(g, "Par\xc3", 4, &m, &e) == LEXIE_E_UTF8);
    LX_CHECK(t, m.match == LEXIE_MATCH_NONE && !m.text && !m.model_text && m.start == -1);
    LX_CHECK(t, strstr(e.message, "byte 3") != NULL);
    LX_CHECK(t, lx_ground(NULL, "a", 1, &m, &e) == LEXIE_E_INVALID);
    LX_CHECK(t, lx_ground(g, NULL, 1, &m, &e) == LEXIE_E_INVALID);
    LX_CHECK(t, lx_ground(g, "a", 1, NULL, &e) == LEXIE_E_INVALID);
    /* Not NUL-terminated: only n bytes count. */
    LX_CHECK(t, lx_ground(g, "is bigger", 6, &m, &e) == LEXIE_OK);
    LX_CHECK(t, m.match == LEXIE_MATCH_EXACT && m.start == 6 && m.end == 12);
    lexie_mention_clear(&m);
    lx_grounder_free(g);
    LX_CHECK(t, lx_grounder_new("ab\xff", 3, NULL, &e) == NULL && e.code == LEXIE_E_UTF8);
    LX_CHECK(t, lx_grounder_new(NULL, 3, NULL, &e) == NULL && e.code == LEXIE_E_INVALID);
    /* An empty document grounds nothing. */
    g = lx_grounder_new("", 0, NULL, &e);
    LX_REQUIRE(t, g);
    CHECK(g, "x", NONE_OF("x"));
    lx_grounder_free(g);
    lx_grounder_free(NULL);
}

/* Every allocation of a grounder and of its calls fails in turn: an error
** comes back, nothing leaks, and the next run succeeds. */
static void test_ground_alloc_failures(lx_t *t) {
    const char *text = "Caf\xc3\xa9 in Paris, near the NEW York office of ibuprofen.";
    const char *needles[] = {"Paris", "new york", "ibuprofin", "Berlin"};
    for (long k = 1; k < 200; k++) {
        lx_alloc_begin(k, 0);
        lexie_error e;
        int ok = 1;
        lx_grounder *g = lx_grounder_new(text, strlen(text), NULL, &e);
        if (g)
            for (size_t i = 0; i < LX_ARRAY_LEN(needles); i++) {
                lexie_mention m = {0};
                if (lx_ground(g, needles[i], strlen(needles[i]), &m, &e) != LEXIE_OK) {
                    LX_CHECK(t, e.code == LEXIE_E_NOMEM && !m.text && !m.model_text);
                    ok = 0;
                }
                lexie_mention_clear(&m);
            }
        else
            LX_CHECK(t, e.code == LEXIE_E_NOMEM);
        lx_grounder_free(g);
        long n_allocs;
        int failed;
        long leaks = lx_alloc_end(&n_allocs, &failed);
        LX_CHECK_MSG(t, leaks == 0, "fail_at %ld: %ld blocks leaked", k, leaks);
        if (!failed) {
            LX_CHECK(t, g != NULL && ok);
            break;
        }
    }
}

void suite_ground(void) {
    LX_RUN(test_exact_and_repeats);
    LX_RUN(test_words_and_overlaps);
    LX_RUN(test_normalized);
    LX_RUN(test_cjk);
    LX_RUN(test_accents_and_marks);
    LX_RUN(test_emoji);
    LX_RUN(test_fuzzy);
    LX_RUN(test_none_and_errors);
    LX_RUN(test_ground_alloc_failures);
}
