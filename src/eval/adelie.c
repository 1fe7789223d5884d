/*
** adelie.c -- ADELIE's held-out test sets scored as ADELIE scores them
** (github.com/THU-KEG/ADELIE, commit c9ba77b; on-demand IE through ODIE's
** scripts, github.com/yzjiao/On-Demand-IE evaluation/), so lexie's numbers
** sit beside the published ones:
**
**   SemEval   scripts/tasks/semeval/open_evaluate.py
**   Few-NERD  scripts/tasks/fewnerd/open_evaluate.py
**   on-demand evaluation/sim_for_header.py (headers; MiniLM replaced by
**             token-overlap F1, see ie_data.h) and rougel_for_content.py
**             (content ROUGE-Lsum, Google's rouge_score tokenizer)
**
** Python's string operations are mirrored one by one (strip, lower,
** split, replace); the quirks of the scripts are kept on purpose and named
** where they occur.
*/
#define PCRE2_CODE_UNIT_WIDTH 8

#include "ie_data.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* ==== Python string helpers ==== */

/* s.strip() into a new string (Unicode whitespace). */
static char *py_strip(const char *s, size_t n) {
    size_t b = 0, e = 0;
    int l, seen = 0;
    for (size_t i = 0; i < n; i += (size_t)l) {
        int sp = lx_py_space(s + i, &l);
        if (!sp) {
            if (!seen) b = i;
            seen = 1;
            e = i + (size_t)l;
        }
    }
    return strndup(s + (seen ? b : 0), seen ? e - b : 0);
}

/* s.strip().lower() (lowering keeps whitespace whitespace). */
static char *strip_lower(const char *s, size_t n) {
    char *t = py_strip(s, n);
    if (!t) return NULL;
    lx_jbuf b = {0};
    lx_py_lower(t, &b);
    free(t);
    if (b.oom) {
        lx_jbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The model's answer as both scripts take it: the text between the first
** and second "[Answer]:" when there is one (str.split(...)[1]), else the
** whole output; then stripped (unless !do_strip) and lower-cased. */
static char *answer_part(const char *out, int do_strip) {
    const char *a = strstr(out, "[Answer]:");
    const char *s = a ? a + 9 : out;
    const char *e = a ? strstr(s, "[Answer]:") : NULL;
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (do_strip) return strip_lower(s, n);
    char *t = strndup(s, n);
    lx_jbuf b = {0};
    if (t) lx_py_lower(t, &b);
    free(t);
    if (!t || b.oom) {
        lx_jbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* s.replace(from, to) for each pair in turn, into a new string. */
static char *py_replace_all(const char *s, const char *const (*pairs)[2], int n) {
    char *cur = strdup(s);
    for (int k = 0; cur && k < n; k++) {
        lx_jbuf b = {0};
        size_t fl = strlen(pairs[k][0]);
        for (const char *p = cur; *p;) {
            if (strncmp(p, pairs[k][0], fl) == 0) {
                lx_jbuf_puts(&b, pairs[k][1]);
                p += fl;
            } else {
                lx_jbuf_putc(&b, *p++);
            }
        }
        if (!b.data) lx_jbuf_add(&b, "", 0);
        free(cur);
        cur = b.oom ? NULL : b.data;
        if (b.oom) lx_jbuf_free(&b);
    }
    return cur;
}

/* ==== SemEval triples ==== */

/* The 18 relation names open_evaluate.py builds from its OPTIONS (both
** directions of the 9 relations, " and " between the roles). */
static const char *const semeval_rel[] = {
    "cause and effect",       "effect and cause",       "component and whole",
    "whole and component",    "content and container",  "container and content",
    "entity and destination", "destination and entity", "entity and origin",
    "origin and entity",      "instrument and agency",  "agency and instrument",
    "member and collection",  "collection and member",  "message and topic",
    "topic and message",      "product and producer",   "producer and product"};

typedef struct triples {
    char *(*t)[3];
    int n;
    size_t cap;
} triples;

static void triples_free(triples *ts) {
    for (int i = 0; i < ts->n; i++)
        for (int k = 0; k < 3; k++) free(ts->t[i][k]);
    free(ts->t);
    memset(ts, 0, sizeof *ts);
}

static int triple_eq(char *const a[3], const char *b0, const char *b1, const char *b2) {
    return strcmp(a[0], b0) == 0 && strcmp(a[1], b1) == 0 && strcmp(a[2], b2) == 0;
}

static int triples_has(const triples *ts, const char *a, const char *b, const char *c) {
    for (int i = 0; i < ts->n; i++)
        if (triple_eq(ts->t[i], a, b, c)) return 1;
    return 0;
}

/* re.findall(r"\((.*); (.*); (.*)\)", text) made a set: PCRE2 with '.'
** stopping at '\n' only, as Python's re without DOTALL; greedy groups
** backtrack alike. */
static lexie_status parse_triples(const char *text, triples *ts, lexie_error *err) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) return lx_fail(err, LEXIE_E_NOMEM, "out of memory");
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR) "\\((.*); (.*); (.*)\\)", PCRE2_ZERO_TERMINATED, 0,
                                   &ec, &eo, cc);
    pcre2_compile_context_free(cc);
    pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
    lexie_status rc = md ? LEXIE_OK : lx_fail(err, LEXIE_E_INTERNAL, "semeval: regex setup failed");
    size_t len = strlen(text), at = 0;
    while (rc == LEXIE_OK && at <= len) {
        int m = pcre2_match(re, (PCRE2_SPTR)text, len, at, 0, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 4) {
            rc = lx_fail(err, LEXIE_E_INTERNAL, "semeval: regex match failed (%d)", m);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        char *g[3];
        for (int k = 0; k < 3; k++)
            g[k] = strndup(text + ov[2 + 2 * k], ov[3 + 2 * k] - ov[2 + 2 * k]);
        at = ov[1] > at ? ov[1] : at + 1;
        if (!g[0] || !g[1] || !g[2] ||
            (!triples_has(ts, g[0], g[1], g[2]) &&
             lx_grow((void **)&ts->t, &ts->cap, (size_t)ts->n + 1, sizeof *ts->t, err) !=
                 LEXIE_OK)) {
            for (int k = 0; k < 3; k++) free(g[k]);
            rc = lx_fail(err, LEXIE_E_NOMEM, "out of memory");
        } else if (triples_has(ts, g[0], g[1], g[2])) {
            for (int k = 0; k < 3; k++) free(g[k]);
        } else {
            for (int k = 0; k < 3; k++) ts->t[ts->n][k] = g[k];
            ts->n++;
        }
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc;
}

/* The reversed triple (e2, "r2 and r1", e1) of a gold triple, where r1 and
** r2 are the first two pieces of the relation split at " and ".  0 when the
** relation has no " and " (the script would raise there). */
static int reversed_in(char *const g[3], const triples *pred) {
    const char *a = strstr(g[1], " and ");
    if (!a) return 0;
    const char *r2 = a + 5, *r2e = strstr(r2, " and ");
    size_t l1 = (size_t)(a - g[1]), l2 = r2e ? (size_t)(r2e - r2) : strlen(r2);
    char *rel = malloc(l1 + l2 + 6);
    if (!rel) return 0;
    memcpy(rel, r2, l2);
    memcpy(rel + l2, " and ", 5);
    memcpy(rel + l2 + 5, g[1], l1);
    rel[l1 + l2 + 5] = 0;
    int hit = triples_has(pred, g[2], rel, g[0]);
    free(rel);
    return hit;
}

/* open_evaluate.py's counts for one example:
**   tp    gold triples found in the answer's set, or found reversed;
**   pred  answer triples whose relation is one of the 18 names, counted
**         once for each of (head, tail) == gold's (head, tail) and ==
**         gold's (tail, head) -- answers about other entity pairs are not
**         counted at all -- or once each when the gold is empty (Other);
**   gold  the gold triples, but only when some answer triple was counted
**         or the answer holds no triple (a quirk kept: an answer with only
**         uncounted triples drops its gold from recall). */
lexie_status lx_adelie_semeval_score(const char *output, const char *gold, lx_prf *m,
                                     lexie_error *err) {
    char *gt = strip_lower(gold ? gold : "", strlen(gold ? gold : ""));
    char *pt = answer_part(output ? output : "", 1);
    triples g = {0}, p = {0};
    lexie_status rc = gt && pt ? LEXIE_OK : lx_fail(err, LEXIE_E_NOMEM, "out of memory");
    if (rc == LEXIE_OK && *gt && strcmp(gt, "[answer]: na") != 0) {
        rc = parse_triples(gt, &g, err);
        if (rc == LEXIE_OK && g.n == 0)
            rc = lx_fail(err, LEXIE_E_FORMAT, "semeval: the gold answer \"%.60s\" has no triple",
                         gt);
    }
    if (rc == LEXIE_OK) rc = parse_triples(pt, &p, err);
    if (rc == LEXIE_OK) {
        for (int i = 0; i < g.n; i++)
            m->tp += triples_has(&p, g.t[i][0], g.t[i][1], g.t[i][2]) || reversed_in(g.t[i], &p);
        int counted = 0;
        for (int j = 0; j < p.n; j++) {
            int known = 0;
            for (size_t r = 0; r < LX_ARRAY_LEN(semeval_rel); r++)
                known |= strcmp(p.t[j][1], semeval_rel[r]) == 0;
            if (!known) continue;
            if (g.n == 0) {
                m->pred++;
                counted = 1;
                continue;
            }
            int fwd = !strcmp(p.t[j][0], g.t[0][0]) && !strcmp(p.t[j][2], g.t[0][2]);
            int rev = !strcmp(p.t[j][2], g.t[0][0]) && !strcmp(p.t[j][0], g.t[0][2]);
            m->pred += fwd + rev;
            counted |= fwd | rev;
        }
        if (counted || p.n == 0) m->gold += g.n;
    }
    triples_free(&g);
    triples_free(&p);
    free(gt);
    free(pt);
    return rc;
}

void lx_semeval_answer(const char *e1, const char *e2, const char *label, lx_jbuf *b) {
    const char *dash = label ? strchr(label, '-') : NULL;
    const char *par = dash ? strchr(dash, '(') : NULL;
    int fwd = par && strcmp(par, "(e1,e2)") == 0, rev = par && strcmp(par, "(e2,e1)") == 0;
    if (!fwd && !rev) {
        lx_jbuf_add(b, "", 0);
        return;
    }
    char r1[64], r2[64];
    snprintf(r1, sizeof r1, "%.*s", (int)(dash - label), label);
    snprintf(r2, sizeof r2, "%.*s", (int)(par - dash - 1), dash + 1);
    for (char *p = r1; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    for (char *p = r2; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    lx_jbuf_printf(b, "(%s; %s and %s; %s)", e1, fwd ? r1 : r2, fwd ? r2 : r1, e2);
}

/* ==== Few-NERD ==== */

/* The 66 Few-NERD types as the script lists them ('-' made '_'); "O" is in
** its list too.  Answers are lower-cased before the lookup, so
** "location_GPE" and "O" can never match (kept: that is ADELIE's score). */
static const char *const fewnerd_types[] = {"art_broadcastprogram",
                                            "art_film",
                                            "art_music",
                                            "art_other",
                                            "art_painting",
                                            "art_writtenart",
                                            "building_airport",
                                            "building_hospital",
                                            "building_hotel",
                                            "building_library",
                                            "building_other",
                                            "building_restaurant",
                                            "building_sportsfacility",
                                            "building_theater",
                                            "event_attack/battle/war/militaryconflict",
                                            "event_disaster",
                                            "event_election",
                                            "event_other",
                                            "event_protest",
                                            "event_sportsevent",
                                            "location_bodiesofwater",
                                            "location_GPE",
                                            "location_island",
                                            "location_mountain",
                                            "location_other",
                                            "location_park",
                                            "location_road/railway/highway/transit",
                                            "O",
                                            "organization_company",
                                            "organization_education",
                                            "organization_government/governmentagency",
                                            "organization_media/newspaper",
                                            "organization_other",
                                            "organization_politicalparty",
                                            "organization_religion",
                                            "organization_showorganization",
                                            "organization_sportsleague",
                                            "organization_sportsteam",
                                            "other_astronomything",
                                            "other_award",
                                            "other_biologything",
                                            "other_chemicalthing",
                                            "other_currency",
                                            "other_disease",
                                            "other_educationaldegree",
                                            "other_god",
                                            "other_language",
                                            "other_law",
                                            "other_livingthing",
                                            "other_medical",
                                            "person_actor",
                                            "person_artist/author",
                                            "person_athlete",
                                            "person_director",
                                            "person_other",
                                            "person_politician",
                                            "person_scholar",
                                            "person_soldier",
                                            "product_airplane",
                                            "product_car",
                                            "product_food",
                                            "product_game",
                                            "product_other",
                                            "product_ship",
                                            "product_software",
                                            "product_train",
                                            "product_weapon"};

typedef struct pairs {
    char *(*kv)[2];
    int n;
    size_t cap;
} pairs;

static void pairs_free(pairs *d) {
    for (int i = 0; i < d->n; i++) {
        free(d->kv[i][0]);
        free(d->kv[i][1]);
    }
    free(d->kv);
    memset(d, 0, sizeof *d);
}

static int known_type(const char *t, unsigned flags) {
    for (size_t i = 0; i < LX_ARRAY_LEN(fewnerd_types); i++)
        if (strcmp(t, fewnerd_types[i]) == 0) return 1;
    return (flags & LX_FEWNERD_KEEP_GPE) && strcmp(t, "location_gpe") == 0;
}

/* turn_into_dict: pairs split at ';', each split at ':' into exactly two
** parts; entity stripped (and lower-cased by the caller), type stripped
** without a final '.', kept when known; a later entity overrides. */
static lexie_status to_dict(const char *ans, unsigned flags, pairs *d, lexie_error *err) {
    for (const char *p = ans;;) {
        const char *e = strchr(p, ';');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *c = memchr(p, ':', n);
        if (c && !memchr(c + 1, ':', n - (size_t)(c - p) - 1)) {
            char *ent = py_strip(p, (size_t)(c - p)),
                 *ty = py_strip(c + 1, n - (size_t)(c - p) - 1);
            if (!ent || !ty) {
                free(ent);
                free(ty);
                return lx_fail(err, LEXIE_E_NOMEM, "out of memory");
            }
            size_t tl = strlen(ty);
            if (tl && ty[tl - 1] == '.') ty[tl - 1] = 0;
            int k = -1;
            for (int i = 0; i < d->n && k < 0; i++)
                if (strcmp(d->kv[i][0], ent) == 0) k = i;
            if (!known_type(ty, flags)) {
                free(ent);
                free(ty);
            } else if (k >= 0) {
                free(d->kv[k][1]);
                d->kv[k][1] = ty;
                free(ent);
            } else if (lx_grow((void **)&d->kv, &d->cap, (size_t)d->n + 1, sizeof *d->kv, err)) {
                free(ent);
                free(ty);
                return LEXIE_E_NOMEM;
            } else {
                d->kv[d->n][0] = ent;
                d->kv[d->n++][1] = ty;
            }
        }
        if (!e) break;
        p = e + 1;
    }
    return LEXIE_OK;
}

lexie_status lx_adelie_fewnerd_score(const char *output, const char *gold, unsigned flags,
                                     lx_prf *m, lexie_error *err) {
    const char *o = output ? output : "";
    char *gt = strip_lower(gold ? gold : "", strlen(gold ? gold : ""));
    /* With "[Answer]:" the script strips the part; without, it only lowers. */
    char *pt = answer_part(o, strstr(o, "[Answer]:") != NULL);
    pairs g = {0}, p = {0};
    lexie_status rc = gt && pt ? LEXIE_OK : lx_fail(err, LEXIE_E_NOMEM, "out of memory");
    if (rc == LEXIE_OK) rc = to_dict(gt, flags, &g, err);
    if (rc == LEXIE_OK) rc = to_dict(pt, flags, &p, err);
    if (rc == LEXIE_OK) {
        m->gold += g.n;
        m->pred += p.n;
        for (int i = 0; i < g.n; i++)
            for (int j = 0; j < p.n; j++)
                if (strcmp(g.kv[i][0], p.kv[j][0]) == 0) {
                    m->tp += strcmp(g.kv[i][1], p.kv[j][1]) == 0;
                    break;
                }
    }
    pairs_free(&g);
    pairs_free(&p);
    free(gt);
    free(pt);
    return rc;
}

/* ==== On-demand IE: headers ==== */

/* extract_header(s.lower()) of sim_for_header.py: from the first to the
** last '|', empty-cell spellings made "N/A", first line, '|' stripped at
** both ends, then whitespace, split at " | ".  *n = -1 when s has no '|'
** (the script then returns "", which counts no cell but is still compared
** as one empty string). */
static char **header_cells(const char *s, int *n) {
    static const char *const rep[][2] = {{"| |", "| N/A |"},     {"|  |", "| N/A |"},
                                         {"|   |", "| N/A |"},   {"|-|", "| N/A |"},
                                         {"| - |", "| N/A |"},   {"| not specified |", "| N/A |"},
                                         {"| none |", "| N/A |"}};
    lx_jbuf low = {0};
    lx_py_lower(s, &low);
    char *f = low.data ? strchr(low.data, '|') : NULL,
         *l = low.data ? strrchr(low.data, '|') : NULL;
    char **cells = NULL;
    *n = -1;
    if (f && !low.oom) {
        l[1] = 0;
        char *t = py_replace_all(f, rep, (int)LX_ARRAY_LEN(rep));
        if (t) {
            char *nl = strchr(t, '\n');
            if (nl) *nl = 0;
            char *h = t;
            size_t hl = strlen(h);
            while (*h == '|') h++, hl--;
            while (hl && h[hl - 1] == '|') h[--hl] = 0;
            char *hs = py_strip(h, hl);
            int k = 1;
            for (const char *p = hs; p && (p = strstr(p, " | ")); p += 3) k++;
            cells = hs ? calloc((size_t)k, sizeof *cells) : NULL;
            const char *p = hs;
            for (int i = 0; cells && i < k; i++) {
                const char *e = i + 1 < k ? strstr(p, " | ") : p + strlen(p);
                cells[i] = strndup(p, (size_t)(e - p));
                p = e + 3;
            }
            *n = cells ? k : -1;
            free(hs);
            free(t);
        }
    }
    lx_jbuf_free(&low);
    return cells;
}

static double cell_sim(const char *a, const char *b) {
    double s = lexie_text_similarity(LEXIE_TEXT_F1, a, b);
    return s < 0 ? 0 : s;
}

/* header_soft_score's sums for one example: scores[i][j] = sim(gold i,
** pred j); pred_in_gold += sum over j of max over i, gold_in_pred += sum
** over i of max over j. */
static void header_add(char **gc, int ng, char **pc, int np, lx_odie_counts *c) {
    static char *empty[1] = {""};
    c->gold_cells += ng > 0 ? ng : 0;
    c->pred_cells += np > 0 ? np : 0;
    if (ng < 0) gc = empty, ng = 1;
    if (np < 0) pc = empty, np = 1;
    for (int j = 0; j < np; j++) {
        double best = 0;
        for (int i = 0; i < ng; i++) best = LX_MAX(best, cell_sim(gc[i], pc[j]));
        c->pred_in_gold += best;
    }
    for (int i = 0; i < ng; i++) {
        double best = 0;
        for (int j = 0; j < np; j++) best = LX_MAX(best, cell_sim(gc[i], pc[j]));
        c->gold_in_pred += best;
    }
}

/* ==== On-demand IE: content ==== */

/* extract_markdown of rougel_for_content.py: from the first '|' to the
** end, empty-cell spellings made "N/A"; "" without a '|'. */
static char *content_text(const char *s) {
    static const char *const rep[][2] = {{"| |", "| N/A |"},
                                         {"|  |", "| N/A |"},
                                         {"|   |", "| N/A |"},
                                         {"|-|", "| N/A |"},
                                         {"| - |", "| N/A |"},
                                         {"| Not specified |", "| N/A |"},
                                         {"| not specified |", "| N/A |"},
                                         {"| Not Specified |", "| N/A |"},
                                         {"| None |", "| N/A |"},
                                         {"| none |", "| N/A |"}};
    const char *f = strchr(s, '|');
    return f ? py_replace_all(f, rep, (int)LX_ARRAY_LEN(rep)) : strdup("");
}

/* rouge_score's tokenizer over each non-empty line ("\n"-separated):
** lower-case, every character outside [a-z0-9] a separator.  Words point
** into buf; line i holds words line_start[i] .. line_start[i + 1]. */
typedef struct rtoks {
    char *buf;
    char **w;
    int *id; /* interned ids of w (equal words, equal ids) */
    int *line_start;
    int n_tok, n_lines;
} rtoks;

static void rtoks_free(rtoks *r) {
    free(r->buf);
    free(r->w);
    free(r->id);
    free(r->line_start);
    memset(r, 0, sizeof *r);
}

static int is_an(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); }

static int rtokenize(const char *text, rtoks *r) {
    lx_jbuf low = {0};
    memset(r, 0, sizeof *r);
    lx_py_lower(text, &low);
    if (low.oom) {
        lx_jbuf_free(&low);
        return -1;
    }
    size_t n = low.len;
    char *c = r->buf = low.data;
    r->w = malloc(sizeof *r->w * (n / 2 + 1));
    r->id = malloc(sizeof *r->id * (n / 2 + 1));
    r->line_start = malloc(sizeof *r->line_start * (n + 2));
    if (!r->w || !r->id || !r->line_start) return -1;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && c[e] != '\n') e++;
        if (e > i) { /* a non-empty line, perhaps without words */
            r->line_start[r->n_lines++] = r->n_tok;
            for (size_t k = i; k < e;) {
                if (!is_an(c[k])) {
                    c[k++] = 0;
                    continue;
                }
                r->w[r->n_tok++] = c + k;
                while (k < e && is_an(c[k])) k++;
            }
        }
        if (e < n) c[e] = 0;
        i = e + 1;
    }
    r->line_start[r->n_lines] = r->n_tok;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Gives the words of both sides ids: their rank among the distinct words. */
static int intern(rtoks *a, rtoks *b, int *n_ids) {
    int n = a->n_tok + b->n_tok;
    char **d = malloc(sizeof *d * ((size_t)n + 1));
    if (!d) return -1;
    memcpy(d, a->w, sizeof *d * (size_t)a->n_tok);
    memcpy(d + a->n_tok, b->w, sizeof *d * (size_t)b->n_tok);
    qsort(d, (size_t)n, sizeof *d, cmp_str);
    int u = 0;
    for (int i = 0; i < n; i++)
        if (u == 0 || strcmp(d[i], d[u - 1]) != 0) d[u++] = d[i];
    rtoks *side[2] = {a, b};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < side[s]->n_tok; i++) {
            char **hit = bsearch(&side[s]->w[i], d, (size_t)u, sizeof *d, cmp_str);
            side[s]->id[i] = (int)(hit - d);
        }
    free(d);
    *n_ids = u;
    return 0;
}

/* _union_lcs: marks in hit[] the positions of ref (nr words) that one LCS
** with can (nc words) uses, read back as _backtrack_norec does. */
static int lcs_mark(const int *ref, int nr, const int *can, int nc, unsigned char *hit) {
    size_t w = (size_t)nc + 1;
    int *t = calloc(((size_t)nr + 1) * w, sizeof *t);
    if (!t) return -1;
    for (int i = 1; i <= nr; i++)
        for (int j = 1; j <= nc; j++)
            t[i * w + j] = ref[i - 1] == can[j - 1] ? t[(i - 1) * w + j - 1] + 1
                                                    : LX_MAX(t[(i - 1) * w + j], t[i * w + j - 1]);
    for (int i = nr, j = nc; i > 0 && j > 0;) {
        if (ref[i - 1] == can[j - 1]) {
            hit[i - 1] = 1;
            i--;
            j--;
        } else if (t[i * w + j - 1] > t[(i - 1) * w + j]) {
            j--;
        } else {
            i--;
        }
    }
    free(t);
    return 0;
}

/* _summary_level_lcs(ref lines, candidate lines): hits of the union LCS
** of each reference line with all candidate lines, each word counted at
** most as often as it occurs on both sides. */
static double summary_lcs(const rtoks *r, const rtoks *c, int n_ids) {
    if (!r->n_lines || !c->n_lines || !r->n_tok || !c->n_tok) return 0;
    int *cr = calloc((size_t)n_ids, sizeof *cr), *cc = calloc((size_t)n_ids, sizeof *cc);
    unsigned char *hit = malloc((size_t)r->n_tok + 1);
    double f = -1;
    if (cr && cc && hit) {
        for (int i = 0; i < r->n_tok; i++) cr[r->id[i]]++;
        for (int i = 0; i < c->n_tok; i++) cc[c->id[i]]++;
        long hits = 0;
        int bad = 0;
        for (int s = 0; s < r->n_lines && !bad; s++) {
            int a = r->line_start[s], nr = r->line_start[s + 1] - a;
            memset(hit, 0, (size_t)r->n_tok + 1);
            for (int q = 0; q < c->n_lines && !bad; q++) {
                int b = c->line_start[q];
                bad = lcs_mark(r->id + a, nr, c->id + b, c->line_start[q + 1] - b, hit) != 0;
            }
            for (int i = 0; i < nr && !bad; i++) {
                int t = r->id[a + i];
                if (hit[i] && cc[t] > 0 && cr[t] > 0) {
                    hits++;
                    cc[t]--;
                    cr[t]--;
                }
            }
        }
        double p = (double)hits / c->n_tok, rc = (double)hits / r->n_tok;
        f = bad ? -1 : p + rc > 0 ? 2 * p * rc / (p + rc) : 0;
    }
    free(cr);
    free(cc);
    free(hit);
    return f;
}

double lx_rouge_lsum(const char *pred, const char *gold) {
    rtoks r, c;
    int n_ids = 0;
    double f = -1;
    int ok = rtokenize(gold, &r) == 0;
    ok = rtokenize(pred, &c) == 0 && ok;
    if (ok && intern(&r, &c, &n_ids) == 0) f = summary_lcs(&r, &c, n_ids);
    rtoks_free(&r);
    rtoks_free(&c);
    return f;
}

lexie_status lx_adelie_ondemand_score(const char *output, const char *gold, lx_odie_counts *c,
                                      lexie_error *err) {
    const char *o = output ? output : "", *g = gold ? gold : "";
    int ng, np;
    char **gc = header_cells(g, &ng), **pc = header_cells(o, &np);
    char *gt = content_text(g), *pt = content_text(o);
    double rl = gt && pt ? lx_rouge_lsum(pt, gt) : -1;
    double flat = gt && pt ? lexie_text_similarity(LEXIE_TEXT_ROUGE_L, pt, gt) : -1;
    lexie_status rc = LEXIE_OK;
    if ((strchr(g, '|') && !gc) || (strchr(o, '|') && !pc) || rl < 0 || flat < 0) {
        rc = lx_fail(err, LEXIE_E_NOMEM, "on-demand scoring: out of memory");
    } else {
        header_add(gc, ng, pc, np, c);
        c->rouge_lsum += rl;
        c->rouge_l += flat;
        c->n++;
    }
    for (int i = 0; gc && i < ng; i++) free(gc[i]);
    for (int i = 0; pc && i < np; i++) free(pc[i]);
    free(gc);
    free(pc);
    free(gt);
    free(pt);
    return rc;
}

void lx_odie_counts_add(lx_odie_counts *into, const lx_odie_counts *c) {
    into->gold_cells += c->gold_cells;
    into->pred_cells += c->pred_cells;
    into->pred_in_gold += c->pred_in_gold;
    into->gold_in_pred += c->gold_in_pred;
    into->rouge_lsum += c->rouge_lsum;
    into->rouge_l += c->rouge_l;
    into->n += c->n;
}

void lx_odie_finish(const lx_odie_counts *c, lx_odie_score *out) {
    memset(out, 0, sizeof *out);
    out->header_p = c->pred_cells > 0 ? c->pred_in_gold / c->pred_cells : 0;
    out->header_r = c->gold_cells > 0 ? c->gold_in_pred / c->gold_cells : 0;
    double s = out->header_p + out->header_r;
    out->header_f1 = s > 0 ? 2 * out->header_p * out->header_r / s : 0;
    out->rouge_lsum = c->n ? c->rouge_lsum / (double)c->n : 0;
    out->rouge_l = c->n ? c->rouge_l / (double)c->n : 0;
}
