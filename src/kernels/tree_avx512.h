/*
** tree_avx512.h -- sixteen horizontal reductions at once, for the AVX-512
** files only (they are the ones compiled with its instructions).
**
** Lane k of lx_tree16(v, op) is op over the 16 lanes of v[k]: a transpose
** done as a tree of shuffles, about 3 instructions a vector where one
** horizontal reduction takes 7 and leaves one value.  The tree is fixed:
** lane k's value is (S0 op S2) op (S1 op S3), where
** Sb = (x[4b] op x[4b+2]) op (x[4b+1] op x[4b+3]) over v[k]'s lanes x, so
** a vector's result never depends on the vectors beside it.  Attention's
** scores (float sums, where that order is the arithmetic) and the
** activation quantizers (maxima and integer sums, exact in any order)
** use it.
*/
#ifndef LX_TREE_AVX512_H
#define LX_TREE_AVX512_H

#include <immintrin.h>

enum { LX_TREE_ADD, LX_TREE_MAX, LX_TREE_ADD_EPI32 };

static inline __m512 lx_tree_op(__m512 a, __m512 b, int op) {
    if (op == LX_TREE_MAX) return _mm512_max_ps(a, b);
    if (op == LX_TREE_ADD_EPI32)
        return _mm512_castsi512_ps(
            _mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b)));
    return _mm512_add_ps(a, b);
}

/* op a constant where it is inlined. */
static inline __attribute__((always_inline)) __m512 lx_tree16(const __m512 *v, int op) {
    __m512 t[8], u[4];
    /* Per 128-bit block: [a0.a2, b0.b2, a1.a3, b1.b3] for a = v[2i], b = v[2i+1]. */
    _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) t[i] = lx_tree_op(
        _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]), op);
    /* Per block: the four vectors 4j..4j+3, each reduced over the block. */
    _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) u[j] =
        lx_tree_op(_mm512_shuffle_ps(t[2 * j], t[2 * j + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                   _mm512_shuffle_ps(t[2 * j], t[2 * j + 1], _MM_SHUFFLE(3, 2, 3, 2)), op);
    /* Reduce the four blocks of each u[j] and put u[j]'s results in block j. */
    __m512 x01 = lx_tree_op(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(1, 0, 1, 0)),
                            _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 2, 3, 2)), op);
    __m512 x23 = lx_tree_op(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(1, 0, 1, 0)),
                            _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 2, 3, 2)), op);
    return lx_tree_op(_mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(2, 0, 2, 0)),
                      _mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(3, 1, 3, 1)), op);
}

#endif
