/*
** test_view.c -- the HTML view of extraction results (src/ie/view*.c,
** lexie_view_html, `lexie view`): escaping, nested and crossing spans,
** UTF-16 offsets beyond the BMP, rebuilt texts, every kind of bad line,
** allocation failures, the CLI, and the page in headless Chromium
** (tests/view_chromium.py, skipped when Chromium is absent).
*/
#include "alloc_fail.h"
#include "lx_test.h"

#include "ie/view.h"
#include "lexie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ==== Helpers ==== */

/* The highlighted text as a malloc'd string (NULL on failure). */
static char *draw(const char *text, const unsigned char *known, const lx_view_span *sp, int n,
                  long max_frags, lexie_status *st) {
    lx_jbuf b = {0};
    lx_jbuf_puts(&b, "");
    lexie_error err;
    *st = lx_view_highlight(&b, text, strlen(text), known, sp, n, max_frags, &err);
    return b.data;
}

static lx_view_span span(int start, int end, int id) {
    return (lx_view_span){.start = start, .end = end, .id = id, .color = -1};
}

static int count(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)) != NULL; p += strlen(sub)) n++;
    return n;
}

/* Reads drawn HTML back: every character (entities decoded) goes to the
** text and to each open mark's buffer; texts[id] gets the concatenation
** of that span's fragments, u16[id] its first fragment's data-u.  Returns
** 0 when the tags do not nest. */
typedef struct {
    char text[4096], spans[32][1024];
    int u16[32][2], seen[32];
} parsed;

static int parse_marks(const char *h, parsed *p) {
    static const char *ent[][2] = {{"&amp;", "&"},   {"&lt;", "<"},  {"&gt;", ">"},
                                   {"&quot;", "\""}, {"&#39;", "'"}, {"&#13;", "\r"}};
    int stack[64], depth = 0;
    size_t n_text = 0, n_sp[32] = {0};
    memset(p, 0, sizeof *p);
    while (*h) {
        char c[8] = {0};
        if (strncmp(h, "<mark ", 6) == 0) {
            const char *s = strstr(h, "data-s=\""), *u = strstr(h, "data-u=\"");
            int id = atoi(s + 8);
            if (depth == 64 || id < 0 || id >= 32) return 0;
            if (!p->seen[id]) sscanf(u + 8, "%d %d", &p->u16[id][0], &p->u16[id][1]);
            p->seen[id] = 1;
            stack[depth++] = id;
            h = strchr(h, '>') + 1;
            continue;
        }
        if (strncmp(h, "</mark>", 7) == 0) {
            if (depth == 0) return 0;
            depth--;
            h += 7;
            continue;
        }
        size_t k = 0, adv = 1;
        for (k = 0; k < sizeof ent / sizeof ent[0]; k++)
            if (strncmp(h, ent[k][0], strlen(ent[k][0])) == 0) break;
        if (k < sizeof ent / sizeof ent[0]) {
            strcpy(c, ent[k][1]);
            adv = strlen(ent[k][0]);
        } else {
            c[0] = *h;
        }
        h += adv;
        size_t len = strlen(c);
        if (n_text + len >= sizeof p->text) return 0;
        memcpy(p->text + n_text, c, len);
        n_text += len;
        for (int i = 0; i < depth; i++) {
            if (n_sp[stack[i]] + len >= sizeof p->spans[0]) return 0;
            memcpy(p->spans[stack[i]] + n_sp[stack[i]], c, len);
            n_sp[stack[i]] += len;
        }
    }
    return depth == 0;
}

/* ==== Escaping ==== */

static void test_view_escape(lx_t *t) {
    lx_jbuf b = {0};
    const char in[] = "<script>alert(\"x&y\")</script> it's\r\n\0end \xF0\x9F\x98\x80";
    lx_view_escape(&b, in, sizeof in - 1);
    LX_REQUIRE(t, b.data != NULL);
    LX_CHECK_MSG(t,
                 strcmp(b.data, "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt; "
                                "it&#39;s&#13;\n\xEF\xBF\xBD"
                                "end \xF0\x9F\x98\x80") == 0,
                 "escaped: %s", b.data);
    lx_jbuf_free(&b);
}

/* ==== Highlighting ==== */

static void test_view_nested(lx_t *t) {
    lx_view_span sp[3] = {span(7, 12, 1), span(0, 12, 0), span(0, 12, 2)};
    lexie_status st;
    char *h = draw("Barack Obama was born", NULL, sp, 3, 0, &st);
    LX_REQUIRE(t, h && st == LEXIE_OK);
    /* The longest first; equal ranges nest by id; nothing splits. */
    const char *want = "<mark class=\"tx\" data-s=\"0\" data-l=\"entity\" data-u=\"0 12\">"
                       "<mark class=\"tx\" data-s=\"2\" data-l=\"entity\" data-u=\"0 12\">Barack "
                       "<mark class=\"tx\" data-s=\"1\" data-l=\"entity\" data-u=\"7 12\">Obama"
                       "</mark></mark></mark> was born";
    LX_CHECK_MSG(t, strcmp(h, want) == 0, "got %s", h);
    free(h);
}

static void test_view_crossing(lx_t *t) {
    lx_view_span sp[2] = {span(0, 5, 0), span(3, 8, 1)};
    sp[1].type = "T\"<";
    sp[1].title = "a&b";
    sp[1].color = 3;
    sp[1].fuzzy = sp[1].warn = 1;
    sp[1].layer = LX_VIEW_TRIPLE;
    lexie_status st;
    char *h = draw("abcdefghij", NULL, sp, 2, 0, &st);
    LX_REQUIRE(t, h && st == LEXIE_OK);
    const char *attrs = " data-s=\"1\" data-l=\"triple\" data-u=\"3 8\" data-type=\"T&quot;&lt;\" "
                        "title=\"a&amp;b\">";
    char want[1024];
    snprintf(want, sizeof want,
             "<mark class=\"tx\" data-s=\"0\" data-l=\"entity\" data-u=\"0 5\">abc"
             "<mark class=\"t3 fuzzy warn\"%sde</mark></mark>"
             "<mark class=\"t3 cont fuzzy warn\"%sfgh</mark>ij",
             attrs, attrs);
    LX_CHECK_MSG(t, strcmp(h, want) == 0, "got %s", h);
    free(h);
}

static void test_view_bad_spans_skipped(lx_t *t) {
    lx_view_span sp[5] = {span(-1, 2, 0), span(2, 2, 1), span(3, 2, 2), span(0, 5, 3),
                          span(1, 3, 4)};
    lexie_status st;
    char *h = draw("a\xC3\xA9\xF0\x9F\x98\x80z", NULL, sp, 5, 0, &st); /* 4 code points */
    LX_REQUIRE(t, h && st == LEXIE_OK);
    LX_CHECK_INT(t, count(h, "<mark"), 1);
    LX_CHECK(t, strstr(h, "data-s=\"4\"") != NULL);
    /* é is one UTF-16 unit, the emoji two: [1, 3) in code points is [1, 4). */
    LX_CHECK_MSG(t, strstr(h, "data-u=\"1 4\">\xC3\xA9\xF0\x9F\x98\x80</mark>z") != NULL, "%s", h);
    free(h);
}

static void test_view_utf16(lx_t *t) {
    /* "a😀b👩‍🔬c€": a, U+1F600 (2 units), b, U+1F469 ZWJ U+1F52C (5 units), c, € */
    const char *text = "a\xF0\x9F\x98\x80"
                       "b\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x94\xAC"
                       "c\xE2\x82\xAC";
    lx_view_span sp[4] = {span(1, 2, 0), span(2, 3, 1), span(3, 6, 2), span(6, 8, 3)};
    lexie_status st;
    char *h = draw(text, NULL, sp, 4, 0, &st);
    LX_REQUIRE(t, h && st == LEXIE_OK);
    parsed p;
    LX_REQUIRE(t, parse_marks(h, &p));
    static const int want[4][2] = {{1, 3}, {3, 4}, {4, 9}, {9, 11}};
    for (int i = 0; i < 4; i++) {
        LX_CHECK_INT(t, p.u16[i][0], want[i][0]);
        LX_CHECK_INT(t, p.u16[i][1], want[i][1]);
    }
    LX_CHECK(t, strcmp(p.spans[2], "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x94\xAC") == 0);
    LX_CHECK(t, strcmp(p.spans[3], "c\xE2\x82\xAC") == 0);
    LX_CHECK(t, strcmp(p.text, text) == 0);
    free(h);
}

static unsigned long long rng_next(unsigned long long *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random texts (with multi-byte characters, markup and CR) and random
** overlapping spans: the marks always nest, the text reads back whole,
** and each span's fragments read back as its slice with the right UTF-16
** offsets. */
static void test_view_random_overlaps(lx_t *t) {
    static const char *alpha[] = {
        "a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "<", "&", "\r", "\"", " "};
    unsigned long long seed = 0x9E3779B97F4A7C15ull;
    for (int iter = 0; iter < 300; iter++) {
        char text[512] = "";
        int off[65], u16[65], n = 1 + (int)(rng_next(&seed) % 60);
        off[0] = u16[0] = 0;
        for (int i = 0; i < n; i++) {
            const char *c = alpha[rng_next(&seed) % (sizeof alpha / sizeof alpha[0])];
            strcat(text, c);
            off[i + 1] = (int)strlen(text);
            u16[i + 1] = u16[i] + (strlen(c) == 4 ? 2 : 1);
        }
        lx_view_span sp[20];
        int ns = (int)(rng_next(&seed) % 20);
        for (int k = 0; k < ns; k++) {
            int a = (int)(rng_next(&seed) % (unsigned)(n + 1)),
                b = (int)(rng_next(&seed) % (unsigned)(n + 1));
            sp[k] = span(LX_MIN(a, b), LX_MAX(a, b), k);
        }
        lexie_status st;
        char *h = draw(text, NULL, sp, ns, 0, &st);
        parsed p;
        LX_REQUIRE(t, h && st == LEXIE_OK);
        LX_REQUIRE(t, parse_marks(h, &p));
        LX_CHECK(t, strcmp(p.text, text) == 0);
        for (int k = 0; k < ns; k++) {
            if (sp[k].start == sp[k].end) {
                LX_CHECK(t, !p.seen[k]);
                continue;
            }
            int len = off[sp[k].end] - off[sp[k].start];
            LX_CHECK_MSG(t,
                         p.seen[k] && (int)strlen(p.spans[k]) == len &&
                             memcmp(p.spans[k], text + off[sp[k].start], (size_t)len) == 0,
                         "iter %d span %d [%d, %d) in %s", iter, k, sp[k].start, sp[k].end, h);
            LX_CHECK_INT(t, p.u16[k][0], u16[sp[k].start]);
            LX_CHECK_INT(t, p.u16[k][1], u16[sp[k].end]);
        }
        free(h);
        if (t->failed) return;
    }
}

static void test_view_fragment_budget(lx_t *t) {
    /* A chain of mutually crossing spans needs ~n^2/2 fragments. */
    char text[201];
    memset(text, 'x', 200);
    text[200] = 0;
    lx_view_span sp[100];
    for (int k = 0; k < 100; k++) sp[k] = span(k, k + 100, k);
    lx_jbuf b = {0};
    lx_jbuf_puts(&b, "kept");
    lexie_error err;
    lexie_status st = lx_view_highlight(&b, text, 200, NULL, sp, 100, 500, &err);
    LX_CHECK_INT(t, st, LEXIE_E_RANGE);
    LX_CHECK(t, strstr(err.message, "fragments") != NULL);
    LX_CHECK(t, b.len == 4 && strcmp(b.data, "kept") == 0);
    lx_jbuf_free(&b);
}

static void test_view_gaps(lx_t *t) {
    const unsigned char known[8] = {1, 1, 0, 0, 0, 1, 0, 1};
    lx_view_span sp[1] = {span(0, 2, 0)};
    lexie_status st;
    char *h = draw("ab   c d", known, sp, 1, 0, &st);
    LX_REQUIRE(t, h && st == LEXIE_OK);
    LX_CHECK_INT(t, count(h, "class=\"gap\""), 2);
    LX_CHECK(t, strstr(h, "title=\"3 characters not in any span\"") != NULL);
    LX_CHECK(t, strstr(h, ">ab</mark><span class=\"gap\"") != NULL);
    free(h);
}

/* ==== Pages ==== */

static const char page_docs[] =
    "{\"id\": \"a\", \"text\": \"Ada Lovelace met <b>Babbage</b> & co \xF0\x9F\x98\x80 in "
    "London.\"}\n"
    "{\"id\": 7, \"text\": \"Zo\\u00eb works.\"}\r\n"
    "not json\n"
    "\n"
    "{\"id\": \"a\", \"text\": \"a repeated id\"}\n"
    "{\"id\": \"t\"}\n";

#define E(type, text, s, e, match)                                                                 \
    "{\"type\": \"" type "\", \"text\": \"" text "\", \"start\": " #s ", \"end\": " #e             \
    ", \"match\": \"" match "\", \"confidence\": 0.5}"

/* clang-format off */
static const char page_results[] =
    "{\"id\": \"a\", \"entities\": ["
        E("PER", "Ada Lovelace", 0, 12, "exact") ", "
        E("PER", "<b>Babbage</b>", 17, 31, "exact") ", "
        E("LOC", "London", 42, 48, "fuzzy") ", "
        "{\"type\": \"ORG\", \"model_text\": \"Royal\", \"match\": \"none\", \"confidence\": 0.1}, "
        E("X", "zz", 40, 99, "exact") ", "
        E("PER", "Ada", 4, 7, "exact") "], "
    "\"relations\": [{\"head\": 0, \"tail\": 1, \"label\": \"met\", \"confidence\": 0.7}, "
        "{\"head\": 0, \"tail\": 9, \"label\": \"x\"}]}\n"
    "{\"id\": 7, \"entities\": [{\"type\": \"PER\", \"text\": \"Zo\\u00eb\", \"start\": 0, \"end\": 3, "
        "\"byte_start\": 0, \"byte_end\": 4, \"match\": \"exact\"}]}\n"
    "{\"id\": \"nope\", \"entities\": [" E("PER", "Ada", 0, 3, "exact") "]}\n"
    "{\"id\": \"e\", \"error\": {\"code\": \"format\", \"message\": \"<img src=x onerror=f()>\"}}\n"
    "{\"id\": \"cut\", \"entities\": [\n"
    "[1, 2]\n"
    "{\"id\": \"m\", \"entities\": 5, \"events\": [{\"type\": \"Go\", "
        "\"trigger\": " E("", "works", 5, 10, "exact") ", "
        "\"arguments\": [{\"text\": \"x\", \"match\": \"none\"}]}]}\n";
/* clang-format on */

static void test_view_page(lx_t *t) {
    char *page = NULL;
    size_t n = 0;
    lexie_view_stats s;
    lexie_error err;
    lexie_status st = lexie_view_html(page_results, sizeof page_results - 1, page_docs,
                                      sizeof page_docs - 1, "T<itle>", &page, &n, &s, &err);
    LX_REQUIRE(t, st == LEXIE_OK && page);
    LX_CHECK_INT(t, strlen(page), n);
    LX_CHECK_INT(t, s.n_docs, 5);          /* a, 7, nope, e, m */
    LX_CHECK_INT(t, s.n_error_lines, 1);   /* e */
    LX_CHECK_INT(t, s.n_bad_lines, 4);     /* a (relation), cut, [1, 2], m (entities 5, role) */
    LX_CHECK_INT(t, s.n_bad_doc_lines, 3); /* not json, no text, the repeated id */
    LX_CHECK_INT(t, s.n_missing_docs, 2);  /* nope, m */
    LX_CHECK_INT(t, s.n_spans, 6 + 1 + 1 + 2);
    LX_CHECK_INT(t, s.n_match[LEXIE_MATCH_EXACT], 7);
    LX_CHECK_INT(t, s.n_match[LEXIE_MATCH_FUZZY], 1);
    LX_CHECK_INT(t, s.n_match[LEXIE_MATCH_NONE], 2);
    /* none, [40, 99), "Ada" at [4, 7) and the role-less argument */
    LX_CHECK_INT(t, s.n_flagged, 5); /* and the relation to entity 9 */
    /* Only the page's own script; document text and messages stay text. */
    LX_CHECK_INT(t, count(page, "<script"), 1);
    LX_CHECK_INT(t, count(page, "</script>"), 1);
    LX_CHECK(t, strstr(page, "<b>Babbage") == NULL && strstr(page, "<img") == NULL);
    LX_CHECK(t, strstr(page, "&lt;img src=x onerror=f()&gt;") != NULL);
    LX_CHECK(t, strstr(page, "<title>T&lt;itle&gt;</title>") != NULL);
    LX_CHECK(t, strstr(page, "script-src 'sha256-") != NULL);
    LX_CHECK(t, strstr(page, "http:") == NULL && strstr(page, "https:") == NULL);
    /* London comes after the emoji: 42 code points, 43 UTF-16 units. */
    LX_CHECK(t, strstr(page, "data-u=\"43 49\" data-type=\"LOC\"") != NULL);
    LX_CHECK(t, strstr(page, "class=\"t1 fuzzy\"") != NULL);
    /* "Ada" at [4, 7) is drawn, with a warning: the document says "Lov". */
    LX_CHECK(t, strstr(page, "warn\" data-s=\"5\"") != NULL);
    LX_CHECK(t, strstr(page, "not found in the text (match none)") != NULL);
    LX_CHECK(t, strstr(page, "offsets [40, 99) outside the text (49 code points)") != NULL);
    LX_CHECK(t, strstr(page, "data-s=\"4\" data-l") == NULL);  /* the out-of-range one */
    LX_CHECK(t, strstr(page, "<li data-ss=\"0 1\">") != NULL); /* the relation */
    LX_CHECK(t, strstr(page, "head 0 and tail 9 must index the 6 entities") != NULL);
    LX_CHECK(t, strstr(page, "results line 5:") != NULL);
    LX_CHECK(t, strstr(page, "results line 6: not an object") != NULL);
    LX_CHECK(t, strstr(page, "docs line 3:") != NULL);
    LX_CHECK(t, strstr(page, "id not in the documents") != NULL);
    LX_CHECK(t, strstr(page, "\"entities\" is not an array") != NULL);
    LX_CHECK(t, strstr(page, "malformed: no &quot;role&quot;") != NULL);
    LX_CHECK(t, strstr(page, "Zo\xC3\xAB</mark> works.") != NULL); /* id 7, the number */
    lexie_free(page);
}

static void test_view_rebuild(lx_t *t) {
    /* clang-format off */
    static const char res[] =
        "{\"id\": 1, \"entities\": ["
            E("A", "Ada", 0, 3, "exact") ", "
            E("A", "Lovelace", 4, 12, "exact") ", "
            E("B", "Adb", 0, 3, "exact") ", "            /* disagrees with Ada */
            E("B", "Love", 4, 9, "exact") ", "           /* 4 code points for 5 */
            "{\"type\": \"C\", \"start\": 20, \"end\": 22, \"match\": \"exact\"}, " /* no text */
            E("D", "far", 5000000, 5000003, "exact") "]}\n";
    /* clang-format on */
    char *page = NULL;
    lexie_view_stats s;
    LX_REQUIRE(t, lexie_view_html(res, sizeof res - 1, NULL, 0, NULL, &page, NULL, &s, NULL) ==
                      LEXIE_OK);
    LX_CHECK_INT(t, s.n_flagged, 4);
    LX_CHECK(t, strstr(page, "class=\"text\" data-exact") == NULL); /* rebuilt: no self-check */
    LX_CHECK(t, strstr(page, ">Ada</mark><span class=\"gap\" title=\"1 characters not in any "
                             "span\">\xE2\x80\xA6</span><mark") != NULL);
    LX_CHECK(t, strstr(page, "its text disagrees with another span") != NULL);
    LX_CHECK(t, strstr(page, "its text is not as long as its offsets say") != NULL);
    LX_CHECK(t, strstr(page, "no text to rebuild the document from") != NULL);
    LX_CHECK(t, strstr(page, "offsets beyond") != NULL);
    LX_CHECK(t, strstr(page, "no documents given") != NULL);
    lexie_free(page);
    /* Nothing at all is still a page. */
    LX_REQUIRE(t, lexie_view_html("", 0, "", 0, NULL, &page, NULL, &s, NULL) == LEXIE_OK);
    LX_CHECK(t, strstr(page, "0 documents") != NULL && strstr(page, "</html>") != NULL);
    lexie_free(page);
    lexie_error err;
    LX_CHECK_INT(t, lexie_view_html(NULL, 3, NULL, 0, NULL, &page, NULL, NULL, &err),
                 LEXIE_E_INVALID);
    LX_CHECK(t, page == NULL);
    LX_CHECK_INT(t, lexie_view_html("", 0, NULL, 0, NULL, NULL, NULL, NULL, &err), LEXIE_E_INVALID);
}

/* Lists and the table cut a long span's text; the highlight keeps it whole. */
static void test_view_clipped(lx_t *t) {
    char res[1024], docs[512], whole[300];
    memset(whole, 'y', 200);
    whole[200] = 0;
    snprintf(docs, sizeof docs, "{\"id\": 1, \"text\": \"%s\"}\n", whole);
    snprintf(res, sizeof res,
             "{\"id\": 1, \"entities\": [{\"type\": \"A\", \"text\": \"%s\", \"start\": 0, "
             "\"end\": 200, \"match\": \"exact\"}]}\n",
             whole);
    char *page = NULL;
    LX_REQUIRE(t, lexie_view_html(res, strlen(res), docs, strlen(docs), NULL, &page, NULL, NULL,
                                  NULL) == LEXIE_OK);
    LX_CHECK_INT(t, count(page, whole), 1); /* the highlight */
    whole[160] = 0;
    char cut[400];
    snprintf(cut, sizeof cut, "<td>%s\xE2\x80\xA6</td>", whole);
    LX_CHECK(t, strstr(page, cut) != NULL); /* the table row */
    lexie_free(page);
}

/* The n-th allocation fails, for every n: an out-of-memory error or the
** same page, and nothing leaks. */
static void test_view_alloc_failures(lx_t *t) {
    char *want = NULL, *page = NULL;
    size_t n_want = 0, n = 0;
    LX_REQUIRE(t,
               lexie_view_html(page_results, sizeof page_results - 1, page_docs,
                               sizeof page_docs - 1, NULL, &want, &n_want, NULL, NULL) == LEXIE_OK);
    int failed = 1;
    for (long at = 1; failed && at < 100000; at++) {
        lexie_error err;
        lx_alloc_begin(at, 0);
        lexie_status st = lexie_view_html(page_results, sizeof page_results - 1, page_docs,
                                          sizeof page_docs - 1, NULL, &page, &n, NULL, &err);
        if (st == LEXIE_OK) {
            LX_CHECK_MSG(t, n == n_want && memcmp(page, want, n) == 0, "alloc %ld: other page", at);
            lexie_free(page);
        } else {
            LX_CHECK_MSG(t, st == LEXIE_E_NOMEM && page == NULL, "alloc %ld: status %d", at, st);
        }
        long n_allocs;
        long leaks = lx_alloc_end(&n_allocs, &failed);
        LX_CHECK_MSG(t, leaks == 0, "alloc %ld: %ld blocks leaked", at, leaks);
        if (t->failed) break;
    }
    lexie_free(want);
}

/* ==== The command line ==== */

static int run_cmd(const char *cmd, char *out, size_t n) {
    FILE *f = popen(cmd, "r");
    if (!f) return -2;
    size_t len = fread(out, 1, n - 1, f);
    out[len] = 0;
    int st = pclose(f);
    return WIFSIGNALED(st) ? -1 : WEXITSTATUS(st);
}

static void write_text(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(s, 1, n, f);
        fclose(f);
    }
}

static void test_view_cli(lx_t *t) {
    char res[512], docs[512], html[512], cmd[2048], out[8192];
    const char *dir = lx_test_fixtures();
    mkdir(dir, 0755); /* when run outside make test */
    snprintf(res, sizeof res, "%s/view_res.jsonl", dir);
    snprintf(docs, sizeof docs, "%s/view_docs.jsonl", dir);
    snprintf(html, sizeof html, "%s/view_out.html", dir);
    write_text(res, page_results, sizeof page_results - 1);
    write_text(docs, page_docs, sizeof page_docs - 1);
    remove(html);
    snprintf(cmd, sizeof cmd, "%s view %s --docs %s -o %s 2>&1", lx_test_cli(), res, docs, html);
    LX_CHECK_INT(t, run_cmd(cmd, out, sizeof out), 1); /* malformed lines */
    LX_CHECK_MSG(t, strstr(out, "5 documents") && strstr(out, "4 malformed result lines"), "%s",
                 out);
    size_t n = 0;
    char *page = lx_read_file(html, 0, &n, NULL);
    LX_CHECK(t, page && strncmp(page, "<!DOCTYPE html>", 15) == 0 && strstr(page, "</html>"));
    free(page);
    /* stdin in, stdout out: the same page; a clean input exits 0. */
    write_text(res, "{\"id\": 1, \"entities\": []}\n", 26);
    snprintf(cmd, sizeof cmd, "%s view - < %s 2>/dev/null | grep -c '<article'", lx_test_cli(),
             res);
    LX_CHECK_INT(t, run_cmd(cmd, out, sizeof out), 0);
    LX_CHECK_INT(t, atoi(out), 1);
    snprintf(cmd, sizeof cmd, "%s view %s > /dev/null 2>&1", lx_test_cli(), res);
    LX_CHECK_INT(t, run_cmd(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "%s view 2>&1", lx_test_cli());
    LX_CHECK_INT(t, run_cmd(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s view %s --bogus x 2>&1", lx_test_cli(), res);
    LX_CHECK_INT(t, run_cmd(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s view /nonexistent/r.jsonl 2>&1", lx_test_cli());
    LX_CHECK_INT(t, run_cmd(cmd, out, sizeof out), 1);
    LX_CHECK(t, strstr(out, "/nonexistent/r.jsonl") != NULL);
    snprintf(cmd, sizeof cmd, "%s view %s -o /nonexistent/v.html 2>&1", lx_test_cli(), res);
    LX_CHECK_INT(t, run_cmd(cmd, out, sizeof out), 1);
    LX_CHECK(t, strstr(out, "/nonexistent/v.html") != NULL);
    remove(res);
    remove(docs);
    remove(html);
}

/* tests/view_chromium.py renders tests/data/view/ with the CLI, opens it
** in headless Chromium and checks the highlights through the DOM; it
** exits 77 when Chromium is absent. */
static void test_view_chromium(lx_t *t) {
    char dir[512], cmd[2048], out[16384];
    snprintf(dir, sizeof dir, "%s", lx_test_fixtures());
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; /* build/fixtures -> build: the screenshot goes beside the binaries */
    snprintf(cmd, sizeof cmd, "python3 tests/view_chromium.py --lexie %s --out %s 2>&1",
             lx_test_cli(), slash ? dir : ".");
    int rc = run_cmd(cmd, out, sizeof out);
    if (rc == 77) LX_SKIP(t, "%s", out);
    LX_CHECK_MSG(t, rc == 0, "view_chromium.py exited %d:\n%s", rc, out);
}

void suite_view(void) {
    LX_RUN(test_view_escape);
    LX_RUN(test_view_nested);
    LX_RUN(test_view_crossing);
    LX_RUN(test_view_bad_spans_skipped);
    LX_RUN(test_view_utf16);
    LX_RUN(test_view_random_overlaps);
    LX_RUN(test_view_fragment_budget);
    LX_RUN(test_view_gaps);
    LX_RUN(test_view_page);
    LX_RUN(test_view_rebuild);
    LX_RUN(test_view_clipped);
    LX_RUN(test_view_alloc_failures);
    LX_RUN(test_view_cli);
    LX_RUN(test_view_chromium);
}
