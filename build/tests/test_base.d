build/tests/test_base.o: tests/test_base.c src/base/base.h \
 include/lexie.h tests/lx_test.h
src/base/base.h:
include/lexie.h:
tests/lx_test.h:
