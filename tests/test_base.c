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
    LX_RUN(test_pool);
}
