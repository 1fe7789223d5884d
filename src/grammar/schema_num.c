/*
** schema_num.c -- the grammar of JSON numbers and integers under a view's
** keywords: the any-number grammar, exact decimal ranges for integer
** bounds (digit by digit, no leading zeros), fractions within bounds,
** multipleOf as residues for integers and as a digit limit for powers of
** ten.  Non-integer bounds round inwards and bounded numbers take no
** exponent (stricter); bounded ranges stay inside +-10^17.
*/
#include "grammar/schema.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG 100000000000000000LL /* 1e17: bounded numbers stay inside +-BIG */

/* ==== Any number ==== */

/* The JSON number grammar (any number), shared. */
int lx_sc_number(sc *c) {
    if (c->r_num >= 0) return c->r_num;
    lx_gram *g = c->g;
    int dstar = lx_gram_rule(g, "digits");
    lx_seq s = {0};
    lx_seq_push(&s, lx_sc_digit(g));
    lx_seq_push(&s, lx_gram_call(dstar));
    lx_gram_alt(g, dstar, &s);
    s.n = 0;
    lx_gram_alt(g, dstar, &s);
    int intpart = lx_gram_rule(g, "int");
    lx_sc_alt1(g, intpart, lx_gram_byte(g, '0'));
    s.n = 0;
    lx_seq_push(&s, lx_gram_range(g, '1', '9'));
    lx_seq_push(&s, lx_gram_call(dstar));
    lx_gram_alt(g, intpart, &s);
    int frac = lx_gram_rule(g, "frac");
    s.n = 0;
    lx_gram_alt(g, frac, &s);
    lx_seq_push(&s, lx_gram_byte(g, '.'));
    lx_seq_push(&s, lx_sc_digit(g));
    lx_seq_push(&s, lx_gram_call(dstar));
    lx_gram_alt(g, frac, &s);
    int ex = lx_gram_rule(g, "exp");
    s.n = 0;
    lx_gram_alt(g, ex, &s);
    lx_bset e = {{0, 0, 0, 0}};
    lx_bset_add(&e, 'e');
    lx_bset_add(&e, 'E');
    lx_seq_push(&s, lx_gram_set(g, &e));
    int sign = lx_gram_rule(g, "sign");
    lx_sc_alt1(g, sign, lx_gram_byte(g, '+'));
    lx_sc_alt1(g, sign, lx_gram_byte(g, '-'));
    lx_seq empty = {0};
    lx_gram_alt(g, sign, &empty);
    lx_seq_push(&s, lx_gram_call(sign));
    lx_seq_push(&s, lx_sc_digit(g));
    lx_seq_push(&s, lx_gram_call(dstar));
    lx_gram_alt(g, ex, &s);
    int minus = lx_gram_rule(g, "minus");
    lx_sc_alt1(g, minus, lx_gram_byte(g, '-'));
    lx_gram_alt(g, minus, &empty);
    int r = lx_gram_rule(g, "number");
    s.n = 0;
    lx_seq_push(&s, lx_gram_call(minus));
    lx_seq_push(&s, lx_gram_call(intpart));
    lx_seq_push(&s, lx_gram_call(frac));
    lx_seq_push(&s, lx_gram_call(ex));
    lx_gram_alt(g, r, &s);
    /* integers alone, for "integer" without bounds */
    int ri = lx_gram_rule(g, "integer");
    s.n = 0;
    lx_seq_push(&s, lx_gram_call(minus));
    lx_seq_push(&s, lx_gram_call(intpart));
    lx_gram_alt(g, ri, &s);
    lx_seq_free(&s);
    c->r_num = r;
    c->r_int = ri;
    return r;
}

/* ==== Integer ranges ==== */

/* Alternatives of r: prefix + the decimal digits (no leading zero) of
** every integer in [a, b] with a, b of the same length L. */
static void same_len(lx_gram *g, int r, lx_seq *pre, const char *A, const char *B, int L, int i) {
    int n0 = pre->n;
    while (i < L && A[i] == B[i]) lx_seq_push(pre, lx_gram_byte(g, (unsigned char)A[i++]));
    if (i == L) {
        lx_gram_alt(g, r, pre);
        pre->n = n0;
        return;
    }
    int tz = 1, tn = 1;
    for (int k = i + 1; k < L; k++) {
        tz &= A[k] == '0';
        tn &= B[k] == '9';
    }
    if (tz && tn) {
        lx_seq_push(pre, lx_gram_range(g, (unsigned char)A[i], (unsigned char)B[i]));
        for (int k = i + 1; k < L; k++) lx_seq_push(pre, lx_sc_digit(g));
        lx_gram_alt(g, r, pre);
        pre->n = n0;
        return;
    }
    char hi[24], lo[24];
    memcpy(hi, A, (size_t)L);
    memcpy(lo, B, (size_t)L);
    for (int k = i + 1; k < L; k++) {
        hi[k] = '9';
        lo[k] = '0';
    }
    int m = pre->n;
    lx_seq_push(pre, lx_gram_byte(g, (unsigned char)A[i]));
    same_len(g, r, pre, A, hi, L, i + 1);
    pre->n = m;
    if (A[i] + 1 <= B[i] - 1) {
        lx_seq_push(pre, lx_gram_range(g, (unsigned char)(A[i] + 1), (unsigned char)(B[i] - 1)));
        for (int k = i + 1; k < L; k++) lx_seq_push(pre, lx_sc_digit(g));
        lx_gram_alt(g, r, pre);
        pre->n = m;
    }
    lx_seq_push(pre, lx_gram_byte(g, (unsigned char)B[i]));
    same_len(g, r, pre, lo, B, L, i + 1);
    pre->n = n0;
}

static int ndigits(long long x) {
    int n = 1;
    while (x >= 10) {
        x /= 10;
        n++;
    }
    return n;
}

static long long pow10ll(int n) {
    long long p = 1;
    for (int i = 0; i < n && p <= LLONG_MAX / 10; i++) p *= 10;
    return p;
}

/* Alternatives of r: prefix + every integer in [a, b] (0 <= a; b < 0:
** unbounded), as JSON writes it (no leading zeros). */
static void int_range(lx_gram *g, int r, lx_seq *pre, long long a, long long b) {
    if (a < 0 || (b >= 0 && a > b)) return;
    int la = ndigits(a), lb = b < 0 ? la : ndigits(b);
    for (int L = la; L <= lb; L++) {
        long long lo = L == 1 ? 0 : pow10ll(L - 1);
        long long hi = L >= 19 ? LLONG_MAX : pow10ll(L) - 1;
        long long x = LX_MAX(a, lo), y = b < 0 ? hi : LX_MIN(b, hi);
        if (x > y) continue;
        char A[24], B[24];
        snprintf(A, sizeof A, "%lld", x);
        snprintf(B, sizeof B, "%lld", y);
        same_len(g, r, pre, A, B, L, 0);
    }
    if (b < 0 && la < 19) { /* every number longer than la digits */
        int n0 = pre->n;
        lx_seq_push(pre, lx_gram_range(g, '1', '9'));
        for (int k = 0; k < la; k++) lx_seq_push(pre, lx_sc_digit(g));
        int st = lx_gram_rule(g, "digits");
        lx_seq t = {0};
        lx_seq_push(&t, lx_sc_digit(g));
        lx_seq_push(&t, lx_gram_call(st));
        lx_gram_alt(g, st, &t);
        t.n = 0;
        lx_gram_alt(g, st, &t);
        lx_seq_free(&t);
        lx_seq_push(pre, lx_gram_call(st));
        lx_gram_alt(g, r, pre);
        pre->n = n0;
    }
}

/* Integers in [lo, hi] (LLONG_MIN / LLONG_MAX: unbounded). */
static void int_alts(lx_gram *g, int r, long long lo, long long hi, int32_t suffix_rule) {
    lx_seq pre = {0};
    int t = lx_gram_rule(g, "irange");
    if (hi >= 0) int_range(g, t, &pre, LX_MAX(lo, 0), hi == LLONG_MAX ? -1 : hi);
    if (lo < 0) {
        lx_seq_push(&pre, lx_gram_byte(g, '-'));
        long long a = hi >= 0 ? 1 : -hi;
        long long b = lo == LLONG_MIN ? -1 : -lo;
        int_range(g, t, &pre, a, b);
    }
    lx_seq_free(&pre);
    lx_seq s = {0};
    lx_seq_push(&s, lx_gram_call(t));
    if (suffix_rule >= 0) lx_seq_push(&s, lx_gram_call(suffix_rule));
    lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
}

/* ==== Numbers ==== */

typedef struct bound {
    int has;
    double v;
    int excl;
} bound;

/* The tightest lower (upper = 0) or upper bound across the view. */
static bound get_bound(sc *c, const sc_view *v, int upper) {
    bound b = {0, 0, 0};
    const char *kin = upper ? "maximum" : "minimum";
    const char *kex = upper ? "exclusiveMaximum" : "exclusiveMinimum";
    for (int i = 0; i < v->n; i++) {
        const lx_json *in = lx_sc_get(v, i, kin), *ex = lx_sc_get(v, i, kex);
        bound cand[2];
        int nc = 0;
        if (in && in->type == LX_JSON_NUMBER)
            cand[nc++] = (bound){1, in->num, ex && ex->type == LX_JSON_BOOL && ex->b};
        else if (in)
            lx_sc_error(c, LEXIE_E_INVALID, v->ptr[i], "%s must be a number", kin);
        if (ex && ex->type == LX_JSON_NUMBER) cand[nc++] = (bound){1, ex->num, 1};
        for (int k = 0; k < nc; k++) {
            bound x = cand[k];
            int tighter = !b.has || (upper ? x.v < b.v : x.v > b.v) || (x.v == b.v && x.excl);
            if (tighter) b = x;
        }
    }
    return b;
}

/* Fraction rules: kind 0 any (or none), 1 zeros only (or none), 2 some
** nonzero digit.  maxd: most digits (-1 unbounded). */
static int frac_rule(lx_gram *g, int kind, int maxd) {
    int r = lx_gram_rule(g, "frac");
    lx_seq s = {0};
    if (kind != 2) lx_gram_alt(g, r, &s); /* no fraction */
    int dig = lx_gram_rule(g, "fd");
    if (kind == 1)
        lx_sc_alt1(g, dig, lx_gram_byte(g, '0'));
    else
        lx_sc_alt1(g, dig, lx_sc_digit(g));
    int body;
    if (kind == 2) {
        /* nz ::= "0" nz | [1-9] digit{0,...} within maxd digits */
        int any = lx_gram_rule(g, "fd");
        lx_sc_alt1(g, any, lx_sc_digit(g));
        if (maxd < 0) {
            int nz = lx_gram_rule(g, "nz");
            lx_seq_push(&s, lx_gram_byte(g, '0'));
            lx_seq_push(&s, lx_gram_call(nz));
            lx_gram_alt(g, nz, &s);
            s.n = 0;
            lx_seq_push(&s, lx_gram_range(g, '1', '9'));
            lx_seq_push(&s, lx_gram_call(lx_gram_repeat(g, any, 0, -1)));
            lx_gram_alt(g, nz, &s);
            body = nz;
        } else {
            int prev = -1; /* nz_k: k digits left */
            for (int k = 1; k <= maxd; k++) {
                int nz = lx_gram_rule(g, "nz");
                s.n = 0;
                lx_seq_push(&s, lx_gram_range(g, '1', '9'));
                lx_seq_push(&s, lx_gram_call(lx_gram_repeat(g, any, 0, k - 1)));
                lx_gram_alt(g, nz, &s);
                if (prev >= 0) {
                    s.n = 0;
                    lx_seq_push(&s, lx_gram_byte(g, '0'));
                    lx_seq_push(&s, lx_gram_call(prev));
                    lx_gram_alt(g, nz, &s);
                }
                prev = nz;
            }
            body = prev;
        }
    } else {
        body = lx_gram_repeat(g, dig, 1, maxd);
    }
    s.n = 0;
    lx_seq_push(&s, lx_gram_byte(g, '.'));
    if (body >= 0) lx_seq_push(&s, lx_gram_call(body));
    if (body >= 0) lx_gram_alt(g, r, &s);
    lx_seq_free(&s);
    return r;
}

/* Non-negative numbers y = I.F with L <= y <= H (integer bounds, excl
** flags), prefix pre ("" or "-"), fractions of at most maxd digits. */
static void decimal_part(lx_gram *g, int r, const char *pre, long long L, int exl, long long H,
                         int exh, int maxd) {
    /* zero fraction allowed for I in [L + exl, H - exh]; nonzero for I in [L, H - 1] */
    long long zlo = L + exl, zhi = H - exh, nlo = L, nhi = H - 1;
    if (zlo < 0) zlo = 0;
    if (nlo < 0) nlo = 0;
    long long alo = zlo, ahi = LX_MIN(zhi, nhi); /* both: any fraction */
    lx_seq s = {0};
    lx_gram_lit(g, &s, pre, strlen(pre));
    if (alo <= ahi) {
        int t = lx_gram_rule(g, "ipart");
        int_range(g, t, &s, alo, ahi == LLONG_MAX - 1 || ahi >= BIG ? -1 : ahi);
        /* int_range added alternatives with the prefix to t */
        lx_seq u = {0};
        lx_seq_push(&u, lx_gram_call(t));
        lx_seq_push(&u, lx_gram_call(frac_rule(g, 0, maxd)));
        lx_gram_alt(g, r, &u);
        lx_seq_free(&u);
    }
    if (zhi >= zlo && zhi > ahi && zhi <= BIG) { /* zero fraction only: I = H */
        int t = lx_gram_rule(g, "ipart");
        int_range(g, t, &s, zhi, zhi);
        lx_seq u = {0};
        lx_seq_push(&u, lx_gram_call(t));
        lx_seq_push(&u, lx_gram_call(frac_rule(g, 1, maxd)));
        lx_gram_alt(g, r, &u);
        lx_seq_free(&u);
    }
    if (nlo <= nhi && nlo < alo) { /* nonzero fraction only: I = L */
        int t = lx_gram_rule(g, "ipart");
        int_range(g, t, &s, nlo, LX_MIN(nhi, alo - 1));
        lx_seq u = {0};
        lx_seq_push(&u, lx_gram_call(t));
        lx_seq_push(&u, lx_gram_call(frac_rule(g, 2, maxd)));
        lx_gram_alt(g, r, &u);
        lx_seq_free(&u);
    }
    lx_seq_free(&s);
}

/* multipleOf k (integer) for integers: residues mod k, digit by digit. */
static int mult_rule(lx_gram *g, long long k) {
    if (k < 2) return -1;
    int *res = malloc((size_t)k * sizeof *res);
    if (!res) {
        g->oom = 1;
        return -1;
    }
    for (long long i = 0; i < k; i++) res[i] = lx_gram_rule(g, "mod");
    lx_seq s = {0};
    lx_gram_alt(g, res[0], &s); /* may end at residue 0 */
    for (long long i = 0; i < k; i++)
        for (int d = 0; d < 10; d++) {
            s.n = 0;
            lx_seq_push(&s, lx_gram_byte(g, (unsigned char)('0' + d)));
            lx_seq_push(&s, lx_gram_call(res[(i * 10 + d) % k]));
            lx_gram_alt(g, res[i], &s);
        }
    int r = lx_gram_rule(g, "multiple");
    lx_sc_alt1(g, r, lx_gram_byte(g, '0'));
    for (int d = 1; d < 10; d++) {
        s.n = 0;
        lx_seq_push(&s, lx_gram_byte(g, (unsigned char)('0' + d)));
        lx_seq_push(&s, lx_gram_call(res[d % k]));
        lx_gram_alt(g, r, &s);
    }
    lx_seq_free(&s);
    free(res);
    return r;
}

void lx_sc_gen_number(sc *c, int r, const sc_view *v, int frac) {
    lx_gram *g = c->g;
    bound lo = get_bound(c, v, 0), hi = get_bound(c, v, 1);
    double mult = 0;
    for (int i = 0; i < v->n; i++) {
        const lx_json *m = lx_sc_get(v, i, "multipleOf");
        if (!m) continue;
        if (m->type != LX_JSON_NUMBER || m->num <= 0) {
            lx_sc_error(c, LEXIE_E_INVALID, v->ptr[i], "multipleOf must be a positive number");
            return;
        }
        if (mult && mult != m->num) {
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[i],
                        "unsupported keyword 'multipleOf' (two)");
            return;
        }
        mult = m->num;
    }
    if (c->failed) return;
    int maxd = -1;
    if (mult) {
        if (mult == floor(mult)) {
            frac = 0; /* integers only (stricter: 10.0 is refused) */
            if (mult > 1) {
                if (mult > 1000 || lo.has || hi.has) {
                    lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[0],
                                "unsupported keyword 'multipleOf' (over 1000 or with bounds)");
                    return;
                }
                int m = mult_rule(g, (long long)mult);
                if (m < 0) return;
                lx_sc_alt1(g, r, lx_gram_call(m));
                lx_seq s = {0};
                lx_seq_push(&s, lx_gram_byte(g, '-'));
                lx_seq_push(&s, lx_gram_call(m));
                lx_gram_alt(g, r, &s);
                lx_seq_free(&s);
                return;
            }
        } else if (frac) {
            double d = -log10(mult);
            if (fabs(d - floor(d + 0.5)) > 1e-9 || d > 15) {
                lx_sc_error(
                    c, LEXIE_E_UNSUPPORTED, v->ptr[0],
                    "unsupported keyword 'multipleOf' (%g: only integers and powers of ten)", mult);
                return;
            }
            maxd = (int)floor(d + 0.5);
        } else {
            lx_sc_error(c, LEXIE_E_UNSUPPORTED, v->ptr[0],
                        "unsupported keyword 'multipleOf' (fraction on integers)");
            return;
        }
    }
    if (!lo.has && !hi.has && maxd < 0) {
        lx_sc_number(c);
        lx_sc_alt1(g, r, lx_gram_call(frac ? c->r_num : c->r_int));
        return;
    }
    /* integer bounds, rounded inwards (stricter), clamped to +-BIG */
    long long L = LLONG_MIN, H = LLONG_MAX;
    int exl = 0, exh = 0;
    if (lo.has) {
        double x = ceil(lo.v);
        exl = lo.excl && x == lo.v;
        L = x < -(double)BIG ? -BIG : x > (double)BIG ? BIG + 1 : (long long)x;
    }
    if (hi.has) {
        double x = floor(hi.v);
        exh = hi.excl && x == hi.v;
        H = x > (double)BIG ? BIG : x < -(double)BIG ? -BIG - 1 : (long long)x;
    }
    if (!frac) {
        long long a = L == LLONG_MIN ? L : L + exl, b = H == LLONG_MAX ? H : H - exh;
        if (a <= b) int_alts(g, r, a, b, -1);
        return;
    }
    /* non-negative part: y in [max(L,0), H]; negative: -y, y in [-H, -L] */
    if (H == LLONG_MAX || H >= 0) {
        long long hh = H == LLONG_MAX ? BIG : H;
        int eh = H == LLONG_MAX ? 0 : exh;
        long long ll = L == LLONG_MIN || L < 0 ? 0 : L;
        int el = L == LLONG_MIN || L < 0 ? 0 : exl;
        if (H == LLONG_MAX) { /* unbounded above: any fraction for every I >= L */
            lx_seq s = {0};
            int t = lx_gram_rule(g, "ipart");
            int_range(g, t, &s, ll + el, -1);
            lx_seq_push(&s, lx_gram_call(t));
            lx_seq_push(&s, lx_gram_call(frac_rule(g, 0, maxd)));
            lx_gram_alt(g, r, &s);
            if (el) {
                s.n = 0;
                int t2 = lx_gram_rule(g, "ipart");
                int_range(g, t2, &s, ll, ll);
                lx_seq_push(&s, lx_gram_call(t2));
                lx_seq_push(&s, lx_gram_call(frac_rule(g, 2, maxd)));
                lx_gram_alt(g, r, &s);
            }
            lx_seq_free(&s);
        } else {
            decimal_part(g, r, "", ll, el, hh, eh, maxd);
        }
    }
    if (L == LLONG_MIN || L < 0) {
        long long ll = H == LLONG_MAX || H > 0 ? 0 : -H;
        int el = H == LLONG_MAX || H > 0 ? 0 : exh;
        if (L == LLONG_MIN) {
            lx_seq s = {0};
            lx_seq_push(&s, lx_gram_byte(g, '-'));
            int t = lx_gram_rule(g, "ipart");
            lx_seq pre = {0};
            int_range(g, t, &pre, ll + el, -1);
            lx_seq_free(&pre);
            lx_seq_push(&s, lx_gram_call(t));
            lx_seq_push(&s, lx_gram_call(frac_rule(g, 0, maxd)));
            lx_gram_alt(g, r, &s);
            if (el) {
                s.n = 1;
                int t2 = lx_gram_rule(g, "ipart");
                pre = (lx_seq){0};
                int_range(g, t2, &pre, ll, ll);
                lx_seq_free(&pre);
                lx_seq_push(&s, lx_gram_call(t2));
                lx_seq_push(&s, lx_gram_call(frac_rule(g, 2, maxd)));
                lx_gram_alt(g, r, &s);
            }
            lx_seq_free(&s);
        } else {
            decimal_part(g, r, "-", ll, el, -L, exl, maxd);
        }
    }
}
