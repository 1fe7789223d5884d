/*
** chat_value.c -- the bottom of the chat-template engine: the arena every
** render allocates from, errors that unwind to the render, and Jinja
** values (constructors, insertion-ordered dicts, lists).
**
** Every other chat file calls into this one and it calls none of them, so
** the engine's calls point one way: chat.c uses chat_parse.c (which uses
** chat_lex.c), chat_filters.c and chat_lib.c; chat_filters.c uses
** chat_lib.c; all of them use chat_value.c.
*/
#include "chat/chat_impl.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== Arena and errors ==== */

void *lx_chat_alloc(jx *c, size_t n) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!n) n = sizeof(max_align_t);
    jx_blk *b = c->blocks;
    if (!b || b->cap - b->used < n) {
        /* Nothing in the arena is freed before the render ends, so the
        ** bytes it holds bound the live values from above: counting them
        ** is what keeps a template that doubles a string in a loop from
        ** growing past the bound. */
        size_t cap = LX_MAX(n, (size_t)64 << 10);
        if (cap > c->lim.max_bytes || c->bytes > c->lim.max_bytes - cap)
            lx_chat_fail(c, c->pos, LEXIE_E_RANGE,
                         "the template's values need more than the memory bound of %zu bytes",
                         c->lim.max_bytes);
        b = malloc(sizeof *b + cap);
        if (!b) lx_chat_fail(c, c->pos, LEXIE_E_NOMEM, "out of memory");
        c->bytes += cap;
        b->used = 0;
        b->cap = cap;
        b->next = c->blocks;
        c->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

char *lx_chat_strndup(jx *c, const char *s, size_t n) {
    char *p = lx_chat_alloc(c, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void lx_chat_arena_free(jx *c) {
    while (c->blocks) {
        jx_blk *b = c->blocks;
        c->blocks = b->next;
        free(b);
    }
}

void *lx_chat_grow(jx *c, void *v, size_t n, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return v;
    size_t nc = *cap ? *cap : 8, bytes;
    while (nc < need) nc = nc > SIZE_MAX / 2 ? need : nc * 2;
    if (!lx_mul_ok(nc, elem, &bytes))
        lx_chat_fail(c, (size_t)-1, LEXIE_E_NOMEM, "template too large");
    void *p = lx_chat_alloc(c, bytes);
    if (n) memcpy(p, v, n * elem);
    *cap = nc;
    return p;
}

void lx_chat_enter(jx *c) {
    if (++c->depth > c->lim.max_depth)
        lx_chat_fail(c, c->pos, LEXIE_E_RANGE, "nested deeper than the bound of %d levels",
                     c->lim.max_depth);
}

void lx_chat_step(jx *c, int64_t n) {
    if (n > c->lim.max_steps - c->steps)
        lx_chat_fail(c, c->pos, LEXIE_E_RANGE, "more than the bound of %lld loop iterations",
                     (long long)c->lim.max_steps);
    c->steps += n;
}

void lx_chat_fail(jx *c, size_t pos, lexie_status code, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (pos == (size_t)-1 || pos > c->src_len) {
        lx_fail(c->err, code, "chat template: %s", msg);
    } else {
        int line = 1, col = 1;
        for (size_t i = 0; i < pos; i++) {
            if (c->src[i] == '\n')
                line++, col = 1;
            else if (((unsigned char)c->src[i] & 0xC0) != 0x80)
                col++;
        }
        lx_fail(c->err, code, "chat template line %d col %d: %s", line, col, msg);
    }
    c->status = code;
    longjmp(c->fail, 1);
}

/* ==== Values ==== */

jv lx_chat_val_str(const char *p, size_t n) { return (jv){.t = JV_STR, .u.s = {p, n, NULL}}; }

static jtaint *taint_new(jx *c, size_t n) {
    jtaint *t = lx_chat_alloc(c, sizeof *t + 2 * n * sizeof t->r[0]);
    t->n = n;
    return t;
}

jv lx_chat_val_user(jx *c, const char *p, size_t n) {
    jv v = lx_chat_val_str(p, n);
    if (n) {
        jtaint *t = taint_new(c, 1);
        t->r[0] = 0;
        t->r[1] = n;
        v.u.s.t = t;
    }
    return v;
}

jv lx_chat_substr(jx *c, jv s, size_t off, size_t n) {
    jv v = lx_chat_val_str(s.u.s.p + off, n);
    const jtaint *t = s.u.s.t;
    if (!t || !n) return v;
    size_t k = 0, end = off + n;
    for (size_t i = 0; i < t->n; i++)
        if (t->r[2 * i] < end && t->r[2 * i + 1] > off) k++;
    if (!k) return v;
    jtaint *o = taint_new(c, k);
    k = 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t lo = t->r[2 * i], hi = t->r[2 * i + 1];
        if (lo >= end || hi <= off) continue;
        o->r[2 * k] = (lo > off ? lo : off) - off;
        o->r[2 * k + 1] = (hi < end ? hi : end) - off;
        k++;
    }
    v.u.s.t = o;
    return v;
}

jv lx_chat_val_int(int64_t i) { return (jv){.t = JV_INT, .u.i = i}; }
jv lx_chat_val_bool(int b) { return (jv){.t = JV_BOOL, .u.b = !!b}; }

jdict *lx_chat_dict_new(jx *c) {
    jdict *d = lx_chat_alloc(c, sizeof *d);
    memset(d, 0, sizeof *d);
    return d;
}

jv *lx_chat_dict_get(const jdict *d, const char *k, size_t kn) {
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].u.s.n == kn && memcmp(d->k[i].u.s.p, k, kn) == 0) return &d->v[i];
    return NULL;
}

void lx_chat_dict_set(jx *c, jdict *d, const char *k, size_t kn, jv v) {
    lx_chat_dict_setv(c, d, lx_chat_val_str(k, kn), v);
}

void lx_chat_dict_setv(jx *c, jdict *d, jv key, jv v) {
    const char *k = key.u.s.p;
    size_t kn = key.u.s.n;
    jv *old = lx_chat_dict_get(d, k, kn);
    if (old) {
        *old = v;
        if (key.u.s.t) d->k[old - d->v] = key; /* keep the user ranges of the key */
        return;
    }
    if (d->n == d->cap) { /* keys and values share one capacity */
        size_t cap = d->cap;
        d->k = lx_chat_grow(c, d->k, d->n, &cap, d->n + 1, sizeof *d->k);
        cap = d->cap;
        d->v = lx_chat_grow(c, d->v, d->n, &cap, d->n + 1, sizeof *d->v);
        d->cap = cap;
    }
    d->k[d->n] = key;
    d->v[d->n++] = v;
}

jlist *lx_chat_list_new(jx *c) {
    jlist *l = lx_chat_alloc(c, sizeof *l);
    memset(l, 0, sizeof *l);
    return l;
}

void lx_chat_list_push(jx *c, jlist *l, jv v) {
    l->v = lx_chat_grow(c, l->v, l->n, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = v;
}
