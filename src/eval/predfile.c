/*
** predfile.c -- what every resumable evaluation shares: a seeded sample
** of a data set, the configuration hash that names a run's files, and the
** prediction file itself, locked for the whole run and appended one
** checked write per batch, so a stopped run resumes where it stopped and a
** torn last line is never trusted.
*/
#include "eval.h"

#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int *lx_eval_pick(int n, int k, uint64_t seed, const int *excl) {
    int *a = malloc((size_t)(n > 0 ? n : 1) * sizeof *a), m = 0;
    if (!a) return NULL;
    for (int i = 0; i < n; i++)
        if (!excl || !excl[i]) a[m++] = i;
    if (k > m) k = m;
    uint64_t s = seed;
    for (int i = 0; i < k; i++) {
        int j = i + (int)(lx_rng_next(&s) % (uint64_t)(m - i));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
    return a;
}

void lx_eval_config_hash(const char *config, size_t len, char out[13]) {
    lx_sha256 h;
    unsigned char dg[32];
    char hex[65];
    lx_sha256_init(&h);
    lx_sha256_update(&h, config, len);
    lx_sha256_final(&h, dg);
    lx_sha256_hex(dg, hex);
    memcpy(out, hex, 12);
    out[12] = 0;
}

lexie_status lx_predfile_lock(const char *path, int *fd_out, lexie_error *err) {
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return lx_fail(err, LEXIE_E_IO, "cannot write %s: %s", path, strerror(errno));
    int rc;
    while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return lx_fail(err, LEXIE_E_IO,
                           "%s is in use by another run of the same evaluation; wait for it to "
                           "finish (it writes the same predictions), or use another output folder",
                           path);
        return lx_fail(err, LEXIE_E_IO, "cannot lock %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return LEXIE_OK;
}

lexie_status lx_predfile_append(int fd, const char *data, size_t n, off_t *end, const char *path,
                                lexie_error *err) {
    if (n == 0) return LEXIE_OK;
    if (lx_write_all(fd, data, n) != 0) {
        int e = errno;
        if (ftruncate(fd, *end) != 0) { /* best effort: a resume trims a torn tail */
        }
        return lx_fail(err, LEXIE_E_IO, "cannot write predictions to %s: %s", path, strerror(e));
    }
    *end += (off_t)n;
    return LEXIE_OK;
}
