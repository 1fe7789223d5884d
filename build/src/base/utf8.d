build/src/base/utf8.o: src/base/utf8.c src/base/base.h include/lexie.h
src/base/base.h:
include/lexie.h:
