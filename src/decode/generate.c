/*
** generate.c -- the generation loop: prefill the prompt (reusing the cached
** prefix), then sample one token at a time until an end-of-generation
** token, a stop string, max_tokens or a full context, and say which
** (lexie_generate_ex), so a caller can tell a cut-off answer from a
** finished one.
**
** Text is delivered in whole, valid UTF-8 characters: a model can emit
** byte tokens that do not form one (a stray continuation byte, a sequence
** cut off by the end), and each such byte becomes U+FFFD.  Text that might
** be the start of a stop string is held back until it is known not to be.
**
** Under a grammar (lexie_gen_params.grammar) each step goes through the
** mask in constrain.c instead of sampling the raw logits, and an output the
** budget cut before it could be closed stops as LEXIE_GEN_GRAMMAR_CUT.
*/
#include "decode.h"

#include <stdlib.h>
#include <string.h>

lexie_gen_params lexie_gen_default_params(void) {
    lexie_gen_params p;
    memset(&p, 0, sizeof p);
    p.sampler = lexie_sampler_default_params();
    return p;
}

/* Appends a token's bytes as valid UTF-8; a character cut short waits in
** pend (at most 3 bytes) for the next token, or becomes U+FFFD when final. */
int lx_text_append_utf8(lx_buf *t, char *pend, size_t *n_pend, const char *s, size_t n, int final) {
    char in[3 + 256], out[3 * sizeof in];
    size_t len = *n_pend, used;
    if (n > sizeof in - len) n = sizeof in - len; /* pieces are at most 256 bytes */
    memcpy(in, pend, len);
    memcpy(in + len, s, n);
    len += n;
    size_t o = lx_utf8_sanitize(in, len, final, out, &used);
    *n_pend = len - used;
    memcpy(pend, in + used, *n_pend);
    return lx_buf_append(t, out, o, NULL) == LEXIE_OK;
}

/* Largest k <= n such that s[0..k) ends on a whole UTF-8 character. */
static size_t utf8_complete(const char *s, size_t n) {
    size_t i = n;
    for (int back = 0; back < 4 && i > 0; back++) {
        unsigned char ch = (unsigned char)s[i - 1];
        if ((ch & 0xC0) != 0x80) {
            /* s[i-1] starts a character: complete if its length fits. */
            return (size_t)lx_utf8_len(ch) <= n - (i - 1) ? n : i - 1;
        }
        i--;
    }
    return n;
}

/* Tokens that may still be sampled, the next one included: max_tokens and
** the context each end the loop one token after they are reached. */
static int tokens_left(const lexie_ctx *c, const lexie_gen_params *p, int n_gen, int pos) {
    int left = c->params.n_ctx - pos + 1;
    left = LX_MIN(left, c->kv.n_cells - c->kv.used + 1);
    if (p->max_tokens > 0) left = LX_MIN(left, p->max_tokens - n_gen);
    return LX_MAX(left, 1);
}

lexie_status lexie_generate(lexie_ctx *c, const lexie_token *prompt, int n_prompt,
                            const lexie_gen_params *pp, lexie_gen_callback cb, void *user,
                            char **out_text, int *n_generated, lexie_error *err) {
    return lexie_generate_ex(c, prompt, n_prompt, pp, cb, user, out_text, n_generated, NULL, err);
}

lexie_status lexie_generate_ex(lexie_ctx *c, const lexie_token *prompt, int n_prompt,
                               const lexie_gen_params *pp, lexie_gen_callback cb, void *user,
                               char **out_text, int *n_generated, lexie_gen_stop *why,
                               lexie_error *err) {
    const lexie_model *m = c->model;
    lexie_gen_params p = pp ? *pp : lexie_gen_default_params();
    lexie_gen_stop stop_why = LEXIE_GEN_EOG;
    if (out_text) *out_text = NULL;
    if (n_generated) *n_generated = 0;
    if (why) *why = LEXIE_GEN_EOG;

    if (p.timing) memset(p.timing, 0, sizeof *p.timing);

    size_t max_stop = 0;
    for (int i = 0; p.stop && p.stop[i]; i++) max_stop = LX_MAX(max_stop, strlen(p.stop[i]));
    if (p.grammar && max_stop > 0)
        return lx_fail(err, LEXIE_E_INVALID,
                       "generate: stop strings cannot be used with a grammar");

    lx_gcon gc = {0};
    lexie_status s;
    if (p.grammar) {
        int n_max = c->params.n_ctx + 1;
        if (p.max_tokens > 0 && p.max_tokens < n_max) n_max = p.max_tokens;
        if ((s = lx_gcon_init(&gc, m, &p, n_max, err)) != LEXIE_OK) return s;
    }

    const float *logits;
    s = lx_prefill(c, 0, prompt, n_prompt, &logits, err);
    if (s != LEXIE_OK) {
        lx_gcon_free(&gc);
        return s;
    }

    lx_buf text = {0};
    size_t emitted = 0;
    uint64_t rng = p.sampler.seed;
    int n_gen = 0, pos = n_prompt, stopped = 0;
    char piece[256], pend[4];
    size_t n_pend = 0;
    for (;;) {
        if (p.max_tokens > 0 && n_gen >= p.max_tokens) {
            stop_why = LEXIE_GEN_MAX_TOKENS;
            break;
        }
        double t0 = p.timing ? lx_time_now() : 0.0;
        lexie_token t;
        if (p.grammar) {
            s = lx_gcon_step(&gc, m, logits, &p.sampler, &rng, tokens_left(c, &p, n_gen, pos), &t,
                             err);
            if (s != LEXIE_OK) break;
            if (p.timing) p.timing->mask_s += lx_time_now() - t0;
            if (t < 0) break; /* complete, or cut: told apart below */
        } else {
            t = lexie_sample(m, logits, &p.sampler, &rng);
        }
        if (lx_vocab_is_eog(m->vocab, t)) break;
        n_gen++;
        int len = lx_token_to_piece(m->vocab, t, 0, piece, (int)sizeof piece);
        if (len > (int)sizeof piece) len = (int)sizeof piece;
        if (len > 0 && !lx_text_append_utf8(&text, pend, &n_pend, piece, (size_t)len, 0)) {
            s = lx_fail(err, LEXIE_E_NOMEM, "generate: out of memory");
            break;
        }
        /* A stop string ends the text just before it. */
        size_t safe = text.len;
        if (max_stop > 0) {
            size_t from = emitted > max_stop ? emitted - max_stop : 0;
            for (int i = 0; p.stop[i]; i++) {
                char *hit = strstr(text.data + from, p.stop[i]);
                if (hit && p.stop[i][0] && (size_t)(hit - text.data) < safe) {
                    safe = (size_t)(hit - text.data);
                    stopped = 1;
                    stop_why = LEXIE_GEN_STOP_STRING;
                }
            }
            if (!stopped) safe = text.len >= max_stop - 1 ? text.len - (max_stop - 1) : 0;
        }
        safe = utf8_complete(text.data, LX_MAX(safe, emitted));
        if (safe > emitted) {
            if (cb && cb(text.data + emitted, safe - emitted, user) && !stopped) {
                stopped = 1;
                stop_why = LEXIE_GEN_CALLBACK;
            }
            emitted = safe;
        }
        if (stopped) {
            text.len = emitted;
            break;
        }
        if (pos >= c->params.n_ctx || c->kv.used >= c->kv.n_cells) {
            stop_why = LEXIE_GEN_CTX_FULL;
            break;
        }
        int32_t seq0 = 0;
        lexie_batch b = {1, &t, &pos, &seq0, NULL};
        s = lexie_ctx_decode(c, &b, err);
        if (s != LEXIE_OK) break;
        pos++;
        logits = lexie_ctx_logits(c, -1);
        if (p.timing) {
            p.timing->step_s += lx_time_now() - t0;
            p.timing->n_steps++;
        }
    }
    /* Under a grammar, an output that is not a whole sentence was cut (by
    ** the budget; a callback that stopped it is told as such). */
    if (p.grammar && s == LEXIE_OK && stop_why != LEXIE_GEN_CALLBACK &&
        !lexie_matcher_is_accepting(gc.m) && !lexie_matcher_is_terminated(gc.m))
        stop_why = LEXIE_GEN_GRAMMAR_CUT;
    lx_gcon_free(&gc);
    /* Flush what was held back for stop strings, and a cut-off character. */
    if (s == LEXIE_OK && !stopped) {
        if (n_pend && !lx_text_append_utf8(&text, pend, &n_pend, "", 0, 1))
            s = lx_fail(err, LEXIE_E_NOMEM, "generate: out of memory");
        else if (text.len > emitted && cb)
            cb(text.data + emitted, text.len - emitted, user);
    }
    if (text.data) text.data[text.len] = 0;
    if (n_generated) *n_generated = n_gen;
    if (why) *why = stop_why;
    if (out_text && s == LEXIE_OK) {
        *out_text = text.data ? text.data : lx_strdup("", err);
        text.data = NULL;
    }
    free(text.data);
    return s;
}
