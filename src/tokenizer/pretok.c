/*
** pretok.c -- pre-tokenizers: splitting text into words before BPE.
**
** GGUF names the pre-tokenizer (tokenizer.ggml.pre) but does not store its
** regexes, so this file keeps a table from that name to the regexes, taken
** from llama.cpp's src/llama-vocab.cpp (which in turn takes them from each
** model's tokenizer.json).  An unknown name is refused rather than guessed:
** a wrong split silently degrades every prompt.
**
** Semantics follow llama.cpp's unicode_regex_split: the regexes of a family
** run in order, each splitting the pieces the previous ones produced; a
** match becomes a piece and so does any text between matches.  Each piece
** is matched as a subject of its own, so a lookahead such as \s+(?!\S)
** cannot see past the piece.  llama.cpp runs some regexes with hand-written
** matchers; PCRE2 with UTF and UCP gives the same splits (the tests compare
** token ids with llama.cpp).
*/
#define PCRE2_CODE_UNIT_WIDTH 8

#include "tokenizer/tok_impl.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* ==== The table ==== */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"

#define RE_CONTRACT "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"

#define RE_LLAMA3                                                                                  \
    RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"        \
                "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

#define RE_QWEN2                                                                                   \
    RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"             \
                "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

#define RE_QWEN35                                                                                  \
    RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+"        \
                "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

#define RE_SEED_CODER                                                                              \
    RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+"             \
                "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

#define RE_TEKKEN                                                                                  \
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+"                         \
    "|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*"                        \
    "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

#define RE_GPT4O                                                                                   \
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+" RE_CONTRACT "?"         \
    "|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*" RE_CONTRACT "?"        \
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

#define RE_PORO " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"

#define RE_DS3_CJK "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"
#define RE_DS3                                                                                     \
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?"           \
    "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Regexes without \p{..} see every non-ASCII space as \v in llama.cpp, so
** a literal range such as U+0800-U+4E00 must not take U+2028 or U+3000. */
#define RE_NOT_WIDE_SPACE                                                                          \
    "(?![\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}])"
#define RE_DS_CJK "(?:" RE_NOT_WIDE_SPACE "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff])+"

#define RE_DS_LLM_LETTERS                                                                          \
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293"           \
    "\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c"           \
    "\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5"               \
    "\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77"               \
    "\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59"         \
    "\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc"          \
    "\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107"                \
    "\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"           \
    "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee"          \
    "\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e"                \
    "\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f"       \
    "\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2"         \
    "\U000118a0-\U000118df\U0001e900-\U0001e943]+"

typedef struct pretok_family {
    const char *names; /* space-separated tokenizer.ggml.pre values */
    const char *regex[6];
    int ignore_merges;
    int add_bos;
} pretok_family;

static const pretok_family families[] = {
    {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, 0, 0},
    {"llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2", {RE_LLAMA3}, 1, 1},
    {"dbrx smaug-bpe glm4 chatglm-bpe", {RE_LLAMA3}, 0, 0},
    {"gpt-2 phi-2 jina-es jina-de gigachat jina-v2-es jina-v2-de a.x-4.0 mellum modern-bert "
     "jina-v1-en jina-v2-code roberta-bpe mpt olmo jais trillion granite-docling exaone4",
     {RE_GPT2},
     0,
     0},
    {"starcoder refact command-r smollm codeshell exaone minerva-7b mellum2",
     {"\\p{N}", RE_GPT2},
     0,
     0},
    {"qwen2 deepseek-r1-qwen kormo f2llmv2 megrez stablelm2 hunyuan solar-open grok-2",
     {RE_QWEN2},
     0,
     0},
    {"qwen35", {RE_QWEN35}, 0, 0},
    {"seed-coder", {RE_SEED_CODER}, 0, 0},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, 0, 0},
    {"tekken", {RE_TEKKEN}, 1, 1},
    {"gpt-4o llama4", {RE_GPT4O}, 0, 0},
    {"poro-chat bloom gpt3-finnish", {RE_PORO}, 0, 0},
    {"viking", {RE_PORO, "\\p{N}"}, 0, 0},
    {"deepseek-llm",
     {"[\\r\\n]", RE_DS_LLM_LETTERS,
      "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3001-\u3002]+", "\\s+\\z", RE_DS_CJK,
      "\\p{N}+"},
     0,
     0},
    {"deepseek-coder", {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_DS_CJK, "\\p{N}"}, 0, 0},
    {"deepseek-v3 hunyuan-dense", {"\\p{N}{1,3}", RE_DS3_CJK, RE_DS3}, 0, 0},
};

/* ==== Compiled pre-tokenizer ==== */

struct lx_pretok {
    char *name;
    int n_re;
    pcre2_code *re[6];
    int ignore_merges;
    int add_bos;
};

static int names_contain(const char *names, const char *name, size_t len) {
    const char *p = names;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n == len && memcmp(p, name, len) == 0) return 1;
        p += n;
        while (*p == ' ') p++;
    }
    return 0;
}

/* \s as llama.cpp means it: Unicode White_Space.  PCRE2's \s also takes
** U+180E (via \h), which llama.cpp leaves to the punctuation runs. */
#define WS_CHARS                                                                                   \
    "\\t\\n\\x0B\\f\\r "                                                                           \
    "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* Copies re with every \s and \S replaced by WS_CHARS classes; malloc'd. */
static char *expand_ws(const char *re, lexie_error *err) {
    size_t n = 0, extra = strlen(WS_CHARS) + 3;
    for (const char *p = re; *p; p++)
        n += (p[0] == '\\' && (p[1] == 's' || p[1] == 'S')) ? extra : 1;
    char *out = lx_malloc(n + 1, err), *w = out;
    if (!out) return NULL;
    int in_class = 0;
    for (const char *p = re; *p; p++) {
        if (p[0] == '\\' && p[1]) {
            if (p[1] == 's' || p[1] == 'S') {
                const char *open = p[1] == 'S' ? "[^" : "[";
                if (!in_class) w += strlen(strcpy(w, open));
                w += strlen(strcpy(w, WS_CHARS));
                if (!in_class) *w++ = ']';
            } else {
                *w++ = p[0];
                *w++ = p[1];
            }
            p++;
            continue;
        }
        if (*p == '[' && !in_class) {
            in_class = 1;
            *w++ = *p;
            if (p[1] == '^') *w++ = *++p;
            if (p[1] == ']') *w++ = *++p; /* a leading ] is literal */
            continue;
        }
        if (*p == ']' && in_class) in_class = 0;
        *w++ = *p;
    }
    *w = 0;
    return out;
}

lx_pretok *lx_pretok_new(const char *name, size_t len, lexie_error *err) {
    const pretok_family *fam = NULL;
    for (size_t i = 0; i < LX_ARRAY_LEN(families) && !fam; i++)
        if (names_contain(families[i].names, name, len)) fam = &families[i];
    if (!fam) {
        lx_fail(err, LEXIE_E_UNSUPPORTED, "tokenizer: pre-tokenizer '%.*s' is not supported",
                (int)LX_MIN(len, 64), name);
        return NULL;
    }
    lx_pretok *p = lx_calloc(1, sizeof *p, err);
    if (!p) return NULL;
    p->name = lx_strndup(name, len, err);
    if (!p->name) goto fail;
    p->ignore_merges = fam->ignore_merges;
    p->add_bos = fam->add_bos;
    for (int i = 0; i < 6 && fam->regex[i]; i++) {
        int ecode = 0;
        PCRE2_SIZE eoff = 0;
        char *re = expand_ws(fam->regex[i], err);
        if (!re) goto fail;
        p->re[i] = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                                 &ecode, &eoff, NULL);
        free(re);
        if (!p->re[i]) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ecode, msg, sizeof msg);
            lx_fail(err, LEXIE_E_INTERNAL,
                    "tokenizer: regex %d of '%s' does not compile at %zu: %s", i, p->name,
                    (size_t)eoff, (const char *)msg);
            goto fail;
        }
        /* JIT is an optimisation only: if the platform lacks it, the
        ** interpreter gives the same matches. */
        (void)pcre2_jit_compile(p->re[i], PCRE2_JIT_COMPLETE);
        p->n_re = i + 1;
    }
    return p;
fail:
    lx_pretok_free(p);
    return NULL;
}

void lx_pretok_free(lx_pretok *p) {
    if (!p) return;
    for (int i = 0; i < 6; i++) pcre2_code_free(p->re[i]);
    free(p->name);
    free(p);
}

const char *lx_pretok_name(const lx_pretok *p) { return p->name; }
int lx_pretok_ignore_merges(const lx_pretok *p) { return p->ignore_merges; }
int lx_pretok_default_add_bos(const lx_pretok *p) { return p->add_bos; }

lexie_status lx_spans_push(lx_spans *s, size_t off, size_t len, int32_t tok, lexie_error *err) {
    if (lx_grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v, NULL))
        return lx_fail(err, LEXIE_E_NOMEM, "tokenizer: out of memory (%zu pieces)", s->n + 1);
    s->v[s->n++] = (lx_span){off, len, tok};
    return LEXIE_OK;
}

/* Runs one regex over each piece of in, appending the finer pieces to out. */
static lexie_status split_one(const pcre2_code *re, pcre2_match_data *md, const char *text,
                              const lx_spans *in, lx_spans *out, lexie_error *err) {
    for (size_t k = 0; k < in->n; k++) {
        const char *subj = text + in->v[k].off;
        size_t n = in->v[k].len, pos = 0, prev = 0;
        while (pos < n) {
            /* Validity was checked once for the whole text; re-checking per
            ** match would make splitting quadratic. */
            int rc = pcre2_match(re, (PCRE2_SPTR)subj, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
                rc = pcre2_match(re, (PCRE2_SPTR)subj, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                                 md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[160];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return lx_fail(err, LEXIE_E_INTERNAL, "tokenizer: regex match failed: %s",
                               (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            if (me <= ms) {
                /* An empty match splits nothing; step over one character. */
                pos = ms + (size_t)lx_utf8_len((unsigned char)subj[ms]);
                continue;
            }
            lexie_status s = LEXIE_OK;
            if (ms > prev) s = lx_spans_push(out, in->v[k].off + prev, ms - prev, -1, err);
            if (!s) s = lx_spans_push(out, in->v[k].off + ms, me - ms, -1, err);
            if (s) return s;
            prev = pos = me;
        }
        if (prev < n) {
            lexie_status s = lx_spans_push(out, in->v[k].off + prev, n - prev, -1, err);
            if (s) return s;
        }
    }
    return LEXIE_OK;
}

lexie_status lx_pretok_split(const lx_pretok *p, const char *text, size_t len, lx_spans *out,
                             lx_spans *tmp, lexie_error *err) {
    if (len == 0) return LEXIE_OK;
    pcre2_match_data *md = pcre2_match_data_create(32, NULL);
    if (!md) return lx_fail(err, LEXIE_E_NOMEM, "tokenizer: out of memory (match data)");
    /* Ping-pong between tmp and a local list so that the last regex writes
    ** straight into out (after whatever out already holds). */
    lx_spans a = {0}, *src = tmp, *dst;
    lexie_status s = LEXIE_OK;
    tmp->n = 0;
    s = lx_spans_push(tmp, 0, len, -1, err);
    for (int i = 0; !s && i < p->n_re; i++) {
        if (i == p->n_re - 1) {
            dst = out;
        } else {
            dst = src == tmp ? &a : tmp;
            dst->n = 0;
        }
        s = split_one(p->re[i], md, text, src, dst, err);
        src = dst;
    }
    free(a.v);
    pcre2_match_data_free(md);
    return s;
}
