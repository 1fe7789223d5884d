/*
** re_fixture.h -- what the relation-extraction test files share: the toy
** schema (three relations over PER/LOC/ORG and a none label) and a
** temporary-file helper.
*/
#ifndef LX_RE_FIXTURE_H
#define LX_RE_FIXTURE_H

#include "ie/ie.h"
#include "lx_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOY                                                                                        \
    "{\"name\": \"toy\", \"entity_types\": [\"PER\", \"LOC\", \"ORG\"],\n"                         \
    " \"none\": {\"label\": \"none\", \"template\": \"{subj} and {obj} are unrelated\"},\n"        \
    " \"relations\": [\n"                                                                          \
    "  {\"label\": \"lives_in\", \"templates\": [\"{subj} lives in {obj}\"], \"types\": "          \
    "[[\"PER\", "                                                                                  \
    "\"LOC\"]]},\n"                                                                                \
    "  {\"label\": \"works_for\", \"template\": \"{subj} works for {obj}\", \"types\": "           \
    "[[\"PER\", "                                                                                  \
    "\"ORG\"]]},\n"                                                                                \
    "  {\"label\": \"born_in\", \"templates\": [\"{subj} was born in {obj}\"], \"types\": "        \
                                                                                                   \
    "[[\"PER\", \"LOC\"]]}]}"

static inline lx_re_schema *toy(lx_t *t) {
    lexie_error e;
    lx_re_schema *s = lx_re_schema_parse(TOY, strlen(TOY), "toy", &e);
    if (!s) lx_test_fail(t, __FILE__, __LINE__, "toy schema: %s", e.message);
    return s;
}

/* A new temporary file holding content; the malloc'd path, or NULL. */
static inline char *write_tmp(const char *content) {
    char *path = strdup("/tmp/lexie_test_re_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    fputs(content, f);
    fclose(f);
    return path;
}

/* The data folder: $LEXIE_DATA, else ../shared/data (as the CLI). */
static inline const char *re_data_dir(void) {
    const char *d = getenv("LEXIE_DATA");
    return d && *d ? d : "../shared/data";
}

#endif
