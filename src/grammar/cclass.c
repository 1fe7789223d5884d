/*
** cclass.c -- sets of Unicode code points (character classes) and their
** byte-level form: a rule matching the UTF-8 encoding of one character
** of the set, as alternatives of byte-range sequences.
**
** A code point range is cut where the encoded length changes and then
** where the continuation bytes stop spanning their full 80..BF range, so
** every piece is a product of byte ranges (the classic UTF-8 range
** splitting).  Surrogates (D800..DFFF) are never encoded.
*/
#include "grammar/grammar.h"

#include <stdlib.h>
#include <string.h>

void lx_cps_free(lx_cps *s) {
    free(s->r);
    memset(s, 0, sizeof *s);
}

void lx_cps_add(lx_cps *s, uint32_t lo, uint32_t hi) {
    if (lo > hi || s->oom) return;
    if (hi > 0x10FFFF) hi = 0x10FFFF;
    if (s->n >= LX_GRAM_MAX_N ||
        lx_grow((void **)&s->r, &s->cap, (size_t)s->n + 1, sizeof *s->r, NULL)) {
        s->oom = 1;
        return;
    }
    s->r[s->n][0] = lo;
    s->r[s->n][1] = hi;
    s->n++;
}

static int cmp_range(const void *a, const void *b) {
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

void lx_cps_norm(lx_cps *s) {
    if (s->n == 0) return;
    qsort(s->r, (size_t)s->n, sizeof *s->r, cmp_range);
    int w = 0;
    for (int i = 1; i < s->n; i++) {
        if (s->r[i][0] <= s->r[w][1] + 1) {
            if (s->r[i][1] > s->r[w][1]) s->r[w][1] = s->r[i][1];
        } else {
            s->r[++w][0] = s->r[i][0];
            s->r[w][1] = s->r[i][1];
        }
    }
    s->n = w + 1;
}

void lx_cps_negate(lx_cps *s) {
    lx_cps_norm(s);
    lx_cps t = {0};
    uint32_t next = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->r[i][0] > next) lx_cps_add(&t, next, s->r[i][0] - 1);
        next = s->r[i][1] + 1;
    }
    if (next <= 0x10FFFF) lx_cps_add(&t, next, 0x10FFFF);
    if (s->oom) t.oom = 1;
    lx_cps_free(s);
    *s = t;
}

int lx_cps_has(const lx_cps *s, uint32_t c) {
    for (int i = 0; i < s->n; i++)
        if (c >= s->r[i][0] && c <= s->r[i][1]) return 1;
    return 0;
}

int lx_utf8_put(uint32_t c, unsigned char *out) {
    if (c < 0x80) {
        out[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (unsigned char)(0xC0 | (c >> 6));
        out[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (c >> 12));
        out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (c >> 18));
    out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* Adds alternatives to rule r for [lo, hi], all of one encoded length. */
static void split(lx_gram *g, int r, uint32_t lo, uint32_t hi, lx_bset *ascii) {
    int n = lo < 0x80 ? 1 : lo < 0x800 ? 2 : lo < 0x10000 ? 3 : 4;
    if (n == 1) {
        lx_bset_range(ascii, lo, hi);
        return;
    }
    for (int i = 1; i < n; i++) {
        uint32_t m = (1u << (6 * i)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0) {
                split(g, r, lo, lo | m, ascii);
                split(g, r, (lo | m) + 1, hi, ascii);
                return;
            }
            if ((hi & m) != m) {
                split(g, r, lo, (hi & ~m) - 1, ascii);
                split(g, r, hi & ~m, hi, ascii);
                return;
            }
        }
    }
    unsigned char a[4], b[4];
    lx_utf8_put(lo, a);
    lx_utf8_put(hi, b);
    lx_seq s = {0};
    for (int i = 0; i < n; i++) lx_seq_push(&s, lx_gram_range(g, a[i], b[i]));
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
}

int lx_gram_cps(lx_gram *g, const lx_cps *set) {
    static const uint32_t bounds[][2] = {
        {0, 0x7F}, {0x80, 0x7FF}, {0x800, 0xD7FF}, {0xE000, 0xFFFF}, {0x10000, 0x10FFFF}};
    int r = lx_gram_rule(g, "char");
    if (r < 0) return -1;
    lx_bset ascii = {{0, 0, 0, 0}};
    for (int i = 0; i < set->n; i++) {
        for (size_t k = 0; k < LX_ARRAY_LEN(bounds); k++) {
            uint32_t lo = LX_MAX(set->r[i][0], bounds[k][0]);
            uint32_t hi = LX_MIN(set->r[i][1], bounds[k][1]);
            if (lo <= hi) split(g, r, lo, hi, &ascii);
        }
    }
    if (ascii.w[0] | ascii.w[1]) {
        lx_seq s = {0};
        lx_seq_push(&s, lx_gram_set(g, &ascii));
        lx_gram_alt(g, r, &s);
        lx_seq_free(&s);
    }
    if (set->oom) g->oom = 1;
    return r;
}
