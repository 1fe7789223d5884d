/*
** gguf_impl.h -- what the GGUF reader's files share inside src/gguf/: the
** handle's layout, the name index, and small helpers on value types.
**
** Not part of gguf.h because no other module should depend on the layout.
*/
#ifndef LX_GGUF_IMPL_H
#define LX_GGUF_IMPL_H

#include "gguf/gguf.h"

#include <stddef.h>
#include <stdint.h>

#define LX_GGUF_MAGIC "GGUF"
#define LX_GGUF_DEFAULT_ALIGNMENT 32
/* Arrays of arrays are legal GGUF, but nothing real nests deeply; the
** bound keeps a hostile file from exhausting the stack of the recursive
** parser. */
#define LX_GGUF_MAX_DEPTH 8

/* Open-addressing hash index from a NUL-terminated name to its position.
** The table has at least twice as many slots as names, so probes stay short
** and always end at an empty slot.  Names are borrowed from the kvs or
** tensors they index. */
typedef struct lx_gguf_slot {
    const char *name; /* NULL: empty */
    int64_t pos;
} lx_gguf_slot;

typedef struct lx_gguf_index {
    lx_gguf_slot *slots;
    uint64_t mask; /* slot count - 1 (a power of two) */
} lx_gguf_index;

struct lx_gguf {
    const uint8_t *base; /* the whole file */
    size_t size;
    void *map; /* mmap'd region to unmap on close, or NULL for open_memory */
    size_t map_size;

    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset; /* start of the tensor data section */

    int64_t n_kv;
    lx_gguf_kv *kvs;
    lx_gguf_index kv_index;

    int64_t n_tensors;
    lx_gguf_tensor *tensors;
    lx_gguf_index tensor_index;
};

/* Position of name, or -1. */
int64_t lx_gguf_index_find(const lx_gguf_index *ix, const char *name);

/* "uint32", "string", ... or "unknown". */
const char *lx_gguf_vtype_name(int type);
/* Bytes per element of a fixed-size type, 0 for STRING, ARRAY or unknown. */
size_t lx_gguf_vtype_size(int type);

#endif /* LX_GGUF_IMPL_H */
