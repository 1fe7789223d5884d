/*
** test_base.c -- errors, UTF-8 validation and the thread pool.
*/
#include "base/base.h"
#include "lx_test.h"

#include <string.h>

static void test_status_strings(lx_t *t) {
    LX_CHECK(t, strcmp(lexie_status_string(LEXIE_OK), "ok") == 0);
    LX_CHECK(t, strcmp(lexie_status_string(LEXIE_E_FORMAT), "format error") == 0);
    lexie_error e;
    LX_CHECK_INT(t, lx_fail(&e, LEXIE_E_IO, "x %d", 5), LEXIE_E_IO);
    LX_CHECK(t, strcmp(e.message, "x 5") == 0);
    lx_fail_prefix(&e, "pre: ");
    LX_CHECK(t, strcmp(e.message, "pre: x 5") == 0);
    LX_CHECK_INT(t, lx_fail(NULL, LEXIE_E_IO, "no err"), LEXIE_E_IO);
}

static void test_utf8(lx_t *t) {
    size_t off = 99;
    LX_CHECK(t, lx_utf8_valid("abc", 3, NULL));
    LX_CHECK(t, lx_utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80", 11, NULL));
    LX_CHECK(t, !lx_utf8_valid("ab\xff", 3, &off));
    LX_CHECK_INT(t, off, 2);
    LX_CHECK(t, !lx_utf8_valid("\xc0\xaf", 2, NULL));         /* overlong '/' */
    LX_CHECK(t, !lx_utf8_valid("\xed\xa0\x80", 3, NULL));     /* surrogate */
    LX_CHECK(t, !lx_utf8_valid("\xf4\x90\x80\x80", 4, NULL)); /* > U+10FFFF */
    LX_CHECK(t, !lx_utf8_valid("x\xe2\x82", 3, &off));        /* truncated */
    LX_CHECK_INT(t, off, 1);
}

/* Sanitising keeps valid text as is, turns each bad byte into U+FFFD, and
** holds back a character cut short unless told the text is final. */
static void test_utf8_sanitize(lx_t *t) {
    char out[64];
    size_t used, n;
    n = lx_utf8_sanitize("h\xc3\xa9!", 4, 0, out, &used);
    LX_CHECK(t, n == 4 && used == 4 && memcmp(out, "h\xc3\xa9!", 4) == 0);
    n = lx_utf8_sanitize("a\x80"
                         "b\xc0\xaf",
                         5, 0, out, &used);
    LX_CHECK(t, used == 5 && n == 11);
    LX_CHECK(t, memcmp(out,
                       "a\xef\xbf\xbd"
                       "b\xef\xbf\xbd\xef\xbf\xbd",
                       11) == 0);
    n = lx_utf8_sanitize("x\xe2\x82", 3, 0, out, &used); /* the euro sign, cut short */
    LX_CHECK(t, n == 1 && used == 1 && out[0] == 'x');
    n = lx_utf8_sanitize("x\xe2\x82", 3, 1, out, &used);
    LX_CHECK(t, n == 4 && used == 3 && memcmp(out, "x\xef\xbf\xbd", 4) == 0);
    n = lx_utf8_sanitize("\xed\xa0", 2, 0, out, &used); /* can only end as a surrogate */
    LX_CHECK(t, used == 2 && n == 6 && lx_utf8_valid(out, n, NULL));
    n = lx_utf8_sanitize("\xf0\x9f", 2, 0, out, &used); /* an emoji's start: wait */
    LX_CHECK(t, n == 0 && used == 0);
}

typedef struct {
    int hits[8];
} pool_arg;

static void pool_fn(void *v, int ith, int nth) {
    pool_arg *a = v;
    (void)nth;
    a->hits[ith]++;
}

static void test_pool(lx_t *t) {
    lexie_error e;
    lx_pool *p = lx_pool_new(4, &e);
    LX_REQUIRE(t, p);
    pool_arg a;
    memset(&a, 0, sizeof a);
    for (int r = 0; r < 1000; r++) lx_pool_run(p, pool_fn, &a);
    for (int i = 0; i < 4; i++) LX_CHECK_INT(t, a.hits[i], 1000);
    LX_CHECK_INT(t, a.hits[4], 0);
    lx_pool_free(p);
    lx_pool_free(NULL);
}

void suite_base(void) {
    LX_RUN(test_status_strings);
    LX_RUN(test_utf8);
    LX_RUN(test_utf8_sanitize);
    LX_RUN(test_pool);
}
