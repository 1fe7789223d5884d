/*
** lx_test.h -- the tiny test harness of lexie.
**
** A test is a function `static void name(lx_t *t)`.  A suite is a function
** `void suite_NAME(void)` in tests/test_NAME.c that runs its tests with
** LX_RUN(name); tests/suites.h lists the suites and tests/harness.c runs
** them (an argument runs only the tests whose name contains it).  Checks
** record failures and keep going; LX_REQUIRE returns from the test.  The
** run ends with the line "N passed, N failed, N skipped" that CI reads.
*/
#ifndef LX_TEST_H
#define LX_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

typedef struct lx_t {
    const char *name;
    int failed;
    int skipped;
} lx_t;

void lx_test_run(const char *name, void (*fn)(lx_t *));
void lx_test_fail(lx_t *t, const char *file, int line, const char *fmt, ...);
void lx_test_skip(lx_t *t, const char *fmt, ...);
/* Directory of generated test fixtures ($LEXIE_TEST_FIXTURES, default
** build/fixtures) and path of the CLI binary under test ($LEXIE_TEST_CLI,
** default build/lexie). */
const char *lx_test_fixtures(void);
const char *lx_test_cli(void);
/* Root of the shared data sets ($LEXIE_DATA, default ../shared/data, as
** `lexie eval` reads it), and <root>/<rel> written into buf (n bytes,
** truncated to fit) and returned. */
const char *lx_test_data(void);
const char *lx_test_data_path(char *buf, size_t n, const char *rel);
/* Path of the default model if it is present ($LEXIE_TEST_MODEL, else
** what `$LEXIE_TEST_CLI path` prints), else NULL. */
const char *lx_test_model(void);

#define LX_RUN(fn) lx_test_run(#fn, fn)

#define LX_CHECK(t, cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) lx_test_fail((t), __FILE__, __LINE__, "%s", #cond);                           \
    } while (0)

#define LX_REQUIRE(t, cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            lx_test_fail((t), __FILE__, __LINE__, "%s", #cond);                                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define LX_CHECK_MSG(t, cond, ...)                                                                 \
    do {                                                                                           \
        if (!(cond)) lx_test_fail((t), __FILE__, __LINE__, __VA_ARGS__);                           \
    } while (0)

#define LX_CHECK_INT(t, a, b)                                                                      \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            lx_test_fail((t), __FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);       \
    } while (0)

/* |a - b| <= tol */
#define LX_CHECK_CLOSE(t, a, b, tol)                                                               \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(fabs(a_ - b_) <= (tol)))                                                             \
            lx_test_fail((t), __FILE__, __LINE__, "%s ~ %s: %.7g vs %.7g (tol %g)", #a, #b, a_,    \
                         b_, (double)(tol));                                                       \
    } while (0)

#define LX_SKIP(t, ...)                                                                            \
    do {                                                                                           \
        lx_test_skip((t), __VA_ARGS__);                                                            \
        return;                                                                                    \
    } while (0)

#endif
