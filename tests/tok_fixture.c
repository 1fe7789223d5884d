/*
** tok_fixture.c -- the reader of the tokenizer suites' token-id fixtures
** (format in tok_fixture.h): the JSON string of each line decoded to
** bytes, the ids after the tab, and the mode switches in comments.
**
** One reader for BPE and SentencePiece so both suites read every file the
** same way.
*/
#include "tok_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Appends code point cp as UTF-8 at w; returns the byte after it. */
static char *put_utf8(char *w, unsigned cp) {
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xC0 | (cp >> 6));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xE0 | (cp >> 12));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (char)(0xF0 | (cp >> 18));
        *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    }
    return w;
}

/* Decodes the JSON string at *s into out (never longer than the source)
** and moves *s past it; returns its length, or -1 if malformed.  A high
** surrogate must be followed by a low one: Python's json writes pairs. */
static long json_str(const char **s, char *out) {
    const char *p = *s;
    char *w = out;
    if (*p++ != '"') return -1;
    while (*p && *p != '"') {
        if (*p != '\\') {
            *w++ = *p++;
            continue;
        }
        char c = p[1];
        p += 2;
        const char *esc = c ? strchr("\"\\/bfnrt", c) : NULL;
        if (esc) {
            *w++ = "\"\\/\b\f\n\r\t"[esc - "\"\\/bfnrt"];
        } else if (c == 'u') {
            unsigned cp, lo;
            if (sscanf(p, "%4x", &cp) != 1) return -1;
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (p[0] != '\\' || p[1] != 'u' || sscanf(p + 2, "%4x", &lo) != 1) return -1;
                if (lo < 0xDC00 || lo > 0xDFFF) return -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            w = put_utf8(w, cp);
        } else {
            return -1;
        }
    }
    if (*p != '"') return -1;
    *s = p + 1;
    return (long)(w - out);
}

int tf_load(lx_t *t, const char *name, tf_line **out) {
    const char *dir = getenv("LEXIE_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/data", name);
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        lx_test_fail(t, __FILE__, __LINE__, "cannot open %s", path);
        return 0;
    }
    int n = 0, cap = 0, add_bos = 0, special = 1, lineno = 0;
    tf_line *v = NULL;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        if (line[0] == '#') {
            if (!strncmp(line, "#parse_special=", 15)) special = atoi(line + 15);
            if (!strncmp(line, "#add_bos=", 9)) add_bos = atoi(line + 9);
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            tf_line *nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv) {
                lx_test_fail(t, __FILE__, __LINE__, "%s:%d: out of memory", path, lineno);
                break;
            }
            v = nv;
        }
        tf_line *fl = &v[n];
        /* neither the text nor the ids can outgrow the line */
        fl->text = malloc((size_t)len + 1);
        fl->ids = malloc(((size_t)len + 1) * sizeof *fl->ids);
        const char *p = line;
        long tl = fl->text && fl->ids ? json_str(&p, fl->text) : -1;
        if (tl < 0 || *p != '\t') {
            lx_test_fail(t, __FILE__, __LINE__, "%s:%d: malformed", path, lineno);
            free(fl->text);
            free(fl->ids);
            break;
        }
        fl->len = (size_t)tl;
        fl->add_bos = add_bos;
        fl->parse_special = special;
        fl->lineno = lineno;
        fl->n_ids = 0;
        for (char *q = (char *)p + 1, *end; *q && *q != '\n'; q = end) {
            long id = strtol(q, &end, 10);
            if (end == q) break;
            fl->ids[fl->n_ids++] = (int32_t)id;
        }
        n++;
    }
    free(line);
    fclose(f);
    *out = v;
    return n;
}

void tf_free(tf_line *v, int n) {
    for (int i = 0; i < n; i++) {
        free(v[i].text);
        free(v[i].ids);
    }
    free(v);
}
