build/src/base/pool.o: src/base/pool.c src/base/base.h include/lexie.h
src/base/base.h:
include/lexie.h:
