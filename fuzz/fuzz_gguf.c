/*
** fuzz_gguf.c -- libFuzzer target for the GGUF reader: any byte string
** handed to lx_gguf_open_memory must either open or fail with a message,
** never crash, read out of bounds, leak, or allocate absurdly.  An opened
** file is then walked with every accessor, so what the reader accepts is
** also safe to use.
**
** `make fuzz` builds and runs it (fuzz/run.sh); `make test` replays
** fuzz/corpus/<target>/ through it.  By hand, from the repository root:
**
**   clang -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 \
**       -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
**       fuzz/fuzz_gguf.c src/gguf/gguf_*.c src/base/[a-z]*.c src/kernels/types*.c \
**       -lpcre2-8 -lutf8proc -lpthread -lm -o /tmp/fuzz_gguf
**   mkdir -p /tmp/gguf-corpus && /tmp/fuzz_gguf -rss_limit_mb=512 /tmp/gguf-corpus
**
** Seed the corpus with small real files (e.g. the test fixtures under
** build/fixtures) for faster coverage.
*/
#include "gguf/gguf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Touches every byte a value points at, so ASan checks the bounds. */
static unsigned walk_value(const lx_gguf_value *v, int depth) {
    unsigned h = (unsigned)v->type;
    if (depth > 16) return h; /* the reader bounds depth; this is a backstop */
    if (v->type == LX_GGUF_STRING) {
        for (uint64_t i = 0; i < v->v.str.len; i++) h = h * 31 + (unsigned char)v->v.str.ptr[i];
    } else if (v->type == LX_GGUF_ARRAY) {
        for (uint64_t i = 0; i < v->v.arr.n; i++) {
            if (v->v.arr.items)
                h += walk_value(&v->v.arr.items[i], depth + 1);
            else
                h += (unsigned)lx_gguf_arr_i64(v, i) + (unsigned)(lx_gguf_arr_f64(v, i) != 0);
        }
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lexie_error err;
    lx_gguf *g = lx_gguf_open_memory(data, size, &err);
    if (!g) {
        /* Every failure must say why. */
        if (err.message[0] == 0) __builtin_trap();
        return 0;
    }
    volatile unsigned sink = 0;
    for (int64_t i = 0; i < lx_gguf_n_kv(g); i++) {
        const lx_gguf_kv *kv = lx_gguf_kv_at(g, i);
        sink += walk_value(&kv->value, 0);
        if (lx_gguf_get(g, kv->key) != &kv->value) __builtin_trap();
        uint32_t u32;
        int64_t i64;
        float f;
        int b;
        lx_str s;
        const lx_gguf_value *arr;
        sink += lx_gguf_get_u32(g, kv->key, &u32, &err) + lx_gguf_get_i64(g, kv->key, &i64, &err) +
                lx_gguf_get_f32(g, kv->key, &f, &err) + lx_gguf_get_bool(g, kv->key, &b, &err) +
                lx_gguf_get_str(g, kv->key, &s, &err) + lx_gguf_get_arr(g, kv->key, -1, &arr, &err);
    }
    for (int64_t i = 0; i < lx_gguf_n_tensors(g); i++) {
        const lx_gguf_tensor *t = lx_gguf_tensor_at(g, i);
        if (lx_gguf_find_tensor(g, t->name) != t) __builtin_trap();
        const uint8_t *p = t->data;
        if (t->nbytes) sink += p[0] + p[t->nbytes - 1]; /* first and last byte in bounds */
    }
    (void)sink;
    lx_gguf_close(g);
    return 0;
}
