/*
** pack.c -- weights repacked at load time for batched matmul: the layout
** of Q4_K in groups of 16 interleaved rows ("Q4_K x16"), the packer, and
** the plain-C kernel that defines the arithmetic every ISA's kernel for the
** layout reproduces bit for bit.
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
*/
#include "kernels.h"

#include <math.h>
#include <string.h>

#define R LX_PACK_ROWS

_Static_assert(sizeof(lx_block_q4_k_x16) == 2368, "q4_K x16 block");
_Static_assert(sizeof(lx_block_q4_k_x16) % 64 == 0, "blocks keep 64-byte alignment");

/* ==== The layouts ==== */

int lx_pack_type(int type) { return type == LX_TYPE_Q4_K ? LX_TYPE_Q4_K_X16 : -1; }

int lx_pack_source(int packed) { return packed == LX_TYPE_Q4_K_X16 ? LX_TYPE_Q4_K : -1; }

size_t lx_pack_row_size(int packed, int64_t n_cols) {
    if (packed != LX_TYPE_Q4_K_X16 || n_cols <= 0 || n_cols % LX_QK_K) return 0;
    size_t out;
    if (!lx_mul_ok((size_t)(n_cols / LX_QK_K), sizeof(lx_block_q4_k_x16) / R, &out)) return 0;
    return out;
}

size_t lx_pack_size(int type, int64_t n_rows, int64_t n_cols) {
    const int p = lx_pack_type(type);
    const size_t row = p < 0 ? 0 : lx_pack_row_size(p, n_cols);
    size_t out;
    if (!row || n_rows <= 0 || n_rows % R || !lx_mul_ok(row, (size_t)n_rows, &out)) return 0;
    return out;
}

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
            for (int u = 0; u < 4; u++) {
                uint32_t lo, hi;
                memcpy(&lo, q + 4 * u, 4);
                memcpy(&hi, q + 16 + 4 * u, 4);
                const uint32_t v = (lo >> sh & 0x0f0f0f0fu) | (hi >> sh & 0x0f0f0f0fu) << 4;
                memcpy(&out->qs[j][u][4 * r], &v, 4);
            }
        }
    }
}

void lx_pack(int type, const void *w, int64_t n_rows, int64_t n_cols, void *out) {
    if (!lx_pack_size(type, n_rows, n_cols)) return;
    const size_t row = lx_row_size(type, n_cols);
    const int64_t nsb = n_cols / LX_QK_K;
    lx_block_q4_k_x16 *o = out;
    for (int64_t g = 0; g < n_rows / R; g++)
        for (int64_t i = 0; i < nsb; i++)
            pack_q4_k_block((const uint8_t *)w + (size_t)(g * R) * row, row, i, o++);
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

/* The tile (LX_GEMM_RN activation rows) and the column (one), as
** lx_gemm_fn: s[c * lds + r] for the group's 16 rows; bx is unused. */
static void rows_q4_k_x16(int64_t n, float *s, size_t lds, const void *vx, const void *vy,
                          size_t by, int ny) {
    for (int c = 0; c < ny; c++) {
        const lx_block_q4_k_x16 *x = vx;
        const lx_block_q8_k *y = (const lx_block_q8_k *)((const uint8_t *)vy + (size_t)c * by);
        float acc[R] = {0};
        for (int64_t i = 0; i < n / LX_QK_K; i++) sb_q4_k_x16(&x[i], &y[i], acc);
        memcpy(s + (size_t)c * lds, acc, sizeof acc);
    }
}

static void tile_q4_k_x16(int64_t n, float *s, size_t lds, const void *vx, size_t bx,
                          const void *vy, size_t by) {
    (void)bx;
    rows_q4_k_x16(n, s, lds, vx, vy, by, LX_GEMM_RN);
}

static void col_q4_k_x16(int64_t n, float *s, size_t lds, const void *vx, size_t bx, const void *vy,
                         size_t by) {
    (void)bx;
    rows_q4_k_x16(n, s, lds, vx, vy, by, 1);
}

lx_pack_kernels lx_pack_kernels_get(int packed, lx_isa isa) {
    lx_pack_kernels k = {NULL, NULL};
    if (packed != LX_TYPE_Q4_K_X16) return k;
    if (isa > lx_isa_best()) isa = lx_isa_best();
    if (isa >= LX_ISA_AVX512) k = lx_pack_avx512_get(packed);
    if (!k.tile) {
        k.tile = tile_q4_k_x16;
        k.col = col_q4_k_x16;
    }
    return k;
}

int lx_pack_pays(int type, lx_isa isa) {
    const int p = lx_pack_type(type);
    if (isa > lx_isa_best()) isa = lx_isa_best();
    return p >= 0 && isa >= LX_ISA_AVX512 && lx_pack_avx512_get(p).tile != NULL;
}
