/*
** tokenize.c -- the tokenizer's entry points: lx_tokenize checks its
** arguments and dispatches to the vocabulary's algorithm (bpe.c or spm.c),
** lx_token_to_piece and lx_detokenize turn ids back into bytes.
**
** The algorithm files are leaves under this one: they read the vocabulary
** (vocab.c), cut out special tokens (special.c), pre-tokenize (pretok.c)
** and merge (merge.c), and never call each other.
**
** Thread-safe: the vocabulary is only read; scratch memory is per call.
*/
#include "tokenizer/tok_impl.h"

#include <limits.h>
#include <string.h>

lexie_status lx_tokenize(const lx_vocab *v, const char *text, size_t len, int add_bos,
                         int parse_special, int32_t *out, int n_max, int *n_out, lexie_error *err) {
    return lx_tokenize_plain(v, text, len, add_bos, parse_special, NULL, 0, out, n_max, n_out, err);
}

lexie_status lx_tokenize_plain(const lx_vocab *v, const char *text, size_t len, int add_bos,
                               int parse_special, const lexie_span *plain, int n_plain,
                               int32_t *out, int n_max, int *n_out, lexie_error *err) {
    if (n_out) *n_out = 0;
    if (!v || (!text && len) || n_max < 0 || (!out && n_max > 0) || n_plain < 0 ||
        (n_plain > 0 && !plain))
        return lx_fail(err, LEXIE_E_INVALID, "tokenize: bad arguments");
    for (int i = 0; i < n_plain; i++)
        if (plain[i].start > plain[i].end || plain[i].end > len)
            return lx_fail(err, LEXIE_E_INVALID,
                           "tokenize: plain range %d [%zu, %zu) is not inside the %zu-byte text", i,
                           plain[i].start, plain[i].end, len);
    lx_special_mode sm = {parse_special, plain, n_plain};
    size_t bad = 0;
    if (!lx_utf8_valid(text, len, &bad))
        return lx_fail(err, LEXIE_E_UTF8, "tokenize: invalid UTF-8 at byte %zu", bad);

    lx_tok_out o = {out, n_max, 0};
    if (add_bos && v->bos >= 0) lx_tok_out_push(&o, v->bos);
    lexie_status st = v->type == LX_VOCAB_SPM ? lx_spm_tokenize(v, text, len, &sm, &o, err)
                                              : lx_bpe_tokenize(v, text, len, &sm, &o, err);
    if (st) return st;
    if (o.n > INT_MAX) return lx_fail(err, LEXIE_E_RANGE, "tokenize: more than %d tokens", INT_MAX);
    if (n_out) *n_out = (int)o.n;
    if (o.n > n_max)
        return lx_fail(err, LEXIE_E_RANGE, "tokenize: %lld tokens do not fit in %d", (long long)o.n,
                       n_max);
    return LEXIE_OK;
}

int lx_token_to_piece(const lx_vocab *v, int32_t tok, int render_special, char *buf, int n) {
    if (!v || tok < 0 || tok >= v->n_tokens) return -1;
    if (!render_special && (v->attr[tok] & (LX_TOK_CONTROL | LX_TOK_UNKNOWN))) return 0;
    uint32_t len = v->piece_len[tok];
    if (buf && n > 0) memcpy(buf, v->piece_blob + v->piece_off[tok], LX_MIN((uint32_t)n, len));
    return (int)len;
}

int lx_detokenize(const lx_vocab *v, const int32_t *ids, int n_ids, int render_special, char *buf,
                  int n) {
    if (!v || n_ids < 0 || (!ids && n_ids > 0)) return -1;
    if (!buf) n = 0;
    /* llama.cpp strips the space from the first token only: after a BOS
    ** (rendered or not) the next token keeps its space. */
    int strip = v->type == LX_VOCAB_SPM && v->add_space_prefix;
    int64_t total = 0;
    for (int i = 0; i < n_ids; i++) {
        int32_t t = ids[i];
        if (t < 0 || t >= v->n_tokens) return -1;
        if (!render_special && (v->attr[t] & (LX_TOK_CONTROL | LX_TOK_UNKNOWN))) {
            strip = 0;
            continue;
        }
        const char *p = v->piece_blob + v->piece_off[t];
        uint32_t pn = v->piece_len[t];
        if (strip && pn && p[0] == ' ') {
            p++;
            pn--;
        }
        strip = 0;
        if (total < n) memcpy(buf + total, p, (size_t)LX_MIN((int64_t)pn, n - total));
        total += pn;
        if (total > INT_MAX) return -1;
    }
    return (int)total;
}
