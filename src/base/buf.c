/*
** buf.c -- the one growable buffer: lx_grow for arrays of any element
** type, and lx_buf, a byte buffer built on it.
**
** Every growth is checked twice, for the element count (doubling stops
** short of SIZE_MAX) and for the byte size (count * element size, at most
** PTRDIFF_MAX), before realloc sees it, so a hostile length fails with
** LEXIE_E_NOMEM instead of wrapping around into a small allocation.  On
** failure the old memory and capacity are left as they were: the caller
** still owns and frees them.
*/
#include "base.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation holds at least this many elements, so that a
** buffer fed one element at a time reallocs O(log n) times. */
#define GROW_MIN 16

lexie_status lx_grow(void **p, size_t *cap, size_t need, size_t elem, lexie_error *err) {
    if (need <= *cap) return LEXIE_OK;
    size_t c = *cap ? *cap : GROW_MIN, bytes;
    while (c < need) c = c > SIZE_MAX / 2 ? need : c * 2;
    /* C objects end below PTRDIFF_MAX bytes; malloc refuses larger ones. */
    if (!lx_mul_ok(c, elem, &bytes) || bytes > PTRDIFF_MAX)
        return lx_fail(err, LEXIE_E_NOMEM, "buffer of %zu x %zu bytes overflows", need, elem);
    void *q = realloc(*p, bytes ? bytes : 1);
    if (!q)
        return lx_fail(err, LEXIE_E_NOMEM, "out of memory growing a buffer to %zu bytes", bytes);
    *p = q;
    *cap = c;
    return LEXIE_OK;
}

lexie_status lx_buf_reserve(lx_buf *b, size_t extra, lexie_error *err) {
    if (extra > SIZE_MAX - b->len - 1)
        return lx_fail(err, LEXIE_E_NOMEM, "buffer of %zu + %zu bytes overflows", b->len, extra);
    return lx_grow((void **)&b->data, &b->cap, b->len + extra + 1, 1, err);
}

lexie_status lx_buf_append(lx_buf *b, const void *s, size_t n, lexie_error *err) {
    lexie_status st = lx_buf_reserve(b, n, err);
    if (st) return st;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
    return LEXIE_OK;
}

void lx_buf_reset(lx_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

void lx_buf_free(lx_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
