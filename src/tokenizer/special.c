/*
** special.c -- cutting special-token strings out of raw text.
**
** With parse_special, "<|im_start|>user" must become the control token
** <|im_start|> followed by the BPE tokens of "user", never the characters
** of "<|im_start|>".  We follow llama.cpp's order exactly, because it
** decides overlaps: special tokens are tried longest first, and each one is
** searched (leftmost occurrence, repeatedly) only inside the raw-text
** fragments the longer ones left.  Control and unknown tokens take part only
** when parse_special; user-defined tokens always do, as in Hugging Face
** tokenizers, where added tokens are split out before everything else.
**
** A rendered chat marks the bytes that came from its messages as plain:
** there a control token's text stays text, so a user cannot write
** "<|im_end|>" and end the turn.
**
** Cost: one substring search per special token over the text, so a few
** hundred special tokens over a long prompt stay well under a millisecond.
*/
#include "tokenizer/tok_impl.h"

#include <string.h>

/* Leftmost occurrence of needle in hay, or NULL. */
static const char *find(const char *hay, size_t n, const char *needle, size_t k) {
    if (k == 0 || k > n) return NULL;
    const char *end = hay + (n - k) + 1;
    for (const char *p = hay; p < end;) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p) return NULL;
        if (memcmp(p, needle, k) == 0) return p;
        p++;
    }
    return NULL;
}

/* 1 if [at, at+n) touches a plain range of sm. */
static int in_plain(const lx_special_mode *sm, size_t at, size_t n) {
    for (int i = 0; i < sm->n_plain; i++)
        if (sm->plain[i].start < at + n && sm->plain[i].end > at) return 1;
    return 0;
}

lexie_status lx_special_partition(const lx_vocab *v, const char *text, size_t len,
                                  const lx_special_mode *sm, lx_spans *out, lx_spans *tmp,
                                  lexie_error *err) {
    lx_spans *cur = out, *next = tmp;
    cur->n = 0;
    lexie_status s = lx_spans_push(cur, 0, len, -1, err);
    for (int32_t k = 0; !s && k < v->n_special; k++) {
        int32_t id = v->special[k];
        int gated = (v->attr[id] & (LX_TOK_CONTROL | LX_TOK_UNKNOWN)) != 0;
        if (gated && !sm->parse) continue;
        const char *t = v->text_blob + v->text_off[id];
        size_t tn = v->text_len[id];
        next->n = 0;
        for (size_t f = 0; !s && f < cur->n; f++) {
            lx_span fr = cur->v[f];
            if (fr.tok >= 0) {
                s = lx_spans_push(next, fr.off, fr.len, fr.tok, err);
                continue;
            }
            /* off: start of the raw text not yet pushed; from: where the
            ** search resumes (past a match that lies in user text). */
            size_t off = fr.off, from = fr.off, end = fr.off + fr.len;
            const char *hit;
            while (!s && from < end && (hit = find(text + from, end - from, t, tn))) {
                size_t at = (size_t)(hit - text);
                if (gated && sm->n_plain && in_plain(sm, at, tn)) {
                    from = at + 1;
                    continue;
                }
                if (at > off) s = lx_spans_push(next, off, at - off, -1, err);
                if (!s) s = lx_spans_push(next, at, tn, id, err);
                off = from = at + tn;
            }
            if (!s && off < end) s = lx_spans_push(next, off, end - off, -1, err);
        }
        lx_spans *t2 = cur;
        cur = next;
        next = t2;
    }
    if (!s && cur != out) {
        /* The fragments ended in tmp: swap the buffers so out holds them. */
        lx_spans t2 = *out;
        *out = *tmp;
        *tmp = t2;
    }
    return s;
}
