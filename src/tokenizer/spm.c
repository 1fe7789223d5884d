/*
** spm.c -- SentencePiece vocabularies (tokenizer.ggml.model "llama": Gemma,
** Gemma 3, Llama 1/2, Mistral v1): text -> token ids (lx_spm_tokenize,
** called by tokenize.c).  Their scores and byte fallback tokens are loaded
** with the vocabulary (vocab.c).
**
** Tokenizing follows llama.cpp's SPM tokenizer, whose ids the tests compare
** against (tests/data/tokenizer_gemma3.tsv):
**   1. special tokens are cut out of the raw text (special.c, shared with
**      BPE; user-defined tokens such as Gemma's "\n\n" or "</div>" always);
**   2. each remaining raw fragment gets a leading ' ' when add_space_prefix
**      is on and the fragment starts the text or follows a special token,
**      then every ' ' becomes U+2581 ("\xe2\x96\x81");
**   3. the fragment is split into UTF-8 characters, and adjacent symbols
**      are merged, always the pair whose concatenation is the token with
**      the highest score (leftmost on ties), until no concatenation is a
**      token;
**   4. each symbol is its token; a character that is not a token falls
**      back to its bytes' <0xXX> tokens (or a token for the raw byte).
** There is no pre-tokenizer: a fragment is one sequence of symbols, merged
** by merge.c's loop, so a fragment of n characters costs O(n log n) hash
** lookups, each skipped outright when the pair is longer than the longest
** token.
**
** Where llama.cpp would throw (a byte with neither a <0xXX> token nor a
** raw-byte token) we emit the unknown token, or nothing when there is none.
**
** Thread-safe: the vocabulary is only read; scratch memory is per call.
*/
#include "tokenizer/tok_impl.h"

#include <stdlib.h>
#include <string.h>

/* ==== Per-call scratch ==== */

typedef struct scratch {
    char *esc; /* the fragment, space-prefixed and escaped */
    size_t esc_cap;
    lx_sym *syms;
    size_t syms_cap;
    lx_merge_heap heap;
    lx_spans frags, tmp;
    lx_tok_out *out;
    const lx_vocab *v;
} scratch;

/* Queues merging symbols l and r if their concatenation (contiguous in
** esc, since r follows l) is a token; the higher its score, the sooner.
** Any token counts, control and byte tokens included, as in llama.cpp. */
static void try_pair(void *ctx, int32_t l, int32_t r) {
    scratch *s = ctx;
    const lx_sym *a = &s->syms[l], *b = &s->syms[r];
    uint32_t n = (uint32_t)a->n + (uint32_t)b->n;
    if (n > s->v->max_tok_len) return;
    int32_t id = lx_vocab_find(s->v, s->esc + a->start, n);
    if (id < 0) return;
    lx_merge_push(&s->heap, (lx_merge){s->v->score[id], l, r, a->n, b->n});
}

/* ==== One raw fragment ==== */

static lexie_status spm_fragment(const lx_vocab *v, const char *text, size_t len, int prefix,
                                 scratch *s, lexie_error *err) {
    /* Escape: ' ' -> U+2581 (3 bytes), so at most 3 bytes per input byte. */
    if (len > (size_t)INT32_MAX / 3 - 3 ||
        lx_grow((void **)&s->esc, &s->esc_cap, 3 * len + 3, 1, NULL))
        return lx_fail(err, LEXIE_E_NOMEM, "tokenizer: out of memory for a %zu-byte text", len);
    size_t m = 0;
    if (prefix) {
        memcpy(s->esc, "\xe2\x96\x81", 3);
        m = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s->esc + m, "\xe2\x96\x81", 3);
            m += 3;
        } else {
            s->esc[m++] = text[i];
        }
    }

    /* One symbol per UTF-8 character (the text was validated). */
    if (lx_grow((void **)&s->syms, &s->syms_cap, m, sizeof(lx_sym), NULL))
        return lx_fail(err, LEXIE_E_NOMEM, "tokenizer: out of memory for a %zu-byte text", len);
    int32_t ns = 0;
    for (size_t i = 0; i < m;) {
        size_t k = (size_t)lx_utf8_len((unsigned char)s->esc[i]);
        if (k > m - i) k = m - i;
        s->syms[ns] = (lx_sym){(int32_t)i, (int32_t)k, ns - 1, ns + 1};
        ns++;
        i += k;
    }
    if (ns == 0) return LEXIE_OK;
    s->syms[ns - 1].next = -1;

    if (lx_merge_all(&s->heap, s->syms, ns, try_pair, s))
        return lx_fail(err, LEXIE_E_NOMEM, "tokenizer: out of memory for a %zu-byte text", len);

    for (int32_t i = 0; i >= 0; i = s->syms[i].next) {
        const char *t = s->esc + s->syms[i].start;
        size_t n = (size_t)s->syms[i].n;
        int32_t id = lx_vocab_find(v, t, n);
        if (id >= 0) {
            lx_tok_out_push(s->out, id);
            continue;
        }
        /* Only single characters can miss: merges always form tokens. */
        for (size_t j = 0; j < n; j++) {
            int32_t b = v->byte_tok[(unsigned char)t[j]];
            if (b < 0) b = v->unk;
            if (b >= 0) lx_tok_out_push(s->out, b);
        }
    }
    return LEXIE_OK;
}

/* ==== Entry point ==== */

lexie_status lx_spm_tokenize(const lx_vocab *v, const char *text, size_t len,
                             const lx_special_mode *sm, lx_tok_out *o, lexie_error *err) {
    scratch s;
    memset(&s, 0, sizeof s);
    s.out = o;
    s.v = v;
    lexie_status st = LEXIE_OK;
    if (len) st = lx_special_partition(v, text, len, sm, &s.frags, &s.tmp, err);
    /* As llama.cpp: the text's start counts as following a special token,
    ** whether or not BOS was added. */
    int prev_special = 1;
    for (size_t f = 0; !st && f < s.frags.n; f++) {
        const lx_span *fr = &s.frags.v[f];
        if (fr->tok >= 0) {
            lx_tok_out_push(o, fr->tok);
            prev_special = 1;
            continue;
        }
        st = spm_fragment(v, text + fr->off, fr->len, v->add_space_prefix && prev_special, &s, err);
        prev_special = 0;
    }
    free(s.esc);
    free(s.syms);
    free(s.heap.v);
    free(s.frags.v);
    free(s.tmp.v);
    return st;
}
