/*
** fuzz_chat.c -- libFuzzer target for the chat-template engine: any byte
** string handed to lx_chat_render as a template must render or fail with
** a message, never crash, read out of bounds, leak, recurse without bound
** or allocate absurdly (the engine caps depth, output, items and steps).
** When it renders, the output must be a NUL-terminated string.
**
** `make fuzz` builds and runs it (fuzz/run.sh); `make test` replays
** fuzz/corpus/<target>/ through it.  By hand, from the repository root:
**
**   clang -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 \
**       -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
**       fuzz/fuzz_chat.c src/chat/chat*.c src/base/[a-z]*.c \
**       -lpcre2-8 -lutf8proc -lpthread -lm -o /tmp/fuzz_chat
**   mkdir -p /tmp/chat-corpus && /tmp/fuzz_chat -rss_limit_mb=1024 /tmp/chat-corpus
**
** Seed the corpus with real templates (the tmpl_* strings of
** tests/test_chat.c, or tokenizer.chat_template of any GGUF).
*/
#include "chat/chat.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The template is a C string: cut at the first NUL. */
    char *tmpl = malloc(size + 1);
    if (!tmpl) return 0;
    memcpy(tmpl, data, size);
    tmpl[size] = 0;
    static const lx_chat_msg msgs[] = {
        {"system", "Be brief."},
        {"user", "Hello \xc3\xa9 <b>"},
        {"assistant", "Hi."},
        {"user", "Again?"},
    };
    char *out = NULL;
    lexie_error err;
    lexie_status st = lx_chat_render(tmpl, msgs, 4, 1, "<s>", "</s>", &out, &err);
    if (st == LEXIE_OK) {
        if (!out) abort();
        volatile size_t n = strlen(out); /* ASan checks the terminator */
        (void)n;
    } else if (err.message[0] == 0) {
        abort(); /* every failure says why */
    }
    free(out);
    free(tmpl);
    return 0;
}
