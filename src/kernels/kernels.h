/*
** kernels.h -- tensor types, their block layouts, dequantizers and dot
** products, plus the float ops of a transformer layer.
**
** Type numbers follow GGML's, since GGUF stores them.  Every type has a
** plain-C reference path; AVX2 and AVX-512 paths are picked at run time by
** CPU detection, and LEXIE_ISA=scalar|avx2|avx512 forces one (clamped to
** what the CPU has), so tests can run every path on one machine.
**
** A dot product multiplies a weight row of type T by an activation row of
** T's vec_dot_type (Q8_0 or Q8_1 for the 4- and 8-bit types, F32 for
** float weights): activations are quantized once per matmul, exactly as
** llama.cpp does, so logits match it closely.
*/
#ifndef LX_KERNELS_H
#define LX_KERNELS_H

#include "base/base.h"

#include <math.h>
#include <stdint.h>

typedef enum lx_type {
    LX_TYPE_F32 = 0,
    LX_TYPE_F16 = 1,
    LX_TYPE_Q4_0 = 2,
    LX_TYPE_Q4_1 = 3,
    LX_TYPE_Q5_0 = 6,
    LX_TYPE_Q5_1 = 7,
    LX_TYPE_Q8_0 = 8,
    LX_TYPE_Q8_1 = 9,
    LX_TYPE_Q2_K = 10,
    LX_TYPE_Q3_K = 11,
    LX_TYPE_Q4_K = 12,
    LX_TYPE_Q5_K = 13,
    LX_TYPE_Q6_K = 14,
    LX_TYPE_Q8_K = 15,
    LX_TYPE_BF16 = 30,
    LX_TYPE_COUNT = 40, /* bound for tables; not a type */
    /* lexie's own layouts, built at load time (pack.c): never in a file,
    ** so lx_type_traits_get knows none of them. */
    LX_TYPE_Q4_K_X16 = 64, /* Q4_K, rows interleaved in groups of 16 */
    LX_TYPE_Q6_K_X16 = 65, /* Q6_K, likewise */
    LX_TYPE_Q4_1_X16 = 66, /* Q4_1, likewise */
    LX_TYPE_Q8_0_X16 = 67, /* Q8_0, likewise */
} lx_type;

typedef enum lx_isa {
    LX_ISA_SCALAR = 0,
    LX_ISA_AVX2 = 1,
    LX_ISA_AVX512 = 2,
} lx_isa;

/* ==== Block layouts (pinned: they are the file format) ==== */

#define LX_QK 32    /* elements per block of the legacy types */
#define LX_QK_K 256 /* elements per super-block of the K types */

typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[LX_QK / 2];
} lx_block_q4_1;
typedef struct {
    uint16_t d;
    uint8_t qs[LX_QK / 2];
} lx_block_q4_0;
typedef struct {
    uint16_t d;
    int8_t qs[LX_QK];
} lx_block_q8_0;
typedef struct {
    uint16_t d;
    uint16_t s;
    int8_t qs[LX_QK];
} lx_block_q8_1; /* s = d * sum(qs) */
_Static_assert(sizeof(lx_block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(lx_block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(lx_block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(lx_block_q8_1) == 36, "q8_1 block");

/* Q4_0: x = (q - 8) * d, q in 0..15.  Q4_1: x = q * d + m.  Byte j of qs
** holds element j in its low nibble and element j + 16 in its high one.
** Q8_0/Q8_1: x = q * d, d = amax / 127.
** Q5_0: x = (q - 16) * d; Q5_1: x = q * d + m, q in 0..31, the low four bits
** as in Q4_*, bit 4 of element j in bit j of qh (read little-endian). */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[LX_QK / 2];
} lx_block_q5_0;
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[LX_QK / 2];
} lx_block_q5_1;
_Static_assert(sizeof(lx_block_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(lx_block_q5_1) == 24, "q5_1 block");

/* K types: 256 elements in sub-blocks of 16 or 32, each with a small
** integer scale (and min) that multiplies the fp16 super-block d (dmin).
** Q4_K/Q5_K: 8 sub-blocks of 32, x = d*sc*q - dmin*m, 6-bit sc and m
** packed in scales[12].  Q6_K: 16 sub-blocks of 16, x = d*sc*(q - 32) with
** int8 sc.  Q2_K: 16 sub-blocks of 16, scales[j] = sc | m << 4.  Q3_K: 16
** sub-blocks of 16, 6-bit sc (biased by 32) packed in scales[12], q - 4
** with the high bit of q in hmask (a clear bit means subtract 4).
** Q8_K: float d, x = q * d, bsums = sums of 16 consecutive qs. */
typedef struct {
    uint8_t scales[LX_QK_K / 16];
    uint8_t qs[LX_QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} lx_block_q2_k;
typedef struct {
    uint8_t hmask[LX_QK_K / 8];
    uint8_t qs[LX_QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} lx_block_q3_k;
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[LX_QK_K / 2];
} lx_block_q4_k;
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[LX_QK_K / 8];
    uint8_t qs[LX_QK_K / 2];
} lx_block_q5_k;
typedef struct {
    uint8_t ql[LX_QK_K / 2];
    uint8_t qh[LX_QK_K / 4];
    int8_t scales[LX_QK_K / 16];
    uint16_t d;
} lx_block_q6_k;
typedef struct {
    float d;
    int8_t qs[LX_QK_K];
    int16_t bsums[LX_QK_K / 16];
} lx_block_q8_k;
_Static_assert(sizeof(lx_block_q2_k) == 84, "q2_K block");
_Static_assert(sizeof(lx_block_q3_k) == 110, "q3_K block");
_Static_assert(sizeof(lx_block_q4_k) == 144, "q4_K block");
_Static_assert(sizeof(lx_block_q5_k) == 176, "q5_K block");
_Static_assert(sizeof(lx_block_q6_k) == 210, "q6_K block");
_Static_assert(sizeof(lx_block_q8_k) == 292, "q8_K block");

/* ==== Type traits ==== */

typedef void (*lx_to_float_fn)(const void *x, float *y, int64_t n);
typedef void (*lx_from_float_fn)(const float *x, void *y, int64_t n);
/* *s = dot(x, y) over n elements: x a row of the weight type, y a row of
** its vec_dot_type.  n is a multiple of the block size. */
typedef void (*lx_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);

typedef struct lx_type_traits {
    const char *name;            /* "Q4_1" */
    int blck_size;               /* elements per block */
    size_t type_size;            /* bytes per block */
    lx_type vec_dot_type;        /* activation type for dot products */
    lx_to_float_fn to_float;     /* reference dequantizer */
    lx_from_float_fn from_float; /* reference quantizer (round-trip tests, activations) */
} lx_type_traits;

/* NULL when lexie cannot compute with this type. */
const lx_type_traits *lx_type_traits_get(int type);
/* "Q4_1", or "unknown" for numbers with no name. */
const char *lx_type_name(int type);
/* Bytes in a row of n elements; 0 if n is not a multiple of the block size
** or the type is unsupported. */
size_t lx_row_size(int type, int64_t n);

/* ==== ISA selection ==== */

lx_isa lx_isa_best(void);   /* what this CPU supports */
lx_isa lx_isa_active(void); /* best, or LEXIE_ISA clamped to best; cached */
const char *lx_isa_name(lx_isa isa);
/* Makes lx_isa_active() return isa (clamped to the CPU's), or, for -1,
** re-read LEXIE_ISA.  For tests that run a whole model on every path;
** call it only while no matmul is running. */
void lx_isa_override(int isa);

/* The dot kernel for type on isa, falling back to the best lower ISA that
** has one; NULL if the type is unsupported. */
lx_vec_dot_fn lx_vec_dot_get(int type, lx_isa isa);
/* The activation quantizer for vec_dot_type on isa (results agree with the
** reference within rounding). */
lx_from_float_fn lx_quantize_get(int vec_dot_type, lx_isa isa);

/* ==== Scalar conversions ==== */

float lx_fp16_to_f32(uint16_t h);
uint16_t lx_f32_to_fp16(float f); /* round to nearest even */
float lx_bf16_to_f32(uint16_t h);
uint16_t lx_f32_to_bf16(float f); /* round to nearest even */

/* ==== Matrix multiply ==== */

/* y[b*n_rows + r] = sum_c W[r][c] * x[b*n_cols + c] for b < n_batch.
** W is n_rows rows of type `type`, each lx_row_size(type, n_cols) bytes.
** qbuf is caller scratch of lx_matmul_qbuf_size(type, n_cols, n_batch)
** bytes where x is quantized once (a packed type's size: see
** lx_pack_act_extra).  Work is split over the pool's threads
** by rows.  Uses lx_isa_active(). */
size_t lx_matmul_qbuf_size(int type, int64_t n_cols, int64_t n_batch);
void lx_matmul(lx_pool *pool, const void *w, int type, int64_t n_rows, int64_t n_cols,
               const float *x, int64_t n_batch, float *y, void *qbuf);

/* Several weights that read the same activations (q, k and v; gate and
** up): x is quantized once and all their rows go to the pool in one pass,
** so a decoding step wakes the threads once instead of once a weight.
** Each output is what lx_matmul would give.  The weights must share the
** activation format (lx_matmul_shares_act with the first), else nothing is
** written; qbuf is sized for the first's type. */
#define LX_MATMUL_MAX_PARTS 4
typedef struct {
    const void *w;
    int type;
    int64_t n_rows;
    float *y; /* (n_batch, n_rows) */
} lx_matmul_out;
void lx_matmul_multi(lx_pool *pool, const lx_matmul_out *outs, int n_outs, int64_t n_cols,
                     const float *x, int64_t n_batch, void *qbuf);
/* Whether activations quantized for type a serve type b as they are. */
int lx_matmul_shares_act(int type_a, int type_b);

/* Activation rows quantized ahead of the product, by the pass that made
** them (a norm, SwiGLU), each thread its own rows while they are in its
** cache: lx_matmul would otherwise quantize them all on the calling
** thread, after fetching half of them from the other cores.  Each row is
** what lx_matmul makes of it.  lx_matmul_act_init: for weights of type
** `type` reading rows of n_cols, into qbuf (lx_matmul_qbuf_size); 0 (and
** nothing to do) where the type reads float activations.
** lx_matmul_act_rows quantizes rows r0..r1-1 of x; lx_matmul_act_cols
** columns c0..c1-1 (whole blocks of a->block) of rows 0..n-1, the same
** bytes as whole rows give.  Once every row is done, lx_matmul_multi_ex
** with ready takes qbuf as it is (x is not read). */
typedef struct {
    lx_from_float_fn quantize;
    int type, packed;
    int64_t n_cols, block; /* block: columns per block of the activation format */
    size_t q_row, q_block; /* bytes of a row, of a block */
    void *qbuf;
} lx_matmul_act;
int lx_matmul_act_init(lx_matmul_act *a, int type, int64_t n_cols, void *qbuf);
void lx_matmul_act_rows(const lx_matmul_act *a, const float *x, int64_t r0, int64_t r1);
void lx_matmul_act_cols(const lx_matmul_act *a, const float *x, int64_t n, int64_t c0, int64_t c1);

/* lx_matmul_multi with options.  ready: qbuf already holds x quantized
** (lx_matmul_act_*).  epi (NULL: none): the parts have equal rows, and as
** soon as a thread has computed rows r0..r1-1 of every part for all the
** activation rows it calls epi(epi_arg, r0, r1), r0 and r1 multiples of
** epi_align (a multiple of 16 dividing the rows); SwiGLU and the
** quantization for the next product run there, on the thread whose cache
** holds those outputs. */
typedef struct {
    int ready;
    void (*epi)(void *epi_arg, int64_t r0, int64_t r1);
    void *epi_arg;
    int64_t epi_align;
} lx_matmul_opts;
void lx_matmul_multi_ex(lx_pool *pool, const lx_matmul_out *outs, int n_outs, int64_t n_cols,
                        const float *x, int64_t n_batch, void *qbuf, const lx_matmul_opts *o);

/* ==== Float ops ==== */

/* out = x / sqrt(mean(x^2) + eps) * w  (w may be NULL: no scaling) */
void lx_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
/* The same for rows rows of n (x and out rows n apart), each row bit for
** bit what lx_rmsnorm gives it. */
void lx_rmsnorm_rows(float *out, const float *x, const float *w, int64_t rows, int64_t n,
                     float eps);
float lx_dot_f32(const float *a, const float *b, int64_t n);
/* y += a * x */
void lx_axpy_f32(float *y, float a, const float *x, int64_t n);
/* in place, numerically stable (subtract the max first) */
void lx_softmax(float *x, int64_t n);
/* gate[i] = silu(gate[i]) * up[i] */
void lx_swiglu(float *gate, const float *up, int64_t n);

/* ==== Additions: notes on the contract above ==== */

/* Types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q6_K and
** Q8_K.  vec_dot_type: Q4_0/Q5_0/Q8_0 -> Q8_0, Q4_1/Q5_1 -> Q8_1, K types ->
** Q8_K (as in ggml); F32/F16/BF16 -> F32 (ggml takes F16 activations for
** F16 weights; lexie keeps them in float, one rounding fewer).
**
** lx_matmul: pool may be NULL (the calling thread does all the work).
** lx_matmul_qbuf_size is 0 for float weights, whose activations are used
** as they are; qbuf may then be NULL.  n_cols must be a whole number of
** blocks of both the weight type and its vec_dot_type (lx_row_size != 0):
** otherwise lx_matmul writes nothing.  Outputs are batch-invariant: each
** one is bit for bit the same whatever the other activation rows, their
** number and the threads.  Types with tile kernels compute every output
** with the tile's arithmetic (tiles, and column kernels for the rest),
** which differs from their dot kernel by float summation order only; the
** others use their dot kernel for every output.
**
** lx_softmax: a row that is all -inf becomes uniform (1/n), not NaN.
** lx_rmsnorm and lx_softmax accumulate in double, as ggml does.  out may
** alias x in lx_rmsnorm. */

/* ==== Additions: ISA policy, explicit-ISA entry points ==== */

/* "scalar", "avx2" or "avx512" (any case) -> that ISA; anything else,
** NULL included, -> -1. */
int lx_isa_parse(const char *s);
/* The policy of lx_isa_active for a LEXIE_ISA value: the parsed ISA clamped
** to lx_isa_best(), or lx_isa_best() when value is NULL or not a name. */
lx_isa lx_isa_from_env(const char *value);

/* lx_matmul on an explicit ISA (clamped to lx_isa_best()), so tests and
** benchmarks can run every path in one process. */
void lx_matmul_isa(lx_pool *pool, lx_isa isa, const void *w, int type, int64_t n_rows,
                   int64_t n_cols, const float *x, int64_t n_batch, float *y, void *qbuf);
void lx_matmul_multi_isa(lx_pool *pool, lx_isa isa, const lx_matmul_out *outs, int n_outs,
                         int64_t n_cols, const float *x, int64_t n_batch, void *qbuf);

/* The float ops of one ISA (clamped to lx_isa_best()); lx_dot_f32 and
** friends use lx_float_ops_get(lx_isa_active()). */
typedef struct lx_float_ops {
    float (*dot)(const float *a, const float *b, int64_t n);
    void (*axpy)(float *y, float a, const float *x, int64_t n);
    void (*swiglu)(float *gate, const float *up, int64_t n);
    /* x[i] = exp(x[i] - m); returns the sum of the new x[i], in double. */
    double (*exp_sum)(float *x, int64_t n, float m);
    /* Attention of nq queries (q + j * hd, the heads that share one KV
    ** head) against cached rows: row t is x + idx[t] * stride, hd floats.
    ** dot_rows: s[j * ns + t] = scale * dot(query j, row t), t < n.
    ** sum_rows: y + j * hd += sum over t of w[j * ns + t] * row t, added
    ** to y one row at a time in order, so a sum split into two calls over
    ** [0, k) and [k, n) equals one call over [0, n) bit for bit (the caller
    ** zeroes y first).  Each row is read once for all nq queries.
    ** dot_rows's pf (NULL: none) is rows at the same idx and stride that
    ** are read next (the values of the weighted sums): a hint that fetches
    ** them into L2 while the scores compute; no result depends on it. */
    void (*dot_rows)(const float *q, int nq, const float *x, size_t stride, const int32_t *idx,
                     int n, int hd, float scale, float *s, size_t ns, const float *pf);
    void (*sum_rows)(float *y, int nq, const float *w, size_t ns, const float *x, size_t stride,
                     const int32_t *idx, int n, int hd);
    /* The largest of x[0..n), n >= 1, as the loop m = x[0]; m = x[i] > m
    ** ? x[i] : m gives it (a NaN counts only in x[0]). */
    float (*max)(const float *x, int64_t n);
    /* x[i] *= a */
    void (*scale)(float *x, float a, int64_t n);
    /* y[o] += s * dot(b + o * k, u, k) for o < n, each dot this table's
    ** own, the product rounded before the sum (a LoRA's B against its
    ** rank-long middle: one call instead of n). */
    void (*dot_add)(float *y, const float *b, const float *u, int k, int64_t n, float s);
    /* RoPE of one head: pair j of x (x[2j], x[2j + 1]; neox: x[j],
    ** x[j + n_rot / 2]) turned by the angle whose cosine and sine are
    ** rc[2j], rc[2j + 1]: a' = a * cos - b * sin, b' = a * sin + b * cos,
    ** each product rounded before the sum (no FMA), j < n_rot / 2. */
    void (*rope)(float *x, const float *rc, int n_rot, int neox);
    /* lx_rmsnorm_rows (its contract and bits) on this ISA. */
    void (*rmsnorm_rows)(float *out, const float *x, const float *w, int64_t rows, int64_t n,
                         float eps);
} lx_float_ops;
const lx_float_ops *lx_float_ops_get(lx_isa isa);

/* A tile of dot products for batched matmul: s[c*lds + r] = dot(row r of
** x, row c of y) for r < LX_GEMM_RM weight rows (bx bytes apart) and c <
** LX_GEMM_RN activation rows (by bytes apart), of n elements.  Equal to
** the dot kernel's results up to float summation order.  NULL from
** lx_gemm_get where the type or ISA has none (matmul then uses dots). */
#define LX_GEMM_RM 4
#define LX_GEMM_RN 4
typedef void (*lx_gemm_fn)(int64_t n, float *s, size_t lds, const void *x, size_t bx, const void *y,
                           size_t by);
lx_gemm_fn lx_gemm_get(int type, lx_isa isa);
/* The column kernel of a type with tiles: s[r] = dot(row r of x, y) for r
** < LX_GEMM_RM weight rows (bx bytes apart) and one activation row (lds
** and by unused), bit for bit what the tile gives each of its pairs.  NULL
** where the tile's pairs already equal the dot kernel's results (the K
** types) or where there is no tile.  With these, lx_matmul's outputs do
** not depend on the batch: see matmul.c. */
lx_gemm_fn lx_gemm_col_get(int type, lx_isa isa);

/* ==== Packed weights (pack.c) ==== */

/* A packed layout interleaves the rows of a weight matrix in groups of
** LX_PACK_ROWS for the tiles of one ISA family (see pack.c for why and for
** the layout).  It is built once, at load time, from the file's layout,
** and lx_matmul takes it as a weight type of its own: its outputs are
** batch-invariant too, and differ from the file layout's by float
** summation order only.  Nothing but lx_matmul reads it. */
#define LX_PACK_ROWS 16
#define LX_PACK_RN 8 /* activation rows of a packed type's tile */

typedef struct {
    uint16_t d[LX_PACK_ROWS], dmin[LX_PACK_ROWS];
    uint8_t sc[8][LX_PACK_ROWS];
    uint8_t m[4][LX_PACK_ROWS][2];
    uint8_t qs[8][4][4 * LX_PACK_ROWS];
} lx_block_q4_k_x16;
typedef struct {
    uint8_t ql[16][2][4 * LX_PACK_ROWS];
    uint8_t qh[16][4 * LX_PACK_ROWS];
    int8_t sc[16][LX_PACK_ROWS];
    uint16_t d[LX_PACK_ROWS];
    uint8_t pad[32]; /* to a whole number of cache lines; zero */
} lx_block_q6_k_x16;
typedef struct {
    uint16_t d[LX_PACK_ROWS], m[LX_PACK_ROWS];
    uint8_t qs[4][4 * LX_PACK_ROWS];
} lx_block_q4_1_x16;
typedef struct {
    uint16_t d[LX_PACK_ROWS];
    uint8_t pad[32];                 /* to a whole number of cache lines; zero */
    uint8_t qs[8][4 * LX_PACK_ROWS]; /* quant + 128 */
} lx_block_q8_0_x16;

/* The packed type of a file type (-1: none), and back. */
int lx_pack_type(int type);
int lx_pack_source(int packed);
/* Whether packing type pays on isa: a packed kernel exists there. */
int lx_pack_pays(int type, lx_isa isa);
/* Bytes of the packed form of an n_rows x n_cols matrix of file type
** `type`; 0 when it has no packed type or the shape does not fit (n_rows
** a multiple of LX_PACK_ROWS, n_cols of the block size). */
size_t lx_pack_size(int type, int64_t n_rows, int64_t n_cols);
/* Writes the packed form of w (n_rows rows of lx_row_size(type, n_cols)
** bytes) to out, lx_pack_size bytes (64-byte aligned for speed).  Writes
** nothing where lx_pack_size is 0. */
void lx_pack(int type, const void *w, int64_t n_rows, int64_t n_cols, void *out);
/* Bytes per row of a packed matrix: a group of LX_PACK_ROWS rows starts
** every LX_PACK_ROWS such rows.  0 for a shape it cannot hold. */
size_t lx_pack_row_size(int packed, int64_t n_cols);

/* Bytes a packed type's kernels want after each quantized activation row
** (0 for most), and the step that fills them once the row is quantized
** (see pack.c: per-block values the tiles would otherwise recompute for
** every group of weight rows). */
size_t lx_pack_act_extra(int type, int64_t n_cols);
void lx_pack_act_prep(int packed, void *row, int64_t n_cols);
/* The same for blocks i0..i1-1 of the row only. */
void lx_pack_act_prep_blocks(int packed, void *row, int64_t n_cols, int64_t i0, int64_t i1);

/* ==== Kernels-internal: one table per ISA (src/kernels only) ==== */

/* A packed type's kernels, as lx_gemm_fn over one group of LX_PACK_ROWS
** rows: the tile (LX_PACK_RN activation rows), the column (one) and
** "once", the tile for weights that one tile call reads (a batch of
** LX_PACK_RN to 2 LX_PACK_RN - 1 rows), which prefetches further ahead
** (NULL: the tile serves); bx unused.  Every ISA's give the same bits
** (pack.c's arithmetic). */
typedef struct {
    lx_gemm_fn tile, col, once;
} lx_pack_kernels;
/* isa clamped to lx_isa_best(); the plain-C kernels where isa has none. */
lx_pack_kernels lx_pack_kernels_get(int packed, lx_isa isa);
lx_pack_kernels lx_pack_avx512_get(int packed);
lx_pack_kernels lx_pack_avx2_get(int packed);

/* lx_fp16_to_f32 for hot scalar loops, bit for bit the same: the 15 bits
** below the sign, moved into float position, times 2^112 rebias the
** exponent (and turn subnormal halves into normal floats exactly). */
static inline float lx_fp16_to_f32_inline(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v;
    if ((h & 0x7c00) == 0x7c00) { /* inf, NaN */
        v.u = (uint32_t)(h & 0x8000) << 16 | 0x7f800000u | (uint32_t)(h & 0x3ff) << 13;
        return v.f;
    }
    v.u = (uint32_t)(h & 0x7fff) << 13;
    v.f *= 0x1p112f;
    v.u |= (uint32_t)(h & 0x8000) << 16;
    return v.f;
}

lx_gemm_fn lx_gemm_avx2_get(int type);
lx_gemm_fn lx_gemm_avx512_get(int type);
lx_gemm_fn lx_gemm_col_avx2_get(int type);
lx_gemm_fn lx_gemm_col_avx512_get(int type);

/* One K super-block as plain integers, the reference meaning of the bits:
** element k is (d * sc[k / sub]) * q[k] - (dmin * m[k / sub]), sub = 256 /
** n_sub.  q holds the quant with its offset applied (Q6_K: -32..31, Q3_K:
** -4..3), sc is signed (Q3_K's has its bias of 32 removed).  Q8_K too
** (n_sub 1, sc 1, m 0, dmin 0). */
typedef struct {
    int8_t q[LX_QK_K];
    int16_t sc[16], m[16];
    int n_sub;
    float d, dmin;
} lx_k_unpacked;
void lx_k_unpack(int type, const void *block, lx_k_unpacked *u);
/* The 6-bit scale and min of sub-block j (< 8) of Q4_K/Q5_K's scales[12]. */
void lx_k4_scale_min(int j, const uint8_t *scales, int16_t *sc, int16_t *m);

/* The reference (de)quantizers of the K types (types_k.c). */
void lx_q2_k_to_float(const void *x, float *y, int64_t n);
void lx_q3_k_to_float(const void *x, float *y, int64_t n);
void lx_q4_k_to_float(const void *x, float *y, int64_t n);
void lx_q5_k_to_float(const void *x, float *y, int64_t n);
void lx_q6_k_to_float(const void *x, float *y, int64_t n);
void lx_q8_k_to_float(const void *x, float *y, int64_t n);
void lx_q2_k_from_float(const float *x, void *y, int64_t n);
void lx_q3_k_from_float(const float *x, void *y, int64_t n);
void lx_q4_k_from_float(const float *x, void *y, int64_t n);
void lx_q5_k_from_float(const float *x, void *y, int64_t n);
void lx_q6_k_from_float(const float *x, void *y, int64_t n);
void lx_q8_k_from_float(const float *x, void *y, int64_t n);
lx_vec_dot_fn lx_dot_scalar_k_get(int type);
lx_vec_dot_fn lx_dot_k_avx2_get(int type);
lx_from_float_fn lx_quantize_k_avx2_get(int vec_dot_type);
lx_gemm_fn lx_gemm_k_avx2_get(int type);
/* AVX-512 (BW, VNNI) K-type dots and tiles (dot_k_avx512.c). */
lx_vec_dot_fn lx_dot_k_avx512_get(int type);
lx_gemm_fn lx_gemm_k_avx512_get(int type);

/* The kernels one ISA file provides for a type: NULL where it has none, so
** lx_vec_dot_get can fall back to a lower ISA. */
lx_vec_dot_fn lx_dot_scalar_get(int type);
lx_vec_dot_fn lx_dot_avx2_get(int type);
lx_vec_dot_fn lx_dot_avx512_get(int type);
lx_from_float_fn lx_quantize_avx2_get(int vec_dot_type);
lx_from_float_fn lx_quantize_avx512_get(int vec_dot_type);
const lx_float_ops *lx_float_ops_avx2(void);
const lx_float_ops *lx_float_ops_avx512(void);
/* RMSNorm's factor for a row from its sum of squares (ggml's arithmetic):
** the one formula of every ISA's rmsnorm_rows. */
static inline float lx_rms_factor(double sum, int64_t n, float eps) {
    const float mean = (float)(sum / (double)n);
    return 1.0f / sqrtf(mean + eps);
}
/* The plain-C rope and lx_rmsnorm_rows, which the AVX2 table shares. */
void lx_rope_scalar(float *x, const float *rc, int n_rot, int neox);
void lx_rmsnorm_rows_scalar(float *out, const float *x, const float *w, int64_t rows, int64_t n,
                            float eps);

#endif /* LX_KERNELS_H */
