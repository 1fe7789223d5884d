/*
** kq_fixture.h -- a tiny llama with Q4_K and Q6_K weights that the load
** packs (see kq_fixture.c).
*/
#ifndef KQ_FIXTURE_H
#define KQ_FIXTURE_H

#include "lx_test.h"

#include <stddef.h>

/* Writes the model to a file of this process under /tmp and puts its
** path in path (n bytes); the caller removes it.  0 if the fixture it is
** built from (llama_f32.gguf) is missing or a write fails. */
int kq_fixture_write(char *path, size_t n);

#endif /* KQ_FIXTURE_H */
