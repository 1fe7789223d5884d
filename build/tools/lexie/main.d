build/tools/lexie/main.o: tools/lexie/main.c tools/lexie/cli.h \
 include/lexie.h
tools/lexie/cli.h:
include/lexie.h:
