/*
** matcher.c -- one sequence's state in a grammar, and token masks.
**
** The state is a set of stacks (grammar.h): (pos, parent) where pos is a
** byte-set element and parent a hash-consed return frame, or the accept
** mark pos = -1.  Advancing by a byte keeps the stacks whose set holds it
** and expands each successor position until it again stands on a byte set
** (calls push a frame unless in tail position; END pops one).
**
** A mask walks the vocabulary's trie depth-first, advancing the parent's
** stack set by each node's byte; an empty set skips the node's subtree.
** Every buffer is allocated when the matcher is made: per-depth stack
** sets, the frame table, and a cache of masks keyed by the committed
** stack set (frames are hash-consed, so equal states have equal keys and
** the cache hits whenever the grammar returns to a state, such as every
** character inside a plain string, or the same place in the next
** document).  The cache is set-associative and sized in bytes, so a small
** vocabulary keeps more masks than a large one.
**
** Blocks instead of walks: inside strings most tokens are plain or text
** (vocab.c) and most states take every such token, or exactly those up to
** some length.  Rules the front ends mark (lx_gram_mark_any: string
** bodies, a regex's unanchored ends, extra-key tries, length chains) tell
** that from the state's stacks alone; then the block is copied and only
** the trie of the other tokens is walked.  A trailing any-character loop
** of a regex also drops the stacks of partial matches it subsumes, so the
** state stops changing with every character.
**
** Safety valves, all of which can only shrink what is accepted, never grow
** it: a cap on stacks per set, a cap on expansion work per byte, and a
** full frame table; each drops the stacks it cannot hold.
*/
#include "grammar/grammar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STACKS 256        /* stacks per set */
#define EXPAND_BUDGET 20000   /* expansion steps per advanced byte */
#define FRAME_BITS 17         /* frame table: 2^17 frames */
#define CACHE_BYTES (4 << 20) /* mask cache: about this much mask memory */
#define CACHE_WAYS 4          /* entries per set: a state may sit in any */
#define CACHE_KEY 32          /* states with more stacks are not cached */
#define DS_CAP 4096           /* interned stack sets (lazy DFA states) */
#define DS_POOL (DS_CAP * 8)  /* their stacks */

typedef struct stk {
    int32_t pos, parent;
} stk;

typedef struct frame {
    int32_t ret, parent;
} frame;

typedef struct centry {
    uint64_t hash;
    int n; /* stacks in key; -1 empty */
    stk key[CACHE_KEY];
    int count;
    uint32_t *bits;
} centry;

struct lexie_matcher {
    const lx_gram *g;
    const lx_gvocab *v;
    int n_words;
    /* committed state */
    stk *cur;
    int n_cur;
    int terminated;
    /* frames: hash-consed (ret, parent) */
    frame *fr;
    int32_t *fr_hash; /* id + 1, 0 empty */
    int n_fr, cap_fr;
    /* per-depth stack sets for walks and commits: level d at lv + d * MAX_STACKS */
    stk *lv;
    int *lv_n;
    int n_levels;
    /* dedup of one output set: generation-stamped table */
    uint64_t *dd_key;
    uint32_t *dd_gen;
    uint32_t gen;
    int budget; /* expansion steps left for this byte */
    /* mask cache: set h % n_sets is entries [set * CACHE_WAYS, + CACHE_WAYS),
    ** refilled round-robin (victim[set]) */
    centry *cache;
    uint32_t *cache_bits; /* [n_sets * CACHE_WAYS * n_words] */
    uint8_t *victim;      /* [n_sets] */
    int n_sets;
    /* lazy DFA over stack sets: interned sets and their byte transitions
    ** (trans[id * 256 + b]: 0 unknown, -1 dead, else target id + 1) */
    stk *ds_ent;       /* [DS_POOL] */
    int32_t *ds_off;   /* [DS_CAP] */
    int32_t *ds_cnt;   /* [DS_CAP] */
    int32_t *ds_close; /* [DS_CAP] close cost, -1 unknown */
    int8_t *ds_plain;  /* [DS_CAP] plain_all, -1 unknown */
    int16_t *ds_plen;  /* [DS_CAP] plain_len, -2 unknown */
    int32_t *pl_path;  /* [n_levels] scratch for plain_len */
    uint64_t *ds_key;  /* [DS_CAP] */
    int32_t *ds_tab;   /* [2 * DS_CAP] id + 1 */
    int32_t *trans;    /* [DS_CAP * 256] */
    int32_t *lvid;     /* [n_levels] */
    uint8_t *pf;       /* [n_levels] the state at that depth is plain-fixed */
    /* positions of counted repetitions far from both bounds map to one
    ** canonical position (no token reaches a bound from either), so their
    ** masks are computed and cached once; NULL when the grammar has none */
    int32_t *norm; /* [n_el] */
    stk *nk;       /* [MAX_STACKS] the normalised state */
    int n_ds, n_ent;
    int exact; /* tests: no pruning, masks by the plain trie walk (lx_matcher_set_exact) */
};

/* ==== Frames ==== */

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static void ds_clear(lexie_matcher *m) {
    if (!m->ds_tab) return;
    m->n_ds = m->n_ent = 0;
    memset(m->ds_tab, 0, 2 * DS_CAP * sizeof *m->ds_tab);
}

static void frames_clear(lexie_matcher *m) {
    m->n_fr = 0;
    memset(m->fr_hash, 0, (size_t)(2 * m->cap_fr) * sizeof *m->fr_hash);
    for (int i = 0; i < m->n_sets * CACHE_WAYS; i++) m->cache[i].n = -1;
    ds_clear(m);
}

/* The id of frame (ret, parent), made if new; -1 when the table is full. */
static int32_t intern(lexie_matcher *m, int32_t ret, int32_t parent) {
    uint64_t mask = (uint64_t)(2 * m->cap_fr - 1);
    uint64_t k = mix(((uint64_t)(uint32_t)ret << 32) | (uint32_t)parent) & mask;
    for (;;) {
        int32_t id = m->fr_hash[k];
        if (!id) break;
        if (m->fr[id - 1].ret == ret && m->fr[id - 1].parent == parent) return id - 1;
        k = (k + 1) & mask;
    }
    if (m->n_fr >= m->cap_fr) return -1;
    m->fr[m->n_fr] = (frame){ret, parent};
    m->fr_hash[k] = ++m->n_fr;
    return m->n_fr - 1;
}

/* ==== Advancing ==== */

typedef struct oset {
    stk *s;
    int n;
} oset;

static void add(lexie_matcher *m, oset *o, int32_t pos, int32_t parent) {
    uint64_t key = ((uint64_t)(uint32_t)pos << 32) | (uint32_t)parent;
    uint32_t k = (uint32_t)mix(key) & 1023u;
    while (m->dd_gen[k] == m->gen) {
        if (m->dd_key[k] == key) return;
        k = (k + 1) & 1023u;
    }
    if (o->n >= MAX_STACKS) return; /* dropped: can only shrink the language */
    m->dd_gen[k] = m->gen;
    m->dd_key[k] = key;
    o->s[o->n++] = (stk){pos, parent};
}

/* Expands position pos (with return chain parent) into o: stops at byte
** sets, pops at END, calls rules. */
static void expand(lexie_matcher *m, oset *o, int32_t pos, int32_t parent) {
    const lx_gram *g = m->g;
    for (;;) {
        if (--m->budget < 0) return;
        int32_t e = g->el[pos];
        int kind = LX_EL_KIND(e);
        if (kind == LX_EL_SET) {
            add(m, o, pos, parent);
            return;
        }
        if (kind == LX_EL_END) {
            if (parent < 0) {
                add(m, o, -1, -1);
                return;
            }
            pos = m->fr[parent].ret;
            parent = m->fr[parent].parent;
            continue;
        }
        int32_t r = LX_EL_ARG(e), ret = pos + 1, np = parent;
        if (LX_EL_KIND(g->el[ret]) != LX_EL_END) {
            np = intern(m, ret, parent);
            if (np < 0) return;
        }
        int32_t a = g->rule_first[r];
        if (a < 0) return;
        /* all alternatives but the last recurse; the last continues here */
        for (; g->alt_next[a] >= 0; a = g->alt_next[a]) expand(m, o, g->alt_start[a], np);
        pos = g->alt_start[a];
        parent = np;
    }
}

/* ==== Lazy expansion (finished grammars) ====
**
** Stacks stop at byte sets and at calls: a call of rule r is kept as the
** entry (canon[r], parent), its alternatives opened only when a byte
** arrives, and only those whose first set holds the byte.  So a state
** holds few entries (a string body is "inside the loop" or "at the
** closing quote"), and the same place in the grammar is always the same
** entry, which makes the mask cache hit. */

static void lexpand(lexie_matcher *m, oset *o, int32_t pos, int32_t parent) {
    const lx_gram *g = m->g;
    for (;;) {
        if (--m->budget < 0) return;
        int32_t e = g->el[pos];
        int kind = LX_EL_KIND(e);
        if (kind == LX_EL_SET) {
            add(m, o, pos, parent);
            return;
        }
        if (kind == LX_EL_END) {
            if (parent < 0) {
                add(m, o, -1, -1);
                return;
            }
            pos = m->fr[parent].ret;
            parent = m->fr[parent].parent;
            continue;
        }
        int32_t r = LX_EL_ARG(e), ret = pos + 1, np = parent;
        int tail = LX_EL_KIND(g->el[ret]) == LX_EL_END;
        const lx_bset *f = &g->first_rule[r];
        if (f->w[0] | f->w[1] | f->w[2] | f->w[3]) {
            if (!tail) np = intern(m, ret, parent);
            if (np >= 0 || tail) add(m, o, g->canon[r], np);
        }
        if (!g->nullable[r]) return;
        pos = ret; /* the empty derivation: go on after the call */
    }
}

/* Consumes byte b from position pos of an alternative (or a canonical
** call), adding the resulting stacks to o. */
static void consume(lexie_matcher *m, oset *o, int32_t pos, int32_t parent, unsigned b) {
    const lx_gram *g = m->g;
    for (;;) {
        if (--m->budget < 0) return;
        int32_t e = g->el[pos];
        int kind = LX_EL_KIND(e);
        if (kind == LX_EL_SET) {
            if (lx_bset_has(&g->sets[LX_EL_ARG(e)], b)) lexpand(m, o, pos + 1, parent);
            return;
        }
        if (kind == LX_EL_END)
            return; /* derived nothing here; the caller's nullable path covers it */
        int32_t r = LX_EL_ARG(e), ret = pos + 1;
        if (lx_bset_has(&g->first_rule[r], b)) {
            int32_t np = parent;
            if (LX_EL_KIND(g->el[ret]) != LX_EL_END) np = intern(m, ret, parent);
            if (np >= 0 || LX_EL_KIND(g->el[ret]) == LX_EL_END) {
                if (g->disp[r] >= 0) { /* many alternatives: only those b can start */
                    int32_t d = g->disp[r] + (int32_t)b;
                    for (int32_t k = g->disp_off[d]; k < g->disp_off[d + 1]; k++)
                        consume(m, o, g->alt_start[g->disp_alt[k]], np, b);
                } else {
                    for (int32_t a = g->rule_first[r]; a >= 0; a = g->alt_next[a])
                        if (lx_bset_has(&g->first_alt[a], b)) consume(m, o, g->alt_start[a], np, b);
                }
            }
        }
        if (!g->nullable[r]) return;
        pos = ret;
    }
}

static void begin_set(lexie_matcher *m, oset *o) {
    o->n = 0;
    m->gen++;
    if (m->gen == 0) {
        memset(m->dd_gen, 0, 1024 * sizeof *m->dd_gen);
        m->gen = 1;
    }
    m->budget = EXPAND_BUDGET;
}

/* 1 when element e is the byte set holding '"' alone. */
static int quote_el(const lx_gram *g, int32_t e) {
    if (LX_EL_KIND(e) != LX_EL_SET) return 0;
    const lx_bset *b = &g->sets[LX_EL_ARG(e)];
    return b->w[0] == 1ull << '"' && !b->w[1] && !b->w[2] && !b->w[3];
}

/* 1 when s stands at a trailing any-character loop of a regex called
** between two quotes (grammar.h): it then takes any whole characters
** and returns to s.parent. */
static int any_tail(const lexie_matcher *m, stk s) {
    const lx_gram *g = m->g;
    if (s.pos < 0 || g->any_pos[s.pos] <= 0 || s.parent < 0) return 0;
    int32_t ret = m->fr[s.parent].ret;
    return ret >= 2 && g->el[ret - 1] == lx_gram_call(g->any_pos[s.pos] - 1) &&
           quote_el(g, g->el[ret]) && quote_el(g, g->el[ret - 2]);
}

/* Drops stacks made redundant by a trailing any-character loop u: every
** other stack inside the same call of the regex (its return chain holds
** u.parent) stands at a character boundary too (JSON string characters
** are a prefix code, read from the same opening quote) and can only take
** whole characters before it returns there, which u takes as well.  Of
** several such loops the one at the lowest position stays.  The language
** of the set is unchanged; it just stops growing with partial matches. */
static void prune_any(lexie_matcher *m, oset *o) {
    for (int i = 0; i < o->n; i++) {
        if (!any_tail(m, o->s[i])) continue;
        int32_t f = o->s[i].parent;
        int keep = i;
        for (int j = 0; j < o->n; j++)
            if (o->s[j].parent == f && o->s[j].pos < o->s[keep].pos && any_tail(m, o->s[j]))
                keep = j;
        stk u = o->s[keep];
        int w = 0;
        for (int j = 0; j < o->n; j++) {
            stk x = o->s[j];
            int inside = 0;
            if (x.pos != u.pos || x.parent != u.parent) /* frames' parents have lower ids */
                for (int32_t c = x.parent; c >= f && !inside; c = m->fr[c].parent) inside = c == f;
            if (!inside) o->s[w++] = x;
        }
        o->n = w;
        return;
    }
}

/* o = the stacks of in[0..n) advanced by byte b. */
static void advance(lexie_matcher *m, const stk *in, int n, unsigned b, oset *o) {
    const lx_gram *g = m->g;
    begin_set(m, o);
    for (int i = 0; i < n; i++) {
        int32_t pos = in[i].pos;
        if (pos < 0) continue;
        int32_t e = g->el[pos];
        if (LX_EL_KIND(e) == LX_EL_SET) {
            if (!lx_bset_has(&g->sets[LX_EL_ARG(e)], b)) continue;
            if (g->finished)
                lexpand(m, o, pos + 1, in[i].parent);
            else
                expand(m, o, pos + 1, in[i].parent);
        } else {
            consume(m, o, pos, in[i].parent, b);
        }
    }
    if (g->any_pos && o->n > 1 && !m->exact) prune_any(m, o);
}

static int has_accept(const stk *s, int n) {
    for (int i = 0; i < n; i++)
        if (s[i].pos < 0) return 1;
    return 0;
}

/* Fewest bytes that close stack set s[0..n), or INT32_MAX. */
static int32_t close_cost(const lexie_matcher *m, const stk *s, int n) {
    int64_t best = INT32_MAX;
    for (int i = 0; i < n && best > 0; i++) {
        if (s[i].pos < 0) return 0;
        int64_t c = m->g->min_close[s[i].pos];
        for (int32_t f = s[i].parent; f >= 0 && c < best; f = m->fr[f].parent)
            c += m->g->min_close[m->fr[f].ret];
        if (c < best) best = c;
    }
    return (int32_t)best;
}

static int cmp_stk(const void *a, const void *b) {
    const stk *x = a, *y = b;
    if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
    return x->parent < y->parent ? -1 : x->parent > y->parent;
}

/* Advances the committed state through s[0..n); 1 when some stack
** survives (then it becomes the state), else 0 and nothing changes. */
static int commit_bytes(lexie_matcher *m, const char *s, size_t n) {
    if (m->terminated) return 0;
    if (n == 0) return 1;
    const stk *in = m->cur;
    int n_in = m->n_cur;
    oset o = {0};
    for (size_t i = 0; i < n; i++) {
        o.s = m->lv + (i & 1) * MAX_STACKS; /* ping-pong between levels 0 and 1 */
        advance(m, in, n_in, (unsigned char)s[i], &o);
        if (o.n == 0) return 0;
        in = o.s;
        n_in = o.n;
    }
    memcpy(m->cur, in, (size_t)n_in * sizeof *in);
    m->n_cur = n_in;
    qsort(m->cur, (size_t)m->n_cur, sizeof *m->cur, cmp_stk);
    return 1;
}

/* ==== Masks ==== */

static void set_tok(const lx_gvocab *v, uint32_t *mask, int32_t t, int *count) {
    for (; t >= 0; t = v->tok_next[t]) {
        mask[t >> 5] |= 1u << (t & 31);
        (*count)++;
    }
}

/* The trie walk: every token whose bytes the state can take. */
static int walk(lexie_matcher *m, const lx_trie *v, const stk *ks, int nks, uint32_t *mask,
                int budget) {
    int count = 0;
    memcpy(m->lv, ks, (size_t)nks * sizeof *ks);
    m->lv_n[0] = nks;
    int32_t i = 0;
    while (i < v->n_nodes) {
        int d = v->depth[i];
        oset o = {m->lv + (size_t)d * MAX_STACKS, 0};
        advance(m, m->lv + (size_t)(d - 1) * MAX_STACKS, m->lv_n[d - 1], v->byte[i], &o);
        m->lv_n[d] = o.n;
        if (o.n == 0) {
            i = v->skip[i];
            continue;
        }
        if (v->tok[i] >= 0 && (budget < 0 || close_cost(m, o.s, o.n) <= budget - 1))
            set_tok(m->v, mask, v->tok[i], &count);
        i++;
    }
    return count;
}

/* ==== Lazy DFA walk ==== */

static void sort_small(stk *s, int n) {
    for (int i = 1; i < n; i++) {
        stk x = s[i];
        int j = i - 1;
        while (j >= 0 && cmp_stk(&s[j], &x) > 0) {
            s[j + 1] = s[j];
            j--;
        }
        s[j + 1] = x;
    }
}

static uint64_t state_hash(const stk *s, int n);

/* The id of the (sorted) stack set s[0..n), interned; -1 when full. */
static int32_t ds_intern(lexie_matcher *m, const stk *s, int n) {
    uint64_t h = state_hash(s, n);
    uint32_t k = (uint32_t)h & (2 * DS_CAP - 1);
    for (;;) {
        int32_t id = m->ds_tab[k];
        if (!id) break;
        id--;
        if (m->ds_key[id] == h && m->ds_cnt[id] == n &&
            !memcmp(m->ds_ent + m->ds_off[id], s, (size_t)n * sizeof *s))
            return id;
        k = (k + 1) & (2 * DS_CAP - 1);
    }
    if (m->n_ds >= DS_CAP || m->n_ent + n > DS_POOL) return -1;
    int32_t id = m->n_ds++;
    m->ds_key[id] = h;
    m->ds_off[id] = m->n_ent;
    m->ds_cnt[id] = n;
    m->ds_close[id] = -1;
    m->ds_plain[id] = -1;
    m->ds_plen[id] = -2;
    memcpy(m->ds_ent + m->n_ent, s, (size_t)n * sizeof *s);
    m->n_ent += n;
    memset(m->trans + (size_t)id * 256, 0, 256 * sizeof *m->trans);
    m->ds_tab[k] = id + 1;
    return id;
}

static int plain_all(lexie_matcher *m, int32_t p);

/* The trie walk through cached transitions; -1 when the set table fills
** (the caller clears it and walks without the cache). */
static int plain_byte(unsigned b) { return b >= 0x20 && b < 0x7F && b != '"' && b != '\\'; }

/* The trie walk through cached transitions; -1 when the set table fills
** (the caller clears it and walks without the cache).  In a state that
** every run of plain bytes leaves alive (plain_all), the tokens whose
** remaining bytes are plain are taken from the node's list at once, and
** only children that lead to some other byte are visited.  Bits may be set twice: callers
** count the mask afterwards. */
static int walk_dfa(lexie_matcher *m, const lx_trie *v, int32_t root, int root_taken,
                    uint32_t *mask, int budget) {
    m->lvid[0] = root;
    m->pf[0] = (uint8_t)(root_taken && budget < 0 && plain_all(m, root));
    stk *tmp = m->lv; /* scratch for computing one transition */
    int32_t i = 0;
    while (i < v->n_nodes) {
        int d = v->depth[i];
        int pfp = m->pf[d - 1], pb = plain_byte(v->byte[i]);
        if (pfp && pb && v->desc_plain[i]) { /* all taken by an ancestor's list */
            i = v->skip[i];
            continue;
        }
        int32_t p = m->lvid[d - 1];
        int32_t t = m->trans[(size_t)p * 256 + v->byte[i]];
        if (t == 0) {
            oset o = {tmp, 0};
            advance(m, m->ds_ent + m->ds_off[p], m->ds_cnt[p], v->byte[i], &o);
            if (o.n == 0) {
                t = -1;
            } else {
                sort_small(o.s, o.n);
                int32_t id = ds_intern(m, o.s, o.n);
                if (id < 0) return -1;
                t = id + 1;
            }
            m->trans[(size_t)p * 256 + v->byte[i]] = t;
        }
        if (t < 0) {
            i = v->skip[i];
            continue;
        }
        m->lvid[d] = t - 1;
        int pf = pfp && pb ? 1 : budget < 0 && plain_all(m, t - 1);
        m->pf[d] = (uint8_t)pf;
        if (pf) {
            if (!(pfp && pb)) /* else the parent's list held these already */
                for (int32_t k = v->sfx_off[i]; k < v->sfx_off[i + 1]; k++)
                    mask[v->sfx[k] >> 5] |= 1u << (v->sfx[k] & 31);
        } else if (v->tok[i] >= 0) {
            int ok = budget < 0;
            if (!ok) {
                int32_t id = t - 1;
                if (m->ds_close[id] < 0)
                    m->ds_close[id] = close_cost(m, m->ds_ent + m->ds_off[id], m->ds_cnt[id]);
                ok = m->ds_close[id] <= budget - 1;
            }
            int cnt = 0;
            if (ok) set_tok(m->v, mask, v->tok[i], &cnt);
        }
        i++;
    }
    return 0;
}

/* The DFA target of state p on byte b (-1 dead, -2 table full). */
static int32_t ds_step(lexie_matcher *m, int32_t p, unsigned b) {
    int32_t t = m->trans[(size_t)p * 256 + b];
    if (t == 0) {
        oset o = {m->lv, 0};
        advance(m, m->ds_ent + m->ds_off[p], m->ds_cnt[p], b, &o);
        if (o.n == 0) {
            t = -1;
        } else {
            sort_small(o.s, o.n);
            int32_t id = ds_intern(m, o.s, o.n);
            if (id < 0) return -2;
            t = id + 1;
        }
        m->trans[(size_t)p * 256 + b] = t;
    }
    return t < 0 ? -1 : t - 1;
}

/* 2 when p holds a stack at a text-closed rule (grammar.h), which every
** run of text characters keeps, 1 at a plain-closed one only, else 0
** (not too many stacks: the safety valves cannot drop it). */
static int has_any_loop(const lexie_matcher *m, int32_t p) {
    if (!m->g->any_pos || m->ds_cnt[p] > MAX_STACKS - 16) return 0;
    const stk *s = m->ds_ent + m->ds_off[p];
    int level = 0;
    for (int i = 0; i < m->ds_cnt[p] && level < 2; i++) {
        int32_t a = s[i].pos >= 0 ? m->g->any_pos[s[i].pos] : 0;
        if (a == -1) level = 1;
        if (a == -2 || a > 0) level = 2;
    }
    return level;
}

/* Nonzero when every run of plain bytes (printable ASCII but " and \)
** leaves state p alive: p holds a closed rule's stack, or each plain byte
** maps p to itself; 2 when every run of text tokens does too. */
static int plain_all(lexie_matcher *m, int32_t p) {
    if (m->ds_plain[p] < 0) {
        int ok = has_any_loop(m, p);
        if (!ok) {
            ok = 1;
            for (unsigned b = 0x20; b < 0x7F && ok; b++)
                if (b != '"' && b != '\\') ok = ds_step(m, p, b) == p;
        }
        m->ds_plain[p] = (int8_t)ok;
    }
    return m->ds_plain[p];
}

/* K when the text tokens state p keeps alive are exactly those of at
** most K characters: some stacks stand at text-chain links (grammar.h),
** K the longest, and every other stack dies on every text byte; else -1. */
static int text_len(const lexie_matcher *m, int32_t p) {
    const lx_gram *g = m->g;
    if (!g->any_pos) return -1;
    const stk *s = m->ds_ent + m->ds_off[p];
    int k = -1;
    for (int i = 0; i < m->ds_cnt[p]; i++) {
        int32_t pos = s[i].pos;
        if (pos < 0) continue; /* the accept mark takes nothing */
        if (g->any_pos[pos] <= -3) {
            k = LX_MAX(k, -3 - g->any_pos[pos]);
            continue;
        }
        int32_t e = g->el[pos];
        if (LX_EL_KIND(e) == LX_EL_END) return -1;
        const lx_bset *f =
            LX_EL_KIND(e) == LX_EL_SET ? &g->sets[LX_EL_ARG(e)] : &g->first_rule[LX_EL_ARG(e)];
        /* text starts with a plain byte or one from 0x80 */
        if (((f->w[0] & ~((1ull << '"') | 0xFFFFFFFFull)) ||
             (f->w[1] & ~((1ull << ('\\' - 64)) | (1ull << 63))) || f->w[2] || f->w[3]))
            return -1;
    }
    return k < 0 ? -1 : LX_MIN(k, m->v->max_text);
}

/* The one state every plain byte takes p to: its id, -1 when all kill
** it, -2 when they differ (or the table is full). */
static int32_t plain_next(lexie_matcher *m, int32_t p) {
    int32_t q = ds_step(m, p, 0x20);
    for (unsigned b = 0x21; b < 0x7F && q > -2; b++)
        if (b != '"' && b != '\\' && ds_step(m, p, b) != q) q = -2;
    return q;
}

/* How many plain bytes state p takes, whichever they are: k when every
** run of up to k plain bytes leaves it alive and every longer run kills
** it (capped at the longest plain token: then all are allowed), -1 when
** it depends on the bytes.  Length-bounded strings near a bound: the
** plain tokens allowed are then those of at most k bytes. */
static int plain_len(lexie_matcher *m, int32_t p) {
    int cap = m->v->max_plain, n = 0, k;
    int32_t q = p;
    for (;;) {
        if (m->ds_plen[q] != -2) { /* known: path[n - 1] takes one byte more */
            k = m->ds_plen[q];
            if (n == 0) return k;
            if (k >= 0) k = LX_MIN(k + 1, cap);
            break;
        }
        if (n > cap) { /* alive after cap bytes: known for p only */
            m->ds_plen[p] = (int16_t)cap;
            return cap;
        }
        m->pl_path[n++] = q;
        if (plain_all(m, q)) {
            k = cap;
            break;
        }
        int32_t nx = plain_next(m, q);
        if (nx == -1) {
            k = 0;
            break;
        }
        if (nx < 0) { /* bytes differ (or the table is full) */
            k = -1;
            break;
        }
        q = nx;
    }
    /* path[n - 1] takes k; each earlier state one byte more */
    for (int i = n - 1; i >= 0; i--) {
        m->ds_plen[m->pl_path[i]] = (int16_t)k;
        if (k >= 0) k = LX_MIN(k + 1, cap);
    }
    return m->ds_plen[p];
}

static uint64_t state_hash(const stk *s, int n) {
    uint64_t h = 0x12345678abcdefull ^ (uint64_t)n;
    for (int i = 0; i < n; i++)
        h = mix(h ^ (((uint64_t)(uint32_t)s[i].pos << 32) | (uint32_t)s[i].parent));
    return h;
}

static int normalise(lexie_matcher *m);

/* The mask of a normalised state is exact for short tokens; long ones are
** decided from the real state by walking the long-token trie. */
static int long_fixup(lexie_matcher *m, uint32_t *mask, int budget) {
    for (int w = 0; w < m->n_words; w++) mask[w] &= m->v->shortm[w];
    int32_t root = ds_intern(m, m->cur, m->n_cur);
    if (root < 0 || walk_dfa(m, &m->v->longt, root, 0, mask, budget) < 0) {
        ds_clear(m);
        memset(mask, 0, (size_t)m->n_words * sizeof *mask);
        walk(m, &m->v->full, m->cur, m->n_cur, mask, budget);
        for (int i = 0; i < m->v->n_eog && has_accept(m->cur, m->n_cur); i++)
            mask[m->v->eog[i] >> 5] |= 1u << (m->v->eog[i] & 31);
    }
    return (int)lx_bits_count(mask, (size_t)m->n_words);
}

/* The mask of state ks[0..nks) through the lazy DFA, blocks first (see
** the header); -1 when the set table fills. */
static int dfa_mask(lexie_matcher *m, const stk *ks, int nks, uint32_t *mask, int budget) {
    int count = -1;
    int32_t root = ds_intern(m, ks, nks);
    int k = -1;
    if (root >= 0 && budget < 0 && plain_all(m, root) == 2) {
        /* every text token leaves the state alive: allow them as a block */
        memcpy(mask, m->v->text, (size_t)m->n_words * sizeof *mask);
        count = walk_dfa(m, &m->v->rest_text, root, 1, mask, budget);
    } else if (root >= 0 && budget < 0 && plain_all(m, root)) {
        /* every plain token leaves the state alive: allow them as a block */
        memcpy(mask, m->v->plain, (size_t)m->n_words * sizeof *mask);
        count = walk_dfa(m, &m->v->rest, root, 1, mask, budget);
    } else if (root >= 0 && budget < 0 && (k = text_len(m, root)) >= 0) {
        /* exactly the text tokens of at most k characters */
        memcpy(mask, m->v->text_le + (size_t)k * (size_t)m->n_words,
               (size_t)m->n_words * sizeof *mask);
        count = walk_dfa(m, &m->v->rest_text, root, 0, mask, budget);
    } else if (root >= 0 && budget < 0 && (k = plain_len(m, root)) >= 0) {
        /* exactly the plain tokens of at most k bytes */
        memcpy(mask, m->v->plain_le + (size_t)k * (size_t)m->n_words,
               (size_t)m->n_words * sizeof *mask);
        count = walk_dfa(m, &m->v->rest, root, 0, mask, budget);
    } else if (root >= 0) {
        count = walk_dfa(m, &m->v->full, root, 0, mask, budget);
    }
    return count;
}

int lexie_matcher_fill_mask(lexie_matcher *m, uint32_t *mask, int budget) {
    memset(mask, 0, (size_t)m->n_words * sizeof *mask);
    if (m->terminated) {
        int c = 0;
        for (int i = 0; i < m->v->n_eog; i++) set_tok(m->v, mask, m->v->eog[i], &c);
        return c;
    }
    int accepting = has_accept(m->cur, m->n_cur);
    if (m->exact) {
        int c = walk(m, &m->v->full, m->cur, m->n_cur, mask, budget);
        for (int i = 0; i < m->v->n_eog && accepting; i++) set_tok(m->v, mask, m->v->eog[i], &c);
        return c;
    }
    const stk *ks = m->cur; /* the state the mask is computed from */
    int nks = m->n_cur;
    int normed = 0;
    if (m->norm && budget < 0) {
        int n = normalise(m);
        if (n >= 0 && (n != m->n_cur || memcmp(m->nk, m->cur, (size_t)n * sizeof *m->nk))) {
            ks = m->nk;
            nks = n;
            normed = 1;
        }
    }
    uint64_t h = 0;
    int cacheable = budget < 0 && nks <= CACHE_KEY, set = 0;
    if (cacheable) {
        h = state_hash(ks, nks);
        set = (int)(h % (uint64_t)m->n_sets);
        for (int k = 0; k < CACHE_WAYS; k++) {
            centry *c = &m->cache[set * CACHE_WAYS + k];
            if (c->n == nks && c->hash == h && !memcmp(c->key, ks, (size_t)nks * sizeof *ks)) {
                memcpy(mask, c->bits, (size_t)m->n_words * sizeof *mask);
                return normed ? long_fixup(m, mask, budget) : c->count;
            }
        }
    }
    int count = dfa_mask(m, ks, nks, mask, budget);
    if (count < 0) { /* the set table filled: start it afresh and try again */
        ds_clear(m);
        memset(mask, 0, (size_t)m->n_words * sizeof *mask);
        count = dfa_mask(m, ks, nks, mask, budget);
    }
    if (count < 0) { /* one mask fills it: walk directly */
        ds_clear(m);
        memset(mask, 0, (size_t)m->n_words * sizeof *mask);
        count = walk(m, &m->v->full, ks, nks, mask, budget);
    }
    for (int i = 0; i < m->v->n_eog && accepting; i++) {
        int32_t t = m->v->eog[i];
        mask[t >> 5] |= 1u << (t & 31);
    }
    count = (int)lx_bits_count(mask, (size_t)m->n_words);
    if (cacheable) {
        centry *c = &m->cache[set * CACHE_WAYS + m->victim[set]];
        m->victim[set] = (uint8_t)((m->victim[set] + 1) % CACHE_WAYS);
        c->hash = h;
        c->n = nks;
        memcpy(c->key, ks, (size_t)nks * sizeof *ks);
        memcpy(c->bits, mask, (size_t)m->n_words * sizeof *mask);
        c->count = count;
    }
    return normed ? long_fixup(m, mask, budget) : count;
}

/* ==== Public ==== */

void lexie_matcher_reset(lexie_matcher *m) {
    if (!m) return;
    if (m->n_fr > m->cap_fr / 2) frames_clear(m);
    m->terminated = 0;
    m->n_cur = 0;
    oset o = {m->cur, 0};
    begin_set(m, &o);
    lexpand(m, &o, m->g->canon[m->g->root], -1); /* the root, called from nowhere */
    m->n_cur = o.n;
    qsort(m->cur, (size_t)m->n_cur, sizeof *m->cur, cmp_stk);
}

static int build_norm(lexie_matcher *m) {
    const lx_gram *g = m->g;
    int32_t L = LX_SHORT + 1; /* rem >= L: no short token reaches the bound */
    m->norm = malloc((size_t)g->n_el * sizeof *m->norm);
    m->nk = malloc(MAX_STACKS * sizeof *m->nk);
    if (!m->norm || !m->nk) return -1;
    for (int32_t i = 0; i < g->n_el; i++) m->norm[i] = i;
    for (int c = 0; c < g->n_chains; c++) {
        int32_t pos = g->ch_pos[c], lo = g->ch_lo[c];
        for (int32_t i = 0; i < lo; i++)
            if (lo - i >= L) m->norm[pos + i] = pos + lo - L;
        int32_t of = g->ch_opt_first[c];
        for (int32_t k = L; of >= 0 && k <= g->ch_n_opt[c]; k++) {
            int32_t r = of + k - 1, rc = of + L - 1;
            m->norm[g->canon[r]] = g->canon[rc];
            m->norm[g->alt_start[g->rule_first[r]] + 1] = g->alt_start[g->rule_first[rc]] + 1;
        }
    }
    return 0;
}

/* The frame f with every return position normalised; -2 if the table is full. */
static int32_t norm_frame(lexie_matcher *m, int32_t f, int depth) {
    if (f < 0) return f;
    if (depth > 4096) return -2;
    int32_t p = norm_frame(m, m->fr[f].parent, depth + 1);
    if (p == -2) return -2;
    int32_t r = m->norm[m->fr[f].ret];
    if (r == m->fr[f].ret && p == m->fr[f].parent) return f;
    int32_t id = intern(m, r, p);
    return id < 0 ? -2 : id;
}

/* The committed state normalised into m->nk; its size, or -1 (use cur). */
static int normalise(lexie_matcher *m) {
    int n = 0;
    for (int i = 0; i < m->n_cur; i++) {
        stk x = m->cur[i];
        if (x.pos >= 0) {
            x.pos = m->norm[x.pos];
            x.parent = norm_frame(m, x.parent, 0);
            if (x.parent == -2) return -1;
        }
        m->nk[n++] = x;
    }
    sort_small(m->nk, n);
    int w = 0;
    for (int i = 0; i < n; i++)
        if (!w || cmp_stk(&m->nk[w - 1], &m->nk[i])) m->nk[w++] = m->nk[i];
    return w;
}

lexie_matcher *lexie_matcher_new(const lexie_grammar *gr, const lexie_grammar_vocab *vo,
                                 lexie_error *err) {
    if (!gr || !vo || !gr->g || !gr->g->finished)
        return lx_fail(err, LEXIE_E_INVALID, "matcher: no grammar or vocabulary"), NULL;
    lexie_matcher *m = lx_calloc(1, sizeof *m, err);
    if (!m) return NULL;
    m->g = gr->g;
    m->v = vo->v;
    m->n_words = (vo->v->n_tokens + 31) / 32;
    m->cap_fr = 1 << FRAME_BITS;
    m->n_levels = vo->v->max_len + 2;
    m->cur = malloc(MAX_STACKS * sizeof *m->cur);
    m->fr = malloc((size_t)m->cap_fr * sizeof *m->fr);
    m->fr_hash = malloc((size_t)(2 * m->cap_fr) * sizeof *m->fr_hash);
    m->lv = malloc((size_t)m->n_levels * MAX_STACKS * sizeof *m->lv);
    m->lv_n = calloc((size_t)m->n_levels, sizeof *m->lv_n);
    m->dd_key = malloc(1024 * sizeof *m->dd_key);
    m->dd_gen = calloc(1024, sizeof *m->dd_gen);
    m->ds_ent = malloc(DS_POOL * sizeof *m->ds_ent);
    m->ds_off = malloc(DS_CAP * sizeof *m->ds_off);
    m->ds_cnt = malloc(DS_CAP * sizeof *m->ds_cnt);
    m->ds_close = malloc(DS_CAP * sizeof *m->ds_close);
    m->ds_plain = malloc(DS_CAP * sizeof *m->ds_plain);
    m->ds_plen = malloc(DS_CAP * sizeof *m->ds_plen);
    m->pl_path = malloc(((size_t)vo->v->max_plain + 2) * sizeof *m->pl_path);
    m->ds_key = malloc(DS_CAP * sizeof *m->ds_key);
    m->ds_tab = calloc(2 * DS_CAP, sizeof *m->ds_tab);
    m->trans = malloc((size_t)DS_CAP * 256 * sizeof *m->trans);
    m->lvid = malloc((size_t)m->n_levels * sizeof *m->lvid);
    m->pf = malloc((size_t)m->n_levels * sizeof *m->pf);
    int ok = m->cur && m->fr && m->fr_hash && m->lv && m->lv_n && m->dd_key && m->dd_gen &&
             m->ds_ent && m->ds_off && m->ds_cnt && m->ds_close && m->ds_plain && m->ds_key &&
             m->ds_tab && m->trans && m->lvid && m->pf && m->ds_plen && m->pl_path;
    /* the mask cache: CACHE_BYTES of masks, at least one set */
    m->n_sets = LX_MAX(1, (int)(CACHE_BYTES / ((size_t)CACHE_WAYS * (size_t)m->n_words * 4)));
    size_t n_entries = (size_t)m->n_sets * CACHE_WAYS;
    m->cache = ok ? calloc(n_entries, sizeof *m->cache) : NULL;
    m->cache_bits = ok ? malloc(n_entries * (size_t)m->n_words * sizeof(uint32_t)) : NULL;
    m->victim = ok ? calloc((size_t)m->n_sets, 1) : NULL;
    ok = ok && m->cache && m->cache_bits && m->victim;
    for (size_t i = 0; i < n_entries && ok; i++)
        m->cache[i].bits = m->cache_bits + i * (size_t)m->n_words;
    if (!ok) {
        lexie_matcher_free(m);
        return lx_fail(err, LEXIE_E_NOMEM, "matcher: out of memory"), NULL;
    }
    if (m->g->n_chains && build_norm(m) != 0) {
        lexie_matcher_free(m);
        return lx_fail(err, LEXIE_E_NOMEM, "matcher: out of memory"), NULL;
    }
    frames_clear(m);
    lexie_matcher_reset(m);
    return m;
}

void lexie_matcher_free(lexie_matcher *m) {
    if (!m) return;
    free(m->cur);
    free(m->fr);
    free(m->fr_hash);
    free(m->lv);
    free(m->lv_n);
    free(m->dd_key);
    free(m->dd_gen);
    free(m->ds_ent);
    free(m->ds_off);
    free(m->ds_cnt);
    free(m->ds_close);
    free(m->ds_plain);
    free(m->ds_plen);
    free(m->pl_path);
    free(m->ds_key);
    free(m->ds_tab);
    free(m->trans);
    free(m->lvid);
    free(m->pf);
    free(m->norm);
    free(m->nk);
    free(m->cache);
    free(m->cache_bits);
    free(m->victim);
    free(m);
}

void lx_matcher_set_exact(lexie_matcher *m, int on) {
    if (m) m->exact = on;
}

int lexie_matcher_mask_words(const lexie_matcher *m) { return m ? m->n_words : 0; }

int lexie_matcher_accept_bytes(lexie_matcher *m, const char *s, size_t n) {
    if (!m || (!s && n)) return 0;
    return commit_bytes(m, s, n);
}

int lexie_matcher_accept_token(lexie_matcher *m, lexie_token t) {
    if (!m || t < 0 || t >= m->v->n_tokens) return 0;
    for (int i = 0; i < m->v->n_eog; i++) {
        if (m->v->eog[i] != t) continue;
        if (m->terminated) return 1;
        if (!has_accept(m->cur, m->n_cur)) return 0;
        m->terminated = 1;
        return 1;
    }
    if (!m->v->piece[t]) return 0;
    return commit_bytes(m, m->v->piece[t], (size_t)m->v->piece_len[t]);
}

int lexie_matcher_is_accepting(const lexie_matcher *m) {
    return m && (m->terminated || has_accept(m->cur, m->n_cur));
}

int lexie_matcher_is_terminated(const lexie_matcher *m) { return m && m->terminated; }

int lexie_matcher_close_bytes(const lexie_matcher *m) {
    if (!m) return -1;
    if (m->terminated) return 0;
    int32_t c = close_cost(m, m->cur, m->n_cur);
    return c >= INT32_MAX / 4 ? -1 : c;
}

/* ==== Checking strings at compile time ==== */

struct lx_checker {
    lexie_matcher m;
};

lx_checker *lx_checker_new(const lx_gram *g, lexie_error *err) {
    lx_checker *c = lx_calloc(1, sizeof *c, err);
    if (!c) return NULL;
    lexie_matcher *m = &c->m;
    m->g = g;
    m->cap_fr = 1 << 12;
    m->cur = malloc(MAX_STACKS * sizeof *m->cur);
    m->fr = malloc((size_t)m->cap_fr * sizeof *m->fr);
    m->fr_hash = calloc((size_t)(2 * m->cap_fr), sizeof *m->fr_hash);
    m->lv = malloc(2 * MAX_STACKS * sizeof *m->lv);
    m->dd_key = malloc(1024 * sizeof *m->dd_key);
    m->dd_gen = calloc(1024, sizeof *m->dd_gen);
    if (!m->cur || !m->fr || !m->fr_hash || !m->lv || !m->dd_key || !m->dd_gen) {
        lx_checker_free(c);
        return lx_fail(err, LEXIE_E_NOMEM, "grammar checker: out of memory"), NULL;
    }
    return c;
}

void lx_checker_free(lx_checker *c) {
    if (!c) return;
    free(c->m.cur);
    free(c->m.fr);
    free(c->m.fr_hash);
    free(c->m.lv);
    free(c->m.dd_key);
    free(c->m.dd_gen);
    free(c);
}

int lx_checker_accepts(lx_checker *c, int rule, const char *s, size_t n) {
    lexie_matcher *m = &c->m;
    if (m->n_fr) {
        memset(m->fr_hash, 0, (size_t)(2 * m->cap_fr) * sizeof *m->fr_hash);
        m->n_fr = 0;
    }
    m->terminated = 0;
    oset o = {m->cur, 0};
    begin_set(m, &o);
    for (int32_t a = m->g->rule_first[rule]; a >= 0; a = m->g->alt_next[a])
        expand(m, &o, m->g->alt_start[a], -1);
    m->n_cur = o.n;
    return commit_bytes(m, s, n) && has_accept(m->cur, m->n_cur);
}
