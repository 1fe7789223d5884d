/*
** cache.c -- the on-disk model cache: where files live, the manifest, the
** write lock, and the "sink" through which every model file enters.
**
** A model file is only ever visible under its final name once its size
** and SHA-256 have been checked: bytes go to a temporary file in the same
** folder (so the rename is atomic), and the manifest is written after the
** rename.  A manifest therefore vouches for a verified file, which is why
** lx_hub_is_cached may trust it without hashing 100 MB on every start.
** A crash between rename and manifest leaves a file without a manifest,
** which the next pull hashes instead of downloading again.
*/
#include "hub.h"

#include "base/json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_CHUNK (1u << 20)
#define EMIT_EVERY ((uint64_t)4 << 20)

/* ==== Paths ==== */

char *lx_hub_strf(lexie_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        lx_fail(err, LEXIE_E_INTERNAL, "bad format '%s'", fmt);
        return NULL;
    }
    char *s = lx_malloc((size_t)n + 1, err);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

lexie_status lx_hub_home(char **out, lexie_error *err) {
    const char *h = getenv("LEXIE_HOME");
    if (h && *h)
        *out = lx_hub_strf(err, "%s", h);
    else if ((h = getenv("HOME")) && *h)
        *out = lx_hub_strf(err, "%s/.cache/lexie", h);
    else
        return lx_fail(err, LEXIE_E_INVALID, "neither LEXIE_HOME nor HOME is set");
    return *out ? LEXIE_OK : LEXIE_E_NOMEM;
}

static char *models_dir(lexie_error *err) {
    char *home, *d;
    if (lx_hub_home(&home, err)) return NULL;
    d = lx_hub_strf(err, "%s/models", home);
    free(home);
    return d;
}

lexie_status lx_hub_model_dir(const lexie_model_info *m, char **out, lexie_error *err) {
    char *md = models_dir(err);
    if (!md) return err ? err->code : LEXIE_E_NOMEM;
    *out = lx_hub_strf(err, "%s/%s", md, m->name);
    free(md);
    return *out ? LEXIE_OK : LEXIE_E_NOMEM;
}

lexie_status lx_hub_model_file(const lexie_model_info *m, char **out, lexie_error *err) {
    char *d;
    lexie_status st = lx_hub_model_dir(m, &d, err);
    if (st) return st;
    *out = lx_hub_strf(err, "%s/%s.gguf", d, m->sha256);
    free(d);
    return *out ? LEXIE_OK : LEXIE_E_NOMEM;
}

/* mkdir -p; *made (may be NULL) is set when the last component was new. */
static lexie_status mkdir_p(const char *path, int *made, lexie_error *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (made) *made = 0;
    if (n == 0 || n >= sizeof buf) return lx_fail(err, LEXIE_E_INVALID, "bad path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) == 0) {
            if (made && i == n) *made = 1;
        } else if (errno != EEXIST) {
            return lx_fail(err, LEXIE_E_IO, "cannot create folder %s: %s", buf, strerror(errno));
        }
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return lx_fail(err, LEXIE_E_IO, "%s is not a folder", path);
    return LEXIE_OK;
}

void lx_hub_rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char *sub = lx_hub_strf(NULL, "%s/%s", path, e->d_name);
            if (sub) lx_hub_rm_rf(sub);
            free(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Removes the entries of dir whose names start with prefix. */
static void rm_prefixed(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        char *sub = lx_hub_strf(NULL, "%s/%s", dir, e->d_name);
        if (sub) lx_hub_rm_rf(sub);
        free(sub);
    }
    closedir(d);
}

void lx_hub_clean_stale(const lexie_model_info *m) {
    char *md = models_dir(NULL), *dir = NULL;
    if (md) rm_prefixed(md, ".work-");
    if (lx_hub_model_dir(m, &dir, NULL) == LEXIE_OK) {
        rm_prefixed(dir, ".part-");
        rm_prefixed(dir, ".manifest-");
    }
    free(md);
    free(dir);
}

/* ==== Manifest ==== */

/* Written to a temporary file and renamed, like the model itself.  The
** layout (two-space indent, one source per line) is kept stable: people
** read these files. */
static lexie_status write_manifest(const lexie_model_info *m, const char *dir, const char *origin,
                                   lexie_error *err) {
    char *dst = lx_hub_strf(err, "%s/manifest.json", dir);
    if (!dst) return LEXIE_E_NOMEM;
    char date[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    lx_jbuf b = {0};
    lx_jbuf_puts(&b, "{\n  \"name\": ");
    lx_jbuf_cstr(&b, m->name);
    lx_jbuf_printf(&b, ",\n  \"file\": \"%s.gguf\",\n  \"sha256\": \"%s\",\n", m->sha256,
                   m->sha256);
    lx_jbuf_printf(&b, "  \"size\": %llu,\n  \"arch\": ", (unsigned long long)m->size);
    lx_jbuf_cstr(&b, m->arch ? m->arch : "");
    lx_jbuf_puts(&b, ",\n  \"license\": ");
    lx_jbuf_cstr(&b, m->license ? m->license : "");
    lx_jbuf_puts(&b, ",\n  \"sources\": [");
    for (int i = 0; i < m->n_parts; i++) {
        lx_jbuf_puts(&b, i ? ",\n    {\"package\": " : "\n    {\"package\": ");
        lx_jbuf_cstr(&b, m->parts[i].package);
        lx_jbuf_puts(&b, ", \"version\": ");
        lx_jbuf_cstr(&b, m->parts[i].version);
        lx_jbuf_puts(&b, ", \"member\": ");
        lx_jbuf_cstr(&b, m->parts[i].member); /* NULL: null */
        lx_jbuf_putc(&b, '}');
    }
    lx_jbuf_puts(&b, "\n  ],\n  \"origin\": ");
    lx_jbuf_cstr(&b, origin);
    lx_jbuf_printf(&b, ",\n  \"installed\": \"%s\",\n  \"lexie_version\": \"%s\"\n}\n", date,
                   lexie_version());
    lexie_status st = lx_jbuf_status(&b, err);
    if (!st) st = lx_write_file_atomic(dst, b.data, b.len, err);
    lx_jbuf_free(&b);
    free(dst);
    return st;
}

/* 1 if the manifest in dir records this sha256 and size.  The manifest is
** our own file, but it is still read with a bound and parsed in full. */
static int manifest_matches(const char *dir, const char *sha256, uint64_t bytes) {
    char *path = lx_hub_strf(NULL, "%s/manifest.json", dir);
    if (!path) return 0;
    static const lx_json_limits lim = {.max_depth = 8, .max_bytes = (size_t)1 << 20};
    lx_json_doc *d = lx_json_parse_file(path, &lim, NULL);
    free(path);
    if (!d) return 0;
    const lx_json *root = lx_json_root(d);
    const char *sha = lx_json_string(lx_json_get(root, "sha256"));
    const lx_json *size = lx_json_get(root, "size");
    int64_t v;
    int ok =
        sha && strcmp(sha, sha256) == 0 && lx_json_int(size, &v) && v >= 0 && (uint64_t)v == bytes;
    lx_json_doc_free(d);
    return ok;
}

int lx_hub_is_cached(const lexie_model_info *m) {
    char *dir = NULL, *file = NULL;
    int ok = 0;
    if (lx_hub_model_dir(m, &dir, NULL) == LEXIE_OK &&
        lx_hub_model_file(m, &file, NULL) == LEXIE_OK) {
        struct stat st;
        ok = stat(file, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == m->size &&
             manifest_matches(dir, m->sha256, m->size);
    }
    free(dir);
    free(file);
    return ok;
}

lexie_status lexie_model_file_sha256(const char *path, char out[65], lexie_error *err) {
    if (!path || !out) return lx_fail(err, LEXIE_E_INVALID, "model file hash: NULL argument");
    /* <dir>/<sha256>.gguf, vouched for by <dir>/manifest.json */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    struct stat st;
    if (strlen(base) == 69 && !strcmp(base + 64, ".gguf") && stat(path, &st) == 0 &&
        S_ISREG(st.st_mode)) {
        char sha[65];
        memcpy(sha, base, 64);
        sha[64] = 0;
        char *dir = base > path ? lx_hub_strf(NULL, "%.*s", (int)(base - 1 - path), path)
                                : lx_hub_strf(NULL, ".");
        int ok = dir && lx_sha256_hex_ok(sha) && manifest_matches(dir, sha, (uint64_t)st.st_size);
        free(dir);
        if (ok) {
            memcpy(out, sha, 65);
            return LEXIE_OK;
        }
    }
    return lx_sha256_file(path, out, err);
}

/* ==== Lock and progress ==== */

lexie_status lx_hub_lock(const lexie_pull_params *p, int *fd_out, lexie_error *err) {
    char *md = models_dir(err), *lock = NULL;
    lexie_status st = md ? mkdir_p(md, NULL, err) : LEXIE_E_NOMEM;
    if (st) goto out;
    if (!(lock = lx_hub_strf(err, "%s/.lock", md))) {
        st = LEXIE_E_NOMEM;
        goto out;
    }
    /* O_CLOEXEC: a pip child must not inherit, and so outlive, our lock. */
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = lx_fail(err, LEXIE_E_IO, "cannot open lock %s: %s", lock, strerror(errno));
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        lx_hub_emit(p, LEXIE_PULL_WAIT, 0, 0, 0, 0, lock);
        int r;
        while ((r = flock(fd, LOCK_EX)) != 0 && errno == EINTR && !lx_hub_cancelled()) {
        }
        if (r != 0) {
            st = lx_fail(err, LEXIE_E_IO, "cannot lock %s: %s", lock, strerror(errno));
            close(fd);
            goto out;
        }
    }
    *fd_out = fd;
out:
    free(md);
    free(lock);
    return st;
}

void lx_hub_unlock(int fd) {
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

void lx_hub_emit(const lexie_pull_params *p, lexie_pull_stage stage, int part, int n_parts,
                 uint64_t done, uint64_t total, const char *what) {
    if (!p || !p->progress) return;
    lexie_pull_event ev = {stage, part, n_parts, done, total, what ? what : ""};
    p->progress(&ev, p->user);
}

/* ==== Sink ==== */

static lexie_status write_all(int fd, const void *data, size_t n, const char *path,
                              lexie_error *err) {
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return lx_fail(err, LEXIE_E_IO, "cannot write %s: %s", path,
                           w < 0 ? strerror(errno) : "no progress");
        p += w;
        n -= (size_t)w;
    }
    return LEXIE_OK;
}

lexie_status lx_hub_sink_open(lx_hub_sink *s, const lexie_model_info *m, const lexie_pull_params *p,
                              lexie_error *err) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->m = m;
    s->p = p;
    s->stage = LEXIE_PULL_EXTRACT;
    s->origin = "pip";
    lx_sha256_init(&s->sha);
    lexie_status st = lx_hub_model_dir(m, &s->dir, err);
    if (st) return st;
    if ((st = mkdir_p(s->dir, &s->made_dir, err))) return st;
    if (!(s->tmp_path = lx_hub_strf(err, "%s/.part-XXXXXX", s->dir))) return LEXIE_E_NOMEM;
    s->fd = mkstemp(s->tmp_path);
    if (s->fd < 0) {
        st = lx_fail(err, LEXIE_E_IO, "cannot create %s: %s", s->tmp_path, strerror(errno));
        free(s->tmp_path);
        s->tmp_path = NULL;
        return st;
    }
    fcntl(s->fd, F_SETFD, FD_CLOEXEC);
    return LEXIE_OK;
}

lexie_status lx_hub_sink_write(lx_hub_sink *s, const void *data, size_t n, lexie_error *err) {
    if (n > s->m->size - s->n)
        return lx_fail(err, LEXIE_E_FORMAT,
                       "model %s: more than the expected %llu bytes arrived (part %d)", s->m->name,
                       (unsigned long long)s->m->size, s->part);
    lexie_status st = write_all(s->fd, data, n, s->tmp_path, err);
    if (st) return st;
    lx_sha256_update(&s->sha, data, n);
    s->n += n;
    if (s->n - s->n_emitted >= EMIT_EVERY) {
        s->n_emitted = s->n;
        lx_hub_emit(s->p, s->stage, s->part, s->m->n_parts, s->n, s->m->size, s->m->name);
    }
    return LEXIE_OK;
}

void lx_hub_sink_abort(lx_hub_sink *s) {
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    if (s->tmp_path) unlink(s->tmp_path);
    if (s->made_dir && s->dir) rmdir(s->dir); /* fails, harmlessly, unless empty */
    free(s->tmp_path);
    free(s->dir);
    s->tmp_path = s->dir = NULL;
}

lexie_status lx_hub_sink_commit(lx_hub_sink *s, char **out_path, lexie_error *err) {
    const lexie_model_info *m = s->m;
    char *final = NULL;
    unsigned char d[32];
    char hex[65];
    lexie_status st = LEXIE_OK;
    lx_hub_emit(s->p, s->stage, s->part, m->n_parts, s->n, m->size, m->name);
    lx_sha256_final(&s->sha, d);
    lx_sha256_hex(d, hex);
    if (s->n != m->size) {
        st = lx_fail(err, LEXIE_E_FORMAT, "model %s: got %llu bytes, expected %llu", m->name,
                     (unsigned long long)s->n, (unsigned long long)m->size);
        goto fail;
    }
    if (strcmp(hex, m->sha256) != 0) {
        st = lx_fail(err, LEXIE_E_FORMAT, "model %s: SHA-256 mismatch: got %s, expected %s",
                     m->name, hex, m->sha256);
        goto fail;
    }
    if ((st = lx_hub_model_file(m, &final, err))) goto fail;
    if (fsync(s->fd) != 0 || fchmod(s->fd, 0644) != 0) {
        st = lx_fail(err, LEXIE_E_IO, "cannot write %s: %s", s->tmp_path, strerror(errno));
        goto fail;
    }
    int r = close(s->fd);
    s->fd = -1;
    if (r != 0 || rename(s->tmp_path, final) != 0) {
        st = lx_fail(err, LEXIE_E_IO, "cannot install %s: %s", final, strerror(errno));
        goto fail;
    }
    free(s->tmp_path);
    s->tmp_path = NULL;
    s->made_dir = 0;
    if ((st = write_manifest(m, s->dir, s->origin, err))) goto fail;
    lx_hub_emit(s->p, LEXIE_PULL_DONE, m->n_parts - 1, m->n_parts, m->size, m->size, final);
    lx_hub_sink_abort(s);
    if (out_path)
        *out_path = final;
    else
        free(final);
    return LEXIE_OK;
fail:
    lx_hub_sink_abort(s);
    free(final);
    return st;
}

/* ==== Verify and install ==== */

/* Streams fd into sink (if not NULL) and hashes it; used for checking a
** cached file and for copying a local one in. */
static lexie_status hash_fd(int fd, const char *path, const lexie_model_info *m,
                            const lexie_pull_params *p, lx_hub_sink *sink, char hex[65],
                            uint64_t *n_out, lexie_error *err) {
    unsigned char *buf = lx_malloc(IO_CHUNK, err), d[32];
    if (!buf) return LEXIE_E_NOMEM;
    lx_sha256 sha;
    lx_sha256_init(&sha);
    uint64_t n = 0, n_emitted = 0;
    lexie_status st = LEXIE_OK;
    for (;;) {
        ssize_t r = read(fd, buf, IO_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            st = lx_fail(err, LEXIE_E_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0) break;
        if (sink && (st = lx_hub_sink_write(sink, buf, (size_t)r, err))) break;
        lx_sha256_update(&sha, buf, (size_t)r);
        n += (uint64_t)r;
        if (!sink && n - n_emitted >= EMIT_EVERY) {
            n_emitted = n;
            lx_hub_emit(p, LEXIE_PULL_VERIFY, 0, m->n_parts, n, m->size, path);
        }
    }
    free(buf);
    lx_sha256_final(&sha, d);
    lx_sha256_hex(d, hex);
    *n_out = n;
    return st;
}

lexie_status lx_hub_verify_cached(const lexie_model_info *m, const lexie_pull_params *p,
                                  lexie_error *err) {
    char *file = NULL, *dir = NULL, hex[65];
    uint64_t n = 0;
    lexie_status st = lx_hub_model_file(m, &file, err);
    if (!st) st = lx_hub_model_dir(m, &dir, err);
    if (st) goto out;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = lx_fail(err, LEXIE_E_NOT_FOUND, "cannot open %s: %s", file, strerror(errno));
        goto out;
    }
    st = hash_fd(fd, file, m, p, NULL, hex, &n, err);
    close(fd);
    if (st) goto out;
    lx_hub_emit(p, LEXIE_PULL_VERIFY, 0, m->n_parts, n, m->size, file);
    if (n != m->size || strcmp(hex, m->sha256) != 0) {
        st = lx_fail(err, LEXIE_E_FORMAT, "cached %s is corrupt: %llu bytes, SHA-256 %s", file,
                     (unsigned long long)n, hex);
        goto out;
    }
    if (!manifest_matches(dir, m->sha256, m->size))
        st = write_manifest(m, dir, "verified cached file", err);
out:
    free(file);
    free(dir);
    return st;
}

lexie_status lx_hub_install_file(const lexie_model_info *m, const char *src,
                                 const lexie_pull_params *p, char **out_path, lexie_error *err) {
    lexie_status st = lx_hub_info_check(m, err);
    if (st) return st;
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lx_fail(err, LEXIE_E_IO, "cannot open %s: %s", src, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return lx_fail(err, LEXIE_E_IO, "%s is not a regular file", src);
    }
    /* A wrong size is known before copying a byte. */
    if ((uint64_t)sb.st_size != m->size) {
        close(fd);
        return lx_fail(err, LEXIE_E_FORMAT, "%s has %llu bytes; model %s has %llu", src,
                       (unsigned long long)sb.st_size, m->name, (unsigned long long)m->size);
    }
    int lock = -1;
    lx_hub_sink sink;
    char hex[65];
    uint64_t n;
    memset(&sink, 0, sizeof sink);
    sink.fd = -1;
    if ((st = lx_hub_lock(p, &lock, err))) goto out;
    lx_hub_clean_stale(m);
    if ((st = lx_hub_sink_open(&sink, m, p, err))) goto out;
    sink.stage = LEXIE_PULL_VERIFY;
    sink.origin = src;
    if ((st = hash_fd(fd, src, m, p, &sink, hex, &n, err))) goto out;
    st = lx_hub_sink_commit(&sink, out_path, err);
out:
    lx_hub_sink_abort(&sink);
    lx_hub_unlock(lock);
    close(fd);
    return st;
}

/* ==== Public lookups ==== */

lexie_status lexie_model_cache_dir(char **out, lexie_error *err) {
    if (!out) return lx_fail(err, LEXIE_E_INVALID, "out is NULL");
    *out = models_dir(err);
    return *out ? LEXIE_OK : (err && err->code ? err->code : LEXIE_E_NOMEM);
}

static lexie_status find_model(const char *name, const lexie_model_info **m, lexie_error *err) {
    *m = lexie_model_catalog_find(name);
    if (!*m)
        return lx_fail(err, LEXIE_E_NOT_FOUND,
                       "unknown model '%s' (`lexie models` lists the known ones)", name);
    return LEXIE_OK;
}

lexie_status lexie_model_cached_path(const char *name, char **out, lexie_error *err) {
    const lexie_model_info *m;
    if (!out) return lx_fail(err, LEXIE_E_INVALID, "out is NULL");
    *out = NULL;
    lexie_status st = find_model(name, &m, err);
    if (st) return st;
    if (!lx_hub_is_cached(m)) {
        char *d = NULL;
        if (lx_hub_model_dir(m, &d, err)) return err ? err->code : LEXIE_E_NOMEM;
        st = lx_fail(err, LEXIE_E_NOT_FOUND, "model %s is not in the cache (%s)", m->name, d);
        free(d);
        return st;
    }
    return lx_hub_model_file(m, out, err);
}

lexie_status lexie_model_install(const char *name, const char *path, const lexie_pull_params *p,
                                 char **out_path, lexie_error *err) {
    const lexie_model_info *m;
    if (out_path) *out_path = NULL;
    if (!path) return lx_fail(err, LEXIE_E_INVALID, "path is NULL");
    lexie_status st = find_model(name, &m, err);
    return st ? st : lx_hub_install_file(m, path, p, out_path, err);
}
