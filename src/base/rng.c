/*
** rng.c -- splitmix64 (Steele, Lea and Flood, 2014): the one seeded
** generator of the library.  Small, fast, and the same bits everywhere,
** which is what a reproducible sample, sampler or training run needs; it
** is not for secrets.
*/
#include "base.h"

#define GOLDEN 0x9e3779b97f4a7c15ull

uint64_t lx_mix64(uint64_t x) {
    x += GOLDEN;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t lx_rng_next(uint64_t *s) {
    uint64_t r = lx_mix64(*s);
    *s += GOLDEN;
    return r;
}
