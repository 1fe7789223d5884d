/*
** model.c -- loading a lexie_model: open the GGUF, pick the architecture
** from the registry, build the tokenizer, and the public accessors.
*/
#include "model.h"

#include "base/json.h"
#include "chat/chat.h"

#include <math.h>
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
    float v = *out;
    lexie_status s = lx_gguf_get_f32(m->gguf, key, &v, err);
    if (s == LEXIE_E_NOT_FOUND) {
        if (!required) return LEXIE_OK;
        return lx_fail(err, LEXIE_E_FORMAT, "model: required key '%s' is missing", key);
    }
    if (s != LEXIE_OK) return s;
    /* No hyperparameter is meaningful as NaN or infinity; the ranges of
    ** particular keys are checked once the architecture has loaded. */
    if (!isfinite(v))
        return lx_fail(err, LEXIE_E_FORMAT, "model: key '%s' = %g is not a finite number", key,
                       (double)v);
    *out = v;
    return LEXIE_OK;
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
    t->data = t->mm = gt->data;
    t->type = t->mm_type = gt->type;
    memcpy(t->ne, gt->ne, sizeof t->ne);
    t->name = gt->name;
    return LEXIE_OK;
}

/* ==== Float hyperparameters ==== */

/* Float keys whose range lexie knows, under "<arch>.": a value outside it
** would run, but give NaN or meaningless logits (a RoPE base of 0, a
** negative norm epsilon), so the load refuses it naming the key. */
static const struct {
    const char *suffix;
    double min;    /* smallest allowed value */
    int exclusive; /* the value must exceed min */
    const char *want;
} float_rules[] = {
    {"rope.freq_base", 1.0, 0, ">= 1"},
    {"rope.freq_base_swa", 1.0, 0, ">= 1"},
    {"rope.scaling.factor", 0.0, 1, "> 0"},
    {"attention.layer_norm_rms_epsilon", 0.0, 1, "> 0"},
    {"attention.layer_norm_epsilon", 0.0, 1, "> 0"},
    {"final_logit_softcapping", 0.0, 0, ">= 0"},
    {"attn_logit_softcapping", 0.0, 0, ">= 0"},
};

/* Every float the file gives under "<arch>." must be finite (arrays
** included), the keys above must lie in their ranges, and so must what the
** architecture made of them and the rope_freqs factors. */
static lexie_status check_float_hparams(const lexie_model *m, lexie_error *err) {
    const char *arch = m->arch->name;
    size_t an = strlen(arch);
    for (int64_t i = 0; i < lx_gguf_n_kv(m->gguf); i++) {
        const lx_gguf_kv *kv = lx_gguf_kv_at(m->gguf, i);
        if (strncmp(kv->key, arch, an) != 0 || kv->key[an] != '.') continue;
        const lx_gguf_value *v = &kv->value;
        if (v->type == LX_GGUF_FLOAT32 || v->type == LX_GGUF_FLOAT64) {
            double x = v->v.f64;
            if (!isfinite(x))
                return lx_fail(err, LEXIE_E_FORMAT, "model: key '%s' = %g is not a finite number",
                               kv->key, x);
            for (size_t r = 0; r < LX_ARRAY_LEN(float_rules); r++)
                if (strcmp(kv->key + an + 1, float_rules[r].suffix) == 0 &&
                    (float_rules[r].exclusive ? !(x > float_rules[r].min)
                                              : !(x >= float_rules[r].min)))
                    return lx_fail(err, LEXIE_E_FORMAT,
                                   "model: key '%s' = %g is out of range (want %s)", kv->key, x,
                                   float_rules[r].want);
        } else if (v->type == LX_GGUF_ARRAY && (v->v.arr.elem_type == LX_GGUF_FLOAT32 ||
                                                v->v.arr.elem_type == LX_GGUF_FLOAT64)) {
            for (uint64_t k = 0; k < v->v.arr.n; k++)
                if (!isfinite(lx_gguf_arr_f64(v, k)))
                    return lx_fail(err, LEXIE_E_FORMAT,
                                   "model: key '%s' element %llu = %g is not a finite number",
                                   kv->key, (unsigned long long)k, lx_gguf_arr_f64(v, k));
        }
    }
    /* What the architecture derived (defaults included): a backstop that
    ** names the field when no key above explains it. */
    const lx_hparams *hp = &m->hp;
    const struct {
        const char *name;
        float v, min;
        int exclusive;
    } derived[] = {
        {"RoPE base", hp->rope_base, 1.0f, 0},
        {"RoPE position scale", hp->rope_scale, 0.0f, 1},
        {"norm epsilon", hp->norm_eps, 0.0f, 1},
        {"sliding-window RoPE base", hp->rope_base_swa, 0.0f, 0},
        {"attention scale", hp->attn_scale, 0.0f, 0},
        {"logit soft-cap", hp->logit_softcap, 0.0f, 0},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(derived); i++) {
        float x = derived[i].v;
        if (!isfinite(x) || (derived[i].exclusive ? !(x > derived[i].min) : !(x >= derived[i].min)))
            return lx_fail(err, LEXIE_E_FORMAT, "model: %s %s = %g is out of range", arch,
                           derived[i].name, (double)x);
    }
    /* Llama-3 RoPE factors divide each pair's angle: finite and positive. */
    const lx_tensor *rf = &m->rope_freqs;
    if (rf->data && rf->type == LX_TYPE_F32)
        for (int64_t k = 0; k < rf->ne[0]; k++) {
            float x;
            memcpy(&x, (const char *)rf->data + (size_t)k * sizeof x, sizeof x);
            if (!isfinite(x) || !(x > 0.0f))
                return lx_fail(err, LEXIE_E_FORMAT,
                               "model: tensor 'rope_freqs.weight' element %lld = %g is not a "
                               "finite number > 0",
                               (long long)k, (double)x);
        }
    return LEXIE_OK;
}

/* ==== Packing ==== */

/* The weights lx_linear multiplies by. */
static int linear_weights(lexie_model *m, lx_tensor **out) {
    int n = 0;
    out[n++] = &m->output;
    for (int i = 0; i < m->hp.n_layer; i++) {
        lx_layer *L = &m->layers[i];
        lx_tensor *ts[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t k = 0; k < LX_ARRAY_LEN(ts); k++) out[n++] = ts[k];
    }
    return n;
}

#define PACK_ALIGN 64 /* a cache line: each packed weight starts on one */

/* Packs every linear weight whose type has a packed layout that pays on
** the active ISA (kernels/pack.c) into one allocation, then releases the
** file pages it came from, so memory holds one copy: a tensor at a time
** is read, packed and dropped, and peak memory stays near the file's
** size.  The packed copy is what prompt processing runs on; decoding
** reads it too (an output must not depend on the batch it came in). */
static lexie_status pack_weights(lexie_model *m, lexie_error *err) {
    const lx_isa isa = lx_isa_active();
    lx_tensor **ts = lx_malloc((1 + 7 * (size_t)m->hp.n_layer) * sizeof *ts, err);
    if (!ts) return LEXIE_E_NOMEM;
    const int n = linear_weights(m, ts);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const lx_tensor *t = ts[i];
        const size_t sz = lx_pack_size(t->type, t->ne[1], t->ne[0]);
        if (t->data && lx_pack_pays(t->type, isa) && sz)
            total += (sz + PACK_ALIGN - 1) & ~(size_t)(PACK_ALIGN - 1);
    }
    if (total && !(m->packed = lx_malloc_huge(total, err))) {
        free(ts);
        return LEXIE_E_NOMEM;
    }
    uint8_t *at = m->packed;
    for (int i = 0; i < n && total; i++) {
        lx_tensor *t = ts[i];
        const size_t sz = lx_pack_size(t->type, t->ne[1], t->ne[0]);
        if (!t->data || !lx_pack_pays(t->type, isa) || !sz || t->mm != t->data) continue;
        lx_pack(t->type, t->data, t->ne[1], t->ne[0], at);
        t->mm = at;
        t->mm_type = lx_pack_type(t->type);
        m->n_packed++;
        m->n_packed_q5_0 += t->type == LX_TYPE_Q5_0;
        lx_gguf_release(m->gguf, t->data, lx_row_size(t->type, t->ne[0]) * (size_t)t->ne[1]);
        at += (sz + PACK_ALIGN - 1) & ~(size_t)(PACK_ALIGN - 1);
    }
    free(ts);
    return LEXIE_OK;
}

/* ==== Load ==== */

lexie_model_params lexie_model_default_params(void) {
    lexie_model_params p = {NULL, 0};
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
    if (check_float_hparams(m, err) != LEXIE_OK) goto fail;
    if (m->hp.n_vocab != lx_vocab_n_tokens(m->vocab)) {
        lx_fail(err, LEXIE_E_FORMAT, "model: embedding has %d rows but the tokenizer has %d tokens",
                m->hp.n_vocab, lx_vocab_n_tokens(m->vocab));
        goto fail;
    }
    if (!p->keep_layout && pack_weights(m, err) != LEXIE_OK) goto fail;
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
    free(m->packed);
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
int lexie_model_n_packed(const lexie_model *m) { return m->n_packed; }

const char *lx_model_pack_key(const lexie_model *m) {
    /* Packing Q5_0 came later: models without it keep their key. */
    if (m->n_packed_q5_0) return "|packed=x16|q5_0=x16";
    return m->n_packed ? "|packed=x16" : "";
}

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

lexie_status lexie_tokenize_chat(const lexie_model *m, const char *text, size_t len, int add_bos,
                                 const lexie_span *user, int n_user, lexie_token *out, int n_max,
                                 int *n_out, lexie_error *err) {
    return lx_tokenize_plain(m->vocab, text, len, add_bos && lx_vocab_add_bos(m->vocab), 1, user,
                             n_user, out, n_max, n_out, err);
}

lexie_token *lx_chat_tokens(const lexie_model *m, const lexie_chat_msg *msgs, int n, int gen,
                            int *n_tok, char **text, lexie_error *err) {
    char *chat = NULL;
    lexie_span *user = NULL;
    int n_user = 0, cap = 0;
    lexie_token *t = NULL;
    if (text) *text = NULL;
    if (lexie_chat_apply_spans(m, msgs, n, gen, &chat, &user, &n_user, err)) return NULL;
    size_t len = strlen(chat);
    lexie_error count_err; /* counting ends in LEXIE_E_RANGE by design */
    lexie_status s = lexie_tokenize_chat(m, chat, len, 1, user, n_user, NULL, 0, &cap, &count_err);
    if (s != LEXIE_OK && s != LEXIE_E_RANGE && err) *err = count_err;
    if ((s == LEXIE_OK || s == LEXIE_E_RANGE) &&
        (t = lx_malloc(sizeof *t * (size_t)(cap ? cap : 1), err)) &&
        lexie_tokenize_chat(m, chat, len, 1, user, n_user, t, cap, n_tok, err)) {
        free(t);
        t = NULL;
    }
    if (t && text)
        *text = chat;
    else
        lexie_free(chat);
    lexie_free(user);
    return t;
}

char *lx_chat_sft_line(const lexie_chat_msg *msgs, int n, lexie_error *err) {
    lx_jbuf b = {0};
    lx_jbuf_puts(&b, "{\"messages\": [");
    for (int i = 0; i < n; i++) {
        lx_jbuf_puts(&b, i ? ", {\"role\": " : "{\"role\": ");
        lx_jbuf_cstr(&b, msgs[i].role);
        lx_jbuf_puts(&b, ", \"content\": ");
        lx_jbuf_cstr(&b, msgs[i].content);
        lx_jbuf_putc(&b, '}');
    }
    lx_jbuf_puts(&b, "]}");
    if (lx_jbuf_status(&b, err) != LEXIE_OK) {
        lx_jbuf_free(&b);
        return NULL;
    }
    return b.data;
}

lexie_status lexie_chat_apply_spans(const lexie_model *m, const lexie_chat_msg *msgs, int n_msgs,
                                    int add_generation_prompt, char **out, lexie_span **user,
                                    int *n_user, lexie_error *err) {
    if (out) *out = NULL;
    if (user) *user = NULL;
    if (n_user) *n_user = 0;
    if (!out || !user || !n_user)
        return lx_fail(err, LEXIE_E_INVALID, "chat: out, user and n_user must not be NULL");
    if (!m->chat_template)
        return lx_fail(err, LEXIE_E_UNSUPPORTED,
                       "chat: the model has no chat template; pass one with --chat-template");
    const char *bos = lx_vocab_text(m->vocab, lx_vocab_bos(m->vocab));
    const char *eos = lx_vocab_text(m->vocab, lx_vocab_eos(m->vocab));
    _Static_assert(sizeof(lexie_chat_msg) == sizeof(lx_chat_msg), "chat msg layout");
    lx_chat_out o;
    lexie_status st =
        lx_chat_render_ex(m->chat_template, (const lx_chat_msg *)msgs, n_msgs,
                          add_generation_prompt, bos ? bos : "", eos ? eos : "", NULL, &o, err);
    if (st != LEXIE_OK) return st;
    *out = o.text;
    *user = o.user;
    *n_user = o.n_user;
    return LEXIE_OK;
}

lexie_status lexie_chat_apply(const lexie_model *m, const lexie_chat_msg *msgs, int n_msgs,
                              int add_generation_prompt, char **out, lexie_error *err) {
    lexie_span *user = NULL;
    int n_user = 0;
    lexie_status st =
        lexie_chat_apply_spans(m, msgs, n_msgs, add_generation_prompt, out, &user, &n_user, err);
    free(user);
    return st;
}
