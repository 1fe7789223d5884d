#!/usr/bin/env bash
# bench/peers/train_setup.sh -- the bench-only virtual environment for
# bench/train_peers.py: PyTorch + PEFT (and TRL's SFTTrainer), the LoRA
# training peers of `lexie train sft`, with transformers and gguf to load
# the same GGUF model lexie trains (dequantized to fp32).
# Never part of CI or scripts/setup.sh: the library needs none of this.
#
#   bash bench/peers/train_setup.sh     creates bench/.venv-train (idempotent)
#
# PyPI has no CPU-only torch wheel for Linux x86_64: `pip install torch`
# brings the CUDA build and its nvidia-* wheels (a few GB); the benchmark
# runs it on the CPU only.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-train
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
[ -e "$VENV/.gitignore" ] || echo "*" > "$VENV/.gitignore" # keep it out of git
PIP="$VENV/bin/pip --disable-pip-version-check -q"
$PIP install torch
$PIP install "transformers>=4.45" "peft>=0.13" "trl>=0.12" "gguf>=0.10" numpy sentencepiece \
    tokenizers accelerate datasets psutil
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version
print("train peers:", ", ".join(f"{p} {version(p)}" for p in
      ("torch", "transformers", "peft", "trl", "gguf", "accelerate")))
PY
