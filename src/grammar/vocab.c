/*
** vocab.c -- a vocabulary's token trie for mask computation (lx_gvocab in
** grammar.h), built once per model and shared by every grammar and
** matcher: token byte strings sorted, then laid out depth-first so a mask
** walk is one forward pass that skips whole subtrees the grammar rejects.
**
** Token bytes are what detokenizing gives (GPT-2 byte alphabet and
** SentencePiece's U+2581 undone, <0xXX> byte tokens as their byte), so a
** piece may hold half a UTF-8 character.  Tokens without bytes (control
** tokens) never enter the trie; end-of-generation tokens are kept aside.
*/
#include "grammar/grammar.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PIECE 1024 /* longer tokens are never allowed (none seen in real vocabularies) */

/* A token to sort: qsort has no context argument, so each carries its bytes. */
typedef struct srt {
    const char *p;
    int32_t len, t;
} srt;

static int cmp_tok(const void *a, const void *b) {
    const srt *x = a, *y = b;
    int c = memcmp(x->p, y->p, (size_t)(x->len < y->len ? x->len : y->len));
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

void lx_gvocab_free(lx_gvocab *v) {
    if (!v) return;
    if (v->piece)
        for (int32_t i = 0; i < v->n_tokens; i++) free(v->piece[i]);
    free(v->piece);
    free(v->piece_len);
    lx_trie *tr[4] = {&v->full, &v->rest, &v->longt, &v->rest_text};
    for (int k = 0; k < 4; k++) {
        free(tr[k]->byte);
        free(tr[k]->depth);
        free(tr[k]->skip);
        free(tr[k]->tok);
        free(tr[k]->desc_plain);
        free(tr[k]->sfx_off);
        free(tr[k]->sfx);
    }
    free(v->plain);
    free(v->text);
    free(v->plain_le);
    free(v->text_le);
    free(v->shortm);
    free(v->tok_next);
    free(v->eog);
    free(v);
}

/* Lays the sorted tokens out as a depth-first trie. */
static int is_plain(const char *p, int32_t len) {
    for (int32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') return 0;
    }
    return 1;
}

/* Text: whole UTF-8 characters, none of them a control, " or \ (plain
** bytes and bytes from 0x80): what any JSON string body takes raw. */
static int is_text(const char *p, int32_t len) {
    for (int32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x80 && !is_plain(p + i, 1)) return 0;
    }
    return lx_utf8_valid(p, (size_t)len, NULL);
}

/* Tokens a trie leaves out: mode 1 plain ones, 2 short ones, 3 text ones. */
static int left_out(const lx_gvocab *v, int32_t t, int mode) {
    const char *p = v->piece[t];
    int32_t len = v->piece_len[t];
    return (mode == 1 && is_plain(p, len)) || (mode == 2 && len <= LX_SHORT) ||
           (mode == 3 && is_text(p, len));
}

/* The plain-suffix lists: each token joins the list of every node on its
** path from just after its last non-plain byte down to its end. */
static int build_sfx(lx_gvocab *v, lx_trie *tr, const srt *order, int32_t n, int rest) {
    int32_t nn = tr->n_nodes;
    int32_t *parent = malloc(((size_t)nn + 1) * sizeof *parent);
    int32_t *endn = malloc(((size_t)v->n_tokens + 1) * sizeof *endn);
    tr->sfx_off = calloc((size_t)nn + 2, sizeof *tr->sfx_off);
    if (!parent || !endn || !tr->sfx_off) {
        free(parent);
        free(endn);
        return -1;
    }
    int32_t path[MAX_PIECE + 1];
    for (int32_t i = 0; i < nn; i++) {
        int d = tr->depth[i];
        path[d - 1] = i;
        parent[i] = d > 1 ? path[d - 2] : -1;
        for (int32_t t = tr->tok[i]; t >= 0; t = v->tok_next[t]) endn[t] = i;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int32_t k = 0; k < n; k++) {
            int32_t t = order[k].t, len = v->piece_len[t];
            if (left_out(v, t, rest)) continue;
            int32_t lnp = -1;
            for (int32_t b = 0; b < len; b++)
                if (!is_plain(v->piece[t] + b, 1)) lnp = b;
            /* nodes at depth d > lnp (bytes [d, len) plain): from the end up */
            for (int32_t a = endn[t]; a >= 0 && tr->depth[a] > lnp; a = parent[a]) {
                if (pass == 0)
                    tr->sfx_off[a + 1]++;
                else
                    tr->sfx[tr->sfx_off[a]++] = t;
            }
        }
        if (pass == 0) {
            for (int32_t i = 0; i < nn; i++) tr->sfx_off[i + 1] += tr->sfx_off[i];
            tr->sfx = malloc(((size_t)tr->sfx_off[nn] + 1) * sizeof *tr->sfx);
            if (!tr->sfx) {
                free(parent);
                free(endn);
                return -1;
            }
        }
    }
    /* the fill advanced each start to the next node's: shift back */
    for (int32_t i = nn; i > 0; i--) tr->sfx_off[i] = tr->sfx_off[i - 1];
    tr->sfx_off[0] = 0;
    free(parent);
    free(endn);
    return 0;
}

/* Lays the sorted tokens out as a depth-first trie (rest: plain ones left out). */
static lexie_status build_trie(lx_gvocab *v, lx_trie *tr, const srt *order, int32_t n, int rest,
                               lexie_error *err) {
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) total += (size_t)order[i].len;
    if (total > INT32_MAX / 2) return lx_fail(err, LEXIE_E_RANGE, "vocabulary too large");
    size_t cap = total + 1;
    tr->byte = malloc(cap);
    tr->depth = malloc(cap * sizeof *tr->depth);
    tr->skip = malloc(cap * sizeof *tr->skip);
    tr->tok = malloc(cap * sizeof *tr->tok);
    int32_t path[MAX_PIECE + 1];
    if (!tr->byte || !tr->depth || !tr->skip || !tr->tok)
        return lx_fail(err, LEXIE_E_NOMEM, "token trie: out of memory");
    int depth = 0;
    const char *prev = NULL;
    int32_t nn = 0, prev_len = 0;
    for (int32_t k = 0; k < n; k++) {
        int32_t t = order[k].t;
        const char *p = v->piece[t];
        int32_t len = v->piece_len[t];
        if (left_out(v, t, rest)) continue;
        int lcp = 0;
        while (prev && lcp < len && lcp < prev_len && lcp < depth && p[lcp] == prev[lcp]) lcp++;
        while (depth > lcp) tr->skip[path[--depth]] = nn; /* close finished subtrees */
        for (; depth < len; depth++) {
            tr->byte[nn] = (uint8_t)p[depth];
            tr->depth[nn] = (uint16_t)(depth + 1);
            tr->tok[nn] = -1;
            path[depth] = nn++;
        }
        int32_t node = path[len - 1];
        if (tr->tok[node] < 0) {
            tr->tok[node] = t;
        } else if (!rest) { /* same bytes as an earlier token: chain it (once) */
            int32_t u = tr->tok[node];
            while (v->tok_next[u] >= 0) u = v->tok_next[u];
            v->tok_next[u] = t;
        }
        prev = p;
        prev_len = len;
    }
    while (depth > 0) tr->skip[path[--depth]] = nn;
    tr->n_nodes = nn;
    /* desc_plain, children before parents: reverse depth-first order */
    tr->desc_plain = malloc((size_t)nn + 1);
    if (!tr->desc_plain) return lx_fail(err, LEXIE_E_NOMEM, "token trie: out of memory");
    if (build_sfx(v, tr, order, n, rest) != 0)
        return lx_fail(err, LEXIE_E_NOMEM, "token trie: out of memory");
    for (int32_t i = nn - 1; i >= 0; i--) {
        int ok = 1;
        for (int32_t j = i + 1; j < tr->skip[i] && ok; j = tr->skip[j])
            ok = tr->desc_plain[j] && is_plain((const char *)&tr->byte[j], 1);
        tr->desc_plain[i] = (uint8_t)ok;
    }
    return LEXIE_OK;
}

static int n_chars(const lx_gvocab *v, int32_t t) {
    int n = 0;
    for (int32_t i = 0; i < v->piece_len[t]; i++)
        n += ((unsigned char)v->piece[t][i] & 0xC0) != 0x80;
    return n;
}

/* plain_le: the plain tokens of at most k bytes, for each k (a state that
** takes exactly k more plain bytes, whichever they are, allows those);
** text_le: the text tokens of at most k characters. */
static lexie_status plain_by_length(lx_gvocab *v, lexie_error *err) {
    size_t words = ((size_t)v->n_tokens + 31) / 32;
    v->max_plain = 0;
    for (int32_t t = 0; t < v->n_tokens; t++)
        if ((v->plain[t >> 5] >> (t & 31)) & 1)
            v->max_plain = LX_MAX(v->max_plain, v->piece_len[t]);
    v->plain_le = calloc(((size_t)v->max_plain + 1) * words, sizeof *v->plain_le);
    if (!v->plain_le) return lx_fail(err, LEXIE_E_NOMEM, "token trie: out of memory");
    for (int32_t t = 0; t < v->n_tokens; t++)
        if ((v->plain[t >> 5] >> (t & 31)) & 1)
            v->plain_le[(size_t)v->piece_len[t] * words + (size_t)(t >> 5)] |= 1u << (t & 31);
    for (int k = 1; k <= v->max_plain; k++)
        for (size_t w = 0; w < words; w++)
            v->plain_le[(size_t)k * words + w] |= v->plain_le[(size_t)(k - 1) * words + w];
    /* text tokens by characters (UTF-8 lead bytes) */
    v->max_text = 0;
    for (int32_t t = 0; t < v->n_tokens; t++)
        if ((v->text[t >> 5] >> (t & 31)) & 1) v->max_text = LX_MAX(v->max_text, n_chars(v, t));
    v->text_le = calloc(((size_t)v->max_text + 1) * words, sizeof *v->text_le);
    if (!v->text_le) return lx_fail(err, LEXIE_E_NOMEM, "token trie: out of memory");
    for (int32_t t = 0; t < v->n_tokens; t++)
        if ((v->text[t >> 5] >> (t & 31)) & 1)
            v->text_le[(size_t)n_chars(v, t) * words + (size_t)(t >> 5)] |= 1u << (t & 31);
    for (int k = 1; k <= v->max_text; k++)
        for (size_t w = 0; w < words; w++)
            v->text_le[(size_t)k * words + w] |= v->text_le[(size_t)(k - 1) * words + w];
    return LEXIE_OK;
}

lx_gvocab *lx_gvocab_build(int32_t n_tokens, const char *const *pieces, const int32_t *lens,
                           const int32_t *eog, int n_eog, lexie_error *err) {
    if (n_tokens <= 0 || n_eog < 0)
        return lx_fail(err, LEXIE_E_INVALID, "token trie: empty vocabulary"), NULL;
    lx_gvocab *v = lx_calloc(1, sizeof *v, err);
    if (!v) return NULL;
    v->n_tokens = n_tokens;
    v->piece = calloc((size_t)n_tokens, sizeof *v->piece);
    v->piece_len = calloc((size_t)n_tokens, sizeof *v->piece_len);
    v->tok_next = malloc((size_t)n_tokens * sizeof *v->tok_next);
    v->eog = malloc(((size_t)n_eog + 1) * sizeof *v->eog);
    srt *order = malloc((size_t)n_tokens * sizeof *order);
    if (!v->piece || !v->piece_len || !v->tok_next || !v->eog || !order) {
        free(order);
        lx_gvocab_free(v);
        return lx_fail(err, LEXIE_E_NOMEM, "token trie: out of memory"), NULL;
    }
    uint8_t *is_eog = calloc((size_t)n_tokens, 1);
    for (int i = 0; i < n_eog; i++) {
        if (eog[i] < 0 || eog[i] >= n_tokens) continue;
        if (is_eog && !is_eog[eog[i]]) v->eog[v->n_eog++] = eog[i];
        if (is_eog) is_eog[eog[i]] = 1;
    }
    int32_t n = 0;
    for (int32_t t = 0; t < n_tokens; t++) {
        v->tok_next[t] = -1;
        int32_t len = lens[t];
        if (len <= 0 || len > MAX_PIECE || !pieces[t] || (is_eog && is_eog[t])) continue;
        v->piece[t] = malloc((size_t)len);
        if (!v->piece[t]) {
            free(order);
            free(is_eog);
            lx_gvocab_free(v);
            return lx_fail(err, LEXIE_E_NOMEM, "token trie: out of memory"), NULL;
        }
        memcpy(v->piece[t], pieces[t], (size_t)len);
        v->piece_len[t] = len;
        if (len > v->max_len) v->max_len = len;
        order[n++] = (srt){v->piece[t], len, t};
    }
    free(is_eog);
    qsort(order, (size_t)n, sizeof *order, cmp_tok);
    lexie_status st = build_trie(v, &v->full, order, n, 0, err);
    if (st == LEXIE_OK) st = build_trie(v, &v->rest, order, n, 1, err);
    if (st == LEXIE_OK) st = build_trie(v, &v->longt, order, n, 2, err);
    if (st == LEXIE_OK) st = build_trie(v, &v->rest_text, order, n, 3, err);
    v->shortm = calloc(((size_t)n_tokens + 31) / 32, sizeof *v->shortm);
    if (st == LEXIE_OK && !v->shortm) st = lx_fail(err, LEXIE_E_NOMEM, "token trie: out of memory");
    for (int32_t k = 0; k < n && st == LEXIE_OK; k++)
        if (v->piece_len[order[k].t] <= LX_SHORT)
            v->shortm[order[k].t >> 5] |= 1u << (order[k].t & 31);
    for (int k = 0; k < v->n_eog && st == LEXIE_OK; k++)
        v->shortm[v->eog[k] >> 5] |= 1u << (v->eog[k] & 31);
    v->plain = calloc(((size_t)n_tokens + 31) / 32, sizeof *v->plain);
    v->text = calloc(((size_t)n_tokens + 31) / 32, sizeof *v->text);
    if (st == LEXIE_OK && (!v->plain || !v->text))
        st = lx_fail(err, LEXIE_E_NOMEM, "token trie: out of memory");
    for (int32_t k = 0; k < n && st == LEXIE_OK; k++) {
        int32_t t = order[k].t;
        if (is_text(v->piece[t], v->piece_len[t])) v->text[t >> 5] |= 1u << (t & 31);
        if (!is_plain(v->piece[t], v->piece_len[t])) continue;
        v->plain[t >> 5] |= 1u << (t & 31);
        v->n_plain++;
    }
    free(order);
    if (st == LEXIE_OK) st = plain_by_length(v, err);
    if (st != LEXIE_OK) {
        lx_gvocab_free(v);
        return NULL;
    }
    return v;
}
