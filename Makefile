# lexie -- build the library, the CLI and the tests.
#
#   make              liblexie.a, liblexie.so and the lexie CLI under build/
#   make test         build and run the test suite (what CI runs)
#   make test-python  only the Python binding's tests (python/)
#   make SAN=1 test   the same with AddressSanitizer + UBSan, under build-san/
#   make model        fetch the default model into the cache
#   make bench        build the benchmarks
#   make fuzz         build the libFuzzer targets (fuzz/fuzz_*.c; clang, ASan +
#                     UBSan, build-fuzz/) and run each FUZZ_TIME s (default 60)
#   make fuzz-build   only build them and their seed corpora
#
# Files named *_avx2.c, *_avx512.c and *_avx512bf16.c are compiled for those ISAs only; the
# kernels choose among them at run time, so one binary runs everywhere.

CC      ?= cc
SAN     ?= 0
ifeq ($(SAN),1)
  B      ?= build-san
  OPT    ?= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN  := -fsanitize=address,undefined
else
  B      ?= build
  OPT    ?= -O2 -g
  LDSAN  :=
endif

CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror $(OPT) -fPIC \
           -fvisibility=hidden -Iinclude -Isrc -MMD -MP
LIBS    := -lpcre2-8 -lutf8proc -lpthread -lm
AVX2    := -mavx2 -mfma -mf16c
AVX512  := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx2 -mfma -mf16c
AVX512BF16 := $(AVX512) -mavx512bf16

# Library sources live one or two folders deep (src/ie/re/*.c).
LIB_SRC   := $(sort $(wildcard src/*/*.c src/*/*/*.c))
LIB_HDR   := $(sort $(wildcard src/*/*.h src/*/*/*.h))
CLI_SRC   := $(sort $(wildcard tools/lexie/*.c))
TEST_SRC  := $(sort $(wildcard tests/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_T    := $(FUZZ_SRC:fuzz/fuzz_%.c=%)

LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(B)/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(B)/%.o)

.PHONY: all test test-python test-fuzz-replay model bench clean format format-check fuzz fuzz-build fuzz-bins
all: $(B)/liblexie.a $(B)/liblexie.so $(B)/lexie

$(B)/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX2) -c $< -o $@

$(B)/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX512) -c $< -o $@

$(B)/%_avx512bf16.o: %_avx512bf16.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX512BF16) -c $< -o $@

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/liblexie.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/liblexie.so: $(LIB_OBJ)
	$(CC) -shared $(LDSAN) -o $@ $^ $(LIBS)

$(B)/lexie: $(CLI_OBJ) $(B)/liblexie.a
	$(CC) $(LDSAN) -o $@ $(CLI_OBJ) $(B)/liblexie.a $(LIBS)

# The test binary wraps the allocator (tests/alloc_fail.c): calls from our
# objects go through a counter that can make the n-th allocation fail.
ALLOC_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=free
$(B)/lexie-tests: $(TEST_OBJ) $(B)/liblexie.a
	$(CC) $(LDSAN) $(ALLOC_WRAP) -o $@ $(TEST_OBJ) $(B)/liblexie.a $(LIBS)

# Fixtures: tiny random-weight models and their NumPy reference outputs.
$(B)/fixtures/.stamp: $(wildcard tests/ref/*.py)
	@mkdir -p $(dir $@)
	python3 tests/ref/make_fixtures.py $(B)/fixtures
	@touch $@

test: $(B)/lexie $(B)/lexie-tests $(B)/fixtures/.stamp test-python test-fuzz-replay
	LEXIE_TEST_FIXTURES=$(B)/fixtures LEXIE_TEST_CLI=$(B)/lexie ./$(B)/lexie-tests

# The Python binding (python/) over this build's liblexie.so, run before the
# C suite so that its summary stays the last line.  An ASan library cannot
# be loaded into a Python built without ASan, so SAN=1 skips this step.
test-python: $(B)/liblexie.so $(B)/lexie $(B)/fixtures/.stamp
ifeq ($(SAN),1)
	@echo "test-python: skipped under SAN=1 (an ASan liblexie.so cannot load into a non-ASan python3)"
else
	LEXIE_LIB=$(abspath $(B)/liblexie.so) LEXIE_TEST_FIXTURES=$(B)/fixtures LEXIE_TEST_CLI=$(B)/lexie \
		python3 python/tests/test_lexie.py
	LEXIE_LIB=$(abspath $(B)/liblexie.so) LEXIE_TEST_FIXTURES=$(B)/fixtures LEXIE_TEST_CLI=$(B)/lexie \
		python3 python/tests/test_extract.py
endif

# Every fuzz target replays its committed seeds and crash reproducers
# (fuzz/corpus/<target>/) with this build's compiler and sanitizers.
test-fuzz-replay: $(FUZZ_T:%=$(B)/fuzz/replay_%)
	@for t in $(FUZZ_T); do ./$(B)/fuzz/replay_$$t fuzz/corpus/$$t || exit 1; done

$(B)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c $(B)/liblexie.a
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) $(LDSAN) -o $@ $< fuzz/replay.c $(B)/liblexie.a $(LIBS)

# libFuzzer targets: the library is rebuilt under build-fuzz/ with clang,
# coverage instrumentation, ASan and UBSan; seeds come from the tests'
# own inputs (fuzz/seeds.py) and fuzz/corpus/.  fuzz/run.sh runs them.
FUZZ_CC    ?= clang
FUZZ_OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
              -fno-sanitize-recover=undefined
FUZZ_TIME  ?= 60
fuzz: fuzz-build
	bash fuzz/run.sh $(FUZZ_TIME)

fuzz-build:
	$(MAKE) B=build-fuzz CC=$(FUZZ_CC) OPT="$(FUZZ_OPT)" LDSAN="-fsanitize=address,undefined" fuzz-bins
	python3 fuzz/seeds.py build-fuzz/seeds $(abspath build/fixtures)

# The targets need no kernels but the type table, and clang 14 refuses two
# kernel files (a rounding mode that gcc sees as constant only after
# inlining; the "f16c" CPU-feature name), so the fuzz archive leaves the
# kernels out; nothing a target links reaches them.
FUZZ_LIB_OBJ := $(filter-out $(B)/src/kernels/%,$(LIB_OBJ)) \
                $(filter $(B)/src/kernels/types%,$(LIB_OBJ))
$(B)/liblexie-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

fuzz-bins: $(FUZZ_T:%=$(B)/fuzz/fuzz_%)
$(B)/fuzz/fuzz_%: fuzz/fuzz_%.c $(B)/liblexie-fuzz.a
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(B)/liblexie-fuzz.a $(LIBS)

model: $(B)/lexie
	./$(B)/lexie pull

bench: $(BENCH_SRC:bench/%.c=$(B)/bench/%)
$(B)/bench/%: bench/%.c $(B)/liblexie.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/liblexie.a $(LIBS)

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) $(BENCH_SRC) $(wildcard fuzz/*.c) include/lexie.h $(LIB_HDR) $(wildcard tests/*.h tools/lexie/*.h)

# Fails when a file differs from .clang-format's layout (CI runs it).
format-check:
	clang-format --dry-run -Werror $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) $(BENCH_SRC) $(wildcard fuzz/*.c) include/lexie.h $(LIB_HDR) $(wildcard tests/*.h tools/lexie/*.h)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
