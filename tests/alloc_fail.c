/*
** alloc_fail.c -- the allocator wrappers behind alloc_fail.h.  Outside a
** lx_alloc_begin/end window they only forward to the real functions.
** Inside one, a mutex guards the counter and an open-addressing table of
** live blocks (tombstones on free; the window is short, so it never
** rehashes and reports overflow instead).
*/
#include "alloc_fail.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);

#define CAP (1u << 18)
#define TOMB ((void *)1)

static atomic_int on;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long count, fail_at;
static int failed, overflow, persist_;
static void *live[CAP]; /* static: zero, and no allocation of its own */
static long n_live;

static size_t slot(const void *p) {
    return (size_t)(((uintptr_t)p >> 4) * 2654435761u) & (CAP - 1);
}

static void track_add(void *p) {
    size_t i = slot(p);
    for (unsigned k = 0; k < CAP; k++, i = (i + 1) & (CAP - 1))
        if (live[i] == NULL || live[i] == TOMB) {
            live[i] = p;
            n_live++;
            return;
        }
    overflow = 1;
}

static void track_del(void *p) {
    size_t i = slot(p);
    for (unsigned k = 0; k < CAP && live[i]; k++, i = (i + 1) & (CAP - 1))
        if (live[i] == p) {
            live[i] = TOMB;
            n_live--;
            return;
        }
}

/* 1 when this allocation must fail; counts it. */
static int should_fail(void) {
    if (!atomic_load_explicit(&on, memory_order_relaxed)) return 0;
    pthread_mutex_lock(&mu);
    ++count;
    int f = fail_at > 0 && (persist_ ? count >= fail_at : count == fail_at);
    if (f) failed = 1;
    pthread_mutex_unlock(&mu);
    return f;
}

static void *added(void *p) {
    if (p && atomic_load_explicit(&on, memory_order_relaxed)) {
        pthread_mutex_lock(&mu);
        track_add(p);
        pthread_mutex_unlock(&mu);
    }
    return p;
}

static void removed(void *p) {
    if (p && atomic_load_explicit(&on, memory_order_relaxed)) {
        pthread_mutex_lock(&mu);
        track_del(p);
        pthread_mutex_unlock(&mu);
    }
}

void lx_alloc_begin(long at, int persist) {
    pthread_mutex_lock(&mu);
    memset(live, 0, sizeof live);
    n_live = 0;
    count = 0;
    fail_at = at;
    persist_ = persist;
    failed = overflow = 0;
    pthread_mutex_unlock(&mu);
    atomic_store(&on, 1);
}

long lx_alloc_end(long *n_allocs, int *did_fail) {
    atomic_store(&on, 0);
    pthread_mutex_lock(&mu);
    if (n_allocs) *n_allocs = count;
    if (did_fail) *did_fail = failed;
    long r = overflow ? -1 : n_live;
    pthread_mutex_unlock(&mu);
    return r;
}

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : added(__real_malloc(n)); }
void *__wrap_calloc(size_t n, size_t size) {
    return should_fail() ? NULL : added(__real_calloc(n, size));
}
char *__wrap_strdup(const char *s) { return should_fail() ? NULL : added(__real_strdup(s)); }
char *__wrap_strndup(const char *s, size_t n) {
    return should_fail() ? NULL : added(__real_strndup(s, n));
}
void *__wrap_realloc(void *p, size_t n) {
    if (should_fail()) return NULL; /* p stays valid, as realloc leaves it */
    void *q = __real_realloc(p, n);
    if (q || n == 0) removed(p);
    return added(q);
}
void __wrap_free(void *p) {
    removed(p);
    __real_free(p);
}
