/*
** vocab.c -- the vocabulary: loading tokenizer.ggml.* metadata, the token
** and merge hash tables, special ids and end-of-generation tokens, and the
** bytes each token stands for (GPT-2's byte alphabet, SentencePiece's
** U+2581 space).  The bottom of the tokenizer: it calls no other file of
** it but pretok.c.
**
** Keys read (all under tokenizer.ggml.):
**   model        "gpt2" (byte-level BPE, bpe.c) or "llama" (SentencePiece,
**                spm.c); others are refused with LEXIE_E_UNSUPPORTED
**   pre          BPE: pre-tokenizer name (pretok.c); absent: "default"
**   tokens       string array, the vocabulary; ids are indices
**   token_type   optional int array: 1 normal, 2 unknown, 3 control,
**                4 user-defined, 5 unused, 6 byte
**   merges       BPE: string array "left right"; rank = index
**   scores, add_space_prefix   SentencePiece
**   *_token_id   bos, eos, unknown, padding, eot, eom, fim_*; SentencePiece
**                defaults to llama.cpp's 1, 2 and 0 for bos, eos, unknown
**   add_bos_token   absent: the pre-tokenizer's default (BPE), 1 (SentencePiece)
** Everything kept is copied, so the GGUF may be closed after loading.
**
** End-of-generation tokens are found by name as well as by id, because
** converted files often mark only eos while the chat template ends turns
** with <|im_end|> or <|eot_id|>; the list follows llama.cpp so that the
** same tokens stop generation in both.
*/
#include "tokenizer/tok_impl.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== Token-text alphabets: GPT-2 bytes, SentencePiece spaces ==== */

uint32_t lx_vocab_byte_to_cp(uint8_t b) {
    if (b <= 0x20) return 256u + b;                        /* 33 controls and space */
    if (b >= 0x7F && b <= 0xA0) return 289u + (b - 0x7Fu); /* DEL, C1, NBSP */
    if (b == 0xAD) return 323u;                            /* soft hyphen */
    return b;
}

int lx_vocab_cp_to_byte(uint32_t cp) {
    if (cp >= 256 && cp <= 288) return (int)(cp - 256);
    if (cp >= 289 && cp <= 322) return (int)(cp - 289 + 0x7F);
    if (cp == 323) return 0xAD;
    if (cp < 256 && lx_vocab_byte_to_cp((uint8_t)cp) == cp) return (int)cp;
    return -1;
}

uint32_t lx_vocab_spm_unescape(const char *t, uint32_t n, char *out) {
    uint32_t w = 0;
    for (uint32_t i = 0; i < n;) {
        if (n - i >= 3 && memcmp(t + i, "\xe2\x96\x81", 3) == 0) {
            out[w++] = ' ';
            i += 3;
        } else {
            out[w++] = t[i++];
        }
    }
    return w;
}

/* ==== Hashing ==== */

uint64_t lx_tok_hash(const char *s, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t merge_hash(const char *l, size_t ln, const char *r, size_t rn) {
    /* 0xFF never occurs in UTF-8, so ("ab","c") and ("a","bc") differ. */
    uint64_t h = lx_tok_hash(l, ln, LX_TOK_HASH_SEED);
    h = (h ^ 0xFFu) * 0x100000001b3ull;
    h = lx_tok_hash(r, rn, h);
    return h ^ (h >> 29);
}

static uint32_t table_size(size_t n) {
    uint32_t sz = 16;
    while (sz < 2 * n) sz *= 2;
    return sz;
}

int32_t lx_vocab_find(const lx_vocab *v, const char *text, size_t len) {
    if (!v || (!text && len)) return -1;
    uint64_t h = lx_tok_hash(text, len, LX_TOK_HASH_SEED);
    for (uint32_t i = (uint32_t)(h ^ (h >> 29)) & v->tok_mask;; i = (i + 1) & v->tok_mask) {
        uint32_t e = v->tok_slots[i];
        if (!e) return -1;
        int32_t id = (int32_t)(e - 1);
        if (v->text_len[id] == len && memcmp(v->text_blob + v->text_off[id], text, len) == 0)
            return id;
    }
}

int32_t lx_vocab_merge_rank(const lx_vocab *v, const char *l, size_t ln, const char *r, size_t rn) {
    if (!v->merge_slots) return -1;
    uint64_t h = merge_hash(l, ln, r, rn);
    for (uint32_t i = (uint32_t)h & v->merge_mask;; i = (i + 1) & v->merge_mask) {
        uint32_t e = v->merge_slots[i];
        if (!e) return -1;
        uint32_t k = e - 1;
        const char *m = v->merge_blob + v->merge_off[k];
        if (v->merge_llen[k] == ln && v->merge_rlen[k] == rn && memcmp(m, l, ln) == 0 &&
            memcmp(m + ln + 1, r, rn) == 0)
            return (int32_t)k;
    }
}

/* ==== Metadata helpers ==== */

static lexie_status get_string(const lx_gguf *g, const char *key, lx_str *out, int required,
                               lexie_error *err) {
    const lx_gguf_value *val = lx_gguf_get(g, key);
    if (!val) {
        if (required) return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: %s is missing", key);
        return LEXIE_E_NOT_FOUND;
    }
    if (val->type != LX_GGUF_STRING)
        return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: %s is not a string", key);
    *out = val->v.str;
    return LEXIE_OK;
}

static int is_int_type(int t) {
    return t == LX_GGUF_UINT8 || t == LX_GGUF_INT8 || t == LX_GGUF_UINT16 || t == LX_GGUF_INT16 ||
           t == LX_GGUF_UINT32 || t == LX_GGUF_INT32 || t == LX_GGUF_UINT64 || t == LX_GGUF_INT64;
}

/* A token id key: absent or out of range leaves *id at -1 (llama.cpp
** ignores a bad id too); a non-integer is a format error. */
static lexie_status get_id(const lx_gguf *g, const char *key, int32_t n_tokens, int32_t *id,
                           lexie_error *err) {
    const lx_gguf_value *val = lx_gguf_get(g, key);
    if (!val) return LEXIE_OK;
    if (!is_int_type(val->type))
        return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: %s is not an integer", key);
    int signed_t = val->type == LX_GGUF_INT8 || val->type == LX_GGUF_INT16 ||
                   val->type == LX_GGUF_INT32 || val->type == LX_GGUF_INT64;
    if (signed_t ? (val->v.i64 >= 0 && val->v.i64 < n_tokens) : (val->v.u64 < (uint64_t)n_tokens))
        *id = (int32_t)(signed_t ? val->v.i64 : (int64_t)val->v.u64);
    return LEXIE_OK;
}

static const lx_gguf_value *get_array(const lx_gguf *g, const char *key, int string_elems,
                                      lexie_status *st, lexie_error *err) {
    const lx_gguf_value *val = lx_gguf_get(g, key);
    *st = LEXIE_OK;
    if (!val) return NULL;
    if (val->type != LX_GGUF_ARRAY ||
        (string_elems ? val->v.arr.elem_type != LX_GGUF_STRING || !val->v.arr.items
                      : !is_int_type(val->v.arr.elem_type) || !val->v.arr.raw))
        *st = lx_fail(err, LEXIE_E_FORMAT, "tokenizer: %s is not an array of %s", key,
                      string_elems ? "strings" : "integers");
    return *st ? NULL : val;
}

/* ==== Special tokens found by name ==== */

static const char *const eot_names[] = {"<|eot_id|>",
                                        "<|im_end|>",
                                        "<|end|>",
                                        "<end_of_turn>",
                                        "<|endoftext|>",
                                        "<|end_of_text|>",
                                        "<EOT>",
                                        "_<EOT>",
                                        "[EOT]",
                                        "<\uff5cend\u2581of\u2581sentence\uff5c>",
                                        "<end_of_utterance>",
                                        NULL};
static const char *const eom_names[] = {"<|eom_id|>", NULL};
static const char *const fim_pre_names[] = {"<|fim_prefix|>",
                                            "<fim-prefix>",
                                            "<fim_prefix>",
                                            "<\uff5cfim\u2581begin\uff5c>",
                                            "<PRE>",
                                            "\u2581<PRE>",
                                            "<|code_prefix|>",
                                            "<|prefix|>",
                                            NULL};
static const char *const fim_suf_names[] = {"<|fim_suffix|>",
                                            "<fim-suffix>",
                                            "<fim_suffix>",
                                            "<\uff5cfim\u2581hole\uff5c>",
                                            "<SUF>",
                                            "\u2581<SUF>",
                                            "<|code_suffix|>",
                                            "<|suffix|>",
                                            NULL};
static const char *const fim_mid_names[] = {"<|fim_middle|>",
                                            "<fim-middle>",
                                            "<fim_middle>",
                                            "<\uff5cfim\u2581end\uff5c>",
                                            "<MID>",
                                            "\u2581<MID>",
                                            "<|code_middle|>",
                                            "<|middle|>",
                                            NULL};
static const char *const fim_pad_names[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>",
                                            "<PAD>",       "[PAD]",     NULL};
static const char *const fim_rep_names[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                            "<REPO>",       "<reponame>",    NULL};
static const char *const fim_sep_names[] = {"<|file_sep|>", NULL};
static const char *const eog_names[] = {"<|eot_id|>",
                                        "<|im_end|>",
                                        "<|end|>",
                                        "<|return|>",
                                        "<|call|>",
                                        "<|flush|>",
                                        "<|calls|>",
                                        "<end_of_turn>",
                                        "<|endoftext|>",
                                        "</s>",
                                        "<|eom_id|>",
                                        "<EOT>",
                                        "_<EOT>",
                                        "[EOT]",
                                        "[EOS]",
                                        "<|end_of_text|>",
                                        "<end_of_utterance>",
                                        "<eos>",
                                        "<turn|>",
                                        "<|tool_response>",
                                        "<\uff5cend\u2581of\u2581sentence\uff5c>",
                                        "[e~[",
                                        NULL};

static int32_t find_cstr(const lx_vocab *v, const char *s) {
    return lx_vocab_find(v, s, strlen(s));
}

/* Sets *id to the lowest-numbered token named in names unless the file
** gave one, and makes it a control token (llama.cpp does the same: such
** tokens are often mis-typed as normal by converters). */
static void find_named(lx_vocab *v, const char *const *names, int32_t *id) {
    if (*id >= 0) return;
    for (int i = 0; names[i]; i++) {
        int32_t t = find_cstr(v, names[i]);
        if (t >= 0 && (*id < 0 || t < *id)) *id = t;
    }
    if (*id >= 0) v->attr[*id] |= LX_TOK_CONTROL;
}

static void mark_eog(lx_vocab *v, const lx_gguf *g) {
    int32_t fim[6] = {-1, -1, -1, -1, -1, -1};
    static const char *const fim_keys[6] = {
        "tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.fim_suf_token_id",
        "tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.fim_pad_token_id",
        "tokenizer.ggml.fim_rep_token_id", "tokenizer.ggml.fim_sep_token_id"};
    static const char *const *const fim_names[6] = {fim_pre_names, fim_suf_names, fim_mid_names,
                                                    fim_pad_names, fim_rep_names, fim_sep_names};
    for (int i = 0; i < 6; i++) {
        if (get_id(g, fim_keys[i], v->n_tokens, &fim[i], NULL)) fim[i] = -1; /* optional hints */
        find_named(v, fim_names[i], &fim[i]);
    }
    find_named(v, eot_names, &v->eot);
    find_named(v, eom_names, &v->eom);
    for (int i = 3; i < 6; i++)
        if (fim[i] >= 0) v->eog[fim[i]] = 1;
    for (int i = 0; eog_names[i]; i++) {
        int32_t t = find_cstr(v, eog_names[i]);
        if (t < 0) continue;
        v->eog[t] = 1;
        v->attr[t] |= LX_TOK_CONTROL;
    }
    if (v->eos >= 0) v->eog[v->eos] = 1;
    if (v->eot >= 0) v->eog[v->eot] = 1;
    if (v->eom >= 0) v->eog[v->eom] = 1;
    /* gpt-oss (harmony) ends turns with <|return|>/<|call|>; its <|end|>
    ** separates messages and must not stop generation. */
    int32_t t_end = find_cstr(v, "<|end|>"), t_ret = find_cstr(v, "<|return|>");
    int32_t t_call = find_cstr(v, "<|call|>"), t_calls = find_cstr(v, "<|calls|>");
    int32_t t_flush = find_cstr(v, "<|flush|>");
    if (t_end >= 0 && (t_call >= 0 || t_calls >= 0) && (t_ret >= 0 || t_flush >= 0)) {
        v->eog[t_end] = 0;
        v->attr[t_end] = LX_TOK_USER;
    }
    /* Gemma 4 uses </s> inside tool responses. */
    int32_t t_s = find_cstr(v, "</s>");
    if (t_s >= 0 && find_cstr(v, "<|tool_response>") >= 0) {
        v->eog[t_s] = 0;
        v->attr[t_s] = LX_TOK_NORMAL;
    }
    /* gpt-oss markers that must always render. */
    static const char *const always[] = {"<|channel|>", "<|message|>", "<|start|>",
                                         "<|constrain|>"};
    for (size_t i = 0; i < LX_ARRAY_LEN(always); i++) {
        int32_t t = find_cstr(v, always[i]);
        if (t >= 0) v->attr[t] = LX_TOK_USER;
    }
}

/* ==== Building ==== */

static lexie_status load_tokens(lx_vocab *v, const lx_gguf *g, lexie_error *err) {
    lexie_status st;
    const lx_gguf_value *toks = get_array(g, "tokenizer.ggml.tokens", 1, &st, err);
    if (st) return st;
    if (!toks) return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: tokenizer.ggml.tokens is missing");
    uint64_t n = toks->v.arr.n;
    if (n == 0 || n > (1u << 30))
        return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: %llu tokens is not a vocabulary size",
                       (unsigned long long)n);
    v->n_tokens = (int32_t)n;
    char empty[32];
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = toks->v.arr.items[i].v.str.len;
        total +=
            (len ? len
                 : (uint64_t)snprintf(empty, sizeof empty, "[EMPTY_%llu]", (unsigned long long)i)) +
            1;
        if (total > UINT32_MAX)
            return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: token strings exceed 4 GiB");
    }
    v->text_blob = lx_malloc((size_t)total, err);
    v->text_off = lx_calloc(n, sizeof *v->text_off, err);
    v->text_len = lx_calloc(n, sizeof *v->text_len, err);
    v->attr = lx_calloc(n, 1, err);
    v->eog = lx_calloc(n, 1, err);
    v->tok_mask = table_size(n) - 1;
    v->tok_slots = lx_calloc((size_t)v->tok_mask + 1, sizeof *v->tok_slots, err);
    if (!v->text_blob || !v->text_off || !v->text_len || !v->attr || !v->eog || !v->tok_slots)
        return LEXIE_E_NOMEM;
    uint32_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        lx_str s = toks->v.arr.items[i].v.str;
        const char *p = s.ptr;
        size_t len = (size_t)s.len;
        if (!len) { /* as llama.cpp: an empty token gets a visible name */
            len = (size_t)snprintf(empty, sizeof empty, "[EMPTY_%llu]", (unsigned long long)i);
            p = empty;
        }
        memcpy(v->text_blob + off, p, len);
        v->text_blob[off + len] = 0;
        v->text_off[i] = off;
        v->text_len[i] = (uint32_t)len;
        off += (uint32_t)len + 1;
        v->attr[i] = LX_TOK_NORMAL;
        int32_t dup = lx_vocab_find(v, p, len);
        if (dup >= 0)
            return lx_fail(err, LEXIE_E_FORMAT,
                           "tokenizer: token %llu duplicates token %d ('%.*s')",
                           (unsigned long long)i, dup, (int)LX_MIN(len, 40), p);
        uint64_t h = lx_tok_hash(p, len, LX_TOK_HASH_SEED);
        uint32_t k = (uint32_t)(h ^ (h >> 29)) & v->tok_mask;
        while (v->tok_slots[k]) k = (k + 1) & v->tok_mask;
        v->tok_slots[k] = (uint32_t)i + 1;
    }

    const lx_gguf_value *types = get_array(g, "tokenizer.ggml.token_type", 0, &st, err);
    if (st) return st;
    if (types) {
        if (types->v.arr.n < n)
            return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: %llu token types for %llu tokens",
                           (unsigned long long)types->v.arr.n, (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++) {
            static const uint8_t map[7] = {LX_TOK_UNDEFINED, LX_TOK_NORMAL, LX_TOK_UNKNOWN,
                                           LX_TOK_CONTROL,   LX_TOK_USER,   LX_TOK_UNUSED,
                                           LX_TOK_BYTE};
            int64_t t = lx_gguf_arr_i64(types, i);
            v->attr[i] = t >= 0 && t < 7 ? map[t] : LX_TOK_UNDEFINED;
        }
    }
    return LEXIE_OK;
}

static lexie_status load_merges(lx_vocab *v, const lx_gguf *g, lexie_error *err) {
    lexie_status st;
    const lx_gguf_value *m = get_array(g, "tokenizer.ggml.merges", 1, &st, err);
    if (st) return st;
    if (!m) return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: tokenizer.ggml.merges is missing");
    uint64_t n = m->v.arr.n, total = 0;
    if (n > (1u << 30))
        return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: %llu merges", (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        total += m->v.arr.items[i].v.str.len;
        if (total > UINT32_MAX)
            return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: merge strings exceed 4 GiB");
    }
    v->n_merges = (int32_t)n;
    v->merge_blob = lx_malloc((size_t)total + 1, err);
    v->merge_off = lx_calloc(n + 1, sizeof *v->merge_off, err);
    v->merge_llen = lx_calloc(n + 1, sizeof *v->merge_llen, err);
    v->merge_rlen = lx_calloc(n + 1, sizeof *v->merge_rlen, err);
    v->merge_mask = table_size(n) - 1;
    v->merge_slots = lx_calloc((size_t)v->merge_mask + 1, sizeof *v->merge_slots, err);
    if (!v->merge_blob || !v->merge_off || !v->merge_llen || !v->merge_rlen || !v->merge_slots)
        return LEXIE_E_NOMEM;
    uint32_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        lx_str s = m->v.arr.items[i].v.str;
        memcpy(v->merge_blob + off, s.ptr, (size_t)s.len);
        v->merge_off[i] = off;
        off += (uint32_t)s.len;
        /* Split at the first space after the first byte, as llama.cpp does;
        ** a merge without one can never apply, so it only keeps its rank. */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
        if (!sp) continue;
        size_t ln = (size_t)(sp - s.ptr), rn = (size_t)s.len - ln - 1;
        if (ln > UINT16_MAX || rn > UINT16_MAX || rn == 0) continue;
        if (lx_vocab_merge_rank(v, s.ptr, ln, sp + 1, rn) >= 0) continue; /* first rank wins */
        v->merge_llen[i] = (uint16_t)ln;
        v->merge_rlen[i] = (uint16_t)rn;
        uint32_t k = (uint32_t)merge_hash(s.ptr, ln, sp + 1, rn) & v->merge_mask;
        while (v->merge_slots[k]) k = (k + 1) & v->merge_mask;
        v->merge_slots[k] = (uint32_t)i + 1;
    }
    return LEXIE_OK;
}

/* ==== SentencePiece scores and byte fallback ==== */

/* The SentencePiece part of loading, run after the tokens and their types
** are in v: reads tokenizer.ggml.scores (float32 or int32, at least one per
** token; absent: all 0) and tokenizer.ggml.add_space_prefix (absent: 1),
** and finds the byte fallback tokens. */
static lexie_status spm_load(lx_vocab *v, const lx_gguf *g, lexie_error *err) {
    size_t n = (size_t)v->n_tokens;
    v->score = lx_calloc(n, sizeof *v->score, err);
    if (!v->score) return LEXIE_E_NOMEM;

    const lx_gguf_value *sc = lx_gguf_get(g, "tokenizer.ggml.scores");
    if (sc) {
        if (sc->type != LX_GGUF_ARRAY || !sc->v.arr.raw ||
            (sc->v.arr.elem_type != LX_GGUF_FLOAT32 && sc->v.arr.elem_type != LX_GGUF_INT32))
            return lx_fail(err, LEXIE_E_FORMAT,
                           "tokenizer: tokenizer.ggml.scores is not an array of float32 or int32");
        if (sc->v.arr.n < n)
            return lx_fail(err, LEXIE_E_FORMAT, "tokenizer: %llu scores for %zu tokens",
                           (unsigned long long)sc->v.arr.n, n);
        int is_float = sc->v.arr.elem_type == LX_GGUF_FLOAT32;
        for (size_t i = 0; i < n; i++) {
            double s = is_float ? lx_gguf_arr_f64(sc, i) : (double)lx_gguf_arr_i64(sc, i);
            /* A NaN would make the merge order depend on heap layout; such a
            ** token can only lose. */
            v->score[i] = isnan(s) ? -FLT_MAX : (float)s;
        }
    }

    v->add_space_prefix = 1; /* llama.cpp's default for SPM */
    const lx_gguf_value *sp = lx_gguf_get(g, "tokenizer.ggml.add_space_prefix");
    if (sp) {
        if (sp->type != LX_GGUF_BOOL)
            return lx_fail(err, LEXIE_E_FORMAT,
                           "tokenizer: tokenizer.ggml.add_space_prefix is not a bool");
        v->add_space_prefix = sp->v.u64 != 0;
    }

    v->max_tok_len = 0;
    for (size_t i = 0; i < n; i++) v->max_tok_len = LX_MAX(v->max_tok_len, v->text_len[i]);

    /* Byte fallback: "<0xXX>" (upper-case hex, as SentencePiece writes
    ** them), else the raw byte as a one-byte token. */
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'}, raw = (char)b;
        int32_t t = lx_vocab_find(v, name, sizeof name);
        v->byte_tok[b] = t >= 0 ? t : lx_vocab_find(v, &raw, 1);
    }
    return LEXIE_OK;
}

/* The bytes each token stands for, computed once so that detokenizing is
** a copy. */
static lexie_status build_pieces(lx_vocab *v, lexie_error *err) {
    size_t total = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) total += v->text_len[i];
    v->piece_blob = lx_malloc(total + 1, err);
    v->piece_off = lx_calloc((size_t)v->n_tokens, sizeof *v->piece_off, err);
    v->piece_len = lx_calloc((size_t)v->n_tokens, sizeof *v->piece_len, err);
    if (!v->piece_blob || !v->piece_off || !v->piece_len) return LEXIE_E_NOMEM;
    uint32_t off = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        const unsigned char *t = (const unsigned char *)v->text_blob + v->text_off[i];
        uint32_t n = v->text_len[i], w = off;
        uint8_t a = v->attr[i];
        if (a & (LX_TOK_UNKNOWN | LX_TOK_CONTROL | LX_TOK_USER)) {
            memcpy(v->piece_blob + w, t, n);
            w += n;
        } else if ((a & LX_TOK_NORMAL) && v->type == LX_VOCAB_SPM) {
            w += lx_vocab_spm_unescape((const char *)t, n, v->piece_blob + w);
        } else if (a & LX_TOK_NORMAL) {
            for (uint32_t j = 0; j < n;) {
                uint32_t k = (uint32_t)lx_utf8_len(t[j]);
                int b = -1;
                if (k > n - j || !lx_utf8_valid((const char *)t + j, k, NULL)) {
                    k = 1; /* not UTF-8: pass the byte through */
                } else {
                    uint32_t cp = k == 1 ? t[j] : t[j] & (0x7Fu >> k);
                    for (uint32_t q = 1; q < k; q++) cp = (cp << 6) | (t[j + q] & 0x3Fu);
                    b = lx_vocab_cp_to_byte(cp);
                }
                if (b >= 0) {
                    v->piece_blob[w++] = (char)b;
                } else { /* outside the byte alphabet: keep the character as is */
                    memcpy(v->piece_blob + w, t + j, k);
                    w += k;
                }
                j += k;
            }
        } else if ((a & LX_TOK_BYTE) && n == 6 && memcmp(t, "<0x", 3) == 0 && t[5] == '>') {
            char hex[3] = {(char)t[3], (char)t[4], 0}, *end;
            long b = strtol(hex, &end, 16);
            if (*end == 0) v->piece_blob[w++] = (char)b;
        }
        v->piece_off[i] = off;
        v->piece_len[i] = w - off;
        off = w;
    }
    return LEXIE_OK;
}

static lexie_status build_special(lx_vocab *v, lexie_error *err) {
    v->special = lx_calloc((size_t)v->n_tokens, sizeof *v->special, err);
    if (!v->special) return LEXIE_E_NOMEM;
    for (int32_t i = 0; i < v->n_tokens; i++)
        if (v->attr[i] & (LX_TOK_CONTROL | LX_TOK_USER | LX_TOK_UNKNOWN))
            v->special[v->n_special++] = i;
    /* Longest first, ties by id: insertion sort keeps this reentrant and
    ** the list is short (dozens to a few hundred). */
    for (int32_t i = 1; i < v->n_special; i++) {
        int32_t x = v->special[i], j = i;
        while (j > 0) {
            int32_t y = v->special[j - 1];
            uint32_t lx = v->text_len[x], ly = v->text_len[y];
            if (ly > lx || (ly == lx && y < x)) break;
            v->special[j] = y;
            j--;
        }
        v->special[j] = x;
    }
    return LEXIE_OK;
}

lx_vocab *lx_vocab_load(const lx_gguf *g, lexie_error *err) {
    if (!g) {
        lx_fail(err, LEXIE_E_INVALID, "tokenizer: NULL gguf");
        return NULL;
    }
    lx_str model = {NULL, 0}, pre = {"default", 7};
    if (get_string(g, "tokenizer.ggml.model", &model, 1, err)) return NULL;
    int spm = model.len == 5 && memcmp(model.ptr, "llama", 5) == 0;
    if (!spm && !(model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0)) {
        lx_fail(err, LEXIE_E_UNSUPPORTED, "tokenizer: tokenizer.ggml.model '%.*s' is not supported",
                (int)LX_MIN(model.len, 64), model.ptr);
        return NULL;
    }
    lexie_status st = get_string(g, "tokenizer.ggml.pre", &pre, 0, err);
    if (st && st != LEXIE_E_NOT_FOUND) return NULL;

    lx_vocab *v = lx_calloc(1, sizeof *v, err);
    if (!v) return NULL;
    v->bos = v->eos = v->unk = v->eot = v->eom = v->pad = -1;
    v->type = spm ? LX_VOCAB_SPM : LX_VOCAB_BPE;
    if (spm) {
        /* SentencePiece has no pre-tokenizer or merges; tokenizer.ggml.pre
        ** is ignored, as in llama.cpp. */
        if (load_tokens(v, g, err) || spm_load(v, g, err)) goto fail;
        v->unk = 0; /* llama.cpp's defaults, each kept only if in range */
        v->bos = v->n_tokens > 1 ? 1 : -1;
        v->eos = v->n_tokens > 2 ? 2 : -1;
    } else {
        v->pre = lx_pretok_new(pre.ptr, (size_t)pre.len, err);
        if (!v->pre) goto fail;
        if (load_tokens(v, g, err) || load_merges(v, g, err)) goto fail;
    }
    if (get_id(g, "tokenizer.ggml.bos_token_id", v->n_tokens, &v->bos, err) ||
        get_id(g, "tokenizer.ggml.eos_token_id", v->n_tokens, &v->eos, err) ||
        get_id(g, "tokenizer.ggml.unknown_token_id", v->n_tokens, &v->unk, err) ||
        get_id(g, "tokenizer.ggml.padding_token_id", v->n_tokens, &v->pad, err) ||
        get_id(g, "tokenizer.ggml.eot_token_id", v->n_tokens, &v->eot, err) ||
        get_id(g, "tokenizer.ggml.eom_token_id", v->n_tokens, &v->eom, err))
        goto fail;
    v->add_bos = spm ? 1 : lx_pretok_default_add_bos(v->pre);
    const lx_gguf_value *ab = lx_gguf_get(g, "tokenizer.ggml.add_bos_token");
    if (ab) {
        if (ab->type != LX_GGUF_BOOL) {
            lx_fail(err, LEXIE_E_FORMAT, "tokenizer: tokenizer.ggml.add_bos_token is not a bool");
            goto fail;
        }
        v->add_bos = ab->v.u64 != 0;
    }
    mark_eog(v, g);
    if (build_special(v, err) || build_pieces(v, err)) goto fail;
    return v;
fail:
    lx_vocab_free(v);
    return NULL;
}

void lx_vocab_free(lx_vocab *v) {
    if (!v) return;
    free(v->text_blob);
    free(v->text_off);
    free(v->text_len);
    free(v->attr);
    free(v->eog);
    free(v->piece_blob);
    free(v->piece_off);
    free(v->piece_len);
    free(v->tok_slots);
    free(v->merge_blob);
    free(v->merge_off);
    free(v->merge_llen);
    free(v->merge_rlen);
    free(v->merge_slots);
    free(v->special);
    free(v->score);
    lx_pretok_free(v->pre);
    free(v);
}

/* ==== Accessors ==== */

int32_t lx_vocab_n_tokens(const lx_vocab *v) { return v ? v->n_tokens : 0; }
int32_t lx_vocab_bos(const lx_vocab *v) { return v ? v->bos : -1; }
int32_t lx_vocab_eos(const lx_vocab *v) { return v ? v->eos : -1; }
int lx_vocab_add_bos(const lx_vocab *v) { return v ? v->add_bos && v->bos >= 0 : 0; }

int lx_vocab_is_eog(const lx_vocab *v, int32_t tok) {
    return v && tok >= 0 && tok < v->n_tokens && v->eog[tok];
}

const char *lx_vocab_text(const lx_vocab *v, int32_t tok) {
    if (!v || tok < 0 || tok >= v->n_tokens) return NULL;
    return v->text_blob + v->text_off[tok];
}
