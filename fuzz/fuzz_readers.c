/*
** fuzz_readers.c -- libFuzzer target for the dataset readers (eval/
** readers.c): SemEval-2010 Task 8 files and key files, GAD TSV and TACRED
** JSON.  The readers take a path, so the input goes into a memory file
** (memfd) read back through /proc/self/fd.  The first byte picks the
** reader; any bytes must load or fail with a message, and every loaded
** item must hold valid UTF-8 text with spans inside it.
**
** Built and run by `make fuzz` (fuzz/run.sh); `make test` replays
** fuzz/corpus/readers/ through it.
*/
#define _GNU_SOURCE
#include "base/base.h"
#include "eval/eval.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

static void check(const lx_re_data *d) {
    for (int i = 0; i < d->n; i++) {
        const lx_re_item *it = &d->items[i];
        if (!it->id || !it->text) abort();
        size_t n = strlen(it->text);
        if (!lx_utf8_valid(it->text, n, NULL)) abort();
        int cps = lx_ie_cp_count(it->text, n);
        if (it->h_start < 0 || it->h_end < it->h_start || it->h_end > cps) abort();
        if (it->t_start < 0 || it->t_end < it->t_start || it->t_end > cps) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (fd < 0) {
        fd = memfd_create("lexie-fuzz", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) abort();
    size_t n = size - 1;
    if (n && pwrite(fd, data + 1, n, 0) != (ssize_t)n) abort();
    lx_re_data d = {0};
    lexie_error err;
    lexie_status st;
    switch (data[0] % 4) {
    case 0: st = lx_read_semeval(path, &d, &err); break;
    case 1: st = lx_read_gad(path, "test-", &d, &err); break;
    case 2: st = lx_read_tacred(path, &d, &err); break;
    default: {
        /* A key file sets gold labels on items read before. */
        static const char base[] = "1\t\"The <e1>cat</e1> sat on the <e2>mat</e2>.\"\nOther\n"
                                   "Comment:\n\n2\t\"A <e2>b</e2> c <e1>d</e1>\"\nOther\n";
        if (ftruncate(fd, 0) != 0 || pwrite(fd, base, sizeof base - 1, 0) != sizeof base - 1)
            abort();
        if (lx_read_semeval(path, &d, &err) != LEXIE_OK || d.n != 2) abort();
        if (ftruncate(fd, 0) != 0) abort();
        if (n && pwrite(fd, data + 1, n, 0) != (ssize_t)n) abort();
        st = lx_read_semeval_key(path, &d, &err);
    }
    }
    if (st != LEXIE_OK && (err.message[0] == 0 || err.code != st)) abort();
    if (st == LEXIE_OK) check(&d);
    lx_re_data_free(&d);
    return 0;
}
