/*
** error.c -- status codes, messages and checked allocation.
**
** The library never prints: every failure is a status code plus a message
** that lx_fail writes into the caller's lexie_error.
*/
/* madvise: not in POSIX. */
#define _DEFAULT_SOURCE
#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

const char *lexie_version(void) { return LEXIE_VERSION_STRING; }
int lexie_version_number(void) { return LEXIE_VERSION_NUMBER; }

const char *lexie_status_string(lexie_status s) {
    switch (s) {
    case LEXIE_OK: return "ok";
    case LEXIE_E_IO: return "i/o error";
    case LEXIE_E_FORMAT: return "format error";
    case LEXIE_E_UNSUPPORTED: return "unsupported";
    case LEXIE_E_NOMEM: return "out of memory";
    case LEXIE_E_INVALID: return "invalid argument";
    case LEXIE_E_UTF8: return "invalid UTF-8";
    case LEXIE_E_RANGE: return "out of range";
    case LEXIE_E_NETWORK: return "network error";
    case LEXIE_E_INTERNAL: return "internal error";
    case LEXIE_E_NOT_FOUND: return "not found";
    }
    return "unknown status";
}

void lexie_free(void *p) { free(p); }

lexie_status lx_fail(lexie_error *err, lexie_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

lexie_status lx_fail_prefix(lexie_error *err, const char *fmt, ...) {
    if (!err) return LEXIE_E_INTERNAL;
    char prefix[256], old[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    size_t np = strlen(prefix), room = sizeof err->message - 1;
    if (np > room) np = room;
    memcpy(err->message, prefix, np);
    size_t no = strnlen(old, room - np);
    memcpy(err->message + np, old, no);
    err->message[np + no] = 0;
    if (err->code == LEXIE_OK) err->code = LEXIE_E_INTERNAL;
    return err->code;
}

void lx_error_clear(lexie_error *err) {
    if (err) {
        err->code = LEXIE_OK;
        err->message[0] = 0;
    }
}

int lx_mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

void *lx_malloc(size_t size, lexie_error *err) {
    void *p = malloc(size ? size : 1);
    if (!p) lx_fail(err, LEXIE_E_NOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *lx_malloc_huge(size_t size, lexie_error *err) {
    const size_t huge = (size_t)2 << 20;
    void *p = NULL;
    if (posix_memalign(&p, huge, size ? size : 1) != 0) {
        lx_fail(err, LEXIE_E_NOMEM, "out of memory allocating %zu bytes", size);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(p, size ? size : 1, MADV_HUGEPAGE);
#endif
    return p;
}

void *lx_calloc(size_t n, size_t size, lexie_error *err) {
    size_t total;
    if (!lx_mul_ok(n, size, &total)) {
        lx_fail(err, LEXIE_E_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) lx_fail(err, LEXIE_E_NOMEM, "out of memory allocating %zu bytes", total);
    return p;
}

char *lx_strndup(const char *s, size_t n, lexie_error *err) {
    char *p = lx_malloc(n + 1, err);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *lx_strdup(const char *s, lexie_error *err) { return lx_strndup(s, strlen(s), err); }
