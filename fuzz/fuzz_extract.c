/*
** fuzz_extract.c -- libFuzzer target for what extraction reads and
** grounds.  The first byte picks:
**   0  the lexie schema file (ie/ieschema.c): a schema or a message;
**   1  a result line read back (lx_extraction_from_json): written again,
**      read again and written again, it must not change;
**   2  grounding: the rest is "text\0needle"; a grounded span must be the
**      text's own slice at its offsets, code points agreeing with bytes.
**
** Built and run by `make fuzz` (fuzz/run.sh); `make test` replays
** fuzz/corpus/extract/ through it.
*/
#include "base/json.h"
#include "ie/ground.h"
#include "ie/ie.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void schema(const char *s, size_t n) {
    lexie_error err;
    lx_ie_schema *sc = lx_ie_schema_parse(s, n, "fuzz", &err);
    if (!sc) {
        if (err.message[0] == 0 || err.code == LEXIE_OK) abort();
        return;
    }
    if (!sc->n_entities && !sc->n_events && !sc->rel) abort();
    for (int i = 0; i < sc->n_entities; i++)
        if (lx_ie_schema_entity(sc, sc->entities[i].name) != i) abort();
    if (lexie_ie_schema_entity_type(sc, sc->n_entities) || strlen(lexie_ie_schema_sha256(sc)) != 64)
        abort();
    lx_ie_schema_free(sc);
}

static void result(const char *s, size_t n) {
    lexie_error err;
    lx_json_doc *d = lx_json_parse(s, n, NULL, &err);
    if (!d) return;
    lexie_extraction x;
    if (lx_extraction_from_json(lx_json_root(d), &x, &err) == LEXIE_OK) {
        char *a = NULL, *b = NULL;
        if (lexie_extraction_json(&x, &a, &err) != LEXIE_OK) abort();
        lx_json_doc *d2 = lx_json_parse(a, strlen(a), NULL, &err);
        lexie_extraction y;
        if (!d2 || lx_extraction_from_json(lx_json_root(d2), &y, &err) != LEXIE_OK) abort();
        if (lexie_extraction_json(&y, &b, &err) != LEXIE_OK || strcmp(a, b) != 0) abort();
        lexie_extraction_clear(&y);
        lx_json_doc_free(d2);
        free(a);
        free(b);
        lexie_extraction_clear(&x);
    }
    lx_json_doc_free(d);
}

static void ground(const char *s, size_t n) {
    const char *nul = memchr(s, 0, n);
    if (!nul) return;
    size_t tl = (size_t)(nul - s);
    lexie_error err;
    lx_grounder *g = lx_grounder_new(s, tl, NULL, &err);
    if (!g) return; /* bad UTF-8 */
    for (int k = 0; k < 2; k++) {
        lexie_mention m = {0};
        if (lx_ground(g, nul + 1, n - tl - 1, &m, &err) == LEXIE_OK &&
            m.match != LEXIE_MATCH_NONE) {
            if (m.byte_start < 0 || m.byte_end < m.byte_start || (size_t)m.byte_end > tl) abort();
            size_t len = (size_t)(m.byte_end - m.byte_start);
            if (strlen(m.text) != len || memcmp(m.text, s + m.byte_start, len) != 0) abort();
            if (lx_ie_cp_count(s, (size_t)m.byte_start) != m.start) abort();
            if (lx_ie_cp_count(s, (size_t)m.byte_end) != m.end) abort();
        }
        lexie_mention_clear(&m);
    }
    lx_grounder_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 16) return 0;
    const char *s = (const char *)data + 1;
    switch (data[0] % 3) {
    case 0: schema(s, size - 1); break;
    case 1: result(s, size - 1); break;
    default: ground(s, size - 1); break;
    }
    return 0;
}
