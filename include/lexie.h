/*
** lexie.h -- the one public C API of lexie.
**
** lexie runs instruction-tuned language models stored as GGUF files on an
** ordinary CPU and turns them into information extractors.  This header is
** the manual: every function says what it does, who owns what, and what can
** fail.  Anything not declared here is internal and may change.
**
** Conventions
**   - Names are lexie_<object>_<verb>.  Every create/load has a free; passing
**     NULL to a free function is a no-op.
**   - Fallible calls return lexie_status (LEXIE_OK == 0) and fill the
**     caller-owned lexie_error *err when it is not NULL.  Constructors return
**     NULL on failure.  The library never prints, exits or aborts.
**   - A lexie_model is immutable after load: any number of threads may share
**     one.  A lexie_ctx belongs to one thread at a time.
**   - Text is UTF-8.  Invalid UTF-8 is refused with LEXIE_E_UTF8.
*/
#ifndef LEXIE_H
#define LEXIE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LEXIE_API __attribute__((visibility("default")))
#else
#define LEXIE_API
#endif

/* ==== Version ==== */

#define LEXIE_VERSION_MAJOR 0
#define LEXIE_VERSION_MINOR 1
#define LEXIE_VERSION_PATCH 0
#define LEXIE_VERSION_STRING "0.1.0"
#define LEXIE_VERSION_NUMBER                                                   \
    (LEXIE_VERSION_MAJOR * 10000 + LEXIE_VERSION_MINOR * 100 +                 \
     LEXIE_VERSION_PATCH)

/* The version of the library actually linked, e.g. "0.1.0". */
LEXIE_API const char *lexie_version(void);
LEXIE_API int lexie_version_number(void);

/* ==== Errors ==== */

/* Status codes.  Append new codes; never renumber or reuse one. */
typedef enum lexie_status {
    LEXIE_OK = 0,
    LEXIE_E_IO = 1,          /* a file could not be opened, read or written */
    LEXIE_E_FORMAT = 2,      /* malformed input: GGUF, JSON, schema, ... */
    LEXIE_E_UNSUPPORTED = 3, /* valid but not supported: arch, tensor type */
    LEXIE_E_NOMEM = 4,       /* an allocation failed or would be absurd */
    LEXIE_E_INVALID = 5,     /* a bad argument from the caller */
    LEXIE_E_UTF8 = 6,        /* text is not valid UTF-8 */
    LEXIE_E_RANGE = 7,       /* a buffer, context or limit is too small */
    LEXIE_E_NETWORK = 8,     /* a download failed */
    LEXIE_E_INTERNAL = 9,    /* a bug in lexie: please report it */
    LEXIE_E_NOT_FOUND = 10,  /* a named model, key or tensor does not exist */
} lexie_status;

/* Filled by fallible calls.  Caller-owned, so threads sharing a model each
** keep their own.  message is always NUL-terminated. */
typedef struct lexie_error {
    lexie_status code;
    char message[512];
} lexie_error;

/* A static English name for a status code, e.g. "format error". */
LEXIE_API const char *lexie_status_string(lexie_status s);

/* ==== Memory ==== */

/* Frees memory that a lexie function documented as "free with lexie_free". */
LEXIE_API void lexie_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* LEXIE_H */
