/*
** isa.c -- which instruction set the kernels use, and the dispatch from
** (type, ISA) to a dot kernel or activation quantizer.
**
** One binary runs on every x86-64: the AVX2 and AVX-512 kernels live in
** files compiled with those flags and are only called after the CPU (and
** the OS, which must save the wide registers) said yes.  LEXIE_ISA can
** force a lower path so tests and benchmarks exercise all of them.
*/
#include "kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>

static lx_isa detect(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    /* __builtin_cpu_supports also checks that the OS enabled the AVX and
    ** AVX-512 register state (XCR0), not just the CPUID bits. */
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    /* The AVX-512 file is built with these five; VNNI is the one that pays. */
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vnni");
    if (avx512) return LX_ISA_AVX512;
    if (avx2) return LX_ISA_AVX2;
#endif
    return LX_ISA_SCALAR;
}

/* -1 until computed.  Racing threads compute the same value, so a plain
** atomic store is enough. */
static atomic_int best_cache = -1;
static atomic_int active_cache = -1;

lx_isa lx_isa_best(void) {
    int v = atomic_load(&best_cache);
    if (v < 0) {
        v = (int)detect();
        atomic_store(&best_cache, v);
    }
    return (lx_isa)v;
}

int lx_isa_parse(const char *s) {
    if (!s) return -1;
    if (!strcasecmp(s, "scalar")) return LX_ISA_SCALAR;
    if (!strcasecmp(s, "avx2")) return LX_ISA_AVX2;
    if (!strcasecmp(s, "avx512")) return LX_ISA_AVX512;
    return -1;
}

lx_isa lx_isa_from_env(const char *value) {
    lx_isa best = lx_isa_best();
    int want = lx_isa_parse(value);
    if (want < 0 || want > (int)best) return best;
    return (lx_isa)want;
}

static lx_isa clamp_isa_fwd(lx_isa isa) { return isa > lx_isa_best() ? lx_isa_best() : isa; }

lx_isa lx_isa_active(void) {
    int v = atomic_load(&active_cache);
    if (v < 0) {
        v = (int)lx_isa_from_env(getenv("LEXIE_ISA"));
        atomic_store(&active_cache, v);
    }
    return (lx_isa)v;
}

void lx_isa_override(int isa) {
    atomic_store(&active_cache, isa < 0 ? -1 : (int)clamp_isa_fwd((lx_isa)isa));
}

const char *lx_isa_name(lx_isa isa) {
    switch (isa) {
    case LX_ISA_SCALAR: return "scalar";
    case LX_ISA_AVX2: return "avx2";
    case LX_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

/* ==== Dispatch ==== */

static lx_isa clamp_isa(lx_isa isa) {
    lx_isa best = lx_isa_best();
    if ((int)isa < 0) return LX_ISA_SCALAR;
    return isa > best ? best : isa;
}

lx_vec_dot_fn lx_vec_dot_get(int type, lx_isa isa) {
    if (!lx_type_traits_get(type)) return NULL;
    isa = clamp_isa(isa);
    lx_vec_dot_fn fn = NULL;
    /* The ISA getters live in files built for that ISA: call them only when
    ** the CPU has it. */
    if (isa >= LX_ISA_AVX512) fn = lx_dot_avx512_get(type);
    if (!fn && isa >= LX_ISA_AVX2) fn = lx_dot_avx2_get(type);
    if (!fn) fn = lx_dot_scalar_get(type);
    return fn;
}

lx_from_float_fn lx_quantize_get(int vec_dot_type, lx_isa isa) {
    const lx_type_traits *t = lx_type_traits_get(vec_dot_type);
    if (!t) return NULL;
    isa = clamp_isa(isa);
    lx_from_float_fn fn = NULL;
    if (isa >= LX_ISA_AVX512) fn = lx_quantize_avx512_get(vec_dot_type);
    if (!fn && isa >= LX_ISA_AVX2) fn = lx_quantize_avx2_get(vec_dot_type);
    if (!fn) fn = t->from_float;
    return fn;
}

lx_gemm_fn lx_gemm_get(int type, lx_isa isa) {
    if (!lx_type_traits_get(type)) return NULL;
    isa = clamp_isa(isa);
    if (isa >= LX_ISA_AVX512) return lx_gemm_avx512_get(type);
    if (isa >= LX_ISA_AVX2) return lx_gemm_avx2_get(type);
    return NULL;
}

lx_gemm_fn lx_gemm_col_get(int type, lx_isa isa) {
    if (!lx_type_traits_get(type)) return NULL;
    isa = clamp_isa(isa);
    if (isa >= LX_ISA_AVX512) return lx_gemm_col_avx512_get(type);
    if (isa >= LX_ISA_AVX2) return lx_gemm_col_avx2_get(type);
    return NULL;
}
