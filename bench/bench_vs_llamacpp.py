"""Engine speed: lexie beside llama.cpp (llama-cpp-python), same model, same
prompt length, same thread count, measured in this one run.

    python3 bench/bench_vs_llamacpp.py [MODEL.gguf] [--n-prompt 512] [--n-gen 64] [--threads 2]

Needs `make bench` and `pip install llama-cpp-python` (which compiles
llama.cpp, so it is not part of CI).  Prints prefill and decode tokens per
second for both and lexie's ratio to llama.cpp.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def default_model():
    out = subprocess.run(["./build/lexie", "path"], capture_output=True, text=True)
    return out.stdout.strip()


def bench_llamacpp(model, n_prompt, n_gen, threads):
    from llama_cpp import Llama

    llm = Llama(model_path=model, n_ctx=n_prompt + n_gen + 16, n_batch=n_prompt,
                logits_all=False,
                n_threads=threads, n_threads_batch=threads, verbose=False,
                type_k=0, type_v=0, flash_attn=False)
    nv = llm.n_vocab()
    toks = [1000 + (i * 7919) % (nv - 1000) for i in range(n_prompt)]
    t0 = time.perf_counter()
    llm.eval(toks)
    t_prefill = time.perf_counter() - t0
    t0 = time.perf_counter()
    # Fixed tokens: llama-cpp-python's score buffer holds n_batch rows, and
    # one argmax per step costs the same in both engines.
    for i in range(n_gen):
        llm.eval([toks[i]])
    t_decode = time.perf_counter() - t0
    return {"engine": "llama.cpp", "prefill_tok_s": n_prompt / t_prefill,
            "decode_tok_s": n_gen / t_decode}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?")
    ap.add_argument("--n-prompt", type=int, default=512)
    ap.add_argument("--n-gen", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    model = a.model or default_model()
    if not model or not os.path.exists(model):
        sys.exit("bench: no model; run `make model` or pass a GGUF path")
    out = subprocess.run(["./build/bench/bench_engine", model, str(a.n_prompt), str(a.n_gen),
                          str(a.threads)], capture_output=True, text=True, check=True)
    lx = json.loads(out.stdout)
    ref = bench_llamacpp(model, a.n_prompt, a.n_gen, a.threads)
    print(f"model {os.path.basename(model)}, prompt {a.n_prompt} tokens, "
          f"{a.n_gen} generated, {a.threads} threads")
    print(f"{'':10} {'prefill tok/s':>14} {'decode tok/s':>13}")
    for r in (lx, ref):
        print(f"{r['engine']:10} {r['prefill_tok_s']:14.1f} {r['decode_tok_s']:13.1f}")
    print(f"{'ratio':10} {lx['prefill_tok_s'] / ref['prefill_tok_s']:14.2f} "
          f"{lx['decode_tok_s'] / ref['decode_tok_s']:13.2f}   (lexie / llama.cpp)")
    print(f"prefix reuse: prompt cold {lx['prompt_cold_s']*1000:.1f} ms, reused "
          f"{lx['prompt_reused_s']*1000:.1f} ms, speedup {lx['reuse_speedup']:.1f}x")


if __name__ == "__main__":
    main()
