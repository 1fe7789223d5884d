/*
** fuzz_json.c -- libFuzzer target for the JSON reader and writer
** (base/json.c): any byte string must parse or fail with a message, never
** crash or read out of bounds; what parses must serialise (lx_jbuf_value)
** to JSON that parses again and serialises to the same bytes (a round
** trip), and every accessor must be safe on every node.
**
** The first byte picks the limits (duplicate keys allowed, a small depth
** limit), so both settings are explored.  Built and run by `make fuzz`
** (see fuzz/run.sh); `make test` replays fuzz/corpus/json/ through it.
*/
#include "base/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every node and string, so ASan checks their bounds. */
static unsigned walk(const lx_json *v, int depth) {
    unsigned h = (unsigned)v->type;
    if (depth > 200) abort(); /* the limit is 128: deeper means it was not enforced */
    if (v->type == LX_JSON_STRING || v->type == LX_JSON_NUMBER) {
        for (size_t i = 0; i < v->len; i++) h = h * 31 + (unsigned char)v->str[i];
        if (v->str[v->len] != 0) abort(); /* strings are NUL-terminated */
        int64_t i64;
        h += (unsigned)lx_json_int(v, &i64);
    }
    if (v->type == LX_JSON_ARRAY || v->type == LX_JSON_OBJECT) {
        for (int i = 0; i < v->n; i++) {
            h += walk(v->items[i], depth + 1);
            if (v->type == LX_JSON_OBJECT) {
                if (v->keys[i][v->key_lens[i]] != 0) abort();
                /* A key holding "\u0000" cannot be named by a C string. */
                if (strlen(v->keys[i]) == v->key_lens[i] && !lx_json_get(v, v->keys[i])) abort();
            } else if (lx_json_at(v, i) != v->items[i]) {
                abort();
            }
        }
        if (lx_json_at(v, -1) || lx_json_at(v, v->n)) abort();
    }
    h += (unsigned)strlen(lx_json_type_name(v->type));
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    lx_json_limits lim = {0};
    lim.allow_dup_keys = data[0] & 1;
    if (data[0] & 2) lim.max_depth = 4;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    lexie_error err;
    lx_json_doc *d = lx_json_parse(text, len, &lim, &err);
    if (!d) {
        if (err.message[0] == 0 || err.code == LEXIE_OK) abort(); /* every failure says why */
        return 0;
    }
    volatile unsigned sink = walk(lx_json_root(d), 0);
    (void)sink;
    /* Round trip: serialise, parse again, serialise again: same bytes. */
    lx_jbuf a = {0}, b = {0};
    lx_jbuf_value(&a, lx_json_root(d));
    if (lx_jbuf_status(&a, &err) == LEXIE_OK) {
        lx_json_doc *d2 = lx_json_parse(a.data, a.len, &lim, &err);
        if (!d2) abort(); /* the writer produced JSON its reader refuses */
        lx_jbuf_value(&b, lx_json_root(d2));
        if (lx_jbuf_status(&b, &err) == LEXIE_OK &&
            (a.len != b.len || memcmp(a.data, b.data, a.len)))
            abort();
        lx_json_doc_free(d2);
    }
    lx_jbuf_free(&a);
    lx_jbuf_free(&b);
    lx_json_doc_free(d);
    return 0;
}
