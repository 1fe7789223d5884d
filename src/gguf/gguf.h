/*
** gguf.h -- reading and writing GGUF files (versions 2 and 3).
**
** Byte layout (little-endian):
**   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
**   n_kv x { string key | u32 value_type | value }
**   n_tensors x { string name | u32 n_dims | n_dims x u64 ne | u32 type | u64 offset }
**   padding to `general.alignment` (default 32) | tensor data
** A string is u64 length + bytes (no NUL).  An array value is
** u32 element_type + u64 count + elements; arrays may nest.
**
** The reader memory-maps the file and trusts nothing: every count and
** length is checked against the bytes left before anything is allocated,
** and every error names the key, tensor or byte offset at fault.
*/
#ifndef LX_GGUF_H
#define LX_GGUF_H

#include "base/base.h"

#include <stdint.h>

typedef enum lx_gguf_vtype {
    LX_GGUF_UINT8 = 0,
    LX_GGUF_INT8 = 1,
    LX_GGUF_UINT16 = 2,
    LX_GGUF_INT16 = 3,
    LX_GGUF_UINT32 = 4,
    LX_GGUF_INT32 = 5,
    LX_GGUF_FLOAT32 = 6,
    LX_GGUF_BOOL = 7,
    LX_GGUF_STRING = 8,
    LX_GGUF_ARRAY = 9,
    LX_GGUF_UINT64 = 10,
    LX_GGUF_INT64 = 11,
    LX_GGUF_FLOAT64 = 12,
} lx_gguf_vtype;

/* A string inside the file: not NUL-terminated; valid while the file is open. */
typedef struct lx_str {
    const char *ptr;
    uint64_t len;
} lx_str;

/* One metadata value.  Scalars are decoded; arrays keep a pointer to their
** raw little-endian elements (possibly unaligned: read them with the
** lx_gguf_arr_* accessors) and, for string and array elements, a parsed
** item list. */
typedef struct lx_gguf_value {
    lx_gguf_vtype type;
    union {
        uint64_t u64; /* UINT8..UINT64 and BOOL */
        int64_t i64;  /* INT8..INT64 */
        double f64;   /* FLOAT32, FLOAT64 */
        lx_str str;   /* STRING */
        struct {
            lx_gguf_vtype elem_type;
            uint64_t n;
            const uint8_t *raw;          /* numeric elements, packed */
            struct lx_gguf_value *items; /* STRING/ARRAY elements, else NULL */
        } arr;
    } v;
} lx_gguf_value;

typedef struct lx_gguf_kv {
    char *key; /* NUL-terminated copy */
    lx_gguf_value value;
} lx_gguf_kv;

#define LX_GGUF_MAX_DIMS 4

typedef struct lx_gguf_tensor {
    char *name; /* NUL-terminated copy */
    int n_dims;
    int64_t ne[LX_GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    int type;                     /* lx_type (kernels/kernels.h), GGML numbering */
    uint64_t offset;              /* from the start of the data section */
    const void *data;             /* into the mapping */
    size_t nbytes;
} lx_gguf_tensor;

typedef struct lx_gguf lx_gguf;

/* Opens and validates a GGUF file, memory-mapped read-only.  On failure
** returns NULL with a message naming the key, tensor or offset at fault. */
lx_gguf *lx_gguf_open(const char *path, lexie_error *err);

/* The same over a caller's buffer, which must outlive the handle.  Used by
** tests and the fuzzer. */
lx_gguf *lx_gguf_open_memory(const void *buf, size_t size, lexie_error *err);

void lx_gguf_close(lx_gguf *g);

/* Says that the bytes [p, p + n) of a mapped file's tensor data will not
** be read for a while (the model packed a copy of them): their whole pages
** leave memory, to be read again from the file if touched.  A no-op for
** lx_gguf_open_memory handles and for ranges outside the mapping. */
void lx_gguf_release(lx_gguf *g, const void *p, size_t n);

uint32_t lx_gguf_version(const lx_gguf *g);
uint32_t lx_gguf_alignment(const lx_gguf *g);
/* File offset where the tensor data section starts. */
uint64_t lx_gguf_data_offset(const lx_gguf *g);

/* ---- metadata ---- */
int64_t lx_gguf_n_kv(const lx_gguf *g);
const lx_gguf_kv *lx_gguf_kv_at(const lx_gguf *g, int64_t i);
/* NULL when the key is absent. */
const lx_gguf_value *lx_gguf_get(const lx_gguf *g, const char *key);

/* Typed getters.  Absent key: LEXIE_E_NOT_FOUND, *out untouched (so callers
** preset defaults).  Wrong type or out of range: LEXIE_E_FORMAT naming the
** key.  Integer getters accept any integer type whose value fits; float
** getters accept FLOAT32/FLOAT64. */
lexie_status lx_gguf_get_u32(const lx_gguf *g, const char *key, uint32_t *out, lexie_error *err);
lexie_status lx_gguf_get_i64(const lx_gguf *g, const char *key, int64_t *out, lexie_error *err);
lexie_status lx_gguf_get_f32(const lx_gguf *g, const char *key, float *out, lexie_error *err);
lexie_status lx_gguf_get_bool(const lx_gguf *g, const char *key, int *out, lexie_error *err);
lexie_status lx_gguf_get_str(const lx_gguf *g, const char *key, lx_str *out, lexie_error *err);
/* An array whose elements have type elem (or any elem when elem < 0). */
lexie_status lx_gguf_get_arr(const lx_gguf *g, const char *key, int elem, const lx_gguf_value **out,
                             lexie_error *err);

/* Element i of a numeric array, converted; i must be < n. */
double lx_gguf_arr_f64(const lx_gguf_value *arr, uint64_t i);
int64_t lx_gguf_arr_i64(const lx_gguf_value *arr, uint64_t i);

/* ---- tensors ---- */
int64_t lx_gguf_n_tensors(const lx_gguf *g);
const lx_gguf_tensor *lx_gguf_tensor_at(const lx_gguf *g, int64_t i);
/* NULL when absent. */
const lx_gguf_tensor *lx_gguf_find_tensor(const lx_gguf *g, const char *name);

/* ==== Writer ==== */

/* Builds a GGUF v3 file in memory, then writes it to a temporary file that
** is renamed into place, so a reader never sees half a file.  Tensor data
** is copied at add time. */
typedef struct lx_gguf_writer lx_gguf_writer;

lx_gguf_writer *lx_gguf_writer_new(lexie_error *err);
void lx_gguf_writer_free(lx_gguf_writer *w);
lexie_status lx_gguf_writer_set_u32(lx_gguf_writer *w, const char *key, uint32_t v,
                                    lexie_error *err);
lexie_status lx_gguf_writer_set_i32(lx_gguf_writer *w, const char *key, int32_t v,
                                    lexie_error *err);
lexie_status lx_gguf_writer_set_f32(lx_gguf_writer *w, const char *key, float v, lexie_error *err);
lexie_status lx_gguf_writer_set_bool(lx_gguf_writer *w, const char *key, int v, lexie_error *err);
lexie_status lx_gguf_writer_set_str(lx_gguf_writer *w, const char *key, const char *v,
                                    lexie_error *err);
lexie_status lx_gguf_writer_set_arr_str(lx_gguf_writer *w, const char *key, const char *const *v,
                                        uint64_t n, lexie_error *err);
lexie_status lx_gguf_writer_set_arr_f32(lx_gguf_writer *w, const char *key, const float *v,
                                        uint64_t n, lexie_error *err);
lexie_status lx_gguf_writer_set_arr_i32(lx_gguf_writer *w, const char *key, const int32_t *v,
                                        uint64_t n, lexie_error *err);
/* Any value, deep-copied: the other integer and float widths, and nested
** arrays (items for STRING/ARRAY elements, else raw packed little-endian
** elements), e.g. a value read from another file when merging. */
lexie_status lx_gguf_writer_set_value(lx_gguf_writer *w, const char *key, const lx_gguf_value *v,
                                      lexie_error *err);
/* data holds lx_row_size(type, ne[0]) * ne[1] * ne[2] * ne[3] bytes. */
lexie_status lx_gguf_writer_add_tensor(lx_gguf_writer *w, const char *name, int type, int n_dims,
                                       const int64_t *ne, const void *data, lexie_error *err);
/* Serialises to a malloc'd buffer (caller frees) ... */
lexie_status lx_gguf_writer_to_memory(lx_gguf_writer *w, void **buf, size_t *size,
                                      lexie_error *err);
/* ... or to path, atomically. */
lexie_status lx_gguf_writer_write(lx_gguf_writer *w, const char *path, lexie_error *err);

#endif /* LX_GGUF_H */
