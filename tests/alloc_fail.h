/*
** alloc_fail.h -- allocation-failure injection for tests (as SQLite's
** tests do it).  The test binary is linked with -Wl,--wrap=malloc,calloc,
** realloc,strdup,strndup,free (Makefile), so every such call made by our
** objects (the library and the tests, not libc or other libraries) goes
** through tests/alloc_fail.c.  Between lx_alloc_begin and lx_alloc_end
** the wrappers count allocations, make the fail_at-th one (1-based; 0:
** none) return NULL, and remember every block handed out that is not yet
** freed, so a leak shows without a leak checker (and under SAN=1 ASan
** checks the rest).
*/
#ifndef LX_ALLOC_FAIL_H
#define LX_ALLOC_FAIL_H

/* Starts counting; the fail_at-th allocation fails: only that one (later
** ones succeed again, so error paths that go on must still clean up), or
** with persist every one from it on. */
void lx_alloc_begin(long fail_at, int persist);
/* Stops counting.  Returns the blocks allocated since lx_alloc_begin that
** are still live (leaks, when the caller freed everything); *n_allocs
** gets the number of allocations counted and *failed whether the
** injected failure happened.  -1 when the tracking table overflowed. */
long lx_alloc_end(long *n_allocs, int *failed);

#endif
