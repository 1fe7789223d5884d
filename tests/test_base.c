/*
** test_base.c -- errors, growable buffers, whole files, UTF-8 validation,
** SHA-256, bit counts and the thread pool.
*/
#include "base/base.h"
#include "lx_test.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_status_strings(lx_t *t) {
    LX_CHECK(t, strcmp(lexie_status_string(LEXIE_OK), "ok") == 0);
    LX_CHECK(t, strcmp(lexie_status_string(LEXIE_E_FORMAT), "format error") == 0);
    lexie_error e;
    LX_CHECK_INT(t, lx_fail(&e, LEXIE_E_IO, "x %d", 5), LEXIE_E_IO);
    LX_CHECK(t, strcmp(e.message, "x 5") == 0);
    lx_fail_prefix(&e, "pre: ");
    LX_CHECK(t, strcmp(e.message, "pre: x 5") == 0);
    LX_CHECK_INT(t, lx_fail(NULL, LEXIE_E_IO, "no err"), LEXIE_E_IO);
}

/* ==== Growable buffers ==== */

static void test_grow(lx_t *t) {
    lexie_error e;
    int32_t *v = NULL;
    size_t cap = 0;
    LX_CHECK_INT(t, lx_grow((void **)&v, &cap, 0, sizeof *v, &e), LEXIE_OK);
    LX_CHECK(t, v == NULL && cap == 0); /* nothing needed, nothing allocated */
    /* One element at a time: contents survive every move, and the
    ** capacity at least doubles, so 1000 pushes realloc a handful of times. */
    int grows = 0;
    for (int32_t i = 0; i < 1000; i++) {
        size_t old = cap;
        LX_REQUIRE(t, lx_grow((void **)&v, &cap, (size_t)i + 1, sizeof *v, &e) == LEXIE_OK);
        if (cap != old) {
            grows++;
            LX_CHECK(t, cap >= 2 * old);
        }
        LX_CHECK(t, cap >= (size_t)i + 1);
        v[i] = i * 3;
    }
    LX_CHECK(t, grows <= 7);
    int ok = 1;
    for (int32_t i = 0; i < 1000; i++) ok &= v[i] == i * 3;
    LX_CHECK(t, ok);
    /* Sizes whose byte count overflows fail cleanly and keep the array. */
    int32_t *keep = v;
    size_t keep_cap = cap;
    LX_CHECK_INT(t, lx_grow((void **)&v, &cap, SIZE_MAX / 2, sizeof *v, &e), LEXIE_E_NOMEM);
    LX_CHECK(t, strstr(e.message, "overflows") != NULL);
    LX_CHECK(t, v == keep && cap == keep_cap && v[999] == 999 * 3);
    LX_CHECK_INT(t, lx_grow((void **)&v, &cap, SIZE_MAX, 1, &e), LEXIE_E_NOMEM); /* > PTRDIFF_MAX */
    LX_CHECK(t, strstr(e.message, "overflows") != NULL);
    LX_CHECK(t, v == keep && cap == keep_cap);
    free(v);
}

static void test_buf(lx_t *t) {
    lexie_error e;
    lx_buf b = {0};
    LX_CHECK_INT(t, lx_buf_append(&b, "abc", 3, &e), LEXIE_OK);
    LX_CHECK_INT(t, lx_buf_append(&b, NULL, 0, &e), LEXIE_OK);
    LX_CHECK_INT(t, lx_buf_append(&b, "de\0f", 4, &e), LEXIE_OK); /* bytes, not a string */
    LX_CHECK_INT(t, (int)b.len, 7);
    LX_CHECK(t, memcmp(b.data, "abcde\0f", 8) == 0); /* and the NUL after them */
    LX_CHECK(t, b.cap > b.len);
    /* reset keeps the memory; the buffer reads as "" */
    char *mem = b.data;
    size_t cap = b.cap;
    lx_buf_reset(&b);
    LX_CHECK(t, b.len == 0 && b.data == mem && b.cap == cap && b.data[0] == 0);
    /* Growth across many appends keeps every byte. */
    for (int i = 0; i < 5000; i++) {
        char c = (char)('a' + i % 26);
        LX_REQUIRE(t, lx_buf_append(&b, &c, 1, &e) == LEXIE_OK);
    }
    int ok = b.len == 5000 && b.data[5000] == 0;
    for (int i = 0; ok && i < 5000; i++) ok = b.data[i] == (char)('a' + i % 26);
    LX_CHECK(t, ok);
    /* A reserve whose size overflows fails and changes nothing. */
    mem = b.data;
    cap = b.cap;
    LX_CHECK_INT(t, lx_buf_reserve(&b, SIZE_MAX - 2, &e), LEXIE_E_NOMEM);
    LX_CHECK_INT(t, e.code, LEXIE_E_NOMEM);
    LX_CHECK(t, b.data == mem && b.cap == cap && b.len == 5000);
    LX_CHECK_INT(t, lx_buf_reserve(&b, 100, &e), LEXIE_OK);
    LX_CHECK(t, b.cap >= 5101 && b.len == 5000);
    lx_buf_free(&b);
    LX_CHECK(t, b.data == NULL && b.len == 0 && b.cap == 0);
    lx_buf_free(&b);
    lx_buf_free(NULL);
}

/* ==== Files ==== */

/* Entries of dir whose names start with prefix. */
static int count_prefixed(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void test_file(lx_t *t) {
    lexie_error e;
    char dir[] = "/tmp/lexie_test_file_XXXXXX";
    LX_REQUIRE(t, mkdtemp(dir));
    char path[64], missing[96];
    snprintf(path, sizeof path, "%s/data.json", dir);
    snprintf(missing, sizeof missing, "%s/no/such/folder/x.json", dir);

    /* Atomic write: the content, mode 0644, no temporary left. */
    size_t big = 200000; /* several read chunks */
    char *data = malloc(big);
    LX_REQUIRE(t, data);
    for (size_t i = 0; i < big; i++) data[i] = (char)(i * 131 + 7);
    LX_CHECK_INT(t, lx_write_file_atomic(path, data, big, &e), LEXIE_OK);
    struct stat st;
    LX_CHECK(t, stat(path, &st) == 0 && (st.st_mode & 0777) == 0644 && (size_t)st.st_size == big);
    LX_CHECK_INT(t, count_prefixed(dir, ".data-"), 0);
    size_t n = 0;
    char *got = lx_read_file(path, 0, &n, &e);
    LX_CHECK(t, got && n == big && memcmp(got, data, big) == 0 && got[n] == 0);
    free(got);

    /* The size bound: exactly max_bytes is fine, one more byte is not. */
    got = lx_read_file(path, big, &n, &e);
    LX_CHECK(t, got != NULL);
    free(got);
    LX_CHECK(t, lx_read_file(path, big - 1, &n, &e) == NULL);
    LX_CHECK_INT(t, e.code, LEXIE_E_RANGE);
    LX_CHECK(t, strstr(e.message, path) && strstr(e.message, "larger than the limit"));

    /* Replacing: the new bytes, even when shorter; an empty file reads as "". */
    LX_CHECK_INT(t, lx_write_file_atomic(path, "{}\n", 3, &e), LEXIE_OK);
    got = lx_read_file(path, 0, &n, &e);
    LX_CHECK(t, got && n == 3 && strcmp(got, "{}\n") == 0);
    free(got);
    LX_CHECK_INT(t, lx_write_file_atomic(path, NULL, 0, &e), LEXIE_OK);
    got = lx_read_file(path, 0, &n, &e);
    LX_CHECK(t, got && n == 0 && got[0] == 0);
    free(got);

    /* Failures name the path and leave nothing behind. */
    LX_CHECK(t, lx_read_file(missing, 0, &n, &e) == NULL);
    LX_CHECK_INT(t, e.code, LEXIE_E_IO);
    LX_CHECK(t, strstr(e.message, missing) && strstr(e.message, "cannot open"));
    LX_CHECK_INT(t, lx_write_file_atomic(missing, "x", 1, &e), LEXIE_E_IO);
    LX_CHECK(t, strstr(e.message, "cannot write") != NULL);
    LX_CHECK(t, lx_read_file(dir, 0, &n, &e) == NULL); /* a folder is not a file */
    LX_CHECK_INT(t, e.code, LEXIE_E_IO);

    lx_sync_dir(path); /* best effort: must simply not fail or crash */
    lx_sync_dir("relative-name");
    free(data);
    unlink(path);
    LX_CHECK_INT(t, rmdir(dir), 0); /* empty: nothing stray was left */
}

/* ==== SHA-256 ==== */

static void test_sha256_nist(lx_t *t) {
    char hex[65];
    /* FIPS 180-2 appendix B and the NIST example vectors. */
    lx_sha256_hex_of("", 0, hex);
    LX_CHECK(t, !strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    lx_sha256_hex_of("abc", 3, hex);
    LX_CHECK(t, !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    lx_sha256_hex_of(m448, strlen(m448), hex);
    LX_CHECK(t, !strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    const char *m896 =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
        "klmnopqrlmnopqrsmnopqrstnopqrstu";
    lx_sha256_hex_of(m896, strlen(m896), hex);
    LX_CHECK(t, !strcmp(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
    /* A million 'a', fed in uneven pieces to cross block boundaries. */
    char a[1024]; /* steps below reach 1009 */
    memset(a, 'a', sizeof a);
    lx_sha256 s;
    unsigned char d[32];
    lx_sha256_init(&s);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t k = LX_MIN(left, step);
        lx_sha256_update(&s, a, k);
        left -= k;
        step = step % 997 + 13;
    }
    lx_sha256_final(&s, d);
    lx_sha256_hex(d, hex);
    LX_CHECK(t, !strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    LX_CHECK(t, lx_sha256_hex_ok(hex));
    LX_CHECK(t, !lx_sha256_hex_ok("abc"));
    hex[3] = 'A';
    LX_CHECK(t, !lx_sha256_hex_ok(hex));
}

/* Padding edges (55, 56, 63, 64 bytes ...): byte-at-a-time equals one call. */
static void test_sha256_split(lx_t *t) {
    unsigned char msg[200];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof msg; n++) {
        char one[65], two[65];
        lx_sha256_hex_of(msg, n, one);
        lx_sha256 s;
        unsigned char d[32];
        lx_sha256_init(&s);
        for (size_t i = 0; i < n; i++) lx_sha256_update(&s, msg + i, 1);
        lx_sha256_final(&s, d);
        lx_sha256_hex(d, two);
        LX_CHECK_MSG(t, !strcmp(one, two), "length %zu", n);
    }
}

/* ==== UTF-8 ==== */

static void test_utf8(lx_t *t) {
    size_t off = 99;
    LX_CHECK(t, lx_utf8_valid("abc", 3, NULL));
    LX_CHECK(t, lx_utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80", 11, NULL));
    LX_CHECK(t, !lx_utf8_valid("ab\xff", 3, &off));
    LX_CHECK_INT(t, off, 2);
    LX_CHECK(t, !lx_utf8_valid("\xc0\xaf", 2, NULL));         /* overlong '/' */
    LX_CHECK(t, !lx_utf8_valid("\xed\xa0\x80", 3, NULL));     /* surrogate */
    LX_CHECK(t, !lx_utf8_valid("\xf4\x90\x80\x80", 4, NULL)); /* > U+10FFFF */
    LX_CHECK(t, !lx_utf8_valid("x\xe2\x82", 3, &off));        /* truncated */
    LX_CHECK_INT(t, off, 1);
}

/* Sanitising keeps valid text as is, turns each bad byte into U+FFFD, and
** holds back a character cut short unless told the text is final. */
static void test_utf8_sanitize(lx_t *t) {
    char out[64];
    size_t used, n;
    n = lx_utf8_sanitize("h\xc3\xa9!", 4, 0, out, &used);
    LX_CHECK(t, n == 4 && used == 4 && memcmp(out, "h\xc3\xa9!", 4) == 0);
    n = lx_utf8_sanitize("a\x80"
                         "b\xc0\xaf",
                         5, 0, out, &used);
    LX_CHECK(t, used == 5 && n == 11);
    LX_CHECK(t, memcmp(out,
                       "a\xef\xbf\xbd"
                       "b\xef\xbf\xbd\xef\xbf\xbd",
                       11) == 0);
    n = lx_utf8_sanitize("x\xe2\x82", 3, 0, out, &used); /* the euro sign, cut short */
    LX_CHECK(t, n == 1 && used == 1 && out[0] == 'x');
    n = lx_utf8_sanitize("x\xe2\x82", 3, 1, out, &used);
    LX_CHECK(t, n == 4 && used == 3 && memcmp(out, "x\xef\xbf\xbd", 4) == 0);
    n = lx_utf8_sanitize("\xed\xa0", 2, 0, out, &used); /* can only end as a surrogate */
    LX_CHECK(t, used == 2 && n == 6 && lx_utf8_valid(out, n, NULL));
    n = lx_utf8_sanitize("\xf0\x9f", 2, 0, out, &used); /* an emoji's start: wait */
    LX_CHECK(t, n == 0 && used == 0);
}

typedef struct {
    int hits[8];
} pool_arg;

/* Bit counts: both counts agree with a bit-by-bit one on edge words and
** seeded random ones, at every length up to 70 words. */
static void test_bits(lx_t *t) {
    uint32_t w[70] = {0, 1, 0x80000000u, 0xFFFFFFFFu, 0x55555555u, 0xAAAAAAAAu, 0x0F0F0F0Fu};
    uint64_t rng = 7;
    for (int i = 7; i < 70; i++) w[i] = (uint32_t)lx_rng_next(&rng);
    int64_t naive = 0;
    LX_CHECK_INT(t, lx_bits_count(w, 0), 0);
    for (size_t n = 1; n <= 70; n++) {
        for (int b = 0; b < 32; b++) naive += (w[n - 1] >> b) & 1u;
        LX_CHECK_INT(t, lx_bits_count(w, n), naive);
        LX_CHECK_INT(t, lx_bits_count_portable(w, n), naive);
    }
    LX_CHECK_INT(t, lx_bits_count(w + 3, 1), 32);
}

static void pool_fn(void *v, int ith, int nth) {
    pool_arg *a = v;
    (void)nth;
    a->hits[ith]++;
}

static void test_pool(lx_t *t) {
    lexie_error e;
    lx_pool *p = lx_pool_new(4, &e);
    LX_REQUIRE(t, p);
    pool_arg a;
    memset(&a, 0, sizeof a);
    for (int r = 0; r < 1000; r++) lx_pool_run(p, pool_fn, &a);
    for (int i = 0; i < 4; i++) LX_CHECK_INT(t, a.hits[i], 1000);
    LX_CHECK_INT(t, a.hits[4], 0);
    lx_pool_free(p);
    lx_pool_free(NULL);
}

void suite_base(void) {
    LX_RUN(test_status_strings);
    LX_RUN(test_grow);
    LX_RUN(test_buf);
    LX_RUN(test_file);
    LX_RUN(test_sha256_nist);
    LX_RUN(test_sha256_split);
    LX_RUN(test_utf8);
    LX_RUN(test_utf8_sanitize);
    LX_RUN(test_bits);
    LX_RUN(test_pool);
}
