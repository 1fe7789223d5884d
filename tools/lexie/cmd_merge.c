/*
** cmd_merge.c -- `lexie merge`: a model with a LoRA adapter merged into its
** weights (lexie_adapter_merge), as one GGUF file any llama.cpp-style
** runtime loads without the adapter.
*/
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void merge_usage(FILE *f) {
    fputs("usage: lexie merge -m MODEL --lora FILE -o OUT.gguf [options]\n"
          "  -m MODEL           model name or GGUF path (default: the default model)\n"
          "  --lora FILE        the adapter to merge\n"
          "  --lora-scale S     scale of the adapter (default 1)\n"
          "  -o FILE            the merged model (written atomically)\n"
          "  --type T           same (default: each weight in its own type), f16, q8_0 or f32\n",
          f);
}

int cmd_merge(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *type_s = "same";
    cli_lora lora = {NULL, 1.0, 0, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            merge_usage(stdout);
            return 0;
        } else if (!v) {
            fprintf(stderr, "lexie merge: unknown option or missing value: '%s' (try --help)\n", a);
            return 2;
        } else if (cli_lora_option("merge", a, v, &lora, &bad)) {
            if (bad) return 2;
        } else if (strcmp(a, "-m") == 0) {
            model = v;
        } else if (strcmp(a, "-o") == 0) {
            out = v;
        } else if (strcmp(a, "--type") == 0) {
            type_s = v;
        } else {
            fprintf(stderr, "lexie merge: unknown option '%s' (try --help)\n", a);
            return 2;
        }
        i++;
    }
    static const char *const names[] = {"same", "f16", "q8_0", "f32"};
    static const lexie_merge_type types[] = {LEXIE_MERGE_SAME, LEXIE_MERGE_F16, LEXIE_MERGE_Q8_0,
                                             LEXIE_MERGE_F32};
    int ti = -1;
    for (int k = 0; k < 4; k++)
        if (strcmp(type_s, names[k]) == 0) ti = k;
    if (ti < 0 || !lora.path || !out) {
        fprintf(stderr, ti < 0 ? "lexie merge: --type is same, f16, q8_0 or f32\n"
                               : "lexie merge: --lora FILE and -o OUT.gguf are required\n");
        return 2;
    }
    lexie_error err;
    char *path = cli_resolve_model(model, &err);
    lexie_model *m = path ? lexie_model_load(path, NULL, &err) : NULL;
    free(path);
    int rc = 1;
    if (!m)
        fprintf(stderr, "lexie merge: %s\n", err.message);
    else if (cli_apply_lora("merge", m, NULL, &lora)) {
        float scale = lora.scale_set ? (float)lora.scale : 1.0f;
        if (lexie_adapter_merge(lora.adapter, scale, out, types[ti], &err) != LEXIE_OK)
            fprintf(stderr, "lexie merge: %s\n", err.message);
        else {
            fprintf(stderr, "lexie merge: wrote %s\n", out);
            rc = 0;
        }
    }
    cli_lora_free(&lora);
    lexie_model_free(m);
    return rc;
}
