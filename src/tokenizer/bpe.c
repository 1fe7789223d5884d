/*
** bpe.c -- byte-level BPE: text -> token ids (lx_bpe_tokenize, called by
** tokenize.c).
**
** Tokenizing runs in four stages, as in llama.cpp (whose ids the tests
** compare against):
**   1. special tokens are cut out of the raw text (special.c);
**   2. each remaining raw fragment is split into words (pretok.c);
**   3. each word's bytes are written in GPT-2's printable alphabet;
**   4. the word's characters are merged pairwise, always the adjacent pair
**      whose merge has the lowest rank (leftmost on ties), until no pair
**      has a merge; each resulting piece is a token.
** Stage 4 is merge.c's loop (a heap of candidates, O(n log n) for a word
** of n characters: a long run of Chinese characters or of '=' is one
** word).
**
** Thread-safe: the vocabulary is only read; scratch memory is per call.
*/
#include "tokenizer/tok_impl.h"

#include <stdlib.h>
#include <string.h>

/* ==== Per-call scratch ==== */

typedef struct scratch {
    char *enc; /* the word in GPT-2's alphabet */
    size_t enc_cap;
    lx_sym *syms;
    size_t syms_cap;
    lx_merge_heap heap;
    lx_spans frags, words, tmp;
    const lx_vocab *v;
} scratch;

static void scratch_free(scratch *s) {
    free(s->enc);
    free(s->syms);
    free(s->heap.v);
    free(s->frags.v);
    free(s->words.v);
    free(s->tmp.v);
}

/* Queues merging symbols l and r if the vocabulary has that merge; the
** lower its rank, the sooner. */
static void try_pair(void *ctx, int32_t l, int32_t r) {
    scratch *s = ctx;
    const lx_sym *a = &s->syms[l], *b = &s->syms[r];
    int32_t rank =
        lx_vocab_merge_rank(s->v, s->enc + a->start, (size_t)a->n, s->enc + b->start, (size_t)b->n);
    if (rank < 0) return;
    lx_merge_push(&s->heap, (lx_merge){-(double)rank, l, r, a->n, b->n});
}

/* ==== One word ==== */

static void emit_piece(const lx_vocab *v, const char *p, size_t n, lx_tok_out *o) {
    int32_t id = lx_vocab_find(v, p, n);
    if (id >= 0) {
        lx_tok_out_push(o, id);
        return;
    }
    /* Not a token: either a byte the vocabulary has no token for (SmolLM2
    ** lacks 0xF1, 0xF2 and some control bytes, which never occur in its
    ** training text), or a merge result it lacks (a broken file).  Emit the
    ** characters that are tokens and drop the rest, as llama.cpp does; an
    ** <unk> would only mislead the model. */
    for (size_t i = 0; i < n;) {
        size_t k = (size_t)lx_utf8_len((unsigned char)p[i]);
        if (k > n - i) k = n - i;
        id = lx_vocab_find(v, p + i, k);
        if (id >= 0) lx_tok_out_push(o, id);
        i += k;
    }
}

static lexie_status bpe_word(const lx_vocab *v, const char *word, size_t len, scratch *s,
                             lx_tok_out *o, lexie_error *err) {
    /* Encode: every byte becomes one code point of 1 or 2 UTF-8 bytes. */
    if (len > (size_t)INT32_MAX / 2 - 8 ||
        lx_grow((void **)&s->enc, &s->enc_cap, 2 * len, 1, NULL) ||
        lx_grow((void **)&s->syms, &s->syms_cap, len, sizeof(lx_sym), NULL))
        return lx_fail(err, LEXIE_E_NOMEM, "tokenizer: out of memory for a %zu-byte word", len);
    size_t m = 0;
    int32_t ns = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = lx_vocab_byte_to_cp((uint8_t)word[i]);
        s->syms[ns] = (lx_sym){(int32_t)m, cp < 0x80 ? 1 : 2, ns - 1, ns + 1};
        ns++;
        if (cp < 0x80) {
            s->enc[m++] = (char)cp;
        } else {
            s->enc[m++] = (char)(0xC0 | (cp >> 6));
            s->enc[m++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    if (ns == 0) return LEXIE_OK;
    s->syms[ns - 1].next = -1;

    if (lx_pretok_ignore_merges(v->pre)) {
        int32_t id = lx_vocab_find(v, s->enc, m);
        if (id >= 0) {
            lx_tok_out_push(o, id);
            return LEXIE_OK;
        }
    }

    if (lx_merge_all(&s->heap, s->syms, ns, try_pair, s))
        return lx_fail(err, LEXIE_E_NOMEM, "tokenizer: out of memory for a %zu-byte word", len);
    for (int32_t i = 0; i >= 0; i = s->syms[i].next)
        emit_piece(v, s->enc + s->syms[i].start, (size_t)s->syms[i].n, o);
    return LEXIE_OK;
}

/* ==== Entry point ==== */

lexie_status lx_bpe_tokenize(const lx_vocab *v, const char *text, size_t len,
                             const lx_special_mode *sm, lx_tok_out *o, lexie_error *err) {
    scratch s;
    memset(&s, 0, sizeof s);
    s.v = v;
    lexie_status st = LEXIE_OK;
    if (len) st = lx_special_partition(v, text, len, sm, &s.frags, &s.tmp, err);
    for (size_t f = 0; !st && f < s.frags.n; f++) {
        const lx_span *fr = &s.frags.v[f];
        if (fr->tok >= 0) {
            lx_tok_out_push(o, fr->tok);
            continue;
        }
        s.words.n = 0;
        st = lx_pretok_split(v->pre, text + fr->off, fr->len, &s.words, &s.tmp, err);
        for (size_t w = 0; !st && w < s.words.n; w++)
            st = bpe_word(v, text + fr->off + s.words.v[w].off, s.words.v[w].len, &s, o, err);
    }
    scratch_free(&s);
    return st;
}
