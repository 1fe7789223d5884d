/*
** test_json.c -- the JSON reader and writer (src/base/json.c): values and
** escapes, malformed input with line/column, limits, UTF-8, numbers,
** duplicate keys, and writer round trips.
*/
#include "base/json.h"
#include "lx_test.h"

#include <stdlib.h>
#include <string.h>

static lx_json_doc *parse(const char *s, lexie_error *e) {
    return lx_json_parse(s, strlen(s), NULL, e);
}

/* Parses s, expects failure with code and a message containing want. */
static void expect_fail(lx_t *t, const char *s, lexie_status code, const char *want) {
    lexie_error e = {0, ""};
    lx_json_doc *d = parse(s, &e);
    LX_CHECK_MSG(t, d == NULL, "parsed but should fail: %s", s);
    lx_json_doc_free(d);
    LX_CHECK_MSG(t, e.code == code, "%s: code %d, want %d (%s)", s, e.code, code, e.message);
    LX_CHECK_MSG(t, strstr(e.message, want) != NULL, "%s: message '%s' lacks '%s'", s, e.message,
                 want);
}

static void test_values(lx_t *t) {
    lexie_error e;
    lx_json_doc *d = parse(" {\"a\": [1, -2.5e1, true, false, null], \"b\": {\"c\": \"x\"}} ", &e);
    LX_REQUIRE(t, d);
    const lx_json *r = lx_json_root(d);
    LX_CHECK_INT(t, r->type, LX_JSON_OBJECT);
    LX_CHECK_INT(t, r->n, 2);
    const lx_json *a = lx_json_get(r, "a");
    LX_REQUIRE(t, a && a->type == LX_JSON_ARRAY && a->n == 5);
    int64_t i;
    LX_CHECK(t, lx_json_int(lx_json_at(a, 0), &i) && i == 1);
    LX_CHECK_CLOSE(t, lx_json_at(a, 1)->num, -25.0, 0);
    LX_CHECK(t, lx_json_int(lx_json_at(a, 1), &i) && i == -25);
    LX_CHECK(t, lx_json_at(a, 2)->type == LX_JSON_BOOL && lx_json_at(a, 2)->b == 1);
    LX_CHECK(t, lx_json_at(a, 3)->b == 0);
    LX_CHECK_INT(t, lx_json_at(a, 4)->type, LX_JSON_NULL);
    LX_CHECK(t, lx_json_at(a, 5) == NULL && lx_json_at(a, -1) == NULL);
    LX_CHECK(t, strcmp(lx_json_string(lx_json_get(lx_json_get(r, "b"), "c")), "x") == 0);
    LX_CHECK(t, lx_json_get(r, "zz") == NULL && lx_json_get(a, "a") == NULL);
    LX_CHECK(t, lx_json_string(a) == NULL);
    /* Positions: "b"'s value starts at line 1, column 45. */
    LX_CHECK_INT(t, lx_json_get(r, "b")->line, 1);
    LX_CHECK_INT(t, lx_json_get(r, "b")->col, 45);
    lx_json_doc_free(d);
    lx_json_doc_free(NULL);

    /* Scalars at the top, empty containers, a UTF-8 BOM. */
    d = parse("\xEF\xBB\xBF\"hi\"", &e);
    LX_REQUIRE(t, d);
    LX_CHECK(t, strcmp(lx_json_root(d)->str, "hi") == 0);
    lx_json_doc_free(d);
    d = parse("[[], {}, [{}]]", &e);
    LX_REQUIRE(t, d);
    LX_CHECK_INT(t, lx_json_root(d)->n, 3);
    LX_CHECK_INT(t, lx_json_at(lx_json_root(d), 0)->n, 0);
    lx_json_doc_free(d);
}

static void test_escapes(lx_t *t) {
    lexie_error e;
    lx_json_doc *d =
        parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\\u0000z\"", &e);
    LX_REQUIRE(t, d);
    const lx_json *v = lx_json_root(d);
    const char want[] = "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0z";
    LX_CHECK_INT(t, v->len, sizeof want - 1);
    LX_CHECK(t, memcmp(v->str, want, sizeof want - 1) == 0);
    lx_json_doc_free(d);
    /* Raw multi-byte UTF-8 passes through untouched. */
    d = parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", &e);
    LX_REQUIRE(t, d);
    LX_CHECK(t, strcmp(lx_json_root(d)->str, "caf\xc3\xa9 \xf0\x9f\x98\x80") == 0);
    lx_json_doc_free(d);

    expect_fail(t, "\"\\ud83d\"", LEXIE_E_FORMAT, "not followed by a low surrogate");
    expect_fail(t, "\"\\ud83d\\u0041\"", LEXIE_E_FORMAT, "not followed by a low surrogate");
    expect_fail(t, "\"\\ude00\"", LEXIE_E_FORMAT, "lone low surrogate");
    expect_fail(t, "\"\\u12g4\"", LEXIE_E_FORMAT, "four hex digits");
    expect_fail(t, "\"\\u12\"", LEXIE_E_FORMAT, "four hex digits");
    expect_fail(t, "\"\\x\"", LEXIE_E_FORMAT, "bad escape");
    expect_fail(t, "\"a\nb\"", LEXIE_E_FORMAT, "control character 0x0a");
    expect_fail(t, "\"abc", LEXIE_E_FORMAT, "line 1, column 1: unterminated string");
}

static void test_malformed(lx_t *t) {
    expect_fail(t, "", LEXIE_E_FORMAT, "line 1, column 1: expected a value, found end of input");
    expect_fail(t, "{\"a\": 1,\n \"b\" 2}", LEXIE_E_FORMAT, "line 2, column 6: expected ':'");
    expect_fail(t, "[1, 2\n\n  3]", LEXIE_E_FORMAT, "line 3, column 3: expected ',' or ']'");
    expect_fail(t, "{\"a\": 1,}", LEXIE_E_FORMAT, "column 9: expected a string key, found '}'");
    expect_fail(t, "[1,]", LEXIE_E_FORMAT, "column 4: expected a value, found ']'");
    expect_fail(t, "{'a': 1}", LEXIE_E_FORMAT, "expected a string key");
    expect_fail(t, "tru", LEXIE_E_FORMAT, "expected a value");
    expect_fail(t, "nul", LEXIE_E_FORMAT, "expected a value");
    expect_fail(t, "{} x", LEXIE_E_FORMAT, "column 4: unexpected 'x' after the value");
    expect_fail(t, "1 2", LEXIE_E_FORMAT, "unexpected '2'");
    expect_fail(t, "[1", LEXIE_E_FORMAT, "found end of input");
    expect_fail(t, "{\"a\":1", LEXIE_E_FORMAT, "found end of input");
    /* The column counts code points, not bytes: "é" is one column. */
    expect_fail(t, "[\"\xc3\xa9\xc3\xa9\" x]", LEXIE_E_FORMAT, "line 1, column 7:");
    /* Non-ASCII outside a string. */
    expect_fail(t, "[\xc3\xa9]", LEXIE_E_FORMAT, "byte 0xc3");
}

static void test_numbers(lx_t *t) {
    expect_fail(t, "01", LEXIE_E_FORMAT, "leading zero");
    expect_fail(t, "-", LEXIE_E_FORMAT, "digit must follow '-'");
    expect_fail(t, "1.", LEXIE_E_FORMAT, "digit must follow '.'");
    expect_fail(t, ".5", LEXIE_E_FORMAT, "expected a value");
    expect_fail(t, "1e", LEXIE_E_FORMAT, "empty exponent");
    expect_fail(t, "+1", LEXIE_E_FORMAT, "expected a value");
    expect_fail(t, "NaN", LEXIE_E_FORMAT, "expected a value");
    expect_fail(t, "1e400", LEXIE_E_FORMAT, "too large for a double");
    expect_fail(t, "[-1e99999]", LEXIE_E_FORMAT, "column 2: number -1e99999 is too large");

    lexie_error e;
    /* A huge integer fits a double but not an int64: kept, not an int. */
    lx_json_doc *d = parse("123456789012345678901234567890", &e);
    LX_REQUIRE(t, d);
    int64_t i = 7;
    LX_CHECK(t, !lx_json_int(lx_json_root(d), &i) && i == 7);
    LX_CHECK_CLOSE(t, lx_json_root(d)->num, 1.2345678901234568e29, 1e14);
    lx_jbuf b = {0};
    lx_jbuf_value(&b, lx_json_root(d)); /* echoes the source text */
    LX_CHECK(t, strcmp(b.data, "123456789012345678901234567890") == 0);
    lx_jbuf_free(&b);
    lx_json_doc_free(d);
    d = parse("[1e-400, 2.5, 9007199254740993, -0]", &e);
    LX_REQUIRE(t, d);
    const lx_json *r = lx_json_root(d);
    LX_CHECK_CLOSE(t, lx_json_at(r, 0)->num, 0.0, 0);
    LX_CHECK(t, !lx_json_int(lx_json_at(r, 1), &i));
    LX_CHECK(t, lx_json_int(lx_json_at(r, 3), &i) && i == 0);
    lx_json_doc_free(d);
}

static void test_limits(lx_t *t) {
    /* Depth: 128 levels are fine, 129 are not, and a million do not crash. */
    size_t n = 1000000;
    char *s = malloc(2 * n + 1);
    LX_REQUIRE(t, s);
    for (int depth = 128; depth <= 129; depth++) {
        memset(s, '[', (size_t)depth);
        memset(s + depth, ']', (size_t)depth);
        lexie_error e;
        lx_json_doc *d = lx_json_parse(s, 2 * (size_t)depth, NULL, &e);
        if (depth == 128) {
            LX_CHECK(t, d != NULL);
        } else {
            LX_CHECK(t, d == NULL && e.code == LEXIE_E_RANGE);
            LX_CHECK(t, strstr(e.message, "nesting deeper than 128") != NULL);
        }
        lx_json_doc_free(d);
    }
    memset(s, '[', n);
    memset(s + n, ']', n);
    lexie_error e;
    LX_CHECK(t, lx_json_parse(s, 2 * n, NULL, &e) == NULL && e.code == LEXIE_E_RANGE);
    lx_json_limits lim = {4, 0, 0};
    lx_json_doc *d0;
    LX_CHECK(t, (d0 = lx_json_parse("[[[[1]]]]", 9, &lim, &e)) != NULL);
    lx_json_doc_free(d0);
    LX_CHECK(t, lx_json_parse("[[[[[1]]]]]", 11, &lim, &e) == NULL);
    LX_CHECK(t, strstr(e.message, "column 5: nesting deeper than 4") != NULL);
    lim.max_depth = 0;
    lim.max_bytes = 8;
    LX_CHECK(t, lx_json_parse("[1,2,3,4]", 9, &lim, &e) == NULL && e.code == LEXIE_E_RANGE);
    free(s);

    /* A wide array and a wide object exercise the scratch stack. */
    lx_jbuf b = {0};
    lx_jbuf_putc(&b, '{');
    for (int k = 0; k < 5000; k++) lx_jbuf_printf(&b, "%s\"k%d\":[%d]", k ? "," : "", k, k);
    lx_jbuf_putc(&b, '}');
    lx_json_doc *d = lx_json_parse(b.data, b.len, NULL, &e);
    LX_REQUIRE(t, d);
    LX_CHECK_INT(t, lx_json_root(d)->n, 5000);
    int64_t v;
    LX_CHECK(t, lx_json_int(lx_json_at(lx_json_get(lx_json_root(d), "k4321"), 0), &v) && v == 4321);
    lx_json_doc_free(d);
    lx_jbuf_free(&b);
}

static void test_utf8(lx_t *t) {
    expect_fail(t, "\"ab\xff\"", LEXIE_E_UTF8, "line 1, column 4: invalid UTF-8");
    expect_fail(t, "\"\xc0\xaf\"", LEXIE_E_UTF8, "invalid UTF-8");         /* overlong */
    expect_fail(t, "\"\xed\xa0\x80\"", LEXIE_E_UTF8, "invalid UTF-8");     /* surrogate */
    expect_fail(t, "\"\xf4\x90\x80\x80\"", LEXIE_E_UTF8, "invalid UTF-8"); /* > U+10FFFF */
    expect_fail(t, "\"\xe2\x82\"", LEXIE_E_UTF8, "invalid UTF-8");         /* truncated */
    expect_fail(t, "{\"k\xe9y\": 1}", LEXIE_E_UTF8, "invalid UTF-8");      /* in a key */
}

static void test_dup_keys(lx_t *t) {
    expect_fail(t, "{\"a\": 1, \"b\": 2, \"a\": 3}", LEXIE_E_FORMAT,
                "column 23: duplicate key \"a\"");
    expect_fail(t, "{\"x\": {\"y\": 1, \"y\": 1}}", LEXIE_E_FORMAT, "duplicate key \"y\"");
    /* Keys equal after decoding escapes are duplicates too. */
    expect_fail(t, "{\"\\u0061\": 1, \"a\": 2}", LEXIE_E_FORMAT, "duplicate key");
    /* A big object goes through the sort-based check. */
    lx_jbuf b = {0};
    lx_jbuf_putc(&b, '{');
    for (int k = 0; k < 100; k++) lx_jbuf_printf(&b, "%s\"k%d\":%d", k ? "," : "", k, k);
    lx_jbuf_puts(&b, ",\"k57\":0}");
    lexie_error e;
    LX_CHECK(t, lx_json_parse(b.data, b.len, NULL, &e) == NULL);
    LX_CHECK(t, strstr(e.message, "duplicate key \"k57\"") != NULL);
    /* Allowed on request: the last one wins. */
    lx_json_limits lim = {0, 0, 1};
    lx_json_doc *d = lx_json_parse(b.data, b.len, &lim, &e);
    LX_REQUIRE(t, d);
    int64_t v;
    LX_CHECK(t, lx_json_int(lx_json_get(lx_json_root(d), "k57"), &v) && v == 0);
    lx_json_doc_free(d);
    lx_jbuf_free(&b);
    /* Keys that share a prefix are not duplicates. */
    d = lx_json_parse("{\"a\":1,\"ab\":2,\"\":3}", 19, NULL, &e);
    LX_CHECK(t, d != NULL);
    lx_json_doc_free(d);
}

static void test_writer(lx_t *t) {
    lx_jbuf b = {0};
    const char *raw = "q\"\\\n\t\x01\x7f caf\xc3\xa9 \xe2\x80\xa8 bad\xff!";
    lx_jbuf_str(&b, raw, strlen(raw));
    LX_CHECK_MSG(
        t, strcmp(b.data, "\"q\\\"\\\\\\n\\t\\u0001\\u007f caf\xc3\xa9 \\u2028 bad\\ufffd!\"") == 0,
        "got %s", b.data);
    lx_jbuf_reset(&b);
    LX_CHECK_INT(t, b.len, 0);
    lx_jbuf_num(&b, 0.1);
    lx_jbuf_putc(&b, ' ');
    lx_jbuf_num(&b, 1.0 / 3.0);
    lx_jbuf_putc(&b, ' ');
    lx_jbuf_num(&b, 1e300 * 1e300);
    lx_jbuf_putc(&b, ' ');
    lx_jbuf_int(&b, -42);
    lx_jbuf_putc(&b, ' ');
    lx_jbuf_cstr(&b, NULL);
    LX_CHECK_MSG(t, strcmp(b.data, "0.1 0.3333333333333333 null -42 null") == 0, "got %s", b.data);
    LX_CHECK_INT(t, lx_jbuf_status(&b, NULL), LEXIE_OK);
    lx_jbuf_free(&b);

    /* Round trip: parse, write, parse again, write again: same bytes. */
    const char *src =
        "{\"id\":\"x-1\",\"n\":[1,2.50,-3e2,true,null],\"s\":\"\\u00e9\\ud83d\\ude00\\n\","
        "\"o\":{\"k\":{}}}";
    lexie_error e;
    lx_json_doc *d = parse(src, &e);
    LX_REQUIRE(t, d);
    lx_jbuf_value(&b, lx_json_root(d));
    lx_json_doc *d2 = lx_json_parse(b.data, b.len, NULL, &e);
    LX_REQUIRE(t, d2);
    lx_jbuf b2 = {0};
    lx_jbuf_value(&b2, lx_json_root(d2));
    LX_CHECK(t, b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0);
    LX_CHECK(t, strstr(b.data, "2.50") != NULL); /* number source text kept */
    LX_CHECK(t, strstr(b.data, "\xc3\xa9\xf0\x9f\x98\x80\\n") != NULL); /* decoded, re-escaped */
    lx_json_doc_free(d);
    lx_json_doc_free(d2);
    lx_jbuf_free(&b);
    lx_jbuf_free(&b2);
}

static void test_file(lx_t *t) {
    lexie_error e;
    LX_CHECK(t, lx_json_parse_file("/nonexistent/x.json", NULL, &e) == NULL);
    LX_CHECK_INT(t, e.code, LEXIE_E_IO);
    LX_CHECK(t, strstr(e.message, "/nonexistent/x.json") != NULL);
    char path[] = "/tmp/lexie_test_json_XXXXXX";
    int fd = mkstemp(path);
    LX_REQUIRE(t, fd >= 0);
    FILE *f = fdopen(fd, "w");
    LX_REQUIRE(t, f);
    fputs("{\n  \"a\": 1,\n  \"a\": 2\n}\n", f);
    fclose(f);
    LX_CHECK(t, lx_json_parse_file(path, NULL, &e) == NULL);
    LX_CHECK_MSG(t, strstr(e.message, ": line 3, column 8: duplicate key \"a\"") != NULL, "%s",
                 e.message);
    remove(path);
}

void suite_json(void) {
    LX_RUN(test_values);
    LX_RUN(test_escapes);
    LX_RUN(test_malformed);
    LX_RUN(test_numbers);
    LX_RUN(test_limits);
    LX_RUN(test_utf8);
    LX_RUN(test_dup_keys);
    LX_RUN(test_writer);
    LX_RUN(test_file);
}
