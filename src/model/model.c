/*
** model.c -- loading a lexie_model: open the GGUF, pick the architecture
** from the registry, build the tokenizer, and the public accessors.
*/
#include "model.h"

#include "chat/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== Registry ==== */

extern const lx_arch lx_arch_llama, lx_arch_qwen2, lx_arch_qwen3, lx_arch_gemma3;

static const lx_arch *const archs[] = {
    &lx_arch_llama,
    &lx_arch_qwen2,
    &lx_arch_qwen3,
    &lx_arch_gemma3,
};

const lx_arch *lx_arch_find(const char *name) {
    for (size_t i = 0; i < LX_ARRAY_LEN(archs); i++)
        if (strcmp(archs[i]->name, name) == 0) return archs[i];
    return NULL;
}

/* ==== Metadata helpers for architecture files ==== */

lexie_status lx_hp_int(const lexie_model *m, const char *suffix, int required, int *out,
                       lexie_error *err) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", m->arch->name, suffix);
    int64_t v;
    lexie_status s = lx_gguf_get_i64(m->gguf, key, &v, err);
    if (s == LEXIE_E_NOT_FOUND) {
        if (!required) return LEXIE_OK;
        return lx_fail(err, LEXIE_E_FORMAT, "model: required key '%s' is missing", key);
    }
    if (s != LEXIE_OK) return s;
    if (v < 0 || v > (1 << 30))
        return lx_fail(err, LEXIE_E_FORMAT, "model: key '%s' = %lld is out of range", key,
                       (long long)v);
    *out = (int)v;
    return LEXIE_OK;
}

lexie_status lx_hp_float(const lexie_model *m, const char *suffix, int required, float *out,
                         lexie_error *err) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", m->arch->name, suffix);
    lexie_status s = lx_gguf_get_f32(m->gguf, key, out, err);
    if (s == LEXIE_E_NOT_FOUND) {
        if (!required) return LEXIE_OK;
        return lx_fail(err, LEXIE_E_FORMAT, "model: required key '%s' is missing", key);
    }
    return s;
}

lexie_status lx_bind(const lexie_model *m, lx_tensor *t, int required, int64_t ne0, int64_t ne1,
                     lexie_error *err, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    memset(t, 0, sizeof *t);
    const lx_gguf_tensor *gt = lx_gguf_find_tensor(m->gguf, name);
    if (!gt) {
        if (!required) return LEXIE_OK;
        return lx_fail(err, LEXIE_E_FORMAT, "model: required tensor '%s' is missing", name);
    }
    if (!lx_type_traits_get(gt->type))
        return lx_fail(err, LEXIE_E_UNSUPPORTED,
                       "model: tensor '%s' has type %s (%d), which lexie does not support", name,
                       lx_type_name(gt->type), gt->type);
    if (gt->ne[0] != ne0 || gt->ne[1] != ne1 || gt->ne[2] != 1 || gt->ne[3] != 1)
        return lx_fail(
            err, LEXIE_E_FORMAT,
            "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]", name,
            (long long)gt->ne[0], (long long)gt->ne[1], (long long)gt->ne[2], (long long)gt->ne[3],
            (long long)ne0, (long long)ne1);
    /* Norms and biases are read as floats directly. */
    if (ne1 == 1 && gt->type != LX_TYPE_F32)
        return lx_fail(err, LEXIE_E_UNSUPPORTED, "model: vector tensor '%s' must be F32, not %s",
                       name, lx_type_name(gt->type));
    t->data = gt->data;
    t->type = gt->type;
    memcpy(t->ne, gt->ne, sizeof t->ne);
    t->name = gt->name;
    return LEXIE_OK;
}

/* ==== Load ==== */

lexie_model_params lexie_model_default_params(void) {
    lexie_model_params p = {NULL};
    return p;
}

static char *str_dup(lx_str s, lexie_error *err) { return lx_strndup(s.ptr, (size_t)s.len, err); }
static lexie_status copy_meta_strings(lexie_model *m, lexie_error *err);

lexie_model *lexie_model_load(const char *path, const lexie_model_params *p, lexie_error *err) {
    lexie_model_params dp = lexie_model_default_params();
    if (!p) p = &dp;
    if (!path) {
        lx_fail(err, LEXIE_E_INVALID, "model: no path given");
        return NULL;
    }
    lexie_model *m = lx_calloc(1, sizeof *m, err);
    if (!m) return NULL;
    m->gguf = lx_gguf_open(path, err);
    if (!m->gguf) goto fail;

    lx_str arch;
    if (lx_gguf_get_str(m->gguf, "general.architecture", &arch, err) != LEXIE_OK) {
        if (err && err->code == LEXIE_E_NOT_FOUND)
            lx_fail(err, LEXIE_E_FORMAT, "model: key 'general.architecture' is missing");
        goto fail;
    }
    char archname[64];
    snprintf(archname, sizeof archname, "%.*s", (int)LX_MIN(arch.len, 63), arch.ptr);
    m->arch = lx_arch_find(archname);
    if (!m->arch) {
        lx_fail(
            err, LEXIE_E_UNSUPPORTED,
            "model: architecture '%s' is not supported (lexie runs: llama, qwen2, qwen3, gemma3)",
            archname);
        goto fail;
    }

    if (copy_meta_strings(m, err) != LEXIE_OK) goto fail;
    m->name = lexie_model_meta_str(m, "general.name");
    if (!m->name) m->name = "";

    if (p->chat_template) {
        if (!(m->chat_template = lx_strdup(p->chat_template, err))) goto fail;
    } else {
        lx_str t;
        if (lx_gguf_get_str(m->gguf, "tokenizer.chat_template", &t, NULL) == LEXIE_OK &&
            !(m->chat_template = str_dup(t, err)))
            goto fail;
    }

    if (!(m->vocab = lx_vocab_load(m->gguf, err))) goto fail;
    if (m->arch->load(m, err) != LEXIE_OK) goto fail;
    if (m->hp.n_vocab != lx_vocab_n_tokens(m->vocab)) {
        lx_fail(err, LEXIE_E_FORMAT, "model: embedding has %d rows but the tokenizer has %d tokens",
                m->hp.n_vocab, lx_vocab_n_tokens(m->vocab));
        goto fail;
    }
    return m;
fail:
    if (err && err->code != LEXIE_OK && !strstr(err->message, path))
        lx_fail_prefix(err, "%s: ", path);
    lexie_model_free(m);
    return NULL;
}

void lexie_model_free(lexie_model *m) {
    if (!m) return;
    free(m->layers);
    lx_vocab_free(m->vocab);
    free(m->chat_template);
    for (int i = 0; i < m->n_meta; i++) free(m->meta_vals[i]);
    free(m->meta_vals);
    free(m->meta_keys);
    lx_gguf_close(m->gguf);
    free(m);
}

const char *lexie_model_arch(const lexie_model *m) { return m->arch->name; }
const char *lexie_model_name(const lexie_model *m) { return m->name; }
int lexie_model_n_vocab(const lexie_model *m) { return m->hp.n_vocab; }
int lexie_model_n_ctx_train(const lexie_model *m) { return m->hp.n_ctx_train; }
int lexie_model_n_embd(const lexie_model *m) { return m->hp.n_embd; }
int lexie_model_n_layer(const lexie_model *m) { return m->hp.n_layer; }

const char *lexie_model_meta_str(const lexie_model *m, const char *key) {
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta_keys[i], key) == 0) return m->meta_vals[i];
    return NULL;
}

/* Copies every string metadata value with a NUL, so lexie_model_meta_str
** can hand out C strings from an immutable model. */
static lexie_status copy_meta_strings(lexie_model *m, lexie_error *err) {
    int64_t n = lx_gguf_n_kv(m->gguf);
    m->meta_keys = lx_calloc((size_t)n, sizeof *m->meta_keys, err);
    m->meta_vals = lx_calloc((size_t)n, sizeof *m->meta_vals, err);
    if (!m->meta_keys || !m->meta_vals) return LEXIE_E_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        const lx_gguf_kv *kv = lx_gguf_kv_at(m->gguf, i);
        if (kv->value.type != LX_GGUF_STRING) continue;
        char *v = str_dup(kv->value.v.str, err);
        if (!v) return LEXIE_E_NOMEM;
        m->meta_keys[m->n_meta] = kv->key;
        m->meta_vals[m->n_meta++] = v;
    }
    return LEXIE_OK;
}

/* ==== Tokens and chat ==== */

lexie_status lexie_tokenize(const lexie_model *m, const char *text, size_t len, int add_bos,
                            int parse_special, lexie_token *out, int n_max, int *n_out,
                            lexie_error *err) {
    return lx_tokenize(m->vocab, text, len, add_bos && lx_vocab_add_bos(m->vocab), parse_special,
                       out, n_max, n_out, err);
}

int lexie_token_to_piece(const lexie_model *m, lexie_token t, char *buf, int n) {
    return lx_token_to_piece(m->vocab, t, 0, buf, n);
}

int lexie_token_is_eog(const lexie_model *m, lexie_token t) { return lx_vocab_is_eog(m->vocab, t); }

lexie_status lexie_chat_apply(const lexie_model *m, const lexie_chat_msg *msgs, int n_msgs,
                              int add_generation_prompt, char **out, lexie_error *err) {
    if (!m->chat_template)
        return lx_fail(err, LEXIE_E_UNSUPPORTED,
                       "chat: the model has no chat template; pass one with --chat-template");
    const char *bos = lx_vocab_text(m->vocab, lx_vocab_bos(m->vocab));
    const char *eos = lx_vocab_text(m->vocab, lx_vocab_eos(m->vocab));
    _Static_assert(sizeof(lexie_chat_msg) == sizeof(lx_chat_msg), "chat msg layout");
    return lx_chat_render(m->chat_template, (const lx_chat_msg *)msgs, n_msgs,
                          add_generation_prompt, bos ? bos : "", eos ? eos : "", out, err);
}
