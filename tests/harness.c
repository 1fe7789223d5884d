/*
** harness.c -- runs tests, counts results, prints failures and the summary.
*/
#include "kernels/kernels.h"
#include "lx_test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int n_passed, n_failed, n_skipped;
static const char *filter;
static const char *isa_suffix; /* set while suites rerun on a forced ISA */

void lx_test_fail(lx_t *t, const char *file, int line, const char *fmt, ...) {
    va_list ap;
    if (t->failed < 10) {
        fprintf(stderr, "  FAIL %s (%s:%d): ", t->name, file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    t->failed++;
}

void lx_test_skip(lx_t *t, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "  SKIP %s: ", t->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    t->skipped = 1;
}

void lx_test_run(const char *name, void (*fn)(lx_t *)) {
    if (filter && !strstr(name, filter)) return;
    char full[256];
    if (isa_suffix) {
        snprintf(full, sizeof full, "%s[%s]", name, isa_suffix);
        name = full;
    }
    lx_t t = {name, 0, 0};
    fn(&t);
    if (t.failed) {
        n_failed++;
        fprintf(stderr, "FAIL %s\n", name);
    } else if (t.skipped) {
        n_skipped++;
    } else {
        n_passed++;
        if (getenv("LX_TEST_VERBOSE")) fprintf(stderr, "ok   %s\n", name);
    }
}

static const char *env_or(const char *name, const char *def) {
    const char *v = getenv(name);
    return v && *v ? v : def;
}

const char *lx_test_fixtures(void) { return env_or("LEXIE_TEST_FIXTURES", "build/fixtures"); }
const char *lx_test_cli(void) { return env_or("LEXIE_TEST_CLI", "build/lexie"); }
const char *lx_test_data(void) { return env_or("LEXIE_DATA", "../shared/data"); }

const char *lx_test_data_path(char *buf, size_t n, const char *rel) {
    snprintf(buf, n, "%s/%s", lx_test_data(), rel);
    return buf;
}

/* Writes s into buf as one single-quoted shell word; 0 if it does not fit. */
static int shell_quote(char *buf, size_t n, const char *s) {
    size_t o = 0;
    if (n < 3) return 0;
    buf[o++] = '\'';
    for (; *s; s++) {
        const char *piece = *s == '\'' ? "'\\''" : NULL;
        size_t len = piece ? strlen(piece) : 1;
        if (o + len + 2 > n) return 0;
        if (piece)
            memcpy(buf + o, piece, len);
        else
            buf[o] = *s;
        o += len;
    }
    buf[o++] = '\'';
    buf[o] = 0;
    return 1;
}

const char *lx_test_model(void) {
    static char path[4096];
    char cli[2048], cmd[2200];
    const char *p = getenv("LEXIE_TEST_MODEL");
    if (p && *p) return access(p, R_OK) == 0 ? p : NULL;
    /* The CLI under test says where its cache holds the default model. */
    if (!shell_quote(cli, sizeof cli, lx_test_cli())) return NULL;
    snprintf(cmd, sizeof cmd, "%s path 2>/dev/null", cli);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    char *ok = fgets(path, sizeof path, f);
    pclose(f);
    if (!ok) return NULL;
    path[strcspn(path, "\n")] = 0;
    return path[0] && access(path, R_OK) == 0 ? path : NULL;
}

#define SUITE(name) void suite_##name(void);
#include "suites.h"
#undef SUITE

/* Whole-model suites run again on each lower ISA the CPU has, so the
** scalar and AVX2 paths are checked end to end, not only kernel by
** kernel.  Test names get the ISA as a suffix. */
static void run_on_lower_isas(void) {
    const char *skip = getenv("LEXIE_TEST_ISA_MATRIX");
    if ((skip && strcmp(skip, "0") == 0) || getenv("LEXIE_ISA")) return;
    for (int isa = LX_ISA_SCALAR; isa < (int)lx_isa_best(); isa++) {
        lx_isa_override(isa);
        isa_suffix = lx_isa_name((lx_isa)isa);
        suite_model_ref();
    }
    lx_isa_override(-1);
    isa_suffix = NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) filter = argv[1];
#define SUITE(name) suite_##name();
#include "suites.h"
#undef SUITE
    run_on_lower_isas();
    printf("%d passed, %d failed, %d skipped\n", n_passed, n_failed, n_skipped);
    return n_failed ? 1 : 0;
}
