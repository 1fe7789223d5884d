/*
** test_cli_io.c -- the lexie command line under hostile input and faults
** (issue 10): a full disk or a file-size limit on stdout and on the
** evaluation's files, closed and unreadable stdin, an endless line, NUL
** bytes, NaN options, --chat-template(-file), two evaluations at once, a
** killed pull, overlapping spans and generation cut by the context.
**
** Each CLI run is a forked child with its own limits (RLIMIT_FSIZE with
** SIGXFSZ ignored, so a write past the limit fails with EFBIG; RLIMIT_AS
** outside sanitizer builds) and a wall-clock bound enforced here, so a
** regression cannot take the machine down.
*/
#include "lx_test.h"

#include "base/base.h"
#include "lexie.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

/* ==== Running the CLI ==== */

typedef struct {
    const char *in;  /* stdin: a path; NULL: /dev/null; "<&-": closed */
    const char *out; /* stdout: a path; NULL: /dev/null */
    long fsize;      /* RLIMIT_FSIZE in bytes (0: none) */
    long mem;        /* RLIMIT_AS in bytes (0: none; ignored under ASan) */
    double timeout;  /* seconds before SIGKILL (0: 120) */
} io_opts;

typedef struct {
    int rc;        /* exit status; -SIG if killed by a signal */
    int timed_out; /* killed here at the timeout */
    long peak_kb;  /* VmHWM just before the timeout kill (0 if not known) */
    char err[16384];
} io_result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long peak_kb(pid_t pid) {
    char path[64], line[256];
    long kb = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
    fclose(f);
    return kb;
}

/* Runs `lexie ARGS` (through /bin/sh, exec'd) with o's streams and limits;
** stderr goes to r->err. */
static void run_io(const char *args, const io_opts *o, io_result *r) {
    char cmd[8192], errpath[] = "/tmp/lx-cli-io-XXXXXX";
    memset(r, 0, sizeof *r);
    int efd = mkstemp(errpath);
    snprintf(cmd, sizeof cmd, "exec %s %s", lx_test_cli(), args);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int in = -1;
        if (o->in && strcmp(o->in, "<&-") == 0)
            close(0);
        else if ((in = open(o->in ? o->in : "/dev/null", O_RDONLY)) >= 0)
            dup2(in, 0);
        int out = open(o->out ? o->out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out >= 0) dup2(out, 1);
        if (efd >= 0) dup2(efd, 2);
        signal(SIGXFSZ, SIG_IGN);
        if (o->fsize > 0) {
            struct rlimit rl = {(rlim_t)o->fsize, (rlim_t)o->fsize};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        if (o->mem > 0 && !UNDER_ASAN) {
            struct rlimit rl = {(rlim_t)o->mem, (rlim_t)o->mem};
            setrlimit(RLIMIT_AS, &rl);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    double t0 = now_s(), limit = o->timeout > 0 ? o->timeout : 120;
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) break;
        if (now_s() - t0 > limit) {
            r->peak_kb = peak_kb(pid);
            r->timed_out = 1;
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        nap_ms(20);
    }
    r->rc = WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
    if (efd >= 0) {
        ssize_t n = pread(efd, r->err, sizeof r->err - 1, 0);
        r->err[n > 0 ? n : 0] = 0;
        close(efd);
        unlink(errpath);
    }
}

static int write_text(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(s, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static char *read_text(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(1 << 20);
    size_t k = b ? fread(b, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (b) b[k] = 0;
    if (n) *n = k;
    return b;
}

static int count_char(const char *s, size_t n, char c) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == c;
    return k;
}

static int have_fixture(lx_t *t, const char *name, char *path, size_t n) {
    snprintf(path, n, "%s/%s", lx_test_fixtures(), name);
    if (access(path, R_OK) == 0) return 1;
    lx_test_skip(t, "fixture %s missing (run make test)", path);
    return 0;
}

/* A fresh temporary folder (malloc'd). */
static char *temp_dir(void) {
    char tmpl[] = "/tmp/lx-cli-io-d-XXXXXX";
    return mkdtemp(tmpl) ? strdup(tmpl) : NULL;
}

static void rm_rf(const char *dir) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "  (could not remove %s)\n", dir);
}

/* Entries of dir whose name starts with prefix (and, if suffix, ends with
** it); the first such path goes to first (may be NULL). */
static int count_entries(const char *dir, const char *prefix, const char *suffix, char *first,
                         size_t n) {
    DIR *d = opendir(dir);
    int k = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name), sl = suffix ? strlen(suffix) : 0;
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (suffix && (len < sl || strcmp(e->d_name + len - sl, suffix) != 0)) continue;
        if (first && k == 0) snprintf(first, n, "%s/%s", dir, e->d_name);
        k++;
    }
    closedir(d);
    return k;
}

static const char REL_LINE1[] =
    "{\"id\": 1, \"text\": \"<e1>BRCA1</e1> causes <e2>cancer</e2>.\"}\n";
static const char REL_LINE3[] = "{\"id\": 3, \"text\": \"<e2>TP53</e2> and <e1>asthma</e1>.\"}\n";

/* ==== Item 2: write errors ==== */

static void test_cli_io_dev_full(lx_t *t) {
    char model[512], args[1024], in[] = "/tmp/lx-cli-io-in-XXXXXX";
    if (!have_fixture(t, "llama_q.gguf", model, sizeof model)) return;
    int fd = mkstemp(in);
    LX_REQUIRE(t, fd >= 0);
    close(fd);
    LX_REQUIRE(t, write_text(in, REL_LINE1, strlen(REL_LINE1)));
    const char *cmds[] = {"models",
                          "path",
                          "version",
                          "--help",
                          "generate --help",
                          "tokenize -m %s -p hello",
                          "generate -m %s -p hello -n 3",
                          "relations -m %s --schema schemas/gad.json -t 1",
                          "relations -m %s --schema schemas/gad.json -t 1 --calibrate",
                          "relations -m %s --schema schemas/gad.json -t 1 --dump-prompt"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        io_result r;
        io_opts o = {.in = in, .out = "/dev/full", .timeout = 60};
        snprintf(args, sizeof args, cmds[i], model);
        run_io(args, &o, &r);
        /* `path` fails anyway when no default model is cached: either way not 0. */
        LX_CHECK_MSG(t, r.rc == 1, "lexie %s > /dev/full: rc %d, stderr: %s", args, r.rc, r.err);
        if (strncmp(args, "path", 4) != 0)
            LX_CHECK_MSG(t, strstr(r.err, "cannot write standard output: No space left") != NULL,
                         "lexie %s > /dev/full: no write error in: %s", args, r.err);
    }
    unlink(in);
}

static void test_cli_io_relations_fsize(lx_t *t) {
    char model[512], args[1024], in[] = "/tmp/lx-cli-io-in-XXXXXX",
                                 out[] = "/tmp/lx-cli-io-o-XXXXXX";
    if (!have_fixture(t, "llama_q.gguf", model, sizeof model)) return;
    int fd = mkstemp(in), fo = mkstemp(out);
    LX_REQUIRE(t, fd >= 0 && fo >= 0);
    close(fo);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 24; i++) fputs(i % 2 ? REL_LINE3 : REL_LINE1, f);
    fclose(f);
    /* 200 bytes: the first batch of 8 result lines (~95 bytes each) is cut. */
    io_opts o = {.in = in, .out = out, .fsize = 200, .timeout = 60};
    io_result r;
    snprintf(args, sizeof args, "relations -m %s --schema schemas/gad.json -t 1", model);
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 1, "rc %d, stderr: %s", r.rc, r.err);
    LX_CHECK_MSG(t, strstr(r.err, "cannot write standard output: File too large") != NULL,
                 "stderr: %s", r.err);
    /* It stopped at the failure: no error line per remaining input. */
    LX_CHECK(t, strstr(r.err, "line(s) had errors") == NULL);
    unlink(in);
    unlink(out);
}

/* A GAD test split of n hand-made sentences under dir. */
static int make_gad(const char *dir, int n) {
    char sub[600], path[700];
    snprintf(sub, sizeof sub, "%s/gad_biobert_fold1", dir);
    if (mkdir(sub, 0755) != 0) return 0;
    snprintf(path, sizeof path, "%s/test.tsv", sub);
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    for (int i = 0; i < n; i++)
        fprintf(f, i % 2 ? "@DISEASE$ no @GENE$ %d.\t0\n" : "@GENE$ up in @DISEASE$ %d.\t1\n", i);
    if (fclose(f) != 0) return 0;
    /* A bare template keeps the prompts inside the fixture's 256 tokens. */
    static const char tmpl[] = "{% for m in messages %}{{ m.content }}{% endfor %}";
    snprintf(path, sizeof path, "%s/tmpl.jinja", dir);
    return write_text(path, tmpl, strlen(tmpl));
}

/* Every line of the file ends in '\n' and no id appears twice; returns
** the number of lines (-1 if not so). */
static int check_preds(lx_t *t, const char *path) {
    size_t n = 0;
    char *s = read_text(path, &n);
    if (!s) return 0;
    int lines = count_char(s, n, '\n'), ok = n == 0 || s[n - 1] == '\n';
    LX_CHECK_MSG(t, ok, "%s ends in a torn line", path);
    /* Duplicate ids: "id":"test-K" strings. */
    for (char *p = strstr(s, "\"id\":"); p && ok; p = strstr(p + 1, "\"id\":")) {
        char id[64];
        size_t k = strcspn(p + 5, ",");
        snprintf(id, sizeof id, "%.*s,", (int)(k < 60 ? k : 60), p + 5);
        char key[80];
        snprintf(key, sizeof key, "\"id\":%s", id);
        if (strstr(p + 1, key)) {
            LX_CHECK_MSG(t, 0, "%s holds id %s twice", path, id);
            ok = 0;
        }
    }
    free(s);
    return ok ? lines : -1;
}

static void test_cli_io_eval_fsize(lx_t *t) {
    char model[512], args[2048], preds[1200];
    if (!have_fixture(t, "llama_q.gguf", model, sizeof model)) return;
    char *dir = temp_dir();
    LX_REQUIRE(t, dir && make_gad(dir, 4));
    char out[700];
    snprintf(out, sizeof out, "%s/out", dir);
    setenv("LEXIE_DATA", dir, 1);
    snprintf(args, sizeof args,
             "eval re --data gad -m %s --out %s -t 1 --batch 1 --quiet --chat-template-file "
             "%s/tmpl.jinja",
             model, out, dir);
    /* Predictions: a limit that cuts the second line mid-way.  One line
    ** is about 120 bytes. */
    io_opts o = {.fsize = 180, .timeout = 60};
    io_result r;
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 1, "rc %d, stderr: %s", r.rc, r.err);
    LX_CHECK_MSG(t, strstr(r.err, "cannot write predictions to") != NULL, "stderr: %s", r.err);
    LX_REQUIRE(t, count_entries(out, "gad-", ".jsonl", preds, sizeof preds) == 1);
    LX_CHECK_INT(t, check_preds(t, preds), 1); /* the good line, not the torn one */
    LX_CHECK_INT(t, count_entries(out, "gad-", ".report.json", NULL, 0), 0);
    /* Reports: predictions fit, the JSON report (> 1 KB) does not. */
    o.fsize = 1000;
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 1, "rc %d, stderr: %s", r.rc, r.err);
    LX_CHECK_MSG(t, strstr(r.err, "warning: cannot write") != NULL, "stderr: %s", r.err);
    LX_CHECK_INT(t, check_preds(t, preds), 4);
    char rep[1200];
    struct stat sb;
    if (count_entries(out, "gad-", ".report.json", rep, sizeof rep) > 0)
        LX_CHECK_MSG(t, stat(rep, &sb) == 0 && sb.st_size > 0, "empty report %s", rep);
    if (count_entries(out, "gad-", ".report.txt", rep, sizeof rep) > 0)
        LX_CHECK_MSG(t, stat(rep, &sb) == 0 && sb.st_size > 0, "empty report %s", rep);
    LX_CHECK_INT(t, count_entries(out, ".", "", NULL, 0), 2); /* "." and "..": no temp file left */
    /* Without a limit the same run resumes and writes both reports. */
    o.fsize = 0;
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 0, "rc %d, stderr: %s", r.rc, r.err);
    LX_CHECK_INT(t, count_entries(out, "gad-", ".report.json", NULL, 0), 1);
    LX_CHECK_INT(t, check_preds(t, preds), 4);
    unsetenv("LEXIE_DATA");
    rm_rf(dir);
    free(dir);
}

/* ==== Item 3: read errors and long lines ==== */

static void test_cli_io_read_errors(lx_t *t) {
    char model[512], args[1024];
    if (!have_fixture(t, "llama_q.gguf", model, sizeof model)) return;
    snprintf(args, sizeof args, "relations -m %s --schema schemas/gad.json -t 1", model);
    io_result r;
    io_opts o = {.in = "<&-", .timeout = 60};
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 1, "closed stdin: rc %d, %s", r.rc, r.err);
    LX_CHECK_MSG(t, strstr(r.err, "cannot read standard input: Bad file descriptor") != NULL,
                 "closed stdin: %s", r.err);
    o.in = "/tmp";
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 1, "directory on stdin: rc %d, %s", r.rc, r.err);
    LX_CHECK_MSG(t, strstr(r.err, "cannot read standard input: Is a directory") != NULL,
                 "directory on stdin: %s", r.err);
    snprintf(args, sizeof args, "generate -m %s -f - -n 2", model);
    o.in = "/tmp";
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 1 && strstr(r.err, "cannot read standard input: Is a directory"),
                 "generate -f - < dir: rc %d, %s", r.rc, r.err);
    o.in = "<&-";
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 1 && strstr(r.err, "cannot read standard input"),
                 "generate -f - <&-: rc %d, %s", r.rc, r.err);
    /* A closed stdout is a write error, not lost output. */
    snprintf(args, sizeof args, "tokenize -m %s -p hi >&-", model);
    o.in = NULL;
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 1 && strstr(r.err, "cannot write standard output"),
                 "tokenize >&-: rc %d, %s", r.rc, r.err);
}

static void test_cli_io_long_line(lx_t *t) {
    char model[512], args[1024], in[] = "/tmp/lx-cli-io-in-XXXXXX",
                                 out[] = "/tmp/lx-cli-io-o-XXXXXX";
    if (!have_fixture(t, "llama_q.gguf", model, sizeof model)) return;
    int fd = mkstemp(in), fo = mkstemp(out);
    LX_REQUIRE(t, fd >= 0 && fo >= 0);
    close(fo);
    FILE *f = fdopen(fd, "w");
    fputs(REL_LINE1, f);
    for (int i = 0; i < 5000; i++) fputc('x', f);
    fputc('\n', f);
    fputs(REL_LINE3, f);
    fclose(f);
    snprintf(args, sizeof args, "relations -m %s --schema schemas/gad.json -t 1 --max-line 1000",
             model);
    io_opts o = {.in = in, .out = out, .timeout = 60};
    io_result r;
    run_io(args, &o, &r);
    size_t n = 0;
    char *s = read_text(out, &n);
    LX_CHECK_MSG(t, r.rc == 1, "rc %d, %s", r.rc, r.err);
    LX_REQUIRE(t, s != NULL);
    LX_CHECK_INT(t, count_char(s, n, '\n'), 3);
    LX_CHECK_MSG(t,
                 strstr(s, "{\"id\":null,\"error\":{\"code\":\"range\",\"message\":\"line 2: "
                           "longer than 1000 bytes (--max-line)\"}}") != NULL,
                 "output: %s", s);
    LX_CHECK(t, strstr(s, "{\"id\":3,\"label\"") != NULL);
    free(s);
    /* Bad values of --max-line. */
    snprintf(args, sizeof args, "relations -m %s --schema schemas/gad.json --max-line 0", model);
    o.in = NULL;
    run_io(args, &o, &r);
    LX_CHECK_INT(t, r.rc, 2);
    unlink(in);
    unlink(out);
}

/* The bounded line reader under the CLI: long lines skipped, NULs kept,
** a read error reported as one. */
static void test_cli_io_line_reader(lx_t *t) {
    FILE *f = tmpfile();
    LX_REQUIRE(t, f != NULL);
    fwrite("ab\n\nxxxxxxxxxx\na\0b\nc", 1, 20, f);
    rewind(f);
    lx_line_reader r = {.f = f, .max = 5};
    LX_CHECK_INT(t, lx_line_read(&r), LX_LINE_OK);
    LX_CHECK(t, r.line.len == 2 && strcmp(r.line.data, "ab") == 0);
    LX_CHECK_INT(t, lx_line_read(&r), LX_LINE_OK);
    LX_CHECK_INT(t, r.line.len, 0);
    LX_CHECK_INT(t, lx_line_read(&r), LX_LINE_LONG);
    LX_CHECK_INT(t, r.skipped, 10);
    LX_CHECK_INT(t, r.line.len, 0);
    LX_CHECK_INT(t, lx_line_read(&r), LX_LINE_OK);
    LX_CHECK(t, r.line.len == 3 && memcmp(r.line.data, "a\0b", 3) == 0);
    LX_CHECK_INT(t, lx_line_read(&r), LX_LINE_OK); /* the last line lacks its newline */
    LX_CHECK(t, r.line.len == 1 && r.line.data[0] == 'c');
    LX_CHECK_INT(t, lx_line_read(&r), LX_LINE_END);
    LX_CHECK(t, r.line.cap <= 2 * 5 + 16); /* never more than about twice max */
    fclose(f);
    f = fopen("/tmp", "r");
    LX_REQUIRE(t, f != NULL);
    r.f = f;
    errno = 0;
    LX_CHECK_INT(t, lx_line_read(&r), LX_LINE_ERROR);
    LX_CHECK_INT(t, errno, EISDIR);
    fclose(f);
    lx_line_reader_free(&r);
}

/* An endless line from /dev/zero: the process must go on discarding it in
** bounded memory (no growth to gigabytes, no exit 0 at a failed
** allocation) until it is stopped. */
static void test_cli_io_endless_line(lx_t *t) {
    char model[512], args[1024];
    if (!have_fixture(t, "llama_q.gguf", model, sizeof model)) return;
    snprintf(args, sizeof args, "relations -m %s --schema schemas/gad.json -t 1", model);
    io_opts o = {.in = "/dev/zero", .mem = 1L << 30, .timeout = 3};
    io_result r;
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.timed_out, "ended by itself (rc %d) instead of reading on: %s", r.rc, r.err);
    /* The default 16 MiB limit holds at most 32 MiB of line; the tiny
    ** model and the runtime take the rest (ASan adds its own). */
    LX_CHECK_MSG(t, r.peak_kb > 0 && r.peak_kb < (UNDER_ASAN ? 600 : 200) * 1024L,
                 "peak memory %ld kB", r.peak_kb);
}

/* ==== Item 4: NUL bytes ==== */

static void test_cli_io_nul_line(lx_t *t) {
    char model[512], args[1024], in[] = "/tmp/lx-cli-io-in-XXXXXX",
                                 out[] = "/tmp/lx-cli-io-o-XXXXXX";
    if (!have_fixture(t, "llama_q.gguf", model, sizeof model)) return;
    int fd = mkstemp(in), fo = mkstemp(out);
    LX_REQUIRE(t, fd >= 0 && fo >= 0);
    close(fo);
    FILE *f = fdopen(fd, "w");
    fputs(REL_LINE1, f);
    fputc(0, f);
    fputs("{\"id\": 2}\n", f);
    fputc('{', f);
    fputc(0, f);
    fputc('\n', f);
    fputs(REL_LINE3, f);
    fclose(f);
    snprintf(args, sizeof args, "relations -m %s --schema schemas/gad.json -t 1", model);
    io_opts o = {.in = in, .out = out, .timeout = 60};
    io_result r;
    run_io(args, &o, &r);
    size_t n = 0;
    char *s = read_text(out, &n);
    LX_REQUIRE(t, s != NULL);
    LX_CHECK_MSG(t, r.rc == 1, "rc %d, %s", r.rc, r.err);
    LX_CHECK_MSG(t, count_char(s, n, '\n') == 4, "one output line per input line: %s", s);
    LX_CHECK(t, strstr(s, "\"message\":\"line 2: contains a NUL byte\"") != NULL);
    LX_CHECK(t, strstr(s, "\"message\":\"line 3: contains a NUL byte\"") != NULL);
    free(s);
    unlink(in);
    unlink(out);
}

/* ==== Item 5a: NaN and out-of-range floats ==== */

static void test_cli_io_nan_options(lx_t *t) {
    const char *bad[] = {
        "generate -p hi --temp nan",   "generate -p hi --temp NaN",   "generate -p hi --temp inf",
        "generate -p hi --temp -1",    "generate -p hi --temp 1e999", "generate -p hi --top-p nan",
        "generate -p hi --top-p -0.1", "generate -p hi --top-p inf",  "generate -p hi --top-p 1.5",
        "generate -p hi -n nan",       "generate -p hi --seed nan",   "generate -p hi --seed -inf",
        "tokenize -p hi -c nan",       "generate -p hi --top-k nan"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        io_opts o = {.timeout = 30};
        io_result r;
        run_io(bad[i], &o, &r);
        LX_CHECK_MSG(t, r.rc == 2 && strstr(r.err, "expects a number"), "lexie %s: rc %d, %s",
                     bad[i], r.rc, r.err);
    }
    const char *bad2[] = {"relations --schema gad --threshold nan",
                          "relations --schema gad --threshold -inf",
                          "eval re --data gad --threshold nan", "eval re --data gad --limit nan"};
    for (size_t i = 0; i < sizeof bad2 / sizeof bad2[0]; i++) {
        io_opts o = {.timeout = 30};
        io_result r;
        run_io(bad2[i], &o, &r);
        LX_CHECK_MSG(t, r.rc == 2, "lexie %s: rc %d, %s", bad2[i], r.rc, r.err);
    }
}

/* ==== Item 6: --chat-template TEXT and --chat-template-file FILE ==== */

static void test_cli_io_chat_template(lx_t *t) {
    char model[512], args[2048], tf[] = "/tmp/lx-cli-io-t-XXXXXX";
    if (!have_fixture(t, "llama_f32.gguf", model, sizeof model)) return;
    const char *tmpl = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}";
    int fd = mkstemp(tf);
    LX_REQUIRE(t, fd >= 0);
    close(fd);
    LX_REQUIRE(t, write_text(tf, tmpl, strlen(tmpl)));
    io_opts o = {.timeout = 60};
    io_result r;
    char out1[] = "/tmp/lx-cli-io-o-XXXXXX", out2[] = "/tmp/lx-cli-io-o-XXXXXX";
    close(mkstemp(out1));
    close(mkstemp(out2));
    /* The file and the text give the same tokens. */
    snprintf(args, sizeof args, "tokenize -m %s --chat -p hello --chat-template-file %s", model,
             tf);
    o.out = out1;
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 0, "rc %d, %s", r.rc, r.err);
    snprintf(args, sizeof args, "tokenize -m %s --chat -p hello --chat-template '%s'", model, tmpl);
    o.out = out2;
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 0, "rc %d, %s", r.rc, r.err);
    char *a = read_text(out1, NULL), *b = read_text(out2, NULL);
    LX_CHECK(t, a && b && a[0] && strcmp(a, b) == 0);
    free(a);
    free(b);
    o.out = NULL;
    /* A missing file is an error naming it, in every command. */
    const char *missing[] = {
        "generate -m %s --chat -p hi --chat-template-file /nonexistent/t.jinja",
        "tokenize -m %s --chat -p hi --chat-template-file /nonexistent/t.jinja",
        "relations -m %s --schema schemas/gad.json --chat-template-file "
        "/nonexistent/t.jinja",
        "eval re --data gad -m %s --chat-template-file /nonexistent/t.jinja"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        snprintf(args, sizeof args, missing[i], model);
        run_io(args, &o, &r);
        LX_CHECK_MSG(
            t, r.rc == 1 && strstr(r.err, "/nonexistent/t.jinja") && strstr(r.err, "No such file"),
            "lexie %s: rc %d, %s", args, r.rc, r.err);
    }
    /* A directory is unreadable. */
    snprintf(args, sizeof args, "tokenize -m %s --chat -p hi --chat-template-file /tmp", model);
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 1 && strstr(r.err, "/tmp"), "rc %d, %s", r.rc, r.err);
    /* Both at once: a usage error. */
    snprintf(args, sizeof args, "tokenize -m %s -p hi --chat-template x --chat-template-file %s",
             model, tf);
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 2 && strstr(r.err, "not both"), "rc %d, %s", r.rc, r.err);
    /* A path given as the text: used as text, with a warning. */
    snprintf(args, sizeof args, "tokenize -m %s -p hi --chat-template %s", model, tf);
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, strstr(r.err, "use --chat-template-file"), "rc %d, %s", r.rc, r.err);
    unlink(tf);
    unlink(out1);
    unlink(out2);
}

/* ==== Item 9: two identical evaluations at once ==== */

static void test_cli_io_eval_lock(lx_t *t) {
    char model[512], args[2048], preds[1200];
    if (!have_fixture(t, "llama_q.gguf", model, sizeof model)) return;
    char *dir = temp_dir();
    LX_REQUIRE(t, dir && make_gad(dir, 12));
    char out[700];
    snprintf(out, sizeof out, "%s/out", dir);
    setenv("LEXIE_DATA", dir, 1);
    snprintf(args, sizeof args,
             "eval re --data gad -m %s --out %s -t 1 --batch 1 --quiet --chat-template-file "
             "%s/tmpl.jinja",
             model, out, dir);
    io_opts o = {.timeout = 60};
    io_result r;
    /* Name the file with a short run, then hold its lock here. */
    snprintf(args + strlen(args), sizeof args - strlen(args), " --limit 1");
    run_io(args, &o, &r);
    LX_REQUIRE(t, r.rc == 0);
    LX_REQUIRE(t, count_entries(out, "gad-", ".jsonl", preds, sizeof preds) == 1);
    args[strlen(args) - strlen(" --limit 1")] = 0;
    int fd = open(preds, O_RDONLY);
    LX_REQUIRE(t, fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    double t0 = now_s();
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 1 && strstr(r.err, "in use by another run"), "rc %d, %s", r.rc, r.err);
    LX_CHECK_MSG(t, now_s() - t0 < 30, "a locked run waited %.1f s", now_s() - t0);
    LX_CHECK_INT(t, check_preds(t, preds), 1);
    close(fd);
    /* Two processes at once: whatever the timing, each id once. */
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        fflush(NULL);
        kids[k] = fork();
        if (kids[k] == 0) {
            io_result rr;
            io_opts oo = {.timeout = 60};
            run_io(args, &oo, &rr);
            _exit(rr.rc == 0 ? 0 : strstr(rr.err, "in use by another run") ? 3 : 1);
        }
    }
    int ok0 = 0, busy = 0;
    for (int k = 0; k < 2; k++) {
        int st = 0;
        waitpid(kids[k], &st, 0);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        ok0 += code == 0;
        busy += code == 3;
        LX_CHECK_MSG(t, code == 0 || code == 3, "a concurrent run ended with %d", code);
    }
    LX_CHECK(t, ok0 >= 1 && ok0 + busy == 2);
    LX_CHECK_INT(t, check_preds(t, preds), 12);
    unsetenv("LEXIE_DATA");
    rm_rf(dir);
    free(dir);
}

/* ==== Item 11: pull killed, overlapping spans, a full context ==== */

static void test_cli_io_pull_killed(lx_t *t) {
    char *home = temp_dir();
    LX_REQUIRE(t, home != NULL);
    char py[700], pidf[700], models[700], cmd[2400];
    snprintf(py, sizeof py, "%s/fakepython", home);
    snprintf(pidf, sizeof pidf, "%s/child.pid", home);
    snprintf(models, sizeof models, "%s/models", home);
    /* A "pip download" that hangs until it is killed. */
    snprintf(cmd, sizeof cmd, "#!/bin/sh\necho $$ > '%s.tmp' && mv '%s.tmp' '%s'\nexec sleep 60\n",
             pidf, pidf, pidf);
    LX_REQUIRE(t, write_text(py, cmd, strlen(cmd)) && chmod(py, 0755) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_RDWR);
        dup2(dn, 0);
        dup2(dn, 1);
        dup2(dn, 2);
        setenv("LEXIE_HOME", home, 1);
        unsetenv("LEXIE_OFFLINE");
        execl(lx_test_cli(), "lexie", "pull", "--python", py, (char *)NULL);
        _exit(127);
    }
    double t0 = now_s();
    while (access(pidf, R_OK) != 0 && now_s() - t0 < 20) nap_ms(20);
    char *ps = read_text(pidf, NULL);
    int child = ps ? atoi(ps) : 0;
    free(ps);
    LX_CHECK_MSG(t, child > 0, "the fake pip never started");
    LX_CHECK_INT(t, count_entries(models, ".work-", NULL, NULL, 0), 1);
    kill(pid, SIGTERM);
    int st = 0;
    t0 = now_s();
    while (waitpid(pid, &st, WNOHANG) == 0 && now_s() - t0 < 20) nap_ms(20);
    if (now_s() - t0 >= 20) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        LX_CHECK_MSG(t, 0, "lexie pull did not end on SIGTERM");
    }
    LX_CHECK_MSG(t, WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %d", st);
    if (child > 0) {
        int alive = kill(child, 0) == 0;
        LX_CHECK_MSG(t, !alive, "the pip child %d outlived lexie pull", child);
        if (alive) kill(child, SIGKILL);
    }
    LX_CHECK_INT(t, count_entries(models, ".work-", NULL, NULL, 0), 0);
    snprintf(cmd, sizeof cmd, "find '%s' -name '.part-*' | grep -q .", models);
    LX_CHECK_MSG(t, system(cmd) != 0, "a .part-* file is left in %s", models);
    rm_rf(home);
    free(home);
}

static void test_cli_io_overlap(lx_t *t) {
    const char *bad =
        "{\"id\": 1, \"text\": \"BRCA1 gene causes cancer\", \"head\": {\"start\": 0, "
        "\"end\": 10}, \"tail\": {\"start\": 6, \"end\": 24}}";
    const char *inside =
        "{\"id\": 1, \"text\": \"BRCA1 gene causes cancer\", \"head\": {\"start\": 0, "
        "\"end\": 24}, \"tail\": {\"start\": 6, \"end\": 10}}";
    const char *adjacent = "{\"id\": 1, \"text\": \"BRCA1 gene causes cancer\", \"head\": "
                           "{\"start\": 0, \"end\": 5}, \"tail\": {\"start\": 5, \"end\": 10}}";
    lexie_re_line l;
    lexie_error e;
    LX_CHECK_INT(t, lexie_re_line_parse(bad, strlen(bad), 3, &l, &e), LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strstr(e.message, "line 3: head [0, 10) and tail [6, 24) overlap") != NULL,
                 "%s", e.message);
    lexie_re_line_clear(&l);
    LX_CHECK_INT(t, lexie_re_line_parse(inside, strlen(inside), 0, &l, &e), LEXIE_E_FORMAT);
    lexie_re_line_clear(&l);
    LX_CHECK_INT(t, lexie_re_line_parse(adjacent, strlen(adjacent), 0, &l, &e), LEXIE_OK);
    lexie_re_line_clear(&l);
}

static void test_cli_io_context_full(lx_t *t) {
    char model[512], args[1024];
    if (!have_fixture(t, "llama_f32.gguf", model, sizeof model)) return;
    snprintf(args, sizeof args, "generate -m %s -p hello -n 0 -c 16", model);
    io_opts o = {.timeout = 60};
    io_result r;
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 0 && strstr(r.err, "stopped at the end of the context (16 tokens"),
                 "rc %d, %s", r.rc, r.err);
    snprintf(args, sizeof args, "generate -m %s -p hello -n 2 -c 16", model);
    run_io(args, &o, &r);
    LX_CHECK_MSG(t, r.rc == 0 && !strstr(r.err, "end of the context"), "rc %d, %s", r.rc, r.err);
    /* The API says why. */
    lexie_error e;
    lexie_model *m = lexie_model_load(model, NULL, &e);
    LX_REQUIRE(t, m != NULL);
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = 16;
    cp.n_threads = 1;
    lexie_ctx *c = lexie_ctx_new(m, &cp, &e);
    lexie_token toks[8];
    int n = 0;
    if (c && lexie_tokenize(m, "hello", 5, 1, 0, toks, 8, &n, &e) == LEXIE_OK) {
        lexie_gen_params gp = lexie_gen_default_params();
        lexie_gen_stop why = LEXIE_GEN_EOG;
        int ng = 0;
        LX_CHECK_INT(t, lexie_generate_ex(c, toks, n, &gp, NULL, NULL, NULL, &ng, &why, &e),
                     LEXIE_OK);
        LX_CHECK_INT(t, why, LEXIE_GEN_CTX_FULL);
        gp.max_tokens = 2;
        LX_CHECK_INT(t, lexie_generate_ex(c, toks, n, &gp, NULL, NULL, NULL, &ng, &why, &e),
                     LEXIE_OK);
        LX_CHECK_INT(t, why, LEXIE_GEN_MAX_TOKENS);
    } else {
        LX_CHECK_MSG(t, 0, "setup: %s", e.message);
    }
    lexie_ctx_free(c);
    lexie_model_free(m);
}

void suite_cli_io(void) {
    LX_RUN(test_cli_io_dev_full);
    LX_RUN(test_cli_io_relations_fsize);
    LX_RUN(test_cli_io_eval_fsize);
    LX_RUN(test_cli_io_read_errors);
    LX_RUN(test_cli_io_line_reader);
    LX_RUN(test_cli_io_long_line);
    LX_RUN(test_cli_io_endless_line);
    LX_RUN(test_cli_io_nul_line);
    LX_RUN(test_cli_io_nan_options);
    LX_RUN(test_cli_io_chat_template);
    LX_RUN(test_cli_io_eval_lock);
    LX_RUN(test_cli_io_pull_killed);
    LX_RUN(test_cli_io_overlap);
    LX_RUN(test_cli_io_context_full);
}
