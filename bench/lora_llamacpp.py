#!/usr/bin/env python3
"""lora_llamacpp.py -- does llama.cpp read lexie's LoRA adapters the way
lexie does?  (Interoperability check; needs llama-cpp-python; not in CI.)

    python3 bench/lora_llamacpp.py [MODEL.gguf] [--steps 4] [--keep DIR]

Runs build/bench/lora_interop (make bench), which trains a small adapter
with lexie, saves it and writes lexie's last-position logits of a fixed
prompt with and without it.  Then llama.cpp evaluates the same tokens on
the same model, without the adapter and with it (lora_path, scale 1), and
this prints three maxima of |logit difference| over the vocabulary:

  base:    lexie vs llama.cpp, no adapter (their usual parity gap)
  lora:    lexie vs llama.cpp, both with the adapter
  effect:  llama.cpp with vs without the adapter (how much it moves)

The adapter is read alike when `lora` stays near `base` while `effect` is
much larger; a transposed or mis-scaled adapter gives a `lora` gap of the
order of `effect` (or llama.cpp refuses the file).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--keep")
    a = ap.parse_args()
    model = a.model or subprocess.check_output(
        [os.path.join(ROOT, "build/lexie"), "path", "smollm2-135m-instruct"], text=True).strip()
    from llama_cpp import Llama  # noqa: E402  (only needed here)

    work = a.keep or tempfile.mkdtemp(prefix="lexie-lora-")
    os.makedirs(work, exist_ok=True)
    adapter = os.path.join(work, "adapter.gguf")
    prefix = os.path.join(work, "lexie")
    out = subprocess.run([os.path.join(ROOT, "build/bench/lora_interop"), model, adapter, prefix,
                          str(a.steps)], check=True, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    tokens = [int(x) for x in out.stdout.split()]
    lx_base = np.fromfile(prefix + ".base.f32", dtype="<f4")
    lx_lora = np.fromfile(prefix + ".lora.f32", dtype="<f4")

    def run(lora):
        kw = {"lora_path": lora, "lora_scale": 1.0} if lora else {}
        llm = Llama(model_path=model, n_ctx=256, n_batch=256, logits_all=True, verbose=False,
                    flash_attn=False, **kw)
        llm.eval(tokens)
        return np.array(llm.scores[len(tokens) - 1], dtype=np.float64)

    ll_base, ll_lora = run(None), run(adapter)
    print(f"tokens {len(tokens)}, vocab {len(lx_base)}")
    print(f"base:   max |lexie - llama.cpp| = {np.abs(lx_base - ll_base).max():.4f}")
    print(f"lora:   max |lexie - llama.cpp| = {np.abs(lx_lora - ll_lora).max():.4f}")
    print(f"effect: max |llama.cpp lora - base| = {np.abs(ll_lora - ll_base).max():.4f}"
          f"  (lexie: {np.abs(lx_lora - lx_base).max():.4f})")
    print(f"argmax: lexie {int(lx_lora.argmax())}, llama.cpp {int(ll_lora.argmax())}")


if __name__ == "__main__":
    main()
