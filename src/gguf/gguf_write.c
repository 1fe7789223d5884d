/*
** gguf_write.c -- building GGUF v3 files: LoRA adapters, merged models and
** test fixtures.
**
** Metadata is serialised as each kv is set, so the writer holds one byte
** buffer plus a copy of every tensor's data.  Output follows llama.cpp's
** writer: header, kvs, tensor infos, zero padding to the alignment, then
** each tensor's data padded to the alignment (the last one too, since
** llama.cpp reads the padded data section as one block).  The key
** general.alignment is written only when the caller sets it, and then
** changes the alignment used.  A file is written to a temporary name in
** the same directory, synced, then renamed, so readers never see half a
** file.
*/
#include "gguf/gguf_impl.h"
#include "kernels/kernels.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct wtensor {
    char *name;
    int type;
    int n_dims;
    int64_t ne[LX_GGUF_MAX_DIMS];
    void *data; /* owned copy */
    size_t nbytes;
} wtensor;

struct lx_gguf_writer {
    uint8_t *kv; /* serialised kv records */
    size_t kv_len, kv_cap;
    char **keys; /* for duplicate checks */
    int64_t n_kv;
    size_t cap_keys;
    wtensor *tensors;
    int64_t n_tensors;
    size_t cap_tensors;
    uint32_t alignment;
};

lx_gguf_writer *lx_gguf_writer_new(lexie_error *err) {
    lx_gguf_writer *w = lx_calloc(1, sizeof *w, err);
    if (w) w->alignment = LX_GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void lx_gguf_writer_free(lx_gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    free(w->kv);
    for (int64_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    free(w->tensors);
    free(w);
}

/* ==== Metadata bytes ==== */

static lexie_status put(lx_gguf_writer *w, const void *p, size_t n, lexie_error *err) {
    if (n > SIZE_MAX - w->kv_len)
        return lx_fail(err, LEXIE_E_NOMEM, "gguf writer: metadata size overflows");
    if (lx_grow((void **)&w->kv, &w->kv_cap, w->kv_len + n, 1, NULL))
        return lx_fail(err, LEXIE_E_NOMEM, "gguf writer: out of memory (%zu bytes)", w->kv_len + n);
    if (n) memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
    return LEXIE_OK;
}

static void le_bytes(uint8_t *b, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static lexie_status put_uint(lx_gguf_writer *w, uint64_t v, size_t n, lexie_error *err) {
    uint8_t b[8];
    le_bytes(b, v, n);
    return put(w, b, n, err);
}

static lexie_status put_str(lx_gguf_writer *w, const char *s, uint64_t len, lexie_error *err) {
    lexie_status st = put_uint(w, len, 8, err);
    return st ? st : put(w, s, (size_t)len, err);
}

/* ==== Metadata ==== */

/* Serialises the body of v (no type tag). */
static lexie_status put_value(lx_gguf_writer *w, const char *key, const lx_gguf_value *v, int depth,
                              lexie_error *err) {
    size_t sz = lx_gguf_vtype_size(v->type);
    switch (v->type) {
    case LX_GGUF_STRING:
        if (!v->v.str.ptr && v->v.str.len)
            return lx_fail(err, LEXIE_E_INVALID, "gguf writer: key '%s': NULL string", key);
        return put_str(w, v->v.str.ptr, v->v.str.len, err);
    case LX_GGUF_FLOAT32: {
        if (isfinite(v->v.f64) && fabs(v->v.f64) > FLT_MAX)
            return lx_fail(err, LEXIE_E_INVALID, "gguf writer: key '%s': %g overflows float32", key,
                           v->v.f64);
        float f = (float)v->v.f64;
        uint32_t b;
        memcpy(&b, &f, 4);
        return put_uint(w, b, 4, err);
    }
    case LX_GGUF_FLOAT64: {
        uint64_t b;
        memcpy(&b, &v->v.f64, 8);
        return put_uint(w, b, 8, err);
    }
    case LX_GGUF_BOOL: return put_uint(w, v->v.u64 != 0, 1, err);
    case LX_GGUF_ARRAY: break;
    default:
        if (!sz)
            return lx_fail(err, LEXIE_E_INVALID, "gguf writer: key '%s': unknown type %d", key,
                           (int)v->type);
        /* Signed values are stored two's complement in the low bytes. */
        return put_uint(w, v->v.u64, sz, err);
    }

    lx_gguf_vtype et = v->v.arr.elem_type;
    uint64_t n = v->v.arr.n;
    if (depth >= LX_GGUF_MAX_DEPTH)
        return lx_fail(err, LEXIE_E_INVALID,
                       "gguf writer: key '%s': arrays nested more than %d deep", key,
                       LX_GGUF_MAX_DEPTH);
    if ((unsigned)et > LX_GGUF_FLOAT64)
        return lx_fail(err, LEXIE_E_INVALID, "gguf writer: key '%s': unknown element type %d", key,
                       (int)et);
    lexie_status st = put_uint(w, et, 4, err);
    if (!st) st = put_uint(w, n, 8, err);
    if (st) return st;
    if (et != LX_GGUF_STRING && et != LX_GGUF_ARRAY) {
        size_t bytes;
        if (n && !v->v.arr.raw)
            return lx_fail(err, LEXIE_E_INVALID, "gguf writer: key '%s': NULL array data", key);
        if (n > SIZE_MAX || !lx_mul_ok((size_t)n, lx_gguf_vtype_size(et), &bytes))
            return lx_fail(err, LEXIE_E_NOMEM, "gguf writer: key '%s': array size overflows", key);
        return put(w, v->v.arr.raw, bytes, err);
    }
    if (n && !v->v.arr.items)
        return lx_fail(err, LEXIE_E_INVALID, "gguf writer: key '%s': NULL array items", key);
    for (uint64_t i = 0; i < n; i++) {
        const lx_gguf_value *it = &v->v.arr.items[i];
        if (it->type != et)
            return lx_fail(
                err, LEXIE_E_INVALID, "gguf writer: key '%s': item %llu is %s in an array of %s",
                key, (unsigned long long)i, lx_gguf_vtype_name(it->type), lx_gguf_vtype_name(et));
        st = put_value(w, key, it, depth + 1, err);
        if (st) return st;
    }
    return LEXIE_OK;
}

lexie_status lx_gguf_writer_set_value(lx_gguf_writer *w, const char *key, const lx_gguf_value *v,
                                      lexie_error *err) {
    if (!w || !key || !v) return lx_fail(err, LEXIE_E_INVALID, "gguf writer: NULL argument");
    size_t klen = strlen(key);
    if (klen == 0 || !lx_utf8_valid(key, klen, NULL))
        return lx_fail(err, LEXIE_E_INVALID, "gguf writer: key '%s' is empty or not UTF-8", key);
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0)
            return lx_fail(err, LEXIE_E_INVALID, "gguf writer: duplicate key '%s'", key);
    uint32_t align = w->alignment;
    if (strcmp(key, "general.alignment") == 0) {
        uint64_t a = v->v.u64;
        if (v->type != LX_GGUF_UINT32 || a == 0 || (a & (a - 1)) != 0)
            return lx_fail(err, LEXIE_E_INVALID,
                           "gguf writer: general.alignment must be a uint32 power of two");
        align = (uint32_t)a;
    }
    if (lx_grow((void **)&w->keys, &w->cap_keys, (size_t)w->n_kv + 1, sizeof *w->keys, NULL))
        return lx_fail(err, LEXIE_E_NOMEM, "gguf writer: out of memory (%lld keys)",
                       (long long)w->n_kv + 1);
    char *copy = lx_strdup(key, err);
    if (!copy) return LEXIE_E_NOMEM;
    size_t start = w->kv_len;
    lexie_status st = put_str(w, key, klen, err);
    if (!st) st = put_uint(w, (uint64_t)v->type, 4, err);
    if (!st) st = put_value(w, key, v, 0, err);
    if (st) {
        w->kv_len = start; /* drop the half-written record */
        free(copy);
        return st;
    }
    w->keys[w->n_kv++] = copy;
    w->alignment = align;
    return LEXIE_OK;
}

static lexie_status set_scalar(lx_gguf_writer *w, const char *key, lx_gguf_vtype type, uint64_t u,
                               double f, lexie_error *err) {
    lx_gguf_value v;
    memset(&v, 0, sizeof v);
    v.type = type;
    if (type == LX_GGUF_FLOAT32)
        v.v.f64 = f;
    else
        v.v.u64 = u;
    return lx_gguf_writer_set_value(w, key, &v, err);
}

lexie_status lx_gguf_writer_set_u32(lx_gguf_writer *w, const char *key, uint32_t v,
                                    lexie_error *err) {
    return set_scalar(w, key, LX_GGUF_UINT32, v, 0, err);
}

lexie_status lx_gguf_writer_set_i32(lx_gguf_writer *w, const char *key, int32_t v,
                                    lexie_error *err) {
    return set_scalar(w, key, LX_GGUF_INT32, (uint64_t)(int64_t)v, 0, err);
}

lexie_status lx_gguf_writer_set_f32(lx_gguf_writer *w, const char *key, float v, lexie_error *err) {
    return set_scalar(w, key, LX_GGUF_FLOAT32, 0, v, err);
}

lexie_status lx_gguf_writer_set_bool(lx_gguf_writer *w, const char *key, int v, lexie_error *err) {
    return set_scalar(w, key, LX_GGUF_BOOL, v != 0, 0, err);
}

lexie_status lx_gguf_writer_set_str(lx_gguf_writer *w, const char *key, const char *v,
                                    lexie_error *err) {
    if (!v) return lx_fail(err, LEXIE_E_INVALID, "gguf writer: key '%s': NULL string", key);
    lx_gguf_value val;
    memset(&val, 0, sizeof val);
    val.type = LX_GGUF_STRING;
    val.v.str.ptr = v;
    val.v.str.len = strlen(v);
    return lx_gguf_writer_set_value(w, key, &val, err);
}

lexie_status lx_gguf_writer_set_arr_str(lx_gguf_writer *w, const char *key, const char *const *v,
                                        uint64_t n, lexie_error *err) {
    if (n && !v) return lx_fail(err, LEXIE_E_INVALID, "gguf writer: key '%s': NULL array", key);
    lx_gguf_value val;
    memset(&val, 0, sizeof val);
    val.type = LX_GGUF_ARRAY;
    val.v.arr.elem_type = LX_GGUF_STRING;
    val.v.arr.n = n;
    if (n) {
        val.v.arr.items = lx_calloc((size_t)n, sizeof *val.v.arr.items, err);
        if (!val.v.arr.items) return LEXIE_E_NOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!v[i]) {
            free(val.v.arr.items);
            return lx_fail(err, LEXIE_E_INVALID, "gguf writer: key '%s': string %llu is NULL", key,
                           (unsigned long long)i);
        }
        val.v.arr.items[i].type = LX_GGUF_STRING;
        val.v.arr.items[i].v.str.ptr = v[i];
        val.v.arr.items[i].v.str.len = strlen(v[i]);
    }
    lexie_status st = lx_gguf_writer_set_value(w, key, &val, err);
    free(val.v.arr.items);
    return st;
}

static lexie_status set_arr_num(lx_gguf_writer *w, const char *key, lx_gguf_vtype et, const void *v,
                                uint64_t n, lexie_error *err) {
    lx_gguf_value val;
    memset(&val, 0, sizeof val);
    val.type = LX_GGUF_ARRAY;
    val.v.arr.elem_type = et;
    val.v.arr.n = n;
    val.v.arr.raw = v; /* float and int32 are little-endian in memory too */
    return lx_gguf_writer_set_value(w, key, &val, err);
}

lexie_status lx_gguf_writer_set_arr_f32(lx_gguf_writer *w, const char *key, const float *v,
                                        uint64_t n, lexie_error *err) {
    return set_arr_num(w, key, LX_GGUF_FLOAT32, v, n, err);
}

lexie_status lx_gguf_writer_set_arr_i32(lx_gguf_writer *w, const char *key, const int32_t *v,
                                        uint64_t n, lexie_error *err) {
    return set_arr_num(w, key, LX_GGUF_INT32, v, n, err);
}

/* ==== Tensors ==== */

lexie_status lx_gguf_writer_add_tensor(lx_gguf_writer *w, const char *name, int type, int n_dims,
                                       const int64_t *ne, const void *data, lexie_error *err) {
    if (!w || !name || !ne || !data)
        return lx_fail(err, LEXIE_E_INVALID, "gguf writer: NULL argument");
    size_t nlen = strlen(name);
    if (nlen == 0 || !lx_utf8_valid(name, nlen, NULL))
        return lx_fail(err, LEXIE_E_INVALID, "gguf writer: tensor name '%s' is empty or not UTF-8",
                       name);
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return lx_fail(err, LEXIE_E_INVALID, "gguf writer: duplicate tensor '%s'", name);
    if (n_dims < 1 || n_dims > LX_GGUF_MAX_DIMS)
        return lx_fail(err, LEXIE_E_INVALID, "gguf writer: tensor '%s': n_dims %d not in 1..%d",
                       name, n_dims, LX_GGUF_MAX_DIMS);
    wtensor t;
    memset(&t, 0, sizeof t);
    int64_t count = 1;
    for (int d = 0; d < LX_GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] < 1 || t.ne[d] > INT64_MAX / count)
            return lx_fail(err, LEXIE_E_INVALID, "gguf writer: tensor '%s': bad ne[%d] = %lld",
                           name, d, (long long)t.ne[d]);
        count *= t.ne[d];
    }
    const lx_type_traits *tt = lx_type_traits_get(type);
    if (!tt)
        return lx_fail(err, LEXIE_E_UNSUPPORTED,
                       "gguf writer: tensor '%s': type %d (%s) is not supported", name, type,
                       lx_type_name(type));
    size_t row = lx_row_size(type, t.ne[0]);
    if (row == 0)
        return lx_fail(
            err, LEXIE_E_INVALID,
            "gguf writer: tensor '%s': ne[0] = %lld is not a multiple of the %s block size %d",
            name, (long long)t.ne[0], tt->name, tt->blck_size);
    if (!lx_mul_ok(row, (size_t)(count / t.ne[0]), &t.nbytes))
        return lx_fail(err, LEXIE_E_INVALID, "gguf writer: tensor '%s': size overflows", name);
    if (lx_grow((void **)&w->tensors, &w->cap_tensors, (size_t)w->n_tensors + 1, sizeof *w->tensors,
                NULL))
        return lx_fail(err, LEXIE_E_NOMEM, "gguf writer: out of memory (%lld tensors)",
                       (long long)w->n_tensors + 1);
    t.name = lx_strdup(name, err);
    t.data = t.name ? lx_malloc(t.nbytes, err) : NULL;
    if (!t.data) {
        free(t.name);
        return LEXIE_E_NOMEM;
    }
    memcpy(t.data, data, t.nbytes);
    t.type = type;
    t.n_dims = n_dims;
    w->tensors[w->n_tensors++] = t;
    return LEXIE_OK;
}

/* ==== Serialisation ==== */

/* Where bytes go: a memory buffer or a file descriptor. */
typedef struct sink {
    uint8_t *buf;
    size_t off;
    int fd;
    const char *path;
    lexie_error *err;
} sink;

static lexie_status emit(sink *s, const void *p, size_t n) {
    if (s->buf) {
        if (n) memcpy(s->buf + s->off, p, n);
        s->off += n;
        return LEXIE_OK;
    }
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write(s->fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            char e[128] = "short write";
            if (k < 0 && strerror_r(errno, e, sizeof e) != 0) snprintf(e, sizeof e, "write error");
            return lx_fail(s->err, LEXIE_E_IO, "gguf writer: writing '%s': %s", s->path, e);
        }
        b += k;
        n -= (size_t)k;
        s->off += (size_t)k;
    }
    return LEXIE_OK;
}

static lexie_status emit_uint(sink *s, uint64_t v, size_t n) {
    uint8_t b[8];
    le_bytes(b, v, n);
    return emit(s, b, n);
}

static lexie_status emit_zeros(sink *s, size_t n) {
    static const uint8_t z[64];
    lexie_status st = LEXIE_OK;
    while (!st && n > 0) {
        size_t k = LX_MIN(n, sizeof z);
        st = emit(s, z, k);
        n -= k;
    }
    return st;
}

static size_t pad_to(size_t off, size_t a) { return (a - off % a) % a; }

/* Total file size; NOMEM when it does not fit in size_t. */
static lexie_status file_size(const lx_gguf_writer *w, size_t *out, lexie_error *err) {
    uint64_t n = 24 + (uint64_t)w->kv_len;
    for (int64_t i = 0; i < w->n_tensors; i++)
        n += 8 + strlen(w->tensors[i].name) + 4 + 8 * (uint64_t)w->tensors[i].n_dims + 4 + 8;
    n += pad_to(n, w->alignment);
    for (int64_t i = 0; i < w->n_tensors; i++) {
        size_t nb = w->tensors[i].nbytes;
        if (nb > UINT64_MAX - n - w->alignment)
            return lx_fail(err, LEXIE_E_NOMEM, "gguf writer: file size overflows");
        n += nb + pad_to(nb, w->alignment);
    }
    if (n > SIZE_MAX) return lx_fail(err, LEXIE_E_NOMEM, "gguf writer: file size overflows");
    *out = (size_t)n;
    return LEXIE_OK;
}

static lexie_status serialise(const lx_gguf_writer *w, sink *s) {
    lexie_status st = emit(s, LX_GGUF_MAGIC, 4);
    if (!st) st = emit_uint(s, 3, 4);
    if (!st) st = emit_uint(s, (uint64_t)w->n_tensors, 8);
    if (!st) st = emit_uint(s, (uint64_t)w->n_kv, 8);
    if (!st) st = emit(s, w->kv, w->kv_len);
    uint64_t off = 0; /* within the data section; every tensor starts aligned */
    for (int64_t i = 0; !st && i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        size_t len = strlen(t->name);
        st = emit_uint(s, len, 8);
        if (!st) st = emit(s, t->name, len);
        if (!st) st = emit_uint(s, (uint64_t)t->n_dims, 4);
        for (int d = 0; !st && d < t->n_dims; d++) st = emit_uint(s, (uint64_t)t->ne[d], 8);
        if (!st) st = emit_uint(s, (uint64_t)t->type, 4);
        if (!st) st = emit_uint(s, off, 8);
        off += t->nbytes + pad_to(t->nbytes, w->alignment);
    }
    if (!st) st = emit_zeros(s, pad_to(s->off, w->alignment));
    for (int64_t i = 0; !st && i < w->n_tensors; i++) {
        st = emit(s, w->tensors[i].data, w->tensors[i].nbytes);
        if (!st) st = emit_zeros(s, pad_to(w->tensors[i].nbytes, w->alignment));
    }
    return st;
}

lexie_status lx_gguf_writer_to_memory(lx_gguf_writer *w, void **buf, size_t *size,
                                      lexie_error *err) {
    if (!w || !buf || !size) return lx_fail(err, LEXIE_E_INVALID, "gguf writer: NULL argument");
    size_t n;
    lexie_status st = file_size(w, &n, err);
    if (st) return st;
    sink s = {.buf = lx_malloc(n, err), .off = 0, .fd = -1, .path = "", .err = err};
    if (!s.buf) return LEXIE_E_NOMEM;
    st = serialise(w, &s);
    if (!st && s.off != n) st = lx_fail(err, LEXIE_E_INTERNAL, "gguf writer: size mismatch");
    if (st) {
        free(s.buf);
        return st;
    }
    *buf = s.buf;
    *size = n;
    return LEXIE_OK;
}

lexie_status lx_gguf_writer_write(lx_gguf_writer *w, const char *path, lexie_error *err) {
    if (!w || !path) return lx_fail(err, LEXIE_E_INVALID, "gguf writer: NULL argument");
    size_t n, plen = strlen(path);
    lexie_status st = file_size(w, &n, err);
    if (st) return st;
    char *tmp = lx_malloc(plen + 16, err);
    if (!tmp) return LEXIE_E_NOMEM;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp); /* in path's directory, so rename stays on one file system */
    if (fd < 0) {
        char e[128];
        if (strerror_r(errno, e, sizeof e) != 0) snprintf(e, sizeof e, "error");
        lx_fail(err, LEXIE_E_IO, "gguf writer: cannot create a temporary file for '%s': %s", path,
                e);
        free(tmp);
        return LEXIE_E_IO;
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; a model is not a secret */
    sink s = {.buf = NULL, .off = 0, .fd = fd, .path = path, .err = err};
    st = serialise(w, &s);
    if (!st && fsync(fd) != 0) st = lx_fail(err, LEXIE_E_IO, "gguf writer: cannot sync '%s'", tmp);
    if (close(fd) != 0 && !st) st = lx_fail(err, LEXIE_E_IO, "gguf writer: cannot close '%s'", tmp);
    if (!st && rename(tmp, path) != 0) {
        char e[128];
        if (strerror_r(errno, e, sizeof e) != 0) snprintf(e, sizeof e, "error");
        st = lx_fail(err, LEXIE_E_IO, "gguf writer: cannot rename '%s' to '%s': %s", tmp, path, e);
    }
    if (st)
        unlink(tmp);
    else
        lx_sync_dir(path);
    free(tmp);
    return st;
}
