/*
** fuzz_schema.c -- libFuzzer target for the relation-schema loader
** (ie/schema.c): any byte string must give a schema or fail with a
** message; an accepted schema must be internally consistent (labels
** found by name, every template holds {subj} and {obj}, candidate lists
** in range), and the public accessors must be safe at every index.
**
** Built and run by `make fuzz` (fuzz/run.sh); `make test` replays
** fuzz/corpus/schema/ through it.
*/
#include "ie/ie.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lexie_error err;
    lx_re_schema *s = lx_re_schema_parse((const char *)data, size, "fuzz", &err);
    if (!s) {
        if (err.message[0] == 0 || err.code == LEXIE_OK) abort();
        return 0;
    }
    int n = lexie_re_schema_n_labels(s);
    if (n != s->n_rels + 1 || lexie_re_schema_none(s) != s->n_rels) abort();
    if (!lexie_re_schema_name(s) || strlen(lexie_re_schema_sha256(s)) != 64) abort();
    for (int i = 0; i < n; i++) {
        const char *l = lexie_re_schema_label(s, i);
        if (!l) abort();
        int f = lx_re_schema_find(s, l);
        if (f < 0 || strcmp(lx_re_schema_label(s, f), l) != 0) abort();
    }
    if (lexie_re_schema_label(s, -1) || lexie_re_schema_label(s, n)) abort();
    for (int i = 0; i < s->n_rels; i++) {
        const lx_re_rel *r = &s->rels[i];
        if (r->n_templates < 1) abort();
        for (int k = 0; k < r->n_templates; k++)
            if (!strstr(r->templates[k], "{subj}") || !strstr(r->templates[k], "{obj}")) abort();
    }
    for (int i = 0; i < lexie_re_schema_n_warnings(s); i++)
        if (!lexie_re_schema_warning(s, i)) abort();
    int *cand = malloc(sizeof(int) * (size_t)(s->n_rels + 1));
    if (cand) {
        const char *types[] = {NULL, "PERSON", "*", ""};
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) {
                int k = lx_re_schema_candidates(s, types[a], types[b], cand);
                if (k < 0 || k > s->n_rels) abort();
                for (int j = 0; j < k; j++)
                    if (cand[j] < 0 || cand[j] >= s->n_rels) abort();
            }
        if (s->n_entity_types > 0) {
            const char *t = s->entity_types[0];
            int k = lx_re_schema_candidates(s, t, t, cand);
            if (k < 0 || k > s->n_rels) abort();
        }
        free(cand);
    }
    lx_re_schema_free(s);
    return 0;
}
