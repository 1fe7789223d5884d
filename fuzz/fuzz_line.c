/*
** fuzz_line.c -- libFuzzer target for the JSONL input line of `lexie
** relations` (lexie_re_line_parse, ie/input.c): any bytes must parse or
** fail with a message; an accepted line must give valid UTF-8 text and
** non-empty spans inside it, and its markers must round-trip.  The line
** number is taken from the first byte, to cover message prefixes.
**
** Built and run by `make fuzz` (fuzz/run.sh); `make test` replays
** fuzz/corpus/line/ through it.
*/
#include "base/base.h"
#include "ie/ie.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int lineno = data[0] % 4;
    lexie_re_line l;
    lexie_error err;
    lexie_status st = lexie_re_line_parse((const char *)data + 1, size - 1, lineno, &l, &err);
    if (st != LEXIE_OK) {
        if (err.message[0] == 0 || err.code != st) abort();
        lexie_re_line_clear(&l);
        return 0;
    }
    const lexie_re_example *e = &l.ex;
    if (!e->text) abort();
    size_t n = strlen(e->text);
    if (!lx_utf8_valid(e->text, n, NULL)) abort();
    int cps = lx_ie_cp_count(e->text, n);
    if (e->head_start < 0 || e->head_end <= e->head_start || e->head_end > cps) abort();
    if (e->tail_start < 0 || e->tail_end <= e->tail_start || e->tail_end > cps) abort();
    /* Marked again and parsed back, the spans come back unless they overlap. */
    lx_re_item it = {0};
    it.text = (char *)e->text;
    it.h_start = e->head_start, it.h_end = e->head_end;
    it.t_start = e->tail_start, it.t_end = e->tail_end;
    int overlap = e->head_start < e->tail_end && e->tail_start < e->head_end;
    if (!overlap && !strstr(e->text, "<e1>") && !strstr(e->text, "</e1>") &&
        !strstr(e->text, "<e2>") && !strstr(e->text, "</e2>")) {
        char *m = lx_re_add_markers(&it, &err);
        if (m) {
            char *t2 = NULL;
            int sp[4];
            if (lexie_re_parse_markers(m, &t2, sp, &err) != LEXIE_OK) abort();
            if (strcmp(t2, e->text) != 0 || sp[0] != e->head_start || sp[1] != e->head_end ||
                sp[2] != e->tail_start || sp[3] != e->tail_end)
                abort();
            free(t2);
            free(m);
        }
    }
    lexie_re_line_clear(&l);
    return 0;
}
