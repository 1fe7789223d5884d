/*
** test_ie_input.c -- the input every extraction task reads: <e1>/<e2>
** markers (internal and public), lexie's JSONL input line (fields, spans,
** error messages, the public lexie_re_line_parse with its line numbers),
** and finding a schema by name or path.
*/
#include "ie/ie.h"
#include "re_fixture.h"

#include <stdlib.h>
#include <string.h>

static void test_markers(lx_t *t) {
    char *text;
    int h0, h1, t0, t1;
    lexie_error e;
    LX_REQUIRE(t, lx_re_parse_markers("A <e1>caf\xc3\xa9</e1> near the <e2>na\xc3\xafve</e2> bar",
                                      &text, &h0, &h1, &t0, &t1, &e) == LEXIE_OK);
    LX_CHECK(t, strcmp(text, "A caf\xc3\xa9 near the na\xc3\xafve bar") == 0);
    LX_CHECK(t, h0 == 2 && h1 == 6 && t0 == 16 && t1 == 21);
    lx_re_item it = {NULL, 0, text, h0, h1, t0, t1, NULL, NULL, NULL};
    char *back = lx_re_add_markers(&it, &e);
    LX_CHECK(t, back &&
                    strcmp(back, "A <e1>caf\xc3\xa9</e1> near the <e2>na\xc3\xafve</e2> bar") == 0);
    free(back);
    free(text);
    /* e2 first is fine. */
    LX_REQUIRE(t, lx_re_parse_markers("<e2>b</e2> <e1>a</e1>", &text, &h0, &h1, &t0, &t1, &e) ==
                      LEXIE_OK);
    LX_CHECK(t, h0 == 2 && h1 == 3 && t0 == 0 && t1 == 1);
    free(text);
    LX_CHECK(t,
             lx_re_parse_markers("<e1>a</e1> b", &text, &h0, &h1, &t0, &t1, &e) == LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(e.message, "<e2> is missing") != NULL);
    LX_CHECK(t, lx_re_parse_markers("<e1>a <e2>b</e1></e2>", &text, &h0, &h1, &t0, &t1, &e) ==
                    LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(e.message, "overlap") != NULL);
    LX_CHECK(t, lx_re_parse_markers("</e1>a<e1> <e2>b</e2>", &text, &h0, &h1, &t0, &t1, &e) ==
                    LEXIE_E_FORMAT);
    LX_CHECK(t, lx_re_parse_markers("<e1></e1> <e2>b</e2>", &text, &h0, &h1, &t0, &t1, &e) ==
                    LEXIE_E_FORMAT);
    LX_CHECK(t, lx_re_parse_markers("<e1>a</e1> <e1>x</e1> <e2>b</e2>", &text, &h0, &h1, &t0, &t1,
                                    &e) == LEXIE_E_FORMAT);
}

static void test_jsonl_input(lx_t *t) {
    static const struct {
        const char *line, *err;
    } bad[] = {{"{\"id\": 1, \"text\": \"ab cd\", \"head\": {\"start\": 0, \"end\": 2}, \"tail\": "
                "{\"start\": 3, \"end\": 9}}",
                "tail span [3, 9) is empty or past the text's 5 code points"},
               {"{\"id\": 1, \"text\": \"ab cd\", \"head\": {\"start\": 0, \"end\": 2, \"text\": "
                "\"xy\"}, \"tail\": {\"start\": 3, "
                "\"end\": 5}}",
                "head.text \"xy\" differs"},
               {"{\"id\": [1], \"text\": \"x\"}", "\"id\" must be a string or a number"},
               {"{\"id\": 1, \"text\": \"plain\"}", "marker <e1> is missing"},
               {"{\"id\": 1, \"text\": 5}", "\"text\" must be a string"},
               {"{\"id\": 1, \"text\": \"ab\", \"head\": {\"start\": -1, \"end\": 1}, \"tail\": "
                "{\"start\": 1, \"end\": 2}}",
                "non-negative integers"},
               {"[1]", "must be a JSON object"}};
    lexie_error e;
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        lx_json_doc *d = lx_json_parse(bad[i].line, strlen(bad[i].line), NULL, &e);
        LX_REQUIRE(t, d);
        lx_re_item it;
        LX_CHECK(t, lx_re_item_from_json(lx_json_root(d), &it, &e) == LEXIE_E_FORMAT);
        LX_CHECK_MSG(t, strstr(e.message, bad[i].err) != NULL, "'%s' lacks '%s'", e.message,
                     bad[i].err);
        lx_json_doc_free(d);
    }
    const char *ok = "{\"id\": \"x1\", \"text\": \"\xc3\xa9t\xc3\xa9 \xc3\xa0 Paris\", \"head\": "
                     "{\"start\": 0, \"end\": 3, "
                     "\"type\": \"DATE\", \"text\": \"\xc3\xa9t\xc3\xa9\"}, \"tail\": {\"start\": "
                     "6, \"end\": 11}, \"label\": \"in\"}";
    lx_json_doc *d = lx_json_parse(ok, strlen(ok), NULL, &e);
    LX_REQUIRE(t, d);
    lx_re_item it;
    LX_REQUIRE(t, lx_re_item_from_json(lx_json_root(d), &it, &e) == LEXIE_OK);
    LX_CHECK(t, !it.id_is_num && strcmp(it.id, "x1") == 0 && strcmp(it.h_type, "DATE") == 0 &&
                    !it.t_type);
    LX_CHECK(t, it.t_start == 6 && it.t_end == 11 && strcmp(it.gold, "in") == 0);
    lx_jbuf b = {0};
    lx_re_item_to_json(&b, &it);
    LX_CHECK_MSG(t,
                 strstr(b.data, "\"tail\":{\"start\":6,\"end\":11,\"byte_start\":9,\"byte_end\":14,"
                                "\"text\":\"Paris\"}") != NULL,
                 "%s", b.data);
    lx_jbuf_free(&b);
    lx_re_item_free(&it);
    lx_json_doc_free(d);
}

/* The public face: what `lexie relations` and Python parse lines with. */
static void test_public_line(lx_t *t) {
    lexie_re_line l = {0};
    lexie_error e;
    const char *ok =
        "{\"id\": 7, \"text\": \"<e1>Ann</e1> met <e2>Bob</e2>\", \"label\": \"knows\"}";
    LX_REQUIRE(t, lexie_re_line_parse(ok, strlen(ok), 3, &l, &e) == LEXIE_OK);
    LX_CHECK(t, l.id && strcmp(l.id, "7") == 0 && l.label && strcmp(l.label, "knows") == 0);
    LX_CHECK(t, strcmp(l.ex.text, "Ann met Bob") == 0 && l.ex.head_start == 0 &&
                    l.ex.head_end == 3 && l.ex.tail_start == 8 && l.ex.tail_end == 11);
    LX_CHECK(t, !l.ex.head_type && !l.ex.tail_type);
    lexie_re_line_clear(&l);
    LX_CHECK(t, l.id == NULL && l.ex.text == NULL);
    /* A bad line keeps its id (as JSON text, for the error line) and says
    ** which line, in the CLI's words. */
    const char *bad = "{\"id\": \"x\", \"text\": 5}";
    LX_CHECK(t, lexie_re_line_parse(bad, strlen(bad), 4, &l, &e) == LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strcmp(e.message, "line 4: \"text\" must be a string") == 0, "%s", e.message);
    LX_CHECK(t, l.id && strcmp(l.id, "\"x\"") == 0);
    lexie_re_line_clear(&l);
    LX_CHECK(t, lexie_re_line_parse(bad, strlen(bad), 0, &l, &e) == LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strcmp(e.message, "\"text\" must be a string") == 0, "%s", e.message);
    lexie_re_line_clear(&l);
    const char *torn = "{\"id\": 1, \"text\"";
    LX_CHECK(t, lexie_re_line_parse(torn, strlen(torn), 9, &l, &e) == LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strncmp(e.message, "line 9, column ", 15) == 0, "%s", e.message);
    LX_CHECK(t, l.id == NULL);
    const char *typed =
        "{\"text\": \"ab cd\", \"head\": {\"start\": 0, \"end\": 2, \"type\": \"PER\"}, "
        "\"tail\": {\"start\": 3, \"end\": 5, \"type\": \"LOC\"}}";
    LX_REQUIRE(t, lexie_re_line_parse(typed, strlen(typed), 1, &l, &e) == LEXIE_OK);
    LX_CHECK(t, l.id == NULL && l.label == NULL && strcmp(l.ex.head_type, "PER") == 0 &&
                    strcmp(l.ex.tail_type, "LOC") == 0 && l.ex.tail_start == 3);
    lexie_re_line_clear(&l);
    LX_CHECK(t, lexie_re_line_parse(NULL, 0, 1, &l, &e) == LEXIE_E_INVALID);
    char *text = (char *)"x";
    int sp[4];
    LX_REQUIRE(t, lexie_re_parse_markers("<e2>b</e2> <e1>a</e1>", &text, sp, &e) == LEXIE_OK);
    LX_CHECK(t, strcmp(text, "b a") == 0 && sp[0] == 2 && sp[1] == 3 && sp[2] == 0 && sp[3] == 1);
    lexie_free(text);
    LX_CHECK(t, lexie_re_parse_markers("<e1>a</e1>", &text, sp, &e) == LEXIE_E_FORMAT);
    LX_CHECK(t, text == NULL && strstr(e.message, "<e2> is missing"));
    LX_CHECK(t, lexie_re_parse_markers("<e1>\xff</e1><e2>b</e2>", &text, sp, &e) == LEXIE_E_UTF8);
}

static void test_schema_find(lx_t *t) {
    char *p = NULL, dir[] = "/tmp/lexie_test_schemas_XXXXXX", want[256];
    lexie_error e;
    LX_CHECK(t, lexie_re_schema_find("/nonexistent/s.json", NULL, 0, &p, &e) == LEXIE_E_IO);
    LX_CHECK(t, p == NULL && strstr(e.message, "schema /nonexistent/s.json: ") != NULL);
    LX_CHECK(t, lexie_re_schema_find("no_such_schema_x", NULL, 0, &p, &e) == LEXIE_E_NOT_FOUND);
    LX_CHECK(t, strstr(e.message, "no schema 'no_such_schema_x'") != NULL);
    LX_CHECK(t, lexie_re_schema_find("", NULL, 0, &p, &e) == LEXIE_E_INVALID);
    /* A name found in one of the caller's folders. */
    LX_REQUIRE(t, mkdtemp(dir));
    snprintf(want, sizeof want, "%s/mine_x.json", dir);
    FILE *f = fopen(want, "w");
    LX_REQUIRE(t, f);
    fputs("{}", f);
    fclose(f);
    const char *dirs[2] = {"/nonexistent", dir};
    LX_CHECK(t, lexie_re_schema_find("mine_x", dirs, 1, &p, &e) == LEXIE_E_NOT_FOUND);
    LX_REQUIRE(t, lexie_re_schema_find("mine_x", dirs, 2, &p, &e) == LEXIE_OK);
    LX_CHECK_MSG(t, strcmp(p, want) == 0, "%s", p);
    lexie_free(p);
    /* A path is a path, readable or not, whatever the folders hold. */
    LX_REQUIRE(t, lexie_re_schema_find(want, NULL, 0, &p, &e) == LEXIE_OK);
    LX_CHECK(t, strcmp(p, want) == 0);
    lexie_free(p);
    remove(want);
    rmdir(dir);
    /* The built-in ones, from ./schemas when the tests run at the root. */
    if (access("schemas/semeval.json", R_OK) == 0 && !getenv("LEXIE_SCHEMAS")) {
        LX_REQUIRE(t, lexie_re_schema_find("semeval", NULL, 0, &p, &e) == LEXIE_OK);
        LX_CHECK(t, strcmp(p, "schemas/semeval.json") == 0);
        lexie_free(p);
    }
}

void suite_ie_input(void) {
    LX_RUN(test_markers);
    LX_RUN(test_jsonl_input);
    LX_RUN(test_public_line);
    LX_RUN(test_schema_find);
}
