/*
** gguf_get.c -- looking things up in an open GGUF file: kvs and tensors by
** position or name, typed metadata getters, numeric array elements.
**
** Unlike ggml's getters, which abort on a wrong type, these return
** LEXIE_E_FORMAT naming the key: a model with a float where an integer
** belongs is a bad file, not a bug in lexie.
*/
#include "gguf/gguf_impl.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ==== File-level accessors ==== */

uint32_t lx_gguf_version(const lx_gguf *g) { return g->version; }
uint32_t lx_gguf_alignment(const lx_gguf *g) { return g->alignment; }
uint64_t lx_gguf_data_offset(const lx_gguf *g) { return g->data_offset; }

int64_t lx_gguf_n_kv(const lx_gguf *g) { return g->n_kv; }

const lx_gguf_kv *lx_gguf_kv_at(const lx_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

const lx_gguf_value *lx_gguf_get(const lx_gguf *g, const char *key) {
    int64_t i = lx_gguf_index_find(&g->kv_index, key);
    return i >= 0 ? &g->kvs[i].value : NULL;
}

int64_t lx_gguf_n_tensors(const lx_gguf *g) { return g->n_tensors; }

const lx_gguf_tensor *lx_gguf_tensor_at(const lx_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const lx_gguf_tensor *lx_gguf_find_tensor(const lx_gguf *g, const char *name) {
    int64_t i = lx_gguf_index_find(&g->tensor_index, name);
    return i >= 0 ? &g->tensors[i] : NULL;
}

/* ==== Typed getters ==== */

static int is_unsigned(int t) {
    return t == LX_GGUF_UINT8 || t == LX_GGUF_UINT16 || t == LX_GGUF_UINT32 || t == LX_GGUF_UINT64;
}

static int is_signed(int t) {
    return t == LX_GGUF_INT8 || t == LX_GGUF_INT16 || t == LX_GGUF_INT32 || t == LX_GGUF_INT64;
}

/* Finds key and checks that it exists; on success *v is its value. */
static lexie_status lookup(const lx_gguf *g, const char *key, const lx_gguf_value **v,
                           lexie_error *err) {
    *v = lx_gguf_get(g, key);
    if (!*v) return lx_fail(err, LEXIE_E_NOT_FOUND, "gguf: key '%s' not found", key);
    return LEXIE_OK;
}

static lexie_status wrong_type(const char *key, const lx_gguf_value *v, const char *want,
                               lexie_error *err) {
    return lx_fail(err, LEXIE_E_FORMAT, "gguf: key '%s': expected %s, found %s", key, want,
                   lx_gguf_vtype_name(v->type));
}

lexie_status lx_gguf_get_u32(const lx_gguf *g, const char *key, uint32_t *out, lexie_error *err) {
    const lx_gguf_value *v;
    lexie_status s = lookup(g, key, &v, err);
    if (s) return s;
    if (is_unsigned(v->type)) {
        if (v->v.u64 > UINT32_MAX)
            return lx_fail(err, LEXIE_E_FORMAT, "gguf: key '%s': value %llu does not fit in uint32",
                           key, (unsigned long long)v->v.u64);
        *out = (uint32_t)v->v.u64;
        return LEXIE_OK;
    }
    if (is_signed(v->type)) {
        if (v->v.i64 < 0 || v->v.i64 > (int64_t)UINT32_MAX)
            return lx_fail(err, LEXIE_E_FORMAT, "gguf: key '%s': value %lld does not fit in uint32",
                           key, (long long)v->v.i64);
        *out = (uint32_t)v->v.i64;
        return LEXIE_OK;
    }
    return wrong_type(key, v, "an integer", err);
}

lexie_status lx_gguf_get_i64(const lx_gguf *g, const char *key, int64_t *out, lexie_error *err) {
    const lx_gguf_value *v;
    lexie_status s = lookup(g, key, &v, err);
    if (s) return s;
    if (is_unsigned(v->type)) {
        if (v->v.u64 > INT64_MAX)
            return lx_fail(err, LEXIE_E_FORMAT, "gguf: key '%s': value %llu does not fit in int64",
                           key, (unsigned long long)v->v.u64);
        *out = (int64_t)v->v.u64;
        return LEXIE_OK;
    }
    if (is_signed(v->type)) {
        *out = v->v.i64;
        return LEXIE_OK;
    }
    return wrong_type(key, v, "an integer", err);
}

lexie_status lx_gguf_get_f32(const lx_gguf *g, const char *key, float *out, lexie_error *err) {
    const lx_gguf_value *v;
    lexie_status s = lookup(g, key, &v, err);
    if (s) return s;
    if (v->type != LX_GGUF_FLOAT32 && v->type != LX_GGUF_FLOAT64)
        return wrong_type(key, v, "a float", err);
    double d = v->v.f64;
    /* A finite float64 beyond float's range would become inf (or be UB). */
    if (isfinite(d) && fabs(d) > FLT_MAX)
        return lx_fail(err, LEXIE_E_FORMAT, "gguf: key '%s': value %g does not fit in float32", key,
                       d);
    *out = (float)d;
    return LEXIE_OK;
}

lexie_status lx_gguf_get_bool(const lx_gguf *g, const char *key, int *out, lexie_error *err) {
    const lx_gguf_value *v;
    lexie_status s = lookup(g, key, &v, err);
    if (s) return s;
    if (v->type != LX_GGUF_BOOL) return wrong_type(key, v, "a bool", err);
    *out = v->v.u64 != 0;
    return LEXIE_OK;
}

lexie_status lx_gguf_get_str(const lx_gguf *g, const char *key, lx_str *out, lexie_error *err) {
    const lx_gguf_value *v;
    lexie_status s = lookup(g, key, &v, err);
    if (s) return s;
    if (v->type != LX_GGUF_STRING) return wrong_type(key, v, "a string", err);
    *out = v->v.str;
    return LEXIE_OK;
}

lexie_status lx_gguf_get_arr(const lx_gguf *g, const char *key, int elem, const lx_gguf_value **out,
                             lexie_error *err) {
    const lx_gguf_value *v;
    lexie_status s = lookup(g, key, &v, err);
    if (s) return s;
    if (v->type != LX_GGUF_ARRAY) return wrong_type(key, v, "an array", err);
    if (elem >= 0 && (int)v->v.arr.elem_type != elem)
        return lx_fail(err, LEXIE_E_FORMAT, "gguf: key '%s': expected an array of %s, found %s",
                       key, lx_gguf_vtype_name(elem), lx_gguf_vtype_name(v->v.arr.elem_type));
    *out = v;
    return LEXIE_OK;
}

/* ==== Numeric array elements ==== */

/* Element i of a numeric array, read with memcpy since the array may sit
** at any offset in the file.  The bytes are little-endian and so is every
** host lexie runs on (tensor data is used in place, too).  Zero when i or
** the element type is out of bounds. */
typedef struct num {
    char kind; /* which field is set: 'u', 'i' or 'f' */
    uint64_t u;
    int64_t i;
    double f;
} num;

static num arr_elem(const lx_gguf_value *a, uint64_t i) {
    num r = {'u', 0, 0, 0};
    if (!a || a->type != LX_GGUF_ARRAY || !a->v.arr.raw || i >= a->v.arr.n) return r;
    const uint8_t *p = a->v.arr.raw + i * lx_gguf_vtype_size(a->v.arr.elem_type);
    uint8_t u8;
    int8_t i8;
    uint16_t u16;
    int16_t i16;
    uint32_t u32;
    int32_t i32;
    float f32;
    switch (a->v.arr.elem_type) {
    case LX_GGUF_UINT8:
    case LX_GGUF_BOOL: memcpy(&u8, p, 1), r.u = u8; break;
    case LX_GGUF_UINT16: memcpy(&u16, p, 2), r.u = u16; break;
    case LX_GGUF_UINT32: memcpy(&u32, p, 4), r.u = u32; break;
    case LX_GGUF_UINT64: memcpy(&r.u, p, 8); break;
    case LX_GGUF_INT8: memcpy(&i8, p, 1), r.i = i8, r.kind = 'i'; break;
    case LX_GGUF_INT16: memcpy(&i16, p, 2), r.i = i16, r.kind = 'i'; break;
    case LX_GGUF_INT32: memcpy(&i32, p, 4), r.i = i32, r.kind = 'i'; break;
    case LX_GGUF_INT64: memcpy(&r.i, p, 8), r.kind = 'i'; break;
    case LX_GGUF_FLOAT32: memcpy(&f32, p, 4), r.f = f32, r.kind = 'f'; break;
    case LX_GGUF_FLOAT64: memcpy(&r.f, p, 8), r.kind = 'f'; break;
    default: break; /* STRING and ARRAY have no raw elements */
    }
    return r;
}

double lx_gguf_arr_f64(const lx_gguf_value *arr, uint64_t i) {
    num r = arr_elem(arr, i);
    return r.kind == 'f' ? r.f : r.kind == 'i' ? (double)r.i : (double)r.u;
}

int64_t lx_gguf_arr_i64(const lx_gguf_value *arr, uint64_t i) {
    num r = arr_elem(arr, i);
    if (r.kind == 'i') return r.i;
    if (r.kind == 'u') return r.u > INT64_MAX ? INT64_MAX : (int64_t)r.u;
    /* Saturate: converting an out-of-range double to an integer is UB. */
    if (isnan(r.f)) return 0;
    if (r.f >= 9223372036854775807.0) return INT64_MAX;
    if (r.f <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)r.f;
}
