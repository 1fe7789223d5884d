/*
** test_grammar.c -- the constrained decoder (src/grammar): JSON Schema
** keywords with accepted and rejected instances, refused keywords with
** their pointer, GBNF parsing and matching, token masks on a tiny
** fixture vocabulary (checked token by token against committing), tokens
** that span elements, closing budgets, and masks over the default model's
** real vocabulary when it is present.  The fast mask paths (any-character
** loops of unanchored patterns, plain tokens by length near string length
** bounds, caches) are checked against an exact matcher that walks the
** whole trie, on the same tokens, step by step.
*/
#include "grammar/grammar.h"
#include "lexie.h"
#include "lx_test.h"

#include <stdlib.h>
#include <string.h>

/* ==== A tiny vocabulary: every byte, some multi-byte pieces, one EOS ==== */

static const char *const EXTRA[] = {"{\"",  "\",",  "\"}",      "\": ", "\": \"", ", \"",
                                    "true", "null", "\xc3\xa9", "ab",   "abc",    "12",
                                    "e+",   "\"]",  "[\"",      "}}",   "]}",     "\\u00"};
#define N_EXTRA ((int)(sizeof EXTRA / sizeof EXTRA[0]))
#define TOK_EOS (256 + N_EXTRA)
#define N_TINY (TOK_EOS + 2) /* + one control token with no bytes */

static lexie_grammar_vocab *tiny_vocab(void) {
    static char bytes[256];
    const char *pieces[N_TINY];
    int lens[N_TINY];
    for (int i = 0; i < 256; i++) {
        bytes[i] = (char)i;
        pieces[i] = &bytes[i];
        lens[i] = 1;
    }
    for (int i = 0; i < N_EXTRA; i++) {
        pieces[256 + i] = EXTRA[i];
        lens[256 + i] = (int)strlen(EXTRA[i]);
    }
    pieces[TOK_EOS] = "";
    lens[TOK_EOS] = 0;
    pieces[TOK_EOS + 1] = "";
    lens[TOK_EOS + 1] = 0;
    int eos = TOK_EOS;
    lexie_error e;
    return lexie_grammar_vocab_from_pieces(N_TINY, pieces, lens, &eos, 1, &e);
}

static int tok_of(const char *s) {
    if (strlen(s) == 1) return (unsigned char)s[0];
    for (int i = 0; i < N_EXTRA; i++)
        if (!strcmp(EXTRA[i], s)) return 256 + i;
    return -1;
}

/* 1 when the whole text is a sentence of g. */
static int accepts(const lexie_grammar *g, const lexie_grammar_vocab *v, const char *text) {
    lexie_error e;
    lexie_matcher *m = lexie_matcher_new(g, v, &e);
    if (!m) return -1;
    int ok = lexie_matcher_accept_bytes(m, text, strlen(text)) && lexie_matcher_is_accepting(m);
    lexie_matcher_free(m);
    return ok;
}

typedef struct cases {
    const char *schema;
    const char *const *good;
    const char *const *bad;
} cases;

static void run_cases(lx_t *t, const char *schema, const char *const *good,
                      const char *const *bad) {
    lexie_error e;
    lexie_grammar_vocab *v = tiny_vocab();
    LX_REQUIRE(t, v);
    lexie_grammar *g = lexie_grammar_from_json_schema(schema, strlen(schema), NULL, &e);
    LX_CHECK_MSG(t, g != NULL, "%s: %s", schema, e.message);
    if (g) {
        for (int i = 0; good[i]; i++)
            LX_CHECK_MSG(t, accepts(g, v, good[i]) == 1, "%s: should accept %s", schema, good[i]);
        for (int i = 0; bad[i]; i++)
            LX_CHECK_MSG(t, accepts(g, v, bad[i]) == 0, "%s: should reject %s", schema, bad[i]);
    }
    lexie_grammar_free(g);
    lexie_grammar_vocab_free(v);
}

#define CASES(t, schema, ...)                                                                      \
    do {                                                                                           \
        const char *const *lists_[2] = {__VA_ARGS__};                                              \
        run_cases(t, schema, lists_[0], lists_[1]);                                                \
    } while (0)
#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

/* ==== Scalars ==== */

static void test_types(lx_t *t) {
    CASES(
        t, "{\"type\": \"string\"}",
        L("\"\"", "\"abc\"", "\"\xc3\xa9\xe2\x82\xac\"", "\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\""),
        L("abc", "\"abc", "\"a\"b\"", "\"\\x\"", "\"\x01\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "1"));
    CASES(t, "{\"type\": \"integer\"}", L("0", "-7", "123456789012"),
          L("01", "1.5", "-", "1e3", "\"1\"", "+1", "-0x"));
    CASES(t, "{\"type\": \"number\"}", L("0", "-0.5", "1.25e-7", "6.02E+23", "1e400", "10"),
          L(".5", "1.", "1e", "01.5", "--1", "1.5.2", "NaN"));
    CASES(t, "{\"type\": \"boolean\"}", L("true", "false"), L("True", "1", "null", "tru"));
    CASES(t, "{\"type\": \"null\"}", L("null"), L("nul", "0", "\"null\""));
    CASES(t, "{\"type\": [\"string\", \"null\"]}", L("null", "\"x\""), L("1", "true"));
    CASES(t, "{}", L("1", "\"x\"", "{\"a\": [1, {\"b\": null}]}", "[]", "true"),
          L("{a: 1}", "[1,]", "{\"a\" 1}"));
    CASES(t, "true", L("1", "[]"), L("x"));
    CASES(t, "false", NONE, L("1", "null", "\"\""));
}

static void test_numbers(lx_t *t) {
    CASES(t, "{\"type\": \"integer\", \"minimum\": -5, \"maximum\": 120}",
          L("-5", "0", "7", "99", "100", "120"), L("-6", "121", "200", "1000", "-10", "5.5"));
    CASES(t, "{\"type\": \"integer\", \"exclusiveMinimum\": 0, \"exclusiveMaximum\": 10}",
          L("1", "9"), L("0", "10", "-1"));
    CASES(t, "{\"type\": \"integer\", \"minimum\": 1000}", L("1000", "99999", "123456789012345"),
          L("999", "0", "-1000"));
    CASES(t, "{\"type\": \"number\", \"minimum\": 0, \"maximum\": 1}",
          L("0", "0.5", "1", "1.0", "1.000", "0.999"), L("-0.1", "1.5", "1.01", "2", "1e0"));
    CASES(t, "{\"type\": \"number\", \"exclusiveMinimum\": 0}", L("0.001", "5", "3.25"),
          L("0", "0.0", "-1", "-0.5"));
    CASES(t, "{\"type\": \"number\", \"minimum\": -2.5, \"exclusiveMaximum\": 3}",
          L("-2", "0", "2.99", "-1.75"), L("3", "3.0", "-3", "4"));
    CASES(t, "{\"type\": \"integer\", \"multipleOf\": 3}", L("0", "3", "-12", "999"),
          L("1", "10", "-4"));
    CASES(t, "{\"type\": \"number\", \"multipleOf\": 0.01}", L("1", "2.5", "3.14"),
          L("3.141", "0.001"));
}

static void test_strings(lx_t *t) {
    CASES(t, "{\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3}",
          L("\"ab\"", "\"\xc3\xa9\xc3\xa9\xc3\xa9\"", "\"a\\nb\""), L("\"a\"", "\"abcd\"", "\"\""));
    CASES(t, "{\"type\": \"string\", \"pattern\": \"^[a-z]+-\\\\d{2}$\"}",
          L("\"ab-12\"", "\"x-00\""), L("\"ab-1\"", "\"AB-12\"", "\"ab-123\"", "\"-12\""));
    CASES(t, "{\"type\": \"string\", \"pattern\": \"cat\"}", L("\"cat\"", "\"a cat!\"", "\"cats\""),
          L("\"dog\"", "\"ca t\""));
    CASES(t, "{\"type\": \"string\", \"pattern\": \"^a\\\"b$\"}", L("\"a\\\"b\""), L("\"ab\""));
    CASES(t, "{\"type\": \"string\", \"pattern\": \"^(ab|c$)\"}", L("\"ab\"", "\"abz\"", "\"c\""),
          L("\"cz\"", "\"zab\""));
    CASES(t, "{\"type\": \"string\", \"pattern\": \"(^x)|(y$)\"}", L("\"xz\"", "\"zy\"", "\"x\""),
          L("\"zx\"", "\"yz\""));
    /* an alternation of literals (compiled as a trie) */
    /* a pattern holding a NUL character (\\u0000 in the schema) */
    CASES(t, "{\"type\": \"string\", \"pattern\": \"^[^\\u0000]+$\"}", L("\"ab\""),
          L("\"\"", "\"a\\u0000\""));
    CASES(t, "{\"type\": \"string\", \"pattern\": \"^(abc|ab|b1|b2|b3|b4|b5|b6|x)$\"}",
          L("\"ab\"", "\"abc\"", "\"b6\"", "\"x\""), L("\"a\"", "\"abcd\"", "\"b7\"", "\"\""));
    CASES(t, "{\"type\": \"string\", \"pattern\": \"(ab|abc|b1|b2|b3|b4|b5|b6|x)\"}",
          L("\"zabz\"", "\"b6\"", "\"--x\""), L("\"a\"", "\"b7\"", "\"\""));
    CASES(t, "{\"type\": \"string\", \"pattern\": \"^(a*|c)*b$\"}", L("\"b\"", "\"aacab\""),
          L("\"ba\"", "\"\""));
    CASES(t, "{\"allOf\": [{\"type\": \"integer\"}, {\"not\": {\"not\": {\"minimum\": 3}}}]}",
          L("3", "7"), L("2", "\"x\""));
    CASES(t, "{\"type\": \"string\", \"format\": \"date\"}",
          L("\"2024-02-29\"", "\"2000-02-29\"", "\"2023-12-31\"", "\"2023-04-30\""),
          L("\"2024-13-01\"", "\"24-01-01\"", "\"2024-01-32\"", "\"2023-02-29\"", "\"1900-02-29\"",
            "\"2022-02-31\"", "\"2023-04-31\""));
    CASES(t, "{\"type\": \"string\", \"format\": \"date-time\"}",
          L("\"2024-02-29T12:30:00Z\"", "\"2024-02-29T12:30:00.5+02:00\""),
          L("\"2024-02-29 12:30\"", "\"2024-02-29T25:00:00Z\""));
    CASES(t, "{\"type\": \"string\", \"format\": \"uuid\"}",
          L("\"123e4567-e89b-12d3-a456-426614174000\""), L("\"123e4567\""));
    CASES(t, "{\"type\": \"string\", \"format\": \"ipv4\"}", L("\"192.168.0.1\"", "\"0.0.0.0\""),
          L("\"256.1.1.1\"", "\"1.2.3\"", "\"01.2.3.4\""));
    CASES(t, "{\"type\": \"string\", \"format\": \"email\"}", L("\"a.b@example.com\""),
          L("\"not-an-email\"", "\"a@b\""));
    CASES(t, "{\"type\": \"string\", \"format\": \"int64\"}", L("\"x\""),
          L("1")); /* unknown: ignored */
}

/* ==== Enums, combinators, references ==== */

static void test_enums(lx_t *t) {
    CASES(t, "{\"enum\": [\"a\", \"ab\", \"abc\", 1, null, [1, 2], {\"k\": true}]}",
          L("\"a\"", "\"ab\"", "\"abc\"", "1", "null", "[1, 2]", "{\"k\": true}"),
          L("\"abcd\"", "\"b\"", "2", "\"\"", "[1]"));
    CASES(t, "{\"type\": \"string\", \"format\": \"hostname\"}", L("\"a-b.example.com\"", "\"x\""),
          L("\"-a.com\"", "\"a_b.com\"", "\"a..b\""));
    CASES(t, "{\"const\": \"x\"}", L("\"x\""), L("\"y\"", "\"xx\""));
    CASES(t, "{\"type\": \"string\", \"enum\": [\"a\", 1, \"bb\"], \"maxLength\": 1}", L("\"a\""),
          L("1", "\"bb\""));
}

static void test_combinators(lx_t *t) {
    CASES(t, "{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"string\", \"maxLength\": 1}]}",
          L("5", "\"x\""), L("\"xy\"", "1.5"));
    CASES(t, "{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"boolean\"}]}", L("5", "true"),
          L("\"x\""));
    CASES(t, "{\"allOf\": [{\"type\": \"integer\", \"minimum\": 2}, {\"maximum\": 4}]}",
          L("2", "4"), L("1", "5"));
    CASES(t,
          "{\"type\": \"object\", \"properties\": {\"k\": {\"type\": \"string\"}}, \"anyOf\": "
          "[{\"required\": [\"k\"]}, {\"properties\": {\"k\": {\"const\": \"z\"}}}]}",
          L("{\"k\": \"a\"}", "{}"), L("{\"k\": 1}"));
    CASES(t, "{\"not\": {\"type\": \"string\"}}", L("1", "null"), L("\"x\""));
    CASES(t,
          "{\"type\": \"object\", \"oneOf\": [{\"properties\": {\"k\": {\"const\": 1}}, "
          "\"required\": "
          "[\"k\"]}, {\"properties\": {\"k\": {\"const\": 2}}, \"required\": [\"k\"]}]}",
          L("{\"k\": 1}", "{\"k\": 2}"), L("{\"k\": 3}", "{}", "\"s\""));
}

static void test_refs(lx_t *t) {
    const char *tree = "{\"$defs\": {\"node\": {\"type\": \"object\", \"properties\": {\"v\": "
                       "{\"type\": \"integer\"}, \"kids\": {\"type\": \"array\", \"items\": "
                       "{\"$ref\": \"#/$defs/node\"}}}, \"required\": [\"v\"], "
                       "\"additionalProperties\": false}}, \"$ref\": \"#/$defs/node\"}";
    CASES(t, tree,
          L("{\"v\": 1}", "{\"v\": 1, \"kids\": []}",
            "{\"v\": 1, \"kids\": [{\"v\": 2, \"kids\": [{\"v\": 3}]}, {\"v\": 4}]}"),
          L("{\"kids\": []}", "{\"v\": 1, \"kids\": [{\"v\": \"x\"}]}",
            "{\"v\": 1, \"kids\": [{}]}"));
    CASES(t,
          "{\"definitions\": {\"a~b/c\": {\"type\": \"null\"}}, \"$ref\": "
          "\"#/definitions/a~0b~1c\"}",
          L("null"), L("1"));
}

/* ==== Objects and arrays ==== */

static void test_objects(lx_t *t) {
    const char *s = "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}, "
                    "\"age\": {\"type\": \"integer\"}, \"tags\": {\"type\": \"array\", "
                    "\"items\": {\"type\": \"string\"}}}, \"required\": [\"name\"], "
                    "\"additionalProperties\": false}";
    CASES(t, s,
          L("{\"name\": \"x\"}", "{\"name\": \"x\", \"age\": 3}", "{\"name\":\"x\",\"tags\":[]}",
            "{ \"name\" : \"x\" , \"age\" : 3 , \"tags\" : [ \"a\" , \"b\" ] }",
            "{\n  \"name\": \"x\"\n}"),
          L("{}", "{\"age\": 3}", "{\"name\": \"x\", \"other\": 1}", "{\"name\": 1}",
            "{\"name\": \"x\",}", "{\"name\": \"x\", \"tags\": [1]}"));
    /* additional properties: any key but the declared ones */
    CASES(t,
          "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}, "
          "\"additionalProperties\": {\"type\": \"string\"}}",
          L("{}", "{\"a\": 1}", "{\"a\": 1, \"b\": \"x\"}", "{\"ab\": \"x\"}", "{\"b\": \"x\"}"),
          L("{\"b\": 1}", "{\"a\": \"x\"}", "{\"a\": 1, \"a\": \"x\"}"));
    /* ... also keys that leave a declared name inside a character: e-grave (c3 a8)
    ** and U+4E00 (e4 b8 80) begin like the names e-acute (c3 a9) and U+4E01 (e4 b8 81) */
    CASES(t,
          "{\"type\": \"object\", \"properties\": {\"\xc3\xa9\": {\"type\": \"integer\"}, "
          "\"\xe4\xb8\x81\": {\"type\": \"integer\"}}, \"additionalProperties\": {\"type\": "
          "\"string\"}}",
          L("{\"\xc3\xa9\": 1}", "{\"\xc3\xa8\": \"x\"}", "{\"\xc3\xa8z\": \"x\"}",
            "{\"\xe4\xb8\x80\": \"x\"}", "{\"\xe4\xbf\x80\": \"x\"}", "{\"\xe4\xb8\x81\": 2}"),
          L("{\"\xc3\xa9\": \"x\"}", "{\"\xe4\xb8\x81\": \"x\"}", "{\"\xc3\x28\": \"x\"}",
            "{\"\xe4\xb8\": \"x\"}"));
    CASES(t,
          "{\"type\": \"object\", \"patternProperties\": {\"^x-\": {\"type\": \"integer\"}}, "
          "\"additionalProperties\": false}",
          L("{}", "{\"x-a\": 1, \"x-b\": 2}"), L("{\"y\": 1}", "{\"x-a\": \"s\"}"));
    CASES(t,
          "{\"type\": \"object\", \"properties\": {\"a\": {}, \"b\": {}}, \"dependentRequired\": "
          "{\"a\": [\"b\"]}, \"required\": [\"a\"], \"additionalProperties\": false}",
          L("{\"a\": 1, \"b\": 2}"), L("{\"a\": 1}", "{\"b\": 2}"));
    CASES(t,
          "{\"type\": \"object\", \"properties\": {\"a\": {}, \"b\": {}}, \"minProperties\": 1, "
          "\"additionalProperties\": false}",
          L("{\"a\": 1}", "{\"b\": 1}", "{\"a\": 1, \"b\": 2}"), L("{}", "{\"c\": 1}"));
    CASES(t, "{\"type\": \"object\", \"minProperties\": 2, \"maxProperties\": 3}",
          L("{\"x\": 1, \"y\": 2}", "{\"x\": 1, \"y\": 2, \"z\": 3}"),
          L("{}", "{\"x\": 1}", "{\"w\": 0, \"x\": 1, \"y\": 2, \"z\": 3}"));
    /* nested */
    CASES(t,
          "{\"type\": \"object\", \"properties\": {\"o\": {\"type\": \"object\", \"properties\": "
          "{\"p\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": "
          "{\"q\": {\"type\": \"boolean\"}}, \"required\": [\"q\"]}}}}}, \"required\": [\"o\"]}",
          L("{\"o\": {\"p\": [{\"q\": true}, {\"q\": false}]}}", "{\"o\": {}}"),
          L("{\"o\": {\"p\": [{}]}}", "{\"o\": {\"p\": [{\"q\": 1}]}}"));
}

static void test_arrays(lx_t *t) {
    CASES(t,
          "{\"type\": \"array\", \"items\": {\"type\": \"integer\"}, \"minItems\": 1, "
          "\"maxItems\": 3}",
          L("[1]", "[1, 2, 3]", "[ 1 ,2 ]"), L("[]", "[1, 2, 3, 4]", "[1,]", "[\"a\"]"));
    CASES(t,
          "{\"type\": \"array\", \"prefixItems\": [{\"type\": \"string\"}, {\"type\": "
          "\"integer\"}], \"items\": false}",
          L("[]", "[\"a\"]", "[\"a\", 1]"), L("[1]", "[\"a\", 1, 2]"));
    CASES(t,
          "{\"type\": \"array\", \"items\": [{\"type\": \"string\"}], \"additionalItems\": "
          "{\"type\": \"null\"}}",
          L("[\"a\", null, null]"), L("[\"a\", 1]"));
    CASES(t, "{\"type\": \"array\", \"uniqueItems\": true, \"maxItems\": 1}", L("[]", "[1]"),
          L("[1, 1]"));
}

/* ==== Refusals and errors ==== */

static void expect_refused(lx_t *t, const char *schema, lexie_status code, const char *w1,
                           const char *w2) {
    lexie_error e = {0, ""};
    lexie_grammar *g = lexie_grammar_from_json_schema(schema, strlen(schema), NULL, &e);
    LX_CHECK_MSG(t, g == NULL, "compiled but should be refused: %s", schema);
    lexie_grammar_free(g);
    LX_CHECK_MSG(t, e.code == code, "%s: code %d (%s)", schema, e.code, e.message);
    LX_CHECK_MSG(t, strstr(e.message, w1) && strstr(e.message, w2), "%s: message '%s'", schema,
                 e.message);
}

static void test_refused(lx_t *t) {
    expect_refused(t, "{\"properties\": {\"a\": {\"if\": {\"type\": \"string\"}}}}",
                   LEXIE_E_UNSUPPORTED, "'if'", "/properties/a");
    expect_refused(t, "{\"type\": \"array\", \"contains\": {}}", LEXIE_E_UNSUPPORTED, "'contains'",
                   "/");
    expect_refused(t, "{\"type\": \"string\", \"format\": \"ipv6\"}", LEXIE_E_UNSUPPORTED, "ipv6",
                   "/");
    expect_refused(t, "{\"type\": \"string\", \"pattern\": \"(?=a)\"}", LEXIE_E_UNSUPPORTED,
                   "lookaround", "/");
    expect_refused(t, "{\"oneOf\": [{\"type\": \"string\"}, {\"maxLength\": 3}]}",
                   LEXIE_E_UNSUPPORTED, "oneOf", "/oneOf");
    /* the same without "type": a string would match both branches */
    expect_refused(t,
                   "{\"oneOf\": [{\"properties\": {\"k\": {\"const\": 1}}, \"required\": [\"k\"]}, "
                   "{\"properties\": {\"k\": {\"const\": 2}}, \"required\": [\"k\"]}]}",
                   LEXIE_E_UNSUPPORTED, "oneOf", "/oneOf");
    expect_refused(t, "{\"$ref\": \"#/definitions/missing\"}", LEXIE_E_INVALID, "missing", "/");
    expect_refused(t, "{\"$ref\": \"http://example.com/s.json\"}", LEXIE_E_UNSUPPORTED, "local",
                   "/");
    expect_refused(t, "{\"type\": \"strin\"}", LEXIE_E_INVALID, "type", "/");
    expect_refused(t, "{\"type\": ", LEXIE_E_FORMAT, "json schema", "line");
    /* outside the vocabulary or annotations: ignored */
    lexie_error e;
    const char *ok = "{\"x-extra\": 1, \"title\": \"t\", \"description\": \"d\", \"default\": 3, "
                     "\"examples\": [1], \"$comment\": \"c\", \"_format\": \"q\", \"type\": "
                     "\"integer\"}";
    lexie_grammar *g = lexie_grammar_from_json_schema(ok, strlen(ok), NULL, &e);
    LX_CHECK_MSG(t, g != NULL, "%s", e.message);
    lexie_grammar_free(g);
}

/* ==== Masks on the tiny vocabulary ==== */

/* For every token: its mask bit equals whether committing it succeeds. */
static void check_mask_exact(lx_t *t, const lexie_grammar *g, const lexie_grammar_vocab *v,
                             const char *prefix) {
    lexie_error e;
    lexie_matcher *m = lexie_matcher_new(g, v, &e);
    LX_REQUIRE(t, m);
    LX_REQUIRE(t, lexie_matcher_accept_bytes(m, prefix, strlen(prefix)));
    uint32_t mask[(N_TINY + 31) / 32];
    LX_CHECK_INT(t, lexie_matcher_mask_words(m), (N_TINY + 31) / 32);
    int n = lexie_matcher_fill_mask(m, mask, -1);
    int count = 0;
    for (int tok = 0; tok < N_TINY; tok++) {
        lexie_matcher *m2 = lexie_matcher_new(g, v, &e);
        lexie_matcher_accept_bytes(m2, prefix, strlen(prefix));
        int bit = (mask[tok >> 5] >> (tok & 31)) & 1;
        int acc = lexie_matcher_accept_token(m2, tok);
        LX_CHECK_MSG(t, bit == acc, "after '%s', token %d: mask %d, commit %d", prefix, tok, bit,
                     acc);
        count += bit;
        lexie_matcher_free(m2);
    }
    LX_CHECK_INT(t, n, count);
    /* the cached mask (same state again) is identical */
    uint32_t again[(N_TINY + 31) / 32];
    lexie_matcher_fill_mask(m, again, -1);
    LX_CHECK(t, !memcmp(mask, again, sizeof mask));
    lexie_matcher_free(m);
}

static void test_masks(lx_t *t) {
    lexie_error e;
    lexie_grammar_vocab *v = tiny_vocab();
    LX_REQUIRE(t, v);
    const char *s = "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\"}, "
                    "\"b\": {\"enum\": [\"ab\", \"abc\", 12]}}, \"required\": [\"a\", \"b\"], "
                    "\"additionalProperties\": false}";
    lexie_grammar *g = lexie_grammar_from_json_schema(s, strlen(s), NULL, &e);
    LX_REQUIRE(t, g);
    const char *prefixes[] = {"",
                              "{",
                              "{\"",
                              "{\"a\": \"x",
                              "{\"a\": \"\xc3",
                              "{\"a\": \"x\"",
                              "{\"a\": \"x\", \"b\": ",
                              "{\"a\": \"x\", \"b\": \"ab",
                              "{\"a\": \"x\", \"b\": 12}"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        check_mask_exact(t, g, v, prefixes[i]);
    /* counted repetitions: positions far from the bounds share one mask */
    const char *ls = "{\"type\": \"string\", \"minLength\": 20, \"maxLength\": 40}";
    lexie_grammar *g2 = lexie_grammar_from_json_schema(ls, strlen(ls), NULL, &e);
    LX_REQUIRE(t, g2);
    char pre[64] = "\"";
    static const int lens[] = {0, 1, 7, 13, 14, 15, 18, 19, 20, 25, 34, 35, 36, 39, 40};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        memset(pre + 1, 'a', (size_t)lens[i]);
        pre[1 + lens[i]] = 0;
        check_mask_exact(t, g2, v, pre);
    }
    lexie_grammar_free(g2);
    /* tokens spanning elements: `",` closes a string and starts the next member */
    lexie_matcher *m = lexie_matcher_new(g, v, &e);
    const char *toks[] = {"{\"", "a", "\": \"", "x", "\",", " ", "\"", "b", "\": ", "12", "}"};
    uint32_t mask[(N_TINY + 31) / 32];
    for (size_t i = 0; i < sizeof toks / sizeof *toks; i++) {
        int tok = tok_of(toks[i]);
        LX_REQUIRE(t, tok >= 0);
        lexie_matcher_fill_mask(m, mask, -1);
        LX_CHECK_MSG(t, (mask[tok >> 5] >> (tok & 31)) & 1, "token %zu '%s' not allowed", i,
                     toks[i]);
        LX_CHECK_MSG(t, !((mask[TOK_EOS >> 5] >> (TOK_EOS & 31)) & 1), "EOS allowed at %zu", i);
        LX_CHECK(t, !((mask[(TOK_EOS + 1) >> 5] >> ((TOK_EOS + 1) & 31)) & 1));
        LX_CHECK(t, lexie_matcher_accept_token(m, tok));
        if (i == 3) { /* inside the string of a required-b object: "} cannot close */
            int q = tok_of("\"}");
            LX_CHECK(t, !((mask[q >> 5] >> (q & 31)) & 1));
        }
    }
    LX_CHECK(t, lexie_matcher_is_accepting(m));
    LX_CHECK_INT(t, lexie_matcher_close_bytes(m), 0);
    lexie_matcher_fill_mask(m, mask, -1);
    LX_CHECK(t, (mask[TOK_EOS >> 5] >> (TOK_EOS & 31)) & 1);
    LX_CHECK(t, lexie_matcher_accept_token(m, TOK_EOS));
    LX_CHECK(t, lexie_matcher_is_terminated(m));
    LX_CHECK(t, !lexie_matcher_accept_token(m, 'x'));
    LX_CHECK_INT(t, lexie_matcher_fill_mask(m, mask, -1), 1);
    /* reset and a rejected token leaves the state as it was */
    lexie_matcher_reset(m);
    LX_CHECK(t, !lexie_matcher_accept_token(m, 'x'));
    LX_CHECK(t, lexie_matcher_accept_token(m, '{'));
    LX_CHECK(t, !lexie_matcher_accept_token(m, tok_of("}}")));
    LX_CHECK(t, lexie_matcher_accept_bytes(m, "\"a\": \"", 6));
    lexie_matcher_free(m);
    lexie_grammar_free(g);
    lexie_grammar_vocab_free(v);
}

/* Closing budgets: with few tokens left, only tokens that keep a close in reach. */
static void test_closing(lx_t *t) {
    lexie_error e;
    lexie_grammar_vocab *v = tiny_vocab();
    const char *s = "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\"}}, "
                    "\"required\": [\"a\"], \"additionalProperties\": false}";
    lexie_grammar *g = lexie_grammar_from_json_schema(s, strlen(s), NULL, &e);
    LX_REQUIRE(t, g && v);
    lexie_matcher *m = lexie_matcher_new(g, v, &e);
    LX_CHECK_INT(t, lexie_matcher_close_bytes(m), 8); /* {"a":""} */
    LX_REQUIRE(t, lexie_matcher_accept_bytes(m, "{\"a\": \"xy", 9));
    LX_CHECK_INT(t, lexie_matcher_close_bytes(m), 2);
    uint32_t mask[(N_TINY + 31) / 32];
    int n = lexie_matcher_fill_mask(m, mask, 2); /* 2 tokens left: must close now or next */
    LX_CHECK(t, n > 0);
    LX_CHECK(t, (mask[tok_of("\"}") >> 5] >> (tok_of("\"}") & 31)) & 1);
    LX_CHECK(t, (mask['"' >> 5] >> ('"' & 31)) & 1);
    LX_CHECK(t, !((mask['z' >> 5] >> ('z' & 31)) & 1));
    n = lexie_matcher_fill_mask(m, mask, 1); /* one token left: only "} closes */
    LX_CHECK_INT(t, n, 1);
    LX_CHECK(t, (mask[tok_of("\"}") >> 5] >> (tok_of("\"}") & 31)) & 1);
    lexie_matcher_free(m);
    lexie_grammar_free(g);
    lexie_grammar_vocab_free(v);
}

/* ==== GBNF ==== */

static void test_gbnf(lx_t *t) {
    lexie_error e;
    lexie_grammar_vocab *v = tiny_vocab();
    const char *gb = "# ADELIE-style triples\n"
                     "root ::= triple (\"\\n\" triple)*\n"
                     "triple ::= \"(\" part \"; \" rel \"; \" part \")\"\n"
                     "part ::= [^;()\\n]+\n"
                     "rel  ::= [a-z_]{1,8}\n";
    lexie_grammar *g = lexie_grammar_from_gbnf(gb, strlen(gb), NULL, &e);
    LX_REQUIRE(t, g && v);
    LX_CHECK(t, accepts(g, v, "(Ada; born_in; London)") == 1);
    LX_CHECK(t, accepts(g, v, "(Ada; born_in; London)\n(B\xc3\xa9; x; y)") == 1);
    LX_CHECK(t, accepts(g, v, "(Ada; bornin_toolong; London)") == 0);
    LX_CHECK(t, accepts(g, v, "(Ada; BORN; London)") == 0);
    LX_CHECK(t, accepts(g, v, "(Ada; x; )") == 0);
    check_mask_exact(t, g, v, "(A");
    lexie_grammar_free(g);
    const char *alt = "root ::= (\"a\" | \"b\")+ x?  x ::= \"\\x41\" | [0-9]{2}";
    g = lexie_grammar_from_gbnf(alt, strlen(alt), NULL, &e);
    LX_CHECK_MSG(t, g != NULL, "%s", e.message);
    if (g) {
        LX_CHECK(t, accepts(g, v, "abbaA") == 1 && accepts(g, v, "a42") == 1);
        LX_CHECK(t, accepts(g, v, "") == 0 && accepts(g, v, "a4") == 0);
    }
    lexie_grammar_free(g);
    static const struct {
        const char *text, *want;
    } bad[] = {{"root ::= x", "'x' is used but not defined"},
               {"root ::= root \"a\" | \"b\"", "left-recursive"},
               {"root ::= \"a", "unterminated"},
               {"root ::= [b-a]", "out of order"},
               {"rot ::= \"a\"", "no rule named 'root'"},
               {"root ::= \"a\"\nroot ::= \"b\"", "defined twice"},
               {"root ::= (\"a\"", "expected ')'"},
               {"root ::= \"a\"{3,1}", "repetition"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        g = lexie_grammar_from_gbnf(bad[i].text, strlen(bad[i].text), NULL, &e);
        LX_CHECK_MSG(t, g == NULL && strstr(e.message, bad[i].want), "%s: %s", bad[i].text,
                     e.message);
        lexie_grammar_free(g);
    }
    lexie_grammar_vocab_free(v);
}

/* ==== Fast masks against the exact reference ==== */

/* A normal matcher and an exact one (lx_matcher_set_exact) fed the same
** tokens; their masks must be equal at every step. */
typedef struct twin {
    lexie_matcher *a, *b;
    uint32_t *ma, *mb;
    int nw, n_tok;
    unsigned long long rng;
} twin;

static int twin_open(twin *w, const lexie_grammar *g, const lexie_grammar_vocab *v, int n_tok) {
    lexie_error e;
    memset(w, 0, sizeof *w);
    w->a = lexie_matcher_new(g, v, &e);
    w->b = lexie_matcher_new(g, v, &e);
    if (!w->a || !w->b) return 0;
    lx_matcher_set_exact(w->b, 1);
    w->nw = lexie_matcher_mask_words(w->a);
    w->n_tok = n_tok;
    w->ma = calloc((size_t)w->nw, sizeof *w->ma);
    w->mb = calloc((size_t)w->nw, sizeof *w->mb);
    w->rng = 88172645463325252ull;
    return w->ma && w->mb;
}

static void twin_close(twin *w) {
    lexie_matcher_free(w->a);
    lexie_matcher_free(w->b);
    free(w->ma);
    free(w->mb);
}

/* Compares the two masks now; 1 when equal. */
static int twin_check(lx_t *t, twin *w, const char *where, int step) {
    int ca = lexie_matcher_fill_mask(w->a, w->ma, -1);
    int cb = lexie_matcher_fill_mask(w->b, w->mb, -1);
    for (int x = 0; x < w->n_tok; x++) {
        int ba = (w->ma[x >> 5] >> (x & 31)) & 1, bb = (w->mb[x >> 5] >> (x & 31)) & 1;
        if (ba != bb) {
            LX_CHECK_MSG(t, 0, "%s, step %d: token %d fast %d exact %d", where, step, x, ba, bb);
            return 0;
        }
    }
    LX_CHECK_MSG(t, ca == cb, "%s, step %d: counts %d and %d", where, step, ca, cb);
    return ca == cb;
}

/* Commits token x to both; they must agree. */
static int twin_take(lx_t *t, twin *w, int x) {
    int a = lexie_matcher_accept_token(w->a, x), b = lexie_matcher_accept_token(w->b, x);
    LX_CHECK_MSG(t, a == b, "token %d: fast %d exact %d", x, a, b);
    return a && b;
}

/* A random allowed token of the last mask (plain ones three times in
** four, so strings grow), or -1 when none. */
static int twin_pick(twin *w, const lexie_grammar_vocab *v) {
    int n = 0, np = 0;
    for (int x = 0; x < w->n_tok; x++) {
        if (!((w->ma[x >> 5] >> (x & 31)) & 1)) continue;
        n++;
        np += (v->v->plain[x >> 5] >> (x & 31)) & 1;
    }
    if (!n) return -1;
    w->rng = w->rng * 6364136223846793005ull + 1442695040888963407ull;
    unsigned r = (unsigned)(w->rng >> 33);
    int plain = np && (r & 3);
    int k = (int)((r >> 2) % (unsigned)(plain ? np : n));
    for (int x = 0; x < w->n_tok; x++) {
        if (!((w->ma[x >> 5] >> (x & 31)) & 1)) continue;
        if (plain && !((v->v->plain[x >> 5] >> (x & 31)) & 1)) continue;
        if (k-- == 0) return x;
    }
    return -1;
}

/* For each cut of toks[0..n): masks along the prefix, then `extra`
** random allowed tokens after it. */
static void twin_run(lx_t *t, twin *w, const lexie_grammar_vocab *v, const int *toks, int n,
                     int n_cuts, int extra, const char *name) {
    for (int c = 0; c <= n_cuts; c++) {
        int cut = n_cuts ? (int)((long)n * c / n_cuts) : n;
        lexie_matcher_reset(w->a);
        lexie_matcher_reset(w->b);
        int ok = 1;
        for (int i = 0; i < cut && ok; i++) {
            if (c == n_cuts && !twin_check(t, w, name, i)) return;
            ok = twin_take(t, w, toks[i]);
            LX_CHECK_MSG(t, ok, "%s: token %d of the valid text refused", name, i);
        }
        for (int i = 0; i < extra && ok; i++) {
            if (!twin_check(t, w, name, cut + i)) return;
            int x = twin_pick(w, v);
            ok = x >= 0 && twin_take(t, w, x);
        }
    }
}

/* Unanchored patterns, alternations, length bounds near and far, a short
** minimum length without maximum. */
static const char TWIN_SCHEMA[] =
    "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"maxLength\": 5}, "
    "\"b\": {\"type\": \"string\", \"minLength\": 3, \"maxLength\": 30}, "
    "\"c\": {\"type\": \"string\", \"pattern\": \"ab|x[0-9]+y\"}, "
    "\"d\": {\"type\": \"string\", \"pattern\": \"^q.*z$\"}, "
    "\"e\": {\"type\": \"string\", \"pattern\": \"srn:[a-z]+:(RE|CL)\"}, "
    "\"f\": {\"type\": \"string\", \"minLength\": 20}, "
    "\"g\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"pattern\": \"\xc3\xa9+\"}}, "
    "\"h\": {\"type\": \"string\", \"minLength\": 2}}, "
    "\"patternProperties\": {\"id\": {\"type\": \"string\", \"maxLength\": 3}}, "
    "\"required\": [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\"], "
    "\"additionalProperties\": false}";
static const char TWIN_TEXT[] =
    "{\"a\": \"hey\", \"b\": \"abc def\", \"c\": \"zzabzz x1y\", \"d\": \"q1\\\"z\", "
    "\"e\": \"my srn:abc:RE! srn:x:CL\", \"f\": \"aaaaaaaaaaaaaaaaaaaaaaaa\", "
    "\"g\": [\"\xc3\xa9\", \"x\xc3\xa9\\n\"], \"h\": \"\xc3\xa9"
    "1\\t\", \"xidx\": \"ab\"}";

/* Optional members and extra keys (any key but the declared names). */
static const char TWIN_SCHEMA2[] =
    "{\"type\": \"object\", \"properties\": {\"Size Estimate\": {\"type\": \"integer\"}, "
    "\"Size\": {\"type\": \"string\"}, \"Type\": {\"type\": \"string\", \"maxLength\": 4}, "
    "\"\xc3\xa9t\xc3\xa9\": {\"type\": [\"string\", \"null\"]}}}";
static const char TWIN_TEXT2[] =
    "{\"Size Estimate\": 12, \"Sizer\": \"x\", \"Size\": \"a b\", \"Typ\": 1, "
    "\"\xc3\xa9t\xc3\xa9\": \"\xc3\xa9\", \"\xc3\xa9\": [\"Size\"]}";

static void test_fast_masks(lx_t *t) {
    lexie_error e;
    lexie_grammar_vocab *v = tiny_vocab();
    LX_REQUIRE(t, v);
    lexie_grammar *g = lexie_grammar_from_json_schema(TWIN_SCHEMA, strlen(TWIN_SCHEMA), NULL, &e);
    LX_REQUIRE(t, g);
    twin w;
    LX_REQUIRE(t, twin_open(&w, g, v, N_TINY));
    int n = (int)strlen(TWIN_TEXT), toks[sizeof TWIN_TEXT + sizeof TWIN_TEXT2];
    for (int i = 0; i < n; i++) toks[i] = (unsigned char)TWIN_TEXT[i];
    twin_run(t, &w, v, toks, n, 40, 30, "tiny");
    /* the text is a sentence: the exact matcher agrees it may end */
    LX_CHECK(t, lexie_matcher_is_accepting(w.b));
    twin_close(&w);
    lexie_grammar_free(g);
    g = lexie_grammar_from_json_schema(TWIN_SCHEMA2, strlen(TWIN_SCHEMA2), NULL, &e);
    LX_REQUIRE(t, g);
    LX_REQUIRE(t, twin_open(&w, g, v, N_TINY));
    n = (int)strlen(TWIN_TEXT2);
    for (int i = 0; i < n; i++) toks[i] = (unsigned char)TWIN_TEXT2[i];
    twin_run(t, &w, v, toks, n, 40, 30, "tiny, extra keys");
    LX_CHECK(t, lexie_matcher_is_accepting(w.b));
    twin_close(&w);
    lexie_grammar_free(g);
    /* length buckets: every plain token of at most k bytes, and no longer one */
    for (int k = 0; k <= v->v->max_plain; k++)
        for (int x = 0; x < N_TINY; x++) {
            int want = ((v->v->plain[x >> 5] >> (x & 31)) & 1) && v->v->piece_len[x] <= k;
            LX_CHECK(t, (int)((v->v->plain_le[k * ((N_TINY + 31) / 32) + (x >> 5)] >> (x & 31)) &
                              1) == want);
        }
    LX_CHECK_INT(t, v->v->max_plain, 4);
    /* by characters: text tokens (whole UTF-8, no control, quote or backslash) */
    int e_acute = tok_of("\xc3\xa9");
    for (int k = 0; k <= v->v->max_text; k++)
        for (int x = 0; x < N_TINY; x++) {
            int text = ((v->v->plain[x >> 5] >> (x & 31)) & 1) || x == e_acute;
            int chars = x == e_acute ? 1 : v->v->piece_len[x];
            int got = (int)((v->v->text_le[k * ((N_TINY + 31) / 32) + (x >> 5)] >> (x & 31)) & 1);
            LX_CHECK_MSG(t, got == (text && chars <= k), "text_le[%d], token %d: %d", k, x, got);
        }
    LX_CHECK_INT(t, v->v->max_text, 4);
    lexie_grammar_vocab_free(v);
}

/* ==== The real vocabulary ==== */

static void test_real_vocab(lx_t *t) {
    const char *path = lx_test_model();
    if (!path) LX_SKIP(t, "default model not present");
    lexie_error e;
    lexie_model *mo = lexie_model_load(path, NULL, &e);
    LX_REQUIRE(t, mo);
    lexie_grammar_vocab *v = lexie_grammar_vocab_new(mo, &e);
    LX_REQUIRE(t, v);
    const char *s = "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}, "
                    "\"score\": {\"type\": \"number\"}, \"tags\": {\"type\": \"array\", \"items\": "
                    "{\"enum\": [\"red\", \"green\"]}}}, \"required\": [\"name\", \"score\"]}";
    lexie_grammar *g = lexie_grammar_from_json_schema(s, strlen(s), NULL, &e);
    LX_REQUIRE(t, g);
    lexie_matcher *m = lexie_matcher_new(g, v, &e);
    LX_REQUIRE(t, m);
    int nw = lexie_matcher_mask_words(m);
    uint32_t *mask = calloc((size_t)nw, sizeof *mask);
    const char *texts[] = {"{\"name\": \"Zo\xc3\xab \\\"Z\\\"\", \"score\": -1.5e3, \"tags\": "
                           "[\"red\", \"green\"]}",
                           "{\"name\": \"x\", \"score\": 2, \"tags\": [\"blue\"]}"};
    for (int k = 0; k < 2; k++) {
        lexie_token toks[256];
        int n = 0;
        LX_REQUIRE(t, lexie_tokenize(mo, texts[k], strlen(texts[k]), 0, 0, toks, 256, &n, &e) ==
                          LEXIE_OK);
        lexie_matcher_reset(m);
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            lexie_matcher_fill_mask(m, mask, -1);
            int bit = (mask[toks[i] >> 5] >> (toks[i] & 31)) & 1;
            /* no end-of-generation or control token inside the value */
            for (int x = 0; x < lexie_model_n_vocab(mo); x++) {
                if (!lexie_token_is_eog(mo, x) && lexie_token_to_piece(mo, x, NULL, 0) > 0)
                    continue;
                LX_CHECK_MSG(t, !((mask[x >> 5] >> (x & 31)) & 1), "special %d allowed", x);
            }
            int acc = lexie_matcher_accept_token(m, toks[i]);
            LX_CHECK_INT(t, bit, acc);
            ok = acc;
        }
        ok = ok && lexie_matcher_is_accepting(m);
        LX_CHECK_MSG(t, ok == (k == 0), "text %d: accepted %d", k, ok);
        if (k == 0) { /* at the end only EOS-like tokens and closing whitespace */
            lexie_matcher_fill_mask(m, mask, -1);
            int eos = 0;
            for (int x = 0; x < lexie_model_n_vocab(mo); x++)
                if (lexie_token_is_eog(mo, x)) eos |= (mask[x >> 5] >> (x & 31)) & 1;
            LX_CHECK(t, eos);
        }
    }
    free(mask);
    lexie_matcher_free(m);
    lexie_grammar_free(g);
    lexie_grammar_vocab_free(v);
    lexie_model_free(mo);
}

/* The fast masks against the exact ones on the real vocabulary. */
static void test_real_vocab_fast(lx_t *t) {
    const char *path = lx_test_model();
    if (!path) LX_SKIP(t, "default model not present");
    lexie_error e;
    lexie_model *mo = lexie_model_load(path, NULL, &e);
    LX_REQUIRE(t, mo);
    lexie_grammar_vocab *v = lexie_grammar_vocab_new(mo, &e);
    LX_REQUIRE(t, v);
    lexie_grammar *g = lexie_grammar_from_json_schema(TWIN_SCHEMA, strlen(TWIN_SCHEMA), NULL, &e);
    LX_REQUIRE(t, g);
    lexie_token toks[256];
    int n = 0;
    LX_REQUIRE(t, lexie_tokenize(mo, TWIN_TEXT, strlen(TWIN_TEXT), 0, 0, toks, 256, &n, &e) ==
                      LEXIE_OK);
    twin w;
    LX_REQUIRE(t, twin_open(&w, g, v, lexie_model_n_vocab(mo)));
    twin_run(t, &w, v, toks, n, 6, 6, "real");
    LX_CHECK(t, lexie_matcher_is_accepting(w.b));
    twin_close(&w);
    lexie_grammar_free(g);
    lexie_grammar_vocab_free(v);
    lexie_model_free(mo);
}

void suite_grammar(void) {
    LX_RUN(test_types);
    LX_RUN(test_numbers);
    LX_RUN(test_strings);
    LX_RUN(test_enums);
    LX_RUN(test_combinators);
    LX_RUN(test_refs);
    LX_RUN(test_objects);
    LX_RUN(test_arrays);
    LX_RUN(test_refused);
    LX_RUN(test_masks);
    LX_RUN(test_closing);
    LX_RUN(test_gbnf);
    LX_RUN(test_real_vocab);
    LX_RUN(test_fast_masks);
    LX_RUN(test_real_vocab_fast);
}
