/*
** matmul.c -- y = W x for a quantized or float weight matrix W and a batch
** of float activation rows x, split over a thread pool.
**
** The activations are quantized once to W's vec_dot_type (as llama.cpp
** does), each row alone.  For a type with tile kernels (gemm_*.c), whole
** groups of four activation rows go to the 4 x 4 tile, which unpacks each
** weight block once for four activation rows, and every other row to the
** column kernel (four weight rows, one activation row), which computes
** each output exactly as the tile does; types without tiles use the dot
** kernel for every output.  So an output depends on its weight row and its
** activation row alone, never on how many rows came with it (batch
** invariance, tested in test_kernels.c and test_invariance.c).  A packed
** weight (pack.c) is taken in groups of 16 rows by its own tile and
** column, which follow the same rule.  Threads
** take chunks of weight rows from a shared counter, so a thread that was
** descheduled for a moment does not hold the others up at the end.
**
** Decoding one token (n_batch = 1) streams every weight byte once and is
** bound by memory bandwidth.  There each thread must walk long contiguous
** runs of W, or the hardware prefetchers restart at every chunk: with 16-row
** chunks handed out in turn, two threads decoded no faster than one (1.5B
** model, 19 tokens/s either way; 28 with a few long runs per thread).  So
** there each thread owns one contiguous range of the chunks and walks it
** front to back, its prefetches running on into its next chunk; a thread
** that finishes early takes chunks from the back of another's range.
** (Chunks handed out first come, first served had each thread jump at
** every chunk and start its stream cold: 8 sequences decoded together ran
** 5% faster with ranges, one sequence 7%.)  A batch (prompt prefill,
** scoring) is bound
** by compute, and the loop order matters: within a chunk of weight rows
** the activation rows are taken in groups, so both the chunk of W and the
** group of x stay in L1/L2 while all their pairs are computed.
*/
#include "kernels.h"

#include <stdatomic.h>
#include <string.h>

#define ROWS_PER_CHUNK 16          /* weight rows a thread takes at a time (batches) */
#define CHUNKS_PER_THREAD 4        /* for a few activation rows: long runs, some slack */
#define BATCH_GROUP 16             /* activation rows kept hot together */
#define QUANTIZE_PAR_MIN (1 << 15) /* activation elements worth quantizing on the pool */
_Static_assert(ROWS_PER_CHUNK % LX_PACK_ROWS == 0 && ROWS_PER_CHUNK % LX_GEMM_RM == 0,
               "chunks hold whole tiles");

/* One weight of a job and where its outputs go. */
typedef struct {
    const uint8_t *w; /* n_rows rows of w_row bytes */
    size_t w_row;
    int64_t n_rows;
    float *y;
    lx_vec_dot_fn dot;
    lx_gemm_fn gemm; /* NULL: dots only */
    lx_gemm_fn col;  /* the tile's one-activation-row form; NULL: dots */
    int64_t rm, rn;  /* weight and activation rows per tile */
    int64_t chunk_rows, n_chunks;
} mm_part;

/* Weights that read the same activations, quantized once. */
typedef struct {
    mm_part part[LX_MATMUL_MAX_PARTS];
    int n_parts;
    int64_t n_cols, n_batch;
    const uint8_t *q; /* n_batch activation rows of q_row bytes */
    size_t q_row;
    int packed;                       /* the packed type whose side data the rows carry, or -1 */
    const lx_matmul_opts *opts;       /* epi: chunks span every part's rows */
    atomic_llong next_chunk;          /* batches: chunks first come, first served */
    int ranges;                       /* decoding: each thread's range of chunks, */
    atomic_ullong range[LX_POOL_MAX]; /* front << 32 | back */
    /* quantization step */
    const float *x;
    uint8_t *qbuf;
    lx_from_float_fn quantize;
} mm_job;
/* The traits of a file type, or of the file type a packed one came from. */
static const lx_type_traits *traits_of(int type) {
    const int src = lx_pack_source(type);
    return lx_type_traits_get(src >= 0 ? src : type);
}

/* Bytes of one quantized activation row: the vec_dot_type's row, plus
** what a packed type's kernels want beside it (lx_pack_act_extra). */
static size_t act_row_size(int type, const lx_type_traits *t, int64_t n_cols) {
    const size_t row = lx_row_size(t->vec_dot_type, n_cols);
    return row ? row + lx_pack_act_extra(type, n_cols) : 0;
}

size_t lx_matmul_qbuf_size(int type, int64_t n_cols, int64_t n_batch) {
    const lx_type_traits *t = traits_of(type);
    if (!t || n_batch < 0 || t->vec_dot_type == LX_TYPE_F32) return 0;
    size_t row = act_row_size(type, t, n_cols), out;
    if (!lx_mul_ok(row, (size_t)n_batch, &out)) return 0;
    return out;
}

/* One activation row as the kernels read it: quantized, and a packed
** type's side data after it. */
static void quantize_row(lx_from_float_fn quantize, int packed, const float *x, uint8_t *row,
                         int64_t n_cols) {
    quantize(x, row, n_cols);
    if (packed >= 0) lx_pack_act_prep(packed, row, n_cols);
}

static void quantize_worker(void *arg, int ith, int nth) {
    mm_job *j = arg;
    for (int64_t b = ith; b < j->n_batch; b += nth)
        quantize_row(j->quantize, j->packed, j->x + b * j->n_cols, j->qbuf + (size_t)b * j->q_row,
                     j->n_cols);
}

/* Rows [r0, r1) x activation rows [b0, b1) with the dot kernel. */
static void dots(const mm_job *j, const mm_part *p, int64_t r0, int64_t r1, int64_t b0,
                 int64_t b1) {
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = p->w + (size_t)r * p->w_row;
        for (int64_t b = b0; b < b1; b++)
            p->dot(j->n_cols, &p->y[b * p->n_rows + r], wr, j->q + (size_t)b * j->q_row);
    }
}

/* Weight rows [r, r + p->rm) x activation row b, as the tile would
** compute them: the column kernel, or dots where those equal the tile. */
static void column(const mm_job *j, const mm_part *p, int64_t r, int64_t b) {
    if (p->col)
        p->col(j->n_cols, &p->y[b * p->n_rows + r], (size_t)p->n_rows, p->w + (size_t)r * p->w_row,
               p->w_row, j->q + (size_t)b * j->q_row, j->q_row);
    else
        dots(j, p, r, r + p->rm, b, b + 1);
}

/* Fewer than LX_GEMM_RM weight rows left (no model seen has them): each
** row as the first of a column whose other rows repeat it.  (Packed types
** never get here: their row counts are whole groups.) */
static void ragged_rows(const mm_job *j, const mm_part *p, int64_t r0, int64_t r1, int64_t b0,
                        int64_t b1) {
    if (!p->col) {
        dots(j, p, r0, r1, b0, b1);
        return;
    }
    float s[LX_GEMM_RM];
    for (int64_t r = r0; r < r1; r++)
        for (int64_t b = b0; b < b1; b++) {
            p->col(j->n_cols, s, 1, p->w + (size_t)r * p->w_row, 0, j->q + (size_t)b * j->q_row,
                   j->q_row);
            p->y[b * p->n_rows + r] = s[0];
        }
}

/* Where a type has tiles, every output is computed with the tile's
** arithmetic, in a whole tile or a column, so no output depends on how
** many activation rows came with it (batch invariance). */
static void rows_chunk(const mm_job *j, const mm_part *p, int64_t r0, int64_t r1) {
    for (int64_t b0 = 0; b0 < j->n_batch; b0 += BATCH_GROUP) {
        const int64_t b1 = LX_MIN(b0 + BATCH_GROUP, j->n_batch);
        if (!p->gemm) {
            dots(j, p, r0, r1, b0, b1);
            continue;
        }
        int64_t r = r0;
        for (; r + p->rm <= r1; r += p->rm) {
            int64_t b = b0;
            for (; b + p->rn <= b1; b += p->rn)
                p->gemm(j->n_cols, &p->y[b * p->n_rows + r], (size_t)p->n_rows,
                        p->w + (size_t)r * p->w_row, p->w_row, j->q + (size_t)b * j->q_row,
                        j->q_row);
            for (; b < b1; b++) column(j, p, r, b);
        }
        if (r < r1) ragged_rows(j, p, r, r1, b0, b1);
    }
}

/* Chunk c, numbered through the parts in turn; with an epilogue, the
** same rows of every part, then the epilogue on them. */
static void do_chunk(const mm_job *j, int64_t c) {
    const lx_matmul_opts *o = j->opts;
    if (o && o->epi) {
        const int64_t r0 = c * j->part[0].chunk_rows;
        const int64_t r1 = LX_MIN(r0 + j->part[0].chunk_rows, j->part[0].n_rows);
        /* Group by group through the parts, so that each part's rows
        ** stream on without a cold start per chunk. */
        for (int64_t r = r0; r < r1; r += LX_PACK_ROWS)
            for (int k = 0; k < j->n_parts; k++)
                rows_chunk(j, &j->part[k], r, LX_MIN(r + LX_PACK_ROWS, r1));
        o->epi(o->epi_arg, r0, r1);
        return;
    }
    int64_t k = 0;
    while (c >= j->part[k].n_chunks) c -= j->part[k++].n_chunks;
    const mm_part *p = &j->part[k];
    const int64_t r0 = c * p->chunk_rows;
    rows_chunk(j, p, r0, LX_MIN(r0 + p->chunk_rows, p->n_rows));
}

/* A chunk from range r: its front for the owner, its back for another
** thread; -1 once it is empty. */
static int64_t take(atomic_ullong *r, int front) {
    unsigned long long v = atomic_load(r);
    for (;;) {
        const int64_t f = (int64_t)(v >> 32), b = (int64_t)(v & 0xffffffffu);
        if (f >= b) return -1;
        const unsigned long long nv = front ? v + (1ull << 32) : v - 1;
        if (atomic_compare_exchange_weak(r, &v, nv)) return front ? f : b - 1;
    }
}

static int64_t chunks_total(const mm_job *j) {
    if (j->opts && j->opts->epi) return j->part[0].n_chunks;
    int64_t total = 0;
    for (int k = 0; k < j->n_parts; k++) total += j->part[k].n_chunks;
    return total;
}

static void matmul_worker(void *arg, int ith, int nth) {
    mm_job *j = arg;
    int64_t c;
    if (j->ranges) {
        while ((c = take(&j->range[ith], 1)) >= 0) do_chunk(j, c);
        for (int o = 1; o < nth; o++)
            while ((c = take(&j->range[(ith + o) % nth], 0)) >= 0) do_chunk(j, c);
        return;
    }
    const int64_t total = chunks_total(j);
    /* First chunk by thread number, the rest first come, first served. */
    for (c = ith; c < total; c = atomic_fetch_add(&j->next_chunk, 1)) do_chunk(j, c);
}

static void run(lx_pool *pool, lx_pool_fn fn, void *arg) {
    if (pool)
        lx_pool_run(pool, fn, arg);
    else
        fn(arg, 0, 1);
}

/* The packed type whose side data activation rows for `type` carry, or -1. */
static int act_prep_type(int type) { return lx_pack_act_extra(type, LX_QK) ? type : -1; }

int lx_matmul_shares_act(int type_a, int type_b) {
    const lx_type_traits *a = traits_of(type_a), *b = traits_of(type_b);
    return a && b && a->vec_dot_type == b->vec_dot_type &&
           act_prep_type(type_a) == act_prep_type(type_b);
}

/* Fills part p for weight o; 0 when its shape or type has no kernel. */
static int part_init(mm_part *p, const lx_matmul_out *o, lx_isa isa, int64_t n_cols,
                     int64_t n_batch, int nth) {
    memset(p, 0, sizeof *p);
    p->w = o->w;
    p->n_rows = o->n_rows;
    p->y = o->y;
    if (o->n_rows <= 0) return 0;
    if (lx_pack_source(o->type) >= 0) {
        /* A packed layout: whole groups of rows, its tile for everything. */
        if (o->n_rows % LX_PACK_ROWS) return 0;
        const lx_pack_kernels k = lx_pack_kernels_get(o->type, isa);
        p->w_row = lx_pack_row_size(o->type, n_cols);
        /* One tile call per group of weight rows: they stream from memory. */
        p->gemm = n_batch < 2 * LX_PACK_RN && k.once ? k.once : k.tile;
        p->col = k.col;
        p->rm = LX_PACK_ROWS;
        p->rn = LX_PACK_RN;
    } else {
        p->w_row = lx_row_size(o->type, n_cols);
        p->dot = lx_vec_dot_get(o->type, isa);
        p->gemm = lx_gemm_get(o->type, isa);
        p->col = p->gemm ? lx_gemm_col_get(o->type, isa) : NULL;
        p->rm = LX_GEMM_RM;
        p->rn = LX_GEMM_RN;
    }
    if ((!p->dot && !p->col) || !p->w_row) return 0;
    /* A few activation rows: every weight byte is used a few times only,
    ** so streaming decides, and each thread wants long runs (see the top). */
    p->chunk_rows = ROWS_PER_CHUNK;
    if (n_batch <= BATCH_GROUP) {
        const int64_t per = ((int64_t)CHUNKS_PER_THREAD * nth);
        const int64_t cr = (p->n_rows + per - 1) / per;
        p->chunk_rows =
            LX_MAX(ROWS_PER_CHUNK, (cr + ROWS_PER_CHUNK - 1) / ROWS_PER_CHUNK * ROWS_PER_CHUNK);
    }
    p->n_chunks = (p->n_rows + p->chunk_rows - 1) / p->chunk_rows;
    return 1;
}

/* The product; o (may be NULL): lx_matmul_multi_ex's options. */
static void multi(lx_pool *pool, lx_isa isa, const lx_matmul_out *outs, int n_outs, int64_t n_cols,
                  const float *x, int64_t n_batch, void *qbuf, const lx_matmul_opts *o) {
    if (n_outs < 1 || n_outs > LX_MATMUL_MAX_PARTS || n_cols <= 0 || n_batch <= 0) return;
    const int type = outs[0].type;
    const lx_type_traits *t = traits_of(type);
    if (!t) return;
    for (int k = 1; k < n_outs; k++)
        if (!lx_matmul_shares_act(type, outs[k].type)) return;
    mm_job j;
    memset(&j, 0, sizeof j);
    const int nth = pool ? lx_pool_size(pool) : 1;
    j.n_parts = n_outs;
    j.n_cols = n_cols;
    j.n_batch = n_batch;
    for (int k = 0; k < n_outs; k++)
        if (!part_init(&j.part[k], &outs[k], isa, n_cols, n_batch, nth)) return;
    if (o && o->epi) {
        /* Chunks of equal rows in every part, whole epilogue blocks. */
        const int64_t a = o->epi_align;
        if (a <= 0 || a % 16 || outs[0].n_rows % a) return;
        for (int k = 1; k < n_outs; k++)
            if (outs[k].n_rows != outs[0].n_rows) return;
        /* Whole blocks, about the chunks a part would have, in a number
        ** the threads share evenly (the 1.5B's 35 blocks of 256 in chunks
        ** of 5 split 4:3 over two threads, 2.9% slower than without the
        ** epilogue; in chunks of 3, 6:6). */
        const int64_t blocks = outs[0].n_rows / a;
        int64_t per = LX_MAX(1, (j.part[0].chunk_rows + a - 1) / a);
        while (per > 1 && ((blocks + per - 1) / per) % nth) per--;
        const int64_t cr = per * a;
        for (int k = 0; k < n_outs; k++) {
            j.part[k].chunk_rows = cr;
            j.part[k].n_chunks = (outs[0].n_rows + cr - 1) / cr;
        }
    }
    j.opts = o;
    j.packed = act_prep_type(type);
    if (t->vec_dot_type == LX_TYPE_F32) {
        j.q = (const uint8_t *)x;
        j.q_row = (size_t)n_cols * sizeof(float);
    } else {
        j.x = x;
        j.qbuf = qbuf;
        j.q = qbuf;
        j.q_row = act_row_size(type, t, n_cols);
        j.quantize = lx_quantize_get(t->vec_dot_type, isa);
        /* A shape the caller failed to check: nothing sensible to compute. */
        if (!j.q_row || !j.quantize) return;
        /* A row takes about a nanosecond an element; waking the pool costs
        ** microseconds, more than a few decoding rows take alone. */
        const int ready = o && o->ready;
        if (!ready && n_batch * n_cols >= QUANTIZE_PAR_MIN && nth > 1)
            run(pool, quantize_worker, &j);
        else if (!ready)
            quantize_worker(&j, 0, 1);
    }
    const int64_t total = chunks_total(&j);
    atomic_init(&j.next_chunk, nth);
    j.ranges = n_batch <= BATCH_GROUP;
    for (int t = 0; j.ranges && t < nth; t++)
        atomic_init(&j.range[t], (unsigned long long)(total * t / nth) << 32 |
                                     (unsigned long long)(total * (t + 1) / nth));
    run(pool, matmul_worker, &j);
}

void lx_matmul_multi_isa(lx_pool *pool, lx_isa isa, const lx_matmul_out *outs, int n_outs,
                         int64_t n_cols, const float *x, int64_t n_batch, void *qbuf) {
    multi(pool, isa, outs, n_outs, n_cols, x, n_batch, qbuf, NULL);
}

int lx_matmul_act_init(lx_matmul_act *a, int type, int64_t n_cols, void *qbuf) {
    memset(a, 0, sizeof *a);
    const lx_type_traits *t = traits_of(type);
    if (!t || t->vec_dot_type == LX_TYPE_F32 || n_cols <= 0) return 0;
    a->quantize = lx_quantize_get(t->vec_dot_type, lx_isa_active());
    a->q_row = act_row_size(type, t, n_cols);
    if (!a->quantize || !a->q_row) return 0;
    a->type = type;
    a->packed = act_prep_type(type);
    a->n_cols = n_cols;
    a->block = lx_type_traits_get(t->vec_dot_type)->blck_size;
    a->q_block = lx_row_size(t->vec_dot_type, a->block);
    a->qbuf = qbuf;
    return 1;
}

void lx_matmul_act_rows(const lx_matmul_act *a, const float *x, int64_t r0, int64_t r1) {
    for (int64_t b = r0; b < r1; b++)
        quantize_row(a->quantize, a->packed, x + b * a->n_cols,
                     (uint8_t *)a->qbuf + (size_t)b * a->q_row, a->n_cols);
}

void lx_matmul_act_cols(const lx_matmul_act *a, const float *x, int64_t n, int64_t c0, int64_t c1) {
    const int64_t i0 = c0 / a->block, i1 = c1 / a->block;
    for (int64_t b = 0; b < n; b++) {
        uint8_t *row = (uint8_t *)a->qbuf + (size_t)b * a->q_row;
        a->quantize(x + b * a->n_cols + c0, row + (size_t)i0 * a->q_block, c1 - c0);
        if (a->packed >= 0) lx_pack_act_prep_blocks(a->packed, row, a->n_cols, i0, i1);
    }
}

void lx_matmul_multi_ex(lx_pool *pool, const lx_matmul_out *outs, int n_outs, int64_t n_cols,
                        const float *x, int64_t n_batch, void *qbuf, const lx_matmul_opts *o) {
    multi(pool, lx_isa_active(), outs, n_outs, n_cols, x, n_batch, qbuf, o);
}

void lx_matmul_isa(lx_pool *pool, lx_isa isa, const void *w, int type, int64_t n_rows,
                   int64_t n_cols, const float *x, int64_t n_batch, float *y, void *qbuf) {
    const lx_matmul_out o = {w, type, n_rows, y};
    lx_matmul_multi_isa(pool, isa, &o, 1, n_cols, x, n_batch, qbuf);
}

void lx_matmul_multi(lx_pool *pool, const lx_matmul_out *outs, int n_outs, int64_t n_cols,
                     const float *x, int64_t n_batch, void *qbuf) {
    lx_matmul_multi_isa(pool, lx_isa_active(), outs, n_outs, n_cols, x, n_batch, qbuf);
}

void lx_matmul(lx_pool *pool, const void *w, int type, int64_t n_rows, int64_t n_cols,
               const float *x, int64_t n_batch, float *y, void *qbuf) {
    lx_matmul_isa(pool, lx_isa_active(), w, type, n_rows, n_cols, x, n_batch, y, qbuf);
}
