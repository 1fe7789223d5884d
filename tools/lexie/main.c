/*
** main.c -- the lexie command-line tool: dispatches to one cmd_*.c per
** subcommand.
*/
#include "lexie.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("lexie %s\n", lexie_version());
        return 0;
    }
    fprintf(stderr, "usage: lexie COMMAND [ARGS]\n");
    return 2;
}
