/*
** base.h -- internal helpers every lexie module uses: error reporting,
** checked allocation, growable buffers, whole files, UTF-8 validation,
** SHA-256, bit counts, a thread pool and timing.  (JSON is in json.h.)
**
** Internal names are lx_<module>_<verb>; nothing here is public API.
*/
#ifndef LX_BASE_H
#define LX_BASE_H

#include "lexie.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
/* size bytes aligned to 2 MB for a large array read end to end (model
** weights), which the OS is asked to back with huge pages (Linux THP in
** its "madvise" mode; only advice): streaming a gigabyte through 4 KB
** pages misses the TLB every 4 KB.  Free with free(). */
void *lx_malloc_huge(size_t size, lexie_error *err);

/* Returns 1 and stores a*b in *out when it fits in size_t, else 0. */
int lx_mul_ok(size_t a, size_t b, size_t *out);

/* ==== Growable buffers (buf.c) ==== */

/* Makes room for need elements of elem bytes in the array *p, whose
** capacity is *cap elements: the capacity at least doubles (from 16), the
** sizes are overflow-checked, and *p moves as realloc moves it.  On
** failure returns LEXIE_E_NOMEM (message in err, which may be NULL) and
** leaves *p and *cap as they were.  Start with *p = NULL, *cap = 0; free
** *p with free(). */
lexie_status lx_grow(void **p, size_t *cap, size_t need, size_t elem, lexie_error *err);

/* A growable byte buffer, NUL-terminated once anything was reserved
** (data[len] == 0).  Start it zeroed ({0}); data is owned, freed by
** lx_buf_free, and may move on every reserve or append. */
typedef struct lx_buf {
    char *data;
    size_t len, cap; /* cap counts the NUL's byte */
} lx_buf;

/* Room for extra more bytes (and the NUL).  LEXIE_E_NOMEM on overflow or
** allocation failure; the buffer is unchanged then. */
lexie_status lx_buf_reserve(lx_buf *b, size_t extra, lexie_error *err);
/* Appends s[0..n) (s may be NULL when n is 0). */
lexie_status lx_buf_append(lx_buf *b, const void *s, size_t n, lexie_error *err);
/* Empties the buffer, keeping its memory. */
void lx_buf_reset(lx_buf *b);
/* Frees the memory and zeroes b; b may be NULL. */
void lx_buf_free(lx_buf *b);

/* ==== Files (file.c) ==== */

/* Reads a whole file into a malloc'd buffer with a NUL after its *n bytes.
** Files over max_bytes (0: 1 GiB) are refused (LEXIE_E_RANGE); errors
** name the path. */
char *lx_read_file(const char *path, size_t max_bytes, size_t *n, lexie_error *err);

/* lx_read_file for a text data set: refused, naming the path, when it
** holds a NUL byte (LEXIE_E_FORMAT) or invalid UTF-8 (LEXIE_E_UTF8, at
** which byte). */
char *lx_read_text_file(const char *path, size_t max_bytes, size_t *n, lexie_error *err);

/* The next line of a buffer read whole, split in place (the '\n', and a
** '\r' before it, become NUL); *cur moves past it.  NULL at the end. */
char *lx_next_line(char **cur);

/* Replaces the file at path with data[0..n), mode 0644, atomically: the
** bytes go to "<dir>/.<stem>-XXXXXX" (stem: the file name up to its first
** '.'; a cleaner may remove such leftovers of a crash), are synced, and
** the file is renamed over path.  LEXIE_E_IO "cannot write <file>: why";
** on failure the temporary file is gone and path is untouched. */
lexie_status lx_write_file_atomic(const char *path, const void *data, size_t n, lexie_error *err);

/* Makes a rename in path's folder durable by syncing the folder.  Best
** effort: some file systems refuse it, and nothing is reported. */
void lx_sync_dir(const char *path);

/* Writes all of data[0..n) to fd, retrying short writes and EINTR.
** Returns 0, or -1 with errno set (EIO for a write that made no progress). */
int lx_write_all(int fd, const void *data, size_t n);

/* ==== Lines (file.c) ==== */

/* Reads text line by line with a bounded memory: a line longer than max
** bytes is skipped up to its newline without being held.  Zero it, set f
** and max, read with lx_line_read, free with lx_line_reader_free. */
typedef struct lx_line_reader {
    FILE *f;        /* borrowed */
    size_t max;     /* longest line kept, in bytes without the '\n' (0: 16 MiB) */
    lx_buf line;    /* the current line, '\n' dropped, NUL after it (it may hold NULs) */
    size_t skipped; /* LX_LINE_LONG: the bytes of the line that were dropped */
} lx_line_reader;

enum {
    LX_LINE_ERROR = -1, /* a read error (errno says which), or out of memory (ENOMEM) */
    LX_LINE_END = 0,    /* end of input */
    LX_LINE_OK = 1,     /* r->line holds the next line */
    LX_LINE_LONG = 2    /* the next line was longer than max: skipped, r->line is empty */
};

/* The default of max: 16 MiB. */
#define LX_LINE_MAX_DEFAULT ((size_t)16 << 20)

/* Reads the next line (the last one may lack its '\n').  Returns one of
** LX_LINE_*.  A read error is never taken for the end of input. */
int lx_line_read(lx_line_reader *r);
void lx_line_reader_free(lx_line_reader *r);

/* ==== SHA-256 (sha256.c, FIPS 180-4) ==== */

typedef struct lx_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;      /* total bytes hashed so far */
    unsigned char buf[64]; /* pending partial block */
    size_t n_buf;
} lx_sha256;

void lx_sha256_init(lx_sha256 *s);
void lx_sha256_update(lx_sha256 *s, const void *data, size_t n);
/* Finishes the hash; s must be re-initialised before reuse. */
void lx_sha256_final(lx_sha256 *s, unsigned char digest[32]);
/* 64 lowercase hex digits and a NUL. */
void lx_sha256_hex(const unsigned char digest[32], char hex[65]);
/* 1 if s is exactly 64 lowercase hex digits. */
int lx_sha256_hex_ok(const char *s);
/* The hash of data[0..n) in one call, as 64 lowercase hex digits. */
void lx_sha256_hex_of(const void *data, size_t n, char hex[65]);
/* The hash of a whole file, read in 64 KiB pieces, as 64 lowercase hex
** digits; LEXIE_E_IO naming path when it cannot be opened or read. */
lexie_status lx_sha256_file(const char *path, char hex[65], lexie_error *err);

/* ==== Seeded randomness (rng.c) ==== */

/* splitmix64's output function of x + 0x9e3779b97f4a7c15: a well-mixed
** hash of a counter, behind every seeded choice (samples of a data set,
** sampling tokens, dropout masks, shuffles), so one seed gives one run on
** every machine. */
uint64_t lx_mix64(uint64_t x);
/* splitmix64 as a generator: the next value from state *s. */
uint64_t lx_rng_next(uint64_t *s);

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

/* ==== Bitsets (bits.c) ==== */

/* The set bits of w[0..n): with the POPCNT instruction where the CPU has
** it, else a portable count (lx_bits_count_portable, the same number). */
int64_t lx_bits_count(const uint32_t *w, size_t n);
int64_t lx_bits_count_portable(const uint32_t *w, size_t n);

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
#define LX_POOL_MAX 256 /* threads a pool may have */

lx_pool *lx_pool_new(int n_threads, lexie_error *err);
void lx_pool_free(lx_pool *p);
int lx_pool_size(const lx_pool *p);
void lx_pool_run(lx_pool *p, lx_pool_fn fn, void *arg);

/* Number of online CPU cores, at least 1. */
int lx_cpu_count(void);

#endif /* LX_BASE_H */
