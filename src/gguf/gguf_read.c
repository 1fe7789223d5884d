/*
** gguf_read.c -- parsing and validating GGUF v2/v3 files, from a memory
** mapping or a caller's buffer.
**
** On-disk layout (all integers little-endian, nothing aligned before the
** data section):
**
**   offset 0   "GGUF"             magic, 4 bytes
**          4   u32 version        2 or 3 (1 used u32 counts: refused)
**          8   u64 n_tensors
**         16   u64 n_kv
**         24   n_kv x kv          string key | u32 vtype | value
**              n_tensors x info   string name | u32 n_dims | n_dims x u64 ne
**                                 | u32 type | u64 offset
**              zero padding up to a multiple of general.alignment (default 32)
**              data section       tensor i at data + offset_i; each offset a
**                                 multiple of the alignment
**
**   string = u64 length + that many bytes, no NUL.
**   value  = u8/i8/u16/i16/u32/i32/f32/bool(u8)/u64/i64/f64, a string, or an
**            array: u32 element vtype | u64 count | count elements, where
**            elements may themselves be strings or arrays.
**
** Why so many checks: a model file comes from the internet.  Every length
** and count is compared with the bytes left *before* anything is allocated
** (an element takes at least one byte, a string at least 8), so the memory
** a file can make us allocate is bounded by a small multiple of its size;
** every size computation is overflow-checked; every error names the kv or
** tensor (index and name) and the byte offset.  A file cut at any byte
** fails cleanly.  Parsing is single-pass and recursive only for nested
** arrays, whose depth is bounded.
*/
/* madvise (Linux, BSDs): not in POSIX, whose posix_madvise DONTNEED glibc
** ignores. */
#define _DEFAULT_SOURCE
#include "gguf/gguf_impl.h"
#include "kernels/kernels.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ==== Value types ==== */

const char *lx_gguf_vtype_name(int type) {
    switch (type) {
    case LX_GGUF_UINT8: return "uint8";
    case LX_GGUF_INT8: return "int8";
    case LX_GGUF_UINT16: return "uint16";
    case LX_GGUF_INT16: return "int16";
    case LX_GGUF_UINT32: return "uint32";
    case LX_GGUF_INT32: return "int32";
    case LX_GGUF_FLOAT32: return "float32";
    case LX_GGUF_BOOL: return "bool";
    case LX_GGUF_STRING: return "string";
    case LX_GGUF_ARRAY: return "array";
    case LX_GGUF_UINT64: return "uint64";
    case LX_GGUF_INT64: return "int64";
    case LX_GGUF_FLOAT64: return "float64";
    }
    return "unknown";
}

size_t lx_gguf_vtype_size(int type) {
    switch (type) {
    case LX_GGUF_UINT8:
    case LX_GGUF_INT8:
    case LX_GGUF_BOOL: return 1;
    case LX_GGUF_UINT16:
    case LX_GGUF_INT16: return 2;
    case LX_GGUF_UINT32:
    case LX_GGUF_INT32:
    case LX_GGUF_FLOAT32: return 4;
    case LX_GGUF_UINT64:
    case LX_GGUF_INT64:
    case LX_GGUF_FLOAT64: return 8;
    }
    return 0;
}

/* Smallest encoding of one element, for bounding counts by bytes left: a
** string is at least its u64 length, an array its u32 type + u64 count. */
static size_t vtype_min_size(int type) {
    if (type == LX_GGUF_STRING) return 8;
    if (type == LX_GGUF_ARRAY) return 12;
    return lx_gguf_vtype_size(type);
}

/* ==== Name index ==== */

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static lexie_status index_init(lx_gguf_index *ix, int64_t n, lexie_error *err) {
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)n) cap *= 2; /* n is bounded by the file size */
    ix->slots = lx_calloc(cap, sizeof *ix->slots, err);
    if (!ix->slots) return LEXIE_E_NOMEM;
    ix->mask = cap - 1;
    return LEXIE_OK;
}

/* Inserts name at pos; returns -1, or the position that already has name. */
static int64_t index_add(lx_gguf_index *ix, const char *name, int64_t pos) {
    uint64_t i = name_hash(name) & ix->mask;
    for (; ix->slots[i].name; i = (i + 1) & ix->mask)
        if (strcmp(ix->slots[i].name, name) == 0) return ix->slots[i].pos;
    ix->slots[i].name = name;
    ix->slots[i].pos = pos;
    return -1;
}

int64_t lx_gguf_index_find(const lx_gguf_index *ix, const char *name) {
    if (!ix->slots || !name) return -1;
    uint64_t i = name_hash(name) & ix->mask;
    for (; ix->slots[i].name; i = (i + 1) & ix->mask)
        if (strcmp(ix->slots[i].name, name) == 0) return ix->slots[i].pos;
    return -1;
}

/* ==== Cursor ==== */

/* A read position in the file plus what is being read, so that every
** message can say "kv 12 'tokenizer.ggml.tokens': ... at offset 5678". */
typedef struct rd {
    const uint8_t *p;
    size_t size;
    size_t off;
    const char *path; /* NULL for a memory buffer */
    lexie_error *err;
    lexie_status status; /* of the first failure */
    char where[160];     /* "kv 12 'name'", "tensor 3 'name'" or "" */
} rd;

static lexie_status rd_fail(rd *r, lexie_status code, const char *fmt, ...) LX_PRINTF(3, 4);
static lexie_status rd_fail(rd *r, lexie_status code, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->status = code;
    return lx_fail(r->err, code, "gguf: %s%s%s%s%s", r->path ? r->path : "", r->path ? ": " : "",
                   r->where, r->where[0] ? ": " : "", msg);
}

/* Sets r->where to e.g. "kv 12 'name'", cutting a long name at a UTF-8
** boundary so messages stay readable and valid. */
static void rd_where(rd *r, const char *what, int64_t i, const char *name) {
    if (!name) {
        snprintf(r->where, sizeof r->where, "%s %lld", what, (long long)i);
        return;
    }
    size_t n = strlen(name), max = 96;
    const char *ell = "";
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80) n--;
        ell = "...";
    }
    snprintf(r->where, sizeof r->where, "%s %lld '%.*s%s'", what, (long long)i, (int)n, name, ell);
}

static size_t rd_left(const rd *r) { return r->size - r->off; }

static int rd_need(rd *r, size_t n, const char *what) {
    if (rd_left(r) >= n) return 1;
    rd_fail(r, LEXIE_E_FORMAT, "%s at offset %zu needs %zu bytes, only %zu left", what, r->off, n,
            rd_left(r));
    return 0;
}

/* Little-endian decoding byte by byte: correct for unaligned data. */
static uint64_t le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

static int rd_u32(rd *r, uint32_t *v, const char *what) {
    if (!rd_need(r, 4, what)) return 0;
    *v = (uint32_t)le(r->p + r->off, 4);
    r->off += 4;
    return 1;
}

static int rd_u64(rd *r, uint64_t *v, const char *what) {
    if (!rd_need(r, 8, what)) return 0;
    *v = le(r->p + r->off, 8);
    r->off += 8;
    return 1;
}

static int rd_str(rd *r, lx_str *s, const char *what) {
    size_t at = r->off;
    uint64_t len;
    if (!rd_u64(r, &len, what)) return 0;
    if (len > rd_left(r)) {
        rd_fail(r, LEXIE_E_FORMAT, "%s at offset %zu: length %llu exceeds the %zu bytes left", what,
                at, (unsigned long long)len, rd_left(r));
        return 0;
    }
    s->ptr = (const char *)r->p + r->off;
    s->len = len;
    r->off += (size_t)len;
    return 1;
}

/* Keys and tensor names become C strings and lookup keys: they must be
** non-empty, NUL-free UTF-8. */
static int rd_name(rd *r, char **out, const char *what) {
    size_t at = r->off, bad;
    lx_str s;
    if (!rd_str(r, &s, what)) return 0;
    if (s.len == 0) {
        rd_fail(r, LEXIE_E_FORMAT, "%s at offset %zu is empty", what, at);
        return 0;
    }
    if (memchr(s.ptr, 0, s.len)) {
        rd_fail(r, LEXIE_E_FORMAT, "%s at offset %zu contains a NUL byte", what, at);
        return 0;
    }
    if (!lx_utf8_valid(s.ptr, s.len, &bad)) {
        rd_fail(r, LEXIE_E_FORMAT, "%s at offset %zu is not valid UTF-8 (at byte %zu)", what, at,
                bad);
        return 0;
    }
    *out = lx_strndup(s.ptr, s.len, r->err);
    if (!*out) {
        rd_fail(r, LEXIE_E_NOMEM, "out of memory copying a %llu-byte %s", (unsigned long long)s.len,
                what);
        return 0;
    }
    return 1;
}

/* ==== Values ==== */

static void value_free(lx_gguf_value *v) {
    if (v->type != LX_GGUF_ARRAY || !v->v.arr.items) return;
    if (v->v.arr.elem_type == LX_GGUF_ARRAY)
        for (uint64_t i = 0; i < v->v.arr.n; i++) value_free(&v->v.arr.items[i]);
    free(v->v.arr.items);
    v->v.arr.items = NULL;
}

/* "strings", "arrays", "uint32 values": for messages about counts. */
static const char *elems_name(int type) {
    switch (type) {
    case LX_GGUF_UINT8: return "uint8 values";
    case LX_GGUF_INT8: return "int8 values";
    case LX_GGUF_UINT16: return "uint16 values";
    case LX_GGUF_INT16: return "int16 values";
    case LX_GGUF_UINT32: return "uint32 values";
    case LX_GGUF_INT32: return "int32 values";
    case LX_GGUF_FLOAT32: return "float32 values";
    case LX_GGUF_BOOL: return "bools";
    case LX_GGUF_STRING: return "strings";
    case LX_GGUF_ARRAY: return "arrays";
    case LX_GGUF_UINT64: return "uint64 values";
    case LX_GGUF_INT64: return "int64 values";
    case LX_GGUF_FLOAT64: return "float64 values";
    }
    return "values";
}

static int parse_value(rd *r, lx_gguf_value *v, int depth);

/* v->type is ARRAY.  Bounds the count by the bytes left before allocating
** anything, and fills v as it goes so that value_free can undo a failure
** at any point. */
static int parse_array(rd *r, lx_gguf_value *v, int depth) {
    size_t at = r->off;
    uint32_t et;
    uint64_t n;
    if (depth >= LX_GGUF_MAX_DEPTH) {
        rd_fail(r, LEXIE_E_FORMAT, "arrays nested more than %d deep at offset %zu",
                LX_GGUF_MAX_DEPTH, at);
        return 0;
    }
    if (!rd_u32(r, &et, "array element type")) return 0;
    if (et > LX_GGUF_FLOAT64) {
        rd_fail(r, LEXIE_E_FORMAT, "array at offset %zu has unknown element type %u", at, et);
        return 0;
    }
    if (!rd_u64(r, &n, "array length")) return 0;
    size_t min = vtype_min_size((int)et);
    if (n > rd_left(r) / min) {
        rd_fail(r, LEXIE_E_FORMAT, "array of %llu %s exceeds the %zu bytes left at offset %zu",
                (unsigned long long)n, elems_name((int)et), rd_left(r), r->off);
        return 0;
    }
    v->v.arr.elem_type = (lx_gguf_vtype)et;
    v->v.arr.n = n;
    v->v.arr.raw = r->p + r->off;
    v->v.arr.items = NULL;
    if (et != LX_GGUF_STRING && et != LX_GGUF_ARRAY) {
        if (et == LX_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (v->v.arr.raw[i] > 1) {
                    rd_fail(r, LEXIE_E_FORMAT, "bool element %llu at offset %zu is %u, not 0 or 1",
                            (unsigned long long)i, r->off + (size_t)i, v->v.arr.raw[i]);
                    return 0;
                }
        r->off += (size_t)n * min;
        return 1;
    }
    v->v.arr.raw = NULL;
    if (n == 0) return 1;
    v->v.arr.items = calloc((size_t)n, sizeof *v->v.arr.items);
    if (!v->v.arr.items) {
        rd_fail(r, LEXIE_E_NOMEM, "out of memory for an array of %llu %s at offset %zu",
                (unsigned long long)n, elems_name((int)et), at);
        return 0;
    }
    for (uint64_t i = 0; i < n; i++) {
        v->v.arr.items[i].type = (lx_gguf_vtype)et;
        if (!parse_value(r, &v->v.arr.items[i], depth + 1)) return 0;
    }
    return 1;
}

/* Reads one value whose type, v->type, is already known to be valid. */
static int parse_value(rd *r, lx_gguf_value *v, int depth) {
    size_t at = r->off;
    size_t sz = lx_gguf_vtype_size(v->type);
    if (v->type == LX_GGUF_STRING) return rd_str(r, &v->v.str, "string");
    if (v->type == LX_GGUF_ARRAY) return parse_array(r, v, depth);
    if (!rd_need(r, sz, lx_gguf_vtype_name(v->type))) return 0;
    uint64_t bits = le(r->p + r->off, sz);
    r->off += sz;
    switch (v->type) {
    case LX_GGUF_INT8: v->v.i64 = (int8_t)bits; break;
    case LX_GGUF_INT16: v->v.i64 = (int16_t)bits; break;
    case LX_GGUF_INT32: v->v.i64 = (int32_t)bits; break;
    case LX_GGUF_INT64: v->v.i64 = (int64_t)bits; break;
    case LX_GGUF_FLOAT32: {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, 4);
        v->v.f64 = f;
        break;
    }
    case LX_GGUF_FLOAT64: memcpy(&v->v.f64, &bits, 8); break;
    case LX_GGUF_BOOL:
        if (bits > 1) {
            rd_fail(r, LEXIE_E_FORMAT, "bool at offset %zu is %llu, not 0 or 1", at,
                    (unsigned long long)bits);
            return 0;
        }
        v->v.u64 = bits;
        break;
    default: v->v.u64 = bits; break; /* the unsigned types */
    }
    return 1;
}

/* ==== File structure ==== */

static lexie_status parse_header(rd *r, lx_gguf *g, uint64_t *n_tensors, uint64_t *n_kv) {
    if (r->size < 4)
        return rd_fail(r, LEXIE_E_FORMAT, "file is %zu bytes, too short for the 24-byte header",
                       r->size);
    if (memcmp(r->p, LX_GGUF_MAGIC, 4) != 0)
        return rd_fail(r, LEXIE_E_FORMAT,
                       "bad magic %02x %02x %02x %02x at offset 0 (not a GGUF file)", r->p[0],
                       r->p[1], r->p[2], r->p[3]);
    r->off = 4;
    if (!rd_u32(r, &g->version, "version")) return r->status;
    if (g->version == 1)
        return rd_fail(r, LEXIE_E_UNSUPPORTED,
                       "version 1 files (32-bit counts) are not supported; re-convert the model "
                       "with a current llama.cpp");
    if (g->version != 2 && g->version != 3) {
        uint32_t v = g->version;
        uint32_t swapped = (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
        return rd_fail(r, LEXIE_E_UNSUPPORTED,
                       "version %u is not supported (lexie reads 2 and 3)%s", v,
                       swapped == 2 || swapped == 3 ? "; this looks like a big-endian file" : "");
    }
    if (!rd_u64(r, n_tensors, "tensor count") || !rd_u64(r, n_kv, "kv count")) return r->status;
    /* A kv takes at least 8 (key length) + 1 (key) + 4 (type) + 1 bytes, a
    ** tensor info 8 + 1 + 4 + 8 + 4 + 8. */
    if (*n_kv > rd_left(r) / 14)
        return rd_fail(r, LEXIE_E_FORMAT,
                       "kv count %llu exceeds what the %zu bytes left at offset %zu can hold",
                       (unsigned long long)*n_kv, rd_left(r), r->off);
    if (*n_tensors > rd_left(r) / 33)
        return rd_fail(r, LEXIE_E_FORMAT,
                       "tensor count %llu exceeds what the %zu bytes left at offset %zu can hold",
                       (unsigned long long)*n_tensors, rd_left(r), r->off);
    return LEXIE_OK;
}

static lexie_status parse_kvs(rd *r, lx_gguf *g, uint64_t n_kv) {
    g->kvs = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kvs);
    if (!g->kvs)
        return rd_fail(r, LEXIE_E_NOMEM, "out of memory for %llu kvs", (unsigned long long)n_kv);
    g->n_kv = (int64_t)n_kv; /* entries not yet parsed are zero: close frees them safely */
    if (index_init(&g->kv_index, g->n_kv, r->err))
        return rd_fail(r, LEXIE_E_NOMEM, "out of memory for the index of %llu keys",
                       (unsigned long long)n_kv);
    for (int64_t i = 0; i < g->n_kv; i++) {
        lx_gguf_kv *kv = &g->kvs[i];
        rd_where(r, "kv", i, NULL);
        if (!rd_name(r, &kv->key, "key")) return r->status;
        rd_where(r, "kv", i, kv->key);
        int64_t first = index_add(&g->kv_index, kv->key, i);
        if (first >= 0)
            return rd_fail(r, LEXIE_E_FORMAT, "duplicate key (first at kv %lld)", (long long)first);
        size_t at = r->off;
        uint32_t type;
        if (!rd_u32(r, &type, "value type")) return r->status;
        if (type > LX_GGUF_FLOAT64)
            return rd_fail(r, LEXIE_E_FORMAT, "unknown value type %u at offset %zu", type, at);
        kv->value.type = (lx_gguf_vtype)type;
        if (!parse_value(r, &kv->value, 0)) return r->status;
    }
    r->where[0] = 0;
    return LEXIE_OK;
}

static lexie_status read_alignment(rd *r, lx_gguf *g) {
    int64_t i = lx_gguf_index_find(&g->kv_index, "general.alignment");
    g->alignment = LX_GGUF_DEFAULT_ALIGNMENT;
    if (i < 0) return LEXIE_OK;
    const lx_gguf_value *v = &g->kvs[i].value;
    rd_where(r, "kv", i, g->kvs[i].key);
    if (v->type != LX_GGUF_UINT32)
        return rd_fail(r, LEXIE_E_FORMAT, "must be a uint32, not %s", lx_gguf_vtype_name(v->type));
    uint64_t a = v->v.u64;
    if (a == 0 || (a & (a - 1)) != 0)
        return rd_fail(r, LEXIE_E_FORMAT, "alignment %llu is not a non-zero power of two",
                       (unsigned long long)a);
    g->alignment = (uint32_t)a;
    r->where[0] = 0;
    return LEXIE_OK;
}

/* Reads one tensor info and checks everything that does not depend on
** where the data section starts. */
static lexie_status parse_tensor(rd *r, lx_gguf *g, int64_t i) {
    lx_gguf_tensor *t = &g->tensors[i];
    rd_where(r, "tensor", i, NULL);
    if (!rd_name(r, &t->name, "name")) return r->status;
    rd_where(r, "tensor", i, t->name);
    int64_t first = index_add(&g->tensor_index, t->name, i);
    if (first >= 0)
        return rd_fail(r, LEXIE_E_FORMAT, "duplicate name (first at tensor %lld)",
                       (long long)first);

    size_t at = r->off;
    uint32_t n_dims;
    if (!rd_u32(r, &n_dims, "n_dims")) return r->status;
    if (n_dims < 1 || n_dims > LX_GGUF_MAX_DIMS)
        return rd_fail(r, LEXIE_E_FORMAT, "n_dims %u at offset %zu is not in 1..%d", n_dims, at,
                       LX_GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    int64_t count = 1;
    for (int d = 0; d < LX_GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        at = r->off;
        if (d < t->n_dims && !rd_u64(r, &ne, "dimension")) return r->status;
        if (ne == 0 || ne > INT64_MAX)
            return rd_fail(r, LEXIE_E_FORMAT, "ne[%d] at offset %zu is %llu, not in 1..2^63-1", d,
                           at, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
        if (t->ne[d] > INT64_MAX / count)
            return rd_fail(r, LEXIE_E_FORMAT,
                           "element count overflows: ne = [%lld, %lld, %lld, %lld]",
                           (long long)t->ne[0], (long long)(d >= 1 ? t->ne[1] : 1),
                           (long long)(d >= 2 ? t->ne[2] : 1), (long long)(d >= 3 ? t->ne[3] : 1));
        count *= t->ne[d];
    }

    uint32_t type;
    at = r->off;
    if (!rd_u32(r, &type, "type") || !rd_u64(r, &t->offset, "data offset")) return r->status;
    t->type = (int)type;
    const lx_type_traits *tt = lx_type_traits_get((int)type);
    if (!tt || tt->blck_size <= 0 || tt->type_size == 0)
        return rd_fail(r, LEXIE_E_UNSUPPORTED, "type %u (%s) at offset %zu is not supported", type,
                       lx_type_name((int)type), at);
    if (t->ne[0] % tt->blck_size != 0)
        return rd_fail(r, LEXIE_E_FORMAT, "ne[0] = %lld is not a multiple of the %s block size %d",
                       (long long)t->ne[0], tt->name, tt->blck_size);
    /* Check the multiplication before lx_row_size does it. */
    size_t row, rows = (size_t)(count / t->ne[0]), nbytes;
    if (!lx_mul_ok((size_t)(t->ne[0] / tt->blck_size), tt->type_size, &row))
        return rd_fail(r, LEXIE_E_FORMAT, "row of %lld %s elements overflows", (long long)t->ne[0],
                       tt->name);
    row = lx_row_size((int)type, t->ne[0]);
    if (row == 0)
        return rd_fail(r, LEXIE_E_UNSUPPORTED, "type %u (%s) at offset %zu is not supported", type,
                       lx_type_name((int)type), at);
    if (!lx_mul_ok(row, rows, &nbytes) || nbytes > r->size)
        return rd_fail(r, LEXIE_E_FORMAT, "%lld rows of %zu bytes exceed the %zu-byte file",
                       (long long)rows, row, r->size);
    t->nbytes = nbytes;
    if (t->offset % g->alignment != 0)
        return rd_fail(r, LEXIE_E_FORMAT, "data offset %llu is not a multiple of the alignment %u",
                       (unsigned long long)t->offset, g->alignment);
    return LEXIE_OK;
}

static lexie_status parse_tensors(rd *r, lx_gguf *g, uint64_t n) {
    if (n > rd_left(r) / 33)
        return rd_fail(r, LEXIE_E_FORMAT,
                       "tensor count %llu exceeds what the %zu bytes left at offset %zu can hold",
                       (unsigned long long)n, rd_left(r), r->off);
    g->tensors = calloc(n ? (size_t)n : 1, sizeof *g->tensors);
    if (!g->tensors)
        return rd_fail(r, LEXIE_E_NOMEM, "out of memory for %llu tensors", (unsigned long long)n);
    g->n_tensors = (int64_t)n;
    if (index_init(&g->tensor_index, g->n_tensors, r->err))
        return rd_fail(r, LEXIE_E_NOMEM, "out of memory for the index of %llu tensors",
                       (unsigned long long)n);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        lexie_status s = parse_tensor(r, g, i);
        if (s) return s;
    }
    r->where[0] = 0;

    /* The data section starts at the next multiple of the alignment. */
    uint64_t a = g->alignment, end = r->off;
    g->data_offset = (end + a - 1) / a * a;
    if (g->n_tensors == 0) return LEXIE_OK; /* no data section needed */
    if (g->data_offset > r->size)
        return rd_fail(r, LEXIE_E_FORMAT,
                       "data section would start at offset %llu, past the end of the %zu-byte file",
                       (unsigned long long)g->data_offset, r->size);
    uint64_t room = r->size - g->data_offset;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        lx_gguf_tensor *t = &g->tensors[i];
        if (t->offset > room || t->nbytes > room - t->offset) {
            rd_where(r, "tensor", i, t->name);
            /* The file offset is data_offset + offset, which wraps for an
            ** offset near 2^64: then print the two parts instead. */
            uint64_t at;
            if (__builtin_add_overflow(g->data_offset, t->offset, &at))
                return rd_fail(r, LEXIE_E_FORMAT,
                               "data offset %llu (from the data section at file offset %llu) "
                               "lies past the end of the %zu-byte file",
                               (unsigned long long)t->offset, (unsigned long long)g->data_offset,
                               r->size);
            return rd_fail(
                r, LEXIE_E_FORMAT,
                "data at file offset %llu + %zu bytes runs past the end of the %zu-byte file",
                (unsigned long long)at, t->nbytes, r->size);
        }
        t->data = r->p + g->data_offset + t->offset;
    }
    return LEXIE_OK;
}

static lexie_status parse(lx_gguf *g, const char *path, lexie_error *err) {
    rd r = {.p = g->base, .size = g->size, .off = 0, .path = path, .err = err, .where = ""};
    uint64_t n_tensors = 0, n_kv = 0;
    lexie_status s = parse_header(&r, g, &n_tensors, &n_kv);
    if (!s) s = parse_kvs(&r, g, n_kv);
    if (!s) s = read_alignment(&r, g);
    if (!s) s = parse_tensors(&r, g, n_tensors);
    return s;
}

/* ==== Open and close ==== */

lx_gguf *lx_gguf_open_memory(const void *buf, size_t size, lexie_error *err) {
    if (!buf && size) {
        lx_fail(err, LEXIE_E_INVALID, "gguf: NULL buffer of %zu bytes", size);
        return NULL;
    }
    lx_gguf *g = lx_calloc(1, sizeof *g, err);
    if (!g) return NULL;
    g->base = buf;
    g->size = size;
    if (parse(g, NULL, err)) {
        lx_gguf_close(g);
        return NULL;
    }
    return g;
}

lx_gguf *lx_gguf_open(const char *path, lexie_error *err) {
    char ebuf[128] = "";
    if (!path) {
        lx_fail(err, LEXIE_E_INVALID, "gguf: NULL path");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (strerror_r(e, ebuf, sizeof ebuf) != 0) snprintf(ebuf, sizeof ebuf, "errno %d", e);
        lx_fail(err, LEXIE_E_IO, "gguf: cannot open '%s': %s", path, ebuf);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        lx_fail(err, LEXIE_E_IO, "gguf: '%s' is not a regular file", path);
        return NULL;
    }
    if (st.st_size == 0) {
        close(fd);
        lx_fail(err, LEXIE_E_FORMAT, "gguf: '%s' is empty (0 bytes)", path);
        return NULL;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        lx_fail(err, LEXIE_E_IO, "gguf: '%s' is too large to map", path);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file */
    if (map == MAP_FAILED) {
        if (strerror_r(e, ebuf, sizeof ebuf) != 0) snprintf(ebuf, sizeof ebuf, "errno %d", e);
        lx_fail(err, LEXIE_E_IO, "gguf: cannot map '%s': %s", path, ebuf);
        return NULL;
    }
    lx_gguf *g = lx_calloc(1, sizeof *g, err);
    if (!g) {
        munmap(map, size);
        return NULL;
    }
    g->base = map;
    g->size = size;
    g->map = map;
    g->map_size = size;
    if (parse(g, path, err)) {
        lx_gguf_close(g);
        return NULL;
    }
    return g;
}

void lx_gguf_release(lx_gguf *g, const void *p, size_t n) {
    if (!g || !g->map || !p) return;
    const uintptr_t lo = (uintptr_t)g->map, hi = lo + g->map_size,
                    page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p, b = a + n;
    if (a < lo || b > hi || b < a) return;
    a = (a + page - 1) / page * page; /* whole pages inside the range only */
    b = b / page * page;
    /* MAP_PRIVATE and never written: dropped pages read back from the file. */
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

void lx_gguf_close(lx_gguf *g) {
    if (!g) return;
    for (int64_t i = 0; g->kvs && i < g->n_kv; i++) {
        free(g->kvs[i].key);
        value_free(&g->kvs[i].value);
    }
    free(g->kvs);
    for (int64_t i = 0; g->tensors && i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->tensors);
    free(g->kv_index.slots);
    free(g->tensor_index.slots);
    if (g->map) munmap(g->map, g->map_size);
    free(g);
}
