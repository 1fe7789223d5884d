build/tests/harness.o: tests/harness.c tests/lx_test.h tests/suites.h
tests/lx_test.h:
tests/suites.h:
