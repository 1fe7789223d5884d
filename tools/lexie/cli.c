/*
** cli.c -- what the subcommands share: the one number parser for option
** values, -m resolution (a catalog name in the cache, or a file), --schema
** resolution (a file, or a built-in name), the command line as a
** shell-quoted string for reports, the chat template options, and checked
** standard streams (a failed write is an error, never lost output).
*/
#include "cli.h"

#include "base/base.h"
#include "eval/eval.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ==== Numbers ==== */

int cli_parse_num(const char *s, double lo, double hi, int integer, double *out) {
    char *end;
    double v;
    errno = 0;
    if (integer)
        v = (double)strtol(s, &end, 10);
    else
        v = strtod(s, &end);
    /* !(lo <= v <= hi) also refuses "nan"; "inf" is refused outright. */
    if (!*s || *end || end == s || errno || !isfinite(v) || !(v >= lo && v <= hi)) return 0;
    *out = v;
    return 1;
}

/* ==== Model ==== */

static void set_err(lexie_error *err, lexie_status code, const char *fmt, ...) {
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

char *cli_resolve_model(const char *m_arg, lexie_error *err) {
    char *path = NULL;
    lexie_error e;
    if (!m_arg) {
        if (lexie_model_cached_path(NULL, &path, &e) == LEXIE_OK) return path;
        if (e.code == LEXIE_E_NOT_FOUND)
            set_err(err, LEXIE_E_NOT_FOUND,
                    "default model not found in the cache; run `lexie pull` (or `make model`) "
                    "first");
        else if (err)
            *err = e;
        return NULL;
    }
    /* Catalog names hold no '/', so "./NAME" always means a file. */
    if (lexie_model_catalog_find(m_arg)) {
        if (lexie_model_cached_path(m_arg, &path, &e) == LEXIE_OK) return path;
        set_err(err, e.code, "%s; run `lexie pull %s` first", e.message, m_arg);
        return NULL;
    }
    struct stat st;
    if (stat(m_arg, &st) != 0) {
        set_err(err, LEXIE_E_IO,
                "model file '%s' not found: %s (nor is it a known model name; "
                "see `lexie models`)",
                m_arg, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, LEXIE_E_IO, "model '%s' is not a regular file", m_arg);
        return NULL;
    }
    path = strdup(m_arg);
    if (!path) set_err(err, LEXIE_E_NOMEM, "out of memory");
    return path;
}

/* ==== LoRA ==== */

int cli_lora_option(const char *cmd, const char *opt, const char *val, cli_lora *l, int *bad) {
    double x = 1.0;
    if (strcmp(opt, "--lora") == 0) {
        l->path = val;
    } else if (strcmp(opt, "--lora-scale") == 0) {
        if (!cli_parse_num(val, -100, 100, 0, &x) || x != x) {
            fprintf(stderr, "lexie %s: --lora-scale expects a number in [-100, 100], got '%s'\n",
                    cmd, val);
            *bad = 1;
        }
        l->scale = x;
        l->scale_set = 1;
    } else {
        return 0;
    }
    return 1;
}

int cli_apply_lora(const char *cmd, const lexie_model *m, lexie_ctx *c, cli_lora *l) {
    lexie_error err;
    if (!l->path) {
        if (l->scale_set) fprintf(stderr, "lexie %s: --lora-scale without --lora\n", cmd);
        return !l->scale_set;
    }
    if (!l->adapter && !(l->adapter = lexie_adapter_load(m, l->path, &err))) {
        fprintf(stderr, "lexie %s: --lora: %s\n", cmd, err.message);
        return 0;
    }
    float scale = l->scale_set ? (float)l->scale : 1.0f;
    if (c && lexie_ctx_set_adapter(c, l->adapter, scale, &err) != LEXIE_OK) {
        fprintf(stderr, "lexie %s: --lora: %s\n", cmd, err.message);
        return 0;
    }
    return 1;
}

void cli_lora_free(cli_lora *l) {
    lexie_adapter_free(l->adapter);
    l->adapter = NULL;
}

/* ==== Schema ==== */

char *cli_find_schema(const char *arg, lexie_error *err) {
    /* Beyond $LEXIE_SCHEMAS and ./schemas: beside the binary (build/lexie
    ** -> ../schemas, an installed bin/ -> ../share/lexie/schemas). */
    char exe[4096] = "", dirs[2][4200];
    const char *dp[2];
    int nd = 0;
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(dirs[0], sizeof dirs[0], "%s/../schemas", exe);
        snprintf(dirs[1], sizeof dirs[1], "%s/../share/lexie/schemas", exe);
        dp[0] = dirs[0];
        dp[1] = dirs[1];
        nd = 2;
    }
    char *path = NULL;
    return lexie_re_schema_find(arg, dp, nd, &path, err) == LEXIE_OK ? path : NULL;
}

/* ==== Command line ==== */

char *cli_command_line(int argc, char **argv) {
    size_t cap = 8;
    for (int i = 0; i < argc; i++) cap += 4 * strlen(argv[i]) + 4;
    char *s = malloc(cap), *o = s;
    if (!s) return NULL;
    o += sprintf(o, "lexie");
    for (int i = 0; i < argc; i++) {
        /* Shell-quote what needs it, so the command can be pasted back. */
        const char *a = argv[i];
        int plain = *a != 0;
        for (const char *q = a; *q && plain; q++)
            plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-",
                           *q) != NULL;
        if (plain) {
            o += sprintf(o, " %s", a);
            continue;
        }
        o += sprintf(o, " '");
        for (const char *q = a; *q; q++) {
            if (*q == '\'')
                o += sprintf(o, "'\\''");
            else
                *o++ = *q;
        }
        *o++ = '\'';
        *o = 0;
    }
    return s;
}

/* ==== Chat template ==== */

/* Templates are small; a bound keeps a wrong path (a model file) out. */
#define TEMPLATE_MAX ((size_t)16 << 20)

int cli_chat_template(const char *cmd, const char *text, const char *file, char **out) {
    *out = NULL;
    if (file) {
        lexie_error err;
        size_t n = 0;
        char *t = lx_read_file(file, TEMPLATE_MAX, &n, &err);
        if (!t) {
            fprintf(stderr, "lexie %s: --chat-template-file: %s\n", cmd, err.message);
            return 0;
        }
        if (strlen(t) != n) {
            fprintf(stderr, "lexie %s: --chat-template-file: %s contains a NUL byte\n", cmd, file);
            free(t);
            return 0;
        }
        *out = t;
        return 1;
    }
    if (!text) return 1;
    struct stat st;
    if (!strstr(text, "{{") && !strstr(text, "{%") && stat(text, &st) == 0)
        fprintf(stderr,
                "lexie %s: warning: --chat-template takes the template text, and '%s' is a "
                "file; use --chat-template-file to read it\n",
                cmd, text);
    if (!(*out = strdup(text))) {
        fprintf(stderr, "lexie %s: out of memory\n", cmd);
        return 0;
    }
    return 1;
}

/* ==== Standard streams ==== */

void cli_guard_std_fds(void) {
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        /* open returns the lowest free fd: this one, as 0..fd-1 are open. */
        int g = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
        if (g >= 0 && g != fd) close(g);
    }
}

static int out_reported;

static int out_failed(const char *cmd, int e) {
    if (!out_reported)
        fprintf(stderr, "lexie %s: cannot write standard output: %s\n", cmd, strerror(e ? e : EIO));
    out_reported = 1;
    return -1;
}

int cli_flush_out(const char *cmd) {
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) return out_failed(cmd, errno);
    return 0;
}

int cli_close_out(const char *cmd) {
    int bad = cli_flush_out(cmd);
    errno = 0;
    if (fclose(stdout) != 0 && !bad) bad = out_failed(cmd, errno);
    return bad;
}

/* ==== Extraction commands ==== */

void cli_provenance(const char *cmd, const char *mpath, const char *schema_sha) {
    char sha[65];
    lexie_error err;
    if (lexie_model_file_sha256(mpath, sha, &err) != LEXIE_OK) snprintf(sha, sizeof sha, "unknown");
    fprintf(stderr, "lexie %s: lexie %s, model %s (sha256 %s)", cmd, lexie_version(), mpath, sha);
    if (schema_sha) fprintf(stderr, ", schema sha256 %s", schema_sha);
    fputc('\n', stderr);
}

int cli_open_model(const char *cmd, const char *m_arg, const char *tmpl, int n_ctx, int batch,
                   int threads, cli_lora *lora, char **mpath, lexie_model **m, lexie_ctx **c) {
    lexie_error err;
    lexie_model_params mp = lexie_model_default_params();
    mp.chat_template = tmpl;
    if (!(*mpath = cli_resolve_model(m_arg, &err)) || !(*m = lexie_model_load(*mpath, &mp, &err))) {
        fprintf(stderr, "lexie %s: %s\n", cmd, err.message);
        return 0;
    }
    lexie_ctx_params cp = lexie_ctx_default_params();
    int train = lexie_model_n_ctx_train(*m);
    cp.n_ctx = n_ctx > 0 ? n_ctx : LX_MIN(train > 0 ? train : 4096, 4096 + 1536 * batch);
    cp.n_seq_max = batch + 1;
    cp.n_threads = threads;
    if (!(*c = lexie_ctx_new(*m, &cp, &err))) {
        fprintf(stderr, "lexie %s: %s\n", cmd, err.message);
        return 0;
    }
    return cli_apply_lora(cmd, *m, *c, lora);
}
