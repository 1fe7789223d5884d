/*
** file.c -- whole files: reading one into memory with a size bound, and
** replacing one atomically (temporary file in the same folder, synced,
** renamed over the old one), so a reader sees the old file or the new one,
** never half of either; checked writes; and a line reader whose memory is
** bounded however long a line is.
*/
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes asked of each fread; the buffer doubles as the file grows. */
#define READ_CHUNK ((size_t)64 << 10)

char *lx_read_file(const char *path, size_t max_bytes, size_t *n, lexie_error *err) {
    if (max_bytes == 0) max_bytes = (size_t)1 << 30;
    FILE *f = fopen(path, "rb");
    if (!f) {
        lx_fail(err, LEXIE_E_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    lx_buf b = {0};
    lexie_status st = LEXIE_OK;
    for (;;) {
        if (b.len > max_bytes) {
            st = LEXIE_E_RANGE;
            break;
        }
        if (lx_buf_reserve(&b, READ_CHUNK, NULL)) {
            st = LEXIE_E_NOMEM;
            break;
        }
        size_t r = fread(b.data + b.len, 1, b.cap - b.len - 1, f);
        if (r == 0) break;
        b.len += r;
    }
    int read_errno = 0;
    if (st == LEXIE_OK && ferror(f)) {
        st = LEXIE_E_IO;
        read_errno = errno;
    }
    fclose(f);
    if (st != LEXIE_OK) {
        lx_buf_free(&b);
        if (st == LEXIE_E_IO)
            lx_fail(err, st, "%s: read error: %s", path, strerror(read_errno));
        else
            lx_fail(err, st, "%s: %s", path,
                    st == LEXIE_E_RANGE ? "larger than the limit"
                                        : "out of memory reading the file");
        return NULL;
    }
    b.data[b.len] = 0;
    *n = b.len;
    return b.data;
}

void lx_sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1; /* "/file" lives in "/" */
        if (n >= sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse it on directories */
        close(fd);
    }
}

/* "<dir>/.<stem>-XXXXXX" for path "<dir>/<stem>.<ext>", malloc'd. */
static char *tmp_template(const char *path, lexie_error *err) {
    const char *base = strrchr(path, '/');
    size_t dn = base ? (size_t)(base - path) + 1 : 0;
    base = base ? base + 1 : path;
    size_t sn = strcspn(base, ".");
    char *t = lx_malloc(dn + sn + 9, err);
    if (!t) return NULL;
    memcpy(t, path, dn);
    t[dn] = '.';
    memcpy(t + dn + 1, base, sn);
    memcpy(t + dn + 1 + sn, "-XXXXXX", 8);
    return t;
}

int lx_write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

char *lx_read_text_file(const char *path, size_t max_bytes, size_t *n, lexie_error *err) {
    char *buf = lx_read_file(path, max_bytes, n, err);
    size_t bad;
    if (buf && memchr(buf, 0, *n)) {
        free(buf);
        lx_fail(err, LEXIE_E_FORMAT, "%s: contains a NUL byte", path);
        return NULL;
    }
    if (buf && !lx_utf8_valid(buf, *n, &bad)) {
        free(buf);
        lx_fail(err, LEXIE_E_UTF8, "%s: invalid UTF-8 at byte %zu", path, bad);
        return NULL;
    }
    return buf;
}

char *lx_next_line(char **cur) {
    char *s = *cur;
    if (!s || !*s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = 0;
        *cur = nl + 1;
    } else {
        *cur = s + strlen(s);
    }
    size_t l = strlen(s);
    if (l && s[l - 1] == '\r') s[l - 1] = 0;
    return s;
}

lexie_status lx_write_file_atomic(const char *path, const void *data, size_t n, lexie_error *err) {
    char *tmp = tmp_template(path, err);
    if (!tmp) return LEXIE_E_NOMEM;
    lexie_status st = LEXIE_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = lx_fail(err, LEXIE_E_IO, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    int bad = lx_write_all(fd, data, n) != 0 || fsync(fd) != 0 ||
              fchmod(fd, 0644) != 0; /* mkstemp makes 0600 */
    int e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        st = lx_fail(err, LEXIE_E_IO, "cannot write %s: %s", path, strerror(e));
        unlink(tmp);
    } else {
        lx_sync_dir(path);
    }
    free(tmp);
    return st;
}

/* ==== Lines ==== */

int lx_line_read(lx_line_reader *r) {
    size_t max = r->max ? r->max : LX_LINE_MAX_DEFAULT;
    lx_buf_reset(&r->line);
    r->skipped = 0;
    int c, any = 0, too_long = 0;
    while ((c = getc_unlocked(r->f)) != EOF) {
        any = 1;
        if (c == '\n') break;
        if (too_long) {
            r->skipped++;
            continue;
        }
        if (r->line.len == max) {
            /* Over the limit: drop what was kept and discard up to the newline. */
            too_long = 1;
            r->skipped = r->line.len + 1;
            lx_buf_reset(&r->line);
            continue;
        }
        /* lx_buf_reserve at least doubles: at most 2 * max bytes are held. */
        if (r->line.len + 1 >= r->line.cap && lx_buf_reserve(&r->line, 1, NULL)) {
            errno = ENOMEM;
            return LX_LINE_ERROR;
        }
        r->line.data[r->line.len++] = (char)c;
    }
    if (c == EOF && ferror(r->f)) return LX_LINE_ERROR; /* errno from the failed read */
    if (!any) return LX_LINE_END;
    if (lx_buf_reserve(&r->line, 1, NULL)) {
        errno = ENOMEM;
        return LX_LINE_ERROR;
    }
    r->line.data[r->line.len] = 0;
    return too_long ? LX_LINE_LONG : LX_LINE_OK;
}

void lx_line_reader_free(lx_line_reader *r) {
    if (r) lx_buf_free(&r->line);
}
