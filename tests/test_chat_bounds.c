/*
** test_chat_bounds.c -- a chat template is a program that arrives inside a
** model file, so its render runs under counted bounds (memory held,
** output, loop iterations, nesting, range and repetition sizes).  Each
** hostile template here once exhausted memory or stack (the string
** doubling grew to 22.9 GB); now it must fail with LEXIE_E_RANGE and a
** message naming the bound.
**
** The memory-hungry cases run in a forked child under an RLIMIT_AS cap of
** its current size plus 1 GiB, so a regression fails this test instead of
** taking the machine down, and (outside sanitizer builds) the child's peak
** RSS must stay within 256 MiB of where it started.
*/
#include "chat/chat.h"
#include "gguf/gguf.h"
#include "lx_test.h"
#include "ref_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* The reproducer from issue 10: 2^40 bytes if nothing stops it. */
static const char DOUBLING[] = "{% set x = \"a\" %}{% for i in range(40) %}{% set x = x ~ x %}"
                               "{% endfor %}{{ x | length }}";

static const lx_chat_msg one_msg[] = {{"user", "x"}};

/* Virtual size of this process in bytes, from /proc (0 if unknown). */
static size_t vm_size(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb * 1024;
}

static long max_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

typedef lexie_status (*render_fn)(const void *arg, lexie_error *e);

/* Runs fn in a forked child capped at its current address space + 1 GiB;
** the child exits 0 when fn returned code with a message holding each of
** the NULL-terminated needles. */
static void expect_bounded_fn(lx_t *t, int line, render_fn fn, const void *arg, lexie_status code,
                              const char *needle1, const char *needle2) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        lx_test_fail(t, __FILE__, line, "fork failed");
        return;
    }
    if (pid == 0) {
        size_t vm = vm_size();
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)((vm ? vm : ((size_t)4 << 30)) + ((size_t)1 << 30));
        if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(3);
        long rss0 = max_rss_kb();
        lexie_error e = {LEXIE_OK, ""};
        lexie_status s = fn(arg, &e);
        long grown = max_rss_kb() - rss0;
        int bad =
            s != code || !strstr(e.message, needle1) || (needle2 && !strstr(e.message, needle2));
        if (bad) fprintf(stderr, "    child: status %d (want %d): %s\n", s, code, e.message);
        if (!UNDER_ASAN && grown > 256 * 1024) {
            fprintf(stderr, "    child: peak RSS grew by %ld KiB\n", grown);
            bad = 1;
        }
        _exit(bad ? 1 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        lx_test_fail(t, __FILE__, line, "child killed by signal %d (memory cap reached?)",
                     WTERMSIG(st));
    else if (WEXITSTATUS(st) != 0)
        lx_test_fail(t, __FILE__, line, "child exit %d (see its stderr)", WEXITSTATUS(st));
}

typedef struct {
    const char *tmpl;
    const lx_chat_limits *lim;
} render_arg;

static lexie_status render_tmpl(const void *arg, lexie_error *e) {
    const render_arg *a = arg;
    lx_chat_out o;
    lexie_status s = lx_chat_render_ex(a->tmpl, one_msg, 1, 1, "", "", a->lim, &o, e);
    if (s == LEXIE_OK) {
        snprintf(e->message, sizeof e->message, "rendered %zu bytes", o.len);
        lx_chat_out_free(&o);
    }
    return s;
}

static void expect_bounded(lx_t *t, int line, const char *tmpl, const lx_chat_limits *lim,
                           lexie_status code, const char *needle1, const char *needle2) {
    render_arg a = {tmpl, lim};
    expect_bounded_fn(t, line, render_tmpl, &a, code, needle1, needle2);
}

/* In process, for cases that need no cap (stack depth, small limits). */
static void expect_fail(lx_t *t, int line, const char *tmpl, const lx_chat_limits *lim,
                        lexie_status code, const char *needle) {
    lexie_error e = {LEXIE_OK, ""};
    lx_chat_out o;
    lexie_status s = lx_chat_render_ex(tmpl, one_msg, 1, 1, "", "", lim, &o, &e);
    if (s == LEXIE_OK) lx_chat_out_free(&o);
    if (s != code)
        lx_test_fail(t, __FILE__, line, "status %d, want %d (%s)", s, code, e.message);
    else if (!strstr(e.message, needle))
        lx_test_fail(t, __FILE__, line, "message [%s] lacks [%s]", e.message, needle);
    if (o.text || o.user) lx_test_fail(t, __FILE__, line, "output left after an error");
}

/* A template of prefix, then body n times, then suffix (malloc'd). */
static char *repeat_tmpl(const char *prefix, const char *body, int n, const char *suffix) {
    size_t pl = strlen(prefix), bl = strlen(body), sl = strlen(suffix);
    char *s = malloc(pl + bl * (size_t)n + sl + 1), *p = s;
    memcpy(p, prefix, pl);
    p += pl;
    for (int i = 0; i < n; i++, p += bl) memcpy(p, body, bl);
    memcpy(p, suffix, sl + 1);
    return s;
}

/* ==== Memory ==== */

static void test_chat_bound_memory(lx_t *t) {
    /* The string doubling: stops at the 64 MiB bound, naming it and where. */
    expect_bounded(t, __LINE__, DOUBLING, NULL, LEXIE_E_RANGE, "memory bound of 67108864 bytes",
                   "chat template line 1 col");
    /* A smaller bound is honoured just the same. */
    lx_chat_limits lim = {1 << 20, 0, 0, 0};
    expect_fail(t, __LINE__, DOUBLING, &lim, LEXIE_E_RANGE, "memory bound of 1048576 bytes");
    /* Lists grow the same way. */
    expect_bounded(t, __LINE__,
                   "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}"
                   "{% set ns.l = ns.l + ns.l %}{% endfor %}",
                   NULL, LEXIE_E_RANGE, "memory bound", NULL);
    /* Output: a 1 MB string printed 100 times passes the 64 MiB output
    ** bound while the values stay small. */
    expect_bounded(t, __LINE__,
                   "{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}", NULL,
                   LEXIE_E_RANGE, "output exceeds the bound of 67108864 bytes", NULL);
    lim = (lx_chat_limits){0, 1000, 0, 0};
    expect_fail(t, __LINE__, "{% for i in range(100) %}0123456789abcdef{% endfor %}", &lim,
                LEXIE_E_RANGE, "output exceeds the bound of 1000 bytes");
    /* Sizes are checked before anything is allocated. */
    expect_fail(t, __LINE__, "{% for i in range(10**9) %}{% endfor %}", NULL, LEXIE_E_RANGE,
                "range of 1000000000 items exceeds the bound of 1000000 items");
    expect_fail(t, __LINE__, "{{ range(-9223372036854775807, 9223372036854775807, 3) }}", NULL,
                LEXIE_E_RANGE, "exceeds the bound of 1000000 items");
    expect_fail(t, __LINE__, "{{ 'ab' * 10**9 }}", NULL, LEXIE_E_RANGE,
                "repetition of 2 items 1000000000 times exceeds the bound");
    expect_fail(t, __LINE__, "{{ [1, 2] * 10**6 }}", NULL, LEXIE_E_RANGE, "repetition");
    /* ...and a render inside the bounds still works, with big messages
    ** (8 MB of content is the caller's memory, not the template's). */
    size_t big = (size_t)8 << 20;
    char *content = malloc(big + 1);
    LX_REQUIRE(t, content);
    memset(content, 'y', big);
    content[big] = 0;
    lx_chat_msg msg[1] = {{"user", content}};
    lexie_error e;
    lx_chat_out o;
    LX_CHECK_INT(t,
                 lx_chat_render_ex("{% for m in messages %}[{{ m.content | length }}]{{ m.content "
                                   "| trim }}{{ m.content[:3] }}{% endfor %}",
                                   msg, 1, 0, "", "", NULL, &o, &e),
                 LEXIE_OK);
    LX_CHECK(t, o.text && o.len == big + 3 + 9 && strncmp(o.text, "[8388608]yyy", 12) == 0);
    lx_chat_out_free(&o);
    free(content);
}

/* The reproducer inside a model file: lexie relations always renders the
** model's template, so loading a hostile GGUF must not kill the process. */
typedef struct {
    const char *path;
} gguf_arg;

static lexie_status render_gguf(const void *arg, lexie_error *e) {
    const gguf_arg *a = arg;
    lexie_model *m = lexie_model_load(a->path, NULL, e);
    if (!m) return LEXIE_E_INTERNAL;
    lexie_chat_msg msg = {"user", "x"};
    char *out = NULL;
    lexie_status s = lexie_chat_apply(m, &msg, 1, 1, &out, e);
    lexie_free(out);
    lexie_model_free(m);
    return s;
}

static void test_chat_bound_gguf(lx_t *t) {
    char src[1024];
    rf_path(src, sizeof src, "llama_f32.gguf");
    lexie_error e;
    lx_gguf *g = lx_gguf_open(src, &e);
    if (!g) LX_SKIP(t, "fixture llama_f32.gguf missing in %s", lx_test_fixtures());
    char dir[] = "/tmp/lexie-chat-XXXXXX", dst[64];
    LX_REQUIRE(t, mkdtemp(dir) != NULL);
    snprintf(dst, sizeof dst, "%s/m.gguf", dir);
    lx_gguf_writer *w = lx_gguf_writer_new(&e);
    int ok = w != NULL;
    for (int64_t i = 0; ok && i < lx_gguf_n_kv(g); i++) {
        const lx_gguf_kv *kv = lx_gguf_kv_at(g, i);
        if (strcmp(kv->key, "tokenizer.chat_template") != 0)
            ok = !lx_gguf_writer_set_value(w, kv->key, &kv->value, &e);
    }
    for (int64_t i = 0; ok && i < lx_gguf_n_tensors(g); i++) {
        const lx_gguf_tensor *gt = lx_gguf_tensor_at(g, i);
        ok = !lx_gguf_writer_add_tensor(w, gt->name, gt->type, gt->n_dims, gt->ne, gt->data, &e);
    }
    ok = ok && !lx_gguf_writer_set_str(w, "tokenizer.chat_template", DOUBLING, &e) &&
         !lx_gguf_writer_write(w, dst, &e);
    lx_gguf_writer_free(w);
    lx_gguf_close(g);
    LX_CHECK_MSG(t, ok, "writing the hostile copy: %s", e.message);
    gguf_arg a = {dst};
    if (ok)
        expect_bounded_fn(t, __LINE__, render_gguf, &a, LEXIE_E_RANGE, "memory bound",
                          "chat template line 1");
    unlink(dst);
    rmdir(dir);
}

/* ==== Iterations ==== */

static void test_chat_bound_steps(lx_t *t) {
    /* 10^9 iterations of nested loops: the iteration bound stops them. */
    const char *nested = "{% for a in range(1000) %}{% for b in range(1000) %}"
                         "{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor %}";
    lx_chat_limits lim = {0, 0, 100000, 0};
    expect_fail(t, __LINE__, nested, &lim, LEXIE_E_RANGE,
                "more than the bound of 100000 loop iterations");
    expect_fail(t, __LINE__,
                "{% set r = range(2000) %}{% for a in range(1000) %}{% for b in r %}{% endfor %}"
                "{% endfor %}",
                NULL, LEXIE_E_RANGE, "more than the bound of 1000000 loop iterations");
    /* A loop that appends to the list it walks ends with the list's
    ** length when it started, as in Jinja. */
    lexie_error e;
    char *out = NULL;
    LX_CHECK_INT(t,
                 lx_chat_render("{% set l = [1] %}{% for x in l %}{{ l.append(x) }}{% endfor %}"
                                "{{ l | length }}",
                                one_msg, 1, 0, "", "", &out, &e),
                 LEXIE_OK);
    LX_CHECK(t, out && strcmp(out, "None2") == 0);
    free(out);
}

/* ==== Nesting ==== */

static void test_chat_bound_depth(lx_t *t) {
    const char *bound = "nested deeper than the bound of 200 levels";
    struct {
        const char *pre, *body, *post;
        int n;
    } deep[] = {
        {"{{ ", "(", "1 }}", 5000},                                  /* ((((1 */
        {"{{ ", "not ", "1 }}", 5000},                               /* not not not 1 */
        {"{{ ", "- ", "1 }}", 5000},                                 /* - - - 1 */
        {"{{ ", "[", "1 }}", 5000},                                  /* [[[[1 */
        {"{{ 'a'", " ~ 'a'", " }}", 5000},                           /* a left-deep chain */
        {"{{ messages", "[0]", " }}", 5000},                         /* a postfix chain */
        {"{{ 'a'", " | trim", " }}", 5000},                          /* a filter chain */
        {"", "{% if true %}", "", 5000},                             /* nested blocks */
        {"", "{% for i in range(1) %}", "", 5000},                   /* nested loops */
        {"{% if false %}", "{% elif false %}", "{% endif %}", 5000}, /* an elif chain */
    };
    for (size_t i = 0; i < sizeof deep / sizeof deep[0]; i++) {
        char *tmpl = repeat_tmpl(deep[i].pre, deep[i].body, deep[i].n, deep[i].post);
        expect_fail(t, __LINE__, tmpl, NULL, LEXIE_E_RANGE, bound);
        free(tmpl);
    }
    /* Values that hold themselves: printing or comparing them recurses. */
    expect_fail(t, __LINE__, "{% set l = [] %}{{ l.append(l) }}{{ l }}", NULL, LEXIE_E_RANGE,
                bound);
    expect_fail(t, __LINE__, "{% set l = [] %}{{ l.append(l) }}{{ l == l }}", NULL, LEXIE_E_RANGE,
                bound);
    expect_fail(t, __LINE__, "{% set ns = namespace(a=1) %}{% set ns.a = ns %}{{ ns }}", NULL,
                LEXIE_E_RANGE, bound);
    expect_fail(t, __LINE__, "{% set ns = namespace(a=1) %}{% set ns.a = ns %}{{ ns | tojson }}",
                NULL, LEXIE_E_RANGE, "bound of 200");
    /* 150 levels are fine, and a smaller bound is honoured. */
    char *ok = repeat_tmpl("{{ ", "(", 150, "1");
    size_t n = strlen(ok);
    ok = realloc(ok, n + 160);
    for (int i = 0; i < 150; i++) ok[n++] = ')';
    strcpy(ok + n, " }}");
    lexie_error e;
    char *out = NULL;
    LX_CHECK_INT(t, lx_chat_render(ok, one_msg, 1, 0, "", "", &out, &e), LEXIE_OK);
    LX_CHECK(t, out && strcmp(out, "1") == 0);
    free(out);
    lx_chat_limits lim = {0, 0, 0, 20};
    expect_fail(t, __LINE__, ok, &lim, LEXIE_E_RANGE, "nested deeper than the bound of 20 levels");
    free(ok);
}

void suite_chat_bounds(void) {
    LX_RUN(test_chat_bound_memory);
    LX_RUN(test_chat_bound_gguf);
    LX_RUN(test_chat_bound_steps);
    LX_RUN(test_chat_bound_depth);
}
