/*
** textsim.c -- how close a generated answer is to a gold one: exact match,
** token F1 (SQuAD's bag-of-tokens overlap) and ROUGE-L (the F-measure of
** the longest common subsequence, beta 1), for ADELIE's pair builder and
** for scoring generated text.
**
** Tokens: ASCII letters lower-cased, split at whitespace and ASCII
** punctuation, which is dropped; bytes >= 0x80 belong to words, so UTF-8
** text stays whole.  Two empty answers are identical (score 1).
*/
#include "base/base.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s; /* start in the lower-cased copy */
    size_t n;
} tok;

/* Lower-cases text into a copy and lists its tokens (n malloc'd). */
static tok *tokens(const char *text, char **copy, int *n) {
    size_t len = strlen(text);
    char *c = malloc(len + 1);
    tok *t = malloc(sizeof *t * (len / 2 + 1));
    if (!c || !t) {
        free(c);
        free(t);
        return NULL;
    }
    int k = 0;
    for (size_t i = 0; i <= len; i++) c[i] = (char)tolower((unsigned char)text[i]);
    for (size_t i = 0; i < len;) {
        unsigned char ch = (unsigned char)c[i];
        if (ch < 0x80 && (isspace(ch) || ispunct(ch) || iscntrl(ch))) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len) {
            unsigned char d = (unsigned char)c[j];
            if (d < 0x80 && (isspace(d) || ispunct(d) || iscntrl(d))) break;
            j++;
        }
        t[k++] = (tok){c + i, j - i};
        i = j;
    }
    *copy = c;
    *n = k;
    return t;
}

static int same(const tok *a, const tok *b) { return a->n == b->n && !memcmp(a->s, b->s, a->n); }

static int cmp_tok(const void *x, const void *y) {
    const tok *a = x, *b = y;
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->s, b->s, n);
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

/* Tokens the two bags share (multiset intersection), by sorting both. */
static long overlap(tok *a, int na, tok *b, int nb) {
    qsort(a, (size_t)na, sizeof *a, cmp_tok);
    qsort(b, (size_t)nb, sizeof *b, cmp_tok);
    long k = 0;
    for (int i = 0, j = 0; i < na && j < nb;) {
        int c = cmp_tok(&a[i], &b[j]);
        if (c == 0) {
            k++;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    return k;
}

/* Length of the longest common subsequence, two rows of DP; -1 on NOMEM. */
static long lcs(const tok *a, int na, const tok *b, int nb) {
    long *prev = calloc((size_t)nb + 1, sizeof *prev), *cur = calloc((size_t)nb + 1, sizeof *cur);
    long r = -1;
    if (prev && cur) {
        for (int i = 1; i <= na; i++) {
            for (int j = 1; j <= nb; j++)
                cur[j] = same(&a[i - 1], &b[j - 1]) ? prev[j - 1] + 1
                                                    : (prev[j] > cur[j - 1] ? prev[j] : cur[j - 1]);
            long *tmp = prev;
            prev = cur;
            cur = tmp;
        }
        r = prev[nb];
    }
    free(prev);
    free(cur);
    return r;
}

static double fmeasure(long common, int np, int ng) {
    if (common <= 0) return 0.0;
    double p = (double)common / np, r = (double)common / ng;
    return 2.0 * p * r / (p + r);
}

double lexie_text_similarity(lexie_text_metric metric, const char *pred, const char *gold) {
    if (!pred || !gold || (unsigned)metric > LEXIE_TEXT_ROUGE_L) return -1.0;
    char *cp = NULL, *cg = NULL;
    int np = 0, ng = 0;
    tok *tp = tokens(pred, &cp, &np), *tg = tp ? tokens(gold, &cg, &ng) : NULL;
    double r = -1.0;
    if (tp && tg) {
        if (np == 0 || ng == 0) {
            r = np == ng ? 1.0 : 0.0;
        } else if (metric == LEXIE_TEXT_EXACT) {
            r = np == ng;
            for (int i = 0; i < np && r > 0; i++) r = same(&tp[i], &tg[i]);
        } else if (metric == LEXIE_TEXT_ROUGE_L) {
            long l = lcs(tp, np, tg, ng);
            r = l < 0 ? -1.0 : fmeasure(l, np, ng);
        } else {
            r = fmeasure(overlap(tp, np, tg, ng), np, ng);
        }
    }
    free(tp);
    free(tg);
    free(cp);
    free(cg);
    return r;
}
