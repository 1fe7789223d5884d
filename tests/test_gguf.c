/*
** test_gguf.c -- the GGUF reader and writer: a written file read back value
** by value, the same file cut at every byte, and hand-built hostile files
** (absurd counts and sizes, duplicates, bad alignment, unknown types), each
** of which must fail with a message naming what is wrong and where.
*/
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "lx_test.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ==== Helpers ==== */

/* A growable byte buffer for building files by hand. */
typedef struct bb {
    uint8_t *p;
    size_t n, cap;
} bb;

static void bb_raw(bb *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void bb_int(bb *b, uint64_t v, int n) {
    uint8_t x[8];
    for (int i = 0; i < n; i++) x[i] = (uint8_t)(v >> (8 * i));
    bb_raw(b, x, (size_t)n);
}

static void bb_u32(bb *b, uint32_t v) { bb_int(b, v, 4); }
static void bb_u64(bb *b, uint64_t v) { bb_int(b, v, 8); }

static void bb_str(bb *b, const char *s) {
    bb_u64(b, strlen(s));
    bb_raw(b, s, strlen(s));
}

static void bb_pad(bb *b, size_t a) {
    while (b->n % a) bb_int(b, 0, 1);
}

static void bb_header(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    bb_raw(b, "GGUF", 4);
    bb_u32(b, version);
    bb_u64(b, n_tensors);
    bb_u64(b, n_kv);
}

/* Restarts b as a version-3 file with no tensors and one kv, written up to
** its value type; the caller appends the value. */
static void bb_one_kv(bb *b, const char *key, uint32_t type) {
    b->n = 0;
    bb_header(b, 3, 0, 1);
    bb_str(b, key);
    bb_u32(b, type);
}

/* A kv holding a uint32. */
static void bb_kv_u32(bb *b, const char *key, uint32_t v) {
    bb_str(b, key);
    bb_u32(b, LX_GGUF_UINT32);
    bb_u32(b, v);
}

/* A tensor info with n_dims dims. */
static void bb_tensor(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                      uint64_t offset) {
    bb_str(b, name);
    bb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) bb_u64(b, ne[d]);
    bb_u32(b, type);
    bb_u64(b, offset);
}

/* Opens a copy of b in an exactly-sized allocation, so ASan sees any read
** past the end; *copy must outlive the handle (close_copy frees both). */
static lx_gguf *open_copy(const bb *b, void **copy, lexie_error *e) {
    *copy = malloc(b->n ? b->n : 1);
    if (b->n) memcpy(*copy, b->p, b->n);
    lx_gguf *g = lx_gguf_open_memory(*copy, b->n, e);
    if (!g) {
        free(*copy);
        *copy = NULL;
    }
    return g;
}

static void close_copy(lx_gguf *g, void *copy) {
    lx_gguf_close(g);
    free(copy);
}

/* Expects opening b to fail with code and a message containing each of the
** NULL-terminated substrings. */
static void expect_fail(lx_t *t, int line, const bb *b, lexie_status code, ...) {
    lexie_error e = {LEXIE_OK, ""};
    void *copy;
    lx_gguf *g = open_copy(b, &copy, &e);
    if (g) {
        lx_test_fail(t, __FILE__, line, "opened a bad file");
        close_copy(g, copy);
        return;
    }
    if (getenv("LX_TEST_VERBOSE")) fprintf(stderr, "    (%d) %s\n", e.code, e.message);
    if (e.code != code)
        lx_test_fail(t, __FILE__, line, "code %d, expected %d (%s)", e.code, code, e.message);
    if (strncmp(e.message, "gguf: ", 6) != 0)
        lx_test_fail(t, __FILE__, line, "message lacks the gguf prefix: %s", e.message);
    va_list ap;
    va_start(ap, code);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(e.message, s))
            lx_test_fail(t, __FILE__, line, "message lacks '%s': %s", s, e.message);
    va_end(ap);
}

#define EXPECT_FAIL(t, b, code, ...) expect_fail((t), __LINE__, (b), (code), __VA_ARGS__, NULL)

static int str_eq(lx_str s, const char *c) {
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

/* ==== The reference file ==== */

static const char *const k_tokens[] = {"a", "b c", "", "\xc3\xa9t\xc3\xa9"};
static const float k_f32s[] = {1.5f, -2.0f, 3e10f};
static const int32_t k_i32s[] = {-1, 0, 2147483647};
static const uint16_t k_u16s[] = {1, 2, 65535};

/* Tensor payloads: a [3,2] F32, a [64,2] Q8_0 and an [8] F32 whose 32 bytes
** end the file without padding, so that every cut shortens some tensor. */
typedef struct ref_data {
    float a[6];
    uint8_t q[4 * 34];
    float c[8];
} ref_data;

static void ref_fill(ref_data *d) {
    for (int i = 0; i < 6; i++) d->a[i] = (float)i * 0.5f - 1.0f;
    for (int i = 0; i < (int)sizeof d->q; i++) d->q[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < 8; i++) d->c[i] = (float)(i * i);
}

/* Builds the reference file with the writer; returns its bytes (free). */
static uint8_t *ref_build(lx_t *t, const ref_data *d, size_t *size) {
    lexie_error e = {LEXIE_OK, ""};
    lx_gguf_writer *w = lx_gguf_writer_new(&e);
    if (!w) return NULL;
    lexie_status s = LEXIE_OK;
    s |= lx_gguf_writer_set_str(w, "general.architecture", "llama", &e);
    s |= lx_gguf_writer_set_u32(w, "test.u32", 4000000000u, &e);
    s |= lx_gguf_writer_set_i32(w, "test.i32", -7, &e);
    s |= lx_gguf_writer_set_f32(w, "test.f32", 0.25f, &e);
    s |= lx_gguf_writer_set_bool(w, "test.bool", 1, &e);
    s |= lx_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", k_tokens, 4, &e);
    s |= lx_gguf_writer_set_arr_f32(w, "test.arr_f32", k_f32s, 3, &e);
    s |= lx_gguf_writer_set_arr_i32(w, "test.arr_i32", k_i32s, 3, &e);

    /* Widths the named setters do not cover, and an array of arrays:
    ** [[1, 2, 65535] as uint16, ["x", "yz"]]. */
    lx_gguf_value v;
    memset(&v, 0, sizeof v);
    v.type = LX_GGUF_UINT64;
    v.v.u64 = (uint64_t)1 << 40;
    s |= lx_gguf_writer_set_value(w, "test.u64", &v, &e);
    v.type = LX_GGUF_INT8;
    v.v.i64 = -5;
    s |= lx_gguf_writer_set_value(w, "test.i8", &v, &e);
    v.type = LX_GGUF_FLOAT64;
    v.v.f64 = 1e300;
    s |= lx_gguf_writer_set_value(w, "test.f64", &v, &e);
    lx_gguf_value strs[2], inner[2];
    memset(strs, 0, sizeof strs);
    memset(inner, 0, sizeof inner);
    strs[0].type = strs[1].type = LX_GGUF_STRING;
    strs[0].v.str = (lx_str){"x", 1};
    strs[1].v.str = (lx_str){"yz", 2};
    inner[0].type = inner[1].type = LX_GGUF_ARRAY;
    inner[0].v.arr.elem_type = LX_GGUF_UINT16;
    inner[0].v.arr.n = 3;
    inner[0].v.arr.raw = (const uint8_t *)k_u16s;
    inner[1].v.arr.elem_type = LX_GGUF_STRING;
    inner[1].v.arr.n = 2;
    inner[1].v.arr.items = strs;
    v.type = LX_GGUF_ARRAY;
    v.v.arr.elem_type = LX_GGUF_ARRAY;
    v.v.arr.n = 2;
    v.v.arr.raw = NULL;
    v.v.arr.items = inner;
    s |= lx_gguf_writer_set_value(w, "test.nested", &v, &e);

    int64_t ne_a[2] = {3, 2}, ne_q[2] = {64, 2}, ne_c[1] = {8};
    s |= lx_gguf_writer_add_tensor(w, "a.weight", LX_TYPE_F32, 2, ne_a, d->a, &e);
    s |= lx_gguf_writer_add_tensor(w, "b.weight", LX_TYPE_Q8_0, 2, ne_q, d->q, &e);
    s |= lx_gguf_writer_add_tensor(w, "c.bias", LX_TYPE_F32, 1, ne_c, d->c, &e);
    void *buf = NULL;
    if (!s) s = lx_gguf_writer_to_memory(w, &buf, size, &e);
    LX_CHECK_MSG(t, s == LEXIE_OK, "writer: %s", e.message);
    lx_gguf_writer_free(w);
    return s ? NULL : buf;
}

#define N_REF_KV 12

/* Checks every value of the reference file. */
static void ref_check(lx_t *t, const lx_gguf *g, const ref_data *d) {
    lexie_error e = {LEXIE_OK, ""};
    LX_CHECK_INT(t, lx_gguf_version(g), 3);
    LX_CHECK_INT(t, lx_gguf_alignment(g), 32);
    LX_CHECK_INT(t, lx_gguf_n_kv(g), N_REF_KV); /* general.alignment not written */
    LX_CHECK(t, lx_gguf_get(g, "general.alignment") == NULL);
    LX_CHECK(t, strcmp(lx_gguf_kv_at(g, 0)->key, "general.architecture") == 0);
    LX_CHECK(t, lx_gguf_kv_at(g, N_REF_KV) == NULL && lx_gguf_kv_at(g, -1) == NULL);

    lx_str str = {0, 0};
    LX_CHECK_INT(t, lx_gguf_get_str(g, "general.architecture", &str, &e), LEXIE_OK);
    LX_CHECK(t, str_eq(str, "llama"));
    uint32_t u32 = 0;
    LX_CHECK_INT(t, lx_gguf_get_u32(g, "test.u32", &u32, &e), LEXIE_OK);
    LX_CHECK_INT(t, u32, 4000000000u);
    int64_t i64 = 0;
    LX_CHECK_INT(t, lx_gguf_get_i64(g, "test.i32", &i64, &e), LEXIE_OK);
    LX_CHECK_INT(t, i64, -7);
    LX_CHECK_INT(t, lx_gguf_get_i64(g, "test.i8", &i64, &e), LEXIE_OK);
    LX_CHECK_INT(t, i64, -5);
    LX_CHECK_INT(t, lx_gguf_get_i64(g, "test.u64", &i64, &e), LEXIE_OK);
    LX_CHECK_INT(t, i64, (int64_t)1 << 40);
    LX_CHECK_INT(t, lx_gguf_get(g, "test.i32")->type, LX_GGUF_INT32);
    LX_CHECK_INT(t, lx_gguf_get(g, "test.u64")->type, LX_GGUF_UINT64);
    float f = 0;
    LX_CHECK_INT(t, lx_gguf_get_f32(g, "test.f32", &f, &e), LEXIE_OK);
    LX_CHECK(t, f == 0.25f);
    LX_CHECK(t, lx_gguf_get(g, "test.f64")->v.f64 == 1e300);
    int b = 0;
    LX_CHECK_INT(t, lx_gguf_get_bool(g, "test.bool", &b, &e), LEXIE_OK);
    LX_CHECK_INT(t, b, 1);

    const lx_gguf_value *arr = NULL;
    LX_CHECK_INT(t, lx_gguf_get_arr(g, "tokenizer.ggml.tokens", LX_GGUF_STRING, &arr, &e),
                 LEXIE_OK);
    if (arr) {
        LX_CHECK_INT(t, arr->v.arr.n, 4);
        for (int i = 0; i < 4 && arr->v.arr.n == 4; i++)
            LX_CHECK(t, str_eq(arr->v.arr.items[i].v.str, k_tokens[i]));
    }
    arr = NULL;
    LX_CHECK_INT(t, lx_gguf_get_arr(g, "test.arr_f32", LX_GGUF_FLOAT32, &arr, &e), LEXIE_OK);
    if (arr && arr->v.arr.n == 3) {
        for (int i = 0; i < 3; i++) LX_CHECK(t, lx_gguf_arr_f64(arr, (uint64_t)i) == k_f32s[i]);
        LX_CHECK_INT(t, lx_gguf_arr_i64(arr, 1), -2);
        LX_CHECK_INT(t, lx_gguf_arr_i64(arr, 2), (int64_t)k_f32s[2]); /* float to int64 */
    }
    arr = NULL;
    LX_CHECK_INT(t, lx_gguf_get_arr(g, "test.arr_i32", -1, &arr, &e), LEXIE_OK);
    if (arr && arr->v.arr.n == 3) {
        for (int i = 0; i < 3; i++) LX_CHECK_INT(t, lx_gguf_arr_i64(arr, (uint64_t)i), k_i32s[i]);
        LX_CHECK_INT(t, lx_gguf_arr_i64(arr, 3), 0); /* out of range reads as 0 */
    }
    arr = NULL;
    LX_CHECK_INT(t, lx_gguf_get_arr(g, "test.nested", LX_GGUF_ARRAY, &arr, &e), LEXIE_OK);
    if (arr && arr->v.arr.n == 2) {
        const lx_gguf_value *a0 = &arr->v.arr.items[0], *a1 = &arr->v.arr.items[1];
        LX_CHECK_INT(t, a0->type, LX_GGUF_ARRAY);
        LX_CHECK_INT(t, a0->v.arr.elem_type, LX_GGUF_UINT16);
        LX_CHECK_INT(t, a0->v.arr.n, 3);
        for (int i = 0; i < 3 && a0->v.arr.n == 3; i++)
            LX_CHECK_INT(t, lx_gguf_arr_i64(a0, (uint64_t)i), k_u16s[i]);
        LX_CHECK_INT(t, a1->v.arr.elem_type, LX_GGUF_STRING);
        LX_CHECK(t, a1->v.arr.n == 2 && str_eq(a1->v.arr.items[1].v.str, "yz"));
    } else {
        LX_CHECK_MSG(t, 0, "nested array missing");
    }

    LX_CHECK_INT(t, lx_gguf_n_tensors(g), 3);
    const lx_gguf_tensor *ta = lx_gguf_find_tensor(g, "a.weight");
    const lx_gguf_tensor *tb = lx_gguf_find_tensor(g, "b.weight");
    const lx_gguf_tensor *tc = lx_gguf_find_tensor(g, "c.bias");
    LX_CHECK(t, lx_gguf_find_tensor(g, "nope") == NULL);
    LX_CHECK(t, lx_gguf_tensor_at(g, 1) == tb && lx_gguf_tensor_at(g, 3) == NULL);
    if (!ta || !tb || !tc) {
        LX_CHECK_MSG(t, 0, "tensors missing");
        return;
    }
    LX_CHECK_INT(t, lx_gguf_data_offset(g) % 32, 0);
    LX_CHECK(t, ta->n_dims == 2 && ta->ne[0] == 3 && ta->ne[1] == 2 && ta->ne[2] == 1);
    LX_CHECK(t, ta->type == LX_TYPE_F32 && ta->nbytes == sizeof d->a);
    LX_CHECK(t, memcmp(ta->data, d->a, sizeof d->a) == 0);
    LX_CHECK(t, tb->type == LX_TYPE_Q8_0 && tb->ne[0] == 64 && tb->ne[1] == 2);
    LX_CHECK_INT(t, tb->nbytes, 136);
    LX_CHECK(t, memcmp(tb->data, d->q, sizeof d->q) == 0);
    LX_CHECK(t, tc->n_dims == 1 && tc->ne[0] == 8 && tc->ne[1] == 1 && tc->nbytes == 32);
    LX_CHECK(t, memcmp(tc->data, d->c, sizeof d->c) == 0);
    for (int64_t i = 0; i < 3; i++) LX_CHECK_INT(t, lx_gguf_tensor_at(g, i)->offset % 32, 0);
    LX_CHECK_INT(t, ta->offset, 0);
    LX_CHECK_INT(t, tb->offset, 32);
    LX_CHECK_INT(t, tc->offset, 32 + 160);
}

/* Fills d, builds the reference file into *buf (*n bytes; free it after
** closing) and opens it from memory.  NULL after recording a failure, with
** *buf freed. */
static lx_gguf *ref_open_memory(lx_t *t, ref_data *d, uint8_t **buf, size_t *n) {
    lexie_error e = {LEXIE_OK, ""};
    ref_fill(d);
    *n = 0;
    if (!(*buf = ref_build(t, d, n))) {
        lx_test_fail(t, __FILE__, __LINE__, "the writer could not build the reference file");
        return NULL;
    }
    lx_gguf *g = lx_gguf_open_memory(*buf, *n, &e);
    if (!g) {
        lx_test_fail(t, __FILE__, __LINE__, "open: %s", e.message);
        free(*buf);
        *buf = NULL;
    }
    return g;
}

/* ==== Tests ==== */

static void test_roundtrip_memory(lx_t *t) {
    ref_data d;
    size_t n;
    uint8_t *buf;
    lx_gguf *g = ref_open_memory(t, &d, &buf, &n);
    if (g) {
        ref_check(t, g, &d);
        /* The last tensor ends the file: the truncation test relies on it. */
        const lx_gguf_tensor *tc = lx_gguf_find_tensor(g, "c.bias");
        LX_CHECK_INT(t, lx_gguf_data_offset(g) + tc->offset + tc->nbytes, n);
    }
    lx_gguf_close(g);
    free(buf);
    lx_gguf_close(NULL);
}

static void test_getter_errors(lx_t *t) {
    ref_data d;
    size_t n;
    uint8_t *buf;
    lx_gguf *g = ref_open_memory(t, &d, &buf, &n);
    if (!g) return;
    lexie_error e = {LEXIE_OK, ""};
    uint32_t u32 = 77;
    LX_CHECK_INT(t, lx_gguf_get_u32(g, "missing.key", &u32, &e), LEXIE_E_NOT_FOUND);
    LX_CHECK_INT(t, u32, 77); /* untouched */
    LX_CHECK(t, strstr(e.message, "missing.key"));
    LX_CHECK_INT(t, lx_gguf_get_u32(g, "test.i32", &u32, &e), LEXIE_E_FORMAT); /* -7 */
    LX_CHECK(t, strstr(e.message, "test.i32") && strstr(e.message, "-7"));
    LX_CHECK_INT(t, lx_gguf_get_u32(g, "test.u64", &u32, &e), LEXIE_E_FORMAT); /* 2^40 */
    LX_CHECK_INT(t, lx_gguf_get_u32(g, "general.architecture", &u32, &e), LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(e.message, "general.architecture") && strstr(e.message, "string"));
    LX_CHECK_INT(t, u32, 77);
    float f = 0;
    LX_CHECK_INT(t, lx_gguf_get_f32(g, "test.f64", &f, &e), LEXIE_E_FORMAT); /* 1e300 */
    LX_CHECK_INT(t, lx_gguf_get_f32(g, "test.u32", &f, &e), LEXIE_E_FORMAT);
    int b = 0;
    LX_CHECK_INT(t, lx_gguf_get_bool(g, "test.u32", &b, &e), LEXIE_E_FORMAT);
    lx_str s;
    LX_CHECK_INT(t, lx_gguf_get_str(g, "test.bool", &s, &e), LEXIE_E_FORMAT);
    const lx_gguf_value *arr = NULL;
    LX_CHECK_INT(t, lx_gguf_get_arr(g, "test.arr_f32", LX_GGUF_STRING, &arr, &e), LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(e.message, "test.arr_f32") && strstr(e.message, "float32"));
    LX_CHECK_INT(t, lx_gguf_get_arr(g, "test.u32", -1, &arr, &e), LEXIE_E_FORMAT);
    LX_CHECK(t, arr == NULL);
    lx_gguf_close(g);
    free(buf);
}

static void test_roundtrip_file(lx_t *t) {
    char dir[] = "/tmp/lexie-test-gguf-XXXXXX";
    LX_REQUIRE(t, mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    ref_data d;
    ref_fill(&d);
    lexie_error e = {LEXIE_OK, ""};
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (float)i;

    /* A stale file at the path is replaced. */
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("old", f);
        fclose(f);
    }
    lx_gguf_writer *w = lx_gguf_writer_new(&e);
    LX_REQUIRE(t, w);
    int64_t ne[2] = {64, 2};
    LX_CHECK_INT(t, lx_gguf_writer_set_u32(w, "general.alignment", 64, &e), LEXIE_OK);
    LX_CHECK_INT(t, lx_gguf_writer_set_str(w, "general.name", "t", &e), LEXIE_OK);
    LX_CHECK_INT(t, lx_gguf_writer_add_tensor(w, "x", LX_TYPE_F32, 1, ne, x, &e), LEXIE_OK);
    LX_CHECK_INT(t, lx_gguf_writer_add_tensor(w, "q", LX_TYPE_Q8_0, 2, ne, d.q, &e), LEXIE_OK);
    LX_CHECK_INT(t, lx_gguf_writer_write(w, path, &e), LEXIE_OK);
    lx_gguf_writer_free(w);

    lx_gguf *g = lx_gguf_open(path, &e);
    LX_CHECK_MSG(t, g, "open: %s", e.message);
    if (g) {
        LX_CHECK_INT(t, lx_gguf_alignment(g), 64);
        LX_CHECK_INT(t, lx_gguf_data_offset(g) % 64, 0);
        const lx_gguf_tensor *q = lx_gguf_find_tensor(g, "q");
        LX_CHECK(t, q && q->offset == 256 && memcmp(q->data, d.q, 136) == 0);
        const lx_gguf_tensor *xt = lx_gguf_find_tensor(g, "x");
        LX_CHECK(t, xt && xt->offset == 0 && memcmp(xt->data, x, sizeof x) == 0);
        LX_CHECK(t, lx_gguf_n_kv(g) == 2);
        lx_gguf_close(g);
    }

    /* Nothing but the file is left in the directory: the temp was renamed. */
    int n_entries = 0;
    DIR *dp = opendir(dir);
    for (struct dirent *de; dp && (de = readdir(dp));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n_entries++;
    if (dp) closedir(dp);
    LX_CHECK_INT(t, n_entries, 1);

    /* Files cut short on disk fail with the path in the message. */
    size_t n = 0;
    uint8_t *buf = ref_build(t, &d, &n);
    for (size_t cut = 0; buf && cut < n; cut += n / 7 + 1) {
        f = fopen(path, "wb");
        LX_REQUIRE(t, f);
        fwrite(buf, 1, cut, f);
        fclose(f);
        g = lx_gguf_open(path, &e);
        LX_CHECK(t, g == NULL);
        lx_gguf_close(g);
        LX_CHECK(t, e.code == LEXIE_E_FORMAT || e.code == LEXIE_E_IO);
        LX_CHECK_MSG(t, strstr(e.message, path), "no path in: %s", e.message);
    }
    if (buf) {
        f = fopen(path, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
        g = lx_gguf_open(path, &e);
        LX_CHECK_MSG(t, g, "open: %s", e.message);
        if (g) ref_check(t, g, &d);
        lx_gguf_close(g);
    }
    free(buf);
    unlink(path);
    rmdir(dir);

    g = lx_gguf_open(path, &e);
    LX_CHECK(t, g == NULL);
    LX_CHECK_INT(t, e.code, LEXIE_E_IO);
    LX_CHECK_MSG(t, strstr(e.message, path), "no path in: %s", e.message);
}

static void test_truncate_every_offset(lx_t *t) {
    ref_data d;
    size_t n = 0;
    ref_fill(&d);
    uint8_t *buf = ref_build(t, &d, &n);
    LX_REQUIRE(t, buf);
    int bad = 0;
    for (size_t cut = 0; cut < n; cut++) {
        lexie_error e = {LEXIE_OK, ""};
        void *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        lx_gguf *g = lx_gguf_open_memory(copy, cut, &e);
        if (g || e.code != LEXIE_E_FORMAT || strncmp(e.message, "gguf: ", 6) != 0 ||
            strlen(e.message) < 12) {
            if (bad++ < 5)
                LX_CHECK_MSG(t, 0, "cut at %zu: g=%p code=%d msg='%s'", cut, (void *)g, e.code,
                             e.message);
        }
        lx_gguf_close(g);
        free(copy);
    }
    LX_CHECK_INT(t, bad, 0);
    free(buf);
}

static void test_bad_header(lx_t *t) {
    bb b = {0};
    bb_raw(&b, "GGUG", 4);
    bb_u32(&b, 3);
    bb_u64(&b, 0);
    bb_u64(&b, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "magic", "offset 0");
    b.n = 0;
    bb_header(&b, 1, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_UNSUPPORTED, "version 1");
    b.n = 0;
    bb_header(&b, 99, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_UNSUPPORTED, "version 99");
    b.n = 0;
    bb_header(&b, 0x03000000u, 0, 0); /* what a big-endian v3 looks like */
    EXPECT_FAIL(t, &b, LEXIE_E_UNSUPPORTED, "big-endian");

    /* A minimal v2 file opens. */
    b.n = 0;
    bb_header(&b, 2, 0, 1);
    bb_kv_u32(&b, "k", 5);
    lexie_error e = {LEXIE_OK, ""};
    void *copy;
    lx_gguf *g = open_copy(&b, &copy, &e);
    LX_CHECK_MSG(t, g, "v2: %s", e.message);
    if (g) {
        uint32_t v = 0;
        LX_CHECK_INT(t, lx_gguf_version(g), 2);
        LX_CHECK_INT(t, lx_gguf_get_u32(g, "k", &v, &e), LEXIE_OK);
        LX_CHECK_INT(t, v, 5);
        LX_CHECK_INT(t, lx_gguf_n_tensors(g), 0);
        close_copy(g, copy);
    }
    free(b.p);
}

static void test_absurd_counts(lx_t *t) {
    bb b = {0};
    bb_header(&b, 3, (uint64_t)1 << 62, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "4611686018427387904", "offset 24");
    b.n = 0;
    bb_header(&b, 3, 0, (uint64_t)1 << 62);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "kv count 4611686018427387904");

    /* An array claiming 4e9 strings in a file of a few dozen bytes. */
    b.n = 0;
    bb_header(&b, 3, 0, 2);
    bb_kv_u32(&b, "first", 1);
    bb_str(&b, "tokenizer.ggml.tokens");
    bb_u32(&b, LX_GGUF_ARRAY);
    bb_u32(&b, LX_GGUF_STRING);
    bb_u64(&b, 4000000000u);
    bb_str(&b, "tok");
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "kv 1 'tokenizer.ggml.tokens'", "4000000000 strings",
                "bytes left at offset");
    /* The same with u64 elements and the largest count. */
    bb_one_kv(&b, "big", LX_GGUF_ARRAY);
    bb_u32(&b, LX_GGUF_UINT64);
    bb_u64(&b, UINT64_MAX);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "'big'", "18446744073709551615");
    /* A string longer than the file. */
    bb_one_kv(&b, "s", LX_GGUF_STRING);
    bb_u64(&b, (uint64_t)1 << 60);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "kv 0 's'", "length 1152921504606846976", "offset 37");
    /* A key length past the end. */
    b.n = 0;
    bb_header(&b, 3, 0, 1);
    bb_u64(&b, 1000);
    bb_raw(&b, "abcdefghijklmnopq", 17);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "kv 0", "key at offset 24", "length 1000");
    free(b.p);
}

static void test_bad_values(lx_t *t) {
    bb b = {0};
    bb_one_kv(&b, "weird", 13);
    bb_u32(&b, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "'weird'", "unknown value type 13");
    bb_one_kv(&b, "flag", LX_GGUF_BOOL);
    bb_int(&b, 2, 1);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "'flag'", "bool");
    bb_one_kv(&b, "", LX_GGUF_UINT8);
    bb_u64(&b, 0); /* a value plus slack */
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "kv 0", "key at offset 24 is empty");
    bb_one_kv(&b, "bad\xff", LX_GGUF_UINT8);
    bb_int(&b, 0, 1);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "kv 0", "UTF-8");
    b.n = 0;
    bb_header(&b, 3, 0, 1);
    bb_u64(&b, 3);
    bb_raw(&b, "a\0b", 3);
    bb_u32(&b, LX_GGUF_UINT8);
    bb_int(&b, 0, 1);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "NUL");
    /* Arrays nested past the depth limit. */
    bb_one_kv(&b, "deep", LX_GGUF_ARRAY);
    for (int i = 0; i < 20; i++) {
        bb_u32(&b, LX_GGUF_ARRAY);
        bb_u64(&b, 1);
    }
    bb_u32(&b, LX_GGUF_UINT8);
    bb_u64(&b, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "'deep'", "nested");
    /* Duplicate key. */
    b.n = 0;
    bb_header(&b, 3, 0, 3);
    bb_kv_u32(&b, "a", 1);
    bb_kv_u32(&b, "general.name", 2);
    bb_kv_u32(&b, "general.name", 3);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "kv 2 'general.name'", "duplicate", "kv 1");
    free(b.p);
}

/* One F32 [8] tensor with the given fields, in a file with 32 data bytes. */
static void one_tensor(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                       uint64_t offset, int64_t align) {
    b->n = 0;
    bb_header(b, 3, 1, align ? 1 : 0);
    if (align) bb_kv_u32(b, "general.alignment", (uint32_t)align);
    bb_tensor(b, name, n_dims, ne, type, offset);
    bb_pad(b, align > 0 && (align & (align - 1)) == 0 ? (size_t)align : 32);
    for (int i = 0; i < 32; i++) bb_int(b, 0, 1);
}

static void test_bad_tensors(lx_t *t) {
    bb b = {0};
    uint64_t ne8[1] = {8};
    lexie_error e = {LEXIE_OK, ""};
    void *copy;
    one_tensor(&b, "ok", 1, ne8, LX_TYPE_F32, 0, 0);
    lx_gguf *g = open_copy(&b, &copy, &e);
    LX_CHECK_MSG(t, g, "valid tensor file: %s", e.message);
    if (g) {
        const lx_gguf_tensor *tt = lx_gguf_tensor_at(g, 0);
        LX_CHECK(t, tt->nbytes == 32 && (const uint8_t *)tt->data == (uint8_t *)copy + 64);
        close_copy(g, copy);
    }

    uint64_t huge[2] = {(uint64_t)1 << 40, (uint64_t)1 << 40};
    one_tensor(&b, "blk.0.huge", 2, huge, LX_TYPE_F32, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'blk.0.huge'", "overflow");
    uint64_t big[2] = {(uint64_t)1 << 30, (uint64_t)1 << 30}; /* counts fit, bytes exceed file */
    one_tensor(&b, "big", 2, big, LX_TYPE_F32, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'big'");
    uint64_t neg[1] = {(uint64_t)-8};
    one_tensor(&b, "neg", 1, neg, LX_TYPE_F32, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'neg'", "ne[0]");
    uint64_t zero[2] = {8, 0};
    one_tensor(&b, "zero", 2, zero, LX_TYPE_F32, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'zero'", "ne[1]");
    uint64_t ne5[5] = {8, 1, 1, 1, 1};
    one_tensor(&b, "five", 5, ne5, LX_TYPE_F32, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'five'", "n_dims 5");
    one_tensor(&b, "none", 0, ne8, LX_TYPE_F32, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'none'", "n_dims 0");
    one_tensor(&b, "odd.type", 1, ne8, 200, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_UNSUPPORTED, "tensor 0 'odd.type'", "type 200");
    uint64_t ne33[1] = {33};
    one_tensor(&b, "q", 1, ne33, LX_TYPE_Q8_0, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'q'", "block size");
    one_tensor(&b, "past", 1, ne8, LX_TYPE_F32, 32, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'past'", "past the end");
    one_tensor(&b, "far", 1, ne8, LX_TYPE_F32, (uint64_t)1 << 63, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'far'", "past the end");
    /* An offset near 2^64: data_offset + offset wraps, and the message
    ** once printed the wrapped sum (a small number) as the file offset. */
    one_tensor(&b, "wrap", 1, ne8, LX_TYPE_F32, UINT64_MAX - 31, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'wrap'", "data offset 18446744073709551584",
                "data section at file offset 64", "past the end");
    one_tensor(&b, "skew", 1, ne8, LX_TYPE_F32, 4, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0 'skew'", "multiple of the alignment");
    one_tensor(&b, "", 1, ne8, LX_TYPE_F32, 0, 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 0", "empty");

    /* Alignment: zero or not a power of two is refused; 64 is honoured. */
    one_tensor(&b, "t", 1, ne8, LX_TYPE_F32, 0, 0x7fffffff);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "general.alignment", "power of two");
    one_tensor(&b, "t", 1, ne8, LX_TYPE_F32, 0, 48);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "general.alignment", "48");
    b.n = 0;
    bb_header(&b, 3, 0, 1);
    bb_kv_u32(&b, "general.alignment", 0);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "kv 0 'general.alignment'", "alignment 0");
    bb_one_kv(&b, "general.alignment", LX_GGUF_STRING);
    bb_str(&b, "32");
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "general.alignment", "uint32");
    one_tensor(&b, "t", 1, ne8, LX_TYPE_F32, 0, 64);
    g = open_copy(&b, &copy, &e);
    LX_CHECK_MSG(t, g, "alignment 64: %s", e.message);
    if (g) {
        LX_CHECK_INT(t, lx_gguf_alignment(g), 64);
        LX_CHECK_INT(t, lx_gguf_data_offset(g), 128);
        close_copy(g, copy);
    }

    /* Duplicate tensor names. */
    b.n = 0;
    bb_header(&b, 3, 3, 0);
    bb_tensor(&b, "w", 1, ne8, LX_TYPE_F32, 0);
    bb_tensor(&b, "v", 1, ne8, LX_TYPE_F32, 32);
    bb_tensor(&b, "w", 1, ne8, LX_TYPE_F32, 64);
    bb_pad(&b, 32);
    for (int i = 0; i < 96; i++) bb_int(&b, 0, 1);
    EXPECT_FAIL(t, &b, LEXIE_E_FORMAT, "tensor 2 'w'", "duplicate", "tensor 0");
    free(b.p);
}

static void test_writer_errors(lx_t *t) {
    lexie_error e = {LEXIE_OK, ""};
    lx_gguf_writer *w = lx_gguf_writer_new(&e);
    LX_REQUIRE(t, w);
    float x[64] = {0};
    int64_t ne[2] = {33, 1};
    LX_CHECK_INT(t, lx_gguf_writer_set_u32(w, "k", 1, &e), LEXIE_OK);
    LX_CHECK_INT(t, lx_gguf_writer_set_str(w, "k", "again", &e), LEXIE_E_INVALID);
    LX_CHECK(t, strstr(e.message, "'k'"));
    LX_CHECK_INT(t, lx_gguf_writer_set_u32(w, "general.alignment", 24, &e), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lx_gguf_writer_set_i32(w, "general.alignment", 32, &e), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lx_gguf_writer_set_u32(w, "", 1, &e), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lx_gguf_writer_add_tensor(w, "q", LX_TYPE_Q8_0, 1, ne, x, &e), LEXIE_E_INVALID);
    LX_CHECK(t, strstr(e.message, "'q'"));
    ne[0] = 8;
    LX_CHECK_INT(t, lx_gguf_writer_add_tensor(w, "u", 200, 1, ne, x, &e), LEXIE_E_UNSUPPORTED);
    LX_CHECK_INT(t, lx_gguf_writer_add_tensor(w, "z", LX_TYPE_F32, 5, ne, x, &e), LEXIE_E_INVALID);
    ne[1] = 0;
    LX_CHECK_INT(t, lx_gguf_writer_add_tensor(w, "z", LX_TYPE_F32, 2, ne, x, &e), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lx_gguf_writer_add_tensor(w, "ok", LX_TYPE_F32, 1, ne, x, &e), LEXIE_OK);
    LX_CHECK_INT(t, lx_gguf_writer_add_tensor(w, "ok", LX_TYPE_F32, 1, ne, x, &e), LEXIE_E_INVALID);

    /* The failed calls left nothing behind: the file has one kv, one tensor. */
    void *buf = NULL;
    size_t n = 0;
    LX_CHECK_INT(t, lx_gguf_writer_to_memory(w, &buf, &n, &e), LEXIE_OK);
    lx_gguf *g = buf ? lx_gguf_open_memory(buf, n, &e) : NULL;
    LX_CHECK_MSG(t, g, "reopen: %s", e.message);
    if (g) {
        LX_CHECK_INT(t, lx_gguf_n_kv(g), 1);
        LX_CHECK_INT(t, lx_gguf_n_tensors(g), 1);
        LX_CHECK_INT(t, lx_gguf_alignment(g), 32);
    }
    lx_gguf_close(g);
    free(buf);
    LX_CHECK_INT(t, lx_gguf_writer_write(w, "/nonexistent-dir/x.gguf", &e), LEXIE_E_IO);
    LX_CHECK(t, strstr(e.message, "/nonexistent-dir/x.gguf"));
    lx_gguf_writer_free(w);
    lx_gguf_writer_free(NULL);
}

void suite_gguf(void) {
    LX_RUN(test_roundtrip_memory);
    LX_RUN(test_getter_errors);
    LX_RUN(test_roundtrip_file);
    LX_RUN(test_truncate_every_offset);
    LX_RUN(test_bad_header);
    LX_RUN(test_absurd_counts);
    LX_RUN(test_bad_values);
    LX_RUN(test_bad_tensors);
    LX_RUN(test_writer_errors);
}
