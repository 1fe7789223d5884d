/*
** pack.c -- weights repacked at load time for batched matmul: the layouts
** of Q4_K, Q6_K, Q4_1 and Q8_0 in groups of 16 interleaved rows ("x16"), the packers
** (Q5_0 packs into Q8_0's layout),
** and the plain-C kernels that define the arithmetic every ISA's kernel for
** a layout reproduces bit for bit.
**
** Why a second layout.  A prompt's matmul is bound by compute, and in the
** file's layout the integer work of a K type is two instructions per 64
** quants and activation row (maddubs, then vpdpwssd to apply the sub-block
** scale), plus unpacking.  AVX-512 VNNI's vpdpbusd multiplies 64 u8 x s8
** pairs into 16 int32 lanes, four a lane, in one instruction, but then the
** scale would have to be applied lane by lane within a row.  Interleave 16
** rows instead: lane r of a register holds four consecutive quants of row
** r, the matching four activation bytes are broadcast to every lane, and
** one vpdpbusd does 64 products for 16 outputs.  The 32 quants of a
** sub-block take eight of them, after which a single vpmulld applies the
** 16 rows' scales at once.  The 16 results of a row group are then the 16
** lanes of one register: no horizontal sums at the end.  Each sub-block of
** weights is unpacked once for all the activation rows of a tile.
**
** The layout, per group of 16 rows g and super-block i (256 columns), one
** lx_block_q4_k_x16 (2,368 bytes: 148 a row against the file's 144):
**   d[r], dmin[r]   row r's fp16 super-block scales, as in the file
**   sc[j][r]        row r's 6-bit scale of sub-block j (32 columns)
**   m[p][r][0..1]   row r's 6-bit mins of sub-blocks 2p and 2p + 1, side by
**                   side: zero-extended to int16 they pair with two
**                   activation sub-block sums in one vpdpwssd lane
**   qs[j][u][4r+b]  low nibble: quant 32j + 4u + b of row r; high nibble:
**                   quant 32j + 16 + 4u + b (u < 4, b < 4)
** Blocks follow each other by super-block within a group, groups by row.
** So a "row" of the layout (what lx_row_size would be) is 148 bytes a
** super-block, and group g starts at 16 g such rows, as matmul.c expects.
**
** The arithmetic, per output (weight row r, activation row y of Q8_K):
**   acc = 0
**   per super-block: isum = sum_j sc_j * (q . y.qs over sub-block j)
**                    imin = sum_j m_j * (y.bsums[2j] + y.bsums[2j + 1])
**                    acc = fma((float)isum,  d * y.d,    acc)
**                    acc = fma(-(float)imin, dmin * y.d, acc)
** The integer sums are exact (|isum| < 2^25), each float step is one
** rounding, and the order is fixed, so the SIMD kernel, which does the same
** per lane, gives the same bits as this one; results differ from the
** file layout's kernels by float summation order only.
**
** Q6_K x16 (3,392 bytes a group and super-block: 212 a row against 210)
** follows the same plan with 16 sub-blocks of 16 quants and a signed
** scale each:
**   ql[j][h][4r+b]  low four bits: low nibble quant 16j + 8h + b of row r,
**                   high nibble quant 16j + 8h + 4 + b
**   qh[j][4r+b]     bits 2t, 2t + 1: top two bits of quant 16j + 4t + b
**   sc[j][r]        row r's int8 scale of sub-block j;  d[r] as in the file
** and the stored quants are q + 32 (0..63, unsigned for vpdpbusd), so
**   isum = sum_j sc_j * (q . y.qs - 32 * y.bsums[j])   over sub-block j
**   acc  = fma((float)isum, d * y.d, acc)
** (|isum| < 2^28.)
**
** Q4_1 x16 (320 bytes a group and block of 32: 20 a row, as in the file)
** holds d[r] and m[r] and the quants as qs[u][4r+b] (low nibble quant
** 4u + b, high nibble 16 + 4u + b: the file's own byte), and with Q8_1
** activations (d, s = d * sum of the quants)
**   acc = fma((float)(q . y.qs), d * y.d, acc);  acc = fma(m, y.s, acc)
**
** Q8_0 x16 (576 bytes a group and block: 36 a row against 34) holds d[r]
** and the quants as qs[t][4r+b] = quant 4t + b + 128 (unsigned, for
** vpdpbusd's unsigned side), so q . a = qs . a - 128 * sum(a), the sums
** coming with the activations; with Q8_0 activations
**   acc = fma((float)(q . y.qs), d * y.d, acc)
** Q5_0 (x = (q - 16) d, q in 0..31, with the same Q8_0 activations) packs
** into this layout too, losslessly: q - 16 is a Q8_0 quant with the same d.
**
** Activation rows (lx_pack_act_prep): Q4_1 x16's carry each block's d and
** s as floats after the row, Q8_0 x16's each block's -128 * sum(qs) and d
** (an int32 and a float), so the tiles need not widen fp16 values or sum
** bytes per block and activation row.
*/
#include "kernels.h"

#include <math.h>
#include <string.h>

#define R LX_PACK_ROWS

_Static_assert(sizeof(lx_block_q4_k_x16) == 2368, "q4_K x16 block");
_Static_assert(sizeof(lx_block_q6_k_x16) == 3392, "q6_K x16 block");
_Static_assert(sizeof(lx_block_q4_1_x16) == 320, "q4_1 x16 block");
_Static_assert(sizeof(lx_block_q8_0_x16) == 576, "q8_0 x16 block");
_Static_assert(sizeof(lx_block_q4_k_x16) % 64 == 0 && sizeof(lx_block_q6_k_x16) % 64 == 0 &&
                   sizeof(lx_block_q4_1_x16) % 64 == 0 && sizeof(lx_block_q8_0_x16) % 64 == 0,
               "blocks keep 64-byte alignment");

/* ==== The layouts ==== */

static const struct {
    int type, packed;
    size_t block; /* bytes a group of R rows and a block of the type */
    int cols;     /* columns a block */
} layouts[] = {
    {LX_TYPE_Q4_K, LX_TYPE_Q4_K_X16, sizeof(lx_block_q4_k_x16), LX_QK_K},
    {LX_TYPE_Q6_K, LX_TYPE_Q6_K_X16, sizeof(lx_block_q6_k_x16), LX_QK_K},
    {LX_TYPE_Q4_1, LX_TYPE_Q4_1_X16, sizeof(lx_block_q4_1_x16), LX_QK},
    {LX_TYPE_Q8_0, LX_TYPE_Q8_0_X16, sizeof(lx_block_q8_0_x16), LX_QK},
    /* after Q8_0: the layout's source, for its activations, stays Q8_0 */
    {LX_TYPE_Q5_0, LX_TYPE_Q8_0_X16, sizeof(lx_block_q8_0_x16), LX_QK},
};

int lx_pack_type(int type) {
    for (size_t i = 0; i < LX_ARRAY_LEN(layouts); i++)
        if (layouts[i].type == type) return layouts[i].packed;
    return -1;
}

int lx_pack_source(int packed) {
    for (size_t i = 0; i < LX_ARRAY_LEN(layouts); i++)
        if (layouts[i].packed == packed) return layouts[i].type;
    return -1;
}

size_t lx_pack_row_size(int packed, int64_t n_cols) {
    size_t block = 0, out;
    int cols = 0;
    for (size_t i = 0; i < LX_ARRAY_LEN(layouts); i++)
        if (layouts[i].packed == packed) block = layouts[i].block, cols = layouts[i].cols;
    if (!block || n_cols <= 0 || n_cols % cols) return 0;
    if (!lx_mul_ok((size_t)(n_cols / cols), block / R, &out)) return 0;
    return out;
}

size_t lx_pack_size(int type, int64_t n_rows, int64_t n_cols) {
    const int p = lx_pack_type(type);
    const size_t row = p < 0 ? 0 : lx_pack_row_size(p, n_cols);
    size_t out;
    if (!row || n_rows <= 0 || n_rows % R || !lx_mul_ok(row, (size_t)n_rows, &out)) return 0;
    return out;
}

/* ==== The packers ==== */

/* Four bytes at p as a uint32, and back. */
static uint32_t get4(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static void put4(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Rows r0..r0+15 of a Q4_K matrix (row bytes apart), super-block i.  In
** the file, sub-block j's 32 quants are the low (j even) or high (j odd)
** nibbles of bytes 32 (j / 2) .. 32 (j / 2) + 31. */
static void pack_q4_k_block(const uint8_t *w, size_t row, int64_t i, lx_block_q4_k_x16 *out) {
    for (int r = 0; r < R; r++) {
        const lx_block_q4_k *b = (const lx_block_q4_k *)(w + (size_t)r * row) + i;
        out->d[r] = b->d;
        out->dmin[r] = b->dmin;
        for (int j = 0; j < 8; j++) {
            int16_t sc, m;
            lx_k4_scale_min(j, b->scales, &sc, &m);
            out->sc[j][r] = (uint8_t)sc;
            out->m[j / 2][r][j % 2] = (uint8_t)m;
            /* Four quants at a time: nibbles of four bytes in a uint32. */
            const uint8_t *q = b->qs + 32 * (j / 2);
            const unsigned sh = 4 * (j % 2);
            for (int u = 0; u < 4; u++)
                put4(&out->qs[j][u][4 * r], (get4(q + 4 * u) >> sh & 0x0f0f0f0fu) |
                                                (get4(q + 16 + 4 * u) >> sh & 0x0f0f0f0fu) << 4);
        }
    }
}

/* Rows r0..r0+15 of a Q6_K matrix, super-block i.  In the file, quant
** 128h + 32g + l has its low four bits in ql[64h + 32(g % 2) + l] (high
** nibble for g >= 2) and its top two at bit 2g of qh[32h + l]; so the 16
** quants of sub-block j = 8h + 2g + e (l = 16e + k) are contiguous bytes
** of both, and four of them are handled at a time. */
static void pack_q6_k_block(const uint8_t *w, size_t row, int64_t i, lx_block_q6_k_x16 *out) {
    memset(out->pad, 0, sizeof out->pad);
    for (int r = 0; r < R; r++) {
        const lx_block_q6_k *b = (const lx_block_q6_k *)(w + (size_t)r * row) + i;
        out->d[r] = b->d;
        for (int j = 0; j < 16; j++) {
            const int h = j / 8, g = (j / 2) % 4, e = j % 2;
            const uint8_t *ql = b->ql + 64 * h + 32 * (g % 2) + 16 * e;
            const uint8_t *qh = b->qh + 32 * h + 16 * e;
            uint32_t lo[4], hi[4];
            for (int t = 0; t < 4; t++) {
                lo[t] = get4(ql + 4 * t) >> (4 * (g / 2)) & 0x0f0f0f0fu;
                hi[t] = get4(qh + 4 * t) >> (2 * g) & 0x03030303u;
            }
            out->sc[j][r] = b->scales[j];
            put4(&out->ql[j][0][4 * r], lo[0] | lo[1] << 4);
            put4(&out->ql[j][1][4 * r], lo[2] | lo[3] << 4);
            put4(&out->qh[j][4 * r], hi[0] | hi[1] << 2 | hi[2] << 4 | hi[3] << 6);
        }
    }
}

/* Rows r0..r0+15 of a Q4_1 matrix, block i: the file's byte 4u + b holds
** quants 4u + b and 16 + 4u + b, just as the packed byte does. */
static void pack_q4_1_block(const uint8_t *w, size_t row, int64_t i, lx_block_q4_1_x16 *out) {
    for (int r = 0; r < R; r++) {
        const lx_block_q4_1 *b = (const lx_block_q4_1 *)(w + (size_t)r * row) + i;
        out->d[r] = b->d;
        out->m[r] = b->m;
        for (int u = 0; u < 4; u++) memcpy(&out->qs[u][4 * r], b->qs + 4 * u, 4);
    }
}

/* Rows r0..r0+15 of a Q8_0 matrix, block i: quants four at a time, made
** unsigned (q ^ 0x80 = q + 128; see the top). */
static void pack_q8_0_block(const uint8_t *w, size_t row, int64_t i, lx_block_q8_0_x16 *out) {
    memset(out->pad, 0, sizeof out->pad);
    for (int r = 0; r < R; r++) {
        const lx_block_q8_0 *b = (const lx_block_q8_0 *)(w + (size_t)r * row) + i;
        out->d[r] = b->d;
        for (int t = 0; t < 8; t++)
            put4(&out->qs[t][4 * r], get4((const uint8_t *)b->qs + 4 * t) ^ 0x80808080u);
    }
}

/* Rows r0..r0+15 of a Q5_0 matrix, block i, into Q8_0's layout: quant
** j's low four bits are nibble j % 16 of qs, its fifth bit j of qh; the
** Q8_0 quant q - 16, made unsigned, is q + 112. */
static void pack_q5_0_block(const uint8_t *w, size_t row, int64_t i, lx_block_q8_0_x16 *out) {
    memset(out->pad, 0, sizeof out->pad);
    for (int r = 0; r < R; r++) {
        const lx_block_q5_0 *b = (const lx_block_q5_0 *)(w + (size_t)r * row) + i;
        out->d[r] = b->d;
        for (int j = 0; j < LX_QK; j++) {
            const unsigned lo = j < 16 ? b->qs[j] & 0x0f : b->qs[j - 16] >> 4;
            const unsigned hi = (unsigned)(b->qh[j / 8] >> (j % 8) & 1);
            out->qs[j / 4][4 * r + j % 4] = (uint8_t)((lo | hi << 4) + 112);
        }
    }
}

void lx_pack(int type, const void *w, int64_t n_rows, int64_t n_cols, void *out) {
    if (!lx_pack_size(type, n_rows, n_cols)) return;
    const size_t row = lx_row_size(type, n_cols);
    const int64_t nb = n_cols / lx_type_traits_get(type)->blck_size;
    lx_block_q4_k_x16 *o4 = out;
    lx_block_q6_k_x16 *o6 = out;
    lx_block_q4_1_x16 *o1 = out;
    lx_block_q8_0_x16 *o8 = out;
    for (int64_t g = 0; g < n_rows / R; g++) {
        const uint8_t *wg = (const uint8_t *)w + (size_t)(g * R) * row;
        for (int64_t i = 0; i < nb; i++) {
            if (type == LX_TYPE_Q4_K)
                pack_q4_k_block(wg, row, i, o4++);
            else if (type == LX_TYPE_Q6_K)
                pack_q6_k_block(wg, row, i, o6++);
            else if (type == LX_TYPE_Q4_1)
                pack_q4_1_block(wg, row, i, o1++);
            else if (type == LX_TYPE_Q5_0)
                pack_q5_0_block(wg, row, i, o8++);
            else
                pack_q8_0_block(wg, row, i, o8++);
        }
    }
}

/* ==== Activation rows ==== */

size_t lx_pack_act_extra(int type, int64_t n_cols) {
    if ((type != LX_TYPE_Q4_1_X16 && type != LX_TYPE_Q8_0_X16) || n_cols <= 0 || n_cols % LX_QK)
        return 0;
    return (size_t)(n_cols / LX_QK) * 8; /* two 4-byte values a block */
}

void lx_pack_act_prep(int packed, void *row, int64_t n_cols) {
    lx_pack_act_prep_blocks(packed, row, n_cols, 0, n_cols / LX_QK);
}

void lx_pack_act_prep_blocks(int packed, void *row, int64_t n_cols, int64_t i0, int64_t i1) {
    if (!lx_pack_act_extra(packed, n_cols)) return;
    const int64_t nb = n_cols / LX_QK;
    i0 = LX_MAX(i0, 0);
    i1 = LX_MIN(i1, nb);
    if (packed == LX_TYPE_Q4_1_X16) {
        const lx_block_q8_1 *b = row;
        uint8_t *f = (uint8_t *)(b + nb);
        for (int64_t i = i0; i < i1; i++) {
            const float v[2] = {lx_fp16_to_f32(b[i].d), lx_fp16_to_f32(b[i].s)};
            memcpy(f + 8 * i, v, 8);
        }
    } else {
        const lx_block_q8_0 *b = row;
        uint8_t *f = (uint8_t *)(b + nb);
        for (int64_t i = i0; i < i1; i++) {
            int32_t sum = 0;
            for (int k = 0; k < LX_QK; k++) sum += b[i].qs[k];
            const int32_t off = -128 * sum;
            const float d = lx_fp16_to_f32(b[i].d);
            memcpy(f + 8 * i, &off, 4);
            memcpy(f + 8 * i + 4, &d, 4);
        }
    }
}

/* ==== The reference kernel ==== */

/* One super-block of rows r < 16 against activation block y: the
** comment's two integer sums, then the two roundings into acc[r]. */
static void sb_q4_k_x16(const lx_block_q4_k_x16 *x, const lx_block_q8_k *y, float *acc) {
    for (int r = 0; r < R; r++) {
        int32_t isum = 0, imin = 0;
        for (int j = 0; j < 8; j++) {
            int32_t p = 0;
            for (int k = 0; k < 16; k++) {
                const uint8_t q = x->qs[j][k / 4][4 * r + k % 4];
                p += (q & 0x0f) * y->qs[32 * j + k] + (q >> 4) * y->qs[32 * j + 16 + k];
            }
            isum += x->sc[j][r] * p;
            imin += x->m[j / 2][r][j % 2] * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
        }
        acc[r] = fmaf((float)isum, lx_fp16_to_f32(x->d[r]) * y->d, acc[r]);
        acc[r] = fmaf(-(float)imin, lx_fp16_to_f32(x->dmin[r]) * y->d, acc[r]);
    }
}

/* Q6_K x16: the stored quant of row r at column 16j + k. */
static int q6_at(const lx_block_q6_k_x16 *x, int r, int j, int k) {
    const int t = k / 4, b = k % 4;
    const int lo = x->ql[j][t / 2][4 * r + b] >> (4 * (t % 2)) & 0x0f;
    return lo | (x->qh[j][4 * r + b] >> (2 * t) & 3) << 4;
}

static void sb_q6_k_x16(const lx_block_q6_k_x16 *x, const lx_block_q8_k *y, float *acc) {
    for (int r = 0; r < R; r++) {
        int32_t isum = 0;
        for (int j = 0; j < 16; j++) {
            int32_t p = -32 * y->bsums[j];
            for (int k = 0; k < 16; k++) p += q6_at(x, r, j, k) * y->qs[16 * j + k];
            isum += x->sc[j][r] * p;
        }
        acc[r] = fmaf((float)isum, lx_fp16_to_f32(x->d[r]) * y->d, acc[r]);
    }
}

static void blk_q4_1_x16(const lx_block_q4_1_x16 *x, const lx_block_q8_1 *y, float *acc) {
    const float dy = lx_fp16_to_f32(y->d), sy = lx_fp16_to_f32(y->s);
    for (int r = 0; r < R; r++) {
        int32_t p = 0;
        for (int k = 0; k < 16; k++) {
            const uint8_t q = x->qs[k / 4][4 * r + k % 4];
            p += (q & 0x0f) * y->qs[k] + (q >> 4) * y->qs[16 + k];
        }
        acc[r] = fmaf((float)p, lx_fp16_to_f32(x->d[r]) * dy, acc[r]);
        acc[r] = fmaf(lx_fp16_to_f32(x->m[r]), sy, acc[r]);
    }
}

static void blk_q8_0_x16(const lx_block_q8_0_x16 *x, const lx_block_q8_0 *y, float *acc) {
    const float dy = lx_fp16_to_f32(y->d);
    for (int r = 0; r < R; r++) {
        int32_t p = 0;
        for (int k = 0; k < LX_QK; k++) p += (x->qs[k / 4][4 * r + k % 4] - 128) * y->qs[k];
        acc[r] = fmaf((float)p, lx_fp16_to_f32(x->d[r]) * dy, acc[r]);
    }
}

/* The tile (LX_PACK_RN activation rows) and the column (one), as
** lx_gemm_fn: s[c * lds + r] for the group's 16 rows; bx is unused. */
#define ROWS(name, btype, ytype, qk, sb)                                                           \
    static void name(int64_t n, float *s, size_t lds, const void *vx, const void *vy, size_t by,   \
                     int ny) {                                                                     \
        for (int c = 0; c < ny; c++) {                                                             \
            const btype *x = vx;                                                                   \
            const ytype *y = (const ytype *)((const uint8_t *)vy + (size_t)c * by);                \
            float acc[R] = {0};                                                                    \
            for (int64_t i = 0; i < n / (qk); i++) sb(&x[i], &y[i], acc);                          \
            memcpy(s + (size_t)c * lds, acc, sizeof acc);                                          \
        }                                                                                          \
    }                                                                                              \
    static void name##_tile(int64_t n, float *s, size_t lds, const void *vx, size_t bx,            \
                            const void *vy, size_t by) {                                           \
        (void)bx;                                                                                  \
        name(n, s, lds, vx, vy, by, LX_PACK_RN);                                                   \
    }                                                                                              \
    static void name##_col(int64_t n, float *s, size_t lds, const void *vx, size_t bx,             \
                           const void *vy, size_t by) {                                            \
        (void)bx;                                                                                  \
        name(n, s, lds, vx, vy, by, 1);                                                            \
    }

ROWS(rows_q4_k_x16, lx_block_q4_k_x16, lx_block_q8_k, LX_QK_K, sb_q4_k_x16)
ROWS(rows_q6_k_x16, lx_block_q6_k_x16, lx_block_q8_k, LX_QK_K, sb_q6_k_x16)
ROWS(rows_q4_1_x16, lx_block_q4_1_x16, lx_block_q8_1, LX_QK, blk_q4_1_x16)
ROWS(rows_q8_0_x16, lx_block_q8_0_x16, lx_block_q8_0, LX_QK, blk_q8_0_x16)

lx_pack_kernels lx_pack_kernels_get(int packed, lx_isa isa) {
    lx_pack_kernels k = {NULL, NULL, NULL};
    if (lx_pack_source(packed) < 0) return k;
    if (isa > lx_isa_best()) isa = lx_isa_best();
    if (isa >= LX_ISA_AVX512) k = lx_pack_avx512_get(packed);
    if (!k.tile && isa >= LX_ISA_AVX2) k = lx_pack_avx2_get(packed);
    if (k.tile) return k;
    if (packed == LX_TYPE_Q4_K_X16) {
        k.tile = rows_q4_k_x16_tile;
        k.col = rows_q4_k_x16_col;
    } else if (packed == LX_TYPE_Q6_K_X16) {
        k.tile = rows_q6_k_x16_tile;
        k.col = rows_q6_k_x16_col;
    } else if (packed == LX_TYPE_Q4_1_X16) {
        k.tile = rows_q4_1_x16_tile;
        k.col = rows_q4_1_x16_col;
    } else {
        k.tile = rows_q8_0_x16_tile;
        k.col = rows_q8_0_x16_col;
    }
    return k;
}

int lx_pack_pays(int type, lx_isa isa) {
    const int p = lx_pack_type(type);
    if (isa > lx_isa_best()) isa = lx_isa_best();
    return p >= 0 && ((isa >= LX_ISA_AVX512 && lx_pack_avx512_get(p).tile) ||
                      (isa >= LX_ISA_AVX2 && lx_pack_avx2_get(p).tile));
}
