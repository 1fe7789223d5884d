/*
** types_k.c -- the K types (Q2_K .. Q6_K, and Q8_K for activations):
** unpacking a super-block to integers, the reference dequantizers, and
** simple reference quantizers.
**
** The bit layouts and dequantization formulas are ggml's (ggml-quants.c),
** so a GGUF file dequantizes to the same floats as in llama.cpp.  The
** quantizers are simpler than ggml's (no iterative search for the best
** scale): each sub-block takes the scale that maps its extreme to the
** extreme quant, then the sub-block scales are themselves quantized and
** the elements re-quantized against the stored scales.  That is correct
** and close (tests bound the error); lexie only quantizes for tests and
** for Q8_K activations, whose rule is exactly ggml's.
*/
#include "kernels.h"

#include <math.h>
#include <string.h>

/* Round half to even, as ggml's nearest_int, made safe for NaN and
** huge values. */
static int nearest(float v) {
    if (v != v) return 0;
    if (v > 4194303.0f) return 4194303;
    if (v < -4194303.0f) return -4194303;
    return (int)nearbyintf(v);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ==== Unpacking ==== */

/* The 6-bit scale and min of sub-block j of Q4_K/Q5_K: the first four in
** the low 6 bits of bytes 0-3 (scales) and 4-7 (mins), the last four in
** the nibbles of bytes 8-11 with their top two bits in the spare top bits
** of bytes 0-7. */
void lx_k4_scale_min(int j, const uint8_t *q, int16_t *sc, int16_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (int16_t)((q[j + 4] & 0x0f) | (q[j - 4] >> 6) << 4);
        *m = (int16_t)((q[j + 4] >> 4) | (q[j] >> 6) << 4);
    }
}

/* Q3_K: 16 6-bit scales, low nibbles in bytes 0-7 (j and j+8 share a byte),
** top two bits in bytes 8-11 (byte 8 + j%4, bit pair j/4). */
static int q3_scale(const uint8_t *s, int j) {
    int lo = j < 8 ? s[j] & 0x0f : s[j - 8] >> 4;
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | hi << 4) - 32;
}

void lx_k_unpack(int type, const void *block, lx_k_unpacked *u) {
    memset(u->m, 0, sizeof u->m);
    u->dmin = 0.0f;
    switch (type) {
    case LX_TYPE_Q2_K: {
        const lx_block_q2_k *x = block;
        u->n_sub = 16;
        u->d = lx_fp16_to_f32(x->d);
        u->dmin = lx_fp16_to_f32(x->dmin);
        for (int j = 0; j < 16; j++) {
            u->sc[j] = x->scales[j] & 0x0f;
            u->m[j] = x->scales[j] >> 4;
        }
        /* Element 128h + 32g + l sits in bits 2g of byte 32h + l. */
        for (int k = 0; k < LX_QK_K; k++)
            u->q[k] = (int8_t)((x->qs[32 * (k / 128) + k % 32] >> (2 * ((k / 32) % 4))) & 3);
        break;
    }
    case LX_TYPE_Q3_K: {
        const lx_block_q3_k *x = block;
        u->n_sub = 16;
        u->d = lx_fp16_to_f32(x->d);
        for (int j = 0; j < 16; j++) u->sc[j] = (int16_t)q3_scale(x->scales, j);
        /* As Q2_K, plus a high bit: bit k/32 of hmask[k%32]; a clear bit
        ** means subtract 4. */
        for (int k = 0; k < LX_QK_K; k++) {
            int lo = (x->qs[32 * (k / 128) + k % 32] >> (2 * ((k / 32) % 4))) & 3;
            int hi = (x->hmask[k % 32] >> (k / 32)) & 1;
            u->q[k] = (int8_t)(lo - (hi ? 0 : 4));
        }
        break;
    }
    case LX_TYPE_Q4_K:
    case LX_TYPE_Q5_K: {
        /* Q4_K and Q5_K share d, dmin, scales and the nibble layout: byte
        ** 32c + l holds element 64c + l (low) and 64c + 32 + l (high). */
        const lx_block_q4_k *x4 = block;
        const lx_block_q5_k *x5 = block;
        const uint8_t *scales = type == LX_TYPE_Q4_K ? x4->scales : x5->scales;
        const uint8_t *qs = type == LX_TYPE_Q4_K ? x4->qs : x5->qs;
        u->n_sub = 8;
        u->d = lx_fp16_to_f32(x4->d);
        u->dmin = lx_fp16_to_f32(x4->dmin);
        for (int j = 0; j < 8; j++) lx_k4_scale_min(j, scales, &u->sc[j], &u->m[j]);
        for (int k = 0; k < LX_QK_K; k++) {
            int q = (qs[32 * (k / 64) + k % 32] >> (4 * ((k / 32) % 2))) & 0x0f;
            /* Q5_K's fifth bit of element k: bit k/32 of qh[k%32]. */
            if (type == LX_TYPE_Q5_K) q |= ((x5->qh[k % 32] >> (k / 32)) & 1) << 4;
            u->q[k] = (int8_t)q;
        }
        break;
    }
    case LX_TYPE_Q6_K: {
        const lx_block_q6_k *x = block;
        u->n_sub = 16;
        u->d = lx_fp16_to_f32(x->d);
        for (int j = 0; j < 16; j++) u->sc[j] = x->scales[j];
        /* Element 128h + 32g + l: low nibble of ql[64h + 32(g%2) + l]
        ** (high nibble for g >= 2), top two bits at bit 2g of qh[32h + l]. */
        for (int k = 0; k < LX_QK_K; k++) {
            int h = k / 128, g = (k / 32) % 4, l = k % 32;
            int lo = (x->ql[64 * h + 32 * (g % 2) + l] >> (4 * (g / 2))) & 0x0f;
            int hi = (x->qh[32 * h + l] >> (2 * g)) & 3;
            u->q[k] = (int8_t)((lo | hi << 4) - 32);
        }
        break;
    }
    case LX_TYPE_Q8_K: {
        const lx_block_q8_k *x = block;
        u->n_sub = 1;
        u->d = x->d;
        u->sc[0] = 1;
        memcpy(u->q, x->qs, LX_QK_K);
        break;
    }
    }
}

/* ==== Dequantizers ==== */

/* (d * sc) * q - dmin * m, in ggml's order of float operations. */
static void k_to_float(int type, size_t block_size, const void *vx, float *y, int64_t n) {
    const uint8_t *x = vx;
    lx_k_unpacked u;
    for (int64_t i = 0; i < n / LX_QK_K; i++, y += LX_QK_K) {
        lx_k_unpack(type, x + (size_t)i * block_size, &u);
        const int sub = LX_QK_K / u.n_sub;
        for (int j = 0; j < u.n_sub; j++) {
            const float dl = u.d * u.sc[j], ml = u.dmin * u.m[j];
            for (int l = 0; l < sub; l++) y[j * sub + l] = dl * u.q[j * sub + l] - ml;
        }
    }
}

void lx_q2_k_to_float(const void *x, float *y, int64_t n) {
    k_to_float(LX_TYPE_Q2_K, sizeof(lx_block_q2_k), x, y, n);
}
void lx_q3_k_to_float(const void *x, float *y, int64_t n) {
    k_to_float(LX_TYPE_Q3_K, sizeof(lx_block_q3_k), x, y, n);
}
void lx_q4_k_to_float(const void *x, float *y, int64_t n) {
    k_to_float(LX_TYPE_Q4_K, sizeof(lx_block_q4_k), x, y, n);
}
void lx_q5_k_to_float(const void *x, float *y, int64_t n) {
    k_to_float(LX_TYPE_Q5_K, sizeof(lx_block_q5_k), x, y, n);
}
void lx_q6_k_to_float(const void *x, float *y, int64_t n) {
    k_to_float(LX_TYPE_Q6_K, sizeof(lx_block_q6_k), x, y, n);
}
void lx_q8_k_to_float(const void *x, float *y, int64_t n) {
    k_to_float(LX_TYPE_Q8_K, sizeof(lx_block_q8_k), x, y, n);
}

/* ==== Quantizers ==== */

/* Scale of a symmetric sub-block: the signed extreme maps to -nmax, so
** quants span [-nmax, nmax - 1] as in ggml. */
static float sym_scale(const float *x, int n, int nmax) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    return max / -(float)nmax;
}

/* Scale and (positive) min of an asymmetric sub-block, x ~ scale*q - min
** with q in [0, nmax]; the min is 0 when every element is positive. */
static float asym_scale(const float *x, int n, int nmax, float *pmin) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    if (lo > 0) lo = 0;
    *pmin = -lo;
    return (hi - lo) / (float)nmax;
}

/* Q2_K and Q3_K share the 2-bit plane layout; L holds 0..3. */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *p = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)(p[0] | p[32] << 2 | p[64] << 4 | p[96] << 6);
        }
}

void lx_q2_k_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q2_k *y = vy;
    for (int64_t i = 0; i < n / LX_QK_K; i++, x += LX_QK_K) {
        float sc[16], mn[16], max_sc = 0, max_mn = 0;
        uint8_t L[LX_QK_K];
        for (int j = 0; j < 16; j++) {
            sc[j] = asym_scale(x + 16 * j, 16, 3, &mn[j]);
            max_sc = fmaxf(max_sc, sc[j]);
            max_mn = fmaxf(max_mn, mn[j]);
        }
        const float isc = max_sc > 0 ? 15.0f / max_sc : 0.0f;
        const float imn = max_mn > 0 ? 15.0f / max_mn : 0.0f;
        for (int j = 0; j < 16; j++)
            y[i].scales[j] = (uint8_t)(clampi(nearest(isc * sc[j]), 0, 15) |
                                       clampi(nearest(imn * mn[j]), 0, 15) << 4);
        y[i].d = lx_f32_to_fp16(max_sc / 15.0f);
        y[i].dmin = lx_f32_to_fp16(max_mn / 15.0f);
        const float d = lx_fp16_to_f32(y[i].d), dmin = lx_fp16_to_f32(y[i].dmin);
        for (int j = 0; j < 16; j++) {
            const float dl = d * (y[i].scales[j] & 0x0f), ml = dmin * (y[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = dl ? (uint8_t)clampi(nearest((x[16 * j + l] + ml) / dl), 0, 3) : 0;
        }
        pack_2bit(L, y[i].qs);
    }
}

void lx_q3_k_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q3_k *y = vy;
    for (int64_t i = 0; i < n / LX_QK_K; i++, x += LX_QK_K) {
        float sc[16], max_sc = 0, amax = 0;
        uint8_t L[LX_QK_K];
        for (int j = 0; j < 16; j++) {
            sc[j] = sym_scale(x + 16 * j, 16, 4);
            if (fabsf(sc[j]) > amax) {
                amax = fabsf(sc[j]);
                max_sc = sc[j];
            }
        }
        memset(y[i].scales, 0, sizeof y[i].scales);
        const float iscale = max_sc ? -32.0f / max_sc : 0.0f;
        for (int j = 0; j < 16; j++) {
            int l = clampi(nearest(iscale * sc[j]), -32, 31) + 32;
            if (j < 8)
                y[i].scales[j] = (uint8_t)(l & 0x0f);
            else
                y[i].scales[j - 8] |= (uint8_t)((l & 0x0f) << 4);
            y[i].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
        }
        y[i].d = lx_f32_to_fp16(max_sc ? 1.0f / iscale : 0.0f);
        const float d = lx_fp16_to_f32(y[i].d);
        for (int j = 0; j < 16; j++) {
            const float dl = d * (float)q3_scale(y[i].scales, j);
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (uint8_t)(dl ? clampi(nearest(x[16 * j + l] / dl), -4, 3) + 4 : 4);
        }
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        for (int k = 0; k < LX_QK_K; k++) {
            if (L[k] > 3) {
                y[i].hmask[k % 32] |= (uint8_t)(1 << (k / 32));
                L[k] -= 4;
            }
        }
        pack_2bit(L, y[i].qs);
    }
}

/* Q4_K and Q5_K: 8 sub-blocks of 32, 6-bit scales and mins. */
static void q45_k_from_float(const float *x, lx_block_q4_k *y4, lx_block_q5_k *y5, int nmax) {
    float sc[8], mn[8], max_sc = 0, max_mn = 0;
    uint8_t L[LX_QK_K], *scales = y4 ? y4->scales : y5->scales;
    uint16_t *pd = y4 ? &y4->d : &y5->d, *pdmin = y4 ? &y4->dmin : &y5->dmin;
    for (int j = 0; j < 8; j++) {
        sc[j] = asym_scale(x + 32 * j, 32, nmax, &mn[j]);
        max_sc = fmaxf(max_sc, sc[j]);
        max_mn = fmaxf(max_mn, mn[j]);
    }
    const float isc = max_sc > 0 ? 63.0f / max_sc : 0.0f;
    const float imn = max_mn > 0 ? 63.0f / max_mn : 0.0f;
    memset(scales, 0, 12);
    for (int j = 0; j < 8; j++) {
        int ls = clampi(nearest(isc * sc[j]), 0, 63), lm = clampi(nearest(imn * mn[j]), 0, 63);
        if (j < 4) {
            scales[j] = (uint8_t)ls;
            scales[j + 4] = (uint8_t)lm;
        } else {
            scales[j + 4] = (uint8_t)((ls & 0x0f) | (lm & 0x0f) << 4);
            scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *pd = lx_f32_to_fp16(max_sc / 63.0f);
    *pdmin = lx_f32_to_fp16(max_mn / 63.0f);
    const float d = lx_fp16_to_f32(*pd), dmin = lx_fp16_to_f32(*pdmin);
    for (int j = 0; j < 8; j++) {
        int16_t s, m;
        lx_k4_scale_min(j, scales, &s, &m);
        const float dl = d * s, ml = dmin * m;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = dl ? (uint8_t)clampi(nearest((x[32 * j + l] + ml) / dl), 0, nmax) : 0;
    }
    uint8_t *qs = y4 ? y4->qs : y5->qs;
    if (y5) memset(y5->qh, 0, sizeof y5->qh);
    for (int k = 0; k < LX_QK_K; k++) {
        if (y5 && L[k] > 15) y5->qh[k % 32] |= (uint8_t)(1 << (k / 32));
        const int byte = 32 * (k / 64) + k % 32, shift = 4 * ((k / 32) % 2);
        if (!shift) qs[byte] = 0;
        qs[byte] |= (uint8_t)((L[k] & 0x0f) << shift);
    }
}

void lx_q4_k_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q4_k *y = vy;
    for (int64_t i = 0; i < n / LX_QK_K; i++) q45_k_from_float(x + i * LX_QK_K, &y[i], NULL, 15);
}

void lx_q5_k_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q5_k *y = vy;
    for (int64_t i = 0; i < n / LX_QK_K; i++) q45_k_from_float(x + i * LX_QK_K, NULL, &y[i], 31);
}

void lx_q6_k_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q6_k *y = vy;
    for (int64_t i = 0; i < n / LX_QK_K; i++, x += LX_QK_K) {
        float sc[16], max_sc = 0, amax = 0;
        uint8_t L[LX_QK_K];
        for (int j = 0; j < 16; j++) {
            sc[j] = sym_scale(x + 16 * j, 16, 32);
            if (fabsf(sc[j]) > amax) {
                amax = fabsf(sc[j]);
                max_sc = sc[j];
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (amax == 0.0f) continue; /* all zero: d = 0 */
        const float iscale = -128.0f / max_sc;
        y[i].d = lx_f32_to_fp16(1.0f / iscale);
        for (int j = 0; j < 16; j++)
            y[i].scales[j] = (int8_t)clampi(nearest(iscale * sc[j]), -128, 127);
        const float d = lx_fp16_to_f32(y[i].d);
        for (int j = 0; j < 16; j++) {
            const float dl = d * y[i].scales[j];
            for (int l = 0; l < 16; l++)
                L[16 * j + l] =
                    (uint8_t)(dl ? clampi(nearest(x[16 * j + l] / dl), -32, 31) + 32 : 32);
        }
        for (int k = 0; k < LX_QK_K; k++) {
            const int h = k / 128, g = (k / 32) % 4, l = k % 32;
            y[i].ql[64 * h + 32 * (g % 2) + l] |= (uint8_t)((L[k] & 0x0f) << (4 * (g / 2)));
            y[i].qh[32 * h + l] |= (uint8_t)((L[k] >> 4) << (2 * g));
        }
    }
}

/* Exactly ggml's quantize_row_q8_K: scale -127/max (max the signed
** extreme), round half to even, plus the sums of each 16 quants. */
void lx_q8_k_from_float(const float *x, void *vy, int64_t n) {
    lx_block_q8_k *y = vy;
    for (int64_t i = 0; i < n / LX_QK_K; i++, x += LX_QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < LX_QK_K; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < LX_QK_K; j++)
            y[i].qs[j] = (int8_t)clampi(nearest(iscale * x[j]), -127, 127);
        for (int j = 0; j < 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}
