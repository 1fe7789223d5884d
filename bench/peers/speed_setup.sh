#!/usr/bin/env bash
# bench/peers/speed_setup.sh -- the bench-only virtual environment for
# bench/bench_speed.py: the speed peers of lexie's prefill and decode.
#   - llama-cpp-python: llama.cpp's Python binding.  PyPI ships it as an
#     sdist only, so pip compiles llama.cpp here (CPU build, GGML_NATIVE,
#     i.e. with this machine's AVX-512/VNNI; about 10-20 minutes on 2 cores).
#   - ik-llama-cpp-python: ik_llama.cpp's Python binding (ctypes over its
#     libllama.so; the wheel ships no llama-bench).  Its PyPI manylinux
#     wheel is a generic AVX2 build (no AVX-512/VNNI kernels).  IK_NATIVE=1
#     also compiles libllama from the ik_llama.cpp its sdist vendors, with
#     GGML_NATIVE=ON (about 15-20 minutes on 2 cores): the fair peer on an
#     AVX-512 machine; bench_speed.py then loads that library.
# Never part of CI or scripts/setup.sh: the library needs none of this.
#
#   bash bench/peers/speed_setup.sh             creates bench/.venv-speed (idempotent)
#   IK_NATIVE=1 bash bench/peers/speed_setup.sh  the same, ik_llama.cpp built for this CPU
#
# The compiles run under `nice -n 19` with CMAKE_BUILD_PARALLEL_LEVEL=2
# (override with JOBS=N) so they do not starve a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-speed
LLAMA_CPP_VERSION=0.3.36
IK_VERSION=0.1.5
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
[ -e "$VENV/.gitignore" ] || echo "*" > "$VENV/.gitignore" # keep it out of git
PIP="nice -n 19 $VENV/bin/pip --disable-pip-version-check -q"
export CMAKE_BUILD_PARALLEL_LEVEL="${JOBS:-2}"
have() { "$VENV/bin/python" -c "from importlib.metadata import version; import sys; sys.exit(version('$1') != '$2')" 2>/dev/null; }
$PIP install numpy
# On a CPU with AMX, a native build also compiles ggml's AMX matmul, which
# crashed on the first decode here (SIGSEGV in ggml_backend_amx_mul_mat,
# 2026-12-06, llama-cpp-python 0.3.36, Q4_1 and Q4_K models): build for the
# CPU's AVX-512 set by name instead, without AMX.
LLAMA_ISA="-DGGML_NATIVE=ON"
if grep -qw amx_int8 /proc/cpuinfo 2>/dev/null; then
    LLAMA_ISA="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
    LLAMA_ISA="$LLAMA_ISA -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON"
    LLAMA_ISA="$LLAMA_ISA -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
fi
if ! have llama-cpp-python "$LLAMA_CPP_VERSION" || ! "$VENV/bin/python" - <<'PY' 2>/dev/null; then
import pathlib, sys, llama_cpp
lib = pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-cpu.so"
sys.exit(b"ggml_backend_amx_mul_mat" in lib.read_bytes() and "amx_int8" in open("/proc/cpuinfo").read())
PY
    CMAKE_ARGS="$LLAMA_ISA -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DLLAMA_CURL=OFF" \
        $PIP install --no-cache-dir --force-reinstall --no-deps --no-binary llama-cpp-python \
        "llama-cpp-python==$LLAMA_CPP_VERSION"
    $PIP install "llama-cpp-python==$LLAMA_CPP_VERSION" # its dependencies
fi
# The Python binding (ctypes) always comes from the wheel.
if ! have ik-llama-cpp-python "$IK_VERSION"; then
    $PIP install --no-deps --only-binary ik-llama-cpp-python "ik-llama-cpp-python==$IK_VERSION"
fi
ik_build="AVX2 wheel"
IK_LIB="$VENV/ik-native/build/src/libllama.so"
if [ "${IK_NATIVE:-0}" = 1 ]; then
    # The sdist's own build (pip install --no-binary) fails: it lacks
    # common/cmake/build-info-gen-cpp.cmake.  Only libllama (and libggml)
    # are needed, so build that target from the vendored ik_llama.cpp; the
    # benchmark loads it through the binding's IK_LLAMA_CPP_LIB_PATH.
    if [ ! -e "$IK_LIB" ]; then
        mkdir -p "$VENV/ik-native"
        $VENV/bin/pip --disable-pip-version-check -q download --no-deps --no-binary :all: \
            "ik-llama-cpp-python==$IK_VERSION" -d "$VENV/ik-native"
        tar xzf "$VENV/ik-native/ik_llama_cpp_python-$IK_VERSION.tar.gz" -C "$VENV/ik-native"
        nice -n 19 cmake -S "$VENV/ik-native/ik_llama_cpp_python-$IK_VERSION/vendor/ik_llama.cpp" \
            -B "$VENV/ik-native/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
            -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DLLAMA_BUILD_TESTS=OFF \
            -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
        nice -n 19 cmake --build "$VENV/ik-native/build" --target llama -j "${JOBS:-2}"
    fi
    ik_build="native build, $IK_LIB"
fi
# bench_speed.py reads this: the library the ik_llama.cpp peer loads.
if [ "${IK_NATIVE:-0}" = 1 ]; then
    (cd "$VENV" && realpath "ik-native/build/src/libllama.so") > "$VENV/ik-lib.path"
else
    rm -f "$VENV/ik-lib.path"
fi
"$VENV/bin/python" - "$ik_build" <<'PY'
import sys
from importlib.metadata import version
print("speed peers:", ", ".join(f"{p} {version(p)}" for p in
      ("llama-cpp-python", "ik-llama-cpp-python")), f"(ik_llama.cpp: {sys.argv[1]})")
PY
