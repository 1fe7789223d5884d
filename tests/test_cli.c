/*
** test_cli.c -- the lexie command line on bad input: every case must end
** with a clear message on stderr and a non-zero exit, never a crash.
*/
#include "lx_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs `lexie ARGS` through the shell, capturing stderr+stdout into out.
** Returns the exit status, or -1 if it died from a signal. */
static int run_cli(const char *args, char *out, size_t n) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1 </dev/null", lx_test_cli(), args);
    FILE *f = popen(cmd, "r");
    if (!f) return -2;
    size_t len = fread(out, 1, n - 1, f);
    out[len] = 0;
    int st = pclose(f);
    if (WIFSIGNALED(st)) return -1;
    return WEXITSTATUS(st);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void test_cli_usage(lx_t *t) {
    char out[8192];
    LX_CHECK_INT(t, run_cli("", out, sizeof out), 2);
    LX_CHECK(t, strstr(out, "usage") != NULL);
    LX_CHECK_INT(t, run_cli("frobnicate", out, sizeof out), 2);
    LX_CHECK(t, strstr(out, "unknown command 'frobnicate'") != NULL);
    LX_CHECK_INT(t, run_cli("--version", out, sizeof out), 0);
    LX_CHECK(t, strstr(out, "lexie ") != NULL);
    LX_CHECK_INT(t, run_cli("generate -p hi --bogus", out, sizeof out), 2);
    LX_CHECK(t, strstr(out, "unknown option '--bogus'") != NULL);
    LX_CHECK_INT(t, run_cli("generate -p hi -n abc", out, sizeof out), 2);
    LX_CHECK(t, strstr(out, "-n expects a number") != NULL);
    LX_CHECK_INT(t, run_cli("generate", out, sizeof out), 2);
    LX_CHECK(t, strstr(out, "exactly one of -p") != NULL);
}

static void test_cli_missing_files(lx_t *t) {
    char out[8192];
    LX_CHECK_INT(t, run_cli("generate -m /nonexistent/model.gguf -p hi", out, sizeof out), 1);
    LX_CHECK(t, strstr(out, "/nonexistent/model.gguf") != NULL);
    LX_CHECK_INT(
        t,
        run_cli("generate -m /nonexistent/model.gguf -f /nonexistent/prompt.txt", out, sizeof out),
        1);
    LX_CHECK(t, strstr(out, "/nonexistent/prompt.txt") != NULL);
}

static void test_cli_corrupt_model(lx_t *t) {
    char out[8192], path[512], args[1024];
    snprintf(path, sizeof path, "%s/cli_corrupt.gguf", lx_test_fixtures());
    const char junk[] = "GGUF\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\x7f";
    write_file(path, junk, sizeof junk - 1);
    snprintf(args, sizeof args, "generate -m %s -p hi", path);
    LX_CHECK_INT(t, run_cli(args, out, sizeof out), 1);
    LX_CHECK(t, strstr(out, "lexie generate:") != NULL);
    LX_CHECK(t, strstr(out, path) != NULL);
    write_file(path, "NOTGGUF!", 8);
    LX_CHECK_INT(t, run_cli(args, out, sizeof out), 1);
    LX_CHECK(t, strstr(out, "magic") != NULL);
    remove(path);
}

static void test_cli_invalid_utf8(lx_t *t) {
    char out[8192], model[512], prompt[512], args[2048];
    snprintf(model, sizeof model, "%s/llama_f32.gguf", lx_test_fixtures());
    FILE *f = fopen(model, "rb");
    if (!f) LX_SKIP(t, "fixture %s missing (run make test)", model);
    fclose(f);
    snprintf(prompt, sizeof prompt, "%s/cli_bad_utf8.txt", lx_test_fixtures());
    write_file(prompt, "caf\xc3(", 5);
    snprintf(args, sizeof args, "generate -m %s -f %s -n 4", model, prompt);
    LX_CHECK_INT(t, run_cli(args, out, sizeof out), 1);
    LX_CHECK_MSG(t, strstr(out, "UTF-8") != NULL, "no UTF-8 message in: %s", out);
    snprintf(args, sizeof args, "generate -m %s -p hello -n 4", model);
    LX_CHECK_INT(t, run_cli(args, out, sizeof out), 0);
    remove(prompt);
}

void suite_cli(void) {
    LX_RUN(test_cli_usage);
    LX_RUN(test_cli_missing_files);
    LX_RUN(test_cli_corrupt_model);
    LX_RUN(test_cli_invalid_utf8);
}
