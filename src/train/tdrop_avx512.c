/*
** tdrop_avx512.c -- dropout's mask eight elements at a time: splitmix64 of
** key + i in 64-bit lanes (vpmullq), the high half compared with the
** threshold, the kept inputs scaled.  Bit for bit the loop of tops.c,
** which it replaces where the CPU has AVX-512 (the hash was a tenth of a
** LoRA training step with the scalar loop).
*/
#include "train/train.h"

#include <immintrin.h>

static inline __m512i mix(__m512i x) {
    x = _mm512_add_epi64(x, _mm512_set1_epi64((long long)0x9e3779b97f4a7c15ull));
    x = _mm512_mullo_epi64(_mm512_xor_si512(x, _mm512_srli_epi64(x, 30)),
                           _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ull));
    x = _mm512_mullo_epi64(_mm512_xor_si512(x, _mm512_srli_epi64(x, 27)),
                           _mm512_set1_epi64((long long)0x94d049bb133111ebull));
    return _mm512_xor_si512(x, _mm512_srli_epi64(x, 31));
}

void lx_tdropout_avx512(uint64_t key, uint32_t thr, float keep, const float *src, float *dst,
                        size_t n) {
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i vthr = _mm512_set1_epi64((long long)thr);
    const __m256 vkeep = _mm256_set1_ps(keep);
    for (size_t i = 0; i < n; i += 8) {
        const size_t left = n - i;
        const __mmask8 live = left >= 8 ? (__mmask8)0xff : (__mmask8)((1u << left) - 1u);
        const __m512i h = mix(_mm512_add_epi64(_mm512_set1_epi64((long long)(key + i)), lane));
        const __mmask8 kept = _mm512_cmpge_epu64_mask(_mm512_srli_epi64(h, 32), vthr);
        const __m256 x = _mm256_maskz_loadu_ps(live, src + i);
        _mm256_mask_storeu_ps(dst + i, live, _mm256_maskz_mul_ps(kept, x, vkeep));
    }
}
