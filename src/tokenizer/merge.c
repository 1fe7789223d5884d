/*
** merge.c -- the merge loop both tokenizing algorithms share: a word (BPE)
** or fragment (SentencePiece) starts as a list of symbols, and adjacent
** pairs are merged best first until no candidate is left.
**
** Candidates wait in a binary heap ordered by key (higher first), then by
** the left symbol's index (leftmost first on ties).  A merge changes the
** two symbols' lengths, so entries queued before it are detected as stale
** when they surface and dropped; each merge queues at most two new pairs,
** so a list of n symbols costs O(n log n).  What a pair is worth is the
** caller's business (lx_merge_try): BPE's key is minus the merge rank,
** SentencePiece's the merged token's score.
**
** A leaf: calls nothing else in the tokenizer.
*/
#include "tokenizer/tok_impl.h"

static int before(const lx_merge *a, const lx_merge *b) {
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

void lx_merge_push(lx_merge_heap *h, lx_merge m) {
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(&m, &h->v[up])) break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = m;
}

static lx_merge pop(lx_merge_heap *h) {
    lx_merge top = h->v[0], last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (n) h->v[i] = last;
    return top;
}

lexie_status lx_merge_all(lx_merge_heap *h, lx_sym *syms, int32_t n_syms, lx_merge_try try_pair,
                          void *ctx) {
    /* At most one live candidate per adjacent pair plus stale ones: each
    ** merge pushes at most two, so 3 * n_syms entries always suffice. */
    if (lx_grow((void **)&h->v, &h->cap, (size_t)n_syms * 3, sizeof *h->v, NULL))
        return LEXIE_E_NOMEM;
    h->n = 0;
    for (int32_t i = 0; i + 1 < n_syms; i++) try_pair(ctx, i, i + 1);
    while (h->n) {
        lx_merge p = pop(h);
        lx_sym *a = &syms[p.left], *b = &syms[p.right];
        if (a->n != p.ln || b->n != p.rn || a->next != p.right) continue; /* stale */
        a->n += b->n;
        b->n = 0;
        a->next = b->next;
        if (b->next >= 0) syms[b->next].prev = p.left;
        if (a->prev >= 0) try_pair(ctx, a->prev, p.left);
        if (a->next >= 0) try_pair(ctx, p.left, a->next);
    }
    return LEXIE_OK;
}
