#!/usr/bin/env bash
# bench/peers/speed_setup.sh -- the bench-only virtual environment for
# bench/bench_speed.py: the speed peers of lexie's prefill and decode.
#   - llama-cpp-python: llama.cpp's Python binding.  PyPI ships it as an
#     sdist only, so pip compiles llama.cpp here (CPU build, GGML_NATIVE,
#     i.e. with this machine's AVX-512/VNNI; about 10-20 minutes on 2 cores).
#   - ik-llama-cpp-python: ik_llama.cpp's Python binding (ctypes over its
#     libllama.so; no llama-bench).  By default the PyPI manylinux wheel,
#     which is a generic AVX2 build (no AVX-512/VNNI kernels).  IK_NATIVE=1
#     compiles it instead from its sdist (which vendors ik_llama.cpp) with
#     GGML_NATIVE=ON: the fair peer on an AVX-512 machine, but a long build.
# Never part of CI or scripts/setup.sh: the library needs none of this.
#
#   bash bench/peers/speed_setup.sh             creates bench/.venv-speed (idempotent)
#   IK_NATIVE=1 bash bench/peers/speed_setup.sh rebuilds ik_llama.cpp natively
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
if ! have llama-cpp-python "$LLAMA_CPP_VERSION"; then
    CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DLLAMA_CURL=OFF" \
        $PIP install --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_CPP_VERSION"
fi
IK_STAMP="$VENV/.ik-build"
ik_want=wheel
[ "${IK_NATIVE:-0}" = 1 ] && ik_want=native
if ! have ik-llama-cpp-python "$IK_VERSION" || [ "$(cat "$IK_STAMP" 2>/dev/null)" != "$ik_want" ]; then
    if [ "$ik_want" = native ]; then
        CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_CUDA=OFF" \
            $PIP install --force-reinstall --no-deps --no-binary ik-llama-cpp-python \
            "ik-llama-cpp-python==$IK_VERSION"
    else
        $PIP install --force-reinstall --no-deps --only-binary ik-llama-cpp-python \
            "ik-llama-cpp-python==$IK_VERSION"
    fi
    echo "$ik_want" > "$IK_STAMP"
fi
"$VENV/bin/python" - "$ik_want" <<'PY'
import sys
from importlib.metadata import version
print("speed peers:", ", ".join(f"{p} {version(p)}" for p in
      ("llama-cpp-python", "ik-llama-cpp-python")), f"(ik_llama.cpp build: {sys.argv[1]})")
PY
