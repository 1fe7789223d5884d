/*
** bits.c -- counting the set bits of a bitset (a token mask: 4,748 words
** on a 152k vocabulary, counted once per mask).
**
** Compiled for the baseline x86-64, __builtin_popcount is a libgcc call
** per word; on the 152k vocabulary that was a third of a median mask's
** time.  Every CPU with AVX2 has the POPCNT instruction, so where the CPU
** reports it a copy of the loop compiled for it runs; elsewhere a
** branch-free SWAR count (the same number, checked by test_bits).
*/
#include "base/base.h"

static int64_t count_swar(const uint32_t *w, size_t n) {
    int64_t c = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = w[i];
        x = x - ((x >> 1) & 0x55555555u);
        x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
        x = (x + (x >> 4)) & 0x0F0F0F0Fu;
        c += (x * 0x01010101u) >> 24;
    }
    return c;
}

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
__attribute__((target("popcnt"))) static int64_t count_popcnt(const uint32_t *w, size_t n) {
    int64_t c = 0;
    for (size_t i = 0; i < n; i++) c += __builtin_popcount(w[i]);
    return c;
}

int64_t lx_bits_count(const uint32_t *w, size_t n) {
    /* a read of the feature word libgcc fills at start-up */
    return __builtin_cpu_supports("popcnt") ? count_popcnt(w, n) : count_swar(w, n);
}
#else
int64_t lx_bits_count(const uint32_t *w, size_t n) { return count_swar(w, n); }
#endif

int64_t lx_bits_count_portable(const uint32_t *w, size_t n) { return count_swar(w, n); }
