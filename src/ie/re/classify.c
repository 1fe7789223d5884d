/*
** classify.c -- the relation classifier: builds each example's chat prompt
** (few-shot demonstrations as earlier turns, the example last), asks the
** backend for the distribution over the option letters (QA4RE) or the
** labels (vanilla), averages over option orders, and decides.
**
** How an answer tokenizes depends on the chat template and the
** vocabulary, so it is measured, not assumed: the template renders a dummy
** turn with the generation prompt, and again with the answer as the
** assistant's reply; the tokens after the common prefix are the answer's
** own tokens followed by the end-of-turn token.  When every letter offered
** is one token, one restricted next-token distribution answers the
** question; otherwise each option's letter (plus end of turn, so "A" does
** not also count the mass of "AB") is scored as a continuation.
*/
#include "re.h"

#include "decode/decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    lexie_token *tok;
    int n;      /* tokens to score: the text's, then end of turn if any */
    int n_text; /* the text's own tokens */
} answer_toks;

struct lx_re_clf {
    const lx_re_schema *s;
    lx_re_backend b;
    lx_re_params p;
    int n_demos;
    lx_re_input *demos; /* owned copies */
    int *demo_labels;
    answer_toks *letters; /* [n_letters], computed on demand */
    int n_letters;
    answer_toks *labels; /* vanilla: [n_rels + 1], computed on demand */
    lexie_token *ref;    /* tokens of the dummy prompt with the generation prompt */
    int n_ref;
    char *ref_text;
    lexie_span *ref_user; /* the message text in ref_text */
    int n_ref_user;
};

lx_re_params lx_re_default_params(void) {
    lx_re_params p;
    memset(&p, 0, sizeof p);
    p.method = LX_RE_QA4RE;
    p.max_gen_tokens = 16;
    p.n_permute = 1;
    p.mark = 1;
    p.batch = 8;
    return p;
}

void lx_re_result_clear(lx_re_result *r) {
    if (!r) return;
    free(r->probs);
    free(r->answer);
    memset(r, 0, sizeof *r);
}

/* ==== Answer tokens ==== */

static int starts_with(const lexie_token *a, int na, const lexie_token *pre, int np) {
    return na >= np && memcmp(a, pre, (size_t)np * sizeof *a) == 0;
}

static lexie_status answer_tokens(lx_re_clf *c, const char *text, answer_toks *out,
                                  lexie_error *err) {
    lexie_chat_msg msgs[2] = {{"user", "x"}, {"assistant", text}};
    char *full = NULL;
    lexie_token *tf = NULL;
    int nf = 0;
    lexie_span *user = NULL;
    int n_user = 0;
    lexie_status st = c->b.chat(c->b.user, msgs, 2, 0, &full, &user, &n_user, err);
    if (st == LEXIE_OK) st = c->b.tokenize(c->b.user, full, user, n_user, &tf, &nf, err);
    free(full);
    free(user);
    if (st != LEXIE_OK) return st;
    if (!starts_with(tf, nf, c->ref, c->n_ref)) {
        /* The template renders a reply differently from the generation
        ** prompt (e.g. it inserts markup): fall back to plain text after
        ** the generation prompt, with no end-of-turn token. */
        free(tf);
        tf = NULL;
        size_t lr = strlen(c->ref_text), lt = strlen(text);
        char *cat = lx_malloc(lr + lt + 1, err);
        /* The answer (a letter or a label) is message text too. */
        lexie_span *sp = lx_malloc(((size_t)c->n_ref_user + 1) * sizeof *sp, err);
        if (!cat || !sp) {
            free(cat);
            free(sp);
            return LEXIE_E_NOMEM;
        }
        memcpy(cat, c->ref_text, lr);
        memcpy(cat + lr, text, lt + 1);
        if (c->n_ref_user) memcpy(sp, c->ref_user, (size_t)c->n_ref_user * sizeof *sp);
        sp[c->n_ref_user] = (lexie_span){lr, lr + lt};
        st = c->b.tokenize(c->b.user, cat, sp, c->n_ref_user + 1, &tf, &nf, err);
        free(cat);
        free(sp);
        if (st != LEXIE_OK) return st;
        if (!starts_with(tf, nf, c->ref, c->n_ref)) {
            free(tf);
            return lx_fail(err, LEXIE_E_UNSUPPORTED,
                           "answer \"%s\" merges with the end of the prompt when tokenized", text);
        }
    }
    int n = nf - c->n_ref, n_text = n;
    for (int i = 0; i < n; i++)
        if (c->b.is_eog(c->b.user, tf[c->n_ref + i])) {
            n_text = i;
            n = i + 1;
            break;
        }
    if (n_text <= 0) {
        free(tf);
        return lx_fail(err, LEXIE_E_UNSUPPORTED, "answer \"%s\" tokenizes to nothing", text);
    }
    out->tok = lx_malloc((size_t)n * sizeof *out->tok, err);
    if (!out->tok) {
        free(tf);
        return LEXIE_E_NOMEM;
    }
    memcpy(out->tok, tf + c->n_ref, (size_t)n * sizeof *out->tok);
    out->n = n;
    out->n_text = n_text;
    free(tf);
    return LEXIE_OK;
}

static lexie_status need_letters(lx_re_clf *c, int n, lexie_error *err) {
    if (n <= c->n_letters) return LEXIE_OK;
    answer_toks *a = realloc(c->letters, (size_t)n * sizeof *a);
    if (!a) return lx_fail(err, LEXIE_E_NOMEM, "letters: out of memory");
    c->letters = a;
    while (c->n_letters < n) {
        char l[8];
        lx_re_letter(c->n_letters, l);
        lexie_status st = answer_tokens(c, l, &c->letters[c->n_letters], err);
        if (st != LEXIE_OK) return lx_fail_prefix(err, "letter %s: ", l);
        c->n_letters++;
    }
    return LEXIE_OK;
}

static lexie_status need_labels(lx_re_clf *c, lexie_error *err) {
    if (c->labels) return LEXIE_OK;
    int n = c->s->n_rels + 1;
    answer_toks *a = lx_calloc((size_t)n, sizeof *a, err);
    if (!a) return LEXIE_E_NOMEM;
    for (int i = 0; i < n; i++) {
        lexie_status st = answer_tokens(c, lx_re_schema_label(c->s, i), &a[i], err);
        if (st != LEXIE_OK) {
            for (int k = 0; k < i; k++) free(a[k].tok);
            free(a);
            return st;
        }
    }
    c->labels = a;
    return LEXIE_OK;
}

int lx_re_clf_single_token_letters(const lx_re_clf *c) {
    for (int i = 0; i < c->n_letters; i++)
        if (c->letters[i].n_text != 1) return 0;
    return 1;
}

/* ==== Construction ==== */

lx_re_clf *lx_re_clf_new(const lx_re_schema *s, const lx_re_backend *b, const lx_re_params *p,
                         lexie_error *err) {
    if (!s || !b || !b->chat || !b->tokenize || !b->is_eog || !b->next_probs || !b->score ||
        !b->generate) {
        lx_fail(err, LEXIE_E_INVALID, "classifier: missing schema or backend function");
        return NULL;
    }
    lx_re_clf *c = lx_calloc(1, sizeof *c, err);
    if (!c) return NULL;
    c->s = s;
    c->b = *b;
    c->p = p ? *p : lx_re_default_params();
    if (c->p.max_gen_tokens <= 0) c->p.max_gen_tokens = 16;
    if (c->p.n_permute <= 0) c->p.n_permute = 1;
    if (c->p.batch <= 0) c->p.batch = 8;
    if (c->p.method != LX_RE_QA4RE && c->p.method != LX_RE_VANILLA &&
        c->p.method != LX_RE_COMPACT) {
        lx_fail(err, LEXIE_E_INVALID, "classifier: unknown method %d", (int)c->p.method);
        free(c);
        return NULL;
    }
    lexie_chat_msg m = {"user", "x"};
    lexie_status st =
        c->b.chat(c->b.user, &m, 1, 1, &c->ref_text, &c->ref_user, &c->n_ref_user, err);
    if (st == LEXIE_OK)
        st = c->b.tokenize(c->b.user, c->ref_text, c->ref_user, c->n_ref_user, &c->ref, &c->n_ref,
                           err);
    if (st != LEXIE_OK) {
        lx_re_clf_free(c);
        return NULL;
    }
    return c;
}

static void free_demos(lx_re_clf *c) {
    for (int i = 0; i < c->n_demos; i++) {
        free((char *)c->demos[i].text);
        free((char *)c->demos[i].head_type);
        free((char *)c->demos[i].tail_type);
    }
    free(c->demos);
    free(c->demo_labels);
    c->demos = NULL;
    c->demo_labels = NULL;
    c->n_demos = 0;
}

void lx_re_clf_free(lx_re_clf *c) {
    if (!c) return;
    free_demos(c);
    for (int i = 0; i < c->n_letters; i++) free(c->letters[i].tok);
    free(c->letters);
    if (c->labels)
        for (int i = 0; i <= c->s->n_rels; i++) free(c->labels[i].tok);
    free(c->labels);
    free(c->ref);
    free(c->ref_text);
    free(c->ref_user);
    free(c);
}

static char *dup_or_null(const char *s, int *bad, lexie_error *err) {
    if (!s) return NULL;
    char *d = lx_strdup(s, err);
    if (!d) *bad = 1;
    return d;
}

lexie_status lx_re_clf_set_demos(lx_re_clf *c, const lx_re_input *demos, const int *labels, int n,
                                 lexie_error *err) {
    free_demos(c);
    if (n <= 0) return LEXIE_OK;
    c->demos = lx_calloc((size_t)n, sizeof *c->demos, err);
    c->demo_labels = lx_calloc((size_t)n, sizeof *c->demo_labels, err);
    if (!c->demos || !c->demo_labels) {
        free_demos(c);
        return LEXIE_E_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] > c->s->n_rels) {
            free_demos(c);
            return lx_fail(err, LEXIE_E_INVALID, "demo %d: label %d out of range", i, labels[i]);
        }
        int bad = 0;
        c->demos[i] = demos[i];
        c->demos[i].text = dup_or_null(demos[i].text, &bad, err);
        c->demos[i].head_type = dup_or_null(demos[i].head_type, &bad, err);
        c->demos[i].tail_type = dup_or_null(demos[i].tail_type, &bad, err);
        c->demo_labels[i] = labels[i];
        c->n_demos = i + 1;
        if (bad) {
            free_demos(c);
            return LEXIE_E_NOMEM;
        }
    }
    return LEXIE_OK;
}

/* ==== Prompts ==== */

/* The options offered for in: type-compatible relations in schema order,
** the none label last, then rotated left by perm/n_perm of the list.  With
** include != -1, that label is added if the types left it out (demos must
** offer their own answer).  Returns the count; opts needs n_rels+1. */
static int options_for(const lx_re_clf *c, const lx_re_input *in, int perm, int include,
                       int *opts) {
    const lx_re_schema *s = c->s;
    int n = lx_re_schema_candidates(s, in->head_type, in->tail_type, opts);
    if (include >= 0 && include < s->n_rels) {
        int found = 0;
        for (int i = 0; i < n; i++) found |= opts[i] == include;
        if (!found) opts[n++] = include;
    }
    opts[n++] = s->n_rels;
    if (perm > 0 && c->p.n_permute > 1) {
        int shift = (int)((long long)perm * n / c->p.n_permute) % n;
        int *tmp = malloc((size_t)n * sizeof *tmp);
        if (tmp) {
            for (int i = 0; i < n; i++) tmp[i] = opts[(i + shift) % n];
            memcpy(opts, tmp, (size_t)n * sizeof *opts);
            free(tmp);
        }
    }
    return n;
}

/* The chat messages of one example: the demonstrations' turns, then in's
** user turn under permutation perm (fills opts and *n_opts; with gold !=
** -1 that label is offered even where the types leave it out), then with
** gold != -1 the assistant's answer for it.  msgs[0 .. n) point into
** owned[], which the caller frees (free_messages). */
typedef struct {
    lexie_chat_msg *msgs;
    char **owned;
    int n;
} messages;

static void free_messages(messages *m) {
    if (m->owned)
        for (int i = 0; i < m->n; i++) free(m->owned[i]);
    free(m->owned);
    free(m->msgs);
    memset(m, 0, sizeof *m);
}

/* The answer that teaches gold among opts[0..n): its letter (QA4RE) or
** name, malloc'd. */
static char *answer_text(const lx_re_clf *c, int gold, const int *opts, int n, lexie_error *err) {
    if (c->p.method != LX_RE_QA4RE) return lx_strdup(lx_re_schema_label(c->s, gold), err);
    char letter[8] = "";
    for (int k = 0; k < n; k++)
        if (opts[k] == gold) lx_re_letter(k, letter);
    return lx_strdup(letter, err);
}

static lexie_status build_messages(lx_re_clf *c, const lx_re_input *in, int perm, int gold,
                                   int *opts, int *n_opts, messages *m, lexie_error *err) {
    const lx_re_schema *s = c->s;
    int cap = 2 * c->n_demos + 2;
    memset(m, 0, sizeof *m);
    m->msgs = lx_calloc((size_t)cap, sizeof *m->msgs, err);
    m->owned = lx_calloc((size_t)cap, sizeof *m->owned, err);
    int *dopts = lx_calloc((size_t)s->n_rels + 2, sizeof *dopts, err);
    lexie_status st = (m->msgs && m->owned && dopts) ? LEXIE_OK : LEXIE_E_NOMEM;
    for (int d = 0; d < c->n_demos && st == LEXIE_OK; d++) {
        int dg = c->demo_labels[d];
        int nd = options_for(c, &c->demos[d], 0, dg, dopts);
        st = lx_re_render_turn(s, c->p.method, &c->demos[d], dopts, nd, c->p.mark, &m->owned[m->n],
                               err);
        if (st != LEXIE_OK) {
            lx_fail_prefix(err, "demo %d: ", d);
            break;
        }
        m->msgs[m->n] = (lexie_chat_msg){"user", m->owned[m->n]};
        m->n++;
        if (!(m->owned[m->n] = answer_text(c, dg, dopts, nd, err))) st = LEXIE_E_NOMEM;
        m->msgs[m->n] = (lexie_chat_msg){"assistant", m->owned[m->n]};
        m->n++;
    }
    if (st == LEXIE_OK) {
        *n_opts = options_for(c, in, perm, gold, opts);
        st = lx_re_render_turn(s, c->p.method, in, opts, *n_opts, c->p.mark, &m->owned[m->n], err);
        if (st == LEXIE_OK) m->msgs[m->n] = (lexie_chat_msg){"user", m->owned[m->n]};
        m->n++;
    }
    if (st == LEXIE_OK && gold >= 0) {
        if (!(m->owned[m->n] = answer_text(c, gold, opts, *n_opts, err))) st = LEXIE_E_NOMEM;
        m->msgs[m->n] = (lexie_chat_msg){"assistant", m->owned[m->n]};
        m->n++;
    }
    free(dopts);
    if (st != LEXIE_OK) free_messages(m);
    return st;
}

/* Renders the chat prompt for in under permutation perm; fills opts.
** *user (malloc'd; user and n_user may be NULL) gets the ranges of *text
** that are message text: the sentence, entities, labels, answers. */
static lexie_status build_prompt(lx_re_clf *c, const lx_re_input *in, int perm, int *opts,
                                 int *n_opts, char **text, lexie_span **user, int *n_user,
                                 lexie_error *err) {
    messages m;
    lexie_status st = build_messages(c, in, perm, -1, opts, n_opts, &m, err);
    if (st == LEXIE_OK) st = c->b.chat(c->b.user, m.msgs, m.n, 1, text, user, n_user, err);
    free_messages(&m);
    return st;
}

lexie_status lx_re_clf_prompt(lx_re_clf *c, const lx_re_input *in, int perm, char **out,
                              lexie_error *err) {
    int *opts = lx_calloc((size_t)c->s->n_rels + 2, sizeof *opts, err), n;
    if (!opts) return LEXIE_E_NOMEM;
    lexie_status st = build_prompt(c, in, perm, opts, &n, out, NULL, NULL, err);
    free(opts);
    return st;
}

lexie_status lx_re_clf_sft_line(lx_re_clf *c, const lx_re_input *in, int gold, char **out,
                                lexie_error *err) {
    *out = NULL;
    if (gold < 0 || gold > c->s->n_rels)
        return lx_fail(err, LEXIE_E_INVALID, "label %d is outside the schema's %d labels", gold,
                       c->s->n_rels + 1);
    int *opts = lx_calloc((size_t)c->s->n_rels + 2, sizeof *opts, err), n;
    if (!opts) return LEXIE_E_NOMEM;
    messages m;
    lexie_status st = build_messages(c, in, 0, gold, opts, &n, &m, err);
    free(opts);
    if (st != LEXIE_OK) return st;
    *out = lx_chat_sft_line(m.msgs, m.n, err);
    free_messages(&m);
    return *out ? LEXIE_OK : LEXIE_E_NOMEM;
}

/* ==== Deciding and parsing ==== */

static int is_alpha(char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'); }

static int ieq_prefix(const char *s, const char *pre) {
    for (; *pre; s++, pre++) {
        char a = *s, b = *pre;
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) return 0;
    }
    return 1;
}

int lx_re_parse_answer(const lx_re_schema *s, lx_re_method m, const int *opts, int n_opts,
                       const char *answer) {
    const char *a = answer;
    /* Skip blanks, quotes, emphasis and a list bullet ("- Label"). */
    while (*a == ' ' || *a == '\n' || *a == '\t' || *a == '*' || *a == '"' ||
           (*a == '-' && a[1] == ' '))
        a++;
    if (m != LX_RE_QA4RE) {
        /* The longest label at the earliest position (case-insensitive):
        ** small models often wrap it ("The relationship is X"). */
        for (const char *p = a; *p; p++) {
            int best = -1;
            size_t best_len = 0;
            for (int i = 0; i <= s->n_rels; i++) {
                const char *l = lx_re_schema_label(s, i);
                size_t ll = strlen(l);
                if (ll > best_len && ieq_prefix(p, l) && (p == a || !is_alpha(p[-1]))) {
                    best = i;
                    best_len = ll;
                }
            }
            if (best >= 0) return best;
        }
        return -1;
    }
    /* "Option: B", "Answer: (B)", "B.", "B) ...": skip a lead-in word. */
    if (ieq_prefix(a, "option"))
        a += 6;
    else if (ieq_prefix(a, "answer"))
        a += 6;
    while (*a == ' ' || *a == ':' || *a == '(' || *a == '[') a++;
    size_t nl = 0;
    while (a[nl] >= 'A' && a[nl] <= 'Z') nl++;
    if (nl > 0 && nl < 8 && !is_alpha(a[nl])) {
        for (int i = 0; i < n_opts; i++) {
            char l[8];
            lx_re_letter(i, l);
            if (strlen(l) == nl && strncmp(a, l, nl) == 0) return opts[i];
        }
    }
    return -1;
}

/* ==== Running ==== */

typedef struct {
    int ex;    /* example index */
    int *opts; /* [n_opts] label indices */
    int n_opts;
    lexie_token *tok;
    int n_tok;
} job;

static lexie_status score_job(lx_re_clf *c, job *j, float *p, lexie_error *err) {
    const answer_toks *at = c->p.method == LX_RE_QA4RE ? c->letters : c->labels;
    int n = c->p.method == LX_RE_QA4RE ? j->n_opts : c->s->n_rels + 1;
    size_t total = 0;
    for (int k = 0; k < n; k++) total += (size_t)at[k].n;
    const lexie_token **conts = lx_calloc((size_t)n, sizeof *conts, err);
    int *nc = lx_calloc((size_t)n, sizeof *nc, err);
    float **lp = lx_calloc((size_t)n, sizeof *lp, err);
    float *buf = lx_calloc(total, sizeof *buf, err);
    lexie_status st = conts && nc && lp && buf ? LEXIE_OK : LEXIE_E_NOMEM;
    if (st == LEXIE_OK) {
        for (int k = 0, off = 0; k < n; k++) {
            conts[k] = at[k].tok;
            nc[k] = at[k].n;
            lp[k] = buf + off;
            off += at[k].n;
        }
        st = c->b.score(c->b.user, j->tok, j->n_tok, conts, nc, n, lp, err);
    }
    if (st == LEXIE_OK) lx_constrained_probs(conts, nc, n, (const float *const *)lp, p);
    free(conts);
    free(nc);
    free(lp);
    free(buf);
    return st;
}

/* Runs jobs [0, n): fills probs[j * stride + k] over each job's options
** (QA4RE) or the labels (vanilla). */
static lexie_status run_jobs(lx_re_clf *c, job *jobs, int n, float *probs, int stride,
                             lexie_error *err) {
    int single = c->p.method == LX_RE_QA4RE && lx_re_clf_single_token_letters(c);
    if (!single) {
        for (int j = 0; j < n; j++) {
            lexie_status st = score_job(c, &jobs[j], probs + (size_t)j * stride, err);
            if (st != LEXIE_OK) return st;
        }
        return LEXIE_OK;
    }
    /* Candidates: the letter tokens of the widest job; a job with fewer
    ** options renormalises over its own. */
    int w = 0;
    for (int j = 0; j < n; j++) w = LX_MAX(w, jobs[j].n_opts);
    lexie_token *cand = lx_malloc((size_t)w * sizeof *cand, err);
    float *tmp = lx_malloc((size_t)n * w * sizeof *tmp, err);
    lexie_status st = cand && tmp ? LEXIE_OK : LEXIE_E_NOMEM;
    for (int k = 0; k < w && st == LEXIE_OK; k++) cand[k] = c->letters[k].tok[0];
    if (st == LEXIE_OK && c->b.next_probs_batch && n > 1) {
        const lexie_token **pr = lx_calloc((size_t)n, sizeof *pr, err);
        int *np = lx_calloc((size_t)n, sizeof *np, err);
        if (!pr || !np) st = LEXIE_E_NOMEM;
        for (int j = 0; j < n && st == LEXIE_OK; j++) {
            pr[j] = jobs[j].tok;
            np[j] = jobs[j].n_tok;
        }
        if (st == LEXIE_OK) st = c->b.next_probs_batch(c->b.user, pr, np, n, cand, w, tmp, err);
        free(pr);
        free(np);
    } else {
        for (int j = 0; j < n && st == LEXIE_OK; j++)
            st = c->b.next_probs(c->b.user, jobs[j].tok, jobs[j].n_tok, cand, w,
                                 tmp + (size_t)j * w, err);
    }
    for (int j = 0; j < n && st == LEXIE_OK; j++) {
        double sum = 0;
        for (int k = 0; k < jobs[j].n_opts; k++) sum += tmp[(size_t)j * w + k];
        for (int k = 0; k < jobs[j].n_opts; k++)
            probs[(size_t)j * stride + k] = sum > 0 ? (float)(tmp[(size_t)j * w + k] / sum) : 0.0f;
    }
    free(cand);
    free(tmp);
    return st;
}

static lexie_status run_free(lx_re_clf *c, job *j, lx_re_result *r, lexie_error *err) {
    lexie_status st =
        c->b.generate(c->b.user, j->tok, j->n_tok, c->p.max_gen_tokens, &r->answer, err);
    if (st != LEXIE_OK) return st;
    int *opts = j->opts, n = j->n_opts;
    int lab = lx_re_parse_answer(c->s, c->p.method, opts, n, r->answer);
    if (lab < 0) {
        r->invalid = 1;
        lab = c->s->n_rels;
    }
    r->probs[lab] = 1.0f;
    r->label = lab;
    return LEXIE_OK;
}

/* Classifies examples [0, n) together: builds every (example, order) job,
** runs them, averages. */
static lexie_status run_chunk(lx_re_clf *c, const lx_re_input *in, int n, lx_re_result *out,
                              lexie_error *err) {
    const lx_re_schema *s = c->s;
    int P = c->p.method == LX_RE_QA4RE && !c->p.free_gen ? c->p.n_permute : 1;
    int stride = s->n_rels + 1;
    job *jobs = lx_calloc((size_t)n * P, sizeof *jobs, err);
    float *probs = lx_calloc((size_t)n * P * stride, sizeof *probs, err);
    lexie_status st = jobs && probs ? LEXIE_OK : LEXIE_E_NOMEM;
    int nj = 0;
    for (int i = 0; i < n && st == LEXIE_OK; i++) {
        lx_re_result *r = &out[i];
        memset(r, 0, sizeof *r);
        r->probs = lx_calloc((size_t)stride, sizeof *r->probs, err);
        if (!r->probs) {
            st = LEXIE_E_NOMEM;
            break;
        }
        for (int q = 0; q < P && st == LEXIE_OK; q++) {
            job *j = &jobs[nj];
            j->ex = i;
            j->opts = lx_calloc((size_t)stride + 1, sizeof *j->opts, err);
            if (!j->opts) {
                st = LEXIE_E_NOMEM;
                break;
            }
            char *text = NULL;
            lexie_span *user = NULL;
            int n_user = 0;
            st = build_prompt(c, &in[i], q, j->opts, &j->n_opts, &text, &user, &n_user, err);
            if (st == LEXIE_OK && c->p.method == LX_RE_QA4RE && j->n_opts == 1 && !c->p.free_gen) {
                /* Only none-of-the-above fits these types: no question to ask. */
                free(text);
                free(user);
                free(j->opts);
                j->opts = NULL;
                r->probs[s->n_rels] = 1.0f;
                break;
            }
            if (st == LEXIE_OK)
                st = c->b.tokenize(c->b.user, text, user, n_user, &j->tok, &j->n_tok, err);
            free(text);
            free(user);
            nj++;
            if (st != LEXIE_OK) lx_fail_prefix(err, "example %d: ", i);
        }
    }
    if (st == LEXIE_OK && !c->p.free_gen) {
        int w = 0;
        for (int j = 0; j < nj; j++) w = LX_MAX(w, jobs[j].n_opts);
        st = c->p.method == LX_RE_QA4RE ? need_letters(c, w, err) : need_labels(c, err);
        if (st == LEXIE_OK) st = run_jobs(c, jobs, nj, probs, stride, err);
        for (int j = 0; j < nj && st == LEXIE_OK; j++) {
            lx_re_result *r = &out[jobs[j].ex];
            const float *pj = probs + (size_t)j * stride;
            if (c->p.method == LX_RE_QA4RE)
                for (int k = 0; k < jobs[j].n_opts; k++)
                    r->probs[jobs[j].opts[k]] += pj[k] / (float)P;
            else
                for (int k = 0; k < stride; k++) r->probs[k] += pj[k];
        }
        for (int i = 0; i < n && st == LEXIE_OK; i++)
            out[i].label = lx_re_decide(s, out[i].probs, c->p.none_threshold);
    } else if (st == LEXIE_OK) {
        for (int j = 0; j < nj && st == LEXIE_OK; j++)
            st = run_free(c, &jobs[j], &out[jobs[j].ex], err);
    }
    for (int j = 0; j < nj; j++) {
        free(jobs[j].opts);
        free(jobs[j].tok);
    }
    free(jobs);
    free(probs);
    return st;
}

lexie_status lx_re_clf_run(lx_re_clf *c, const lx_re_input *in, int n, lx_re_result *out,
                           lexie_error *err) {
    for (int i0 = 0; i0 < n; i0 += c->p.batch) {
        int m = LX_MIN(c->p.batch, n - i0);
        lexie_status st = run_chunk(c, in + i0, m, out + i0, err);
        if (st != LEXIE_OK) return st;
    }
    return LEXIE_OK;
}
