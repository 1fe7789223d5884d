/*
** dot_scalar_k.c -- plain-C dot products of the K types with Q8_K
** activations.
**
** Written on the unpacked integers of types_k.c (lx_k_unpack), so they
** read like the formula: per super-block, an exact integer sum of
** sc_j * q * q8 over the sub-blocks, scaled once by d_x * d_y, minus the
** mins term dmin_x * d_y * sum_j m_j * (sum of q8 in sub-block j), which
** Q8_K's bsums give without touching the quants.  This is the reference
** the SIMD kernels are tested against, so it favours clarity over speed.
*/
#include "kernels.h"

static void dot_k(int type, size_t block_size, int64_t n, float *s, const void *vx,
                  const void *vy) {
    const uint8_t *x = vx;
    const lx_block_q8_k *y = vy;
    lx_k_unpacked u;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / LX_QK_K; i++) {
        lx_k_unpack(type, x + (size_t)i * block_size, &u);
        const int sub = LX_QK_K / u.n_sub, per_bsum = sub / 16;
        int sumi = 0, summ = 0;
        for (int j = 0; j < u.n_sub; j++) {
            int p = 0;
            for (int l = 0; l < sub; l++) p += u.q[j * sub + l] * y[i].qs[j * sub + l];
            sumi += u.sc[j] * p;
            int bs = 0;
            for (int b = 0; b < per_bsum; b++) bs += y[i].bsums[j * per_bsum + b];
            summ += u.m[j] * bs;
        }
        sum += u.d * y[i].d * (float)sumi - u.dmin * y[i].d * (float)summ;
    }
    *s = sum;
}

#define DOT_K(name, type, btype)                                                                   \
    static void name(int64_t n, float *s, const void *vx, const void *vy) {                        \
        dot_k(type, sizeof(btype), n, s, vx, vy);                                                  \
    }

DOT_K(dot_q2_k, LX_TYPE_Q2_K, lx_block_q2_k)
DOT_K(dot_q3_k, LX_TYPE_Q3_K, lx_block_q3_k)
DOT_K(dot_q4_k, LX_TYPE_Q4_K, lx_block_q4_k)
DOT_K(dot_q5_k, LX_TYPE_Q5_K, lx_block_q5_k)
DOT_K(dot_q6_k, LX_TYPE_Q6_K, lx_block_q6_k)
DOT_K(dot_q8_k, LX_TYPE_Q8_K, lx_block_q8_k)

lx_vec_dot_fn lx_dot_scalar_k_get(int type) {
    switch (type) {
    case LX_TYPE_Q2_K: return dot_q2_k;
    case LX_TYPE_Q3_K: return dot_q3_k;
    case LX_TYPE_Q4_K: return dot_q4_k;
    case LX_TYPE_Q5_K: return dot_q5_k;
    case LX_TYPE_Q6_K: return dot_q6_k;
    case LX_TYPE_Q8_K: return dot_q8_k;
    }
    return NULL;
}
