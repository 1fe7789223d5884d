/*
** fuzz_gbnf.c -- libFuzzer target for the GBNF parser: any
** byte string must compile or fail with a message, never crash, hang,
** leak or read out of bounds.  A compiled grammar is then exercised
** (grammar_fuzz.h).
**
** Built and run like the other targets (`make fuzz`, fuzz/run.sh); its
** hand-made seeds are in fuzz/corpus/gbnf/, which `make test` replays.
** The model-facing part of the library is not used: the vocabulary comes
** from raw pieces.
*/
#include "grammar_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lexie_error e;
    return exercise(lexie_grammar_from_gbnf((const char *)data, size, NULL, &e), data, size);
}
