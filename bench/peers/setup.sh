#!/usr/bin/env bash
# bench/peers/setup.sh -- the bench-only virtual environment for
# bench/maskbench_peers.py: llguidance and xgrammar (the MaskBench peers),
# transformers/tokenizers to build each GGUF file's tokenizer, gguf.
# Never part of CI or scripts/setup.sh: the library needs none of this.
#
#   bash bench/peers/setup.sh        creates bench/.venv-peers (idempotent)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-peers
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PIP="$VENV/bin/pip --disable-pip-version-check -q"
$PIP install "llguidance>=1.9" "transformers>=4.45" tokenizers gguf numpy sentencepiece \
    pydantic ninja tiktoken
# xgrammar declares triton and torch; triton is for GPUs and is left out,
# but `import xgrammar` imports torch.  PyPI's torch for Linux is the CUDA
# build (about 5 GB with its nvidia-* wheels; CPU-only wheels are not on
# PyPI): installed only when the import needs it.
$PIP install --no-deps "xgrammar>=0.1.20"
$PIP install apache-tvm-ffi typing-extensions
if ! "$VENV/bin/python" -c "import xgrammar" 2>/dev/null; then
    $PIP install torch
fi
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version
print("peers:", ", ".join(f"{p} {version(p)}" for p in ("llguidance", "xgrammar", "transformers", "torch")))
PY
