/*
** utf8.c -- UTF-8 validation.  Every text that enters lexie passes here
** first, so the tokenizer and the offset code may assume valid input.
*/
#include "base.h"

#include <string.h>

int lx_utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}

/* Length of the whole, valid character at s[0..n) (1..4); 0 when s[0..n)
** is a valid character cut short; -1 when s starts with an invalid byte. */
static int next_char(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else
        return -1;
    for (size_t k = 1; k < len; k++) {
        if (k == n) {
            /* Cut short: a valid start only if no completion is overlong,
            ** a surrogate or past U+10FFFF (checked on what is known). */
            uint32_t lo = cp << 6 * (len - k), hi = lo | ((1u << 6 * (len - k)) - 1);
            return hi < min || (lo >= 0xD800 && hi <= 0xDFFF) || lo > 0x10FFFF ? -1 : 0;
        }
        if ((p[k] & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    /* Overlong forms, UTF-16 surrogates and values past Unicode. */
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return -1;
    return (int)len;
}

int lx_utf8_valid(const char *s, size_t n, size_t *bad_off) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int len = next_char(p + i, n - i);
        if (len <= 0) {
            if (bad_off) *bad_off = i;
            return 0;
        }
        i += (size_t)len;
    }
    return 1;
}

size_t lx_utf8_sanitize(const char *s, size_t n, int final, char *out, size_t *used) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        int len = next_char(p + i, n - i);
        if (len == 0 && !final) break; /* wait for the rest */
        if (len <= 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            i += len == 0 ? n - i : 1;
            continue;
        }
        memcpy(out + o, s + i, (size_t)len);
        o += (size_t)len;
        i += (size_t)len;
    }
    if (used) *used = i;
    return o;
}
