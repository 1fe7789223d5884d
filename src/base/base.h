/*
** base.h -- internal helpers every lexie module uses: error reporting,
** checked allocation, UTF-8 validation, a thread pool and timing.
**
** Internal names are lx_<module>_<verb>; nothing here is public API.
*/
#ifndef LX_BASE_H
#define LX_BASE_H

#include "lexie.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define LX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LX_MAX(a, b) ((a) > (b) ? (a) : (b))
#define LX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define LX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LX_PRINTF(f, a)
#endif

/* ==== Errors ==== */

/* Records code and a printf-style message in err (which may be NULL) and
** returns code, so callers can write `return lx_fail(err, ...);`. */
lexie_status lx_fail(lexie_error *err, lexie_status code, const char *fmt, ...) LX_PRINTF(3, 4);

/* Like lx_fail, but keeps the message already in err and puts a prefix in
** front of it ("loading model: " + old message). */
lexie_status lx_fail_prefix(lexie_error *err, const char *fmt, ...) LX_PRINTF(2, 3);

/* Resets err to LEXIE_OK with an empty message. */
void lx_error_clear(lexie_error *err);

/* ==== Allocation ==== */

/* malloc/calloc that record LEXIE_E_NOMEM in err on failure, and refuse
** sizes whose computation overflowed (n * size). */
void *lx_malloc(size_t size, lexie_error *err);
void *lx_calloc(size_t n, size_t size, lexie_error *err);
char *lx_strdup(const char *s, lexie_error *err);
char *lx_strndup(const char *s, size_t n, lexie_error *err);

/* Returns 1 and stores a*b in *out when it fits in size_t, else 0. */
int lx_mul_ok(size_t a, size_t b, size_t *out);

/* ==== UTF-8 ==== */

/* Returns 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, nothing
** past U+10FFFF), else 0 and, when bad_off is not NULL, the byte offset of
** the first invalid sequence. */
int lx_utf8_valid(const char *s, size_t n, size_t *bad_off);

/* Length in bytes of the UTF-8 sequence that starts with byte c (1..4), or
** 1 for a byte that cannot start one. */
int lx_utf8_len(unsigned char c);

/* Copies s[0..n) to out, which has room for 3 * n bytes, replacing each
** invalid byte with U+FFFD.  A valid character cut short at the end is
** left for the caller's next call (*used tells how many bytes were
** consumed), or replaced too when final.  Returns the bytes written. */
size_t lx_utf8_sanitize(const char *s, size_t n, int final, char *out, size_t *used);

/* ==== Time ==== */

/* Monotonic seconds, for progress and benchmarks. */
double lx_time_now(void);

/* ==== Thread pool ==== */

/* A fixed set of worker threads that run one parallel loop at a time.
** lx_pool_run(p, fn, arg, n) calls fn(arg, i, n) once for every i in
** [0, n_threads) -- the calling thread is worker 0 -- and returns when all
** have finished.  fn splits its own work by i.  A pool is used by one thread
** at a time. */
typedef struct lx_pool lx_pool;
typedef void (*lx_pool_fn)(void *arg, int ith, int nth);

lx_pool *lx_pool_new(int n_threads, lexie_error *err);
void lx_pool_free(lx_pool *p);
int lx_pool_size(const lx_pool *p);
void lx_pool_run(lx_pool *p, lx_pool_fn fn, void *arg);

/* Number of online CPU cores, at least 1. */
int lx_cpu_count(void);

#endif /* LX_BASE_H */
