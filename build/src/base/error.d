build/src/base/error.o: src/base/error.c src/base/base.h include/lexie.h
src/base/base.h:
include/lexie.h:
